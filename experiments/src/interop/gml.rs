//! `graph.gml`: Shadow's network graph (GML), its nodes' bandwidths and the
//! shortest paths between them (Shadow's default routing).

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
    /// Shortest-path one-way latency (ns) and delivery probability, `[from][to]`.
    pub paths: Vec<Vec<Option<(u64, f64)>>>,
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
    // Direct edges: latency ns, delivery probability.
    let mut dist: Vec<Vec<Option<(u64, f64)>>> = vec![vec![None; n]; n];
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
        let lat = match field(l, "latency") {
            Some(Gml::Str(s)) => parse_duration(&s, None),
            Some(Gml::Num(x)) => parse_duration(&x.to_string(), None),
            _ => Err("missing `latency`".to_string()),
        }
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
        let e = Some((lat, 1.0 - loss));
        let mut set = |x: usize, y: usize| {
            if x == y {
                self_loops[x] = e;
            } else if dist[x][y].is_none_or(|(d, _)| lat < d) {
                dist[x][y] = e;
            }
        };
        set(a, b);
        if !directed {
            set(b, a);
        }
    }
    // Floyd-Warshall over the direct edges.
    for k in 0..n {
        let row_k = dist[k].clone();
        for (i, row_i) in dist.iter_mut().enumerate() {
            let Some((dik, pik)) = row_i[k] else {
                continue;
            };
            for (j, via) in row_k.iter().enumerate() {
                if i == j {
                    continue;
                }
                if let Some((dkj, pkj)) = *via {
                    if row_i[j].is_none_or(|(d, _)| dik + dkj < d) {
                        row_i[j] = Some((dik + dkj, pik * pkj));
                    }
                }
            }
        }
    }
    for (i, s) in self_loops.into_iter().enumerate() {
        dist[i][i] = s;
    }
    g.paths = dist;
    Ok(g)
}
