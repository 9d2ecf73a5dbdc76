//! What `update` remembers between runs, under `[update] dir`: `state.json` (per source its
//! URL, ETag, Last-Modified, size and SHA-256 of the last download) and `.cache/SOURCE` (that
//! download), both written atomically (a temporary file renamed into place). Written only
//! after a successful switch, so a failed run leaves the next one to download again.

use std::collections::BTreeMap;
use std::io::Write;

use serde::{Deserialize, Serialize};

use super::fetch::{sha256_hex, Validators};
use crate::safefs::Dir;

const STATE: &str = "state.json";
const CACHE: &str = ".cache";
/// state.json is small; anything larger is not ours.
const STATE_LIMIT: u64 = 16 << 20;

/// One source's remembered download.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceState {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub bytes: u64,
    pub sha256: String,
}

impl SourceState {
    pub fn new(url: &str, v: &Validators, body: &[u8]) -> SourceState {
        SourceState {
            url: url.to_string(),
            etag: v.etag.clone(),
            last_modified: v.last_modified.clone(),
            bytes: body.len() as u64,
            sha256: sha256_hex(body),
        }
    }

    pub fn validators(&self) -> Validators {
        Validators {
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
        }
    }
}

/// `state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub sources: BTreeMap<String, SourceState>,
}

impl State {
    /// Reads `state.json`; missing or unreadable: empty (everything is downloaded again).
    pub fn read(dir: &Dir) -> State {
        match dir.read_small(STATE, STATE_LIMIT) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                tracing::warn!(
                    "{}: {e}; downloading every source again",
                    dir.join(STATE).display()
                );
                State::default()
            }),
            Err(_) => State::default(),
        }
    }

    /// Writes `state.json` atomically.
    ///
    /// # Errors
    /// A message naming the file.
    pub fn write(&self, dir: &Dir) -> Result<(), String> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        let path = dir.join(STATE);
        let mut t = dir.temp(STATE).map_err(|e| e.to_string())?;
        if let Some(f) = t.file() {
            f.write_all(&text)
                .and_then(|()| f.sync_all())
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        t.commit().map_err(|e| e.to_string())
    }
}

/// The cached body of `source` if its SHA-256 is the remembered one.
pub fn read_cache(dir: &Dir, source: &str, known: &SourceState) -> Option<Vec<u8>> {
    let cache = dir.subdir(CACHE, false).ok()?;
    let body = cache.read_small(source, known.bytes).ok()?;
    (sha256_hex(&body) == known.sha256).then_some(body)
}

/// Stores `body` as the cached copy of `source`, atomically.
///
/// # Errors
/// The cache directory or file cannot be written.
pub fn write_cache(dir: &Dir, source: &str, body: &[u8]) -> std::io::Result<()> {
    let cache = dir.subdir(CACHE, true)?;
    let mut t = cache.temp(source)?;
    if let Some(f) = t.file() {
        f.write_all(body)?;
        f.sync_all()?;
    }
    t.commit()
}
