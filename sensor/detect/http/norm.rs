//! `http_uri` normalisation: the decoding and directory rules of Snort 2.9's `hi_norm.c`
//! (`hi_norm_uri` and the decoders it calls), for the switches the shipped `http_inspect_server`
//! turns on. Owns nothing but the algorithm: the caller gives the raw URI and a reusable output
//! buffer. Never panics; every read goes through a bounds check and the output is capped.
//!
//! Which switches apply (Snort `hi_ui_config.c` `hi_ui_config_default`, then the shipped
//! `server default` line, which names no `profile` and so only adds to the defaults):
//!
//! | switch | on | where in `hi_norm.c` |
//! |---|---|---|
//! | `ascii` (`%xx`) | yes | `GetChar` → `PercentDecode` |
//! | `utf_8` (`%c0%af` → `/`) | yes | `GetByte` → `UnicodeDecode` → `UTF8Decode` |
//! | `multi_slash` | yes | `DirNorm` |
//! | `directory` (`/./`, `/../`) | yes | `DirNorm`, `DirTrav`, `DirSet` |
//! | `+` → space | always | `GetDecodedByte` |
//! | `u_encode` (`%uXXXX`) | no: `%u` gives the placeholder 0xff and the hex digits stay | `PercentDecode` |
//! | `bare_byte` | no: raw bytes > 0x7f pass through and are not UTF-8 decoded | `GetChar` |
//! | `iis_backslash` | no: `\` stays | `GetDecodedByte` |
//! | `double_decode`, `iis_unicode` | no (not implemented; the `unicode.map` is only used by them) | `DoubleDecode`, `UDecode` |
//! | `apache_whitespace`, `iis_delimiter`, `non_rfc_char`, `webroot` | request-line parsing and alerts only; they do not change the buffer | `hi_client.c` |
//!
//! A bad escape decodes to 0xff (`NON_ASCII_CHAR`) the way `PercentDecode` consumes it. When
//! the result is empty or longer than the raw URI, Snort (`hi_client_norm`) falls back to the raw
//! URI, and so does [`normalize_uri`].
//!
//! Which part is normalised, and whether at all, is decided first by [`uri_scan`], the URI
//! scanner of `hi_client.c`: a URI with nothing it flags is used as it is, and an absolute
//! `http…://host/path` URI gives `http_uri` from its path.

/// Which `hi_norm.c` decoders run. [`UriNorm::SNORT_DEFAULT`] is the shipped configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UriNorm {
    pub ascii: bool,
    pub utf_8: bool,
    pub u_encode: bool,
    pub bare_byte: bool,
    pub iis_backslash: bool,
    pub multi_slash: bool,
    pub directory: bool,
}

impl UriNorm {
    /// `hi_ui_config_default` plus the shipped `server default` options.
    pub const SNORT_DEFAULT: UriNorm = UriNorm {
        ascii: true,
        utf_8: true,
        u_encode: false,
        bare_byte: false,
        iis_backslash: false,
        multi_slash: true,
        directory: true,
    };
}

impl Default for UriNorm {
    fn default() -> Self {
        UriNorm::SNORT_DEFAULT
    }
}

/// `NON_ASCII_CHAR` in `hi_norm.c`: the placeholder for a bad or non-ASCII decode.
const NON_ASCII: u8 = 0xff;
/// `MAX_DIRS` in `hi_norm.c`: directories tracked for `/../`.
const MAX_DIRS: usize = 2048;

/// One decoded step: a byte, the end of the input, or (from `dir_norm`) a traversal.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Byte(u8),
    End,
    DirTrav,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

struct Decoder<'a> {
    cfg: UriNorm,
    src: &'a [u8],
    pos: usize,
    /// `byte_decoded` in `hi_norm.c`: the last byte came from an escape (so `%3f` is no `?`).
    decoded: bool,
    /// Past the first undecoded `?`: directories are no longer tracked or folded.
    param: bool,
}

impl Decoder<'_> {
    /// `GetPtr`: advance, then read.
    fn next_raw(&mut self) -> Option<u8> {
        self.pos = self.pos.saturating_add(1);
        self.src.get(self.pos).copied()
    }

    /// `PercentDecode`, entered with `pos` on the `%`. `None` = ran off the end.
    fn percent(&mut self) -> Option<u8> {
        let b = self.next_raw()?;
        let Some(hi) = hex(b) else {
            if self.cfg.u_encode && (b | 0x20) == b'u' {
                return self.u_decode();
            }
            return Some(NON_ASCII);
        };
        let b = self.next_raw()?;
        let Some(lo) = hex(b) else {
            return Some(NON_ASCII);
        };
        self.decoded = true;
        Some((hi << 4) | lo)
    }

    /// `UDecode`: four hex digits after `%u`; code points above 0xff are the placeholder
    /// (`iis_unicode` off).
    fn u_decode(&mut self) -> Option<u8> {
        let mut v: u32 = 0;
        for _ in 0..4 {
            let b = self.next_raw()?;
            let Some(h) = hex(b) else {
                return Some(NON_ASCII);
            };
            v = (v << 4) | u32::from(h);
        }
        self.decoded = true;
        Some(u8::try_from(v).unwrap_or(NON_ASCII))
    }

    /// `GetChar`: one byte, percent-decoded when `ascii` is on. The flag says the byte was
    /// taken as it stands (a "bare" byte), which `UTF8Decode` refuses as a continuation.
    fn get_char(&mut self) -> (Step, bool) {
        let Some(&c) = self.src.get(self.pos) else {
            return (Step::End, true);
        };
        if c == b'%' && self.cfg.ascii {
            match self.percent() {
                // Ran out inside the escape: the placeholder, without advancing (pos is at end).
                None => return (Step::Byte(NON_ASCII), false),
                Some(v) => {
                    self.pos = self.pos.saturating_add(1);
                    return (Step::Byte(v), false);
                }
            }
        }
        let bare = !(self.cfg.bare_byte && c > 0x7f);
        self.pos = self.pos.saturating_add(1);
        (Step::Byte(c), bare)
    }

    /// `UTF8Decode`: two- and three-byte sequences whose bytes were all escapes; a value above
    /// 0x7f is the placeholder (`iis_unicode` off).
    fn utf8(&mut self, first: u8) -> u8 {
        let (n, mut v) = if first & 0xe0 == 0xc0 {
            (1, u32::from(first & 0x1f))
        } else if first & 0xf0 == 0xe0 {
            (2, u32::from(first & 0x0f))
        } else {
            return first;
        };
        for _ in 0..n {
            let (s, bare) = self.get_char();
            let b = match s {
                Step::Byte(b) if b != NON_ASCII && !bare => b,
                _ => return NON_ASCII,
            };
            if b & 0xc0 != 0x80 {
                return NON_ASCII;
            }
            v = (v << 6) | u32::from(b & 0x3f);
        }
        if v > 0x7f {
            NON_ASCII
        } else {
            v as u8
        }
    }

    /// `GetDecodedByte` (`GetByte` + backslash + `+`).
    fn decoded_byte(&mut self) -> Step {
        let (s, bare) = self.get_char();
        let Step::Byte(mut c) = s else {
            return s;
        };
        if c != NON_ASCII && c & 0x80 != 0 && !bare && self.cfg.utf_8 {
            c = self.utf8(c);
        }
        if self.cfg.iis_backslash && c == b'\\' {
            c = b'/';
        }
        if c == b'+' {
            c = b' ';
        }
        Step::Byte(c)
    }

    /// `DirNorm`, entered just after a `/`: skips repeated slashes and `./`, reports `../`
    /// (with `pos` put back on its slash), otherwise returns the byte after the slash.
    fn dir_norm(&mut self) -> Step {
        loop {
            let c = match self.decoded_byte() {
                Step::Byte(c) => c,
                other => return other,
            };
            let orig = self.pos;
            if self.cfg.multi_slash && c == b'/' {
                continue;
            }
            if self.cfg.directory && c == b'.' && !self.param {
                match self.decoded_byte() {
                    Step::Byte(b'.') => {
                        let dir = self.pos;
                        if self.decoded_byte() == Step::Byte(b'/') {
                            self.pos = dir;
                            return Step::DirTrav;
                        }
                        self.pos = orig;
                        return Step::Byte(c);
                    }
                    Step::Byte(b'/') => continue,
                    _ => {
                        self.pos = orig;
                        return Step::Byte(c);
                    }
                }
            }
            return Step::Byte(c);
        }
    }
}

/// What `hi_client.c` (`StatelessInspection` with `SetPercentNorm`, `SetSlashNorm`,
/// `SetPlusNorm`, `SetBinaryNorm`, `SetBackSlashNorm`, `SetProxy`, then `hi_client_norm`)
/// decides for a raw URI: where the `http_uri` part starts, and whether it is normalised.
///
/// * Flagged for normalisation: a `%` (`ascii`), a `+`, a byte above 0x7f, a backslash (only with
///   `iis_backslash`), or a `/` followed by `/` (`multi_slash`), `./` or `..` (`directory`).
/// * A `:` before any `/` and followed by `//` is skipped with them (`SetProxy`); when the URI
///   starts with `http` (any case), the part starts at the first `/` after it (`proxy_end`),
///   so `http://host/a` gives `/a`. With no such `/` the whole URI is used.
///
/// `http_uri` is then `raw[start..]` when not flagged, else [`normalize_uri`] of it (or the
/// whole raw URI when that fails).
pub fn uri_scan(raw: &[u8], cfg: UriNorm) -> (usize, bool) {
    let mut flag = false;
    let mut seen_slash = false;
    let mut proxy = false;
    let mut start = 0usize;
    let mut i = 0usize;
    while let Some(&c) = raw.get(i) {
        match c {
            b'%' if cfg.ascii => flag = true,
            b'+' => flag = true,
            b'\\' if cfg.iis_backslash => flag = true,
            0x80..=0xff => flag = true,
            b':' if !seen_slash
                && raw.get(i + 1) == Some(&b'/')
                && raw.get(i + 2) == Some(&b'/') =>
            {
                proxy = raw
                    .get(..4)
                    .is_some_and(|h| h.eq_ignore_ascii_case(b"http"));
                i += 3;
                continue;
            }
            b'/' => {
                if proxy && !seen_slash {
                    start = i;
                }
                seen_slash = true;
                if !flag {
                    // `SetSlashNorm` looks ahead: "//", "/./", "/.." need normalising.
                    i += 1;
                    match raw.get(i) {
                        Some(b'.') if cfg.directory => {
                            i += 1;
                            if matches!(raw.get(i), Some(b'.') | Some(b'/')) {
                                flag = true;
                            }
                        }
                        Some(b'/') if cfg.multi_slash => flag = true,
                        _ => {}
                    }
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    (start, flag)
}

/// Normalises `raw` into `out` (cleared first, at most about `max` bytes) as `hi_norm_uri`
/// does. Returns `true` when `out` is the `http_uri` buffer, `false` when normalisation gave
/// nothing usable and rules see the raw URI instead (`hi_client_norm` falls back the same way).
/// `dirs` is scratch for the directory stack; both vectors are reused across calls.
///
/// # Examples
///
/// ```
/// use nsm_sensor::detect::http::norm::{normalize_uri, UriNorm};
/// let (mut out, mut dirs) = (Vec::new(), Vec::new());
/// assert!(normalize_uri(b"/a//b/./c/../%64?x=/../y", UriNorm::SNORT_DEFAULT, 4096, &mut out, &mut dirs));
/// assert_eq!(out, b"/a/b/d?x=/../y");
/// ```
pub fn normalize_uri(
    raw: &[u8],
    cfg: UriNorm,
    max: usize,
    out: &mut Vec<u8>,
    dirs: &mut Vec<usize>,
) -> bool {
    out.clear();
    // Positions in `out` of the '/' of each tracked directory (`dir_track`).
    dirs.clear();
    let mut d = Decoder {
        cfg,
        src: raw,
        pos: 0,
        decoded: false,
        param: false,
    };
    while out.len() < max {
        d.decoded = false;
        let c = match d.decoded_byte() {
            Step::Byte(c) => c,
            _ => break,
        };
        // Absolute URI: keep "scheme:/" and let the next '/' start the first directory
        // (`InspectUriChar`), so "real_dir://x/../f" cannot fold "real_dir:" away.
        if dirs.is_empty()
            && c == b':'
            && d.pos.checked_add(2).is_some_and(|p| p < raw.len())
            && raw.get(d.pos) == Some(&b'/')
            && raw.get(d.pos.saturating_add(1)) == Some(&b'/')
        {
            if out.len().saturating_add(2) >= max {
                break;
            }
            out.push(c);
            d.pos = d.pos.saturating_add(1);
            continue;
        }
        if c == b'/' {
            match d.dir_norm() {
                Step::DirTrav => {
                    // `DirTrav`: back to the previous directory's slash, or to the start above
                    // the root; the slash is written again on the next turn.
                    match dirs.pop() {
                        Some(at) => out.truncate(at),
                        None => out.clear(),
                    }
                }
                s => {
                    // `DirSet`
                    if !d.param && dirs.len() < MAX_DIRS - 1 {
                        dirs.push(out.len());
                    }
                    out.push(b'/');
                    let Step::Byte(b) = s else {
                        break;
                    };
                    if out.len() >= max {
                        break;
                    }
                    out.push(b);
                }
            }
            continue;
        }
        if c == b'?' && !d.decoded {
            d.param = true;
        }
        out.push(c);
    }
    !out.is_empty() && out.len() <= raw.len()
}
