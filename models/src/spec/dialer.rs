//! `[dialer]`: the automatic dialer / connection manager.

use super::{err, SpecError};
use serde::{Deserialize, Serialize};

/// The automatic dialer / connection manager (`[dialer]`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DialerSpec {
    /// Run the dialer (default false: only the initial topology is dialed).
    pub enabled: bool,
    /// Dial more peers while connected to fewer than this (default 4).
    pub min_peers: u32,
    /// Refuse inbound connections beyond this (default 50).
    pub max_peers: u32,
    /// How often the dialer checks (ms, default 1000).
    pub check_interval_ms: u64,
    /// After a failed dial, wait this long before trying that peer again (ms, default 5000).
    pub retry_threshold_ms: u64,
    /// Each further failure multiplies the wait by this (default 2).
    pub backoff: f64,
    /// Give a peer up after this many consecutive failures (default 5).
    pub retry_limit: u32,
    /// Extra random peers each address book starts with, besides the initial neighbours (default 4).
    pub bootstrap_peers: u32,
}

impl Default for DialerSpec {
    fn default() -> Self {
        DialerSpec {
            enabled: false,
            min_peers: 4,
            max_peers: 50,
            check_interval_ms: 1000,
            retry_threshold_ms: 5000,
            backoff: 2.0,
            retry_limit: 5,
            bootstrap_peers: 4,
        }
    }
}

impl DialerSpec {
    /// Checks the parameters.
    pub fn validate(&self, peers: u32) -> Result<(), SpecError> {
        if self.max_peers == 0 || self.min_peers > self.max_peers {
            return Err(err(
                "dialer.min_peers",
                self.min_peers,
                format!(
                    "at most dialer.max_peers ({}), which must be >= 1",
                    self.max_peers
                ),
            ));
        }
        if self.check_interval_ms == 0 {
            return Err(err(
                "dialer.check_interval_ms",
                0,
                "a positive number of milliseconds",
            ));
        }
        if !(self.backoff.is_finite() && self.backoff >= 1.0) {
            return Err(err("dialer.backoff", self.backoff, "a factor >= 1"));
        }
        if self.bootstrap_peers >= peers.max(1) {
            return Err(err(
                "dialer.bootstrap_peers",
                self.bootstrap_peers,
                format!("fewer than peers ({peers})"),
            ));
        }
        Ok(())
    }
}
