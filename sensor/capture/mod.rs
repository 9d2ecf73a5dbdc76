//! Packet sources: offline pcap/pcapng files and in-memory frames here, live capture in
//! [`live`]. A source hands out [`RawPacket`]s borrowed from its buffer, valid until the next
//! read. Sources never decode or write.
//!
//! Offline files are read by the product's own reader ([`crate::pcap::Reader`]), once, from
//! start to end: a pipe (`tcpdump -w - | nsm-sensor replay /dev/stdin`) or a FIFO works like
//! a file, and a pcapng file whose interfaces have different link types yields every packet
//! with its own (libpcap refuses such files). A BPF filter is compiled by libpcap, once per
//! link type, and applied in memory.

pub mod bpf;
pub mod live;

use std::fmt;
use std::path::{Path, PathBuf};

/// One captured frame, borrowed from the source's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    pub ts_sec: i64,
    pub ts_usec: u32,
    /// Length on the wire (≥ `data.len()` when the snaplen cut the frame).
    pub wire_len: u32,
    pub data: &'a [u8],
}

/// What a read produced.
#[derive(Debug)]
pub enum Next<'a> {
    Packet(RawPacket<'a>),
    /// A live source's read timeout expired with nothing to deliver.
    Timeout,
    /// An offline source is exhausted.
    End,
}

/// Counters a live source reports (`pcap_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    pub received: u64,
    /// Dropped by the kernel for lack of buffer space.
    pub kernel_dropped: u64,
    /// Dropped by the interface or its driver.
    pub if_dropped: u64,
}

#[derive(Debug)]
pub struct CaptureError {
    pub source: String,
    pub message: String,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

impl std::error::Error for CaptureError {}

/// A source of frames: live interface, pcap file, or memory.
pub trait PacketSource {
    /// The next frame, a timeout (live) or the end (offline).
    ///
    /// # Errors
    /// A read failure of the underlying capture or file (a truncated file's last record is an
    /// error after the packets before it were delivered).
    fn next_packet(&mut self) -> Result<Next<'_>, CaptureError>;
    /// pcap link type (`LINKTYPE_*`) of the frame delivered last (before the first: of the
    /// source's first interface). Only a pcapng file changes it, from one interface to the
    /// next.
    fn linktype(&self) -> i32;
    /// Snapshot length (of the frame delivered last, like [`PacketSource::linktype`]).
    fn snaplen(&self) -> u32;
    /// Capture counters; offline sources report zero drops.
    fn stats(&mut self) -> SourceStats {
        SourceStats::default()
    }
    /// Human name (file path or interface) for messages.
    fn name(&self) -> &str;
}

/// A pcap or pcapng file (or pipe, or FIFO) read once, optionally with a BPF filter.
pub struct OfflineSource {
    reader: crate::pcap::Reader,
    bpf: String,
    /// Filters compiled so far, by link type.
    programs: Vec<(u32, ::pcap::BpfProgram)>,
    /// Link type and snaplen of the packet delivered last (before any: the first interface).
    linktype: i32,
    snaplen: u32,
    name: String,
    delivered: u64,
    /// The torn or corrupt tail has been reported.
    tail_reported: bool,
}

impl OfflineSource {
    /// Opens `path` (classic pcap or pcapng; a regular file, pipe or FIFO) and, when `bpf` is
    /// non-empty, compiles it for the link type of the file's first interface.
    ///
    /// # Errors
    /// The file cannot be opened or its header read, or is not a capture file; the BPF
    /// expression does not compile.
    pub fn open(path: &Path, bpf: &str) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        let reader = crate::pcap::Reader::open(path).map_err(|e| CaptureError {
            source: name.clone(),
            message: e.message().to_string(),
        })?;
        let first = reader.interfaces().first().copied();
        let mut src = OfflineSource {
            reader,
            bpf: bpf.trim().to_string(),
            programs: Vec::new(),
            linktype: first.map_or(1, |i| i32::try_from(i.linktype).unwrap_or(-1)),
            snaplen: first.map_or(65_535, |i| i.snaplen),
            name,
            delivered: 0,
            tail_reported: false,
        };
        if let Some(i) = first {
            if !src.bpf.is_empty() {
                let prog = compile(&src.bpf, i.linktype).map_err(|message| CaptureError {
                    source: src.name.clone(),
                    message,
                })?;
                src.programs.push((i.linktype, prog));
            }
        }
        Ok(src)
    }

    /// Frames delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }
}

/// `bpf` compiled by libpcap for `linktype`.
fn compile(bpf: &str, linktype: u32) -> Result<::pcap::BpfProgram, String> {
    let lt = i32::try_from(linktype).map_err(|_| format!("link type {linktype} out of range"))?;
    let dead = ::pcap::Capture::dead(::pcap::Linktype(lt)).map_err(|e| format!("libpcap: {e}"))?;
    dead.compile(bpf, true)
        .map_err(|e| format!("BPF filter {bpf:?}: {e}"))
}

impl OfflineSource {
    /// The next frame with the link type and snaplen of its interface (a pcapng file may mix
    /// interfaces of several link types); `None` at the end.
    ///
    /// # Errors
    /// As [`PacketSource::next_packet`].
    pub fn next_frame(&mut self) -> Result<Option<(i32, u32, RawPacket<'_>)>, CaptureError> {
        let rec = loop {
            let rec = match self.reader.advance() {
                Ok(Some(r)) => r,
                Ok(None) => {
                    return match self.reader.tail() {
                        Some(t) if !self.tail_reported => {
                            self.tail_reported = true;
                            Err(CaptureError {
                                source: self.name.clone(),
                                message: format!(
                                    "after packet {}: offset {}: {}; read up to the last whole record",
                                    self.delivered,
                                    t.offset().unwrap_or(0),
                                    t.message()
                                ),
                            })
                        }
                        _ => Ok(None),
                    }
                }
                Err(e) => {
                    return Err(CaptureError {
                        source: self.name.clone(),
                        message: format!(
                            "after packet {}: offset {}: {}",
                            self.delivered,
                            e.offset().unwrap_or(0),
                            e.message()
                        ),
                    })
                }
            };
            if self.bpf.is_empty() {
                break rec;
            }
            let i = match self.programs.iter().position(|(lt, _)| *lt == rec.linktype) {
                Some(i) => i,
                None => {
                    let prog =
                        compile(&self.bpf, rec.linktype).map_err(|message| CaptureError {
                            source: self.name.clone(),
                            message,
                        })?;
                    self.programs.push((rec.linktype, prog));
                    self.programs.len() - 1
                }
            };
            if bpf::matches(&self.programs[i].1, self.reader.data(&rec), rec.wire_len) {
                break rec;
            }
        };
        self.linktype = i32::try_from(rec.linktype).unwrap_or(-1);
        self.snaplen = rec.snaplen;
        self.delivered += 1;
        let ts = rec.ts.unwrap_or_default();
        let raw = RawPacket {
            ts_sec: ts.sec,
            ts_usec: ts.nsec / 1000,
            wire_len: rec.wire_len,
            data: self.reader.data(&rec),
        };
        Ok(Some((self.linktype, self.snaplen, raw)))
    }
}

impl PacketSource for OfflineSource {
    fn next_packet(&mut self) -> Result<Next<'_>, CaptureError> {
        Ok(match self.next_frame()? {
            Some((_, _, raw)) => Next::Packet(raw),
            None => Next::End,
        })
    }

    fn linktype(&self) -> i32 {
        self.linktype
    }

    fn snaplen(&self) -> u32 {
        self.snaplen
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// Frames held in memory, for tests and benchmarks.
#[derive(Debug, Clone)]
pub struct MemorySource {
    linktype: i32,
    snaplen: u32,
    frames: Vec<(i64, u32, Vec<u8>)>,
    pos: usize,
}

impl MemorySource {
    pub fn new(linktype: i32, snaplen: u32) -> Self {
        MemorySource {
            linktype,
            snaplen,
            frames: Vec::new(),
            pos: 0,
        }
    }

    /// Adds a frame captured whole at `ts_sec.ts_usec`.
    pub fn push(&mut self, ts_sec: i64, ts_usec: u32, frame: Vec<u8>) {
        self.frames.push((ts_sec, ts_usec, frame));
    }

    /// Starts over from the first frame.
    pub fn rewind(&mut self) {
        self.pos = 0;
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

impl PacketSource for MemorySource {
    fn next_packet(&mut self) -> Result<Next<'_>, CaptureError> {
        let Some((sec, usec, data)) = self.frames.get(self.pos) else {
            return Ok(Next::End);
        };
        self.pos += 1;
        let wire_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let cut = data.len().min(self.snaplen as usize);
        Ok(Next::Packet(RawPacket {
            ts_sec: *sec,
            ts_usec: *usec,
            wire_len,
            data: &data[..cut],
        }))
    }

    fn linktype(&self) -> i32 {
        self.linktype
    }

    fn snaplen(&self) -> u32 {
        self.snaplen
    }

    fn name(&self) -> &str {
        "memory"
    }
}

/// Expands the PCAP arguments of `replay`: files as given, directories into their capture
/// files in name order.
///
/// # Errors
/// A path that does not exist or a directory that cannot be read.
pub fn expand_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CaptureError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|e| CaptureError {
                source: p.display().to_string(),
                message: e.to_string(),
            })?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension()
                        .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
                })
                .collect();
            files.sort();
            out.extend(files);
        } else if p.as_os_str() == "-" {
            // tcpdump's convention: `-` is standard input.
            out.push(PathBuf::from("/dev/stdin"));
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(CaptureError {
                source: p.display().to_string(),
                message: "no such file".to_string(),
            });
        }
    }
    Ok(out)
}
