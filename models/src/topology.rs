//! Initial graphs, built with `petgraph` from the topology stream.

use crate::spec::{TopologyKind, TopologySpec};
use petgraph::graph::UnGraph;
use rand::seq::SliceRandom;
use sim::SimRng;
use std::collections::BTreeSet;

/// The initial graph: nodes are peer indices; an edge is a connection to dial.
pub type Topology = UnGraph<(), ()>;

/// Builds the initial graph for `n` peers.
pub fn build(spec: &TopologySpec, n: u32, rng: &mut SimRng) -> Topology {
    let edges: Vec<(u32, u32)> = match spec.kind {
        TopologyKind::RandomRegular => random_regular(n, spec.degree, rng),
        TopologyKind::Chain => (1..n).map(|i| (i - 1, i)).collect(),
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
/// a repair pass by edge switching if restarts keep failing).
pub fn random_regular(n: u32, d: u32, rng: &mut SimRng) -> Vec<(u32, u32)> {
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
    repair(&mut edges, rng);
    let mut out: Vec<(u32, u32)> = edges
        .into_iter()
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect();
    out.sort_unstable();
    out
}

fn repair(edges: &mut [(u32, u32)], rng: &mut SimRng) {
    use rand::RngExt;
    use std::collections::BTreeMap;
    let key = |a: u32, b: u32| (a.min(b), a.max(b));
    let mut count: BTreeMap<(u32, u32), u32> = BTreeMap::new();
    for &(a, b) in edges.iter() {
        *count.entry(key(a, b)).or_default() += 1;
    }
    let is_bad =
        |count: &BTreeMap<(u32, u32), u32>, (a, b): (u32, u32)| a == b || count[&key(a, b)] > 1;
    let limit = edges.len() * 1000 + 10_000;
    let mut i = 0;
    for _ in 0..limit {
        // Next bad edge, scanning round-robin.
        let Some(bad) = (0..edges.len())
            .map(|k| (i + k) % edges.len())
            .find(|&k| is_bad(&count, edges[k]))
        else {
            return;
        };
        i = bad;
        let j = rng.random_range(0..edges.len());
        let ((a, b), (c, e)) = (edges[bad], edges[j]);
        let (x, y) = if rng.random_bool(0.5) {
            ((a, c), (b, e))
        } else {
            ((a, e), (b, c))
        };
        let fresh = |count: &BTreeMap<(u32, u32), u32>, (p, q): (u32, u32)| {
            p != q && !count.contains_key(&key(p, q))
        };
        if j == bad || !fresh(&count, x) || !fresh(&count, y) || key(x.0, x.1) == key(y.0, y.1) {
            continue;
        }
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
    panic!("could not build a simple regular graph (try another degree or peer count)");
}

/// Number of connected components.
pub fn components(g: &Topology) -> usize {
    petgraph::algo::connected_components(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::Seeds;

    #[test]
    fn random_regular_has_exact_degree_and_no_duplicates() {
        for (n, d) in [(10u32, 3u32), (200, 8), (30, 20)] {
            let e = random_regular(n, d, &mut Seeds::new(3).stream("topology"));
            let mut deg = vec![0u32; n as usize];
            let mut set = BTreeSet::new();
            for &(a, b) in &e {
                assert_ne!(a, b);
                assert!(set.insert((a, b)));
                deg[a as usize] += 1;
                deg[b as usize] += 1;
            }
            assert!(deg.iter().all(|&x| x == d), "n={n} d={d}: {deg:?}");
        }
    }

    #[test]
    fn chain_is_connected_line() {
        let spec = TopologySpec {
            kind: TopologyKind::Chain,
            ..TopologySpec::default()
        };
        let g = build(&spec, 10, &mut Seeds::new(1).stream("topology"));
        assert_eq!(g.edge_count(), 9);
        assert_eq!(components(&g), 1);
    }
}
