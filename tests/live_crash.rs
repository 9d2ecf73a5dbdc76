//! `kill -9` of a live `nsm-sensor run` while traffic flows, and a restart into the same log
//! and ring directories: the torn ring file is repaired at start-up, ring numbering continues
//! (never reused, never restarted), the alert files hold whole records only (a torn EVE line
//! is recovered by `investigate`), and the second run's alerts follow the first run's.
//! Needs root, `ip`, `python3`, `capinfos`, `tcpdump` (skips with a message otherwise). Traffic
//! only flows between the two test hosts (198.51.100.1 and .7, a documentation range).

mod live_netns;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use live_netns::{
    capinfos_ok, check_ring_files, eventually, read, ring_files, ring_seq, sensor_cmd,
    start_sensor, FloodSpec, NetPair, Proc, Workdir, REMOTE_IP,
};

const BIN: &str = env!("CARGO_BIN_EXE_nsm-sensor");
const TOOLS: &[&str] = &["python3", "capinfos", "tcpdump"];

/// IP-list style rules naming the remote host among other listed addresses.
fn rules() -> String {
    format!(
        "alert udp [203.0.113.9,{REMOTE_IP},192.0.2.66] any -> $HOME_NET 5555 (msg:\"NSMT listed host UDP\"; sid:9100001; rev:1;)\n\
         alert tcp [203.0.113.9,{REMOTE_IP},192.0.2.66] any -> $HOME_NET 4444 (msg:\"NSMT listed host SYN\"; flags:S; sid:9100002; rev:1;)\n"
    )
}

/// ~600 kB/s of UDP: the 1 MB ring files rotate every two seconds or so; ~70 alerts/s.
const FLOOD: FloodSpec = FloodSpec {
    pps: 1000,
    size: 560,
    bulk_port: 9,
    alert_every: 20,
    alert_port: 5555,
    syn_every: 50,
    syn_port: 4444,
};

/// Every ring file name seen, polled every 10 ms, with the run (1 or 2) it was first seen in.
struct RingWatch {
    seen: Arc<Mutex<Vec<(u8, PathBuf)>>>,
    run: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RingWatch {
    fn start(ring: &Path) -> RingWatch {
        let (seen, run, stop) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(AtomicU8::new(1)),
            Arc::new(AtomicBool::new(false)),
        );
        let thread = {
            let (seen, run, stop, ring) =
                (seen.clone(), run.clone(), stop.clone(), ring.to_owned());
            std::thread::spawn(move || {
                let mut known = BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    for f in ring_files(&ring) {
                        if known.insert(f.clone()) {
                            seen.lock().unwrap().push((run.load(Ordering::Relaxed), f));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        RingWatch {
            seen,
            run,
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<(u8, PathBuf)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.seen.lock().unwrap().clone()
    }
}

/// `MM/DD-HH:MM:SS.uuuuuu` at the start of a Snort line (sorts by time within a year).
fn snort_ts(line: &str) -> Option<&str> {
    let ts = line.get(..21)?;
    let shape = "00/00-00:00:00.000000";
    let ok = ts.bytes().zip(shape.bytes()).all(|(c, s)| {
        if s == b'0' {
            c.is_ascii_digit()
        } else {
            c == s
        }
    });
    ok.then_some(ts)
}

/// Whether `line` has alert_fast's shape:
/// `TS  [**] [g:s:r] msg [**] [Classification: …] [Priority: n] {PROTO} src -> dst`.
fn fast_shape(line: &str) -> bool {
    let Some(rest) = snort_ts(line).and_then(|_| line[21..].strip_prefix("  [**] [")) else {
        return false;
    };
    let Some((gsr, rest)) = rest.split_once("] ") else {
        return false;
    };
    let gsr_ok = gsr.split(':').count() == 3
        && gsr
            .split(':')
            .all(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
    let Some((_, tail)) = rest.split_once(" [**] ") else {
        return false;
    };
    let Some((_, tail)) = tail.split_once("[Priority: ") else {
        return false;
    };
    let Some((prio, tail)) = tail.split_once("] {") else {
        return false;
    };
    let Some((proto, ends)) = tail.split_once("} ") else {
        return false;
    };
    gsr_ok
        && prio.bytes().all(|c| c.is_ascii_digit())
        && ["TCP", "UDP", "ICMP", "IP"].contains(&proto)
        && ends.split(" -> ").count() == 2
}

/// Whether `rec` (one alert_full record, without its blank line) has the record shape.
fn full_shape(rec: &str) -> bool {
    let lines: Vec<&str> = rec.lines().collect();
    lines.len() >= 4
        && lines[0].starts_with("[**] [")
        && lines[0].ends_with(" [**]")
        && lines[1].contains("[Priority: ")
        && snort_ts(lines[2]).is_some()
        && lines[2].contains(" -> ")
}

/// Lines of a line-oriented log, each checked with `whole`. A line that fails must be a
/// record torn by the kill with the next run's first record appended to it; `recover` finds
/// that record's start. Returns (the whole records, the number of torn lines).
fn whole_lines(
    text: &str,
    whole: impl Fn(&str) -> bool,
    recover: impl Fn(&str) -> Option<usize>,
) -> (Vec<&str>, usize) {
    let mut out = Vec::new();
    let mut torn = 0;
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "ends without a newline"
    );
    for line in text.lines() {
        if whole(line) {
            out.push(line);
            continue;
        }
        torn += 1;
        let start = recover(line).filter(|&i| i > 0 && whole(&line[i..]));
        let Some(i) = start else {
            panic!("neither a whole record nor a torn one followed by a whole one: {line:?}");
        };
        out.push(&line[i..]);
    }
    (out, torn)
}

fn eve_ok(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v["event_type"] == "alert")
}

fn eve_ts(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["timestamp"].as_str().unwrap_or_default().to_string()
}

/// The last index where a fast record could start: two digits, '/', … ("MM/DD-").
fn fast_recover(line: &str) -> Option<usize> {
    (1..line.len().saturating_sub(21))
        .rev()
        .find(|&i| line.is_char_boundary(i) && snort_ts(&line[i..]).is_some())
}

#[test]
fn kill_9_under_traffic_then_restart_keeps_ring_and_logs_whole() {
    const NAME: &str = "kill_9_under_traffic_then_restart_keeps_ring_and_logs_whole";
    if live_netns::skip(NAME, TOOLS) {
        return;
    }
    let net = NetPair::new("crash");
    let wd = Workdir::new();
    let config = wd.config_flush(4, 1, 50);
    let rules_file = wd.write("crash.rules", &rules());
    let (log, ring) = (wd.path("log"), wd.path("ring"));
    let cmd = || sensor_cmd(&net, BIN, &config, &[&rules_file], &log, &ring);
    let fast = log.join("alert.fast");
    let eve = log.join("eve.json");

    // Run 1: traffic until the ring has rotated at least once and alerts are being written.
    let watch = RingWatch::start(&ring);
    let mut s1 = start_sensor(cmd());
    let mut flood = net.flood_from_b(FLOOD);
    let rotated = eventually(Duration::from_secs(20), || {
        ring_files(&ring).iter().filter_map(|f| ring_seq(f)).max() >= Some(2)
    });
    assert!(rotated, "the ring did not rotate: {:?}", ring_files(&ring));
    assert!(eventually(Duration::from_secs(5), || read(&fast)
        .lines()
        .count()
        >= 20));
    // Mid-interval between two 50 ms flushes, then SIGKILL: no clean-up runs.
    std::thread::sleep(Duration::from_millis(525));
    s1.child.kill().expect("kill -9");
    let _ = s1.child.wait();
    assert!(flood.running(), "the flood stopped");

    let before = ring_files(&ring);
    let newest = before.last().expect("ring files").clone();
    let s1_max = ring_seq(&newest).unwrap();
    let fast1 = read(&fast);
    let eve1 = read(&eve);
    let full1 = read(&log.join("alert"));
    let naturally_torn = [&fast1, &eve1, &full1]
        .iter()
        .filter(|t| !t.is_empty() && !t.ends_with('\n'))
        .count();
    println!(
        "after kill -9: {} ring files (newest {}, {} bytes, capinfos {}), {} fast lines, {} eve lines, {} log(s) ending mid-record",
        before.len(),
        newest.display(),
        std::fs::metadata(&newest).map(|m| m.len()).unwrap_or(0),
        if capinfos_ok(&newest).is_ok() { "ok" } else { "fails" },
        fast1.lines().count(),
        eve1.lines().count(),
        naturally_torn
    );

    let whole_len = std::fs::metadata(&newest).unwrap().len();
    // Make the crash certain to have torn something: half a record at the end of the newest
    // ring file (a 200-byte record with 50 bytes of it), and half an EVE record.
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&newest)
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as u32;
        let mut rec = Vec::new();
        for v in [now, 0, 200, 200] {
            rec.extend_from_slice(&v.to_le_bytes());
        }
        rec.extend_from_slice(&[0x5a; 50]);
        f.write_all(&rec).unwrap();
        let mut e = std::fs::OpenOptions::new().append(true).open(&eve).unwrap();
        e.write_all(b"{\"timestamp\":\"2024-05-01T10:0").unwrap();
    }
    let torn_check = capinfos_ok(&newest);
    println!(
        "torn ring file before restart: capinfos says {:?}",
        torn_check
            .as_ref()
            .err()
            .and_then(|e| e.lines().rfind(|l| l.contains("cut short")))
    );
    assert!(
        torn_check.is_err(),
        "the injected torn record went unnoticed by capinfos"
    );
    // Lines before the one the restart appends to (a torn last line included in it).
    let eve_lines_at_kill = eve1.matches('\n').count();

    // Run 2 into the same directories, traffic still flowing.
    watch.run.store(2, Ordering::Relaxed);
    let t_restart = Instant::now();
    let mut s2 = start_sensor(cmd());
    println!("restarted in {} ms", t_restart.elapsed().as_millis());
    assert!(
        s2.count("torn record") >= 1,
        "no repair of {} reported at start-up",
        newest.display()
    );
    assert!(
        s2.count("cut a torn last record") >= 1,
        "no repair of eve.json reported at start-up"
    );
    // Repaired before the capture started: it passes capinfos now, and lost only the torn
    // tail (it is not rotated out yet: the ring keeps 4 files and run 2 has opened at most one).
    if let Err(e) = capinfos_ok(&newest) {
        panic!("the torn file was not repaired at start-up: {e}");
    }
    assert_eq!(
        std::fs::metadata(&newest).unwrap().len(),
        whole_len,
        "the repair did not cut exactly the torn record"
    );
    assert!(
        eventually(Duration::from_secs(10), || {
            ring_files(&ring).iter().filter_map(|f| ring_seq(f)).max() >= Some(s1_max + 2)
        }),
        "run 2 did not rotate the ring"
    );
    let fast_at_kill = fast1.matches('\n').count();
    assert!(
        eventually(Duration::from_secs(5), || {
            read(&fast).lines().count() >= fast_at_kill + 20
        }),
        "run 2 writes no alerts"
    );
    stop(&mut s2);
    flood.stop();
    let seen = watch.finish();

    // Ring: every file whole; numbering continues after run 1's newest, no number reused.
    let packets = check_ring_files(&ring);
    let mut names: BTreeMap<u64, BTreeSet<PathBuf>> = BTreeMap::new();
    for (_, p) in &seen {
        names
            .entry(ring_seq(p).unwrap())
            .or_default()
            .insert(p.clone());
    }
    for (seq, ps) in &names {
        assert_eq!(ps.len(), 1, "sequence number {seq} used twice: {ps:?}");
    }
    let run2: Vec<u64> = seen
        .iter()
        .filter(|(r, _)| *r == 2)
        .filter_map(|(_, p)| ring_seq(p))
        .collect();
    let run1_max = seen
        .iter()
        .filter(|(r, _)| *r == 1)
        .filter_map(|(_, p)| ring_seq(p))
        .max()
        .unwrap();
    assert_eq!(run1_max, s1_max);
    assert_eq!(run2.first(), Some(&(s1_max + 1)), "run 2 files: {run2:?}");
    assert!(
        run2.windows(2).all(|w| w[0] < w[1]),
        "run 2 files: {run2:?}"
    );
    println!(
        "ring: run 1 files 1..={s1_max}, run 2 files {run2:?}; {} files kept, {packets} packets read by tcpdump",
        ring_files(&ring).len()
    );

    // alert.fast: every line a whole fast line; run 2's lines after run 1's.
    let fast_text = read(&fast);
    let (fast_lines, fast_torn) = whole_lines(&fast_text, fast_shape, fast_recover);
    assert!(fast_torn <= 1, "{fast_torn} torn alert.fast lines");
    let (r1, r2) = fast_lines.split_at(fast_at_kill.min(fast_lines.len()));
    let last1 = r1.iter().filter_map(|l| snort_ts(l)).max().unwrap();
    let first2 = r2.iter().filter_map(|l| snort_ts(l)).min().unwrap();
    assert!(
        first2 > last1,
        "run 2 alert at {first2} not after run 1's last at {last1}"
    );
    for sid in [9_100_001, 9_100_002] {
        assert!(
            fast_text.contains(&format!("[1:{sid}:1]")),
            "no alert of {sid}"
        );
    }

    // alert: whole records separated by blank lines (a torn one only with a whole one after).
    let full_text = read(&log.join("alert"));
    assert!(
        full_text.ends_with("\n\n"),
        "alert does not end with a whole record"
    );
    let mut full_torn = 0;
    for rec in full_text.split("\n\n").filter(|r| !r.is_empty()) {
        if !full_shape(rec) {
            full_torn += 1;
            let i = rec.rfind("\n[**] [").map(|i| i + 1);
            assert!(
                i.is_some_and(|i| full_shape(&rec[i..])),
                "not an alert_full record: {rec:?}"
            );
        }
    }
    assert!(full_torn <= 1, "{full_torn} torn alert records");

    // eve.json: the torn line was cut when the restarted sensor opened the file, so every
    // line is JSON; run 2's alerts after run 1's.
    let eve_text = read(&eve);
    let eve_recover = |l: &str| l.rfind("{\"timestamp\"");
    let (eve_lines, eve_torn) = whole_lines(&eve_text, eve_ok, eve_recover);
    assert_eq!(
        eve_torn, 0,
        "the injected torn EVE line was cut at start-up"
    );
    assert!(eve_text.lines().all(eve_ok));
    let last1 = eve_lines[..eve_lines_at_kill]
        .iter()
        .map(|l| eve_ts(l))
        .max()
        .unwrap();
    let first2 = eve_lines[eve_lines_at_kill..]
        .iter()
        .map(|l| eve_ts(l))
        .min()
        .unwrap();
    assert!(
        first2 > last1,
        "run 2 EVE alert at {first2} not after {last1}"
    );
    println!(
        "alerts: {} fast lines ({fast_at_kill} from run 1), {} EVE records, torn lines: fast {fast_torn}, alert {full_torn}, eve {eve_torn} (injected one cut)",
        fast_lines.len(),
        eve_lines.len()
    );

    // Alert number `eve_lines_at_kill + 1` is run 2's first alert.
    let out = Command::new(BIN)
        .args(["investigate", "--json", "-l"])
        .arg(&log)
        .arg("--ring-dir")
        .arg(&ring)
        .arg(format!("#{}", eve_lines_at_kill + 1))
        .env("TZ", "UTC")
        .output()
        .expect("investigate");
    assert!(
        out.status.success(),
        "investigate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("investigate JSON");
    assert_eq!(
        v["alert"]["timestamp"].as_str(),
        Some(eve_ts(eve_lines[eve_lines_at_kill]).as_str()),
        "investigate picked another alert"
    );
}

/// SIGTERM under traffic: exit 0 within 2 s.
fn stop(p: &mut Proc) {
    let t0 = Instant::now();
    p.signal("TERM");
    let st = p
        .wait_exit(Duration::from_secs(2))
        .expect("still running 2 s after SIGTERM");
    println!(
        "sensor stopped {} ms after SIGTERM",
        t0.elapsed().as_millis()
    );
    assert_eq!(st.code(), Some(0), "exit status {st}");
}
