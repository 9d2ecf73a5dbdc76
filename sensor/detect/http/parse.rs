//! HTTP/1.x message heads: the request or status line and the header block, as Snort 2.9's
//! `hi_client.c` (`StatelessInspection`, `hi_client_extract_header`, `extract_http_cookie`,
//! `extract_http_content_length`) and `hi_server.c` find them. Owns only positions into the
//! bytes it is given; framing decisions live in the session (`mod.rs`). Never panics: every
//! position comes from a bounded search of the slice.

use std::ops::Range;

/// Content-Encoding the body decoder understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    #[default]
    Identity,
    Gzip,
    Deflate,
}

/// Character set of a text body, from `Content-Type` as `hi_server.c`
/// `extract_http_content_type_charset` reads it: a type containing `text` and then `utf-16le`,
/// `utf-16be`, `utf-32le` or `utf-32be`; `Unknown` for another `utf-` name or a text type with
/// none (the body's byte-order mark then decides); `Default` otherwise (including UTF-8/7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Charset {
    #[default]
    Default,
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
    Unknown,
}

fn content_type_charset(v: &[u8]) -> Charset {
    let Some(t) = find_ci(v, b"text") else {
        return Charset::Default;
    };
    let rest = &v[t..];
    let Some(u) = find_ci(rest, b"utf-") else {
        return Charset::Unknown;
    };
    let name = &rest[u + 4..];
    match name.first() {
        Some(b'8') | Some(b'7') => Charset::Default,
        _ if starts_with_ci(name, b"16le") => Charset::Utf16Le,
        _ if starts_with_ci(name, b"16be") => Charset::Utf16Be,
        _ if starts_with_ci(name, b"32le") => Charset::Utf32Le,
        _ if starts_with_ci(name, b"32be") => Charset::Utf32Be,
        _ => Charset::Unknown,
    }
}

/// What a message head says, as ranges into the head bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    pub method: Range<usize>,
    pub uri: Range<usize>,
    pub stat_code: Range<usize>,
    pub stat_msg: Range<usize>,
    /// Status code as a number (0 when the code is not three digits).
    pub status: u16,
    /// First header line through the blank line that ends the block (`header.uri` ..
    /// `header.uri_end` in `hi_client_extract_header`, which stops after the blank line's LF).
    pub headers: Range<usize>,
    /// `Content-Length`, `None` when absent or unusable (Snort `extract_http_content_length`
    /// takes a bad or > 0xFFFFFFFF value as 0, that is, no body).
    pub content_length: Option<u64>,
    pub chunked: bool,
    pub encoding: Encoding,
    /// Response bodies only (`normalize_utf`).
    pub charset: Charset,
    /// A request line without an `HTTP/` version (HTTP/0.9): no header block follows.
    pub http09: bool,
    /// The start line did not have the expected shape (empty URI, bad status code).
    pub malformed: bool,
}

/// RFC 7230 token characters, the shape of a method.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Longest method accepted before the bytes are taken for something else than HTTP.
pub const MAX_METHOD: usize = 32;

/// Whether the first bytes of a message can start an HTTP message in this direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Yes,
    /// Too few bytes to tell.
    Unknown,
    /// Not HTTP; the index of the first byte that says so.
    No(usize),
}

/// A request starts with a method token and a blank; a response with `HTTP/`.
pub fn plausible_start(to_server: bool, b: &[u8]) -> Start {
    if to_server {
        for (i, &c) in b.iter().enumerate() {
            if (c == b' ' || c == b'\t') && i > 0 {
                return Start::Yes;
            }
            if !is_tchar(c) || i >= MAX_METHOD {
                return Start::No(i);
            }
        }
        Start::Unknown
    } else {
        let want = b"HTTP/";
        for (i, (&c, &w)) in b.iter().zip(want).enumerate() {
            if !c.eq_ignore_ascii_case(&w) {
                return Start::No(i);
            }
        }
        if b.len() >= want.len() {
            Start::Yes
        } else {
            Start::Unknown
        }
    }
}

/// Where the head that starts at `buf[0]` ends (just past the blank line's LF), searching from
/// `from` (a resume point: bytes before it held no terminator). `first_lf` carries the start
/// line's end between calls, so a long line fed in small pieces costs linear time. A request
/// line without a version ends the head at its own LF (HTTP/0.9). `hi_client_extract_header`
/// accepts LF with or without CR on either line.
pub fn head_end(
    to_server: bool,
    buf: &[u8],
    from: usize,
    first_lf: &mut Option<usize>,
) -> Option<usize> {
    let lf0 = match *first_lf {
        Some(p) => p,
        None => {
            let p = from.checked_add(memchr(b'\n', buf.get(from..)?)?)?;
            *first_lf = Some(p);
            if to_server && !request_line_has_version(buf.get(..p)?) {
                return Some(p + 1);
            }
            p
        }
    };
    let mut i = from.saturating_sub(2).max(lf0);
    while let Some(off) = buf.get(i..).and_then(|s| memchr(b'\n', s)) {
        let lf = i + off;
        match buf.get(lf + 1) {
            Some(b'\n') => return Some(lf + 2),
            Some(b'\r') if buf.get(lf + 2) == Some(&b'\n') => return Some(lf + 3),
            _ => {}
        }
        i = lf + 1;
    }
    None
}

/// How many bytes of `data` the head being collected can use, so that only those are copied:
/// with the start line's end not seen yet (`first_lf_seen` false), up to the first LF (whether
/// the request line has a version decides if the head ends there); after it, up to the end of
/// the first blank line, which may begin in `held`, the head bytes held already (only its last
/// two count). All of `data` when neither is in it. Agrees with [`head_end`]: its answer is
/// never past the bytes this lets in.
pub fn head_need(held: &[u8], data: &[u8], first_lf_seen: bool) -> usize {
    if !first_lf_seen {
        return memchr(b'\n', data).map_or(data.len(), |i| i + 1);
    }
    let tail = held.get(held.len().saturating_sub(2)..).unwrap_or(&[]);
    let at = |i: usize| match i.checked_sub(tail.len()) {
        None => tail.get(i).copied(),
        Some(j) => data.get(j).copied(),
    };
    let mut i = 0;
    while i < tail.len() + data.len() {
        if at(i) == Some(b'\n') {
            let end = match at(i + 1) {
                Some(b'\n') => Some(i + 2),
                Some(b'\r') if at(i + 2) == Some(b'\n') => Some(i + 3),
                _ => None,
            };
            // A blank line wholly in `held` would have ended the head already.
            if let Some(end) = end.filter(|&e| e > tail.len()) {
                return end - tail.len();
            }
        }
        i += 1;
    }
    data.len()
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn skip(s: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> usize {
    while s.get(i).is_some_and(|&c| f(c)) {
        i += 1;
    }
    i
}

fn starts_with_ci(s: &[u8], p: &[u8]) -> bool {
    s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p))
}

/// The URI ends at whitespace followed by `HTTP/` (`NextNonWhiteSpace` in `hi_client.c`); other
/// whitespace inside it is kept (an unescaped-space event in Snort, not the URI's end).
fn split_request_line(line: &[u8]) -> (Range<usize>, Range<usize>, bool) {
    let mend = line.iter().position(|&c| is_ws(c)).unwrap_or(line.len());
    // apache_whitespace: tab, and VT/FF/CR before the URI (`hi_ui_config_default` whitespace[]).
    let ustart = skip(line, mend, |c| {
        matches!(c, b' ' | b'\t' | 0x0b | 0x0c | b'\r')
    });
    let mut i = ustart;
    while i < line.len() {
        if is_ws(line[i]) {
            let j = skip(line, i, is_ws);
            if starts_with_ci(&line[j..], b"HTTP/") {
                return (0..mend, ustart..i, true);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    let mut uend = line.len();
    while uend > ustart && matches!(line[uend - 1], b' ' | b'\t' | b'\r') {
        uend -= 1;
    }
    (0..mend, ustart..uend, false)
}

fn request_line_has_version(line: &[u8]) -> bool {
    split_request_line(line).2
}

/// Parses a head (`buf` from the start line through the blank line, or less when truncated).
/// Cookie value ranges (`Cookie` for requests, `Set-Cookie` for responses) are appended to
/// `cookies` when `cookies_on` (`enable_cookie`); the value runs from after the colon and blanks
/// to before the line's CR LF, as `extract_http_cookie` takes it.
pub fn parse_head(
    to_server: bool,
    buf: &[u8],
    cookies_on: bool,
    cookies: &mut Vec<Range<usize>>,
) -> Head {
    let mut h = Head::default();
    cookies.clear();
    let line_end = memchr(b'\n', buf).unwrap_or(buf.len());
    let line = &buf[..line_end];
    if to_server {
        let (m, u, has_version) = split_request_line(line);
        h.method = m;
        h.uri = u;
        h.http09 = !has_version;
        h.malformed = h.uri.is_empty();
    } else {
        let v = line.iter().position(|&c| is_ws(c)).unwrap_or(line.len());
        let cs = skip(line, v, is_ws);
        let ce = skip(line, cs, |c| c.is_ascii_digit());
        if ce - cs == 3 {
            h.stat_code = cs..ce;
            h.status = line[cs..ce]
                .iter()
                .fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
        } else {
            h.malformed = true;
        }
        let ms = skip(line, ce, is_ws);
        let mut me = line.len();
        if me > ms && line[me - 1] == b'\r' {
            me -= 1;
        }
        h.stat_msg = ms.min(me)..me;
    }
    if h.http09 || line_end >= buf.len() {
        h.headers = buf.len()..buf.len();
        return h;
    }
    h.headers = line_end + 1..buf.len();
    let cookie_name: &[u8] = if to_server { b"cookie" } else { b"set-cookie" };
    let mut s = line_end + 1;
    while s < buf.len() {
        let e = memchr(b'\n', &buf[s..]).map_or(buf.len(), |o| s + o);
        let mut ve = e;
        if ve > s && buf[ve - 1] == b'\r' {
            ve -= 1;
        }
        if ve == s {
            break; // the blank line
        }
        let l = &buf[s..ve];
        let value = |name: &[u8]| -> Option<Range<usize>> {
            if !starts_with_ci(l, name) {
                return None;
            }
            let c = skip(l, name.len(), is_ws);
            if l.get(c) != Some(&b':') {
                return None;
            }
            let v = skip(l, c + 1, is_ws);
            Some(s + v..ve)
        };
        if let Some(v) = value(cookie_name) {
            if cookies_on {
                cookies.push(v);
            }
        } else if let Some(v) = value(b"content-length") {
            if h.content_length.is_none() {
                h.content_length = parse_length(&buf[v]);
            }
        } else if let Some(v) = value(b"transfer-encoding") {
            h.chunked |= contains_ci(&buf[v], b"chunked");
        } else if let Some(v) = value(b"content-type") {
            if !to_server {
                h.charset = content_type_charset(&buf[v]);
            }
        } else if let Some(v) = value(b"content-encoding") {
            let v = &buf[v];
            if contains_ci(v, b"gzip") {
                h.encoding = Encoding::Gzip;
            } else if contains_ci(v, b"deflate") {
                h.encoding = Encoding::Deflate;
            }
        }
        s = e + 1;
    }
    h
}

fn find_ci(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w.eq_ignore_ascii_case(n))
}

fn contains_ci(h: &[u8], n: &[u8]) -> bool {
    find_ci(h, n).is_some()
}

/// Digits, then only blanks (`extract_http_content_length`); anything else, or a value above
/// 0xFFFFFFFF, is unusable.
fn parse_length(v: &[u8]) -> Option<u64> {
    let e = skip(v, 0, |c| c.is_ascii_digit());
    if e == 0 || v[e..].iter().any(|&c| !is_ws(c)) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in &v[..e] {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        if n > 0xFFFF_FFFF {
            return None;
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_head() {
        let b = b"GET /a b HTTP/1.1\r\nHost: x\r\nCookie: k=v; j=w\r\nContent-Length: 5\r\n\r\n";
        let mut c = Vec::new();
        let h = parse_head(true, b, true, &mut c);
        assert_eq!(&b[h.method.clone()], b"GET");
        assert_eq!(&b[h.uri.clone()], b"/a b"); // space kept: only " HTTP/" ends the URI
        assert_eq!(
            &b[h.headers.clone()],
            &b"Host: x\r\nCookie: k=v; j=w\r\nContent-Length: 5\r\n\r\n"[..]
        );
        assert_eq!(c.len(), 1);
        assert_eq!(&b[c[0].clone()], b"k=v; j=w");
        assert_eq!(h.content_length, Some(5));
        assert_eq!(head_end(true, b, 0, &mut None), Some(b.len()));
    }

    #[test]
    fn status_line_and_lengths() {
        let b = b"HTTP/1.1 404 Not Found\r\nContent-Length: 99999999999\r\nTransfer-Encoding: Chunked\r\n\n";
        let h = parse_head(false, b, true, &mut Vec::new());
        assert_eq!(&b[h.stat_code.clone()], b"404");
        assert_eq!(&b[h.stat_msg.clone()], b"Not Found");
        assert_eq!(h.content_length, None); // > 0xFFFFFFFF
        assert!(h.chunked);
        assert_eq!(head_end(false, b, 0, &mut None), Some(b.len()));
        assert_eq!(parse_length(b"12x"), None);
        assert_eq!(parse_length(b"12 "), Some(12));
    }

    #[test]
    fn charsets() {
        // Content-Type value, charset
        let cases: &[(&[u8], Charset)] = &[
            (b"text/html; charset=UTF-16LE", Charset::Utf16Le),
            (b"text/plain;charset=utf-16be", Charset::Utf16Be),
            (b"text/html; charset=utf-32le", Charset::Utf32Le),
            (b"text/html; charset=UTF-32BE", Charset::Utf32Be),
            (b"text/html; charset=utf-8", Charset::Default),
            (b"text/html; charset=utf-16", Charset::Unknown),
            (b"text/html", Charset::Unknown),
            (b"application/json; charset=utf-16le", Charset::Default),
        ];
        for (v, want) in cases {
            assert_eq!(content_type_charset(v), *want, "{}", v.escape_ascii());
        }
    }

    #[test]
    fn http09_and_starts() {
        assert_eq!(head_end(true, b"GET /x\r\nrest", 0, &mut None), Some(8));
        assert_eq!(plausible_start(true, b"GE"), Start::Unknown);
        assert_eq!(plausible_start(true, b"GET "), Start::Yes);
        assert_eq!(plausible_start(true, b"\x16\x03\x01"), Start::No(0));
        assert_eq!(plausible_start(true, b"GET\r\n"), Start::No(3));
        assert_eq!(plausible_start(false, b"HTT"), Start::Unknown);
        assert_eq!(plausible_start(false, b"HTTPS"), Start::No(4));
        assert_eq!(plausible_start(false, b"SSH-2.0"), Start::No(0));
    }
}
