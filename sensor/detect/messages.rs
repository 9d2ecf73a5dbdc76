//! Rebuilt messages: the TCP streams of HTTP-port flows, reassembled ([`super::stream`], stream5
//! `policy first`) and cut into requests and responses by the HTTP inspector
//! ([`super::http`]), each turned into one packet for detection with its HTTP buffers.
//!
//! DESIGN.md (Semantics, "Reassembly and HTTP"): as Snort 2.9.20 with stream5 on the HTTP ports
//! and http_inspect's shipped server profile, raw segments are inspected as packets (the
//! engine does that before this module sees them); each reassembled request or response is
//! inspected once more, as one packet stamped with the time of the segment holding its first
//! byte; a rule that already alerted on a raw segment does not alert again for the message
//! holding it (here: a rule that alerted on a raw segment of one direction is left out of the
//! direction's messages completed from then on, up to and including the one that holds the
//! segment's last byte: when a segment ends one message and starts the next, its rules are
//! left out of both). Snort 2.9 does it with stream5's session alerts
//! (`Stream5AddSessionAlertTcp` remembers a logged gid:sid with the segment's sequence number,
//! `Stream5CheckSessionAlertTcp` skips it on a rebuilt packet covering that number); only logged
//! events are remembered, so a rule the event queue left out on the raw segment may still
//! alert on the message.
//!
//! A message packet is a real IPv4 or IPv6 + TCP packet ([`Rebuilt::frame`], link type RAW)
//! between the flow's endpoints in the message's direction, carrying the message bytes as sent
//! (at most [`MAX_MESSAGE_PAYLOAD`]): outputs print it as Snort prints its rebuilt packet, with
//! the TTL, TOS and IP id of the direction's last segment and sequence numbers of 0.
//!
//! # Resource usage
//! Only flows whose server port is in `$HTTP_PORTS` and only when some loaded rule can match a
//! rebuilt message ([`wanted`]). The reassembler has its own memcap (least recently used flows
//! dropped, counted); the HTTP sessions are at most [`MessageOptions::max_sessions`] (the idlest
//! dropped, counted), each bounded by [`HttpOptions`]; message packets are copied into a pool
//! of buffers reused from packet to packet.

use std::collections::HashMap;
use std::net::IpAddr;

use ahash::RandomState;

use super::http::{HttpMessage, HttpOptions, HttpSession, HttpStats};
use super::lru::{Linked, Links, Lru, NIL};
use super::stream::{self, Dir, Reassembler, Segment, StreamOptions, StreamStats};
use crate::decode::{checksum_sum, internet_checksum, Packet, Transport};
use crate::rules::{Buffer, FlowTest, Proto, Rule, RuleId};

/// Payload bytes of a message packet: an IPv4 datagram's limit less its headers (the rest of
/// a longer message is not in the packet; its HTTP buffers have their own bounds).
pub const MAX_MESSAGE_PAYLOAD: usize = 65535 - 60 - 20;

/// Finished sessions kept for the next connections, and the most a kept one may hold: a
/// new HTTP connection reuses grown buffers instead of allocating.
const MAX_SPARE_SESSIONS: usize = 256;
const MAX_SPARE_BYTES: usize = 64 * 1024;

/// Rules remembered per direction as having alerted on raw segments since its last message.
const MAX_RAW_ALERTED: usize = 16;

/// Limits of the message stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageOptions {
    pub stream: StreamOptions,
    pub http: HttpOptions,
    /// HTTP sessions kept at once; past it the idlest is dropped (counted).
    pub max_sessions: usize,
    /// Seconds without a packet after which a session is dropped.
    pub idle_timeout_s: u32,
    /// Bytes all HTTP sessions may hold together; past it the idlest are dropped (counted).
    pub http_memcap: usize,
}

impl Default for MessageOptions {
    fn default() -> Self {
        MessageOptions {
            stream: StreamOptions::default(),
            http: HttpOptions::default(),
            max_sessions: 16_384,
            idle_timeout_s: 3600,
            http_memcap: 64 * 1024 * 1024,
        }
    }
}

/// Counters of the message stage (reassembly and HTTP together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageStats {
    pub stream: StreamStats,
    pub http: HttpStats,
    /// HTTP sessions alive now.
    pub sessions: usize,
    /// Sessions dropped: idle past the timeout, or the idlest when the table was full.
    pub sessions_dropped: u64,
    /// Messages inspected as packets.
    pub messages: u64,
    /// Messages whose packet holds only the first [`MAX_MESSAGE_PAYLOAD`] bytes.
    pub messages_cut: u64,
    /// Bytes held by the HTTP sessions now.
    pub http_memory: usize,
}

/// Whether a rule can match a rebuilt message: a TCP (or IP) rule with payload tests, or one
/// asking for `flow:only_stream`. A set without any (the IP lists) never reassembles.
pub fn wanted(rule: &Rule) -> bool {
    let tcp = matches!(rule.proto, Proto::Tcp | Proto::Ip);
    let stream_only = rule.flow.is_some_and(|f: FlowTest| f.stream == Some(true));
    tcp && (!rule.payload.is_empty() || stream_only)
}

/// One message made into a packet, waiting for detection.
#[derive(Debug, Default)]
pub struct Rebuilt {
    /// IPv4/IPv6 + TCP header + message bytes: decode with link type RAW.
    pub frame: Vec<u8>,
    pub ts_sec: i64,
    pub ts_usec: u32,
    bufs: [Vec<u8>; Buffer::COUNT],
    present: [bool; Buffer::COUNT],
    /// Rules that alerted on raw segments of this direction since its previous message.
    raw_alerted: Vec<RuleId>,
}

impl Rebuilt {
    /// The buffer `b` of the message, if it has one (`Pkt` is the packet's payload: take it
    /// from the decoded frame).
    pub fn buffer(&self, b: Buffer) -> Option<&[u8]> {
        let i = b.index();
        (*self.present.get(i)?).then(|| self.bufs.get(i).map(Vec::as_slice))?
    }

    /// Rules not to alert again on this message: they alerted on one of its raw segments.
    pub fn raw_alerted(&self) -> &[RuleId] {
        &self.raw_alerted
    }

    fn fill(&mut self, msg: &HttpMessage<'_>, ends: &Endpoints, dir: &DirState) -> bool {
        self.ts_sec = msg.ts.0;
        self.ts_usec = msg.ts.1;
        let payload = msg.raw.get(..MAX_MESSAGE_PAYLOAD).unwrap_or(msg.raw);
        let (src, sport, dst, dport) = if msg.to_server {
            (ends.client, ends.client_port, ends.server, ends.server_port)
        } else {
            (ends.server, ends.server_port, ends.client, ends.client_port)
        };
        build_frame(&mut self.frame, src, sport, dst, dport, dir, payload);
        self.present = [false; Buffer::COUNT];
        let fields: [(Buffer, &[u8]); 11] = [
            (Buffer::FileData, msg.file_data),
            (Buffer::Uri, msg.uri),
            (Buffer::RawUri, msg.raw_uri),
            (Buffer::Header, msg.header),
            (Buffer::RawHeader, msg.raw_header),
            (Buffer::Cookie, msg.cookie),
            (Buffer::RawCookie, msg.raw_cookie),
            (Buffer::Method, msg.method),
            (Buffer::ClientBody, msg.client_body),
            (Buffer::StatCode, msg.stat_code),
            (Buffer::StatMsg, msg.stat_msg),
        ];
        for (b, data) in fields {
            let i = b.index();
            if let (Some(buf), Some(p)) = (self.bufs.get_mut(i), self.present.get_mut(i)) {
                buf.clear();
                buf.extend_from_slice(data);
                *p = !data.is_empty();
            }
        }
        self.raw_alerted.clear();
        self.raw_alerted.extend_from_slice(&dir.raw_alerted);
        payload.len() < msg.raw.len()
    }
}

/// The flow's endpoints, client first.
#[derive(Debug, Clone, Copy)]
struct Endpoints {
    client: IpAddr,
    client_port: u16,
    server: IpAddr,
    server_port: u16,
}

/// What a message packet copies from its direction's last segment, and the rules that
/// alerted on that direction's raw segments since its last message.
#[derive(Debug, Default)]
struct DirState {
    ttl: u8,
    tos: u8,
    ip_id: u32,
    raw_alerted: Vec<RuleId>,
}

struct Session {
    http: HttpSession,
    ends: Endpoints,
    dirs: [DirState; 2],
    last_seen: i64,
    /// Directions whose FIN the reassembler reached (bit 0 client, bit 1 server): with both,
    /// the session is over and its state goes.
    fins: u8,
}

/// A slab slot of the session table, linked into its idle order.
struct Slot {
    flow_id: u64,
    session: Option<Session>,
    links: Links,
}

impl Linked for Slot {
    fn links(&mut self) -> &mut Links {
        &mut self.links
    }
}

/// The message stage of one engine: reassembler, HTTP sessions and the message pool.
pub struct Messages {
    opts: MessageOptions,
    streams: Reassembler,
    /// Flow id → slot in `slots`.
    sessions: HashMap<u64, u32, RandomState>,
    slots: Vec<Slot>,
    /// Slots free for reuse.
    free: Vec<u32>,
    /// The live slots, most recently used first: the tail is the idlest session.
    idle: Lru,
    /// Finished sessions, recycled, for the next connections (their bytes count in
    /// `http_memory`).
    spare: Vec<HttpSession>,
    /// Messages of the current packet: `pool[..ready]`.
    pool: Vec<Rebuilt>,
    ready: usize,
    /// Counters of sessions already dropped.
    http_retired: HttpStats,
    sessions_dropped: u64,
    messages: u64,
    messages_cut: u64,
    packets: u64,
    /// Rules that alerted on the current segment as a raw packet (scratch, reused).
    seg_alerted: Vec<RuleId>,
    /// Bytes the HTTP sessions hold, kept up to date after every segment.
    http_memory: usize,
}

impl Messages {
    pub fn new(opts: MessageOptions) -> Messages {
        Messages {
            opts,
            streams: Reassembler::new(opts.stream),
            sessions: HashMap::with_hasher(RandomState::new()),
            slots: Vec::new(),
            free: Vec::new(),
            idle: Lru::default(),
            spare: Vec::with_capacity(MAX_SPARE_SESSIONS),
            pool: Vec::new(),
            ready: 0,
            http_retired: HttpStats::default(),
            sessions_dropped: 0,
            messages: 0,
            messages_cut: 0,
            packets: 0,
            seg_alerted: Vec::new(),
            http_memory: 0,
        }
    }

    /// The messages the last [`Messages::segment`] completed.
    pub fn ready(&self) -> &[Rebuilt] {
        self.pool.get(..self.ready).unwrap_or(&[])
    }

    /// Forgets the ready messages (before the next packet).
    pub fn clear_ready(&mut self) {
        self.ready = 0;
    }

    /// Lends message `i` of [`Messages::ready`] out (its slot keeps an empty one).
    pub fn take(&mut self, i: usize) -> Rebuilt {
        match self.pool.get_mut(i) {
            Some(slot) if i < self.ready => std::mem::take(slot),
            _ => Rebuilt::default(),
        }
    }

    /// Gives a message lent by [`Messages::take`] back to its slot, buffers and all.
    pub fn put(&mut self, i: usize, msg: Rebuilt) {
        if let Some(slot) = self.pool.get_mut(i) {
            *slot = msg;
        }
    }

    /// One TCP segment of flow `flow_id` (an HTTP-port flow; `to_server` as the flow table
    /// decided), with the rules that alerted on it as a raw packet (they will not alert again
    /// on the message holding it): reassembles it and parses what became contiguous; the
    /// messages it completed are then in [`Messages::ready`]. Allocates nothing once the
    /// buffers have grown.
    pub fn segment(
        &mut self,
        flow_id: u64,
        to_server: bool,
        pkt: &Packet<'_>,
        raw_alerted: impl Iterator<Item = RuleId>,
    ) {
        self.ready = 0;
        let Transport::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            ..
        } = pkt.transport
        else {
            return;
        };
        self.packets += 1;
        if self.packets % 4096 == 0 {
            self.expire(pkt.ts_sec);
        }
        let slot = match self.sessions.get(&flow_id) {
            Some(&i) => {
                self.idle.unlink(&mut self.slots, i);
                i
            }
            // A bare ACK or FIN of a conversation already over (or never seen) starts nothing.
            None if pkt.payload.is_empty() && flags & stream::SYN == 0 => return,
            None => {
                if self.sessions.len() >= self.opts.max_sessions {
                    self.drop_idlest();
                }
                let ends = if to_server {
                    Endpoints {
                        client: pkt.src,
                        client_port: sport,
                        server: pkt.dst,
                        server_port: dport,
                    }
                } else {
                    Endpoints {
                        client: pkt.dst,
                        client_port: dport,
                        server: pkt.src,
                        server_port: sport,
                    }
                };
                // A kept session's bytes are counted already; a new one's are counted from
                // what it grows to.
                let http = match self.spare.pop() {
                    Some(h) => h,
                    None => {
                        let h = HttpSession::new(&self.opts.http);
                        self.http_memory += h.memory();
                        h
                    }
                };
                let session = Session {
                    http,
                    ends,
                    dirs: Default::default(),
                    last_seen: pkt.ts_sec,
                    fins: 0,
                };
                let fresh = Slot {
                    flow_id,
                    session: Some(session),
                    links: Links::NONE,
                };
                let i = match self.free.pop() {
                    Some(i) => {
                        if let Some(s) = self.slots.get_mut(i as usize) {
                            *s = fresh;
                        }
                        i
                    }
                    None => {
                        self.slots.push(fresh);
                        u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
                    }
                };
                self.sessions.insert(flow_id, i);
                i
            }
        };
        self.idle.push_front(&mut self.slots, slot);
        let Some(session) = self
            .slots
            .get_mut(slot as usize)
            .and_then(|s| s.session.as_mut())
        else {
            return;
        };
        session.last_seen = pkt.ts_sec;
        let memory_before = session.http.memory();
        let d = &mut session.dirs[usize::from(!to_server)];
        d.ttl = pkt.ttl;
        d.tos = pkt.tos;
        d.ip_id = pkt.ip_id;
        self.seg_alerted.clear();
        for r in raw_alerted {
            if !self.seg_alerted.contains(&r) && self.seg_alerted.len() < MAX_RAW_ALERTED {
                self.seg_alerted.push(r);
            }
        }
        for &r in &self.seg_alerted {
            if !d.raw_alerted.contains(&r) && d.raw_alerted.len() < MAX_RAW_ALERTED {
                d.raw_alerted.push(r);
            }
        }
        let dir = if to_server {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        let seg = Segment {
            seq,
            ack,
            flags,
            payload: pkt.payload,
            ts_sec: pkt.ts_sec,
            ts_usec: pkt.ts_usec,
        };
        let delivered = self.streams.segment(flow_id, dir, &seg);
        let (pool, ready) = (&mut self.pool, &mut self.ready);
        let (mut made, mut cut) = (0u64, 0u64);
        // Directions that completed a message during this segment.
        let mut emitted = [false; 2];
        for (bit, d) in [(1u8, Dir::ToServer), (2, Dir::ToClient)] {
            if delivered.fin(d) {
                session.fins |= bit;
            }
        }
        let over = delivered.rst || session.fins == 3;
        let Session {
            http, ends, dirs, ..
        } = session;
        let mut on_msg = |msg: &HttpMessage<'_>| {
            let i = usize::from(!msg.to_server);
            if *ready == pool.len() {
                pool.push(Rebuilt::default());
            }
            if let (Some(slot), Some(dir)) = (pool.get_mut(*ready), dirs.get_mut(i)) {
                if slot.fill(msg, ends, dir) {
                    cut += 1;
                }
                if let Some(e) = emitted.get_mut(i) {
                    *e = true;
                }
                *ready += 1;
                made += 1;
            }
        };
        for chunk in delivered.chunks() {
            if chunk.gap_before {
                // Bytes were skipped (a hole acknowledged past, or a queue over its cap): the
                // message in progress ends where the hole starts, as stream5 flushes up to a
                // hole and resumes after it; the bytes after it are never joined to it.
                http.finish(chunk.dir == Dir::ToServer, &mut on_msg);
            }
            http.feed(
                chunk.dir == Dir::ToServer,
                chunk.data,
                (chunk.ts_sec, chunk.ts_usec),
                &mut on_msg,
            );
        }
        for d in [Dir::ToServer, Dir::ToClient] {
            if delivered.fin(d) || delivered.rst {
                http.finish(d == Dir::ToServer, &mut on_msg);
            }
        }
        // A direction that completed messages forgets the raw alerts they carried, except
        // those of this segment when it also began the next message (its bytes may be where
        // the rule matched).
        let this_dir = usize::from(!to_server);
        for (i, (d, done)) in dirs.iter_mut().zip(emitted).enumerate() {
            if done {
                d.raw_alerted.clear();
                if i == this_dir && http.in_message(to_server) {
                    d.raw_alerted.extend_from_slice(&self.seg_alerted);
                }
            }
        }
        let memory_after = http.memory();
        self.http_memory = (self.http_memory + memory_after).saturating_sub(memory_before);
        self.messages += made;
        self.messages_cut += cut;
        if over {
            // Reset, or both FINs reached: the conversation is over (a new one on the same
            // ports starts afresh).
            self.drop_slot(slot);
        }
        if self.http_memory > self.opts.http_memcap {
            self.drop_spares();
        }
        while self.http_memory > self.opts.http_memcap && !self.sessions.is_empty() {
            self.drop_idlest();
        }
    }

    /// Ends the session in `slot`: its counters join the retired ones, its memory and its
    /// reassembly state go, the slot is free for the next session.
    fn drop_slot(&mut self, slot: u32) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let Some(session) = s.session.take() else {
            return;
        };
        let flow_id = s.flow_id;
        self.idle.unlink(&mut self.slots, slot);
        add_http(&mut self.http_retired, &session.http.stats());
        let mut http = session.http;
        if self.spare.len() < MAX_SPARE_SESSIONS && http.memory() <= MAX_SPARE_BYTES {
            // Kept, emptied, for the next connection: its bytes stay counted.
            http.recycle();
            self.spare.push(http);
        } else {
            self.http_memory = self.http_memory.saturating_sub(http.memory());
        }
        self.sessions.remove(&flow_id);
        self.streams.remove(flow_id);
        self.free.push(slot);
    }

    /// Frees the kept finished sessions (the HTTP memcap is reached).
    fn drop_spares(&mut self) {
        for h in self.spare.drain(..) {
            self.http_memory = self.http_memory.saturating_sub(h.memory());
        }
    }

    /// Drops the sessions idle past the timeout at `now`, idlest first (no allocation).
    pub fn expire(&mut self, now: i64) {
        let timeout = i64::from(self.opts.idle_timeout_s);
        loop {
            let tail = self.idle.tail;
            let idle_since = self
                .slots
                .get(tail as usize)
                .and_then(|s| s.session.as_ref())
                .map(|s| s.last_seen);
            match idle_since {
                Some(t) if now.saturating_sub(t) > timeout => {
                    self.drop_slot(tail);
                    self.sessions_dropped += 1;
                }
                _ => break,
            }
        }
    }

    /// Drops the least recently used session (the table is full, or over its memcap).
    fn drop_idlest(&mut self) {
        let tail = self.idle.tail;
        if tail != NIL {
            self.drop_slot(tail);
            self.sessions_dropped += 1;
        }
    }

    pub fn stats(&self) -> MessageStats {
        let mut http = self.http_retired;
        for s in self.slots.iter().filter_map(|s| s.session.as_ref()) {
            add_http(&mut http, &s.http.stats());
        }
        MessageStats {
            stream: self.streams.stats(),
            http,
            sessions: self.sessions.len(),
            sessions_dropped: self.sessions_dropped,
            messages: self.messages,
            messages_cut: self.messages_cut,
            http_memory: self.http_memory,
        }
    }
}

fn add_http(total: &mut HttpStats, s: &HttpStats) {
    total.requests += s.requests;
    total.responses += s.responses;
    total.truncated += s.truncated;
    total.parse_errors += s.parse_errors;
    total.chunk_errors += s.chunk_errors;
    total.gzip_errors += s.gzip_errors;
    total.not_http += s.not_http;
    total.head_overflows += s.head_overflows;
    total.pending_dropped += s.pending_dropped;
    total.unpaired_responses += s.unpaired_responses;
    total.upgraded += s.upgraded;
}

/// Writes an IPv4 or IPv6 + TCP packet from `src:sport` to `dst:dport` carrying `payload`
/// (PSH|ACK, sequence numbers 0, checksums computed) into `out`.
fn build_frame(
    out: &mut Vec<u8>,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    dir: &DirState,
    payload: &[u8],
) {
    out.clear();
    let tcp_len = 20 + payload.len();
    // The addresses' share of the TCP pseudo-header sum.
    let addr_sum = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(20 + tcp_len).unwrap_or(u16::MAX);
            out.extend_from_slice(&[0x45, dir.tos]);
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(&(dir.ip_id as u16).to_be_bytes());
            out.extend_from_slice(&[0x40, 0, dir.ttl.max(1), 6, 0, 0]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            let c = internet_checksum(0, out.get(..20).unwrap_or(&[]));
            if let Some(x) = out.get_mut(10..12) {
                x.copy_from_slice(&c.to_be_bytes());
            }
            checksum_sum(&s.octets()) + checksum_sum(&d.octets())
        }
        _ => {
            let (s, d) = (v6(src), v6(dst));
            let plen = u16::try_from(tcp_len).unwrap_or(u16::MAX);
            out.extend_from_slice(&[0x60 | (dir.tos >> 4), dir.tos << 4, 0, 0]);
            out.extend_from_slice(&plen.to_be_bytes());
            out.extend_from_slice(&[6, dir.ttl.max(1)]);
            out.extend_from_slice(&s);
            out.extend_from_slice(&d);
            checksum_sum(&s) + checksum_sum(&d)
        }
    };
    let tcp_at = out.len();
    out.extend_from_slice(&sport.to_be_bytes());
    out.extend_from_slice(&dport.to_be_bytes());
    out.extend_from_slice(&[0; 8]); // seq, ack
    out.extend_from_slice(&[5 << 4, stream::ACK | 0x08, 0xff, 0xff, 0, 0, 0, 0]);
    out.extend_from_slice(payload);
    let pseudo_sum = addr_sum + 6 + tcp_len as u64;
    let c = internet_checksum(pseudo_sum, out.get(tcp_at..).unwrap_or(&[]));
    if let Some(x) = out.get_mut(tcp_at + 16..tcp_at + 18) {
        x.copy_from_slice(&c.to_be_bytes());
    }
}

fn v6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(x) => x.octets(),
        IpAddr::V4(x) => x.to_ipv6_mapped().octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, linktype, DecodeOptions};

    #[test]
    fn message_frames_decode_with_good_checksums() {
        for (src, dst) in [
            (
                "192.0.2.1".parse().unwrap(),
                "198.51.100.7".parse().unwrap(),
            ),
            (
                "2001:db8::1".parse().unwrap(),
                "2001:db8::2".parse().unwrap(),
            ),
        ] {
            let mut f = Vec::new();
            let dir = DirState {
                ttl: 63,
                tos: 0,
                ip_id: 7,
                raw_alerted: Vec::new(),
            };
            build_frame(&mut f, src, 40000, dst, 80, &dir, b"GET / HTTP/1.1\r\n\r\n");
            let p = decode(
                linktype::RAW,
                1,
                0,
                f.len() as u32,
                &f,
                DecodeOptions { checksums: true },
            )
            .unwrap();
            assert_eq!(p.anomaly, None, "{src}");
            assert_eq!(p.payload, b"GET / HTTP/1.1\r\n\r\n");
            assert_eq!(
                (p.src, p.dst, p.sport(), p.dport()),
                (src, dst, Some(40000), Some(80))
            );
        }
    }
}
