//! The Sensor page's numbers over time, read from `stats.log` (the daemon's `key=value`
//! lines, see `daemon::stats`): tailed by offset like eve.json, the last [`MAX_SAMPLES`]
//! lines kept, and rates (packets/s, drops, alerts/min) derived between consecutive lines of
//! one run (a counter that goes down means the sensor restarted: no rate across it).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Lines of stats.log kept (a day of minutes and more).
pub const MAX_SAMPLES: usize = 10_000;
/// Longest stats line read; a longer one is skipped (counted in
/// [`StatsTail::skipped_lines`]).
const MAX_LINE: usize = 64 * 1024;

/// One stats.log line: its time and the counters the console charts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sample {
    /// Seconds since the epoch.
    pub t: i64,
    pub event: String,
    pub uptime_s: u64,
    pub packets: u64,
    pub bytes: u64,
    pub drops: u64,
    pub alerts: u64,
    pub rules: u64,
    pub ring_file: String,
}

/// A rate between two samples of one run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rate {
    pub t: i64,
    pub packets_per_s: f64,
    pub drops: u64,
    pub alerts_per_min: f64,
}

/// Parses one stats line; `None` when it is not one.
pub fn parse_line(line: &str) -> Option<Sample> {
    let mut words = line.split_ascii_whitespace();
    let t = chrono::DateTime::parse_from_rfc3339(words.next()?)
        .ok()?
        .timestamp();
    let mut s = Sample {
        t,
        event: String::new(),
        uptime_s: 0,
        packets: 0,
        bytes: 0,
        drops: 0,
        alerts: 0,
        rules: 0,
        ring_file: String::new(),
    };
    let mut seen = false;
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            continue;
        };
        let n = || v.parse::<u64>().unwrap_or(0);
        match k {
            "event" => s.event = v.chars().take(16).collect(),
            "uptime_s" => s.uptime_s = n(),
            "packets" => {
                s.packets = n();
                seen = true;
            }
            "bytes" => s.bytes = n(),
            "kernel_drops" | "if_drops" => s.drops = s.drops.saturating_add(n()),
            "alerts" => s.alerts = n(),
            "rules" => s.rules = n(),
            "ring_file" => s.ring_file = v.chars().take(128).collect(),
            _ => {}
        }
    }
    seen.then_some(s)
}

/// Rates between consecutive samples of one run.
pub fn rates(samples: &VecDeque<Sample>) -> Vec<Rate> {
    let mut out = Vec::with_capacity(samples.len());
    for (a, b) in samples.iter().zip(samples.iter().skip(1)) {
        let dt = b.t - a.t;
        let same_run = b.packets >= a.packets && b.alerts >= a.alerts && b.uptime_s >= a.uptime_s;
        if dt <= 0 || !same_run {
            continue;
        }
        let dt = dt as f64;
        out.push(Rate {
            t: b.t,
            packets_per_s: (b.packets - a.packets) as f64 / dt,
            drops: b.drops.saturating_sub(a.drops),
            alerts_per_min: (b.alerts - a.alerts) as f64 * 60.0 / dt,
        });
    }
    out
}

/// The tail of `LOGDIR/stats.log`.
#[derive(Debug)]
pub struct StatsTail {
    path: PathBuf,
    id: Option<(u64, u64)>,
    offset: u64,
    pub samples: VecDeque<Sample>,
    /// Lines skipped for being longer than [`MAX_LINE`].
    pub skipped_lines: u64,
}

impl StatsTail {
    pub fn new(log_dir: &Path) -> StatsTail {
        StatsTail {
            path: log_dir.join("stats.log"),
            id: None,
            offset: 0,
            samples: VecDeque::new(),
            skipped_lines: 0,
        }
    }

    /// Whether stats.log exists (the daemon writes it; a replay does not).
    pub fn exists(&self) -> bool {
        self.path.is_file()
    }

    /// Reads the lines appended since the last call (a rotated file: the new one's).
    ///
    /// # Errors
    /// The file exists but cannot be opened or read; the message names it.
    pub fn refresh(&mut self) -> io::Result<()> {
        let f = match crate::safefs::open_read(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        self.read_from(f)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
    }

    fn read_from(&mut self, mut f: File) -> io::Result<()> {
        let m = f.metadata()?;
        let id = (m.dev(), m.ino());
        if self.id != Some(id) || m.len() < self.offset {
            self.id = Some(id);
            self.offset = 0;
        }
        if m.len() <= self.offset {
            return Ok(());
        }
        f.seek(SeekFrom::Start(self.offset))?;
        // Only the last MAX_SAMPLES lines matter: start near the end of a big file.
        let keep = (MAX_SAMPLES * 1024) as u64;
        if m.len() - self.offset > keep {
            self.offset = m.len() - keep;
            f.seek(SeekFrom::Start(self.offset))?;
        }
        let mut buf = Vec::new();
        f.take(m.len() - self.offset).read_to_end(&mut buf)?;
        let mut pos = 0;
        while let Some(nl) = buf
            .get(pos..)
            .and_then(|b| b.iter().position(|&c| c == b'\n'))
        {
            let line = &buf[pos..pos + nl];
            if line.len() > MAX_LINE {
                self.skipped_lines += 1;
            } else if let Some(s) = parse_line(&String::from_utf8_lossy(line)) {
                if self.samples.len() >= MAX_SAMPLES {
                    self.samples.pop_front();
                }
                self.samples.push_back(s);
            }
            pos += nl + 1;
        }
        self.offset += pos as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_rates() {
        let a = parse_line("2024-05-01T10:00:00Z event=periodic uptime_s=60 packets=1200 bytes=98000 kernel_drops=1 if_drops=2 received=1200 alerts=3 rules=1021 ring_file=nsm_00003_20240501095900.pcap").unwrap();
        assert_eq!(
            (a.t, a.packets, a.drops, a.alerts, a.rules),
            (1_714_557_600, 1200, 3, 3, 1021)
        );
        let b = parse_line("2024-05-01T10:01:00Z event=periodic uptime_s=120 packets=7200 bytes=1 kernel_drops=4 if_drops=2 alerts=9 rules=1021 ring_file=-").unwrap();
        // A restart: counters back to small numbers, no rate across it.
        let c = parse_line("2024-05-01T10:02:00Z event=periodic uptime_s=60 packets=10 alerts=0")
            .unwrap();
        let r = rates(&VecDeque::from(vec![a, b, c]));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].packets_per_s, 100.0);
        assert_eq!(r[0].drops, 3);
        assert_eq!(r[0].alerts_per_min, 6.0);
        assert!(parse_line("garbage").is_none());
        assert!(parse_line("2024-05-01T10:00:00Z nothing=1").is_none());
    }

    /// Over-long lines were dropped without a trace: they are counted.
    #[test]
    fn over_long_lines_are_counted() {
        let d = tempfile::tempdir().unwrap();
        let ok = "2024-05-01T10:00:00Z event=periodic uptime_s=60 packets=1 alerts=0";
        let long = format!("{ok} ring_file={}", "x".repeat(MAX_LINE));
        std::fs::write(d.path().join("stats.log"), format!("{long}\n{ok}\n")).unwrap();
        let mut t = StatsTail::new(d.path());
        t.refresh().unwrap();
        assert_eq!((t.samples.len(), t.skipped_lines), (1, 1));
    }
}
