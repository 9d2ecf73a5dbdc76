//! Test hosts for the live tests: two network namespaces joined by a veth pair, torn down on
//! drop (even when the test fails). The sensor side `A` has 198.51.100.1/24 on `veth0`, the
//! remote host `B` 198.51.100.7/24 on `veth1` (RFC 5737 documentation range: traffic never
//! leaves the pair). Also: the skip rules (root and `ip` needed) and small process helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const SENSOR_IP: &str = "198.51.100.1";
pub const REMOTE_IP: &str = "198.51.100.7";
pub const SENSOR_IF: &str = "veth0";
pub const REMOTE_IF: &str = "veth1";

/// Whether `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `None` (with a printed reason) when the live tests cannot run here.
pub fn skip_reason(extra_tools: &[&str]) -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"));
    if !root {
        return Some("not root: live capture tests need to create network namespaces".into());
    }
    for t in ["ip"].iter().chain(extra_tools) {
        if !have(t) {
            return Some(format!("`{t}` is not installed"));
        }
    }
    None
}

/// Prints the skip message and returns true when the test must be skipped.
pub fn skip(test: &str, extra_tools: &[&str]) -> bool {
    match skip_reason(extra_tools) {
        Some(why) => {
            println!("SKIPPED {test}: {why}");
            true
        }
        None => false,
    }
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Two namespaces and a veth pair between them.
pub struct NetPair {
    pub a: String,
    pub b: String,
}

impl NetPair {
    pub fn new(tag: &str) -> NetPair {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let base = format!("nsmt-{}-{tag}-{n}", std::process::id());
        let pair = NetPair {
            a: format!("{base}-a"),
            b: format!("{base}-b"),
        };
        run(&["ip", "netns", "add", &pair.a]);
        run(&["ip", "netns", "add", &pair.b]);
        run(&[
            "ip", "-n", &pair.a, "link", "add", SENSOR_IF, "type", "veth", "peer", "name",
            REMOTE_IF, "netns", &pair.b,
        ]);
        for (ns, ifc, ip) in [
            (&pair.a, SENSOR_IF, SENSOR_IP),
            (&pair.b, REMOTE_IF, REMOTE_IP),
        ] {
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                ifc,
            ]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            run(&["ip", "-n", ns, "link", "set", ifc, "up"]);
        }
        pair
    }

    /// A command run inside namespace `ns`.
    pub fn cmd(ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    pub fn in_a(&self, program: &str) -> Command {
        Self::cmd(&self.a, program)
    }

    pub fn in_b(&self, program: &str) -> Command {
        Self::cmd(&self.b, program)
    }

    /// `ping -c count` from the remote host to the sensor host.
    pub fn ping_from_b(&self, count: u32) {
        let out = self
            .in_b("ping")
            .args(["-c", &count.to_string(), "-i", "0.2", "-W", "1", SENSOR_IP])
            .output()
            .expect("ping");
        assert!(
            out.status.success(),
            "ping: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// One TCP SYN (and whatever follows; nothing listens, so a RST comes back) from B to A.
    pub fn tcp_from_b(&self, port: u16) {
        let script = format!(
            "import socket\ns=socket.socket()\ns.settimeout(1)\ntry:\n  s.connect(('{SENSOR_IP}',{port}))\nexcept OSError:\n  pass\n"
        );
        let _ = self.in_b("python3").args(["-c", &script]).output();
    }

    /// `count` UDP datagrams from B to A's `port`.
    pub fn udp_from_b(&self, port: u16, count: u32) {
        self.udp_from_b_sized(port, count, 16);
    }

    /// `count` UDP datagrams of `size` payload bytes from B to A's `port`.
    pub fn udp_from_b_sized(&self, port: u16, count: u32, size: usize) {
        let script = format!(
            "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range({count}):\n  s.sendto((b'nsm-test %06d ' % i).ljust({size}, b'x'),('{SENSOR_IP}',{port}))\n"
        );
        let out = self
            .in_b("python3")
            .args(["-c", &script])
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "udp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and with it the peer.
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A child process whose stderr is collected line by line in the background; killed on drop.
pub struct Proc {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sensor");
        let err = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("  | {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
    }

    /// Waits until a line of stderr contains `needle`; false after `timeout`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut from = 0;
        loop {
            self.drain();
            if self.seen[from..].iter().any(|l| l.contains(needle)) {
                return true;
            }
            from = self.seen.len();
            if Instant::now() >= deadline || self.child.try_wait().ok().flatten().is_some() {
                self.drain();
                return self.seen[from..].iter().any(|l| l.contains(needle));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many stderr lines so far contain `needle`.
    pub fn count(&mut self, needle: &str) -> usize {
        self.drain();
        self.seen.iter().filter(|l| l.contains(needle)).count()
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status();
    }

    /// Waits for the exit; `None` if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(50));
                self.drain();
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A scratch directory with a rules file, a config and LOGDIR/RING_DIR.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("nsmt-live-")
            .tempdir()
            .expect("tempdir");
        // A sensor that dropped to another user must still reach its files in here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        Workdir { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    /// A config with small ring files, UTC times, quick flushes and stats, and no checksum
    /// validation (veth hands locally generated TCP/UDP frames over before the checksum is
    /// filled in: checksum offload).
    pub fn config(&self, ring_files: u32, ring_mb: u64) -> PathBuf {
        self.config_flush(ring_files, ring_mb, 100)
    }

    /// [`Workdir::config`] with the alert and ring writers flushed every `flush_ms`.
    pub fn config_flush(&self, ring_files: u32, ring_mb: u64, flush_ms: u32) -> PathBuf {
        let text = format!(
            "[capture]\nbuffer_mb = 8\ntimeout_ms = 200\n\n[detect]\nchecksum_mode = \"none\"\n\n\
             [output]\ntimestamps = \"utc\"\nflush_ms = {flush_ms}\n\n\
             [ring]\nfiles = {ring_files}\nfile_size_mb = {ring_mb}\n\n[daemon]\nstats_interval_s = 1\nwatchdog = false\n"
        );
        self.write("sensor.toml", &text)
    }
}

impl Default for Workdir {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads a file, empty when missing.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Polls `cond` every 50 ms up to `timeout`.
pub fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `key=value` of the last line of `stats.log` for `key`.
pub fn last_stat(stats_log: &Path, key: &str) -> Option<u64> {
    let text = read(stats_log);
    let line = text.lines().last()?;
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// Background traffic from the remote host B to the sensor host A (see [`NetPair::flood_from_b`]).
#[derive(Debug, Clone, Copy)]
pub struct FloodSpec {
    /// UDP datagrams per second to `bulk_port` (nothing listens; A answers port unreachable).
    pub pps: u32,
    /// UDP payload bytes of each bulk datagram.
    pub size: usize,
    pub bulk_port: u16,
    /// Every `alert_every`-th datagram also goes to `alert_port` (0: never).
    pub alert_every: u32,
    pub alert_port: u16,
    /// Every `syn_every`-th datagram a TCP connection attempt (a SYN, answered by a RST) to
    /// `syn_port` (0: never).
    pub syn_every: u32,
    pub syn_port: u16,
}

/// A running flood; stopped (killed) on drop.
pub struct Flood {
    child: Child,
}

impl Flood {
    /// Stops the flood.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the sender still runs (it only stops when killed).
    pub fn running(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NetPair {
    /// Starts paced UDP (and optional TCP SYN) traffic from B to A in a background python3
    /// process, until the returned [`Flood`] is stopped or dropped. Only ever sends to
    /// [`SENSOR_IP`].
    pub fn flood_from_b(&self, f: FloodSpec) -> Flood {
        let script = format!(
            "import socket, time, errno\n\
             A = '{SENSOR_IP}'\n\
             u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             bulk = b'nsm-flood '.ljust({size}, b'x')\n\
             t0 = time.monotonic()\n\
             i = 0\n\
             while True:\n\
             \x20 try:\n\
             \x20   u.sendto(bulk, (A, {bulk_port}))\n\
             \x20   if {alert_every} and i % {alert_every} == 0:\n\
             \x20     u.sendto(b'nsm-listed %08d' % i, (A, {alert_port}))\n\
             \x20   if {syn_every} and i % {syn_every} == 0:\n\
             \x20     t = socket.socket()\n\
             \x20     t.setblocking(False)\n\
             \x20     t.connect_ex((A, {syn_port}))\n\
             \x20     t.close()\n\
             \x20 except OSError:\n\
             \x20   pass\n\
             \x20 i += 1\n\
             \x20 d = t0 + i / {pps} - time.monotonic()\n\
             \x20 if d > 0:\n\
             \x20   time.sleep(d)\n",
            size = f.size,
            bulk_port = f.bulk_port,
            alert_every = f.alert_every,
            alert_port = f.alert_port,
            syn_every = f.syn_every,
            syn_port = f.syn_port,
            pps = f.pps.max(1),
        );
        let child = self
            .in_b("python3")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the flood");
        Flood { child }
    }
}

/// `nsm-sensor run` in the sensor namespace on [`SENSOR_IF`], HOME_NET the test subnet,
/// `TZ=UTC`, outside systemd.
pub fn sensor_cmd(
    net: &NetPair,
    bin: &str,
    config: &Path,
    rules: &[&Path],
    log: &Path,
    ring: &Path,
) -> Command {
    let mut cmd = net.in_a(bin);
    cmd.args(["run", "-c"]).arg(config).args(["-i", SENSOR_IF]);
    for r in rules {
        cmd.arg("-r").arg(r);
    }
    cmd.arg("-l")
        .arg(log)
        .arg("--ring-dir")
        .arg(ring)
        .args(["--home-net", "198.51.100.0/24"])
        .env("TZ", "UTC")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null());
    cmd
}

/// Spawns `cmd` and waits (up to 30 s) for the daemon's "sensor running" line.
pub fn start_sensor(cmd: Command) -> Proc {
    let mut p = Proc::spawn(cmd);
    assert!(
        p.wait_for("sensor running", Duration::from_secs(30)),
        "sensor did not start"
    );
    p
}

/// `*.pcap` files of a ring directory, sorted by name (that is, by sequence number).
pub fn ring_files(ring: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(ring)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The sequence number of a ring file name `PREFIX_NNNNN_YYYYMMDDhhmmss.pcap`.
pub fn ring_seq(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let mut parts = name.rsplitn(3, '_');
    parts.next()?; // time.pcap
    parts.next()?.parse().ok()
}

/// `capinfos FILE` succeeds (exit 0); `Err` holds its message.
pub fn capinfos_ok(file: &Path) -> Result<(), String> {
    let out = Command::new("capinfos")
        .arg(file)
        .output()
        .expect("capinfos");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "capinfos {} (exit {:?}): {}{}",
            file.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Every ring file passes `capinfos` and `tcpdump -r`; returns how many packets tcpdump read.
pub fn check_ring_files(ring: &Path) -> usize {
    let files = ring_files(ring);
    assert!(!files.is_empty(), "no ring files in {}", ring.display());
    let mut packets = 0;
    for f in &files {
        if let Err(e) = capinfos_ok(f) {
            panic!("{e}");
        }
        let td = Command::new("tcpdump")
            .args(["-nr"])
            .arg(f)
            .output()
            .expect("tcpdump");
        assert!(
            td.status.success(),
            "tcpdump -r {}: {}",
            f.display(),
            String::from_utf8_lossy(&td.stderr)
        );
        packets += td
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
    }
    packets
}
