//! Engine-level table test for `flow` and `flowbits` with tier-1 rules: a bit set by an IP-list
//! rule, tested later in the same flow by other rules (directions, established, `noalert`,
//! `|`/`&` groups, `isnotset`, `unset`). Rules are evaluated in file order on every packet.

mod common;

use common::{frame, L4};
use nsm_sensor::decode::{decode, DecodeOptions};
use nsm_sensor::detect::engine::{Engine, Hit};
use nsm_sensor::detect::{DetectOptions, RuleSet};
use nsm_sensor::rules::load::load_text;
use nsm_sensor::rules::LoadOptions;
use std::path::Path;

const RULES: &str = r#"
alert tcp $HOME_NET any -> any any (msg:"fin clears evil"; flags:FA; flowbits:unset,ET.Evil; flowbits:noalert; sid:7;)
alert tcp $HOME_NET any -> [203.0.113.7,203.0.113.8] any (msg:"listed"; flags:S; flowbits:set,ET.Evil; flowbits:noalert; sid:1;)
alert tcp any any -> any any (msg:"data sets A"; flags:PA; flowbits:set,A; flowbits:noalert; sid:6;)
alert tcp any any -> any any (msg:"evil flow, client side"; flow:established,to_server; flowbits:isset,ET.Evil; sid:2;)
alert tcp any any -> any any (msg:"either bit, server side"; flow:to_client; flowbits:isset,A|ET.Evil; sid:3;)
alert tcp any any -> any any (msg:"both bits"; flow:to_server; flowbits:isset,A&ET.Evil; sid:4;)
alert tcp any any -> any any (msg:"clean syn"; flags:S; flowbits:isnotset,ET.Evil; sid:5;)
"#;

#[test]
fn flowbits_across_a_flow() {
    let mut opts = LoadOptions::default();
    opts.vars.insert("HOME_NET".into(), "192.168.0.0/16".into());
    let report = load_text(Path::new("flowbits.rules"), RULES, &opts);
    assert!(
        report.is_usable(),
        "{:?}",
        report.errors().collect::<Vec<_>>()
    );
    assert_eq!(report.loaded(), 7);
    let rules = RuleSet::compile(report.model);
    let mut engine = Engine::new(&DetectOptions::from_config(&Default::default()));
    let (c, s) = ([192, 168, 1, 10], [203, 0, 113, 7]);
    let (c2, s2) = ([192, 168, 1, 11], [198, 51, 100, 9]);
    const S: u8 = 0x02;
    const A: u8 = 0x10;
    const PA: u8 = 0x18;
    const FA: u8 = 0x11;
    // (what, frame, sids expected)
    let cases: Vec<(&str, Vec<u8>, Vec<u32>)> = vec![
        (
            "syn to a listed host sets the bit silently",
            frame(c, s, L4::Tcp(40000, 80, S, 1, 0), b""),
            vec![],
        ),
        (
            "syn-ack: server side, bit set",
            frame(s, c, L4::Tcp(80, 40000, S | A, 9, 2), b""),
            vec![3],
        ),
        (
            "ack completes the handshake",
            frame(c, s, L4::Tcp(40000, 80, A, 2, 10), b""),
            vec![2],
        ),
        (
            "client data: sets A, both bits now (logged higher sid first, Snort's event order)",
            frame(c, s, L4::Tcp(40000, 80, PA, 2, 10), b"hi"),
            vec![4, 2],
        ),
        (
            "server data",
            frame(s, c, L4::Tcp(80, 40000, PA, 10, 4), b"ok"),
            vec![3],
        ),
        (
            "fin clears the bit",
            frame(c, s, L4::Tcp(40000, 80, FA, 4, 12), b""),
            vec![],
        ),
        (
            "server fin: only A left",
            frame(s, c, L4::Tcp(80, 40000, FA, 12, 5), b""),
            vec![3],
        ),
        (
            "another flow: nothing set",
            frame(c2, s2, L4::Tcp(40001, 80, S, 1, 0), b""),
            vec![5],
        ),
        (
            "its syn-ack",
            frame(s2, c2, L4::Tcp(80, 40001, S | A, 7, 2), b""),
            vec![],
        ),
    ];
    let mut hits: Vec<Hit> = Vec::new();
    for (i, (what, f, want)) in cases.iter().enumerate() {
        let pkt = decode(
            1,
            1_000 + i as i64,
            0,
            f.len() as u32,
            f,
            DecodeOptions { checksums: true },
        )
        .expect("decodes");
        engine.inspect(&rules, &pkt, &mut hits);
        let sids: Vec<u32> = hits
            .iter()
            .map(|h| rules.rules()[h.rule as usize].sid)
            .collect();
        assert_eq!(&sids, want, "packet {i}: {what}");
    }
}

/// The flow table runs only when some rule reads flow state; setting bits nobody tests (the
/// ET IP lists) needs none.
#[test]
fn flow_tracking_only_when_a_rule_reads_it() {
    use nsm_sensor::detect::engine::needs_flows;
    let cases = [
        ("flowbits:set,ET.Evil; flowbits:noalert;", false),
        ("flow:stateless;", false),
        ("flowbits:isset,ET.Evil;", true),
        ("flowbits:isnotset,a|b;", true),
        ("flow:established;", true),
        ("flow:to_server;", true),
        ("flow:to_client,stateless;", true),
    ];
    let mut opts = LoadOptions::default();
    opts.vars.insert("HOME_NET".into(), "any".into());
    for (options, want) in cases {
        let text = format!("alert tcp any any -> any any (msg:\"t\"; {options} sid:1;)\n");
        let report = load_text(Path::new("t.rules"), &text, &opts);
        assert_eq!(report.loaded(), 1, "{options}");
        assert_eq!(
            needs_flows(&RuleSet::compile(report.model)),
            want,
            "{options}"
        );
    }
}
