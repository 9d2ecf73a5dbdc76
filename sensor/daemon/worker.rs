//! The capture worker thread: capture → pipeline for every frame, with no lock on the path of
//! a packet. It talks to the control plane only through atomics (stop, reopen, publish) checked
//! between packets and on read timeouts, the `ArcSwap` holding the rules (loaded per packet,
//! a few nanoseconds, no lock), and a mutex-protected [`Snapshot`] of its counters that it fills
//! a few times a second — never per packet.
//!
//! It also watches what it writes to and reads from: a log or ring directory removed while
//! running is recreated (with [`super::create_dir`], as at start-up) and the files reopened,
//! or the thread stops with an error so that the service manager restarts the sensor; an
//! interface that goes down is logged and waited for, and its return logged too.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::capture::live::{link_state, LinkState};
use crate::capture::{CaptureError, Next, PacketSource, SourceStats};
use crate::decode::DecodeOptions;
use crate::detect::RuleSet;
use crate::output::OutputOptions;
use crate::pipeline::{Pipeline, Stats};

/// How often (at most) the counters are copied out for the control plane.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// Housekeeping (clock, flags) runs every this many packets under load; a power of two.
const HOUSEKEEPING_PACKETS: u64 = 64;
/// How often the interface's state is read from sysfs.
const LINK_CHECK_EVERY: Duration = Duration::from_millis(500);

/// Counters of the capture thread as last copied out.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub pipeline: Stats,
    pub source: SourceStats,
    /// Current ring file name; empty when none is open.
    pub ring_file: String,
    /// `Some("veth0 (administratively down)")` while the capture interface is down.
    pub interface_down: Option<String>,
    /// Times a log or ring directory (or a file being written) was found removed and
    /// recreated: what was in it is gone.
    pub dirs_recreated: u64,
}

/// Why the capture thread stopped without being asked to.
#[derive(Debug)]
pub enum WorkerError {
    /// Reading the capture failed while the interface is up, or the interface vanished.
    Capture(CaptureError),
    /// A log or ring directory was removed and cannot be recreated (or its files reopened).
    Dir(String),
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerError::Capture(e) => write!(f, "capture failed: {e}"),
            WorkerError::Dir(m) => f.write_str(m),
        }
    }
}

/// What the capture thread knows about its surroundings, published with the counters.
#[derive(Debug, Default)]
struct Health {
    interface_down: Option<String>,
    dirs_recreated: u64,
}

/// What a reload of the configuration changes on the capture thread.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    pub outputs: Option<OutputOptions>,
    pub decode: DecodeOptions,
    pub flush_interval: Duration,
}

/// State shared between the capture thread and the control plane.
#[derive(Debug)]
pub struct Shared {
    pub stop: AtomicBool,
    pub reopen_logs: AtomicBool,
    /// New settings from a reload, applied (and taken) at the next housekeeping.
    pub settings: Mutex<Option<LiveSettings>>,
    pub settings_changed: AtomicBool,
    /// Ask for a snapshot now (SIGUSR1); cleared by the capture thread when it publishes.
    pub publish_now: AtomicBool,
    /// Incremented at every publication.
    pub publish_seq: AtomicU64,
    /// Milliseconds since `epoch` at the capture loop's last housekeeping: the watchdog only
    /// pings while this moves.
    pub heartbeat_ms: AtomicU64,
    pub epoch: Instant,
    pub snapshot: Mutex<Snapshot>,
}

impl Shared {
    pub fn new() -> Self {
        Shared {
            stop: AtomicBool::new(false),
            reopen_logs: AtomicBool::new(false),
            settings: Mutex::new(None),
            settings_changed: AtomicBool::new(false),
            publish_now: AtomicBool::new(false),
            publish_seq: AtomicU64::new(0),
            heartbeat_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            snapshot: Mutex::new(Snapshot::default()),
        }
    }

    /// A copy of the last published counters.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Time since the capture loop last did its housekeeping.
    /// Hands new settings to the capture thread.
    pub fn send_settings(&self, s: LiveSettings) {
        match self.settings.lock() {
            Ok(mut g) => *g = Some(s),
            Err(p) => *p.into_inner() = Some(s),
        }
        self.settings_changed.store(true, Ordering::Release);
    }

    fn take_settings(&self) -> Option<LiveSettings> {
        match self.settings.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        }
    }

    pub fn heartbeat_age(&self) -> Duration {
        let now = self.epoch.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.heartbeat_ms.load(Ordering::Relaxed)))
    }
}

impl Default for Shared {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs until `shared.stop` is set or the source fails; then flushes the pipeline, publishes
/// the final counters and drops the pipeline (closing the ring file after its last whole
/// record).
///
/// # Errors
/// A read failure of the capture while its interface is up (or after it vanished), or a
/// removed log/ring directory that cannot be recreated; after flushing. An interface that is
/// down is waited for.
pub fn capture_loop<S: PacketSource>(
    mut src: S,
    mut pipeline: Pipeline,
    rules: Arc<ArcSwap<RuleSet>>,
    shared: Arc<Shared>,
    mut flush_every: Duration,
) -> Result<(), WorkerError> {
    let iface = src.name().to_string();
    // Only a source that is a network interface has a link to watch.
    let watch_link = !matches!(link_state(&iface), LinkState::Gone | LinkState::Unknown);
    let mut next_flush = Instant::now() + flush_every;
    let mut next_publish = Instant::now();
    let mut since_housekeeping = 0u64;
    let mut next_idle = Instant::now();
    let mut next_link_check = Instant::now() + LINK_CHECK_EVERY;
    let mut health = Health::default();
    let result = loop {
        let idle = match src.next_packet() {
            Ok(Next::Packet(pkt)) => {
                pipeline.process(&rules.load(), &pkt);
                false
            }
            Ok(Next::Timeout) => true,
            // A live source never ends; an in-memory one in tests does.
            Ok(Next::End) => break Ok(()),
            // libpcap reports an interface taken down as a read error ("The interface went
            // down"); the socket stays bound and delivers again once it is up.
            Err(e) => match link_state(&iface) {
                LinkState::Down(why) => {
                    if health.interface_down.is_none() {
                        link_down(&iface, &why, &e.message, &mut health);
                        next_publish = Instant::now();
                    } else {
                        // Do not spin on repeated errors while it stays down.
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    true
                }
                // Down and up again before we looked: a flap, not a failure.
                LinkState::Up if e.message.contains("went down") => {
                    tracing::warn!("interface {iface} went down and came back: {}", e.message);
                    true
                }
                _ => break Err(WorkerError::Capture(e)),
            },
        };
        since_housekeeping += 1;
        if !idle
            && since_housekeeping < HOUSEKEEPING_PACKETS
            && !shared.stop.load(Ordering::Relaxed)
        {
            continue;
        }
        since_housekeeping = 0;
        if shared.stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        let now = Instant::now();
        shared.heartbeat_ms.store(
            now.duration_since(shared.epoch).as_millis() as u64,
            Ordering::Relaxed,
        );
        if shared.reopen_logs.swap(false, Ordering::Relaxed) {
            match pipeline.reopen_logs() {
                Ok(()) => tracing::info!("alert files reopened"),
                Err(e) => tracing::error!("reopening the alert files: {e}"),
            }
        }
        if shared.settings_changed.swap(false, Ordering::Acquire) {
            if let Some(s) = shared.take_settings() {
                flush_every = s.flush_interval;
                next_flush = next_flush.min(now + flush_every);
                match pipeline.reconfigure(s.outputs.as_ref(), s.decode) {
                    Ok(()) => tracing::debug!("new output settings applied"),
                    Err(e) => tracing::error!(
                        "opening the alert files for the new configuration: {e}; the previous alert files stay in use"
                    ),
                }
            }
        }
        if idle && now >= next_idle {
            // Quiet link: nothing else would expire flows (they age on packet time).
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            pipeline.idle(wall);
            next_idle = now + Duration::from_secs(1);
        }
        if watch_link && now >= next_link_check {
            next_link_check = now + LINK_CHECK_EVERY;
            match link_state(&iface) {
                LinkState::Up | LinkState::Unknown => {
                    if let Some(was) = health.interface_down.take() {
                        tracing::info!("interface {iface} is up again (was {was}): capturing");
                        next_publish = now;
                    }
                }
                LinkState::Down(why) => {
                    if health.interface_down.is_none() {
                        link_down(&iface, &why, "no read error yet", &mut health);
                        next_publish = now;
                    }
                }
                LinkState::Gone => {
                    break Err(WorkerError::Capture(CaptureError {
                        source: iface.clone(),
                        message: "the interface disappeared".into(),
                    }))
                }
            }
        }
        if now >= next_flush {
            // Checked right before the writes go out, so that they never go to files that
            // were deleted with their directory.
            if let Err(e) = recreate_removed(&mut pipeline, &mut health) {
                break Err(e);
            }
            pipeline.flush();
            next_flush = now + flush_every;
        }
        if now >= next_publish || shared.publish_now.load(Ordering::Relaxed) {
            publish(&mut src, &mut pipeline, &shared, &health);
            next_publish = now + PUBLISH_EVERY;
        }
    };
    pipeline.close();
    publish(&mut src, &mut pipeline, &shared, &health);
    // `pipeline` is dropped on return: the ring file closes after its last whole record.
    result
}

fn link_down(iface: &str, why: &str, detail: &str, health: &mut Health) {
    tracing::warn!(
        "interface {iface} went down ({why}; {detail}): nothing is captured until it comes back"
    );
    health.interface_down = Some(format!("{iface} ({why})"));
}

/// Recreates a removed LOGDIR or RING_DIR (0750, owned by whoever the sensor runs as now:
/// root, or after the privilege drop the user the directories were handed to) and reopens
/// what was written there.
///
/// # Errors
/// The directory cannot be recreated (after the drop the parent is usually root's) or the
/// files cannot be reopened: the sensor must stop rather than write into nothing.
fn recreate_removed(pipeline: &mut Pipeline, health: &mut Health) -> Result<(), WorkerError> {
    let fatal = |what: &str, e: &dyn fmt::Display| {
        WorkerError::Dir(format!(
            "{what} was removed while running and cannot be recreated: {e}; stopping so that the service restarts"
        ))
    };
    if let Some(dir) = pipeline.removed_log_dir().map(std::path::Path::to_path_buf) {
        let what = format!("the log directory {}", dir.display());
        tracing::warn!("{what} (or an alert file in it) was removed while running: recreating it");
        super::create_dir(&dir).map_err(|e| fatal(&what, &e))?;
        pipeline.reopen_logs().map_err(|e| fatal(&what, &e))?;
        health.dirs_recreated += 1;
        tracing::info!("{what}: alert files recreated");
    }
    if let Some(dir) = pipeline
        .removed_ring_dir()
        .map(std::path::Path::to_path_buf)
    {
        let what = format!("the ring directory {}", dir.display());
        tracing::warn!(
            "{what} (or the ring file being written) was removed while running: recreating it"
        );
        super::create_dir(&dir).map_err(|e| fatal(&what, &e))?;
        pipeline.restart_ring();
        health.dirs_recreated += 1;
        tracing::info!("{what}: recreated; the next packet starts a new ring file");
    }
    Ok(())
}

fn publish<S: PacketSource>(
    src: &mut S,
    pipeline: &mut Pipeline,
    shared: &Shared,
    health: &Health,
) {
    let source = src.stats();
    if let Ok(mut snap) = shared.snapshot.lock() {
        snap.pipeline.clone_from(pipeline.stats());
        snap.source = source;
        snap.ring_file.clear();
        snap.ring_file.push_str(pipeline.ring_file().unwrap_or(""));
        snap.interface_down.clone_from(&health.interface_down);
        snap.dirs_recreated = health.dirs_recreated;
    }
    shared.publish_now.store(false, Ordering::Relaxed);
    shared.publish_seq.fetch_add(1, Ordering::Release);
}
