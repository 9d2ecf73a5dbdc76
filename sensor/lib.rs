//! nsm-sensor: a network security monitoring sensor.
//!
//! The library holds every stage of the pipeline; `main.rs` is glue that maps the command
//! line onto it. Module map, in the order packets flow:
//!
//! | module | owns |
//! |---|---|
//! | [`cli`] | argument structs (clap derive) |
//! | [`safefs`] | creating, opening and deleting files without following planted links |
//! | [`config`] | the TOML schema, defaults and validation |
//! | [`diag`] | located diagnostics (`path:line:col: message`) |
//! | [`pcap`] | the one pcap/pcapng reader and writer (sizes never trusted) |
//! | [`capture`] | `PacketSource` (live, offline pcap, in-memory) and `RawPacket` |
//! | [`decode`] | zero-copy packet views and the summary detection needs |
//! | [`rules`] | Snort rule text → the rule model ([`rules::Model`]) |
//! | [`detect`] | the compiled [`detect::RuleSet`] (header index, prefilter), matching, flow table and thresholds (state kept outside the `RuleSet`) |
//! | [`output`] | Snort `alert`/`alert.fast` and Suricata EVE writers |
//! | [`ring`] | the rotating pcap ring |
//! | [`evidence`] | the evidence store: each alert's conversation in a pcap the ring never rotates away |
//! | [`pipeline`] | decode → detect → outputs → ring for one packet, shared by `run` and `replay` |
//! | [`investigate`] | `info`, `carve`, `investigate` (read-only over ring and logs) |
//! | [`daemon`] | the live sensor: capture thread, signals, reload, stats, systemd |
//! | [`console`] | `nsm-sensor console`: the read-only web console over the logs, ring, evidence store and rules |
//! | [`update`] | `nsm-sensor update`: fetch rule sources, build, validate and switch rule set versions |
#![deny(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod config;
pub mod console;
pub mod daemon;
pub mod decode;
pub mod detect;
pub mod diag;
pub mod evidence;
pub mod investigate;
pub mod output;
pub mod pcap;
pub mod pipeline;
pub mod ring;
pub mod rules;
pub mod safefs;
pub mod update;
