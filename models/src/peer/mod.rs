//! The GossipSub peer: a real `libp2p_gossipsub::Behaviour` (the published
//! crate, unmodified) inside a real `libp2p_swarm::Swarm` over the virtual
//! transport, and, when the experiment enables it, the history sync protocol
//! ([`crate::history`]) beside it.
//!
//! With history on, GossipSub is configured with `validate_messages()`:
//! every message is checked against the peer's log and reported through
//! `report_message_validation_result`: `Accept` when its parents are present
//! (it is applied), `Ignore` when some are missing (and a sync with the
//! propagation source is requested), `Reject` when it is not a log entry.

mod identity;
mod partial;
mod template;
mod validation;

pub use identity::{keypair, keypair_for, test_plans_keypair};
pub use template::PeerTemplate;
use validation::is_invalid_payload;

use crate::collector::Collector;
use crate::history::{self, Log};
use crate::prolly::Hash;
use crate::spec::PeerBehaviourKind;
use crate::spec::{HistorySpec, MessageIdSpec, Signing};
use futures::StreamExt;
use libp2p_gossipsub as gossipsub;
use libp2p_identity::{Keypair, PeerId};
use libp2p_swarm::behaviour::toggle::Toggle;
use libp2p_swarm::{NetworkBehaviour, Swarm, SwarmEvent};
use std::cell::RefCell;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Everything one simulated peer runs.
#[derive(NetworkBehaviour)]
#[behaviour(prelude = "libp2p_swarm::derive_prelude")]
pub struct PeerBehaviour {
    /// The real GossipSub.
    pub gossipsub: gossipsub::Behaviour,
    /// The history sync protocol (disabled unless `history.enabled`).
    pub history: Toggle<history::Behaviour>,
    /// The automatic dialer (disabled unless `dialer.enabled`).
    pub dialer: Toggle<crate::dialer::Behaviour>,
}

/// A reply to a raw probe: (probe id, frames received before the remote closed, or the error).
pub type RawReply = (u64, Result<Vec<Vec<u8>>, String>);

/// One simulated peer.
pub struct Peer {
    /// Index in the world and the engine.
    pub index: u32,
    /// The swarm; `None` while the peer is down. Boxed: a peer that is
    /// down, or simulated in another partition, takes no room for it.
    pub swarm: Option<Box<Swarm<PeerBehaviour>>>,
    /// Replies to [`history::Behaviour::send_raw`] probes.
    pub raw_replies: Vec<RawReply>,
    /// Messages this peer's application reported `Reject` (invalid messages
    /// that GossipSub delivered, i.e. whose sender was not graylisted).
    pub rejected: u64,
    collector: Rc<RefCell<Collector>>,
    keypair: Keypair,
    template: Rc<PeerTemplate>,
    /// The log kept while the peer is down (its "disk").
    stored_log: Option<Log>,
    /// This incarnation's Prometheus registry (`measure.prometheus`).
    pub registry: Option<prometheus_client::registry::Registry>,
    /// Encoded registries of earlier incarnations (before crashes).
    pub metrics_history: Vec<String>,
    last_root: Option<Hash>,
    /// Application validation delay per topic (topic hash to nanoseconds),
    /// with `gossipsub.validate_messages` (test-plans `setTopicValidationDelay`).
    pub validation_delays: std::collections::BTreeMap<String, u64>,
    /// Messages waiting for their validation delay: (due ns, id, source).
    pending_validations: Vec<(u64, gossipsub::MessageId, PeerId)>,
    validation_timer: Option<(u64, futures_timer::Delay)>,
    /// Simulated by another partition of a partitioned run (no swarm here).
    remote: bool,
    /// Whether a remote peer is up (the scenario takes it down and up in
    /// every partition at the same virtual time).
    remote_up: bool,
    /// Partial messages held: (topic hash, group) to parts.
    partials: std::collections::BTreeMap<(String, u64), crate::partial::Parts>,
    /// Topics enabled for partial messages in this incarnation's GossipSub.
    partial_topics: std::collections::BTreeSet<String>,
    /// Groups (topic hash, group) this peer has offered (published).
    partial_published: std::collections::BTreeSet<(String, u64)>,
}

impl Peer {
    /// Builds peer `index` with `keypair` from `template`, listening on its address.
    pub fn new(
        index: u32,
        keypair: Keypair,
        template: Rc<PeerTemplate>,
        collector: Rc<RefCell<Collector>>,
    ) -> Peer {
        let mut p = Self::inert(index, keypair, template, collector);
        p.come_up();
        p
    }

    /// Peer `index` as seen by a partition of a partitioned run that does not
    /// simulate it: it has no swarm here, but is up or down as in its own
    /// partition (see [`Peer::set_remote_up`]), so that every partition
    /// draws the same workload and the same churn.
    pub fn remote(
        index: u32,
        keypair: Keypair,
        template: Rc<PeerTemplate>,
        collector: Rc<RefCell<Collector>>,
    ) -> Peer {
        let mut p = Self::inert(index, keypair, template, collector);
        p.remote = true;
        p.remote_up = true;
        p
    }

    /// Marks a remote peer up or down (no effect on a local peer).
    pub fn set_remote_up(&mut self, up: bool) {
        if self.remote {
            self.remote_up = up;
        }
    }

    /// Whether another partition simulates this peer.
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    fn inert(
        index: u32,
        keypair: Keypair,
        template: Rc<PeerTemplate>,
        collector: Rc<RefCell<Collector>>,
    ) -> Peer {
        Peer {
            index,
            swarm: None,
            raw_replies: Vec::new(),
            rejected: 0,
            collector,
            keypair,
            template,
            stored_log: Some(Log::new()),
            registry: None,
            metrics_history: Vec::new(),
            last_root: None,
            validation_delays: std::collections::BTreeMap::new(),
            pending_validations: Vec::new(),
            validation_timer: None,
            remote: false,
            remote_up: false,
            partials: std::collections::BTreeMap::new(),
            partial_topics: std::collections::BTreeSet::new(),
            partial_published: std::collections::BTreeSet::new(),
        }
    }

    /// The peer's id.
    pub fn peer_id(&self) -> PeerId {
        PeerId::from(self.keypair.public())
    }

    /// The template this peer is built from (class, behaviour, scoring).
    pub fn template(&self) -> &PeerTemplate {
        &self.template
    }

    /// Whether the peer is running.
    pub fn is_up(&self) -> bool {
        if self.remote {
            self.remote_up
        } else {
            self.swarm.is_some()
        }
    }

    fn build_swarm(
        &self,
        log: Log,
        registry: Option<&mut prometheus_client::registry::Registry>,
    ) -> Swarm<PeerBehaviour> {
        let t = &*self.template;
        let peer_id = PeerId::from(self.keypair.public());
        let auth = match t.gossipsub_spec.signing.unwrap_or(Signing::Ed25519) {
            Signing::Ed25519 => gossipsub::MessageAuthenticity::Signed(self.keypair.clone()),
            Signing::None => gossipsub::MessageAuthenticity::Anonymous,
        };
        let mut gossipsub = gossipsub::Behaviour::new(auth, t.gossipsub_cfg.clone())
            .expect("validated configuration");
        if let Some(sc) = &t.score {
            gossipsub
                .with_peer_score(sc.params.clone(), sc.thresholds.clone())
                .expect("validated scoring");
        }
        // GossipSub's own Prometheus metrics, when asked for (`measure.prometheus`).
        let gossipsub = match registry {
            Some(r) => gossipsub.with_metrics(r, gossipsub::MetricsConfig::default()),
            None => gossipsub,
        };
        let history = t.history.as_ref().map(|h| {
            let cfg = history_config(h, t.seeds.bytes("history", u64::from(self.index)));
            let mut log = log;
            log.set_keep_orphans(h.keep_orphans);
            history::Behaviour::new(cfg, log)
        });
        let mut swarm = Swarm::new(
            sim::transport::SimTransport::boxed(self.index),
            PeerBehaviour {
                gossipsub,
                history: Toggle::from(history),
                dialer: Toggle::from(t.dialer.clone().map(|d| {
                    crate::dialer::Behaviour::new(
                        d,
                        t.books
                            .get(self.index as usize)
                            .cloned()
                            .unwrap_or_default(),
                        t.directory.clone(),
                    )
                })),
            },
            peer_id,
            libp2p_swarm::Config::without_executor()
                .with_idle_connection_timeout(Duration::from_secs(3600)),
        );
        if t.listen {
            swarm
                .listen_on(sim::transport::node_addr(self.index))
                .expect("the virtual transport accepts its own address");
        }
        swarm
    }

    /// Takes the peer down: its swarm (connections, GossipSub state) is
    /// dropped; its log is kept for [`come_up`](Self::come_up). Call
    /// `sim::world::with(|w| w.crash(i))` first, so that the remotes notice
    /// only after the detection delay.
    pub fn go_down(&mut self) {
        let Some(mut swarm) = self.swarm.take() else {
            return;
        };
        // Its swarm reports no closing for the connections it drops: count
        // its side of each here, so that `connections_closed` (both sides'
        // closings, halved) includes connections lost to a crash or a leave.
        let open = swarm.network_info().connection_counters().num_established();
        self.collector
            .borrow_mut()
            .counters
            .connection_events_closed += u64::from(open);
        self.pending_validations.clear();
        self.validation_timer = None;
        // Partial messages live in memory only; the new GossipSub has no topic enabled.
        self.partials.clear();
        self.partial_topics.clear();
        self.partial_published.clear();
        if let Some(h) = swarm.behaviour_mut().history.as_mut() {
            let mut log = h.take_log();
            log.set_keep_orphans(false); // pending messages live in memory only
            self.stored_log = Some(log);
        }
        drop(swarm);
        self.last_root = None;
        if self.template.history.is_some() {
            self.collector
                .borrow_mut()
                .history
                .on_root(self.index, None);
        }
    }

    /// Brings the peer up with the same identity and log: a fresh swarm,
    /// listening again (subscriptions and dials are the scenario's job).
    pub fn come_up(&mut self) {
        if self.swarm.is_some() {
            return;
        }
        let log = self.stored_log.take().unwrap_or_default();
        let mut registry = self
            .template
            .prometheus
            .then(prometheus_client::registry::Registry::default);
        self.swarm = Some(Box::new(self.build_swarm(log, registry.as_mut())));
        if let Some(old) = std::mem::replace(&mut self.registry, registry) {
            self.metrics_history.push(crate::prom::encode(&old));
        }
        self.note_root();
    }

    /// The GossipSub behaviour (panics if the peer is down).
    pub fn gossipsub(&mut self) -> &mut gossipsub::Behaviour {
        &mut self
            .swarm
            .as_mut()
            .expect("peer is up")
            .behaviour_mut()
            .gossipsub
    }

    /// The history behaviour, if the peer is up and history is on.
    pub fn history(&mut self) -> Option<&mut history::Behaviour> {
        self.swarm.as_mut()?.behaviour_mut().history.as_mut()
    }

    /// The peer's log: live, or stored while the peer is down (`None` when history is off).
    pub fn log(&self) -> Option<&Log> {
        match self.swarm.as_ref() {
            Some(s) => s.behaviour().history.as_ref().map(history::Behaviour::log),
            None => self
                .stored_log
                .as_ref()
                .filter(|_| self.template.history.is_some()),
        }
    }

    /// The payload of workload message `seq` of `len` bytes: the sequence
    /// number (8 bytes, little-endian) first; with history on, the entry
    /// header after it, and the entry appended to the peer's own log.
    pub fn make_payload(&mut self, seq: u64, len: usize) -> Vec<u8> {
        let payload = match self.history() {
            Some(h) => h.log_mut().append(seq, len).1,
            None => {
                let mut data = vec![0u8; len.max(8)];
                data[..8].copy_from_slice(&seq.to_le_bytes());
                data
            }
        };
        self.note_root();
        payload
    }

    /// Reports a change of the log's root to the collector.
    fn note_root(&mut self) {
        if self.template.history.is_none() {
            return;
        }
        let root = self.log().map(Log::root_hash);
        if root != self.last_root && self.swarm.is_some() {
            self.last_root = root;
            self.collector
                .borrow_mut()
                .history
                .on_root(self.index, root);
        }
    }

    fn on_history_event(&mut self, ev: history::Event) {
        let mut c = self.collector.borrow_mut();
        match ev {
            history::Event::SyncFinished(r) => {
                let server = c.peer_index(&r.peer).unwrap_or(u32::MAX);
                c.on_sync(self.index, server, &r);
            }
            history::Event::Fetched { seqs, .. } => c.history.on_fetched(self.index, &seqs),
            history::Event::Rejected { .. } => c.history.rejected += 1,
            history::Event::ServerAborted { .. } => c.history.server_aborts += 1,
            history::Event::RawReply { id, reply, .. } => {
                drop(c);
                self.raw_replies.push((id, reply));
            }
        }
    }

    fn on_event(&mut self, ev: SwarmEvent<PeerBehaviourEvent>) {
        match ev {
            SwarmEvent::Behaviour(PeerBehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                // Test-plans payloads start with a big-endian message id, not a sequence number.
                let invalid = self.template.gossipsub_spec.message_id
                    != Some(MessageIdSpec::First8)
                    && is_invalid_payload(&message.data);
                if !invalid {
                    self.collector
                        .borrow_mut()
                        .on_delivery(self.index, &message.data);
                    if self.template.partial.is_some() {
                        self.offer_full(&message.topic, &message.data);
                    }
                }
                let acceptance = self.behaviour_acceptance(invalid);
                if let Some(a) = acceptance.filter(|_| self.template.validate || invalid) {
                    // Adversarial behaviours and invalid messages decide before the application.
                    if a == gossipsub::MessageAcceptance::Reject {
                        self.rejected += 1;
                    }
                    if let Some(s) = self.swarm.as_mut() {
                        s.behaviour_mut()
                            .gossipsub
                            .report_message_validation_result(&message_id, &propagation_source, a);
                    }
                } else if self.template.history.is_some() {
                    self.on_gossip_message(propagation_source, message_id, message);
                } else if (self.template.validate
                    || self.template.gossipsub_spec.validate_messages == Some(true))
                    && self.template.behaviour != PeerBehaviourKind::Silent
                {
                    self.accept_after_delay(message_id, propagation_source, message.topic.as_str());
                }
            }
            SwarmEvent::Behaviour(PeerBehaviourEvent::History(ev)) => self.on_history_event(ev),
            SwarmEvent::Behaviour(PeerBehaviourEvent::Gossipsub(gossipsub::Event::Partial {
                topic_hash,
                peer_id,
                group_id,
                message,
                ..
            })) => self.on_partial(partial::Received {
                topic_hash,
                peer_id,
                group_id,
                message,
            }),
            ev => {
                let mut c = self.collector.borrow_mut();
                match ev {
                    SwarmEvent::Behaviour(PeerBehaviourEvent::Gossipsub(
                        gossipsub::Event::Subscribed { peer_id, topic, .. },
                    )) => {
                        c.on_remote_subscribed(self.index, &peer_id, topic.as_str());
                    }
                    SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                        c.on_connection(self.index, &peer_id, true)
                    }
                    SwarmEvent::ConnectionClosed { peer_id, .. } => {
                        c.on_connection(self.index, &peer_id, false)
                    }
                    SwarmEvent::OutgoingConnectionError { .. } => c.counters.dial_failures += 1,
                    _ => {}
                }
            }
        }
        self.note_root();
    }
}

/// The history behaviour's settings for an experiment's `[history]` section.
pub fn history_config(h: &HistorySpec, seed: [u8; 32]) -> history::Config {
    history::Config {
        timeout: Duration::from_millis(h.sync_timeout_ms),
        abort_cooldown_ms: h.abort_cooldown_ms,
        heads_on_connect: h.heads_on_connect,
        anti_entropy_interval: (h.anti_entropy_interval_ms > 0)
            .then(|| Duration::from_millis(h.anti_entropy_interval_ms)),
        max_keys_per_request: h.max_keys_per_request,
        max_restarts: h.max_restarts,
        seed,
    }
}

impl sim::Node for Peer {
    fn poll(&mut self, cx: &mut Context<'_>) {
        loop {
            let Some(swarm) = self.swarm.as_mut() else {
                return;
            };
            match swarm.poll_next_unpin(cx) {
                Poll::Ready(Some(ev)) => self.on_event(ev),
                Poll::Ready(None) | Poll::Pending => {
                    if !self.poll_validations(cx) {
                        return;
                    }
                }
            }
        }
    }
}
