//! The payload options end to end: rule text → loader → `detect::payload::payload_match` over
//! explicit buffers. One line a case; each comment names the Snort 2.9 source the expected
//! answer is worked out from. Parse errors say what was expected.

use std::path::Path;

use nsm_sensor::detect::payload::{payload_match, Buffers};
use nsm_sensor::rules::load::load_text;
use nsm_sensor::rules::{Buffer, LoadOptions, Rule};

/// Loads `alert tcp any any -> any any (OPTS sid:1;)` and returns the rule; panics unless it
/// loaded.
fn rule(opts: &str) -> Rule {
    let text = format!("alert tcp any any -> any any ({opts} sid:1;)\n");
    let r = load_text(Path::new("t.rules"), &text, &LoadOptions::default());
    let errs: Vec<String> = r.errors().map(|d| d.message.clone()).collect();
    assert!(errs.is_empty(), "{opts}: {errs:?}");
    assert_eq!(
        r.model.rules.len(),
        1,
        "{opts}: not loaded: {:?}",
        r.files[0].skipped
    );
    r.model.rules.into_iter().next().unwrap()
}

/// The first error message for a rule with `opts`.
fn error(opts: &str) -> String {
    let text = format!("alert tcp any any -> any any ({opts} sid:1;)\n");
    let r = load_text(Path::new("t.rules"), &text, &LoadOptions::default());
    let e = r.errors().next().map(|d| d.message.clone());
    e.unwrap_or_else(|| panic!("{opts}: no error"))
}

/// Runs a table of (options, payload, expected) on bare packets.
fn table(cases: &[(&str, &[u8], bool)]) {
    for (i, (opts, payload, want)) in cases.iter().enumerate() {
        let r = rule(opts);
        assert_eq!(
            payload_match(&r, &Buffers::packet(payload)),
            *want,
            "case {i}: {opts} on {payload:?}"
        );
    }
}

#[test]
fn byte_test_table() {
    table(&[
        // sp_byte_check.c: binary big endian by default, `extracted OP value`.
        ("byte_test:2,>,0x100,0;", b"\x01\x01", true),
        ("byte_test:2,>,0x100,0;", b"\x00\xff", false),
        // `little`
        ("byte_test:2,=,0x0201,0,little;", b"\x01\x02", true),
        ("byte_test:2,=,0x0201,0;", b"\x01\x02", false),
        // `string` (extract.c string_extract, strtoul): dec, hex, oct.
        ("byte_test:3,>,99,0,string,dec;", b"123", true),
        ("byte_test:3,>,99,0,string,dec;", b"099", false),
        ("byte_test:2,=,255,0,string,hex;", b"ff", true),
        ("byte_test:3,=,8,0,string,oct;", b"010", true),
        ("byte_test:3,=,12,0,string;", b"12x", true), // digits only; default base 10
        ("byte_test:3,=,0,0,string;", b"abc", false), // no digit: the read fails
        // `relative`: from the end of the last content.
        (
            "content:\"AB\"; byte_test:1,=,0x7f,1,relative;",
            b"AB\x00\x7f",
            true,
        ),
        (
            "content:\"AB\"; byte_test:1,=,0x7f,1,relative;",
            b"AB\x7f\x00",
            false,
        ),
        // Negation: `!` alone and `!=` are "not equal"; `!>` inverts `>`.
        ("byte_test:1,!,5,0;", b"\x05", false),
        ("byte_test:1,!=,5,0;", b"\x06", true),
        ("byte_test:1,!>,5,0;", b"\x06", false),
        ("byte_test:1,!>,5,0;", b"\x05", true),
        // `&` and `^`: any bit in common / any bit different.
        ("byte_test:1,&,0x80,0;", b"\x81", true),
        ("byte_test:1,&,0x80,0;", b"\x01", false),
        ("byte_test:1,^,0x01,0;", b"\x01", false),
        ("byte_test:1,^,0x01,0;", b"\x03", true),
        ("byte_test:1,<=,5,0;", b"\x05", true),
        ("byte_test:1,>=,6,0;", b"\x05", false),
        // Out of bounds is no match, negated or not.
        ("byte_test:4,>,0,2;", b"\x01\x02\x03\x04", false),
        ("byte_test:4,!=,0,2;", b"\x01\x02\x03\x04", false),
        // Community sid 1:... `byte_test:3, >, 200, 1` (extract.c reads 3 binary bytes).
        ("byte_test:3,>,200,1;", b"\x00\x00\x00\xc9", true),
        ("byte_test:3,>,200,1;", b"\x00\x00\x00\xc8", false),
        // `bitmask`: masked, then shifted by the mask's trailing zeros.
        ("byte_test:2,=,3,0,bitmask 0x0f00;", b"\x03\x45", true),
        // A negative offset from the cursor.
        (
            "content:\"XY\"; byte_test:1,=,0x58,-2,relative;",
            b"..XY",
            true,
        ),
    ]);
}

#[test]
fn byte_jump_table() {
    table(&[
        // sp_byte_jump.c: the cursor lands past the bytes read plus the value.
        (
            "byte_jump:1,0; content:\"X\"; within:1;",
            b"\x02\xaa\xbbX",
            true,
        ),
        (
            "byte_jump:1,0; content:\"X\"; within:1;",
            b"\x03\xaa\xbbX",
            false,
        ),
        // `multiplier`
        (
            "byte_jump:1,0,multiplier 2; content:\"X\"; within:1;",
            b"\x01\xaa\xbbX",
            true,
        ),
        // `align`: the jump rounds up to 4.
        (
            "byte_jump:1,0,align; content:\"X\"; within:1;",
            b"\x01\xaa\xbb\xcc\xddX",
            true,
        ),
        (
            "byte_jump:1,0; content:\"X\"; within:1;",
            b"\x01\xaa\xbb\xcc\xddX",
            false,
        ),
        // `from_beginning`: from the buffer's start.
        (
            "byte_jump:1,1,from_beginning; content:\"X\"; within:1;",
            b"\xaa\x03\xbbX",
            true,
        ),
        // `post_offset` (positive and negative) is added after the jump.
        (
            "byte_jump:1,0,post_offset 2; content:\"X\"; within:1;",
            b"\x01\xaa\xbb\xccX",
            true,
        ),
        (
            "byte_jump:1,0,post_offset -1; content:\"X\"; within:1;",
            b"\x02\xaaX",
            true,
        ),
        // `from_end`
        (
            "byte_jump:0,0,from_end,post_offset -1; content:\"X\"; within:1;",
            b"abcX",
            true,
        ),
        // The landing point must be inside the buffer or at its end.
        ("byte_jump:1,0;", b"\x05\xaa", false),
        ("byte_jump:1,0;", b"\x01\xaa", true),
        // `string`: the digits consumed count as the bytes read.
        (
            "byte_jump:2,0,string,dec; content:\"X\"; within:1;",
            b"02abX",
            true,
        ),
        // `relative` after a content.
        (
            "content:\"LEN\"; byte_jump:1,0,relative; content:\"X\"; within:1;",
            b"LEN\x01aX",
            true,
        ),
        // A content before a relative byte_jump is retried at its next occurrence
        // (detection_options.c re-evaluation).
        (
            "content:\"L\"; byte_jump:1,0,relative; content:\"X\"; within:1;",
            b"L\x05L\x00X",
            true,
        ),
    ]);
}

#[test]
fn byte_extract_table() {
    table(&[
        // sp_byte_extract.c: a variable as `distance`; the cursor is past the extracted byte.
        (
            "byte_extract:1,0,len; content:\"X\"; distance:len; within:1;",
            b"\x02\xaa\xbbX",
            true,
        ),
        (
            "byte_extract:1,0,len; content:\"X\"; distance:len; within:1;",
            b"\x01\xaa\xbbX",
            false,
        ),
        // … as a byte_test value
        ("byte_extract:1,0,v; byte_test:1,=,v,1;", b"\x07\x07", true),
        ("byte_extract:1,0,v; byte_test:1,=,v,1;", b"\x07\x08", false),
        // … as depth and offset (sp_pattern_match.c depth_var / offset_var)
        (
            "byte_extract:1,0,d; content:\"ab\"; depth:d;",
            b"\x02ab",
            false,
        ),
        (
            "byte_extract:1,0,d; content:\"ab\"; depth:d;",
            b"\x03ab",
            true,
        ),
        (
            "byte_extract:1,0,o; content:\"Z\"; offset:o;",
            b"\x02ZZ",
            true,
        ),
        (
            "byte_extract:1,0,o; content:\"Z\"; offset:o;",
            b"\x02Za",
            false,
        ),
        // … as an isdataat offset, with `relative` and `multiplier`
        (
            "content:\"H\"; byte_extract:1,0,n,relative,multiplier 2; isdataat:n,relative;",
            b"H\x02abcd",
            false,
        ),
        (
            "content:\"H\"; byte_extract:1,0,n,relative,multiplier 2; isdataat:n,relative;",
            b"H\x02abcde",
            true,
        ),
        // `string` and `align 4`
        (
            "byte_extract:2,0,n,string,dec; byte_test:1,=,0x41,n;",
            b"05xxxA",
            true,
        ),
        (
            "byte_extract:1,0,n,align 4; byte_test:1,=,0x41,n;",
            b"\x01xxxA",
            true,
        ),
        // … as a byte_jump offset
        (
            "byte_extract:1,0,o; byte_jump:1,o; content:\"X\"; within:1;",
            b"\x02.\x01.X",
            true,
        ),
    ]);
}

#[test]
fn byte_math_table() {
    table(&[
        // sp_byte_math.c: result = extracted OPER rvalue.
        ("byte_math:bytes 1, offset 0, oper *, rvalue 2, result r; byte_test:1,=,r,1;", b"\x03\x06", true),
        ("byte_math:bytes 1, offset 0, oper -, rvalue 1, result r; content:\"X\"; offset:r; depth:1;", b"\x03\xaaX", true),
        ("byte_math:bytes 2, offset 0, oper >>, rvalue 8, result r; byte_test:1,=,r,2;", b"\x12\x34\x12", true),
        ("byte_math:bytes 1, offset 0, oper +, rvalue 1, result r, endian big; byte_test:1,=,r,1;", b"\x01\x02", true),
        // An rvalue variable of 0 with `/` is no match, never a crash.
        ("byte_extract:1,0,z; byte_math:bytes 1, offset 1, oper /, rvalue z, result r;", b"\x00\x05", false),
        ("byte_extract:1,0,z; byte_math:bytes 1, offset 1, oper /, rvalue z, result r;", b"\x01\x05", true),
    ]);
}

#[test]
fn isdataat_table() {
    table(&[
        // sp_isdataat.c: a byte exists at the offset.
        ("isdataat:3;", b"abcd", true),
        ("isdataat:3;", b"abc", false),
        ("content:\"ab\"; isdataat:2,relative;", b"abcd", false),
        ("content:\"ab\"; isdataat:2,relative;", b"abcde", true),
        // `!`: no byte there.
        ("content:\"ab\"; isdataat:!1,relative;", b"ab", true),
        ("content:\"ab\"; isdataat:!1,relative;", b"abcd", false),
    ]);
}

#[test]
fn pcre_table() {
    table(&[
        // sp_pcre.c with each modifier.
        ("pcre:\"/a.c/\";", b"xabc", true),
        ("pcre:\"/a.c/\";", b"ABC", false),
        ("pcre:\"/a.c/i\";", b"ABC", true),
        ("pcre:\"/a.c/\";", b"a\nc", false),
        ("pcre:\"/a.c/s\";", b"a\nc", true),
        ("pcre:\"/^b/\";", b"a\nb", false),
        ("pcre:\"/^b/m\";", b"a\nb", true),
        ("pcre:\"/a b c # comment/x\";", b"abc", true),
        // `A`: anchored where the search starts.
        ("pcre:\"/bc/A\";", b"abc", false),
        ("pcre:\"/bc/A\";", b"bcx", true),
        ("content:\"a\"; pcre:\"/bc/AR\";", b"abc", true),
        ("content:\"a\"; pcre:\"/bc/AR\";", b"axbc", false),
        // `E`: `$` only at the very end.
        ("pcre:\"/c$/\";", b"abc\n", true),
        ("pcre:\"/c$/E\";", b"abc\n", false),
        ("pcre:\"/c$/E\";", b"abc", true),
        // `G`: ungreedy. The greedy match ends past the X; the ungreedy one just before it.
        (
            "pcre:\"/a.+c/G\"; content:\"X\"; distance:0; within:1;",
            b"abcXc",
            true,
        ),
        (
            "pcre:\"/a.+c/\"; content:\"X\"; distance:0; within:1;",
            b"abcXc",
            false,
        ),
        // `R` after a content: the subject starts at the cursor, so `^` anchors there.
        ("content:\"GET\"; pcre:\"/^ \\/x/R\";", b"GET /x", true),
        ("content:\"GET\"; pcre:\"/^\\/x/R\";", b"GET /x", false),
        ("content:\"B\"; pcre:\"/A/R\";", b"AB", false),
        // The cursor moves to the end of the match.
        ("pcre:\"/ab+/\"; content:\"c\"; within:1;", b"abbbc", true),
        // Negated: must not match; the cursor stays.
        ("pcre:!\"/evil/\";", b"good", true),
        ("pcre:!\"/evil/\";", b"so evil", false),
        // An empty buffer: pcre_search fails, negated or not.
        ("pcre:!\"/x/\";", b"", false),
        // Escapes are the regex's: `\;` and `\"` reach PCRE as written.
        ("pcre:\"/a\\;b\\\"c/\";", b"a;b\"c", true),
        // `B` (rawbytes) reads the packet even after file_data.
        ("file_data; pcre:\"/abc/B\";", b"abc", true),
        // A search that reaches snort.conf's pcre_match_limit is no match, and pcre_search
        // says so before the negation: the negated option fails too.
        (
            "pcre:\"/(a+)+$/\";",
            &[b'a'; 40].iter().chain(b"!").copied().collect::<Vec<u8>>(),
            false,
        ),
        (
            "pcre:!\"/(a+)+$/\";",
            &[b'a'; 40].iter().chain(b"!").copied().collect::<Vec<u8>>(),
            false,
        ),
    ]);
}

#[test]
fn sticky_buffers_and_http() {
    // file_data switches following options to the body; pkt_data switches back.
    let r = rule("file_data; content:\"body\"; pkt_data; content:\"GET\";");
    let mut b = Buffers::packet(b"GET / HTTP/1.1\r\n\r\n");
    assert!(!payload_match(&r, &b), "body is not in the packet");
    b.set(Buffer::FileData, b"the body");
    assert!(payload_match(&r, &b));
    b.set(Buffer::Pkt, b"POST /");
    assert!(!payload_match(&r, &b), "pkt_data content reads the packet");

    // rawbytes on a content after file_data reads the packet.
    let r = rule("file_data; content:\"GET\"; rawbytes;");
    let mut b = Buffers::packet(b"GET /");
    b.set(Buffer::FileData, b"body");
    assert!(payload_match(&r, &b));

    // isdataat rawbytes after file_data.
    let r = rule("file_data; isdataat:5,rawbytes;");
    let mut b = Buffers::packet(b"abcdefg");
    b.set(Buffer::FileData, b"ab");
    assert!(payload_match(&r, &b));
    let r = rule("file_data; isdataat:5;");
    assert!(!payload_match(&r, &b));

    // HTTP buffers: absent on a bare packet, matched when the inspector filled them.
    let r = rule("content:\"/admin\"; http_uri; content:\"Mozilla\"; http_header; nocase;");
    assert!(!payload_match(
        &r,
        &Buffers::packet(b"GET /admin HTTP/1.1\r\nUser-Agent: Mozilla")
    ));
    let mut b = Buffers::packet(b"GET /admin HTTP/1.1\r\n");
    b.set(Buffer::Uri, b"/admin/x");
    b.set(Buffer::Header, b"User-Agent: mozilla/5.0\r\n");
    assert!(payload_match(&r, &b));
    b.set(Buffer::Header, b"User-Agent: curl\r\n");
    assert!(!payload_match(&r, &b));

    // uricontent = content in the URI; urilen reads the raw URI by default, the normalized
    // one with `norm`; `N<>M` is inclusive (sp_urilen_check.c URILEN_CHECK_RG).
    let r = rule("uricontent:\"cmd.exe\"; urilen:5<>20;");
    let mut b = Buffers::packet(b"");
    b.set(Buffer::Uri, b"/scripts/cmd.exe");
    assert!(!payload_match(&r, &b), "no raw URI: urilen fails");
    b.set(Buffer::RawUri, b"/scripts/cmd.exe");
    assert!(payload_match(&r, &b));
    b.set(Buffer::RawUri, b"/scripts/..%2fcmd.exe");
    assert!(!payload_match(&r, &b));
    let r = rule("urilen:16,norm;");
    assert!(payload_match(&r, &b));

    // pcre buffer flags: U = normalized URI, H = header, M = method, P = client body.
    for (opts, buf) in [
        ("pcre:\"/^\\/a/U\";", Buffer::Uri),
        ("pcre:\"/^\\/a/I\";", Buffer::RawUri),
        ("pcre:\"/^\\/a/H\";", Buffer::Header),
        ("pcre:\"/^\\/a/D\";", Buffer::RawHeader),
        ("pcre:\"/^\\/a/M\";", Buffer::Method),
        ("pcre:\"/^\\/a/C\";", Buffer::Cookie),
        ("pcre:\"/^\\/a/K\";", Buffer::RawCookie),
        ("pcre:\"/^\\/a/P\";", Buffer::ClientBody),
        ("pcre:\"/^\\/a/S\";", Buffer::StatCode),
        ("pcre:\"/^\\/a/Y\";", Buffer::StatMsg),
    ] {
        let r = rule(opts);
        let mut b = Buffers::packet(b"/a");
        assert!(!payload_match(&r, &b), "{opts} on a bare packet");
        b.set(buf, b"/a");
        assert!(payload_match(&r, &b), "{opts} with {buf:?}");
    }

    // The content's buffer is what the fast pattern says to search in.
    let r = rule("content:\"a\"; content:\"/longer\"; http_uri;");
    assert_eq!(r.fast_pattern().map(|c| c.buffer), Some(Buffer::Uri));
    // Not a payload fast pattern: the URI prefilter keys it, on rebuilt messages only.
    assert!(r.fast_pattern().is_some_and(|c| c.buffer.is_http()));
    // http_cookie cannot be a fast pattern (fpcreate.c): the packet content is chosen.
    let r = rule("content:\"a\"; content:\"session=\"; http_cookie;");
    assert_eq!(
        r.fast_pattern().map(|c| c.pattern.as_slice()),
        Some(&b"a"[..])
    );
}

#[test]
fn flow_stream_keywords_load() {
    let r = rule("flow:to_server,established,only_stream;");
    assert_eq!(r.flow.and_then(|f| f.stream), Some(true));
    let r = rule("flow:no_stream;");
    assert_eq!(r.flow.and_then(|f| f.stream), Some(false));
}

/// Evaluation recurses once per payload test: a rule holding more than
/// `MAX_PAYLOAD_OPS` is refused at load, never met at match time.
#[test]
fn payload_tests_per_rule_are_bounded() {
    use nsm_sensor::rules::options::MAX_PAYLOAD_OPS;
    let at_limit = "content:\"a\"; ".repeat(MAX_PAYLOAD_OPS);
    assert_eq!(rule(&at_limit).payload.len(), MAX_PAYLOAD_OPS);
    let over = "isdataat:1; ".repeat(MAX_PAYLOAD_OPS + 1);
    assert!(
        error(&over).contains("more than 256 payload tests"),
        "{}",
        error(&over)
    );
}

#[test]
fn parse_errors_say_what_was_expected() {
    // (options, part of the message)
    let cases = [
        (
            "content:\"a\"; http_uri; http_header;",
            "expected one buffer modifier per content",
        ),
        (
            "content:\"a\"; rawbytes; http_uri;",
            "already has a buffer (rawbytes)",
        ),
        ("http_uri;", "needs a preceding 'content'"),
        ("pcre:\"/x/UR\";", "'R' (relative) with an HTTP buffer flag"),
        ("pcre:\"/a(/\";", "regex does not compile"),
        ("pcre:\"/a/Q\";", "unknown regex flag 'Q'"),
        ("pcre:\"/a/UH\";", "two buffer flags"),
        ("pcre:\"a\";", "expected '/'"),
        ("byte_test:4,~,1,0;", "bad operator"),
        ("byte_test:11,=,1,0,string;", "expected 1 to 10"),
        ("byte_test:5,=,1,0;", "expected 1 to 4"),
        (
            "byte_test:1,=,1;",
            "expected 'bytes, operator, value, offset",
        ),
        (
            "byte_test:1,=,nope,0;",
            "not a byte_extract or byte_math variable",
        ),
        ("byte_test:1,=,1,0,sideways;", "unknown modifier 'sideways'"),
        (
            "byte_jump:1,0,multiplier 0;",
            "multiplier 0, expected 1 to 65535",
        ),
        (
            "byte_jump:1,0,from_beginning,from_end;",
            "exclude each other",
        ),
        (
            "byte_extract:1,0,a; byte_extract:1,0,b; byte_extract:1,0,c;",
            "at most 2 byte_extract",
        ),
        ("byte_extract:1,0,a; byte_extract:1,1,a;", "already defined"),
        ("byte_extract:1,0,9x;", "bad variable name"),
        ("byte_extract:1,0,n,align 3;", "align 3, expected 2 or 4"),
        (
            "byte_math:bytes 1, offset 0, oper %, rvalue 1, result r;",
            "bad oper '%'",
        ),
        (
            "byte_math:bytes 1, offset 0, oper /, rvalue 0, result r;",
            "rvalue 0 with oper /",
        ),
        (
            "byte_math:bytes 1, offset 0;",
            "expected 'bytes N, offset N, oper O, rvalue V, result NAME'",
        ),
        ("isdataat:!;", "expected '[!]N"),
        ("isdataat:1,sideways;", "expected relative or rawbytes"),
        ("urilen:5,sideways;", "expected raw or norm"),
        ("urilen:9<>5;", "reversed"),
        (
            "content:\"ab\"; distance:nope;",
            "not a byte_extract or byte_math variable",
        ),
        ("pkt_data:1;", "takes no value"),
        ("flow:only_stream,no_stream;", "conflicts"),
    ];
    for (opts, want) in cases {
        let got = error(opts);
        assert!(
            got.contains(want),
            "{opts}: {got:?} should contain {want:?}"
        );
    }
}

#[test]
fn dce_and_tier3_options_skip_with_a_reason() {
    for (opts, reason) in [
        (
            "byte_test:4,>,1,0,relative,dce;",
            "option 'byte_test:...,dce' not supported",
        ),
        (
            "byte_jump:4,0,relative,dce;",
            "option 'byte_jump:...,dce' not supported",
        ),
        (
            "content:\"a\"; http_encode:uri,utf8;",
            "option 'http_encode' not supported",
        ),
        (
            "base64_decode; base64_data; content:\"a\";",
            "option 'base64_decode' not supported",
        ),
        (
            "file_data:mime; content:\"a\";",
            "option 'file_data:mime' not supported",
        ),
        ("flow:no_frag;", "option 'flow:no_frag' not supported"),
    ] {
        let text = format!("alert tcp any any -> any any ({opts} sid:1;)\n");
        let r = load_text(Path::new("t.rules"), &text, &LoadOptions::default());
        assert_eq!(r.errors().count(), 0, "{opts}");
        assert_eq!(
            r.files[0].skipped.get(reason),
            Some(&1),
            "{opts}: {:?}",
            r.files[0].skipped
        );
    }
}

mod common;

/// Rules through the whole engine on one TCP packet (prefilter or header index → options):
/// the sids that alert.
fn engine_sids(rules: &str, payload: &[u8]) -> Vec<u32> {
    use nsm_sensor::decode::{decode, linktype, DecodeOptions};
    use nsm_sensor::detect::engine::{Engine, Hit};
    use nsm_sensor::detect::{DetectOptions, RuleSet};
    let r = load_text(Path::new("t.rules"), rules, &LoadOptions::default());
    assert_eq!(r.errors().count(), 0, "{rules}");
    assert_eq!(r.skipped(), 0, "{:?}", r.files[0].skipped);
    let set = RuleSet::compile(r.model);
    let mut engine = Engine::new(&DetectOptions::from_config(&Default::default()));
    let f = common::frame(
        [192, 168, 1, 10],
        [203, 0, 113, 5],
        common::L4::Tcp(40000, 80, 0x18, 1000, 2000),
        payload,
    );
    let pkt = decode(
        linktype::ETHERNET,
        1_700_000_000,
        0,
        f.len() as u32,
        &f,
        DecodeOptions { checksums: true },
    )
    .expect("decodes");
    let mut hits: Vec<Hit> = Vec::new();
    engine.inspect(&set, &pkt, &mut hits);
    let mut sids: Vec<u32> = hits
        .iter()
        .map(|h| set.rules()[h.rule as usize].sid)
        .collect();
    sids.sort_unstable();
    sids
}

#[test]
fn engine_evaluates_payload_options_on_captured_packets() {
    // (rule options, payload, alerts) — each rule alone, so the event queue's limits play no
    // part.
    let get_php: &[u8] = b"GET /index.php HTTP/1.1\r\n\r\n";
    let get_asp: &[u8] = b"GET /x.asp HTTP/1.1\r\n";
    let cases: &[(&str, &[u8], bool)] = &[
        // pcre R after a content: the subject starts at the cursor (sp_pcre.c).
        (
            r#"content:"GET "; pcre:"/^\/[a-z]+\.php/R";"#,
            get_php,
            true,
        ),
        (
            r#"content:"GET "; pcre:"/^\/[a-z]+\.php/R";"#,
            get_asp,
            false,
        ),
        // A captured packet is not a reassembled stream message (sp_clientserver.c).
        (r#"flow:only_stream; content:"GET ";"#, get_php, false),
        (r#"flow:no_stream; content:"GET ";"#, get_php, true),
        // No HTTP buffers on a bare packet; the rule's fast pattern is in the URI, so the
        // header index (not the payload prefilter) makes it a candidate.
        (r#"content:"/index.php"; http_uri;"#, get_php, false),
        // A rule without content is found through the header index.
        (r#"pcre:"/index\.php/";"#, get_php, true),
        (r#"pcre:"/index\.php/";"#, get_asp, false),
        (
            r#"content:"GET "; byte_test:1,=,0x2f,0,relative;"#,
            get_php,
            true,
        ),
        (r#"content:"GET "; pcre:!"/\.asp/";"#, get_php, true),
        (r#"content:"GET "; pcre:!"/\.asp/";"#, get_asp, false),
        (r#"content:"GET "; isdataat:!100,relative;"#, get_php, true),
    ];
    for (opts, payload, want) in cases {
        let rule = format!("alert tcp any any -> any 80 (msg:\"t\"; {opts} sid:9;)\n");
        let got = engine_sids(&rule, payload) == [9];
        assert_eq!(
            got,
            *want,
            "{opts} on {:?}",
            String::from_utf8_lossy(payload)
        );
    }
}

/// Counts the allocations of threads that asked for it (other tests run in parallel), for
/// [`pcre_evaluation_allocates_nothing_when_warm`].
struct Counting;

static ALLOCS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

thread_local! {
    static COUNT_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        if COUNT_HERE.try_with(|c| c.get()).unwrap_or(false) {
            ALLOCS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on as is.
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        // SAFETY: as above.
        unsafe { std::alloc::System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn pcre_evaluation_allocates_nothing_when_warm() {
    // The pcre2 crate keeps match data per regex and thread: after the first evaluation,
    // matching (with retries, captures of the cursor, byte options) allocates nothing.
    let r = rule(
        r#"content:"a"; pcre:"/b+c/R"; byte_extract:1,0,n,relative; byte_test:1,>,n,0; isdataat:!50,relative;"#,
    );
    let payloads: [&[u8]; 3] = [b"xabbbc\x01\x05", b"abcab", b"no match here"];
    let results: Vec<bool> = payloads
        .iter()
        .map(|p| payload_match(&r, &Buffers::packet(p)))
        .collect();
    assert_eq!(results, [true, false, false]);
    COUNT_HERE.with(|c| c.set(true));
    for _ in 0..100 {
        for p in payloads {
            std::hint::black_box(payload_match(&r, &Buffers::packet(p)));
        }
    }
    COUNT_HERE.with(|c| c.set(false));
    assert_eq!(ALLOCS.load(std::sync::atomic::Ordering::Relaxed), 0);
}
