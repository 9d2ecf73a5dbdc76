//! Zero-copy packet views: link layer → IPv4/IPv6 → TCP/UDP/ICMP/ICMPv6, and the summary
//! detection and output need.
//!
//! Contract: decoding never panics and never allocates; every field of [`Packet`] borrows from
//! the captured frame. A frame that cannot be decoded yields a [`DecodeError`] kind to count.

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
/// # Errors
/// Returns the kind of failure when no IP header can be found or it is unusable. Truncated
/// transport headers still yield a `Packet` with `Transport::None` when the addresses are known
/// (IP-list rules still apply).
pub fn decode<'a>(
    linktype: i32,
    ts_sec: i64,
    ts_usec: u32,
    wire_len: u32,
    frame: &'a [u8],
    opts: DecodeOptions,
) -> Result<Packet<'a>, DecodeError> {
    let _ = (linktype, ts_sec, ts_usec, wire_len, frame, opts);
    todo!("decode")
}
