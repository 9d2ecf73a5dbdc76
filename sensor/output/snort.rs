//! Snort 2.9 text alerts: `alert_full` ([`format_full`]) and `alert_fast` ([`format_fast`]),
//! byte for byte as Snort 2.9.20's `spo_alert_full.c`, `spo_alert_fast.c` and `log_text.c`
//! print them (checked against `../shared/data/snort-golden/`). Pure functions over an
//! [`AlertEvent`]; the files are in [`super::Outputs`].
//!
//! One deliberate difference: Snort prints the rule's `msg` (and reference ids, class
//! descriptions) as-is; here every control character (C0, DEL, C1, and the Unicode line and
//! paragraph separators) is printed as a space, so no rule text can split or forge a record.

use std::io::Write;
use std::net::IpAddr;

use chrono::{DateTime, Datelike, Local, TimeZone, Timelike, Utc};

use super::AlertEvent;
use crate::config::Timestamps;
use crate::decode::{Packet, Transport};
use crate::rules::Rule;

mod icmp;
mod tcp_options;
use icmp::write_icmp;
use tcp_options::write_tcp_options;

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

/// Appends one `alert_fast` line:
/// `MM/DD-hh:mm:ss.uuuuuu  [**] [gid:sid:rev] msg [**] [Classification: …] [Priority: N] {PROTO} src[:port] -> dst[:port]`.
pub fn format_fast(ev: &AlertEvent<'_>, tz: Timestamps, out: &mut Vec<u8>) {
    let (rule, p) = (ev.rule, ev.pkt);
    // spo_alert_fast.c: timestamp (with its trailing space), then " [**] ".
    write_timestamp(out, p.ts_sec, p.ts_usec, tz);
    out.extend_from_slice(b" [**] ");
    let _ = write!(out, "[{}:{}:{}] ", rule.gid, rule.sid, rule.rev);
    write_text(out, &rule.msg);
    out.extend_from_slice(b" [**] ");
    write_priority(out, rule);
    out.push(b'{');
    write_proto_name(out, p.ip_proto);
    out.extend_from_slice(b"} ");
    write_addrs(out, p.src, p.dst, ports_of(p));
    out.push(b'\n');
}

/// Appends one `alert_full` record, blank line included.
pub fn format_full(ev: &AlertEvent<'_>, tz: Timestamps, out: &mut Vec<u8>) {
    let (rule, p) = (ev.rule, ev.pkt);
    // spo_alert_full.c AlertFull
    let _ = write!(out, "[**] [{}:{}:{}] ", rule.gid, rule.sid, rule.rev);
    write_text(out, &rule.msg);
    out.extend_from_slice(b" [**]\n");
    write_priority(out, rule);
    out.push(b'\n');
    write_timestamp(out, p.ts_sec, p.ts_usec, tz);
    write_ip_header(out, p);
    // Only unfragmented packets get their transport header printed.
    if !p.frag.is_fragment() {
        match p.ip_proto {
            PROTO_TCP => write_tcp(out, p),
            PROTO_UDP => write_udp(out, p),
            PROTO_ICMP => write_icmp(out, p),
            _ => {}
        }
    }
    write_xrefs(out, rule);
    out.push(b'\n');
}

/// Writes `s`, each control character replaced by a space (see the module docs).
pub fn write_text(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            out.push(b' ');
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// Snort's `ts_print`: `MM/DD-hh:mm:ss.uuuuuu ` (trailing space), local time or UTC.
pub fn write_timestamp(out: &mut Vec<u8>, sec: i64, usec: u32, tz: Timestamps) {
    fn put<T: TimeZone>(out: &mut Vec<u8>, dt: DateTime<T>, usec: u32) {
        let _ = write!(
            out,
            "{:02}/{:02}-{:02}:{:02}:{:02}.{:06} ",
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            usec
        );
    }
    let utc = Utc.timestamp_opt(sec, 0).single().unwrap_or_default();
    match tz {
        Timestamps::Utc => put(out, utc, usec),
        Timestamps::Local => put(out, utc.with_timezone(&Local), usec),
    }
}

/// `LogPriorityData`: `[Classification: desc] [Priority: N] ` (no newline).
fn write_priority(out: &mut Vec<u8>, rule: &Rule) {
    if let Some(desc) = &rule.class_desc {
        out.extend_from_slice(b"[Classification: ");
        write_text(out, desc);
        out.extend_from_slice(b"] ");
    }
    let _ = write!(out, "[Priority: {}] ", rule.priority);
}

/// `LogXrefs`: references in reverse rule order (Snort prepends each to its list).
fn write_xrefs(out: &mut Vec<u8>, rule: &Rule) {
    for r in rule.references.iter().rev() {
        out.extend_from_slice(b"[Xref => ");
        match &r.url_prefix {
            Some(prefix) => write_text(out, prefix),
            // Snort signature.c: a system missing from reference.config has no URL; log_text.c
            // then prints "name id".
            None => {
                write_text(out, &r.system);
                out.push(b' ');
            }
        }
        write_text(out, &r.id);
        out.push(b']');
    }
    if !rule.references.is_empty() {
        out.push(b'\n');
    }
}

/// Ports as Snort prints them: only for unfragmented TCP/UDP, 0 when the header was not
/// decoded (Snort's `p->sp`/`p->dp` stay zero).
fn ports_of(p: &Packet<'_>) -> Option<(u16, u16)> {
    let tcp_udp = p.ip_proto == PROTO_TCP || p.ip_proto == PROTO_UDP;
    (tcp_udp && !p.frag.is_fragment()).then(|| (p.sport().unwrap_or(0), p.dport().unwrap_or(0)))
}

/// `LogIpAddrs`.
fn write_addrs(out: &mut Vec<u8>, src: IpAddr, dst: IpAddr, ports: Option<(u16, u16)>) {
    let _ = match ports {
        Some((sp, dp)) => write!(out, "{src}:{sp} -> {dst}:{dp}"),
        None => write!(out, "{src} -> {dst}"),
    };
}

/// `LogIPHeader` for the alerted packet: addresses line, IP line, options, fragment line.
fn write_ip_header(out: &mut Vec<u8>, p: &Packet<'_>) {
    write_addrs(out, p.src, p.dst, ports_of(p));
    out.push(b'\n');
    // Snort reports IPv6's header length as the fixed 40 bytes (sf_iph.c ip6_ret_hlen).
    let hlen = if p.ip_version == 4 {
        p.ip_header.len()
    } else {
        40
    };
    write_proto_name(out, p.ip_proto);
    let _ = write!(
        out,
        " TTL:{} TOS:0x{:X} ID:{} IpLen:{} DgmLen:{}",
        p.ttl, p.tos, p.ip_id, hlen, p.ip_total_len
    );
    if p.frag.rb {
        out.extend_from_slice(b" RB");
    }
    if p.frag.df {
        out.extend_from_slice(b" DF");
    }
    if p.frag.mf {
        out.extend_from_slice(b" MF");
    }
    out.push(b'\n');
    if p.ip_version == 4 {
        write_ip_options(out, p.ip_header.get(20..).unwrap_or(&[]));
    }
    if p.frag.is_fragment() {
        let paylen = (p.ip_total_len as usize).saturating_sub(p.ip_header.len());
        let _ = writeln!(
            out,
            "Frag Offset: 0x{:04X}   Frag Size: 0x{:04X}",
            p.frag.offset & 0x1fff,
            paylen
        );
    }
}

/// One decoded option: code, length of its data (option length - 2), its data if any.
#[derive(Clone, Copy)]
struct Opt<'a> {
    code: u8,
    len: usize,
    data: Option<&'a [u8]>,
}

/// decode.h `TCP_OPTLENMAX` and `IP_OPTMAX`: the most options either walk keeps.
const MAX_OPTS: usize = 40;

/// Snort decode.c `OptLenValidate`: `Some(opt, bytes to skip)` or `None` for a bad/truncated
/// option. `expected`: the fixed total length, or `None` for variable-length options.
fn opt_len_validate(opts: &[u8], at: usize, expected: Option<usize>) -> Option<(Opt<'_>, usize)> {
    let code = *opts.get(at)?;
    let len = usize::from(*opts.get(at + 1)?);
    if len == 0 {
        return None;
    }
    match expected {
        Some(e) => {
            if at + e > opts.len() || len != e {
                return None;
            }
        }
        None => {
            if len < 2 || at + len > opts.len() {
                return None;
            }
        }
    }
    let data = if len == 2 {
        None
    } else {
        opts.get(at + 2..at + len)
    };
    Some((
        Opt {
            code,
            len: len - 2,
            data,
        },
        len,
    ))
}

/// Snort decode.c `DecodeIPOptions`: like TCP's, but EOL is not counted. A bad option drops
/// the whole list (the decoder returns before storing the count).
fn ip_options<'a>(opts: &'a [u8], buf: &mut [Option<Opt<'a>>; MAX_OPTS]) -> usize {
    let mut n = 0;
    let mut at = 0;
    while at < opts.len() && n < MAX_OPTS {
        let code = opts.get(at).copied().unwrap_or(0);
        if code == 0 {
            break;
        }
        let parsed = if code == 1 {
            Some((
                Opt {
                    code,
                    len: 0,
                    data: None,
                },
                1,
            ))
        } else {
            opt_len_validate(opts, at, None)
        };
        let Some((opt, skip)) = parsed else { return 0 };
        if let Some(slot) = buf.get_mut(n) {
            *slot = Some(opt);
        }
        n += 1;
        at += skip;
    }
    n
}

/// `LogIpOptions`, with its wrap after 60 characters.
fn write_ip_options(out: &mut Vec<u8>, opts: &[u8]) {
    let mut buf = [None; MAX_OPTS];
    let n = ip_options(opts, &mut buf);
    if n == 0 {
        return;
    }
    let mut init = out.len();
    let _ = write!(out, "IP Options ({n}) => ");
    for opt in buf.iter().take(n).flatten() {
        if out.len() - init > 60 {
            out.extend_from_slice(b"\nIP Options => ");
            init = out.len();
        }
        let name: &[u8] = match opt.code {
            7 => b"RR ",
            0 => b"EOL ",
            1 => b"NOP ",
            68 => b"TS ",
            133 => b"ESEC ",
            130 => b"SEC ",
            131 | 132 => b"LSRR ",
            136 => b"SID ",
            137 => b"SSRR ",
            148 => b"RTRALT ",
            _ => b"",
        };
        if !name.is_empty() {
            out.extend_from_slice(name);
            continue;
        }
        let _ = write!(out, "Opt {}: ", opt.code);
        for j in 0..opt.len {
            let b = opt.data.and_then(|d| d.get(j)).copied().unwrap_or(0);
            let _ = write!(out, "{b:02X}");
            if j % 2 == 0 {
                out.push(b' ');
            }
        }
    }
    out.push(b'\n');
}

/// Big-endian u16/u32 of an option's data, zero-filled like Snort's `tmp` buffer.
fn data_be(data: Option<&[u8]>, at: usize, n: usize) -> u32 {
    (0..n).fold(0u32, |acc, i| {
        (acc << 8) | u32::from(data.and_then(|d| d.get(at + i)).copied().unwrap_or(0))
    })
}

/// `LogTCPHeader`; the options line is [`tcp_options`]'s.
fn write_tcp(out: &mut Vec<u8>, p: &Packet<'_>) {
    let Transport::Tcp {
        seq,
        ack,
        flags,
        window,
        urg,
        ..
    } = p.transport
    else {
        out.extend_from_slice(b"TCP header truncated\n");
        return;
    };
    // CreateTCPFlagString: CWR ECE URG ACK PSH RST SYN FIN as 1 2 U A P R S F.
    for (bit, c) in [
        (0x80, b'1'),
        (0x40, b'2'),
        (0x20, b'U'),
        (0x10, b'A'),
        (0x08, b'P'),
        (0x04, b'R'),
        (0x02, b'S'),
        (0x01, b'F'),
    ] {
        out.push(if flags & bit != 0 { c } else { b'*' });
    }
    let _ = write!(
        out,
        " Seq: 0x{seq:X}  Ack: 0x{ack:X}  Win: 0x{window:X}  TcpLen: {}",
        p.l4_header.len()
    );
    if flags & 0x20 != 0 {
        let _ = writeln!(out, "  UrgPtr: 0x{urg:X}");
    } else {
        out.push(b'\n');
    }
    write_tcp_options(out, p.l4_header.get(20..).unwrap_or(&[]));
}

/// `LogUDPHeader`: the UDP length field minus the header.
fn write_udp(out: &mut Vec<u8>, p: &Packet<'_>) {
    match p.transport {
        Transport::Udp { len, .. } => {
            let _ = writeln!(out, "Len: {}", i32::from(len) - 8);
        }
        _ => out.extend_from_slice(b"UDP header truncated\n"),
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    data_be(Some(b), at, 4)
}

/// Snort's `protocol_names`: the upper-cased first name of each number in a standard
/// `/etc/protocols` (netbase), else `PROTO:NNN`.
pub fn write_proto_name(out: &mut Vec<u8>, proto: u8) {
    match proto_name(proto) {
        Some(name) => out.extend_from_slice(name.as_bytes()),
        None => {
            let _ = write!(out, "PROTO:{proto:03}");
        }
    }
}

/// The `/etc/protocols` name of an IP protocol number, upper case, if it has one.
pub fn proto_name(proto: u8) -> Option<&'static str> {
    Some(match proto {
        0 => "IP",
        1 => "ICMP",
        2 => "IGMP",
        3 => "GGP",
        4 => "IPENCAP",
        5 => "ST",
        6 => "TCP",
        8 => "EGP",
        9 => "IGP",
        12 => "PUP",
        17 => "UDP",
        20 => "HMP",
        22 => "XNS-IDP",
        27 => "RDP",
        29 => "ISO-TP4",
        33 => "DCCP",
        36 => "XTP",
        37 => "DDP",
        38 => "IDPR-CMTP",
        41 => "IPV6",
        43 => "IPV6-ROUTE",
        44 => "IPV6-FRAG",
        45 => "IDRP",
        46 => "RSVP",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        57 => "SKIP",
        58 => "IPV6-ICMP",
        59 => "IPV6-NONXT",
        60 => "IPV6-OPTS",
        73 => "RSPF",
        81 => "VMTP",
        88 => "EIGRP",
        89 => "OSPF",
        93 => "AX.25",
        94 => "IPIP",
        97 => "ETHERIP",
        98 => "ENCAP",
        103 => "PIM",
        108 => "IPCOMP",
        112 => "VRRP",
        115 => "L2TP",
        124 => "ISIS",
        132 => "SCTP",
        133 => "FC",
        135 => "MOBILITY-HEADER",
        136 => "UDPLITE",
        137 => "MPLS-IN-IP",
        138 => "MANET",
        139 => "HIP",
        140 => "SHIM6",
        141 => "WESP",
        142 => "ROHC",
        143 => "ETHERNET",
        _ => return None,
    })
}
