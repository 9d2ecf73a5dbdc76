//! The evidence store on disk: one classic pcap per alert event
//! (`20070221T101754.366236Z_1-2404000_tcp_192.168.0.31.2253_161.53.178.240.6667.pcap`: the
//! first alert's time in UTC, gid-sid, protocol, the alert's source and destination), and a
//! JSON line for each state of each event in the store's index, `index.jsonl` (see
//! [`Sidecar`]), which `investigate` and the console read. One index for the store, appended
//! to: an event costs one file creation, not three.
//!
//! Owns the writer thread's side of the store: creating event files, reading the packets
//! from before an alert back out of the ring files the capture thread held open for it,
//! appending the packets copied after it, the quota (oldest closed evidence deleted first,
//! each deletion logged), and the crash repair at start-up (a torn last record is cut off, as
//! the ring does, and its index entry says so). Never decides what to keep: that is the capture
//! side's job ([`super::Recorder`]).
//!
//! Every file is created and deleted through [`crate::safefs`]: `O_NOFOLLOW`/`O_EXCL`, and
//! only files that are unmistakably the store's own (name pattern, owner, one link) are ever
//! truncated or deleted.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};

use serde::{Deserialize, Serialize};

use super::backread::BackRead;
use super::key::{proto_name, ConvKey};
use super::{Msg, Shared, Start, RECORD_HEADER};
use crate::ring::files as ring_files;
use crate::safefs::Dir;

/// Alerts listed by name in an index entry at most (all are counted).
const SIDECAR_ALERTS: usize = 32;

/// The store's index: one [`Sidecar`] a line, appended; the last line of a file wins.
pub const INDEX_FILE: &str = "index.jsonl";

/// Largest index read back.
const INDEX_MAX: u64 = 256 << 20;

/// The state of an event's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Still being written.
    Open,
    /// Closed whole: its window passed, its limits were reached, or the sensor stopped.
    Closed,
    /// Found open after a crash: cut back to its last whole record.
    Repaired,
}

/// One alert of an event, as its index entry lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRef {
    pub gid: u32,
    pub sid: u32,
    pub rev: u32,
    pub msg: String,
    /// Microseconds since the epoch of its first alert in this event.
    pub ts_us: i64,
}

/// What the store knows about one event: a line of `index.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// The pcap's file name (in the same directory).
    pub file: String,
    pub state: State,
    /// Protocol number and the alert's endpoints as the first alert packet had them.
    pub proto: u8,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dest_ip: IpAddr,
    pub dest_port: u16,
    /// Community ID of the conversation (v1, seed 0), when the protocol has one.
    #[serde(default)]
    pub community_id: Option<String>,
    /// `session` (the conversation) or `host ADDR` (a `tag:host` rule).
    pub scope: String,
    /// The `tag` of the rule that opened the event, as the rule says it.
    #[serde(default)]
    pub tag: Option<String>,
    pub first_alert_us: i64,
    pub last_alert_us: i64,
    /// The window kept: from `pre_s` before the first alert to the end of the event.
    pub from_us: i64,
    pub until_us: i64,
    /// Where the packets from before the alert came from: `ring`, or why there are none.
    pub pre_source: String,
    /// Alert events of this conversation folded into the file.
    pub alert_count: u64,
    /// The first few distinct signatures.
    pub alerts: Vec<AlertRef>,
    pub packets: u64,
    /// Bytes of the pcap file.
    pub bytes: u64,
    /// A per-event limit (`max_packets`, `max_bytes`) stopped the copy.
    pub truncated: bool,
    /// Packets of the event that were not kept because the writer was behind (live only).
    pub lost: u64,
    /// Why the event closed.
    #[serde(default)]
    pub closed: Option<String>,
}

impl Sidecar {
    /// Whether the event covers `key` at time `ts_us` (between its first alert, less the
    /// pre window, and its end).
    pub fn covers(&self, key: &ConvKey, ts_us: i64) -> bool {
        let mine = ConvKey::new(
            self.proto,
            self.src_ip,
            self.src_port,
            self.dest_ip,
            self.dest_port,
        );
        mine == *key && ts_us >= self.from_us && ts_us <= self.until_us.max(self.last_alert_us)
    }
}

/// An event found in the store.
#[derive(Debug, Clone)]
pub struct Listed {
    pub path: PathBuf,
    pub sidecar: Sidecar,
    /// Size of the pcap on disk now.
    pub size: u64,
}

/// The file name of an event: `TIME_GID-SID_PROTO_SRC.SPORT_DST.DPORT.pcap` (no ports for
/// portless protocols; IPv6 colons as `-`).
pub fn file_name(
    ts_us: i64,
    gid: u32,
    sid: u32,
    key_proto: u8,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
) -> String {
    let t = chrono::DateTime::from_timestamp_micros(ts_us).unwrap_or_default();
    let host = |ip: IpAddr| ip.to_string().replace(':', "-");
    let ep = |(ip, port): (IpAddr, u16)| {
        if ConvKey::new(key_proto, ip, 0, ip, 0).has_ports() {
            format!("{}.{port}", host(ip))
        } else {
            host(ip)
        }
    };
    format!(
        "{}_{gid}-{sid}_{}_{}_{}.pcap",
        t.format("%Y%m%dT%H%M%S%.6fZ"),
        proto_name(key_proto),
        ep(src),
        ep(dst)
    )
}

/// Whether `name` has the shape of an evidence pcap name (`YYYYmmddTHHMMSS.ffffffZ_…pcap`).
pub fn is_evidence_name(name: &str) -> bool {
    let b = name.as_bytes();
    name.len() > 25
        && name.ends_with(".pcap")
        && !name.contains('/')
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'.'
        && b[16..22].iter().all(u8::is_ascii_digit)
        && &b[22..24] == b"Z_"
}

/// The events in `dir` with their index entries, oldest first. A pcap without an entry is
/// left out (the sensor repairs it at its next start); so is an entry whose pcap is gone.
///
/// # Errors
/// The directory cannot be opened or listed.
pub fn list(dir: &Path) -> io::Result<Vec<Listed>> {
    let d = Dir::open(dir)?;
    let mut names: Vec<String> = d
        .names()?
        .into_iter()
        .filter_map(|n| n.into_string().ok())
        .filter(|n| is_evidence_name(n))
        .collect();
    names.sort();
    let mut index = read_index(&d).0;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let Some(sc) = index.remove(&name) else {
            continue;
        };
        let size = d.entry_metadata(&name).map_or(0, |m| m.st_size as u64);
        out.push(Listed {
            path: d.join(&name),
            sidecar: sc,
            size,
        });
    }
    Ok(out)
}

/// The index: the last entry of each file, the number of lines, and whether the file ends
/// whole (a torn last line after a crash is skipped).
fn read_index(d: &Dir) -> (HashMap<String, Sidecar>, usize, bool) {
    let Ok(bytes) = d.read_small(INDEX_FILE, INDEX_MAX) else {
        return (HashMap::new(), 0, true);
    };
    let mut map = HashMap::new();
    let mut lines = 0;
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        lines += 1;
        if let Ok(sc) = serde_json::from_slice::<Sidecar>(line) {
            if is_evidence_name(&sc.file) {
                map.insert(sc.file.clone(), sc);
            }
        }
    }
    (map, lines, bytes.last().is_none_or(|&b| b == b'\n'))
}

/// One event being written.
struct Open {
    name: String,
    w: BufWriter<File>,
    sidecar: Sidecar,
    max_packets: u64,
    max_bytes: u64,
    failed: bool,
    /// Its `open` entry is in the index (written at the first flush tick of a live sensor;
    /// a replay, which has none, records each event once, when it closes).
    announced: bool,
}

impl Open {
    /// Appends one record unless a limit is reached (then the event is marked truncated).
    fn write(&mut self, sec: i64, usec: u32, wire_len: u32, data: &[u8], shared: &Shared) {
        if self.failed {
            return;
        }
        let rec = RECORD_HEADER as u64 + data.len() as u64;
        if self.sidecar.packets >= self.max_packets || self.sidecar.bytes + rec > self.max_bytes {
            self.sidecar.truncated = true;
            return;
        }
        let h = crate::pcap::record_header(sec, usec, data.len() as u32, wire_len);
        match self.w.write_all(&h).and_then(|()| self.w.write_all(data)) {
            Ok(()) => {
                self.sidecar.packets += 1;
                self.sidecar.bytes += rec;
                shared.packets_written.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => self.fail(&e, shared),
        }
    }

    fn fail(&mut self, e: &io::Error, shared: &Shared) {
        if !self.failed {
            // The first failure is said; the rest (a full disk fails every event) are counted.
            if shared.write_errors.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(file = %self.name, "evidence write failed: {e}; the rest of this event is not kept (later failures are only counted)");
            } else {
                tracing::debug!(file = %self.name, "evidence write failed: {e}");
            }
        }
        self.failed = true;
    }
}

/// The writer thread's store.
pub(crate) struct Store {
    dir: Dir,
    quota: u64,
    /// Closed events: pcap name → bytes of pcap and index line. Names sort oldest first.
    closed: BTreeMap<String, u64>,
    open: HashMap<u64, Open>,
    backread: BackRead,
    /// `index.jsonl`, open for appending.
    index: File,
    /// Lines in the index.
    index_lines: usize,
    /// Inside an episode of failing creations (warned once).
    failing: bool,
    /// Inside an episode of failing index appends (warned once).
    index_failing: bool,
    shared: Arc<Shared>,
}

impl Store {
    /// Opens (creating, 0750) the store directory, repairs what a crash left open, and
    /// applies the quota.
    ///
    /// # Errors
    /// The directory cannot be created, opened or listed.
    pub(crate) fn open(path: &Path, quota: u64, shared: Arc<Shared>) -> io::Result<Store> {
        let (dir, _created) = Dir::create_all(path)?;
        let index = dir.open_append(INDEX_FILE)?;
        let mut store = Store {
            index,
            index_lines: 0,
            dir,
            quota,
            closed: BTreeMap::new(),
            open: HashMap::new(),
            backread: BackRead::default(),
            failing: false,
            index_failing: false,
            shared,
        };
        store.rescan()?;
        store.enforce_quota();
        store.room_warning();
        Ok(store)
    }

    fn rescan(&mut self) -> io::Result<()> {
        let names: Vec<String> = self
            .dir
            .names()?
            .into_iter()
            .filter_map(|n| n.into_string().ok())
            .collect();
        let (mut index, lines, whole) = read_index(&self.dir);
        self.index_lines = lines;
        let mut entries = Vec::new();
        for name in names {
            if !is_evidence_name(&name) {
                // A temporary index a crash left behind (`.index.jsonl.RANDOM.tmp`).
                if is_stale_temp(&name) && self.dir.open_own(&name, false).is_ok() {
                    let _ = self.dir.remove(&name);
                }
                continue;
            }
            let Ok(f) = self.dir.open_own(&name, true) else {
                tracing::warn!(
                    file = %self.dir.join(&name).display(),
                    "not the sensor's own file (owner, links); left alone and outside the quota"
                );
                continue;
            };
            let sc = match index.remove(&name) {
                Some(sc) if sc.state != State::Open => sc,
                other => self.repair(f, &name, other)?,
            };
            self.closed.insert(name, sc.bytes + INDEX_LINE);
            entries.push(sc);
        }
        // Entries of deleted files, repeated states, a torn line: write the index anew.
        if !whole || self.index_lines > entries.len() {
            self.rewrite_index(&entries)?;
        }
        self.publish_size();
        Ok(())
    }

    /// Replaces the index with one line per entry (through a temporary file), and appends
    /// from then on to the new one.
    fn rewrite_index(&mut self, entries: &[Sidecar]) -> io::Result<()> {
        let mut tmp = self.dir.temp(INDEX_FILE)?;
        let mut text = Vec::with_capacity(entries.len() * 512);
        for sc in entries {
            index_line(sc, &mut text);
        }
        if let Some(f) = tmp.file() {
            f.write_all(&text)?;
        }
        tmp.commit()?;
        self.index = self.dir.open_append(INDEX_FILE)?;
        self.index_lines = entries.len();
        Ok(())
    }

    /// Appends an event's entry to the index; past twice the lines the store needs, the
    /// index is rewritten instead.
    fn record(&mut self, sc: &Sidecar) {
        match self.append(sc) {
            // Said once per episode (a full disk fails every event), counted each time.
            Err(e) => {
                self.shared.write_errors.fetch_add(1, Ordering::Relaxed);
                if !self.index_failing {
                    tracing::warn!(file = %self.dir.join(INDEX_FILE).display(), "cannot append to the evidence index: {e}; events are missing from it until appends succeed (a restart repairs them)");
                    self.index_failing = true;
                }
            }
            Ok(()) if self.index_failing => {
                tracing::info!(file = %self.dir.join(INDEX_FILE).display(), "appends to the evidence index succeed again");
                self.index_failing = false;
            }
            Ok(()) => {}
        }
        let live = self.closed.len() + self.open.len();
        if self.index_lines > 2 * live + 64 {
            let (mut index, _, _) = read_index(&self.dir);
            let entries: Vec<Sidecar> = self
                .closed
                .keys()
                .chain(self.open.values().map(|o| &o.name))
                .filter_map(|n| index.remove(n))
                .collect();
            if let Err(e) = self.rewrite_index(&entries) {
                tracing::warn!(file = %self.dir.join(INDEX_FILE).display(), "cannot rewrite the evidence index: {e}");
            }
        }
    }

    /// Appends one entry to the index.
    fn append(&mut self, sc: &Sidecar) -> io::Result<()> {
        let mut line = Vec::with_capacity(512);
        index_line(sc, &mut line);
        self.index_lines += 1;
        self.index.write_all(&line)
    }

    /// A file a crash left open: cut to its last whole record, its entry recorded as
    /// `repaired` (made up from the file when it had none). Returns the entry.
    fn repair(&mut self, f: File, name: &str, sc: Option<Sidecar>) -> io::Result<Sidecar> {
        let path = self.dir.join(name);
        let mut sc = match sc {
            Some(sc) => sc,
            None => sidecar_from_file(&f, &path, name),
        };
        let Some(scan) = ring_files::cut_torn(&f, &path, "evidence file")? else {
            sc.bytes = f.metadata().map_or(0, |m| m.len());
            return Ok(sc);
        };
        sc.state = State::Repaired;
        sc.packets = scan.index.packets;
        sc.bytes = scan.whole_len;
        if let Some(last) = scan.index.max_us {
            sc.until_us = sc.until_us.max(last);
        }
        sc.closed =
            Some("the sensor stopped without closing it (crash); repaired at start-up".into());
        // Not `record`: the store's tables are still being filled, too early to compact.
        self.append(&sc)?;
        tracing::info!(file = %path.display(), packets = sc.packets, "evidence file repaired after a crash");
        Ok(sc)
    }

    /// Says once, at start-up, when the file system cannot hold the quota: the store then
    /// fills the disk before its quota, and its writes fail (counted) when the disk is full.
    fn room_warning(&self) {
        let Ok(st) = rustix::fs::fstatvfs(&self.dir) else {
            return;
        };
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        let ours: u64 = self.closed.values().sum();
        if self.quota > free.saturating_add(ours) {
            tracing::warn!(
                "evidence: a quota of {} MiB is configured in {}, but its file system has room for {} MiB: evidence writes will fail when the disk is full",
                self.quota >> 20,
                self.dir.path().display(),
                free.saturating_add(ours) >> 20
            );
        }
    }

    fn publish_size(&self) {
        let open: u64 = self.open.values().map(|o| o.sidecar.bytes).sum();
        let total = self.closed.values().sum::<u64>() + open;
        self.shared.store_bytes.store(total, Ordering::Relaxed);
    }

    /// Deletes the oldest closed events while the store is over its quota (events being
    /// written count but are never deleted).
    fn enforce_quota(&mut self) {
        let open: u64 = self.open.values().map(|o| o.sidecar.bytes).sum();
        let mut total = self.closed.values().sum::<u64>() + open;
        while total > self.quota {
            let Some((name, size)) = self.closed.pop_first() else {
                break;
            };
            total -= size;
            match self.dir.open_own(&name, false) {
                Ok(_) => {
                    if let Err(e) = self.dir.remove(&name) {
                        tracing::warn!(file = %self.dir.join(&name).display(), "cannot delete evidence: {e}");
                        continue;
                    }
                    self.shared.deleted.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        file = %self.dir.join(&name).display(),
                        bytes = size,
                        quota = self.quota,
                        "evidence quota reached: deleted the oldest evidence"
                    );
                }
                Err(e) => {
                    tracing::warn!(file = %self.dir.join(&name).display(), "evidence file no longer the sensor's own ({e}); not deleted");
                }
            }
        }
        self.publish_size();
    }

    /// Runs the writer loop until `Shutdown` or the capture side hangs up.
    pub(crate) fn run(mut self, rx: mpsc::Receiver<Msg>, recycle: mpsc::Sender<Vec<u8>>) {
        loop {
            // Whatever is buffered goes to disk whenever the capture side has nothing more
            // queued: a crash loses little, a reader sees the event as it grows.
            let msg = match rx.try_recv() {
                Ok(m) => m,
                Err(mpsc::TryRecvError::Empty) => {
                    self.flush_all();
                    match rx.recv() {
                        Ok(m) => m,
                        Err(_) => break,
                    }
                }
                Err(mpsc::TryRecvError::Disconnected) => break,
            };
            match msg {
                Msg::Start(s) => self.start(*s),
                Msg::Batch(buf) => {
                    self.batch(&buf);
                    self.shared
                        .queued_bytes
                        .fetch_sub(buf.len(), Ordering::Relaxed);
                    let mut buf = buf;
                    buf.clear();
                    let _ = recycle.send(buf);
                }
                Msg::End(e) => self.end(*e),
                Msg::Flush => {
                    self.flush_all();
                    self.announce();
                }
                Msg::Sync(ack) => {
                    self.flush_all();
                    let _ = ack.send(());
                }
                Msg::Shutdown => break,
            }
        }
        let ids: Vec<u64> = self.open.keys().copied().collect();
        for id in ids {
            self.finish(id, "the sensor stopped");
        }
        self.enforce_quota();
    }

    /// Records the `open` entry of the events that have none yet: a reader sees them while
    /// they grow, and a crash leaves what they were.
    fn announce(&mut self) {
        let new: Vec<Sidecar> = self
            .open
            .values_mut()
            .filter(|o| !o.announced)
            .map(|o| {
                o.announced = true;
                o.sidecar.clone()
            })
            .collect();
        for sc in &new {
            self.record(sc);
        }
    }

    fn flush_all(&mut self) {
        for o in self.open.values_mut() {
            if let Err(e) = o.w.flush() {
                o.fail(&e, &self.shared);
            }
        }
    }

    fn start(&mut self, mut s: Start) {
        let held = s.held.iter().filter(|h| h.file.is_some()).count();
        // The ring files are the read-back's from now on, whatever becomes of this event.
        let allowed = self.backread.register(std::mem::take(&mut s.held));
        self.shared.held_files.fetch_sub(held, Ordering::Relaxed);
        let name = self.create(&s);
        // The header goes to disk at once: a reader (or a crash) sees a valid pcap.
        let result = name.and_then(|(name, mut file)| {
            file.write_all(&crate::pcap::file_header(s.linktype, s.snaplen))?;
            Ok((name, BufWriter::with_capacity(256 << 10, file)))
        });
        let (name, w) = match result {
            Ok(x) => {
                if self.failing {
                    tracing::info!(dir = %self.dir.path().display(), "evidence files can be created again");
                    self.failing = false;
                }
                x
            }
            Err(e) => {
                // Said once per episode (a full disk would say it for every event).
                if !self.failing {
                    tracing::warn!(dir = %self.dir.path().display(), "cannot create an evidence file: {e}; events keep no evidence until files can be created again (counted as evidence write errors)");
                    self.failing = true;
                }
                self.shared.write_errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let mut open = Open {
            name: name.clone(),
            w,
            max_packets: s.max_packets,
            max_bytes: s.max_bytes,
            failed: false,
            announced: false,
            sidecar: s.sidecar,
        };
        open.sidecar.file = name.clone();
        open.sidecar.bytes = ring_files::FILE_HEADER_LEN;
        // Later events come in capture order, so their windows start later: the index keeps
        // a few seconds' margin before this one's.
        let found = self
            .backread
            .read(&allowed, s.key, s.pre_from_us, 5_000_000);
        if found.partial {
            open.sidecar.pre_source =
                "ring (partial: the read-back index was over its memory cap)".into();
        }
        for r in found.records {
            open.write(r.sec, r.usec, r.wire_len, &r.data, &self.shared);
        }
        self.open.insert(s.id, open);
    }

    /// Creates the event's pcap under a fresh name (`-2`, `-3`, … when taken).
    fn create(&self, s: &Start) -> io::Result<(String, File)> {
        let base = s.name.trim_end_matches(".pcap");
        for n in 1..1000 {
            let name = if n == 1 {
                s.name.clone()
            } else {
                format!("{base}-{n}.pcap")
            };
            match self.dir.create_new(&name) {
                Ok(f) => return Ok((name, f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{}: every variant of the name is taken", s.name),
        ))
    }

    fn batch(&mut self, buf: &[u8]) {
        for (id, (sec, usec, _, wire), data) in super::batch_records(buf) {
            if let Some(o) = self.open.get_mut(&id) {
                o.write(i64::from(sec), usec, wire, data, &self.shared);
            }
        }
    }

    fn end(&mut self, e: super::End) {
        if let Some(o) = self.open.get_mut(&e.id) {
            let sc = &mut o.sidecar;
            sc.last_alert_us = e.last_alert_us;
            sc.until_us = e.until_us;
            sc.alert_count = e.alert_count;
            sc.lost += e.lost;
            for a in e.alerts {
                if sc.alerts.len() < SIDECAR_ALERTS
                    && !sc.alerts.iter().any(|x| (x.gid, x.sid) == (a.gid, a.sid))
                {
                    sc.alerts.push(a);
                }
            }
            if e.truncated {
                sc.truncated = true;
            }
        }
        self.finish(e.id, e.reason);
    }

    fn finish(&mut self, id: u64, reason: &str) {
        let Some(mut o) = self.open.remove(&id) else {
            return;
        };
        if let Err(e) = o.w.flush() {
            o.fail(&e, &self.shared);
        }
        o.sidecar.state = State::Closed;
        o.sidecar.closed = Some(reason.to_string());
        self.closed
            .insert(o.name.clone(), o.sidecar.bytes + INDEX_LINE);
        self.record(&o.sidecar);
        self.enforce_quota();
    }
}

/// Index bytes counted against the quota for each event (about one line).
const INDEX_LINE: u64 = 512;

/// One entry as an index line.
fn index_line(sc: &Sidecar, out: &mut Vec<u8>) {
    if serde_json::to_writer(&mut *out, sc).is_ok() {
        out.push(b'\n');
    }
}

/// A temporary index of the store (`.index.jsonl.RANDOM.tmp`, see [`Dir::temp`]).
fn is_stale_temp(name: &str) -> bool {
    name.strip_prefix(".index.jsonl.")
        .and_then(|n| n.strip_suffix(".tmp"))
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A sidecar for a pcap whose own was never written (a crash before the event's first flush
/// tick, or in a replay): what the name says, and the conversation of its first packet.
/// `f` is the file as opened (never reopened by name: the name may have changed hands).
fn sidecar_from_file(f: &File, path: &Path, name: &str) -> Sidecar {
    let mut sc = sidecar_from_name(name);
    let Ok(mut f) = f.try_clone() else {
        return sc;
    };
    // From the start, whatever the shared offset of the descriptor.
    if std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0)).is_err() {
        return sc;
    }
    let Ok(mut r) = crate::pcap::Reader::from_file(f, path) else {
        return sc;
    };
    let Ok(Some(p)) = r.next_packet() else {
        return sc;
    };
    let ts = p.ts.unwrap_or_default();
    let Ok(d) = crate::decode::decode(
        i32::try_from(p.linktype).unwrap_or(-1),
        ts.sec,
        ts.nsec / 1000,
        p.wire_len,
        p.data,
        crate::decode::DecodeOptions { checksums: false },
    ) else {
        return sc;
    };
    let key = ConvKey::of(&d);
    sc.proto = d.ip_proto;
    sc.src_ip = d.src;
    sc.dest_ip = d.dst;
    if key.has_ports() {
        sc.src_port = d.sport().unwrap_or(0);
        sc.dest_port = d.dport().unwrap_or(0);
    }
    sc.community_id = crate::decode::community_id::for_packet(0, &d);
    sc.from_us = sc
        .from_us
        .min(ts.sec * 1_000_000 + i64::from(ts.nsec / 1000));
    sc.pre_source = "unknown (the sidecar was never written)".into();
    sc
}

/// What an event's file name says (time, gid, sid).
fn sidecar_from_name(name: &str) -> Sidecar {
    let ts = chrono::NaiveDateTime::parse_from_str(&name[..22], "%Y%m%dT%H%M%S%.6f")
        .map_or(0, |t| t.and_utc().timestamp_micros());
    let mut parts = name.trim_end_matches(".pcap").split('_').skip(1);
    let (gid, sid) = parts
        .next()
        .and_then(|g| g.split_once('-'))
        .map_or((0, 0), |(g, s)| {
            (g.parse().unwrap_or(0), s.parse().unwrap_or(0))
        });
    let unspecified = IpAddr::from([0u8; 4]);
    Sidecar {
        file: name.to_string(),
        state: State::Repaired,
        proto: 0,
        src_ip: unspecified,
        src_port: 0,
        dest_ip: unspecified,
        dest_port: 0,
        community_id: None,
        scope: "session".into(),
        tag: None,
        first_alert_us: ts,
        last_alert_us: ts,
        from_us: ts,
        until_us: ts,
        pre_source: "unknown (sidecar lost)".into(),
        alert_count: 1,
        alerts: vec![AlertRef {
            gid,
            sid,
            rev: 0,
            msg: String::new(),
            ts_us: ts,
        }],
        packets: 0,
        bytes: 0,
        truncated: false,
        lost: 0,
        closed: None,
    }
}
