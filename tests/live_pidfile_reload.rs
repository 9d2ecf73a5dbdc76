//! The pidfile and the reload status of `nsm-sensor run`, driven from another process through
//! `nsm_sensor::daemon::control::reload`: the pidfile names the daemon; a reload with a new
//! rule file answers ok with the new count and the new rule alerts; a broken rule file
//! answers not ok with the diagnostic while the daemon keeps its rules; a reload already
//! running when the signal arrives is not taken for the answer; a second daemon with the same
//! pidfile is refused; SIGTERM removes the pidfile. Live, in two network namespaces; needs
//! root, `ip` and `python3`.

mod common;
mod live_netns;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use live_netns::{eventually, read, NetPair, Proc, Workdir, REMOTE_IP, SENSOR_IF};
use nsm_sensor::daemon::control::{self, ControlErrorKind};

const TIMEOUT: Duration = Duration::from_secs(60);

fn rule(sid: u32, port: u16) -> String {
    format!(
        "alert udp {REMOTE_IP} any -> $HOME_NET {port} (msg:\"NSMT pidfile {port}\"; sid:{sid}; rev:1;)\n"
    )
}

/// Replaces `name` in the work directory at once (a reload never sees half a file).
fn replace(wd: &Workdir, name: &str, text: &str) {
    let tmp = wd.path(&format!("{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, wd.path(name)).unwrap();
}

/// A configuration with `[daemon] pidfile` relative to the configuration's directory.
fn config(wd: &Workdir) {
    let text = format!(
        "[capture]\ninterface = \"{SENSOR_IF}\"\nbuffer_mb = 8\ntimeout_ms = 200\n\n\
         [rules]\nfiles = [\"a.rules\"]\n\n\
         [vars]\nHOME_NET = \"[198.51.100.0/24]\"\n\n\
         [detect]\nchecksum_mode = \"none\"\n\n\
         [output]\ntimestamps = \"utc\"\nflush_ms = 100\n\n\
         [ring]\nfiles = 4\nfile_size_mb = 4\n\n\
         [daemon]\nstats_interval_s = 60\nwatchdog = false\npidfile = \"run/nsm-sensor.pid\"\n"
    );
    replace(wd, "sensor.toml", &text);
}

fn sensor(net: &NetPair, wd: &Workdir) -> std::process::Command {
    let mut cmd = net.in_a(&common::exe());
    cmd.args(["run", "-c"])
        .arg(wd.path("sensor.toml"))
        .arg("-l")
        .arg(wd.path("log"))
        .arg("--ring-dir")
        .arg(wd.path("ring"))
        .env("TZ", "UTC")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null());
    cmd
}

fn fast(log: &Path, sid: u32) -> usize {
    read(&log.join("alert.fast"))
        .lines()
        .filter(|l| l.contains(&format!("[1:{sid}:")))
        .count()
}

#[test]
fn pidfile_reload_status_and_refusal() {
    const NAME: &str = "pidfile_reload_status_and_refusal";
    if live_netns::skip(NAME, &["python3"]) {
        return;
    }
    let net = NetPair::new("pid");
    let wd = Workdir::new();
    config(&wd);
    replace(&wd, "a.rules", &rule(9300001, 5555));
    let pidfile = wd.path("run/nsm-sensor.pid");
    let log = wd.path("log");

    // No daemon yet: the pidfile is missing.
    let e = control::reload(&pidfile, TIMEOUT).unwrap_err();
    assert_eq!(e.kind(), ControlErrorKind::NoPidfile, "{e}");

    let mut s = live_netns::start_sensor(sensor(&net, &wd));
    let pid = s.child.id();
    assert_eq!(control::read_pidfile(&pidfile).unwrap(), pid);
    let st = control::read_status(&pidfile).expect("start-up status");
    assert_eq!((st.pid, st.reloads, st.ok, st.rules), (pid, 0, true, 1));
    let first_generation = st.generation;

    // A new rule: the reply says so, the status too, and the rule alerts.
    replace(
        &wd,
        "a.rules",
        &format!("{}{}", rule(9300001, 5555), rule(9300002, 7777)),
    );
    let r = control::reload(&pidfile, TIMEOUT).expect("reload");
    assert!(r.ok, "{}", r.message);
    assert_eq!((r.rules, r.reloads, r.pid), (2, 1, pid), "{r:?}");
    assert!(r.generation > first_generation, "{r:?}");
    let st = control::read_status(&pidfile).unwrap();
    assert_eq!((st.reloads, st.ok, st.rules), (1, true, 2));
    net.udp_from_b(7777, 1);
    assert!(
        eventually(Duration::from_secs(5), || fast(&log, 9300002) == 1),
        "no alert for the new rule: {}",
        read(&log.join("alert.fast"))
    );

    // A broken rule file: not ok, the diagnostic in the message, the old rules kept.
    replace(
        &wd,
        "a.rules",
        "alert udp any any -> any 6666 (msg:\"broken\"; sid:notanumber;)\n",
    );
    let r = control::reload(&pidfile, TIMEOUT).expect("reload");
    assert!(!r.ok, "{r:?}");
    assert_eq!((r.rules, r.reloads), (2, 2), "{r:?}");
    assert!(
        r.message.contains("reload failed") && r.message.contains("a.rules:1:"),
        "{}",
        r.message
    );
    assert!(s.child.try_wait().unwrap().is_none(), "daemon died");
    net.udp_from_b(7777, 1);
    assert!(
        eventually(Duration::from_secs(5), || fast(&log, 9300002) == 2),
        "old rules not kept: {}",
        read(&log.join("alert.fast"))
    );

    // A reload already running when the signal arrives is not the answer: a slow one (a big
    // set) is started by a plain SIGHUP, the file is switched meanwhile, and the reply must be
    // that of the reload that read the switched file.
    let big: String = (0..100_000u32)
        .map(|i| {
            format!(
                "alert ip 10.{}.{}.{} any -> $HOME_NET any (msg:\"NSMT big\"; sid:{};)\n",
                i >> 16,
                (i >> 8) & 255,
                i & 255,
                9_400_000 + i
            )
        })
        .collect();
    replace(&wd, "a.rules", &big);
    let before = s.count("SIGHUP: reloading");
    s.signal("HUP");
    assert!(
        eventually(Duration::from_secs(5), || s.count("SIGHUP: reloading")
            > before),
        "no SIGHUP seen"
    );
    std::thread::sleep(Duration::from_millis(100));
    replace(&wd, "a.rules", &rule(9300003, 8888));
    let r = control::reload(&pidfile, TIMEOUT).expect("reload");
    assert!(r.ok, "{}", r.message);
    assert_eq!(
        r.rules, 1,
        "answered with the reload that was running: {r:?}"
    );
    assert_eq!(r.reloads, 4, "{r:?}");
    net.udp_from_b(8888, 1);
    assert!(
        eventually(Duration::from_secs(5), || fast(&log, 9300003) == 1),
        "no alert for the switched file"
    );

    // A second sensor with the same pidfile is refused, and leaves the pidfile alone.
    let mut second = Proc::spawn(sensor(&net, &wd));
    let st = second
        .wait_exit(Duration::from_secs(30))
        .expect("second exits");
    assert_eq!(st.code(), Some(1), "{:#?}", second.seen);
    assert!(
        second
            .seen
            .iter()
            .any(|l| l.contains(&format!("another nsm-sensor (pid {pid}) is running"))),
        "{:#?}",
        second.seen
    );
    assert_eq!(control::read_pidfile(&pidfile).unwrap(), pid);

    // SIGTERM: exit 0, pidfile and status gone.
    s.signal("TERM");
    let st = s.wait_exit(Duration::from_secs(10)).expect("exit");
    assert_eq!(st.code(), Some(0));
    assert!(!pidfile.exists(), "pidfile left behind");
    assert!(
        !control::status_path(&pidfile).exists(),
        "status left behind"
    );
    let e = control::reload(&pidfile, TIMEOUT).unwrap_err();
    assert_eq!(e.kind(), ControlErrorKind::NoPidfile, "{e}");
}

#[test]
fn a_stale_pidfile_is_taken_over() {
    const NAME: &str = "a_stale_pidfile_is_taken_over";
    if live_netns::skip(NAME, &[]) {
        return;
    }
    let net = NetPair::new("stale");
    let wd = Workdir::new();
    config(&wd);
    replace(&wd, "a.rules", &rule(9300001, 5555));
    let pidfile = wd.path("run/nsm-sensor.pid");
    std::fs::create_dir_all(wd.path("run")).unwrap();
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    std::fs::write(&pidfile, format!("{dead_pid}\n")).unwrap();
    let e = control::reload(&pidfile, TIMEOUT).unwrap_err();
    assert_eq!(e.kind(), ControlErrorKind::NotRunning, "{e}");

    let mut s = live_netns::start_sensor(sensor(&net, &wd));
    assert!(
        s.seen
            .iter()
            .any(|l| l.contains("taking over the pidfile") && l.contains("stale")),
        "{:#?}",
        s.seen
    );
    assert_eq!(control::read_pidfile(&pidfile).unwrap(), s.child.id());
    s.signal("TERM");
    assert_eq!(
        s.wait_exit(Duration::from_secs(10)).and_then(|e| e.code()),
        Some(0)
    );
    assert!(!pidfile.exists());
}

#[test]
fn pidfile_and_status_after_dropping_to_nobody() {
    const NAME: &str = "pidfile_and_status_after_dropping_to_nobody";
    if live_netns::skip(NAME, &[]) {
        return;
    }
    let net = NetPair::new("pidu");
    let wd = Workdir::new();
    config(&wd);
    replace(&wd, "a.rules", &rule(9300001, 5555));
    let pidfile = wd.path("run/nsm-sensor.pid");
    let mut cmd = sensor(&net, &wd);
    cmd.args(["--user", "nobody"]);
    let mut s = live_netns::start_sensor(cmd);
    let pid = s.child.id();
    assert_eq!(control::read_pidfile(&pidfile).unwrap(), pid);
    replace(
        &wd,
        "a.rules",
        &format!("{}{}", rule(9300001, 5555), rule(9300002, 7777)),
    );
    let r = control::reload(&pidfile, TIMEOUT).expect("reload");
    assert!(r.ok && r.rules == 2 && r.reloads == 1, "{r:?}");
    s.signal("TERM");
    assert_eq!(
        s.wait_exit(Duration::from_secs(10)).and_then(|e| e.code()),
        Some(0)
    );
    assert!(!pidfile.exists(), "pidfile left behind: {:#?}", s.seen);
    assert!(!control::status_path(&pidfile).exists());
}
