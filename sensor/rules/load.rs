//! Loading: rule files and directories (`include`, `var` lines), classification.config,
//! reference.config and threshold.conf → one [`Model`] plus a [`LoadReport`] holding every
//! diagnostic with `path:line:col`. The only module here that reads files.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::addr::{parse_addr, parse_ports, Vars};
use super::classify::{Classifications, References};
use super::compile::{compile_rule, Compiled};
use super::model::{Rule, Tag, Threshold};
use super::options::{FlowbitNames, OptCtx};
use super::parse::{logical_lines, parse_statement, Span, Statement, VarKind};
use super::{threshold_conf, vars, Diagnostic, Model};

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Rule files, or directories whose `*.rules` files are loaded in name order.
    pub paths: Vec<PathBuf>,
    /// Variables (`HOME_NET` → `[10.0.0.0/8]`), over the built-in snort.conf defaults.
    pub vars: BTreeMap<String, String>,
    /// classification.config; `None`: Snort's standard table.
    pub classification: Option<PathBuf>,
    /// reference.config; `None`: Snort's standard table.
    pub reference: Option<PathBuf>,
    /// threshold.conf; `None`: no entries.
    pub threshold: Option<PathBuf>,
}

impl LoadOptions {
    /// The options a configuration names: its `[rules]` paths resolved against the config
    /// file's directory (`config_path`; `None`: the current directory) and its `[vars]`. An
    /// empty classification/reference path means the file of that name beside the config
    /// file if there is one, else Snort's built-in table; an empty threshold path means none
    /// (a threshold path that names no readable file is an error of the load, like a missing
    /// rule file: a typo must not silently disable every suppress).
    pub fn from_config(cfg: &crate::config::Config, config_path: Option<&Path>) -> Self {
        let base = config_path
            .and_then(Path::parent)
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let r = cfg.rules.resolved(&base);
        let beside = |p: PathBuf, name: &str| -> Option<PathBuf> {
            if !p.as_os_str().is_empty() {
                return Some(p);
            }
            let candidate = base.join(name);
            (config_path.is_some() && candidate.is_file()).then_some(candidate)
        };
        LoadOptions {
            paths: r.files,
            vars: cfg.vars.clone(),
            classification: beside(r.classification, "classification.config"),
            reference: beside(r.reference, "reference.config"),
            threshold: (!r.threshold.as_os_str().is_empty()).then_some(r.threshold),
        }
    }
}

/// The outcome for one file (rule file, or a config file with errors).
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub path: PathBuf,
    /// Rules of this file in the final set (a duplicate replaced later is not counted).
    pub loaded: usize,
    /// Skipped rules, by reason (`option 'pcre' not supported`).
    pub skipped: BTreeMap<String, usize>,
    /// Each skipped rule: its first line and the reason, in file order.
    pub skips: Vec<(u32, String)>,
    pub errors: Vec<Diagnostic>,
}

impl FileReport {
    fn new(path: &Path) -> Self {
        FileReport {
            path: path.to_path_buf(),
            ..FileReport::default()
        }
    }

    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            path: self.path.clone(),
            line: span.line,
            col: span.col,
            message: message.into(),
        });
    }
}

/// Everything a load produced.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub model: Model,
    /// Rule files in load order, then config files that had errors.
    pub files: Vec<FileReport>,
    pub warnings: Vec<Diagnostic>,
}

impl LoadReport {
    /// No errors in any rule or config file.
    pub fn is_usable(&self) -> bool {
        self.files.iter().all(|f| f.errors.is_empty())
    }

    pub fn loaded(&self) -> usize {
        self.files.iter().map(|f| f.loaded).sum()
    }

    pub fn skipped(&self) -> usize {
        self.files.iter().map(FileReport::skipped_total).sum()
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.files.iter().flat_map(|f| f.errors.iter())
    }

    /// The human report `check` prints: per file the rules loaded, skipped by reason, the
    /// share loaded, each error; then warnings and totals.
    ///
    /// # Errors
    /// Only those of `w`.
    pub fn write_text(&self, w: &mut impl Write) -> io::Result<()> {
        self.write_report(w, false)
    }

    /// [`LoadReport::write_text`], with each skipped rule on its own line when `each_skip`
    /// (`path:line: skipped: reason`).
    ///
    /// # Errors
    /// Only those of `w`.
    pub fn write_report(&self, w: &mut impl Write, each_skip: bool) -> io::Result<()> {
        for f in &self.files {
            let skipped = f.skipped_total();
            let all = f.loaded + skipped + f.errors.len();
            let share = if all == 0 {
                "no rules".to_string()
            } else {
                format!("{:.1}% loaded", f.loaded as f64 * 100.0 / all as f64)
            };
            writeln!(
                w,
                "{}: {} loaded, {} skipped, {} errors ({share})",
                f.path.display(),
                f.loaded,
                skipped,
                f.errors.len()
            )?;
            for (reason, n) in &f.skipped {
                writeln!(w, "  skipped {n}: {reason}")?;
            }
            if each_skip {
                for (line, reason) in &f.skips {
                    writeln!(w, "{}:{line}: skipped: {reason}", f.path.display())?;
                }
            }
            for e in &f.errors {
                writeln!(w, "{e}")?;
            }
        }
        for d in &self.warnings {
            writeln!(w, "warning: {d}")?;
        }
        writeln!(
            w,
            "total: {} loaded, {} skipped, {} errors in {} file{}",
            self.loaded(),
            self.skipped(),
            self.errors().count(),
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" }
        )
    }

    /// `{"files":[{"path","loaded","skipped":{"<reason>":n},"errors":[{"line","col","message"}]}],
    /// "totals":{"loaded","skipped","errors"}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let files: Vec<serde_json::Value> = self
            .files
            .iter()
            .map(|f| {
                serde_json::json!({
                    "path": f.path.display().to_string(),
                    "loaded": f.loaded,
                    "skipped": f.skipped,
                    "errors": f.errors.iter().map(|e| serde_json::json!({
                        "line": e.line, "col": e.col, "message": e.message,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::json!({
            "files": files,
            "totals": {
                "loaded": self.loaded(),
                "skipped": self.skipped(),
                "errors": self.errors().count(),
            }
        })
    }
}

/// Loads everything `opts` names. Never fails as a whole: every problem is in the report; check
/// [`LoadReport::is_usable`].
pub fn load(opts: &LoadOptions) -> LoadReport {
    let mut l = Loader::new(opts);
    for p in &opts.paths {
        if p.is_dir() {
            match list_rules_dir(p) {
                Ok(files) => {
                    for f in files {
                        l.load_file(&f, 0);
                    }
                }
                Err(e) => {
                    let mut r = FileReport::new(p);
                    r.error(
                        Span { line: 1, col: 1 },
                        format!("cannot read directory: {e}"),
                    );
                    l.files.push(r);
                }
            }
        } else {
            l.load_file(p, 0);
        }
    }
    l.finish(opts)
}

/// Loads rule text as if it were the file `path` (includes resolve against its directory).
pub fn load_text(path: &Path, text: &str, opts: &LoadOptions) -> LoadReport {
    let mut l = Loader::new(opts);
    l.load_str(path, text, 0);
    l.finish(opts)
}

fn list_rules_dir(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rules") && p.is_file())
        .collect();
    v.sort();
    Ok(v)
}

const MAX_INCLUDE_DEPTH: u32 = 16;

struct Loader {
    vars: Vars,
    classes: Classifications,
    references: References,
    flowbits: FlowbitNames,
    /// Rules with the index of the file that loaded them; `None` once replaced by a duplicate.
    rules: Vec<Option<(Rule, usize)>>,
    by_id: HashMap<(u32, u32), usize>,
    /// The `tag:` of the rule kept for each (gid, sid).
    tags: BTreeMap<(u32, u32), Tag>,
    files: Vec<FileReport>,
    config_files: Vec<FileReport>,
    warnings: Vec<Diagnostic>,
}

impl Loader {
    fn new(opts: &LoadOptions) -> Self {
        let mut vars = vars::defaults();
        vars.extend(opts.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut config_files = Vec::new();
        let classes = match &opts.classification {
            None => Classifications::standard(),
            Some(p) => {
                let (c, errs) = read_config(p, Classifications::parse);
                config_files.extend(errs);
                c
            }
        };
        let references = match &opts.reference {
            None => References::standard(),
            Some(p) => {
                let (r, errs) = read_config(p, References::parse);
                config_files.extend(errs);
                r
            }
        };
        Loader {
            vars,
            classes,
            references,
            flowbits: FlowbitNames::default(),
            rules: Vec::new(),
            by_id: HashMap::new(),
            tags: BTreeMap::new(),
            files: Vec::new(),
            config_files,
            warnings: Vec::new(),
        }
    }

    fn load_file(&mut self, path: &Path, depth: u32) {
        match std::fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                self.load_str(path, &text, depth);
            }
            Err(e) => {
                let mut r = FileReport::new(path);
                r.error(
                    Span { line: 1, col: 1 },
                    format!("cannot read rule file: {e}"),
                );
                self.files.push(r);
            }
        }
    }

    fn load_str(&mut self, path: &Path, text: &str, depth: u32) {
        let file_idx = self.files.len();
        self.files.push(FileReport::new(path));
        let file = Arc::new(path.to_path_buf());
        for l in logical_lines(text) {
            let stmt = match parse_statement(&l.text) {
                Ok(s) => s,
                Err(e) => {
                    self.files[file_idx].error(l.span(e.offset), e.message);
                    continue;
                }
            };
            match stmt {
                Statement::Var { kind, name, value } => {
                    let check = match kind {
                        VarKind::IpVar => {
                            parse_addr(&value.text, value.offset, &self.vars).map(drop)
                        }
                        VarKind::PortVar => {
                            parse_ports(&value.text, value.offset, &self.vars).map(drop)
                        }
                        VarKind::Var => Ok(()),
                    };
                    match check {
                        Ok(()) => {
                            self.vars.insert(name, value.text);
                        }
                        Err(e) => self.files[file_idx]
                            .error(l.span(e.offset), format!("variable {name}: {}", e.message)),
                    }
                }
                Statement::Include { path: inc } => {
                    let target = expand_include(&inc.text, &self.vars);
                    let target = path
                        .parent()
                        .map_or_else(|| PathBuf::from(&target), |d| d.join(&target));
                    if depth >= MAX_INCLUDE_DEPTH {
                        self.files[file_idx].error(
                            l.span(inc.offset),
                            "includes nested too deeply (an include loop?)",
                        );
                    } else if target.is_dir() {
                        // Snort 2.9 (`ParseInclude`) fails on a directory too; `-r` and
                        // `[rules] files` are the way to load a directory of `*.rules`.
                        self.files[file_idx].error(
                            l.span(inc.offset),
                            format!(
                                "cannot include {}: it is a directory, expected a rule file (list directories in [rules] files or -r)",
                                target.display()
                            ),
                        );
                    } else if !target.is_file() {
                        self.files[file_idx].error(
                            l.span(inc.offset),
                            format!("cannot include {}: no such file", target.display()),
                        );
                    } else {
                        self.load_file(&target, depth + 1);
                    }
                }
                Statement::Rule(ast) => {
                    let start = l.span(0);
                    let mut ctx = OptCtx {
                        classes: &self.classes,
                        references: &self.references,
                        flowbits: &mut self.flowbits,
                    };
                    match compile_rule(&ast, &self.vars, &mut ctx, &file, start.line) {
                        Compiled::Loaded(rule, tag) => self.add_rule(*rule, tag, file_idx, start),
                        Compiled::Skipped(reason) => {
                            let f = &mut self.files[file_idx];
                            *f.skipped.entry(reason.clone()).or_insert(0) += 1;
                            f.skips.push((start.line, reason));
                        }
                        Compiled::Error(off, msg) => self.files[file_idx].error(l.span(off), msg),
                    }
                }
            }
        }
    }

    fn add_rule(&mut self, rule: Rule, tag: Option<Tag>, file_idx: usize, at: Span) {
        let key = (rule.gid, rule.sid);
        // The kept rule's tag only: a later duplicate without one leaves none.
        match tag {
            Some(t) => self.tags.insert(key, t),
            None => self.tags.remove(&key),
        };
        let idx = self.rules.len();
        if let Some(old) = self.by_id.insert(key, idx) {
            if let Some((prev, prev_file)) = self.rules[old].take() {
                self.files[prev_file].loaded -= 1;
                self.warnings.push(Diagnostic {
                    path: self.files[file_idx].path.clone(),
                    line: at.line,
                    col: at.col,
                    message: format!(
                        "duplicate rule {}:{}: keeping this one, dropping the earlier one at {}:{} (Snort keeps the later)",
                        key.0,
                        key.1,
                        prev.loc.file.display(),
                        prev.loc.line
                    ),
                });
            }
        }
        self.rules.push(Some((rule, file_idx)));
        self.files[file_idx].loaded += 1;
    }

    fn finish(mut self, opts: &LoadOptions) -> LoadReport {
        let mut rules: Vec<Rule> = self.rules.into_iter().flatten().map(|(r, _)| r).collect();
        let mut suppress = Vec::new();
        let mut rate_filters = Vec::new();
        if let Some(p) = &opts.threshold {
            let mut report = FileReport::new(p);
            match std::fs::read(p) {
                Ok(bytes) => {
                    let (conf, errs) =
                        threshold_conf::parse(&String::from_utf8_lossy(&bytes), &self.vars);
                    for (span, msg) in errs {
                        report.error(span, msg);
                    }
                    apply_event_filters(&mut rules, &conf.event_filters, p, &mut self.warnings);
                    suppress = conf.suppress;
                    rate_filters = conf.rate_filters;
                }
                Err(e) => report.error(
                    Span { line: 1, col: 1 },
                    format!("cannot read threshold file: {e}"),
                ),
            }
            if !report.errors.is_empty() {
                self.config_files.push(report);
            }
        }
        // The server ports inspected as HTTP: a value that does not parse is said, and Snort's
        // list is used (a rule naming $HTTP_PORTS fails on it with its own diagnostic).
        let http_ports = self.vars.get("HTTP_PORTS").and_then(|v| {
            parse_ports(v, 0, &self.vars)
                .map_err(|e| {
                    self.warnings.push(Diagnostic {
                        path: PathBuf::from("[vars] HTTP_PORTS"),
                        line: 1,
                        col: 1,
                        message: format!(
                            "{}: HTTP inspection uses Snort's default HTTP_PORTS",
                            e.message
                        ),
                    })
                })
                .ok()
        });
        let mut files = self.files;
        files.extend(self.config_files);
        LoadReport {
            model: Model {
                rules,
                flowbit_names: self.flowbits.names,
                suppress,
                rate_filters,
                tags: self.tags,
                http_ports,
            },
            files,
            warnings: self.warnings,
        }
    }
}

/// `$VAR/rest` in an include path → the variable's value.
fn expand_include(p: &str, vars: &Vars) -> String {
    if let Some(rest) = p.strip_prefix('$') {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if let Some(v) = vars.get(&rest[..end]) {
            return format!("{v}{}", &rest[end..]);
        }
    }
    p.to_string()
}

/// A config-file parser: the table and every malformed line.
type ConfigParser<T> = fn(&str) -> (T, Vec<(Span, String)>);

fn read_config<T: Default>(path: &Path, parse: ConfigParser<T>) -> (T, Option<FileReport>) {
    let mut report = FileReport::new(path);
    let t = match std::fs::read(path) {
        Ok(bytes) => {
            let (t, errs) = parse(&String::from_utf8_lossy(&bytes));
            for (span, msg) in errs {
                report.error(span, msg);
            }
            t
        }
        Err(e) => {
            report.error(Span { line: 1, col: 1 }, format!("cannot read: {e}"));
            T::default()
        }
    };
    let errs = if report.errors.is_empty() {
        None
    } else {
        Some(report)
    };
    (t, errs)
}

/// threshold.conf `threshold`/`event_filter` entries → each rule's event filter.
///
/// An entry for one gid:sid replaces the rule's in-rule threshold (Suricata's choice; Snort
/// aborts), with a warning only when the rule has one. A global entry (sig_id 0) applies only
/// to rules left without a threshold of their own, in-rule or from threshold.conf: Snort 2.9
/// sfthd.c `sfthd_test_threshold` consults the gid's global object only when the sid's local
/// objects (in-rule thresholds are local objects too) decided nothing. A gid's own global entry
/// beats a gen_id 0 one (sfthd.c `sfthd_create_threshold_global` fills only the empty gid
/// slots with gen_id 0's object). `count -1` means no thresholding: for one sid it exempts the
/// sid from the global entry; as a global entry it filters nothing.
fn apply_event_filters(
    rules: &mut [Rule],
    filters: &[threshold_conf::EventFilter],
    path: &Path,
    warnings: &mut Vec<Diagnostic>,
) {
    let by_id: HashMap<(u32, u32), usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.gid, r.sid), i))
        .collect();
    // Rules with a threshold of their own (local object): in-rule, or from a per-sid entry.
    let mut local: Vec<bool> = rules.iter().map(|r| r.threshold.is_some()).collect();
    for f in filters.iter().filter(|f| f.sid != 0 && f.gid != 0) {
        let Some(&i) = by_id.get(&(f.gid, f.sid)) else {
            continue;
        };
        let r = &mut rules[i];
        if r.threshold.is_some() && local[i] {
            warnings.push(Diagnostic {
                path: path.to_path_buf(),
                line: f.span.line,
                col: f.span.col,
                message: format!(
                    "threshold for {}:{} replaces the rule's own threshold at {}:{}",
                    f.gid,
                    f.sid,
                    r.loc.file.display(),
                    r.loc.line
                ),
            });
        }
        r.threshold = f.threshold;
        local[i] = true;
    }
    // Global entries: the gid's own first, then gen_id 0 for the gids without one; the last of
    // duplicates wins.
    let mut global: HashMap<u32, Option<Threshold>> = HashMap::new();
    let mut any_gid: Option<Option<Threshold>> = None;
    for f in filters.iter().filter(|f| f.sid == 0) {
        if f.gid == 0 {
            any_gid = Some(f.threshold);
        } else {
            global.insert(f.gid, f.threshold);
        }
    }
    if global.is_empty() && any_gid.is_none() {
        return;
    }
    for (i, r) in rules.iter_mut().enumerate() {
        if local[i] {
            continue;
        }
        if let Some(th) = global.get(&r.gid).copied().or(any_gid) {
            r.threshold = th;
        }
    }
}

#[cfg(test)]
mod threshold_tests {
    use super::*;
    use crate::rules::model::{ThresholdKind, Track};

    /// Loads `rules` with `conf` as threshold.conf; the rules' thresholds by sid and the
    /// warnings.
    fn with_conf(rules: &str, conf: &str) -> (Vec<(u32, Option<Threshold>)>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let th = dir.path().join("threshold.conf");
        std::fs::write(&th, conf).unwrap();
        let opts = LoadOptions {
            threshold: Some(th),
            ..LoadOptions::default()
        };
        let r = load_text(Path::new("t.rules"), rules, &opts);
        assert_eq!(r.errors().count(), 0);
        let got = r.model.rules.iter().map(|r| (r.sid, r.threshold)).collect();
        (got, r.warnings.iter().map(|w| w.message.clone()).collect())
    }

    fn th(kind: ThresholdKind, count: u32, seconds: u32) -> Option<Threshold> {
        Some(Threshold {
            kind,
            track: Track::BySrc,
            count,
            seconds,
        })
    }

    /// Snort 2.9 sfthd.c `sfthd_test_threshold`: a global event_filter (sig_id 0) is consulted
    /// only for sids without a threshold object of their own (in-rule thresholds are local
    /// objects); `count -1` on one sid (`THD_NO_THRESHOLD`, sfthd_test_local) exempts it.
    #[test]
    fn global_event_filter_only_for_sids_without_their_own() {
        use ThresholdKind::*;
        let rules = "\
alert ip any any -> any any (sid:1;)
alert ip any any -> any any (sid:2; threshold: type threshold, track by_src, count 5, seconds 10;)
alert ip any any -> any any (sid:3;)
alert ip any any -> any any (sid:4;)
alert ip any any -> any any (sid:5; gid:3;)
";
        let conf = "\
event_filter gen_id 1, sig_id 0, type limit, track by_src, count 1, seconds 60
event_filter gen_id 1, sig_id 3, type limit, track by_src, count -1, seconds 60
event_filter gen_id 1, sig_id 4, type both, track by_src, count 2, seconds 30
event_filter gen_id 0, sig_id 0, type limit, track by_src, count 9, seconds 9
";
        let (got, warnings) = with_conf(rules, conf);
        assert_eq!(
            got,
            [
                (1, th(Limit, 1, 60)),     // global of gid 1
                (2, th(Threshold, 5, 10)), // its own in-rule threshold, untouched
                (3, None),                 // count -1: exempt from the global filter
                (4, th(Both, 2, 30)),      // its own threshold.conf entry
                (5, th(Limit, 9, 9)),      // gid 3 has no global of its own: gen_id 0's
            ]
        );
        // Nothing replaced a rule's own threshold: no warning.
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    /// The warning names only rules whose own (in-rule) threshold is replaced; a per-sid entry
    /// for a rule that has none (even when a global entry exists) warns nothing.
    #[test]
    fn replace_warning_only_for_an_in_rule_threshold() {
        let rules = "\
alert ip any any -> any any (sid:1;)
alert ip any any -> any any (sid:2; threshold: type limit, track by_src, count 5, seconds 10;)
";
        let conf = "\
event_filter gen_id 1, sig_id 0, type limit, track by_src, count 1, seconds 60
event_filter gen_id 1, sig_id 1, type limit, track by_src, count 2, seconds 60
event_filter gen_id 1, sig_id 2, type limit, track by_src, count 3, seconds 60
";
        let (got, warnings) = with_conf(rules, conf);
        assert_eq!(got[0].1.map(|t| t.count), Some(2));
        assert_eq!(got[1].1.map(|t| t.count), Some(3));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("threshold for 1:2 replaces the rule's own threshold"),
            "{warnings:?}"
        );
    }
}

#[cfg(test)]
mod tag_tests {
    use super::*;
    use crate::rules::model::{TagHostDir, TagScope};

    /// A rule with `tag:` loads (it used to be skipped as unsupported); the model keeps the
    /// tag of the rule kept for each gid:sid, so a later duplicate without one leaves none.
    #[test]
    fn tagged_rules_load_with_their_tags() {
        let rules = "\
alert tcp any any -> any 23 (msg:\"telnet\"; flags:S; tag:session,10,seconds; sid:1;)
alert ip any any -> any any (sid:2; tag:host,0,packets,600,seconds,src;)
alert ip any any -> any any (sid:3; tag:session,exclusive;)
alert ip any any -> any any (sid:3; tag:host,5,packets,dst;)
alert ip any any -> any any (sid:4; tag:session,5,packets;)
alert ip any any -> any any (sid:4;)
";
        let r = load_text(Path::new("t.rules"), rules, &LoadOptions::default());
        assert_eq!(
            r.errors().count(),
            0,
            "{:?}",
            r.errors().collect::<Vec<_>>()
        );
        assert_eq!(r.model.rules.len(), 4);
        let t = |sid| r.model.tags.get(&(1, sid)).copied();
        assert_eq!(
            t(1).map(|t| (t.scope, t.seconds)),
            Some((TagScope::Session { exclusive: false }, Some(10)))
        );
        assert_eq!(
            t(2).map(|t| (t.scope, t.packets, t.seconds)),
            Some((
                TagScope::Host {
                    dir: TagHostDir::Src
                },
                Some(0),
                Some(600)
            ))
        );
        assert_eq!(
            t(3).map(|t| (t.scope, t.packets)),
            Some((
                TagScope::Host {
                    dir: TagHostDir::Dst
                },
                Some(5)
            )),
            "the later duplicate's tag"
        );
        assert_eq!(t(4), None, "the later duplicate has none");
    }

    /// A bad `tag:` is an error at the offending item, saying what was expected; a second
    /// `tag` in one rule too (Snort: "Can only use 'tag' rule option once per rule").
    #[test]
    fn tag_errors_point_at_the_item() {
        let rules = "\
alert ip any any -> any any (sid:1; tag:session,10,frames;)
alert ip any any -> any any (sid:2; tag:session,10,packets; tag:session,5,seconds;)
alert ip any any -> any any (sid:3; tag:host,10,packets;)
";
        let r = load_text(Path::new("t.rules"), rules, &LoadOptions::default());
        let errs: Vec<_> = r.errors().collect();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!(r.model.rules.len(), 0);
        let col = |line: &str, needle: &str| line.find(needle).unwrap() as u32 + 1;
        let lines: Vec<&str> = rules.lines().collect();
        assert_eq!((errs[0].line, errs[0].col), (1, col(lines[0], "frames")));
        assert!(
            errs[0]
                .message
                .contains("tag: expected 'packets', 'seconds' or 'bytes'"),
            "{}",
            errs[0].message
        );
        assert_eq!(
            (errs[1].line, errs[1].col),
            (2, col(lines[1], "tag:session,5"))
        );
        assert!(
            errs[1].message.contains("'tag' given twice"),
            "{}",
            errs[1].message
        );
        assert_eq!(errs[2].line, 3);
        assert_eq!(errs[2].col, col(lines[2], ";)"));
        assert!(
            errs[2].message.contains("needs a direction"),
            "{}",
            errs[2].message
        );
    }
}
