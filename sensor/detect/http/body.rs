//! Message bodies: framing (Content-Length, chunked, close-delimited) and the gzip/deflate
//! decoder that fills `file_data`. Owns the framing state of one body and the decoding of a
//! bounded compressed buffer; never stores what it skips. Snort 2.9 bounds the compressed input
//! (`compress_depth`) and the output (`decompress_depth`) the same way (`hi_server.c`). Never
//! panics on any bytes: a chunk size above 0xFFFFFFFF or a size line that is not hex ends the
//! body as broken framing, and inflating stops at its bound.

use super::parse::{Charset, Encoding};
use flate2::{Decompress, FlushDecompress, Status};

/// How the body of one message ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length`: bytes left.
    Length(u64),
    /// Until the sender closes (responses without length or chunking).
    Close,
    Chunked(Chunk),
    Done,
}

/// Position inside a chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Reading the hex size (`digits` seen so far).
    Size {
        val: u64,
        digits: u8,
    },
    /// After `;` or blanks: skipping the extension to the line's end.
    Ext {
        val: u64,
    },
    Data(u64),
    /// The CR LF after chunk data.
    DataEnd,
    /// Trailer lines after the zero chunk; `blank` = nothing but CR seen on this line yet.
    Trailer {
        blank: bool,
    },
}

/// One step of framing over `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Bytes of `data` this step used (as sent).
    pub used: usize,
    /// Body payload (dechunked) inside `data[..used]`.
    pub payload: std::ops::Range<usize>,
    /// The chunk framing was broken: the body ends here.
    pub error: bool,
}

const SIZE0: Chunk = Chunk::Size { val: 0, digits: 0 };

impl Framing {
    pub fn chunked() -> Framing {
        Framing::Chunked(SIZE0)
    }

    pub fn done(&self) -> bool {
        matches!(self, Framing::None | Framing::Done)
    }

    /// Advances over a prefix of `data` (non-empty) and says what it held.
    pub fn step(&mut self, data: &[u8]) -> Step {
        let mut st = Step {
            used: 0,
            payload: 0..0,
            error: false,
        };
        match self {
            Framing::None | Framing::Done => {}
            Framing::Length(rem) => {
                let n = (*rem).min(data.len() as u64) as usize;
                *rem -= n as u64;
                st.used = n;
                st.payload = 0..n;
                if *rem == 0 {
                    *self = Framing::Done;
                }
            }
            Framing::Close => {
                st.used = data.len();
                st.payload = 0..data.len();
            }
            Framing::Chunked(c) => {
                let (used, payload, next) = chunk_step(*c, data);
                st.used = used;
                st.payload = payload;
                match next {
                    Ok(Some(c)) => *self = Framing::Chunked(c),
                    Ok(None) => *self = Framing::Done,
                    Err(()) => {
                        *self = Framing::Done;
                        st.error = true;
                    }
                }
            }
        }
        st
    }
}

type ChunkNext = Result<Option<Chunk>, ()>;

fn hexval(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// One chunk-parser step. Data runs are taken whole; framing bytes one at a time.
fn chunk_step(c: Chunk, data: &[u8]) -> (usize, std::ops::Range<usize>, ChunkNext) {
    let Some(&b) = data.first() else {
        return (0, 0..0, Ok(Some(c)));
    };
    let after_size_line = |val: u64| -> ChunkNext {
        Ok(Some(if val == 0 {
            Chunk::Trailer { blank: true }
        } else {
            Chunk::Data(val)
        }))
    };
    let next = match c {
        Chunk::Size { val, digits } => {
            if let Some(d) = hexval(b) {
                let v = (val << 4) | u64::from(d);
                // More than 8 significant hex digits cannot be a real chunk (u32 bound).
                if v > 0xFFFF_FFFF || digits == u8::MAX {
                    Err(())
                } else {
                    Ok(Some(Chunk::Size {
                        val: v,
                        digits: digits + 1,
                    }))
                }
            } else if digits == 0 && (b == b' ' || b == b'\t') {
                Ok(Some(c)) // leading blanks
            } else if digits == 0 {
                Err(())
            } else if b == b'\n' {
                after_size_line(val)
            } else if matches!(b, b';' | b' ' | b'\t' | b'\r') {
                Ok(Some(Chunk::Ext { val }))
            } else {
                Err(())
            }
        }
        Chunk::Ext { val } => {
            // Skip the extension in one go: everything up to the LF.
            return match data.iter().position(|&x| x == b'\n') {
                Some(p) => (p + 1, 0..0, after_size_line(val)),
                None => (data.len(), 0..0, Ok(Some(c))),
            };
        }
        Chunk::Data(rem) => {
            let n = rem.min(data.len() as u64) as usize;
            let left = rem - n as u64;
            let next = if left == 0 {
                Chunk::DataEnd
            } else {
                Chunk::Data(left)
            };
            return (n, 0..n, Ok(Some(next)));
        }
        Chunk::DataEnd => match b {
            b'\r' => Ok(Some(Chunk::DataEnd)),
            b'\n' => Ok(Some(SIZE0)),
            // No CR LF after the data: read this byte as the start of the next size line
            // (lenient), so every step still uses at least one byte.
            _ => return chunk_step(SIZE0, data),
        },
        Chunk::Trailer { blank } => match b {
            b'\n' if blank => Ok(None),
            b'\n' => Ok(Some(Chunk::Trailer { blank: true })),
            b'\r' => Ok(Some(Chunk::Trailer { blank })),
            _ => Ok(Some(Chunk::Trailer { blank: false })),
        },
    };
    (1, 0..0, next)
}

/// Rough size of one inflate state (miniz_oxide: window and tables), for memory accounting.
pub const INFLATER_BYTES: usize = 48 * 1024;

/// Why decoding a compressed body failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    BadGzipHeader,
    Corrupt,
}

/// Decodes the (bounded) compressed body `input` into `out` (cleared) with `d` (reset first,
/// so one state serves every body of a flow), stopping at `max`
/// output bytes so a decompression bomb costs at most `max`. A stream cut short (the body was
/// truncated at its bound) is not an error: what it held is returned. `Deflate` accepts zlib-
/// wrapped and raw streams (servers send both).
pub fn inflate(
    d: &mut Decompress,
    enc: Encoding,
    input: &[u8],
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), InflateError> {
    out.clear();
    let (body, zlib) = match enc {
        Encoding::Identity => {
            out.extend_from_slice(&input[..input.len().min(max)]);
            return Ok(());
        }
        Encoding::Gzip => (
            gzip_payload(input).ok_or(InflateError::BadGzipHeader)?,
            false,
        ),
        Encoding::Deflate => {
            let zlib = match input {
                [cmf, flg, ..] => {
                    cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
                }
                _ => false,
            };
            (input, zlib)
        }
    };
    d.reset(zlib);
    let mut tmp = [0u8; 4096];
    let mut pos = 0usize;
    while out.len() < max {
        let before_in = d.total_in();
        let before_out = d.total_out();
        let rest = body.get(pos..).unwrap_or(&[]);
        let room = (max - out.len()).min(tmp.len());
        let status = d
            .decompress(rest, &mut tmp[..room], FlushDecompress::None)
            .map_err(|_| InflateError::Corrupt)?;
        let used = (d.total_in() - before_in) as usize;
        let made = (d.total_out() - before_out) as usize;
        pos = pos.saturating_add(used);
        out.extend_from_slice(&tmp[..made.min(room)]);
        if status == Status::StreamEnd || (used == 0 && made == 0) {
            break;
        }
    }
    Ok(())
}

/// `normalize_utf` (Snort `util_utf.c` `DecodeUTF`, called from `hi_server.c`): a UTF-16/32
/// body keeps one byte of each code unit (the low one), so ASCII text reads as ASCII. With
/// `Unknown`, a byte-order mark picks the form (and is skipped) when the body has at least 4
/// bytes; otherwise the body is left as it is. Returns `false` when nothing was converted and
/// the caller should use `input`.
pub fn normalize_utf(cs: Charset, input: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let (cs, body) = match cs {
        Charset::Default => return false,
        Charset::Unknown => {
            if input.len() < 4 {
                return false;
            }
            if input.starts_with(b"\x00\x00\xfe\xff") {
                (Charset::Utf32Be, &input[4..])
            } else if input.starts_with(b"\xff\xfe\x00\x00") {
                (Charset::Utf32Le, &input[4..])
            } else if input.starts_with(b"\xfe\xff") {
                (Charset::Utf16Be, &input[2..])
            } else if input.starts_with(b"\xff\xfe") {
                (Charset::Utf16Le, &input[2..])
            } else {
                return false;
            }
        }
        known => (known, input),
    };
    // (unit size, index of the byte kept)
    let (unit, keep) = match cs {
        Charset::Utf16Le => (2, 0),
        Charset::Utf16Be => (2, 1),
        Charset::Utf32Le => (4, 0),
        Charset::Utf32Be => (4, 3),
        Charset::Default | Charset::Unknown => return false,
    };
    out.extend(body.iter().skip(keep).step_by(unit));
    true
}

/// The deflate stream inside a gzip member (RFC 1952 header skipped), or `None` when the
/// header is not gzip's.
fn gzip_payload(b: &[u8]) -> Option<&[u8]> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if b.get(..3)? != [0x1f, 0x8b, 8] {
        return None;
    }
    let flags = *b.get(3)?;
    let mut i = 10usize;
    if flags & FEXTRA != 0 {
        let n = usize::from(*b.get(i)?) | usize::from(*b.get(i + 1)?) << 8;
        i = i.checked_add(2 + n)?;
    }
    for f in [FNAME, FCOMMENT] {
        if flags & f != 0 {
            i = i.checked_add(b.get(i..)?.iter().position(|&c| c == 0)? + 1)?;
        }
    }
    if flags & FHCRC != 0 {
        i = i.checked_add(2)?;
    }
    b.get(i..)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn dechunk(input: &[u8]) -> (Vec<u8>, usize, bool) {
        let mut f = Framing::chunked();
        let mut out = Vec::new();
        let mut at = 0;
        let mut err = false;
        while at < input.len() && !f.done() {
            let s = f.step(&input[at..]);
            out.extend_from_slice(&input[at..][s.payload.clone()]);
            at += s.used;
            err |= s.error;
        }
        (out, at, f.done() && !err)
    }

    #[test]
    fn chunked_table() {
        // input, dechunked, bytes used, finished cleanly
        let cases: &[(&[u8], &[u8], usize, bool)] = &[
            (b"3\r\nabc\r\n0\r\n\r\nNEXT", b"abc", 13, true),
            (
                b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
                b"abcde",
                32,
                true,
            ),
            (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789", 20, true),
            (b"zz\r\n", b"", 1, false),
            (b"1FFFFFFFF\r\n", b"", 9, false),
            (b"3\r\nabc", b"abc", 6, false),
            // Regression: data not followed by CR LF stalled the session (a step using 0 bytes).
            (b"3\r\nabc2\r\nde\r\n0\r\n\r\n", b"abcde", 18, true),
        ];
        for (i, (inp, want, used, clean)) in cases.iter().enumerate() {
            let (got, at, ok) = dechunk(inp);
            assert_eq!((&got[..], at, ok), (*want, *used, *clean), "case {i}");
        }
    }

    #[test]
    fn utf_forms() {
        let mut out = Vec::new();
        assert!(normalize_utf(Charset::Utf16Le, b"<\0h\0i\0>\0", &mut out));
        assert_eq!(out, b"<hi>");
        assert!(normalize_utf(Charset::Utf16Be, b"\0<\0h\0i", &mut out));
        assert_eq!(out, b"<hi");
        assert!(normalize_utf(Charset::Utf32Be, b"\0\0\0a\0\0\0b", &mut out));
        assert_eq!(out, b"ab");
        assert!(normalize_utf(Charset::Utf32Le, b"a\0\0\0b\0\0", &mut out));
        assert_eq!(out, b"ab"); // a cut last unit still gives its first byte
        assert!(normalize_utf(Charset::Unknown, b"\xff\xfeo\0k\0", &mut out));
        assert_eq!(out, b"ok");
        assert!(!normalize_utf(Charset::Unknown, b"plain text", &mut out));
        assert!(!normalize_utf(Charset::Unknown, b"\xff\xfe", &mut out)); // under 4 bytes
        assert!(!normalize_utf(Charset::Default, b"a\0", &mut out));
    }

    #[test]
    fn gzip_deflate_and_bomb() {
        let plain = b"hello hello hello file data".repeat(10);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let mut out = Vec::new();
        let mut d = Decompress::new(false);
        inflate(&mut d, Encoding::Gzip, &gz, 65535, &mut out).unwrap();
        assert_eq!(out, plain);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&plain).unwrap();
        inflate(
            &mut d,
            Encoding::Deflate,
            &z.finish().unwrap(),
            65535,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, plain);
        let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        r.write_all(&plain).unwrap();
        inflate(
            &mut d,
            Encoding::Deflate,
            &r.finish().unwrap(),
            65535,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, plain);
        // 50 MB of zeros compress to ~50 KB; decoding stops at the bound.
        let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        bomb.write_all(&vec![0u8; 50 << 20]).unwrap();
        let bomb = bomb.finish().unwrap();
        inflate(&mut d, Encoding::Gzip, &bomb, 65535, &mut out).unwrap();
        assert_eq!(out.len(), 65535);
        assert_eq!(
            inflate(&mut d, Encoding::Gzip, b"not gzip", 65535, &mut out),
            Err(InflateError::BadGzipHeader)
        );
        let mut broken = gz.clone();
        broken[12] ^= 0xff;
        broken[13] ^= 0xff;
        broken[14] ^= 0xff;
        assert!(inflate(&mut d, Encoding::Gzip, &broken, 65535, &mut out).is_err());
    }
}
