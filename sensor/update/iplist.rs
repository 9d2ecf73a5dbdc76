//! IP feeds → Snort list rules: parsing the plain address lists that blocklists publish
//! (Spamhaus DROP/EDROP, abuse.ch Feodo Tracker, FireHOL netsets, ET's compromised-ips.txt),
//! normalising them to a set of networks, comparing two versions, and writing the list rules
//! the rule loader reads. Pure: no files, no network, no loader state.
//!
//! # Input
//! One entry a line: an IPv4 or IPv6 address, a CIDR (`192.0.2.0/24`, `2001:db8::/32`) or an
//! inclusive range (`192.0.2.10-192.0.2.20`). `#` and `;` start a comment anywhere on a line
//! (Spamhaus writes `1.2.3.0/24 ; SBL123`); blank lines, CRLF line ends and a UTF-8 BOM are
//! fine. A CIDR with host bits set (`192.0.2.7/24`) means its network (`192.0.2.0/24`), as
//! Snort's own address parser (sfip) reads it. Anything else is reported with its line and what
//! was expected, and the rest of the list is still used.
//!
//! # Normalisation
//! An [`IpList`] is a *set of addresses*, kept as the unique shortest list of CIDR networks
//! covering it: duplicates vanish, overlapping networks merge, adjacent ones merge only when
//! the union is itself one network (`10.0.0.0/25` + `10.0.0.128/25` → `10.0.0.0/24`; two
//! neighbouring hosts stay two `/32`s). Two lists are equal iff they hold the same addresses.
//!
//! # Resource usage
//! Parsing is one pass over the text and one sort: memory is proportional to the number of
//! entries (8 bytes an IPv4 network, 24 an IPv6 one, twice that while sorting).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::rules::addr::normalise;

/// Inclusive address ranges per family: IPv4, IPv6.
pub type Ranges = (Vec<(u32, u32)>, Vec<(u128, u128)>);

/// Networks per generated rule, as ET's IP-list rule files group them (`(group N)`).
pub const GROUP_SIZE: usize = 1000;

/// Which traffic a list rule matches, relative to `$HOME_NET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the home network to a listed address: `$HOME_NET any -> [list] any`.
    To,
    /// From a listed address to the home network: `[list] any -> $HOME_NET any`.
    From,
    /// Either way, in one rule per group: `$HOME_NET any <> [list] any`. One rule rather than a
    /// `->` pair so a group's sid is the same whatever the direction.
    Both,
}

/// What to call the rules made from one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpListSpec {
    /// The source's name, shown in the generated file's header.
    pub name: String,
    /// The first group's sid; group N has `sid + N - 1`.
    pub sid: u32,
    pub msg: String,
    /// A classification.config short name (`trojan-activity`); empty: none.
    pub classtype: String,
    pub direction: Direction,
    /// The value of an in-rule `threshold:` (`type limit, track by_src, seconds 3600, count 1`).
    pub threshold: Option<String>,
}

impl IpListSpec {
    /// Problems that would make the generated rules fail to load or collide: a zero sid, a sid
    /// range that would pass `u32::MAX` for `entries` networks, a classtype or threshold with
    /// characters that end an option. Empty when the spec is usable.
    pub fn problems(&self, entries: usize) -> Vec<String> {
        let mut out = Vec::new();
        if self.sid == 0 {
            out.push("sid must be at least 1".to_string());
        }
        let groups = entries.div_ceil(GROUP_SIZE).max(1);
        if u64::from(self.sid) + (groups as u64) - 1 > u64::from(u32::MAX) {
            out.push(format!(
                "sids {}.. for {groups} rules pass the largest sid {}",
                self.sid,
                u32::MAX
            ));
        }
        if !self
            .classtype
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            out.push(format!(
                "classtype {:?}: expected letters, digits, '-' and '_' only",
                self.classtype
            ));
        }
        if let Some(t) = &self.threshold {
            if t.contains([';', '"', '(', ')', '\\', '\n', '\r']) {
                out.push(format!(
                    "threshold {t:?}: expected `type T, track by_src|by_dst, count N, seconds S` without ; \" ( ) or \\"
                ));
            }
        }
        out
    }
}

/// A set of addresses as its normalised networks (see the module docs): sorted, disjoint,
/// each network in canonical form (no host bits).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IpList {
    /// (network address, prefix length)
    v4: Vec<(u32, u8)>,
    v6: Vec<(u128, u8)>,
}

impl IpList {
    /// The number of networks (IPv4 and IPv6).
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The IPv4 networks, `(address, prefix)`, in address order.
    pub fn v4(&self) -> &[(u32, u8)] {
        &self.v4
    }

    /// The IPv6 networks, `(address, prefix)`, in address order.
    pub fn v6(&self) -> &[(u128, u8)] {
        &self.v6
    }

    /// The list holding exactly the addresses of these inclusive ranges (any order, overlaps
    /// allowed; a range whose start is past its end is empty).
    pub fn from_ranges(mut v4: Vec<(u32, u32)>, mut v6: Vec<(u128, u128)>) -> IpList {
        v4.retain(|(s, e)| s <= e);
        v6.retain(|(s, e)| s <= e);
        normalise(&mut v4);
        normalise(&mut v6);
        let mut list = IpList::default();
        for (s, e) in v4 {
            cidrs_v4(s, e, &mut list.v4);
        }
        for (s, e) in v6 {
            cidrs_v6(s, e, &mut list.v6);
        }
        list
    }

    /// The addresses as sorted, disjoint, non-adjacent inclusive ranges per family (the form
    /// of the rule model's `AddrSet`).
    pub fn ranges(&self) -> Ranges {
        let mut v4: Vec<(u32, u32)> = self
            .v4
            .iter()
            .map(|&(a, p)| (a, a | host_mask_v4(p)))
            .collect();
        let mut v6: Vec<(u128, u128)> = self
            .v6
            .iter()
            .map(|&(a, p)| (a, a | host_mask_v6(p)))
            .collect();
        normalise(&mut v4);
        normalise(&mut v6);
        (v4, v6)
    }

    /// Each network as text: a bare address for a host (`/32`, `/128`), else `addr/prefix`;
    /// IPv4 first.
    pub fn networks(&self) -> impl Iterator<Item = String> + '_ {
        let v4 = self.v4.iter().map(|&(a, p)| {
            if p == 32 {
                Ipv4Addr::from(a).to_string()
            } else {
                format!("{}/{p}", Ipv4Addr::from(a))
            }
        });
        let v6 = self.v6.iter().map(|&(a, p)| {
            if p == 128 {
                Ipv6Addr::from(a).to_string()
            } else {
                format!("{}/{p}", Ipv6Addr::from(a))
            }
        });
        v4.chain(v6)
    }
}

fn host_mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0)
}

fn host_mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shr(u32::from(prefix)).unwrap_or(0)
}

/// The fewest CIDR blocks covering `[s, e]` exactly, appended to `out` in order.
fn cidrs_v4(s: u32, e: u32, out: &mut Vec<(u32, u8)>) {
    let (mut s, e) = (u64::from(s), u64::from(e));
    while s <= e {
        // The block may be no larger than the start's alignment and the rest of the range.
        let align = if s == 0 {
            32
        } else {
            s.trailing_zeros().min(32)
        };
        let fits = 63 - (e - s + 1).leading_zeros();
        let bits = align.min(fits);
        // Both casts are lossless: s <= u32::MAX here and bits <= 32.
        out.push((s as u32, (32 - bits) as u8));
        s += 1u64 << bits;
    }
}

/// As [`cidrs_v4`] for IPv6, where the span of the whole space does not fit the integer.
fn cidrs_v6(s: u128, e: u128, out: &mut Vec<(u128, u8)>) {
    let mut s = s;
    loop {
        let align = if s == 0 { 128 } else { s.trailing_zeros() };
        let span_m1 = e - s;
        let fits = match span_m1.checked_add(1) {
            None => 128,
            Some(span) => 127 - span.leading_zeros(),
        };
        let bits = align.min(fits);
        out.push((s, (128 - bits) as u8));
        let step = 1u128.checked_shl(bits).unwrap_or(0);
        match s.checked_add(step) {
            Some(next) if step != 0 && next <= e && next > s => s = next,
            _ => break,
        }
    }
}

/// One parsed entry: an inclusive range of one family.
enum Entry {
    V4(u32, u32),
    V6(u128, u128),
}

/// Parses a feed. Never fails: every line that is not an address, CIDR or range (after
/// comments are removed) is returned with its 1-based line number and why, and left out.
///
/// # Examples
/// ```
/// use nsm_sensor::update::iplist::parse;
/// let (list, bad) = parse("; Spamhaus DROP List\n192.0.2.0/24 ; SBL1\n198.51.100.7\nnope\n");
/// assert_eq!(list.len(), 2);
/// assert_eq!(bad[0].0, 4);
/// ```
pub fn parse(text: &str) -> (IpList, Vec<(u32, String)>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut v4: Vec<(u32, u32)> = Vec::new();
    let mut v6: Vec<(u128, u128)> = Vec::new();
    let mut bad = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let body = match raw.find(['#', ';']) {
            Some(at) => &raw[..at],
            None => raw,
        };
        let entry = body.trim();
        if entry.is_empty() {
            continue;
        }
        match parse_entry(entry) {
            Ok(Entry::V4(s, e)) => v4.push((s, e)),
            Ok(Entry::V6(s, e)) => v6.push((s, e)),
            Err(why) => bad.push((u32::try_from(i + 1).unwrap_or(u32::MAX), why)),
        }
    }
    (IpList::from_ranges(v4, v6), bad)
}

/// `text` for a message: at most 60 characters, control characters escaped.
fn shown(text: &str) -> String {
    let mut s: String = text.chars().take(60).flat_map(char::escape_debug).collect();
    if text.chars().nth(60).is_some() {
        s.push('…');
    }
    format!("`{s}`")
}

const EXPECTED: &str =
    "expected an IPv4 or IPv6 address, CIDR or range (like 192.0.2.1, 192.0.2.0/24, 2001:db8::/32 or 192.0.2.1-192.0.2.9)";

fn parse_entry(entry: &str) -> Result<Entry, String> {
    if entry.contains(char::is_whitespace) {
        return Err(format!(
            "{}: one entry a line, {EXPECTED}; comments start with # or ;",
            shown(entry)
        ));
    }
    if let Some((a, b)) = entry.split_once('-') {
        return match (parse_addr(a)?, parse_addr(b)?) {
            (Entry::V4(s, _), Entry::V4(e, _)) if s <= e => Ok(Entry::V4(s, e)),
            (Entry::V6(s, _), Entry::V6(e, _)) if s <= e => Ok(Entry::V6(s, e)),
            (Entry::V4(..), Entry::V4(..)) | (Entry::V6(..), Entry::V6(..)) => Err(format!(
                "{}: range ends before it starts; expected FIRST-LAST with FIRST <= LAST",
                shown(entry)
            )),
            _ => Err(format!(
                "{}: range mixes IPv4 and IPv6; expected both ends of one family",
                shown(entry)
            )),
        };
    }
    let Some((addr, prefix)) = entry.split_once('/') else {
        return parse_addr(entry);
    };
    let max: u8 = if addr.contains(':') { 128 } else { 32 };
    let p: u8 = match prefix.parse::<u8>() {
        Ok(p) if prefix.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => {
            return Err(format!(
                "{}: prefix length {} is not a number; expected 0 to {max}",
                shown(entry),
                shown(prefix)
            ))
        }
    };
    if p > max {
        return Err(format!(
            "{}: prefix length /{p} is more than {max}; expected 0 to {max} for IPv{}",
            shown(entry),
            if max == 32 { 4 } else { 6 }
        ));
    }
    // Host bits set (`192.0.2.7/24`) mean the network, as sfip reads them.
    Ok(match parse_addr(addr)? {
        Entry::V4(a, _) => {
            let host = host_mask_v4(p);
            Entry::V4(a & !host, a | host)
        }
        Entry::V6(a, _) => {
            let host = host_mask_v6(p);
            Entry::V6(a & !host, a | host)
        }
    })
}

fn parse_addr(text: &str) -> Result<Entry, String> {
    if text.contains(':') {
        match text.parse::<Ipv6Addr>() {
            Ok(a) => Ok(Entry::V6(u128::from(a), u128::from(a))),
            Err(_) => Err(format!(
                "{} is not an IPv6 address; expected eight groups of hex digits, `::` for zeros (like 2001:db8::1)",
                shown(text)
            )),
        }
    } else if text.contains('.') && text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        match text.parse::<Ipv4Addr>() {
            Ok(a) => Ok(Entry::V4(u32::from(a), u32::from(a))),
            Err(_) => Err(format!(
                "{} is not an IPv4 address; expected four numbers 0-255 without leading zeros (like 192.0.2.1)",
                shown(text)
            )),
        }
    } else {
        Err(format!("{}: {EXPECTED}", shown(text)))
    }
}

/// How the list changed: networks in `new` and not in `old` (added), and the reverse
/// (removed). Counted in networks of the normalised lists, as a line diff of two feeds
/// would count them; a /24 that becomes a /25 is one removed and one added.
pub fn diff(old: &IpList, new: &IpList) -> (usize, usize) {
    let (a4, r4) = sorted_diff(&old.v4, &new.v4);
    let (a6, r6) = sorted_diff(&old.v6, &new.v6);
    (a4 + a6, r4 + r6)
}

fn sorted_diff<T: Ord>(old: &[T], new: &[T]) -> (usize, usize) {
    let (mut i, mut j) = (0, 0);
    let (mut added, mut removed) = (0, 0);
    while i < old.len() && j < new.len() {
        match old[i].cmp(&new[j]) {
            std::cmp::Ordering::Less => {
                removed += 1;
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                added += 1;
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    (added + new.len() - j, removed + old.len() - i)
}

/// The list as text, one network a line ([`IpList::networks`]); [`parse`] reads it back to
/// an equal list.
pub fn to_text(list: &IpList) -> String {
    let mut out = String::with_capacity(list.len() * 16);
    for n in list.networks() {
        out.push_str(&n);
        out.push('\n');
    }
    out
}

/// `text` with control characters (a newline would end a comment) replaced by spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `msg` text escaped for a rule option: `\`, `"` and `;` get a backslash (Snort's
/// `msg:"…"` escapes), control characters become spaces.
fn escape_msg(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '"' | ';' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The rules matching traffic to or from the list, preceded by a comment header (source
/// name, entry count, sids). Networks are grouped [`GROUP_SIZE`] a rule, IPv4 first, in
/// address order; group N has sid `spec.sid + N - 1` and, when there are several groups,
/// msg `"MSG (group N)"`. An empty list gives the header alone. The output is the same for
/// the same list and spec (no timestamps), so an unchanged feed makes an unchanged file.
///
/// Groups whose sid would pass `u32::MAX` are left out with a comment saying so; see
/// [`IpListSpec::problems`] to refuse such a spec first.
pub fn to_rules(list: &IpList, spec: &IpListSpec) -> String {
    let nets: Vec<String> = list.networks().collect();
    let groups = nets.len().div_ceil(GROUP_SIZE);
    let mut out = String::with_capacity(nets.len() * 20 + 512);
    let dir = match spec.direction {
        Direction::To => "traffic from $HOME_NET to a listed address",
        Direction::From => "traffic from a listed address to $HOME_NET",
        Direction::Both => "traffic between $HOME_NET and a listed address, either way",
    };
    let _ = writeln!(
        out,
        "# {}: IP list rules generated by nsm-sensor update; the next update replaces this file.",
        one_line(&spec.name)
    );
    let _ = writeln!(
        out,
        "# {} entries ({} IPv4, {} IPv6 networks) in {groups} rules; {dir}.",
        nets.len(),
        list.v4.len(),
        list.v6.len()
    );
    if groups > 0 {
        let last = u64::from(spec.sid) + groups as u64 - 1;
        let _ = writeln!(out, "# sids {}-{last}", spec.sid);
    }
    let msg = escape_msg(&spec.msg);
    let mut options_tail = String::new();
    if let Some(t) = spec.threshold.as_deref().map(str::trim) {
        if !t.is_empty() {
            let _ = write!(options_tail, " threshold: {};", one_line(t));
        }
    }
    if !spec.classtype.is_empty() {
        let _ = write!(options_tail, " classtype:{};", one_line(&spec.classtype));
    }
    for (g, chunk) in nets.chunks(GROUP_SIZE).enumerate() {
        let Some(sid) = u32::try_from(g).ok().and_then(|g| spec.sid.checked_add(g)) else {
            let _ = writeln!(
                out,
                "# groups {} to {groups} left out: their sids would pass {}",
                g + 1,
                u32::MAX
            );
            break;
        };
        let mut addrs = String::with_capacity(chunk.len() * 18 + 2);
        addrs.push('[');
        addrs.push_str(&chunk.join(","));
        addrs.push(']');
        let header = match spec.direction {
            Direction::To => format!("$HOME_NET any -> {addrs} any"),
            Direction::From => format!("{addrs} any -> $HOME_NET any"),
            Direction::Both => format!("$HOME_NET any <> {addrs} any"),
        };
        let group = if groups > 1 {
            format!(" (group {})", g + 1)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "alert ip {header} (msg:\"{msg}{group}\";{options_tail} sid:{sid}; rev:1;)"
        );
    }
    out
}

#[cfg(test)]
mod tests;
