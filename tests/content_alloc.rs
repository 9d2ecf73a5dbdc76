//! The content prefilter allocates nothing per packet: with the content rule files loaded,
//! replaying payload-carrying packets (zero bytes, HTTP-like text, and text that hits fast
//! patterns without completing the rules) through the engine performs no heap allocation once
//! warmed up. Counted with a global allocator wrapper.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use etherparse::PacketBuilder;
use nsm_sensor::capture::RawPacket;
use nsm_sensor::decode::{linktype, DecodeOptions};
use nsm_sensor::detect::DetectOptions;
use nsm_sensor::pipeline::{Pipeline, PipelineOptions};
use nsm_sensor::rules::{load, LoadOptions};

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

#[test]
fn content_scan_allocates_nothing_per_packet() {
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
    let set = report.ruleset;
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
