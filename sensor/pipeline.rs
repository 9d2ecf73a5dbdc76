//! One packet through ring → decode → detect → outputs; shared by `run` and `replay`.
//!
//! The ring gets every frame first (full-content data must not depend on decoding); then
//! decode, IPv4 defragmentation (fragments only), detection and, only when something alerts,
//! formatting. Nothing here allocates per packet on the no-alert path.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;

use crate::capture::RawPacket;
use crate::decode::{self, DecodeError, DecodeOptions};
use crate::detect::defrag::{self, Defrag, DefragStats};
use crate::detect::engine::{Engine, Hit};
use crate::detect::messages::MessageStats;
use crate::detect::DetectOptions;
use crate::detect::RuleSet;
use crate::evidence::{EvidenceOptions, EvidenceStats, Recorder};
use crate::output::{AlertEvent, FileCount, OutputOptions, Outputs, PktSrc};
use crate::ring::{self, Ring, RingOptions};

/// Everything the pipeline needs besides the rules.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    pub decode: DecodeOptions,
    /// `None`: no alert files (detection still runs and counts).
    pub outputs: Option<OutputOptions>,
    /// `None`: `--no-ring`.
    pub ring: Option<RingOptions>,
    pub detect: DetectOptions,
    /// `None`: no evidence store.
    pub evidence: Option<EvidenceOptions>,
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
    /// Failed write attempts of the alert files (each may be retried and succeed later).
    pub output_write_errors: u64,
    /// Alerts that did not reach every enabled alert file and never will (no room to keep
    /// them until a write succeeded, or still unwritten at close).
    pub alerts_dropped: u64,
    pub flows_evicted: u64,
    pub evidence: EvidenceStats,
    /// IPv4 reassembly (all zero when `[detect] defrag = false`).
    pub defrag: DefragStats,
    /// Stream reassembly and HTTP inspection (all zero while no loaded rule needs them).
    pub messages: MessageStats,
}

impl Stats {
    /// Packets with a bad IPv4/TCP/UDP/ICMP checksum (not inspected by the rules).
    pub fn bad_checksums(&self) -> u64 {
        DecodeError::ALL
            .iter()
            .zip(self.decode_errors.iter())
            .filter(|(k, _)| k.is_checksum())
            .map(|(_, n)| n)
            .sum()
    }

    /// A warning when most packets carry bad checksums: the usual sign of a sensor seeing its
    /// own host's traffic before the NIC fills the checksums in (offload), where
    /// `checksum_mode = "none"` is the fix. `None` when the share is unremarkable.
    pub fn checksum_warning(&self) -> Option<String> {
        let bad = self.bad_checksums();
        (self.packets >= 100 && bad * 2 > self.packets).then(|| {
            format!(
                "{bad} of {} packets had bad checksums and were not inspected; if the sensor \
                 sees its own host's traffic (checksum offload), set [detect] checksum_mode = \"none\"",
                self.packets
            )
        })
    }

    /// `kind=n` for every non-zero decode counter, e.g. `bad_tcp_checksum=3 truncated_ip=1`.
    pub fn decode_breakdown(&self) -> String {
        DecodeError::ALL
            .iter()
            .zip(self.decode_errors.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{}={n}", k.name()))
            .collect::<Vec<_>>()
            .join(" ")
    }

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
    /// What `outputs` was opened with (a reload compares against it).
    output_opts: Option<OutputOptions>,
    /// Alerts dropped by alert files replaced on a reload.
    dropped_before: u64,
    ring: Option<Ring>,
    /// Snaplen of the capture (evidence files carry it).
    snaplen: u32,
    evidence: Option<Recorder>,
    hits: Vec<Hit>,
    /// IPv4 fragment reassembly, when on.
    defrag: Option<Defrag>,
    /// The last rebuilt datagram (reused).
    rebuilt: Vec<u8>,
    stats: Stats,
    output_failing: bool,
    /// The alert files and the ring are on one file system: deleting a ring file frees room
    /// for alerts.
    shared_disk: bool,
    /// Options of the ring, for the rings of further link types ([`Pipeline::set_linktype`]).
    ring_opts: Option<RingOptions>,
    /// The link type the pipeline was opened for: its ring has the configured prefix.
    first_linktype: i32,
    /// Rings of the other link types met so far, kept open while frames of another flow.
    parked: Vec<(i32, Option<Ring>)>,
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
        let device = |p: &std::path::Path| fs::metadata(p).ok().map(|m| m.dev());
        let shared_disk = match (&outputs, &ring) {
            (Some(o), Some(r)) => device(o.dir()).is_some() && device(o.dir()) == device(r.dir()),
            _ => false,
        };
        let evidence = opts.evidence.as_ref().map(Recorder::open).transpose()?;
        Ok(Pipeline {
            snaplen,
            evidence,
            linktype,
            decode_opts: opts.decode,
            engine: Engine::new(&opts.detect),
            outputs,
            output_opts: opts.outputs.clone(),
            dropped_before: 0,
            ring,
            hits: Vec::with_capacity(16),
            defrag: opts.detect.defrag.map(Defrag::new),
            rebuilt: Vec::new(),
            stats: Stats::default(),
            output_failing: false,
            shared_disk,
            ring_opts: opts.ring.clone(),
            first_linktype: linktype,
            parked: Vec::new(),
        })
    }

    /// The link type frames are decoded as.
    pub fn linktype(&self) -> i32 {
        self.linktype
    }

    /// Switches to frames of `linktype` (a pcapng file whose interfaces differ, or the next
    /// replayed file). Decoding follows it; the ring writes them to files of their own, since
    /// a pcap file has one link type: the configured prefix for the first link type,
    /// `PREFIX_ltN` for every other (still `PREFIX_…_NNNNN_TIME.pcap`, so `carve` and
    /// `investigate` find them). Detection state (flows, thresholds) and the alert files
    /// carry on, so counters total over everything.
    ///
    /// # Errors
    /// The ring for the new link type cannot be opened.
    pub fn set_linktype(&mut self, linktype: i32, snaplen: u32) -> io::Result<()> {
        if linktype == self.linktype {
            return Ok(());
        }
        let ring = match self.parked.iter().position(|(lt, _)| *lt == linktype) {
            Some(i) => self.parked.swap_remove(i).1,
            None => match &self.ring_opts {
                Some(o) => {
                    let mut o = o.clone();
                    if linktype != self.first_linktype {
                        o.prefix = format!("{}_lt{linktype}", o.prefix);
                    }
                    Some(Ring::open(&o, linktype, snaplen)?)
                }
                None => None,
            },
        };
        let old = std::mem::replace(&mut self.ring, ring);
        self.parked.push((self.linktype, old));
        self.linktype = linktype;
        Ok(())
    }

    /// Ring write, decode, detect, alert output for one frame. Never panics on frame bytes;
    /// write failures are counted and logged once per episode.
    pub fn process(&mut self, rules: &RuleSet, raw: &RawPacket<'_>) {
        self.stats.packets += 1;
        self.stats.bytes += u64::from(raw.wire_len);
        // The index's first read for these addresses likely misses the caches (a million
        // listed addresses): start it now, so it overlaps the ring copy and the checksums.
        // Small sets have nothing to prefetch: no second pass over the link layer for them.
        if rules.prefetches() {
            if let Some((src, dst)) = decode::peek_v4_addrs(self.linktype, raw.data) {
                rules.prefetch_v4(src, dst);
            }
        }
        if let Some(ring) = self.ring.as_mut() {
            // The ring logs its own failures, once per episode.
            if ring
                .write(raw.ts_sec, raw.ts_usec, raw.wire_len, raw.data)
                .is_err()
            {
                self.stats.ring_write_errors += 1;
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
        // spp_frag3.c `Frag3Defrag`: a fragment with a bad checksum never reaches frag3
        // (`p->csum_flags & CSE_IP`); the engine skips it as any other.
        let to_defrag = self.defrag.is_some()
            && pkt.frag.is_fragment()
            && !pkt.anomaly.is_some_and(DecodeError::is_checksum);
        let mut completed = false;
        if to_defrag {
            // Frag3 runs before detection: the datagram this fragment completes is inspected
            // first. Its buffer leaves `self` while the rebuilt packet borrows it (no copy, no
            // allocation once it has grown).
            let mut buf = std::mem::take(&mut self.rebuilt);
            if self
                .defrag
                .as_mut()
                .is_some_and(|d| d.insert(&pkt, &mut buf))
            {
                completed = true;
                self.inspect_rebuilt(rules, &buf, raw.ts_sec, raw.ts_usec);
            }
            self.rebuilt = buf;
        }
        if to_defrag && defrag::held_from_detection(&pkt) {
            if completed {
                // `do_detect_content = do_detect = 0` after `Frag3Rebuild`: the rebuilt
                // datagram stood in for this fragment.
                self.hits.clear();
            } else {
                // `DisableDetect`: content rules wait for the rebuilt datagram, the others
                // still see the fragment.
                self.engine
                    .inspect_without_content(rules, &pkt, &mut self.hits);
            }
        } else {
            self.engine.inspect(rules, &pkt, &mut self.hits);
        }
        if let Some(ev) = self.evidence.as_mut().filter(|e| e.is_active()) {
            ev.observe(&pkt, !self.hits.is_empty());
        }
        self.emit(rules, &pkt, self.linktype, PktSrc::Wire);
        self.inspect_messages(rules);
    }

    /// The HTTP requests and responses the last inspected packet completed (stream reassembly
    /// and HTTP inspection, `detect::messages`): each decoded from its rebuilt frame (link type
    /// RAW), inspected as one packet with its HTTP buffers, and its alerts written with it.
    fn inspect_messages(&mut self, rules: &RuleSet) {
        for i in 0..self.engine.ready_messages() {
            let msg = self.engine.take_message(i);
            // The message's checksums are the ones `detect::messages` computed: not verified.
            let opts = DecodeOptions { checksums: false };
            if let Some(pkt) = self.decode_rebuilt(&msg.frame, msg.ts_sec, msg.ts_usec, opts) {
                self.engine
                    .inspect_message(rules, &pkt, &msg, &mut self.hits);
                self.emit(rules, &pkt, decode::linktype::RAW, PktSrc::Stream);
            }
            self.engine.put_message(i, msg);
        }
        // Each message is inspected once, whichever path asked for them first.
        self.engine.messages_done();
    }

    /// A datagram frag3 rebuilt: decoded as raw IP and inspected as one packet stamped with
    /// the time of the fragment that completed it (Snort `Frag3Rebuild` hands the rebuilt
    /// packet to `Preprocess` from within that fragment). Its alerts print the rebuilt packet
    /// (link type RAW); the evidence store keeps the captured fragments of the conversation.
    fn inspect_rebuilt(&mut self, rules: &RuleSet, buf: &[u8], ts_sec: i64, ts_usec: u32) {
        // A defragmented datagram's transport checksum is checked here, on the whole datagram.
        let Some(pkt) = self.decode_rebuilt(buf, ts_sec, ts_usec, self.decode_opts) else {
            return;
        };
        self.engine.inspect(rules, &pkt, &mut self.hits);
        self.emit(rules, &pkt, decode::linktype::RAW, PktSrc::Defrag);
        self.inspect_messages(rules);
    }

    /// Decodes a packet the sensor rebuilt (raw IP: a defragmented datagram, an HTTP message),
    /// counting what decoding finds wrong with it.
    fn decode_rebuilt<'b>(
        &mut self,
        buf: &'b [u8],
        ts_sec: i64,
        ts_usec: u32,
        opts: DecodeOptions,
    ) -> Option<decode::Packet<'b>> {
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        match decode::decode(decode::linktype::RAW, ts_sec, ts_usec, len, buf, opts) {
            Ok(p) => {
                if let Some(kind) = p.anomaly {
                    self.count_decode(kind);
                }
                Some(p)
            }
            Err(kind) => {
                self.count_decode(kind);
                None
            }
        }
    }

    /// Counts and writes the alerts in `self.hits` for `pkt` (of link type `linktype`).
    fn emit(&mut self, rules: &RuleSet, pkt: &decode::Packet<'_>, linktype: i32, pkt_src: PktSrc) {
        if self.hits.is_empty() {
            return;
        }
        self.stats.alerts += self.hits.len() as u64;
        if let Some(ev) = self.evidence.as_mut() {
            for hit in &self.hits {
                if let Some(rule) = rules.rule(hit.rule) {
                    let tag = rules.tag(rule.gid, rule.sid);
                    // The evidence file holds captured frames: it has the capture's link type.
                    ev.alert(
                        rule,
                        tag,
                        pkt,
                        self.linktype,
                        self.snaplen,
                        self.ring.as_mut(),
                    );
                }
            }
        }
        let Some(outputs) = self.outputs.as_mut() else {
            return;
        };
        let capture_file = self.ring.as_ref().and_then(|r| r.current_name());
        let mut result = Ok(());
        for hit in &self.hits {
            let Some(rule) = rules.rule(hit.rule) else {
                continue;
            };
            let ev = AlertEvent {
                pkt_src,
                rule,
                pkt,
                linktype,
                capture_file,
                flow_id: hit.flow_id,
            };
            if let Err(e) = outputs.alert(&ev) {
                self.stats.output_write_errors += 1;
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        self.output_result(result, "alert write failed");
    }

    /// After a failed alert write: when the disk is full and the ring shares it, alerts beat
    /// the oldest full-content data, so the oldest ring file goes and the write is retried.
    /// Failures are logged once per episode (until every alert file is written again).
    fn output_result(&mut self, mut result: io::Result<()>, what: &str) {
        let Some(outputs) = self.outputs.as_mut() else {
            return;
        };
        if let Err(e) = &result {
            if self.shared_disk && ring::is_disk_full(e) {
                if let Some(ring) = self.ring.as_mut() {
                    if ring.make_room() {
                        result = outputs.flush();
                    }
                }
            }
        }
        match result {
            Err(e) if !self.output_failing => {
                tracing::warn!(
                    "{what}: {e}; alerts are kept in memory (up to a limit) until writes succeed"
                );
                self.output_failing = true;
            }
            Err(_) => {}
            Ok(()) if self.output_failing && !outputs.is_failing() => {
                tracing::info!(
                    errors = self.stats.output_write_errors,
                    "alert writes succeed again; {} alert(s) dropped so far",
                    self.dropped_before + outputs.dropped()
                );
                self.output_failing = false;
            }
            Ok(()) => {}
        }
    }

    fn count_decode(&mut self, kind: DecodeError) {
        if let Some(i) = DecodeError::ALL.iter().position(|k| *k == kind) {
            self.stats.decode_errors[i] += 1;
        }
    }

    /// Counters so far (flow evictions and dropped alerts refreshed on each call).
    pub fn stats(&mut self) -> &Stats {
        self.stats.flows_evicted = self.engine.flows().stats().evicted;
        if let Some(d) = &self.defrag {
            self.stats.defrag = d.stats();
        }
        self.stats.messages = self.engine.message_stats().unwrap_or_default();
        self.stats.alerts_dropped =
            self.dropped_before + self.outputs.as_ref().map_or(0, Outputs::dropped);
        if let Some(ev) = &self.evidence {
            self.stats.evidence = ev.stats();
        }
        &self.stats
    }

    /// Per alert file: records written, pending, dropped. Empty when no alert file is on.
    pub fn output_counts(&self) -> Vec<FileCount> {
        self.outputs.as_ref().map_or_else(Vec::new, Outputs::counts)
    }

    /// Flushes the ring and makes a last attempt at the alert files: what still cannot be
    /// written is counted as dropped (see [`Stats::alerts_dropped`]). For the end of a run.
    pub fn close(&mut self) {
        // The evidence store first: its open events are closed whole with their sidecars,
        // written once (a flush tick before would announce each only to close it at once).
        if let Some(ev) = self.evidence.as_mut() {
            ev.close();
        }
        self.flush();
        if let Some(o) = self.outputs.as_mut() {
            if let Err(e) = o.close() {
                self.stats.output_write_errors += 1;
                tracing::warn!("last alert write failed: {e}");
            }
        }
        self.stats();
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Housekeeping while a live capture is idle: reclaims expired flows.
    pub fn idle(&mut self, now_sec: i64) {
        self.engine.expire_flows(now_sec, 1024);
        if let Some(d) = self.defrag.as_mut() {
            d.expire(now_sec);
        }
        if let Some(ev) = self.evidence.as_mut() {
            ev.tick(now_sec.saturating_mul(1_000_000));
        }
    }

    /// The evidence store, when it is on.
    pub fn evidence(&mut self) -> Option<&mut Recorder> {
        self.evidence.as_mut()
    }

    /// Name of the current ring file.
    pub fn ring_file(&self) -> Option<&str> {
        self.ring.as_ref().and_then(|r| r.current_name())
    }

    /// Flushes alert files and the ring; failures are counted and logged once per episode.
    pub fn flush(&mut self) {
        let parked = self.parked.iter_mut().filter_map(|(_, r)| r.as_mut());
        for r in self.ring.iter_mut().chain(parked) {
            if r.flush().is_err() {
                self.stats.ring_write_errors += 1;
            }
        }
        if let Some(ev) = self.evidence.as_mut() {
            ev.flush();
        }
        if let Some(o) = self.outputs.as_mut() {
            let result = o.flush();
            if result.is_err() {
                self.stats.output_write_errors += 1;
            }
            self.output_result(result, "alert flush failed");
        }
    }

    /// LOGDIR when the alert files are on and it (or one of the open files) was removed
    /// while running.
    pub fn removed_log_dir(&self) -> Option<&std::path::Path> {
        self.outputs
            .as_ref()
            .filter(|o| o.is_removed())
            .map(Outputs::dir)
    }

    /// RING_DIR when the ring is on and it (or the file being written) was removed while
    /// running.
    pub fn removed_ring_dir(&self) -> Option<&std::path::Path> {
        self.ring.as_ref().filter(|r| r.is_removed()).map(Ring::dir)
    }

    /// After RING_DIR was recreated: the next packet starts a new ring file there.
    pub fn restart_ring(&mut self) {
        if self.ring.as_mut().is_some_and(Ring::restart) {
            self.stats.ring_write_errors += 1;
        }
    }

    /// Applies what a reload may change without reopening the capture: which alert files
    /// are written and how their times are printed, and checksum validation. New alert files
    /// are opened before the old ones are closed, so on an error nothing changes.
    ///
    /// # Errors
    /// A new alert file cannot be opened (the old files stay in use).
    pub fn reconfigure(
        &mut self,
        outputs: Option<&OutputOptions>,
        decode: DecodeOptions,
    ) -> io::Result<()> {
        self.decode_opts = decode;
        if self.output_opts.as_ref() == outputs {
            return Ok(());
        }
        let new = outputs.map(Outputs::open).transpose()?;
        if let Some(mut old) = self.outputs.take() {
            if let Err(e) = old.close() {
                tracing::warn!("last write of the replaced alert files: {e}");
            }
            self.dropped_before += old.dropped();
        }
        self.outputs = new;
        self.output_opts = outputs.cloned();
        self.output_failing = false;
        let device = |p: &std::path::Path| fs::metadata(p).ok().map(|m| m.dev());
        self.shared_disk = match (&self.outputs, &self.ring) {
            (Some(o), Some(r)) => device(o.dir()).is_some() && device(o.dir()) == device(r.dir()),
            _ => false,
        };
        Ok(())
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
