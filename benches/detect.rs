//! Detection speed through the whole pipeline (decode → flow → detect, no outputs, no ring):
//! first with the ET IP-list files, then with the content rule files (ET scan, malware, chat
//! and the Snort community rules) loaded alongside. HOME_NET 192.168.0.0/16; the workload is
//! TCP and UDP packets between home and outside addresses, payloads mostly zero bytes with
//! some HTTP-like text. Reports packets/s (criterion throughput) and ns/packet.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;
use nsm_sensor::capture::RawPacket;
use nsm_sensor::decode::{linktype, DecodeOptions};
use nsm_sensor::detect::{DetectOptions, RuleSet};
use nsm_sensor::pipeline::{Pipeline, PipelineOptions};
use nsm_sensor::rules::{load, LoadOptions};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/rules")
}

fn load_set(files: &[PathBuf]) -> RuleSet {
    let mut opts = LoadOptions {
        paths: files.to_vec(),
        ..LoadOptions::default()
    };
    opts.vars
        .insert("HOME_NET".into(), "[192.168.0.0/16]".into());
    let report = load(&opts);
    assert!(report.is_usable());
    let set = RuleSet::compile(report.model);
    eprintln!(
        "{} rules loaded, {} keyed by a fast pattern",
        set.len(),
        set.prefilter_size().0
    );
    set
}

fn ip_lists() -> Vec<PathBuf> {
    ["botcc", "compromised", "ciarmy", "drop", "dshield", "tor"]
        .iter()
        .map(|n| rules_dir().join(format!("et/emerging-{n}.rules")))
        .collect()
}

fn content_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ["scan", "malware", "chat"]
        .iter()
        .map(|n| rules_dir().join(format!("et/emerging-{n}.rules")))
        .collect();
    v.push(rules_dir().join("community/community.rules"));
    v
}

/// 2000 frames: 9 in 10 carry zero-filled payloads of 0–1400 bytes, 1 in 10 an HTTP request
/// or response; a few hundred flows between 192.168.0.0/16 and outside addresses.
fn workload() -> Vec<Vec<u8>> {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let http = [
        "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1024\r\nServer: nginx\r\n\r\n<html><body>hello</body></html>",
        "POST /login HTTP/1.1\r\nHost: login.example.org\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nuser=alice&pass=secret",
    ];
    (0..2000)
        .map(|i| {
            let r = next();
            let home = [192, 168, (r >> 8) as u8 % 4, (r >> 16) as u8 % 64 + 1];
            let out = [
                (r >> 24) as u8 % 200 + 20,
                (r >> 32) as u8,
                (r >> 40) as u8,
                (r >> 48) as u8 % 250 + 1,
            ];
            let outbound = r & 1 == 0;
            let (src, dst) = if outbound { (home, out) } else { (out, home) };
            let payload: Vec<u8> = if i % 10 == 0 {
                http[(r >> 56) as usize % http.len()].as_bytes().to_vec()
            } else {
                vec![0u8; (r >> 20) as usize % 1401]
            };
            let b =
                PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(src, dst, 64);
            let client_port = 32768 + (r >> 4) as u16 % 1000;
            let server_port = [80u16, 443, 53, 8080, 25][(r >> 12) as usize % 5];
            let (sp, dp) = if outbound {
                (client_port, server_port)
            } else {
                (server_port, client_port)
            };
            let mut f = Vec::new();
            if r & 0x100 == 0 {
                b.udp(sp, dp).write(&mut f, &payload).unwrap();
            } else {
                b.tcp(sp, dp, r as u32, 65535)
                    .ack(1)
                    .psh()
                    .write(&mut f, &payload)
                    .unwrap();
            }
            f
        })
        .collect()
}

fn bench_set(c: &mut Criterion, name: &str, set: &RuleSet) {
    let frames = workload();
    let opts = PipelineOptions {
        decode: DecodeOptions { checksums: true },
        outputs: None,
        ring: None,
        detect: DetectOptions::from_config(&Default::default()),
        evidence: None,
    };
    let mut pipeline = Pipeline::new(&opts, linktype::ETHERNET, 65535).unwrap();
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.sample_size(20);
    g.bench_function(name, |b| {
        b.iter(|| {
            for (i, f) in frames.iter().enumerate() {
                let raw = RawPacket {
                    ts_sec: 1_700_000_000 + (i as i64 / 500),
                    ts_usec: 0,
                    wire_len: f.len() as u32,
                    data: f,
                };
                pipeline.process(black_box(set), &raw);
            }
        })
    });
    g.finish();
    eprintln!("{name}: {} alerts so far", pipeline.stats().alerts);
}

fn ip_lists_only(c: &mut Criterion) {
    let set = load_set(&ip_lists());
    bench_set(c, "ip_lists", &set);
}

fn ip_lists_and_content(c: &mut Criterion) {
    let mut files = ip_lists();
    files.extend(content_files());
    let set = load_set(&files);
    bench_set(c, "ip_lists_and_content", &set);
}

criterion_group!(benches, ip_lists_only, ip_lists_and_content);
criterion_main!(benches);
