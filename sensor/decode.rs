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
        Net::V4 => ipv4(l3, cut, opts)?,
        Net::V6 => ipv6(l3, cut, opts)?,
        Net::ByVersion => match l3.first().map(|b| b >> 4) {
            Some(4) => ipv4(l3, cut, opts)?,
            Some(6) => ipv6(l3, cut, opts)?,
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

/// The network-layer part of a packet.
struct Ip<'a> {
    version: u8,
    src: IpAddr,
    dst: IpAddr,
    header: &'a [u8],
    proto: u8,
    ttl: u8,
    tos: u8,
    id: u32,
    total_len: u32,
    frag: Frag,
    anomaly: Option<DecodeError>,
    l4: L4<'a>,
}

/// The transport part of a packet.
struct L4<'a> {
    transport: Transport,
    header: &'a [u8],
    payload: &'a [u8],
    anomaly: Option<DecodeError>,
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

fn ipv4(d: &[u8], cut: bool, opts: DecodeOptions) -> Result<Ip<'_>, DecodeError> {
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

fn ipv6(d: &[u8], cut: bool, opts: DecodeOptions) -> Result<Ip<'_>, DecodeError> {
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
fn sum_words(b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(2);
    let mut sum: u64 = chunks
        .by_ref()
        .map(|w| u64::from(u16::from_be_bytes([byte(w, 0), byte(w, 1)])))
        .sum();
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// Folds a sum to 16 bits; a correct checksum region folds to 0xffff.
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
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

#[cfg(test)]
mod tests;
