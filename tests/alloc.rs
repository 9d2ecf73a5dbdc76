//! The hot path allocates nothing: replaying packets that raise no alert through the whole
//! pipeline (decode, flow table, detection with every ET IP list loaded, ring) performs no heap
//! allocation per packet once warmed up; nor does the content prefilter with the content rule
//! files loaded (zero payloads, HTTP-like text, and text that hits fast patterns without
//! completing the rules). Counted with a global allocator wrapper; the tests take turns, since
//! the counter is global.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use etherparse::PacketBuilder;
use nsm_sensor::capture::RawPacket;
use nsm_sensor::capture::{Next, OfflineSource, PacketSource};
use nsm_sensor::decode::linktype;
use nsm_sensor::decode::DecodeOptions;
use nsm_sensor::detect::DetectOptions;
use nsm_sensor::detect::RuleSet;
use nsm_sensor::pipeline::{Pipeline, PipelineOptions};
use nsm_sensor::ring::RingOptions;
use nsm_sensor::rules::load;
use nsm_sensor::rules::{self, LoadOptions};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

#[allow(unsafe_code)]
// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One measuring test at a time: another test's allocations would count too.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn et_rules() -> LoadOptions {
    let et = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/et");
    let mut vars = std::collections::BTreeMap::new();
    vars.insert("HOME_NET".to_string(), "[192.168.0.0/16]".to_string());
    LoadOptions {
        paths: vec![et],
        vars,
        classification: None,
        reference: None,
        threshold: None,
    }
}

/// Replays `frames` twice (the first pass warms the flow table and scratch buffers) and returns
/// the allocations of the second pass.
fn allocations_of_second_pass(pcap: &Path, ring: bool) -> (u64, u64) {
    let report = rules::load(&et_rules());
    assert!(report.is_usable());
    let ruleset = RuleSet::compile(report.model);
    let tmp = tempfile::tempdir().unwrap();
    let opts = PipelineOptions {
        decode: DecodeOptions { checksums: true },
        outputs: None,
        ring: ring.then(|| RingOptions {
            dir: tmp.path().join("ring"),
            prefix: "nsm".into(),
            files: 4,
            file_size: 1 << 30,
        }),
        detect: DetectOptions::from_config(&Default::default()),
        evidence: None,
    };
    let mut src = OfflineSource::open(pcap, "").unwrap();
    let mut pipeline = Pipeline::new(&opts, src.linktype(), src.snaplen()).unwrap();
    let mut frames: Vec<(i64, u32, u32, Vec<u8>)> = Vec::new();
    while let Ok(Next::Packet(p)) = src.next_packet() {
        frames.push((p.ts_sec, p.ts_usec, p.wire_len, p.data.to_vec()));
    }
    let feed = |pipeline: &mut Pipeline, shift: i64| {
        for (s, u, w, d) in &frames {
            let raw = nsm_sensor::capture::RawPacket {
                ts_sec: s + shift,
                ts_usec: *u,
                wire_len: *w,
                data: d,
            };
            pipeline.process(&ruleset, &raw);
        }
    };
    feed(&mut pipeline, 0);
    let before = ALLOCS.load(Ordering::Relaxed);
    feed(&mut pipeline, 1);
    let after = ALLOCS.load(Ordering::Relaxed);
    let alerts = pipeline.stats().alerts;
    (after - before, alerts)
}

#[test]
fn replay_without_alerts_allocates_nothing_per_packet() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/botcc-2007-02-21.pcap");
    for ring in [false, true] {
        let (allocs, alerts) = allocations_of_second_pass(&pcap, ring);
        assert_eq!(alerts, 0, "the ET lists do not cover the seed's addresses");
        assert_eq!(allocs, 0, "allocations in the warm pass (ring: {ring})");
    }
}

#[test]
fn content_scan_allocates_nothing_per_packet() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/rules");
    let mut opts = LoadOptions {
        paths: vec![
            dir.join("et/emerging-scan.rules"),
            dir.join("et/emerging-malware.rules"),
            dir.join("et/emerging-chat.rules"),
            dir.join("community/community.rules"),
        ],
        ..LoadOptions::default()
    };
    opts.vars
        .insert("HOME_NET".into(), "[192.168.0.0/16]".into());
    let report = load(&opts);
    assert!(report.is_usable());
    let set = RuleSet::compile(report.model);
    // Payloads that reach the prefilter: zeros, plain HTTP, and fast patterns of loaded rules
    // (e.g. "service|3a|thc" of ET SCAN Amap without its flow and flags).
    let payloads: [&[u8]; 4] = [
        &[0u8; 1200],
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"service:thc://x service:thc",
        b"USER root\r\nchat.facebook.com jabber:client",
    ];
    let mut frames = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let mut f = Vec::new();
        b.ipv4([203, 0, 113, 9], [192, 168, 1, 2], 64)
            .tcp(40000 + i as u16, [80, 21, 5222, 4444][i], 1, 8192)
            .write(&mut f, p)
            .unwrap();
        frames.push(f);
        let mut f = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([192, 168, 1, 2], [198, 51, 100, 3], 64)
            .udp(5000, 53 + i as u16)
            .write(&mut f, p)
            .unwrap();
        frames.push(f);
    }
    let popts = PipelineOptions {
        decode: DecodeOptions { checksums: true },
        outputs: None,
        ring: None,
        detect: DetectOptions::from_config(&Default::default()),
        evidence: None,
    };
    let mut pipeline = Pipeline::new(&popts, linktype::ETHERNET, 65535).unwrap();
    let feed = |pipeline: &mut Pipeline, t: i64| {
        for f in &frames {
            let raw = RawPacket {
                ts_sec: t,
                ts_usec: 0,
                wire_len: f.len() as u32,
                data: f,
            };
            pipeline.process(&set, &raw);
        }
    };
    feed(&mut pipeline, 1_700_000_000);
    let before = ALLOCS.load(Ordering::Relaxed);
    for k in 1..4 {
        feed(&mut pipeline, 1_700_000_000 + k);
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    assert_eq!(
        pipeline.stats().alerts,
        0,
        "no rule completes on these packets"
    );
    assert_eq!(after - before, 0, "allocations in the warm passes");
}

/// While an evidence event is open, every packet is looked up against it: the packets of
/// other conversations cost that lookup and nothing else — no allocation.
#[test]
fn open_evidence_event_allocates_nothing_for_other_packets() {
    use nsm_sensor::evidence::EvidenceOptions;
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let rules_file = tmp.path().join("t.rules");
    std::fs::write(
        &rules_file,
        "alert udp any any -> 203.0.113.5 any (msg:\"listed\"; sid:1; rev:1;)\n",
    )
    .unwrap();
    let mut lo = et_rules();
    lo.paths.push(rules_file);
    let report = rules::load(&lo);
    assert!(report.is_usable());
    let ruleset = RuleSet::compile(report.model);
    let opts = PipelineOptions {
        decode: DecodeOptions { checksums: true },
        outputs: None,
        ring: Some(RingOptions {
            dir: tmp.path().join("ring"),
            prefix: "nsm".into(),
            files: 4,
            file_size: 1 << 30,
        }),
        detect: DetectOptions::from_config(&Default::default()),
        evidence: Some(EvidenceOptions {
            dir: tmp.path().join("evidence"),
            quota: 1 << 30,
            pre_s: 60,
            post_s: 120,
            max_packets: 10_000,
            max_bytes: 1 << 30,
            tagged_packet_limit: 256,
            lossless: true,
        }),
    };
    let udp = |src: [u8; 4], dst: [u8; 4], sport: u16| {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .udp(sport, 53);
        let mut v = Vec::new();
        b.write(&mut v, b"query").unwrap();
        v
    };
    let mut pipeline = Pipeline::new(&opts, linktype::ETHERNET, 65535).unwrap();
    let t0 = 1_700_000_000;
    let alert = udp([192, 168, 1, 5], [203, 0, 113, 5], 4000);
    pipeline.process(
        &ruleset,
        &RawPacket {
            ts_sec: t0,
            ts_usec: 0,
            wire_len: alert.len() as u32,
            data: &alert,
        },
    );
    assert_eq!(pipeline.stats().evidence.open, 1);
    pipeline.evidence().unwrap().sync();
    let others: Vec<Vec<u8>> = (0..2000u16)
        .map(|i| udp([192, 168, 2, (i % 200) as u8], [10, 9, 8, 7], 1000 + i))
        .collect();
    let feed = |pipeline: &mut Pipeline, sec: i64| {
        for f in &others {
            let raw = RawPacket {
                ts_sec: sec,
                ts_usec: 0,
                wire_len: f.len() as u32,
                data: f,
            };
            pipeline.process(&ruleset, &raw);
        }
    };
    feed(&mut pipeline, t0 + 1);
    let before = ALLOCS.load(Ordering::Relaxed);
    feed(&mut pipeline, t0 + 2);
    let after = ALLOCS.load(Ordering::Relaxed);
    assert_eq!(pipeline.stats().evidence.open, 1, "the event is still open");
    assert_eq!(after - before, 0, "allocations while an event is open");
}

/// With the content rule files loaded, HTTP-port connections are reassembled and their
/// requests and responses inspected as rebuilt messages. Once warm (the sessions of finished
/// connections kept for the next, the reassembler's and the flow table's slots reused), a
/// whole new round of connections — handshake, request, response, FIN both ways — allocates
/// nothing.
#[test]
fn http_connections_allocate_nothing_once_warm() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/rules");
    let mut opts = LoadOptions {
        paths: vec![
            dir.join("et/emerging-scan.rules"),
            dir.join("et/emerging-malware.rules"),
            dir.join("community/community.rules"),
        ],
        ..LoadOptions::default()
    };
    opts.vars
        .insert("HOME_NET".into(), "[192.168.0.0/16]".into());
    let report = load(&opts);
    assert!(report.is_usable());
    let set = RuleSet::compile(report.model);
    // One connection: client 192.168.1.x:port → 198.51.100.7:80.
    let connection = |client: u8, port: u16| -> Vec<Vec<u8>> {
        let c = [192, 168, 1, client];
        let s = [198, 51, 100, 7];
        let request: &[u8] =
            b"GET /index.html?q=1 HTTP/1.1\r\nHost: www.example.com\r\nCookie: a=b\r\n\r\n";
        let response: &[u8] =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        let (cs, ss) = (1000u32, 5000u32);
        let (rq, rs) = (request.len() as u32, response.len() as u32);
        let tcp = |from_client: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]| {
            let (src, dst, sp, dp) = if from_client {
                (c, s, port, 80)
            } else {
                (s, c, 80, port)
            };
            let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(src, dst, 64)
                .tcp(sp, dp, seq, 65535);
            if ack != 0 {
                b = b.ack(ack);
            }
            for f in flags.chars() {
                b = match f {
                    'S' => b.syn(),
                    'F' => b.fin(),
                    'P' => b.psh(),
                    _ => b,
                };
            }
            let mut v = Vec::new();
            b.write(&mut v, payload).unwrap();
            v
        };
        vec![
            tcp(true, cs, 0, "S", b""),
            tcp(false, ss, cs + 1, "S", b""),
            tcp(true, cs + 1, ss + 1, "", b""),
            tcp(true, cs + 1, ss + 1, "P", request),
            tcp(false, ss + 1, cs + 1 + rq, "P", response),
            tcp(true, cs + 1 + rq, ss + 1 + rs, "F", b""),
            tcp(false, ss + 1 + rs, cs + 2 + rq, "F", b""),
            tcp(true, cs + 2 + rq, ss + 2 + rs, "", b""),
        ]
    };
    let frames: Vec<Vec<u8>> = (0..50u8)
        .flat_map(|i| connection(10 + i, 40000 + u16::from(i)))
        .collect();
    let popts = PipelineOptions {
        decode: DecodeOptions { checksums: true },
        outputs: None,
        ring: None,
        detect: DetectOptions::from_config(&Default::default()),
        evidence: None,
    };
    let mut pipeline = Pipeline::new(&popts, linktype::ETHERNET, 65535).unwrap();
    let feed = |pipeline: &mut Pipeline, t: i64| {
        for f in &frames {
            let raw = RawPacket {
                ts_sec: t,
                ts_usec: 0,
                wire_len: f.len() as u32,
                data: f,
            };
            pipeline.process(&set, &raw);
        }
    };
    feed(&mut pipeline, 1_700_000_000);
    let before = ALLOCS.load(Ordering::Relaxed);
    for k in 1..4 {
        feed(&mut pipeline, 1_700_000_000 + k * 10);
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    let stats = pipeline.stats().clone();
    assert_eq!(stats.alerts, 0, "no rule completes on these connections");
    assert_eq!(stats.messages.http.requests, 200, "{:?}", stats.messages);
    assert_eq!(stats.messages.http.responses, 200, "{:?}", stats.messages);
    assert_eq!(after - before, 0, "allocations in the warm rounds");
}
