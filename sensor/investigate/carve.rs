//! `nsm-sensor carve`: the ring's packets in a time range that match a BPF expression
//! (tcpdump's language, compiled by libpcap), merged in time order across files, into one
//! classic pcap. Files whose index says they lie outside the range are never opened. The
//! output appears whole or not at all (a temporary file renamed into place) and is never one
//! of the ring files it reads.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::pcapfile::{Reader, Writer};
use super::{Error, ErrorKind, Time};
use crate::ring::files::{self, FileIndex, RingFile};
use crate::safefs::{self, TempFile};

/// What a carve did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarveReport {
    pub out: PathBuf,
    /// Ring files in the directory.
    pub files_total: usize,
    /// Files opened and read.
    pub files_read: usize,
    /// Files skipped by their index (outside the time range or empty).
    pub files_skipped: usize,
    /// Packets read in the time range (before the BPF filter).
    pub packets_in_range: u64,
    pub packets_written: u64,
    /// Bytes of the output file.
    pub bytes_written: u64,
    /// Files that ended in a torn record (being written, or a crash); read up to it.
    pub torn_files: Vec<PathBuf>,
}

/// Carves `[from, to]` (inclusive; `None` open) matching `bpf` (empty: everything) out of
/// the ring in `ring_dir` into `out`.
///
/// # Errors
/// The ring directory cannot be read; a BPF compile error (`ErrorKind::Usage`); ring files
/// of different link types; a corrupt ring file (naming file and offset); `out` cannot be
/// written.
pub fn carve(
    ring_dir: &Path,
    from: Option<Time>,
    to: Option<Time>,
    bpf: &str,
    out: &Path,
) -> Result<CarveReport, Error> {
    let sel = select(ring_dir, from, to)?;
    let mut report = CarveReport {
        out: out.to_path_buf(),
        files_total: sel.total,
        files_read: sel.files.len(),
        files_skipped: sel.total - sel.files.len(),
        ..CarveReport::default()
    };
    let program = if bpf.trim().is_empty() {
        None
    } else {
        let lt = i32::try_from(sel.linktype).unwrap_or(1);
        let dead = pcap::Capture::dead(pcap::Linktype(lt))
            .map_err(|e| Error::new(ErrorKind::Io, format!("libpcap: {e}")))?;
        Some(dead.compile(bpf, true).map_err(|e| {
            Error::new(ErrorKind::Usage, format!("bad BPF expression {bpf:?}: {e}"))
        })?)
    };
    let (tmp, file) = create_output(ring_dir, out)?;
    let mut w = Writer::on_file(file, out, sel.linktype, sel.snaplen)?;
    let mut in_range = 0u64;
    report.torn_files = for_each_merged(&sel.files, from, to, |_, ts, wire, data| {
        in_range += 1;
        if program.as_ref().is_none_or(|p| p.filter(data)) {
            w.write(ts, wire, data)?;
        }
        Ok(())
    })?;
    report.packets_in_range = in_range;
    report.packets_written = w.packets;
    report.bytes_written = w.bytes;
    w.finish()?;
    tmp.commit().map_err(|e| Error::io(out, &e))?;
    Ok(report)
}

/// Opens the output `out` of an analyst command as a temporary file beside it (unguessable
/// name, `O_EXCL`, 0640) that [`TempFile::commit`] renames into place once complete; dropped
/// before that, it vanishes, so an error never leaves a partial output. An output that is one
/// of the inputs is refused: the same file as a ring file of `ring_dir` (device and inode,
/// whatever links lead to it), or any ring file name inside the ring directory (the sensor
/// may be about to write it). Those are the only copy of the evidence.
///
/// # Errors
/// `ErrorKind::Usage` for an output that is an input; `ErrorKind::Io` when the temporary file
/// cannot be created (its directory's last component is a link, for one).
pub(crate) fn create_output(ring_dir: &Path, out: &Path) -> Result<(TempFile, File), Error> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |why: String| {
        Err(Error::at(
            ErrorKind::Usage,
            out,
            None,
            format!("{why}; refusing to overwrite an input (write the output elsewhere)"),
        ))
    };
    let id = |m: &std::fs::Metadata| (m.dev(), m.ino());
    if let Ok(target) = std::fs::metadata(out) {
        for f in files::list(ring_dir, None).unwrap_or_default() {
            if std::fs::metadata(&f.path).is_ok_and(|m| id(&m) == id(&target)) {
                return refuse(format!("is the ring file {}", f.path.display()));
            }
        }
    }
    let (out_dir, name) = safefs::split(out).map_err(|e| Error::io(out, &e))?;
    let same_dir = match (std::fs::metadata(&out_dir), std::fs::metadata(ring_dir)) {
        (Ok(a), Ok(b)) => id(&a) == id(&b),
        _ => false,
    };
    if same_dir && files::parse_name(&name).is_some() {
        return refuse(format!(
            "is a ring file name inside the ring directory {}",
            ring_dir.display()
        ));
    }
    let mut tmp = safefs::atomic_output(out).map_err(|e| Error::io(out, &e))?;
    let file = tmp
        .take_file()
        .ok_or_else(|| Error::at(ErrorKind::Io, out, None, "temporary file not open"))?;
    Ok((tmp, file))
}

/// Ring files of a directory that may hold packets of a time range.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub total: usize,
    pub files: Vec<(RingFile, FileIndex)>,
    pub linktype: u32,
    pub snaplen: u32,
}

/// Lists the ring files of `dir` (any prefix) and keeps those whose index overlaps
/// `[from, to]`; a missing or stale index is rebuilt from the file.
pub(crate) fn select(dir: &Path, from: Option<Time>, to: Option<Time>) -> Result<Selection, Error> {
    let all = files::list(dir, None).map_err(|e| Error::io(dir, &e))?;
    let total = all.len();
    let (from_us, to_us) = (from.map(Time::as_micros), to.map(Time::as_micros));
    let mut keep = Vec::new();
    for f in all {
        let idx = files::load_or_rebuild_index(&f.path).map_err(|e| Error::io(&f.path, &e))?;
        if idx.overlaps(from_us, to_us) {
            keep.push((f, idx));
        }
    }
    let linktype = keep.first().map_or(1, |(_, i)| i.linktype);
    if let Some((f, i)) = keep.iter().find(|(_, i)| i.linktype != linktype) {
        return Err(Error::at(
            ErrorKind::Format,
            &f.path,
            None,
            format!(
                "link type {} differs from the other ring files' {linktype}",
                i.linktype
            ),
        ));
    }
    let snaplen = keep.iter().map(|(_, i)| i.snaplen).max().unwrap_or(65_535);
    Ok(Selection {
        total,
        files: keep,
        linktype,
        snaplen,
    })
}

/// One file's next packet, owned so the heap can hold it.
struct Pending {
    ts: Time,
    wire: u32,
    data: Vec<u8>,
}

/// Calls `f` for every packet of `files` within `[from, to]`, in time order (ties: file
/// order). Returns the files that ended in a torn record.
pub(crate) fn for_each_merged(
    files: &[(RingFile, FileIndex)],
    from: Option<Time>,
    to: Option<Time>,
    mut f: impl FnMut(&RingFile, Time, u32, &[u8]) -> Result<(), Error>,
) -> Result<Vec<PathBuf>, Error> {
    // Ring files are written with µs timestamps: compare at that precision.
    let (from, to) = (from.map(|t| t.as_micros()), to.map(|t| t.as_micros()));
    let in_range =
        |t: Time| from.is_none_or(|x| t.as_micros() >= x) && to.is_none_or(|x| t.as_micros() <= x);
    let mut readers = Vec::with_capacity(files.len());
    let mut pending: Vec<Option<Pending>> = Vec::with_capacity(files.len());
    let mut torn = Vec::new();
    let mut heap = BinaryHeap::new();
    let advance = |r: &mut Reader, torn: &mut Vec<PathBuf>| -> Result<Option<Pending>, Error> {
        loop {
            match r.next_packet() {
                Ok(Some(p)) => {
                    let ts = p.ts.unwrap_or_default();
                    if in_range(ts) {
                        return Ok(Some(Pending {
                            ts,
                            wire: p.wire_len,
                            data: p.data.to_vec(),
                        }));
                    }
                }
                Ok(None) => return Ok(None),
                Err(e) if e.kind() == ErrorKind::Truncated => {
                    torn.push(r.path().to_path_buf());
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
    };
    for (i, (rf, _)) in files.iter().enumerate() {
        let mut r = Reader::open(&rf.path)?;
        let p = advance(&mut r, &mut torn)?;
        if let Some(p) = &p {
            heap.push(Reverse((p.ts, i)));
        }
        readers.push(r);
        pending.push(p);
    }
    while let Some(Reverse((_, i))) = heap.pop() {
        let Some(p) = pending[i].take() else { continue };
        f(&files[i].0, p.ts, p.wire, &p.data)?;
        let next = advance(&mut readers[i], &mut torn)?;
        if let Some(n) = &next {
            heap.push(Reverse((n.ts, i)));
        }
        pending[i] = next;
    }
    Ok(torn)
}
