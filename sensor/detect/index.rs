//! The header index: per address family, sorted disjoint boundary ranges → interned rule-id
//! sets, so a packet costs two binary searches whatever the number of rules and addresses.
//!
//! Each rule is keyed on its more selective address side (the listed one; a `$HOME_NET` or
//! `any` side is verified afterwards with [`AddrSet::contains`]); rules whose both sides are
//! `any` sit in a small `broad` list. `<>` rules are keyed in both the source and destination
//! maps. Candidates are then verified in full (protocol, both addresses, ports, direction).
//! Rules with a content fast pattern are left out: the content prefilter finds them.
//! Building is O(n log n) in the number of ranges; identical rule-id sets are shared.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::rules::{AddrSet, Direction, Proto, Rule, RuleId};

/// The header fields of a packet the address/port index needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderKey {
    /// IP protocol number of the transport (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, …).
    pub ip_proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Ports only for unfragmented (or first-fragment) TCP/UDP with a decoded header.
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

impl HeaderKey {
    /// The key of a decoded packet.
    pub fn of(pkt: &crate::decode::Packet<'_>) -> HeaderKey {
        HeaderKey {
            ip_proto: pkt.ip_proto,
            src: pkt.src,
            dst: pkt.dst,
            sport: pkt.sport(),
            dport: pkt.dport(),
        }
    }
}

/// One family's map: `starts[i]..starts[i+1]` → `sets[ids[i]]`.
#[derive(Debug, Clone, Default)]
struct RangeMap<T> {
    starts: Vec<T>,
    ids: Vec<u32>,
}

impl<T: Copy + Ord> RangeMap<T> {
    fn lookup(&self, x: T) -> u32 {
        let i = self.starts.partition_point(|&s| s <= x);
        if i == 0 {
            0
        } else {
            self.ids[i - 1]
        }
    }
}

/// An IPv4 map with a first-level table over the top 16 bits: `buckets[p]` holds the number of
/// range starts below `p << 16` and the set in force at `p << 16`, so a lookup is one table
/// read — and nothing more when no range starts inside that /16, the common case for the
/// HOME_NET side of a packet — or a search among the few starts of that /16. Starts and set
/// ids sit side by side so the search and the answer share cache lines: with a million
/// listed entries, cache misses are the per-packet cost.
///
/// A large map also has `busy`, one bit per /24, set when some address of that /24 maps to a
/// non-empty rule-id set. A million single addresses spread over all of IPv4 put a few dozen
/// starts in every /16, and the table and the search then cost three to five cache misses a
/// lookup; the 2 MiB bitmap answers "no rule" for the 95 % of addresses in an unlisted /24
/// with one read (issue 12: 0.6× the 10-entry speed without it).
#[derive(Debug, Clone, Default)]
struct V4Map {
    map: RangeMap<u32>,
    buckets: Box<[(u32, u32)]>,
    pairs: Box<[(u32, u32)]>,
    busy: Box<[u64]>,
}

/// From this many starts on, the /16 table and the pairs outgrow the CPU caches: build `busy`.
const BUSY_MIN_STARTS: usize = 1 << 16;

/// `busy` has one bit per block of 2^BUSY_SHIFT addresses.
const BUSY_SHIFT: u32 = 8;

impl V4Map {
    fn new(map: RangeMap<u32>) -> V4Map {
        V4Map::with_filter(map, BUSY_MIN_STARTS)
    }

    /// `busy_min`: the number of starts from which the /24 bitmap is built.
    fn with_filter(map: RangeMap<u32>, busy_min: usize) -> V4Map {
        if map.starts.len() < 64 {
            return V4Map {
                map,
                buckets: Box::new([]),
                pairs: Box::new([]),
                busy: Box::new([]),
            };
        }
        let busy = if map.starts.len() >= busy_min {
            busy_bitmap(&map)
        } else {
            Box::new([])
        };
        let mut buckets = Vec::with_capacity(65_537);
        let mut i = 0usize;
        for p in 0..=65_536u64 {
            while i < map.starts.len() && u64::from(map.starts[i]) < p << 16 {
                i += 1;
            }
            // The set of the last range starting at or before p << 16.
            let at = p << 16;
            let in_force = map
                .starts
                .get(i)
                .filter(|&&s| u64::from(s) == at)
                .map(|_| map.ids[i])
                .or_else(|| i.checked_sub(1).map(|j| map.ids[j]))
                .unwrap_or(0);
            buckets.push((u32::try_from(i).unwrap_or(u32::MAX), in_force));
        }
        let pairs = map
            .starts
            .iter()
            .copied()
            .zip(map.ids.iter().copied())
            .collect();
        V4Map {
            map,
            buckets: buckets.into(),
            pairs,
            busy,
        }
    }

    /// Starts loading what [`V4Map::lookup`] of `x` reads first (large maps only).
    fn prefetch(&self, x: u32) {
        if let Some(w) = self.busy.get((x >> (BUSY_SHIFT + 6)) as usize) {
            super::prefetch::prefetch(w);
        }
        if !self.busy.is_empty() {
            if let Some(b) = self.buckets.get((x >> 16) as usize) {
                super::prefetch::prefetch(b);
            }
        }
    }

    fn lookup(&self, x: u32) -> u32 {
        if let Some(&w) = self.busy.get((x >> (BUSY_SHIFT + 6)) as usize) {
            if (w >> ((x >> BUSY_SHIFT) & 63)) & 1 == 0 {
                return 0;
            }
        }
        let p = (x >> 16) as usize;
        let (Some(&(lo, in_force)), Some(&(hi, _))) =
            (self.buckets.get(p), self.buckets.get(p + 1))
        else {
            return self.map.lookup(x);
        };
        let (lo, hi) = (lo as usize, hi as usize);
        let Some(starts) = self.pairs.get(lo..hi).filter(|s| !s.is_empty()) else {
            return in_force;
        };
        match starts.partition_point(|&(s, _)| s <= x) {
            0 => in_force,
            k => starts[k - 1].1,
        }
    }
}

/// One bit per /24 of `map`, set when some address in it maps to a non-empty set (set 0 is
/// the empty one); empty when more than half the /24s are busy, where it would filter little.
/// O(n + 2^18) in the number of starts.
fn busy_bitmap(map: &RangeMap<u32>) -> Box<[u64]> {
    let mut bits = vec![0u64; 1 << (32 - BUSY_SHIFT - 6)];
    let mut set = |lo: u32, hi: u32| {
        // /24 numbers lo..=hi.
        let (lo, hi) = (lo as usize, hi as usize);
        let (wl, wh) = (lo / 64, hi / 64);
        let (ml, mh) = (!0u64 << (lo % 64), !0u64 >> (63 - hi % 64));
        if wl == wh {
            if let Some(w) = bits.get_mut(wl) {
                *w |= ml & mh;
            }
            return;
        }
        if let Some(w) = bits.get_mut(wl) {
            *w |= ml;
        }
        for w in bits.get_mut(wl + 1..wh).unwrap_or_default() {
            *w = !0;
        }
        if let Some(w) = bits.get_mut(wh) {
            *w |= mh;
        }
    };
    for (i, (&start, &id)) in map.starts.iter().zip(&map.ids).enumerate() {
        if id == 0 {
            continue;
        }
        let last = map
            .starts
            .get(i + 1)
            .map_or(u32::MAX, |&next| next.saturating_sub(1));
        set(start >> BUSY_SHIFT, last >> BUSY_SHIFT);
    }
    let busy: u32 = bits.iter().map(|w| w.count_ones()).sum();
    if busy > 1 << (31 - BUSY_SHIFT) {
        return Box::new([]);
    }
    bits.into()
}

/// Sweep builder: events (position, rule, +1 start / -1 end).
struct Builder<T> {
    events: Vec<(T, bool, RuleId)>,
}

impl<T: Copy + Ord + std::hash::Hash> Builder<T> {
    fn new() -> Self {
        Builder { events: Vec::new() }
    }

    /// `end_next` is `None` when the range runs to the top of the family.
    fn add(&mut self, start: T, end_next: Option<T>, rule: RuleId) {
        self.events.push((start, true, rule));
        if let Some(e) = end_next {
            self.events.push((e, false, rule));
        }
    }

    fn build(mut self, interner: &mut Interner) -> RangeMap<T> {
        self.events.sort_unstable();
        let mut map = RangeMap {
            starts: Vec::new(),
            ids: Vec::new(),
        };
        // Sorted; a rule's ranges in one map are disjoint, so it is active at most once.
        let mut active: Vec<RuleId> = Vec::new();
        let mut i = 0;
        while i < self.events.len() {
            let pos = self.events[i].0;
            while i < self.events.len() && self.events[i].0 == pos {
                let (_, start, rule) = self.events[i];
                match (active.binary_search(&rule), start) {
                    (Err(at), true) => active.insert(at, rule),
                    (Ok(at), false) => {
                        active.remove(at);
                    }
                    _ => {}
                }
                i += 1;
            }
            let id = interner.intern(&active);
            if map.ids.last() != Some(&id) {
                map.starts.push(pos);
                map.ids.push(id);
            }
        }
        map.starts.shrink_to_fit();
        map.ids.shrink_to_fit();
        map
    }
}

#[derive(Default)]
struct Interner {
    sets: Vec<Box<[RuleId]>>,
    /// aHash: interning a million ranges is most of the compile time with SipHash.
    map: HashMap<Box<[RuleId]>, u32, ahash::RandomState>,
}

impl Interner {
    fn new() -> Self {
        let mut i = Interner::default();
        i.intern(&[]);
        i
    }

    fn intern(&mut self, s: &[RuleId]) -> u32 {
        if let Some(&id) = self.map.get(s) {
            return id;
        }
        let id = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
        self.sets.push(s.into());
        self.map.insert(s.into(), id);
        id
    }
}

/// The compiled index of a [`super::RuleSet`].
#[derive(Debug, Clone, Default)]
pub struct Index {
    src4: V4Map,
    src6: RangeMap<u128>,
    dst4: V4Map,
    dst6: RangeMap<u128>,
    /// Interned rule-id sets; set 0 is empty.
    sets: Vec<Box<[RuleId]>>,
    /// Rules with both sides `any`, ascending.
    broad: Box<[RuleId]>,
    /// The protocols of the rules keyed in the source and destination maps ([`proto_bit`]):
    /// a packet of another protocol skips that lookup, which could only find rules its
    /// header cannot match (a TCP list costs UDP traffic no cache miss).
    src_protos: u8,
    dst_protos: u8,
}

/// A rule protocol as a bit of [`Index::src_protos`]; `Proto::Ip` admits every packet.
fn proto_bit(p: Proto) -> u8 {
    match p {
        Proto::Ip => 1,
        Proto::Tcp => 2,
        Proto::Udp => 4,
        Proto::Icmp => 8,
    }
}

/// Whether a map holding rules of `protos` can hold a rule whose header matches a packet of
/// IP protocol `ip_proto` (the protocol test of [`header_matches`]).
fn admits(protos: u8, ip_proto: u8) -> bool {
    let bit = match ip_proto {
        6 => 2,
        17 => 4,
        1 | 58 => 8,
        _ => 0,
    };
    protos & (1 | bit) != 0
}

/// A share of the address space (both families weighted equally), for choosing a key side.
fn breadth(s: &AddrSet) -> f64 {
    let v4: f64 =
        s.v4.iter()
            .map(|&(a, b)| f64::from(b - a) + 1.0)
            .sum::<f64>()
            / 4_294_967_296.0;
    let v6: f64 =
        s.v6.iter().map(|&(a, b)| (b - a) as f64 + 1.0).sum::<f64>() / 3.402_823_669_209_385e38;
    v4 + v6
}

/// Which side to key a rule on. Every packet a sensor sees has a `$HOME_NET` address on one
/// side, so keying on HOME_NET makes the rule a candidate for most packets; the listed side
/// (many explicit entries) is the selective one even when HOME_NET is narrower in address
/// space than a list of large CIDRs. Hence: a side with four times the ranges of the other is
/// the key; otherwise the narrower side.
fn src_is_key(src: &AddrSet, dst: &AddrSet) -> bool {
    let ranges = |s: &AddrSet| s.v4.len() + s.v6.len();
    let (rs, rd) = (ranges(src), ranges(dst));
    if rs >= 4 * rd.max(1) {
        true
    } else if rd >= 4 * rs.max(1) {
        false
    } else {
        breadth(src) <= breadth(dst)
    }
}

fn add_set(b4: &mut Builder<u32>, b6: &mut Builder<u128>, s: &AddrSet, id: RuleId) {
    for &(a, e) in &s.v4 {
        b4.add(a, e.checked_add(1), id);
    }
    for &(a, e) in &s.v6 {
        b6.add(a, e.checked_add(1), id);
    }
}

impl Index {
    /// Builds the index over `rules`. O(n log n) in the total number of ranges.
    pub fn build(rules: &[Rule]) -> Index {
        let mut interner = Interner::new();
        let (mut s4, mut s6, mut d4, mut d6) = (
            Builder::new(),
            Builder::new(),
            Builder::new(),
            Builder::new(),
        );
        let mut broad = Vec::new();
        let (mut src_protos, mut dst_protos) = (0u8, 0u8);
        for (i, r) in rules.iter().enumerate() {
            let Ok(id) = RuleId::try_from(i) else { break };
            if r.fast_pattern().is_some() {
                // Found by a content prefilter (`detect::content`: the payload's, or an HTTP
                // buffer's on rebuilt messages), not by address.
                continue;
            }
            if r.src.is_any() && r.dst.is_any() {
                broad.push(id);
                continue;
            }
            let src_side = !r.src.is_any() && (r.dst.is_any() || src_is_key(&r.src, &r.dst));
            let key = if src_side { &r.src } else { &r.dst };
            let bit = proto_bit(r.proto);
            match r.direction {
                Direction::To if src_side => {
                    add_set(&mut s4, &mut s6, key, id);
                    src_protos |= bit;
                }
                Direction::To => {
                    add_set(&mut d4, &mut d6, key, id);
                    dst_protos |= bit;
                }
                Direction::Both => {
                    // Either packet address may fall in the keyed side.
                    add_set(&mut s4, &mut s6, key, id);
                    add_set(&mut d4, &mut d6, key, id);
                    src_protos |= bit;
                    dst_protos |= bit;
                }
            }
        }
        let src4 = V4Map::new(s4.build(&mut interner));
        let src6 = s6.build(&mut interner);
        let dst4 = V4Map::new(d4.build(&mut interner));
        let dst6 = d6.build(&mut interner);
        Index {
            src4,
            src6,
            dst4,
            dst6,
            sets: interner.sets,
            broad: broad.into(),
            src_protos,
            dst_protos,
        }
    }

    /// Number of boundary ranges and distinct rule-id sets (for tests and stats).
    pub fn size(&self) -> (usize, usize) {
        let ranges = self.src4.map.starts.len()
            + self.src6.starts.len()
            + self.dst4.map.starts.len()
            + self.dst6.starts.len();
        (ranges, self.sets.len())
    }

    /// Whether [`Index::prefetch_v4`] does anything: only a large IPv4 map has lines worth
    /// loading early.
    pub fn prefetches(&self) -> bool {
        !self.src4.busy.is_empty() || !self.dst4.busy.is_empty()
    }

    /// Starts loading the cache lines a lookup of these IPv4 addresses reads first, so that a
    /// miss overlaps the work done before the lookup (see `detect::prefetch`).
    pub fn prefetch_v4(&self, src: u32, dst: u32) {
        self.src4.prefetch(src);
        self.dst4.prefetch(dst);
    }

    /// Writes the matching rule ids to `out` (cleared first), ascending and unique.
    pub fn candidates(&self, rules: &[Rule], key: &HeaderKey, out: &mut Vec<RuleId>) {
        out.clear();
        let a = match key.src {
            _ if !admits(self.src_protos, key.ip_proto) => 0,
            IpAddr::V4(s) => self.src4.lookup(u32::from(s)),
            IpAddr::V6(s) => self.src6.lookup(u128::from(s)),
        };
        let b = match key.dst {
            _ if !admits(self.dst_protos, key.ip_proto) => 0,
            IpAddr::V4(d) => self.dst4.lookup(u32::from(d)),
            IpAddr::V6(d) => self.dst6.lookup(u128::from(d)),
        };
        let lists: [&[RuleId]; 3] = [
            self.sets.get(a as usize).map_or(&[], |s| &s[..]),
            self.sets.get(b as usize).map_or(&[], |s| &s[..]),
            &self.broad,
        ];
        let mut pos = [0usize; 3];
        loop {
            // Smallest head of the three sorted lists.
            let mut next: Option<RuleId> = None;
            for (l, &p) in lists.iter().zip(pos.iter()) {
                if let Some(&v) = l.get(p) {
                    next = Some(next.map_or(v, |n: RuleId| n.min(v)));
                }
            }
            let Some(id) = next else { break };
            for (l, p) in lists.iter().zip(pos.iter_mut()) {
                if l.get(*p) == Some(&id) {
                    *p += 1;
                }
            }
            if let Some(r) = rules.get(id as usize) {
                if header_matches(r, key) {
                    out.push(id);
                }
            }
        }
    }
}

/// Whether `rule`'s header matches `key` (protocol, addresses, ports, direction). The
/// reference every index answer must agree with.
pub fn header_matches(rule: &Rule, key: &HeaderKey) -> bool {
    let ported = match rule.proto {
        Proto::Ip => false,
        Proto::Tcp => {
            if key.ip_proto != 6 {
                return false;
            }
            true
        }
        Proto::Udp => {
            if key.ip_proto != 17 {
                return false;
            }
            true
        }
        Proto::Icmp => {
            if key.ip_proto != 1 && key.ip_proto != 58 {
                return false;
            }
            false
        }
    };
    let forward = |src: &IpAddr, dst: &IpAddr, sp: Option<u16>, dp: Option<u16>| -> bool {
        if !rule.src.contains(src) || !rule.dst.contains(dst) {
            return false;
        }
        if ported {
            match (sp, dp) {
                (Some(s), Some(d)) => rule.src_ports.contains(s) && rule.dst_ports.contains(d),
                _ => false,
            }
        } else {
            true
        }
    };
    forward(&key.src, &key.dst, key.sport, key.dport)
        || (rule.direction == Direction::Both && forward(&key.dst, &key.src, key.dport, key.sport))
}

#[cfg(test)]
mod v4_tests {
    use super::*;

    /// The /16 table answers exactly like the plain binary search, at range edges too.
    #[test]
    fn bucketed_lookup_agrees_with_binary_search() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u32
        };
        let mut starts: Vec<u32> = (0..5_000).map(|_| next()).collect();
        starts.extend([0, 1, 0xffff, 0x10000, 0xffff_0000, u32::MAX]);
        starts.sort_unstable();
        starts.dedup();
        let ids: Vec<u32> = (1..=starts.len() as u32).collect();
        let plain = RangeMap {
            starts: starts.clone(),
            ids,
        };
        let v4 = V4Map::new(plain.clone());
        assert!(!v4.buckets.is_empty());
        let mut probes: Vec<u32> = (0..20_000).map(|_| next()).collect();
        for &s in &starts {
            probes.extend([s, s.wrapping_sub(1), s.wrapping_add(1)]);
        }
        for p in probes {
            assert_eq!(v4.lookup(p), plain.lookup(p), "{p:#010x}");
        }
    }

    /// The /24 bitmap never hides a non-empty set: ranges from one address to a /12, empty
    /// gaps between them, dense /16s and the top of the space.
    #[test]
    fn busy_bitmap_agrees_with_binary_search() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut starts: Vec<u32> = Vec::new();
        for _ in 0..3_000 {
            let r = next();
            let a = r as u32;
            let len = match (r >> 32) % 4 {
                0 => 1,
                1 => 1 << ((r >> 40) % 9),
                2 => 1 << ((r >> 40) % 21),
                _ => 1 + (r >> 40) as u32 % 700,
            };
            starts.extend([a, a.saturating_add(len)]);
        }
        // A dense /16: a hundred single addresses.
        starts.extend((0..200u32).map(|i| 0x0a0b_0000 + i * 300));
        starts.extend([0xffff_ff00, u32::MAX]);
        starts.sort_unstable();
        starts.dedup();
        // Sets alternate between empty (0) and not, as listed addresses and gaps do.
        let ids: Vec<u32> = (0..starts.len() as u32)
            .map(|i| if i % 2 == 0 { 1 + i % 7 } else { 0 })
            .collect();
        let plain = RangeMap {
            starts: starts.clone(),
            ids,
        };
        let v4 = V4Map::with_filter(plain.clone(), 0);
        assert_eq!(v4.busy.len(), 1 << (32 - BUSY_SHIFT - 6));
        let mut probes: Vec<u32> = (0..50_000).map(|_| next() as u32).collect();
        for &s in &starts {
            probes.extend([s, s.wrapping_sub(1), s.wrapping_add(1), s | 0xff, s & !0xff]);
        }
        for p in probes {
            assert_eq!(v4.lookup(p), plain.lookup(p), "{p:#010x}");
        }
    }
}
