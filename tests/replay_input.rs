//! `replay`'s inputs: a real pipe from `tcpdump -w -` and a FIFO replay every packet with the
//! alerts of the file itself (each input read once); a directory with unreadable files among
//! good ones replays the good ones and counts the rest; a pcapng whose interfaces have
//! different link types replays every packet, with one summary over everything (issue 11,
//! items 8 and 13).

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, expect_code, frame, have, text, write_pcap, L4};
use nsm_sensor::pcap::Reader;

const T0: i64 = 1_172_053_070;
const RULE: &str =
    "alert tcp $HOME_NET any -> 10.9.9.9 6667 (msg:\"TEST C&C\"; flags:S; sid:1000001; rev:1;)\n";

/// `n` packets, every 100th a SYN to the listed C&C address (one alert each).
fn capture(path: &Path, n: u32) -> u32 {
    let mut frames = Vec::with_capacity(n as usize);
    let mut alerting = 0;
    for i in 0..n {
        let src = [192, 168, (i >> 8) as u8, i as u8];
        let f = if i % 100 == 7 {
            alerting += 1;
            frame(src, [10, 9, 9, 9], L4::Tcp(40_000, 6667, 0x02, i, 0), &[])
        } else {
            frame(src, [10, 1, 1, 1], L4::Udp(5353, 53), b"query")
        };
        frames.push((T0 + i64::from(i / 1000), (i % 1000) * 1000, f));
    }
    write_pcap(path, &frames);
    alerting
}

fn rules(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("test.rules");
    fs::write(&p, RULE).unwrap();
    p
}

/// `replay` arguments for LOG (no ring) over INPUT.
fn replay_args(rules: &Path, log: &Path, input: &str) -> Vec<String> {
    [
        "replay",
        "-q",
        "-r",
        rules.to_str().unwrap(),
        "--home-net",
        "192.168.0.0/16",
        "-l",
        log.to_str().unwrap(),
        "--no-ring",
        input,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn replayed(out: &Output) -> (u64, u64) {
    let s = text(&out.stdout);
    let num = |after: &str, before: &str| -> u64 {
        let i = s.find(after).map_or(0, |i| i + after.len());
        s[i..]
            .split(before)
            .next()
            .and_then(|x| x.trim().rsplit(' ').next())
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("no count in {s:?}"))
    };
    (num("replayed ", " packets"), num(": ", " alert"))
}

/// Waits for `child` at most `secs`; kills it and fails when it hangs.
fn wait_or_kill(mut child: std::process::Child, secs: u64, what: &str) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{what} hung for {secs} s; stderr:\n{}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Regression: `replay` opened its input twice (libpcap, then again for the snaplen): from a
/// pipe it replayed a few packets with a bogus decode error and exited 0, from a FIFO it hung.
/// A real `tcpdump -w -` pipe and a FIFO now replay every packet, with the alerts of the file.
#[test]
fn pipe_and_fifo_replay_every_packet() {
    if !have("tcpdump") {
        eprintln!("skipped: tcpdump not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let pcap = d.path().join("in.pcap");
    let alerting = capture(&pcap, 20_000);
    let rules = rules(d.path());

    let log_file = d.path().join("log-file");
    let out = common::run(bin().args(replay_args(&rules, &log_file, pcap.to_str().unwrap())));
    expect_code(&out, 0);
    assert_eq!(replayed(&out), (20_000, u64::from(alerting)));
    let want = fs::read_to_string(log_file.join("alert.fast")).unwrap();
    assert_eq!(want.lines().count(), alerting as usize);

    // tcpdump -r in.pcap -w - | nsm-sensor replay … /dev/stdin (and `-`, tcpdump's name for it)
    for (i, input) in ["/dev/stdin", "-"].into_iter().enumerate() {
        let log_pipe = d.path().join(format!("log-pipe-{i}"));
        let mut tcpdump = Command::new("tcpdump")
            .args(["-r", pcap.to_str().unwrap(), "-w", "-"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let child = bin()
            .args(replay_args(&rules, &log_pipe, input))
            .stdin(tcpdump.stdout.take().unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_or_kill(child, 120, "replay from a pipe");
        let _ = tcpdump.wait();
        expect_code(&out, 0);
        assert_eq!(
            replayed(&out),
            (20_000, u64::from(alerting)),
            "{input}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            fs::read_to_string(log_pipe.join("alert.fast")).unwrap(),
            want,
            "{input}"
        );
    }

    // A FIFO written by tcpdump.
    let fifo = d.path().join("fifo");
    let ok = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(ok.success());
    let mut writer = Command::new("tcpdump")
        .args(["-r", pcap.to_str().unwrap(), "-w", fifo.to_str().unwrap()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let log_fifo = d.path().join("log-fifo");
    let child = bin()
        .args(replay_args(&rules, &log_fifo, fifo.to_str().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_or_kill(child, 120, "replay from a FIFO");
    let _ = writer.kill();
    let _ = writer.wait();
    expect_code(&out, 0);
    assert_eq!(
        replayed(&out),
        (20_000, u64::from(alerting)),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(log_fifo.join("alert.fast")).unwrap(),
        want
    );
}

/// Regression: a directory replay stopped at the first unreadable file. The readable files
/// replay, the unreadable ones are skipped, named and counted.
#[test]
fn directory_with_unreadable_files_replays_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("in");
    fs::create_dir(&dir).unwrap();
    let a1 = capture(&dir.join("a.pcap"), 300);
    fs::write(
        dir.join("b-garbage.pcap"),
        b"this is not a capture file at all",
    )
    .unwrap();
    fs::write(dir.join("c-empty.pcap"), b"").unwrap();
    let a2 = capture(&dir.join("d.pcap"), 200);
    let rules = rules(d.path());
    let log = d.path().join("log");
    let out = common::run(bin().args(replay_args(&rules, &log, dir.to_str().unwrap())));
    expect_code(&out, 0);
    assert_eq!(replayed(&out), (500, u64::from(a1 + a2)));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("from 2 files") && stdout.contains("2 unreadable file(s) skipped"),
        "{stdout}"
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("b-garbage.pcap") && err.contains("c-empty.pcap"),
        "{err}"
    );
    // Nothing readable at all is a failure.
    let out = common::run(bin().args(replay_args(
        &rules,
        &log,
        dir.join("b-garbage.pcap").to_str().unwrap(),
    )));
    expect_code(&out, 1);
}

fn le(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

fn block(btype: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let total = (body.len() + 12) as u32;
    [&le(btype)[..], &le(total), &body, &le(total)].concat()
}

/// Regression: a pcapng with interfaces of different link types replayed nothing and exited
/// 0, and a summary counted only the last link type's segment. Ethernet, raw IP and Linux SLL
/// interleaved: every packet replays, alerts on each link type, one summary over everything,
/// and the ring holds every packet (one file per link type, readable by tcpdump).
#[test]
fn pcapng_with_mixed_link_types_replays_every_packet() {
    let d = tempfile::tempdir().unwrap();
    let mut ng = block(
        0x0a0d_0d0a,
        &[&le(0x1a2b_3c4d)[..], &[1, 0, 0, 0], &[0xff; 8]].concat(),
    );
    for lt in [1u16, 101, 113] {
        ng.extend(block(
            1,
            &[&lt.to_le_bytes()[..], &[0, 0], &le(65535)].concat(),
        ));
    }
    let (mut packets, mut alerting) = (0u64, 0u64);
    for i in 0..300u32 {
        let bad = i % 10 == 3;
        let dst = if bad { [10, 9, 9, 9] } else { [10, 1, 1, 1] };
        let eth = frame(
            [192, 168, 1, (i % 250) as u8],
            dst,
            L4::Tcp(40_000 + i as u16, 6667, 0x02, i, 0),
            &[],
        );
        let iface = i % 3;
        let data = match iface {
            0 => eth,
            1 => eth[14..].to_vec(),
            _ => {
                // Linux SLL: packet type, ARPHRD_ETHER, address length, address, protocol.
                let mut s = vec![
                    0, 0, 0, 1, 0, 6, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0, 0x08, 0,
                ];
                s.extend_from_slice(&eth[14..]);
                s
            }
        };
        let ticks = (T0 as u64 + u64::from(i)) * 1_000_000;
        let body = [
            &le(iface)[..],
            &le((ticks >> 32) as u32),
            &le(ticks as u32),
            &le(data.len() as u32),
            &le(data.len() as u32),
            &data,
        ]
        .concat();
        ng.extend(block(6, &body));
        packets += 1;
        alerting += u64::from(bad);
    }
    let input = d.path().join("mixed.pcapng");
    fs::write(&input, &ng).unwrap();
    let rules = rules(d.path());
    let log = d.path().join("log");
    let ring = d.path().join("ring");
    let mut args = replay_args(&rules, &log, input.to_str().unwrap());
    let no_ring = args.iter().position(|a| a == "--no-ring").unwrap();
    args.splice(
        no_ring..=no_ring,
        ["--ring-dir".to_string(), ring.to_str().unwrap().to_string()],
    );
    let out = common::run(bin().args(&args));
    expect_code(&out, 0);
    assert_eq!(replayed(&out), (packets, alerting), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(", 0 decode errors"),
        "{}",
        text(&out.stdout)
    );
    let fast = fs::read_to_string(log.join("alert.fast")).unwrap();
    assert_eq!(fast.lines().count() as u64, alerting);
    // The ring: every packet, each file of one link type, and tcpdump reads them all.
    let mut in_ring = 0u64;
    let mut linktypes = Vec::new();
    for e in fs::read_dir(&ring).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "pcap") {
            continue;
        }
        let mut r = Reader::open(&p).unwrap();
        linktypes.push(r.interfaces()[0].linktype);
        while r.next_packet().unwrap().is_some() {
            in_ring += 1;
        }
        if have("tcpdump") {
            let ok = Command::new("tcpdump").arg("-r").arg(&p).output().unwrap();
            assert!(
                ok.status.success(),
                "tcpdump -r {}: {}",
                p.display(),
                text(&ok.stderr)
            );
        }
    }
    linktypes.sort_unstable();
    assert_eq!(linktypes, [1, 101, 113]);
    assert_eq!(in_ring, packets);
}

/// Regression: `replay` read a pcapng file's snaplen from its first 64 bytes only, so a
/// section header with options (longer than that) gave the ring the wrong snaplen. The ring
/// now takes the interface's own.
#[test]
fn pcapng_snaplen_behind_a_long_section_header() {
    let d = tempfile::tempdir().unwrap();
    // SHB with a 100-byte shb_userappl option (code 4), then an IDB of snaplen 1500.
    let app = vec![b'a'; 100];
    let shb_body = [
        &le(0x1a2b_3c4d)[..],
        &[1, 0, 0, 0],
        &[0xff; 8],
        &4u16.to_le_bytes(),
        &100u16.to_le_bytes(),
        &app,
        &[0, 0, 0, 0],
    ]
    .concat();
    let mut ng = block(0x0a0d_0d0a, &shb_body);
    ng.extend(block(
        1,
        &[&1u16.to_le_bytes()[..], &[0, 0], &le(1500)].concat(),
    ));
    let f = frame([192, 168, 1, 1], [10, 1, 1, 1], L4::Udp(5353, 53), b"q");
    let ticks = T0 as u64 * 1_000_000;
    ng.extend(block(
        6,
        &[
            &le(0)[..],
            &le((ticks >> 32) as u32),
            &le(ticks as u32),
            &le(f.len() as u32),
            &le(f.len() as u32),
            &f,
        ]
        .concat(),
    ));
    let input = d.path().join("long-shb.pcapng");
    fs::write(&input, &ng).unwrap();
    let rules = rules(d.path());
    let ring = d.path().join("ring");
    let mut args = replay_args(&rules, &d.path().join("log"), input.to_str().unwrap());
    let no_ring = args.iter().position(|a| a == "--no-ring").unwrap();
    args.splice(
        no_ring..=no_ring,
        ["--ring-dir".to_string(), ring.to_str().unwrap().to_string()],
    );
    let out = common::run(bin().args(&args));
    expect_code(&out, 0);
    let file = fs::read_dir(&ring)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pcap"))
        .expect("a ring file");
    let r = Reader::open(&file).unwrap();
    assert_eq!(r.interfaces()[0].snaplen, 1500);
}
