//! `replay` through the binary over real and generated captures: every shared pcap replays
//! with every ET IP list loaded (no panic, exit 0, decode errors counted), the known hits of the
//! ET lists in those pcaps alert exactly once, and a long capture fills the ring as configured.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

fn pcaps() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(shared().join("pcaps"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    v
}

fn replay(pcap: &Path, home_net: &str, log: &Path, extra: &[&str]) -> std::process::Output {
    run(bin()
        .args(["replay", "-q", "-r"])
        .arg(repo().join("rules/et"))
        .args(["--home-net", home_net, "-l"])
        .arg(log)
        .args(extra)
        .arg(pcap))
}

#[test]
fn every_shared_pcap_replays_with_every_et_list() {
    let tmp = tempfile::tempdir().unwrap();
    let files = pcaps();
    assert!(files.len() > 50, "{} pcaps", files.len());
    let mut decode_errors = 0u64;
    for (i, p) in files.iter().enumerate() {
        let log = tmp.path().join(format!("log{i}"));
        let ring = tmp.path().join(format!("ring{i}"));
        let out = replay(p, "any", &log, &["--ring-dir", ring.to_str().unwrap()]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{}: exit {:?}\n{stdout}\n{}",
            p.display(),
            out.status.code(),
            text(&out.stderr)
        );
        assert!(stdout.starts_with("replayed "), "{}: {stdout}", p.display());
        let n: u64 = stdout
            .split(", ")
            .find(|s| s.contains("decode error"))
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("summary without decode errors: {stdout}"));
        decode_errors += n;
        if log.join("eve.json").exists() {
            validate_eve(&log.join("eve.json"));
        }
    }
    // Several of those captures are fuzzer output and deliberately broken.
    assert!(decode_errors > 0, "broken captures count decode errors");
}

fn alerts(log: &Path) -> Vec<String> {
    fs::read_to_string(log.join("alert.fast"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn known_et_list_hits_alert_once() {
    let tmp = tempfile::tempdir().unwrap();
    // 65.49.20.98 is on the 2021 CINS list and sends UDP to the 90.147.69.0/24 hosts.
    let log = tmp.path().join("bacnet");
    let out = replay(
        &shared().join("pcaps/ndpi__bacnet.pcap"),
        "90.147.69.0/24",
        &log,
        &["--no-ring"],
    );
    expect_code(&out, 0);
    let a = alerts(&log);
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(
        a[0].contains("[1:2403433:") && a[0].contains("{UDP} 65.49.20.98:"),
        "{a:?}"
    );
    // 167.248.133.59 is in the DShield 167.248.133.0/24 block and sends a SYN.
    let log = tmp.path().join("pgsql");
    let out = replay(
        &shared().join("pcaps/sv__pgsql-events__UnknownMessage.pcap"),
        "10.0.0.0/8",
        &log,
        &["--no-ring"],
    );
    expect_code(&out, 0);
    let a = alerts(&log);
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(
        a[0].contains("[1:2402000:") && a[0].contains("{TCP} 167.248.133.59:"),
        "{a:?}"
    );
    // Outside HOME_NET the same packet is not an alert.
    let log = tmp.path().join("bacnet-elsewhere");
    let out = replay(
        &shared().join("pcaps/ndpi__bacnet.pcap"),
        "192.168.0.0/16",
        &log,
        &["--no-ring"],
    );
    expect_code(&out, 0);
    assert!(alerts(&log).is_empty());
}

/// Reads every record of a classic pcap: (sec, usec, wire_len, data).
fn records(path: &Path) -> Vec<(u32, u32, u32, Vec<u8>)> {
    let b = fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let u = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let (s, us, cap, wire) = (u(at), u(at + 4), u(at + 8) as usize, u(at + 12));
        out.push((s, us, wire, b[at + 16..at + 16 + cap].to_vec()));
        at += 16 + cap;
    }
    assert_eq!(at, b.len(), "{} ends on a whole record", path.display());
    out
}

#[test]
fn a_long_replay_leaves_exactly_the_configured_ring() {
    // ~65 MB through a ring of 10 × 5 MB: the scaled form of 1 GB into 10 × 100 MB.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.pcap");
    let mut frames = Vec::new();
    for i in 0..100_000u32 {
        let size = [0usize, 522, 1460][(i % 10) as usize * 3 / 10];
        let payload = vec![(i % 251) as u8; size];
        let f = frame(
            [192, 168, 1, (i % 200) as u8 + 1],
            [45, 1, 2, 3],
            L4::Tcp(40000, 443, 0x18, i, 1),
            &payload,
        );
        frames.push((1_700_000_000 + i64::from(i / 100), (i % 100) * 10_000, f));
    }
    write_pcap(&input, &frames);
    let cfg = tmp.path().join("ring.toml");
    fs::write(
        &cfg,
        "[ring]\nfiles = 10\nfile_size_mb = 5\nprefix = \"gw\"\n",
    )
    .unwrap();
    let ring = tmp.path().join("ring");
    let out = run(bin()
        .args(["replay", "-q", "-c"])
        .arg(&cfg)
        .args(["-r"])
        .arg(shared().join("seed/bleeding-botcc.rules"))
        .arg("-l")
        .arg(tmp.path().join("log"))
        .arg("--ring-dir")
        .arg(&ring)
        .arg(&input));
    expect_code(&out, 0);
    let mut names: Vec<String> = fs::read_dir(&ring)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 10, "{names:?}");
    let seqs: Vec<u32> = names.iter().map(|n| n[3..8].parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{names:?}");
    assert!(names
        .iter()
        .all(|n| n.starts_with("gw_") && n.len() == "gw_00001_20231114221320.pcap".len()));
    let mut ring_records = Vec::new();
    for n in &names {
        let p = ring.join(n);
        assert!(
            fs::metadata(&p).unwrap().len() <= 5 * 1024 * 1024,
            "{n} over the limit"
        );
        if have("capinfos") {
            let o = std::process::Command::new("capinfos")
                .arg(&p)
                .output()
                .unwrap();
            assert!(o.status.success(), "capinfos {n}: {}", text(&o.stderr));
        }
        if have("tcpdump") {
            let o = std::process::Command::new("tcpdump")
                .arg("-r")
                .arg(&p)
                .arg("-w")
                .arg("/dev/null")
                .output()
                .unwrap();
            assert!(o.status.success(), "tcpdump {n}: {}", text(&o.stderr));
        }
        ring_records.extend(records(&p));
    }
    // The ring holds exactly the last packets of the input, in order, byte for byte.
    let tail = &frames[frames.len() - ring_records.len()..];
    for ((s, u, f), (rs, ru, rw, rd)) in tail.iter().zip(&ring_records) {
        assert_eq!((*s as u32, *u, f.len() as u32), (*rs, *ru, *rw));
        assert_eq!(f, rd);
    }
    let ring_bytes: usize = ring_records.iter().map(|r| r.3.len()).sum();
    assert!(
        ring_bytes > 40 * 1024 * 1024,
        "nine full files and a current one: {ring_bytes}"
    );
}
