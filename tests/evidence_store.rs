//! The evidence store outlives the ring: a replay into a ring of 3 × 1 MB with alerts near
//! the start and 50 MB of traffic after them. The ring rotates the alerts' packets away;
//! `investigate` still gives each verdict, from the evidence store, and each event's pcap
//! holds exactly the conversation's packets within `[t - pre_s, t_last + post_s]` — checked
//! with the real tcpdump against the input (a BPF filter for the conversation, the window
//! applied to its `-tt` times). TCP with a handshake and payload, UDP, and an inbound-only
//! conversation whose alerts stop and start again (two events).

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{bin, expect_code, frame, have, run, text, write_pcap, L4};
use serde_json::Value;

const T0: i64 = 1_700_000_000;
const PRE_S: i64 = 30;
const POST_S: i64 = 60;

const RULES: &str = r#"alert tcp $HOME_NET any -> 203.0.113.5 80 (msg:"EVIL request"; content:"EVIL"; sid:1001; rev:1;)
alert udp $HOME_NET any -> 198.51.100.7 53 (msg:"BAD query"; content:"BAD"; sid:1002; rev:1;)
alert tcp 192.0.2.66 any -> $HOME_NET any (msg:"inbound scanner SYN"; flags:S; sid:1003; rev:1;)
"#;

const CLIENT: [u8; 4] = [10, 0, 0, 5];
const WEB: [u8; 4] = [203, 0, 113, 5];
const UCLIENT: [u8; 4] = [10, 0, 0, 6];
const DNS: [u8; 4] = [198, 51, 100, 7];
const SCANNER: [u8; 4] = [192, 0, 2, 66];
const VICTIM: [u8; 4] = [10, 0, 0, 7];

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;

/// The conversations under test, then 50 MB of unrelated UDP over ten minutes.
fn capture() -> Vec<(i64, u32, Vec<u8>)> {
    let mut v: Vec<(i64, u32, Vec<u8>)> = Vec::new();
    let mut at = |s: i64, us: u32, f: Vec<u8>| v.push((T0 + s, us, f));
    let c2s =
        |flags, seq, ack, p: &[u8]| frame(CLIENT, WEB, L4::Tcp(40000, 80, flags, seq, ack), p);
    let s2c =
        |flags, seq, ack, p: &[u8]| frame(WEB, CLIENT, L4::Tcp(80, 40000, flags, seq, ack), p);
    // TCP: a packet long before (outside the pre window), the handshake inside it, the
    // alerting payload at +25, data until +80, the close at +200 (past +25 + 60).
    at(-100, 0, c2s(ACK, 1, 1, b""));
    at(20, 0, c2s(SYN, 100, 0, b""));
    at(20, 10_000, s2c(SYN | ACK, 500, 101, b""));
    at(20, 20_000, c2s(ACK, 101, 501, b""));
    at(25, 0, c2s(PSH_ACK, 101, 501, b"GET /EVIL HTTP/1.0\r\n\r\n"));
    at(
        25,
        100_000,
        s2c(PSH_ACK, 501, 123, b"HTTP/1.0 200 OK\r\n\r\nhello"),
    );
    at(50, 0, c2s(ACK, 123, 525, b""));
    at(84, 999_999, c2s(ACK, 123, 525, b""));
    at(85, 1, c2s(ACK, 123, 525, b""));
    at(200, 0, c2s(FIN_ACK, 123, 525, b""));
    // Another connection between the same hosts (another port): never part of it.
    at(
        26,
        0,
        frame(CLIENT, WEB, L4::Tcp(40001, 80, SYN, 7, 0), b""),
    );
    // UDP: a query before the alert (+30), the alerting one (+31), replies, one inside the
    // window (+80) and one after it (+95).
    let q = |p: &[u8]| frame(UCLIENT, DNS, L4::Udp(5353, 53), p);
    let r = |p: &[u8]| frame(DNS, UCLIENT, L4::Udp(53, 5353), p);
    at(30, 0, q(b"hello"));
    at(30, 100_000, r(b"world"));
    at(31, 0, q(b"BAD query"));
    at(31, 100_000, r(b"answer"));
    at(80, 0, q(b"again"));
    at(95, 0, q(b"late"));
    // Inbound only: SYNs from a scanner at +5, +8, +14 (one event, to +74) and +100 (a new
    // event), never answered.
    for (s, seq) in [(5, 1u32), (8, 1), (14, 1), (100, 9)] {
        at(
            s,
            0,
            frame(SCANNER, VICTIM, L4::Tcp(5555, 22, SYN, seq, 0), b""),
        );
    }
    // 50 MB of noise, 36,000 datagrams of 1,400 bytes over ten minutes.
    let payload = vec![0x5a; 1400];
    let noise = frame([10, 0, 0, 99], [10, 1, 1, 1], L4::Udp(1000, 2000), &payload);
    for i in 0..36_000i64 {
        let us = i * 600_000_000 / 36_000;
        at(us / 1_000_000, (us % 1_000_000) as u32, noise.clone());
    }
    v.sort_by_key(|(s, u, _)| (*s, *u));
    v
}

fn config(root: &Path) -> std::path::PathBuf {
    let cfg = root.join("sensor.toml");
    fs::write(
        &cfg,
        format!(
            "[output]\ndir = \"{0}/log\"\ntimestamps = \"utc\"\n[ring]\ndir = \"{0}/ring\"\nfiles = 3\nfile_size_mb = 1\n\
             [evidence]\npre_s = {PRE_S}\npost_s = {POST_S}\n",
            root.display()
        ),
    )
    .unwrap();
    cfg
}

/// `tcpdump -tt -nn -r FILE [FILTER]` lines (the header line on stderr is not included).
fn tcpdump(file: &Path, filter: &str) -> Vec<String> {
    let mut c = Command::new("tcpdump");
    c.args(["-tt", "-nn", "-r"]).arg(file);
    if !filter.is_empty() {
        c.arg(filter);
    }
    let out = c.output().expect("tcpdump");
    assert!(out.status.success(), "tcpdump: {}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_string).collect()
}

/// Microseconds of a `tcpdump -tt` line's time.
fn line_us(l: &str) -> i64 {
    let t = l.split_whitespace().next().unwrap();
    let (s, f) = t.split_once('.').unwrap();
    s.parse::<i64>().unwrap() * 1_000_000 + f.parse::<i64>().unwrap()
}

#[test]
fn evidence_outlives_the_ring() {
    if !have("tcpdump") {
        eprintln!("skipped: tcpdump is not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let input = root.join("in.pcap");
    write_pcap(&input, &capture());
    fs::write(root.join("local.rules"), RULES).unwrap();
    let cfg = config(root);
    let out = run(bin()
        .args(["replay", "-c"])
        .arg(&cfg)
        .args(["--home-net", "10.0.0.0/8", "-r"])
        .arg(root.join("local.rules"))
        .arg(&input));
    expect_code(&out, 0);

    // The ring has rotated every alert's packets away: its oldest packet is minutes later.
    let ring: Vec<_> = fs::read_dir(root.join("ring"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    assert_eq!(ring.len(), 3, "{ring:?}");
    for f in &ring {
        let first = tcpdump(f, "").first().map(|l| line_us(l)).unwrap();
        assert!(first > (T0 + 200) * 1_000_000, "{f:?} starts at {first}");
    }

    // The store: four events (TCP, UDP, the scanner twice).
    let listed = run(bin()
        .args(["investigate", "-c"])
        .arg(&cfg)
        .args(["--list", "--json"]));
    expect_code(&listed, 0);
    let events: Vec<Value> = serde_json::from_slice::<Value>(&listed.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    let sids: Vec<u64> = events
        .iter()
        .map(|e| e["alerts"][0]["sid"].as_u64().unwrap())
        .collect();
    let mut sorted = sids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [1001, 1002, 1003, 1003], "{events:#?}");
    for e in &events {
        assert_eq!(e["state"], "closed", "{e}");
        assert_eq!(e["pre_source"], "ring", "{e}");
    }

    // Each event's pcap holds exactly the conversation's packets in its window.
    let cases = [
        (
            1001,
            T0 + 25,
            T0 + 25,
            "tcp and host 10.0.0.5 and host 203.0.113.5 and port 40000 and port 80",
            7,
        ),
        (
            1002,
            T0 + 31,
            T0 + 31,
            "udp and host 10.0.0.6 and host 198.51.100.7 and port 5353 and port 53",
            5,
        ),
        (
            1003,
            T0 + 5,
            T0 + 14,
            "tcp and host 192.0.2.66 and host 10.0.0.7 and port 5555 and port 22",
            3,
        ),
        (
            1003,
            T0 + 100,
            T0 + 100,
            "tcp and host 192.0.2.66 and host 10.0.0.7 and port 5555 and port 22",
            1,
        ),
    ];
    for (sid, first, last, filter, n) in cases {
        let e = events
            .iter()
            .find(|e| {
                e["alerts"][0]["sid"] == sid
                    && e["first_alert_us"].as_i64() == Some(first * 1_000_000)
            })
            .unwrap_or_else(|| panic!("no event for sid {sid} at {first}: {events:#?}"));
        assert_eq!(e["last_alert_us"].as_i64(), Some(last * 1_000_000), "{e}");
        let (from, until) = ((first - PRE_S) * 1_000_000, (last + POST_S) * 1_000_000);
        let want: Vec<String> = tcpdump(&input, filter)
            .into_iter()
            .filter(|l| (from..=until).contains(&line_us(l)))
            .collect();
        let got = tcpdump(Path::new(e["path"].as_str().unwrap()), "");
        assert_eq!(got, want, "sid {sid} at {first}");
        assert_eq!(got.len(), n, "sid {sid} at {first}: {got:#?}");
    }

    // investigate finds the packets in the store, says so, and gives the verdict.
    for (selector, verdict) in [
        (
            "sid:1001",
            "10.0.0.5 sent 5 packets to 203.0.113.5:80, 203.0.113.5 answered with 2 packets, \
             22 payload bytes 10.0.0.5 -> 203.0.113.5 and 24 203.0.113.5 -> 10.0.0.5; \
             a TCP connection was made and data left",
        ),
        (
            "sid:1002",
            "10.0.0.6 sent 3 packets to 198.51.100.7:53, 198.51.100.7 answered with 2 packets, \
             19 payload bytes 10.0.0.6 -> 198.51.100.7 and 11 198.51.100.7 -> 10.0.0.6",
        ),
        (
            "2023-11-14T22:13:28Z",
            "192.0.2.66 sent 3 SYNs to 10.0.0.7:22, no reply, 0 payload bytes either way; \
             no connection was made",
        ),
    ] {
        let out = run(bin().args(["investigate", "-c"]).arg(&cfg).arg(selector));
        expect_code(&out, 0);
        let s = text(&out.stdout);
        assert!(
            s.contains("Evidence store (the ring no longer holds this conversation):"),
            "{selector}: {s}"
        );
        assert!(
            s.contains(&format!("Verdict: {verdict}\n")),
            "{selector}: {s}"
        );
        let evidence = s
            .lines()
            .find_map(|l| l.strip_prefix("Evidence: "))
            .unwrap();
        assert!(
            evidence.contains(&root.join("log/evidence").display().to_string()),
            "{evidence}"
        );
    }
    // The same investigation selected by the conversation's Community ID from eve.json.
    let eve = fs::read_to_string(root.join("log/eve.json")).unwrap();
    let udp_alert: Value = eve
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["alert"]["signature_id"] == 1002)
        .unwrap();
    let cid = udp_alert["community_id"].as_str().unwrap();
    let by_cid = investigate(&cfg, &[cid]);
    assert!(
        by_cid.contains("Verdict: 10.0.0.6 sent 3 packets to 198.51.100.7:53,"),
        "{by_cid}"
    );
    let json = run(bin()
        .args(["investigate", "--json", "-c"])
        .arg(&cfg)
        .arg("sid:1001"));
    expect_code(&json, 0);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["source"], "evidence");
}

fn replay(
    root: &Path,
    cfg: &Path,
    rules: &str,
    inputs: &[&Path],
    extra: &[&str],
) -> std::process::Output {
    let r = root.join("test.rules");
    fs::write(&r, rules).unwrap();
    let mut c = bin();
    c.args(["replay", "-c"])
        .arg(cfg)
        .args(["--home-net", "10.0.0.0/8,192.168.0.0/16", "-r"])
        .arg(&r)
        .args(extra)
        .args(inputs);
    run(&mut c)
}

fn investigate(cfg: &Path, extra: &[&str]) -> String {
    let out = run(bin().args(["investigate", "-c"]).arg(cfg).args(extra));
    expect_code(&out, 0);
    text(&out.stdout)
}

fn list(cfg: &Path) -> Vec<Value> {
    let out = investigate(cfg, &["--list", "--json"]);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The seed story with the ring off still ends in the write-up's verdict, from the store.
#[test]
fn seed_story_without_the_ring_ends_in_the_same_verdict() {
    let seed = common::shared().join("seed/botcc-2007-02-21.pcap");
    let rules = fs::read_to_string(common::shared().join("seed/bleeding-botcc.rules")).unwrap();
    let verdict = |no_ring: bool| {
        let t = tempfile::tempdir().unwrap();
        let cfg = config(t.path());
        let extra: &[&str] = if no_ring { &["--no-ring"] } else { &[] };
        expect_code(&replay(t.path(), &cfg, &rules, &[&seed], extra), 0);
        let s = investigate(&cfg, &[]);
        let v = s
            .lines()
            .find_map(|l| l.strip_prefix("Verdict: "))
            .unwrap()
            .to_string();
        let from_store = s.contains("Evidence store (the ring no longer holds this conversation):");
        (v, from_store, list(&cfg).len())
    };
    let (with_ring, store_used, events) = verdict(false);
    assert!(!store_used, "the ring holds the packets: it is read first");
    assert_eq!(events, 1);
    let (without, store_used, _) = verdict(true);
    assert!(store_used);
    assert_eq!(without, with_ring);
    assert_eq!(
        without,
        "192.168.0.31 sent 3 SYNs to 161.53.178.240:6667, no reply, 0 payload bytes either way; no connection was made"
    );
}

/// Investigating from the store checked `-w` against the evidence directory instead of the
/// ring: a ring file name in the ring directory, and the store's file being read, are both
/// inputs and are refused.
#[test]
fn evidence_copy_from_the_store_never_overwrites_an_input() {
    let seed = common::shared().join("seed/botcc-2007-02-21.pcap");
    let rules = fs::read_to_string(common::shared().join("seed/bleeding-botcc.rules")).unwrap();
    let t = tempfile::tempdir().unwrap();
    let cfg = config(t.path());
    expect_code(&replay(t.path(), &cfg, &rules, &[&seed], &["--no-ring"]), 0);
    let ring = t.path().join("ring");
    fs::create_dir_all(&ring).unwrap();
    let ring_name = ring.join("nsm_00001_20070221000000.pcap");
    let stored = list(&cfg)[0]["path"].as_str().unwrap().to_string();
    let before = fs::read(&stored).unwrap();
    for out in [ring_name.to_str().unwrap(), stored.as_str()] {
        let r = run(bin()
            .args(["investigate", "-c"])
            .arg(&cfg)
            .args(["-w", out]));
        expect_code(&r, 2);
        assert!(
            text(&r.stderr).contains("refusing to overwrite"),
            "{}",
            text(&r.stderr)
        );
    }
    assert!(!ring_name.exists());
    assert_eq!(fs::read(&stored).unwrap(), before);
    // Elsewhere is fine.
    let fine = t.path().join("copy.pcap");
    investigate(&cfg, &["-w", fine.to_str().unwrap()]);
    assert_eq!(fs::read(&fine).unwrap(), before);
}

/// A conversation that alerts on every packet for an hour: one event, one file, bounded by
/// `max_packets`; every alert counted in the sidecar.
#[test]
fn an_hour_of_alerts_is_one_bounded_file() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let cfg = root.join("sensor.toml");
    fs::write(
        &cfg,
        format!(
            "[output]\ndir = \"{0}/log\"\n[ring]\ndir = \"{0}/ring\"\n[evidence]\nmax_packets = 100\n",
            root.display()
        ),
    )
    .unwrap();
    let frames: Vec<(i64, u32, Vec<u8>)> = (0..3600)
        .map(|i| {
            (
                T0 + i,
                0,
                frame(CLIENT, WEB, L4::Udp(4000, 4000), b"beacon"),
            )
        })
        .collect();
    let input = root.join("hour.pcap");
    write_pcap(&input, &frames);
    let out = replay(
        root,
        &cfg,
        "alert udp any any -> 203.0.113.5 any (msg:\"beacon\"; sid:7; rev:1;)\n",
        &[&input],
        &[],
    );
    expect_code(&out, 0);
    let events = list(&cfg);
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e["alert_count"], 3600);
    assert_eq!(e["packets"], 100);
    assert_eq!(e["truncated"], true);
    assert_eq!(e["state"], "closed");
    assert_eq!(
        tcpdump(Path::new(e["path"].as_str().unwrap()), "").len(),
        100
    );
    assert!(investigate(&cfg, &["--list"]).contains("cut at a per-event limit"));
}

/// Past the quota the oldest closed evidence goes, and the log says which.
#[test]
fn quota_deletes_the_oldest_evidence() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let cfg = root.join("sensor.toml");
    fs::write(
        &cfg,
        format!(
            "[output]\ndir = \"{0}/log\"\n[ring]\ndir = \"{0}/ring\"\n[evidence]\nmax_mb = 1\npost_s = 10\n",
            root.display()
        ),
    )
    .unwrap();
    // Five conversations of ~300 KB each, a minute apart: the store holds three at most.
    let payload = vec![7u8; 1000];
    let mut frames = Vec::new();
    for c in 0..5u8 {
        for i in 0..300 {
            let f = frame([10, 0, 0, 10 + c], WEB, L4::Udp(1000, 53), &payload);
            frames.push((T0 + i64::from(c) * 60, i * 1000, f));
        }
    }
    let input = root.join("q.pcap");
    write_pcap(&input, &frames);
    let out = replay(
        root,
        &cfg,
        "alert udp any any -> 203.0.113.5 53 (msg:\"listed\"; threshold: type limit, track by_src, seconds 3600, count 1; sid:8; rev:1;)\n",
        &[&input],
        &[],
    );
    expect_code(&out, 0);
    let events = list(&cfg);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["src_ip"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["10.0.0.12", "10.0.0.13", "10.0.0.14"],
        "the two oldest deleted"
    );
    let total: u64 = events.iter().map(|e| e["size"].as_u64().unwrap()).sum();
    assert!(total <= 1 << 20, "{total}");
    let err = text(&out.stderr);
    assert_eq!(
        err.matches("evidence quota reached: deleted the oldest evidence")
            .count(),
        2,
        "{err}"
    );
    assert!(
        err.contains("10.0.0.10"),
        "the deletion names the file: {err}"
    );
}

/// A sensor killed in the middle of an event leaves an open, torn file: the next start
/// cuts it to its last whole record and says so in the sidecar; tcpdump reads it whole.
#[test]
fn a_crash_in_the_middle_of_an_event_is_repaired_at_the_next_start() {
    use std::io::Write;
    use std::process::Stdio;
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let cfg = config(root);
    let rules = root.join("test.rules");
    fs::write(
        &rules,
        "alert udp any any -> 203.0.113.5 any (msg:\"listed\"; sid:9; rev:1;)\n",
    )
    .unwrap();
    let mut child = bin()
        .args(["replay", "--no-ring", "-c"])
        .arg(&cfg)
        .arg("-r")
        .arg(&rules)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let head = root.join("head.pcap");
    // 400 packets of 1 KB: more than one batch of copies reaches the writer.
    let frames: Vec<(i64, u32, Vec<u8>)> = (0..400)
        .map(|i| {
            (
                T0 + i / 10,
                0,
                frame(CLIENT, WEB, L4::Udp(4000, 4000), &[b'x'; 1000]),
            )
        })
        .collect();
    write_pcap(&head, &frames);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&fs::read(&head).unwrap()).unwrap();
    stdin.flush().unwrap();
    let store = root.join("log/evidence");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // A replay has no flush tick: the event's index entry is written when it closes, so the
    // pcap growing is what shows the event under way.
    let pcap = loop {
        let found = fs::read_dir(&store).ok().and_then(|d| {
            d.map(|e| e.unwrap().path())
                .find(|p| p.extension().is_some_and(|x| x == "pcap"))
        });
        if let Some(p) = found.filter(|p| fs::metadata(p).is_ok_and(|m| m.len() > 200_000)) {
            break p;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no evidence pcap grew"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        fs::read_to_string(store.join("index.jsonl"))
            .unwrap_or_default()
            .is_empty(),
        "closed already?"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);
    // The crash tore the last record: half a record header at the end.
    let whole = fs::metadata(&pcap).unwrap().len();
    fs::OpenOptions::new()
        .append(true)
        .open(&pcap)
        .unwrap()
        .write_all(&[1, 2, 3, 4, 5, 6, 7])
        .unwrap();

    // The next start (any replay with the same store) repairs it.
    let empty = root.join("empty.pcap");
    write_pcap(&empty, &[]);
    let out = run(bin()
        .args(["replay", "--no-ring", "-c"])
        .arg(&cfg)
        .arg("-r")
        .arg(&rules)
        .arg(&empty));
    expect_code(&out, 0);
    assert!(
        text(&out.stderr).contains(
            "evidence file ends in a torn record (crash?): truncated to the last whole record"
        ),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fs::metadata(&pcap).unwrap().len(), whole);
    let events = list(&cfg);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["state"], "repaired");
    // The conversation is told from the first packet, the signature from the name.
    assert_eq!(events[0]["src_ip"], "10.0.0.5");
    assert_eq!(events[0]["dest_port"], 4000);
    assert_eq!(events[0]["alerts"][0]["sid"], 9);
    let n = events[0]["packets"].as_u64().unwrap();
    assert!(n >= 200, "{n}");
    assert_eq!(tcpdump(&pcap, "").len() as u64, n);
    assert!(investigate(&cfg, &["--list"]).contains("repaired after a crash"));

    // A crash in the middle of an index line: the next start writes the index anew, one
    // whole line per event.
    let index = store.join("index.jsonl");
    fs::OpenOptions::new()
        .append(true)
        .open(&index)
        .unwrap()
        .write_all(b"{\"file\":\"2023")
        .unwrap();
    let out = run(bin()
        .args(["replay", "--no-ring", "-c"])
        .arg(&cfg)
        .arg("-r")
        .arg(&rules)
        .arg(&empty));
    expect_code(&out, 0);
    let text = fs::read_to_string(&index).unwrap();
    assert!(text.ends_with('\n') && text.lines().count() == 1, "{text}");
    assert_eq!(list(&cfg).len(), 1);
}

/// The verdict is the same from the ring and from the store: with the store holding the
/// event, `investigate` reads the ring over the event's window too (the TCP conversation has
/// a packet 100 s before the alert, outside `pre_s`, that neither counts).
#[test]
fn ring_and_store_give_the_same_investigation() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let cfg = root.join("sensor.toml");
    fs::write(
        &cfg,
        format!(
            "[output]\ndir = \"{0}/log\"\ntimestamps = \"utc\"\n[ring]\ndir = \"{0}/ring\"\n\
             [evidence]\npre_s = {PRE_S}\npost_s = {POST_S}\n",
            root.display()
        ),
    )
    .unwrap();
    let frames: Vec<_> = capture()
        .into_iter()
        .filter(|(_, _, f)| f.len() < 1000)
        .collect();
    let input = root.join("in.pcap");
    write_pcap(&input, &frames);
    expect_code(&replay(root, &cfg, RULES, &[&input], &[]), 0);
    let body = |s: &str| {
        let from = s.find("Conversation ").unwrap();
        let to = s.find("Evidence: ").unwrap();
        s[from..to].to_string()
    };
    let from_ring = investigate(&cfg, &["sid:1001"]);
    assert!(from_ring.contains("Ring files:"), "{from_ring}");
    fs::remove_dir_all(root.join("ring")).unwrap();
    let from_store = investigate(&cfg, &["sid:1001"]);
    assert!(from_store.contains("Evidence store"), "{from_store}");
    assert_eq!(body(&from_ring), body(&from_store));
    assert!(body(&from_store).contains("(7 packets)"), "{from_store}");
}
