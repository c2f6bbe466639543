//! The automatic dialer / connection manager, as a real `NetworkBehaviour`
//! beside GossipSub in each swarm.
//!
//! Every `check_interval_ms` it counts the peer's connections; below
//! `min_peers` it dials peers from its address book (its initial neighbours
//! plus `bootstrap_peers` random others) that are neither connected nor
//! being dialed nor waiting out a retry. A failed dial makes that peer wait
//! `retry_threshold_ms x backoff^(failures - 1)` before the next try, and a
//! peer that failed `retry_limit` times in a row is given up. Inbound
//! connections beyond `max_peers` are refused; on the dialing side such a
//! refusal is a connection that closes at once, so a connection that does
//! not last one `check_interval_ms` counts as a failed dial too (failures
//! are forgotten once a connection has lasted that long). These thresholds are where the
//! field deployment's auto-dialer left peers isolated: a threshold longer
//! than an outage means the peer never tries again.

use crate::spec::DialerSpec;
use futures::FutureExt;
use libp2p_core::transport::PortUse;
use libp2p_core::{Endpoint, Multiaddr};
use libp2p_identity::PeerId;
use libp2p_swarm::behaviour::{ConnectionClosed, ConnectionEstablished, DialFailure, FromSwarm};
use libp2p_swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p_swarm::{
    dummy, ConnectionDenied, ConnectionId, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::task::{Context, Poll};
use std::time::Duration;
use web_time::Instant;

#[derive(Debug)]
struct Entry {
    addr: Multiaddr,
    failures: u32,
    next_try: Option<Instant>,
    /// When the current connection to it was established.
    connected_at: Option<Instant>,
}

/// Counters of one peer's dialer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DialerStats {
    /// Dials started.
    pub dials: u64,
    /// Dials that failed.
    pub failures: u64,
    /// Peers given up after `retry_limit` failures.
    pub given_up: u64,
    /// Inbound connections refused at `max_peers`.
    pub refused: u64,
    /// Peers learned through GossipSub peer exchange (PRUNE with PX) and added to the address book.
    pub px_learned: u64,
}

/// Every listening peer's address, sorted by peer id: what a peer store
/// (identify, a DHT) would answer when GossipSub dials a peer-exchange peer
/// by id alone.
pub type Directory = std::sync::Arc<Vec<(PeerId, Multiaddr)>>;

/// The dialer of one peer.
pub struct Behaviour {
    spec: DialerSpec,
    book: BTreeMap<PeerId, Entry>,
    connected: BTreeMap<PeerId, usize>,
    dialing: BTreeSet<PeerId>,
    queue: VecDeque<PeerId>,
    timer: futures_timer::Delay,
    directory: Directory,
    /// Counters.
    pub stats: DialerStats,
}

impl Behaviour {
    /// A dialer with `spec` and address book `book`.
    pub fn new(
        spec: DialerSpec,
        book: Vec<(PeerId, Multiaddr)>,
        directory: Directory,
    ) -> Behaviour {
        let interval = Duration::from_millis(spec.check_interval_ms);
        Behaviour {
            book: book
                .into_iter()
                .map(|(p, addr)| {
                    (
                        p,
                        Entry {
                            addr,
                            failures: 0,
                            next_try: None,
                            connected_at: None,
                        },
                    )
                })
                .collect(),
            spec,
            connected: BTreeMap::new(),
            dialing: BTreeSet::new(),
            queue: VecDeque::new(),
            timer: futures_timer::Delay::new(interval),
            directory,
            stats: DialerStats::default(),
        }
    }

    fn check(&mut self) {
        let now = Instant::now();
        // A connection that has lasted a whole interval was accepted: its
        // peer's failures are forgotten.
        let stable = Duration::from_millis(self.spec.check_interval_ms);
        for e in self.book.values_mut() {
            if e.connected_at
                .is_some_and(|t| now.duration_since(t) >= stable)
            {
                e.failures = 0;
                e.next_try = None;
            }
        }
        let have = self.connected.len() + self.dialing.len();
        let want = (self.spec.min_peers as usize).saturating_sub(have);
        if want == 0 {
            return;
        }
        // Address-book order (by peer id) is deterministic; candidates are the eligible ones.
        let candidates: Vec<PeerId> = self
            .book
            .iter()
            .filter(|(p, e)| {
                !self.connected.contains_key(*p)
                    && !self.dialing.contains(*p)
                    && e.failures < self.spec.retry_limit
                    && e.next_try.is_none_or(|t| t <= now)
            })
            .map(|(p, _)| *p)
            .take(want)
            .collect();
        for p in candidates {
            self.dialing.insert(p);
            self.queue.push_back(p);
        }
    }

    fn failed(&mut self, p: PeerId) {
        self.dialing.remove(&p);
        self.stats.failures += 1;
        self.back_off(p);
    }

    /// `p` failed once more: it waits `retry_threshold_ms x
    /// backoff^(failures - 1)`, and is given up after `retry_limit` failures.
    fn back_off(&mut self, p: PeerId) {
        let (threshold, backoff, limit) = (
            self.spec.retry_threshold_ms,
            self.spec.backoff,
            self.spec.retry_limit,
        );
        if let Some(e) = self.book.get_mut(&p) {
            e.failures += 1;
            let wait = threshold as f64 * backoff.powi(e.failures.saturating_sub(1) as i32);
            e.next_try = Some(Instant::now() + Duration::from_millis(wait.min(1e15) as u64));
            if e.failures >= limit {
                self.stats.given_up += 1;
            }
        }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = std::convert::Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _id: ConnectionId,
        peer: PeerId,
        _local: &Multiaddr,
        _remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        if !self.connected.contains_key(&peer)
            && self.connected.len() >= self.spec.max_peers as usize
        {
            self.stats.refused += 1;
            return Err(ConnectionDenied::new(format!(
                "connection limit: already {} peers (dialer.max_peers)",
                self.connected.len()
            )));
        }
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        _role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        // A dial by peer id alone (GossipSub's peer exchange): answer from the
        // directory, and remember the peer as a candidate.
        let Some(p) = maybe_peer else {
            return Ok(Vec::new());
        };
        if !addresses.is_empty() {
            return Ok(Vec::new());
        }
        let Ok(i) = self.directory.binary_search_by(|(q, _)| q.cmp(&p)) else {
            return Ok(Vec::new());
        };
        let addr = self.directory[i].1.clone();
        if !self.book.contains_key(&p) {
            self.stats.px_learned += 1;
            self.book.insert(
                p,
                Entry {
                    addr: addr.clone(),
                    failures: 0,
                    next_try: None,
                    connected_at: None,
                },
            );
        }
        Ok(vec![addr])
    }

    fn handle_established_outbound_connection(
        &mut self,
        _id: ConnectionId,
        _peer: PeerId,
        _addr: &Multiaddr,
        _role: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished { peer_id, .. }) => {
                *self.connected.entry(peer_id).or_default() += 1;
                self.dialing.remove(&peer_id);
                if let Some(e) = self.book.get_mut(&peer_id) {
                    e.connected_at.get_or_insert_with(Instant::now);
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                remaining_established: 0,
                ..
            }) => {
                self.connected.remove(&peer_id);
                let stable = Duration::from_millis(self.spec.check_interval_ms);
                let short = self
                    .book
                    .get_mut(&peer_id)
                    .and_then(|e| e.connected_at.take())
                    .is_some_and(|t| t.elapsed() < stable);
                if short {
                    // Closed before it lasted an interval: refused (the
                    // remote at its max_peers) or dropped at once.
                    self.stats.failures += 1;
                    self.back_off(peer_id);
                }
            }
            FromSwarm::DialFailure(DialFailure {
                peer_id: Some(p), ..
            }) if self.dialing.contains(&p) => {
                self.failed(p);
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        ev: THandlerOutEvent<Self>,
    ) {
        match ev {}
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        while self.timer.poll_unpin(cx).is_ready() {
            self.check();
            self.timer
                .reset(Duration::from_millis(self.spec.check_interval_ms));
        }
        if let Some(p) = self.queue.pop_front() {
            self.stats.dials += 1;
            let addr = self.book.get(&p).map(|e| e.addr.clone());
            let opts = DialOpts::peer_id(p)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .addresses(addr.into_iter().collect())
                .build();
            return Poll::Ready(ToSwarm::Dial { opts });
        }
        Poll::Pending
    }
}
