//! The per-connection side of the history protocol: substreams, frames,
//! deadlines. No sync logic: the [`Behaviour`](super::Behaviour) decides
//! what to ask and what to answer; this handler moves the frames.
//!
//! Two protocols share the handler:
//!
//! * [`SYNC_PROTOCOL`]: one substream per sync, opened by the client. The
//!   client writes one request frame and waits for the response frame before
//!   writing the next (lockstep), then closes the substream. The server
//!   reads requests until the client closes; a request that arrives after
//!   the sync deadline (the configured timeout after the substream opened),
//!   or a sync that is still open at its deadline, is answered with
//!   `Abort { cooldown_ms }` and the substream is closed.
//! * [`HEADS_PROTOCOL`]: one frame ([`Heads`]) per substream, sent by each
//!   side when a connection opens.
//!
//! Malformed or oversized frames never reach the behaviour: a bad request is
//! answered with `Abort` and its substream closed (and reported as
//! [`ToBehaviour::InboundRejected`]); a bad response fails the sync.

use futures::future::{self, BoxFuture, Either};
use futures::{AsyncWriteExt, FutureExt};
use futures_timer::Delay;
use libp2p_swarm::handler::{
    ConnectionEvent, DialUpgradeError, FullyNegotiatedInbound, FullyNegotiatedOutbound,
};
use libp2p_swarm::{ConnectionHandler, ConnectionHandlerEvent, Stream, SubstreamProtocol};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::task::{Context, Poll, Waker};
use web_time::Instant;

use super::codec::{frame_len, read_frame, write_frame, Heads, MAX_HEADS_FRAME};
use super::messages::{
    FromBehaviour, HandlerConfig, OutInfo, ToBehaviour, Upgrade, HEADS_PROTOCOL, MAX_HEADS_TASKS,
    MAX_INBOUND_SYNCS, SYNC_PROTOCOL,
};
use crate::prolly::wire::MAX_MESSAGE_LEN;
use crate::prolly::{Request, Response};

type Exchange = BoxFuture<'static, (Stream, io::Result<Vec<u8>>)>;

enum Outbound {
    /// Substream requested; the first request goes out once it is negotiated.
    Opening(Request),
    /// A request is in flight.
    Busy(Exchange),
    /// The response arrived; waiting for the behaviour's next request.
    Idle(Stream),
}

enum ReadOutcome {
    Frame(Vec<u8>),
    Eof,
    Error(io::Error),
    Deadline,
}

enum InState {
    Reading(BoxFuture<'static, (Stream, ReadOutcome)>),
    Answering(Stream),
    /// Writing a response; then reading again (`Some`) or closing (`None` when done).
    Writing(BoxFuture<'static, io::Result<Stream>>, bool),
}

struct Inbound {
    deadline: Instant,
    state: InState,
}

/// The connection handler of the history protocol.
pub struct Handler {
    cfg: HandlerConfig,
    requests: VecDeque<OutInfo>,
    outbound: BTreeMap<u64, Outbound>,
    inbound: BTreeMap<u64, Inbound>,
    next_inbound: u64,
    tasks: BTreeMap<u64, BoxFuture<'static, Option<ToBehaviour>>>,
    next_task: u64,
    events: VecDeque<ToBehaviour>,
    waker: Option<Waker>,
}

impl Handler {
    /// A handler with settings `cfg`.
    pub fn new(cfg: HandlerConfig) -> Handler {
        Handler {
            cfg,
            requests: VecDeque::new(),
            outbound: BTreeMap::new(),
            inbound: BTreeMap::new(),
            next_inbound: 0,
            tasks: BTreeMap::new(),
            next_task: 0,
            events: VecDeque::new(),
            waker: None,
        }
    }

    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    fn spawn(&mut self, f: BoxFuture<'static, Option<ToBehaviour>>) {
        self.tasks.insert(self.next_task, f);
        self.next_task += 1;
    }

    fn exchange(&self, s: Stream, req: &Request) -> Exchange {
        let body = req.encode();
        let timeout = self.cfg.timeout;
        async move {
            let mut s = s;
            let r = {
                let io = async {
                    write_frame(&mut s, &body).await?;
                    match read_frame(&mut s, MAX_MESSAGE_LEN).await? {
                        Some(f) => Ok(f),
                        None => Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "substream closed before the response",
                        )),
                    }
                };
                futures::pin_mut!(io);
                match future::select(io, Delay::new(timeout)).await {
                    Either::Left((r, _)) => r,
                    Either::Right(_) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no response within the sync timeout",
                    )),
                }
            };
            (s, r)
        }
        .boxed()
    }

    fn read_request(s: Stream, deadline: Instant) -> BoxFuture<'static, (Stream, ReadOutcome)> {
        async move {
            let mut s = s;
            let left = deadline.saturating_duration_since(Instant::now());
            let out = {
                let read = read_frame(&mut s, MAX_MESSAGE_LEN);
                futures::pin_mut!(read);
                match future::select(read, Delay::new(left)).await {
                    Either::Left((Ok(Some(f)), _)) => ReadOutcome::Frame(f),
                    Either::Left((Ok(None), _)) => ReadOutcome::Eof,
                    Either::Left((Err(e), _)) => ReadOutcome::Error(e),
                    Either::Right(_) => ReadOutcome::Deadline,
                }
            };
            (s, out)
        }
        .boxed()
    }

    fn write_response(
        s: Stream,
        resp: Response,
        close: bool,
    ) -> BoxFuture<'static, io::Result<Stream>> {
        async move {
            let mut s = s;
            write_frame(&mut s, &resp.encode()).await?;
            if close {
                s.close().await?;
            }
            Ok(s)
        }
        .boxed()
    }

    fn on_inbound_sync(&mut self, s: Stream) {
        let cooldown = self.cfg.abort_cooldown_ms;
        let id = self.next_inbound;
        self.next_inbound += 1;
        if self.inbound.len() >= MAX_INBOUND_SYNCS {
            self.events.push_back(ToBehaviour::InboundRejected {
                error: format!("more than {MAX_INBOUND_SYNCS} sync substreams"),
            });
            let state = abort(s, cooldown);
            self.inbound.insert(
                id,
                Inbound {
                    deadline: Instant::now(),
                    state,
                },
            );
            return;
        }
        let deadline = Instant::now() + self.cfg.timeout;
        self.inbound.insert(
            id,
            Inbound {
                deadline,
                state: InState::Reading(Self::read_request(s, deadline)),
            },
        );
    }

    fn on_inbound_heads(&mut self, s: Stream) {
        if self.tasks.len() >= MAX_HEADS_TASKS {
            return; // dropped: the remote sees its substream reset
        }
        let timeout = self.cfg.timeout;
        self.spawn(
            async move {
                let mut s = s;
                let read = read_frame(&mut s, MAX_HEADS_FRAME);
                futures::pin_mut!(read);
                let r = match future::select(read, Delay::new(timeout)).await {
                    Either::Left((r, _)) => r,
                    Either::Right(_) => return None,
                };
                Some(match r {
                    Ok(Some(f)) => match Heads::decode(&f) {
                        Some(h) => ToBehaviour::Heads(h),
                        None => ToBehaviour::HeadsRejected {
                            error: "malformed heads message".into(),
                        },
                    },
                    Ok(None) => return None,
                    Err(e) => ToBehaviour::HeadsRejected {
                        error: e.to_string(),
                    },
                })
            }
            .boxed(),
        );
    }

    fn on_outbound(&mut self, s: Stream, info: OutInfo) {
        match info {
            OutInfo::Sync(id) => {
                // If the sync ended meanwhile, dropping the substream closes it.
                if let Some(Outbound::Opening(req)) = self.outbound.remove(&id) {
                    let ex = self.exchange(s, &req);
                    self.outbound.insert(id, Outbound::Busy(ex));
                }
            }
            OutInfo::Heads(frame) => self.spawn(
                async move {
                    let mut s = s;
                    if write_frame(&mut s, &frame).await.is_ok() {
                        let _ = s.close().await;
                    }
                    None
                }
                .boxed(),
            ),
            OutInfo::Raw(id, bytes) => self.spawn(
                async move {
                    let mut s = s;
                    let reply = async {
                        s.write_all(&bytes).await?;
                        s.flush().await?;
                        let mut frames = Vec::new();
                        while let Some(f) = read_frame(&mut s, MAX_MESSAGE_LEN).await? {
                            frames.push(f);
                        }
                        Ok::<_, io::Error>(frames)
                    }
                    .await;
                    Some(ToBehaviour::RawReply {
                        id,
                        reply: reply.map_err(|e| e.to_string()),
                    })
                }
                .boxed(),
            ),
        }
    }

    fn poll_outbound(&mut self, cx: &mut Context<'_>) {
        let ids: Vec<u64> = self.outbound.keys().copied().collect();
        for id in ids {
            let Some(Outbound::Busy(f)) = self.outbound.get_mut(&id) else {
                continue;
            };
            let Poll::Ready((s, r)) = f.poll_unpin(cx) else {
                continue;
            };
            let ev = match r.map_err(|e| e.to_string()).and_then(|f| {
                let bytes = frame_len(f.len());
                Response::decode(&f)
                    .map(|response| (response, bytes))
                    .map_err(|e| format!("malformed response: {e}"))
            }) {
                Ok((response, bytes)) => {
                    self.outbound.insert(id, Outbound::Idle(s));
                    ToBehaviour::SyncResponse {
                        id,
                        response,
                        bytes,
                    }
                }
                Err(error) => {
                    self.outbound.remove(&id);
                    ToBehaviour::SyncFailed { id, error }
                }
            };
            self.events.push_back(ev);
        }
    }

    fn poll_inbound(&mut self, cx: &mut Context<'_>) {
        let cooldown = self.cfg.abort_cooldown_ms;
        let ids: Vec<u64> = self.inbound.keys().copied().collect();
        for id in ids {
            while let Some(ib) = self.inbound.get_mut(&id) {
                let deadline = ib.deadline;
                let next = match &mut ib.state {
                    InState::Answering(_) => break,
                    InState::Reading(f) => {
                        let Poll::Ready((s, out)) = f.poll_unpin(cx) else {
                            break;
                        };
                        match out {
                            ReadOutcome::Frame(f) => match Request::decode(&f) {
                                Err(e) => {
                                    self.events.push_back(ToBehaviour::InboundRejected {
                                        error: format!("malformed request: {e}"),
                                    });
                                    Some(abort(s, cooldown))
                                }
                                Ok(_) if Instant::now() >= deadline => {
                                    self.events.push_back(ToBehaviour::ServerAborted);
                                    Some(abort(s, cooldown))
                                }
                                Ok(request) => {
                                    self.events.push_back(ToBehaviour::InboundRequest {
                                        stream: id,
                                        request,
                                        bytes: frame_len(f.len()),
                                    });
                                    Some(InState::Answering(s))
                                }
                            },
                            ReadOutcome::Deadline => {
                                self.events.push_back(ToBehaviour::ServerAborted);
                                Some(abort(s, cooldown))
                            }
                            ReadOutcome::Error(e) if e.kind() == io::ErrorKind::InvalidData => {
                                self.events.push_back(ToBehaviour::InboundRejected {
                                    error: e.to_string(),
                                });
                                Some(abort(s, cooldown))
                            }
                            ReadOutcome::Eof | ReadOutcome::Error(_) => None,
                        }
                    }
                    InState::Writing(f, again) => {
                        let again = *again;
                        let Poll::Ready(r) = f.poll_unpin(cx) else {
                            break;
                        };
                        match r {
                            Ok(s) if again => {
                                Some(InState::Reading(Self::read_request(s, deadline)))
                            }
                            _ => None,
                        }
                    }
                };
                match next {
                    Some(state) => ib_set(&mut self.inbound, id, state),
                    None => {
                        self.inbound.remove(&id);
                        break;
                    }
                }
            }
        }
    }
}

/// Answers `Abort { cooldown_ms }` and closes the substream.
fn abort(s: Stream, cooldown_ms: u64) -> InState {
    let resp = Response::Abort { cooldown_ms };
    InState::Writing(Handler::write_response(s, resp, true), false)
}

fn ib_set(map: &mut BTreeMap<u64, Inbound>, id: u64, state: InState) {
    if let Some(ib) = map.get_mut(&id) {
        ib.state = state;
    }
}

impl ConnectionHandler for Handler {
    type FromBehaviour = FromBehaviour;
    type ToBehaviour = ToBehaviour;
    type InboundProtocol = Upgrade;
    type OutboundProtocol = Upgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = OutInfo;

    fn listen_protocol(&self) -> SubstreamProtocol<Upgrade, ()> {
        SubstreamProtocol::new(Upgrade(vec![SYNC_PROTOCOL, HEADS_PROTOCOL]), ())
    }

    fn on_behaviour_event(&mut self, ev: FromBehaviour) {
        match ev {
            FromBehaviour::StartSync { id, request } => {
                self.outbound.insert(id, Outbound::Opening(request));
                self.requests.push_back(OutInfo::Sync(id));
            }
            FromBehaviour::Request { id, request } => match self.outbound.remove(&id) {
                Some(Outbound::Idle(s)) => {
                    let ex = self.exchange(s, &request);
                    self.outbound.insert(id, Outbound::Busy(ex));
                }
                Some(other) => {
                    self.outbound.insert(id, other);
                    self.events.push_back(ToBehaviour::SyncFailed {
                        id,
                        error: "request while another is in flight".into(),
                    });
                }
                None => self.events.push_back(ToBehaviour::SyncFailed {
                    id,
                    error: "no such sync substream".into(),
                }),
            },
            FromBehaviour::EndSync { id } => {
                if let Some(Outbound::Idle(mut s)) = self.outbound.remove(&id) {
                    self.spawn(
                        async move {
                            let _ = s.close().await;
                            None
                        }
                        .boxed(),
                    );
                }
            }
            FromBehaviour::Respond { stream, response } => {
                if let Some(mut ib) = self.inbound.remove(&stream) {
                    ib.state = match ib.state {
                        InState::Answering(s) => {
                            InState::Writing(Self::write_response(s, response, false), true)
                        }
                        other => other,
                    };
                    self.inbound.insert(stream, ib);
                }
            }
            FromBehaviour::SendHeads(h) => self.requests.push_back(OutInfo::Heads(h.encode())),
            FromBehaviour::SendRaw { id, bytes } => {
                self.requests.push_back(OutInfo::Raw(id, bytes))
            }
        }
        self.wake();
    }

    fn connection_keep_alive(&self) -> bool {
        !self.outbound.is_empty() || !self.requests.is_empty()
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<Upgrade, OutInfo, ToBehaviour>> {
        self.waker = Some(cx.waker().clone());
        if let Some(info) = self.requests.pop_front() {
            let proto = match info {
                OutInfo::Heads(_) => HEADS_PROTOCOL,
                _ => SYNC_PROTOCOL,
            };
            return Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest {
                protocol: SubstreamProtocol::new(Upgrade(vec![proto]), info)
                    .with_timeout(self.cfg.timeout),
            });
        }
        if let Some(ev) = self.events.pop_front() {
            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(ev));
        }
        self.poll_outbound(cx);
        self.poll_inbound(cx);
        let ids: Vec<u64> = self.tasks.keys().copied().collect();
        for id in ids {
            if let Some(f) = self.tasks.get_mut(&id) {
                if let Poll::Ready(ev) = f.poll_unpin(cx) {
                    self.tasks.remove(&id);
                    self.events.extend(ev);
                }
            }
        }
        match self.events.pop_front() {
            Some(ev) => Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(ev)),
            None => Poll::Pending,
        }
    }

    fn on_connection_event(&mut self, ev: ConnectionEvent<Upgrade, Upgrade, (), OutInfo>) {
        match ev {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol: (s, proto),
                ..
            }) => {
                if proto == SYNC_PROTOCOL {
                    self.on_inbound_sync(s);
                } else {
                    self.on_inbound_heads(s);
                }
            }
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol: (s, _),
                info,
            }) => self.on_outbound(s, info),
            ConnectionEvent::DialUpgradeError(DialUpgradeError { info, error }) => match info {
                OutInfo::Sync(id) => {
                    self.outbound.remove(&id);
                    self.events.push_back(ToBehaviour::SyncFailed {
                        id,
                        error: format!("cannot open sync substream: {error}"),
                    });
                }
                OutInfo::Raw(id, _) => self.events.push_back(ToBehaviour::RawReply {
                    id,
                    reply: Err(format!("cannot open substream: {error}")),
                }),
                OutInfo::Heads(_) => {}
            },
            _ => {}
        }
        self.wake();
    }
}
