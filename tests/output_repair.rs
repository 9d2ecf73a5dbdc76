//! A crash (or a full disk under another writer) can leave a torn last record in an alert
//! file; opening the outputs cuts it, so readers only ever see whole records and the next
//! record does not glue onto a fragment.

use std::fs;

use nsm_sensor::config::Timestamps;
use nsm_sensor::output::{OutputOptions, Outputs};

#[test]
fn torn_last_records_are_cut_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let full_ok = "[**] [1:1:1] a [**]\n[Priority: 0] \n01/01-00:00:00.000000 1.2.3.4 -> 5.6.7.8\nIP TTL:1\n\n";
    // (file, content before, content after open)
    let cases = [
        ("eve.json", "{\"a\":1}\n{\"b\":", "{\"a\":1}\n"),
        ("eve.json", "{\"a\":1}\n", "{\"a\":1}\n"),
        ("alert.fast", "line one\nline tw", "line one\n"),
        ("alert.fast", "no newline at all", ""),
        (
            "alert",
            &format!("{full_ok}[**] [1:2:1] b [**]\n[Prio"),
            full_ok,
        ),
        ("alert", &format!("{full_ok}[**] [1:2:1] b [**]\n"), full_ok),
        ("alert", full_ok, full_ok),
    ];
    for (name, before, after) in cases {
        let _ = fs::remove_file(dir.join("eve.json"));
        let _ = fs::remove_file(dir.join("alert.fast"));
        let _ = fs::remove_file(dir.join("alert"));
        fs::write(dir.join(name), before).unwrap();
        let outputs = Outputs::open(&OutputOptions {
            dir: dir.to_path_buf(),
            alert_full: true,
            alert_fast: true,
            eve: true,
            timestamps: Timestamps::Utc,
        })
        .unwrap();
        drop(outputs);
        assert_eq!(
            fs::read_to_string(dir.join(name)).unwrap(),
            after,
            "{name}: {before:?}"
        );
    }
}
