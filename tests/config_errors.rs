//! Configuration mistakes that used to pass with a warning or the wrong exit code: each is bad
//! configuration (exit 78) naming what is wrong, in `check`, `replay` and `run` alike.
//!
//! - a `[rules] threshold` file that is missing (a typo silently disabled every suppress) or
//!   is a directory;
//! - `include` of a directory in a rule file (Snort errors too), with file:line;
//! - a BPF filter that does not compile in `replay` (it was exit 1 there, 78 in `run`), with
//!   the expression and libpcap's message.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{bin, expect_code, text};

const RULES: &str = "alert ip any any -> 203.0.113.7 any (msg:\"listed\"; sid:9100001; rev:1;)\n";

/// A scratch dir with a rule file and a config naming `threshold`.
fn setup(threshold: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let rules = d.path().join("t.rules");
    fs::write(&rules, RULES).unwrap();
    let config = d.path().join("sensor.toml");
    fs::write(
        &config,
        format!("[rules]\nthreshold = \"{threshold}\"\n[ring]\nenabled = false\n"),
    )
    .unwrap();
    (d, rules, config)
}

fn seed_pcap() -> PathBuf {
    common::shared().join("seed/botcc-2007-02-21.pcap")
}

fn check(config: &Path, rules: &Path) -> Output {
    bin()
        .args(["check", "-c"])
        .arg(config)
        .arg("-r")
        .arg(rules)
        .output()
        .unwrap()
}

fn replay(config: &Path, rules: &Path, log: &Path, extra: &[&str]) -> Output {
    bin()
        .args(["replay", "-c"])
        .arg(config)
        .arg("-r")
        .arg(rules)
        .arg("-l")
        .arg(log)
        .args(["--no-ring"])
        .args(extra)
        .arg(seed_pcap())
        .output()
        .unwrap()
}

/// `run` fails on the rules before it opens any interface, so this needs no root.
fn run(config: &Path, rules: &Path, log: &Path) -> Output {
    bin()
        .args(["run", "-i", "lo", "-c"])
        .arg(config)
        .arg("-r")
        .arg(rules)
        .arg("-l")
        .arg(log)
        .arg("--ring-dir")
        .arg(log.join("ring"))
        .output()
        .unwrap()
}

fn all_output(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

#[test]
fn missing_threshold_file_is_a_config_error_everywhere() {
    let (d, rules, config) = setup("threshhold.conf");
    let named = d.path().join("threshhold.conf").display().to_string();
    let log = d.path().join("log");
    for (what, out) in [
        ("check", check(&config, &rules)),
        ("replay", replay(&config, &rules, &log, &[])),
        ("run", run(&config, &rules, &log)),
    ] {
        expect_code(&out, 78);
        let all = all_output(&out);
        assert!(
            all.contains(&format!("{named}:1:1: cannot read threshold file")),
            "{what} does not name the file:\n{all}"
        );
    }
}

#[test]
fn threshold_path_that_is_a_directory_is_a_config_error() {
    let (d, rules, config) = setup("thresholds");
    fs::create_dir(d.path().join("thresholds")).unwrap();
    let named = d.path().join("thresholds").display().to_string();
    for (what, out) in [
        ("check", check(&config, &rules)),
        (
            "replay",
            replay(&config, &rules, &d.path().join("log"), &[]),
        ),
    ] {
        expect_code(&out, 78);
        let all = all_output(&out);
        assert!(
            all.contains(&named) && all.contains("directory"),
            "{what}:\n{all}"
        );
    }
}

#[test]
fn existing_threshold_file_still_loads() {
    let (d, rules, config) = setup("threshold.conf");
    fs::write(
        d.path().join("threshold.conf"),
        "suppress gen_id 1, sig_id 9100001\n",
    )
    .unwrap();
    expect_code(&check(&config, &rules), 0);
}

#[test]
fn include_of_a_directory_is_an_error_with_file_and_line() {
    let (d, _, config) = setup("");
    fs::create_dir(d.path().join("more")).unwrap();
    fs::write(d.path().join("more/a.rules"), RULES).unwrap();
    let main = d.path().join("main.rules");
    fs::write(&main, format!("# local rules\ninclude more\n{RULES}")).unwrap();
    let out = check(&config, &main);
    expect_code(&out, 78);
    let all = all_output(&out);
    assert!(
        all.contains(&format!("{}:2:", main.display())) && all.contains("is a directory"),
        "{all}"
    );
}

#[test]
fn replay_bad_bpf_is_a_config_error_naming_the_expression() {
    let (d, rules, config) = setup("");
    let out = replay(
        &config,
        &rules,
        &d.path().join("log"),
        &["-f", "bad bpf ((("],
    );
    expect_code(&out, 78);
    let all = all_output(&out);
    assert!(
        all.contains("\"bad bpf (((\"") && all.contains("does not compile: "),
        "{all}"
    );
    // A good filter still replays.
    let out = replay(&config, &rules, &d.path().join("log2"), &["-f", "tcp"]);
    expect_code(&out, 0);
}
