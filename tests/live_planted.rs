//! The live daemon against a hostile or careless file system: links planted at every log
//! name (`stats.log` included, which only `run` writes), `--user` handing over only the
//! sensor's own files and directories, and a start-up that refuses (exit 73) to run blind in
//! a directory its user cannot write, while directories it creates itself stay usable after
//! the drop (packets reach the ring, SIGHUP reopens the logs). Needs root and `ip`; runs the
//! sensor in a test namespace (see `live_netns`), traffic only between the test hosts.

mod live_netns;

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use live_netns::{eventually, read, sensor_cmd, start_sensor, NetPair, Proc, Workdir};

const VICTIM_TEXT: &[u8] = b"root:secret:victim line without a final newline";
const NOBODY: u32 = 65534;

fn victim(dir: &Path, name: &str) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    fs::write(&p, VICTIM_TEXT).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&p, Some(0), Some(0)).unwrap();
    p
}

fn assert_intact(p: &Path, what: &str) {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{what}: {} gone: {e}", p.display()));
    assert_eq!(fs::read(p).unwrap(), VICTIM_TEXT, "{what}: content changed");
    assert_eq!(m.mode() & 0o7777, 0o600, "{what}: mode changed");
    assert_eq!((m.uid(), m.gid()), (0, 0), "{what}: owner changed");
}

fn rules(wd: &Workdir) -> PathBuf {
    wd.write(
        "test.rules",
        "alert icmp any any -> any any (msg:\"test ping\"; sid:1000001; rev:1;)\n",
    )
}

fn cmd(net: &NetPair, wd: &Workdir, log: &Path, ring: &Path, user: bool) -> std::process::Command {
    let cfg = wd.config(3, 1);
    let r = rules(wd);
    let mut c = sensor_cmd(
        net,
        env!("CARGO_BIN_EXE_nsm-sensor"),
        &cfg,
        &[&r],
        log,
        ring,
    );
    if user {
        c.args(["--user", "nobody"]);
    }
    c
}

/// Spawns and waits for the exit (the start-up is expected to fail); a sensor still running
/// after 15 s is stopped and reported as `None`.
fn run_to_exit(c: std::process::Command) -> (Option<i32>, Vec<String>) {
    let mut p = Proc::spawn(c);
    let code = match p.wait_exit(Duration::from_secs(15)) {
        Some(st) => st.code(),
        None => {
            p.signal("TERM");
            let _ = p.wait_exit(Duration::from_secs(10));
            None
        }
    };
    (code, p.seen.clone())
}

#[test]
fn run_never_writes_through_a_planted_log_link() {
    if live_netns::skip("run_never_writes_through_a_planted_log_link", &[]) {
        return;
    }
    let net = NetPair::new("plant");
    for name in ["alert", "alert.fast", "eve.json", "stats.log"] {
        let wd = Workdir::new();
        let v = victim(&wd.path("secret"), "victim");
        let log = wd.path("log");
        fs::create_dir(&log).unwrap();
        symlink(&v, log.join(name)).unwrap();
        let (code, lines) = run_to_exit(cmd(&net, &wd, &log, &wd.path("ring"), true));
        assert_intact(&v, name);
        assert_ne!(code, Some(0), "{name}: the sensor ran");
        assert!(
            lines.iter().any(|l| l.contains(&format!(
                "{name}: is a symbolic link; refusing to follow it"
            ))),
            "{name}: {lines:#?}"
        );
        assert!(!lines.iter().any(|l| l.contains("sensor running")));
    }
}

#[test]
fn user_handover_touches_only_the_sensors_own_files() {
    if live_netns::skip("user_handover_touches_only_the_sensors_own_files", &[]) {
        return;
    }
    let net = NetPair::new("chown");
    let wd = Workdir::new();
    let (log, ring) = (wd.path("log"), wd.path("ring"));
    // Directories shared with other software: usable by the sensor's user, holding files that
    // are not the sensor's.
    for d in [&log, &ring] {
        fs::create_dir(d).unwrap();
        std::os::unix::fs::chown(d, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let auth = victim(&log, "auth.log");
    let notes = victim(&ring, "notes.txt");
    let lookalike = victim(&ring, "nsm_00001_19990101000000.pcap");
    let idx_lookalike = victim(&ring, ".nsm_00001_19990101000000.pcap.idx");
    // The sensor's own file from an earlier run as root: handed over.
    fs::write(log.join("alert.fast"), "").unwrap();

    let mut p = start_sensor(cmd(&net, &wd, &log, &ring, true));
    net.ping_from_b(3);
    p.signal("TERM");
    let st = p.wait_exit(Duration::from_secs(10)).expect("no exit");
    assert_eq!(st.code(), Some(0));
    for (f, what) in [
        (&auth, "LOGDIR/auth.log"),
        (&notes, "RING/notes.txt"),
        (&lookalike, "RING ring-like text file"),
        (&idx_lookalike, "RING index-like file"),
    ] {
        assert_intact(f, what);
    }
    assert_eq!(fs::metadata(log.join("alert.fast")).unwrap().uid(), NOBODY);
    assert_eq!(fs::metadata(log.join("eve.json")).unwrap().uid(), NOBODY);
}

#[test]
fn user_refused_with_73_when_a_directory_is_unusable_after_the_drop() {
    if live_netns::skip(
        "user_refused_with_73_when_a_directory_is_unusable_after_the_drop",
        &[],
    ) {
        return;
    }
    let net = NetPair::new("blind");
    // (1) LOGDIR created by the sensor under a root-only parent it did not create.
    let wd = Workdir::new();
    let private = wd.path("private");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let (code, lines) = run_to_exit(cmd(&net, &wd, &private.join("log"), &wd.path("ring"), true));
    assert_eq!(code, Some(73), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cannot create files in") && l.contains("private/log")),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("sensor running")));
    assert_eq!(
        fs::metadata(&private).unwrap().uid(),
        0,
        "a foreign directory was handed over"
    );

    // (2) A shared root-owned ring directory (it holds other files): never handed over.
    let wd = Workdir::new();
    let ring = wd.path("ring");
    fs::create_dir(&ring).unwrap();
    fs::set_permissions(&ring, fs::Permissions::from_mode(0o755)).unwrap();
    let other = victim(&ring, "other.dat");
    let (code, lines) = run_to_exit(cmd(&net, &wd, &wd.path("log"), &ring, true));
    assert_eq!(code, Some(73), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("sensor running")));
    assert_eq!(
        fs::metadata(&ring).unwrap().uid(),
        0,
        "a shared directory was handed over"
    );
    assert_intact(&other, "RING/other.dat");
}

#[test]
fn user_directories_the_sensor_creates_stay_usable_after_the_drop() {
    if live_netns::skip(
        "user_directories_the_sensor_creates_stay_usable_after_the_drop",
        &[],
    ) {
        return;
    }
    let net = NetPair::new("usable");
    let wd = Workdir::new();
    // Nested, none of it existing: every level is the sensor's to create and hand over.
    let log = wd.path("var/log/nsm");
    let ring = wd.path("var/lib/nsm/ring");
    let mut p = start_sensor(cmd(&net, &wd, &log, &ring, true));
    for d in [
        "var",
        "var/log",
        "var/log/nsm",
        "var/lib",
        "var/lib/nsm",
        "var/lib/nsm/ring",
    ] {
        let m = fs::metadata(wd.path(d)).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o777), (NOBODY, 0o750), "{d}");
    }
    net.ping_from_b(3);
    // SIGHUP after logrotate moved the files: new files appear, written as nobody.
    let stats = log.join("stats.log");
    assert!(eventually(Duration::from_secs(5), || stats.exists()));
    fs::rename(&stats, log.join("stats.log.1")).unwrap();
    fs::rename(log.join("alert.fast"), log.join("alert.fast.1")).unwrap();
    p.signal("HUP");
    assert!(
        eventually(Duration::from_secs(5), || !read(&stats).is_empty()),
        "stats.log not reopened after SIGHUP"
    );
    assert!(
        eventually(Duration::from_secs(5), || log.join("alert.fast").exists()),
        "alert.fast not reopened after SIGHUP"
    );
    assert_eq!(fs::metadata(&stats).unwrap().uid(), NOBODY);
    net.ping_from_b(2);
    p.signal("TERM");
    let st = p.wait_exit(Duration::from_secs(10)).expect("no exit");
    assert_eq!(st.code(), Some(0));
    assert!(
        !p.seen
            .iter()
            .any(|l| l.contains("ring write failed") || l.contains(" ERROR ")),
        "{:#?}",
        p.seen
    );
    let packets = live_netns::check_ring_files(&ring);
    assert!(packets >= 5, "{packets} packets reached the ring");
}
