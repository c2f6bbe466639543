//! `graph.gml`: Shadow's network graph (GML), its nodes' bandwidths and the
//! shortest paths between them (Shadow's default routing), computed only
//! from the nodes that hosts use.

use super::units::{parse_bandwidth, parse_duration};
use super::{bad, InteropError};
use models::gml::{self, Gml};
use std::collections::BTreeMap;

/// A Shadow network graph.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// GML node ids, by index.
    pub ids: Vec<i64>,
    /// Labels, by index.
    pub labels: Vec<String>,
    /// (upload, download) bits per second, by index.
    pub bandwidth: Vec<(Option<u64>, Option<u64>)>,
    /// Direct edges from each node: (to, latency ns, delivery probability),
    /// the fastest per pair (self-loops apart).
    pub edges: Vec<Vec<(usize, u64, f64)>>,
    /// Each node's self-loop, if any: what two hosts on the same node get.
    pub self_loops: Vec<Option<(u64, f64)>>,
}

/// The largest latency of an edge, ns (a million seconds): far beyond any
/// network, and sums of edges stay far from overflowing.
const MAX_EDGE_LATENCY_NS: u64 = 1_000_000_000_000_000;

impl Graph {
    /// The shortest paths (Shadow's default routing) from `from` to every
    /// node: one-way latency (ns) and delivery probability (`None`: no
    /// path). Dijkstra from one node, so a graph of thousands of nodes
    /// costs only what its hosts' nodes need.
    pub fn paths_from(&self, from: usize) -> Vec<Option<(u64, f64)>> {
        let n = self.ids.len();
        let mut best: Vec<Option<(u64, f64)>> = vec![None; n];
        let mut done = vec![false; n];
        let mut heap = std::collections::BinaryHeap::new();
        best[from] = Some((0, 1.0));
        heap.push(std::cmp::Reverse((0u64, from)));
        while let Some(std::cmp::Reverse((d, u))) = heap.pop() {
            if done[u] {
                continue;
            }
            done[u] = true;
            let p = best[u].map_or(1.0, |b| b.1);
            for &(v, lat, q) in &self.edges[u] {
                let nd = d + lat;
                if v != from && best[v].is_none_or(|(bd, _)| nd < bd) {
                    best[v] = Some((nd, p * q));
                    heap.push(std::cmp::Reverse((nd, v)));
                }
            }
        }
        best[from] = self.self_loops[from];
        best
    }
}

/// Parses a Shadow GML graph and computes shortest paths (Shadow's default routing).
pub fn parse_graph(text: &str) -> Result<Graph, InteropError> {
    let top = gml::parse(text).map_err(|e| bad(format!("graph.gml: {e}")))?;
    let items = gml::graph(&top).map_err(|e| bad(format!("graph.gml: {e}")))?;
    let directed = items
        .iter()
        .any(|(k, v)| k == "directed" && *v == Gml::Num(1.0));
    let mut g = Graph::default();
    let field =
        |l: &[(String, Gml)], k: &str| l.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    for (k, v) in items {
        if let ("node", Gml::List(l)) = (k.as_str(), v) {
            let id = match field(l, "id") {
                Some(Gml::Num(x)) => x as i64,
                _ => return Err(bad("graph.gml: a node without a numeric `id`")),
            };
            let bw = |key: &str| -> Result<Option<u64>, InteropError> {
                match field(l, key) {
                    Some(Gml::Str(s)) => parse_bandwidth(&s).map(Some),
                    Some(Gml::Num(x)) => Ok(Some(x.round().max(1.0) as u64)),
                    _ => Ok(None),
                }
                .map_err(|e| bad(format!("{e} (node {id}, {key})")))
            };
            let label = match field(l, "label") {
                Some(Gml::Str(s)) => s,
                _ => format!("node {id}"),
            };
            g.ids.push(id);
            g.labels.push(label);
            g.bandwidth
                .push((bw("host_bandwidth_up")?, bw("host_bandwidth_down")?));
        }
    }
    let n = g.ids.len();
    let index: BTreeMap<i64, usize> = g.ids.iter().enumerate().map(|(i, &x)| (x, i)).collect();
    // Direct edges: the fastest per ordered pair (latency ns, delivery probability).
    let mut direct: BTreeMap<(usize, usize), (u64, f64)> = BTreeMap::new();
    let mut self_loops: Vec<Option<(u64, f64)>> = vec![None; n];
    for (k, v) in items {
        let ("edge", Gml::List(l)) = (k.as_str(), v) else {
            continue;
        };
        let end = |key: &str| -> Result<usize, InteropError> {
            match field(l, key) {
                Some(Gml::Num(x)) => index
                    .get(&(x as i64))
                    .copied()
                    .ok_or_else(|| bad(format!("graph.gml: edge {key} {x} is not a node id"))),
                _ => Err(bad(format!("graph.gml: an edge without a numeric `{key}`"))),
            }
        };
        let (a, b) = (end("source")?, end("target")?);
        let written = match field(l, "latency") {
            Some(Gml::Str(s)) => Some(s),
            Some(Gml::Num(x)) => Some(x.to_string()),
            _ => None,
        };
        let lat = match &written {
            Some(s) => parse_duration(s, None),
            None => Err("missing `latency`".to_string()),
        }
        .and_then(|v| {
            if v > MAX_EDGE_LATENCY_NS {
                let w = written.as_deref().unwrap_or_default();
                Err(format!(
                    "{:?}: at most 1000000 s",
                    models::spec::short_value(w)
                ))
            } else {
                Ok(v)
            }
        })
        .map_err(|e| {
            bad(format!(
                "graph.gml: edge {} -> {}: latency {e}",
                g.ids[a], g.ids[b]
            ))
        })?;
        let loss = match field(l, "packet_loss") {
            Some(Gml::Num(x)) if (0.0..1.0).contains(&x) => x,
            None => 0.0,
            Some(other) => {
                return Err(bad(format!(
                    "graph.gml: edge {} -> {}: packet_loss {other}: expected a number in [0, 1)",
                    g.ids[a], g.ids[b]
                )))
            }
        };
        let jitter_ok = match field(l, "jitter") {
            None => true,
            Some(Gml::Num(x)) => x == 0.0,
            Some(Gml::Str(s)) => parse_duration(&s, Some(1.0)).is_ok_and(|v| v == 0),
            Some(Gml::List(_)) => false,
        };
        if !jitter_ok {
            return Err(bad(format!(
                "graph.gml: edge {} -> {}: `jitter` is not supported",
                g.ids[a], g.ids[b]
            )));
        }
        let e = (lat, 1.0 - loss);
        let mut set = |x: usize, y: usize| {
            if x == y {
                self_loops[x] = Some(e);
            } else if direct.get(&(x, y)).is_none_or(|&(d, _)| lat < d) {
                direct.insert((x, y), e);
            }
        };
        set(a, b);
        if !directed {
            set(b, a);
        }
    }
    g.edges = vec![Vec::new(); n];
    for ((x, y), (lat, p)) in direct {
        g.edges[x].push((y, lat, p));
    }
    g.self_loops = self_loops;
    Ok(g)
}
