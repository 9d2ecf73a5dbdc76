//! One parsed rule → a compiled [`Rule`], or the reason it is skipped, or the error that makes
//! it unusable. Variables are expanded here; the index over many rules is `index`'s job.

use std::path::PathBuf;
use std::sync::Arc;

use super::addr::{parse_addr, parse_ports, Vars};
use super::model::{PortSet, Proto, Rule, SourceLoc, Tag};
use super::options::{compile_options, OptCtx};
use super::parse::RuleAst;

/// The outcome for one rule.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// The rule, and its `tag:` option if it has one (the model keeps tags beside the rules).
    Loaded(Box<Rule>, Option<Tag>),
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
    Compiled::Loaded(
        Box::new(Rule {
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
            payload: f.payload,
        }),
        f.tag,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::classify::{Classifications, References};
    use crate::rules::model::*;
    use crate::rules::options::FlowbitNames;
    use crate::rules::parse::{parse_statement, Statement};

    fn compile(text: &str) -> Compiled {
        let Ok(Statement::Rule(ast)) = parse_statement(text) else {
            panic!("{text}")
        };
        let mut vars = crate::rules::vars::defaults();
        vars.insert("HOME_NET".into(), "[10.0.0.0/8]".into());
        let (classes, refs) = (Classifications::standard(), References::standard());
        let mut fb = FlowbitNames::default();
        let mut ctx = OptCtx {
            classes: &classes,
            references: &refs,
            flowbits: &mut fb,
        };
        compile_rule(
            &ast,
            &vars,
            &mut ctx,
            &Arc::new(PathBuf::from("t.rules")),
            1,
        )
    }

    fn loaded(text: &str) -> Rule {
        match compile(text) {
            Compiled::Loaded(r, _) => *r,
            other => panic!("{text}: {other:?}"),
        }
    }

    const H: &str = "alert tcp $HOME_NET any -> any any";

    /// Tier-1 options, one rule per case, checked through a projection of the compiled rule.
    #[test]
    fn tier1_options() {
        let cases: &[(&str, &str)] = &[
            // options, expected projection
            ("sid:1;", "1:1:0 p0 msg=''"),
            (
                "sid:5; gid:3; rev:7; msg:\"a \\\"b\\\" c\\;\";",
                "3:5:7 p0 msg='a \"b\" c;'",
            ),
            ("sid:1; classtype:trojan-activity;", "1:1:0 p1 msg=''"),
            (
                "sid:1; classtype:trojan-activity; priority:4;",
                "1:1:0 p4 msg=''",
            ),
            ("sid:1; priority:2;", "1:1:0 p2 msg=''"),
            ("sid:1; classtype:misc-activity;", "1:1:0 p3 msg=''"),
        ];
        for (opts, want) in cases {
            let r = loaded(&format!("{H} ({opts})"));
            let got = format!(
                "{}:{}:{} p{} msg='{}'",
                r.gid, r.sid, r.rev, r.priority, r.msg
            );
            assert_eq!(&got, want, "{opts}");
        }
        let r = loaded(&format!(
            "{H} (sid:1; reference:url,www.shadowserver.org; reference:cve,2007-1001; reference:foo,x; \
             metadata:former_category CNC, updated_at 2021_03_05; \
             threshold: type limit, track by_src, seconds 3600, count 1; \
             flowbits:set,ET.Evil; flowbits:isset,a|b; \
             flowbits:noalert; flow:to_server,established; flags:S,12; fwsam: src, 1 hour;)"
        ));
        let refs: Vec<(&str, &str, Option<&str>)> = r
            .references
            .iter()
            .map(|x| (x.system.as_str(), x.id.as_str(), x.url_prefix.as_deref()))
            .collect();
        assert_eq!(
            refs,
            vec![
                ("url", "www.shadowserver.org", Some("http://")),
                (
                    "cve",
                    "2007-1001",
                    Some("http://cve.mitre.org/cgi-bin/cvename.cgi?name=")
                ),
                ("foo", "x", None)
            ]
        );
        assert_eq!(
            r.metadata,
            vec!["former_category CNC", "updated_at 2021_03_05"]
        );
        assert_eq!(
            r.threshold,
            Some(Threshold {
                kind: ThresholdKind::Limit,
                track: Track::BySrc,
                count: 1,
                seconds: 3600
            })
        );
        // A rule has a threshold or a detection_filter, never both (Snort's parser refuses it).
        let d = loaded(&format!(
            "{H} (sid:2; detection_filter:track by_dst, count 2, seconds 5;)"
        ));
        assert_eq!(
            d.detection_filter,
            Some(DetectionFilter {
                track: Track::ByDst,
                count: 2,
                seconds: 5
            })
        );
        assert_eq!(r.flowbits.len(), 3);
        assert_eq!(r.flowbits[1].join, BitsJoin::Any);
        assert_eq!(r.flow.and_then(|f| f.dir), Some(FlowDir::ToServer));
        assert_eq!(
            r.flags,
            Some(FlagsTest {
                modifier: FlagsModifier::Exact,
                flags: tcp_flags::SYN,
                ignore: 0xc0
            })
        );
        assert_eq!(r.src.v4, vec![(0x0a00_0000, 0x0aff_ffff)]);
    }

    #[test]
    fn headers_compile() {
        let r = loaded("alert ip [::1,2001:db8::/32,!2001:db8::1] any <> 1.2.3.4 80 (sid:1;)");
        assert_eq!(r.src.v6.len(), 3);
        assert!(r.src.v4.is_empty());
        assert!(
            r.src_ports.is_any() && r.dst_ports.is_any(),
            "ip rules ignore ports"
        );
        assert_eq!(r.direction, Direction::Both);
        let r = loaded("alert udp any [1:1024,!53] -> any $HTTP_PORTS (sid:1;)");
        assert_eq!(r.src_ports.ranges, vec![(1, 52), (54, 1024)]);
        assert!(r.dst_ports.contains(8080) && !r.dst_ports.contains(443));
    }

    #[test]
    fn tiers_and_errors() {
        // options, expected outcome ("skip: reason" or "error: message part")
        let cases: &[(&str, &str)] = &[
            ("content:\"abc\"; nocase; sid:1;", "loaded: "),
            ("dsize:>100; sid:1;", "loaded: "),
            ("pcre:\"/a+/i\"; sid:1;", "loaded: "),
            ("content:\"a\"; http_uri; sid:1;", "loaded: "),
            ("content:\"a\"; rawbytes; sid:1;", "loaded: "),
            ("frobnicate; sid:1;", "skip: option 'frobnicate' unknown"),
            ("flow:established,only_stream; sid:1;", "loaded: "),
            (
                "flow:established,no_frag; sid:1;",
                "skip: option 'flow:no_frag' not supported",
            ),
            (
                "byte_test:4,>,1,0,relative,dce; sid:1;",
                "skip: option 'byte_test:...,dce' not supported",
            ),
            (
                "http_encode:uri,utf8; sid:1;",
                "skip: option 'http_encode' not supported",
            ),
            ("nocase; sid:1;", "error: needs a preceding 'content'"),
            (
                "content:\"abcd\"; depth:2; sid:1;",
                "error: depth must be at least",
            ),
            (
                "content:\"ab\"; offset:1; distance:2; sid:1;",
                "error: cannot mix",
            ),
            ("content:\"|0g|\"; sid:1;", "error: bad hex digit"),
            ("ttl:300; sid:1;", "error: out of range"),
            ("pcre:\"a+\"; sid:1;", "error: expected '/'"),
            ("byte_test:4,~,1,0; sid:1;", "error: bad operator"),
            ("sid:1; sid:2;", "error: given twice"),
            ("msg:\"x\";", "error: no 'sid'"),
            ("sid:1; classtype:nope;", "error: unknown classtype"),
            ("sid:1; reference:cve;", "error: expected 'system,id'"),
            ("sid:1; flowbits:set;", "error: needs a flowbit name"),
        ];
        for (opts, want) in cases {
            let got = match compile(&format!("{H} ({opts})")) {
                Compiled::Loaded(..) => "loaded: ".to_string(),
                Compiled::Skipped(r) => format!("skip: {r}"),
                Compiled::Error(_, m) => format!("error: {m}"),
            };
            let (kind, part) = want.split_once(": ").unwrap();
            assert!(got.starts_with(kind) && got.contains(part), "{opts}: {got}");
        }
    }
}
