//! Snort's event stage on real decoded packets: the event queue (`max_queue 8`, `log 3`,
//! `order_events content_length`; fpdetect.c `fpFinalSelectEvent`, event_queue.c, sfeventq.c),
//! `pass` decided before thresholds and rate filters count, and threshold.conf semantics that
//! differ between Snort 2.9.20 and naive readings (global event_filter vs in-rule thresholds,
//! `count -1`, `rate_filter … apply_to`, `new_action alert` on a `log` rule, SFRF_OVER_RATE).
//! Engine-level tables first, then the same through `nsm-sensor replay` on a generated pcap.

mod common;

use common::{bin, expect_code, frame, run, text, write_pcap, L4};
use nsm_sensor::decode::{decode, linktype, DecodeOptions};
use nsm_sensor::detect::engine::{Engine, Hit};
use nsm_sensor::detect::DetectOptions;
use nsm_sensor::detect::RuleSet;
use nsm_sensor::rules::load::load_text;
use nsm_sensor::rules::LoadOptions;
use std::fs;
use std::path::Path;

const HOME: [u8; 4] = [10, 1, 1, 1];
const FAR: [u8; 4] = [203, 0, 113, 9];
const OTHER: [u8; 4] = [192, 168, 7, 7];

fn ruleset(rules: &str, conf: &str) -> (tempfile::TempDir, RuleSet) {
    let dir = tempfile::tempdir().unwrap();
    let th = dir.path().join("threshold.conf");
    fs::write(&th, conf).unwrap();
    let opts = LoadOptions {
        threshold: Some(th),
        ..LoadOptions::default()
    };
    let r = load_text(Path::new("t.rules"), rules, &opts);
    let errors: Vec<String> = r.errors().map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    (dir, RuleSet::compile(r.model))
}

/// UDP packets `(second, src, payload)` to FAR:53 through one engine; the sids alerted per
/// packet, in the order they are logged.
fn alerts(set: &RuleSet, pkts: &[(i64, [u8; 4], &[u8])]) -> Vec<Vec<u32>> {
    let mut engine = Engine::new(&DetectOptions::from_config(&Default::default()));
    let mut hits: Vec<Hit> = Vec::new();
    pkts.iter()
        .map(|&(t, src, payload)| {
            let f = frame(src, FAR, L4::Udp(40000, 53), payload);
            let pkt = decode(
                linktype::ETHERNET,
                1_700_000_000 + t,
                0,
                f.len() as u32,
                &f,
                DecodeOptions { checksums: true },
            )
            .unwrap();
            engine.inspect(set, &pkt, &mut hits);
            hits.iter()
                .map(|h| set.rules()[h.rule as usize].sid)
                .collect()
        })
        .collect()
}

/// Five alert rules on one packet: three are logged, longest fast pattern first, then the
/// higher sid (fpdetect.c `sortOrderByContentLength`; priority plays no part in this order).
#[test]
fn five_alerts_on_one_packet_log_three_in_snort_order() {
    let rules = r#"
alert udp any any -> any any (msg:"3 bytes"; content:"abc"; sid:10; priority:3;)
alert udp any any -> any any (msg:"5 bytes"; content:"abcde"; sid:11; priority:3;)
alert udp any any -> any any (msg:"5 bytes, higher sid"; content:"bcdef"; sid:12; priority:3;)
alert udp any any -> any any (msg:"no content, top priority"; sid:13; priority:1;)
alert udp any any -> any any (msg:"1 byte"; content:"f"; sid:14; priority:2;)
"#;
    let (_d, set) = ruleset(rules, "");
    assert_eq!(
        alerts(&set, &[(0, HOME, b"abcdef")]),
        [vec![12, 11, 10]],
        "3 of 5, ordered by content length then sid"
    );
    // Two match: both logged, in the same order.
    assert_eq!(alerts(&set, &[(0, HOME, b"zz f")]), [vec![14, 13]]);
}

/// Snort decides `pass` before the event stage (fpFinalSelectEvent queues only the first
/// action group, pass before alert): a packet silenced by a pass rule does not count towards
/// the alert rule's threshold or rate filter.
#[test]
fn pass_silences_before_thresholds_and_rate_filters_count() {
    let rules = r#"
pass udp any any -> any any (msg:"allowed"; content:"ok"; sid:1;)
alert udp any any -> any any (msg:"limited"; threshold: type limit, track by_src, count 1, seconds 60; sid:2;)
alert udp any any -> any any (msg:"rate"; content:"r"; sid:3;)
"#;
    let conf = "rate_filter gen_id 1, sig_id 3, track by_src, count 1, seconds 60, new_action pass, timeout 60\n";
    let (_d, set) = ruleset(rules, conf);
    let got = alerts(
        &set,
        &[
            (0, HOME, b"ok r"), // pass: nothing logged, nothing counted
            (1, HOME, b"ok r"),
            (2, HOME, b"xx r"), // the first events of sid 2 and sid 3 that count
            (3, HOME, b"xx r"), // limit 1 reached; rate filter over 1 → pass
        ],
    );
    assert_eq!(got, [vec![], vec![], vec![3, 2], vec![]]);
}

/// threshold.conf vectors on packets, each with the Snort code path that decides it.
#[test]
fn threshold_conf_semantics_on_packets() {
    let rules = r#"
alert udp any any -> any any (msg:"own threshold"; content:"a"; threshold: type threshold, track by_src, count 2, seconds 60; sid:21;)
alert udp any any -> any any (msg:"no threshold"; content:"b"; sid:22;)
alert udp any any -> any any (msg:"exempt"; content:"c"; sid:23;)
log udp any any -> any any (msg:"log promoted"; content:"d"; sid:24;)
alert udp any any -> any any (msg:"home only"; content:"e"; sid:25;)
"#;
    let conf = "\
event_filter gen_id 1, sig_id 0, type limit, track by_src, count 1, seconds 60
event_filter gen_id 1, sig_id 23, type limit, track by_src, count -1, seconds 60
rate_filter gen_id 1, sig_id 24, track by_src, count 1, seconds 60, new_action alert, timeout 60
rate_filter gen_id 1, sig_id 25, track by_src, count 1, seconds 60, new_action pass, timeout 60, apply_to [10.0.0.0/8]
";
    let (_d, set) = ruleset(rules, conf);
    let one = |payload: &'static [u8], src| {
        alerts(
            &set,
            &[
                (0, src, payload),
                (1, src, payload),
                (2, src, payload),
                (3, src, payload),
            ],
        )
    };
    // sfthd.c sfthd_test_threshold: sid 21 has a local object (its in-rule threshold), so the
    // global limit is never consulted: every 2nd event.
    assert_eq!(one(b"a", HOME), [vec![], vec![21], vec![], vec![21]]);
    // No local object: the global limit 1 applies.
    assert_eq!(one(b"b", HOME), [vec![22], vec![], vec![], vec![]]);
    // count -1 (THD_NO_THRESHOLD in sfthd_test_local): logged, global not consulted.
    assert_eq!(one(b"c", HOME), vec![vec![23]; 4]);
    // fpLogEvent: rate_filter new_action alert turns the log rule's action into alert once
    // over the rate (sfrf.c _checkThreshold), and AlertAction writes it. The global limit is
    // overridden at the switch-on, then holds it back again.
    assert_eq!(one(b"d", HOME), [vec![], vec![24], vec![], vec![]]);
    // SFRF_AppliesTo: inside apply_to the pass rate filter silences from the 2nd event (the
    // global limit would have too, so look at the outside address) …
    assert_eq!(one(b"e", HOME), [vec![25], vec![], vec![], vec![]]);
    // … outside it, the rate filter neither counts nor acts; only the global limit does.
    assert_eq!(one(b"e", OTHER), [vec![25], vec![], vec![], vec![]]);
}

/// `rate_filter … apply_to` without a global filter in the way: inside the list the filter
/// acts, outside it never does.
#[test]
fn rate_filter_apply_to_inside_and_outside() {
    let rules = r#"alert udp any any -> any any (msg:"x"; content:"x"; sid:31;)"#;
    let conf = "rate_filter gen_id 1, sig_id 31, track by_src, count 2, seconds 60, new_action pass, timeout 60, apply_to [10.0.0.0/8]\n";
    let (_d, set) = ruleset(rules, conf);
    let times = |src| {
        alerts(
            &set,
            &[
                (0, src, b"x"),
                (1, src, b"x"),
                (2, src, b"x"),
                (3, src, b"x"),
            ],
        )
    };
    assert_eq!(times(HOME), [vec![31], vec![31], vec![], vec![]]);
    assert_eq!(times(OTHER), vec![vec![31]; 4]);
}

/// The same stories through `nsm-sensor replay` on a generated pcap with a config naming a
/// threshold.conf.
#[test]
fn replay_applies_the_event_queue_pass_and_apply_to() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("t.rules"),
        r#"pass udp any any -> any any (msg:"allowed"; content:"ok"; sid:1;)
alert udp any any -> any any (msg:"limited"; threshold: type limit, track by_src, count 1, seconds 60; sid:2;)
alert udp any any -> any any (msg:"3 bytes"; content:"abc"; sid:10;)
alert udp any any -> any any (msg:"5 bytes"; content:"abcde"; sid:11;)
alert udp any any -> any any (msg:"5 bytes, higher sid"; content:"bcdef"; sid:12;)
alert udp any any -> any any (msg:"1 byte"; content:"f"; sid:14;)
alert udp any any -> any any (msg:"home only"; content:"zz"; sid:25;)
"#,
    )
    .unwrap();
    fs::write(
        d.join("threshold.conf"),
        "rate_filter gen_id 1, sig_id 25, track by_src, count 1, seconds 60, new_action pass, timeout 60, apply_to [10.0.0.0/8]\n",
    )
    .unwrap();
    fs::write(
        d.join("sensor.toml"),
        "[rules]\nfiles = [\"t.rules\"]\nthreshold = \"threshold.conf\"\n",
    )
    .unwrap();
    let base = 1_700_000_000;
    let frames = vec![
        // pass: nothing, and sid 2's limit does not count it
        (base, 0, frame(HOME, FAR, L4::Udp(40000, 53), b"ok")),
        // 2, 10, 11, 12, 14 match: three logged, 12 11 10; sid 2 (no content, last) is not
        // logged, so its limit does not count it either
        (base + 1, 0, frame(HOME, FAR, L4::Udp(40000, 53), b"abcdef")),
        // 25 then 2 (the first event of sid 2 that counts); apply_to: the home address is
        // over the rate from its 2nd event, the other address never
        (base + 2, 0, frame(HOME, FAR, L4::Udp(40000, 53), b"zz")),
        (base + 3, 0, frame(HOME, FAR, L4::Udp(40000, 53), b"zz")),
        (base + 4, 0, frame(OTHER, FAR, L4::Udp(40000, 53), b"zz")),
        (base + 5, 0, frame(OTHER, FAR, L4::Udp(40000, 53), b"zz")),
    ];
    write_pcap(&d.join("in.pcap"), &frames);
    let out = run(bin()
        .arg("replay")
        .arg("-c")
        .arg(d.join("sensor.toml"))
        .arg("--no-ring")
        .arg("-l")
        .arg(d.join("log"))
        .arg(d.join("in.pcap")));
    expect_code(&out, 0);
    let fast = fs::read_to_string(d.join("log/alert.fast")).unwrap();
    let sids: Vec<String> = fast
        .lines()
        .map(|l| {
            let at = l.find("[1:").unwrap() + 3;
            l[at..].split(':').next().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        sids,
        ["12", "11", "10", "25", "2", "25", "2", "25"],
        "alert.fast:\n{fast}\nstdout: {}",
        text(&out.stdout)
    );
}
