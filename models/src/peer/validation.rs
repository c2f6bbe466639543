//! Application validation of received messages: what a peer's behaviour
//! reports to GossipSub (accept, reject, ignore), after its validation delay.

use crate::history::{self, Receive, Trigger};
use crate::spec::PeerBehaviourKind;
use libp2p_gossipsub as gossipsub;
use libp2p_identity::PeerId;
use std::task::Context;
use std::time::Duration;

/// Sequence numbers from this one up mark invalid (spam) messages, which
/// honest peers `Reject`.
pub(super) const INVALID_SEQ_BASE: u64 = 1 << 63;

/// Whether a payload is marked invalid (an `invalid_spammer`'s message).
pub(super) fn is_invalid_payload(data: &[u8]) -> bool {
    data.get(..8)
        .is_some_and(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) >= INVALID_SEQ_BASE)
}

use super::Peer;

impl Peer {
    pub(super) fn on_gossip_message(
        &mut self,
        source: PeerId,
        id: gossipsub::MessageId,
        message: gossipsub::Message,
    ) {
        let sync_on_missing = self
            .template
            .history
            .as_ref()
            .is_some_and(|h| h.sync_on_missing_parent);
        let Some(swarm) = self.swarm.as_mut() else {
            return;
        };
        let b = swarm.behaviour_mut();
        let Some(h) = b.history.as_mut() else {
            return;
        };
        let seq = history::log::seq_of(&message.data);
        let (acceptance, missing) = match h.log_mut().receive(&message.data) {
            Receive::Applied(_) | Receive::Duplicate(_) => {
                (gossipsub::MessageAcceptance::Accept, None)
            }
            Receive::MissingParents { missing, .. } => {
                (gossipsub::MessageAcceptance::Ignore, Some(missing))
            }
            Receive::Malformed(_) => (gossipsub::MessageAcceptance::Reject, None),
        };
        if let Some(missing) = &missing {
            if sync_on_missing {
                let wanted = missing.iter().map(|k| k.to_vec()).collect();
                h.request_sync(source, Trigger::MissingParent, wanted);
            }
        }
        b.gossipsub
            .report_message_validation_result(&id, &source, acceptance);
        let mut c = self.collector.borrow_mut();
        if let Some(seq) = seq {
            c.history.on_gossip(self.index, seq, missing.is_none());
        }
        if missing.is_some() {
            c.history.missing_parent_ignored += 1;
        }
    }

    /// The validation result this peer's behaviour imposes, if any (`None`:
    /// the application decides: accept, or the history log's verdict).
    /// Silent peers never report; with validation on, their messages are
    /// never forwarded.
    pub(super) fn behaviour_acceptance(
        &self,
        invalid: bool,
    ) -> Option<gossipsub::MessageAcceptance> {
        match self.template.behaviour {
            PeerBehaviourKind::NonForwarder => Some(gossipsub::MessageAcceptance::Ignore),
            PeerBehaviourKind::Silent => None,
            PeerBehaviourKind::Honest
            | PeerBehaviourKind::InvalidSpammer
            | PeerBehaviourKind::PromiseBreaker
            | PeerBehaviourKind::GraftSpammer => {
                invalid.then_some(gossipsub::MessageAcceptance::Reject)
            }
        }
    }

    /// Publishes one invalid message (an `invalid_spammer`'s spam) of `len`
    /// bytes on `topic`; returns whether GossipSub took it.
    pub fn publish_invalid(&mut self, topic: gossipsub::IdentTopic, len: usize) -> bool {
        let now = sim::clock::now_ns().unwrap_or(0);
        let mut data = vec![0u8; len.max(16)];
        data[..8].copy_from_slice(&(INVALID_SEQ_BASE | now).to_le_bytes());
        data[8..12].copy_from_slice(&self.index.to_le_bytes());
        match self.swarm.as_mut() {
            Some(s) => s.behaviour_mut().gossipsub.publish(topic, data).is_ok(),
            None => false,
        }
    }

    /// Accepts a message now, or once this peer's validation delay for its topic has passed.
    pub(super) fn accept_after_delay(
        &mut self,
        id: gossipsub::MessageId,
        source: PeerId,
        topic: &str,
    ) {
        match self.validation_delays.get(topic) {
            Some(&d) if d > 0 => {
                let now = sim::clock::now_ns().unwrap_or(0);
                self.pending_validations.push((now + d, id, source));
            }
            _ => {
                if let Some(s) = self.swarm.as_mut() {
                    s.behaviour_mut()
                        .gossipsub
                        .report_message_validation_result(
                            &id,
                            &source,
                            gossipsub::MessageAcceptance::Accept,
                        );
                }
            }
        }
    }

    /// Accepts the delayed messages that are due; arms a timer for the next.
    /// Returns whether something was reported (the swarm must be polled again).
    pub(super) fn poll_validations(&mut self, cx: &mut Context<'_>) -> bool {
        use futures::FutureExt as _;
        if self.pending_validations.is_empty() {
            self.validation_timer = None;
            return false;
        }
        let Some(swarm) = self.swarm.as_mut() else {
            return false;
        };
        let now = sim::clock::now_ns().unwrap_or(0);
        let mut reported = false;
        let mut i = 0;
        while i < self.pending_validations.len() {
            if self.pending_validations[i].0 <= now {
                let (_, id, source) = self.pending_validations.remove(i);
                swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(
                        &id,
                        &source,
                        gossipsub::MessageAcceptance::Accept,
                    );
                reported = true;
            } else {
                i += 1;
            }
        }
        if reported {
            return true;
        }
        let next = self
            .pending_validations
            .iter()
            .map(|p| p.0)
            .min()
            .unwrap_or(now);
        if self
            .validation_timer
            .as_ref()
            .is_none_or(|(at, _)| *at != next)
        {
            let d = futures_timer::Delay::new(Duration::from_nanos(next.saturating_sub(now)));
            self.validation_timer = Some((next, d));
        }
        if let Some((_, d)) = self.validation_timer.as_mut() {
            if d.poll_unpin(cx).is_ready() {
                self.validation_timer = None;
                return true;
            }
        }
        false
    }
}
