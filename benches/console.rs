//! The console over an eve.json of 100,000 alerts: building the index once (the start-up
//! cost), then what the Alerts page and the API answer through HTTP on loopback — the
//! grouped first page, a plain page deep in the list, a filtered listing, one alert, the
//! Alerts page itself. The bound is 200 ms per answer.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use nsm_sensor::console::api::{router, Scratch, State};
use nsm_sensor::console::index::AlertIndex;
use nsm_sensor::console::{Auth, ConsoleOptions};

const N: usize = 100_000;

/// The generator of `tests/console_util`: 40 signatures, 500 sources, 20 destinations.
fn write_eve(path: &Path) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("eve.json"));
    let t0 = 1_714_550_400i64;
    for i in 0..N {
        let sid = 2_400_000 + (i * 7 % 40) as u64;
        let t = chrono::DateTime::from_timestamp(t0 + i as i64, (i % 1000) as u32 * 1000)
            .expect("time");
        let line = serde_json::json!({
            "timestamp": t.format("%Y-%m-%dT%H:%M:%S%.6f+0000").to_string(),
            "flow_id": i, "event_type": "alert",
            "src_ip": format!("10.{}.{}.{}", i % 5, (i / 5) % 10, (i * 13) % 10 + 1),
            "src_port": 40000 + (i % 20000),
            "dest_ip": format!("198.51.100.{}", i % 20 + 1), "dest_port": 443,
            "proto": "TCP", "pkt_src": "wire/pcap",
            "alert": {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 3,
                      "signature": format!("ET DROP Dshield Block Listed Source group {}", sid % 40),
                      "category": "Misc Attack", "severity": 2},
        });
        writeln!(w, "{line}").expect("write");
    }
}

fn console(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    write_eve(&dir.path().join("eve.json"));

    let mut g = c.benchmark_group("console_index");
    g.sample_size(10);
    g.bench_function("index_100k_alerts", |b| {
        b.iter(|| {
            let mut idx = AlertIndex::new(dir.path(), 1_000_000);
            idx.refresh().expect("index");
            black_box(idx.len())
        });
    });
    g.finish();

    let opts = ConsoleOptions {
        log_dir: dir.path().to_path_buf(),
        ring_dir: dir.path().join("ring"),
        evidence_dir: dir.path().join("evidence"),
        pidfile: None,
        rules: None,
        listen: "127.0.0.1:0".parse().expect("addr"),
        tls: None,
        auth: Auth::none(),
        max_carve_s: 1800,
        max_download_bytes: 256 << 20,
        max_alerts: 1_000_000,
        scratch_dir: Some(dir.path().to_path_buf()),
    };
    let state = State::new(opts, Scratch::create(Some(dir.path())).expect("scratch"));
    state.refresh_now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = router(Arc::clone(&state));
    rt.spawn(async move { axum::serve(listener, app).await });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut g = c.benchmark_group("console_http_100k");
    for (name, path) in [
        ("alerts_grouped_first_page", "/api/alerts?group=1&limit=100"),
        (
            "alerts_page_500_of_1000",
            "/api/alerts?limit=100&offset=50000",
        ),
        (
            "alerts_filtered_ip_time",
            "/api/alerts?ip=198.51.100.3&from=1714560000&to=1714600000&group=1",
        ),
        (
            "alerts_filtered_class",
            "/api/alerts?class=misc&priority=2&limit=100",
        ),
        ("one_alert", "/api/alerts/54321"),
        ("alerts_page_html", "/alerts"),
        ("status_poll", "/api/status"),
    ] {
        let url = format!("http://{addr}{path}");
        g.bench_function(name, |b| {
            b.iter(|| {
                let body = agent
                    .get(&url)
                    .call()
                    .expect("answer")
                    .body_mut()
                    .read_to_vec()
                    .expect("body");
                black_box(body.len())
            });
        });
    }
    g.finish();
}

criterion_group!(benches, console);
criterion_main!(benches);
