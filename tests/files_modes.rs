//! File and directory modes, whatever the umask: log and ring directories the sensor creates
//! are 0750, alert files and ring files (and their index sidecars) are created 0640. Alerts
//! and packets are sensitive; group read is for the analysts' group. A log file that already
//! exists keeps the mode its owner gave it.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{expect_code, repo, text};

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// `nsm-sensor replay` of the seed capture under `umask`, logs and ring in fresh nested dirs.
fn replay_under_umask(umask: &str, root: &Path) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_nsm-sensor"))
        .arg("replay")
        .arg("-r")
        .arg(repo().join("demo/bleeding-botcc.rules"))
        .args(["--home-net", "192.168.0.0/16", "-l"])
        .arg(root.join("var/log"))
        .arg("--ring-dir")
        .arg(root.join("var/ring"))
        .arg(repo().join("demo/botcc-2007-02-21.pcap"))
        .env("TZ", "UTC")
        .output()
        .unwrap();
    expect_code(&out, 0);
    assert!(text(&out.stdout).contains("alert"), "{}", text(&out.stdout));
}

fn check_modes(root: &Path, umask: &str) {
    let log = root.join("var/log");
    let ring = root.join("var/ring");
    assert_eq!(mode(&log), 0o750, "umask {umask}: log dir");
    assert_eq!(mode(&ring), 0o750, "umask {umask}: ring dir");
    for f in ["alert", "alert.fast", "eve.json"] {
        assert_eq!(mode(&log.join(f)), 0o640, "umask {umask}: {f}");
    }
    let mut pcaps = 0;
    for e in fs::read_dir(&ring).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(mode(&p), 0o640, "umask {umask}: ring file {name}");
        pcaps += usize::from(name.ends_with(".pcap"));
    }
    assert!(pcaps >= 1, "umask {umask}: no ring file");
}

#[test]
fn modes_under_a_strict_umask() {
    let tmp = tempfile::tempdir().unwrap();
    replay_under_umask("077", tmp.path());
    check_modes(tmp.path(), "077");
}

#[test]
fn modes_under_an_open_umask() {
    let tmp = tempfile::tempdir().unwrap();
    replay_under_umask("000", tmp.path());
    check_modes(tmp.path(), "000");
}

#[test]
fn existing_log_file_keeps_its_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("var/log");
    fs::create_dir_all(&log).unwrap();
    fs::write(log.join("alert.fast"), "").unwrap();
    fs::set_permissions(log.join("alert.fast"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(log.join("eve.json"), "{}\n").unwrap();
    fs::set_permissions(log.join("eve.json"), fs::Permissions::from_mode(0o644)).unwrap();
    replay_under_umask("022", tmp.path());
    // An empty file counts as new (0640); one with content is the owner's choice.
    assert_eq!(mode(&log.join("alert.fast")), 0o640);
    assert_eq!(mode(&log.join("eve.json")), 0o644);
}
