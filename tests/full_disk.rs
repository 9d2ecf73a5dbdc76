//! A full disk: the ring and the log directory on a small tmpfs, a replay several times
//! larger than the disk. Root only (it mounts); skips with a message otherwise.
//!
//! What must hold (the behaviour `ring` and `output` implement):
//! - detection goes on: the summary's alert count equals a run with plenty of disk;
//! - no alert is lost while the ring has a closed file to give up: a failed alert write
//!   makes the ring delete its oldest file and retries, so `alert.fast` and `eve.json` hold
//!   every alert, identical to the roomy run;
//! - the ring makes room by deleting its oldest file and keeps recording;
//! - failures are logged once per episode (a handful of lines, never one per packet);
//! - a ring larger than the disk is said once at start-up (files x size against the room),
//!   not once per rotation;
//! - exit 0 when every alert reached the disk; exit 1 when some could not, with the summary
//!   counting written and dropped alerts per file, and nothing counted as written that is
//!   not in the file;
//! - every pcap left passes `capinfos`; every EVE line parses, no torn last line (records are
//!   written whole or cut back, never half).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{bin, expect_code, have, repo, text};

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .ok()?;
        if !out.status.success() {
            println!(
                "SKIP full_disk: mount -t tmpfs failed: {}",
                text(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
}

fn can_run(tools: &[&str]) -> bool {
    if !is_root() {
        println!("SKIP full_disk: needs root to mount a tmpfs");
        return false;
    }
    for t in tools {
        if !have(t) {
            println!("SKIP full_disk: {t} not installed");
            return false;
        }
    }
    true
}

const RULES: &str = "\
alert ip $HOME_NET any -> [203.0.113.7,198.51.100.9] any (msg:\"listed address, outbound\"; classtype:trojan-activity; sid:9000001; rev:1;)
alert ip [203.0.113.7,198.51.100.9] any -> $HOME_NET any (msg:\"listed address, inbound\"; classtype:trojan-activity; sid:9000002; rev:1;)
alert udp $HOME_NET any -> 23.0.0.0/8 53 (msg:\"DNS to 23/8\"; classtype:misc-activity; reference:url,example.org/dns; sid:9000003; rev:1;)
";

// The evidence store is off: these cases are about the alert files against the ring (the
// store would take the room the ring gives up; its own disk-full handling is in its tests).
const CONFIG: &str = "\
[output]
timestamps = \"utc\"
[ring]
files = 10
file_size_mb = 5
prefix = \"nsm\"
[evidence]
enabled = false
";

/// ~100 MB of Ethernet/IPv4 TCP and UDP with valid checksums (benches/gen_workload.py).
fn workload(dir: &Path, frames: u32) -> (PathBuf, PathBuf, PathBuf) {
    let rules = dir.join("full.rules");
    fs::write(&rules, RULES).unwrap();
    let config = dir.join("sensor.toml");
    fs::write(&config, CONFIG).unwrap();
    let pcap = dir.join("big.pcap");
    let out = Command::new("python3")
        .arg(repo().join("benches/gen_workload.py"))
        .arg(&pcap)
        .arg(frames.to_string())
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gen_workload.py: {}",
        text(&out.stderr)
    );
    (rules, config, pcap)
}

fn replay(config: &Path, rules: &Path, log: &Path, ring: Option<&Path>, pcap: &Path) -> Output {
    let out = replay_any(config, rules, log, ring, pcap);
    expect_code(&out, 0);
    out
}

/// [`replay`] without the exit code check.
fn replay_any(config: &Path, rules: &Path, log: &Path, ring: Option<&Path>, pcap: &Path) -> Output {
    let mut cmd = bin();
    cmd.arg("replay")
        .arg("-c")
        .arg(config)
        .arg("-r")
        .arg(rules)
        .args(["--home-net", "192.168.0.0/16", "-l"])
        .arg(log);
    match ring {
        Some(r) => cmd.arg("--ring-dir").arg(r),
        None => cmd.arg("--no-ring"),
    };
    cmd.arg(pcap).env("RUST_LOG", "info");
    cmd.output().unwrap()
}

/// `N alerts` from the summary line.
fn summary_alerts(out: &Output) -> u64 {
    let s = text(&out.stdout);
    let line = s
        .lines()
        .find(|l| l.starts_with("replayed "))
        .expect("summary line");
    let before = line.split(" alert").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

fn warn_lines(out: &Output) -> Vec<String> {
    text(&out.stderr)
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .map(str::to_string)
        .collect()
}

/// Every line is a JSON object; the file ends in a newline. Returns the line count.
fn eve_lines(path: &Path) -> usize {
    let t = fs::read_to_string(path).unwrap();
    assert!(
        t.is_empty() || t.ends_with('\n'),
        "{}: torn last line",
        path.display()
    );
    for l in t.lines() {
        let v: serde_json::Value = serde_json::from_str(l)
            .unwrap_or_else(|e| panic!("{}: bad line ({e}): {l}", path.display()));
        assert_eq!(v["event_type"], "alert");
    }
    t.lines().count()
}

fn fast_lines(path: &Path) -> usize {
    let t = fs::read_to_string(path).unwrap();
    assert!(
        t.is_empty() || t.ends_with('\n'),
        "{}: torn last line",
        path.display()
    );
    assert!(
        t.lines().all(|l| l.contains(" [**] [1:900000")),
        "alert.fast: foreign line"
    );
    t.lines().count()
}

fn ring_pcaps(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    v.sort();
    v
}

fn capinfos_ok(files: &[PathBuf]) {
    for f in files {
        let out = Command::new("capinfos").arg("-c").arg(f).output().unwrap();
        assert!(
            out.status.success(),
            "capinfos {}: {}",
            f.display(),
            text(&out.stderr)
        );
    }
}

#[test]
fn ring_and_logs_on_a_full_disk() {
    if !can_run(&["python3", "capinfos"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "20m") else {
        return;
    };
    // 150,000 frames of 60/576/1514 bytes: about 100 MB.
    let (rules, config, pcap) = workload(tmp.path(), 150_000);
    let pcap_len = fs::metadata(&pcap).unwrap().len();
    assert!(pcap_len > 90_000_000, "workload is {pcap_len} bytes");

    // With plenty of disk.
    let roomy_log = tmp.path().join("roomy/log");
    let roomy = replay(&config, &rules, &roomy_log, None, &pcap);
    let expected = summary_alerts(&roomy);
    assert!(expected > 500, "the workload alerts: {expected}");

    // On 20 MB: a ring of 10 × 5 MB cannot fit.
    let log = disk.0.join("log");
    let ring = disk.0.join("ring");
    let out = replay(&config, &rules, &log, Some(&ring), &pcap);
    let stderr = text(&out.stderr);
    assert_eq!(
        summary_alerts(&out),
        expected,
        "detection goes on\n{stderr}"
    );

    // Every alert written, identical to the roomy run (nothing lost, nothing torn).
    assert_eq!(fast_lines(&log.join("alert.fast")) as u64, expected);
    assert_eq!(eve_lines(&log.join("eve.json")) as u64, expected);
    assert_eq!(
        fs::read(log.join("alert.fast")).unwrap(),
        fs::read(roomy_log.join("alert.fast")).unwrap()
    );
    assert_eq!(
        fs::read(log.join("alert")).unwrap(),
        fs::read(roomy_log.join("alert")).unwrap()
    );

    // The ring made room by deleting its oldest files; that the disk is too small for it
    // was said once, at start-up, and not again per deletion.
    let pcaps = ring_pcaps(&ring);
    let first_seq: u32 = pcaps[0].file_name().unwrap().to_str().unwrap()[4..9]
        .parse()
        .unwrap();
    assert!(first_seq > 1, "the oldest files were deleted: {pcaps:?}");
    assert_eq!(
        stderr.matches("files x ").count(),
        1,
        "one start-up warning:\n{stderr}"
    );
    let made_room = stderr.matches("deleted the oldest ring file").count();
    assert_eq!(made_room, 0, "one line per rotation:\n{stderr}");
    let warnings = warn_lines(&out);
    assert!(warnings.len() <= 4, "warnings: {warnings:#?}");
    capinfos_ok(&pcaps);
    println!(
        "full disk: {expected} alerts, {} ring files left (first {first_seq:05}), {made_room} room-making deletions, {} warnings",
        pcaps.len(),
        warnings.len()
    );
}

#[test]
fn no_room_at_all_keeps_files_whole() {
    if !can_run(&["python3", "capinfos"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "4m") else {
        return;
    };
    let (rules, config, pcap) = workload(tmp.path(), 60_000);
    let log = disk.0.join("log");
    let ring = disk.0.join("ring");
    fs::create_dir_all(&log).unwrap();
    // Leave about 150 kB: room for a few alert writes and no ring file to give up.
    let blocker = vec![0u8; 4 * 1024 * 1024 - 150 * 1024];
    fs::write(disk.0.join("blocker"), &blocker).unwrap_or(());
    let out = replay_any(&config, &rules, &log, Some(&ring), &pcap);
    // Alerts were lost: the replay fails, and says how many.
    expect_code(&out, 1);
    let alerts = summary_alerts(&out);
    assert!(alerts > 200, "detection goes on: {alerts}");
    let warnings = warn_lines(&out);
    assert!(
        !warnings.is_empty() && warnings.len() <= 5,
        "one warning per episode: {warnings:#?}"
    );
    // Whatever reached the disk is whole: fewer lines than alerts, none torn.
    let fast = fast_lines(&log.join("alert.fast")) as u64;
    let eve = eve_lines(&log.join("eve.json")) as u64;
    assert!(
        fast < alerts && eve < alerts,
        "fast {fast}, eve {eve}, alerts {alerts}"
    );
    let full = fs::read_to_string(log.join("alert")).unwrap();
    assert!(
        full.is_empty() || full.ends_with("\n\n"),
        "alert: torn last record"
    );
    let full_records = full.matches("\n\n").count() as u64;
    // The summary counts, per file, exactly what is on disk as written and the rest as
    // dropped; overall, an alert is written only when every file has it.
    let w = WrittenLine::parse(&out);
    assert_eq!(w.file("alert.fast"), (fast, alerts - fast), "{}", w.line);
    assert_eq!(w.file("eve.json"), (eve, alerts - eve), "{}", w.line);
    assert_eq!(
        w.file("alert"),
        (full_records, alerts - full_records),
        "{}",
        w.line
    );
    let written = fast.min(eve).min(full_records);
    assert_eq!((w.written, w.total), (written, alerts), "{}", w.line);
    assert_eq!(w.dropped, alerts - written, "{}", w.line);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{} of {alerts} alerts could not be written to {}",
            alerts - written,
            log.display()
        )),
        "{stderr}"
    );
    capinfos_ok(&ring_pcaps(&ring));
    println!(
        "no room: {alerts} alerts detected, {fast} fast / {eve} EVE lines on disk, {} warnings; {}",
        warnings.len(),
        w.line
    );
}

/// The summary's `alerts written: W of N, D could not be written (alert.fast W1 written, D1
/// dropped; …)` line.
struct WrittenLine {
    line: String,
    written: u64,
    total: u64,
    dropped: u64,
}

impl WrittenLine {
    fn parse(out: &Output) -> WrittenLine {
        let s = text(&out.stdout);
        let line = s
            .lines()
            .find(|l| l.starts_with("alerts written: "))
            .unwrap_or_else(|| panic!("no 'alerts written' line in the summary:\n{s}"))
            .to_string();
        let words: Vec<&str> = line.split(' ').collect();
        let num = |i: usize| words[i].trim_end_matches(',').parse::<u64>().unwrap();
        WrittenLine {
            written: num(2),
            total: num(4),
            dropped: num(5),
            line,
        }
    }

    /// (written, dropped) of one file.
    fn file(&self, name: &str) -> (u64, u64) {
        let inner = self.line.split_once('(').unwrap().1.trim_end_matches(')');
        for part in inner.split("; ") {
            let w: Vec<&str> = part.split(' ').collect();
            if w[0] == name {
                return (w[1].parse().unwrap(), w[3].parse().unwrap());
            }
        }
        panic!("{name} not in {}", self.line)
    }
}

/// The ring is configured far larger than its disk: one warning at start-up naming
/// files x size and the room there is.
#[test]
fn ring_larger_than_the_disk_is_said_once_at_start_up() {
    if !can_run(&[]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "8m") else {
        return;
    };
    let rules = tmp.path().join("t.rules");
    fs::write(&rules, RULES).unwrap();
    let config = tmp.path().join("sensor.toml");
    fs::write(
        &config,
        "[output]\ntimestamps = \"utc\"\n[ring]\nfiles = 20\nfile_size_mb = 4\n",
    )
    .unwrap();
    let pcap = common::shared().join("seed/botcc-2007-02-21.pcap");
    let ring = disk.0.join("ring");
    let out = replay(&config, &rules, &disk.0.join("log"), Some(&ring), &pcap);
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("files x ")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let l = lines[0];
    assert!(l.contains("WARN"), "{l}");
    assert!(
        l.contains("20 files x 4.0 MiB = 80.0 MiB configured in")
            && l.contains(&ring.display().to_string())
            && l.contains("has room for "),
        "{l}"
    );
    // A ring that fits says nothing.
    fs::write(&config, "[ring]\nfiles = 2\nfile_size_mb = 1\n").unwrap();
    let out = replay(
        &config,
        &rules,
        &disk.0.join("log2"),
        Some(&disk.0.join("ring2")),
        &pcap,
    );
    assert!(
        !text(&out.stderr).contains("files x "),
        "{}",
        text(&out.stderr)
    );
}

/// Ethernet + IPv4 + UDP to `dport`, 60 bytes (checksums left zero: validation is off).
fn udp_frame(i: u32, dport: u16) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[12..14].copy_from_slice(&[0x08, 0x00]); // IPv4
    f[14] = 0x45; // version 4, IHL 5
    f[16..18].copy_from_slice(&46u16.to_be_bytes()); // total length
    f[22] = 64; // TTL
    f[23] = 17; // UDP
    f[26..30].copy_from_slice(&[192, 168, 1, 2]);
    f[30..34].copy_from_slice(&[203, 0, 113, 7]);
    f[34..36].copy_from_slice(&40000u16.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[38..40].copy_from_slice(&26u16.to_be_bytes()); // UDP length
    f[42..46].copy_from_slice(&i.to_be_bytes());
    f
}

/// The alert files' write fails on a disk the ring filled: the pipeline deletes the oldest
/// ring file and writes the alerts after all (alerts beat old full-content data).
#[test]
fn alerts_take_room_from_the_ring() {
    use nsm_sensor::capture::RawPacket;
    use nsm_sensor::config::{Config, Timestamps};
    use nsm_sensor::decode::DecodeOptions;
    use nsm_sensor::detect::DetectOptions;
    use nsm_sensor::output::OutputOptions;
    use nsm_sensor::pipeline::{Pipeline, PipelineOptions};
    use nsm_sensor::ring::RingOptions;
    use nsm_sensor::rules::load::load_text;
    use nsm_sensor::rules::LoadOptions;
    use std::io::Write;

    if !can_run(&["capinfos"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "8m") else {
        return;
    };
    let rules = load_text(
        Path::new("t.rules"),
        "alert udp any any -> any 7 (msg:\"alert me\"; sid:1;)\n",
        &LoadOptions::default(),
    );
    assert!(rules.is_usable());
    let set = nsm_sensor::detect::RuleSet::compile(rules.model);
    let opts = PipelineOptions {
        decode: DecodeOptions { checksums: false },
        outputs: Some(OutputOptions {
            dir: disk.0.join("log"),
            alert_full: true,
            alert_fast: true,
            eve: true,
            timestamps: Timestamps::Utc,
        }),
        ring: Some(RingOptions {
            dir: disk.0.join("ring"),
            prefix: "nsm".into(),
            files: 10,
            file_size: 1024 * 1024,
        }),
        detect: DetectOptions::from_config(&Config::default().detect),
        evidence: None,
    };
    let mut p = Pipeline::new(&opts, 1, 65535).unwrap();
    let big = {
        let mut f = udp_frame(0, 9);
        f.resize(1500, 0);
        f
    };
    // 3.5 MB of quiet traffic: three closed ring files.
    for i in 0..2400u32 {
        let raw = RawPacket {
            ts_sec: 1_700_000_000 + i64::from(i),
            ts_usec: 0,
            wire_len: 1500,
            data: &big,
        };
        p.process(&set, &raw);
    }
    p.flush();
    assert_eq!(p.stats().alerts, 0);
    // Fill the rest of the disk.
    let mut blocker = fs::File::create(disk.0.join("blocker")).unwrap();
    let chunk = vec![0u8; 16 * 1024];
    while blocker.write_all(&chunk).is_ok() {}
    drop(blocker);
    let oldest = ring_pcaps(&disk.0.join("ring"))[0].clone();
    // 2,000 alerts: about 1.8 MB of alert text that has no room but what the ring gives up.
    for i in 0..2000u32 {
        let f = udp_frame(i, 7);
        let raw = RawPacket {
            ts_sec: 1_700_010_000,
            ts_usec: i,
            wire_len: 60,
            data: &f,
        };
        p.process(&set, &raw);
    }
    p.flush();
    let s = p.stats().clone();
    drop(p);
    assert_eq!(s.alerts, 2000);
    assert!(s.output_write_errors > 0, "the disk was not full: {s:?}");
    assert!(!oldest.exists(), "the oldest ring file made room");
    let log = disk.0.join("log");
    assert_eq!(fast_lines_of(&log.join("alert.fast")), 2000);
    assert_eq!(eve_lines(&log.join("eve.json")), 2000);
    capinfos_ok(&ring_pcaps(&disk.0.join("ring")));
}

fn fast_lines_of(path: &Path) -> usize {
    let t = fs::read_to_string(path).unwrap();
    assert!(t.ends_with('\n'), "torn last line");
    t.lines().count()
}

/// The evidence store on a disk too small for its quota: said once at start-up; when the
/// disk fills, failing evidence files are said once (not once per event) and counted;
/// detection goes on and every evidence file left is a readable pcap.
#[test]
fn evidence_store_on_a_full_disk() {
    if !can_run(&["python3", "capinfos"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "6m") else {
        return;
    };
    let (rules, _, pcap) = workload(tmp.path(), 30_000);
    let config = tmp.path().join("evidence.toml");
    fs::write(
        &config,
        "[output]\ntimestamps = \"utc\"\nalert_full = false\n[evidence]\nmax_packets = 5000\n",
    )
    .unwrap();
    let log = disk.0.join("log");
    fs::create_dir_all(&log).unwrap();
    // Leave about 40 kB: room for the alert lines and a few events.
    let blocker = vec![0u8; 6 * 1024 * 1024 - 40 * 1024];
    fs::write(disk.0.join("blocker"), &blocker).unwrap_or(());
    let out = replay_any(&config, &rules, &log, None, &pcap);
    let stderr = text(&out.stderr);
    assert!(summary_alerts(&out) > 20, "detection goes on\n{stderr}");
    assert_eq!(
        stderr.matches("evidence: a quota of 1024 MiB").count(),
        1,
        "{stderr}"
    );
    let failures = stderr.matches("cannot create an evidence file").count()
        + stderr.matches("evidence write failed").count();
    assert!(
        (1..=2).contains(&failures),
        "the disk fills, said once:\n{stderr}"
    );
    let mut pcaps: Vec<PathBuf> = fs::read_dir(log.join("evidence"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    pcaps.sort();
    assert!(!pcaps.is_empty());
    capinfos_ok(&pcaps);
}
