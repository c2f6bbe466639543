//! What every peer's swarm is built from.

use crate::spec::{GossipsubSpec, HistorySpec};
use libp2p_gossipsub as gossipsub;
use libp2p_identity::PeerId;
use std::rc::Rc;

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
    /// ignored by [`Peer`](super::Peer) according to its behaviour.
    pub validate: bool,
    /// What peers of this template do.
    pub behaviour: crate::spec::PeerBehaviourKind,
    /// The class of peers of this template (0 without classes).
    pub class: u16,
    /// Whether GossipSub's Prometheus metrics are collected (`measure.prometheus`).
    pub prometheus: bool,
    /// How messages are cut into parts, when the run uses partial messages.
    pub partial: Option<crate::partial::Layout>,
    /// Whether peers of this template request partial messages (else they
    /// only support them: they get metadata, and full messages).
    pub partial_requests: bool,
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
            partial: None,
            partial_requests: true,
        }
    }
}
