//! meshsim's virtual clock: one per simulation thread.
//!
//! The substitute `web-time` and `futures-timer` crates (patched in through
//! `[patch.crates-io]`, see the workspace `Cargo.toml`) ask this crate for the
//! time and register their timers here. When no simulation is installed on the
//! current thread, [`now_ns`] returns `None` and the substitutes fall back to
//! the real clock and real timers, so real-time code in the same process (the
//! progress bar, reference runs under tokio) keeps working.
//!
//! Virtual time is a `u64` count of nanoseconds since the start of the
//! simulation. Timers fire in (deadline, registration number) order.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::task::Waker;
use std::time::Duration;

/// Virtual `Instant`s start this far after their origin, so that early
/// subtractions (`now - timeout`) cannot underflow.
pub const INSTANT_OFFSET: Duration = Duration::from_secs(1_000_000);

/// Virtual `SystemTime` at the start of every simulation: 2024-01-01T00:00:00Z.
pub const SYSTEM_TIME_START_UNIX_SECS: u64 = 1_704_067_200;

/// A registered timer: its deadline and its registration number.
pub type TimerKey = (u64, u64);

#[derive(Default)]
struct VirtualClock {
    now_ns: u64,
    next_seq: u64,
    timers: BTreeMap<TimerKey, Option<Waker>>,
    timers_registered: u64,
}

thread_local! {
    static CLOCK: RefCell<Option<VirtualClock>> = const { RefCell::new(None) };
}

/// Installs a fresh virtual clock at time zero on this thread.
///
/// # Panics
/// If a clock is already installed on this thread.
pub fn install() {
    CLOCK.with(|c| {
        let mut c = c.borrow_mut();
        assert!(
            c.is_none(),
            "a virtual clock is already installed on this thread"
        );
        *c = Some(VirtualClock::default());
    });
}

/// Removes this thread's virtual clock (pending timers are dropped).
pub fn uninstall() {
    // Take the clock out first, then drop it outside the borrow: dropping
    // wakers may run arbitrary code.
    let old = CLOCK.with(|c| c.borrow_mut().take());
    drop(old);
}

/// Is a virtual clock installed on this thread?
pub fn is_virtual() -> bool {
    CLOCK.with(|c| c.borrow().is_some())
}

/// The virtual time in nanoseconds, or `None` off a simulation thread.
#[inline]
pub fn now_ns() -> Option<u64> {
    CLOCK.with(|c| c.borrow().as_ref().map(|c| c.now_ns))
}

/// Moves virtual time forward to `t_ns`.
///
/// # Panics
/// If time would go backwards or no clock is installed (engine bugs).
pub fn advance_to(t_ns: u64) {
    CLOCK.with(|c| {
        let mut c = c.borrow_mut();
        let c = c.as_mut().expect("no virtual clock on this thread");
        assert!(
            t_ns >= c.now_ns,
            "virtual time went backwards: {} -> {}",
            c.now_ns,
            t_ns
        );
        c.now_ns = t_ns;
    });
}

/// The earliest pending timer deadline, if any.
pub fn next_deadline() -> Option<u64> {
    CLOCK.with(|c| {
        c.borrow()
            .as_ref()
            .and_then(|c| c.timers.keys().next().map(|k| k.0))
    })
}

/// Registers a timer firing at `deadline_ns`; returns its key.
///
/// # Panics
/// If no clock is installed on this thread.
pub fn register(deadline_ns: u64) -> TimerKey {
    CLOCK.with(|c| {
        let mut c = c.borrow_mut();
        let c = c.as_mut().expect("no virtual clock on this thread");
        let key = (deadline_ns, c.next_seq);
        c.next_seq += 1;
        c.timers_registered += 1;
        c.timers.insert(key, None);
        key
    })
}

/// Stores the waker to wake when timer `key` fires. Returns `false` if the
/// timer is no longer pending (it fired already).
pub fn set_waker(key: TimerKey, waker: &Waker) -> bool {
    CLOCK.with(|c| {
        let mut c = c.borrow_mut();
        let Some(c) = c.as_mut() else { return false };
        match c.timers.get_mut(&key) {
            Some(slot) => {
                match slot {
                    Some(w) if w.will_wake(waker) => {}
                    _ => *slot = Some(waker.clone()),
                }
                true
            }
            None => false,
        }
    })
}

/// Cancels timer `key` (no-op if it already fired or no clock is installed).
pub fn cancel(key: TimerKey) {
    let old = CLOCK.with(|c| {
        let mut c = c.borrow_mut();
        c.as_mut().and_then(|c| c.timers.remove(&key))
    });
    drop(old);
}

/// Fires every timer whose deadline is at or before the current virtual time,
/// in (deadline, registration) order, waking their tasks. Returns how many fired.
pub fn fire_due() -> usize {
    let mut due = Vec::new();
    CLOCK.with(|c| {
        let mut c = c.borrow_mut();
        let Some(c) = c.as_mut() else { return };
        while let Some(entry) = c.timers.first_entry() {
            if entry.key().0 > c.now_ns {
                break;
            }
            due.push(entry.remove());
        }
    });
    let n = due.len();
    for w in due.into_iter().flatten() {
        w.wake();
    }
    n
}

/// How many timers have been registered since the clock was installed.
pub fn timers_registered() -> u64 {
    CLOCK.with(|c| c.borrow().as_ref().map_or(0, |c| c.timers_registered))
}

/// How many timers are pending.
pub fn timers_pending() -> usize {
    CLOCK.with(|c| c.borrow().as_ref().map_or(0, |c| c.timers.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn timers_fire_in_deadline_then_registration_order() {
        std::thread::spawn(|| {
            install();
            let a = register(20);
            let b = register(10);
            let c = register(10);
            assert_eq!(next_deadline(), Some(10));
            let count = Arc::new(Count(AtomicUsize::new(0)));
            let w = Waker::from(count.clone());
            for k in [a, b, c] {
                assert!(set_waker(k, &w));
            }
            advance_to(10);
            assert_eq!(fire_due(), 2);
            assert_eq!(count.0.load(Ordering::SeqCst), 2);
            assert!(!set_waker(b, &w), "fired timer is gone");
            cancel(a);
            assert_eq!(next_deadline(), None);
            uninstall();
            assert_eq!(now_ns(), None);
        })
        .join()
        .unwrap();
    }

    #[test]
    #[should_panic(expected = "backwards")]
    fn time_never_goes_backwards() {
        install();
        advance_to(5);
        advance_to(4);
    }
}
