//! Suricata EVE JSON `event_type: "alert"` records ([`format_alert`]), laid out as Suricata 7
//! writes them and valid against its `etc/schema.json` (closed objects: only keys it knows).
//! Pure formatting; the file is in [`super::Outputs`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{Local, TimeZone, Utc};
use serde::Serialize;

use super::AlertEvent;
use crate::config::Timestamps;
use crate::decode::{vlan_ids, Transport};

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
        pkt_src: "wire/pcap",
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
    // Serializing plain structs of strings and numbers into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &record);
    out.push(b'\n');
}
