//! What the live sensor does when its surroundings change under it: a log or ring directory
//! removed while running is recreated and written again (or, when the sensor cannot recreate
//! it after dropping privileges, it exits non-zero so that systemd restarts it); the exit
//! never says "stopped cleanly" after data was lost; an interface that goes down is logged
//! and shown in the systemd STATUS, and its return too, and capture resumes. Live, in two
//! network namespaces; needs root.

mod live_netns;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use live_netns::{
    capinfos_ok, eventually, last_stat, read, ring_files, ring_seq, sensor_cmd, start_sensor,
    NetPair, Workdir, REMOTE_IP, SENSOR_IF,
};

const BIN: &str = env!("CARGO_BIN_EXE_nsm-sensor");

const RULES: &str =
    "alert udp any any -> $HOME_NET 5555 (msg:\"NSMT UDP to 5555\"; sid:9300001; rev:1;)\n";

fn fast_count(log: &Path) -> usize {
    read(&log.join("alert.fast")).matches("[1:9300001:").count()
}

#[test]
fn removed_log_and_ring_directories_are_recreated() {
    const NAME: &str = "removed_log_and_ring_directories_are_recreated";
    if live_netns::skip(NAME, &["python3", "capinfos"]) {
        return;
    }
    let net = NetPair::new("rmdir");
    let wd = Workdir::new();
    let config = wd.config(4, 4);
    let rules = wd.write("t.rules", RULES);
    let (log, ring) = (wd.path("log"), wd.path("ring"));
    let mut s = start_sensor(sensor_cmd(&net, BIN, &config, &[&rules], &log, &ring));
    net.udp_from_b(5555, 2);
    assert!(eventually(Duration::from_secs(5), || fast_count(&log) == 2));
    assert!(eventually(Duration::from_secs(5), || !ring_files(&ring).is_empty()));
    let first = ring_files(&ring);
    let last_seq = first.iter().filter_map(|p| ring_seq(p)).max().unwrap();

    std::fs::remove_dir_all(&log).unwrap();
    std::fs::remove_dir_all(&ring).unwrap();
    assert!(
        s.wait_for("the log directory", Duration::from_secs(5))
            && s.wait_for("the ring directory", Duration::from_secs(5)),
        "removal not noticed"
    );
    assert!(log.is_dir() && ring.is_dir(), "not recreated");

    // Later alerts and packets land in the new files.
    net.udp_from_b(5555, 3);
    assert!(
        eventually(Duration::from_secs(5), || fast_count(&log) == 3),
        "alerts after the removal: {:?}",
        read(&log.join("alert.fast"))
    );
    assert_eq!(read(&log.join("eve.json")).lines().count(), 3);
    assert!(eventually(Duration::from_secs(5), || !ring_files(&ring).is_empty()));
    let new = ring_files(&ring);
    assert!(
        ring_seq(&new[0]).unwrap() > last_seq,
        "the sequence continues: {new:?}"
    );
    // stats.log comes back too.
    assert!(eventually(Duration::from_secs(3), || last_stat(
        &log.join("stats.log"),
        "packets"
    )
    .is_some()));
    use std::os::unix::fs::PermissionsExt;
    for d in [&log, &ring] {
        let mode = std::fs::metadata(d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o750, "{} recreated {mode:o}", d.display());
    }

    s.signal("TERM");
    assert_eq!(
        s.wait_exit(Duration::from_secs(3)).and_then(|x| x.code()),
        Some(0)
    );
    for f in ring_files(&ring) {
        capinfos_ok(&f).unwrap();
    }
    assert_eq!(s.count("stopped cleanly"), 0, "{:#?}", s.seen);
    assert!(s.count("data was lost while running") == 1, "{:#?}", s.seen);
}

/// After the drop to `nobody` the sensor cannot create entries in the root-owned parent:
/// it must stop with an error rather than run blind.
#[test]
fn unrecreatable_log_directory_exits_non_zero() {
    const NAME: &str = "unrecreatable_log_directory_exits_non_zero";
    if live_netns::skip(NAME, &["python3"]) {
        return;
    }
    let net = NetPair::new("rmdir2");
    let wd = Workdir::new();
    let config = wd.config(4, 4);
    let rules = wd.write("t.rules", RULES);
    std::fs::set_permissions(&rules, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let (log, ring) = (wd.path("log"), wd.path("ring"));
    let mut cmd = sensor_cmd(&net, BIN, &config, &[&rules], &log, &ring);
    cmd.args(["--user", "nobody"]);
    let mut s = start_sensor(cmd);
    assert!(s.wait_for("dropped privileges", Duration::from_secs(2)));
    std::fs::remove_dir_all(&log).unwrap();
    net.udp_from_b(5555, 1);
    let st = s
        .wait_exit(Duration::from_secs(5))
        .expect("still running without its log directory");
    assert_ne!(st.code(), Some(0), "{st}");
    assert!(
        s.count("was removed while running and cannot be recreated") >= 1,
        "{:#?}",
        s.seen
    );
    assert_eq!(s.count("stopped cleanly"), 0);
}

/// Collects the `STATUS=` messages a service manager would get.
struct NotifySocket {
    sock: UnixDatagram,
    path: std::path::PathBuf,
    seen: Vec<String>,
}

impl NotifySocket {
    fn new(wd: &Workdir) -> NotifySocket {
        let path = wd.path("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        NotifySocket {
            sock,
            path,
            seen: Vec::new(),
        }
    }

    fn wait_status(&mut self, needle: &str, timeout: Duration) -> bool {
        eventually(timeout, || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = self.sock.recv(&mut buf) {
                self.seen
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            self.seen.iter().any(|m| {
                m.lines()
                    .any(|l| l.starts_with("STATUS=") && l.contains(needle))
            })
        })
    }
}

#[test]
fn interface_down_and_up_are_logged_and_capture_resumes() {
    const NAME: &str = "interface_down_and_up_are_logged_and_capture_resumes";
    if live_netns::skip(NAME, &["python3"]) {
        return;
    }
    let net = NetPair::new("ifdown");
    let wd = Workdir::new();
    let config = wd.config(4, 4);
    let rules = wd.write("t.rules", RULES);
    let (log, ring) = (wd.path("log"), wd.path("ring"));
    let mut notify = NotifySocket::new(&wd);
    let mut cmd = sensor_cmd(&net, BIN, &config, &[&rules], &log, &ring);
    cmd.env("NOTIFY_SOCKET", &notify.path);
    let mut s = start_sensor(cmd);
    net.udp_from_b(5555, 1);
    assert!(eventually(Duration::from_secs(5), || fast_count(&log) == 1));

    let link = |state: &str| {
        let ok = std::process::Command::new("ip")
            .args(["-n", &net.a, "link", "set", SENSOR_IF, state])
            .status()
            .unwrap()
            .success();
        assert!(ok, "ip link set {state}");
    };
    link("down");
    assert!(
        s.wait_for(
            &format!("interface {SENSOR_IF} went down"),
            Duration::from_secs(5)
        ),
        "down not logged"
    );
    assert!(
        notify.wait_status(
            &format!("interface down: {SENSOR_IF}"),
            Duration::from_secs(3)
        ),
        "STATUS does not show it: {:#?}",
        notify.seen
    );
    assert!(s.child.try_wait().unwrap().is_none(), "the sensor exited");
    std::thread::sleep(Duration::from_millis(500));
    link("up");
    assert!(
        s.wait_for(
            &format!("interface {SENSOR_IF} is up again"),
            Duration::from_secs(5)
        ),
        "return not logged"
    );
    let n = notify.seen.len();
    assert!(notify.wait_status("packets=", Duration::from_secs(3)));
    assert!(eventually(Duration::from_secs(3), || {
        notify.wait_status("packets=", Duration::from_millis(100));
        notify.seen[n..]
            .iter()
            .any(|m| m.contains("STATUS=") && !m.contains("interface down"))
    }));
    // veth needs a moment before the peer answers ARP again.
    assert!(
        eventually(Duration::from_secs(10), || {
            net.udp_from_b(5555, 1);
            fast_count(&log) >= 2
        }),
        "capture did not resume after the interface came back ({REMOTE_IP} -> 5555)"
    );
    s.signal("TERM");
    assert_eq!(
        s.wait_exit(Duration::from_secs(3)).and_then(|x| x.code()),
        Some(0)
    );
}
