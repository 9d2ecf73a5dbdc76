//! classification.config (`config classification: name,description,priority`) and
//! reference.config (`config reference: system url-prefix`): parsing, and Snort 2.9.20's
//! standard tables built in (the files shipped in `config/`). Reading the files is `load`'s job.

use std::collections::HashMap;

use super::parse::{logical_lines, Span};

/// Snort 2.9.20's `etc/classification.config`, shipped as `config/classification.config`.
pub const STANDARD_CLASSIFICATION: &str = include_str!("../../config/classification.config");
/// Snort 2.9.20's `etc/reference.config`, shipped as `config/reference.config`.
pub const STANDARD_REFERENCE: &str = include_str!("../../config/reference.config");

/// classtype short name → (description, priority).
#[derive(Debug, Clone, Default)]
pub struct Classifications {
    map: HashMap<String, (String, u32)>,
}

impl Classifications {
    /// Snort's standard table.
    pub fn standard() -> Self {
        let (c, errors) = Self::parse(STANDARD_CLASSIFICATION);
        debug_assert!(errors.is_empty());
        c
    }

    pub fn get(&self, name: &str) -> Option<(&str, u32)> {
        self.map.get(name).map(|(d, p)| (d.as_str(), *p))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Parses a classification.config; a later entry for a name replaces the earlier one.
    /// Returns the table and every malformed line.
    pub fn parse(text: &str) -> (Self, Vec<(Span, String)>) {
        let mut c = Classifications::default();
        let mut errors = Vec::new();
        for l in logical_lines(text) {
            let Some((body, at)) = config_body(&l.text, "classification") else {
                errors.push((
                    l.span(first_non_ws(&l.text)),
                    "expected 'config classification: name,description,priority'".to_string(),
                ));
                continue;
            };
            let parts: Vec<&str> = body.split(',').collect();
            if parts.len() != 3 || parts.iter().any(|p| p.trim().is_empty()) {
                errors.push((
                    l.span(at),
                    "expected 'name,description,priority'".to_string(),
                ));
                continue;
            }
            let prio = match parts[2].trim().parse::<u32>() {
                Ok(p) => p,
                Err(_) => {
                    let off = at + parts[0].len() + parts[1].len() + 2;
                    errors.push((
                        l.span(off),
                        format!("bad priority '{}', expected a number", parts[2].trim()),
                    ));
                    continue;
                }
            };
            c.map.insert(
                parts[0].trim().to_string(),
                (parts[1].trim().to_string(), prio),
            );
        }
        (c, errors)
    }
}

/// Reference system (case-insensitive, as Snort's strcasecmp) → URL prefix.
#[derive(Debug, Clone, Default)]
pub struct References {
    map: HashMap<String, String>,
}

impl References {
    pub fn standard() -> Self {
        let (r, errors) = Self::parse(STANDARD_REFERENCE);
        debug_assert!(errors.is_empty());
        r
    }

    pub fn get(&self, system: &str) -> Option<&str> {
        self.map
            .get(&system.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn parse(text: &str) -> (Self, Vec<(Span, String)>) {
        let mut r = References::default();
        let mut errors = Vec::new();
        for l in logical_lines(text) {
            let Some((body, at)) = config_body(&l.text, "reference") else {
                errors.push((
                    l.span(first_non_ws(&l.text)),
                    "expected 'config reference: system url'".to_string(),
                ));
                continue;
            };
            let mut words = body.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(sys), Some(url), None) => {
                    r.map.insert(sys.to_ascii_lowercase(), url.to_string());
                }
                _ => errors.push((l.span(at), "expected 'system url-prefix'".to_string())),
            }
        }
        (r, errors)
    }
}

fn first_non_ws(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

/// `config NAME: body` → (body, offset of body).
fn config_body<'a>(line: &'a str, name: &str) -> Option<(&'a str, usize)> {
    let t = line.trim_start();
    let rest = t.strip_prefix("config")?;
    let rest2 = rest.trim_start().strip_prefix(name)?;
    let body = rest2.trim_start().strip_prefix(':')?;
    let off = line.len() - body.len();
    let lead = body.len() - body.trim_start().len();
    Some((body.trim(), off + lead))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_tables() {
        let c = Classifications::standard();
        assert_eq!(c.len(), 38);
        assert_eq!(
            c.get("trojan-activity"),
            Some(("A Network Trojan was detected", 1))
        );
        assert_eq!(c.get("bad-unknown"), Some(("Potentially Bad Traffic", 2)));
        let r = References::standard();
        assert_eq!(
            r.get("cve"),
            Some("http://cve.mitre.org/cgi-bin/cvename.cgi?name=")
        );
        assert_eq!(r.get("url"), Some("http://"));
        assert_eq!(r.get("mcafee"), Some("http://vil.nai.com/vil/content/v_"));
        assert_eq!(r.get("nope"), None);
    }

    #[test]
    fn errors_have_positions() {
        let (_, e) = Classifications::parse(
            "config classification: a,b,c\nconfig classification: x,y\nfoo\n",
        );
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].0, Span { line: 1, col: 28 });
        assert_eq!(e[1].0, Span { line: 2, col: 24 });
        assert_eq!(e[2].0, Span { line: 3, col: 1 });
        let (_, e) = References::parse("config reference: cve\n");
        assert_eq!(e.len(), 1);
    }
}
