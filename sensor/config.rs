//! The TOML configuration: schema, defaults for everything, and validation that reports every
//! error with file:line:col. Reads only the config file itself.
//!
//! `toml`'s serde errors stop at the first problem, so [`Config::from_str`] first walks the
//! spanned document against [`SCHEMA`] collecting every unknown key, wrong type and bad value,
//! and only deserializes once the walk found nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use serde::{Deserialize, Serialize};

mod console;
mod update;
pub use console::ConsoleConfig;
pub use update::{ListDirection, SourceConfig, SourceKind, UpdateConfig};

/// The whole configuration. Every field has a default, so an empty file is a valid config.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub capture: CaptureConfig,
    pub rules: RulesConfig,
    /// Rule variables (`HOME_NET = "[192.168.0.0/16]"`, `HTTP_PORTS = "[80,8080]"`).
    pub vars: BTreeMap<String, String>,
    pub detect: DetectConfig,
    pub output: OutputConfig,
    pub ring: RingConfig,
    /// The evidence store: every alert's conversation, kept apart from the ring.
    pub evidence: EvidenceConfig,
    pub daemon: DaemonConfig,
    /// `nsm-sensor update`: sources, versions directory, edits.
    pub update: UpdateConfig,
    /// `nsm-sensor console`: listen address, TLS, authentication, request bounds.
    pub console: ConsoleConfig,
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
    /// Reassemble IPv4 fragments before detection (Snort frag3, policy `first`; on in
    /// Snort's shipped snort.conf). `false`: every fragment is inspected as it is.
    pub defrag: bool,
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
pub struct EvidenceConfig {
    pub enabled: bool,
    /// Empty: `LOGDIR/evidence`. Relative to the current directory when relative.
    pub dir: PathBuf,
    /// Quota of the whole store in MiB; the oldest closed evidence is deleted past it.
    pub max_mb: u64,
    /// Seconds of the conversation kept from before the alert (read back from the ring).
    pub pre_s: u32,
    /// Seconds kept after the last alert of the event.
    pub post_s: u32,
    /// Per event: packets and bytes (pcap records, headers included) at most.
    pub max_packets: u64,
    pub max_bytes: u64,
    /// Snort's `config tagged_packet_limit`: packets a `tag` keeps at most (0: no limit
    /// besides `max_packets`).
    pub tagged_packet_limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    /// Drop to this user after opening the capture and output files; empty: stay.
    pub user: String,
    pub group: String,
    pub stats_interval_s: u32,
    pub watchdog: bool,
    /// Write the process id here at start-up (and the reload status beside it, for
    /// `update`); empty: no pidfile.
    pub pidfile: PathBuf,
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
            flow_memcap_mb: 32,
            tcp_timeout_s: 3600,
            tcp_new_timeout_s: 30,
            udp_timeout_s: 180,
            other_timeout_s: 60,
            threshold_memcap_mb: 16,
            defrag: true,
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

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            enabled: true,
            dir: PathBuf::new(),
            max_mb: 1024,
            pre_s: 60,
            post_s: 120,
            max_packets: 10_000,
            max_bytes: 16 * 1024 * 1024,
            tagged_packet_limit: 256,
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
            pidfile: PathBuf::new(),
        }
    }
}

/// One configuration problem, located: the same `path:line:col: message` diagnostic the rule
/// loader reports.
pub type ConfigDiagnostic = crate::diag::Diagnostic;

/// What a key accepts.
#[derive(Debug, Clone, Copy)]
enum Ty {
    Str,
    /// A string without '/' that is not empty (file name prefixes).
    Name,
    Bool,
    /// Unsigned integer in `min..=max`.
    Int(u64, u64),
    Path,
    PathList,
    OneOf(&'static [&'static str]),
}

/// Every section and key the configuration accepts (`[vars]` is free-form: name → string).
const SCHEMA: &[(&str, &[(&str, Ty)])] = &[
    (
        "capture",
        &[
            ("interface", Ty::Str),
            ("bpf", Ty::Str),
            ("snaplen", Ty::Int(1, 262_144)),
            ("promisc", Ty::Bool),
            ("buffer_mb", Ty::Int(1, 65_536)),
            ("timeout_ms", Ty::Int(1, 60_000)),
        ],
    ),
    (
        "rules",
        &[
            ("files", Ty::PathList),
            ("classification", Ty::Path),
            ("reference", Ty::Path),
            ("threshold", Ty::Path),
        ],
    ),
    (
        "detect",
        &[
            ("checksum_mode", Ty::OneOf(&["all", "none"])),
            ("flow_memcap_mb", Ty::Int(1, 1 << 20)),
            ("tcp_timeout_s", Ty::Int(1, u32::MAX as u64)),
            ("tcp_new_timeout_s", Ty::Int(1, u32::MAX as u64)),
            ("udp_timeout_s", Ty::Int(1, u32::MAX as u64)),
            ("other_timeout_s", Ty::Int(1, u32::MAX as u64)),
            ("threshold_memcap_mb", Ty::Int(1, 1 << 20)),
            ("defrag", Ty::Bool),
        ],
    ),
    (
        "output",
        &[
            ("dir", Ty::Path),
            ("alert_full", Ty::Bool),
            ("alert_fast", Ty::Bool),
            ("eve", Ty::Bool),
            ("stats", Ty::Bool),
            ("timestamps", Ty::OneOf(&["local", "utc"])),
            ("flush_ms", Ty::Int(1, 3_600_000)),
        ],
    ),
    (
        "ring",
        &[
            ("enabled", Ty::Bool),
            ("dir", Ty::Path),
            ("files", Ty::Int(1, 1_000_000)),
            ("file_size_mb", Ty::Int(1, 1 << 30)),
            ("prefix", Ty::Name),
        ],
    ),
    (
        "evidence",
        &[
            ("enabled", Ty::Bool),
            ("dir", Ty::Path),
            ("max_mb", Ty::Int(1, 1 << 30)),
            ("pre_s", Ty::Int(0, 86_400)),
            ("post_s", Ty::Int(0, 86_400)),
            ("max_packets", Ty::Int(1, 1 << 40)),
            ("max_bytes", Ty::Int(1024, 1 << 50)),
            ("tagged_packet_limit", Ty::Int(0, u32::MAX as u64)),
        ],
    ),
    (
        "daemon",
        &[
            ("user", Ty::Str),
            ("group", Ty::Str),
            ("stats_interval_s", Ty::Int(0, u32::MAX as u64)),
            ("watchdog", Ty::Bool),
            ("pidfile", Ty::Path),
        ],
    ),
    ("console", console::KEYS),
];

/// Byte offset → (line, col), both 1-based.
fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

fn type_name(v: &DeValue) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

struct Walk<'a> {
    text: &'a str,
    path: &'a Path,
    errors: Vec<ConfigDiagnostic>,
}

impl Walk<'_> {
    fn error(&mut self, offset: usize, message: String) {
        let (line, col) = line_col(self.text, offset);
        self.errors.push(ConfigDiagnostic {
            path: self.path.to_path_buf(),
            line,
            col,
            message,
        });
    }

    fn check(&mut self, key: &str, v: &Spanned<DeValue>, ty: Ty) {
        let at = v.span().start;
        let got = v.get_ref();
        match (ty, got) {
            (Ty::Str | Ty::Path, DeValue::String(_)) | (Ty::Bool, DeValue::Boolean(_)) => {}
            (Ty::Name, DeValue::String(s)) => {
                if s.is_empty() || s.contains('/') {
                    self.error(
                        at,
                        format!("{key}: expected a non-empty name without '/', got {s:?}"),
                    );
                }
            }
            (Ty::Int(min, max), DeValue::Integer(i)) => {
                let n = u64::from_str_radix(i.as_str(), i.radix()).ok();
                match n {
                    Some(n) if n >= min && n <= max => {}
                    _ => self.error(
                        at,
                        format!("{key}: expected an integer from {min} to {max}, got {i}"),
                    ),
                }
            }
            (Ty::OneOf(choices), DeValue::String(s)) => {
                if !choices.contains(&s.as_ref()) {
                    let list: Vec<String> = choices.iter().map(|c| format!("{c:?}")).collect();
                    self.error(
                        at,
                        format!("{key}: expected one of {}, got {s:?}", list.join(", ")),
                    );
                }
            }
            (Ty::PathList, DeValue::Array(items)) => {
                for item in items.iter() {
                    if !matches!(item.get_ref(), DeValue::String(_)) {
                        let t = type_name(item.get_ref());
                        self.error(
                            item.span().start,
                            format!("{key}: expected an array of paths (strings), found {t}"),
                        );
                    }
                }
            }
            (ty, got) => {
                let want = match ty {
                    Ty::Str | Ty::Name | Ty::OneOf(_) => "a string",
                    Ty::Path => "a path (string)",
                    Ty::Bool => "a boolean (true or false)",
                    Ty::Int(..) => "an integer",
                    Ty::PathList => "an array of paths",
                };
                self.error(
                    at,
                    format!("{key}: expected {want}, found {}", type_name(got)),
                );
            }
        }
    }

    fn document(&mut self, root: &DeTable) {
        for (k, v) in root.iter() {
            let name = k.get_ref().as_ref();
            let at = k.span().start;
            if name == "vars" {
                match v.get_ref() {
                    DeValue::Table(t) => {
                        for (vk, vv) in t.iter() {
                            let vname = vk.get_ref().as_ref();
                            if vname.is_empty()
                                || !vname
                                    .bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                            {
                                self.error(vk.span().start, format!("vars: bad variable name {vname:?}, expected letters, digits and '_'"));
                            }
                            if !matches!(vv.get_ref(), DeValue::String(_)) {
                                let t = type_name(vv.get_ref());
                                self.error(
                                    vv.span().start,
                                    format!("vars.{vname}: expected a string, found {t}"),
                                );
                            }
                        }
                    }
                    other => self.error(
                        v.span().start,
                        format!("vars: expected a table, found {}", type_name(other)),
                    ),
                }
                continue;
            }
            if name == "update" {
                update::walk(self, v);
                continue;
            }
            let Some((_, keys)) = SCHEMA.iter().find(|(s, _)| *s == name) else {
                let known: Vec<&str> = SCHEMA
                    .iter()
                    .map(|(s, _)| *s)
                    .chain(["vars", "update"])
                    .collect();
                self.error(
                    at,
                    format!(
                        "unknown section '{name}', expected one of {}",
                        known.join(", ")
                    ),
                );
                continue;
            };
            let DeValue::Table(t) = v.get_ref() else {
                self.error(
                    v.span().start,
                    format!("{name}: expected a table, found {}", type_name(v.get_ref())),
                );
                continue;
            };
            for (fk, fv) in t.iter() {
                let field = fk.get_ref().as_ref();
                match keys.iter().find(|(k, _)| *k == field) {
                    Some(&(_, ty)) => self.check(&format!("{name}.{field}"), fv, ty),
                    None => {
                        let known: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
                        self.error(
                            fk.span().start,
                            format!(
                                "unknown key '{field}' in [{name}], expected one of {}",
                                known.join(", ")
                            ),
                        );
                    }
                }
            }
        }
    }
}

impl Config {
    /// Reads and validates a config file.
    ///
    /// # Errors
    /// Every problem found: unreadable file, TOML syntax, unknown sections or keys, wrong
    /// types, out-of-range values; each with `path:line:col`.
    pub fn load(path: &Path) -> Result<Config, Vec<ConfigDiagnostic>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::from_str(&text, path),
            Err(e) => Err(vec![ConfigDiagnostic {
                path: path.to_path_buf(),
                line: 1,
                col: 1,
                message: format!("cannot read config: {e}"),
            }]),
        }
    }

    /// Validates TOML text; `path` is only used in diagnostics.
    ///
    /// # Errors
    /// As [`Config::load`], minus the file read.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, path: &Path) -> Result<Config, Vec<ConfigDiagnostic>> {
        let mut w = Walk {
            text,
            path,
            errors: Vec::new(),
        };
        let (doc, syntax) = DeTable::parse_recoverable(text);
        for e in syntax {
            let at = e.span().map_or(0, |s| s.start);
            let msg = e.message().trim().to_string();
            w.error(at, format!("TOML syntax: {msg}"));
        }
        if w.errors.is_empty() {
            w.document(doc.get_ref());
        }
        if w.errors.is_empty() {
            match toml::from_str::<Config>(text) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    // The walk should have caught it; report serde's view rather than nothing.
                    let at = e.span().map_or(0, |s| s.start);
                    w.error(at, e.message().trim().to_string());
                }
            }
        }
        w.errors.sort_by_key(|d| (d.line, d.col));
        Err(w.errors)
    }
}

impl RulesConfig {
    /// The same settings with relative paths joined to `base` (the config file's directory).
    /// Empty paths stay empty (they mean "default").
    pub fn resolved(&self, base: &Path) -> RulesConfig {
        let join = |p: &PathBuf| {
            if p.as_os_str().is_empty() || p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            }
        };
        RulesConfig {
            files: self.files.iter().map(join).collect(),
            classification: join(&self.classification),
            reference: join(&self.reference),
            threshold: join(&self.threshold),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str) -> Vec<(u32, u32, String)> {
        match Config::from_str(text, Path::new("s.toml")) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|d| (d.line, d.col, d.message)).collect(),
        }
    }

    #[test]
    fn empty_and_full_configs_are_valid() {
        assert_eq!(
            Config::from_str("", Path::new("s.toml")),
            Ok(Config::default())
        );
        let text = r#"
[capture]
interface = "eth0"
snaplen = 1518
[rules]
files = ["rules/", "local.rules"]
threshold = "threshold.conf"
[vars]
HOME_NET = "[192.168.0.0/16]"
[detect]
checksum_mode = "none"
[output]
timestamps = "utc"
[ring]
files = 3
file_size_mb = 1
[daemon]
stats_interval_s = 0
"#;
        let c = Config::from_str(text, Path::new("s.toml")).unwrap();
        assert_eq!(c.capture.snaplen, 1518);
        assert_eq!(c.detect.checksum_mode, ChecksumMode::None);
        assert_eq!(c.output.timestamps, Timestamps::Utc);
        assert_eq!(c.vars["HOME_NET"], "[192.168.0.0/16]");
        let r = c.rules.resolved(Path::new("/etc/nsm"));
        assert_eq!(
            r.files,
            vec![
                PathBuf::from("/etc/nsm/rules/"),
                PathBuf::from("/etc/nsm/local.rules")
            ]
        );
        assert_eq!(r.threshold, PathBuf::from("/etc/nsm/threshold.conf"));
        assert_eq!(r.classification, PathBuf::new());
    }

    #[test]
    fn every_error_is_reported() {
        let text = "[capture]\nsnaplen = 0\npromisc = \"yes\"\ncolour = 1\n[ring]\nfiles = 0\nprefix = \"a/b\"\n[output]\ntimestamps = \"gmt\"\n[detect]\nchecksum_mode = \"some\"\nflow_memcap_mb = -1\n[bogus]\n[vars]\nHOME_NET = 1\n";
        let got = errs(text);
        let want: &[(u32, u32, &str)] = &[
            (2, 11, "capture.snaplen: expected an integer from 1"),
            (3, 11, "capture.promisc: expected a boolean"),
            (4, 1, "unknown key 'colour' in [capture]"),
            (6, 9, "ring.files: expected an integer from 1"),
            (7, 10, "ring.prefix"),
            (
                9,
                14,
                "output.timestamps: expected one of \"local\", \"utc\"",
            ),
            (11, 17, "detect.checksum_mode"),
            (12, 18, "detect.flow_memcap_mb"),
            (13, 2, "unknown section 'bogus'"),
            (15, 12, "vars.HOME_NET: expected a string"),
        ];
        assert_eq!(got.len(), want.len(), "{got:#?}");
        for ((l, c, m), (wl, wc, wm)) in got.iter().zip(want) {
            assert_eq!((l, c), (wl, wc), "{m}");
            assert!(m.contains(wm), "{m} should contain {wm}");
        }
    }

    #[test]
    fn syntax_errors_are_located() {
        let got = errs("[capture]\nsnaplen = = 3\n");
        assert!(!got.is_empty());
        assert_eq!(got[0].0, 2);
        assert!(got[0].2.starts_with("TOML syntax"));
    }
}
