//! The loading API end to end on temporary files: `include` relative to the including file,
//! `var` lines, directories, threshold.conf replacing in-rule thresholds (with a warning),
//! suppress/rate_filter, custom classification/reference files, and errors in config files.

use std::fs;

use nsm_sensor::config::Config;
use nsm_sensor::rules::*;

#[test]
fn includes_vars_thresholds_and_config_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("sub")).unwrap();
    fs::write(
        d.join("main.rules"),
        "ipvar BAD [192.0.2.0/24,198.51.100.7]\nportvar P [6667,6697]\ninclude sub/more.rules\n\
         alert tcp $HOME_NET any -> $BAD $P (msg:\"irc\"; threshold: type limit, track by_src, seconds 60, count 1; classtype:my-class; sid:10;)\n",
    )
    .unwrap();
    fs::write(
        d.join("sub/more.rules"),
        "alert ip any any -> $BAD any (msg:\"x\"; reference:zz,1; sid:11;)\nportvar Q 99999\n",
    )
    .unwrap();
    fs::write(
        d.join("class.config"),
        "config classification: my-class,My Class,5\nconfig classification: broken\n",
    )
    .unwrap();
    fs::write(
        d.join("ref.config"),
        "config reference: zz https://zz.example/\n",
    )
    .unwrap();
    fs::write(
        d.join("threshold.conf"),
        "event_filter gen_id 1, sig_id 10, type both, track by_dst, count 3, seconds 30\n\
         suppress gen_id 1, sig_id 11, track by_src, ip $BAD\n\
         rate_filter gen_id 1, sig_id 10, track by_rule, count 5, seconds 1, new_action pass, timeout 5\n\
         rate_filter gen_id 1, sig_id 10, track sideways, count 5, seconds 1, new_action pass, timeout 5\n",
    )
    .unwrap();
    let mut vars = std::collections::BTreeMap::new();
    vars.insert("HOME_NET".to_string(), "10.0.0.0/8".to_string());
    let r = load(&LoadOptions {
        paths: vec![d.join("main.rules")],
        vars,
        classification: Some(d.join("class.config")),
        reference: Some(d.join("ref.config")),
        threshold: Some(d.join("threshold.conf")),
    });
    let mut text = Vec::new();
    r.write_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    eprintln!("{text}");
    assert_eq!(r.loaded(), 2);
    // Files: main, the included one, then the config files with errors.
    let names: Vec<String> = r
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["main.rules", "more.rules", "class.config", "threshold.conf"]
    );
    assert_eq!(r.files[1].errors.len(), 1, "portvar Q 99999");
    assert_eq!(
        (r.files[1].errors[0].line, r.files[1].errors[0].col),
        (2, 11)
    );
    assert_eq!(
        (r.files[2].errors[0].line, r.files[2].errors[0].col),
        (2, 24)
    );
    assert_eq!(r.files[3].errors[0].line, 4);
    assert!(!r.is_usable());
    let irc = r.model.rules.iter().find(|x| x.sid == 10).unwrap();
    assert_eq!(irc.priority, 5);
    assert_eq!(irc.class_desc.as_deref(), Some("My Class"));
    assert_eq!(
        irc.threshold,
        Some(Threshold {
            kind: ThresholdKind::Both,
            track: Track::ByDst,
            count: 3,
            seconds: 30
        })
    );
    assert!(irc.dst_ports.contains(6697) && !irc.dst_ports.contains(80));
    let x = r.model.rules.iter().find(|x| x.sid == 11).unwrap();
    assert_eq!(
        x.references[0].url_prefix.as_deref(),
        Some("https://zz.example/")
    );
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0]
            .message
            .contains("replaces the rule's own threshold"),
        "{}",
        r.warnings[0]
    );
    assert_eq!(r.model.suppress.len(), 1);
    assert_eq!(r.model.suppress[0].by.as_ref().unwrap().1.v4.len(), 2);
    assert_eq!(r.model.rate_filters.len(), 1);
    assert!(text.contains("threshold.conf:4:"), "{text}");
    let j = r.to_json();
    assert_eq!(j["files"][3]["errors"][0]["line"], 4);
}

#[test]
fn config_names_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("rules")).unwrap();
    fs::write(
        d.join("rules/b.rules"),
        "alert ip any any -> 1.1.1.1 any (sid:2;)\n",
    )
    .unwrap();
    fs::write(
        d.join("rules/a.rules"),
        "alert ip any any -> 1.1.1.2 any (sid:1;)\n",
    )
    .unwrap();
    fs::write(d.join("rules/notes.txt"), "not rules").unwrap();
    fs::write(
        d.join("classification.config"),
        "config classification: x,X,1\n",
    )
    .unwrap();
    let cfg_path = d.join("sensor.toml");
    fs::write(
        &cfg_path,
        "[rules]\nfiles = [\"rules\"]\n[vars]\nHOME_NET = \"[10.0.0.0/8]\"\n",
    )
    .unwrap();
    let cfg = Config::load(&cfg_path).unwrap();
    let opts = LoadOptions::from_config(&cfg, Some(&cfg_path));
    assert_eq!(opts.paths, vec![d.join("rules")]);
    assert_eq!(opts.classification, Some(d.join("classification.config")));
    assert_eq!(opts.reference, None);
    assert_eq!(opts.threshold, None);
    let r = load(&opts);
    assert!(r.is_usable());
    let sids: Vec<u32> = r.model.rules.iter().map(|x| x.sid).collect();
    assert_eq!(sids, vec![1, 2], "directory files load in name order");
}

/// `$HTTP_PORTS` decides which streams are inspected as HTTP: a value that does not parse is
/// said (and Snort's list used), a good one is taken.
#[test]
fn a_bad_http_ports_value_is_said() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("t.rules");
    fs::write(
        &rules,
        "alert tcp any any -> any any (content:\"x\"; sid:1;)\n",
    )
    .unwrap();
    let mut opts = LoadOptions {
        paths: vec![rules],
        ..LoadOptions::default()
    };
    opts.vars.insert("HTTP_PORTS".into(), "[80,eighty]".into());
    let r = load(&opts);
    assert!(r.is_usable());
    assert_eq!(r.model.http_ports, None);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.to_string().contains("HTTP_PORTS")
                && w.to_string().contains("Snort's default")),
        "{:?}",
        r.warnings
    );
    opts.vars.insert("HTTP_PORTS".into(), "[8000]".into());
    let r = load(&opts);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(
        r.model.http_ports.map(|p| p.ranges),
        Some(vec![(8000, 8000)])
    );
}
