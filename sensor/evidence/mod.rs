//! The evidence store: for every alert event, the conversation's packets from `pre_s`
//! before the alert to `post_s` after its last alert, in one pcap per event that the ring
//! never rotates away (see [`store`] for the files).
//!
//! Two halves. The capture side, [`Recorder`], lives in the pipeline: when an alert is
//! written it opens an event (or folds the alert into the open event of the same
//! conversation), holds the ring files that may contain the packets from before the alert
//! open — so a rotation deleting them cannot lose them — and from then on copies the
//! conversation's packets into a batch as they pass. The writer thread ([`store::Store`])
//! reads the held ring files back, writes the event's pcap and its index entry, and applies the quota.
//! The capture thread never reads the ring and never waits for a disk write, except in a
//! replay, which waits for the writer rather than lose anything (`lossless`).
//!
//! Cost: with no event open, one branch per packet ([`Recorder::is_active`]); with events
//! open, one hash lookup of the packet's conversation (plus a scan of the few `tag:host`
//! events), no allocation; a copy only for the packets kept.
//!
//! What belongs to a conversation is [`key`]'s rule, shared with `investigate`.

mod backread;
pub mod key;
pub mod store;
pub mod tag;

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::decode::Packet;
use crate::ring::{Held, Ring};
use crate::rules::model::Rule;
use crate::rules::{Tag, TagHostDir, TagScope};
pub use key::{ConvKey, Matcher};
pub use store::{list, AlertRef, Listed, Sidecar, State};
use tag::{ExclusiveGate, FlowKey, TagBudget};

/// pcap record header: ts_sec, ts_usec, caplen, len.
const RECORD_HEADER: usize = 16;

/// Events open at once at most; alerts of further conversations keep no evidence (counted).
pub const MAX_OPEN: usize = 512;

/// A batch of copied packets is handed to the writer when it reaches this size.
const BATCH_BYTES: usize = 256 << 10;

/// Bytes of batches queued for the writer at most; past it a live sensor drops the copy
/// (counted per event) and a replay waits.
const MAX_QUEUED: usize = 64 << 20;

/// Ring files held open for writer reads at most; past it a live sensor keeps no packets
/// from before the alert for new events (said in their index entry) and a replay waits.
const MAX_HELD: usize = 256;

/// Options of the evidence store.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceOptions {
    pub dir: PathBuf,
    /// Quota of the whole store in bytes.
    pub quota: u64,
    pub pre_s: u32,
    pub post_s: u32,
    /// Per event.
    pub max_packets: u64,
    pub max_bytes: u64,
    /// Snort's `tagged_packet_limit` for rules with `tag` (0: none).
    pub tagged_packet_limit: u32,
    /// Wait for the writer instead of dropping copies when it is behind (replay).
    pub lossless: bool,
}

impl EvidenceOptions {
    /// From the `[evidence]` section; `log_dir` is the default's parent.
    pub fn from_config(c: &crate::config::EvidenceConfig, dir: PathBuf, lossless: bool) -> Self {
        EvidenceOptions {
            dir,
            quota: c.max_mb.saturating_mul(1024 * 1024),
            pre_s: c.pre_s,
            post_s: c.post_s,
            max_packets: c.max_packets,
            max_bytes: c.max_bytes,
            tagged_packet_limit: c.tagged_packet_limit,
            lossless,
        }
    }
}

/// Counters of the evidence store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvidenceStats {
    /// Events opened.
    pub events: u64,
    /// Events open now.
    pub open: u64,
    /// Alerts of new conversations that kept no evidence because [`MAX_OPEN`] were open.
    pub refused: u64,
    /// Packets copied after alerts.
    pub copied: u64,
    /// Copies dropped because the writer was behind (live only).
    pub lost: u64,
    /// Packets written to evidence files (from the ring and copied).
    pub written: u64,
    /// Events deleted by the quota.
    pub deleted: u64,
    pub write_errors: u64,
    /// Bytes in the store.
    pub store_bytes: u64,
}

/// Counters the writer thread shares with the capture side.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    queued_bytes: AtomicUsize,
    held_files: AtomicUsize,
    packets_written: AtomicU64,
    deleted: AtomicU64,
    write_errors: AtomicU64,
    store_bytes: AtomicU64,
}

/// What the capture side tells the writer, in capture order.
pub(crate) enum Msg {
    Start(Box<Start>),
    /// Copied packets: per record the event id (u64 LE), a pcap record header, the bytes.
    Batch(Vec<u8>),
    End(Box<End>),
    /// Write what is buffered (the flush timer).
    Flush,
    /// Write what is buffered, then answer.
    Sync(mpsc::SyncSender<()>),
    Shutdown,
}

pub(crate) struct Start {
    id: u64,
    name: String,
    key: ConvKey,
    linktype: u32,
    snaplen: u32,
    pre_from_us: i64,
    held: Vec<Held>,
    max_packets: u64,
    max_bytes: u64,
    sidecar: Sidecar,
}

pub(crate) struct End {
    id: u64,
    last_alert_us: i64,
    until_us: i64,
    alert_count: u64,
    alerts: Vec<AlertRef>,
    lost: u64,
    truncated: bool,
    reason: &'static str,
}

/// One open event, capture side.
struct Active {
    id: u64,
    matcher: Matcher,
    /// `tag:host`: every packet to or from this address.
    host: Option<IpAddr>,
    /// Packets are kept while their time is at most this (the last alert + `post_s`; the
    /// alert itself for an event only `tag` rules raised).
    window_end_us: i64,
    /// A `tag` rule's budget (Snort tag.c): the packets it admits are kept too.
    budget: Option<(TagBudget, TagScope, FlowKey)>,
    last_alert_us: i64,
    /// Last packet kept, or the last alert.
    last_activity_us: i64,
    alert_count: u64,
    /// Distinct signatures seen (a few), sent with the end of the event.
    alerts: Vec<AlertRef>,
    copied: u64,
    copied_bytes: u64,
    lost: u64,
    truncated: bool,
}

/// The capture side of the evidence store. Owned by the pipeline's thread.
///
/// # Resource usage
/// At most [`MAX_OPEN`] events, a batch buffer of ~256 KiB and, queued for the writer, at
/// most 64 MiB of copies and [`MAX_HELD`] ring file descriptors.
pub struct Recorder {
    opts: EvidenceOptions,
    tx: mpsc::Sender<Msg>,
    recycle: mpsc::Receiver<Vec<u8>>,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    events: Vec<Option<Active>>,
    free: Vec<usize>,
    by_key: HashMap<ConvKey, usize, ahash::RandomState>,
    hosts: Vec<(IpAddr, usize)>,
    live: usize,
    /// Names of the ring files handed to the writer (the newest few).
    handed: Vec<String>,
    /// Snort's one exclusive session tag per process.
    exclusive: ExclusiveGate,
    next_id: u64,
    /// Earliest time an open event may be over.
    next_check_us: i64,
    batch: Vec<u8>,
    stats: EvidenceStats,
    /// Inside an episode of refused events / lost copies (warned once each).
    refusing: bool,
    losing: bool,
    dead: bool,
}

fn us(sec: i64, usec: u32) -> i64 {
    sec.saturating_mul(1_000_000)
        .saturating_add(i64::from(usec))
}

impl Recorder {
    /// Opens the store (creating its directory, repairing what a crash left, applying the
    /// quota) and starts the writer thread.
    ///
    /// # Errors
    /// The store directory cannot be created or read, or the thread cannot start.
    pub fn open(opts: &EvidenceOptions) -> io::Result<Recorder> {
        let shared = Arc::new(Shared::default());
        let store = store::Store::open(&opts.dir, opts.quota, shared.clone()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("evidence store {}: {e}", opts.dir.display()),
            )
        })?;
        let (tx, rx) = mpsc::channel();
        let (recycle_tx, recycle) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("evidence".into())
            .spawn(move || store.run(rx, recycle_tx))?;
        Ok(Recorder {
            opts: opts.clone(),
            tx,
            recycle,
            shared,
            worker: Some(worker),
            events: Vec::new(),
            free: Vec::new(),
            by_key: HashMap::with_capacity_and_hasher(MAX_OPEN, ahash::RandomState::new()),
            hosts: Vec::new(),
            live: 0,
            handed: Vec::new(),
            exclusive: ExclusiveGate::default(),
            next_id: 1,
            next_check_us: i64::MAX,
            batch: Vec::new(),
            stats: EvidenceStats::default(),
            refusing: false,
            losing: false,
            dead: false,
        })
    }

    /// The store directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.opts.dir
    }

    /// Whether any event is open: the one branch a packet costs when none is.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.live != 0
    }

    /// A packet after detection: copied into every open event it belongs to. `alerted`:
    /// it raised a logged event (such a packet is kept by its conversation's event but never
    /// charged to a `tag` budget, as Snort's detect.c never offers it to tagging). Call only
    /// when [`Recorder::is_active`].
    pub fn observe(&mut self, p: &Packet<'_>, alerted: bool) {
        let now = us(p.ts_sec, p.ts_usec);
        if now >= self.next_check_us {
            self.expire(now);
        }
        if self.live == 0 {
            return;
        }
        let mut conv = None;
        if p.frag.offset != 0 {
            conv = self.events.iter().position(|e| {
                e.as_ref()
                    .is_some_and(|a| a.host.is_none() && a.matcher.matches_later_fragment(p))
            });
        } else if let Some(&i) = self.by_key.get(&ConvKey::of(p)) {
            if let Some(a) = self.events[i].as_mut() {
                a.matcher.note(p);
            }
            conv = Some(i);
        }
        // Snort tag.c `CheckTagList`: one tag charged per packet, a session's first.
        let mut charged = false;
        if let Some(i) = conv {
            charged = self.copy(i, p, now, alerted, false);
        }
        if self.hosts.is_empty() {
            return;
        }
        // Then a host tag on the packet's destination, then on its source.
        for addr in [p.dst, p.src] {
            let Some(&(_, i)) = self.hosts.iter().find(|(a, _)| *a == addr) else {
                continue;
            };
            if Some(i) != conv {
                charged |= self.copy(i, p, now, alerted, charged);
            }
        }
    }

    /// Copies `p` into event `i` if its window, its `tag` budget or (for a packet that
    /// alerted) its conversation keeps it, within the event's limits. Returns whether a tag
    /// budget was charged. `charged`: another tag was charged for this packet already.
    fn copy(&mut self, i: usize, p: &Packet<'_>, now: i64, alerted: bool, charged: bool) -> bool {
        let Some(a) = self.events[i].as_mut() else {
            return false;
        };
        let mut tagged = false;
        let mut charges = false;
        if let Some((b, _, _)) = a.budget.as_mut().filter(|_| !alerted && !charged) {
            if !b.done(p.ts_sec) {
                charges = true;
                tagged = b.admit(p.ts_sec, p.ts_usec, p.frame.len() as u32);
            }
        }
        let keep = now <= a.window_end_us || tagged || (alerted && a.host.is_none());
        if !keep {
            return charges;
        }
        let rec = (RECORD_HEADER + p.frame.len()) as u64;
        if a.copied >= self.opts.max_packets || a.copied_bytes + rec > self.opts.max_bytes {
            a.truncated = true;
            return charges;
        }
        a.copied += 1;
        a.copied_bytes += rec;
        a.last_activity_us = a.last_activity_us.max(now);
        let id = a.id;
        self.stats.copied += 1;
        if self.batch.capacity() == 0 {
            self.batch = self
                .recycle
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(BATCH_BYTES + (64 << 10)));
        }
        let b = &mut self.batch;
        b.extend_from_slice(&id.to_le_bytes());
        b.extend_from_slice(&crate::pcap::record_header(
            p.ts_sec,
            p.ts_usec,
            p.frame.len() as u32,
            p.wire_len,
        ));
        b.extend_from_slice(p.frame);
        if self.batch.len() >= BATCH_BYTES {
            self.send_batch();
        }
        charges
    }

    /// An alert event was written for `rule` on `p`: opens an event for its conversation or
    /// folds the alert into the open one. `tag` is the rule's `tag` option: a session tag
    /// keeps what its budget admits instead of `post_s`, a host tag opens (or renews) an
    /// event of every packet to or from the host. `ring` is the ring the packet was just
    /// written to (`None` with `--no-ring`: then only packets from the alert on are kept).
    #[allow(clippy::too_many_arguments)]
    pub fn alert(
        &mut self,
        rule: &Rule,
        tag: Option<&Tag>,
        p: &Packet<'_>,
        linktype: i32,
        snaplen: u32,
        ring: Option<&mut Ring>,
    ) {
        if self.dead {
            return;
        }
        let now = us(p.ts_sec, p.ts_usec);
        let key = ConvKey::of(p);
        let fk = FlowKey::of(p);
        // A tagging rule keeps what its tag admits after the alert, even nothing: Snort opens
        // only one exclusive session tag per process, ever.
        let tagging = tag.is_some();
        let tag = tag.filter(|t| match t.scope {
            TagScope::Session { exclusive: true } => self.exclusive.try_open(),
            _ => true,
        });
        let existing = match tag.map(|t| t.scope) {
            // tag.c `AddTagNode`: an open host tag on either address of the event is renewed
            // (its source's first).
            Some(TagScope::Host { .. }) => [p.src, p.dst]
                .iter()
                .find_map(|h| self.hosts.iter().find(|(a, _)| a == h).map(|&(_, i)| i)),
            _ if p.frag.offset != 0 => self.events.iter().position(|e| {
                e.as_ref()
                    .is_some_and(|a| a.host.is_none() && a.matcher.matches_later_fragment(p))
            }),
            _ => self.by_key.get(&key).copied(),
        };
        if let Some(i) = existing {
            self.extend(i, rule, tagging, tag, fk, now);
            return;
        }
        if self.live >= MAX_OPEN {
            self.stats.refused += 1;
            if !self.refusing {
                tracing::warn!(
                    "evidence: {MAX_OPEN} events open; alerts of further conversations keep no evidence until some close"
                );
                self.refusing = true;
            }
            return;
        }
        self.refusing = false;
        self.start(rule, tagging, tag, p, key, now, linktype, snaplen, ring);
    }

    fn extend(
        &mut self,
        i: usize,
        rule: &Rule,
        tagging: bool,
        tag: Option<&Tag>,
        fk: FlowKey,
        now: i64,
    ) {
        let post = i64::from(self.opts.post_s) * 1_000_000;
        let limit = self.opts.tagged_packet_limit;
        let Some(a) = self.events[i].as_mut() else {
            return;
        };
        a.alert_count += 1;
        a.last_alert_us = a.last_alert_us.max(now);
        a.last_activity_us = a.last_activity_us.max(now);
        let (sec, usec) = (now.div_euclid(1_000_000), now.rem_euclid(1_000_000) as u32);
        match (tag, a.budget.as_mut()) {
            (None, _) if a.host.is_none() && !tagging => {
                a.window_end_us = a.window_end_us.max(now.saturating_add(post));
            }
            (None, _) => {}
            (Some(t), Some((b, scope, at))) => {
                if tag::renews(scope, at, &t.scope, &fk) {
                    b.renew(t, sec, usec);
                }
            }
            (Some(t), None) => {
                a.budget = Some((TagBudget::new(t, sec, usec, limit), t.scope, fk));
            }
        }
        note_alert(&mut a.alerts, rule, now);
        self.next_check_us = self.next_check_us.min(now.saturating_add(1));
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        rule: &Rule,
        tagging: bool,
        tag: Option<&Tag>,
        p: &Packet<'_>,
        key: ConvKey,
        now: i64,
        linktype: i32,
        snaplen: u32,
        ring: Option<&mut Ring>,
    ) {
        let pre = i64::from(self.opts.pre_s) * 1_000_000;
        // A tagging rule keeps what its budget admits instead of `post_s`.
        let post = if tagging {
            0
        } else {
            i64::from(self.opts.post_s) * 1_000_000
        };
        let host = match tag.map(|t| t.scope) {
            Some(TagScope::Host {
                dir: TagHostDir::Src,
            }) => Some(p.src),
            Some(TagScope::Host {
                dir: TagHostDir::Dst,
            }) => Some(p.dst),
            _ => None,
        };
        let budget = tag.map(|t| {
            (
                TagBudget::new(t, p.ts_sec, p.ts_usec, self.opts.tagged_packet_limit),
                t.scope,
                FlowKey::of(p),
            )
        });
        let pre_from_us = now.saturating_sub(pre);
        let (sport, dport) = (key_port(p, true), key_port(p, false));
        let (held, pre_source) = match ring {
            None => (Vec::new(), "none: the ring is off".to_string()),
            Some(r) => {
                if self.shared.held_files.load(Ordering::Relaxed) >= MAX_HELD
                    && !self.wait_until(|s| s.held_files.load(Ordering::Relaxed) < MAX_HELD)
                {
                    (
                        Vec::new(),
                        "skipped: the evidence writer is behind".to_string(),
                    )
                } else {
                    let from_sec = pre_from_us.div_euclid(1_000_000);
                    let handed = &self.handed;
                    match r.hold(from_sec, &|name| handed.iter().any(|h| h == name)) {
                        Ok(h) => (h, "ring".to_string()),
                        Err(e) => (Vec::new(), format!("none: the ring cannot be read ({e})")),
                    }
                }
            }
        };
        // Nothing held (the ring had no file to give: its writes failing): the alert packet
        // is copied as with no ring.
        let from_ring = pre_source == "ring" && !held.is_empty();
        // The writer keeps every ring file it was handed open until its packets are older
        // than any window: each is opened and handed over once.
        for h in held.iter().filter(|h| h.file.is_some()) {
            if let Some(name) = h.path.file_name().and_then(|n| n.to_str()) {
                if self.handed.len() >= 64 {
                    self.handed.remove(0);
                }
                self.handed.push(name.to_string());
            }
        }
        let opened = held.iter().filter(|h| h.file.is_some()).count();
        self.shared.held_files.fetch_add(opened, Ordering::Relaxed);
        let id = self.next_id;
        self.next_id += 1;
        let mut alerts = Vec::new();
        note_alert(&mut alerts, rule, now);
        let sidecar = Sidecar {
            file: String::new(),
            state: State::Open,
            proto: p.ip_proto,
            src_ip: p.src,
            src_port: sport,
            dest_ip: p.dst,
            dest_port: dport,
            community_id: crate::decode::community_id::for_packet(0, p),
            scope: match host {
                Some(h) => format!("host {h}"),
                None => "session".into(),
            },
            tag: tag.map(describe_tag),
            first_alert_us: now,
            last_alert_us: now,
            from_us: pre_from_us,
            until_us: now.saturating_add(post),
            pre_source,
            alert_count: 1,
            alerts: alerts.clone(),
            packets: 0,
            bytes: 0,
            truncated: false,
            lost: 0,
            closed: None,
        };
        let start = Start {
            id,
            name: store::file_name(
                now,
                rule.gid,
                rule.sid,
                p.ip_proto,
                (p.src, sport),
                (p.dst, dport),
            ),
            key,
            linktype: linktype as u32,
            snaplen: if snaplen == 0 { 262_144 } else { snaplen },
            pre_from_us,
            held,
            max_packets: self.opts.max_packets,
            max_bytes: self.opts.max_bytes,
            sidecar,
        };
        // Copies of other events go first: the writer sees everything in capture order.
        self.send_batch();
        self.send(Msg::Start(Box::new(start)));
        let active = Active {
            id,
            matcher: Matcher::new(key),
            host,
            window_end_us: now.saturating_add(post),
            budget,
            last_alert_us: now,
            last_activity_us: now,
            alert_count: 1,
            alerts,
            copied: 0,
            copied_bytes: 0,
            lost: 0,
            truncated: false,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.events[i] = Some(active);
                i
            }
            None => {
                self.events.push(Some(active));
                self.events.len() - 1
            }
        };
        match host {
            Some(h) => self.hosts.push((h, i)),
            None => {
                self.by_key.insert(key, i);
            }
        }
        self.live += 1;
        self.stats.events += 1;
        self.next_check_us = self
            .next_check_us
            .min(now.saturating_add(post).saturating_add(1));
        if self.events[i].as_ref().is_some_and(|a| a.budget.is_some()) {
            // A budget ends on packet counts and idle time too: look again in a second.
            self.next_check_us = self.next_check_us.min(now.saturating_add(1_000_000));
        }
        if let Some(a) = self.events[i].as_mut() {
            a.matcher.note(p);
        }
        if !from_ring {
            // Nothing read back from the ring: the alert packet itself is the first copy.
            self.copy(i, p, now, true, true);
        }
    }

    /// Closes the events whose window has passed at `now` (packet time in a replay, the
    /// clock while a live capture is idle).
    pub fn tick(&mut self, now_us: i64) {
        if self.live != 0 && now_us >= self.next_check_us {
            self.expire(now_us);
        }
    }

    fn expire(&mut self, now: i64) {
        let mut next = i64::MAX;
        let now_sec = now.div_euclid(1_000_000);
        for i in 0..self.events.len() {
            let Some(a) = &self.events[i] else {
                continue;
            };
            let budget_done = a.budget.as_ref().is_none_or(|(b, _, _)| b.done(now_sec));
            if now > a.window_end_us && budget_done {
                self.close_event(i, "its window passed");
            } else if !budget_done {
                // A budget ends on packet counts and idle time too: look again in a second.
                next = next.min(now.saturating_add(1_000_000));
            } else {
                next = next.min(a.window_end_us.saturating_add(1));
            }
        }
        self.next_check_us = next;
    }

    fn close_event(&mut self, i: usize, reason: &'static str) {
        let Some(a) = self.events[i].take() else {
            return;
        };
        self.free.push(i);
        self.live -= 1;
        if self.by_key.get(&a.matcher.key) == Some(&i) {
            self.by_key.remove(&a.matcher.key);
        }
        self.hosts.retain(|(_, v)| *v != i);
        self.send_batch();
        let end = End {
            id: a.id,
            last_alert_us: a.last_alert_us,
            until_us: if a.copied > 0 {
                a.window_end_us.max(a.last_activity_us)
            } else {
                a.window_end_us
            },
            alert_count: a.alert_count,
            alerts: a.alerts,
            lost: a.lost,
            truncated: a.truncated,
            reason,
        };
        self.send(Msg::End(Box::new(end)));
    }

    /// Hands the batch to the writer (waiting in a lossless replay when the writer is far
    /// behind; dropping it, counted per event, in a live capture).
    fn send_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let len = self.batch.len();
        if self.shared.queued_bytes.load(Ordering::Relaxed) + len > MAX_QUEUED
            && !self.wait_until(|s| s.queued_bytes.load(Ordering::Relaxed) + len <= MAX_QUEUED)
        {
            self.drop_batch();
            return;
        }
        self.losing = false;
        self.shared.queued_bytes.fetch_add(len, Ordering::Relaxed);
        let batch = std::mem::take(&mut self.batch);
        self.send(Msg::Batch(batch));
    }

    /// Counts the records of the batch as lost against their events and empties it.
    fn drop_batch(&mut self) {
        let mut lost = 0u64;
        for (id, _, _) in batch_records(&self.batch) {
            if let Some(a) = self.events.iter_mut().flatten().find(|a| a.id == id) {
                a.lost += 1;
            }
            lost += 1;
        }
        self.stats.lost += lost;
        if !self.losing {
            tracing::warn!(
                "evidence writer behind ({} MiB queued): {lost} copied packet(s) dropped; counted in the events' index entries",
                MAX_QUEUED >> 20
            );
            self.losing = true;
        }
        self.batch.clear();
    }

    /// In a lossless replay, waits until `ok` holds; false at once in a live capture (or
    /// if the writer is gone).
    fn wait_until(&self, ok: impl Fn(&Shared) -> bool) -> bool {
        if !self.opts.lossless {
            return false;
        }
        while !ok(&self.shared) {
            if self.worker.as_ref().is_none_or(JoinHandle::is_finished) {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        true
    }

    fn send(&mut self, m: Msg) {
        if self.tx.send(m).is_err() && !self.dead {
            tracing::error!("the evidence writer stopped; no more evidence is kept");
            self.dead = true;
        }
    }

    /// Hands buffered copies to the writer and asks it to write what it buffers (the flush
    /// timer).
    pub fn flush(&mut self) {
        if self.worker.is_none() {
            return;
        }
        self.send_batch();
        self.send(Msg::Flush);
    }

    /// Waits until the writer has written everything handed to it so far (for tests and
    /// for readers in the same process).
    pub fn sync(&mut self) {
        self.send_batch();
        let (ack, done) = mpsc::sync_channel(1);
        self.send(Msg::Sync(ack));
        let _ = done.recv();
    }

    /// Closes every open event (whole, with its index entry) and stops the writer.
    pub fn close(&mut self) {
        for i in 0..self.events.len() {
            if self.events[i].is_some() {
                self.close_event(i, "the capture ended");
            }
        }
        self.send_batch();
        self.send(Msg::Shutdown);
        if let Some(w) = self.worker.take() {
            if w.join().is_err() {
                tracing::error!("the evidence writer panicked");
            }
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> EvidenceStats {
        let s = &self.shared;
        EvidenceStats {
            open: self.live as u64,
            written: s.packets_written.load(Ordering::Relaxed),
            deleted: s.deleted.load(Ordering::Relaxed),
            write_errors: s.write_errors.load(Ordering::Relaxed),
            store_bytes: s.store_bytes.load(Ordering::Relaxed),
            ..self.stats
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.worker.is_some() {
            self.close();
        }
    }
}

/// The records of a batch ([`Msg::Batch`]): event id, pcap record header fields (ts_sec,
/// ts_usec, caplen, len) and the bytes. Ends at the first record that does not fit whole.
pub(crate) fn batch_records(
    mut buf: &[u8],
) -> impl Iterator<Item = (u64, (u32, u32, u32, u32), &[u8])> {
    std::iter::from_fn(move || {
        let id = u64::from_le_bytes(buf.get(0..8)?.try_into().ok()?);
        let h: &[u8; RECORD_HEADER] = buf.get(8..8 + RECORD_HEADER)?.try_into().ok()?;
        let fields = crate::pcap::parse_record_header(h);
        let end = 8 + RECORD_HEADER + fields.2 as usize;
        let data = buf.get(8 + RECORD_HEADER..end)?;
        buf = &buf[end..];
        Some((id, fields, data))
    })
}

/// The port of the conversation key on the packet's source (`src`) or destination side.
fn key_port(p: &Packet<'_>, src: bool) -> u16 {
    let k = ConvKey::of(p);
    if !k.has_ports() {
        return 0;
    }
    if src {
        p.sport().unwrap_or(0)
    } else {
        p.dport().unwrap_or(0)
    }
}

/// A tag as its rule says it (`session,10,packets,exclusive`, `host,30,seconds,src`).
fn describe_tag(t: &Tag) -> String {
    let mut parts = vec![match t.scope {
        TagScope::Session { .. } => "session".to_string(),
        TagScope::Host { .. } => "host".to_string(),
    }];
    for (n, unit) in [
        (t.packets, "packets"),
        (t.seconds, "seconds"),
        (t.bytes, "bytes"),
    ] {
        if let Some(n) = n {
            parts.push(format!("{n},{unit}"));
        }
    }
    match t.scope {
        TagScope::Session { exclusive: true } => parts.push("exclusive".into()),
        TagScope::Host {
            dir: TagHostDir::Src,
        } => parts.push("src".into()),
        TagScope::Host {
            dir: TagHostDir::Dst,
        } => parts.push("dst".into()),
        TagScope::Session { exclusive: false } => {}
    }
    parts.join(",")
}

/// Adds the rule's signature to an event's list unless already there (a few at most).
fn note_alert(alerts: &mut Vec<AlertRef>, rule: &Rule, now: i64) {
    if alerts.len() >= 32
        || alerts
            .iter()
            .any(|a| (a.gid, a.sid) == (rule.gid, rule.sid))
    {
        return;
    }
    alerts.push(AlertRef {
        gid: rule.gid,
        sid: rule.sid,
        rev: rule.rev,
        msg: rule.msg.clone(),
        ts_us: now,
    });
}
