//! `[history]`: the Prolly-tree history sync.

use super::{err, SpecError};
use serde::{Deserialize, Serialize};

/// Prolly-tree history sync (`[history]`): each peer keeps a replicated log
/// of the messages it publishes and accepts, and catches up by syncing with
/// neighbours (see `models::history`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HistorySpec {
    /// Keep and sync the log (default false: GossipSub only).
    pub enabled: bool,
    /// A server aborts a sync this long after it began, and a client gives up
    /// on an unanswered request after it (ms, default 10000).
    pub sync_timeout_ms: u64,
    /// Cooldown the server asks for when it aborts (ms, default 0).
    pub abort_cooldown_ms: u64,
    /// Exchange heads when a connection opens and sync if the other side has
    /// heads we lack (default true).
    pub heads_on_connect: bool,
    /// Sync with the propagation source of a GossipSub message whose parents
    /// are missing (default true; the message is reported `Ignore` either way).
    pub sync_on_missing_parent: bool,
    /// Keep messages ignored for missing parents (up to 1024 per peer) and
    /// apply them to the log once their parents arrive (default true; they
    /// are not forwarded either way).
    pub keep_orphans: bool,
    /// Period of anti-entropy syncs with a random neighbour (ms, default 0 = off).
    pub anti_entropy_interval_ms: u64,
    /// Keys per `GetValues` request (default 1024, the most the wire allows).
    pub max_keys_per_request: usize,
    /// Restarts of one sync request after server aborts (default 16).
    pub max_restarts: u32,
    /// Period of the distinct-root time series (ms, default 1000; 0 = off).
    pub sample_interval_ms: u64,
}

impl Default for HistorySpec {
    fn default() -> Self {
        HistorySpec {
            enabled: false,
            sync_timeout_ms: 10_000,
            abort_cooldown_ms: 0,
            heads_on_connect: true,
            sync_on_missing_parent: true,
            keep_orphans: true,
            anti_entropy_interval_ms: 0,
            max_keys_per_request: crate::prolly::wire::MAX_KEYS_PER_REQUEST,
            max_restarts: 16,
            sample_interval_ms: 1000,
        }
    }
}

impl HistorySpec {
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        use super::DAY_MS;
        if self.sync_timeout_ms == 0 || self.sync_timeout_ms > DAY_MS {
            return Err(err(
                "history.sync_timeout_ms",
                self.sync_timeout_ms,
                "a number of milliseconds from 1 to 86400000",
            ));
        }
        if self.abort_cooldown_ms > DAY_MS {
            return Err(err(
                "history.abort_cooldown_ms",
                self.abort_cooldown_ms,
                "a number of milliseconds from 0 to 86400000",
            ));
        }
        if self.anti_entropy_interval_ms != 0
            && !(10..=DAY_MS).contains(&self.anti_entropy_interval_ms)
        {
            return Err(err(
                "history.anti_entropy_interval_ms",
                self.anti_entropy_interval_ms,
                "0 (off) or a number of milliseconds from 10 to 86400000",
            ));
        }
        let max = crate::prolly::wire::MAX_KEYS_PER_REQUEST;
        if self.max_keys_per_request == 0 || self.max_keys_per_request > max {
            return Err(err(
                "history.max_keys_per_request",
                self.max_keys_per_request,
                format!("an integer from 1 to {max}"),
            ));
        }
        if self.max_restarts > 1000 {
            return Err(err(
                "history.max_restarts",
                self.max_restarts,
                "an integer from 0 to 1000",
            ));
        }
        if self.sample_interval_ms != 0 && !(10..=DAY_MS).contains(&self.sample_interval_ms) {
            return Err(err(
                "history.sample_interval_ms",
                self.sample_interval_ms,
                "0 (off) or a number of milliseconds from 10 to 86400000",
            ));
        }
        Ok(())
    }
}
