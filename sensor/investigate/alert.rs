//! `nsm-sensor investigate`: from an alert in `LOGDIR/eve.json` to the ring files around
//! it, the conversation between the two hosts as tcpdump-like lines, a verdict (handshake?
//! data each way? did the remote side answer?) and an evidence pcap. Headers come from the
//! product's one decoder (see `conversation`).
//!
//! eve.json is anyone's text: its `capture_file` is a hint that must name a ring file inside
//! the ring directory (never a path), and its strings are printed with control characters
//! neutralised, as the Snort writers print rule text.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use super::carve::{create_output, for_each_merged, select};
use super::conversation::{decode, Conversation};
use super::info::{summarize, Info};
use super::stored;
use super::{parse_time, Error, ErrorKind, Time};
use crate::decode::{self as decoder, DecodeOptions};
use crate::evidence::{Listed, Matcher};
use crate::output::snort;
use crate::pcap::{Reader, Writer};
use crate::ring::files;
use crate::safefs::{self, Dir};

/// Options of an investigation.
#[derive(Debug, Clone)]
pub struct InvestigateOptions {
    /// LOGDIR holding `eve.json`; evidence goes to `LOGDIR/evidence/` by default.
    pub log_dir: PathBuf,
    pub ring_dir: PathBuf,
    /// The evidence store, read when the ring no longer holds the alert's packets.
    pub evidence_dir: PathBuf,
    /// ALERT-SELECTOR (`None`: the newest alert). See [`Selector::parse`].
    pub selector: Option<String>,
    /// Seconds either side of the alert time searched for the conversation.
    pub window_s: i64,
    /// Evidence pcap path (`None`: `LOGDIR/evidence/alert-<sid>-<YYYYmmddTHHMMSS>.pcap`).
    pub evidence: Option<PathBuf>,
    /// Year for Snort-style `MM/DD-…` times (`None`: the current year).
    pub default_year: Option<i32>,
    /// Largest evidence pcap, in bytes of the file (header included): the investigation
    /// stops with `ErrorKind::TooLarge` before writing the packet that would pass it
    /// (`None`: no limit).
    pub max_evidence_bytes: Option<u64>,
}

impl InvestigateOptions {
    /// Defaults: newest alert, ±1 hour, evidence under `LOGDIR/evidence/`.
    pub fn new(log_dir: &Path, ring_dir: &Path) -> Self {
        InvestigateOptions {
            log_dir: log_dir.to_path_buf(),
            ring_dir: ring_dir.to_path_buf(),
            evidence_dir: log_dir.join("evidence"),
            selector: None,
            window_s: 3600,
            evidence: None,
            default_year: None,
            max_evidence_bytes: None,
        }
    }
}

/// Which alert to investigate.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    Newest,
    /// Newest alert of this signature id.
    Sid(u64),
    /// Newest alert involving this address.
    Ip(IpAddr),
    /// Alert nearest this time.
    Time(Time),
    /// N-th alert line (1-based; negative counts from the end).
    Line(i64),
    /// Newest alert of this Community ID (`1:` and 28 base64 characters).
    CommunityId(String),
}

impl Selector {
    /// `sid:N` or a plain integer → sid; `#N` → N-th alert line; an IP address; else a TIME.
    ///
    /// # Errors
    /// `ErrorKind::Usage` when it is none of these.
    pub fn parse(s: Option<&str>, default_year: Option<i32>) -> Result<Selector, Error> {
        let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Selector::Newest);
        };
        let usage = |what: &str| {
            Error::new(
                ErrorKind::Usage,
                format!("bad alert selector {s:?}: {what}"),
            )
        };
        if let Some(n) = s.strip_prefix('#') {
            return match n.parse::<i64>() {
                Ok(0) | Err(_) => Err(usage("'#N' needs a non-zero line number")),
                Ok(n) => Ok(Selector::Line(n)),
            };
        }
        if let Some(h) = s.strip_prefix("1:") {
            let b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=';
            return if h.len() == 28 && h.bytes().all(b64) {
                Ok(Selector::CommunityId(s.to_string()))
            } else {
                Err(usage("a Community ID is '1:' and 28 base64 characters"))
            };
        }
        if let Some(n) = s.strip_prefix("sid:") {
            return n
                .trim()
                .parse()
                .map(Selector::Sid)
                .map_err(|_| usage("'sid:N' needs a number"));
        }
        if let Ok(n) = s.parse::<u64>() {
            return Ok(Selector::Sid(n));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Selector::Ip(ip));
        }
        parse_time(s, default_year)
            .map(Selector::Time)
            .map_err(|_| {
                usage(
                    "expected 'sid:N', a number (sid), '#N' (alert line), an IP address, a Community ID or a TIME",
                )
            })
    }
}

/// Packets, payload bytes and flag counts of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Direction {
    pub packets: u64,
    pub payload_bytes: u64,
    pub syn: u64,
    pub fin: u64,
    pub rst: u64,
}

/// Where an investigation found the conversation's packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Ring,
    /// The evidence store: the ring no longer held them.
    EvidenceStore,
}

/// The result of an investigation.
#[derive(Debug, Clone)]
pub struct Investigation {
    pub source: Source,
    /// The EVE alert object as read.
    pub alert: Value,
    pub alert_time: Time,
    /// The alert as a fast-log line.
    pub alert_line: String,
    /// Ring files holding the alert or the conversation (or the evidence store's file), with
    /// their summaries.
    pub files: Vec<Info>,
    /// The alert's source.
    pub a: IpAddr,
    pub b: IpAddr,
    pub a_to_b: Direction,
    pub b_to_a: Direction,
    pub handshake_completed: bool,
    /// The conversation's packets, one tcpdump-like line each.
    pub packet_lines: Vec<String>,
    pub verdict: String,
    pub evidence: PathBuf,
    /// Ring files read only in part (a torn last record, a corrupt record) or gone.
    pub warnings: Vec<String>,
}

/// Runs an investigation (see the module docs).
///
/// # Errors
/// No `eve.json` or no alert in it; the selector matches nothing; the alert lacks addresses;
/// the ring file it names is gone; a ring file is corrupt; the evidence cannot be written,
/// or would pass `max_evidence_bytes` (`ErrorKind::TooLarge`, nothing left behind).
pub fn investigate(opts: &InvestigateOptions) -> Result<Investigation, Error> {
    let selector = Selector::parse(opts.selector.as_deref(), opts.default_year)?;
    let eve = opts.log_dir.join("eve.json");
    let alerts = read_alerts(&eve)?;
    let (alert, t) = choose(&alerts, &selector).ok_or_else(|| {
        Error::at(
            ErrorKind::NotFound,
            &eve,
            None,
            format!("no alert matches the selector {selector:?}"),
        )
    })?;
    investigate_alert(opts, alert, t)
}

/// The investigation of one alert already read from eve.json (its EVE object and time), for
/// a caller that keeps its own index of the alerts (the console) instead of re-reading
/// eve.json per alert. `opts.selector` is not used.
///
/// # Errors
/// As [`investigate`], less those of reading eve.json and choosing the alert.
pub fn investigate_alert(
    opts: &InvestigateOptions,
    alert: &Value,
    t: Time,
) -> Result<Investigation, Error> {
    let eve = opts.log_dir.join("eve.json");
    let field_ip = |k: &str| {
        alert
            .get(k)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<IpAddr>().ok())
            .ok_or_else(|| {
                Error::at(
                    ErrorKind::Format,
                    &eve,
                    None,
                    format!("the alert has no valid {k:?}"),
                )
            })
    };
    let (a, b) = (field_ip("src_ip")?, field_ip("dest_ip")?);
    let key = stored::alert_key(alert);
    let stored_event = key
        .as_ref()
        .and_then(|k| stored::find(&opts.evidence_dir, k, t));
    // The window read: the stored event's when there is one, so that the ring and the store
    // give the same conversation (and verdict); else an hour either side of the alert.
    let micros = |us: i64| {
        Time::new(
            us.div_euclid(1_000_000),
            (us.rem_euclid(1_000_000) * 1000) as u32,
        )
    };
    let (from, to) = match &stored_event {
        Some(ev) => (
            micros(ev.sidecar.from_us),
            micros(ev.sidecar.until_us.max(ev.sidecar.last_alert_us)),
        ),
        None => (t.add_secs(-opts.window_s), t.add_secs(opts.window_s)),
    };
    // The ring failing us (file rotated out, no ring): the store's copy, if it has one.
    let or_store = |e: Error| match stored_event.clone() {
        Some(ev) => from_store(
            opts,
            alert,
            t,
            (a, b),
            ev,
            vec![format!("{e}; read from the evidence store")],
        ),
        None => Err(e),
    };
    // The ring file the alert names, if it is one: eve.json is only a hint, never a path.
    let named = match ring_capture_file(&opts.ring_dir, alert) {
        Ok(n) => n,
        Err(e) if e.kind() == ErrorKind::NotFound => return or_store(e),
        Err(e) => return Err(e),
    };
    let sel = match select(&opts.ring_dir, Some(from), Some(to)) {
        Ok(sel) => sel,
        Err(e) => return or_store(e),
    };
    let sid = alert
        .pointer("/alert/signature_id")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let (evidence, tmp, file) = output_file(opts, sid, t)?;
    let mut w = Writer::on_file(file, &evidence, sel.linktype, sel.snaplen)?;
    let mut conv = Conversation::new(a, b);
    let mut matcher = key.map(Matcher::new);
    let mut used: Vec<PathBuf> = named.into_iter().collect();
    let merged = for_each_merged(&sel.files, Some(from), Some(to), |rf, ts, wire, data| {
        if !in_conversation(matcher.as_mut(), sel.linktype, data, wire) {
            return Ok(());
        }
        if let Some(h) = decode(sel.linktype, data, wire) {
            if conv.add(ts, &h) {
                bounded_write(&mut w, opts.max_evidence_bytes, &evidence, (ts, wire, data))?;
                if !used.contains(&rf.path) {
                    used.push(rf.path.clone());
                }
            }
        }
        Ok(())
    })?;
    if conv.lines.is_empty() {
        // The ring holds nothing of the conversation any more (rotated away since the alert).
        if let Some(ev) = stored_event.clone() {
            drop(w);
            drop(tmp);
            let mut notes = sel.notes;
            notes.push(format!(
                "the ring in {} holds no packet of this conversation; read from the evidence store",
                opts.ring_dir.display()
            ));
            return from_store(opts, alert, t, (a, b), ev, notes);
        }
    }
    w.finish()?;
    tmp.commit().map_err(|e| Error::io(&evidence, &e))?;
    used.sort();
    let mut warnings = sel.notes;
    warnings.extend(merged.notes);
    let mut files = Vec::with_capacity(used.len());
    for p in &used {
        match summarize(p) {
            Ok(info) => {
                if let Some(w) = &info.warning {
                    warnings.push(w.clone());
                }
                files.push(info);
            }
            // Rotated out since it was read: the packets are in the evidence already.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                warnings.push(format!("{e}: not summarized"))
            }
            Err(e) => return Err(e),
        }
    }
    let verdict = conv.verdict(alert.get("dest_port").and_then(Value::as_u64));
    Ok(Investigation {
        source: Source::Ring,
        alert_line: fast_line(alert, t),
        alert: alert.clone(),
        alert_time: t,
        files,
        a,
        b,
        a_to_b: conv.ab,
        b_to_a: conv.ba,
        handshake_completed: conv.handshake(),
        packet_lines: conv.lines,
        verdict,
        evidence,
        warnings,
    })
}

/// Whether a frame belongs to the alert's conversation ([`crate::evidence::key`]'s rule,
/// the one the evidence store keeps by). Without a conversation key (an alert without a
/// protocol) every frame between the two hosts does.
fn in_conversation(m: Option<&mut Matcher>, linktype: u32, data: &[u8], wire: u32) -> bool {
    let Some(m) = m else {
        return true;
    };
    let Ok(lt) = i32::try_from(linktype) else {
        return false;
    };
    decoder::decode(lt, 0, 0, wire, data, DecodeOptions { checksums: false })
        .is_ok_and(|p| m.matches(&p))
}

/// The evidence pcap to write: `-w`, else `LOGDIR/evidence/alert-<sid>-<time>.pcap`, as a
/// temporary file renamed into place when complete.
fn output_file(
    opts: &InvestigateOptions,
    sid: u64,
    t: Time,
) -> Result<(PathBuf, safefs::TempFile, File), Error> {
    match &opts.evidence {
        Some(p) => {
            let (tmp, file) = create_output(&opts.ring_dir, p)?;
            Ok((p.clone(), tmp, file))
        }
        None => {
            // LOGDIR/evidence, created 0750 and never reached through a link.
            let dir = Dir::open(&opts.log_dir)
                .and_then(|d| d.subdir("evidence", true))
                .map_err(|e| Error::io(&opts.log_dir.join("evidence"), &e))?;
            let p = dir.join(&format!(
                "alert-{sid}-{}.pcap",
                t.to_utc().format("%Y%m%dT%H%M%S")
            ));
            let (tmp, file) = create_output(&opts.ring_dir, &p)?;
            Ok((p, tmp, file))
        }
    }
}

/// Appends a packet `(time, wire length, bytes)` to the evidence `out`, unless the file would
/// pass `max` bytes (`ErrorKind::TooLarge`).
fn bounded_write(
    w: &mut Writer,
    max: Option<u64>,
    out: &Path,
    (ts, wire, data): (Time, u32, &[u8]),
) -> Result<(), Error> {
    // pcap record header (16 bytes) and the captured bytes: what `Writer` counts.
    let grown = w.bytes.saturating_add(16 + data.len() as u64);
    if let Some(max) = max.filter(|&max| grown > max) {
        return Err(Error::at(
            ErrorKind::TooLarge,
            out,
            None,
            format!("the evidence would pass {max} bytes"),
        ));
    }
    w.write(ts.into(), wire, data)?;
    Ok(())
}

/// The investigation over the evidence store's file of the alert's event: every packet of
/// it is the conversation's. The evidence is that file (copied to `-w` when given).
fn from_store(
    opts: &InvestigateOptions,
    alert: &Value,
    t: Time,
    (a, b): (IpAddr, IpAddr),
    ev: Listed,
    mut warnings: Vec<String>,
) -> Result<Investigation, Error> {
    // Opened without following a link: a link planted at an evidence name is refused.
    let file = safefs::split(&ev.path)
        .and_then(|(dir, name)| Dir::open(&dir)?.open_read(&name))
        .map_err(|e| Error::io(&ev.path, &e))?;
    let read = file.metadata().map_err(|e| Error::io(&ev.path, &e))?;
    let mut r = Reader::from_file(file, &ev.path)?;
    let (linktype, snaplen) = r
        .interfaces()
        .first()
        .map_or((1, 262_144), |i| (i.linktype, i.snaplen));
    let mut copy = match &opts.evidence {
        Some(p) => {
            // The store's file being read is an input too, and its only copy.
            use std::os::unix::fs::MetadataExt;
            let id = |m: &std::fs::Metadata| (m.dev(), m.ino());
            if std::fs::metadata(p).is_ok_and(|m| id(&m) == id(&read)) {
                return Err(Error::at(
                    ErrorKind::Usage,
                    p,
                    None,
                    format!(
                        "is the evidence file {}; refusing to overwrite an input (write the \
                         output elsewhere)",
                        ev.path.display()
                    ),
                ));
            }
            // The ring's files must not be overwritten either (create_output's `ring_dir`).
            let (tmp, file) = create_output(&opts.ring_dir, p)?;
            Some((tmp, Writer::on_file(file, p, linktype, snaplen)?))
        }
        None => None,
    };
    let mut conv = Conversation::new(a, b);
    while let Some(p) = r.next_packet()? {
        let ts = p.ts.map(Time::from).unwrap_or_default();
        if let Some(h) = decode(p.linktype, p.data, p.wire_len) {
            conv.add(ts, &h);
        }
        if let (Some((_, w)), Some(out)) = (copy.as_mut(), &opts.evidence) {
            bounded_write(w, opts.max_evidence_bytes, out, (ts, p.wire_len, p.data))?;
        }
    }
    if let Some(t) = r.tail() {
        warnings.push(format!("{t}; read up to the last whole record"));
    }
    let evidence = match copy {
        Some((tmp, w)) => {
            w.finish()?;
            let target = tmp.target_path();
            tmp.commit().map_err(|e| Error::io(&target, &e))?;
            target
        }
        None => ev.path.clone(),
    };
    let info = summarize(&ev.path)?;
    if ev.sidecar.truncated {
        warnings.push("the stored evidence was cut at a per-event limit".into());
    }
    if ev.sidecar.lost > 0 {
        warnings.push(format!(
            "{} packet(s) of the event were not kept (the writer was behind)",
            ev.sidecar.lost
        ));
    }
    let verdict = conv.verdict(alert.get("dest_port").and_then(Value::as_u64));
    Ok(Investigation {
        source: Source::EvidenceStore,
        alert_line: fast_line(alert, t),
        alert: alert.clone(),
        alert_time: t,
        files: vec![info],
        a,
        b,
        a_to_b: conv.ab,
        b_to_a: conv.ba,
        handshake_completed: conv.handshake(),
        packet_lines: conv.lines,
        verdict,
        evidence,
        warnings,
    })
}

impl Investigation {
    /// The human report: alert, files with their summaries, packets, verdict, evidence.
    ///
    /// # Errors
    /// A write failure of `w`.
    pub fn write_text(&self, w: &mut impl Write) -> io::Result<()> {
        writeln!(w, "Alert:\n  {}\n", self.alert_line)?;
        match self.source {
            Source::Ring => writeln!(w, "Ring files:")?,
            Source::EvidenceStore => writeln!(
                w,
                "Evidence store (the ring no longer holds this conversation):"
            )?,
        }
        if self.files.is_empty() {
            writeln!(w, "  (none holds packets of this conversation)")?;
        }
        for f in &self.files {
            let mut text = Vec::new();
            f.write_text(&mut text)?;
            for line in String::from_utf8_lossy(&text).lines() {
                writeln!(w, "  {line}")?;
            }
            writeln!(w)?;
        }
        writeln!(
            w,
            "Conversation {} <-> {} ({} packets):",
            self.a,
            self.b,
            self.packet_lines.len()
        )?;
        for l in &self.packet_lines {
            writeln!(w, "  {l}")?;
        }
        writeln!(w, "\nVerdict: {}", self.verdict)?;
        writeln!(
            w,
            "Evidence: {} ({} packets)",
            self.evidence.display(),
            self.packet_lines.len()
        )
    }

    /// `{"alert","files":[{"path","info"}],"hosts":{"a","b"},"a_to_b","b_to_a",
    /// "handshake_completed","evidence"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "alert": self.alert,
            "source": match self.source { Source::Ring => "ring", Source::EvidenceStore => "evidence" },
            "files": self.files.iter().map(|f| json!({"path": f.path.display().to_string(), "info": f.to_json()})).collect::<Vec<_>>(),
            "hosts": {"a": self.a.to_string(), "b": self.b.to_string()},
            "a_to_b": self.a_to_b,
            "b_to_a": self.b_to_a,
            "handshake_completed": self.handshake_completed,
            "evidence": self.evidence.display().to_string(),
        })
    }
}

/// The ring file an alert's `capture_file` names, when it is one: a plain file name in the
/// ring's pattern, inside `ring_dir`, a regular file and not a link. Anything else (`../x`,
/// `/etc/shadow`, a link planted in the ring directory) is ignored with a warning: the ring
/// files are then found by time alone, as for an alert without `capture_file`.
///
/// # Errors
/// A valid ring file name whose file is gone (rotated out of the ring).
fn ring_capture_file(ring_dir: &Path, alert: &Value) -> Result<Option<PathBuf>, Error> {
    let Some(name) = alert.get("capture_file").and_then(Value::as_str) else {
        return Ok(None);
    };
    if !safefs::is_plain_name(name.as_ref()) || files::parse_name(name).is_none() {
        tracing::warn!(
            "the alert's capture_file {:?} is not a ring file name; ignored (ring files are found by time)",
            printable(name)
        );
        return Ok(None);
    }
    let p = ring_dir.join(name);
    match std::fs::symlink_metadata(&p) {
        Ok(m) if m.file_type().is_file() => Ok(Some(p)),
        Ok(_) => {
            tracing::warn!(
                "{}: named by the alert's capture_file but not a regular file (a link?); ignored",
                p.display()
            );
            Ok(None)
        }
        Err(_) => Err(Error::at(
            ErrorKind::NotFound,
            &p,
            None,
            "the ring file named by the alert is gone (rotated out of the ring?)",
        )),
    }
}

/// `s` with every control character a space, as the Snort writers print rule text
/// ([`snort::write_text`]): text from eve.json never reaches a terminal raw.
fn printable(s: &str) -> String {
    let mut v = Vec::with_capacity(s.len());
    snort::write_text(&mut v, s);
    String::from_utf8_lossy(&v).into_owned()
}

/// Alerts of `eve.json` with their times, in file order. Lines that are not JSON (a line
/// being written) or not alerts are skipped; see [`parse_eve_line`] for a torn line.
fn read_alerts(eve: &Path) -> Result<Vec<(Value, Time)>, Error> {
    let f = File::open(eve).map_err(|e| {
        Error::at(
            ErrorKind::NotFound,
            eve,
            None,
            format!("cannot read the alert log: {e}"),
        )
    })?;
    let mut out = Vec::new();
    for line in BufReader::new(f).lines() {
        let line = line.map_err(|e| Error::io(eve, &e))?;
        let Some(v) = parse_eve_line(&line) else {
            continue;
        };
        if v.get("event_type").and_then(Value::as_str) != Some("alert") {
            continue;
        }
        let Some(t) = v
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(|s| parse_time(s, None).ok())
        else {
            continue;
        };
        out.push((v, t));
    }
    if out.is_empty() {
        return Err(Error::at(
            ErrorKind::NotFound,
            eve,
            None,
            "no alerts in the alert log",
        ));
    }
    Ok(out)
}

/// One EVE line as JSON. A writer killed in the middle of a write (`kill -9`, power loss:
/// Linux may cut a write to a regular file short when a fatal signal arrives) leaves a torn
/// record without its newline, and the restarted writer appends its first record to it:
/// `{"timestamp":"2024-05-0{"timestamp":…}`. Such a line yields the whole record after the
/// fragment. A record's start `{"timestamp"` cannot occur inside a JSON string (quotes in
/// strings are escaped), so the last one on the line starts the last record.
fn parse_eve_line(line: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(line) {
        return Some(v);
    }
    let start = line.rfind("{\"timestamp\"").filter(|&i| i > 0)?;
    serde_json::from_str::<Value>(&line[start..]).ok()
}

fn choose<'a>(alerts: &'a [(Value, Time)], sel: &Selector) -> Option<(&'a Value, Time)> {
    let newest = |f: &dyn Fn(&Value) -> bool| {
        alerts
            .iter()
            .filter(|(v, _)| f(v))
            .max_by_key(|(_, t)| *t)
            .map(|(v, t)| (v, *t))
    };
    match sel {
        Selector::Newest => newest(&|_| true),
        Selector::Sid(sid) => {
            newest(&|v| v.pointer("/alert/signature_id").and_then(Value::as_u64) == Some(*sid))
        }
        Selector::Ip(ip) => newest(&|v| {
            ["src_ip", "dest_ip"].iter().any(|k| {
                v.get(k)
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<IpAddr>().ok())
                    == Some(*ip)
            })
        }),
        Selector::Time(at) => alerts
            .iter()
            .min_by_key(|(_, t)| (t.as_micros() - at.as_micros()).unsigned_abs())
            .map(|(v, t)| (v, *t)),
        Selector::CommunityId(id) => {
            newest(&|v| stored::alert_community_id(v).as_deref() == Some(id.as_str()))
        }
        Selector::Line(n) => {
            let i = if *n > 0 {
                usize::try_from(n - 1).ok()?
            } else {
                alerts.len().checked_sub(n.unsigned_abs() as usize)?
            };
            alerts.get(i).map(|(v, t)| (v, *t))
        }
    }
}

/// Snort fast-log-like line, in the EVE timestamp's own offset.
fn fast_line(v: &Value, t: Time) -> String {
    // Every field printed with its control characters neutralised (see `printable`).
    let s = |p: &str| {
        v.pointer(p)
            .map(|x| x.as_str().map_or_else(|| x.to_string(), printable))
            .unwrap_or_default()
    };
    let ts = v
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|x| chrono::DateTime::parse_from_str(x, "%Y-%m-%dT%H:%M:%S%.f%z").ok())
        .map_or_else(
            || t.to_utc().format("%m/%d-%H:%M:%S%.6f").to_string(),
            |d| d.format("%m/%d-%H:%M:%S%.6f").to_string(),
        );
    let ep = |ip: &str, port: &str| {
        let port = s(port);
        if port.is_empty() {
            s(ip)
        } else {
            format!("{}:{port}", s(ip))
        }
    };
    format!(
        "{ts}  [**] [{}:{}:{}] {} [**] [Classification: {}] [Priority: {}] {{{}}} {} -> {}",
        v.pointer("/alert/gid")
            .map_or_else(|| "1".to_string(), |g| printable(&g.to_string())),
        s("/alert/signature_id"),
        s("/alert/rev"),
        s("/alert/signature"),
        s("/alert/category"),
        s("/alert/severity"),
        s("/proto"),
        ep("/src_ip", "/src_port"),
        ep("/dest_ip", "/dest_port"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        for (s, want) in [
            ("", Selector::Newest),
            ("sid:2404000", Selector::Sid(2_404_000)),
            ("2404000", Selector::Sid(2_404_000)),
            ("#-1", Selector::Line(-1)),
            ("#3", Selector::Line(3)),
            (
                "192.168.0.31",
                Selector::Ip("192.168.0.31".parse().unwrap()),
            ),
            (
                "02/21-10:17:54",
                Selector::Time(Time::new(1_172_053_074, 0)),
            ),
            (
                "1172053074.5",
                Selector::Time(Time::new(1_172_053_074, 500_000_000)),
            ),
        ] {
            assert_eq!(Selector::parse(Some(s), Some(2007)).unwrap(), want, "{s}");
        }
        assert!(Selector::parse(Some("#0"), None).is_err());
        assert!(Selector::parse(Some("bogus"), None).is_err());
    }

    /// A sensor killed mid-write leaves a torn record; the next run appends to it. The torn
    /// fragment is skipped, the record after it kept, other non-JSON lines skipped.
    #[test]
    fn torn_eve_line_after_a_crash_keeps_the_next_record() {
        let rec = |sid: u32, sec: u32| {
            format!(
                "{{\"timestamp\":\"2024-05-01T10:00:{sec:02}.000000+0000\",\"event_type\":\"alert\",\"alert\":{{\"signature_id\":{sid},\"signature\":\"a {{\\\"timestamp\\\" in text\"}}}}"
            )
        };
        let whole = rec(1, 1);
        let torn = &rec(2, 2)[..40];
        let text = format!("{whole}\n{torn}{}\n{{\"timest\n{}\n", rec(3, 3), rec(4, 4));
        let d = tempfile::tempdir().unwrap();
        let eve = d.path().join("eve.json");
        std::fs::write(&eve, text).unwrap();
        let sids: Vec<u64> = read_alerts(&eve)
            .unwrap()
            .iter()
            .filter_map(|(v, _)| v.pointer("/alert/signature_id").and_then(Value::as_u64))
            .collect();
        assert_eq!(sids, [1, 3, 4]);
        assert!(parse_eve_line(torn).is_none());
        assert!(parse_eve_line(&whole).is_some());
    }
}
