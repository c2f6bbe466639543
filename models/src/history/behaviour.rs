//! The history `NetworkBehaviour`: owns the peer's [`Log`], serves syncs to
//! remote clients, and runs its own syncs one at a time.
//!
//! # When a sync starts
//!
//! * **Connect**: when the first connection to a peer opens, each side sends
//!   its root hash and newest heads ([`Heads`]). A side whose root differs and
//!   that lacks some of the other's heads schedules a sync with it
//!   ([`Trigger::Connect`]).
//! * **Missing parent**: the application reports a GossipSub message whose
//!   parents are missing with [`Behaviour::request_sync`] and
//!   [`Trigger::MissingParent`], naming the propagation source.
//! * **Anti-entropy** (optional): every `anti_entropy_interval`, a sync with a
//!   connected peer chosen at random from the peer's own seeded stream.
//!
//! Requests are de-duplicated per neighbour (a request for a peer already
//! queued or syncing merges into it) and syncs run one at a time. A request
//! that names keys (missing parents, missing heads) is dropped when all of
//! them have arrived meanwhile, and re-queued after its sync if some are
//! still missing. When the server aborts (its timeout), the client restarts
//! from the root after the cooldown the server asked for, as long as a
//! connection to that peer lasts (at most `max_restarts` times).

use libp2p_core::transport::PortUse;
use libp2p_core::{Endpoint, Multiaddr};
use libp2p_identity::PeerId;
use libp2p_swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, NotifyHandler, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use rand::{RngExt, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use web_time::Instant;

use futures::FutureExt;
use futures_timer::Delay;

use super::codec::{frame_len, Heads, MAX_HEADS};
use super::events::{Config, Event, Outcome, Stats, SyncReport, Trigger};
use super::handler::Handler;
use super::log::{seq_of, Log};
use super::messages::{FromBehaviour, HandlerConfig, ToBehaviour};
use crate::prolly::{SyncClient, SyncConfig, SyncError};

struct Pending {
    peer: PeerId,
    trigger: Trigger,
    wanted: BTreeSet<Vec<u8>>,
    restarts: u32,
    not_before: Option<Instant>,
}

struct Active {
    id: u64,
    peer: PeerId,
    conn: ConnectionId,
    client: SyncClient,
    trigger: Trigger,
    wanted: BTreeSet<Vec<u8>>,
    restarts: u32,
    started: Instant,
    bytes_sent: u64,
    bytes_received: u64,
    entries: u64,
}

/// The history protocol of one peer.
pub struct Behaviour {
    config: Config,
    log: Log,
    connections: BTreeMap<PeerId, Vec<ConnectionId>>,
    queue: VecDeque<Pending>,
    active: Option<Active>,
    next_id: u64,
    out: VecDeque<ToSwarm<Event, FromBehaviour>>,
    retry: Option<(Instant, Delay)>,
    anti_entropy: Option<Delay>,
    rng: rand_chacha::ChaCha8Rng,
    stats: Stats,
    waker: Option<Waker>,
}

impl Behaviour {
    /// A behaviour serving and syncing `log`.
    pub fn new(config: Config, log: Log) -> Behaviour {
        let mut rng = rand_chacha::ChaCha8Rng::from_seed(config.seed);
        let anti_entropy = config.anti_entropy_interval.map(|iv| {
            // First round at a random phase, so that peers do not sync in step.
            let phase = rng.random_range(0..iv.as_nanos().max(1) as u64);
            Delay::new(Duration::from_nanos(phase))
        });
        Behaviour {
            config,
            log,
            connections: BTreeMap::new(),
            queue: VecDeque::new(),
            active: None,
            next_id: 0,
            out: VecDeque::new(),
            retry: None,
            anti_entropy,
            rng,
            stats: Stats::default(),
            waker: None,
        }
    }

    /// The log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The log, to append to or receive into.
    pub fn log_mut(&mut self) -> &mut Log {
        &mut self.log
    }

    /// Takes the log out (e.g. before the peer goes down), leaving an empty one.
    pub fn take_log(&mut self) -> Log {
        std::mem::take(&mut self.log)
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether a sync is running.
    pub fn is_syncing(&self) -> bool {
        self.active.is_some()
    }

    /// Syncs waiting to run.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Asks for a sync with `peer`; `wanted` names the keys that prompted it
    /// (the request is dropped if they all arrive before it starts).
    /// De-duplicated per peer; ignored if `peer` is not connected.
    pub fn request_sync(&mut self, peer: PeerId, trigger: Trigger, wanted: Vec<Vec<u8>>) {
        if !self.connections.contains_key(&peer) {
            return;
        }
        if let Some(a) = self.active.as_mut().filter(|a| a.peer == peer) {
            a.wanted.extend(wanted);
            return;
        }
        if let Some(p) = self.queue.iter_mut().find(|p| p.peer == peer) {
            p.wanted.extend(wanted);
            return;
        }
        self.queue.push_back(Pending {
            peer,
            trigger,
            wanted: wanted.into_iter().collect(),
            restarts: 0,
            not_before: None,
        });
        self.wake();
    }

    /// Fault injection: opens a sync substream to `peer` and writes `bytes`
    /// verbatim; the answer comes back as [`Event::RawReply`]. `None` if not
    /// connected.
    pub fn send_raw(&mut self, peer: PeerId, bytes: Vec<u8>) -> Option<u64> {
        let conn = *self.connections.get(&peer)?.first()?;
        let id = self.next_id;
        self.next_id += 1;
        self.out.push_back(ToSwarm::NotifyHandler {
            peer_id: peer,
            handler: NotifyHandler::One(conn),
            event: FromBehaviour::SendRaw { id, bytes },
        });
        self.wake();
        Some(id)
    }

    fn notify(&mut self, peer: PeerId, conn: ConnectionId, event: FromBehaviour) {
        self.out.push_back(ToSwarm::NotifyHandler {
            peer_id: peer,
            handler: NotifyHandler::One(conn),
            event,
        });
    }

    fn emit(&mut self, ev: Event) {
        self.out.push_back(ToSwarm::GenerateEvent(ev));
    }

    /// Starts the next eligible sync if none is running; arms the retry timer
    /// for the earliest delayed one.
    fn try_start(&mut self) {
        if self.active.is_some() {
            return;
        }
        let now = Instant::now();
        let mut i = 0;
        let mut earliest: Option<Instant> = None;
        while i < self.queue.len() {
            let p = &self.queue[i];
            let conn = self
                .connections
                .get(&p.peer)
                .and_then(|c| c.first().copied());
            let Some(conn) = conn else {
                self.queue.remove(i);
                continue;
            };
            if let Some(t) = p.not_before.filter(|&t| t > now) {
                earliest = Some(earliest.map_or(t, |e: Instant| e.min(t)));
                i += 1;
                continue;
            }
            let p = self.queue.remove(i).expect("index in range");
            if !p.wanted.is_empty() && p.wanted.iter().all(|k| self.log.contains(k)) {
                self.stats.syncs_skipped += 1;
                continue;
            }
            self.start(p, conn);
            return;
        }
        match earliest {
            Some(t) if self.retry.as_ref().is_none_or(|(at, _)| *at != t) => {
                self.retry = Some((t, Delay::new(t.saturating_duration_since(now))));
            }
            Some(_) => {}
            None => self.retry = None,
        }
    }

    fn start(&mut self, p: Pending, conn: ConnectionId) {
        let mut client = SyncClient::with_config(SyncConfig {
            max_keys_per_request: self.config.max_keys_per_request,
        });
        let Some(request) = self.log.next_request(&mut client) else {
            return; // a fresh client always asks for the root
        };
        let id = self.next_id;
        self.next_id += 1;
        let bytes_sent = frame_len(request.encoded_len());
        self.notify(p.peer, conn, FromBehaviour::StartSync { id, request });
        self.active = Some(Active {
            id,
            peer: p.peer,
            conn,
            client,
            trigger: p.trigger,
            wanted: p.wanted,
            restarts: p.restarts,
            started: Instant::now(),
            bytes_sent,
            bytes_received: 0,
            entries: 0,
        });
    }

    fn on_response(&mut self, id: u64, response: crate::prolly::Response, bytes: u64) {
        let Some(mut a) = self.active.take_if(|a| a.id == id) else {
            return; // a late answer to a sync we already gave up
        };
        a.bytes_received += bytes;
        match self.log.apply_sync_response(&mut a.client, response) {
            Ok(added) => {
                self.record_fetched(&mut a, added);
                match self.log.next_request(&mut a.client) {
                    Some(request) => {
                        a.bytes_sent += frame_len(request.encoded_len());
                        self.notify(a.peer, a.conn, FromBehaviour::Request { id, request });
                        self.active = Some(a);
                    }
                    None => {
                        self.notify(a.peer, a.conn, FromBehaviour::EndSync { id });
                        self.finish(a, Outcome::Complete);
                    }
                }
            }
            Err(SyncError::Aborted { cooldown_ms }) => {
                self.notify(a.peer, a.conn, FromBehaviour::EndSync { id });
                if a.restarts < self.config.max_restarts {
                    // Restart from the root, first in line, after the cooldown.
                    self.queue.retain(|p| p.peer != a.peer);
                    self.queue.push_front(Pending {
                        peer: a.peer,
                        trigger: a.trigger,
                        wanted: a.wanted.clone(),
                        restarts: a.restarts + 1,
                        not_before: Some(Instant::now() + Duration::from_millis(cooldown_ms)),
                    });
                }
                self.finish(a, Outcome::Aborted);
            }
            Err(e) => {
                self.notify(a.peer, a.conn, FromBehaviour::EndSync { id });
                self.finish(a, Outcome::Failed(e.to_string()));
            }
        }
    }

    fn record_fetched(&mut self, a: &mut Active, added: Vec<Vec<u8>>) {
        if added.is_empty() {
            return;
        }
        a.entries += added.len() as u64;
        let seqs = added
            .iter()
            .map(|v| seq_of(v).unwrap_or(u64::MAX))
            .collect();
        self.emit(Event::Fetched { peer: a.peer, seqs });
    }

    fn finish(&mut self, a: Active, outcome: Outcome) {
        let stats = a.client.stats();
        if outcome == Outcome::Complete
            && !a.wanted.is_empty()
            && a.wanted.iter().any(|k| !self.log.contains(k))
            && a.restarts < self.config.max_restarts
        {
            // Something named meanwhile is still missing: once more.
            self.queue.push_back(Pending {
                peer: a.peer,
                trigger: a.trigger,
                wanted: a.wanted.clone(),
                restarts: a.restarts + 1,
                not_before: None,
            });
        }
        let report = SyncReport {
            peer: a.peer,
            trigger: a.trigger,
            outcome,
            round_trips: stats.round_trips,
            bytes_sent: a.bytes_sent,
            bytes_received: a.bytes_received,
            entries_fetched: a.entries,
            duration: Instant::now().saturating_duration_since(a.started),
            restarts: a.restarts,
        };
        self.emit(Event::SyncFinished(report));
        self.wake();
    }

    fn on_heads(&mut self, peer: PeerId, h: Heads) {
        self.stats.heads_received += 1;
        if h.root == self.log.root_hash() {
            return;
        }
        let missing: Vec<Vec<u8>> = h
            .heads
            .into_iter()
            .filter(|k| !self.log.contains(k))
            .collect();
        if !missing.is_empty() {
            self.request_sync(peer, Trigger::Connect, missing);
        }
    }

    fn heads(&self) -> Heads {
        Heads {
            root: self.log.root_hash(),
            heads: self
                .log
                .heads()
                .iter()
                .rev()
                .take(MAX_HEADS)
                .map(|k| k.to_vec())
                .collect(),
        }
    }

    fn handler(&self) -> Handler {
        Handler::new(HandlerConfig {
            timeout: self.config.timeout,
            abort_cooldown_ms: self.config.abort_cooldown_ms,
        })
    }

    fn anti_entropy_round(&mut self) {
        let peers: Vec<PeerId> = self.connections.keys().copied().collect();
        if peers.is_empty() {
            return;
        }
        let peer = peers[self.rng.random_range(0..peers.len())];
        self.request_sync(peer, Trigger::AntiEntropy, Vec::new());
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Event;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler())
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) => {
                self.connections
                    .entry(e.peer_id)
                    .or_default()
                    .push(e.connection_id);
                if e.other_established == 0 && self.config.heads_on_connect {
                    let h = self.heads();
                    self.notify(e.peer_id, e.connection_id, FromBehaviour::SendHeads(h));
                    self.wake();
                }
            }
            FromSwarm::ConnectionClosed(e) => {
                if let Some(c) = self.connections.get_mut(&e.peer_id) {
                    c.retain(|&x| x != e.connection_id);
                    if c.is_empty() {
                        self.connections.remove(&e.peer_id);
                    }
                }
                if let Some(a) = self.active.take_if(|a| a.conn == e.connection_id) {
                    self.finish(a, Outcome::Failed("connection closed".into()));
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        conn: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {
            ToBehaviour::SyncResponse {
                id,
                response,
                bytes,
            } => self.on_response(id, response, bytes),
            ToBehaviour::SyncFailed { id, error } => {
                if let Some(a) = self.active.take_if(|a| a.id == id) {
                    self.finish(a, Outcome::Failed(error));
                }
            }
            ToBehaviour::InboundRequest {
                stream, request, ..
            } => {
                let response = self.log.answer(&request);
                self.stats.requests_served += 1;
                self.stats.bytes_served += frame_len(response.encoded_len());
                self.notify(peer, conn, FromBehaviour::Respond { stream, response });
            }
            ToBehaviour::InboundRejected { error } | ToBehaviour::HeadsRejected { error } => {
                self.stats.rejected += 1;
                self.emit(Event::Rejected { peer, error });
            }
            ToBehaviour::ServerAborted => {
                self.stats.server_aborts += 1;
                self.emit(Event::ServerAborted { peer });
            }
            ToBehaviour::Heads(h) => self.on_heads(peer, h),
            ToBehaviour::RawReply { id, reply } => self.emit(Event::RawReply { peer, id, reply }),
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Event, THandlerInEvent<Self>>> {
        self.waker = Some(cx.waker().clone());
        if let Some(d) = self.anti_entropy.as_mut() {
            if d.poll_unpin(cx).is_ready() {
                let iv = self
                    .config
                    .anti_entropy_interval
                    .expect("timer only when configured");
                d.reset(iv);
                let _ = d.poll_unpin(cx);
                self.anti_entropy_round();
            }
        }
        if let Some((_, d)) = self.retry.as_mut() {
            if d.poll_unpin(cx).is_ready() {
                self.retry = None;
            }
        }
        self.try_start();
        if let Some((_, d)) = self.retry.as_mut() {
            let _ = d.poll_unpin(cx);
        }
        match self.out.pop_front() {
            Some(ev) => Poll::Ready(ev),
            None => Poll::Pending,
        }
    }
}
