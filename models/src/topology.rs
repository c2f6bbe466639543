//! Initial graphs, built with `petgraph` from the topology stream.

use crate::spec::{TopologyKind, TopologySpec};
use petgraph::graph::UnGraph;
use rand::seq::SliceRandom;
use sim::SimRng;
use std::collections::{BTreeMap, BTreeSet};

/// The initial graph: nodes are peer indices; an edge is a connection to dial.
pub type Topology = UnGraph<(), ()>;

/// Builds the initial graph for `n` peers; `hubs` are the hub peers for
/// `hub_and_spoke` (ignored otherwise).
pub fn build(spec: &TopologySpec, n: u32, hubs: &[u32], rng: &mut SimRng) -> Topology {
    let edges: Vec<(u32, u32)> = match spec.kind {
        TopologyKind::RandomRegular => random_regular(n, spec.degree, rng),
        TopologyKind::Chain => (1..n).map(|i| (i - 1, i)).collect(),
        TopologyKind::ErdosRenyi => erdos_renyi(n, spec.p.unwrap_or(0.1), rng),
        TopologyKind::BarabasiAlbert => barabasi_albert(n, spec.m.unwrap_or(4), rng),
        TopologyKind::WattsStrogatz => {
            watts_strogatz(n, spec.degree, spec.beta.unwrap_or(0.1), rng)
        }
        TopologyKind::HubAndSpoke => hub_and_spoke(
            n,
            hubs,
            spec.spoke_degree.unwrap_or(2),
            spec.hub_degree,
            rng,
        ),
        TopologyKind::Edges => {
            let set: BTreeSet<(u32, u32)> = spec
                .edges
                .iter()
                .map(|&[a, b]| (a.min(b), a.max(b)))
                .collect();
            set.into_iter().collect()
        }
    };
    let mut g = Topology::with_capacity(n as usize, edges.len());
    for _ in 0..n {
        g.add_node(());
    }
    g.extend_with_edges(edges);
    g
}

/// A random `d`-regular graph on `n` nodes (pairing model with restarts, then
/// a repair pass by edge switching if restarts keep failing). Every `d < n`
/// with `n * d` even gives one: the complete graph for `d = n - 1`, and a
/// seeded fallback ([`regular_by_swaps`]) if the repair gets stuck, which it
/// can on dense graphs. The fallback only replaces what used to be a panic,
/// so a graph the pairing or the repair finds is the same as before.
pub fn random_regular(n: u32, d: u32, rng: &mut SimRng) -> Vec<(u32, u32)> {
    assert!(
        (d == 0 || d < n) && (u64::from(n) * u64::from(d)).is_multiple_of(2),
        "no simple {d}-regular graph on {n} nodes (the spec's validation admits none)"
    );
    if d + 1 == n {
        // The only one; the pairing almost never finds it and the repair gets stuck.
        return complete(n);
    }
    let mut stubs: Vec<u32> = (0..n)
        .flat_map(|i| std::iter::repeat_n(i, d as usize))
        .collect();
    for _attempt in 0..50 {
        stubs.shuffle(rng);
        let mut set = BTreeSet::new();
        let mut ok = true;
        for pair in stubs.chunks_exact(2) {
            let (a, b) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
            if a == b || !set.insert((a, b)) {
                ok = false;
                break;
            }
        }
        if ok {
            return set.into_iter().collect();
        }
    }
    // Large d: pair once, then switch away self-loops and multi-edges.
    stubs.shuffle(rng);
    let mut edges: Vec<(u32, u32)> = stubs.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    if !repair(&mut edges, rng) {
        return regular_by_swaps(n, d, rng);
    }
    let mut out: Vec<(u32, u32)> = edges
        .into_iter()
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect();
    out.sort_unstable();
    out
}

/// Switches self-loops and multi-edges away; `false` if it cannot (out of
/// attempts, or stuck: no switch of the next bad edge is possible).
fn repair(edges: &mut [(u32, u32)], rng: &mut SimRng) -> bool {
    use rand::RngExt;
    use std::collections::BTreeMap;
    let key = |a: u32, b: u32| (a.min(b), a.max(b));
    let mut count: BTreeMap<(u32, u32), u32> = BTreeMap::new();
    for &(a, b) in edges.iter() {
        *count.entry(key(a, b)).or_default() += 1;
    }
    let is_bad =
        |count: &BTreeMap<(u32, u32), u32>, (a, b): (u32, u32)| a == b || count[&key(a, b)] > 1;
    // Replacing edges (a, b) and (c, e) by x and y keeps the graph loop-free
    // and adds no multi-edge.
    let fits = |count: &BTreeMap<(u32, u32), u32>, x: (u32, u32), y: (u32, u32)| {
        let fresh = |(p, q): (u32, u32)| p != q && !count.contains_key(&key(p, q));
        fresh(x) && fresh(y) && key(x.0, x.1) != key(y.0, y.1)
    };
    let limit = edges.len() * 1000 + 10_000;
    let mut i = 0;
    let mut misses = 0;
    for _ in 0..limit {
        // Next bad edge, scanning round-robin.
        let Some(bad) = (0..edges.len())
            .map(|k| (i + k) % edges.len())
            .find(|&k| is_bad(&count, edges[k]))
        else {
            return true;
        };
        i = bad;
        if misses >= edges.len() {
            // Nothing changes until a switch succeeds: if none can, the
            // remaining attempts would all miss (this only saves their time).
            let (a, b) = edges[bad];
            let stuck = (0..edges.len()).filter(|&j| j != bad).all(|j| {
                let (c, e) = edges[j];
                !fits(&count, (a, c), (b, e)) && !fits(&count, (a, e), (b, c))
            });
            if stuck {
                return false;
            }
            misses = 0;
        }
        let j = rng.random_range(0..edges.len());
        let ((a, b), (c, e)) = (edges[bad], edges[j]);
        let (x, y) = if rng.random_bool(0.5) {
            ((a, c), (b, e))
        } else {
            ((a, e), (b, c))
        };
        if j == bad || !fits(&count, x, y) {
            misses += 1;
            continue;
        }
        misses = 0;
        for old in [(a, b), (c, e)] {
            let k = key(old.0, old.1);
            let n = count.get_mut(&k).expect("present");
            *n -= 1;
            if *n == 0 {
                count.remove(&k);
            }
        }
        *count.entry(key(x.0, x.1)).or_default() += 1;
        *count.entry(key(y.0, y.1)).or_default() += 1;
        edges[bad] = x;
        edges[j] = y;
    }
    false
}

/// The complete graph on `n` nodes, sorted.
fn complete(n: u32) -> Vec<(u32, u32)> {
    (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect()
}

/// A `d`-regular graph that always exists, sorted: the circulant graph (each
/// node linked to the `d / 2` nearest on either side of a ring, and to the
/// opposite node if `d` is odd), mixed by `10 x edges` seeded
/// degree-preserving swaps; above `d = (n - 1) / 2`, the complement of such
/// a graph of degree `n - 1 - d` (swaps rarely succeed in a dense graph).
pub fn regular_by_swaps(n: u32, d: u32, rng: &mut SimRng) -> Vec<(u32, u32)> {
    use rand::RngExt;
    assert!(
        (d == 0 || d < n) && (u64::from(n) * u64::from(d)).is_multiple_of(2),
        "no simple {d}-regular graph on {n} nodes"
    );
    if d > 0 && 2 * u64::from(d) > u64::from(n - 1) {
        let sparse: BTreeSet<(u32, u32)> =
            regular_by_swaps(n, n - 1 - d, rng).into_iter().collect();
        return complete(n)
            .into_iter()
            .filter(|e| !sparse.contains(e))
            .collect();
    }
    let mut edges: Vec<(u32, u32)> = (1..=d / 2)
        .flat_map(|j| (0..n).map(move |a| key(a, (a + j) % n)))
        .collect();
    if d % 2 == 1 {
        // n is even: each node's opposite.
        edges.extend((0..n / 2).map(|a| (a, a + n / 2)));
    }
    let mut set: BTreeSet<(u32, u32)> = edges.iter().copied().collect();
    let m = edges.len();
    if m >= 2 {
        for _ in 0..m * 10 {
            let (s, t) = (rng.random_range(0..m), rng.random_range(0..m));
            let ((a, b), (c, e)) = (edges[s], edges[t]);
            let (x, y) = if rng.random_bool(0.5) {
                (key(a, c), key(b, e))
            } else {
                (key(a, e), key(b, c))
            };
            if s == t || x.0 == x.1 || y.0 == y.1 || x == y || set.contains(&x) || set.contains(&y)
            {
                continue;
            }
            set.remove(&edges[s]);
            set.remove(&edges[t]);
            set.insert(x);
            set.insert(y);
            edges[s] = x;
            edges[t] = y;
        }
    }
    set.into_iter().collect()
}

fn key(a: u32, b: u32) -> (u32, u32) {
    (a.min(b), a.max(b))
}

/// G(n, p).
pub fn erdos_renyi(n: u32, p: f64, rng: &mut SimRng) -> Vec<(u32, u32)> {
    use rand::RngExt;
    let mut out = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            if rng.random_bool(p) {
                out.push((a, b));
            }
        }
    }
    out
}

/// Preferential attachment: starting from a clique of `m + 1`, each new node
/// links to `m` distinct nodes chosen with probability proportional to degree.
pub fn barabasi_albert(n: u32, m: u32, rng: &mut SimRng) -> Vec<(u32, u32)> {
    use rand::RngExt;
    let m0 = (m + 1).min(n);
    let mut edges = BTreeSet::new();
    let mut ends: Vec<u32> = Vec::new();
    for a in 0..m0 {
        for b in a + 1..m0 {
            edges.insert((a, b));
            ends.extend([a, b]);
        }
    }
    for v in m0..n {
        let mut chosen = BTreeSet::new();
        while (chosen.len() as u32) < m.min(v) {
            let t = if ends.is_empty() {
                rng.random_range(0..v)
            } else {
                ends[rng.random_range(0..ends.len())]
            };
            chosen.insert(t);
        }
        for t in chosen {
            edges.insert(key(v, t));
            ends.extend([v, t]);
        }
    }
    edges.into_iter().collect()
}

/// Ring lattice with `k` neighbours per node, each edge's far end rewired with probability `beta`.
pub fn watts_strogatz(n: u32, k: u32, beta: f64, rng: &mut SimRng) -> Vec<(u32, u32)> {
    use rand::RngExt;
    let mut edges = BTreeSet::new();
    for a in 0..n {
        for j in 1..=k / 2 {
            edges.insert(key(a, (a + j) % n));
        }
    }
    let lattice: Vec<(u32, u32)> = edges.iter().copied().collect();
    for (a, b) in lattice {
        if rng.random_bool(beta) {
            // Rewire (a, b) to (a, c) with a fresh c.
            for _ in 0..32 {
                let c = rng.random_range(0..n);
                if c != a && !edges.contains(&key(a, c)) {
                    edges.remove(&(a, b));
                    edges.insert(key(a, c));
                    break;
                }
            }
        }
    }
    edges.into_iter().collect()
}

/// Hubs form a random `hub_degree`-regular graph (a full mesh when there are
/// at most `hub_degree + 1` hubs); every other node links to `spokes` random hubs.
pub fn hub_and_spoke(
    n: u32,
    hubs: &[u32],
    spokes: u32,
    hub_degree: Option<u32>,
    rng: &mut SimRng,
) -> Vec<(u32, u32)> {
    use rand::seq::IndexedRandom;
    let mut edges = BTreeSet::new();
    let h = hubs.len() as u32;
    let d = hub_degree.unwrap_or(8).min(h.saturating_sub(1));
    // (In u64: d x h can pass u32::MAX with some 65,000 hubs.)
    let stubs = u64::from(d) * u64::from(h);
    if h >= 2 {
        if d + 1 >= h || stubs % 2 == 1 {
            for (i, &a) in hubs.iter().enumerate() {
                for &b in &hubs[i + 1..] {
                    if d + 1 >= h || (edges.len() as u64) < stubs / 2 {
                        edges.insert(key(a, b));
                    }
                }
            }
        } else if d > 0 {
            for (a, b) in random_regular(h, d, rng) {
                edges.insert(key(hubs[a as usize], hubs[b as usize]));
            }
        }
    }
    let hub_set: BTreeSet<u32> = hubs.iter().copied().collect();
    for v in (0..n).filter(|v| !hub_set.contains(v)) {
        for &hb in hubs.sample(rng, spokes.min(h) as usize) {
            edges.insert(key(v, hb));
        }
    }
    edges.into_iter().collect()
}

/// Parses a GML graph (`node [ id N ]`, `edge [ source A target B ]`) or an
/// edge list (`A B` per line, `#` comments). Node ids map to peer indices in
/// the order they appear (GML) or as numbers (edge list).
pub fn parse_graph(text: &str) -> Result<Vec<(u32, u32)>, String> {
    if text.contains("graph") && text.contains('[') {
        parse_gml(text)
    } else {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let f: Vec<&str> = line
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|x| !x.is_empty())
                .collect();
            let (Some(a), Some(b)) = (
                f.first().and_then(|x| x.parse().ok()),
                f.get(1).and_then(|x| x.parse().ok()),
            ) else {
                return Err(format!(
                    "line {}: expected two peer indices, got {line:?}",
                    i + 1
                ));
            };
            out.push((a, b));
        }
        Ok(out)
    }
}

fn parse_gml(text: &str) -> Result<Vec<(u32, u32)>, String> {
    use crate::gml::{self, Gml};
    let doc = gml::parse(text)?;
    let items = gml::graph(&doc)?;
    let field = |l: &[(String, Gml)], k: &str| Gml::field(l, k).and_then(Gml::text);
    let mut ids: Vec<String> = Vec::new();
    let mut edges = Vec::new();
    for (k, v) in items {
        match (k.as_str(), v) {
            ("node", Gml::List(l)) => ids.push(field(l, "id").ok_or("a node without id")?),
            ("edge", Gml::List(l)) => {
                let (Some(a), Some(b)) = (field(l, "source"), field(l, "target")) else {
                    return Err("an edge without source or target".into());
                };
                edges.push((a, b));
            }
            _ => {}
        }
    }
    // The first node with an id wins, as a scan would; an index keeps large
    // graphs linear.
    let mut by_id: BTreeMap<&str, u32> = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        by_id.entry(id.as_str()).or_insert(i as u32);
    }
    let index = |id: &str| {
        by_id
            .get(id)
            .copied()
            .ok_or(format!("edge names unknown node {id:?}"))
    };
    edges
        .iter()
        .map(|(a, b)| Ok((index(a)?, index(b)?)))
        .collect()
}

/// Number of connected components.
pub fn components(g: &Topology) -> usize {
    petgraph::algo::connected_components(g)
}

#[cfg(test)]
mod tests;
