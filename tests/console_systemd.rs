//! The console's systemd unit: `systemd-analyze verify` passes, `systemd-analyze security`
//! rates it well hardened (it needs no capability and writes nothing), its sandbox keeps the
//! sensor's directories read-only, and `make install` (staged with DESTDIR) installs it.

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_nsm-sensor");
const UNIT: &str = "nsm-sensor-console.service";

fn unit_copy(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(Path::new(ROOT).join("systemd").join(UNIT)).unwrap();
    let p = dir.join(UNIT);
    std::fs::write(&p, text.replace("/usr/local/bin/nsm-sensor", BIN)).unwrap();
    p
}

#[test]
fn console_unit_verifies_and_is_read_only() {
    let d = tempfile::tempdir().unwrap();
    let unit = unit_copy(d.path());
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze (Debian's systemd, in the Makefile's PKGS)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains(".service:"),
        "verify: {err}"
    );
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure figure: {text}"));
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{text}");
    let body = std::fs::read_to_string(&unit).unwrap();
    for line in [
        "ProtectSystem=strict",
        "ReadOnlyPaths=/var/log/nsm-sensor /var/lib/nsm-sensor",
        "CapabilityBoundingSet=\n",
        "PrivateTmp=yes",
        "RestartPreventExitStatus=78",
    ] {
        assert!(body.contains(line), "the unit lacks {line:?}");
    }
    assert!(
        !body.contains("ReadWritePaths"),
        "the console writes nothing of the sensor's"
    );
}

#[test]
fn make_install_stages_the_console_unit() {
    let stage = tempfile::tempdir().unwrap();
    let out = Command::new("make")
        .args(["-s", "-f", "systemd/install.mk", "install"])
        .arg(format!("DESTDIR={}", stage.path().display()))
        .arg(format!("BIN={BIN}"))
        .current_dir(ROOT)
        .output()
        .expect("make");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = stage.path().join("etc/systemd/system").join(UNIT);
    assert!(unit.is_file());
    // The installed configuration is one the console accepts (loopback, no TLS needed).
    let cfg = stage.path().join("etc/nsm-sensor/sensor.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let parsed = nsm_sensor::config::Config::from_str(&text, &cfg).unwrap();
    assert_eq!(parsed.console.listen, "127.0.0.1:8470");
    let out = Command::new("make")
        .args(["-s", "-f", "systemd/install.mk", "uninstall"])
        .arg(format!("DESTDIR={}", stage.path().display()))
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!unit.exists());
}
