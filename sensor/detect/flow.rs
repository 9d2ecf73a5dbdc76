//! Flow table for `flow:` and `flowbits:`: one entry per conversation (normalised 5-tuple), with
//! the client side, TCP handshake state, counters and flowbits, bounded by a memcap.
//!
//! Owns flow state and its lifetime (packet-time timeouts, LRU eviction). Lives outside the
//! `RuleSet`, so a reload keeps every flow; flowbit ids that change on reload are carried over
//! with [`FlowTable::remap_bits`]. Does not decide which rules run, and does not reassemble
//! streams or fragments.
//!
//! Semantics follow Snort 2.9 stream5 with its defaults:
//! - The client is the sender of the first SYN without ACK; a flow picked up midstream takes the
//!   sender of its first packet as client, except that a first SYN+ACK names its receiver.
//! - TCP is established from the ACK that completes SYN → SYN+ACK → ACK (that packet included)
//!   until a RST or the last packet after both FINs; a flow picked up midstream is never
//!   established (no `midstream` option). UDP and other protocols are established once both
//!   sides have sent (stream5 UDP sessions).
//! - A RST, or both FINs plus one more packet, close a TCP flow; a new SYN on a closed flow
//!   starts a new session in the same entry (new flow id, flowbits cleared).
//!
//! # Resource usage
//! About [`FLOW_BYTES`] per flow, preallocated up to the memcap (at most 2^20 flows up front), so
//! a warm table never allocates for existing flows; creating a flow allocates only while the
//! hash map grows towards its presized capacity. Flowbit ids ≥ 128 spill to a small vector per
//! flow, not counted against the memcap. Expired flows are reclaimed lazily: up to
//! [`RECLAIM_PER_INSERT`] at each new flow, and on [`FlowTable::expire`].
//!
//! Expiry is exact: there is one LRU list per timeout class (established TCP, other TCP, UDP,
//! other protocols), each ordered by last packet, so the tail of a list is the oldest flow of
//! its class and holds the earliest deadline; a flow moves lists when its class changes. Under
//! memory pressure an expired flow of any class is reclaimed before a live one is evicted, and
//! the live flow evicted is the least recently seen of all.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::mem::size_of;
use std::net::IpAddr;

use crate::decode::{Packet, Transport};
use crate::rules::model::{
    tcp_flags, BitsJoin, FlowDir, FlowTest, FlowbitId, FlowbitsCmd, FlowbitsOp,
};

use super::lru::{Linked, Links, Lru, NIL};

/// Keys come from packets an attacker chooses: a keyed hash (randomly seeded aHash) keeps
/// lookups fast without inviting collision floods.
type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// Expired flows examined at the LRU end each time a flow is created.
pub const RECLAIM_PER_INSERT: usize = 4;

/// Flows allocated up front at most, whatever the memcap.
const MAX_PRESIZE: usize = 1 << 20;

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

/// Limits and timeouts of the flow table. Timeouts are idle times in seconds of packet time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowOptions {
    pub memcap_bytes: usize,
    /// TCP flows that completed the handshake.
    pub tcp_timeout_s: u32,
    /// TCP flows that did not (yet) complete it, midstream pickups and closed flows.
    pub tcp_new_timeout_s: u32,
    pub udp_timeout_s: u32,
    /// ICMP and every other IP protocol.
    pub other_timeout_s: u32,
}

impl Default for FlowOptions {
    fn default() -> Self {
        FlowOptions {
            memcap_bytes: 64 << 20,
            tcp_timeout_s: 3600,
            tcp_new_timeout_s: 60,
            udp_timeout_s: 300,
            other_timeout_s: 60,
        }
    }
}

impl From<&super::DetectOptions> for FlowOptions {
    fn from(o: &super::DetectOptions) -> Self {
        FlowOptions {
            memcap_bytes: o.flow_memcap,
            tcp_timeout_s: o.tcp_timeout_s,
            tcp_new_timeout_s: o.tcp_new_timeout_s,
            udp_timeout_s: o.udp_timeout_s,
            other_timeout_s: o.other_timeout_s,
        }
    }
}

/// Counters of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowStats {
    /// Flows in the table now.
    pub active: usize,
    /// Flows (sessions) created, including new sessions reusing an expired or closed entry.
    pub created: u64,
    /// Flows that idled past their timeout (reclaimed, or found expired by a new packet).
    pub timed_out: u64,
    /// Flows evicted, least recently used first, to stay under the memcap.
    pub evicted: u64,
    /// The most flows the memcap allows.
    pub max_flows: usize,
}

/// Per-direction counters of a flow, for output (EVE's `flow` object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowCounters {
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    /// Bytes on the wire (`Packet::wire_len`).
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// Packet time of the flow's first packet.
    pub start_sec: i64,
    pub start_usec: u32,
}

/// Flowbits of one flow: a bitset over [`FlowbitId`], inline for ids below 128.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowBits {
    inline: [u64; 2],
    /// Words for ids 128.. (`spill[i]` holds ids 128 + 64·i ..); allocated only when such an id
    /// is set.
    spill: Vec<u64>,
}

impl FlowBits {
    fn word(&self, id: FlowbitId) -> u64 {
        let w = usize::from(id / 64);
        if w < 2 {
            self.inline[w]
        } else {
            self.spill.get(w - 2).copied().unwrap_or(0)
        }
    }

    fn word_mut(&mut self, id: FlowbitId) -> &mut u64 {
        let w = usize::from(id / 64);
        if w < 2 {
            &mut self.inline[w]
        } else {
            if self.spill.len() <= w - 2 {
                self.spill.resize(w - 1, 0);
            }
            &mut self.spill[w - 2]
        }
    }

    pub fn is_set(&self, id: FlowbitId) -> bool {
        self.word(id) & (1 << (id % 64)) != 0
    }

    pub fn set(&mut self, id: FlowbitId) {
        *self.word_mut(id) |= 1 << (id % 64);
    }

    pub fn unset(&mut self, id: FlowbitId) {
        if usize::from(id / 64) < 2 + self.spill.len() {
            *self.word_mut(id) &= !(1 << (id % 64));
        }
    }

    pub fn toggle(&mut self, id: FlowbitId) {
        *self.word_mut(id) ^= 1 << (id % 64);
    }

    /// Clears every bit (keeps any spill capacity).
    pub fn clear_all(&mut self) {
        self.inline = [0; 2];
        self.spill.iter_mut().for_each(|w| *w = 0);
    }

    pub fn is_empty(&self) -> bool {
        self.inline == [0; 2] && self.spill.iter().all(|&w| w == 0)
    }

    /// The ids set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = FlowbitId> + '_ {
        self.inline
            .iter()
            .chain(self.spill.iter())
            .enumerate()
            .flat_map(|(w, &word)| {
                (0..64u32)
                    .filter(move |b| word & (1 << b) != 0)
                    .map(move |b| (w as u32 * 64 + b) as FlowbitId)
            })
    }

    /// The test part of a `flowbits:` option: `isset` (`a&b` all set, `a|b` any set) and
    /// `isnotset` (`a&b` none set, `a|b` at least one not set). Every other command tests true.
    pub fn test(&self, op: &FlowbitsOp) -> bool {
        let any_set = || op.bits.iter().any(|&b| self.is_set(b));
        let all_set = || op.bits.iter().all(|&b| self.is_set(b));
        match (op.cmd, op.join) {
            (FlowbitsCmd::IsSet, BitsJoin::All) => all_set(),
            (FlowbitsCmd::IsSet, BitsJoin::Any) => any_set(),
            (FlowbitsCmd::IsNotSet, BitsJoin::All) => !any_set(),
            (FlowbitsCmd::IsNotSet, BitsJoin::Any) => !all_set(),
            _ => true,
        }
    }

    /// The action part of a `flowbits:` option: `set`, `unset`, `toggle` (each named bit) and
    /// `reset` (every bit). Tests and `noalert` change nothing.
    pub fn apply(&mut self, op: &FlowbitsOp) {
        match op.cmd {
            FlowbitsCmd::Set => op.bits.iter().for_each(|&b| self.set(b)),
            FlowbitsCmd::Unset => op.bits.iter().for_each(|&b| self.unset(b)),
            FlowbitsCmd::Toggle => op.bits.iter().for_each(|&b| self.toggle(b)),
            FlowbitsCmd::Reset => self.clear_all(),
            FlowbitsCmd::IsSet | FlowbitsCmd::IsNotSet | FlowbitsCmd::NoAlert => {}
        }
    }
}

/// What detection sees of a packet's flow.
#[derive(Debug)]
pub struct FlowView<'t> {
    /// Stable for the session, non-zero, below 2^51 (exact in JSON numbers).
    pub flow_id: u64,
    /// Sent by the client (`to_server`/`from_client`); else by the server.
    pub to_server: bool,
    /// As seen by this packet (see the module docs).
    pub established: bool,
    /// Counters including this packet.
    pub counters: FlowCounters,
    pub bits: &'t mut FlowBits,
}

impl FlowView<'_> {
    /// Evaluates a `flow:` option against this packet. `stateless` skips the established test
    /// but not a direction, as in Snort 2.9 `sp_clientserver.c`.
    pub fn matches(&self, test: &FlowTest) -> bool {
        let dir_ok = match test.dir {
            None => true,
            Some(FlowDir::ToServer) => self.to_server,
            Some(FlowDir::ToClient) => !self.to_server,
        };
        let est_ok = test.stateless || test.established.is_none_or(|e| e == self.established);
        dir_ok && est_ok
    }
}

/// Evaluates a `flow:` option for a packet that may have no flow ([`FlowTable::update`] gave
/// `None`): without a flow there is no direction and nothing is established.
pub fn flow_matches(test: &FlowTest, view: Option<&FlowView<'_>>) -> bool {
    match view {
        Some(v) => v.matches(test),
        None => test.dir.is_none() && (test.stateless || test.established != Some(true)),
    }
}

/// Both directions of a conversation map to one key: the (address, port) pairs are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    lo: IpAddr,
    hi: IpAddr,
    lo_port: u16,
    hi_port: u16,
    proto: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TcpState {
    /// Picked up without a SYN: never established.
    Midstream,
    SynSent,
    SynAckSeen,
    Established,
    Closed,
}

const SEEN_CLIENT: u8 = 1;
const SEEN_SERVER: u8 = 2;

#[derive(Debug, Clone)]
struct Flow {
    key: FlowKey,
    client: IpAddr,
    client_port: u16,
    tcp: TcpState,
    /// Which sides have sent (SEEN_*).
    seen: u8,
    /// Which sides have sent a FIN (SEEN_*).
    fins: u8,
    last_seen: i64,
    flow_id: u64,
    counters: FlowCounters,
    bits: FlowBits,
    links: Links,
    /// The timeout class whose LRU list holds this flow (see [`Flow::class`]).
    list: u8,
}

/// Number of timeout classes, one LRU list each.
const CLASSES: usize = 4;

/// Approximate bytes one flow costs: its slab slot plus two hash-map buckets (entry and control
/// byte, 7/8 load factor). The map is presized to twice the flows so that, full of flows and
/// tombstones from evictions, hashbrown always rehashes in place instead of growing.
pub const FLOW_BYTES: usize = size_of::<Flow>() + 2 * (size_of::<(FlowKey, u32)>() + 1) * 8 / 7;

impl Linked for Flow {
    fn links(&mut self) -> &mut Links {
        &mut self.links
    }
}

/// The flow table. See the module docs for semantics and resource usage.
#[derive(Debug)]
pub struct FlowTable {
    opts: FlowOptions,
    map: FastMap<FlowKey, u32>,
    slots: Vec<Flow>,
    /// Free slots, chained through `links.next`.
    free: u32,
    /// Use order of the live slots, one list per timeout class, for timeouts and the memcap.
    lru: [Lru; CLASSES],
    max_flows: usize,
    serial: u64,
    stats: FlowStats,
}

/// The key, the sender's (address, port) and whether the transport is usable for a flow.
fn key_of(pkt: &Packet<'_>) -> Option<(FlowKey, u16, u16)> {
    let (sport, dport) = match (pkt.ip_proto, pkt.transport) {
        (_, Transport::Tcp { sport, dport, .. }) | (_, Transport::Udp { sport, dport, .. }) => {
            (sport, dport)
        }
        // A non-first fragment or a truncated header of TCP/UDP has no ports: no flow (there
        // is no reassembly to find the one it belongs to).
        (PROTO_TCP | PROTO_UDP, _) => return None,
        // Echo request/reply share their identifier: use it as both ports.
        (
            _,
            Transport::Icmp {
                itype: 0 | 8, id, ..
            },
        )
        | (
            _,
            Transport::Icmpv6 {
                itype: 128 | 129,
                id,
                ..
            },
        ) => (id, id),
        _ => (0, 0),
    };
    let (lo, lo_port, hi, hi_port) = if (pkt.src, sport) <= (pkt.dst, dport) {
        (pkt.src, sport, pkt.dst, dport)
    } else {
        (pkt.dst, dport, pkt.src, sport)
    };
    Some((
        FlowKey {
            lo,
            hi,
            lo_port,
            hi_port,
            proto: pkt.ip_proto,
        },
        sport,
        dport,
    ))
}

impl Flow {
    /// The timeout class: 0 established TCP, 1 other TCP, 2 UDP, 3 other protocols.
    fn class(&self) -> u8 {
        match self.key.proto {
            PROTO_TCP if self.tcp == TcpState::Established => 0,
            PROTO_TCP => 1,
            PROTO_UDP => 2,
            _ => 3,
        }
    }

    fn timeout(&self, o: &FlowOptions) -> u32 {
        match self.key.proto {
            PROTO_TCP if self.tcp == TcpState::Established => o.tcp_timeout_s,
            PROTO_TCP => o.tcp_new_timeout_s,
            PROTO_UDP => o.udp_timeout_s,
            _ => o.other_timeout_s,
        }
    }

    /// Idle for longer than its timeout. A clock that went backwards never expires a flow.
    fn expired(&self, o: &FlowOptions, now: i64) -> bool {
        now.saturating_sub(self.last_seen) > i64::from(self.timeout(o))
    }
}

impl FlowTable {
    /// An empty table, presized for the memcap (at least one flow).
    pub fn new(opts: FlowOptions) -> Self {
        let max_flows = (opts.memcap_bytes / FLOW_BYTES).clamp(1, NIL as usize - 1);
        let presize = max_flows.min(MAX_PRESIZE);
        FlowTable {
            opts,
            map: FastMap::with_capacity_and_hasher(presize * 2, ahash::RandomState::new()),
            slots: Vec::with_capacity(presize),
            free: NIL,
            lru: Default::default(),
            max_flows,
            serial: 0,
            stats: FlowStats {
                max_flows,
                ..FlowStats::default()
            },
        }
    }

    pub fn options(&self) -> &FlowOptions {
        &self.opts
    }

    pub fn stats(&self) -> FlowStats {
        FlowStats {
            active: self.map.len(),
            ..self.stats
        }
    }

    /// Finds or creates the packet's flow, updates its state and counters, and returns the view
    /// detection needs. `None` when the packet cannot belong to a flow: TCP/UDP without a decoded
    /// header (non-first fragments, truncated headers).
    pub fn update(&mut self, pkt: &Packet<'_>) -> Option<FlowView<'_>> {
        let (key, sport, _) = key_of(pkt)?;
        let now = pkt.ts_sec;
        let flags = pkt.tcp_flags().unwrap_or(0);
        let i = match self.map.get(&key) {
            Some(&i) => {
                self.unlink(i);
                let f = &self.slots[i as usize];
                if f.expired(&self.opts, now) {
                    self.stats.timed_out += 1;
                    self.start_session(i, pkt, sport, flags);
                } else if f.tcp == TcpState::Closed && is_syn(flags) {
                    self.start_session(i, pkt, sport, flags);
                }
                i
            }
            None => self.insert(key, pkt, sport, flags),
        };

        let f = &mut self.slots[i as usize];
        let to_server = pkt.src == f.client && sport == f.client_port;
        let side = if to_server { SEEN_CLIENT } else { SEEN_SERVER };
        f.last_seen = f.last_seen.max(now);
        f.seen |= side;
        if to_server {
            f.counters.pkts_toserver += 1;
            f.counters.bytes_toserver += u64::from(pkt.wire_len);
        } else {
            f.counters.pkts_toclient += 1;
            f.counters.bytes_toclient += u64::from(pkt.wire_len);
        }

        let established = if key.proto == PROTO_TCP {
            tcp_step(f, to_server, flags)
        } else {
            f.seen == SEEN_CLIENT | SEEN_SERVER
        };
        // Into the list of its (possibly new) class, as its most recent flow.
        self.push_front(i);
        let f = &mut self.slots[i as usize];
        Some(FlowView {
            flow_id: f.flow_id,
            to_server,
            established,
            counters: f.counters,
            bits: &mut f.bits,
        })
    }

    /// The view of the packet's flow without counting the packet or moving its state: for a
    /// rebuilt stream message, which belongs to the flow its segments already updated. A
    /// session that was established and is closing (a FIN seen) still counts as established,
    /// as stream5 flags its rebuilt packets from the session. `None` when there is no flow.
    pub fn peek(&mut self, pkt: &Packet<'_>) -> Option<FlowView<'_>> {
        let (key, sport, _) = key_of(pkt)?;
        let &i = self.map.get(&key)?;
        let f = self.slots.get_mut(i as usize)?;
        let to_server = pkt.src == f.client && sport == f.client_port;
        let established = f.tcp == TcpState::Established || f.fins != 0;
        Some(FlowView {
            flow_id: f.flow_id,
            to_server,
            established,
            counters: f.counters,
            bits: &mut f.bits,
        })
    }

    /// Reclaims up to `max` expired flows (for a timer on an idle capture), the oldest of each
    /// class first. Returns how many were removed. Exact: a list's tail is its oldest flow, so
    /// when it has not expired, nothing behind it has.
    pub fn expire(&mut self, now_sec: i64, max: usize) -> usize {
        let mut removed = 0;
        for c in 0..CLASSES {
            while removed < max {
                let i = self.lru[c].tail;
                if i == NIL || !self.slots[i as usize].expired(&self.opts, now_sec) {
                    break;
                }
                self.remove(i);
                self.stats.timed_out += 1;
                removed += 1;
            }
        }
        removed
    }

    /// The least recently seen live flow of all classes (the oldest of the list tails).
    fn oldest(&self) -> u32 {
        self.lru
            .iter()
            .map(|l| l.tail)
            .filter(|&i| i != NIL)
            .min_by_key(|&i| self.slots[i as usize].last_seen)
            .unwrap_or(NIL)
    }

    /// Renumbers every flow's flowbits after a reload: old id `i` becomes `map[i]`; bits with no
    /// new id (`None`, or past the end of `map`) are dropped.
    pub fn remap_bits(&mut self, map: &[Option<FlowbitId>]) {
        let mut ids: Vec<FlowbitId> = Vec::new();
        for c in 0..CLASSES {
            let mut i = self.lru[c].head;
            while i != NIL {
                let f = &mut self.slots[i as usize];
                if !f.bits.is_empty() {
                    ids.clear();
                    ids.extend(f.bits.iter());
                    f.bits.clear_all();
                    for &old in &ids {
                        if let Some(Some(new)) = map.get(usize::from(old)) {
                            f.bits.set(*new);
                        }
                    }
                }
                i = f.links.next;
            }
        }
    }

    fn insert(&mut self, key: FlowKey, pkt: &Packet<'_>, sport: u16, flags: u8) -> u32 {
        self.expire(pkt.ts_sec, RECLAIM_PER_INSERT);
        while self.map.len() >= self.max_flows {
            // Memory pressure: an expired flow of any class before the oldest live one.
            if self.expire(pkt.ts_sec, 1) == 0 {
                let oldest = self.oldest();
                if oldest == NIL {
                    break;
                }
                self.remove(oldest);
                self.stats.evicted += 1;
            }
        }
        let blank = Flow {
            key,
            client: pkt.src,
            client_port: sport,
            tcp: TcpState::Midstream,
            seen: 0,
            fins: 0,
            last_seen: pkt.ts_sec,
            flow_id: 0,
            counters: FlowCounters::default(),
            bits: FlowBits::default(),
            links: Links::NONE,
            list: 0,
        };
        let i = if self.free != NIL {
            let i = self.free;
            self.free = self.slots[i as usize].links.next;
            // Keep the old FlowBits' spill allocation: start_session clears it.
            let bits = std::mem::take(&mut self.slots[i as usize].bits);
            self.slots[i as usize] = Flow { bits, ..blank };
            i
        } else {
            self.slots.push(blank);
            (self.slots.len() - 1) as u32
        };
        self.map.insert(key, i);
        self.start_session(i, pkt, sport, flags);
        // Not linked yet: `update` links it once the packet has set its class.
        i
    }

    /// (Re)initialises slot `i` as a new session begun by `pkt`.
    fn start_session(&mut self, i: u32, pkt: &Packet<'_>, sport: u16, flags: u8) {
        self.serial += 1;
        self.stats.created += 1;
        let f = &mut self.slots[i as usize];
        let (client, client_port, tcp) = if f.key.proto != PROTO_TCP {
            (pkt.src, sport, TcpState::Midstream)
        } else if is_syn(flags) {
            (pkt.src, sport, TcpState::SynSent)
        } else if flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN | tcp_flags::ACK {
            // Picked up at the SYN+ACK: its receiver is the client.
            (pkt.dst, pkt.dport().unwrap_or(0), TcpState::Midstream)
        } else {
            (pkt.src, sport, TcpState::Midstream)
        };
        f.client = client;
        f.client_port = client_port;
        f.tcp = tcp;
        f.seen = 0;
        f.fins = 0;
        f.last_seen = pkt.ts_sec;
        f.counters = FlowCounters {
            start_sec: pkt.ts_sec,
            start_usec: pkt.ts_usec,
            ..FlowCounters::default()
        };
        f.bits.clear_all();
        let mut h = DefaultHasher::new();
        (f.key, pkt.ts_sec, pkt.ts_usec, self.serial).hash(&mut h);
        f.flow_id = (h.finish() & ((1 << 51) - 1)).max(1);
    }

    fn remove(&mut self, i: u32) {
        if i == NIL {
            return;
        }
        self.unlink(i);
        let key = self.slots[i as usize].key;
        self.map.remove(&key);
        self.slots[i as usize].links.next = self.free;
        self.free = i;
    }

    /// Unlinks slot `i` from the list it is in.
    fn unlink(&mut self, i: u32) {
        let c = usize::from(self.slots[i as usize].list);
        self.lru[c].unlink(&mut self.slots, i);
    }

    /// Makes slot `i` the most recent flow of the list of its current class.
    fn push_front(&mut self, i: u32) {
        let c = self.slots[i as usize].class();
        self.slots[i as usize].list = c;
        self.lru[usize::from(c)].push_front(&mut self.slots, i);
    }
}

/// SYN without ACK: opens a connection.
fn is_syn(flags: u8) -> bool {
    flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN
}

/// Advances the TCP state for one packet; returns whether this packet is established.
fn tcp_step(f: &mut Flow, to_server: bool, flags: u8) -> bool {
    let syn = flags & tcp_flags::SYN != 0;
    let ack = flags & tcp_flags::ACK != 0;
    let rst = flags & tcp_flags::RST != 0;
    let fin = flags & tcp_flags::FIN != 0;
    let side = if to_server { SEEN_CLIENT } else { SEEN_SERVER };
    match f.tcp {
        TcpState::SynSent if !to_server && syn && ack && !rst => f.tcp = TcpState::SynAckSeen,
        TcpState::SynAckSeen if to_server && ack && !syn && !rst => f.tcp = TcpState::Established,
        _ => {}
    }
    let established = f.tcp == TcpState::Established;
    if rst {
        // The RST itself is inspected in the session it ends (stream5 closes after it).
        f.tcp = TcpState::Closed;
    } else if established {
        if f.fins == SEEN_CLIENT | SEEN_SERVER && !fin {
            // The ACK of the second FIN ends the session.
            f.tcp = TcpState::Closed;
        } else if fin {
            f.fins |= side;
        }
    }
    established
}

#[cfg(test)]
mod tests;
