//! Every shared pcap replayed through the binary with the content rule sets loaded (Snort
//! community rules, ET scan/malware/chat with ET's classification and reference tables): exit
//! 0, no panic, EVE valid against Suricata's schema, a per-file table of alert counts (visible
//! with `--nocapture`), some alerts in all; then the whole set replayed in one process, whose
//! peak RSS must stay near that of a one-file replay (state is bounded, not growing per file).

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

/// A config loading the content rule files, without evidence or ring. Checksums are not
/// verified (`checksum_mode = "none"`, Snort's `-k none`): most of these captures were taken on
/// a host with checksum offload (every TCP segment of ndpi__WebattackRCE has a bad checksum),
/// and with verification on their payloads would not reach detection at all.
fn config(dir: &Path) -> PathBuf {
    let r = shared().join("rules");
    let q = |p: PathBuf| format!("{:?}", p.display().to_string());
    let files: Vec<String> = [
        "community/community.rules",
        "et/emerging-scan.rules",
        "et/emerging-malware.rules",
        "et/emerging-chat.rules",
    ]
    .iter()
    .map(|f| q(r.join(f)))
    .collect();
    let text = format!(
        "[rules]\nfiles = [{}]\nclassification = {}\nreference = {}\nthreshold = \"\"\n[detect]\nchecksum_mode = \"none\"\n[evidence]\nenabled = false\n[ring]\nenabled = false\n",
        files.join(", "),
        q(r.join("et/classification.config")),
        q(r.join("et/reference.config")),
    );
    let p = dir.join("content.toml");
    fs::write(&p, text).unwrap();
    p
}

/// Replays `inputs` under `/usr/bin/time -f %M` (when present): the output and the peak RSS
/// in KB.
fn replay(cfg: &Path, log: &Path, inputs: &[PathBuf]) -> (std::process::Output, Option<u64>) {
    let timed = Path::new("/usr/bin/time").is_file();
    let mut cmd = if timed {
        let mut c = std::process::Command::new("/usr/bin/time");
        c.args(["-f", "peak-rss-kb=%M"]).arg(exe()).env("TZ", "UTC");
        c
    } else {
        bin()
    };
    cmd.args(["replay", "-q", "--no-ring", "-c"])
        .arg(cfg)
        .arg("-l")
        .arg(log)
        .args(inputs);
    let out = run(&mut cmd);
    let rss = text(&out.stderr)
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak-rss-kb=")?.trim().parse().ok());
    (out, rss)
}

fn check_ok(what: &str, out: &std::process::Output) {
    let stderr = text(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("panicked"),
        "{what}: exit {:?}\n{}\n{stderr}",
        out.status.code(),
        text(&out.stdout)
    );
}

fn alert_count(log: &Path) -> usize {
    fs::read_to_string(log.join("alert.fast"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn every_shared_pcap_replays_with_the_content_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let files = pcaps();
    assert!(files.len() > 50, "{} pcaps", files.len());

    let mut table = Vec::new();
    let mut total = 0usize;
    let mut one_file_rss = 0u64;
    for (i, p) in files.iter().enumerate() {
        let log = tmp.path().join(format!("log{i}"));
        let (out, rss) = replay(&cfg, &log, std::slice::from_ref(p));
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        check_ok(&name, &out);
        let n = alert_count(&log);
        let eve = log.join("eve.json");
        let lines = if eve.exists() { validate_eve(&eve) } else { 0 };
        assert!(lines >= n, "{name}: {lines} EVE lines for {n} alerts");
        total += n;
        one_file_rss = one_file_rss.max(rss.unwrap_or(0));
        let stream = text(&out.stdout)
            .lines()
            .find(|l| l.starts_with("http: "))
            .and_then(|l| {
                l.split_whitespace()
                    .find(|w| w.starts_with("messages_inspected="))
            })
            .unwrap_or("")
            .to_string();
        table.push((name, n, stream));
    }
    eprintln!("{:<60} {:>7}  http", "pcap", "alerts");
    for (name, n, stream) in &table {
        eprintln!("{name:<60} {n:>7}  {stream}");
    }
    eprintln!("{:<60} {total:>7}", "total");
    assert!(total > 0, "no alert over {} pcaps", files.len());

    // The whole set in one process: the state it keeps is bounded (flow table, reassembler and
    // HTTP memcaps, event queue), so its peak stays near the largest one-file replay — the
    // rule set and the caps set it, not the number of files. 200 MB is the rule set (about
    // 30 MB here) plus the stream5 memcap (8 MB), the HTTP memcap (64 MB) and the flow table,
    // with room for the allocator.
    let log = tmp.path().join("all");
    let (out, rss) = replay(&cfg, &log, &files);
    check_ok("all pcaps", &out);
    let all = alert_count(&log);
    validate_eve(&log.join("eve.json"));
    eprintln!(
        "all in one process: {all} alerts, peak RSS {} KB (largest one-file replay {one_file_rss} KB)",
        rss.unwrap_or(0)
    );
    assert!(all > 0);
    if let Some(rss) = rss {
        assert!(rss < 200 * 1024, "peak RSS {rss} KB");
        assert!(
            rss < one_file_rss + 64 * 1024,
            "peak RSS {rss} KB, one file at most {one_file_rss} KB"
        );
    }
}
