//! The one pcap/pcapng reader and writer of the product: every capture file that `info`,
//! `carve`, `investigate`, `replay` and the ring's rescan/repair/index read goes through
//! [`Reader`]; carve output and evidence files are written by [`Writer`] (the live ring
//! writes its own records, see `ring`).
//!
//! Sizes read from a file are never trusted: a record is at most [`MAX_RECORD`] bytes
//! (libpcap's `MAXIMUM_SNAPLEN`) whatever the header's snaplen says, a pcapng block at most
//! [`MAX_BLOCK`], and the reader never allocates for more bytes than the file holds (for a
//! regular file its size, for a pipe what has actually arrived). A file that ends inside a
//! record (a crash, a file being written) is read up to its last whole record, and the
//! reader says where it stopped ([`Reader::tail`]).
//!
//! Sits right after `config` in the module chain: it decodes nothing and knows nothing of
//! rules, detection, the ring or the analyst tools.

mod read;
mod write;

use std::fmt;
use std::path::{Path, PathBuf};

pub use read::Reader;
pub use write::{file_header, parse_record_header, record_header, Writer};

/// libpcap's ceiling for one record (`MAXIMUM_SNAPLEN`); anything larger is corruption.
pub const MAX_RECORD: u32 = 262_144;
/// pcapng blocks larger than this are refused as corrupt (libpcap's own limit is 16 MiB).
pub const MAX_BLOCK: u32 = 16 << 20;
/// Latest second a timestamp may name (9999-12-31T23:59:59Z); later ones are corruption.
pub const MAX_SEC: i64 = 253_402_300_799;

/// Container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap; `nanos` for the nanosecond magic, `swapped` for big-endian files.
    Pcap {
        nanos: bool,
        swapped: bool,
    },
    PcapNg,
}

/// An interface of a pcapng file (a classic pcap file has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interface {
    pub linktype: u32,
    /// As the file says (0: not set); records are capped at [`MAX_RECORD`] regardless.
    pub snaplen: u32,
    /// Ticks per second of the timestamps (10^6 for µs).
    pub(crate) tps: u64,
    /// `if_tsoffset`: seconds added to every timestamp.
    pub(crate) offset: i64,
}

/// Seconds and nanoseconds since the Unix epoch, as a record states them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    pub sec: i64,
    /// Always below 1 000 000 000.
    pub nsec: u32,
}

/// One record, borrowed from the reader's buffer until the next read.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// `None` for pcapng Simple Packet Blocks, which carry no time.
    pub ts: Option<Timestamp>,
    pub wire_len: u32,
    pub data: &'a [u8],
    pub linktype: u32,
    /// Snaplen of the record's interface as the file states it (0: not set).
    pub snaplen: u32,
    /// Offset of the record in the file.
    pub offset: u64,
}

/// One record's place in the reader's buffer and its header fields: what
/// [`Reader::advance`] returns; [`Reader::data`] gives its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub ts: Option<Timestamp>,
    pub wire_len: u32,
    pub linktype: u32,
    pub snaplen: u32,
    pub offset: u64,
    data: std::ops::Range<usize>,
}

/// What went wrong, broadly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The operating system refused a read or write.
    Io,
    /// The file does not exist (any more: a ring file rotated out).
    NotFound,
    /// Not a pcap/pcapng file, or a record that cannot be (a size or time out of range).
    Format,
    /// The file ends in the middle of a header or record.
    Truncated,
}

/// An error of the pcap reader or writer: a kind, the file, the byte offset when known, and
/// what was expected.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    path: PathBuf,
    offset: Option<u64>,
    message: String,
}

impl Error {
    pub(crate) fn at(
        kind: ErrorKind,
        path: &Path,
        offset: Option<u64>,
        message: impl Into<String>,
    ) -> Self {
        Error {
            kind,
            path: path.to_path_buf(),
            offset,
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &Path, e: &std::io::Error) -> Self {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io
        };
        Error::at(kind, path, None, e.to_string())
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The file concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Byte offset in that file, if known.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    /// The message without file and offset.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{}: offset {o}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests;
