//! `nsm-sensor update`: fetch every configured source, build a new rule set version, validate
//! it with the loader and compiler the daemon uses, switch `current` to it atomically, keep
//! the last few versions, and ask the running daemon to reload. Nothing changes unless
//! everything worked: a failed source leaves the versions directory as it was, a set that
//! does not validate is kept aside as `rejected-<stamp>/` and `current` stays.
//!
//! Stages, one file each: [`fetch`] (http/https/file, conditional GET, limits),
//! [`archive`] (tar.gz members, refusals, bounds), [`layout`] (versions, `current`, lock,
//! keep), [`diff`] (added/removed/changed by `gid:sid:rev`), [`state`] (validators and the
//! source cache), and the transformations of what was fetched: [`iplist`] (IP feeds to
//! list rules) and [`edits`] (suricata-update's enable/disable/modify). This file
//! orchestrates and writes the summary.
//!
//! A version directory is flat, so `[rules] files = ["DIR/current/"]` loads all of it:
//! - tarball members as `SOURCE-FILE` (`et-open-emerging-botcc.rules`), classification.config
//!   and reference.config under their own names (the first tarball that brings one);
//! - a `rules` source as `SOURCE.rules`;
//! - an `iplist` source as `SOURCE.rules` (the generated list rules) and `SOURCE.list` (the
//!   normalised list, for the next run's added/removed count).

pub mod archive;
pub mod diff;
pub mod edits;
pub mod fetch;
pub mod iplist;
pub mod layout;
pub mod state;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::config::{Config, ListDirection, SourceConfig, SourceKind, UpdateConfig};
use crate::detect::RuleSet;
use crate::rules::{self, LoadOptions};
use crate::safefs::Dir;

use fetch::{Fetched, Fetcher};
use layout::Layout;
use state::{SourceState, State};

/// Validation errors printed (text and JSON); the rest are counted. The rejected directory
/// holds the whole set for `nsm-sensor check`.
const MAX_SHOWN: usize = 100;

/// What to do, from the configuration and the command line.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    pub config: Config,
    /// The configuration file (relative paths are relative to its directory); `None`:
    /// built-in defaults, relative to the current directory.
    pub config_path: Option<PathBuf>,
    /// HOME_NET for validation when the configuration sets none (the daemon derives one at
    /// start-up; rules must still compile).
    pub home_net_fallback: Option<String>,
    pub dry_run: bool,
    pub no_reload: bool,
    pub rollback: bool,
}

/// How a run ended; decides the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// A new version is current.
    Switched,
    /// Every source is as in the current version: nothing to switch.
    NothingChanged,
    /// Built and validated, not switched (`--dry-run`).
    DryRun,
    /// `--rollback` switched `current` back.
    RolledBack,
    /// One or more sources failed; nothing changed.
    SourcesFailed,
    /// The new set does not validate; kept aside, nothing changed.
    Invalid,
    /// The enable/disable/modify files have errors; nothing changed.
    EditsInvalid,
    /// No `[[update.source]]` in the configuration: nothing to do.
    NoSources,
    /// Something else failed (directory, lock, write); nothing changed unless said.
    Failed(String),
    /// Switched, but the daemon reported a failed reload (the new version stays current).
    ReloadFailed(String),
}

/// One source's outcome.
#[derive(Debug, Clone, Default)]
pub struct SourceReport {
    pub name: String,
    /// `fetched`, `unchanged` or `failed`.
    pub status: &'static str,
    /// Bytes downloaded (0 when unchanged).
    pub bytes: u64,
    pub reason: Option<String>,
    /// Files this source put into the version.
    pub files: usize,
    /// Iplist sources: (entries, added, removed).
    pub addresses: Option<(usize, usize, usize)>,
}

/// Everything a run reports (printed as text or one JSON object).
#[derive(Debug, Clone)]
pub struct Summary {
    pub status: Status,
    pub dir: PathBuf,
    pub sources: Vec<SourceReport>,
    /// The version `current` named before the run.
    pub previous: Option<String>,
    /// The version built (or switched to by `--rollback`).
    pub version: Option<String>,
    pub rules_total: usize,
    pub rules_loaded: usize,
    pub rules_skipped: usize,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub enabled: usize,
    pub disabled: usize,
    pub modified: usize,
    /// Validation errors (`path:line:col: message`, into the rejected directory).
    pub diagnostics: Vec<String>,
    pub rejected: Option<PathBuf>,
    pub pruned: Vec<String>,
    /// What the reload step did.
    pub reload: Option<String>,
}

impl Summary {
    fn new(dir: PathBuf) -> Summary {
        Summary {
            status: Status::NothingChanged,
            dir,
            sources: Vec::new(),
            previous: None,
            version: None,
            rules_total: 0,
            rules_loaded: 0,
            rules_skipped: 0,
            added: 0,
            removed: 0,
            changed: 0,
            enabled: 0,
            disabled: 0,
            modified: 0,
            diagnostics: Vec::new(),
            rejected: None,
            pruned: Vec::new(),
            reload: None,
        }
    }

    fn failed(mut self, why: impl Into<String>) -> Summary {
        self.status = Status::Failed(why.into());
        self
    }

    /// The exit code: 0 ok (also nothing changed), 1 a source, the reload or the run
    /// failed, 78 the new set does not validate.
    pub fn exit_code(&self) -> u8 {
        match self.status {
            Status::Switched | Status::NothingChanged | Status::DryRun | Status::RolledBack => 0,
            Status::SourcesFailed | Status::Failed(_) | Status::ReloadFailed(_) => 1,
            Status::Invalid | Status::EditsInvalid | Status::NoSources => 78,
        }
    }

    fn status_word(&self) -> &'static str {
        match self.status {
            Status::Switched => "switched",
            Status::NothingChanged => "unchanged",
            Status::DryRun => "dry-run",
            Status::RolledBack => "rolled-back",
            Status::SourcesFailed => "sources-failed",
            Status::Invalid => "invalid",
            Status::EditsInvalid => "edits-invalid",
            Status::NoSources => "no-sources",
            Status::Failed(_) => "failed",
            Status::ReloadFailed(_) => "reload-failed",
        }
    }

    /// A one-line account of a failure for standard error (the summary on standard output
    /// has the details); `None` when the run succeeded.
    pub fn error_line(&self) -> Option<String> {
        let failed: Vec<&str> = self
            .sources
            .iter()
            .filter(|s| s.status == "failed")
            .map(|s| s.name.as_str())
            .collect();
        match &self.status {
            Status::Switched | Status::NothingChanged | Status::DryRun | Status::RolledBack => None,
            Status::SourcesFailed => Some(format!(
                "update: source{} failed: {}; nothing changed",
                if failed.len() == 1 { "" } else { "s" },
                failed.join(", ")
            )),
            Status::Invalid => Some(format!(
                "update: the new set does not validate ({} errors); kept aside in {}; nothing changed",
                self.diagnostics.len(),
                self.rejected
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string())
            )),
            Status::EditsInvalid => {
                Some("update: the rule edit files have errors; nothing changed".to_string())
            }
            Status::NoSources => Some(
                "update: no [[update.source]] in the configuration: nothing to fetch".to_string(),
            ),
            Status::Failed(m) => Some(format!("update: {m}")),
            Status::ReloadFailed(m) => Some(format!(
                "update: switched to {}, but the sensor's reload failed: {m}",
                self.version.as_deref().unwrap_or("?")
            )),
        }
    }

    /// The one JSON object `--json` prints.
    pub fn to_json(&self) -> serde_json::Value {
        let sources: Vec<serde_json::Value> = self
            .sources
            .iter()
            .map(|s| {
                let mut o = json!({
                    "name": s.name, "status": s.status, "bytes": s.bytes, "files": s.files,
                });
                if let Some(r) = &s.reason {
                    o["reason"] = json!(r);
                }
                if let Some((n, a, r)) = s.addresses {
                    o["addresses"] = json!({"total": n, "added": a, "removed": r});
                }
                o
            })
            .collect();
        let mut o = json!({
            "status": self.status_word(),
            "dir": self.dir.display().to_string(),
            "previous": self.previous,
            "version": self.version,
            "sources": sources,
            "rules": {
                "total": self.rules_total, "loaded": self.rules_loaded,
                "skipped": self.rules_skipped, "added": self.added,
                "removed": self.removed, "changed": self.changed,
            },
            "edits": {"enabled": self.enabled, "disabled": self.disabled, "modified": self.modified},
            "pruned": self.pruned,
            "reload": self.reload,
        });
        if let Status::Failed(m) | Status::ReloadFailed(m) = &self.status {
            o["error"] = json!(m);
        }
        if let Some(r) = &self.rejected {
            o["rejected"] = json!(r.display().to_string());
        }
        if !self.diagnostics.is_empty() {
            let shown: Vec<&String> = self.diagnostics.iter().take(MAX_SHOWN).collect();
            o["diagnostics"] = json!(shown);
            o["diagnostics_total"] = json!(self.diagnostics.len());
        }
        o
    }

    /// The human summary.
    ///
    /// # Errors
    /// Only those of `w`.
    pub fn write_text(&self, w: &mut impl Write) -> std::io::Result<()> {
        for s in &self.sources {
            write!(w, "source {}: {}", s.name, s.status)?;
            if s.status == "fetched" {
                write!(w, ", {} bytes", s.bytes)?;
            }
            if s.status != "failed" {
                write!(w, ", {} files", s.files)?;
            }
            if let Some((n, a, r)) = s.addresses {
                write!(w, ", {n} addresses (+{a} -{r})")?;
            }
            if let Some(r) = &s.reason {
                write!(w, ": {r}")?;
            }
            writeln!(w)?;
        }
        if self.rules_total > 0 || matches!(self.status, Status::Switched | Status::DryRun) {
            writeln!(
                w,
                "rules: {} total, {} loaded, {} skipped; {} added, {} removed, {} changed",
                self.rules_total,
                self.rules_loaded,
                self.rules_skipped,
                self.added,
                self.removed,
                self.changed
            )?;
            writeln!(
                w,
                "edits: {} enabled, {} disabled, {} modified",
                self.enabled, self.disabled, self.modified
            )?;
        }
        for d in self.diagnostics.iter().take(MAX_SHOWN) {
            writeln!(w, "{d}")?;
        }
        if self.diagnostics.len() > MAX_SHOWN {
            writeln!(
                w,
                "… and {} more errors (see `nsm-sensor check -r {}`)",
                self.diagnostics.len() - MAX_SHOWN,
                self.rejected
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string())
            )?;
        }
        let dir = self.dir.display();
        let prev = self.previous.as_deref().unwrap_or("none");
        let ver = self.version.as_deref().unwrap_or("none");
        match &self.status {
            Status::Switched => writeln!(w, "{dir}/current -> {ver} (was {prev})")?,
            Status::NothingChanged => {
                writeln!(w, "nothing changed: {dir}/current stays {prev}")?;
            }
            Status::DryRun => writeln!(
                w,
                "dry run: the new set validates; {dir}/current stays {prev}"
            )?,
            Status::RolledBack => writeln!(w, "{dir}/current -> {ver} (rolled back from {prev})")?,
            Status::SourcesFailed => writeln!(
                w,
                "a source failed: nothing changed, {dir}/current stays {prev}"
            )?,
            Status::Invalid => writeln!(
                w,
                "the new set does not validate: kept aside in {}; {dir}/current stays {prev}",
                self.rejected
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string())
            )?,
            Status::EditsInvalid => writeln!(
                w,
                "the rule edit files have errors: nothing changed, {dir}/current stays {prev}"
            )?,
            Status::NoSources => writeln!(
                w,
                "no [[update.source]] in the configuration: nothing to fetch"
            )?,
            Status::Failed(m) => writeln!(w, "update failed: {m}")?,
            Status::ReloadFailed(m) => writeln!(
                w,
                "the daemon's reload failed: {m}; {dir}/current -> {ver} stays current"
            )?,
        }
        if !self.pruned.is_empty() {
            writeln!(w, "removed old: {}", self.pruned.join(", "))?;
        }
        if let Some(r) = &self.reload {
            writeln!(w, "reload: {r}")?;
        }
        Ok(())
    }
}

/// The directory the configuration's relative paths are relative to.
fn base_of(opts: &UpdateOptions) -> PathBuf {
    match opts.config_path.as_deref().and_then(Path::parent) {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Runs `update` (or `--rollback`). Never panics; every outcome is in the summary.
pub fn run(opts: &UpdateOptions) -> Summary {
    let u = &opts.config.update;
    let base = base_of(opts);
    let dir = UpdateConfig::resolve(&base, &u.dir);
    let mut summary = Summary::new(dir.clone());
    if u.sources.is_empty() && !opts.rollback {
        summary.status = Status::NoSources;
        return summary;
    }
    let layout = match Layout::open(&dir) {
        Ok(l) => l,
        Err(e) => return summary.failed(format!("versions directory: {e}")),
    };
    let _lock = match layout.lock(Duration::from_secs(u64::from(u.timeout_s))) {
        Ok(l) => l,
        Err(e) => return summary.failed(e.to_string()),
    };
    if opts.rollback {
        return rollback(opts, &layout, summary);
    }
    layout.clean_staging();
    update(opts, &base, &layout, summary)
}

fn rollback(opts: &UpdateOptions, layout: &Layout, mut s: Summary) -> Summary {
    s.previous = layout.current();
    let versions = match layout.versions() {
        Ok(v) => v,
        Err(e) => return s.failed(e.to_string()),
    };
    let Some(cur) = s.previous.clone() else {
        return s.failed(format!(
            "{}: no current version to roll back from",
            layout.dir.join(layout::CURRENT).display()
        ));
    };
    let Some(pos) = versions.iter().position(|v| *v == cur) else {
        let d = s.dir.display().to_string();
        return s.failed(format!("current version {cur} is not in {d}"));
    };
    if pos == 0 {
        let d = s.dir.display().to_string();
        return s.failed(format!(
            "no version older than {cur} in {d} to roll back to"
        ));
    }
    let target = versions[pos - 1].clone();
    if let Err(e) = layout.switch(&target) {
        return s.failed(e.to_string());
    }
    s.version = Some(target);
    s.status = Status::RolledBack;
    reload(opts, s)
}

/// What one source contributed, before it is written.
struct Contribution {
    /// Files for the version directory: (name, name in the source, bytes).
    files: Vec<(String, String, Vec<u8>)>,
    /// New state and cache body to remember once the run succeeds.
    state: Option<(SourceState, Vec<u8>)>,
}

fn update(opts: &UpdateOptions, base: &Path, layout: &Layout, mut s: Summary) -> Summary {
    let u = &opts.config.update;
    s.previous = layout.current();
    let mut st = State::read(&layout.dir);
    let fetcher = Fetcher::new(
        Duration::from_secs(u64::from(u.timeout_s)),
        u.max_download_mb.saturating_mul(1024 * 1024),
    );
    let mut contributions = Vec::new();
    for src in &u.sources {
        let (report, contribution) = one_source(opts, layout, &fetcher, &st, src);
        s.sources.push(report);
        contributions.push(contribution);
    }
    if s.sources.iter().any(|r| r.status == "failed") {
        s.status = Status::SourcesFailed;
        return s;
    }
    // Assemble: every file of every source, then the edits.
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut origins: Vec<String> = Vec::new();
    for (src, c) in u.sources.iter().zip(&mut contributions) {
        let Some(c) = c else { continue };
        for (name, origin, data) in c.files.drain(..) {
            if archive::CONFIG_FILES.contains(&name.as_str())
                && files.iter().any(|(n, _)| *n == name)
            {
                continue; // the first tarball's wins (see the module docs)
            }
            if files.iter().any(|(n, _)| *n == name) {
                return s.failed(format!(
                    "source {}: file {name} already comes from another source; rename a source",
                    src.name
                ));
            }
            files.push((name, data));
            origins.push(origin);
        }
    }
    if let Err(e) = apply_edits(u, base, &mut files, &origins, &mut s) {
        return *e;
    }
    // Unchanged against current: nothing to build or switch.
    if let Some(cur) = &s.previous {
        if same_as_version(layout, cur, &files) {
            s.status = Status::NothingChanged;
            s.version = Some(cur.clone());
            count_rules(opts, &layout.version_path(cur), layout, &mut s);
            if !opts.dry_run {
                remember(layout, &mut st, u, contributions);
            }
            return s;
        }
    }
    let (staging, sdir) = match layout.staging() {
        Ok(x) => x,
        Err(e) => return s.failed(format!("staging directory: {e}")),
    };
    let staging_path = layout.dir.join(&staging);
    if let Err(e) = write_files(&sdir, &files) {
        let _ = layout.remove_tree(&staging);
        return s.failed(e);
    }
    // Validate with the daemon's loader and compiler.
    let report = rules::load(&load_options(
        opts,
        &layout.dir.join(layout::CURRENT),
        &staging_path,
    ));
    if !report.is_usable() {
        s.status = Status::Invalid;
        let rejected = match layout.reject(&staging) {
            Ok(r) => layout.dir.join(&r),
            Err(e) => return s.failed(format!("keeping the rejected set aside: {e}")),
        };
        s.diagnostics = report
            .errors()
            .map(|d| {
                let mut d = d.clone();
                if let Ok(rest) = d.path.strip_prefix(&staging_path) {
                    d.path = rejected.join(rest);
                }
                d.to_string()
            })
            .collect();
        s.rejected = Some(rejected);
        return s;
    }
    s.rules_loaded = report.loaded();
    s.rules_skipped = report.skipped();
    s.rules_total = s.rules_loaded + s.rules_skipped;
    drop(RuleSet::compile(report.model));
    let previous = s.previous.clone();
    count_diff(layout, previous.as_deref(), &files, &mut s);
    if opts.dry_run {
        let _ = layout.remove_tree(&staging);
        s.status = Status::DryRun;
        return s;
    }
    let name = match layout.publish(&staging) {
        Ok(n) => n,
        Err(e) => {
            let _ = layout.remove_tree(&staging);
            return s.failed(format!("publishing the new version: {e}"));
        }
    };
    if let Err(e) = layout.switch(&name) {
        return s.failed(format!("switching current to {name}: {e}"));
    }
    s.version = Some(name);
    s.status = Status::Switched;
    remember(layout, &mut st, u, contributions);
    s.pruned = layout.prune(u.keep as usize);
    reload(opts, s)
}

/// Stores each source's validators and body for the next run's conditional GET.
fn remember(
    layout: &Layout,
    st: &mut State,
    u: &UpdateConfig,
    contributions: Vec<Option<Contribution>>,
) {
    let mut changed = false;
    for (src, c) in u.sources.iter().zip(contributions) {
        if let Some((ss, body)) = c.and_then(|c| c.state) {
            if state::write_cache(&layout.dir, &src.name, &body).is_ok() {
                st.sources.insert(src.name.clone(), ss);
                changed = true;
            }
        }
    }
    // Sources no longer configured are forgotten.
    let before = st.sources.len();
    st.sources
        .retain(|n, _| u.sources.iter().any(|s| s.name == *n));
    if changed || st.sources.len() != before {
        if let Err(e) = st.write(&layout.dir) {
            tracing::warn!("{e}");
        }
    }
}

/// Fetches and transforms one source. `None` contribution: failed (see the report).
fn one_source(
    opts: &UpdateOptions,
    layout: &Layout,
    fetcher: &Fetcher,
    st: &State,
    src: &SourceConfig,
) -> (SourceReport, Option<Contribution>) {
    let u = &opts.config.update;
    let mut report = SourceReport {
        name: src.name.clone(),
        status: "failed",
        ..SourceReport::default()
    };
    let known = st
        .sources
        .get(&src.name)
        .filter(|k| k.url == src.url)
        .and_then(|k| state::read_cache(&layout.dir, &src.name, k).map(|body| (k, body)));
    let validators = known.as_ref().map(|(k, _)| k.validators());
    let (body, new_state) = match fetcher.fetch(&src.url, validators.as_ref()) {
        Err(e) => {
            report.reason = Some(e);
            return (report, None);
        }
        Ok(Fetched::Unchanged) => match known {
            Some((_, body)) => {
                report.status = "unchanged";
                (body, None)
            }
            None => {
                report.reason = Some(format!(
                    "{}: 304 Not Modified to an unconditional request",
                    src.url
                ));
                return (report, None);
            }
        },
        Ok(Fetched::Body {
            bytes,
            validators,
            content_type,
        }) => {
            report.bytes = bytes.len() as u64;
            if let Err(e) = verify(fetcher, src, &bytes, &content_type) {
                report.reason = Some(e);
                return (report, None);
            }
            let same = known.as_ref().is_some_and(|(_, b)| *b == bytes);
            report.status = if same { "unchanged" } else { "fetched" };
            let ss = SourceState::new(&src.url, &validators, &bytes);
            (bytes.clone(), Some((ss, bytes)))
        }
    };
    let files = match transform(u, layout, src, &body, &mut report) {
        Ok(f) => f,
        Err(e) => {
            report.status = "failed";
            report.reason = Some(e);
            return (report, None);
        }
    };
    report.files = files.len();
    (
        report,
        Some(Contribution {
            files,
            state: new_state,
        }),
    )
}

/// Checksums and the shape of what a tarball source sent.
fn verify(
    fetcher: &Fetcher,
    src: &SourceConfig,
    bytes: &[u8],
    content_type: &str,
) -> Result<(), String> {
    if src.kind == SourceKind::Tarball && !archive::is_gzip(bytes) {
        let mut why = archive::not_gzip(bytes);
        if !content_type.is_empty() {
            why.push_str(&format!(" (Content-Type: {content_type})"));
        }
        return Err(format!("{}: {why}", src.url));
    }
    if !src.sha256.is_empty() {
        let got = fetch::sha256_hex(bytes);
        if !got.eq_ignore_ascii_case(&src.sha256) {
            return Err(format!(
                "{}: SHA-256 mismatch: expected {} (update.source sha256), got {got}",
                src.url, src.sha256
            ));
        }
    }
    if src.checksum == "md5" {
        let want = fetcher.md5_of(&src.url)?;
        let got = fetch::md5_hex(bytes);
        if want != got {
            return Err(format!(
                "{}: MD5 mismatch: {}.md5 says {want}, the download has {got}",
                src.url, src.url
            ));
        }
    }
    Ok(())
}

/// The files a source puts into the version directory.
fn transform(
    u: &UpdateConfig,
    layout: &Layout,
    src: &SourceConfig,
    body: &[u8],
    report: &mut SourceReport,
) -> Result<Vec<(String, String, Vec<u8>)>, String> {
    match src.kind {
        SourceKind::Tarball => {
            let members = archive::unpack(
                body,
                u.max_unpacked_mb.saturating_mul(1024 * 1024),
                &src.files,
            )
            .map_err(|e| format!("{}: {e}", src.url))?;
            Ok(members
                .into_iter()
                .map(|m| {
                    let name = if archive::CONFIG_FILES.contains(&m.name.as_str()) {
                        m.name
                    } else {
                        format!("{}-{}", src.name, m.name)
                    };
                    (name, m.path, m.data)
                })
                .collect())
        }
        SourceKind::Rules => {
            let name = format!("{}.rules", src.name);
            Ok(vec![(name.clone(), name, body.to_vec())])
        }
        SourceKind::Iplist => iplist_files(layout, src, body, report),
    }
}

/// An iplist source's rule file and normalised list.
fn iplist_files(
    layout: &Layout,
    src: &SourceConfig,
    body: &[u8],
    report: &mut SourceReport,
) -> Result<Vec<(String, String, Vec<u8>)>, String> {
    let text = std::str::from_utf8(body)
        .map_err(|e| format!("{}: expected a text list of addresses: {e}", src.url))?;
    let (list, bad) = iplist::parse(text);
    for (line, why) in bad.iter().take(20) {
        tracing::warn!("{} line {line}: {why} (line left out)", src.url);
    }
    if bad.len() > 20 {
        tracing::warn!("{}: {} more lines left out", src.url, bad.len() - 20);
    }
    if list.is_empty() && !bad.is_empty() {
        return Err(format!(
            "{}: no address or network in the list ({} lines not understood, the first at line {}: {})",
            src.url,
            bad.len(),
            bad[0].0,
            bad[0].1
        ));
    }
    let spec = iplist::IpListSpec {
        name: src.name.clone(),
        sid: src.sid,
        msg: src.msg.clone(),
        classtype: src.classtype.clone(),
        direction: match src.direction {
            ListDirection::To => iplist::Direction::To,
            ListDirection::From => iplist::Direction::From,
            ListDirection::Both => iplist::Direction::Both,
        },
        threshold: Some(src.threshold.clone()).filter(|t| !t.is_empty()),
    };
    let problems = spec.problems(list.len());
    if !problems.is_empty() {
        return Err(format!("source {}: {}", src.name, problems.join("; ")));
    }
    let list_name = format!("{}.list", src.name);
    // The previous version's list, for added/removed.
    let old = layout
        .current()
        .and_then(|cur| layout.dir.subdir(&cur, false).ok())
        .and_then(|d| d.read_small(&list_name, 1 << 31).ok())
        .map(|b| iplist::parse(&String::from_utf8_lossy(&b)).0);
    let (added, removed) = match &old {
        Some(o) => iplist::diff(o, &list),
        None => (list.len(), 0),
    };
    report.addresses = Some((list.len(), added, removed));
    let rules_name = format!("{}.rules", src.name);
    Ok(vec![
        (
            rules_name.clone(),
            rules_name,
            iplist::to_rules(&list, &spec).into_bytes(),
        ),
        (
            list_name.clone(),
            list_name,
            iplist::to_text(&list).into_bytes(),
        ),
    ])
}

/// Applies the enable/disable/modify files to the rule files (`origins`: each file's name in
/// its source, which `group:` and `filename:` match).
fn apply_edits(
    u: &UpdateConfig,
    base: &Path,
    files: &mut [(String, Vec<u8>)],
    origins: &[String],
    s: &mut Summary,
) -> Result<(), Box<Summary>> {
    let path =
        |p: &Path| Some(UpdateConfig::resolve(base, p)).filter(|p| !p.as_os_str().is_empty());
    let (enable, disable, modify) = (path(&u.enable), path(&u.disable), path(&u.modify));
    if enable.is_none() && disable.is_none() && modify.is_none() {
        return Ok(());
    }
    let loaded = edits::Edits::load(enable.as_deref(), disable.as_deref(), modify.as_deref());
    let e = match loaded {
        Ok(e) => e,
        Err(diags) => {
            let mut f = s.clone();
            f.diagnostics = diags.iter().map(ToString::to_string).collect();
            f.status = Status::EditsInvalid;
            return Err(Box::new(f));
        }
    };
    let mut rule_files: Vec<edits::RuleFile> = Vec::new();
    let mut index = Vec::new();
    for (i, ((name, data), origin)) in files.iter().zip(origins).enumerate() {
        if name.ends_with(".rules") {
            rule_files.push(edits::RuleFile {
                name: origin.clone(),
                text: String::from_utf8_lossy(data).into_owned(),
            });
            index.push(i);
        }
    }
    let (counts, problems) = edits::apply_reporting(&e, &mut rule_files);
    for p in problems {
        tracing::warn!("{p}");
    }
    for (rf, i) in rule_files.into_iter().zip(index) {
        files[i].1 = rf.text.into_bytes();
    }
    s.enabled = counts.enabled;
    s.disabled = counts.disabled;
    s.modified = counts.modified;
    Ok(())
}

/// Whether version `name` holds exactly `files` (names and bytes; `*.list` included).
fn same_as_version(layout: &Layout, name: &str, files: &[(String, Vec<u8>)]) -> bool {
    let Ok(d) = layout.dir.subdir(name, false) else {
        return false;
    };
    let Ok(names) = d.names() else { return false };
    if names.len() != files.len() {
        return false;
    }
    files
        .iter()
        .all(|(n, data)| d.read_small(n, data.len() as u64).is_ok_and(|b| b == *data))
}

/// Writes `files` into the staging directory (new files only, never through a link).
fn write_files(d: &Dir, files: &[(String, Vec<u8>)]) -> Result<(), String> {
    for (name, data) in files {
        let mut f = d
            .create_new(name)
            .map_err(|e| format!("writing the new version: {e}"))?;
        f.write_all(data)
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("{}: {e}", d.join(name).display()))?;
    }
    Ok(())
}

/// The daemon's load options with `DIR/current` replaced by `version` wherever the
/// configuration names it; when it names no path under `DIR/current`, `version` alone.
fn load_options(opts: &UpdateOptions, current: &Path, version: &Path) -> LoadOptions {
    let mut lo = LoadOptions::from_config(&opts.config, opts.config_path.as_deref());
    // Lexically first (`DIR/current/x`), then through the file system for a configuration
    // that spells the same place another way (absolute against relative, another link).
    let current_real = std::fs::canonicalize(current).ok();
    let swap = |p: &Path| -> Option<PathBuf> {
        if let Ok(rel) = p.strip_prefix(current) {
            return Some(version.join(rel));
        }
        let real = std::fs::canonicalize(p).ok()?;
        let rel = real.strip_prefix(current_real.as_ref()?).ok()?;
        Some(version.join(rel))
    };
    let mut any = false;
    for p in &mut lo.paths {
        if let Some(n) = swap(p) {
            *p = n;
            any = true;
        }
    }
    if !any {
        lo.paths = vec![version.to_path_buf()];
    }
    for p in [&mut lo.classification, &mut lo.reference, &mut lo.threshold]
        .into_iter()
        .flatten()
    {
        if let Some(n) = swap(p) {
            *p = n;
        }
    }
    if !lo.vars.contains_key("HOME_NET") {
        if let Some(h) = &opts.home_net_fallback {
            lo.vars.insert("HOME_NET".to_string(), h.clone());
        }
    }
    lo
}

/// Rule counts of an existing version (for "nothing changed").
fn count_rules(opts: &UpdateOptions, version: &Path, layout: &Layout, s: &mut Summary) {
    let report = rules::load(&load_options(
        opts,
        &layout.dir.join(layout::CURRENT),
        version,
    ));
    s.rules_loaded = report.loaded();
    s.rules_skipped = report.skipped();
    s.rules_total = s.rules_loaded + s.rules_skipped;
}

/// Added/removed/changed against the previous version's rule files.
fn count_diff(
    layout: &Layout,
    previous: Option<&str>,
    files: &[(String, Vec<u8>)],
    s: &mut Summary,
) {
    let mut old = diff::Ids::new();
    // A previous file that cannot be read would make its rules count as added: say so.
    let unread = |what: &dyn std::fmt::Display| {
        tracing::warn!("{what}: not read; the added/removed/changed counts leave it out");
    };
    if let Some(prev) = previous {
        match layout.dir.subdir(prev, false) {
            Ok(d) => {
                let mut names: Vec<String> = match d.names() {
                    Ok(n) => n.into_iter().filter_map(|n| n.into_string().ok()).collect(),
                    Err(e) => {
                        unread(&e);
                        Vec::new()
                    }
                };
                names.retain(|n| n.ends_with(".rules"));
                names.sort();
                for n in names {
                    match d.read_small(&n, 1 << 31) {
                        Ok(b) => diff::scan(&String::from_utf8_lossy(&b), &mut old),
                        Err(e) => unread(&e),
                    }
                }
            }
            Err(e) => unread(&e),
        }
    }
    let mut new = diff::Ids::new();
    let mut sorted: Vec<&(String, Vec<u8>)> = files
        .iter()
        .filter(|(n, _)| n.ends_with(".rules"))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, data) in sorted {
        diff::scan(&String::from_utf8_lossy(data), &mut new);
    }
    (s.added, s.removed, s.changed) = diff::compare(&old, &new);
}

/// Tells the running daemon to reload (after a switch or rollback): SIGHUP to the pid in
/// `[daemon] pidfile`, then the daemon's own report of the load it started after the signal,
/// waited for at most `[update] timeout_s`. No pidfile configured, none written, or a stale
/// one: there is no sensor to reload, which is not an error.
fn reload(opts: &UpdateOptions, mut s: Summary) -> Summary {
    use crate::daemon::control::{self, ControlErrorKind};
    if opts.no_reload {
        s.reload = Some("skipped (--no-reload)".to_string());
        return s;
    }
    let configured = &opts.config.daemon.pidfile;
    if configured.as_os_str().is_empty() {
        s.reload = Some("no running sensor to reload (no [daemon] pidfile configured)".into());
        return s;
    }
    let pidfile = UpdateConfig::resolve(&base_of(opts), configured);
    let timeout = Duration::from_secs(u64::from(opts.config.update.timeout_s));
    match control::reload(&pidfile, timeout) {
        Ok(r) if r.ok => {
            s.reload = Some(format!(
                "nsm-sensor (pid {}) reloaded: {}",
                r.pid,
                r.message.lines().next().unwrap_or("ok")
            ));
        }
        Ok(r) => {
            s.reload = Some(format!("nsm-sensor (pid {}) reload failed", r.pid));
            s.status = Status::ReloadFailed(r.message);
        }
        Err(e) => match e.kind() {
            ControlErrorKind::NoPidfile
            | ControlErrorKind::NotRunning
            | ControlErrorKind::NotSensor => {
                s.reload = Some(format!("no running sensor to reload ({e})"));
            }
            ControlErrorKind::BadPidfile | ControlErrorKind::Timeout | ControlErrorKind::Io => {
                s.reload = Some("not confirmed".to_string());
                s.status = Status::ReloadFailed(e.to_string());
            }
        },
    }
    s
}
