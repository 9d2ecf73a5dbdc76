//! `nsm-sensor carve`: the ring's packets in a time range that match a BPF expression
//! (tcpdump's language, compiled by libpcap) and, optionally, a conversation's Community ID,
//! merged in time order across files, into one classic pcap. Files whose index says they lie
//! outside the range are never opened. The output appears whole or not at all (a temporary
//! file renamed into place) and is never one of the ring files it reads. The ring rotates
//! while an analyst carves: a file that vanishes between listing and reading is skipped with
//! a note, a file that ends in a torn record is read up to it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::{Error, ErrorKind, Time};
use crate::decode::{self, community_id, DecodeOptions};
use crate::pcap::{self, Reader, Writer};
use crate::ring::files::{self, FileIndex, RingFile};
use crate::safefs::{self, TempFile};

/// What a carve did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarveReport {
    pub out: PathBuf,
    /// Ring files in the directory.
    pub files_total: usize,
    /// Files opened and read.
    pub files_read: usize,
    /// Files skipped by their index (outside the time range or empty).
    pub files_skipped: usize,
    /// Packets read in the time range (before the BPF filter).
    pub packets_in_range: u64,
    pub packets_written: u64,
    /// Bytes of the output file.
    pub bytes_written: u64,
    /// Files that ended in a torn record (being written, or a crash); read up to it.
    pub torn_files: Vec<PathBuf>,
    /// Files that vanished (rotated out of the ring) between listing and reading: skipped.
    pub vanished: Vec<PathBuf>,
    /// What the analyst should know: torn, corrupt or vanished files, a range the ring does
    /// not overlap.
    pub notes: Vec<String>,
    /// Earliest and latest packet of the whole ring (`None` when it holds none).
    pub ring_span: Option<(Time, Time)>,
}

/// Which packets a carve keeps: those that meet every criterion given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selector<'a> {
    /// Start of the time range, inclusive (`None`: open).
    pub from: Option<Time>,
    /// End of the time range, inclusive (`None`: open).
    pub to: Option<Time>,
    /// BPF expression (empty: every packet).
    pub bpf: &'a str,
    /// A conversation's Community ID (v1, seed 0), as eve.json's `community_id` shows it.
    pub community_id: Option<&'a str>,
    /// Largest output, in bytes of the pcap file (header included); the carve stops with
    /// `ErrorKind::TooLarge` before writing the packet that would pass it (`None`: no limit).
    pub max_bytes: Option<u64>,
}

/// Carves `[from, to]` (inclusive; `None` open) matching `bpf` (empty: everything) out of
/// the ring in `ring_dir` into `out`: [`carve_selected`] without a Community ID.
///
/// # Errors
/// As [`carve_selected`].
pub fn carve(
    ring_dir: &Path,
    from: Option<Time>,
    to: Option<Time>,
    bpf: &str,
    out: &Path,
) -> Result<CarveReport, Error> {
    let what = Selector {
        from,
        to,
        bpf,
        community_id: None,
        max_bytes: None,
    };
    carve_selected(ring_dir, &what, out)
}

/// Carves the packets `what` selects out of the ring in `ring_dir` into `out`.
///
/// With a Community ID, each packet is decoded by the sensor's decoder (checksums not
/// verified: a packet with a bad checksum still belongs to its conversation) and kept when
/// its ID ([`community_id::for_packet`], seed 0) is the one given. A later fragment of a
/// TCP/UDP/SCTP/ICMP datagram has no ports and so no ID of its own: it is kept when the first
/// fragment of its datagram (same addresses, protocol and IP ID) was kept shortly before.
///
/// # Errors
/// A malformed Community ID or a reversed range (`ErrorKind::Usage`, before anything is
/// read); the ring directory cannot be read; a BPF compile error (`ErrorKind::Usage`); ring
/// files of different link types; a read failure (naming file and offset); `out` cannot be
/// written; the output would pass `what.max_bytes` (`ErrorKind::TooLarge`, nothing left at
/// `out`). Torn, corrupt and vanished files are notes, not errors.
pub fn carve_selected(
    ring_dir: &Path,
    what: &Selector<'_>,
    out: &Path,
) -> Result<CarveReport, Error> {
    let Selector {
        from,
        to,
        bpf,
        community_id: cid,
        max_bytes,
    } = *what;
    if let Some(id) = cid {
        if !community_id::is_well_formed(id) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "bad --community-id {id:?}: expected a Community ID v1, `1:` followed by \
                     the 28 base64 characters of a SHA-1 digest, as eve.json's community_id \
                     shows it (e.g. 1:wCb3OG7yAFWelaUydu0D+125CLM=)"
                ),
            ));
        }
    }
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("reversed time range: --from {f} is after --to {t}"),
            ));
        }
    }
    let sel = select(ring_dir, from, to)?;
    let mut report = CarveReport {
        out: out.to_path_buf(),
        files_total: sel.total,
        files_read: sel.files.len(),
        files_skipped: sel.total - sel.files.len() - sel.vanished.len(),
        vanished: sel.vanished.clone(),
        ring_span: sel.span,
        ..CarveReport::default()
    };
    let program = if bpf.trim().is_empty() {
        None
    } else {
        let lt = i32::try_from(sel.linktype).unwrap_or(1);
        let dead = ::pcap::Capture::dead(::pcap::Linktype(lt))
            .map_err(|e| Error::new(ErrorKind::Io, format!("libpcap: {e}")))?;
        Some(dead.compile(bpf, true).map_err(|e| {
            Error::new(ErrorKind::Usage, format!("bad BPF expression {bpf:?}: {e}"))
        })?)
    };
    let mut conversation = cid.map(|id| Conversation::new(id, sel.linktype));
    let (tmp, file) = create_output(ring_dir, out)?;
    let mut w = Writer::on_file(file, out, sel.linktype, sel.snaplen)?;
    let mut in_range = 0u64;
    let merged = for_each_merged(&sel.files, from, to, |_, ts, wire, data| {
        in_range += 1;
        if program
            .as_ref()
            .is_none_or(|p| crate::capture::bpf::matches(p, data, wire))
            && conversation.as_mut().is_none_or(|c| c.keeps(wire, data))
        {
            // pcap record header (16 bytes) and the captured bytes: what `Writer` counts.
            let grown = w.bytes.saturating_add(16 + data.len() as u64);
            if let Some(max) = max_bytes.filter(|&max| grown > max) {
                return Err(Error::at(
                    ErrorKind::TooLarge,
                    out,
                    None,
                    format!("the carve would pass {max} bytes"),
                ));
            }
            w.write(ts.into(), wire, data)?;
        }
        Ok(())
    })?;
    report.notes = sel.notes;
    report.notes.extend(merged.notes);
    report.torn_files = merged.torn;
    report.vanished.extend(merged.vanished);
    report.packets_in_range = in_range;
    if in_range == 0 {
        let range = |t: Option<Time>| t.map_or_else(|| "…".to_string(), |t| t.to_string());
        report.notes.push(match sel.span {
            Some((lo, hi)) => format!(
                "the ring holds no packet from {} to {}: its packets span {lo} to {hi}",
                range(from),
                range(to)
            ),
            None => format!("the ring in {} holds no packets", ring_dir.display()),
        });
    }
    if let Some(id) = cid.filter(|_| in_range > 0 && w.packets == 0) {
        report.notes.push(format!(
            "no packet in the range has community id {id} (seed 0){}",
            if bpf.trim().is_empty() {
                ""
            } else {
                " and matches the BPF expression"
            }
        ));
    }
    report.packets_written = w.packets;
    report.bytes_written = w.bytes;
    w.finish()?;
    tmp.commit().map_err(|e| Error::io(out, &e))?;
    Ok(report)
}

/// The packets of one conversation, by Community ID.
struct Conversation<'a> {
    id: &'a str,
    linktype: i32,
    /// Recently kept first fragments (src, dst, protocol, IP ID), newest last: their later
    /// fragments are kept too. Bounded: fragments of a datagram travel together, so only the
    /// last few datagrams matter.
    datagrams: VecDeque<(IpAddr, IpAddr, u8, u32)>,
}

/// First fragments remembered by [`Conversation`].
const RECENT_DATAGRAMS: usize = 1024;

impl<'a> Conversation<'a> {
    fn new(id: &'a str, linktype: u32) -> Self {
        Conversation {
            id,
            linktype: i32::try_from(linktype).unwrap_or(-1),
            datagrams: VecDeque::new(),
        }
    }

    fn keeps(&mut self, wire: u32, data: &[u8]) -> bool {
        let opts = DecodeOptions { checksums: false };
        let Ok(pkt) = decode::decode(self.linktype, 0, 0, wire, data, opts) else {
            return false;
        };
        let key = (pkt.src, pkt.dst, pkt.ip_proto, pkt.ip_id);
        match community_id::for_packet(community_id::DEFAULT_SEED, &pkt) {
            Some(id) if id == self.id => {
                if pkt.frag.mf && pkt.frag.offset == 0 {
                    if self.datagrams.len() == RECENT_DATAGRAMS {
                        self.datagrams.pop_front();
                    }
                    self.datagrams.push_back(key);
                }
                true
            }
            Some(_) => false,
            None => pkt.frag.offset != 0 && self.datagrams.contains(&key),
        }
    }
}

/// Opens the output `out` of an analyst command as a temporary file beside it (unguessable
/// name, `O_EXCL`, 0640) that [`TempFile::commit`] renames into place once complete; dropped
/// before that, it vanishes, so an error never leaves a partial output. An output that is one
/// of the inputs is refused: the same file as a ring file of `ring_dir` (device and inode,
/// whatever links lead to it), or any ring file name inside the ring directory (the sensor
/// may be about to write it). Those are the only copy of the evidence.
///
/// # Errors
/// `ErrorKind::Usage` for an output that is an input; `ErrorKind::Io` when the temporary file
/// cannot be created (its directory's last component is a link, for one).
pub(crate) fn create_output(ring_dir: &Path, out: &Path) -> Result<(TempFile, File), Error> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |why: String| {
        Err(Error::at(
            ErrorKind::Usage,
            out,
            None,
            format!("{why}; refusing to overwrite an input (write the output elsewhere)"),
        ))
    };
    let id = |m: &std::fs::Metadata| (m.dev(), m.ino());
    if let Ok(target) = std::fs::metadata(out) {
        for f in files::list(ring_dir, None).unwrap_or_default() {
            if std::fs::metadata(&f.path).is_ok_and(|m| id(&m) == id(&target)) {
                return refuse(format!("is the ring file {}", f.path.display()));
            }
        }
    }
    let (out_dir, name) = safefs::split(out).map_err(|e| Error::io(out, &e))?;
    let same_dir = match (std::fs::metadata(&out_dir), std::fs::metadata(ring_dir)) {
        (Ok(a), Ok(b)) => id(&a) == id(&b),
        _ => false,
    };
    if same_dir && files::parse_name(&name).is_some() {
        return refuse(format!(
            "is a ring file name inside the ring directory {}",
            ring_dir.display()
        ));
    }
    let mut tmp = safefs::atomic_output(out).map_err(|e| Error::io(out, &e))?;
    let file = tmp
        .take_file()
        .ok_or_else(|| Error::at(ErrorKind::Io, out, None, "temporary file not open"))?;
    Ok((tmp, file))
}

/// Ring files of a directory that may hold packets of a time range.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub total: usize,
    pub files: Vec<(RingFile, FileIndex)>,
    pub linktype: u32,
    pub snaplen: u32,
    /// Earliest and latest packet of every ring file, selected or not.
    pub span: Option<(Time, Time)>,
    /// Listed, then gone before their index could be read (rotated out).
    pub vanished: Vec<PathBuf>,
    pub notes: Vec<String>,
}

/// Lists the ring files of `dir` (any prefix) and keeps those whose index overlaps
/// `[from, to]`; a missing or stale index is rebuilt from the file. A file that vanishes
/// meanwhile (rotated out) is skipped with a note.
pub(crate) fn select(dir: &Path, from: Option<Time>, to: Option<Time>) -> Result<Selection, Error> {
    let all = files::list(dir, None).map_err(|e| Error::io(dir, &e))?;
    select_listed(all, from, to)
}

/// [`select`] over a listing already made (the ring may have rotated since).
fn select_listed(
    all: Vec<RingFile>,
    from: Option<Time>,
    to: Option<Time>,
) -> Result<Selection, Error> {
    let total = all.len();
    let (from_us, to_us) = (from.map(Time::as_micros), to.map(Time::as_micros));
    let mut keep = Vec::new();
    let (mut vanished, mut notes) = (Vec::new(), Vec::new());
    let (mut lo, mut hi): (Option<i64>, Option<i64>) = (None, None);
    for f in all {
        let idx = match files::load_or_rebuild_index(&f.path) {
            Ok(idx) => idx,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                notes.push(vanished_note(&f.path));
                vanished.push(f.path);
                continue;
            }
            Err(e) => return Err(Error::io(&f.path, &e)),
        };
        lo = idx.min_us.map(|m| lo.map_or(m, |l| l.min(m))).or(lo);
        hi = idx.max_us.map(|m| hi.map_or(m, |h| h.max(m))).or(hi);
        if idx.overlaps(from_us, to_us) {
            keep.push((f, idx));
        }
    }
    let linktype = keep.first().map_or(1, |(_, i)| i.linktype);
    if let Some((f, i)) = keep.iter().find(|(_, i)| i.linktype != linktype) {
        return Err(Error::at(
            ErrorKind::Format,
            &f.path,
            None,
            format!(
                "link type {} differs from the other ring files' {linktype}",
                i.linktype
            ),
        ));
    }
    let snaplen = keep.iter().map(|(_, i)| i.snaplen).max().unwrap_or(65_535);
    Ok(Selection {
        total,
        files: keep,
        linktype,
        snaplen,
        span: lo
            .zip(hi)
            .map(|(l, h)| (Time::from_micros(l), Time::from_micros(h))),
        vanished,
        notes,
    })
}

fn vanished_note(p: &Path) -> String {
    format!(
        "{}: vanished while being read (rotated out of the ring): skipped",
        p.display()
    )
}

/// What reading the ring files met besides packets.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    /// Files that end in a torn record; read up to it.
    pub torn: Vec<PathBuf>,
    pub vanished: Vec<PathBuf>,
    pub notes: Vec<String>,
}

/// One file's next packet, owned so the heap can hold it.
struct Pending {
    ts: Time,
    wire: u32,
    data: Vec<u8>,
}

/// Calls `f` for every packet of `files` within `[from, to]`, in time order (ties: file
/// order). A file that vanished, is no capture file, ends in a torn record or holds a corrupt
/// one is read as far as it can be and noted.
///
/// # Errors
/// A read failure of the operating system, or an error of `f`.
pub(crate) fn for_each_merged(
    files: &[(RingFile, FileIndex)],
    from: Option<Time>,
    to: Option<Time>,
    mut f: impl FnMut(&RingFile, Time, u32, &[u8]) -> Result<(), Error>,
) -> Result<Merged, Error> {
    // Ring files are written with µs timestamps: compare at that precision.
    let (from, to) = (from.map(|t| t.as_micros()), to.map(|t| t.as_micros()));
    let in_range =
        |t: Time| from.is_none_or(|x| t.as_micros() >= x) && to.is_none_or(|x| t.as_micros() <= x);
    let mut readers = Vec::with_capacity(files.len());
    let mut pending: Vec<Option<Pending>> = Vec::with_capacity(files.len());
    let mut merged = Merged::default();
    let mut heap = BinaryHeap::new();
    let advance = |r: &mut Reader, m: &mut Merged| -> Result<Option<Pending>, Error> {
        loop {
            match r.next_packet() {
                Ok(Some(p)) => {
                    let ts = p.ts.map(Time::from).unwrap_or_default();
                    if in_range(ts) {
                        return Ok(Some(Pending {
                            ts,
                            wire: p.wire_len,
                            data: p.data.to_vec(),
                        }));
                    }
                }
                Ok(None) => {
                    if let Some(t) = r.tail() {
                        if t.kind() == pcap::ErrorKind::Truncated {
                            m.torn.push(r.path().to_path_buf());
                        } else {
                            m.notes
                                .push(format!("{t}; the rest of the file is skipped"));
                        }
                    }
                    return Ok(None);
                }
                Err(e) if e.kind() == pcap::ErrorKind::Io => return Err(e.into()),
                Err(e) => {
                    m.notes
                        .push(format!("{e}; the rest of the file is skipped"));
                    return Ok(None);
                }
            }
        }
    };
    for (i, (rf, _)) in files.iter().enumerate() {
        let p = match Reader::open(&rf.path) {
            Ok(mut r) => {
                let p = advance(&mut r, &mut merged)?;
                readers.push(Some(r));
                p
            }
            Err(e) if e.kind() == pcap::ErrorKind::NotFound => {
                merged.notes.push(vanished_note(&rf.path));
                merged.vanished.push(rf.path.clone());
                readers.push(None);
                None
            }
            Err(e) if e.kind() == pcap::ErrorKind::Io => return Err(e.into()),
            Err(e) => {
                merged.notes.push(format!("{e}: skipped"));
                readers.push(None);
                None
            }
        };
        if let Some(p) = &p {
            heap.push(Reverse((p.ts, i)));
        }
        pending.push(p);
    }
    while let Some(Reverse((_, i))) = heap.pop() {
        let Some(p) = pending[i].take() else { continue };
        f(&files[i].0, p.ts, p.wire, &p.data)?;
        let next = match readers[i].as_mut() {
            Some(r) => advance(r, &mut merged)?,
            None => None,
        };
        if let Some(n) = &next {
            heap.push(Reverse((n.ts, i)));
        }
        pending[i] = next;
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_file(dir: &Path, seq: u64, packets: &[(u32, &[u8])]) -> RingFile {
        let name = files::file_name("nsm", seq, 1_000);
        let path = dir.join(&name);
        let mut w = Writer::on_file(File::create(&path).unwrap(), &path, 1, 65535).unwrap();
        for (sec, data) in packets {
            w.write(
                pcap::Timestamp {
                    sec: i64::from(*sec),
                    nsec: 0,
                },
                data.len() as u32,
                data,
            )
            .unwrap();
        }
        w.finish().unwrap();
        RingFile {
            prefix: "nsm".into(),
            seq,
            first_sec: 1_000,
            name,
            path,
        }
    }

    /// Ethernet + IPv4 (`flags_off`: flags and fragment offset; `id`: IP ID) + `l4`;
    /// checksums left zero (carve does not verify them).
    fn eth_v4(flags_off: u16, id: u16, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
        let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00]; // MACs, IPv4
        f.extend_from_slice(&[0x45, 0]); // version 4, IHL 5; TOS
        f.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes()); // total length
        f.extend_from_slice(&id.to_be_bytes()); // ID
        f.extend_from_slice(&flags_off.to_be_bytes()); // flags, fragment offset
        f.extend_from_slice(&[64, 17, 0, 0]); // TTL, UDP, checksum
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(l4);
        f
    }

    #[test]
    fn community_id_keeps_the_later_fragments_of_a_kept_first_fragment() {
        let (a, b, c) = ([1, 2, 3, 4], [5, 6, 7, 8], [9, 9, 9, 9]);
        // UDP 1122 -> 3344, length 24 (the datagram spans the fragments), checksum.
        let udp = [0x04, 0x62, 0x0d, 0x10, 0, 24, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        let first = eth_v4(0x2000, 77, a, b, &udp); // MF, offset 0
        let later = eth_v4(0x0002, 77, a, b, b"tailtail"); // offset 2 (16 bytes)
        let stray = eth_v4(0x0002, 78, a, b, b"tailtail"); // no first fragment seen
        let other = eth_v4(0, 79, a, c, &udp[..8]); // another conversation
        let reply = eth_v4(0, 80, b, a, &[0x0d, 0x10, 0x04, 0x62, 0, 8, 0, 0]);
        let d = tempfile::tempdir().unwrap();
        let recs: Vec<(u32, &[u8])> = vec![
            (1_000, &first),
            (1_001, &other),
            (1_002, &later),
            (1_003, &stray),
            (1_004, &reply),
        ];
        ring_file(d.path(), 1, &recs);
        let o = tempfile::tempdir().unwrap();
        let out = o.path().join("x.pcap");
        let what = Selector {
            // community-id-spec baseline/README.md, default settings, UDP row.
            community_id: Some("1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="),
            ..Selector::default()
        };
        let rep = carve_selected(d.path(), &what, &out).unwrap();
        assert_eq!((rep.packets_in_range, rep.packets_written), (5, 3));
        let mut r = Reader::open(&out).unwrap();
        let mut got = Vec::new();
        while let Some(p) = r.next_packet().unwrap() {
            got.push(p.data.to_vec());
        }
        assert_eq!(got, [first, later, reply]);
    }

    /// The console bounds a download while it is written, not after (a carve of the whole
    /// ring would otherwise fill the disk first).
    #[test]
    fn a_carve_past_max_bytes_stops_and_leaves_no_output() {
        let udp = [0x04, 0x62, 0x0d, 0x10, 0, 8, 0, 0];
        let p = eth_v4(0, 1, [1, 2, 3, 4], [5, 6, 7, 8], &udp);
        let d = tempfile::tempdir().unwrap();
        ring_file(d.path(), 1, &[(1_000, &p), (1_001, &p)]);
        let o = tempfile::tempdir().unwrap();
        let out = o.path().join("x.pcap");
        // File header (24) and two records (16 + the frame each): exactly at the limit.
        let whole = 24 + 2 * (16 + p.len() as u64);
        let what = Selector {
            max_bytes: Some(whole),
            ..Selector::default()
        };
        let rep = carve_selected(d.path(), &what, &out).unwrap();
        assert_eq!((rep.packets_written, rep.bytes_written), (2, whole));
        std::fs::remove_file(&out).unwrap();
        let what = Selector {
            max_bytes: Some(whole - 1),
            ..Selector::default()
        };
        let e = carve_selected(d.path(), &what, &out).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooLarge);
        assert!(!out.exists());
        assert_eq!(std::fs::read_dir(o.path()).unwrap().count(), 0);
    }

    #[test]
    fn malformed_community_id_is_a_usage_error_before_anything_is_read() {
        let what = Selector {
            community_id: Some("1:abc"),
            ..Selector::default()
        };
        let missing = Path::new("/nonexistent/ring");
        let e = carve_selected(missing, &what, Path::new("/nonexistent/out.pcap")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(e.to_string().contains("--community-id \"1:abc\""), "{e}");
    }

    /// Regression: carve failed when a ring file rotated out between the directory listing
    /// and reading its index. It is skipped with a note.
    #[test]
    fn file_vanished_after_listing_is_skipped_with_a_note() {
        let d = tempfile::tempdir().unwrap();
        let a = ring_file(d.path(), 1, &[(1_000, b"aaaa")]);
        let b = ring_file(d.path(), 2, &[(1_001, b"bbbb")]);
        std::fs::remove_file(&a.path).unwrap();
        let sel = select_listed(vec![a.clone(), b], None, None).unwrap();
        assert_eq!(sel.vanished, std::slice::from_ref(&a.path));
        assert_eq!(sel.files.len(), 1);
        assert!(sel.notes[0].contains("vanished"), "{:?}", sel.notes);
    }

    /// Regression: a ring file selected by its index and deleted before it is opened made the
    /// whole carve fail. The other files are still read.
    #[test]
    fn file_vanished_after_selection_is_skipped_with_a_note() {
        let d = tempfile::tempdir().unwrap();
        let a = ring_file(d.path(), 1, &[(1_000, b"aaaa")]);
        let b = ring_file(d.path(), 2, &[(1_001, b"bbbb"), (1_002, b"cccc")]);
        let sel = select_listed(vec![a.clone(), b], None, None).unwrap();
        assert_eq!(sel.files.len(), 2);
        std::fs::remove_file(&a.path).unwrap();
        let mut seen = Vec::new();
        let merged = for_each_merged(&sel.files, None, None, |_, _, _, data| {
            seen.push(data.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [b"bbbb".to_vec(), b"cccc".to_vec()]);
        assert_eq!(merged.vanished, [a.path]);
        assert!(merged.notes[0].contains("vanished"), "{:?}", merged.notes);
    }
}
