//! Unusual TCP options through the whole `replay` pipeline: the `alert` file's `TCP Options`
//! lines are what Snort 2.9.20 writes for them (decode.c `DecodeTCPOptions` keeps, log_text.c
//! `LogTcpOptions` prints): TFO by name, TCP-AO shorter than 4 ending the list, the T/TCP and
//! echo options, EOL in the middle, a bad first option leaving no line at all.

mod common;

use common::*;
use std::fs;

/// Ethernet/IPv4/TCP SYN from 10.1.0.1:40000 to 10.2.0.2:80 with option area `opts` (padded
/// by the caller to a multiple of 4), valid checksums.
fn syn(seq: u32, opts: &[u8]) -> Vec<u8> {
    assert_eq!(opts.len() % 4, 0);
    let (src, dst) = ([10, 1, 0, 1], [10, 2, 0, 2]);
    let mut t = Vec::new();
    t.extend_from_slice(&40000u16.to_be_bytes()); // source port
    t.extend_from_slice(&80u16.to_be_bytes()); // destination port
    t.extend_from_slice(&seq.to_be_bytes()); // sequence number
    t.extend_from_slice(&0u32.to_be_bytes()); // acknowledgment number
    t.push((((20 + opts.len()) / 4) << 4) as u8); // data offset
    t.push(0x02); // SYN
    t.extend_from_slice(&[0xfa, 0xf0, 0, 0, 0, 0]); // window, checksum, urgent pointer
    t.extend_from_slice(opts);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src);
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(t.len() as u16).to_be_bytes());
    let c = csum(&[&pseudo, &t]);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    let mut ip = vec![0x45, 0]; // version 4, IHL 5; TOS
    ip.extend_from_slice(&((20 + t.len()) as u16).to_be_bytes()); // total length
    ip.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, 6, 0, 0]); // ID, DF, TTL, TCP, checksum
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = csum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = vec![
        0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0x66, 0x77, 0x88, 0x99, 0xaa, 8, 0,
    ];
    f.extend_from_slice(&ip);
    f.extend_from_slice(&t);
    f
}

#[test]
fn unusual_tcp_options_print_as_snort() {
    let md5: Vec<u8> = [19, 18].into_iter().chain(0..16).collect();
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        // MSS, a TFO cookie (named, data not shown), SackOK, NOPs.
        (
            [
                &[2, 4, 0x05, 0xb4, 34, 10][..],
                &[1, 2, 3, 4, 5, 6, 7, 8],
                &[4, 2, 1, 1, 1, 1],
            ]
            .concat(),
            Some("TCP Options (7) => MSS: 1460 TFO SackOK NOP NOP NOP NOP "),
        ),
        // TCP-AO with length 3: refused, the list ends after MSS.
        (
            vec![2, 4, 0x05, 0xb4, 29, 3, 0xaa, 0],
            Some("TCP Options (1) => MSS: 1460 "),
        ),
        // TCP-AO of 6 bytes: the hex of an unnamed kind.
        (
            vec![29, 6, 1, 2, 3, 4, 1, 1],
            Some("TCP Options (3) => Opt 29 (4): 0102 0304  NOP NOP "),
        ),
        // The T/TCP and RFC 1072 echo options.
        (
            vec![
                11, 6, 0, 0, 0, 7, 12, 6, 0, 0, 0, 8, 13, 6, 0, 0, 0, 9, 6, 6, 0, 0, 1, 0, 7, 6, 0,
                0, 1, 1, 1, 1,
            ],
            Some("TCP Options (7) => CC 7 CCNEW: 8 CCECHO: 9 Echo: 256 Echo Rep: 257 NOP NOP "),
        ),
        // EOL in the middle: counted, and the bad option after it is never read.
        (vec![1, 0, 0xfe, 0], Some("TCP Options (2) => NOP EOL ")),
        // A bad first option: no options line at all.
        (vec![0xfe, 0, 0, 0], None),
        // Trailer checksum, an odd-length unknown kind, an MD5 signature.
        (
            [&[18, 3, 0xee, 0xfd, 5, 0xaa, 0xbb, 0xcc][..], &md5, &[1, 1]].concat(),
            Some(
                "TCP Options (5) => Opt 18 (1): EE Opt 253 (3): AABB CC \
                 Opt 19 (16): 0001 0203 0405 0607 0809 0A0B 0C0D 0E0F  NOP NOP ",
            ),
        ),
    ];

    let tmp = tempfile::tempdir().unwrap();
    let pcap = tmp.path().join("tcpopt.pcap");
    let frames: Vec<(i64, u32, Vec<u8>)> = cases
        .iter()
        .enumerate()
        .map(|(i, (opts, _))| (1 + i as i64, 0, syn(1 + i as u32, opts)))
        .collect();
    write_pcap(&pcap, &frames);
    let rules = tmp.path().join("t.rules");
    fs::write(
        &rules,
        "alert tcp any any -> any any (msg:\"tcp options\"; sid:1000001; rev:1;)\n",
    )
    .unwrap();
    let log = tmp.path().join("log");
    let out = run(bin()
        .args([
            "replay",
            "-q",
            "--no-ring",
            "--home-net",
            "10.0.0.0/8",
            "-r",
        ])
        .arg(&rules)
        .arg("-l")
        .arg(&log)
        .arg(&pcap));
    expect_code(&out, 0);

    let alert = fs::read_to_string(log.join("alert")).unwrap();
    let records: Vec<&str> = alert.split_terminator("\n\n").collect();
    assert_eq!(records.len(), cases.len(), "{alert}");
    // The first record whole: the options line sits right after the TCP header line.
    assert_eq!(
        format!("{}\n\n", records[0]),
        "[**] [1:1000001:1] tcp options [**]\n[Priority: 0] \n\
         01/01-00:00:01.000000 10.1.0.1:40000 -> 10.2.0.2:80\n\
         TCP TTL:64 TOS:0x0 ID:4660 IpLen:20 DgmLen:60 DF\n\
         ******S* Seq: 0x1  Ack: 0x0  Win: 0xFAF0  TcpLen: 40\n\
         TCP Options (7) => MSS: 1460 TFO SackOK NOP NOP NOP NOP \n\n"
    );
    for (i, ((_, want), record)) in cases.iter().zip(&records).enumerate() {
        let got = record.lines().find(|l| l.starts_with("TCP Options"));
        assert_eq!(got, *want, "packet {}:\n{record}", i + 1);
        assert!(
            record.contains(&format!("Seq: 0x{:X} ", i + 1)),
            "records out of order: {record}"
        );
    }
}
