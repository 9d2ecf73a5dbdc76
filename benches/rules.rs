//! Rule loading and header-index lookup speed: parse + compile the six ET IP-list files
//! (target < 100 ms), and one `header_candidates` lookup over the resulting set; and the
//! content prefilter's build for long contents (one 64 KB content, 2,000 rules with 1 KB
//! contents), whose cost the fast-pattern prefix bounds. And one lookup in a million-entry
//! index of the issue-12 shape (80 % /32 over all of IPv4, 10 % /24–/28, 10 % IPv6, 1,000 a
//! rule) at addresses spread over the whole space, so most lookups miss the CPU caches.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use nsm_sensor::detect::{HeaderKey, Prefilter, RuleSet};
use nsm_sensor::rules::load::load_text;
use nsm_sensor::rules::{load, AddrSet, Direction, LoadOptions, PortSet, Proto, Rule};

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

/// The million-entry list: `alert tcp $HOME_NET any -> [1,000 entries] any` rules, built from
/// the model (the parser's cost is the `load_et_ip_lists` bench's business).
fn million_rules() -> Vec<Rule> {
    let text = "alert tcp 192.168.0.0/16 any -> 203.0.113.1 any (sid:1;)";
    let report = load_text(Path::new("m.rules"), text, &LoadOptions::default());
    let Some(template) = report.model.rules.into_iter().next() else {
        return Vec::new();
    };
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..1000)
        .map(|_| {
            let (mut v4, mut v6) = (Vec::new(), Vec::new());
            for _ in 0..1000 {
                let r = next();
                let a = (r >> 32) as u32;
                match r % 10 {
                    0 => {
                        let plen = 24 + (r >> 8) as u32 % 5;
                        let base = a & !((1u32 << (32 - plen)) - 1);
                        v4.push((base, base | ((1u32 << (32 - plen)) - 1)));
                    }
                    1 => {
                        let b = u128::from(next()) << 64 | u128::from(next());
                        v6.push((b, b));
                    }
                    _ => v4.push((a, a)),
                }
            }
            v4.sort_unstable();
            let mut m: Vec<(u32, u32)> = Vec::new();
            for (a, b) in v4 {
                match m.last_mut() {
                    Some(l) if a <= l.1.saturating_add(1) => l.1 = l.1.max(b),
                    _ => m.push((a, b)),
                }
            }
            v6.sort_unstable();
            v6.dedup();
            Rule {
                proto: Proto::Tcp,
                direction: Direction::To,
                src_ports: PortSet::any(),
                dst_ports: PortSet::any(),
                dst: AddrSet { v4: m, v6 },
                ..template.clone()
            }
        })
        .collect()
}

fn bench_million(c: &mut Criterion) {
    let set = RuleSet::compile(nsm_sensor::rules::Model {
        rules: million_rules(),
        ..Default::default()
    });
    let mut x: u32 = 0x9e37_79b9;
    let keys: Vec<HeaderKey> = (0..65_536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            HeaderKey {
                ip_proto: 6,
                src: IpAddr::V4(Ipv4Addr::new(192, 168, 0, 31)),
                dst: IpAddr::V4(Ipv4Addr::from(x)),
                sport: Some(2253),
                dport: Some(443),
            }
        })
        .collect();
    let mut out = Vec::with_capacity(64);
    let mut g = c.benchmark_group("rules");
    let mut i = 0usize;
    g.bench_function("header_candidates_million_random_dst", |b| {
        b.iter(|| {
            i = (i + 1) & 65_535;
            set.header_candidates(black_box(&keys[i]), &mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_prefilter, bench_million);
criterion_main!(benches);
