//! The `pcre` option: its text (`[!]"/expr/flags"`) → a [`Pcre`] compiled by PCRE2 with JIT
//! (Snort 2.9 sp_pcre.c `PcreParse`). Matching is `detect::payload`'s.

use std::sync::Arc;

use super::model::{Buffer, Pcre};

/// A parsed `pcre` before compilation: its expression and flags.
#[derive(Debug, PartialEq, Eq)]
pub struct PcreSpec {
    pub negated: bool,
    pub expr: String,
    pub caseless: bool,
    pub dotall: bool,
    pub multiline: bool,
    pub extended: bool,
    pub anchored: bool,
    pub dollar_endonly: bool,
    pub ungreedy: bool,
    pub relative: bool,
    /// `O`: Snort's override of the configured match limits (none apply).
    pub unlimited: bool,
    /// A buffer flag (`U I P H D M C K S Y`, `B` = packet), if any.
    pub buffer: Option<Buffer>,
}

/// Snort 2.9.20's shipped snort.conf `config pcre_match_limit: 3500` and
/// `config pcre_match_limit_recursion: 1500`: the work one search may do on a hostile packet
/// (PCRE2's own default is 10,000,000 steps). A search that reaches a limit does not match.
pub const PCRE_MATCH_LIMIT: u32 = 3500;
pub const PCRE_DEPTH_LIMIT: u32 = 1500;

/// `pcre:[!]"/expr/flags"` (also `m{delim}expr{delim}`), the text between the quotes kept as
/// written: a regex's backslashes are the regex's (Snort 2.9 sp_pcre.c `PcreParse`).
pub fn parse_pcre(s: &str) -> Result<PcreSpec, String> {
    let t = s.trim();
    let (negated, t) = match t.strip_prefix('!') {
        Some(r) => (true, r.trim_start()),
        None => (false, t),
    };
    let inner = t
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .filter(|_| t.len() >= 2)
        .ok_or("expected a quoted \"/regex/flags\"")?;
    let (body, delim) = match inner.strip_prefix('m') {
        Some(r) => {
            let d = r.chars().next().ok_or("expected a delimiter after 'm'")?;
            (&r[d.len_utf8()..], d)
        }
        None => match inner.strip_prefix('/') {
            Some(r) => (r, '/'),
            None => return Err(format!("expected '/' to start the regex, got '{inner}'")),
        },
    };
    if delim.is_alphanumeric() || delim.is_whitespace() || delim == '\\' {
        return Err(format!("bad delimiter '{delim}'"));
    }
    let end = body
        .rfind(delim)
        .ok_or_else(|| format!("regex not closed, expected a final '{delim}'"))?;
    let (expr, flags) = (&body[..end], &body[end + delim.len_utf8()..]);
    let mut p = PcreSpec {
        negated,
        expr: expr.to_string(),
        caseless: false,
        dotall: false,
        multiline: false,
        extended: false,
        anchored: false,
        dollar_endonly: false,
        ungreedy: false,
        relative: false,
        unlimited: false,
        buffer: None,
    };
    for c in flags.chars() {
        let buf = match c {
            'i' => {
                p.caseless = true;
                None
            }
            's' => {
                p.dotall = true;
                None
            }
            'm' => {
                p.multiline = true;
                None
            }
            'x' => {
                p.extended = true;
                None
            }
            'A' => {
                p.anchored = true;
                None
            }
            'E' => {
                p.dollar_endonly = true;
                None
            }
            'G' => {
                p.ungreedy = true;
                None
            }
            'R' => {
                p.relative = true;
                None
            }
            'O' => {
                p.unlimited = true;
                None
            }
            'U' => Some(Buffer::Uri),
            'I' => Some(Buffer::RawUri),
            'P' => Some(Buffer::ClientBody),
            'H' => Some(Buffer::Header),
            'D' => Some(Buffer::RawHeader),
            'M' => Some(Buffer::Method),
            'C' => Some(Buffer::Cookie),
            'K' => Some(Buffer::RawCookie),
            'S' => Some(Buffer::StatCode),
            'Y' => Some(Buffer::StatMsg),
            'B' => Some(Buffer::Pkt),
            _ => {
                return Err(format!(
                    "unknown regex flag '{c}', expected i s m x A E G R O B U I P H D M C K S Y"
                ))
            }
        };
        if let Some(b) = buf {
            if p.buffer.is_some_and(|x| x != b) {
                return Err(format!(
                    "two buffer flags in one pcre ('{c}' after another), expected at most one"
                ));
            }
            p.buffer = Some(b);
        }
    }
    if p.relative && p.buffer.is_some_and(Buffer::is_http) {
        // sp_pcre.c `PcreParse`: "both relative & uri options specified".
        return Err(
            "'R' (relative) with an HTTP buffer flag: an HTTP buffer pcre searches its whole buffer, expected one of them"
                .into(),
        );
    }
    Ok(p)
}

/// Compiles a [`PcreSpec`] with JIT when available. Flags PCRE2 has no builder switch for
/// are written into the expression: `G` as a leading `(?U)`; `A` as `\G(?:…)` (anchored where
/// the search starts: the buffer's start, or the cursor with `R`); `E` (outside `m` mode,
/// where PCRE ignores it anyway) by turning each `$` outside a class into `\z`.
///
/// # Errors
/// PCRE2's compile error, with its offset in the expression.
pub fn compile_pcre(p: &PcreSpec, source: &str, buffer: Buffer) -> Result<Pcre, String> {
    let mut expr = if p.dollar_endonly && !p.multiline {
        dollar_to_end(&p.expr)
    } else {
        p.expr.clone()
    };
    if p.anchored {
        // A newline ends an `x`-mode comment the expression may end in before our `)`.
        let nl = if p.extended { "\n" } else { "" };
        expr = format!("\\G(?:{expr}{nl})");
    }
    if p.ungreedy {
        expr = format!("(?U){expr}");
    }
    if !p.unlimited {
        // Start-of-pattern settings: before anything else, the expression's own included.
        expr = format!("(*LIMIT_MATCH={PCRE_MATCH_LIMIT})(*LIMIT_DEPTH={PCRE_DEPTH_LIMIT}){expr}");
    }
    let regex = pcre2::bytes::RegexBuilder::new()
        .caseless(p.caseless)
        .dotall(p.dotall)
        .multi_line(p.multiline)
        .extended(p.extended)
        .jit_if_available(true)
        .build(&expr)
        .map_err(|e| format!("regex does not compile: {e}"))?;
    Ok(Pcre {
        source: source.to_string(),
        regex: Arc::new(regex),
        negated: p.negated,
        relative: p.relative,
        anchored: p.anchored,
        buffer,
    })
}

/// `$` → `\z` outside character classes and escapes.
fn dollar_to_end(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len() + 4);
    let mut chars = expr.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` first in a class (after an optional `^`) is a literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '$' if !in_class => out.push_str("\\z"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_endonly_rewrite() {
        assert_eq!(dollar_to_end("a$"), "a\\z");
        assert_eq!(dollar_to_end("a\\$[$]b$"), "a\\$[$]b\\z");
        assert_eq!(dollar_to_end("[]$]$"), "[]$]\\z");
    }

    #[test]
    fn pcre_forms() {
        let p = parse_pcre(r#""/a\"b;c/smiR""#).unwrap();
        assert_eq!(p.expr, r#"a\"b;c"#);
        assert!(p.dotall && p.multiline && p.caseless && p.relative && !p.negated);
        let p = parse_pcre(r#"!"m#x/y#U""#).unwrap();
        assert!(p.negated);
        assert_eq!((p.expr.as_str(), p.buffer), ("x/y", Some(Buffer::Uri)));
        for bad in [r#""abc/""#, r#""/abc""#, r#""/a/q""#, r#""/a/UH""#, "/a/"] {
            assert!(parse_pcre(bad).is_err(), "{bad}");
        }
    }

    /// Snort's shipped match limits stop catastrophic backtracking at once, but not a long
    /// scan: the limit is on the work at each start position, so a match 65,000 bytes in is
    /// still found. `O` lifts them.
    #[test]
    fn match_limits_stop_backtracking_not_long_scans() {
        let compile = |s: &str| {
            compile_pcre(&parse_pcre(s).unwrap(), s, Buffer::Pkt)
                .unwrap()
                .regex
        };
        let digits = compile("\"/[0-9]+XYZ/\"");
        let mut hay: Vec<u8> = (0..65_000u32)
            .map(|i| if i % 3 == 0 { b'1' } else { b'b' })
            .collect();
        hay.extend_from_slice(b"12XYZ");
        assert_eq!(
            digits.find_at(&hay, 0).unwrap().map(|m| m.start()),
            Some(65_000)
        );
        let evil = [b"a".repeat(40), b"!".to_vec()].concat();
        let nested = compile("\"/(a+)+$/\"");
        assert!(nested.find_at(&evil, 0).is_err(), "limit reached");
        // With `O`, PCRE2's own limit (10,000,000) applies: a shorter run completes.
        let lifted = compile("\"/(a+)+$/O\"");
        let short = [b"a".repeat(12), b"!".to_vec()].concat();
        assert!(
            nested.find_at(&short, 0).is_err(),
            "{:?}",
            nested.find_at(&short, 0)
        );
        assert_eq!(lifted.find_at(&short, 0).ok(), Some(None));
    }
}
