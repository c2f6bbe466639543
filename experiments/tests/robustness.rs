//! Regression tests for bad input that used to hang, abort or pass
//! silently (one test per case; the comment names what it used to do).
//! Every case goes through the binary: exit code 2 and a message naming
//! the key or file for bad input, never a panic; results never lost.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn meshsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .output()
        .expect("run meshsim")
}

/// `meshsim` in `sh` with the file size limited to `blocks` (of 512 or
/// 1024 bytes, as the shell counts) and SIGXFSZ ignored: a write past the
/// limit fails as on a full disk (EFBIG), without touching the machine's disk.
#[cfg(unix)]
fn meshsim_small_disk(blocks: u32, args: &[&str]) -> Output {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -f {blocks} && trap '' XFSZ && exec '{}' {}",
            env!("CARGO_BIN_EXE_meshsim"),
            quoted.join(" ")
        ))
        .output()
        .expect("run meshsim in sh")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("meshsim-robust-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "status {:?}: {}", o.status, stderr(o));
}

/// Exit code 2, no panic, and a message mentioning each of `must`.
fn input_error(o: &Output, must: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code 2 expected: {err}");
    assert!(!err.contains("panicked"), "no panic: {err}");
    for m in must {
        assert!(err.contains(m), "stderr should mention {m:?}: {err}");
    }
}

fn run_set(sets: &[&str]) -> Output {
    let mut args = vec!["run", "--no-write"];
    for x in sets {
        args.push("--set");
        args.push(x);
    }
    meshsim(&args)
}

/// A sweep of 2 points x 1 seed small enough for a debug build.
const SWEEP: &str = r#"
name = "r"
peers = 12
duration_s = 4.0
[network]
latency = { model = "uniform", min_ms = 20.0, max_ms = 80.0 }
[topology]
degree = 4
[gossipsub]
signing = "none"
heartbeat_initial_delay_ms = 500
[workload]
start_s = 1.0
rate_per_s = 2.0
message_bytes = 64
[sweep]
seeds = 1
[[sweep.axis]]
key = "gossipsub.heartbeat_interval_ms"
values = [500, 1000]
[check.metrics.delivery_ratio]
better = "higher"
"#;

fn sweep_into(dir: &Path, name: &str) -> PathBuf {
    let f = dir.join("r.toml");
    std::fs::write(&f, SWEEP).unwrap();
    let out = dir.join(name);
    ok(&meshsim(&["sweep", s(&f), "--out", s(&out)]));
    out
}

/// A copy of the shipped interop sample, `params.json` changed by `edit`.
fn interop_dir(name: &str, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop-sample");
    let d = tmp(name);
    for f in ["graph.gml", "params.json", "shadow.yaml"] {
        std::fs::copy(src.join(f), d.join(f)).unwrap();
    }
    let mut p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("params.json")).unwrap()).unwrap();
    edit(&mut p);
    std::fs::write(d.join("params.json"), p.to_string()).unwrap();
    d
}

/// Every instruction of type `ty` in a test-plans script, also those
/// wrapped in `ifNodeIDEquals`.
fn instructions<'a>(
    p: &'a mut serde_json::Value,
    ty: &'a str,
) -> impl Iterator<Item = &'a mut serde_json::Value> + 'a {
    p["script"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .map(|i| {
            if i["type"] == "ifNodeIDEquals" {
                &mut i["instruction"]
            } else {
                i
            }
        })
        .filter(move |i| i["type"] == ty)
}

fn interop(d: &Path) -> Output {
    meshsim(&["interop", s(d), "--out", s(&d.join("out")), "--no-plots"])
}

/// Kills a child still running after `limit_s` (a hang, not a slow run:
/// the limit is ~100x the time the case takes in a debug build). Wall time
/// around another process, never inside a simulation.
#[allow(clippy::disallowed_methods)]
fn within(limit_s: u64, mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed().as_secs() > limit_s {
            let _ = child.kill();
            panic!("still running after {limit_s} s: {cmd:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

// 1. A tiny message rate made the publish times overflow: a hang growing
// by ~120 MB/s. Now the run ends (no message falls in the run).
#[test]
fn a_vanishing_message_rate_ends() {
    let mut c = Command::new(env!("CARGO_BIN_EXE_meshsim"));
    c.args([
        "run",
        "--no-write",
        "--set",
        "peers=30",
        "--set",
        "duration_s=5",
        "--set",
        "workload.start_s=1",
        "--set",
        "workload.rate_per_s=1e-12",
    ]);
    let o = within(120, c);
    ok(&o);
}

// 2. A probe interval of i64::MAX ms overflowed into a hang.
#[test]
fn a_probe_interval_past_a_day_is_refused() {
    for v in ["9223372036854775807", "18446744073709", "100000000000000"] {
        let set = format!("probes.interval_ms={v}");
        input_error(
            &run_set(&["probes.count=4", &set]),
            &["probes.interval_ms", "86400000"],
        );
    }
    // A day is still accepted.
    let o = run_set(&[
        "peers=12",
        "topology.degree=4",
        "duration_s=2",
        "probes.count=2",
        "probes.interval_ms=86400000",
    ]);
    ok(&o);
}

// 3. A prune backoff of 10^12 ms aborted inside GossipSub (a 48 GB
// allocation of backoff slots); 10^9 took 1.4 GB for 30 peers.
#[test]
fn gossipsub_backoffs_past_a_day_are_refused() {
    for v in ["1000000000000", "1000000000"] {
        input_error(
            &run_set(&[&format!("gossipsub.prune_backoff_ms={v}")]),
            &["gossipsub.prune_backoff_ms"],
        );
    }
    let d = interop_dir("prune", |p| {
        for i in instructions(p, "initGossipSub") {
            i["gossipSubParams"]["PruneBackoff"] = serde_json::json!(u64::MAX);
        }
    });
    input_error(&interop(&d), &["initGossipSub", "prune_backoff_ms"]);
}

// 4. messageSizeBytes 2^40 aborted, 2^64-1 panicked (capacity overflow).
#[test]
fn interop_message_sizes_past_64_mib_are_refused() {
    for v in [1u64 << 40, u64::MAX] {
        let d = interop_dir(&format!("size{v}"), |p| {
            for i in instructions(p, "publish") {
                i["messageSizeBytes"] = serde_json::json!(v);
            }
        });
        input_error(&interop(&d), &["messageSizeBytes", "64 MiB"]);
    }
}

// 5. A GML nested 100,000 deep overflowed the stack (abort).
#[test]
fn a_deeply_nested_graph_is_refused() {
    let d = interop_dir("deep", |_| {});
    let deep = format!(
        "graph [\n{}{}]\n",
        "node [\n".repeat(100_000),
        "]\n".repeat(100_000)
    );
    std::fs::write(d.join("graph.gml"), deep).unwrap();
    input_error(&interop(&d), &["graph.gml", "nested"]);
}

// 6. 4,000 graph nodes with hosts on 3 took over 120 s: shortest paths were
// computed from every node. Now only from the hosts' nodes (a fraction of
// a second); the limit catches a return to all-pairs.
#[test]
fn a_large_graph_with_few_hosts_is_quick() {
    let d = interop_dir("big", |_| {});
    let n = 4000;
    let mut g = String::from("graph [\n  directed 1\n");
    for i in 0..n {
        g.push_str(&format!(
            "  node [\n    id {i}\n    label \"n{i}\"\n    host_bandwidth_up \"50 Mbit\"\n    host_bandwidth_down \"50 Mbit\"\n  ]\n"
        ));
    }
    for i in 0..n {
        for j in [i, (i + 1) % n, (i + 7) % n] {
            for (a, b) in [(i, j), (j, i)] {
                g.push_str(&format!(
                    "  edge [\n    source {a}\n    target {b}\n    latency \"3 ms\"\n    packet_loss 0.0\n  ]\n"
                ));
            }
        }
    }
    g.push_str("]\n");
    std::fs::write(d.join("graph.gml"), g).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_meshsim"));
    c.args(["interop", s(&d), "--out", s(&d.join("out")), "--no-plots"]);
    ok(&within(60, c));
}

// 7. A latency of 99999999999999999999 ms made the link faster (it wrapped
// when the two directions were averaged).
#[test]
fn an_absurd_graph_latency_is_refused() {
    let d = interop_dir("lat", |_| {});
    let g = std::fs::read_to_string(d.join("graph.gml")).unwrap();
    let g = g.replacen("latency \"2 ms\"", "latency \"99999999999999999999 ms\"", 1);
    std::fs::write(d.join("graph.gml"), g).unwrap();
    input_error(&interop(&d), &["graph.gml", "latency", "1000000 s"]);
}

// 8. An array where a table belongs was read by position.
#[test]
fn an_array_where_a_table_belongs_is_refused() {
    input_error(&run_set(&["workload=[2, 0.5]"]), &["`workload`", "table"]);
    input_error(&run_set(&["network=[]"]), &["`network`", "table"]);
}

// 9. hub_and_spoke without classes left every peer alone, exit 0.
#[test]
fn hub_and_spoke_without_classes_is_refused() {
    input_error(
        &run_set(&["peers=30", "topology.kind=\"hub_and_spoke\""]),
        &["topology.kind", "class"],
    );
}

// 10. merge of a shard whose series/ was missing or garbage, and
// `--resume` after a series file was deleted, exited 0 with rows lost.
#[test]
fn runs_with_lost_detail_files_are_not_finished() {
    let d = tmp("series");
    let out = sweep_into(&d, "s");
    let rows = |f: &str| {
        std::fs::read_to_string(out.join(f))
            .unwrap()
            .lines()
            .count()
    };
    let full = rows("timeseries.csv");
    let series = out.join("series").join("p0001-s000.timeseries.csv");
    let merged = d.join("m");
    // Garbage: the file is there but not what the run wrote.
    std::fs::write(&series, "garbage").unwrap();
    input_error(
        &meshsim(&["merge", "--out", s(&merged), s(&out)]),
        &["p0001-s000.timeseries.csv", "not a finished run"],
    );
    assert!(!merged.exists(), "nothing written");
    // Missing: the same.
    std::fs::remove_file(&series).unwrap();
    input_error(
        &meshsim(&["merge", "--out", s(&merged), s(&out)]),
        &["p0001-s000.timeseries.csv"],
    );
    // `--resume` runs it again, and the tables are whole.
    let f = d.join("r.toml");
    ok(&meshsim(&["sweep", s(&f), "--out", s(&out), "--resume"]));
    assert!(series.is_file());
    assert_eq!(rows("timeseries.csv"), full);
}

// 11. `merge --out shard0 shard0 shard1` overwrote an input.
#[test]
fn merge_into_an_input_or_a_file_is_refused() {
    let d = tmp("overlap");
    let out = sweep_into(&d, "s");
    let before = std::fs::read(out.join("runs.csv")).unwrap();
    input_error(
        &meshsim(&["merge", "--out", s(&out), s(&out)]),
        &["overlaps", s(&out)],
    );
    let inside = out.join("merged");
    input_error(
        &meshsim(&["merge", "--out", s(&inside), s(&out)]),
        &["overlaps"],
    );
    let file = d.join("r.toml");
    input_error(
        &meshsim(&["merge", "--out", s(&file), s(&out)]),
        &[s(&file), "is a file"],
    );
    assert_eq!(std::fs::read(out.join("runs.csv")).unwrap(), before);
    assert!(!inside.exists());
}

// 12. merge accepted a run JSON whose run_id was not its file name; a
// corrupt one exited 1 naming the copy in OUT and left OUT half-written.
#[test]
fn merge_names_a_renamed_or_corrupt_run_file() {
    let d = tmp("renamed");
    let out = sweep_into(&d, "s");
    let runs = out.join("runs");
    let a = runs.join("p0000-s000.json");
    let b = runs.join("p0001-s000.json");
    let keep = std::fs::read(&b).unwrap();
    std::fs::copy(&a, &b).unwrap();
    let merged = d.join("m");
    input_error(
        &meshsim(&["merge", "--out", s(&merged), s(&out)]),
        &["p0001-s000.json", "holds run p0000-s000"],
    );
    std::fs::write(&b, &keep[..keep.len() / 2]).unwrap();
    input_error(&meshsim(&["merge", "--out", s(&merged), s(&out)]), &[s(&b)]);
    assert!(!merged.exists(), "nothing written");
    // A truncated JSON is no finished run: --resume computes it again.
    ok(&meshsim(&[
        "sweep",
        s(&d.join("r.toml")),
        "--out",
        s(&out),
        "--resume",
    ]));
    let hash = |b: &[u8]| {
        let v: serde_json::Value = serde_json::from_slice(b).unwrap();
        (v["run_id"].clone(), v["summary"]["trace_hash"].clone())
    };
    assert_eq!(hash(&std::fs::read(&b).unwrap()), hash(&keep));
}

// 13. `--trace` on a full disk exited 0 with an empty or cut file.
#[cfg(unix)]
#[test]
fn a_full_disk_fails_naming_the_file_and_leaves_no_cut_file() {
    let d = tmp("disk");
    let trace = d.join("t.jsonl");
    let o = meshsim_small_disk(
        20,
        &["run", "--trace", s(&trace), "--out", s(&d.join("out"))],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("t.jsonl") && !err.contains("panicked"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("t.jsonl"))
        .collect();
    assert!(left.is_empty(), "no trace, whole or cut: {left:?}");
    // A sweep: the runs whose files could not be written are not recorded
    // as finished; `--resume` on a disk with room completes the sweep.
    let f = d.join("r.toml");
    std::fs::write(&f, SWEEP).unwrap();
    let out = d.join("s");
    let o = meshsim_small_disk(2, &["sweep", s(&f), "--out", s(&out)]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("series") && err.contains("--resume"), "{err}");
    ok(&meshsim(&["sweep", s(&f), "--out", s(&out), "--resume"]));
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 3);
}

// Temporary files of a killed writer are removed by the next sweep.
#[test]
fn a_sweep_removes_stale_temporary_files() {
    let d = tmp("stale");
    let out = sweep_into(&d, "s");
    // No process has pid 4194304 or more (Linux's maximum pid is 2^22).
    let stale = out.join("runs").join(".p0000-s000.json.tmp-4194399");
    std::fs::write(&stale, "{").unwrap();
    ok(&meshsim(&[
        "sweep",
        s(&d.join("r.toml")),
        "--out",
        s(&out),
        "--resume",
    ]));
    if Path::new("/proc/self").exists() {
        assert!(!stale.exists());
    }
}

// Errors name the nested key, the sweep entry without a stray dot, the
// heartbeat (not the memory limit), and print long values short.
#[test]
fn errors_name_the_exact_key_and_print_long_values_short() {
    input_error(
        &run_set(&["network.latency={model=\"uniform\", min_ms=\"x\", max_ms=3}"]),
        &["network.latency.min_ms"],
    );
    let o = run_set(&["sweep=[1, 2]"]);
    input_error(&o, &["`sweep`"]);
    assert!(!stderr(&o).contains("sweep.["), "{}", stderr(&o));
    let o = run_set(&["gossipsub.heartbeat_interval_ms=1000000000000"]);
    input_error(&o, &["gossipsub.heartbeat_interval_ms"]);
    assert!(!stderr(&o).contains("max_memory"), "{}", stderr(&o));
    let o = run_set(&["duration_s=1e300"]);
    input_error(&o, &["duration_s", "1e300"]);
    assert!(stderr(&o).len() < 500, "{}", stderr(&o));
    // A 1 MB value in a file (too long for a command line).
    let d = tmp("long");
    let f = d.join("long.toml");
    std::fs::write(&f, format!("peers = \"{}\"\n", "x".repeat(1 << 20))).unwrap();
    let o = meshsim(&["run", s(&f), "--no-write"]);
    input_error(&o, &["peers"]);
    assert!(stderr(&o).len() < 2000, "{} bytes", stderr(&o).len());
}

// `check --markdown` to a path that cannot be written failed only after
// every run; `plot` of a corrupt timeseries.csv exited 1, not 2.
#[test]
fn output_paths_are_checked_first_and_corrupt_tables_are_bad_input() {
    let d = tmp("paths");
    let f = d.join("r.toml");
    std::fs::write(&f, SWEEP).unwrap();
    let blocker = d.join("afile");
    std::fs::write(&blocker, "").unwrap();
    let md = blocker.join("x.md");
    let out = d.join("c");
    let o = meshsim(&[
        "check",
        s(&f),
        "--baseline",
        s(&d.join("b.csv")),
        "--update",
        "--markdown",
        s(&md),
        "--out",
        s(&out),
    ]);
    input_error(&o, &["--markdown", s(&md)]);
    assert!(!out.join("runs").exists(), "refused before any run");
    let res = sweep_into(&d, "s");
    std::fs::write(res.join("timeseries.csv"), "run_id,t_s\nx,notanumber,3\n").unwrap();
    input_error(&meshsim(&["plot", s(&res)]), &["timeseries.csv"]);
}
