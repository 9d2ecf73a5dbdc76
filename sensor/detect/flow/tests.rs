//! Tests of the flow table: handshake and direction, established, timeouts, memcap eviction,
//! flowbits and their remapping after a reload.

use super::*;
use crate::decode::Frag;
use crate::rules::model::tcp_flags::{ACK, FIN, PSH, RST, SYN};

const PROTO_ICMP: u8 = 1;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn pkt(src: &str, dst: &str, proto: u8, transport: Transport, ts: i64) -> Packet<'static> {
    let (src, dst) = (ip(src), ip(dst));
    Packet {
        ts_sec: ts,
        ts_usec: 0,
        frame: &[],
        wire_len: 60,
        src,
        dst,
        ip_version: if src.is_ipv4() { 4 } else { 6 },
        ip_header: &[],
        ip_proto: proto,
        ttl: 64,
        tos: 0,
        ip_id: 0,
        ip_total_len: 46,
        frag: Frag::default(),
        transport,
        l4_header: &[],
        payload: &[],
        anomaly: None,
    }
}

/// A TCP packet "a:p -> b:q" with flags at time `ts`.
fn tcp(src: &str, sp: u16, dst: &str, dp: u16, flags: u8, ts: i64) -> Packet<'static> {
    let t = Transport::Tcp {
        sport: sp,
        dport: dp,
        seq: 0,
        ack: 0,
        flags,
        window: 0,
        urg: 0,
    };
    pkt(src, dst, PROTO_TCP, t, ts)
}

fn udp(src: &str, sp: u16, dst: &str, dp: u16, ts: i64) -> Packet<'static> {
    pkt(
        src,
        dst,
        PROTO_UDP,
        Transport::Udp {
            sport: sp,
            dport: dp,
            len: 8,
        },
        ts,
    )
}

fn table() -> FlowTable {
    FlowTable::new(FlowOptions {
        memcap_bytes: 1 << 20,
        tcp_timeout_s: 600,
        tcp_new_timeout_s: 30,
        udp_timeout_s: 60,
        other_timeout_s: 10,
    })
}

const C: &str = "192.168.0.31";
const S: &str = "161.53.178.240";

/// (to_server, established) for each packet.
fn run(t: &mut FlowTable, pkts: &[Packet<'_>]) -> Vec<(bool, bool)> {
    pkts.iter()
        .map(|p| {
            let v = t.update(p).unwrap();
            (v.to_server, v.established)
        })
        .collect()
}

#[test]
fn handshake_direction_and_established() {
    // (packet, to_server, established)
    let cases = [
        (tcp(C, 2253, S, 6667, SYN, 0), true, false),
        (tcp(S, 6667, C, 2253, SYN | ACK, 0), false, false),
        (tcp(C, 2253, S, 6667, ACK, 0), true, true),
        (tcp(C, 2253, S, 6667, PSH | ACK, 1), true, true),
        (tcp(S, 6667, C, 2253, PSH | ACK, 1), false, true),
        (tcp(C, 2253, S, 6667, FIN | ACK, 2), true, true),
        (tcp(S, 6667, C, 2253, FIN | ACK, 2), false, true),
        (tcp(C, 2253, S, 6667, ACK, 2), true, true),
        // After the close: no longer established, same flow and direction.
        (tcp(S, 6667, C, 2253, ACK, 3), false, false),
    ];
    let mut t = table();
    let mut ids = Vec::new();
    for (n, (p, dir, est)) in cases.iter().enumerate() {
        let v = t.update(p).unwrap();
        assert_eq!((v.to_server, v.established), (*dir, *est), "packet {n}");
        ids.push(v.flow_id);
    }
    assert!(ids.iter().all(|&id| id == ids[0] && id != 0));
    let st = t.stats();
    assert_eq!((st.active, st.created), (1, 1));
}

#[test]
fn established_needs_the_whole_handshake() {
    let mut t = table();
    // SYN, SYN retransmitted, data from the client before any SYN+ACK: not established.
    let got = run(
        &mut t,
        &[
            tcp(C, 1, S, 80, SYN, 0),
            tcp(C, 1, S, 80, SYN, 1),
            tcp(C, 1, S, 80, ACK, 1),
        ],
    );
    assert_eq!(got, [(true, false), (true, false), (true, false)]);
    // A RST during the handshake closes it; the next SYN starts a new session.
    let mut t = table();
    let got = run(
        &mut t,
        &[
            tcp(C, 1, S, 80, SYN, 0),
            tcp(S, 80, C, 1, RST | ACK, 0),
            tcp(C, 1, S, 80, ACK, 0),
            tcp(C, 1, S, 80, SYN, 1),
            tcp(S, 80, C, 1, SYN | ACK, 1),
            tcp(C, 1, S, 80, ACK, 1),
        ],
    );
    assert_eq!(
        got,
        [
            (true, false),
            (false, false),
            (true, false),
            (true, false),
            (false, false),
            (true, true)
        ]
    );
    assert_eq!(t.stats().created, 2);
}

#[test]
fn rst_ends_an_established_session() {
    let mut t = table();
    let got = run(
        &mut t,
        &[
            tcp(C, 1, S, 80, SYN, 0),
            tcp(S, 80, C, 1, SYN | ACK, 0),
            tcp(C, 1, S, 80, ACK, 0),
            tcp(S, 80, C, 1, RST, 1),
            tcp(C, 1, S, 80, PSH | ACK, 1),
        ],
    );
    assert_eq!(
        got,
        [
            (true, false),
            (false, false),
            (true, true),
            (false, true),
            (true, false)
        ]
    );
}

#[test]
fn midstream_is_never_established() {
    // Picked up with data: the first sender is the client.
    let mut t = table();
    let got = run(
        &mut t,
        &[
            tcp(S, 80, C, 1, PSH | ACK, 0),
            tcp(C, 1, S, 80, ACK, 0),
            tcp(S, 80, C, 1, ACK, 1),
        ],
    );
    assert_eq!(got, [(true, false), (false, false), (true, false)]);
    // Picked up at the SYN+ACK: its receiver is the client.
    let mut t = table();
    let got = run(
        &mut t,
        &[tcp(S, 80, C, 1, SYN | ACK, 0), tcp(C, 1, S, 80, ACK, 0)],
    );
    assert_eq!(got, [(false, false), (true, false)]);
}

#[test]
fn udp_is_established_once_both_sides_sent() {
    let mut t = table();
    let got = run(
        &mut t,
        &[
            udp(C, 5353, S, 53, 0),
            udp(C, 5353, S, 53, 0),
            udp(S, 53, C, 5353, 1),
            udp(C, 5353, S, 53, 2),
        ],
    );
    assert_eq!(
        got,
        [(true, false), (true, false), (false, true), (true, true)]
    );
    let v = t.update(&udp(C, 5353, S, 53, 3)).unwrap();
    assert_eq!(
        (
            v.counters.pkts_toserver,
            v.counters.pkts_toclient,
            v.counters.bytes_toserver
        ),
        (4, 1, 240)
    );
}

#[test]
fn icmp_echo_pairs_by_id_and_non_first_fragments_have_no_flow() {
    let mut t = table();
    let echo = |src, dst, itype, id| {
        pkt(
            src,
            dst,
            PROTO_ICMP,
            Transport::Icmp {
                itype,
                icode: 0,
                id,
                seq: 1,
            },
            0,
        )
    };
    let got = run(
        &mut t,
        &[echo(C, S, 8, 7), echo(S, C, 0, 7), echo(C, S, 8, 8)],
    );
    assert_eq!(got, [(true, false), (false, true), (true, false)]);
    assert_eq!(t.stats().active, 2);
    let mut frag = pkt(C, S, PROTO_TCP, Transport::None, 0);
    frag.frag.offset = 100;
    assert!(t.update(&frag).is_none());
    // Other protocols have a flow without ports.
    let gre = pkt(C, S, 47, Transport::None, 0);
    assert!(t.update(&gre).is_some());
}

#[test]
fn ipv6_flows() {
    let mut t = table();
    let (a, b) = ("2001:db8::1", "2001:db8::2");
    let got = run(
        &mut t,
        &[
            tcp(a, 5, b, 443, SYN, 0),
            tcp(b, 443, a, 5, SYN | ACK, 0),
            tcp(a, 5, b, 443, ACK, 0),
        ],
    );
    assert_eq!(got, [(true, false), (false, false), (true, true)]);
}

#[test]
fn same_host_both_ends_uses_ports_for_direction() {
    let mut t = table();
    let got = run(
        &mut t,
        &[
            tcp("127.0.0.1", 40000, "127.0.0.1", 22, SYN, 0),
            tcp("127.0.0.1", 22, "127.0.0.1", 40000, SYN | ACK, 0),
            tcp("127.0.0.1", 40000, "127.0.0.1", 22, ACK, 0),
        ],
    );
    assert_eq!(got, [(true, false), (false, false), (true, true)]);
}

#[test]
fn timeouts_in_packet_time() {
    let mut t = table();
    // Timeouts: tcp_new 30 s, tcp (established) 600 s, udp 60 s.
    let id0 = t.update(&tcp(C, 1, S, 80, SYN, 0)).unwrap().flow_id;
    // 30 s idle is not more than the timeout: same flow.
    assert_eq!(t.update(&tcp(C, 1, S, 80, SYN, 30)).unwrap().flow_id, id0);
    // 31 s idle: expired, a new session (new id) in the same entry.
    let id1 = t.update(&tcp(C, 1, S, 80, SYN, 61)).unwrap().flow_id;
    assert_ne!(id1, id0);
    assert_eq!(t.stats().timed_out, 1);
    // Established flows use the long timeout.
    t.update(&tcp(S, 80, C, 1, SYN | ACK, 61));
    t.update(&tcp(C, 1, S, 80, ACK, 61));
    let v = t.update(&tcp(C, 1, S, 80, ACK, 661)).unwrap();
    assert!(v.established && v.flow_id == id1);
    // UDP idles out after 60 s; expire() reclaims it lazily.
    t.update(&udp(C, 5353, S, 53, 700));
    assert_eq!(t.stats().active, 2);
    assert_eq!(t.expire(760, 10), 0);
    assert_eq!(t.expire(761, 10), 1);
    assert_eq!(t.stats().active, 1);
    // Creating a flow reclaims expired ones at the LRU end.
    t.update(&udp(C, 1, S, 2, 2000));
    let st = t.stats();
    assert_eq!((st.active, st.timed_out), (1, 3));
    // A clock that goes backwards expires nothing.
    assert_eq!(t.expire(0, 10), 0);
}

#[test]
fn memcap_evicts_the_least_recently_used() {
    let mut t = FlowTable::new(FlowOptions {
        memcap_bytes: 3 * FLOW_BYTES,
        ..table().opts
    });
    assert_eq!(t.stats().max_flows, 3);
    let flow = |port| udp(C, port, S, 53, 0);
    let id1 = t.update(&flow(1)).unwrap().flow_id;
    t.update(&flow(2));
    t.update(&flow(3));
    t.update(&flow(1)); // 2 is now the least recently used
    t.update(&flow(4)); // evicts 2
    let st = t.stats();
    assert_eq!((st.active, st.evicted, st.created), (3, 1, 4));
    assert_eq!(t.update(&flow(1)).unwrap().flow_id, id1);
    t.update(&flow(2)); // back as a new flow, evicting 3
    let st = t.stats();
    assert_eq!((st.active, st.evicted, st.created), (3, 2, 5));
    assert_eq!(t.slots.len(), 3, "freed slots are reused");
}

fn op(cmd: FlowbitsCmd, bits: &[FlowbitId], join: BitsJoin) -> FlowbitsOp {
    FlowbitsOp {
        cmd,
        bits: bits.to_vec(),
        join,
    }
}

#[test]
fn flowbits_across_packets_and_directions() {
    use BitsJoin::{All, Any};
    use FlowbitsCmd::*;
    let mut t = table();
    let hs = [tcp(C, 1, S, 80, SYN, 0), tcp(S, 80, C, 1, SYN | ACK, 0)];
    let v = t.update(&hs[0]).unwrap();
    v.bits.apply(&op(Set, &[3], All));
    // The reply direction sees the bit set by the client.
    let v = t.update(&hs[1]).unwrap();
    assert!(v.bits.test(&op(IsSet, &[3], All)));
    assert!(!v.bits.test(&op(IsNotSet, &[3], All)));
    assert!(v.bits.test(&op(IsNotSet, &[4], All)));
    v.bits.apply(&op(Set, &[4, 200], All));
    // (op, expected test result) against bits {3, 4, 200}
    let cases = [
        (op(IsSet, &[3, 4], All), true),
        (op(IsSet, &[3, 5], All), false),
        (op(IsSet, &[5, 200], Any), true),
        (op(IsSet, &[5, 6], Any), false),
        (op(IsNotSet, &[5, 6], All), true),
        (op(IsNotSet, &[3, 6], All), false),
        (op(IsNotSet, &[3, 6], Any), true),
        (op(IsNotSet, &[3, 4], Any), false),
        (op(NoAlert, &[], All), true),
    ];
    let v = t.update(&tcp(C, 1, S, 80, ACK, 1)).unwrap();
    for (o, want) in &cases {
        assert_eq!(v.bits.test(o), *want, "{o:?}");
    }
    v.bits.apply(&op(Unset, &[3], All));
    v.bits.apply(&op(Toggle, &[4, 5], All));
    let v = t.update(&tcp(S, 80, C, 1, ACK, 1)).unwrap();
    assert_eq!(v.bits.iter().collect::<Vec<_>>(), [5, 200]);
    v.bits.apply(&op(Reset, &[], All));
    assert!(v.bits.is_empty());
    // Another flow has its own bits.
    let v = t.update(&tcp(C, 2, S, 80, SYN, 1)).unwrap();
    assert!(v.bits.is_empty());
}

#[test]
fn flowbits_bitset_edges() {
    let mut b = FlowBits::default();
    b.unset(1000); // unset of a never-set high id allocates nothing
    assert!(b.spill.is_empty());
    for id in [0, 63, 64, 127, 128, 1000, u16::MAX] {
        assert!(!b.is_set(id));
        b.set(id);
        assert!(b.is_set(id), "{id}");
    }
    assert_eq!(
        b.iter().collect::<Vec<_>>(),
        [0, 63, 64, 127, 128, 1000, u16::MAX]
    );
    b.toggle(63);
    b.unset(u16::MAX);
    assert_eq!(b.iter().collect::<Vec<_>>(), [0, 64, 127, 128, 1000]);
    b.clear_all();
    assert!(b.is_empty());
}

#[test]
fn remap_bits_after_reload() {
    let mut t = table();
    let v = t.update(&udp(C, 1, S, 2, 0)).unwrap();
    v.bits.set(0);
    v.bits.set(1);
    v.bits.set(2);
    let v = t.update(&udp(C, 3, S, 4, 0)).unwrap();
    v.bits.set(2);
    // old 0 → 5, old 1 dropped, old 2 → 130
    t.remap_bits(&[Some(5), None, Some(130)]);
    let v = t.update(&udp(C, 1, S, 2, 1)).unwrap();
    assert_eq!(v.bits.iter().collect::<Vec<_>>(), [5, 130]);
    let v = t.update(&udp(C, 3, S, 4, 1)).unwrap();
    assert_eq!(v.bits.iter().collect::<Vec<_>>(), [130]);
    // Ids past the map's end are dropped.
    v.bits.set(9);
    t.remap_bits(&[]);
    assert!(t.update(&udp(C, 3, S, 4, 1)).unwrap().bits.is_empty());
}

#[test]
fn flow_option_matching() {
    let t = |dir, established, stateless| FlowTest {
        dir,
        established,
        stateless,
        stream: None,
    };
    let ts = Some(FlowDir::ToServer);
    let tc = Some(FlowDir::ToClient);
    // (test, to_server, established, expected)
    let cases = [
        (t(ts, Some(true), false), true, true, true),
        (t(ts, Some(true), false), true, false, false),
        (t(ts, Some(true), false), false, true, false),
        (t(tc, None, false), false, false, true),
        (t(None, Some(false), false), true, false, true),
        (t(None, Some(false), false), true, true, false),
        (t(ts, None, true), true, false, true),
        (t(tc, None, true), true, false, false),
    ];
    let mut bits = FlowBits::default();
    for (test, to_server, established, want) in cases {
        let counters = FlowCounters::default();
        let view = FlowView {
            flow_id: 1,
            to_server,
            established,
            counters,
            bits: &mut bits,
        };
        assert_eq!(
            view.matches(&test),
            want,
            "{test:?} {to_server} {established}"
        );
    }
    // Without a flow: only tests naming no direction and not requiring establishment.
    assert!(flow_matches(&t(None, Some(false), false), None));
    assert!(flow_matches(&t(None, None, true), None));
    assert!(!flow_matches(&t(ts, None, false), None));
    assert!(!flow_matches(&t(None, Some(true), false), None));
}

#[test]
fn warm_table_reuses_capacity() {
    // Steady state: a full table that keeps creating flows never grows its slab.
    let mut t = FlowTable::new(FlowOptions {
        memcap_bytes: 64 * FLOW_BYTES,
        ..table().opts
    });
    let cap = (t.slots.capacity(), t.map.capacity());
    for port in 0..1000u16 {
        t.update(&udp(C, port, S, 53, i64::from(port / 100)));
    }
    assert_eq!((t.slots.capacity(), t.map.capacity()), cap);
    assert_eq!(t.stats().active, 64);
}

/// Regression: one LRU list for four timeout classes, looking at 4 tail slots, evicted live
/// flows under memory pressure while expired ones (of a shorter-timeout class, used more
/// recently) stayed. With one list per class, expired flows of any class go first.
#[test]
fn memory_pressure_reclaims_expired_flows_of_any_class_before_live_ones() {
    let mut t = FlowTable::new(FlowOptions {
        memcap_bytes: 7 * FLOW_BYTES,
        tcp_timeout_s: 600,
        tcp_new_timeout_s: 30,
        udp_timeout_s: 60,
        other_timeout_s: 10,
    });
    let echo = |src: &str, ts| {
        pkt(
            src,
            S,
            PROTO_ICMP,
            Transport::Icmp {
                itype: 8,
                icode: 0,
                id: 1,
                seq: 1,
            },
            ts,
        )
    };
    // Live at t=45: five UDP flows (timeout 60) seen first, at t=0..4 — the least recently
    // used end of any single list.
    for n in 0..5u16 {
        t.update(&udp(C, 1000 + n, S, 53, i64::from(n)));
    }
    // Then flows of short-timeout classes, seen later: an ICMP flow (10 s) at t=5 and a TCP
    // flow still in its handshake (30 s) at t=6. Both have expired by t=45.
    t.update(&echo("10.0.0.1", 5));
    t.update(&tcp(C, 2000, S, 80, SYN, 6));
    assert_eq!(t.stats().active, 7);
    // Two new flows at t=45 in a full table: the two expired flows go, no live flow is evicted.
    t.update(&udp("10.9.9.9", 1, S, 53, 45));
    t.update(&udp("10.9.9.9", 2, S, 53, 45));
    let st = t.stats();
    assert_eq!((st.evicted, st.timed_out, st.active), (0, 2, 7));
    // The five old UDP flows are still the same sessions (their second packet, same flow).
    for n in 0..5u16 {
        let v = t.update(&udp(C, 1000 + n, S, 53, 46)).unwrap();
        assert_eq!(v.counters.pkts_toserver, 2, "udp flow {n}");
    }
    // Nothing expired left: the next new flow evicts the least recently seen live one.
    t.update(&udp("10.9.9.9", 3, S, 53, 47));
    assert_eq!(t.stats().evicted, 1);
}

/// A flow changes lists with its class: once established, a TCP flow has the long timeout
/// (a SYN-only flow with the same last packet time would have expired).
#[test]
fn expire_is_exact_per_class() {
    let mut t = table();
    // Handshake at t=0..1: established (600 s); a half-open flow at t=1 (30 s).
    t.update(&tcp(C, 3000, S, 80, SYN, 0));
    t.update(&tcp(S, 80, C, 3000, SYN | ACK, 0));
    t.update(&tcp(C, 3000, S, 80, ACK, 1));
    t.update(&tcp(C, 3001, S, 80, SYN, 1));
    t.update(&udp(C, 5000, S, 53, 1));
    assert_eq!(t.expire(40, 100), 1, "only the half-open TCP flow");
    assert_eq!(t.expire(70, 100), 1, "then the UDP flow");
    assert_eq!(t.expire(500, 100), 0, "the established flow lives 600 s");
    assert_eq!(t.expire(700, 100), 1);
    assert_eq!(t.stats().active, 0);
}
