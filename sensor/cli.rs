//! Command-line argument structs (clap derive). Plain data, no I/O.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Network security monitoring sensor: Snort-syntax rules, Snort and EVE alerts, a rotating
/// pcap ring, and the analyst's pivot from an alert to its packets.
#[derive(Debug, Parser)]
#[command(name = "nsm-sensor", version, propagate_version = true)]
pub struct Cli {
    /// Log level for diagnostics on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "info", value_name = "LEVEL")]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Capture live from an interface: detect, alert, write the ring (the daemon).
    Run(RunArgs),
    /// Run the same pipeline as `run` over pcap/pcapng files, packet time driving every clock.
    Replay(ReplayArgs),
    /// Validate the configuration and rules; print per-file counts and every diagnostic.
    Check(CheckArgs),
    /// A capinfos-style summary of capture files.
    Info(InfoArgs),
    /// Extract the ring's packets in a time range matching a BPF expression and/or a Community ID.
    Carve(CarveArgs),
    /// From an alert to its evidence: ring files, conversation, verdict, evidence pcap.
    Investigate(InvestigateArgs),
    /// Fetch the configured rule sources, validate the new set, switch to it, reload.
    Update(UpdateArgs),
    /// The analyst's read-only web console (alerts, investigations, pcaps, sensor health).
    Console(ConsoleArgs),
}

/// Options shared by the commands that load rules.
#[derive(Debug, Clone, Args)]
pub struct RuleArgs {
    /// Configuration file (TOML). Default: /etc/nsm-sensor/sensor.toml if it exists, else
    /// built-in defaults.
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    /// Rule file or directory of *.rules; repeatable; replaces the config's rule list.
    #[arg(short = 'r', long = "rules", value_name = "RULES")]
    pub rules: Vec<PathBuf>,

    /// Sets $HOME_NET, e.g. 192.168.0.0/16,10.0.0.0/8.
    #[arg(long = "home-net", value_name = "NETS")]
    pub home_net: Option<String>,
}

/// Options shared by `run` and `replay`.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// BPF filter (tcpdump syntax) applied to the capture.
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    pub bpf: Option<String>,

    /// Directory for alert, alert.fast, eve.json and stats.log.
    #[arg(short = 'l', long = "log-dir", value_name = "LOGDIR")]
    pub log_dir: Option<PathBuf>,

    /// Directory of the pcap ring.
    #[arg(long = "ring-dir", value_name = "DIR", conflicts_with = "no_ring")]
    pub ring_dir: Option<PathBuf>,

    /// Do not write the pcap ring.
    #[arg(long = "no-ring")]
    pub no_ring: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub pipeline: PipelineArgs,

    /// Interface to capture on. Default: the interface of the default route.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,

    /// Drop privileges to this user after opening the capture and the output files.
    #[arg(long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// Group to drop to (default: the user's primary group).
    #[arg(long = "group", value_name = "GROUP")]
    pub group: Option<String>,

    /// Write the process id to this file (and the reload status beside it); overrides
    /// `[daemon] pidfile`.
    #[arg(long = "pidfile", value_name = "PATH")]
    pub pidfile: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub pipeline: PipelineArgs,

    /// No progress bar even on a terminal.
    #[arg(long = "quiet", short = 'q')]
    pub quiet: bool,

    /// Capture files (pcap or pcapng) or directories of them, replayed in order.
    #[arg(value_name = "PCAP", required = true)]
    pub pcaps: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub rules: RuleArgs,

    /// Print the report as one JSON object.
    #[arg(long = "json")]
    pub json: bool,

    /// Also list every skipped rule as `path:line: skipped: reason`.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
}

#[derive(Debug, Clone, Args)]
pub struct InfoArgs {
    /// Print one JSON object per file (one per line).
    #[arg(long = "json")]
    pub json: bool,

    #[arg(value_name = "PCAP", required = true)]
    pub pcaps: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CarveArgs {
    /// Directory of the pcap ring.
    #[arg(long = "ring-dir", value_name = "DIR", required = true)]
    pub ring_dir: PathBuf,

    /// Start of the time range (RFC 3339, `YYYY-MM-DD HH:MM:SS[.frac]`, `MM/DD-HH:MM:SS`,
    /// epoch seconds).
    #[arg(long = "from", value_name = "TIME")]
    pub from: Option<String>,

    /// End of the time range (inclusive).
    #[arg(long = "to", value_name = "TIME")]
    pub to: Option<String>,

    /// Output pcap file.
    #[arg(short = 'w', value_name = "OUT.pcap", required = true)]
    pub out: PathBuf,

    /// Keep only the conversation with this Community ID (v1, seed 0), as eve.json's
    /// `community_id` shows it, e.g. `1:wCb3OG7yAFWelaUydu0D+125CLM=`. Combines with the time
    /// range and the BPF expression (give it before the expression).
    #[arg(long = "community-id", value_name = "ID")]
    pub community_id: Option<String>,

    /// BPF expression (tcpdump's filter language); the words are joined with spaces.
    #[arg(
        value_name = "BPF",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub bpf: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct InvestigateArgs {
    /// Configuration file giving the log and ring directories.
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    /// Log directory holding eve.json.
    #[arg(short = 'l', long = "log-dir", value_name = "LOGDIR")]
    pub log_dir: Option<PathBuf>,

    /// Directory of the pcap ring.
    #[arg(long = "ring-dir", value_name = "DIR")]
    pub ring_dir: Option<PathBuf>,

    /// The evidence store (default: the config's [evidence] dir, else LOGDIR/evidence).
    #[arg(long = "evidence-dir", value_name = "DIR")]
    pub evidence_dir: Option<PathBuf>,

    /// Where to write the evidence pcap (default: LOGDIR/evidence/..., or the evidence
    /// store's own file when the packets come from there).
    #[arg(short = 'w', value_name = "OUT.pcap")]
    pub out: Option<PathBuf>,

    /// List the alert events with evidence in the store (time, conversation, alerts,
    /// packets, size) instead of investigating one.
    #[arg(long = "list", conflicts_with_all = ["selector", "out"])]
    pub list: bool,

    /// Print the result as one JSON object.
    #[arg(long = "json")]
    pub json: bool,

    /// Which alert: default the newest; `sid:N`, an IP address, a Community ID (`1:…`), a
    /// TIME, or `#N` (N-th line of eve.json, negative from the end).
    #[arg(value_name = "ALERT-SELECTOR", allow_hyphen_values = true)]
    pub selector: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// Configuration file (TOML) with the `[update]` section. Default:
    /// /etc/nsm-sensor/sensor.toml if it exists, else built-in defaults.
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    /// Fetch, build and validate, print the summary, switch nothing.
    #[arg(long = "dry-run", conflicts_with = "rollback")]
    pub dry_run: bool,

    /// Do not signal the running sensor after a switch.
    #[arg(long = "no-reload")]
    pub no_reload: bool,

    /// Print the summary as one JSON object.
    #[arg(long = "json")]
    pub json: bool,

    /// Switch `current` back to the previous version (and reload).
    #[arg(long = "rollback")]
    pub rollback: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    /// Configuration file (TOML): directories, rules and the `[console]` section.
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    /// Log directory holding eve.json, alert and stats.log.
    #[arg(short = 'l', long = "log-dir", value_name = "LOGDIR")]
    pub log_dir: Option<PathBuf>,

    /// Directory of the pcap ring.
    #[arg(long = "ring-dir", value_name = "DIR")]
    pub ring_dir: Option<PathBuf>,

    /// The evidence store (default: the config's [evidence] dir, else LOGDIR/evidence).
    #[arg(long = "evidence-dir", value_name = "DIR")]
    pub evidence_dir: Option<PathBuf>,

    /// Rule file or directory of *.rules whose rules the Alert page shows; repeatable;
    /// replaces the config's rule list.
    #[arg(short = 'r', long = "rules", value_name = "RULES")]
    pub rules: Vec<PathBuf>,

    /// Address to listen on (default: the config's [console] listen, else 127.0.0.1:8470).
    /// Anything but loopback requires TLS and authentication in the config.
    #[arg(long = "listen", value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// Read a password on standard input, print its Argon2id hash for `[console]
    /// password_hash`, and exit.
    #[arg(long = "hash-password", conflicts_with_all = ["listen", "log_dir", "ring_dir", "rules"])]
    pub hash_password: bool,
}
