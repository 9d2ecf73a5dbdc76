//! The network and transport layers of [`super::decode`]: IPv4 (options, fragments), IPv6
//! (extension headers, fragments), TCP/UDP/ICMP/ICMPv6 headers, and checksums. Same contract
//! as the parent: bounds-checked reads only, no allocation, no panic.

use std::net::IpAddr;

use super::{arr16, arr4, be16, be32, byte, tail, DecodeError, DecodeOptions, Frag, Transport};

/// The network-layer part of a packet.
pub(super) struct Ip<'a> {
    pub(super) version: u8,
    pub(super) src: IpAddr,
    pub(super) dst: IpAddr,
    pub(super) header: &'a [u8],
    pub(super) proto: u8,
    pub(super) ttl: u8,
    pub(super) tos: u8,
    pub(super) id: u32,
    pub(super) total_len: u32,
    pub(super) frag: Frag,
    pub(super) anomaly: Option<DecodeError>,
    pub(super) l4: L4<'a>,
}

/// The transport part of a packet.
pub(super) struct L4<'a> {
    pub(super) transport: Transport,
    pub(super) header: &'a [u8],
    pub(super) payload: &'a [u8],
    pub(super) anomaly: Option<DecodeError>,
}

impl<'a> L4<'a> {
    fn none(payload: &'a [u8], anomaly: Option<DecodeError>) -> Self {
        L4 {
            transport: Transport::None,
            header: &[],
            payload,
            anomaly,
        }
    }
}

/// How to verify the transport checksum: not at all, or with this pseudo-header seed (the
/// pseudo-header's one's-complement partial sum minus its length field, added per protocol).
#[derive(Clone, Copy)]
enum Verify {
    No,
    V4 { src: [u8; 4], dst: [u8; 4] },
    V6 { src: [u8; 16], dst: [u8; 16] },
}

impl Verify {
    fn pseudo(self, proto: u8, len: usize) -> u64 {
        let len = len as u64;
        match self {
            Verify::No => 0,
            Verify::V4 { src, dst } => sum_words(&src) + sum_words(&dst) + u64::from(proto) + len,
            Verify::V6 { src, dst } => sum_words(&src) + sum_words(&dst) + u64::from(proto) + len,
        }
    }
}

pub(super) fn ipv4(d: &[u8], cut: bool, opts: DecodeOptions) -> Result<Ip<'_>, DecodeError> {
    // version/ihl(1) tos(1) total length(2) id(2) flags/offset(2) ttl(1) proto(1) csum(2)
    // src(4) dst(4) options(ihl*4 - 20)
    if d.len() < 20 {
        return Err(DecodeError::TruncatedIp);
    }
    if byte(d, 0) >> 4 != 4 {
        return Err(DecodeError::BadIpVersion);
    }
    let hlen = usize::from(byte(d, 0) & 0x0f) * 4;
    if hlen < 20 {
        return Err(DecodeError::BadIpHeaderLength);
    }
    if hlen > d.len() {
        return Err(DecodeError::TruncatedIp);
    }
    let total = usize::from(be16(d, 2));
    if total < hlen {
        return Err(DecodeError::BadIpTotalLength);
    }
    let mut anomaly = None;
    // Snort decode.c: the datagram ends at the IP total length (Ethernet padding ignored).
    let whole = total <= d.len();
    if !whole && !cut {
        // The length field claims more than the frame held, and no snaplen explains it.
        anomaly = Some(DecodeError::BadIpTotalLength);
    }
    let end = total.min(d.len());
    let off = be16(d, 6);
    let frag = Frag {
        rb: off & 0x8000 != 0,
        df: off & 0x4000 != 0,
        mf: off & 0x2000 != 0,
        offset: off & 0x1fff,
    };
    let src = arr4(d, 12);
    let dst = arr4(d, 16);
    let header = d.get(..hlen).unwrap_or(&[]);
    if opts.checksums && anomaly.is_none() && fold(sum_words(header)) != 0xffff {
        anomaly = Some(DecodeError::BadIpv4Checksum);
    }
    let verify = if opts.checksums && whole && anomaly.is_none() && !frag.is_fragment() {
        Verify::V4 { src, dst }
    } else {
        Verify::No
    };
    let proto = byte(d, 9);
    let seg = d.get(hlen..end).unwrap_or(&[]);
    let l4 = transport(proto, seg, frag, whole, verify);
    Ok(Ip {
        version: 4,
        src: IpAddr::from(src),
        dst: IpAddr::from(dst),
        header,
        proto,
        ttl: byte(d, 8),
        tos: byte(d, 1),
        id: u32::from(be16(d, 4)),
        total_len: total as u32,
        frag,
        anomaly,
        l4,
    })
}

const MAX_IPV6_EXT_HEADERS: usize = 16;

pub(super) fn ipv6(d: &[u8], cut: bool, opts: DecodeOptions) -> Result<Ip<'_>, DecodeError> {
    // version/class/flow(4) payload length(2) next header(1) hop limit(1) src(16) dst(16)
    if d.len() < 40 {
        return Err(DecodeError::TruncatedIp);
    }
    if byte(d, 0) >> 4 != 6 {
        return Err(DecodeError::BadIpVersion);
    }
    let plen = usize::from(be16(d, 4));
    let mut nh = byte(d, 6);
    let mut anomaly = None;
    // A jumbogram (RFC 2675) has payload length 0 and its real length in a hop-by-hop
    // option; take what was captured.
    let jumbo = plen == 0 && nh == 0;
    let total = if jumbo { d.len() } else { 40 + plen };
    let whole = total <= d.len() && !(jumbo && cut);
    if total > d.len() && !cut {
        anomaly = Some(DecodeError::BadIpTotalLength);
    }
    let end = total.min(d.len());
    let dgram = d.get(..end).unwrap_or(&[]);
    let src = arr16(d, 8);
    let dst = arr16(d, 24);

    let mut off = 40;
    let mut frag = Frag::default();
    let mut id = 0;
    let mut ext_truncated = false;
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        // Hop-by-hop, routing, destination options, mobility, HIP, shim6: next(1) len(1) in
        // 8-octet units not counting the first.
        let len = match nh {
            0 | 43 | 60 | 135 | 139 | 140 => dgram.get(off + 1).map(|&l| (usize::from(l) + 1) * 8),
            // Fragment: next(1) reserved(1) offset/M(2) identification(4).
            44 => Some(8),
            // AH: length in 4-octet units minus 2.
            51 => dgram.get(off + 1).map(|&l| (usize::from(l) + 2) * 4),
            _ => break,
        };
        let Some(len) = len.filter(|&l| off + l <= dgram.len()) else {
            ext_truncated = true;
            break;
        };
        let next = byte(dgram, off);
        if nh == 44 {
            let fo = be16(dgram, off + 2);
            frag.offset = fo >> 3;
            frag.mf = fo & 1 != 0;
            id = be32(dgram, off + 4);
        }
        nh = next;
        off += len;
        if frag.offset != 0 {
            // The rest of a non-first fragment is not headers we can read.
            break;
        }
    }
    if ext_truncated && anomaly.is_none() {
        anomaly = Some(DecodeError::TruncatedIp);
    }
    let header = dgram.get(..off).unwrap_or(&[]);
    let seg = dgram.get(off..).unwrap_or(&[]);
    let verify = if opts.checksums && whole && anomaly.is_none() && !frag.is_fragment() {
        Verify::V6 { src, dst }
    } else {
        Verify::No
    };
    let l4 = if ext_truncated {
        L4::none(seg, None)
    } else {
        transport(nh, seg, frag, whole, verify)
    };
    // Traffic class: the 8 bits after the version nibble.
    let tos = ((be16(d, 0) >> 4) & 0xff) as u8;
    Ok(Ip {
        version: 6,
        src: IpAddr::from(src),
        dst: IpAddr::from(dst),
        header,
        proto: nh,
        ttl: byte(d, 7),
        tos,
        id,
        total_len: total as u32,
        frag,
        anomaly,
        l4,
    })
}

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;

/// Decodes the transport header in `seg` (the IP payload, limited to the IP length).
/// `whole`: the datagram was captured entirely, so a short segment is a lie, not a cut.
fn transport(proto: u8, seg: &[u8], frag: Frag, whole: bool, verify: Verify) -> L4<'_> {
    if frag.offset != 0 {
        return L4::none(seg, None);
    }
    let truncated = Some(DecodeError::TruncatedTransport);
    let checked = !matches!(verify, Verify::No);
    match proto {
        PROTO_TCP => {
            // sport(2) dport(2) seq(4) ack(4) offset/flags(2) window(2) csum(2) urg(2)
            if seg.len() < 20 {
                return L4::none(seg, truncated);
            }
            let doff = usize::from(byte(seg, 12) >> 4) * 4;
            if doff < 20 {
                return L4::none(seg, Some(DecodeError::BadTcpOffset));
            }
            if doff > seg.len() {
                let kind = if whole {
                    DecodeError::BadTcpOffset
                } else {
                    DecodeError::TruncatedTransport
                };
                return L4::none(seg, Some(kind));
            }
            let transport = Transport::Tcp {
                sport: be16(seg, 0),
                dport: be16(seg, 2),
                seq: be32(seg, 4),
                ack: be32(seg, 8),
                flags: byte(seg, 13),
                window: be16(seg, 14),
                urg: be16(seg, 18),
            };
            let anomaly = (checked
                && fold(verify.pseudo(PROTO_TCP, seg.len()) + sum_words(seg)) != 0xffff)
                .then_some(DecodeError::BadTcpChecksum);
            L4 {
                transport,
                header: seg.get(..doff).unwrap_or(&[]),
                payload: tail(seg, doff),
                anomaly,
            }
        }
        PROTO_UDP => {
            // sport(2) dport(2) length(2) csum(2)
            if seg.len() < 8 {
                return L4::none(seg, truncated);
            }
            let ulen = usize::from(be16(seg, 4));
            // Snort decode.c: a UDP length below 8, or above the datagram, kills the header.
            // A fragment's UDP length covers the reassembled datagram, so it is not checked.
            let end = if frag.is_fragment() {
                seg.len()
            } else {
                if ulen < 8 || (whole && ulen > seg.len()) {
                    return L4::none(seg, truncated);
                }
                ulen.min(seg.len())
            };
            let csum = be16(seg, 6);
            let v4 = matches!(verify, Verify::V4 { .. });
            let anomaly = (checked
                && !(v4 && csum == 0)
                && fold(
                    verify.pseudo(PROTO_UDP, ulen) + sum_words(seg.get(..ulen).unwrap_or(&[])),
                ) != 0xffff)
                .then_some(DecodeError::BadUdpChecksum);
            L4 {
                transport: Transport::Udp {
                    sport: be16(seg, 0),
                    dport: be16(seg, 2),
                    len: ulen as u16,
                },
                header: seg.get(..8).unwrap_or(&[]),
                payload: seg.get(8..end).unwrap_or(&[]),
                anomaly,
            }
        }
        PROTO_ICMP => {
            // type(1) code(1) csum(2) rest of header(4)
            if seg.len() < 8 {
                return L4::none(seg, truncated);
            }
            let anomaly =
                (checked && fold(sum_words(seg)) != 0xffff).then_some(DecodeError::BadIcmpChecksum);
            L4 {
                transport: Transport::Icmp {
                    itype: byte(seg, 0),
                    icode: byte(seg, 1),
                    id: be16(seg, 4),
                    seq: be16(seg, 6),
                },
                header: seg.get(..8).unwrap_or(&[]),
                payload: tail(seg, 8),
                anomaly,
            }
        }
        PROTO_ICMPV6 => {
            // type(1) code(1) csum(2) [id(2) seq(2) for echo]
            if seg.len() < 4 {
                return L4::none(seg, truncated);
            }
            let hl = seg.len().min(8);
            let anomaly = (checked
                && fold(verify.pseudo(PROTO_ICMPV6, seg.len()) + sum_words(seg)) != 0xffff)
                .then_some(DecodeError::BadIcmpChecksum);
            L4 {
                transport: Transport::Icmpv6 {
                    itype: byte(seg, 0),
                    icode: byte(seg, 1),
                    id: be16(seg, 4),
                    seq: be16(seg, 6),
                },
                header: seg.get(..hl).unwrap_or(&[]),
                payload: tail(seg, hl),
                anomaly,
            }
        }
        _ => L4::none(seg, None),
    }
}

/// One's-complement sum of big-endian 16-bit words (odd length padded with zero), unfolded.
pub(super) fn sum_words(b: &[u8]) -> u64 {
    // Big-endian 32-bit words: folding `hi << 16 | lo` later adds `hi` and `lo`, so this is the
    // 16-bit one's-complement sum in half the steps (and the loop vectorises).
    let mut quads = b.chunks_exact(4);
    let mut sum: u64 = quads
        .by_ref()
        .map(|q| {
            u64::from(u32::from_be_bytes([
                byte(q, 0),
                byte(q, 1),
                byte(q, 2),
                byte(q, 3),
            ]))
        })
        .sum();
    let mut pairs = quads.remainder().chunks_exact(2);
    sum += pairs
        .by_ref()
        .map(|w| u64::from(u16::from_be_bytes([byte(w, 0), byte(w, 1)])))
        .sum::<u64>();
    if let [last] = pairs.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// Folds a sum to 16 bits; a correct checksum region folds to 0xffff.
pub(super) fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}
