//! The header index against a naive scan on random rule sets and packets, and its size and
//! build cost with a million listed addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;

use nsm_sensor::detect::{HeaderKey, RuleSet};
use nsm_sensor::rules::*;
use proptest::prelude::*;

fn rule(
    proto: Proto,
    src: AddrSet,
    sp: PortSet,
    dir: Direction,
    dst: AddrSet,
    dp: PortSet,
) -> Rule {
    Rule {
        loc: SourceLoc {
            file: Arc::new(PathBuf::from("t.rules")),
            line: 1,
        },
        action: Action::Alert,
        proto,
        src,
        src_ports: sp,
        direction: dir,
        dst,
        dst_ports: dp,
        gid: 1,
        sid: 1,
        rev: 0,
        msg: String::new(),
        classtype: None,
        class_desc: None,
        priority: 0,
        references: Vec::new(),
        metadata: Vec::new(),
        flags: None,
        flow: None,
        flowbits: Vec::new(),
        threshold: None,
        detection_filter: None,
        header_tests: Vec::new(),
        contents: Vec::new(),
    }
}

/// Independent reference: the semantics written out plainly.
fn naive(rules: &[Rule], k: &HeaderKey) -> Vec<RuleId> {
    let proto_ok = |r: &Rule| match r.proto {
        Proto::Ip => true,
        Proto::Tcp => k.ip_proto == 6 && k.sport.is_some() && k.dport.is_some(),
        Proto::Udp => k.ip_proto == 17 && k.sport.is_some() && k.dport.is_some(),
        Proto::Icmp => k.ip_proto == 1 || k.ip_proto == 58,
    };
    let ports = |r: &Rule, sp: Option<u16>, dp: Option<u16>, fwd: bool| {
        if !matches!(r.proto, Proto::Tcp | Proto::Udp) {
            return true;
        }
        let (a, b) = if fwd {
            (&r.src_ports, &r.dst_ports)
        } else {
            (&r.dst_ports, &r.src_ports)
        };
        a.contains(sp.unwrap()) && b.contains(dp.unwrap())
    };
    (0..rules.len() as u32)
        .filter(|&i| {
            let r = &rules[i as usize];
            proto_ok(r)
                && ((r.src.contains(&k.src)
                    && r.dst.contains(&k.dst)
                    && ports(r, k.sport, k.dport, true))
                    || (r.direction == Direction::Both
                        && r.src.contains(&k.dst)
                        && r.dst.contains(&k.src)
                        && ports(r, k.sport, k.dport, false)))
        })
        .collect()
}

fn addr_set() -> impl Strategy<Value = AddrSet> {
    prop_oneof![
        1 => Just(AddrSet::any()),
        4 => prop::collection::vec((0u32..64, 0u32..8), 1..6).prop_map(|v| {
            let mut v4: Vec<(u32, u32)> = v.into_iter().map(|(a, l)| (0x0a00_0000 + a, 0x0a00_0000 + a + l)).collect();
            v4.sort();
            let mut out: Vec<(u32, u32)> = Vec::new();
            for (a, b) in v4 {
                match out.last_mut() {
                    Some(l) if a <= l.1 + 1 => l.1 = l.1.max(b),
                    _ => out.push((a, b)),
                }
            }
            AddrSet { v4: out, v6: Vec::new() }
        }),
        1 => (0u128..16).prop_map(|a| AddrSet { v4: Vec::new(), v6: vec![(a, a + 2)] }),
        1 => Just(AddrSet { v4: vec![(0, 0x0a00_001f)], v6: vec![(0, u128::MAX)] }),
    ]
}

fn port_set() -> impl Strategy<Value = PortSet> {
    prop_oneof![
        Just(PortSet::any()),
        (0u16..8, 0u16..4).prop_map(|(a, l)| PortSet {
            ranges: vec![(a, a + l)]
        })
    ]
}

fn a_rule() -> impl Strategy<Value = Rule> {
    (
        prop_oneof![
            Just(Proto::Ip),
            Just(Proto::Tcp),
            Just(Proto::Udp),
            Just(Proto::Icmp)
        ],
        addr_set(),
        port_set(),
        prop_oneof![Just(Direction::To), Just(Direction::Both)],
        addr_set(),
        port_set(),
    )
        .prop_map(|(p, s, sp, d, t, dp)| rule(p, s, sp, d, t, dp))
}

fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        4 => (0u32..80).prop_map(|a| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + a))),
        1 => (0u128..20).prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

fn key() -> impl Strategy<Value = HeaderKey> {
    (
        prop_oneof![Just(6u8), Just(17), Just(1), Just(58), Just(47)],
        addr(),
        addr(),
        0u16..12,
        0u16..12,
        any::<bool>(),
    )
        .prop_map(|(ip_proto, src, dst, sp, dp, ported)| {
            let ported = ported && matches!(ip_proto, 6 | 17);
            HeaderKey {
                ip_proto,
                src,
                dst,
                sport: ported.then_some(sp),
                dport: ported.then_some(dp),
            }
        })
}

/// A compiled set over hand-made rules.
fn compiled(rules: Vec<Rule>) -> RuleSet {
    RuleSet::compile(Model {
        rules,
        ..Model::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn index_agrees_with_naive_scan(rules in prop::collection::vec(a_rule(), 0..40), keys in prop::collection::vec(key(), 1..30)) {
        let set = compiled(rules);
        let mut out = Vec::new();
        for k in &keys {
            set.header_candidates(k, &mut out);
            prop_assert_eq!(&out, &naive(set.rules(), k), "{:?}", k);
        }
    }
}

#[test]
fn no_allocation_once_grown() {
    let rules = vec![
        rule(
            Proto::Ip,
            AddrSet::any(),
            PortSet::any(),
            Direction::To,
            AddrSet::any(),
            PortSet::any(),
        ),
        rule(
            Proto::Tcp,
            AddrSet::any(),
            PortSet::any(),
            Direction::To,
            AddrSet {
                v4: vec![(5, 5)],
                v6: vec![],
            },
            PortSet::any(),
        ),
    ];
    let set = compiled(rules);
    let k = HeaderKey {
        ip_proto: 6,
        src: IpAddr::V4(Ipv4Addr::from(1)),
        dst: IpAddr::V4(Ipv4Addr::from(5)),
        sport: Some(1),
        dport: Some(2),
    };
    let mut out = Vec::with_capacity(8);
    let ptr = out.as_ptr();
    set.header_candidates(&k, &mut out);
    assert_eq!(out, vec![0, 1]);
    assert_eq!(out.as_ptr(), ptr);
    assert_eq!(out, naive(set.rules(), &k));
}

#[test]
fn a_million_listed_addresses_stay_compact() {
    // 1,000 rules of 1,000 scattered /32s each, plus two broad rules.
    let mut rules = Vec::new();
    for r in 0..1000u32 {
        let mut v4: Vec<(u32, u32)> = (0..1000u32)
            .map(|i| {
                let a = (i * 1000 + r).wrapping_mul(2_654_435_761);
                (a, a)
            })
            .collect();
        v4.sort();
        v4.dedup();
        rules.push(rule(
            Proto::Tcp,
            AddrSet::any(),
            PortSet::any(),
            Direction::To,
            AddrSet { v4, v6: vec![] },
            PortSet::any(),
        ));
    }
    rules.push(rule(
        Proto::Ip,
        AddrSet::any(),
        PortSet::any(),
        Direction::To,
        AddrSet::any(),
        PortSet::any(),
    ));
    let start = std::time::Instant::now();
    let set = compiled(rules);
    eprintln!(
        "index over 1,000,000 addresses built in {:?}",
        start.elapsed()
    );
    let (ranges, sets) = set.index_size();
    // One boundary at each address and after it; the rule-id sets are shared.
    assert!(ranges <= 2_000_001, "{ranges}");
    assert!(sets <= 1002, "{sets}");
    let a = 7u32
        .wrapping_mul(1000)
        .wrapping_add(3)
        .wrapping_mul(2_654_435_761);
    let k = HeaderKey {
        ip_proto: 6,
        src: IpAddr::V4(Ipv4Addr::from(1)),
        dst: IpAddr::V4(Ipv4Addr::from(a)),
        sport: Some(1),
        dport: Some(2),
    };
    let mut out = Vec::new();
    set.header_candidates(&k, &mut out);
    assert_eq!(out, vec![3, 1000]);
}
