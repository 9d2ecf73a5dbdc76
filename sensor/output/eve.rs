//! Suricata EVE JSON `event_type: "alert"` records ([`format_alert`]), laid out as Suricata 7
//! writes them with `community-id: yes` (seed 0) and valid against its `etc/schema.json`
//! (closed objects: only keys it knows). Pure formatting; the file is in [`super::Outputs`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{Local, TimeZone, Utc};
use serde::Serialize;

use super::AlertEvent;
use crate::config::Timestamps;
use crate::decode::{community_id, vlan_ids, Transport};

#[derive(Serialize)]
struct Record<'a> {
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_id: Option<u64>,
    event_type: &'static str,
    #[serde(skip_serializing_if = "<[u16]>::is_empty")]
    vlan: &'a [u16],
    src_ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_port: Option<u16>,
    dest_ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    dest_port: Option<u16>,
    proto: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icmp_code: Option<u8>,
    pkt_src: &'static str,
    /// Suricata writes it last of the header (`EveAddCommonOptions`, after `pkt_src`, before
    /// the event's own object); absent when the packet lacks the tuple.
    #[serde(skip_serializing_if = "Option::is_none")]
    community_id: Option<String>,
    alert: Alert<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capture_file: Option<&'a str>,
}

#[derive(Serialize)]
struct Alert<'a> {
    action: &'static str,
    gid: u32,
    signature_id: u32,
    rev: u32,
    signature: &'a str,
    category: &'a str,
    severity: u32,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<&'a str, Vec<&'a str>>,
}

/// Suricata's timestamp: `2007-02-21T10:17:54.366236+0000` (local offset as `+hhmm`).
pub fn timestamp(sec: i64, usec: u32, tz: Timestamps) -> String {
    let utc = Utc
        .timestamp_opt(sec, usec.min(999_999) * 1000)
        .single()
        .unwrap_or_default();
    const FMT: &str = "%Y-%m-%dT%H:%M:%S%.6f%z";
    match tz {
        Timestamps::Utc => utc.format(FMT).to_string(),
        Timestamps::Local => utc.with_timezone(&Local).format(FMT).to_string(),
    }
}

/// EVE's `proto`: Suricata's names for the protocols it decodes, else the number.
fn proto(n: u8) -> Cow<'static, str> {
    match n {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        58 => "IPv6-ICMP".into(),
        n => n.to_string().into(),
    }
}

/// Appends one EVE alert line (newline included). Text is escaped by serde_json, so a rule
/// `msg` with quotes, newlines or control bytes stays one valid JSON line.
pub fn format_alert(ev: &AlertEvent<'_>, tz: Timestamps, out: &mut Vec<u8>) {
    let (rule, p) = (ev.rule, ev.pkt);
    let vlans = vlan_ids(ev.linktype, p.frame);
    let (icmp_type, icmp_code) = match p.transport {
        Transport::Icmp { itype, icode, .. } | Transport::Icmpv6 { itype, icode, .. } => {
            (Some(itype), Some(icode))
        }
        _ => (None, None),
    };
    // `metadata: key value, …` → Suricata's object of arrays, values in rule order.
    let mut metadata: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for entry in &rule.metadata {
        let entry = entry.trim();
        let (key, value) = entry.split_once(char::is_whitespace).unwrap_or((entry, ""));
        let value = value.trim();
        if !key.is_empty() && !value.is_empty() {
            metadata.entry(key).or_default().push(value);
        }
    }
    let record = Record {
        timestamp: timestamp(p.ts_sec, p.ts_usec, tz),
        flow_id: (ev.flow_id != 0).then_some(ev.flow_id),
        event_type: "alert",
        vlan: vlans.as_slice(),
        src_ip: p.src,
        src_port: p.sport(),
        dest_ip: p.dst,
        dest_port: p.dport(),
        proto: proto(p.ip_proto),
        icmp_type,
        icmp_code,
        pkt_src: ev.pkt_src.as_str(),
        // Here, per alert written, never per packet.
        community_id: community_id::for_packet(community_id::DEFAULT_SEED, p),
        alert: Alert {
            action: "allowed",
            gid: rule.gid,
            signature_id: rule.sid,
            rev: rule.rev,
            signature: &rule.msg,
            category: rule.class_desc.as_deref().unwrap_or(""),
            severity: rule.priority,
            metadata,
        },
        capture_file: ev.capture_file,
    };
    let start = out.len();
    // Serializing plain structs of strings and numbers into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &record);
    escape_line_breakers(out, start);
    out.push(b'\n');
}

/// serde_json escapes only what JSON requires (`"`, `\\`, U+0000–U+001F). Readers that split
/// lines on more than `\n` (Python's `str.splitlines`, JavaScript before ES2019, terminals)
/// would still see a break or a control in DEL, the C1 controls (NEL U+0085 among them) and
/// U+2028/U+2029, so those are escaped too. They only occur inside strings, where `\uXXXX`
/// means the same character.
fn escape_line_breakers(out: &mut Vec<u8>, start: usize) {
    // 0x7f is DEL; C1 controls are 0xC2 0x80..=0x9F; U+2028/9 are 0xE2 0x80 0xA8/0xA9.
    if !out[start..]
        .iter()
        .any(|&b| b == 0x7f || b == 0xc2 || b == 0xe2)
    {
        return;
    }
    let tail = out.split_off(start);
    let text = String::from_utf8_lossy(&tail);
    for c in text.chars() {
        if c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) || c == '\u{2028}' || c == '\u{2029}'
        {
            out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}
