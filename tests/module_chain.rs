//! The module chain of DESIGN.md (Architecture) holds: a module of the library uses only the
//! modules before it. Read off the source: every `crate::NAME` path outside comments.
//!
//! Why a test: `rules` and `detect` once imported each other (the compiled matchers lived in
//! `rules`, owned by a `RuleSet` that also held the model), and `rules` and `config` did too;
//! nothing stopped the next such edge.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Each module's place in the chain. A module may use a module of a lower rank; modules of
/// the same rank are siblings and use neither each other.
const RANKS: &[(&str, u32)] = &[
    ("diag", 0),
    ("safefs", 0),
    ("cli", 0),
    ("config", 1),
    ("pcap", 2),
    ("capture", 3),
    ("decode", 4),
    ("rules", 5),
    ("detect", 6),
    ("output", 7),
    ("ring", 7),
    ("evidence", 8),
    ("pipeline", 9),
    ("daemon", 10),
    ("investigate", 10),
    ("console", 11),
    ("update", 11),
];

fn rank(module: &str) -> Option<u32> {
    RANKS.iter().find(|(m, _)| *m == module).map(|&(_, r)| r)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level library module a source file belongs to (`sensor/rules/load.rs` → `rules`).
fn module_of(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
}

/// The modules named by `crate::NAME` in `text`, outside comments.
fn uses(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

#[test]
fn every_module_uses_only_modules_before_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sensor");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for file in &files {
        let Some(module) = module_of(&root, file) else {
            continue;
        };
        // The crate root and the binary's glue sit above every module.
        if matches!(module.as_str(), "lib" | "main" | "commands") {
            continue;
        }
        let Some(own) = rank(&module) else {
            wrong.push(format!(
                "{}: module `{module}` has no place in the chain (add it to RANKS)",
                file.display()
            ));
            continue;
        };
        for used in uses(&fs::read_to_string(file).unwrap()) {
            if used == module {
                continue;
            }
            match rank(&used) {
                Some(r) if r < own => {}
                _ => wrong.push(format!(
                    "{}: `{module}` uses `{used}`, which is not before it",
                    file.display()
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_scanner_sees_uses_and_skips_comments() {
    let text = "use crate::rules::Rule;\n// crate::daemon in a comment\nlet x = crate::detect::RuleSet::default(); /// crate::ring\n";
    let got: Vec<String> = uses(text).into_iter().collect();
    assert_eq!(got, vec!["detect".to_string(), "rules".to_string()]);
}
