//! suricata-update's rule edits — `enable.conf`, `disable.conf`, `modify.conf` — read and
//! applied to rule files' text, so users can bring the files they already have. Pure: the
//! caller reads the rule files and writes the result; only [`Edits::load`] reads (the three
//! edit files).
//!
//! # The files (suricata-update `matchers.py`, `main.py`)
//! One matcher a line; blank lines and lines starting with `#` are ignored, and so is
//! everything from the first ` #` (a space, then `#`) of a line. Matchers:
//!
//! | matcher | matches |
//! |---|---|
//! | `2019401`, `1:2019401`, `1:2019401:3` | gid (default 1), sid and optionally rev; several separated by commas (no ranges: suricata-update has none) |
//! | `re:REGEX` | the rule text (without its comment prefix), searched, case-insensitive |
//! | `group:GLOB` | the rule file's base name, with or without its extension (`group:emerging-*.rules`, `group:emerging-scan`); a bare `NAME.rules` means the same |
//! | `filename:GLOB` | the rule file's whole name as the source gives it (`rules/emerging-scan.rules`) |
//! | `metadata:KEY VALUE` | a `metadata:` entry, case-insensitive |
//! | `*` | every rule |
//!
//! Globs are Python `fnmatch`'s: `*`, `?`, `[abc]`, `[!abc]`. `modify.conf` lines are
//! `MATCHER "FROM" "TO"` (or Oinkmaster's `modifysid MATCHER "FROM" | "TO"`), split like a
//! POSIX shell (Python's `shlex`): FROM is a regular expression replaced everywhere in the
//! rule (as Python's `re.sub`) with TO, where `\1`, `\g<1>`, `\g<name>` and Oinkmaster's
//! `${1}` name groups. FROM is matched against the rule as it would be written, `# ` prefix
//! included when it is disabled; a replacement that no longer makes one rule is not applied.
//!
//! Regular expressions are the `regex` crate's, which reads Python's syntax except
//! look-around and backreferences inside the pattern; those are reported when loading.
//!
//! # Order and counts
//! Every rule goes through the enable matchers, then disable, then each modify line in file
//! order — the order this product documents (suricata-update itself runs disable before
//! enable, so a rule matched by both ends enabled there and disabled here). A rule counts
//! once as enabled if it went from commented-out to active, once as disabled if the
//! reverse, once as modified if a modify line changed its text.
//!
//! # Rules in files
//! A rule is a line starting with an action (`alert`, `drop`, …), or a commented-out one
//! (`# alert …`, `#alert …`, `## alert …`), with `\` continuation lines joined as the rule
//! loader joins them. Other lines (comments, `var`, `include`) are kept as they are. An
//! unchanged rule keeps its exact text; a changed one is written on one line, its
//! continuations joined.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

use regex::{Regex, RegexBuilder};

use crate::diag::Diagnostic;

/// One rule file: its name (as in the source, e.g. `rules/emerging-botcc.rules`) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFile {
    pub name: String,
    pub text: String,
}

/// A `GID:SID[:REV]` entry.
type Id = (u32, u32, Option<u32>);

/// What a matcher line selects.
#[derive(Debug, Clone)]
enum Matcher {
    All,
    /// (gid, sid, rev)
    Ids(Vec<Id>),
    Re(Regex),
    Group(Regex),
    Filename(Regex),
    /// Lower-case key and value.
    Metadata(String, String),
}

/// Enable or disable matchers: ids in a set (disable.conf files list thousands of sids),
/// the rest tried in turn.
#[derive(Debug, Clone, Default)]
struct MatcherSet {
    ids: HashSet<(u32, u32)>,
    id_revs: HashSet<(u32, u32, u32)>,
    others: Vec<Matcher>,
}

impl MatcherSet {
    fn push(&mut self, m: Matcher) {
        match m {
            Matcher::Ids(ids) => {
                for (g, s, r) in ids {
                    match r {
                        None => self.ids.insert((g, s)),
                        Some(r) => self.id_revs.insert((g, s, r)),
                    };
                }
            }
            m => self.others.push(m),
        }
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.id_revs.is_empty() && self.others.is_empty()
    }

    fn matches(&self, rule: &RuleText, file: &str) -> bool {
        if let Some(sid) = rule.sid {
            if self.ids.contains(&(rule.gid, sid))
                || rule
                    .rev
                    .is_some_and(|r| self.id_revs.contains(&(rule.gid, sid, r)))
            {
                return true;
            }
        }
        self.others.iter().any(|m| m.matches(rule, file))
    }
}

impl Matcher {
    fn matches(&self, rule: &RuleText, file: &str) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Ids(ids) => rule.sid.is_some_and(|sid| {
                ids.iter().any(|&(g, s, r)| {
                    g == rule.gid && s == sid && r.is_none_or(|r| Some(r) == rule.rev)
                })
            }),
            Matcher::Re(re) => re.is_match(&rule.raw),
            Matcher::Group(glob) => {
                let base = file.rsplit('/').next().unwrap_or(file);
                glob.is_match(base) || glob.is_match(strip_ext(base))
            }
            Matcher::Filename(glob) => glob.is_match(file),
            Matcher::Metadata(k, v) => rule.metadata.iter().any(|entry| {
                let (ek, ev) = entry.split_once(' ').unwrap_or((entry, ""));
                ek.trim().eq_ignore_ascii_case(k) && ev.trim().to_lowercase() == *v
            }),
        }
    }
}

/// Python's `os.path.splitext` on a base name: `a.rules` → `a`, `.hidden` stays.
fn strip_ext(base: &str) -> &str {
    match base.rfind('.') {
        Some(i) if base[..i].chars().any(|c| c != '.') => &base[..i],
        _ => base,
    }
}

/// One modify.conf line.
#[derive(Debug, Clone)]
struct Modify {
    matcher: Matcher,
    from: Regex,
    /// The replacement in the `regex` crate's syntax (`${1}`, `$$`).
    to: String,
}

/// The edits of the three files.
#[derive(Debug, Clone, Default)]
pub struct Edits {
    enable: MatcherSet,
    disable: MatcherSet,
    modify: Vec<Modify>,
}

impl Edits {
    /// Reads the given files (each optional).
    ///
    /// # Errors
    /// Every bad line of every file — an unknown matcher, a bad regular expression or
    /// replacement, a modify line without its two strings, a file that cannot be read — each
    /// located `path:line:col` and saying what was expected.
    pub fn load(
        enable: Option<&Path>,
        disable: Option<&Path>,
        modify: Option<&Path>,
    ) -> Result<Edits, Vec<Diagnostic>> {
        let mut edits = Edits::default();
        let mut errs = Vec::new();
        for (path, set) in [(enable, &mut edits.enable), (disable, &mut edits.disable)] {
            if let Some(path) = path {
                let text = read(path, &mut errs);
                for m in parse_matchers(path, &text, &mut errs) {
                    set.push(m);
                }
            }
        }
        if let Some(path) = modify {
            let text = read(path, &mut errs);
            edits.modify = parse_modify(path, &text, &mut errs);
        }
        if errs.is_empty() {
            Ok(edits)
        } else {
            Err(errs)
        }
    }

    /// Edits from text already read, as if from files at the given paths (for callers that
    /// hold the text, and tests).
    ///
    /// # Errors
    /// As [`Edits::load`].
    pub fn from_text(
        enable: Option<(&Path, &str)>,
        disable: Option<(&Path, &str)>,
        modify: Option<(&Path, &str)>,
    ) -> Result<Edits, Vec<Diagnostic>> {
        let mut edits = Edits::default();
        let mut errs = Vec::new();
        for (src, set) in [(enable, &mut edits.enable), (disable, &mut edits.disable)] {
            if let Some((path, text)) = src {
                for m in parse_matchers(path, text, &mut errs) {
                    set.push(m);
                }
            }
        }
        if let Some((path, text)) = modify {
            edits.modify = parse_modify(path, text, &mut errs);
        }
        if errs.is_empty() {
            Ok(edits)
        } else {
            Err(errs)
        }
    }

    /// No edits at all.
    pub fn is_empty(&self) -> bool {
        self.enable.is_empty() && self.disable.is_empty() && self.modify.is_empty()
    }
}

fn read(path: &Path, errs: &mut Vec<Diagnostic>) -> String {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            errs.push(diag(path, 1, 1, format!("cannot read: {e}")));
            String::new()
        }
    }
}

fn diag(path: &Path, line: u32, col: u32, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        path: path.to_path_buf(),
        line,
        col,
        message: message.into(),
    }
}

/// 1-based column (in characters) of byte offset `at` of `line`.
fn col(line: &str, at: usize) -> u32 {
    let n = line.get(..at).map_or(0, |s| s.chars().count());
    u32::try_from(n + 1).unwrap_or(u32::MAX)
}

/// The lines that carry an edit: (line number, byte offset of the content in the line, the
/// line, the content) — blank and `#` lines dropped.
fn edit_lines(text: &str) -> impl Iterator<Item = (u32, usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n').enumerate().filter_map(|(i, raw)| {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let start = line.len() - line.trim_start().len();
        let t = line.trim();
        (!t.is_empty() && !t.starts_with('#'))
            .then(|| (u32::try_from(i + 1).unwrap_or(u32::MAX), start, line))
    })
}

const MATCHERS: &str = "expected a matcher: SID, GID:SID or GID:SID:REV (several separated by commas), re:REGEX, group:FILE, filename:PATH, metadata:KEY VALUE, NAME.rules or *";

fn parse_matchers(path: &Path, text: &str, errs: &mut Vec<Diagnostic>) -> Vec<Matcher> {
    let mut out = Vec::new();
    for (n, start, line) in edit_lines(text) {
        // suricata-update: `line.rsplit(" #")[0].strip()`, everything from the first " #" goes.
        let body = &line[start..];
        let body = body.split(" #").next().unwrap_or(body).trim_end();
        match parse_matcher(body) {
            Ok(m) => out.push(m),
            Err((at, msg)) => errs.push(diag(path, n, col(line, start + at), msg)),
        }
    }
    out
}

/// One matcher; an error carries a byte offset into `text`.
fn parse_matcher(text: &str) -> Result<Matcher, (usize, String)> {
    if text == "*" {
        return Ok(Matcher::All);
    }
    if let Some(ids) = parse_ids(text)? {
        return Ok(Matcher::Ids(ids));
    }
    let arg = |prefix: &str| {
        text.strip_prefix(prefix).map(|rest| {
            let skipped = rest.len() - rest.trim_start().len();
            (prefix.len() + skipped, rest.trim())
        })
    };
    if let Some((at, re)) = arg("re:") {
        return RegexBuilder::new(re)
            .case_insensitive(true)
            .build()
            .map(Matcher::Re)
            .map_err(|e| (at, regex_error(re, &e)));
    }
    if let Some((at, g)) = arg("group:") {
        return glob(g).map(Matcher::Group).map_err(|m| (at, m));
    }
    if let Some((at, g)) = arg("filename:") {
        return glob(g).map(Matcher::Filename).map_err(|m| (at, m));
    }
    if let Some((at, kv)) = arg("metadata:") {
        return match kv.split_once(char::is_whitespace) {
            Some((k, v)) if !v.trim().is_empty() => {
                Ok(Matcher::Metadata(k.to_lowercase(), v.trim().to_lowercase()))
            }
            _ => Err((
                at,
                format!("metadata matcher `{kv}`: expected metadata:KEY VALUE"),
            )),
        };
    }
    if text.ends_with(".rules") {
        return glob(text).map(Matcher::Group).map_err(|m| (0, m));
    }
    Err((0, format!("`{text}`: {MATCHERS}")))
}

/// `Ok(None)` when `text` does not look like an id list at all; an error when it does but
/// an entry is bad (so `2019401-2019405` says why).
fn parse_ids(text: &str) -> Result<Option<Vec<Id>>, (usize, String)> {
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return Ok(None);
    }
    let mut ids = Vec::new();
    let mut at = 0;
    for entry in text.split(',') {
        let off = at + (entry.len() - entry.trim_start().len());
        at += entry.len() + 1;
        let e = entry.trim();
        let nums: Option<Vec<u32>> = e
            .split(':')
            .map(|p| {
                (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| p.parse::<u32>().ok())
                    .flatten()
            })
            .collect();
        let id = match nums.as_deref() {
            Some(&[s]) => (1, s, None),
            Some(&[g, s]) => (g, s, None),
            Some(&[g, s, r]) => (g, s, Some(r)),
            _ => {
                return Err((
                    off,
                    format!(
                        "`{e}`: expected SID, GID:SID or GID:SID:REV in decimal (sid ranges are not supported; list each sid, separated by commas)"
                    ),
                ))
            }
        };
        ids.push(id);
    }
    Ok(Some(ids))
}

/// Python `fnmatch` → an anchored regex.
fn glob(pattern: &str) -> Result<Regex, String> {
    if pattern.is_empty() {
        return Err("empty file name: expected a name or glob like emerging-*.rules".into());
    }
    let mut re = String::from("(?s)^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                // A class runs to the next `]` (a `]` right after `[` or `[!` is literal).
                let mut j = i + 1;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    re.push_str(r"\[");
                } else {
                    let inner: String = chars[i + 1..j].iter().collect();
                    let (neg, body) = match inner.strip_prefix('!') {
                        Some(b) => (true, b.to_string()),
                        None => (false, inner),
                    };
                    re.push('[');
                    if neg {
                        re.push('^');
                    }
                    for c in body.chars() {
                        if matches!(c, '\\' | '[' | ']' | '^' | '&' | '~') {
                            re.push('\\');
                        }
                        re.push(c);
                    }
                    re.push(']');
                    i = j;
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("glob `{pattern}`: {e}"))
}

fn regex_error(pattern: &str, e: &regex::Error) -> String {
    let detail = e.to_string().replace('\n', " ");
    let hint = if pattern.contains("(?=")
        || pattern.contains("(?!")
        || pattern.contains("(?<=")
        || pattern.contains("(?<!")
    {
        " (look-around is not supported)"
    } else {
        ""
    };
    format!("bad regular expression `{pattern}`{hint}: {detail}")
}

/// A token of a modify line and the byte offset it starts at.
type Token = (usize, String);

/// Python `shlex.split` (POSIX mode, no comments): whitespace separates, `'…'` takes
/// everything literally, `"…"` lets `\` escape only `"` and `\`, outside quotes `\` escapes
/// any character. Stops at the first ` #` outside quotes (suricata-update cuts its lines
/// there).
fn shlex(line: &str) -> Result<Vec<Token>, (usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<Token> = None;
    let mut it = line.char_indices().peekable();
    let mut prev_space = true;
    while let Some((i, c)) = it.next() {
        match c {
            c if c.is_whitespace() => {
                out.extend(cur.take());
                prev_space = true;
                continue;
            }
            '#' if prev_space && cur.is_none() && i > 0 => break,
            '\'' => {
                let tok = cur.get_or_insert_with(|| (i, String::new()));
                loop {
                    match it.next() {
                        Some((_, '\'')) => break,
                        Some((_, ch)) => tok.1.push(ch),
                        None => return Err((i, "unterminated '…' string".into())),
                    }
                }
            }
            '"' => {
                let tok = cur.get_or_insert_with(|| (i, String::new()));
                loop {
                    match it.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match it.peek() {
                            Some(&(_, ch @ ('"' | '\\'))) => {
                                tok.1.push(ch);
                                it.next();
                            }
                            _ => tok.1.push('\\'),
                        },
                        Some((_, ch)) => tok.1.push(ch),
                        None => return Err((i, "unterminated \"…\" string".into())),
                    }
                }
            }
            '\\' => {
                let tok = cur.get_or_insert_with(|| (i, String::new()));
                match it.next() {
                    Some((_, ch)) => tok.1.push(ch),
                    None => return Err((i, "a `\\` ends the line: nothing to escape".into())),
                }
            }
            c => cur.get_or_insert_with(|| (i, String::new())).1.push(c),
        }
        prev_space = false;
    }
    out.extend(cur);
    Ok(out)
}

fn parse_modify(path: &Path, text: &str, errs: &mut Vec<Diagnostic>) -> Vec<Modify> {
    let mut out = Vec::new();
    for (n, start, line) in edit_lines(text) {
        let at = |off: usize| col(line, start + off);
        let body = &line[start..];
        let tokens = match shlex(body) {
            Ok(t) => t,
            Err((off, msg)) => {
                errs.push(diag(path, n, at(off), msg));
                continue;
            }
        };
        let (m, from, to) = match tokens.as_slice() {
            [m, from, to] => (m, from, to),
            [first, m, from, bar, to] if first.1 == "modifysid" && bar.1 == "|" => (m, from, to),
            _ => {
                errs.push(diag(
                    path,
                    n,
                    at(0),
                    format!(
                        "expected MATCHER \"FROM\" \"TO\" (or modifysid MATCHER \"FROM\" | \"TO\"), found {} fields",
                        tokens.len()
                    ),
                ));
                continue;
            }
        };
        let matcher = match parse_matcher(&m.1) {
            Ok(x) => x,
            Err((off, msg)) => {
                errs.push(diag(path, n, at(m.0 + off), msg));
                continue;
            }
        };
        let from_re = match Regex::new(&from.1) {
            Ok(r) => r,
            Err(e) => {
                errs.push(diag(path, n, at(from.0), regex_error(&from.1, &e)));
                continue;
            }
        };
        match replacement(&to.1, &from_re) {
            Ok(to) => out.push(Modify {
                matcher,
                from: from_re,
                to,
            }),
            Err(msg) => errs.push(diag(path, n, at(to.0), msg)),
        }
    }
    out
}

/// A Python `re.sub` replacement (with Oinkmaster's `${N}`) → the `regex` crate's syntax,
/// checking that every group it names exists in `from`.
fn replacement(py: &str, from: &Regex) -> Result<String, String> {
    let groups = from.captures_len();
    let names: Vec<&str> = from.capture_names().flatten().collect();
    let check = |g: &str| -> Result<String, String> {
        match g.parse::<usize>() {
            Ok(i) if i < groups => Ok(format!("${{{i}}}")),
            Ok(i) => Err(format!(
                "replacement names group {i}, the pattern has {}",
                groups - 1
            )),
            Err(_) if names.contains(&g) => Ok(format!("${{{g}}}")),
            Err(_) => Err(format!(
                "replacement names group `{g}`, the pattern has none of that name"
            )),
        }
    };
    let mut out = String::with_capacity(py.len());
    let chars: Vec<char> = py.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match (c, next) {
            ('$', Some('{')) => {
                let end = chars[i..].iter().position(|&c| c == '}').map(|p| p + i);
                let name: String =
                    end.map_or_else(String::new, |e| chars[i + 2..e].iter().collect());
                match end {
                    Some(e) if !name.is_empty() => {
                        out.push_str(&check(&name)?);
                        i = e + 1;
                        continue;
                    }
                    _ => out.push_str("$$"),
                }
            }
            ('$', _) => out.push_str("$$"),
            ('\\', Some(d)) if d.is_ascii_digit() => {
                // Python: up to two digits name a group.
                let mut num = d.to_string();
                if let Some(d2) = chars.get(i + 2).filter(|c| c.is_ascii_digit()) {
                    num.push(*d2);
                }
                out.push_str(&check(&num)?);
                i += 1 + num.len();
                continue;
            }
            ('\\', Some('g')) => {
                let rest: String = chars[i + 2..].iter().collect();
                let Some(inner) = rest
                    .strip_prefix('<')
                    .and_then(|r| r.find('>').map(|e| r[..e].to_string()))
                else {
                    return Err("`\\g` must be followed by <NAME> or <NUMBER>".into());
                };
                out.push_str(&check(&inner)?);
                i += 2 + inner.chars().count() + 2;
                continue;
            }
            ('\\', Some('n')) => out.push('\n'),
            ('\\', Some('t')) => out.push('\t'),
            ('\\', Some('r')) => out.push('\r'),
            ('\\', Some('\\')) => out.push('\\'),
            ('\\', Some(x)) if x.is_ascii_alphabetic() => {
                return Err(format!(
                    "bad escape `\\{x}` in the replacement (as Python's re.sub)"
                ));
            }
            ('\\', Some(x)) => {
                out.push('\\');
                out.push(x);
            }
            ('\\', None) => out.push('\\'),
            (c, _) => {
                out.push(c);
                i += 1;
                continue;
            }
        }
        i += if next.is_some() && c == '\\' { 2 } else { 1 };
    }
    Ok(out)
}

/// Rule actions suricata-update recognises (rule.py).
const ACTIONS: &[&str] = &[
    "alert", "log", "pass", "activate", "dynamic", "drop", "reject", "sdrop",
];

/// A rule of a file, as the matchers see it.
#[derive(Debug, Clone)]
struct RuleText {
    enabled: bool,
    /// The rule without comment prefix, continuations joined, trimmed.
    raw: String,
    gid: u32,
    sid: Option<u32>,
    rev: Option<u32>,
    metadata: Vec<String>,
}

impl RuleText {
    /// `text` (one logical line) as a rule, if it is one: an action word, a header, and
    /// options in parentheses — suricata-update's `rule_pattern`, loosely.
    fn parse(text: &str) -> Option<RuleText> {
        let t = text.trim_start();
        let (enabled, body) = if t.starts_with('#') {
            (
                false,
                t.trim_start_matches(|c: char| c == '#' || c.is_whitespace()),
            )
        } else {
            (true, t)
        };
        let raw = body.trim();
        let word_end = raw.find(|c: char| c.is_whitespace() || c == '(')?;
        if !ACTIONS.contains(&&raw[..word_end]) {
            return None;
        }
        let open = raw.find('(')?;
        if !raw.ends_with(')') || open + 1 > raw.len() - 1 {
            return None;
        }
        let mut rule = RuleText {
            enabled,
            raw: raw.to_string(),
            gid: 1,
            sid: None,
            rev: None,
            metadata: Vec::new(),
        };
        let opts = &raw[open + 1..raw.len() - 1];
        for opt in split_options(opts) {
            let (name, value) = opt.split_once(':').unwrap_or((opt, ""));
            let value = value.trim();
            match name.trim() {
                "gid" => rule.gid = value.parse().unwrap_or(1),
                "sid" => rule.sid = value.parse().ok(),
                "rev" => rule.rev = value.parse().ok(),
                "metadata" => rule
                    .metadata
                    .extend(value.split(',').map(|v| v.trim().to_string())),
                _ => {}
            }
        }
        Some(rule)
    }

    fn format(&self) -> String {
        if self.enabled {
            self.raw.clone()
        } else {
            format!("# {}", self.raw)
        }
    }
}

/// Options split on `;` not escaped by `\` (rule.py `find_opt_end`).
fn split_options(opts: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = opts.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b';' => {
                out.push(opts[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let last = opts.get(start..).unwrap_or("").trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// A file cut into rules and the lines between them.
enum Piece<'a> {
    /// Lines kept as they are.
    Text(&'a str),
    /// A rule: its original lines (with their line ends) and what it says.
    Rule(&'a str, RuleText),
}

/// Cuts `text` into pieces. A rule's `\` continuation lines belong to it (joined as the
/// loader joins them); a commented-out rule's continuation lines may repeat the `#`.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut text_start = 0;
    let mut pos = 0;
    let bytes_len = text.len();
    while pos < bytes_len {
        let line_end = text[pos..].find('\n').map_or(bytes_len, |e| pos + e + 1);
        let line = &text[pos..line_end];
        let content = line.trim_end_matches(['\n', '\r']);
        let t = content.trim_start();
        let candidate = !t.is_empty() && {
            let body = t.trim_start_matches(|c: char| c == '#' || c.is_whitespace());
            ACTIONS.iter().any(|a| {
                body.strip_prefix(a)
                    .is_some_and(|r| r.starts_with(|c: char| c.is_whitespace() || c == '('))
            })
        };
        if !candidate {
            pos = line_end;
            continue;
        }
        let commented = t.starts_with('#');
        // Join continuations.
        let mut logical = String::new();
        let mut end = line_end;
        let mut piece = content;
        loop {
            let (body, continues) = match piece.trim_end().strip_suffix('\\') {
                Some(b) => (b, true),
                None => (piece, false),
            };
            logical.push_str(body);
            if !continues || end >= bytes_len {
                break;
            }
            let next_end = text[end..].find('\n').map_or(bytes_len, |e| end + e + 1);
            let next = text[end..next_end].trim_end_matches(['\n', '\r']);
            piece = if commented {
                let s = next.trim_start();
                s.strip_prefix('#')
                    .map_or(next, |r| r.trim_start_matches('#'))
            } else {
                next
            };
            end = next_end;
        }
        if let Some(rule) = RuleText::parse(&logical) {
            if text_start < pos {
                out.push(Piece::Text(&text[text_start..pos]));
            }
            out.push(Piece::Rule(&text[pos..end], rule));
            text_start = end;
            pos = end;
        } else {
            pos = line_end;
        }
    }
    if text_start < bytes_len {
        out.push(Piece::Text(&text[text_start..]));
    }
    out
}

/// How many rules each kind of edit changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EditCounts {
    pub enabled: usize,
    pub disabled: usize,
    pub modified: usize,
}

/// Applies the edits to the files' text in place (see the module docs for order and counts).
pub fn apply(edits: &Edits, files: &mut [RuleFile]) -> EditCounts {
    apply_reporting(edits, files).0
}

/// [`apply`], also returning a line for each modification that was not applied because its
/// result was not one rule (`FILE: [GID:SID]: …`), as suricata-update logs them.
pub fn apply_reporting(edits: &Edits, files: &mut [RuleFile]) -> (EditCounts, Vec<String>) {
    let mut counts = EditCounts::default();
    let mut problems = Vec::new();
    if edits.is_empty() {
        return (counts, problems);
    }
    for file in files.iter_mut() {
        let mut out = String::with_capacity(file.text.len());
        let mut changed_file = false;
        for piece in pieces(&file.text) {
            let (original, mut rule) = match piece {
                Piece::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Piece::Rule(o, r) => (o, r),
            };
            let was_enabled = rule.enabled;
            if !rule.enabled && edits.enable.matches(&rule, &file.name) {
                rule.enabled = true;
            }
            if rule.enabled && edits.disable.matches(&rule, &file.name) {
                rule.enabled = false;
            }
            let mut modified = false;
            for m in &edits.modify {
                if !m.matcher.matches(&rule, &file.name) {
                    continue;
                }
                let before = rule.format();
                let after = m.from.replace_all(&before, m.to.as_str());
                if after == before {
                    continue;
                }
                match RuleText::parse(&after).filter(|_| !after.contains('\n')) {
                    Some(new) => {
                        rule = new;
                        modified = true;
                    }
                    None => problems.push(format!(
                        "{}: [{}:{}]: modification not applied, the result is not one rule: {}",
                        file.name,
                        rule.gid,
                        rule.sid.map_or_else(|| "?".to_string(), |s| s.to_string()),
                        after.replace('\n', "\\n")
                    )),
                }
            }
            match (was_enabled, rule.enabled) {
                (false, true) => counts.enabled += 1,
                (true, false) => counts.disabled += 1,
                _ => {}
            }
            if modified {
                counts.modified += 1;
            }
            if was_enabled == rule.enabled && !modified {
                out.push_str(original);
            } else {
                changed_file = true;
                let eol = if original.ends_with("\r\n") {
                    "\r\n"
                } else if original.ends_with('\n') {
                    "\n"
                } else {
                    ""
                };
                let _ = write!(out, "{}{eol}", rule.format());
            }
        }
        if changed_file {
            file.text = out;
        }
    }
    (counts, problems)
}

#[cfg(test)]
mod tests;
