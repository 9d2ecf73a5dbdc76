//! Unit tests of the alert formats on hand-built packets: the corners the golden captures do
//! not reach (bad TCP options, IP option wrapping, truncated headers, EVE layout).

use std::path::PathBuf;
use std::sync::Arc;

use super::{eve, snort, AlertEvent};
use crate::config::Timestamps;
use crate::decode::{decode, linktype, DecodeOptions, Packet};
use crate::rules::{Action, AddrSet, Direction, PortSet, Proto, Rule, SourceLoc};

fn rule() -> Rule {
    Rule {
        loc: SourceLoc {
            file: Arc::new(PathBuf::from("t.rules")),
            line: 1,
        },
        action: Action::Alert,
        proto: Proto::Ip,
        src: AddrSet::any(),
        src_ports: PortSet::any(),
        direction: Direction::To,
        dst: AddrSet::any(),
        dst_ports: PortSet::any(),
        gid: 1,
        sid: 7,
        rev: 3,
        msg: "m".into(),
        classtype: None,
        class_desc: None,
        priority: 2,
        references: Vec::new(),
        metadata: Vec::new(),
        flags: None,
        flow: None,
        flowbits: Vec::new(),
        threshold: None,
        detection_filter: None,
        header_tests: Vec::new(),
        contents: Vec::new(),
        payload: Vec::new(),
    }
}

/// IPv4 header (with `opts`) + `l4`, protocol `proto`, from 10.0.0.1 to 10.0.0.2.
fn ipv4(proto: u8, opts: &[u8], l4: &[u8]) -> Vec<u8> {
    let hl = 20 + opts.len();
    let total = (hl + l4.len()) as u16;
    let mut p = vec![
        0x40 | (hl / 4) as u8, // version 4, IHL
        0x00,                  // TOS
    ];
    p.extend_from_slice(&total.to_be_bytes()); // total length
    p.extend_from_slice(&[0x00, 0x05, 0x00, 0x00]); // ID 5, no flags
    p.extend_from_slice(&[0x40, proto, 0x00, 0x00]); // TTL 64, protocol, checksum
    p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]); // src, dst
    p.extend_from_slice(opts);
    p.extend_from_slice(l4);
    p
}

fn tcp(opts: &[u8]) -> Vec<u8> {
    let mut t = vec![
        0x00,
        0x50,
        0x01,
        0xbb, // sport 80, dport 443
        0,
        0,
        0,
        1, // seq
        0,
        0,
        0,
        0,                                    // ack
        (((20 + opts.len()) / 4) << 4) as u8, // data offset
        0x02,                                 // SYN
        0x10,
        0x00, // window
        0,
        0,
        0,
        0, // checksum, urgent pointer
    ];
    t.extend_from_slice(opts);
    t
}

fn full(p: &Packet<'_>) -> String {
    let r = rule();
    let ev = AlertEvent {
        pkt_src: Default::default(),
        rule: &r,
        pkt: p,
        linktype: linktype::RAW,
        capture_file: None,
        flow_id: 0,
    };
    let mut out = Vec::new();
    snort::format_full(&ev, Timestamps::Utc, &mut out);
    String::from_utf8(out).unwrap()
}

fn dec(frame: &[u8]) -> Packet<'_> {
    decode(
        linktype::RAW,
        86400 + 3661,
        42,
        frame.len() as u32,
        frame,
        DecodeOptions { checksums: false },
    )
    .unwrap()
}

#[test]
fn tcp_options_corner_cases() {
    // Unknown 3-byte data option (hex in pairs), NOP, then a SACK whose length runs past the
    // header: it ends the list uncounted.
    let f = ipv4(6, &[], &tcp(&[0xfe, 5, 0xaa, 0xbb, 0xcc, 1, 5, 3]));
    let s = full(&dec(&f));
    assert!(
        s.contains("TCP Options (2) => Opt 254 (3): AABB CC NOP \n"),
        "{s}"
    );
    // A truncated MSS (length 4 with 2 bytes left): no options line at all.
    let f = ipv4(6, &[], &tcp(&[1, 1, 2, 4]));
    assert!(full(&dec(&f)).contains("TCP Options (2) => NOP NOP \n"));
    // Empty-data unknown option: "Opt K ".
    let f = ipv4(6, &[], &tcp(&[0xfd, 2, 0, 0]));
    assert!(full(&dec(&f)).contains("TCP Options (2) => Opt 253 EOL \n"));
}

#[test]
fn ip_options_wrap_and_unknown() {
    // 9 unknown options of 4 bytes. log_text.c puts a space after each even-indexed data byte
    // (so "0A 0B" with none after), and wraps the line once it passes 60 characters.
    let mut opts = Vec::new();
    for _ in 0..9 {
        opts.extend_from_slice(&[25, 4, 0x0a, 0x0b]);
    }
    let f = ipv4(17, &opts, &[0, 1, 0, 2, 0, 8, 0, 0]);
    let s = full(&dec(&f));
    assert!(s.contains("IP Options (9) => Opt 25: 0A 0BOpt 25: 0A 0BOpt 25: 0A 0BOpt 25: 0A 0B\nIP Options => Opt 25"), "{s}");
    assert!(s.contains("IpLen:56 DgmLen:64\n"));
    // A bad option length drops the whole list.
    let f = ipv4(17, &[7, 1, 0, 0], &[0, 1, 0, 2, 0, 8, 0, 0]);
    assert!(!full(&dec(&f)).contains("IP Options"));
}

#[test]
fn truncated_headers_and_timestamps() {
    let f = ipv4(6, &[], &[0, 80, 1, 187, 0, 0]);
    let p = decode(
        linktype::RAW,
        0,
        7,
        100,
        &f,
        DecodeOptions { checksums: false },
    )
    .unwrap();
    let s = full(&p);
    assert_eq!(
        s,
        "[**] [1:7:3] m [**]\n[Priority: 2] \n01/01-00:00:00.000007 10.0.0.1:0 -> 10.0.0.2:0\n\
TCP TTL:64 TOS:0x0 ID:5 IpLen:20 DgmLen:26\nTCP header truncated\n\n"
    );
    // ICMP destination unreachable whose original datagram is cut short.
    let f = ipv4(1, &[], &[3, 1, 0, 0, 0, 0, 0, 0, 0x45, 0, 0, 28]);
    assert!(full(&dec(&f)).contains("HOST UNREACHABLE\nORIGINAL DATAGRAM TRUNCATED\n\n"));
    // Time: 1970-01-02 01:01:01 UTC.
    assert!(full(&dec(&f)).contains("\n01/02-01:01:01.000042 10.0.0.1 -> 10.0.0.2\n"));
}

#[test]
fn eve_layout() {
    let mut f = ipv4(6, &[], &tcp(&[]));
    // The community-id-spec's baseline tuple (README, "Default settings", TCP row), so the
    // expected `community_id` is the spec's published value: 1.2.3.4:1122 -> 5.6.7.8:3344.
    f[12..20].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    f[20..24].copy_from_slice(&[0x04, 0x62, 0x0d, 0x10]);
    let p = dec(&f);
    let mut r = rule();
    r.msg = "a \"b\"\n".into();
    r.class_desc = Some("Misc".into());
    let ev = AlertEvent {
        pkt_src: Default::default(),
        rule: &r,
        pkt: &p,
        linktype: linktype::RAW,
        capture_file: Some("x_00001.pcap"),
        flow_id: 9,
    };
    let mut out = Vec::new();
    eve::format_alert(&ev, Timestamps::Utc, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"timestamp\":\"1970-01-02T01:01:01.000042+0000\",\"flow_id\":9,\"event_type\":\"alert\",\
\"src_ip\":\"1.2.3.4\",\"src_port\":1122,\"dest_ip\":\"5.6.7.8\",\"dest_port\":3344,\"proto\":\"TCP\",\
\"pkt_src\":\"wire/pcap\",\"community_id\":\"1:wCb3OG7yAFWelaUydu0D+125CLM=\",\
\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":7,\"rev\":3,\
\"signature\":\"a \\\"b\\\"\\n\",\"category\":\"Misc\",\"severity\":2},\"capture_file\":\"x_00001.pcap\"}\n"
    );
}
