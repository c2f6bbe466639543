//! meshsim's substitute for the `futures-timer` crate.
//!
//! A [`Delay`] created on a thread with a virtual clock (see `meshsim-clock`)
//! registers in that clock's timer heap and fires when the simulation engine
//! moves virtual time past its deadline. Created anywhere else, it is a real
//! timer served by one background thread, like the original crate.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

mod real;

/// A future that completes after a duration.
pub struct Delay {
    inner: Inner,
}

enum Inner {
    Virtual(meshsim_clock::TimerKey),
    Real(real::Timer),
    Done,
}

impl Delay {
    /// A delay that completes `dur` from now.
    pub fn new(dur: Duration) -> Delay {
        Delay {
            inner: Inner::start(dur),
        }
    }

    /// Restarts the delay to complete `dur` from now.
    pub fn reset(&mut self, dur: Duration) {
        self.inner.cancel();
        self.inner = Inner::start(dur);
    }
}

fn saturating_ns(dur: Duration) -> u64 {
    u64::try_from(dur.as_nanos()).unwrap_or(u64::MAX)
}

impl Inner {
    fn start(dur: Duration) -> Inner {
        match meshsim_clock::now_ns() {
            Some(now) => Inner::Virtual(meshsim_clock::register(
                now.saturating_add(saturating_ns(dur)),
            )),
            None => Inner::Real(real::Timer::new(dur)),
        }
    }

    fn cancel(&mut self) {
        if let Inner::Virtual(key) = std::mem::replace(self, Inner::Done) {
            meshsim_clock::cancel(key);
        }
    }
}

impl Drop for Delay {
    fn drop(&mut self) {
        self.inner.cancel();
    }
}

impl Future for Delay {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.inner {
            Inner::Done => Poll::Ready(()),
            Inner::Virtual(key) => {
                let key = *key;
                match meshsim_clock::now_ns() {
                    Some(now) if now >= key.deadline_ns => {
                        meshsim_clock::cancel(key);
                        self.inner = Inner::Done;
                        Poll::Ready(())
                    }
                    Some(_) => {
                        if meshsim_clock::set_waker(key, cx.waker()) {
                            Poll::Pending
                        } else {
                            // Fired (and removed) by the engine already.
                            self.inner = Inner::Done;
                            Poll::Ready(())
                        }
                    }
                    // The simulation that owned this timer has ended.
                    None => Poll::Pending,
                }
            }
            Inner::Real(t) => t.poll(cx),
        }
    }
}

impl std::fmt::Debug for Delay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Virtual(key) => write!(f, "Delay(virtual deadline {} ns)", key.deadline_ns),
            Inner::Real(_) => write!(f, "Delay(real)"),
            Inner::Done => write!(f, "Delay(done)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn virtual_delay_fires_when_time_passes() {
        std::thread::spawn(|| {
            meshsim_clock::install();
            let count = Arc::new(Count(AtomicUsize::new(0)));
            let waker = Waker::from(count.clone());
            let mut cx = Context::from_waker(&waker);
            let mut d = Delay::new(Duration::from_millis(10));
            assert!(Pin::new(&mut d).poll(&mut cx).is_pending());
            meshsim_clock::advance_to(9_999_999);
            meshsim_clock::fire_due();
            assert_eq!(count.0.load(Ordering::SeqCst), 0);
            meshsim_clock::advance_to(10_000_000);
            meshsim_clock::fire_due();
            assert_eq!(count.0.load(Ordering::SeqCst), 1);
            assert!(Pin::new(&mut d).poll(&mut cx).is_ready());
            d.reset(Duration::from_millis(1));
            assert_eq!(meshsim_clock::next_deadline(), Some(11_000_000));
            drop(d);
            assert_eq!(meshsim_clock::next_deadline(), None, "drop cancels");
            meshsim_clock::uninstall();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn real_delay_fires() {
        futures_lite_block_on(Delay::new(Duration::from_millis(2)));
    }

    /// Minimal blocking executor for the test (parks the thread until woken).
    fn futures_lite_block_on<F: Future>(f: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }
}
