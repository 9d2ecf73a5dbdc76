//! The `[console]` section: where `nsm-sensor console` listens, its TLS certificate and
//! authentication, and the bounds of what one request may ask for. Schema and defaults only;
//! the console checks at start-up that a non-loopback address has TLS and authentication.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Ty;

/// `[console]`: the analyst's read-only web console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// `ADDR:PORT`; anything but a loopback address needs `tls_cert`, `tls_key` and
    /// `password_hash` or `token_file`.
    pub listen: String,
    /// PEM certificate chain and private key (relative to the config file).
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// User name for HTTP Basic authentication with `password_hash`.
    pub user: String,
    /// Argon2 PHC string (`nsm-sensor console --hash-password` prints one).
    pub password_hash: String,
    /// A file whose first line is a bearer token (`Authorization: Bearer TOKEN`).
    pub token_file: PathBuf,
    /// Longest time span one carve download may cover.
    pub max_carve_s: u32,
    /// Largest carve download; a carve that would pass it is refused.
    pub max_carve_mb: u32,
    /// Alerts of eve.json kept in the console's index (the oldest go first, counted).
    pub max_alerts: u32,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            listen: "127.0.0.1:8470".into(),
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
            user: "analyst".into(),
            password_hash: String::new(),
            token_file: PathBuf::new(),
            max_carve_s: 1800,
            max_carve_mb: 256,
            max_alerts: 2_000_000,
        }
    }
}

/// The keys of `[console]` and what each accepts.
pub(super) const KEYS: &[(&str, Ty)] = &[
    ("listen", Ty::Str),
    ("tls_cert", Ty::Path),
    ("tls_key", Ty::Path),
    ("user", Ty::Str),
    ("password_hash", Ty::Str),
    ("token_file", Ty::Path),
    ("max_carve_s", Ty::Int(1, 86_400)),
    ("max_carve_mb", Ty::Int(1, 65_536)),
    ("max_alerts", Ty::Int(1000, 100_000_000)),
];
