//! `tag` vectors, worked out from Snort 2.9's tag.c (see docs/tag.md), run through `replay`:
//! the evidence pcap of a tagging rule's event holds the alert packet and exactly the packets
//! Snort would log as "Tagged Packet" (gid 2) after it — no more, no fewer. Replays use
//! `--no-ring`, so nothing from before the alert is added; one case with the ring shows the
//! packets from before the alert joining them.

mod common;

use std::fs;
use std::path::Path;

use common::{bin, expect_code, frame, run, text, write_pcap, L4};
use nsm_sensor::pcap::Reader;

const T0: i64 = 1_700_000_000;
const A: [u8; 4] = [10, 0, 0, 5];
const B: [u8; 4] = [203, 0, 113, 5];
const C: [u8; 4] = [198, 51, 100, 9];
const PSH_ACK: u8 = 0x18;
const ACK: u8 = 0x10;

/// A packet of A:40000 → B:80 (`fwd`) or back, at T0 + `ms` milliseconds, with `payload`.
fn tcp(ms: i64, fwd: bool, payload: &[u8]) -> (i64, u32, Vec<u8>) {
    let f = if fwd {
        frame(A, B, L4::Tcp(40000, 80, PSH_ACK, 1, 1), payload)
    } else {
        frame(B, A, L4::Tcp(80, 40000, ACK, 1, 1), payload)
    };
    (T0 + ms / 1000, (ms % 1000 * 1000) as u32, f)
}

/// Replays `frames` with `rules` (and `config` lines under `[evidence]`); returns, per
/// evidence file (in name order), the packet times as milliseconds after T0.
fn evidence(
    rules: &str,
    config: &str,
    frames: &[(i64, u32, Vec<u8>)],
    ring: bool,
) -> Vec<Vec<i64>> {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let cfg = root.join("sensor.toml");
    fs::write(
        &cfg,
        format!(
            "[output]\ndir = \"{0}/log\"\n[ring]\ndir = \"{0}/ring\"\n[evidence]\n{config}\n",
            root.display()
        ),
    )
    .unwrap();
    fs::write(root.join("t.rules"), rules).unwrap();
    let input = root.join("in.pcap");
    write_pcap(&input, frames);
    let mut c = bin();
    c.args(["replay", "-c"])
        .arg(&cfg)
        .arg("-r")
        .arg(root.join("t.rules"));
    if !ring {
        c.arg("--no-ring");
    }
    let out = run(c.arg(&input));
    expect_code(&out, 0);
    let dir = root.join("log/evidence");
    let mut names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    names.sort();
    names.iter().map(|p| times(p)).collect()
}

fn times(p: &Path) -> Vec<i64> {
    let mut r = Reader::open(p).unwrap();
    let mut v = Vec::new();
    while let Some(pk) = r.next_packet().unwrap() {
        let ts = pk.ts.unwrap();
        v.push((ts.sec - T0) * 1000 + i64::from(ts.nsec / 1_000_000));
    }
    v
}

fn rule(tag: &str) -> String {
    format!(
        "alert tcp any any -> any 80 (msg:\"evil\"; content:\"EVIL\"; tag:{tag}; sid:1; rev:1;)\n"
    )
}

/// The alert at 0 ms, then packets both ways every 500 ms.
fn session() -> Vec<(i64, u32, Vec<u8>)> {
    let mut v = vec![tcp(0, true, b"EVIL")];
    for i in 1..=12 {
        v.push(tcp(i * 500, i % 2 == 0, b"data"));
    }
    v
}

#[test]
fn session_packets_tags_the_next_n_packets_both_ways() {
    // tag.c: the event packet is not tagged; the next 3 of the session are, either direction.
    let got = evidence(&rule("session,3,packets"), "", &session(), false);
    assert_eq!(got, [vec![0, 500, 1000, 1500]]);
}

#[test]
fn session_seconds_counts_whole_seconds_from_the_event() {
    // An event at 0.9 s with 2 seconds: tagged while the packet's second <= 0 + 2, i.e.
    // through 2.999999; the packet at 3.0 ends the tag.
    let mut v = vec![tcp(900, true, b"EVIL")];
    for ms in [1000, 2500, 2999, 3000, 3500] {
        v.push(tcp(ms, false, b"x"));
    }
    let got = evidence(&rule("session,2,seconds"), "", &v, false);
    assert_eq!(got, [vec![900, 1000, 2500, 2999]]);
}

#[test]
fn session_bytes_counts_captured_lengths_and_keeps_the_crossing_packet() {
    // Each data frame is 14 + 20 + 20 + 4 = 58 captured bytes: 58, 116 (< 120), 174 (crosses
    // 120: tagged, then the tag ends).
    let got = evidence(&rule("session,120,bytes"), "", &session(), false);
    assert_eq!(got, [vec![0, 500, 1000, 1500]]);
    let got = evidence(&rule("session,116,bytes"), "", &session(), false);
    assert_eq!(
        got,
        [vec![0, 500, 1000]],
        "reaching the budget exactly ends it too"
    );
}

#[test]
fn tagged_packet_limit_caps_seconds_and_packets() {
    let got = evidence(
        &rule("session,60,seconds"),
        "tagged_packet_limit = 2",
        &session(),
        false,
    );
    assert_eq!(got, [vec![0, 500, 1000]]);
    // `0,packets` lifts the limit: the seconds decide alone.
    let got = evidence(
        &rule("session,0,packets,3,seconds"),
        "tagged_packet_limit = 2",
        &session(),
        false,
    );
    assert_eq!(got, [vec![0, 500, 1000, 1500, 2000, 2500, 3000, 3500]]);
}

#[test]
fn a_second_event_does_not_reset_the_packet_budget() {
    // tag.c `AddTagNode`: the second event finds the session's node and only moves a seconds
    // deadline; the packet budget runs on. The packet that alerts again is kept (it is the
    // event's) but not counted: tagged are 500, 1500 and 2000.
    let mut v = session();
    v[2] = tcp(1000, true, b"EVIL again");
    let got = evidence(&rule("session,3,packets"), "", &v, false);
    assert_eq!(got, [vec![0, 500, 1000, 1500, 2000]]);
}

#[test]
fn host_tag_keeps_every_conversation_of_the_host() {
    // tag:host,...,src: the event's source A; its packets with C are tagged too, B's traffic
    // with C is not.
    let mut v = vec![tcp(0, true, b"EVIL")];
    v.push((T0, 100_000, frame(B, C, L4::Udp(53, 53), b"not A")));
    v.push((T0, 200_000, frame(A, C, L4::Udp(5000, 53), b"A to C")));
    v.push((T0, 300_000, frame(C, A, L4::Udp(53, 5000), b"C to A")));
    v.push(tcp(400, false, b"B to A"));
    v.push((T0, 500_000, frame(A, C, L4::Udp(5000, 53), b"fourth")));
    let got = evidence(&rule("host,3,packets,src"), "", &v, false);
    assert_eq!(got, [vec![0, 200, 300, 400]]);
    // dst: B's traffic.
    let got = evidence(&rule("host,3,packets,dst"), "", &v, false);
    assert_eq!(got, [vec![0, 100, 400]]);
}

#[test]
fn exclusive_opens_one_tag_per_sensor() {
    // Two sessions alert with an exclusive tag: only the first tags (tag.c `s_max_sessions`);
    // the second keeps its alert packet alone.
    let mut v = session();
    v.push((
        T0 + 10,
        0,
        frame(C, B, L4::Tcp(41000, 80, PSH_ACK, 1, 1), b"EVIL"),
    ));
    v.push((
        T0 + 10,
        500_000,
        frame(B, C, L4::Tcp(80, 41000, ACK, 1, 1), b"x"),
    ));
    let got = evidence(&rule("session,2,packets,exclusive"), "", &v, false);
    assert_eq!(got, [vec![0, 500, 1000], vec![10_000]]);
}

#[test]
fn with_the_ring_the_packets_before_the_alert_come_first() {
    let mut v = vec![tcp(0, true, b"hello"), tcp(200, false, b"hi")];
    v.extend(session().into_iter().map(|(s, u, f)| (s + 1, u, f)));
    let got = evidence(&rule("session,2,packets"), "", &v, true);
    assert_eq!(got, [vec![0, 200, 1000, 1500, 2000]]);
}

#[test]
fn check_loads_rules_with_tag() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("t.rules");
    fs::write(
        &r,
        rule("session,10,packets") + &rule("host,30,seconds,dst").replace("sid:1", "sid:2"),
    )
    .unwrap();
    let out = run(bin().arg("check").arg("-r").arg(&r));
    expect_code(&out, 0);
    assert!(
        text(&out.stdout).contains("total: 2 loaded, 0 skipped"),
        "{}",
        text(&out.stdout)
    );
}
