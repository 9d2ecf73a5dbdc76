//! The content prefilter: each content rule's fast pattern in one Aho–Corasick automaton per
//! protocol and port group, so a packet's payload is scanned once per group that applies to it
//! and only the rules whose fast pattern occurred become candidates.
//!
//! Built once per [`RuleSet`](super::RuleSet) (immutable, swapped whole on reload);
//! the per-packet state is a [`Scratch`] owned by the engine. Confirming a candidate (header,
//! every content with its modifiers, flow, flowbits) is the engine's job; this module only
//! answers "which rules could match this payload". The answer is a superset: a rule whose fast
//! pattern does not occur in the payload cannot match, because every non-negated content must
//! occur whole in the payload (sp_pattern_match.c), whatever its window.
//!
//! Groups follow Snort 2.9's port groups (fpcreate.c): per protocol (`tcp`, `udp`, `icmp`,
//! `ip`), and for TCP/UDP by the rule's destination ports when they are few, else by its
//! source ports when those are few, else the protocol's any-port group. A packet scans the
//! groups of its destination port, its source port, its protocol's any-port group and the `ip`
//! group. Each group has one automaton matching ASCII case-insensitively: a case-sensitive
//! pattern found in another case is a false candidate that confirmation (which compares
//! exactly) rejects, and one scan per group instead of two halves the prefilter's cost.
//!
//! # Resource usage
//! What goes into an automaton is bounded whatever the rules say: a fast pattern is keyed on
//! its first [`MAX_FAST_PATTERN_LEN`] bytes (Snort 2.9 fpcreate.c `fpGetFinalPattern` truncates
//! the fast pattern to `max-pattern-len` the same way; the prefix occurring is still necessary
//! for the whole pattern to occur, so the answer stays a superset), and a group becomes a DFA
//! only while its patterns hold at most [`MAX_DFA_BYTES`] bytes, else it stays a contiguous
//! NFA. A DFA's build time and memory grow with states × byte classes, so one 64 KB content or
//! thousands of 1 KB contents made the build quadratic (seconds, hundreds of MB); now both are
//! bounded by these two constants ([`Prefilter::memory_usage`] reports the automata's heap).

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::HeaderKey;
use crate::rules::{Buffer, Content, Direction, PortSet, Proto, Rule, RuleId};

/// The buffers a prefilter scans, by where rules' fast patterns live (Snort 2.9 fpcreate.c
/// keeps one pattern group per buffer kind: packet/`file_data`, URI, header, client body).
/// HTTP fast patterns are searched only in their own buffer, only on rebuilt HTTP messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FpClass {
    /// The payload, or `file_data` (the payload of a raw packet, the body of a response).
    Payload,
    Uri,
    Header,
    ClientBody,
}

impl FpClass {
    pub const ALL: [FpClass; 4] = [
        FpClass::Payload,
        FpClass::Uri,
        FpClass::Header,
        FpClass::ClientBody,
    ];

    /// The class a fast pattern of buffer `b` belongs to (`None`: not a fast-pattern buffer).
    pub fn of(b: Buffer) -> Option<FpClass> {
        match b {
            Buffer::Pkt | Buffer::FileData => Some(FpClass::Payload),
            Buffer::Uri => Some(FpClass::Uri),
            Buffer::Header => Some(FpClass::Header),
            Buffer::ClientBody => Some(FpClass::ClientBody),
            _ => None,
        }
    }

    /// The rule's fast pattern if it lives in this class's buffers.
    fn select(self, rule: &Rule) -> Option<&Content> {
        rule.fast_pattern()
            .filter(|c| FpClass::of(c.buffer) == Some(self))
    }
}

/// Rules with at most this many ports on a side go into each of those ports' groups.
const MAX_GROUP_PORTS: u32 = 64;

/// One automaton and, per pattern id, the rules keyed on that pattern (ascending).
#[derive(Debug, Clone)]
struct Automaton {
    ac: AhoCorasick,
    rules: Vec<Box<[RuleId]>>,
}

/// One port group: its patterns, lowercased, matched case-insensitively.
#[derive(Debug, Clone, Default)]
struct Group {
    nocase: Option<Automaton>,
}

/// Up to this many patterns an automaton is a full DFA (fastest scan, more memory).
const MAX_DFA_PATTERNS: usize = 5_000;

/// Bytes of a fast pattern keyed in the automaton: the rest is confirmed by the engine.
pub const MAX_FAST_PATTERN_LEN: usize = 32;

/// Up to this many pattern bytes (about the NFA's state count) a group is a DFA; past it, a
/// contiguous NFA (slower scan, memory linear in the patterns).
pub const MAX_DFA_BYTES: usize = 16 * 1024;

/// The groups of one protocol class.
#[derive(Debug, Clone, Default)]
struct ProtoGroups {
    any: Option<u32>,
    /// Sorted by port.
    by_dst: Vec<(u16, u32)>,
    by_src: Vec<(u16, u32)>,
}

fn port_group(map: &[(u16, u32)], port: Option<u16>) -> Option<u32> {
    let p = port?;
    map.binary_search_by_key(&p, |&(k, _)| k)
        .ok()
        .map(|i| map[i].1)
}

const TCP: usize = 0;
const UDP: usize = 1;
const ICMP: usize = 2;
const IP: usize = 3;

/// The compiled prefilter of a rule set.
#[derive(Debug, Clone, Default)]
pub struct Prefilter {
    /// Number of rules it was built for; a mismatch means "not built".
    built_for: Option<usize>,
    groups: Vec<Group>,
    classes: [ProtoGroups; 4],
    /// Rules with a fast pattern whose automaton could not be built: always candidates.
    unfiltered: Box<[RuleId]>,
    /// The largest pattern count of one automaton, for sizing [`Scratch`].
    max_patterns: usize,
    /// Rules keyed in the prefilter.
    keyed: usize,
}

/// Per-packet scratch of the prefilter, owned by the engine and sized by
/// [`Prefilter::scratch`] (or [`Scratch::fit`]) once per rule set: scanning allocates nothing.
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    rule_bits: Vec<u64>,
    touched: Vec<RuleId>,
    pattern_bits: Vec<u64>,
    patterns: Vec<u32>,
}

impl Scratch {
    /// Grows the buffers for `p` (never shrinks), so that [`Prefilter::scan`] does not.
    pub fn fit(&mut self, p: &Prefilter) {
        let n = p.built_for.unwrap_or(0);
        let words = n.div_ceil(64);
        if self.rule_bits.len() < words {
            self.rule_bits.resize(words, 0);
        }
        let want = p.keyed + p.unfiltered.len();
        self.touched
            .reserve(want.saturating_sub(self.touched.len()));
        let pw = p.max_patterns.div_ceil(64);
        if self.pattern_bits.len() < pw {
            self.pattern_bits.resize(pw, 0);
        }
        self.patterns
            .reserve(p.max_patterns.saturating_sub(self.patterns.len()));
    }

    /// The candidates of the last [`Prefilter::scan`], ascending and unique.
    pub fn candidates(&self) -> &[RuleId] {
        &self.touched
    }
}

/// Where a rule goes: its protocol class, and port keys (`None`: the any-port group).
fn placement(rule: &Rule) -> (usize, Vec<(bool, u16)>) {
    let class = match rule.proto {
        Proto::Tcp => TCP,
        Proto::Udp => UDP,
        Proto::Icmp => return (ICMP, Vec::new()),
        Proto::Ip => return (IP, Vec::new()),
    };
    let few = |p: &PortSet| -> Option<Vec<u16>> {
        if p.is_any() {
            return None;
        }
        let n: u32 = p
            .ranges
            .iter()
            .map(|&(a, b)| u32::from(b) - u32::from(a) + 1)
            .sum();
        (n <= MAX_GROUP_PORTS).then(|| p.ranges.iter().flat_map(|&(a, b)| a..=b).collect())
    };
    // (is_dst_map, port)
    let mut keys = Vec::new();
    let (ports, dst_side) = match (few(&rule.dst_ports), few(&rule.src_ports)) {
        (Some(d), _) => (d, true),
        (None, Some(s)) => (s, false),
        (None, None) => return (class, keys),
    };
    for p in ports {
        keys.push((dst_side, p));
        if rule.direction == Direction::Both {
            // The reversed packet carries this port on the other side.
            keys.push((!dst_side, p));
        }
    }
    (class, keys)
}

/// A group's patterns while building: lowercased pattern → rules.
#[derive(Default)]
struct GroupBuilder {
    patterns: HashMap<Vec<u8>, Vec<RuleId>>,
}

fn build_automaton(
    mut pats: Vec<(Vec<u8>, Vec<RuleId>)>,
    nocase: bool,
    unfiltered: &mut Vec<RuleId>,
) -> Option<Automaton> {
    if pats.is_empty() {
        return None;
    }
    pats.sort();
    let bytes: usize = pats.iter().map(|(p, _)| p.len()).sum();
    let kind = if pats.len() <= MAX_DFA_PATTERNS && bytes <= MAX_DFA_BYTES {
        AhoCorasickKind::DFA
    } else {
        AhoCorasickKind::ContiguousNFA
    };
    let kind = Some(kind);
    let built = AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .ascii_case_insensitive(nocase)
        .kind(kind)
        .build(pats.iter().map(|(p, _)| p));
    match built {
        Ok(ac) => Some(Automaton {
            ac,
            rules: pats
                .into_iter()
                .map(|(_, r)| r.into_boxed_slice())
                .collect(),
        }),
        Err(_) => {
            // Too large for one automaton: keep the rules correct, unfiltered.
            unfiltered.extend(pats.into_iter().flat_map(|(_, r)| r));
            None
        }
    }
}

impl Prefilter {
    /// Builds the payload prefilter over `rules`: every rule whose [`Rule::fast_pattern`] lies
    /// in the packet payload or `file_data` is keyed.
    pub fn build(rules: &[Rule]) -> Prefilter {
        Prefilter::build_class(rules, FpClass::Payload)
    }

    /// Builds the prefilter of one buffer class: the rules whose fast pattern lies there.
    pub fn build_class(rules: &[Rule], class_of_buffers: FpClass) -> Prefilter {
        let mut builders: Vec<GroupBuilder> = Vec::new();
        let mut classes: [ProtoGroups; 4] = Default::default();
        let mut by_dst: [HashMap<u16, u32>; 4] = Default::default();
        let mut by_src: [HashMap<u16, u32>; 4] = Default::default();
        let mut keyed = 0;
        for (i, r) in rules.iter().enumerate() {
            let Ok(id) = RuleId::try_from(i) else { break };
            let Some(fp) = class_of_buffers.select(r) else {
                continue;
            };
            keyed += 1;
            let prefix = &fp.pattern[..fp.pattern.len().min(MAX_FAST_PATTERN_LEN)];
            let key = prefix.to_ascii_lowercase();
            let (class, ports) = placement(r);
            let mut new_group = || {
                builders.push(GroupBuilder::default());
                u32::try_from(builders.len() - 1).unwrap_or(u32::MAX)
            };
            let mut groups: Vec<u32> = Vec::new();
            if ports.is_empty() {
                let g = *classes[class].any.get_or_insert_with(&mut new_group);
                groups.push(g);
            }
            for (dst, p) in ports {
                let map = if dst {
                    &mut by_dst[class]
                } else {
                    &mut by_src[class]
                };
                groups.push(*map.entry(p).or_insert_with(&mut new_group));
            }
            for g in groups {
                let list = builders[g as usize]
                    .patterns
                    .entry(key.clone())
                    .or_default();
                if list.last() != Some(&id) {
                    list.push(id);
                }
            }
        }
        for (c, pg) in classes.iter_mut().enumerate() {
            pg.by_dst = by_dst[c].iter().map(|(&p, &g)| (p, g)).collect();
            pg.by_dst.sort_unstable();
            pg.by_src = by_src[c].iter().map(|(&p, &g)| (p, g)).collect();
            pg.by_src.sort_unstable();
        }
        let mut unfiltered = Vec::new();
        let mut max_patterns = 0;
        let groups = builders
            .into_iter()
            .map(|b| {
                let nocase: Vec<(Vec<u8>, Vec<RuleId>)> = b.patterns.into_iter().collect();
                max_patterns = max_patterns.max(nocase.len());
                Group {
                    nocase: build_automaton(nocase, true, &mut unfiltered),
                }
            })
            .collect();
        unfiltered.sort_unstable();
        unfiltered.dedup();
        Prefilter {
            built_for: Some(rules.len()),
            groups,
            classes,
            unfiltered: unfiltered.into(),
            max_patterns,
            keyed,
        }
    }

    /// No rule keyed and none unfiltered: a scan finds nothing (an IP-list set).
    pub fn is_empty(&self) -> bool {
        self.keyed == 0 && self.unfiltered.is_empty()
    }

    pub fn is_built_for(&self, n: usize) -> bool {
        self.built_for == Some(n)
    }

    /// Number of rules keyed on a fast pattern, and of automata.
    pub fn size(&self) -> (usize, usize) {
        let automata = self
            .groups
            .iter()
            .map(|g| usize::from(g.nocase.is_some()))
            .sum();
        (self.keyed, automata)
    }

    /// Heap bytes held by the automata (aho-corasick's `memory_usage`), not counting the
    /// rule lists.
    pub fn memory_usage(&self) -> usize {
        self.groups
            .iter()
            .filter_map(|g| g.nocase.as_ref())
            .map(|a| a.ac.memory_usage())
            .sum()
    }

    /// A scratch sized for this prefilter.
    pub fn scratch(&self) -> Scratch {
        let mut s = Scratch::default();
        s.fit(self);
        s
    }

    /// Scans `payload` with every automaton that applies to a packet with header `key`; the
    /// rules whose fast pattern occurred are then in [`Scratch::candidates`], ascending. Their
    /// headers are not checked here. Allocates nothing once `scratch` fits this prefilter.
    pub fn scan(&self, key: &HeaderKey, payload: &[u8], scratch: &mut Scratch) {
        scratch.touched.clear();
        self.scan_also(key, payload, scratch);
    }

    /// As [`Prefilter::scan`], but keeps the candidates already in `scratch` (from a scan of
    /// another buffer with this or another prefilter): the answer is their union, ascending.
    pub fn scan_also(&self, key: &HeaderKey, payload: &[u8], scratch: &mut Scratch) {
        if payload.is_empty() || self.built_for.is_none() || self.is_empty() {
            return;
        }
        scratch.fit(self);
        for &id in &scratch.touched {
            if let Some(w) = scratch.rule_bits.get_mut(id as usize / 64) {
                *w |= 1u64 << (id % 64);
            }
        }
        let class = match key.ip_proto {
            6 => Some(TCP),
            17 => Some(UDP),
            1 | 58 => Some(ICMP),
            _ => None,
        };
        let mut visit = [None; 4];
        if let Some(c) = class {
            let pg = &self.classes[c];
            visit[0] = pg.any;
            if c == TCP || c == UDP {
                visit[1] = port_group(&pg.by_dst, key.dport);
                visit[2] = port_group(&pg.by_src, key.sport);
            }
        }
        visit[3] = self.classes[IP].any;
        for g in visit.into_iter().flatten() {
            let Some(group) = self.groups.get(g as usize) else {
                continue;
            };
            if let Some(a) = &group.nocase {
                scan_one(a, payload, scratch);
            }
        }
        for &id in self.unfiltered.iter() {
            mark(&mut scratch.rule_bits, &mut scratch.touched, id);
        }
        // Reset the rule bits for the next packet, then order the answer.
        for &id in &scratch.touched {
            if let Some(w) = scratch.rule_bits.get_mut(id as usize / 64) {
                *w = 0;
            }
        }
        scratch.touched.sort_unstable();
    }
}

fn mark(bits: &mut [u64], touched: &mut Vec<RuleId>, id: RuleId) {
    let (w, b) = (id as usize / 64, 1u64 << (id % 64));
    if let Some(word) = bits.get_mut(w) {
        if *word & b == 0 {
            *word |= b;
            touched.push(id);
        }
    }
}

/// One automaton over the payload; each pattern's rules are marked at its first occurrence.
fn scan_one(a: &Automaton, payload: &[u8], s: &mut Scratch) {
    s.patterns.clear();
    for m in a.ac.find_overlapping_iter(payload) {
        let p = m.pattern().as_u32();
        let (w, b) = (p as usize / 64, 1u64 << (p % 64));
        let Some(word) = s.pattern_bits.get_mut(w) else {
            continue;
        };
        if *word & b != 0 {
            continue;
        }
        *word |= b;
        s.patterns.push(p);
        if let Some(rules) = a.rules.get(p as usize) {
            for &id in rules.iter() {
                mark(&mut s.rule_bits, &mut s.touched, id);
            }
        }
    }
    for &p in &s.patterns {
        if let Some(w) = s.pattern_bits.get_mut(p as usize / 64) {
            *w = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::load::load_text;
    use crate::rules::LoadOptions;
    use std::fmt::Write;
    use std::path::Path;

    /// `alert tcp` rules, one per pattern, each keyed on its only content.
    fn prefilter(patterns: &[Vec<u8>]) -> Prefilter {
        let mut text = String::new();
        for (i, p) in patterns.iter().enumerate() {
            text.push_str("alert tcp any any -> any any (content:\"|");
            for b in p {
                let _ = write!(text, "{b:02x}");
            }
            let _ = writeln!(text, "|\"; sid:{};)", i + 1);
        }
        let r = load_text(Path::new("t.rules"), &text, &LoadOptions::default());
        assert_eq!(r.errors().count(), 0);
        assert_eq!(r.model.rules.len(), patterns.len());
        Prefilter::build(&r.model.rules)
    }

    /// `len` bytes that use every byte value (the worst case for a DFA's byte classes).
    fn spread(len: usize, seed: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i.wrapping_mul(151) + seed.wrapping_mul(97)) % 256) as u8)
            .collect()
    }

    /// Regression: one 64 KB content was a 64 K-state DFA (15 s to build, hundreds of MB for
    /// many long contents). What goes into the automaton no longer grows with the content.
    #[test]
    fn long_contents_keep_the_automaton_bounded() {
        for len in [4 * 1024, 64 * 1024] {
            let p = prefilter(&[spread(len, 0)]);
            assert!(
                p.memory_usage() < 64 * 1024,
                "one {len}-byte content: {} bytes of automaton",
                p.memory_usage()
            );
        }
        // 2,000 rules with 1 KB contents: bounded by the prefix length and the DFA budget.
        let pats: Vec<Vec<u8>> = (0..2000).map(|i| spread(1024, i)).collect();
        let p = prefilter(&pats);
        assert!(
            p.memory_usage() < 16 * 1024 * 1024,
            "2000 × 1 KB contents: {} bytes of automaton",
            p.memory_usage()
        );
    }

    /// The truncated key still finds the rule (the prefix occurs), and the engine's
    /// confirmation is what rejects a payload holding only the prefix.
    #[test]
    fn truncated_fast_pattern_still_finds_its_rule() {
        let long = spread(100, 3);
        let p = prefilter(std::slice::from_ref(&long));
        let key = HeaderKey {
            ip_proto: 6,
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            sport: Some(1),
            dport: Some(2),
        };
        let mut s = p.scratch();
        let mut payload = b"xx".to_vec();
        payload.extend_from_slice(&long);
        p.scan(&key, &payload, &mut s);
        assert_eq!(s.candidates(), &[0]);
        p.scan(&key, &long[..MAX_FAST_PATTERN_LEN], &mut s);
        assert_eq!(
            s.candidates(),
            &[0],
            "the prefix alone is a (false) candidate"
        );
        p.scan(&key, &long[1..], &mut s);
        assert!(s.candidates().is_empty());
    }
}
