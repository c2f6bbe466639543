//! What the history behaviour and its connection handler tell each other,
//! the two protocols' names and limits, and the substream upgrade.

use futures::future::{self};
use libp2p_core::upgrade::{InboundUpgrade, OutboundUpgrade, UpgradeInfo};
use libp2p_swarm::{Stream, StreamProtocol};
use std::convert::Infallible;
use std::time::Duration;

use super::codec::Heads;
use crate::prolly::{Request, Response};

/// The sync protocol: lockstep requests and responses on one substream per sync.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/meshsim/prolly-sync/1.0.0");

/// The heads announcement sent when a connection opens.
pub const HEADS_PROTOCOL: StreamProtocol = StreamProtocol::new("/meshsim/history-heads/1.0.0");

/// Most inbound sync substreams open at once on one connection.
pub const MAX_INBOUND_SYNCS: usize = 4;

/// Most heads substreams in progress at once on one connection.
pub(super) const MAX_HEADS_TASKS: usize = 8;

/// Settings of a connection's handler.
#[derive(Clone, Copy, Debug)]
pub struct HandlerConfig {
    /// Server: a sync is aborted this long after its substream opened.
    /// Client: a request not answered within this time fails the sync.
    pub timeout: Duration,
    /// Cooldown the server asks for in its `Abort`.
    pub abort_cooldown_ms: u64,
}

/// Commands from the behaviour.
#[derive(Debug)]
pub enum FromBehaviour {
    /// Open a sync substream and send its first request.
    StartSync {
        /// Sync id (unique per behaviour).
        id: u64,
        /// First request.
        request: Request,
    },
    /// Send the next request of a sync whose previous response arrived.
    Request {
        /// Sync id.
        id: u64,
        /// The request.
        request: Request,
    },
    /// The sync is over: close its substream.
    EndSync {
        /// Sync id.
        id: u64,
    },
    /// Answer the request pending on an inbound sync substream.
    Respond {
        /// Inbound substream id (from [`ToBehaviour::InboundRequest`]).
        stream: u64,
        /// The answer.
        response: Response,
    },
    /// Announce our heads.
    SendHeads(Heads),
    /// Fault injection: open a sync substream, write `bytes` verbatim, then
    /// read frames until the remote closes.
    SendRaw {
        /// Probe id.
        id: u64,
        /// Bytes to write.
        bytes: Vec<u8>,
    },
}

/// Reports to the behaviour.
#[derive(Debug)]
pub enum ToBehaviour {
    /// The response to sync `id`'s request in flight.
    SyncResponse {
        /// Sync id.
        id: u64,
        /// The response.
        response: Response,
        /// Its size on the wire (frame prefix included).
        bytes: u64,
    },
    /// Sync `id` failed on this connection (substream refused or reset,
    /// timeout, malformed response).
    SyncFailed {
        /// Sync id.
        id: u64,
        /// Why.
        error: String,
    },
    /// A remote client asks something on inbound substream `stream`.
    InboundRequest {
        /// Inbound substream id, to answer with [`FromBehaviour::Respond`].
        stream: u64,
        /// The request.
        request: Request,
        /// Its size on the wire.
        bytes: u64,
    },
    /// A remote sent a malformed or oversized request (or opened too many
    /// substreams): answered with `Abort`, substream closed.
    InboundRejected {
        /// Why.
        error: String,
    },
    /// An inbound sync reached its deadline and was aborted.
    ServerAborted,
    /// The remote announced its heads.
    Heads(Heads),
    /// A heads announcement was malformed.
    HeadsRejected {
        /// Why.
        error: String,
    },
    /// Outcome of a [`FromBehaviour::SendRaw`] probe: the frames read before
    /// the remote closed, or the error that ended the substream.
    RawReply {
        /// Probe id.
        id: u64,
        /// Frames received, or the error.
        reply: Result<Vec<Vec<u8>>, String>,
    },
}

/// What a substream is opened for.
#[derive(Debug)]
pub enum OutInfo {
    /// Sync `id`.
    Sync(u64),
    /// A heads announcement.
    Heads(Vec<u8>),
    /// A raw probe.
    Raw(u64, Vec<u8>),
}

/// Protocol negotiation: accepts any of the listed protocols, hands out the
/// substream and the protocol agreed.
#[derive(Clone, Debug)]
pub struct Upgrade(pub(super) Vec<StreamProtocol>);

impl UpgradeInfo for Upgrade {
    type Info = StreamProtocol;
    type InfoIter = std::vec::IntoIter<StreamProtocol>;
    fn protocol_info(&self) -> Self::InfoIter {
        self.0.clone().into_iter()
    }
}

impl InboundUpgrade<Stream> for Upgrade {
    type Output = (Stream, StreamProtocol);
    type Error = Infallible;
    type Future = future::Ready<Result<Self::Output, Infallible>>;
    fn upgrade_inbound(self, s: Stream, info: StreamProtocol) -> Self::Future {
        future::ready(Ok((s, info)))
    }
}

impl OutboundUpgrade<Stream> for Upgrade {
    type Output = (Stream, StreamProtocol);
    type Error = Infallible;
    type Future = future::Ready<Result<Self::Output, Infallible>>;
    fn upgrade_outbound(self, s: Stream, info: StreamProtocol) -> Self::Future {
        future::ready(Ok((s, info)))
    }
}
