//! The live sensor: capture thread, signals, reload, stats, systemd notification, privileges.
//!
//! Owns the process around the pipeline, never packets or rule text: rules come from a loader
//! the caller injects ([`RuleLoader`]), packets go through [`Pipeline::process`].
//!
//! ```text
//!  capture thread (worker.rs)                  control plane (tokio, current thread)
//!  LiveSource ─> Pipeline::process(rules) <── ArcSwap<RuleSet> <── reload (spawn_blocking)
//!      │  atomics: stop, reopen_logs, publish_now  <── signals thread (signal-hook)
//!      └─> Mutex<Snapshot> every 250 ms ──────────> stats line, STATUS=, WATCHDOG=1
//! ```
//!
//! Signals: `SIGHUP` re-reads the configuration file, the rules and threshold.conf off the
//! capture thread and swaps the new set in between two packets, applies the settings that do
//! not need the capture reopened (which alert files are written, timestamps, checksum mode,
//! flush and stats intervals, stats.log) and names in the log those that do (a failed reload
//! keeps the running set and settings and logs every diagnostic; HUPs arriving during a
//! reload coalesce into one more reload), and reopens the log files; `SIGUSR1` writes a stats line; `SIGTERM`/`SIGINT` stop the capture (within the
//! capture timeout), flush, close the ring file after its last whole record and return `Ok`.
//!
//! Stats go to `tracing` (the journal under systemd) and to `LOGDIR/stats.log`; the line
//! format is documented in [`stats`].
//!
//! Privileges: the capture, rules, output and ring files are opened first; then, when a user
//! or group is configured, the directories the sensor created and its own files (its log
//! files, ring files, index sidecars; nothing else) are handed to that user, the process
//! drops to it for good ([`privs`]), and each directory is probed as that user: a sensor that
//! could not write there exits 73 instead of running blind.
//!
//! Pidfile (`[daemon] pidfile`, [`pidfile`]): claimed before anything else is opened (another
//! running nsm-sensor with the same pidfile stops the start-up), removed at exit; beside it
//! the status of the last rule load, written after start-up and after every reload attempt,
//! which [`control::reload`] waits for.

pub mod control;
mod pidfile;
mod privs;
pub mod stats;
mod worker;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;
use tokio::sync::{mpsc, oneshot};

use crate::capture::live::{default_interface, LiveError, LiveErrorKind, LiveOptions, LiveSource};
use crate::capture::PacketSource;
use crate::config::Config;
use crate::detect::RuleSet;
use crate::evidence;
use crate::pipeline::{Pipeline, PipelineOptions};
use crate::ring::files as ring_files;
use crate::ring::RingOptions;
use crate::safefs;

use stats::{StatsEvent, StatsLog};
use worker::{Shared, WorkerError};

/// What a rule load produces: the compiled set, the warnings to log (skipped rules, replaced
/// thresholds, …) and a one-line summary (`"1021 rules loaded, 3 skipped"`).
pub struct LoadedRules {
    pub ruleset: RuleSet,
    pub warnings: Vec<String>,
    pub summary: String,
    /// The options from the configuration file as re-read for this load (with the
    /// command-line overrides applied); `None` when the loader reads rules only. On a reload
    /// what can change without reopening the capture is applied, the rest is named in the
    /// log as needing a restart.
    pub options: Option<DaemonOptions>,
}

/// Loads the configuration, the rule files and threshold.conf. Called once at start-up and
/// again on every SIGHUP, on a blocking-pool thread (after the privilege drop, so the files
/// must be readable by the sensor's user). `Err` holds every diagnostic, each with
/// file:line:col; nothing of a failed load is applied.
pub type RuleLoader = Box<dyn Fn() -> Result<LoadedRules, Vec<String>> + Send + Sync>;

/// Everything `run` needs, built from the config with [`DaemonOptions::from_config`] and then
/// overridden from the command line.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// `interface` empty: the default route's (see [`resolve_interface`]).
    pub capture: LiveOptions,
    pub pipeline: PipelineOptions,
    /// LOGDIR: where `stats.log` goes; the same directory as `pipeline.outputs`' dir.
    pub log_dir: PathBuf,
    /// Append stats lines to `LOGDIR/stats.log` (they always go to the log as well).
    pub stats_log: bool,
    /// Period of the stats line; `None`: only on SIGUSR1 and at exit.
    pub stats_interval: Option<Duration>,
    /// How often the capture thread flushes the alert writers and the ring.
    pub flush_interval: Duration,
    /// Drop to this user (name or uid) after opening everything; empty: stay.
    pub user: String,
    /// Drop to this group; empty: the user's primary group.
    pub group: String,
    /// Ping systemd's watchdog when `WATCHDOG_USEC` is set.
    pub watchdog: bool,
    /// Write the pid here and the reload status beside it; `None`: no pidfile.
    pub pidfile: Option<PathBuf>,
}

impl DaemonOptions {
    /// Options from `[capture]`, `[output]` and `[daemon]`; the pipeline options are built by
    /// the caller (they are shared with `replay`).
    pub fn from_config(cfg: &Config, pipeline: PipelineOptions) -> DaemonOptions {
        DaemonOptions {
            capture: LiveOptions::from_config(&cfg.capture),
            pipeline,
            log_dir: cfg.output.dir.clone(),
            stats_log: cfg.output.stats,
            stats_interval: (cfg.daemon.stats_interval_s > 0)
                .then(|| Duration::from_secs(u64::from(cfg.daemon.stats_interval_s))),
            flush_interval: Duration::from_millis(u64::from(cfg.output.flush_ms.max(10))),
            user: cfg.daemon.user.clone(),
            group: cfg.daemon.group.clone(),
            watchdog: cfg.daemon.watchdog,
            pidfile: (!cfg.daemon.pidfile.as_os_str().is_empty())
                .then(|| cfg.daemon.pidfile.clone()),
        }
    }
}

/// What went wrong, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonErrorKind {
    /// The rules did not load at start-up (every diagnostic was logged). Exit 78.
    Rules,
    /// The BPF filter does not compile. Exit 78.
    BadFilter,
    /// A configured user or group does not exist. Exit 78.
    Config,
    /// The interface does not exist (it may appear later: systemd retries). Exit 1.
    NoSuchDevice,
    /// No permission to capture. Exit 1.
    PermissionDenied,
    /// Opening or reading the capture failed otherwise. Exit 1.
    Capture,
    /// A log/ring directory or file could not be created or written. Exit 1.
    Io,
    /// After the privilege drop the sensor cannot create files in its log or ring directory
    /// (it would run blind). Exit 73 (EX_CANTCREAT): fixing the directory needs an operator.
    CantCreate,
    /// Switching user failed or could be undone. Exit 1.
    Privileges,
    /// The capture thread died, signals could not be set up, … Exit 1.
    Runtime,
    /// Another nsm-sensor runs with the same pidfile. Exit 1.
    AlreadyRunning,
}

/// A failure of [`run`]: a kind for the exit code and a message for humans.
#[derive(Debug, Clone)]
pub struct DaemonError {
    pub kind: DaemonErrorKind,
    pub message: String,
}

impl DaemonError {
    fn new(kind: DaemonErrorKind, message: impl Into<String>) -> Self {
        DaemonError {
            kind,
            message: message.into(),
        }
    }

    /// 78 (EX_CONFIG) for configuration and rule errors, 73 (EX_CANTCREAT) for a directory the
    /// sensor cannot write after dropping privileges, 1 for runtime failures.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            DaemonErrorKind::Rules | DaemonErrorKind::BadFilter | DaemonErrorKind::Config => 78,
            DaemonErrorKind::CantCreate => 73,
            _ => 1,
        }
    }
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DaemonError {}

impl From<LiveError> for DaemonError {
    fn from(e: LiveError) -> Self {
        let (kind, hint) = match e.kind {
            LiveErrorKind::NoSuchDevice => (DaemonErrorKind::NoSuchDevice, ""),
            LiveErrorKind::PermissionDenied => (
                DaemonErrorKind::PermissionDenied,
                " (capturing needs root or CAP_NET_RAW and CAP_NET_ADMIN)",
            ),
            LiveErrorKind::BadFilter => (DaemonErrorKind::BadFilter, ""),
            LiveErrorKind::Other => (DaemonErrorKind::Capture, ""),
        };
        DaemonError::new(kind, format!("cannot capture on {e}{hint}"))
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> DaemonError {
    DaemonError::new(
        DaemonErrorKind::Io,
        format!("{what} {}: {e}", path.display()),
    )
}

/// `configured` when non-empty, else the interface of the default route (else the first
/// interface that is up and not loopback); says which at INFO level.
///
/// # Errors
/// No interface could be chosen.
pub fn resolve_interface(configured: &str) -> Result<String, DaemonError> {
    if !configured.is_empty() {
        return Ok(configured.to_string());
    }
    let d = default_interface().map_err(|e| {
        DaemonError::new(
            DaemonErrorKind::NoSuchDevice,
            format!("no interface given and none found: {}", e.message),
        )
    })?;
    tracing::info!(
        "no interface configured: capturing on {} ({})",
        d.name,
        d.reason
    );
    Ok(d.name)
}

/// Runs the live sensor until SIGTERM/SIGINT (then returns `Ok`) or a fatal error.
///
/// Start-up order: signals are caught, the rules are loaded, the interface is opened, the
/// pipeline opens its outputs and ring, the process drops privileges, the capture thread
/// starts, and systemd is told `READY=1`.
///
/// # Errors
/// See [`DaemonErrorKind`]: rules that do not load, a missing interface, no permission, a BPF
/// filter that does not compile, unwritable directories, a failed privilege drop, or a capture
/// that fails while running (after flushing what was captured).
pub fn run(mut opts: DaemonOptions, load_rules: RuleLoader) -> Result<(), DaemonError> {
    let started = Instant::now();
    opts.capture.interface = resolve_interface(&opts.capture.interface)?;
    // Caught from here on: a SIGTERM during start-up is handled once the loop runs.
    let mut signals = Signals::new([SIGHUP, SIGUSR1, SIGTERM, SIGINT]).map_err(|e| {
        DaemonError::new(
            DaemonErrorKind::Runtime,
            format!("cannot install signal handlers: {e}"),
        )
    })?;

    // Before anything is opened: a second sensor must not touch the first one's ring.
    let pidfile = match &opts.pidfile {
        Some(p) => Some(pidfile::PidFile::claim(p).map_err(|e| match e {
            pidfile::ClaimError::Running(m) => DaemonError::new(DaemonErrorKind::AlreadyRunning, m),
            pidfile::ClaimError::Io(m) => DaemonError::new(DaemonErrorKind::Io, m),
        })?),
        None => None,
    };

    let loader: Arc<RuleLoader> = Arc::new(load_rules);
    let t0 = Instant::now();
    let load_started = control::monotonic_ns();
    let loaded = loader().map_err(|diags| {
        for d in &diags {
            tracing::error!("{d}");
        }
        DaemonError::new(
            DaemonErrorKind::Rules,
            format!("the rules did not load ({} error(s))", diags.len()),
        )
    })?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let rules_loaded = loaded.ruleset.len();
    let first_summary = format!("{rules_loaded} rules ({})", loaded.summary);
    tracing::info!(
        "rules loaded in {} ms: {} rules ({})",
        t0.elapsed().as_millis(),
        rules_loaded,
        loaded.summary
    );

    let src = LiveSource::open(&opts.capture)?;
    tracing::info!(
        "capturing on {} (linktype {}, snaplen {}, buffer {} MiB, promisc {}, filter {:?})",
        src.name(),
        src.linktype(),
        src.snaplen(),
        opts.capture.buffer_mb,
        opts.capture.promisc,
        opts.capture.bpf
    );

    // Known before any file is opened: files the configured user owns (written after an
    // earlier drop) are the sensor's own too.
    let target = resolve_target(&opts)?;
    if let Some(t) = &target {
        safefs::trust_owner(t.uid);
    }
    let ring_dir = opts.pipeline.ring.as_ref().map(|r| r.dir.clone());
    let evidence_dir = opts.pipeline.evidence.as_ref().map(|e| e.dir.clone());
    let mut dirs = vec![opts.log_dir.clone()];
    dirs.extend(ring_dir);
    dirs.extend(evidence_dir);
    let mut created: Vec<PathBuf> = pidfile
        .as_ref()
        .map(|p| p.created_dirs().to_vec())
        .unwrap_or_default();
    for d in &dirs {
        created.extend(create_dir(d)?);
    }
    let pipeline = Pipeline::new(&opts.pipeline, src.linktype(), src.snaplen()).map_err(|e| {
        DaemonError::new(
            DaemonErrorKind::Io,
            format!("opening outputs and ring: {e}"),
        )
    })?;
    let stats_log = if opts.stats_log {
        let dir = &opts.log_dir;
        Some(StatsLog::open(dir).map_err(|e| io_err("cannot open", &dir.join("stats.log"), e))?)
    } else {
        None
    };

    let own = OwnFiles {
        dirs: &dirs,
        created: &created,
        ring: opts.pipeline.ring.as_ref(),
        linktype: src.linktype() as u32,
    };
    drop_privileges(target.as_ref(), &own)?;
    check_usable(&opts, &dirs)?;

    let shared = Arc::new(Shared::new());
    let rules = Arc::new(ArcSwap::from_pointee(loaded.ruleset));
    let (done_tx, done_rx) = oneshot::channel();
    let capture = {
        let (rules, shared, flush) = (rules.clone(), shared.clone(), opts.flush_interval);
        std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let r = worker::capture_loop(src, pipeline, rules, shared, flush);
                let _ = done_tx.send(r);
            })
            .map_err(|e| {
                DaemonError::new(
                    DaemonErrorKind::Runtime,
                    format!("cannot start the capture thread: {e}"),
                )
            })?
    };

    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let sig_handle = signals.handle();
    let sig_thread = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let c = match sig {
                    SIGHUP => Control::Reload,
                    SIGUSR1 => Control::Stats,
                    SIGINT => Control::Stop("SIGINT"),
                    _ => Control::Stop("SIGTERM"),
                };
                if ctl_tx.send(c).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| {
            DaemonError::new(
                DaemonErrorKind::Runtime,
                format!("cannot start the signal thread: {e}"),
            )
        })?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| {
            DaemonError::new(
                DaemonErrorKind::Runtime,
                format!("cannot start the runtime: {e}"),
            )
        })?;
    let (reload_tx, reload_rx) = mpsc::unbounded_channel();
    let mut plane = ControlPlane {
        shared: shared.clone(),
        rules,
        loader,
        stats_log,
        started,
        rules_loaded,
        reload_in_flight: false,
        reload_queued: false,
        reload_tx,
        pidfile,
        reloads: 0,
        current: opts.clone(),
        publish_wait: Duration::from_millis(u64::from(opts.capture.timeout_ms.max(1)) + 250),
    };
    plane.write_status(true, first_summary, load_started);
    let interface = opts.capture.interface.clone();
    let result = rt.block_on(plane.run(&opts, &interface, ctl_rx, reload_rx, done_rx));
    // A reload still parsing rules must not delay the exit.
    rt.shutdown_timeout(Duration::from_millis(100));
    sig_handle.close();
    let _ = sig_thread.join();
    let _ = capture.join();
    result
}

/// Creates `dir` (and parents) 0750 if missing, never through a link as the last component;
/// returns the directories it created.
fn create_dir(dir: &Path) -> Result<Vec<PathBuf>, DaemonError> {
    if dir.as_os_str().is_empty() {
        return Ok(Vec::new());
    }
    safefs::Dir::create_all(dir)
        .map(|(_, created)| created)
        .map_err(|e| {
            DaemonError::new(
                DaemonErrorKind::Io,
                format!("cannot create the directory: {e}"),
            )
        })
}

/// The configured user/group, resolved; `None` when none is configured.
fn resolve_target(opts: &DaemonOptions) -> Result<Option<privs::Target>, DaemonError> {
    if opts.user.is_empty() && opts.group.is_empty() {
        return Ok(None);
    }
    privs::resolve(&opts.user, &opts.group)
        .map(Some)
        .map_err(|e| DaemonError::new(DaemonErrorKind::Config, e.0))
}

/// Drops to the configured user/group after handing it the sensor's own directories and
/// files, or warns when running as root without one.
fn drop_privileges(target: Option<&privs::Target>, own: &OwnFiles<'_>) -> Result<(), DaemonError> {
    let Some(target) = target else {
        if privs::euid() == 0 {
            tracing::warn!(
                "running as root: set [daemon] user (or --user) to drop privileges after the capture is open"
            );
        }
        drop_capabilities();
        return Ok(());
    };
    if privs::euid() == 0 && target.uid != 0 {
        hand_over(own, target.uid, target.gid);
    }
    privs::drop_to(target).map_err(|e| DaemonError::new(DaemonErrorKind::Privileges, e.0))?;
    drop_capabilities();
    tracing::info!(
        "dropped privileges: running as {} (uid {}, gid {})",
        target.label,
        target.uid,
        target.gid
    );
    Ok(())
}

/// After the drop: the sensor must be able to create files in each of its directories (new
/// ring files, logs reopened after logrotate), or it would run blind. Probed by creating and
/// removing an unguessable file as the user the sensor now runs as.
fn check_usable(opts: &DaemonOptions, dirs: &[PathBuf]) -> Result<(), DaemonError> {
    for d in dirs {
        if d.as_os_str().is_empty() {
            continue;
        }
        if let Err(e) = safefs::Dir::open(d).and_then(|dir| dir.probe_writable()) {
            let who = if opts.user.is_empty() && opts.group.is_empty() {
                format!("uid {}", privs::euid())
            } else {
                format!(
                    "{} (uid {}, gid {})",
                    if opts.user.is_empty() {
                        &opts.group
                    } else {
                        &opts.user
                    },
                    privs::euid(),
                    privs::egid()
                )
            };
            return Err(DaemonError::new(
                DaemonErrorKind::CantCreate,
                format!(
                    "cannot create files in {} as {who}: {e}; give the directory to that user \
                     (chown) or configure another one",
                    d.display()
                ),
            ));
        }
    }
    Ok(())
}

/// A non-root process started with capabilities (systemd's `AmbientCapabilities=`) needs
/// them only to open the capture: drop them all once it is open. Root keeps its (warned) power.
fn drop_capabilities() {
    if privs::euid() == 0 || !privs::has_capabilities() {
        return;
    }
    match privs::drop_capabilities() {
        Ok(()) => tracing::info!("capture open: dropped all capabilities"),
        Err(e) => tracing::warn!("could not drop capabilities: {e}"),
    }
}

/// What the sensor may hand over to its user: the directories it created, its log and ring
/// directories when they hold nothing but its files, and its own files in them.
struct OwnFiles<'a> {
    /// The log directory, then the ring directory.
    dirs: &'a [PathBuf],
    /// Directories created by this start-up, outermost first.
    created: &'a [PathBuf],
    ring: Option<&'a RingOptions>,
    linktype: u32,
}

/// Log file names the sensor writes in LOGDIR.
const LOG_NAMES: [&str; 4] = [
    crate::output::ALERT_FULL_FILE,
    crate::output::ALERT_FAST_FILE,
    crate::output::EVE_FILE,
    stats::STATS_FILE,
];

impl OwnFiles<'_> {
    /// The entry `name` of `dir`, open, when it is unmistakably the sensor's: a log file it
    /// names, a ring file of its prefix with the ring's header, or such a file's index
    /// sidecar (each a regular file with one link owned by the sensor: see [`safefs`]).
    fn own_file(&self, dir: &safefs::Dir, name: &str) -> Option<std::fs::File> {
        if LOG_NAMES.contains(&name) {
            return dir.open_own(name, false).ok();
        }
        // Evidence files and the store's index (in the evidence store).
        if evidence::store::is_evidence_name(name) || name == evidence::store::INDEX_FILE {
            return dir.open_own(name, false).ok();
        }
        let ring = self.ring?;
        let is_ring_name =
            |n: &str| ring_files::parse_name(n).is_some_and(|(prefix, _, _)| prefix == ring.prefix);
        if is_ring_name(name) {
            return ring_files::open_own_ring_file(dir, name, self.linktype).ok();
        }
        // An index sidecar only beside a ring file of the sensor's own.
        let pcap = name.strip_prefix('.')?.strip_suffix(".idx")?;
        if is_ring_name(pcap) && ring_files::open_own_ring_file(dir, pcap, self.linktype).is_ok() {
            return dir.open_own(name, false).ok();
        }
        None
    }
}

/// Gives the sensor's own directories and files to `uid:gid`, so that after the drop the
/// sensor can still append to, reopen and rotate them; nothing else is touched (a foreign
/// `auth.log` in a shared LOGDIR stays root's). Every change goes through a descriptor opened
/// without following links. Failures are logged: [`check_usable`] then refuses to run blind.
fn hand_over(own: &OwnFiles<'_>, uid: u32, gid: u32) {
    let root = privs::euid();
    for p in own.created {
        if let Err(e) = safefs::Dir::open(p).and_then(|d| d.chown(uid, gid)) {
            tracing::warn!("cannot give {} to uid {uid}: {e}", p.display());
        }
    }
    for d in own.dirs {
        let Ok(dir) = safefs::Dir::open(d) else {
            continue;
        };
        let names: Vec<String> = dir
            .names()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| n.into_string().ok())
            .collect();
        let mut foreign = 0usize;
        for name in &names {
            let Some(f) = own.own_file(&dir, name) else {
                foreign += usize::from(name != "evidence");
                continue;
            };
            let owned_by_root = f.metadata().is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                m.uid() == root
            });
            if owned_by_root {
                if let Err(e) = std::os::unix::fs::fchown(&f, Some(uid), Some(gid)) {
                    tracing::warn!("cannot give {} to uid {uid}: {e}", dir.join(name).display());
                }
            }
        }
        // A directory this start-up did not create is the sensor's only when it holds the
        // sensor's files and nothing else (never `/var/log` with its `auth.log`).
        let ours = !own.created.contains(d) && foreign == 0 && !names.is_empty();
        let dir_root = dir.metadata().is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt;
            m.uid() == root
        });
        if ours && dir_root {
            if let Err(e) = dir.chown(uid, gid) {
                tracing::warn!("cannot give {} to uid {uid}: {e}", d.display());
            }
        }
    }
}

/// What the signal thread asks of the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Reload,
    Stats,
    Stop(&'static str),
}

/// A reload's outcome, how long it took, and when it started ([`control::monotonic_ns`]).
type ReloadResult = (Result<LoadedRules, Vec<String>>, Duration, u64);

/// At most this many diagnostics go into the reload status (all of them go to the log).
const STATUS_DIAGNOSTICS: usize = 50;

struct ControlPlane {
    shared: Arc<Shared>,
    rules: Arc<ArcSwap<RuleSet>>,
    loader: Arc<RuleLoader>,
    stats_log: Option<StatsLog>,
    started: Instant,
    rules_loaded: usize,
    reload_in_flight: bool,
    reload_queued: bool,
    reload_tx: mpsc::UnboundedSender<ReloadResult>,
    /// The pidfile this process holds, with the reload status beside it.
    pidfile: Option<pidfile::PidFile>,
    /// Reload attempts finished since start-up.
    reloads: u64,
    /// The options in effect (those a reload applied included).
    current: DaemonOptions,
    /// How long SIGUSR1 waits for the capture thread to publish fresh counters.
    publish_wait: Duration,
}

impl ControlPlane {
    async fn run(
        &mut self,
        opts: &DaemonOptions,
        interface: &str,
        mut ctl_rx: mpsc::UnboundedReceiver<Control>,
        mut reload_rx: mpsc::UnboundedReceiver<ReloadResult>,
        mut done_rx: oneshot::Receiver<Result<(), WorkerError>>,
    ) -> Result<(), DaemonError> {
        use tokio::time::{interval, interval_at, MissedTickBehavior};
        notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&format!(
                "capturing on {interface}; {} rules",
                self.rules_loaded
            )),
        ]);
        tracing::info!("sensor running (pid {})", std::process::id());

        // An hour when disabled: the branch is switched off below anyway.
        let stats_every = |every: Option<Duration>| {
            let period = every.unwrap_or(Duration::from_secs(3600));
            let mut t = interval_at(tokio::time::Instant::now() + period, period);
            t.set_missed_tick_behavior(MissedTickBehavior::Delay);
            t
        };
        let mut stats_period = self.current.stats_interval;
        let mut stats_tick = stats_every(stats_period);
        let watchdog = if opts.watchdog {
            sd_notify::watchdog_enabled()
        } else {
            None
        };
        let wd_period = watchdog.map_or(Duration::from_secs(3600), |w| {
            (w / 2).max(Duration::from_millis(10))
        });
        let mut wd_tick = interval(wd_period);
        wd_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        if let Some(w) = watchdog {
            tracing::info!("systemd watchdog every {} ms", w.as_millis());
        }
        let mut stalled = false;
        // The interface's state as last shown in STATUS: a change is shown at once.
        let mut health_tick = interval(Duration::from_millis(500));
        health_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut shown_down: Option<String> = None;

        let outcome = loop {
            tokio::select! {
                Some(c) = ctl_rx.recv() => match c {
                    Control::Reload => self.on_hup(),
                    Control::Stats => self.on_usr1().await,
                    Control::Stop(sig) => {
                        if !self.shared.stop.swap(true, Ordering::Relaxed) {
                            tracing::info!("{sig}: stopping");
                            notify(&[sd_notify::NotifyState::Stopping]);
                        }
                    }
                },
                Some(r) = reload_rx.recv() => self.on_reload_done(r),
                _ = stats_tick.tick(), if stats_period.is_some() => self.write_stats(StatsEvent::Periodic),
                _ = wd_tick.tick(), if watchdog.is_some() => {
                    let limit = watchdog.unwrap_or_default();
                    if self.shared.heartbeat_age() < limit {
                        notify(&[sd_notify::NotifyState::Watchdog]);
                        stalled = false;
                    } else if !stalled {
                        stalled = true;
                        tracing::error!("capture thread stalled: withholding the watchdog ping");
                    }
                }
                _ = health_tick.tick() => {
                    let snap = self.shared.snapshot();
                    if snap.interface_down != shown_down {
                        shown_down = snap.interface_down.clone();
                        notify(&[sd_notify::NotifyState::Status(&stats::status_line(&snap))]);
                    }
                }
                r = &mut done_rx => break r,
            }
            if self.current.stats_interval != stats_period {
                stats_period = self.current.stats_interval;
                stats_tick = stats_every(stats_period);
            }
        };
        if !self.shared.stop.load(Ordering::Relaxed) {
            notify(&[sd_notify::NotifyState::Stopping]);
        }
        self.write_stats(StatsEvent::Exit);
        match outcome {
            Ok(Ok(())) => {
                match data_lost(&self.shared.snapshot()) {
                    None => tracing::info!("stopped cleanly"),
                    Some(what) => tracing::warn!("stopped; data was lost while running: {what}"),
                }
                Ok(())
            }
            Ok(Err(e @ WorkerError::Capture(_))) => {
                Err(DaemonError::new(DaemonErrorKind::Capture, e.to_string()))
            }
            Ok(Err(e @ WorkerError::Dir(_))) => {
                Err(DaemonError::new(DaemonErrorKind::Io, e.to_string()))
            }
            Err(_) => Err(DaemonError::new(
                DaemonErrorKind::Runtime,
                "the capture thread died",
            )),
        }
    }

    /// SIGHUP: reopen the logs now, and reload the rules (or queue one more reload).
    fn on_hup(&mut self) {
        tracing::info!("SIGHUP: reloading the configuration and rules, reopening log files");
        self.shared.reopen_logs.store(true, Ordering::Relaxed);
        if let Some(log) = &mut self.stats_log {
            if let Err(e) = log.reopen() {
                tracing::error!("reopening {}: {e}", log.path().display());
            }
        }
        if self.reload_in_flight {
            // Coalesce: however many HUPs arrive now, one more reload runs after this one, so
            // the files as they are after the last HUP are what ends up loaded.
            self.reload_queued = true;
        } else {
            self.start_reload();
        }
    }

    fn start_reload(&mut self) {
        self.reload_in_flight = true;
        let (loader, tx) = (self.loader.clone(), self.reload_tx.clone());
        tokio::task::spawn_blocking(move || {
            // Taken before the first file is read: a status says which signals it answers.
            let started = control::monotonic_ns();
            let t0 = Instant::now();
            let r = loader();
            let _ = tx.send((r, t0.elapsed(), started));
        });
    }

    /// Writes the reload status beside the pidfile (when there is one).
    fn write_status(&mut self, ok: bool, message: String, started: u64) {
        let Some(pf) = &mut self.pidfile else {
            return;
        };
        pf.write_status(&control::ReloadStatus {
            pid: std::process::id(),
            reloads: self.reloads,
            ok,
            message,
            rules: self.rules_loaded as u64,
            generation: self.rules.load().generation(),
            started_monotonic_ns: started,
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
    }

    fn on_reload_done(&mut self, (result, took, started): ReloadResult) {
        self.reload_in_flight = false;
        self.reloads += 1;
        let status = match result {
            Ok(mut loaded) => {
                if let Some(new) = loaded.options.take() {
                    self.apply_options(new);
                }
                for w in &loaded.warnings {
                    tracing::warn!("{w}");
                }
                let n = loaded.ruleset.len();
                let old = self.rules.swap(Arc::new(loaded.ruleset));
                tracing::info!(
                    "rules reloaded in {} ms: {n} rules, was {} ({})",
                    took.as_millis(),
                    self.rules_loaded,
                    loaded.summary
                );
                self.rules_loaded = n;
                // The capture thread may still hold the old set for the packet in hand; drop
                // it later, here, so a large set is never freed on the capture thread.
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    drop(old);
                });
                (true, format!("{n} rules ({})", loaded.summary))
            }
            Err(diags) => {
                for d in &diags {
                    tracing::error!("{d}");
                }
                let head = format!(
                    "reload failed with {} error(s): keeping the {} rules loaded and the configuration in effect",
                    diags.len(),
                    self.rules_loaded
                );
                tracing::error!(
                    "reload failed after {} ms with {} error(s): keeping the {} rules loaded and the configuration in effect",
                    took.as_millis(),
                    diags.len(),
                    self.rules_loaded
                );
                let mut lines = vec![head];
                lines.extend(diags.iter().take(STATUS_DIAGNOSTICS).cloned());
                if diags.len() > STATUS_DIAGNOSTICS {
                    lines.push(format!(
                        "… and {} more (see the log)",
                        diags.len() - STATUS_DIAGNOSTICS
                    ));
                }
                (false, lines.join("\n"))
            }
        };
        self.write_status(status.0, status.1, started);
        if std::mem::take(&mut self.reload_queued) {
            self.start_reload();
        }
    }

    /// Applies the options of a reloaded configuration that can change while capturing, and
    /// names those that cannot (they keep their running values until a restart).
    fn apply_options(&mut self, mut new: DaemonOptions) {
        let restart = restart_needed(&self.current, &new);
        if !restart.is_empty() {
            tracing::warn!(
                "configuration reloaded; these changes need a restart and are not in effect: {}",
                restart.join(", ")
            );
        }
        let cur = &mut self.current;
        // Where the alert files go is LOGDIR's (restart only): keep it.
        if let Some(o) = new.pipeline.outputs.as_mut() {
            o.dir.clone_from(&cur.log_dir);
        }
        let mut applied = Vec::new();
        let files = |o: &Option<crate::output::OutputOptions>| match o {
            None => "none".to_string(),
            Some(o) => {
                let on: Vec<&str> = [
                    (o.alert_full, crate::output::ALERT_FULL_FILE),
                    (o.alert_fast, crate::output::ALERT_FAST_FILE),
                    (o.eve, crate::output::EVE_FILE),
                ]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| *n)
                .collect();
                format!("{} ({:?} time)", on.join(" "), o.timestamps).to_lowercase()
            }
        };
        if new.pipeline.outputs != cur.pipeline.outputs {
            applied.push(format!(
                "alert files {} -> {}",
                files(&cur.pipeline.outputs),
                files(&new.pipeline.outputs)
            ));
        }
        if new.pipeline.decode != cur.pipeline.decode {
            applied.push(format!(
                "checksum validation {} -> {}",
                on_off(cur.pipeline.decode.checksums),
                on_off(new.pipeline.decode.checksums)
            ));
        }
        if new.flush_interval != cur.flush_interval {
            applied.push(format!(
                "flush every {} ms -> {} ms",
                cur.flush_interval.as_millis(),
                new.flush_interval.as_millis()
            ));
        }
        if new.stats_interval != cur.stats_interval {
            let secs =
                |d: Option<Duration>| d.map_or("off".into(), |d| format!("{} s", d.as_secs()));
            applied.push(format!(
                "stats every {} -> {}",
                secs(cur.stats_interval),
                secs(new.stats_interval)
            ));
        }
        if new.stats_log != cur.stats_log {
            applied.push(format!(
                "stats.log {} -> {}",
                on_off(cur.stats_log),
                on_off(new.stats_log)
            ));
            if new.stats_log {
                match StatsLog::open(&cur.log_dir) {
                    Ok(log) => self.stats_log = Some(log),
                    Err(e) => tracing::error!(
                        "cannot open {}: {e}",
                        cur.log_dir.join("stats.log").display()
                    ),
                }
            } else {
                self.stats_log = None;
            }
        }
        cur.pipeline.outputs = new.pipeline.outputs;
        cur.pipeline.decode = new.pipeline.decode;
        cur.flush_interval = new.flush_interval;
        cur.stats_interval = new.stats_interval;
        cur.stats_log = new.stats_log;
        self.shared.send_settings(worker::LiveSettings {
            outputs: cur.pipeline.outputs.clone(),
            decode: cur.pipeline.decode,
            flush_interval: cur.flush_interval,
        });
        if !applied.is_empty() {
            tracing::info!("configuration reloaded: {}", applied.join(", "));
        }
    }

    /// SIGUSR1: ask the capture thread for fresh counters, wait briefly for them, write a line.
    async fn on_usr1(&mut self) {
        let seq = self.shared.publish_seq.load(Ordering::Acquire);
        self.shared.publish_now.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + self.publish_wait;
        while self.shared.publish_seq.load(Ordering::Acquire) == seq && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.write_stats(StatsEvent::Signal);
    }

    fn write_stats(&mut self, event: StatsEvent) {
        let snap = self.shared.snapshot();
        if let Some(log) = &mut self.stats_log {
            // LOGDIR removed while running: the capture thread recreates it at its next
            // flush; recreate it here too (the same way), so the line is not lost.
            if log.is_removed() {
                let dir = log
                    .path()
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let reopened = create_dir(&dir)
                    .map_err(|e| e.to_string())
                    .and_then(|_| log.reopen().map_err(|e| e.to_string()));
                match reopened {
                    Ok(()) => tracing::warn!(
                        "{} was removed while running: recreated",
                        log.path().display()
                    ),
                    Err(e) => tracing::error!(
                        "{} was removed and cannot be recreated: {e}",
                        log.path().display()
                    ),
                }
            }
        }
        let line = stats::format_line(event, self.started.elapsed(), &snap, self.rules_loaded);
        // The journal stamps its own time: log the line without it.
        tracing::info!(
            "stats: {}",
            line.split_once(' ').map_or(line.as_str(), |(_, rest)| rest)
        );
        if let Some(log) = &mut self.stats_log {
            if let Err(e) = log.append(&line) {
                tracing::warn!("writing {}: {e}", log.path().display());
            }
        }
        if let Some(w) = snap.pipeline.checksum_warning() {
            tracing::warn!("{w}");
        }
        notify(&[sd_notify::NotifyState::Status(&stats::status_line(&snap))]);
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// A setting that needs a restart to change: its configuration key and how to print it.
type RestartSetting = (&'static str, fn(&DaemonOptions) -> String);

/// The settings a reload cannot apply: the capture must be reopened, the directories handed
/// over again, or flow and threshold state (sized at start) rebuilt.
const RESTART_SETTINGS: &[RestartSetting] = &[
    ("capture.interface", |o| o.capture.interface.clone()),
    ("capture.bpf", |o| format!("{:?}", o.capture.bpf)),
    ("capture.snaplen", |o| o.capture.snaplen.to_string()),
    ("capture.promisc", |o| o.capture.promisc.to_string()),
    ("capture.buffer_mb", |o| o.capture.buffer_mb.to_string()),
    ("capture.timeout_ms", |o| o.capture.timeout_ms.to_string()),
    ("ring.enabled", |o| o.pipeline.ring.is_some().to_string()),
    ("ring.dir", |o| {
        ring_setting(o, |r| r.dir.display().to_string())
    }),
    ("ring.prefix", |o| ring_setting(o, |r| r.prefix.clone())),
    ("ring.files", |o| ring_setting(o, |r| r.files.to_string())),
    ("ring.file_size_mb", |o| {
        ring_setting(o, |r| (r.file_size >> 20).to_string())
    }),
    ("output.dir", |o| o.log_dir.display().to_string()),
    ("evidence", |o| format!("{:?}", o.pipeline.evidence)),
    ("daemon.user", |o| o.user.clone()),
    ("daemon.group", |o| o.group.clone()),
    ("daemon.pidfile", |o| format!("{:?}", o.pidfile)),
    ("daemon.watchdog", |o| o.watchdog.to_string()),
    ("detect.flow_memcap_mb", |o| {
        (o.pipeline.detect.flow_memcap >> 20).to_string()
    }),
    ("detect.threshold_memcap_mb", |o| {
        (o.pipeline.detect.threshold_memcap >> 20).to_string()
    }),
    ("detect.tcp_timeout_s", |o| {
        o.pipeline.detect.tcp_timeout_s.to_string()
    }),
    ("detect.tcp_new_timeout_s", |o| {
        o.pipeline.detect.tcp_new_timeout_s.to_string()
    }),
    ("detect.udp_timeout_s", |o| {
        o.pipeline.detect.udp_timeout_s.to_string()
    }),
    ("detect.other_timeout_s", |o| {
        o.pipeline.detect.other_timeout_s.to_string()
    }),
    ("detect.defrag", |o| {
        o.pipeline.detect.defrag.is_some().to_string()
    }),
];

/// A ring setting, or nothing when the ring is off (then only `ring.enabled` can differ).
fn ring_setting(o: &DaemonOptions, f: fn(&RingOptions) -> String) -> String {
    o.pipeline.ring.as_ref().map(f).unwrap_or_default()
}

/// The settings that differ between the running options and a reloaded configuration but
/// need a restart (see [`RESTART_SETTINGS`]): each as `key (old -> new)`.
fn restart_needed(cur: &DaemonOptions, new: &DaemonOptions) -> Vec<String> {
    let both_rings = cur.pipeline.ring.is_some() && new.pipeline.ring.is_some();
    RESTART_SETTINGS
        .iter()
        .filter(|(key, _)| both_rings || !key.starts_with("ring.") || *key == "ring.enabled")
        .filter_map(|(key, show)| {
            let (a, b) = (show(cur), show(new));
            (a != b).then(|| format!("{key} ({a} -> {b})"))
        })
        .collect()
}

/// What was lost while running, for the last line; `None` when nothing was.
fn data_lost(snap: &worker::Snapshot) -> Option<String> {
    let p = &snap.pipeline;
    let mut what = Vec::new();
    if p.alerts_dropped > 0 {
        what.push(format!(
            "{} alert(s) could not be written",
            p.alerts_dropped
        ));
    }
    if p.ring_write_errors > 0 {
        what.push(format!(
            "{} ring write error(s) (packets missing from the ring)",
            p.ring_write_errors
        ));
    }
    if p.evidence.lost > 0 || p.evidence.refused > 0 || p.evidence.write_errors > 0 {
        what.push(format!(
            "evidence incomplete: {} copied packet(s) dropped, {} alert(s) of new conversations kept none, {} evidence write error(s)",
            p.evidence.lost, p.evidence.refused, p.evidence.write_errors
        ));
    }
    if snap.dirs_recreated > 0 {
        what.push(format!(
            "a log or ring directory was removed {} time(s) (its files are gone)",
            snap.dirs_recreated
        ));
    }
    (!what.is_empty()).then(|| what.join(", "))
}

/// sd_notify, ignoring failures (no NOTIFY_SOCKET outside systemd is the normal case).
fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify: {e}");
    }
}
