//! Read-only tools over the ring and the logs: `info` (a capinfos-style summary), `carve`
//! (time range + BPF + Community ID out of the ring into one pcap) and `investigate` (alert → ring files →
//! conversation → verdict → evidence pcap). Never touches the running daemon; the only
//! files written are the outputs asked for (and index sidecars a reader rebuilds).

pub mod alert;
pub mod carve;
mod conversation;
pub mod info;
pub mod stored;
pub mod time;

use std::fmt;
use std::path::{Path, PathBuf};

pub use alert::{investigate, investigate_alert, InvestigateOptions, Investigation, Source};
pub use carve::{carve, carve_selected, CarveReport, Selector};
pub use info::{summarize, Info};
pub use time::{parse_time, Time};

/// What went wrong, broadly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The operating system refused a read or write.
    Io,
    /// A capture file is not in a format understood or is corrupt.
    Format,
    /// A capture file ends in the middle of a record.
    Truncated,
    /// A user argument (time, selector, BPF expression) is invalid.
    Usage,
    /// Nothing matched (no alert, no eve.json, ring file gone).
    NotFound,
    /// The output would pass the byte limit the caller set ([`Selector::max_bytes`]).
    TooLarge,
}

/// An error of the investigate tools: a kind, the file and offset it concerns when there is
/// one, and a human message.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    path: Option<PathBuf>,
    offset: Option<u64>,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            path: None,
            offset: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(
        kind: ErrorKind,
        path: &Path,
        offset: Option<u64>,
        message: impl Into<String>,
    ) -> Self {
        Error {
            kind,
            path: Some(path.to_path_buf()),
            offset,
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &Path, e: &std::io::Error) -> Self {
        Error::at(ErrorKind::Io, path, None, e.to_string())
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The file concerned, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Byte offset in that file, if known.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.offset) {
            (Some(p), Some(o)) => write!(f, "{}: offset {o}: {}", p.display(), self.message),
            (Some(p), None) => write!(f, "{}: {}", p.display(), self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

impl From<crate::pcap::Error> for Error {
    fn from(e: crate::pcap::Error) -> Self {
        use crate::pcap::ErrorKind as K;
        let kind = match e.kind() {
            K::Io => ErrorKind::Io,
            K::NotFound => ErrorKind::NotFound,
            K::Format => ErrorKind::Format,
            K::Truncated => ErrorKind::Truncated,
        };
        Error::at(kind, e.path(), e.offset(), e.message())
    }
}

impl From<crate::pcap::Timestamp> for Time {
    fn from(t: crate::pcap::Timestamp) -> Time {
        Time::new(t.sec, t.nsec)
    }
}

impl From<Time> for crate::pcap::Timestamp {
    fn from(t: Time) -> crate::pcap::Timestamp {
        crate::pcap::Timestamp {
            sec: t.sec,
            nsec: t.nsec,
        }
    }
}

/// Human name of a pcap link type: libpcap's description (`Ethernet`), else `LINKTYPE_n`.
pub fn linktype_name(linktype: u32) -> String {
    i32::try_from(linktype)
        .ok()
        .and_then(|l| ::pcap::Linktype(l).get_description().ok())
        .unwrap_or_else(|| format!("LINKTYPE_{linktype}"))
}
