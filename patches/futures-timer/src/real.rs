//! Real timers for threads without a simulation: one background thread
//! sleeping until the earliest deadline, as the original crate does.

// Real time is what this module is for (the determinism lint does not apply).
#![allow(clippy::disallowed_methods)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Slot {
    fired: bool,
    waker: Option<Waker>,
}

pub(crate) struct Timer {
    slot: Arc<Mutex<Slot>>,
}

struct Wheel {
    heap: Mutex<BinaryHeap<Reverse<(Instant, u64, SlotRef)>>>,
    cv: Condvar,
}

struct SlotRef(Arc<Mutex<Slot>>);
impl PartialEq for SlotRef {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for SlotRef {}
impl PartialOrd for SlotRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SlotRef {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

fn wheel() -> &'static Wheel {
    static WHEEL: OnceLock<&'static Wheel> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let w: &'static Wheel = Box::leak(Box::new(Wheel {
            heap: Mutex::new(BinaryHeap::new()),
            cv: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("futures-timer".into())
            .spawn(move || run(w))
            .expect("spawn timer thread");
        w
    })
}

fn run(w: &'static Wheel) {
    let mut heap = w.heap.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let now = Instant::now();
        while let Some(Reverse((at, _, _))) = heap.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, _, slot))) = heap.pop() else {
                break;
            };
            let waker = {
                let mut s = slot.0.lock().unwrap_or_else(|e| e.into_inner());
                s.fired = true;
                s.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        heap = match heap.peek() {
            Some(Reverse((at, _, _))) => {
                let wait = at.saturating_duration_since(now);
                w.cv.wait_timeout(heap, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => w.cv.wait(heap).unwrap_or_else(|e| e.into_inner()),
        };
    }
}

impl Timer {
    pub(crate) fn new(dur: Duration) -> Timer {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let slot = Arc::new(Mutex::new(Slot::default()));
        let at = Instant::now() + dur;
        let w = wheel();
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        w.heap
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Reverse((at, seq, SlotRef(slot.clone()))));
        w.cv.notify_one();
        Timer { slot }
    }

    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if s.fired {
            return Poll::Ready(());
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
