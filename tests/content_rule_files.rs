//! The content rule files (ET scan/malware/chat, Snort community): every rule that uses only
//! tier 1–2 options loads, every skipped rule is skipped for a tier-3 or unknown option, and a
//! few known tier-2-only rules of each file load. An independent, naive reading of each rule's
//! option names is the reference for the loader's decisions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nsm_sensor::rules::{load, LoadOptions};

fn shared_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/rules")
}

/// Option keywords of tiers 1 and 2 (DESIGN.md "Semantics"), plus the ignored `fwsam` hints,
/// `tag` (post-detection, loaded ahead of its tier) and the payload options (`pcre`, `byte_*`,
/// `isdataat`, the HTTP buffers, `file_data`/`pkt_data`, `urilen`).
const TIER12: &[&str] = &[
    "msg",
    "sid",
    "gid",
    "rev",
    "classtype",
    "priority",
    "reference",
    "metadata",
    "threshold",
    "detection_filter",
    "flowbits",
    "flow",
    "flags",
    "content",
    "nocase",
    "offset",
    "depth",
    "distance",
    "within",
    "fast_pattern",
    "dsize",
    "ip_proto",
    "ttl",
    "tos",
    "id",
    "itype",
    "icode",
    "icmp_id",
    "icmp_seq",
    "sameip",
    "window",
    "seq",
    "ack",
    "fragbits",
    "tag",
    "fwsam",
    "fwsam_ipv6",
    "pcre",
    "byte_test",
    "byte_jump",
    "byte_extract",
    "byte_math",
    "isdataat",
    "uricontent",
    "urilen",
    "rawbytes",
    "http_uri",
    "http_raw_uri",
    "http_header",
    "http_raw_header",
    "http_cookie",
    "http_raw_cookie",
    "http_client_body",
    "http_method",
    "http_stat_code",
    "http_stat_msg",
    "file_data",
    "pkt_data",
];

/// `flow:` keywords this sensor does not implement (no defragmentation).
const FLOW_TIER3: &[&str] = &["only_frag", "no_frag"];

/// The option names of one rule line (and the `flow` keywords), read naively: split the
/// parenthesised part on `;` outside double quotes (`\` escapes).
fn option_names(rule: &str) -> Vec<(String, String)> {
    let Some(open) = rule.find('(') else {
        return Vec::new();
    };
    let body = &rule[open + 1..rule.rfind(')').unwrap_or(rule.len())];
    let mut out = Vec::new();
    let (mut cur, mut quoted, mut escaped) = (String::new(), false, false);
    for c in body.chars() {
        if escaped {
            escaped = false;
            cur.push(c);
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                cur.push(c);
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => {
                let t = cur.trim();
                if !t.is_empty() {
                    let (k, v) = t.split_once(':').unwrap_or((t, ""));
                    out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    out
}

/// Whether the naive reading says the rule should load (every option of tier 1–2).
fn tier12_only(opts: &[(String, String)]) -> bool {
    opts.iter().all(|(k, v)| {
        TIER12.contains(&k.as_str())
            && !(k == "flow" && v.split(',').any(|w| FLOW_TIER3.contains(&w.trim())))
    })
}

/// Rules of a file: (sid, options) for every active (uncommented) rule line.
fn rules_of(path: &Path) -> Vec<(u32, Vec<(String, String)>)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| {
            ["alert ", "log ", "pass ", "drop ", "sdrop ", "reject "]
                .iter()
                .any(|a| l.starts_with(a))
        })
        .map(|l| {
            let opts = option_names(l);
            let sid = opts
                .iter()
                .find(|(k, _)| k == "sid")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            (sid, opts)
        })
        .collect()
}

fn check_file(rel: &str, must_load: &[u32]) {
    let path = shared_rules().join(rel);
    let report = load(&LoadOptions {
        paths: vec![path.clone()],
        ..LoadOptions::default()
    });
    assert!(
        report.is_usable(),
        "{rel}: errors {:?}",
        report.errors().collect::<Vec<_>>()
    );
    let f = &report.files[0];
    // Every skip reason names a tier-3 or unknown option.
    for reason in f.skipped.keys() {
        let name = reason
            .strip_prefix("option '")
            .and_then(|r| r.split('\'').next())
            .unwrap_or_else(|| panic!("{rel}: reason {reason:?} names no option"));
        let tier3 = match name.strip_prefix("flow:") {
            Some(kw) => FLOW_TIER3.contains(&kw),
            None => !TIER12.contains(&name),
        };
        assert!(tier3, "{rel}: skipped for a tier-1/2 option: {reason}");
        assert!(
            reason.ends_with(" not supported") || reason.ends_with(" unknown"),
            "{rel}: {reason}"
        );
    }
    // The naive reading agrees with every loaded-vs-skipped decision.
    let loaded: BTreeSet<u32> = report.model.rules.iter().map(|r| r.sid).collect();
    let rules = rules_of(&path);
    let mut want_loaded = 0;
    for (sid, opts) in &rules {
        let want = tier12_only(opts);
        want_loaded += usize::from(want);
        assert_eq!(
            loaded.contains(sid),
            want,
            "{rel}: sid {sid} loaded={} but its options are {:?}",
            loaded.contains(sid),
            opts.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>()
        );
    }
    assert_eq!(f.loaded, want_loaded, "{rel}");
    assert_eq!(f.loaded + f.skipped_total(), rules.len(), "{rel}");
    for sid in must_load {
        assert!(loaded.contains(sid), "{rel}: sid {sid} should load");
    }
    let content_rules = report
        .model
        .rules
        .iter()
        .filter(|r| r.fast_pattern().is_some())
        .count();
    eprintln!(
        "{rel}: {} of {} rules loaded ({:.1}%), {content_rules} keyed by a fast pattern; skipped {:?}",
        f.loaded,
        rules.len(),
        f.loaded as f64 * 100.0 / rules.len().max(1) as f64,
        f.skipped
    );
}

#[test]
fn et_scan() {
    // Amap TCP (relative content), FTP root brute force (nocase, within, threshold),
    // ICMP PING IPTools (itype, icode, content), Amap UDP, GPL ISS Pinger.
    check_file(
        "et/emerging-scan.rules",
        &[2010371, 2010642, 2000575, 2010372, 2100465],
    );
}

#[test]
fn et_malware() {
    // Webhancer Data Upload (content, nocase, flow from_server).
    check_file("et/emerging-malware.rules", &[2001317]);
}

#[test]
fn et_chat() {
    // Facebook XMPP (distance/within), GaduGadu login (flowbits, dsize, depth).
    check_file("et/emerging-chat.rules", &[2010819, 2008298]);
}

#[test]
fn community() {
    // Y3KRAT connect (content, depth, flowbits set/noalert) and its client response (isset).
    check_file("community/community.rules", &[3081, 3082]);
}
