//! threshold.conf: `threshold`/`event_filter`, `suppress` (with and without `track … ip`) and
//! `rate_filter` lines (Snort 2.9 README.filters) → typed entries. Applying them to the rules
//! (replacing in-rule thresholds) is `load`'s job; counting events is `detect`'s.

use super::addr::{parse_addr, Vars};
use super::model::{NewAction, RateFilter, Suppress, Threshold, ThresholdKind, Track};
use super::option_values::{number, track};
use super::parse::{logical_lines, Logical, Span};

/// A `threshold`/`event_filter` entry. For one gid:sid it replaces the rule's in-rule threshold;
/// sid 0 is global: it applies to every sid of the gid (gid 0: of every gid) that has no
/// threshold of its own (Snort sfthd.c `sfthd_test_threshold` tests the global object only when
/// no local one decided).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    pub gid: u32,
    pub sid: u32,
    /// `None` for `count -1`: no thresholding for this gid:sid, which also exempts the sid from
    /// a global filter (sfthd.c `sfthd_test_local`: `THD_NO_THRESHOLD` logs and stops looking).
    pub threshold: Option<Threshold>,
    pub span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct ThresholdConf {
    pub event_filters: Vec<EventFilter>,
    pub suppress: Vec<Suppress>,
    pub rate_filters: Vec<RateFilter>,
}

/// Parses threshold.conf text; returns the entries and every malformed line (one error each).
pub fn parse(text: &str, vars: &Vars) -> (ThresholdConf, Vec<(Span, String)>) {
    let mut conf = ThresholdConf::default();
    let mut errors = Vec::new();
    for l in logical_lines(text) {
        if let Err((off, msg)) = parse_line(&l, vars, &mut conf) {
            errors.push((l.span(off), msg));
        }
    }
    (conf, errors)
}

/// Splits at commas outside brackets: (field text trimmed, offset).
fn split_top(s: &str, base: usize) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth <= 0 => {
                out.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push((start, s.len()));
    out.into_iter()
        .map(|(a, b)| {
            let raw = &s[a..b];
            let lead = raw.len() - raw.trim_start().len();
            (raw.trim(), base + a + lead)
        })
        .collect()
}

fn parse_line(l: &Logical, vars: &Vars, conf: &mut ThresholdConf) -> Result<(), (usize, String)> {
    let text = l.text.as_str();
    let lead = text.len() - text.trim_start().len();
    let t = text.trim_start();
    let kw_end = t.find(char::is_whitespace).unwrap_or(t.len());
    let kw = &t[..kw_end];
    let allowed: &[&str] = match kw {
        "threshold" | "event_filter" => &["gen_id", "sig_id", "type", "track", "count", "seconds"],
        "suppress" => &["gen_id", "sig_id", "track", "ip"],
        "rate_filter" => &[
            "gen_id",
            "sig_id",
            "track",
            "count",
            "seconds",
            "new_action",
            "timeout",
            "apply_to",
        ],
        _ => {
            return Err((lead, format!("unknown entry '{kw}', expected threshold, event_filter, suppress or rate_filter")));
        }
    };
    let body_off = lead + kw_end;
    let mut vals: Vec<Option<(&str, usize)>> = vec![None; allowed.len()];
    for (field, off) in split_top(&text[body_off..], body_off) {
        if field.is_empty() {
            return Err((
                off,
                format!("empty field, expected one of {}", allowed.join(", ")),
            ));
        }
        let (k, v) = match field.split_once(char::is_whitespace) {
            Some((k, v)) => (k, v.trim()),
            None => {
                return Err((
                    off,
                    format!("'{field}' needs a value, expected 'key value'"),
                ))
            }
        };
        let Some(i) = allowed.iter().position(|a| *a == k) else {
            return Err((
                off,
                format!(
                    "unknown field '{k}' in {kw}, expected one of {}",
                    allowed.join(", ")
                ),
            ));
        };
        if vals[i].is_some() {
            return Err((off, format!("'{k}' given twice")));
        }
        vals[i] = Some((v, off + field.len() - v.len()));
    }
    let get = |name: &str| -> Option<(&str, usize)> {
        allowed
            .iter()
            .position(|a| *a == name)
            .and_then(|i| vals[i])
    };
    let req = |name: &str| -> Result<(&str, usize), (usize, String)> {
        get(name).ok_or((text.len(), format!("{kw} needs '{name}'")))
    };
    let num = |name: &str| -> Result<u32, (usize, String)> {
        let (v, off) = req(name)?;
        number(v).map_err(|e| (off, format!("{name}: {e}")))
    };
    let gid = num("gen_id")?;
    let sid = num("sig_id")?;
    match kw {
        "threshold" | "event_filter" => {
            if gid == 0 && sid != 0 {
                // sfthd.c sfthd_create_threshold: gen_id 0 is only for a global entry.
                return Err((req("gen_id")?.1, "gen_id 0 needs sig_id 0".into()));
            }
            let (ty, ty_off) = req("type")?;
            let kind = match ty {
                "limit" => ThresholdKind::Limit,
                "threshold" => ThresholdKind::Threshold,
                "both" => ThresholdKind::Both,
                _ => {
                    return Err((
                        ty_off,
                        format!("bad type '{ty}', expected limit, threshold or both"),
                    ))
                }
            };
            let (tr, tr_off) = req("track")?;
            let track = track(tr, false).map_err(|e| (tr_off, e))?;
            // `count -1`: Snort's THD_NO_THRESHOLD (README.filters: "-1 ... disables").
            let seconds = num("seconds")?;
            let threshold = match req("count")? {
                ("-1", _) => None,
                _ => Some(Threshold {
                    kind,
                    track,
                    count: num("count")?,
                    seconds,
                }),
            };
            conf.event_filters.push(EventFilter {
                gid,
                sid,
                threshold,
                span: l.span(lead),
            });
        }
        "suppress" => {
            let by = match (get("track"), get("ip")) {
                (None, None) => None,
                (Some((tr, tr_off)), Some((ip, ip_off))) => {
                    let track = track(tr, false).map_err(|e| (tr_off, e))?;
                    let set = parse_addr(ip, ip_off, vars)
                        .map_err(|e| (e.offset, format!("ip: {}", e.message)))?;
                    Some((track, set))
                }
                (Some(_), None) => {
                    return Err((text.len(), "suppress with 'track' needs 'ip'".into()))
                }
                (None, Some((_, off))) => {
                    return Err((off, "suppress with 'ip' needs 'track'".into()))
                }
            };
            conf.suppress.push(Suppress { gid, sid, by });
        }
        _ => {
            let (tr, tr_off) = req("track")?;
            let track = track(tr, true).map_err(|e| (tr_off, e))?;
            let (na, na_off) = req("new_action")?;
            let new_action = match na {
                "alert" => NewAction::Alert,
                "drop" => NewAction::Drop,
                "pass" => NewAction::Pass,
                "log" => NewAction::Log,
                "sdrop" => NewAction::Sdrop,
                "reject" => NewAction::Reject,
                _ => {
                    return Err((
                        na_off,
                        format!(
                        "bad new_action '{na}', expected alert, drop, pass, log, sdrop or reject"
                    ),
                    ))
                }
            };
            // What Snort 2.9 refuses: sfrf.c `SFRF_ConfigAdd` rejects gid 0 and sid 0 (no
            // global rate filters) and count 0; parser.c `ParseRateFilter` rejects `apply_to`
            // with `track by_rule` and `seconds 0` outside gid 135 (only the internal
            // session-count events may count a total instead of a rate).
            if gid == 0 {
                return Err((
                    req("gen_id")?.1,
                    "rate_filter needs a gen_id other than 0".into(),
                ));
            }
            if sid == 0 {
                return Err((
                    req("sig_id")?.1,
                    "rate_filter needs one sig_id: Snort has no global (sig_id 0) rate_filter"
                        .into(),
                ));
            }
            let apply_to = match get("apply_to") {
                Some((_, off)) if track == Track::ByRule => {
                    return Err((
                        off,
                        "apply_to needs track by_src or by_dst, not by_rule".into(),
                    ))
                }
                Some((ip, off)) => Some(
                    parse_addr(ip, off, vars)
                        .map_err(|e| (e.offset, format!("apply_to: {}", e.message)))?,
                ),
                None => None,
            };
            let count = num("count")?;
            if count == 0 {
                return Err((req("count")?.1, "count must be at least 1".into()));
            }
            let seconds = num("seconds")?;
            if seconds == 0 && gid != 135 {
                return Err((
                    req("seconds")?.1,
                    "seconds must be at least 1 (0 is only for gen_id 135)".into(),
                ));
            }
            conf.rate_filters.push(RateFilter {
                gid,
                sid,
                track,
                count,
                seconds,
                new_action,
                timeout: num("timeout")?,
                apply_to,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries() {
        let mut vars = Vars::new();
        vars.insert("HOME_NET".into(), "[10.0.0.0/8]".into());
        let text = "\
# comment
event_filter gen_id 1, sig_id 2404000, type limit, track by_src, count 1, seconds 60
threshold gen_id 1, sig_id 0, type both, track by_dst, count 5, seconds 30
suppress gen_id 1, sig_id 2
suppress gen_id 1, sig_id 3, track by_src, ip [1.1.1.1,2.2.2.0/24]
suppress gen_id 1, sig_id 4, track by_dst, ip $HOME_NET
rate_filter gen_id 135, sig_id 1, track by_rule, count 100, seconds 1, new_action pass, timeout 10
rate_filter gen_id 1, sig_id 5, track by_src, count 2, seconds 3, new_action drop, timeout 4, apply_to [10.1.0.0/16]
";
        let (c, errors) = parse(text, &vars);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.event_filters.len(), 2);
        assert_eq!(
            c.event_filters[0].threshold,
            Some(Threshold {
                kind: ThresholdKind::Limit,
                track: Track::BySrc,
                count: 1,
                seconds: 60
            })
        );
        assert_eq!(c.event_filters[1].sid, 0);
        assert_eq!(c.suppress.len(), 3);
        assert_eq!(c.suppress[0].by, None);
        assert_eq!(
            c.suppress[1].by.as_ref().map(|(t, s)| (*t, s.v4.len())),
            Some((Track::BySrc, 2))
        );
        assert_eq!(
            c.suppress[2].by.as_ref().map(|(t, s)| (*t, s.v4.clone())),
            Some((Track::ByDst, vec![(0x0a00_0000, 0x0aff_ffff)]))
        );
        assert_eq!(
            c.rate_filters[0],
            RateFilter {
                gid: 135,
                sid: 1,
                track: Track::ByRule,
                count: 100,
                seconds: 1,
                new_action: NewAction::Pass,
                timeout: 10,
                apply_to: None,
            }
        );
        assert_eq!(c.rate_filters.len(), 2);
        assert_eq!(
            c.rate_filters[1].apply_to.as_ref().map(|s| s.v4.clone()),
            Some(vec![(0x0a01_0000, 0x0a01_ffff)])
        );
    }

    /// `count -1` (exempt), `seconds 0` for gid 135, negated `apply_to` lists and IPv6.
    #[test]
    fn snort_accepts() {
        let vars = Vars::new();
        let text = "\
event_filter gen_id 1, sig_id 7, type limit, track by_src, count -1, seconds 60
rate_filter gen_id 135, sig_id 1, track by_src, count 10, seconds 0, new_action alert, timeout 5
rate_filter gen_id 1, sig_id 5, track by_dst, count 2, seconds 3, new_action drop, timeout 4, apply_to [!10.0.0.0/8]
rate_filter gen_id 1, sig_id 6, track by_src, count 2, seconds 3, new_action drop, timeout 4, apply_to [2001:db8::/32]
";
        let (c, errors) = parse(text, &vars);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.event_filters[0].threshold, None);
        assert_eq!(c.rate_filters[0].seconds, 0);
        let neg = c.rate_filters[1].apply_to.as_ref().unwrap();
        assert!(!neg.contains(&"10.1.2.3".parse().unwrap()));
        assert!(neg.contains(&"11.1.2.3".parse().unwrap()));
        let v6 = c.rate_filters[2].apply_to.as_ref().unwrap();
        assert!(v6.contains(&"2001:db8::1".parse().unwrap()));
        assert!(!v6.contains(&"2001:db9::1".parse().unwrap()));
        assert!(!v6.contains(&"10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn errors() {
        let vars = Vars::new();
        // text, col, message part
        let cases: &[(&str, u32, &str)] = &[
            ("threshold gen_id 1, sig_id 2, type limit, track by_src, count 1", 64, "needs 'seconds'"),
            ("threshold gen_id 1, sig_id 2, type lim, track by_src, count 1, seconds 1", 36, "bad type"),
            ("event_filter gen_id 1, sig_id 99999999999, type limit, track by_src, count 1, seconds 1", 31, "too large"),
            ("suppress gen_id 1, sig_id 2, track by_src, ip $NOPE", 47, "unknown variable"),
            ("suppress gen_id 1, sig_id 2, track by_src", 42, "needs 'ip'"),
            ("suppress gen_id 1, sig_id 2, track by_rule, ip 1.1.1.1", 36, "bad track"),
            ("rate_filter gen_id 1, sig_id 2, track by_src, count 1, seconds 1, new_action explode, timeout 1", 78, "bad new_action"),
            ("frobnicate gen_id 1", 1, "unknown entry"),
            ("suppress gen_id 1, sig_id 2, colour red", 30, "unknown field"),
            // What Snort 2.9 refuses in a rate_filter (sfrf.c SFRF_ConfigAdd, parser.c).
            ("rate_filter gen_id 1, sig_id 2, track by_rule, count 1, seconds 1, new_action drop, timeout 1, apply_to 10.0.0.0/8", 105, "apply_to needs track by_src"),
            ("rate_filter gen_id 1, sig_id 0, track by_src, count 1, seconds 1, new_action drop, timeout 1", 30, "sig_id"),
            ("rate_filter gen_id 0, sig_id 5, track by_src, count 1, seconds 1, new_action drop, timeout 1", 20, "gen_id"),
            ("rate_filter gen_id 1, sig_id 5, track by_src, count 1, seconds 0, new_action drop, timeout 1", 64, "seconds must be at least 1"),
            ("rate_filter gen_id 1, sig_id 5, track by_src, count 1, seconds 1, new_action drop, timeout 1, apply_to [1.1.1.1,$NOPE]", 113, "unknown variable"),
            ("event_filter gen_id 1, sig_id 2, type limit, track by_src, count -2, seconds 1", 66, "count"),
        ];
        for &(text, col, msg) in cases {
            let (_, e) = parse(text, &vars);
            assert_eq!(e.len(), 1, "{text}");
            assert!(e[0].1.contains(msg), "{text}: {e:?}");
            assert_eq!(e[0].0.col, col, "{text}: {e:?}");
        }
    }
}
