//! Helpers shared by the integration tests: the binary, the shared data folder, temp dirs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test: the one this build made, or the one `NSM_SENSOR_BIN` names (to see
/// a regression test fail on a build from before its fix).
pub fn exe() -> String {
    std::env::var("NSM_SENSOR_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_nsm-sensor").to_string())
}

/// The binary under test ([`exe`]), with `TZ=UTC`.
pub fn bin() -> Command {
    let mut c = Command::new(exe());
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

/// Internet checksum over `data` (ones' complement sum).
pub fn csum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for c in chunks {
        for &b in *c {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Transport of a generated frame.
#[derive(Debug, Clone, Copy)]
pub enum L4 {
    /// TCP with ports, flags, seq, ack.
    Tcp(u16, u16, u8, u32, u32),
    /// UDP with ports.
    Udp(u16, u16),
    /// ICMP echo request (type 8) with id and seq.
    Echo(u16, u16),
}

/// An Ethernet/IPv4 frame with valid checksums.
pub fn frame(src: [u8; 4], dst: [u8; 4], l4: L4, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    let proto = match l4 {
        L4::Tcp(sp, dp, flags, seq, ack) => {
            t.extend_from_slice(&sp.to_be_bytes());
            t.extend_from_slice(&dp.to_be_bytes());
            t.extend_from_slice(&seq.to_be_bytes());
            t.extend_from_slice(&ack.to_be_bytes());
            t.extend_from_slice(&[0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
            6u8
        }
        L4::Udp(sp, dp) => {
            t.extend_from_slice(&sp.to_be_bytes());
            t.extend_from_slice(&dp.to_be_bytes());
            t.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            t.extend_from_slice(&[0, 0]);
            17
        }
        L4::Echo(id, seq) => {
            t.extend_from_slice(&[8, 0, 0, 0]);
            t.extend_from_slice(&id.to_be_bytes());
            t.extend_from_slice(&seq.to_be_bytes());
            1
        }
    };
    t.extend_from_slice(payload);
    let l4len = t.len() as u16;
    let c = if proto == 1 {
        csum(&[&t])
    } else {
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src);
        pseudo.extend_from_slice(&dst);
        pseudo.extend_from_slice(&[0, proto]);
        pseudo.extend_from_slice(&l4len.to_be_bytes());
        let c = csum(&[&pseudo, &t]);
        if proto == 17 && c == 0 {
            0xffff
        } else {
            c
        }
    };
    let at = match proto {
        6 => 16,
        17 => 6,
        _ => 2,
    };
    t[at..at + 2].copy_from_slice(&c.to_be_bytes());
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&(20 + l4len).to_be_bytes());
    ip.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, proto, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = csum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = vec![
        0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0x66, 0x77, 0x88, 0x99, 0xaa, 0x08, 0,
    ];
    f.extend_from_slice(&ip);
    f.extend_from_slice(&t);
    f
}

/// Writes a classic pcap (Ethernet, µs) of `(sec, usec, frame)` records.
pub fn write_pcap(path: &Path, frames: &[(i64, u32, Vec<u8>)]) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes()).unwrap();
    w.write_all(&2u16.to_le_bytes()).unwrap();
    w.write_all(&4u16.to_le_bytes()).unwrap();
    w.write_all(&[0; 8]).unwrap();
    w.write_all(&65535u32.to_le_bytes()).unwrap();
    w.write_all(&1u32.to_le_bytes()).unwrap();
    for (s, u, f) in frames {
        w.write_all(&(*s as u32).to_le_bytes()).unwrap();
        w.write_all(&u.to_le_bytes()).unwrap();
        w.write_all(&(f.len() as u32).to_le_bytes()).unwrap();
        w.write_all(&(f.len() as u32).to_le_bytes()).unwrap();
        w.write_all(f).unwrap();
    }
}
