//! The full-content ring: every captured frame into rotating classic pcap files
//! (`RING_DIR/PREFIX_NNNNN_YYYYMMDDhhmmss.pcap`, dumpcap's naming), each with a small index
//! sidecar so readers can skip files by time. Owns rotating, rescanning, naming, repairing
//! and indexing; never decodes a packet. Reading the ring back is `investigate`'s job.
//!
//! Disk writes are whole records: frames are appended to an in-memory buffer (1 MiB) that
//! only ever holds whole records and is written with one `write_all`; if that fails the file
//! is cut back to its last whole record, so a reader never sees half a record.

pub mod files;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub use files::{FileIndex, RingFile};

use crate::safefs::Dir;

/// Size of the write buffer: few, large writes.
const BUF_CAPACITY: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct RingOptions {
    pub dir: PathBuf,
    pub prefix: String,
    /// Files kept; the oldest past this count is deleted.
    pub files: u32,
    /// Size limit of one file in bytes (header included).
    pub file_size: u64,
}

/// A ring file held open for a reader off the capture thread (the evidence writer): a
/// rotation deleting it from the ring cannot take its packets away while the descriptor
/// lives.
#[derive(Debug)]
pub struct Held {
    /// `None` for a file the reader said it holds already.
    pub file: Option<File>,
    pub path: PathBuf,
    /// Only records that start before this offset are to be read (the file being written
    /// grows past it).
    pub limit: u64,
}

/// The file being written.
struct Current {
    file: File,
    name: String,
    path: PathBuf,
    /// Bytes on disk, always at a record boundary.
    on_disk: u64,
    /// Index over every record accepted so far (on disk and buffered).
    index: FileIndex,
    /// The index differs from the sidecar on disk.
    index_dirty: bool,
    /// Buffered records were dropped after a write error: the counters no longer match the
    /// file, so the sidecar is rebuilt from the file at close.
    index_inexact: bool,
}

/// The ring writer.
///
/// # Resource usage
/// One open file and a 1 MiB buffer. A write costs a copy into the buffer; a syscall
/// happens once per MiB (and at [`Ring::flush`]).
pub struct Ring {
    dir: PathBuf,
    prefix: String,
    max_files: usize,
    file_size: u64,
    linktype: i32,
    snaplen: u32,
    next_seq: u64,
    /// Closed files of this prefix, oldest first.
    closed: VecDeque<PathBuf>,
    cur: Option<Current>,
    buf: Vec<u8>,
    write_errors: u64,
    /// Inside a run of failing writes (warn once per episode).
    failing: bool,
    /// The file system was found too small for the configured ring at open (said once
    /// then): deleting files early to make room is expected and not logged each time.
    short_of_room: bool,
}

impl Ring {
    /// Creates the directory (0750) if needed, rescans it, repairs a torn last record of the
    /// newest file and continues the sequence.
    ///
    /// Only files that are unmistakably the ring's own (see [`files::open_own_ring_file`]:
    /// regular, one link, the sensor's owner, the ring's name and header) join the ring and
    /// are ever truncated or deleted; anything else with a ring-like name is left alone (with
    /// a warning), though its sequence number is still skipped.
    ///
    /// # Errors
    /// The directory cannot be created or read, or the newest file cannot be repaired.
    pub fn open(opts: &RingOptions, linktype: i32, snaplen: u32) -> io::Result<Ring> {
        let (dir, _created) = Dir::create_all(&opts.dir)?;
        let listed = files::list(&opts.dir, Some(&opts.prefix))
            .map_err(|e| with_path(e, "cannot list the ring directory", &opts.dir))?;
        let next_seq = listed.last().map_or(1, |f| f.seq + 1);
        let mut existing: Vec<RingFile> = listed
            .into_iter()
            .filter(
                |f| match files::open_own_ring_file(&dir, &f.name, linktype as u32) {
                    Ok(_) => true,
                    Err(why) => {
                        tracing::warn!("{why}: not the ring's own file; never rotated or deleted");
                        false
                    }
                },
            )
            .collect();
        if let Some(newest) = existing.last() {
            if files::read_index(&newest.path).is_none()
                && files::repair(&dir, &newest.name, linktype as u32)
                    .map_err(|e| with_path(e, "cannot repair ring file", &newest.path))?
                    .is_none()
            {
                existing.pop();
            }
        }
        let short_of_room = match room_warning(opts, &existing) {
            Some(w) => {
                tracing::warn!("{w}");
                true
            }
            None => false,
        };
        Ok(Ring {
            short_of_room,
            dir: opts.dir.clone(),
            prefix: opts.prefix.clone(),
            max_files: opts.files.max(1) as usize,
            file_size: opts.file_size,
            linktype,
            snaplen: if snaplen == 0 { 262_144 } else { snaplen },
            next_seq,
            closed: existing.into_iter().map(|f| f.path).collect(),
            cur: None,
            buf: Vec::with_capacity(BUF_CAPACITY),
            write_errors: 0,
            failing: false,
        })
    }

    /// Writes one record, rotating first if it would pass the size limit. The file is opened
    /// lazily at the first packet (its name carries that packet's time). A frame longer than
    /// the snaplen is cut to it; a record larger than the whole limit goes alone into a fresh
    /// file.
    ///
    /// A failure is logged once per episode (until a write succeeds again).
    ///
    /// # Errors
    /// A write failure that deleting the oldest file and retrying once did not cure; the
    /// records still buffered are dropped (the file stays whole-record) and counted in
    /// [`Ring::write_errors`].
    pub fn write(
        &mut self,
        ts_sec: i64,
        ts_usec: u32,
        wire_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let res = self.write_record(ts_sec, ts_usec, wire_len, data);
        self.note(res)
    }

    /// Whether the last attempt to put packets on disk failed (inside a failure episode).
    pub fn is_failing(&self) -> bool {
        self.failing
    }

    /// Logs the first failure of an episode and the recovery.
    fn note(&mut self, res: io::Result<()>) -> io::Result<()> {
        match &res {
            Err(e) if !self.failing => {
                let at = self.current_path().unwrap_or(&self.dir).display();
                tracing::warn!("ring write to {at} failed: {e}; packets are dropped from the ring until writes succeed");
                self.failing = true;
            }
            Err(_) => {}
            Ok(()) => {}
        }
        res
    }

    fn write_record(
        &mut self,
        ts_sec: i64,
        ts_usec: u32,
        wire_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let data = &data[..data.len().min(self.snaplen as usize)];
        let caplen = data.len() as u32;
        let rec_len = files::RECORD_HEADER_LEN + u64::from(caplen);
        if let Some(cur) = &self.cur {
            let size = cur.on_disk + self.buf.len() as u64;
            if cur.index.packets > 0 && size + rec_len > self.file_size {
                self.close_current()?;
            }
        }
        if self.cur.is_none() {
            self.open_next(ts_sec)?;
        }
        if self.buf.len() + rec_len as usize > BUF_CAPACITY {
            self.flush_buf()?;
        }
        let h = crate::pcap::record_header(ts_sec, ts_usec, caplen, wire_len);
        let (sec, usec, _, _) = crate::pcap::parse_record_header(&h);
        self.buf.extend_from_slice(&h);
        self.buf.extend_from_slice(data);
        if let Some(cur) = &mut self.cur {
            cur.index.add(i64::from(sec) * 1_000_000 + i64::from(usec));
            cur.index_dirty = true;
        }
        if self.buf.len() >= BUF_CAPACITY {
            self.flush_buf()?;
        }
        Ok(())
    }

    /// File name (no directory) of the file the last packet went to.
    pub fn current_name(&self) -> Option<&str> {
        self.cur.as_ref().map(|c| c.name.as_str())
    }

    /// Path of the current file.
    pub fn current_path(&self) -> Option<&Path> {
        self.cur.as_ref().map(|c| c.path.as_path())
    }

    /// Writes the buffered records and the current file's index sidecar.
    ///
    /// # Errors
    /// A write failure (see [`Ring::write`]).
    pub fn flush(&mut self) -> io::Result<()> {
        let res = self.flush_inner();
        self.note(res)
    }

    fn flush_inner(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        if let Some(cur) = &mut self.cur {
            if cur.index_dirty && !cur.index_inexact {
                cur.index.file_bytes = cur.on_disk;
                files::write_index(&cur.path, &cur.index)?;
                cur.index_dirty = false;
            }
        }
        Ok(())
    }

    /// Writes the buffered records, then opens for reading the files that may hold packets
    /// from `from_sec` on: the current file (up to what is on disk now) and closed files back
    /// to the first whose first packet is at or before `from_sec` (the file names carry that
    /// time), oldest first. A file that cannot be opened any more is left out; one for which
    /// `already(name)` holds is listed without opening it again.
    ///
    /// # Errors
    /// The buffered records cannot be written, or the directory cannot be opened.
    pub fn hold(&mut self, from_sec: i64, already: &dyn Fn(&str) -> bool) -> io::Result<Vec<Held>> {
        self.flush_buf()?;
        let dir = Dir::open(&self.dir)?;
        let mut out = Vec::new();
        let current = self.cur.as_ref().map(|c| (c.path.clone(), c.on_disk));
        let closed = self.closed.iter().rev().map(|p| (p.clone(), u64::MAX));
        for (path, limit) in current.into_iter().chain(closed) {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let first_sec = files::parse_name(name).map_or(i64::MIN, |(_, _, t)| t);
            let file = if already(name) {
                None
            } else {
                match dir.open_read(name) {
                    Ok(f) => Some(f),
                    Err(_) => continue,
                }
            };
            out.push(Held {
                file,
                path: path.clone(),
                limit,
            });
            if first_sec <= from_sec {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Flushes and closes the current file (the next packet opens a new one).
    ///
    /// # Errors
    /// A write failure.
    pub fn close(&mut self) -> io::Result<()> {
        self.close_current()
    }

    /// Deletes the oldest closed file because the disk is full and something else (the alert
    /// files, when they share the disk) needs the space. False when there is no closed file left to delete.
    pub fn make_room(&mut self) -> bool {
        self.make_room_for_disk_full()
    }

    /// Whether the ring directory or the file being written was removed while running
    /// (packets would go to a deleted file, rotation would fail): the caller recreates the
    /// directory and calls [`Ring::restart`].
    pub fn is_removed(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let file_gone = self
            .cur
            .as_ref()
            .is_some_and(|c| c.file.metadata().is_ok_and(|m| m.nlink() == 0));
        file_gone || !self.dir.is_dir()
    }

    /// After the directory was removed (and recreated by the caller): lets go of the
    /// deleted file with the records still buffered for it (counted as a write error), and
    /// forgets the files that are gone. The next packet opens a new file; the sequence
    /// continues.
    ///
    /// Returns whether buffered records were lost that way.
    pub fn restart(&mut self) -> bool {
        let lost = self.cur.take().is_some() && !self.buf.is_empty();
        if lost {
            self.write_errors += 1;
        }
        self.buf.clear();
        self.closed.retain(|p| p.exists());
        self.failing = false;
        lost
    }

    /// Write failures so far (each lost the records buffered at that moment).
    pub fn write_errors(&self) -> u64 {
        self.write_errors
    }

    /// The ring directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Paths of the files in the ring, oldest first, the current one last.
    pub fn file_paths(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.closed.iter().cloned().collect();
        v.extend(self.cur.as_ref().map(|c| c.path.clone()));
        v
    }

    fn open_next(&mut self, first_sec: i64) -> io::Result<()> {
        // Make room first: the ring holds at most `max_files` including the new one.
        while self.closed.len() + 1 > self.max_files {
            self.delete_oldest();
        }
        match self.create_next(first_sec) {
            Err(e) if is_disk_full(&e) && self.make_room_for_disk_full() => {
                self.create_next(first_sec)
            }
            res => res,
        }
    }

    /// Deletes the oldest closed file because the disk is full; says so (once per file).
    fn make_room_for_disk_full(&mut self) -> bool {
        let oldest = self.closed.front().cloned();
        let deleted = self.delete_oldest();
        if let (true, Some(p)) = (deleted, oldest) {
            if self.short_of_room {
                tracing::debug!(file = %p.display(), "disk full: deleted the oldest ring file to make room");
            } else {
                tracing::info!(file = %p.display(), "disk full: deleted the oldest ring file to make room");
            }
        }
        deleted
    }

    fn create_next(&mut self, first_sec: i64) -> io::Result<()> {
        let dir = Dir::open(&self.dir)?;
        let (file, name, path) = loop {
            let name = files::file_name(&self.prefix, self.next_seq, first_sec);
            let path = self.dir.join(&name);
            self.next_seq += 1;
            // O_EXCL: never overwrite, never follow a link, even one that appeared since the
            // rescan; mode 0640 set on the descriptor.
            match dir.create_new(&name) {
                Ok(f) => break (f, name, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        // The file header, written and flushed at once so a reader sees a valid empty file.
        let hdr = crate::pcap::file_header(self.linktype as u32, self.snaplen);
        let mut file = file;
        if let Err(e) = file.write_all(&hdr).and_then(|()| file.flush()) {
            let _ = dir.remove(&name);
            return Err(e);
        }
        let index = FileIndex {
            file_bytes: files::FILE_HEADER_LEN,
            linktype: self.linktype as u32,
            snaplen: self.snaplen,
            ..FileIndex::default()
        };
        self.cur = Some(Current {
            file,
            name,
            path,
            on_disk: files::FILE_HEADER_LEN,
            index,
            index_dirty: true,
            index_inexact: false,
        });
        Ok(())
    }

    fn close_current(&mut self) -> io::Result<()> {
        let res = self.flush_buf();
        if let Some(mut cur) = self.cur.take() {
            cur.index.file_bytes = cur.on_disk;
            let idx = if cur.index_inexact {
                files::scan(&cur.path).map(|s| s.index).unwrap_or(cur.index)
            } else {
                cur.index
            };
            let _ = files::write_index(&cur.path, &idx);
            self.closed.push_back(cur.path);
        }
        res
    }

    /// Drops the oldest closed file from the ring and deletes it, if it is still unmistakably
    /// the ring's own (it could have been replaced since it was closed); anything else is left
    /// on disk with a warning.
    fn delete_oldest(&mut self) -> bool {
        let Some(old) = self.closed.pop_front() else {
            return false;
        };
        let name = old
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = match Dir::open(&self.dir) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(file = %old.display(), error = %e, "cannot delete old ring file");
                return true;
            }
        };
        match files::open_own_ring_file(&dir, &name, self.linktype as u32) {
            Ok(_) => {
                if let Err(e) = dir.remove(&name) {
                    tracing::warn!(file = %old.display(), error = %e, "cannot delete old ring file");
                }
                let _ = dir.remove(&files::index_name(&name));
            }
            // symlink_metadata: a link planted at the name exists too.
            Err(why) if std::fs::symlink_metadata(&old).is_ok() => {
                tracing::warn!("{why}: no longer the ring's own file; not deleted");
            }
            Err(_) => {
                // Gone already (an operator removed it): only its sidecar is left to remove.
                let _ = dir.remove(&files::index_name(&name));
            }
        }
        true
    }

    /// Writes the buffer (whole records) to the current file. On failure the file is cut back
    /// to its last whole record; the oldest file is deleted to make room and the write retried
    /// once; if that fails too the buffered records are dropped and the error returned.
    fn flush_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let Some(cur) = &mut self.cur else {
            self.buf.clear();
            return Ok(());
        };
        let first = write_whole(cur, &self.buf);
        let res = match first {
            Err(e) if is_disk_full(&e) && self.make_room_for_disk_full() => {
                match self.cur.as_mut() {
                    Some(cur) => write_whole(cur, &self.buf),
                    None => Err(e),
                }
            }
            res => res,
        };
        match res {
            Ok(()) => {
                if self.failing {
                    tracing::info!(errors = self.write_errors, "ring writes succeed again");
                    self.failing = false;
                }
            }
            Err(_) => {
                self.write_errors += 1;
                if let Some(cur) = &mut self.cur {
                    cur.index_inexact = true;
                }
            }
        }
        self.buf.clear();
        res
    }
}

/// A warning when the file system of `opts.dir` cannot hold the configured ring: files ×
/// size against the room there is (free space for unprivileged users, `statvfs`, plus the
/// ring files already there, which the ring will reuse). `None` when it fits or cannot be
/// told.
fn room_warning(opts: &RingOptions, existing: &[RingFile]) -> Option<String> {
    let st = rustix::fs::statvfs(&opts.dir).ok()?;
    let free = st.f_bavail.saturating_mul(st.f_frsize);
    let ours: u64 = existing
        .iter()
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    let room = free.saturating_add(ours);
    let want = u64::from(opts.files.max(1)).saturating_mul(opts.file_size);
    (want > room).then(|| {
        format!(
            "ring: {} files x {} = {} configured in {}, but its file system has room for {} \
             ({} free + {} of ring files already there): the ring will hold less, deleting its \
             oldest files early whenever the disk is full",
            opts.files.max(1),
            human(opts.file_size),
            human(want),
            opts.dir.display(),
            human(room),
            human(free),
            human(ours),
        )
    })
}

/// Bytes as MiB (or KiB below one MiB), one decimal.
fn human(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

/// Names the file or directory in an I/O error, keeping its kind.
fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// `ENOSPC` or `EDQUOT`: deleting a file may cure it.
pub(crate) fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// One `write_all` of whole records; on failure truncates back to `on_disk`.
fn write_whole(cur: &mut Current, buf: &[u8]) -> io::Result<()> {
    match cur.file.write_all(buf) {
        Ok(()) => {
            cur.on_disk += buf.len() as u64;
            Ok(())
        }
        Err(e) => {
            // A partial write may have reached the disk: cut it off so the file stays
            // whole-record, and put the write position back.
            let _ = cur.file.set_len(cur.on_disk);
            let _ = cur.file.seek(SeekFrom::Start(cur.on_disk));
            Err(e)
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let _ = self.close_current();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn errors_name_the_ring_directory() {
        // Why: ring errors once said only "Not a directory (os error 20)".
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("not-a-dir");
        fs::write(&file, b"x").unwrap();
        for dir in [file.clone(), file.join("ring")] {
            let e = Ring::open(&opts(&dir, 2, 1 << 20), 1, 65535)
                .err()
                .expect("a ring in a regular file cannot open");
            assert!(
                e.to_string().contains(&file.display().to_string()),
                "{dir:?}: {e}"
            );
        }
    }

    fn opts(dir: &Path, files: u32, file_size: u64) -> RingOptions {
        RingOptions {
            dir: dir.to_path_buf(),
            prefix: "t".into(),
            files,
            file_size,
        }
    }

    #[test]
    fn header_flushed_at_open_and_lazy() {
        let d = tempfile::tempdir().unwrap();
        let mut r = Ring::open(&opts(d.path(), 3, 1000), 1, 65535).unwrap();
        assert!(
            r.current_name().is_none(),
            "no file before the first packet"
        );
        r.write(1_172_053_074, 5, 60, &[0u8; 60]).unwrap();
        assert_eq!(r.current_name(), Some("t_00001_20070221101754.pcap"));
        let bytes = fs::read(r.current_path().unwrap()).unwrap();
        assert_eq!(bytes.len(), 24, "header on disk, record still buffered");
        assert_eq!(&bytes[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        r.flush().unwrap();
        assert_eq!(
            fs::metadata(r.current_path().unwrap()).unwrap().len(),
            24 + 16 + 60
        );
    }

    #[test]
    fn rotates_before_passing_limit() {
        let d = tempfile::tempdir().unwrap();
        // 24 + 2 * (16 + 100) = 256: two records fit exactly, the third rotates.
        let mut r = Ring::open(&opts(d.path(), 10, 256), 1, 65535).unwrap();
        for i in 0..5 {
            r.write(100 + i, 0, 100, &[0u8; 100]).unwrap();
        }
        r.close().unwrap();
        let names: Vec<_> = files::list(d.path(), None)
            .unwrap()
            .into_iter()
            .map(|f| f.seq)
            .collect();
        assert_eq!(names, vec![1, 2, 3]);
        for f in files::list(d.path(), None).unwrap() {
            assert!(fs::metadata(&f.path).unwrap().len() <= 256);
        }
    }

    #[test]
    fn oversized_record_alone_in_fresh_file() {
        let d = tempfile::tempdir().unwrap();
        let mut r = Ring::open(&opts(d.path(), 10, 100), 1, 65535).unwrap();
        r.write(1, 0, 10, &[0u8; 10]).unwrap();
        r.write(2, 0, 500, &[0u8; 500]).unwrap();
        r.write(3, 0, 10, &[0u8; 10]).unwrap();
        r.close().unwrap();
        let counts: Vec<_> = files::list(d.path(), None)
            .unwrap()
            .iter()
            .map(|f| files::read_index(&f.path).unwrap().packets)
            .collect();
        assert_eq!(counts, vec![1, 1, 1]);
    }
}
