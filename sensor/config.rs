//! The TOML configuration: schema, defaults for everything, and validation that reports every
//! error with file:line:col. Reads only the config file itself.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole configuration. Every field has a default, so an empty file is a valid config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub capture: CaptureConfig,
    pub rules: RulesConfig,
    /// Rule variables (`HOME_NET = "[192.168.0.0/16]"`, `HTTP_PORTS = "[80,8080]"`).
    pub vars: BTreeMap<String, String>,
    pub detect: DetectConfig,
    pub output: OutputConfig,
    pub ring: RingConfig,
    pub daemon: DaemonConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// Interface for `run`; empty: the interface of the default route.
    pub interface: String,
    /// BPF filter (tcpdump syntax); empty: everything.
    pub bpf: String,
    pub snaplen: u32,
    pub promisc: bool,
    /// Kernel capture buffer in MiB (libpcap's default is 2).
    pub buffer_mb: u32,
    /// Read timeout in milliseconds; non-zero so an idle interface still notices signals.
    pub timeout_ms: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumMode {
    All,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// Rule files or directories of `*.rules`, relative to the config file's directory.
    pub files: Vec<PathBuf>,
    /// Empty: the classification.config beside the config file, else Snort's built-in table.
    pub classification: PathBuf,
    pub reference: PathBuf,
    /// threshold.conf; empty or missing file: none.
    pub threshold: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    pub checksum_mode: ChecksumMode,
    /// Flow table memory cap in MiB.
    pub flow_memcap_mb: u32,
    pub tcp_timeout_s: u32,
    /// Timeout of TCP flows that never completed a handshake.
    pub tcp_new_timeout_s: u32,
    pub udp_timeout_s: u32,
    pub other_timeout_s: u32,
    /// Threshold tracker memory cap in MiB (LRU beyond it).
    pub threshold_memcap_mb: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Timestamps {
    Local,
    Utc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// LOGDIR, relative to the current directory when relative.
    pub dir: PathBuf,
    pub alert_full: bool,
    pub alert_fast: bool,
    pub eve: bool,
    pub stats: bool,
    pub timestamps: Timestamps,
    /// Buffered writers are flushed at least this often.
    pub flush_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RingConfig {
    pub enabled: bool,
    /// RING_DIR, relative to the current directory when relative.
    pub dir: PathBuf,
    pub files: u32,
    pub file_size_mb: u64,
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    /// Drop to this user after opening the capture and output files; empty: stay.
    pub user: String,
    pub group: String,
    pub stats_interval_s: u32,
    pub watchdog: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            capture: CaptureConfig::default(),
            rules: RulesConfig::default(),
            vars: BTreeMap::new(),
            detect: DetectConfig::default(),
            output: OutputConfig::default(),
            ring: RingConfig::default(),
            daemon: DaemonConfig::default(),
        }
    }
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interface: String::new(),
            bpf: String::new(),
            snaplen: 65535,
            promisc: true,
            buffer_mb: 64,
            timeout_ms: 500,
        }
    }
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            files: Vec::new(),
            classification: PathBuf::new(),
            reference: PathBuf::new(),
            threshold: PathBuf::new(),
        }
    }
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            checksum_mode: ChecksumMode::All,
            flow_memcap_mb: 64,
            tcp_timeout_s: 3600,
            tcp_new_timeout_s: 30,
            udp_timeout_s: 180,
            other_timeout_s: 60,
            threshold_memcap_mb: 16,
        }
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            dir: PathBuf::from("/var/log/nsm-sensor"),
            alert_full: true,
            alert_fast: true,
            eve: true,
            stats: true,
            timestamps: Timestamps::Local,
            flush_ms: 1000,
        }
    }
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            enabled: true,
            dir: PathBuf::from("/var/lib/nsm-sensor/ring"),
            files: 10,
            file_size_mb: 100,
            prefix: "nsm".to_string(),
        }
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            user: String::new(),
            group: String::new(),
            stats_interval_s: 60,
            watchdog: true,
        }
    }
}
