//! `[measure]`: what is measured during a run.

use serde::{Deserialize, Serialize};

/// What is measured during the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MeasureSpec {
    /// Interval of the mesh samples behind `timeseries.csv` and `convergence_s` (ms, default 1000; 0 = off).
    pub sample_interval_ms: u64,
    /// Keep every first delivery for `deliveries.csv` (default off).
    pub deliveries: bool,
    /// Collect GossipSub's own Prometheus metrics and write `metrics.prom` (default off).
    pub prometheus: bool,
    /// Decode GossipSub frames on the wire: duplicates, control counts, data/control bytes (default on).
    pub wire: bool,
    /// Also sample every peer's mesh degree and connections (`peer_timeseries.csv`; default off).
    pub per_peer: bool,
}

impl Default for MeasureSpec {
    fn default() -> Self {
        MeasureSpec {
            sample_interval_ms: 1000,
            deliveries: false,
            prometheus: false,
            wire: true,
            per_peer: false,
        }
    }
}

impl MeasureSpec {
    /// Checks the parameters.
    pub(crate) fn validate(&self) -> Result<(), super::SpecError> {
        if self.sample_interval_ms > super::DAY_MS {
            return Err(super::err(
                "measure.sample_interval_ms",
                self.sample_interval_ms,
                "0 (off) or a number of milliseconds up to 86400000 (a day)",
            ));
        }
        Ok(())
    }
}
