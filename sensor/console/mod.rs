//! `nsm-sensor console`: the analyst's read-only web console over the sensor's own files —
//! eve.json and the Snort `alert` file, stats.log, the ring, the evidence store and the rule
//! set — in the same binary, every asset embedded (no CDN, works offline).
//!
//! Pages: Alerts (grouped by signature + source + destination, filters, live), Alert (the
//! `alert_full` record, the EVE record, the investigation with its verdict, the conversation
//! as a table and a timeline, the evidence pcap and a carve of the surrounding minutes, the
//! rule with its file:line) and Sensor (rates from stats.log, ring files, disk use, rule set,
//! last reload). The pages use the JSON API under `/api/` ([`api`]).
//!
//! Security ([`check`] at start-up, [`auth`] per request): loopback unless configured; any
//! other address needs TLS and authentication or the console refuses to start; downloads are
//! named by alert id and time, never by path, and come only out of the ring and the evidence
//! store; a strict Content-Security-Policy; rule and packet text escaped; carves bounded in
//! span and size. The console writes nothing of the sensor's: an investigation's or carve's
//! pcap goes to the console's own scratch directory and is removed once sent. (The ring
//! reader rebuilds a missing or stale ring index sidecar when it may write the directory;
//! the systemd unit gives the console read-only access, where it just reads.)

pub mod api;
pub mod auth;
pub mod index;
mod page;
pub mod stats;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::ConsoleConfig;
use crate::rules::LoadOptions;

pub use api::router;
pub use auth::Auth;

/// What went wrong at start-up, broadly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The configuration cannot be served as asked (a public address without TLS or
    /// authentication, a bad password hash, an unreadable certificate).
    Config,
    /// Binding the address or running the server failed.
    Io,
}

/// A start-up error of the console: a kind and a human message.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Config,
            message: message.into(),
        }
    }

    pub(crate) fn io(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Io,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// TLS certificate chain and key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything the console serves from and how.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// LOGDIR: eve.json, alert, stats.log.
    pub log_dir: PathBuf,
    pub ring_dir: PathBuf,
    pub evidence_dir: PathBuf,
    /// The sensor's pidfile, whose reload status beside it the Sensor page shows.
    pub pidfile: Option<PathBuf>,
    /// The rule set to show rules from (`None`: none configured).
    pub rules: Option<LoadOptions>,
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    pub auth: Auth,
    /// Longest time span of one carve, seconds.
    pub max_carve_s: u32,
    /// Largest carve or evidence download, bytes.
    pub max_download_bytes: u64,
    /// Alerts kept in the index.
    pub max_alerts: usize,
    /// Where investigations and carves write their pcaps before sending them (default: a
    /// fresh directory under the system's temporary directory).
    pub scratch_dir: Option<PathBuf>,
}

impl ConsoleOptions {
    /// Options from the `[console]` section (relative paths against `base`, the config
    /// file's directory) over the given directories.
    ///
    /// # Errors
    /// The listen address does not parse; the token file cannot be read or is empty.
    pub fn from_config(
        c: &ConsoleConfig,
        base: &Path,
        log_dir: &Path,
        ring_dir: &Path,
        evidence_dir: &Path,
    ) -> Result<ConsoleOptions, Error> {
        let join = |p: &Path| {
            if p.as_os_str().is_empty() || p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let listen = parse_listen(&c.listen)?;
        let tls = match (
            c.tls_cert.as_os_str().is_empty(),
            c.tls_key.as_os_str().is_empty(),
        ) {
            (true, true) => None,
            (false, false) => Some(TlsFiles {
                cert: join(&c.tls_cert),
                key: join(&c.tls_key),
            }),
            _ => {
                return Err(Error::config(
                    "[console] tls_cert and tls_key go together: give both or neither",
                ))
            }
        };
        let token = if c.token_file.as_os_str().is_empty() {
            None
        } else {
            Some(auth::read_token(&join(&c.token_file))?)
        };
        let auth = Auth::new(
            c.user.clone(),
            (!c.password_hash.is_empty()).then(|| c.password_hash.clone()),
            token,
        )?;
        Ok(ConsoleOptions {
            log_dir: log_dir.to_path_buf(),
            ring_dir: ring_dir.to_path_buf(),
            evidence_dir: evidence_dir.to_path_buf(),
            pidfile: None,
            rules: None,
            listen,
            tls,
            auth,
            max_carve_s: c.max_carve_s,
            max_download_bytes: u64::from(c.max_carve_mb) << 20,
            max_alerts: c.max_alerts as usize,
            scratch_dir: None,
        })
    }
}

/// `ADDR:PORT` (`[v6]:PORT` for IPv6).
///
/// # Errors
/// Not an address and port.
pub fn parse_listen(s: &str) -> Result<SocketAddr, Error> {
    s.trim().parse().map_err(|_| {
        Error::config(format!(
            "bad listen address {s:?}: expected ADDR:PORT, e.g. 127.0.0.1:8470 or [::1]:8470"
        ))
    })
}

/// The start-up rule: a loopback address may go without TLS and authentication; any other
/// address is refused unless both are configured.
///
/// # Errors
/// `ErrorKind::Config` naming what is missing.
pub fn check(opts: &ConsoleOptions) -> Result<(), Error> {
    if opts.listen.ip().is_loopback() {
        return Ok(());
    }
    let mut missing = Vec::new();
    if opts.tls.is_none() {
        missing.push("TLS ([console] tls_cert and tls_key)");
    }
    if !opts.auth.is_enabled() {
        missing.push("authentication ([console] password_hash or token_file)");
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::config(format!(
        "refusing to listen on {}: a non-loopback address requires {}; \
         or listen on 127.0.0.1 and reach it through an SSH tunnel",
        opts.listen,
        missing.join(" and ")
    )))
}

/// Runs the console until SIGINT or SIGTERM. `ready` is called with the bound address once
/// the socket listens (port 0 picks a free port).
///
/// # Errors
/// [`check`] refuses the configuration; the TLS files cannot be read; the address cannot be
/// bound; the scratch directory cannot be created.
pub fn serve(opts: ConsoleOptions, ready: impl FnOnce(SocketAddr, bool)) -> Result<(), Error> {
    check(&opts)?;
    let tls = match &opts.tls {
        Some(t) => Some(auth::tls_config(t)?),
        None => None,
    };
    let scratch = api::Scratch::create(opts.scratch_dir.as_deref())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io(format!("cannot start the runtime: {e}")))?;
    let listener = std::net::TcpListener::bind(opts.listen)
        .map_err(|e| Error::io(format!("cannot listen on {}: {e}", opts.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io(format!("{}: {e}", opts.listen)))?;
    let state = api::State::new(opts, scratch);
    state.refresh_now();
    // The rules before the first request, so an Alert page never lacks its rule.
    state.reload_rules_if_changed();
    let app = router(Arc::clone(&state));
    let result = rt.block_on(async move {
        let refresher = api::spawn_refresh(Arc::clone(&state));
        let served = match tls {
            Some(cfg) => {
                let handle = axum_server::Handle::new();
                let h = handle.clone();
                tokio::spawn(async move {
                    shutdown_signal().await;
                    h.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
                });
                let server = axum_server::from_tcp_rustls(
                    listener,
                    axum_server::tls_rustls::RustlsConfig::from_config(cfg),
                )
                .map_err(|e| Error::io(format!("{addr}: {e}")))?;
                ready(addr, true);
                server.handle(handle).serve(app.into_make_service()).await
            }
            None => {
                listener
                    .set_nonblocking(true)
                    .map_err(|e| Error::io(format!("{addr}: {e}")))?;
                let l = tokio::net::TcpListener::from_std(listener)
                    .map_err(|e| Error::io(format!("{addr}: {e}")))?;
                ready(addr, false);
                axum::serve(l, app)
                    .with_graceful_shutdown(shutdown_signal())
                    .await
            }
        };
        refresher.abort();
        served.map_err(|e| Error::io(format!("serving {addr}: {e}")))
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without handlers the default action (exit) stays: nothing to wait for.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
