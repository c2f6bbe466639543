//! `meshsim`: run GossipSub experiments in deterministic virtual time.

/// mimalloc instead of glibc malloc: a simulated network is millions of small
/// allocations freed and made again on every message, which mimalloc serves
/// with 12-20% less CPU for about 15% more peak memory (README, Speed).
/// Results do not depend on the allocator: nothing in a run reads an address.
///
/// Its defaults are kept except `purge_delay` (below). In particular it backs
/// its memory with transparent huge pages: turning them off (with
/// `MIMALLOC_ALLOW_THP=0` or `MIMALLOC_ARENA_EAGER_COMMIT=0`) saved 5% of
/// peak memory at 1,000 peers but cost 11-14% more CPU (TLB misses).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    meshsim::cli::main()
}

/// mimalloc's `purge_delay` option: its number in mimalloc 2.x's `mimalloc.h`.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// By default mimalloc returns freed pages to the OS after 10 ms, and a run
/// that frees and allocates all the time faults them straight back in
/// (about 1 s more system time in a 16-18 s run at 10,000 peers). A run's peak memory is its own, and sweeps
/// reuse it run after run, so meshsim keeps freed memory unless
/// `MIMALLOC_PURGE_DELAY` says otherwise.
fn keep_freed_memory() {
    // The option's number is only known for mimalloc 2.x (version 2xxyy).
    let version = ALLOCATOR.version();
    let v2 = (20_000..30_000).contains(&version);
    let keep = v2 && std::env::var_os("MIMALLOC_PURGE_DELAY").is_none();
    if keep {
        // SAFETY: called first thing in `main`, before any other thread exists.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
    meshsim::output::set_allocator(format!(
        "mimalloc {}.{}.{}{}",
        version / 10_000,
        version / 100 % 100,
        version % 100,
        if keep { ", freed memory kept" } else { "" }
    ));
}
