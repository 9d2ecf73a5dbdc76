//! Stream reassembly and HTTP inspection through the whole `replay` pipeline (DESIGN.md
//! Semantics, "Reassembly and HTTP"; Snort 2.9.20 stream5 `policy first` and http_inspect's
//! server profile): TCP conversations built here segment by segment, replayed, and the alerts
//! read back from alert.fast. Raw segments are inspected as packets; each rebuilt request or
//! response once more, stamped with the time of its first segment; a rule that alerted on a
//! raw segment does not alert again for the message holding it.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

const CLIENT: [u8; 4] = [10, 1, 0, 1];
const SERVER: [u8; 4] = [10, 2, 0, 2];
const PSH_ACK: u8 = 0x18;
const SYN: u8 = 0x02;
const SYN_ACK: u8 = 0x12;
const ACK: u8 = 0x10;
const FIN_ACK: u8 = 0x11;

/// One TCP conversation between `CLIENT:cport` and `SERVER:sport`, frames stamped one
/// second apart from `t` (µs = the frame's index, so every stamp is distinct).
struct Conv {
    cport: u16,
    sport: u16,
    /// Next sequence number of the client and of the server.
    cseq: u32,
    sseq: u32,
    t: i64,
    /// IPv6 between `CLIENT6` and `SERVER6` instead of IPv4.
    v6: bool,
    frames: Vec<(i64, u32, Vec<u8>)>,
}

impl Conv {
    /// The same over IPv6.
    fn new6(cport: u16, sport: u16, t: i64) -> Conv {
        let mut c = Conv {
            cport,
            sport,
            cseq: 1000,
            sseq: 5000,
            t,
            v6: true,
            frames: Vec::new(),
        };
        c.raw(true, SYN, c.cseq, b"");
        c.cseq += 1;
        c.raw(false, SYN_ACK, c.sseq, b"");
        c.sseq += 1;
        c.raw(true, ACK, c.cseq, b"");
        c
    }

    /// A conversation starting with the three-way handshake at second `t`.
    fn new(cport: u16, sport: u16, t: i64) -> Conv {
        let mut c = Conv {
            cport,
            sport,
            cseq: 1000,
            sseq: 5000,
            t,
            v6: false,
            frames: Vec::new(),
        };
        c.raw(true, SYN, c.cseq, b"");
        c.cseq += 1;
        c.raw(false, SYN_ACK, c.sseq, b"");
        c.sseq += 1;
        c.raw(true, ACK, c.cseq, b"");
        c
    }

    /// The stamp of the next frame.
    fn next_ts(&self) -> (i64, u32) {
        (self.t + self.frames.len() as i64, self.frames.len() as u32)
    }

    /// A frame with explicit flags and sequence number (nothing advances).
    fn raw(&mut self, to_server: bool, flags: u8, seq: u32, data: &[u8]) -> (i64, u32) {
        let ts = self.next_ts();
        let f = if self.v6 {
            frame6(
                to_server,
                self.cport,
                self.sport,
                flags,
                seq,
                if to_server { self.sseq } else { self.cseq },
                data,
            )
        } else if to_server {
            frame(
                CLIENT,
                SERVER,
                L4::Tcp(self.cport, self.sport, flags, seq, self.sseq),
                data,
            )
        } else {
            frame(
                SERVER,
                CLIENT,
                L4::Tcp(self.sport, self.cport, flags, seq, self.cseq),
                data,
            )
        };
        self.frames.push((ts.0, ts.1, f));
        ts
    }

    /// The client's next bytes, in order.
    fn c(&mut self, data: &[u8]) -> (i64, u32) {
        let ts = self.raw(true, PSH_ACK, self.cseq, data);
        self.cseq += data.len() as u32;
        ts
    }

    /// The server's next bytes, in order.
    fn s(&mut self, data: &[u8]) -> (i64, u32) {
        let ts = self.raw(false, PSH_ACK, self.sseq, data);
        self.sseq += data.len() as u32;
        ts
    }

    /// Both sides close.
    fn close(&mut self) {
        self.raw(true, FIN_ACK, self.cseq, b"");
        self.cseq += 1;
        self.raw(false, FIN_ACK, self.sseq, b"");
        self.sseq += 1;
        self.raw(true, ACK, self.cseq, b"");
    }
}

const CLIENT6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const SERVER6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// An Ethernet/IPv6/TCP frame between `CLIENT6:cport` and `SERVER6:sport` (valid checksum).
fn frame6(
    to_server: bool,
    cport: u16,
    sport: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    data: &[u8],
) -> Vec<u8> {
    let (src, dst, sp, dp) = if to_server {
        (CLIENT6, SERVER6, cport, sport)
    } else {
        (SERVER6, CLIENT6, sport, cport)
    };
    let mut b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6(src, dst, 64)
        .tcp(sp, dp, seq, 65000);
    if flags & ACK != 0 {
        b = b.ack(ack);
    }
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & 0x01 != 0 {
        b = b.fin();
    }
    if flags & 0x08 != 0 {
        b = b.psh();
    }
    let mut f = Vec::new();
    b.write(&mut f, data).unwrap();
    f
}

struct Replay {
    fast: Vec<String>,
    stdout: String,
}

impl Replay {
    /// Alert counts by sid.
    fn sids(&self) -> BTreeMap<u32, usize> {
        let mut m = BTreeMap::new();
        for l in &self.fast {
            let sid = l
                .split("[1:")
                .nth(1)
                .and_then(|s| s.split(':').next())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("no sid in {l}"));
            *m.entry(sid).or_insert(0) += 1;
        }
        m
    }

    /// The alert.fast lines of `sid`.
    fn lines(&self, sid: u32) -> Vec<&str> {
        let tag = format!("[1:{sid}:");
        self.fast
            .iter()
            .filter(|l| l.contains(&tag))
            .map(String::as_str)
            .collect()
    }
}

/// Replays `frames` with `rules` (and a config file holding `config` when given).
fn replay(
    dir: &Path,
    name: &str,
    frames: &[(i64, u32, Vec<u8>)],
    rules: &str,
    config: Option<&str>,
) -> Replay {
    let pcap = dir.join(format!("{name}.pcap"));
    write_pcap(&pcap, frames);
    let rf = dir.join(format!("{name}.rules"));
    fs::write(&rf, rules).unwrap();
    let log = dir.join(format!("log-{name}"));
    let cfg = dir.join(format!("{name}.toml"));
    fs::write(
        &cfg,
        format!("[evidence]\nenabled = false\n{}", config.unwrap_or("")),
    )
    .unwrap();
    let out = run(bin()
        .args([
            "replay",
            "-q",
            "--no-ring",
            "--home-net",
            "10.0.0.0/8",
            "-c",
        ])
        .arg(&cfg)
        .arg("-r")
        .arg(&rf)
        .arg("-l")
        .arg(&log)
        .arg(&pcap));
    expect_code(&out, 0);
    let fast = fs::read_to_string(log.join("alert.fast")).unwrap_or_default();
    if log.join("eve.json").exists() {
        validate_eve(&log.join("eve.json"));
    }
    Replay {
        fast: fast.lines().map(str::to_string).collect(),
        stdout: text(&out.stdout),
    }
}

/// alert.fast's stamp of `(sec, usec)` (TZ=UTC, year left out as Snort prints it).
fn stamp(ts: (i64, u32)) -> String {
    let s = ts.0;
    format!("01/01-00:{:02}:{:02}.{:06} ", (s / 60) % 60, s % 60, ts.1)
}

fn expect(r: &Replay, want: &[(u32, usize)]) {
    let want: BTreeMap<u32, usize> = want.iter().copied().filter(|(_, n)| *n > 0).collect();
    assert_eq!(
        r.sids(),
        want,
        "alerts:\n{}\n{}",
        r.fast.join("\n"),
        r.stdout
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn content_across_three_segments_alerts_once_on_the_message_at_its_first_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Conv::new(40001, 80, 1);
    let first = c.c(b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: SPLIT-AG");
    c.c(b"ENT-MA");
    c.c(b"RK\r\nAccept: */*\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    c.close();
    let rules = "alert tcp any any -> any $HTTP_PORTS (msg:\"split content\"; flow:to_server,established; content:\"SPLIT-AGENT-MARK\"; sid:1000001; rev:1;)\n";
    let r = replay(tmp.path(), "split3", &c.frames, rules, None);
    expect(&r, &[(1000001, 1)]);
    let line = r.lines(1000001)[0];
    assert!(line.starts_with(&stamp(first)), "{line}");
    assert!(
        line.ends_with("{TCP} 10.1.0.1:40001 -> 10.2.0.2:80"),
        "{line}"
    );
    assert!(r.stdout.contains("stream: flows=1 "), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("http: requests=1 responses=1 messages_inspected=2 "),
        "{}",
        r.stdout
    );
}

/// stream5 `policy first`: bytes already queued win over a retransmission carrying other
/// bytes, out of order or not.
#[test]
fn retransmission_with_other_bytes_keeps_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Conv::new(40002, 80, 1);
    let a = b"GET /ooo HTTP/1.1\r\nHost: h\r\n".as_slice();
    let b = b"X-Tag: ORIGIN\r\n".as_slice();
    let forged = b"X-Tag: FORGED\r\n".as_slice();
    let tail = b"Accept: */*\r\n\r\n".as_slice();
    let base = c.cseq;
    let b_at = base + a.len() as u32;
    let tail_at = b_at + b.len() as u32;
    // The tail first, then the middle, then the middle again with other bytes, then the head.
    c.raw(true, PSH_ACK, tail_at, tail);
    c.raw(true, PSH_ACK, b_at, b);
    c.raw(true, PSH_ACK, b_at, forged);
    let head = c.raw(true, PSH_ACK, base, a);
    // A retransmission of the head with other bytes after it was delivered.
    c.raw(true, PSH_ACK, base, b"POST /ooo HTTP/1.1\r\nHost: h\r\n");
    c.cseq = tail_at + tail.len() as u32;
    c.s(b"HTTP/1.1 204 No Content\r\n\r\n");
    c.close();
    let rules = "\
alert tcp any any -> any $HTTP_PORTS (msg:\"original header\"; content:\"X-Tag: ORIGIN\"; http_header; sid:1000010; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"forged header\"; content:\"X-Tag: FORGED\"; http_header; sid:1000011; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"forged stream\"; flow:only_stream; content:\"FORGED\"; sid:1000012; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"forged raw\"; flow:no_stream; content:\"FORGED\"; sid:1000013; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"get method\"; content:\"GET\"; http_method; sid:1000014; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"post method\"; content:\"POST\"; http_method; sid:1000015; rev:1;)\n";
    let r = replay(tmp.path(), "ooo", &c.frames, rules, None);
    // The forged raw segment is a packet too: no_stream sees it; the message does not hold it.
    expect(&r, &[(1000010, 1), (1000013, 1), (1000014, 1)]);
    // The message's first byte came with the head, the last of its segments to arrive.
    assert!(
        r.lines(1000010)[0].starts_with(&stamp(head)),
        "{:?}",
        r.fast
    );
    assert!(r.stdout.contains("out_of_order="), "{}", r.stdout);
    let field = |k: &str| -> u64 {
        r.stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {k} in {}", r.stdout))
    };
    assert!(field("out_of_order=") >= 2, "{}", r.stdout);
    assert!(
        field("overlaps=") + field("retransmits=") >= 2,
        "{}",
        r.stdout
    );
}

#[test]
fn content_whole_in_a_raw_segment_alerts_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Conv::new(40003, 80, 1);
    c.c(b"GET /whole HTTP/1.1\r\nHost: h\r\n");
    let second = c.c(b"X-Mark: WHOLE-MARK\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    let rules = "\
alert tcp any any -> any $HTTP_PORTS (msg:\"whole\"; content:\"WHOLE-MARK\"; sid:1000020; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"whole header\"; content:\"WHOLE-MARK\"; http_header; sid:1000021; rev:1;)\n";
    let r = replay(tmp.path(), "whole", &c.frames, rules, None);
    // sid 1000020 on the raw segment only; the header rule on the message.
    expect(&r, &[(1000020, 1), (1000021, 1)]);
    assert!(
        r.lines(1000020)[0].starts_with(&stamp(second)),
        "{:?}",
        r.fast
    );
}

/// A second request on the same flow after one whose raw segment alerted is inspected in full.
#[test]
fn raw_dedup_is_per_message() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Conv::new(40004, 80, 1);
    c.c(b"GET /one HTTP/1.1\r\nHost: h\r\nX-M: DEDUP-MARK\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.c(b"GET /two HTTP/1.1\r\nHost: h\r\nX-M: DEDUP-");
    c.c(b"MARK\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    let rules = "alert tcp any any -> any $HTTP_PORTS (msg:\"dedup\"; content:\"DEDUP-MARK\"; sid:1000030; rev:1;)\n";
    let r = replay(tmp.path(), "dedup", &c.frames, rules, None);
    // Raw on the first request; the message of the second (split) request.
    expect(&r, &[(1000030, 2)]);
}

const HTTP_RULES: &str = "\
alert tcp any any -> any $HTTP_PORTS (msg:\"norm uri\"; content:\"/a/c/dA?x=1\"; http_uri; sid:2000001; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"raw uri\"; content:\"/a/./b/../c%2fd%41\"; http_raw_uri; sid:2000002; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"raw text not in norm uri\"; content:\"%41\"; http_uri; sid:2000003; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"uricontent\"; uricontent:\"/c/dA\"; sid:2000004; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"urilen raw\"; urilen:23; content:\"GET\"; http_method; sid:2000005; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"urilen norm\"; urilen:12,norm; content:\"GET\"; http_method; sid:2000006; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"urilen norm wrong\"; urilen:23,norm; content:\"GET\"; http_method; sid:2000007; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"post\"; content:\"POST\"; http_method; sid:2000008; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"cookie in header\"; content:\"COOKIEVAL\"; http_header; sid:2000009; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"cookie in raw header\"; content:\"COOKIEVAL\"; http_raw_header; sid:2000010; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"cookie\"; content:\"sess=COOKIEVAL\"; http_cookie; sid:2000011; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"raw cookie\"; content:\"sess=COOKIEVAL\"; http_raw_cookie; sid:2000012; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"chunked body\"; content:\"hello-world\"; http_client_body; sid:2000013; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"chunk size not in body\"; content:\"5|0d 0a|hello\"; http_client_body; sid:2000014; rev:1;)\n\
alert tcp any $HTTP_PORTS -> any any (msg:\"stat code\"; content:\"404\"; http_stat_code; sid:2000015; rev:1;)\n\
alert tcp any $HTTP_PORTS -> any any (msg:\"stat msg\"; content:\"Not Found\"; http_stat_msg; sid:2000016; rev:1;)\n\
alert tcp any $HTTP_PORTS -> any any (msg:\"gzip text\"; file_data; content:\"GZIPPED-SECRET\"; sid:2000017; rev:1;)\n\
alert tcp any $HTTP_PORTS -> any any (msg:\"gzip text raw\"; content:\"GZIPPED-SECRET\"; sid:2000018; rev:1;)\n\
alert tcp any $HTTP_PORTS -> any any (msg:\"chunked response\"; file_data; content:\"chunky-bacon\"; sid:2000019; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"pipelined\"; content:\"/pipe\"; http_uri; sid:2000020; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"pcre U\"; pcre:\"/^\\/pipe[12]$/U\"; sid:2000021; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"pcre H\"; pcre:\"/User-Agent: pcre-agent/H\"; sid:2000022; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"only stream\"; flow:only_stream; content:\"STREAMTEST\"; sid:2000023; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"no stream\"; flow:no_stream; content:\"STREAMTEST\"; sid:2000024; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"plain\"; content:\"STREAMTEST\"; sid:2000025; rev:1;)\n";

/// Every HTTP buffer, one replay; each message matches at most 3 rules (the event queue logs
/// 3 per packet: see `event_queue_caps_a_message_at_three`).
#[test]
fn http_buffers_on_rebuilt_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    let mut stamps = BTreeMap::new();

    // URI normalisation, uricontent.
    let mut c = Conv::new(41001, 80, 1);
    c.c(b"GET /a/./b/../c%2fd%41?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    frames.append(&mut c.frames);

    // urilen of the raw URI (23 bytes) and of the normalised one (12: "/q/s/tB?yy=2").
    let mut c = Conv::new(41006, 80, 50);
    c.c(b"GET /q/./r/../s%2ft%42?yy=2 HTTP/1.1\r\nHost: h\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    frames.append(&mut c.frames);

    // A chunked POST body; a 404.
    let mut c = Conv::new(41002, 80, 100);
    c.c(b"POST /form HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.c(b"5\r\nhello\r\n6\r\n-world\r\n0\r\n\r\n");
    c.s(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    c.close();
    frames.append(&mut c.frames);

    // Cookies: the value is in http_cookie and http_raw_header, not in http_header.
    let mut c = Conv::new(41007, 80, 150);
    c.c(b"GET /k HTTP/1.1\r\nHost: h\r\nCookie: sess=COOKIEVAL\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    frames.append(&mut c.frames);

    // A gzip response and a chunked one.
    let mut c = Conv::new(41003, 80, 200);
    c.c(b"GET /z HTTP/1.1\r\nHost: h\r\n\r\n");
    let body = gzip(b"<html>some GZIPPED-SECRET page</html>");
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    resp.extend_from_slice(&body);
    c.s(&resp);
    c.c(b"GET /c HTTP/1.1\r\nHost: h\r\n\r\n");
    let chunked = c.s(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nchunky\r\n");
    stamps.insert("chunked", chunked);
    c.s(b"6\r\n-bacon\r\n0\r\n\r\n");
    c.close();
    frames.append(&mut c.frames);

    // Two pipelined requests in one segment, a pcre on the header.
    let mut c = Conv::new(41004, 80, 300);
    c.c(b"GET /pipe1 HTTP/1.1\r\nHost: h\r\n\r\nGET /pipe2 HTTP/1.1\r\nHost: h\r\nUser-Agent: pcre-agent\r\n\r\n");
    c.s(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    c.close();
    frames.append(&mut c.frames);

    // flow:only_stream / no_stream on a content whole in one segment.
    let mut c = Conv::new(41005, 80, 400);
    let req = c.c(b"GET /s HTTP/1.1\r\nHost: h\r\nX-A: STREAMTEST\r\n\r\n");
    stamps.insert("stream", req);
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    frames.append(&mut c.frames);

    let r = replay(tmp.path(), "http", &frames, HTTP_RULES, None);
    expect(
        &r,
        &[
            (2000001, 1),
            (2000002, 1),
            (2000004, 1),
            (2000005, 1),
            (2000006, 1),
            (2000008, 1),
            (2000010, 1),
            (2000011, 1),
            (2000012, 1),
            (2000013, 1),
            (2000015, 1),
            (2000016, 1),
            (2000017, 1),
            (2000019, 1),
            (2000020, 2),
            (2000021, 2),
            (2000022, 1),
            (2000023, 1),
            (2000024, 1),
            (2000025, 1),
        ],
    );
    // A response in two segments is stamped with the first.
    let l = r.lines(2000019)[0];
    assert!(l.starts_with(&stamp(stamps["chunked"])), "{l}");
    // Responses print the server first.
    let l = r.lines(2000015)[0];
    assert!(l.ends_with("{TCP} 10.2.0.2:80 -> 10.1.0.1:41002"), "{l}");
    for sid in [2000023, 2000024, 2000025] {
        assert!(
            r.lines(sid)[0].starts_with(&stamp(stamps["stream"])),
            "{:?}",
            r.fast
        );
    }
}

/// Only `$HTTP_PORTS` flows are reassembled, and the variable comes from the config.
#[test]
fn http_buffers_follow_http_ports() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = "\
alert tcp any any -> any any (msg:\"uri\"; content:\"/ports\"; http_uri; sid:3000001; rev:1;)\n\
alert tcp any any -> any any (msg:\"raw\"; content:\"/ports\"; sid:3000002; rev:1;)\n";
    let mut frames = Vec::new();
    for (i, port) in [80u16, 8000, 2000].into_iter().enumerate() {
        let mut c = Conv::new(42000 + port % 1000, port, 1 + 100 * i as i64);
        c.c(b"GET /ports HTTP/1.1\r\nHost: h\r\n\r\n");
        c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        c.close();
        frames.append(&mut c.frames);
    }
    // Snort's default $HTTP_PORTS holds 80 and 8000, not 2000.
    let r = replay(tmp.path(), "ports-default", &frames, rules, None);
    expect(&r, &[(3000001, 2), (3000002, 3)]);
    assert!(
        r.lines(3000001)[0].ends_with("-> 10.2.0.2:80"),
        "{:?}",
        r.fast
    );
    assert!(
        r.lines(3000001)[1].ends_with("-> 10.2.0.2:8000"),
        "{:?}",
        r.fast
    );

    let cfg = "[vars]\nHTTP_PORTS = \"[8000]\"\n";
    let r = replay(tmp.path(), "ports-8000", &frames, rules, Some(cfg));
    expect(&r, &[(3000001, 1), (3000002, 3)]);
    let l = r.lines(3000001)[0];
    assert!(l.ends_with("-> 10.2.0.2:8000"), "{l}");
}

/// Rules that cannot match a rebuilt message (IP lists) never start reassembly.
#[test]
fn ip_list_rules_do_not_reassemble() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Conv::new(43001, 80, 1);
    c.c(b"GET /ip HTTP/1.1\r\nHost: h\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    let rules = "alert ip [10.2.0.2] any -> any any (msg:\"listed\"; sid:4000001; rev:1;)\n";
    let r = replay(tmp.path(), "iplist", &c.frames, rules, None);
    // The server's packets: SYN-ACK, response, FIN.
    expect(&r, &[(4000001, 3)]);
    assert!(!r.stdout.contains("stream:"), "{}", r.stdout);
    assert!(!r.stdout.contains("http:"), "{}", r.stdout);

    let rules = format!(
        "{rules}alert tcp any any -> any 80 (msg:\"content\"; content:\"/ip\"; sid:4000002; rev:1;)\n"
    );
    let r = replay(tmp.path(), "iplist-content", &c.frames, &rules, None);
    expect(&r, &[(4000001, 3), (4000002, 1)]);
    assert!(r.stdout.contains("stream: flows=1 "), "{}", r.stdout);
}

/// Snort's `event_queue: max_queue 8, log 3, order_events content_length` holds for a rebuilt
/// message as for any packet: of 5 matching rules the 3 with the longest fast patterns.
#[test]
fn event_queue_caps_a_message_at_three() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Conv::new(44001, 80, 1);
    c.c(b"GET /q HTTP/1.1\r\nHost: h\r\nX-Q: abcdefghi\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    let rules: String = (5..=9)
        .map(|n| {
            format!(
                "alert tcp any any -> any $HTTP_PORTS (msg:\"len {n}\"; content:\"{}\"; http_header; sid:{}; rev:1;)\n",
                &"abcdefghi"[..n],
                5000000 + n
            )
        })
        .collect();
    let r = replay(tmp.path(), "cap", &c.frames, &rules, None);
    expect(&r, &[(5000007, 1), (5000008, 1), (5000009, 1)]);
}

/// A raw segment that ends one pipelined request and starts the next: the rule that alerted on
/// it does not alert again for the second request, which holds the matched bytes.
#[test]
fn raw_dedup_reaches_the_next_pipelined_message() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Conv::new(40005, 80, 1);
    c.c(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nX-M: PIPE-MARK\r\n");
    c.c(b"\r\n");
    c.s(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    c.close();
    let rules = "alert tcp any any -> any $HTTP_PORTS (msg:\"pipe\"; content:\"PIPE-MARK\"; sid:1000040; rev:1;)\n";
    let r = replay(tmp.path(), "pipe-dedup", &c.frames, rules, None);
    expect(&r, &[(1000040, 1)]);
}

/// The rebuilt packet of an IPv6 flow is an IPv6 packet between the flow's endpoints.
#[test]
fn ipv6_flows_are_reassembled() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Conv::new6(45001, 80, 1);
    let first = c.c(b"GET /six HTTP/1.1\r\nHost: h\r\nX-S: SIX-");
    c.c(b"MARK\r\n\r\n");
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    let rules = "\
alert tcp any any -> any $HTTP_PORTS (msg:\"six uri\"; content:\"/six\"; http_uri; sid:6000001; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"six split\"; content:\"SIX-MARK\"; http_header; sid:6000002; rev:1;)\n";
    let r = replay(tmp.path(), "six", &c.frames, rules, None);
    expect(&r, &[(6000001, 1), (6000002, 1)]);
    for l in &r.fast {
        assert!(l.starts_with(&stamp(first)), "{l}");
        assert!(
            l.ends_with("{TCP} 2001:db8::1:45001 -> 2001:db8::2:80"),
            "{l}"
        );
    }
}

/// A POST body longer than `post_depth` (65495) and than one packet: `http_client_body` holds
/// its first 65495 bytes; the raw segments are still inspected whole.
#[test]
fn long_post_body_is_cut_at_post_depth() {
    let tmp = tempfile::tempdir().unwrap();
    let mut body = vec![b'x'; 100_000];
    body[1000..1010].copy_from_slice(b"EARLY-MARK");
    body[80_000..80_009].copy_from_slice(b"LATE-MARK");
    let mut c = Conv::new(46001, 80, 1);
    let first = c.c(format!(
        "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .as_bytes());
    for part in body.chunks(1400) {
        c.c(part);
    }
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    let rules = "\
alert tcp any any -> any $HTTP_PORTS (msg:\"early body\"; content:\"EARLY-MARK\"; http_client_body; sid:7000001; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"late body\"; content:\"LATE-MARK\"; http_client_body; sid:7000002; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"late raw\"; flow:no_stream; content:\"LATE-MARK\"; sid:7000003; rev:1;)\n";
    let r = replay(tmp.path(), "post", &c.frames, rules, None);
    expect(&r, &[(7000001, 1), (7000003, 1)]);
    assert!(
        r.lines(7000001)[0].starts_with(&stamp(first)),
        "{:?}",
        r.fast
    );
    // Given once its body reached post_depth: counted as truncated.
    assert!(
        r.stdout
            .contains("http: requests=1 responses=1 messages_inspected=2 truncated=1 "),
        "{}",
        r.stdout
    );
}

/// A hole the receiver acknowledged past (the sensor missed a segment) is not glued over: the
/// bytes on both sides of it never form one match, and the request in progress is inspected
/// as far as it got.
#[test]
fn a_skipped_hole_does_not_join_its_sides() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Conv::new(47001, 80, 1);
    let head = b"GET /gap HTTP/1.1\r\nHost: h\r\nX-A: GAP-".as_slice();
    let lost = b"lost bytes\r\nX-B: ".as_slice();
    let tail = b"MARK\r\n\r\n".as_slice();
    let first = c.c(head);
    let tail_at = c.cseq + lost.len() as u32;
    c.raw(true, PSH_ACK, tail_at, tail);
    c.cseq = tail_at + tail.len() as u32;
    // The server acknowledges everything, the missed segment included.
    c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    let rules = "\
alert tcp any any -> any $HTTP_PORTS (msg:\"glued\"; content:\"GAP-MARK\"; sid:8000001; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"glued header\"; content:\"GAP-MARK\"; http_header; sid:8000002; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"uri\"; content:\"/gap\"; http_uri; sid:8000003; rev:1;)\n";
    let r = replay(tmp.path(), "gap", &c.frames, rules, None);
    expect(&r, &[(8000003, 1)]);
    assert!(
        r.lines(8000003)[0].starts_with(&stamp(first)),
        "{:?}",
        r.fast
    );
    assert!(r.stdout.contains(" gaps=1 "), "{}", r.stdout);
}

/// The same ports used again by a new connection (new handshake, new initial sequence
/// numbers) after the first one closed with FIN, and after one reset: the new streams are
/// reassembled from their own SYNs.
#[test]
fn port_reuse_after_close_starts_new_streams() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = "alert tcp any any -> any $HTTP_PORTS (msg:\"split\"; content:\"REUSE-MARK\"; http_header; sid:9000001; rev:1;)\n";
    for (name, rst) in [("fin", false), ("rst", true)] {
        let mut c = Conv::new(48001, 80, 1);
        c.c(b"GET /one HTTP/1.1\r\nHost: h\r\nX-R: REUSE-MARK\r\n\r\n");
        c.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        if rst {
            c.raw(true, 0x14, c.cseq, b"");
        } else {
            c.close();
        }
        // A new connection on the same ports, its sequence numbers far from the first's.
        let mut d = Conv::new(48001, 80, 100);
        d.cseq = 3_000_000_000;
        d.sseq = 1_500_000_000;
        d.frames.clear();
        d.raw(true, SYN, d.cseq, b"");
        d.cseq += 1;
        d.raw(false, SYN_ACK, d.sseq, b"");
        d.sseq += 1;
        d.raw(true, ACK, d.cseq, b"");
        d.c(b"GET /two HTTP/1.1\r\nHost: h\r\nX-R: REUSE-");
        d.c(b"MARK\r\n\r\n");
        d.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        d.close();
        let mut frames = c.frames;
        frames.extend(d.frames);
        let r = replay(tmp.path(), name, &frames, rules, None);
        expect(&r, &[(9000001, 2)]);
        assert!(
            r.lines(9000001)[1].starts_with("01/01-00:01:43."),
            "{:?}",
            r.fast
        );
    }
}

/// `flow:` direction and state hold on rebuilt messages as on their segments: a response is
/// to_client, and a body delimited by the server's FIN is still inspected on an established
/// flow.
#[test]
fn flow_options_on_rebuilt_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Conv::new(49001, 80, 1);
    c.c(b"GET /f HTTP/1.1\r\nHost: h\r\n\r\n");
    let resp = c.s(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome CLOSE-");
    c.s(b"BODY text");
    c.close();
    let rules = "\
alert tcp any $HTTP_PORTS -> any any (msg:\"to client\"; flow:to_client,established; file_data; content:\"CLOSE-BODY\"; sid:9100001; rev:1;)\n\
alert tcp any any -> any any (msg:\"to server\"; flow:to_server; file_data; content:\"CLOSE-BODY\"; sid:9100002; rev:1;)\n\
alert tcp any $HTTP_PORTS -> any any (msg:\"from server\"; flow:from_server,established; content:\"200\"; http_stat_code; sid:9100003; rev:1;)\n\
alert tcp any any -> any $HTTP_PORTS (msg:\"request\"; flow:to_server,established; content:\"GET\"; http_method; sid:9100004; rev:1;)\n";
    let r = replay(tmp.path(), "flowopts", &c.frames, rules, None);
    expect(&r, &[(9100001, 1), (9100003, 1), (9100004, 1)]);
    let l = r.lines(9100001)[0];
    assert!(l.starts_with(&stamp(resp)), "{l}");
    assert!(l.ends_with("{TCP} 10.2.0.2:80 -> 10.1.0.1:49001"), "{l}");
}
