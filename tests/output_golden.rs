//! The Snort text formats against real Snort 2.9.20 output (`../shared/data/snort-golden/`)
//! and the seed record of DESIGN.md, byte for byte: every packet of the golden capture is
//! decoded, formatted with a hand-built rule, and the concatenation compared with the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nsm_sensor::capture::{Next, OfflineSource, PacketSource};
use nsm_sensor::config::Timestamps;
use nsm_sensor::decode::{decode, DecodeOptions};
use nsm_sensor::output::{snort, AlertEvent};
use nsm_sensor::rules::{Action, AddrSet, Direction, PortSet, Proto, Reference, Rule, SourceLoc};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel)
}

fn rule(
    sid: u32,
    rev: u32,
    msg: &str,
    class_desc: Option<&str>,
    priority: u32,
    refs: &[(&str, &str, Option<&str>)],
) -> Rule {
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
        sid,
        rev,
        msg: msg.to_string(),
        classtype: class_desc.map(|_| "trojan-activity".to_string()),
        class_desc: class_desc.map(str::to_string),
        priority,
        references: refs
            .iter()
            .map(|(system, id, prefix)| Reference {
                system: system.to_string(),
                id: id.to_string(),
                url_prefix: prefix.map(str::to_string),
            })
            .collect(),
        metadata: Vec::new(),
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

fn zoo_rule() -> Rule {
    rule(
        9500001,
        2,
        "zoo ip 1",
        Some("A Network Trojan was detected"),
        1,
        &[
            ("url", "www.example.org/zoo", Some("http://")),
            (
                "cve",
                "2007-1001",
                Some("http://cve.mitre.org/cgi-bin/cvename.cgi?name="),
            ),
        ],
    )
}

/// Formats the packets of `pcap` that `select` picks, at most `limit`, with `rule`: (full, fast).
fn format_all(
    pcap: &Path,
    rule: &Rule,
    limit: usize,
    select: impl Fn(&nsm_sensor::decode::Packet<'_>) -> bool,
) -> Option<(String, String)> {
    let mut src = OfflineSource::open(pcap, "").ok()?;
    let lt = src.linktype();
    let (mut full, mut fast) = (Vec::new(), Vec::new());
    let mut n = 0;
    while n < limit {
        let Ok(Next::Packet(raw)) = src.next_packet() else {
            break;
        };
        let pkt = decode(
            lt,
            raw.ts_sec,
            raw.ts_usec,
            raw.wire_len,
            raw.data,
            DecodeOptions { checksums: true },
        )
        .unwrap_or_else(|e| panic!("{}: packet {n}: {e:?}", pcap.display()));
        if !select(&pkt) {
            continue;
        }
        n += 1;
        assert_eq!(pkt.anomaly, None, "packet {n}");
        let ev = AlertEvent {
            pkt_src: Default::default(),
            rule,
            pkt: &pkt,
            linktype: lt,
            capture_file: None,
            flow_id: 0,
        };
        snort::format_full(&ev, Timestamps::Utc, &mut full);
        snort::format_fast(&ev, Timestamps::Utc, &mut fast);
    }
    Some((
        String::from_utf8(full).unwrap(),
        String::from_utf8(fast).unwrap(),
    ))
}

fn golden(name: &str) -> Option<String> {
    std::fs::read_to_string(data(&format!("snort-golden/{name}"))).ok()
}

/// Compares line by line first, for a readable failure, then byte for byte.
fn assert_same(got: &str, want: &str, what: &str) {
    for (i, (g, w)) in got.split('\n').zip(want.split('\n')).enumerate() {
        assert_eq!(g, w, "{what}: line {}", i + 1);
    }
    assert_eq!(got, want, "{what}");
}

#[test]
fn zoo1_alert_full_and_fast_match_snort() {
    let Some((full, fast)) = format_all(
        &data("snort-golden/zoo1.pcap"),
        &zoo_rule(),
        usize::MAX,
        |_| true,
    ) else {
        eprintln!("skipped: golden capture not found");
        return;
    };
    assert_same(&full, &golden("zoo1.alert").unwrap(), "zoo1.alert");
    assert_same(
        &fast,
        &golden("zoo1.alert.fast").unwrap(),
        "zoo1.alert.fast",
    );
}

#[test]
fn udp_icmp_rule_without_classtype_matches_snort() {
    let r = rule(1000001, 1, "test", None, 0, &[]);
    let Some((full, fast)) =
        format_all(&data("snort-golden/udp-icmp.pcap"), &r, usize::MAX, |_| {
            true
        })
    else {
        eprintln!("skipped: golden capture not found");
        return;
    };
    assert_same(&full, &golden("udp-icmp.alert").unwrap(), "udp-icmp.alert");
    assert_same(
        &fast,
        &golden("udp-icmp.alert.fast").unwrap(),
        "udp-icmp.alert.fast",
    );
}

#[test]
fn seed_first_syn_matches_design_record() {
    let r = rule(
        2404000,
        602,
        "BLEEDING-EDGE DROP Known Bot C&C Server Traffic (group 1)",
        Some("A Network Trojan was detected"),
        1,
        &[("url", "www.shadowserver.org", Some("http://"))],
    );
    let Some((full, fast)) = format_all(&data("seed/botcc-2007-02-21.pcap"), &r, 1, |p| {
        p.tcp_flags() == Some(0x02)
            && p.dst == "161.53.178.240".parse::<std::net::IpAddr>().unwrap()
    }) else {
        eprintln!("skipped: seed capture not found");
        return;
    };
    let want_fast = "02/21-10:17:54.366236  [**] [1:2404000:602] BLEEDING-EDGE DROP Known Bot C&C Server Traffic (group 1) [**] [Classification: A Network Trojan was detected] [Priority: 1] {TCP} 192.168.0.31:2253 -> 161.53.178.240:6667\n";
    let want_full =
        "[**] [1:2404000:602] BLEEDING-EDGE DROP Known Bot C&C Server Traffic (group 1) [**]\n\
[Classification: A Network Trojan was detected] [Priority: 1] \n\
02/21-10:17:54.366236 192.168.0.31:2253 -> 161.53.178.240:6667\n\
TCP TTL:128 TOS:0x0 ID:13198 IpLen:20 DgmLen:48 DF\n\
******S* Seq: 0xCA53141F  Ack: 0x0  Win: 0xFC00  TcpLen: 28\n\
TCP Options (4) => MSS: 1460 NOP NOP SackOK \n\
[Xref => http://www.shadowserver.org]\n\n";
    assert_same(&fast, want_fast, "seed alert.fast");
    assert_same(&full, want_full, "seed alert");
}
