//! `[probes]`: health-check probes.

use super::{err, SpecError};
use serde::{Deserialize, Serialize};

/// Health-check probes (`[probes]`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeSpec {
    /// Number of probe peers (drawn at random; 0 = off).
    pub count: u32,
    /// Each probe publishes a probe message this often (ms, default 5000).
    pub interval_ms: u64,
    /// Probe payload size, bytes (default 64).
    pub message_bytes: usize,
}

impl Default for ProbeSpec {
    fn default() -> Self {
        ProbeSpec {
            count: 0,
            interval_ms: 5000,
            message_bytes: 64,
        }
    }
}

impl ProbeSpec {
    /// Checks the parameters.
    pub fn validate(&self, peers: u32) -> Result<(), SpecError> {
        if self.count == 1 || self.count > peers {
            return Err(err(
                "probes.count",
                self.count,
                format!("0 (off) or from 2 to peers ({peers})"),
            ));
        }
        if !(1..=super::DAY_MS).contains(&self.interval_ms) {
            return Err(err(
                "probes.interval_ms",
                self.interval_ms,
                "a number of milliseconds from 1 to 86400000 (a day)",
            ));
        }
        if !(16..=1 << 20).contains(&self.message_bytes) {
            return Err(err(
                "probes.message_bytes",
                self.message_bytes,
                "from 16 to 1048576 bytes",
            ));
        }
        Ok(())
    }
}
