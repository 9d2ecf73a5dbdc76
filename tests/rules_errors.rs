//! Broken rules: one diagnostic per bad rule, at the right line:col, saying what was expected;
//! the good rules around them still load.

use std::path::Path;

use nsm_sensor::rules::load::load_text;
use nsm_sensor::rules::LoadOptions;

const BROKEN: &str = r#"# one broken rule per line, good ones between
alert ip any any -> 1.2.3.4/33 any (msg:"bad cidr"; sid:1;)
alert ip any any -> [1.2.3.4,5.6.7.8 any (msg:"unbalanced"; sid:2;)
alert ip any any -> any any (msg:"no sid"; rev:1;)
alert ip any any -> any any (msg:"bad threshold"; threshold: type limit, track by_src, count 1; sid:4;)
alert ip $NOPE any -> any any (msg:"unknown var"; sid:5;)
alert ip any any -> any any (msg:"unterminated"; sid:6;
alert ip any any -> any any (msg:"good"; sid:7;)
alert tcp any any -> any 80 (msg:"skipped"; ssl_state:client_hello; sid:8;)
alert ip any any -> any any (msg:"bad class"; classtype:nope; sid:9;)
alert ip any any -> any any (msg:"continued"; \
    sid:10;)
alert tcp any any -> any 99999 (msg:"bad port"; sid:11;)
alert ip any any -> any any (msg:"huge sid"; sid:99999999999;)
alert ip any any -> any any (msg:"quote; sid:13;)
alert ip any any -> any any (msg:"bad flags"; flags:SX; sid:14;)
alert ip any any -> any any (msg:"unknown option"; frobnicate:1; sid:15;)
alert ip any any -> any any (msg:"hint"; fwsam:src, 1 hour; sid:16;)
alert ip any any -> any any (msg:"dup"; sid:7; rev:2;)
"#;

#[test]
fn one_diagnostic_per_broken_rule() {
    let r = load_text(Path::new("broken.rules"), BROKEN, &LoadOptions::default());
    let got: Vec<(u32, u32, String)> = r
        .errors()
        .map(|d| (d.line, d.col, d.message.clone()))
        .collect();
    for d in r.errors() {
        eprintln!("{d}");
    }
    // line, col, part of the message
    let want: &[(u32, u32, &str)] = &[
        (2, 29, "bad CIDR prefix '/33', expected /0 to /32"),
        (3, 21, "unbalanced '['"),
        (4, 1, "no 'sid'"),
        (5, 62, "missing 'seconds'"),
        (6, 10, "unknown variable $NOPE"),
        (7, 56, "options not terminated, expected ')'"),
        (10, 57, "unknown classtype 'nope'"),
        (13, 26, "port 99999 out of range"),
        (14, 50, "too large"),
        (15, 34, "unterminated quoted string"),
        (16, 53, "bad flag 'X'"),
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for ((line, col, msg), (wl, wc, wm)) in got.iter().zip(want) {
        assert_eq!((line, col), (wl, wc), "{msg}");
        assert!(msg.contains(wm), "{msg} should contain {wm}");
    }
    // sid 7 (twice: the later kept), 10, 16 load; 8 and 15 are skipped with a reason.
    assert_eq!(r.loaded(), 3);
    assert_eq!(
        r.files[0].skipped.get("option 'ssl_state' not supported"),
        Some(&1)
    );
    assert_eq!(
        r.files[0].skipped.get("option 'frobnicate' unknown"),
        Some(&1)
    );
    assert_eq!(r.warnings.len(), 1);
    assert!(r.warnings[0].message.contains("duplicate rule 1:7"));
    assert_eq!(r.warnings[0].line, 19);
    let seven = r.model.rules.iter().find(|x| x.sid == 7).unwrap();
    assert_eq!(seven.rev, 2);
    assert!(!r.is_usable());
    let mut text = Vec::new();
    r.write_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("broken.rules:2:29: destination address: bad CIDR"),
        "{text}"
    );
    assert!(
        text.contains("skipped 1: option 'ssl_state' not supported"),
        "{text}"
    );
    assert!(
        text.contains("total: 3 loaded, 2 skipped, 11 errors"),
        "{text}"
    );
    let j = r.to_json();
    assert_eq!(j["totals"]["errors"], 11);
    assert_eq!(j["files"][0]["errors"][0]["line"], 2);
    assert_eq!(j["files"][0]["errors"][0]["col"], 29);
}

/// Snort 2.9 parser.c refuses a rule with both `threshold` and `detection_filter`: so does the
/// loader, with file:line:col at the second of the two (either order); the rules around load.
#[test]
fn threshold_and_detection_filter_in_one_rule_is_an_error() {
    let text = concat!(
        "alert ip any any -> any any (msg:\"ok\"; sid:3;)\n",
        "alert ip any any -> any any (msg:\"x\"; threshold: type limit, track by_src, count 1, seconds 60; detection_filter: track by_src, count 2, seconds 60; sid:1;)\n",
        "alert ip any any -> any any (msg:\"y\"; detection_filter: track by_dst, count 2, seconds 60; threshold: type both, track by_dst, count 1, seconds 60; sid:2;)\n",
    );
    let r = load_text(Path::new("both.rules"), text, &LoadOptions::default());
    let got: Vec<String> = r.errors().map(|d| d.to_string()).collect();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got[0].starts_with("both.rules:2:97: "), "{got:#?}");
    assert!(
        got[0].contains("only one of threshold and detection_filter"),
        "{got:#?}"
    );
    assert!(got[1].starts_with("both.rules:3:92: "), "{got:#?}");
    assert_eq!(r.loaded(), 1);
}
