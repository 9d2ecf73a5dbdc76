//! The ring's files on disk: dumpcap-style names, directory listing, the per-file index
//! sidecars and the record scan that finds a crash's torn tail (records read by
//! [`crate::pcap::Reader`], as every reader of the product does). No writing of packets here
//! (that is [`super::Ring`]); readers such as `carve` use this to skip files by time.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::safefs::{self, Dir};

/// Length of the classic pcap file header.
pub const FILE_HEADER_LEN: u64 = 24;
/// Length of a classic pcap record header.
pub const RECORD_HEADER_LEN: u64 = 16;

/// One ring file, as named on disk: `PREFIX_NNNNN_YYYYMMDDhhmmss.pcap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingFile {
    pub prefix: String,
    pub seq: u64,
    /// UTC time of the file's first packet, from the name (whole seconds since the epoch).
    pub first_sec: i64,
    /// File name without directory.
    pub name: String,
    pub path: PathBuf,
}

/// Formats a ring file name (dumpcap's `PREFIX_NNNNN_YYYYMMDDhhmmss.pcap`).
pub fn file_name(prefix: &str, seq: u64, first_sec: i64) -> String {
    let t = chrono::DateTime::from_timestamp(first_sec, 0).unwrap_or_default();
    format!("{prefix}_{seq:05}_{}.pcap", t.format("%Y%m%d%H%M%S"))
}

/// Parses a ring file name; `None` when it does not follow the pattern.
pub fn parse_name(name: &str) -> Option<(String, u64, i64)> {
    let stem = name.strip_suffix(".pcap")?;
    let (rest, stamp) = stem.rsplit_once('_')?;
    let (prefix, seq) = rest.rsplit_once('_')?;
    if stamp.len() != 14 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if seq.len() < 5 || !seq.bytes().all(|b| b.is_ascii_digit()) || name.starts_with('.') {
        return None;
    }
    let t = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S").ok()?;
    Some((
        prefix.to_string(),
        seq.parse().ok()?,
        t.and_utc().timestamp(),
    ))
}

/// The ring files of `dir` in sequence order; only those of `prefix` when given.
///
/// # Errors
/// The directory cannot be read.
pub fn list(dir: &Path, prefix: Option<&str>) -> io::Result<Vec<RingFile>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some((p, seq, first_sec)) = parse_name(&name) else {
            continue;
        };
        if prefix.is_some_and(|want| want != p) || !entry.file_type()?.is_file() {
            continue;
        }
        out.push(RingFile {
            prefix: p,
            seq,
            first_sec,
            path: dir.join(&name),
            name,
        });
    }
    out.sort_by(|a, b| (a.prefix.as_str(), a.seq).cmp(&(b.prefix.as_str(), b.seq)));
    Ok(out)
}

/// What the index sidecar of a ring file records. Times are microseconds since the epoch;
/// `min_us`/`max_us` rather than first/last because a capture is not always in time order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIndex {
    /// Size of the pcap file this index describes; any other size means the index is stale.
    pub file_bytes: u64,
    pub packets: u64,
    pub min_us: Option<i64>,
    pub max_us: Option<i64>,
    pub linktype: u32,
    pub snaplen: u32,
}

impl FileIndex {
    pub(crate) fn add(&mut self, t_us: i64) {
        self.packets += 1;
        self.min_us = Some(self.min_us.map_or(t_us, |m| m.min(t_us)));
        self.max_us = Some(self.max_us.map_or(t_us, |m| m.max(t_us)));
    }

    /// True when some packet may lie in `[from_us, to_us]` (bounds inclusive, `None` open).
    pub fn overlaps(&self, from_us: Option<i64>, to_us: Option<i64>) -> bool {
        let (Some(lo), Some(hi)) = (self.min_us, self.max_us) else {
            return false;
        };
        from_us.is_none_or(|f| hi >= f) && to_us.is_none_or(|t| lo <= t)
    }
}

/// Path of the index sidecar of a ring file: `DIR/.NAME.idx` (hidden, beside the pcap).
pub fn index_path(pcap: &Path) -> PathBuf {
    let name = pcap
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    pcap.with_file_name(format!(".{name}.idx"))
}

/// The index of `pcap` if its sidecar exists and matches the file's current size. Neither
/// the file nor the sidecar is read through a link.
pub fn read_index(pcap: &Path) -> Option<FileIndex> {
    let (dir, name) = safefs::split(pcap).ok()?;
    let dir = Dir::open(&dir).ok()?;
    let len = dir.entry_metadata(&name).ok()?.st_size;
    let text = dir.read_small(&index_name(&name), 64 * 1024).ok()?;
    let idx: FileIndex = serde_json::from_slice(&text).ok()?;
    (i64::try_from(idx.file_bytes).ok() == Some(len)).then_some(idx)
}

/// Name of the index sidecar of the ring file `name`: `.NAME.idx`.
pub fn index_name(name: &str) -> String {
    format!(".{name}.idx")
}

/// Writes the sidecar atomically, mode 0640: an unguessable temporary file created `O_EXCL`
/// beside it, renamed into place (a link planted at either name is never followed).
///
/// # Errors
/// The sidecar cannot be written.
pub fn write_index(pcap: &Path, idx: &FileIndex) -> io::Result<()> {
    let (dir, name) = safefs::split(pcap)?;
    let mut tmp = Dir::open(&dir)?.temp(&index_name(&name))?;
    let text = serde_json::to_vec(idx).map_err(io::Error::other)?;
    if let Some(f) = tmp.file() {
        // Disk full: the temporary file is removed when `tmp` is dropped.
        f.write_all(&text)?;
    }
    tmp.commit()
}

/// The index of `pcap`: the sidecar when current, else rebuilt by scanning the file (and the
/// sidecar rewritten when the directory is writable; a read-only reader just goes on).
///
/// # Errors
/// The file cannot be read or is not a classic pcap file.
pub fn load_or_rebuild_index(pcap: &Path) -> io::Result<FileIndex> {
    if let Some(idx) = read_index(pcap) {
        return Ok(idx);
    }
    let scan = scan(pcap)?;
    if scan.whole_len == scan.index.file_bytes {
        let _ = write_index(pcap, &scan.index);
    }
    Ok(scan.index)
}

/// Result of reading a ring file record by record.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Index over the whole records (its `file_bytes` is the file's current size).
    pub index: FileIndex,
    /// Offset just past the last whole, sane record: where a torn file is cut.
    pub whole_len: u64,
    /// Header is not a classic pcap header (or shorter than one).
    pub bad_header: bool,
}

/// Reads `pcap`'s records up to the first torn or insane one: incomplete, `caplen` above
/// the snaplen or libpcap's maximum, `wire_len < caplen`, a fraction of a second out of range
/// (the reader's strict mode).
///
/// # Errors
/// The file cannot be opened or read (`NotFound` when it vanished).
pub fn scan(pcap: &Path) -> io::Result<Scan> {
    let (dir, name) = safefs::split(pcap)?;
    scan_file(Dir::open(&dir)?.open_read(&name)?, pcap)
}

/// [`scan`] of an open file; `pcap` names it in messages.
///
/// # Errors
/// The file cannot be read.
pub fn scan_file(mut f: File, pcap: &Path) -> io::Result<Scan> {
    use crate::pcap::{ErrorKind, Format, Reader};
    use std::io::{Seek, SeekFrom};
    let to_io = |e: crate::pcap::Error| {
        let kind = match e.kind() {
            ErrorKind::NotFound => io::ErrorKind::NotFound,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e.to_string())
    };
    let bad_header = |file_bytes: u64| Scan {
        index: FileIndex {
            file_bytes,
            ..FileIndex::default()
        },
        whole_len: 0,
        bad_header: true,
    };
    // From the start whatever the descriptor's offset (a dup shares it).
    f.seek(SeekFrom::Start(0))?;
    let len = f.metadata()?.len();
    let mut r = match Reader::from_file(f, pcap) {
        Ok(r) if matches!(r.format(), Format::Pcap { .. }) => r.strict(true),
        Ok(r) => return Ok(bad_header(r.file_size().unwrap_or(0))),
        Err(e) if matches!(e.kind(), ErrorKind::Io | ErrorKind::NotFound) => return Err(to_io(e)),
        Err(_) => return Ok(bad_header(len)),
    };
    let iface = r.interfaces().first().copied();
    let mut index = FileIndex {
        file_bytes: r.file_size().unwrap_or(0),
        linktype: iface.map_or(0, |i| i.linktype),
        snaplen: iface.map_or(0, |i| i.snaplen),
        ..FileIndex::default()
    };
    loop {
        match r.next_packet() {
            Ok(Some(p)) => {
                let t = p.ts.unwrap_or_default();
                index.add(t.sec * 1_000_000 + i64::from(t.nsec / 1000));
            }
            Ok(None) => break,
            Err(e) if e.kind() == ErrorKind::Io => return Err(to_io(e)),
            Err(_) => break,
        }
    }
    Ok(Scan {
        index,
        whole_len: r.position(),
        bad_header: false,
    })
}

/// Why `name` in `dir` is not unmistakably a file the ring wrote, or the file (open for
/// reading and writing) when it is: a regular file reached without a link, one link, the
/// sensor's owner (see [`safefs::Dir::open_own`]), the ring's name pattern, and the header the
/// ring writes (little-endian microsecond magic, version 2.4, link type `linktype`).
pub fn open_own_ring_file(dir: &Dir, name: &str, linktype: u32) -> Result<File, String> {
    if parse_name(name).is_none() {
        return Err(format!(
            "{}: not a ring file name",
            dir.join(name).display()
        ));
    }
    let mut f = dir.open_own(name, true).map_err(|e| e.to_string())?;
    let mut hdr = [0u8; FILE_HEADER_LEN as usize];
    let what = |m: &str| format!("{}: {m}", dir.join(name).display());
    f.read_exact(&mut hdr)
        .map_err(|_| what("shorter than a pcap header"))?;
    let word = |i: usize| u32::from_le_bytes([hdr[i], hdr[i + 1], hdr[i + 2], hdr[i + 3]]);
    if word(0) != 0xa1b2_c3d4 || hdr[4..8] != [2, 0, 4, 0] {
        return Err(what(
            "not a pcap file written by the ring (magic or version)",
        ));
    }
    if word(20) & 0x0fff_ffff != linktype {
        return Err(what(&format!(
            "link type {} is not the ring's {linktype}",
            word(20) & 0x0fff_ffff
        )));
    }
    Ok(f)
}

/// Cuts a torn ring file back to its last whole record and rewrites its index. Only a file
/// that is unmistakably the ring's own ([`open_own_ring_file`]) is touched: `Ok(None)` (with a
/// warning) for anything else, which is left as it is.
///
/// # Errors
/// The file cannot be read or truncated, or the index cannot be written.
pub fn repair(dir: &Dir, name: &str, linktype: u32) -> io::Result<Option<FileIndex>> {
    let pcap = dir.join(name);
    let f = match open_own_ring_file(dir, name, linktype) {
        Ok(f) => f,
        Err(why) => {
            tracing::warn!("{why}: not the ring's own file; left alone");
            return Ok(None);
        }
    };
    let Some(s) = cut_torn(&f, &pcap, "ring file")? else {
        return Ok(None);
    };
    write_index(&pcap, &s.index)?;
    Ok(Some(s.index))
}

/// Reads `f` (`pcap` in messages, a `what`: "ring file", "evidence file") record by record
/// and, when a crash tore its last record, cuts it back to the last whole one and says so.
/// `None`, with a warning, when its header is unreadable: such a file is left as it is. The
/// scan's `file_bytes` is the size after the cut.
///
/// # Errors
/// The file cannot be read or truncated.
pub fn cut_torn(f: &File, pcap: &Path, what: &str) -> io::Result<Option<Scan>> {
    let mut s = scan_file(f.try_clone()?, pcap)?;
    if s.bad_header {
        tracing::warn!(file = %pcap.display(), "{what} header unreadable; left alone");
        return Ok(None);
    }
    if s.whole_len < s.index.file_bytes {
        tracing::warn!(
            file = %pcap.display(),
            from = s.index.file_bytes,
            to = s.whole_len,
            "{what} ends in a torn record (crash?): truncated to the last whole record"
        );
        f.set_len(s.whole_len)?;
        f.sync_all()?;
        s.index.file_bytes = s.whole_len;
    }
    Ok(Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        // 2007-02-21 10:17:54 UTC
        let n = file_name("nsm", 7, 1_172_053_074);
        assert_eq!(n, "nsm_00007_20070221101754.pcap");
        assert_eq!(parse_name(&n), Some(("nsm".to_string(), 7, 1_172_053_074)));
        assert_eq!(
            parse_name("my_ring_123456_20070221101754.pcap").map(|p| p.1),
            Some(123_456)
        );
    }

    #[test]
    fn names_rejected() {
        for bad in [
            "nsm_0007_20070221101754.pcap",    // 4-digit sequence
            "nsm_00007_2007022110175.pcap",    // 13-digit time
            "nsm_00007_20070221101754.pcapng", // other extension
            ".nsm_00007_20070221101754.pcap.idx",
            "nsm_00007_20071321101754.pcap", // month 13
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn overlaps() {
        let i = FileIndex {
            min_us: Some(10),
            max_us: Some(20),
            packets: 2,
            ..FileIndex::default()
        };
        assert!(i.overlaps(None, None));
        assert!(i.overlaps(Some(20), None));
        assert!(!i.overlaps(Some(21), None));
        assert!(i.overlaps(None, Some(10)));
        assert!(!i.overlaps(None, Some(9)));
        assert!(!FileIndex::default().overlaps(None, None));
    }
}
