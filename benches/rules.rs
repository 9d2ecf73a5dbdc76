//! Rule loading and header-index lookup speed: parse + compile the six ET IP-list files
//! (target < 100 ms), and one `header_candidates` lookup over the resulting set; and the
//! content prefilter's build for long contents (one 64 KB content, 2,000 rules with 1 KB
//! contents), whose cost the fast-pattern prefix bounds.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use nsm_sensor::detect::{HeaderKey, Prefilter, RuleSet};
use nsm_sensor::rules::load::load_text;
use nsm_sensor::rules::{load, LoadOptions, Rule};

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

/// `alert tcp` rules whose only content is `len` bytes of varied hex, one per rule.
fn long_content_rules(n: usize, len: usize) -> Vec<Rule> {
    use std::fmt::Write;
    let mut text = String::new();
    for i in 0..n {
        text.push_str("alert tcp any any -> any any (content:\"|");
        for j in 0..len {
            let _ = write!(text, "{:02x}", (j * 151 + i * 97) % 256);
        }
        let _ = writeln!(text, "|\"; sid:{};)", i + 1);
    }
    let report = load_text(Path::new("long.rules"), &text, &LoadOptions::default());
    assert!(report.is_usable());
    report.model.rules
}

fn bench_prefilter(c: &mut Criterion) {
    let mut g = c.benchmark_group("prefilter_build");
    g.sample_size(10);
    for (name, n, len) in [
        ("one_64k_content", 1, 64 * 1024),
        ("2000_1k_contents", 2000, 1024),
    ] {
        let rules = long_content_rules(n, len);
        let p = Prefilter::build(&rules);
        eprintln!("{name}: {} bytes of automata", p.memory_usage());
        g.bench_function(name, |b| {
            b.iter(|| black_box(Prefilter::build(black_box(&rules))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench, bench_prefilter);
criterion_main!(benches);
