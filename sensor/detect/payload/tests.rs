//! Table tests of the header tests and the payload program.

use super::*;

fn c(p: &str) -> Content {
    Content {
        pattern: p.as_bytes().to_vec(),
        ..Content::default()
    }
}

#[test]
fn content_table() {
    let nocase = |mut x: Content| {
        x.nocase = true;
        x
    };
    let off = |mut x: Content, o: i32, d: Option<i32>| {
        x.offset = Some(o);
        x.depth = d;
        x
    };
    let rel = |mut x: Content, dist: Option<i32>, within: Option<i32>| {
        x.distance = dist;
        x.within = within;
        x
    };
    let not = |mut x: Content| {
        x.negated = true;
        x
    };
    // (contents, payload, expected) — one line a case.
    let cases: Vec<(Vec<Content>, &str, bool)> = vec![
        (vec![c("USER")], "USER root", true),
        (vec![c("user")], "USER root", false),
        (vec![nocase(c("user"))], "USER root", true),
        (vec![off(c("root"), 5, None)], "USER root", true),
        (vec![off(c("root"), 6, None)], "USER root", false),
        (vec![off(c("USER"), 0, Some(4))], "USER root", true),
        (vec![off(c("USER"), 0, Some(3))], "USER root", false),
        (vec![c("A"), rel(c("B"), Some(0), Some(1))], "AB", true),
        (vec![c("A"), rel(c("B"), Some(1), None)], "AB", false),
        (vec![c("A"), rel(c("C"), Some(1), Some(1))], "ABC", true),
        // Backtracking: the first "A" fails the relative test, the second succeeds.
        (vec![c("A"), rel(c("B"), Some(0), Some(1))], "AxAB", true),
        (vec![c("A"), rel(c("B"), None, Some(2))], "AxxB", false),
        (vec![not(c("evil"))], "good", true),
        (vec![not(c("evil"))], "so evil", false),
        (
            vec![c("GET"), not(rel(c("Host"), Some(0), None))],
            "GET / HTTP/1.0",
            true,
        ),
        (
            vec![c("GET"), not(rel(c("Host"), Some(0), None))],
            "GET / Host: x",
            false,
        ),
        (vec![c("ab"), rel(c("ab"), Some(-2), Some(2))], "ab", true), // negative distance
        (vec![c("|")], "", false),
    ];
    for (i, (cs, payload, want)) in cases.iter().enumerate() {
        assert_eq!(
            contents_match(cs, payload.as_bytes()),
            *want,
            "case {i}: {payload:?}"
        );
    }
}

#[test]
fn cmp_table() {
    let cases = [
        (Cmp::Eq(5), 5, true),
        (Cmp::Ne(5), 5, false),
        (Cmp::Lt(5), 4, true),
        (Cmp::Gt(5), 5, false),
        (Cmp::Between(1, 5), 5, false),
        (Cmp::BetweenIncl(1, 5), 5, true),
    ];
    for (c, x, want) in cases {
        assert_eq!(cmp(c, x), want, "{c:?} {x}");
    }
}
