//! The memory allocator of the `meshsim` binary: mimalloc 2.x.
//!
//! A simulated network is millions of small allocations freed and made again
//! on every message, which mimalloc serves with 7-19% less CPU than glibc
//! malloc for 12-17% more peak memory (README, Speed). Results do not depend
//! on the allocator: nothing in a run reads an address. The binary (and the
//! real-time benchmark) declare `mimalloc::MiMalloc` as their global
//! allocator and call [`configure_mimalloc`] first thing; the library and
//! its tests keep the system allocator.
//!
//! mimalloc keeps its defaults except `purge_delay`. In particular it backs
//! its memory with transparent huge pages: turning them off (with
//! `MIMALLOC_ALLOW_THP=0` or `MIMALLOC_ARENA_EAGER_COMMIT=0`) saved 5% of
//! peak memory at 1,000 peers but cost 11-14% more CPU (TLB misses).

use std::sync::OnceLock;

static ALLOCATOR: OnceLock<String> = OnceLock::new();

/// mimalloc's `purge_delay` option: its number in mimalloc 2.x's `mimalloc.h`.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets up mimalloc and records it as this process's allocator. Call it
/// first thing in `main`, before any other thread exists, and only in a
/// process whose global allocator is `mimalloc::MiMalloc`.
///
/// By default mimalloc returns freed pages to the OS after 10 ms, and a run
/// that frees and allocates all the time faults them straight back in
/// (about 1 s more system time in a 16-18 s run at 10,000 peers). A run's
/// peak memory is its own, and sweeps reuse it run after run, so meshsim
/// keeps freed memory (`purge_delay` -1) unless `MIMALLOC_PURGE_DELAY` says
/// otherwise.
pub fn configure_mimalloc() {
    // SAFETY: `mi_version` reads a constant.
    let version = unsafe { libmimalloc_sys::mi_version() };
    // The option's number is only known for mimalloc 2.x (version 2xxyy).
    let v2 = (20_000..30_000).contains(&version);
    let keep = v2 && std::env::var_os("MIMALLOC_PURGE_DELAY").is_none();
    if keep {
        // SAFETY: mimalloc options are plain globals; no other thread exists
        // yet to read this one concurrently.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
    let _ = ALLOCATOR.set(format!(
        "mimalloc {}.{}.{}{}",
        version / 10_000,
        version / 100 % 100,
        version % 100,
        if keep { ", freed memory kept" } else { "" }
    ));
}

/// This process's allocator, as reported in `meta.json` and by `meshsim
/// bench` (timings depend on it, results do not): what
/// [`configure_mimalloc`] recorded, else `"system"`.
pub fn allocator() -> &'static str {
    ALLOCATOR.get().map_or("system", String::as_str)
}
