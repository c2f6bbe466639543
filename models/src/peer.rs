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
use crate::spec::{GossipsubSpec, HistorySpec, Signing, ValidationModeSpec};
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

/// The content-based message id used for unsigned messages: BLAKE3 of the payload, 16 bytes.
pub fn content_message_id(m: &gossipsub::Message) -> gossipsub::MessageId {
    gossipsub::MessageId::from(blake3::hash(&m.data).as_bytes()[..16].to_vec())
}

/// Maps the experiment's GossipSub section onto the crate's `ConfigBuilder`.
pub fn build_gossipsub_config(
    s: &GossipsubSpec,
) -> Result<gossipsub::Config, gossipsub::ConfigBuilderError> {
    build_gossipsub_config_with(s, false)
}

/// Like [`build_gossipsub_config`]; `validate` turns on `validate_messages()`
/// (messages are forwarded only once the application accepts them).
pub fn build_gossipsub_config_with(
    s: &GossipsubSpec,
    validate: bool,
) -> Result<gossipsub::Config, gossipsub::ConfigBuilderError> {
    let mut b = gossipsub::ConfigBuilder::default();
    if validate {
        b.validate_messages();
    }
    let ms = Duration::from_millis;
    if let Some(v) = s.mesh_n {
        b.mesh_n(v);
    }
    if let Some(v) = s.mesh_n_low {
        b.mesh_n_low(v);
    }
    if let Some(v) = s.mesh_n_high {
        b.mesh_n_high(v);
    }
    if let Some(v) = s.mesh_outbound_min {
        b.mesh_outbound_min(v);
    }
    if let Some(v) = s.retain_scores {
        b.retain_scores(v);
    }
    if let Some(v) = s.gossip_lazy {
        b.gossip_lazy(v);
    }
    if let Some(v) = s.gossip_factor {
        b.gossip_factor(v);
    }
    if let Some(v) = s.heartbeat_interval_ms {
        b.heartbeat_interval(ms(v));
    }
    if let Some(v) = s.heartbeat_initial_delay_ms {
        b.heartbeat_initial_delay(ms(v));
    }
    if let Some(v) = s.history_length {
        b.history_length(v);
    }
    if let Some(v) = s.history_gossip {
        b.history_gossip(v);
    }
    if let Some(v) = s.fanout_ttl_ms {
        b.fanout_ttl(ms(v));
    }
    if let Some(v) = s.flood_publish {
        b.flood_publish(v);
    }
    if let Some(v) = s.prune_backoff_ms {
        b.prune_backoff(ms(v));
    }
    if let Some(v) = s.opportunistic_graft_ticks {
        b.opportunistic_graft_ticks(v);
    }
    if let Some(v) = s.opportunistic_graft_peers {
        b.opportunistic_graft_peers(v);
    }
    if let Some(v) = s.idontwant_message_size_threshold {
        b.idontwant_message_size_threshold(v);
    }
    if let Some(v) = s.idontwant_on_publish {
        b.idontwant_on_publish(v);
    }
    if let Some(v) = s.max_transmit_size {
        b.max_transmit_size(v);
    }
    if let Some(v) = s.duplicate_cache_time_ms {
        b.duplicate_cache_time(ms(v));
    }
    if s.do_px == Some(true) {
        b.do_px();
    }
    let signing = s.signing.unwrap_or(Signing::Ed25519);
    let mode = s.validation_mode.unwrap_or(match signing {
        Signing::Ed25519 => ValidationModeSpec::Strict,
        Signing::None => ValidationModeSpec::Anonymous,
    });
    b.validation_mode(match mode {
        ValidationModeSpec::Strict => gossipsub::ValidationMode::Strict,
        ValidationModeSpec::Permissive => gossipsub::ValidationMode::Permissive,
        ValidationModeSpec::Anonymous => gossipsub::ValidationMode::Anonymous,
        ValidationModeSpec::None => gossipsub::ValidationMode::None,
    });
    if signing == Signing::None {
        // Anonymous messages have no author and sequence number: ids must come from content.
        b.message_id_fn(content_message_id);
    }
    b.build()
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
    pub dialer: Option<crate::classes::DialerSpec>,
    /// Each peer's address book for the dialer, by peer index.
    pub books: Rc<Vec<Vec<(PeerId, libp2p_core::Multiaddr)>>>,
    /// Whether peers of this template listen (accept inbound connections).
    pub listen: bool,
    /// Whether GossipSub's Prometheus metrics are collected (`measure.prometheus`).
    pub prometheus: bool,
}

impl PeerTemplate {
    /// The template for an experiment's GossipSub and history sections.
    pub fn new(gossipsub_spec: &GossipsubSpec, history: &HistorySpec, seeds: sim::Seeds) -> Self {
        let gossipsub_cfg = build_gossipsub_config_with(gossipsub_spec, history.enabled)
            .expect("validated configuration");
        PeerTemplate {
            gossipsub_spec: gossipsub_spec.clone(),
            gossipsub_cfg,
            history: history.enabled.then(|| history.clone()),
            seeds,
            dialer: None,
            books: Rc::new(Vec::new()),
            listen: true,
            prometheus: false,
        }
    }
}

/// One simulated peer.
pub struct Peer {
    /// Index in the world and the engine.
    pub index: u32,
    /// The swarm; `None` while the peer is down.
    pub swarm: Option<Swarm<PeerBehaviour>>,
    /// Replies to [`history::Behaviour::send_raw`] probes.
    pub raw_replies: Vec<RawReply>,
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
}

impl Peer {
    /// Builds peer `index` with `keypair` from `template`, listening on its address.
    pub fn new(
        index: u32,
        keypair: Keypair,
        template: Rc<PeerTemplate>,
        collector: Rc<RefCell<Collector>>,
    ) -> Peer {
        let mut p = Peer {
            index,
            swarm: None,
            raw_replies: Vec::new(),
            collector,
            keypair,
            template,
            stored_log: Some(Log::new()),
            registry: None,
            metrics_history: Vec::new(),
            last_root: None,
        };
        p.come_up();
        p
    }

    /// Whether the peer is running.
    pub fn is_up(&self) -> bool {
        self.swarm.is_some()
    }

    fn build_swarm(&self, log: Log, registry: Option<&mut prometheus_client::registry::Registry>) -> Swarm<PeerBehaviour> {
        let t = &*self.template;
        let peer_id = PeerId::from(self.keypair.public());
        let auth = match t.gossipsub_spec.signing.unwrap_or(Signing::Ed25519) {
            Signing::Ed25519 => gossipsub::MessageAuthenticity::Signed(self.keypair.clone()),
            Signing::None => gossipsub::MessageAuthenticity::Anonymous,
        };
        let gossipsub = gossipsub::Behaviour::new(auth, t.gossipsub_cfg.clone())
            .expect("validated configuration");
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
        let mut registry = self.template.prometheus.then(prometheus_client::registry::Registry::default);
        self.swarm = Some(self.build_swarm(log, registry.as_mut()));
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
                self.collector
                    .borrow_mut()
                    .on_delivery(self.index, &message.data);
                if self.template.history.is_some() {
                    self.on_gossip_message(propagation_source, message_id, message);
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
                Poll::Ready(None) | Poll::Pending => return,
            }
        }
    }
}
