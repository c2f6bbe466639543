//! Small fixed results directories for the plot and report tests: a single
//! experiment with two seeds, and a 2-axis sweep (one axis zipped) x 3 seeds.
//! The numbers are made up but shaped like real output.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The `runs.csv` columns `meshsim run` writes.
pub(crate) const RUN_COLUMNS: &[&str] = &[
    "run_id",
    "experiment",
    "seed",
    "peers",
    "sim_seconds",
    "wall_seconds",
    "trace_hash",
    "messages_published",
    "deliveries",
    "deliveries_expected",
    "delivery_ratio",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p99",
    "latency_ms_max",
    "duplicates_per_delivery",
    "bytes_sent_per_peer",
    "mesh_degree_min",
    "mesh_degree_mean",
    "mesh_degree_max",
    "initial_components",
    "graft",
    "prune",
    "ihave",
    "iwant",
    "idontwant",
    "publish_errors",
    "events",
    "entropy_os_fallbacks",
];

/// A fresh empty directory under the system temp dir.
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("meshsim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A deterministic pseudo-random stream in [0, 1) (splitmix64).
fn unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// One run's numbers.
pub(crate) struct Run {
    pub(crate) run_id: String,
    pub(crate) seed: u64,
    /// `(column, value)` for swept parameters.
    pub(crate) params: Vec<(String, String)>,
    pub(crate) point_id: Option<String>,
    /// Mean link latency, which shapes all latencies of the run.
    pub(crate) base_ms: f64,
    pub(crate) delivery_ratio: f64,
    pub(crate) duplicates: f64,
}

fn write_runs(dir: &Path, experiment: &str, runs: &[Run]) {
    let mut s = String::new();
    let mut header: Vec<String> = RUN_COLUMNS.iter().map(|c| c.to_string()).collect();
    if let Some(r) = runs.first() {
        if r.point_id.is_some() {
            header.push("point_id".into());
        }
        header.extend(r.params.iter().map(|(k, _)| k.clone()));
    }
    writeln!(s, "{}", header.join(",")).unwrap();
    for r in runs {
        let b = r.base_ms;
        let mut row = vec![
            r.run_id.clone(),
            experiment.to_string(),
            r.seed.to_string(),
            "20".into(),
            "30".into(),
            "0.5".into(),
            format!("{:032x}", r.seed * 7919),
            "25".into(),
            ((475.0 * r.delivery_ratio).round()).to_string(),
            "475".into(),
            r.delivery_ratio.to_string(),
            format!("{:.1}", 2.0 * b),
            format!("{:.1}", 2.8 * b),
            format!("{:.1}", 3.3 * b),
            format!("{:.1}", 3.6 * b),
            r.duplicates.to_string(),
            format!("{:.0}", 30000.0 + 9000.0 * r.duplicates),
            "3".into(),
            "5.5".into(),
            "8".into(),
            "1".into(),
            "40".into(),
            "2".into(),
            "300".into(),
            "0".into(),
            "700".into(),
            "0".into(),
            "12345".into(),
            "0".into(),
        ];
        if let Some(p) = &r.point_id {
            row.push(p.clone());
        }
        row.extend(r.params.iter().map(|(_, v)| v.clone()));
        writeln!(s, "{}", row.join(",")).unwrap();
    }
    std::fs::write(dir.join("runs.csv"), s).unwrap();
}

fn write_deliveries(dir: &Path, runs: &[Run]) {
    let mut s = String::from("run_id,msg_seq,peer,published_s,delivered_s,latency_ms\n");
    for r in runs {
        let mut st = r.seed * 1000 + r.base_ms as u64;
        for msg in 0..25u32 {
            let published = 5.0 + msg as f64;
            for peer in 1..20u32 {
                let lat = r.base_ms * (1.0 + 2.6 * unit(&mut st));
                if unit(&mut st) < r.delivery_ratio {
                    writeln!(
                        s,
                        "{},{msg},{peer},{published:.3},{:.6},{lat:.3}",
                        r.run_id,
                        published + lat / 1000.0
                    )
                    .unwrap();
                } else {
                    writeln!(s, "{},{msg},{peer},{published:.3},,", r.run_id).unwrap();
                }
            }
        }
    }
    std::fs::write(dir.join("deliveries.csv"), s).unwrap();
}

/// The time-series metrics the fixtures write (one sample per second).
pub(crate) const TS_METRICS: &[&str] = &[
    "delivery_ratio",
    "latency_ms_p50",
    "latency_ms_p99",
    "mesh_degree_mean",
    "isolated_peers",
    "connections",
    "score_mean",
];

fn write_timeseries(dir: &Path, runs: &[Run]) {
    let mut s = String::from("run_id,t_s,metric,value\n");
    for r in runs {
        let mut st = r.seed;
        for t in 0..=30u32 {
            let t = t as f64;
            let warm = (t / 6.0).min(1.0);
            for m in TS_METRICS {
                let v = match *m {
                    "delivery_ratio" => r.delivery_ratio * warm,
                    "latency_ms_p50" => 2.0 * r.base_ms * (1.0 + 0.1 * unit(&mut st)),
                    "latency_ms_p99" => 3.3 * r.base_ms * (1.0 + 0.1 * unit(&mut st)),
                    "mesh_degree_mean" => 6.0 * warm,
                    "isolated_peers" => (20.0 * (1.0 - warm)).round(),
                    "connections" => 80.0,
                    _ => unit(&mut st),
                };
                if *m == "latency_ms_p50" && t < 5.0 {
                    // No deliveries yet: no sample.
                    writeln!(s, "{},{t},{m},", r.run_id).unwrap();
                    continue;
                }
                writeln!(s, "{},{t},{m},{v:.4}", r.run_id).unwrap();
            }
        }
    }
    std::fs::write(dir.join("timeseries.csv"), s).unwrap();
}

fn write_side_files(dir: &Path, experiment: &str) {
    std::fs::write(
        dir.join("experiment.toml"),
        format!(
            "name = \"{experiment}\"\nseed = 1\npeers = 20\nduration_s = 30.0\n\n[gossipsub]\nmesh_n = 6\n# <not a tag> & friends\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("meta.json"),
        "{\"meshsim_version\":\"0.1.0\",\"git_commit\":\"abc123\",\"seed\":1}",
    )
    .unwrap();
}

/// A single experiment, seeds 1 and 2: every optional file present.
pub(crate) fn single(name: &str) -> (PathBuf, Vec<Run>) {
    let dir = temp_dir(name);
    let runs: Vec<Run> = [1u64, 2]
        .iter()
        .map(|&seed| Run {
            run_id: format!("quick-s{seed}"),
            seed,
            params: Vec::new(),
            point_id: None,
            base_ms: 40.0 + 8.0 * seed as f64,
            delivery_ratio: 1.0 - 0.01 * seed as f64,
            duplicates: 3.5 + 0.2 * seed as f64,
        })
        .collect();
    write_runs(&dir, "quick", &runs);
    write_deliveries(&dir, &runs);
    write_timeseries(&dir, &runs);
    write_side_files(&dir, "quick");
    (dir, runs)
}

/// mesh_n values (zipped with mesh_n_low) and max_ms values of [`sweep`].
pub(crate) const MESH_N: [(u32, u32); 3] = [(4, 3), (6, 5), (8, 6)];
pub(crate) const MAX_MS: [u32; 2] = [80, 120];
pub(crate) const SEEDS: [u64; 3] = [1, 2, 3];

/// The delivery ratio of the sweep fixture for a point and seed.
pub(crate) fn sweep_delivery(mesh_n: u32, max_ms: u32, seed: u64) -> f64 {
    0.9 + 0.01 * mesh_n as f64 - 0.0005 * max_ms as f64 + 0.002 * seed as f64
}

/// A 3 x 2 sweep (mesh_n zipped with mesh_n_low; network.latency.max_ms) x 3 seeds.
pub(crate) fn sweep(name: &str) -> (PathBuf, Vec<Run>) {
    let dir = temp_dir(name);
    let mut runs = Vec::new();
    for (pi, (n, lo)) in MESH_N.iter().enumerate() {
        for (pj, max) in MAX_MS.iter().enumerate() {
            for seed in SEEDS {
                let point = format!("p{}", pi * MAX_MS.len() + pj);
                runs.push(Run {
                    run_id: format!("sweep-{point}-s{seed}"),
                    seed,
                    params: vec![
                        ("gossipsub.mesh_n".into(), n.to_string()),
                        ("gossipsub.mesh_n_low".into(), lo.to_string()),
                        ("network.latency.max_ms".into(), max.to_string()),
                    ],
                    point_id: Some(point),
                    base_ms: *max as f64 / 2.0 + seed as f64,
                    delivery_ratio: sweep_delivery(*n, *max, seed),
                    duplicates: 0.6 * *n as f64 + 0.1 * seed as f64,
                });
            }
        }
    }
    write_runs(&dir, "sweep", &runs);
    write_deliveries(&dir, &runs);
    write_timeseries(&dir, &runs);
    write_side_files(&dir, "sweep");
    (dir, runs)
}
