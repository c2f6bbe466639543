//! The GossipSub peer: a real `libp2p_gossipsub::Behaviour` (the published
//! crate, unmodified) inside a real `libp2p_swarm::Swarm` over the virtual
//! transport.

use crate::collector::Collector;
use crate::spec::{GossipsubSpec, Signing, ValidationModeSpec};
use futures::StreamExt;
use libp2p_gossipsub as gossipsub;
use libp2p_identity::{Keypair, PeerId};
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
    let mut b = gossipsub::ConfigBuilder::default();
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

/// One simulated peer.
pub struct Peer {
    /// Index in the world and the engine.
    pub index: u32,
    /// The swarm; `None` while the peer is down.
    pub swarm: Option<Swarm<PeerBehaviour>>,
    collector: Rc<RefCell<Collector>>,
}

impl Peer {
    /// Builds peer `index` with `keypair` and GossipSub configuration `cfg`, listening on its address.
    pub fn new(
        index: u32,
        keypair: Keypair,
        spec: &GossipsubSpec,
        cfg: gossipsub::Config,
        collector: Rc<RefCell<Collector>>,
    ) -> Peer {
        let peer_id = PeerId::from(keypair.public());
        let auth = match spec.signing.unwrap_or(Signing::Ed25519) {
            Signing::Ed25519 => gossipsub::MessageAuthenticity::Signed(keypair),
            Signing::None => gossipsub::MessageAuthenticity::Anonymous,
        };
        let gossipsub = gossipsub::Behaviour::new(auth, cfg).expect("validated configuration");
        let mut swarm = Swarm::new(
            sim::transport::SimTransport::boxed(index),
            PeerBehaviour { gossipsub },
            peer_id,
            libp2p_swarm::Config::without_executor()
                .with_idle_connection_timeout(Duration::from_secs(3600)),
        );
        swarm
            .listen_on(sim::transport::node_addr(index))
            .expect("the virtual transport accepts its own address");
        Peer {
            index,
            swarm: Some(swarm),
            collector,
        }
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

    fn on_event(&mut self, ev: SwarmEvent<PeerBehaviourEvent>) {
        let mut c = self.collector.borrow_mut();
        match ev {
            SwarmEvent::Behaviour(PeerBehaviourEvent::Gossipsub(gossipsub::Event::Message {
                message,
                ..
            })) => {
                c.on_delivery(self.index, &message.data);
            }
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
