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
//! [`RECLAIM_PER_INSERT`] from the LRU end at each new flow, and on [`FlowTable::expire`].

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
}

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
    /// Use order of the live slots, for timeouts and the memcap.
    lru: Lru,
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
            lru: Lru::default(),
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
                self.push_front(i);
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
        Some(FlowView {
            flow_id: f.flow_id,
            to_server,
            established,
            counters: f.counters,
            bits: &mut f.bits,
        })
    }

    /// Reclaims up to `max` expired flows from the least recently used end (for a timer on an
    /// idle capture). Returns how many were removed.
    pub fn expire(&mut self, now_sec: i64, max: usize) -> usize {
        let mut removed = 0;
        let mut i = self.lru.tail;
        for _ in 0..max {
            if i == NIL {
                break;
            }
            let prev = self.slots[i as usize].links.prev;
            if self.slots[i as usize].expired(&self.opts, now_sec) {
                self.remove(i);
                self.stats.timed_out += 1;
                removed += 1;
            }
            i = prev;
        }
        removed
    }

    /// Renumbers every flow's flowbits after a reload: old id `i` becomes `map[i]`; bits with no
    /// new id (`None`, or past the end of `map`) are dropped.
    pub fn remap_bits(&mut self, map: &[Option<FlowbitId>]) {
        let mut ids: Vec<FlowbitId> = Vec::new();
        let mut i = self.lru.head;
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

    fn insert(&mut self, key: FlowKey, pkt: &Packet<'_>, sport: u16, flags: u8) -> u32 {
        self.expire(pkt.ts_sec, RECLAIM_PER_INSERT);
        while self.map.len() >= self.max_flows {
            let lru = self.lru.tail;
            self.remove(lru);
            self.stats.evicted += 1;
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
        self.push_front(i);
        self.start_session(i, pkt, sport, flags);
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

    fn unlink(&mut self, i: u32) {
        self.lru.unlink(&mut self.slots, i);
    }

    fn push_front(&mut self, i: u32) {
        self.lru.push_front(&mut self.slots, i);
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
mod tests {
    use super::*;
    use crate::decode::Frag;
    use crate::rules::model::tcp_flags::{ACK, FIN, PSH, RST, SYN};

    const PROTO_ICMP: u8 = 1;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn pkt(src: &str, dst: &str, proto: u8, transport: Transport, ts: i64) -> Packet<'static> {
        let (src, dst) = (ip(src), ip(dst));
        Packet {
            ts_sec: ts,
            ts_usec: 0,
            frame: &[],
            wire_len: 60,
            src,
            dst,
            ip_version: if src.is_ipv4() { 4 } else { 6 },
            ip_header: &[],
            ip_proto: proto,
            ttl: 64,
            tos: 0,
            ip_id: 0,
            ip_total_len: 46,
            frag: Frag::default(),
            transport,
            l4_header: &[],
            payload: &[],
            anomaly: None,
        }
    }

    /// A TCP packet "a:p -> b:q" with flags at time `ts`.
    fn tcp(src: &str, sp: u16, dst: &str, dp: u16, flags: u8, ts: i64) -> Packet<'static> {
        let t = Transport::Tcp {
            sport: sp,
            dport: dp,
            seq: 0,
            ack: 0,
            flags,
            window: 0,
            urg: 0,
        };
        pkt(src, dst, PROTO_TCP, t, ts)
    }

    fn udp(src: &str, sp: u16, dst: &str, dp: u16, ts: i64) -> Packet<'static> {
        pkt(
            src,
            dst,
            PROTO_UDP,
            Transport::Udp {
                sport: sp,
                dport: dp,
                len: 8,
            },
            ts,
        )
    }

    fn table() -> FlowTable {
        FlowTable::new(FlowOptions {
            memcap_bytes: 1 << 20,
            tcp_timeout_s: 600,
            tcp_new_timeout_s: 30,
            udp_timeout_s: 60,
            other_timeout_s: 10,
        })
    }

    const C: &str = "192.168.0.31";
    const S: &str = "161.53.178.240";

    /// (to_server, established) for each packet.
    fn run(t: &mut FlowTable, pkts: &[Packet<'_>]) -> Vec<(bool, bool)> {
        pkts.iter()
            .map(|p| {
                let v = t.update(p).unwrap();
                (v.to_server, v.established)
            })
            .collect()
    }

    #[test]
    fn handshake_direction_and_established() {
        // (packet, to_server, established)
        let cases = [
            (tcp(C, 2253, S, 6667, SYN, 0), true, false),
            (tcp(S, 6667, C, 2253, SYN | ACK, 0), false, false),
            (tcp(C, 2253, S, 6667, ACK, 0), true, true),
            (tcp(C, 2253, S, 6667, PSH | ACK, 1), true, true),
            (tcp(S, 6667, C, 2253, PSH | ACK, 1), false, true),
            (tcp(C, 2253, S, 6667, FIN | ACK, 2), true, true),
            (tcp(S, 6667, C, 2253, FIN | ACK, 2), false, true),
            (tcp(C, 2253, S, 6667, ACK, 2), true, true),
            // After the close: no longer established, same flow and direction.
            (tcp(S, 6667, C, 2253, ACK, 3), false, false),
        ];
        let mut t = table();
        let mut ids = Vec::new();
        for (n, (p, dir, est)) in cases.iter().enumerate() {
            let v = t.update(p).unwrap();
            assert_eq!((v.to_server, v.established), (*dir, *est), "packet {n}");
            ids.push(v.flow_id);
        }
        assert!(ids.iter().all(|&id| id == ids[0] && id != 0));
        let st = t.stats();
        assert_eq!((st.active, st.created), (1, 1));
    }

    #[test]
    fn established_needs_the_whole_handshake() {
        let mut t = table();
        // SYN, SYN retransmitted, data from the client before any SYN+ACK: not established.
        let got = run(
            &mut t,
            &[
                tcp(C, 1, S, 80, SYN, 0),
                tcp(C, 1, S, 80, SYN, 1),
                tcp(C, 1, S, 80, ACK, 1),
            ],
        );
        assert_eq!(got, [(true, false), (true, false), (true, false)]);
        // A RST during the handshake closes it; the next SYN starts a new session.
        let mut t = table();
        let got = run(
            &mut t,
            &[
                tcp(C, 1, S, 80, SYN, 0),
                tcp(S, 80, C, 1, RST | ACK, 0),
                tcp(C, 1, S, 80, ACK, 0),
                tcp(C, 1, S, 80, SYN, 1),
                tcp(S, 80, C, 1, SYN | ACK, 1),
                tcp(C, 1, S, 80, ACK, 1),
            ],
        );
        assert_eq!(
            got,
            [
                (true, false),
                (false, false),
                (true, false),
                (true, false),
                (false, false),
                (true, true)
            ]
        );
        assert_eq!(t.stats().created, 2);
    }

    #[test]
    fn rst_ends_an_established_session() {
        let mut t = table();
        let got = run(
            &mut t,
            &[
                tcp(C, 1, S, 80, SYN, 0),
                tcp(S, 80, C, 1, SYN | ACK, 0),
                tcp(C, 1, S, 80, ACK, 0),
                tcp(S, 80, C, 1, RST, 1),
                tcp(C, 1, S, 80, PSH | ACK, 1),
            ],
        );
        assert_eq!(
            got,
            [
                (true, false),
                (false, false),
                (true, true),
                (false, true),
                (true, false)
            ]
        );
    }

    #[test]
    fn midstream_is_never_established() {
        // Picked up with data: the first sender is the client.
        let mut t = table();
        let got = run(
            &mut t,
            &[
                tcp(S, 80, C, 1, PSH | ACK, 0),
                tcp(C, 1, S, 80, ACK, 0),
                tcp(S, 80, C, 1, ACK, 1),
            ],
        );
        assert_eq!(got, [(true, false), (false, false), (true, false)]);
        // Picked up at the SYN+ACK: its receiver is the client.
        let mut t = table();
        let got = run(
            &mut t,
            &[tcp(S, 80, C, 1, SYN | ACK, 0), tcp(C, 1, S, 80, ACK, 0)],
        );
        assert_eq!(got, [(false, false), (true, false)]);
    }

    #[test]
    fn udp_is_established_once_both_sides_sent() {
        let mut t = table();
        let got = run(
            &mut t,
            &[
                udp(C, 5353, S, 53, 0),
                udp(C, 5353, S, 53, 0),
                udp(S, 53, C, 5353, 1),
                udp(C, 5353, S, 53, 2),
            ],
        );
        assert_eq!(
            got,
            [(true, false), (true, false), (false, true), (true, true)]
        );
        let v = t.update(&udp(C, 5353, S, 53, 3)).unwrap();
        assert_eq!(
            (
                v.counters.pkts_toserver,
                v.counters.pkts_toclient,
                v.counters.bytes_toserver
            ),
            (4, 1, 240)
        );
    }

    #[test]
    fn icmp_echo_pairs_by_id_and_non_first_fragments_have_no_flow() {
        let mut t = table();
        let echo = |src, dst, itype, id| {
            pkt(
                src,
                dst,
                PROTO_ICMP,
                Transport::Icmp {
                    itype,
                    icode: 0,
                    id,
                    seq: 1,
                },
                0,
            )
        };
        let got = run(
            &mut t,
            &[echo(C, S, 8, 7), echo(S, C, 0, 7), echo(C, S, 8, 8)],
        );
        assert_eq!(got, [(true, false), (false, true), (true, false)]);
        assert_eq!(t.stats().active, 2);
        let mut frag = pkt(C, S, PROTO_TCP, Transport::None, 0);
        frag.frag.offset = 100;
        assert!(t.update(&frag).is_none());
        // Other protocols have a flow without ports.
        let gre = pkt(C, S, 47, Transport::None, 0);
        assert!(t.update(&gre).is_some());
    }

    #[test]
    fn ipv6_flows() {
        let mut t = table();
        let (a, b) = ("2001:db8::1", "2001:db8::2");
        let got = run(
            &mut t,
            &[
                tcp(a, 5, b, 443, SYN, 0),
                tcp(b, 443, a, 5, SYN | ACK, 0),
                tcp(a, 5, b, 443, ACK, 0),
            ],
        );
        assert_eq!(got, [(true, false), (false, false), (true, true)]);
    }

    #[test]
    fn same_host_both_ends_uses_ports_for_direction() {
        let mut t = table();
        let got = run(
            &mut t,
            &[
                tcp("127.0.0.1", 40000, "127.0.0.1", 22, SYN, 0),
                tcp("127.0.0.1", 22, "127.0.0.1", 40000, SYN | ACK, 0),
                tcp("127.0.0.1", 40000, "127.0.0.1", 22, ACK, 0),
            ],
        );
        assert_eq!(got, [(true, false), (false, false), (true, true)]);
    }

    #[test]
    fn timeouts_in_packet_time() {
        let mut t = table();
        // Timeouts: tcp_new 30 s, tcp (established) 600 s, udp 60 s.
        let id0 = t.update(&tcp(C, 1, S, 80, SYN, 0)).unwrap().flow_id;
        // 30 s idle is not more than the timeout: same flow.
        assert_eq!(t.update(&tcp(C, 1, S, 80, SYN, 30)).unwrap().flow_id, id0);
        // 31 s idle: expired, a new session (new id) in the same entry.
        let id1 = t.update(&tcp(C, 1, S, 80, SYN, 61)).unwrap().flow_id;
        assert_ne!(id1, id0);
        assert_eq!(t.stats().timed_out, 1);
        // Established flows use the long timeout.
        t.update(&tcp(S, 80, C, 1, SYN | ACK, 61));
        t.update(&tcp(C, 1, S, 80, ACK, 61));
        let v = t.update(&tcp(C, 1, S, 80, ACK, 661)).unwrap();
        assert!(v.established && v.flow_id == id1);
        // UDP idles out after 60 s; expire() reclaims it lazily.
        t.update(&udp(C, 5353, S, 53, 700));
        assert_eq!(t.stats().active, 2);
        assert_eq!(t.expire(760, 10), 0);
        assert_eq!(t.expire(761, 10), 1);
        assert_eq!(t.stats().active, 1);
        // Creating a flow reclaims expired ones at the LRU end.
        t.update(&udp(C, 1, S, 2, 2000));
        let st = t.stats();
        assert_eq!((st.active, st.timed_out), (1, 3));
        // A clock that goes backwards expires nothing.
        assert_eq!(t.expire(0, 10), 0);
    }

    #[test]
    fn memcap_evicts_the_least_recently_used() {
        let mut t = FlowTable::new(FlowOptions {
            memcap_bytes: 3 * FLOW_BYTES,
            ..table().opts
        });
        assert_eq!(t.stats().max_flows, 3);
        let flow = |port| udp(C, port, S, 53, 0);
        let id1 = t.update(&flow(1)).unwrap().flow_id;
        t.update(&flow(2));
        t.update(&flow(3));
        t.update(&flow(1)); // 2 is now the least recently used
        t.update(&flow(4)); // evicts 2
        let st = t.stats();
        assert_eq!((st.active, st.evicted, st.created), (3, 1, 4));
        assert_eq!(t.update(&flow(1)).unwrap().flow_id, id1);
        t.update(&flow(2)); // back as a new flow, evicting 3
        let st = t.stats();
        assert_eq!((st.active, st.evicted, st.created), (3, 2, 5));
        assert_eq!(t.slots.len(), 3, "freed slots are reused");
    }

    fn op(cmd: FlowbitsCmd, bits: &[FlowbitId], join: BitsJoin) -> FlowbitsOp {
        FlowbitsOp {
            cmd,
            bits: bits.to_vec(),
            join,
        }
    }

    #[test]
    fn flowbits_across_packets_and_directions() {
        use BitsJoin::{All, Any};
        use FlowbitsCmd::*;
        let mut t = table();
        let hs = [tcp(C, 1, S, 80, SYN, 0), tcp(S, 80, C, 1, SYN | ACK, 0)];
        let v = t.update(&hs[0]).unwrap();
        v.bits.apply(&op(Set, &[3], All));
        // The reply direction sees the bit set by the client.
        let v = t.update(&hs[1]).unwrap();
        assert!(v.bits.test(&op(IsSet, &[3], All)));
        assert!(!v.bits.test(&op(IsNotSet, &[3], All)));
        assert!(v.bits.test(&op(IsNotSet, &[4], All)));
        v.bits.apply(&op(Set, &[4, 200], All));
        // (op, expected test result) against bits {3, 4, 200}
        let cases = [
            (op(IsSet, &[3, 4], All), true),
            (op(IsSet, &[3, 5], All), false),
            (op(IsSet, &[5, 200], Any), true),
            (op(IsSet, &[5, 6], Any), false),
            (op(IsNotSet, &[5, 6], All), true),
            (op(IsNotSet, &[3, 6], All), false),
            (op(IsNotSet, &[3, 6], Any), true),
            (op(IsNotSet, &[3, 4], Any), false),
            (op(NoAlert, &[], All), true),
        ];
        let v = t.update(&tcp(C, 1, S, 80, ACK, 1)).unwrap();
        for (o, want) in &cases {
            assert_eq!(v.bits.test(o), *want, "{o:?}");
        }
        v.bits.apply(&op(Unset, &[3], All));
        v.bits.apply(&op(Toggle, &[4, 5], All));
        let v = t.update(&tcp(S, 80, C, 1, ACK, 1)).unwrap();
        assert_eq!(v.bits.iter().collect::<Vec<_>>(), [5, 200]);
        v.bits.apply(&op(Reset, &[], All));
        assert!(v.bits.is_empty());
        // Another flow has its own bits.
        let v = t.update(&tcp(C, 2, S, 80, SYN, 1)).unwrap();
        assert!(v.bits.is_empty());
    }

    #[test]
    fn flowbits_bitset_edges() {
        let mut b = FlowBits::default();
        b.unset(1000); // unset of a never-set high id allocates nothing
        assert!(b.spill.is_empty());
        for id in [0, 63, 64, 127, 128, 1000, u16::MAX] {
            assert!(!b.is_set(id));
            b.set(id);
            assert!(b.is_set(id), "{id}");
        }
        assert_eq!(
            b.iter().collect::<Vec<_>>(),
            [0, 63, 64, 127, 128, 1000, u16::MAX]
        );
        b.toggle(63);
        b.unset(u16::MAX);
        assert_eq!(b.iter().collect::<Vec<_>>(), [0, 64, 127, 128, 1000]);
        b.clear_all();
        assert!(b.is_empty());
    }

    #[test]
    fn remap_bits_after_reload() {
        let mut t = table();
        let v = t.update(&udp(C, 1, S, 2, 0)).unwrap();
        v.bits.set(0);
        v.bits.set(1);
        v.bits.set(2);
        let v = t.update(&udp(C, 3, S, 4, 0)).unwrap();
        v.bits.set(2);
        // old 0 → 5, old 1 dropped, old 2 → 130
        t.remap_bits(&[Some(5), None, Some(130)]);
        let v = t.update(&udp(C, 1, S, 2, 1)).unwrap();
        assert_eq!(v.bits.iter().collect::<Vec<_>>(), [5, 130]);
        let v = t.update(&udp(C, 3, S, 4, 1)).unwrap();
        assert_eq!(v.bits.iter().collect::<Vec<_>>(), [130]);
        // Ids past the map's end are dropped.
        v.bits.set(9);
        t.remap_bits(&[]);
        assert!(t.update(&udp(C, 3, S, 4, 1)).unwrap().bits.is_empty());
    }

    #[test]
    fn flow_option_matching() {
        let t = |dir, established, stateless| FlowTest {
            dir,
            established,
            stateless,
        };
        let ts = Some(FlowDir::ToServer);
        let tc = Some(FlowDir::ToClient);
        // (test, to_server, established, expected)
        let cases = [
            (t(ts, Some(true), false), true, true, true),
            (t(ts, Some(true), false), true, false, false),
            (t(ts, Some(true), false), false, true, false),
            (t(tc, None, false), false, false, true),
            (t(None, Some(false), false), true, false, true),
            (t(None, Some(false), false), true, true, false),
            (t(ts, None, true), true, false, true),
            (t(tc, None, true), true, false, false),
        ];
        let mut bits = FlowBits::default();
        for (test, to_server, established, want) in cases {
            let counters = FlowCounters::default();
            let view = FlowView {
                flow_id: 1,
                to_server,
                established,
                counters,
                bits: &mut bits,
            };
            assert_eq!(
                view.matches(&test),
                want,
                "{test:?} {to_server} {established}"
            );
        }
        // Without a flow: only tests naming no direction and not requiring establishment.
        assert!(flow_matches(&t(None, Some(false), false), None));
        assert!(flow_matches(&t(None, None, true), None));
        assert!(!flow_matches(&t(ts, None, false), None));
        assert!(!flow_matches(&t(None, Some(true), false), None));
    }

    #[test]
    fn warm_table_reuses_capacity() {
        // Steady state: a full table that keeps creating flows never grows its slab.
        let mut t = FlowTable::new(FlowOptions {
            memcap_bytes: 64 * FLOW_BYTES,
            ..table().opts
        });
        let cap = (t.slots.capacity(), t.map.capacity());
        for port in 0..1000u16 {
            t.update(&udp(C, port, S, 53, i64::from(port / 100)));
        }
        assert_eq!((t.slots.capacity(), t.map.capacity()), cap);
        assert_eq!(t.stats().active, 64);
    }
}
