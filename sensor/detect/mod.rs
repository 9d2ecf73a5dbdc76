//! Matching: the compiled [`RuleSet`] (header index and content prefilter over a rule model)
//! → flags → header tests and content → flow/flowbits → thresholds. State (flows, trackers)
//! lives in the engine, outside the `RuleSet`, so a reload keeps it.

pub mod content;
pub mod defrag;
pub mod engine;
pub mod flow;
pub mod http;
pub mod index;
pub mod lru;
pub mod messages;
pub mod payload;
mod prefetch;
pub mod ruleset;
pub mod stream;
pub mod threshold;

pub use content::{Prefilter, Scratch};
pub use index::HeaderKey;
pub use ruleset::RuleSet;

/// Limits and timeouts of the detection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectOptions {
    pub flow_memcap: usize,
    pub tcp_timeout_s: u32,
    pub tcp_new_timeout_s: u32,
    pub udp_timeout_s: u32,
    pub other_timeout_s: u32,
    pub threshold_memcap: usize,
    /// IPv4 defragmentation (frag3) before detection; `None`: off.
    pub defrag: Option<defrag::DefragOptions>,
}

impl DetectOptions {
    pub fn from_config(c: &crate::config::DetectConfig) -> DetectOptions {
        DetectOptions {
            flow_memcap: c.flow_memcap_mb as usize * 1024 * 1024,
            tcp_timeout_s: c.tcp_timeout_s,
            tcp_new_timeout_s: c.tcp_new_timeout_s,
            udp_timeout_s: c.udp_timeout_s,
            other_timeout_s: c.other_timeout_s,
            threshold_memcap: c.threshold_memcap_mb as usize * 1024 * 1024,
            defrag: c.defrag.then(defrag::DefragOptions::default),
        }
    }
}
