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
//!
//! The clock also carries the simulation's switch for memoised pure
//! functions ([`memo_epoch`]): the substitute `ed25519-dalek` remembers
//! signature verifications on a simulation thread, since every simulated peer
//! verifies the same signatures again. It counts its hits and misses here.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::Duration;

/// Virtual `Instant`s start this far after their origin, so that early
/// subtractions (`now - timeout`) cannot underflow.
pub const INSTANT_OFFSET: Duration = Duration::from_secs(1_000_000);

/// Virtual `SystemTime` at the start of every simulation: 2024-01-01T00:00:00Z.
pub const SYSTEM_TIME_START_UNIX_SECS: u64 = 1_704_067_200;

/// A registered timer: its deadline, its registration number (which orders
/// timers with equal deadlines) and the slot that holds its waker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerKey {
    /// Virtual deadline, nanoseconds.
    pub deadline_ns: u64,
    seq: u64,
    slot: u32,
}

/// A slot's `seq` when no timer holds it.
const FREE: u64 = u64::MAX;

struct Slot {
    seq: u64,
    deadline_ns: u64,
    waker: Option<Waker>,
}

/// Timers live in slots (so a timer's waker is found without a search: a
/// `Delay` is polled far more often than timers fire) and are ordered by a
/// heap of (deadline, registration number, slot). Cancelling frees the slot
/// at once and leaves its heap entry behind; stale entries are skipped when
/// they reach the top, and the heap is rebuilt from the live slots when
/// they outnumber the live timers.
#[derive(Default)]
struct VirtualClock {
    now_ns: u64,
    next_seq: u64,
    slots: Vec<Slot>,
    free: Vec<u32>,
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    live: usize,
    timers_registered: u64,
    memo_off: bool,
    memo: MemoStats,
    epoch: u64,
}

/// Lookups of memoised pure functions on this simulation thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoStats {
    /// Results found in the memo (computation saved).
    pub hits: u64,
    /// Results computed (and remembered when the computation succeeded).
    pub misses: u64,
}

impl VirtualClock {
    fn slot_of(&self, key: TimerKey) -> Option<usize> {
        let i = key.slot as usize;
        let s = self.slots.get(i)?;
        // The deadline too, as the ordered map's key had it: a stale key
        // from an earlier clock on this thread must not match a new timer.
        (s.seq == key.seq && s.deadline_ns == key.deadline_ns).then_some(i)
    }

    /// Frees slot `i`, returning its waker (to be dropped outside the borrow).
    fn release(&mut self, i: usize) -> Option<Waker> {
        let s = &mut self.slots[i];
        s.seq = FREE;
        self.free.push(i as u32);
        self.live -= 1;
        s.waker.take()
    }

    /// Drops stale entries from the top of the heap.
    fn clean_top(&mut self) {
        while let Some(&Reverse((_, seq, slot))) = self.heap.peek() {
            if self.slots[slot as usize].seq == seq {
                break;
            }
            self.heap.pop();
        }
    }

    /// Rebuilds the heap from the live slots when stale entries dominate.
    fn maybe_compact(&mut self) {
        if self.heap.len() > 2 * self.live + 1024 {
            self.heap = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.seq != FREE)
                .map(|(i, s)| Reverse((s.deadline_ns, s.seq, i as u32)))
                .collect();
        }
    }
}

thread_local! {
    static CLOCK: RefCell<Option<VirtualClock>> = const { RefCell::new(None) };
    /// Clocks installed on this thread so far (each install is a new epoch).
    static EPOCHS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
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
        let epoch = EPOCHS.with(|e| {
            e.set(e.get() + 1);
            e.get()
        });
        *c = Some(VirtualClock {
            epoch,
            ..VirtualClock::default()
        });
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

/// May substitutes remember results of pure functions on this thread?
/// `Some(epoch)` on a simulation thread unless [`set_memo`] turned it off;
/// `None` elsewhere, where the substitutes behave exactly like the
/// originals. The epoch changes with every [`install`]: a memo that sees a
/// new epoch starts empty, so it never outlives its simulation.
#[inline]
pub fn memo_epoch() -> Option<u64> {
    CLOCK.with(|c| {
        c.borrow()
            .as_ref()
            .and_then(|c| (!c.memo_off).then_some(c.epoch))
    })
}

/// Turns memoisation on or off for the rest of this simulation (results are
/// the same either way; this is for measuring what it saves).
///
/// # Panics
/// If no clock is installed on this thread.
pub fn set_memo(on: bool) {
    CLOCK.with(|c| {
        let mut c = c.borrow_mut();
        c.as_mut()
            .expect("no virtual clock on this thread")
            .memo_off = !on;
    });
}

/// Counts one memo lookup (`hit`: the result was remembered).
pub fn count_memo(hit: bool) {
    CLOCK.with(|c| {
        if let Some(c) = c.borrow_mut().as_mut() {
            if hit {
                c.memo.hits += 1;
            } else {
                c.memo.misses += 1;
            }
        }
    });
}

/// Memo lookups so far in this simulation.
pub fn memo_stats() -> MemoStats {
    CLOCK.with(|c| c.borrow().as_ref().map(|c| c.memo).unwrap_or_default())
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
        let mut c = c.borrow_mut();
        let c = c.as_mut()?;
        c.clean_top();
        c.heap.peek().map(|Reverse((d, _, _))| *d)
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
        c.maybe_compact();
        let seq = c.next_seq;
        c.next_seq += 1;
        c.timers_registered += 1;
        let slot = Slot {
            seq,
            deadline_ns,
            waker: None,
        };
        let i = match c.free.pop() {
            Some(i) => {
                c.slots[i as usize] = slot;
                i
            }
            None => {
                c.slots.push(slot);
                (c.slots.len() - 1) as u32
            }
        };
        c.live += 1;
        c.heap.push(Reverse((deadline_ns, seq, i)));
        TimerKey {
            deadline_ns,
            seq,
            slot: i,
        }
    })
}

/// Stores the waker to wake when timer `key` fires. Returns `false` if the
/// timer is no longer pending (it fired already).
pub fn set_waker(key: TimerKey, waker: &Waker) -> bool {
    CLOCK.with(|c| {
        let mut c = c.borrow_mut();
        let Some(c) = c.as_mut() else { return false };
        match c.slot_of(key) {
            Some(i) => {
                let slot = &mut c.slots[i].waker;
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
        let c = c.as_mut()?;
        let i = c.slot_of(key)?;
        c.release(i)
    });
    drop(old);
}

/// Fires every timer whose deadline is at or before the current virtual time,
/// in (deadline, registration) order, waking their tasks. Returns how many fired.
pub fn fire_due() -> usize {
    let mut due = Vec::new();
    let mut n = 0;
    CLOCK.with(|c| {
        let mut c = c.borrow_mut();
        let Some(c) = c.as_mut() else { return };
        while let Some(&Reverse((deadline, seq, slot))) = c.heap.peek() {
            if deadline > c.now_ns {
                break;
            }
            c.heap.pop();
            if c.slots[slot as usize].seq != seq {
                continue; // cancelled
            }
            n += 1;
            if let Some(w) = c.release(slot as usize) {
                due.push(w);
            }
        }
    });
    for w in due {
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
    CLOCK.with(|c| c.borrow().as_ref().map_or(0, |c| c.live))
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
    fn cancel_heavy_use_fires_like_an_ordered_map() {
        // Against a reference model (a BTreeMap of (deadline, registration)),
        // with many cancellations: the same timers fire, in the same order,
        // and stale heap entries do not pile up.
        std::thread::spawn(|| {
            install();
            let count = Arc::new(Count(AtomicUsize::new(0)));
            let w = Waker::from(count.clone());
            let mut model = std::collections::BTreeMap::new();
            let mut keys = Vec::new();
            let mut x: u64 = 12345;
            let mut rnd = move || {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                x >> 33
            };
            let mut registered = 0u64;
            for round in 0..200u64 {
                for _ in 0..100 {
                    let d = round * 10 + rnd() % 1000;
                    let k = register(d);
                    assert!(set_waker(k, &w));
                    model.insert((d, registered), k);
                    registered += 1;
                    keys.push(k);
                }
                // Cancel about 90% of what was registered this round.
                for k in keys.drain(..) {
                    if rnd() % 10 != 0 {
                        cancel(k);
                        model.retain(|_, v| *v != k);
                    }
                }
                assert_eq!(timers_pending(), model.len());
                assert_eq!(next_deadline(), model.keys().next().map(|k| k.0));
                let heap_len = CLOCK.with(|c| c.borrow().as_ref().unwrap().heap.len());
                assert!(heap_len <= 2 * model.len() + 1024 + 100, "heap {heap_len}");
                // Fire what is due by now, checking the order.
                advance_to(round * 10);
                let expect: Vec<TimerKey> = model
                    .range(..(round * 10 + 1, 0))
                    .map(|(_, k)| *k)
                    .collect();
                for k in &expect {
                    model.retain(|_, v| v != k);
                }
                let before = count.0.load(Ordering::SeqCst);
                assert_eq!(fire_due(), expect.len());
                assert_eq!(count.0.load(Ordering::SeqCst) - before, expect.len());
                for k in &expect {
                    assert!(!set_waker(*k, &w), "fired timer is gone");
                }
            }
            uninstall();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_stale_key_from_an_earlier_clock_does_not_touch_a_new_timer() {
        std::thread::spawn(|| {
            install();
            let old = register(10);
            uninstall();
            install();
            let new = register(20); // same slot and registration number
            cancel(old);
            assert_eq!(timers_pending(), 1, "the new timer survives");
            assert_eq!(next_deadline(), Some(20));
            let _ = new;
            uninstall();
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
