//! The hot path allocates nothing: replaying packets that raise no alert through the whole
//! pipeline (decode, flow table, detection with every ET IP list loaded, ring) performs no heap
//! allocation per packet once warmed up. Counted with a global allocator wrapper.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use nsm_sensor::capture::{Next, OfflineSource, PacketSource};
use nsm_sensor::decode::DecodeOptions;
use nsm_sensor::detect::DetectOptions;
use nsm_sensor::pipeline::{Pipeline, PipelineOptions};
use nsm_sensor::ring::RingOptions;
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
    let ruleset = report.ruleset;
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
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/botcc-2007-02-21.pcap");
    for ring in [false, true] {
        let (allocs, alerts) = allocations_of_second_pass(&pcap, ring);
        assert_eq!(alerts, 0, "the ET lists do not cover the seed's addresses");
        assert_eq!(allocs, 0, "allocations in the warm pass (ring: {ring})");
    }
}
