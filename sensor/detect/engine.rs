//! The per-packet detection loop: header index and content prefilter (merged, ascending rule
//! id) → flags → header tests → flow → flowbits tests → contents → detection_filter → event stage
//! (suppress, threshold, rate_filter).
//!
//! Snort 2.9 is the reference: every rule is evaluated on every packet; flowbits setters act
//! only when the whole rule matched, and act even when thresholding then drops the event.
//! Matches then go through Snort's event queue ([`EventQueue`], fpdetect.c `fpAddMatch` and
//! `fpFinalSelectEvent`, event_queue.c, sfeventq.c) before the event stage: only the first
//! action group that matched in Snort's default rule order (pass, drop, sdrop, reject, alert,
//! log) is queued, so a `pass` rule that matches silences the packet's other rules *before*
//! their thresholds and rate filters count them; within the group the events are ordered by
//! `order_events content_length`, and at most 3 are logged (`event_queue: max_queue 8, log 3`).
//! Only those go through suppress, event_filter and rate_filter. `log` rules write no alert
//! line (the ring holds every packet anyway) unless a rate_filter's `new_action alert` makes
//! them alert.

use crate::decode::{Packet, Transport};
use crate::rules::{Action, Buffer, FlagsModifier, FlagsTest, FlowbitsCmd, Rule, RuleId};

use super::{HeaderKey, RuleSet, Scratch};

use super::flow::{flow_matches, FlowOptions, FlowTable, FlowView};
use super::messages::{self, MessageOptions, MessageStats, Messages, Rebuilt};
use super::payload::Buffers;
use super::threshold::{EventVerdict, ThresholdIndex, Thresholds};
use super::DetectOptions;

/// How [`Engine::decide`] finds the packet's flow.
#[derive(Clone, Copy)]
enum FlowSource {
    /// A captured packet: counted, state advanced.
    Update,
    /// A rebuilt message: the flow its segments updated, left as it is.
    Peek,
}

/// One alert decided for the current packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub rule: RuleId,
    pub flow_id: u64,
}

/// Counters of the detection stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Packets whose rules were evaluated.
    pub inspected: u64,
    /// Packets skipped because of a bad checksum.
    pub skipped_checksum: u64,
    /// Rule matches (before thresholds).
    pub matches: u64,
    /// Events dropped by suppress, threshold or rate_filter.
    pub filtered: u64,
}

/// Snort 2.9 fpcreate.c default `config detection: max_queue_events 5`: matches kept per
/// action group (fpdetect.c `fpAddMatch` ignores the rest, in evaluation order).
pub const MAX_QUEUE_EVENTS: usize = 5;
/// Snort 2.9 event_queue.c `EventQueueConfigNew`: `max_queue 8` events queued per packet.
pub const MAX_QUEUE: usize = 8;
/// Snort 2.9 event_queue.c `EventQueueConfigNew`: `log 3` events logged per packet
/// (sfeventq.c `sfeventq_action` acts on the first `log_nodes` events of the queue).
pub const LOG_EVENTS: usize = 3;

/// Action groups in Snort 2.9's default rule order (parser.c `CreateDefaultRules`).
const GROUPS: usize = 6;
const PASS_GROUP: usize = 0;

fn group_of(a: Action) -> usize {
    match a {
        Action::Pass => PASS_GROUP,
        Action::Drop => 1,
        Action::Sdrop => 2,
        Action::Reject => 3,
        Action::Alert => 4,
        Action::Log => 5,
    }
}

/// The per-packet match lists of Snort's event selection (fpdetect.c `OTNX_MATCH_DATA`), fixed
/// size: filling and ordering them allocates nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventQueue {
    ids: [[RuleId; MAX_QUEUE_EVENTS]; GROUPS],
    len: [u8; GROUPS],
}

impl EventQueue {
    fn clear(&mut self) {
        self.len = [0; GROUPS];
    }

    /// fpdetect.c `fpAddMatch`: a match joins its action group unless the group already holds
    /// `max_queue_events`.
    fn add(&mut self, group: usize, id: RuleId) {
        if let (Some(n), Some(ids)) = (self.len.get_mut(group), self.ids.get_mut(group)) {
            if let Some(slot) = ids.get_mut(usize::from(*n)) {
                *slot = id;
                *n += 1;
            }
        }
    }

    /// fpdetect.c `fpFinalSelectEvent` + sfeventq.c `sfeventq_action`: the first action group
    /// with matches, sorted by `order_events content_length` (`sortOrderByContentLength`: the
    /// longer fast pattern first — `longestPatternLen` is the fast pattern's length, 0 for a
    /// rule without content — then the higher sid first); of it, one event if it is the pass
    /// group ("only log/count one pass"), else up to `max_queue`; of those, the first `log`
    /// are acted on. Writes them to `out` and returns how many.
    pub fn select(&mut self, rules: &RuleSet, out: &mut [RuleId; LOG_EVENTS]) -> usize {
        let Some(g) = (0..GROUPS).find(|&g| self.len[g] > 0) else {
            return 0;
        };
        let ids = &mut self.ids[g][..usize::from(self.len[g])];
        let key = |id: &RuleId| {
            rules.rules.get(*id as usize).map_or((0, 0), |r| {
                (r.fast_pattern().map_or(0, |c| c.pattern.len()), r.sid)
            })
        };
        ids.sort_unstable_by_key(|id| std::cmp::Reverse(key(id)));
        let queued = if g == PASS_GROUP { 1 } else { MAX_QUEUE };
        let n = ids.len().min(queued).min(LOG_EVENTS);
        out[..n].copy_from_slice(&ids[..n]);
        n
    }
}

/// Detection state for one capture: flows, thresholds, scratch buffers. Kept across rule
/// reloads; [`Engine::inspect`] notices a new `RuleSet` and remaps what depends on it.
pub struct Engine {
    flows: FlowTable,
    thresholds: Thresholds,
    threshold_index: Option<ThresholdIndex>,
    candidates: Vec<RuleId>,
    /// Scratch of the content prefilter, sized once per rule set.
    content: Scratch,
    /// Generation of the rule set the state was built for (0: none yet), and its flowbit
    /// names (the numbering of the flowbits stored in flows).
    generation: u64,
    flowbit_names: Vec<String>,
    /// Whether any rule of the current set looks at flow state (see [`needs_flows`]).
    track_flows: bool,
    queue: EventQueue,
    stats: EngineStats,
    /// Reassembly and HTTP inspection of HTTP-port streams: only while some loaded rule can
    /// match a rebuilt message ([`messages::wanted`]).
    messages: Option<Messages>,
    message_opts: MessageOptions,
}

impl Engine {
    pub fn new(opts: &DetectOptions) -> Engine {
        Engine {
            flows: FlowTable::new(FlowOptions {
                memcap_bytes: opts.flow_memcap,
                tcp_timeout_s: opts.tcp_timeout_s,
                tcp_new_timeout_s: opts.tcp_new_timeout_s,
                udp_timeout_s: opts.udp_timeout_s,
                other_timeout_s: opts.other_timeout_s,
            }),
            thresholds: Thresholds::new(opts.threshold_memcap),
            threshold_index: None,
            candidates: Vec::with_capacity(64),
            content: Scratch::default(),
            generation: 0,
            flowbit_names: Vec::new(),
            track_flows: true,
            queue: EventQueue::default(),
            stats: EngineStats::default(),
            messages: None,
            message_opts: MessageOptions {
                idle_timeout_s: opts.tcp_timeout_s,
                ..MessageOptions::default()
            },
        }
    }

    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    pub fn flows(&self) -> &FlowTable {
        &self.flows
    }

    /// Reclaims up to `max` flows idle past their timeout at `now_sec`, and the HTTP sessions
    /// idle past theirs; for a live capture's idle periods, when no packet drives the lazy
    /// reclaim.
    pub fn expire_flows(&mut self, now_sec: i64, max: usize) -> usize {
        if let Some(m) = self.messages.as_mut() {
            m.expire(now_sec);
        }
        self.flows.expire(now_sec, max)
    }

    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Evaluates every rule against `pkt`; appends the alerts to write to `hits` (cleared
    /// first). Allocates nothing when nothing alerts, once the scratch buffers have grown.
    pub fn inspect(&mut self, rules: &RuleSet, pkt: &Packet<'_>, hits: &mut Vec<Hit>) {
        self.inspect_with(rules, pkt, hits, true);
    }

    /// As [`Engine::inspect`] with content detection off: the rules with a fast pattern are
    /// not evaluated, every other rule is. Snort 2.9 `DisableDetect` (detect.h: clears
    /// `do_detect_content` only), which frag3 applies to the fragments it holds for a rebuilt
    /// datagram.
    pub fn inspect_without_content(
        &mut self,
        rules: &RuleSet,
        pkt: &Packet<'_>,
        hits: &mut Vec<Hit>,
    ) {
        self.inspect_with(rules, pkt, hits, false);
    }

    fn inspect_with(
        &mut self,
        rules: &RuleSet,
        pkt: &Packet<'_>,
        hits: &mut Vec<Hit>,
        content: bool,
    ) {
        hits.clear();
        self.adopt(rules);
        if let Some(m) = self.messages.as_mut() {
            m.clear_ready();
        }
        if pkt.anomaly.is_some_and(|a| a.is_checksum()) {
            // Snort checksum_mode: all — a packet with a bad checksum is not inspected.
            self.stats.skipped_checksum += 1;
            return;
        }
        self.stats.inspected += 1;
        let key = HeaderKey::of(pkt);
        if content {
            rules.candidates(&key, pkt.payload, &mut self.content, &mut self.candidates);
        } else {
            rules.header_candidates(&key, &mut self.candidates);
        }
        // A packet as captured offers its payload only; HTTP buffers exist on rebuilt messages.
        let bufs = Buffers::packet(pkt.payload);
        let flow_side = self.decide(rules, pkt, FlowSource::Update, &bufs, false, &[], hits);
        // Stream stage: the segment joins its flow's stream; the requests and responses it
        // completes wait in `messages` for [`Engine::inspect_message`].
        if let (Some(m), Some((flow_id, to_server)), true) =
            (self.messages.as_mut(), flow_side, content)
        {
            let server_port = if to_server { key.dport } else { key.sport };
            if pkt.ip_proto == 6 && server_port.is_some_and(|p| rules.http_ports.contains(p)) {
                m.segment(flow_id, to_server, pkt, hits.iter().map(|h| h.rule));
            }
        }
    }

    /// Messages (HTTP requests and responses rebuilt from the streams) completed by the last
    /// inspected packet: take each with [`Engine::take_message`], decode its frame (link type
    /// RAW), inspect it with [`Engine::inspect_message`], and give it back.
    pub fn ready_messages(&self) -> usize {
        self.messages.as_ref().map_or(0, |m| m.ready().len())
    }

    /// Message `i` of [`Engine::ready_messages`], lent out: give it back with
    /// [`Engine::put_message`] so its buffers are reused.
    pub fn take_message(&mut self, i: usize) -> Rebuilt {
        self.messages
            .as_mut()
            .map(|m| m.take(i))
            .unwrap_or_default()
    }

    pub fn put_message(&mut self, i: usize, msg: Rebuilt) {
        if let Some(m) = self.messages.as_mut() {
            m.put(i, msg);
        }
    }

    /// The ready messages have been inspected: [`Engine::ready_messages`] is 0 until the next
    /// packet completes some.
    pub fn messages_done(&mut self) {
        if let Some(m) = self.messages.as_mut() {
            m.clear_ready();
        }
    }

    /// Evaluates every rule against a rebuilt message: `pkt` is its frame decoded, `msg` its
    /// HTTP buffers. As [`Engine::inspect`], but the flow is the one its segments updated
    /// (not counted again), `flow:only_stream` holds, and rules that alerted on one of its raw
    /// segments are left out.
    pub fn inspect_message(
        &mut self,
        rules: &RuleSet,
        pkt: &Packet<'_>,
        msg: &Rebuilt,
        hits: &mut Vec<Hit>,
    ) {
        hits.clear();
        self.adopt(rules);
        self.stats.inspected += 1;
        let key = HeaderKey::of(pkt);
        let mut bufs = Buffers::packet(pkt.payload);
        for b in Buffer::ALL {
            if b == Buffer::Pkt {
                continue;
            }
            match msg.buffer(b) {
                Some(data) => bufs.set(b, data),
                None => bufs.clear(b),
            }
        }
        rules.message_candidates(&key, &bufs, &mut self.content, &mut self.candidates);
        self.decide(
            rules,
            pkt,
            FlowSource::Peek,
            &bufs,
            true,
            msg.raw_alerted(),
            hits,
        );
    }

    /// Counters of reassembly and HTTP inspection (`None` when no loaded rule needs them).
    pub fn message_stats(&self) -> Option<MessageStats> {
        self.messages.as_ref().map(Messages::stats)
    }

    /// The packet's flow, then the candidates in `self.candidates` → options →
    /// detection_filter → event queue → thresholds; the alerts to write go to `hits`. Rules in
    /// `skip` are not evaluated. Returns the flow's id and whether the packet goes to the
    /// server, when it has a flow.
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        rules: &RuleSet,
        pkt: &Packet<'_>,
        flow_source: FlowSource,
        bufs: &Buffers<'_>,
        rebuilt: bool,
        skip: &[RuleId],
        hits: &mut Vec<Hit>,
    ) -> Option<(u64, bool)> {
        // Flow state advances on every packet, whether or not a rule looks at it, so the
        // handshake is seen before the first rule that asks for `established` — as long as
        // some rule of the set reads flow state at all. When none does (the ET IP lists only
        // set flowbits nobody tests), the flow table would be pure cost: skip it.
        let mut flow = match flow_source {
            _ if !self.track_flows => None,
            FlowSource::Update => self.flows.update(pkt),
            FlowSource::Peek => self.flows.peek(pkt),
        };
        let flow_side = flow.as_ref().map(|f| (f.flow_id, f.to_server));
        if self.candidates.is_empty() {
            return flow_side;
        }
        let now = pkt.ts_sec;
        self.queue.clear();
        for &id in &self.candidates {
            let Some(rule) = rules.rules.get(id as usize) else {
                continue;
            };
            if skip.contains(&id) {
                continue;
            }
            if !options_match(rule, pkt, flow.as_ref(), bufs, rebuilt) {
                continue;
            }
            if let Some(df) = &rule.detection_filter {
                if !self
                    .thresholds
                    .detection_filter(rule.gid, rule.sid, df, pkt.src, pkt.dst, now)
                {
                    continue;
                }
            }
            self.stats.matches += 1;
            // flowbits:noalert keeps the match out of the event queue (fpdetect.c:
            // `flowbit_noalert` skips fpAddMatch).
            if !apply_flowbits(rule, flow.as_mut()) {
                self.queue.add(group_of(rule.action), id);
            }
        }
        let Some(index) = &self.threshold_index else {
            return flow_side;
        };
        let mut selected = [0; LOG_EVENTS];
        let n = self.queue.select(rules, &mut selected);
        for &id in &selected[..n] {
            let Some(rule) = rules.rules.get(id as usize) else {
                continue;
            };
            // fpdetect.c fpLogEvent: rate_filter, suppress and event_filter, then the action.
            let verdict = self.thresholds.event_indexed(
                index,
                rule.gid,
                rule.sid,
                rule.threshold.as_ref(),
                pkt.src,
                pkt.dst,
                now,
            );
            let rule_alerts = !matches!(rule.action, Action::Pass | Action::Log);
            if verdict.writes_alert(rule_alerts) {
                let flow_id = match flow.as_ref() {
                    Some(f) => f.flow_id,
                    None => stateless_flow_id(pkt),
                };
                hits.push(Hit { rule: id, flow_id });
            } else if verdict != (EventVerdict::Alert { rate_action: None }) {
                self.stats.filtered += 1;
            }
        }
        flow_side
    }

    /// Notices a rule set change (by generation, never by address: a new set can be built
    /// where a freed one lived) and rebuilds what depends on it: the suppress/rate_filter
    /// index, the flow-tracking decision, and the flowbit ids stored in flows (remapped by
    /// name).
    fn adopt(&mut self, rules: &RuleSet) {
        if rules.generation() == self.generation {
            return;
        }
        if self.generation != 0 && self.flowbit_names != rules.flowbit_names {
            let map: Vec<Option<u16>> = self
                .flowbit_names
                .iter()
                .map(|name| {
                    rules
                        .flowbit_names
                        .iter()
                        .position(|n| n == name)
                        .and_then(|p| u16::try_from(p).ok())
                })
                .collect();
            self.flows.remap_bits(&map);
        }
        self.flowbit_names.clone_from(&rules.flowbit_names);
        let wants_messages = rules.rules.iter().any(messages::wanted);
        self.track_flows = needs_flows(rules) || wants_messages;
        if !wants_messages {
            self.messages = None;
        } else if self.messages.is_none() {
            self.messages = Some(Messages::new(self.message_opts));
        }
        self.content.fit(&rules.prefilter);
        for p in &rules.http_prefilters {
            self.content.fit(p);
        }
        // Every rule may become a candidate at once; never grow on the packet path.
        let n = rules.rules.len();
        self.candidates
            .reserve(n.saturating_sub(self.candidates.len()));
        self.threshold_index = Some(ThresholdIndex::new(&rules.suppress, &rules.rate_filters));
        self.generation = rules.generation();
    }
}

/// Whether any rule reads flow state: a `flow:` test of direction or establishment, or a
/// flowbits test. Setting a flowbit that no rule tests changes nothing observable.
pub fn needs_flows(rules: &RuleSet) -> bool {
    rules.rules.iter().any(|r| {
        r.flow
            .is_some_and(|f| f.dir.is_some() || (!f.stateless && f.established.is_some()))
            || r.flowbits
                .iter()
                .any(|op| matches!(op.cmd, FlowbitsCmd::IsSet | FlowbitsCmd::IsNotSet))
    })
}

/// EVE `flow_id` for a packet when no flow table runs: a hash of the direction-independent
/// 5-tuple, stable for the conversation, non-zero and below 2^51 (exact in JSON numbers).
fn stateless_flow_id(pkt: &Packet<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    let (sport, dport) = (pkt.sport().unwrap_or(0), pkt.dport().unwrap_or(0));
    let (a, b) = if (pkt.src, sport) <= (pkt.dst, dport) {
        ((pkt.src, sport), (pkt.dst, dport))
    } else {
        ((pkt.dst, dport), (pkt.src, sport))
    };
    // DefaultHasher::new() has fixed keys: the same conversation gets the same id every run.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (a, b, pkt.ip_proto).hash(&mut h);
    (h.finish() & ((1 << 51) - 1)).max(1)
}

/// Everything of a rule that is not the header and not thresholds. `bufs` are the buffers the
/// payload tests read; `rebuilt` says whether `pkt` is a reassembled stream message (for
/// `flow:only_stream` / `no_stream`).
fn options_match(
    rule: &Rule,
    pkt: &Packet<'_>,
    flow: Option<&FlowView<'_>>,
    bufs: &Buffers<'_>,
    rebuilt: bool,
) -> bool {
    if let Some(test) = &rule.flags {
        let Transport::Tcp { flags, .. } = pkt.transport else {
            return false;
        };
        if !flags_match(test, flags) {
            return false;
        }
    }
    if !super::payload::header_tests_match(&rule.header_tests, pkt) {
        return false;
    }
    if let Some(test) = &rule.flow {
        // sp_clientserver.c `CheckStream` / `CheckNoStream`: PKT_REBUILT_STREAM.
        if test.stream.is_some_and(|only| only != rebuilt) || !flow_matches(test, flow) {
            return false;
        }
    }
    for op in &rule.flowbits {
        if matches!(op.cmd, FlowbitsCmd::IsSet | FlowbitsCmd::IsNotSet) {
            // No flow: no bit is set.
            let ok = match flow {
                Some(f) => f.bits.test(op),
                None => op.cmd == FlowbitsCmd::IsNotSet,
            };
            if !ok {
                return false;
            }
        }
    }
    // Payload tests last: the costliest, and every test here is a pure predicate, so the
    // order changes nothing but time.
    super::payload::payload_match(rule, bufs)
}

/// Runs the rule's flowbits setters on its flow. Returns whether `noalert` was given.
fn apply_flowbits(rule: &Rule, mut flow: Option<&mut FlowView<'_>>) -> bool {
    let mut noalert = false;
    for op in &rule.flowbits {
        match op.cmd {
            FlowbitsCmd::NoAlert => noalert = true,
            FlowbitsCmd::IsSet | FlowbitsCmd::IsNotSet => {}
            _ => {
                if let Some(f) = flow.as_deref_mut() {
                    f.bits.apply(op);
                }
            }
        }
    }
    noalert
}

/// Snort 2.9 sp_tcp_flag_check.c: the ignored bits are masked off first, then the mode decides.
pub fn flags_match(test: &FlagsTest, pkt_flags: u8) -> bool {
    let f = pkt_flags & !test.ignore;
    match test.modifier {
        FlagsModifier::Exact => f == test.flags,
        FlagsModifier::All => f & test.flags == test.flags,
        FlagsModifier::Any => f & test.flags != 0,
        FlagsModifier::Not => f & test.flags == 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tcp_flags::*;

    fn t(modifier: FlagsModifier, flags: u8, ignore: u8) -> FlagsTest {
        FlagsTest {
            modifier,
            flags,
            ignore,
        }
    }

    #[test]
    fn flags_table() {
        use FlagsModifier::*;
        // (test, packet flags, expected)
        let cases = [
            (t(Exact, SYN, 0), SYN, true),               // flags:S on a bare SYN
            (t(Exact, SYN, 0), SYN | ACK, false),        // flags:S on SYN/ACK
            (t(Exact, SYN, CWR | ECE), SYN | ECE, true), // flags:S,12 ignores ECN bits
            (t(Exact, SYN, CWR | ECE), SYN | CWR | ECE, true),
            (t(Exact, SYN | ACK, 0), SYN | ACK, true), // flags:SA
            (t(All, SYN, 0), SYN | ACK | PSH, true),   // flags:+S
            (t(All, SYN | FIN, 0), SYN, false),        // flags:+SF needs both
            (t(Any, SYN | FIN, 0), FIN | ACK, true),   // flags:*SF
            (t(Any, SYN | FIN, 0), ACK, false),
            (t(Not, RST, 0), ACK, true), // flags:!R
            (t(Not, RST, 0), RST | ACK, false),
            (t(Exact, 0, 0), 0, true), // flags:0 (null scan)
            (t(Exact, 0, 0), FIN, false),
            (t(Exact, CWR | ECE, 0), CWR | ECE, true), // flags:CE == flags:12
            (t(Exact, FIN | PSH | URG, 0), FIN | PSH | URG, true), // xmas flags:FPU
        ];
        for (i, (test, pkt, want)) in cases.iter().enumerate() {
            assert_eq!(
                flags_match(test, *pkt),
                *want,
                "case {i}: {test:?} on {pkt:#04x}"
            );
        }
    }
}
