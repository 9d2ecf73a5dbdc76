//! Snort rule text → immutable [`RuleSet`].
//!
//! `parse` turns text into an AST with spans; `compile` expands variables, normalises address
//! and port sets and builds the address index; `load` reads files (`include`, directories),
//! classification.config, reference.config and threshold.conf and collects every diagnostic.
//! Nothing here touches packets at match time beyond the header index lookup.

pub mod model;

pub use model::*;

use std::net::IpAddr;

/// The header fields of a packet the address/port index needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderKey {
    /// IP protocol number of the transport (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, …).
    pub ip_proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Ports only for unfragmented (or first-fragment) TCP/UDP with a decoded header.
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

/// An immutable, compiled rule set. Cheap to share (`Arc<RuleSet>`), swapped whole on reload.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub flowbit_names: Vec<String>,
    pub suppress: Vec<Suppress>,
    pub rate_filters: Vec<RateFilter>,
}

impl RuleSet {
    /// Appends to `out` the ids of the rules whose protocol, addresses, ports and direction
    /// match `key`, in ascending id order, each once. `out` is cleared first. Costs one or two
    /// index lookups whatever the number of rules and addresses; allocates nothing once `out`
    /// has grown.
    pub fn header_candidates(&self, key: &HeaderKey, out: &mut Vec<RuleId>) {
        let _ = key;
        out.clear();
        todo!("rules index")
    }
}
