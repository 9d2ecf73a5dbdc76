//! Alert writers: Snort `alert` (alert_full), `alert.fast` (alert_fast) and Suricata EVE JSON.
//! Formatting ([`snort`], [`eve`]) and the buffered files ([`Outputs`]); what alerts is decided
//! by `detect`.

pub mod eve;
pub mod snort;

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::config::Timestamps;
use crate::decode::Packet;
use crate::rules::Rule;

/// Which files to write, where, and how to print times.
#[derive(Debug, Clone)]
pub struct OutputOptions {
    pub dir: PathBuf,
    pub alert_full: bool,
    pub alert_fast: bool,
    pub eve: bool,
    pub timestamps: Timestamps,
}

/// One alert to write.
#[derive(Debug, Clone, Copy)]
pub struct AlertEvent<'a> {
    pub rule: &'a Rule,
    pub pkt: &'a Packet<'a>,
    /// pcap link type of `pkt.frame`.
    pub linktype: i32,
    /// File name (not path) of the ring file holding the packet, if the ring is on.
    pub capture_file: Option<&'a str>,
    /// Stable id of the packet's flow (EVE `flow_id`), 0 when unknown.
    pub flow_id: u64,
}

/// File names in LOGDIR, as Snort and Suricata name them.
pub const ALERT_FULL_FILE: &str = "alert";
pub const ALERT_FAST_FILE: &str = "alert.fast";
pub const EVE_FILE: &str = "eve.json";

/// Buffer size of each writer: a few dozen alerts between flushes.
const BUF_SIZE: usize = 64 * 1024;

/// One open, buffered, append-only file.
struct Sink {
    path: PathBuf,
    w: BufWriter<File>,
}

impl Sink {
    fn open(path: PathBuf) -> io::Result<Sink> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(&path)?;
        Ok(Sink {
            path,
            w: BufWriter::with_capacity(BUF_SIZE, file),
        })
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.w.flush()?;
        let fresh = Sink::open(self.path.clone())?;
        *self = fresh;
        Ok(())
    }
}

/// Which format a sink holds.
#[derive(Clone, Copy)]
enum Format {
    Full,
    Fast,
    Eve,
}

/// The open alert files. Buffered; flushed by [`Outputs::flush`], on a timer by the caller.
///
/// Formatting reuses one scratch buffer, so an alert costs no allocation beyond what EVE's
/// serializer does.
pub struct Outputs {
    dir: PathBuf,
    timestamps: Timestamps,
    sinks: Vec<(Format, Sink)>,
    scratch: Vec<u8>,
}

impl Outputs {
    /// Creates LOGDIR (0750) and opens the enabled files for appending (0640).
    ///
    /// # Errors
    /// The directory or a file cannot be created or opened.
    pub fn open(opts: &OutputOptions) -> io::Result<Outputs> {
        if !opts.dir.is_dir() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(&opts.dir)
                .map_err(|e| with_path(e, &opts.dir))?;
        }
        let mut sinks = Vec::new();
        for (on, format, name) in [
            (opts.alert_full, Format::Full, ALERT_FULL_FILE),
            (opts.alert_fast, Format::Fast, ALERT_FAST_FILE),
            (opts.eve, Format::Eve, EVE_FILE),
        ] {
            if on {
                let path = opts.dir.join(name);
                sinks.push((
                    format,
                    Sink::open(path.clone()).map_err(|e| with_path(e, &path))?,
                ));
            }
        }
        Ok(Outputs {
            dir: opts.dir.clone(),
            timestamps: opts.timestamps,
            sinks,
            scratch: Vec::with_capacity(4096),
        })
    }

    /// LOGDIR.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Formats and buffers one alert in every enabled format.
    ///
    /// # Errors
    /// A write failure of a file (the others are still written).
    pub fn alert(&mut self, ev: &AlertEvent<'_>) -> io::Result<()> {
        let mut result = Ok(());
        for (format, sink) in &mut self.sinks {
            self.scratch.clear();
            match format {
                Format::Full => snort::format_full(ev, self.timestamps, &mut self.scratch),
                Format::Fast => snort::format_fast(ev, self.timestamps, &mut self.scratch),
                Format::Eve => eve::format_alert(ev, self.timestamps, &mut self.scratch),
            }
            if let Err(e) = sink.w.write_all(&self.scratch) {
                if result.is_ok() {
                    result = Err(with_path(e, &sink.path));
                }
            }
        }
        result
    }

    /// # Errors
    /// A flush failure (every file is still tried).
    pub fn flush(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for (_, sink) in &mut self.sinks {
            if let Err(e) = sink.w.flush() {
                if result.is_ok() {
                    result = Err(with_path(e, &sink.path));
                }
            }
        }
        result
    }

    /// Flushes, closes and reopens every file (after logrotate moved them).
    ///
    /// # Errors
    /// A file cannot be reopened (every file is still tried).
    pub fn reopen(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for (_, sink) in &mut self.sinks {
            if let Err(e) = sink.reopen() {
                if result.is_ok() {
                    result = Err(with_path(e, &sink.path));
                }
            }
        }
        result
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Names the file in an I/O error.
fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
