//! Helpers of the console tests: the seed story replayed into a temp dir, a console process
//! on an ephemeral loopback port, a raw HTTP/1.1 client (requests go out byte for byte, so
//! `..` and odd encodings reach the server as written), and a generated eve.json.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn exe() -> String {
    std::env::var("NSM_SENSOR_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_nsm-sensor").to_string())
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub const SEED_PCAP: &str = "../shared/data/seed/botcc-2007-02-21.pcap";
pub const SEED_RULES: &str = "../shared/data/seed/bleeding-botcc.rules";

/// Replays the seed capture with its rules into `root/log` and `root/ring`.
pub fn replay_seed(root: &Path) -> (PathBuf, PathBuf) {
    let (log, ring) = (root.join("log"), root.join("ring"));
    let out = Command::new(exe())
        .env("TZ", "UTC")
        .args(["replay", "-q", "--home-net", "192.168.0.0/16", "-r"])
        .arg(repo().join(SEED_RULES))
        .arg("-l")
        .arg(&log)
        .arg("--ring-dir")
        .arg(&ring)
        .arg(repo().join(SEED_PCAP))
        .output()
        .expect("run nsm-sensor replay");
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (log, ring)
}

/// A running `nsm-sensor console`; killed when dropped.
pub struct Console {
    pub child: Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub tls: bool,
}

impl Console {
    /// Starts the console with `args` (plus `--listen 127.0.0.1:0` unless given) and waits
    /// for its "listening on" line.
    pub fn start(args: &[&std::ffi::OsStr]) -> Console {
        let mut cmd = Command::new(exe());
        cmd.env("TZ", "UTC").arg("console").args(args);
        if !args.iter().any(|a| *a == "--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nsm-sensor console");
        let out = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).unwrap();
        let Some(rest) = line.split("listening on ").nth(1) else {
            let _ = child.kill();
            let st = child.wait();
            panic!("console did not start: {line:?} {st:?}");
        };
        let tls = rest.starts_with("https");
        let addr = rest
            .trim()
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Console { child, addr, tls }
    }

    /// GET `target` (sent as written) over plain HTTP.
    pub fn get(&self, target: &str) -> Resp {
        self.request(target, &[])
    }

    pub fn request(&self, target: &str, headers: &[(&str, &str)]) -> Resp {
        raw_get(&self.addr, target, headers)
    }
}

impl Drop for Console {
    /// SIGTERM (the console removes its scratch directory), SIGKILL if it lingers.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// A raw HTTP/1.1 GET with `Connection: close`.
pub fn raw_get(addr: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap().trim(), 16)
                .unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + n]);
            rest = &rest[nl + 2 + n + 2..];
        }
        body = out;
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// Writes `n` EVE alerts, one a second from `t0`, over 40 signatures, 500 sources and 20
/// destinations (the shape of a busy home sensor's week).
pub fn write_eve(path: &Path, n: usize, t0: i64) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        writeln!(w, "{}", eve_line(i, t0)).unwrap();
    }
}

pub fn eve_line(i: usize, t0: i64) -> String {
    let sid = 2_400_000 + (i * 7 % 40) as u64;
    let src = format!("10.{}.{}.{}", i % 5, (i / 5) % 10, (i * 13) % 10 + 1);
    let dst = format!("198.51.100.{}", i % 20 + 1);
    let t = chrono::DateTime::from_timestamp(t0 + i as i64, (i % 1000) as u32 * 1000).unwrap();
    serde_json::json!({
        "timestamp": t.format("%Y-%m-%dT%H:%M:%S%.6f+0000").to_string(),
        "flow_id": i, "event_type": "alert",
        "src_ip": src, "src_port": 40000 + (i % 20000), "dest_ip": dst, "dest_port": 443,
        "proto": "TCP", "pkt_src": "wire/pcap",
        "alert": {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 3,
                  "signature": format!("ET DROP Dshield Block Listed Source group {}", sid % 40),
                  "category": if sid % 2 == 0 { "Misc Attack" } else { "A Network Trojan was detected" },
                  "severity": if sid % 2 == 0 { 2 } else { 1 }},
    })
    .to_string()
}

/// Every file under `dir` with its contents, to show the console wrote nothing there.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let data = std::fs::read(&p).unwrap();
                out.push((p, data));
            }
        }
    }
    out.sort();
    out
}
