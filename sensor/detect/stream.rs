//! TCP stream reassembly as Snort 2.9's stream5 does it with `policy first`: per flow and
//! direction, the payload of TCP segments is put back in sequence order and handed out as
//! in-order chunks, each stamped with the capture time of the segment holding its first byte.
//!
//! Owns the per-flow sequence state, the queues of out-of-order data, their memory cap and
//! counters. Does not track flows (the caller's flow table gives the flow id and which side is
//! the client), does not decode, and does not inspect what it delivers.
//!
//! Semantics, from Snort 2.9 `snort_stream5_tcp.c`:
//! - The initial sequence number comes from the SYN (client) and SYN-ACK (server). Without a
//!   handshake (`require_3whs` off, the default) a direction is picked up midstream at the
//!   first data segment's sequence number.
//! - `StreamQueue` with `REASSEMBLY_POLICY_FIRST`: a left overlap slides the new segment past
//!   the old data ("honoring old data"), a right overlap truncates it, old data fully inside a
//!   new segment stays and the new bytes fill around it — the bytes that arrived first always
//!   win. Held here as disjoint pieces; a new segment fills only gaps. Data before the delivery
//!   point (a retransmission of what was already handed out) is trimmed or ignored.
//! - Sequence numbers are compared modulo 2^32 (`SEQ_LT` and friends). A segment more than
//!   2^30 bytes (the largest scaled window) away from the delivery point is dropped.
//! - A hole that never fills does not stall a direction: when the peer acknowledges past it
//!   (the receiver got what the sensor missed), or when the direction's queue passes its cap
//!   (stream5 `max_queued_bytes` 1 MB, `max_queued_segs` 2621), the hole is skipped, counted,
//!   and what follows is delivered; the next chunk says a gap preceded it.
//! - stream5's global `memcap` (8 MB): beyond it the least recently used flow's state is
//!   dropped, counted.
//! - A FIN is reported once the direction's data up to it was delivered; a RST closes the flow
//!   (its queued data is dropped) and is reported at once.
//!
//! Memory: bounded by [`StreamOptions::memcap_bytes`] plus the output buffer of one call. An
//! in-order segment with nothing queued is copied once into the reused output buffer: no
//! allocation once it has grown.

use std::collections::HashMap;

use super::lru::{Linked, Links, Lru, NIL};

/// TCP flag bits (byte 13 of the header).
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// Farthest a segment may lie ahead of (or behind) the delivery point: the largest window a
/// scaled TCP window can announce.
const MAX_AHEAD: u32 = 1 << 30;
/// What one flow's state costs besides its queued bytes.
const FLOW_OVERHEAD: usize = 256;
/// What one queued piece costs besides its bytes.
const PIECE_OVERHEAD: usize = 48;

/// Limits of the reassembler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// Bytes of state over all flows (stream5 `memcap`, 8 MB); least recently used flows are
    /// dropped beyond it.
    pub memcap_bytes: usize,
    /// Out-of-order bytes one direction may hold (stream5 `max_queued_bytes`, 1 MB).
    pub max_queued_per_dir: usize,
    /// Out-of-order pieces one direction may hold (stream5 `max_queued_segs`, 2621).
    pub max_segs_per_dir: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            memcap_bytes: 8 * 1024 * 1024,
            max_queued_per_dir: 1024 * 1024,
            max_segs_per_dir: 2621,
        }
    }
}

/// Which way a segment travels, as the caller's flow table says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    ToServer,
    ToClient,
}

impl Dir {
    fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }

    fn other(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }
}

/// One TCP segment of a flow, as decoded.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub seq: u32,
    pub ack: u32,
    /// TCP flags byte ([`SYN`], [`ACK`], [`FIN`], [`RST`], …).
    pub flags: u8,
    pub payload: &'a [u8],
    pub ts_sec: i64,
    pub ts_usec: u32,
}

/// In-order data delivered for one direction, with the capture time of the segment holding
/// its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    pub dir: Dir,
    pub data: &'a [u8],
    pub ts_sec: i64,
    pub ts_usec: u32,
    /// Bytes of this direction were skipped (a hole never filled) right before this chunk.
    pub gap_before: bool,
}

/// Counters of the reassembler. `Copy`: read out for the stats line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Flows with reassembly state now.
    pub flows: u64,
    /// Flows whose state was created.
    pub flows_created: u64,
    /// Out-of-order bytes held now.
    pub bytes_queued: u64,
    /// Bytes of state held now (queued bytes and overheads).
    pub mem_in_use: u64,
    /// Segments with payload taken in.
    pub segments: u64,
    /// Segments overlapping data queued or delivered already (the old bytes won).
    pub overlaps: u64,
    /// Segments that arrived ahead of a hole and were queued.
    pub out_of_order: u64,
    /// Segments wholly before the delivery point (retransmissions), ignored.
    pub retransmits: u64,
    /// Holes skipped (acknowledged past by the peer, or a queue over its cap).
    pub gaps_skipped: u64,
    /// Bytes missing in the skipped holes.
    pub bytes_skipped: u64,
    /// Flows whose state was dropped to stay within the memcap.
    pub evictions: u64,
    /// Bytes dropped: no room even after skipping holes, or queued when a RST came.
    pub bytes_dropped: u64,
    /// Segments too far from the delivery point (2^30 bytes or more).
    pub out_of_window: u64,
    /// Bytes handed out in order.
    pub bytes_delivered: u64,
}

#[derive(Debug)]
struct Piece {
    seq: u32,
    data: Vec<u8>,
    ts_sec: i64,
    ts_usec: u32,
}

/// One direction's receiver state.
#[derive(Debug, Default)]
struct Half {
    started: bool,
    /// Next sequence number to deliver.
    next: u32,
    /// Disjoint pieces ahead of `next`, in sequence order.
    queue: Vec<Piece>,
    queued: usize,
    /// Sequence number of the FIN (end of this direction's data).
    fin: Option<u32>,
    fin_reported: bool,
    /// The next delivered chunk follows skipped bytes.
    gap: bool,
}

impl Half {
    /// Distance from the delivery point to `seq` (modulo 2^32, as a signed number).
    fn rel(&self, seq: u32) -> i64 {
        i64::from(seq.wrapping_sub(self.next) as i32)
    }
}

#[derive(Debug)]
struct FlowState {
    halves: [Half; 2],
    closed: bool,
}

#[derive(Debug)]
struct Slot {
    links: Links,
    id: u64,
    state: Option<FlowState>,
}

impl Linked for Slot {
    fn links(&mut self) -> &mut Links {
        &mut self.links
    }
}

/// Where a chunk lies in the output buffer.
#[derive(Debug, Clone, Copy)]
struct ChunkMeta {
    dir: Dir,
    start: usize,
    end: usize,
    ts_sec: i64,
    ts_usec: u32,
    gap_before: bool,
}

/// What one segment made deliverable.
#[derive(Debug)]
pub struct Delivered<'a> {
    data: &'a [u8],
    chunks: &'a [ChunkMeta],
    fin: [bool; 2],
    /// The flow was reset: its state is closed (queued data dropped); the consumer should
    /// finish what it holds for both directions.
    pub rst: bool,
}

impl<'a> Delivered<'a> {
    /// The newly contiguous data, in delivery order (possibly of both directions: an ACK can
    /// release the peer's queue past a hole).
    pub fn chunks(&self) -> impl Iterator<Item = Chunk<'a>> + '_ {
        self.chunks.iter().filter_map(|c| {
            Some(Chunk {
                dir: c.dir,
                data: self.data.get(c.start..c.end)?,
                ts_sec: c.ts_sec,
                ts_usec: c.ts_usec,
                gap_before: c.gap_before,
            })
        })
    }

    /// Whether `dir`'s FIN was reached with this segment: all its data has been delivered.
    pub fn fin(&self, dir: Dir) -> bool {
        self.fin[dir.index()]
    }

    /// Nothing delivered and nothing to report.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() && !self.fin[0] && !self.fin[1] && !self.rst
    }
}

/// The reassembly table: one entry per flow id, both directions in it.
///
/// # Resource usage
/// At most [`StreamOptions::memcap_bytes`] of state (least recently used flows dropped
/// beyond it), plus an output buffer as large as the most one call delivered.
#[derive(Debug)]
pub struct Reassembler {
    opts: StreamOptions,
    map: HashMap<u64, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    lru: Lru,
    mem: usize,
    stats: StreamStats,
    out: Vec<u8>,
    chunks: Vec<ChunkMeta>,
    fin: [bool; 2],
    gaps: Vec<(u32, u32)>,
}

impl Reassembler {
    pub fn new(opts: StreamOptions) -> Reassembler {
        Reassembler {
            opts,
            map: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            lru: Lru::default(),
            mem: 0,
            stats: StreamStats::default(),
            out: Vec::new(),
            chunks: Vec::new(),
            fin: [false; 2],
            gaps: Vec::new(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> StreamStats {
        let queued: usize = self
            .slots
            .iter()
            .filter_map(|s| s.state.as_ref())
            .flat_map(|f| f.halves.iter())
            .map(|h| h.queued)
            .sum();
        StreamStats {
            flows: self.map.len() as u64,
            bytes_queued: queued as u64,
            mem_in_use: self.mem as u64,
            ..self.stats
        }
    }

    /// Flows with state now.
    pub fn flows(&self) -> usize {
        self.map.len()
    }

    /// Drops a flow's state (the flow expired or was evicted from the flow table). `false`
    /// when it had none.
    pub fn remove(&mut self, flow: u64) -> bool {
        let Some(i) = self.map.remove(&flow) else {
            return false;
        };
        self.free_slot(i);
        true
    }

    fn free_slot(&mut self, i: u32) {
        if (i as usize) >= self.slots.len() {
            return;
        }
        self.lru.unlink(&mut self.slots, i);
        if let Some(slot) = self.slots.get_mut(i as usize) {
            if let Some(f) = slot.state.take() {
                let held: usize = f
                    .halves
                    .iter()
                    .flat_map(|h| h.queue.iter())
                    .map(|p| p.data.len() + PIECE_OVERHEAD)
                    .sum();
                self.mem = self.mem.saturating_sub(held + FLOW_OVERHEAD);
            }
        }
        self.free.push(i);
    }

    /// Takes in one TCP segment of flow `flow` travelling `dir`; returns the data it made
    /// contiguous (for `dir`, and for the other direction when its ACK moved the peer past a
    /// hole) and the FIN/RST news.
    ///
    /// # Panics
    /// Never, whatever the numbers.
    pub fn segment(&mut self, flow: u64, dir: Dir, seg: &Segment<'_>) -> Delivered<'_> {
        self.out.clear();
        self.chunks.clear();
        self.fin = [false; 2];
        let mut rst = false;
        if let Some(i) = self.slot_of(flow) {
            if let Some(mut state) = self.slots.get_mut(i as usize).and_then(|s| s.state.take()) {
                rst = self.process(i, &mut state, dir, seg);
                if let Some(s) = self.slots.get_mut(i as usize) {
                    s.state = Some(state);
                }
            }
        }
        Delivered {
            data: &self.out,
            chunks: &self.chunks,
            fin: self.fin,
            rst,
        }
    }

    /// The slot of `flow`, created when new (after making room), moved to the front of the
    /// recency order.
    fn slot_of(&mut self, flow: u64) -> Option<u32> {
        if let Some(&i) = self.map.get(&flow) {
            self.lru.unlink(&mut self.slots, i);
            self.lru.push_front(&mut self.slots, i);
            return Some(i);
        }
        while self.mem + FLOW_OVERHEAD > self.opts.memcap_bytes {
            if !self.evict_lru(NIL) {
                return None;
            }
        }
        let state = FlowState {
            halves: [Half::default(), Half::default()],
            closed: false,
        };
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(self.slots.len()).ok().filter(|&i| i != NIL)?;
                self.slots.push(Slot {
                    links: Links::NONE,
                    id: flow,
                    state: None,
                });
                i
            }
        };
        let slot = self.slots.get_mut(i as usize)?;
        slot.id = flow;
        slot.state = Some(state);
        self.lru.push_front(&mut self.slots, i);
        self.map.insert(flow, i);
        self.mem += FLOW_OVERHEAD;
        self.stats.flows_created += 1;
        Some(i)
    }

    /// Drops the least recently used flow other than slot `keep`. `false` when there is none.
    fn evict_lru(&mut self, keep: u32) -> bool {
        let mut i = self.lru.tail;
        if i != NIL && i == keep {
            i = self
                .slots
                .get_mut(i as usize)
                .map_or(NIL, |s| s.links().prev);
        }
        if i == NIL {
            return false;
        }
        let Some(id) = self.slots.get(i as usize).map(|s| s.id) else {
            return false;
        };
        self.map.remove(&id);
        self.free_slot(i);
        self.stats.evictions += 1;
        true
    }

    /// Returns whether the segment reset the flow.
    fn process(&mut self, slot: u32, f: &mut FlowState, dir: Dir, seg: &Segment<'_>) -> bool {
        if f.closed {
            return false;
        }
        let d = dir.index();
        if seg.flags & RST != 0 {
            // The flow is over: what is queued past a hole will never be delivered.
            for h in &mut f.halves {
                let held: usize = h.queue.iter().map(|p| p.data.len() + PIECE_OVERHEAD).sum();
                self.stats.bytes_dropped += h.queued as u64;
                self.mem = self.mem.saturating_sub(held);
                h.queue = Vec::new();
                h.queued = 0;
            }
            f.closed = true;
            return true;
        }
        {
            let h = &mut f.halves[d];
            if seg.flags & SYN != 0 && !h.started {
                // The ISN: data starts one past it.
                h.started = true;
                h.next = seg.seq.wrapping_add(1);
            }
        }
        let data_seq = if seg.flags & SYN != 0 {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        if !seg.payload.is_empty() {
            self.stats.segments += 1;
            let h = &mut f.halves[d];
            if !h.started {
                // Midstream pickup: stream5 without `require_3whs` starts at the first data.
                h.started = true;
                h.next = data_seq;
            }
            self.data(slot, f, dir, data_seq, seg);
        }
        if seg.flags & FIN != 0 {
            let h = &mut f.halves[d];
            if !h.started {
                h.started = true;
                h.next = data_seq;
            }
            let fin_seq = data_seq.wrapping_add(seg.payload.len() as u32);
            if h.fin.is_none() && h.rel(fin_seq) >= 0 {
                h.fin = Some(fin_seq);
            }
            self.check_fin(f, dir);
        }
        if seg.flags & ACK != 0 {
            let o = dir.other();
            if f.halves[o.index()].started {
                self.acked(f, o, seg.ack);
            }
        }
        false
    }

    /// Payload of a segment at `seq`.
    fn data(&mut self, slot: u32, f: &mut FlowState, dir: Dir, seq: u32, seg: &Segment<'_>) {
        let d = dir.index();
        if seg.payload.len() >= MAX_AHEAD as usize {
            self.stats.out_of_window += 1;
            return;
        }
        let len = seg.payload.len() as i64;
        loop {
            let h = &mut f.halves[d];
            let rel = h.rel(seq);
            if rel.unsigned_abs() >= u64::from(MAX_AHEAD) {
                self.stats.out_of_window += 1;
                return;
            }
            if rel + len <= 0 {
                self.stats.retransmits += 1;
                return;
            }
            // Trim what was delivered already: the old bytes won.
            let skip = (-rel).max(0) as usize;
            let payload = seg.payload.get(skip..).unwrap_or(&[]);
            let start = seq.wrapping_add(skip as u32);
            if skip > 0 {
                self.stats.overlaps += 1;
            }
            let rel = rel.max(0) as u32;
            if rel == 0 && h.queue.is_empty() {
                // In order with nothing queued: straight out, no copy kept.
                self.emit(dir, h, payload, seg.ts_sec, seg.ts_usec);
                self.check_fin(f, dir);
                return;
            }
            // Policy first: only the gaps between queued pieces take the new bytes.
            self.gaps.clear();
            let end = rel + payload.len() as u32;
            let mut cursor = rel;
            for p in &h.queue {
                let ps = p.seq.wrapping_sub(h.next);
                let pe = ps.wrapping_add(p.data.len() as u32);
                if ps >= end {
                    break;
                }
                if pe <= cursor {
                    continue;
                }
                if ps > cursor {
                    self.gaps.push((cursor, ps));
                }
                cursor = cursor.max(pe);
            }
            if cursor < end {
                self.gaps.push((cursor, end));
            }
            let new_bytes: usize = self.gaps.iter().map(|(a, b)| (b - a) as usize).sum();
            if skip == 0 && new_bytes < payload.len() {
                self.stats.overlaps += 1;
            }
            if new_bytes == 0 {
                return;
            }
            let cost = new_bytes + self.gaps.len() * PIECE_OVERHEAD;
            let over_dir = rel > 0
                && (h.queued + new_bytes > self.opts.max_queued_per_dir
                    || h.queue.len() + self.gaps.len() > self.opts.max_segs_per_dir);
            let over_mem = self.mem + cost > self.opts.memcap_bytes;
            if over_dir || over_mem {
                if over_mem && self.evict_lru(slot) {
                    continue;
                }
                if rel > 0 {
                    // Skip the first hole and deliver what follows; then try again.
                    let before = h.next;
                    let target = h.queue.first().map_or(start, |p| p.seq);
                    let target = if h.rel(target) > h.rel(start) {
                        start
                    } else {
                        target
                    };
                    self.skip_to(dir, h, target);
                    self.deliver(dir, h);
                    self.check_fin(f, dir);
                    // Each round moves the delivery point; one that cannot would spin.
                    if f.halves[d].next == before {
                        self.stats.bytes_dropped += new_bytes as u64;
                        return;
                    }
                    continue;
                }
                self.stats.bytes_dropped += new_bytes as u64;
                return;
            }
            if rel > 0 {
                self.stats.out_of_order += 1;
            }
            let next = h.next;
            for &(a, b) in &self.gaps {
                let Some(bytes) = payload.get((a - rel) as usize..(b - rel) as usize) else {
                    continue;
                };
                let pseq = next.wrapping_add(a);
                let at = h.queue.partition_point(|p| p.seq.wrapping_sub(next) < a);
                h.queue.insert(
                    at,
                    Piece {
                        seq: pseq,
                        data: bytes.to_vec(),
                        ts_sec: seg.ts_sec,
                        ts_usec: seg.ts_usec,
                    },
                );
                h.queued += bytes.len();
                self.mem += bytes.len() + PIECE_OVERHEAD;
            }
            self.deliver(dir, h);
            self.check_fin(f, dir);
            return;
        }
    }

    /// Appends in-order bytes of `dir` to the output.
    fn emit(&mut self, dir: Dir, h: &mut Half, data: &[u8], ts_sec: i64, ts_usec: u32) {
        if data.is_empty() {
            return;
        }
        let start = self.out.len();
        self.out.extend_from_slice(data);
        self.chunks.push(ChunkMeta {
            dir,
            start,
            end: self.out.len(),
            ts_sec,
            ts_usec,
            gap_before: std::mem::take(&mut h.gap),
        });
        h.next = h.next.wrapping_add(data.len() as u32);
        self.stats.bytes_delivered += data.len() as u64;
    }

    /// Hands out the queued pieces that start at the delivery point, in order.
    fn deliver(&mut self, dir: Dir, h: &mut Half) {
        let n = h
            .queue
            .iter()
            .scan(h.next, |next, p| {
                (p.seq == *next).then(|| {
                    *next = next.wrapping_add(p.data.len() as u32);
                })
            })
            .count();
        if n == 0 {
            return;
        }
        let mut queue = std::mem::take(&mut h.queue);
        for p in queue.drain(..n) {
            h.queued = h.queued.saturating_sub(p.data.len());
            self.mem = self.mem.saturating_sub(p.data.len() + PIECE_OVERHEAD);
            self.emit(dir, h, &p.data, p.ts_sec, p.ts_usec);
        }
        h.queue = queue;
    }

    /// Moves the delivery point forward to `target` over bytes never seen (a hole), counted;
    /// queued data before `target` is kept only from `target` on.
    fn skip_to(&mut self, _dir: Dir, h: &mut Half, target: u32) {
        let n = h.rel(target);
        if n <= 0 {
            return;
        }
        self.stats.gaps_skipped += 1;
        self.stats.bytes_skipped += n as u64;
        h.next = target;
        h.gap = true;
        self.drop_behind(h);
    }

    /// Keeps the queue ahead of the delivery point after it moved other than by delivering:
    /// pieces wholly behind it are dropped, one straddling it loses its front (counted as
    /// dropped). A piece left behind would never be delivered nor removed, and the queue's
    /// offsets from `next` would wrap.
    fn drop_behind(&mut self, h: &mut Half) {
        // Pieces are disjoint and in order, and `next` moved less than 2^30 past where they
        // were queued: those behind it are a prefix.
        let mut gone = 0;
        for p in &mut h.queue {
            let behind = h.next.wrapping_sub(p.seq) as i32;
            if behind <= 0 {
                break;
            }
            let cut = (behind as usize).min(p.data.len());
            self.stats.bytes_dropped += cut as u64;
            h.queued = h.queued.saturating_sub(cut);
            self.mem = self.mem.saturating_sub(cut);
            if cut == p.data.len() {
                self.mem = self.mem.saturating_sub(PIECE_OVERHEAD);
                gone += 1;
            } else {
                p.data.drain(..cut);
                p.seq = h.next;
                break;
            }
        }
        h.queue.drain(..gone);
    }

    /// The peer acknowledged `dir`'s data up to `ack`: holes before it will never fill (the
    /// receiver has the bytes the sensor missed), so they are skipped and what is queued before
    /// `ack` is delivered.
    fn acked(&mut self, f: &mut FlowState, dir: Dir, ack: u32) {
        let h = &mut f.halves[dir.index()];
        // The FIN takes a sequence number of its own: an ACK of it acknowledges no data.
        let limit = match h.fin {
            Some(fin) if h.rel(ack) > h.rel(fin) => fin,
            _ => ack,
        };
        let ahead = h.rel(limit);
        if ahead <= 0 || ahead >= i64::from(MAX_AHEAD) {
            return;
        }
        loop {
            self.deliver(dir, h);
            if h.rel(limit) <= 0 {
                break;
            }
            match h.queue.first().map(|p| p.seq) {
                Some(s) if h.rel(s) < h.rel(limit) => self.skip_to(dir, h, s),
                _ => {
                    self.skip_to(dir, h, limit);
                    // Data queued from `limit` on follows at once, unless `limit` is the FIN:
                    // its sequence number carries no data, so the FIN is reported and bytes
                    // queued at it lose their first byte.
                    if h.fin != Some(h.next) {
                        self.deliver(dir, h);
                    }
                    break;
                }
            }
        }
        self.check_fin(f, dir);
    }

    /// Reports `dir`'s FIN once its data is all delivered.
    fn check_fin(&mut self, f: &mut FlowState, dir: Dir) {
        let h = &mut f.halves[dir.index()];
        if let Some(fin) = h.fin {
            if !h.fin_reported && h.next == fin {
                h.fin_reported = true;
                h.next = fin.wrapping_add(1);
                self.fin[dir.index()] = true;
                self.drop_behind(h);
            }
        }
    }
}

#[cfg(test)]
mod tests;
