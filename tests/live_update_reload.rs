//! `nsm-sensor update` against a running sensor, no restart: the daemon reads its rules from
//! `versions/current/`; an `iplist` source (over `file://`, no network) gets a new address;
//! `update` switches to the new version and signals the daemon through its pidfile; the
//! daemon reloads exactly once (its reload status count goes up by one) and traffic to the
//! new address alerts. Live, in two network namespaces; needs root, `ip` and `python3`.

mod common;
mod live_netns;

use std::process::Stdio;
use std::time::Duration;

use live_netns::{eventually, read, NetPair, Workdir, SENSOR_IF, SENSOR_IP};
use nsm_sensor::daemon::control;

/// HOME_NET is the remote test host, so that its traffic to the sensor host goes from
/// HOME_NET to an address the list names in version 2.
fn config(wd: &Workdir) {
    let feed = wd.path("feed.txt");
    let text = format!(
        "[capture]\ninterface = \"{SENSOR_IF}\"\nbuffer_mb = 8\ntimeout_ms = 200\n\n\
         [rules]\nfiles = [\"versions/current/\"]\n\n\
         [vars]\nHOME_NET = \"[198.51.100.7/32]\"\n\n\
         [detect]\nchecksum_mode = \"none\"\n\n\
         [output]\ntimestamps = \"utc\"\nflush_ms = 100\n\n\
         [ring]\nfiles = 4\nfile_size_mb = 4\n\n\
         [daemon]\nstats_interval_s = 60\nwatchdog = false\npidfile = \"run/nsm-sensor.pid\"\n\n\
         [update]\ndir = \"versions\"\ntimeout_s = 30\n\n\
         [[update.source]]\nname = \"feed\"\nkind = \"iplist\"\nurl = \"file://{}\"\n\
         sid = 9500000\nmsg = \"NSMT listed address\"\ndirection = \"to\"\n",
        feed.display()
    );
    wd.write("sensor.toml", &text);
}

fn update(wd: &Workdir, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = common::bin()
        .arg("update")
        .arg("-c")
        .arg(wd.path("sensor.toml"))
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run update");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn listed_alerts(wd: &Workdir) -> usize {
    read(&wd.path("log/alert.fast"))
        .lines()
        .filter(|l| l.contains("NSMT listed address") && l.contains(SENSOR_IP))
        .count()
}

#[test]
fn update_switches_and_the_running_sensor_reloads_once() {
    const NAME: &str = "update_switches_and_the_running_sensor_reloads_once";
    if live_netns::skip(NAME, &["python3"]) {
        return;
    }
    let net = NetPair::new("upd");
    let wd = Workdir::new();
    config(&wd);
    let pidfile = wd.path("run/nsm-sensor.pid");

    // Version 1, before the sensor runs: a list without the sensor host.
    wd.write("feed.txt", "# test feed v1\n192.0.2.55\n");
    let (code, j, err) = update(&wd, &[]);
    assert_eq!(code, Some(0), "{j:#}\n{err}");
    assert_eq!(j["status"], "switched", "{j:#}");
    let v1 = std::fs::read_link(wd.path("versions/current")).expect("current");

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
    let mut s = live_netns::start_sensor(cmd);
    let pid = s.child.id();
    let st = control::read_status(&pidfile).expect("start-up status");
    assert_eq!((st.pid, st.reloads, st.ok), (pid, 0, true), "{st:?}");

    // Not listed yet: no alert.
    net.udp_from_b(5555, 1);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        listed_alerts(&wd),
        0,
        "{}",
        read(&wd.path("log/alert.fast"))
    );

    // Version 2 lists the sensor host: update switches and the daemon reloads, once.
    wd.write(
        "feed.txt",
        &format!("# test feed v2\n192.0.2.55\n{SENSOR_IP} ; new\n"),
    );
    let reloads_logged = s.count("rules reloaded in");
    let (code, j, err) = update(&wd, &[]);
    assert_eq!(code, Some(0), "{j:#}\n{err}");
    assert_eq!(j["status"], "switched", "{j:#}");
    let v2 = std::fs::read_link(wd.path("versions/current")).expect("current");
    assert_ne!(v1, v2);
    let reply = j["reload"].as_str().unwrap_or_default();
    assert!(
        reply.contains(&format!("pid {pid}")) && reply.contains("reloaded"),
        "{j:#}"
    );
    let st = control::read_status(&pidfile).expect("status");
    assert_eq!((st.pid, st.reloads, st.ok), (pid, 1, true), "{st:?}");
    // Exactly once: no second reload comes later either.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(control::read_status(&pidfile).unwrap().reloads, 1);
    assert_eq!(
        s.count("rules reloaded in"),
        reloads_logged + 1,
        "{:#?}",
        s.seen
    );
    assert_eq!(s.count("SIGHUP"), 1, "{:#?}", s.seen);

    // Same process, new list: traffic to the new address alerts.
    assert!(s.child.try_wait().unwrap().is_none(), "the sensor exited");
    assert_eq!(control::read_pidfile(&pidfile).unwrap(), pid);
    net.udp_from_b(5555, 1);
    assert!(
        eventually(Duration::from_secs(5), || listed_alerts(&wd) == 1),
        "no alert for the new address: {}",
        read(&wd.path("log/alert.fast"))
    );

    s.signal("TERM");
    assert_eq!(
        s.wait_exit(Duration::from_secs(10)).and_then(|e| e.code()),
        Some(0)
    );
}
