//! Cost table of a sync (ignored test; run it with
//! `cargo test --release -- --ignored --nocapture`, optionally with
//! `PROLLY_BENCH_N=1000,10000,100000`).

use std::time::Instant;

use super::{sync_in_memory, SyncConfig, Tree};

/// GossipLog-like key: a logical clock (u64 big-endian) then 8 hash bytes,
/// so newer entries cluster at the right edge of the tree.
fn key(i: u64) -> Vec<u8> {
    let mut k = i.to_be_bytes().to_vec();
    k.extend_from_slice(&blake3::hash(&i.to_le_bytes()).as_bytes()[..8]);
    k
}

/// A 100-byte message body.
fn value(i: u64) -> Vec<u8> {
    let mut v = blake3::hash(&i.to_be_bytes()).as_bytes().to_vec();
    v.resize(100, b'm');
    v
}

/// Deterministic PRNG (splitmix64).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `d` distinct indices in `0..n`, scattered uniformly.
fn scattered(n: u64, d: u64, seed: u64) -> Vec<u64> {
    let mut idx: Vec<u64> = (0..n).collect();
    let mut s = seed;
    for i in 0..d as usize {
        let j = i + (splitmix(&mut s) % (n - i as u64)) as usize;
        idx.swap(i, j);
    }
    idx.truncate(d as usize);
    idx
}

#[test]
#[ignore]
#[allow(clippy::disallowed_methods)] // wall time of a benchmark table, reporting only
fn sync_cost_table() {
    let ns: Vec<u64> = std::env::var("PROLLY_BENCH_N")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!(
        "| n | d | missing | height | round trips | GetChildren | GetValues | bytes sent | bytes received | payload bytes | ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for &n in &ns {
        let t0 = Instant::now();
        let mut inc = Tree::new();
        for i in 0..n {
            inc.insert(key(i), value(i));
        }
        let insert_ms = t0.elapsed().as_secs_f64() * 1e3;
        let server = Tree::from_entries((0..n).map(|i| (key(i), value(i))));
        assert_eq!(inc.root(), server.root());
        eprintln!("n={n}: {insert_ms:.0} ms for {n} incremental inserts");
        for d in [1u64, 10, 100, 1000] {
            if d > n {
                continue;
            }
            for layout in ["clustered", "scattered"] {
                let missing: Vec<u64> = match layout {
                    "clustered" => (n - d..n).collect(),
                    _ => scattered(n, d, n ^ d),
                };
                let mut lacks = vec![false; n as usize];
                for &i in &missing {
                    lacks[i as usize] = true;
                }
                let mut client = Tree::from_entries(
                    (0..n)
                        .filter(|&i| !lacks[i as usize])
                        .map(|i| (key(i), value(i))),
                );
                let t = Instant::now();
                let s = sync_in_memory(&mut client, &server, SyncConfig::default()).unwrap();
                let ms = t.elapsed().as_secs_f64() * 1e3;
                assert_eq!(client.root(), server.root());
                assert_eq!(s.entries_fetched, d);
                let payload: usize = missing.iter().map(|&i| key(i).len() + value(i).len()).sum();
                println!(
                    "| {n} | {d} | {layout} | {} | {} | {} | {} | {} | {} | {payload} | {ms:.1} |",
                    server.height(),
                    s.round_trips,
                    s.get_children,
                    s.get_values,
                    s.bytes_sent,
                    s.bytes_received,
                );
            }
        }
    }
}
