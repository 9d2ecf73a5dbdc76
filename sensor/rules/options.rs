//! Rule options: the syntax of every option Snort 2.9 knows, by tier (DESIGN.md "Semantics"),
//! compiled into the option fields of a [`Rule`](super::model::Rule).
//!
//! Tier 1 and tier 2 options compile fully; tier 3 options are checked for obvious garbage and
//! make the rule skipped; unknown third-party hints (`fwsam`) are ignored; a genuinely unknown
//! keyword skips the rule. Header fields, variables and files are not handled here.

use super::classify::{Classifications, References};
use super::model::*;
use super::option_values::*;
use super::parse::OptionAst;
use super::payload_values::*;
use super::pcre::{compile_pcre, parse_pcre};
use super::SUPPORTED_TIER;

/// What a rule's options compile to (everything in [`Rule`] that is not the header).
#[derive(Debug, Clone, Default)]
pub struct OptionFields {
    pub gid: Option<u32>,
    pub sid: Option<u32>,
    pub rev: Option<u32>,
    pub msg: String,
    pub classtype: Option<String>,
    pub class_desc: Option<String>,
    pub class_priority: Option<u32>,
    pub priority: Option<u32>,
    pub references: Vec<Reference>,
    pub metadata: Vec<String>,
    pub flags: Option<FlagsTest>,
    pub flow: Option<FlowTest>,
    pub flowbits: Vec<FlowbitsOp>,
    pub threshold: Option<Threshold>,
    pub detection_filter: Option<DetectionFilter>,
    pub header_tests: Vec<HeaderTest>,
    pub contents: Vec<Content>,
    /// The payload tests in rule order ([`Rule::payload`]).
    pub payload: Vec<PayloadOp>,
    pub tag: Option<Tag>,
    /// Why the rule cannot load yet (the first option above [`SUPPORTED_TIER`]).
    pub skip: Option<String>,
}

/// An option error at a byte offset of the logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptError {
    pub offset: usize,
    pub message: String,
}

/// Flowbit names → ids, shared by every rule of a load.
#[derive(Debug, Default)]
pub struct FlowbitNames {
    pub names: Vec<String>,
    map: std::collections::HashMap<String, FlowbitId>,
}

impl FlowbitNames {
    pub fn intern(&mut self, name: &str) -> Result<FlowbitId, String> {
        if let Some(&id) = self.map.get(name) {
            return Ok(id);
        }
        let id = FlowbitId::try_from(self.names.len())
            .map_err(|_| "too many flowbit names (65536)".to_string())?;
        self.names.push(name.to_string());
        self.map.insert(name.to_string(), id);
        Ok(id)
    }
}

pub struct OptCtx<'a> {
    pub classes: &'a Classifications,
    pub references: &'a References,
    pub flowbits: &'a mut FlowbitNames,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tier(u8),
    /// Third-party hints Snort ignores when no plug-in claims them.
    Ignored,
}

/// Every keyword this parser knows, with its tier.
fn kind_of(name: &str) -> Option<Kind> {
    Some(match name {
        "msg" | "sid" | "gid" | "rev" | "classtype" | "priority" | "reference" | "metadata"
        | "threshold" | "detection_filter" | "flowbits" | "flow" | "flags" => Kind::Tier(1),
        "content" | "nocase" | "offset" | "depth" | "distance" | "within" | "fast_pattern"
        | "dsize" | "ip_proto" | "ttl" | "tos" | "id" | "itype" | "icode" | "icmp_id"
        | "icmp_seq" | "sameip" | "window" | "seq" | "ack" | "fragbits" => Kind::Tier(2),
        // A post-detection option (DESIGN.md puts it in tier 3), taken on ahead of its tier:
        // it changes what the evidence store keeps after an event, never what matches.
        "tag" => Kind::Tier(2),
        // The payload options (detect::payload evaluates them over the buffer table).
        "pcre" | "byte_test" | "byte_jump" | "byte_extract" | "byte_math" | "isdataat"
        | "uricontent" | "urilen" | "rawbytes" | "http_uri" | "http_raw_uri" | "http_header"
        | "http_raw_header" | "http_cookie" | "http_raw_cookie" | "http_client_body"
        | "http_method" | "http_stat_code" | "http_stat_msg" | "file_data" | "pkt_data" => {
            Kind::Tier(2)
        }
        "http_encode"
        | "base64_decode"
        | "base64_data"
        | "stream_size"
        | "stream_reassemble"
        | "asn1"
        | "ssl_state"
        | "ssl_version"
        | "dce_iface"
        | "dce_opnum"
        | "dce_stub_data"
        | "sip_method"
        | "sip_stat_code"
        | "sip_header"
        | "sip_body"
        | "gtp_type"
        | "gtp_info"
        | "gtp_version"
        | "modbus_func"
        | "modbus_unit"
        | "modbus_data"
        | "dnp3_func"
        | "dnp3_obj"
        | "dnp3_ind"
        | "dnp3_data"
        | "cip_attribute"
        | "cip_class"
        | "cip_conn_path_class"
        | "cip_instance"
        | "cip_req"
        | "cip_rsp"
        | "cip_service"
        | "cip_status"
        | "enip_command"
        | "enip_req"
        | "enip_rsp"
        | "resp"
        | "react"
        | "session"
        | "logto"
        | "replace"
        | "activates"
        | "activated_by"
        | "count"
        | "fragoffset"
        | "ipopts"
        | "rpc"
        | "ftpbounce"
        | "cvs"
        | "sd_pattern"
        | "file_type"
        | "file_group"
        | "protected_content"
        | "hash"
        | "length"
        | "pkt_data_done" => Kind::Tier(3),
        "fwsam" | "fwsam_ipv6" => Kind::Ignored,
        _ => return None,
    })
}

/// Compiles the options of one rule.
///
/// # Errors
/// The first malformed option, with its offset and what was expected.
pub fn compile_options(opts: &[OptionAst], ctx: &mut OptCtx) -> Result<OptionFields, OptError> {
    let mut f = OptionFields::default();
    // The sticky buffer (`file_data` … `pkt_data`), the rule's variables, and whether the last
    // content already has a buffer modifier (`rawbytes`, `http_*`, or it is a `uricontent`).
    let mut sticky = Buffer::Pkt;
    let mut vars = VarNames::default();
    let mut content_buffer_set = false;
    for o in opts {
        let name = o.name.to_ascii_lowercase();
        let at = o.value_offset;
        let fail = |m: String| OptError {
            offset: at,
            message: format!("{name}: {m}"),
        };
        let kind = match kind_of(&name) {
            Some(k) => k,
            None => {
                f.skip
                    .get_or_insert_with(|| format!("option '{name}' unknown"));
                continue;
            }
        };
        if let Kind::Tier(t) = kind {
            if t > SUPPORTED_TIER && f.skip.is_none() {
                f.skip = Some(if t == 2 {
                    format!("option '{name}' not supported yet")
                } else {
                    format!("option '{name}' not supported")
                });
            }
        }
        let v = o.value.as_deref();
        let dup = |set: bool| -> Result<(), OptError> {
            if set {
                Err(OptError {
                    offset: o.name_offset,
                    message: format!("'{name}' given twice, expected it once"),
                })
            } else {
                Ok(())
            }
        };
        // Snort 2.9 parser.c refuses a rule with both a `threshold` and a `detection_filter`
        // (both are threshold objects of the rule; at most one is allowed).
        let both_filters = |other: bool| -> Result<(), OptError> {
            if other {
                Err(OptError {
                    offset: o.name_offset,
                    message: format!(
                        "'{name}' in a rule that has a {}: Snort allows only one of threshold and detection_filter per rule",
                        if name == "threshold" { "detection_filter" } else { "threshold" }
                    ),
                })
            } else {
                Ok(())
            }
        };
        match name.as_str() {
            "msg" => {
                dup(!f.msg.is_empty())?;
                f.msg = unquote(need(v, "a quoted message").map_err(fail)?).map_err(fail)?;
            }
            "sid" => {
                dup(f.sid.is_some())?;
                f.sid = Some(number(need(v, "a number").map_err(fail)?).map_err(fail)?);
            }
            "gid" => {
                dup(f.gid.is_some())?;
                f.gid = Some(number(need(v, "a number").map_err(fail)?).map_err(fail)?);
            }
            "rev" => {
                dup(f.rev.is_some())?;
                f.rev = Some(number(need(v, "a number").map_err(fail)?).map_err(fail)?);
            }
            "priority" => {
                dup(f.priority.is_some())?;
                f.priority = Some(number(need(v, "a number").map_err(fail)?).map_err(fail)?);
            }
            "classtype" => {
                dup(f.classtype.is_some())?;
                let c = need(v, "a classification name").map_err(fail)?;
                match ctx.classes.get(c) {
                    Some((desc, prio)) => {
                        f.classtype = Some(c.to_string());
                        f.class_desc = Some(desc.to_string());
                        f.class_priority = Some(prio);
                    }
                    None => {
                        return Err(fail(format!(
                            "unknown classtype '{c}', expected one from classification.config"
                        )))
                    }
                }
            }
            "reference" => {
                let r = need(v, "'system,id'").map_err(fail)?;
                let Some((sys, id)) = r.split_once(',') else {
                    return Err(fail(format!("expected 'system,id', got '{r}'")));
                };
                let (sys, id) = (sys.trim(), id.trim());
                if sys.is_empty() || id.is_empty() {
                    return Err(fail(format!("expected 'system,id', got '{r}'")));
                }
                f.references.push(Reference {
                    system: sys.to_string(),
                    id: id.to_string(),
                    url_prefix: ctx.references.get(sys).map(str::to_string),
                });
            }
            "metadata" => {
                let m = need(v, "'key value[, key value]'").map_err(fail)?;
                f.metadata.extend(
                    m.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                );
            }
            "threshold" => {
                dup(f.threshold.is_some())?;
                both_filters(f.detection_filter.is_some())?;
                f.threshold = Some(
                    parse_threshold(
                        need(v, "'type T, track T, count N, seconds N'").map_err(fail)?,
                    )
                    .map_err(fail)?,
                );
            }
            "detection_filter" => {
                dup(f.detection_filter.is_some())?;
                both_filters(f.threshold.is_some())?;
                let kv = parse_kv(
                    need(v, "'track T, count N, seconds N'").map_err(fail)?,
                    &["track", "count", "seconds"],
                )
                .map_err(fail)?;
                f.detection_filter = Some(DetectionFilter {
                    track: track(kv[0].as_deref().unwrap_or(""), false).map_err(fail)?,
                    count: number(kv[1].as_deref().unwrap_or("")).map_err(fail)?,
                    seconds: number(kv[2].as_deref().unwrap_or("")).map_err(fail)?,
                });
            }
            "flowbits" => {
                let op = parse_flowbits(need(v, "'command[,name]'").map_err(fail)?, ctx.flowbits)
                    .map_err(fail)?;
                f.flowbits.push(op);
            }
            "flow" => {
                dup(f.flow.is_some())?;
                let (flow, extra) =
                    parse_flow(need(v, "flow keywords").map_err(fail)?).map_err(fail)?;
                f.flow = Some(flow);
                if let Some(x) = extra {
                    f.skip
                        .get_or_insert_with(|| format!("option 'flow:{x}' not supported"));
                }
            }
            "flags" => {
                dup(f.flags.is_some())?;
                f.flags = Some(parse_flags(need(v, "TCP flags").map_err(fail)?).map_err(fail)?);
            }
            "content" | "uricontent" => {
                let (pattern, negated) =
                    content_bytes(need(v, "a quoted pattern").map_err(fail)?).map_err(fail)?;
                if pattern.is_empty() {
                    return Err(fail("empty pattern".into()));
                }
                let index = u16::try_from(f.contents.len())
                    .map_err(|_| fail("too many contents in one rule (65535)".into()))?;
                let uri = name == "uricontent";
                f.contents.push(Content {
                    pattern,
                    negated,
                    buffer: if uri { Buffer::Uri } else { sticky },
                    ..Content::default()
                });
                f.payload.push(PayloadOp::Content(index));
                content_buffer_set = uri;
            }
            "rawbytes" | "http_uri" | "http_raw_uri" | "http_header" | "http_raw_header"
            | "http_cookie" | "http_raw_cookie" | "http_client_body" | "http_method"
            | "http_stat_code" | "http_stat_msg" => {
                let Some(c) = f.contents.last_mut() else {
                    return Err(OptError {
                        offset: o.name_offset,
                        message: format!("'{name}' needs a preceding 'content'"),
                    });
                };
                if v.is_some_and(|s| !s.is_empty()) {
                    return Err(fail("takes no value".into()));
                }
                if content_buffer_set {
                    return Err(OptError {
                        offset: o.name_offset,
                        message: format!(
                            "'{name}' on a content that already has a buffer ({}), expected one buffer modifier per content",
                            if c.buffer == Buffer::Pkt { "rawbytes" } else { c.buffer.keyword() }
                        ),
                    });
                }
                c.buffer = buffer_of_modifier(&name);
                content_buffer_set = true;
            }
            "nocase" | "offset" | "depth" | "distance" | "within" | "fast_pattern" => {
                let Some(c) = f.contents.last_mut() else {
                    return Err(OptError {
                        offset: o.name_offset,
                        message: format!("'{name}' needs a preceding 'content'"),
                    });
                };
                content_modifier(&name, v, c, &vars).map_err(fail)?;
            }
            "file_data" => match v.filter(|s| !s.is_empty()) {
                None => sticky = Buffer::FileData,
                Some("mime") => {
                    f.skip
                        .get_or_insert_with(|| "option 'file_data:mime' not supported".into());
                }
                Some(x) => return Err(fail(format!("unexpected value '{x}', expected none"))),
            },
            "pkt_data" => {
                if v.is_some_and(|s| !s.is_empty()) {
                    return Err(fail("takes no value".into()));
                }
                sticky = Buffer::Pkt;
            }
            "pcre" => {
                let text = need(v, "a quoted \"/regex/flags\"").map_err(fail)?;
                let spec = parse_pcre(text).map_err(fail)?;
                let buffer = spec.buffer.unwrap_or(sticky);
                f.payload.push(PayloadOp::Pcre(
                    compile_pcre(&spec, text, buffer).map_err(fail)?,
                ));
            }
            "byte_test" => {
                let (t, dce) = parse_byte_test(
                    need(v, "'bytes, operator, value, offset[, ...]'").map_err(fail)?,
                    &vars,
                    sticky,
                )
                .map_err(fail)?;
                dce_skip(&mut f.skip, &name, dce);
                f.payload.push(PayloadOp::ByteTest(t));
            }
            "byte_jump" => {
                let (j, dce) = parse_byte_jump(
                    need(v, "'bytes, offset[, ...]'").map_err(fail)?,
                    &vars,
                    sticky,
                )
                .map_err(fail)?;
                dce_skip(&mut f.skip, &name, dce);
                f.payload.push(PayloadOp::ByteJump(j));
            }
            "byte_extract" => {
                let (x, dce) = parse_byte_extract(
                    need(v, "'bytes, offset, name[, ...]'").map_err(fail)?,
                    &mut vars,
                    sticky,
                )
                .map_err(fail)?;
                dce_skip(&mut f.skip, &name, dce);
                f.payload.push(PayloadOp::ByteExtract(x));
            }
            "byte_math" => {
                let (m, dce) = parse_byte_math(
                    need(v, "'bytes N, offset N, oper O, rvalue V, result NAME'").map_err(fail)?,
                    &mut vars,
                    sticky,
                )
                .map_err(fail)?;
                dce_skip(&mut f.skip, &name, dce);
                f.payload.push(PayloadOp::ByteMath(m));
            }
            "isdataat" => f.payload.push(PayloadOp::IsDataAt(
                parse_isdataat(
                    need(v, "'[!]N[, relative][, rawbytes]'").map_err(fail)?,
                    &vars,
                    sticky,
                )
                .map_err(fail)?,
            )),
            "urilen" => f.payload.push(
                parse_urilen(need(v, "'[<|>]N[, raw|norm]' or 'N<>M'").map_err(fail)?)
                    .map_err(fail)?,
            ),
            "dsize" => f.header_tests.push(HeaderTest::Dsize(
                dsize(need(v, "a size").map_err(fail)?).map_err(fail)?,
            )),
            "ttl" => f.header_tests.push(HeaderTest::Ttl(
                cmp(need(v, "a TTL").map_err(fail)?, 255).map_err(fail)?,
            )),
            "tos" => f.header_tests.push(HeaderTest::Tos(
                cmp(need(v, "a TOS").map_err(fail)?, 255).map_err(fail)?,
            )),
            "id" => f.header_tests.push(HeaderTest::Id(
                cmp(need(v, "an IP id").map_err(fail)?, 65535).map_err(fail)?,
            )),
            "ip_proto" => f.header_tests.push(HeaderTest::IpProto(
                ip_proto(need(v, "a protocol").map_err(fail)?).map_err(fail)?,
            )),
            "itype" => f.header_tests.push(HeaderTest::Itype(
                cmp(need(v, "an ICMP type").map_err(fail)?, 255).map_err(fail)?,
            )),
            "icode" => f.header_tests.push(HeaderTest::Icode(
                cmp(need(v, "an ICMP code").map_err(fail)?, 255).map_err(fail)?,
            )),
            "icmp_id" => f.header_tests.push(HeaderTest::IcmpId(
                cmp(need(v, "an ICMP id").map_err(fail)?, 65535).map_err(fail)?,
            )),
            "icmp_seq" => f.header_tests.push(HeaderTest::IcmpSeq(
                cmp(need(v, "an ICMP sequence").map_err(fail)?, 65535).map_err(fail)?,
            )),
            "window" => f.header_tests.push(HeaderTest::Window(
                cmp(need(v, "a window size").map_err(fail)?, 65535).map_err(fail)?,
            )),
            "seq" => f.header_tests.push(HeaderTest::Seq(
                cmp(need(v, "a sequence number").map_err(fail)?, u32::MAX).map_err(fail)?,
            )),
            "ack" => f.header_tests.push(HeaderTest::Ack(
                cmp(need(v, "an ack number").map_err(fail)?, u32::MAX).map_err(fail)?,
            )),
            "sameip" => {
                if v.is_some_and(|s| !s.is_empty()) {
                    return Err(fail("takes no value".into()));
                }
                f.header_tests.push(HeaderTest::SameIp);
            }
            "fragbits" => f
                .header_tests
                .push(parse_fragbits(need(v, "fragment bits M D R").map_err(fail)?).map_err(fail)?),
            "tag" => {
                // Snort 2.9 parser.c: "Can only use 'tag' rule option once per rule."
                dup(f.tag.is_some())?;
                let s = need(
                    v,
                    "'session[,N,metric]…[,exclusive]' or 'host,N,metric…,src|dst'",
                )
                .map_err(fail)?;
                f.tag = Some(parse_tag(s).map_err(|(off, m)| OptError {
                    offset: at + off,
                    message: format!("{name}: {m}"),
                })?);
            }
            _ => check_tier3(&name, v).map_err(fail)?,
        }
        if f.payload.len() > MAX_PAYLOAD_OPS {
            // Evaluation recurses once per payload test (detect::payload): a bound on the
            // depth whatever a rule file says. Real rules use a few dozen.
            return Err(OptError {
                offset: o.name_offset,
                message: format!(
                    "more than {MAX_PAYLOAD_OPS} payload tests (content, pcre, byte_*, isdataat, urilen) in one rule"
                ),
            });
        }
    }
    Ok(f)
}

/// The most payload tests one rule may hold.
pub const MAX_PAYLOAD_OPS: usize = 256;

fn content_bytes(s: &str) -> Result<(Vec<u8>, bool), String> {
    let (negated, rest) = match s.strip_prefix('!') {
        Some(r) => (true, r.trim_start()),
        None => (false, s),
    };
    if !rest.starts_with('"') || rest.len() < 2 || !rest.ends_with('"') {
        return Err(format!("expected a quoted pattern, got {s}"));
    }
    let inner = &rest.as_bytes()[1..rest.len() - 1];
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    let mut hex = false;
    let mut nibble: Option<u8> = None;
    while i < inner.len() {
        let c = inner[i];
        if hex {
            match c {
                b'|' => {
                    if nibble.is_some() {
                        return Err("odd number of hex digits between '|'".into());
                    }
                    hex = false;
                }
                b' ' | b'\t' => {
                    if nibble.is_some() {
                        return Err("hex digits must come in pairs".into());
                    }
                }
                c if c.is_ascii_hexdigit() => {
                    let d = (c as char).to_digit(16).unwrap_or(0) as u8;
                    match nibble.take() {
                        Some(h) => out.push(h << 4 | d),
                        None => nibble = Some(d),
                    }
                }
                _ => return Err(format!("bad hex digit '{}' between '|'", c as char)),
            }
        } else {
            match c {
                b'|' => hex = true,
                b'\\' => {
                    i += 1;
                    match inner.get(i) {
                        Some(&n @ (b'"' | b'\\' | b';' | b':' | b'|')) => out.push(n),
                        _ => return Err("bad escape, expected \\\" \\\\ \\; \\: or \\|".into()),
                    }
                }
                b'"' => return Err("unescaped '\"' inside the pattern".into()),
                b';' => return Err("unescaped ';' inside the pattern".into()),
                c => out.push(c),
            }
        }
        i += 1;
    }
    if hex {
        return Err("unterminated hex block, expected '|'".into());
    }
    Ok((out, negated))
}

/// The buffer an HTTP content modifier (or `rawbytes`) selects.
fn buffer_of_modifier(name: &str) -> Buffer {
    Buffer::ALL
        .into_iter()
        .find(|b| b.is_http() && b.keyword() == name)
        .unwrap_or(Buffer::Pkt)
}

/// `dce` asks for the DCE/RPC preprocessor's byte order, which this sensor does not know.
fn dce_skip(skip: &mut Option<String>, name: &str, dce: bool) {
    if dce {
        skip.get_or_insert_with(|| format!("option '{name}:...,dce' not supported"));
    }
}

fn content_modifier(
    name: &str,
    v: Option<&str>,
    c: &mut Content,
    vars: &VarNames,
) -> Result<(), String> {
    // A byte_extract variable may stand in for the number (sp_pattern_match.c): the field then
    // holds `Some(0)` and the variable is recorded beside it.
    let num = |v: Option<&str>| -> Result<(Option<i32>, Option<VarId>), String> {
        let s = need(v, "a number or a byte_extract variable")?;
        if s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) {
            return match num_arg(s, vars)? {
                NumArg::Var(id) => Ok((Some(0), Some(id))),
                NumArg::Lit(n) => Ok((i32::try_from(n).ok(), None)),
            };
        }
        Ok((Some(signed(s)?), None))
    };
    let no_value = |v: Option<&str>| -> Result<(), String> {
        if v.is_some_and(|s| !s.is_empty()) {
            Err("takes no value".into())
        } else {
            Ok(())
        }
    };
    let plen = i32::try_from(c.pattern.len()).unwrap_or(i32::MAX);
    match name {
        "nocase" => no_value(v)?,
        "offset" => {
            (c.offset, c.vars.offset) = num(v)?;
            if c.offset.is_some_and(|o| o < 0) {
                return Err("offset must not be negative".into());
            }
        }
        "depth" => {
            (c.depth, c.vars.depth) = num(v)?;
            if c.vars.depth.is_none() && c.depth.is_some_and(|d| d < plen) {
                return Err(format!(
                    "depth must be at least the pattern length ({plen})"
                ));
            }
        }
        "distance" => (c.distance, c.vars.distance) = num(v)?,
        "within" => {
            (c.within, c.vars.within) = num(v)?;
            if c.vars.within.is_none() && c.within.is_some_and(|w| w < plen) {
                return Err(format!(
                    "within must be at least the pattern length ({plen})"
                ));
            }
        }
        "fast_pattern" => {
            if let Some(s) = v.filter(|s| !s.is_empty()) {
                if s != "only" {
                    let Some((a, b)) = s.split_once(',') else {
                        return Err(format!("expected 'only' or 'offset,length', got '{s}'"));
                    };
                    let (a, b) = (number(a)?, number(b)?);
                    if u64::from(a) + u64::from(b) > c.pattern.len() as u64 || b == 0 {
                        return Err("offset,length outside the pattern".into());
                    }
                }
            }
            c.fast_pattern = true;
        }
        _ => no_value(v)?,
    }
    let relative = c.is_relative();
    let absolute = c.offset.is_some() || c.depth.is_some();
    if relative && absolute {
        return Err("cannot mix offset/depth with distance/within on one content".into());
    }
    if name == "nocase" {
        c.nocase = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_patterns() {
        assert_eq!(content_bytes(r#""abc""#), Ok((b"abc".to_vec(), false)));
        assert_eq!(
            content_bytes(r#"!"a|00 01|b""#),
            Ok((b"a\x00\x01b".to_vec(), true))
        );
        assert_eq!(content_bytes(r#""|0d0a|""#), Ok((b"\r\n".to_vec(), false)));
        assert_eq!(
            content_bytes(r#""a\"b\;c\\""#),
            Ok((b"a\"b;c\\".to_vec(), false))
        );
        for bad in [r#""|0|""#, r#""|zz|""#, r#""abc"#, "abc", r#""|00""#] {
            assert!(content_bytes(bad).is_err(), "{bad}");
        }
    }
}
