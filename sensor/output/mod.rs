//! Alert writers: Snort `alert` (alert_full), `alert.fast` (alert_fast) and Suricata EVE JSON.
//! Formatting only; what alerts is decided by `detect`.

use std::io;
use std::path::PathBuf;

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

/// The open alert files. Buffered; flushed by [`Outputs::flush`], on a timer by the caller.
pub struct Outputs {}

impl Outputs {
    /// Creates LOGDIR (0750) and opens the enabled files for appending (0640).
    ///
    /// # Errors
    /// The directory or a file cannot be created or opened.
    pub fn open(opts: &OutputOptions) -> io::Result<Outputs> {
        let _ = opts;
        todo!()
    }

    /// Formats and buffers one alert in every enabled format.
    ///
    /// # Errors
    /// A write failure of a file (the others are still written).
    pub fn alert(&mut self, ev: &AlertEvent<'_>) -> io::Result<()> {
        let _ = ev;
        todo!()
    }

    /// # Errors
    /// A flush failure.
    pub fn flush(&mut self) -> io::Result<()> {
        todo!()
    }

    /// Flushes, closes and reopens every file (after logrotate moved them).
    ///
    /// # Errors
    /// A file cannot be reopened.
    pub fn reopen(&mut self) -> io::Result<()> {
        todo!()
    }
}
