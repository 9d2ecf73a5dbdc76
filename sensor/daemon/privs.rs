//! Dropping root after the capture and output files are open: user/group lookup, supplementary
//! groups, setresgid/setresuid, and a check that nothing was kept. The only module of the crate
//! with `unsafe` (libc calls); every block says why it is sound.
//!
//! Order matters (as in OpenSSH's `permanently_set_uid` and tcpdump's `droproot`): supplementary
//! groups first, then the group, then the user — once the user is dropped, nothing else may be.
//! Call it before any other thread exists, so every thread runs under the new identity.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fmt;
use std::io;

/// A resolved identity to switch to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub uid: u32,
    pub gid: u32,
    /// For `initgroups`; `None` when only a group was given.
    pub user: Option<CString>,
    /// Printable `user:group` for messages.
    pub label: String,
}

#[derive(Debug)]
pub struct PrivError(pub String);

impl fmt::Display for PrivError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The effective user id of the process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The effective group id of the process.
pub fn egid() -> u32 {
    // SAFETY: getegid has no preconditions and cannot fail.
    unsafe { libc::getegid() }
}

/// Looks up `user` (a name, or a number when no such name exists) and `group` (same; empty:
/// the user's primary group).
///
/// # Errors
/// An unknown name, or a lookup failure of the name service.
pub fn resolve(user: &str, group: &str) -> Result<Target, PrivError> {
    let (uid, user_gid, user_c) = if user.is_empty() {
        (euid(), egid(), None)
    } else {
        match getpwnam(user)? {
            Some((uid, gid)) => (uid, gid, Some(cstring(user)?)),
            None => match user.parse::<u32>() {
                Ok(uid) => (uid, uid, None),
                Err(_) => return Err(PrivError(format!("user {user:?}: no such user"))),
            },
        }
    };
    let gid = if group.is_empty() {
        user_gid
    } else {
        match getgrnam(group)? {
            Some(gid) => gid,
            None => group
                .parse::<u32>()
                .map_err(|_| PrivError(format!("group {group:?}: no such group")))?,
        }
    };
    let label = format!(
        "{}:{}",
        if user.is_empty() {
            uid.to_string()
        } else {
            user.to_string()
        },
        if group.is_empty() {
            gid.to_string()
        } else {
            group.to_string()
        }
    );
    Ok(Target {
        uid,
        gid,
        user: user_c,
        label,
    })
}

fn cstring(s: &str) -> Result<CString, PrivError> {
    CString::new(s).map_err(|_| PrivError(format!("{s:?}: contains a NUL byte")))
}

/// `getpwnam_r`: uid and primary gid of `name`, `None` if there is no such user.
fn getpwnam(name: &str) -> Result<Option<(u32, u32)>, PrivError> {
    let c = cstring(name)?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: an all-zero passwd is a valid value of a plain C struct (null pointers).
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `c` is NUL-terminated; `pw`, `buf` (with its true length) and `out` are valid
        // for writes for the duration of the call; the strings written into `buf` are not used
        // after it is dropped.
        let rc = unsafe {
            libc::getpwnam_r(
                c.as_ptr(),
                &mut pw,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut out,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 {
            return Err(PrivError(format!(
                "user {name:?}: lookup failed: {}",
                io::Error::from_raw_os_error(rc)
            )));
        }
        return Ok((!out.is_null()).then_some((pw.pw_uid, pw.pw_gid)));
    }
}

/// `getgrnam_r`: gid of `name`, `None` if there is no such group.
fn getgrnam(name: &str) -> Result<Option<u32>, PrivError> {
    let c = cstring(name)?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: an all-zero group is a valid value of a plain C struct (null pointers).
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::group = std::ptr::null_mut();
        // SAFETY: as for getpwnam_r above.
        let rc = unsafe {
            libc::getgrnam_r(
                c.as_ptr(),
                &mut gr,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut out,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 {
            return Err(PrivError(format!(
                "group {name:?}: lookup failed: {}",
                io::Error::from_raw_os_error(rc)
            )));
        }
        return Ok((!out.is_null()).then_some(gr.gr_gid));
    }
}

/// Switches the whole process to `t` for good (real, effective and saved ids) and verifies it.
/// A no-op when the process already runs as exactly `t`.
///
/// # Errors
/// Not root (and not already `t`), or a set*id call failed, or the check after it shows that
/// root could be regained.
pub fn drop_to(t: &Target) -> Result<(), PrivError> {
    let (ruid, euid_, suid) = resuid();
    let (rgid, egid_, sgid) = resgid();
    if [ruid, euid_, suid] == [t.uid; 3] && [rgid, egid_, sgid] == [t.gid; 3] {
        return Ok(());
    }
    if euid_ != 0 {
        return Err(PrivError(format!(
            "cannot switch to {}: running as uid {euid_}, not root",
            t.label
        )));
    }
    let os = |what: &str| {
        PrivError(format!(
            "switching to {}: {what}: {}",
            t.label,
            io::Error::last_os_error()
        ))
    };
    match &t.user {
        // SAFETY: `u` is a NUL-terminated string that outlives the call.
        Some(u) => {
            if unsafe { libc::initgroups(u.as_ptr(), t.gid) } != 0 {
                return Err(os("initgroups"));
            }
        }
        None => {
            let g = [t.gid];
            // SAFETY: `g` is a valid array of one gid_t for the duration of the call.
            if unsafe { libc::setgroups(1, g.as_ptr()) } != 0 {
                return Err(os("setgroups"));
            }
        }
    }
    // SAFETY: plain syscall wrappers on integer arguments.
    if unsafe { libc::setresgid(t.gid, t.gid, t.gid) } != 0 {
        return Err(os("setresgid"));
    }
    // SAFETY: as above. glibc applies set*id calls to every thread of the process.
    if unsafe { libc::setresuid(t.uid, t.uid, t.uid) } != 0 {
        return Err(os("setresuid"));
    }
    verify(t)
}

fn resuid() -> (u32, u32, u32) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: the three pointers are valid, distinct u32 locations.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

fn resgid() -> (u32, u32, u32) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: the three pointers are valid, distinct u32 locations.
    unsafe { libc::getresgid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

/// Checks that real/effective/saved ids are `t`'s, that root cannot be regained, and (for a
/// non-root target) that no capability is left in the effective or permitted set.
fn verify(t: &Target) -> Result<(), PrivError> {
    let fail = |m: String| Err(PrivError(format!("after switching to {}: {m}", t.label)));
    if resuid() != (t.uid, t.uid, t.uid) || resgid() != (t.gid, t.gid, t.gid) {
        return fail(format!("ids are uid {:?} gid {:?}", resuid(), resgid()));
    }
    if t.uid == 0 {
        return Ok(());
    }
    // SAFETY: plain syscall wrapper; it must fail here, and if it does not we abort the start.
    if unsafe { libc::setuid(0) } == 0 {
        return fail("setuid(0) still succeeds".into());
    }
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    for line in status.lines() {
        if let Some(v) = line
            .strip_prefix("CapEff:")
            .or_else(|| line.strip_prefix("CapPrm:"))
        {
            if v.trim().bytes().any(|b| b != b'0') {
                return fail(format!("capabilities left: {}", line.trim()));
            }
        }
    }
    Ok(())
}

/// Whether the calling thread's effective or permitted capability set is non-empty.
pub fn has_capabilities() -> bool {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    status.lines().any(|line| {
        line.strip_prefix("CapEff:")
            .or_else(|| line.strip_prefix("CapPrm:"))
            .is_some_and(|v| v.trim().bytes().any(|b| b != b'0'))
    })
}

/// Empties the effective, permitted and inheritable capability sets (and with them the
/// ambient set) of a non-root process, e.g. the `CAP_NET_RAW CAP_NET_ADMIN` systemd granted
/// for opening the capture: the open socket keeps working without them. Capabilities are
/// per thread: call it before any other thread exists (threads inherit the empty sets).
///
/// # Errors
/// `capset` failed (a seccomp filter denying it, for one).
pub fn drop_capabilities() -> Result<(), PrivError> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    // _LINUX_CAPABILITY_VERSION_3: two `Data` words (capabilities 0-31 and 32-63).
    let mut header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset(2) reads one header and, for version 3, two data structs; both are
    // valid, properly laid out (#[repr(C)]) and live for the duration of the call.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if rc != 0 {
        return Err(PrivError(format!("capset: {}", io::Error::last_os_error())));
    }
    if has_capabilities() {
        return Err(PrivError("capabilities still present after capset".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_resolves_to_zero() {
        let t = resolve("root", "").unwrap();
        assert_eq!((t.uid, t.gid), (0, 0));
    }

    #[test]
    fn unknown_user_is_an_error() {
        let e = resolve("nsm-no-such-user-xyz", "").unwrap_err();
        assert!(e.0.contains("no such user"), "{e}");
        let e = resolve("", "nsm-no-such-group-xyz").unwrap_err();
        assert!(e.0.contains("no such group"), "{e}");
    }

    #[test]
    fn numeric_ids_are_accepted() {
        let t = resolve("65533", "65532").unwrap();
        assert_eq!((t.uid, t.gid), (65533, 65532));
        assert!(t.user.is_none());
    }

    #[test]
    fn dropping_to_self_is_a_no_op() {
        let t = Target {
            uid: euid(),
            gid: egid(),
            user: None,
            label: "self".into(),
        };
        // Only a no-op when real and saved ids equal the effective ones (they do in tests).
        if resuid() == (t.uid, t.uid, t.uid) && resgid() == (t.gid, t.gid, t.gid) {
            drop_to(&t).unwrap();
        }
    }
}
