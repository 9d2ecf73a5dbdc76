//! Community ID flow hash, version 1: the string (`1:` + base64 of a SHA-1 digest) that names a
//! conversation the same way in Suricata's EVE (`community-id: yes`), Zeek, Arkime and
//! Wireshark, so an alert can be joined with other tools' records of the same flow.
//!
//! Owns the computation from a tuple ([`community_id`]) and from a decoded [`Packet`]
//! ([`for_packet`]), and the shape check of a user-given ID ([`is_well_formed`]). Not owned
//! here: when an ID is written (`output::eve`, per alert) or used to select packets (`carve`).
//! Unlike the decoder around it, this allocates its result: it runs per alert or per carved
//! packet, never on the capture thread's no-alert path.
//!
//! Reference: the Corelight community-id-spec (README "Pseudo code" and "Technical details",
//! `community-id.py`), with the ICMP tables of pycommunityid `communityid/icmp.py` and
//! `communityid/icmp6.py` (which the spec names as normative, "taken from Zeek"). The hash
//! input is, in network byte order:
//!
//! ```text
//! seed(2) saddr(4|16) daddr(4|16) proto(1) 0(1) [sport(2) dport(2)]
//! ```
//!
//! with the endpoints ordered so the smaller (address, port) comes first, unless the ICMP
//! message is one-way.
//!
//! Where Suricata differs (its `output-json.c`, `CalculateCommunityFlowIdv4/v6`, computes the
//! ID from its flow, not the packet): for ICMP it hashes the flow's type and the counterpart
//! type (`ICMPv4GetCounterpart`), never the code, and always orders the endpoints; and when
//! both addresses are equal it compares the ports in network byte order. This module follows
//! the spec; both agree on TCP, UDP, SCTP, request/reply ICMP and the spec's published
//! one-way vector (code 0, source sorting first).

use std::net::IpAddr;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

use super::{Packet, Transport};

/// The seed Suricata and the spec use unless configured otherwise.
pub const DEFAULT_SEED: u16 = 0;

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;
const PROTO_SCTP: u8 = 132;

/// Length of the base64 text of a 20-byte SHA-1 digest (with its one `=` of padding).
const B64_LEN: usize = 28;

/// The Community ID v1 of a flow tuple.
///
/// - TCP (6), UDP (17), SCTP (132): `sport`/`dport` are the ports.
/// - ICMP (1), ICMPv6 (58): pass the message **type as `sport` and code as `dport`**; they are
///   mapped to port equivalents here with the spec's tables (a request and its reply give the
///   same ID; a one-way message such as time exceeded hashes (type, code) in packet direction).
/// - Any other protocol: the ports are ignored and left out of the hash (the spec: "Other
///   IP-borne protocols: IP src / IP dst / IP proto").
///
/// A packet always has two addresses of one family. Should `src` and `dst` differ in family
/// (never from [`for_packet`]), each is hashed as given (4 or 16 bytes) and the endpoints
/// are ordered bytewise, so the result is still defined and symmetric.
///
/// # Examples
/// ```
/// use nsm_sensor::decode::community_id::community_id;
/// // The spec's baseline table, "Default settings", TCP row.
/// let id = community_id(0, 6, "1.2.3.4".parse().unwrap(), "5.6.7.8".parse().unwrap(), 1122, 3344);
/// assert_eq!(id, "1:wCb3OG7yAFWelaUydu0D+125CLM=");
/// ```
///
/// # Panics
/// Never.
pub fn community_id(
    seed: u16,
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
) -> String {
    let ports = match proto {
        PROTO_TCP | PROTO_UDP | PROTO_SCTP => Some(Ports::TwoWay(sport, dport)),
        PROTO_ICMP => Some(icmp_ports(sport, dport, ICMP_V4_PAIRS)),
        PROTO_ICMPV6 => Some(icmp_ports(sport, dport, ICMP_V6_PAIRS)),
        _ => None,
    };
    render(&digest(seed, proto, src, dst, ports))
}

/// The Community ID v1 of a decoded packet's flow, or `None` when the packet does not carry
/// the tuple the spec needs.
///
/// - TCP/UDP/ICMP/ICMPv6: from the decoded transport header.
/// - SCTP: the ports are read from the common header (sport(2) dport(2) tag(4) checksum(4)),
///   which the decoder leaves in `payload`; `None` when fewer than 12 bytes were captured.
/// - Other protocols: addresses and protocol only, so every packet of the datagram, fragments
///   included, has the ID.
/// - A port protocol whose header is missing gives `None`: a later fragment (the decoder does
///   not reassemble, so it has no ports) or a header cut short. A *first* fragment has its
///   header decoded and gets the flow's ID. Suricata writes no ID for a fragment either: its
///   `DecodeIPV4` hands fragments to defrag before any transport decoding, so only the
///   reassembled datagram has a flow, and the ID is computed from the flow.
///
/// # Panics
/// Never.
pub fn for_packet(seed: u16, pkt: &Packet<'_>) -> Option<String> {
    let (sport, dport) = match pkt.transport {
        Transport::Tcp { sport, dport, .. } | Transport::Udp { sport, dport, .. } => (sport, dport),
        Transport::Icmp { itype, icode, .. } | Transport::Icmpv6 { itype, icode, .. } => {
            (u16::from(itype), u16::from(icode))
        }
        Transport::None => match pkt.ip_proto {
            PROTO_SCTP if pkt.frag.offset == 0 && pkt.payload.len() >= 12 => {
                let be16 = |at: usize| match pkt.payload.get(at..at + 2) {
                    Some(&[a, b]) => u16::from_be_bytes([a, b]),
                    _ => 0,
                };
                (be16(0), be16(2))
            }
            PROTO_TCP | PROTO_UDP | PROTO_SCTP | PROTO_ICMP | PROTO_ICMPV6 => return None,
            _ => (0, 0),
        },
    };
    Some(community_id(
        seed,
        pkt.ip_proto,
        pkt.src,
        pkt.dst,
        sport,
        dport,
    ))
}

/// True when `id` has the shape of a Community ID v1: `1:` then the 28-character standard
/// base64 (with padding) of a 20-byte digest, as EVE's `community_id` shows it.
pub fn is_well_formed(id: &str) -> bool {
    let Some(b64) = id.strip_prefix("1:") else {
        return false;
    };
    // The strict decoder also refuses non-canonical text (non-zero trailing bits), which no
    // encoder writes.
    b64.len() == B64_LEN
        && base64::engine::general_purpose::STANDARD
            .decode(b64)
            .is_ok_and(|d| d.len() == 20)
}

/// Port equivalents, and whether the endpoints may be swapped to order them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ports {
    TwoWay(u16, u16),
    OneWay(u16, u16),
}

/// ICMPv4 request/reply pairs (pycommunityid `icmp.py` `TYPE_MAPPER`, from Zeek's
/// `ICMP4_counterpart`): echo, router solicitation/advertisement, timestamp, information,
/// address mask. Each pair maps both ways.
const ICMP_V4_PAIRS: &[(u8, u8)] = &[(8, 0), (10, 9), (13, 14), (15, 16), (17, 18)];

/// ICMPv6 pairs (pycommunityid `icmp6.py`): echo, MLD query/report, router and neighbour
/// solicitation/advertisement, who-are-you request/reply, home agent address discovery.
const ICMP_V6_PAIRS: &[(u8, u8)] = &[
    (128, 129),
    (130, 131),
    (133, 134),
    (135, 136),
    (139, 140),
    (144, 145),
];

/// The spec's `map_icmp_to_ports`: a type with a counterpart is two-way (type, counterpart);
/// any other is one-way (type, code).
fn icmp_ports(itype: u16, code: u16, pairs: &[(u8, u8)]) -> Ports {
    let counterpart = pairs.iter().find_map(|&(a, b)| {
        if itype == u16::from(a) {
            Some(b)
        } else if itype == u16::from(b) {
            Some(a)
        } else {
            None
        }
    });
    match counterpart {
        Some(c) => Ports::TwoWay(itype, u16::from(c)),
        None => Ports::OneWay(itype, code),
    }
}

fn octets(a: &IpAddr) -> ([u8; 16], usize) {
    let mut buf = [0u8; 16];
    match a {
        IpAddr::V4(v4) => {
            buf[..4].copy_from_slice(&v4.octets());
            (buf, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 16),
    }
}

fn digest(seed: u16, proto: u8, src: IpAddr, dst: IpAddr, ports: Option<Ports>) -> [u8; 20] {
    let (sb, sl) = octets(&src);
    let (db, dl) = octets(&dst);
    let (s, d) = (sb.get(..sl).unwrap_or(&[]), db.get(..dl).unwrap_or(&[]));
    // The spec: "swap the endpoints, if needed, so the numerically smaller IP:port tuple
    // comes first. If the IP addresses are equal, the ports decide." Network-order bytes
    // compare like the numbers. One-way ICMP keeps the packet's direction.
    let (one_way, sp, dp) = match ports {
        Some(Ports::OneWay(a, b)) => (true, a, b),
        Some(Ports::TwoWay(a, b)) => (false, a, b),
        None => (false, 0, 0),
    };
    let keep = one_way || (s, sp) < (d, dp);
    let (a, b, pa, pb) = if keep { (s, d, sp, dp) } else { (d, s, dp, sp) };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(a);
    h.update(b);
    // "The proto value is one byte in length and followed by a 0 byte for padding."
    h.update([proto, 0]);
    if ports.is_some() {
        h.update(pa.to_be_bytes());
        h.update(pb.to_be_bytes());
    }
    h.finalize().into()
}

fn render(digest: &[u8; 20]) -> String {
    let mut s = String::with_capacity(2 + B64_LEN);
    s.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(digest, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, linktype, DecodeOptions};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// (seed, proto, src, dst, sport or ICMP type, dport or ICMP code, expected ID).
    type Vector = (u16, u8, &'static str, &'static str, u16, u16, &'static str);

    /// The spec's published vectors, never values computed here.
    ///
    /// "README" rows: corelight/community-id-spec `baseline/README.md`, tables "Default
    /// settings" (seed 0) and "A custom seed=1 value"; a port-less row is given ports 0 here
    /// (they are ignored for such protocols).
    ///
    /// "JSON" rows: `baseline/baseline_deflt.json` (seed 0) and `baseline/baseline_seed1.json`
    /// (seed 1), pycommunityid's `community-id-pcap --json` over the spec's
    /// `pcaps/combined.pcap.gz`. Their ICMP "sport"/"dport" are the port equivalents
    /// (type, counterpart) or (type, code); the first is always the type, and the second is
    /// ignored for a two-way type, so they serve as (type, code) input as they are.
    #[rustfmt::skip]
    const VECTORS: &[Vector] = &[
        // README, default settings.
        (0, 6, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM="),
        (0, 6, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:wCb3OG7yAFWelaUydu0D+125CLM="),
        (0, 17, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="),
        (0, 17, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="),
        (0, 132, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="),
        (0, 132, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="),
        // ICMP echo request, then its reply: one ID.
        (0, 1, "1.2.3.4", "5.6.7.8", 8, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
        (0, 1, "5.6.7.8", "1.2.3.4", 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
        // ICMP time exceeded: one-way.
        (0, 1, "1.2.3.4", "5.6.7.8", 11, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk="),
        // ICMPv6 echo request and reply; 146 is one-way.
        (0, 58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 128, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="),
        (0, 58, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", 129, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="),
        (0, 58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 146, 0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10="),
        // RSVP: no ports, both directions, IPv4 and IPv6.
        (0, 46, "1.2.3.4", "5.6.7.8", 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768="),
        (0, 46, "5.6.7.8", "1.2.3.4", 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768="),
        (0, 46, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0="),
        (0, 46, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0="),
        // README, seed 1.
        (1, 6, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
        (1, 6, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
        (1, 17, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:OShq+iKDAMVouh/4bMxB9Sz4amw="),
        (1, 132, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:uitchpn5MMGAQKBJh7bIr/bAr7s="),
        (1, 1, "1.2.3.4", "5.6.7.8", 8, 0, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="),
        (1, 1, "5.6.7.8", "1.2.3.4", 0, 0, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="),
        (1, 1, "1.2.3.4", "5.6.7.8", 11, 0, "1:1DD7cWGC/Yg91YGsQeni8du3pIA="),
        (1, 58, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", 129, 0, "1:IO27GQzPuCtNnwFvjWALMHu5tJE="),
        (1, 58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 146, 0, "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s="),
        (1, 46, "5.6.7.8", "1.2.3.4", 0, 0, "1:/buhqeOmaRCopOZFy9HnoJd5XW8="),
        (1, 46, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 0, 0, "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM="),
        // JSON, seed 0: real traffic. Neighbour solicitation/advertisement pairs, one per
        // direction of solicitation (the two IDs differ: the ordering sees type 135 first
        // from a different end).
        (0, 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="),
        (0, 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="),
        (0, 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136, "1:zavyT/cezQr1fmImYCwYnMXbgck="),
        (0, 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135, "1:zavyT/cezQr1fmImYCwYnMXbgck="),
        // ICMPv6 time exceeded (3/0) and destination unreachable, port (1/4): one-way, the
        // code hashed.
        (0, 58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="),
        (0, 58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4, "1:hLZd0XGWojozrvxqE0dWB1iM6R0="),
        (0, 58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="),
        (0, 58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="),
        // Router solicitation and advertisement to multicast groups.
        (0, 58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="),
        (0, 58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133, "1:pkvHqCL88/tg1k4cPigmZXUtL00="),
        (0, 1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
        (0, 1, "192.168.0.1", "192.168.0.89", 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
        (0, 1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="),
        // IPv6 TCP (SMTP).
        (0, 6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
        (0, 6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
        // SCTP with equal ports: the addresses decide.
        (0, 132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
        (0, 132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
        (0, 6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        (0, 6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        (0, 17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
        (0, 17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
        (0, 46, "10.1.12.1", "10.1.12.2", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
        (0, 46, "10.1.12.2", "10.1.12.1", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
        // JSON, seed 1.
        (1, 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136, "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="),
        (1, 58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:lVEtCZpYu84Xqaa++3lXFyuu2n4="),
        (1, 1, "192.168.0.1", "192.168.0.89", 0, 8, "1:03g6IloqVBdcZlPyX8r0hgoE7kA="),
        (1, 6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, "1:eJYTW6AOzFLlSUoESovMjnu7rMw="),
        (1, 132, "192.168.170.8", "192.168.170.56", 7, 7, "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="),
        (1, 46, "10.1.12.2", "10.1.12.1", 0, 0, "1:rYir8gphR31noO9iDRQmF/BteEI="),
    ];

    #[test]
    fn spec_vectors() {
        for &(seed, proto, src, dst, sp, dp, want) in VECTORS {
            let got = community_id(seed, proto, ip(src), ip(dst), sp, dp);
            assert_eq!(
                got, want,
                "seed {seed} proto {proto} {src}:{sp} -> {dst}:{dp}"
            );
            assert!(is_well_formed(&got), "{got}");
        }
    }

    #[test]
    fn ports_of_portless_protocols_are_ignored() {
        // README default table, RSVP row: whatever ports a caller passes.
        let id = community_id(0, 46, ip("1.2.3.4"), ip("5.6.7.8"), 1122, 3344);
        assert_eq!(id, "1:ikv3kmf89luf73WPz1jOs49S768=");
    }

    #[test]
    fn icmp_port_equivalents() {
        // (type, code, table, expected): pycommunityid icmp.py / icmp6.py.
        type Pairs = &'static [(u8, u8)];
        let cases: &[(u16, u16, Pairs, Ports)] = &[
            (8, 0, ICMP_V4_PAIRS, Ports::TwoWay(8, 0)),
            (0, 0, ICMP_V4_PAIRS, Ports::TwoWay(0, 8)),
            (9, 0, ICMP_V4_PAIRS, Ports::TwoWay(9, 10)),
            (10, 0, ICMP_V4_PAIRS, Ports::TwoWay(10, 9)),
            (13, 0, ICMP_V4_PAIRS, Ports::TwoWay(13, 14)),
            (16, 0, ICMP_V4_PAIRS, Ports::TwoWay(16, 15)),
            (18, 0, ICMP_V4_PAIRS, Ports::TwoWay(18, 17)),
            (3, 3, ICMP_V4_PAIRS, Ports::OneWay(3, 3)),
            (11, 1, ICMP_V4_PAIRS, Ports::OneWay(11, 1)),
            (300, 7, ICMP_V4_PAIRS, Ports::OneWay(300, 7)),
            (128, 0, ICMP_V6_PAIRS, Ports::TwoWay(128, 129)),
            (131, 0, ICMP_V6_PAIRS, Ports::TwoWay(131, 130)),
            (140, 0, ICMP_V6_PAIRS, Ports::TwoWay(140, 139)),
            (145, 0, ICMP_V6_PAIRS, Ports::TwoWay(145, 144)),
            (1, 4, ICMP_V6_PAIRS, Ports::OneWay(1, 4)),
            (8, 0, ICMP_V6_PAIRS, Ports::OneWay(8, 0)),
        ];
        for &(t, c, table, want) in cases {
            assert_eq!(icmp_ports(t, c, table), want, "type {t} code {c}");
        }
    }

    #[test]
    fn well_formed_ids() {
        let cases = [
            ("1:wCb3OG7yAFWelaUydu0D+125CLM=", true),
            ("1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", true),
            ("", false),
            ("1:", false),
            ("wCb3OG7yAFWelaUydu0D+125CLM=", false),
            ("2:wCb3OG7yAFWelaUydu0D+125CLM=", false),
            (" 1:wCb3OG7yAFWelaUydu0D+125CLM=", false),
            ("1:wCb3OG7yAFWelaUydu0D+125CLM", false),
            ("1:wCb3OG7yAFWelaUydu0D+125CLM==", false),
            ("1:wCb3OG7yAFWelaUydu0D-125CLM=", false),
            // Non-zero trailing bits: no encoder writes this.
            ("1:wCb3OG7yAFWelaUydu0D+125CLN=", false),
            // Hex rendering (the spec's --no-base64): not what EVE writes.
            ("1:c026f7386ef200559e95a53276ed03fb5db908b3", false),
            ("1:wCb3OG7yAFWelaUydu0D+125CL\u{e9}", false),
        ];
        for (id, want) in cases {
            assert_eq!(is_well_formed(id), want, "{id:?}");
        }
    }

    /// Raw IPv4 datagram: header(20) with `proto`, `flags_off` (flags and fragment offset)
    /// and addresses, then `l4`. Checksums are left zero (decoded without validation).
    fn v4(proto: u8, flags_off: u16, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
        let total = (20 + l4.len()) as u16;
        let mut p = vec![
            0x45, 0, // version 4, IHL 5; TOS
        ];
        p.extend_from_slice(&total.to_be_bytes()); // total length
        p.extend_from_slice(&[0x12, 0x34]); // ID
        p.extend_from_slice(&flags_off.to_be_bytes()); // flags, fragment offset
        p.extend_from_slice(&[64, proto, 0, 0]); // TTL, protocol, checksum
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(l4);
        p
    }

    fn id_of(frame: &[u8]) -> Option<String> {
        let pkt = decode(
            linktype::RAW,
            0,
            0,
            frame.len() as u32,
            frame,
            DecodeOptions { checksums: false },
        )
        .unwrap();
        for_packet(DEFAULT_SEED, &pkt)
    }

    const A: [u8; 4] = [1, 2, 3, 4];
    const B: [u8; 4] = [5, 6, 7, 8];

    #[test]
    fn packets_give_the_spec_vectors() {
        let tcp = [
            0x04, 0x62, // sport 1122
            0x0d, 0x10, // dport 3344
            0, 0, 0, 1, // seq
            0, 0, 0, 0, // ack
            0x50, 0x02, // offset 5, SYN
            0xff, 0xff, // window
            0, 0, 0, 0, // checksum, urgent
        ];
        let udp_back = [
            0x0d, 0x10, // sport 3344
            0x04, 0x62, // dport 1122
            0, 8, 0, 0, // length 8, checksum
        ];
        let sctp = [
            0x04, 0x62, // sport 1122
            0x0d, 0x10, // dport 3344
            0, 0, 0, 0, // verification tag
            0, 0, 0, 0, // checksum
        ];
        let echo_reply = [0, 0, 0, 0, 0, 1, 0, 1]; // type 0, code 0, csum, id 1, seq 1
        let time_exceeded = [11, 0, 0, 0, 0, 0, 0, 0]; // type 11, code 0, csum, unused
                                                       // (frame, expected): README default table rows.
        #[rustfmt::skip]
        let cases: &[(Vec<u8>, Option<&str>)] = &[
            (v4(6, 0, A, B, &tcp), Some("1:wCb3OG7yAFWelaUydu0D+125CLM=")),
            (v4(17, 0, B, A, &udp_back), Some("1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=")),
            (v4(132, 0, A, B, &sctp), Some("1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=")),
            (v4(1, 0, B, A, &echo_reply), Some("1:crodRHL2FEsHjbv3UkRrfbs4bZ0=")),
            (v4(1, 0, A, B, &time_exceeded), Some("1:f/YiSyWqczrTgfUCZlBUnvHRcPk=")),
            (v4(46, 0, B, A, &[0x10, 1, 0, 0]), Some("1:ikv3kmf89luf73WPz1jOs49S768=")),
            // First fragment (MF, offset 0): ports decoded, the flow's ID.
            (v4(6, 0x2000, A, B, &tcp), Some("1:wCb3OG7yAFWelaUydu0D+125CLM=")),
            // Later fragment of TCP: no ports, no ID.
            (v4(6, 0x0003, A, B, &tcp), None),
            // Later fragment of SCTP: its payload is not the common header.
            (v4(132, 0x0003, A, B, &sctp), None),
            // Later fragment of a port-less protocol: the ID needs no ports.
            (v4(46, 0x0003, A, B, &[0x10, 1, 0, 0]), Some("1:ikv3kmf89luf73WPz1jOs49S768=")),
            // Headers cut short: TCP, SCTP.
            (v4(6, 0, A, B, &tcp[..10]), None),
            (v4(132, 0, A, B, &sctp[..8]), None),
        ];
        for (i, (frame, want)) in cases.iter().enumerate() {
            assert_eq!(id_of(frame).as_deref(), *want, "case {i}");
        }
    }

    #[test]
    fn ipv6_packet_gives_the_spec_vector() {
        // README default table, ICMP6 echo reply row (129/0) from fe80:1011:… to fe80:0001:….
        let s: std::net::Ipv6Addr = "fe80:1011:1213:1415:1617:1819:1A1B:1C1D".parse().unwrap();
        let d: std::net::Ipv6Addr = "fe80:0001:0203:0405:0607:0809:0A0B:0C0D".parse().unwrap();
        let mut f = vec![
            0x60, 0, 0, 0, // version 6, class, flow
            0, 8, // payload length
            58, 64, // next header ICMPv6, hop limit
        ];
        f.extend_from_slice(&s.octets());
        f.extend_from_slice(&d.octets());
        f.extend_from_slice(&[129, 0, 0, 0, 0, 1, 0, 1]); // type, code, csum, id, seq
        assert_eq!(id_of(&f).as_deref(), Some("1:0bf7hyMJUwt3fMED7z8LIfRpBeo="));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_always_well_formed(
            frame in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
            seed in proptest::prelude::any::<u16>(),
        ) {
            if let Ok(pkt) = decode(linktype::RAW, 0, 0, frame.len() as u32, &frame,
                DecodeOptions { checksums: false }) {
                if let Some(id) = for_packet(seed, &pkt) {
                    proptest::prop_assert!(is_well_formed(&id));
                }
            }
        }
    }
}
