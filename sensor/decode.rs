//! Zero-copy packet views: link layer → IPv4/IPv6 → TCP/UDP/ICMP/ICMPv6, and the summary
//! detection and output need.
//!
//! Contract: decoding never panics and never allocates; every field of [`Packet`] borrows from
//! the captured frame. A frame that cannot be decoded yields a [`DecodeError`] kind to count.
//! Every read goes through the bounds-checked helpers at the bottom of this file (`get`, never
//! indexing), so no byte pattern can panic.
//!
//! Hand-parsed rather than through etherparse's sliced packets: Snort's semantics need
//! control the generic slicer does not give (decode the transport header of a first fragment,
//! keep addresses when the transport is cut, tell a snaplen cut from a lying length field,
//! verify checksums only on whole datagrams). Snort 2.9 `decode.c` is the reference.
//! Not owned here: what a packet means for rules (`detect`), how it prints (`output`).

use std::net::IpAddr;

/// pcap link types this decoder understands.
pub mod linktype {
    pub const NULL: i32 = 0;
    pub const ETHERNET: i32 = 1;
    pub const RAW: i32 = 101;
    pub const LOOP: i32 = 108;
    pub const LINUX_SLL: i32 = 113;
    pub const IPV4: i32 = 228;
    pub const IPV6: i32 = 229;
    pub const LINUX_SLL2: i32 = 276;
    /// Raw IP on some BSDs (DLT_RAW = 12/14).
    pub const RAW_BSD12: i32 = 12;
    pub const RAW_BSD14: i32 = 14;
}

/// Why a frame could not be (fully) decoded. Small and `Copy`: counted, never logged per packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DecodeError {
    UnsupportedLinkType,
    TruncatedLink,
    /// Link layer fine, but not IPv4/IPv6 (ARP, LLDP, …). Not an error for the stats' sake,
    /// but counted separately.
    NotIp,
    TruncatedIp,
    BadIpVersion,
    BadIpHeaderLength,
    BadIpTotalLength,
    TruncatedTransport,
    BadTcpOffset,
    BadIpv4Checksum,
    BadTcpChecksum,
    BadUdpChecksum,
    BadIcmpChecksum,
}

impl DecodeError {
    pub const ALL: [DecodeError; 13] = [
        DecodeError::UnsupportedLinkType,
        DecodeError::TruncatedLink,
        DecodeError::NotIp,
        DecodeError::TruncatedIp,
        DecodeError::BadIpVersion,
        DecodeError::BadIpHeaderLength,
        DecodeError::BadIpTotalLength,
        DecodeError::TruncatedTransport,
        DecodeError::BadTcpOffset,
        DecodeError::BadIpv4Checksum,
        DecodeError::BadTcpChecksum,
        DecodeError::BadUdpChecksum,
        DecodeError::BadIcmpChecksum,
    ];

    pub fn is_checksum(self) -> bool {
        matches!(
            self,
            DecodeError::BadIpv4Checksum
                | DecodeError::BadTcpChecksum
                | DecodeError::BadUdpChecksum
                | DecodeError::BadIcmpChecksum
        )
    }

    /// Stable snake_case name used in stats output.
    pub fn name(self) -> &'static str {
        match self {
            DecodeError::UnsupportedLinkType => "unsupported_linktype",
            DecodeError::TruncatedLink => "truncated_link",
            DecodeError::NotIp => "not_ip",
            DecodeError::TruncatedIp => "truncated_ip",
            DecodeError::BadIpVersion => "bad_ip_version",
            DecodeError::BadIpHeaderLength => "bad_ip_header_length",
            DecodeError::BadIpTotalLength => "bad_ip_total_length",
            DecodeError::TruncatedTransport => "truncated_transport",
            DecodeError::BadTcpOffset => "bad_tcp_offset",
            DecodeError::BadIpv4Checksum => "bad_ipv4_checksum",
            DecodeError::BadTcpChecksum => "bad_tcp_checksum",
            DecodeError::BadUdpChecksum => "bad_udp_checksum",
            DecodeError::BadIcmpChecksum => "bad_icmp_checksum",
        }
    }
}

/// IPv4 fragmentation fields (IPv6: from the Fragment extension header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Frag {
    /// Reserved bit (IPv4 only).
    pub rb: bool,
    pub df: bool,
    pub mf: bool,
    /// Fragment offset in 8-byte units.
    pub offset: u16,
}

impl Frag {
    /// True for any fragment (first or later). Snort prints no ports for fragments.
    pub fn is_fragment(&self) -> bool {
        self.mf || self.offset != 0
    }
}

/// The transport header, when one was decoded (never for non-first fragments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    None,
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        urg: u16,
    },
    Udp {
        sport: u16,
        dport: u16,
        len: u16,
    },
    /// ICMPv4. `id`/`seq` are the bytes 4..8 read as two u16 (meaningful for echo/timestamp…).
    Icmp {
        itype: u8,
        icode: u8,
        id: u16,
        seq: u16,
    },
    Icmpv6 {
        itype: u8,
        icode: u8,
        id: u16,
        seq: u16,
    },
}

/// A decoded packet. Built by [`decode`]; every slice borrows the frame.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub ts_sec: i64,
    pub ts_usec: u32,
    /// Whole captured frame (link layer included).
    pub frame: &'a [u8],
    /// Length on the wire.
    pub wire_len: u32,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// 4 or 6.
    pub ip_version: u8,
    /// IPv4 header including options / IPv6 fixed header plus extension headers.
    pub ip_header: &'a [u8],
    /// Transport protocol number after any IPv6 extension headers.
    pub ip_proto: u8,
    pub ttl: u8,
    pub tos: u8,
    /// IPv4 ID; IPv6 fragment identification (0 when unfragmented).
    pub ip_id: u32,
    /// IPv4 total length; IPv6 payload length + 40.
    pub ip_total_len: u32,
    pub frag: Frag,
    pub transport: Transport,
    /// TCP header with options, UDP/ICMP header (8 bytes); empty when `Transport::None`.
    pub l4_header: &'a [u8],
    /// Transport payload (or IP payload when no transport header was decoded), limited to
    /// what was captured and to what the IP length says.
    pub payload: &'a [u8],
    /// A problem short of fatal: a truncated transport header or bad TCP offset (the packet
    /// still carries its addresses), or a checksum error when validation is on (such packets
    /// are counted and not inspected by rules, see [`DecodeError::is_checksum`]).
    pub anomaly: Option<DecodeError>,
}

impl<'a> Packet<'a> {
    pub fn sport(&self) -> Option<u16> {
        match self.transport {
            Transport::Tcp { sport, .. } | Transport::Udp { sport, .. } => Some(sport),
            _ => None,
        }
    }

    pub fn dport(&self) -> Option<u16> {
        match self.transport {
            Transport::Tcp { dport, .. } | Transport::Udp { dport, .. } => Some(dport),
            _ => None,
        }
    }

    pub fn tcp_flags(&self) -> Option<u8> {
        match self.transport {
            Transport::Tcp { flags, .. } => Some(flags),
            _ => None,
        }
    }
}

/// Options of the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Validate IPv4 header and TCP/UDP/ICMP checksums (Snort's `checksum_mode: all`).
    pub checksums: bool,
}

/// Decodes one frame of the given pcap link type.
///
/// Link layers: Ethernet (with any number, up to 8, of 802.1Q / 802.1ad / 0x9100 / 0x9200 VLAN
/// tags, and PPPoE sessions), Linux SLL and SLL2, raw IP (101, 12, 14), IPv4 (228), IPv6 (229),
/// BSD NULL/LOOP (0, 108; the address family in either byte order).
///
/// Fragments: a non-first fragment carries no transport header (`Transport::None`, the IP
/// payload in `payload`); a first fragment has its transport header decoded (ports for
/// detection) but keeps `frag` so output prints it as Snort does (no ports).
///
/// Checksums are verified only when `opts.checksums` is on, the datagram is not a fragment,
/// and the whole datagram was captured (a snaplen-cut frame cannot be checked).
///
/// # Errors
/// Returns the kind of failure when no IP header can be found or it is unusable. Truncated
/// transport headers still yield a `Packet` with `Transport::None` when the addresses are known
/// (IP-list rules still apply).
///
/// # Panics
/// Never, whatever the bytes.
pub fn decode<'a>(
    linktype: i32,
    ts_sec: i64,
    ts_usec: u32,
    wire_len: u32,
    frame: &'a [u8],
    opts: DecodeOptions,
) -> Result<Packet<'a>, DecodeError> {
    let (l3, net) = link_layer(linktype, frame)?;
    // The capture cut the frame (snaplen): lengths beyond what we hold are expected, not lies.
    let cut = (frame.len() as u64) < u64::from(wire_len);
    let ip = match net {
        Net::V4 => ip::ipv4(l3, cut, opts)?,
        Net::V6 => ip::ipv6(l3, cut, opts)?,
        Net::ByVersion => match l3.first().map(|b| b >> 4) {
            Some(4) => ip::ipv4(l3, cut, opts)?,
            Some(6) => ip::ipv6(l3, cut, opts)?,
            Some(_) => return Err(DecodeError::BadIpVersion),
            None => return Err(DecodeError::TruncatedIp),
        },
    };
    Ok(Packet {
        ts_sec,
        ts_usec,
        frame,
        wire_len,
        src: ip.src,
        dst: ip.dst,
        ip_version: ip.version,
        ip_header: ip.header,
        ip_proto: ip.proto,
        ttl: ip.ttl,
        tos: ip.tos,
        ip_id: ip.id,
        ip_total_len: ip.total_len,
        frag: ip.frag,
        transport: ip.l4.transport,
        l4_header: ip.l4.header,
        payload: ip.l4.payload,
        anomaly: ip.anomaly.or(ip.l4.anomaly),
    })
}

/// VLAN ids of a frame, outermost first (EVE's `vlan` array). At most three are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VlanIds {
    ids: [u16; 3],
    len: u8,
}

impl VlanIds {
    pub fn as_slice(&self) -> &[u16] {
        self.ids.get(..usize::from(self.len)).unwrap_or(&[])
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The 802.1Q/802.1ad VLAN ids in the link header of `frame` (Ethernet, SLL, SLL2).
/// Never panics; other link types have none.
pub fn vlan_ids(linktype: i32, frame: &[u8]) -> VlanIds {
    let mut out = VlanIds::default();
    let Some((mut et, mut rest)) = first_ethertype(linktype, frame) else {
        return out;
    };
    for _ in 0..MAX_VLAN_TAGS {
        if !is_vlan_tpid(et) || rest.len() < 4 {
            break;
        }
        if let Some(slot) = out.ids.get_mut(usize::from(out.len)) {
            *slot = be16(rest, 0) & 0x0fff;
            out.len += 1;
        }
        et = be16(rest, 2);
        rest = tail(rest, 4);
    }
    out
}

/// What the link layer says follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    V4,
    V6,
    /// Raw IP: the version nibble decides.
    ByVersion,
}

const MAX_VLAN_TAGS: usize = 8;

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_PPPOE_SESSION: u16 = 0x8864;

fn is_vlan_tpid(et: u16) -> bool {
    // 802.1Q, 802.1ad (QinQ), and the pre-standard QinQ TPIDs 0x9100/0x9200.
    matches!(et, 0x8100 | 0x88a8 | 0x9100 | 0x9200)
}

/// The first EtherType of a link header that has one, and the bytes after it.
fn first_ethertype(linktype: i32, frame: &[u8]) -> Option<(u16, &[u8])> {
    match linktype {
        // dst(6) src(6) type(2)
        linktype::ETHERNET if frame.len() >= 14 => Some((be16(frame, 12), tail(frame, 14))),
        // pkttype(2) hatype(2) halen(2) addr(8) protocol(2)
        linktype::LINUX_SLL if frame.len() >= 16 => Some((be16(frame, 14), tail(frame, 16))),
        // protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8)
        linktype::LINUX_SLL2 if frame.len() >= 20 => Some((be16(frame, 0), tail(frame, 20))),
        _ => None,
    }
}

/// The IPv4 source and destination of `frame`, read without any check beyond the lengths: a
/// hint for prefetching what detection will look up, before [`decode`] (checksums and all)
/// runs. `None` for anything but IPv4.
pub fn peek_v4_addrs(linktype: i32, frame: &[u8]) -> Option<(u32, u32)> {
    let (l3, net) = link_layer(linktype, frame).ok()?;
    let v4 = match net {
        Net::V4 => true,
        Net::ByVersion => l3.first().is_some_and(|b| b >> 4 == 4),
        Net::V6 => false,
    };
    let a = l3.get(12..20).filter(|_| v4)?;
    Some((
        u32::from_be_bytes([a[0], a[1], a[2], a[3]]),
        u32::from_be_bytes([a[4], a[5], a[6], a[7]]),
    ))
}

/// Protocol, addresses and TCP/UDP ports of an IPv4 `frame` (ports 0 for other protocols and
/// for fragments after the first), read with length checks only: an index key for frames
/// already captured and stored, where [`decode`] in full would be wasted. `None` for anything
/// but a well-formed-looking IPv4 header.
pub fn peek_v4_tuple(linktype: i32, frame: &[u8]) -> Option<(u8, u32, u32, u16, u16)> {
    let (l3, net) = link_layer(linktype, frame).ok()?;
    let v4 = match net {
        Net::V4 => true,
        Net::ByVersion => l3.first().is_some_and(|b| b >> 4 == 4),
        Net::V6 => false,
    };
    if !v4 || l3.len() < 20 || l3[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(l3[0] & 0x0f) * 4;
    if ihl < 20 {
        return None;
    }
    let proto = l3[9];
    let src = u32::from_be_bytes([l3[12], l3[13], l3[14], l3[15]]);
    let dst = u32::from_be_bytes([l3[16], l3[17], l3[18], l3[19]]);
    let later_fragment = u16::from_be_bytes([l3[6], l3[7]]) & 0x1fff != 0;
    let (sp, dp) = match (proto, l3.get(ihl..ihl + 4)) {
        (6 | 17, Some(p)) if !later_fragment => (
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
        ),
        (6 | 17, None) if !later_fragment => return None,
        _ => (0, 0),
    };
    Some((proto, src, dst, sp, dp))
}

fn link_layer(linktype: i32, frame: &[u8]) -> Result<(&[u8], Net), DecodeError> {
    match linktype {
        linktype::ETHERNET | linktype::LINUX_SLL | linktype::LINUX_SLL2 => {
            let (et, rest) = first_ethertype(linktype, frame).ok_or(DecodeError::TruncatedLink)?;
            ethertype_chain(et, rest)
        }
        linktype::RAW | linktype::RAW_BSD12 | linktype::RAW_BSD14 => Ok((frame, Net::ByVersion)),
        linktype::IPV4 => Ok((frame, Net::V4)),
        linktype::IPV6 => Ok((frame, Net::V6)),
        linktype::NULL | linktype::LOOP => {
            let Some(&[a, b, c, d]) = frame.get(..4) else {
                return Err(DecodeError::TruncatedLink);
            };
            // NULL is in the capturing host's byte order, LOOP in network order; files travel
            // between hosts, so accept either. AF_INET is 2 everywhere; AF_INET6 is 10 (Linux),
            // 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
            let le = u32::from_le_bytes([a, b, c, d]);
            let be = u32::from_be_bytes([a, b, c, d]);
            let rest = tail(frame, 4);
            match (le, be) {
                (2, _) | (_, 2) => Ok((rest, Net::V4)),
                (10 | 24 | 28 | 30, _) | (_, 10 | 24 | 28 | 30) => Ok((rest, Net::V6)),
                _ => Err(DecodeError::NotIp),
            }
        }
        _ => Err(DecodeError::UnsupportedLinkType),
    }
}

fn ethertype_chain(mut et: u16, mut rest: &[u8]) -> Result<(&[u8], Net), DecodeError> {
    for _ in 0..=MAX_VLAN_TAGS {
        match et {
            ETH_IPV4 => return Ok((rest, Net::V4)),
            ETH_IPV6 => return Ok((rest, Net::V6)),
            t if is_vlan_tpid(t) => {
                // TCI(2) type(2)
                if rest.len() < 4 {
                    return Err(DecodeError::TruncatedLink);
                }
                et = be16(rest, 2);
                rest = tail(rest, 4);
            }
            ETH_PPPOE_SESSION => {
                // ver/type(1) code(1) session(2) length(2) PPP protocol(2)
                if rest.len() < 8 {
                    return Err(DecodeError::TruncatedLink);
                }
                let net = match be16(rest, 6) {
                    0x0021 => Net::V4,
                    0x0057 => Net::V6,
                    _ => return Err(DecodeError::NotIp),
                };
                return Ok((tail(rest, 8), net));
            }
            _ => return Err(DecodeError::NotIp),
        }
    }
    Err(DecodeError::NotIp)
}

/// The RFC 1071 Internet checksum of `data`, with `seed` (an unfolded one's-complement sum, as
/// [`checksum_sum`] gives for a pseudo-header; 0 for none) added: the value to write in a
/// checksum field that was zero while summing. The one implementation of the sum: the decoder
/// verifies with it, the defragmenter and message builders write with it.
///
/// # Examples
/// ```
/// use nsm_sensor::decode::{checksum_sum, internet_checksum};
/// // RFC 1071 section 3: the words sum to 0xddf2.
/// assert_eq!(internet_checksum(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
/// // A seed is the same as the bytes summed in front (an even number of them).
/// assert_eq!(
///     internet_checksum(checksum_sum(&[0x00, 0x01]), &[0xf2, 0x03]),
///     internet_checksum(0, &[0x00, 0x01, 0xf2, 0x03]),
/// );
/// ```
pub fn internet_checksum(seed: u64, data: &[u8]) -> u16 {
    // Folding the seed first keeps any seed from overflowing the sum.
    !ip::fold(u64::from(ip::fold(seed)) + ip::sum_words(data))
}

/// The unfolded one's-complement sum of `data` as big-endian 16-bit words (odd length padded
/// with zero): a seed for [`internet_checksum`], such as a pseudo-header's sum. Sums of
/// even-length pieces add.
pub fn checksum_sum(data: &[u8]) -> u64 {
    ip::sum_words(data)
}

// Bounds-checked readers: out of range reads yield zero (callers check lengths first; these
// only guarantee that a logic slip cannot panic).

fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at.saturating_add(2)) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at.saturating_add(4)) {
        Some(&[a, c, d, e]) => u32::from_be_bytes([a, c, d, e]),
        _ => 0,
    }
}

fn arr4(b: &[u8], at: usize) -> [u8; 4] {
    b.get(at..at.saturating_add(4))
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; 4])
}

fn arr16(b: &[u8], at: usize) -> [u8; 16] {
    b.get(at..at.saturating_add(16))
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; 16])
}

fn tail(b: &[u8], at: usize) -> &[u8] {
    b.get(at..).unwrap_or(&[])
}

pub mod community_id;
mod ip;

#[cfg(test)]
mod tests;
