//! Unpacking a `.tar.gz` rule archive in memory: the members a rule set needs, nothing
//! written to disk here. Refuses the whole archive when any entry has an absolute path, a
//! `..` component, or is a link, a device or a FIFO (what tar would otherwise create
//! outside the target or as a trap); bounds the decompressed total (gzip bombs); reads the
//! gzip stream to its end so a truncated download is caught by its CRC and length trailer.

use std::io::{self, Read};
use std::path::Component;

/// One file taken from the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The file name (last path component).
    pub name: String,
    /// The path in the archive (`rules/emerging-botcc.rules`).
    pub path: String,
    pub data: Vec<u8>,
}

/// The configuration files a tarball may bring beside its rules.
pub const CONFIG_FILES: [&str; 2] = ["classification.config", "reference.config"];

/// The gzip magic number (RFC 1952): what a tarball starts with, and an HTML page doesn't.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Counts decompressed bytes and fails once they pass the bound.
struct Bounded<R> {
    inner: R,
    seen: u64,
    max: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen += n as u64;
        if self.seen > self.max {
            return Err(io::Error::other(format!(
                "decompressed size passes the limit of {} MiB (update.max_unpacked_mb)",
                self.max / (1024 * 1024)
            )));
        }
        Ok(n)
    }
}

/// Whether the default selection takes `name`: every `*.rules`, and the two config files.
fn default_pick(name: &str) -> bool {
    name.ends_with(".rules") || CONFIG_FILES.contains(&name)
}

/// Unpacks `bytes`, taking the regular files whose name is in `select` (empty: every
/// `*.rules`, classification.config and reference.config), in archive order.
///
/// # Errors
/// Not gzip, a corrupt or truncated stream, an entry refused (named, with why), the
/// decompressed total above `max_unpacked` bytes, two taken files with one name, or a
/// selected name missing from the archive.
pub fn unpack(bytes: &[u8], max_unpacked: u64, select: &[String]) -> Result<Vec<Member>, String> {
    if !is_gzip(bytes) {
        return Err(not_gzip(bytes));
    }
    let gz = flate2::read::GzDecoder::new(bytes);
    let mut archive = tar::Archive::new(Bounded {
        inner: gz,
        seen: 0,
        max: max_unpacked,
    });
    let mut out: Vec<Member> = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| format!("malformed archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("malformed or truncated archive: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("malformed archive: entry name: {e}"))?
            .into_owned();
        let shown = path.display().to_string();
        for c in path.components() {
            match c {
                Component::RootDir | Component::Prefix(_) => {
                    return Err(format!("entry {shown:?}: absolute path refused"))
                }
                Component::ParentDir => {
                    return Err(format!("entry {shown:?}: '..' in the path refused"))
                }
                Component::CurDir | Component::Normal(_) => {}
            }
        }
        let kind = entry.header().entry_type();
        let what = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => None,
            tar::EntryType::Directory => continue,
            tar::EntryType::Symlink => Some("a symbolic link"),
            tar::EntryType::Link => Some("a hard link"),
            tar::EntryType::Char => Some("a character device"),
            tar::EntryType::Block => Some("a block device"),
            tar::EntryType::Fifo => Some("a FIFO"),
            _ => Some("not a regular file"),
        };
        if let Some(what) = what {
            return Err(format!("entry {shown:?}: {what}, refused"));
        }
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let wanted = if select.is_empty() {
            default_pick(&name)
        } else {
            select.contains(&name)
        };
        let corrupt =
            |e: io::Error| format!("truncated or corrupt archive at entry {shown:?}: {e}");
        if !wanted {
            // Read through (the size bound and the gzip trailer still count), kept nowhere.
            io::copy(&mut entry, &mut io::sink()).map_err(corrupt)?;
            continue;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(corrupt)?;
        if out.iter().any(|m| m.name == name) {
            return Err(format!(
                "entry {shown:?}: a second file named {name:?} in the archive"
            ));
        }
        out.push(Member {
            name,
            path: shown,
            data,
        });
    }
    // Read to the end of the gzip stream: its trailer (CRC-32, length) catches a download
    // cut after the tar end marker.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink())
        .map_err(|e| format!("truncated or corrupt archive: {e}"))?;
    let missing: Vec<&str> = select
        .iter()
        .filter(|s| !out.iter().any(|m| m.name == **s))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "files not in the archive: {} (update.source files)",
            missing.join(", ")
        ));
    }
    Ok(out)
}

/// Why `bytes` is not a gzip archive, with a hint when it looks like a web page.
pub fn not_gzip(bytes: &[u8]) -> String {
    let head: String = String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let lower = head.to_ascii_lowercase();
    if lower.contains("<html") || lower.contains("<!doctype") {
        format!(
            "expected a gzip archive, got an HTML page ({:?}…)",
            head.trim()
        )
    } else if bytes.is_empty() {
        "expected a gzip archive, got an empty body".to_string()
    } else {
        format!(
            "expected a gzip archive (starting 1f 8b), got {:?}…",
            head.trim()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(tar: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(tar).unwrap();
        e.finish().unwrap()
    }

    /// A tar with one regular file `name` (the name written raw into the header, so `..`
    /// and absolute names can be built).
    fn tar_with(name: &str, kind: tar::EntryType, data: &[u8]) -> Vec<u8> {
        let mut h = tar::Header::new_gnu();
        {
            let raw = h.as_old_mut();
            raw.name[..name.len()].copy_from_slice(name.as_bytes());
        }
        h.set_size(data.len() as u64);
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, data).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn takes_rules_and_configs() {
        let mut b = tar::Builder::new(Vec::new());
        for (n, d) in [
            (
                "rules/emerging-botcc.rules",
                "alert ip any any -> any any (sid:1;)\n",
            ),
            (
                "rules/classification.config",
                "config classification: a,b,1\n",
            ),
            ("rules/sid-msg.map", "x"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, n, d.as_bytes()).unwrap();
        }
        let bytes = gz(&b.into_inner().unwrap());
        let m = unpack(&bytes, 1 << 20, &[]).unwrap();
        let names: Vec<&str> = m.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["emerging-botcc.rules", "classification.config"]);
        let m = unpack(&bytes, 1 << 20, &["sid-msg.map".to_string()]).unwrap();
        assert_eq!(m.len(), 1);
        let e = unpack(&bytes, 1 << 20, &["nope.rules".to_string()]).unwrap_err();
        assert!(e.contains("nope.rules"), "{e}");
        // Truncated: the CRC trailer is missing.
        let e = unpack(&bytes[..bytes.len() - 4], 1 << 20, &[]).unwrap_err();
        assert!(e.contains("truncated") || e.contains("corrupt"), "{e}");
        let e = unpack(&bytes, 100, &[]).unwrap_err();
        assert!(e.contains("max_unpacked_mb"), "{e}");
    }

    #[test]
    fn refuses_dangerous_entries() {
        let cases: &[(&str, tar::EntryType, &str)] = &[
            ("../x.rules", tar::EntryType::Regular, "'..'"),
            ("rules/../../x.rules", tar::EntryType::Regular, "'..'"),
            ("/etc/x.rules", tar::EntryType::Regular, "absolute"),
            ("rules/l.rules", tar::EntryType::Symlink, "symbolic link"),
            ("rules/h.rules", tar::EntryType::Link, "hard link"),
            ("rules/c", tar::EntryType::Char, "character device"),
            ("rules/b", tar::EntryType::Block, "block device"),
            ("rules/f", tar::EntryType::Fifo, "FIFO"),
        ];
        for (name, kind, want) in cases {
            let bytes = gz(&tar_with(name, *kind, b""));
            let e = unpack(&bytes, 1 << 20, &[]).unwrap_err();
            assert!(e.contains(want), "{name}: {e}");
        }
    }

    #[test]
    fn html_is_named() {
        let e = unpack(b"<!DOCTYPE html><html>Not found</html>", 1 << 20, &[]).unwrap_err();
        assert!(e.contains("HTML page"), "{e}");
        let e = unpack(b"", 1 << 20, &[]).unwrap_err();
        assert!(e.contains("empty"), "{e}");
    }
}
