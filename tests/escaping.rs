//! Untrusted text cannot forge records: rule `msg`, `reference` and `metadata` text with
//! quotes, backslashes, line continuations, control bytes and Unicode line separators, and
//! packets whose bytes hold newlines, quotes and fake alert lines. Each alert must be exactly
//! one `alert.fast` line, one `alert` record and one EVE line that parses as JSON.

mod common;

use std::fs;
use std::path::Path;

use common::{bin, expect_code, text};

fn csum(data: &[u8], mut sum: u32) -> u16 {
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet + IPv4 + `proto` (6, 17 or 1) carrying `payload`, checksums valid.
fn frame(proto: u8, payload: &[u8]) -> Vec<u8> {
    let (src, dst) = ([192, 168, 0, 31], [161, 53, 178, 240]);
    let mut l4 = match proto {
        6 => {
            let mut t = vec![0u8; 20];
            t[0..2].copy_from_slice(&2253u16.to_be_bytes()); // source port
            t[2..4].copy_from_slice(&6667u16.to_be_bytes()); // destination port
            t[12] = 0x50; // data offset 5
            t[13] = 0x18; // PSH ACK
            t[14..16].copy_from_slice(&0xfc00u16.to_be_bytes()); // window
            t
        }
        17 => {
            let mut u = vec![0u8; 8];
            u[0..2].copy_from_slice(&5353u16.to_be_bytes());
            u[2..4].copy_from_slice(&53u16.to_be_bytes());
            u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            u
        }
        _ => vec![8, 0, 0, 0, 0, 1, 0, 2], // ICMP echo request, id 1, seq 2
    };
    l4.extend_from_slice(payload);
    let (off, pseudo) = match proto {
        6 => (16, true),
        17 => (6, true),
        _ => (2, false),
    };
    let mut sum = 0;
    if pseudo {
        sum = u32::from(csum(&[&src[..], &dst[..]].concat(), 0) ^ 0xffff);
        sum += u32::from(proto) + l4.len() as u32;
    }
    let c = csum(&l4, sum);
    l4[off..off + 2].copy_from_slice(&c.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 128, proto, 0, 0];
    ip[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = csum(&ip, 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = vec![0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00];
    f.extend_from_slice(&ip);
    f.extend_from_slice(&l4);
    f
}

fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        b.extend_from_slice(&(1_172_053_074 + i as u32).to_le_bytes());
        b.extend_from_slice(&366_236u32.to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(f);
    }
    fs::write(path, b).unwrap();
}

/// Rules whose text tries to break out of its record. Raw control bytes are in the file
/// itself (ESC, BEL, CR, NUL-free), plus escapes the rule language knows.
fn hostile_rules() -> String {
    [
        r#"alert tcp any any -> any 6667 (msg:"quote \" backslash \\ semicolon \; end"; classtype:trojan-activity; reference:url,example.org/"x"; sid:1001; rev:1;)"#,
        "alert tcp any any -> any 6667 (msg:\"raw\x1b[31mESC\x07BEL\rCR\x0bVT\x7fDEL\"; sid:1002;)",
        "alert udp any any -> any 53 (msg:\"unicode \u{2028}LS \u{2029}PS \u{85}NEL \u{feff}BOM\"; metadata:key va\\\"lue, k2 v\\\\2; sid:1003;)",
        "alert icmp any any -> any any (msg:\"continued \\\n[**] [1:1:1] forged [**] \\\n{\\\"event_type\\\":\\\"alert\\\"}\"; sid:1004;)",
        r#"alert ip any any -> any any (msg:"newline escape \n and tab \t and \r"; sid:1005;)"#,
        r#"alert ip any any -> any any (msg:"}\"}\n{\"event_type\":\"alert\",\"x\":\""; reference:cve,"2007\n1"; sid:1006;)"#,
    ]
    .join("\n")
        + "\n"
}

#[test]
fn hostile_text_cannot_forge_records() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("hostile.rules");
    fs::write(&rules, hostile_rules()).unwrap();
    let payloads: [&[u8]; 4] = [
        b"PRIVMSG #c :\"hi\"\r\n[**] [1:2404000:602] forged [**]\r\n",
        b"\n{\"event_type\":\"alert\",\"src_ip\":\"6.6.6.6\"}\n",
        b"\\\"\x00\x1b[2J\x07\n\n\n",
        b"",
    ];
    let mut frames = Vec::new();
    for p in payloads {
        for proto in [6, 17, 1] {
            frames.push(frame(proto, p));
        }
    }
    let pcap = tmp.path().join("hostile.pcap");
    write_pcap(&pcap, &frames);
    let log = tmp.path().join("log");
    let out = bin()
        .args(["replay", "-r"])
        .arg(&rules)
        .arg("-l")
        .arg(&log)
        .arg("--no-ring")
        .arg(&pcap)
        .output()
        .unwrap();
    expect_code(&out, 0);
    let stdout = text(&out.stdout);
    let alerts: usize = stdout
        .split(" alert")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("summary: {stdout}"));
    // Which hostile rules loaded (the parser may reject some, each with a diagnostic).
    let loaded_sids: Vec<u32> = {
        let eve = fs::read_to_string(log.join("eve.json")).unwrap();
        let mut v: Vec<u32> = eve
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["alert"]["signature_id"]
                    .as_u64()
                    .unwrap() as u32
            })
            .collect();
        v.sort();
        v.dedup();
        v
    };
    assert!(alerts >= 12, "alerts: {alerts}\n{}", text(&out.stderr));
    assert!(
        loaded_sids.len() >= 4,
        "hostile rules that alerted: {loaded_sids:?}\n{}",
        text(&out.stderr)
    );

    // alert.fast: one line per alert, each a well-formed record.
    let fast = fs::read_to_string(log.join("alert.fast")).unwrap();
    assert!(fast.ends_with('\n'));
    assert_eq!(fast.lines().count(), alerts, "alert.fast:\n{fast}");
    for l in fast.lines() {
        assert!(l.starts_with("02/21-10:1"), "forged or broken line: {l:?}");
        assert!(
            l.contains("  [**] [1:100") && l.contains(" [**] ") && l.contains(" -> "),
            "{l:?}"
        );
        assert!(
            !l.chars().any(|c| c.is_control()),
            "control character in {l:?}"
        );
        assert!(!l.contains('\u{2028}') && !l.contains('\u{2029}'), "{l:?}");
    }

    // alert: records separated by one blank line, each starting with [**] [1:100…].
    let full = fs::read_to_string(log.join("alert")).unwrap();
    assert!(full.ends_with("\n\n"));
    let records: Vec<&str> = full.trim_end_matches('\n').split("\n\n").collect();
    assert_eq!(records.len(), alerts, "alert:\n{full}");
    for r in &records {
        assert!(r.starts_with("[**] [1:100"), "record: {r:?}");
        let mut lines = r.lines();
        assert!(lines.next().unwrap().ends_with(" [**]"), "record: {r:?}");
        assert!(
            lines.next().unwrap().starts_with("[Classification: ") || r.contains("\n[Priority: "),
            "record: {r:?}"
        );
        for l in r.lines() {
            assert!(
                !l.chars().any(|c| c.is_control()),
                "control character in {l:?}"
            );
        }
    }

    // eve.json: one object per line, the signature is the msg as loaded, no raw controls.
    let eve = fs::read_to_string(log.join("eve.json")).unwrap();
    assert_eq!(eve.lines().count(), alerts);
    for l in eve.lines() {
        // Nothing a line splitter (Python's str.splitlines, a terminal) could act on.
        assert!(
            !l.chars()
                .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'),
            "raw control character or line separator in {l:?}"
        );
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["event_type"], "alert");
        assert!(v.get("x").is_none(), "forged key in {l}");
        assert!(
            v["src_ip"] == "192.168.0.31" || v["dest_ip"] == "192.168.0.31",
            "{l}"
        );
    }
}

/// The msg of rule 1001 arrives unescaped in EVE and alert.fast (\" → ", \\ → \, \; → ;).
#[test]
fn escaped_quote_backslash_semicolon_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("q.rules");
    fs::write(&rules, hostile_rules().lines().next().unwrap()).unwrap();
    let pcap = tmp.path().join("q.pcap");
    write_pcap(&pcap, &[frame(6, b"x")]);
    let log = tmp.path().join("log");
    let out = bin()
        .args(["replay", "-r"])
        .arg(&rules)
        .arg("-l")
        .arg(&log)
        .arg("--no-ring")
        .arg(&pcap)
        .output()
        .unwrap();
    expect_code(&out, 0);
    let eve = fs::read_to_string(log.join("eve.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(eve.lines().next().unwrap()).unwrap();
    assert_eq!(
        v["alert"]["signature"],
        "quote \" backslash \\ semicolon ; end"
    );
    let fast = fs::read_to_string(log.join("alert.fast")).unwrap();
    assert!(
        fast.contains("[**] [1:1001:1] quote \" backslash \\ semicolon ; end [**]"),
        "{fast}"
    );
}

/// No shell-outs in the product: `std::process::Command` (or a `Command::new`) appears
/// nowhere under `sensor/` outside its unit tests (a file's `#[cfg(test)]` module, which ends
/// it, may start a process to have a pid to look at).
#[test]
fn no_shell_outs_in_the_product() {
    fn walk(dir: &Path, hits: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, hits);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let t = fs::read_to_string(&p).unwrap();
                let lines: Vec<&str> = t.lines().collect();
                for (i, l) in lines.iter().enumerate() {
                    let next = lines.get(i + 1).map_or("", |n| n.trim());
                    if l.trim() == "#[cfg(test)]" && next.starts_with("mod ") && next.ends_with('{')
                    {
                        break;
                    }
                    if l.contains("process::Command")
                        || l.contains("Command::new")
                        || l.contains("libc::system")
                        || l.contains("libc::exec")
                    {
                        hits.push(format!("{}:{}: {l}", p.display(), i + 1));
                    }
                }
            }
        }
    }
    let mut hits = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("sensor"),
        &mut hits,
    );
    assert!(
        hits.is_empty(),
        "shell-outs in the product:\n{}",
        hits.join("\n")
    );
}
