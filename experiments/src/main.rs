//! `meshsim`: run GossipSub experiments in deterministic virtual time.

use libmimalloc_sys::mi_option_t;

/// mimalloc instead of glibc malloc: a simulated network is millions of small
/// allocations freed and made again on every message, which mimalloc serves
/// with 15-20% less CPU for about 11% more peak memory (README, Speed).
/// Results do not depend on the allocator: nothing in a run reads an address.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    configure_allocator();
    meshsim::cli::main()
}

/// mimalloc 2.x options meshsim sets, by their number in `mimalloc.h`'s
/// `mi_option_e`, unless the matching environment variable is set:
/// - `purge_delay` -1: keep freed memory. By default mimalloc returns freed
///   pages to the OS after 10 ms, and a run that frees and allocates all the
///   time faults them straight back in. A run's peak memory is its own, and
///   sweeps reuse it run after run.
/// - `arena_eager_commit` 0 and `allow_thp` 0: commit memory as it is used,
///   in 4 KiB pages. Eager commit and transparent huge pages added 5% to the
///   peak memory of a 1,000-peer run and tripled its system time (the kernel
///   zeroing 2 MiB pages).
const OPTIONS: [(mi_option_t, &str, std::ffi::c_long); 3] = [
    (15, "MIMALLOC_PURGE_DELAY", -1),
    (4, "MIMALLOC_ARENA_EAGER_COMMIT", 0),
    (37, "MIMALLOC_ALLOW_THP", 0),
];

fn configure_allocator() {
    // The option numbers are only known for mimalloc 2.x (version 2xxyy).
    if !(20_000..30_000).contains(&ALLOCATOR.version()) {
        return;
    }
    for (option, var, value) in OPTIONS {
        if std::env::var_os(var).is_some() {
            continue;
        }
        // SAFETY: called first thing in `main`, before any other thread exists.
        unsafe { libmimalloc_sys::mi_option_set(option, value) };
        if var == "MIMALLOC_ALLOW_THP" {
            // mimalloc reads this one when the process starts; do what it
            // would have done (`prim/unix/prim.c`). Failure only costs memory.
            // SAFETY: a plain system call with integer arguments.
            let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        }
    }
}
