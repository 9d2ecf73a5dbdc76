//! `nsm-sensor update` end to end against a real HTTP/1.1 server on 127.0.0.1 run by the
//! test (std's TcpListener; it controls ETags and 304s, statuses, bodies and truncation, and
//! counts downloads). Tarballs are built at test time from the ET sets in
//! `../shared/data/rules/et/older-2017-12-14/` (first version) and `../shared/data/rules/et/`
//! (second). Every failure case checks that the versions directory — `current`, the old
//! version, state and cache — is byte for byte as before.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{bin, expect_code, frame, run, shared, text, write_pcap, L4};

// ---------------------------------------------------------------------------------------
// The HTTP server.

#[derive(Clone, Default)]
struct Route {
    status: u16,
    body: Vec<u8>,
    content_type: String,
    etag: Option<String>,
    /// Close the connection after this many body bytes (Content-Length still says all).
    cut_after: Option<usize>,
    delay: Duration,
}

#[derive(Default)]
struct Shared {
    routes: HashMap<String, Route>,
    /// Full bodies sent per path (200s), and requests per path.
    downloads: HashMap<String, usize>,
    requests: HashMap<String, usize>,
}

struct Server {
    port: u16,
    state: Arc<Mutex<Shared>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(Shared::default()));
        let st = Arc::clone(&state);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = Arc::clone(&st);
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        Server { port, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn set(&self, path: &str, route: Route) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), route);
    }

    /// A tarball at `path` with ETag `etag` and its `path.md5`.
    fn tarball(&self, path: &str, body: Vec<u8>, etag: &str) {
        let md5 = md5_hex(&body);
        self.set(
            path,
            Route {
                status: 200,
                body,
                content_type: "application/x-gzip".into(),
                etag: Some(format!("\"{etag}\"")),
                ..Route::default()
            },
        );
        self.set(
            &format!("{path}.md5"),
            Route {
                status: 200,
                body: format!("{md5}\n").into_bytes(),
                content_type: "text/plain".into(),
                ..Route::default()
            },
        );
    }

    fn downloads(&self, path: &str) -> usize {
        *self.state.lock().unwrap().downloads.get(path).unwrap_or(&0)
    }

    fn requests(&self, path: &str) -> usize {
        *self.state.lock().unwrap().requests.get(path).unwrap_or(&0)
    }
}

fn serve(conn: TcpStream, st: &Mutex<Shared>) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let route = {
        let mut s = st.lock().unwrap();
        *s.requests.entry(path.clone()).or_default() += 1;
        s.routes.get(&path).cloned()
    };
    let mut w = conn;
    let Some(route) = route else {
        let body = "<html><body>404 Not Found</body></html>";
        let _ = write!(
            w,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    };
    std::thread::sleep(route.delay);
    if let (Some(etag), Some(inm)) = (&route.etag, headers.get("if-none-match")) {
        if inm == etag {
            let _ = write!(
                w,
                "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n"
            );
            return;
        }
    }
    if route.status == 200 {
        *st.lock()
            .unwrap()
            .downloads
            .entry(path.clone())
            .or_default() += 1;
    }
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        route.status,
        route.content_type,
        route.body.len()
    );
    if let Some(e) = &route.etag {
        head.push_str(&format!("ETag: {e}\r\n"));
    }
    head.push_str("\r\n");
    let _ = w.write_all(head.as_bytes());
    let n = route.cut_after.unwrap_or(route.body.len());
    let _ = w.write_all(&route.body[..n]);
    let _ = w.flush();
}

// ---------------------------------------------------------------------------------------
// Archives and independent counts.

fn gz(tar: Vec<u8>) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&tar).unwrap();
    e.finish().unwrap()
}

fn md5_hex(b: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// ET's layout: `rules/*.rules`, `rules/classification.config`, `rules/reference.config`
/// from `dir`, plus `extra` (name under rules/, text).
fn et_tarball(dir: &Path, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file()
                && p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.ends_with(".rules") || n.ends_with(".config")
                })
        })
        .collect();
    names.sort();
    for p in names {
        let data = std::fs::read(&p).unwrap();
        let name = format!("rules/{}", p.file_name().unwrap().to_string_lossy());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    for (name, data) in extra {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("rules/{name}"), data.as_bytes())
            .unwrap();
    }
    gz(b.into_inner().unwrap())
}

/// A tarball with one entry whose raw header name is `name` and type `kind`.
fn evil_tarball(name: &str, kind: tar::EntryType) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let good = "alert ip any any -> 10.9.9.9 any (msg:\"x\"; sid:1000001; rev:1;)\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(good.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "rules/good.rules", good.as_bytes())
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(kind);
    if kind == tar::EntryType::Symlink {
        h.set_link_name("/etc/passwd").unwrap();
    }
    let data: &[u8] = if kind == tar::EntryType::Regular {
        good.as_bytes()
    } else {
        b""
    };
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, data).unwrap();
    gz(b.into_inner().unwrap())
}

fn older() -> PathBuf {
    shared().join("rules/et/older-2017-12-14")
}

fn newer() -> PathBuf {
    shared().join("rules/et")
}

/// The sids of the active (not commented-out) rules of every `*.rules` file in `dir`: an
/// independent count for the summary's added/removed.
fn sids(dir: &Path) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "rules") {
            continue;
        }
        for line in std::fs::read_to_string(&p).unwrap().lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            if let Some(i) = l.find("sid:") {
                let digits: String = l[i + 4..]
                    .trim_start()
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                out.insert(digits.parse().unwrap());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The command and the versions directory.

struct Site {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
}

impl Site {
    fn dir(&self) -> PathBuf {
        self.root.join("versions")
    }

    fn current(&self) -> Option<String> {
        std::fs::read_link(self.dir().join("current"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    }

    fn update(&self, args: &[&str]) -> std::process::Output {
        run(bin()
            .arg("update")
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy"))
    }

    fn json(&self, args: &[&str], code: i32) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.update(&a);
        expect_code(&out, code);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
    }

    /// Every entry under the versions directory: path → file bytes or link target.
    fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        fn walk(root: &Path, p: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for e in std::fs::read_dir(p).unwrap() {
                let path = e.unwrap().path();
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                let m = std::fs::symlink_metadata(&path).unwrap();
                if m.file_type().is_symlink() {
                    let t = std::fs::read_link(&path).unwrap();
                    out.insert(rel, t.to_string_lossy().as_bytes().to_vec());
                } else if m.is_dir() {
                    out.insert(rel, b"<dir>".to_vec());
                    walk(root, &path, out);
                } else {
                    out.insert(rel, std::fs::read(&path).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.dir(), &self.dir(), &mut out);
        out
    }
}

/// A site whose config has `sources` (TOML `[[update.source]]` tables) and `extra` keys in
/// `[update]`.
fn site(update_extra: &str, sources: &str) -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let config = root.join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[rules]\nfiles = [\"versions/current/\"]\n\
             [vars]\nHOME_NET = \"[192.168.0.0/16]\"\n\
             [update]\ndir = \"versions\"\ntimeout_s = 10\n{update_extra}\n{sources}\n"
        ),
    )
    .unwrap();
    Site {
        _tmp: tmp,
        root,
        config,
    }
}

fn et_source(url: &str) -> String {
    format!(
        "[[update.source]]\nname = \"et-open\"\nkind = \"tarball\"\nurl = \"{url}\"\nchecksum = \"md5\"\n"
    )
}

/// A site with v1 installed from `server` at `/et.tar.gz`; returns it and the version.
fn installed(server: &Server, update_extra: &str) -> (Site, String) {
    server.tarball("/et.tar.gz", et_tarball(&older(), &[]), "v1");
    let s = site(update_extra, &et_source(&server.url("/et.tar.gz")));
    let j = s.json(&[], 0);
    assert_eq!(j["status"], "switched", "{j:#}");
    let v1 = s.current().unwrap();
    (s, v1)
}

/// Runs a failing update and checks exit 1, the source's reason, and nothing changed.
fn fails_with(s: &Site, want: &str) -> serde_json::Value {
    let before = s.snapshot();
    let cur = s.current();
    let j = s.json(&[], 1);
    assert_eq!(j["status"], "sources-failed", "{j:#}");
    let src = &j["sources"][0];
    assert_eq!(src["status"], "failed", "{j:#}");
    let reason = src["reason"].as_str().unwrap();
    assert!(reason.contains(want), "{reason:?} should contain {want:?}");
    assert_eq!(s.current(), cur, "current moved");
    assert_eq!(s.snapshot(), before, "the versions directory changed");
    j
}

// ---------------------------------------------------------------------------------------

/// First install, a second update counted against the two directories' sid sets, a third
/// run that downloads nothing (304), then `--rollback`.
#[test]
fn install_update_unchanged_rollback() {
    let server = Server::start();
    let (s, v1) = installed(&server, "");
    assert_eq!(server.downloads("/et.tar.gz"), 1);
    let old = sids(&older());
    let new = sids(&newer());
    let v1_files: Vec<String> = std::fs::read_dir(s.dir().join(&v1))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        v1_files.contains(&"et-open-emerging-botcc.rules".to_string()),
        "{v1_files:?}"
    );

    // Second version.
    server.tarball("/et.tar.gz", et_tarball(&newer(), &[]), "v2");
    // One second later at least, so the stamp differs (a collision would get `-2`).
    let j = s.json(&[], 0);
    assert_eq!(j["status"], "switched", "{j:#}");
    assert_eq!(j["sources"][0]["status"], "fetched");
    assert_eq!(j["previous"], v1.as_str());
    let v2 = s.current().unwrap();
    assert_ne!(v1, v2);
    assert_eq!(j["version"], v2.as_str());
    let added = new.difference(&old).count();
    let removed = old.difference(&new).count();
    assert_eq!(j["rules"]["added"], added, "{j:#}");
    assert_eq!(j["rules"]["removed"], removed, "{j:#}");
    assert!(j["rules"]["loaded"].as_u64().unwrap() > 1000, "{j:#}");
    assert!(s.dir().join(&v1).is_dir(), "the old version is kept");
    assert_eq!(server.downloads("/et.tar.gz"), 2);

    // Third run: the server answers 304, nothing is downloaded or switched.
    let before = s.snapshot();
    let j = s.json(&[], 0);
    assert_eq!(j["status"], "unchanged", "{j:#}");
    assert_eq!(j["sources"][0]["status"], "unchanged");
    assert_eq!(j["sources"][0]["bytes"], 0);
    assert_eq!(
        server.downloads("/et.tar.gz"),
        2,
        "the third run downloaded"
    );
    assert_eq!(server.requests("/et.tar.gz"), 3);
    assert_eq!(s.current().as_deref(), Some(v2.as_str()));
    assert_eq!(s.snapshot(), before);

    // --dry-run builds and validates, switches nothing, leaves nothing behind.
    let out = s.update(&["--dry-run"]);
    expect_code(&out, 0);
    assert_eq!(s.snapshot(), before);

    // Rollback to v1, and the text summary says so.
    let out = s.update(&["--rollback"]);
    expect_code(&out, 0);
    assert!(
        text(&out.stdout).contains("rolled back"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(s.current().as_deref(), Some(v1.as_str()));
    // Nothing older than v1: a second rollback fails and leaves current alone.
    let out = s.update(&["--rollback"]);
    expect_code(&out, 1);
    assert_eq!(s.current().as_deref(), Some(v1.as_str()));
}

#[test]
fn checksum_mismatch_fails() {
    let server = Server::start();
    let (s, _) = installed(&server, "");
    server.tarball("/et.tar.gz", et_tarball(&newer(), &[]), "v2");
    server.set(
        "/et.tar.gz.md5",
        Route {
            status: 200,
            body: b"0123456789abcdef0123456789abcdef\n".to_vec(),
            content_type: "text/plain".into(),
            ..Route::default()
        },
    );
    fails_with(&s, "MD5 mismatch");
}

#[test]
fn truncated_archive_fails() {
    let server = Server::start();
    let (s, _) = installed(&server, "");
    // A whole HTTP response whose body is half an archive.
    let mut body = et_tarball(&newer(), &[]);
    body.truncate(body.len() / 2);
    let md5 = md5_hex(&body);
    server.set(
        "/et.tar.gz",
        Route {
            status: 200,
            body,
            content_type: "application/x-gzip".into(),
            etag: Some("\"half\"".into()),
            ..Route::default()
        },
    );
    server.set(
        "/et.tar.gz.md5",
        Route {
            status: 200,
            body: md5.into_bytes(),
            ..Route::default()
        },
    );
    fails_with(&s, "archive");
    // A connection closed before Content-Length bytes.
    server.tarball("/et.tar.gz", et_tarball(&newer(), &[]), "v2");
    let mut r = server.state.lock().unwrap().routes["/et.tar.gz"].clone();
    r.cut_after = Some(r.body.len() / 3);
    server.set("/et.tar.gz", r);
    fails_with(&s, "download stopped");
}

#[test]
fn dangerous_entries_are_refused() {
    let server = Server::start();
    let (s, _) = installed(&server, "");
    for (name, kind, want) in [
        ("../x.rules", tar::EntryType::Regular, "'..'"),
        ("/tmp/x.rules", tar::EntryType::Regular, "absolute path"),
        ("rules/l.rules", tar::EntryType::Symlink, "symbolic link"),
    ] {
        server.tarball("/et.tar.gz", evil_tarball(name, kind), name);
        fails_with(&s, want);
    }
    assert!(!s.root.join("x.rules").exists() && !Path::new("/tmp/x.rules").exists());
}

#[test]
fn oversized_downloads_and_archives_fail() {
    let server = Server::start();
    let (s, _) = installed(&server, "max_unpacked_mb = 2\nmax_download_mb = 1\n");
    // A gzip bomb: 5 MB of zeros in a few kilobytes, against a 2 MB bound.
    let zeros = "\0".repeat(5 << 20);
    let bomb = et_tarball(&newer(), &[("zeros.rules", zeros.as_str())]);
    assert!(bomb.len() < 1 << 20);
    server.tarball("/et.tar.gz", bomb, "bomb");
    fails_with(&s, "max_unpacked_mb");
    // 1.5 MB of incompressible bytes in a gzip wrapper: too big to download.
    let mut noise = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while noise.len() < 1_500_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    let mut body = vec![0x1f, 0x8b];
    body.extend_from_slice(&noise);
    server.tarball("/et.tar.gz", body, "big");
    fails_with(&s, "max_download_mb");
}

#[test]
fn server_down_and_html_pages_fail() {
    let server = Server::start();
    let (s, _) = installed(&server, "");
    // HTML with a 200.
    server.set(
        "/et.tar.gz",
        Route {
            status: 200,
            body: b"<!DOCTYPE html><html><body>Please log in</body></html>".to_vec(),
            content_type: "text/html".into(),
            etag: Some("\"html\"".into()),
            ..Route::default()
        },
    );
    fails_with(&s, "HTML page");
    // A 404 (an HTML error page).
    server.state.lock().unwrap().routes.remove("/et.tar.gz");
    fails_with(&s, "HTTP 404");
    // Nobody listening.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let text = std::fs::read_to_string(&s.config).unwrap();
    let text = text.replace(
        &server.url("/et.tar.gz"),
        &format!("http://127.0.0.1:{port}/et.tar.gz"),
    );
    std::fs::write(&s.config, text).unwrap();
    fails_with(&s, &format!("127.0.0.1:{port}"));
}

/// A rule that does not parse: exit 78, diagnostics located in the kept-aside version,
/// `current` and the old version untouched, and no state remembered for the bad download.
#[test]
fn invalid_new_set_is_kept_aside() {
    let server = Server::start();
    let (s, v1) = installed(&server, "");
    let before = s.snapshot();
    let bad = "alert ip any any -> any any (msg:\"ok\"; sid:7000001; rev:1;)\n\
               alert ip any any -> any any (msg:\"bad\"; sid:7000002; rev:1; flow:sideways;)\n";
    server.tarball(
        "/et.tar.gz",
        et_tarball(&newer(), &[("emerging-bad.rules", bad)]),
        "bad",
    );
    let out = s.update(&[]);
    expect_code(&out, 78);
    let stdout = text(&out.stdout);
    assert_eq!(s.current().as_deref(), Some(v1.as_str()));
    let rejected: Vec<PathBuf> = std::fs::read_dir(s.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("rejected-"))
        })
        .collect();
    assert_eq!(rejected.len(), 1, "{stdout}");
    let bad_file = rejected[0].join("et-open-emerging-bad.rules");
    assert!(bad_file.is_file());
    let want = format!("{}:2:", bad_file.display());
    assert!(stdout.contains(&want), "{want} not in\n{stdout}");
    // Everything that was there is as it was.
    let after = s.snapshot();
    for (k, v) in &before {
        assert_eq!(after.get(k), Some(v), "{k} changed");
    }
    assert_eq!(
        after.len(),
        before.len() + 1 + std::fs::read_dir(&rejected[0]).unwrap().count()
    );
}

/// Two runs at once: the second waits for the lock at most `timeout_s`, then exits 1 saying
/// why; the first finishes normally.
#[test]
fn concurrent_runs_are_locked() {
    let server = Server::start();
    let (s, v1) = installed(&server, "");
    let mut slow = server.state.lock().unwrap().routes["/et.tar.gz"].clone();
    slow.body = et_tarball(&newer(), &[]);
    slow.etag = Some("\"slow\"".into());
    slow.delay = Duration::from_secs(3);
    let md5 = md5_hex(&slow.body);
    server.set("/et.tar.gz", slow);
    server.set(
        "/et.tar.gz.md5",
        Route {
            status: 200,
            body: md5.into_bytes(),
            ..Route::default()
        },
    );
    let first = bin()
        .arg("update")
        .arg("-c")
        .arg(&s.config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first run is inside its download (it holds the lock by then).
    let t0 = std::time::Instant::now();
    while server.requests("/et.tar.gz") < 2 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let impatient = s.root.join("impatient.toml");
    let cfg = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace("timeout_s = 10", "timeout_s = 1")
        .replace(
            "dir = \"versions\"",
            &format!("dir = \"{}\"", s.dir().display()),
        );
    std::fs::write(&impatient, cfg).unwrap();
    let out = run(bin().arg("update").arg("-c").arg(&impatient));
    expect_code(&out, 1);
    assert!(
        text(&out.stdout).contains("holds the lock"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(s.current().as_deref(), Some(v1.as_str()));
    let mut first_out = String::new();
    let mut first = first;
    first
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut first_out)
        .unwrap();
    assert!(first.wait().unwrap().success(), "{first_out}");
    assert_ne!(s.current().as_deref(), Some(v1.as_str()));
}

fn text_route(body: &str, etag: &str) -> Route {
    Route {
        status: 200,
        body: body.as_bytes().to_vec(),
        content_type: "text/plain".into(),
        etag: Some(format!("\"{etag}\"")),
        ..Route::default()
    }
}

/// Replays one UDP packet from 192.168.1.10 to each of `dsts` (one a second) with the rules
/// of `config` (whose `[rules] files` is `versions/current/`); returns alert.fast.
fn replay_to(s: &Site, dsts: &[[u8; 4]], tag: &str) -> String {
    let frames: Vec<(i64, u32, Vec<u8>)> = dsts
        .iter()
        .enumerate()
        .map(|(i, d)| {
            (
                1_700_000_000 + i as i64,
                0,
                frame([192, 168, 1, 10], *d, L4::Udp(40000 + i as u16, 53), b"q"),
            )
        })
        .collect();
    let pcap = s.root.join(format!("{tag}.pcap"));
    write_pcap(&pcap, &frames);
    let log = s.root.join(format!("log-{tag}"));
    let out = run(bin()
        .arg("replay")
        .arg("-c")
        .arg(&s.config)
        .arg("--no-ring")
        .arg("-l")
        .arg(&log)
        .arg(&pcap));
    expect_code(&out, 0);
    std::fs::read_to_string(log.join("alert.fast")).unwrap_or_default()
}

/// Two IP feeds (Spamhaus DROP and Feodo Tracker formats) through `update`, then a replay
/// with `[rules] files = ["versions/current/"]`: traffic to a listed address alerts, to an
/// unlisted one not; a changed feed counts its added and removed addresses and the new
/// address alerts after the switch.
#[test]
fn iplist_sources_alert_on_replay() {
    let server = Server::start();
    let drop1 = "; Spamhaus DROP List 2026/12/01\n; https://www.spamhaus.org/drop/drop.txt\n\
                 1.10.16.0/20 ; SBL256894\n2.56.192.0/22 ; SBL459831\n";
    let feodo1 = "# abuse.ch Feodo Tracker Botnet C2 IP Blocklist\n# DstIP\n\
                  103.109.247.10\n139.59.126.41\n# END 2 entries\n";
    server.set("/drop.txt", text_route(drop1, "d1"));
    server.set("/feodo.txt", text_route(feodo1, "f1"));
    let sources = format!(
        "[[update.source]]\nname = \"spamhaus-drop\"\nkind = \"iplist\"\nurl = \"{}\"\n\
         sid = 9000001\nmsg = \"Spamhaus DROP listed address\"\nclasstype = \"misc-attack\"\ndirection = \"both\"\n\
         [[update.source]]\nname = \"feodo\"\nkind = \"iplist\"\nurl = \"{}\"\n\
         sid = 9001001\nmsg = \"Feodo Tracker C2\"\nclasstype = \"trojan-activity\"\ndirection = \"to\"\n\
         threshold = \"type limit, track by_src, seconds 3600, count 1\"\n",
        server.url("/drop.txt"),
        server.url("/feodo.txt")
    );
    let s = site("", &sources);
    let j = s.json(&[], 0);
    assert_eq!(j["status"], "switched", "{j:#}");
    assert_eq!(j["sources"][0]["addresses"]["total"], 2, "{j:#}");
    assert_eq!(j["sources"][1]["addresses"]["added"], 2, "{j:#}");
    let v1 = s.current().unwrap();
    for f in [
        "spamhaus-drop.rules",
        "spamhaus-drop.list",
        "feodo.rules",
        "feodo.list",
    ] {
        assert!(s.dir().join(&v1).join(f).is_file(), "{f}");
    }
    let fast = replay_to(
        &s,
        &[[1, 10, 20, 7], [139, 59, 126, 41], [139, 59, 126, 42]],
        "a",
    );
    let lines: Vec<&str> = fast.lines().collect();
    assert_eq!(lines.len(), 2, "{fast}");
    assert!(
        lines[0].contains("[1:9000001:1] Spamhaus DROP listed address"),
        "{fast}"
    );
    assert!(lines[0].contains("-> 1.10.20.7:53"), "{fast}");
    assert!(
        lines[1].contains("[1:9001001:1] Feodo Tracker C2"),
        "{fast}"
    );
    assert!(lines[1].contains("-> 139.59.126.41:53"), "{fast}");

    // Feodo drops one address and lists a new one.
    let feodo2 = "# abuse.ch Feodo Tracker Botnet C2 IP Blocklist\n# DstIP\n\
                  139.59.126.41\n203.0.113.99\n# END 2 entries\n";
    server.set("/feodo.txt", text_route(feodo2, "f2"));
    let j = s.json(&[], 0);
    assert_eq!(j["status"], "switched", "{j:#}");
    assert_eq!(j["sources"][0]["status"], "unchanged", "{j:#}");
    assert_eq!(j["sources"][1]["status"], "fetched", "{j:#}");
    assert_eq!(j["sources"][1]["addresses"]["added"], 1, "{j:#}");
    assert_eq!(j["sources"][1]["addresses"]["removed"], 1, "{j:#}");
    assert_eq!(
        server.downloads("/drop.txt"),
        1,
        "an unchanged feed was downloaded again"
    );
    let fast = replay_to(&s, &[[203, 0, 113, 99], [103, 109, 247, 10]], "b");
    assert_eq!(fast.lines().count(), 1, "{fast}");
    assert!(fast.contains("-> 203.0.113.99:53"), "{fast}");
    assert!(s.dir().join(&v1).is_dir());
}

/// A pidfile configured but no sensor running: the switch stands and the summary says there
/// was nothing to reload (exit 0); `--no-reload` does not look.
#[test]
fn no_running_sensor_to_reload() {
    let server = Server::start();
    server.set(
        "/local.rules",
        text_route(
            "alert ip any any -> 10.1.2.3 any (msg:\"l\"; sid:1000001; rev:1;)\n",
            "l1",
        ),
    );
    let s = site(
        "",
        &format!(
            "[daemon]\npidfile = \"run/nsm-sensor.pid\"\n\
             [[update.source]]\nname = \"local\"\nkind = \"rules\"\nurl = \"{}\"\n",
            server.url("/local.rules")
        ),
    );
    let j = s.json(&[], 0);
    assert_eq!(j["status"], "switched", "{j:#}");
    assert!(
        j["reload"]
            .as_str()
            .unwrap()
            .starts_with("no running sensor to reload"),
        "{j:#}"
    );
    let out = s.update(&["--rollback", "--no-reload"]);
    expect_code(&out, 1); // nothing older to roll back to
    assert!(
        text(&out.stderr).contains("no version older than"),
        "{}",
        text(&out.stderr)
    );

    // No sources at all: a configuration problem, and no empty version is made.
    let empty = site("", "");
    let out = empty.update(&[]);
    expect_code(&out, 78);
    assert!(text(&out.stderr).contains("no [[update.source]]"));
    assert!(!empty.dir().exists());
}

/// suricata-update's edit files applied to a fetched rule file, each edit counted; an edit
/// file with an error stops the run (exit 78) before anything is built.
#[test]
fn edits_are_applied_and_counted() {
    let server = Server::start();
    let rules = "alert ip any any -> 10.1.2.1 any (msg:\"one\"; sid:1000001; rev:1;)\n\
                 alert ip any any -> 10.1.2.3 any (msg:\"two\"; sid:1000002; rev:1;)\n\
                 # alert ip any any -> 10.1.2.5 any (msg:\"three\"; sid:1000003; rev:1;)\n";
    server.set("/local.rules", text_route(rules, "r1"));
    let s = site(
        "enable = \"enable.conf\"\ndisable = \"disable.conf\"\nmodify = \"modify.conf\"\n",
        &format!(
            "[[update.source]]\nname = \"local\"\nkind = \"rules\"\nurl = \"{}\"\n",
            server.url("/local.rules")
        ),
    );
    std::fs::write(s.root.join("enable.conf"), "1000003\n").unwrap();
    std::fs::write(s.root.join("disable.conf"), "# comment\n1:1000001\n").unwrap();
    std::fs::write(
        s.root.join("modify.conf"),
        "1000002 \"10.1.2.3\" \"10.1.2.4\"\n",
    )
    .unwrap();
    let j = s.json(&[], 0);
    assert_eq!(j["status"], "switched", "{j:#}");
    assert_eq!(j["edits"]["enabled"], 1, "{j:#}");
    assert_eq!(j["edits"]["disabled"], 1, "{j:#}");
    assert_eq!(j["edits"]["modified"], 1, "{j:#}");
    let v = s.current().unwrap();
    let body = std::fs::read_to_string(s.dir().join(&v).join("local.rules")).unwrap();
    assert!(body.contains("10.1.2.4"), "{body}");
    assert!(
        body.lines()
            .any(|l| l.starts_with("alert") && l.contains("sid:1000003")),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with('#') && l.contains("sid:1000001")),
        "{body}"
    );
    assert_eq!(j["rules"]["loaded"], 2, "{j:#}");

    // A bad line in an edit file: exit 78, located, nothing changed.
    std::fs::write(s.root.join("modify.conf"), "1000002 \"unterminated\n").unwrap();
    server.set(
        "/local.rules",
        text_route(&rules.replace("rev:1", "rev:2"), "r2"),
    );
    let before = s.snapshot();
    let out = s.update(&[]);
    expect_code(&out, 78);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("modify.conf:1:"), "{stdout}");
    assert_eq!(s.snapshot(), before);
}
