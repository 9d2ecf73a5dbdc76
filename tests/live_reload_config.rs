//! SIGHUP re-reads the whole configuration file, as Snort re-reads snort.conf: a rule file
//! added to `[rules] files`, a changed `HOME_NET` or `[vars]` entry and output switches take
//! effect without a restart; a broken configuration or rule set keeps everything as it was
//! (every diagnostic logged); settings that need the capture reopened are named in the log;
//! command-line overrides keep precedence over the file. Live, in two network namespaces;
//! needs root.

mod live_netns;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use live_netns::{eventually, read, NetPair, Proc, Workdir, SENSOR_IF};

const BIN: &str = env!("CARGO_BIN_EXE_nsm-sensor");

/// sid 9200001 follows HOME_NET, sid 9200003 the `[vars]` entry TEST_PORT.
const A_RULES: &str = "\
alert udp any any -> $HOME_NET 5555 (msg:\"NSMT to HOME_NET 5555\"; sid:9200001; rev:1;)
alert udp any any -> any $TEST_PORT (msg:\"NSMT to TEST_PORT\"; sid:9200003; rev:1;)
";
const B_RULES: &str =
    "alert udp any any -> any 7777 (msg:\"NSMT new file 7777\"; sid:9200002; rev:1;)\n";

/// A configuration: capture on the test interface, quick flushes, the given rule files,
/// vars and extra lines. The log directory in it is overridden by `-l`.
fn config(wd: &Workdir, files: &str, home: &str, port: &str, extra: &str) {
    let text = format!(
        "[capture]\ninterface = \"{SENSOR_IF}\"\nbuffer_mb = 8\ntimeout_ms = 200\n{extra}\n\
         [rules]\nfiles = [{files}]\n\n\
         [vars]\nHOME_NET = \"{home}\"\nTEST_PORT = \"{port}\"\n\n\
         [detect]\nchecksum_mode = \"none\"\n\n\
         [output]\ndir = \"{}\"\ntimestamps = \"utc\"\nflush_ms = 100\neve = true\n\n\
         [ring]\nfiles = 4\nfile_size_mb = 4\n\n[daemon]\nstats_interval_s = 1\nwatchdog = false\n",
        wd.path("elsewhere").display(),
    );
    let tmp = wd.path("sensor.toml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, wd.path("sensor.toml")).unwrap();
}

/// alert.fast lines for `sid` whose destination port is `port`.
fn fast(log: &Path, sid: u32, port: u16) -> usize {
    read(&log.join("alert.fast"))
        .lines()
        .filter(|l| l.contains(&format!("[1:{sid}:")) && l.ends_with(&format!(":{port}")))
        .count()
}

fn hup_and_wait(s: &mut Proc, needle: &str) {
    let before = s.count(needle);
    s.signal("HUP");
    assert!(
        eventually(Duration::from_secs(10), || s.count(needle) > before),
        "no '{needle}' after SIGHUP"
    );
}

#[test]
fn sighup_rereads_the_configuration_file() {
    const NAME: &str = "sighup_rereads_the_configuration_file";
    if live_netns::skip(NAME, &["python3"]) {
        return;
    }
    let net = NetPair::new("cfg");
    let wd = Workdir::new();
    wd.write("a.rules", A_RULES);
    wd.write("b.rules", B_RULES);
    config(&wd, "\"a.rules\"", "[198.51.100.1/32]", "6000", "");
    let (log, ring) = (wd.path("log"), wd.path("ring"));
    let mut cmd = net.in_a(BIN);
    cmd.args(["run", "-c"])
        .arg(wd.path("sensor.toml"))
        .arg("-l")
        .arg(&log)
        .arg("--ring-dir")
        .arg(&ring)
        .env("TZ", "UTC")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null());
    let mut s = live_netns::start_sensor(cmd);

    // Configuration A: HOME_NET is the sensor host, TEST_PORT 6000.
    net.udp_from_b(5555, 1);
    net.udp_from_b(6000, 1);
    assert!(
        eventually(Duration::from_secs(5), || fast(&log, 9200001, 5555) == 1
            && fast(&log, 9200003, 6000) == 1),
        "{}",
        read(&log.join("alert.fast"))
    );
    let eve_before = read(&log.join("eve.json")).lines().count();
    assert_eq!(eve_before, 2);

    // Configuration B: a second rule file, HOME_NET elsewhere, TEST_PORT 6001, no eve.json,
    // another log directory (which `-l` overrides).
    config(
        &wd,
        "\"a.rules\", \"b.rules\"",
        "[192.0.2.0/24]",
        "6001",
        "",
    );
    let text = read(&wd.path("sensor.toml"))
        .replace("eve = true", "eve = false")
        .replace("elsewhere", "elsewhere2");
    std::fs::write(wd.path("sensor.toml"), text).unwrap();
    hup_and_wait(&mut s, "rules reloaded in");
    assert!(
        s.wait_for(
            "configuration reloaded: alert files",
            Duration::from_secs(2)
        ),
        "output change not reported"
    );
    // `-l` on the command line beats `[output] dir`: no restart asked for, no move.
    assert_eq!(s.count("need a restart"), 0, "{:#?}", s.seen);
    std::thread::sleep(Duration::from_millis(500));
    net.udp_from_b(5555, 1);
    net.udp_from_b(6000, 1);
    net.udp_from_b(6001, 1);
    net.udp_from_b(7777, 1);
    assert!(
        eventually(Duration::from_secs(5), || fast(&log, 9200003, 6001) == 1
            && fast(&log, 9200002, 7777) == 1),
        "new vars or new rule file not in effect:\n{}",
        read(&log.join("alert.fast"))
    );
    assert_eq!(fast(&log, 9200001, 5555), 1, "HOME_NET not re-read");
    assert_eq!(fast(&log, 9200003, 6000), 1, "[vars] not re-read");
    assert_eq!(
        read(&log.join("eve.json")).lines().count(),
        eve_before,
        "eve.json still written after it was switched off"
    );
    assert!(!wd.path("elsewhere").exists() && !wd.path("elsewhere2").exists());

    // A broken configuration: every diagnostic logged with file:line, B stays in effect.
    let good = read(&wd.path("sensor.toml"));
    std::fs::write(
        wd.path("sensor.toml"),
        good.replace("[detect]", "[detect]\nflow_memcap_mb = -1\ncolour = 1"),
    )
    .unwrap();
    hup_and_wait(&mut s, "keeping the");
    let cfg_name = wd.path("sensor.toml").display().to_string();
    assert!(s.count(&format!("{cfg_name}:")) >= 2, "{:#?}", s.seen);
    assert!(s.count("detect.flow_memcap_mb") >= 1 && s.count("unknown key 'colour'") >= 1);
    net.udp_from_b(6001, 1);
    assert!(
        eventually(Duration::from_secs(5), || fast(&log, 9200003, 6001) == 2),
        "the previous configuration is no longer in effect"
    );

    // A rule error (a rule file that does not exist): logged, the old set kept.
    std::fs::write(
        wd.path("sensor.toml"),
        good.replace("\"b.rules\"", "\"b.rules\", \"missing.rules\""),
    )
    .unwrap();
    hup_and_wait(&mut s, "keeping the");
    assert!(s.count("missing.rules") >= 1, "{:#?}", s.seen);
    net.udp_from_b(7777, 1);
    assert!(eventually(Duration::from_secs(5), || fast(
        &log, 9200002, 7777
    ) == 2));

    // Capture settings need a restart: said, not applied; the rest of the file still is.
    std::fs::write(
        wd.path("sensor.toml"),
        good.replace(
            &format!("interface = \"{SENSOR_IF}\""),
            "interface = \"nsmt-other0\"\nbpf = \"udp\"",
        )
        .replace("\"6001\"", "\"6002\""),
    )
    .unwrap();
    hup_and_wait(&mut s, "rules reloaded in");
    assert!(
        s.wait_for("need a restart", Duration::from_secs(2)),
        "{:#?}",
        s.seen
    );
    let line = s
        .seen
        .iter()
        .find(|l| l.contains("need a restart"))
        .unwrap()
        .clone();
    assert!(
        line.contains(&format!("capture.interface ({SENSOR_IF} -> nsmt-other0)"))
            && line.contains("capture.bpf"),
        "{line}"
    );
    net.udp_from_b(6002, 1);
    assert!(
        eventually(Duration::from_secs(5), || fast(&log, 9200003, 6002) == 1),
        "capture kept on {SENSOR_IF} with the new vars"
    );
    assert!(s.child.try_wait().unwrap().is_none(), "sensor died");
    s.signal("TERM");
    assert_eq!(
        s.wait_exit(Duration::from_secs(3)).and_then(|x| x.code()),
        Some(0)
    );
}
