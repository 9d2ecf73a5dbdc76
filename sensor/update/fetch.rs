//! Fetching one source: `http://` and `https://` through ureq (rustls, no OpenSSL; proxy from
//! `https_proxy`/`http_proxy`/`all_proxy`, `no_proxy` honoured), `file://` from the local
//! file system. Conditional GET (`If-None-Match`, `If-Modified-Since`) so an unchanged source
//! costs one request; a size limit enforced while reading (`Content-Length` is never
//! trusted); checksum files as Emerging Threats publishes them (`URL.md5`). Owns bytes on
//! the wire; never what they mean.

use std::io::Read;
use std::time::Duration;

use md5::Md5;
use sha2::{Digest, Sha256};

/// Validators remembered from the last download of a source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What a fetch got.
#[derive(Debug)]
pub enum Fetched {
    /// A full body.
    Body {
        bytes: Vec<u8>,
        validators: Validators,
        /// `Content-Type` as sent (empty for `file://`).
        content_type: String,
    },
    /// `304 Not Modified`: the copy from the last download still holds.
    Unchanged,
}

/// An HTTP client with the limits of one `update` run.
pub struct Fetcher {
    agent: ureq::Agent,
    max_bytes: u64,
}

impl Fetcher {
    /// `timeout` bounds each whole request (connect, headers and body); `max_bytes` each body.
    pub fn new(timeout: Duration, max_bytes: u64) -> Fetcher {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            // Statuses are reported by us, with the URL and the status line.
            .http_status_as_error(false)
            .user_agent(concat!("nsm-sensor/", env!("CARGO_PKG_VERSION")))
            .build();
        Fetcher {
            agent: ureq::Agent::new_with_config(config),
            max_bytes,
        }
    }

    /// Fetches `url`, conditionally when `known` holds validators.
    ///
    /// # Errors
    /// A message naming the URL and what went wrong: connection, HTTP status, body larger
    /// than the limit, a read that stopped early, an unreadable `file://` path.
    pub fn fetch(&self, url: &str, known: Option<&Validators>) -> Result<Fetched, String> {
        if let Some(path) = url.strip_prefix("file://") {
            return self.fetch_file(url, path);
        }
        let mut req = self.agent.get(url);
        if let Some(v) = known {
            if let Some(e) = &v.etag {
                req = req.header("If-None-Match", e);
            }
            if let Some(m) = &v.last_modified {
                req = req.header("If-Modified-Since", m);
            }
        }
        let resp = req.call().map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status();
        if status == 304 {
            return Ok(Fetched::Unchanged);
        }
        if !status.is_success() {
            return Err(format!(
                "{url}: HTTP {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ));
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header("etag"),
            last_modified: header("last-modified"),
        };
        let content_type = header("content-type").unwrap_or_default();
        let reader = resp.into_body().into_reader();
        let bytes = self.read_limited(url, reader)?;
        Ok(Fetched::Body {
            bytes,
            validators,
            content_type,
        })
    }

    fn fetch_file(&self, url: &str, path: &str) -> Result<Fetched, String> {
        // file:///abs/path (an empty authority); file://localhost/abs/path as well.
        let path = path.strip_prefix("localhost").unwrap_or(path);
        if !path.starts_with('/') {
            return Err(format!("{url}: expected file:///absolute/path"));
        }
        let f = std::fs::File::open(path).map_err(|e| format!("{url}: {e}"))?;
        let bytes = self.read_limited(url, f)?;
        Ok(Fetched::Body {
            bytes,
            validators: Validators::default(),
            content_type: String::new(),
        })
    }

    /// Reads at most the limit; one byte more is an error (the sender's length is not
    /// believed either way).
    fn read_limited(&self, url: &str, r: impl Read) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        r.take(self.max_bytes.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| format!("{url}: download stopped after {} bytes: {e}", out.len()))?;
        if out.len() as u64 > self.max_bytes {
            return Err(format!(
                "{url}: larger than the limit of {} (update.max_download_mb)",
                human_mb(self.max_bytes)
            ));
        }
        Ok(out)
    }

    /// Fetches the MD5 published beside `url` (`URL.md5`: 32 hex digits, optionally
    /// followed by a file name as md5sum prints it).
    ///
    /// # Errors
    /// The checksum file cannot be fetched or holds no MD5.
    pub fn md5_of(&self, url: &str) -> Result<String, String> {
        let sum_url = format!("{url}.md5");
        let small = Fetcher {
            agent: self.agent.clone(),
            max_bytes: 4096,
        };
        let bytes = match small.fetch(&sum_url, None)? {
            Fetched::Body { bytes, .. } => bytes,
            Fetched::Unchanged => return Err(format!("{sum_url}: unexpected 304")),
        };
        let text = String::from_utf8_lossy(&bytes);
        let word = text.split_whitespace().next().unwrap_or("");
        if word.len() == 32 && word.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(word.to_ascii_lowercase())
        } else {
            Err(format!(
                "{sum_url}: expected 32 hex digits (an MD5), got {:?}",
                text.chars().take(40).collect::<String>()
            ))
        }
    }
}

/// `n` bytes as MiB for messages.
pub fn human_mb(n: u64) -> String {
    format!("{} MiB", n / (1024 * 1024))
}

pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn file_urls_and_limits() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.txt");
        std::fs::write(&p, b"12345").unwrap();
        let url = format!("file://{}", p.display());
        let f = Fetcher::new(Duration::from_secs(5), 5);
        assert!(
            matches!(f.fetch(&url, None), Ok(Fetched::Body { bytes, .. }) if bytes == b"12345")
        );
        let f = Fetcher::new(Duration::from_secs(5), 4);
        let e = f.fetch(&url, None).unwrap_err();
        assert!(e.contains("larger than the limit"), "{e}");
        let e = f.fetch("file://relative", None).unwrap_err();
        assert!(e.contains("absolute"), "{e}");
        let e = f
            .fetch(&format!("file://{}/missing", t.path().display()), None)
            .unwrap_err();
        assert!(e.contains("missing"), "{e}");
    }
}
