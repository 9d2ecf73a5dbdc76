//! Helpers shared by the integration tests: the binary, the shared data folder, temp dirs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built `nsm-sensor` binary.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nsm-sensor"));
    c.env("TZ", "UTC");
    c
}

/// `../shared/data` beside the repository.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the command, returning its output; panics with stderr when it could not start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("start nsm-sensor")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts the exit code, showing stdout and stderr otherwise.
pub fn expect_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Whether an external tool is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Validates every line of an EVE file against Suricata's schema with python3's jsonschema.
/// Returns the number of lines checked.
pub fn validate_eve(path: &Path) -> usize {
    let schema = shared().join("eve-schema/schema.json");
    let script = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
v = jsonschema.Draft7Validator(schema)
n = 0
for line in open(sys.argv[2]):
    if not line.strip():
        continue
    obj = json.loads(line)
    errs = list(v.iter_errors(obj))
    if errs:
        print("invalid:", line.strip(), [e.message for e in errs], file=sys.stderr)
        sys.exit(1)
    n += 1
print(n)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&schema)
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "EVE schema validation failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().parse().expect("count")
}
