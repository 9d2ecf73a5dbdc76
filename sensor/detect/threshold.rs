//! Thresholding: `detection_filter`, `threshold`/`event_filter`, threshold.conf `suppress` and
//! `rate_filter`, with Snort 2.9's arithmetic (`sfutil/sfthd.c`, `sfutil/sfrf.c`, and the order
//! of `fpLogEvent` in `fpdetect.c`).
//!
//! Owns the tracker table: its keys, its memory bound (LRU eviction) and its clock (packet time,
//! whole seconds). The table lives outside the `RuleSet`, so a rule reload keeps every tracker;
//! trackers are keyed by (gid, sid, stage, tracked address), never by rule index. It does not
//! match packets, parse threshold.conf or format alerts.
//!
//! # Resource usage
//! One tracker per (gid, sid, stage, address) that has seen an event, each about
//! [`TRACKER_BYTES`] bytes. When a new tracker would pass the memcap, the least recently used
//! one is evicted (Snort's sfxhash does the same, "ANR"); evictions are counted. Once a tracker
//! exists, testing an event allocates nothing.

use std::collections::HashMap;
use std::mem::size_of;
use std::net::IpAddr;

use crate::rules::model::{
    DetectionFilter, NewAction, RateFilter, Suppress, Threshold, ThresholdKind, Track,
};

use super::lru::{Linked, Links, Lru, NIL};

/// Keys come from packets an attacker chooses: a keyed hash (randomly seeded aHash) keeps
/// lookups fast without inviting collision floods.
type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// Which filter a tracker counts for. One sid may have a detection_filter, an event filter and
/// several rate filters, each with its own counters (Snort keeps them in separate tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Stage {
    Detection,
    Event,
    /// The n-th rate_filter of its (gid, sid) in threshold.conf order.
    Rate(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    gid: u32,
    sid: u32,
    stage: Stage,
    /// `None` for `by_rule`.
    addr: Option<IpAddr>,
}

/// Counters of one tracker: sfthd's `THD_IP_NODE` (count, prev, tstart, tlast) and sfrf's
/// `tSFRFTrackingNode` (count, tstart, tlast, filterState in `rate_on`, revertTime in
/// `revert`, overRate in `over_rate`).
#[derive(Debug, Clone, Copy)]
struct Tracker {
    count: u32,
    prev: u32,
    tstart: i64,
    tlast: i64,
    revert: i64,
    rate_on: bool,
    over_rate: bool,
}

impl Tracker {
    /// A tracker created at `now` with `count` events.
    fn new(count: u32, now: i64) -> Tracker {
        Tracker {
            count,
            prev: 0,
            tstart: now,
            tlast: now,
            revert: now,
            rate_on: false,
            over_rate: false,
        }
    }
}

/// A tracker in the slab, linked into the LRU list (head = most recently used).
#[derive(Debug, Clone)]
struct Slot {
    key: Key,
    tracker: Tracker,
    links: Links,
}

impl Linked for Slot {
    fn links(&mut self) -> &mut Links {
        &mut self.links
    }
}

/// Approximate bytes one tracker costs: its slab slot plus its hash-map entry with hashbrown's
/// control byte and 7/8 load factor. Used against the memcap.
pub const TRACKER_BYTES: usize = size_of::<Slot>() + (size_of::<(Key, u32)>() + 1) * 8 / 7;

/// What the event stage decided for one event (an alert candidate that passed its rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventVerdict {
    /// Write the alert. `rate_action` is the `new_action` of a rate_filter in force, if any:
    /// a passive sensor cannot drop, so `drop`/`sdrop`/`reject`/`alert`/`log` all still write
    /// the alert, and output may show the action.
    Alert { rate_action: Option<NewAction> },
    /// A `suppress` matched: never logged.
    Suppressed,
    /// The event filter (`threshold`/`event_filter`) held it back.
    Thresholded,
    /// A rate_filter with `new_action pass` is in force: no alert.
    RateLimited,
}

impl EventVerdict {
    /// True when the event passed the filters with an action that writes an alert, for a rule
    /// whose own action is `alert` (see [`EventVerdict::writes_alert`]).
    pub fn is_alert(self) -> bool {
        self.writes_alert(true)
    }

    /// Whether an alert is written for an event of a rule whose own action writes one
    /// (`alert`, `drop`, `sdrop`, `reject`: `rule_alerts`) or not (`log`, `pass`). Snort 2.9
    /// fpdetect.c `fpLogEvent`: the rate_filter's `new_action` replaces the rule's action, then
    /// the action decides — so `new_action alert` makes a `log` rule alert, `new_action log`
    /// or `pass` makes an `alert` rule write nothing.
    pub fn writes_alert(self, rule_alerts: bool) -> bool {
        match self {
            EventVerdict::Alert { rate_action: None } => rule_alerts,
            EventVerdict::Alert {
                rate_action: Some(a),
            } => !matches!(a, NewAction::Log | NewAction::Pass),
            _ => false,
        }
    }
}

/// threshold.conf `suppress` and `rate_filter` entries indexed by (gid, sid), built once per
/// rule set so the event stage costs one or two hash lookups however long the lists are.
#[derive(Debug, Clone, Default)]
pub struct ThresholdIndex {
    suppress: HashMap<(u32, u32), Vec<Suppress>>,
    rate: HashMap<(u32, u32), Vec<RateFilter>>,
}

impl ThresholdIndex {
    /// Groups the entries by (gid, sid), keeping their order within a group.
    pub fn new(suppress: &[Suppress], rate_filters: &[RateFilter]) -> Self {
        let mut idx = ThresholdIndex::default();
        for s in suppress {
            idx.suppress
                .entry((s.gid, s.sid))
                .or_default()
                .push(s.clone());
        }
        for r in rate_filters {
            idx.rate.entry((r.gid, r.sid)).or_default().push(r.clone());
        }
        idx
    }

    /// True when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.suppress.is_empty() && self.rate.is_empty()
    }

    fn suppress_for(&self, gid: u32, sid: u32) -> impl Iterator<Item = &Suppress> + '_ {
        let exact = self.suppress.get(&(gid, sid));
        let all = if sid != 0 {
            self.suppress.get(&(gid, 0))
        } else {
            None
        };
        exact.into_iter().chain(all).flatten()
    }

    /// A rate_filter names one gid:sid (sfrf.c `SFRF_ConfigAdd` refuses sid 0).
    fn rate_for(&self, gid: u32, sid: u32) -> impl Iterator<Item = &RateFilter> + '_ {
        self.rate.get(&(gid, sid)).into_iter().flatten()
    }
}

/// Tracker table for every thresholding stage, bounded by a memcap.
///
/// # Examples
/// ```
/// use nsm_sensor::detect::threshold::Thresholds;
/// use nsm_sensor::rules::model::{Threshold, ThresholdKind, Track};
/// let mut th = Thresholds::new(1 << 20);
/// let limit = Threshold { kind: ThresholdKind::Limit, track: Track::BySrc, count: 1, seconds: 60 };
/// let (src, dst) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
/// assert!(th.event(1, 1000, Some(&limit), &[], &[], src, dst, 0).is_alert());
/// assert!(!th.event(1, 1000, Some(&limit), &[], &[], src, dst, 1).is_alert());
/// ```
#[derive(Debug, Clone)]
pub struct Thresholds {
    map: FastMap<Key, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Use order, for the memcap's evictions.
    lru: Lru,
    memcap: usize,
    max_entries: usize,
    evictions: u64,
}

fn tracked(track: Track, src: IpAddr, dst: IpAddr) -> Option<IpAddr> {
    match track {
        Track::BySrc => Some(src),
        Track::ByDst => Some(dst),
        Track::ByRule => None,
    }
}

/// sfthd.c computes `dt` as `(unsigned)(curtime - tstart)`: a clock that went backwards
/// (out-of-order capture) looks like a huge gap and resets the window. Same here.
fn elapsed_at_least(now: i64, since: i64, seconds: u32) -> bool {
    let dt = now.wrapping_sub(since);
    dt < 0 || dt >= i64::from(seconds)
}

/// The filter types of sfthd.c `sfthd_test_non_suppress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ThdType {
    Detect,
    Limit,
    Threshold,
    Both,
}

/// One event against one sfthd tracker; true when the event is logged (or, for `Detect`, when
/// the rule's match counts). `count` was already incremented for existing trackers, and a new
/// tracker starts at count 1, tstart = tlast = now, like `sfthd_test_local`.
fn sfthd_test(ty: ThdType, limit: u32, seconds: u32, t: &mut Tracker, now: i64) -> bool {
    match ty {
        ThdType::Detect => {
            // sfthd.c: on a window reset, remember the previous window's count when the last
            // hit was within `seconds`, so a sustained flood keeps passing across windows.
            if elapsed_at_least(now, t.tstart, seconds) {
                t.tstart = now;
                let gap = now.wrapping_sub(t.tlast);
                t.prev = if gap < 0 || gap > i64::from(seconds) {
                    0
                } else {
                    t.count - 1
                };
                t.count = 1;
            }
            t.tlast = now;
            t.count > limit || t.prev > limit
        }
        ThdType::Limit => {
            // Snort sfthd.c: windows are fixed and restart when now - start >= seconds.
            if elapsed_at_least(now, t.tstart, seconds) {
                t.tstart = now;
                t.count = 1;
            }
            t.count <= limit
        }
        ThdType::Threshold => {
            if elapsed_at_least(now, t.tstart, seconds) {
                t.tstart = now;
                t.count = 1;
            }
            if t.count >= limit {
                // Log every Nth and restart the window at that alert.
                t.count = 0;
                t.tstart = now;
                true
            } else {
                false
            }
        }
        ThdType::Both => {
            if elapsed_at_least(now, t.tstart, seconds) {
                t.tstart = now;
                t.count = 1;
                // sfthd.c: the first event of a new window is never logged ("count must be
                // > 1"), even when count is 1.
                false
            } else {
                t.count == limit
            }
        }
    }
}

/// One event against one sfrf tracker: Snort 2.9.20 sfrf.c `SFRF_TestObject` with
/// `_checkSamplingPeriod` and `_checkThreshold`, as built with `SFRF_OVER_RATE`. Returns the new
/// action when the rate filter is in force, with `true` when it switched on at this very event
/// (Snort's "override": that event is logged even if the event filter would hold it back).
///
/// `SFRF_OVER_RATE`: when a sampling period ends, the tracker remembers whether that period
/// went over `count` (and events kept coming, the last within `seconds`); at the timeout the new
/// action stays in force (and its timeout restarts) while the current period or the previous
/// one is over the count, and a period that follows one over the count switches the action on
/// from its first event.
fn sfrf_test(rf: &RateFilter, t: &mut Tracker, now: i64) -> Option<(NewAction, bool)> {
    // _checkSamplingPeriod
    if rf.seconds != 0 {
        if elapsed_at_least(now, t.tstart, rf.seconds) {
            t.tstart = now;
            let gap = now.wrapping_sub(t.tlast);
            t.over_rate = !(gap < 0 || gap > i64::from(rf.seconds)) && t.count > rf.count;
            t.count = 0;
        }
    } else {
        // seconds 0 (gid 135 only): a running total, not a rate.
        t.over_rate = t.count > rf.count;
    }
    t.tlast = now;
    t.count = t.count.saturating_add(1);
    let verdict = sfrf_check(rf, t, now);
    // sfrf.c: a total count (seconds 0) with new_action drop is not incremented past the
    // limit, as the session-close decrement for a dropped session never comes.
    if rf.seconds == 0 && t.count > rf.count && rf.new_action == NewAction::Drop {
        t.count -= 1;
    }
    verdict
}

/// sfrf.c `_checkThreshold` (with `SFRF_OVER_RATE`).
fn sfrf_check(rf: &RateFilter, t: &mut Tracker, now: i64) -> Option<(NewAction, bool)> {
    if t.rate_on {
        // A timeout of 0 keeps the action forever.
        if rf.timeout != 0 && elapsed_at_least(now, t.revert, rf.timeout) {
            if t.count > rf.count || t.over_rate {
                t.revert = now;
                return Some((rf.new_action, false));
            }
            t.rate_on = false;
        } else {
            return Some((rf.new_action, false));
        }
    }
    if t.count <= rf.count && !t.over_rate {
        return None;
    }
    t.revert = now;
    t.rate_on = true;
    t.over_rate = true;
    Some((rf.new_action, true))
}

impl Thresholds {
    /// An empty table that keeps at most about `memcap_bytes` of trackers (at least one).
    pub fn new(memcap_bytes: usize) -> Self {
        let max_entries = (memcap_bytes / TRACKER_BYTES).max(1);
        // Trackers appear only when rules with thresholds fire; start small, grow on creation.
        let initial = max_entries.min(1024);
        Thresholds {
            map: FastMap::with_capacity_and_hasher(initial, ahash::RandomState::new()),
            slots: Vec::with_capacity(initial),
            free: Vec::new(),
            lru: Lru::default(),
            memcap: memcap_bytes,
            max_entries,
            evictions: 0,
        }
    }

    /// Changes the memcap (e.g. on reload), evicting the least recently used trackers until the
    /// table fits.
    pub fn set_memcap(&mut self, memcap_bytes: usize) {
        self.memcap = memcap_bytes;
        self.max_entries = (memcap_bytes / TRACKER_BYTES).max(1);
        while self.map.len() > self.max_entries {
            self.evict_lru();
        }
    }

    /// The memcap in bytes.
    pub fn memcap(&self) -> usize {
        self.memcap
    }

    /// Trackers evicted to stay under the memcap, since creation.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Live trackers.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Approximate bytes in use by trackers.
    pub fn bytes(&self) -> usize {
        self.map.len() * TRACKER_BYTES
    }

    /// `detection_filter`: call when the rule has otherwise matched. Returns true when the match
    /// counts (an event is generated): Snort's `detection_filter_test`, i.e. sfthd's `DETECT`
    /// type — the first `count` hits of a window are filtered, later ones pass, and a window
    /// that follows a busy one (last hit within `seconds`, previous window over `count`) passes
    /// from its first hit.
    pub fn detection_filter(
        &mut self,
        gid: u32,
        sid: u32,
        df: &DetectionFilter,
        src: IpAddr,
        dst: IpAddr,
        now_sec: i64,
    ) -> bool {
        let key = Key {
            gid,
            sid,
            stage: Stage::Detection,
            addr: tracked(df.track, src, dst),
        };
        let t = self.sfthd_tracker(key, now_sec);
        sfthd_test(ThdType::Detect, df.count, df.seconds, t, now_sec)
    }

    /// Event stage for one event, with the threshold.conf lists as given (scanned linearly;
    /// prefer [`Thresholds::event_indexed`] when they are long).
    ///
    /// Snort 2.9 `fpLogEvent` order: the rate filters count every event first (even ones
    /// later suppressed), then `suppress`, then the event filter (`threshold`); an event held
    /// back by the event filter is still logged when a rate filter switched on at this very
    /// event; finally a rate filter in force replaces the action (`pass` → no alert).
    #[allow(clippy::too_many_arguments)]
    pub fn event(
        &mut self,
        gid: u32,
        sid: u32,
        threshold: Option<&Threshold>,
        suppress: &[Suppress],
        rate_filters: &[RateFilter],
        src: IpAddr,
        dst: IpAddr,
        now_sec: i64,
    ) -> EventVerdict {
        let applies = move |g: u32, s: u32| g == gid && (s == sid || s == 0);
        self.event_inner(
            gid,
            sid,
            threshold,
            suppress.iter().filter(|s| applies(s.gid, s.sid)),
            rate_filters.iter().filter(|r| r.gid == gid && r.sid == sid),
            src,
            dst,
            now_sec,
        )
    }

    /// [`Thresholds::event`] with the threshold.conf lists from a prepared index.
    #[allow(clippy::too_many_arguments)]
    pub fn event_indexed(
        &mut self,
        index: &ThresholdIndex,
        gid: u32,
        sid: u32,
        threshold: Option<&Threshold>,
        src: IpAddr,
        dst: IpAddr,
        now_sec: i64,
    ) -> EventVerdict {
        self.event_inner(
            gid,
            sid,
            threshold,
            index.suppress_for(gid, sid),
            index.rate_for(gid, sid),
            src,
            dst,
            now_sec,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn event_inner<'a>(
        &mut self,
        gid: u32,
        sid: u32,
        threshold: Option<&Threshold>,
        suppress: impl Iterator<Item = &'a Suppress>,
        rate_filters: impl Iterator<Item = &'a RateFilter>,
        src: IpAddr,
        dst: IpAddr,
        now: i64,
    ) -> EventVerdict {
        // 1. rate_filter (sfrf.c SFRF_TestThreshold): every filter whose `apply_to` holds the
        //    tracked address counts (SFRF_AppliesTo; others neither count nor act); the first
        //    in force decides the action.
        let mut rate: Option<(NewAction, bool)> = None;
        for (n, rf) in rate_filters.enumerate() {
            let addr = tracked(rf.track, src, dst);
            if let (Some(set), Some(a)) = (&rf.apply_to, addr) {
                if !set.contains(&a) {
                    continue;
                }
            }
            let key = Key {
                gid,
                sid: rf.sid,
                stage: Stage::Rate(u16::try_from(n).unwrap_or(u16::MAX)),
                addr,
            };
            let t = self.sfrf_tracker(key, now);
            if let Some(r) = sfrf_test(rf, t, now) {
                rate.get_or_insert(r);
            }
        }
        let overriding = rate.is_some_and(|(_, o)| o);

        // 2. suppress (sfthd.c sfthd_test_suppress): no `track … ip` → every event; otherwise
        //    events whose tracked address is in the set. Snort tests sid-0 (global) objects
        //    only when the sid's own objects decided nothing; here every suppress applies
        //    first, so `suppress gen_id 1, sig_id 0` also covers sids with a threshold.
        for s in suppress {
            let hit = match &s.by {
                None => true,
                Some((track, set)) => match tracked(*track, src, dst) {
                    Some(a) => set.contains(&a),
                    // `by_rule` names no address: the whole sid.
                    None => true,
                },
            };
            if hit {
                return EventVerdict::Suppressed;
            }
        }

        // 3. event filter (in-rule threshold, or the threshold.conf entry that replaced it).
        if let Some(th) = threshold {
            let ty = match th.kind {
                ThresholdKind::Limit => ThdType::Limit,
                ThresholdKind::Threshold => ThdType::Threshold,
                ThresholdKind::Both => ThdType::Both,
            };
            let key = Key {
                gid,
                sid,
                stage: Stage::Event,
                addr: tracked(th.track, src, dst),
            };
            let t = self.sfthd_tracker(key, now);
            if !sfthd_test(ty, th.count, th.seconds, t, now) && !overriding {
                return EventVerdict::Thresholded;
            }
        }

        match rate {
            Some((NewAction::Pass, _)) => EventVerdict::RateLimited,
            Some((a, _)) => EventVerdict::Alert {
                rate_action: Some(a),
            },
            None => EventVerdict::Alert { rate_action: None },
        }
    }

    /// The sfthd tracker for `key`: an existing one gets its count incremented, a new one starts
    /// at count 1 with its window at `now` (sfthd.c `sfthd_test_local`).
    fn sfthd_tracker(&mut self, key: Key, now: i64) -> &mut Tracker {
        let (i, new) = self.lookup(key, now);
        let t = &mut self.slots[i as usize].tracker;
        if new {
            *t = Tracker::new(1, now);
        } else {
            t.count = t.count.saturating_add(1);
        }
        t
    }

    /// The sfrf tracker for `key`: a new one starts at count 0, window at `now`, off.
    fn sfrf_tracker(&mut self, key: Key, now: i64) -> &mut Tracker {
        let (i, new) = self.lookup(key, now);
        let t = &mut self.slots[i as usize].tracker;
        if new {
            *t = Tracker::new(0, now);
        }
        t
    }

    /// Finds or creates the slot for `key` and makes it the most recently used.
    fn lookup(&mut self, key: Key, now: i64) -> (u32, bool) {
        if let Some(&i) = self.map.get(&key) {
            self.unlink(i);
            self.push_front(i);
            return (i, false);
        }
        while self.map.len() >= self.max_entries {
            self.evict_lru();
        }
        let slot = Slot {
            key,
            tracker: Tracker::new(0, now),
            links: Links::NONE,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, i);
        self.push_front(i);
        (i, true)
    }

    fn evict_lru(&mut self) {
        let i = self.lru.tail;
        if i == NIL {
            return;
        }
        self.unlink(i);
        let key = self.slots[i as usize].key;
        self.map.remove(&key);
        self.free.push(i);
        self.evictions += 1;
    }

    fn unlink(&mut self, i: u32) {
        self.lru.unlink(&mut self.slots, i);
    }

    fn push_front(&mut self, i: u32) {
        self.lru.push_front(&mut self.slots, i);
    }
}

#[cfg(test)]
mod tests;
