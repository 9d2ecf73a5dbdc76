//! The seed story without the rest of the product: the 2007 bot C&C capture written into a
//! ring with `Ring`, one hand-written EVE alert for the first SYN to 161.53.178.240:6667,
//! then `investigate`: 3 SYNs, no reply, 0 payload bytes, evidence = those 3 packets.

use std::fs;
use std::path::Path;

use nsm_sensor::investigate::{investigate, InvestigateOptions};
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

/// Builds LOGDIR and RING_DIR; returns the ring file name holding the packets.
fn setup(root: &Path) -> String {
    let ring_dir = root.join("ring");
    let o = RingOptions {
        dir: ring_dir,
        prefix: "nsm".into(),
        files: 10,
        file_size: 100 << 20,
    };
    let mut ring = Ring::open(&o, 1, 65535).unwrap();
    for (s, u, d) in records(Path::new(SEED)) {
        ring.write(s, u, d.len() as u32, &d).unwrap();
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
        "timestamp": "2007-02-21T10:17:54.366236+0000", "flow_id": 1, "event_type": "alert",
        "src_ip": "192.168.0.31", "src_port": 2253, "dest_ip": "161.53.178.240", "dest_port": 6667, "proto": "TCP",
        "alert": {"action": "allowed", "gid": 1, "signature_id": 2404000, "rev": 602,
                  "signature": "BLEEDING-EDGE DROP Known Bot C&C Server Traffic (group 1)",
                  "category": "A Network Trojan was detected", "severity": 1},
        "capture_file": name,
    });
    fs::write(logs.join("eve.json"), format!("{http}\n{botcc}\n")).unwrap();
    name
}

#[test]
fn ring_seed_investigate_botcc_no_connection() {
    let d = tempfile::tempdir().unwrap();
    let name = setup(d.path());
    assert_eq!(name, "nsm_00001_20070221101750.pcap");
    let opts = InvestigateOptions::new(&d.path().join("log"), &d.path().join("ring"));
    let inv = investigate(&opts).unwrap();
    assert!(inv.verdict.contains("3 SYNs"), "{}", inv.verdict);
    assert!(inv.verdict.contains("no reply"), "{}", inv.verdict);
    assert!(inv.verdict.contains("0 payload bytes"), "{}", inv.verdict);
    assert!(
        inv.verdict.contains("no connection was made"),
        "{}",
        inv.verdict
    );
    assert_eq!(
        inv.verdict,
        "192.168.0.31 sent 3 SYNs to 161.53.178.240:6667, no reply, 0 payload bytes either way; no connection was made"
    );
    assert_eq!(
        inv.alert_line,
        "02/21-10:17:54.366236  [**] [1:2404000:602] BLEEDING-EDGE DROP Known Bot C&C Server Traffic (group 1) [**] \
         [Classification: A Network Trojan was detected] [Priority: 1] {TCP} 192.168.0.31:2253 -> 161.53.178.240:6667"
    );
    assert_eq!(
        inv.packet_lines[0],
        "10:17:54.366236 IP 192.168.0.31.2253 > 161.53.178.240.6667: Flags [S], seq 3394442271, win 64512, \
         options [mss 1460,nop,nop,sackOK], length 0"
    );
    let j = inv.to_json();
    assert_eq!(
        j["a_to_b"],
        serde_json::json!({"packets": 3, "payload_bytes": 0, "syn": 3, "fin": 0, "rst": 0})
    );
    assert_eq!(j["b_to_a"]["packets"], 0);
    assert_eq!(j["handshake_completed"], false);
    assert_eq!(
        j["hosts"],
        serde_json::json!({"a": "192.168.0.31", "b": "161.53.178.240"})
    );
    assert_eq!(j["alert"]["alert"]["signature_id"], 2404000);
    assert_eq!(j["files"][0]["info"]["packets"], 13);
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 8, "{keys:?}");
    assert_eq!(j["source"], "ring");
    // Evidence: exactly the three SYNs, byte for byte.
    let evidence = records(&inv.evidence);
    let seed = records(Path::new(SEED));
    assert_eq!(evidence, seed[10..13].to_vec());
    assert!(inv.evidence.starts_with(d.path().join("log/evidence")));
    let mut text = Vec::new();
    inv.write_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains(&name) && text.contains("Verdict: ") && text.contains("Evidence: "),
        "{text}"
    );
}

#[test]
fn ring_seed_investigate_selectors_and_handshake() {
    let d = tempfile::tempdir().unwrap();
    setup(d.path());
    let mut opts = InvestigateOptions::new(&d.path().join("log"), &d.path().join("ring"));
    opts.selector = Some("#1".into());
    opts.evidence = Some(d.path().join("http.pcap"));
    let inv = investigate(&opts).unwrap();
    assert!(inv.handshake_completed, "{}", inv.verdict);
    assert_eq!(
        (inv.a_to_b.payload_bytes, inv.b_to_a.payload_bytes),
        (65, 77)
    );
    assert_eq!((inv.a_to_b.fin, inv.b_to_a.fin), (1, 1));
    assert_eq!(records(&d.path().join("http.pcap")).len(), 8);
    for sel in [
        "sid:2404000",
        "2404000",
        "161.53.178.240",
        "#-1",
        "02/21-10:17:55",
        "2007-02-21 10:17:54",
    ] {
        opts.selector = Some(sel.into());
        opts.default_year = Some(2007);
        let inv = investigate(&opts).unwrap();
        assert_eq!(inv.a_to_b.syn, 3, "{sel}");
    }
    opts.selector = Some("sid:1".into());
    let e = investigate(&opts).unwrap_err();
    assert!(e.to_string().contains("no alert matches"), "{e}");
    // The ring file the alert names is gone.
    opts.selector = None;
    for f in fs::read_dir(d.path().join("ring")).unwrap() {
        fs::remove_file(f.unwrap().path()).unwrap();
    }
    let e = investigate(&opts).unwrap_err();
    assert!(e.to_string().contains("gone"), "{e}");
    // No eve.json.
    fs::remove_file(d.path().join("log/eve.json")).unwrap();
    let e = investigate(&opts).unwrap_err();
    assert!(e.to_string().contains("eve.json"), "{e}");
}
