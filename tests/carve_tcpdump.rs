//! `carve` against `tcpdump -r FILE -w - EXPR` over the same ring files, cut to the same
//! time range: the records must be byte-identical.

use std::path::{Path, PathBuf};
use std::process::Command;

use nsm_sensor::investigate::{carve, parse_time, Time};
use nsm_sensor::pcap::Reader;
use nsm_sensor::ring::{files, Ring, RingOptions};

const INPUT: &str = "/work/shared/data/pcaps/tcpreplay__test.pcap";

type Rec = (Time, u32, Vec<u8>);

fn read_all(p: &Path) -> Vec<Rec> {
    let mut r = Reader::open(p).unwrap();
    let mut v = Vec::new();
    while let Some(pk) = r.next_packet().unwrap() {
        v.push((pk.ts.unwrap().into(), pk.wire_len, pk.data.to_vec()));
    }
    v
}

fn build_ring(dir: &Path) -> Vec<PathBuf> {
    let recs = read_all(Path::new(INPUT));
    let o = RingOptions {
        dir: dir.to_path_buf(),
        prefix: "nsm".into(),
        files: 100,
        file_size: 8_000,
    };
    let mut ring = Ring::open(&o, 1, 262_144).unwrap();
    for (t, wire, data) in &recs {
        ring.write(t.sec, t.nsec / 1000, *wire, data).unwrap();
    }
    drop(ring);
    files::list(dir, None)
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect()
}

fn tcpdump_filter(files: &[PathBuf], expr: &str, out_dir: &Path) -> Option<Vec<Rec>> {
    let mut all = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let out = out_dir.join(format!("td{i}.pcap"));
        let st = Command::new("tcpdump")
            .arg("-r")
            .arg(f)
            .arg("-w")
            .arg(&out)
            .arg(expr)
            .output()
            .ok()?;
        assert!(
            st.status.success(),
            "tcpdump failed: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        all.extend(read_all(&out));
    }
    Some(all)
}

#[test]
fn carve_matches_tcpdump_with_bpf_and_time_range() {
    let d = tempfile::tempdir().unwrap();
    let ring_dir = d.path().join("ring");
    let ring_files = build_ring(&ring_dir);
    assert!(
        ring_files.len() > 5,
        "several ring files ({})",
        ring_files.len()
    );
    let recs = read_all(Path::new(INPUT));
    // A range inside the capture: from the 40th to the 120th packet's time.
    let (from, to) = (recs[40].0, recs[120].0);
    for expr in [
        "tcp",
        "udp or icmp",
        "tcp and port 80",
        "ip and greater 500",
        "",
    ] {
        let out = d.path().join("carved.pcap");
        let rep = carve(&ring_dir, Some(from), Some(to), expr, &out).unwrap();
        assert!(
            rep.files_skipped > 0,
            "files outside the range are skipped by their index"
        );
        assert_eq!(rep.files_read + rep.files_skipped, ring_files.len());
        let got = read_all(&out);
        let Some(want) = tcpdump_filter(
            &ring_files,
            if expr.is_empty() { "" } else { expr },
            d.path(),
        ) else {
            eprintln!("skipped: tcpdump not installed");
            return;
        };
        let want: Vec<Rec> = want
            .into_iter()
            .filter(|r| r.0 >= from && r.0 <= to)
            .collect();
        assert!(!got.is_empty(), "{expr:?} selects something");
        assert_eq!(got.len(), want.len(), "{expr:?}");
        assert_eq!(got, want, "{expr:?}");
        assert_eq!(rep.packets_written as usize, got.len());
        let ok = Command::new("capinfos")
            .arg(&out)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(true);
        assert!(ok);
    }
}

#[test]
fn carve_merges_across_files_in_time_order_and_rebuilds_missing_index() {
    let d = tempfile::tempdir().unwrap();
    let ring_dir = d.path().join("ring");
    let ring_files = build_ring(&ring_dir);
    // A crash lost the sidecars: carve rebuilds them from the pcaps.
    for f in &ring_files {
        std::fs::remove_file(files::index_path(f)).unwrap();
    }
    let out = d.path().join("all.pcap");
    let rep = carve(&ring_dir, None, None, "", &out).unwrap();
    assert_eq!(rep.files_skipped, 0);
    assert_eq!(read_all(&out), read_all(Path::new(INPUT)));
    assert!(files::read_index(&ring_files[0]).is_some(), "index rebuilt");
    // Bad BPF: usage error naming the expression.
    let e = carve(&ring_dir, None, None, "tcp and and", &out).unwrap_err();
    assert!(e.to_string().contains("tcp and and"), "{e}");
    // Range before the capture: nothing read at all.
    let early = parse_time("2001-01-01 00:00:00", None).unwrap();
    let rep = carve(&ring_dir, None, Some(early), "", &out).unwrap();
    assert_eq!((rep.files_read, rep.packets_written), (0, 0));
}

#[test]
fn length_filters_on_cut_frames_match_tcpdump() {
    // Why: the filter was applied with the captured length as the wire length, so `greater`
    // and `less` judged a snaplen-cut frame by what was kept, not by what was sent.
    let d = tempfile::tempdir().unwrap();
    let ring_dir = d.path().join("ring");
    let o = RingOptions {
        dir: ring_dir.clone(),
        prefix: "nsm".into(),
        files: 10,
        file_size: 1 << 20,
    };
    let mut ring = Ring::open(&o, 1, 64).unwrap();
    let recs = read_all(Path::new(INPUT));
    for (t, wire, data) in &recs {
        let kept = &data[..data.len().min(64)];
        ring.write(t.sec, t.nsec / 1000, *wire, kept).unwrap();
    }
    drop(ring);
    let ring_files: Vec<PathBuf> = files::list(&ring_dir, None)
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    for expr in ["greater 500", "less 100", "ip and len > 1000"] {
        let out = d.path().join("cut.pcap");
        carve(&ring_dir, None, None, expr, &out).unwrap();
        let got = read_all(&out);
        let Some(want) = tcpdump_filter(&ring_files, expr, d.path()) else {
            eprintln!("skipped: tcpdump not installed");
            return;
        };
        assert!(!want.is_empty() && want.len() < recs.len(), "{expr:?}");
        assert_eq!(got, want, "{expr:?}");
    }
}
