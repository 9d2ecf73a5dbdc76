//! `nsm-sensor update` against a running sensor, live in two network namespaces: the daemon
//! runs from `DIR/current/`, an IP feed gains the remote host's address, `update` switches
//! to the new version and signals the daemon, which reloads exactly once (confirmed through
//! its reload status), and traffic from that address alerts — no restart. Needs root, `ip`
//! and `python3`.

mod common;
mod live_netns;

use std::process::Stdio;
use std::time::Duration;

use live_netns::{eventually, read, NetPair, Workdir, REMOTE_IP, SENSOR_IF, SENSOR_IP};

const SID: u32 = 9_500_001;

fn fast(wd: &Workdir) -> usize {
    read(&wd.path("log/alert.fast"))
        .lines()
        .filter(|l| l.contains(&format!("[1:{SID}:")))
        .count()
}

fn update(wd: &Workdir) -> serde_json::Value {
    let out = common::run(
        common::bin()
            .args(["update", "--json", "-c"])
            .arg(wd.path("sensor.toml")),
    );
    common::expect_code(&out, 0);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn update_switches_and_the_daemon_reloads_once() {
    const NAME: &str = "update_switches_and_the_daemon_reloads_once";
    if live_netns::skip(NAME, &["python3"]) {
        return;
    }
    let net = NetPair::new("upd");
    let wd = Workdir::new();
    let feed = wd.write("feed.txt", "# test feed\n203.0.113.5\n");
    wd.write(
        "sensor.toml",
        &format!(
            "[capture]\ninterface = \"{SENSOR_IF}\"\nbuffer_mb = 8\ntimeout_ms = 200\n\n\
             [rules]\nfiles = [\"versions/current/\"]\n\n\
             [vars]\nHOME_NET = \"[{SENSOR_IP}/32]\"\n\n\
             [detect]\nchecksum_mode = \"none\"\n\n\
             [output]\ntimestamps = \"utc\"\nflush_ms = 100\n\n\
             [ring]\nfiles = 4\nfile_size_mb = 4\n\n\
             [daemon]\nstats_interval_s = 60\nwatchdog = false\npidfile = \"run/nsm-sensor.pid\"\n\n\
             [update]\ndir = \"versions\"\ntimeout_s = 60\n\n\
             [[update.source]]\nname = \"feed\"\nkind = \"iplist\"\nurl = \"file://{}\"\n\
             sid = {SID}\nmsg = \"NSMT listed\"\ndirection = \"from\"\n",
            feed.display()
        ),
    );
    // First version, before the sensor runs: nothing to reload.
    let j = update(&wd);
    assert_eq!(j["status"], "switched", "{j:#}");
    assert!(
        j["reload"]
            .as_str()
            .unwrap()
            .starts_with("no running sensor"),
        "{j:#}"
    );

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
    net.udp_from_b(5353, 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fast(&wd), 0, "{}", read(&wd.path("log/alert.fast")));

    // The feed lists the remote host now.
    wd.write(
        "feed.txt",
        &format!("# test feed\n203.0.113.5\n{REMOTE_IP}\n"),
    );
    let before = s.count("SIGHUP: reloading");
    let j = update(&wd);
    assert_eq!(j["status"], "switched", "{j:#}");
    assert_eq!(j["sources"][0]["addresses"]["added"], 1, "{j:#}");
    let reload = j["reload"].as_str().unwrap();
    assert!(reload.contains("reloaded"), "{j:#}");
    assert!(s.child.try_wait().unwrap().is_none(), "daemon died");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.count("SIGHUP: reloading"), before + 1, "{:#?}", s.seen);
    net.udp_from_b(5353, 1);
    assert!(
        eventually(Duration::from_secs(5), || fast(&wd) == 1),
        "no alert after the update: {}",
        read(&wd.path("log/alert.fast"))
    );
    s.signal("TERM");
    assert_eq!(
        s.wait_exit(Duration::from_secs(10)).and_then(|e| e.code()),
        Some(0)
    );
}
