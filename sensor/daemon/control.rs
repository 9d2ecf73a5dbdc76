//! Talking to a running sensor from another process: find it through its pidfile, make sure
//! the pid is really an nsm-sensor, send SIGHUP and wait for the reload status the daemon
//! writes beside the pidfile. Also owns that status file's format ([`ReloadStatus`]), which
//! the daemon side ([`super::pidfile`]) writes. Never touches the daemon's state otherwise.
//!
//! The status file (`nsm-sensor.reload` beside `nsm-sensor.pid`) is one JSON object, written
//! with a temporary file renamed into place after every reload attempt and once at start-up
//! (`reloads: 0`):
//!
//! ```text
//! {"pid":4242,"reloads":3,"ok":true,"message":"1021 rules (1021 loaded, 3 skipped)","rules":1021,
//!  "generation":7,"started_monotonic_ns":81234567890,"finished_at":"2026-12-01T04:00:01.250Z"}
//! ```
//!
//! Repeated SIGHUPs coalesce in the daemon: a HUP that arrives while a reload runs queues one
//! more reload. So "the count went up" is not enough: that may be the reload that was already
//! reading the old files. [`reload`] notes `CLOCK_MONOTONIC` (one clock for the whole system)
//! just before it signals and accepts only a status whose reload *started* after that, which
//! is the queued one in that case.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, test_kill_process, Pid, Signal};
use serde::{Deserialize, Serialize};

use crate::safefs;

/// The largest pid Linux hands out (`PID_MAX_LIMIT`, 2^22).
const PID_MAX: u32 = 1 << 22;
/// A pidfile holds a number and a newline: anything longer is not one of ours.
const PIDFILE_LIMIT: u64 = 32;
/// The status carries at most a few dozen diagnostics; anything larger is not ours.
const STATUS_LIMIT: u64 = 256 * 1024;
/// How often [`reload`] looks at the status file.
const POLL: Duration = Duration::from_millis(50);

/// The result of one rule load by the daemon (start-up or a reload), as written to the status
/// file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadStatus {
    /// The daemon that wrote it.
    pub pid: u32,
    /// Reload attempts finished since start-up (0: the start-up load).
    pub reloads: u64,
    /// Whether the new rules and configuration are in effect.
    pub ok: bool,
    /// A one-line summary when ok; else what failed, then every diagnostic (capped), one per
    /// line, each with path:line:col.
    pub message: String,
    /// Rules in effect after this attempt (the old count when it failed).
    pub rules: u64,
    /// Generation of the rule set in effect after this attempt.
    pub generation: u64,
    /// When the load began reading files, `CLOCK_MONOTONIC` in nanoseconds.
    pub started_monotonic_ns: u64,
    /// When it finished, RFC 3339 UTC.
    pub finished_at: String,
}

/// What the daemon answered to one [`reload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadReply {
    pub ok: bool,
    /// See [`ReloadStatus::message`].
    pub message: String,
    pub rules: u64,
    pub generation: u64,
    /// The daemon's reload count after this reload.
    pub reloads: u64,
    pub pid: u32,
}

/// Why [`reload`] could not get an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlErrorKind {
    /// No pidfile at the path: the daemon is not running (or runs without a pidfile).
    NoPidfile,
    /// The pidfile is a link, not a regular file, too large, or holds no sane pid.
    BadPidfile,
    /// The pid in the pidfile is not running (a stale pidfile), or it exited while reloading.
    NotRunning,
    /// The pid runs, but it is not nsm-sensor (the pid was reused).
    NotSensor,
    /// No status for a reload started after the signal within the timeout.
    Timeout,
    /// Reading the pidfile or status, or sending the signal, failed.
    Io,
}

/// A failure of [`reload`], with a message naming the pidfile and pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlError {
    kind: ControlErrorKind,
    message: String,
}

impl ControlError {
    fn new(kind: ControlErrorKind, message: impl Into<String>) -> Self {
        ControlError {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ControlErrorKind {
        self.kind
    }
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ControlError {}

/// The status file that belongs to `pidfile`: the same name with the extension `reload`
/// (`nsm-sensor.pid` → `nsm-sensor.reload`; `run.reload` → `run.reload.reload`).
pub fn status_path(pidfile: &Path) -> PathBuf {
    let with = pidfile.with_extension("reload");
    if with == pidfile {
        let mut s = pidfile.as_os_str().to_os_string();
        s.push(".reload");
        PathBuf::from(s)
    } else {
        with
    }
}

/// `CLOCK_MONOTONIC` now, in nanoseconds (the same clock in every process of the system).
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(t.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(t.tv_nsec).unwrap_or(0))
}

/// A pid as written in a pidfile: decimal digits, optional surrounding white space, from 2 to
/// Linux's largest (never 0, which signals a process group, nor 1, init).
pub fn parse_pid(text: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(text).ok()?.trim();
    if s.is_empty() || s.len() > 7 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pid: u32 = s.parse().ok()?;
    (2..=PID_MAX).contains(&pid).then_some(pid)
}

/// Reads the pid from `pidfile`, never through a link as the last component.
///
/// # Errors
/// [`ControlErrorKind::NoPidfile`] when missing; [`ControlErrorKind::BadPidfile`] for a
/// link, a non-regular or oversized file, or contents that are not a sane pid;
/// [`ControlErrorKind::Io`] otherwise.
pub fn read_pidfile(pidfile: &Path) -> Result<u32, ControlError> {
    let bad = |why: String| ControlError::new(ControlErrorKind::BadPidfile, why);
    let (dir, name) = safefs::split(pidfile).map_err(|e| bad(e.to_string()))?;
    let missing = || {
        ControlError::new(
            ControlErrorKind::NoPidfile,
            format!(
                "{}: no such pidfile; is nsm-sensor running (with [daemon] pidfile set)?",
                pidfile.display()
            ),
        )
    };
    let other = |e: io::Error| match e.kind() {
        io::ErrorKind::NotFound => missing(),
        io::ErrorKind::PermissionDenied => ControlError::new(
            ControlErrorKind::Io,
            format!("cannot read the pidfile: {e}"),
        ),
        _ => bad(format!("{e}; not a pidfile")),
    };
    let d = safefs::Dir::open(&dir).map_err(other)?;
    // Looked at before the open, so that a link is named as such (the open refuses it too).
    let st = d.entry_metadata(&name).map_err(other)?;
    match rustix::fs::FileType::from_raw_mode(st.st_mode) {
        rustix::fs::FileType::RegularFile => {}
        rustix::fs::FileType::Symlink => {
            return Err(bad(format!(
                "{}: is a symbolic link; refusing to follow it",
                pidfile.display()
            )))
        }
        _ => {
            return Err(bad(format!(
                "{}: is not a regular file; not a pidfile",
                pidfile.display()
            )))
        }
    }
    let text = d.read_small(&name, PIDFILE_LIMIT).map_err(other)?;
    parse_pid(&text).ok_or_else(|| {
        bad(format!(
            "{}: does not hold a process id ({:?})",
            pidfile.display(),
            String::from_utf8_lossy(&text[..text.len().min(16)])
        ))
    })
}

/// Whether `pid` runs (signal 0; a process of another user counts as running).
pub fn is_alive(pid: u32) -> bool {
    let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    match test_kill_process(p) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

/// Whether `pid` is an nsm-sensor: its executable's file name (`/proc/PID/exe`, also when the
/// binary was replaced by an upgrade: "nsm-sensor (deleted)"), or, when that link cannot be
/// read (another user's process), its command name (`/proc/PID/comm`).
pub fn is_sensor(pid: u32) -> bool {
    const NAME: &str = "nsm-sensor";
    let proc = PathBuf::from(format!("/proc/{pid}"));
    match std::fs::read_link(proc.join("exe")) {
        Ok(exe) => exe
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.strip_suffix(" (deleted)").unwrap_or(n) == NAME),
        Err(_) => std::fs::read_to_string(proc.join("comm")).is_ok_and(|c| c.trim_end() == NAME),
    }
}

/// Who holds `pidfile`: its pid when that process runs and is an nsm-sensor.
///
/// # Errors
/// As [`read_pidfile`]; [`ControlErrorKind::NotRunning`] for a pid that does not run;
/// [`ControlErrorKind::NotSensor`] for a pid that runs something else.
pub fn running_sensor(pidfile: &Path) -> Result<u32, ControlError> {
    let pid = read_pidfile(pidfile)?;
    if !is_alive(pid) {
        return Err(ControlError::new(
            ControlErrorKind::NotRunning,
            format!(
                "{}: stale pidfile: process {pid} is not running",
                pidfile.display()
            ),
        ));
    }
    if !is_sensor(pid) {
        return Err(ControlError::new(
            ControlErrorKind::NotSensor,
            format!(
                "{}: process {pid} is not nsm-sensor (a stale pidfile whose pid was reused); \
                 not signalling it",
                pidfile.display()
            ),
        ));
    }
    Ok(pid)
}

/// The reload status written beside `pidfile`, if there is a readable one.
///
/// # Errors
/// Missing, a link, oversized, or not the status format.
pub fn read_status(pidfile: &Path) -> io::Result<ReloadStatus> {
    let path = status_path(pidfile);
    let (dir, name) = safefs::split(&path)?;
    let text = safefs::Dir::open(&dir)?.read_small(&name, STATUS_LIMIT)?;
    serde_json::from_slice(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a reload status: {e}", path.display()),
        )
    })
}

/// Asks the nsm-sensor named by `pidfile` to reload (SIGHUP) and waits for the result of a
/// reload that started after the signal.
///
/// # Errors
/// See [`ControlErrorKind`]: no pidfile, a bad one, a stale one (the pid is not running, or
/// is not nsm-sensor), no answer within `timeout`, or an I/O error; each message names the
/// pidfile and the pid.
///
/// # Examples
/// ```no_run
/// use std::path::Path;
/// use std::time::Duration;
/// use nsm_sensor::daemon::control;
///
/// match control::reload(Path::new("/run/nsm-sensor/nsm-sensor.pid"), Duration::from_secs(60)) {
///     Ok(r) if r.ok => println!("reloaded: {}", r.message),
///     Ok(r) => eprintln!("reload failed, old rules kept:\n{}", r.message),
///     Err(e) => eprintln!("{e}"),
/// }
/// ```
pub fn reload(pidfile: &Path, timeout: Duration) -> Result<ReloadReply, ControlError> {
    let pid = running_sensor(pidfile)?;
    let signalled_at = monotonic_ns();
    let target = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| ControlError::new(ControlErrorKind::BadPidfile, "bad pid"))?;
    kill_process(target, Signal::HUP).map_err(|e| {
        ControlError::new(
            ControlErrorKind::Io,
            format!(
                "cannot signal nsm-sensor (pid {pid}, from {}): {e}",
                pidfile.display()
            ),
        )
    })?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(st) = read_status(pidfile) {
            if st.pid == pid && st.started_monotonic_ns >= signalled_at {
                return Ok(ReloadReply {
                    ok: st.ok,
                    message: st.message,
                    rules: st.rules,
                    generation: st.generation,
                    reloads: st.reloads,
                    pid,
                });
            }
        }
        if !is_alive(pid) {
            return Err(ControlError::new(
                ControlErrorKind::NotRunning,
                format!(
                    "nsm-sensor (pid {pid}, {}) exited while reloading",
                    pidfile.display()
                ),
            ));
        }
        if Instant::now() >= deadline {
            return Err(ControlError::new(
                ControlErrorKind::Timeout,
                format!(
                    "nsm-sensor (pid {pid}, {}) did not report a reload within {} s (see {} and its log)",
                    pidfile.display(),
                    timeout.as_secs_f32(),
                    status_path(pidfile).display()
                ),
            ));
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn pids_are_parsed_strictly() {
        // One line a case: contents → pid.
        let cases: &[(&[u8], Option<u32>)] = &[
            (b"4242\n", Some(4242)),
            (b"  17 \n", Some(17)),
            (b"2", Some(2)),
            (b"4194304", Some(PID_MAX)),
            (b"4194305", None),
            (b"1\n", None),
            (b"0\n", None),
            (b"-5\n", None),
            (b"+5\n", None),
            (b"12 34\n", None),
            (b"", None),
            (b"\n", None),
            (b"abc", None),
            (b"99999999999999999999", None),
            (b"\xff\xfe", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_pid(text),
                *want,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn status_sits_beside_the_pidfile() {
        assert_eq!(
            status_path(Path::new("/run/nsm-sensor/nsm-sensor.pid")),
            PathBuf::from("/run/nsm-sensor/nsm-sensor.reload")
        );
        assert_eq!(status_path(Path::new("x")), PathBuf::from("x.reload"));
        assert_eq!(
            status_path(Path::new("a.reload")),
            PathBuf::from("a.reload.reload")
        );
    }

    #[test]
    fn no_pidfile() {
        let d = dir();
        let p = d.path().join("nsm-sensor.pid");
        let e = reload(&p, Duration::from_millis(100)).unwrap_err();
        assert_eq!(e.kind(), ControlErrorKind::NoPidfile);
        assert!(e.to_string().contains(&p.display().to_string()), "{e}");
    }

    #[test]
    fn symlinked_pidfile_is_refused() {
        let d = dir();
        let real = d.path().join("real.pid");
        std::fs::write(&real, format!("{}\n", std::process::id())).unwrap();
        let p = d.path().join("nsm-sensor.pid");
        std::os::unix::fs::symlink(&real, &p).unwrap();
        let e = reload(&p, Duration::from_millis(100)).unwrap_err();
        assert_eq!(e.kind(), ControlErrorKind::BadPidfile);
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }

    #[test]
    fn garbage_pidfiles_are_refused() {
        let d = dir();
        let p = d.path().join("nsm-sensor.pid");
        for text in [
            "",
            "hello\n",
            "1\n",
            "0\n",
            "-1\n",
            "123 456\n",
            &"9".repeat(40),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = reload(&p, Duration::from_millis(100)).unwrap_err();
            assert_eq!(e.kind(), ControlErrorKind::BadPidfile, "{text:?}: {e}");
            assert!(e.to_string().contains(&p.display().to_string()), "{e}");
        }
        // A directory at the name.
        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        let e = reload(&p, Duration::from_millis(100)).unwrap_err();
        assert_eq!(e.kind(), ControlErrorKind::BadPidfile, "{e}");
    }

    #[test]
    fn dead_pid_is_a_stale_pidfile() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let d = dir();
        let p = d.path().join("nsm-sensor.pid");
        std::fs::write(&p, format!("{pid}\n")).unwrap();
        let e = reload(&p, Duration::from_millis(100)).unwrap_err();
        assert_eq!(e.kind(), ControlErrorKind::NotRunning, "{e}");
        assert!(e.to_string().contains(&format!("process {pid}")), "{e}");
        assert!(e.to_string().contains("stale"), "{e}");
    }

    #[test]
    fn another_program_is_not_signalled() {
        // `sleep` would die of a SIGHUP: it must not get one.
        let mut child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let d = dir();
        let p = d.path().join("nsm-sensor.pid");
        std::fs::write(&p, format!("{pid}\n")).unwrap();
        let e = reload(&p, Duration::from_millis(100)).unwrap_err();
        assert_eq!(e.kind(), ControlErrorKind::NotSensor, "{e}");
        assert!(e.to_string().contains(&format!("process {pid}")), "{e}");
        std::thread::sleep(Duration::from_millis(100));
        assert!(child.try_wait().unwrap().is_none(), "sleep was signalled");
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn status_round_trips() {
        let d = dir();
        let p = d.path().join("nsm-sensor.pid");
        let st = ReloadStatus {
            pid: 42,
            reloads: 3,
            ok: false,
            message: "reload failed\na.rules:1:1: bad".into(),
            rules: 10,
            generation: 7,
            started_monotonic_ns: monotonic_ns(),
            finished_at: "2026-12-01T04:00:00.000Z".into(),
        };
        std::fs::write(status_path(&p), serde_json::to_vec(&st).unwrap()).unwrap();
        assert_eq!(read_status(&p).unwrap(), st);
        std::fs::write(status_path(&p), "{\"pid\":1}").unwrap();
        assert!(read_status(&p).is_err());
    }
}
