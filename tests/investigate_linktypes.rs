//! `investigate` decodes with the sensor's own decoder: the seed conversation captured as
//! Linux SLL2 and inside PPPoE sessions gives the same packets, counters and verdict as over
//! Ethernet (issue 11, item 22: the second decoder returned nothing for those frames, on which
//! the sensor alerts).

use std::fs;
use std::path::Path;

use nsm_sensor::investigate::{investigate, InvestigateOptions, Investigation};
use nsm_sensor::pcap::Reader;
use nsm_sensor::ring::{Ring, RingOptions};

const SEED: &str = "/work/shared/data/seed/botcc-2007-02-21.pcap";

fn records(p: &Path) -> Vec<(i64, u32, Vec<u8>)> {
    let mut r = Reader::open(p).unwrap();
    let mut v = Vec::new();
    while let Some(pk) = r.next_packet().unwrap() {
        let t = pk.ts.unwrap();
        v.push((t.sec, t.nsec / 1000, pk.data.to_vec()));
    }
    v
}

/// An Ethernet frame as Linux SLL2: protocol, reserved, ifindex, ARPHRD_ETHER, packet type,
/// address length, address (8 bytes), then the network layer.
fn sll2(eth: &[u8]) -> Vec<u8> {
    let mut f = vec![eth[12], eth[13], 0, 0, 0, 0, 0, 1, 0, 1, 0, 6];
    f.extend_from_slice(&eth[6..12]);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&eth[14..]);
    f
}

/// An Ethernet/IPv4 frame inside a PPPoE session: addresses, type 0x8864, version/type 0x11,
/// code 0, session 0x0042, length, PPP protocol 0x0021, then IPv4. Other frames unchanged.
fn pppoe(eth: &[u8]) -> Vec<u8> {
    if eth[12..14] != [0x08, 0x00] {
        return eth.to_vec();
    }
    let ip = &eth[14..];
    let mut f = eth[..12].to_vec();
    f.extend_from_slice(&[0x88, 0x64, 0x11, 0x00, 0x00, 0x42]);
    f.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
    f.extend_from_slice(&[0x00, 0x21]);
    f.extend_from_slice(ip);
    f
}

/// The seed through `convert` into a ring of `linktype`, the seed's two alerts in eve.json,
/// and the investigation of alert `selector`.
fn investigate_as(
    root: &Path,
    linktype: i32,
    convert: fn(&[u8]) -> Vec<u8>,
    selector: &str,
) -> Investigation {
    let ring_dir = root.join("ring");
    let o = RingOptions {
        dir: ring_dir.clone(),
        prefix: "nsm".into(),
        files: 10,
        file_size: 100 << 20,
    };
    let mut ring = Ring::open(&o, linktype, 65535).unwrap();
    for (s, u, d) in records(Path::new(SEED)) {
        let f = convert(&d);
        ring.write(s, u, f.len() as u32, &f).unwrap();
    }
    let name = ring.current_name().unwrap().to_string();
    drop(ring);
    let logs = root.join("log");
    fs::create_dir_all(&logs).unwrap();
    let http = serde_json::json!({
        "timestamp": "2007-02-21T10:17:50.171500+0000", "event_type": "alert",
        "src_ip": "192.168.0.31", "src_port": 2250, "dest_ip": "64.233.187.99", "dest_port": 80, "proto": "TCP",
        "alert": {"action": "allowed", "gid": 1, "signature_id": 1000001, "rev": 1, "signature": "TEST HTTP",
                  "category": "Misc activity", "severity": 3},
        "capture_file": name,
    });
    let botcc = serde_json::json!({
        "timestamp": "2007-02-21T10:17:54.366236+0000", "event_type": "alert",
        "src_ip": "192.168.0.31", "src_port": 2253, "dest_ip": "161.53.178.240", "dest_port": 6667, "proto": "TCP",
        "alert": {"action": "allowed", "gid": 1, "signature_id": 2404000, "rev": 602,
                  "signature": "BLEEDING-EDGE DROP Known Bot C&C Server Traffic (group 1)",
                  "category": "A Network Trojan was detected", "severity": 1},
        "capture_file": name,
    });
    fs::write(logs.join("eve.json"), format!("{http}\n{botcc}\n")).unwrap();
    let mut opts = InvestigateOptions::new(&logs, &ring_dir);
    opts.selector = Some(selector.to_string());
    opts.evidence = Some(root.join("evidence.pcap"));
    investigate(&opts).unwrap()
}

fn same(a: &Investigation, b: &Investigation, what: &str) {
    assert_eq!(a.verdict, b.verdict, "{what}");
    assert_eq!(a.packet_lines, b.packet_lines, "{what}");
    assert_eq!(
        (a.a_to_b, a.b_to_a, a.handshake_completed),
        (b.a_to_b, b.b_to_a, b.handshake_completed),
        "{what}"
    );
}

/// Regression: `investigate` found no conversation in SLL2 or PPPoE frames. Both alerts of
/// the seed (the C&C SYNs without reply, the HTTP exchange with a handshake) investigate
/// alike over Ethernet, SLL2 and PPPoE.
#[test]
fn sll2_and_pppoe_investigate_like_ethernet() {
    for selector in ["sid:2404000", "#1"] {
        let d = tempfile::tempdir().unwrap();
        let eth = investigate_as(&d.path().join("eth"), 1, <[u8]>::to_vec, selector);
        assert!(!eth.packet_lines.is_empty(), "{selector}: {}", eth.verdict);
        let sll = investigate_as(&d.path().join("sll2"), 276, sll2, selector);
        same(&eth, &sll, &format!("SLL2, {selector}"));
        let ppp = investigate_as(&d.path().join("pppoe"), 1, pppoe, selector);
        same(&eth, &ppp, &format!("PPPoE, {selector}"));
        assert_eq!(
            records(&sll.evidence).len(),
            eth.packet_lines.len(),
            "SLL2 evidence, {selector}"
        );
    }
    let d = tempfile::tempdir().unwrap();
    let eth = investigate_as(d.path(), 1, <[u8]>::to_vec, "sid:2404000");
    assert_eq!(
        eth.verdict,
        "192.168.0.31 sent 3 SYNs to 161.53.178.240:6667, no reply, 0 payload bytes either way; no connection was made"
    );
}
