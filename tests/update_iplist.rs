//! IP feeds in each published format → list rules (`update::iplist`) → `nsm-sensor replay` on
//! generated traffic to and from listed and unlisted addresses: exactly the listed ones alert,
//! in the direction the source asks for.

mod common;

use std::fs;

use common::*;
use nsm_sensor::update::iplist::{self, Direction, IpListSpec};

const HOME: [u8; 4] = [192, 168, 1, 10];

/// (format, feed text, direction, a listed address, an unlisted one)
type Feed = (&'static str, &'static str, Direction, [u8; 4], [u8; 4]);

const FEEDS: &[Feed] = &[
    (
        "spamhaus-drop",
        "; Spamhaus DROP List 2024/01/19 - (c) 2024 The Spamhaus Project SLU\r\n\
         ; https://www.spamhaus.org/drop/drop.txt\r\n\
         ; Last-Modified: Fri, 19 Jan 2024 13:58:28 GMT\r\n\
         1.10.16.0/20 ; SBL256894\r\n\
         2.56.192.0/22 ; SBL459831\r\n",
        Direction::From,
        [1, 10, 20, 7],
        [1, 10, 32, 1],
    ),
    (
        "spamhaus-edrop",
        "; Spamhaus EDROP List 2024/01/19 - (c) 2024 The Spamhaus Project SLU\n\
         ; https://www.spamhaus.org/drop/edrop.txt\n\
         5.134.128.0/19 ; SBL270738\n\
         23.188.0.0/24 ; SBL569497\n",
        Direction::Both,
        [23, 188, 0, 200],
        [23, 188, 1, 0],
    ),
    (
        "feodotracker",
        "################################################################\n\
         # abuse.ch Feodo Tracker Botnet C2 IP Blocklist                #\n\
         # Last updated: 2024-01-19 14:05:07 UTC                        #\n\
         ################################################################\n\
         #\n\
         # DstIP\n\
         103.109.247.10\n\
         139.59.126.41\n\
         # END 2 entries\n",
        Direction::To,
        [139, 59, 126, 41],
        [139, 59, 126, 42],
    ),
    (
        "firehol-level1",
        "\u{feff}#\n\
         # firehol_level1\n\
         #\n\
         # ipv4 hash:net ipset\n\
         #\n\
         # Source File Date: Fri Jan 19 14:36:27 UTC 2024\n\
         #\n\
         1.10.16.0/20\n\
         185.204.1.45\n\
         2001:678:738::/48\n",
        Direction::Both,
        [185, 204, 1, 45],
        [185, 204, 1, 44],
    ),
    (
        "et-compromised",
        "1.20.97.181\n1.235.192.131\n100.19.51.176\n",
        Direction::From,
        [100, 19, 51, 176],
        [100, 19, 51, 177],
    ),
];

fn dotted(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

#[test]
fn each_format_alerts_on_listed_addresses_only_in_its_direction() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, (name, feed, dir, listed, unlisted)) in FEEDS.iter().enumerate() {
        let d = tmp.path().join(name);
        fs::create_dir_all(&d).unwrap();
        let (list, bad) = iplist::parse(feed);
        assert!(bad.is_empty(), "{name}: {bad:?}");
        let sid = 9_100_000 + 100 * i as u32;
        let spec = IpListSpec {
            name: (*name).into(),
            sid,
            msg: format!("NSM {name} listed address"),
            classtype: "misc-attack".into(),
            direction: *dir,
            threshold: None,
        };
        fs::write(d.join("list.rules"), iplist::to_rules(&list, &spec)).unwrap();

        // Each pair of hosts both ways, one UDP packet a second; ports tell packets apart.
        let pkts = [
            (HOME, *listed, 1001),
            (*listed, HOME, 1002),
            (HOME, *unlisted, 1003),
            (*unlisted, HOME, 1004),
        ];
        let frames: Vec<(i64, u32, Vec<u8>)> = pkts
            .iter()
            .enumerate()
            .map(|(t, &(s, dst, sp))| {
                (
                    1_700_000_000 + t as i64,
                    0,
                    frame(s, dst, L4::Udp(sp, 53), b"x"),
                )
            })
            .collect();
        write_pcap(&d.join("in.pcap"), &frames);
        let out = run(bin()
            .arg("replay")
            .arg("-r")
            .arg(d.join("list.rules"))
            .arg("--home-net")
            .arg("192.168.0.0/16")
            .arg("--no-ring")
            .arg("-l")
            .arg(d.join("log"))
            .arg(d.join("in.pcap")));
        expect_code(&out, 0);
        let fast = fs::read_to_string(d.join("log/alert.fast")).unwrap_or_default();
        let got: Vec<String> = fast
            .lines()
            .map(|l| {
                assert!(
                    l.contains(&format!("[1:{sid}:1] NSM {name} listed address [**]")),
                    "{l}"
                );
                l.rsplit("} ").next().unwrap().to_string()
            })
            .collect();
        let to = format!("{}:1001 -> {}:53", dotted(HOME), dotted(*listed));
        let from = format!("{}:1002 -> {}:53", dotted(*listed), dotted(HOME));
        let want: Vec<String> = match dir {
            Direction::To => vec![to],
            Direction::From => vec![from],
            Direction::Both => vec![to, from],
        };
        assert_eq!(got, want, "{name}:\n{fast}");
    }
}
