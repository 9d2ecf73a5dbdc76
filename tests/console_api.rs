//! `nsm-sensor console`'s JSON API over a replayed seed story (alert → investigation with the
//! write-up's verdict → evidence pcap checked by tcpdump → carve) and over a generated
//! eve.json of 100,000 alerts (grouping, filters, paging, live appends, the index cap).
//! Timings are the bench's (`benches/console.rs`), not asserted here.

mod console_util;

use std::ffi::OsStr;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use console_util::{replay_seed, snapshot, write_eve, Console};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// The seed: one alert, grouped; its page data (alert_full, rule file:line); the
/// investigation's verdict "3 SYNs … no reply"; the evidence pcap is those 3 SYNs as
/// tcpdump reads them; the carve around it; and the sensor's files untouched.
#[test]
fn seed_story_from_alert_to_verdict_and_pcap() {
    let d = tempfile::tempdir().unwrap();
    let (log, ring) = replay_seed(d.path());
    let before = (snapshot(&log), snapshot(&ring));
    let rules = console_util::repo().join(console_util::SEED_RULES);
    let c = Console::start(&[
        os("-l"),
        log.as_os_str(),
        os("--ring-dir"),
        ring.as_os_str(),
        os("-r"),
        rules.as_os_str(),
    ]);

    let g = c.get("/api/alerts?group=1").json();
    assert_eq!(g["total_alerts"], 1);
    assert_eq!(g["total_groups"], 1);
    let grp = &g["groups"][0];
    assert_eq!(grp["sid"], 2_404_000);
    assert_eq!(grp["src_ip"], "192.168.0.31");
    assert_eq!(grp["dest_ip"], "161.53.178.240");
    assert_eq!(grp["count"], 1);
    assert_eq!(grp["first"], "2007-02-21T10:17:54.366236Z");
    let id = grp["last_id"].as_u64().unwrap();

    let a = c.get(&format!("/api/alerts/{id}")).json();
    let full = a["alert_full"].as_str().unwrap();
    assert!(
        full.starts_with(
            "[**] [1:2404000:602] BLEEDING-EDGE DROP Known Bot C&C Server Traffic (group 1) [**]\n"
        ),
        "{full}"
    );
    assert!(full.contains("02/21-10:17:54.366236 192.168.0.31:2253 -> 161.53.178.240:6667\n"));
    assert_eq!(a["eve"]["community_id"], "1:hDa1OSSRg0ls4bPzHO9Df7Hamsc=");
    assert!(a["rule"]["file"]
        .as_str()
        .unwrap()
        .ends_with("bleeding-botcc.rules"));
    assert!(a["rule"]["line"].as_u64().unwrap() > 0);
    assert!(a["rule"]["text"].as_str().unwrap().contains("sid:2404000"));

    let inv = c.get(&format!("/api/alerts/{id}/investigation")).json();
    let verdict = inv["verdict"].as_str().unwrap();
    assert!(
        verdict.contains("3 SYNs") && verdict.contains("no reply"),
        "{verdict}"
    );
    assert_eq!(inv["source"], "ring");
    assert_eq!(inv["a_to_b"]["syn"], 3);
    assert_eq!(inv["b_to_a"]["packets"], 0);
    assert_eq!(inv["packets"].as_array().unwrap().len(), 3);
    assert_eq!(inv["packets"][0]["flags"], "S");
    assert_eq!(inv["files"][0]["name"], "nsm_00001_20070221101750.pcap");
    assert!(inv["files"][0].get("path").is_none(), "no paths in the API");

    let ev = c.get(&format!("/api/alerts/{id}/evidence.pcap"));
    assert_eq!(ev.status, 200);
    assert_eq!(
        ev.header("content-type"),
        Some("application/vnd.tcpdump.pcap")
    );
    let cd = ev.header("content-disposition").unwrap();
    assert_eq!(
        cd,
        format!("attachment; filename=\"alert-{id}-sid2404000-20070221T101754Z.pcap\"")
    );
    let p = d.path().join("evidence.pcap");
    std::fs::write(&p, &ev.body).unwrap();
    let td = Command::new("tcpdump")
        .args(["-nn", "-r"])
        .arg(&p)
        .output()
        .expect("tcpdump is needed (Makefile PKGS installs it)");
    let lines = String::from_utf8_lossy(&td.stdout).into_owned();
    assert_eq!(lines.lines().count(), 3, "{lines}");
    assert!(lines
        .lines()
        .all(|l| l.contains("192.168.0.31.2253 > 161.53.178.240.6667: Flags [S]")));

    let carve = c.get(&format!(
        "/api/alerts/{id}/carve.pcap?before=600&after=600&scope=all"
    ));
    assert_eq!(carve.status, 200, "{}", carve.text());
    std::fs::write(&p, &carve.body).unwrap();
    let td = Command::new("tcpdump")
        .args(["-nn", "-r"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&td.stdout).lines().count(), 13);
    let hosts = c.get(&format!("/api/alerts/{id}/carve.pcap?before=60&after=60"));
    std::fs::write(&p, &hosts.body).unwrap();
    let td = Command::new("tcpdump")
        .args(["-nn", "-r"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&td.stdout).lines().count(), 3);

    let s = c.get("/api/sensor").json();
    assert_eq!(s["ring"][0]["name"], "nsm_00001_20070221101750.pcap");
    assert_eq!(s["ring"][0]["packets"], 13);
    assert_eq!(s["rules"]["loaded"], 1);
    assert_eq!(s["index"]["alerts"], 1);
    let st = c.get("/api/stats").json();
    assert_eq!(st["stats_log"], false);

    // The Alert page itself: records and rule in the HTML, the CSP header.
    let page = c.get(&format!("/alert/{id}"));
    assert_eq!(page.status, 200);
    assert!(page
        .text()
        .contains("02/21-10:17:54.366236 192.168.0.31:2253 -&gt; 161.53.178.240:6667"));
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains("script-src 'self'"));
    for p in [
        "/alerts",
        "/sensor",
        "/assets/console.js",
        "/assets/console.css",
    ] {
        assert_eq!(c.get(p).status, 200, "{p}");
    }

    drop(c);
    assert!(
        before == (snapshot(&log), snapshot(&ring)),
        "the console changed the sensor's files"
    );
}

/// The evidence store answers when the ring no longer holds the alert's packets.
#[test]
fn investigation_falls_back_to_the_evidence_store() {
    let d = tempfile::tempdir().unwrap();
    let (log, ring) = replay_seed(d.path());
    std::fs::remove_dir_all(&ring).unwrap();
    std::fs::create_dir(&ring).unwrap();
    let c = Console::start(&[
        os("-l"),
        log.as_os_str(),
        os("--ring-dir"),
        ring.as_os_str(),
    ]);
    let inv = c.get("/api/alerts/1/investigation").json();
    assert_eq!(inv["source"], "evidence store");
    assert!(inv["verdict"].as_str().unwrap().contains("3 SYNs"));
    let ev = c.get("/api/alerts/1/evidence.pcap");
    assert_eq!(ev.status, 200);
    assert_eq!(ev.body.len(), 258);
    // No ring: a carve has nothing to read.
    let carve = c.get("/api/alerts/1/carve.pcap");
    assert!(
        carve.status == 404 || carve.status == 200,
        "{}",
        carve.text()
    );
}

/// 100,000 alerts: grouped and plain listings, every filter, paging to the end, one alert
/// read back by id; then appended alerts show up without a restart.
#[test]
fn hundred_thousand_alerts() {
    const N: usize = 100_000;
    let t0 = 1_714_550_400; // 2024-05-01T08:00:00Z
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log");
    std::fs::create_dir(&log).unwrap();
    write_eve(&log.join("eve.json"), N, t0);
    let ring = d.path().join("ring");
    let c = Console::start(&[
        os("-l"),
        log.as_os_str(),
        os("--ring-dir"),
        ring.as_os_str(),
    ]);

    let g = c.get("/api/alerts?group=1&limit=1000").json();
    assert_eq!(g["total_alerts"], N);
    let groups = g["groups"].as_array().unwrap();
    let total_groups = g["total_groups"].as_u64().unwrap() as usize;
    let counted: u64 = if total_groups <= 1000 {
        groups.iter().map(|x| x["count"].as_u64().unwrap()).sum()
    } else {
        N as u64
    };
    assert_eq!(counted, N as u64);
    // Newest first.
    assert_eq!(g["groups"][0]["last_id"], N);

    let all = c.get("/api/alerts?limit=100").json();
    assert_eq!(all["total_alerts"], N);
    assert_eq!(all["alerts"][0]["id"], N);
    assert_eq!(all["alerts"][99]["id"], N - 99);
    let last = c
        .get(&format!("/api/alerts?limit=100&offset={}", N - 50))
        .json();
    assert_eq!(last["alerts"].as_array().unwrap().len(), 50);
    assert_eq!(last["alerts"][49]["id"], 1);

    // Filters: each one against a count computed from the generator's pattern.
    let by_sid = c.get("/api/alerts?sid=2400007&limit=1").json();
    let want = (0..N).filter(|i| i * 7 % 40 == 7).count();
    assert_eq!(by_sid["total_alerts"], want);
    let by_ip = c.get("/api/alerts?ip=198.51.100.3&limit=1").json();
    assert_eq!(by_ip["total_alerts"], N / 20);
    let by_net = c.get("/api/alerts?ip=10.1.0.0/16&limit=1").json();
    assert_eq!(by_net["total_alerts"], N / 5);
    let by_prio = c.get("/api/alerts?priority=1&limit=1").json();
    let by_class = c.get("/api/alerts?class=trojan&limit=1").json();
    assert_eq!(by_prio["total_alerts"], by_class["total_alerts"]);
    let from = t0 + 1000;
    // Inclusive; the generator's alerts carry sub-second parts.
    let to = format!("{}.999999", t0 + 1999);
    let by_time = c
        .get(&format!("/api/alerts?from={from}&to={to}&limit=1"))
        .json();
    assert_eq!(by_time["total_alerts"], 1000);
    let combined = c
        .get(&format!(
            "/api/alerts?from={from}&to={to}&ip=198.51.100.3&group=1"
        ))
        .json();
    assert_eq!(combined["total_alerts"], 50);

    let one = c.get("/api/alerts/12345").json();
    assert_eq!(one["eve"]["flow_id"], 12344);
    assert!(one["alert_full"].is_null());
    assert_eq!(c.get("/api/alerts/100001").status, 404);

    // Live: appended alerts are indexed within a few seconds.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(log.join("eve.json"))
        .unwrap();
    for i in N..N + 10 {
        writeln!(f, "{}", console_util::eve_line(i, t0)).unwrap();
    }
    drop(f);
    let start = Instant::now();
    loop {
        let s = c.get("/api/status").json();
        if s["last_id"] == N + 10 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "appends not seen: {s}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(c.get("/api/alerts?limit=1").json()["total_alerts"], N + 10);
}

/// The index keeps at most `[console] max_alerts`, the newest, and says how many it dropped.
#[test]
fn index_is_bounded() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log");
    std::fs::create_dir(&log).unwrap();
    write_eve(&log.join("eve.json"), 5000, 1_714_550_400);
    let cfg = d.path().join("sensor.toml");
    std::fs::write(&cfg, "[console]\nmax_alerts = 1000\n").unwrap();
    let c = Console::start(&[os("-c"), cfg.as_os_str(), os("-l"), log.as_os_str()]);
    let a = c.get("/api/alerts?limit=1").json();
    assert_eq!(a["total_alerts"], 1000);
    assert_eq!(a["alerts"][0]["id"], 5000);
    assert_eq!(c.get("/api/sensor").json()["index"]["evicted"], 4000);
    assert_eq!(c.get("/api/alerts/4000").status, 404);
}
