//! The value syntax of rule options: numbers, quoted strings, comparisons, `threshold`,
//! `detection_filter`, `flowbits`, `flow`, `flags`, `fragbits`, `tag`, and rough checks of
//! tier-3 options. Pure functions from option text to typed values; which option uses which is
//! `options`' business.

use super::model::*;
use super::options::FlowbitNames;

pub fn need<'v>(v: Option<&'v str>, what: &str) -> Result<&'v str, String> {
    match v {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(format!("expected {what}")),
    }
}

/// A decimal (or `0x` hex) number that fits in u32.
pub fn number(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let parsed = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            None
        } else {
            Some(u32::from_str_radix(h, 16))
        }
    } else if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        None
    } else {
        Some(t.parse::<u32>())
    };
    match parsed {
        Some(Ok(n)) => Ok(n),
        Some(Err(_)) => Err(format!(
            "number '{t}' too large, expected at most 4294967295"
        )),
        None => Err(format!("expected a number, got '{t}'")),
    }
}

pub fn signed(s: &str) -> Result<i32, String> {
    let t = s.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected a number, got '{t}'"));
    }
    match digits.parse::<i64>() {
        Ok(n) if n <= i64::from(i32::MAX) => Ok(if neg { -(n as i32) } else { n as i32 }),
        _ => Err(format!(
            "number '{t}' out of range, expected -2147483648 to 2147483647"
        )),
    }
}

/// Removes the quotes of `"..."` and Snort's escapes (`\"`, `\\`, `\;`, `\:`).
pub fn unquote(s: &str) -> Result<String, String> {
    let inner = match s.strip_prefix('"') {
        Some(r) => r
            .strip_suffix('"')
            .ok_or_else(|| "unterminated quoted string, expected '\"'".to_string())?,
        None => s,
    };
    let mut out = String::with_capacity(inner.len());
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(n @ ('"' | '\\' | ';' | ':')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => return Err("dangling '\\' at the end of the string".into()),
            }
        } else if c == '"' {
            return Err("unescaped '\"' inside the string, expected '\\\"'".into());
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Numeric comparisons: `N`, `!N`, `<N`, `>N`, `<=N`, `>=N`, `=N`, `N<>M` (exclusive),
/// `N<=>M`, `N-M` (inclusive), `-N`, `N-` (Snort 2.9 sp_ttl_check.c, sp_icmp_type_check.c).
pub fn cmp(s: &str, max: u32) -> Result<Cmp, String> {
    let t = s.trim();
    let n = |x: &str| -> Result<u32, String> {
        let v = number(x)?;
        if v > max {
            return Err(format!("{v} out of range, expected at most {max}"));
        }
        Ok(v)
    };
    let r = if let Some((a, b)) = t.split_once("<=>") {
        let (a, b) = (n(a)?, n(b)?);
        if a > b {
            return Err(format!("range {t} is reversed"));
        }
        Cmp::BetweenIncl(a, b)
    } else if let Some((a, b)) = t.split_once("<>") {
        let (a, b) = (n(a)?, n(b)?);
        if a > b {
            return Err(format!("range {t} is reversed"));
        }
        Cmp::Between(a, b)
    } else if let Some(x) = t.strip_prefix("<=") {
        Cmp::Le(n(x)?)
    } else if let Some(x) = t.strip_prefix(">=") {
        Cmp::Ge(n(x)?)
    } else if let Some(x) = t.strip_prefix('<') {
        Cmp::Lt(n(x)?)
    } else if let Some(x) = t.strip_prefix('>') {
        Cmp::Gt(n(x)?)
    } else if let Some(x) = t.strip_prefix('!') {
        Cmp::Ne(n(x)?)
    } else if let Some(x) = t.strip_prefix('=') {
        Cmp::Eq(n(x)?)
    } else if let Some(x) = t.strip_prefix('-') {
        Cmp::Le(n(x)?)
    } else if let Some(x) = t.strip_suffix('-') {
        Cmp::Ge(n(x)?)
    } else if let Some((a, b)) = t.split_once('-') {
        let (a, b) = (n(a)?, n(b)?);
        if a > b {
            return Err(format!("range {t} is reversed"));
        }
        Cmp::BetweenIncl(a, b)
    } else {
        Cmp::Eq(n(t)?)
    };
    Ok(r)
}

/// `dsize`: like [`cmp`], except that Snort 2.9's `N<>M` is inclusive here
/// (sp_dsize_check.c `DSIZE_RANGE`: `dsize <= p->dsize && dsize2 >= p->dsize`), while
/// `itype`/`icode` ranges are exclusive (sp_icmp_type_check.c).
pub fn dsize(s: &str) -> Result<Cmp, String> {
    Ok(match cmp(s, 65535)? {
        Cmp::Between(a, b) => Cmp::BetweenIncl(a, b),
        other => other,
    })
}

pub fn ip_proto(s: &str) -> Result<Cmp, String> {
    let t = s.trim();
    let (prefix, name) = match t.as_bytes().first() {
        Some(b'!' | b'<' | b'>') => t.split_at(1),
        _ => ("", t),
    };
    let num = match name.to_ascii_lowercase().as_str() {
        "icmp" => Some(1),
        "igmp" => Some(2),
        "ipip" => Some(4),
        "tcp" => Some(6),
        "egp" => Some(8),
        "udp" => Some(17),
        "ipv6" => Some(41),
        "gre" => Some(47),
        "esp" => Some(50),
        "ah" => Some(51),
        "icmpv6" | "ipv6-icmp" => Some(58),
        "ospf" => Some(89),
        "pim" => Some(103),
        "sctp" => Some(132),
        _ => None,
    };
    match num {
        Some(n) => cmp(&format!("{prefix}{n}"), 255),
        None => cmp(t, 255),
    }
}

/// `type limit|threshold|both, track by_src|by_dst, count N, seconds N` in any order.
pub fn parse_threshold(s: &str) -> Result<Threshold, String> {
    let kv = parse_kv(s, &["type", "track", "count", "seconds"])?;
    let kind = match kv[0].as_deref().unwrap_or("") {
        "limit" => ThresholdKind::Limit,
        "threshold" => ThresholdKind::Threshold,
        "both" => ThresholdKind::Both,
        other => {
            return Err(format!(
                "bad type '{other}', expected limit, threshold or both"
            ))
        }
    };
    Ok(Threshold {
        kind,
        track: track(kv[1].as_deref().unwrap_or(""), false)?,
        count: number(kv[2].as_deref().unwrap_or(""))?,
        seconds: number(kv[3].as_deref().unwrap_or(""))?,
    })
}

/// `by_src`, `by_dst` (and `by_rule` where allowed).
pub fn track(s: &str, allow_rule: bool) -> Result<Track, String> {
    match s {
        "by_src" => Ok(Track::BySrc),
        "by_dst" => Ok(Track::ByDst),
        "by_rule" if allow_rule => Ok(Track::ByRule),
        other if allow_rule => Err(format!(
            "bad track '{other}', expected by_src, by_dst or by_rule"
        )),
        other => Err(format!("bad track '{other}', expected by_src or by_dst")),
    }
}

/// Comma-separated `key value` pairs; every key of `keys` required once, no others.
pub fn parse_kv(s: &str, keys: &[&str]) -> Result<Vec<Option<String>>, String> {
    let mut out: Vec<Option<String>> = vec![None; keys.len()];
    for part in s.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(format!("empty field, expected {}", keys.join(", ")));
        }
        let mut words = part.split_whitespace();
        let k = words.next().unwrap_or("");
        let v = words.next();
        if words.next().is_some() {
            return Err(format!("'{part}' has extra words, expected 'key value'"));
        }
        let Some(i) = keys.iter().position(|x| *x == k) else {
            return Err(format!("unknown field '{k}', expected {}", keys.join(", ")));
        };
        let Some(v) = v else {
            return Err(format!("'{k}' needs a value"));
        };
        if out[i].is_some() {
            return Err(format!("'{k}' given twice"));
        }
        out[i] = Some(v.to_string());
    }
    if let Some(i) = out.iter().position(Option::is_none) {
        return Err(format!("missing '{}'", keys[i]));
    }
    Ok(out)
}

pub fn parse_flowbits(s: &str, names: &mut FlowbitNames) -> Result<FlowbitsOp, String> {
    let mut parts = s.split(',').map(str::trim);
    let cmd_s = parts.next().unwrap_or("");
    let cmd = match cmd_s {
        "set" | "setx" => FlowbitsCmd::Set,
        "unset" => FlowbitsCmd::Unset,
        "toggle" => FlowbitsCmd::Toggle,
        "isset" => FlowbitsCmd::IsSet,
        "isnotset" => FlowbitsCmd::IsNotSet,
        "noalert" => FlowbitsCmd::NoAlert,
        "reset" => FlowbitsCmd::Reset,
        other => {
            return Err(format!(
            "bad command '{other}', expected set, unset, toggle, isset, isnotset, noalert or reset"
        ))
        }
    };
    let bits_s = parts.next();
    let group = parts.next();
    if parts.next().is_some() {
        return Err("too many fields, expected 'command,name[,group]'".into());
    }
    if let Some(g) = group {
        if !valid_bit_name(g) {
            return Err(format!("bad group name '{g}'"));
        }
    }
    let mut op = FlowbitsOp {
        cmd,
        bits: Vec::new(),
        join: BitsJoin::All,
    };
    match (cmd, bits_s) {
        (FlowbitsCmd::NoAlert, Some(_)) => return Err("'noalert' takes no name".into()),
        (FlowbitsCmd::NoAlert | FlowbitsCmd::Reset, _) => return Ok(op),
        (_, None) | (_, Some("")) => return Err(format!("'{cmd_s}' needs a flowbit name")),
        (_, Some(b)) => {
            let (list, join): (Vec<&str>, _) = if b.contains('|') && b.contains('&') {
                return Err("cannot mix '|' and '&' in one flowbits option".into());
            } else if b.contains('|') {
                (b.split('|').collect(), BitsJoin::Any)
            } else {
                (b.split('&').collect(), BitsJoin::All)
            };
            for name in list {
                let name = name.trim();
                if !valid_bit_name(name) {
                    return Err(format!(
                        "bad flowbit name '{name}', expected letters, digits, '_', '.' or '-'"
                    ));
                }
                op.bits.push(names.intern(name)?);
            }
            op.join = join;
        }
    }
    Ok(op)
}

fn valid_bit_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `flow:` keywords. Returns the test and the first keyword this sensor does not implement
/// (`only_frag`, `no_frag`: IP fragments are not reassembled, so "a rebuilt fragment" has no
/// meaning here yet).
pub fn parse_flow(s: &str) -> Result<(FlowTest, Option<String>), String> {
    let mut f = FlowTest::default();
    let mut extra = None;
    for w in s.split(',').map(str::trim) {
        let set_dir = |f: &mut FlowTest, d: FlowDir| -> Result<(), String> {
            if f.dir.is_some_and(|x| x != d) {
                return Err(format!("'{w}' conflicts with an earlier direction"));
            }
            f.dir = Some(d);
            Ok(())
        };
        match w {
            "to_server" | "from_client" => set_dir(&mut f, FlowDir::ToServer)?,
            "to_client" | "from_server" => set_dir(&mut f, FlowDir::ToClient)?,
            "established" | "not_established" => {
                let e = w == "established";
                if f.established.is_some_and(|x| x != e) {
                    return Err(format!("'{w}' conflicts with an earlier state"));
                }
                f.established = Some(e);
            }
            "stateless" => f.stateless = true,
            "only_stream" | "no_stream" => {
                let st = w == "only_stream";
                if f.stream.is_some_and(|x| x != st) {
                    return Err(format!("'{w}' conflicts with an earlier stream keyword"));
                }
                f.stream = Some(st);
            }
            "only_frag" | "no_frag" => {
                extra.get_or_insert_with(|| w.to_string());
            }
            other => {
                return Err(format!(
                    "unknown keyword '{other}', expected to_server, to_client, from_server, from_client, established, not_established, stateless, only_stream, no_stream, only_frag or no_frag"
                ))
            }
        }
    }
    Ok((f, extra))
}

/// `flags:[!+*]FLAGS[+*!][,MASK]` (Snort 2.9 sp_tcp_flag_check.c); `1`/`C` = CWR, `2`/`E` =
/// ECE, `0` = no flags.
pub fn parse_flags(s: &str) -> Result<FlagsTest, String> {
    let (main, mask) = match s.split_once(',') {
        Some((a, b)) => (a.trim(), Some(b.trim())),
        None => (s.trim(), None),
    };
    let bit = |c: char| -> Option<u8> {
        Some(match c.to_ascii_uppercase() {
            'F' => tcp_flags::FIN,
            'S' => tcp_flags::SYN,
            'R' => tcp_flags::RST,
            'P' => tcp_flags::PSH,
            'A' => tcp_flags::ACK,
            'U' => tcp_flags::URG,
            'C' | '1' => tcp_flags::CWR,
            'E' | '2' => tcp_flags::ECE,
            _ => return None,
        })
    };
    let mut modifier = FlagsModifier::Exact;
    let mut flags = 0u8;
    let mut zero = false;
    let mut named = 0;
    for c in main.chars() {
        let m = match c {
            '+' => Some(FlagsModifier::All),
            '*' => Some(FlagsModifier::Any),
            '!' => Some(FlagsModifier::Not),
            _ => None,
        };
        if let Some(m) = m {
            if modifier != FlagsModifier::Exact {
                return Err("more than one modifier, expected one of + * !".into());
            }
            modifier = m;
            continue;
        }
        if c == '0' {
            zero = true;
            named += 1;
            continue;
        }
        match bit(c) {
            Some(b) => {
                flags |= b;
                named += 1;
            }
            None => {
                return Err(format!(
                    "bad flag '{c}', expected F S R P A U C E 1 2 0 and + * !"
                ))
            }
        }
    }
    if named == 0 {
        return Err("no flags given".into());
    }
    if zero && flags != 0 {
        return Err("'0' cannot be combined with other flags".into());
    }
    let mut ignore = 0u8;
    if let Some(m) = mask {
        if m.is_empty() {
            return Err("empty mask after ','".into());
        }
        for c in m.chars() {
            ignore |= bit(c)
                .ok_or_else(|| format!("bad mask flag '{c}', expected F S R P A U C E 1 2"))?;
        }
    }
    Ok(FlagsTest {
        modifier,
        flags,
        ignore,
    })
}

pub fn parse_fragbits(s: &str) -> Result<HeaderTest, String> {
    let mut modifier = FlagsModifier::Exact;
    let mut bits = 0u8;
    for c in s.trim().chars() {
        match c {
            'M' | 'm' => bits |= 0x1,
            'D' | 'd' => bits |= 0x2,
            'R' | 'r' => bits |= 0x4,
            '+' | '*' | '!' if modifier == FlagsModifier::Exact => {
                modifier = match c {
                    '+' => FlagsModifier::All,
                    '*' => FlagsModifier::Any,
                    _ => FlagsModifier::Not,
                }
            }
            _ => {
                return Err(format!(
                    "bad fragment bit '{c}', expected M D R and one of + * !"
                ))
            }
        }
    }
    if bits == 0 {
        return Err("no fragment bits given, expected M, D or R".into());
    }
    Ok(HeaderTest::Fragbits { modifier, bits })
}

/// The items of a `tag:` value with their byte offsets: Snort 2.9 parser.c `ParseOtnTag`
/// splits on `" ,"` (util.c `mSplit`: a run of separators and blanks is one break).
fn tag_items(s: &str) -> Vec<(usize, &str)> {
    let mut items = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c == ',' || c.is_ascii_whitespace() {
            if let Some(st) = start.take() {
                items.push((st, &s[st..i]));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        items.push((st, &s[st..]));
    }
    items
}

/// A `tag:` count: Snort reads it with `strtol(…, 0)` and takes 0 to `INT32_MAX`. A leading
/// `0` would make Snort read octal (`010` is 8), so it is refused rather than read otherwise.
fn tag_count(t: &str) -> Result<u32, String> {
    let b = t.as_bytes();
    if b.len() > 1 && b[0] == b'0' && b[1].is_ascii_digit() {
        return Err(format!(
            "count '{t}' starts with 0, which Snort reads as octal; expected a decimal count"
        ));
    }
    match number(t) {
        Ok(n) if n <= i32::MAX as u32 => Ok(n),
        Ok(_) => Err(format!(
            "count '{t}' out of range, expected 0 to 2147483647"
        )),
        Err(_) if t.bytes().all(|b| b.is_ascii_digit()) => Err(format!(
            "count '{t}' out of range, expected 0 to 2147483647"
        )),
        Err(_) => Err(format!("expected a count, got '{t}'")),
    }
}

/// `tag:` (Snort 2.9 parser.c `ParseOtnTag`): `session[,N,metric]…[,exclusive]` or
/// `host,N,metric[,N,metric]…,src|dst`. Metrics are `packets`, `seconds` and `bytes`, each at
/// most once, in any order; `seconds` and `bytes` need N > 0, `0,packets` lifts
/// `tagged_packet_limit` and needs `seconds` or `bytes` beside it. A session tag needs a
/// metric or `exclusive` (Snort has no default count; Suricata's 256 packets is its own).
/// Words are matched without regard to case, as Snort's `strcasecmp`.
///
/// # Errors
/// The byte offset in `s` of the offending item (or `s.len()` when something is missing) and
/// what was expected.
pub fn parse_tag(s: &str) -> Result<Tag, (usize, String)> {
    const METRIC: &str = "'packets', 'seconds' or 'bytes'";
    if s.starts_with(',') {
        return Err((0, "expected 'session' or 'host' first, got ','".into()));
    }
    let items = tag_items(s);
    let Some(&(_, kind)) = items.first() else {
        return Err((0, "expected 'session' or 'host'".into()));
    };
    let host = if kind.eq_ignore_ascii_case("host") {
        true
    } else if kind.eq_ignore_ascii_case("session") {
        false
    } else {
        return Err((0, format!("expected 'session' or 'host', got '{kind}'")));
    };
    let (mut packets, mut seconds, mut bytes) = (None, None, None);
    // Offset of the `0` of `0,packets`, for the error when nothing else bounds the tag.
    let mut unlimited_at = None;
    let mut i = 1;
    // Counts and metrics until the first item that does not start with a digit (Snort:
    // `isdigit(toks[i][0])`, else "check for src/dst/exclusive").
    while let Some(&(off, t)) = items.get(i) {
        if !t.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            break;
        }
        let n = tag_count(t).map_err(|m| (off, m))?;
        let Some(&(moff, m)) = items.get(i + 1) else {
            return Err((
                off,
                format!("count {t} has no metric, expected {METRIC} after it"),
            ));
        };
        let slot = if m.eq_ignore_ascii_case("packets") {
            &mut packets
        } else if m.eq_ignore_ascii_case("seconds") {
            &mut seconds
        } else if m.eq_ignore_ascii_case("bytes") {
            &mut bytes
        } else {
            return Err((
                moff,
                format!("expected {METRIC} after the count, got '{m}'"),
            ));
        };
        if slot.is_some() {
            return Err((
                moff,
                format!("'{m}' given twice, expected each metric at most once"),
            ));
        }
        if n == 0 {
            if !m.eq_ignore_ascii_case("packets") {
                return Err((
                    off,
                    format!("0 {m}: expected a count above 0 (only 'packets' takes 0)"),
                ));
            }
            unlimited_at = Some(off);
        }
        *slot = Some(n);
        i += 2;
    }
    let any_metric = packets.is_some() || seconds.is_some() || bytes.is_some();
    if let Some(off) = unlimited_at {
        if seconds.is_none() && bytes.is_none() {
            return Err((
                off,
                "'0,packets' (no packet limit) needs a 'seconds' or 'bytes' metric beside it"
                    .into(),
            ));
        }
    }
    let scope = if host {
        let Some(&(doff, d)) = items.get(i) else {
            return Err((
                s.len(),
                format!(
                    "tag:host needs {}a direction last, expected 'src' or 'dst'",
                    if any_metric {
                        ""
                    } else {
                        "a count and metric and "
                    }
                ),
            ));
        };
        let dir = if d.eq_ignore_ascii_case("src") {
            TagHostDir::Src
        } else if d.eq_ignore_ascii_case("dst") {
            TagHostDir::Dst
        } else if any_metric {
            return Err((doff, format!("expected 'src' or 'dst', got '{d}'")));
        } else {
            return Err((doff, format!("expected a count, got '{d}'")));
        };
        if !any_metric {
            return Err((
                doff,
                format!("expected a count and metric ({METRIC}) before '{d}'"),
            ));
        }
        i += 1;
        TagScope::Host { dir }
    } else {
        let exclusive = match items.get(i) {
            None => false,
            Some(&(_, e)) if e.eq_ignore_ascii_case("exclusive") => {
                i += 1;
                true
            }
            Some(&(eoff, e)) if any_metric => {
                return Err((eoff, format!("expected 'exclusive', got '{e}'")));
            }
            Some(&(eoff, e)) => {
                return Err((eoff, format!("expected a count or 'exclusive', got '{e}'")));
            }
        };
        if !any_metric && !exclusive {
            return Err((
                s.len(),
                format!(
                    "expected a count and metric ({METRIC}) or 'exclusive' after 'session' \
                     (Snort has no default)"
                ),
            ));
        }
        TagScope::Session { exclusive }
    };
    if let Some(&(xoff, x)) = items.get(i) {
        return Err((
            xoff,
            format!("unexpected '{x}', expected the end of the option"),
        ));
    }
    Ok(Tag {
        scope,
        packets,
        seconds,
        bytes,
    })
}

/// Rough syntax checks for tier-3 options, enough to reject obvious garbage.
pub fn check_tier3(name: &str, v: Option<&str>) -> Result<(), String> {
    let fields = |v: Option<&str>, min: usize, what: &str| -> Result<Vec<String>, String> {
        let s = need(v, what)?;
        let f: Vec<String> = s.split(',').map(|x| x.trim().to_string()).collect();
        if f.len() < min || f.iter().take(min).any(String::is_empty) {
            return Err(format!("expected {what}"));
        }
        Ok(f)
    };
    match name {
        "stream_size" => {
            fields(v, 3, "'direction, operator, size'")?;
        }
        "http_encode" | "base64_data" | "dce_stub_data" | "sip_header" | "sip_body"
        | "ftpbounce" | "modbus_data" | "dnp3_data"
            if v.is_some_and(|s| !s.is_empty()) && name != "http_encode" =>
        {
            return Err("takes no value".into());
        }
        "ssl_state"
        | "ssl_version"
        | "dce_iface"
        | "dce_opnum"
        | "sip_method"
        | "sip_stat_code"
        | "asn1"
        | "resp"
        | "react"
        | "session"
        | "logto"
        | "replace"
        | "activates"
        | "activated_by"
        | "count"
        | "fragoffset"
        | "ipopts"
        | "rpc"
        | "cvs"
        | "sd_pattern"
        | "file_type"
        | "file_group"
        | "protected_content"
        | "hash"
        | "length"
        | "gtp_type"
        | "gtp_info"
        | "gtp_version"
        | "modbus_func"
        | "modbus_unit"
        | "dnp3_func"
        | "dnp3_obj"
        | "dnp3_ind"
        | "cip_attribute"
        | "cip_class"
        | "cip_conn_path_class"
        | "cip_instance"
        | "cip_service"
        | "cip_status"
        | "enip_command" => {
            need(v, "a value")?;
        }
        // file_data[:mime], base64_decode[:...], stream_reassemble, fwsam, cip_req, ...
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table tests: one tuple per case
mod tests {
    use super::*;

    #[test]
    fn flags_forms() {
        use tcp_flags::*;
        use FlagsModifier::*;
        // text, modifier, flags, ignore
        let cases: &[(&str, FlagsModifier, u8, u8)] = &[
            ("S", Exact, SYN, 0),
            ("SA", Exact, SYN | ACK, 0),
            ("+S", All, SYN, 0),
            ("A+", All, ACK, 0),
            ("*SF", Any, SYN | FIN, 0),
            ("!R", Not, RST, 0),
            ("S,12", Exact, SYN, CWR | ECE),
            ("S,CE", Exact, SYN, CWR | ECE),
            ("0", Exact, 0, 0),
            ("CE", Exact, CWR | ECE, 0),
            ("12", Exact, CWR | ECE, 0),
            ("FSRPAU12", Exact, 0xff, 0),
            ("PA", Exact, PSH | ACK, 0),
        ];
        for &(text, m, f, i) in cases {
            assert_eq!(
                parse_flags(text),
                Ok(FlagsTest {
                    modifier: m,
                    flags: f,
                    ignore: i
                }),
                "{text}"
            );
        }
        for bad in ["", "X", "S,", "+*S", "0S", "S,X", "+"] {
            assert!(parse_flags(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flow_forms() {
        use FlowDir::*;
        let cases: &[(&str, Option<FlowDir>, Option<bool>, bool, Option<&str>)] = &[
            (
                "to_server,established",
                Some(ToServer),
                Some(true),
                false,
                None,
            ),
            (
                "established, to_client",
                Some(ToClient),
                Some(true),
                false,
                None,
            ),
            ("from_server", Some(ToClient), None, false, None),
            (
                "from_client,not_established",
                Some(ToServer),
                Some(false),
                false,
                None,
            ),
            ("stateless", None, None, true, None),
            (
                "to_server,established,only_frag",
                Some(ToServer),
                Some(true),
                false,
                Some("only_frag"),
            ),
        ];
        for &(text, dir, est, stateless, extra) in cases {
            let (f, x) = parse_flow(text).unwrap();
            assert_eq!(
                (f.dir, f.established, f.stateless, x.as_deref()),
                (dir, est, stateless, extra),
                "{text}"
            );
        }
        for bad in [
            "to_server,to_client",
            "established,not_established",
            "only_stream,no_stream",
            "sideways",
            "",
        ] {
            assert!(parse_flow(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flowbits_forms() {
        let mut n = FlowbitNames::default();
        let cases: &[(&str, FlowbitsCmd, usize, BitsJoin)] = &[
            ("set,ET.Evil", FlowbitsCmd::Set, 1, BitsJoin::All),
            ("set,a&b", FlowbitsCmd::Set, 2, BitsJoin::All),
            ("isset,a|b", FlowbitsCmd::IsSet, 2, BitsJoin::Any),
            ("isset,a&b", FlowbitsCmd::IsSet, 2, BitsJoin::All),
            ("isnotset,a", FlowbitsCmd::IsNotSet, 1, BitsJoin::All),
            ("unset,a", FlowbitsCmd::Unset, 1, BitsJoin::All),
            ("toggle,a", FlowbitsCmd::Toggle, 1, BitsJoin::All),
            ("noalert", FlowbitsCmd::NoAlert, 0, BitsJoin::All),
            ("reset", FlowbitsCmd::Reset, 0, BitsJoin::All),
            ("set,a,grp", FlowbitsCmd::Set, 1, BitsJoin::All),
            ("set,a|b", FlowbitsCmd::Set, 2, BitsJoin::Any),
        ];
        for &(text, cmd, nbits, join) in cases {
            let op = parse_flowbits(text, &mut n).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                (op.cmd, op.bits.len(), op.join),
                (cmd, nbits, join),
                "{text}"
            );
        }
        assert_eq!(n.names, vec!["ET.Evil", "a", "b"]);
        for bad in [
            "",
            "set",
            "frob,a",
            "set,a||b",
            "isset,a|b&c",
            "noalert,a",
            "set,a b",
            "set,a,b,c",
        ] {
            assert!(parse_flowbits(bad, &mut n).is_err(), "{bad}");
        }
    }

    #[test]
    fn thresholds() {
        let t = parse_threshold("type limit, track by_src, seconds 3600, count 1").unwrap();
        assert_eq!(
            t,
            Threshold {
                kind: ThresholdKind::Limit,
                track: Track::BySrc,
                count: 1,
                seconds: 3600
            }
        );
        let t = parse_threshold("type both,track by_dst,count 5,seconds 60").unwrap();
        assert_eq!(
            t,
            Threshold {
                kind: ThresholdKind::Both,
                track: Track::ByDst,
                count: 5,
                seconds: 60
            }
        );
        for bad in [
            "type limit, track by_src, count 1",
            "type lim, track by_src, count 1, seconds 1",
            "type limit, track by_rule, count 1, seconds 1",
            "type limit, track by_src, count 99999999999, seconds 1",
            "type limit, track by_src, count 1, seconds 1, count 2",
            "type limit track by_src, count 1, seconds 1",
            "type limit, track by_src, count -1, seconds 1",
        ] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_and_cmp() {
        assert_eq!(number("4294967295"), Ok(u32::MAX));
        assert!(number("4294967296").is_err());
        assert!(number("99999999999999999999999999").is_err());
        assert_eq!(number("0x10"), Ok(16));
        let cases: &[(&str, Cmp)] = &[
            ("5", Cmp::Eq(5)),
            ("<5", Cmp::Lt(5)),
            (">5", Cmp::Gt(5)),
            ("<=5", Cmp::Le(5)),
            (">=5", Cmp::Ge(5)),
            ("!5", Cmp::Ne(5)),
            ("1<>5", Cmp::Between(1, 5)),
            ("1<=>5", Cmp::BetweenIncl(1, 5)),
            ("1-5", Cmp::BetweenIncl(1, 5)),
            ("-5", Cmp::Le(5)),
            ("5-", Cmp::Ge(5)),
        ];
        for (text, want) in cases {
            assert_eq!(cmp(text, 255).as_ref(), Ok(want), "{text}");
        }
        // Snort 2.9 per keyword: dsize ranges are inclusive, itype/icode ranges exclusive
        // (both go through `cmp`), ttl's N-M, -N, N- are inclusive.
        assert_eq!(dsize("300<>400"), Ok(Cmp::BetweenIncl(300, 400)));
        assert_eq!(dsize("<10"), Ok(Cmp::Lt(10)));
        assert_eq!(dsize(">1000"), Ok(Cmp::Gt(1000)));
        assert!(dsize("70000").is_err());
        assert_eq!(ip_proto("igmp"), Ok(Cmp::Eq(2)));
        assert_eq!(ip_proto("!tcp"), Ok(Cmp::Ne(6)));
        assert_eq!(ip_proto(">50"), Ok(Cmp::Gt(50)));
        assert_eq!(cmp("0x10", 65535), Ok(Cmp::Eq(16)), "window:0x10");
        assert!(cmp("256", 255).is_err());
        assert!(cmp("5<>1", 255).is_err());
    }

    /// Snort 2.9 parser.c `ParseOtnTag`: the forms it accepts and what they mean.
    #[test]
    fn tag_forms() {
        use TagHostDir::*;
        let sess = TagScope::Session { exclusive: false };
        let excl = TagScope::Session { exclusive: true };
        let src = TagScope::Host { dir: Src };
        let dst = TagScope::Host { dir: Dst };
        // text, scope, packets, seconds, bytes
        let cases: &[(&str, TagScope, Option<u32>, Option<u32>, Option<u32>)] = &[
            ("session,10,packets", sess, Some(10), None, None),
            ("session, 10, packets", sess, Some(10), None, None),
            ("session 10 packets", sess, Some(10), None, None), // mSplit on " ,"
            ("SESSION,10,Packets", sess, Some(10), None, None), // strcasecmp
            ("session,10,seconds", sess, None, Some(10), None),
            ("session,1000,bytes", sess, None, None, Some(1000)),
            ("session,exclusive", excl, None, None, None), // no metric: tagged_packet_limit
            ("session,10,packets,exclusive", excl, Some(10), None, None),
            (
                "session,0,packets,60,seconds",
                sess,
                Some(0),
                Some(60),
                None,
            ),
            (
                "session,60,seconds,0,packets",
                sess,
                Some(0),
                Some(60),
                None,
            ),
            (
                "session,5,packets,10,seconds,100,bytes",
                sess,
                Some(5),
                Some(10),
                Some(100),
            ),
            ("host,600,seconds,src", src, None, Some(600), None),
            ("host,10,packets,dst", dst, Some(10), None, None),
            (
                "host,0,packets,600,seconds,src",
                src,
                Some(0),
                Some(600),
                None,
            ), // manual
            (
                "host,1000,bytes,100,packets,src",
                src,
                Some(100),
                None,
                Some(1000),
            ), // README.tag
            ("host,10,packets,DST", dst, Some(10), None, None),
            ("session,0x10,packets", sess, Some(16), None, None), // strtol base 0
            (
                "session,2147483647,packets",
                sess,
                Some(i32::MAX as u32),
                None,
                None,
            ),
            ("session,10,packets,", sess, Some(10), None, None), // trailing separator
            ("session,,10,,packets", sess, Some(10), None, None), // a run is one break
        ];
        for &(text, scope, packets, seconds, bytes) in cases {
            assert_eq!(
                parse_tag(text),
                Ok(Tag {
                    scope,
                    packets,
                    seconds,
                    bytes
                }),
                "{text}"
            );
        }
    }

    /// What Snort refuses (and a leading-0 count, which Snort reads as octal), with the offset
    /// of the item the error points at and a piece of the message.
    #[test]
    fn tag_errors() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "expected 'session' or 'host'"),
            (
                ",session,10,packets",
                0,
                "expected 'session' or 'host' first",
            ),
            ("sessions,10,packets", 0, "got 'sessions'"),
            (
                "session",
                7,
                "or 'exclusive' after 'session' (Snort has no default)",
            ),
            ("host,10,packets", 15, "tag:host needs a direction last"),
            ("host", 4, "needs a count and metric and a direction"),
            ("host,src", 5, "expected a count and metric"),
            (
                "host,10,packets,exclusive",
                16,
                "expected 'src' or 'dst', got 'exclusive'",
            ),
            (
                "session,10,packets,src",
                19,
                "expected 'exclusive', got 'src'",
            ),
            (
                "session,src",
                8,
                "expected a count or 'exclusive', got 'src'",
            ),
            (
                "session,-1,packets",
                8,
                "expected a count or 'exclusive', got '-1'",
            ),
            ("session,10", 8, "count 10 has no metric"),
            ("session,10,frames", 11, "after the count, got 'frames'"),
            ("session,10,20", 11, "after the count, got '20'"),
            (
                "session,0,seconds",
                8,
                "0 seconds: expected a count above 0",
            ),
            ("session,0,bytes", 8, "0 bytes: expected a count above 0"),
            (
                "session,0,packets",
                8,
                "needs a 'seconds' or 'bytes' metric",
            ),
            (
                "host,0,packets,src",
                5,
                "needs a 'seconds' or 'bytes' metric",
            ),
            ("session,10,packets,5,packets", 21, "'packets' given twice"),
            (
                "session,10,seconds,0,packets,5,packets",
                31,
                "'packets' given twice",
            ),
            (
                "session,2147483648,packets",
                8,
                "out of range, expected 0 to 2147483647",
            ),
            ("session,99999999999,packets", 8, "out of range"),
            ("session,010,packets", 8, "Snort reads as octal"),
            ("session,10x,packets", 8, "expected a count, got '10x'"),
            ("session,exclusive,10,packets", 18, "unexpected '10'"),
            ("host,10,packets,src,dst", 20, "unexpected 'dst'"),
            (
                "session,10,packets,60,seconds,exclusive,x",
                40,
                "unexpected 'x'",
            ),
            ("host,10,packets,5,seconds", 25, "needs a direction last"),
        ];
        for &(text, at, msg) in cases {
            match parse_tag(text) {
                Ok(t) => panic!("{text}: accepted as {t:?}"),
                Err((off, m)) => {
                    assert!(m.contains(msg), "{text}: {m:?} lacks {msg:?}");
                    assert_eq!(off, at, "{text}: {m}");
                }
            }
        }
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote(r#""a\;b \"c\" \\ d""#).unwrap(), r#"a;b "c" \ d"#);
        assert!(unquote("\"abc").is_err());
        assert!(unquote("\"").is_err());
    }
}
