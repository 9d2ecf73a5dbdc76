//! Fuzz-style robustness: ≥100,000 mutated rule lines from the ET files (byte flips,
//! truncations, inserted brackets/quotes/semicolons, huge numbers) through parse + compile,
//! and mutated TOML configs through validation. Nothing may panic. Seeded, so repeatable.

use std::path::Path;

use nsm_sensor::config::Config;
use nsm_sensor::rules::load::load_text;
use nsm_sensor::rules::LoadOptions;

/// xorshift64*: small, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Shortens bracketed lists to their first few members so a line stays small.
fn shorten(line: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut members = 0;
    for c in line.chars() {
        match c {
            '[' => {
                depth += 1;
                members = 0;
            }
            ']' => depth -= 1,
            ',' if depth > 0 => members += 1,
            _ => {}
        }
        if depth > 0 && members >= 4 && c != ']' {
            continue;
        }
        out.push(c);
    }
    out
}

const INSERTS: &[&str] = &[
    "[",
    "]",
    "\"",
    ";",
    "(",
    ")",
    "\\",
    ":",
    "|",
    "!",
    ",",
    "$",
    "$HOME_NET",
    "99999999999999999999999",
    "-1",
    "4294967296",
    "65536",
    "/",
    "/129",
    "::",
    "<>",
    "->",
    " ",
    "\\;",
    "content:\"|zz|\";",
    "flowbits:",
    "flags:",
    "threshold:",
    "\n",
    "\u{00e9}",
];

fn mutate(rng: &mut Rng, line: &str) -> String {
    let mut b = line.as_bytes().to_vec();
    for _ in 0..=rng.below(3) {
        match rng.below(5) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 if !b.is_empty() => {
                let n = rng.below(b.len());
                b.truncate(n);
            }
            2 | 3 => {
                let i = rng.below(b.len() + 1);
                let ins = INSERTS[rng.below(INSERTS.len())].as_bytes();
                b.splice(i..i, ins.iter().copied());
            }
            _ if !b.is_empty() => {
                // Replace a run of digits with a huge number.
                let i = rng.below(b.len());
                if let Some(j) = b[i..].iter().position(u8::is_ascii_digit) {
                    let at = i + j;
                    let end = b[at..]
                        .iter()
                        .position(|c| !c.is_ascii_digit())
                        .map_or(b.len(), |k| at + k);
                    b.splice(at..end, b"184467440737095516160".iter().copied());
                }
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn mutated_rule_lines_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/rules/et");
    let mut seeds = Vec::new();
    for f in [
        "emerging-botcc.rules",
        "emerging-drop.rules",
        "emerging-tor.rules",
        "emerging-scan.rules",
        "emerging-botcc.portgrouped.rules",
        "emerging-chat.rules",
    ] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        seeds.extend(text.lines().filter(|l| l.starts_with("alert")).map(shorten));
    }
    assert!(!seeds.is_empty());
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let opts = LoadOptions::default();
    let mut lines = 0;
    let mut errors = 0;
    while lines < 100_000 {
        let mut batch = String::new();
        for _ in 0..2000 {
            let l = &seeds[rng.below(seeds.len())];
            batch.push_str(&mutate(&mut rng, l));
            batch.push('\n');
            lines += 1;
        }
        let r = load_text(Path::new("fuzz.rules"), &batch, &opts);
        errors += r.errors().count();
        for e in r.errors() {
            assert!(e.line >= 1 && e.col >= 1, "{e}");
        }
    }
    assert!(errors > 0);
}

#[test]
fn mutated_configs_never_panic() {
    let base = r#"[capture]
interface = "eth0"
snaplen = 65535
promisc = true
[rules]
files = ["rules/a.rules", "rules"]
[vars]
HOME_NET = "[10.0.0.0/8]"
[detect]
checksum_mode = "all"
[output]
timestamps = "local"
flush_ms = 1000
[ring]
files = 10
file_size_mb = 100
prefix = "nsm"
[daemon]
watchdog = true
"#;
    assert!(Config::from_str(base, Path::new("s.toml")).is_ok());
    let mut rng = Rng(0x70_6d1);
    for _ in 0..5000 {
        let text = mutate(&mut rng, base);
        if let Err(errs) = Config::from_str(&text, Path::new("s.toml")) {
            assert!(!errs.is_empty());
            for e in errs {
                assert!(e.line >= 1 && e.col >= 1, "{e}");
            }
        }
    }
}
