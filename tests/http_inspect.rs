//! HTTP inspection buffers (`detect::http`) over whole conversations: the same messages come
//! out however the bytes are cut into segments (proptest), hostile bytes never panic and stay
//! bounded, real captures from the shared data give the buffers http_inspect gives, and a warm
//! session allocates nothing per message.

use nsm_sensor::detect::http::{HttpMessage, HttpOptions, HttpSession};
use nsm_sensor::pcap::Reader;
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::path::Path;

/// Counts this thread's allocations (tests run on several threads; each counts its own).
struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: during thread teardown the slot may be gone; such allocations do not matter.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

#[allow(unsafe_code)]
// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Msg {
    to_server: bool,
    ts: (i64, u32),
    fields: [Vec<u8>; 13],
}

fn own(m: &HttpMessage<'_>) -> Msg {
    Msg {
        to_server: m.to_server,
        ts: m.ts,
        fields: [
            m.raw.to_vec(),
            m.method.to_vec(),
            m.raw_uri.to_vec(),
            m.uri.to_vec(),
            m.raw_header.to_vec(),
            m.header.to_vec(),
            m.raw_cookie.to_vec(),
            m.cookie.to_vec(),
            m.client_body.to_vec(),
            m.stat_code.to_vec(),
            m.stat_msg.to_vec(),
            m.file_data.to_vec(),
            Vec::new(),
        ],
    }
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(size) {
        out.extend_from_slice(format!("{:x};e=1\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\nX-Trailer: 1\r\n\r\n");
    out
}

/// A client stream and a server stream, as lists of messages (so their start offsets are known).
fn conversation() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let page = b"<html><script>document.write('x')</script></html>".repeat(30);
    let mut reqs: Vec<Vec<u8>> = vec![
        b"GET /a/./b/../c%2Fd?q=1+2 HTTP/1.1\r\nHost: h\r\nCookie: sid=42\r\n\r\n".to_vec(),
        b"HEAD /head HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
        b"POST /form HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello=world".to_vec(),
    ];
    let mut p = b"POST /chunks HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    p.extend(chunked(b"a chunked request body", 5));
    reqs.push(p);
    reqs.push(b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n\r\n".to_vec());
    reqs.push(b"GET /cached HTTP/1.1\r\nIf-None-Match: x\r\n\r\n".to_vec());
    reqs.push(b"GET /deflate HTTP/1.1\r\n\r\n".to_vec());
    let gz = gzip(&page);
    let mut resps: Vec<Vec<u8>> = Vec::new();
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gz.len()
    )
    .into_bytes();
    r.extend_from_slice(&gz);
    resps.push(r);
    resps.push(b"HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\n".to_vec());
    resps.push(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec());
    resps.push(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok".to_vec());
    let mut r =
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    r.extend(chunked(&gzip(b"chunked and zipped"), 4));
    resps.push(r);
    resps.push(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec());
    resps.push(b"HTTP/1.1 304 Not Modified\r\n\r\n".to_vec());
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&page).unwrap();
    let z = z.finish().unwrap();
    let mut r = b"HTTP/1.0 200 OK\r\nContent-Encoding: deflate\r\n\r\n".to_vec();
    r.extend_from_slice(&z);
    resps.push(r); // ends at the close
    (reqs, resps)
}

/// Feeds `stream` cut at `cuts` (each chunk stamped with its start offset), then finishes.
fn run(to_server: bool, stream: &[u8], cuts: &[usize], s: &mut HttpSession) -> Vec<Msg> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.push(stream.len());
    cuts.sort_unstable();
    for c in cuts {
        if c > at {
            s.feed(to_server, &stream[at..c], (at as i64, 0), &mut |m| {
                out.push(own(m))
            });
            at = c;
        }
    }
    s.finish(to_server, &mut |m| out.push(own(m)));
    out
}

/// The start offset of the chunk holding `offset`, as `run` stamps chunks.
fn chunk_start(cuts: &[usize], len: usize, offset: usize) -> i64 {
    let mut starts: Vec<usize> = cuts
        .iter()
        .map(|c| c % (len + 1))
        .filter(|&c| c <= offset)
        .collect();
    starts.push(0);
    *starts.iter().max().unwrap() as i64
}

#[test]
fn conversation_buffers() {
    let (reqs, resps) = conversation();
    let mut s = HttpSession::new(&HttpOptions::default());
    let c = run(true, &reqs.concat(), &[], &mut s);
    let r = run(false, &resps.concat(), &[], &mut s);
    assert_eq!(c.len(), reqs.len());
    assert_eq!(r.len(), resps.len());
    let f = |m: &Msg, i: usize| String::from_utf8_lossy(&m.fields[i]).into_owned();
    assert_eq!(f(&c[0], 3), "/a/c/d?q=1 2");
    assert_eq!(f(&c[0], 5), "Host: h\r\nCookie: \r\n\r\n");
    assert_eq!(f(&c[0], 7), "sid=42");
    assert_eq!(f(&c[2], 8), "hello=world");
    assert_eq!(f(&c[3], 8), "a chunked request body");
    assert_eq!(f(&c[4], 3), "/etc/passwd");
    assert_eq!(f(&r[0], 7), "a=b");
    assert!(f(&r[0], 11).starts_with("<html><script>"));
    assert_eq!(r[0].fields[11].len(), 49 * 30);
    assert_eq!(f(&r[1], 11), ""); // HEAD
    assert_eq!(f(&r[2], 9), "100");
    assert_eq!(f(&r[3], 11), "ok");
    assert_eq!(f(&r[4], 11), "chunked and zipped");
    assert_eq!(f(&r[5], 10), "Not Found");
    assert_eq!(f(&r[6], 9), "304");
    assert_eq!(r[7].fields[11].len(), 49 * 30);
    let st = s.stats();
    assert_eq!(
        (st.requests, st.responses, st.gzip_errors, st.truncated),
        (7, 8, 0, 0)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However the streams are cut, the same messages come out, each stamped with the time
    /// of the chunk that holds its first byte.
    #[test]
    fn any_split_gives_the_same_messages(
        ccuts in proptest::collection::vec(any::<usize>(), 0..40),
        scuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let (reqs, resps) = conversation();
        for (to_server, msgs, cuts) in [(true, &reqs, &ccuts), (false, &resps, &scuts)] {
            let stream = msgs.concat();
            let mut whole = HttpSession::new(&HttpOptions::default());
            let mut cut = HttpSession::new(&HttpOptions::default());
            if !to_server {
                // Pair the responses: the requests go first in both sessions.
                run(true, &reqs.concat(), &[], &mut whole);
                run(true, &reqs.concat(), &[], &mut cut);
            }
            let want = run(to_server, &stream, &[], &mut whole);
            let got = run(to_server, &stream, cuts, &mut cut);
            prop_assert_eq!(got.len(), want.len());
            let mut start = 0;
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                prop_assert_eq!(&g.fields, &w.fields, "message {}", i);
                prop_assert_eq!(g.ts, (chunk_start(cuts, stream.len(), start), 0), "message {}", i);
                start += msgs[i].len();
            }
            prop_assert_eq!(cut.stats(), whole.stats());
        }
    }

    /// Arbitrary bytes after a plausible start: no panic, bounded memory, and the cutting
    /// does not change what comes out.
    #[test]
    fn hostile_bytes_are_split_invariant_and_bounded(
        prefix in 0usize..4,
        body in proptest::collection::vec(any::<u8>(), 0..3000),
        cuts in proptest::collection::vec(any::<usize>(), 0..30),
    ) {
        let heads: [&[u8]; 4] = [
            b"GET / HTTP/1.1\r\n",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        ];
        let to_server = prefix < 2;
        let mut stream = heads[prefix].to_vec();
        stream.extend_from_slice(&body);
        let opts = HttpOptions::default();
        let mut a = HttpSession::new(&opts);
        let mut b = HttpSession::new(&opts);
        let want = run(to_server, &stream, &[], &mut a);
        let got = run(to_server, &stream, &cuts, &mut b);
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(&g.fields, &w.fields);
        }
        prop_assert!(b.memory() < 1 << 20);
    }
}

/// Pieces of HTTP, shuffled into streams that are almost HTTP.
const PIECES: &[&[u8]] = &[
    b"GET ",
    b"POST /a%2e%2e/b?c=d ",
    b"HEAD / HTTP/1.1\r\n",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.0 101 Switching\r\n",
    b"HTTP/1.1 304 Not Modified\r\n",
    b"Content-Length: 3\r\n",
    b"Content-Length: 99999999999\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Encoding: gzip\r\n",
    b"Cookie: a=b\r\n",
    b"Set-Cookie: c\r\n",
    b"\r\n",
    b"\n",
    b"0\r\n",
    b"5;x\r\n",
    b"fffffffff\r\n",
    b"abc",
    b"\x1f\x8b\x08\x00",
    b"\x00\xff",
    b" HTTP/1.1",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Streams made of HTTP pieces in any order, on both directions of one session, cut
    /// anywhere: no panic, bounded memory, and the same messages and counters whatever the cuts.
    #[test]
    fn shuffled_pieces_are_split_invariant(
        cpieces in proptest::collection::vec(0..PIECES.len(), 0..60),
        spieces in proptest::collection::vec(0..PIECES.len(), 0..60),
        ccuts in proptest::collection::vec(any::<usize>(), 0..20),
        scuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let cs: Vec<u8> = cpieces.iter().flat_map(|&i| PIECES[i].iter().copied()).collect();
        let ss: Vec<u8> = spieces.iter().flat_map(|&i| PIECES[i].iter().copied()).collect();
        let opts = HttpOptions::default();
        let mut a = HttpSession::new(&opts);
        let mut b = HttpSession::new(&opts);
        let want = [run(true, &cs, &[], &mut a), run(false, &ss, &[], &mut a)];
        let got = [run(true, &cs, &ccuts, &mut b), run(false, &ss, &scuts, &mut b)];
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(g.len(), w.len());
            for (g, w) in g.iter().zip(w) {
                prop_assert_eq!(&g.fields, &w.fields);
            }
        }
        prop_assert_eq!(a.stats(), b.stats());
        prop_assert!(b.memory() < 1 << 20);
    }
}

/// Client and server payloads of the first TCP conversation in a capture, in order (retransmits
/// dropped), with the time of each segment. Good enough for the in-order captures used here.
type Segs = Vec<(bool, Vec<u8>, (i64, u32))>;

fn tcp_segments(path: &Path, server_port: u16) -> Segs {
    let mut r = Reader::open(path).unwrap();
    let mut out = Vec::new();
    let mut next: [Option<u32>; 2] = [None, None];
    while let Some(p) = r.next_packet().unwrap() {
        let Ok(s) = etherparse::SlicedPacket::from_ethernet(p.data) else {
            continue;
        };
        let Some(etherparse::TransportSlice::Tcp(t)) = s.transport else {
            continue;
        };
        let to_server = t.destination_port() == server_port;
        let payload = t.payload();
        let d = usize::from(!to_server);
        let seq = t.sequence_number();
        if t.syn() {
            next[d] = Some(seq.wrapping_add(1));
            continue;
        }
        if payload.is_empty() {
            continue;
        }
        if let Some(n) = next[d] {
            if seq != n {
                continue;
            }
        }
        next[d] = Some(seq.wrapping_add(payload.len() as u32));
        let ts = p.ts.unwrap_or_default();
        out.push((to_server, payload.to_vec(), (ts.sec, ts.nsec / 1000)));
    }
    out
}

fn replay(segs: &Segs) -> Vec<Msg> {
    let mut s = HttpSession::new(&HttpOptions::default());
    let mut out = Vec::new();
    for (to_server, data, ts) in segs {
        s.feed(*to_server, data, *ts, &mut |m| out.push(own(m)));
    }
    s.finish(true, &mut |m| out.push(own(m)));
    s.finish(false, &mut |m| out.push(own(m)));
    out
}

fn data(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel)
}

#[test]
fn ethereal_download_page() {
    // suricata-verify http-all-headers: one GET and an 18070-byte response over 14 segments.
    let msgs = replay(&tcp_segments(
        &data("suricata-verify/http-all-headers/input.pcap"),
        80,
    ));
    assert_eq!(msgs.len(), 2);
    let (req, resp) = (&msgs[0], &msgs[1]);
    assert!(req.to_server && !resp.to_server);
    assert_eq!(req.fields[1], b"GET");
    assert_eq!(req.fields[3], b"/download.html");
    assert!(req.fields[4].starts_with(b"Host: www.ethereal.com\r\n"));
    assert!(req.fields[4].ends_with(b"Referer: http://www.ethereal.com/development.html\r\n\r\n"));
    assert_eq!(resp.fields[9], b"200");
    assert_eq!(resp.fields[10], b"OK");
    assert_eq!(resp.fields[11].len(), 18070);
    assert!(resp.fields[11].starts_with(b"<?xml version=\"1.0\""));
    assert!(resp.fields[11].ends_with(b"</html>\n"));
    assert_eq!(resp.ts, (1084443428, 993643)); // the segment holding "HTTP/1.1 200 OK"
}

#[test]
fn uricontent_unknown_method() {
    // suricata-verify detect-uricontent-06: "GET%00 /images.gif HTTP/1.1" in one segment with
    // no handshake. The method is a token, so the URI is still found.
    let msgs = replay(&tcp_segments(
        &data("suricata-verify/uricontent/detect-uricontent-06/input.pcap"),
        80,
    ));
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].fields[1], b"GET%00");
    assert_eq!(msgs[0].fields[3], b"/images.gif");
    assert_eq!(msgs[0].fields[4], b"Host: www.ExAmPlE.cOM\r\n\r\n");
}

#[test]
fn shared_pcaps_replay_without_panic() {
    // Every TCP port-80 conversation in the shared pcaps, fed as if reassembled.
    let dir = data("pcaps");
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let Ok(mut r) = Reader::open(&p) else {
            continue;
        };
        let mut s = HttpSession::new(&HttpOptions::default());
        let mut n = 0usize;
        while let Ok(Some(pk)) = r.next_packet() {
            let Ok(sp) = etherparse::SlicedPacket::from_ethernet(pk.data) else {
                continue;
            };
            let Some(etherparse::TransportSlice::Tcp(t)) = sp.transport else {
                continue;
            };
            let to_server = t.destination_port() == 80;
            if !to_server && t.source_port() != 80 {
                continue;
            }
            s.feed(to_server, t.payload(), (0, 0), &mut |_| n += 1);
            assert!(s.memory() < 1 << 20, "{}", p.display());
        }
        s.finish(true, &mut |_| n += 1);
        s.finish(false, &mut |_| n += 1);
    }
}

#[test]
fn warm_session_allocates_nothing_per_message() {
    let (reqs, resps) = conversation();
    // Without the last exchange, whose response ends only at the close.
    let reqs = &reqs[..reqs.len() - 1];
    let resps = &resps[..resps.len() - 1];
    let mut s = HttpSession::new(&HttpOptions::default());
    let mut seen = 0usize;
    let round = |s: &mut HttpSession, seen: &mut usize| {
        for r in reqs {
            s.feed(true, r, (0, 0), &mut |m| *seen += m.uri.len());
        }
        for r in resps {
            for c in r.chunks(100) {
                s.feed(false, c, (0, 0), &mut |m| *seen += m.file_data.len());
            }
        }
    };
    for _ in 0..3 {
        round(&mut s, &mut seen);
    }
    let before = ALLOCS.with(|c| c.get());
    for _ in 0..20 {
        round(&mut s, &mut seen);
    }
    assert_eq!(ALLOCS.with(|c| c.get()) - before, 0);
    assert!(seen > 0);
    assert_eq!(s.stats().responses, 23 * 7);
}

/// Every TCP conversation with `server_port` in a capture, each through its own session
/// (segments in capture order, retransmits dropped), messages in the order they complete.
fn replay_flows(path: &Path, server_port: u16) -> (Vec<Msg>, nsm_sensor::detect::http::HttpStats) {
    use std::collections::HashMap;
    let mut flows: HashMap<u16, (HttpSession, [Option<u32>; 2])> = HashMap::new();
    let mut out = Vec::new();
    let mut r = Reader::open(path).unwrap();
    while let Some(p) = r.next_packet().unwrap() {
        let Ok(s) = etherparse::SlicedPacket::from_ethernet(p.data) else {
            continue;
        };
        let Some(etherparse::TransportSlice::Tcp(t)) = s.transport else {
            continue;
        };
        let to_server = t.destination_port() == server_port;
        if !to_server && t.source_port() != server_port {
            continue;
        }
        let client = if to_server {
            t.source_port()
        } else {
            t.destination_port()
        };
        let (sess, next) = flows
            .entry(client)
            .or_insert_with(|| (HttpSession::new(&HttpOptions::default()), [None, None]));
        let d = usize::from(!to_server);
        let seq = t.sequence_number();
        if t.syn() {
            next[d] = Some(seq.wrapping_add(1));
            continue;
        }
        let payload = t.payload();
        if payload.is_empty() || next[d].is_some_and(|n| n != seq) {
            continue;
        }
        next[d] = Some(seq.wrapping_add(payload.len() as u32));
        let ts = p.ts.unwrap_or_default();
        sess.feed(to_server, payload, (ts.sec, ts.nsec / 1000), &mut |m| {
            out.push(own(m))
        });
    }
    let mut total = nsm_sensor::detect::http::HttpStats::default();
    let mut ports: Vec<u16> = flows.keys().copied().collect();
    ports.sort_unstable();
    for port in ports {
        let (sess, _) = flows.get_mut(&port).unwrap();
        sess.finish(true, &mut |m| out.push(own(m)));
        sess.finish(false, &mut |m| out.push(own(m)));
        let st = sess.stats();
        total.requests += st.requests;
        total.responses += st.responses;
        total.gzip_errors += st.gzip_errors;
        total.truncated += st.truncated;
        total.not_http += st.not_http;
    }
    (out, total)
}

#[test]
fn sql_injection_capture_gzip_pages_and_decoded_uris() {
    // nDPI WebattackSQLinj: nine DVWA requests with %-encoded SQL, nine gzip responses.
    let (msgs, st) = replay_flows(&data("pcaps/ndpi__WebattackSQLinj.pcap"), 80);
    assert_eq!(
        (
            st.requests,
            st.responses,
            st.gzip_errors,
            st.truncated,
            st.not_http
        ),
        (9, 9, 0, 0, 0)
    );
    let reqs: Vec<&Msg> = msgs.iter().filter(|m| m.to_server).collect();
    let resps: Vec<&Msg> = msgs.iter().filter(|m| !m.to_server).collect();
    assert_eq!(
        reqs[2].fields[3],
        b"/dv/vulnerabilities/sqli/?id=1' and 1=1 union select database(), user()#&Submit=Submit"
    );
    assert_eq!(
        reqs[2].fields[2],
        b"/dv/vulnerabilities/sqli/?id=1%27+and+1%3D1+union+select+database%28%29%2C+user%28%29%23&Submit=Submit"
    );
    for r in &reqs {
        assert_eq!(
            r.fields[7],
            b"security=low; PHPSESSID=5dfcuh85kg0vvidf8nrsjtbob5"
        );
        assert!(!r.fields[5].windows(9).any(|w| w == b"PHPSESSID"));
    }
    let has = |m: &Msg, n: &[u8]| m.fields[11].windows(n.len()).any(|w| w == n);
    // Decompressed: MySQL's error for a lone quote, or a whole DVWA page.
    assert!(has(resps[0], b"You have an error in your SQL syntax"));
    for r in &resps {
        assert_eq!(r.fields[9], b"200");
        assert!(has(r, b"</html>") || has(r, b"SQL syntax"));
    }
    assert_eq!(resps.iter().filter(|r| has(r, b"</html>")).count(), 7);
}
