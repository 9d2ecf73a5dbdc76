//! One packet through decode → detect → outputs → ring; shared by `run` and `replay`.

use std::io;

use crate::capture::RawPacket;
use crate::decode::{DecodeError, DecodeOptions};
use crate::output::OutputOptions;
use crate::ring::RingOptions;
use crate::rules::RuleSet;

/// Everything the pipeline needs besides the rules.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    pub decode: DecodeOptions,
    /// `None`: no alert files (detection still runs and counts).
    pub outputs: Option<OutputOptions>,
    /// `None`: `--no-ring`.
    pub ring: Option<RingOptions>,
    pub detect: crate::detect::DetectOptions,
}

/// Counters of one pipeline. Plain integers: read by the owner thread, copied out for stats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub alerts: u64,
    /// Indexed like [`DecodeError::ALL`].
    pub decode_errors: [u64; DecodeError::ALL.len()],
    pub ring_write_errors: u64,
    pub output_write_errors: u64,
    pub flows_evicted: u64,
}

pub struct Pipeline {}

impl Pipeline {
    /// Opens the outputs and the ring.
    ///
    /// # Errors
    /// A log or ring directory/file cannot be opened.
    pub fn new(opts: &PipelineOptions, linktype: i32, snaplen: u32) -> io::Result<Pipeline> {
        let _ = (opts, linktype, snaplen);
        todo!()
    }

    /// Ring write, decode, detect, alert output for one frame. Never panics on frame bytes.
    pub fn process(&mut self, rules: &RuleSet, pkt: &RawPacket<'_>) {
        let _ = (rules, pkt);
        todo!()
    }

    pub fn stats(&self) -> &Stats {
        todo!()
    }

    /// Name of the current ring file.
    pub fn ring_file(&self) -> Option<&str> {
        todo!()
    }

    /// Flushes alert files and the ring.
    pub fn flush(&mut self) {
        todo!()
    }

    /// Reopens the alert files (logrotate).
    ///
    /// # Errors
    /// A file cannot be reopened.
    pub fn reopen_logs(&mut self) -> io::Result<()> {
        todo!()
    }
}
