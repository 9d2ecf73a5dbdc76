//! Loads the real rule files in `../shared/data/rules/` and the seed rules: the IP-list sets
//! load completely, the content rule sets load without errors and every skip has a reason.

use std::path::{Path, PathBuf};

use nsm_sensor::rules::{load, LoadOptions, LoadReport};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel)
}

fn load_paths(paths: &[PathBuf]) -> LoadReport {
    load(&LoadOptions {
        paths: paths.to_vec(),
        ..LoadOptions::default()
    })
}

fn print(r: &LoadReport) {
    let mut out = Vec::new();
    r.write_text(&mut out).unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out));
}

const IP_LISTS: [&str; 7] = [
    "emerging-botcc.rules",
    "emerging-botcc.portgrouped.rules",
    "emerging-compromised.rules",
    "emerging-ciarmy.rules",
    "emerging-drop.rules",
    "emerging-dshield.rules",
    "emerging-tor.rules",
];

#[test]
fn et_ip_lists_load_completely() {
    for dir in ["rules/et", "rules/et/older-2017-12-14"] {
        let mut total = 0;
        for f in IP_LISTS {
            let path = data(dir).join(f);
            let r = load_paths(std::slice::from_ref(&path));
            print(&r);
            assert!(r.is_usable(), "{}", path.display());
            assert_eq!(r.skipped(), 0, "{}", path.display());
            assert!(r.loaded() > 0, "{}", path.display());
            assert_eq!(r.model.rules.len(), r.loaded());
            total += r.loaded();
        }
        if dir == "rules/et" {
            assert_eq!(total, 1586);
        }
    }
}

#[test]
fn seed_rules_load() {
    let r = load_paths(&[
        data("seed/bleeding-botcc.rules"),
        data("seed/bleeding-botcc-block.rules"),
    ]);
    print(&r);
    assert!(r.is_usable());
    assert_eq!(r.loaded(), 2);
    let rule = r.model.rules.iter().find(|r| r.sid == 2404000).unwrap();
    assert_eq!(rule.priority, 1);
    assert_eq!(
        rule.class_desc.as_deref(),
        Some("A Network Trojan was detected")
    );
    assert_eq!(rule.references[0].url_prefix.as_deref(), Some("http://"));
    assert_eq!(rule.dst.v4.len(), 60);
    assert!(rule.src.is_any());
}

#[test]
fn content_rule_sets_have_no_errors() {
    for f in [
        "rules/et/emerging-scan.rules",
        "rules/et/emerging-malware.rules",
        "rules/et/emerging-chat.rules",
        "rules/community/community.rules",
    ] {
        let r = load_paths(&[data(f)]);
        print(&r);
        assert!(r.is_usable(), "{f}");
        for reasons in r.files.iter().map(|f| &f.skipped) {
            assert!(reasons.keys().all(|k| k.starts_with("option '")));
        }
        assert!(r.loaded() + r.skipped() > 0);
    }
}

#[test]
fn directory_loads_sorted_and_json_shape() {
    let r = load_paths(&[data("rules/et")]);
    assert!(r.is_usable());
    let names: Vec<String> = r
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let j = r.to_json();
    assert_eq!(j["totals"]["errors"], 0);
    assert_eq!(j["totals"]["loaded"].as_u64().unwrap() as usize, r.loaded());
    let f0 = &j["files"][0];
    for k in ["path", "loaded", "skipped", "errors"] {
        assert!(f0.get(k).is_some(), "{k}");
    }
}

/// `check -v` lists each skipped rule as `path:line: skipped: reason`; the line is the rule's
/// and the option named in the reason is in it.
#[test]
fn each_skip_names_its_rule_line() {
    // Community rules still have skipped rules (base64_decode, ssl_state); ET chat has none.
    let path = data("rules/community/community.rules");
    let r = load_paths(std::slice::from_ref(&path));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let f = &r.files[0];
    assert_eq!(f.skips.len(), f.skipped_total());
    assert!(!f.skips.is_empty());
    for (line, reason) in &f.skips {
        let option = reason.split('\'').nth(1).expect("reason names an option");
        let option = option.split(':').next().unwrap();
        let rule = lines[*line as usize - 1];
        assert!(rule.contains(option), "line {line} lacks {option}: {rule}");
    }
    let mut out = Vec::new();
    r.write_report(&mut out, true).unwrap();
    let out = String::from_utf8(out).unwrap();
    let (line, reason) = &f.skips[0];
    assert!(out.contains(&format!("{}:{line}: skipped: {reason}\n", path.display())));
}
