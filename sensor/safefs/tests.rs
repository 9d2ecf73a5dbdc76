//! Unit tests of [`super`]: links are refused, not followed; new files are 0640 and `O_EXCL`;
//! temporary files are renamed into place or removed; foreign files are refused.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};

use super::*;

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A victim outside the directory, and a directory with a link to it under `name`.
fn planted(name: &str) -> (tempfile::TempDir, PathBuf, Dir) {
    let t = tempfile::tempdir().unwrap();
    let victim = t.path().join("victim");
    fs::write(&victim, b"precious").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
    let d = t.path().join("d");
    fs::create_dir(&d).unwrap();
    symlink(&victim, d.join(name)).unwrap();
    let dir = Dir::open(&d).unwrap();
    (t, victim, dir)
}

#[test]
fn append_refuses_a_symlink_and_names_it() {
    let (_t, victim, dir) = planted("alert");
    let e = dir.open_append("alert").unwrap_err();
    assert!(
        e.to_string()
            .ends_with("/d/alert: is a symbolic link; refusing to follow it"),
        "{e}"
    );
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert_eq!(mode(&victim), 0o600);
}

#[test]
fn dangling_symlink_is_not_created_through() {
    let t = tempfile::tempdir().unwrap();
    symlink(t.path().join("nowhere"), t.path().join("eve.json")).unwrap();
    let dir = Dir::open(t.path()).unwrap();
    assert!(dir.open_append("eve.json").is_err());
    assert!(dir.create_new("eve.json").is_err());
    assert!(!t.path().join("nowhere").exists());
}

#[test]
fn create_new_refuses_any_existing_entry() {
    let (_t, victim, dir) = planted("x.pcap");
    let e = dir.create_new("x.pcap").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
}

#[test]
fn hard_link_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let victim = t.path().join("victim");
    fs::write(&victim, b"precious").unwrap();
    fs::hard_link(&victim, t.path().join("alert")).unwrap();
    let dir = Dir::open(t.path()).unwrap();
    let e = dir.open_append("alert").unwrap_err();
    assert!(e.to_string().contains("2 hard links"), "{e}");
    assert!(dir.open_own("alert", true).is_err());
}

#[test]
fn fifo_is_refused_without_hanging() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("stats.log");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &p,
        rustix::fs::FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let dir = Dir::open(t.path()).unwrap();
    let e = dir.open_append("stats.log").unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
    assert!(dir.open_read("stats.log").is_err());
}

#[test]
fn foreign_owner_is_refused_as_root() {
    if euid() != 0 {
        println!("SKIPPED foreign_owner_is_refused_as_root: not root");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("alert.fast");
    fs::write(&p, b"theirs\n").unwrap();
    std::os::unix::fs::chown(&p, Some(65533), Some(65533)).unwrap();
    let dir = Dir::open(t.path()).unwrap();
    let e = dir.open_append("alert.fast").unwrap_err();
    assert!(e.to_string().contains("owned by uid 65533"), "{e}");
    // The analyst's read is by name only: any owner.
    assert!(dir.open_read("alert.fast").is_ok());
}

#[test]
fn new_and_empty_files_are_0640_whatever_the_umask() {
    let t = tempfile::tempdir().unwrap();
    let dir = Dir::open(t.path()).unwrap();
    dir.create_new("a").unwrap();
    assert_eq!(mode(&t.path().join("a")), 0o640);
    fs::write(t.path().join("b"), b"").unwrap();
    fs::set_permissions(t.path().join("b"), fs::Permissions::from_mode(0o666)).unwrap();
    dir.open_append("b").unwrap();
    assert_eq!(mode(&t.path().join("b")), 0o640);
    fs::write(t.path().join("c"), b"x\n").unwrap();
    fs::set_permissions(t.path().join("c"), fs::Permissions::from_mode(0o600)).unwrap();
    let mut f = dir.open_append("c").unwrap();
    f.write_all(b"y\n").unwrap();
    assert_eq!(
        mode(&t.path().join("c")),
        0o600,
        "a non-empty file keeps its mode"
    );
    assert_eq!(fs::read(t.path().join("c")).unwrap(), b"x\ny\n");
}

#[test]
fn dir_open_refuses_a_symlinked_last_component() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir(t.path().join("real")).unwrap();
    symlink(t.path().join("real"), t.path().join("link")).unwrap();
    let e = Dir::open(&t.path().join("link")).unwrap_err();
    assert!(e.to_string().contains("is a symbolic link"), "{e}");
    let base = Dir::open(t.path()).unwrap();
    assert!(base.subdir("link", true).is_err());
    assert!(
        Dir::create_all(&t.path().join("link/sub")).is_err() || !t.path().join("real/sub").exists()
    );
}

#[test]
fn create_all_reports_what_it_created_0750() {
    let t = tempfile::tempdir().unwrap();
    let deep = t.path().join("a/b/c");
    let (d, created) = Dir::create_all(&deep).unwrap();
    assert_eq!(d.path(), deep);
    assert_eq!(
        created,
        vec![t.path().join("a"), t.path().join("a/b"), deep.clone()]
    );
    for p in &created {
        assert_eq!(mode(p), 0o750, "{}", p.display());
    }
    let (_, again) = Dir::create_all(&deep).unwrap();
    assert!(again.is_empty());
}

#[test]
fn temp_is_renamed_into_place_or_removed() {
    let t = tempfile::tempdir().unwrap();
    let dir = Dir::open(t.path()).unwrap();
    let mut tmp = dir.temp("out.pcap").unwrap();
    let name = tmp.path();
    assert!(name
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with(".out.pcap."));
    tmp.file().unwrap().write_all(b"data").unwrap();
    assert!(!t.path().join("out.pcap").exists(), "nothing before commit");
    tmp.commit().unwrap();
    assert_eq!(fs::read(t.path().join("out.pcap")).unwrap(), b"data");
    assert!(!name.exists());
    assert_eq!(mode(&t.path().join("out.pcap")), 0o640);

    let dropped = dir.temp("other").unwrap();
    let p = dropped.path();
    drop(dropped);
    assert!(!p.exists() && !t.path().join("other").exists());
}

#[test]
fn temp_commit_replaces_a_planted_link_instead_of_following_it() {
    let (t, victim, dir) = planted("out.pcap");
    let mut tmp = dir.temp("out.pcap").unwrap();
    tmp.file().unwrap().write_all(b"new").unwrap();
    tmp.commit().unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    let out = t.path().join("d/out.pcap");
    assert!(!fs::symlink_metadata(&out).unwrap().file_type().is_symlink());
    assert_eq!(fs::read(out).unwrap(), b"new");
}

#[test]
fn temp_names_are_unguessable() {
    let a = random_hex();
    let b = random_hex();
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
}

#[test]
fn plain_names() {
    for ok in ["alert", "nsm_00001_20070221101754.pcap", ".x.idx"] {
        assert!(is_plain_name(OsStr::new(ok)), "{ok}");
    }
    for bad in ["", ".", "..", "../x", "a/b", "/etc/shadow", "x/"] {
        assert!(!is_plain_name(OsStr::new(bad)), "{bad}");
    }
}

#[test]
fn remove_unlinks_the_link_not_the_target() {
    let (_t, victim, dir) = planted("x");
    dir.remove("x").unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(dir.remove("../victim").is_err());
}

#[test]
fn probe_leaves_nothing_behind() {
    let t = tempfile::tempdir().unwrap();
    Dir::open(t.path()).unwrap().probe_writable().unwrap();
    assert_eq!(fs::read_dir(t.path()).unwrap().count(), 0);
}
