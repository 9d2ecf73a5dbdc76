//! Keeping rule sets and IP feeds current: the pure transformations `nsm-sensor update`
//! applies to what it fetched — IP feeds turned into list rules ([`iplist`]) and
//! suricata-update's enable/disable/modify edits ([`edits`]). Nothing here fetches, writes
//! files or signals the daemon.

pub mod edits;
pub mod iplist;
