//! The ring against the real tools: rotation with small sizes, restart numbering, torn-file
//! repair, header flushed at open, and a scaled "1 GB into 10×100 MB" replay.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nsm_sensor::pcap::Reader;
use nsm_sensor::ring::{files, Ring, RingOptions};

/// A frame: Ethernet + IPv4 + UDP, `len` bytes, the index stamped into the payload so every
/// frame is distinct.
fn frame(i: u32, len: usize) -> Vec<u8> {
    let len = len.max(60);
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[0, 1, 2, 3, 4, 5]); // dst MAC
    f[6..12].copy_from_slice(&[0, 1, 2, 3, 4, 6]); // src MAC
    f[12..14].copy_from_slice(&[0x08, 0x00]); // IPv4
    let ip_len = (len - 14) as u16;
    f[14] = 0x45; // version 4, IHL 5
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64; // TTL
    f[23] = 17; // UDP
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 0, 2]);
    f[34..36].copy_from_slice(&1234u16.to_be_bytes());
    f[36..38].copy_from_slice(&5678u16.to_be_bytes());
    f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    f[42..46].copy_from_slice(&i.to_be_bytes());
    f
}

fn opts(dir: &Path, files: u32, file_size: u64) -> RingOptions {
    RingOptions {
        dir: dir.to_path_buf(),
        prefix: "nsm".into(),
        files,
        file_size,
    }
}

/// (ts_sec, ts_usec, data) of every record of `paths`, in order.
fn records(paths: &[PathBuf]) -> Vec<(i64, u32, Vec<u8>)> {
    let mut out = Vec::new();
    for p in paths {
        let mut r = Reader::open(p).unwrap();
        while let Some(pk) = r.next_packet().unwrap() {
            let t = pk.ts.unwrap();
            out.push((t.sec, t.nsec / 1000, pk.data.to_vec()));
        }
    }
    out
}

fn tool_ok(tool: &str, args: &[&str], p: &Path) -> Option<bool> {
    let out = Command::new(tool).args(args).arg(p).output().ok()?;
    Some(out.status.success())
}

fn check_with_tools(p: &Path) {
    if let Some(ok) = tool_ok("capinfos", &["-M"], p) {
        assert!(ok, "capinfos rejects {}", p.display());
    }
    if let Some(ok) = tool_ok("tcpdump", &["-nn", "-q", "-r"], p) {
        assert!(ok, "tcpdump -r rejects {}", p.display());
    }
}

fn ring_paths(dir: &Path) -> Vec<PathBuf> {
    files::list(dir, None)
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect()
}

#[test]
fn ring_rotation_small_sizes() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("ring");
    let limit = 10_000u64;
    let input: Vec<(i64, u32, Vec<u8>)> = (0..400u32)
        .map(|i| {
            (
                1_172_053_000 + i64::from(i / 10),
                (i % 10) * 1000,
                frame(i, 60 + (i as usize * 37) % 1454),
            )
        })
        .collect();
    let mut ring = Ring::open(&opts(&dir, 4, limit), 1, 65535).unwrap();
    for (s, u, f) in &input {
        ring.write(*s, *u, f.len() as u32, f).unwrap();
    }
    drop(ring);
    let listed = files::list(&dir, None).unwrap();
    assert_eq!(listed.len(), 4, "exactly `files` files kept");
    let seqs: Vec<u64> = listed.iter().map(|f| f.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive sequence: {seqs:?}"
    );
    assert!(seqs[0] > 1, "oldest files were deleted");
    assert!(listed.windows(2).all(|w| w[0].first_sec <= w[1].first_sec));
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o750
    );
    let mut total_bytes = 0;
    for f in &listed {
        let meta = fs::metadata(&f.path).unwrap();
        assert!(meta.len() <= limit, "{} is {} bytes", f.name, meta.len());
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        check_with_tools(&f.path);
        // Name time = first packet time.
        let first = records(std::slice::from_ref(&f.path))[0].0;
        assert_eq!(first, f.first_sec);
        let idx = files::read_index(&f.path).expect("index sidecar current");
        total_bytes += meta.len() - 24 - 16 * idx.packets;
    }
    let got = records(&ring_paths(&dir));
    let tail = &input[input.len() - got.len()..];
    assert_eq!(
        got, tail,
        "ring holds the last packets of the input, in order"
    );
    assert_eq!(
        total_bytes,
        tail.iter().map(|r| r.2.len() as u64).sum::<u64>()
    );
}

#[test]
fn ring_restart_continues_numbering() {
    let d = tempfile::tempdir().unwrap();
    let o = opts(d.path(), 10, 2_000);
    let mut ring = Ring::open(&o, 1, 65535).unwrap();
    for i in 0..30 {
        ring.write(1000 + i64::from(i), 0, 200, &frame(i, 200))
            .unwrap();
    }
    drop(ring);
    let before = files::list(d.path(), None).unwrap();
    let last_seq = before.last().unwrap().seq;
    let snapshot: Vec<Vec<u8>> = before.iter().map(|f| fs::read(&f.path).unwrap()).collect();
    let mut ring = Ring::open(&o, 1, 65535).unwrap();
    ring.write(5000, 0, 200, &frame(99, 200)).unwrap();
    let name = ring.current_name().unwrap().to_string();
    drop(ring);
    assert_eq!(
        files::parse_name(&name).unwrap().1,
        last_seq + 1,
        "sequence continues after restart"
    );
    for (f, bytes) in before.iter().zip(&snapshot) {
        assert_eq!(
            &fs::read(&f.path).unwrap(),
            bytes,
            "{} not overwritten",
            f.name
        );
    }
}

#[test]
fn ring_torn_file_repaired_at_open() {
    let d = tempfile::tempdir().unwrap();
    let o = opts(d.path(), 10, 1 << 20);
    let mut ring = Ring::open(&o, 1, 65535).unwrap();
    for i in 0..5 {
        ring.write(1000 + i64::from(i), 0, 100, &frame(i, 100))
            .unwrap();
    }
    let path = ring.current_path().unwrap().to_path_buf();
    drop(ring);
    let whole = fs::read(&path).unwrap();
    assert_eq!(whole.len(), 24 + 5 * (16 + 100));
    // A crash mid-record: a sixth header and half its data, index sidecar stale.
    let mut torn = whole.clone();
    torn.extend_from_slice(&[0xe8, 3, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 100, 0, 0, 0]);
    torn.extend_from_slice(&frame(5, 100)[..40]);
    fs::write(&path, &torn).unwrap();
    // The newest file is the one repaired.
    let mut ring = Ring::open(&o, 1, 65535).unwrap();
    assert_eq!(
        fs::read(&path).unwrap(),
        whole,
        "cut back to the last whole record"
    );
    check_with_tools(&path);
    ring.write(2000, 0, 100, &frame(9, 100)).unwrap();
    assert_ne!(
        ring.current_path().unwrap(),
        path.as_path(),
        "new file, not an append"
    );
    drop(ring);

    // Garbage length in the last record header is a tear too.
    let newest = ring_paths(d.path()).pop().unwrap();
    let mut bytes = fs::read(&newest).unwrap();
    let good = bytes.len();
    bytes.extend_from_slice(&[
        0xe8, 3, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f,
    ]);
    fs::write(&newest, &bytes).unwrap();
    drop(Ring::open(&o, 1, 65535).unwrap());
    assert_eq!(fs::metadata(&newest).unwrap().len() as usize, good);

    // A newest file shorter than its header is not unmistakably the ring's (no valid
    // header): left alone, never truncated or deleted, but its number is not reused.
    let stub = d.path().join(files::file_name("nsm", 999, 3000));
    fs::write(&stub, [0xd4, 0xc3, 0xb2]).unwrap();
    let mut ring = Ring::open(&o, 1, 65535).unwrap();
    assert_eq!(fs::read(&stub).unwrap(), [0xd4, 0xc3, 0xb2]);
    ring.write(4000, 0, 100, &frame(10, 100)).unwrap();
    assert_eq!(
        files::parse_name(ring.current_name().unwrap()).unwrap().1,
        1000,
        "never reuses a seen number"
    );
}

#[test]
fn ring_header_flushed_at_open() {
    let d = tempfile::tempdir().unwrap();
    let mut ring = Ring::open(&opts(d.path(), 3, 1 << 20), 1, 65535).unwrap();
    ring.write(1000, 0, 60, &frame(0, 60)).unwrap();
    let p = ring.current_path().unwrap().to_path_buf();
    assert_eq!(fs::metadata(&p).unwrap().len(), 24);
    check_with_tools(&p);
    ring.flush().unwrap();
    assert_eq!(records(&[p]).len(), 1);
}

/// The product's "replay ~1 GB into 10 × 100 MB", scaled: 60 MB into 10 × 5 MB.
#[test]
fn ring_scaled_replay_60mb_into_10x5mb() {
    let d = tempfile::tempdir().unwrap();
    let limit = 5_000_000u64;
    let mut ring = Ring::open(&opts(d.path(), 10, limit), 1, 65535).unwrap();
    let n: u32 = 60_000_000 / 1514;
    let mut f = frame(0, 1514);
    for i in 0..n {
        f[42..46].copy_from_slice(&i.to_be_bytes());
        ring.write(
            1_700_000_000 + i64::from(i / 1000),
            (i % 1000) * 1000,
            1514,
            &f,
        )
        .unwrap();
    }
    drop(ring);
    let listed = files::list(d.path(), None).unwrap();
    assert_eq!(listed.len(), 10);
    let per_file = (limit - 24) / (16 + 1514);
    let mut packets = 0;
    for (k, lf) in listed.iter().enumerate() {
        let len = fs::metadata(&lf.path).unwrap().len();
        assert!(len <= limit);
        let idx = files::read_index(&lf.path).unwrap();
        if k + 1 < listed.len() {
            assert_eq!(
                idx.packets, per_file,
                "full files hold as many records as fit"
            );
        }
        packets += idx.packets;
        check_with_tools(&lf.path);
    }
    // The last record in the ring is the last written.
    let last = records(&[listed.last().unwrap().path.clone()])
        .pop()
        .unwrap();
    assert_eq!(
        u32::from_be_bytes(last.2[42..46].try_into().unwrap()),
        n - 1
    );
    let first = records(&[listed[0].path.clone()]).remove(0);
    assert_eq!(
        u32::from_be_bytes(first.2[42..46].try_into().unwrap()),
        n - packets as u32
    );
}
