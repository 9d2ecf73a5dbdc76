//! Unit tests of the decoder on hand-built frames, one comment per field (smoltcp
//! `wire/udp.rs` style).

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const NO_CSUM: DecodeOptions = DecodeOptions { checksums: false };
const CSUM: DecodeOptions = DecodeOptions { checksums: true };

fn dec(linktype: i32, frame: &[u8], opts: DecodeOptions) -> Result<Packet<'_>, DecodeError> {
    decode(linktype, 1, 2, frame.len() as u32, frame, opts)
}

/// Writes the checksum of `region` (whose checksum field is zero) at `at`, seeded with `seed`.
fn put_csum(buf: &mut [u8], at: usize, seed: u64, region: std::ops::Range<usize>) {
    buf[at] = 0;
    buf[at + 1] = 0;
    let c = internet_checksum(seed, &buf[region]);
    buf[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

const ETH_V4: [u8; 14] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, // dst MAC
    0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, // src MAC
    0x08, 0x00, // EtherType IPv4
];

/// IPv4 (20) + TCP SYN with MSS option (24): the seed capture's first packet, shortened.
fn ipv4_tcp_syn() -> Vec<u8> {
    let mut p = vec![
        0x45, // version 4, IHL 5
        0x00, // TOS
        0x00, 0x2c, // total length 44
        0x33, 0x8e, // ID 13198
        0x40, 0x00, // DF, offset 0
        0x80, // TTL 128
        0x06, // protocol TCP
        0x00, 0x00, // header checksum (filled below)
        192, 168, 0, 31, // src
        161, 53, 178, 240, // dst
        0x08, 0xcd, // sport 2253
        0x1a, 0x0b, // dport 6667
        0xca, 0x53, 0x14, 0x1f, // seq
        0x00, 0x00, 0x00, 0x00, // ack
        0x60, // data offset 6 (24 bytes)
        0x02, // flags SYN
        0xfc, 0x00, // window
        0x00, 0x00, // checksum (filled below)
        0x00, 0x00, // urgent pointer
        0x02, 0x04, 0x05, 0xb4, // MSS 1460
    ];
    fix_v4(&mut p);
    p
}

/// Recomputes the IPv4 header and TCP/UDP/ICMP checksums of an unfragmented datagram.
fn fix_v4(p: &mut [u8]) {
    let hl = usize::from(p[0] & 0x0f) * 4;
    put_csum(p, 10, 0, 0..hl);
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    let len = total - hl;
    let pseudo = checksum_sum(&p[12..20]) + u64::from(p[9]) + len as u64;
    match p[9] {
        6 => put_csum(p, hl + 16, pseudo, hl..total),
        17 => put_csum(p, hl + 6, pseudo, hl..total),
        1 => put_csum(p, hl + 2, 0, hl..total),
        _ => {}
    }
}

fn eth(ip: &[u8]) -> Vec<u8> {
    let mut f = ETH_V4.to_vec();
    f.extend_from_slice(ip);
    f
}

#[test]
fn internet_checksum_table() {
    // (seed, data, checksum)
    let cases: &[(u64, &[u8], u16)] = &[
        (0, &[], 0xffff),
        (
            0,
            &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7],
            !0xddf2,
        ), // RFC 1071 section 3
        (0, &[0x00, 0x01, 0xf2], !0xf201),  // odd: zero padded
        (0x0001, &[0xf2, 0x03], !0xf204),   // a seed adds
        (u64::MAX, &[0xff, 0xff], !0xffff), // any seed: no overflow
    ];
    for &(seed, data, want) in cases {
        assert_eq!(internet_checksum(seed, data), want, "{seed:#x} {data:02x?}");
    }
    // What it writes, the decoder's verification accepts (`put_csum` uses it throughout).
    assert!(dec(linktype::RAW, &ipv4_tcp_syn(), CSUM).is_ok());
}

#[test]
fn ethernet_ipv4_tcp_fields() {
    let f = eth(&ipv4_tcp_syn());
    let p = dec(linktype::ETHERNET, &f, CSUM).unwrap();
    assert_eq!(p.src, IpAddr::V4(Ipv4Addr::new(192, 168, 0, 31)));
    assert_eq!(p.dst, IpAddr::V4(Ipv4Addr::new(161, 53, 178, 240)));
    assert_eq!(
        (
            p.ip_version,
            p.ip_proto,
            p.ttl,
            p.tos,
            p.ip_id,
            p.ip_total_len
        ),
        (4, 6, 128, 0, 13198, 44)
    );
    assert_eq!(p.ip_header.len(), 20);
    assert_eq!(
        p.frag,
        Frag {
            rb: false,
            df: true,
            mf: false,
            offset: 0
        }
    );
    assert_eq!(
        p.transport,
        Transport::Tcp {
            sport: 2253,
            dport: 6667,
            seq: 0xca53141f,
            ack: 0,
            flags: 0x02,
            window: 0xfc00,
            urg: 0
        }
    );
    assert_eq!(p.l4_header.len(), 24);
    assert!(p.payload.is_empty());
    assert_eq!(p.anomaly, None);
    assert_eq!((p.ts_sec, p.ts_usec, p.wire_len), (1, 2, f.len() as u32));
    assert_eq!(p.sport(), Some(2253));
    assert_eq!(p.dport(), Some(6667));
    assert_eq!(p.tcp_flags(), Some(0x02));
}

#[test]
fn ethernet_padding_is_not_payload() {
    // A 46-byte minimum Ethernet payload pads a short UDP datagram.
    let mut ip = vec![
        0x45, 0x00, 0x00, 0x1e, // v4, TOS, total length 30
        0x00, 0x01, 0x00, 0x00, // ID 1, no flags
        0x40, 0x11, 0x00, 0x00, // TTL 64, UDP, checksum
        10, 0, 0, 1, // src
        10, 0, 0, 2, // dst
        0x04, 0x00, // sport 1024
        0x00, 0x35, // dport 53
        0x00, 0x0a, // UDP length 10
        0x00, 0x00, // checksum
        0xab, 0xcd, // payload
    ];
    fix_v4(&mut ip);
    let mut f = eth(&ip);
    f.extend_from_slice(&[0u8; 16]); // Ethernet padding
    let p = dec(linktype::ETHERNET, &f, CSUM).unwrap();
    assert_eq!(
        p.transport,
        Transport::Udp {
            sport: 1024,
            dport: 53,
            len: 10
        }
    );
    assert_eq!(p.payload, &[0xab, 0xcd]);
    assert_eq!(p.anomaly, None);
}

#[test]
fn vlan_and_qinq_tags() {
    let ip = ipv4_tcp_syn();
    for tpids in [&[0x8100u16][..], &[0x88a8, 0x8100], &[0x9100, 0x8100]] {
        let mut f = ETH_V4[..12].to_vec();
        for (i, tpid) in tpids.iter().enumerate() {
            f.extend_from_slice(&tpid.to_be_bytes()); // TPID
            f.extend_from_slice(&(0x2000 | (100 + i as u16)).to_be_bytes()); // PCP 1, VID
        }
        f.extend_from_slice(&[0x08, 0x00]); // EtherType IPv4
        f.extend_from_slice(&ip);
        let p = dec(linktype::ETHERNET, &f, CSUM).unwrap();
        assert_eq!(p.sport(), Some(2253));
        let want: Vec<u16> = (0..tpids.len() as u16).map(|i| 100 + i).collect();
        assert_eq!(vlan_ids(linktype::ETHERNET, &f).as_slice(), &want[..]);
    }
    assert!(vlan_ids(linktype::ETHERNET, &eth(&ip)).is_empty());
    assert!(vlan_ids(linktype::RAW, &ip).is_empty());
}

#[test]
fn other_link_types() {
    let ip = ipv4_tcp_syn();
    let with = |head: &[u8]| [head, &ip[..]].concat();
    // Linux SLL: pkttype(2) hatype(2) halen(2) addr(8) protocol(2)
    let sll = with(&[0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00]);
    // Linux SLL2: protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8)
    let sll2 = with(&[
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ]);
    let null_le = with(&[2, 0, 0, 0]); // AF_INET, little-endian host
    let null_be = with(&[0, 0, 0, 2]); // AF_INET, big-endian host
    for (lt, f) in [
        (linktype::LINUX_SLL, &sll),
        (linktype::LINUX_SLL2, &sll2),
        (linktype::NULL, &null_le),
        (linktype::NULL, &null_be),
        (linktype::LOOP, &null_be),
        (linktype::RAW, &ip),
        (linktype::RAW_BSD12, &ip),
        (linktype::RAW_BSD14, &ip),
        (linktype::IPV4, &ip),
    ] {
        let p = dec(lt, f, CSUM).unwrap_or_else(|e| panic!("linktype {lt}: {e:?}"));
        assert_eq!(p.dport(), Some(6667), "linktype {lt}");
    }
    assert_eq!(
        dec(linktype::IPV6, &ip, CSUM).unwrap_err(),
        DecodeError::BadIpVersion
    );
    assert_eq!(
        dec(147, &ip, CSUM).unwrap_err(),
        DecodeError::UnsupportedLinkType
    );
    assert_eq!(
        dec(linktype::NULL, &with(&[7, 0, 0, 0]), CSUM).unwrap_err(),
        DecodeError::NotIp
    );
}

#[test]
fn link_and_ip_errors() {
    let ip = ipv4_tcp_syn();
    assert_eq!(
        dec(linktype::ETHERNET, &ETH_V4[..13], CSUM).unwrap_err(),
        DecodeError::TruncatedLink
    );
    let mut arp = eth(&ip);
    arp[12..14].copy_from_slice(&[0x08, 0x06]); // EtherType ARP
    assert_eq!(
        dec(linktype::ETHERNET, &arp, CSUM).unwrap_err(),
        DecodeError::NotIp
    );
    assert_eq!(
        dec(linktype::RAW, &ip[..19], CSUM).unwrap_err(),
        DecodeError::TruncatedIp
    );
    assert_eq!(
        dec(linktype::RAW, &[], CSUM).unwrap_err(),
        DecodeError::TruncatedIp
    );
    let mut v = ip.clone();
    v[0] = 0x44; // IHL 4: shorter than the fixed header
    assert_eq!(
        dec(linktype::RAW, &v, CSUM).unwrap_err(),
        DecodeError::BadIpHeaderLength
    );
    let mut v = ip.clone();
    v[0] = 0x5f; // version 5
    assert_eq!(
        dec(linktype::RAW, &v, CSUM).unwrap_err(),
        DecodeError::BadIpVersion
    );
    let mut v = ip.clone();
    v[2..4].copy_from_slice(&[0, 10]); // total length 10 < header
    assert_eq!(
        dec(linktype::RAW, &v, CSUM).unwrap_err(),
        DecodeError::BadIpTotalLength
    );
    let mut v = ip.clone();
    v[0] = 0x4f; // IHL 15 = 60 bytes > 44 captured
    assert_eq!(
        dec(linktype::RAW, &v, CSUM).unwrap_err(),
        DecodeError::TruncatedIp
    );
}

#[test]
fn truncated_and_bad_tcp_keep_addresses() {
    let ip = ipv4_tcp_syn();
    // Captured whole but the IP length lies: 30 bytes of a "44-byte" datagram.
    let p = dec(linktype::RAW, &ip[..30], CSUM).unwrap();
    assert_eq!(p.anomaly, Some(DecodeError::BadIpTotalLength));
    assert_eq!(p.transport, Transport::None);
    assert_eq!(p.dst, IpAddr::V4(Ipv4Addr::new(161, 53, 178, 240)));
    // Snaplen cut at 30 bytes of 44: a truncated transport, not a lie.
    let p = decode(linktype::RAW, 0, 0, 44, &ip[..30], CSUM).unwrap();
    assert_eq!(p.anomaly, Some(DecodeError::TruncatedTransport));
    assert_eq!(p.transport, Transport::None);
    // Cut inside the TCP options: also truncated.
    let p = decode(linktype::RAW, 0, 0, 44, &ip[..42], CSUM).unwrap();
    assert_eq!(p.anomaly, Some(DecodeError::TruncatedTransport));
    // Data offset 4 (< 20 bytes).
    let mut v = ip.clone();
    v[32] = 0x40;
    assert_eq!(
        dec(linktype::RAW, &v, NO_CSUM).unwrap().anomaly,
        Some(DecodeError::BadTcpOffset)
    );
    // Data offset 15 (60 bytes) in a whole 24-byte segment.
    v[32] = 0xf0;
    assert_eq!(
        dec(linktype::RAW, &v, NO_CSUM).unwrap().anomaly,
        Some(DecodeError::BadTcpOffset)
    );
}

#[test]
fn checksums() {
    let ip = ipv4_tcp_syn();
    assert_eq!(dec(linktype::RAW, &ip, CSUM).unwrap().anomaly, None);
    let mut v = ip.clone();
    v[10] ^= 1; // IP header checksum
    assert_eq!(
        dec(linktype::RAW, &v, CSUM).unwrap().anomaly,
        Some(DecodeError::BadIpv4Checksum)
    );
    assert_eq!(dec(linktype::RAW, &v, NO_CSUM).unwrap().anomaly, None);
    let mut v = ip.clone();
    v[36] ^= 1; // TCP checksum
    assert_eq!(
        dec(linktype::RAW, &v, CSUM).unwrap().anomaly,
        Some(DecodeError::BadTcpChecksum)
    );
    assert_eq!(dec(linktype::RAW, &v, NO_CSUM).unwrap().anomaly, None);

    let mut udp = vec![
        0x45, 0x00, 0x00, 0x1d, // v4, TOS, total length 29
        0x00, 0x02, 0x00, 0x00, // ID 2, no flags
        0x40, 0x11, 0x00, 0x00, // TTL 64, UDP, checksum
        10, 0, 0, 1, // src
        10, 0, 0, 2, // dst
        0x04, 0x00, 0x00, 0x35, // sport 1024, dport 53
        0x00, 0x09, 0x00, 0x00, // UDP length 9, checksum
        0x7f, // payload (odd length)
    ];
    fix_v4(&mut udp);
    assert_eq!(dec(linktype::RAW, &udp, CSUM).unwrap().anomaly, None);
    udp[26] ^= 0x10;
    assert_eq!(
        dec(linktype::RAW, &udp, CSUM).unwrap().anomaly,
        Some(DecodeError::BadUdpChecksum)
    );
    // The same bad datagram cut by the snaplen: not verifiable, so not flagged.
    let p = decode(linktype::RAW, 0, 0, 29, &udp[..28], CSUM).unwrap();
    assert_eq!((p.anomaly, p.dport()), (None, Some(53)));
    udp[26..28].copy_from_slice(&[0, 0]); // zero: "no checksum" over IPv4
    assert_eq!(dec(linktype::RAW, &udp, CSUM).unwrap().anomaly, None);

    let mut icmp = vec![
        0x45, 0x00, 0x00, 0x20, // v4, TOS, total length 32
        0x34, 0x01, 0x00, 0x00, // ID, no flags
        0x80, 0x01, 0x00, 0x00, // TTL 128, ICMP, checksum
        192, 168, 0, 31, // src
        161, 53, 178, 240, // dst
        0x08, 0x00, 0x00, 0x00, // echo request, code 0, checksum
        0x00, 0x01, 0x00, 0x02, // id 1, seq 2
        b'a', b'b', b'c', b'd', // data
    ];
    fix_v4(&mut icmp);
    let p = dec(linktype::RAW, &icmp, CSUM).unwrap();
    assert_eq!(
        p.transport,
        Transport::Icmp {
            itype: 8,
            icode: 0,
            id: 1,
            seq: 2
        }
    );
    assert_eq!((p.l4_header.len(), p.payload), (8, &b"abcd"[..]));
    assert_eq!(p.anomaly, None);
    icmp[31] ^= 1;
    assert_eq!(
        dec(linktype::RAW, &icmp, CSUM).unwrap().anomaly,
        Some(DecodeError::BadIcmpChecksum)
    );
}

#[test]
fn ipv4_fragments() {
    let mut first = vec![
        0x45, 0x00, 0x00, 0x24, // v4, TOS, total length 36
        0x18, 0x19, 0x20, 0x00, // ID 6169, MF, offset 0
        0x40, 0x11, 0x00, 0x00, // TTL 64, UDP, checksum
        192, 168, 34, 146, // src
        45, 130, 60, 127, // dst
        0x48, 0x2e, 0x00, 0x35, // sport 18478, dport 53
        0x00, 0x1c, 0xde, 0xad, // UDP length 28 (whole datagram), bad checksum
        1, 2, 3, 4, 5, 6, 7, 8, // first 8 payload bytes
    ];
    put_csum(&mut first, 10, 0, 0..20);
    let p = dec(linktype::RAW, &first, CSUM).unwrap();
    assert!(p.frag.mf && p.frag.is_fragment());
    assert_eq!(
        p.transport,
        Transport::Udp {
            sport: 18478,
            dport: 53,
            len: 28
        }
    );
    assert_eq!(p.payload, &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(p.anomaly, None, "fragments are not checksummed");

    let mut later = first.clone();
    later[2..4].copy_from_slice(&[0x00, 0x1c]); // total length 28
    later[6..8].copy_from_slice(&[0x00, 0x02]); // offset 2 (16 bytes), last fragment
    later.truncate(28);
    put_csum(&mut later, 10, 0, 0..20);
    let p = dec(linktype::RAW, &later, CSUM).unwrap();
    assert_eq!(p.frag.offset, 2);
    assert_eq!(p.transport, Transport::None);
    assert_eq!(p.ip_proto, 17);
    assert_eq!(p.payload.len(), 8);
    assert_eq!(p.anomaly, None);
}

/// IPv6 fixed header with `nh` as next header and `plen` payload bytes.
fn ipv6_header(nh: u8, plen: u16) -> Vec<u8> {
    let mut h = vec![
        0x60, 0x20, 0x00, 0x00, // version 6, traffic class 2, flow label 0
    ];
    h.extend_from_slice(&plen.to_be_bytes()); // payload length
    h.push(nh); // next header
    h.push(64); // hop limit
    h.extend_from_slice(&"fd00::7312".parse::<Ipv6Addr>().unwrap().octets()); // src
    h.extend_from_slice(&"2001:db8::78e6".parse::<Ipv6Addr>().unwrap().octets()); // dst
    h
}

fn fix_v6_l4(p: &mut [u8], l4_at: usize, proto: u8, csum_at: usize) {
    let len = p.len() - l4_at;
    let pseudo = checksum_sum(&p[8..40]) + u64::from(proto) + len as u64;
    put_csum(p, l4_at + csum_at, pseudo, l4_at..p.len());
}

#[test]
fn ipv6_extension_headers_then_tcp() {
    let mut p = ipv6_header(0, 8 + 8 + 20);
    p.extend_from_slice(&[
        60, 0, // hop-by-hop: next = destination options, length 0 (8 bytes)
        1, 4, 0, 0, 0, 0, // PadN option
        6, 0, // destination options: next = TCP, length 0
        1, 4, 0, 0, 0, 0, // PadN option
        0xaa, 0xce, 0x01, 0xbb, // sport 43726, dport 443
        0, 0, 0, 1, // seq
        0, 0, 0, 0, // ack
        0x50, 0x02, // data offset 5, SYN
        0xfd, 0x20, // window
        0, 0, 0, 0, // checksum, urgent pointer
    ]);
    fix_v6_l4(&mut p, 56, 6, 16);
    let d = dec(linktype::IPV6, &p, CSUM).unwrap();
    assert_eq!(d.ip_version, 6);
    assert_eq!(d.ip_proto, 6);
    assert_eq!(d.ip_header.len(), 56);
    assert_eq!((d.tos, d.ttl, d.ip_total_len, d.ip_id), (2, 64, 76, 0));
    assert_eq!(d.sport(), Some(43726));
    assert_eq!(d.anomaly, None);
    p[70] ^= 1;
    assert_eq!(
        dec(linktype::RAW, &p, CSUM).unwrap().anomaly,
        Some(DecodeError::BadTcpChecksum)
    );
}

#[test]
fn ipv6_fragments_and_icmpv6() {
    let frag = |offset_m: u16| {
        let mut p = ipv6_header(44, 8 + 8);
        p.extend_from_slice(&[17, 0]); // fragment: next = UDP, reserved
        p.extend_from_slice(&offset_m.to_be_bytes()); // offset << 3 | M
        p.extend_from_slice(&[0, 0, 0x12, 0x34]); // identification
        p.extend_from_slice(&[0x10, 0x00, 0x00, 0x35, 0x00, 0x20, 0, 0]); // UDP header / data
        p
    };
    let first = frag(1);
    let d = dec(linktype::IPV6, &first, CSUM).unwrap();
    assert!(d.frag.mf && d.frag.offset == 0);
    assert_eq!((d.ip_proto, d.ip_id), (17, 0x1234));
    assert_eq!(d.dport(), Some(53));
    let later = frag(2 << 3);
    let d = dec(linktype::IPV6, &later, CSUM).unwrap();
    assert_eq!((d.frag.offset, d.transport), (2, Transport::None));
    assert_eq!(d.payload.len(), 8);

    let mut p = ipv6_header(58, 8);
    p.extend_from_slice(&[
        128, 0, 0, 0, // echo request, code 0, checksum
        0, 7, 0, 9, // id 7, seq 9
    ]);
    fix_v6_l4(&mut p, 40, 58, 2);
    let d = dec(linktype::RAW, &p, CSUM).unwrap();
    assert_eq!(
        d.transport,
        Transport::Icmpv6 {
            itype: 128,
            icode: 0,
            id: 7,
            seq: 9
        }
    );
    assert_eq!(d.anomaly, None);
    p[47] ^= 1;
    assert_eq!(
        dec(linktype::RAW, &p, CSUM).unwrap().anomaly,
        Some(DecodeError::BadIcmpChecksum)
    );

    // A hop-by-hop header that claims more than was captured.
    let mut p = ipv6_header(0, 8);
    p.extend_from_slice(&[6, 3, 0, 0, 0, 0, 0, 0]); // next TCP, length 3 (32 bytes)
    let d = dec(linktype::RAW, &p, CSUM).unwrap();
    assert_eq!(
        (d.anomaly, d.transport),
        (Some(DecodeError::TruncatedIp), Transport::None)
    );
}

proptest::proptest! {
    /// Any bytes, any link type: no panic.
    #[test]
    fn never_panics(frame in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..160),
                    lt in proptest::sample::select(vec![0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147]),
                    cut in proptest::prelude::any::<bool>()) {
        let wire = frame.len() as u32 + u32::from(cut);
        let _ = decode(lt, 0, 0, wire, &frame, CSUM);
        let _ = vlan_ids(lt, &frame);
    }

    /// Valid-looking IPv4 headers with random tails: no panic, and the payload stays in the frame.
    #[test]
    fn ipv4_random_tail(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
                        proto in proptest::sample::select(vec![1u8, 6, 17, 58, 47]),
                        ihl in 5u8..8, frag in proptest::prelude::any::<u16>()) {
        let mut v = vec![0x40 | ihl, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        v.extend_from_slice(&tail);
        let total = (v.len() as u16).wrapping_sub(frag % 7);
        v[2..4].copy_from_slice(&total.to_be_bytes());
        v[6..8].copy_from_slice(&frag.to_be_bytes());
        if let Ok(p) = decode(linktype::RAW, 0, 0, v.len() as u32, &v, CSUM) {
            proptest::prop_assert!(p.payload.len() <= v.len());
        }
    }
}
