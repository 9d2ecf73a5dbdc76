//! Reloads with no traffic between them: the engine must follow the newest rule set's
//! suppress list every time, however the sets are laid out in memory.
//!
//! Why: the engine once recognised a new set by its address. The old set is freed after a
//! swap and the next one readily lands at the same address, so after two reloads on a quiet
//! link the engine kept the previous set's suppress/rate_filter index.

mod common;

use std::path::Path;

use common::{frame, L4};
use nsm_sensor::decode::{decode, DecodeOptions};
use nsm_sensor::detect::engine::Engine;
use nsm_sensor::detect::{DetectOptions, RuleSet};
use nsm_sensor::rules::load::load_text;
use nsm_sensor::rules::LoadOptions;

const RULE: &str = "alert tcp any any -> 203.0.113.7 any (msg:\"listed\"; sid:1;)\n";

fn compile(threshold: &Path) -> RuleSet {
    let opts = LoadOptions {
        threshold: Some(threshold.to_path_buf()),
        ..LoadOptions::default()
    };
    let report = load_text(Path::new("t.rules"), RULE, &opts);
    assert!(
        report.is_usable(),
        "{:?}",
        report.errors().collect::<Vec<_>>()
    );
    RuleSet::compile(report.model)
}

#[test]
fn suppress_follows_the_newest_set_across_quiet_reloads() {
    let tmp = tempfile::tempdir().unwrap();
    let suppressing = tmp.path().join("suppress.conf");
    std::fs::write(&suppressing, "suppress gen_id 1, sig_id 1\n").unwrap();
    let open = tmp.path().join("none.conf");
    std::fs::write(&open, "# nothing\n").unwrap();
    let mut engine = Engine::new(&DetectOptions::from_config(&Default::default()));
    let mut hits = Vec::new();
    for round in 0..40u16 {
        let suppressed = round % 2 == 1;
        // One set alive at a time, as after a swap once the old one is freed.
        let set = Box::new(compile(if suppressed { &suppressing } else { &open }));
        let f = frame(
            [192, 0, 2, 1],
            [203, 0, 113, 7],
            L4::Tcp(40000 + round, 80, 0x02, 1, 0),
            b"",
        );
        let pkt = decode(
            1,
            1_700_000_000 + i64::from(round),
            0,
            f.len() as u32,
            &f,
            DecodeOptions { checksums: true },
        )
        .expect("decodes");
        engine.inspect(&set, &pkt, &mut hits);
        assert_eq!(
            hits.is_empty(),
            suppressed,
            "round {round}: the engine used an older set's suppress list"
        );
        drop(set);
    }
}
