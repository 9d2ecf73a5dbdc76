//! Snort rule text → the rule model ([`Model`]): what each rule says, with variables expanded
//! and address and port sets normalised.
//!
//! `parse` turns text into an AST with spans; `compile` expands variables and normalises
//! address and port sets; `load` reads files (`include`, directories), classification.config,
//! reference.config and threshold.conf and collects every diagnostic. Nothing here touches
//! packets: the matchers built from a model (header index, content prefilter) are
//! `detect`'s ([`crate::detect::RuleSet`]).

pub mod addr;
pub mod classify;
pub mod compile;
pub mod load;
pub mod model;
pub mod option_values;
pub mod options;
pub mod parse;
pub mod payload_values;
pub mod pcre;
pub mod threshold_conf;
pub mod vars;

use std::collections::BTreeMap;

pub use crate::diag::Diagnostic;
pub use load::{load, FileReport, LoadOptions, LoadReport};
pub use model::*;

/// The highest option tier (DESIGN.md "Semantics") whose rules load; rules using options of a
/// higher tier are parsed, compiled as far as their tier allows, and skipped with a reason.
pub const SUPPORTED_TIER: u8 = 2;

/// What a load produced, before anything is compiled for matching: the rules in load order
/// (a rule's [`RuleId`] is its position), the flowbit names they use, threshold.conf's
/// suppress and rate_filter entries, and the rules' `tag` options. `detect::RuleSet::compile`
/// turns it into matchers.
#[derive(Debug, Default, Clone)]
pub struct Model {
    pub rules: Vec<Rule>,
    /// Flowbit names; a [`FlowbitId`] is a position here.
    pub flowbit_names: Vec<String>,
    pub suppress: Vec<Suppress>,
    pub rate_filters: Vec<RateFilter>,
    /// The `tag:` option of every loaded rule that has one, by (gid, sid). Kept beside
    /// [`Rule`] rather than in it: few rules tag, nothing in matching reads it, and rules
    /// built by hand (tests, benches, `update`) need not name it.
    pub tags: BTreeMap<(u32, u32), Tag>,
    /// `$HTTP_PORTS` as the load resolved it (config `[vars]` or Snort's snort.conf list): the
    /// server ports whose TCP streams are inspected as HTTP. `None` (a model built by hand):
    /// Snort's default list.
    pub http_ports: Option<PortSet>,
}
