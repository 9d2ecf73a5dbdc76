//! Rule loading and header-index lookup speed: parse + compile the six ET IP-list files
//! (target < 100 ms), and one `header_candidates` lookup over the resulting set.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use nsm_sensor::detect::{HeaderKey, RuleSet};
use nsm_sensor::rules::{load, LoadOptions};

fn ip_list_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/rules/et");
    ["botcc", "compromised", "ciarmy", "drop", "dshield", "tor"]
        .iter()
        .map(|n| dir.join(format!("emerging-{n}.rules")))
        .collect()
}

fn bench(c: &mut Criterion) {
    let opts = LoadOptions {
        paths: ip_list_files(),
        ..LoadOptions::default()
    };
    let report = load(&opts);
    assert!(report.is_usable());
    let mut g = c.benchmark_group("rules");
    g.sample_size(20);
    g.bench_function("load_et_ip_lists", |b| {
        b.iter(|| black_box(RuleSet::compile(load(black_box(&opts)).model)))
    });
    let set = RuleSet::compile(report.model);
    let key = HeaderKey {
        ip_proto: 6,
        src: IpAddr::V4(Ipv4Addr::new(192, 168, 0, 31)),
        dst: IpAddr::V4(Ipv4Addr::new(161, 53, 178, 240)),
        sport: Some(2253),
        dport: Some(6667),
    };
    let mut out = Vec::with_capacity(64);
    g.bench_function("header_candidates", |b| {
        b.iter(|| {
            set.header_candidates(black_box(&key), &mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
