//! IPv4 defragmentation as Snort 2.9's frag3 does it with `policy first`: fragments are held
//! per datagram, keyed by (source, destination, IP id, protocol), until the datagram is whole;
//! then it is rebuilt into one IPv4 datagram the decoder parses with the raw-IP link type.
//!
//! Owns the fragment trackers, their memory cap, timeouts and anomaly counters. Does not decide
//! which packets the rules see (the pipeline does, from [`held_from_detection`]) and does not
//! decode: it reads a decoded [`Packet`] and writes bytes.
//!
//! Which packets Snort inspects with frag3 on (spp_frag3.c `Frag3Defrag`, snort.c
//! `ProcessPacket`): every packet that is not an IPv4 fragment, as without frag3; a UDP first
//! fragment, fully; any other fragment without its content rules (`DisableDetect`), and not at
//! all when it completes a datagram; the rebuilt datagram, fully, stamped with the completing
//! fragment's time, before that fragment.
//!
//! Semantics, from Snort 2.9 `spp_frag3.c`:
//! - `Frag3Insert` with `FRAG_POLICY_FIRST`: on a left overlap the new fragment slides right,
//!   on a right overlap it is truncated, an existing fragment inside it is kept — the bytes that
//!   arrived first always win. Held here as disjoint pieces; a new fragment fills only gaps.
//! - A non-last fragment whose end is not a multiple of 8 is a short fragment (`bonk`, `jolt`):
//!   counted, its end rounded down, still used.
//! - A last fragment overlapping data that lies beyond its end is teardrop-like: the datagram is
//!   marked bad and never rebuilt. A fragment past the end set by the last fragment is oversize
//!   and dropped. A datagram growing beyond 65535 bytes is marked bad. Zero-size fragments are
//!   dropped. Each is counted.
//! - `CheckTimeout`: a tracker expires when `now - first fragment's time >= frag_timeout`
//!   (60 s by default); frag3's global `memcap` (4 MB) and `max_frags` (8192) prune the least
//!   recently created trackers, counted as evictions.
//! - `Frag3Rebuild`: the rebuilt datagram carries the offset-0 fragment's IP header (options
//!   included) with MF cleared, offset 0, total length and checksum fixed.
//!
//! Not done (Snort options off by default or outside policy `first`): `ttl_limit`, `min_ttl`,
//! `overlap_limit`, `min_fragment_length`, per-host policies, IPv6 fragments.
//!
//! Memory: the table, the pieces and the scratch vectors are bounded by
//! [`DefragOptions::memcap_bytes`] and the fragment caps; a packet that is not a fragment never
//! reaches this module.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::decode::{internet_checksum, Packet};

/// Largest IPv4 datagram (`IP_MAXPACKET`).
pub const IP_MAXPACKET: usize = 65_535;

/// What one tracker costs besides its pieces' bytes (the map entry, the header, the order).
const TRACKER_OVERHEAD: usize = 192;
/// What one held piece costs besides its bytes.
const PIECE_OVERHEAD: usize = 40;

/// Limits of the defragmenter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefragOptions {
    /// Bytes of fragment state over all datagrams (frag3_global `memcap`, 4 MB by default).
    pub memcap_bytes: usize,
    /// Seconds from a datagram's first fragment until it is given up (`timeout`, 60).
    pub timeout_s: u32,
    /// Pieces held over all datagrams (frag3_global `max_frags`, 8192).
    pub max_frags: usize,
    /// Pieces one datagram may hold; beyond it the datagram is dropped as an attack. A 1500
    /// byte MTU needs 44 fragments for the largest datagram, 8-byte fragments 8192.
    pub max_frags_per_datagram: usize,
}

impl Default for DefragOptions {
    fn default() -> Self {
        DefragOptions {
            memcap_bytes: 4 * 1024 * 1024,
            timeout_s: 60,
            max_frags: 8192,
            max_frags_per_datagram: 1024,
        }
    }
}

/// Counters of the defragmenter. `Copy`: read out for the stats line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// IPv4 fragments taken in.
    pub fragments: u64,
    /// Datagrams rebuilt.
    pub rebuilt: u64,
    /// Trackers (datagrams in reassembly) started.
    pub trackers: u64,
    /// Trackers given up after the timeout.
    pub timeouts: u64,
    /// Trackers dropped to stay within the memcap or the fragment cap.
    pub evicted: u64,
    /// Fragments overlapping data held already (the held bytes won).
    pub overlaps: u64,
    /// Last fragments ending before data already held (teardrop-like); datagram dropped.
    pub teardrop: u64,
    /// Datagrams that would exceed 65535 bytes; dropped.
    pub too_large: u64,
    /// Fragments past the end the last fragment set, or a second last fragment disagreeing.
    pub oversize: u64,
    /// Non-last fragments whose end is not a multiple of 8 (bonk, jolt).
    pub short_frag: u64,
    /// Fragments with no data (after the 8-byte rounding).
    pub zero_size: u64,
    /// Datagrams dropped for holding more than `max_frags_per_datagram` pieces.
    pub too_many_frags: u64,
    /// Fragments cut by the capture's snaplen (cannot be used).
    pub truncated: u64,
    /// Fragments not used: the anomalies above, fragments of a datagram already dropped, and
    /// fragments with no room left.
    pub discards: u64,
    /// Bytes of state held now.
    pub mem_in_use: u64,
}

/// (source, destination, IP id, protocol).
type Key = ([u8; 4], [u8; 4], u16, u8);

#[derive(Debug)]
struct Piece {
    off: u32,
    data: Vec<u8>,
}

impl Piece {
    fn end(&self) -> u32 {
        self.off + self.data.len() as u32
    }
}

#[derive(Debug)]
struct Tracker {
    /// Matches the order entry that created it (stale entries are skipped).
    gen: u64,
    start_sec: i64,
    /// IP header of the offset-0 fragment; empty until it is seen.
    header: Vec<u8>,
    /// Disjoint, sorted by offset.
    pieces: Vec<Piece>,
    /// Payload length, set by the last fragment.
    last_end: Option<u32>,
    /// Highest end of any fragment seen.
    max_end: u32,
    /// Bytes held in `pieces`.
    bytes: u32,
    /// Dropped datagram: its further fragments are swallowed until it times out.
    bad: bool,
    mem: usize,
}

/// Why a fragment was not used, or what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Held,
    Complete,
    Discarded,
}

/// The fragment table. One per pipeline; fed only IPv4 fragments.
///
/// # Resource usage
/// At most `memcap_bytes` of state plus one rebuilt datagram (at most 65535 bytes) in the
/// caller's buffer.
#[derive(Debug)]
pub struct Defrag {
    opts: DefragOptions,
    table: HashMap<Key, Tracker>,
    /// Trackers in creation order (oldest first); entries of removed trackers are stale.
    order: VecDeque<(Key, u64)>,
    next_gen: u64,
    pieces_total: usize,
    /// Bytes charged to every tracker (the one being filled included).
    mem: usize,
    stats: DefragStats,
    /// Gaps a new fragment fills (reused).
    gaps: Vec<(u32, u32)>,
}

/// True when frag3 holds this packet back from content detection because it will fold it into
/// a rebuilt datagram: any fragment with a non-zero offset, and a first fragment unless it is
/// UDP (spp_frag3.c `Frag3Defrag`: "if frag offset is 0 & UDP, let that packet go through …
/// the contents of that first frag will go through again with the defrag'd (built) packet").
/// Such a fragment gets `DisableDetect` (Snort 2.9 detect.h: content rules off, the rules
/// without content still run), and no detection at all when it is the one that completed its
/// datagram (`do_detect = 0` after `Frag3Rebuild`). IPv4 only.
pub fn held_from_detection(p: &Packet<'_>) -> bool {
    p.ip_version == 4 && (p.frag.offset != 0 || (p.frag.mf && p.ip_proto != 17))
}

/// The IP payload of `p` as captured: the bytes after its IP header, at most the IP length.
fn ip_payload<'a>(p: &Packet<'a>) -> Option<&'a [u8]> {
    let start = (p.ip_header.as_ptr() as usize).checked_sub(p.frame.as_ptr() as usize)?;
    let hlen = p.ip_header.len();
    let from = start.checked_add(hlen)?;
    let want = (p.ip_total_len as usize).checked_sub(hlen)?;
    let rest = p.frame.get(from..)?;
    rest.get(..want)
}

impl Defrag {
    pub fn new(opts: DefragOptions) -> Defrag {
        Defrag {
            opts,
            table: HashMap::new(),
            order: VecDeque::new(),
            next_gen: 0,
            pieces_total: 0,
            mem: 0,
            stats: DefragStats::default(),
            gaps: Vec::new(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DefragStats {
        DefragStats {
            mem_in_use: self.mem as u64,
            ..self.stats
        }
    }

    /// Datagrams in reassembly now.
    pub fn trackers(&self) -> usize {
        self.table.len()
    }

    /// Takes in one decoded packet. Packets that are not IPv4 fragments are ignored (`false`).
    /// When this fragment completes its datagram, the rebuilt datagram (an IPv4 header and
    /// payload, for the raw-IP link type) replaces the contents of `out` and the result is
    /// `true`. Fragments with a bad checksum should not be passed (Snort skips them).
    ///
    /// # Panics
    /// Never, whatever the packet holds.
    pub fn insert(&mut self, p: &Packet<'_>, out: &mut Vec<u8>) -> bool {
        let (IpAddr::V4(src), IpAddr::V4(dst)) = (p.src, p.dst) else {
            return false;
        };
        if p.ip_version != 4 || !p.frag.is_fragment() {
            return false;
        }
        self.stats.fragments += 1;
        self.expire(p.ts_sec);
        let Some(data) = ip_payload(p) else {
            self.stats.truncated += 1;
            self.stats.discards += 1;
            return false;
        };
        let key = (src.octets(), dst.octets(), p.ip_id as u16, p.ip_proto);
        let mut t = match self.table.remove(&key) {
            Some(t) => t,
            None => {
                if !self.make_room((key, u64::MAX), TRACKER_OVERHEAD, 0) {
                    self.stats.discards += 1;
                    return false;
                }
                self.stats.trackers += 1;
                let gen = self.next_gen;
                self.next_gen += 1;
                self.order.push_back((key, gen));
                self.mem += TRACKER_OVERHEAD;
                Tracker {
                    gen,
                    start_sec: p.ts_sec,
                    header: Vec::new(),
                    pieces: Vec::new(),
                    last_end: None,
                    max_end: 0,
                    bytes: 0,
                    bad: false,
                    mem: TRACKER_OVERHEAD,
                }
            }
        };
        let verdict = self.insert_into(key, &mut t, p, data);
        match verdict {
            Verdict::Complete => {
                self.rebuild(&t, out);
                self.drop_tracker(&mut t);
                self.stats.rebuilt += 1;
                self.compact_order();
                true
            }
            Verdict::Held | Verdict::Discarded => {
                if verdict == Verdict::Discarded {
                    self.stats.discards += 1;
                }
                self.table.insert(key, t);
                false
            }
        }
    }

    /// Frees a tracker's pieces (it stays a tracker: bad, or about to be dropped).
    fn release(&mut self, t: &mut Tracker) {
        self.pieces_total = self.pieces_total.saturating_sub(t.pieces.len());
        self.mem = self
            .mem
            .saturating_sub(t.mem.saturating_sub(TRACKER_OVERHEAD));
        t.pieces = Vec::new();
        t.header = Vec::new();
        t.bytes = 0;
        t.mem = TRACKER_OVERHEAD;
    }

    /// Frees a tracker that leaves the table for good.
    fn drop_tracker(&mut self, t: &mut Tracker) {
        self.release(t);
        self.mem = self.mem.saturating_sub(TRACKER_OVERHEAD);
    }

    fn mark_bad(&mut self, t: &mut Tracker) -> Verdict {
        t.bad = true;
        self.release(t);
        Verdict::Discarded
    }

    fn insert_into(&mut self, key: Key, t: &mut Tracker, p: &Packet<'_>, data: &[u8]) -> Verdict {
        if t.bad {
            return Verdict::Discarded;
        }
        let off = u32::from(p.frag.offset) * 8;
        let Some(mut end) = u32::try_from(data.len())
            .ok()
            .and_then(|l| off.checked_add(l))
        else {
            self.stats.too_large += 1;
            return self.mark_bad(t);
        };
        let hlen = p.ip_header.len() as u32;
        if p.frag.mf {
            if end % 8 != 0 {
                // Snort: "all non-last frags are supposed to end on 8-byte boundries".
                self.stats.short_frag += 1;
                end &= !7;
            }
            if t.last_end.is_some_and(|le| end > le) {
                self.stats.oversize += 1;
                return Verdict::Discarded;
            }
        }
        if end <= off {
            self.stats.zero_size += 1;
            return Verdict::Discarded;
        }
        // The rebuilt datagram carries the offset-0 fragment's header (up to 60 bytes), not
        // this one's: once that header is known, the farthest end held must fit under it too.
        let first_hlen = match (t.header.len(), p.frag.offset) {
            (0, 0) => hlen,
            (n, _) => n as u32,
        };
        let far = if first_hlen > 0 {
            end.max(t.max_end)
        } else {
            end
        };
        if (hlen.max(first_hlen) + far) as usize > IP_MAXPACKET {
            self.stats.too_large += 1;
            return self.mark_bad(t);
        }
        if !p.frag.mf {
            match t.last_end {
                Some(le) if le != end => {
                    self.stats.oversize += 1;
                    return Verdict::Discarded;
                }
                _ if end < t.max_end => {
                    // A last fragment with data already held beyond its end.
                    self.stats.teardrop += 1;
                    return self.mark_bad(t);
                }
                _ => t.last_end = Some(end),
            }
        }
        // Policy first: only the gaps between held pieces take the new bytes.
        self.gaps.clear();
        let mut cursor = off;
        let from = t.pieces.partition_point(|q| q.end() <= off);
        for q in t.pieces.get(from..).unwrap_or(&[]) {
            if q.off >= end {
                break;
            }
            if q.off > cursor {
                self.gaps.push((cursor, q.off));
            }
            cursor = cursor.max(q.end());
        }
        if cursor < end {
            self.gaps.push((cursor, end));
        }
        let new_bytes: u32 = self.gaps.iter().map(|(a, b)| b - a).sum();
        if new_bytes < end - off {
            self.stats.overlaps += 1;
        }
        if t.pieces.len() + self.gaps.len() > self.opts.max_frags_per_datagram {
            self.stats.too_many_frags += 1;
            return self.mark_bad(t);
        }
        let cost = self.gaps.len() * PIECE_OVERHEAD
            + new_bytes as usize
            + if p.frag.offset == 0 && t.header.is_empty() {
                p.ip_header.len()
            } else {
                0
            };
        if !self.make_room((key, t.gen), cost, self.gaps.len()) {
            return Verdict::Discarded;
        }
        if p.frag.offset == 0 && t.header.is_empty() {
            t.header.extend_from_slice(p.ip_header);
            t.mem += p.ip_header.len();
            self.mem += p.ip_header.len();
        }
        for i in 0..self.gaps.len() {
            let Some(&(a, b)) = self.gaps.get(i) else {
                break;
            };
            let Some(bytes) = data.get((a - off) as usize..(b - off) as usize) else {
                continue;
            };
            let at = t.pieces.partition_point(|q| q.off < a);
            t.pieces.insert(
                at,
                Piece {
                    off: a,
                    data: bytes.to_vec(),
                },
            );
            t.mem += PIECE_OVERHEAD + bytes.len();
            self.mem += PIECE_OVERHEAD + bytes.len();
            t.bytes += b - a;
            self.pieces_total += 1;
        }
        t.max_end = t.max_end.max(end);
        if !t.header.is_empty() && t.last_end == Some(t.bytes) {
            Verdict::Complete
        } else {
            Verdict::Held
        }
    }

    /// Evicts the oldest trackers (not `own`, the one being filled) until `bytes` more and
    /// `pieces` more fit. `false` when no room can be made (the fragment is dropped).
    fn make_room(&mut self, own: (Key, u64), bytes: usize, pieces: usize) -> bool {
        let mut kept = None;
        let mut ok = true;
        while self.mem + bytes > self.opts.memcap_bytes
            || self.pieces_total + pieces > self.opts.max_frags
        {
            let Some((key, gen)) = self.order.pop_front() else {
                ok = false;
                break;
            };
            if (key, gen) == own {
                kept = Some(own);
                continue;
            }
            if self.table.get(&key).is_some_and(|t| t.gen == gen) {
                if let Some(mut t) = self.table.remove(&key) {
                    self.drop_tracker(&mut t);
                    self.stats.evicted += 1;
                }
            }
        }
        if let Some(e) = kept {
            self.order.push_front(e);
        }
        ok
    }

    /// Gives up trackers whose first fragment is `timeout_s` or more older than `now_sec`
    /// (Snort `CheckTimeout`), oldest first. Called on every fragment and when idle.
    pub fn expire(&mut self, now_sec: i64) {
        let timeout = i64::from(self.opts.timeout_s);
        while let Some(&(key, gen)) = self.order.front() {
            match self.table.get(&key) {
                Some(t) if t.gen == gen => {
                    if now_sec.saturating_sub(t.start_sec) < timeout {
                        break;
                    }
                    if let Some(mut t) = self.table.remove(&key) {
                        self.drop_tracker(&mut t);
                        self.stats.timeouts += 1;
                    }
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Drops stale order entries when they outnumber the live trackers (completed datagrams
    /// leave theirs behind), so the order stays bounded by the table.
    fn compact_order(&mut self) {
        if self.order.len() > 4 * self.table.len() + 1024 {
            let table = &self.table;
            self.order
                .retain(|(k, g)| table.get(k).is_some_and(|t| t.gen == *g));
        }
    }

    /// Writes the rebuilt datagram of a complete tracker into `out`.
    fn rebuild(&self, t: &Tracker, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&t.header);
        for q in &t.pieces {
            out.extend_from_slice(&q.data);
        }
        let total = out.len().min(IP_MAXPACKET) as u16;
        if let Some(b) = out.get_mut(2..4) {
            b.copy_from_slice(&total.to_be_bytes());
        }
        // Flags and offset: reserved bit and DF kept, MF cleared, offset 0.
        if let Some(b) = out.get_mut(6..8) {
            let keep = u16::from_be_bytes([b[0], b[1]]) & 0xc000;
            b.copy_from_slice(&keep.to_be_bytes());
        }
        if let Some(b) = out.get_mut(10..12) {
            b.copy_from_slice(&[0, 0]);
        }
        let c = internet_checksum(0, out.get(..t.header.len()).unwrap_or(&[]));
        if let Some(b) = out.get_mut(10..12) {
            b.copy_from_slice(&c.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests;
