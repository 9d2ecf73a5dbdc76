//! The ring's files on disk: dumpcap-style names, directory listing, the per-file index
//! sidecars and the record scan that finds a crash's torn tail (records read by
//! [`crate::pcap::Reader`], as every reader of the product does). No writing of packets here
//! (that is [`super::Ring`]); readers such as `carve` use this to skip files by time.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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

/// The index of `pcap` if its sidecar exists and matches the file's current size.
pub fn read_index(pcap: &Path) -> Option<FileIndex> {
    let len = fs::metadata(pcap).ok()?.len();
    let text = fs::read(index_path(pcap)).ok()?;
    let idx: FileIndex = serde_json::from_slice(&text).ok()?;
    (idx.file_bytes == len).then_some(idx)
}

/// Writes the sidecar atomically (temporary file + rename), mode 0640.
///
/// # Errors
/// The sidecar cannot be written.
pub fn write_index(pcap: &Path, idx: &FileIndex) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = index_path(pcap);
    let tmp = path.with_extension("idx.tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(&tmp)?;
    // 0640 whatever the umask, like the pcap it describes.
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o640))?;
    if let Err(e) = f.write_all(&serde_json::to_vec(idx).map_err(io::Error::other)?) {
        // Disk full: leave no half-written temporary behind.
        drop(f);
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    drop(f);
    fs::rename(&tmp, &path)
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
    use crate::pcap::{ErrorKind, Format, Reader};
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
    let mut r = match Reader::open(pcap) {
        Ok(r) if matches!(r.format(), Format::Pcap { .. }) => r.strict(true),
        Ok(r) => return Ok(bad_header(r.file_size().unwrap_or(0))),
        Err(e) if matches!(e.kind(), ErrorKind::Io | ErrorKind::NotFound) => return Err(to_io(e)),
        Err(_) => return Ok(bad_header(fs::metadata(pcap)?.len())),
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

/// Cuts a torn file back to its last whole record. Returns the repaired index, or `None`
/// when the file had no valid header and was removed.
///
/// # Errors
/// The file cannot be read, truncated or removed.
pub fn repair(pcap: &Path) -> io::Result<Option<FileIndex>> {
    let mut s = scan(pcap)?;
    if s.bad_header {
        tracing::warn!(file = %pcap.display(), "ring file shorter than a pcap header or not a pcap file: removed");
        fs::remove_file(pcap)?;
        let _ = fs::remove_file(index_path(pcap));
        return Ok(None);
    }
    if s.whole_len < s.index.file_bytes {
        tracing::warn!(
            file = %pcap.display(),
            from = s.index.file_bytes,
            to = s.whole_len,
            "ring file ends in a torn record (crash?): truncated to the last whole record"
        );
        let f = fs::OpenOptions::new().write(true).open(pcap)?;
        f.set_len(s.whole_len)?;
        f.sync_all()?;
        s.index.file_bytes = s.whole_len;
    }
    write_index(pcap, &s.index)?;
    Ok(Some(s.index))
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
