//! The stats line: formatting the capture thread's counters, and appending them to
//! `LOGDIR/stats.log` (reopened on SIGHUP for logrotate).
//!
//! Format: one line per report, space-separated `key=value` pairs after an RFC 3339 UTC time,
//! keys in a fixed order so `grep`/`awk` stay simple:
//!
//! ```text
//! 2024-05-01T10:00:00Z event=periodic uptime_s=60 packets=1200 bytes=98000 kernel_drops=0 if_drops=0 received=1200 alerts=3 rules=1021 ring_file=nsm_00003_20240501095900.pcap flows_evicted=0 ring_write_errors=0 output_write_errors=0 alerts_dropped=0 evidence_events=1 evidence_open=0 evidence_refused=0 evidence_lost=0 evidence_deleted=0 evidence_bytes=258 decode.unsupported_linktype=0 … decode.bad_icmp_checksum=0 defrag.fragments=0 defrag.rebuilt=0 … defrag.discards=0 stream.flows=0 … http.sessions_dropped=0
//! ```
//!
//! `event` is `periodic`, `signal` (SIGUSR1) or `exit`; `ring_file` is `-` when no
//! ring file is open; `alerts_dropped` counts alerts that never reached every alert file
//! (disk full for too long, or unwritten at exit); the `decode.*` keys are [`DecodeError::name`]s in
//! [`DecodeError::ALL`] order; `kernel_drops`/`if_drops`/`received` come from `pcap_stats`.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::decode::DecodeError;
use crate::output::open_append;

use super::worker::Snapshot;

/// Why a stats line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsEvent {
    Periodic,
    Signal,
    Exit,
}

impl StatsEvent {
    fn name(self) -> &'static str {
        match self {
            StatsEvent::Periodic => "periodic",
            StatsEvent::Signal => "signal",
            StatsEvent::Exit => "exit",
        }
    }
}

/// Formats one stats line (without the trailing newline).
pub fn format_line(event: StatsEvent, uptime: Duration, snap: &Snapshot, rules: usize) -> String {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let p = &snap.pipeline;
    let mut s = String::with_capacity(512);
    let ring = if snap.ring_file.is_empty() {
        "-"
    } else {
        snap.ring_file.as_str()
    };
    let _ = write!(
        s,
        "{now} event={} uptime_s={} packets={} bytes={} kernel_drops={} if_drops={} received={} \
         alerts={} rules={rules} ring_file={ring} flows_evicted={} ring_write_errors={} \
         output_write_errors={} alerts_dropped={} evidence_events={} evidence_open={} \
         evidence_refused={} evidence_lost={} evidence_deleted={} evidence_bytes={}",
        event.name(),
        uptime.as_secs(),
        p.packets,
        p.bytes,
        snap.source.kernel_dropped,
        snap.source.if_dropped,
        snap.source.received,
        p.alerts,
        p.flows_evicted,
        p.ring_write_errors,
        p.output_write_errors,
        p.alerts_dropped,
        p.evidence.events,
        p.evidence.open,
        p.evidence.refused,
        p.evidence.lost,
        p.evidence.deleted,
        p.evidence.store_bytes,
    );
    for (kind, n) in DecodeError::ALL.iter().zip(p.decode_errors.iter()) {
        let _ = write!(s, " decode.{}={n}", kind.name());
    }
    let d = &p.defrag;
    let anomalies =
        d.teardrop + d.too_large + d.oversize + d.short_frag + d.zero_size + d.too_many_frags;
    let _ = write!(
        s,
        " defrag.fragments={} defrag.rebuilt={} defrag.timeouts={} defrag.evicted={} \
         defrag.overlaps={} defrag.anomalies={} defrag.discards={}",
        d.fragments, d.rebuilt, d.timeouts, d.evicted, d.overlaps, anomalies, d.discards
    );
    let m = &p.messages;
    let _ = write!(
        s,
        " stream.flows={} stream.segments={} stream.queued_bytes={} stream.overlaps={} \
         stream.out_of_order={} stream.gaps={} stream.evictions={} http.sessions={} \
         http.memory={} http.requests={} http.responses={} http.messages={} \
         http.truncated={} http.errors={} http.sessions_dropped={}",
        m.stream.flows,
        m.stream.segments,
        m.stream.bytes_queued,
        m.stream.overlaps,
        m.stream.out_of_order,
        m.stream.gaps_skipped,
        m.stream.evictions,
        m.sessions,
        m.http_memory,
        m.http.requests,
        m.http.responses,
        m.messages,
        m.http.truncated,
        m.http.parse_errors + m.http.chunk_errors + m.http.gzip_errors + m.http.not_http,
        m.sessions_dropped,
    );
    s
}

/// The short form for systemd's `STATUS=`: the counters, then what is wrong right now (the
/// interface is down, alerts were lost).
pub fn status_line(snap: &Snapshot) -> String {
    let mut s = format!(
        "packets={} alerts={} kernel_drops={} if_drops={}",
        snap.pipeline.packets,
        snap.pipeline.alerts,
        snap.source.kernel_dropped,
        snap.source.if_dropped
    );
    if snap.pipeline.alerts_dropped > 0 {
        let _ = write!(s, " alerts_dropped={}", snap.pipeline.alerts_dropped);
    }
    if let Some(iface) = &snap.interface_down {
        let _ = write!(s, "; interface down: {iface}");
    }
    s
}

/// Name of the stats file in LOGDIR.
pub const STATS_FILE: &str = "stats.log";

/// `LOGDIR/stats.log`, opened for appending (created 0640) without following a link, and
/// only when it is the sensor's own file (see [`open_append`]).
pub struct StatsLog {
    path: PathBuf,
    file: Option<File>,
}

impl StatsLog {
    /// # Errors
    /// The file cannot be created or opened.
    pub fn open(dir: &Path) -> io::Result<StatsLog> {
        let path = dir.join(STATS_FILE);
        let file = Some(open_append(&path)?);
        Ok(StatsLog { path, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line; a write error is returned and the file kept for the next try.
    ///
    /// # Errors
    /// A write failure, or the file could not be reopened last time.
    pub fn append(&mut self, line: &str) -> io::Result<()> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("stats.log is not open"))?;
        let mut buf = String::with_capacity(line.len() + 1);
        buf.push_str(line);
        buf.push('\n');
        // One write call per line so concurrent readers never see half a line.
        f.write_all(buf.as_bytes())
    }

    /// Whether the open file was deleted (LOGDIR removed while running), or none is open.
    pub fn is_removed(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        self.file
            .as_ref()
            .is_none_or(|f| f.metadata().is_ok_and(|m| m.nlink() == 0))
    }

    /// Closes and reopens the file (after logrotate moved it).
    ///
    /// # Errors
    /// The file cannot be reopened; appends fail until a later reopen succeeds.
    pub fn reopen(&mut self) -> io::Result<()> {
        self.file = None;
        self.file = Some(open_append(&self.path)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_every_key_once_in_order() {
        let mut snap = Snapshot::default();
        snap.pipeline.packets = 12;
        snap.pipeline.alerts = 2;
        snap.pipeline.decode_errors[DecodeError::ALL.len() - 1] = 5;
        snap.source.kernel_dropped = 1;
        let line = format_line(StatsEvent::Periodic, Duration::from_secs(61), &snap, 7);
        let keys: Vec<&str> = line
            .split(' ')
            .skip(1)
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        assert_eq!(
            &keys[..14],
            [
                "event",
                "uptime_s",
                "packets",
                "bytes",
                "kernel_drops",
                "if_drops",
                "received",
                "alerts",
                "rules",
                "ring_file",
                "flows_evicted",
                "ring_write_errors",
                "output_write_errors",
                "alerts_dropped"
            ]
        );
        assert_eq!(
            &keys[14..20],
            [
                "evidence_events",
                "evidence_open",
                "evidence_refused",
                "evidence_lost",
                "evidence_deleted",
                "evidence_bytes"
            ]
        );
        assert_eq!(keys.len(), 20 + DecodeError::ALL.len() + 7 + 15);
        assert_eq!(keys.last(), Some(&"http.sessions_dropped"));
        assert!(
            line.contains(" event=periodic uptime_s=61 packets=12 "),
            "{line}"
        );
        assert!(line.contains(" kernel_drops=1 "), "{line}");
        assert!(line.contains(" rules=7 ring_file=- "), "{line}");
        assert!(
            line.contains(" decode.bad_icmp_checksum=5 defrag.fragments=0 "),
            "{line}"
        );
    }

    #[test]
    fn status_shows_a_down_interface_and_lost_alerts() {
        let mut snap = Snapshot::default();
        snap.pipeline.packets = 5;
        assert_eq!(
            status_line(&snap),
            "packets=5 alerts=0 kernel_drops=0 if_drops=0"
        );
        snap.pipeline.alerts_dropped = 3;
        snap.interface_down = Some("eth0 (administratively down)".into());
        assert_eq!(
            status_line(&snap),
            "packets=5 alerts=0 kernel_drops=0 if_drops=0 alerts_dropped=3; interface down: eth0 (administratively down)"
        );
    }

    #[test]
    fn stats_log_appends_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = StatsLog::open(dir.path()).unwrap();
        log.append("one").unwrap();
        std::fs::rename(log.path(), dir.path().join("stats.log.1")).unwrap();
        log.reopen().unwrap();
        log.append("two").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("stats.log.1")).unwrap(),
            "one\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("stats.log")).unwrap(),
            "two\n"
        );
    }
}
