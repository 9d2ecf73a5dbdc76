//! The streaming reader: classic pcap (both byte orders, µs and ns) and pcapng (SHB, IDB,
//! EPB, SPB, OPB; several sections, interfaces of different link types), from a regular file,
//! a pipe or a FIFO, each read once from start to end. Large reads into one buffer, records
//! borrowed from it; the buffer grows only for a record that needs it, and never beyond what
//! the file holds.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{
    Error, ErrorKind, Format, Interface, Packet, Record, Timestamp, MAX_BLOCK, MAX_RECORD, MAX_SEC,
};

/// Size of one read (and of the buffer, unless the file is smaller or a block larger).
const READ_SIZE: usize = 1 << 20;

/// A capture file opened for streaming.
///
/// # Resource usage
/// One buffer of at most 1 MiB (less for a smaller file), grown only for a pcapng block
/// larger than that and never beyond the bytes the file holds (or, from a pipe, that
/// arrived). Records are borrowed from it: no copy, no allocation per record.
pub struct Reader {
    file: File,
    path: PathBuf,
    /// Size of a regular file; `None` for a pipe, FIFO or device.
    size: Option<u64>,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`; `buf[start]` is at file offset `pos`.
    start: usize,
    end: usize,
    pos: u64,
    eof: bool,
    format: Format,
    /// Interfaces of the current pcapng section; all interfaces ever seen for reporting.
    section: Vec<Interface>,
    all: Vec<Interface>,
    /// pcapng: current section is big-endian.
    be: bool,
    /// Classic pcap: stop at a record no ring writer would produce (see [`Reader::strict`]).
    strict: bool,
    /// Why reading stopped before the end of the file, once it has.
    tail: Option<Error>,
    /// pcapng: offset of the block read last.
    last_block: u64,
}

impl Reader {
    /// Opens `path` (a regular file, pipe, FIFO or `/dev/stdin`) and reads its file header
    /// (pcap) or first section header and interfaces (pcapng).
    ///
    /// # Errors
    /// The file cannot be opened (`ErrorKind::NotFound` when it does not exist), is neither
    /// pcap nor pcapng, or its header is cut short or corrupt.
    pub fn open(path: &Path) -> Result<Reader, Error> {
        let file = File::open(path).map_err(|e| Error::io(path, &e))?;
        Reader::from_file(file, path)
    }

    /// Reads the header of `file`, already open (by `safefs`, without following a link),
    /// from its current offset; `path` names it in messages.
    ///
    /// # Errors
    /// As [`Reader::open`].
    pub fn from_file(file: File, path: &Path) -> Result<Reader, Error> {
        let meta = file.metadata().map_err(|e| Error::io(path, &e))?;
        let size = meta.is_file().then_some(meta.len());
        let cap = size.map_or(READ_SIZE, |s| {
            usize::try_from(s).map_or(READ_SIZE, |s| s.clamp(64, READ_SIZE))
        });
        let mut rd = Reader {
            file,
            path: path.to_path_buf(),
            size,
            buf: vec![0; cap],
            start: 0,
            end: 0,
            pos: 0,
            eof: false,
            format: Format::PcapNg,
            section: Vec::new(),
            all: Vec::new(),
            be: false,
            strict: false,
            tail: None,
            last_block: 0,
        };
        if !rd.fill(4)? {
            let msg = if rd.end == 0 {
                "empty file: not a pcap or pcapng file"
            } else {
                "file shorter than any capture file header"
            };
            return Err(rd.err(ErrorKind::Truncated, 0, msg));
        }
        let magic = [rd.buf[0], rd.buf[1], rd.buf[2], rd.buf[3]];
        match u32::from_le_bytes(magic) {
            m @ (0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1) => {
                let swapped = matches!(m, 0xd4c3_b2a1 | 0x4d3c_b2a1);
                let nanos = matches!(m, 0xa1b2_3c4d | 0x4d3c_b2a1);
                rd.format = Format::Pcap { nanos, swapped };
                if !rd.fill(24)? {
                    return Err(rd.err(
                        ErrorKind::Truncated,
                        0,
                        "pcap file header cut short (24 bytes expected)",
                    ));
                }
                let h = rd.take(24);
                let iface = Interface {
                    linktype: rd_u32(&h[20..24], swapped) & 0x0fff_ffff,
                    snaplen: rd_u32(&h[16..20], swapped),
                    tps: if nanos { 1_000_000_000 } else { 1_000_000 },
                    offset: 0,
                };
                rd.section.push(iface);
                rd.all.push(iface);
            }
            0x0a0d_0d0a => {
                // The section header, then the interfaces before the first packet: link type
                // and snaplen are known at open, as libpcap knows them.
                rd.pcapng_block(true)?;
                rd.pcapng_prime()?;
                if let Some(t) = rd.tail.take() {
                    return Err(t);
                }
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

    /// Classic pcap: treat a record that the ring writer cannot have written (captured length
    /// above the snaplen, original length below the captured one, a fraction of a second out
    /// of range) as the start of a torn tail, as the ring's crash repair must.
    pub fn strict(mut self, on: bool) -> Self {
        self.strict = on;
        self
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

    /// Offset just past the last whole record or block read.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Size of the file when it is a regular file.
    pub fn file_size(&self) -> Option<u64> {
        self.size
    }

    /// True when timestamps carry more than microsecond precision.
    pub fn nanos(&self) -> bool {
        self.all.iter().any(|i| i.tps > 1_000_000)
    }

    /// Why reading stopped before the end of the file (a torn last record, or a corrupt one),
    /// once [`Reader::next_packet`] has returned `Ok(None)`; `None` after a clean end.
    pub fn tail(&self) -> Option<&Error> {
        self.tail.as_ref()
    }

    /// The next packet, or `None` at the end of the file — or at a torn last record, which
    /// ends the file like a clean end does and is reported by [`Reader::tail`].
    ///
    /// # Errors
    /// A read failure, or a record that is corrupt (`ErrorKind::Format`: a size above the
    /// limits, a timestamp out of range, a packet for an undeclared interface), naming the
    /// offset. Reading may go on after a corrupt pcapng block (the next block is at its
    /// stated length); after a corrupt classic record the reader ends.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, Error> {
        let Some(r) = self.advance()? else {
            return Ok(None);
        };
        Ok(Some(Packet {
            ts: r.ts,
            wire_len: r.wire_len,
            data: self.data(&r),
            linktype: r.linktype,
            snaplen: r.snaplen,
            offset: r.offset,
        }))
    }

    /// Like [`Reader::next_packet`], but the record's bytes are fetched apart with
    /// [`Reader::data`] (for a caller that may skip the record and read on).
    ///
    /// # Errors
    /// As [`Reader::next_packet`].
    pub fn advance(&mut self) -> Result<Option<Record>, Error> {
        if self.tail.is_some() {
            return Ok(None);
        }
        match self.format {
            Format::Pcap { swapped, .. } => self.next_pcap(swapped),
            Format::PcapNg => loop {
                match self.pcapng_block(false)? {
                    Block::Packet(range, ts, wire, iface) => {
                        return Ok(Some(Record {
                            ts,
                            wire_len: wire,
                            linktype: iface.linktype,
                            snaplen: iface.snaplen,
                            offset: self.last_block,
                            data: range,
                        }));
                    }
                    Block::Other => {}
                    Block::End => return Ok(None),
                }
            },
        }
    }

    /// The bytes of `r`, the record [`Reader::advance`] returned last.
    pub fn data(&self, r: &Record) -> &[u8] {
        self.buf.get(r.data.clone()).unwrap_or(&[])
    }

    fn next_pcap(&mut self, swapped: bool) -> Result<Option<Record>, Error> {
        let at = self.pos;
        if !self.fill(16)? {
            return self.torn_or_end(at, "record header");
        }
        let h = &self.buf[self.start..self.start + 16];
        let u = |b: &[u8]| rd_u32(b, swapped);
        let (sec, frac, caplen, wire) = (u(&h[0..4]), u(&h[4..8]), u(&h[8..12]), u(&h[12..16]));
        let iface = self.section[0];
        if caplen > MAX_RECORD {
            let e = self.err(
                ErrorKind::Format,
                at,
                format!(
                    "record length {caplen} is larger than libpcap's maximum {MAX_RECORD}: corrupt record"
                ),
            );
            // The next record cannot be found: the file ends here either way.
            self.tail = Some(e.clone());
            if self.strict {
                return Ok(None);
            }
            return Err(e);
        }
        if self.strict
            && ((iface.snaplen > 0 && caplen > iface.snaplen)
                || wire < caplen
                || u64::from(frac) >= iface.tps)
        {
            self.tail = Some(self.err(
                ErrorKind::Format,
                at,
                "record header no pcap writer produces (caplen above snaplen or original length, or a bad fraction of a second)",
            ));
            return Ok(None);
        }
        let len = 16 + caplen as usize;
        if self.size.is_some_and(|s| at + len as u64 > s) || !self.fill(len)? {
            self.tail = Some(self.err(
                ErrorKind::Truncated,
                at,
                format!(
                    "the file appears to have been cut short in the middle of a packet ({caplen} bytes expected)"
                ),
            ));
            return Ok(None);
        }
        let tps = iface.tps;
        let ts = Timestamp {
            sec: i64::from(sec) + (u64::from(frac) / tps) as i64,
            nsec: ((u128::from(u64::from(frac) % tps) * 1_000_000_000) / u128::from(tps)) as u32,
        };
        let range = self.start + 16..self.start + len;
        self.consume(len);
        Ok(Some(Record {
            ts: Some(ts),
            wire_len: wire,
            linktype: iface.linktype,
            snaplen: iface.snaplen,
            offset: at,
            data: range,
        }))
    }

    /// At `at` fewer bytes than a header: a clean end when none are left, else a torn tail.
    fn torn_or_end(&mut self, at: u64, what: &str) -> Result<Option<Record>, Error> {
        let left = self.end - self.start;
        if left > 0 {
            self.tail = Some(self.err(
                ErrorKind::Truncated,
                at,
                format!("the file appears to have been cut short in a {what} ({left} bytes left)"),
            ));
        }
        Ok(None)
    }

    /// Reads pcapng blocks up to the first packet block (not consumed), taking in section
    /// headers and interfaces.
    fn pcapng_prime(&mut self) -> Result<(), Error> {
        loop {
            if self.tail.is_some() || !self.fill(8)? {
                return Ok(());
            }
            let b = &self.buf[self.start..self.start + 4];
            let btype = rd_u32(b, self.be);
            if matches!(btype, 2 | 3 | 6) {
                return Ok(());
            }
            if let Block::End = self.pcapng_block(false)? {
                return Ok(());
            }
        }
    }

    /// Reads one pcapng block (`shb`: it must be a section header).
    fn pcapng_block(&mut self, shb: bool) -> Result<Block, Error> {
        let at = self.pos;
        self.last_block = at;
        if !self.fill(8)? {
            let left = self.end - self.start;
            if left > 0 || shb {
                self.tail = Some(self.err(
                    ErrorKind::Truncated,
                    at,
                    format!("the file appears to have been cut short in a block header ({left} bytes left)"),
                ));
            }
            return Ok(Block::End);
        }
        let h = [
            self.buf[self.start],
            self.buf[self.start + 1],
            self.buf[self.start + 2],
            self.buf[self.start + 3],
        ];
        let btype = rd_u32(&h, self.be);
        if btype == 0x0a0d_0d0a {
            // A section header: its byte order is only known from its byte-order magic.
            if !self.fill(12)? {
                return self.torn(at, "section header block", 12);
            }
            let bom = rd_u32(&self.buf[self.start + 8..self.start + 12], false);
            self.be = match bom {
                0x1a2b_3c4d => false,
                0x4d3c_2b1a => true,
                m => {
                    return Err(self.err(
                        ErrorKind::Format,
                        at + 8,
                        format!("bad pcapng byte-order magic 0x{m:08x} (0x1a2b3c4d expected)"),
                    ))
                }
            };
        } else if shb {
            return Err(self.err(
                ErrorKind::Format,
                at,
                "pcapng file without a section header",
            ));
        }
        let total = rd_u32(&self.buf[self.start + 4..self.start + 8], self.be);
        let min = if btype == 0x0a0d_0d0a { 28 } else { 12 };
        if total < min || total % 4 != 0 || total > MAX_BLOCK {
            let e = self.err(
                ErrorKind::Format,
                at,
                format!(
                    "bad pcapng block length {total} (a multiple of 4 from {min} to {MAX_BLOCK} expected)"
                ),
            );
            // Nothing after a block of unknown length can be found again.
            self.tail = Some(e.clone());
            return Err(e);
        }
        let total = total as usize;
        if self.size.is_some_and(|s| at + total as u64 > s) || !self.fill(total)? {
            return self.torn(at, "block", total);
        }
        let be = self.be;
        let body_start = self.start + 8;
        let body_end = self.start + total - 4;
        self.consume(total);
        let body = &self.buf[body_start..body_end];
        match btype {
            0x0a0d_0d0a => {
                self.section.clear();
                Ok(Block::Other)
            }
            1 => {
                // IDB: linktype u16, reserved u16, snaplen u32, options.
                if body.len() < 8 {
                    return Err(self.err(
                        ErrorKind::Format,
                        at,
                        "interface description block too short (20 bytes expected)",
                    ));
                }
                let linktype = u32::from(rd_u16(&body[0..2], be));
                let snaplen = rd_u32(&body[4..8], be);
                let (mut tps, mut offset) = (Some(1_000_000u64), 0i64);
                for (code, val) in options(&body[8..], be) {
                    match (code, val.len()) {
                        // if_tsresol: bit 7 set → 2^-n, else 10^-n.
                        (9, 1) => {
                            let v = u32::from(val[0] & 0x7f);
                            tps = if val[0] & 0x80 != 0 {
                                1u64.checked_shl(v).filter(|_| v < 64)
                            } else {
                                10u64.checked_pow(v)
                            };
                        }
                        (14, 8) => offset = rd_u64(val, be) as i64,
                        _ => {}
                    }
                }
                let Some(tps) = tps else {
                    return Err(self.err(
                        ErrorKind::Format,
                        at,
                        "unsupported if_tsresol (a resolution of at most 10^-19 or 2^-63 s expected)",
                    ));
                };
                let iface = Interface {
                    linktype,
                    snaplen,
                    tps,
                    offset,
                };
                self.section.push(iface);
                self.all.push(iface);
                Ok(Block::Other)
            }
            6 | 2 => {
                // EPB: if_id u32, ts hi, ts lo, caplen, origlen, data.
                // OPB: if_id u16, drops u16, ts hi, ts lo, caplen, len, data.
                if body.len() < 20 {
                    return Err(self.err(
                        ErrorKind::Format,
                        at,
                        "packet block too short (32 bytes expected)",
                    ));
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
                let room = body.len() - 20;
                if caplen > MAX_RECORD || caplen as usize > room {
                    return Err(self.err(
                        ErrorKind::Format,
                        at,
                        format!("captured length {caplen} exceeds its block ({room} bytes) or libpcap's maximum {MAX_RECORD}"),
                    ));
                }
                let Some(&iface) = self.section.get(if_id as usize) else {
                    return Err(self.err(
                        ErrorKind::Format,
                        at,
                        format!(
                            "packet for undeclared interface {if_id} ({} declared in this section)",
                            self.section.len()
                        ),
                    ));
                };
                let Some(ts) = ticks_to_time(ticks, iface) else {
                    return Err(self.err(
                        ErrorKind::Format,
                        at,
                        format!(
                            "timestamp out of range ({ticks} ticks of 1/{} s, offset {} s)",
                            iface.tps, iface.offset
                        ),
                    ));
                };
                let data = body_start + 20..body_start + 20 + caplen as usize;
                Ok(Block::Packet(data, Some(ts), wire, iface))
            }
            3 => {
                // SPB: original length, data (cut by the first interface's snaplen).
                if body.len() < 4 {
                    return Err(self.err(
                        ErrorKind::Format,
                        at,
                        "simple packet block too short (16 bytes expected)",
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
                let mut caplen = (body.len() - 4).min(wire as usize).min(MAX_RECORD as usize);
                if iface.snaplen > 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                let data = body_start + 4..body_start + 4 + caplen;
                Ok(Block::Packet(data, None, wire, iface))
            }
            _ => Ok(Block::Other), // NRB, ISB, DSB, custom: nothing to report.
        }
    }

    fn torn(&mut self, at: u64, what: &str, len: usize) -> Result<Block, Error> {
        self.tail = Some(self.err(
            ErrorKind::Truncated,
            at,
            format!("the file appears to have been cut short in the middle of a {what} ({len} bytes expected)"),
        ));
        Ok(Block::End)
    }

    /// Makes `n` unconsumed bytes available in the buffer; `Ok(false)` when the file ends
    /// first. Grows the buffer only as far as `n` (callers check `n` against the limits and,
    /// for a regular file, against its size) and, from a pipe, only as data arrives.
    fn fill(&mut self, n: usize) -> Result<bool, Error> {
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.buf.len() - self.start < n || self.end == self.buf.len() {
                // Move the unconsumed bytes to the front.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                // Full of data and still short of `n`: grow, at most doubling.
                let grown = n.min(self.buf.len().saturating_mul(2).max(64));
                self.buf.resize(grown, 0);
            }
            match self.file.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::at(
                        ErrorKind::Io,
                        &self.path,
                        Some(self.pos + (self.end - self.start) as u64),
                        e.to_string(),
                    ))
                }
            }
        }
        Ok(true)
    }

    /// Consumes `n` available bytes, returning them.
    fn take(&mut self, n: usize) -> Vec<u8> {
        let v = self.buf[self.start..self.start + n].to_vec();
        self.consume(n);
        v
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.pos += n as u64;
    }

    fn err(&self, kind: ErrorKind, offset: u64, msg: impl Into<String>) -> Error {
        Error::at(kind, &self.path, Some(offset), msg)
    }
}

/// A pcapng block as read.
enum Block {
    /// Data range in the buffer, time, original length, interface.
    Packet(std::ops::Range<usize>, Option<Timestamp>, u32, Interface),
    Other,
    End,
}

/// `ticks` of `iface` as a time; `None` when the resolution or offset puts it out of range.
fn ticks_to_time(ticks: u64, iface: Interface) -> Option<Timestamp> {
    let sec = i64::try_from(ticks / iface.tps)
        .ok()?
        .checked_add(iface.offset)?;
    if !(-MAX_SEC..=MAX_SEC).contains(&sec) {
        return None;
    }
    let nsec = ((u128::from(ticks % iface.tps) * 1_000_000_000) / u128::from(iface.tps)) as u32;
    Some(Timestamp { sec, nsec })
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
