//! Tier-2 tests on one packet: header fields (`dsize`, `ttl`, `itype`, `fragbits`, …) and
//! `content` with its modifiers. Pure functions over the decoded packet; no state, no
//! allocation.
//!
//! Content semantics follow Snort 2.9 (sp_pattern_match.c): an absolute content is searched in
//! `[offset, offset + depth)`; a relative one (`distance`/`within`) in
//! `[prev_end + distance, prev_end + distance + within)`; the whole pattern must lie inside the
//! window. When a later relative content fails, the earlier one is retried at its next
//! occurrence (Snort's recursive re-evaluation). A negated content must not occur in its
//! window and does not move the cursor.

use crate::decode::{Packet, Transport};
use crate::rules::{Cmp, Content, FlagsModifier, HeaderTest};

/// Bound on the retries of earlier contents, like Snort's `pattern_match_limit`-style guard
/// against pathological backtracking.
const MAX_RETRIES: u32 = 10_000;

/// True when every header test holds.
pub fn header_tests_match(tests: &[HeaderTest], pkt: &Packet<'_>) -> bool {
    tests.iter().all(|t| header_test(t, pkt))
}

fn header_test(test: &HeaderTest, pkt: &Packet<'_>) -> bool {
    let icmp = match pkt.transport {
        Transport::Icmp {
            itype,
            icode,
            id,
            seq,
        }
        | Transport::Icmpv6 {
            itype,
            icode,
            id,
            seq,
        } => Some((itype, icode, id, seq)),
        _ => None,
    };
    let tcp = match pkt.transport {
        Transport::Tcp {
            seq, ack, window, ..
        } => Some((seq, ack, window)),
        _ => None,
    };
    match *test {
        HeaderTest::Dsize(c) => cmp(c, u32::try_from(pkt.payload.len()).unwrap_or(u32::MAX)),
        HeaderTest::IpProto(c) => cmp(c, u32::from(pkt.ip_proto)),
        HeaderTest::Ttl(c) => cmp(c, u32::from(pkt.ttl)),
        HeaderTest::Tos(c) => cmp(c, u32::from(pkt.tos)),
        HeaderTest::Id(c) => cmp(c, pkt.ip_id),
        HeaderTest::Itype(c) => icmp.is_some_and(|(t, ..)| cmp(c, u32::from(t))),
        HeaderTest::Icode(c) => icmp.is_some_and(|(_, code, ..)| cmp(c, u32::from(code))),
        HeaderTest::IcmpId(c) => icmp.is_some_and(|(_, _, id, _)| cmp(c, u32::from(id))),
        HeaderTest::IcmpSeq(c) => icmp.is_some_and(|(.., seq)| cmp(c, u32::from(seq))),
        HeaderTest::Window(c) => tcp.is_some_and(|(.., w)| cmp(c, u32::from(w))),
        HeaderTest::Seq(c) => tcp.is_some_and(|(s, ..)| cmp(c, s)),
        HeaderTest::Ack(c) => tcp.is_some_and(|(_, a, _)| cmp(c, a)),
        HeaderTest::SameIp => pkt.src == pkt.dst,
        HeaderTest::Fragbits { modifier, bits } => {
            if pkt.ip_version != 4 {
                return false;
            }
            let have =
                u8::from(pkt.frag.rb) << 2 | u8::from(pkt.frag.df) << 1 | u8::from(pkt.frag.mf);
            match modifier {
                FlagsModifier::Exact => have == bits,
                FlagsModifier::All => have & bits == bits,
                FlagsModifier::Any => have & bits != 0,
                FlagsModifier::Not => have & bits == 0,
            }
        }
    }
}

/// Evaluates a numeric comparison.
pub fn cmp(c: Cmp, x: u32) -> bool {
    match c {
        Cmp::Eq(v) => x == v,
        Cmp::Ne(v) => x != v,
        Cmp::Lt(v) => x < v,
        Cmp::Le(v) => x <= v,
        Cmp::Gt(v) => x > v,
        Cmp::Ge(v) => x >= v,
        Cmp::Between(a, b) => a < x && x < b,
        Cmp::BetweenIncl(a, b) => a <= x && x <= b,
    }
}

/// True when the contents match `payload` in order, with Snort's relative semantics.
pub fn contents_match(contents: &[Content], payload: &[u8]) -> bool {
    let mut budget = MAX_RETRIES;
    match_from(contents, payload, 0, &mut budget)
}

fn is_relative(c: &Content) -> bool {
    c.distance.is_some() || c.within.is_some()
}

/// Matches `contents` with the cursor (end of the previous match) at `cursor`.
fn match_from(contents: &[Content], payload: &[u8], cursor: usize, budget: &mut u32) -> bool {
    let Some((first, rest)) = contents.split_first() else {
        return true;
    };
    let Some((start, end)) = window(first, payload.len(), cursor) else {
        // The window lies outside the payload: a negated content trivially holds.
        return first.negated && match_from(rest, payload, cursor, budget);
    };
    if first.negated {
        return find(&payload[start..end], &first.pattern, first.nocase).is_none()
            && match_from(rest, payload, cursor, budget);
    }
    let mut from = start;
    while from <= end {
        let Some(pos) = find(&payload[from..end], &first.pattern, first.nocase) else {
            return false;
        };
        let at = from + pos;
        let next_cursor = at + first.pattern.len();
        if match_from(rest, payload, next_cursor, budget) {
            return true;
        }
        // Only a later relative content can make another occurrence of this one succeed.
        if !rest.first().is_some_and(is_relative) || *budget == 0 {
            return false;
        }
        *budget -= 1;
        from = at + 1;
    }
    false
}

/// The search window `[start, end)` of a content, clamped to the payload; `None` when empty
/// or too small for the pattern.
fn window(c: &Content, len: usize, cursor: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let (base, limit) = if is_relative(c) {
        let base = cursor as i64 + i64::from(c.distance.unwrap_or(0));
        (base, c.within.map(|w| base + i64::from(w)))
    } else {
        let base = i64::from(c.offset.unwrap_or(0));
        (base, c.depth.map(|d| base + i64::from(d)))
    };
    let start = base.max(0);
    let end = limit.unwrap_or(len).min(len);
    if end - start < c.pattern.len() as i64 {
        return None;
    }
    Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?))
}

/// First occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8], nocase: bool) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if needle.len() > hay.len() {
        return None;
    }
    if nocase {
        hay.windows(needle.len())
            .position(|w| w.eq_ignore_ascii_case(needle))
    } else {
        let first = needle[0];
        let last_start = hay.len() - needle.len();
        let mut i = 0;
        while i <= last_start {
            let p = hay[i..=last_start].iter().position(|&b| b == first)?;
            i += p;
            if &hay[i..i + needle.len()] == needle {
                return Some(i);
            }
            i += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(p: &str) -> Content {
        Content {
            pattern: p.as_bytes().to_vec(),
            negated: false,
            nocase: false,
            offset: None,
            depth: None,
            distance: None,
            within: None,
            fast_pattern: false,
        }
    }

    #[test]
    fn content_table() {
        let nocase = |mut x: Content| {
            x.nocase = true;
            x
        };
        let off = |mut x: Content, o: i32, d: Option<i32>| {
            x.offset = Some(o);
            x.depth = d;
            x
        };
        let rel = |mut x: Content, dist: Option<i32>, within: Option<i32>| {
            x.distance = dist;
            x.within = within;
            x
        };
        let not = |mut x: Content| {
            x.negated = true;
            x
        };
        // (contents, payload, expected) — one line a case.
        let cases: Vec<(Vec<Content>, &str, bool)> = vec![
            (vec![c("USER")], "USER root", true),
            (vec![c("user")], "USER root", false),
            (vec![nocase(c("user"))], "USER root", true),
            (vec![off(c("root"), 5, None)], "USER root", true),
            (vec![off(c("root"), 6, None)], "USER root", false),
            (vec![off(c("USER"), 0, Some(4))], "USER root", true),
            (vec![off(c("USER"), 0, Some(3))], "USER root", false),
            (vec![c("A"), rel(c("B"), Some(0), Some(1))], "AB", true),
            (vec![c("A"), rel(c("B"), Some(1), None)], "AB", false),
            (vec![c("A"), rel(c("C"), Some(1), Some(1))], "ABC", true),
            // Backtracking: the first "A" fails the relative test, the second succeeds.
            (vec![c("A"), rel(c("B"), Some(0), Some(1))], "AxAB", true),
            (vec![c("A"), rel(c("B"), None, Some(2))], "AxxB", false),
            (vec![not(c("evil"))], "good", true),
            (vec![not(c("evil"))], "so evil", false),
            (
                vec![c("GET"), not(rel(c("Host"), Some(0), None))],
                "GET / HTTP/1.0",
                true,
            ),
            (
                vec![c("GET"), not(rel(c("Host"), Some(0), None))],
                "GET / Host: x",
                false,
            ),
            (vec![c("ab"), rel(c("ab"), Some(-2), Some(2))], "ab", true), // negative distance
            (vec![c("|")], "", false),
        ];
        for (i, (cs, payload, want)) in cases.iter().enumerate() {
            assert_eq!(
                contents_match(cs, payload.as_bytes()),
                *want,
                "case {i}: {payload:?}"
            );
        }
    }

    #[test]
    fn cmp_table() {
        let cases = [
            (Cmp::Eq(5), 5, true),
            (Cmp::Ne(5), 5, false),
            (Cmp::Lt(5), 4, true),
            (Cmp::Gt(5), 5, false),
            (Cmp::Between(1, 5), 5, false),
            (Cmp::BetweenIncl(1, 5), 5, true),
        ];
        for (c, x, want) in cases {
            assert_eq!(cmp(c, x), want, "{c:?} {x}");
        }
    }
}
