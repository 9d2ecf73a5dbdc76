//! The console's index of `eve.json` (and of the Snort `alert` file beside it): read once,
//! then only the lines appended since (tail by offset), never the whole file per request.
//! Each alert is a small fixed record (time, sid, endpoints, interned signature and
//! classification, byte offset of its line); a request filters and groups those records and
//! reads back the one line it shows. Memory is bounded by `max` alerts: past it the oldest
//! records go (counted in [`AlertIndex::evicted`]). A file replaced (logrotate) or cut shorter
//! starts a fresh index; alert ids keep increasing, so an old id never names a new alert.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;
use serde_json::Value;

/// Longest line indexed; a longer one is skipped (counted): no EVE alert is that long.
const MAX_LINE: usize = 1 << 20;
/// Bytes read per refresh step.
const CHUNK: usize = 4 << 20;
/// Distinct signature and classification texts kept; past it new texts share one slot.
const MAX_STRINGS: usize = 100_000;
/// Characters of a signature or classification kept in the index (the record has it whole).
const MAX_TEXT: usize = 512;

/// One alert of eve.json, as the index keeps it.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The console's id of the alert (increasing in file order, never reused).
    pub id: u64,
    offset: u64,
    len: u32,
    pub time_us: i64,
    pub gid: u32,
    pub sid: u32,
    pub rev: u32,
    pub priority: u32,
    sig: u32,
    class: u32,
    proto: u32,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

/// Texts shared by many alerts (signatures, classifications, protocols), stored once.
#[derive(Debug, Default)]
struct Strings {
    list: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Strings {
    fn intern(&mut self, s: &str) -> u32 {
        let s = cut(s, MAX_TEXT);
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        if self.list.len() >= MAX_STRINGS {
            return self.intern_overflow();
        }
        let i = self.list.len() as u32;
        self.list.push(s.to_string());
        self.ids.insert(s.to_string(), i);
        i
    }

    fn intern_overflow(&mut self) -> u32 {
        const OVER: &str = "(too many distinct texts: see the record)";
        if let Some(&i) = self.ids.get(OVER) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push(OVER.into());
        self.ids.insert(OVER.into(), i);
        i
    }

    fn get(&self, i: u32) -> &str {
        self.list.get(i as usize).map_or("", String::as_str)
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Which file the index is reading, to notice a replacement (logrotate) or a cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

/// What [`Tail::read_new`] hands its caller.
enum Tailed<'a> {
    /// The file was replaced or cut: what was read of it before is gone.
    Reset,
    /// A complete line (without its newline) and its byte offset.
    Line(u64, &'a [u8]),
    /// A line longer than [`MAX_LINE`], skipped whole (given once, when it ends).
    TooLong,
}

/// Tail state of one appended-to text file.
#[derive(Debug, Default)]
struct Tail {
    id: Option<FileId>,
    /// Bytes consumed (at a line end, or inside a line being skipped).
    offset: u64,
    /// Inside a line longer than [`MAX_LINE`]: the rest of it, up to its newline, is skipped
    /// (kept across calls, so its tail is never taken for a line of its own).
    skipping: bool,
}

impl Tail {
    /// New complete lines of `path` since the last call, each with its offset. A file
    /// replaced or cut gives [`Tailed::Reset`] first (the caller starts afresh; the lines are
    /// then those of the new file). A line longer than [`MAX_LINE`] is [`Tailed::TooLong`].
    ///
    /// # Errors
    /// The file exists but cannot be opened or read; the message names it.
    fn read_new(&mut self, path: &Path, f: impl FnMut(Tailed<'_>)) -> io::Result<()> {
        let file = match crate::safefs::open_read(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        self.read_from(file, f)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    }

    fn read_from(&mut self, mut file: File, mut f: impl FnMut(Tailed<'_>)) -> io::Result<()> {
        let m = file.metadata()?;
        let id = FileId {
            dev: m.dev(),
            ino: m.ino(),
        };
        if self.id != Some(id) || m.len() < self.offset {
            if self.id.is_some() {
                f(Tailed::Reset);
            }
            self.id = Some(id);
            self.offset = 0;
            self.skipping = false;
        }
        if m.len() == self.offset {
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::with_capacity(CHUNK.min((m.len() - self.offset) as usize + 1));
        loop {
            let start_len = buf.len();
            let want = CHUNK.saturating_sub(start_len).max(64 * 1024);
            let n = (&mut file).take(want as u64).read_to_end(&mut buf)?;
            if n == 0 {
                break;
            }
            let mut pos = 0;
            while let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') {
                let line = &buf[pos..pos + nl];
                if self.skipping || line.len() > MAX_LINE {
                    f(Tailed::TooLong);
                } else {
                    f(Tailed::Line(self.offset, line));
                }
                self.skipping = false;
                self.offset += nl as u64 + 1;
                pos += nl + 1;
            }
            buf.drain(..pos);
            if buf.len() > MAX_LINE {
                // An endless line: skip to its end without holding it.
                self.offset += buf.len() as u64;
                buf.clear();
                self.skipping = true;
            }
        }
        Ok(())
    }
}

/// The fields of an EVE alert the index keeps (borrowed from the line).
#[derive(Deserialize)]
struct EveLine<'a> {
    #[serde(borrow)]
    timestamp: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    event_type: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    src_ip: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    dest_ip: Option<std::borrow::Cow<'a, str>>,
    src_port: Option<u64>,
    dest_port: Option<u64>,
    proto: Option<Value>,
    #[serde(borrow)]
    alert: Option<EveAlert<'a>>,
}

#[derive(Deserialize)]
struct EveAlert<'a> {
    gid: Option<u64>,
    signature_id: Option<u64>,
    rev: Option<u64>,
    #[serde(borrow)]
    signature: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    category: Option<std::borrow::Cow<'a, str>>,
    severity: Option<u64>,
}

/// Microseconds since the epoch of an EVE timestamp (`2007-02-21T10:17:54.366236+0000`, or
/// RFC 3339).
pub fn eve_time_us(s: &str) -> Option<i64> {
    let d = chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()?;
    Some(d.timestamp_micros())
}

/// The EVE line's JSON, also out of a torn line (a record appended to the fragment a killed
/// writer left: the last `{"timestamp"` starts the whole record).
fn parse_line(line: &[u8]) -> Option<(usize, EveLine<'_>)> {
    if let Ok(v) = serde_json::from_slice::<EveLine<'_>>(line) {
        return Some((0, v));
    }
    let needle = b"{\"timestamp\"";
    let start = line
        .windows(needle.len())
        .rposition(|w| w == needle)
        .filter(|&i| i > 0)?;
    serde_json::from_slice::<EveLine<'_>>(line.get(start..)?)
        .ok()
        .map(|v| (start, v))
}

/// A filter over the indexed alerts; every criterion given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub from_us: Option<i64>,
    pub to_us: Option<i64>,
    pub sid: Option<u32>,
    /// Source or destination inside this network (a single address is a /32 or /128).
    pub net: Option<IpNet>,
    /// Case-insensitive substring of the classification.
    pub class: Option<String>,
    pub priority: Option<u32>,
}

/// One group of the alerts page: same signature, source and destination.
#[derive(Debug, Clone)]
pub struct Group {
    pub gid: u32,
    pub sid: u32,
    pub signature: String,
    pub classification: String,
    pub priority: u32,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub count: u64,
    pub first_us: i64,
    pub last_us: i64,
    /// The newest alert of the group.
    pub last_id: u64,
}

/// The index of eve.json and of the Snort `alert` file of one log directory.
#[derive(Debug)]
pub struct AlertIndex {
    eve: PathBuf,
    full: PathBuf,
    eve_tail: Tail,
    full_tail: Tail,
    entries: VecDeque<Entry>,
    strings: Strings,
    next_id: u64,
    max: usize,
    evicted: u64,
    skipped_lines: u64,
    /// `alert` records by (sid, Snort timestamp `MM/DD-HH:MM:SS.ffffff`): offset and length.
    full_records: HashMap<(u32, String), (u64, u32)>,
    full_order: VecDeque<(u32, String)>,
    /// The `alert` record being read (its start offset, sid, timestamp).
    full_open: Option<(u64, u32, Option<String>)>,
}

impl AlertIndex {
    /// An empty index of `LOGDIR/eve.json` and `LOGDIR/alert`, keeping at most `max` alerts.
    pub fn new(log_dir: &Path, max: usize) -> AlertIndex {
        AlertIndex {
            eve: log_dir.join("eve.json"),
            full: log_dir.join("alert"),
            eve_tail: Tail::default(),
            full_tail: Tail::default(),
            entries: VecDeque::new(),
            strings: Strings::default(),
            next_id: 1,
            max: max.max(1),
            evicted: 0,
            skipped_lines: 0,
            full_records: HashMap::new(),
            full_order: VecDeque::new(),
            full_open: None,
        }
    }

    /// Reads what was appended to eve.json and `alert` since the last call.
    ///
    /// # Errors
    /// A file exists but cannot be read (eve.json's error first; the other file is read
    /// anyway). The message names the file.
    pub fn refresh(&mut self) -> io::Result<()> {
        let eve = self.eve.clone();
        let mut tail = std::mem::take(&mut self.eve_tail);
        // Each line goes straight into the bounded index: a huge file never sits in memory.
        let read = tail.read_new(&eve, |r| match r {
            Tailed::Reset => {
                // The entries of the old file name lines that are gone (ids keep counting).
                self.evicted += self.entries.len() as u64;
                self.entries.clear();
            }
            Tailed::TooLong => self.skipped_lines += 1,
            Tailed::Line(off, line) => {
                if let Some(e) = self.index_line(off, line) {
                    if self.entries.len() >= self.max {
                        self.entries.pop_front();
                        self.evicted += 1;
                    }
                    self.entries.push_back(e);
                }
            }
        });
        self.eve_tail = tail;
        // The `alert` file is read even when eve.json cannot be: the first error is returned.
        let full = self.refresh_full();
        read.and(full)
    }

    fn index_line(&mut self, offset: u64, line: &[u8]) -> Option<Entry> {
        let Some((start, v)) = parse_line(line) else {
            if !line.iter().all(u8::is_ascii_whitespace) {
                self.skipped_lines += 1;
            }
            return None;
        };
        if v.event_type.as_deref() != Some("alert") {
            return None;
        }
        let a = v.alert?;
        let time_us = v.timestamp.as_deref().and_then(eve_time_us)?;
        let ip = |s: &Option<std::borrow::Cow<'_, str>>| {
            s.as_deref()
                .and_then(|s| s.parse::<IpAddr>().ok())
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        };
        let proto = match &v.proto {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let small = |n: Option<u64>| n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        let id = self.next_id;
        self.next_id += 1;
        Some(Entry {
            id,
            offset: offset + start as u64,
            len: u32::try_from(line.len() - start).ok()?,
            time_us,
            gid: a.gid.and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
            sid: small(a.signature_id),
            rev: small(a.rev),
            priority: small(a.severity),
            sig: self.strings.intern(a.signature.as_deref().unwrap_or("")),
            class: self.strings.intern(a.category.as_deref().unwrap_or("")),
            proto: self.strings.intern(&proto),
            src: ip(&v.src_ip),
            dst: ip(&v.dest_ip),
            sport: v.src_port.and_then(|p| u16::try_from(p).ok()),
            dport: v.dest_port.and_then(|p| u16::try_from(p).ok()),
        })
    }

    /// Indexes the Snort `alert` file's new records: a record starts with `[**] [g:s:r]`, its
    /// timestamp line is the first that starts with `MM/DD-`, a blank line ends it.
    fn refresh_full(&mut self) -> io::Result<()> {
        let full = self.full.clone();
        let mut tail = std::mem::take(&mut self.full_tail);
        let mut open = self.full_open.take();
        let read = tail.read_new(&full, |r| {
            let (off, line) = match r {
                Tailed::Reset => {
                    self.full_records.clear();
                    self.full_order.clear();
                    open = None;
                    return;
                }
                Tailed::Line(off, line) => (off, line),
                // No line of an `alert` record is that long: not one of its lines.
                Tailed::TooLong => return,
            };
            let text = String::from_utf8_lossy(line);
            if let Some(rest) = text.strip_prefix("[**] [") {
                let sid = rest
                    .split(':')
                    .nth(1)
                    .and_then(|s| s.parse::<u32>().ok())
                    .unwrap_or(0);
                open = Some((off, sid, None));
            } else if text.trim().is_empty() {
                if let Some((start, sid, Some(ts))) = open.take() {
                    let len = u32::try_from(off.saturating_sub(start)).unwrap_or(u32::MAX);
                    self.add_full(sid, ts, start, len);
                }
            } else if let Some((_, _, ts @ None)) = open.as_mut() {
                let b = text.as_bytes();
                if b.len() > 21 && b[2] == b'/' && b[5] == b'-' && b[14] == b'.' {
                    *ts = text.get(..21).map(str::to_string);
                }
            }
        });
        self.full_tail = tail;
        self.full_open = open;
        read
    }

    /// Remembers one `alert` record, the oldest forgotten past the cap.
    fn add_full(&mut self, sid: u32, ts: String, start: u64, len: u32) {
        if self.full_order.len() >= self.max {
            if let Some(k) = self.full_order.pop_front() {
                self.full_records.remove(&k);
            }
        }
        let key = (sid, ts);
        if self
            .full_records
            .insert(key.clone(), (start, len))
            .is_none()
        {
            self.full_order.push_back(key);
        }
    }

    /// Alerts indexed now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Alerts dropped from the index (the cap, or a rotated eve.json).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Lines of eve.json that were not JSON, or longer than [`MAX_LINE`].
    pub fn skipped_lines(&self) -> u64 {
        self.skipped_lines
    }

    /// The id of the newest alert (0: none yet).
    pub fn last_id(&self) -> u64 {
        self.entries.back().map_or(0, |e| e.id)
    }

    pub fn signature(&self, e: &Entry) -> &str {
        self.strings.get(e.sig)
    }

    pub fn classification(&self, e: &Entry) -> &str {
        self.strings.get(e.class)
    }

    pub fn proto(&self, e: &Entry) -> &str {
        self.strings.get(e.proto)
    }

    /// The alert with this id, if still indexed.
    pub fn get(&self, id: u64) -> Option<&Entry> {
        let first = self.entries.front()?.id;
        // Ids increase by one within a file; after a rotation they jump, so search.
        let guess = id.checked_sub(first).and_then(|i| usize::try_from(i).ok());
        if let Some(e) = guess.and_then(|i| self.entries.get(i)) {
            if e.id == id {
                return Some(e);
            }
        }
        let i = self.entries.binary_search_by_key(&id, |e| e.id).ok()?;
        self.entries.get(i)
    }

    /// The whole EVE record of an indexed alert, read back from eve.json.
    ///
    /// # Errors
    /// The file cannot be read, or the line changed (the file was replaced): `InvalidData`.
    pub fn record(&self, e: &Entry) -> io::Result<Value> {
        let f = crate::safefs::open_read(&self.eve)?;
        let mut buf = vec![0u8; e.len as usize];
        f.read_exact_at(&mut buf, e.offset)?;
        serde_json::from_slice(&buf)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "eve.json changed"))
    }

    /// The Snort `alert_full` record of an alert, found by sid and Snort timestamp (the EVE
    /// timestamp in its own offset, as both writers print the same clock).
    pub fn full_record(&self, e: &Entry, eve_timestamp: &str) -> Option<String> {
        let d = chrono::DateTime::parse_from_str(eve_timestamp, "%Y-%m-%dT%H:%M:%S%.f%z").ok()?;
        let ts = d.format("%m/%d-%H:%M:%S%.6f").to_string();
        let &(off, len) = self.full_records.get(&(e.sid, ts))?;
        let f = crate::safefs::open_read(&self.full).ok()?;
        let mut buf = vec![0u8; (len as usize).min(MAX_LINE)];
        f.read_exact_at(&mut buf, off).ok()?;
        Some(String::from_utf8_lossy(&buf).into_owned())
    }

    fn matches(&self, e: &Entry, f: &Filter, classes: Option<&[bool]>) -> bool {
        f.from_us.is_none_or(|t| e.time_us >= t)
            && f.to_us.is_none_or(|t| e.time_us <= t)
            && f.sid.is_none_or(|s| e.sid == s)
            && f.priority.is_none_or(|p| e.priority == p)
            && f.net
                .as_ref()
                .is_none_or(|n| n.contains(&e.src) || n.contains(&e.dst))
            && classes.is_none_or(|c| c.get(e.class as usize).copied().unwrap_or(false))
    }

    /// Which interned texts match the classification filter (one pass over the texts).
    fn class_mask(&self, f: &Filter) -> Option<Vec<bool>> {
        let want = f.class.as_ref()?.to_lowercase();
        Some(
            self.strings
                .list
                .iter()
                .map(|s| s.to_lowercase().contains(&want))
                .collect(),
        )
    }

    /// The alerts matching `f`, newest first: `(total, page)`.
    pub fn list(&self, f: &Filter, offset: usize, limit: usize) -> (usize, Vec<&Entry>) {
        let mask = self.class_mask(f);
        let mut total = 0;
        let mut page = Vec::with_capacity(limit.min(1000));
        for e in self.entries.iter().rev() {
            if self.matches(e, f, mask.as_deref()) {
                if total >= offset && page.len() < limit {
                    page.push(e);
                }
                total += 1;
            }
        }
        (total, page)
    }

    /// The alerts matching `f` grouped by signature, source and destination, the group with
    /// the newest alert first: `(groups, alerts, page of groups)`.
    pub fn groups(&self, f: &Filter, offset: usize, limit: usize) -> (usize, usize, Vec<Group>) {
        let mask = self.class_mask(f);
        let mut at: HashMap<(u32, u32, u32, IpAddr, IpAddr), usize> = HashMap::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut alerts = 0;
        // Newest first, so a group's first sighting is its newest alert.
        for e in self.entries.iter().rev() {
            if !self.matches(e, f, mask.as_deref()) {
                continue;
            }
            alerts += 1;
            let key = (e.gid, e.sid, e.sig, e.src, e.dst);
            match at.get(&key) {
                Some(&i) => {
                    if let Some(g) = groups.get_mut(i) {
                        g.count += 1;
                        g.first_us = g.first_us.min(e.time_us);
                        g.last_us = g.last_us.max(e.time_us);
                    }
                }
                None => {
                    at.insert(key, groups.len());
                    groups.push(Group {
                        gid: e.gid,
                        sid: e.sid,
                        signature: self.signature(e).to_string(),
                        classification: self.classification(e).to_string(),
                        priority: e.priority,
                        src: e.src,
                        dst: e.dst,
                        count: 1,
                        first_us: e.time_us,
                        last_us: e.time_us,
                        last_id: e.id,
                    });
                }
            }
        }
        groups.sort_by(|a, b| b.last_us.cmp(&a.last_us).then(b.last_id.cmp(&a.last_id)));
        let total = groups.len();
        let page = groups.into_iter().skip(offset).take(limit).collect();
        (total, alerts, page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(sid: u32, sec: u32, src: &str, msg: &str) -> String {
        serde_json::json!({
            "timestamp": format!("2024-05-01T10:00:{sec:02}.000000+0000"),
            "event_type": "alert", "src_ip": src, "src_port": 1000, "dest_ip": "10.0.0.2",
            "dest_port": 80, "proto": "TCP",
            "alert": {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 1,
                      "signature": msg, "category": "Misc activity", "severity": 3}
        })
        .to_string()
    }

    /// Appended lines are indexed on the next refresh; a half-written line waits for its
    /// newline; groups count per signature + source + destination.
    #[test]
    fn tails_appends_and_groups() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("eve.json");
        let mut f = File::create(&p).unwrap();
        writeln!(f, "{}", line(1, 1, "10.0.0.1", "one")).unwrap();
        writeln!(f, "{}", line(1, 2, "10.0.0.1", "one")).unwrap();
        let mut idx = AlertIndex::new(d.path(), 100);
        idx.refresh().unwrap();
        assert_eq!(idx.len(), 2);
        let half = line(2, 3, "10.0.0.9", "two");
        write!(f, "{}", &half[..20]).unwrap();
        idx.refresh().unwrap();
        assert_eq!(idx.len(), 2);
        writeln!(f, "{}", &half[20..]).unwrap();
        writeln!(f, "not json").unwrap();
        idx.refresh().unwrap();
        assert_eq!(idx.len(), 3);
        assert_eq!(idx.skipped_lines(), 1);
        let (n, alerts, g) = idx.groups(&Filter::default(), 0, 10);
        assert_eq!((n, alerts), (2, 3));
        assert_eq!((g[0].sid, g[0].count), (2, 1));
        assert_eq!((g[1].sid, g[1].count), (1, 2));
        let e = *idx.get(3).unwrap();
        assert_eq!(idx.record(&e).unwrap()["alert"]["signature"], "two");
        let f = Filter {
            net: Some("10.0.0.9/32".parse().unwrap()),
            ..Filter::default()
        };
        assert_eq!(idx.list(&f, 0, 10).0, 1);
    }

    /// The cap drops the oldest alerts and counts them; a replaced file starts afresh.
    #[test]
    fn bounded_and_rotation() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("eve.json");
        let text: String = (0..10)
            .map(|i| line(i, i, "10.0.0.1", "x") + "\n")
            .collect();
        std::fs::write(&p, &text).unwrap();
        let mut idx = AlertIndex::new(d.path(), 4);
        idx.refresh().unwrap();
        assert_eq!((idx.len(), idx.evicted()), (4, 6));
        assert!(idx.get(6).is_none() && idx.get(7).is_some());
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, line(99, 1, "10.0.0.1", "y") + "\n").unwrap();
        idx.refresh().unwrap();
        assert_eq!(idx.len(), 1);
        assert_eq!(idx.last_id(), 11);
        assert_eq!(idx.get(11).unwrap().sid, 99);
    }

    /// LOGDIR is writable by the sensor's user and the console may run as root: a link
    /// planted as eve.json is not followed, and a FIFO is refused instead of blocking the
    /// refresh forever; the `alert` file is read all the same.
    #[test]
    fn planted_link_and_fifo_are_not_read() {
        let d = tempfile::tempdir().unwrap();
        let secret = d.path().join("elsewhere.json");
        std::fs::write(&secret, line(7, 1, "10.0.0.1", "secret") + "\n").unwrap();
        let p = d.path().join("eve.json");
        std::os::unix::fs::symlink(&secret, &p).unwrap();
        // The `alert` file beside it is still read.
        std::fs::write(
            d.path().join("alert"),
            "[**] [1:7:1] secret [**]\n05/01-10:00:01.000000 10.0.0.1 -> 10.0.0.2\n\n",
        )
        .unwrap();
        let mut idx = AlertIndex::new(d.path(), 100);
        let e = idx.refresh().unwrap_err();
        assert!(e.to_string().contains("eve.json"), "{e}");
        assert_eq!((idx.len(), idx.full_records.len()), (0, 1));
        std::fs::remove_file(&p).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(idx.refresh().is_err());
        assert_eq!(idx.len(), 0);
    }

    /// A complete line over MAX_LINE but under CHUNK was indexed: it is skipped and counted,
    /// and so is an endless line whose tail arrives in a later refresh (once, and its tail
    /// is not taken for a line of its own).
    #[test]
    fn lines_over_max_line_are_skipped_and_counted() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("eve.json");
        let mut f = File::create(&p).unwrap();
        // A valid alert padded past MAX_LINE inside its signature.
        let long = line(5, 1, "10.0.0.1", &"x".repeat(MAX_LINE + 10));
        assert!(long.len() > MAX_LINE && long.len() < CHUNK);
        writeln!(f, "{long}").unwrap();
        writeln!(f, "{}", line(1, 2, "10.0.0.1", "ok")).unwrap();
        let mut idx = AlertIndex::new(d.path(), 100);
        idx.refresh().unwrap();
        assert_eq!((idx.len(), idx.skipped_lines()), (1, 1));
        // Endless: more than MAX_LINE without a newline, then the end of it later.
        write!(f, "{}", "y".repeat(MAX_LINE + 1)).unwrap();
        idx.refresh().unwrap();
        assert_eq!((idx.len(), idx.skipped_lines()), (1, 1));
        writeln!(f, "{}", line(2, 3, "10.0.0.1", "tail")).unwrap();
        writeln!(f, "{}", line(3, 4, "10.0.0.1", "next")).unwrap();
        idx.refresh().unwrap();
        assert_eq!((idx.len(), idx.skipped_lines()), (2, 2));
        assert_eq!(idx.get(idx.last_id()).unwrap().sid, 3);
    }
}
