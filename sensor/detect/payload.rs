//! Tests on one packet: header fields (`dsize`, `ttl`, `itype`, `fragbits`, …) and the payload
//! program of a rule (`content`, `pcre`, `byte_test`, `byte_jump`, `byte_extract`,
//! `byte_math`, `isdataat`, `urilen`) over a table of buffers ([`Buffers`]). Pure functions;
//! no state kept between packets, no allocation.
//!
//! Content semantics follow Snort 2.9 (sp_pattern_match.c): an absolute content is searched in
//! `[offset, offset + depth)`; a relative one (`distance`/`within`) in
//! `[prev_end + distance, prev_end + distance + within)`; the whole pattern must lie inside the
//! window. When a later relative option fails, the earlier content is retried at its next
//! occurrence, and an earlier `pcre` from the end of its previous match (detection_options.c
//! `detection_option_node_evaluate`: `PatternMatchAdjustRelativeOffsets`,
//! `PcreAdjustRelativeOffsets`, which never retries a negated, anchored or HTTP-buffer pcre).
//! A negated content or pcre must not occur and does not move the cursor.
//!
//! Cursors: Snort 2.9 keeps one `doe_ptr` and tags it with the buffer it points into
//! (`doe_buf_flags`); a relative option in another buffer than the cursor's starts at that
//! buffer's start. This evaluator keeps one cursor per buffer (the end of the last match,
//! jump or extraction in that buffer, 0 before any), which gives the same answer for the rules
//! that stay in one buffer and lets a rule return to a buffer (`pkt_data` after `file_data`)
//! where it left off.

use crate::decode::{Packet, Transport};
use crate::rules::{Buffer, Cmp, Content, FlagsModifier, HeaderTest, Rule};

mod bytes;
mod program;
#[cfg(test)]
mod tests;

/// Bound on the retries of earlier contents and pcres, like Snort's `pattern_match_limit`-
/// style guard against pathological backtracking.
const MAX_RETRIES: u32 = 10_000;

/// The buffers one inspected packet offers to payload tests, borrowed, one slot per
/// [`Buffer`]. Filling it allocates nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Buffers<'a> {
    slots: [Option<&'a [u8]>; Buffer::COUNT],
}

impl<'a> Buffers<'a> {
    /// A packet without HTTP inspection: `Pkt` and `FileData` are the payload (Snort 2.9
    /// `file_data` falls back to the packet data when no HTTP body was set), every HTTP buffer
    /// is absent.
    pub fn packet(payload: &'a [u8]) -> Self {
        let mut b = Buffers::default();
        b.set(Buffer::Pkt, payload);
        b.set(Buffer::FileData, payload);
        b
    }

    /// Makes `data` the content of buffer `b` (an HTTP inspector's normalized URI, …).
    pub fn set(&mut self, b: Buffer, data: &'a [u8]) {
        if let Some(slot) = self.slots.get_mut(b.index()) {
            *slot = Some(data);
        }
    }

    /// Makes buffer `b` absent again.
    pub fn clear(&mut self, b: Buffer) {
        if let Some(slot) = self.slots.get_mut(b.index()) {
            *slot = None;
        }
    }

    /// Buffer `b`'s bytes, `None` when this packet has no such buffer.
    pub fn get(&self, b: Buffer) -> Option<&'a [u8]> {
        self.slots.get(b.index()).copied().flatten()
    }
}

/// True when the rule's payload program holds over `bufs` ([`Rule::payload`], or its contents
/// in order for a rule built without one). A positive test in an absent buffer fails; a
/// negated content or negated `isdataat` there holds; a negated pcre does not (sp_pcre.c
/// returns no match when the HTTP buffer is missing, before the negation).
pub fn payload_match(rule: &Rule, bufs: &Buffers<'_>) -> bool {
    program::run(&rule.contents, &rule.payload, bufs)
}

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

/// True when the contents match `payload` in order, with Snort's relative semantics (each
/// content in its own buffer: a content of an HTTP buffer fails on a bare payload).
pub fn contents_match(contents: &[Content], payload: &[u8]) -> bool {
    program::run(contents, &[], &Buffers::packet(payload))
}
