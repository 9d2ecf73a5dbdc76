//! Session tests: framing, pairing, buffers and hostile input, on byte strings with the
//! expected buffers worked out from Snort 2.9's `hi_client.c`/`hi_server.c`/`hi_norm.c`.

use super::norm::{normalize_uri, UriNorm};
use super::*;
use std::io::Write;

/// Owned copy of a message, for comparing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Msg {
    to_server: bool,
    ts: (i64, u32),
    method: Vec<u8>,
    raw_uri: Vec<u8>,
    uri: Vec<u8>,
    raw_header: Vec<u8>,
    header: Vec<u8>,
    cookie: Vec<u8>,
    client_body: Vec<u8>,
    stat_code: Vec<u8>,
    stat_msg: Vec<u8>,
    file_data: Vec<u8>,
}

fn own(m: &HttpMessage<'_>) -> Msg {
    assert_eq!(m.cookie, m.raw_cookie);
    Msg {
        to_server: m.to_server,
        ts: m.ts,
        method: m.method.to_vec(),
        raw_uri: m.raw_uri.to_vec(),
        uri: m.uri.to_vec(),
        raw_header: m.raw_header.to_vec(),
        header: m.header.to_vec(),
        cookie: m.cookie.to_vec(),
        client_body: m.client_body.to_vec(),
        stat_code: m.stat_code.to_vec(),
        stat_msg: m.stat_msg.to_vec(),
        file_data: m.file_data.to_vec(),
    }
}

fn feed(s: &mut HttpSession, to_server: bool, data: &[u8], ts: i64) -> Vec<Msg> {
    let mut out = Vec::new();
    s.feed(to_server, data, (ts, 0), &mut |m| out.push(own(m)));
    out
}

fn finish(s: &mut HttpSession, to_server: bool) -> Vec<Msg> {
    let mut out = Vec::new();
    s.finish(to_server, &mut |m| out.push(own(m)));
    out
}

fn session() -> HttpSession {
    HttpSession::new(&HttpOptions::default())
}

#[test]
fn uri_normalization_table() {
    // raw URI, http_uri (hi_norm.c with the shipped switches)
    let cases: &[(&[u8], &[u8])] = &[
        (b"/index.html", b"/index.html"),
        (b"/foo/../bar", b"/bar"),
        (b"/../etc/passwd", b"/etc/passwd"), // above the root: DirTrav resets to the start
        (b"/a/../../b", b"/b"),
        (b"/%2e%2e/x", b"/x"), // encoded dots are dots
        (b"/a/%2e%2e/b", b"/b"),
        (b"/a/%2E%2e%2fb", b"/b"), // encoded slash too
        (b"//a///b", b"/a/b"),
        (b"/./a/./b/.", b"/a/b/."), // a trailing "/." stays (DirNorm needs a '/')
        (b"/a/..", b"/a/.."),       // so does a trailing "/.."
        (b"/a/.b/..c", b"/a/.b/..c"),
        (b"/a%2fb", b"/a/b"),
        (b"/a%41%62", b"/aAb"),
        (b"/a+b", b"/a b"),         // GetDecodedByte: '+' is a space
        (b"/%u0041", b"/\xff0041"), // u_encode off: "%u" is the placeholder
        (b"/a%zzb", b"/a\xffzb"),   // bad escape eats '%' and one byte
        (b"/a%4zb", b"/a\xffb"),
        (b"/a%4", b"/a\xff"),    // cut escape at the end
        (b"/x%c0%afy", b"/x/y"), // overlong UTF-8 '/' (utf_8 on)
        (b"/x%e0%80%afy", b"/x/y"),
        (b"/x%c3%a9y", b"/x\xffy"), // non-ASCII code point: placeholder
        (b"/x%c3ay", b"/x\xffy"),   // raw continuation byte refused
        (b"/x\xc0\xafy", b"/x\xc0\xafy"), // bare bytes are not UTF-8 decoded (bare_byte off)
        (b"/a\\..\\b", b"/a\\..\\b"), // iis_backslash off
        (b"/a?b=%2e%2e/../c//d", b"/a?b=../../c/d"), // no directory folding after '?'
        (b"/%3f/../x", b"/x"),      // an encoded '?' starts no parameters
        (b"http://h/a/../b", b"http:/h/b"), // InspectUriChar skips the first slash of "://"
        (b"/../", b"/"),
    ];
    let (mut out, mut dirs) = (Vec::new(), Vec::new());
    for (raw, want) in cases {
        let ok = normalize_uri(raw, UriNorm::SNORT_DEFAULT, 4096, &mut out, &mut dirs);
        let got: &[u8] = if ok { &out } else { raw };
        assert_eq!(
            got.escape_ascii().to_string(),
            want.escape_ascii().to_string(),
            "raw {}",
            raw.escape_ascii()
        );
    }
}

#[test]
fn uri_switches_off_and_on() {
    let (mut out, mut dirs) = (Vec::new(), Vec::new());
    let cfg = UriNorm {
        u_encode: true,
        iis_backslash: true,
        ..UriNorm::SNORT_DEFAULT
    };
    assert!(normalize_uri(b"/%u0041\\b", cfg, 4096, &mut out, &mut dirs));
    assert_eq!(out, b"/A/b");
    let off = UriNorm {
        ascii: false,
        multi_slash: false,
        directory: false,
        ..UriNorm::SNORT_DEFAULT
    };
    assert!(normalize_uri(b"//a/../%41", off, 4096, &mut out, &mut dirs));
    assert_eq!(out, b"//a/../%41");
    // Bounded output; an empty result falls back to the raw URI.
    assert!(normalize_uri(
        &[b'a'; 100],
        UriNorm::SNORT_DEFAULT,
        10,
        &mut out,
        &mut dirs
    ));
    assert!(out.len() <= 11);
    assert!(!normalize_uri(
        b"",
        UriNorm::SNORT_DEFAULT,
        10,
        &mut out,
        &mut dirs
    ));
}

#[test]
fn pipelined_requests_in_one_segment() {
    let mut s = session();
    let data = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\
POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\r\n\
GET /%33 HTTP/1.0\r\n\r\n";
    let m = feed(&mut s, true, data, 7);
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].method, b"GET");
    assert_eq!(m[0].raw_header, b"Host: a\r\n\r\n");
    assert_eq!(m[1].method, b"POST");
    assert_eq!(m[1].client_body, b"abc");
    assert_eq!(m[2].raw_uri, b"/%33");
    assert_eq!(m[2].uri, b"/3");
    assert_eq!(m[2].raw_header, b"\r\n");
    assert!(m.iter().all(|m| m.ts == (7, 0) && m.file_data.is_empty()));
    assert_eq!(s.stats().requests, 3);
}

#[test]
fn request_split_byte_by_byte_keeps_first_byte_time() {
    let data = b"POST /a//b HTTP/1.1\r\nTransfer-Encoding: chunked\r\nCookie: s=1\r\n\r\n\
4;x=y\r\nwiki\r\n5\r\npedia\r\n0\r\nTrailer: t\r\n\r\n";
    let whole = feed(&mut session(), true, data, 0);
    let mut s = session();
    let mut got = Vec::new();
    for (i, b) in data.iter().enumerate() {
        got.extend(feed(&mut s, true, std::slice::from_ref(b), i as i64 + 100));
    }
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].ts, (100, 0));
    let mut want = whole[0].clone();
    want.ts = (100, 0);
    assert_eq!(got[0], want);
    assert_eq!(want.client_body, b"wikipedia");
    assert_eq!(want.uri, b"/a/b");
    assert_eq!(want.cookie, b"s=1");
    assert_eq!(
        want.header,
        b"Transfer-Encoding: chunked\r\nCookie: \r\n\r\n"
    );
}

#[test]
fn cookies_leave_http_header() {
    let mut s = session();
    let m = feed(
        &mut s,
        true,
        b"GET / HTTP/1.1\r\nCookie:  a=b\r\nHost: h\r\ncookie: c=d\r\n\r\n",
        0,
    );
    assert_eq!(
        m[0].raw_header,
        b"Cookie:  a=b\r\nHost: h\r\ncookie: c=d\r\n\r\n"
    );
    assert_eq!(m[0].header, b"Cookie:  \r\nHost: h\r\ncookie: \r\n\r\n");
    assert_eq!(m[0].cookie, b"a=bc=d");
    let r = feed(
        &mut s,
        false,
        b"HTTP/1.1 200 OK\r\nSet-Cookie: id=9; path=/\r\nCookie: not-a-response-cookie\r\nContent-Length: 0\r\n\r\n",
        1,
    );
    assert_eq!(r[0].cookie, b"id=9; path=/");
    assert_eq!(
        r[0].header,
        b"Set-Cookie: \r\nCookie: not-a-response-cookie\r\nContent-Length: 0\r\n\r\n"
    );
    // No Cookie header: the cookie buffers are empty (the caller treats them as absent).
    let m = feed(&mut s, true, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 2);
    assert!(m[0].cookie.is_empty());
    assert_eq!(m[0].header, m[0].raw_header);
}

#[test]
fn cookie_inspection_off_keeps_header_whole() {
    let opts = HttpOptions {
        enable_cookie: false,
        ..HttpOptions::default()
    };
    let mut s = HttpSession::new(&opts);
    let m = feed(&mut s, true, b"GET / HTTP/1.1\r\nCookie: a=b\r\n\r\n", 0);
    assert_eq!(m[0].header, b"Cookie: a=b\r\n\r\n");
    assert!(m[0].cookie.is_empty());
}

#[test]
fn pipelined_responses_pair_with_head_and_304() {
    let mut s = session();
    let reqs = b"GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n";
    assert_eq!(feed(&mut s, true, reqs, 0).len(), 4);
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi\
HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n\
HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n\
HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let m = feed(&mut s, false, resp, 1);
    let got: Vec<(&[u8], &[u8], &[u8])> = m
        .iter()
        .map(|m| (&m.stat_code[..], &m.stat_msg[..], &m.file_data[..]))
        .collect();
    assert_eq!(
        got,
        vec![
            (&b"200"[..], &b"OK"[..], &b"hi"[..]),
            (b"200", b"OK", b""), // answer to HEAD: no body despite the length
            (b"304", b"Not Modified", b""), // 304: no body
            (b"100", b"Continue", b""), // interim: /d still waits
            (b"200", b"OK", b"abc"),
        ]
    );
    assert!(m
        .iter()
        .all(|m| m.method.is_empty() && m.client_body.is_empty()));
    assert_eq!(s.stats().unpaired_responses, 0);
}

#[test]
fn close_delimited_response_ends_at_finish() {
    let mut s = session();
    feed(&mut s, true, b"GET / HTTP/1.0\r\n\r\n", 0);
    assert!(feed(&mut s, false, b"HTTP/1.0 200 OK\r\n\r\npart one,", 1).is_empty());
    assert!(feed(&mut s, false, b" part two", 2).is_empty());
    let m = finish(&mut s, false);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].file_data, b"part one, part two");
    assert_eq!(m[0].ts, (1, 0));
    assert_eq!(s.stats().truncated, 0);
    assert!(finish(&mut s, false).is_empty());
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[test]
fn gzip_and_deflate_bodies_fill_file_data() {
    let page = b"<html>the payload to find</html>".repeat(20);
    let gz = gzip(&page);
    let mut s = session();
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gz.len()
    )
    .into_bytes();
    resp.extend_from_slice(&gz);
    let m = feed(&mut s, false, &resp, 0);
    assert_eq!(m[0].file_data, page);
    // Chunked and deflate (zlib-wrapped), chunk boundaries inside the compressed stream.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&page).unwrap();
    let z = z.finish().unwrap();
    let mut resp =
        b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for c in z.chunks(7) {
        resp.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        resp.extend_from_slice(c);
        resp.extend_from_slice(b"\r\n");
    }
    resp.extend_from_slice(b"0\r\n\r\n");
    let m = feed(&mut s, false, &resp, 1);
    assert_eq!(m[0].file_data, page);
    assert_eq!(s.stats().gzip_errors, 0);
}

#[test]
fn broken_gzip_is_counted_and_the_body_used() {
    let mut s = session();
    let body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff\xff garbage";
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    resp.extend_from_slice(body);
    let m = feed(&mut s, false, &resp, 0);
    assert_eq!(m[0].file_data, body);
    assert_eq!(s.stats().gzip_errors, 1);
}

#[test]
fn gzip_bomb_stops_at_decompress_depth() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![b'A'; 20 << 20]).unwrap();
    let bomb = e.finish().unwrap();
    let mut s = session();
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        bomb.len()
    )
    .into_bytes();
    resp.extend_from_slice(&bomb);
    let m = feed(&mut s, false, &resp, 0);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].file_data.len(), 65535);
    assert!(s.memory() < 400 * 1024, "memory {}", s.memory());
}

#[test]
fn long_body_is_given_at_its_bound_and_the_next_message_found() {
    let mut s = session();
    let mut req = b"POST /up HTTP/1.1\r\nContent-Length: 200000\r\n\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'x', 200000));
    req.extend_from_slice(b"GET /next HTTP/1.1\r\n\r\n");
    let mut got = Vec::new();
    for c in req.chunks(1460) {
        got.extend(feed(&mut s, true, c, 0));
    }
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].client_body.len(), 65495); // post_depth
    assert_eq!(got[1].raw_uri, b"/next");
    assert_eq!(s.stats().truncated, 1);
}

#[test]
fn hostile_inputs_are_bounded() {
    // Huge Content-Length: the body is kept to its bound; finish gives it, truncated.
    let mut s = session();
    let mut got = feed(
        &mut s,
        true,
        b"POST / HTTP/1.1\r\nContent-Length: 4294967295\r\n\r\nabc",
        0,
    );
    got.extend(finish(&mut s, true));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].client_body, b"abc");
    // Endless header: given once at the bound, then the direction is dropped.
    let mut s = session();
    let mut n = feed(&mut s, true, b"GET / HTTP/1.1\r\nX: ", 0).len();
    for _ in 0..1000 {
        n += feed(&mut s, true, &[b'a'; 1000], 0).len();
    }
    assert_eq!(n, 1);
    assert_eq!(s.stats().head_overflows, 1);
    assert!(s.memory() < 64 * 1024, "memory {}", s.memory());
    // Garbage on an HTTP port: given up at once, nothing held.
    let mut s = session();
    let junk: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    assert!(feed(&mut s, false, &junk, 0).is_empty());
    assert!(feed(&mut s, true, b"\x16\x03\x01\x02\x00", 0).is_empty());
    assert_eq!(s.stats().not_http, 2);
    assert!(s.memory() < 4096, "memory {}", s.memory());
    // Hostile chunk lines end the body as broken framing.
    for bad in [
        &b"ffffffffffffffffffff\r\n"[..],
        b"-1\r\n",
        b"\r\n\r\n",
        b"5 5\r\nabcde",
    ] {
        let mut s = session();
        feed(&mut s, true, b"GET / HTTP/1.1\r\n\r\n", 0);
        let mut resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        resp.extend_from_slice(bad);
        let mut m = feed(&mut s, false, &resp, 0);
        m.extend(finish(&mut s, false));
        assert!(m.len() <= 2);
    }
}

#[test]
fn http09_and_bad_status() {
    let mut s = session();
    let m = feed(&mut s, true, b"GET /old\r\n", 0);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].raw_uri, b"/old");
    assert!(m[0].raw_header.is_empty());
    let m = feed(
        &mut s,
        false,
        b"HTTP/1.1 2000 Weird\r\nContent-Length: 0\r\n\r\n",
        0,
    );
    assert!(m[0].stat_code.is_empty());
    assert_eq!(s.stats().parse_errors, 1);
}

#[test]
fn buffers_are_reused() {
    let mut s = session();
    let req = b"GET /a/b/../c?x=1 HTTP/1.1\r\nHost: h\r\nCookie: a=b\r\n\r\n";
    for _ in 0..100 {
        feed(&mut s, true, req, 0);
    }
    let m0 = s.memory();
    for _ in 0..100 {
        feed(&mut s, true, req, 0);
    }
    assert_eq!(s.memory(), m0);
}

#[test]
fn upgrade_and_connect_leave_http() {
    let mut s = session();
    feed(
        &mut s,
        true,
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        0,
    );
    let m = feed(
        &mut s,
        false,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
        1,
    );
    assert_eq!(m.len(), 1);
    assert!(feed(&mut s, true, b"\x81\x85masked", 2).is_empty());
    assert_eq!(s.stats().upgraded, 1);
    assert_eq!(s.stats().not_http, 0);
    let mut s = session();
    feed(&mut s, true, b"CONNECT h:443 HTTP/1.1\r\n\r\n", 0);
    let m = feed(
        &mut s,
        false,
        b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01",
        1,
    );
    assert_eq!(m.len(), 1);
    assert!(m[0].file_data.is_empty());
    assert_eq!(s.stats().upgraded, 1);
}

#[test]
fn chunk_without_crlf_after_data_keeps_parsing() {
    // Regression: the lenient path after chunk data used no byte and the rest of the segment
    // was dropped.
    let mut s = session();
    feed(&mut s, true, b"GET / HTTP/1.1\r\n\r\n", 0);
    let m = feed(
        &mut s,
        false,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc2\r\nde\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz",
        0,
    );
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].file_data, b"abcde");
    assert_eq!(m[1].file_data, b"z");
}

#[test]
fn pickup_mid_stream_resynchronises() {
    let mut s = session();
    // The capture starts inside a response body, then a whole response follows.
    let mut m = feed(&mut s, false, b"tail of an earlier body\r\nmore\nHTT", 0);
    m.extend(feed(
        &mut s,
        false,
        b"P/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        1,
    ));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].file_data, b"ok");
    assert_eq!(m[0].ts, (0, 0));
    // Inside a form body on the client side, then a request.
    let m = feed(&mut s, true, b"a=1&b=2\r\nGET /next HTTP/1.1\r\n\r\n", 2);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].raw_uri, b"/next");
    assert_eq!(s.stats().not_http, 2);
    // A line that is not a request, after a good one, is one more episode.
    let m = feed(
        &mut s,
        true,
        b"\x00\x01junk\r\n\r\nGET /again HTTP/1.1\r\n\r\n",
        3,
    );
    assert_eq!(m.len(), 1);
    assert_eq!(s.stats().not_http, 3);
}

#[test]
fn utf16_text_body_is_normalised() {
    let mut s = session();
    feed(&mut s, true, b"GET / HTTP/1.1\r\n\r\n", 0);
    let body: Vec<u8> = "<script>evil</script>"
        .bytes()
        .flat_map(|b| [b, 0])
        .collect();
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-16le\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    resp.extend_from_slice(&body);
    let m = feed(&mut s, false, &resp, 0);
    assert_eq!(m[0].file_data, b"<script>evil</script>");
}

#[test]
fn long_line_fed_byte_by_byte_is_linear() {
    // Regression: the start line's end was searched from the head's start on every feed, so a
    // 32 KiB line without LF, one byte at a time, cost ~5e8 comparisons (this test then took
    // minutes in a debug build).
    let mut s = session();
    let mut n = feed(&mut s, true, b"GET /", 0).len();
    for _ in 0..40_000 {
        n += feed(&mut s, true, b"a", 0).len();
    }
    assert_eq!(n, 1); // given once, truncated, at the head bound
    assert_eq!(s.stats().head_overflows, 1);
}

#[test]
fn pipelined_requests_copy_only_their_heads() {
    // Regression: in the head state the whole segment (up to the 32 KiB head bound) was copied
    // into the head buffer and then cut at the head's end, once per request: a 64 KiB segment
    // of tiny requests cost ~3600 copies of 32 KiB, and the buffer grew to the bound.
    let one = b"GET / HTTP/1.0\r\n\r\n";
    let mut s = session();
    assert_eq!(feed(&mut s, true, one, 0).len(), 1);
    let small = s.memory();
    let data: Vec<u8> = one.iter().copied().cycle().take(one.len() * 3600).collect();
    let mut s = session();
    assert_eq!(feed(&mut s, true, &data, 0).len(), 3600);
    // The buffers stay those of one request (the pairing queue grows a little).
    assert!(s.memory() < small + 1024, "{} vs {small}", s.memory());
    // A blank line straddling two segments still ends the head where it should.
    let mut s = session();
    assert!(feed(&mut s, true, b"GET /a HTTP/1.1\r\nHost: x\r", 0).is_empty());
    let m = feed(&mut s, true, b"\n\r\nGET /b HTTP/1.0\n\nGET /c\n", 0);
    let uris: Vec<&[u8]> = m.iter().map(|m| &m.raw_uri[..]).collect();
    assert_eq!(uris, [&b"/a"[..], b"/b", b"/c"]);
    assert_eq!(m[0].raw_header, b"Host: x\r\n\r\n");
}

#[test]
fn every_buffer_at_its_cap_stays_under_the_documented_bound() {
    let mut s = session();
    // Request: a long URI, a head near its bound made of cookies, a body past post_depth.
    let mut req = b"POST /".to_vec();
    req.extend(std::iter::repeat_n(b'a', 9000));
    req.extend_from_slice(b" HTTP/1.1\r\n");
    while req.len() < 30_000 {
        req.extend_from_slice(b"Cookie: ");
        req.extend(std::iter::repeat_n(b'c', 100));
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"Content-Length: 100000\r\n\r\n");
    req.extend(std::iter::repeat_n(b'b', 100_000));
    assert_eq!(feed(&mut s, true, &req, 0).len(), 1);
    // Response: Set-Cookie lines, a gzip bomb in UTF-16 text.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&b"x\0".repeat(1 << 20)).unwrap();
    let gz = e.finish().unwrap();
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-16le\r\nContent-Encoding: gzip\r\n".to_vec();
    while resp.len() < 30_000 {
        resp.extend_from_slice(b"Set-Cookie: ");
        resp.extend(std::iter::repeat_n(b'c', 100));
        resp.extend_from_slice(b"\r\n");
    }
    resp.extend_from_slice(format!("Content-Length: {}\r\n\r\n", gz.len() + 70_000).as_bytes());
    resp.extend_from_slice(&gz);
    resp.extend(std::iter::repeat_n(0u8, 70_000));
    let m = feed(&mut s, false, &resp, 0);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].file_data.len(), 65535_usize.div_ceil(2));
    assert!(s.memory() < 1536 * 1024, "memory {}", s.memory());
}

#[test]
fn uri_scan_decides_what_http_uri_is() {
    // request URI, http_uri (hi_client.c SetProxy/SetSlashNorm + hi_client_norm)
    let cases: &[(&[u8], &[u8])] = &[
        (b"http://host/a/../b", b"/b"),    // absolute: the path, normalised
        (b"http://host/x?y=1", b"/x?y=1"), // absolute, nothing flagged: the path as sent
        (b"HTTP://host/%41", b"/A"),
        (b"https://host/x", b"/x"),          // starts with "http" too
        (b"http://host", b"http://host"),    // no path: the whole URI
        (b"ftp://host/x", b"ftp://host/x"),  // not http, nothing flagged: as sent
        (b"ftp://host/%41", b"ftp:/host/A"), // flagged: hi_norm.c keeps "ftp:/"
        (b"/a/./b", b"/a/b"),
        (b"/a/.b", b"/a/.b"),
        (b"/a+b", b"/a b"),
        (b"/\xe9t\xe9", b"/\xe9t\xe9"), // flagged (binary) but normalising keeps it
        (b"/x/y/", b"/x/y/"),
    ];
    for (raw, want) in cases {
        let mut s = session();
        let mut req = b"GET ".to_vec();
        req.extend_from_slice(raw);
        req.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        let m = feed(&mut s, true, &req, 0);
        assert_eq!(
            m[0].uri.escape_ascii().to_string(),
            want.escape_ascii().to_string(),
            "raw {}",
            raw.escape_ascii()
        );
        assert_eq!(m[0].raw_uri, *raw);
    }
}

#[test]
fn header_and_cookie_buffers_are_cut_at_max_uri() {
    // hi_client_norm copies them into MAX_URI (8192) byte buffers; the raw header is not cut.
    let mut req = b"GET / HTTP/1.1\r\nCookie: ".to_vec();
    req.extend(std::iter::repeat_n(b'k', 9000));
    req.extend_from_slice(b"\r\nX-Long: ");
    req.extend(std::iter::repeat_n(b'x', 9000));
    req.extend_from_slice(b"\r\n\r\n");
    let m = feed(&mut session(), true, &req, 0);
    assert_eq!(
        m[0].raw_header.len(),
        req.len() - b"GET / HTTP/1.1\r\n".len()
    );
    assert_eq!(m[0].cookie.len(), 8192);
    assert_eq!(m[0].header.len(), 8192);
    assert!(m[0].header.starts_with(b"Cookie: \r\nX-Long: xxx"));
}
