//! The `TCP Options (N) => …` line of `alert_full`: which options Snort 2.9.20 keeps
//! (decode.c `DecodeTCPOptions` with `OptLenValidate`) and how it prints each kind
//! (log_text.c `LogTcpOptions`). Works on the option bytes of an already decoded TCP header;
//! it never decides whether the header itself is valid (that is the decoder's job).
//!
//! Kinds, as Snort 2.9.20 treats them:
//!
//! | kind | decode.c length rule | log_text.c text |
//! |---|---|---|
//! | 0 EOL | 1 byte, counted, ends the walk | `EOL ` |
//! | 1 NOP | 1 byte | `NOP ` |
//! | 2 MSS | exactly 4 | `MSS: V ` |
//! | 3 WS | exactly 3 (a shift over 14 is only a decoder event) | `WS: V ` |
//! | 4 SackOK | exactly 2 | `SackOK ` |
//! | 5 Sack | variable, and must carry data (length > 2) | `Sack: A@B ` (first two 16-bit halves) |
//! | 6 Echo, 7 Echo reply | exactly 6 | `Echo: V `, `Echo Rep: V ` |
//! | 8 TS | exactly 10 | `TS: V E ` |
//! | 11 CC, 12 CC.NEW, 13 CC.ECHO | exactly 6 | `CC V ` (no colon), `CCNEW: V `, `CCECHO: V ` |
//! | 18 trailer checksum | exactly 3 | `Opt 18 (1): HH  ` |
//! | 19 MD5 signature | exactly 18 | `Opt 19 (16): …` |
//! | 29 TCP-AO | variable, at least 4 | `Opt 29 (L): …` |
//! | 34 TFO | variable | `TFO ` (data not shown) |
//! | any other | variable (at least 2) | `Opt K (L): HEX ` or `Opt K ` when L is 0 |
//!
//! A bad option (no length byte, length 0, length below the kind's minimum, a fixed-length
//! kind with another length, or one running past the option area) ends the walk and is not
//! counted; the options before it are kept ("some implementations (BSD and Linux) ignore the
//! bad ones, but accept the good ones"). Nothing else is checked: duplicates, trailing NOPs
//! and the bytes after an EOL are left as they are.

use std::io::Write;

use super::{data_be, opt_len_validate, Opt, MAX_OPTS};

/// How decode.c `DecodeTCPOptions` validates one option kind.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum LenRule {
    /// EOL and NOP: one byte, no length field.
    Single,
    /// `OptLenValidate(.., TCPOLEN_x)`: the length byte must equal this total length.
    Fixed(usize),
    /// `OptLenValidate(.., -1)`: any length from 2 up to what is left.
    Variable,
    /// TCPOPT_SACK: variable, but an option without data is `TCP_OPT_BADLEN`.
    VariableWithData,
    /// TCPOPT_AUTH (RFC 5925 section 2.2): a length byte below 4 is `TCP_OPT_BADLEN`, then
    /// variable.
    AtLeastFour,
}

/// decode.c `DecodeTCPOptions`: the `switch` on the option kind (lengths from decode.h
/// `TCPOLEN_*`).
fn len_rule(kind: u8) -> LenRule {
    match kind {
        0 | 1 => LenRule::Single,
        2 => LenRule::Fixed(4),               // TCPOLEN_MAXSEG
        3 | 18 => LenRule::Fixed(3),          // TCPOLEN_WSCALE, TCPOLEN_TRAILER_CSUM
        4 => LenRule::Fixed(2),               // TCPOLEN_SACKOK
        5 => LenRule::VariableWithData,       // TCPOPT_SACK
        6 | 7 | 11..=13 => LenRule::Fixed(6), // TCPOLEN_ECHO, TCPOLEN_CC
        8 => LenRule::Fixed(10),              // TCPOLEN_TIMESTAMP
        19 => LenRule::Fixed(18),             // TCPOLEN_MD5SIG
        29 => LenRule::AtLeastFour,           // TCPOPT_AUTH
        _ => LenRule::Variable, // TFO (34), experimental, obsolete and unknown kinds alike
    }
}

/// Snort decode.c `DecodeTCPOptions`: fills `buf` with the options Snort keeps and returns
/// their count (`p->tcp_option_count`), at most [`MAX_OPTS`] (`TCP_OPTLENMAX`).
pub(super) fn tcp_options<'a>(opts: &'a [u8], buf: &mut [Option<Opt<'a>>; MAX_OPTS]) -> usize {
    let mut n = 0;
    let mut at = 0;
    while n < MAX_OPTS {
        let Some(&kind) = opts.get(at) else { break };
        let parsed = match len_rule(kind) {
            LenRule::Single => Some((
                Opt {
                    code: kind,
                    len: 0,
                    data: None,
                },
                1,
            )),
            LenRule::Fixed(total) => opt_len_validate(opts, at, Some(total)),
            LenRule::Variable => opt_len_validate(opts, at, None),
            LenRule::VariableWithData => {
                opt_len_validate(opts, at, None).filter(|(o, _)| o.data.is_some())
            }
            LenRule::AtLeastFour => match opts.get(at + 1) {
                Some(&len) if len < 4 => None,
                _ => opt_len_validate(opts, at, None),
            },
        };
        // A bad option: `p->tcp_option_count = opt_count; return;`.
        let Some((opt, skip)) = parsed else { break };
        if let Some(slot) = buf.get_mut(n) {
            *slot = Some(opt);
        }
        n += 1;
        at += skip;
        // EOL: `done = 1`, after it was counted.
        if kind == 0 {
            break;
        }
    }
    n
}

/// Snort log_text.c `LogTcpOptions` (called only when the count is not 0): the line for the
/// TCP option area `opts` (the header bytes after the first 20), or nothing.
pub(super) fn write_tcp_options(out: &mut Vec<u8>, opts: &[u8]) {
    let mut buf = [None; MAX_OPTS];
    let n = tcp_options(opts, &mut buf);
    if n == 0 {
        return;
    }
    let _ = write!(out, "TCP Options ({n}) => ");
    for opt in buf.iter().take(n).flatten() {
        write_one(out, opt);
    }
    out.push(b'\n');
}

/// One option as `LogTcpOptions`' `switch` prints it. Values are read from a zero-filled copy
/// of the data, as Snort's `tmp` buffer, so a short option reads as 0 rather than failing.
fn write_one(out: &mut Vec<u8>, opt: &Opt<'_>) {
    let d = opt.data;
    let _ = match opt.code {
        0 => write!(out, "EOL "),
        1 => write!(out, "NOP "),
        2 => write!(out, "MSS: {} ", data_be(d, 0, 2)),
        3 => write!(out, "WS: {} ", data_be(d, 0, 1)),
        4 => write!(out, "SackOK "),
        // The first SACK block's edges are 32-bit, but Snort prints two 16-bit halves, each
        // only when the data is long enough for it.
        5 => {
            let a = if opt.len >= 2 { data_be(d, 0, 2) } else { 0 };
            let b = if opt.len >= 4 { data_be(d, 2, 2) } else { 0 };
            write!(out, "Sack: {a}@{b} ")
        }
        6 => write!(out, "Echo: {} ", data_be(d, 0, 4)),
        7 => write!(out, "Echo Rep: {} ", data_be(d, 0, 4)),
        8 => write!(out, "TS: {} {} ", data_be(d, 0, 4), data_be(d, 4, 4)),
        11 => write!(out, "CC {} ", data_be(d, 0, 4)),
        12 => write!(out, "CCNEW: {} ", data_be(d, 0, 4)),
        13 => write!(out, "CCECHO: {} ", data_be(d, 0, 4)),
        // TCPOPT_TFO: the name only, whatever the cookie.
        34 => write!(out, "TFO "),
        code if opt.len > 0 => {
            // `Opt %d (%d): ` then `%02X` per byte, a space after every second byte, and one
            // more space at the end (so an even length ends in two spaces).
            let _ = write!(out, "Opt {code} ({}): ", opt.len);
            for j in 0..opt.len {
                let _ = write!(out, "{:02X}", data_be(d, j, 1));
                if (j + 1) % 2 == 0 {
                    out.push(b' ');
                }
            }
            write!(out, " ")
        }
        code => write!(out, "Opt {code} "),
    };
}

#[cfg(test)]
mod tests;
