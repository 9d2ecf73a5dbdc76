//! The commands: turn the configuration and the command line into the library's option structs
//! and run them. Glue only; every stage lives in the library.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nsm_sensor::capture::live;
use nsm_sensor::capture::{self, OfflineSource, PacketSource};
use nsm_sensor::cli::{
    CarveArgs, CheckArgs, ConsoleArgs, InfoArgs, InvestigateArgs, PipelineArgs, ReplayArgs,
    RuleArgs, RunArgs, UpdateArgs,
};
use nsm_sensor::config::{ChecksumMode, Config};
use nsm_sensor::daemon::{self, DaemonOptions, LoadedRules, RuleLoader};
use nsm_sensor::decode::DecodeOptions;
use nsm_sensor::detect::{DetectOptions, RuleSet};
use nsm_sensor::evidence::EvidenceOptions;
use nsm_sensor::investigate;
use nsm_sensor::output::OutputOptions;
use nsm_sensor::pipeline::{Pipeline, PipelineOptions};
use nsm_sensor::ring::RingOptions;
use nsm_sensor::rules::{self, LoadOptions};

/// Exit codes (sysexits where one fits).
pub const EXIT_RUNTIME: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CONFIG: u8 = 78;

/// A failed command: what to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn runtime(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_RUNTIME,
            message: message.into(),
        }
    }

    pub fn config(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_CONFIG,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }
}

type Outcome = Result<(), Failure>;

/// The installed service's configuration, used when `-c` is not given and it exists.
const SYSTEM_CONFIG: &str = "/etc/nsm-sensor/sensor.toml";

/// Link types a replay filter is checked against before any input is opened.
const LINKTYPE_ETHERNET: i32 = 1;
const LINKTYPE_RAW: i32 = 101;
const LINKTYPE_LINUX_SLL: i32 = 113;

/// HOME_NET for `replay` and `check` when none is configured: RFC 1918 and ULA.
const PRIVATE_NETS: &str = "[10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7]";

/// The configuration and the directory its relative paths are relative to.
struct Loaded {
    config: Config,
    base: PathBuf,
    /// Whether a file was read (else built-in defaults).
    from_file: bool,
    path: Option<PathBuf>,
}

/// The built-in defaults, relative paths against the current directory.
fn default_config() -> Loaded {
    Loaded {
        config: Config::default(),
        base: std::env::current_dir().unwrap_or_default(),
        from_file: false,
        path: None,
    }
}

fn load_config(path: Option<&Path>) -> Result<Loaded, Failure> {
    let path = match path {
        Some(p) => Some(p.to_path_buf()),
        None => Some(PathBuf::from(SYSTEM_CONFIG)).filter(|p| p.exists()),
    };
    let Some(path) = path else {
        return Ok(default_config());
    };
    match Config::load(&path) {
        Ok(config) => {
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let base = if base.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                base
            };
            Ok(Loaded {
                config,
                base,
                from_file: true,
                path: Some(path),
            })
        }
        Err(diags) => {
            let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
            Err(Failure::config(lines.join("\n")))
        }
    }
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Rule loading options from the config and the command line. `default_home_net` applies when
/// neither sets HOME_NET (and is announced).
fn load_options(
    cfg: &Loaded,
    args: &RuleArgs,
    default_home_net: Option<(&str, &str)>,
) -> LoadOptions {
    let mut opts = LoadOptions::from_config(&cfg.config, cfg.path.as_deref());
    if !args.rules.is_empty() {
        opts.paths = args.rules.clone();
    }
    if let Some(h) = &args.home_net {
        opts.vars.insert("HOME_NET".to_string(), bracket(h));
    }
    if !opts.vars.contains_key("HOME_NET") {
        if let Some((nets, why)) = default_home_net {
            tracing::info!("HOME_NET not configured: using {nets} ({why})");
            opts.vars.insert("HOME_NET".to_string(), nets.to_string());
        }
    }
    opts
}

/// `--home-net 10.0.0.0/8,192.168.0.0/16` → `[10.0.0.0/8,192.168.0.0/16]`.
fn bracket(nets: &str) -> String {
    let t = nets.trim();
    if t.starts_with('[') || !t.contains(',') {
        t.to_string()
    } else {
        format!("[{t}]")
    }
}

/// Loads and compiles the rules for `replay`, logging the warnings and a summary.
fn load_rules(opts: &LoadOptions) -> Result<RuleSet, Failure> {
    let started = Instant::now();
    let report = rules::load(opts);
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    if !report.is_usable() {
        let lines: Vec<String> = report.errors().map(|d| d.to_string()).collect();
        return Err(Failure::config(lines.join("\n")));
    }
    if report.loaded() == 0 {
        tracing::warn!("no rules loaded: nothing will alert");
    }
    let (loaded, skipped) = (report.loaded(), report.skipped());
    let set = RuleSet::compile(report.model);
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!("{loaded} rules loaded, {skipped} skipped, compiled in {ms:.1} ms");
    Ok(set)
}

pub fn check(args: CheckArgs) -> Outcome {
    let cfg = load_config(args.rules.config.as_deref())?;
    let opts = load_options(
        &cfg,
        &args.rules,
        Some((PRIVATE_NETS, "RFC 1918 and ULA ranges")),
    );
    let report = rules::load(&opts);
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        writeln!(out, "{}", report.to_json())
    } else {
        report.write_report(&mut out, args.verbose)
    };
    written.map_err(|e| Failure::runtime(format!("stdout: {e}")))?;
    if report.is_usable() {
        Ok(())
    } else {
        Err(Failure {
            code: EXIT_CONFIG,
            message: String::new(),
        })
    }
}

fn pipeline_options(cfg: &Loaded, args: &PipelineArgs, replay: bool) -> PipelineOptions {
    let c = &cfg.config;
    let log_dir = match &args.log_dir {
        Some(d) => d.clone(),
        None => resolve(&cfg.base, &c.output.dir),
    };
    let ring_dir = match &args.ring_dir {
        Some(d) => Some(d.clone()),
        None if args.no_ring || !c.ring.enabled => None,
        // A replay without a config or ring directory keeps its ring beside its logs.
        None if replay && !cfg.from_file => Some(log_dir.join("ring")),
        None => Some(resolve(&cfg.base, &c.ring.dir)),
    };
    let any_output = c.output.alert_full || c.output.alert_fast || c.output.eve;
    PipelineOptions {
        decode: DecodeOptions {
            checksums: c.detect.checksum_mode == ChecksumMode::All,
        },
        outputs: any_output.then_some(OutputOptions {
            dir: log_dir.clone(),
            alert_full: c.output.alert_full,
            alert_fast: c.output.alert_fast,
            eve: c.output.eve,
            timestamps: c.output.timestamps,
        }),
        ring: ring_dir.map(|dir| RingOptions {
            dir,
            prefix: c.ring.prefix.clone(),
            files: c.ring.files,
            file_size: c.ring.file_size_mb.saturating_mul(1024 * 1024),
        }),
        detect: DetectOptions::from_config(&c.detect),
        evidence: c.evidence.enabled.then(|| {
            let dir = if c.evidence.dir.as_os_str().is_empty() {
                log_dir.join("evidence")
            } else {
                resolve(&cfg.base, &c.evidence.dir)
            };
            EvidenceOptions::from_config(&c.evidence, dir, replay)
        }),
    }
}

pub fn replay(args: ReplayArgs) -> Outcome {
    let cfg = load_config(args.rules.config.as_deref())?;
    let rule_opts = load_options(
        &cfg,
        &args.rules,
        Some((PRIVATE_NETS, "RFC 1918 and ULA ranges")),
    );
    let ruleset = load_rules(&rule_opts)?;
    let opts = pipeline_options(&cfg, &args.pipeline, true);
    let bpf = args
        .pipeline
        .bpf
        .clone()
        .unwrap_or_else(|| cfg.config.capture.bpf.clone());
    // A filter that compiles for no common link type is bad configuration (exit 78, as in
    // `run`), whatever the inputs hold.
    if let Err(e) = live::check_filter(&bpf, LINKTYPE_ETHERNET) {
        let other = [LINKTYPE_RAW, LINKTYPE_LINUX_SLL]
            .iter()
            .any(|&lt| live::check_filter(&bpf, lt).is_ok());
        if !other {
            return Err(Failure::config(e));
        }
    }
    let files = capture::expand_inputs(&args.pcaps).map_err(|e| Failure::runtime(e.to_string()))?;
    let total_bytes: u64 = files
        .iter()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum();
    let mut progress = Progress::new(!args.quiet && std::io::stderr().is_terminal(), total_bytes);

    let started = Instant::now();
    // One pipeline for every file and link type: the summary totals over everything.
    let mut pipeline: Option<Pipeline> = None;
    let open = |linktype: i32, snaplen: u32| {
        Pipeline::new(&opts, linktype, snaplen)
            .map_err(|e| Failure::runtime(format!("opening outputs: {e}")))
    };
    let (mut read_errors, mut unreadable, mut first) = (0u64, 0usize, None);
    for file in &files {
        // Each input is read once, from start to end: pipes and FIFOs work like files.
        let mut src = match OfflineSource::open(file, &bpf) {
            Ok(s) => s,
            Err(e) => {
                unreadable += 1;
                tracing::warn!("{e}: skipped");
                continue;
            }
        };
        first.get_or_insert((src.linktype(), src.snaplen()));
        loop {
            match src.next_frame() {
                Ok(Some((linktype, snaplen, raw))) => {
                    let p = match pipeline.as_mut() {
                        Some(p) => p,
                        None => pipeline.insert(open(linktype, snaplen)?),
                    };
                    if p.linktype() != linktype {
                        p.set_linktype(linktype, snaplen).map_err(|e| {
                            Failure::runtime(format!(
                                "opening the ring for link type {linktype}: {e}"
                            ))
                        })?;
                    }
                    progress.advance(16 + raw.data.len() as u64);
                    p.process(&ruleset, &raw);
                }
                Ok(None) => break,
                Err(e) => {
                    // A torn or corrupt record: keep what came before, say so, go on.
                    read_errors += 1;
                    tracing::warn!("{e}; the rest of this file is skipped");
                    break;
                }
            }
        }
    }
    progress.finish();
    let elapsed = started.elapsed();
    let mut p = match (pipeline, first) {
        (Some(p), _) => p,
        // Readable files without a packet: the outputs exist all the same.
        (None, Some((linktype, snaplen))) => open(linktype, snaplen)?,
        (None, None) if files.is_empty() => {
            return Err(Failure::runtime("no capture files to replay"))
        }
        (None, None) => {
            return Err(Failure::runtime(format!(
                "none of the {} capture file{} could be read",
                files.len(),
                if files.len() == 1 { "" } else { "s" }
            )))
        }
    };
    p.close();
    let s = p.stats().clone();
    let closed_counts = p.output_counts();
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "replayed {} packets ({} bytes) from {} file{} in {:.3} s ({:.0} packets/s): {} alert{}, {} decode error{}{}{}",
        s.packets,
        s.bytes,
        files.len() - unreadable,
        if files.len() - unreadable == 1 { "" } else { "s" },
        secs,
        s.packets as f64 / secs,
        s.alerts,
        if s.alerts == 1 { "" } else { "s" },
        s.decode_error_total(),
        if s.decode_error_total() == 1 { "" } else { "s" },
        if read_errors > 0 { format!(", {read_errors} unreadable file tail(s)") } else { String::new() },
        if unreadable > 0 { format!(", {unreadable} unreadable file(s) skipped") } else { String::new() },
    );
    let breakdown = s.decode_breakdown();
    if !breakdown.is_empty() {
        println!("decode: {breakdown}");
    }
    let d = s.defrag;
    if d.fragments > 0 {
        println!(
            "defrag: fragments={} rebuilt={} timeouts={} evicted={} overlaps={} teardrop={} too_large={} oversize={} short_frag={} zero_size={} too_many_frags={} truncated={} discards={} pending={}",
            d.fragments, d.rebuilt, d.timeouts, d.evicted, d.overlaps, d.teardrop, d.too_large,
            d.oversize, d.short_frag, d.zero_size, d.too_many_frags, d.truncated, d.discards,
            d.trackers.saturating_sub(d.rebuilt + d.timeouts + d.evicted),
        );
    }
    let m = &s.messages;
    if m.stream.segments > 0 {
        println!(
            "stream: flows={} segments={} delivered_bytes={} overlaps={} out_of_order={} retransmits={} gaps={} evictions={} dropped_bytes={}",
            m.stream.flows_created, m.stream.segments, m.stream.bytes_delivered, m.stream.overlaps,
            m.stream.out_of_order, m.stream.retransmits, m.stream.gaps_skipped, m.stream.evictions,
            m.stream.bytes_dropped,
        );
        println!(
            "http: requests={} responses={} messages_inspected={} truncated={} parse_errors={} chunk_errors={} gzip_errors={} not_http={} sessions_dropped={}",
            m.http.requests, m.http.responses, m.messages, m.http.truncated, m.http.parse_errors,
            m.http.chunk_errors, m.http.gzip_errors, m.http.not_http, m.sessions_dropped,
        );
    }
    if let Some(w) = s.checksum_warning() {
        tracing::warn!("{w}");
    }
    // Every alert must be on disk: one that is not fails the replay (exit 1), counted.
    let dropped = closed_counts.iter().map(|c| c.dropped).max().unwrap_or(0);
    if dropped > 0 {
        let written = closed_counts.iter().map(|c| c.written).min().unwrap_or(0);
        let files: Vec<String> = closed_counts
            .iter()
            .map(|c| format!("{} {} written, {} dropped", c.name, c.written, c.dropped))
            .collect();
        let total = written + dropped;
        println!(
            "alerts written: {written} of {total}, {dropped} could not be written ({})",
            files.join("; ")
        );
        let dir = opts.outputs.as_ref().map(|o| o.dir.display().to_string());
        return Err(Failure::runtime(format!(
            "{dropped} of {total} alerts could not be written to {}",
            dir.unwrap_or_default()
        )));
    }
    Ok(())
}

/// A progress bar on stderr for long replays on a terminal.
struct Progress {
    on: bool,
    total: u64,
    done: u64,
    last: Instant,
}

impl Progress {
    fn new(on: bool, total: u64) -> Progress {
        Progress {
            on,
            total: total.max(1),
            done: 0,
            last: Instant::now(),
        }
    }

    fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        if self.on && self.last.elapsed() >= Duration::from_millis(200) {
            self.last = Instant::now();
            let pct = (self.done * 100 / self.total).min(100);
            let filled = (pct / 4) as usize;
            eprint!(
                "\r[{}{}] {pct:3}%",
                "=".repeat(filled),
                " ".repeat(25 - filled)
            );
        }
    }

    fn finish(&self) {
        if self.on {
            eprint!("\r{}\r", " ".repeat(34));
        }
    }
}

pub fn run(args: RunArgs) -> Outcome {
    let cfg = load_config(args.rules.config.as_deref())?;
    let wanted = args
        .interface
        .as_deref()
        .unwrap_or(&cfg.config.capture.interface);
    let iface = daemon::resolve_interface(wanted).map_err(daemon_failure)?;
    // HOME_NET defaults to the capture interface's own subnets.
    let nets: Vec<String> = live::interface_subnets(&iface)
        .iter()
        .map(|n| n.to_string())
        .collect();
    let default_home = (!nets.is_empty()).then(|| {
        (
            format!("[{}]", nets.join(",")),
            format!("the subnets of {iface}"),
        )
    });
    if nets.is_empty() && args.rules.home_net.is_none() && !cfg.config.vars.contains_key("HOME_NET")
    {
        tracing::warn!("HOME_NET not configured and {iface} has no address: $HOME_NET is any");
    }
    let opts = daemon_options(&cfg, &args, &iface);
    // SIGHUP re-reads the configuration file as Snort does: the same file (or the built-in
    // defaults when none was read), the same command-line overrides on top.
    let config_path = cfg.path.clone();
    let loader: RuleLoader = Box::new(move || {
        let cfg = match &config_path {
            Some(p) => load_config(Some(p)),
            None => Ok(default_config()),
        }
        .map_err(|f| f.message.lines().map(str::to_string).collect::<Vec<_>>())?;
        let home = default_home.as_ref().map(|(h, w)| (h.as_str(), w.as_str()));
        let rule_opts = load_options(&cfg, &args.rules, home);
        let report = rules::load(&rule_opts);
        if !report.is_usable() {
            return Err(report.errors().map(|d| d.to_string()).collect());
        }
        if report.loaded() == 0 {
            // An empty set is usable, but on a reload it is more often a rule file caught
            // half-written: say so (replace rule files atomically, see the README).
            tracing::warn!("no rules loaded: the sensor alerts on nothing");
        }
        Ok(LoadedRules {
            summary: format!("{} loaded, {} skipped", report.loaded(), report.skipped()),
            warnings: report.warnings.iter().map(|d| d.to_string()).collect(),
            ruleset: RuleSet::compile(report.model),
            options: Some(daemon_options(&cfg, &args, &iface)),
        })
    });
    daemon::run(opts, loader).map_err(daemon_failure)
}

/// The daemon's options from the configuration with the command line on top. `iface` is the
/// interface chosen at start-up: it stays when neither `-i` nor the file names one.
fn daemon_options(cfg: &Loaded, args: &RunArgs, iface: &str) -> DaemonOptions {
    let pipeline = pipeline_options(cfg, &args.pipeline, false);
    let mut opts = DaemonOptions::from_config(&cfg.config, pipeline);
    opts.capture.interface = match &args.interface {
        Some(i) => i.clone(),
        None if !cfg.config.capture.interface.is_empty() => cfg.config.capture.interface.clone(),
        None => iface.to_string(),
    };
    if let Some(f) = &args.pipeline.bpf {
        opts.capture.bpf = f.clone();
    }
    opts.log_dir = match &args.pipeline.log_dir {
        Some(d) => d.clone(),
        None => resolve(&cfg.base, &cfg.config.output.dir),
    };
    if let Some(u) = &args.user {
        opts.user = u.clone();
    }
    if let Some(g) = &args.group {
        opts.group = g.clone();
    }
    opts.pidfile = match &args.pidfile {
        Some(p) => Some(p.clone()),
        None => opts.pidfile.as_ref().map(|p| resolve(&cfg.base, p)),
    };
    opts
}

fn daemon_failure(e: daemon::DaemonError) -> Failure {
    Failure {
        code: u8::try_from(e.exit_code()).unwrap_or(EXIT_RUNTIME),
        message: e.message,
    }
}

/// Maps an error of the read-only tools to an exit code: bad arguments are usage errors.
fn tool_failure(e: &investigate::Error) -> Failure {
    match e.kind() {
        investigate::ErrorKind::Usage => Failure::usage(e.to_string()),
        _ => Failure::runtime(e.to_string()),
    }
}

pub fn info(args: InfoArgs) -> Outcome {
    let mut out = std::io::stdout().lock();
    let mut failed = Vec::new();
    for (i, path) in args.pcaps.iter().enumerate() {
        match investigate::summarize(path) {
            Ok(info) => {
                if let Some(w) = &info.warning {
                    tracing::warn!("{w}");
                }
                let written = if args.json {
                    writeln!(out, "{}", info.to_json())
                } else {
                    if i > 0 {
                        let _ = writeln!(out);
                    }
                    info.write_text(&mut out)
                };
                written.map_err(|e| Failure::runtime(format!("stdout: {e}")))?;
            }
            Err(e) => failed.push(e.to_string()),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::runtime(failed.join("\n")))
    }
}

pub fn carve(args: CarveArgs) -> Outcome {
    let year = None;
    let parse = |t: &Option<String>| {
        t.as_deref()
            .map(|t| investigate::parse_time(t, year))
            .transpose()
            .map_err(|e| tool_failure(&e))
    };
    let from = parse(&args.from)?;
    let to = parse(&args.to)?;
    let bpf = args.bpf.join(" ");
    let what = investigate::Selector {
        from,
        to,
        bpf: &bpf,
        community_id: args.community_id.as_deref(),
        max_bytes: None,
    };
    let report = investigate::carve_selected(&args.ring_dir, &what, &args.out)
        .map_err(|e| tool_failure(&e))?;
    println!(
        "carved {} packets ({} bytes) into {}: {} of {} ring files read, {} skipped by time",
        report.packets_written,
        report.bytes_written,
        report.out.display(),
        report.files_read,
        report.files_total,
        report.files_skipped
    );
    for torn in &report.torn_files {
        tracing::warn!(
            "{}: ends in a torn record (being written, or a crash); read up to it",
            torn.display()
        );
    }
    for note in &report.notes {
        tracing::warn!("{note}");
    }
    Ok(())
}

pub fn investigate(args: InvestigateArgs) -> Outcome {
    let cfg = if args.config.is_some() || args.log_dir.is_none() || args.ring_dir.is_none() {
        Some(load_config(args.config.as_deref())?)
    } else {
        None
    };
    // A config is loaded whenever a directory is missing, so the fallbacks always exist.
    let log_dir = args
        .log_dir
        .clone()
        .or_else(|| cfg.as_ref().map(|c| resolve(&c.base, &c.config.output.dir)))
        .unwrap_or_default();
    let ring_dir = args
        .ring_dir
        .clone()
        .or_else(|| {
            cfg.as_ref().map(|c| {
                if c.from_file {
                    resolve(&c.base, &c.config.ring.dir)
                } else {
                    // Without a config file the ring of a replay sits beside its logs.
                    log_dir.join("ring")
                }
            })
        })
        .unwrap_or_default();
    let mut opts = investigate::InvestigateOptions::new(&log_dir, &ring_dir);
    if let Some(d) = args.evidence_dir.clone().or_else(|| {
        cfg.as_ref()
            .filter(|c| !c.config.evidence.dir.as_os_str().is_empty())
            .map(|c| resolve(&c.base, &c.config.evidence.dir))
    }) {
        opts.evidence_dir = d;
    }
    if args.list {
        let events = investigate::stored::list(&opts.evidence_dir).map_err(|e| tool_failure(&e))?;
        let mut out = std::io::stdout().lock();
        let written = if args.json {
            writeln!(out, "{}", investigate::stored::list_json(&events))
        } else {
            investigate::stored::write_list(&events, &mut out)
        };
        return written.map_err(|e| Failure::runtime(format!("stdout: {e}")));
    }
    opts.selector = args.selector.clone();
    opts.evidence = args.out.clone();
    let found = investigate::investigate(&opts).map_err(|e| tool_failure(&e))?;
    for w in &found.warnings {
        tracing::warn!("{w}");
    }
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        writeln!(out, "{}", found.to_json())
    } else {
        found.write_text(&mut out)
    };
    written.map_err(|e| Failure::runtime(format!("stdout: {e}")))
}

/// `update`: the summary goes to stdout (text or one JSON object) whatever the outcome; the
/// exit code says how it ended (0 ok or nothing changed, 1 a source, the run or the reload
/// failed, 78 the new set does not validate).
pub fn update(args: UpdateArgs) -> Outcome {
    let cfg = load_config(args.config.as_deref())?;
    let opts = nsm_sensor::update::UpdateOptions {
        config: cfg.config,
        config_path: cfg.path,
        home_net_fallback: Some(PRIVATE_NETS.to_string()),
        dry_run: args.dry_run,
        no_reload: args.no_reload,
        rollback: args.rollback,
    };
    let summary = nsm_sensor::update::run(&opts);
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        writeln!(out, "{}", summary.to_json())
    } else {
        summary.write_text(&mut out)
    };
    written.map_err(|e| Failure::runtime(format!("stdout: {e}")))?;
    match summary.exit_code() {
        0 => Ok(()),
        code => Err(Failure {
            code,
            message: summary.error_line().unwrap_or_default(),
        }),
    }
}

/// `console`: the directories as `investigate` finds them, the `[console]` section, `-r`
/// over the config's rules; refuses a public address without TLS and authentication (78).
pub fn console(args: ConsoleArgs) -> Outcome {
    use nsm_sensor::console;
    if args.hash_password {
        let mut pw = String::new();
        std::io::stdin()
            .read_line(&mut pw)
            .map_err(|e| Failure::runtime(format!("stdin: {e}")))?;
        let pw = pw.trim_end_matches(['\r', '\n']);
        if pw.is_empty() {
            return Err(Failure::usage(
                "--hash-password: give the password on standard input",
            ));
        }
        let h = console::auth::hash_password(pw).map_err(|e| Failure::runtime(e.to_string()))?;
        println!("{h}");
        return Ok(());
    }
    let cfg = load_config(args.config.as_deref())?;
    let log_dir = args
        .log_dir
        .clone()
        .unwrap_or_else(|| resolve(&cfg.base, &cfg.config.output.dir));
    let ring_dir = args.ring_dir.clone().unwrap_or_else(|| {
        if cfg.from_file {
            resolve(&cfg.base, &cfg.config.ring.dir)
        } else {
            // Without a config file the ring of a replay sits beside its logs.
            log_dir.join("ring")
        }
    });
    let evidence_dir = args.evidence_dir.clone().unwrap_or_else(|| {
        if cfg.config.evidence.dir.as_os_str().is_empty() {
            log_dir.join("evidence")
        } else {
            resolve(&cfg.base, &cfg.config.evidence.dir)
        }
    });
    let mut section = cfg.config.console.clone();
    if let Some(l) = &args.listen {
        section.listen = l.clone();
    }
    let mut opts = console::ConsoleOptions::from_config(
        &section,
        &cfg.base,
        &log_dir,
        &ring_dir,
        &evidence_dir,
    )
    .map_err(|e| Failure::config(e.to_string()))?;
    let mut rules = LoadOptions::from_config(&cfg.config, cfg.path.as_deref());
    if !args.rules.is_empty() {
        rules.paths = args.rules.clone();
    }
    opts.rules = (!rules.paths.is_empty()).then_some(rules);
    opts.pidfile = (!cfg.config.daemon.pidfile.as_os_str().is_empty())
        .then(|| resolve(&cfg.base, &cfg.config.daemon.pidfile));
    console::serve(opts, |addr, tls| {
        let scheme = if tls { "https" } else { "http" };
        println!("nsm-sensor console listening on {scheme}://{addr}/");
        let _ = std::io::stdout().flush();
    })
    .map_err(|e| match e.kind() {
        console::ErrorKind::Config => Failure::config(e.to_string()),
        console::ErrorKind::Io => Failure::runtime(e.to_string()),
    })
}
