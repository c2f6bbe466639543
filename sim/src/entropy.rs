//! Seeded entropy for everything that asks the OS for randomness.
//!
//! GossipSub shuffles with `rand::rng()` and iterates std `HashMap`s whose
//! keys come from the OS; both end in the C function `getrandom`. We define
//! that function here (exported from every binary by the linker flag in
//! `.cargo/config.toml`), so std's weak lookup and the `getrandom` crate land
//! in it. On a simulation thread it serves bytes from a `rand_chacha`
//! generator seeded per run; on any other thread it asks the kernel, as libc
//! would. A simulation thread that asks before it is seeded panics: a silent
//! OS fallback there would break determinism.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};

enum State {
    /// Not a simulation thread: the kernel serves requests.
    Os,
    /// A simulation thread not yet seeded: requests are a bug.
    Unseeded,
    /// A seeded simulation thread.
    Seeded(Box<ChaCha20Rng>),
}

thread_local! {
    static STATE: RefCell<State> = const { RefCell::new(State::Os) };
    static SERVED: Cell<u64> = const { Cell::new(0) };
    static THREAD_OS_FALLBACKS: Cell<u64> = const { Cell::new(0) };
}

static OS_FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// Counters of the entropy hook on the current thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntropyStats {
    /// Requests served from the seeded generator.
    pub served: u64,
    /// Requests this thread sent to the OS.
    pub os_fallbacks: u64,
}

/// Marks the current thread as a simulation thread that is not seeded yet.
pub fn mark_simulation_thread() {
    STATE.with(|s| *s.borrow_mut() = State::Unseeded);
}

/// Seeds the current thread's entropy. Call this before anything on the
/// thread creates a `HashMap` or touches `rand::rng()`.
pub fn seed_thread(seed: [u8; 32]) {
    STATE.with(|s| *s.borrow_mut() = State::Seeded(Box::new(ChaCha20Rng::from_seed(seed))));
    SERVED.with(|c| c.set(0));
    THREAD_OS_FALLBACKS.with(|c| c.set(0));
}

/// Seeds the current thread from an OS source: a deliberately non-deterministic
/// negative control for the determinism tests.
pub fn seed_thread_from_os() {
    let mut seed = [0u8; 32];
    os_fill(&mut seed);
    seed_thread(seed);
}

/// Returns the current thread to OS entropy.
pub fn reset_thread() {
    STATE.with(|s| *s.borrow_mut() = State::Os);
}

/// This thread's counters.
pub fn stats() -> EntropyStats {
    EntropyStats {
        served: SERVED.with(Cell::get),
        os_fallbacks: THREAD_OS_FALLBACKS.with(Cell::get),
    }
}

/// Requests sent to the OS by any thread of this process.
pub fn process_os_fallbacks() -> u64 {
    OS_FALLBACKS.load(Ordering::Relaxed)
}

/// Fills `buf` from the seeded generator if this is a seeded simulation
/// thread. Returns `false` if this thread is not a simulation thread.
///
/// # Panics
/// On a simulation thread that has not been seeded.
pub fn fill(buf: &mut [u8]) -> bool {
    let served = STATE
        .try_with(|s| match &mut *s.borrow_mut() {
            State::Os => false,
            State::Unseeded => {
                panic!("entropy requested on a simulation thread before it was seeded")
            }
            State::Seeded(rng) => {
                rng.fill_bytes(buf);
                true
            }
        })
        .unwrap_or(false);
    if served {
        SERVED.with(|c| c.set(c.get() + 1));
    }
    served
}

fn os_fill(buf: &mut [u8]) {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_getrandom,
                buf[done..].as_mut_ptr(),
                buf.len() - done,
                0,
            )
        };
        if r > 0 {
            done += r as usize;
        } else if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            panic!(
                "getrandom syscall failed: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// The process-wide `getrandom(2)` replacement (see the module docs).
///
/// # Safety
/// `buf` must be valid for writes of `buflen` bytes, as for libc's `getrandom`.
#[no_mangle]
pub unsafe extern "C" fn getrandom(
    buf: *mut libc::c_void,
    buflen: libc::size_t,
    flags: libc::c_uint,
) -> libc::ssize_t {
    if buflen == 0 {
        return 0;
    }
    // SAFETY: the caller promises `buf` is valid for `buflen` bytes.
    let slice = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), buflen) };
    if fill(slice) {
        return buflen as libc::ssize_t;
    }
    OS_FALLBACKS.fetch_add(1, Ordering::Relaxed);
    let _ = THREAD_OS_FALLBACKS.try_with(|c| c.set(c.get() + 1));
    // SAFETY: forwarding the caller's arguments to the real system call.
    unsafe { libc::syscall(libc::SYS_getrandom, buf, buflen, flags) as libc::ssize_t }
}

/// Referenced by the runner so the object defining [`getrandom`] is always
/// linked into every binary that runs a simulation.
#[inline(never)]
pub fn hook_address() -> usize {
    getrandom as *const () as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_threads_draw_the_same_bytes() {
        let draw = || {
            std::thread::spawn(|| {
                seed_thread([7; 32]);
                let mut a = [0u8; 16];
                // Through the C entry point, as std and the getrandom crate call it.
                let n = unsafe { getrandom(a.as_mut_ptr().cast(), a.len(), 0) };
                assert_eq!(n, 16);
                assert_eq!(stats().served, 1);
                assert_eq!(stats().os_fallbacks, 0);
                a
            })
            .join()
            .unwrap()
        };
        assert_eq!(draw(), draw());
    }

    #[test]
    fn unseeded_simulation_thread_panics() {
        let r = std::thread::spawn(|| {
            mark_simulation_thread();
            let mut b = [0u8; 4];
            std::panic::catch_unwind(move || fill(&mut b)).is_err()
        })
        .join()
        .unwrap();
        assert!(r, "asking for entropy before seeding must panic");
    }

    #[test]
    fn other_threads_use_the_os() {
        std::thread::spawn(|| {
            let mut b = [0u8; 32];
            assert!(!fill(&mut b));
            let n = unsafe { getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
            assert_eq!(n, 32);
            assert_eq!(stats().os_fallbacks, 1);
        })
        .join()
        .unwrap();
    }
}
