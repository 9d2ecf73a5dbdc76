//! Alert writers: Snort `alert` (alert_full), `alert.fast` (alert_fast) and Suricata EVE JSON.
//! Formatting ([`snort`], [`eve`]) and the buffered files ([`Outputs`]); what alerts is decided
//! by `detect`.

pub mod eve;
pub mod snort;

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::config::Timestamps;
use crate::decode::Packet;
use crate::rules::Rule;
use crate::safefs;

/// Which files to write, where, and how to print times.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Where the packet came from (EVE `pkt_src`).
    pub pkt_src: PktSrc,
}

/// Where an inspected packet came from: captured, or rebuilt by the sensor. EVE's `pkt_src`
/// with Suricata's words for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PktSrc {
    /// As captured: `wire/pcap`.
    #[default]
    Wire,
    /// A datagram rebuilt from IPv4 fragments: `defrag`.
    Defrag,
    /// A request or response rebuilt from a TCP stream: `stream (detect/log)`.
    Stream,
}

impl PktSrc {
    pub fn as_str(self) -> &'static str {
        match self {
            PktSrc::Wire => "wire/pcap",
            PktSrc::Defrag => "defrag",
            PktSrc::Stream => "stream (detect/log)",
        }
    }
}

/// File names in LOGDIR, as Snort and Suricata name them.
pub const ALERT_FULL_FILE: &str = "alert";
pub const ALERT_FAST_FILE: &str = "alert.fast";
pub const EVE_FILE: &str = "eve.json";

/// Buffer size of each writer: a few dozen alerts between writes.
const BUF_SIZE: usize = 64 * 1024;
/// Records kept in memory while their file cannot be written (disk full): beyond this, new
/// alerts for that file are dropped (and counted) until a write succeeds again.
const MAX_PENDING: usize = 4 * 1024 * 1024;

/// One open, append-only file with its own buffer of *whole* records.
///
/// Records reach the disk whole or not at all: the buffer only ever holds complete records
/// and goes out with one `write_all`; when that fails part-way (`ENOSPC` after a short
/// write) the file is cut back to its length before the write, so no reader ever sees a torn
/// line or a half JSON object, and the records stay buffered for the next attempt.
struct Sink {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    /// Buffer length at which the next write is attempted (grows after a failure so a full
    /// disk costs one attempt per `BUF_SIZE` of new alerts, not one per alert).
    write_at: usize,
    /// Whole records in `buf`, not yet on disk.
    pending: u64,
    /// Records that reached the file.
    written: u64,
    /// Records lost: dropped because the pending buffer was full, or still pending when the
    /// file was closed.
    dropped: u64,
}

impl Sink {
    /// Opens `dir/name` for appending after cutting a torn last record (a crash mid-write, or
    /// a disk that filled under another writer): readers then only ever see whole records,
    /// and the first new record does not glue onto a fragment. `end` is what every record
    /// ends with. The file is opened without following a link and must be the sensor's own
    /// (see [`safefs::Dir::open_append`]), so the cut only ever shortens its own file.
    fn open(dir: &safefs::Dir, name: &str, end: &[u8]) -> io::Result<Sink> {
        let path = dir.join(name);
        let file = dir.open_append(name)?;
        if let Some(cut) = torn_tail(&file, end)? {
            file.set_len(cut.keep)?;
            tracing::warn!(
                "{}: cut a torn last record ({} bytes) left by an interrupted write",
                path.display(),
                cut.dropped
            );
        }
        Ok(Sink {
            file,
            path,
            buf: Vec::with_capacity(BUF_SIZE),
            write_at: BUF_SIZE,
            pending: 0,
            written: 0,
            dropped: 0,
        })
    }

    /// Buffers one whole record; writes when the buffer is full enough.
    fn push(&mut self, record: &[u8]) -> io::Result<()> {
        if self.buf.len() + record.len() > MAX_PENDING {
            self.dropped += 1;
            // Make room if the disk has some again; the record is lost either way.
            self.write_out()?;
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!(
                    "{} alert(s) dropped while the file could not be written",
                    self.dropped
                ),
            ));
        }
        self.buf.extend_from_slice(record);
        self.pending += 1;
        if self.buf.len() >= self.write_at {
            self.write_out()?;
        }
        Ok(())
    }

    /// Writes the buffered records; on failure cuts the file back and keeps them.
    fn write_out(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        // The length now, not a remembered one: logrotate's copytruncate may have cut it.
        let before = self.file.metadata()?.len();
        match self.file.write_all(&self.buf) {
            Ok(()) => {
                self.buf.clear();
                self.written += std::mem::take(&mut self.pending);
                self.write_at = BUF_SIZE;
                Ok(())
            }
            Err(e) => {
                if self.file.metadata().is_ok_and(|m| m.len() > before) {
                    let _ = self.file.set_len(before);
                }
                self.write_at = self.buf.len() + BUF_SIZE;
                Err(e)
            }
        }
    }

    fn is_failing(&self) -> bool {
        self.write_at > BUF_SIZE
    }

    /// Last attempt to write; what is still pending then is lost and counted as dropped.
    fn close(&mut self) -> io::Result<()> {
        let result = self.write_out();
        self.dropped += std::mem::take(&mut self.pending);
        self.buf.clear();
        result
    }

    /// Whether the open file was deleted (its directory removed): writes go nowhere.
    fn is_removed(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        self.file.metadata().is_ok_and(|m| m.nlink() == 0)
    }

    /// Reopens the path (logrotate moved the file); records not yet written go to the new
    /// file. Records still buffered are written to the old file first (logrotate's copy
    /// keeps them) unless it was deleted.
    fn reopen(&mut self) -> io::Result<()> {
        if !self.is_removed() {
            let _ = self.write_out();
        }
        self.file = open_append(&self.path)?;
        self.write_at = BUF_SIZE;
        Ok(())
    }
}

/// Where a file with a torn last record must be cut.
struct Cut {
    keep: u64,
    dropped: u64,
}

/// How far back a record end is searched for; a longer torn tail is dropped whole.
const TAIL_WINDOW: u64 = 1024 * 1024;

/// Finds a torn last record: the file does not end with `end`. The cut keeps everything up
/// to the last `end` within [`TAIL_WINDOW`] of the end of the file (nothing if none).
fn torn_tail(f: &File, end: &[u8]) -> io::Result<Option<Cut>> {
    use std::os::unix::fs::FileExt;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    let start = len.saturating_sub(TAIL_WINDOW);
    let mut tail = vec![0u8; (len - start) as usize];
    f.read_exact_at(&mut tail, start)?;
    if tail.ends_with(end) {
        return Ok(None);
    }
    let keep = tail
        .windows(end.len())
        .rposition(|w| w == end)
        .map_or(start, |i| start + (i + end.len()) as u64);
    Ok(Some(Cut {
        keep,
        dropped: len - keep,
    }))
}

/// Opens `path` for appending without following a link; a new (or empty) file is made 0640
/// whatever the umask; an existing one must be the sensor's own (regular, one link, its
/// owner). Shared by every log the sensor writes (the alert files here, `stats.log` in the
/// daemon).
///
/// # Errors
/// See [`safefs::Dir::open_append`]; the message names the path.
pub(crate) fn open_append(path: &Path) -> io::Result<File> {
    let (dir, name) = safefs::split(path)?;
    safefs::Dir::open(&dir)?.open_append(&name)
}

/// What became of the alert records of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCount {
    /// File name in LOGDIR (`alert.fast`).
    pub name: &'static str,
    /// Records on disk.
    pub written: u64,
    /// Records kept in memory, waiting for a write to succeed.
    pub pending: u64,
    /// Records lost (no room to keep them, or still pending at close).
    pub dropped: u64,
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
    sinks: Vec<(Format, &'static str, Sink)>,
    scratch: Vec<u8>,
}

impl Outputs {
    /// Creates LOGDIR (0750, whatever the umask) and opens the enabled files for appending
    /// (new files 0640), never through a link and only files that are the sensor's own.
    ///
    /// # Errors
    /// The directory or a file cannot be created or opened.
    pub fn open(opts: &OutputOptions) -> io::Result<Outputs> {
        let (dir, _created) = safefs::Dir::create_all(&opts.dir)?;
        let mut sinks = Vec::new();
        for (on, format, name) in [
            (opts.alert_full, Format::Full, ALERT_FULL_FILE),
            (opts.alert_fast, Format::Fast, ALERT_FAST_FILE),
            (opts.eve, Format::Eve, EVE_FILE),
        ] {
            if on {
                // alert_full records end with a blank line; the others are one line each.
                let end: &[u8] = match format {
                    Format::Full => b"\n\n",
                    Format::Fast | Format::Eve => b"\n",
                };
                // safefs's errors name the path already.
                sinks.push((format, name, Sink::open(&dir, name, end)?));
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
    /// A write failure of a file (the others are still written). The alert stays buffered
    /// for the next attempt unless that file's pending buffer is full (then it is dropped).
    pub fn alert(&mut self, ev: &AlertEvent<'_>) -> io::Result<()> {
        let mut result = Ok(());
        for (format, _, sink) in &mut self.sinks {
            self.scratch.clear();
            match format {
                Format::Full => snort::format_full(ev, self.timestamps, &mut self.scratch),
                Format::Fast => snort::format_fast(ev, self.timestamps, &mut self.scratch),
                Format::Eve => eve::format_alert(ev, self.timestamps, &mut self.scratch),
            }
            if let Err(e) = sink.push(&self.scratch) {
                if result.is_ok() {
                    result = Err(with_path(e, &sink.path));
                }
            }
        }
        result
    }

    /// Whether LOGDIR or one of the open files was removed while running (alerts would go
    /// to deleted files): the caller recreates the directory and calls [`Outputs::reopen`].
    pub fn is_removed(&self) -> bool {
        !self.dir.is_dir() || self.sinks.iter().any(|(_, _, s)| s.is_removed())
    }

    /// Whether some file has records it could not write yet (a failure episode).
    pub fn is_failing(&self) -> bool {
        self.sinks.iter().any(|(_, _, s)| s.is_failing())
    }

    /// Writes every file's buffered records.
    ///
    /// # Errors
    /// A write failure (every file is still tried; the records stay buffered).
    pub fn flush(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for (_, _, sink) in &mut self.sinks {
            if let Err(e) = sink.write_out() {
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
        for (_, _, sink) in &mut self.sinks {
            if let Err(e) = sink.reopen() {
                if result.is_ok() {
                    result = Err(with_path(e, &sink.path));
                }
            }
        }
        result
    }
}

impl Outputs {
    /// Per file: records written, pending and dropped so far.
    pub fn counts(&self) -> Vec<FileCount> {
        self.sinks
            .iter()
            .map(|(_, name, s)| FileCount {
                name,
                written: s.written,
                pending: s.pending,
                dropped: s.dropped,
            })
            .collect()
    }

    /// Alerts lost from at least one file: the most any file dropped (every file gets the
    /// same alerts, so an alert counts as written only when the worst file has it too).
    pub fn dropped(&self) -> u64 {
        self.sinks
            .iter()
            .map(|(_, _, s)| s.dropped)
            .max()
            .unwrap_or(0)
    }

    /// Alerts on disk in every file: the fewest any file holds.
    pub fn written(&self) -> u64 {
        self.sinks
            .iter()
            .map(|(_, _, s)| s.written)
            .min()
            .unwrap_or(0)
    }

    /// Writes what is buffered one last time; records that still cannot be written are
    /// counted as dropped (see [`Outputs::counts`]). Later alerts are buffered afresh.
    ///
    /// # Errors
    /// A write failure (every file is still tried).
    pub fn close(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for (_, _, sink) in &mut self.sinks {
            if let Err(e) = sink.close() {
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
        let _ = self.close();
    }
}

/// Names the file in an I/O error.
fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
