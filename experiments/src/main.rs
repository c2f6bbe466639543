//! `meshsim`: run GossipSub experiments in deterministic virtual time.

/// mimalloc instead of glibc malloc: a simulated network is millions of small
/// allocations freed and made again on every message, which mimalloc serves
/// with 15-20% less CPU for 12-17% more peak memory (README, Speed). Results
/// do not depend on the allocator: nothing in a run reads an address.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    meshsim::cli::main()
}

/// mimalloc's `purge_delay` option (its enum value in mimalloc 2.x's `mimalloc.h`).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// By default mimalloc returns freed pages to the OS after 10 ms, and a run
/// that frees and allocates continuously faults them straight back in: that
/// was 0.4 s of system time in a 2.7 s run. A run's peak memory is its own
/// and sweeps reuse it run after run, so meshsim keeps freed memory unless
/// `MIMALLOC_PURGE_DELAY` says otherwise.
fn keep_freed_memory() {
    // The option's number is only known for mimalloc 2.x (2xxyy).
    let v2 = (20_000..30_000).contains(&ALLOCATOR.version());
    if v2 && std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: called first thing in `main`, before any other thread exists.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}
