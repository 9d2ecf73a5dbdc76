//! Which packets belong to an alert's conversation: the one rule the evidence store (while
//! copying and while reading the ring back) and `investigate` share. A conversation is the
//! protocol and the two endpoints, in either direction: addresses and ports for TCP and UDP,
//! addresses alone for ICMP and every other protocol. IP fragments after the first carry no
//! ports; they belong to the conversation when their datagram's first fragment did (same
//! addresses, protocol and IP ID).
//!
//! No I/O, no allocation.

use std::fmt;
use std::net::IpAddr;

use crate::decode::{Packet, Transport};

/// A conversation, direction-free: the lower endpoint first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConvKey {
    pub proto: u8,
    pub lo: (IpAddr, u16),
    pub hi: (IpAddr, u16),
}

impl ConvKey {
    /// The conversation of `proto` between two endpoints (ports 0 for portless protocols).
    pub fn new(proto: u8, a: IpAddr, a_port: u16, b: IpAddr, b_port: u16) -> ConvKey {
        let (x, y) = ((a, a_port), (b, b_port));
        let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
        ConvKey { proto, lo, hi }
    }

    /// The conversation a decoded packet belongs to. A non-first fragment has no ports: its
    /// key carries ports 0, so it is matched through [`Matcher`] instead.
    pub fn of(p: &Packet<'_>) -> ConvKey {
        let (sp, dp) = ports(p);
        ConvKey::new(p.ip_proto, p.src, sp, p.dst, dp)
    }

    /// Whether `addr` is one of the two endpoints.
    pub fn has(&self, addr: IpAddr) -> bool {
        self.lo.0 == addr || self.hi.0 == addr
    }

    /// Whether the protocol has ports in this rule.
    pub fn has_ports(&self) -> bool {
        has_ports(self.proto)
    }
}

impl fmt::Display for ConvKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_ports() {
            write!(
                f,
                "{} {} <-> {}",
                proto_name(self.proto),
                endpoint(self.lo.0, self.lo.1),
                endpoint(self.hi.0, self.hi.1)
            )
        } else {
            write!(
                f,
                "{} {} <-> {}",
                proto_name(self.proto),
                self.lo.0,
                self.hi.0
            )
        }
    }
}

fn endpoint(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// TCP, UDP, SCTP, DCCP and UDP-Lite: the protocols whose conversations are told apart by port.
fn has_ports(proto: u8) -> bool {
    matches!(proto, 6 | 17 | 33 | 132 | 136)
}

/// Ports of a packet for its conversation: TCP/UDP ports, else 0 (ICMP, other protocols,
/// non-first fragments).
fn ports(p: &Packet<'_>) -> (u16, u16) {
    match p.transport {
        Transport::Tcp { sport, dport, .. } | Transport::Udp { sport, dport, .. } => (sport, dport),
        _ => (0, 0),
    }
}

/// Short lower-case protocol name, as EVE and file names print it.
pub fn proto_name(proto: u8) -> String {
    match proto {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "ipv6-icmp".into(),
        132 => "sctp".into(),
        n => format!("ip{n}"),
    }
}

/// IDs of the fragmented datagrams a conversation has seen the first fragment of: the later
/// fragments (no ports) belong to it too. A few are remembered, newest replacing oldest.
#[derive(Debug, Clone, Copy, Default)]
pub struct FragIds {
    ids: [u32; 8],
    len: u8,
    next: u8,
}

impl FragIds {
    fn note(&mut self, id: u32) {
        if self.ids[..usize::from(self.len)].contains(&id) {
            return;
        }
        self.ids[usize::from(self.next)] = id;
        self.next = (self.next + 1) % 8;
        self.len = (self.len + 1).min(8);
    }

    fn has(&self, id: u32) -> bool {
        self.ids[..usize::from(self.len)].contains(&id)
    }
}

/// The membership test of one conversation, with the fragment IDs it learns as packets pass
/// in capture order.
#[derive(Debug, Clone, Copy)]
pub struct Matcher {
    pub key: ConvKey,
    frags: FragIds,
}

impl Matcher {
    pub fn new(key: ConvKey) -> Matcher {
        Matcher {
            key,
            frags: FragIds::default(),
        }
    }

    /// Whether `p` belongs to the conversation (a first fragment's ID is remembered so the
    /// rest of its datagram follows).
    pub fn matches(&mut self, p: &Packet<'_>) -> bool {
        if p.frag.offset != 0 {
            return self.matches_later_fragment(p);
        }
        if ConvKey::of(p) != self.key {
            return false;
        }
        self.note(p);
        true
    }

    /// For a packet already known to have this conversation's key: remembers its ID when it
    /// is the first fragment of a datagram.
    pub fn note(&mut self, p: &Packet<'_>) {
        if p.frag.mf && p.frag.offset == 0 {
            self.frags.note(p.ip_id);
        }
    }

    /// A fragment after the first: same protocol and addresses, and an ID whose first
    /// fragment belonged to the conversation.
    pub fn matches_later_fragment(&self, p: &Packet<'_>) -> bool {
        p.ip_proto == self.key.proto
            && ConvKey::new(p.ip_proto, p.src, 0, p.dst, 0)
                == ConvKey::new(self.key.proto, self.key.lo.0, 0, self.key.hi.0, 0)
            && self.frags.has(p.ip_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, DecodeOptions};

    /// An Ethernet + IPv4 frame: `proto` with the given fragment fields and a transport
    /// header of 20 bytes whose first four bytes are the ports.
    fn frame(
        src: [u8; 4],
        dst: [u8; 4],
        proto: u8,
        id: u16,
        frag: u16,
        sp: u16,
        dp: u16,
    ) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 0x08; // EtherType IPv4
        let mut ip = vec![
            0x45,
            0,
            0,
            40, // version/IHL, TOS, total length 40
            (id >> 8) as u8,
            id as u8, // identification
            (frag >> 8) as u8,
            frag as u8, // flags + fragment offset
            64,
            proto,
            0,
            0, // TTL, protocol, checksum (not checked here)
        ];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        f.extend_from_slice(&ip);
        let mut l4 = vec![0u8; 20];
        l4[0..2].copy_from_slice(&sp.to_be_bytes());
        l4[2..4].copy_from_slice(&dp.to_be_bytes());
        l4[12] = 0x50; // TCP data offset 5
        f.extend_from_slice(&l4);
        f
    }

    fn matches(m: &mut Matcher, f: &[u8]) -> bool {
        let p = decode(
            1,
            0,
            0,
            f.len() as u32,
            f,
            DecodeOptions { checksums: false },
        )
        .unwrap();
        m.matches(&p)
    }

    #[test]
    fn both_directions_same_ports_only() {
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let first = frame(a, b, 6, 1, 0, 1234, 80);
        let p = decode(1, 0, 0, 54, &first, DecodeOptions { checksums: false }).unwrap();
        let mut m = Matcher::new(ConvKey::of(&p));
        assert!(matches(&mut m, &frame(a, b, 6, 2, 0, 1234, 80)));
        assert!(matches(&mut m, &frame(b, a, 6, 3, 0, 80, 1234)), "reply");
        assert!(
            !matches(&mut m, &frame(a, b, 6, 4, 0, 1235, 80)),
            "other port"
        );
        assert!(
            !matches(&mut m, &frame(a, b, 17, 5, 0, 1234, 80)),
            "other protocol"
        );
        assert!(!matches(
            &mut m,
            &frame(a, [10, 0, 0, 3], 6, 6, 0, 1234, 80)
        ));
    }

    #[test]
    fn later_fragments_follow_their_first_fragment() {
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let key = ConvKey::new(17, a.into(), 5000, b.into(), 53);
        let mut m = Matcher::new(key);
        // A later fragment before any first fragment: unknown datagram.
        assert!(!matches(&mut m, &frame(a, b, 17, 7, 0x0003, 0, 0)));
        // First fragment (MF, offset 0) of ID 7, then its second fragment (offset 3).
        assert!(matches(&mut m, &frame(a, b, 17, 7, 0x2000, 5000, 53)));
        assert!(matches(&mut m, &frame(a, b, 17, 7, 0x0003, 0, 0)));
        // Another datagram between the same hosts (another conversation's ID).
        assert!(!matches(&mut m, &frame(a, b, 17, 8, 0x0003, 0, 0)));
    }

    #[test]
    fn icmp_is_the_host_pair() {
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let key = ConvKey::new(1, a.into(), 0, b.into(), 0);
        let mut m = Matcher::new(key);
        assert!(matches(&mut m, &frame(b, a, 1, 1, 0, 0x0800, 1)));
        assert_eq!(key.to_string(), "icmp 10.0.0.1 <-> 10.0.0.2");
    }
}
