//! The reassembler on hand-made segments: order, the `first` overlap table, sequence
//! wraparound, midstream pickup, holes skipped, FIN/RST, the memory caps, hostile numbers.

use super::*;

/// What one flow delivered, per direction, with the chunks' times and gap marks.
#[derive(Default)]
struct Got {
    data: [Vec<u8>; 2],
    chunks: Vec<(Dir, Vec<u8>, i64, bool)>,
    fin: [bool; 2],
    rst: bool,
}

#[allow(clippy::too_many_arguments)]
fn feed(
    r: &mut Reassembler,
    g: &mut Got,
    flow: u64,
    dir: Dir,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
    t: i64,
) {
    let s = Segment {
        seq,
        ack,
        flags,
        payload,
        ts_sec: t,
        ts_usec: 0,
    };
    let d = r.segment(flow, dir, &s);
    for c in d.chunks() {
        g.data[c.dir.index()].extend_from_slice(c.data);
        g.chunks
            .push((c.dir, c.data.to_vec(), c.ts_sec, c.gap_before));
    }
    g.fin[0] |= d.fin(Dir::ToServer);
    g.fin[1] |= d.fin(Dir::ToClient);
    g.rst |= d.rst;
}

/// Client data after a SYN with ISN `base - 1`: segments `(offset from base, bytes)` in
/// arrival order; what the client direction delivered, and the counters.
fn client_stream(base: u32, segs: &[(u32, &[u8])]) -> (Vec<u8>, StreamStats) {
    let mut r = Reassembler::new(StreamOptions::default());
    let mut g = Got::default();
    feed(
        &mut r,
        &mut g,
        1,
        Dir::ToServer,
        base.wrapping_sub(1),
        0,
        SYN,
        b"",
        0,
    );
    for (i, (off, bytes)) in segs.iter().enumerate() {
        feed(
            &mut r,
            &mut g,
            1,
            Dir::ToServer,
            base.wrapping_add(*off),
            0,
            0,
            bytes,
            1 + i as i64,
        );
    }
    (g.data[0].clone(), r.stats())
}

#[test]
fn in_order_after_the_handshake_with_each_chunks_time() {
    let mut r = Reassembler::new(StreamOptions::default());
    let mut g = Got::default();
    feed(&mut r, &mut g, 7, Dir::ToServer, 1000, 0, SYN, b"", 1);
    feed(
        &mut r,
        &mut g,
        7,
        Dir::ToClient,
        5000,
        1001,
        SYN | ACK,
        b"",
        2,
    );
    feed(&mut r, &mut g, 7, Dir::ToServer, 1001, 5001, ACK, b"", 3);
    feed(
        &mut r,
        &mut g,
        7,
        Dir::ToServer,
        1001,
        5001,
        ACK,
        b"GET ",
        4,
    );
    feed(
        &mut r,
        &mut g,
        7,
        Dir::ToServer,
        1005,
        5001,
        ACK,
        b"/ HTTP/1.0\r\n\r\n",
        5,
    );
    feed(
        &mut r,
        &mut g,
        7,
        Dir::ToClient,
        5001,
        1019,
        ACK,
        b"HTTP/1.0 200 OK\r\n",
        6,
    );
    assert_eq!(g.data[0], b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(g.data[1], b"HTTP/1.0 200 OK\r\n");
    let times: Vec<i64> = g.chunks.iter().map(|c| c.2).collect();
    assert_eq!(times, [4, 5, 6]);
    let st = r.stats();
    assert_eq!((st.flows, st.segments, st.bytes_queued), (1, 3, 0));
    assert_eq!(st.bytes_delivered, 35);
}

#[test]
fn out_of_order_segments_wait_for_the_gap_and_keep_their_own_times() {
    let mut r = Reassembler::new(StreamOptions::default());
    let mut g = Got::default();
    feed(&mut r, &mut g, 1, Dir::ToServer, 99, 0, SYN, b"", 0);
    feed(&mut r, &mut g, 1, Dir::ToServer, 108, 0, ACK, b"third", 1);
    feed(&mut r, &mut g, 1, Dir::ToServer, 104, 0, ACK, b"2nd ", 2);
    assert!(g.data[0].is_empty());
    assert_eq!(r.stats().bytes_queued, 9);
    feed(&mut r, &mut g, 1, Dir::ToServer, 100, 0, ACK, b"one ", 3);
    assert_eq!(g.data[0], b"one 2nd third");
    let chunks: Vec<(&[u8], i64)> = g.chunks.iter().map(|c| (&c.1[..], c.2)).collect();
    assert_eq!(chunks, [(&b"one "[..], 3), (b"2nd ", 2), (b"third", 1)]);
    let st = r.stats();
    assert_eq!(
        (st.out_of_order, st.bytes_queued, st.gaps_skipped),
        (2, 0, 0)
    );
}

#[test]
fn first_policy_overlap_table() {
    // (case, segments as (offset, bytes) in arrival order, delivered stream)
    type Case<'a> = (&'a str, &'a [(u32, &'a [u8])], &'a [u8]);
    let cases: &[Case] = &[
        ("in order", &[(0, b"AAAA"), (4, b"BBBB")], b"AAAABBBB"),
        (
            "exact retransmit of delivered data, other bytes",
            &[(0, b"AAAA"), (0, b"XXXX"), (4, b"BBBB")],
            b"AAAABBBB",
        ),
        (
            "exact retransmit of queued data, other bytes",
            &[(4, b"BBBB"), (4, b"XXXX"), (0, b"AAAA")],
            b"AAAABBBB",
        ),
        (
            "left overlap of queued: new slides right",
            &[(4, b"BBBB"), (6, b"XXXXCC"), (0, b"AAAA")],
            b"AAAABBBBXXCC",
        ),
        (
            "right overlap of queued: new truncated",
            &[(8, b"CCCC"), (4, b"BBBBXX"), (0, b"AAAA")],
            b"AAAABBBBCCCC",
        ),
        (
            "new spans a queued one: old kept, both sides filled",
            &[(5, b"BB"), (2, b"XXXXXXXX"), (0, b"AA")],
            b"AAXXXBBXXX",
        ),
        (
            "new inside a queued one: dropped",
            &[(2, b"BBBBBBBB"), (4, b"XX"), (0, b"AA")],
            b"AABBBBBBBB",
        ),
        (
            "new spans several with gaps",
            &[(2, b"B"), (4, b"C"), (6, b"D"), (1, b"XXXXXXXX"), (0, b"A")],
            b"AXBXCXDXX",
        ),
        (
            "left overlap of delivered data: trimmed",
            &[(0, b"AAAA"), (2, b"XXBB")],
            b"AAAABB",
        ),
        (
            "overlap of delivered and queued at once",
            &[(0, b"AAAA"), (6, b"CC"), (2, b"XXBBXXDD")],
            b"AAAABBCCDD",
        ),
    ];
    for (name, segs, want) in cases {
        let (got, st) = client_stream(1000, segs);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "{name}"
        );
        assert_eq!(st.bytes_queued, 0, "{name}");
    }
}

#[test]
fn sequence_numbers_wrap() {
    let base = u32::MAX - 5;
    let segs: &[(u32, &[u8])] = &[(8, b"89ab"), (0, b"0123"), (4, b"4567")];
    let (got, st) = client_stream(base, segs);
    assert_eq!(got, b"0123456789ab");
    assert_eq!(st.out_of_order, 1);
    // The ISN itself at the top of the space.
    let (got, _) = client_stream(0, &[(0, b"x"), (1, b"y")]);
    assert_eq!(got, b"xy");
}

#[test]
fn midstream_pickup_starts_at_the_first_data_segment() {
    let mut r = Reassembler::new(StreamOptions::default());
    let mut g = Got::default();
    feed(
        &mut r,
        &mut g,
        3,
        Dir::ToClient,
        777_777,
        1,
        ACK,
        b"middle ",
        1,
    );
    feed(&mut r, &mut g, 3, Dir::ToClient, 777_788, 1, ACK, b"end", 2);
    feed(
        &mut r,
        &mut g,
        3,
        Dir::ToClient,
        777_784,
        1,
        ACK,
        b"and ",
        3,
    );
    // An earlier segment than the pickup point is old data.
    feed(
        &mut r,
        &mut g,
        3,
        Dir::ToClient,
        777_770,
        1,
        ACK,
        b"begin",
        4,
    );
    assert_eq!(g.data[1], b"middle and end");
    assert_eq!(r.stats().retransmits, 1);
}

#[test]
fn an_ack_past_a_hole_skips_it() {
    let mut r = Reassembler::new(StreamOptions::default());
    let mut g = Got::default();
    feed(&mut r, &mut g, 1, Dir::ToServer, 0, 0, SYN, b"", 0);
    feed(&mut r, &mut g, 1, Dir::ToServer, 1, 0, ACK, b"AAAA", 1);
    // Bytes 5..9 never captured.
    feed(&mut r, &mut g, 1, Dir::ToServer, 9, 0, ACK, b"CCCC", 2);
    feed(&mut r, &mut g, 1, Dir::ToServer, 17, 0, ACK, b"EEEE", 3);
    assert_eq!(g.data[0], b"AAAA");
    // The server acknowledges up to 13: the first hole is skipped, the second (13..17)
    // remains.
    feed(&mut r, &mut g, 1, Dir::ToClient, 500, 13, ACK, b"", 4);
    assert_eq!(g.data[0], b"AAAACCCC");
    assert_eq!(g.chunks.last().map(|c| c.3), Some(true), "gap marked");
    // Then past everything.
    feed(&mut r, &mut g, 1, Dir::ToClient, 500, 21, ACK, b"", 5);
    assert_eq!(g.data[0], b"AAAACCCCEEEE");
    let st = r.stats();
    assert_eq!(
        (st.gaps_skipped, st.bytes_skipped, st.bytes_queued),
        (2, 8, 0)
    );
    // An ACK of data never seen at all moves the delivery point too.
    feed(&mut r, &mut g, 1, Dir::ToClient, 500, 31, ACK, b"", 6);
    feed(&mut r, &mut g, 1, Dir::ToServer, 31, 0, ACK, b"Z", 7);
    assert_eq!(g.data[0], b"AAAACCCCEEEEZ");
    assert_eq!(r.stats().gaps_skipped, 3);
}

#[test]
fn a_full_queue_skips_its_first_hole() {
    let mut r = Reassembler::new(StreamOptions {
        max_queued_per_dir: 10,
        ..StreamOptions::default()
    });
    let mut g = Got::default();
    feed(&mut r, &mut g, 1, Dir::ToServer, 0, 0, SYN, b"", 0);
    feed(&mut r, &mut g, 1, Dir::ToServer, 5, 0, ACK, b"BBBB", 1);
    feed(&mut r, &mut g, 1, Dir::ToServer, 10, 0, ACK, b"CCCC", 2);
    assert!(g.data[0].is_empty());
    // 12 bytes would be queued: the first hole (1..5) goes and B is delivered; C and D wait
    // behind the next hole (9..10), 8 bytes.
    feed(&mut r, &mut g, 1, Dir::ToServer, 15, 0, ACK, b"DDDD", 3);
    assert_eq!(g.data[0], b"BBBB");
    assert!(g.chunks[0].3, "gap marked");
    assert_eq!(r.stats().bytes_queued, 8);
    assert_eq!(r.stats().gaps_skipped, 1);
    // Another 4 bytes: the next hole (9..10) goes too, C is delivered, D and E wait behind
    // the hole at 14..15.
    feed(&mut r, &mut g, 1, Dir::ToServer, 20, 0, ACK, b"EEEE", 4);
    assert_eq!(g.data[0], b"BBBBCCCC");
    assert_eq!((r.stats().gaps_skipped, r.stats().bytes_queued), (2, 8));
    // The late bytes of the first hole are old now.
    feed(&mut r, &mut g, 1, Dir::ToServer, 1, 0, ACK, b"AAAA", 4);
    assert_eq!(r.stats().retransmits, 1);
}

#[test]
fn fin_after_the_data_and_rst_drops_the_queue() {
    let mut r = Reassembler::new(StreamOptions::default());
    let mut g = Got::default();
    feed(&mut r, &mut g, 1, Dir::ToServer, 0, 0, SYN, b"", 0);
    // FIN with data, before the data ahead of it arrived.
    feed(&mut r, &mut g, 1, Dir::ToServer, 5, 0, ACK | FIN, b"end", 1);
    assert!(!g.fin[0]);
    feed(&mut r, &mut g, 1, Dir::ToServer, 1, 0, ACK, b"the ", 2);
    assert_eq!(g.data[0], b"the end");
    assert!(g.fin[0]);
    // An ACK of the FIN is not a hole.
    feed(&mut r, &mut g, 1, Dir::ToClient, 0, 9, ACK, b"", 3);
    assert_eq!(r.stats().gaps_skipped, 0);

    let mut g = Got::default();
    feed(&mut r, &mut g, 2, Dir::ToClient, 100, 0, ACK, b"ab", 1);
    feed(&mut r, &mut g, 2, Dir::ToClient, 110, 0, ACK, b"queued", 2);
    feed(&mut r, &mut g, 2, Dir::ToServer, 9, 0, RST, b"", 3);
    assert!(g.rst);
    assert_eq!(r.stats().bytes_dropped, 6);
    assert_eq!(r.stats().bytes_queued, 0);
    // Closed: later segments deliver nothing.
    feed(&mut r, &mut g, 2, Dir::ToClient, 102, 0, ACK, b"cd", 4);
    assert_eq!(g.data[1], b"ab");
    assert!(r.remove(2));
    assert!(!r.remove(2));
    assert_eq!(r.flows(), 1);
}

#[test]
fn memcap_drops_the_least_recently_used_flow() {
    let cap = 4 * (FLOW_OVERHEAD + PIECE_OVERHEAD + 1000);
    let mut r = Reassembler::new(StreamOptions {
        memcap_bytes: cap,
        ..StreamOptions::default()
    });
    let mut g = Got::default();
    let chunk = vec![b'q'; 1000];
    for flow in 0..10u64 {
        feed(&mut r, &mut g, flow, Dir::ToServer, 0, 0, SYN, b"", 0);
        // Out of order: held.
        feed(&mut r, &mut g, flow, Dir::ToServer, 100, 0, ACK, &chunk, 1);
        assert!(r.stats().mem_in_use as usize <= cap);
    }
    let st = r.stats();
    assert_eq!(st.evictions, 6);
    assert_eq!(r.flows(), 4);
    // Touching flow 6 makes flow 7 the oldest: a new flow evicts 7, not 6.
    feed(&mut r, &mut g, 6, Dir::ToServer, 1, 0, ACK, b"x", 2);
    feed(&mut r, &mut g, 10, Dir::ToServer, 0, 0, SYN, b"", 3);
    feed(&mut r, &mut g, 10, Dir::ToServer, 100, 0, ACK, &chunk, 3);
    assert!(r.remove(6));
    assert!(!r.remove(7));
    assert!(r.stats().mem_in_use as usize <= cap);
}

#[test]
fn hostile_numbers_never_panic() {
    let mut r = Reassembler::new(StreamOptions::default());
    let mut g = Got::default();
    feed(&mut r, &mut g, 1, Dir::ToServer, 0, 0, SYN, b"", 0);
    feed(&mut r, &mut g, 1, Dir::ToServer, 1, 0, ACK, b"ok", 1);
    for seq in [1u32 << 31, (1 << 31) + 3, u32::MAX, 1 << 30, 3 + (1 << 30)] {
        feed(
            &mut r,
            &mut g,
            1,
            Dir::ToServer,
            seq,
            seq,
            ACK | FIN,
            b"jump",
            2,
        );
        feed(
            &mut r,
            &mut g,
            1,
            Dir::ToClient,
            seq,
            seq,
            ACK | SYN,
            b"",
            2,
        );
    }
    feed(&mut r, &mut g, 1, Dir::ToServer, 3, 0, 0xff, b"", 3);
    assert!(g.data[0].starts_with(b"ok"));
    // 2^31 away (twice) is refused.
    assert!(r.stats().out_of_window >= 2, "{:?}", r.stats());
}

#[test]
fn data_queued_at_the_fin_is_not_left_behind_the_delivery_point() {
    // Regression: data queued at X behind a hole, a FIN at X, an ACK past X: the hole was
    // skipped to X, the FIN moved the delivery point to X + 1 and the piece at X stayed queued
    // behind it; the next segment's offset sum overflowed (a panic in debug builds) and, at
    // the queue cap, the skip loop spun on it for ever.
    let mut r = Reassembler::new(StreamOptions {
        max_queued_per_dir: 16,
        ..StreamOptions::default()
    });
    let mut g = Got::default();
    feed(&mut r, &mut g, 1, Dir::ToServer, 0, 0, SYN, b"", 0);
    feed(&mut r, &mut g, 1, Dir::ToServer, 1, 0, ACK, b"AAAA", 1);
    // (1) Bytes 5..9 never captured; 9..13 queued behind the hole.
    feed(&mut r, &mut g, 1, Dir::ToServer, 9, 0, ACK, b"CCCC", 2);
    // (2) A FIN at 9.
    feed(&mut r, &mut g, 1, Dir::ToServer, 9, 0, ACK | FIN, b"", 3);
    assert!(!g.fin[0]);
    // (3) The server acknowledges past 9: the hole is skipped and the FIN reported; the
    // piece loses the byte at the FIN's sequence number.
    feed(&mut r, &mut g, 1, Dir::ToClient, 500, 11, ACK, b"", 4);
    assert!(g.fin[0]);
    assert_eq!(g.data[0], b"AAAA");
    let st = r.stats();
    assert_eq!((st.gaps_skipped, st.bytes_skipped), (1, 4));
    assert_eq!((st.bytes_dropped, st.bytes_queued), (1, 3));
    // (4) More client data, ahead and over the cap: no overflow, no spin.
    feed(&mut r, &mut g, 1, Dir::ToServer, 20, 0, ACK, &[b'E'; 16], 5);
    feed(&mut r, &mut g, 1, Dir::ToServer, 10, 0, ACK, b"DD", 6);
    let st = r.stats();
    assert_eq!(
        st.mem_in_use as usize,
        FLOW_OVERHEAD + st.bytes_queued as usize + PIECE_OVERHEAD * queued_pieces(&r)
    );
    assert!(g.data[0].starts_with(b"AAAA"));
}

#[test]
fn an_ack_up_to_queued_data_delivers_it() {
    // The hole before the ACK is skipped and the data queued right at it follows at once,
    // not with the next segment.
    let mut r = Reassembler::new(StreamOptions::default());
    let mut g = Got::default();
    feed(&mut r, &mut g, 1, Dir::ToServer, 0, 0, SYN, b"", 0);
    feed(&mut r, &mut g, 1, Dir::ToServer, 9, 0, ACK, b"CCCC", 1);
    feed(&mut r, &mut g, 1, Dir::ToClient, 500, 9, ACK, b"", 2);
    assert_eq!(g.data[0], b"CCCC");
    assert_eq!(r.stats().bytes_queued, 0);
}

/// Pieces queued over all flows.
fn queued_pieces(r: &Reassembler) -> usize {
    r.slots
        .iter()
        .filter_map(|s| s.state.as_ref())
        .flat_map(|f| f.halves.iter())
        .map(|h| h.queue.len())
        .sum()
}

proptest::proptest! {
    /// Any cut of a stream into segments (overlapping, duplicated, shuffled) with the same
    /// bytes rebuilds the stream exactly, whatever the ISN.
    #[test]
    fn shuffled_overlapping_segments_rebuild_the_stream(
        isn in proptest::num::u32::ANY,
        len in 1usize..400,
        cuts in proptest::collection::vec((0usize..400, 1usize..60), 0..40),
        order in proptest::collection::vec(proptest::num::usize::ANY, 0..80),
    ) {
        let stream: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let mut segs: Vec<(usize, usize)> = cuts
            .into_iter()
            .filter(|(s, _)| *s < len)
            .map(|(s, l)| (s, (s + l).min(len)))
            .collect();
        // A covering set, so the stream is complete.
        segs.extend((0..len).step_by(50).map(|s| (s, (s + 50).min(len))));
        for (i, k) in order.into_iter().enumerate() {
            let n = segs.len();
            segs.swap(i % n, k % n);
        }
        let mut r = Reassembler::new(StreamOptions::default());
        let mut g = Got::default();
        feed(&mut r, &mut g, 9, Dir::ToServer, isn, 0, SYN, b"", 0);
        for (t, (s, e)) in segs.iter().enumerate() {
            let seq = isn.wrapping_add(1).wrapping_add(*s as u32);
            feed(&mut r, &mut g, 9, Dir::ToServer, seq, 0, ACK, &stream[*s..*e], t as i64);
        }
        proptest::prop_assert_eq!(&g.data[0], &stream);
        proptest::prop_assert_eq!(r.stats().bytes_queued, 0);
    }

    /// Hostile segments (any numbers, flags, flows, sizes) never panic, and the state stays
    /// within the memcap and the per-direction caps.
    #[test]
    fn hostile_segments_stay_bounded(
        segs in proptest::collection::vec(
            (0u64..6, proptest::bool::ANY, proptest::num::u32::ANY, proptest::num::u32::ANY,
             proptest::num::u8::ANY, 0usize..3000),
            1..150,
        )
    ) {
        let opts = StreamOptions {
            memcap_bytes: 20_000,
            max_queued_per_dir: 5_000,
            max_segs_per_dir: 8,
        };
        let mut r = Reassembler::new(opts);
        let mut g = Got::default();
        let payload = vec![0x55u8; 3000];
        for (t, (flow, to_server, seq, ack, flags, len)) in segs.into_iter().enumerate() {
            let dir = if to_server { Dir::ToServer } else { Dir::ToClient };
            // Keep sequence numbers near each other half the time, so queues do build up.
            let seq = if flags & 0x80 != 0 { seq % 20_000 } else { seq };
            feed(&mut r, &mut g, flow, dir, seq, ack, flags, &payload[..len], t as i64);
            let st = r.stats();
            proptest::prop_assert!(st.mem_in_use as usize <= opts.memcap_bytes);
            for f in r.slots.iter().filter_map(|s| s.state.as_ref()) {
                for h in &f.halves {
                    proptest::prop_assert!(h.queued <= opts.max_queued_per_dir);
                    proptest::prop_assert!(h.queue.len() <= opts.max_segs_per_dir);
                }
            }
        }
    }

    /// One connection's client data, FINs and server ACKs in any order, all near each other:
    /// the queue stays ahead of the delivery point, disjoint and in order, its bytes and
    /// memory add up, and nothing panics or spins.
    #[test]
    fn fin_and_ack_interleavings_keep_the_queue_ahead(
        steps in proptest::collection::vec(
            (proptest::bool::ANY, 0u32..24, 0usize..8, proptest::bool::ANY),
            1..60,
        )
    ) {
        let opts = StreamOptions {
            memcap_bytes: 1 << 20,
            max_queued_per_dir: 12,
            max_segs_per_dir: 3,
        };
        let mut r = Reassembler::new(opts);
        let mut g = Got::default();
        let payload = [0x41u8; 8];
        feed(&mut r, &mut g, 1, Dir::ToServer, 0, 0, SYN, b"", 0);
        feed(&mut r, &mut g, 1, Dir::ToClient, 1000, 1, SYN | ACK, b"", 0);
        for (t, (client, n, len, fin)) in steps.into_iter().enumerate() {
            if client {
                let flags = ACK | if fin { FIN } else { 0 };
                feed(&mut r, &mut g, 1, Dir::ToServer, 1 + n, 1001, flags, &payload[..len], t as i64);
            } else {
                feed(&mut r, &mut g, 1, Dir::ToClient, 1001, 1 + n, ACK, b"", t as i64);
            }
            let st = r.stats();
            let mut held = FLOW_OVERHEAD;
            for f in r.slots.iter().filter_map(|s| s.state.as_ref()) {
                for h in &f.halves {
                    let mut at = 0i64;
                    for p in &h.queue {
                        let rel = h.rel(p.seq);
                        proptest::prop_assert!(rel >= at, "piece at {} behind {}", rel, at);
                        proptest::prop_assert!(!p.data.is_empty());
                        at = rel + p.data.len() as i64;
                        held += p.data.len() + PIECE_OVERHEAD;
                    }
                    proptest::prop_assert_eq!(h.queued, h.queue.iter().map(|p| p.data.len()).sum::<usize>());
                    proptest::prop_assert!(h.queued <= opts.max_queued_per_dir);
                }
            }
            proptest::prop_assert_eq!(st.mem_in_use as usize, held);
        }
    }
}
