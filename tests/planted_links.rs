//! A hostile local user plants links and look-alike files in the sensor's directories; the
//! sensor, running as root, must never write through them, delete them, or hand them over.
//! Every planted link points at a root-owned 0600 victim with known content, which must be
//! byte-for-byte unchanged, still 0600 and still root:root afterwards. Covers `replay` (alert
//! files, ring files, index sidecars, ring rotation), `carve` and `investigate` (index
//! sidecars, evidence file, `-w` outputs, eve.json's `capture_file` and text). The live
//! daemon's side (`stats.log`, `--user`) is in `live_planted.rs`. Needs root (the victim
//! must be root's, and the sensor runs as root); skips with a message otherwise.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{bin, expect_code, repo, run, text};

const VICTIM_TEXT: &[u8] = b"root:secret:victim line without a final newline";

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn skip(test: &str) -> bool {
    if !is_root() {
        println!("SKIPPED {test}: not root (the victim must be a root-owned file)");
        return true;
    }
    false
}

/// A root-owned 0600 file with known content, outside the sensor's directories.
struct Victim(PathBuf);

impl Victim {
    fn new(dir: &Path, name: &str) -> Victim {
        fs::create_dir_all(dir).unwrap();
        let p = dir.join(name);
        fs::write(&p, VICTIM_TEXT).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&p, Some(0), Some(0)).unwrap();
        Victim(p)
    }

    fn assert_intact(&self, what: &str) {
        let m = fs::symlink_metadata(&self.0)
            .unwrap_or_else(|e| panic!("{what}: victim {} gone: {e}", self.0.display()));
        assert_eq!(
            fs::read(&self.0).unwrap(),
            VICTIM_TEXT,
            "{what}: victim content changed"
        );
        assert_eq!(m.mode() & 0o7777, 0o600, "{what}: victim mode changed");
        assert_eq!((m.uid(), m.gid()), (0, 0), "{what}: victim owner changed");
    }
}

fn seed() -> PathBuf {
    repo().join("demo/botcc-2007-02-21.pcap")
}

/// `replay` of the seed capture into `log` and `ring` (with a config when given).
fn replay(log: &Path, ring: &Path, config: Option<&Path>) -> Output {
    let mut c = bin();
    c.arg("replay");
    if let Some(cfg) = config {
        c.arg("-c").arg(cfg);
    }
    c.arg("-r")
        .arg(repo().join("demo/bleeding-botcc.rules"))
        .args(["--home-net", "192.168.0.0/16", "-l"])
        .arg(log)
        .arg("--ring-dir")
        .arg(ring)
        .arg(seed());
    run(&mut c)
}

/// The ring file names a clean replay of the seed produces (sequence order).
fn seed_ring_names() -> Vec<String> {
    let t = tempfile::tempdir().unwrap();
    let out = replay(&t.path().join("log"), &t.path().join("ring"), None);
    expect_code(&out, 0);
    let mut v: Vec<String> = fs::read_dir(t.path().join("ring"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

#[test]
fn replay_never_writes_through_a_planted_log_link() {
    if skip("replay_never_writes_through_a_planted_log_link") {
        return;
    }
    for name in ["alert", "alert.fast", "eve.json"] {
        for hard in [false, true] {
            let t = tempfile::tempdir().unwrap();
            let victim = Victim::new(&t.path().join("secret"), "victim");
            let log = t.path().join("log");
            fs::create_dir(&log).unwrap();
            if hard {
                fs::hard_link(&victim.0, log.join(name)).unwrap();
            } else {
                symlink(&victim.0, log.join(name)).unwrap();
            }
            let out = replay(&log, &t.path().join("ring"), None);
            let what = format!(
                "LOGDIR/{name} as a {} link",
                if hard { "hard" } else { "symbolic" }
            );
            victim.assert_intact(&what);
            assert_ne!(out.status.code(), Some(0), "{what}: replay succeeded");
            let err = text(&out.stderr);
            let expect = if hard {
                "hard links"
            } else {
                "is a symbolic link; refusing to follow it"
            };
            assert!(
                err.contains(&format!("{name}: ")) && err.contains(expect),
                "{what}: {err}"
            );
        }
    }
}

#[test]
fn replay_refuses_a_symlinked_log_or_ring_directory() {
    if skip("replay_refuses_a_symlinked_log_or_ring_directory") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // The link target holds a look-alike of a ring file: following the link, rotation (one
    // file) would delete it; the victim for the log side is an `alert` there.
    let elsewhere = t.path().join("elsewhere");
    let ring_victim = Victim::new(&elsewhere, "nsm_00001_19990101000000.pcap");
    let log_victim = Victim::new(&elsewhere, "alert");
    symlink(&elsewhere, t.path().join("ringlink")).unwrap();
    symlink(&elsewhere, t.path().join("loglink")).unwrap();
    let cfg = t.path().join("one.toml");
    fs::write(&cfg, "[ring]\nfiles = 1\nfile_size_mb = 1\n").unwrap();

    let out = replay(
        &t.path().join("log"),
        &t.path().join("ringlink"),
        Some(&cfg),
    );
    ring_victim.assert_intact("ring dir a symlink");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("ringlink: is a symbolic link; refusing to follow it"),
        "{}",
        text(&out.stderr)
    );
    let out = replay(
        &t.path().join("loglink"),
        &t.path().join("ring"),
        Some(&cfg),
    );
    log_victim.assert_intact("log dir a symlink");
    assert!(
        text(&out.stderr).contains("loglink: is a symbolic link; refusing to follow it"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn ring_never_writes_through_planted_ring_or_index_names() {
    if skip("ring_never_writes_through_planted_ring_or_index_names") {
        return;
    }
    let names = seed_ring_names();
    let t = tempfile::tempdir().unwrap();
    let victim = Victim::new(&t.path().join("secret"), "victim");
    let ring = t.path().join("ring");
    fs::create_dir(&ring).unwrap();
    // The first ring file's own name, its index and the index's old temporary name.
    let first = &names[0];
    symlink(&victim.0, ring.join(first)).unwrap();
    // The ring skips the taken name: the file it writes instead is sequence 2.
    let second = first.replacen("_00001_", "_00002_", 1);
    for n in [
        format!(".{second}.idx.tmp"),
        format!(".{second}.idx"),
        format!(".{first}.idx.tmp"),
    ] {
        symlink(&victim.0, ring.join(n)).unwrap();
    }
    let out = replay(&t.path().join("log"), &ring, None);
    expect_code(&out, 0);
    victim.assert_intact("planted ring/index names");
    assert!(
        ring.join(&second).is_file(),
        "ring did not skip the planted name"
    );
    assert!(
        fs::symlink_metadata(ring.join(first))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the planted link was touched"
    );
}

#[test]
fn carve_and_investigate_never_write_through_planted_index_or_evidence_names() {
    if skip("carve_and_investigate_never_write_through_planted_index_or_evidence_names") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let victim = Victim::new(&t.path().join("secret"), "victim");
    let (log, ring) = (t.path().join("log"), t.path().join("ring"));
    expect_code(&replay(&log, &ring, None), 0);
    // Stale indexes: the readers rebuild them, through a temporary name.
    let pcaps: Vec<String> = fs::read_dir(&ring)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    for p in &pcaps {
        fs::remove_file(ring.join(format!(".{p}.idx"))).unwrap();
        symlink(&victim.0, ring.join(format!(".{p}.idx.tmp"))).unwrap();
    }
    let out = run(bin()
        .args(["carve", "--ring-dir"])
        .arg(&ring)
        .arg("-w")
        .arg(t.path().join("carved.pcap")));
    expect_code(&out, 0);
    victim.assert_intact("carve with planted index temporaries");

    // investigate: learn the evidence name, then plant a link there.
    let inv = |log: &Path| {
        run(bin()
            .arg("investigate")
            .arg("-l")
            .arg(log)
            .arg("--ring-dir")
            .arg(&ring))
    };
    let out = inv(&log);
    expect_code(&out, 0);
    victim.assert_intact("investigate with planted index temporaries");
    let evidence = text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Evidence: "))
        .and_then(|l| l.split(" (").next())
        .map(PathBuf::from)
        .expect("evidence line");
    fs::remove_file(&evidence).unwrap();
    symlink(&victim.0, &evidence).unwrap();
    let out = inv(&log);
    expect_code(&out, 0);
    victim.assert_intact("investigate with a planted evidence link");
    assert!(
        !fs::symlink_metadata(&evidence)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the evidence is a new file in place of the link"
    );

    // LOGDIR/evidence itself a link to somewhere else holding a file of that name.
    let log2 = t.path().join("log2");
    fs::create_dir(&log2).unwrap();
    fs::copy(log.join("eve.json"), log2.join("eve.json")).unwrap();
    let somewhere = t.path().join("somewhere");
    let victim2 = Victim::new(&somewhere, evidence.file_name().unwrap().to_str().unwrap());
    symlink(&somewhere, log2.join("evidence")).unwrap();
    let out = inv(&log2);
    victim2.assert_intact("LOGDIR/evidence a symlink");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("evidence: is a symbolic link; refusing to follow it"),
        "{}",
        text(&out.stderr)
    );
}

/// A classic pcap file header as the ring writes it (µs magic, 2.4, snaplen, link type).
fn pcap_header(linktype: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&linktype.to_le_bytes());
    h
}

#[test]
fn rotation_deletes_only_the_rings_own_files() {
    if skip("rotation_deletes_only_the_rings_own_files") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let victim = Victim::new(&t.path().join("secret"), "victim");
    let ring = t.path().join("ring");
    fs::create_dir(&ring).unwrap();
    let keep = |n: u32| format!("nsm_{n:05}_19990101000000.pcap");
    // 1: a text file with a ring name (root's, like the sensor's own).
    fs::write(ring.join(keep(1)), "not a pcap\n").unwrap();
    // 2: a valid ring pcap owned by another user.
    fs::write(ring.join(keep(2)), pcap_header(1)).unwrap();
    std::os::unix::fs::chown(ring.join(keep(2)), Some(65533), Some(65533)).unwrap();
    // 3: a link to the victim.
    symlink(&victim.0, ring.join(keep(3))).unwrap();
    // 4: a hard link to a valid pcap elsewhere.
    let outside = t.path().join("secret/outside.pcap");
    fs::write(&outside, pcap_header(1)).unwrap();
    fs::hard_link(&outside, ring.join(keep(4))).unwrap();
    // 5: a pcap of another link type (not what this ring writes).
    fs::write(ring.join(keep(5)), pcap_header(113)).unwrap();
    // 6: the ring's own file (root's, valid header): the only one rotation may delete.
    fs::write(ring.join(keep(6)), pcap_header(1)).unwrap();
    let before: Vec<(String, Vec<u8>)> = (1..=5)
        .map(|n| (keep(n), fs::read(ring.join(keep(n))).unwrap()))
        .collect();

    let cfg = t.path().join("one.toml");
    fs::write(&cfg, "[ring]\nfiles = 1\nfile_size_mb = 1\n").unwrap();
    let out = replay(&t.path().join("log"), &ring, Some(&cfg));
    expect_code(&out, 0);
    for (name, bytes) in &before {
        let p = ring.join(name);
        assert!(
            fs::symlink_metadata(&p).is_ok(),
            "{name} was deleted by rotation\n{}",
            text(&out.stderr)
        );
        assert_eq!(&fs::read(&p).unwrap(), bytes, "{name} changed");
    }
    assert!(
        !ring.join(keep(6)).exists(),
        "the ring's own oldest file was kept"
    );
    victim.assert_intact("rotation");
    assert!(
        text(&out.stderr).contains("not the ring's own file"),
        "{}",
        text(&out.stderr)
    );
}

/// LOGDIR with the seed's alerts and RING with its ring files; returns the ring file names.
fn seeded(t: &Path) -> (PathBuf, PathBuf, Vec<String>) {
    let (log, ring) = (t.join("log"), t.join("ring"));
    expect_code(&replay(&log, &ring, None), 0);
    let mut names: Vec<String> = fs::read_dir(&ring)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    names.sort();
    (log, ring, names)
}

#[test]
fn outputs_that_are_ring_files_are_refused() {
    if skip("outputs_that_are_ring_files_are_refused") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (log, ring, names) = seeded(t.path());
    let ring_file = ring.join(&names[0]);
    let original = fs::read(&ring_file).unwrap();
    let link = t.path().join("link.pcap");
    symlink(&ring_file, &link).unwrap();
    let unborn = ring.join("nsm_00099_20300101000000.pcap");
    for out in [&ring_file, &link, &unborn] {
        let carve = run(bin()
            .args(["carve", "--ring-dir"])
            .arg(&ring)
            .arg("-w")
            .arg(out));
        let inv = run(bin()
            .arg("investigate")
            .arg("-l")
            .arg(&log)
            .arg("--ring-dir")
            .arg(&ring)
            .arg("-w")
            .arg(out));
        for (cmd, o) in [("carve", &carve), ("investigate", &inv)] {
            expect_code(o, 2);
            assert!(
                text(&o.stderr).contains("refusing to overwrite an input"),
                "{cmd} -w {}: {}",
                out.display(),
                text(&o.stderr)
            );
            assert_eq!(
                fs::read(&ring_file).unwrap(),
                original,
                "{cmd} changed the ring file"
            );
        }
    }
    assert!(!unborn.exists());
}

#[test]
fn outputs_appear_whole_or_not_at_all() {
    if skip("outputs_appear_whole_or_not_at_all") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (_log, ring, _names) = seeded(t.path());
    let outdir = t.path().join("out");
    fs::create_dir(&outdir).unwrap();
    let out = outdir.join("carved.pcap");
    let o = run(bin()
        .args(["carve", "--ring-dir"])
        .arg(&ring)
        .arg("-w")
        .arg(&out));
    expect_code(&o, 0);
    assert_eq!(fs::metadata(&out).unwrap().mode() & 0o777, 0o640);
    assert_eq!(
        fs::read_dir(&outdir).unwrap().count(),
        1,
        "a temporary file was left"
    );

    // A carve that fails part-way (the output's disk fills up): no output, no temporary.
    let mut big = pcap_header(1);
    for i in 0u32..400 {
        big.extend_from_slice(&(1_172_053_074 + i).to_le_bytes()); // ts_sec
        big.extend_from_slice(&0u32.to_le_bytes()); // ts_usec
        big.extend_from_slice(&1000u32.to_le_bytes()); // caplen
        big.extend_from_slice(&1000u32.to_le_bytes()); // wire_len
        big.extend_from_slice(&[0u8; 1000]);
    }
    let big_ring = t.path().join("bigring");
    fs::create_dir(&big_ring).unwrap();
    fs::write(big_ring.join("nsm_00001_20070221101754.pcap"), big).unwrap();
    let small = t.path().join("small");
    let Some(_disk) = Tmpfs::mount(&small, "64k") else {
        return;
    };
    let failed = small.join("failed.pcap");
    let o = run(bin()
        .args(["carve", "--ring-dir"])
        .arg(&big_ring)
        .arg("-w")
        .arg(&failed));
    assert_ne!(o.status.code(), Some(0), "a 400 KB carve fit in 64 KB");
    assert!(!failed.exists(), "a partial output was left");
    assert_eq!(
        fs::read_dir(&small).unwrap().count(),
        0,
        "a temporary file was left"
    );
}

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            println!("SKIPPED the full-disk part: mount -t tmpfs failed");
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// eve.json lines of `log` with `capture_file` and `signature` replaced.
fn rewrite_eve(log: &Path, capture_file: &str, signature: &str) {
    let eve = log.join("eve.json");
    let mut out = String::new();
    for line in fs::read_to_string(&eve).unwrap().lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["capture_file"] = capture_file.into();
        v["alert"]["signature"] = signature.into();
        out.push_str(&v.to_string());
        out.push('\n');
    }
    fs::write(&eve, out).unwrap();
}

#[test]
fn investigate_reads_only_ring_files_and_prints_eve_text_neutralised() {
    if skip("investigate_reads_only_ring_files_and_prints_eve_text_neutralised") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (log, ring, names) = seeded(t.path());
    // A valid pcap outside the ring (the seed itself), and a link to it inside the ring.
    let outside = t.path().join("outside.pcap");
    fs::copy(seed(), &outside).unwrap();
    let link_name = names[0].replacen("_00001_", "_00077_", 1);
    symlink(&outside, ring.join(&link_name)).unwrap();
    let hostile = "EVIL \x1b[2J\x1b]0;pwned\x07 msg\rOVERWRITE\u{9b}31m";
    for capture_file in [
        "../outside.pcap",
        "/etc/shadow",
        "../../etc/x",
        link_name.as_str(),
    ] {
        rewrite_eve(&log, capture_file, hostile);
        let o = run(bin()
            .arg("investigate")
            .arg("-l")
            .arg(&log)
            .arg("--ring-dir")
            .arg(&ring)
            .arg("-w")
            .arg(t.path().join("ev.pcap")));
        expect_code(&o, 0);
        let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
        assert!(
            !stdout.contains("outside.pcap")
                && !stdout.contains("shadow")
                && !stdout.contains(&link_name),
            "capture_file {capture_file:?} was read:\n{stdout}"
        );
        assert!(stderr.contains("ignored"), "{capture_file}: {stderr}");
        for c in ['\x1b', '\x07', '\r', '\u{9b}'] {
            assert!(
                !stdout.contains(c),
                "control {c:?} printed raw:\n{stdout:?}"
            );
            assert!(!stderr.contains(c), "control {c:?} logged raw:\n{stderr:?}");
        }
        assert!(stdout.contains("EVIL "), "{stdout}");
        // Only ring files are listed.
        for l in stdout
            .lines()
            .filter(|l| l.contains(".pcap") && !l.starts_with("Evidence"))
        {
            assert!(
                names.iter().any(|n| l.contains(n.as_str())) || l.contains("ev.pcap"),
                "not a ring file: {l}"
            );
        }
    }
}
