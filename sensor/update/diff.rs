//! What changed between two rule sets, by rule identity `gid:sid` and revision: read off the
//! rule text of every active rule (commented-out rules do not count), loaded or skipped
//! alike, so a rule the engine cannot run yet still shows up as added or removed. A light
//! scan, not the parser: it only needs `gid`, `sid` and `rev`.

use std::collections::BTreeMap;

/// `(gid, sid)` → `rev`, over a whole set.
pub type Ids = BTreeMap<(u32, u32), u32>;

const ACTIONS: &[&str] = &[
    "alert", "log", "pass", "drop", "sdrop", "reject", "activate", "dynamic",
];

/// Adds the active rules of `text` to `ids` (a later duplicate replaces an earlier one, as
/// the loader does).
pub fn scan(text: &str, ids: &mut Ids) {
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim_end();
        if let Some(cont) = line.strip_suffix('\\') {
            logical.push_str(cont);
            continue;
        }
        logical.push_str(line);
        one(&logical, ids);
        logical.clear();
    }
    if !logical.is_empty() {
        one(&logical, ids);
    }
}

fn one(line: &str, ids: &mut Ids) {
    let t = line.trim_start();
    let Some(first) = t.split_whitespace().next() else {
        return;
    };
    if !ACTIONS.contains(&first) {
        return;
    }
    let (Some(open), Some(close)) = (t.find('('), t.rfind(')')) else {
        return;
    };
    if close <= open {
        return;
    }
    let (mut gid, mut sid, mut rev) = (1u32, None, 0u32);
    for opt in t[open + 1..close].split(';') {
        let Some((k, v)) = opt.split_once(':') else {
            continue;
        };
        let v = v.trim().parse::<u32>().ok();
        match k.trim() {
            "sid" => sid = v,
            "gid" => gid = v.unwrap_or(gid),
            "rev" => rev = v.unwrap_or(rev),
            _ => {}
        }
    }
    if let Some(sid) = sid {
        ids.insert((gid, sid), rev);
    }
}

/// `(added, removed, changed)` from `old` to `new`; changed: same `gid:sid`, another `rev`.
pub fn compare(old: &Ids, new: &Ids) -> (usize, usize, usize) {
    let added = new.keys().filter(|k| !old.contains_key(k)).count();
    let removed = old.keys().filter(|k| !new.contains_key(k)).count();
    let changed = new
        .iter()
        .filter(|(k, rev)| old.get(k).is_some_and(|o| o != *rev))
        .count();
    (added, removed, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_and_compares() {
        let mut a = Ids::new();
        scan(
            "# alert ip any any -> any any (sid:9;)\n\
             alert ip any any -> any any (msg:\"a\"; sid:1; rev:2;)\n\
             alert ip any any -> any any (msg:\"b\"; \\\n sid:2; rev:1;)\n\
             alert ip any any -> any any (gid:3; sid:1; rev:1;)\n",
            &mut a,
        );
        assert_eq!(a.len(), 3);
        assert_eq!(a[&(1, 2)], 1);
        let mut b = Ids::new();
        scan(
            "alert ip any any -> any any (sid:1; rev:3;)\nalert ip any any -> any any (sid:4; rev:1;)\n",
            &mut b,
        );
        assert_eq!(compare(&a, &b), (1, 2, 1));
    }
}
