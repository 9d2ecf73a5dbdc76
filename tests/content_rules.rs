//! Tier-2 rules end to end, one line a case: rule text → rule set (with the Aho–Corasick
//! prefilter) → packets built in memory → decode → engine. Content modifiers (relative matches
//! over several contents, `nocase` fast patterns), `dsize`, ICMP fields, `fragbits`, `sameip`,
//! ttl/tos/id/window/seq/ack, `ip_proto`, and content combined with `flow` and with `flowbits`
//! set by an IP-list rule earlier in the same flow.

use std::net::Ipv4Addr;
use std::path::Path;

use etherparse::PacketBuilder;
use nsm_sensor::decode::{decode, linktype, DecodeOptions};
use nsm_sensor::detect::engine::{Engine, Hit};
use nsm_sensor::detect::{DetectOptions, RuleSet};
use nsm_sensor::rules::load::load_text;
use nsm_sensor::rules::LoadOptions;

/// A packet to build: IPv4 over Ethernet with valid checksums.
#[derive(Clone)]
struct P {
    src: [u8; 4],
    dst: [u8; 4],
    l4: L4,
    payload: Vec<u8>,
    ttl: u8,
    tos: u8,
    id: u16,
    /// IPv4 flag bits: R 0x4, D 0x2, M 0x1.
    frag: u8,
}

#[derive(Clone, Copy)]
enum L4 {
    /// sport, dport, flags (byte 13), seq, ack, window
    Tcp(u16, u16, u8, u32, u32, u16),
    Udp(u16, u16),
    /// type, code, id, seq
    Icmp(u8, u8, u16, u16),
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

const CLIENT: [u8; 4] = [192, 168, 1, 10];
const SERVER: [u8; 4] = [203, 0, 113, 5];

fn tcp(payload: &str) -> P {
    P {
        src: CLIENT,
        dst: SERVER,
        l4: L4::Tcp(40000, 80, PSH | ACK, 1000, 2000, 8192),
        payload: payload.as_bytes().to_vec(),
        ttl: 64,
        tos: 0,
        id: 1,
        frag: 0,
    }
}

fn udp(payload: &str) -> P {
    P {
        l4: L4::Udp(5353, 53),
        ..tcp(payload)
    }
}

fn icmp(itype: u8, icode: u8, id: u16, seq: u16) -> P {
    P {
        l4: L4::Icmp(itype, icode, id, seq),
        ..tcp("abcdefgh")
    }
}

impl P {
    fn bytes(b: &[u8]) -> P {
        P {
            payload: b.to_vec(),
            ..tcp("")
        }
    }
    fn ttl(mut self, v: u8) -> P {
        self.ttl = v;
        self
    }
    fn tos(mut self, v: u8) -> P {
        self.tos = v;
        self
    }
    fn id(mut self, v: u16) -> P {
        self.id = v;
        self
    }
    fn frag(mut self, v: u8) -> P {
        self.frag = v;
        self
    }
    fn same(mut self) -> P {
        self.dst = self.src;
        self
    }
    fn tcp_fields(mut self, flags: u8, seq: u32, ack: u32, win: u16) -> P {
        if let L4::Tcp(sp, dp, ..) = self.l4 {
            self.l4 = L4::Tcp(sp, dp, flags, seq, ack, win);
        }
        self
    }
    fn ports(mut self, s: u16, d: u16) -> P {
        self.l4 = match self.l4 {
            L4::Tcp(_, _, f, q, a, w) => L4::Tcp(s, d, f, q, a, w),
            L4::Udp(..) => L4::Udp(s, d),
            x => x,
        };
        self
    }
    /// The same packet from the other side.
    fn reply(mut self, flags: u8, payload: &str) -> P {
        std::mem::swap(&mut self.src, &mut self.dst);
        if let L4::Tcp(sp, dp, _, seq, ack, w) = self.l4 {
            self.l4 = L4::Tcp(dp, sp, flags, ack, seq, w);
        }
        self.payload = payload.as_bytes().to_vec();
        self
    }

    fn frame(&self) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(self.src, self.dst, self.ttl);
        let mut out = Vec::new();
        match self.l4 {
            L4::Tcp(sp, dp, flags, seq, ack, win) => {
                let mut t = b.tcp(sp, dp, seq, win);
                if flags & SYN != 0 {
                    t = t.syn();
                }
                if flags & FIN != 0 {
                    t = t.fin();
                }
                if flags & PSH != 0 {
                    t = t.psh();
                }
                if flags & ACK != 0 {
                    t = t.ack(ack);
                }
                t.write(&mut out, &self.payload).unwrap();
            }
            L4::Udp(sp, dp) => b.udp(sp, dp).write(&mut out, &self.payload).unwrap(),
            L4::Icmp(t, c, id, seq) => {
                let mut rest = [0u8; 4];
                rest[..2].copy_from_slice(&id.to_be_bytes());
                rest[2..].copy_from_slice(&seq.to_be_bytes());
                b.icmpv4_raw(t, c, rest)
                    .write(&mut out, &self.payload)
                    .unwrap()
            }
        }
        // Patch what the builder does not set (TOS, id, flag bits), then the header checksum;
        // the transport checksums do not cover these fields.
        let ip = &mut out[14..34];
        ip[1] = self.tos;
        ip[4..6].copy_from_slice(&self.id.to_be_bytes());
        ip[6] = (ip[6] & 0x1f) | (self.frag << 5);
        ip[10] = 0;
        ip[11] = 0;
        let mut sum: u32 = ip
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        out
    }
}

fn ruleset(text: &str) -> RuleSet {
    let mut opts = LoadOptions::default();
    opts.vars
        .insert("HOME_NET".into(), "[192.168.0.0/16]".into());
    let r = load_text(Path::new("t.rules"), text, &opts);
    let errors: Vec<String> = r.errors().map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "{text}: {errors:?}");
    assert_eq!(r.skipped(), 0, "{text}: {:?}", r.files[0].skipped);
    RuleSet::compile(r.model)
}

/// Runs `pkts` through one engine (one second apart); the sids alerted per packet.
fn run(set: &RuleSet, pkts: &[P]) -> Vec<Vec<u32>> {
    let mut engine = Engine::new(&DetectOptions::from_config(&Default::default()));
    let mut hits: Vec<Hit> = Vec::new();
    pkts.iter()
        .enumerate()
        .map(|(i, p)| {
            let f = p.frame();
            let pkt = decode(
                linktype::ETHERNET,
                1_700_000_000 + i as i64,
                0,
                f.len() as u32,
                &f,
                DecodeOptions { checksums: true },
            )
            .expect("decodes");
            assert!(pkt.anomaly.is_none(), "packet {i}: {:?}", pkt.anomaly);
            engine.inspect(set, &pkt, &mut hits);
            hits.iter()
                .map(|h| set.rules()[h.rule as usize].sid)
                .collect()
        })
        .collect()
}

/// The sids of the rules `set` would evaluate for `p` (header index + content prefilter).
fn candidates(set: &RuleSet, p: &P) -> Vec<u32> {
    let f = p.frame();
    let pkt = decode(
        linktype::ETHERNET,
        1_700_000_000,
        0,
        f.len() as u32,
        &f,
        DecodeOptions { checksums: true },
    )
    .expect("decodes");
    let key = nsm_sensor::detect::HeaderKey {
        ip_proto: pkt.ip_proto,
        src: pkt.src,
        dst: pkt.dst,
        sport: pkt.sport(),
        dport: pkt.dport(),
    };
    let mut scratch = set.scratch();
    let mut out = Vec::new();
    set.candidates(&key, pkt.payload, &mut scratch, &mut out);
    out.iter().map(|&id| set.rules()[id as usize].sid).collect()
}

/// One rule (`alert <proto> any any -> any any (<opts> sid:1;)`) against one packet.
fn check(cases: &[(&str, &str, P, bool)]) {
    for (i, (proto, opts, pkt, want)) in cases.iter().enumerate() {
        let text = format!("alert {proto} any any -> any any ({opts} sid:1;)\n");
        let set = ruleset(&text);
        let got = run(&set, std::slice::from_ref(pkt))[0] == [1];
        assert_eq!(got, *want, "case {i}: {text}");
    }
}

#[test]
fn content_modifiers() {
    #[rustfmt::skip]
    let cases: &[(&str, &str, P, bool)] = &[
        ("tcp", r#"content:"GET";"#, tcp("GET / HTTP/1.1"), true),
        ("tcp", r#"content:"get";"#, tcp("GET / HTTP/1.1"), false),
        ("tcp", r#"content:"get"; nocase;"#, tcp("GET / HTTP/1.1"), true),
        // nocase fast pattern in mixed case, with a case-sensitive second content.
        ("tcp", r#"content:"user-agent|3a|"; nocase; content:"curl";"#, tcp("X\r\nUSER-AGENT: curl/8"), true),
        ("tcp", r#"content:"user-agent|3a|"; nocase; content:"curl";"#, tcp("X\r\nUSER-AGENT: CURL/8"), false),
        ("tcp", r#"content:"|00 01 02|";"#, P::bytes(b"\xff\x00\x01\x02"), true),
        ("tcp", r#"content:"HTTP"; offset:6;"#, tcp("GET / HTTP/1.1"), true),
        ("tcp", r#"content:"HTTP"; offset:7;"#, tcp("GET / HTTP/1.1"), false),
        ("tcp", r#"content:"GET"; depth:3;"#, tcp("GET / HTTP/1.1"), true),
        ("tcp", r#"content:"GET"; depth:3;"#, tcp(" GET / HTTP/1.1"), false),
        ("tcp", r#"content:"/"; offset:4; depth:1;"#, tcp("GET / HTTP/1.1"), true),
        // Relative: distance/within from the end of the previous match.
        ("tcp", r#"content:"GET"; content:"HTTP"; distance:3; within:4;"#, tcp("GET / HTTP/1.1"), true),
        ("tcp", r#"content:"GET"; content:"HTTP"; distance:4;"#, tcp("GET / HTTP/1.1"), false),
        ("tcp", r#"content:"GET"; content:"HTTP"; within:6;"#, tcp("GET / HTTP/1.1"), false),
        ("tcp", r#"content:"GET"; content:"HTTP"; within:7;"#, tcp("GET / HTTP/1.1"), true),
        // Three contents chained; the middle one occurs twice and the first occurrence fails.
        ("tcp", r#"content:"a="; content:"b="; distance:0; content:"c"; distance:0; within:1;"#, tcp("a=1 b=2 b=c"), true),
        ("tcp", r#"content:"a="; content:"b="; distance:0; content:"c"; distance:0; within:1;"#, tcp("a=1 b=2 b=d c"), false),
        // Backtracking on the first content (Snort retries it at its next occurrence).
        ("tcp", r#"content:"ab"; content:"cd"; within:2;"#, tcp("ab..abcd"), true),
        // Negated content: must not occur; relative negation anchored on the previous match.
        ("tcp", r#"content:"GET"; content:!"Host|3a|";"#, tcp("GET / HTTP/1.0\r\n\r\n"), true),
        ("tcp", r#"content:"GET"; content:!"Host|3a|";"#, tcp("GET / HTTP/1.1\r\nHost: x\r\n"), false),
        ("tcp", r#"content:"GET"; content:!"1.1"; distance:0; within:12;"#, tcp("GET / HTTP/1.1"), false),
        ("tcp", r#"content:"GET"; content:!"1.1"; distance:0; within:5;"#, tcp("GET / HTTP/1.1"), true),
        // Only negated contents: no fast pattern, found through the header index.
        ("tcp", r#"content:!"evil";"#, tcp("good"), true),
        ("tcp", r#"content:!"evil";"#, tcp("so evil"), false),
        // fast_pattern picks the automaton key; the other contents are still checked.
        ("tcp", r#"content:"GET"; fast_pattern; content:"zzzzzzzz";"#, tcp("GET / HTTP/1.1"), false),
        ("tcp", r#"content:"GET"; fast_pattern:only; content:"HTTP";"#, tcp("GET / HTTP/1.1"), true),
        ("tcp", r#"content:"HTTP/1.1"; fast_pattern:0,4; content:"GET";"#, tcp("GET / HTTP/1.1"), true),
        // Contents on UDP, ICMP and ip rules.
        ("udp", r#"content:"|07|example|03|com";"#, udp("\x12\x34\x07example\x03com\x00"), true),
        ("icmp", r#"content:"abcd"; depth:4;"#, icmp(8, 0, 1, 1), true),
        ("ip", r#"content:"efgh";"#, icmp(8, 0, 1, 1), true),
        ("ip", r#"content:"GET";"#, udp("GET"), true),
        ("tcp", r#"content:"GET";"#, udp("GET"), false),
        // An empty payload never matches a positive content.
        ("tcp", r#"content:"GET";"#, tcp(""), false),
    ];
    check(cases);
}

#[test]
fn dsize_ranges() {
    let n = |k: usize| tcp(&"x".repeat(k));
    #[rustfmt::skip]
    let cases: &[(&str, &str, P, bool)] = &[
        ("tcp", "dsize:5;", n(5), true),
        ("tcp", "dsize:5;", n(6), false),
        ("tcp", "dsize:<5;", n(4), true),
        ("tcp", "dsize:<5;", n(5), false),
        ("tcp", "dsize:>5;", n(6), true),
        ("tcp", "dsize:>5;", n(5), false),
        // Snort 2.9 sp_dsize_check.c: N<>M is inclusive at both ends.
        ("tcp", "dsize:3<>5;", n(2), false),
        ("tcp", "dsize:3<>5;", n(3), true),
        ("tcp", "dsize:3<>5;", n(5), true),
        ("tcp", "dsize:3<>5;", n(6), false),
        ("tcp", "dsize:0;", n(0), true),
        // dsize with a content.
        ("tcp", r#"dsize:>3; content:"xx";"#, n(4), true),
        ("tcp", r#"dsize:>3; content:"xx";"#, n(3), false),
    ];
    check(cases);
}

#[test]
fn icmp_fields() {
    #[rustfmt::skip]
    let cases: &[(&str, &str, P, bool)] = &[
        ("icmp", "itype:8;", icmp(8, 0, 1, 1), true),
        ("icmp", "itype:8;", icmp(0, 0, 1, 1), false),
        ("icmp", "itype:>7;", icmp(8, 0, 1, 1), true),
        ("icmp", "itype:<8;", icmp(8, 0, 1, 1), false),
        // Snort 2.9 sp_icmp_type_check.c: N<>M is exclusive.
        ("icmp", "itype:3<>8;", icmp(5, 0, 1, 1), true),
        ("icmp", "itype:3<>8;", icmp(8, 0, 1, 1), false),
        ("icmp", "itype:3<>8;", icmp(3, 0, 1, 1), false),
        ("icmp", "itype:3; icode:1;", icmp(3, 1, 0, 0), true),
        ("icmp", "icode:>1;", icmp(3, 1, 0, 0), false),
        ("icmp", "icode:0<>2;", icmp(3, 1, 0, 0), true),
        ("icmp", "icmp_id:4660;", icmp(8, 0, 0x1234, 7), true),
        ("icmp", "icmp_id:4661;", icmp(8, 0, 0x1234, 7), false),
        ("icmp", "icmp_seq:7;", icmp(8, 0, 0x1234, 7), true),
        ("icmp", "icmp_seq:8;", icmp(8, 0, 0x1234, 7), false),
        // ICMP tests never match other protocols.
        ("ip", "itype:0;", tcp("x"), false),
        ("ip", "icmp_id:0;", udp("x"), false),
    ];
    check(cases);
}

#[test]
fn ip_and_tcp_header_tests() {
    #[rustfmt::skip]
    let cases: &[(&str, &str, P, bool)] = &[
        ("ip", "ttl:64;", tcp("x"), true),
        ("ip", "ttl:<64;", tcp("x"), false),
        ("ip", "ttl:<=64;", tcp("x"), true),
        ("ip", "ttl:>=65;", tcp("x"), false),
        ("ip", "ttl:60-64;", tcp("x"), true),
        ("ip", "ttl:65-70;", tcp("x"), false),
        ("ip", "ttl:-64;", tcp("x"), true),
        ("ip", "ttl:65-;", tcp("x"), false),
        ("ip", "ttl:=1;", tcp("x").ttl(1), true),
        ("ip", "tos:4;", tcp("x").tos(4), true),
        ("ip", "tos:!4;", tcp("x").tos(4), false),
        ("ip", "tos:!4;", tcp("x").tos(0), true),
        ("ip", "id:31337;", tcp("x").id(31337), true),
        ("ip", "id:31337;", tcp("x").id(31338), false),
        ("tcp", "window:55808;", tcp("x").tcp_fields(SYN, 1, 0, 55808), true),
        ("tcp", "window:!0;", tcp("x").tcp_fields(SYN, 1, 0, 0), false),
        ("tcp", "window:0x400;", tcp("x").tcp_fields(SYN, 1, 0, 1024), true),
        ("tcp", "seq:0;", tcp("x").tcp_fields(SYN, 0, 0, 1), true),
        ("tcp", "seq:0;", tcp("x").tcp_fields(SYN, 1, 0, 1), false),
        ("tcp", "ack:0; flags:A+;", tcp("x").tcp_fields(ACK, 5, 0, 1), true),
        ("tcp", "ack:1;", tcp("x").tcp_fields(ACK, 5, 0, 1), false),
        ("ip", "window:0;", udp("x"), false),
        ("ip", "ip_proto:6;", tcp("x"), true),
        ("ip", "ip_proto:tcp;", tcp("x"), true),
        ("ip", "ip_proto:!tcp;", tcp("x"), false),
        ("ip", "ip_proto:!tcp;", udp("x"), true),
        ("ip", "ip_proto:>6;", udp("x"), true),
        ("ip", "ip_proto:<6;", icmp(8, 0, 1, 1), true),
        ("ip", "ip_proto:igmp;", udp("x"), false),
        ("ip", "sameip;", tcp("x").same(), true),
        ("ip", "sameip;", tcp("x"), false),
        // fragbits (Snort sp_ip_fragbits.c): exact by default, + all, * any, ! none.
        ("ip", "fragbits:D;", tcp("x").frag(0x2), true),
        ("ip", "fragbits:D;", tcp("x").frag(0x6), false),
        ("ip", "fragbits:D+;", tcp("x").frag(0x6), true),
        ("ip", "fragbits:+RD;", tcp("x").frag(0x2), false),
        ("ip", "fragbits:*RM;", tcp("x").frag(0x4), true),
        ("ip", "fragbits:*RM;", tcp("x").frag(0x2), false),
        ("ip", "fragbits:!R;", tcp("x").frag(0x2), true),
        ("ip", "fragbits:!D;", tcp("x").frag(0x2), false),
        ("ip", "fragbits:R;", tcp("x").frag(0x4), true),
    ];
    check(cases);
}

/// A handshake and a request: SYN, SYN+ACK, ACK, then the client's data.
fn session(request: &str) -> Vec<P> {
    let syn = tcp("").tcp_fields(SYN, 1000, 0, 8192);
    let synack = syn
        .clone()
        .reply(SYN | ACK, "")
        .tcp_fields(SYN | ACK, 5000, 1001, 8192);
    let ack = tcp("").tcp_fields(ACK, 1001, 5001, 8192);
    let data = tcp(request).tcp_fields(PSH | ACK, 1001, 5001, 8192);
    vec![syn, synack, ack, data]
}

#[test]
fn content_with_flow() {
    let set = ruleset(concat!(
        "alert tcp $HOME_NET any -> $EXTERNAL_NET 80 (msg:\"est\"; flow:established,to_server; content:\"GET\"; sid:1;)\n",
        "alert tcp $HOME_NET any -> $EXTERNAL_NET 80 (msg:\"not est\"; flow:not_established; content:\"GET\"; sid:2;)\n",
        "alert tcp any 80 -> any any (msg:\"to client\"; flow:to_client,established; content:\"200 OK\"; sid:3;)\n",
    ));
    let mut pkts = session("GET / HTTP/1.1\r\n\r\n");
    let resp = pkts[3].clone().reply(PSH | ACK, "HTTP/1.1 200 OK\r\n");
    pkts.push(resp);
    let got = run(&set, &pkts);
    assert_eq!(got, vec![vec![], vec![], vec![], vec![1u32], vec![3]]);
    // The same request without a handshake: midstream, never established (Snort stream5).
    let got = run(&set, &[tcp("GET / HTTP/1.1\r\n\r\n")]);
    assert_eq!(got, vec![vec![2]]);
}

#[test]
fn content_with_flowbits_set_by_an_ip_list_rule() {
    // An IP-list rule (tier 1) sets a flowbit on the SYN; a content rule later in the same flow
    // needs it. Another flow with the same payload but another server does not alert.
    let set = ruleset(concat!(
        "alert tcp $HOME_NET any -> [203.0.113.5,198.51.100.7] any (msg:\"list\"; flags:S; flowbits:set,ET.bad; flowbits:noalert; sid:10;)\n",
        "alert tcp $HOME_NET any -> $EXTERNAL_NET any (msg:\"content after list\"; flow:established,to_server; flowbits:isset,ET.bad; content:\"login\"; nocase; sid:11;)\n",
    ));
    let got = run(&set, &session("LOGIN admin"));
    assert_eq!(got, vec![vec![], vec![], vec![], vec![11u32]]);
    let other: Vec<P> = session("LOGIN admin")
        .into_iter()
        .map(|mut p| {
            let (a, b) = (p.src, p.dst);
            let server = [203, 0, 113, 99];
            p.src = if a == SERVER { server } else { a };
            p.dst = if b == SERVER { server } else { b };
            p
        })
        .collect();
    assert_eq!(run(&set, &other), vec![Vec::<u32>::new(); 4]);
}

#[test]
fn port_groups_and_rule_order() {
    // Content rules keyed on dst ports, src ports, `<>` rules and any-port rules, mixed with
    // IP-only rules: candidates from both sources come out in rule order.
    let set = ruleset(concat!(
        "alert ip any any -> 203.0.113.5 any (msg:\"ip only\"; sid:20;)\n",
        "alert tcp any any -> any 80 (msg:\"dst 80\"; content:\"GET\"; sid:21;)\n",
        "alert tcp any 80 -> any any (msg:\"src 80\"; content:\"GET\"; sid:22;)\n",
        "alert tcp any any <> any 80 (msg:\"either 80\"; content:\"GET\"; sid:23;)\n",
        "alert tcp any any -> any [80,8080] (msg:\"list\"; content:\"GET\"; sid:24;)\n",
        "alert tcp any any -> any !80 (msg:\"not 80\"; content:\"GET\"; sid:25;)\n",
        "alert tcp any any -> any any (msg:\"any\"; content:\"get\"; nocase; sid:26;)\n",
        "alert ip any any -> any any (msg:\"ip content\"; content:\"GET\"; sid:27;)\n",
        "alert udp any any -> any 80 (msg:\"udp\"; content:\"GET\"; sid:28;)\n",
    ));
    let pkts = [
        tcp("GET /"),
        tcp("GET /").ports(80, 40000),
        tcp("GET /").ports(40000, 8080),
        tcp("POST /"),
    ];
    // Every candidate here matches: the candidates are the matches, in rule order.
    let got: Vec<Vec<u32>> = pkts.iter().map(|p| candidates(&set, p)).collect();
    assert_eq!(
        got,
        vec![
            vec![20, 21, 23, 24, 26, 27],
            vec![20, 22, 23, 25, 26, 27],
            vec![20, 24, 25, 26, 27],
            vec![20],
        ]
    );
    // What is logged goes through Snort's event queue: at most 5 matches kept per action
    // group in evaluation order, then the longest fast pattern first, then the higher sid,
    // 3 logged (fpdetect.c fpAddMatch / sortOrderByContentLength, event_queue log 3).
    assert_eq!(
        run(&set, &pkts),
        vec![
            vec![26, 24, 23],
            vec![26, 25, 23],
            vec![27, 26, 25],
            vec![20]
        ]
    );
    let (keyed, automata) = set.prefilter_size();
    assert_eq!(keyed, 8);
    assert!(automata >= 5, "{automata}");
}

#[test]
fn content_rules_stay_out_of_the_header_index() {
    // A broad content rule is not a header candidate: it costs nothing without its pattern.
    let set = ruleset("alert tcp any any -> any any (msg:\"x\"; content:\"needle\"; sid:1;)\n");
    let key = nsm_sensor::detect::HeaderKey {
        ip_proto: 6,
        src: Ipv4Addr::new(1, 2, 3, 4).into(),
        dst: Ipv4Addr::new(5, 6, 7, 8).into(),
        sport: Some(1),
        dport: Some(2),
    };
    let mut out = Vec::new();
    set.header_candidates(&key, &mut out);
    assert!(out.is_empty());
    let mut scratch = set.scratch();
    set.candidates(&key, b"hay hay", &mut scratch, &mut out);
    assert!(out.is_empty());
    set.candidates(&key, b"hay needle hay", &mut scratch, &mut out);
    assert_eq!(out, vec![0]);
    assert!(set.header_matches(0, &key));
}
