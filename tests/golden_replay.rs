//! Real Snort 2.9.20 output, reproduced through the whole `replay` pipeline (decode, checksum
//! validation, the header index, outputs): `alert` and `alert.fast` byte for byte, and the same
//! alerts as schema-valid EVE lines.

mod common;

use common::*;
use std::fs;

fn golden(case: &str, home_net: &str, alerts: usize) {
    let g = shared().join("snort-golden");
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    // Recorded with no preprocessors: frag3 off here (tests/defrag.rs replays the zoo with it).
    let cfg = tmp.path().join("sensor.toml");
    fs::write(&cfg, "[detect]\ndefrag = false\n").unwrap();
    let out = run(bin()
        .args(["replay", "-q", "--no-ring", "--home-net", home_net, "-c"])
        .arg(&cfg)
        .arg("-r")
        .arg(g.join(format!("{case}.rules")))
        .arg("-l")
        .arg(&log)
        .arg(g.join(format!("{case}.pcap"))));
    expect_code(&out, 0);
    for file in ["alert", "alert.fast"] {
        let want = fs::read_to_string(g.join(format!("{case}.{file}"))).unwrap();
        let got = fs::read_to_string(log.join(file)).unwrap();
        assert_eq!(got, want, "{case}: {file}");
    }
    assert_eq!(validate_eve(&log.join("eve.json")), alerts, "{case}");
}

#[test]
fn zoo_of_packet_shapes_matches_snort() {
    golden("zoo1", "[192.168.0.0/16,fd00::/8]", 22);
}

#[test]
fn rule_without_classtype_matches_snort() {
    golden("udp-icmp", "192.168.0.0/16", 2);
}
