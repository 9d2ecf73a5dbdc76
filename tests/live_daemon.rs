//! `daemon::run` with an injected rule loader, inside a test namespace: start-up, SIGUSR1
//! stats, SIGHUP reloads (good, broken, coalesced), SIGTERM within 2 s with exit 0, the
//! privilege drop to `nobody`, and the start-up errors with their exit codes. Needs root.
//!
//! The daemon runs in a child: this test binary re-run inside namespace A with `NSMT_DAEMON`
//! set. A BPF filter that matches nothing keeps packets away from the pipeline, so these
//! tests exercise the process machinery only (the end-to-end tests are in `live_sensor.rs`).
//! The loader reads the file named by `NSMT_RULES`: text containing `broken` is a load error
//! with one diagnostic per line; anything else loads an empty set whose summary is the text.

mod live_netns;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use live_netns::{eventually, last_stat, read, NetPair, Proc, Workdir, SENSOR_IF};
use nsm_sensor::capture::live::LiveOptions;
use nsm_sensor::daemon::{self, DaemonErrorKind, DaemonOptions, LoadedRules, RuleLoader};
use nsm_sensor::decode::DecodeOptions;
use nsm_sensor::detect::DetectOptions;
use nsm_sensor::detect::RuleSet;
use nsm_sensor::pipeline::PipelineOptions;

/// An experimental ethertype nothing on the test link uses.
const NOTHING: &str = "ether proto 0x88b5";

fn options(iface: &str, bpf: &str, log_dir: &Path, user: &str) -> DaemonOptions {
    DaemonOptions {
        capture: LiveOptions {
            interface: iface.into(),
            bpf: bpf.into(),
            snaplen: 65535,
            promisc: true,
            buffer_mb: 4,
            timeout_ms: 200,
        },
        pipeline: PipelineOptions {
            decode: DecodeOptions { checksums: true },
            outputs: None,
            ring: None,
            detect: DetectOptions::from_config(&Default::default()),
            evidence: None,
        },
        log_dir: log_dir.to_path_buf(),
        stats_log: true,
        stats_interval: Some(Duration::from_secs(1)),
        flush_interval: Duration::from_millis(100),
        user: user.into(),
        group: String::new(),
        watchdog: false,
        pidfile: None,
    }
}

fn file_loader(path: std::path::PathBuf) -> RuleLoader {
    Box::new(move || {
        let text =
            std::fs::read_to_string(&path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
        if text.contains("broken") {
            // A slow failing load, so that HUPs sent meanwhile must coalesce.
            std::thread::sleep(Duration::from_millis(300));
            return Err(text
                .lines()
                .map(|l| format!("{}:1:1: {l}", path.display()))
                .collect());
        }
        Ok(LoadedRules {
            ruleset: RuleSet::default(),
            warnings: vec![],
            summary: format!("text {}", text.trim()),
            options: None,
        })
    })
}

/// Child side: run the daemon with options from the environment; exit with its exit code.
fn daemon_child() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let opts = options(
        SENSOR_IF,
        NOTHING,
        Path::new(&var("NSMT_LOGDIR")),
        &var("NSMT_USER"),
    );
    let code = match daemon::run(opts, file_loader(var("NSMT_RULES").into())) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("DAEMON ERROR {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}

fn spawn_daemon(net: &NetPair, test: &str, wd: &Workdir, user: &str) -> Proc {
    let mut cmd = net.in_a(std::env::current_exe().unwrap().to_str().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("NSMT_DAEMON", "1")
        .env("NSMT_LOGDIR", wd.path("log"))
        .env("NSMT_RULES", wd.path("test.rules"))
        .env("NSMT_USER", user)
        .stdin(Stdio::null());
    Proc::spawn(cmd)
}

#[test]
fn signals_reload_stats_and_stop() {
    const NAME: &str = "signals_reload_stats_and_stop";
    if std::env::var_os("NSMT_DAEMON").is_some() {
        return daemon_child();
    }
    if live_netns::skip(NAME, &[]) {
        return;
    }
    let net = NetPair::new("sig");
    let wd = Workdir::new();
    wd.write("test.rules", "one");
    let mut d = spawn_daemon(&net, NAME, &wd, "");
    assert!(
        d.wait_for("sensor running", Duration::from_secs(10)),
        "daemon did not start"
    );
    assert!(d.count("rules loaded") == 1 && d.count("text one") == 1);
    let stats = wd.path("log/stats.log");

    // SIGUSR1: a stats line now.
    d.signal("USR1");
    assert!(
        eventually(Duration::from_secs(2), || read(&stats)
            .contains("event=signal")),
        "no SIGUSR1 line"
    );
    assert_eq!(last_stat(&stats, "kernel_drops"), Some(0));

    // SIGHUP with a new file: reloaded, with the time and the counts.
    wd.write("test.rules", "two");
    d.signal("HUP");
    assert!(d.wait_for("text two", Duration::from_secs(5)), "no reload");
    assert!(d
        .seen
        .iter()
        .any(|l| l.contains("rules reloaded in") && l.contains(" ms: 0 rules, was 0")));

    // Broken file, many HUPs at once: every diagnostic logged, old set kept, HUPs coalesced
    // (one reload running, at most one more queued), the process lives.
    wd.write(
        "test.rules",
        "broken: expected ';' after option\nbroken: unknown keyword",
    );
    for _ in 0..5 {
        d.signal("HUP");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        d.wait_for("keeping the 0 rules loaded", Duration::from_secs(5)),
        "no failure report"
    );
    std::thread::sleep(Duration::from_millis(1200));
    let failures = d.count("keeping the 0 rules loaded");
    assert!(
        (1..=2).contains(&failures),
        "{failures} reloads ran for 5 coalesced HUPs"
    );
    assert!(d.count("expected ';' after option") >= 1 && d.count("unknown keyword") >= 1);
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "daemon died on a broken reload"
    );

    // Periodic stats every second.
    assert!(eventually(Duration::from_secs(3), || read(&stats)
        .contains("event=periodic")));

    // SIGTERM: exit 0 within 2 s, a final stats line.
    let t0 = Instant::now();
    d.signal("TERM");
    let st = d
        .wait_exit(Duration::from_secs(2))
        .expect("still running 2 s after SIGTERM");
    println!("stopped {} ms after SIGTERM", t0.elapsed().as_millis());
    assert_eq!(st.code(), Some(0), "exit status {st}");
    assert!(read(&stats)
        .lines()
        .last()
        .unwrap_or("")
        .contains("event=exit"));
}

#[test]
fn drops_privileges_to_nobody() {
    const NAME: &str = "drops_privileges_to_nobody";
    if std::env::var_os("NSMT_DAEMON").is_some() {
        return daemon_child();
    }
    if live_netns::skip(NAME, &[]) {
        return;
    }
    let net = NetPair::new("priv");
    let wd = Workdir::new();
    wd.write("test.rules", "one");
    let mut d = spawn_daemon(&net, NAME, &wd, "nobody");
    assert!(
        d.wait_for("sensor running", Duration::from_secs(10)),
        "daemon did not start"
    );
    assert!(d.count("dropped privileges: running as nobody") == 1);
    let status = read(Path::new(&format!("/proc/{}/status", d.child.id())));
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .unwrap_or("")
            .to_string()
    };
    let uid = std::process::Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .unwrap();
    let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
    assert_eq!(
        field("Uid:").split_whitespace().skip(1).collect::<Vec<_>>(),
        [uid.as_str(); 4],
        "{status}"
    );
    assert!(field("CapEff:").ends_with("0000000000000000"), "{status}");
    // The log directory was handed over: stats.log is reopened on HUP as nobody.
    d.signal("HUP");
    assert!(d.wait_for("rules reloaded", Duration::from_secs(5)));
    d.signal("USR1");
    let stats = wd.path("log/stats.log");
    assert!(eventually(Duration::from_secs(2), || read(&stats)
        .contains("event=signal")));
    assert_eq!(
        d.count("ERROR"),
        0,
        "an error after the drop (a file not reopened?)"
    );
    d.signal("TERM");
    assert_eq!(
        d.wait_exit(Duration::from_secs(2)).and_then(|s| s.code()),
        Some(0)
    );
}

#[test]
fn start_up_errors_have_their_exit_codes() {
    if live_netns::skip("start_up_errors_have_their_exit_codes", &[]) {
        return;
    }
    let wd = Workdir::new();
    wd.write("test.rules", "one");
    let loader = || file_loader(wd.path("test.rules"));
    let log = wd.path("log");

    let e = daemon::run(options("lo", "tcp port ((", &log, ""), loader()).unwrap_err();
    assert_eq!(
        (e.kind, e.exit_code()),
        (DaemonErrorKind::BadFilter, 78),
        "{e}"
    );
    assert!(e.message.contains("tcp port (("), "{e}");

    let e = daemon::run(options("nsmt-nope0", "", &log, ""), loader()).unwrap_err();
    assert_eq!(
        (e.kind, e.exit_code()),
        (DaemonErrorKind::NoSuchDevice, 1),
        "{e}"
    );
    assert!(e.message.contains("nsmt-nope0"), "{e}");

    wd.write("test.rules", "broken");
    let e = daemon::run(options("lo", "", &log, ""), loader()).unwrap_err();
    assert_eq!((e.kind, e.exit_code()), (DaemonErrorKind::Rules, 78), "{e}");

    wd.write("test.rules", "one");
    let e = daemon::run(options("lo", NOTHING, &log, "nsmt-no-such-user"), loader()).unwrap_err();
    assert_eq!(
        (e.kind, e.exit_code()),
        (DaemonErrorKind::Config, 78),
        "{e}"
    );
}

/// As under the systemd unit: started as a non-root user with ambient CAP_NET_RAW and
/// CAP_NET_ADMIN, the sensor opens the capture and then holds no capability at all.
#[test]
fn drops_ambient_capabilities_once_the_capture_is_open() {
    const NAME: &str = "drops_ambient_capabilities_once_the_capture_is_open";
    if std::env::var_os("NSMT_DAEMON").is_some() {
        return daemon_child();
    }
    if live_netns::skip(NAME, &["setpriv"]) {
        return;
    }
    let net = NetPair::new("caps");
    let wd = Workdir::new();
    wd.write("test.rules", "one");
    // The unit's directories belong to the service user; so does this LOGDIR.
    std::fs::create_dir(wd.path("log")).unwrap();
    std::os::unix::fs::chown(wd.path("log"), Some(65534), Some(65534)).unwrap();
    let mut cmd = NetPair::cmd(&net.a, "setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args([
            "--inh-caps=+net_raw,+net_admin",
            "--ambient-caps=+net_raw,+net_admin",
            "--",
        ])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env("NSMT_DAEMON", "1")
        .env("NSMT_LOGDIR", wd.path("log"))
        .env("NSMT_RULES", wd.path("test.rules"))
        .stdin(Stdio::null());
    let mut d = Proc::spawn(cmd);
    assert!(
        d.wait_for("sensor running", Duration::from_secs(10)),
        "daemon did not start"
    );
    assert_eq!(d.count("dropped all capabilities"), 1);
    // Capabilities are per thread; the capture thread started after the drop (the thread
    // that called `run` here is a test-harness thread, not the process's main thread).
    let tasks = std::fs::read_dir(format!("/proc/{}/task", d.child.id())).unwrap();
    let capture = tasks
        .filter_map(|t| t.ok())
        .find(|t| read(&t.path().join("comm")).trim() == "capture")
        .expect("no capture thread");
    let status = read(&capture.path().join("status"));
    for key in ["CapEff:", "CapPrm:", "CapAmb:"] {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap_or("");
        assert!(line.ends_with("0000000000000000"), "{line}\n{status}");
    }
    // Still working without them: stats and a reload.
    d.signal("HUP");
    assert!(d.wait_for("rules reloaded", Duration::from_secs(5)));
    d.signal("TERM");
    assert_eq!(
        d.wait_exit(Duration::from_secs(2)).and_then(|s| s.code()),
        Some(0)
    );
    assert!(read(&wd.path("log/stats.log")).contains("event=exit"));
}
