//! The capture worker thread: capture → pipeline for every frame, with no lock on the path of
//! a packet. It talks to the control plane only through atomics (stop, reopen, publish) checked
//! between packets and on read timeouts, the `ArcSwap` holding the rules (loaded per packet,
//! a few nanoseconds, no lock), and a mutex-protected [`Snapshot`] of its counters that it fills
//! a few times a second — never per packet.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::capture::{CaptureError, Next, PacketSource, SourceStats};
use crate::detect::RuleSet;
use crate::pipeline::{Pipeline, Stats};

/// How often (at most) the counters are copied out for the control plane.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// Housekeeping (clock, flags) runs every this many packets under load; a power of two.
const HOUSEKEEPING_PACKETS: u64 = 64;

/// Counters of the capture thread as last copied out.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub pipeline: Stats,
    pub source: SourceStats,
    /// Current ring file name; empty when none is open.
    pub ring_file: String,
}

/// State shared between the capture thread and the control plane.
#[derive(Debug)]
pub struct Shared {
    pub stop: AtomicBool,
    pub reopen_logs: AtomicBool,
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
/// A read failure of the capture (interface went down, …), after flushing.
pub fn capture_loop<S: PacketSource>(
    mut src: S,
    mut pipeline: Pipeline,
    rules: Arc<ArcSwap<RuleSet>>,
    shared: Arc<Shared>,
    flush_every: Duration,
) -> Result<(), CaptureError> {
    let mut next_flush = Instant::now() + flush_every;
    let mut next_publish = Instant::now();
    let mut since_housekeeping = 0u64;
    let mut next_idle = Instant::now();
    let result = loop {
        let idle = match src.next_packet() {
            Ok(Next::Packet(pkt)) => {
                pipeline.process(&rules.load(), &pkt);
                false
            }
            Ok(Next::Timeout) => true,
            // A live source never ends; an in-memory one in tests does.
            Ok(Next::End) => break Ok(()),
            Err(e) => break Err(e),
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
        if idle && now >= next_idle {
            // Quiet link: nothing else would expire flows (they age on packet time).
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            pipeline.idle(wall);
            next_idle = now + Duration::from_secs(1);
        }
        if now >= next_flush {
            pipeline.flush();
            next_flush = now + flush_every;
        }
        if now >= next_publish || shared.publish_now.load(Ordering::Relaxed) {
            publish(&mut src, &mut pipeline, &shared);
            next_publish = now + PUBLISH_EVERY;
        }
    };
    pipeline.flush();
    publish(&mut src, &mut pipeline, &shared);
    // `pipeline` is dropped on return: the ring file closes after its last whole record.
    result
}

fn publish<S: PacketSource>(src: &mut S, pipeline: &mut Pipeline, shared: &Shared) {
    let source = src.stats();
    if let Ok(mut snap) = shared.snapshot.lock() {
        snap.pipeline.clone_from(pipeline.stats());
        snap.source = source;
        snap.ring_file.clear();
        snap.ring_file.push_str(pipeline.ring_file().unwrap_or(""));
    }
    shared.publish_now.store(false, Ordering::Relaxed);
    shared.publish_seq.fetch_add(1, Ordering::Release);
}
