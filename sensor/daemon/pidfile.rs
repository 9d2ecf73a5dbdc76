//! The daemon's side of [`super::control`]: claiming the pidfile at start-up, writing the
//! reload status after every rule load, and removing both at exit. Every file goes through
//! [`crate::safefs`]: the pid is written to an `O_EXCL` temporary file with an unguessable name
//! and linked in under the pidfile's name only if that name is free (so of two sensors
//! starting at once exactly one gets it); the status is renamed into place.
//!
//! A pidfile that names a running nsm-sensor stops the start-up; one whose process is gone,
//! or runs something else, or that is not a pidfile at all (a planted link is replaced, never
//! followed) is taken over with a warning.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::control::{self, ControlErrorKind, ReloadStatus};
use crate::safefs;

/// A pidfile this process holds; removed (with the status beside it) on drop when it still
/// names this process.
#[derive(Debug)]
pub struct PidFile {
    dir: safefs::Dir,
    name: String,
    status_name: String,
    pid: u32,
    /// The directories created for the pidfile, outermost first (handed to the sensor's
    /// user with its other directories, so that it can still write the status and remove
    /// the pidfile after dropping privileges).
    created: Vec<std::path::PathBuf>,
    /// A status write failed already: warn once, not after every reload.
    status_warned: bool,
}

/// Why the pidfile could not be claimed.
#[derive(Debug)]
pub enum ClaimError {
    /// Another nsm-sensor runs with this pidfile.
    Running(String),
    /// The pidfile or its directory could not be created or written.
    Io(String),
}

impl PidFile {
    /// Claims `path` for this process (creating its directory, 0750, when missing).
    ///
    /// # Errors
    /// Another running nsm-sensor holds it, or it cannot be written.
    pub fn claim(path: &Path) -> Result<PidFile, ClaimError> {
        let io = |e: std::io::Error| ClaimError::Io(format!("cannot write the pidfile: {e}"));
        let (dir_path, name) = safefs::split(path).map_err(io)?;
        let status = control::status_path(path);
        let status_name = status
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("nsm-sensor.reload")
            .to_string();
        let (dir, created) = safefs::Dir::create_all(&dir_path).map_err(io)?;
        let pid = std::process::id();
        let write_temp = || -> std::io::Result<safefs::TempFile> {
            let mut t = dir.temp(&name)?;
            if let Some(f) = t.file() {
                writeln!(f, "{pid}")?;
                // Readable by all, as pidfiles are: also by the sensor itself after it
                // dropped to another user (it checks the pid before removing the file).
                f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
                f.sync_all()?;
            }
            Ok(t)
        };
        let mut tries = 0;
        loop {
            tries += 1;
            match write_temp().and_then(safefs::TempFile::commit_new) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 3 => {}
                Err(e) => return Err(io(e)),
            }
            // The name is taken: by a running sensor (refuse), or stale (take over).
            match control::running_sensor(path) {
                Ok(other) if other != pid => {
                    return Err(ClaimError::Running(format!(
                        "another nsm-sensor (pid {other}) is running with the pidfile {}; \
                         stop it first or configure another [daemon] pidfile",
                        path.display()
                    )))
                }
                Ok(_) => break,
                Err(e) => {
                    if e.kind() == ControlErrorKind::NoPidfile {
                        // Removed meanwhile: try the exclusive link again.
                        continue;
                    }
                    tracing::warn!("taking over the pidfile: {e}");
                    write_temp()
                        .and_then(safefs::TempFile::commit)
                        .map_err(io)?;
                    break;
                }
            }
        }
        // Two sensors taking over the same stale pidfile at once: the last rename wins, and
        // the other one must not run.
        match control::read_pidfile(path) {
            Ok(p) if p == pid => {}
            Ok(other) => {
                return Err(ClaimError::Running(format!(
                    "another nsm-sensor (pid {other}) took the pidfile {} at the same time",
                    path.display()
                )))
            }
            Err(e) => return Err(ClaimError::Io(e.to_string())),
        }
        tracing::info!("pidfile {} (pid {pid})", path.display());
        Ok(PidFile {
            dir,
            name,
            status_name,
            pid,
            created,
            status_warned: false,
        })
    }

    /// The directories [`PidFile::claim`] created.
    pub fn created_dirs(&self) -> &[std::path::PathBuf] {
        &self.created
    }

    /// Writes `status` beside the pidfile (temporary file, renamed into place). A failure is
    /// logged (once): the sensor keeps running, only `update` cannot confirm its reloads.
    pub fn write_status(&mut self, status: &ReloadStatus) {
        let r = self.dir.temp(&self.status_name).and_then(|mut t| {
            if let Some(f) = t.file() {
                let mut text = serde_json::to_vec(status).map_err(std::io::Error::other)?;
                text.push(b'\n');
                f.write_all(&text)?;
            }
            t.commit()
        });
        match r {
            Ok(()) => self.status_warned = false,
            Err(e) if !self.status_warned => {
                self.status_warned = true;
                tracing::warn!("cannot write the reload status: {e}");
            }
            Err(_) => {}
        }
    }

    /// Removes `name` when it is a small regular file naming this process (the pidfile, or a
    /// status whose `pid` is ours).
    fn remove_own(&self, name: &str, is_status: bool) {
        let text = match self.dir.read_small(name, 256 * 1024) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(
                    "cannot check {} before removing it: {e}",
                    self.dir.join(name).display()
                );
                return;
            }
        };
        let ours = if is_status {
            serde_json::from_slice::<ReloadStatus>(&text).is_ok_and(|s| s.pid == self.pid)
        } else {
            control::parse_pid(&text) == Some(self.pid)
        };
        if !ours {
            if !is_status {
                tracing::warn!(
                    "{} now names another process: left in place",
                    self.dir.join(name).display()
                );
            }
            return;
        }
        if let Err(e) = self.dir.remove(name) {
            tracing::warn!("cannot remove {e}");
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        self.remove_own(&self.status_name, true);
        self.remove_own(&self.name, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_writes_and_removes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("run/nsm-sensor.pid");
        let mut f = PidFile::claim(&p).unwrap();
        assert_eq!(control::read_pidfile(&p).unwrap(), std::process::id());
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{mode:o}");
        let st = ReloadStatus {
            pid: std::process::id(),
            reloads: 0,
            ok: true,
            message: "3 rules".into(),
            rules: 3,
            generation: 1,
            started_monotonic_ns: 1,
            finished_at: "2026-12-01T00:00:00Z".into(),
        };
        f.write_status(&st);
        assert_eq!(control::read_status(&p).unwrap(), st);
        // This very process (a test binary, not nsm-sensor) holds it: a second claim by the
        // same pid takes it over rather than refusing itself.
        drop(f);
        assert!(!p.exists() && !control::status_path(&p).exists());
    }

    #[test]
    fn a_stale_pidfile_or_planted_link_is_taken_over() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("nsm-sensor.pid");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(&p, format!("{dead}\n")).unwrap();
        let f = PidFile::claim(&p).unwrap();
        assert_eq!(control::read_pidfile(&p).unwrap(), std::process::id());
        drop(f);

        let victim = d.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        let f = PidFile::claim(&p).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(!std::fs::symlink_metadata(&p)
            .unwrap()
            .file_type()
            .is_symlink());
        drop(f);
    }

    #[test]
    fn a_pidfile_that_names_someone_else_is_left_at_exit() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("nsm-sensor.pid");
        let f = PidFile::claim(&p).unwrap();
        std::fs::write(&p, "77777\n").unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "77777\n");
    }
}
