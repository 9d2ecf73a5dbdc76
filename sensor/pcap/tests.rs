//! Unit tests of the reader on byte arrays: sizes that lie, torn tails, pcapng sections and
//! interfaces, timestamp resolution and offset overflow, and the writer round trip.

use std::path::Path;

use super::*;

fn file(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("x.pcap");
    std::fs::write(&p, bytes).unwrap();
    (d, p)
}

/// Classic pcap header, little-endian µs.
fn pcap_header(snaplen: u32, linktype: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic
    h.extend_from_slice(&2u16.to_le_bytes()); // version major
    h.extend_from_slice(&4u16.to_le_bytes()); // version minor
    h.extend_from_slice(&[0; 8]); // thiszone, sigfigs
    h.extend_from_slice(&snaplen.to_le_bytes());
    h.extend_from_slice(&linktype.to_le_bytes());
    h
}

fn pcap_record(sec: u32, usec: u32, caplen: u32, wire: u32, data: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    for v in [sec, usec, caplen, wire] {
        r.extend_from_slice(&v.to_le_bytes());
    }
    r.extend_from_slice(data);
    r
}

/// A little-endian pcapng block: type, total length, body (padded), total length.
fn block(btype: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let total = (body.len() + 12) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&btype.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(&body);
    b.extend_from_slice(&total.to_le_bytes());
    b
}

fn shb() -> Vec<u8> {
    // byte-order magic, version 1.0, section length -1
    let mut body = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    body.extend_from_slice(&[1, 0, 0, 0]);
    body.extend_from_slice(&u64::MAX.to_le_bytes());
    block(0x0a0d_0d0a, &body)
}

fn idb(linktype: u16, snaplen: u32, opts: &[u8]) -> Vec<u8> {
    let mut body = linktype.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0]); // reserved
    body.extend_from_slice(&snaplen.to_le_bytes());
    body.extend_from_slice(opts);
    block(1, &body)
}

fn epb(if_id: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
    let mut body = if_id.to_le_bytes().to_vec();
    body.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ticks as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes()); // caplen
    body.extend_from_slice(&(data.len() as u32).to_le_bytes()); // original length
    body.extend_from_slice(data);
    block(6, &body)
}

/// Time, link type and bytes of each record.
type Records = Vec<(Option<Timestamp>, u32, Vec<u8>)>;

fn read_all(p: &Path) -> Result<(Records, Option<Error>), Error> {
    let mut r = Reader::open(p)?;
    let mut v = Vec::new();
    while let Some(pk) = r.next_packet()? {
        v.push((pk.ts, pk.linktype, pk.data.to_vec()));
    }
    Ok((v, r.tail().cloned()))
}

/// Regression: snaplen 0xffffffff and caplen 0xfffffff0 in a 40-byte file made the reader
/// allocate 4 GiB. The record is refused before any allocation.
#[test]
fn lying_caplen_is_refused_without_allocating() {
    let mut f = pcap_header(0xffff_ffff, 1);
    f.extend_from_slice(&pcap_record(1, 0, 0xffff_fff0, 0xffff_fff0, &[]));
    assert_eq!(f.len(), 40);
    let (_d, p) = file(&f);
    let e = read_all(&p).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Format);
    assert!(e.to_string().contains("262144"), "{e}");
    assert!(e.to_string().contains("x.pcap: offset 24"), "{e}");
}

/// A caplen within libpcap's maximum but beyond the file is a torn tail, not an allocation.
#[test]
fn caplen_beyond_the_file_is_a_torn_tail() {
    let mut f = pcap_header(65535, 1);
    f.extend_from_slice(&pcap_record(1, 5, 4, 4, b"abcd"));
    f.extend_from_slice(&pcap_record(2, 0, 200_000, 200_000, b"xy"));
    let (_d, p) = file(&f);
    let (pk, tail) = read_all(&p).unwrap();
    assert_eq!(pk.len(), 1);
    assert_eq!(pk[0].0, Some(Timestamp { sec: 1, nsec: 5000 }));
    let tail = tail.unwrap();
    assert_eq!(tail.kind(), ErrorKind::Truncated);
    assert_eq!(tail.offset(), Some(44));
}

/// The state right after a crash: half a record header, half a record's data.
#[test]
fn torn_last_record_ends_the_file_with_a_tail() {
    let mut whole = pcap_header(65535, 1);
    whole.extend_from_slice(&pcap_record(1, 0, 4, 4, b"abcd"));
    whole.extend_from_slice(&pcap_record(2, 0, 4, 4, b"efgh"));
    for cut in [whole.len() - 2, whole.len() - 10, 24 + 20 + 3] {
        let (_d, p) = file(&whole[..cut]);
        let (pk, tail) = read_all(&p).unwrap();
        assert_eq!(pk.len(), 1, "cut at {cut}");
        assert_eq!(tail.unwrap().kind(), ErrorKind::Truncated, "cut at {cut}");
    }
    let (_d, p) = file(&whole);
    let (pk, tail) = read_all(&p).unwrap();
    assert_eq!(pk.len(), 2);
    assert!(tail.is_none());
}

#[test]
fn headers_cut_short_or_unknown_are_errors() {
    for (bytes, kind) in [
        (&[][..], ErrorKind::Truncated),
        (&[0xd4, 0xc3, 0xb2][..], ErrorKind::Truncated),
        (&pcap_header(65535, 1)[..20], ErrorKind::Truncated),
        (&b"GET / HTTP/1.1\r\n\r\n"[..], ErrorKind::Format),
        (&shb()[..20], ErrorKind::Truncated),
    ] {
        let (_d, p) = file(bytes);
        let e = Reader::open(&p).err().unwrap();
        assert_eq!(e.kind(), kind, "{e}");
    }
}

/// Two interfaces of different link types in one section: every packet, each with its own.
#[test]
fn pcapng_interfaces_of_different_link_types() {
    let mut f = shb();
    f.extend_from_slice(&idb(1, 65535, &[]));
    f.extend_from_slice(&idb(101, 1500, &[]));
    f.extend_from_slice(&epb(0, 1_000_000, b"ether"));
    f.extend_from_slice(&epb(1, 2_500_000, b"rawip"));
    f.extend_from_slice(&epb(0, 3_000_000, b"ether2"));
    let (_d, p) = file(&f);
    let r = Reader::open(&p).unwrap();
    assert_eq!(r.interfaces().len(), 2, "interfaces known at open");
    let (pk, tail) = read_all(&p).unwrap();
    assert!(tail.is_none());
    let lts: Vec<u32> = pk.iter().map(|p| p.1).collect();
    assert_eq!(lts, [1, 101, 1]);
    assert_eq!(
        pk[1].0,
        Some(Timestamp {
            sec: 2,
            nsec: 500_000_000
        })
    );
}

/// if_tsresol beyond u64 and an if_tsoffset that overflows are errors, not wrapped times.
#[test]
fn pcapng_timestamp_overflow_is_checked() {
    // if_tsresol 10^-20: the ticks per second do not fit in 64 bits.
    let mut f = shb();
    f.extend_from_slice(&idb(1, 0, &[9, 0, 1, 0, 20, 0, 0, 0]));
    let (_d, p) = file(&f);
    assert_eq!(read_all(&p).unwrap_err().kind(), ErrorKind::Format);
    // if_tsresol 2^-70.
    let mut f = shb();
    f.extend_from_slice(&idb(1, 0, &[9, 0, 1, 0, 0x80 | 70, 0, 0, 0]));
    let (_d, p) = file(&f);
    assert_eq!(read_all(&p).unwrap_err().kind(), ErrorKind::Format);
    // if_tsoffset i64::MAX with a µs time: the sum overflows.
    let mut opt = vec![14, 0, 8, 0];
    opt.extend_from_slice(&i64::MAX.to_le_bytes());
    let mut f = shb();
    f.extend_from_slice(&idb(1, 0, &opt));
    f.extend_from_slice(&epb(0, u64::MAX, b"x"));
    f.extend_from_slice(&epb(0, 5_000_000, b"x"));
    let (_d, p) = file(&f);
    let mut r = Reader::open(&p).unwrap();
    let e = r.next_packet().unwrap_err();
    assert!(e.to_string().contains("timestamp out of range"), "{e}");
    // The next block is still found: one bad block does not end the file.
    assert!(r.next_packet().is_err(), "offset still out of range");
    // A nanosecond resolution with a time at the very end of the u64 range.
    let mut f = shb();
    f.extend_from_slice(&idb(1, 0, &[9, 0, 1, 0, 9, 0, 0, 0]));
    f.extend_from_slice(&epb(0, u64::MAX, b"x"));
    let (_d, p) = file(&f);
    let (pk, _) = read_all(&p).unwrap();
    assert_eq!(pk[0].0.unwrap().sec, 18_446_744_073);
}

/// A block length larger than the file, or absurd, never becomes an allocation.
#[test]
fn pcapng_lying_block_lengths() {
    for total in [0xffff_fff0u32, 16 << 20, 1 << 20, 13, 8] {
        let mut f = shb();
        f.extend_from_slice(&idb(1, 65535, &[]));
        let mut b = epb(0, 1, b"abcd");
        b[4..8].copy_from_slice(&total.to_le_bytes());
        f.extend_from_slice(&b);
        let (_d, p) = file(&f);
        let mut r = Reader::open(&p).unwrap();
        match r.next_packet() {
            Ok(None) => assert_eq!(r.tail().unwrap().kind(), ErrorKind::Truncated),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Format, "{e}"),
            Ok(Some(_)) => panic!("block of length {total} read"),
        }
        assert!(r.next_packet().unwrap().is_none());
    }
    // The same for the section header's own length.
    let mut f = shb();
    f[4..8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let (_d, p) = file(&f);
    assert!(Reader::open(&p).is_err());
}

/// A second section in the other byte order, whose interfaces replace the first's.
#[test]
fn pcapng_sections_in_both_byte_orders() {
    let mut f = shb();
    f.extend_from_slice(&idb(1, 65535, &[]));
    f.extend_from_slice(&epb(0, 1_000_000, b"le"));
    // Big-endian section: SHB, IDB (raw IP), EPB.
    let be_block = |btype: u32, body: &[u8]| {
        let total = (body.len() + 12) as u32;
        let mut b = btype.to_be_bytes().to_vec();
        b.extend_from_slice(&total.to_be_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(&total.to_be_bytes());
        b
    };
    let mut body = 0x1a2b_3c4du32.to_be_bytes().to_vec();
    body.extend_from_slice(&[0, 1, 0, 0]);
    body.extend_from_slice(&u64::MAX.to_be_bytes());
    f.extend_from_slice(&be_block(0x0a0d_0d0a, &body));
    let mut body = 101u16.to_be_bytes().to_vec();
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&0u32.to_be_bytes());
    f.extend_from_slice(&be_block(1, &body));
    let mut body = 0u32.to_be_bytes().to_vec();
    body.extend_from_slice(&0u32.to_be_bytes());
    body.extend_from_slice(&7_000_000u32.to_be_bytes());
    body.extend_from_slice(&4u32.to_be_bytes());
    body.extend_from_slice(&4u32.to_be_bytes());
    body.extend_from_slice(b"beip");
    f.extend_from_slice(&be_block(6, &body));
    let (_d, p) = file(&f);
    let (pk, tail) = read_all(&p).unwrap();
    assert!(tail.is_none());
    assert_eq!(pk.len(), 2);
    assert_eq!((pk[1].1, pk[1].2.as_slice()), (101, &b"beip"[..]));
    assert_eq!(pk[1].0.unwrap().sec, 7);
}

/// A packet block that names an interface the section never declared.
#[test]
fn pcapng_undeclared_interface() {
    let mut f = shb();
    f.extend_from_slice(&idb(1, 65535, &[]));
    f.extend_from_slice(&epb(7, 1, b"abcd"));
    let (_d, p) = file(&f);
    let e = read_all(&p).unwrap_err();
    assert!(e.to_string().contains("undeclared interface 7"), "{e}");
}

/// Strict mode (the ring's crash repair): a record no writer produces ends the file.
#[test]
fn strict_mode_stops_at_insane_records() {
    let mut f = pcap_header(8, 1);
    f.extend_from_slice(&pcap_record(1, 0, 4, 4, b"abcd"));
    f.extend_from_slice(&pcap_record(2, 0, 9, 9, b"123456789")); // caplen above snaplen
    let (_d, p) = file(&f);
    let mut r = Reader::open(&p).unwrap().strict(true);
    assert!(r.next_packet().unwrap().is_some());
    assert!(r.next_packet().unwrap().is_none());
    assert_eq!(r.position(), 44);
    assert_eq!(r.tail().unwrap().kind(), ErrorKind::Format);
    // Not strict: the record is read (libpcap reads it too).
    let (pk, _) = read_all(&p).unwrap();
    assert_eq!(pk.len(), 2);
}

/// Records larger than the first buffer, from a small file and a large one.
#[test]
fn big_records_and_many_records() {
    let mut f = pcap_header(0, 1);
    let big = vec![7u8; MAX_RECORD as usize];
    f.extend_from_slice(&pcap_record(1, 0, MAX_RECORD, MAX_RECORD, &big));
    for i in 0..20_000u32 {
        f.extend_from_slice(&pcap_record(i, 0, 100, 100, &[i as u8; 100]));
    }
    let (_d, p) = file(&f);
    let (pk, tail) = read_all(&p).unwrap();
    assert!(tail.is_none());
    assert_eq!(pk.len(), 20_001);
    assert_eq!(pk[0].2, big);
    assert!(pk[1..]
        .iter()
        .enumerate()
        .all(|(i, p)| p.2 == [i as u8; 100]));
}

#[test]
fn writer_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("w.pcap");
    let mut w = Writer::on_file(std::fs::File::create(&p).unwrap(), &p, 101, 1500).unwrap();
    w.write(
        Timestamp {
            sec: 5,
            nsec: 123_456_000,
        },
        60,
        b"data",
    )
    .unwrap();
    w.finish().unwrap();
    let (pk, tail) = read_all(&p).unwrap();
    assert!(tail.is_none());
    assert_eq!(
        pk,
        [(
            Some(Timestamp {
                sec: 5,
                nsec: 123_456_000
            }),
            101,
            b"data".to_vec()
        )]
    );
}
