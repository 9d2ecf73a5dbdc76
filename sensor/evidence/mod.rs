//! The evidence store: for each alert event, the packets of its conversation kept in a pcap
//! of their own. [`tag`] is the arithmetic of Snort's `tag` rule option (what is kept after an
//! event of a tagging rule, and for how long).
pub mod tag;
