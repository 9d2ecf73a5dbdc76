//! `carve --community-id` end to end: a generated capture with two TCP conversations and a
//! UDP one, interleaved, is replayed into a ring with a rule that alerts on one; the alert's
//! eve.json `community_id` is carved out of the ring, and the real `tcpdump -r` must show
//! exactly that conversation's packets (the same lines as tcpdump's own 5-tuple filter over
//! the input). The conversations use the tuples of the community-id-spec's baseline data, so
//! the IDs are the spec's published values, not ones this code computed.

mod common;

use std::path::Path;
use std::process::Command;

use common::{bin, expect_code, frame, run, text, validate_eve, write_pcap, L4};

/// community-id-spec `baseline/README.md`, "Default settings", TCP row:
/// 1.2.3.4:1122 <-> 5.6.7.8:3344.
const ID_A: &str = "1:wCb3OG7yAFWelaUydu0D+125CLM=";
/// `baseline/baseline_deflt.json`: TCP 128.232.110.120:34855 <-> 66.35.250.204:80.
const ID_B: &str = "1:LQU9qZlK+B5F3KDmev6m5PMibrg=";

const A: [u8; 4] = [1, 2, 3, 4];
const A2: [u8; 4] = [5, 6, 7, 8];
const B: [u8; 4] = [128, 232, 110, 120];
const B2: [u8; 4] = [66, 35, 250, 204];

const T0: i64 = 1_700_000_000;

/// Two handshakes with a request and an answer each, and DNS chatter, interleaved in time.
fn capture() -> Vec<(i64, u32, Vec<u8>)> {
    const SYN: u8 = 0x02;
    const SYNACK: u8 = 0x12;
    const ACK: u8 = 0x10;
    const PSHACK: u8 = 0x18;
    let dns = |i: u16| {
        if i % 2 == 0 {
            frame(
                [192, 168, 1, 52],
                [8, 8, 8, 8],
                L4::Udp(54585, 53),
                b"query",
            )
        } else {
            frame(
                [8, 8, 8, 8],
                [192, 168, 1, 52],
                L4::Udp(53, 54585),
                b"answer",
            )
        }
    };
    let frames = vec![
        frame(A, A2, L4::Tcp(1122, 3344, SYN, 100, 0), b""),
        frame(B, B2, L4::Tcp(34855, 80, SYN, 500, 0), b""),
        dns(0),
        frame(A2, A, L4::Tcp(3344, 1122, SYNACK, 900, 101), b""),
        frame(B2, B, L4::Tcp(80, 34855, SYNACK, 700, 501), b""),
        frame(A, A2, L4::Tcp(1122, 3344, ACK, 101, 901), b""),
        dns(1),
        frame(B, B2, L4::Tcp(34855, 80, ACK, 501, 701), b""),
        frame(A, A2, L4::Tcp(1122, 3344, PSHACK, 101, 901), b"hello A"),
        frame(
            B,
            B2,
            L4::Tcp(34855, 80, PSHACK, 501, 701),
            b"GET / HTTP/1.0\r\n\r\n",
        ),
        frame(A2, A, L4::Tcp(3344, 1122, PSHACK, 901, 108), b"bye A"),
        dns(2),
        frame(
            B2,
            B,
            L4::Tcp(80, 34855, PSHACK, 701, 519),
            b"HTTP/1.0 200 OK\r\n\r\n",
        ),
        frame(A, A2, L4::Tcp(1122, 3344, ACK, 108, 906), b""),
    ];
    frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| (T0 + i as i64, 250_000, f))
        .collect()
}

/// `tcpdump -nn -r FILE [EXPR]`: the packet lines, or `None` without tcpdump.
fn tcpdump(file: &Path, expr: &str) -> Option<Vec<String>> {
    let mut c = Command::new("tcpdump");
    c.arg("-nn").arg("-r").arg(file);
    if !expr.is_empty() {
        c.arg(expr);
    }
    let out = c.output().ok()?;
    assert!(
        out.status.success(),
        "tcpdump -r {}: {}",
        file.display(),
        text(&out.stderr)
    );
    Some(text(&out.stdout).lines().map(str::to_string).collect())
}

/// Carves with `args` after `carve --ring-dir RING -w OUT`; returns the command's output.
fn carve(ring: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    run(bin()
        .arg("carve")
        .arg("--ring-dir")
        .arg(ring)
        .arg("-w")
        .arg(out)
        .args(args))
}

#[test]
fn carve_by_the_community_id_of_an_alert() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("two-conversations.pcap");
    write_pcap(&input, &capture());
    let rules = d.path().join("t.rules");
    std::fs::write(
        &rules,
        "alert tcp any any -> 5.6.7.8 3344 (msg:\"to A\"; flags:S; sid:1000001; rev:1;)\n",
    )
    .unwrap();
    let (log, ring) = (d.path().join("log"), d.path().join("ring"));
    let out = run(bin()
        .arg("replay")
        .arg("-r")
        .arg(&rules)
        .arg("-l")
        .arg(&log)
        .arg("--ring-dir")
        .arg(&ring)
        .arg(&input));
    expect_code(&out, 0);

    // The alert names its conversation by the spec's ID, in a schema-valid record.
    let eve = std::fs::read_to_string(log.join("eve.json")).unwrap();
    assert_eq!(validate_eve(&log.join("eve.json")), 1, "{eve}");
    let alert: serde_json::Value = serde_json::from_str(eve.trim()).unwrap();
    let id = alert["community_id"].as_str().expect("community_id");
    assert_eq!(id, ID_A);

    let carved = d.path().join("a.pcap");
    let out = carve(&ring, &carved, &["--community-id", id]);
    expect_code(&out, 0);
    assert!(
        text(&out.stdout).contains("carved 6 packets"),
        "{}",
        text(&out.stdout)
    );
    let Some(got) = tcpdump(&carved, "") else {
        eprintln!("skipped the tcpdump checks: tcpdump not installed");
        return;
    };
    let want = tcpdump(
        &input,
        "tcp and host 1.2.3.4 and host 5.6.7.8 and port 1122 and port 3344",
    )
    .unwrap();
    assert_eq!(want.len(), 6, "{want:#?}");
    assert_eq!(got, want);

    // The other conversation, by the spec's published ID.
    let carved_b = d.path().join("b.pcap");
    expect_code(&carve(&ring, &carved_b, &["--community-id", ID_B]), 0);
    let want_b = tcpdump(&input, "tcp and host 128.232.110.120 and port 34855").unwrap();
    assert_eq!(want_b.len(), 5, "{want_b:#?}");
    assert_eq!(tcpdump(&carved_b, "").unwrap(), want_b);

    // Combined with a BPF expression and a time range: A's SYN and SYN-ACK, then only the
    // SYN-ACK once the range starts after the SYN.
    let syns = d.path().join("syns.pcap");
    let bpf = "tcp[tcpflags] & tcp-syn != 0";
    expect_code(&carve(&ring, &syns, &["--community-id", ID_A, bpf]), 0);
    let got = tcpdump(&syns, "").unwrap();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(
        got,
        tcpdump(&input, &format!("({bpf}) and host 1.2.3.4")).unwrap()
    );
    let from = (T0 + 1).to_string();
    expect_code(
        &carve(
            &ring,
            &syns,
            &["--from", &from, "--community-id", ID_A, bpf],
        ),
        0,
    );
    let got = tcpdump(&syns, "").unwrap();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].contains("5.6.7.8.3344 > 1.2.3.4.1122"), "{got:#?}");

    // An ID that is well formed but not in the ring: an empty pcap, and a note saying why.
    let none = d.path().join("none.pcap");
    let out = carve(
        &ring,
        &none,
        &["--community-id", "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="],
    );
    expect_code(&out, 0);
    assert!(tcpdump(&none, "").unwrap().is_empty());
    assert!(
        text(&out.stderr).contains("no packet in the range has community id"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn malformed_community_id_is_a_usage_error() {
    let d = tempfile::tempdir().unwrap();
    let ring = d.path().join("ring");
    std::fs::create_dir(&ring).unwrap();
    let out_file = d.path().join("x.pcap");
    for bad in [
        "",
        "wCb3OG7yAFWelaUydu0D+125CLM=",
        "2:wCb3OG7yAFWelaUydu0D+125CLM=",
        "1:wCb3OG7yAFWelaUydu0D+125CLM",
        "1:c026f7386ef200559e95a53276ed03fb5db908b3",
        "1:not base64 at all!!!!!!!!!!",
    ] {
        let out = carve(&ring, &out_file, &[&format!("--community-id={bad}")]);
        expect_code(&out, 2);
        let err = text(&out.stderr);
        assert!(
            err.contains("--community-id") && err.contains("28 base64 characters"),
            "{bad:?}: {err}"
        );
        assert!(!out_file.exists(), "no output on a usage error");
    }
}
