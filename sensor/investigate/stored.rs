//! `investigate` over the evidence store: finding the event that holds an alert's
//! conversation (by its sidecar: same conversation, the alert's time inside the event's
//! window) and `investigate --list`, the alerts with evidence and its size. Read-only.

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;

use serde_json::{json, Value};

use super::{Error, Time};
use crate::decode::community_id;
use crate::evidence::{self, ConvKey, Listed};
use crate::output::snort;

/// The conversation an EVE alert names: its protocol and endpoints (ports only for the
/// protocols that have them). `None` when the alert lacks addresses.
pub fn alert_key(alert: &Value) -> Option<ConvKey> {
    let ip = |k: &str| {
        alert
            .get(k)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<IpAddr>().ok())
    };
    let port = |k: &str| {
        alert
            .get(k)
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0)
    };
    let proto = match alert.get("proto")? {
        Value::String(s) => match s.to_ascii_uppercase().as_str() {
            "TCP" => 6,
            "UDP" => 17,
            "ICMP" => 1,
            "IPV6-ICMP" | "ICMPV6" => 58,
            "SCTP" => 132,
            n => n.parse().ok()?,
        },
        Value::Number(n) => u8::try_from(n.as_u64()?).ok()?,
        _ => return None,
    };
    let key = ConvKey::new(proto, ip("src_ip")?, 0, ip("dest_ip")?, 0);
    if key.has_ports() {
        Some(ConvKey::new(
            proto,
            ip("src_ip")?,
            port("src_port"),
            ip("dest_ip")?,
            port("dest_port"),
        ))
    } else {
        Some(key)
    }
}

/// The Community ID (v1, seed 0) of an EVE alert: its `community_id`, else computed from its
/// protocol, addresses and ports (ICMP: type and code), as an alert logged before the field
/// existed has none.
pub fn alert_community_id(alert: &Value) -> Option<String> {
    if let Some(id) = alert.get("community_id").and_then(Value::as_str) {
        return Some(id.to_string());
    }
    let key = alert_key(alert)?;
    let ip = |k: &str| alert.get(k)?.as_str()?.parse::<IpAddr>().ok();
    let num = |k: &str| {
        alert
            .get(k)
            .and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok())
    };
    let (sp, dp) = match key.proto {
        1 | 58 => (num("icmp_type")?, num("icmp_code")?),
        _ if key.has_ports() => (num("src_port")?, num("dest_port")?),
        _ => (0, 0),
    };
    Some(community_id::community_id(
        community_id::DEFAULT_SEED,
        key.proto,
        ip("src_ip")?,
        ip("dest_ip")?,
        sp,
        dp,
    ))
}

/// The stored event holding `key` at time `t`, if any (the newest when several do). A
/// store that does not exist holds nothing.
pub fn find(dir: &Path, key: &ConvKey, t: Time) -> Option<Listed> {
    let us = t.as_micros();
    evidence::list(dir)
        .ok()?
        .into_iter()
        .filter(|l| l.sidecar.covers(key, us))
        .max_by_key(|l| l.sidecar.first_alert_us)
}

/// The events in the store, oldest first.
///
/// # Errors
/// The store directory cannot be read (`NotFound` when it does not exist).
pub fn list(dir: &Path) -> Result<Vec<Listed>, Error> {
    evidence::list(dir).map_err(|e| {
        let kind = if e.kind() == io::ErrorKind::NotFound {
            super::ErrorKind::NotFound
        } else {
            super::ErrorKind::Io
        };
        Error::at(
            kind,
            dir,
            None,
            format!("cannot read the evidence store: {e}"),
        )
    })
}

fn time(us: i64) -> String {
    Time::new(
        us.div_euclid(1_000_000),
        (us.rem_euclid(1_000_000) * 1000) as u32,
    )
    .to_utc()
    .format("%Y-%m-%d %H:%M:%S%.6f")
    .to_string()
}

/// Rule text from a sidecar, with control characters neutralised.
fn printable(s: &str) -> String {
    let mut v = Vec::with_capacity(s.len());
    snort::write_text(&mut v, s);
    String::from_utf8_lossy(&v).into_owned()
}

/// `investigate --list` as text: one block per event, newest last.
///
/// # Errors
/// A write failure of `w`.
pub fn write_list(events: &[Listed], w: &mut impl Write) -> io::Result<()> {
    if events.is_empty() {
        return writeln!(w, "no evidence stored");
    }
    let total: u64 = events.iter().map(|l| l.size).sum();
    writeln!(
        w,
        "{} event(s) with evidence, {} bytes in all (times UTC):",
        events.len(),
        total
    )?;
    for l in events {
        let s = &l.sidecar;
        let key = ConvKey::new(s.proto, s.src_ip, s.src_port, s.dest_ip, s.dest_port);
        let ep = |ip: IpAddr, port: u16| match (key.has_ports(), ip) {
            (false, _) => ip.to_string(),
            (true, IpAddr::V4(_)) => format!("{ip}:{port}"),
            (true, IpAddr::V6(_)) => format!("[{ip}]:{port}"),
        };
        let sigs: Vec<String> = s
            .alerts
            .iter()
            .map(|a| format!("[{}:{}:{}] {}", a.gid, a.sid, a.rev, printable(&a.msg)))
            .collect();
        writeln!(
            w,
            "\n{}  {} {} -> {}  {} alert(s): {}",
            time(s.first_alert_us),
            evidence::key::proto_name(s.proto),
            ep(s.src_ip, s.src_port),
            ep(s.dest_ip, s.dest_port),
            s.alert_count,
            sigs.join("; ")
        )?;
        let mut notes = Vec::new();
        if s.truncated {
            notes.push("cut at a per-event limit".to_string());
        }
        if s.lost > 0 {
            notes.push(format!("{} packet(s) lost", s.lost));
        }
        let state = match s.state {
            evidence::State::Open => "being written",
            evidence::State::Closed => "closed",
            evidence::State::Repaired => "repaired after a crash",
        };
        writeln!(
            w,
            "  {} packets, {} bytes, {} to {}, {state}{}",
            s.packets,
            l.size,
            time(s.from_us),
            time(s.until_us),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join(", "))
            }
        )?;
        writeln!(w, "  {}", l.path.display())?;
    }
    Ok(())
}

/// `investigate --list --json`: an array of the sidecars with `path` and `size` added.
pub fn list_json(events: &[Listed]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|l| {
                let mut v = serde_json::to_value(&l.sidecar).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    m.insert("path".into(), json!(l.path.display().to_string()));
                    m.insert("size".into(), json!(l.size));
                }
                v
            })
            .collect(),
    )
}
