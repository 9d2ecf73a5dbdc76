//! The versions directory of `nsm-sensor update` (`[update] dir`): version directories named
//! by their UTC stamp (`2026-12-01T04-00-00Z`, `-2`, `-3`… when one second holds several),
//! the `current` symlink switched with one `rename()`, `rejected-<stamp>` directories kept
//! aside for inspection, `.staging-<random>` directories being built, the lock file `.lock`,
//! the source cache `.cache/` and `state.json`. Owns names and moves; never what a version
//! holds.
//!
//! Everything goes through a [`Dir`] handle (`openat`/`renameat`/`symlinkat` relative to it),
//! so a link planted in the directory is never followed. Versions are deleted only when they
//! are unmistakably ours: the name pattern, a real directory owned by the sensor, holding
//! only regular files.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{AtFlags, FileType, FlockOperation};

use crate::safefs::{self, Dir};

/// The symlink naming the version in use.
pub const CURRENT: &str = "current";
const LOCK: &str = ".lock";
const STAGING_PREFIX: &str = ".staging-";
const REJECTED_PREFIX: &str = "rejected-";

/// An open versions directory.
#[derive(Debug)]
pub struct Layout {
    pub dir: Dir,
}

/// The exclusive lock of one `update` run; released on drop (the descriptor closes).
#[derive(Debug)]
pub struct Lock {
    _file: std::fs::File,
}

/// `YYYY-MM-DDTHH-MM-SSZ`, optionally followed by `-N`.
pub fn is_version_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let pattern = b"dddd-dd-ddTdd-dd-ddZ";
    let head_ok = b[..20].iter().zip(pattern).all(|(&c, &p)| match p {
        b'd' => c.is_ascii_digit(),
        p => c == p,
    });
    let tail = &b[20..];
    head_ok
        && (tail.is_empty()
            || (tail.len() >= 2 && tail[0] == b'-' && tail[1..].iter().all(u8::is_ascii_digit)))
}

/// The version stamp for now (UTC).
pub fn stamp_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H-%M-%SZ").to_string()
}

/// Orders version names by time, then by their `-N` suffix numerically.
fn version_key(name: &str) -> (&str, u64) {
    let (head, tail) = name.split_at(20.min(name.len()));
    (head, tail.trim_start_matches('-').parse().unwrap_or(0))
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{}: {e}", path.display()))
}

impl Layout {
    /// Opens `path`, creating it (0750) and its parents when missing.
    ///
    /// # Errors
    /// It cannot be created or opened, or its last component is a symbolic link.
    pub fn open(path: &Path) -> io::Result<Layout> {
        let (dir, _) = Dir::create_all(path)?;
        Ok(Layout { dir })
    }

    /// Opens an existing `path` (for `--rollback` and reading).
    ///
    /// # Errors
    /// As [`Dir::open`].
    pub fn open_existing(path: &Path) -> io::Result<Layout> {
        Ok(Layout {
            dir: Dir::open(path)?,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Takes the exclusive lock on `.lock`, waiting at most `wait` for another run to finish.
    ///
    /// # Errors
    /// The lock file cannot be opened, or another run still holds it after `wait` (the
    /// message says so).
    pub fn lock(&self, wait: Duration) -> io::Result<Lock> {
        let file = match self.dir.open_own(LOCK, true) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => match self.dir.create_new(LOCK) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.dir.open_own(LOCK, true)?
                }
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let started = Instant::now();
        loop {
            match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(Lock { _file: file }),
                Err(rustix::io::Errno::WOULDBLOCK) if started.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!(
                            "{}: another `nsm-sensor update` holds the lock; gave up after {} s",
                            self.dir.join(LOCK).display(),
                            wait.as_secs()
                        ),
                    ))
                }
                Err(e) => return Err(io_err(&self.dir.join(LOCK), io::Error::from(e))),
            }
        }
    }

    /// The version `current` names, if it is a symlink to a version name.
    pub fn current(&self) -> Option<String> {
        let target = rustix::fs::readlinkat(&self.dir, CURRENT, Vec::new()).ok()?;
        let name = target.to_str().ok()?.trim_end_matches('/').to_string();
        is_version_name(&name).then_some(name)
    }

    /// Path of version `name`.
    pub fn version_path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The version directories, oldest first.
    ///
    /// # Errors
    /// The directory cannot be read.
    pub fn versions(&self) -> io::Result<Vec<String>> {
        let mut v: Vec<String> = self
            .dir
            .names()?
            .into_iter()
            .filter_map(|n| n.into_string().ok())
            .filter(|n| is_version_name(n) && self.is_own_dir(n))
            .collect();
        v.sort_by(|a, b| version_key(a).cmp(&version_key(b)));
        Ok(v)
    }

    /// A real directory (not a link) owned by the sensor.
    fn is_own_dir(&self, name: &str) -> bool {
        self.dir.entry_metadata(name).is_ok_and(|st| {
            FileType::from_raw_mode(st.st_mode) == FileType::Directory
                && safefs::is_trusted_owner(st.st_uid)
        })
    }

    /// A new, empty staging directory with an unguessable name.
    ///
    /// # Errors
    /// It cannot be created.
    pub fn staging(&self) -> io::Result<(String, Dir)> {
        let name = format!("{STAGING_PREFIX}{}", safefs::random_hex());
        rustix::fs::mkdirat(
            &self.dir,
            name.as_str(),
            rustix::fs::Mode::from_raw_mode(safefs::DIR_MODE),
        )
        .map_err(|e| io_err(&self.dir.join(&name), io::Error::from(e)))?;
        let d = self.dir.subdir(&name, false)?;
        d.chmod(safefs::DIR_MODE)?;
        Ok((name, d))
    }

    /// Removes staging directories left by a run that died (the caller holds the lock, so no
    /// other run is building one).
    pub fn clean_staging(&self) {
        if let Ok(names) = self.dir.names() {
            for n in names.into_iter().filter_map(|n| n.into_string().ok()) {
                if n.starts_with(STAGING_PREFIX) && self.is_own_dir(&n) {
                    let _ = self.remove_tree(&n);
                }
            }
        }
    }

    /// A free name `PREFIX<stamp>[-N]`.
    fn free_name(&self, prefix: &str) -> String {
        let stamp = stamp_now();
        let mut name = format!("{prefix}{stamp}");
        let mut n = 2;
        while self.dir.entry_metadata(&name).is_ok() {
            name = format!("{prefix}{stamp}-{n}");
            n += 1;
        }
        name
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        rustix::fs::renameat(&self.dir, from, &self.dir, to)
            .map_err(|e| io_err(&self.dir.join(to), io::Error::from(e)))
    }

    /// Renames staging directory `staging` to a new version name, which is returned.
    ///
    /// # Errors
    /// The rename failed.
    pub fn publish(&self, staging: &str) -> io::Result<String> {
        let name = self.free_name("");
        self.rename(staging, &name)?;
        Ok(name)
    }

    /// Renames staging directory `staging` to `rejected-<stamp>`, returned.
    ///
    /// # Errors
    /// The rename failed.
    pub fn reject(&self, staging: &str) -> io::Result<String> {
        let name = self.free_name(REJECTED_PREFIX);
        self.rename(staging, &name)?;
        Ok(name)
    }

    /// Points `current` at version `name`: a new symlink under a temporary name, renamed
    /// over `current` (one atomic `rename()`: a reader sees the old or the new, never none).
    ///
    /// # Errors
    /// The link cannot be made or renamed.
    pub fn switch(&self, name: &str) -> io::Result<()> {
        let tmp = format!(".{CURRENT}.{}.tmp", safefs::random_hex());
        rustix::fs::symlinkat(name, &self.dir, tmp.as_str())
            .map_err(|e| io_err(&self.dir.join(&tmp), io::Error::from(e)))?;
        let res = self.rename(&tmp, CURRENT);
        if res.is_err() {
            let _ = rustix::fs::unlinkat(&self.dir, tmp.as_str(), AtFlags::empty());
        }
        res
    }

    /// Deletes the oldest versions beyond `keep` (never the current one) and the
    /// rejected directories beyond `keep`. Returns what was deleted.
    pub fn prune(&self, keep: usize) -> Vec<String> {
        let current = self.current();
        let mut deleted = Vec::new();
        if let Ok(versions) = self.versions() {
            let excess = versions.len().saturating_sub(keep.max(1));
            for v in versions.iter().take(excess) {
                if Some(v) != current.as_ref() && self.remove_tree(v).is_ok() {
                    deleted.push(v.clone());
                }
            }
        }
        let mut rejected: Vec<String> = self
            .dir
            .names()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| n.into_string().ok())
            .filter(|n| {
                n.strip_prefix(REJECTED_PREFIX).is_some_and(is_version_name) && self.is_own_dir(n)
            })
            .collect();
        rejected.sort_by(|a, b| {
            version_key(&a[REJECTED_PREFIX.len()..]).cmp(&version_key(&b[REJECTED_PREFIX.len()..]))
        });
        let excess = rejected.len().saturating_sub(keep.max(1));
        for r in rejected.iter().take(excess) {
            if self.remove_tree(r).is_ok() {
                deleted.push(r.clone());
            }
        }
        deleted
    }

    /// Removes directory `name` and the regular files in it. Refuses (and leaves everything
    /// in place) when it holds anything else or is not the sensor's own.
    ///
    /// # Errors
    /// Not our own directory, it holds something other than regular files, or an OS error.
    pub fn remove_tree(&self, name: &str) -> io::Result<()> {
        if !self.is_own_dir(name) {
            return Err(io_err(
                &self.dir.join(name),
                "not a directory of the sensor's own; left in place",
            ));
        }
        let sub = self.dir.subdir(name, false)?;
        let names: Vec<String> = sub
            .names()?
            .into_iter()
            .filter_map(|n| n.into_string().ok())
            .collect();
        for n in &names {
            let st = sub.entry_metadata(n)?;
            if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
                return Err(io_err(
                    &sub.join(n),
                    "is not a regular file; leaving the directory in place",
                ));
            }
        }
        for n in &names {
            sub.remove(n)?;
        }
        rustix::fs::unlinkat(&self.dir, name, AtFlags::REMOVEDIR)
            .map_err(|e| io_err(&self.dir.join(name), io::Error::from(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names() {
        for ok in ["2026-12-01T04-00-00Z", "2026-12-01T04-00-00Z-2"] {
            assert!(is_version_name(ok), "{ok}");
        }
        for bad in [
            "2026-12-01T04-00-00",
            "current",
            "2026-12-01T04-00-00Z-",
            "2026-12-01T04-00-00Zx",
            "x026-12-01T04-00-00Z",
            "",
        ] {
            assert!(!is_version_name(bad), "{bad}");
        }
        assert!(is_version_name(&stamp_now()));
        assert!(version_key("2026-12-01T04-00-00Z-10") > version_key("2026-12-01T04-00-00Z-2"));
    }

    #[test]
    fn switch_keep_and_prune() {
        let t = tempfile::tempdir().unwrap();
        let l = Layout::open(&t.path().join("v")).unwrap();
        let _lock = l.lock(Duration::from_secs(1)).unwrap();
        let mut made = Vec::new();
        for i in 0..4 {
            let name = format!("2026-12-01T04-00-0{i}Z");
            std::fs::create_dir(l.version_path(&name)).unwrap();
            std::fs::write(l.version_path(&name).join("a.rules"), "").unwrap();
            made.push(name);
        }
        assert_eq!(l.current(), None);
        l.switch(&made[0]).unwrap();
        assert_eq!(l.current().as_deref(), Some(made[0].as_str()));
        // A planted foreign directory with a version name holding a link is left alone.
        l.switch(&made[3]).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", l.version_path(&made[1]).join("x")).unwrap();
        let deleted = l.prune(2);
        assert_eq!(deleted, vec![made[0].clone()]);
        assert!(l.version_path(&made[1]).exists());
        assert_eq!(l.versions().unwrap(), made[1..].to_vec());
        // A second lock on the same directory times out.
        let l2 = Layout::open(&t.path().join("v")).unwrap();
        let e = l2.lock(Duration::from_millis(200)).unwrap_err();
        assert!(e.to_string().contains("holds the lock"), "{e}");
    }
}
