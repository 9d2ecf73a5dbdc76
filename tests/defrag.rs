//! IPv4 defragmentation through the whole `replay` pipeline (Snort 2.9 frag3, policy
//! `first`): fragmented datagrams built here, replayed with `[detect] defrag` on (the default)
//! and off. A content split across fragments alerts once, on the rebuilt datagram; fragments
//! are not inspected themselves except a UDP first fragment; order does not matter; the bytes
//! that arrived first win an overlap; a datagram left incomplete times out, counted.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

const SRC: [u8; 4] = [10, 1, 0, 1];
const DST: [u8; 4] = [10, 2, 0, 2];

/// The IP payload of a TCP segment (PSH|ACK, ports 40000 → 80) or UDP datagram (5353 → 53)
/// carrying `payload`, with a valid transport checksum.
fn transport(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    if proto == 6 {
        t.extend_from_slice(&40000u16.to_be_bytes()); // source port
        t.extend_from_slice(&80u16.to_be_bytes()); // destination port
        t.extend_from_slice(&1000u32.to_be_bytes()); // sequence number
        t.extend_from_slice(&2000u32.to_be_bytes()); // acknowledgment number
        t.extend_from_slice(&[0x50, 0x18, 0xfa, 0xf0, 0, 0, 0, 0]); // offset, PSH|ACK, window, csum, urg
    } else {
        t.extend_from_slice(&5353u16.to_be_bytes()); // source port
        t.extend_from_slice(&53u16.to_be_bytes()); // destination port
        t.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes()); // length
        t.extend_from_slice(&[0, 0]); // checksum
    }
    t.extend_from_slice(payload);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&SRC);
    pseudo.extend_from_slice(&DST);
    pseudo.extend_from_slice(&[0, proto]);
    pseudo.extend_from_slice(&(t.len() as u16).to_be_bytes());
    let c = csum(&[&pseudo, &t]);
    let at = if proto == 6 { 16 } else { 6 };
    t[at..at + 2].copy_from_slice(&c.to_be_bytes());
    t
}

/// An Ethernet frame holding one IPv4 fragment: `data` at byte offset `off` (a multiple of 8)
/// of datagram `id`.
fn fragment(id: u16, proto: u8, off: usize, mf: bool, data: &[u8]) -> Vec<u8> {
    assert_eq!(off % 8, 0);
    let flags = (off / 8) as u16 | if mf { 0x2000 } else { 0 };
    let mut ip = vec![0x45, 0]; // version 4, IHL 5; TOS
    ip.extend_from_slice(&((20 + data.len()) as u16).to_be_bytes()); // total length
    ip.extend_from_slice(&id.to_be_bytes()); // identification
    ip.extend_from_slice(&flags.to_be_bytes()); // MF, fragment offset
    ip.extend_from_slice(&[64, proto, 0, 0]); // TTL, protocol, checksum
    ip.extend_from_slice(&SRC);
    ip.extend_from_slice(&DST);
    let c = csum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = vec![
        0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0x66, 0x77, 0x88, 0x99, 0xaa, 8, 0,
    ];
    f.extend_from_slice(&ip);
    f.extend_from_slice(data);
    f
}

/// Splits `dgram` (an IP payload) at the byte offsets `cuts` into fragments, in order.
fn split(id: u16, proto: u8, dgram: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(dgram.len());
    bounds
        .windows(2)
        .map(|w| fragment(id, proto, w[0], w[1] != dgram.len(), &dgram[w[0]..w[1]]))
        .collect()
}

const RULES: &str = "\
alert tcp any any -> any 80 (msg:\"split tcp content\"; content:\"EVIL-PAYLOAD-XYZ\"; sid:1000001; rev:1;)\n\
alert udp any any -> any 53 (msg:\"udp head\"; content:\"HEAD\"; sid:1000002; rev:1;)\n\
alert udp any any -> any 53 (msg:\"udp tail\"; content:\"TAIL-MARK\"; sid:1000003; rev:1;)\n\
alert tcp any any -> any 80 (msg:\"overwritten bytes\"; content:\"EVIL-PAYLOAD-QQQ\"; sid:1000004; rev:1;)\n";

struct Replay {
    fast: Vec<String>,
    alert: String,
    stdout: String,
}

/// Replays `frames` (one a second from t=1 unless `times` says otherwise) with defrag on (the
/// default, no config file) or off (a config saying `defrag = false`).
fn replay(dir: &Path, name: &str, frames: &[(i64, Vec<u8>)], defrag: bool) -> Replay {
    replay_with(dir, name, frames, defrag, RULES)
}

fn replay_with(
    dir: &Path,
    name: &str,
    frames: &[(i64, Vec<u8>)],
    defrag: bool,
    rules_text: &str,
) -> Replay {
    let pcap = dir.join(format!("{name}.pcap"));
    let recs: Vec<(i64, u32, Vec<u8>)> = frames.iter().map(|(t, f)| (*t, 0, f.clone())).collect();
    write_pcap(&pcap, &recs);
    let rules = dir.join(format!("{name}.rules"));
    fs::write(&rules, rules_text).unwrap();
    let log: PathBuf = dir.join(format!("log-{name}-{defrag}"));
    let mut cmd = bin();
    cmd.args([
        "replay",
        "-q",
        "--no-ring",
        "--home-net",
        "10.0.0.0/8",
        "-r",
    ])
    .arg(&rules)
    .arg("-l")
    .arg(&log);
    if !defrag {
        let cfg = dir.join("nodefrag.toml");
        fs::write(
            &cfg,
            "[detect]\ndefrag = false\n[evidence]\nenabled = false\n",
        )
        .unwrap();
        cmd.arg("-c").arg(&cfg);
    }
    let out = run(cmd.arg(&pcap));
    expect_code(&out, 0);
    let fast = fs::read_to_string(log.join("alert.fast")).unwrap();
    Replay {
        fast: fast.lines().map(str::to_string).collect(),
        alert: fs::read_to_string(log.join("alert")).unwrap(),
        stdout: text(&out.stdout),
    }
}

fn timed(frames: Vec<Vec<u8>>) -> Vec<(i64, Vec<u8>)> {
    frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| (1 + i as i64, f))
        .collect()
}

fn sids(r: &Replay) -> Vec<&str> {
    r.fast
        .iter()
        .filter_map(|l| l.split("[1:").nth(1)?.split(':').next())
        .collect()
}

#[test]
fn content_split_across_fragments_alerts_once_on_the_rebuilt_datagram() {
    let tmp = tempfile::tempdir().unwrap();
    // TCP header (20) + "xxxxxxxxxxxxEVIL-PAYLOAD-XYZ…": the cut at 40 splits the content.
    let dgram = transport(6, b"xxxxxxxxxxxxEVIL-PAYLOAD-XYZ and more bytes after it");
    let frames = timed(split(0x4242, 6, &dgram, &[16, 40]));
    let on = replay(tmp.path(), "split", &frames, true);
    assert_eq!(sids(&on), ["1000001"], "{:?}\n{}", on.fast, on.stdout);
    // Printed as the rebuilt datagram: ports, full length, no fragment flags, the last
    // fragment's time.
    assert!(
        on.fast[0].ends_with("{TCP} 10.1.0.1:40000 -> 10.2.0.2:80"),
        "{}",
        on.fast[0]
    );
    assert!(
        on.fast[0].starts_with("01/01-00:00:03.000000 "),
        "{}",
        on.fast[0]
    );
    let dgm_len = format!("DgmLen:{}\n", 20 + dgram.len());
    assert!(on.alert.contains(&dgm_len), "{}", on.alert);
    assert!(!on.alert.contains(" MF"), "{}", on.alert);
    assert!(
        on.stdout
            .contains("defrag: fragments=3 rebuilt=1 timeouts=0 evicted=0"),
        "{}",
        on.stdout
    );

    let off = replay(tmp.path(), "split", &frames, false);
    assert!(off.fast.is_empty(), "{:?}", off.fast);
    assert!(!off.stdout.contains("defrag:"), "{}", off.stdout);
}

/// An HTTP request carried in a fragmented TCP segment to port 80: the rebuilt datagram joins
/// the stream, the request it completes is inspected once as a rebuilt message (the fragment
/// that completed the datagram is not inspected, and must not inspect the message again).
#[test]
fn http_request_in_a_fragmented_segment_alerts_once() {
    let tmp = tempfile::tempdir().unwrap();
    let rules =
        "alert tcp any any -> any 80 (msg:\"frag uri\"; content:\"/frag-evil\"; http_uri; sid:1000007; rev:1;)\n";
    let dgram = transport(
        6,
        b"GET /frag-evil HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n",
    );
    let frames = timed(split(0x4248, 6, &dgram, &[24, 48]));
    let on = replay_with(tmp.path(), "fraghttp", &frames, true, rules);
    assert_eq!(sids(&on), ["1000007"], "{:?}\n{}", on.fast, on.stdout);
}

/// Snort 2.9 `DisableDetect` only turns content detection off: a rule without content still
/// sees the fragments frag3 holds, except the one that completes the datagram.
#[test]
fn held_fragments_still_meet_rules_without_content() {
    let tmp = tempfile::tempdir().unwrap();
    let rules =
        "alert ip any any -> any any (msg:\"more fragments\"; fragbits:M; sid:1000005; rev:1;)\n\
                 alert tcp any any -> any 80 (msg:\"any tcp\"; sid:1000006; rev:1;)\n";
    let dgram = transport(6, b"xxxxxxxxxxxxEVIL-PAYLOAD-XYZ and more bytes after it");
    let frames = timed(split(0x4247, 6, &dgram, &[16, 40]));
    let on = replay_with(tmp.path(), "nocontent", &frames, true, rules);
    // Fragments 1 and 2 (MF, held, not completing); the rebuilt datagram (tcp, no MF);
    // fragment 3 completes the datagram and is not inspected.
    assert_eq!(
        sids(&on),
        ["1000005", "1000005", "1000006"],
        "{:?}",
        on.fast
    );
    assert!(
        on.fast[2].starts_with("01/01-00:00:03.000000 "),
        "{}",
        on.fast[2]
    );
}

#[test]
fn out_of_order_fragments_are_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let dgram = transport(6, b"xxxxxxxxxxxxEVIL-PAYLOAD-XYZ and more bytes after it");
    let mut frags = split(0x4243, 6, &dgram, &[16, 40]);
    frags.reverse();
    let frags = vec![frags[1].clone(), frags[0].clone(), frags[2].clone()];
    let on = replay(tmp.path(), "ooo", &timed(frags), true);
    assert_eq!(sids(&on), ["1000001"], "{:?}", on.fast);
    assert!(on.stdout.contains("rebuilt=1"), "{}", on.stdout);
}

#[test]
fn udp_first_fragment_is_inspected_itself_and_again_in_the_datagram() {
    let tmp = tempfile::tempdir().unwrap();
    // "HEAD" in the first fragment, "TAIL-MARK" only in the second.
    let dgram = transport(17, b"HEAD....................TAIL-MARK");
    let frames = timed(split(0x5151, 17, &dgram, &[24]));
    let on = replay(tmp.path(), "udp", &frames, true);
    // The first fragment alone (ports and all), then the rebuilt datagram with both.
    let mut got = sids(&on);
    got.sort();
    assert_eq!(got, ["1000002", "1000002", "1000003"], "{:?}", on.fast);
    let off = replay(tmp.path(), "udp", &frames, false);
    assert_eq!(sids(&off), ["1000002"], "{:?}", off.fast);
}

#[test]
fn overlapping_fragments_keep_the_bytes_that_came_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dgram = transport(6, b"xxxxxxxxxxxxEVIL-PAYLOAD-XYZ and more bytes after it");
    let frags = split(0x4244, 6, &dgram, &[24, 48]);
    // A second copy of the middle fragment (bytes 24..48, the whole content) with other bytes
    // where "XYZ" was.
    let mut evil = dgram[24..48].to_vec();
    let at = evil.len() - 3;
    evil[at..].copy_from_slice(b"QQQ");
    let forged = fragment(0x4244, 6, 24, true, &evil);
    let frames = timed(vec![
        frags[0].clone(),
        frags[1].clone(),
        forged,
        frags[2].clone(),
    ]);
    let on = replay(tmp.path(), "overlap", &frames, true);
    assert_eq!(sids(&on), ["1000001"], "{:?}", on.fast);
    assert!(on.stdout.contains("overlaps=1"), "{}", on.stdout);

    // The forged copy first: its bytes win. (Its first fragment carries the TCP checksum of
    // the forged payload, so the rebuilt datagram checks out either way it is inspected.)
    let forged_payload = b"xxxxxxxxxxxxEVIL-PAYLOAD-QQQ and more bytes after it";
    let forged_dgram = transport(6, forged_payload);
    let head = split(0x4245, 6, &forged_dgram, &[24, 48]);
    let orig = split(0x4245, 6, &dgram, &[24, 48]);
    assert_eq!(head[1][34..], evil[..]);
    let frames = timed(vec![
        head[0].clone(),
        head[1].clone(),
        orig[1].clone(),
        orig[2].clone(),
    ]);
    let on = replay(tmp.path(), "overlap2", &frames, true);
    assert_eq!(sids(&on), ["1000004"], "{:?}\n{}", on.fast, on.stdout);
}

#[test]
fn incomplete_datagram_times_out_and_is_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let dgram = transport(6, b"xxxxxxxxxxxxEVIL-PAYLOAD-XYZ and more bytes after it");
    let frags = split(0x4246, 6, &dgram, &[16, 40]);
    // The last fragment 61 s after the first: the datagram was given up at 60 s.
    let frames = vec![
        (1, frags[0].clone()),
        (2, frags[1].clone()),
        (62, frags[2].clone()),
    ];
    let on = replay(tmp.path(), "timeout", &frames, true);
    assert!(on.fast.is_empty(), "{:?}", on.fast);
    assert!(
        on.stdout.contains("rebuilt=0 timeouts=1 evicted=0"),
        "{}",
        on.stdout
    );
    assert!(on.stdout.contains("pending=1"), "{}", on.stdout);
}

/// The format zoo Snort 2.9.20 answered without preprocessors (`snort-golden/README.md`),
/// replayed with frag3 on: everything alike but its one fragmented UDP datagram, whose second
/// (last) fragment gives way to the rebuilt datagram — ports, full length, no fragment line.
#[test]
fn golden_zoo_with_defrag_differs_only_by_the_rebuilt_datagram() {
    let g = shared().join("snort-golden");
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let out = run(bin()
        .args([
            "replay",
            "-q",
            "--no-ring",
            "--home-net",
            "[192.168.0.0/16,fd00::/8]",
            "-r",
        ])
        .arg(g.join("zoo1.rules"))
        .arg("-l")
        .arg(&log)
        .arg(g.join("zoo1.pcap")));
    expect_code(&out, 0);
    let want = fs::read_to_string(g.join("zoo1.alert.fast")).unwrap();
    let got = fs::read_to_string(log.join("alert.fast")).unwrap();
    let (want, got): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    assert_eq!(want.len(), got.len());
    let mut differing = 0;
    for (w, g) in want.iter().zip(&got) {
        if w != g {
            differing += 1;
            assert!(w.starts_with("01/02-00:00:17.017007 "), "{w}\n{g}");
            assert!(w.ends_with("{UDP} 192.168.34.146 -> 45.130.60.127"), "{w}");
            assert!(g.starts_with("01/02-00:00:17.017007 "), "{g}");
            assert!(
                g.ends_with("{UDP} 192.168.34.146:7777 -> 45.130.60.127:7777"),
                "{g}"
            );
        }
    }
    assert_eq!(differing, 1);
    assert!(
        text(&out.stdout).contains("defrag: fragments=2 rebuilt=1"),
        "{}",
        text(&out.stdout)
    );
}

/// The rebuilt bytes as tcpdump reads them from a raw-IP pcap: one whole UDP datagram, no
/// fragment notation, a good checksum.
#[test]
fn rebuilt_datagram_reads_whole_in_tcpdump() {
    use nsm_sensor::decode::{decode, linktype, DecodeOptions};
    use nsm_sensor::detect::defrag::{Defrag, DefragOptions};
    if !have("tcpdump") {
        eprintln!("skipped: tcpdump not installed");
        return;
    }
    let dgram = transport(17, b"HEAD....................TAIL-MARK");
    let mut d = Defrag::new(DefragOptions::default());
    let mut out = Vec::new();
    let mut done = false;
    for f in split(0x6161, 17, &dgram, &[24]).iter().rev() {
        let p = decode(
            linktype::ETHERNET,
            1,
            0,
            f.len() as u32,
            f,
            DecodeOptions { checksums: true },
        )
        .unwrap();
        done = d.insert(&p, &mut out);
    }
    assert!(done);
    let tmp = tempfile::tempdir().unwrap();
    let pcap = tmp.path().join("rebuilt.pcap");
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&101u32.to_le_bytes()); // LINKTYPE_RAW
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&(out.len() as u32).to_le_bytes());
    b.extend_from_slice(&(out.len() as u32).to_le_bytes());
    b.extend_from_slice(&out);
    fs::write(&pcap, b).unwrap();
    let o = run(std::process::Command::new("tcpdump")
        .args(["-nn", "-v", "-r"])
        .arg(&pcap));
    let s = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(s.contains("10.1.0.1.5353 > 10.2.0.2.53"), "{s}");
    assert!(
        s.contains("flags [none]") && s.contains(&format!("length {}", 20 + dgram.len())),
        "{s}"
    );
    assert!(!s.contains("bad"), "{s}");
}

/// Real captures: fragmented DNS answers (IPv4 ones rebuilt; IPv6 fragments are left as
/// they are) and four 5000-byte datagrams cut into 16-byte fragments.
#[test]
fn shared_fragmented_captures_rebuild() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("u.rules");
    fs::write(
        &rules,
        "alert udp any any -> any any (msg:\"u\"; sid:1; rev:1;)\n",
    )
    .unwrap();
    for (pcap, want) in [
        (
            "ndpi__dns_fragmented.pcap",
            "defrag: fragments=8 rebuilt=4 timeouts=0 evicted=0 overlaps=0 teardrop=0",
        ),
        (
            "ndpi__ip_fragmented_garbage.pcap",
            "defrag: fragments=1252 rebuilt=4 timeouts=0 evicted=0 overlaps=0 teardrop=0",
        ),
    ] {
        let out = run(bin()
            .args(["replay", "-q", "--no-ring", "-r"])
            .arg(&rules)
            .arg("-l")
            .arg(tmp.path().join(pcap))
            .arg(shared().join("pcaps").join(pcap)));
        expect_code(&out, 0);
        let s = text(&out.stdout);
        assert!(s.contains(want), "{pcap}: {s}");
        assert!(s.contains("discards=0 pending=0"), "{pcap}: {s}");
    }
}
