//! `[topology]`: the initial graph.

use super::{err, finite_nonneg, SpecError};
use serde::{Deserialize, Serialize};

/// Kind of initial graph.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TopologyKind {
    /// Every peer has exactly `degree` connections (random regular graph).
    RandomRegular,
    /// Peers 0-1-2-...-(n-1) in a line.
    Chain,
    /// The edges listed in `edges` (also what `file` is turned into when loaded).
    Edges,
    /// Erdos-Renyi G(n, p): each pair connected with probability `p`.
    ErdosRenyi,
    /// Barabasi-Albert preferential attachment: each new peer connects to `m` peers.
    BarabasiAlbert,
    /// Watts-Strogatz small world: a ring of `degree` neighbours, each edge rewired with probability `beta`.
    WattsStrogatz,
    /// Peers of `hub_class` form a random `hub_degree`-regular mesh (full mesh if
    /// there are few); every other peer dials `spoke_degree` random hubs.
    HubAndSpoke,
}

/// Initial connections, dialed at start.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TopologySpec {
    /// Graph kind (default `random_regular`).
    pub kind: TopologyKind,
    /// Connections per peer for `random_regular` (default 8).
    pub degree: u32,
    /// Explicit edges `[[a, b], ...]` for `kind = "edges"`.
    pub edges: Vec<[u32; 2]>,
    /// Initial dials start uniformly within this window (ms, default 1000).
    pub dial_stagger_ms: f64,
    /// Edge probability for `erdos_renyi`.
    pub p: Option<f64>,
    /// Edges per new peer for `barabasi_albert` (default 4).
    pub m: Option<u32>,
    /// Rewiring probability for `watts_strogatz` (default 0.1).
    pub beta: Option<f64>,
    /// The class whose peers are hubs, for `hub_and_spoke` (default: the classes that accept inbound connections).
    pub hub_class: Option<String>,
    /// Hubs each other peer connects to, for `hub_and_spoke` (default 2).
    pub spoke_degree: Option<u32>,
    /// Connections of each hub to other hubs, for `hub_and_spoke` (default: all hubs, up to 8).
    pub hub_degree: Option<u32>,
    /// A GML graph or an edge list (`a b` per line) to load; relative to the experiment file. Sets `kind = "edges"`.
    pub file: Option<String>,
}

impl Default for TopologySpec {
    fn default() -> Self {
        TopologySpec {
            kind: TopologyKind::RandomRegular,
            degree: 8,
            edges: Vec::new(),
            dial_stagger_ms: 1000.0,
            p: None,
            m: None,
            beta: None,
            hub_class: None,
            spoke_degree: None,
            hub_degree: None,
            file: None,
        }
    }
}

impl TopologySpec {
    pub(crate) fn validate(&self, peers: u32) -> Result<(), SpecError> {
        finite_nonneg("topology.dial_stagger_ms", self.dial_stagger_ms)?;
        match self.kind {
            TopologyKind::RandomRegular => {
                if peers < 2 {
                    return Err(err(
                        "topology.kind",
                        "\"random_regular\"",
                        "a kind that allows a single peer (\"chain\"), or peers >= 2",
                    ));
                }
                if self.degree == 0 || self.degree >= peers {
                    return Err(err(
                        "topology.degree",
                        self.degree,
                        format!(
                            "an integer from 1 to peers - 1 ({})",
                            peers.saturating_sub(1)
                        ),
                    ));
                }
                if (u64::from(self.degree) * u64::from(peers)) % 2 == 1 {
                    return Err(err(
                        "topology.degree",
                        self.degree,
                        "degree x peers must be even for a regular graph",
                    ));
                }
            }
            TopologyKind::Chain => {}
            TopologyKind::ErdosRenyi => match self.p {
                Some(p) if p.is_finite() && p > 0.0 && p <= 1.0 => {}
                other => {
                    return Err(err(
                        "topology.p",
                        other.map_or("(missing)".to_string(), |p| p.to_string()),
                        "an edge probability in (0, 1] for kind = \"erdos_renyi\"",
                    ))
                }
            },
            TopologyKind::BarabasiAlbert => {
                let m = self.m.unwrap_or(4);
                if m == 0 || m >= peers {
                    return Err(err(
                        "topology.m",
                        m,
                        format!(
                            "an integer from 1 to peers - 1 ({})",
                            peers.saturating_sub(1)
                        ),
                    ));
                }
            }
            TopologyKind::WattsStrogatz => {
                if self.degree < 2 || self.degree % 2 == 1 || self.degree >= peers {
                    return Err(err(
                        "topology.degree",
                        self.degree,
                        "an even number from 2 to peers - 1 for kind = \"watts_strogatz\"",
                    ));
                }
                let b = self.beta.unwrap_or(0.1);
                if !(b.is_finite() && (0.0..=1.0).contains(&b)) {
                    return Err(err("topology.beta", b, "a probability from 0 to 1"));
                }
            }
            TopologyKind::HubAndSpoke => {
                if self.spoke_degree == Some(0) {
                    return Err(err("topology.spoke_degree", 0, "at least 1"));
                }
            }
            TopologyKind::Edges => {
                if self.edges.is_empty() && self.file.is_none() {
                    return Err(err(
                        "topology.edges",
                        "[]",
                        "at least one edge [a, b] when kind = \"edges\"",
                    ));
                }
                for (i, [a, b]) in self.edges.iter().enumerate() {
                    if *a >= peers || *b >= peers || a == b {
                        return Err(err(
                            &format!("topology.edges[{i}]"),
                            format!("[{a}, {b}]"),
                            format!("two distinct peer indices below peers ({peers})"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
