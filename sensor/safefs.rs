//! Every file the product creates, truncates, chmods, chowns or deletes goes through here, so
//! that a root process never follows a link planted in a directory someone else can write.
//! Owns the how (directory handles, `openat` with `O_NOFOLLOW`, `O_EXCL` temporary files with
//! unguessable names renamed into place, checks on the opened descriptor); never what a file
//! holds (log formats, pcap records) or which files a module owns (that is the caller's
//! pattern: ring names, log names). Uses only std, rustix and libc's constants.
//!
//! The rules, as OpenSSH and Postfix apply them to files a root daemon writes:
//! - a directory is opened once with `O_DIRECTORY|O_NOFOLLOW` (its last component must not be
//!   a symbolic link) and every file in it is opened relative to that handle with
//!   `O_NOFOLLOW|O_CLOEXEC`, new files with `O_CREAT|O_EXCL`;
//! - what was opened is checked on the descriptor (`fstat`): a regular file, one link, owned
//!   by the effective user or the sensor's configured user ([`trust_owner`]);
//! - modes, sizes and owners change only through that descriptor (`fchmod`, `ftruncate`,
//!   `fchown`), never through a path;
//! - outputs are written to a temporary file with an unguessable name in the target's
//!   directory and renamed into place (`renameat`), so no reader sees a partial file and a
//!   planted link at the target name is replaced, not followed.
//!
//! Errors are [`io::Error`]s whose message names the path and what was expected
//! ("/var/log/nsm/alert: is a symbolic link; refusing to follow it").

use std::ffi::OsStr;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use rustix::fs::{AtFlags, Mode, OFlags};

/// Mode of every file the sensor creates (alerts and packets are sensitive; group read is
/// for the analysts' group).
pub const FILE_MODE: u32 = 0o640;
/// Mode of every directory the sensor creates.
pub const DIR_MODE: u32 = 0o750;

/// No configured user (`u32::MAX` is never a real uid: it is `(uid_t)-1`).
const NO_UID: u32 = u32::MAX;
static TRUSTED_UID: AtomicU32 = AtomicU32::new(NO_UID);

/// Declares the sensor's configured user: files it owns count as the sensor's own (besides
/// those of the effective user), so a root start-up can reopen what the sensor wrote after
/// an earlier privilege drop.
pub fn trust_owner(uid: u32) {
    TRUSTED_UID.store(uid, Ordering::Relaxed);
}

/// The effective user id.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Whether `uid` is the effective user or the configured sensor user.
pub fn is_trusted_owner(uid: u32) -> bool {
    uid == euid() || (uid != NO_UID && uid == TRUSTED_UID.load(Ordering::Relaxed))
}

/// An error naming `path`, of `kind`.
fn err(kind: io::ErrorKind, path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(kind, format!("{}: {what}", path.display()))
}

/// The OS error `e` for `path`, with the link case spelled out.
fn os_err(e: rustix::io::Errno, path: &Path) -> io::Error {
    let e = io::Error::from(e);
    let link = match e.raw_os_error() {
        Some(libc::ELOOP) => true,
        Some(libc::ENOTDIR | libc::EACCES | libc::EPERM) => is_symlink(path),
        _ => false,
    };
    if link {
        return err(
            io::ErrorKind::PermissionDenied,
            path,
            "is a symbolic link; refusing to follow it",
        );
    }
    err(e.kind(), path, e)
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Why an opened file is not the sensor's own, or `None` when it is: a regular file with one
/// link, owned by the effective or the configured user.
pub fn not_own_reason(meta: &std::fs::Metadata) -> Option<String> {
    if !meta.file_type().is_file() {
        return Some("is not a regular file".into());
    }
    if meta.nlink() != 1 {
        return Some(format!(
            "has {} hard links (a file of the sensor's has one)",
            meta.nlink()
        ));
    }
    if !is_trusted_owner(meta.uid()) {
        return Some(format!(
            "is owned by uid {}, not by the sensor (uid {}{})",
            meta.uid(),
            euid(),
            match TRUSTED_UID.load(Ordering::Relaxed) {
                NO_UID => String::new(),
                u => format!(" or {u}"),
            }
        ));
    }
    None
}

/// Refuses `file` (opened from `path`) unless it is the sensor's own (see [`not_own_reason`]).
fn check_own(file: &File, path: &Path) -> io::Result<()> {
    let meta = file.metadata().map_err(|e| err(e.kind(), path, e))?;
    match not_own_reason(&meta) {
        None => Ok(()),
        Some(why) => Err(err(
            io::ErrorKind::PermissionDenied,
            path,
            format!("{why}; refusing to use it"),
        )),
    }
}

/// A plain file name: one component, not `.` or `..`, no `/`, not empty.
pub fn is_plain_name(name: &OsStr) -> bool {
    let mut c = Path::new(name).components();
    matches!((c.next(), c.next()), (Some(Component::Normal(n)), None) if n == name)
}

fn plain(name: &str, dir: &Path) -> io::Result<()> {
    if is_plain_name(OsStr::new(name)) {
        Ok(())
    } else {
        Err(err(
            io::ErrorKind::InvalidInput,
            &dir.join(name),
            "not a plain file name",
        ))
    }
}

/// An open directory: every file operation is relative to this handle, so a directory
/// renamed or replaced by a link after the open is never followed.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Opens `path`; its last component must not be a symbolic link (earlier components are
    /// the administrator's choice and are followed). An empty path is the current directory.
    ///
    /// # Errors
    /// Missing, not a directory, a symbolic link, or not searchable.
    pub fn open(path: &Path) -> io::Result<Dir> {
        let p = if path.as_os_str().is_empty() {
            Path::new(".")
        } else {
            path
        };
        let fd = rustix::fs::open(
            p,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            if e == rustix::io::Errno::NOTDIR && !is_symlink(p) {
                err(io::ErrorKind::NotADirectory, path, "is not a directory")
            } else {
                os_err(e, path)
            }
        })?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Opens `path`, first creating it and its missing parents (0750, whatever the umask;
    /// each created directory opened without following links and `fchmod`ed). Returns the
    /// directories created, outermost first, so a caller can hand them over.
    ///
    /// # Errors
    /// A directory cannot be created or opened (see [`Dir::open`]).
    pub fn create_all(path: &Path) -> io::Result<(Dir, Vec<PathBuf>)> {
        let mut missing = Vec::new();
        let mut cur = path;
        // Find the deepest existing ancestor (symlink_metadata: a dangling link exists).
        while !cur.as_os_str().is_empty() && std::fs::symlink_metadata(cur).is_err() {
            missing.push(cur);
            match cur.parent() {
                Some(p) => cur = p,
                None => break,
            }
        }
        let mut created = Vec::new();
        let mut parent = Dir::open(cur)?;
        for p in missing.into_iter().rev() {
            let Some(name) = p.file_name() else {
                return Err(err(io::ErrorKind::InvalidInput, p, "not a directory name"));
            };
            match rustix::fs::mkdirat(&parent.fd, name, Mode::from_raw_mode(DIR_MODE)) {
                Ok(()) => {
                    let d = parent.subdir_os(name, p)?;
                    // The mode again: mkdir's is filtered by the umask.
                    d.chmod(DIR_MODE)?;
                    created.push(p.to_path_buf());
                    parent = d;
                }
                Err(rustix::io::Errno::EXIST) => parent = parent.subdir_os(name, p)?,
                Err(e) => return Err(os_err(e, p)),
            }
        }
        Ok((parent, created))
    }

    fn subdir_os(&self, name: &OsStr, path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| os_err(e, path))?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The directory `name` inside this one, created (0750) when missing; never a link.
    ///
    /// # Errors
    /// It cannot be created or opened, or it is a symbolic link or not a directory.
    pub fn subdir(&self, name: &str, create: bool) -> io::Result<Dir> {
        let path = self.join(name);
        plain(name, &self.path)?;
        if create {
            match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(DIR_MODE)) {
                Ok(()) => {
                    let d = self.subdir_os(OsStr::new(name), &path)?;
                    d.chmod(DIR_MODE)?;
                    return Ok(d);
                }
                Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(os_err(e, &path)),
            }
        }
        self.subdir_os(OsStr::new(name), &path)
    }

    /// The directory's path as opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path/name`, for messages.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Metadata of the directory itself (`fstat`).
    ///
    /// # Errors
    /// `fstat` failed.
    pub fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.fd
            .try_clone()
            .map(File::from)
            .and_then(|f| f.metadata())
            .map_err(|e| err(e.kind(), &self.path, e))
    }

    /// `fchmod` of the directory.
    ///
    /// # Errors
    /// Not permitted.
    pub fn chmod(&self, mode: u32) -> io::Result<()> {
        rustix::fs::fchmod(&self.fd, Mode::from_raw_mode(mode)).map_err(|e| os_err(e, &self.path))
    }

    /// `fchown` of the directory.
    ///
    /// # Errors
    /// Not permitted.
    pub fn chown(&self, uid: u32, gid: u32) -> io::Result<()> {
        std::os::unix::fs::fchown(&self.fd, Some(uid), Some(gid))
            .map_err(|e| err(e.kind(), &self.path, e))
    }

    fn openat(&self, name: &str, flags: OFlags, mode: u32) -> io::Result<File> {
        plain(name, &self.path)?;
        rustix::fs::openat(
            &self.fd,
            name,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map(File::from)
        .map_err(|e| os_err(e, &self.join(name)))
    }

    /// Creates `name`, which must not exist (`O_EXCL`: not even as a link), mode 0640 set on
    /// the descriptor, open for writing.
    ///
    /// # Errors
    /// It exists (`AlreadyExists`), or cannot be created.
    pub fn create_new(&self, name: &str) -> io::Result<File> {
        let f = self.openat(
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
            FILE_MODE,
        )?;
        f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
            .map_err(|e| err(e.kind(), &self.join(name), e))?;
        Ok(f)
    }

    /// Opens `name` for reading and appending, creating it (0640) when missing. An existing
    /// file must be the sensor's own ([`not_own_reason`]); an empty one gets mode 0640, a
    /// non-empty one keeps the mode its owner gave it.
    ///
    /// # Errors
    /// A symbolic link, a hard link, not a regular file, another owner, or an OS error.
    pub fn open_append(&self, name: &str) -> io::Result<File> {
        // O_NONBLOCK: a planted FIFO must not hang the open; cleared again below.
        let f = self.openat(
            name,
            OFlags::RDWR | OFlags::APPEND | OFlags::CREATE | OFlags::NONBLOCK,
            FILE_MODE,
        )?;
        let path = self.join(name);
        check_own(&f, &path)?;
        rustix::fs::fcntl_setfl(&f, OFlags::APPEND).map_err(|e| os_err(e, &path))?;
        let meta = f.metadata().map_err(|e| err(e.kind(), &path, e))?;
        if meta.len() == 0 && meta.permissions().mode() & 0o777 != FILE_MODE {
            f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
                .map_err(|e| err(e.kind(), &path, e))?;
        }
        Ok(f)
    }

    /// Opens an existing file of the sensor's own ([`not_own_reason`]) for reading, and for
    /// writing when `write`.
    ///
    /// # Errors
    /// Missing, a link, not a regular file, another owner, or an OS error.
    pub fn open_own(&self, name: &str, write: bool) -> io::Result<File> {
        let mode = if write { OFlags::RDWR } else { OFlags::RDONLY };
        let f = self.openat(name, mode | OFlags::NONBLOCK, 0)?;
        let path = self.join(name);
        check_own(&f, &path)?;
        rustix::fs::fcntl_setfl(&f, OFlags::empty()).map_err(|e| os_err(e, &path))?;
        Ok(f)
    }

    /// Opens `name` for reading whoever owns it, but only a regular file reached without a
    /// link (what an analyst command reads from the ring directory).
    ///
    /// # Errors
    /// Missing, a symbolic link, not a regular file, or an OS error.
    pub fn open_read(&self, name: &str) -> io::Result<File> {
        let f = self.openat(name, OFlags::RDONLY | OFlags::NONBLOCK, 0)?;
        let path = self.join(name);
        let meta = f.metadata().map_err(|e| err(e.kind(), &path, e))?;
        if !meta.file_type().is_file() {
            return Err(err(
                io::ErrorKind::InvalidInput,
                &path,
                "is not a regular file",
            ));
        }
        rustix::fs::fcntl_setfl(&f, OFlags::empty()).map_err(|e| os_err(e, &path))?;
        Ok(f)
    }

    /// Reads a small regular file (at most `limit` bytes), never through a link.
    ///
    /// # Errors
    /// As [`Dir::open_read`], or the file is larger than `limit`.
    pub fn read_small(&self, name: &str, limit: u64) -> io::Result<Vec<u8>> {
        let f = self.open_read(name)?;
        let mut out = Vec::new();
        f.take(limit + 1).read_to_end(&mut out)?;
        if out.len() as u64 > limit {
            return Err(err(
                io::ErrorKind::InvalidData,
                &self.join(name),
                format!("larger than {limit} bytes"),
            ));
        }
        Ok(out)
    }

    /// Metadata of `name` itself (a link is not followed).
    ///
    /// # Errors
    /// Missing, or an OS error.
    pub fn entry_metadata(&self, name: &str) -> io::Result<rustix::fs::Stat> {
        plain(name, &self.path)?;
        rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| os_err(e, &self.join(name)))
    }

    /// Removes the entry `name` (never what a link points to).
    ///
    /// # Errors
    /// Missing, or not permitted.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        plain(name, &self.path)?;
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()).map_err(|e| {
            err(
                io::Error::from(e).kind(),
                &self.join(name),
                io::Error::from(e),
            )
        })
    }

    /// A new temporary file for `target` (a name in this directory): `.TARGET.RANDOM.tmp`,
    /// created `O_EXCL`, mode 0640. Removed on drop unless [`TempFile::commit`]ed.
    ///
    /// # Errors
    /// It cannot be created.
    pub fn temp(&self, target: &str) -> io::Result<TempFile> {
        plain(target, &self.path)?;
        for _ in 0..16 {
            let name = format!(".{target}.{}.tmp", random_hex());
            match self.create_new(&name) {
                Ok(file) => {
                    return Ok(TempFile {
                        dir: Dir {
                            fd: self.fd.try_clone()?,
                            path: self.path.clone(),
                        },
                        name,
                        target: target.to_string(),
                        file: Some(file),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(err(
            io::ErrorKind::AlreadyExists,
            &self.join(target),
            "no free temporary name",
        ))
    }

    /// Whether the current (possibly unprivileged) user can create and remove files here:
    /// creates and removes an unguessable probe file.
    ///
    /// # Errors
    /// The probe could not be created or removed (the error says which).
    pub fn probe_writable(&self) -> io::Result<()> {
        let t = self.temp("probe")?;
        drop(t);
        Ok(())
    }

    /// Names of the entries, unsorted (`.` and `..` left out).
    ///
    /// # Errors
    /// The directory cannot be read.
    pub fn names(&self) -> io::Result<Vec<std::ffi::OsString>> {
        let mut out = Vec::new();
        let mut rd = rustix::fs::Dir::read_from(&self.fd).map_err(|e| os_err(e, &self.path))?;
        while let Some(entry) = rd.read() {
            let entry = entry.map_err(|e| os_err(e, &self.path))?;
            let n = entry.file_name().to_bytes();
            if n != b"." && n != b".." {
                out.push(OsStr::from_bytes(n).to_os_string());
            }
        }
        Ok(out)
    }
}

impl AsFd for Dir {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A temporary file beside its target, renamed into place by [`TempFile::commit`] and removed
/// if dropped before.
#[derive(Debug)]
pub struct TempFile {
    dir: Dir,
    name: String,
    target: String,
    file: Option<File>,
}

impl TempFile {
    /// The open file (`None` after [`TempFile::take_file`]).
    pub fn file(&mut self) -> Option<&mut File> {
        self.file.as_mut()
    }

    /// Hands the open file to a writer that owns it; the name is still removed on drop.
    pub fn take_file(&mut self) -> Option<File> {
        self.file.take()
    }

    /// Path of the temporary file, for messages.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// Path of the target, for messages.
    pub fn target_path(&self) -> PathBuf {
        self.dir.join(&self.target)
    }

    /// Renames the temporary file onto its target (atomically replacing what is there; a
    /// link at the target name is replaced, not followed).
    ///
    /// # Errors
    /// The rename failed (the temporary file is then removed).
    pub fn commit(mut self) -> io::Result<()> {
        drop(self.file.take());
        let res = rustix::fs::renameat(&self.dir.fd, &self.name, &self.dir.fd, &self.target)
            .map_err(|e| err(io::Error::from(e).kind(), &self.target_path(), e));
        if res.is_ok() {
            self.name.clear();
        }
        res
    }
}

impl TempFile {
    /// Links the temporary file in as its target only when the target does not exist (no
    /// file, no link: `linkat` never replaces), then removes the temporary name. How a
    /// pidfile is claimed: of two processes, exactly one gets the name.
    ///
    /// # Errors
    /// The target exists (`AlreadyExists`), or the link failed (the temporary file is then
    /// removed).
    pub fn commit_new(mut self) -> io::Result<()> {
        drop(self.file.take());
        rustix::fs::linkat(
            &self.dir.fd,
            &self.name,
            &self.dir.fd,
            &self.target,
            AtFlags::empty(),
        )
        .map_err(|e| err(io::Error::from(e).kind(), &self.target_path(), e))
        // Drop removes the temporary name either way.
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.name.is_empty() {
            let _ = rustix::fs::unlinkat(&self.dir.fd, &self.name, AtFlags::empty());
        }
    }
}

/// 128 unpredictable bits as hex: SipHash keyed from the OS's random source (std's
/// `RandomState`) over a counter and the time, so names cannot be guessed in advance.
pub fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut out = String::with_capacity(32);
    for i in 0..2u8 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u128(t);
        h.write_u8(i);
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// Splits `path` into its directory (`.` when none) and a plain file name.
///
/// # Errors
/// `path` has no file name (`/`, `..`, empty).
pub fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let name = path
        .file_name()
        .filter(|n| is_plain_name(n))
        .and_then(OsStr::to_str)
        .ok_or_else(|| err(io::ErrorKind::InvalidInput, path, "not a file name"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_string()))
}

/// Opens the file at `path` for reading as [`Dir::open`] then [`Dir::open_read`] do: neither
/// its directory's last component nor the file itself may be a link, and it must be a
/// regular file (a FIFO planted in its place is refused, not waited on).
///
/// # Errors
/// As [`split`], [`Dir::open`] and [`Dir::open_read`] (`NotFound` when either is missing).
pub fn open_read(path: &Path) -> io::Result<File> {
    let (dir, name) = split(path)?;
    Dir::open(&dir)?.open_read(&name)
}

/// An output file written in full before it appears: a temporary file beside `path`,
/// renamed onto it by [`TempFile::commit`].
///
/// # Errors
/// The directory cannot be opened (a link as its last component is refused) or the
/// temporary file cannot be created.
pub fn atomic_output(path: &Path) -> io::Result<TempFile> {
    let (dir, name) = split(path)?;
    Dir::open(&dir)?.temp(&name)
}

#[cfg(test)]
mod tests;
