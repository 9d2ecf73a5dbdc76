//! ICMPv4 lines of `alert_full`: Snort 2.9 `log_text.c` `LogICMPHeader`, and the original
//! datagram an ICMP error carries (`LogICMPEmbeddedIP` over decode.c's
//! `DecodeICMPEmbeddedIP`).

use std::io::Write;

use super::{be16, be32, write_addrs, write_proto_name, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use crate::decode::{Packet, Transport};

/// `LogICMPHeader` (ICMPv4 only; Snort prints no type line for ICMPv6).
pub(super) fn write_icmp(out: &mut Vec<u8>, p: &Packet<'_>) {
    let Transport::Icmp {
        itype,
        icode,
        id,
        seq,
    } = p.transport
    else {
        out.extend_from_slice(b"ICMP header truncated\n");
        return;
    };
    let h = p.l4_header;
    let _ = write!(out, "Type:{itype}  Code:{icode}  ");
    let _ = match itype {
        0 => write!(out, "ID:{id}  Seq:{seq}  ECHO REPLY"),
        3 => {
            out.extend_from_slice(b"DESTINATION UNREACHABLE: ");
            let _ = match icode {
                0 => write!(out, "NET UNREACHABLE"),
                1 => write!(out, "HOST UNREACHABLE"),
                2 => write!(out, "PROTOCOL UNREACHABLE"),
                3 => write!(out, "PORT UNREACHABLE"),
                4 => write!(
                    out,
                    "FRAGMENTATION NEEDED, DF SET\nNEXT LINK MTU: {}",
                    be16(h, 6)
                ),
                5 => write!(out, "SOURCE ROUTE FAILED"),
                6 => write!(out, "NET UNKNOWN"),
                7 => write!(out, "HOST UNKNOWN"),
                8 => write!(out, "HOST ISOLATED"),
                9 => write!(out, "ADMINISTRATIVELY PROHIBITED NETWORK FILTERED"),
                10 => write!(out, "ADMINISTRATIVELY PROHIBITED HOST FILTERED"),
                11 => write!(out, "NET UNREACHABLE FOR TOS"),
                12 => write!(out, "HOST UNREACHABLE FOR TOS"),
                13 => write!(out, "ADMINISTRATIVELY PROHIBITED,\nPACKET FILTERED"),
                14 => write!(out, "PREC VIOLATION"),
                15 => write!(out, "PREC CUTOFF"),
                _ => write!(out, "UNKNOWN"),
            };
            write_embedded_ip(out, p.payload);
            Ok(())
        }
        4 => {
            out.extend_from_slice(b"SOURCE QUENCH");
            write_embedded_ip(out, p.payload);
            Ok(())
        }
        5 => {
            out.extend_from_slice(b"REDIRECT");
            out.extend_from_slice(match icode {
                0 => b" NET".as_slice(),
                1 => b" HOST",
                2 => b" TOS NET",
                3 => b" TOS HOST",
                _ => b"",
            });
            let gw = std::net::Ipv4Addr::from(be32(h, 4));
            let _ = write!(out, " NEW GW: {gw}");
            write_embedded_ip(out, p.payload);
            Ok(())
        }
        8 => write!(out, "ID:{id}   Seq:{seq}  ECHO"),
        9 => write!(
            out,
            "ROUTER ADVERTISMENT: Num addrs: {} Addr entry size: {} Lifetime: {}",
            h.get(4).copied().unwrap_or(0),
            h.get(5).copied().unwrap_or(0),
            be16(h, 6)
        ),
        10 => write!(out, "ROUTER SOLICITATION"),
        11 => {
            out.extend_from_slice(b"TTL EXCEEDED");
            out.extend_from_slice(match icode {
                0 => b" IN TRANSIT".as_slice(),
                1 => b" TIME EXCEEDED IN FRAG REASSEMBLY",
                _ => b"",
            });
            write_embedded_ip(out, p.payload);
            Ok(())
        }
        12 => {
            out.extend_from_slice(b"PARAMETER PROBLEM");
            let _ = match icode {
                0 => write!(
                    out,
                    ": BAD IP HEADER BYTE {}",
                    h.get(4).copied().unwrap_or(0)
                ),
                1 => write!(out, ": OPTION MISSING"),
                2 => write!(out, ": BAD LENGTH"),
                _ => Ok(()),
            };
            write_embedded_ip(out, p.payload);
            Ok(())
        }
        13 => write!(out, "ID: {id}  Seq: {seq}  TIMESTAMP REQUEST"),
        14 => {
            // log_text.c prints the three timestamps without ntohl: the raw bytes read as a
            // little-endian (x86) integer.
            let le = |at: usize| {
                let b = |i| p.payload.get(at + i).copied().unwrap_or(0);
                u32::from_le_bytes([b(0), b(1), b(2), b(3)])
            };
            write!(
                out,
                "ID: {id}  Seq: {seq}  TIMESTAMP REPLY:\nOrig: {} Rtime: {}  Ttime: {}",
                le(0),
                le(4),
                le(8)
            )
        }
        15 => write!(out, "ID: {id}  Seq: {seq}  INFO REQUEST"),
        16 => write!(out, "ID: {id}  Seq: {seq}  INFO REPLY"),
        17 => write!(out, "ID: {id}  Seq: {seq}  ADDRESS REQUEST"),
        18 => write!(
            out,
            "ID: {id}  Seq: {seq}  ADDRESS REPLY: 0x{:08X}",
            be32(p.payload, 0)
        ),
        _ => write!(out, "UNKNOWN"),
    };
    out.push(b'\n');
}

/// `LogICMPEmbeddedIP` over Snort decode.c `DecodeICMPEmbeddedIP`'s view of the original
/// datagram carried by an ICMP error.
fn write_embedded_ip(out: &mut Vec<u8>, orig: &[u8]) {
    let version_ok = orig.first().is_some_and(|b| b >> 4 == 4);
    let hlen = usize::from(orig.first().copied().unwrap_or(0) & 0x0f) * 4;
    if orig.len() < 20 || !version_ok || orig.len() < hlen {
        out.extend_from_slice(b"\nORIGINAL DATAGRAM TRUNCATED");
        return;
    }
    let proto = orig.get(9).copied().unwrap_or(0);
    let off = be16(orig, 6);
    // Only an unfragmented-offset original with 8 payload bytes has its transport decoded.
    let l4 = orig
        .get(hlen..)
        .filter(|l4| off & 0x1fff == 0 && l4.len() >= 8);
    let ports = match (proto, l4) {
        (PROTO_TCP | PROTO_UDP, Some(l4)) => Some((be16(l4, 0), be16(l4, 2))),
        (PROTO_TCP | PROTO_UDP, None) => Some((0, 0)),
        _ => None,
    };
    out.extend_from_slice(b"\n** ORIGINAL DATAGRAM DUMP:\n");
    let src = std::net::Ipv4Addr::from(be32(orig, 12));
    let dst = std::net::Ipv4Addr::from(be32(orig, 16));
    write_addrs(out, src.into(), dst.into(), ports);
    out.push(b'\n');
    write_proto_name(out, proto);
    let _ = write!(
        out,
        " TTL:{} TOS:0x{:X} ID:{} IpLen:{} DgmLen:{}",
        orig.get(8).copied().unwrap_or(0),
        orig.get(1).copied().unwrap_or(0),
        be16(orig, 4),
        hlen,
        be16(orig, 2)
    );
    for (bit, s) in [(0x8000, " RB"), (0x4000, " DF"), (0x2000, " MF")] {
        if off & bit != 0 {
            out.extend_from_slice(s.as_bytes());
        }
    }
    out.push(b'\n');
    match (proto, l4) {
        (PROTO_TCP, Some(l4)) => {
            let _ = writeln!(out, "Seq: 0x{:X}", be32(l4, 4));
        }
        (PROTO_UDP, Some(l4)) => {
            let _ = writeln!(
                out,
                "Len: {}  Csum: {}",
                i32::from(be16(l4, 4)) - 8,
                be16(l4, 6)
            );
        }
        (PROTO_ICMP, Some(l4)) => write_embedded_icmp(out, l4),
        (PROTO_TCP | PROTO_UDP | PROTO_ICMP, None) => {}
        _ => {
            let _ = write!(out, "Protocol: 0x{proto:X} (unknown or header truncated)");
        }
    }
    let more = orig.len() - hlen;
    if more > 8 {
        let _ = writeln!(out, "({} more bytes of original packet)", more - 8);
    }
    out.extend_from_slice(b"** END OF DUMP");
}

/// `LogEmbeddedICMPHeader`.
fn write_embedded_icmp(out: &mut Vec<u8>, h: &[u8]) {
    let (t, c) = (
        h.first().copied().unwrap_or(0),
        h.get(1).copied().unwrap_or(0),
    );
    let _ = write!(out, "Type: {t}  Code: {c}  Csum: {}", be16(h, 2));
    let _ = match t {
        12 if c == 0 => write!(out, "  Ptr: {}", h.get(4).copied().unwrap_or(0)),
        0 | 8 | 13..=18 => write!(out, "  Id: {}  SeqNo: {}", be16(h, 4), be16(h, 6)),
        9 => write!(
            out,
            "  Addrs: {}  Size: {}  Lifetime: {}",
            h.get(4).copied().unwrap_or(0),
            h.get(5).copied().unwrap_or(0),
            be16(h, 6)
        ),
        // Redirect: Snort 2.9 built with IPv6 support prints no gateway here.
        _ => Ok(()),
    };
    out.push(b'\n');
}
