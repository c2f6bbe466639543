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

use crate::collector::Collector;
use crate::history::{self, Log, Receive, Trigger};
use crate::prolly::Hash;
use crate::spec::PeerBehaviourKind;
use crate::spec::{GossipsubSpec, HistorySpec, MessageIdSpec, Signing};
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

/// The deterministic ed25519 key of peer `index` under `seeds`.
pub fn keypair(seeds: &sim::Seeds, index: u32) -> Keypair {
    let bytes = seeds.bytes("identity", u64::from(index));
    Keypair::ed25519_from_bytes(bytes).expect("32 bytes make an ed25519 key")
}

/// The key of node `node` in the libp2p test-plans `gossipsub-interop`
/// framework: ed25519 from a 32-byte seed that holds the node id
/// little-endian in its first 4 bytes (the rest zero).
pub fn test_plans_keypair(node: u32) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&node.to_le_bytes());
    Keypair::ed25519_from_bytes(seed).expect("32 bytes make an ed25519 key")
}

/// The key of peer `index`: from the seed, or as in test-plans (`gossipsub.identity`).
pub fn keypair_for(s: &GossipsubSpec, seeds: &sim::Seeds, index: u32) -> Keypair {
    match s.identity {
        Some(crate::spec::IdentitySpec::TestPlans) => test_plans_keypair(index),
        _ => keypair(seeds, index),
    }
}

/// A reply to a raw probe: (probe id, frames received before the remote closed, or the error).
pub type RawReply = (u64, Result<Vec<Vec<u8>>, String>);

/// What every peer's swarm is built from (shared by all peers of a run).
pub struct PeerTemplate {
    /// The experiment's GossipSub section.
    pub gossipsub_spec: GossipsubSpec,
    /// The GossipSub configuration built from it.
    pub gossipsub_cfg: gossipsub::Config,
    /// The history section; `None` when history is off.
    pub history: Option<HistorySpec>,
    /// Seeds of the run (per-peer history streams).
    pub seeds: sim::Seeds,
    /// The dialer section, when the dialer is on.
    pub dialer: Option<crate::spec::DialerSpec>,
    /// Each peer's address book for the dialer, by peer index.
    pub books: Rc<Vec<Vec<(PeerId, libp2p_core::Multiaddr)>>>,
    /// Every listening peer's address, for peer-exchange dials.
    pub directory: crate::dialer::Directory,
    /// Whether peers of this template listen (accept inbound connections).
    pub listen: bool,
    /// Peer scoring (`[scoring]`), activated with `with_peer_score` when set.
    pub score: Option<crate::spec::ScoreConfig>,
    /// Whether GossipSub's `validate_messages()` is on without history (scoring or
    /// adversarial behaviours): every message is then accepted, rejected or
    /// ignored by [`Peer`] according to its behaviour.
    pub validate: bool,
    /// What peers of this template do.
    pub behaviour: crate::spec::PeerBehaviourKind,
    /// The class of peers of this template (0 without classes).
    pub class: u16,
    /// Whether GossipSub's Prometheus metrics are collected (`measure.prometheus`).
    pub prometheus: bool,
}

impl PeerTemplate {
    /// The template for an experiment's GossipSub and history sections;
    /// `gossipsub_cfg` is the crate configuration built from `gossipsub_spec`
    /// (see [`GossipsubSpec::to_config`]).
    pub fn new(
        gossipsub_spec: &GossipsubSpec,
        gossipsub_cfg: gossipsub::Config,
        history: &HistorySpec,
        seeds: sim::Seeds,
    ) -> Self {
        PeerTemplate {
            gossipsub_spec: gossipsub_spec.clone(),
            gossipsub_cfg,
            history: history.enabled.then(|| history.clone()),
            seeds,
            dialer: None,
            books: Rc::new(Vec::new()),
            directory: std::sync::Arc::new(Vec::new()),
            listen: true,
            score: None,
            validate: false,
            behaviour: crate::spec::PeerBehaviourKind::Honest,
            class: 0,
            prometheus: false,
        }
    }
}

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

    fn on_gossip_message(
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
    fn behaviour_acceptance(&self, invalid: bool) -> Option<gossipsub::MessageAcceptance> {
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
    fn accept_after_delay(&mut self, id: gossipsub::MessageId, source: PeerId, topic: &str) {
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
    fn poll_validations(&mut self, cx: &mut Context<'_>) -> bool {
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
            ev => {
                let mut c = self.collector.borrow_mut();
                match ev {
                    SwarmEvent::Behaviour(PeerBehaviourEvent::Gossipsub(
                        gossipsub::Event::Subscribed { peer_id, topic },
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

/// Sequence numbers from this one up mark invalid (spam) messages, which
/// honest peers `Reject`.
pub const INVALID_SEQ_BASE: u64 = 1 << 63;

/// Whether a payload is marked invalid (an `invalid_spammer`'s message).
pub fn is_invalid_payload(data: &[u8]) -> bool {
    data.get(..8)
        .is_some_and(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) >= INVALID_SEQ_BASE)
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
