//! The fragment table on hand-made IPv4 fragments: the `first` overlap table, anomalies,
//! timeouts and the memory cap.

use super::*;
use crate::decode::{decode, linktype, DecodeOptions};

/// An IPv4 fragment from 10.0.0.1 to 10.0.0.2 with a valid header checksum.
fn frag(id: u16, proto: u8, off8: u16, mf: bool, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let flags = if mf { 0x2000 } else { 0 } | off8;
    let mut ip = vec![0x45, 0]; // version 4, IHL 5; TOS
    ip.extend_from_slice(&total.to_be_bytes()); // total length
    ip.extend_from_slice(&id.to_be_bytes()); // identification
    ip.extend_from_slice(&flags.to_be_bytes()); // flags, fragment offset
    ip.extend_from_slice(&[64, proto, 0, 0]); // TTL, protocol, checksum
    ip.extend_from_slice(&[10, 0, 0, 1]); // source
    ip.extend_from_slice(&[10, 0, 0, 2]); // destination
    let c = internet_checksum(0, &ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(payload);
    ip
}

fn feed(d: &mut Defrag, ts: i64, f: &[u8], out: &mut Vec<u8>) -> bool {
    let opts = DecodeOptions { checksums: true };
    let p = decode(linktype::RAW, ts, 0, f.len() as u32, f, opts).expect("decodes");
    d.insert(&p, out)
}

/// Feeds `(offset in 8-byte units, more fragments, payload)` in order; the rebuilt payload
/// when the last one completed the datagram.
fn run(frags: &[(u16, bool, &[u8])]) -> (Option<Vec<u8>>, DefragStats) {
    let mut d = Defrag::new(DefragOptions::default());
    let mut out = Vec::new();
    let mut done = None;
    for (i, (off, mf, data)) in frags.iter().enumerate() {
        // Protocol 253 (experimental): no transport header to decode in the first fragment.
        if feed(&mut d, 1, &frag(7, 253, *off, *mf, data), &mut out) {
            assert_eq!(i, frags.len() - 1, "completed early");
            done = Some(out.clone());
        }
    }
    (done.map(|b| b[20..].to_vec()), d.stats())
}

#[test]
fn first_policy_overlap_table() {
    let a8 = b"AAAAAAAA";
    let b8 = b"BBBBBBBB";
    let c8 = b"CCCCCCCC";
    let x16 = b"XXXXXXXXXXXXXXXX";
    let y24 = b"YYYYYYYYYYYYYYYYYYYYYYYY";
    // (case, fragments in arrival order, rebuilt payload, overlaps counted)
    type Case<'a> = (&'a str, Vec<(u16, bool, &'a [u8])>, &'a [u8], u64);
    let cases: &[Case] = &[
        (
            "in order",
            vec![(0, true, a8), (1, true, b8), (2, false, c8)],
            b"AAAAAAAABBBBBBBBCCCCCCCC",
            0,
        ),
        (
            "reverse order",
            vec![(2, false, c8), (1, true, b8), (0, true, a8)],
            b"AAAAAAAABBBBBBBBCCCCCCCC",
            0,
        ),
        (
            "exact retransmit, other bytes: first kept",
            vec![(0, true, a8), (0, true, b8), (1, false, c8)],
            b"AAAAAAAACCCCCCCC",
            1,
        ),
        (
            "left overlap: new slides right",
            vec![(0, true, x16), (1, true, y24), (4, false, c8)],
            b"XXXXXXXXXXXXXXXXYYYYYYYYYYYYYYYYCCCCCCCC",
            1,
        ),
        (
            "right overlap: new truncated",
            vec![(2, true, b8), (0, true, y24), (3, false, c8)],
            b"YYYYYYYYYYYYYYYYBBBBBBBBCCCCCCCC",
            1,
        ),
        (
            "new spans an old one: old kept, both sides filled",
            vec![(1, true, a8), (0, true, y24), (3, false, c8)],
            b"YYYYYYYYAAAAAAAAYYYYYYYYCCCCCCCC",
            1,
        ),
        (
            "new inside an old one: dropped",
            vec![(0, true, y24), (1, true, a8), (3, false, c8)],
            b"YYYYYYYYYYYYYYYYYYYYYYYYCCCCCCCC",
            1,
        ),
        (
            "new spans several with gaps",
            vec![
                (0, true, a8),
                (2, true, b8),
                (4, false, c8),
                (0, true, b"ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"),
            ],
            b"AAAAAAAAZZZZZZZZBBBBBBBBZZZZZZZZCCCCCCCC",
            1,
        ),
        (
            "last fragment overlapping the previous one's tail",
            vec![(0, true, x16), (1, false, y24)],
            b"XXXXXXXXXXXXXXXXYYYYYYYYYYYYYYYY",
            1,
        ),
    ];
    for (name, frags, want, overlaps) in cases {
        let (got, st) = run(frags);
        assert_eq!(got.as_deref(), Some(*want), "{name}");
        assert_eq!(st.overlaps, *overlaps, "{name}");
        assert_eq!(st.rebuilt, 1, "{name}");
    }
}

#[test]
fn rebuilt_header_is_the_first_fragments_with_length_flags_and_checksum_fixed() {
    let mut d = Defrag::new(DefragOptions::default());
    let mut out = Vec::new();
    assert!(!feed(&mut d, 1, &frag(9, 253, 1, false, b"tail"), &mut out));
    assert!(feed(
        &mut d,
        1,
        &frag(9, 253, 0, true, b"01234567"),
        &mut out
    ));
    assert_eq!(out.len(), 20 + 12);
    assert_eq!(&out[2..4], &32u16.to_be_bytes(), "total length");
    assert_eq!(&out[4..6], &9u16.to_be_bytes(), "id kept");
    assert_eq!(&out[6..8], &[0, 0], "MF and offset cleared");
    assert_eq!(internet_checksum(0, &out[..20]), 0, "header checksum valid");
    let p = decode(
        linktype::RAW,
        1,
        0,
        32,
        &out,
        DecodeOptions { checksums: true },
    )
    .unwrap();
    assert!(!p.frag.is_fragment());
    assert_eq!(p.payload, b"01234567tail");
    assert_eq!(d.trackers(), 0);
    assert_eq!(d.stats().mem_in_use, 0);
}

#[test]
fn anomalies_are_counted_and_bad_datagrams_never_rebuilt() {
    // Teardrop: the last fragment ends before data already held.
    let (got, st) = run(&[(0, true, b"AAAAAAAABBBBBBBBCCCCCCCC"), (1, false, b"ZZ")]);
    assert_eq!((got, st.teardrop, st.rebuilt), (None, 1, 0));
    // Oversize: a fragment past the end set by the last fragment is dropped.
    let (got, st) = run(&[
        (1, false, b"BBBBBBBB"),
        (2, true, b"CCCCCCCC"),
        (0, true, b"AAAAAAAA"),
    ]);
    assert_eq!(st.oversize, 1);
    assert_eq!(got.as_deref(), Some(&b"AAAAAAAABBBBBBBB"[..]));
    // Short non-last fragment: rounded down to 8 and counted.
    let (got, st) = run(&[(0, true, b"AAAAAAAAB"), (1, false, b"CC")]);
    assert_eq!(st.short_frag, 1);
    assert_eq!(got.as_deref(), Some(&b"AAAAAAAACC"[..]));
    // Zero size.
    let (_, st) = run(&[(0, true, b"")]);
    assert_eq!(st.zero_size, 1);
    // Beyond 65535 bytes.
    let (got, st) = run(&[(8189, true, b"AAAAAAAAAAAAAAAAAAAAAAAA"), (0, false, b"x")]);
    assert_eq!((got, st.too_large), (None, 1));
}

/// `frag` with 40 bytes of NOP options: a 60-byte header.
fn frag_with_options(id: u16, proto: u8, off8: u16, mf: bool, payload: &[u8]) -> Vec<u8> {
    let mut ip = frag(id, proto, off8, mf, payload);
    ip[0] = 0x4f; // IHL 15
    let total = (60 + payload.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[10..12].copy_from_slice(&[0, 0]);
    ip.splice(20..20, [1u8; 40]); // options: NOP
    let c = internet_checksum(0, &ip[..60]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip
}

#[test]
fn a_datagram_too_large_under_the_first_fragments_header_is_never_rebuilt() {
    // Regression: the 65535 check used each fragment's own header, but the rebuilt datagram
    // carries the offset-0 fragment's: with a 60-byte one arriving last, 65480 payload bytes
    // passed (20 + 65480) and the rebuilt datagram's length was clamped, cutting 5 bytes.
    let tail = vec![b't'; 65_480 - 64];
    for first_last in [true, false] {
        let mut d = Defrag::new(DefragOptions::default());
        let mut out = Vec::new();
        let first = frag_with_options(3, 253, 0, true, &[b'h'; 64]);
        let last = frag(3, 253, 8, false, &tail);
        let order = if first_last {
            [&last, &first]
        } else {
            [&first, &last]
        };
        let done = order.iter().any(|f| feed(&mut d, 1, f, &mut out));
        let st = d.stats();
        assert_eq!((done, st.too_large, st.rebuilt), (false, 1, 0));
    }
    // Under a 20-byte first header the same payload fits: 65500 bytes.
    let (got, st) = run(&[(8, false, &tail), (0, true, &[b'h'; 64])]);
    assert_eq!((got.map(|b| b.len()), st.too_large), (Some(65_480), 0));
}

#[test]
fn timeout_is_counted_and_a_late_fragment_starts_over() {
    let mut d = Defrag::new(DefragOptions::default());
    let mut out = Vec::new();
    assert!(!feed(
        &mut d,
        100,
        &frag(1, 253, 0, true, b"AAAAAAAA"),
        &mut out
    ));
    // 59 s later: still held.
    d.expire(159);
    assert_eq!(d.trackers(), 1);
    // 60 s after the first fragment the tracker is given up; the tail alone starts a new one.
    assert!(!feed(&mut d, 160, &frag(1, 253, 1, false, b"B"), &mut out));
    let st = d.stats();
    assert_eq!((st.timeouts, st.trackers, st.rebuilt), (1, 2, 0));
    assert_eq!(d.trackers(), 1);
}

#[test]
fn memcap_evicts_the_oldest_datagram() {
    // Three datagrams of one 1000-byte first fragment (with its 20-byte header) fit.
    let cap = 3 * (TRACKER_OVERHEAD + PIECE_OVERHEAD + 1000 + 20);
    let mut d = Defrag::new(DefragOptions {
        memcap_bytes: cap,
        ..DefragOptions::default()
    });
    let mut out = Vec::new();
    let chunk = vec![0x41; 1000];
    for id in 0..10u16 {
        assert!(!feed(&mut d, 1, &frag(id, 253, 0, true, &chunk), &mut out));
        assert!(d.stats().mem_in_use as usize <= cap);
    }
    let st = d.stats();
    assert_eq!(st.evicted, 7);
    assert_eq!(d.trackers(), 3);
    // The newest survive: id 9 completes, id 0 (evicted) does not.
    assert!(feed(&mut d, 1, &frag(9, 253, 125, false, b"z"), &mut out));
    assert!(!feed(&mut d, 1, &frag(0, 253, 125, false, b"z"), &mut out));
}

#[test]
fn per_datagram_fragment_cap_drops_the_datagram() {
    let mut d = Defrag::new(DefragOptions {
        max_frags_per_datagram: 4,
        ..DefragOptions::default()
    });
    let mut out = Vec::new();
    for off in [0u16, 2, 4, 6, 8] {
        feed(&mut d, 1, &frag(3, 253, off, true, b"AAAAAAAA"), &mut out);
    }
    let st = d.stats();
    assert_eq!(st.too_many_frags, 1);
    assert_eq!(st.mem_in_use as usize, TRACKER_OVERHEAD);
    // The dropped datagram swallows the rest.
    assert!(!feed(&mut d, 1, &frag(3, 253, 1, false, b"x"), &mut out));
}

#[test]
fn not_fragments_and_cut_fragments_are_left_alone() {
    let mut d = Defrag::new(DefragOptions::default());
    let mut out = Vec::new();
    assert!(!feed(
        &mut d,
        1,
        &frag(1, 253, 0, false, b"whole"),
        &mut out
    ));
    assert_eq!(d.stats().fragments, 0);
    let f = frag(2, 253, 0, true, b"AAAAAAAAAAAAAAAA");
    let opts = DecodeOptions { checksums: false };
    // Captured 30 of 36 bytes.
    let p = decode(linktype::RAW, 1, 0, 36, &f[..30], opts).unwrap();
    assert!(!d.insert(&p, &mut out));
    assert_eq!(d.stats().truncated, 1);
}

#[test]
fn held_from_detection_follows_frag3() {
    let opts = DecodeOptions { checksums: false };
    let udp_first = frag(
        1,
        17,
        0,
        true,
        &[0, 53, 0, 53, 0, 20, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8],
    );
    let tcp_first = frag(1, 6, 0, true, &[0; 24]);
    let later = frag(1, 17, 3, false, b"x");
    let whole = frag(
        1,
        6,
        0,
        false,
        &[
            0x00, 0x50, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 2, 0, 0, 0, 0, 0, 0,
        ],
    );
    let held = |f: &[u8]| {
        let p = decode(linktype::RAW, 1, 0, f.len() as u32, f, opts).unwrap();
        held_from_detection(&p)
    };
    assert!(!held(&udp_first));
    assert!(held(&tcp_first));
    assert!(held(&later));
    assert!(!held(&whole));
}

proptest::proptest! {
    /// Hostile fragment streams (any offsets, sizes, flags, ids, times) never panic, and the
    /// state stays within the memcap and the fragment caps.
    #[test]
    fn hostile_fragments_never_panic_and_stay_bounded(
        frags in proptest::collection::vec(
            (0u16..4, 0u16..0x2000, proptest::bool::ANY, 0usize..1500, 0i64..200),
            1..200,
        )
    ) {
        let opts = DefragOptions {
            memcap_bytes: 16 * 1024,
            timeout_s: 60,
            max_frags: 64,
            max_frags_per_datagram: 16,
        };
        let mut d = Defrag::new(opts);
        let mut out = Vec::new();
        let mut ts = 0;
        for (id, off8, mf, len, dt) in frags {
            ts += dt;
            let f = frag(id, 253, off8, mf, &vec![0x5a; len]);
            let Ok(p) = decode(linktype::RAW, ts, 0, f.len() as u32, &f, DecodeOptions { checksums: true }) else {
                continue;
            };
            if d.insert(&p, &mut out) {
                proptest::prop_assert!(out.len() <= IP_MAXPACKET);
                let r = decode(linktype::RAW, ts, 0, out.len() as u32, &out, DecodeOptions { checksums: true });
                proptest::prop_assert!(r.is_ok());
            }
            proptest::prop_assert!(d.stats().mem_in_use as usize <= opts.memcap_bytes);
            proptest::prop_assert!(d.pieces_total <= opts.max_frags);
        }
    }
}
