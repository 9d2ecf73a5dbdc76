//! The console's HTTP side: the JSON API under `/api/` the pages use, the pages themselves,
//! the embedded assets, authentication and the security headers on every response.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/alerts?from&to&sid&ip&class&priority&group&offset&limit` | alerts (or groups) newest first, with totals |
//! | `GET /api/alerts/{id}` | one alert: EVE record, Snort `alert_full` record, rule text with file:line |
//! | `GET /api/alerts/{id}/investigation` | verdict, files, conversation (lines and packets) |
//! | `GET /api/alerts/{id}/evidence.pcap` | the conversation's packets (ring or evidence store) |
//! | `GET /api/alerts/{id}/carve.pcap?before&after&scope` | the ring around the alert (bounded) |
//! | `GET /api/status` | newest alert id and counts (the pages poll it) |
//! | `GET /api/stats` | stats.log samples and rates |
//! | `GET /api/sensor` | ring files, disk use, rule set, last reload, index counters |
//!
//! Every parameter is parsed strictly (numbers, times, addresses, a few words); an unknown
//! parameter is an error. Nothing a client sends becomes a path: downloads are named by
//! alert id, and their files are written by the console into its scratch directory.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State as AxState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use ipnet::IpNet;
use serde_json::{json, Value};

use super::index::{AlertIndex, Entry, Filter};
use super::page;
use super::stats::{self, StatsTail};
use super::{ConsoleOptions, Error};
use crate::decode::{self, DecodeOptions, Transport};
use crate::investigate::{self, InvestigateOptions, Investigation, Source, Time};
use crate::rules::LoadOptions;

/// Largest page of the alerts API.
pub const MAX_LIMIT: usize = 1000;
/// Packets of a conversation (rows and text lines) listed in an investigation's answer.
const MAX_ROWS: usize = 10_000;
/// Investigations and carves at once; more wait their turn.
const HEAVY: usize = 2;
/// Argon2 password verifications at once (each takes ~19 MiB and tens of ms of CPU); more
/// wait their turn, so guessers cannot exhaust memory or the blocking thread pool.
const HASHING: usize = 2;
/// How often eve.json, alert and stats.log are looked at for new lines.
const REFRESH: Duration = Duration::from_millis(1000);
/// How often the rule files are checked for a change.
const RULES_CHECK: Duration = Duration::from_secs(30);
/// Content-Security-Policy: only the console's own scripts, styles and API; no inline code.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's own directory for the pcaps it sends (removed at exit).
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
    seq: AtomicU64,
}

impl Scratch {
    /// `under/nsm-console-RANDOM` (0700), `under` the system temporary directory by default.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn create(under: Option<&Path>) -> Result<Scratch, Error> {
        use std::os::unix::fs::DirBuilderExt;
        let base = under.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let mut r = [0u8; 8];
        super::auth::getrandom(&mut r)?;
        let dir = base.join(format!("nsm-console-{}", u64::from_le_bytes(r)));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io(format!("scratch directory {}: {e}", dir.display())))?;
        Ok(Scratch {
            dir,
            seq: AtomicU64::new(0),
        })
    }

    fn next(&self, what: &str) -> PathBuf {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{what}-{n}.pcap"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The rule set as the console shows it: where each rule is, and the load's totals.
#[derive(Debug, Default)]
struct Rules {
    /// (gid, sid) → (file, line).
    locs: HashMap<(u32, u32), (Arc<PathBuf>, u32)>,
    summary: Value,
    /// Files read and their modification times when loaded.
    stamps: Vec<(PathBuf, Option<SystemTime>)>,
}

fn load_rules(opts: &LoadOptions) -> Rules {
    let started = chrono::Utc::now();
    let report = crate::rules::load(opts);
    let mut locs = HashMap::with_capacity(report.model.rules.len());
    for r in &report.model.rules {
        locs.insert((r.gid, r.sid), (Arc::clone(&r.loc.file), r.loc.line));
    }
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for f in &report.files {
        for (reason, n) in &f.skipped {
            *by_reason.entry(reason.clone()).or_default() += n;
        }
    }
    let stamps = report
        .files
        .iter()
        .map(|f| {
            let m = std::fs::metadata(&f.path).and_then(|m| m.modified()).ok();
            (f.path.clone(), m)
        })
        .collect();
    let summary = json!({
        "loaded": report.loaded(),
        "skipped": report.skipped(),
        "skipped_by_reason": by_reason,
        "errors": report.errors().count(),
        "files": report.files.iter().map(|f| json!({
            "file": f.path.display().to_string(),
            "loaded": f.loaded,
            "skipped": f.skipped_total(),
        })).collect::<Vec<_>>(),
        "loaded_at": started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    Rules {
        locs,
        summary,
        stamps,
    }
}

/// Shared state of the running console.
pub struct State {
    opts: ConsoleOptions,
    index: RwLock<AlertIndex>,
    stats: Mutex<StatsTail>,
    rules: RwLock<Rules>,
    scratch: Scratch,
    started: String,
    /// Investigations and carves running at once (each reads the ring and writes a pcap).
    /// A permit is owned by the blocking job itself, so a client that goes away does not
    /// free it while the job still runs.
    heavy: Arc<tokio::sync::Semaphore>,
    /// Inside an episode of failing reads of eve.json / alert, and of stats.log (each
    /// warned once, until a read succeeds again).
    index_failing: AtomicBool,
    stats_failing: AtomicBool,
    /// Argon2 verifications running at once (off the async workers, see [`guard`]).
    hashing: Arc<tokio::sync::Semaphore>,
}

impl State {
    pub fn new(opts: ConsoleOptions, scratch: Scratch) -> Arc<State> {
        Arc::new(State {
            index: RwLock::new(AlertIndex::new(&opts.log_dir, opts.max_alerts)),
            stats: Mutex::new(StatsTail::new(&opts.log_dir)),
            rules: RwLock::new(Rules::default()),
            scratch,
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            heavy: Arc::new(tokio::sync::Semaphore::new(HEAVY)),
            index_failing: AtomicBool::new(false),
            stats_failing: AtomicBool::new(false),
            hashing: Arc::new(tokio::sync::Semaphore::new(HASHING)),
            opts,
        })
    }

    /// Reads what was appended to eve.json, alert and stats.log. The index is built outside
    /// the lock's write side only for the lines read; requests wait at most that long.
    /// A lock poisoned by a panicked request is taken anyway (the index stays usable and is
    /// only ever appended to or restarted), so refreshing never stops silently. A failing
    /// read is warned once per episode, and its end said once.
    pub fn refresh_now(&self) {
        let res = self
            .index
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .refresh();
        episode(&self.index_failing, res, "alerts");
        let res = self
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .refresh();
        episode(&self.stats_failing, res, "stats");
    }

    /// Loads the rule set again when a file of it changed (or it was never loaded).
    pub fn reload_rules_if_changed(&self) {
        let Some(opts) = &self.opts.rules else {
            return;
        };
        let stale = {
            let r = self.rules.read().unwrap_or_else(PoisonError::into_inner);
            r.stamps.is_empty()
                || r.stamps
                    .iter()
                    .any(|(p, m)| std::fs::metadata(p).and_then(|m| m.modified()).ok() != *m)
        };
        if stale {
            let fresh = load_rules(opts);
            *self.rules.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        }
    }
}

/// Warns of the first failure of an episode of `what` (the flag `failing` tracks it) and
/// notes its end, as the ring and the alert writers do.
fn episode(failing: &AtomicBool, res: std::io::Result<()>, what: &str) {
    match res {
        Err(e) => {
            if !failing.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "console {what}: {e}; showing what was read before until it can be read again"
                );
            }
        }
        Ok(()) => {
            if failing.swap(false, Ordering::Relaxed) {
                tracing::info!("console {what}: reading again");
            }
        }
    }
}

/// Tails the files every second and looks at the rule files every 30 s, off the runtime's
/// worker threads.
pub fn spawn_refresh(state: Arc<State>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut since_rules = RULES_CHECK;
        loop {
            let s = Arc::clone(&state);
            let check_rules = since_rules >= RULES_CHECK;
            let done = tokio::task::spawn_blocking(move || {
                s.refresh_now();
                if check_rules {
                    s.reload_rules_if_changed();
                }
            })
            .await;
            if let Err(e) = done {
                // A panic in a refresh; the next one starts afresh a second later.
                tracing::error!("console refresh failed: {e}");
            }
            if check_rules {
                since_rules = Duration::ZERO;
            }
            tokio::time::sleep(REFRESH).await;
            since_rules += REFRESH;
        }
    })
}

/// The console's routes over `state`, with authentication and security headers.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/alerts") }))
        .route("/alerts", get(alerts_page))
        .route("/alert/{id}", get(alert_page))
        .route("/sensor", get(sensor_page))
        .route("/assets/{name}", get(asset))
        .route("/api/status", get(api_status))
        .route("/api/alerts", get(api_alerts))
        .route("/api/alerts/{id}", get(api_alert))
        .route("/api/alerts/{id}/investigation", get(api_investigation))
        .route("/api/alerts/{id}/evidence.pcap", get(api_evidence))
        .route("/api/alerts/{id}/carve.pcap", get(api_carve))
        .route("/api/stats", get(api_stats))
        .route("/api/sensor", get(api_sensor))
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "no such page") })
        .layer(middleware::from_fn_with_state(Arc::clone(&state), guard))
        .with_state(state)
}

/// Authentication, then the security headers on whatever the answer is.
async fn guard(AxState(state): AxState<Arc<State>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes().to_vec());
    let admitted = if state.opts.auth.needs_hashing(given.as_deref()) {
        // Argon2 blocks for tens of milliseconds: never on an async worker thread.
        match Arc::clone(&state.hashing).acquire_owned().await {
            Ok(permit) => {
                let auth = state.opts.auth.clone();
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    auth.admits(given.as_deref())
                })
                .await
                .unwrap_or_else(|e| {
                    tracing::error!("console: password verification failed: {e}");
                    false
                })
            }
            Err(_) => false,
        }
    } else {
        state.opts.auth.admits(given.as_deref())
    };
    let mut res = if admitted {
        next.run(req).await
    } else {
        let mut r = problem(StatusCode::UNAUTHORIZED, "authentication required");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"nsm-sensor console\", charset=\"UTF-8\""),
        );
        r
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// A JSON error answer.
fn problem(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, Json(json!({"error": msg.into()}))).into_response()
}

type Answer = Result<Response, Problem>;

/// An error answer: a status and a message, sent as `{"error": "…"}`.
#[derive(Debug)]
pub struct Problem {
    code: StatusCode,
    message: String,
}

impl Problem {
    fn new(code: StatusCode, message: impl Into<String>) -> Problem {
        Problem {
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        problem(self.code, self.message)
    }
}

fn bad(msg: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, msg)
}

/// An alert id from the URL: a positive decimal number.
fn parse_id(s: &str) -> Result<u64, Problem> {
    s.parse::<u64>()
        .ok()
        .filter(|&n| n > 0 && s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| bad("bad alert id: expected a positive number"))
}

/// Refuses parameters the route does not know.
fn only(q: &HashMap<String, String>, known: &[&str]) -> Result<(), Problem> {
    match q.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(bad(format!(
            "unknown parameter {:?}; expected one of {}",
            page::printable(k, 64),
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

fn num<T: std::str::FromStr>(
    q: &HashMap<String, String>,
    k: &str,
    what: &str,
) -> Result<Option<T>, Problem> {
    match q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| bad(format!("bad {k}: expected {what}"))),
    }
}

fn time_param(q: &HashMap<String, String>, k: &str) -> Result<Option<i64>, Problem> {
    match q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => investigate::parse_time(s, None)
            .map(|t| Some(t.as_micros()))
            .map_err(|_| {
                bad(format!(
                    "bad {k}: expected a TIME (RFC 3339, `YYYY-MM-DD HH:MM:SS`, `MM/DD-HH:MM:SS` or epoch seconds)"
                ))
            }),
    }
}

/// The alerts filter from the query string.
fn filter(q: &HashMap<String, String>) -> Result<Filter, Problem> {
    let net = match q.get("ip").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| bad("bad ip: expected an address or a network (10.0.0.0/8)"))?,
        ),
    };
    let class = q
        .get("class")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if class.as_ref().is_some_and(|c| c.len() > 256) {
        return Err(bad("bad class: at most 256 characters"));
    }
    Ok(Filter {
        from_us: time_param(q, "from")?,
        to_us: time_param(q, "to")?,
        sid: num(q, "sid", "a signature id (number)")?,
        net,
        class,
        priority: num(q, "priority", "a priority (number)")?,
    })
}

fn micros_rfc3339(us: i64) -> String {
    Time::from_micros(us).rfc3339(false)
}

fn entry_json(idx: &AlertIndex, e: &Entry) -> Value {
    json!({
        "id": e.id,
        "time": micros_rfc3339(e.time_us),
        "time_us": e.time_us,
        "gid": e.gid, "sid": e.sid, "rev": e.rev,
        "signature": idx.signature(e),
        "classification": idx.classification(e),
        "priority": e.priority,
        "proto": idx.proto(e),
        "src_ip": e.src.to_string(), "src_port": e.sport,
        "dest_ip": e.dst.to_string(), "dest_port": e.dport,
    })
}

async fn api_status(AxState(s): AxState<Arc<State>>) -> Answer {
    let idx = s.index.read().map_err(|_| internal())?;
    Ok(Json(json!({
        "last_id": idx.last_id(),
        "alerts": idx.len(),
        "evicted": idx.evicted(),
    }))
    .into_response())
}

/// A turn at the heavy work (investigation, carve), waiting for one; the caller moves it
/// into the blocking job so it is held until the job ends, not until the client leaves.
async fn heavy_permit(s: &State) -> Result<tokio::sync::OwnedSemaphorePermit, Problem> {
    Arc::clone(&s.heavy)
        .acquire_owned()
        .await
        .map_err(|_| internal())
}

fn internal() -> Problem {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

async fn api_alerts(
    AxState(s): AxState<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    only(
        &q,
        &[
            "from", "to", "sid", "ip", "class", "priority", "group", "offset", "limit",
        ],
    )?;
    let f = filter(&q)?;
    let offset: usize = num(&q, "offset", "a number")?.unwrap_or(0);
    let limit: usize = num(&q, "limit", "a number")?.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad(format!("bad limit: expected 1 to {MAX_LIMIT}")));
    }
    let group = match q.get("group").map(String::as_str) {
        None | Some("" | "0" | "false") => false,
        Some("1" | "true") => true,
        Some(_) => return Err(bad("bad group: expected 1 or 0")),
    };
    let idx = s.index.read().map_err(|_| internal())?;
    let body = if group {
        let (total, alerts, groups) = idx.groups(&f, offset, limit);
        json!({
            "last_id": idx.last_id(),
            "total_groups": total,
            "total_alerts": alerts,
            "offset": offset,
            "groups": groups.iter().map(|g| json!({
                "gid": g.gid, "sid": g.sid, "signature": g.signature,
                "classification": g.classification, "priority": g.priority,
                "src_ip": g.src.to_string(), "dest_ip": g.dst.to_string(),
                "count": g.count,
                "first": micros_rfc3339(g.first_us), "last": micros_rfc3339(g.last_us),
                "last_id": g.last_id,
            })).collect::<Vec<_>>(),
        })
    } else {
        let (total, page) = idx.list(&f, offset, limit);
        json!({
            "last_id": idx.last_id(),
            "total_alerts": total,
            "offset": offset,
            "alerts": page.iter().map(|e| entry_json(&idx, e)).collect::<Vec<_>>(),
        })
    };
    Ok(Json(body).into_response())
}

/// One alert: the index entry, the EVE record, the alert_full record, the rule.
struct AlertView {
    entry: Entry,
    summary: Value,
    eve: Value,
    full: Option<String>,
    rule: Option<(String, u32, String)>,
}

fn alert_view(s: &State, id: u64) -> Result<AlertView, Problem> {
    let idx = s.index.read().map_err(|_| internal())?;
    let entry = *idx.get(id).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            format!("no alert {id} (not in eve.json any more, or not yet)"),
        )
    })?;
    let eve = idx.record(&entry).map_err(|e| {
        Problem::new(
            StatusCode::GONE,
            format!("alert {id}: eve.json cannot be read back ({e})"),
        )
    })?;
    let ts = eve.get("timestamp").and_then(Value::as_str).unwrap_or("");
    let full = idx.full_record(&entry, ts);
    let summary = entry_json(&idx, &entry);
    drop(idx);
    let rule = s.rules.read().ok().and_then(|r| {
        let (file, line) = r.locs.get(&(entry.gid, entry.sid))?.clone();
        let text = rule_text(&file, line)?;
        Some((file.display().to_string(), line, text))
    });
    Ok(AlertView {
        entry,
        summary,
        eve,
        full,
        rule,
    })
}

/// The rule at `line` of `file` (1-based), with its `\` continuation lines; at most 64 KiB.
fn rule_text(file: &Path, line: u32) -> Option<String> {
    use std::io::{BufRead, BufReader};
    let f = std::fs::File::open(file).ok()?;
    let mut out = String::new();
    for l in BufReader::new(f)
        .lines()
        .skip(line.checked_sub(1)? as usize)
    {
        let l = l.ok()?;
        let more = l.trim_end().ends_with('\\');
        out.push_str(&l);
        if !more || out.len() > 64 * 1024 {
            break;
        }
        out.push('\n');
    }
    (!out.is_empty()).then_some(out)
}

async fn api_alert(AxState(s): AxState<Arc<State>>, UrlPath(id): UrlPath<String>) -> Answer {
    let id = parse_id(&id)?;
    let v = tokio::task::spawn_blocking(move || alert_view(&s, id))
        .await
        .map_err(|_| internal())??;
    Ok(Json(json!({
        "alert": v.summary,
        "eve": v.eve,
        "alert_full": v.full,
        "rule": v.rule.map(|(file, line, text)| json!({"file": file, "line": line, "text": text})),
    }))
    .into_response())
}

/// An investigation of an alert, its evidence pcap written into the scratch directory.
/// `max_bytes` bounds the evidence pcap while it is written (a download), or not (`None`:
/// the investigation's answer lists at most [`MAX_ROWS`] of its packets).
fn run_investigation(
    s: &State,
    id: u64,
    max_bytes: Option<u64>,
) -> Result<(AlertView, Investigation, PathBuf), Problem> {
    let v = alert_view(s, id)?;
    let out = s.scratch.next("evidence");
    let mut o = InvestigateOptions::new(&s.opts.log_dir, &s.opts.ring_dir);
    o.evidence_dir = s.opts.evidence_dir.clone();
    o.evidence = Some(out.clone());
    o.max_evidence_bytes = max_bytes;
    let t = Time::from_micros(v.entry.time_us);
    match investigate::investigate_alert(&o, &v.eve, t) {
        Ok(inv) => Ok((v, inv, out)),
        Err(e) => {
            let _ = std::fs::remove_file(&out);
            let code = match e.kind() {
                investigate::ErrorKind::NotFound => StatusCode::NOT_FOUND,
                investigate::ErrorKind::Usage => StatusCode::BAD_REQUEST,
                investigate::ErrorKind::TooLarge => {
                    return Err(too_large(max_bytes.unwrap_or(s.opts.max_download_bytes)));
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            Err(Problem::new(
                code,
                format!("investigation of alert {id}: {e}"),
            ))
        }
    }
}

/// The conversation's packets, read back from the evidence pcap: time, direction, sizes,
/// TCP flags.
fn packet_rows(p: &Path, a: IpAddr) -> (Vec<Value>, bool) {
    let mut rows = Vec::new();
    let Ok(mut r) = crate::pcap::Reader::open(p) else {
        return (rows, false);
    };
    while let Ok(Some(pk)) = r.next_packet() {
        if rows.len() >= MAX_ROWS {
            return (rows, true);
        }
        let ts = pk.ts.map(Time::from).unwrap_or_default();
        let Ok(lt) = i32::try_from(pk.linktype) else {
            continue;
        };
        let Ok(d) = decode::decode(
            lt,
            ts.sec,
            ts.nsec / 1000,
            pk.wire_len,
            pk.data,
            DecodeOptions { checksums: false },
        ) else {
            continue;
        };
        let flags = match d.transport {
            Transport::Tcp { flags, .. } => Some(tcp_flags(flags)),
            _ => None,
        };
        rows.push(json!({
            "time": ts.rfc3339(false),
            "time_us": ts.as_micros(),
            "dir": if d.src == a { "a>b" } else { "b>a" },
            "src": d.src.to_string(), "sport": d.sport(),
            "dst": d.dst.to_string(), "dport": d.dport(),
            "bytes": pk.wire_len,
            "payload": d.payload.len(),
            "flags": flags,
        }));
    }
    (rows, false)
}

fn tcp_flags(f: u8) -> String {
    const NAMES: [(u8, char); 8] = [
        (0x80, 'C'),
        (0x40, 'E'),
        (0x20, 'U'),
        (0x10, 'A'),
        (0x08, 'P'),
        (0x04, 'R'),
        (0x02, 'S'),
        (0x01, 'F'),
    ];
    NAMES
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|&(_, c)| c)
        .collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

async fn api_investigation(
    AxState(s): AxState<Arc<State>>,
    UrlPath(id): UrlPath<String>,
) -> Answer {
    let id = parse_id(&id)?;
    let permit = heavy_permit(&s).await?;
    let body = tokio::task::spawn_blocking(move || -> Result<Value, Problem> {
        let _permit = permit;
        let (_, inv, out) = run_investigation(&s, id, None)?;
        let (rows, cut) = packet_rows(&out, inv.a);
        let lines_cut = inv.packet_lines.len() > MAX_ROWS;
        let lines = &inv.packet_lines[..inv.packet_lines.len().min(MAX_ROWS)];
        let _ = std::fs::remove_file(&out);
        let files: Vec<Value> = inv
            .files
            .iter()
            .map(|f| {
                let mut j = f.to_json();
                if let Some(o) = j.as_object_mut() {
                    o.remove("path");
                    o.insert("name".into(), json!(file_name(&f.path)));
                }
                j
            })
            .collect();
        Ok(json!({
            "id": id,
            "verdict": inv.verdict,
            "source": match inv.source { Source::Ring => "ring", Source::EvidenceStore => "evidence store" },
            "alert_line": inv.alert_line,
            "files": files,
            "hosts": {"a": inv.a.to_string(), "b": inv.b.to_string()},
            "a_to_b": inv.a_to_b,
            "b_to_a": inv.b_to_a,
            "handshake_completed": inv.handshake_completed,
            "packet_lines": lines,
            "packet_lines_cut": lines_cut,
            "packets": rows,
            "packets_cut": cut,
            "warnings": inv.warnings,
        }))
    })
    .await
    .map_err(|_| internal())??;
    Ok(Json(body).into_response())
}

/// The answer to a carve stopped at the download limit.
fn too_large(max: u64) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the pcap would be over the console's limit of {max} bytes ([console] max_carve_mb)"
        ),
    )
}

/// Opens a pcap the console wrote, refusing one past the download limit, and removes its
/// name at once: the open file is sent as it is read and vanishes when the answer ends.
fn take_pcap(p: &Path, max: u64) -> Result<PcapFile, Problem> {
    let opened = std::fs::File::open(p).and_then(|f| Ok((f.metadata()?.len(), f)));
    let _ = std::fs::remove_file(p);
    let (size, file) = opened.map_err(|_| internal())?;
    if size > max {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the pcap would be {size} bytes, over the console's limit of {max} ([console] max_carve_mb)"),
        ));
    }
    Ok(PcapFile {
        file: tokio::fs::File::from_std(file),
        left: size,
    })
}

/// A download's body: the file read 64 KiB at a time, never whole in memory.
struct PcapFile {
    file: tokio::fs::File,
    /// Bytes not sent yet (the file's size when opened; the console wrote it and is done).
    left: u64,
}

impl axum::body::HttpBody for PcapFile {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        use tokio::io::AsyncRead;
        const CHUNK: u64 = 64 * 1024;
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let mut buf = vec![0u8; this.left.min(CHUNK) as usize];
        let mut rb = tokio::io::ReadBuf::new(&mut buf);
        match std::pin::Pin::new(&mut this.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the pcap ended before its size",
                    ))));
                }
                this.left -= n as u64;
                buf.truncate(n);
                Poll::Ready(Some(Ok(http_body::Frame::data(buf.into()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.left)
    }
}

fn pcap_response(data: PcapFile, name: String) -> Response {
    let mut r = Response::new(Body::new(data));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.tcpdump.pcap"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

fn stamp(us: i64) -> String {
    Time::from_micros(us)
        .to_utc()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

async fn api_evidence(AxState(s): AxState<Arc<State>>, UrlPath(id): UrlPath<String>) -> Answer {
    let id = parse_id(&id)?;
    let permit = heavy_permit(&s).await?;
    let r = tokio::task::spawn_blocking(move || -> Result<Response, Problem> {
        let _permit = permit;
        let (v, _, out) = run_investigation(&s, id, Some(s.opts.max_download_bytes))?;
        let data = take_pcap(&out, s.opts.max_download_bytes)?;
        let name = format!(
            "alert-{id}-sid{}-{}.pcap",
            v.entry.sid,
            stamp(v.entry.time_us)
        );
        Ok(pcap_response(data, name))
    })
    .await
    .map_err(|_| internal())??;
    Ok(r)
}

async fn api_carve(
    AxState(s): AxState<Arc<State>>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let id = parse_id(&id)?;
    only(&q, &["before", "after", "scope"])?;
    let before: u32 = num(&q, "before", "seconds")?.unwrap_or(300);
    let after: u32 = num(&q, "after", "seconds")?.unwrap_or(300);
    let max = s.opts.max_carve_s;
    if u64::from(before) + u64::from(after) > u64::from(max) {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a carve spans at most {max} s ([console] max_carve_s); asked for {before} s before and {after} s after"),
        ));
    }
    let scope = q.get("scope").map_or("hosts", String::as_str);
    if !["hosts", "conversation", "all"].contains(&scope) {
        return Err(bad("bad scope: expected hosts, conversation or all"));
    }
    let scope = scope.to_string();
    let permit = heavy_permit(&s).await?;
    let r = tokio::task::spawn_blocking(move || -> Result<Response, Problem> {
        let _permit = permit;
        let v = alert_view(&s, id)?;
        let t = Time::from_micros(v.entry.time_us);
        let from = t.add_secs(-i64::from(before));
        let to = t.add_secs(i64::from(after));
        let bpf = match scope.as_str() {
            "hosts" => format!("host {} and host {}", v.entry.src, v.entry.dst),
            _ => String::new(),
        };
        let cid = (scope == "conversation")
            .then(|| investigate::stored::alert_community_id(&v.eve))
            .flatten();
        if scope == "conversation" && cid.is_none() {
            return Err(bad(
                "the alert has no conversation (Community ID); use scope=hosts",
            ));
        }
        let out = s.scratch.next("carve");
        let what = investigate::Selector {
            from: Some(from),
            to: Some(to),
            bpf: &bpf,
            community_id: cid.as_deref(),
            // Bounded while written: an oversized carve never reaches the disk whole.
            max_bytes: Some(s.opts.max_download_bytes),
        };
        match investigate::carve_selected(&s.opts.ring_dir, &what, &out) {
            Ok(_) => {}
            Err(e) => {
                let _ = std::fs::remove_file(&out);
                let code = match e.kind() {
                    investigate::ErrorKind::NotFound => StatusCode::NOT_FOUND,
                    investigate::ErrorKind::TooLarge => {
                        return Err(too_large(s.opts.max_download_bytes));
                    }
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                return Err(Problem::new(code, format!("carve around alert {id}: {e}")));
            }
        }
        let data = take_pcap(&out, s.opts.max_download_bytes)?;
        let name = format!(
            "alert-{id}-{scope}-{}-{}.pcap",
            stamp(from.as_micros()),
            stamp(to.as_micros())
        );
        Ok(pcap_response(data, name))
    })
    .await
    .map_err(|_| internal())??;
    Ok(r)
}

async fn api_stats(AxState(s): AxState<Arc<State>>) -> Answer {
    let st = s.stats.lock().map_err(|_| internal())?;
    let rates = stats::rates(&st.samples);
    Ok(Json(json!({
        "stats_log": st.exists(),
        "skipped_lines": st.skipped_lines,
        "samples": st.samples.iter().rev().take(2000).rev().collect::<Vec<_>>(),
        "rates": rates.iter().rev().take(2000).rev().collect::<Vec<_>>(),
    }))
    .into_response())
}

/// Bytes of the regular files directly in `dir` (what the sensor keeps there).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn fs_space(dir: &Path) -> Value {
    match rustix::fs::statvfs(dir) {
        Ok(v) => json!({
            "total_bytes": v.f_blocks.saturating_mul(v.f_frsize),
            "free_bytes": v.f_bavail.saturating_mul(v.f_frsize),
        }),
        Err(_) => Value::Null,
    }
}

fn sensor_json(s: &State) -> Value {
    let ring: Vec<Value> = crate::ring::files::list(&s.opts.ring_dir, None)
        .unwrap_or_default()
        .iter()
        .map(|f| {
            let size = std::fs::symlink_metadata(&f.path).map_or(0, |m| m.len());
            // The sidecar when current; never rebuilt here (the console writes nothing).
            let idx = crate::ring::files::read_index(&f.path);
            json!({
                "name": file_name(&f.path),
                "bytes": size,
                "packets": idx.as_ref().map(|i| i.packets),
                // The file being written has no current sidecar yet: its name says when it
                // began.
                "first": idx.as_ref().and_then(|i| i.min_us).map(micros_rfc3339).or_else(|| {
                    crate::ring::files::parse_name(&file_name(&f.path))
                        .map(|(_, _, sec)| micros_rfc3339(sec.saturating_mul(1_000_000)))
                }),
                "last": idx.as_ref().and_then(|i| i.max_us).map(micros_rfc3339),
            })
        })
        .collect();
    let reload = s
        .opts
        .pidfile
        .as_ref()
        .and_then(|p| crate::daemon::control::read_status(p).ok())
        .map(|r| {
            json!({
                "ok": r.ok, "reloads": r.reloads, "rules": r.rules, "generation": r.generation,
                "finished_at": r.finished_at, "message": r.message,
            })
        });
    let (alerts, evicted, skipped) = s
        .index
        .read()
        .map(|i| (i.len(), i.evicted(), i.skipped_lines()))
        .unwrap_or_default();
    let rules = s
        .rules
        .read()
        .map(|r| r.summary.clone())
        .unwrap_or(Value::Null);
    json!({
        "console_started": s.started,
        "ring": ring,
        "disk": {
            "log_dir_bytes": dir_bytes(&s.opts.log_dir),
            "ring_bytes": dir_bytes(&s.opts.ring_dir),
            "evidence_bytes": dir_bytes(&s.opts.evidence_dir),
            "log_fs": fs_space(&s.opts.log_dir),
            "ring_fs": fs_space(&s.opts.ring_dir),
        },
        "rules": rules,
        "reload": reload,
        "index": {"alerts": alerts, "evicted": evicted, "unparsed_lines": skipped},
        "failed_logins": s.opts.auth.failed_logins(),
    })
}

async fn api_sensor(AxState(s): AxState<Arc<State>>) -> Answer {
    let body = tokio::task::spawn_blocking(move || sensor_json(&s))
        .await
        .map_err(|_| internal())?;
    Ok(Json(body).into_response())
}

fn html(body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

async fn alerts_page() -> Response {
    html(page::alerts())
}

async fn sensor_page() -> Response {
    html(page::sensor())
}

async fn alert_page(AxState(s): AxState<Arc<State>>, UrlPath(id): UrlPath<String>) -> Answer {
    let id = parse_id(&id)?;
    let v = tokio::task::spawn_blocking(move || alert_view(&s, id))
        .await
        .map_err(|_| internal())??;
    let eve = serde_json::to_string_pretty(&v.eve).unwrap_or_default();
    Ok(html(page::alert(
        id,
        &v.summary,
        v.full.as_deref(),
        &eve,
        v.rule
            .as_ref()
            .map(|(f, l, t)| (f.as_str(), *l, t.as_str())),
    )))
}

async fn asset(UrlPath(name): UrlPath<String>) -> Answer {
    let (body, ty) =
        page::asset(&name).ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "no such asset"))?;
    let mut r = Response::new(Body::from(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    Ok(r)
}
