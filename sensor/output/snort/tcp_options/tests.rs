//! Table tests of the `TCP Options` line against what Snort 2.9.20 does: every one of the 256
//! option kinds, the lengths the named kinds require, and malformed option areas. Each case is
//! a whole TCP header run through the decoder and `write_tcp`, so only the option bytes vary.
//!
//! Which code path decides each class (Snort 2.9.20):
//! - decode.c `DecodeTCPOptions` + `OptLenValidate` decide which options are kept and the count
//!   N: fixed-length kinds (MSS 4, WS 3, SackOK 2, Echo/Echo reply 6, TS 10, CC/CC.NEW/CC.ECHO
//!   6, trailer checksum 3, MD5 18) must have exactly that length; SACK and every other kind are
//!   variable (length 2 up to what is left), SACK must carry data and TCP-AO (29) needs at least
//!   4. The first bad option ends the walk uncounted; EOL is counted and ends it.
//! - log_text.c `LogTcpOptions` decides the text: names for EOL NOP MSS WS SackOK Sack Echo
//!   `Echo Rep` TS CC CCNEW CCECHO TFO, `Opt K (L): HEX ` for every other kind with data and
//!   `Opt K ` without.

use crate::decode::{decode, linktype, DecodeOptions, Packet};

/// IPv4 + a SYN whose option area is `area` (a multiple of 4, at most 40 bytes).
fn frame(area: &[u8]) -> Vec<u8> {
    assert!(area.len() % 4 == 0 && area.len() <= 40, "bad test area");
    let doff = 20 + area.len();
    let total = (20 + doff) as u16;
    let mut f = vec![0x45, 0x00]; // version 4, IHL 5; TOS
    f.extend_from_slice(&total.to_be_bytes()); // total length
    f.extend_from_slice(&[0, 1, 0, 0]); // ID 1, no flags
    f.extend_from_slice(&[64, 6, 0, 0]); // TTL, TCP, checksum (not checked)
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]); // src, dst
    f.extend_from_slice(&[0x04, 0xd2, 0x00, 0x50]); // sport 1234, dport 80
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]); // seq 1, ack 0
    f.push(((doff / 4) << 4) as u8); // data offset
    f.push(0x02); // SYN
    f.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]); // window, checksum, urgent pointer
    f.extend_from_slice(area);
    f
}

/// The `TCP Options` line (without its newline) for option area `area`, if Snort prints one.
fn line(area: &[u8]) -> Option<String> {
    let f = frame(area);
    let p: Packet<'_> = decode(
        linktype::RAW,
        0,
        0,
        f.len() as u32,
        &f,
        DecodeOptions { checksums: false },
    )
    .expect("test frame decodes");
    let mut out = Vec::new();
    crate::output::snort::write_tcp(&mut out, &p);
    let text = String::from_utf8(out).expect("utf-8");
    let mut lines = text.lines().skip(1); // the flags/Seq/Ack line
    let opts = lines.next().map(str::to_string);
    assert_eq!(lines.next(), None, "{text:?}");
    assert!(text.ends_with('\n'), "{text:?}");
    opts
}

fn check(cases: &[(&[u8], Option<&str>)]) {
    let mut bad = Vec::new();
    for (area, want) in cases {
        let got = line(area);
        if got.as_deref() != *want {
            bad.push(format!("{area:02X?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} cases differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// Every kind 0..=255 in a 4-byte option `[K, 4, AB, CD]` (kinds 0 and 1 as four single
/// bytes). Old output differed for kind 34 (TFO: named, data not shown).
#[test]
fn all_256_kinds_with_length_4() {
    let mut bad = Vec::new();
    for kind in 0..=255u8 {
        let (area, want): ([u8; 4], Option<String>) = match kind {
            // EOL: counted, and nothing after it is read.
            0 => ([0, 0, 0, 0], Some("TCP Options (1) => EOL ".into())),
            1 => (
                [1, 1, 1, 1],
                Some("TCP Options (4) => NOP NOP NOP NOP ".into()),
            ),
            // OptLenValidate(TCPOLEN_MAXSEG = 4): valid, printed as a 16-bit value.
            2 => (
                [2, 4, 0xab, 0xcd],
                Some("TCP Options (1) => MSS: 43981 ".into()),
            ),
            // Fixed lengths other than 4: TCP_OPT_BADLEN or TCP_OPT_TRUNC, nothing kept.
            3 | 4 | 6 | 7 | 8 | 11 | 12 | 13 | 18 | 19 => ([kind, 4, 0xab, 0xcd], None),
            // SACK with one 16-bit half of data: the second half reads as 0.
            5 => (
                [5, 4, 0xab, 0xcd],
                Some("TCP Options (1) => Sack: 43981@0 ".into()),
            ),
            // TCPOPT_TFO: variable length, printed by name only.
            34 => ([34, 4, 0xab, 0xcd], Some("TCP Options (1) => TFO ".into())),
            // Everything else (TCP-AO 29 included, length 4 being its minimum): the default
            // branch of LogTcpOptions.
            k => (
                [k, 4, 0xab, 0xcd],
                Some(format!("TCP Options (1) => Opt {k} (2): ABCD  ")),
            ),
        };
        let got = line(&area);
        if got != want {
            bad.push(format!("kind {kind}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} kinds differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// Unknown kinds with each data length from 0 to 6: the hex is upper case, a space follows
/// every second byte, and one more space ends the option.
#[test]
fn unknown_kinds_hex_layout() {
    for kind in [
        9u8, 10, 14, 15, 16, 17, 20, 25, 26, 27, 28, 30, 76, 253, 254, 255,
    ] {
        let mut area = vec![kind, 2];
        area.resize(4, 0); // EOL padding
        assert_eq!(
            line(&area).as_deref(),
            Some(format!("TCP Options (2) => Opt {kind} EOL ").as_str())
        );
        for (len, hex) in [
            (3, "0A "),
            (4, "0A1B  "),
            (5, "0A1B 2C "),
            (6, "0A1B 2C3D  "),
            (7, "0A1B 2C3D 4E "),
            (8, "0A1B 2C3D 4E5F  "),
        ] {
            let mut area = vec![kind, len];
            area.extend_from_slice(&[0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f][..usize::from(len) - 2]);
            let pad = (4 - area.len() % 4) % 4;
            area.resize(area.len() + pad, 1); // NOP padding
            let nops = "NOP ".repeat(pad);
            let want = format!(
                "TCP Options ({}) => Opt {kind} ({}): {hex}{nops}",
                1 + pad,
                len - 2
            );
            assert_eq!(
                line(&area).as_deref(),
                Some(want.as_str()),
                "kind {kind} len {len}"
            );
        }
    }
}

/// The named kinds at the lengths decode.c requires, and at the lengths it refuses.
/// Old output differed for TCP-AO (29) with length 2 or 3 (kept as `Opt 29 …`; Snort stops
/// there) and for TFO (34).
#[test]
fn named_kinds_and_their_lengths() {
    let md5: Vec<u8> = [19, 18].into_iter().chain(0..16).chain([1, 1]).collect();
    let md5_want =
        "TCP Options (3) => Opt 19 (16): 0001 0203 0405 0607 0809 0A0B 0C0D 0E0F  NOP NOP ";
    check(&[
        (&[2, 4, 0x05, 0xb4], Some("TCP Options (1) => MSS: 1460 ")),
        (&[2, 4, 0xff, 0xff], Some("TCP Options (1) => MSS: 65535 ")),
        (&[3, 3, 7, 0], Some("TCP Options (2) => WS: 7 EOL ")),
        // A shift above 14 is only a decoder event (DECODE_TCPOPT_WSCALE_INVALID).
        (&[3, 3, 15, 1], Some("TCP Options (2) => WS: 15 NOP ")),
        (&[3, 3, 255, 1], Some("TCP Options (2) => WS: 255 NOP ")),
        (&[4, 2, 1, 1], Some("TCP Options (3) => SackOK NOP NOP ")),
        // SACK: two 16-bit halves of the first left edge (the golden zoo shows this too).
        (
            &[1, 1, 5, 10, 0, 1, 0, 2, 0, 3, 0, 4],
            Some("TCP Options (3) => NOP NOP Sack: 1@2 "),
        ),
        (&[5, 3, 0xff, 1], Some("TCP Options (2) => Sack: 0@0 NOP ")),
        (
            &[5, 5, 0x12, 0x34, 0x56, 1, 1, 1],
            Some("TCP Options (4) => Sack: 4660@0 NOP NOP NOP "),
        ),
        (
            &[5, 6, 0x12, 0x34, 0x56, 0x78, 1, 1],
            Some("TCP Options (3) => Sack: 4660@22136 NOP NOP "),
        ),
        (
            &[6, 6, 0, 0, 1, 2, 1, 1],
            Some("TCP Options (3) => Echo: 258 NOP NOP "),
        ),
        (
            &[7, 6, 0xff, 0xff, 0xff, 0xff, 1, 1],
            Some("TCP Options (3) => Echo Rep: 4294967295 NOP NOP "),
        ),
        (
            &[8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1],
            Some("TCP Options (3) => TS: 1 2 NOP NOP "),
        ),
        (
            &[11, 6, 0, 0, 1, 0, 1, 1],
            Some("TCP Options (3) => CC 256 NOP NOP "),
        ),
        (
            &[12, 6, 0, 0, 1, 0, 1, 1],
            Some("TCP Options (3) => CCNEW: 256 NOP NOP "),
        ),
        (
            &[13, 6, 0, 0, 1, 0, 1, 1],
            Some("TCP Options (3) => CCECHO: 256 NOP NOP "),
        ),
        (
            &[18, 3, 0xee, 0],
            Some("TCP Options (2) => Opt 18 (1): EE EOL "),
        ),
        (&md5, Some(md5_want)),
        (
            &[29, 4, 1, 2],
            Some("TCP Options (1) => Opt 29 (2): 0102  "),
        ),
        (
            &[29, 5, 1, 2, 3, 1, 1, 1],
            Some("TCP Options (4) => Opt 29 (3): 0102 03 NOP NOP NOP "),
        ),
        (&[34, 2, 1, 1], Some("TCP Options (3) => TFO NOP NOP ")),
        (
            &[34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1],
            Some("TCP Options (3) => TFO NOP NOP "),
        ),
        // Refused lengths: the option and everything after it are dropped.
        (&[29, 2, 1, 1], None),
        (&[1, 29, 3, 0xaa], Some("TCP Options (1) => NOP ")),
        (&[2, 3, 1, 1], None),
        (&[2, 5, 1, 1, 1, 1, 1, 1], None),
        (&[1, 3, 2, 1], Some("TCP Options (1) => NOP ")),
        (&[3, 4, 1, 1], None),
        (&[4, 3, 1, 1], None),
        (&[5, 2, 1, 1], None),
        (&[6, 4, 1, 1], None),
        (&[8, 8, 0, 0, 0, 1, 0, 0], None),
        (
            &[1, 1, 8, 10, 0, 0, 0, 1],
            Some("TCP Options (2) => NOP NOP "),
        ),
        (&[11, 5, 0, 0, 1, 1, 1, 1], None),
        (&[19, 2, 1, 1], None),
        // Duplicates are kept as they come.
        (
            &[2, 4, 5, 180, 2, 4, 2, 0],
            Some("TCP Options (2) => MSS: 1460 MSS: 512 "),
        ),
        (
            &[3, 3, 1, 3, 3, 2, 1, 1],
            Some("TCP Options (4) => WS: 1 WS: 2 NOP NOP "),
        ),
    ]);
}

/// Malformed option areas. Old output was already right for these.
#[test]
fn malformed_option_areas() {
    let forty_nops = vec![1u8; 40];
    let nops40 = format!("TCP Options (40) => {}", "NOP ".repeat(40));
    let mut nops39_eol = vec![1u8; 39];
    nops39_eol.push(0);
    let nops39_eol_want = format!("TCP Options (40) => {}EOL ", "NOP ".repeat(39));
    let mut nops38_bad = vec![1u8; 38];
    nops38_bad.extend_from_slice(&[254, 0]);
    let nops38_want = format!("TCP Options (38) => {}", "NOP ".repeat(38));
    check(&[
        // No options, and an area whose first option is bad: no line at all.
        (&[], None),
        (&[254, 0, 1, 1], None),
        // Length 0 and 1 (OptLenValidate: TCP_OPT_BADLEN).
        (&[1, 254, 0, 1], Some("TCP Options (1) => NOP ")),
        (&[1, 254, 1, 1], Some("TCP Options (1) => NOP ")),
        (&[1, 2, 0, 1], Some("TCP Options (1) => NOP ")),
        // A kind in the last byte, with no length byte (TCP_OPT_TRUNC).
        (&[1, 1, 1, 254], Some("TCP Options (3) => NOP NOP NOP ")),
        (&[1, 1, 1, 2], Some("TCP Options (3) => NOP NOP NOP ")),
        // Running past the header (TCP_OPT_TRUNC).
        (&[254, 6, 1, 1], None),
        (&[1, 254, 4, 1], Some("TCP Options (1) => NOP ")),
        (
            &[2, 4, 5, 180, 254, 40, 0, 0],
            Some("TCP Options (1) => MSS: 1460 "),
        ),
        // EOL in the middle: counted, and nothing after it is read, not even a bad option.
        (&[1, 0, 254, 0], Some("TCP Options (2) => NOP EOL ")),
        (&[0, 2, 4, 5, 180, 1, 1, 1], Some("TCP Options (1) => EOL ")),
        (
            &[2, 4, 5, 180, 0, 8, 0, 0],
            Some("TCP Options (2) => MSS: 1460 EOL "),
        ),
        // Trailing NOPs are all counted and printed.
        (
            &[2, 4, 5, 180, 1, 1, 1, 1],
            Some("TCP Options (5) => MSS: 1460 NOP NOP NOP NOP "),
        ),
        // The count: 40 one-byte options fill the largest option area (TCP_OPTLENMAX).
        (&forty_nops, Some(nops40.as_str())),
        (&nops39_eol, Some(nops39_eol_want.as_str())),
        (&nops38_bad, Some(nops38_want.as_str())),
    ]);
}

/// The golden capture's option lines, for reference (real Snort 2.9.20 output).
#[test]
fn golden_zoo_lines() {
    check(&[
        (
            &[
                2, 4, 0x05, 0x64, 1, 3, 3, 0, 4, 2, 8, 10, 0xe4, 0xb0, 0x6c, 0xe6, 0xd5, 0xf4,
                0xb3, 0xb2,
            ],
            Some("TCP Options (5) => MSS: 1380 NOP WS: 0 SackOK TS: 3836767462 3589583794 "),
        ),
        (
            &[0xfd, 4, 0x01, 0xe4],
            Some("TCP Options (1) => Opt 253 (2): 01E4  "),
        ),
    ]);
}
