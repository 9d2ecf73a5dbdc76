//! The classic pcap writer (µs, little-endian) for carve output and evidence files: a
//! file header, then whole records. Reading is [`super::Reader`]'s.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Error, Timestamp};

/// The 24-byte classic pcap file header every file the product writes starts with
/// (pcap-savefile(5)): magic for µs timestamps, little-endian; version 2.4; thiszone and
/// sigfigs 0; `snaplen`; `linktype`. Shared by [`Writer`] and the ring.
pub fn file_header(linktype: u32, snaplen: u32) -> [u8; 24] {
    let mut hdr = [0u8; 24];
    hdr[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr[4..6].copy_from_slice(&2u16.to_le_bytes());
    hdr[6..8].copy_from_slice(&4u16.to_le_bytes());
    hdr[16..20].copy_from_slice(&snaplen.to_le_bytes());
    hdr[20..24].copy_from_slice(&linktype.to_le_bytes());
    hdr
}

/// A classic pcap record header (pcap-savefile(5)), little-endian, microseconds: ts_sec
/// (clamped to what 32 bits hold), ts_usec (at most 999,999), caplen, and the original length
/// (never below caplen). Shared by [`Writer`], the ring and the evidence store.
pub fn record_header(sec: i64, usec: u32, caplen: u32, wire_len: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&(sec.clamp(0, i64::from(u32::MAX)) as u32).to_le_bytes());
    h[4..8].copy_from_slice(&usec.min(999_999).to_le_bytes());
    h[8..12].copy_from_slice(&caplen.to_le_bytes());
    h[12..16].copy_from_slice(&wire_len.max(caplen).to_le_bytes());
    h
}

/// The fields of a record header as [`record_header`] writes it: (ts_sec, ts_usec, caplen,
/// len). Nothing is checked: the caller bounds caplen before using it.
pub fn parse_record_header(h: &[u8; 16]) -> (u32, u32, u32, u32) {
    let word = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    (word(0), word(4), word(8), word(12))
}

/// A classic pcap writer (µs, little-endian), for carve output and evidence files.
pub struct Writer {
    w: BufWriter<File>,
    path: PathBuf,
    pub packets: u64,
    pub bytes: u64,
}

impl Writer {
    /// Writes the file header to `f`, a new empty file opened by the caller without
    /// following a link (see `crate::safefs`: a temporary file renamed into place at the
    /// end); `path` names it in errors. There is deliberately no constructor that opens a
    /// path: every file the product writes is created through `safefs`.
    ///
    /// # Errors
    /// The header cannot be written.
    pub fn on_file(f: File, path: &Path, linktype: u32, snaplen: u32) -> Result<Writer, Error> {
        let mut w = BufWriter::with_capacity(1 << 20, f);
        w.write_all(&file_header(linktype, snaplen))
            .map_err(|e| Error::io(path, &e))?;
        Ok(Writer {
            w,
            path: path.to_path_buf(),
            packets: 0,
            bytes: 24,
        })
    }

    /// Appends one record.
    ///
    /// # Errors
    /// A write failure.
    pub fn write(&mut self, ts: Timestamp, wire_len: u32, data: &[u8]) -> Result<(), Error> {
        let h = record_header(ts.sec, ts.nsec / 1000, data.len() as u32, wire_len);
        self.w
            .write_all(&h)
            .and_then(|()| self.w.write_all(data))
            .map_err(|e| Error::io(&self.path, &e))?;
        self.packets += 1;
        self.bytes += 16 + data.len() as u64;
        Ok(())
    }

    /// Flushes and closes.
    ///
    /// # Errors
    /// A write failure.
    pub fn finish(mut self) -> Result<(), Error> {
        self.w.flush().map_err(|e| Error::io(&self.path, &e))
    }
}
