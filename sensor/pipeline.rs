//! One packet through ring → decode → detect → outputs; shared by `run` and `replay`.
//!
//! The ring gets every frame first (full-content data must not depend on decoding); then
//! decode, detection and, only when something alerts, formatting. Nothing here allocates per
//! packet on the no-alert path.

use std::io;

use crate::capture::RawPacket;
use crate::decode::{self, DecodeError, DecodeOptions};
use crate::detect::engine::{Engine, Hit};
use crate::detect::DetectOptions;
use crate::output::{AlertEvent, OutputOptions, Outputs};
use crate::ring::{Ring, RingOptions};
use crate::rules::RuleSet;

/// Everything the pipeline needs besides the rules.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    pub decode: DecodeOptions,
    /// `None`: no alert files (detection still runs and counts).
    pub outputs: Option<OutputOptions>,
    /// `None`: `--no-ring`.
    pub ring: Option<RingOptions>,
    pub detect: DetectOptions,
}

/// Counters of one pipeline. Plain integers: read by the owner thread, copied out for stats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub alerts: u64,
    /// Indexed like [`DecodeError::ALL`]: frames that failed to decode, plus anomalies
    /// (truncated transport, bad checksums) of frames that did.
    pub decode_errors: [u64; DecodeError::ALL.len()],
    pub ring_write_errors: u64,
    pub output_write_errors: u64,
    pub flows_evicted: u64,
}

impl Stats {
    /// Sum of the decode error counters, `not_ip` excluded (ARP and friends are not errors).
    pub fn decode_error_total(&self) -> u64 {
        DecodeError::ALL
            .iter()
            .zip(self.decode_errors.iter())
            .filter(|(k, _)| **k != DecodeError::NotIp)
            .map(|(_, n)| n)
            .sum()
    }
}

/// The per-capture pipeline. Owned by one thread.
pub struct Pipeline {
    linktype: i32,
    decode_opts: DecodeOptions,
    engine: Engine,
    outputs: Option<Outputs>,
    ring: Option<Ring>,
    hits: Vec<Hit>,
    stats: Stats,
    ring_failing: bool,
    output_failing: bool,
}

impl Pipeline {
    /// Opens the outputs and the ring.
    ///
    /// # Errors
    /// A log or ring directory/file cannot be opened.
    pub fn new(opts: &PipelineOptions, linktype: i32, snaplen: u32) -> io::Result<Pipeline> {
        let outputs = opts.outputs.as_ref().map(Outputs::open).transpose()?;
        let ring = opts
            .ring
            .as_ref()
            .map(|r| Ring::open(r, linktype, snaplen))
            .transpose()?;
        Ok(Pipeline {
            linktype,
            decode_opts: opts.decode,
            engine: Engine::new(&opts.detect),
            outputs,
            ring,
            hits: Vec::with_capacity(16),
            stats: Stats::default(),
            ring_failing: false,
            output_failing: false,
        })
    }

    /// Ring write, decode, detect, alert output for one frame. Never panics on frame bytes;
    /// write failures are counted and logged once per episode.
    pub fn process(&mut self, rules: &RuleSet, raw: &RawPacket<'_>) {
        self.stats.packets += 1;
        self.stats.bytes += u64::from(raw.wire_len);
        if let Some(ring) = self.ring.as_mut() {
            match ring.write(raw.ts_sec, raw.ts_usec, raw.wire_len, raw.data) {
                Ok(()) => self.ring_failing = false,
                Err(e) => {
                    self.stats.ring_write_errors += 1;
                    if !self.ring_failing {
                        tracing::warn!("ring write failed: {e}; packets are not being recorded");
                        self.ring_failing = true;
                    }
                }
            }
        }
        let pkt = match decode::decode(
            self.linktype,
            raw.ts_sec,
            raw.ts_usec,
            raw.wire_len,
            raw.data,
            self.decode_opts,
        ) {
            Ok(p) => p,
            Err(kind) => {
                self.count_decode(kind);
                return;
            }
        };
        if let Some(kind) = pkt.anomaly {
            self.count_decode(kind);
        }
        self.engine.inspect(rules, &pkt, &mut self.hits);
        if self.hits.is_empty() {
            return;
        }
        self.stats.alerts += self.hits.len() as u64;
        let Some(outputs) = self.outputs.as_mut() else {
            return;
        };
        let capture_file = self.ring.as_ref().and_then(|r| r.current_name());
        for hit in &self.hits {
            let Some(rule) = rules.rules.get(hit.rule as usize) else {
                continue;
            };
            let ev = AlertEvent {
                rule,
                pkt: &pkt,
                linktype: self.linktype,
                capture_file,
                flow_id: hit.flow_id,
            };
            match outputs.alert(&ev) {
                Ok(()) => self.output_failing = false,
                Err(e) => {
                    self.stats.output_write_errors += 1;
                    if !self.output_failing {
                        tracing::warn!("alert write failed: {e}");
                        self.output_failing = true;
                    }
                }
            }
        }
    }

    fn count_decode(&mut self, kind: DecodeError) {
        if let Some(i) = DecodeError::ALL.iter().position(|k| *k == kind) {
            self.stats.decode_errors[i] += 1;
        }
    }

    /// Counters so far (flow evictions refreshed on each call).
    pub fn stats(&mut self) -> &Stats {
        self.stats.flows_evicted = self.engine.flows().stats().evicted;
        &self.stats
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Housekeeping while a live capture is idle: reclaims expired flows.
    pub fn idle(&mut self, now_sec: i64) {
        self.engine.expire_flows(now_sec, 1024);
    }

    /// Name of the current ring file.
    pub fn ring_file(&self) -> Option<&str> {
        self.ring.as_ref().and_then(|r| r.current_name())
    }

    /// Flushes alert files and the ring; failures are counted and logged once per episode.
    pub fn flush(&mut self) {
        if let Some(o) = self.outputs.as_mut() {
            if let Err(e) = o.flush() {
                self.stats.output_write_errors += 1;
                if !self.output_failing {
                    tracing::warn!("alert flush failed: {e}");
                    self.output_failing = true;
                }
            }
        }
        if let Some(r) = self.ring.as_mut() {
            if let Err(e) = r.flush() {
                self.stats.ring_write_errors += 1;
                if !self.ring_failing {
                    tracing::warn!("ring flush failed: {e}");
                    self.ring_failing = true;
                }
            }
        }
    }

    /// Reopens the alert files (logrotate).
    ///
    /// # Errors
    /// A file cannot be reopened.
    pub fn reopen_logs(&mut self) -> io::Result<()> {
        match self.outputs.as_mut() {
            Some(o) => o.reopen(),
            None => Ok(()),
        }
    }
}
