//! The systemd units and `make install`: `systemd-analyze verify` passes on the sensor unit and
//! on the update service and timer (pointed at the built binary), `systemd-analyze security
//! --offline` rates both services 3.0 or better, the install fragment stages a config that
//! parses and names the service's absolute paths and pidfile, and `make uninstall` removes
//! the units. Skips when `systemd-analyze` or `make` is missing.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_nsm-sensor");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// The shipped unit with ExecStart pointing at the test build, in a temp dir.
fn unit_copy(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(Path::new(ROOT).join("systemd/nsm-sensor.service")).unwrap();
    assert!(text.contains("ExecStart=/usr/local/bin/nsm-sensor run -c /etc/nsm-sensor/sensor.toml"));
    // The pidfile lives in the unit's runtime directory.
    assert!(text.contains("\nRuntimeDirectory=nsm-sensor\n"));
    let p = dir.join("nsm-sensor.service");
    std::fs::write(&p, text.replace("/usr/local/bin/nsm-sensor", BIN)).unwrap();
    p
}

/// A shipped unit file copied into `dir`, the binary's path replaced by the test build's.
fn copy_named(dir: &Path, name: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(Path::new(ROOT).join("systemd").join(name)).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text.replace("/usr/local/bin/nsm-sensor", BIN)).unwrap();
    p
}

/// `systemd-analyze verify` on `units`: success and no complaint naming one of them.
fn verify(units: &[&Path]) {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(units)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains(".service:") && !err.contains(".timer:"),
        "verify: {err}"
    );
}

/// The overall exposure `systemd-analyze security --offline` gives `unit`.
fn exposure(unit: &Path) -> f64 {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or("");
    line.split(':')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure figure: {text}"))
}

#[test]
fn update_units_verify_and_are_hardened() {
    if !have("systemd-analyze") {
        println!("SKIPPED update_units_verify_and_are_hardened: systemd-analyze is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let service = copy_named(dir.path(), "nsm-sensor-update.service");
    let timer = copy_named(dir.path(), "nsm-sensor-update.timer");
    let text = std::fs::read_to_string(&service).unwrap();
    for want in [
        "Type=oneshot",
        &format!("ExecStart={BIN} update -c /etc/nsm-sensor/sensor.toml"),
        "User=nsm-sensor",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/nsm-sensor/rules\n",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(
            text.contains(want),
            "{want:?} missing from the update service"
        );
    }
    let timer_text = std::fs::read_to_string(&timer).unwrap();
    for want in [
        "OnCalendar=daily",
        "RandomizedDelaySec=1h",
        "Persistent=true",
        "WantedBy=timers.target",
    ] {
        assert!(timer_text.contains(want), "{want:?} missing from the timer");
    }
    verify(&[&service, &timer]);
    let score = exposure(&service);
    println!("systemd-analyze security nsm-sensor-update.service: exposure {score}");
    assert!(score <= 3.0, "exposure {score} > 3.0");
}

#[test]
fn unit_verifies_and_is_hardened() {
    if !have("systemd-analyze") {
        println!("SKIPPED unit_verifies_and_is_hardened: systemd-analyze is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path());
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("nsm-sensor.service:"),
        "verify: {err}"
    );

    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or("");
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure figure: {text}"));
    println!("systemd-analyze security: exposure {score}");
    assert!(score <= 3.0, "exposure {score} > 3.0:\n{text}");
}

#[test]
fn install_stages_a_service_config() {
    if !have("make") {
        println!("SKIPPED install_stages_a_service_config: make is not installed");
        return;
    }
    let stage = tempfile::tempdir().unwrap();
    let out = Command::new("make")
        .args(["-s", "-f", "systemd/install.mk", "install"])
        .arg(format!("DESTDIR={}", stage.path().display()))
        .arg(format!("BIN={BIN}"))
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "make install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = stage.path();
    for f in [
        "usr/local/bin/nsm-sensor",
        "etc/systemd/system/nsm-sensor.service",
        "etc/systemd/system/nsm-sensor-update.service",
        "etc/systemd/system/nsm-sensor-update.timer",
        "etc/logrotate.d/nsm-sensor",
        "etc/nsm-sensor/rules/local.rules",
        "var/log/nsm-sensor",
        "var/lib/nsm-sensor/ring",
        "var/lib/nsm-sensor/rules",
    ] {
        assert!(root.join(f).exists(), "{f} not installed");
    }
    let text = std::fs::read_to_string(root.join("etc/nsm-sensor/sensor.toml")).unwrap();
    let cfg: nsm_sensor::config::Config =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(cfg.output.dir, Path::new("/var/log/nsm-sensor"));
    assert_eq!(cfg.ring.dir, Path::new("/var/lib/nsm-sensor/ring"));
    assert_eq!(cfg.daemon.user, "nsm-sensor");
    assert_eq!(
        cfg.daemon.pidfile,
        Path::new("/run/nsm-sensor/nsm-sensor.pid")
    );
    assert!(!cfg.rules.files.is_empty());
    for f in &cfg.rules.files {
        assert!(
            f.starts_with("/etc/nsm-sensor/rules"),
            "rule path {} is not absolute",
            f.display()
        );
        let staged = root.join(f.strip_prefix("/").unwrap());
        assert!(staged.exists(), "{} is not installed", f.display());
    }

    let out = Command::new("make")
        .args(["-s", "-f", "systemd/install.mk", "uninstall"])
        .arg(format!("DESTDIR={}", stage.path().display()))
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "make uninstall: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "usr/local/bin/nsm-sensor",
        "etc/systemd/system/nsm-sensor.service",
        "etc/systemd/system/nsm-sensor-update.service",
        "etc/systemd/system/nsm-sensor-update.timer",
    ] {
        assert!(!root.join(f).exists(), "{f} left by make uninstall");
    }
}
