//! One parsed rule → a compiled [`Rule`], or the reason it is skipped, or the error that makes
//! it unusable. Variables are expanded here; the index over many rules is `index`'s job.

use std::path::PathBuf;
use std::sync::Arc;

use super::addr::{parse_addr, parse_ports, Vars};
use super::model::{PortSet, Proto, Rule, SourceLoc};
use super::options::{compile_options, OptCtx};
use super::parse::RuleAst;

/// The outcome for one rule.
#[derive(Debug, Clone)]
pub enum Compiled {
    Loaded(Box<Rule>),
    /// Parsed fine but uses an option above the supported tier (or an unknown keyword).
    Skipped(String),
    /// Byte offset in the logical line, and what was expected.
    Error(usize, String),
}

/// Compiles one rule. `line` is the rule's first physical line, for [`SourceLoc`].
pub fn compile_rule(
    ast: &RuleAst,
    vars: &Vars,
    ctx: &mut OptCtx,
    file: &Arc<PathBuf>,
    line: u32,
) -> Compiled {
    let src = match parse_addr(&ast.src.text, ast.src.offset, vars) {
        Ok(s) => s,
        Err(e) => return Compiled::Error(e.offset, format!("source address: {}", e.message)),
    };
    let dst = match parse_addr(&ast.dst.text, ast.dst.offset, vars) {
        Ok(s) => s,
        Err(e) => return Compiled::Error(e.offset, format!("destination address: {}", e.message)),
    };
    let ports = |f: &super::parse::Field, what: &str| match parse_ports(&f.text, f.offset, vars) {
        Ok(p) => Ok(p),
        Err(e) => Err(Compiled::Error(
            e.offset,
            format!("{what} ports: {}", e.message),
        )),
    };
    let mut src_ports = match ports(&ast.src_ports, "source") {
        Ok(p) => p,
        Err(c) => return c,
    };
    let mut dst_ports = match ports(&ast.dst_ports, "destination") {
        Ok(p) => p,
        Err(c) => return c,
    };
    // Snort: `ip` and `icmp` rules ignore their port fields (treated as `any`).
    if matches!(ast.proto, Proto::Ip | Proto::Icmp) {
        src_ports = PortSet::any();
        dst_ports = PortSet::any();
    }
    let f = match compile_options(&ast.options, ctx) {
        Ok(f) => f,
        Err(e) => return Compiled::Error(e.offset, e.message),
    };
    let Some(sid) = f.sid else {
        return Compiled::Error(0, "rule has no 'sid' option, expected 'sid:N;'".into());
    };
    if let Some(reason) = f.skip {
        return Compiled::Skipped(reason);
    }
    let priority = f.priority.or(f.class_priority).unwrap_or(0);
    Compiled::Loaded(Box::new(Rule {
        loc: SourceLoc {
            file: Arc::clone(file),
            line,
        },
        action: ast.action,
        proto: ast.proto,
        src,
        src_ports,
        direction: ast.direction,
        dst,
        dst_ports,
        gid: f.gid.unwrap_or(1),
        sid,
        rev: f.rev.unwrap_or(0),
        msg: f.msg,
        classtype: f.classtype,
        class_desc: f.class_desc,
        priority,
        references: f.references,
        metadata: f.metadata,
        flags: f.flags,
        flow: f.flow,
        flowbits: f.flowbits,
        threshold: f.threshold,
        detection_filter: f.detection_filter,
        header_tests: f.header_tests,
        contents: f.contents,
    }))
}
