//! Tests of `topology`.

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

/// Panics unless `e` is a simple `d`-regular graph on `n` nodes, sorted.
fn assert_regular(n: u32, d: u32, e: &[(u32, u32)]) {
    let mut deg = vec![0u32; n as usize];
    for w in e.windows(2) {
        assert!(w[0] < w[1], "n={n} d={d}: unsorted or repeated edge {w:?}");
    }
    for &(a, b) in e {
        assert!(a < b && b < n, "n={n} d={d}: edge ({a}, {b})");
        deg[a as usize] += 1;
        deg[b as usize] += 1;
    }
    assert!(deg.iter().all(|&x| x == d), "n={n} d={d}: {deg:?}");
}

#[test]
fn random_regular_exists_for_every_valid_degree_dense_ones_too() {
    // Every (n, d) up to 40 nodes (d = n - 1 used to panic for most odd n
    // and some even ones, e.g. 9 peers of degree 8), and a few larger dense ones.
    let mut pairs: Vec<(u32, u32)> = (2..=40u32)
        .flat_map(|n| (1..n).map(move |d| (n, d)))
        .collect();
    pairs.extend([(101, 100), (100, 99), (100, 98), (120, 117), (64, 61)]);
    for (n, d) in pairs {
        if (n * d) % 2 == 1 {
            continue;
        }
        for seed in 0..3 {
            let e = random_regular(n, d, &mut Seeds::new(seed).stream("topology"));
            assert_regular(n, d, &e);
        }
    }
}

#[test]
fn random_regular_keeps_the_graphs_it_found_before() {
    // Checksums of the edge lists the pairing and the repair gave before
    // the fallback existed: runs (and trace hashes) that worked stay the same.
    fn sum(e: &[(u32, u32)]) -> u64 {
        e.iter().fold(0xcbf2_9ce4_8422_2325, |h, &(a, b)| {
            (h ^ ((u64::from(a) << 32) | u64::from(b))).wrapping_mul(0x0100_0000_01b3)
        })
    }
    for (n, d, seed, want) in [
        (10u32, 3u32, 3u64, 0x4e9f_62e7_4a16_c68bu64),
        (200, 8, 3, 0xd1c5_bb6b_bfba_70ac),
        (30, 20, 3, 0x0adc_6312_5b21_4167),
        (100, 10, 1, 0xdc9c_c8b0_966a_fff5),
        (500, 8, 1, 0x7156_1008_164e_8f53),
        (64, 62, 0, 0x4de2_b5c2_5cce_1a7c),
        (41, 38, 1, 0xa1db_fec0_d8fa_7f28),
        (12, 10, 1, 0x3f9c_45a9_b155_e33e),
        (16, 12, 1, 0x9080_5495_04e7_831d),
        (10, 9, 1, 0xad14_f437_2f8b_7900),
        (2, 1, 5, 0xaf63_bc4c_8601_b62c),
        (4, 3, 1, 0x683f_6c81_d63c_2181),
        (7, 6, 1, 0x64af_a333_725b_e61a),
    ] {
        let e = random_regular(n, d, &mut Seeds::new(seed).stream("topology"));
        assert_eq!(sum(&e), want, "n={n} d={d} seed={seed}");
    }
}

#[test]
fn repair_gives_up_when_no_switch_is_possible() {
    // Pairing the stubs of 9 nodes of degree 8 once (seed 0) leads the
    // repair into a state where no switch of its bad edge can work.
    let mut rng = Seeds::new(0).stream("topology");
    let mut stubs: Vec<u32> = (0..9).flat_map(|i| std::iter::repeat_n(i, 8)).collect();
    stubs.shuffle(&mut rng);
    let mut edges: Vec<(u32, u32)> = stubs.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    assert!(!repair(&mut edges, &mut rng));
    // A sparse one it fixes.
    let mut stubs: Vec<u32> = (0..50).flat_map(|i| std::iter::repeat_n(i, 6)).collect();
    stubs.shuffle(&mut rng);
    let mut edges: Vec<(u32, u32)> = stubs.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    assert!(repair(&mut edges, &mut rng));
    let mut e: Vec<(u32, u32)> = edges.iter().map(|&(a, b)| key(a, b)).collect();
    e.sort_unstable();
    assert_regular(50, 6, &e);
}

#[test]
fn regular_by_swaps_is_regular_and_mixed() {
    for n in 1..=30u32 {
        for d in 0..n {
            if (n * d) % 2 == 0 {
                let e = regular_by_swaps(n, d, &mut Seeds::new(u64::from(n)).stream("t"));
                assert_regular(n, d, &e);
            }
        }
    }
    // The swaps move it away from the ring lattice, differently per seed.
    let draw = |seed| regular_by_swaps(100, 5, &mut Seeds::new(seed).stream("t"));
    let lattice: BTreeSet<(u32, u32)> = (0..100)
        .flat_map(|a| {
            [
                key(a, (a + 1) % 100),
                key(a, (a + 2) % 100),
                key(a, (a + 50) % 100),
            ]
        })
        .collect();
    let (a, b) = (draw(1), draw(2));
    assert_regular(100, 5, &a);
    let kept = a.iter().filter(|e| lattice.contains(e)).count();
    assert!(kept < 100, "{kept} of 250 lattice edges kept");
    assert_ne!(a, b);
    // Dense: the complement of a mixed sparse one.
    let dense = regular_by_swaps(100, 95, &mut Seeds::new(1).stream("t"));
    assert_regular(100, 95, &dense);
}

#[test]
fn other_generators_survive_extreme_valid_values() {
    let rng = |s| Seeds::new(s).stream("topology");
    let simple = |n: u32, e: &[(u32, u32)]| {
        let set: BTreeSet<_> = e.iter().collect();
        assert_eq!(set.len(), e.len(), "repeated edge");
        assert!(e.iter().all(|&(a, b)| a < b && b < n), "{e:?}");
    };
    for n in [2u32, 3, 7, 60] {
        for m in [1, n / 2, n - 1].into_iter().filter(|&m| m >= 1) {
            let e = barabasi_albert(n, m, &mut rng(1));
            simple(n, &e);
            // A clique of m + 1, then m edges per further node.
            let m0 = u64::from(m + 1);
            assert_eq!(
                e.len() as u64,
                m0 * (m0 - 1) / 2 + (u64::from(n) - m0) * u64::from(m)
            );
        }
        for k in (2..n).step_by(2) {
            for beta in [0.0, 0.5, 1.0] {
                let e = watts_strogatz(n, k, beta, &mut rng(2));
                simple(n, &e);
                assert_eq!(e.len() as u32, n * (k / 2), "n={n} k={k} beta={beta}");
            }
        }
        simple(n, &erdos_renyi(n, 1.0, &mut rng(3)));
    }
    // Hubs: none, one, all peers; a hub degree of 0, of more than the hubs, odd x odd.
    let all: Vec<u32> = (0..9).collect();
    for hubs in [&[][..], &[4], &[0, 1, 2, 3, 4], &all[..]] {
        for hub_degree in [None, Some(0), Some(1), Some(3), Some(u32::MAX)] {
            for spokes in [1, 2, u32::MAX] {
                let e = hub_and_spoke(9, hubs, spokes, hub_degree, &mut rng(4));
                simple(9, &e);
            }
        }
    }
    // Hub degree close to the number of hubs: a dense random regular graph.
    let hubs: Vec<u32> = (0..40).collect();
    let e = hub_and_spoke(50, &hubs, 2, Some(38), &mut rng(5));
    simple(50, &e);
    let hub_edges = e.iter().filter(|&&(_, b)| b < 40).count();
    assert_eq!(hub_edges, 40 * 38 / 2);
}

#[test]
fn chain_is_connected_line() {
    let spec = TopologySpec {
        kind: TopologyKind::Chain,
        ..TopologySpec::default()
    };
    let g = build(&spec, 10, &[], &mut Seeds::new(1).stream("topology"));
    assert_eq!(g.edge_count(), 9);
    assert_eq!(components(&g), 1);
}
