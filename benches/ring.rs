//! Ring write throughput: packets/s and MB/s for 1514-byte and 60-byte frames into a
//! temporary directory (rotation included: 10 files of 64 MiB).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nsm_sensor::ring::{Ring, RingOptions};

fn ring_write(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_write");
    for size in [1514usize, 60] {
        let dir = tempfile::tempdir().expect("temp dir");
        let opts = RingOptions {
            dir: dir.path().to_path_buf(),
            prefix: "bench".into(),
            files: 10,
            file_size: 64 << 20,
        };
        let mut ring = Ring::open(&opts, 1, 65535).expect("ring");
        let frame = vec![0x5au8; size];
        let batch = 10_000u64;
        g.throughput(Throughput::Bytes(batch * size as u64));
        let mut t: i64 = 1_700_000_000;
        g.bench_function(format!("{size}B_x{batch}"), |b| {
            b.iter(|| {
                for i in 0..batch {
                    ring.write(t, (i % 1_000_000) as u32, size as u32, black_box(&frame))
                        .expect("write");
                }
                t += 1;
            });
        });
        ring.flush().expect("flush");
    }
    g.finish();
}

criterion_group!(benches, ring_write);
criterion_main!(benches);
