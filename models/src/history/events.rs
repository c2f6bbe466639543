//! The history behaviour's configuration, the events it reports, and
//! what starts a sync.

use libp2p_identity::PeerId;
use std::time::Duration;

/// Settings of the history protocol.
#[derive(Clone, Debug)]
pub struct Config {
    /// A server aborts a sync this long after it began; a client gives up on
    /// a request unanswered for this long (default 10 s).
    pub timeout: Duration,
    /// Cooldown a server asks for when it aborts (default 0).
    pub abort_cooldown_ms: u64,
    /// Exchange heads when a connection opens (default true).
    pub heads_on_connect: bool,
    /// Period of anti-entropy syncs; `None` = off (default).
    pub anti_entropy_interval: Option<Duration>,
    /// Keys per `GetValues` request (default 1024, the wire limit).
    pub max_keys_per_request: usize,
    /// Restarts after server aborts, per sync request (default 16).
    pub max_restarts: u32,
    /// Seed of this peer's own random stream (anti-entropy timing and targets).
    pub seed: [u8; 32],
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timeout: Duration::from_secs(10),
            abort_cooldown_ms: 0,
            heads_on_connect: true,
            anti_entropy_interval: None,
            max_keys_per_request: crate::prolly::wire::MAX_KEYS_PER_REQUEST,
            max_restarts: 16,
            seed: [0; 32],
        }
    }
}

/// Why a sync was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    /// Heads exchanged on connect showed we lack something.
    Connect,
    /// A GossipSub message named parents we lack.
    MissingParent,
    /// Periodic anti-entropy.
    AntiEntropy,
    /// Asked for explicitly.
    Manual,
}

impl Trigger {
    /// A short name (for tables and CSV).
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Connect => "connect",
            Trigger::MissingParent => "missing_parent",
            Trigger::AntiEntropy => "anti_entropy",
            Trigger::Manual => "manual",
        }
    }
}

/// How a sync ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The walk finished: we hold everything the server had (modulo entries
    /// it added meanwhile).
    Complete,
    /// The server aborted (its timeout); restarted if still connected.
    Aborted,
    /// Error: substream refused or reset, connection closed, timeout,
    /// malformed or invalid response.
    Failed(String),
}

/// Measurements of one finished sync, as seen by the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    /// The server.
    pub peer: PeerId,
    /// Why it started.
    pub trigger: Trigger,
    /// How it ended.
    pub outcome: Outcome,
    /// Requests answered (round trips).
    pub round_trips: u64,
    /// Request bytes sent, frame prefixes included.
    pub bytes_sent: u64,
    /// Response bytes received, frame prefixes included.
    pub bytes_received: u64,
    /// Entries fetched and added to the log.
    pub entries_fetched: u64,
    /// From the substream request to the end.
    pub duration: Duration,
    /// How many times this request had been restarted after an abort before.
    pub restarts: u32,
}

/// What the behaviour reports.
#[derive(Clone, Debug)]
pub enum Event {
    /// A sync ended.
    SyncFinished(SyncReport),
    /// Entries fetched by a sync were added to the log (workload sequence
    /// numbers, `u64::MAX` for payloads without one).
    Fetched {
        /// The server they came from.
        peer: PeerId,
        /// Sequence numbers of the entries.
        seqs: Vec<u64>,
    },
    /// A remote sent a malformed or oversized message; it was rejected.
    Rejected {
        /// The remote.
        peer: PeerId,
        /// Why.
        error: String,
    },
    /// We aborted a remote's sync at its deadline.
    ServerAborted {
        /// The remote client.
        peer: PeerId,
    },
    /// Reply to [`Behaviour::send_raw`](super::Behaviour::send_raw).
    RawReply {
        /// The remote.
        peer: PeerId,
        /// Probe id.
        id: u64,
        /// Frames received before the remote closed, or the error.
        reply: Result<Vec<Vec<u8>>, String>,
    },
}

/// Counters kept by the behaviour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests answered as a server.
    pub requests_served: u64,
    /// Response bytes written as a server (frame prefixes included).
    pub bytes_served: u64,
    /// Malformed or oversized messages rejected.
    pub rejected: u64,
    /// Syncs aborted at their deadline as a server.
    pub server_aborts: u64,
    /// Heads announcements received.
    pub heads_received: u64,
    /// Sync requests dropped because everything they named had arrived.
    pub syncs_skipped: u64,
}
