//! The console in a real browser: Debian's headless `chromium`, driven through WebDriver
//! (`chromedriver`, plain HTTP + JSON). Opens the Alerts page of the seed replay, sees an
//! alert appended to eve.json appear without a reload, clicks the seed's alert, reads the
//! verdict "3 SYNs … no reply", downloads the evidence pcap and checks it with tcpdump; screenshots each page (under `target/console-screenshots/`, and into
//! `docs/` when `NSM_UPDATE_SCREENSHOTS=1`).
//!
//! Needs `chromium` and `chromium-driver` (the Makefile's PKGS); without them it fails and
//! says so — it never skips.

mod console_util;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use console_util::{replay_seed, Console};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_tool(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/lib/chromium")]) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// A chromedriver process and one browser session; both ended when dropped.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
}

impl Browser {
    fn start(download_dir: &Path) -> Browser {
        let driver_bin = find_tool(&["chromedriver"]).unwrap_or_else(|| {
            panic!("chromedriver not found: install Debian's chromium-driver (apt-get install chromium chromium-driver, or `make deps`)")
        });
        let chromium = find_tool(&["chromium", "chromium-browser", "chrome"]).unwrap_or_else(|| {
            panic!("chromium not found: install Debian's chromium (apt-get install chromium chromium-driver, or `make deps`)")
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let mut b = Browser {
            driver,
            base,
            session: String::new(),
            agent,
        };
        let start = Instant::now();
        while b.call("GET", "/status", None).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", "--hide-scrollbars", "--force-device-scale-factor=1"],
                "prefs": {"download.default_directory": download_dir.display().to_string(),
                          "download.prompt_for_download": false, "safebrowsing.enabled": false},
            },
        }}});
        let v = b.call("POST", "/session", Some(caps)).expect("new session");
        b.session = v["sessionId"].as_str().expect("session id").to_string();
        b.cmd(
            "Browser.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": download_dir.display().to_string()}),
        );
        b
    }

    /// A WebDriver call; `Err` with the error object on failure.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let url = format!("{}{path}", self.base);
        let resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, b) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or_else(|| json!({})).to_string()),
        };
        let mut resp = resp.map_err(|e| json!({"transport": e.to_string()}))?;
        let ok = resp.status().is_success();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| json!({"read": e.to_string()}))?;
        let v: Value = serde_json::from_str(&text).map_err(|_| json!({"body": text}))?;
        if ok {
            Ok(v["value"].clone()).map(|x| {
                if path == "/session" {
                    v["value"].clone()
                } else {
                    x
                }
            })
        } else {
            Err(v)
        }
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn cmd(&self, cmd: &str, params: Value) {
        self.call(
            "POST",
            &self.s("/goog/cdp/execute"),
            Some(json!({"cmd": cmd, "params": params})),
        )
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    }

    fn go(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({"url": url})))
            .unwrap_or_else(|e| panic!("navigate {url}: {e}"));
    }

    /// The first element matching `css`, waiting up to 30 s for it.
    fn wait_for(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            let found = self.call(
                "POST",
                &self.s("/element"),
                Some(json!({"using": "css selector", "value": css})),
            );
            if let Some(id) = found.as_ref().ok().and_then(|v| v[ELEMENT].as_str()) {
                return id.to_string();
            }
            if start.elapsed() > Duration::from_secs(30) {
                let url = self.call("GET", &self.s("/url"), None);
                let src = self.call("GET", &self.s("/source"), None);
                panic!("no element {css} ({found:?}) at {url:?}; page: {src:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn text(&self, el: &str) -> String {
        self.call("GET", &self.s(&format!("/element/{el}/text")), None)
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn click(&self, el: &str) {
        self.call(
            "POST",
            &self.s(&format!("/element/{el}/click")),
            Some(json!({})),
        )
        .unwrap_or_else(|e| panic!("click: {e}"));
    }

    fn script(&self, js: &str) -> Value {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({"script": js, "args": []})),
        )
        .unwrap_or_else(|e| panic!("script: {e}"))
    }

    /// Saves a screenshot of the whole page as `name` (PNG).
    fn screenshot(&self, name: &str) {
        // Grow the window to the page's height so the picture holds all of it.
        let h = self
            .script("return Math.min(2400, document.documentElement.scrollHeight + 140);")
            .as_u64()
            .unwrap_or(1000);
        let _ = self.call(
            "POST",
            &self.s("/window/rect"),
            Some(json!({"width": 1280, "height": h})),
        );
        std::thread::sleep(Duration::from_millis(300));
        let b64 = self.call("GET", &self.s("/screenshot"), None).unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let dir = console_util::repo().join("target/console-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), &png).unwrap();
        if std::env::var_os("NSM_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
            std::fs::write(console_util::repo().join("docs").join(name), &png).unwrap();
        }
        let _ = self.call(
            "POST",
            &self.s("/window/rect"),
            Some(json!({"width": 1280, "height": 1000})),
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &self.s(""), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A stats.log as the live sensor writes it (an hour of one-minute lines), so the Sensor
/// page has something to chart: the replay itself writes none.
fn write_stats_log(log: &Path) {
    let mut text = String::new();
    let (mut packets, mut bytes, mut drops, mut alerts) = (0u64, 0u64, 0u64, 0u64);
    for m in 0..60u64 {
        let rate = 400 + (m * 37 % 23) * 40 + if (20..26).contains(&m) { 2500 } else { 0 };
        packets += rate * 60;
        bytes += rate * 60 * 610;
        drops += if m == 23 { 140 } else { 0 };
        alerts += [0, 0, 1, 0, 3, 0, 0, 2][(m % 8) as usize];
        text.push_str(&format!(
            "2026-11-30T{:02}:{:02}:00Z event=periodic uptime_s={} packets={packets} bytes={bytes} kernel_drops={drops} if_drops=0 received={packets} alerts={alerts} rules=1 ring_file=nsm_00001_20070221101750.pcap flows_evicted=0\n",
            9 + (m + 1) / 60,
            (m + 1) % 60,
            (m + 1) * 60
        ));
    }
    std::fs::write(log.join("stats.log"), text).unwrap();
}

#[test]
fn analyst_clicks_from_alert_to_verdict_and_pcap() {
    let d = tempfile::tempdir().unwrap();
    let (log, ring) = replay_seed(d.path());
    write_stats_log(&log);
    let rules = console_util::repo().join(console_util::SEED_RULES);
    let downloads = d.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let c = Console::start(&[
        OsStr::new("-l"),
        log.as_os_str(),
        OsStr::new("--ring-dir"),
        ring.as_os_str(),
        OsStr::new("-r"),
        rules.as_os_str(),
    ]);
    let base = format!("http://{}", c.addr);
    let b = Browser::start(&downloads);

    b.go(&format!("{base}/alerts"));
    let link = b.wait_for("#alerts tbody tr a.sig");
    assert_eq!(
        b.text(&link),
        "BLEEDING-EDGE DROP Known Bot C&C Server Traffic (group 1)"
    );
    let summary = b.text(&b.wait_for("#summary"));
    assert!(summary.starts_with("1 alert in 1 group "), "{summary}");
    b.screenshot("console-alerts.png");

    // A new alert appended to eve.json shows up without reloading the page.
    let eve = std::fs::read_to_string(log.join("eve.json")).unwrap();
    let newer = eve
        .trim_end()
        .replace("10:17:54.366236", "10:19:00.000000")
        .replace("\"signature_id\":2404000", "\"signature_id\":2404001")
        .replace("(group 1)", "(group 2)")
        .replace("161.53.178.240", "203.0.113.7");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(log.join("eve.json"))
        .unwrap();
    std::io::Write::write_all(&mut f, format!("{newer}\n").as_bytes()).unwrap();
    drop(f);
    let start = Instant::now();
    loop {
        let rows = b.script("return document.querySelectorAll('#alerts tbody tr').length;");
        if rows == 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the new alert did not appear"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let first = b.text(&b.wait_for("#alerts tbody tr:first-child a.sig"));
    assert!(first.ends_with("(group 2)"), "newest first: {first}");
    let link = b.wait_for("#alerts tbody tr[data-alert-id=\"1\"] a.sig");
    b.click(&link);
    let verdict = b.wait_for("#verdict");
    let start = Instant::now();
    let text = loop {
        let t = b.text(&verdict);
        if t.starts_with("Verdict:") || t.starts_with("No investigation") {
            break t;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no verdict: {t}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        text.contains("3 SYNs") && text.contains("no reply"),
        "{text}"
    );
    let rows = b.script("return document.querySelectorAll('#conversation tbody tr').length;");
    assert_eq!(rows, 3);
    let full = b.text(&b.wait_for("#alert-full"));
    assert!(full.contains("02/21-10:17:54.366236 192.168.0.31:2253 -> 161.53.178.240:6667"));
    b.screenshot("console-alert.png");

    b.click(&b.wait_for("#dl-evidence"));
    let start = Instant::now();
    let pcap = loop {
        let done: Vec<PathBuf> = std::fs::read_dir(&downloads)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
            .collect();
        if let Some(p) = done.first() {
            break p.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the evidence pcap was not downloaded"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(pcap
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("alert-1-sid2404000-20070221T101754Z"));
    let td = Command::new("tcpdump")
        .args(["-nn", "-r"])
        .arg(&pcap)
        .output()
        .expect("tcpdump is needed (Makefile PKGS installs it)");
    let lines = String::from_utf8_lossy(&td.stdout).into_owned();
    assert_eq!(lines.lines().count(), 3, "{lines}");
    assert!(lines
        .lines()
        .all(|l| l.contains("192.168.0.31.2253 > 161.53.178.240.6667: Flags [S]")));

    b.go(&format!("{base}/sensor"));
    b.wait_for("#ring tbody tr td.mono");
    b.wait_for("#rules dl");
    let ring_name = b.text(&b.wait_for("#ring tbody tr td.mono"));
    assert_eq!(ring_name, "nsm_00001_20070221101750.pcap");
    std::thread::sleep(Duration::from_millis(300));
    b.screenshot("console-sensor.png");
}
