//! The compiled rule set: a rule model with the matchers built over it (the header index and
//! the content prefilter) and a generation number. Immutable once built, shared as
//! `Arc<RuleSet>` and swapped whole on reload.
//!
//! Identity is the generation, never the address: a freed set's memory can hold the next one,
//! and state that depends on the set (the suppress/rate_filter index, flowbit numbering, the
//! flow-tracking decision) must be rebuilt for every new set, however quiet the link.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::content::{FpClass, Prefilter, Scratch};
use super::index::{self, HeaderKey, Index};
use super::payload::Buffers;
use crate::rules::{Buffer, Model, PortSet, RateFilter, Rule, RuleId, Suppress, Tag};

/// Snort's snort.conf `$HTTP_PORTS` (the built-in variable), for models built without a load.
fn default_http_ports() -> PortSet {
    let vars = crate::rules::vars::defaults();
    vars.get("HTTP_PORTS")
        .and_then(|v| crate::rules::addr::parse_ports(v, 0, &vars).ok())
        .unwrap_or_else(|| PortSet {
            ranges: vec![(80, 80)],
        })
}

/// The last generation handed out; the first set built gets 1.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// An immutable, compiled rule set.
#[derive(Debug)]
pub struct RuleSet {
    pub(in crate::detect) rules: Vec<Rule>,
    pub(in crate::detect) flowbit_names: Vec<String>,
    pub(in crate::detect) suppress: Vec<Suppress>,
    pub(in crate::detect) rate_filters: Vec<RateFilter>,
    /// The rules' `tag:` options by (gid, sid) ([`Model::tags`]).
    tags: BTreeMap<(u32, u32), Tag>,
    /// The header index over the rules without a fast pattern.
    pub(in crate::detect) index: Index,
    /// The Aho–Corasick prefilter over the rules with a fast pattern: they become candidates
    /// only when their fast pattern occurs in the payload ([`RuleSet::candidates`]).
    pub(in crate::detect) prefilter: Prefilter,
    /// The prefilters of the rules whose fast pattern lies in an HTTP buffer (URI, header,
    /// client body, in [`FpClass::ALL`] order after the payload): scanned only over those
    /// buffers of a rebuilt HTTP message ([`RuleSet::message_candidates`]).
    pub(in crate::detect) http_prefilters: [Prefilter; 3],
    /// Server ports whose TCP streams are reassembled and inspected as HTTP (`$HTTP_PORTS`).
    pub(in crate::detect) http_ports: PortSet,
    generation: u64,
}

impl Default for RuleSet {
    /// An empty set, with a generation of its own.
    fn default() -> Self {
        RuleSet::compile(Model::default())
    }
}

impl RuleSet {
    /// Builds the matchers over `model` and gives the set a new generation number.
    pub fn compile(model: Model) -> RuleSet {
        let Model {
            rules,
            flowbit_names,
            suppress,
            rate_filters,
            tags,
            http_ports,
        } = model;
        let http_ports = http_ports.unwrap_or_else(default_http_ports);
        let index = Index::build(&rules);
        let prefilter = Prefilter::build(&rules);
        let http_prefilters = [FpClass::Uri, FpClass::Header, FpClass::ClientBody]
            .map(|c| Prefilter::build_class(&rules, c));
        RuleSet {
            rules,
            flowbit_names,
            suppress,
            rate_filters,
            tags,
            index,
            prefilter,
            http_prefilters,
            http_ports,
            generation: GENERATION.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }

    /// A number no other set built by this process has: what "a new rule set" means.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The rules, in load order: a [`RuleId`] is a position here.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Rule `id`, if there is one.
    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.get(id as usize)
    }

    /// The `tag:` option of rule gid:sid, if it has one: what the evidence store keeps after
    /// that rule's event ([`crate::rules::Tag`]).
    pub fn tag(&self, gid: u32, sid: u32) -> Option<&Tag> {
        self.tags.get(&(gid, sid))
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Flowbit names; a flowbit id is a position here.
    pub fn flowbit_names(&self) -> &[String] {
        &self.flowbit_names
    }

    pub fn suppress(&self) -> &[Suppress] {
        &self.suppress
    }

    pub fn rate_filters(&self) -> &[RateFilter] {
        &self.rate_filters
    }

    /// The server ports whose streams are inspected as HTTP.
    pub fn http_ports(&self) -> &PortSet {
        &self.http_ports
    }

    /// The header index's size: (boundary ranges, distinct rule-id sets).
    pub fn index_size(&self) -> (usize, usize) {
        self.index.size()
    }

    /// The prefilters' size: (rules keyed on a fast pattern, automata), over the payload and
    /// the HTTP buffers.
    pub fn prefilter_size(&self) -> (usize, usize) {
        std::iter::once(&self.prefilter)
            .chain(self.http_prefilters.iter())
            .map(Prefilter::size)
            .fold((0, 0), |(k, a), (k2, a2)| (k + k2, a + a2))
    }

    /// A prefilter scratch that fits this set, for [`RuleSet::candidates`].
    pub fn scratch(&self) -> Scratch {
        self.prefilter.scratch()
    }

    /// Whether [`RuleSet::prefetch_v4`] does anything for this set (a large IPv4 list): when it
    /// does not, the caller need not read the packet's addresses ahead of decoding.
    pub fn prefetches(&self) -> bool {
        self.index.prefetches()
    }

    /// Starts loading what the header index reads for a packet between these IPv4 addresses:
    /// call it as soon as they are known, well before [`RuleSet::candidates`].
    pub fn prefetch_v4(&self, src: u32, dst: u32) {
        self.index.prefetch_v4(src, dst);
    }

    /// Appends to `out` the ids of the rules without a fast pattern whose protocol, addresses,
    /// ports and direction match `key`, in ascending id order, each once. `out` is cleared
    /// first. Costs one or two index lookups whatever the number of rules and addresses;
    /// allocates nothing once `out` has grown.
    pub fn header_candidates(&self, key: &HeaderKey, out: &mut Vec<RuleId>) {
        self.index.candidates(&self.rules, key, out);
    }

    /// Whether rule `id`'s header (protocol, addresses, ports, direction) matches `key`.
    pub fn header_matches(&self, id: RuleId, key: &HeaderKey) -> bool {
        self.rule(id).is_some_and(|r| index::header_matches(r, key))
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
        self.prefilter.scan(key, payload, scratch);
        self.merge_prefiltered(key, scratch, out);
    }

    /// [`RuleSet::candidates`] for a rebuilt message with its buffers: the header index's
    /// rules, the payload prefilter over the message bytes and `file_data` (when it is not the
    /// same bytes), and each HTTP prefilter over its own buffer. Ascending, unique.
    pub fn message_candidates(
        &self,
        key: &HeaderKey,
        bufs: &Buffers<'_>,
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) {
        self.header_candidates(key, out);
        scratch.fit(&self.prefilter);
        let pkt = bufs.get(Buffer::Pkt).unwrap_or(&[]);
        self.prefilter.scan(key, pkt, scratch);
        if let Some(body) = bufs.get(Buffer::FileData) {
            if !std::ptr::eq(body, pkt) {
                self.prefilter.scan_also(key, body, scratch);
            }
        }
        for (p, b) in
            self.http_prefilters
                .iter()
                .zip([Buffer::Uri, Buffer::Header, Buffer::ClientBody])
        {
            if let Some(data) = bufs.get(b) {
                p.scan_also(key, data, scratch);
            }
        }
        self.merge_prefiltered(key, scratch, out);
    }

    /// Appends to `out` (the header index's answer) the prefilter's candidates whose header
    /// matches `key`. Both lists are ascending and disjoint (a rule with a fast pattern is not
    /// in the header index): a sort of a nearly sorted short list.
    fn merge_prefiltered(&self, key: &HeaderKey, scratch: &Scratch, out: &mut Vec<RuleId>) {
        let before = out.len();
        out.extend(
            scratch
                .candidates()
                .iter()
                .copied()
                .filter(|&id| self.header_matches(id, key)),
        );
        if before > 0 && out.len() > before {
            out.sort_unstable();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_has_its_own_generation() {
        let a = RuleSet::default();
        let b = RuleSet::default();
        assert_ne!(a.generation(), b.generation());
        assert!(a.generation() > 0 && b.generation() > 0);
    }

    #[test]
    fn a_set_built_where_a_freed_one_lived_is_still_new() {
        // The allocator readily hands a freed block of the same size to the next request:
        // identity by address would take the second set for the first.
        let first = Box::new(RuleSet::default());
        let (addr, generation) = (&*first as *const RuleSet as usize, first.generation());
        drop(first);
        let second = Box::new(RuleSet::default());
        let same_place = &*second as *const RuleSet as usize == addr;
        assert_ne!(second.generation(), generation, "same place: {same_place}");
    }
}
