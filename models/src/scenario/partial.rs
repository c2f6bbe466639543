//! Publishing a workload message as a partial message (`[workload.partial]`).
//!
//! The publisher holds every part; each other subscriber is a holder with
//! probability `holders_share`, and a holder holds `held_share` of the
//! parts (rounded), drawn per message. Everyone who holds something
//! publishes it at the same instant, as PeerDAS nodes that got columns
//! from elsewhere announce them. Peers of a `support`-only class get the
//! full message, which the publisher then publishes as well.
//!
//! The draws come from the stream `partial` at the message's sequence
//! number, for every subscriber in index order, so that every partition of
//! a partitioned run draws the same.

use super::driver::Driver;
use crate::partial::Parts;
use crate::peer::Peer;
use rand::RngExt;
use sim::Engine;

impl Driver {
    /// Publishes message `seq` of `publisher` on `topic` as partial messages.
    pub(super) fn publish_partial(
        &mut self,
        engine: &mut Engine<Peer>,
        publisher: u32,
        topic: usize,
        seq: u64,
        expected: &[u32],
    ) {
        let spec = self
            .spec
            .workload
            .partial()
            .cloned()
            .expect("partial workload");
        let layout = spec.layout(self.spec.workload.message_bytes);
        let hash = self.topics[topic].hash();
        let held = (spec.held_share * f64::from(layout.parts)).round() as u32;
        let mut rng = self.seeds.stream_at("partial", seq);
        let mut holders: Vec<(u32, Vec<u8>)> = Vec::new();
        let local = |e: &Engine<Peer>, p: u32| {
            let n = &e.nodes[p as usize];
            n.swarm.is_some() && !n.is_remote()
        };
        // Every partition draws for every peer, and counts the parts its
        // own requesting peers lack (supporting peers get the full message).
        let mut missing = 0u64;
        for &p in expected {
            let mut parts = Parts::new(layout, seq);
            if held > 0 && (spec.holders_share >= 1.0 || rng.random_bool(spec.holders_share)) {
                // `held` distinct parts: a partial Fisher-Yates shuffle.
                let mut idx: Vec<u32> = (0..layout.parts).collect();
                for k in 0..held as usize {
                    let j = rng.random_range(k..idx.len());
                    idx.swap(k, j);
                    parts.set(idx[k]);
                }
            }
            if local(engine, p) && engine.nodes[p as usize].template().partial_requests {
                missing += u64::from(layout.parts - parts.count());
            }
            if parts.count() > 0 {
                holders.push((p, parts.bits().to_vec()));
            }
        }
        self.collector.borrow_mut().counters.partial_parts_missing += missing;
        if local(engine, publisher) {
            let node = &mut engine.nodes[publisher as usize];
            let full = Parts::full(layout, seq);
            node.add_parts(&hash, seq, layout, full.bits())
                .expect("a full bitmap of the layout");
            let _ = node.publish_parts(&hash, seq);
            let support_only = self.subscribers[topic]
                .iter()
                .any(|&p| !engine.nodes[p as usize].template().partial_requests);
            if support_only {
                let node = &mut engine.nodes[publisher as usize];
                let data = node.make_payload(seq, self.spec.workload.message_bytes);
                if node.gossipsub().publish(hash.clone(), data).is_err() {
                    self.collector.borrow_mut().counters.publish_errors += 1;
                }
            }
            engine.wake(publisher);
        }
        for (p, bits) in holders {
            if !local(engine, p) {
                continue;
            }
            let node = &mut engine.nodes[p as usize];
            node.add_parts(&hash, seq, layout, &bits)
                .expect("a bitmap of the layout");
            let _ = node.publish_parts(&hash, seq);
            engine.wake(p);
        }
    }
}
