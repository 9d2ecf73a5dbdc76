//! One conversation between two hosts, for `investigate`: header decoding with etherparse
//! (lax, so a snaplen-cut frame still yields its headers), per-direction counters, TCP
//! handshake tracking, the verdict sentence and tcpdump-like one-line summaries. No I/O.

use std::fmt::Write as _;
use std::net::IpAddr;

use etherparse::{LaxNetSlice, LaxSlicedPacket, TcpOptionElement, TransportSlice};

use super::alert::Direction;
use super::Time;

/// The header fields the conversation needs.
pub(crate) struct Headers {
    src: IpAddr,
    dst: IpAddr,
    v6: bool,
    ip_proto: u8,
    tcp: Option<Tcp>,
    /// UDP ports.
    udp: Option<(u16, u16)>,
    /// ICMP type and code.
    icmp: Option<(u8, u8)>,
    /// Transport payload length (from the IP lengths, not the captured bytes).
    payload: u64,
}

struct Tcp {
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    win: u16,
    flags: u16,
    options: String,
}

const FIN: u16 = 1;
const SYN: u16 = 2;
const RST: u16 = 4;
const PSH: u16 = 8;
const ACK: u16 = 16;
const URG: u16 = 32;
const ECE: u16 = 64;
const CWR: u16 = 128;

pub(crate) fn decode(linktype: u32, data: &[u8]) -> Option<Headers> {
    let p = match linktype {
        1 => LaxSlicedPacket::from_ethernet(data).ok()?,
        // DLT_NULL / DLT_LOOP: 4-byte address family, then IP.
        0 | 108 => LaxSlicedPacket::from_ip(data.get(4..)?).ok()?,
        // LINKTYPE_RAW, IPV4, IPV6 (and the BSD DLT_RAW numbers).
        101 | 12 | 14 | 228 | 229 => LaxSlicedPacket::from_ip(data).ok()?,
        113 => {
            // Linux SLL: 16-byte header, protocol in the last two bytes.
            let et = u16::from_be_bytes([*data.get(14)?, *data.get(15)?]);
            LaxSlicedPacket::from_ether_type(etherparse::EtherType(et), data.get(16..)?)
        }
        _ => return None,
    };
    let (src, dst, v6, ip_proto, ip_payload_len) = match p.net.as_ref()? {
        LaxNetSlice::Ipv4(ip) => {
            let h = ip.header();
            let len = u64::from(h.total_len()).saturating_sub(u64::from(h.ihl()) * 4);
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                false,
                ip.payload().ip_number.0,
                len,
            )
        }
        LaxNetSlice::Ipv6(ip) => {
            let pl = ip.payload();
            (
                IpAddr::V6(ip.header().source_addr()),
                IpAddr::V6(ip.header().destination_addr()),
                true,
                pl.ip_number.0,
                pl.payload.len() as u64,
            )
        }
        LaxNetSlice::Arp(_) => return None,
    };
    let mut h = Headers {
        src,
        dst,
        v6,
        ip_proto,
        tcp: None,
        udp: None,
        icmp: None,
        payload: ip_payload_len,
    };
    match &p.transport {
        Some(TransportSlice::Tcp(t)) => {
            let flags = [
                (t.fin(), FIN),
                (t.syn(), SYN),
                (t.rst(), RST),
                (t.psh(), PSH),
                (t.ack(), ACK),
                (t.urg(), URG),
                (t.ece(), ECE),
                (t.cwr(), CWR),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .fold(0, |acc, (_, bit)| acc | bit);
            h.payload = if v6 {
                t.payload().len() as u64
            } else {
                ip_payload_len.saturating_sub(t.header_len() as u64)
            };
            h.tcp = Some(Tcp {
                sport: t.source_port(),
                dport: t.destination_port(),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                win: t.window_size(),
                flags,
                options: tcp_options(t),
            });
        }
        Some(TransportSlice::Udp(u)) => {
            h.udp = Some((u.source_port(), u.destination_port()));
            h.payload = ip_payload_len.saturating_sub(8);
        }
        Some(TransportSlice::Icmpv4(i)) => {
            h.icmp = Some((i.type_u8(), i.code_u8()));
            h.payload = ip_payload_len.saturating_sub(i.header_len() as u64);
        }
        Some(TransportSlice::Icmpv6(i)) => {
            h.icmp = Some((i.type_u8(), i.code_u8()));
            h.payload = ip_payload_len.saturating_sub(i.header_len() as u64);
        }
        _ => {}
    }
    Some(h)
}

/// tcpdump's rendering of TCP options (`print-tcp.c`).
fn tcp_options(t: &etherparse::TcpSlice<'_>) -> String {
    let mut parts = Vec::new();
    for o in t.options_iterator() {
        match o {
            Ok(TcpOptionElement::Noop) => parts.push("nop".to_string()),
            Ok(TcpOptionElement::MaximumSegmentSize(m)) => parts.push(format!("mss {m}")),
            Ok(TcpOptionElement::WindowScale(s)) => parts.push(format!("wscale {s}")),
            Ok(TcpOptionElement::SelectiveAcknowledgementPermitted) => {
                parts.push("sackOK".to_string())
            }
            Ok(TcpOptionElement::SelectiveAcknowledgement(first, rest)) => {
                let n = 1 + rest.iter().flatten().count();
                let mut s = format!("sack {n} {{{}:{}}}", first.0, first.1);
                for (l, r) in rest.iter().flatten() {
                    let _ = write!(s, "{{{l}:{r}}}");
                }
                parts.push(s);
            }
            Ok(TcpOptionElement::Timestamp(v, e)) => parts.push(format!("TS val {v} ecr {e}")),
            Err(_) => {
                parts.push("bad opt".to_string());
                break;
            }
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(", options [{}]", parts.join(","))
    }
}

/// Conversation state between `a` (the alert's source) and `b`.
pub(crate) struct Conversation {
    a: IpAddr,
    b: IpAddr,
    pub(crate) ab: Direction,
    pub(crate) ba: Direction,
    /// TCP connections by (a's port, b's port): SYN seen from a / b, SYN-ACK from b / a,
    /// completed.
    conns: Vec<((u16, u16), [bool; 5])>,
    pub(crate) lines: Vec<String>,
}

impl Conversation {
    pub(crate) fn new(a: IpAddr, b: IpAddr) -> Self {
        Conversation {
            a,
            b,
            ab: Direction::default(),
            ba: Direction::default(),
            conns: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// Accounts a packet if it is between a and b; returns whether it was.
    pub(crate) fn add(&mut self, ts: Time, h: &Headers) -> bool {
        let from_a = if h.src == self.a && h.dst == self.b {
            true
        } else if h.src == self.b && h.dst == self.a {
            false
        } else {
            return false;
        };
        let d = if from_a { &mut self.ab } else { &mut self.ba };
        d.packets += 1;
        d.payload_bytes += h.payload;
        if let Some(t) = &h.tcp {
            d.syn += u64::from(t.flags & SYN != 0);
            d.fin += u64::from(t.flags & FIN != 0);
            d.rst += u64::from(t.flags & RST != 0);
            let key = if from_a {
                (t.sport, t.dport)
            } else {
                (t.dport, t.sport)
            };
            let i = match self.conns.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    self.conns.push((key, [false; 5]));
                    self.conns.len() - 1
                }
            };
            let s = &mut self.conns[i].1;
            // [0] SYN from a, [1] SYN-ACK from b, [2] SYN from b, [3] SYN-ACK from a, [4] done.
            let (syn, synack) = (
                t.flags & (SYN | ACK) == SYN,
                t.flags & (SYN | ACK) == SYN | ACK,
            );
            let pure_ack = t.flags & (SYN | ACK | RST) == ACK;
            match (from_a, syn, synack) {
                (true, true, _) => s[0] = true,
                (false, true, _) => s[2] = true,
                (false, _, true) if s[0] => s[1] = true,
                (true, _, true) if s[2] => s[3] = true,
                _ => {}
            }
            if pure_ack && ((from_a && s[1]) || (!from_a && s[3])) {
                s[4] = true;
            }
        }
        self.lines.push(line(ts, h));
        true
    }

    pub(crate) fn handshake(&self) -> bool {
        self.conns.iter().any(|(_, s)| s[4])
    }

    pub(crate) fn verdict(&self, dport: Option<u64>) -> String {
        let (a, b, ab, ba) = (self.a, self.b, self.ab, self.ba);
        let dst = dport
            .filter(|p| *p > 0)
            .map_or_else(|| b.to_string(), |p| format!("{b}:{p}"));
        let plural = |n: u64, w: &str| {
            if n == 1 {
                format!("{n} {w}")
            } else {
                format!("{n} {w}s")
            }
        };
        let mut v = if ab.packets > 0 && ab.syn == ab.packets {
            format!("{a} sent {} to {dst}", plural(ab.syn, "SYN"))
        } else {
            format!("{a} sent {} to {dst}", plural(ab.packets, "packet"))
        };
        if ba.packets == 0 {
            v.push_str(", no reply");
        } else if ba.rst > 0 && ba.rst == ba.packets {
            let _ = write!(v, ", {b} answered only with {}", plural(ba.rst, "RST"));
        } else {
            let _ = write!(v, ", {b} answered with {}", plural(ba.packets, "packet"));
        }
        if ab.payload_bytes == 0 && ba.payload_bytes == 0 {
            v.push_str(", 0 payload bytes either way");
        } else {
            let _ = write!(
                v,
                ", {} payload bytes {a} -> {b} and {} {b} -> {a}",
                ab.payload_bytes, ba.payload_bytes
            );
        }
        if self.handshake() {
            v.push_str("; a TCP connection was made");
            if ab.payload_bytes > 0 {
                v.push_str(" and data left");
            }
        } else if !self.conns.is_empty() {
            v.push_str("; no connection was made");
        } else if ba.packets == 0 {
            v.push_str("; the remote side never answered");
        }
        v
    }
}

/// One tcpdump-like line (`tcpdump -S -nn` style, UTC).
fn line(ts: Time, h: &Headers) -> String {
    let ip = if h.v6 { "IP6" } else { "IP" };
    let t = ts.to_utc().format("%H:%M:%S%.6f");
    if let Some(tcp) = &h.tcp {
        // tcpdump's flag order: F S R P . U E W
        let mut f = String::new();
        for (bit, c) in [
            (FIN, 'F'),
            (SYN, 'S'),
            (RST, 'R'),
            (PSH, 'P'),
            (ACK, '.'),
            (URG, 'U'),
            (ECE, 'E'),
            (CWR, 'W'),
        ] {
            if tcp.flags & bit != 0 {
                f.push(c);
            }
        }
        if f.is_empty() {
            f.push_str("none");
        }
        let mut s = format!(
            "{t} {ip} {}.{} > {}.{}: Flags [{f}]",
            h.src, tcp.sport, h.dst, tcp.dport
        );
        if h.payload > 0 {
            let _ = write!(
                s,
                ", seq {}:{}",
                tcp.seq,
                tcp.seq.wrapping_add(h.payload as u32)
            );
        } else if tcp.flags & (SYN | FIN | RST) != 0 || tcp.flags & ACK == 0 {
            let _ = write!(s, ", seq {}", tcp.seq);
        }
        if tcp.flags & ACK != 0 {
            let _ = write!(s, ", ack {}", tcp.ack);
        }
        let _ = write!(s, ", win {}{}, length {}", tcp.win, tcp.options, h.payload);
        return s;
    }
    if let Some((sp, dp)) = h.udp {
        return format!(
            "{t} {ip} {}.{sp} > {}.{dp}: UDP, length {}",
            h.src, h.dst, h.payload
        );
    }
    if let Some((ty, code)) = h.icmp {
        let proto = if h.v6 { "ICMP6" } else { "ICMP" };
        return format!(
            "{t} {ip} {} > {}: {proto} type {ty} code {code}, length {}",
            h.src, h.dst, h.payload
        );
    }
    format!(
        "{t} {ip} {} > {}: ip-proto-{} {}",
        h.src, h.dst, h.ip_proto, h.payload
    )
}
