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
        payload: Vec::new(),
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

/// A big list rule set: `rules` rules of `per_rule` entries each, single addresses and CIDRs
/// spread over all of IPv4 with a few dense /16s (hundreds of starts in one bucket), IPv6
/// addresses, mixed protocols and directions. Enough starts for the /24 bitmap (65,536).
fn big_lists(seed: u64, rules: usize, per_rule: usize) -> (Vec<Rule>, Vec<IpAddr>) {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut listed = Vec::new();
    let mut out = Vec::new();
    for i in 0..rules {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for _ in 0..per_rule {
            let r = next();
            let a = match r % 10 {
                0..=2 => 0x0a0b_0000 | (r >> 20) as u32 & 0x0001_ffff, // dense 10.11-12/16
                _ => (r >> 20) as u32,
            };
            match (r >> 8) % 10 {
                0 => {
                    let plen = 24 + (r >> 12) as u32 % 5;
                    let base = a & !((1u32 << (32 - plen)) - 1);
                    v4.push((base, base + ((1u32 << (32 - plen)) - 1)));
                }
                1 => {
                    let b = u128::from(next()) << 64 | u128::from(next());
                    v6.push((b, b + u128::from(r >> 60)));
                    listed.push(IpAddr::V6(Ipv6Addr::from(b)));
                    continue;
                }
                _ => v4.push((a, a)),
            }
            listed.push(IpAddr::V4(Ipv4Addr::from(a)));
        }
        let norm = |mut v: Vec<(u32, u32)>| {
            v.sort();
            let mut m: Vec<(u32, u32)> = Vec::new();
            for (a, b) in v {
                match m.last_mut() {
                    Some(l) if a <= l.1.saturating_add(1) => l.1 = l.1.max(b),
                    _ => m.push((a, b)),
                }
            }
            m
        };
        v6.sort();
        v6.dedup_by(|b, a| b.0 <= a.1);
        let list = AddrSet { v4: norm(v4), v6 };
        let home = AddrSet {
            v4: vec![(0xc0a8_0000, 0xc0a8_ffff)],
            v6: vec![],
        };
        let proto = [Proto::Tcp, Proto::Udp, Proto::Ip, Proto::Icmp][i % 4];
        let dir = if i % 3 == 0 {
            Direction::Both
        } else {
            Direction::To
        };
        let r = if i % 2 == 0 {
            rule(proto, home, PortSet::any(), dir, list, PortSet::any())
        } else {
            rule(proto, list, PortSet::any(), dir, home, PortSet::any())
        };
        out.push(r);
    }
    (out, listed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]
    /// The million-entry structures (the /24 bitmap, dense /16 buckets, IPv6 and the
    /// per-protocol skip) agree with the naive scan at listed addresses, next to them and
    /// anywhere.
    #[test]
    fn big_index_agrees_with_naive_scan(seed in any::<u64>(), picks in prop::collection::vec((any::<prop::sample::Index>(), 0u8..6, any::<u32>(), 0u8..5, any::<bool>()), 200)) {
        let (rules, listed) = big_lists(seed, 40, 4_000);
        let set = compiled(rules);
        prop_assert!(set.index_size().0 >= 65_536);
        let mut out = Vec::new();
        for (pick, near, rnd, proto, inbound) in picks {
            let a = *pick.get(&listed);
            let a = match (a, near) {
                (IpAddr::V4(v), 0) => IpAddr::V4(Ipv4Addr::from(u32::from(v).wrapping_sub(1))),
                (IpAddr::V4(v), 1) => IpAddr::V4(Ipv4Addr::from(u32::from(v).wrapping_add(1))),
                (IpAddr::V4(v), 2) => IpAddr::V4(Ipv4Addr::from(u32::from(v) ^ (rnd & 0xff))),
                (IpAddr::V6(v), 0 | 1) => IpAddr::V6(Ipv6Addr::from(u128::from(v).wrapping_add(u128::from(near)))),
                (_, 3) => IpAddr::V4(Ipv4Addr::from(rnd)),
                (_, 4) => IpAddr::V4(Ipv4Addr::from(0x0a0b_0000 | rnd & 0x0001_ffff)),
                (a, _) => a,
            };
            let home = IpAddr::V4(Ipv4Addr::from(0xc0a8_0000 | rnd & 0xffff));
            let (src, dst) = if inbound { (a, home) } else { (home, a) };
            let ip_proto = [6u8, 17, 1, 58, 47][proto as usize];
            let ported = matches!(ip_proto, 6 | 17);
            let k = HeaderKey { ip_proto, src, dst, sport: ported.then_some(1), dport: ported.then_some(2) };
            set.header_candidates(&k, &mut out);
            prop_assert_eq!(&out, &naive(set.rules(), &k), "{:?}", k);
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
