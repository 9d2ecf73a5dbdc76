//! Streaming reader for classic pcap (both byte orders, µs and ns) and pcapng (SHB, IDB,
//! EPB, SPB, OPB; several sections and interfaces), and a classic pcap writer. Reads one
//! record at a time into a reused buffer; never the whole file. Every error names the file
//! and the byte offset of the bad record.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{Error, ErrorKind, Time};

/// libpcap's ceiling for one record (`MAXIMUM_SNAPLEN`); anything larger is corruption.
const MAX_RECORD: u32 = 262_144;
/// pcapng blocks larger than this are refused as corrupt.
const MAX_BLOCK: u32 = 16 << 20;

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
    pub snaplen: u32,
    /// Ticks per second of the timestamps (10^6 for µs).
    tps: u64,
    /// `if_tsoffset`: seconds added to every timestamp.
    offset: i64,
}

/// One record, borrowed from the reader's buffer until the next read.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// `None` for pcapng Simple Packet Blocks, which carry no time.
    pub ts: Option<Time>,
    pub wire_len: u32,
    pub data: &'a [u8],
    pub linktype: u32,
    /// Offset of the record in the file.
    pub offset: u64,
}

/// A capture file opened for streaming.
pub struct Reader {
    r: BufReader<File>,
    path: PathBuf,
    format: Format,
    pos: u64,
    /// Interfaces of the current pcapng section; all interfaces ever seen for reporting.
    section: Vec<Interface>,
    all: Vec<Interface>,
    /// pcapng: current section is big-endian.
    be: bool,
    buf: Vec<u8>,
}

impl Reader {
    /// Opens `path` and reads its file header (pcap) or first section header (pcapng).
    ///
    /// # Errors
    /// The file cannot be opened, or it is neither pcap nor pcapng.
    pub fn open(path: &Path) -> Result<Reader, Error> {
        let f = File::open(path).map_err(|e| Error::io(path, &e))?;
        let mut rd = Reader {
            r: BufReader::with_capacity(1 << 18, f),
            path: path.to_path_buf(),
            format: Format::PcapNg,
            pos: 0,
            section: Vec::new(),
            all: Vec::new(),
            be: false,
            buf: Vec::with_capacity(65_536),
        };
        let mut magic = [0u8; 4];
        if !rd.read_full(&mut magic)? {
            return Err(rd.err(
                ErrorKind::Format,
                0,
                "empty file: not a pcap or pcapng file",
            ));
        }
        match u32::from_le_bytes(magic) {
            m @ (0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1) => {
                let swapped = matches!(m, 0xd4c3_b2a1 | 0x4d3c_b2a1);
                let nanos = matches!(m, 0xa1b2_3c4d | 0x4d3c_b2a1);
                rd.format = Format::Pcap { nanos, swapped };
                let mut h = [0u8; 20];
                if !rd.read_full(&mut h)? {
                    return Err(rd.err(
                        ErrorKind::Truncated,
                        4,
                        "file header cut short (24 bytes expected)",
                    ));
                }
                let u = |b: &[u8]| rd_u32(b, swapped);
                let iface = Interface {
                    linktype: u(&h[16..20]) & 0x0fff_ffff,
                    snaplen: u(&h[12..16]),
                    tps: if nanos { 1_000_000_000 } else { 1_000_000 },
                    offset: 0,
                };
                rd.section.push(iface);
                rd.all.push(iface);
            }
            0x0a0d_0d0a => {
                rd.read_shb_rest(0)?;
            }
            m => {
                return Err(rd.err(
                    ErrorKind::Format,
                    0,
                    format!("unknown magic 0x{m:08x}: not a pcap or pcapng file"),
                ))
            }
        }
        Ok(rd)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every interface seen so far (all sections), in order.
    pub fn interfaces(&self) -> &[Interface] {
        &self.all
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// True when timestamps carry more than microsecond precision.
    pub fn nanos(&self) -> bool {
        self.all.iter().any(|i| i.tps > 1_000_000)
    }

    /// The next packet, or `None` at the end of the file.
    ///
    /// # Errors
    /// A read failure; a record cut short (`ErrorKind::Truncated`) or corrupt
    /// (`ErrorKind::Format`), naming the offset.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, Error> {
        match self.format {
            Format::Pcap { swapped, .. } => self.next_pcap(swapped),
            Format::PcapNg => self.next_pcapng(),
        }
    }

    fn next_pcap(&mut self, swapped: bool) -> Result<Option<Packet<'_>>, Error> {
        let at = self.pos;
        let mut h = [0u8; 16];
        if !self.read_full(&mut h)? {
            return Ok(None);
        }
        let u = |b: &[u8]| rd_u32(b, swapped);
        let (sec, frac, caplen, wire) = (u(&h[0..4]), u(&h[4..8]), u(&h[8..12]), u(&h[12..16]));
        let iface = self.section[0];
        if caplen > MAX_RECORD.max(iface.snaplen) {
            return Err(self.err(
                ErrorKind::Format,
                at,
                format!("record length {caplen} is larger than the maximum {MAX_RECORD}"),
            ));
        }
        self.buf.resize(caplen as usize, 0);
        let mut buf = std::mem::take(&mut self.buf);
        let ok = self.read_full(&mut buf);
        self.buf = buf;
        if !ok? {
            return Err(self.err(
                ErrorKind::Truncated,
                at,
                format!("the file appears to have been cut short in the middle of a packet ({caplen} bytes expected)"),
            ));
        }
        let ts = ticks_to_time(u64::from(sec) * iface.tps + u64::from(frac), iface);
        Ok(Some(Packet {
            ts: Some(ts),
            wire_len: wire,
            data: &self.buf,
            linktype: iface.linktype,
            offset: at,
        }))
    }

    fn next_pcapng(&mut self) -> Result<Option<Packet<'_>>, Error> {
        loop {
            let at = self.pos;
            let mut h = [0u8; 8];
            if !self.read_full(&mut h)? {
                return Ok(None);
            }
            let btype = rd_u32(&h[0..4], self.be);
            if btype == 0x0a0d_0d0a {
                // Re-read the SHB: its length field's byte order is only known from its BOM.
                self.read_shb_rest_with_len(at, [h[4], h[5], h[6], h[7]])?;
                continue;
            }
            let total = rd_u32(&h[4..8], self.be);
            if total < 12 || total % 4 != 0 || total > MAX_BLOCK {
                return Err(self.err(
                    ErrorKind::Format,
                    at,
                    format!("bad pcapng block length {total}"),
                ));
            }
            let body_len = total as usize - 12;
            self.buf.resize(body_len + 4, 0);
            let mut buf = std::mem::take(&mut self.buf);
            let ok = self.read_full(&mut buf);
            self.buf = buf;
            if !ok? {
                return Err(self.err(
                    ErrorKind::Truncated,
                    at,
                    format!("pcapng block cut short ({total} bytes expected)"),
                ));
            }
            let be = self.be;
            let body = &self.buf[..body_len];
            match btype {
                1 => {
                    // IDB: linktype u16, reserved u16, snaplen u32, options.
                    if body.len() < 8 {
                        return Err(self.err(
                            ErrorKind::Format,
                            at,
                            "interface description block too short",
                        ));
                    }
                    let linktype = u32::from(rd_u16(&body[0..2], be));
                    let snaplen = rd_u32(&body[4..8], be);
                    let (mut tps, mut offset) = (1_000_000u64, 0i64);
                    for (code, val) in options(&body[8..], be) {
                        match (code, val.len()) {
                            // if_tsresol: bit 7 set → 2^-n, else 10^-n.
                            (9, 1) => {
                                let v = u32::from(val[0] & 0x7f);
                                tps = if val[0] & 0x80 != 0 {
                                    1u64.checked_shl(v).unwrap_or(0)
                                } else {
                                    10u64.checked_pow(v).unwrap_or(0)
                                };
                            }
                            (14, 8) => offset = rd_u64(val, be) as i64,
                            _ => {}
                        }
                    }
                    if tps == 0 {
                        return Err(self.err(ErrorKind::Format, at, "unsupported if_tsresol"));
                    }
                    let iface = Interface {
                        linktype,
                        snaplen,
                        tps,
                        offset,
                    };
                    self.section.push(iface);
                    self.all.push(iface);
                }
                6 | 2 => {
                    // EPB: if_id u32, ts hi, ts lo, caplen, origlen, data.
                    // OPB: if_id u16, drops u16, ts hi, ts lo, caplen, len, data.
                    if body.len() < 20 {
                        return Err(self.err(ErrorKind::Format, at, "packet block too short"));
                    }
                    let if_id = if btype == 6 {
                        rd_u32(&body[0..4], be)
                    } else {
                        u32::from(rd_u16(&body[0..2], be))
                    };
                    let ticks = (u64::from(rd_u32(&body[4..8], be)) << 32)
                        | u64::from(rd_u32(&body[8..12], be));
                    let caplen = rd_u32(&body[12..16], be);
                    let wire = rd_u32(&body[16..20], be);
                    if caplen as usize > body.len() - 20 {
                        return Err(self.err(
                            ErrorKind::Format,
                            at,
                            format!("captured length {caplen} exceeds its block"),
                        ));
                    }
                    let Some(&iface) = self.section.get(if_id as usize) else {
                        return Err(self.err(
                            ErrorKind::Format,
                            at,
                            format!("packet for undeclared interface {if_id}"),
                        ));
                    };
                    let data = &self.buf[20..20 + caplen as usize];
                    let ts = ticks_to_time(ticks, iface);
                    return Ok(Some(Packet {
                        ts: Some(ts),
                        wire_len: wire,
                        data,
                        linktype: iface.linktype,
                        offset: at,
                    }));
                }
                3 => {
                    // SPB: original length, data (cut by the first interface's snaplen).
                    if body.len() < 4 {
                        return Err(self.err(
                            ErrorKind::Format,
                            at,
                            "simple packet block too short",
                        ));
                    }
                    let Some(&iface) = self.section.first() else {
                        return Err(self.err(
                            ErrorKind::Format,
                            at,
                            "simple packet block before any interface",
                        ));
                    };
                    let wire = rd_u32(&body[0..4], be);
                    let mut caplen = (body.len() - 4).min(wire as usize);
                    if iface.snaplen > 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    let data = &self.buf[4..4 + caplen];
                    return Ok(Some(Packet {
                        ts: None,
                        wire_len: wire,
                        data,
                        linktype: iface.linktype,
                        offset: at,
                    }));
                }
                _ => {} // NRB, ISB, DSB, custom: nothing to report.
            }
        }
    }

    /// Reads the rest of an SHB whose 4-byte type was consumed at `at`.
    fn read_shb_rest(&mut self, at: u64) -> Result<(), Error> {
        let mut len = [0u8; 4];
        if !self.read_full(&mut len)? {
            return Err(self.err(ErrorKind::Truncated, at, "section header block cut short"));
        }
        self.read_shb_rest_with_len(at, len)
    }

    fn read_shb_rest_with_len(&mut self, at: u64, len: [u8; 4]) -> Result<(), Error> {
        self.pos = at + 8;
        let mut bom = [0u8; 4];
        if !self.read_full(&mut bom)? {
            return Err(self.err(ErrorKind::Truncated, at, "section header block cut short"));
        }
        self.be = match u32::from_le_bytes(bom) {
            0x1a2b_3c4d => false,
            0x4d3c_2b1a => true,
            m => {
                return Err(self.err(
                    ErrorKind::Format,
                    at + 8,
                    format!("bad pcapng byte-order magic 0x{m:08x}"),
                ))
            }
        };
        let total = rd_u32(&len, self.be);
        if total < 28 || total % 4 != 0 || total > MAX_BLOCK {
            return Err(self.err(
                ErrorKind::Format,
                at,
                format!("bad section header block length {total}"),
            ));
        }
        let mut rest = vec![0u8; total as usize - 12];
        if !self.read_full(&mut rest)? {
            return Err(self.err(ErrorKind::Truncated, at, "section header block cut short"));
        }
        self.section.clear();
        self.format = Format::PcapNg;
        Ok(())
    }

    /// Fills `buf` entirely; `Ok(false)` on a clean end of file before the first byte.
    /// A partial fill is a truncation error at the current position.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<bool, Error> {
        let mut n = 0;
        while n < buf.len() {
            match self.r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::at(
                        ErrorKind::Io,
                        &self.path,
                        Some(self.pos + n as u64),
                        e.to_string(),
                    ))
                }
            }
        }
        let start = self.pos;
        self.pos += n as u64;
        if n == 0 && !buf.is_empty() {
            return Ok(false);
        }
        if n < buf.len() {
            return Err(self.err(
                ErrorKind::Truncated,
                start,
                format!(
                    "the file appears to have been cut short ({} of {} bytes)",
                    n,
                    buf.len()
                ),
            ));
        }
        Ok(true)
    }

    fn err(&self, kind: ErrorKind, offset: u64, msg: impl Into<String>) -> Error {
        Error::at(kind, &self.path, Some(offset), msg)
    }
}

fn ticks_to_time(ticks: u64, iface: Interface) -> Time {
    let sec = (ticks / iface.tps) as i64 + iface.offset;
    let nsec = ((u128::from(ticks % iface.tps) * 1_000_000_000) / u128::from(iface.tps)) as u32;
    Time::new(sec, nsec)
}

/// pcapng options: (code, value) until `opt_endofopt` or the end.
fn options(mut b: &[u8], be: bool) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let code = rd_u16(&b[0..2], be);
        let len = rd_u16(&b[2..4], be) as usize;
        if code == 0 || b.len() < 4 + len {
            return None;
        }
        let val = &b[4..4 + len];
        b = &b[(4 + len.div_ceil(4) * 4).min(b.len())..];
        Some((code, val))
    })
}

fn rd_u16(b: &[u8], be: bool) -> u16 {
    let a = [b[0], b[1]];
    if be {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

fn rd_u32(b: &[u8], be: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

fn rd_u64(b: &[u8], be: bool) -> u64 {
    let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
    if be {
        u64::from_be_bytes(a)
    } else {
        u64::from_le_bytes(a)
    }
}

/// A classic pcap writer (µs, little-endian), for carve output and evidence files.
pub struct Writer {
    w: BufWriter<File>,
    path: PathBuf,
    pub packets: u64,
    pub bytes: u64,
}

impl Writer {
    /// Creates (truncates) `path`, mode 0640, and writes the file header.
    ///
    /// # Errors
    /// The file cannot be created or written.
    pub fn create(path: &Path, linktype: u32, snaplen: u32) -> Result<Writer, Error> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o640)
            .open(path)
            .map_err(|e| Error::io(path, &e))?;
        Writer::on_file(f, path, linktype, snaplen)
    }

    /// Writes the file header to `f`, a new empty file opened by the caller (see
    /// `crate::safefs`); `path` names it in errors.
    ///
    /// # Errors
    /// The header cannot be written.
    pub fn on_file(f: File, path: &Path, linktype: u32, snaplen: u32) -> Result<Writer, Error> {
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut hdr = [0u8; 24];
        hdr[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        hdr[4..6].copy_from_slice(&2u16.to_le_bytes());
        hdr[6..8].copy_from_slice(&4u16.to_le_bytes());
        hdr[16..20].copy_from_slice(&snaplen.to_le_bytes());
        hdr[20..24].copy_from_slice(&linktype.to_le_bytes());
        w.write_all(&hdr).map_err(|e| Error::io(path, &e))?;
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
    pub fn write(&mut self, ts: Time, wire_len: u32, data: &[u8]) -> Result<(), Error> {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&(ts.sec.clamp(0, i64::from(u32::MAX)) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&(ts.nsec / 1000).to_le_bytes());
        h[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&wire_len.max(data.len() as u32).to_le_bytes());
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
