//! Detection loop throughput with every ET IP list loaded: decode + flow + index + options,
//! no outputs, no ring. Reports packets/s (criterion's element throughput) and ns/packet.

use std::collections::BTreeMap;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nsm_sensor::capture::RawPacket;
use nsm_sensor::decode::DecodeOptions;
use nsm_sensor::detect::DetectOptions;
use nsm_sensor::pipeline::{Pipeline, PipelineOptions};
use nsm_sensor::rules::{self, LoadOptions};

/// A TCP frame (Ethernet/IPv4/TCP, valid checksums not needed: checksums off) from `src` to
/// `dst` with the given flags and payload size.
fn frame(src: [u8; 4], dst: [u8; 4], flags: u8, payload: usize) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 20 + payload];
    f[12] = 0x08; // EtherType IPv4
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    let total = (40 + payload) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let tcp = &mut f[34..54];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&443u16.to_be_bytes());
    tcp[12] = 0x50;
    tcp[13] = flags;
    f
}

fn workload() -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut x: u32 = 2007;
    for i in 0..10_000u32 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let home = [192, 168, (x >> 8) as u8, (x as u8).max(1)];
        let remote = [45 + (x >> 24) as u8 % 100, (x >> 16) as u8, (x >> 4) as u8, 7];
        let size = [6usize, 522, 1460][(i % 10) as usize * 3 / 10];
        let (s, d) = if i % 2 == 0 { (home, remote) } else { (remote, home) };
        frames.push(frame(s, d, 0x18, size));
    }
    frames
}

fn bench(c: &mut Criterion) {
    let et = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/et");
    let mut vars = BTreeMap::new();
    vars.insert("HOME_NET".to_string(), "[192.168.0.0/16]".to_string());
    let report = rules::load(&LoadOptions {
        paths: vec![et],
        vars,
        classification: None,
        reference: None,
        threshold: None,
    });
    assert!(report.is_usable());
    let ruleset = report.ruleset;
    let opts = PipelineOptions {
        decode: DecodeOptions { checksums: false },
        outputs: None,
        ring: None,
        detect: DetectOptions::from_config(&Default::default()),
    };
    let frames = workload();
    let mut pipeline = Pipeline::new(&opts, 1, 65535).unwrap();
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("et_ip_lists_10k_frames", |b| {
        let mut t = 1_700_000_000i64;
        b.iter(|| {
            t += 1;
            for f in &frames {
                let raw = RawPacket { ts_sec: t, ts_usec: 0, wire_len: f.len() as u32, data: f };
                pipeline.process(&ruleset, &raw);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
