//! Decodes every packet of every capture in `../shared/data/pcaps/` (and the golden and seed
//! captures): no panic, and a per-kind count of what did not decode, printed for the record.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nsm_sensor::capture::{Next, OfflineSource, PacketSource};
use nsm_sensor::decode::{decode, vlan_ids, DecodeOptions};

fn captures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    let mut out = Vec::new();
    for dir in ["pcaps", "snort-golden", "seed"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("pcap" | "pcapng")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_shared_pcap_decodes_without_panic() {
    let files = captures();
    if files.is_empty() {
        eprintln!("skipped: no shared captures found");
        return;
    }
    let mut errors: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut anomalies: BTreeMap<&'static str, u64> = BTreeMap::new();
    let (mut packets, mut decoded) = (0u64, 0u64);
    for path in &files {
        let Ok(mut src) = OfflineSource::open(path, "") else {
            eprintln!("{}: not readable by libpcap", path.display());
            continue;
        };
        let lt = src.linktype();
        loop {
            let pkt = match src.next_packet() {
                Ok(Next::Packet(p)) => p,
                Ok(Next::Timeout) => continue,
                Ok(Next::End) | Err(_) => break,
            };
            packets += 1;
            let _ = vlan_ids(lt, pkt.data);
            for checksums in [false, true] {
                let res = decode(
                    lt,
                    pkt.ts_sec,
                    pkt.ts_usec,
                    pkt.wire_len,
                    pkt.data,
                    DecodeOptions { checksums },
                );
                if !checksums {
                    continue;
                }
                match res {
                    Ok(p) => {
                        decoded += 1;
                        assert!(p.payload.len() <= pkt.data.len());
                        if let Some(a) = p.anomaly {
                            *anomalies.entry(a.name()).or_default() += 1;
                        }
                    }
                    Err(e) => *errors.entry(e.name()).or_default() += 1,
                }
            }
        }
    }
    eprintln!(
        "{} files, {packets} packets, {decoded} decoded",
        files.len()
    );
    eprintln!("errors: {errors:?}");
    eprintln!("anomalies: {anomalies:?}");
    assert!(decoded > packets / 2, "most shared packets are IP");
}
