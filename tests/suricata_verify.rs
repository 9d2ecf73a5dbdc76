//! suricata-verify cases within tiers 1–2, replayed through the binary: for each case folder
//! (top level and one level into group folders such as `threshold/`), read `test.yaml`, replay its pcap with its rules (and its
//! threshold.config), and compare the EVE alert counts per sid with the `filter` checks that
//! count `event_type: alert` (optionally by `alert.signature_id`).
//!
//! A case is skipped, with its reason printed, when its expectation depends on what this
//! sensor does not do or does differently on purpose (Snort 2.9 semantics): the reasons are
//! in [`SKIP`], or found from the case itself (no pcap, rules using tier-3 or Suricata-only
//! syntax, no alert-count check). Checks on other event types or EVE fields are not evaluated.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use nsm_sensor::rules::{load, LoadOptions};
use serde_yaml::Value;

/// Cases whose expectation depends on Suricata-only behaviour: (case, reason).
///
/// Skipped automatically, with the reason computed and printed:
/// - no pcap: bug-3463, test-content-limits-1, threshold-config-validate-01/02 (engine
///   analysis or config parsing only);
/// - Suricata-only syntax the loader rejects: `alert http` (threshold-config-byrule, the
///   rate-filter pass/drop/reject cases), `track by_flow` / `by_both` / `by_either`
///   (threshold-rule-flow, detection_filter-rule-flow, the *-flow, *-pair and byeither cases),
///   `threshold … track by_rule` (bug-4503), `detection_filter … unique_on`
///   (detection_filter-distinct-*), address ranges `a-b` (iponly-ipv6-range-01);
/// - tier-3 or Suricata-only options: `target` (alert-testmyids);
/// - Suricata-only protocols: `tcp-stream` (tls/tls-bypass-missing-event; Snort 2.9 says
///   `tcp` with `flow:only_stream`, and reassembles only stream5's ports, here `$HTTP_PORTS`),
///   `icmpv6` (ipv6-evasion/ipv6-rsmurf; Snort 2.9 rules have no such protocol);
/// - folders whose shared copy holds only a pcap (detect-pcrexform-01, http-all-headers,
///   uricontent/detect-uricontent-06): nothing says what to load or expect;
/// - only checks on EVE fields this harness does not evaluate (bug-4571-02, -05: flow events
///   and alert `proto`/`pkt_src` fields).
const SKIP: &[(&str, &str)] = &[
    (
        "issue-8031-01-isdataat",
        "isdataat:N,relative needs a byte at cursor + N (Snort 2.9 sp_isdataat.c: inBounds(start, end, doe_ptr + offset), i.e. < end); Suricata's relative form also accepts cursor + N == end (sids 12, 22)",
    ),
    (
        "threshold/detection_filter-rule-hostsrc",
        "up to six rules match each ping: Snort's event queue logs 3 events per packet (event_queue max_queue 8, log 3, order_events content_length); Suricata logs them all",
    ),
    (
        "like-ip-only-01",
        "flow:established on closing packets: 21 alerts here (Snort stream5 keeps the session established until it closes) vs Suricata's 17",
    ),
    (
        "flow-drop-iponly-01",
        "IPS: expects drop events, alert.action and flow drop (--simulate-ips)",
    ),
    (
        "flow-drop-iponly-02",
        "IPS: expects drop events, alert.action and flow drop (--simulate-ips)",
    ),
    (
        "bug-4571-01",
        "IP-in-IP tunnel decoding and Suricata midstream pickup (stream.midstream=true)",
    ),
    (
        "bug-4571-03",
        "IPv6-in-IPv6 tunnel decoding and Suricata midstream pickup (stream.midstream=true)",
    ),
    (
        "bug-4571-04",
        "IPv6-in-IPv4 tunnel decoding and Suricata midstream pickup (stream.midstream=true)",
    ),
    (
        "bug-4571-06",
        "IPv4-in-IPv6 tunnel decoding and Suricata midstream pickup (stream.midstream=true)",
    ),
];

/// Match keys a check may use and still be evaluated here.
const EVALUATED_KEYS: &[&str] = &["event_type", "alert.signature_id"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/suricata-verify")
}

/// Every case folder, as a path relative to the root: a folder holding a test.yaml, or holding
/// a pcap and nothing to run it with (listed so that the count shows it); group folders
/// (`threshold/`, `uricontent/`, `tls/`, ...) are searched one level down.
fn cases() -> Vec<String> {
    fn is_case(dir: &Path) -> bool {
        dir.join("test.yaml").is_file() || has_pcap(dir)
    }
    fn has_pcap(dir: &Path) -> bool {
        std::fs::read_dir(dir).is_ok_and(|rd| {
            rd.flatten().any(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x == "pcap" || x == "pcapng")
            })
        })
    }
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root()) else {
        return out;
    };
    for e in rd.flatten() {
        let path = e.path();
        if !path.is_dir() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        if is_case(&path) {
            out.push(name);
            continue;
        }
        for sub in std::fs::read_dir(&path).into_iter().flatten().flatten() {
            if sub.path().is_dir() && is_case(&sub.path()) {
                out.push(format!("{name}/{}", sub.file_name().to_string_lossy()));
            }
        }
    }
    out.sort();
    out
}

/// One alert-count check: sid (`None`: all alerts) and the expected count.
type Check = (Option<u32>, u64);

enum Outcome {
    Pass(usize),
    Fail(String),
    Skip(String),
}

fn str_list(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(s) => s
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// The rule file of a case: test.rules, else the `rule-files` of its suricata.yaml, else the
/// only `*.rules` file of the folder.
fn rule_file(dir: &Path, yaml: Option<&Value>) -> Option<PathBuf> {
    let t = dir.join("test.rules");
    if t.is_file() {
        return Some(t);
    }
    if let Some(files) = yaml.and_then(|y| y.get("rule-files")) {
        for f in str_list(files) {
            let p = dir.join(&f);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let mut rules: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rules"))
        .collect();
    rules.sort();
    (rules.len() == 1).then(|| rules.remove(0))
}

/// The pcap of a case: `pcap:` (relative to the case), else the only pcap of the folder.
fn pcap_of(dir: &Path, test: &Value) -> Result<PathBuf, String> {
    match test.get("pcap") {
        Some(Value::Bool(false)) => {
            return Err("no pcap (engine-analysis or config-only case)".into())
        }
        Some(Value::String(p)) => return Ok(dir.join(p)),
        _ => {}
    }
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    pcaps.sort();
    match pcaps.len() {
        1 => Ok(pcaps.remove(0)),
        0 => Err("no pcap (engine-analysis or config-only case)".into()),
        _ => Err("several pcaps, none named".into()),
    }
}

/// Address groups of the case's suricata.yaml over Suricata's defaults.
fn vars_of(yaml: Option<&Value>) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    vars.insert(
        "HOME_NET".to_string(),
        "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]".to_string(),
    );
    vars.insert("EXTERNAL_NET".to_string(), "!$HOME_NET".to_string());
    let groups = yaml.and_then(|y| y.get("vars"));
    for kind in ["address-groups", "port-groups"] {
        if let Some(Value::Mapping(m)) = groups.and_then(|g| g.get(kind)) {
            for (k, v) in m {
                let (Some(k), Some(v)) = (k.as_str(), v.as_str()) else {
                    continue;
                };
                vars.insert(k.to_string(), v.to_string());
            }
        }
    }
    vars
}

fn checks_of(test: &Value) -> (Vec<Check>, usize) {
    let mut out = Vec::new();
    let mut ignored = 0;
    let Some(Value::Sequence(checks)) = test.get("checks") else {
        return (out, ignored);
    };
    for c in checks {
        let Some(f) = c.get("filter") else {
            ignored += 1;
            continue;
        };
        let (Some(count), Some(Value::Mapping(m))) =
            (f.get("count").and_then(Value::as_u64), f.get("match"))
        else {
            ignored += 1;
            continue;
        };
        let keys_ok = m
            .keys()
            .all(|k| k.as_str().is_some_and(|k| EVALUATED_KEYS.contains(&k)));
        let is_alert = m.get("event_type").and_then(Value::as_str) == Some("alert");
        if !keys_ok || !is_alert {
            ignored += 1;
            continue;
        }
        let sid = m
            .get("alert.signature_id")
            .and_then(Value::as_u64)
            .and_then(|s| u32::try_from(s).ok());
        out.push((sid, count));
    }
    (out, ignored)
}

fn run_case(name: &str, tmp: &Path) -> Outcome {
    if let Some((_, why)) = SKIP.iter().find(|(n, _)| *n == name) {
        return Outcome::Skip((*why).to_string());
    }
    let dir = root().join(name);
    if !dir.join("test.yaml").is_file() {
        return Outcome::Skip(
            "the shared copy holds only the pcap: no test.yaml and no rules to run it with".into(),
        );
    }
    let text = match std::fs::read_to_string(dir.join("test.yaml")) {
        Ok(t) => t,
        Err(e) => return Outcome::Skip(format!("test.yaml unreadable: {e}")),
    };
    let test: Value = match serde_yaml::from_str(&text) {
        Ok(v) => v,
        Err(e) => return Outcome::Fail(format!("test.yaml: {e}")),
    };
    let suri: Option<Value> = std::fs::read_to_string(dir.join("suricata.yaml"))
        .ok()
        .and_then(|t| serde_yaml::from_str(&t).ok());
    let args = test.get("args").map(str_list).unwrap_or_default().join(" ");
    let pcap = match pcap_of(&dir, &test) {
        Ok(p) => p,
        Err(why) => return Outcome::Skip(why),
    };
    let Some(rules) = rule_file(&dir, suri.as_ref()) else {
        return Outcome::Skip("no rule file".into());
    };
    let (checks, ignored) = checks_of(&test);
    let threshold = dir.join("threshold.config");
    let threshold = threshold.is_file().then_some(threshold);
    let vars = vars_of(suri.as_ref());
    // The loader's verdict on the rules: errors and skips come from Suricata-only syntax or
    // tier-3 options; checks on the sids they concern cannot be evaluated.
    let report = load(&LoadOptions {
        paths: vec![rules.clone()],
        vars: vars.clone(),
        threshold: threshold.clone(),
        ..LoadOptions::default()
    });
    if let Some(e) = report.errors().next() {
        return Outcome::Skip(format!("rules not Snort 2.9 syntax: {}", e.message));
    }
    let skipped: Vec<&String> = report.files[0].skipped.keys().collect();
    let loaded: Vec<u32> = report.model.rules.iter().map(|r| r.sid).collect();
    let checks: Vec<Check> = checks
        .into_iter()
        .filter(|(sid, _)| match sid {
            Some(s) => loaded.contains(s),
            None => skipped.is_empty(),
        })
        .collect();
    if checks.is_empty() {
        return Outcome::Skip(if skipped.is_empty() {
            format!("no alert-count check to evaluate ({ignored} other checks)")
        } else {
            format!(
                "rules skipped: {}",
                skipped
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    }
    // Replay through the binary with a config file naming the rules, the threshold file, the
    // variables and the checksum mode.
    let case_tmp = tmp.join(name.replace('/', "_"));
    let log = case_tmp.join("log");
    std::fs::create_dir_all(&log).unwrap();
    let checksum = if args.contains("-k none") {
        "none"
    } else {
        "all"
    };
    let mut cfg = String::new();
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    writeln!(cfg, "[rules]\nfiles = [{}]", q(&rules)).unwrap();
    match &threshold {
        Some(t) => writeln!(cfg, "threshold = {}", q(t)).unwrap(),
        None => writeln!(cfg, "threshold = \"\"").unwrap(),
    }
    writeln!(cfg, "[vars]").unwrap();
    for (k, v) in &vars {
        writeln!(cfg, "{k} = {v:?}").unwrap();
    }
    writeln!(cfg, "[detect]\nchecksum_mode = \"{checksum}\"").unwrap();
    writeln!(
        cfg,
        "[output]\ndir = {}\nalert_full = false\nalert_fast = false\neve = true\nstats = false\ntimestamps = \"utc\"\n[ring]\nenabled = false",
        q(&log)
    )
    .unwrap();
    let cfg_path = case_tmp.join("sensor.toml");
    std::fs::write(&cfg_path, &cfg).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nsm-sensor"))
        .env("TZ", "UTC")
        .args(["replay", "-c"])
        .arg(&cfg_path)
        .args(["--no-ring", "-l"])
        .arg(&log)
        .arg(&pcap)
        .output()
        .expect("run nsm-sensor");
    if !out.status.success() {
        return Outcome::Fail(format!(
            "replay exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let eve = std::fs::read_to_string(log.join("eve.json")).unwrap_or_default();
    let mut per_sid: BTreeMap<u32, u64> = BTreeMap::new();
    let mut total = 0u64;
    for line in eve.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("EVE line is JSON");
        if v["event_type"] == "alert" {
            total += 1;
            if let Some(sid) = v["alert"]["signature_id"].as_u64() {
                *per_sid.entry(sid as u32).or_default() += 1;
            }
        }
    }
    let mut wrong = Vec::new();
    for (sid, want) in &checks {
        let got = match sid {
            Some(s) => per_sid.get(s).copied().unwrap_or(0),
            None => total,
        };
        if got != *want {
            wrong.push(format!(
                "sid {}: {got} alerts, expected {want}",
                sid.map_or("(any)".to_string(), |s| s.to_string())
            ));
        }
    }
    if wrong.is_empty() {
        Outcome::Pass(checks.len())
    } else {
        Outcome::Fail(wrong.join("; "))
    }
}

/// Rule keywords that need stream reassembly or the HTTP inspector (Snort's or Suricata's
/// spelling), to count the cases that depend on them.
const STREAM_HTTP_WORDS: &[&str] = &[
    "http_",
    "http.",
    "uricontent",
    "urilen",
    "file_data",
    "file.data",
    "only_stream",
    "tcp-stream",
    "alert http",
];

/// Whether the rules of a case folder use reassembly or HTTP buffers.
fn uses_stream_http(name: &str) -> bool {
    let Ok(rd) = std::fs::read_dir(root().join(name)) else {
        return false;
    };
    rd.flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "rules"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .any(|t| STREAM_HTTP_WORDS.iter().any(|w| t.contains(w)))
}

#[test]
fn suricata_verify_cases() {
    let all = cases();
    assert!(!all.is_empty(), "no cases under {}", root().display());
    let tmp = tempfile::tempdir().unwrap();
    let (mut passed, mut failed, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    let mut stream_http = (0, 0, 0);
    for name in &all {
        let sh = uses_stream_http(name);
        match run_case(name, tmp.path()) {
            Outcome::Pass(n) => {
                stream_http.0 += usize::from(sh);
                passed.push(format!("{name} ({n} checks)"));
            }
            Outcome::Fail(why) => {
                stream_http.1 += usize::from(sh);
                failed.push(format!("{name}: {why}"));
            }
            Outcome::Skip(why) => {
                stream_http.2 += usize::from(sh);
                skipped.push(format!("{name}: {why}"));
            }
        }
    }
    eprintln!(
        "suricata-verify: {} cases, {} passed, {} failed, {} skipped",
        all.len(),
        passed.len(),
        failed.len(),
        skipped.len()
    );
    eprintln!(
        "  of which with reassembly or HTTP rules: {} passed, {} failed, {} skipped",
        stream_http.0, stream_http.1, stream_http.2
    );
    for p in &passed {
        eprintln!("  pass  {p}");
    }
    for s in &skipped {
        eprintln!("  skip  {s}");
    }
    for f in &failed {
        eprintln!("  FAIL  {f}");
    }
    assert!(
        failed.is_empty(),
        "{} cases failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(passed.len() >= 5, "too few cases ran: {passed:?}");
}
