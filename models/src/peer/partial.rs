//! A peer's partial messages: the application side of GossipSub's
//! partial-messages extension ([`crate::partial`]), as the libp2p
//! test-plans interop node does it, on the published crate's API.
//!
//! - A topic is enabled for partial messages before the peer subscribes
//!   to it (the crate requires that order); the peer then supports them,
//!   and requests them unless its class only supports them.
//! - [`Peer::add_parts`] sets what the peer holds of a group;
//!   [`Peer::publish_parts`] offers it to the topic's peers (GossipSub
//!   sends each the parts its metadata lacks, or only our metadata).
//! - On a received partial message the peer takes its parts; if that
//!   changed what it holds, it publishes again (the crate sends the new
//!   parts on to the peers that lack them); a supporting peer that gets
//!   the full message offers its parts too; a lazy peer that hears of a
//!   group it has not offered yet publishes what it holds (perhaps
//!   nothing), so that the others know what to send it.

use super::Peer;
use crate::partial::{Layout, Parts};
use libp2p_gossipsub::partial_messages::PartialError;
use libp2p_gossipsub::TopicHash;
use libp2p_identity::PeerId;

/// A received partial message (the fields of GossipSub's `Event::Partial`).
pub(super) struct Received {
    pub topic_hash: TopicHash,
    pub peer_id: PeerId,
    pub group_id: Vec<u8>,
    pub message: Option<Vec<u8>>,
}

impl Peer {
    /// Subscribes to `topic`, after enabling partial messages on it when
    /// the run uses them.
    pub fn subscribe_topic(&mut self, topic: &libp2p_gossipsub::IdentTopic) {
        if self.template.partial.is_some() {
            let requests = self.template.partial_requests;
            self.enable_partial(&topic.hash(), requests);
        }
        // Subscribing twice is a no-op in GossipSub as well.
        let _ = self.gossipsub().subscribe(topic);
    }

    /// Enables partial messages on `topic` (once; before subscribing).
    pub fn enable_partial(&mut self, topic: &TopicHash, requests: bool) {
        if self.partial_topics.insert(topic.to_string()) {
            self.gossipsub()
                .enable_partials_for_topic(topic.clone(), requests);
        }
    }

    /// The parts the peer holds of `group` on `topic`, if any.
    pub fn parts(&self, topic: &TopicHash, group: u64) -> Option<&Parts> {
        self.partials.get(&(topic.to_string(), group))
    }

    /// Sets the parts the peer holds of `group` on `topic` to the bitmap
    /// `bits` (as the test-plans node, replacing what it held). A peer that
    /// now holds every part has completed the group.
    pub fn add_parts(
        &mut self,
        topic: &TopicHash,
        group: u64,
        layout: Layout,
        bits: &[u8],
    ) -> Result<(), PartialError> {
        let mut p = Parts::new(layout, group);
        p.add_bits(bits)?;
        let full = p.is_full();
        self.partials.insert((topic.to_string(), group), p);
        if full {
            self.collector
                .borrow_mut()
                .on_partial_complete(self.index, topic.as_str(), group);
        }
        Ok(())
    }

    /// Offers what the peer holds of `group` on `topic` to the topic's
    /// peers. `Err` when it holds nothing of the group, or GossipSub
    /// refuses (no peer to send to: counted as a publish error).
    pub fn publish_parts(&mut self, topic: &TopicHash, group: u64) -> Result<(), String> {
        let Some(p) = self.partials.get(&(topic.to_string(), group)).cloned() else {
            return Err(format!("no parts of group {group} on topic {topic}"));
        };
        // A publisher that never subscribed (a fanout publisher) enables
        // the topic here; it requests nothing it does not subscribe to.
        let requests = self.template.partial_requests;
        self.enable_partial(topic, requests);
        self.partial_published.insert((topic.to_string(), group));
        if self.gossipsub().publish_partial(topic.clone(), p).is_err() {
            self.collector.borrow_mut().counters.publish_errors += 1;
        }
        Ok(())
    }

    /// GossipSub's `Event::Partial`: take the parts, publish again if what
    /// we hold changed.
    pub(super) fn on_partial(&mut self, r: Received) {
        let Some(layout) = self.template.partial else {
            return;
        };
        let Ok(group) = <[u8; 8]>::try_from(r.group_id.as_slice()).map(u64::from_be_bytes) else {
            self.invalid_partial(&r.peer_id, &r.topic_hash);
            return;
        };
        let key = (r.topic_hash.to_string(), group);
        let announced = self.partial_published.contains(&key);
        let parts = self
            .partials
            .entry(key)
            .or_insert_with(|| Parts::new(layout, group));
        let before = parts.count();
        if let Some(body) = r.message.as_deref().filter(|b| !b.is_empty()) {
            match parts.extend(body) {
                Ok(got) => {
                    self.collector.borrow_mut().counters.partial_parts_new += u64::from(got.new);
                }
                Err(_) => {
                    self.invalid_partial(&r.peer_id, &r.topic_hash);
                    return;
                }
            }
        }
        let (after, full) = (parts.count(), parts.is_full());
        if after != before {
            if full {
                self.collector.borrow_mut().on_partial_complete(
                    self.index,
                    r.topic_hash.as_str(),
                    group,
                );
            }
            // Every change is offered: the crate answers peers only from
            // what was last published, and sends each only what it lacks.
            let _ = self.publish_parts(&r.topic_hash, group);
        } else if !announced && !layout.eager {
            // First word of a group we have not offered: say what we hold
            // (nothing, maybe), so that the peers with parts send them.
            let _ = self.publish_parts(&r.topic_hash, group);
        }
    }

    /// A supporting peer that got workload message `data` whole holds every
    /// part of its group (the message's sequence number) and offers them,
    /// so that requesting neighbours get them as parts.
    pub(super) fn offer_full(&mut self, topic: &TopicHash, data: &[u8]) {
        let Some(layout) = self.template.partial else {
            return;
        };
        if self.template.partial_requests {
            return;
        }
        let Some(seq) = data
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
        else {
            return;
        };
        let key = (topic.to_string(), seq);
        if self.partials.get(&key).is_some_and(Parts::is_full) {
            return;
        }
        self.partials.insert(key, Parts::full(layout, seq));
        let _ = self.publish_parts(topic, seq);
    }

    /// A partial message that is not one (a wrong group id, a bad body):
    /// GossipSub's penalty for invalid partials, and counted.
    fn invalid_partial(&mut self, peer: &PeerId, topic: &TopicHash) {
        self.collector.borrow_mut().counters.partial_invalid += 1;
        self.gossipsub().report_invalid_partial(*peer, topic);
    }
}
