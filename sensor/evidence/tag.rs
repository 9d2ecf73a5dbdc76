//! Snort 2.9's `tag` arithmetic (tag.c) as a pure state machine: after an event of a rule with
//! a `tag:` option, which later packets are kept and when that stops. A [`TagBudget`] is one of
//! Snort's `TagNode`s; [`in_scope`] and [`renews`] are its hash keys. No I/O, no allocation, no
//! clock (every time is a packet's), no table of tags: the evidence store owns those.
//!
//! What the caller must do around it, as Snort's detect.c and fpdetect.c do:
//! - Open a budget ([`TagBudget::new`]) for each *logged* event of a tagging rule, at the
//!   event packet's time (fpdetect.c `fpLogEvent` → tag.c `SetTags`). An event dropped by an
//!   event_filter, threshold or suppress opens nothing (`fpLogEvent` returns before
//!   `SetTags`); a `pass` rule's event does open one.
//! - Renew instead of opening when a budget of the same key is open ([`renews`],
//!   [`TagBudget::renew`]): Snort keeps one node per key (tag.c `AddTagNode`).
//! - Let an `exclusive` session tag open only through the process-wide [`ExclusiveGate`].
//! - Offer a packet only if it produced no logged event other than `pass`, for any rule:
//!   detect.c `Preprocess` sets `check_tags_flag` after detection and every logged non-pass
//!   event clears it (`fpLogEvent`, `CallLogFuncs`), so the alerting packet is never kept nor
//!   counted. Offer captured packets only, not reassembled ones (`CheckTagging` skips
//!   `PKT_REBUILT_STREAM`). Offer packets with a bad checksum too: `Preprocess` skips
//!   detection for them but still runs `CheckTagging`.
//! - Charge one budget per packet at most, the first in tag.c `CheckTagList`'s lookup order:
//!   a session tag keyed as the packet (src, dst, sport, dport), then one keyed reversed, then
//!   a host tag on the packet's destination, then one on its source.
//! - Count the captured length: pass `frame.len()` (`pkth->caplen`), not the wire length.

use std::net::IpAddr;

use crate::decode::Packet;
use crate::rules::{Tag, TagHostDir, TagScope};

/// Snort 2.9's `config tagged_packet_limit` default: a tag keeps at most this many packets
/// unless it says `0,packets` (0 in the config lifts the limit for every tag).
pub const DEFAULT_TAGGED_PACKET_LIMIT: u32 = 256;

/// tag.c `TAG_PRUNE_QUANTUM`: a node with no packet for longer than this is pruned.
pub const IDLE_PRUNE_SECS: i64 = 300;

/// The addresses, ports and protocol of a packet; ports 0 when it has none (ICMP, other
/// protocols, non-first fragments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
}

impl FlowKey {
    /// The key of a decoded packet.
    pub fn of(p: &Packet<'_>) -> FlowKey {
        FlowKey {
            proto: p.ip_proto,
            src: p.src,
            dst: p.dst,
            sport: p.sport().unwrap_or(0),
            dport: p.dport().unwrap_or(0),
        }
    }
}

/// The same address and port pairs, either direction. The protocol is not compared: Snort's
/// session key (tag.c `tTagSessionKey`) holds addresses and ports only.
fn same_pairs(a: &FlowKey, p: &FlowKey) -> bool {
    (p.src == a.src && p.dst == a.dst && p.sport == a.sport && p.dport == a.dport)
        || (p.src == a.dst && p.dst == a.src && p.sport == a.dport && p.dport == a.sport)
}

/// The address a host tag is keyed on: the event's source for `src`, its destination for
/// `dst` (tag.c `AddTagNode` swaps the key for `TAG_HOST_DST`).
fn host_addr(dir: TagHostDir, alert: &FlowKey) -> IpAddr {
    match dir {
        TagHostDir::Src => alert.src,
        TagHostDir::Dst => alert.dst,
    }
}

/// Whether packet `pkt` is in the scope of a tag opened by an event on packet `alert`.
///
/// `Session`: the same address and port pairs in either direction, whatever the protocol (a
/// session tag opened by an ICMP event, ports 0, covers every portless packet between the two
/// hosts). `Host`: every packet to or from the tagged address (tag.c `CheckTagList` looks the
/// host table up by the packet's destination, then by its source).
pub fn in_scope(scope: &TagScope, alert: &FlowKey, pkt: &FlowKey) -> bool {
    match *scope {
        TagScope::Session { .. } => same_pairs(alert, pkt),
        TagScope::Host { dir } => {
            let a = host_addr(dir, alert);
            pkt.src == a || pkt.dst == a
        }
    }
}

/// Whether an event of a tagging rule (`new`, on packet `new_alert`) renews an open tag
/// (`open`, opened on `open_alert`) instead of opening one of its own. Session and host tags
/// live in separate tables (tag.c `AddTagNode` looks the new key up forward, then swapped):
/// a session tag is renewed by a session event on the same pairs, either direction; a host tag
/// by a host event whose source *or* destination is the tagged address, whatever its
/// direction says (the host key is one address, so the swapped lookup finds it too: the event
/// then tags no other host). When open host tags exist on both of the new event's addresses,
/// Snort renews the one on its source.
pub fn renews(open: &TagScope, open_alert: &FlowKey, new: &TagScope, new_alert: &FlowKey) -> bool {
    match (*open, *new) {
        (TagScope::Session { .. }, TagScope::Session { .. }) => same_pairs(open_alert, new_alert),
        (TagScope::Host { dir }, TagScope::Host { .. }) => {
            let a = host_addr(dir, open_alert);
            new_alert.src == a || new_alert.dst == a
        }
        _ => false,
    }
}

/// tag.c `s_exclusive`/`s_sessions` with `s_max_sessions = 1`: of all events of rules with
/// `tag:session,…,exclusive`, only the first opens (or renews) a tag for as long as Snort runs;
/// later ones tag nothing. Keep one per sensor, across rule reloads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExclusiveGate {
    used: bool,
}

impl ExclusiveGate {
    /// Whether an event of an `exclusive` session-tagging rule may open its tag: yes the first
    /// time, no ever after (Snort counts the attempt even when the tag renews one already open).
    pub fn try_open(&mut self) -> bool {
        !std::mem::replace(&mut self.used, true)
    }
}

/// What is left of one tag (tag.c `TagNode`): its deadline, packet and byte budgets, the
/// packets counted against `tagged_packet_limit`, and when a packet last reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagBudget {
    /// The event that opened it (a renewal keeps it: Snort's tagged packets refer to it).
    opened: (i64, u32),
    /// `seconds`: the last whole second kept.
    deadline: Option<i64>,
    /// `packets` (N > 0): packets still to keep.
    packets_left: Option<u32>,
    /// `bytes`: captured bytes still to keep.
    bytes_left: Option<u32>,
    /// `0,packets` (`TAG_METRIC_UNLIMITED`): `tagged_packet_limit` does not apply.
    no_packet_limit: bool,
    /// `tagged_packet_limit`, 0 for none.
    limit: u32,
    /// Packets that reached the tag (`pkt_count`).
    seen: u32,
    /// Second of the last packet that reached it, or of the opening event (`last_access`).
    last_seen: i64,
    /// A budget ran out (`metric = 0`: Snort removes the node).
    ended: bool,
}

impl TagBudget {
    /// The budget an event of a rule with `tag` opens, at the event packet's time (tag.c
    /// `AddTagNode`): `seconds` counts from the event's whole second (`now = ts.tv_sec`), the
    /// microseconds play no part.
    pub fn new(tag: &Tag, alert_sec: i64, alert_usec: u32, tagged_packet_limit: u32) -> TagBudget {
        TagBudget {
            opened: (alert_sec, alert_usec),
            deadline: tag.seconds.map(|s| alert_sec.saturating_add(i64::from(s))),
            packets_left: tag.packets.filter(|&n| n > 0),
            bytes_left: tag.bytes,
            no_packet_limit: tag.packets == Some(0),
            limit: tagged_packet_limit,
            seen: 0,
            last_seen: alert_sec,
            ended: false,
        }
    }

    /// A later event of a tagging rule with the same key ([`renews`]), at `sec`: what Snort
    /// does to the open node (tag.c `AddTagNode`, "Existing Tag found"). Only the deadline
    /// moves, to this event's second plus *its* rule's `seconds` (earlier or later than before),
    /// and only if both tags have a `seconds` metric; the packet and byte budgets, the count
    /// against `tagged_packet_limit` and the idle clock are left as they are. A budget Snort
    /// would already have removed (run out, or idle past [`IDLE_PRUNE_SECS`]) is opened afresh
    /// instead, as `AddTagNode` then inserts a new node.
    pub fn renew(&mut self, tag: &Tag, sec: i64, usec: u32) {
        if self.gone(sec) {
            *self = TagBudget::new(tag, sec, usec, self.limit);
            return;
        }
        if let (Some(_), Some(s)) = (self.deadline, tag.seconds) {
            self.deadline = Some(sec.saturating_add(i64::from(s)));
        }
    }

    /// A packet in the tag's scope, offered as the module doc says: whether Snort would tag
    /// (keep) it. Consumes the budget (tag.c `CheckTagList`): a packet past the deadline
    /// (`ts.tv_sec > seconds`, whole seconds) is not kept and ends the tag; otherwise it is
    /// kept, and the tag ends after it when its captured length reaches the bytes left
    /// (`caplen < bytes` to go on), when it is the last of the packets, or when it is the
    /// `tagged_packet_limit`th packet (unless `0,packets`).
    pub fn admit(&mut self, sec: i64, _usec: u32, caplen: u32) -> bool {
        if self.gone(sec) {
            self.ended = true;
            return false;
        }
        self.last_seen = sec;
        self.seen = self.seen.saturating_add(1);
        if self.deadline.is_some_and(|d| sec > d) {
            self.ended = true;
            return false;
        }
        if let Some(left) = self.bytes_left {
            if caplen < left {
                self.bytes_left = Some(left - caplen);
            } else {
                self.ended = true;
            }
        }
        if !self.ended {
            if let Some(left) = self.packets_left {
                if left > 1 {
                    self.packets_left = Some(left - 1);
                } else {
                    self.ended = true;
                }
            }
        }
        if !self.ended && !self.no_packet_limit && self.limit != 0 && self.seen >= self.limit {
            self.ended = true;
        }
        true
    }

    /// Nothing more can be kept at `now_sec`: a budget ran out, the deadline passed, or no
    /// packet reached the tag for longer than [`IDLE_PRUNE_SECS`]. (A renewing event can still
    /// move a passed deadline: see [`TagBudget::renew`].)
    pub fn done(&self, now_sec: i64) -> bool {
        self.gone(now_sec) || self.deadline.is_some_and(|d| now_sec > d)
    }

    /// When the event that opened the tag happened (seconds, microseconds).
    pub fn opened_at(&self) -> (i64, u32) {
        self.opened
    }

    /// Snort has removed the node by `now`: ended by a packet, or pruned as idle. tag.c
    /// `PruneTime` drops nodes whose `last_access + TAG_PRUNE_QUANTUM < now`, in a pass run at
    /// most every 300 s of packet time, so Snort drops an idle tag somewhere between 300 and
    /// 600 idle seconds; this takes the earliest.
    fn gone(&self, now: i64) -> bool {
        self.ended || now.saturating_sub(self.last_seen) > IDLE_PRUNE_SECS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn session(packets: Option<u32>, seconds: Option<u32>, bytes: Option<u32>) -> Tag {
        Tag {
            scope: TagScope::Session { exclusive: false },
            packets,
            seconds,
            bytes,
        }
    }

    fn key(proto: u8, src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> FlowKey {
        FlowKey {
            proto,
            src: IpAddr::V4(Ipv4Addr::from(src)),
            dst: IpAddr::V4(Ipv4Addr::from(dst)),
            sport,
            dport,
        }
    }

    /// Feeds packets (second, microsecond, caplen) and returns which were kept.
    fn feed(b: &mut TagBudget, pkts: &[(i64, u32, u32)]) -> Vec<bool> {
        pkts.iter().map(|&(s, u, len)| b.admit(s, u, len)).collect()
    }

    /// CheckTagList: `if (packets > 1) packets--; else metric = 0` after the packet is
    /// tagged: exactly N packets are kept, the Nth ends the tag.
    #[test]
    fn packets_budget_keeps_exactly_n() {
        let mut b = TagBudget::new(&session(Some(3), None, None), 100, 0, 256);
        let kept = feed(
            &mut b,
            &[(100, 1, 60), (101, 0, 60), (102, 0, 60), (103, 0, 60)],
        );
        assert_eq!(kept, [true, true, true, false]);
        let mut one = TagBudget::new(&session(Some(1), None, None), 100, 0, 256);
        assert!(!one.done(100));
        assert!(one.admit(100, 5, 60));
        assert!(one.done(100), "the only packet ends it");
        assert!(!one.admit(100, 6, 60));
    }

    /// AddTagNode: `seconds = now + tag_seconds` with `now = ts.tv_sec`; CheckTagList drops a
    /// packet when `ts.tv_sec > seconds`. Whole seconds: an event at 100.9 with 5 seconds keeps
    /// everything through 105.999999, the same as an event at 100.0; the first packet past the
    /// deadline is not kept and ends the tag, even for a late (earlier) packet after it.
    #[test]
    fn seconds_budget_in_whole_seconds() {
        for alert_usec in [0, 900_000] {
            let mut b = TagBudget::new(&session(None, Some(5), None), 100, alert_usec, 256);
            assert!(!b.done(105));
            assert!(b.done(106));
            let kept = feed(
                &mut b,
                &[
                    (100, 0, 60),       // before the event's microsecond: same second, kept
                    (101, 0, 60),       // kept
                    (105, 999_999, 60), // last second: kept
                    (106, 0, 60),       // 106 > 105: not kept, tag ends
                    (105, 0, 60),       // out of order, but the node is gone
                ],
            );
            assert_eq!(kept, [true, true, true, false, false], "usec {alert_usec}");
        }
    }

    /// CheckTagList counts `pkth->caplen` (the captured frame, not the wire length, not the
    /// payload): `if (n < bytes) bytes -= n; else metric = 0`, after the packet is tagged.
    /// The packet that reaches or crosses the budget is kept and ends the tag.
    #[test]
    fn bytes_budget_counts_captured_length() {
        // (budget, caplens, kept)
        let cases: &[(u32, &[u32], &[bool])] = &[
            (1000, &[400, 400, 300, 10], &[true, true, true, false]),
            (800, &[400, 400, 10], &[true, true, false]),
            (1000, &[1500, 10], &[true, false]),
            (1000, &[999, 1, 1], &[true, true, false]),
        ];
        for &(budget, lens, want) in cases {
            let mut b = TagBudget::new(&session(None, None, Some(budget)), 0, 0, 256);
            let kept: Vec<bool> = lens.iter().map(|&l| b.admit(1, 0, l)).collect();
            assert_eq!(kept, want, "{budget} bytes, {lens:?}");
        }
    }

    /// CheckTagList: unless `TAG_METRIC_UNLIMITED` (`0,packets`), `pkt_count >=
    /// tagged_packet_limit` ends the tag after the packet is tagged; it caps `packets` too
    /// (README.tag says otherwise; the code is what runs). 0 in the config lifts it.
    #[test]
    fn tagged_packet_limit_caps_every_metric_but_zero_packets() {
        // (tag, limit, packets offered one a second from t=1, kept)
        let cases: &[(Tag, u32, usize, usize)] = &[
            (session(None, Some(600), None), 4, 10, 4),
            (session(None, None, Some(1_000_000)), 4, 10, 4),
            (session(Some(10), None, None), 4, 10, 4),
            (session(Some(3), None, None), 4, 10, 3),
            (session(Some(0), Some(600), None), 4, 10, 10),
            (session(None, Some(600), None), 0, 500, 500),
            (session(None, Some(600), None), 256, 300, 256),
            (session(None, Some(5), None), 256, 10, 5),
        ];
        for (i, (tag, limit, offered, want)) in cases.iter().enumerate() {
            let mut b = TagBudget::new(tag, 0, 0, *limit);
            let kept = (1..=*offered as i64)
                .filter(|&s| b.admit(s.min(600), 0, 60))
                .count();
            assert_eq!(kept, *want, "case {i}: {tag:?} limit {limit}");
        }
    }

    /// `tag:session,exclusive` carries no metric: only `tagged_packet_limit` (and idleness)
    /// ends it; ParseOtnTag's example uses it to log "a full session" with the limit lifted.
    /// ExclusiveGate: tag.c `s_sessions >= s_max_sessions` (1) refuses every later one.
    #[test]
    fn exclusive_tags_once_and_only_the_limit_ends_it() {
        let tag = Tag {
            scope: TagScope::Session { exclusive: true },
            packets: None,
            seconds: None,
            bytes: None,
        };
        let mut gate = ExclusiveGate::default();
        assert!(gate.try_open());
        assert!(!gate.try_open());
        assert!(!gate.try_open(), "for as long as the sensor runs");

        let mut capped = TagBudget::new(&tag, 0, 0, 256);
        assert_eq!(
            (1..=1000)
                .filter(|&s| capped.admit(s / 10, 0, 1500))
                .count(),
            256
        );
        let mut full = TagBudget::new(&tag, 0, 0, 0);
        assert_eq!(
            (1..=1000).filter(|&s| full.admit(s / 10, 0, 1500)).count(),
            1000
        );
        assert!(!full.done(100));
        assert!(full.done(100 + IDLE_PRUNE_SECS + 1), "idle");
    }

    /// AddTagNode, "Existing Tag found": `if (metric & SECONDS) returned->seconds =
    /// idx->seconds;` — only the deadline is reset (to the new event's second plus the new
    /// rule's seconds); packets, bytes and `pkt_count` carry on.
    #[test]
    fn second_event_resets_only_the_deadline() {
        // Deadline moves later: a packet at 15 is kept only thanks to the renewal at 8.
        let t10 = session(None, Some(10), None);
        let mut b = TagBudget::new(&t10, 0, 0, 256);
        assert!(b.admit(5, 0, 60));
        b.renew(&t10, 8, 0);
        assert_eq!(
            feed(&mut b, &[(15, 0, 60), (18, 0, 60), (19, 0, 60)]),
            [true, true, false]
        );

        // And earlier: a 600 s tag renewed at 10 by a 5 s rule now ends after 15.
        let mut b = TagBudget::new(&session(None, Some(600), None), 0, 0, 256);
        b.renew(&session(None, Some(5), None), 10, 0);
        assert_eq!(feed(&mut b, &[(15, 0, 60), (16, 0, 60)]), [true, false]);

        // The packet budget is not refilled.
        let p3 = session(Some(3), None, None);
        let mut b = TagBudget::new(&p3, 0, 0, 256);
        assert_eq!(feed(&mut b, &[(1, 0, 60), (2, 0, 60)]), [true, true]);
        b.renew(&p3, 3, 0);
        assert_eq!(feed(&mut b, &[(4, 0, 60), (5, 0, 60)]), [true, false]);

        // Nor the count against tagged_packet_limit.
        let mut b = TagBudget::new(&t10, 0, 0, 4);
        assert_eq!(
            feed(&mut b, &[(1, 0, 60), (2, 0, 60), (3, 0, 60)]),
            [true; 3]
        );
        b.renew(&t10, 4, 0);
        assert_eq!(feed(&mut b, &[(5, 0, 60), (6, 0, 60)]), [true, false]);

        // A tag without seconds gains none from a renewing rule that has them.
        let mut b = TagBudget::new(&p3, 0, 0, 256);
        b.renew(&session(None, Some(1), None), 0, 0);
        assert_eq!(
            feed(
                &mut b,
                &[(100, 0, 60), (200, 0, 60), (300, 0, 60), (301, 0, 60)]
            ),
            [true, true, true, false]
        );

        // A passed deadline with no packet since: the node is still there, the event revives it.
        let t5 = session(None, Some(5), None);
        let mut b = TagBudget::new(&t5, 0, 0, 256);
        assert!(b.done(20));
        b.renew(&t5, 20, 0);
        assert!(!b.done(25));
        assert_eq!(
            b.opened_at(),
            (0, 0),
            "tagged packets still refer to the first event"
        );
        assert_eq!(feed(&mut b, &[(22, 0, 60), (26, 0, 60)]), [true, false]);
    }

    /// A node Snort has removed (run out, or pruned idle) is not renewed: AddTagNode inserts a
    /// fresh one, with full budgets.
    #[test]
    fn event_after_the_end_opens_afresh() {
        let p2 = session(Some(2), None, None);
        let mut b = TagBudget::new(&p2, 0, 0, 256);
        assert_eq!(feed(&mut b, &[(1, 0, 60), (2, 0, 60)]), [true, true]);
        assert!(b.done(2));
        b.renew(&p2, 3, 7);
        assert_eq!(b.opened_at(), (3, 7));
        assert_eq!(
            feed(&mut b, &[(4, 0, 60), (5, 0, 60), (6, 0, 60)]),
            [true, true, false]
        );

        let mut b = TagBudget::new(&p2, 0, 0, 256);
        b.renew(&p2, 1000, 0);
        assert_eq!(
            b.opened_at(),
            (1000, 0),
            "idle for 1000 s: pruned, opened afresh"
        );
    }

    /// PruneTime: `last_access + TAG_PRUNE_QUANTUM < now` removes the node; `last_access` is
    /// the event's second, then each kept packet's (a renewal does not touch it).
    #[test]
    fn idle_tags_are_pruned() {
        let mut b = TagBudget::new(&session(Some(100), None, None), 0, 0, 256);
        assert!(b.admit(300, 0, 60), "300 s idle: not yet");
        assert!(b.admit(600, 0, 60));
        assert!(!b.done(900));
        assert!(b.done(901));
        assert!(!b.admit(901, 0, 60));
    }

    /// Session scope: the alert's address and port pairs, both directions, any protocol (the
    /// session key has no protocol). Host scope: every packet from or to the tagged address.
    #[test]
    fn scopes() {
        let alert = key(6, [10, 0, 0, 1], 1234, [8, 8, 8, 8], 53);
        let s = TagScope::Session { exclusive: false };
        let src = TagScope::Host {
            dir: TagHostDir::Src,
        };
        let dst = TagScope::Host {
            dir: TagHostDir::Dst,
        };
        // (packet, in session, in host src, in host dst)
        let cases = [
            (
                key(6, [10, 0, 0, 1], 1234, [8, 8, 8, 8], 53),
                true,
                true,
                true,
            ),
            (
                key(6, [8, 8, 8, 8], 53, [10, 0, 0, 1], 1234),
                true,
                true,
                true,
            ),
            (
                key(17, [10, 0, 0, 1], 1234, [8, 8, 8, 8], 53),
                true,
                true,
                true,
            ),
            (
                key(6, [10, 0, 0, 1], 1235, [8, 8, 8, 8], 53),
                false,
                true,
                true,
            ),
            (
                key(6, [10, 0, 0, 1], 53, [8, 8, 8, 8], 1234),
                false,
                true,
                true,
            ),
            (
                key(1, [10, 0, 0, 1], 0, [1, 1, 1, 1], 0),
                false,
                true,
                false,
            ),
            (
                key(17, [9, 9, 9, 9], 5, [10, 0, 0, 1], 7),
                false,
                true,
                false,
            ),
            (
                key(6, [8, 8, 8, 8], 443, [10, 0, 0, 2], 999),
                false,
                false,
                true,
            ),
            (
                key(6, [10, 0, 0, 2], 1234, [8, 8, 4, 4], 53),
                false,
                false,
                false,
            ),
        ];
        for (p, want_s, want_src, want_dst) in cases {
            assert_eq!(
                (
                    in_scope(&s, &alert, &p),
                    in_scope(&src, &alert, &p),
                    in_scope(&dst, &alert, &p)
                ),
                (want_s, want_src, want_dst),
                "{p:?}"
            );
        }
    }

    /// AddTagNode's duplicate check: the new key forward, then swapped, in the table of its
    /// own kind; a host key is one address, so either address of the new event finds it.
    #[test]
    fn which_events_renew() {
        let s = TagScope::Session { exclusive: false };
        let src = TagScope::Host {
            dir: TagHostDir::Src,
        };
        let dst = TagScope::Host {
            dir: TagHostDir::Dst,
        };
        let open = key(6, [10, 0, 0, 1], 1234, [8, 8, 8, 8], 53);
        let reply = key(6, [8, 8, 8, 8], 53, [10, 0, 0, 1], 1234);
        let other_port = key(6, [10, 0, 0, 1], 1235, [8, 8, 8, 8], 53);
        let from_x = key(6, [9, 9, 9, 9], 80, [10, 0, 0, 1], 5000);
        // (open scope, new scope, new event, renews)
        let cases = [
            (s, s, open, true),
            (s, s, reply, true),
            (s, s, other_port, false),
            (s, src, open, false),
            (src, s, open, false),
            (src, src, other_port, true),
            // Opened on 10.0.0.1; an event from 9.9.9.9 to 10.0.0.1 asking to tag its
            // source (9.9.9.9) renews 10.0.0.1's tag instead.
            (src, src, from_x, true),
            (src, dst, from_x, true),
            // Opened on 8.8.8.8 (dst); 9.9.9.9 → 10.0.0.1 touches neither.
            (dst, src, from_x, false),
            (dst, dst, reply, true),
        ];
        for (i, (o, n, ev, want)) in cases.into_iter().enumerate() {
            assert_eq!(renews(&o, &open, &n, &ev), want, "case {i}");
        }
    }

    #[test]
    fn flow_key_of_a_packet() {
        let frame = [
            0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00,
            0x00, // IPv4, UDP
            10, 0, 0, 1, 8, 8, 8, 8, // src, dst
            0x04, 0xd2, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00, // UDP 1234 → 53, len 8
        ];
        let opts = crate::decode::DecodeOptions { checksums: false };
        let linktype = crate::decode::linktype::RAW;
        let p = crate::decode::decode(linktype, 0, 0, frame.len() as u32, &frame, opts)
            .expect("decodes");
        assert_eq!(
            FlowKey::of(&p),
            key(17, [10, 0, 0, 1], 1234, [8, 8, 8, 8], 53)
        );
    }
}
