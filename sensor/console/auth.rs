//! Who may use the console and over what: HTTP Basic against an Argon2 password hash, or a
//! bearer token from a file; TLS from PEM files (rustls, the ring provider). A verified
//! Basic header is remembered (its SHA-256, a few dozen at most) so that a page's many
//! requests do not each pay for Argon2. Failed attempts are counted and logged at most once
//! a minute (a password guesser would otherwise write a line per guess).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{Error, TlsFiles};

/// Verified Basic headers remembered.
const CACHE: usize = 32;
/// Longest token file read.
const MAX_TOKEN_FILE: u64 = 4096;
/// Shortest time between two log lines about failed logins.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(60);

/// Failed logins: the total, and those not logged yet.
#[derive(Debug, Default)]
struct Failures {
    total: u64,
    unlogged: u64,
    last_log: Option<Instant>,
}

/// The console's authentication: none (loopback only), a password hash, a token, or both.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    user: String,
    password_hash: Option<String>,
    token: Option<String>,
    verified: Arc<Mutex<VecDeque<[u8; 32]>>>,
    failures: Arc<Mutex<Failures>>,
}

impl Auth {
    /// # Errors
    /// `password_hash` is not an Argon2 PHC string (`$argon2id$v=19$...`).
    pub fn new(
        user: String,
        password_hash: Option<String>,
        token: Option<String>,
    ) -> Result<Auth, Error> {
        if let Some(h) = &password_hash {
            let parsed = PasswordHash::new(h).map_err(|e| {
                Error::config(format!(
                    "[console] password_hash is not an Argon2 PHC string ({e}); \
                     make one with `nsm-sensor console --hash-password`"
                ))
            })?;
            if !parsed.algorithm.as_str().starts_with("argon2") {
                return Err(Error::config(format!(
                    "[console] password_hash uses {:?}: expected argon2id (or argon2i/argon2d)",
                    parsed.algorithm.as_str()
                )));
            }
        }
        Ok(Auth {
            user,
            password_hash,
            token,
            verified: Arc::default(),
            failures: Arc::default(),
        })
    }

    /// No authentication.
    pub fn none() -> Auth {
        Auth::default()
    }

    /// Whether requests must authenticate.
    pub fn is_enabled(&self) -> bool {
        self.password_hash.is_some() || self.token.is_some()
    }

    /// Whether checking `header` would run Argon2 (a Basic header not verified recently):
    /// the caller then runs [`Auth::admits`] off the async runtime's worker threads.
    pub fn needs_hashing(&self, header: Option<&[u8]>) -> bool {
        let Some(h) = header.and_then(|h| std::str::from_utf8(h).ok()) else {
            return false;
        };
        if self.token.is_some() && h.starts_with("Bearer ") {
            return false;
        }
        self.password_hash.is_some() && h.starts_with("Basic ") && !self.cached(h)
    }

    fn cached(&self, header: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(header.as_bytes()).into();
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&digest)
    }

    /// Whether the `Authorization` header value admits the request. A header given and
    /// refused is a failed login: counted ([`Auth::failed_logins`]) and logged at most once a
    /// minute. A Basic header not verified recently costs an Argon2 verification (tens of
    /// milliseconds of CPU and memory): see [`Auth::needs_hashing`].
    pub fn admits(&self, header: Option<&[u8]>) -> bool {
        if !self.is_enabled() {
            return true;
        }
        let ok = self.check(header);
        if !ok && header.is_some() {
            self.note_failure();
        }
        ok
    }

    /// Failed logins since the start.
    pub fn failed_logins(&self) -> u64 {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    fn note_failure(&self) {
        let mut f = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        f.total += 1;
        f.unlogged += 1;
        let now = Instant::now();
        if f.last_log
            .is_none_or(|t| now.duration_since(t) >= FAILURE_LOG_EVERY)
        {
            tracing::warn!(
                "console: {} failed login(s) since the last report ({} in all)",
                f.unlogged,
                f.total
            );
            f.unlogged = 0;
            f.last_log = Some(now);
        }
    }

    fn check(&self, header: Option<&[u8]>) -> bool {
        let Some(h) = header.and_then(|h| std::str::from_utf8(h).ok()) else {
            return false;
        };
        if let (Some(tok), Some(given)) = (&self.token, h.strip_prefix("Bearer ")) {
            return constant_time_eq(tok.as_bytes(), given.trim().as_bytes());
        }
        let (Some(hash), Some(b64)) = (&self.password_hash, h.strip_prefix("Basic ")) else {
            return false;
        };
        if self.cached(h) {
            return true;
        }
        let digest: [u8; 32] = Sha256::digest(h.as_bytes()).into();
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(raw) else {
            return false;
        };
        let Some((user, password)) = text.split_once(':') else {
            return false;
        };
        let ok = constant_time_eq(user.as_bytes(), self.user.as_bytes())
            & Argon2::default()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok();
        if ok {
            if let Ok(mut cache) = self.verified.lock() {
                if cache.len() >= CACHE {
                    cache.pop_front();
                }
                cache.push_back(digest);
            }
        }
        ok
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An Argon2id PHC string for `password`, with a fresh random salt.
///
/// # Errors
/// The system's random source failed.
pub fn hash_password(password: &str) -> Result<String, Error> {
    use argon2::PasswordHasher;
    let mut salt = [0u8; 16];
    getrandom(&mut salt)?;
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::config(format!("cannot hash the password: {e}")))
}

/// Fills `buf` from the kernel's random source.
pub(crate) fn getrandom(buf: &mut [u8]) -> Result<(), Error> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .map_err(|e| Error::io(format!("/dev/urandom: {e}")))
}

/// The first line of a token file, trimmed.
///
/// # Errors
/// The file cannot be read, is larger than 4 KiB, or holds an empty token.
pub fn read_token(path: &Path) -> Result<String, Error> {
    let (dir, name) = crate::safefs::split(path)
        .map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
    let text = crate::safefs::Dir::open(&dir)
        .and_then(|d| d.read_small(&name, MAX_TOKEN_FILE))
        .map_err(|e| Error::config(format!("[console] token_file {}: {e}", path.display())))?;
    let tok = String::from_utf8_lossy(&text)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if tok.len() < 16 {
        return Err(Error::config(format!(
            "[console] token_file {}: expected a token of at least 16 characters on its first line",
            path.display()
        )));
    }
    Ok(tok)
}

/// A rustls server configuration from PEM files.
///
/// # Errors
/// A file cannot be read, holds no certificate or key, or they do not go together.
pub fn tls_config(t: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&t.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Error::config(format!("[console] tls_cert {}: {e}", t.cert.display())))?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "[console] tls_cert {}: no PEM certificate in it",
            t.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&t.key)
        .map_err(|e| Error::config(format!("[console] tls_key {}: {e}", t.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            Error::config(format!(
                "[console] tls_cert {} and tls_key {}: {e}",
                t.cert.display(),
                t.key.display()
            ))
        })?;
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer() {
        let hash = hash_password("s3cret").unwrap();
        let a = Auth::new(
            "analyst".into(),
            Some(hash),
            Some("t0ken-t0ken-t0ken-1".into()),
        )
        .unwrap();
        let basic = |u: &str, p: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        };
        assert!(a.admits(Some(basic("analyst", "s3cret").as_bytes())));
        // Cached now; still right.
        assert!(a.admits(Some(basic("analyst", "s3cret").as_bytes())));
        assert!(!a.admits(Some(basic("analyst", "wrong").as_bytes())));
        assert!(!a.admits(Some(basic("root", "s3cret").as_bytes())));
        assert!(a.admits(Some(b"Bearer t0ken-t0ken-t0ken-1")));
        assert!(!a.admits(Some(b"Bearer t0ken-t0ken-t0ken-2")));
        assert!(!a.admits(None));
        assert!(!a.admits(Some(b"Basic !!!")));
        assert!(Auth::none().admits(None));
        // Refused headers are failed logins; a missing one (a browser's first try) is not.
        assert_eq!(a.failed_logins(), 4);
        // Argon2 only for a Basic header not verified recently.
        assert!(!a.needs_hashing(Some(basic("analyst", "s3cret").as_bytes())));
        assert!(a.needs_hashing(Some(basic("analyst", "wrong").as_bytes())));
        assert!(!a.needs_hashing(Some(b"Bearer t0ken-t0ken-t0ken-2")));
        assert!(!a.needs_hashing(None));
        assert!(Auth::new("a".into(), Some("plain".into()), None).is_err());
    }
}
