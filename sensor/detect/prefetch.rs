//! A hint to the CPU to start loading a cache line the packet path will read soon. The header
//! index of a million spread addresses answers most lookups with one read of a 1 MiB bitmap,
//! and that read misses the caches: issued when the packet's addresses are first known, before
//! the ring copy and the checksums, the miss overlaps that work instead of stalling the lookup.
//!
//! The only `unsafe` of `detect`: the x86-64 prefetch intrinsic, which is `unsafe` only as a
//! `#[target_feature]` function. Elsewhere a no-op.
#![allow(unsafe_code)]

/// Asks for the cache line holding `*p` to be loaded. Never faults, whatever `p` is.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 CPU has (it is in the target's
    // baseline); a prefetch is a hint that never dereferences `p` architecturally, so it cannot
    // fault or read out of bounds, whatever `p` points at.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
