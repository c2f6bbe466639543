//! `[limits]`: what turns a runaway run into an error.

use serde::{Deserialize, Serialize};

/// Limits that turn a runaway run into an error.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSpec {
    /// Maximum events per run (default 2e9).
    pub max_events: u64,
    /// Test hook: the run panics at this simulated time (to exercise sweep
    /// failure handling and reproduction commands). Never set it otherwise.
    pub panic_at_s: Option<f64>,
    /// Refuse to start a run whose estimated memory exceeds this many MiB
    /// (default: 90% of the machine's memory, shared by parallel sweep runs).
    pub max_memory_mib: Option<u64>,
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec {
            max_events: 2_000_000_000,
            panic_at_s: None,
            max_memory_mib: None,
        }
    }
}
