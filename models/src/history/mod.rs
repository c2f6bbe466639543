//! Prolly-tree history sync between simulated peers: the replicated log of
//! GossipLog, synced by a real libp2p protocol over the virtual transport.
//!
//! * [`log`]: [`Log`], the peer's replica (a Prolly [`Tree`](crate::prolly::Tree)
//!   of messages keyed by logical clock), the payload layout, and the
//!   missing-parent check applied to GossipSub messages.
//! * [`codec`]: length-prefixed frames and the heads announcement.
//! * [`handler`]: the per-connection `ConnectionHandler`: one substream per
//!   sync ([`SYNC_PROTOCOL`]), lockstep request/response frames, the server's
//!   deadline, rejection of malformed input; heads on [`HEADS_PROTOCOL`].
//! * [`messages`]: what the behaviour and the handler tell each other; the
//!   two protocols' names and limits.
//! * [`events`]: the behaviour's configuration, events and sync reports.
//! * [`behaviour`]: [`Behaviour`], the `NetworkBehaviour` that owns the log,
//!   answers remote clients and runs one sync at a time (triggers: connect,
//!   missing parent, anti-entropy).
//! * [`metrics`]: what a run measures about syncs and convergence.
//!
//! The GossipSub side (reporting `Ignore` for messages with missing parents
//! through the validation API, and asking for a sync with the propagation
//! source) lives in [`crate::peer`].

pub mod behaviour;
pub mod codec;
pub mod events;
pub mod handler;
pub mod log;
pub mod messages;
pub mod metrics;

pub use behaviour::Behaviour;
pub use events::{Config, Event, Outcome, Stats, SyncReport, Trigger};
pub use log::{Entry, EntryKey, Log, Receive};
pub use messages::{HEADS_PROTOCOL, SYNC_PROTOCOL};
