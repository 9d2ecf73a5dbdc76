//! Snort rule text → immutable [`RuleSet`].
//!
//! `parse` turns text into an AST with spans; `compile` expands variables, normalises address
//! and port sets and builds the address index; `load` reads files (`include`, directories),
//! classification.config, reference.config and threshold.conf and collects every diagnostic.
//! Nothing here touches packets at match time beyond the header index lookup.

pub mod addr;
pub mod classify;
pub mod compile;
pub mod index;
pub mod load;
pub mod model;
pub mod option_values;
pub mod options;
pub mod parse;
pub mod threshold_conf;
pub mod vars;

pub use load::{load, Diagnostic, FileReport, LoadOptions, LoadReport};
pub use model::*;

/// The highest option tier (DESIGN.md "Semantics") whose rules load; rules using options of a
/// higher tier are parsed, compiled as far as their tier allows, and skipped with a reason.
pub const SUPPORTED_TIER: u8 = 2;

use std::net::IpAddr;

pub use crate::detect::content::{Prefilter, Scratch};

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
    /// The header index over `rules`, built by [`RuleSet::new`] or [`RuleSet::rebuild_index`].
    /// A set assembled by hand without it still answers [`RuleSet::header_candidates`], by a
    /// linear scan (over every rule, content rules included).
    pub index: index::Index,
    /// The Aho–Corasick prefilter over the rules with a fast pattern, built with `index`.
    /// Those rules are left out of `index`: they become candidates only when their fast
    /// pattern occurs in the payload ([`RuleSet::candidates`]).
    pub prefilter: Prefilter,
}

impl RuleSet {
    /// Appends to `out` the ids of the rules whose protocol, addresses, ports and direction
    /// match `key`, in ascending id order, each once. `out` is cleared first. Costs one or two
    /// index lookups whatever the number of rules and addresses; allocates nothing once `out`
    /// has grown.
    pub fn header_candidates(&self, key: &HeaderKey, out: &mut Vec<RuleId>) {
        if self.index.is_built_for(self.rules.len()) {
            self.index.candidates(&self.rules, key, out);
        } else {
            out.clear();
            for (i, r) in self.rules.iter().enumerate() {
                if index::header_matches(r, key) {
                    out.extend(RuleId::try_from(i).ok());
                }
            }
        }
    }

    /// Whether rule `id`'s header (protocol, addresses, ports, direction) matches `key`.
    pub fn header_matches(&self, id: RuleId, key: &HeaderKey) -> bool {
        self.rules
            .get(id as usize)
            .is_some_and(|r| index::header_matches(r, key))
    }

    /// Writes to `out` (cleared first) every rule that may match a packet with header `key`
    /// and `payload`, in ascending id order: the header index's answer merged with the content
    /// rules whose fast pattern occurs in `payload` and whose header matches. Allocates nothing
    /// once `out` has grown and `scratch` fits this set ([`Scratch::fit`]).
    pub fn candidates(
        &self,
        key: &HeaderKey,
        payload: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) {
        self.header_candidates(key, out);
        if !self.prefilter.is_built_for(self.rules.len())
            || !self.index.is_built_for(self.rules.len())
        {
            // A hand-assembled set: the linear scan above already saw every rule.
            return;
        }
        self.prefilter.scan(key, payload, scratch);
        let before = out.len();
        out.extend(
            scratch
                .candidates()
                .iter()
                .copied()
                .filter(|&id| self.header_matches(id, key)),
        );
        if before > 0 && out.len() > before {
            // Both lists are ascending and disjoint: a sort of a nearly sorted short list.
            out.sort_unstable();
        }
    }

    /// A rule set with its index built.
    pub fn new(
        rules: Vec<Rule>,
        flowbit_names: Vec<String>,
        suppress: Vec<Suppress>,
        rate_filters: Vec<RateFilter>,
    ) -> Self {
        let index = index::Index::build(&rules);
        let prefilter = Prefilter::build(&rules);
        RuleSet {
            rules,
            flowbit_names,
            suppress,
            rate_filters,
            index,
            prefilter,
        }
    }

    /// Rebuilds the index after `rules` was changed by hand.
    pub fn rebuild_index(&mut self) {
        self.index = index::Index::build(&self.rules);
        self.prefilter = Prefilter::build(&self.rules);
    }
}
