//! The 2007 bot C&C story, end to end through the binary: replay the seed capture with the
//! seed rules and compare the alerts with the write-up byte for byte.

mod common;

use common::*;
use std::fs;

const FAST: &str = "02/21-10:17:54.366236  [**] [1:2404000:602] BLEEDING-EDGE DROP Known Bot C&C Server Traffic (group 1) [**] [Classification: A Network Trojan was detected] [Priority: 1] {TCP} 192.168.0.31:2253 -> 161.53.178.240:6667\n";

const FULL: &str =
    "[**] [1:2404000:602] BLEEDING-EDGE DROP Known Bot C&C Server Traffic (group 1) [**]
[Classification: A Network Trojan was detected] [Priority: 1] 
02/21-10:17:54.366236 192.168.0.31:2253 -> 161.53.178.240:6667
TCP TTL:128 TOS:0x0 ID:13198 IpLen:20 DgmLen:48 DF
******S* Seq: 0xCA53141F  Ack: 0x0  Win: 0xFC00  TcpLen: 28
TCP Options (4) => MSS: 1460 NOP NOP SackOK 
[Xref => http://www.shadowserver.org]

";

fn replay(
    rules: &[std::path::PathBuf],
    extra: &[&str],
) -> (tempfile::TempDir, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = bin();
    cmd.arg("replay");
    for r in rules {
        cmd.arg("-r").arg(r);
    }
    cmd.args(["--home-net", "192.168.0.0/16", "-l"])
        .arg(dir.path().join("log"))
        .args(extra)
        .arg(shared().join("seed/botcc-2007-02-21.pcap"));
    let out = run(&mut cmd);
    (dir, out)
}

#[test]
fn seed_replay_reproduces_the_write_up() {
    let (dir, out) = replay(
        &[shared().join("seed/bleeding-botcc.rules")],
        &["--no-ring"],
    );
    expect_code(&out, 0);
    let log = dir.path().join("log");
    assert_eq!(fs::read_to_string(log.join("alert.fast")).unwrap(), FAST);
    assert_eq!(fs::read_to_string(log.join("alert")).unwrap(), FULL);
    assert_eq!(validate_eve(&log.join("eve.json")), 1);
    let eve: serde_json::Value =
        serde_json::from_str(fs::read_to_string(log.join("eve.json")).unwrap().trim()).unwrap();
    assert_eq!(eve["alert"]["signature_id"], 2404000);
    assert_eq!(eve["src_ip"], "192.168.0.31");
    assert_eq!(eve["dest_port"], 6667);
    assert_eq!(eve["timestamp"], "2007-02-21T10:17:54.366236+0000");
    // The summary line names the counts.
    let stdout = text(&out.stdout);
    assert!(stdout.contains("13 packets"), "summary: {stdout}");
    assert!(stdout.contains("1 alert"), "summary: {stdout}");
}

#[test]
fn seed_with_block_rule_alerts_once_per_sid() {
    let (dir, out) = replay(
        &[
            shared().join("seed/bleeding-botcc.rules"),
            shared().join("seed/bleeding-botcc-block.rules"),
        ],
        &["--no-ring"],
    );
    expect_code(&out, 0);
    let fast = fs::read_to_string(dir.path().join("log/alert.fast")).unwrap();
    let lines: Vec<&str> = fast.lines().collect();
    assert_eq!(lines.len(), 2, "{fast}");
    assert!(lines.iter().any(|l| l.contains("[1:2404000:602]")));
    assert!(lines.iter().any(|l| l.contains("[1:2405000:602]")));
}

#[test]
fn seed_without_threshold_alerts_on_every_syn() {
    let text = fs::read_to_string(shared().join("seed/bleeding-botcc.rules")).unwrap();
    let unthresholded = text.replace(
        "threshold: type limit, track by_src, seconds 3600, count 1; ",
        "",
    );
    assert_ne!(text, unthresholded, "the seed rule carries the threshold");
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("nothreshold.rules");
    fs::write(&rules, unthresholded).unwrap();
    let (dir, out) = replay(&[rules], &["--no-ring"]);
    expect_code(&out, 0);
    let fast = fs::read_to_string(dir.path().join("log/alert.fast")).unwrap();
    assert_eq!(fast.lines().count(), 3, "{fast}");
    assert_eq!(validate_eve(&dir.path().join("log/eve.json")), 3);
}

#[test]
fn seed_into_ring_points_eve_at_the_ring_file() {
    let (dir, out) = replay(&[shared().join("seed/bleeding-botcc.rules")], &[]);
    // No --ring-dir and no config: the ring goes beside the logs.
    expect_code(&out, 0);
    let _ = dir;
    let tmp = tempfile::tempdir().unwrap();
    let ring = tmp.path().join("ring");
    let log = tmp.path().join("log");
    let out = run(bin()
        .args(["replay", "--home-net", "192.168.0.0/16", "-r"])
        .arg(shared().join("seed/bleeding-botcc.rules"))
        .arg("-l")
        .arg(&log)
        .arg("--ring-dir")
        .arg(&ring)
        .arg(shared().join("seed/botcc-2007-02-21.pcap")));
    expect_code(&out, 0);
    let names: Vec<String> = fs::read_dir(&ring)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("nsm_00001_20070221"), "{names:?}");
    assert_eq!(validate_eve(&log.join("eve.json")), 1);
    let eve: serde_json::Value =
        serde_json::from_str(fs::read_to_string(log.join("eve.json")).unwrap().trim()).unwrap();
    assert_eq!(eve["capture_file"], names[0].as_str());
}

#[test]
fn seed_story_end_to_end_investigate() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, ring) = (tmp.path().join("log"), tmp.path().join("ring"));
    let out = run(bin()
        .args(["replay", "--home-net", "192.168.0.0/16", "-r"])
        .arg(shared().join("seed/bleeding-botcc.rules"))
        .arg("-l")
        .arg(&log)
        .arg("--ring-dir")
        .arg(&ring)
        .arg(shared().join("seed/botcc-2007-02-21.pcap")));
    expect_code(&out, 0);
    // Text: the alert, the ring file with its summary, the packets, the verdict.
    let out = run(bin()
        .args(["investigate", "-l"])
        .arg(&log)
        .arg("--ring-dir")
        .arg(&ring));
    expect_code(&out, 0);
    let t = text(&out.stdout);
    assert!(t.contains("[1:2404000:602]"), "{t}");
    assert!(t.contains("nsm_00001_20070221"), "{t}");
    assert!(
        t.contains("192.168.0.31 sent 3 SYNs to 161.53.178.240:6667"),
        "{t}"
    );
    assert!(t.contains("no reply"), "{t}");
    assert!(t.contains("0 payload bytes either way"), "{t}");
    // JSON: counts each way, no handshake, the evidence pcap with exactly the three SYNs.
    let evidence = tmp.path().join("evidence.pcap");
    let out = run(bin()
        .args(["investigate", "--json", "-l"])
        .arg(&log)
        .arg("--ring-dir")
        .arg(&ring)
        .arg("-w")
        .arg(&evidence)
        .arg("sid:2404000"));
    expect_code(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hosts"]["a"], "192.168.0.31");
    assert_eq!(v["hosts"]["b"], "161.53.178.240");
    assert_eq!(v["a_to_b"]["packets"], 3);
    assert_eq!(v["a_to_b"]["syn"], 3);
    assert_eq!(v["a_to_b"]["payload_bytes"], 0);
    assert_eq!(v["b_to_a"]["packets"], 0);
    assert_eq!(v["handshake_completed"], false);
    assert_eq!(v["evidence"], evidence.to_str().unwrap());
    assert_eq!(v["alert"]["alert"]["signature_id"], 2404000);
    let info = run(bin().args(["info", "--json"]).arg(&evidence));
    expect_code(&info, 0);
    let i: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(i["packets"], 3);
    if have("tcpdump") {
        let o = std::process::Command::new("tcpdump")
            .args(["-nn", "-r"])
            .arg(&evidence)
            .output()
            .unwrap();
        let lines = text(&o.stdout);
        assert_eq!(lines.lines().count(), 3, "{lines}");
        assert!(
            lines
                .lines()
                .all(|l| l.contains("192.168.0.31.2253 > 161.53.178.240.6667: Flags [S]")),
            "{lines}"
        );
    }
}
