//! The TCP reassembler through its public API on a real capture, the way the detection
//! engine will drive it: decode each frame, find the flow and its direction, hand the segment
//! over, collect the chunks. The HTTP conversations of a shared pcap come out whole, in order
//! as captured and with neighbouring data segments swapped, equal to the payloads sorted by
//! sequence number.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use nsm_sensor::capture::OfflineSource;
use nsm_sensor::decode::{decode, DecodeOptions, Transport};
use nsm_sensor::detect::stream::{Dir, Reassembler, Segment, StreamOptions, StreamStats};

type Tuple = (IpAddr, u16, IpAddr, u16);
/// A direction of a flow.
type Side = (u64, Dir);

/// One TCP segment of the capture: flow, direction, and the segment's fields.
struct Seg {
    flow: u64,
    dir: Dir,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: Vec<u8>,
    ts: (i64, u32),
}

fn segments(pcap: &Path) -> Vec<Seg> {
    let mut src = OfflineSource::open(pcap, "").unwrap();
    let mut flows: HashMap<Tuple, (u64, Tuple)> = HashMap::new();
    let mut out = Vec::new();
    while let Some((lt, _, raw)) = src.next_frame().unwrap() {
        let opts = DecodeOptions { checksums: false };
        let Ok(p) = decode(lt, raw.ts_sec, raw.ts_usec, raw.wire_len, raw.data, opts) else {
            continue;
        };
        let Transport::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            ..
        } = p.transport
        else {
            continue;
        };
        let t = (p.src, sport, p.dst, dport);
        let back = (p.dst, dport, p.src, sport);
        let n = flows.len() as u64;
        // The first packet's sender is the client.
        let (flow, client) = match flows.get(&back) {
            Some(&v) => v,
            None => *flows.entry(t).or_insert((n, t)),
        };
        out.push(Seg {
            flow,
            dir: if t == client {
                Dir::ToServer
            } else {
                Dir::ToClient
            },
            seq,
            ack,
            flags,
            payload: p.payload.to_vec(),
            ts: (raw.ts_sec, raw.ts_usec),
        });
    }
    out
}

fn reassemble(segs: &[&Seg]) -> (HashMap<(u64, Dir), Vec<u8>>, StreamStats) {
    let mut r = Reassembler::new(StreamOptions::default());
    let mut got: HashMap<(u64, Dir), Vec<u8>> = HashMap::new();
    for s in segs {
        let seg = Segment {
            seq: s.seq,
            ack: s.ack,
            flags: s.flags,
            payload: &s.payload,
            ts_sec: s.ts.0,
            ts_usec: s.ts.1,
        };
        let d = r.segment(s.flow, s.dir, &seg);
        for c in d.chunks() {
            got.entry((s.flow, c.dir))
                .or_default()
                .extend_from_slice(c.data);
        }
    }
    (got, r.stats())
}

#[test]
fn http_conversations_come_out_whole() {
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/pcaps/ndpi__WebattackSQLinj.pcap");
    let segs = segments(&pcap);
    // The oracle: each direction's payloads by sequence number, each sequence number once.
    let mut want: HashMap<Side, Vec<(u32, &[u8])>> = HashMap::new();
    for s in segs.iter().filter(|s| !s.payload.is_empty()) {
        let v = want.entry((s.flow, s.dir)).or_default();
        if !v.iter().any(|(q, _)| *q == s.seq) {
            v.push((s.seq, &s.payload));
        }
    }
    let want: HashMap<(u64, Dir), Vec<u8>> = want
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by_key(|(q, _)| *q);
            (k, v.into_iter().flat_map(|(_, b)| b.to_vec()).collect())
        })
        .collect();
    assert!(want.len() >= 10, "{} directions", want.len());

    let in_order: Vec<&Seg> = segs.iter().collect();
    let (got, st) = reassemble(&in_order);
    assert_eq!(got, want);
    assert_eq!((st.gaps_skipped, st.bytes_queued, st.evictions), (0, 0, 0));
    for ((_, dir), bytes) in &got {
        if *dir == Dir::ToServer {
            assert!(bytes.starts_with(b"GET ") || bytes.starts_with(b"POST "));
        }
    }

    // Swap neighbouring data segments of the same direction: same streams, now reassembled
    // from out-of-order arrivals.
    let mut swapped = in_order.clone();
    let mut i = 0;
    while i + 1 < swapped.len() {
        let (a, b) = (swapped[i], swapped[i + 1]);
        if a.flow == b.flow && a.dir == b.dir && !a.payload.is_empty() && !b.payload.is_empty() {
            swapped.swap(i, i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    let (got, st) = reassemble(&swapped);
    assert_eq!(got, want);
    assert!(st.out_of_order > 0, "{st:?}");
}
