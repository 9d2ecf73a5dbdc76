//! The alert files end to end: `Outputs` writes `alert`, `alert.fast` and `eve.json` for a
//! variety of packets (TCP, UDP, ICMP, IPv6, fragments, VLAN, QinQ, SLL2); every EVE line must
//! validate against Suricata's schema, and hostile rule text must not split a record.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use nsm_sensor::capture::{Next, OfflineSource, PacketSource};
use nsm_sensor::config::Timestamps;
use nsm_sensor::decode::{decode, DecodeOptions};
use nsm_sensor::output::{AlertEvent, OutputOptions, Outputs};
use nsm_sensor::rules::{Action, AddrSet, Direction, PortSet, Proto, Reference, Rule, SourceLoc};

const HOSTILE_MSG: &str = "evil \"quoted\" \\ msg\nforged line\r\u{1}\u{7f}\u{85}\u{2028} end";

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel)
}

fn rule(msg: &str) -> Rule {
    Rule {
        loc: SourceLoc {
            file: Arc::new(PathBuf::from("test.rules")),
            line: 1,
        },
        action: Action::Alert,
        proto: Proto::Ip,
        src: AddrSet::any(),
        src_ports: PortSet::any(),
        direction: Direction::To,
        dst: AddrSet::any(),
        dst_ports: PortSet::any(),
        gid: 1,
        sid: 2404000,
        rev: 602,
        msg: msg.to_string(),
        classtype: Some("trojan-activity".into()),
        class_desc: Some("A Network Trojan was detected".into()),
        priority: 1,
        references: vec![
            Reference {
                system: "url".into(),
                id: "www.shadowserver.org".into(),
                url_prefix: Some("http://".into()),
            },
            Reference {
                system: "nessus".into(),
                id: "12345\nX".into(),
                url_prefix: None,
            },
        ],
        metadata: vec![
            "created_at 2010_01_01".into(),
            "former_category TROJAN".into(),
            "created_at 2011_02_02".into(),
        ],
        flags: None,
        flow: None,
        flowbits: Vec::new(),
        threshold: None,
        detection_filter: None,
        header_tests: Vec::new(),
        contents: Vec::new(),
        payload: Vec::new(),
    }
}

/// Alerts on every decodable packet of `pcap` with `rule`; returns how many.
fn alert_all(out: &mut Outputs, pcap: &Path, rule: &Rule) -> usize {
    let Ok(mut src) = OfflineSource::open(pcap, "") else {
        return 0;
    };
    let lt = src.linktype();
    let mut n = 0;
    while let Ok(Next::Packet(raw)) = src.next_packet() {
        let Ok(pkt) = decode(
            lt,
            raw.ts_sec,
            raw.ts_usec,
            raw.wire_len,
            raw.data,
            DecodeOptions { checksums: false },
        ) else {
            continue;
        };
        n += 1;
        let ev = AlertEvent {
            pkt_src: Default::default(),
            rule,
            pkt: &pkt,
            linktype: lt,
            capture_file: (n % 2 == 0).then_some("nsm_00001_20070221101750.pcap"),
            flow_id: n as u64 * 7919,
        };
        out.alert(&ev).unwrap();
    }
    n
}

fn opts(dir: &Path) -> OutputOptions {
    OutputOptions {
        dir: dir.to_path_buf(),
        alert_full: true,
        alert_fast: true,
        eve: true,
        timestamps: Timestamps::Utc,
    }
}

#[test]
fn eve_lines_validate_against_suricata_schema() {
    let schema = data("eve-schema/schema.json");
    let captures = [
        "snort-golden/zoo1.pcap",
        "snort-golden/udp-icmp.pcap",
        "pcaps/sv__defrag__frag-eth-vlan-ipv6-tcp.pcap",
        "pcaps/sv__defrag__frag-eth-vlan-ip-tcp-syn.pcap",
        "pcaps/tcpdump__802.1ad_QinQ.pcap",
        "pcaps/sv__decode-sll2-01__input.pcap",
        "pcaps/tcpdump__kday6.pcap",
        "pcaps/ndpi__dns_fragmented.pcap",
    ];
    if !schema.exists() {
        eprintln!("skipped: schema not found");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log/sub");
    let mut out = Outputs::open(&opts(&dir)).unwrap();
    let r = rule(HOSTILE_MSG);
    let total: usize = captures
        .iter()
        .map(|c| alert_all(&mut out, &data(c), &r))
        .sum();
    out.flush().unwrap();
    assert!(total > 30, "{total} alerts");

    let eve = std::fs::read_to_string(dir.join("eve.json")).unwrap();
    assert_eq!(eve.lines().count(), total);
    let mut saw = (false, false, false, false);
    let mut with_id = 0;
    for line in eve.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            v["alert"]["signature"], HOSTILE_MSG,
            "msg round-trips through JSON"
        );
        assert_eq!(
            v["alert"]["metadata"]["created_at"],
            serde_json::json!(["2010_01_01", "2011_02_02"])
        );
        saw.0 |= v.get("vlan").is_some();
        saw.1 |= v["proto"] == "IPv6-ICMP";
        saw.2 |= v.get("icmp_type").is_some() && v["proto"] == "ICMP";
        saw.3 |= v["src_ip"].as_str().unwrap().contains(':') && v["proto"] == "TCP";
        // Every packet with ports or an ICMP type carries the conversation's Community ID
        // (a later fragment has neither, and no ID).
        if v.get("src_port").is_some() || v.get("icmp_type").is_some() {
            let id = v["community_id"].as_str().unwrap_or_default();
            assert!(
                id.len() == 30 && id.starts_with("1:"),
                "community_id in {line}"
            );
            with_id += 1;
        }
    }
    assert!(with_id > 20, "{with_id} lines with a community_id");
    assert_eq!(
        saw,
        (true, true, true, true),
        "vlan, ICMPv6, ICMP, IPv6 TCP all covered"
    );

    let script = r#"
import json, sys, jsonschema
s = json.load(open(sys.argv[1]))
v = jsonschema.validators.validator_for(s)(s)
bad = 0
for i, l in enumerate(open(sys.argv[2])):
    for e in v.iter_errors(json.loads(l)):
        bad += 1
        print(i + 1, e.message)
sys.exit(1 if bad else 0)
"#;
    match Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&schema)
        .arg(dir.join("eve.json"))
        .output()
    {
        Ok(o) if o.status.code() == Some(0) => {}
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            eprintln!("skipped schema check: python3 jsonschema not installed");
        }
        Ok(o) => panic!(
            "schema errors:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => eprintln!("skipped schema check: python3: {e}"),
    }

    // Text formats: one fast line and one blank-line-terminated record per alert, whatever
    // the rule text holds.
    let fast = std::fs::read_to_string(dir.join("alert.fast")).unwrap();
    assert_eq!(fast.lines().count(), total);
    assert!(fast
        .lines()
        .all(|l| l.contains("evil \"quoted\" \\ msg forged line      end [**]")));
    let full = std::fs::read_to_string(dir.join("alert")).unwrap();
    assert_eq!(full.matches("\n\n").count(), total);
    assert_eq!(
        full.lines()
            .filter(|l| l.starts_with("[**] [1:2404000:602] evil"))
            .count(),
        total
    );
    assert!(full.contains("[Xref => nessus 12345 X][Xref => http://www.shadowserver.org]\n"));
}

#[test]
fn files_are_private_appended_and_reopened() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    let pcap = data("snort-golden/udp-icmp.pcap");
    if !pcap.exists() {
        eprintln!("skipped: golden capture not found");
        return;
    }
    let r = rule("plain");
    {
        let mut out = Outputs::open(&opts(&dir)).unwrap();
        assert_eq!(alert_all(&mut out, &pcap, &r), 2);
    } // dropped: flushed
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let umask_ok = |m: u32, want: u32| m & !want == 0;
    assert!(umask_ok(mode(&dir), 0o750), "dir mode {:o}", mode(&dir));
    for f in ["alert", "alert.fast", "eve.json"] {
        assert!(
            umask_ok(mode(&dir.join(f)), 0o640),
            "{f} mode {:o}",
            mode(&dir.join(f))
        );
    }
    // Reopened after a logrotate-style rename: new files, old ones untouched; appends survive.
    let mut out = Outputs::open(&opts(&dir)).unwrap();
    std::fs::rename(dir.join("alert.fast"), dir.join("alert.fast.1")).unwrap();
    out.reopen().unwrap();
    alert_all(&mut out, &pcap, &r);
    out.flush().unwrap();
    let count = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(count("alert.fast.1"), 2);
    assert_eq!(count("alert.fast"), 2);
    assert_eq!(count("eve.json"), 4);

    // Only the enabled files are created.
    let only_eve = tmp.path().join("eve-only");
    let o = OutputOptions {
        alert_full: false,
        alert_fast: false,
        ..opts(&only_eve)
    };
    drop(Outputs::open(&o).unwrap());
    assert!(only_eve.join("eve.json").exists() && !only_eve.join("alert").exists());
}
