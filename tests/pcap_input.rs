//! Capture files that lie or end early, given to `info`, `carve` and `investigate`: sizes in
//! headers are never trusted (run under `ulimit -v` with the peak RSS measured), a torn last
//! record is read up to and warned about, and `carve` time ranges that are reversed or miss
//! the ring are told apart (issue 11, items 7, 10 and 15).

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::{bin, exe, expect_code, frame, text, write_pcap, L4};
use nsm_sensor::pcap::Reader;

/// 2007-02-21 10:17:50 UTC.
const T0: i64 = 1_172_053_070;
const RING_NAME: &str = "nsm_00001_20070221101750.pcap";

/// Runs the binary under a 400 MB address-space limit and returns its output and peak RSS in
/// KiB (measured by `/usr/bin/time`).
fn limited(args: &[&str]) -> (Output, u64) {
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 400000; exec /usr/bin/time -f 'peak_rss_kb=%M' \"$@\"")
        .arg("sh")
        .arg(exe())
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("run sh");
    let err = text(&out.stderr);
    let rss = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak_rss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in stderr:\n{err}"));
    (out, rss)
}

fn le(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

/// Classic pcap header with the given snaplen (Ethernet, µs).
fn pcap_header(snaplen: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&le(0xa1b2_c3d4));
    h.extend_from_slice(&[2, 0, 4, 0]);
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&le(snaplen));
    h.extend_from_slice(&le(1));
    h
}

fn record(sec: u32, caplen: u32, wire: u32, data: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    for v in [sec, 0, caplen, wire] {
        r.extend_from_slice(&le(v));
    }
    r.extend_from_slice(data);
    r
}

fn block(btype: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let total = (body.len() + 12) as u32;
    [&le(btype)[..], &le(total), &body, &le(total)].concat()
}

fn shb() -> Vec<u8> {
    block(
        0x0a0d_0d0a,
        &[&le(0x1a2b_3c4d)[..], &[1, 0, 0, 0], &[0xff; 8]].concat(),
    )
}

fn idb(snaplen: u32) -> Vec<u8> {
    block(1, &[&[1, 0, 0, 0][..], &le(snaplen)].concat())
}

fn epb(ts_lo: u32, caplen: u32, data: &[u8]) -> Vec<u8> {
    block(
        6,
        &[
            &le(0)[..],
            &le(0),
            &le(ts_lo),
            &le(caplen),
            &le(caplen),
            data,
        ]
        .concat(),
    )
}

fn syn() -> Vec<u8> {
    frame(
        [192, 168, 0, 31],
        [161, 53, 178, 240],
        L4::Tcp(2253, 6667, 0x02, 1, 0),
        &[],
    )
}

/// Hostile files: (name, bytes). Each lies about a size in a header.
fn hostile() -> Vec<(&'static str, Vec<u8>)> {
    let good = record(T0 as u32, 54, 54, &syn());
    let lie = record(T0 as u32 + 1, 0xffff_fff0, 0xffff_fff0, &[]);
    let mut v = vec![
        // The 40-byte file of the report: snaplen 0xffffffff, caplen 0xfffffff0.
        (
            "classic-40",
            [pcap_header(0xffff_ffff), lie.clone()].concat(),
        ),
        // The same after one good packet, so that readers get past the header.
        (
            "classic-good-then-lie",
            [pcap_header(0xffff_ffff), good.clone(), lie].concat(),
        ),
        // A caplen under libpcap's maximum but far beyond the file.
        (
            "classic-beyond-file",
            [
                pcap_header(0xffff_ffff),
                good,
                record(T0 as u32 + 2, 262_144, 262_144, b"x"),
            ]
            .concat(),
        ),
    ];
    // Big-endian classic header with the same lies.
    let mut be = Vec::new();
    be.extend_from_slice(&0xa1b2_c3d4u32.to_be_bytes());
    be.extend_from_slice(&[0, 2, 0, 4]);
    be.extend_from_slice(&[0; 8]);
    be.extend_from_slice(&0xffff_ffffu32.to_be_bytes());
    be.extend_from_slice(&1u32.to_be_bytes());
    for x in [T0 as u32, 0, 0xffff_fff0, 0xffff_fff0] {
        be.extend_from_slice(&x.to_be_bytes());
    }
    v.push(("classic-be", be));
    // pcapng: a packet block claiming 4 GiB, one claiming 16 MiB in a tiny file, an IDB
    // snaplen of 0xffffffff with a packet whose caplen lies, a section header claiming 16 MiB.
    let mut huge = epb(1, 54, &syn());
    huge[4..8].copy_from_slice(&le(0xffff_fff0));
    v.push(("ng-block-4g", [shb(), idb(0xffff_ffff), huge].concat()));
    let mut big = epb(1, 54, &syn());
    big[4..8].copy_from_slice(&le(16 << 20));
    v.push(("ng-block-16m", [shb(), idb(0xffff_ffff), big].concat()));
    let mut caplen = epb(1, 54, &syn());
    caplen[20..24].copy_from_slice(&le(0xffff_fff0));
    v.push(("ng-caplen", [shb(), idb(0xffff_ffff), caplen].concat()));
    let mut s = shb();
    s[4..8].copy_from_slice(&le(0x00ff_fff0));
    v.push(("ng-shb-16m", [s, idb(0xffff_ffff)].concat()));
    v
}

/// Writes an `eve.json` with one alert on the SYN's conversation naming `capture_file`.
fn eve(log: &Path, capture_file: &str) {
    fs::create_dir_all(log).unwrap();
    let alert = serde_json::json!({
        "timestamp": "2007-02-21T10:17:50.000000+0000", "event_type": "alert",
        "src_ip": "192.168.0.31", "src_port": 2253, "dest_ip": "161.53.178.240", "dest_port": 6667,
        "proto": "TCP",
        "alert": {"action": "allowed", "gid": 1, "signature_id": 2404000, "rev": 1,
                  "signature": "TEST", "category": "Misc activity", "severity": 3},
        "capture_file": capture_file,
    });
    fs::write(log.join("eve.json"), format!("{alert}\n")).unwrap();
}

/// Regression: a 40-byte pcap claiming snaplen 0xffffffff and caplen 0xfffffff0 made `info`,
/// `carve` and `investigate` allocate 4.2 GB (an abort under a memory limit). Every hostile
/// header variant now gives a clear error or warning, in well under 100 MB.
#[test]
fn lying_sizes_cost_no_memory() {
    let d = tempfile::tempdir().unwrap();
    for (name, bytes) in hostile() {
        let case = d.path().join(name);
        let ring = case.join("ring");
        let log = case.join("log");
        fs::create_dir_all(&ring).unwrap();
        let file = ring.join(RING_NAME);
        fs::write(&file, &bytes).unwrap();
        eve(&log, RING_NAME);
        let out_pcap = case.join("out.pcap");
        let runs: [Vec<&str>; 3] = [
            vec!["info", file.to_str().unwrap()],
            vec![
                "carve",
                "--ring-dir",
                ring.to_str().unwrap(),
                "-w",
                out_pcap.to_str().unwrap(),
            ],
            vec![
                "investigate",
                "-l",
                log.to_str().unwrap(),
                "--ring-dir",
                ring.to_str().unwrap(),
            ],
        ];
        for args in runs {
            let (out, rss) = limited(&args);
            let err = text(&out.stderr);
            let what = format!(
                "{name}: {}\nstdout:\n{}\nstderr:\n{err}",
                args[0],
                text(&out.stdout)
            );
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "exit {:?}, {what}",
                out.status.code()
            );
            assert!(rss < 100_000, "peak RSS {rss} KiB, {what}");
            // Whatever went wrong is said, naming the file.
            if out.status.code() == Some(1) || args[0] == "info" && err.contains("WARN") {
                assert!(err.contains(RING_NAME), "{what}");
            }
        }
    }
}

/// A ring file whose last record is torn (the state right after a crash) and the alert that
/// names it: 10 packets of one conversation, the last cut in its data.
fn torn_ring(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ring = root.join("ring");
    fs::create_dir_all(&ring).unwrap();
    let a = [192, 168, 0, 31];
    let b = [161, 53, 178, 240];
    let mut frames = vec![
        (T0, 0, frame(a, b, L4::Tcp(2253, 6667, 0x02, 100, 0), &[])),
        (
            T0,
            1000,
            frame(b, a, L4::Tcp(6667, 2253, 0x12, 500, 101), &[]),
        ),
        (
            T0,
            2000,
            frame(a, b, L4::Tcp(2253, 6667, 0x10, 101, 501), &[]),
        ),
    ];
    for i in 0..7u32 {
        frames.push((
            T0 + 1,
            i * 1000,
            frame(a, b, L4::Tcp(2253, 6667, 0x18, 101 + i * 4, 501), b"NICK"),
        ));
    }
    let file = ring.join(RING_NAME);
    write_pcap(&file, &frames);
    let bytes = fs::read(&file).unwrap();
    fs::write(&file, &bytes[..bytes.len() - 5]).unwrap();
    eve(&root.join("log"), RING_NAME);
    (ring, file)
}

/// Regression: `info` and `investigate` gave up on a ring file whose last record is torn.
/// All three readers read up to the last whole record and warn.
#[test]
fn torn_last_record_is_read_up_to_and_warned_about() {
    let d = tempfile::tempdir().unwrap();
    let (ring, file) = torn_ring(d.path());

    let out = common::run(bin().arg("info").arg(&file));
    expect_code(&out, 0);
    assert!(
        text(&out.stdout).contains("Number of packets:   9"),
        "{}",
        text(&out.stdout)
    );
    let err = text(&out.stderr);
    assert!(
        err.contains(RING_NAME) && err.contains("cut short"),
        "{err}"
    );

    let carved = d.path().join("carved.pcap");
    let out = common::run(
        bin()
            .args(["carve", "--ring-dir"])
            .arg(&ring)
            .arg("-w")
            .arg(&carved),
    );
    expect_code(&out, 0);
    assert!(text(&out.stderr).contains("torn"), "{}", text(&out.stderr));
    let mut r = Reader::open(&carved).unwrap();
    let mut n = 0;
    while r.next_packet().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 9);

    let evidence = d.path().join("evidence.pcap");
    let out = common::run(
        bin()
            .arg("investigate")
            .arg("-l")
            .arg(d.path().join("log"))
            .arg("--ring-dir")
            .arg(&ring)
            .arg("-w")
            .arg(&evidence),
    );
    expect_code(&out, 0);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("(9 packets)"), "{stdout}");
    assert!(stdout.contains("a TCP connection was made"), "{stdout}");
    let err = text(&out.stderr);
    assert!(
        err.contains(RING_NAME) && err.contains("cut short"),
        "{err}"
    );
}

/// Regression: a reversed `carve` range carved nothing and exited 0; a range outside the ring
/// said nothing. Reversed is a usage error (exit 2); outside, the ring's span is printed.
#[test]
fn carve_ranges_reversed_or_outside_the_ring() {
    let d = tempfile::tempdir().unwrap();
    let (ring, _) = torn_ring(d.path());
    let out_pcap = d.path().join("out.pcap");
    let carve = |from: &str, to: &str| {
        common::run(
            bin()
                .args(["carve", "--ring-dir"])
                .arg(&ring)
                .args(["--from", from, "--to", to, "-w"])
                .arg(&out_pcap),
        )
    };
    let out = carve("2007-02-21 10:20:00", "2007-02-21 10:10:00");
    expect_code(&out, 2);
    assert!(
        text(&out.stderr).contains("reversed"),
        "{}",
        text(&out.stderr)
    );

    let out = carve("2008-01-01 00:00:00", "2008-01-02 00:00:00");
    expect_code(&out, 0);
    let err = text(&out.stderr);
    assert!(
        err.contains("holds no packet from 2008-01-01T00:00:00")
            && err.contains("span 2007-02-21T10:17:50")
            && err.contains("2007-02-21T10:17:51.005"),
        "{err}"
    );
    // A range of one instant that holds a packet is not empty.
    let out = carve("2007-02-21 10:17:50", "2007-02-21 10:17:50");
    expect_code(&out, 0);
    assert!(
        text(&out.stdout).contains("carved 1 packets"),
        "{}",
        text(&out.stdout)
    );
}

/// Regression: `carve` failed when a ring file rotated out while it ran (a file listed, then
/// deleted before it was read). Carves during a fast rotation all succeed; a vanished file is
/// a note.
#[test]
fn carve_while_the_ring_rotates() {
    let d = tempfile::tempdir().unwrap();
    let ring = d.path().join("ring");
    fs::create_dir_all(&ring).unwrap();
    let mut frames = Vec::new();
    for i in 0..20_000u32 {
        let f = frame(
            [192, 168, 0, 31],
            [10, 1, 1, 1],
            L4::Udp(5353, 53),
            &[0; 100],
        );
        frames.push((T0 + i64::from(i / 1000), (i % 1000) * 1000, f));
    }
    let src = d.path().join("src.pcap");
    write_pcap(&src, &frames);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rotating = {
        let (stop, ring) = (stop.clone(), ring.clone());
        std::thread::spawn(move || {
            let name = |n: u64| ring.join(format!("nsm_{n:05}_20070221101750.pcap"));
            let mut n = 1u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                fs::copy(&src, name(n)).unwrap();
                if n > 3 {
                    let old = name(n - 3);
                    let _ = fs::remove_file(&old);
                    let _ = fs::remove_file(nsm_sensor::ring::files::index_path(&old));
                }
                n += 1;
            }
            n
        })
    };
    let out_pcap = d.path().join("out.pcap");
    let mut failures = Vec::new();
    for _ in 0..30 {
        let out = common::run(
            bin()
                .args(["carve", "--ring-dir"])
                .arg(&ring)
                .arg("-w")
                .arg(&out_pcap),
        );
        let err = text(&out.stderr);
        if out.status.code() != Some(0) {
            failures.push(err);
        } else if err.contains("No such file") {
            failures.push(format!("exit 0 but: {err}"));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rotated = rotating.join().unwrap();
    assert!(rotated > 4, "the ring did not rotate");
    assert!(
        failures.is_empty(),
        "{} of 30 carves failed: {}",
        failures.len(),
        failures[0]
    );
}
