//! `[network]`: link latency, loss, jitter, timeouts, the uplink buffer,
//! regions, and per-class-pair links (`[[link]]`).

use super::{err, finite_nonneg, Experiment, SpecError, TransportSpec};
use serde::{Deserialize, Serialize};
pub use sim::latency::{ms_to_ns, LatencyModel};

/// Checks a latency model; `key` is its path (e.g. `network.latency`).
pub fn validate_latency(key: &str, l: &LatencyModel) -> Result<(), SpecError> {
    match *l {
        LatencyModel::Constant { ms } => finite_nonneg(&format!("{key}.ms"), ms),
        LatencyModel::Uniform { min_ms, max_ms } => {
            finite_nonneg(&format!("{key}.min_ms"), min_ms)?;
            finite_nonneg(&format!("{key}.max_ms"), max_ms)?;
            if max_ms < min_ms {
                return Err(err(
                    &format!("{key}.max_ms"),
                    max_ms,
                    format!("a value >= min_ms ({min_ms})"),
                ));
            }
            Ok(())
        }
        LatencyModel::Normal {
            mean_ms,
            std_ms,
            min_ms,
        } => {
            finite_nonneg(&format!("{key}.mean_ms"), mean_ms)?;
            finite_nonneg(&format!("{key}.std_ms"), std_ms)?;
            finite_nonneg(&format!("{key}.min_ms"), min_ms)
        }
        LatencyModel::LogNormal {
            median_ms,
            sigma,
            min_ms,
        } => {
            if !(median_ms.is_finite() && median_ms > 0.0) {
                return Err(err(
                    &format!("{key}.median_ms"),
                    median_ms,
                    "a latency in ms > 0",
                ));
            }
            finite_nonneg(&format!("{key}.sigma"), sigma)?;
            finite_nonneg(&format!("{key}.min_ms"), min_ms)
        }
    }
}

/// The latency of `[network]` when none is given: uniform 20-80 ms.
pub fn default_latency() -> LatencyModel {
    LatencyModel::Uniform {
        min_ms: 20.0,
        max_ms: 80.0,
    }
}

/// The network.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSpec {
    /// Link latency (default uniform 20-80 ms).
    pub latency: LatencyModel,
    /// How long after a crash or a cut link the other side notices (ms, default 1000).
    pub detection_delay_ms: f64,
    /// How long a dial to a silent address waits before failing (ms, default 10000).
    pub dial_timeout_ms: f64,
    /// Per-write jitter: uniform in [0, jitter_ms] added to each write, FIFO kept (default 0).
    pub jitter_ms: f64,
    /// Per-write loss probability, modelled as one retransmission delay per loss (default 0).
    pub loss: f64,
    /// Retransmission delay per loss (ms, default 200).
    pub rto_ms: f64,
    /// Bytes an uplink may queue before writers see backpressure (KiB, default 1024).
    pub uplink_buffer_kib: u64,
    /// Region model: peers placed in regions by weight, link latency from the region matrix.
    pub regions: Option<RegionsSpec>,
    /// How bytes cross the network: the `tcp` (default) or the `ideal` model.
    pub transport: TransportSpec,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            latency: default_latency(),
            detection_delay_ms: 1000.0,
            dial_timeout_ms: 10_000.0,
            jitter_ms: 0.0,
            loss: 0.0,
            rto_ms: 200.0,
            uplink_buffer_kib: 1024,
            regions: None,
            transport: TransportSpec::default(),
        }
    }
}

impl NetworkSpec {
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        validate_latency("network.latency", &self.latency)?;
        finite_nonneg("network.detection_delay_ms", self.detection_delay_ms)?;
        finite_nonneg("network.dial_timeout_ms", self.dial_timeout_ms)?;
        finite_nonneg("network.jitter_ms", self.jitter_ms)?;
        finite_nonneg("network.rto_ms", self.rto_ms)?;
        if !(self.loss.is_finite() && (0.0..0.99).contains(&self.loss)) {
            return Err(err(
                "network.loss",
                self.loss,
                "a probability from 0 to below 0.99",
            ));
        }
        if self.uplink_buffer_kib == 0 {
            return Err(err(
                "network.uplink_buffer_kib",
                0,
                "a positive number of KiB",
            ));
        }
        self.transport.validate()?;
        if let Some(r) = &self.regions {
            r.validate()?;
        }
        Ok(())
    }

    /// The engine's network configuration (without classes and regions; see
    /// [`Experiment::net_config`] for the whole of it).
    pub fn to_net_config(&self) -> sim::NetConfig {
        sim::NetConfig {
            latency: self.latency.clone(),
            detection_delay_ns: ms_to_ns(self.detection_delay_ms),
            dial_timeout_ns: ms_to_ns(self.dial_timeout_ms),
            jitter_ns: ms_to_ns(self.jitter_ms),
            loss: self.loss,
            rto_ns: ms_to_ns(self.rto_ms),
            uplink_buffer_bytes: self.uplink_buffer_kib * 1024,
            tcp: self.transport.tcp_config(),
            ..sim::NetConfig::default()
        }
    }
}

impl Experiment {
    /// The engine's whole network configuration: links, per-class-pair
    /// latency models and the region matrix.
    pub fn net_config(&self) -> sim::NetConfig {
        let mut c = self.network.to_net_config();
        c.read_hold_bytes = self.smallest_transmit_limit();
        for l in &self.links {
            let idx = |n: &str| self.classes.iter().position(|c| c.name == n).unwrap_or(0) as u16;
            let (a, b) = (idx(&l.classes[0]), idx(&l.classes[1]));
            c.class_latency
                .insert((a.min(b), a.max(b)), l.latency.clone());
        }
        if let Some(r) = &self.network.regions {
            c.region_latency_ms = r.table().2;
        }
        c
    }
}

/// The latency model of links between two classes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// The two class names (order does not matter; the same name twice for links within a class).
    pub classes: [String; 2],
    /// The latency model.
    pub latency: LatencyModel,
}

/// The region model (`[network.regions]`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RegionsSpec {
    /// `builtin` (the 8-region world model of libp2p test-plans) or `custom`.
    pub model: String,
    /// Custom: region names.
    pub names: Vec<String>,
    /// Custom: population weights, one per region.
    pub weights: Vec<f64>,
    /// Custom: one-way latency in ms, `latency_ms[from][to]`.
    pub latency_ms: Vec<Vec<f64>>,
}

impl Default for RegionsSpec {
    fn default() -> Self {
        RegionsSpec {
            model: "builtin".into(),
            names: Vec::new(),
            weights: Vec::new(),
            latency_ms: Vec::new(),
        }
    }
}

/// The built-in region table: (names, weights, latency matrix in ms).
pub fn builtin_regions() -> (Vec<String>, Vec<f64>, Vec<Vec<f64>>) {
    let mut names = Vec::new();
    let mut weights = Vec::new();
    for line in include_str!("../../data/regions.csv").lines().skip(1) {
        let mut it = line.split(',');
        if let (Some(n), Some(w)) = (it.next(), it.next()) {
            names.push(n.trim().to_string());
            weights.push(w.trim().parse::<f64>().expect("built-in weight"));
        }
    }
    let mut m = vec![vec![0.0; names.len()]; names.len()];
    for line in include_str!("../../data/region_latency_ms.csv")
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() == 3 {
            let a = names
                .iter()
                .position(|n| n == f[0])
                .expect("built-in region");
            let b = names
                .iter()
                .position(|n| n == f[1])
                .expect("built-in region");
            m[a][b] = f[2].parse().expect("built-in latency");
        }
    }
    (names, weights, m)
}

impl RegionsSpec {
    /// (names, weights, matrix) of this model.
    pub fn table(&self) -> (Vec<String>, Vec<f64>, Vec<Vec<f64>>) {
        if self.model == "builtin" {
            builtin_regions()
        } else {
            (
                self.names.clone(),
                self.weights.clone(),
                self.latency_ms.clone(),
            )
        }
    }

    /// Checks the model.
    pub fn validate(&self) -> Result<(), SpecError> {
        match self.model.as_str() {
            "builtin" => {
                for (k, set) in [
                    ("names", !self.names.is_empty()),
                    ("weights", !self.weights.is_empty()),
                    ("latency_ms", !self.latency_ms.is_empty()),
                ] {
                    if set {
                        return Err(err(
                            &format!("network.regions.{k}"),
                            "(set)",
                            "only with model = \"custom\" (the built-in model has its own)",
                        ));
                    }
                }
                Ok(())
            }
            "custom" => {
                let n = self.names.len();
                if n == 0 {
                    return Err(err(
                        "network.regions.names",
                        "[]",
                        "at least one region name",
                    ));
                }
                if self.weights.len() != n
                    || self.weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
                    || self.weights.iter().sum::<f64>() <= 0.0
                {
                    return Err(err(
                        "network.regions.weights",
                        format!("{:?}", self.weights),
                        format!("{n} weights >= 0 (one per region), not all zero"),
                    ));
                }
                if self.latency_ms.len() != n || self.latency_ms.iter().any(|r| r.len() != n) {
                    return Err(err(
                        "network.regions.latency_ms",
                        format!("{} rows", self.latency_ms.len()),
                        format!("a {n} x {n} matrix"),
                    ));
                }
                for (i, row) in self.latency_ms.iter().enumerate() {
                    for (j, v) in row.iter().enumerate() {
                        if !(v.is_finite() && *v >= 0.0) {
                            return Err(err(
                                &format!("network.regions.latency_ms[{i}][{j}]"),
                                v,
                                "a latency in ms >= 0",
                            ));
                        }
                        let back = self.latency_ms[j][i];
                        if *v != back {
                            return Err(err(
                                &format!("network.regions.latency_ms[{i}][{j}]"),
                                v,
                                format!("the same as latency_ms[{j}][{i}] ({back}): a link has one latency both ways"),
                            ));
                        }
                    }
                }
                let mut seen = std::collections::BTreeSet::new();
                for (i, n) in self.names.iter().enumerate() {
                    if n.is_empty() || !seen.insert(n) {
                        return Err(err(
                            &format!("network.regions.names[{i}]"),
                            format!("{n:?}"),
                            "a non-empty name, different from the other regions",
                        ));
                    }
                }
                Ok(())
            }
            other => Err(err(
                "network.regions.model",
                format!("{other:?}"),
                "\"builtin\" or \"custom\"",
            )),
        }
    }
}
