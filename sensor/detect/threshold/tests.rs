//! Tests of the event stage: the DESIGN threshold vectors, detection_filter, suppress,
//! rate_filter, LRU eviction under the memcap, trackers surviving a reload.

use super::*;
use crate::rules::model::AddrSet;

const T: [i64; 9] = [0, 1, 2, 60, 61, 62, 120, 121, 180];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn th(kind: ThresholdKind, track: Track, count: u32, seconds: u32) -> Threshold {
    Threshold {
        kind,
        track,
        count,
        seconds,
    }
}

/// Times at which `event` alerts for src→dst.
fn alerts(t: &mut Thresholds, thr: &Threshold, src: &str, dst: &str, times: &[i64]) -> Vec<i64> {
    times
        .iter()
        .copied()
        .filter(|&now| {
            t.event(1, 100, Some(thr), &[], &[], ip(src), ip(dst), now)
                .is_alert()
        })
        .collect()
}

#[test]
fn threshold_vectors_from_design() {
    use ThresholdKind::*;
    let cases: &[(ThresholdKind, u32, &[i64])] = &[
        (Limit, 1, &[0, 60, 120, 180]),
        (Threshold, 2, &[1, 60, 62, 121]),
        (Both, 2, &[1, 61, 121]),
    ];
    for &(kind, count, want) in cases {
        for track in [Track::BySrc, Track::ByDst] {
            let mut t = Thresholds::new(1 << 20);
            let thr = th(kind, track, count, 60);
            assert_eq!(
                alerts(&mut t, &thr, "10.0.0.1", "10.0.0.2", &T),
                want,
                "{kind:?} {track:?}"
            );
        }
    }
}

/// (kind, count, seconds, event times, expected alert times)
type Case = (ThresholdKind, u32, u32, &'static [i64], &'static [i64]);

#[test]
fn threshold_more_vectors() {
    use ThresholdKind::*;
    let cases: &[Case] = &[
        (Limit, 2, 10, &[0, 0, 0, 5, 10, 10, 10], &[0, 0, 10, 10]),
        (Threshold, 3, 10, &[0, 1, 2, 3, 4, 5, 6], &[2, 5]),
        (Threshold, 1, 10, &[0, 1, 2], &[0, 1, 2]),
        (Both, 1, 10, &[0, 1, 10, 11], &[0]),
        (Both, 3, 10, &[0, 1, 2, 3, 4], &[2]),
        // Time going backwards resets the window (sfthd.c's unsigned dt).
        (Limit, 1, 60, &[100, 101, 50, 51], &[100, 50]),
    ];
    for &(kind, count, seconds, times, want) in cases {
        let mut t = Thresholds::new(1 << 20);
        let thr = th(kind, Track::BySrc, count, seconds);
        assert_eq!(
            alerts(&mut t, &thr, "10.0.0.1", "10.0.0.2", times),
            want,
            "{kind:?}/{count}"
        );
    }
}

#[test]
fn by_src_and_by_dst_keep_separate_trackers() {
    let mut t = Thresholds::new(1 << 20);
    let by_src = th(ThresholdKind::Limit, Track::BySrc, 1, 60);
    // Two sources to one destination: each source gets its own first alert.
    assert_eq!(
        alerts(&mut t, &by_src, "10.0.0.1", "10.9.9.9", &[0, 1]),
        [0]
    );
    assert_eq!(
        alerts(&mut t, &by_src, "10.0.0.2", "10.9.9.9", &[2, 3]),
        [2]
    );
    assert_eq!(t.len(), 2);

    let mut t = Thresholds::new(1 << 20);
    let by_dst = th(ThresholdKind::Limit, Track::ByDst, 1, 60);
    assert_eq!(
        alerts(&mut t, &by_dst, "10.0.0.1", "10.9.9.9", &[0, 1]),
        [0]
    );
    // Same destination from another source: same tracker, still limited.
    assert_eq!(
        alerts(&mut t, &by_dst, "10.0.0.2", "10.9.9.9", &[2]),
        [] as [i64; 0]
    );
    assert_eq!(alerts(&mut t, &by_dst, "10.0.0.2", "10.9.9.8", &[3]), [3]);
    // IPv6 addresses are tracked like IPv4 ones.
    assert_eq!(
        alerts(&mut t, &by_dst, "2001:db8::1", "2001:db8::2", &[4, 5]),
        [4]
    );
}

#[test]
fn detection_filter_vectors() {
    // (count, seconds, hit times, times at which the match counts)
    let cases: &[(u32, u32, &[i64], &[i64])] = &[
        (2, 60, &[0, 1, 2, 3], &[2, 3]),
        // A busy window carries over: the previous window's count (4) > 2 and its last hit
        // is within `seconds`, so the next window passes from its first hit.
        (
            2,
            10,
            &[0, 1, 2, 3, 10, 11, 40, 41, 42],
            &[2, 3, 10, 11, 42],
        ),
        // Slow hits never pass.
        (1, 5, &[0, 6, 12, 18], &[]),
        (1, 5, &[0, 1, 6, 7], &[1, 6, 7]),
        (1, 5, &[0, 1, 7, 8], &[1, 8]),
        (0, 5, &[0, 100], &[0, 100]),
    ];
    for &(count, seconds, times, want) in cases {
        let mut t = Thresholds::new(1 << 20);
        let df = DetectionFilter {
            track: Track::BySrc,
            count,
            seconds,
        };
        let got: Vec<i64> = times
            .iter()
            .copied()
            .filter(|&n| t.detection_filter(1, 7, &df, ip("1.1.1.1"), ip("2.2.2.2"), n))
            .collect();
        assert_eq!(got, want, "count {count} seconds {seconds}");
    }
}

#[test]
fn detection_filter_suricata_verify_hostsrc() {
    // suricata-verify threshold/detection_filter-rule-hostsrc: 8 echo requests from one
    // source within the hour; count N lets 8 - N through (0 when N >= 8).
    let times = [0, 0, 1, 1, 2, 3, 5, 8];
    for (count, want) in [(1, 7), (2, 6), (4, 4), (7, 1), (8, 0)] {
        let mut t = Thresholds::new(1 << 20);
        let df = DetectionFilter {
            track: Track::BySrc,
            count,
            seconds: 3600,
        };
        let got = times
            .iter()
            .filter(|&&n| t.detection_filter(1, 2, &df, ip("10.0.0.1"), ip("10.0.0.2"), n))
            .count();
        assert_eq!(got, want, "count {count}");
    }
}

#[test]
fn detection_filter_tracks_per_address() {
    let mut t = Thresholds::new(1 << 20);
    let df = DetectionFilter {
        track: Track::ByDst,
        count: 1,
        seconds: 60,
    };
    let hit = |t: &mut Thresholds, dst: &str, now| {
        t.detection_filter(1, 7, &df, ip("1.1.1.1"), ip(dst), now)
    };
    assert!(!hit(&mut t, "2.2.2.2", 0));
    assert!(!hit(&mut t, "2.2.2.3", 0));
    assert!(hit(&mut t, "2.2.2.2", 1));
    assert!(hit(&mut t, "2.2.2.3", 1));
    // The event filter of the same sid is a different tracker.
    let limit = th(ThresholdKind::Limit, Track::ByDst, 1, 60);
    assert!(t
        .event(
            1,
            7,
            Some(&limit),
            &[],
            &[],
            ip("1.1.1.1"),
            ip("2.2.2.2"),
            2
        )
        .is_alert());
}

fn set(cidr_lo: &str, cidr_hi: &str) -> AddrSet {
    let lo = match ip(cidr_lo) {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(_) => unreachable!(),
    };
    let hi = match ip(cidr_hi) {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(_) => unreachable!(),
    };
    AddrSet {
        v4: vec![(lo, hi)],
        v6: vec![],
    }
}

#[test]
fn suppress_with_and_without_ip() {
    let net = set("10.1.0.0", "10.1.255.255");
    let sup = [
        Suppress {
            gid: 1,
            sid: 100,
            by: None,
        },
        Suppress {
            gid: 1,
            sid: 200,
            by: Some((Track::BySrc, net.clone())),
        },
        Suppress {
            gid: 1,
            sid: 300,
            by: Some((Track::ByDst, net.clone())),
        },
        Suppress {
            gid: 3,
            sid: 0,
            by: None,
        },
    ];
    // (gid, sid, src, dst, suppressed?)
    let cases = [
        (1, 100, "10.1.0.1", "8.8.8.8", true),
        (1, 100, "8.8.8.8", "8.8.4.4", true),
        (1, 101, "10.1.0.1", "8.8.8.8", false),
        (1, 200, "10.1.2.3", "8.8.8.8", true),
        (1, 200, "8.8.8.8", "10.1.2.3", false),
        (1, 300, "8.8.8.8", "10.1.2.3", true),
        (1, 300, "10.1.2.3", "8.8.8.8", false),
        (3, 1, "1.2.3.4", "5.6.7.8", true),
        (3, 999, "1.2.3.4", "5.6.7.8", true),
        (2, 100, "10.1.0.1", "8.8.8.8", false),
    ];
    let idx = ThresholdIndex::new(&sup, &[]);
    for (gid, sid, s, d, want) in cases {
        let mut t = Thresholds::new(1 << 20);
        let v = t.event(gid, sid, None, &sup, &[], ip(s), ip(d), 0);
        assert_eq!(v == EventVerdict::Suppressed, want, "{gid}:{sid} {s}->{d}");
        let v = t.event_indexed(&idx, gid, sid, None, ip(s), ip(d), 0);
        assert_eq!(
            v == EventVerdict::Suppressed,
            want,
            "indexed {gid}:{sid} {s}->{d}"
        );
    }
}

#[test]
fn suppressed_events_do_not_count_toward_the_event_filter() {
    let sup = [Suppress {
        gid: 1,
        sid: 100,
        by: Some((Track::BySrc, set("10.0.0.1", "10.0.0.1"))),
    }];
    let thr = th(ThresholdKind::Threshold, Track::ByDst, 2, 60);
    let mut t = Thresholds::new(1 << 20);
    let mut ev =
        |src: &str, now| t.event(1, 100, Some(&thr), &sup, &[], ip(src), ip("9.9.9.9"), now);
    assert_eq!(ev("10.0.0.1", 0), EventVerdict::Suppressed);
    assert_eq!(ev("10.0.0.2", 1), EventVerdict::Thresholded);
    assert_eq!(ev("10.0.0.1", 2), EventVerdict::Suppressed);
    assert!(ev("10.0.0.2", 3).is_alert());
}

fn rf(track: Track, count: u32, seconds: u32, new_action: NewAction, timeout: u32) -> RateFilter {
    RateFilter {
        gid: 1,
        sid: 100,
        track,
        count,
        seconds,
        new_action,
        timeout,
        apply_to: None,
    }
}

#[test]
fn rate_filter_vectors() {
    use NewAction::*;
    let a = EventVerdict::Alert { rate_action: None };
    let d = EventVerdict::Alert {
        rate_action: Some(Drop),
    };
    let p = EventVerdict::RateLimited;
    // (filter, times, verdict per event)
    let cases: Vec<(RateFilter, Vec<i64>, Vec<EventVerdict>)> = vec![
        // More than 2 within 10 s → drop for 5 s from the switch-on; at the timeout (t=7)
        // the window's count is still over, so it stays on (sfrf.c _checkThreshold); at t=12
        // a new window starts, but the previous one was over the count and its last event was
        // within 10 s (SFRF_OVER_RATE in _checkSamplingPeriod), so it stays on again.
        (
            rf(Track::BySrc, 2, 10, Drop, 5),
            vec![0, 1, 2, 3, 6, 7, 8, 12, 13],
            vec![a, a, d, d, d, d, d, d, d],
        ),
        // pass: the alert disappears while the filter is on; at t=31 the timeout has run
        // and the new window holds one event, so it alerts; t=40 is the 2nd in that window.
        (
            rf(Track::ByRule, 1, 10, Pass, 30),
            vec![0, 1, 2, 31, 40, 41],
            vec![a, p, p, a, p, p],
        ),
        // Back under the rate after the timeout: original action again.
        (
            rf(Track::ByDst, 1, 10, Pass, 5),
            vec![0, 1, 6, 20],
            vec![a, p, p, a],
        ),
        // timeout 0: once on, it stays on.
        (
            rf(Track::BySrc, 1, 1, Reject, 0),
            vec![0, 0, 100],
            vec![
                a,
                EventVerdict::Alert {
                    rate_action: Some(Reject),
                },
                EventVerdict::Alert {
                    rate_action: Some(Reject),
                },
            ],
        ),
    ];
    for (filter, times, want) in cases {
        let mut t = Thresholds::new(1 << 20);
        let got: Vec<EventVerdict> = times
            .iter()
            .map(|&n| {
                t.event(
                    1,
                    100,
                    None,
                    &[],
                    std::slice::from_ref(&filter),
                    ip("1.1.1.1"),
                    ip("2.2.2.2"),
                    n,
                )
            })
            .collect();
        assert_eq!(got, want, "{filter:?}");
    }
}

#[test]
fn rate_filter_switch_on_overrides_event_filter() {
    // Snort fpLogEvent: the event at which the rate filter switches on is logged even when
    // the event filter holds it back; later ones are not.
    let limit = th(ThresholdKind::Limit, Track::BySrc, 1, 60);
    let filters = [rf(Track::BySrc, 2, 60, NewAction::Drop, 60)];
    let mut t = Thresholds::new(1 << 20);
    let got: Vec<EventVerdict> = (0..4)
        .map(|n| {
            t.event(
                1,
                100,
                Some(&limit),
                &[],
                &filters,
                ip("1.1.1.1"),
                ip("2.2.2.2"),
                n,
            )
        })
        .collect();
    let d = EventVerdict::Alert {
        rate_action: Some(NewAction::Drop),
    };
    assert_eq!(
        got,
        [
            EventVerdict::Alert { rate_action: None },
            EventVerdict::Thresholded,
            d,
            EventVerdict::Thresholded
        ]
    );
}

#[test]
fn rate_filter_counts_suppressed_events_and_by_src_is_separate() {
    let filters = [rf(Track::BySrc, 1, 60, NewAction::Pass, 60)];
    let sup = [Suppress {
        gid: 1,
        sid: 100,
        by: Some((Track::BySrc, set("1.1.1.1", "1.1.1.1"))),
    }];
    let idx = ThresholdIndex::new(&sup, &filters);
    let mut t = Thresholds::new(1 << 20);
    let mut ev = |s: &str, n| t.event_indexed(&idx, 1, 100, None, ip(s), ip("2.2.2.2"), n);
    assert_eq!(ev("1.1.1.1", 0), EventVerdict::Suppressed);
    assert_eq!(ev("1.1.1.1", 1), EventVerdict::Suppressed);
    assert!(ev("1.1.1.2", 2).is_alert());
    assert_eq!(ev("1.1.1.2", 3), EventVerdict::RateLimited);
    assert_eq!(ev("1.1.1.3", 4), EventVerdict::Alert { rate_action: None });
}

#[test]
fn lru_eviction_under_tiny_memcap() {
    let mut t = Thresholds::new(3 * TRACKER_BYTES);
    let limit = th(ThresholdKind::Limit, Track::BySrc, 1, 600);
    let src = |i: u8| IpAddr::from([10, 0, 0, i]);
    let ev = |t: &mut Thresholds, i: u8, n| {
        t.event(1, 100, Some(&limit), &[], &[], src(i), ip("9.9.9.9"), n)
            .is_alert()
    };
    assert!(ev(&mut t, 1, 0));
    assert!(ev(&mut t, 2, 1));
    assert!(ev(&mut t, 3, 2));
    assert!(!ev(&mut t, 1, 3)); // touches 1: 2 is now the least recently used
    assert!(ev(&mut t, 4, 4)); // evicts 2
    assert_eq!((t.len(), t.evictions()), (3, 1));
    assert!(!ev(&mut t, 1, 5)); // 1 survived
    assert!(!ev(&mut t, 3, 6)); // 3 survived
    assert!(ev(&mut t, 2, 7)); // 2 was forgotten: alerts again, evicting 4
    assert_eq!((t.len(), t.evictions()), (3, 2));
    assert!(ev(&mut t, 4, 8));
    assert!(t.bytes() <= 3 * TRACKER_BYTES);
    t.set_memcap(TRACKER_BYTES);
    assert_eq!((t.len(), t.evictions()), (1, 5));
}

#[test]
fn zero_memcap_still_keeps_one_tracker() {
    let mut t = Thresholds::new(0);
    let limit = th(ThresholdKind::Limit, Track::BySrc, 1, 60);
    assert!(t
        .event(
            1,
            1,
            Some(&limit),
            &[],
            &[],
            ip("1.1.1.1"),
            ip("2.2.2.2"),
            0
        )
        .is_alert());
    assert!(!t
        .event(
            1,
            1,
            Some(&limit),
            &[],
            &[],
            ip("1.1.1.1"),
            ip("2.2.2.2"),
            1
        )
        .is_alert());
    assert_eq!(t.len(), 1);
}

#[test]
fn trackers_survive_a_reload() {
    // Trackers are keyed by gid:sid, not by rule index: a new rule list (different order,
    // new index) with the same Thresholds keeps counting.
    let mut t = Thresholds::new(1 << 20);
    let old = [th(ThresholdKind::Limit, Track::BySrc, 2, 60)];
    let ev = |t: &mut Thresholds, thr: &Threshold, idx: &ThresholdIndex, n| {
        t.event_indexed(
            idx,
            1,
            2404000,
            Some(thr),
            ip("192.168.0.31"),
            ip("161.53.178.240"),
            n,
        )
    };
    let idx = ThresholdIndex::new(&[], &[]);
    assert!(ev(&mut t, &old[0], &idx, 0).is_alert());
    assert!(ev(&mut t, &old[0], &idx, 1).is_alert());
    let new_rules = [th(ThresholdKind::Limit, Track::BySrc, 1, 60), old[0]];
    let idx2 = ThresholdIndex::new(&[], &[rf(Track::BySrc, 100, 60, NewAction::Drop, 1)]);
    assert_eq!(
        ev(&mut t, &new_rules[1], &idx2, 2),
        EventVerdict::Thresholded
    );
    assert!(ev(&mut t, &new_rules[1], &idx2, 60).is_alert());
}

#[test]
fn no_filters_means_alert() {
    let mut t = Thresholds::new(1 << 20);
    let v = t.event(1, 1, None, &[], &[], ip("1.1.1.1"), ip("2.2.2.2"), 0);
    assert_eq!(v, EventVerdict::Alert { rate_action: None });
    assert!(t.is_empty());
}

/// `rate_filter … apply_to LIST` (sfrf.c `SFRF_TestThreshold` → `SFRF_AppliesTo`): the filter
/// counts and acts only for events whose tracked address is in the list; other addresses are
/// neither counted nor filtered. IPv4, IPv6 and a negated list.
#[test]
fn rate_filter_apply_to_vectors() {
    use crate::rules::addr::{parse_addr, Vars};
    let vars = Vars::new();
    let list = |text: &str| parse_addr(text, 0, &vars).unwrap();
    let a = EventVerdict::Alert { rate_action: None };
    let p = EventVerdict::RateLimited;
    // (apply_to, track, tracked address, verdicts of three events at t = 0 1 2)
    let cases: &[(&str, Track, &str, [EventVerdict; 3])] = &[
        (
            "[10.0.0.0/8,2001:db8::/32]",
            Track::BySrc,
            "10.1.2.3",
            [a, p, p],
        ),
        (
            "[10.0.0.0/8,2001:db8::/32]",
            Track::BySrc,
            "192.168.1.1",
            [a, a, a],
        ),
        (
            "[10.0.0.0/8,2001:db8::/32]",
            Track::BySrc,
            "2001:db8::5",
            [a, p, p],
        ),
        (
            "[10.0.0.0/8,2001:db8::/32]",
            Track::BySrc,
            "2001:db9::5",
            [a, a, a],
        ),
        (
            "[10.0.0.0/8,2001:db8::/32]",
            Track::ByDst,
            "10.9.9.9",
            [a, p, p],
        ),
        (
            "[10.0.0.0/8,2001:db8::/32]",
            Track::ByDst,
            "11.9.9.9",
            [a, a, a],
        ),
        ("[!10.0.0.0/8]", Track::BySrc, "10.1.2.3", [a, a, a]),
        ("[!10.0.0.0/8]", Track::BySrc, "172.16.0.1", [a, p, p]),
        (
            "![10.0.0.0/8,192.168.0.0/16]",
            Track::BySrc,
            "192.168.3.3",
            [a, a, a],
        ),
    ];
    for (text, track, addr, want) in cases {
        let mut f = rf(*track, 1, 60, NewAction::Pass, 60);
        f.apply_to = Some(list(text));
        let mut t = Thresholds::new(1 << 20);
        // The other side of the packet is an address outside every list.
        let (src, dst) = match track {
            Track::ByDst => ("203.0.113.1", *addr),
            _ => (*addr, "203.0.113.1"),
        };
        let (src, dst) = if addr.contains(':') && *track == Track::BySrc {
            (*addr, "2001:db9::99")
        } else {
            (src, dst)
        };
        let got: Vec<EventVerdict> = (0..3)
            .map(|n| {
                t.event(
                    1,
                    100,
                    None,
                    &[],
                    std::slice::from_ref(&f),
                    ip(src),
                    ip(dst),
                    n,
                )
            })
            .collect();
        assert_eq!(got, want, "apply_to {text} {track:?} {addr}");
    }
}

/// SFRF_OVER_RATE (Snort 2.9.20 sfrf.c `_checkSamplingPeriod`/`_checkThreshold`): at the
/// timeout, a `pass` rate filter stays in force while the previous sampling period was over
/// the count; it ends only after a period back under the count.
#[test]
fn rate_filter_pass_stays_on_after_an_over_rate_period() {
    let a = EventVerdict::Alert { rate_action: None };
    let p = EventVerdict::RateLimited;
    let f = rf(Track::ByRule, 2, 10, NewAction::Pass, 5);
    let mut t = Thresholds::new(1 << 20);
    // t=2: 3rd event in the window → on. t=10: new window (count 1) after a window of 3 > 2,
    // the last event 8 s before (≤ 10): still over rate → stays on though the timeout ran
    // (the old code switched off here). t=16: timeout again, same window still marked over
    // rate → on. t=21: new window after one of 2 ≤ 2 → off, alert.
    let got: Vec<EventVerdict> = [0, 1, 2, 10, 16, 21]
        .iter()
        .map(|&n| {
            t.event(
                1,
                100,
                None,
                &[],
                std::slice::from_ref(&f),
                ip("1.1.1.1"),
                ip("2.2.2.2"),
                n,
            )
        })
        .collect();
    assert_eq!(got, [a, a, p, p, p, a]);
}

/// What the rate filter's `new_action` does to a rule's own action (fpdetect.c `fpLogEvent`:
/// the new action replaces the rule's, then `AlertAction`/`LogAction`/`PassAction` run).
#[test]
fn new_action_replaces_the_rule_action() {
    use NewAction::*;
    let v = |a| EventVerdict::Alert {
        rate_action: Some(a),
    };
    let none = EventVerdict::Alert { rate_action: None };
    // (verdict, the rule's own action writes an alert, expected)
    let cases = [
        (none, true, true),
        (none, false, false),
        (v(Alert), false, true), // a `log` rule promoted by new_action alert alerts
        (v(Drop), false, true),
        (v(Sdrop), true, true),
        (v(Reject), true, true),
        (v(Log), true, false), // an `alert` rule demoted to log writes no alert
        (v(Pass), true, false),
        (EventVerdict::RateLimited, true, false),
        (EventVerdict::Suppressed, true, false),
        (EventVerdict::Thresholded, true, false),
    ];
    for (verdict, rule_alerts, want) in cases {
        assert_eq!(
            verdict.writes_alert(rule_alerts),
            want,
            "{verdict:?} rule_alerts={rule_alerts}"
        );
    }
}

/// sfrf.c `SFRF_TestThreshold`: a rate_filter belongs to one gid:sid. Even a hand-made sid 0
/// filter (the parser refuses it, like `SFRF_ConfigAdd`) does not act on other sids.
#[test]
fn rate_filter_is_per_sid() {
    let mut f = rf(Track::BySrc, 1, 60, NewAction::Pass, 60);
    f.sid = 0;
    let idx = ThresholdIndex::new(&[], std::slice::from_ref(&f));
    let mut t = Thresholds::new(1 << 20);
    for n in 0..3 {
        assert!(t
            .event_indexed(&idx, 1, 100, None, ip("1.1.1.1"), ip("2.2.2.2"), n)
            .is_alert());
    }
}
