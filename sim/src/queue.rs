//! The event queue: events ordered by (virtual time, sequence number).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Something the engine does at a virtual instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Network: data, end-of-stream or a reset became visible on a pipe.
    WakePipe {
        /// Stream slot.
        stream: u32,
        /// Stream generation (guards against reused slots).
        gen: u32,
        /// Direction: 0 = from the dialer's side, 1 = from the listener's side.
        dir: u8,
    },
    /// Network: an inbound substream or a close became visible to one side.
    WakeMuxer {
        /// Connection slot.
        conn: u32,
        /// Connection generation.
        gen: u32,
        /// 0 = dialer, 1 = listener.
        side: u8,
    },
    /// Network: a node's uplink drained enough to wake blocked writers.
    UplinkDrained {
        /// The node.
        node: u32,
    },
    /// Network: a dial reaches its target.
    DialArrive {
        /// Dial slot.
        dial: u32,
    },
    /// Network: the dialer learns the outcome of its dial.
    DialDone {
        /// Dial slot.
        dial: u32,
    },
    /// Network (`tcp` model): the round under way on one direction of a
    /// connection ends (its bytes are acknowledged).
    TcpRound {
        /// Connection slot.
        conn: u32,
        /// Connection generation.
        gen: u32,
        /// Direction: 0 = from the dialer, 1 = from the listener.
        dir: u8,
    },
    /// Network (`tcp` model): a unit on a node's shared uplink or downlink
    /// may have completed.
    Link {
        /// The node.
        node: u32,
        /// Its downlink (else its uplink).
        down: bool,
    },
    /// Network (`tcp` model): a new connection is ready at its listener
    /// (its handshakes are done there).
    Accept {
        /// Connection slot.
        conn: u32,
        /// Connection generation.
        gen: u32,
    },
    /// Network: a message in the world's inbox is due (from another
    /// partition of a partitioned run, or bytes reaching a download-limited
    /// reader's downlink).
    Remote {
        /// Slot of the message in the world's inbox.
        slot: u32,
    },
    /// A model-defined action for `node` (or for the scenario when `node` is `u32::MAX`).
    App {
        /// Target node, or `u32::MAX` for the scenario itself.
        node: u32,
        /// Model-defined tag.
        tag: u64,
    },
}

#[derive(Debug)]
struct Entry {
    at: u64,
    seq: u64,
    ev: Event,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap; we pop the earliest.
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// A min-queue of events by (time, insertion sequence).
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl EventQueue {
    /// Schedules `ev` at virtual time `at` (nanoseconds).
    pub fn push(&mut self, at: u64, ev: Event) {
        self.heap.push(Entry {
            at,
            seq: self.seq,
            ev,
        });
        self.seq += 1;
    }

    /// Time of the earliest event.
    pub fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.at)
    }

    /// Pops the earliest event if it is due at or before `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<(u64, Event)> {
        if self.heap.peek()?.at <= now {
            self.heap.pop().map(|e| (e.at, e.ev))
        } else {
            None
        }
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Is the queue empty?
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Events pushed so far.
    pub fn pushed(&self) -> u64 {
        self.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_sequence() {
        let mut q = EventQueue::default();
        let ev = |tag| Event::App { node: 0, tag };
        q.push(20, ev(1));
        q.push(10, ev(2));
        q.push(10, ev(3));
        assert_eq!(q.pop_due(5), None);
        assert_eq!(q.pop_due(10), Some((10, ev(2))));
        assert_eq!(q.pop_due(10), Some((10, ev(3))));
        assert_eq!(q.pop_due(10), None);
        assert_eq!(q.pop_due(30), Some((20, ev(1))));
    }

    /// Against a model: a `BinaryHeap` of (time, sequence), through
    /// many random pushes (often at equal times) and pops up to a moving
    /// clock, as the engine uses the queue.
    #[test]
    fn pops_in_the_same_order_as_an_ordered_heap() {
        use rand::{RngExt, SeedableRng};
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        for seed in 0..20u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut q = EventQueue::default();
            let mut model: BinaryHeap<Reverse<(u64, u64, u64)>> = BinaryHeap::new();
            let mut now = 0u64;
            let mut seq = 0u64;
            for _ in 0..5_000 {
                for _ in 0..rng.random_range(0..6u32) {
                    // Few distinct delays, so many events share a time.
                    let at = now + rng.random_range(0..8u64) * 5;
                    let tag = rng.random::<u64>();
                    q.push(at, Event::App { node: 0, tag });
                    model.push(Reverse((at, seq, tag)));
                    seq += 1;
                }
                assert_eq!(q.len(), model.len());
                assert_eq!(q.peek_time(), model.peek().map(|r| r.0 .0));
                now += rng.random_range(0..12u64);
                loop {
                    let want = match model.peek() {
                        Some(Reverse((at, _, _))) if *at <= now => {
                            let Reverse((at, _, tag)) = model.pop().unwrap();
                            Some((at, Event::App { node: 0, tag }))
                        }
                        _ => None,
                    };
                    assert_eq!(q.pop_due(now), want);
                    if want.is_none() {
                        break;
                    }
                }
            }
            assert_eq!(q.pushed(), seq);
        }
    }
}
