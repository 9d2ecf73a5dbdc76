//! `capture::live` for real: a `LiveSource` inside a test namespace sees the pings sent from
//! the other end of a veth pair, returns timeouts on an idle interface, reports no drops; the
//! interface helpers pick the namespace's interface and subnet; a bad BPF filter and a missing
//! interface are reported as such. Needs root (skips otherwise).
//!
//! The capturing side must run inside namespace A, so the test re-runs its own binary there
//! (`ip netns exec A <this test binary> --exact <test>`) with `NSMT_CHILD` set; the child does
//! the capture and prints one `RESULT` line.

mod live_netns;

use std::process::Stdio;
use std::time::{Duration, Instant};

use live_netns::{NetPair, Proc, SENSOR_IF};
use nsm_sensor::capture::live::{
    default_interface, interface_subnets, DefaultReason, LiveErrorKind, LiveOptions, LiveSource,
};
use nsm_sensor::capture::{Next, PacketSource};

fn opts(iface: &str, bpf: &str) -> LiveOptions {
    LiveOptions {
        interface: iface.into(),
        bpf: bpf.into(),
        snaplen: 65535,
        promisc: true,
        buffer_mb: 4,
        timeout_ms: 100,
    }
}

/// Child side: capture ICMP echo requests on veth0 until 3 are seen or 10 s pass.
fn capture_child() {
    let mut src = LiveSource::open(&opts(SENSOR_IF, "icmp")).expect("open veth0");
    eprintln!("CHILD READY linktype={}", src.linktype());
    let (mut echo, mut timeouts) = (0u32, 0u32);
    let deadline = Instant::now() + Duration::from_secs(10);
    while echo < 3 && Instant::now() < deadline {
        match src.next_packet().expect("read") {
            // Ethernet + IPv4 (20-byte header): ICMP type at offset 34; 8 = echo request.
            Next::Packet(p) if p.data.len() > 34 && p.data[23] == 1 && p.data[34] == 8 => echo += 1,
            Next::Packet(_) => {}
            Next::Timeout => timeouts += 1,
            Next::End => break,
        }
    }
    // Idle for a moment: the read timeout must bring control back.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(500) {
        if let Next::Timeout = src.next_packet().expect("read") {
            timeouts += 1;
        }
    }
    let st = src.stats();
    let def = default_interface().expect("default interface");
    let reason = match def.reason {
        DefaultReason::Ipv4DefaultRoute => "v4route",
        DefaultReason::Ipv6DefaultRoute => "v6route",
        DefaultReason::FirstUp => "firstup",
    };
    let nets: Vec<String> = interface_subnets(SENSOR_IF)
        .iter()
        .map(|n| n.to_string())
        .collect();
    eprintln!(
        "RESULT echo={echo} timeouts={timeouts} received={} kdrops={} default={}:{reason} nets={}",
        st.received,
        st.kernel_dropped,
        def.name,
        nets.join(",")
    );
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or("")
}

#[test]
fn live_source_sees_pings_and_times_out_when_idle() {
    if std::env::var_os("NSMT_CHILD").is_some() {
        return capture_child();
    }
    if live_netns::skip("live_source_sees_pings_and_times_out_when_idle", &["ping"]) {
        return;
    }
    let net = NetPair::new("cap");
    let mut cmd = net.in_a(std::env::current_exe().unwrap().to_str().unwrap());
    cmd.args([
        "--exact",
        "live_source_sees_pings_and_times_out_when_idle",
        "--nocapture",
    ])
    .env("NSMT_CHILD", "1")
    .stdin(Stdio::null());
    let mut child = Proc::spawn(cmd);
    assert!(
        child.wait_for("CHILD READY", Duration::from_secs(10)),
        "child did not open veth0"
    );
    net.ping_from_b(3);
    assert!(
        child.wait_for("RESULT", Duration::from_secs(15)),
        "no result from the child"
    );
    let line = child
        .seen
        .iter()
        .find(|l| l.contains("RESULT"))
        .cloned()
        .unwrap();
    assert_eq!(field(&line, "echo"), "3", "{line}");
    assert!(
        field(&line, "timeouts").parse::<u32>().unwrap() >= 1,
        "{line}"
    );
    assert!(
        field(&line, "received").parse::<u32>().unwrap() >= 3,
        "{line}"
    );
    assert_eq!(field(&line, "kdrops"), "0", "{line}");
    // No default route in the namespace: the first interface that is up and not loopback.
    assert_eq!(field(&line, "default"), "veth0:firstup", "{line}");
    assert!(
        field(&line, "nets")
            .split(',')
            .any(|n| n == "198.51.100.0/24"),
        "{line}"
    );
    let st = child
        .wait_exit(Duration::from_secs(10))
        .expect("child exits");
    assert!(st.success(), "child failed: {st}");
}

#[test]
fn bad_bpf_filter_is_a_filter_error() {
    if live_netns::skip("bad_bpf_filter_is_a_filter_error", &[]) {
        return;
    }
    let e = LiveSource::open(&opts("lo", "tcp port (("))
        .err()
        .expect("must fail");
    assert_eq!(e.kind, LiveErrorKind::BadFilter, "{e}");
    assert!(e.to_string().contains("tcp port (("), "{e}");
    // And a good one opens.
    LiveSource::open(&opts("lo", "icmp or udp port 53")).expect("valid filter");
}

#[test]
fn missing_interface_is_named_in_the_error() {
    let e = LiveSource::open(&opts("nsmt-nope0", ""))
        .err()
        .expect("must fail");
    assert_eq!(e.kind, LiveErrorKind::NoSuchDevice);
    assert!(e.to_string().contains("nsmt-nope0"), "{e}");
}
