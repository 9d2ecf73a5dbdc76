//! Address and port expressions of a rule header (`[a,b/cidr,!c,$VAR,[nested]]`, `any`,
//! `a:b`, …) → normalised [`AddrSet`] / [`PortSet`], with variables expanded.
//!
//! Snort 2.9 semantics (sfip/sf_ipvar.c, sfportobject.c): a list is the union of its positive
//! members minus the union of its negated members; a list with only negations is `any` minus
//! them; `!X` on its own is the complement of `X`. Errors carry a byte offset into the text
//! they were given so the caller can turn it into line:col.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::model::{AddrSet, PortSet};

/// A parse error at a byte offset of the expression's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        offset,
        message: message.into(),
    })
}

/// Variables visible to a rule: name (without `$`) → value text.
pub type Vars = BTreeMap<String, String>;

/// Nesting limit for brackets and variable references (a variable naming itself loops).
const MAX_DEPTH: u32 = 32;

/// Integer types a range set can be made of.
pub trait Bound: Copy + Ord {
    const MIN: Self;
    const MAX: Self;
    fn inc(self) -> Self;
    fn dec(self) -> Self;
}

macro_rules! bound {
    ($t:ty) => {
        impl Bound for $t {
            const MIN: Self = 0;
            const MAX: Self = <$t>::MAX;
            fn inc(self) -> Self {
                self.saturating_add(1)
            }
            fn dec(self) -> Self {
                self.saturating_sub(1)
            }
        }
    };
}
bound!(u16);
bound!(u32);
bound!(u128);

/// Sorts and merges overlapping or adjacent inclusive ranges.
pub fn normalise<T: Bound>(ranges: &mut Vec<(T, T)>) {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for &(s, e) in ranges.iter() {
        match out.last_mut() {
            Some(last) if last.1 == T::MAX || s <= last.1.inc() => {
                if e > last.1 {
                    last.1 = e;
                }
            }
            _ => out.push((s, e)),
        }
    }
    *ranges = out;
}

/// The complement of normalised ranges.
pub fn complement<T: Bound>(ranges: &[(T, T)]) -> Vec<(T, T)> {
    let mut out = Vec::with_capacity(ranges.len() + 1);
    let mut next = Some(T::MIN);
    for &(s, e) in ranges {
        if let Some(n) = next {
            if s > n {
                out.push((n, s.dec()));
            }
        }
        next = if e == T::MAX { None } else { Some(e.inc()) };
    }
    if let Some(n) = next {
        out.push((n, T::MAX));
    }
    out
}

/// `a` minus `b`, both normalised.
pub fn subtract<T: Bound>(a: &[(T, T)], b: &[(T, T)]) -> Vec<(T, T)> {
    if b.is_empty() {
        return a.to_vec();
    }
    let nb = complement(b);
    intersect(a, &nb)
}

/// Intersection of two normalised range lists.
pub fn intersect<T: Bound>(a: &[(T, T)], b: &[(T, T)]) -> Vec<(T, T)> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let s = a[i].0.max(b[j].0);
        let e = a[i].1.min(b[j].1);
        if s <= e {
            out.push((s, e));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Un-normalised address ranges collected while walking a list.
#[derive(Default)]
struct RawAddrs {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl RawAddrs {
    fn extend(&mut self, set: AddrSet) {
        self.v4.extend(set.v4);
        self.v6.extend(set.v6);
    }
    fn finish(mut self) -> AddrSet {
        normalise(&mut self.v4);
        normalise(&mut self.v6);
        AddrSet {
            v4: self.v4,
            v6: self.v6,
        }
    }
}

fn addr_complement(s: &AddrSet) -> AddrSet {
    AddrSet {
        v4: complement(&s.v4),
        v6: complement(&s.v6),
    }
}

fn addr_subtract(a: &AddrSet, b: &AddrSet) -> AddrSet {
    AddrSet {
        v4: subtract(&a.v4, &b.v4),
        v6: subtract(&a.v6, &b.v6),
    }
}

/// Parses an address expression. `base` is added to every error offset (the expression's
/// position in the rule text).
///
/// # Errors
/// Bad addresses or prefixes, unbalanced brackets, unknown or looping variables, `!any`.
pub fn parse_addr(text: &str, base: usize, vars: &Vars) -> Result<AddrSet, ExprError> {
    let mut p = Cursor {
        s: text.as_bytes(),
        pos: 0,
        base,
    };
    let set = addr_item(&mut p, vars, 0)?;
    p.skip_ws();
    if p.pos < p.s.len() {
        let what = if p.s[p.pos] == b']' {
            "unbalanced ']'"
        } else {
            "unexpected text"
        };
        return err(
            base + p.pos,
            format!("{what} after address, expected end of address"),
        );
    }
    Ok(set)
}

/// Parses a port expression (`any`, `n`, `a:b`, `:b`, `a:`, `[..]`, `!`, `$VAR`).
///
/// # Errors
/// Numbers above 65535, reversed ranges, unbalanced brackets, unknown variables.
pub fn parse_ports(text: &str, base: usize, vars: &Vars) -> Result<PortSet, ExprError> {
    let mut p = Cursor {
        s: text.as_bytes(),
        pos: 0,
        base,
    };
    let mut set = port_item(&mut p, vars, 0)?;
    p.skip_ws();
    if p.pos < p.s.len() {
        let what = if p.s[p.pos] == b']' {
            "unbalanced ']'"
        } else {
            "unexpected text"
        };
        return err(
            base + p.pos,
            format!("{what} after port, expected end of port list"),
        );
    }
    normalise(&mut set);
    Ok(PortSet { ranges: set })
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
    base: usize,
}

impl Cursor<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
    fn at(&self) -> usize {
        self.base + self.pos
    }
    /// A run of bytes up to a list delimiter.
    fn word(&mut self) -> &str {
        let start = self.pos;
        while self.pos < self.s.len() && !matches!(self.s[self.pos], b',' | b']' | b'[') {
            if self.s[self.pos].is_ascii_whitespace() {
                break;
            }
            self.pos += 1;
        }
        // The slice ends on ASCII delimiters, so it is valid UTF-8 whenever the input is.
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("")
    }
}

fn lookup<'v>(vars: &'v Vars, name: &str, at: usize) -> Result<&'v str, ExprError> {
    match vars.get(name) {
        Some(v) => Ok(v.as_str()),
        None => err(at, format!("unknown variable ${name}")),
    }
}

fn addr_item(p: &mut Cursor, vars: &Vars, depth: u32) -> Result<AddrSet, ExprError> {
    if depth > MAX_DEPTH {
        return err(
            p.at(),
            "addresses nested too deeply (a variable refers to itself?)",
        );
    }
    p.skip_ws();
    let start = p.at();
    let negated = p.peek() == Some(b'!');
    if negated {
        p.pos += 1;
        p.skip_ws();
    }
    let set = match p.peek() {
        Some(b'[') => {
            p.pos += 1;
            let mut pos = RawAddrs::default();
            let mut neg = RawAddrs::default();
            let mut any_positive = false;
            loop {
                p.skip_ws();
                let item_neg = p.peek() == Some(b'!');
                let item = addr_item(p, vars, depth + 1)?;
                if item_neg {
                    // `!x` inside a list: subtract x (the item came back complemented).
                    neg.extend(addr_complement(&item));
                } else {
                    any_positive = true;
                    pos.extend(item);
                }
                p.skip_ws();
                match p.peek() {
                    Some(b',') => p.pos += 1,
                    Some(b']') => {
                        p.pos += 1;
                        break;
                    }
                    _ => return err(p.at(), "expected ',' or ']' in address list"),
                }
            }
            let pos = if any_positive {
                pos.finish()
            } else {
                AddrSet::any()
            };
            addr_subtract(&pos, &neg.finish())
        }
        Some(b'$') => {
            p.pos += 1;
            let name = p.word().to_string();
            let value = lookup(vars, &name, start)?;
            let mut inner = Cursor {
                s: value.as_bytes(),
                pos: 0,
                base: start,
            };
            let set = addr_item(&mut inner, vars, depth + 1).map_err(|e| ExprError {
                offset: start,
                message: format!("in ${name}: {}", e.message),
            })?;
            inner.skip_ws();
            if inner.pos < inner.s.len() {
                return err(start, format!("in ${name}: unexpected text after address"));
            }
            set
        }
        Some(b) if b != b',' && b != b']' => {
            let at = p.at();
            let w = p.word();
            single_addr(w, at)?
        }
        _ => return err(p.at(), "expected an address, 'any', '$VAR' or '['"),
    };
    if negated {
        if set.is_any() {
            return err(start, "'!any' matches nothing");
        }
        Ok(addr_complement(&set))
    } else {
        Ok(set)
    }
}

/// One address: `any`, `a.b.c.d[/n]`, an IPv6 address `[/n]`.
fn single_addr(w: &str, at: usize) -> Result<AddrSet, ExprError> {
    if w.eq_ignore_ascii_case("any") {
        return Ok(AddrSet::any());
    }
    let (ip, prefix) = match w.split_once('/') {
        Some((ip, pfx)) => (ip, Some(pfx)),
        None => (w, None),
    };
    let parse_prefix = |max: u32| -> Result<u32, ExprError> {
        match prefix {
            None => Ok(max),
            Some(p) => match p.parse::<u32>() {
                Ok(n) if n <= max && !p.starts_with('+') => Ok(n),
                _ => err(
                    at + ip.len() + 1,
                    format!("bad CIDR prefix '/{p}', expected /0 to /{max}"),
                ),
            },
        }
    };
    if let Ok(a) = ip.parse::<Ipv4Addr>() {
        let n = parse_prefix(32)?;
        let mask = if n == 0 { 0 } else { u32::MAX << (32 - n) };
        let s = u32::from(a) & mask;
        return Ok(AddrSet {
            v4: vec![(s, s | !mask)],
            v6: Vec::new(),
        });
    }
    if ip.contains(':') {
        if let Ok(a) = ip.parse::<Ipv6Addr>() {
            let n = parse_prefix(128)?;
            let mask = if n == 0 { 0 } else { u128::MAX << (128 - n) };
            let s = u128::from(a) & mask;
            return Ok(AddrSet {
                v4: Vec::new(),
                v6: vec![(s, s | !mask)],
            });
        }
    }
    err(
        at,
        format!(
            "bad address '{w}', expected an IPv4 or IPv6 address, CIDR, 'any', '$VAR' or a list"
        ),
    )
}

fn port_item(p: &mut Cursor, vars: &Vars, depth: u32) -> Result<Vec<(u16, u16)>, ExprError> {
    if depth > MAX_DEPTH {
        return err(
            p.at(),
            "ports nested too deeply (a variable refers to itself?)",
        );
    }
    p.skip_ws();
    let start = p.at();
    let negated = p.peek() == Some(b'!');
    if negated {
        p.pos += 1;
        p.skip_ws();
    }
    let mut set = match p.peek() {
        Some(b'[') => {
            p.pos += 1;
            let mut pos = Vec::new();
            let mut neg = Vec::new();
            let mut any_positive = false;
            loop {
                p.skip_ws();
                let item_neg = p.peek() == Some(b'!');
                let item = port_item(p, vars, depth + 1)?;
                if item_neg {
                    neg.extend(complement(&item));
                } else {
                    any_positive = true;
                    pos.extend(item);
                }
                p.skip_ws();
                match p.peek() {
                    Some(b',') => p.pos += 1,
                    Some(b']') => {
                        p.pos += 1;
                        break;
                    }
                    _ => return err(p.at(), "expected ',' or ']' in port list"),
                }
            }
            let pos = if any_positive {
                normalise(&mut pos);
                pos
            } else {
                vec![(0, u16::MAX)]
            };
            normalise(&mut neg);
            subtract(&pos, &neg)
        }
        Some(b'$') => {
            p.pos += 1;
            let name = p.word().to_string();
            let value = lookup(vars, &name, start)?;
            let mut inner = Cursor {
                s: value.as_bytes(),
                pos: 0,
                base: start,
            };
            let set = port_item(&mut inner, vars, depth + 1).map_err(|e| ExprError {
                offset: start,
                message: format!("in ${name}: {}", e.message),
            })?;
            inner.skip_ws();
            if inner.pos < inner.s.len() {
                return err(start, format!("in ${name}: unexpected text after port"));
            }
            set
        }
        Some(b) if b != b',' && b != b']' => {
            let at = p.at();
            let w = p.word();
            vec![single_port(w, at)?]
        }
        _ => return err(p.at(), "expected a port, range, 'any', '$VAR' or '['"),
    };
    normalise(&mut set);
    if negated {
        let c = complement(&set);
        if c.is_empty() {
            return err(start, "'!any' matches no port");
        }
        Ok(c)
    } else {
        Ok(set)
    }
}

fn port_num(s: &str, at: usize) -> Result<u16, ExprError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return err(at, format!("bad port '{s}', expected a number 0 to 65535"));
    }
    match s.parse::<u16>() {
        Ok(n) => Ok(n),
        Err(_) => err(at, format!("port {s} out of range, expected 0 to 65535")),
    }
}

/// `any`, `n`, `a:b`, `:b`, `a:`.
fn single_port(w: &str, at: usize) -> Result<(u16, u16), ExprError> {
    if w.eq_ignore_ascii_case("any") {
        return Ok((0, u16::MAX));
    }
    match w.split_once(':') {
        None => {
            let n = port_num(w, at)?;
            Ok((n, n))
        }
        Some((a, b)) => {
            if a.is_empty() && b.is_empty() {
                return err(at, "bad port range ':', expected a:b, :b or a:");
            }
            let lo = if a.is_empty() { 0 } else { port_num(a, at)? };
            let hi = if b.is_empty() {
                u16::MAX
            } else {
                port_num(b, at + a.len() + 1)?
            };
            if lo > hi {
                return err(at, format!("port range {w} is reversed, expected low:high"));
            }
            Ok((lo, hi))
        }
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table tests: one tuple per case
mod tests {
    use super::*;

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    fn vars() -> Vars {
        let mut v = Vars::new();
        v.insert("HOME_NET".into(), "[192.168.0.0/16,10.0.0.0/8]".into());
        v.insert("LOOP".into(), "$LOOP".into());
        v.insert("HTTP_PORTS".into(), "[80,8080]".into());
        v
    }

    #[test]
    fn address_forms() {
        let vars = vars();
        let cases: &[(&str, Vec<(u32, u32)>, usize)] = &[
            // text, v4 ranges, number of v6 ranges
            ("1.2.3.4", vec![(v4("1.2.3.4"), v4("1.2.3.4"))], 0),
            ("1.2.3.0/24", vec![(v4("1.2.3.0"), v4("1.2.3.255"))], 0),
            ("1.2.3.9/24", vec![(v4("1.2.3.0"), v4("1.2.3.255"))], 0),
            ("[1.2.3.5,1.2.3.4]", vec![(v4("1.2.3.4"), v4("1.2.3.5"))], 0),
            (
                "[10.0.0.0/8,!10.1.0.0/16]",
                vec![
                    (v4("10.0.0.0"), v4("10.0.255.255")),
                    (v4("10.2.0.0"), v4("10.255.255.255")),
                ],
                0,
            ),
            ("!0.0.0.0/1", vec![(v4("128.0.0.0"), u32::MAX)], 1),
            ("[!0.0.0.0/1]", vec![(v4("128.0.0.0"), u32::MAX)], 1),
            (
                "$HOME_NET",
                vec![
                    (v4("10.0.0.0"), v4("10.255.255.255")),
                    (v4("192.168.0.0"), v4("192.168.255.255")),
                ],
                0,
            ),
            (
                "[[1.1.1.1],[2.2.2.2, 3.3.3.3]]",
                vec![
                    (v4("1.1.1.1"), v4("1.1.1.1")),
                    (v4("2.2.2.2"), v4("2.2.2.2")),
                    (v4("3.3.3.3"), v4("3.3.3.3")),
                ],
                0,
            ),
            ("::1", vec![], 1),
            ("2001:db8::/32", vec![], 1),
            ("[::,1.1.1.1]", vec![(v4("1.1.1.1"), v4("1.1.1.1"))], 1),
            ("any", vec![(0, u32::MAX)], 1),
        ];
        for (text, want4, n6) in cases {
            let got = parse_addr(text, 0, &vars).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(&got.v4, want4, "{text}");
            assert_eq!(got.v6.len(), *n6, "{text}");
        }
        let six = parse_addr("2001:db8::/32", 0, &vars).unwrap();
        assert_eq!(six.v6[0].0, 0x2001_0db8_u128 << 96);
        assert_eq!(six.v6[0].1, (0x2001_0db8_u128 << 96) | (u128::MAX >> 32));
    }

    #[test]
    fn address_errors() {
        let vars = vars();
        let cases: &[(&str, usize, &str)] = &[
            ("1.2.3.4/33", 8, "bad CIDR"),
            ("[1.2.3.4", 8, "expected ',' or ']'"),
            ("1.2.3.4]", 7, "unbalanced"),
            ("$NOPE", 0, "unknown variable $NOPE"),
            ("[1.1.1.1,$NOPE]", 9, "unknown variable"),
            ("$LOOP", 0, "nested too deeply"),
            ("1.2.3", 0, "bad address"),
            ("!any", 0, "'!any'"),
            ("::1/129", 4, "bad CIDR"),
            ("", 0, "expected an address"),
        ];
        for (text, off, msg) in cases {
            let e = parse_addr(text, 0, &vars).unwrap_err();
            assert!(e.message.contains(msg), "{text}: {e:?}");
            assert_eq!(e.offset, *off, "{text}: {e:?}");
        }
    }

    #[test]
    fn port_forms() {
        let vars = vars();
        let cases: &[(&str, Vec<(u16, u16)>)] = &[
            ("any", vec![(0, 65535)]),
            ("80", vec![(80, 80)]),
            ("1:1024", vec![(1, 1024)]),
            (":1024", vec![(0, 1024)]),
            ("1024:", vec![(1024, 65535)]),
            ("!80", vec![(0, 79), (81, 65535)]),
            (
                "[80,443,8000:8080]",
                vec![(80, 80), (443, 443), (8000, 8080)],
            ),
            ("[1:100,!50]", vec![(1, 49), (51, 100)]),
            ("[!80]", vec![(0, 79), (81, 65535)]),
            ("$HTTP_PORTS", vec![(80, 80), (8080, 8080)]),
            (
                "[$HTTP_PORTS,110]",
                vec![(80, 80), (110, 110), (8080, 8080)],
            ),
        ];
        for (text, want) in cases {
            let got = parse_ports(text, 0, &vars).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(&got.ranges, want, "{text}");
        }
        for bad in [
            "65536",
            "10:5",
            "[80",
            "x",
            ":",
            "99999999999999999999",
            "!any",
            "$NOPE",
        ] {
            assert!(parse_ports(bad, 0, &vars).is_err(), "{bad}");
        }
    }
}
