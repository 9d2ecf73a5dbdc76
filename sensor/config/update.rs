//! The `[update]` section and its `[[update.source]]` tables: what `nsm-sensor update`
//! fetches and where it keeps the versions it builds. Schema, defaults and the validation
//! walk (every error, located); never fetching or files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::de::DeValue;
use toml::Spanned;

use super::{type_name, Ty, Walk};

/// `[update]`: versions under `dir`, sources to fetch, optional rule edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateConfig {
    /// Versions `DIR/<UTC stamp>/` and the `current` symlink; relative to the config file.
    pub dir: PathBuf,
    /// How many versions to keep (the current one always among them).
    pub keep: u32,
    /// Whole-transfer timeout per request.
    pub timeout_s: u32,
    /// Per source: a download larger than this fails.
    pub max_download_mb: u64,
    /// Per archive: the decompressed total may not pass this (gzip bombs).
    pub max_unpacked_mb: u64,
    /// suricata-update style edit files; empty: none. Relative to the config file.
    pub enable: PathBuf,
    pub disable: PathBuf,
    pub modify: PathBuf,
    #[serde(rename = "source")]
    pub sources: Vec<SourceConfig>,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        UpdateConfig {
            dir: PathBuf::from("/var/lib/nsm-sensor/rules"),
            keep: 3,
            timeout_s: 60,
            max_download_mb: 256,
            max_unpacked_mb: 1024,
            enable: PathBuf::new(),
            disable: PathBuf::new(),
            modify: PathBuf::new(),
            sources: Vec::new(),
        }
    }
}

impl UpdateConfig {
    /// `path` joined to `base` when relative; an empty path stays empty ("none").
    pub fn resolve(base: &Path, path: &Path) -> PathBuf {
        if path.as_os_str().is_empty() || path.is_absolute() {
            path.to_path_buf()
        } else {
            base.join(path)
        }
    }
}

/// What a source serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A `.tar.gz` laid out as Emerging Threats publishes it.
    Tarball,
    /// One rule file.
    Rules,
    /// Addresses and networks, one per line, turned into list rules.
    Iplist,
}

/// Which side of HOME_NET a listed address is on when an iplist rule alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListDirection {
    /// Traffic from HOME_NET to a listed address.
    To,
    /// Traffic from a listed address to HOME_NET.
    From,
    Both,
}

/// One `[[update.source]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique; names the source in summaries, state and file names.
    pub name: String,
    pub kind: SourceKind,
    /// `http://`, `https://` or `file://`.
    pub url: String,
    /// `"md5"`: fetch `URL.md5` and compare (tarball); empty: none.
    pub checksum: String,
    /// Hex SHA-256 the download must have; empty: none.
    pub sha256: String,
    /// Tarball: the file names to take (default every `*.rules` plus classification.config
    /// and reference.config).
    pub files: Vec<String>,
    /// Iplist: first sid of the generated rules.
    pub sid: u32,
    pub msg: String,
    pub classtype: String,
    pub direction: ListDirection,
    /// Iplist: a `threshold:` body for each generated rule; empty: none.
    pub threshold: String,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            name: String::new(),
            kind: SourceKind::Rules,
            url: String::new(),
            checksum: String::new(),
            sha256: String::new(),
            files: Vec::new(),
            sid: 0,
            msg: String::new(),
            classtype: "misc-attack".to_string(),
            direction: ListDirection::To,
            threshold: String::new(),
        }
    }
}

/// Keys of `[update]` (besides `source`).
const UPDATE_KEYS: &[(&str, Ty)] = &[
    ("dir", Ty::Path),
    ("keep", Ty::Int(1, 1000)),
    ("timeout_s", Ty::Int(1, 86_400)),
    ("max_download_mb", Ty::Int(1, 1 << 20)),
    ("max_unpacked_mb", Ty::Int(1, 1 << 20)),
    ("enable", Ty::Path),
    ("disable", Ty::Path),
    ("modify", Ty::Path),
];

/// Keys of one `[[update.source]]`.
const SOURCE_KEYS: &[(&str, Ty)] = &[
    ("name", Ty::Name),
    ("kind", Ty::OneOf(&["tarball", "rules", "iplist"])),
    ("url", Ty::Str),
    ("checksum", Ty::OneOf(&["", "md5"])),
    ("sha256", Ty::Str),
    ("files", Ty::PathList),
    ("sid", Ty::Int(1, u32::MAX as u64)),
    ("msg", Ty::Str),
    ("classtype", Ty::Str),
    ("direction", Ty::OneOf(&["to", "from", "both"])),
    ("threshold", Ty::Str),
];

fn str_of<'a>(v: &'a Spanned<DeValue<'_>>) -> Option<&'a str> {
    match v.get_ref() {
        DeValue::String(s) => Some(s.as_ref()),
        _ => None,
    }
}

/// Walks `[update]`: every key's type, each source's keys, and what ties them together
/// (unique names, a URL scheme we fetch, kind-specific keys).
pub(super) fn walk(w: &mut Walk<'_>, v: &Spanned<DeValue>) {
    let DeValue::Table(t) = v.get_ref() else {
        w.error(
            v.span().start,
            format!("update: expected a table, found {}", type_name(v.get_ref())),
        );
        return;
    };
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (fk, fv) in t.iter() {
        let field = fk.get_ref().as_ref();
        if field == "source" {
            let DeValue::Array(items) = fv.get_ref() else {
                w.error(
                    fv.span().start,
                    format!(
                        "update.source: expected an array of tables ([[update.source]]), found {}",
                        type_name(fv.get_ref())
                    ),
                );
                continue;
            };
            for (i, item) in items.iter().enumerate() {
                source(w, i, item, &mut names);
            }
            continue;
        }
        match UPDATE_KEYS.iter().find(|(k, _)| *k == field) {
            Some(&(_, ty)) => w.check(&format!("update.{field}"), fv, ty),
            None => {
                let known: Vec<&str> = UPDATE_KEYS
                    .iter()
                    .map(|(k, _)| *k)
                    .chain(["source"])
                    .collect();
                w.error(
                    fk.span().start,
                    format!(
                        "unknown key '{field}' in [update], expected one of {}",
                        known.join(", ")
                    ),
                );
            }
        }
    }
}

fn source(
    w: &mut Walk<'_>,
    index: usize,
    item: &Spanned<DeValue>,
    names: &mut BTreeMap<String, usize>,
) {
    let at = item.span().start;
    let DeValue::Table(t) = item.get_ref() else {
        w.error(
            at,
            format!(
                "update.source[{index}]: expected a table, found {}",
                type_name(item.get_ref())
            ),
        );
        return;
    };
    let mut label = format!("update.source[{index}]");
    if let Some(name) = t.get("name").and_then(str_of) {
        label = format!("update.source '{name}'");
        if let Some(first) = names.insert(name.to_string(), index) {
            w.error(
                t.get("name").map_or(at, |v| v.span().start),
                format!(
                    "{label}: name already used by update.source[{first}]; names must be unique"
                ),
            );
        }
    }
    for (fk, fv) in t.iter() {
        let field = fk.get_ref().as_ref();
        match SOURCE_KEYS.iter().find(|(k, _)| *k == field) {
            Some(&(_, ty)) => w.check(&format!("{label}.{field}"), fv, ty),
            None => {
                let known: Vec<&str> = SOURCE_KEYS.iter().map(|(k, _)| *k).collect();
                w.error(
                    fk.span().start,
                    format!(
                        "unknown key '{field}' in {label}, expected one of {}",
                        known.join(", ")
                    ),
                );
            }
        }
    }
    for required in ["name", "kind", "url"] {
        if !t.contains_key(required) {
            w.error(at, format!("{label}: missing key '{required}'"));
        }
    }
    if let Some(url) = t.get("url") {
        if let Some(s) = str_of(url) {
            if !(s.starts_with("http://") || s.starts_with("https://") || s.starts_with("file://"))
            {
                w.error(
                    url.span().start,
                    format!("{label}.url: expected an http://, https:// or file:// URL, got {s:?}"),
                );
            }
        }
    }
    if let Some(h) = t.get("sha256") {
        if let Some(s) = str_of(h) {
            let pinned = s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
            if !s.is_empty() && !pinned {
                w.error(
                    h.span().start,
                    format!("{label}.sha256: expected 64 hex digits, got {s:?}"),
                );
            }
        }
    }
    let kind = t.get("kind").and_then(str_of).unwrap_or("");
    if kind == "iplist" {
        for required in ["sid", "msg"] {
            if !t.contains_key(required) {
                w.error(
                    at,
                    format!("{label}: kind \"iplist\" needs '{required}' (the generated rules' {required})"),
                );
            }
        }
    } else if !kind.is_empty() {
        for only in ["sid", "msg", "classtype", "direction", "threshold"] {
            if let Some(v) = t.get(only) {
                w.error(
                    v.span().start,
                    format!("{label}.{only}: only for kind \"iplist\", this source is {kind:?}"),
                );
            }
        }
    }
    if kind != "tarball" && !kind.is_empty() {
        for only in ["files", "checksum"] {
            if let Some(v) = t.get(only) {
                if only == "checksum" && str_of(v) == Some("") {
                    continue;
                }
                w.error(
                    v.span().start,
                    format!("{label}.{only}: only for kind \"tarball\", this source is {kind:?}"),
                );
            }
        }
    }
    if let Some(files) = t.get("files") {
        if let DeValue::Array(items) = files.get_ref() {
            for f in items.iter() {
                if let Some(s) = str_of(f) {
                    if s.is_empty() || s.contains('/') {
                        w.error(
                            f.span().start,
                            format!("{label}.files: expected a file name without '/', got {s:?}"),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    #[test]
    fn sources_parse_and_default() {
        let text = r#"
[update]
dir = "rules-versions"
keep = 5
[[update.source]]
name = "et-open"
kind = "tarball"
url = "https://example.org/emerging.rules.tar.gz"
checksum = "md5"
files = ["emerging-botcc.rules"]
[[update.source]]
name = "drop"
kind = "iplist"
url = "file:///tmp/drop.txt"
sid = 9000001
msg = "Spamhaus DROP"
direction = "both"
"#;
        let c = Config::from_str(text, Path::new("s.toml")).unwrap();
        assert_eq!(c.update.keep, 5);
        assert_eq!(c.update.timeout_s, 60);
        assert_eq!(c.update.sources.len(), 2);
        assert_eq!(c.update.sources[0].kind, SourceKind::Tarball);
        assert_eq!(c.update.sources[1].direction, ListDirection::Both);
        assert_eq!(c.update.sources[1].classtype, "misc-attack");
    }

    #[test]
    fn every_source_error_is_reported() {
        let text = r#"[update]
keep = 0
colour = 1
[[update.source]]
name = "a"
kind = "zip"
url = "ftp://x"
[[update.source]]
name = "a"
kind = "iplist"
url = "http://x"
sha256 = "abc"
[[update.source]]
kind = "rules"
url = "file:///x"
sid = 3
"#;
        let errs = Config::from_str(text, Path::new("s.toml")).unwrap_err();
        let msgs: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
        let want = [
            "s.toml:2:8: update.keep",
            "s.toml:3:1: unknown key 'colour' in [update]",
            "update.source 'a'.kind: expected one of",
            "update.source 'a'.url: expected an http://",
            "name already used",
            "update.source 'a'.sha256: expected 64 hex digits",
            "needs 'sid'",
            "needs 'msg'",
            "update.source[2]: missing key 'name'",
            "update.source[2].sid: only for kind \"iplist\"",
        ];
        for w in want {
            assert!(msgs.iter().any(|m| m.contains(w)), "{w} not in {msgs:#?}");
        }
        assert_eq!(msgs.len(), want.len(), "{msgs:#?}");
    }
}
