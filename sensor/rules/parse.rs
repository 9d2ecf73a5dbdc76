//! Snort rule file text → statements (rules, `var`/`ipvar`/`portvar`, `include`) with spans.
//!
//! This stage knows only the shape of a rule: the seven header fields, `(` options `)`, and
//! how an option splits into a keyword and a raw value (quotes, `\;` `\"` `\\` escapes). What
//! each option means, and whether its value is well formed, is `options`' business; address
//! and port syntax is `addr`'s. Continuation lines (a trailing `\`), `#` comments and blank
//! lines are handled here.

use super::model::{Action, Direction, Proto};

/// A position in a rule file: 1-based line and byte column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Span {
    pub line: u32,
    pub col: u32,
}

/// A logical line: physical lines joined at trailing backslashes, with the map back to them.
#[derive(Debug, Clone)]
pub struct Logical {
    pub text: String,
    /// (offset in `text`, physical line, column of that offset), one per joined piece.
    pieces: Vec<(usize, u32, u32)>,
}

impl Logical {
    /// A single-line logical line (used for config files and tests).
    pub fn single(text: &str, line: u32) -> Self {
        Logical {
            text: text.to_string(),
            pieces: vec![(0, line, 1)],
        }
    }

    /// The span of a byte offset of `text`.
    pub fn span(&self, offset: usize) -> Span {
        let i = self
            .pieces
            .partition_point(|&(o, _, _)| o <= offset)
            .saturating_sub(1);
        let (o, line, col) = self.pieces.get(i).copied().unwrap_or((0, 1, 1));
        let delta = u32::try_from(offset.saturating_sub(o)).unwrap_or(u32::MAX);
        Span {
            line,
            col: col.saturating_add(delta),
        }
    }
}

/// Splits file text into logical lines, dropping blank lines and `#` comments.
pub fn logical_lines(text: &str) -> Vec<Logical> {
    let mut out = Vec::new();
    let mut cur: Option<Logical> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if cur.is_none() {
            let t = raw.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
        }
        let (body, continues) = match raw.trim_end().strip_suffix('\\') {
            Some(b) => (b, true),
            None => (raw, false),
        };
        let l = cur.get_or_insert_with(|| Logical {
            text: String::new(),
            pieces: Vec::new(),
        });
        l.pieces.push((l.text.len(), line_no, 1));
        l.text.push_str(body);
        if !continues {
            out.extend(cur.take());
        }
    }
    // A continuation on the last line: keep what we have.
    out.extend(cur.take());
    out
}

/// A parse error: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

fn perr<T>(offset: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        offset,
        message: message.into(),
    })
}

/// A header field: its text and byte offset in the logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub text: String,
    pub offset: usize,
}

/// One `keyword[:value]` option with offsets of the keyword and of the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionAst {
    pub name: String,
    pub name_offset: usize,
    /// Raw value text, trimmed, quotes and escapes kept; `None` when there was no `:`.
    pub value: Option<String>,
    pub value_offset: usize,
}

/// A rule as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleAst {
    pub action: Action,
    pub proto: Proto,
    pub src: Field,
    pub src_ports: Field,
    pub direction: Direction,
    pub dst: Field,
    pub dst_ports: Field,
    pub options: Vec<OptionAst>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    Var,
    IpVar,
    PortVar,
}

/// A statement of a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    Rule(RuleAst),
    Var {
        kind: VarKind,
        name: String,
        value: Field,
    },
    Include {
        path: Field,
    },
}

/// Parses one logical line.
///
/// # Errors
/// The first syntax error of the line, with its offset and what was expected.
pub fn parse_statement(text: &str) -> Result<Statement, ParseError> {
    let mut p = Tok { s: text, pos: 0 };
    let (kw, kw_off) = p.token()?.ok_or(ParseError {
        offset: 0,
        message: "empty statement".into(),
    })?;
    let action = match kw {
        "alert" => Action::Alert,
        "log" => Action::Log,
        "pass" => Action::Pass,
        "drop" => Action::Drop,
        "sdrop" => Action::Sdrop,
        "reject" => Action::Reject,
        "var" | "ipvar" | "portvar" => {
            let kind = match kw {
                "var" => VarKind::Var,
                "ipvar" => VarKind::IpVar,
                _ => VarKind::PortVar,
            };
            let Some((name, name_off)) = p.token()? else {
                return perr(text.len(), format!("expected a variable name after '{kw}'"));
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return perr(name_off, format!("bad variable name '{name}', expected letters, digits and '_'"));
            }
            let rest = text[p.pos..].trim();
            if rest.is_empty() {
                return perr(text.len(), format!("expected a value for variable {name}"));
            }
            let value_off = text.len() - text[p.pos..].trim_start().len();
            return Ok(Statement::Var {
                kind,
                name: name.to_string(),
                value: Field { text: rest.to_string(), offset: value_off },
            });
        }
        "include" => {
            let rest = text[p.pos..].trim();
            if rest.is_empty() {
                return perr(text.len(), "expected a file name after 'include'");
            }
            let off = text.len() - text[p.pos..].trim_start().len();
            return Ok(Statement::Include { path: Field { text: rest.to_string(), offset: off } });
        }
        other => {
            return perr(
                kw_off,
                format!("unknown rule action '{other}', expected alert, log, pass, drop, sdrop, reject, var, ipvar, portvar or include"),
            )
        }
    };
    let field = |p: &mut Tok, what: &str| -> Result<Field, ParseError> {
        match p.token()? {
            Some((t, off)) if !t.starts_with('(') => Ok(Field {
                text: t.to_string(),
                offset: off,
            }),
            Some((_, off)) => perr(off, format!("rule header ends early, expected {what}")),
            None => perr(
                text.len(),
                format!("rule header ends early, expected {what}"),
            ),
        }
    };
    let proto_f = field(&mut p, "a protocol (ip, tcp, udp, icmp)")?;
    let proto = match proto_f.text.to_ascii_lowercase().as_str() {
        "ip" => Proto::Ip,
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "icmp" => Proto::Icmp,
        other => {
            return perr(
                proto_f.offset,
                format!("unknown protocol '{other}', expected ip, tcp, udp or icmp"),
            )
        }
    };
    let src = field(&mut p, "a source address")?;
    let src_ports = field(&mut p, "source ports")?;
    let dir_f = field(&mut p, "a direction ('->' or '<>')")?;
    let direction = match dir_f.text.as_str() {
        "->" => Direction::To,
        "<>" => Direction::Both,
        other => {
            return perr(
                dir_f.offset,
                format!("bad direction '{other}', expected '->' or '<>'"),
            )
        }
    };
    let dst = field(&mut p, "a destination address")?;
    let dst_ports = field(&mut p, "destination ports")?;
    p.skip_ws();
    let options = if p.pos >= text.len() {
        Vec::new()
    } else if text.as_bytes()[p.pos] == b'(' {
        parse_options(text, p.pos + 1)?
    } else {
        return perr(p.pos, "expected '(' to start the rule options");
    };
    Ok(Statement::Rule(RuleAst {
        action,
        proto,
        src,
        src_ports,
        direction,
        dst,
        dst_ports,
        options,
    }))
}

/// Header tokenizer: whitespace separates tokens except inside `[...]`.
struct Tok<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Tok<'a> {
    fn skip_ws(&mut self) {
        let b = self.s.as_bytes();
        while self.pos < b.len() && b[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Result<Option<(&'a str, usize)>, ParseError> {
        self.skip_ws();
        let b = self.s.as_bytes();
        let start = self.pos;
        if start >= b.len() {
            return Ok(None);
        }
        if b[start] == b'(' {
            return Ok(Some(("(", start)));
        }
        let mut depth = 0i32;
        while self.pos < b.len() {
            match b[self.pos] {
                b'[' => depth += 1,
                b']' => depth -= 1,
                b'(' if depth <= 0 => break,
                c if c.is_ascii_whitespace() && depth <= 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        if depth > 0 {
            return perr(start, "unbalanced '[': expected a closing ']'");
        }
        Ok(Some((&self.s[start..self.pos], start)))
    }
}

/// Splits `key:value; key; ...)` starting at `start` (just after the `(`).
fn parse_options(text: &str, start: usize) -> Result<Vec<OptionAst>, ParseError> {
    let b = text.as_bytes();
    let mut opts = Vec::new();
    let mut i = start;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return perr(text.len(), "rule options not terminated, expected ')'");
        }
        if b[i] == b')' {
            let rest = text[i + 1..].trim();
            if !rest.is_empty() {
                return perr(
                    i + 1 + (text[i + 1..].len() - text[i + 1..].trim_start().len()),
                    "unexpected text after ')'",
                );
            }
            return Ok(opts);
        }
        // Keyword.
        let name_start = i;
        while i < b.len() && !matches!(b[i], b':' | b';' | b')') {
            i += 1;
        }
        let name = text[name_start..i].trim();
        if name.is_empty() {
            return perr(name_start, "empty option, expected a keyword");
        }
        if !name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
        {
            return perr(
                name_start,
                format!("bad option keyword '{name}', expected 'keyword:value;'"),
            );
        }
        if i >= b.len() {
            return perr(
                text.len(),
                format!("option '{name}' not terminated, expected ';' or ')'"),
            );
        }
        let mut opt = OptionAst {
            name: name.to_string(),
            name_offset: name_start,
            value: None,
            value_offset: i,
        };
        if b[i] == b':' {
            i += 1;
            let vstart = i;
            let mut in_quote = false;
            let mut quote_start = 0;
            while i < b.len() {
                match b[i] {
                    b'\\' => i += 1,
                    b'"' => {
                        in_quote = !in_quote;
                        quote_start = i;
                    }
                    b';' if !in_quote => break,
                    _ => {}
                }
                i += 1;
            }
            if in_quote {
                return perr(
                    quote_start,
                    format!("unterminated quoted string in option '{name}', expected '\"'"),
                );
            }
            let i_end = i.min(b.len());
            let raw = &text[vstart..i_end];
            if i >= b.len() {
                // The last option may end at ')' without ';'.
                match raw.trim_end().strip_suffix(')') {
                    Some(v) => {
                        let lead = raw.len() - raw.trim_start().len();
                        opt.value = Some(v.trim().to_string());
                        opt.value_offset = vstart + lead;
                        opts.push(opt);
                        return Ok(opts);
                    }
                    None => {
                        return perr(
                            text.len(),
                            format!("option '{name}' not terminated, expected ';' or ')'"),
                        )
                    }
                }
            }
            let lead = raw.len() - raw.trim_start().len();
            opt.value = Some(raw.trim().to_string());
            opt.value_offset = vstart + lead;
            i += 1; // ';'
        } else if b[i] == b';' {
            i += 1;
        }
        // `)` right after a keyword without value: loop sees it.
        opts.push(opt);
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table tests: one tuple per case
mod tests {
    use super::*;

    fn rule(text: &str) -> RuleAst {
        match parse_statement(text) {
            Ok(Statement::Rule(r)) => r,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn headers() {
        // text, action, proto, src, sport, dir, dst, dport
        let cases: &[(&str, Action, Proto, &str, &str, Direction, &str, &str)] = &[
            (
                "alert ip any any -> any any (sid:1;)",
                Action::Alert,
                Proto::Ip,
                "any",
                "any",
                Direction::To,
                "any",
                "any",
            ),
            (
                "log tcp $HOME_NET 80 <> [1.1.1.1, 2.2.2.2] :1024 (sid:1;)",
                Action::Log,
                Proto::Tcp,
                "$HOME_NET",
                "80",
                Direction::Both,
                "[1.1.1.1, 2.2.2.2]",
                ":1024",
            ),
            (
                "pass udp !1.1.1.1 [80,!81] -> ::1 1: (sid:1;)",
                Action::Pass,
                Proto::Udp,
                "!1.1.1.1",
                "[80,!81]",
                Direction::To,
                "::1",
                "1:",
            ),
            (
                "drop icmp any any -> any any(sid:1;)",
                Action::Drop,
                Proto::Icmp,
                "any",
                "any",
                Direction::To,
                "any",
                "any",
            ),
            (
                "sdrop TCP any any -> any any (sid:1;)",
                Action::Sdrop,
                Proto::Tcp,
                "any",
                "any",
                Direction::To,
                "any",
                "any",
            ),
            (
                "reject tcp [[1.1.1.1],!2.2.2.2] any -> any any (sid:1;)",
                Action::Reject,
                Proto::Tcp,
                "[[1.1.1.1],!2.2.2.2]",
                "any",
                Direction::To,
                "any",
                "any",
            ),
        ];
        for &(text, action, proto, src, sport, dir, dst, dport) in cases {
            let r = rule(text);
            assert_eq!(
                (r.action, r.proto, r.direction),
                (action, proto, dir),
                "{text}"
            );
            assert_eq!(
                (r.src.text.as_str(), r.src_ports.text.as_str()),
                (src, sport),
                "{text}"
            );
            assert_eq!(
                (r.dst.text.as_str(), r.dst_ports.text.as_str()),
                (dst, dport),
                "{text}"
            );
        }
    }

    #[test]
    fn options_split() {
        let r = rule(
            r#"alert ip any any -> any any (msg:"a\;b \"c\" (d)"; content:"x;y"; nocase; sid : 5 ; fwsam: dst, 30 days)"#,
        );
        let got: Vec<(&str, Option<&str>)> = r
            .options
            .iter()
            .map(|o| (o.name.as_str(), o.value.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("msg", Some(r#""a\;b \"c\" (d)""#)),
                ("content", Some(r#""x;y""#)),
                ("nocase", None),
                ("sid", Some("5")),
                ("fwsam", Some("dst, 30 days")),
            ]
        );
    }

    #[test]
    fn statement_errors() {
        // text, offset, message part
        let cases: &[(&str, usize, &str)] = &[
            (
                "alarm ip any any -> any any (sid:1;)",
                0,
                "unknown rule action",
            ),
            (
                "alert foo any any -> any any (sid:1;)",
                6,
                "unknown protocol",
            ),
            ("alert ip any any => any any (sid:1;)", 17, "bad direction"),
            (
                "alert ip any any -> any (sid:1;)",
                24,
                "expected destination ports",
            ),
            (
                "alert ip [1.1.1.1 any -> any any (sid:1;)",
                9,
                "unbalanced '['",
            ),
            ("alert ip any any -> any any (sid:1;", 35, "not terminated"),
            (
                "alert ip any any -> any any (msg:\"abc; sid:1;)",
                33,
                "unterminated quoted",
            ),
            ("alert ip any any -> any any (sid:1;) x", 37, "after ')'"),
            ("alert ip any any -> any any sid:1;", 28, "expected '('"),
            ("var", 3, "expected a variable name"),
            ("var X", 5, "expected a value"),
        ];
        for &(text, off, msg) in cases {
            let e = parse_statement(text).unwrap_err();
            assert!(e.message.contains(msg), "{text}: {e:?}");
            assert_eq!(e.offset, off, "{text}: {e:?}");
        }
    }

    #[test]
    fn continuation_and_spans() {
        let text = "# comment\n\nalert ip any any -> any any \\\n  (msg:\"x\"; \\\n   sid:1;)\nvar A 1.1.1.1\n";
        let lines = logical_lines(text);
        assert_eq!(lines.len(), 2);
        let l = &lines[0];
        let sid = l.text.find("sid").unwrap();
        assert_eq!(l.span(sid), Span { line: 5, col: 4 });
        assert_eq!(l.span(0), Span { line: 3, col: 1 });
        assert_eq!(lines[1].span(4), Span { line: 6, col: 5 });
    }
}
