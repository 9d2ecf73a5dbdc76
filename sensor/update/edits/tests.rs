//! Tests of the rule edits: every matcher kind, the enable → disable → modify order, counts,
//! continuation lines, and diagnostics located path:line:col.

use std::path::Path;

use super::*;
use crate::rules::load::{load_text, LoadOptions};

const BOTCC: &str = "\
# Emerging Threats botcc
alert ip $HOME_NET any -> [1.1.1.1] any (msg:\"ET CNC group 1\"; threshold: type limit, track by_src, seconds 3600, count 1; classtype:trojan-activity; sid:2404000; rev:4983;)
#alert ip $HOME_NET any -> [2.2.2.2] any (msg:\"ET CNC group 2\"; classtype:trojan-activity; sid:2404001; rev:4983;)
# alert ip $HOME_NET any -> [3.3.3.3] any (msg:\"ET CNC group 3\"; classtype:trojan-activity; sid:2404002; rev:7;)
";

const SCAN: &str = "\
alert tcp $EXTERNAL_NET any -> $HOME_NET 22 (msg:\"ET SCAN ssh\"; flags:S; \\
    classtype:attempted-recon; metadata:created_at 2010_07_30, former_category SCAN; sid:2001219; rev:20;)
alert tcp $EXTERNAL_NET any -> $HOME_NET 23 (msg:\"ET SCAN telnet\"; flags:S; classtype:attempted-recon; sid:2001220; gid:3; rev:2;)
## alert tcp $EXTERNAL_NET any -> $HOME_NET 80 (msg:\"ET SCAN web\"; flags:S; \\
#    classtype:attempted-recon; sid:2001221; rev:1;)
";

fn files() -> Vec<RuleFile> {
    vec![
        RuleFile {
            name: "rules/emerging-botcc.rules".into(),
            text: BOTCC.into(),
        },
        RuleFile {
            name: "rules/emerging-scan.rules".into(),
            text: SCAN.into(),
        },
    ]
}

fn edits(enable: &str, disable: &str, modify: &str) -> Edits {
    Edits::from_text(
        Some((Path::new("enable.conf"), enable)),
        Some((Path::new("disable.conf"), disable)),
        Some((Path::new("modify.conf"), modify)),
    )
    .unwrap_or_else(|e| panic!("{e:#?}"))
}

/// The active sids of every file, as the product's loader reads them.
fn active(files: &[RuleFile]) -> Vec<u32> {
    let mut sids = Vec::new();
    for f in files {
        let r = load_text(Path::new(&f.name), &f.text, &LoadOptions::default());
        let errs: Vec<String> = r.errors().map(ToString::to_string).collect();
        assert!(errs.is_empty(), "{}: {errs:#?}\n{}", f.name, f.text);
        sids.extend(r.model.rules.iter().map(|r| r.sid));
    }
    sids.sort_unstable();
    sids
}

#[test]
fn untouched_files_are_kept_byte_for_byte() {
    let mut f = files();
    assert_eq!(active(&f), [2001219, 2001220, 2404000]);
    let c = apply(&edits("", "", ""), &mut f);
    assert_eq!(c, EditCounts::default());
    assert_eq!(f, files());
    let c = apply(
        &edits("2404000", "2404001", "2001220 \"nomatch\" \"x\""),
        &mut f,
    );
    assert_eq!(c, EditCounts::default(), "no-ops change nothing");
    assert_eq!(f, files());
}

/// disable.conf with each matcher kind → the sids still active and the count.
#[test]
fn disable_matchers() {
    let all = [2001219, 2001220, 2404000];
    let cases: &[(&str, &[u32])] = &[
        ("2404000", &[2001219, 2001220]),
        ("1:2404000", &[2001219, 2001220]),
        ("1:2404000:4983", &[2001219, 2001220]),
        ("1:2404000:1", &all), // other rev
        ("2001220", &all),     // gid 3, not 1
        ("3:2001220", &[2001219, 2404000]),
        ("2404000, 3:2001220", &[2001219]), // a list
        ("re:ET SCAN", &[2404000]),
        ("re:et scan ssh", &[2001220, 2404000]), // case-insensitive
        (
            r"re:flags:S;\s+classtype:attempted-recon; metadata",
            &[2001220, 2404000],
        ), // over the joined continuation
        ("group:emerging-scan.rules", &[2404000]),
        ("group:emerging-scan", &[2404000]), // without extension
        ("group:emerging-*.rules", &[]),
        ("group:emerging-b?tcc", &[2001219, 2001220]),
        ("group:emerging-[!b]*", &[2404000]),
        ("group:scan", &all),
        ("emerging-botcc.rules", &[2001219, 2001220]), // bare NAME.rules
        ("filename:rules/emerging-scan.rules", &[2404000]),
        ("filename:emerging-scan.rules", &all), // filename is the whole name
        ("metadata:former_category scan", &[2001220, 2404000]),
        ("*", &[]),
        (
            "# comment\n\n2404000 # trailing comment\n",
            &[2001219, 2001220],
        ),
    ];
    for (conf, want) in cases {
        let mut f = files();
        let c = apply(&edits("", conf, ""), &mut f);
        assert_eq!(active(&f), *want, "{conf:?}");
        assert_eq!(c.disabled, 3 - want.len(), "{conf:?}");
        assert_eq!((c.enabled, c.modified), (0, 0), "{conf:?}");
    }
}

/// enable.conf: `#alert`, `# alert`, `## alert` (with a commented continuation) uncommented.
#[test]
fn enable_matchers() {
    let cases: &[(&str, &[u32], usize)] = &[
        ("2404001", &[2001219, 2001220, 2404000, 2404001], 1),
        (
            "2404001,2404002",
            &[2001219, 2001220, 2404000, 2404001, 2404002],
            2,
        ),
        (
            "re:ET CNC group [23]",
            &[2001219, 2001220, 2404000, 2404001, 2404002],
            2,
        ),
        ("2001221", &[2001219, 2001220, 2001221, 2404000], 1),
        (
            "*",
            &[2001219, 2001220, 2001221, 2404000, 2404001, 2404002],
            3,
        ),
    ];
    for (conf, want, n) in cases {
        let mut f = files();
        let c = apply(&edits(conf, "", ""), &mut f);
        assert_eq!(active(&f), *want, "{conf:?}");
        assert_eq!(c.enabled, *n, "{conf:?}");
    }
    // The re-enabled multi-line rule is written whole, on one line.
    let mut f = files();
    apply(&edits("2001221", "", ""), &mut f);
    assert!(f[1].text.contains(
        "\nalert tcp $EXTERNAL_NET any -> $HOME_NET 80 (msg:\"ET SCAN web\"; flags:S;     classtype:attempted-recon; sid:2001221; rev:1;)\n"
    ), "{}", f[1].text);
}

/// Enable, then disable, then modify; each rule counted once per kind.
#[test]
fn order_and_counts() {
    // Matched by enable and disable: enabled first, then disabled again — a net no-op.
    let mut f = files();
    let c = apply(&edits("2404001", "2404001", ""), &mut f);
    assert_eq!(c, EditCounts::default());
    assert_eq!(f, files());

    // An active rule in both: disabled.
    let mut f = files();
    let c = apply(&edits("2404000", "2404000", ""), &mut f);
    assert_eq!((c.enabled, c.disabled), (0, 1));

    // Modify sees the result of enable: the enabled rule becomes a drop rule.
    let mut f = files();
    let c = apply(
        &edits(
            "2404001",
            "",
            "2404001 \"^alert\" \"drop\"\n\"re:group 2\" \"rev:4983\" \"rev:4984\"",
        ),
        &mut f,
    );
    assert_eq!(
        (c.enabled, c.disabled, c.modified),
        (1, 0, 1),
        "two modify lines, one rule"
    );
    assert!(f[0].text.contains("\ndrop ip $HOME_NET any -> [2.2.2.2] any (msg:\"ET CNC group 2\"; classtype:trojan-activity; sid:2404001; rev:4984;)\n"), "{}", f[0].text);
    assert_eq!(active(&f), [2001219, 2001220, 2404000, 2404001]);
}

/// modify.conf: suricata-update's own examples, `\N`, `\g<N>`, `${N}`, modifysid.
#[test]
fn modify_lines() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "2404000 \"seconds \\d+\" \"seconds 60\"",
            "rules/emerging-botcc.rules",
            "track by_src, seconds 60, count 1;",
        ),
        (
            "re:classtype:trojan-activity \"(alert)(.*)\" \"drop\\\\2\"",
            "rules/emerging-botcc.rules",
            "\ndrop ip $HOME_NET any -> [1.1.1.1] any (msg:\"ET CNC group 1\";",
        ),
        (
            "2404000 \"(sid:)(\\d+)\" \"\\g<1>9\\2\"",
            "rules/emerging-botcc.rules",
            "sid:92404000; rev:4983;)",
        ),
        (
            "modifysid 2404000 \"^alert(.*)rev:4983(.*)\" | \"drop${1}rev:1${2}\"",
            "rules/emerging-botcc.rules",
            "\ndrop ip $HOME_NET any -> [1.1.1.1] any (msg:\"ET CNC group 1\"; threshold: type limit, track by_src, seconds 3600, count 1; classtype:trojan-activity; sid:2404000; rev:1;)\n",
        ),
        (
            "group:emerging-scan \"attempted-recon\" \"$cost\"",
            "rules/emerging-scan.rules",
            "classtype:$cost; sid:2001220",
        ),
        (
            // The disabled rule is matched as written, "# " included.
            "2404002 \"^# alert\" \"# drop\"",
            "rules/emerging-botcc.rules",
            "\n# drop ip $HOME_NET any -> [3.3.3.3]",
        ),
    ];
    for (conf, file, want) in cases {
        let mut f = files();
        let c = apply(&edits("", "", conf), &mut f);
        let text = &f.iter().find(|x| x.name == *file).unwrap().text;
        assert!(text.contains(want), "{conf}\n{text}");
        assert!(c.modified >= 1, "{conf}");
    }
    // A replacement that breaks the rule is not applied, and said.
    let mut f = files();
    let (c, problems) = apply_reporting(&edits("", "", "2404000 \"\\(msg\" \"msg\""), &mut f);
    assert_eq!(c.modified, 0);
    assert_eq!(f, files());
    assert!(
        problems[0].contains("[1:2404000]: modification not applied"),
        "{problems:?}"
    );
}

#[test]
fn continuation_lines_stay_whole() {
    // Disabling the two-line rule comments out all of it: the loader sees no half rule.
    let mut f = files();
    let c = apply(&edits("", "2001219", ""), &mut f);
    assert_eq!(c.disabled, 1);
    assert_eq!(active(&f), [2001220, 2404000]);
    assert!(f[1].text.starts_with("# alert tcp $EXTERNAL_NET any -> $HOME_NET 22 (msg:\"ET SCAN ssh\"; flags:S;     classtype:attempted-recon; metadata:created_at 2010_07_30, former_category SCAN; sid:2001219; rev:20;)\nalert tcp"), "{}", f[1].text);
    // Untouched multi-line rules keep their lines.
    let mut f = files();
    apply(&edits("", "2001220", ""), &mut f);
    assert!(f[1].text.starts_with(SCAN.lines().next().unwrap()));
    // CRLF files keep CRLF on the changed line.
    let mut f = vec![RuleFile {
        name: "x.rules".into(),
        text: BOTCC.replace('\n', "\r\n"),
    }];
    apply(&edits("", "2404000", ""), &mut f);
    assert!(f[0]
        .text
        .contains("\r\n# alert ip $HOME_NET any -> [1.1.1.1]"));
    assert!(f[0].text.contains("rev:4983;)\r\n#alert"));
}

/// Every bad line of every file, path:line:col and what was expected.
#[test]
fn diagnostics() {
    let enable = "# fine\n2404000\nre:(unclosed\n";
    let disable = "\n  2019401-2019405\nnot a matcher\nre:(?=look)ahead\ngroup:\n1:2:3:4\n";
    let modify = "2404000 \"a\"\n2404000 \"(a\" \"b\"\n2404000 \"(a)\" \"\\2\"\nre:x \"a\" \"\\q\"\nbogus \"a\" \"b\"\n2404000 \"unterminated\n2404000 \"(?P<n>a)\" \"\\g<m>\"\n";
    let errs = Edits::from_text(
        Some((Path::new("/etc/nsm/enable.conf"), enable)),
        Some((Path::new("/etc/nsm/disable.conf"), disable)),
        Some((Path::new("/etc/nsm/modify.conf"), modify)),
    )
    .unwrap_err();
    let got: Vec<String> = errs.iter().map(ToString::to_string).collect();
    let want: &[&str] = &[
        "/etc/nsm/enable.conf:3:4: bad regular expression `(unclosed`",
        "/etc/nsm/disable.conf:2:3: `2019401-2019405`: expected SID, GID:SID or GID:SID:REV",
        "/etc/nsm/disable.conf:3:1: `not a matcher`: expected a matcher",
        "/etc/nsm/disable.conf:4:4: bad regular expression `(?=look)ahead` (look-around is not supported)",
        "/etc/nsm/disable.conf:5:7: empty file name",
        "/etc/nsm/disable.conf:6:1: `1:2:3:4`: expected SID",
        "/etc/nsm/modify.conf:1:1: expected MATCHER \"FROM\" \"TO\"",
        "/etc/nsm/modify.conf:2:9: bad regular expression `(a`",
        "/etc/nsm/modify.conf:3:15: replacement names group 2, the pattern has 1",
        "/etc/nsm/modify.conf:4:10: bad escape `\\q`",
        "/etc/nsm/modify.conf:5:1: `bogus`: expected a matcher",
        "/etc/nsm/modify.conf:6:9: unterminated \"…\" string",
        "/etc/nsm/modify.conf:7:20: replacement names group `m`",
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(want) {
        assert!(g.starts_with(w), "{g}\n  want {w}");
    }
}

#[test]
fn load_reads_files_and_reports_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let dis = dir.path().join("disable.conf");
    std::fs::write(&dis, "\u{feff}2404000\r\ngroup:emerging-scan\r\n").unwrap();
    let e = Edits::load(None, Some(&dis), None).unwrap();
    let mut f = files();
    assert_eq!(apply(&e, &mut f).disabled, 3);
    let missing = dir.path().join("nope.conf");
    let errs = Edits::load(Some(&missing), Some(&dis), Some(&missing)).unwrap_err();
    assert_eq!(errs.len(), 2);
    assert!(
        errs[0].to_string().contains("nope.conf:1:1: cannot read"),
        "{}",
        errs[0]
    );
}

/// Junk never panics, in edit files or rule files.
#[test]
fn no_panic_on_junk() {
    let junk = [
        "",
        "\\",
        "\"",
        "'",
        "re:",
        "group:[",
        "group:[!]",
        "${",
        "${}",
        "\\g",
        "\\g<",
        "é\"é",
        "1:",
        ":1",
        "99999999999",
        "* \"(\" \"\"",
        "* \"\" \"${0}\"",
        "* \"$\" \"\\\\\"",
    ];
    for j in junk {
        for (a, b, c) in [(j, "", ""), ("", j, ""), ("", "", j)] {
            if let Ok(e) = Edits::from_text(
                Some((Path::new("e"), a)),
                Some((Path::new("d"), b)),
                Some((Path::new("m"), c)),
            ) {
                let mut f = files();
                f.push(RuleFile {
                    name: "junk".into(),
                    text: format!(
                        "alert {j} (\n#alert ip (\\\n#\\\nalert ip any any -> any any ()\\"
                    ),
                });
                apply(&e, &mut f);
            }
        }
    }
}
