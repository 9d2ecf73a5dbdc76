//! Matching: header index → flags → flow/flowbits → thresholds. State (flows, trackers) lives
//! here, outside the `RuleSet`, so a reload keeps it.

/// Limits and timeouts of the detection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectOptions {
    pub flow_memcap: usize,
    pub tcp_timeout_s: u32,
    pub tcp_new_timeout_s: u32,
    pub udp_timeout_s: u32,
    pub other_timeout_s: u32,
    pub threshold_memcap: usize,
}

pub mod flow;
pub mod threshold;
