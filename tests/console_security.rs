//! The console's security rules: path traversal in every parameter reaches no file; a
//! non-loopback `--listen` without TLS and authentication is refused at start-up; over TLS
//! a wrong password or token is rejected and the right ones admitted; hostile rule text (a
//! `msg` with `<script>`) is escaped; oversized carves are refused.

mod console_util;

use std::ffi::OsStr;
use std::process::Command;

use console_util::{exe, replay_seed, Console};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// What no answer may contain: a line of /etc/passwd, of the config, of the rules file.
fn leaked(body: &str) -> bool {
    body.contains("root:x:0:0") || body.contains("root:*:") || body.contains("[console]")
}

#[test]
fn path_traversal_in_every_parameter() {
    let d = tempfile::tempdir().unwrap();
    let (log, ring) = replay_seed(d.path());
    std::fs::write(
        d.path().join("sensor.toml"),
        "[console]\nmax_carve_s = 600\n",
    )
    .unwrap();
    let c = Console::start(&[
        os("-l"),
        log.as_os_str(),
        os("--ring-dir"),
        ring.as_os_str(),
    ]);
    let evil = [
        "../../../../etc/passwd",
        "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/etc/passwd",
        "....//....//etc/passwd",
        "..%5c..%5cetc%5cpasswd",
        "%00",
        "1%00.pcap",
        "nsm_00001_20070221101750.pcap",
        "..%2Fsensor.toml",
    ];
    let mut targets = Vec::new();
    for e in evil {
        for route in [
            "/alert/{}",
            "/assets/{}",
            "/api/alerts/{}",
            "/api/alerts/{}/investigation",
            "/api/alerts/{}/evidence.pcap",
            "/api/alerts/{}/carve.pcap",
            "/{}",
            "/api/{}",
        ] {
            targets.push(route.replace("{}", e));
        }
        for p in [
            "from", "to", "sid", "ip", "class", "priority", "group", "offset", "limit", "file",
            "path",
        ] {
            targets.push(format!("/api/alerts?{p}={e}"));
        }
        for p in ["before", "after", "scope", "file", "name"] {
            targets.push(format!("/api/alerts/1/carve.pcap?{p}={e}"));
        }
        targets.push(format!("/assets/console.js/{e}"));
    }
    for t in &targets {
        let r = c.get(t);
        let body = r.text();
        assert!(!leaked(&body), "{t} leaked a file: {body}");
        // Nothing but the listing's own JSON (class is a substring filter: no match) or an
        // error; never a pcap other than alert 1's own downloads.
        let ok = matches!(r.status, 400 | 404 | 405)
            || (r.status == 200
                && t.starts_with("/api/alerts?class=")
                && body.contains("\"total_alerts\":0"));
        assert!(ok, "{t}: {} {body}", r.status);
    }
    // The legitimate asset and alert still answer.
    assert_eq!(c.get("/assets/console.js").status, 200);
    assert_eq!(c.get("/api/alerts/1").status, 200);
}

#[test]
fn non_loopback_listen_without_tls_and_auth_is_refused() {
    let d = tempfile::tempdir().unwrap();
    for listen in ["0.0.0.0:8470", "192.0.2.1:8470", "[::]:8470"] {
        let out = Command::new(exe())
            .args(["console", "-l"])
            .arg(d.path())
            .args(["--listen", listen])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(78), "{listen}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("refusing to listen")
                && err.contains("TLS")
                && err.contains("authentication"),
            "{err}"
        );
    }
    // TLS alone is not enough.
    let (cert, key) = self_signed(d.path());
    let cfg = d.path().join("tls-only.toml");
    std::fs::write(
        &cfg,
        format!("[console]\ntls_cert = {cert:?}\ntls_key = {key:?}\n"),
    )
    .unwrap();
    let out = Command::new(exe())
        .args(["console", "-c"])
        .arg(&cfg)
        .arg("-l")
        .arg(d.path())
        .args(["--listen", "0.0.0.0:8470"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("authentication") && !err.contains("requires TLS"),
        "{err}"
    );
    // A bad password hash is a configuration error too.
    std::fs::write(&cfg, "[console]\npassword_hash = \"hunter2\"\n").unwrap();
    let out = Command::new(exe())
        .args(["console", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password_hash"));
}

/// A self-signed certificate for 127.0.0.1 and localhost: (cert, key) paths.
fn self_signed(dir: &std::path::Path) -> (String, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = dir.join("console.crt");
    let key = dir.join("console.key");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert.display().to_string(), key.display().to_string())
}

fn hash(password: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(exe())
        .args(["console", "--hash-password"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn tls_with_password_and_token() {
    let d = tempfile::tempdir().unwrap();
    let (log, ring) = replay_seed(d.path());
    let (cert, key) = self_signed(d.path());
    let token = "0123456789abcdef0123456789abcdef";
    std::fs::write(d.path().join("token"), format!("{token}\n")).unwrap();
    let h = hash("correct horse battery staple");
    assert!(h.starts_with("$argon2id$"), "{h}");
    let cfg = d.path().join("sensor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[console]\ntls_cert = {cert:?}\ntls_key = {key:?}\nuser = \"analyst\"\npassword_hash = {h:?}\ntoken_file = \"token\"\n"
        ),
    )
    .unwrap();
    let c = Console::start(&[
        os("-c"),
        cfg.as_os_str(),
        os("-l"),
        log.as_os_str(),
        os("--ring-dir"),
        ring.as_os_str(),
    ]);
    assert!(c.tls, "the console should say https");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .disable_verification(true)
                .build(),
        )
        .build()
        .into();
    let url = format!("https://{}/api/alerts", c.addr);
    let get = |auth: Option<String>| {
        let mut r = agent.get(&url);
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        let mut resp = r.call().unwrap();
        let status = resp.status().as_u16();
        let www = resp
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string());
        let body = resp.body_mut().read_to_string().unwrap();
        (status, www, body)
    };
    let basic = |u: &str, p: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    let (s, www, body) = get(None);
    assert_eq!(s, 401);
    assert!(www.unwrap().starts_with("Basic"));
    assert!(!body.contains("BLEEDING"));
    assert_eq!(get(Some(basic("analyst", "wrong password"))).0, 401);
    assert_eq!(
        get(Some(basic("admin", "correct horse battery staple"))).0,
        401
    );
    assert_eq!(
        get(Some("Bearer not-the-token-not-the-token".into())).0,
        401
    );
    let (s, _, body) = get(Some(basic("analyst", "correct horse battery staple")));
    assert_eq!(s, 200);
    assert!(body.contains("BLEEDING-EDGE DROP"));
    let (s, _, body) = get(Some(format!("Bearer {token}")));
    assert_eq!(s, 200, "{body}");
    // Plain HTTP to the TLS port gets no data.
    let plain = std::net::TcpStream::connect(&c.addr).and_then(|mut s| {
        use std::io::{Read, Write};
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
        s.write_all(b"GET /api/alerts HTTP/1.1\r\nHost: x\r\n\r\n")?;
        let mut b = Vec::new();
        let _ = s.read_to_end(&mut b);
        Ok(b)
    });
    assert!(!String::from_utf8_lossy(&plain.unwrap_or_default()).contains("BLEEDING"));
}

/// A rule whose msg is markup: the Alert page shows it escaped, the API as a JSON string,
/// and every answer carries the strict CSP.
#[test]
fn hostile_rule_text_is_escaped() {
    let d = tempfile::tempdir().unwrap();
    let rules = d.path().join("hostile.rules");
    std::fs::write(
        &rules,
        "alert tcp 192.168.0.31 any -> 161.53.178.240 6667 (msg:\"<script>alert(1)</script><img src=x onerror=alert(2)> & \\\"quoted\\\"\"; flags:S; sid:9000001; rev:1;)\n",
    )
    .unwrap();
    let log = d.path().join("log");
    let ring = d.path().join("ring");
    let out = Command::new(exe())
        .env("TZ", "UTC")
        .args(["replay", "-q", "-r"])
        .arg(&rules)
        .arg("-l")
        .arg(&log)
        .arg("--ring-dir")
        .arg(&ring)
        .arg(console_util::repo().join(console_util::SEED_PCAP))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = Console::start(&[
        os("-l"),
        log.as_os_str(),
        os("--ring-dir"),
        ring.as_os_str(),
        os("-r"),
        rules.as_os_str(),
    ]);
    let list = c.get("/api/alerts?group=0").json();
    assert_eq!(
        list["alerts"][0]["signature"],
        "<script>alert(1)</script><img src=x onerror=alert(2)> & \"quoted\""
    );
    let id = list["alerts"][0]["id"].as_u64().unwrap();
    let page = c.get(&format!("/alert/{id}"));
    let html = page.text();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(html
        .contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; &amp;"));
    // The rule text and the alert_full record are escaped too.
    assert!(html.contains("msg:&quot;&lt;script&gt;"));
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the console's own script tag"
    );
    for t in [
        "/alerts",
        &format!("/alert/{id}"),
        "/api/alerts",
        "/nope",
        "/assets/console.js",
    ] {
        let r = c.get(t);
        let csp = r
            .header("content-security-policy")
            .unwrap_or_default()
            .to_string();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{t}: {csp}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
}

/// Carves are bounded in span (`max_carve_s`) and size (`max_carve_mb`).
#[test]
fn oversized_carves_are_refused() {
    use nsm_sensor::ring::{Ring, RingOptions};
    let d = tempfile::tempdir().unwrap();
    let ring_dir = d.path().join("ring");
    let o = RingOptions {
        dir: ring_dir.clone(),
        prefix: "nsm".into(),
        files: 10,
        file_size: 100 << 20,
    };
    // 1,500 UDP packets of 1,042 bytes, 10.0.0.1 → 10.0.0.2, one every 10 ms.
    let mut ring = Ring::open(&o, 1, 65535).unwrap();
    let t0 = 1_714_550_400i64;
    for i in 0..1500u32 {
        let mut f = vec![0u8; 14 + 20 + 8 + 1000];
        f[12] = 0x08;
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&1028u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let udp = &mut f[34..42];
        udp[0..2].copy_from_slice(&5000u16.to_be_bytes());
        udp[2..4].copy_from_slice(&53u16.to_be_bytes());
        udp[4..6].copy_from_slice(&1008u16.to_be_bytes());
        let (s, us) = (t0 + i64::from(i / 100), (i % 100) * 10_000);
        ring.write(s, us, f.len() as u32, &f).unwrap();
    }
    drop(ring);
    let log = d.path().join("log");
    std::fs::create_dir(&log).unwrap();
    let eve = serde_json::json!({
        "timestamp": "2024-05-01T08:00:05.000000+0000", "event_type": "alert",
        "src_ip": "10.0.0.1", "src_port": 5000, "dest_ip": "10.0.0.2", "dest_port": 53, "proto": "UDP",
        "alert": {"action": "allowed", "gid": 1, "signature_id": 1, "rev": 1, "signature": "test",
                  "category": "Misc activity", "severity": 3},
    });
    std::fs::write(log.join("eve.json"), format!("{eve}\n")).unwrap();
    let cfg = d.path().join("sensor.toml");
    std::fs::write(&cfg, "[console]\nmax_carve_s = 600\nmax_carve_mb = 1\n").unwrap();
    let c = Console::start(&[
        os("-c"),
        cfg.as_os_str(),
        os("-l"),
        log.as_os_str(),
        os("--ring-dir"),
        ring_dir.as_os_str(),
    ]);
    // Span: 601 s asked, 600 allowed.
    let r = c.get("/api/alerts/1/carve.pcap?before=301&after=300");
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("max_carve_s"));
    let r = c.get("/api/alerts/1/carve.pcap?before=99999999999999999999");
    assert_eq!(r.status, 400);
    // Size: the whole 1.5 MB is over 1 MiB.
    let r = c.get("/api/alerts/1/carve.pcap?before=60&after=60");
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("max_carve_mb"));
    // A smaller window is fine: 2 s either side = 500 packets.
    let r = c.get("/api/alerts/1/carve.pcap?before=2&after=1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body.len() < 1 << 20 && r.body.len() > 300 * 1000);
    // The evidence download of a big conversation is bounded the same way.
    let r = c.get("/api/alerts/1/evidence.pcap");
    assert_eq!(r.status, 413, "{}", r.text());
}
