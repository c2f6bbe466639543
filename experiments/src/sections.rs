//! The `[sweep]` and `[check]` sections of an experiment file: the types
//! that `load` reads them into, for `sweep` (which expands the points) and
//! `check` (which compares with a baseline).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `[sweep]` section:
///
/// ```toml
/// [sweep]
/// seeds = 3                      # runs per point; run k uses seed = base seed + k at every point
/// mode = "grid"                  # or "random" with `samples = N` points drawn from the grid
/// skip_invalid = false           # true: drop invalid points instead of refusing the sweep
/// [[sweep.axis]]
/// key = "gossipsub.mesh_n"
/// values = [4, 6, 8]
/// [[sweep.axis]]
/// key = "network.latency.max_ms"
/// range = { start = 50, stop = 150, step = 50 }   # linear, inclusive
/// [[sweep.axis]]
/// key = "workload.rate_per_s"
/// log = { start = 1, stop = 100, points = 3 }     # geometric
/// [[sweep.axis]]                                  # zipped keys move together
/// keys = ["gossipsub.mesh_n_low", "gossipsub.mesh_n", "gossipsub.mesh_n_high"]
/// values = [[3, 4, 8], [5, 6, 12]]
/// ```
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Runs per point (default 1).
    #[serde(default = "one")]
    pub seeds: u32,
    /// `grid` (every combination) or `random` (`samples` points drawn from the grid).
    #[serde(default)]
    pub mode: SweepMode,
    /// Points drawn when `mode = "random"`.
    pub samples: Option<u32>,
    /// Drop invalid points (reported) instead of refusing the sweep.
    #[serde(default)]
    pub skip_invalid: bool,
    /// The axes.
    #[serde(default, rename = "axis")]
    pub axes: Vec<AxisSpec>,
}

fn one() -> u32 {
    1
}

/// How points are chosen.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SweepMode {
    /// Every combination of axis values.
    #[default]
    Grid,
    /// `samples` distinct combinations drawn with the experiment's seed.
    Random,
}

/// One axis: a key (or zipped keys) and its values.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AxisSpec {
    /// Dotted key path (the same paths as `--set`).
    pub key: Option<String>,
    /// Zipped keys: each value is an array with one entry per key.
    pub keys: Option<Vec<String>>,
    /// Explicit values.
    pub values: Option<Vec<toml::Value>>,
    /// Linear range, inclusive.
    pub range: Option<LinearRange>,
    /// Geometric range.
    pub log: Option<LogRange>,
}

/// `start, start + step, ... <= stop`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinearRange {
    /// First value.
    pub start: toml::Value,
    /// Last value (inclusive).
    pub stop: toml::Value,
    /// Step (> 0).
    pub step: toml::Value,
}

/// `points` values from `start` to `stop` spaced evenly on a log scale.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogRange {
    /// First value (> 0).
    pub start: f64,
    /// Last value (> 0).
    pub stop: f64,
    /// Number of values (>= 2).
    pub points: u32,
    /// Round to integers (duplicates removed).
    #[serde(default)]
    pub integer: bool,
}

/// The `[check]` section:
///
/// ```toml
/// [check.metrics.delivery_ratio]
/// better = "higher"   # a fall is a regression
/// abs = 0.0           # allowed worsening, absolute
/// [check.metrics.latency_ms_p99]
/// better = "lower"
/// rel = 0.05          # may grow by at most 5%
/// ```
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Tolerance per metric (a `runs.csv` column).
    #[serde(default)]
    pub metrics: BTreeMap<String, Tolerance>,
}

/// Which direction is better, and how much worse is still acceptable.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    /// `higher` or `lower`.
    pub better: Better,
    /// Allowed worsening, absolute.
    #[serde(default)]
    pub abs: f64,
    /// Allowed worsening, relative to the baseline (0.05 = 5%).
    #[serde(default)]
    pub rel: f64,
}

/// Direction of improvement.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Bigger is better (delivery).
    Higher,
    /// Smaller is better (latency, convergence time).
    Lower,
}
