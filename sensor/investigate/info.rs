//! `nsm-sensor info`: capinfos' figures for one capture file (classic pcap or pcapng),
//! read as a stream. The figures follow capinfos (Wireshark `capinfos.c`): data size is the
//! sum of *original* (on-the-wire) lengths — checked against capinfos on a snaplen-cut file — first/last are the earliest/latest timestamps (not the first
//! and last records), rates are over last − first and are 0 when that is 0.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{linktype_name, Error, Time};
use crate::pcap::{Format, Reader};

/// Summary of one capture file.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub path: PathBuf,
    pub format: Format,
    pub packets: u64,
    pub file_bytes: u64,
    /// Sum of original (wire) lengths, as capinfos counts "Data size".
    pub data_bytes: u64,
    pub first: Option<Time>,
    pub last: Option<Time>,
    /// Timestamps finer than microseconds (print 9 digits).
    pub nanos: bool,
    /// Link type of the first interface; `None` when interfaces differ ("multiple").
    pub linktype: Option<u32>,
    /// Snaplen of the file header / first interface (0: not set).
    pub snaplen: u32,
    /// Number of interfaces (1 for classic pcap).
    pub interfaces: usize,
    /// Why the file was read only up to some point (a torn last record: a crash, or a file
    /// being written); the figures cover the whole records before it.
    pub warning: Option<String>,
}

/// Reads `path` through and returns its summary.
///
/// A file cut short in its last record is summarized up to its last whole record, with
/// [`Info::warning`] saying where it was cut.
///
/// # Errors
/// The file cannot be read, is not pcap/pcapng, or is corrupt; the error names the file and
/// the byte offset of the bad record.
///
/// # Examples
/// ```no_run
/// let info = nsm_sensor::investigate::summarize(std::path::Path::new("x.pcap")).unwrap();
/// info.write_text(&mut std::io::stdout()).unwrap();
/// ```
pub fn summarize(path: &Path) -> Result<Info, Error> {
    let mut r = Reader::open(path)?;
    let (mut packets, mut data_bytes) = (0u64, 0u64);
    let (mut first, mut last): (Option<Time>, Option<Time>) = (None, None);
    while let Some(p) = r.next_packet()? {
        packets += 1;
        data_bytes += u64::from(p.wire_len);
        if let Some(t) = p.ts.map(Time::from) {
            first = Some(first.map_or(t, |f| f.min(t)));
            last = Some(last.map_or(t, |l| l.max(t)));
        }
    }
    let warning = r.tail().map(|t| {
        format!(
            "{t}; read up to the last whole record (offset {})",
            r.position()
        )
    });
    // Bytes read: a pipe has no size beforehand.
    let file_bytes = r.file_size().unwrap_or(r.position());
    let ifaces = r.interfaces();
    let linktype = match ifaces.first() {
        Some(i) if ifaces.iter().all(|j| j.linktype == i.linktype) => Some(i.linktype),
        Some(_) => None,
        None => Some(0),
    };
    Ok(Info {
        path: path.to_path_buf(),
        format: r.format(),
        packets,
        file_bytes,
        data_bytes,
        first,
        last,
        nanos: r.nanos(),
        linktype,
        snaplen: ifaces.first().map_or(0, |i| i.snaplen),
        interfaces: ifaces.len(),
        warning,
    })
}

impl Info {
    /// last − first in seconds (0 with fewer than two timestamps).
    pub fn duration_s(&self) -> f64 {
        match (self.first, self.last) {
            (Some(f), Some(l)) => l.secs_since(f),
            _ => 0.0,
        }
    }

    fn rate(&self, x: f64) -> f64 {
        let d = self.duration_s();
        if d > 0.0 {
            x / d
        } else {
            0.0
        }
    }

    pub fn bytes_per_s(&self) -> f64 {
        self.rate(self.data_bytes as f64)
    }

    pub fn bits_per_s(&self) -> f64 {
        self.rate(self.data_bytes as f64 * 8.0)
    }

    pub fn packets_per_s(&self) -> f64 {
        self.rate(self.packets as f64)
    }

    pub fn avg_packet_bytes(&self) -> f64 {
        if self.packets == 0 {
            0.0
        } else {
            self.data_bytes as f64 / self.packets as f64
        }
    }

    /// Link type name (`Ethernet`), or `multiple`.
    pub fn linktype_name(&self) -> String {
        self.linktype
            .map_or_else(|| "multiple".to_string(), linktype_name)
    }

    fn format_name(&self) -> &'static str {
        match self.format {
            Format::Pcap { nanos: false, .. } => "pcap",
            Format::Pcap { nanos: true, .. } => "pcap (nanosecond)",
            Format::PcapNg => "pcapng",
        }
    }

    /// The capinfos-style text block.
    ///
    /// # Errors
    /// A write failure of `w`.
    pub fn write_text(&self, w: &mut impl Write) -> io::Result<()> {
        let t = |x: Option<Time>| x.map_or_else(|| "n/a".to_string(), |t| t.format_utc(self.nanos));
        let digits = if self.nanos { 9 } else { 6 };
        writeln!(w, "File name:           {}", self.path.display())?;
        writeln!(w, "File type:           {}", self.format_name())?;
        writeln!(w, "File encapsulation:  {}", self.linktype_name())?;
        if self.snaplen > 0 {
            writeln!(w, "Packet size limit:   {} bytes", self.snaplen)?;
        } else {
            writeln!(w, "Packet size limit:   (not set)")?;
        }
        writeln!(w, "Number of packets:   {}", self.packets)?;
        writeln!(w, "File size:           {} bytes", self.file_bytes)?;
        writeln!(w, "Data size:           {} bytes", self.data_bytes)?;
        if self.first.is_some() {
            writeln!(
                w,
                "Capture duration:    {:.digits$} seconds",
                self.duration_s()
            )?;
        } else {
            writeln!(w, "Capture duration:    n/a")?;
        }
        writeln!(w, "First packet time:   {}", t(self.first))?;
        writeln!(w, "Last packet time:    {}", t(self.last))?;
        writeln!(
            w,
            "Data byte rate:      {:.2} bytes/sec",
            self.bytes_per_s()
        )?;
        writeln!(w, "Data bit rate:       {:.2} bits/sec", self.bits_per_s())?;
        writeln!(
            w,
            "Average packet size: {:.2} bytes",
            self.avg_packet_bytes()
        )?;
        writeln!(
            w,
            "Average packet rate: {:.2} packets/sec",
            self.packets_per_s()
        )?;
        if self.interfaces > 1 {
            writeln!(w, "Number of interfaces in file: {}", self.interfaces)?;
        }
        Ok(())
    }

    /// The `--json` object: keys `path packets file_bytes data_bytes first_time last_time
    /// duration_s bytes_per_s bits_per_s avg_packet_bytes packets_per_s linktype snaplen`.
    /// Times are RFC 3339 UTC strings (null without packets).
    pub fn to_json(&self) -> Value {
        json!({
            "path": self.path.display().to_string(),
            "packets": self.packets,
            "file_bytes": self.file_bytes,
            "data_bytes": self.data_bytes,
            "first_time": self.first.map(|t| t.rfc3339(self.nanos)),
            "last_time": self.last.map(|t| t.rfc3339(self.nanos)),
            "duration_s": self.duration_s(),
            "bytes_per_s": self.bytes_per_s(),
            "bits_per_s": self.bits_per_s(),
            "avg_packet_bytes": self.avg_packet_bytes(),
            "packets_per_s": self.packets_per_s(),
            "linktype": self.linktype_name(),
            "snaplen": self.snaplen,
        })
    }
}
