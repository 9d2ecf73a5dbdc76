//! One conversation between two hosts, for `investigate`: the headers it needs from the
//! product's one decoder ([`crate::decode`], so every link type the sensor alerts on —
//! Ethernet with VLANs and PPPoE, Linux SLL/SLL2, raw IP, NULL/LOOP — investigates too),
//! per-direction counters, TCP handshake tracking, the verdict sentence and tcpdump-like
//! one-line summaries. No I/O.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::alert::Direction;
use super::Time;
use crate::decode::{self, DecodeOptions, Transport};

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

/// The headers of one frame of `linktype`; `None` when it carries no IP header. Checksums
/// are not verified: evidence is shown as captured. A snaplen-cut frame still yields its
/// addresses, and its headers as far as they were captured.
pub(crate) fn decode(linktype: u32, data: &[u8], wire_len: u32) -> Option<Headers> {
    let lt = i32::try_from(linktype).ok()?;
    let p = decode::decode(lt, 0, 0, wire_len, data, DecodeOptions { checksums: false }).ok()?;
    let v6 = p.ip_version == 6;
    // Lengths from the IP header (a snaplen cut leaves them intact).
    let ip_payload = u64::from(p.ip_total_len).saturating_sub(p.ip_header.len() as u64);
    let mut h = Headers {
        src: p.src,
        dst: p.dst,
        v6,
        ip_proto: p.ip_proto,
        tcp: None,
        udp: None,
        icmp: None,
        payload: ip_payload.saturating_sub(p.l4_header.len() as u64),
    };
    match p.transport {
        Transport::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
            ..
        } => {
            h.tcp = Some(Tcp {
                sport,
                dport,
                seq,
                ack,
                win: window,
                flags: u16::from(flags),
                options: tcp_options(p.l4_header.get(20..).unwrap_or(&[])),
            });
        }
        Transport::Udp { sport, dport, .. } => h.udp = Some((sport, dport)),
        Transport::Icmp { itype, icode, .. } | Transport::Icmpv6 { itype, icode, .. } => {
            h.icmp = Some((itype, icode));
        }
        Transport::None => {}
    }
    Some(h)
}

/// tcpdump's rendering of TCP options (`print-tcp.c`) for the kinds it names; a malformed or
/// unknown option ends the list with `bad opt`.
fn tcp_options(mut o: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some(&kind) = o.first() {
        if kind == 0 {
            break; // end of option list
        }
        if kind == 1 {
            parts.push("nop".to_string());
            o = &o[1..];
            continue;
        }
        let len = usize::from(o.get(1).copied().unwrap_or(0));
        let Some(v) = o.get(2..len.max(2)).filter(|_| len >= 2) else {
            parts.push("bad opt".to_string());
            break;
        };
        let be16 = |i: usize| u16::from_be_bytes([v[i], v[i + 1]]);
        let be32 = |i: usize| u32::from_be_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
        match (kind, v.len()) {
            (2, 2) => parts.push(format!("mss {}", be16(0))),
            (3, 1) => parts.push(format!("wscale {}", v[0])),
            (4, 0) => parts.push("sackOK".to_string()),
            (5, n) if n > 0 && n % 8 == 0 && n <= 32 => {
                let mut s = format!("sack {} ", n / 8);
                for i in (0..n).step_by(8) {
                    let _ = write!(s, "{{{}:{}}}", be32(i), be32(i + 4));
                }
                parts.push(s);
            }
            (8, 8) => parts.push(format!("TS val {} ecr {}", be32(0), be32(4))),
            _ => {
                parts.push("bad opt".to_string());
                break;
            }
        }
        o = &o[len..];
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
