//! Reading the ring back for the evidence store, on the writer thread: the packets of an
//! alert's conversation from `pre_s` before the alert.
//!
//! Scanning the ring's last minute for every event would cost the whole window per event (a
//! gateway that alerts often would read gigabytes a second). Instead every ring byte is read
//! at most once: the region of a held file not read yet is scanned when an event needs it,
//! and each record's place is put in an index by conversation; an event then reads only its
//! own conversation's records, by offset. Nothing is read while no event asks; the index holds
//! the records of the last `pre_s` (plus a margin) and no more than [`MAX_LOCS`] of them.
//!
//! Ring files are the ring's own classic pcap (little-endian, microseconds, one link type):
//! records are parsed here directly, so reading can resume at any record boundary.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;

use super::key::{ConvKey, Matcher};
use crate::decode::{self, DecodeOptions};
use crate::ring::Held;

/// Records indexed at most (24 bytes each, plus the conversations' keys, ~100 MB in all):
/// past it the oldest are dropped and the events that would need them are told so.
pub const MAX_LOCS: usize = 2 << 20;

/// Largest record the ring writes (libpcap's limit).
const MAX_RECORD: usize = 262_144;

/// Bytes read from a file at a time while scanning: more than any record, so a chunk read
/// from a record's start always holds it whole.
const CHUNK: usize = 1 << 20;
const _: () = assert!(CHUNK > 16 + MAX_RECORD);

/// Where one record is.
#[derive(Debug, Clone, Copy)]
struct Loc {
    /// 1 + the index of the conversation's previous record in `locs` (0: none).
    prev: u32,
    file: u32,
    offset: u64,
    ts_us: i64,
}

/// A ring file the index has read (some of).
struct Scanned {
    file: File,
    /// For messages.
    path: std::path::PathBuf,
    linktype: i32,
    /// Read (and indexed) up to here, a record boundary.
    scanned: u64,
    /// Newest record time seen in it.
    last_us: i64,
    /// Read to its end while closed (limit unbounded): it will not grow.
    complete: bool,
}

/// One record read back for an event.
pub(crate) struct Record {
    pub sec: i64,
    pub usec: u32,
    pub wire_len: u32,
    pub data: Vec<u8>,
}

/// What a read-back found for an event.
pub(crate) struct Found {
    pub records: Vec<Record>,
    /// The index no longer held the start of the window (memory cap).
    pub partial: bool,
}

/// The ring files read so far and where each conversation's records are.
#[derive(Default)]
pub(crate) struct BackRead {
    /// File id → state; ids grow with the ring's sequence (names sort by it).
    files: BTreeMap<u32, Scanned>,
    names: HashMap<String, u32>,
    next_id: u32,
    /// Each conversation's newest record; the records chain back through [`Loc::prev`].
    heads: HashMap<ConvKey, u32, ahash::RandomState>,
    locs: Vec<Loc>,
    /// Records older than this are no longer indexed.
    horizon_us: i64,
    /// Evict again once the index passes this many records.
    evict_at: usize,
    buf: Vec<u8>,
}

impl BackRead {
    /// Takes the ring files an event held (keeping the descriptors of files not seen yet) and
    /// returns their ids with the event's limit in each.
    pub(crate) fn register(&mut self, held: Vec<Held>) -> Vec<(u32, u64)> {
        let mut allowed: Vec<(u32, u64)> = Vec::with_capacity(held.len());
        for h in held {
            let Some(name) = h
                .path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let id = match (self.names.get(&name), h.file) {
                (Some(&id), _) => id,
                // Handed over before and dropped since (older than every window).
                (None, None) => continue,
                (None, Some(file)) => {
                    let Some(linktype) = read_linktype(&file) else {
                        tracing::warn!(file = %h.path.display(), "ring file header unreadable; not read back for evidence");
                        continue;
                    };
                    let id = self.next_id;
                    self.next_id += 1;
                    self.names.insert(name, id);
                    self.files.insert(
                        id,
                        Scanned {
                            file,
                            path: h.path,
                            linktype,
                            scanned: 24,
                            last_us: i64::MIN,
                            complete: false,
                        },
                    );
                    id
                }
            };
            allowed.push((id, h.limit));
        }
        allowed
    }

    /// The conversation's records in `allowed` (the ring files an event held, as
    /// [`BackRead::register`] numbered them, each with the event's limit in it) from
    /// `pre_from_us` on, in ring order; `margin_us` is how much older than this event's window
    /// the index keeps for the next events.
    pub(crate) fn read(
        &mut self,
        allowed: &[(u32, u64)],
        key: ConvKey,
        pre_from_us: i64,
        margin_us: i64,
    ) -> Found {
        for &(id, limit) in allowed {
            self.scan(id, limit);
        }
        let partial = pre_from_us < self.horizon_us;
        let mut locs: Vec<Loc> = Vec::new();
        let portless = ConvKey::new(key.proto, key.lo.0, 0, key.hi.0, 0);
        for k in [key, portless] {
            let mut at = self.heads.get(&k).copied().unwrap_or(0);
            while let Some(l) = at.checked_sub(1).and_then(|i| self.locs.get(i as usize)) {
                if l.ts_us >= pre_from_us
                    && allowed
                        .iter()
                        .any(|&(f, lim)| f == l.file && l.offset < lim)
                {
                    locs.push(*l);
                }
                at = l.prev;
            }
            if !key.has_ports() {
                break;
            }
        }
        locs.sort_by_key(|l| (l.file, l.offset));
        let mut matcher = Matcher::new(key);
        let mut records = Vec::new();
        for l in locs {
            let Some(f) = self.files.get(&l.file) else {
                continue;
            };
            let Some(rec) = read_record(&f.file, l.offset) else {
                continue;
            };
            let ok = decode::decode(
                f.linktype,
                rec.sec,
                rec.usec,
                rec.wire_len,
                &rec.data,
                DecodeOptions { checksums: false },
            )
            .is_ok_and(|p| matcher.matches(&p));
            if ok {
                records.push(rec);
            }
        }
        self.evict(pre_from_us.saturating_sub(margin_us));
        Found { records, partial }
    }

    /// Reads file `id` from where it was left up to `limit` (or its end), indexing each record.
    fn scan(&mut self, id: u32, limit: u64) {
        let Some(f) = self.files.get_mut(&id) else {
            return;
        };
        let mut pos = f.scanned;
        let linktype = f.linktype;
        loop {
            if pos >= limit {
                break;
            }
            let want = CHUNK.min(usize::try_from(limit - pos).unwrap_or(CHUNK));
            self.buf.resize(want, 0);
            let n = match f.file.read_at(&mut self.buf[..want], pos) {
                Ok(0) => {
                    f.complete |= limit == u64::MAX;
                    break;
                }
                Err(_) => break,
                Ok(n) => n,
            };
            let mut at = 0usize;
            while at + 16 <= n {
                let h: &[u8; 16] = self.buf[at..at + 16].try_into().unwrap_or(&[0; 16]);
                let (sec, usec, caplen, wire) = crate::pcap::parse_record_header(h);
                let caplen = caplen as usize;
                if caplen > MAX_RECORD || usec >= 1_000_000 {
                    // Not a record the ring wrote: stop here for good, and say so.
                    tracing::warn!(
                        file = %f.path.display(),
                        offset = pos + at as u64,
                        "a ring file holds a record the ring cannot have written; the rest of it is not read back for evidence"
                    );
                    f.scanned = u64::MAX;
                    return;
                }
                if at + 16 + caplen > n {
                    // Read on from this record (a chunk always holds a whole record).
                    break;
                }
                let ts_us = i64::from(sec) * 1_000_000 + i64::from(usec);
                let data = &self.buf[at + 16..at + 16 + caplen];
                if ts_us >= self.horizon_us {
                    if let Some(key) = index_key(linktype, sec, usec, wire, data) {
                        let next = u32::try_from(self.locs.len() + 1).unwrap_or(0);
                        let head = self.heads.entry(key).or_insert(0);
                        self.locs.push(Loc {
                            prev: *head,
                            file: id,
                            offset: pos + at as u64,
                            ts_us,
                        });
                        *head = next;
                    }
                }
                f.last_us = f.last_us.max(ts_us);
                at += 16 + caplen;
            }
            if at == 0 {
                // A torn record (being written, or cut by a crash): nothing more to read yet.
                break;
            }
            pos += at as u64;
        }
        f.scanned = f.scanned.max(pos);
    }

    /// Drops what is older than `cutoff_us` once the index has grown, and the files nothing
    /// indexed points into any more; past [`MAX_LOCS`] the horizon moves up until half fit.
    fn evict(&mut self, cutoff_us: i64) {
        // Files wholly older than any window to come are closed at once (a rotated-out ring
        // file's space is freed only when its last descriptor goes); their records left in
        // the index are skipped when looked up.
        let before = self.horizon_us.max(cutoff_us);
        self.files.retain(|_, f| !f.complete || f.last_us >= before);
        self.names.retain(|_, id| self.files.contains_key(id));
        if self.locs.len() < self.evict_at.max(1 << 16) && self.locs.len() <= MAX_LOCS {
            return;
        }
        let mut horizon = self.horizon_us.max(cutoff_us);
        let newest = self.locs.last().map_or(horizon, |l| l.ts_us);
        // Over the cap within the window: keep the newer half of the time span.
        while self.locs.iter().filter(|l| l.ts_us >= horizon).count() > MAX_LOCS / 2 {
            horizon += (newest - horizon).max(2) / 2;
        }
        // Rebuild the chains over the records kept (in order, so every `prev` points back).
        let mut map = vec![0u32; self.locs.len()];
        let mut kept: Vec<Loc> = Vec::with_capacity(self.locs.len() / 2);
        for (i, l) in self.locs.iter().enumerate() {
            if l.ts_us < horizon {
                continue;
            }
            let prev = l.prev.checked_sub(1).map_or(0, |p| map[p as usize]);
            kept.push(Loc { prev, ..*l });
            map[i] = kept.len() as u32;
        }
        self.heads.retain(|_, h| {
            *h = h.checked_sub(1).map_or(0, |i| map[i as usize]);
            *h != 0
        });
        self.locs = kept;
        self.horizon_us = horizon;
        self.evict_at = self.locs.len().saturating_mul(2);
        self.files
            .retain(|_, f| !f.complete || f.last_us >= horizon);
        self.names.retain(|_, id| self.files.contains_key(id));
    }
}

/// The conversation key a stored frame is indexed under ([`ConvKey::of`] of its decoding):
/// IPv4 read at fixed offsets, anything else decoded in full.
fn index_key(linktype: i32, sec: u32, usec: u32, wire: u32, data: &[u8]) -> Option<ConvKey> {
    if let Some((proto, src, dst, sp, dp)) = decode::peek_v4_tuple(linktype, data) {
        return Some(ConvKey::new(
            proto,
            src.to_be_bytes().into(),
            sp,
            dst.to_be_bytes().into(),
            dp,
        ));
    }
    decode::decode(
        linktype,
        i64::from(sec),
        usec,
        wire,
        data,
        DecodeOptions { checksums: false },
    )
    .ok()
    .map(|p| ConvKey::of(&p))
}

/// The link type in a ring file's header (classic pcap, little-endian, microseconds).
fn read_linktype(f: &File) -> Option<i32> {
    let mut h = [0u8; 24];
    f.read_exact_at(&mut h, 0).ok()?;
    if h[0..4] != [0xd4, 0xc3, 0xb2, 0xa1] {
        return None;
    }
    i32::try_from(u32::from_le_bytes([h[20], h[21], h[22], h[23]]) & 0x0fff_ffff).ok()
}

/// The record at `offset`.
fn read_record(f: &File, offset: u64) -> Option<Record> {
    let mut h = [0u8; 16];
    f.read_exact_at(&mut h, offset).ok()?;
    let (sec, usec, caplen, wire_len) = crate::pcap::parse_record_header(&h);
    if caplen as usize > MAX_RECORD {
        return None;
    }
    let mut data = vec![0u8; caplen as usize];
    f.read_exact_at(&mut data, offset + 16).ok()?;
    Some(Record {
        sec: i64::from(sec),
        usec,
        wire_len,
        data,
    })
}
