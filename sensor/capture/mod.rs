//! Packet sources: offline pcap/pcapng files and in-memory frames here, live capture in
//! [`live`]. A source hands out [`RawPacket`]s borrowed from its buffer, valid until the next
//! read. Sources never decode or write.

pub mod live;

use std::fmt;
use std::io::Read;
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
    /// pcap link type (`LINKTYPE_*`) of every frame of this source.
    fn linktype(&self) -> i32;
    /// Snapshot length.
    fn snaplen(&self) -> u32;
    /// Capture counters; offline sources report zero drops.
    fn stats(&mut self) -> SourceStats {
        SourceStats::default()
    }
    /// Human name (file path or interface) for messages.
    fn name(&self) -> &str;
}

/// A pcap or pcapng file read through libpcap, optionally with a BPF filter.
pub struct OfflineSource {
    cap: pcap::Capture<pcap::Offline>,
    linktype: i32,
    snaplen: u32,
    name: String,
    delivered: u64,
}

impl OfflineSource {
    /// Opens `path` (classic pcap or pcapng) and applies `bpf` when non-empty.
    ///
    /// # Errors
    /// The file cannot be opened or is not a capture file libpcap reads; the BPF expression
    /// does not compile.
    pub fn open(path: &Path, bpf: &str) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        let err = |message: String| CaptureError {
            source: name.clone(),
            message,
        };
        let mut cap = pcap::Capture::from_file(path).map_err(|e| err(e.to_string()))?;
        if !bpf.trim().is_empty() {
            cap.filter(bpf, true)
                .map_err(|e| err(format!("BPF filter {bpf:?}: {e}")))?;
        }
        let linktype = cap.get_datalink().0;
        let snaplen = file_snaplen(path).unwrap_or(65535);
        Ok(OfflineSource {
            cap,
            linktype,
            snaplen,
            name,
            delivered: 0,
        })
    }

    /// Frames delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }
}

impl PacketSource for OfflineSource {
    fn next_packet(&mut self) -> Result<Next<'_>, CaptureError> {
        match self.cap.next_packet() {
            Ok(p) => {
                self.delivered += 1;
                Ok(Next::Packet(RawPacket {
                    ts_sec: p.header.ts.tv_sec,
                    ts_usec: u32::try_from(p.header.ts.tv_usec).unwrap_or(0),
                    wire_len: p.header.len,
                    data: p.data,
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(Next::End),
            Err(pcap::Error::TimeoutExpired) => Ok(Next::Timeout),
            Err(e) => Err(CaptureError {
                source: self.name.clone(),
                message: format!("after packet {}: {e}", self.delivered),
            }),
        }
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

/// The snapshot length recorded in a capture file's header: classic pcap (either byte
/// order) or the first Interface Description Block of a pcapng file.
pub fn file_snaplen(path: &Path) -> Option<u32> {
    let mut head = [0u8; 64];
    let mut f = std::fs::File::open(path).ok()?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    let head = &head[..n];
    let le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if head.len() < 24 {
        return None;
    }
    match le(&head[0..4]) {
        0xa1b2_c3d4 | 0xa1b2_3c4d => Some(le(&head[16..20])),
        0xd4c3_b2a1 | 0x4d3c_b2a1 => Some(be(&head[16..20])),
        0x0a0d_0d0a => {
            // Section Header Block; its length tells where the first IDB starts.
            let bom = le(&head[8..12]);
            let rd: &dyn Fn(&[u8]) -> u32 = if bom == 0x1a2b_3c4d { &le } else { &be };
            let shb_len = rd(&head[4..8]) as usize;
            let idb = head.get(shb_len..shb_len + 16)?;
            if rd(&idb[0..4]) != 1 {
                return None;
            }
            Some(rd(&idb[12..16]))
        }
        _ => None,
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
