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
use super::model::Rule;
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
                        Compiled::Loaded(rule) => self.add_rule(*rule, file_idx, start),
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

    fn add_rule(&mut self, rule: Rule, file_idx: usize, at: Span) {
        let key = (rule.gid, rule.sid);
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
        let mut files = self.files;
        files.extend(self.config_files);
        LoadReport {
            model: Model {
                rules,
                flowbit_names: self.flowbits.names,
                suppress,
                rate_filters,
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

/// threshold.conf `threshold`/`event_filter` entries replace in-rule thresholds (Suricata's
/// choice; Snort aborts), with a warning. sid 0 entries apply first so a specific sid wins.
fn apply_event_filters(
    rules: &mut [Rule],
    filters: &[threshold_conf::EventFilter],
    path: &Path,
    warnings: &mut Vec<Diagnostic>,
) {
    let mut ordered: Vec<&threshold_conf::EventFilter> = filters.iter().collect();
    ordered.sort_by_key(|f| (f.sid != 0, f.gid != 0));
    let by_id: HashMap<(u32, u32), usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.gid, r.sid), i))
        .collect();
    for f in ordered {
        let warn = |message: String| Diagnostic {
            path: path.to_path_buf(),
            line: f.span.line,
            col: f.span.col,
            message,
        };
        if f.sid != 0 && f.gid != 0 {
            if let Some(&i) = by_id.get(&(f.gid, f.sid)) {
                let r = &mut rules[i];
                if r.threshold.is_some() {
                    warnings.push(warn(format!(
                        "threshold for {}:{} replaces the rule's own threshold at {}:{}",
                        f.gid,
                        f.sid,
                        r.loc.file.display(),
                        r.loc.line
                    )));
                }
                r.threshold = Some(f.threshold);
            }
            continue;
        }
        let mut replaced = 0;
        for r in rules.iter_mut() {
            if (f.gid == 0 || r.gid == f.gid) && (f.sid == 0 || r.sid == f.sid) {
                replaced += usize::from(r.threshold.is_some());
                r.threshold = Some(f.threshold);
            }
        }
        if replaced > 0 {
            warnings.push(warn(format!(
                "threshold for {}:{} replaces the own threshold of {replaced} rules",
                f.gid, f.sid
            )));
        }
    }
}
