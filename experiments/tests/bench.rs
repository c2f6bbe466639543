//! `meshsim bench`: every case at each partition count and under each
//! transport model, each in its own process; options that do not go
//! together are refused.

mod common;
use common::{input_error, meshsim};

/// `meshsim bench` of 16 unsigned peers for 3 simulated seconds with
/// `extra` options: one JSON row per case; the bench must succeed.
fn bench_rows(extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec![
        "bench",
        "--peers",
        "16",
        "--signing",
        "none",
        "--seconds",
        "3",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = meshsim(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `meshsim bench --transport ideal,tcp` runs each case under each model:
/// the two give different runs (once the experiment default became `tcp`,
/// `--transport ideal` ran `tcp` as well), and `tcp` has the ends of its
/// rounds as extra events.
#[test]
fn bench_runs_each_transport_model() {
    let rows = bench_rows(&["--transport", "ideal,tcp"]);
    let models: Vec<&str> = rows
        .iter()
        .map(|r| r["transport"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["ideal", "tcp"]);
    assert_ne!(rows[0]["trace_hash"], rows[1]["trace_hash"]);
    assert!(rows[0]["events"].as_u64() < rows[1]["events"].as_u64());
}

/// `meshsim bench --partitions 1,2` runs every case at each partition count,
/// each in its own process.
#[test]
fn bench_runs_each_case_at_every_partition_count() {
    let rows = bench_rows(&["--partitions", "1,2"]);
    let parts: Vec<u64> = rows
        .iter()
        .map(|r| r["partitions"].as_u64().unwrap())
        .collect();
    assert_eq!(parts, [1, 2]);
    assert!(rows
        .iter()
        .all(|r| r["peers"] == 16 && r["events"].as_u64() > Some(0)));
    let out = meshsim(&["bench", "--peers", "16", "--partitions", "2,17"]);
    input_error(&out, &["--partitions 17"]);
}

#[test]
fn bench_options_that_do_not_go_together_exit_2() {
    for (args, names) in [
        (&["bench", "--sweep", "--no-memo"][..], "--no-memo"),
        (
            &["bench", "--sweep", "--components", "2"][..],
            "--components",
        ),
        (
            &["bench", "--peers", "100", "--components", "3"][..],
            "--components 3",
        ),
        (
            &["bench", "--peers", "100", "--partitions", "0"][..],
            "--partitions 0",
        ),
        (
            &["bench", "--sweep", "--partitions", "2"][..],
            "--partitions",
        ),
    ] {
        input_error(&meshsim(args), &[names]);
    }
}
