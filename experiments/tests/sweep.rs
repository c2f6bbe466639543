//! Sweeps: identical results with any job count and when sharded and
//! merged; kill and resume; a panicking run is recorded with a command that
//! reproduces it; `meshsim check` passes, fails on a regression, rejects a
//! malformed baseline.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn meshsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .output()
        .expect("run meshsim")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("meshsim-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const SWEEP: &str = r#"
name = "t"
peers = 12
duration_s = 6.0
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
seeds = 3
[[sweep.axis]]
key = "gossipsub.heartbeat_interval_ms"
values = [500, 1000]
[[sweep.axis]]
key = "network.latency.max_ms"
range = { start = 40.0, stop = 80.0, step = 40.0 }
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "status {:?}\nstdout {}\nstderr {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn jobs_and_shards_give_identical_results() {
    let d = tmp("jobs");
    let f = write(&d, "s.toml", SWEEP);
    let out = |n: &str| d.join(n).to_str().unwrap().to_string();
    ok(&meshsim(&["sweep", &f, "--jobs", "1", "--out", &out("j1")]));
    ok(&meshsim(&["sweep", &f, "--jobs", "2", "--out", &out("j2")]));
    for i in 0..3 {
        ok(&meshsim(&[
            "sweep",
            &f,
            "--jobs",
            "2",
            "--shard",
            &format!("{i}/3"),
            "--out",
            &out(&format!("sh{i}")),
        ]));
    }
    ok(&meshsim(&[
        "merge",
        "--out",
        &out("merged"),
        &out("sh0"),
        &out("sh1"),
        &out("sh2"),
    ]));
    let a = read(d.join("j1/runs.csv"));
    assert_eq!(a.lines().count(), 1 + 2 * 2 * 3, "header + 12 runs");
    assert!(a
        .lines()
        .next()
        .unwrap()
        .starts_with("run_id,point_id,gossipsub.heartbeat_interval_ms,network.latency.max_ms,"));
    for other in ["j2", "merged"] {
        assert_eq!(a, read(d.join(other).join("runs.csv")), "{other}/runs.csv");
        assert_eq!(
            read(d.join("j1/timeseries.csv")),
            read(d.join(other).join("timeseries.csv"))
        );
    }
    // Common random numbers: run k of every point has the same seed.
    let seeds: Vec<&str> = a
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(6).unwrap())
        .collect();
    assert_eq!(&seeds[..3], &seeds[3..6]);
}

#[test]
fn killed_sweep_resumes_without_recomputing() {
    let d = tmp("kill");
    let slow = SWEEP
        .replace("peers = 12", "peers = 40")
        .replace("degree = 4", "degree = 8")
        .replace("duration_s = 6.0", "duration_s = 15.0");
    let f = write(&d, "s.toml", &slow);
    let reference = d.join("ref");
    ok(&meshsim(&[
        "sweep",
        &f,
        "--jobs",
        "2",
        "--out",
        reference.to_str().unwrap(),
    ]));
    let out = d.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(["sweep", &f, "--jobs", "1", "--out", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let runs = out.join("runs");
    // Finished runs: `<run_id>.json` (not the temporary file of a run being written).
    let finished_files = || -> Vec<PathBuf> {
        std::fs::read_dir(&runs)
            .map(|r| {
                r.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let count = || finished_files().len();
    // Wait (bounded) until a few runs are finished, then SIGKILL.
    let mut waited = 0;
    while count() < 3 && waited < 6000 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        waited += 1;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let finished: Vec<(PathBuf, std::time::SystemTime, Vec<u8>)> = finished_files()
        .into_iter()
        .map(|p| {
            (
                p.clone(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    assert!(
        finished.len() >= 3 && finished.len() < 12,
        "killed mid-way: {} finished",
        finished.len()
    );
    for (p, _, b) in &finished {
        serde_json::from_slice::<serde_json::Value>(b)
            .unwrap_or_else(|e| panic!("{} is whole: {e}", p.display()));
    }
    let o = meshsim(&[
        "sweep",
        &f,
        "--jobs",
        "2",
        "--resume",
        "--out",
        out.to_str().unwrap(),
    ]);
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{} already finished", finished.len())),
        "{err}"
    );
    for (p, mtime, bytes) in &finished {
        assert_eq!(
            &std::fs::read(p).unwrap(),
            bytes,
            "{} untouched",
            p.display()
        );
        assert_eq!(
            &std::fs::metadata(p).unwrap().modified().unwrap(),
            mtime,
            "{} not rewritten",
            p.display()
        );
    }
    assert_eq!(read(out.join("runs.csv")), read(reference.join("runs.csv")));
}

#[test]
fn a_panicking_run_is_recorded_with_a_reproduction_command() {
    let d = tmp("panic");
    let text = format!(
        "{}\n[[sweep.axis]]\nkey = \"limits.panic_at_s\"\nvalues = [100.0, 2.5]\n",
        SWEEP
            .replace("seeds = 3", "seeds = 1")
            .replace("values = [500, 1000]", "values = [500]")
    );
    let f = write(&d, "p.toml", &text);
    let out = d.join("out");
    let o = meshsim(&["sweep", &f, "--jobs", "2", "--out", out.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a failed run makes the sweep exit 1"
    );
    let runs = read(out.join("runs.csv"));
    assert_eq!(runs.lines().count(), 1 + 2, "the other runs finished");
    let failures = read(out.join("failures.csv"));
    let mut rdr = csv::Reader::from_reader(failures.as_bytes());
    let head = rdr.headers().unwrap().clone();
    let col = |name: &str| {
        head.iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} in {head:?}"))
    };
    let recs: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), 2, "one failure per seed x latency point");
    // The swept parameters have their runs.csv columns here too.
    assert_eq!(&recs[0][col("limits.panic_at_s")], "2.5");
    let (error, cmd) = (&recs[0][col("error")], &recs[0][col("reproduce")]);
    assert!(error.contains("test fault hook"), "{error}");
    assert!(
        cmd.starts_with("meshsim run ")
            && cmd.contains("--seed ")
            && cmd.contains("limits.panic_at_s=2.5"),
        "{cmd}"
    );
    // The command reproduces the panic.
    let args: Vec<String> = cmd
        .split_whitespace()
        .skip(1)
        .map(|a| a.trim_matches('\'').to_string())
        .chain(["--no-write".to_string()])
        .collect();
    let again = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("test fault hook"));
    // The report lists the failed runs (they have no metrics, so no point
    // of its summary would show them).
    let p = meshsim(&["plot", out.to_str().unwrap()]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let html = read(out.join("report.html"));
    assert!(html.contains("2 failed runs"), "facts line");
    assert!(html.contains("Failed runs (failures.csv)") && html.contains("test fault hook"));
}

const CHECKED: &str = r#"
name = "c"
peers = 40
duration_s = 14.0
[topology]
degree = 12
[gossipsub]
signing = "none"
heartbeat_initial_delay_ms = 500
mesh_n_low = 5
[workload]
start_s = 1.0
rate_per_s = 2.0
message_bytes = 64
[measure]
sample_interval_ms = 250
# 15 of 40 peers crash for good: their neighbours fall below D_lo and
# repair their meshes at the next heartbeat.
[[timeline]]
action = "offline"
at_s = 4.0
count = 15
[sweep]
seeds = 2
[[sweep.axis]]
key = "gossipsub.mesh_n"
values = [6, 8]
[check.metrics.delivery_ratio]
better = "higher"
[check.metrics.convergence_s]
better = "lower"
rel = 0.05
"#;

#[test]
fn check_passes_on_its_baseline_fails_on_regression_and_rejects_bad_baselines() {
    let d = tmp("check");
    let f = write(&d, "c.toml", CHECKED);
    let base = d.join("base.csv");
    let b = base.to_str().unwrap();
    let out = d.join("out");
    let o = out.to_str().unwrap();
    ok(&meshsim(&[
        "check",
        &f,
        "--baseline",
        b,
        "--update",
        "--out",
        o,
    ]));
    let same = meshsim(&[
        "check",
        &f,
        "--baseline",
        b,
        "--out",
        o,
        "--markdown",
        d.join("c.md").to_str().unwrap(),
    ]);
    ok(&same);
    assert!(String::from_utf8_lossy(&same.stdout).contains("reproduces the baseline exactly"));
    assert!(read(d.join("c.md")).contains("| point | metric | baseline | now | change | verdict |"));
    // A slower heartbeat makes the meshes recover later after the churn burst: a regression.
    let slow = meshsim(&[
        "check",
        &f,
        "--baseline",
        b,
        "--out",
        o,
        "--set",
        "gossipsub.heartbeat_interval_ms=4000",
    ]);
    assert_eq!(
        slow.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&slow.stdout)
    );
    let table = String::from_utf8_lossy(&slow.stdout);
    assert!(
        table.contains("convergence_s") && table.contains("REGRESSION"),
        "{table}"
    );
    // Malformed baselines are bad input.
    for bad in [
        "nonsense\n1,2\n",
        "point,metric,value\np,delivery_ratio,abc\n",
        "",
    ] {
        let p = write(&d, "bad.csv", bad);
        let o2 = meshsim(&["check", &f, "--baseline", &p, "--out", o]);
        assert_eq!(
            o2.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&o2.stderr)
        );
        assert!(String::from_utf8_lossy(&o2.stderr).contains("baseline"));
    }
}

#[test]
fn invalid_sweep_points_are_reported_before_anything_runs() {
    let d = tmp("invalid");
    let text = SWEEP.replace(
        "key = \"gossipsub.heartbeat_interval_ms\"\nvalues = [500, 1000]",
        "key = \"gossipsub.mesh_n_low\"\nvalues = [2, 9]",
    );
    let f = write(&d, "i.toml", &text);
    let out = d.join("out");
    let o = meshsim(&["sweep", &f, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("gossipsub.mesh_n_low=9") && err.contains("skip_invalid"),
        "{err}"
    );
    assert!(!out.join("runs").exists(), "nothing ran");
    let skip = write(
        &d,
        "k.toml",
        &text.replace("seeds = 3", "seeds = 3\nskip_invalid = true"),
    );
    let o = meshsim(&["sweep", &skip, "--out", out.to_str().unwrap()]);
    ok(&o);
    assert_eq!(read(out.join("runs.csv")).lines().count(), 1 + 2 * 3);
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit code 2, no panic, and a message mentioning each of `must`.
fn input_error(o: &Output, must: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code 2 expected: {err}");
    assert!(!err.contains("panicked"), "no panic: {err}");
    for s in must {
        assert!(err.contains(s), "stderr should mention {s:?}: {err}");
    }
}

/// One point, one seed, checking `delivery_recovered_s` (-1: never): the
/// sweep's experiment without its `[sweep]` section.
fn recovery() -> String {
    let experiment = &SWEEP[..SWEEP.find("[sweep]").expect("a [sweep] section")];
    format!(
        "{}[check.metrics.delivery_recovered_s]\nbetter = \"lower\"\n\
         [check.metrics.convergence_s]\nbetter = \"lower\"\n",
        experiment.replace("name = \"t\"", "name = \"r\"")
    )
}

/// The same with a partition from 3 s to past the end: the last messages
/// never reach everyone (`delivery_recovered_s` = -1).
fn partitioned() -> String {
    format!(
        "{}\n[[timeline]]\naction = \"partition\"\nat_s = 3.0\nduration_s = 100.0\nshare = 0.5\n",
        recovery()
    )
}

#[test]
fn check_treats_never_as_worse_than_any_time() {
    let d = tmp("never");
    let healthy = write(&d, "h.toml", &recovery());
    let cut = write(&d, "p.toml", &partitioned());
    let out = d.join("out");
    let o = out.to_str().unwrap();
    let base = d.join("base.csv");
    let b = base.to_str().unwrap();
    ok(&meshsim(&[
        "check",
        &healthy,
        "--baseline",
        b,
        "--update",
        "--out",
        o,
    ]));
    // Recovered at 1 s in the baseline, never now: a regression.
    let worse = meshsim(&["check", &cut, "--baseline", b, "--out", o]);
    let table = stdout(&worse);
    assert_eq!(worse.status.code(), Some(1), "{table}{}", stderr(&worse));
    let line = table
        .lines()
        .find(|l| l.contains("delivery_recovered_s"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains("never") && line.contains("REGRESSION"),
        "{line}"
    );
    assert!(!line.contains("-1") && !line.contains('%'), "{line}");
    // Never in the baseline, recovered now: an improvement.
    ok(&meshsim(&[
        "check",
        &cut,
        "--baseline",
        b,
        "--update",
        "--out",
        o,
    ]));
    assert!(read(base.clone()).contains("delivery_recovered_s,never"));
    let better = meshsim(&["check", &healthy, "--baseline", b, "--out", o]);
    ok(&better);
    let table = stdout(&better);
    let line = table
        .lines()
        .find(|l| l.contains("delivery_recovered_s"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains("never") && line.contains("improved"),
        "{line}"
    );
    // Never in both: the same.
    let same = meshsim(&["check", &cut, "--baseline", b, "--out", o]);
    ok(&same);
    assert!(
        stdout(&same).contains("reproduces the baseline exactly"),
        "{}",
        stdout(&same)
    );
    // A baseline written before "never" was a word (-1) still means never.
    std::fs::write(
        &base,
        read(base.clone()).replace("delivery_recovered_s,never", "delivery_recovered_s,-1"),
    )
    .unwrap();
    ok(&meshsim(&["check", &cut, "--baseline", b, "--out", o]));
}

#[test]
fn check_reports_missing_baselines_gone_points_and_new_points_apart() {
    let d = tmp("gone");
    let two = SWEEP.replace("seeds = 3", "seeds = 1").replace(
        "range = { start = 40.0, stop = 80.0, step = 40.0 }",
        "values = [80.0]",
    ) + "[check.metrics.delivery_ratio]\nbetter = \"higher\"\n";
    let one = two.replace("values = [500, 1000]", "values = [500]");
    let two = write(&d, "two.toml", &two);
    let one = write(&d, "one.toml", &one);
    let out = d.join("out");
    let o = out.to_str().unwrap();
    let base = d.join("base.csv");
    let b = base.to_str().unwrap();
    // No baseline yet, no --update: the message is about the baseline.
    let missing = meshsim(&["check", &two, "--baseline", b, "--out", o]);
    input_error(&missing, &[b, "baseline", "--update"]);
    assert!(
        !stderr(&missing).contains("experiment file"),
        "{}",
        stderr(&missing)
    );
    ok(&meshsim(&[
        "check",
        &two,
        "--baseline",
        b,
        "--update",
        "--out",
        o,
    ]));
    // A point of the baseline is no longer swept: reported, and a failure.
    let fewer = meshsim(&["check", &one, "--baseline", b, "--out", o]);
    let text = stdout(&fewer);
    assert_eq!(fewer.status.code(), Some(1), "{text}");
    assert!(
        text.contains("gossipsub.heartbeat_interval_ms=1000,network.latency.max_ms=80.0")
            && text.contains("not in the sweep"),
        "{text}"
    );
    assert!(!text.contains("regressed"), "{text}");
    // A new point is not in the baseline: said so, not counted as a regression.
    ok(&meshsim(&[
        "check",
        &one,
        "--baseline",
        b,
        "--update",
        "--out",
        o,
    ]));
    let more = meshsim(&["check", &two, "--baseline", b, "--out", o]);
    let text = stdout(&more);
    assert_eq!(more.status.code(), Some(1), "{text}");
    assert!(text.contains("NOT IN BASELINE"), "{text}");
    assert!(!text.contains("regressed"), "{text}");
    assert!(text.contains("1 value(s) not in the baseline"), "{text}");
}

#[test]
fn set_on_a_swept_key_is_refused() {
    let d = tmp("setswept");
    let f = write(
        &d,
        "s.toml",
        &format!("{SWEEP}[check.metrics.delivery_ratio]\nbetter = \"higher\"\n"),
    );
    let out = d.join("out");
    let o = out.to_str().unwrap();
    for cmd in [
        vec!["sweep", &f, "--out", o],
        vec![
            "check",
            &f,
            "--baseline",
            "/nonexistent.csv",
            "--update",
            "--out",
            o,
        ],
    ] {
        let mut args = cmd.clone();
        args.extend(["--set", "gossipsub.heartbeat_interval_ms=700"]);
        input_error(
            &meshsim(&args),
            &["gossipsub.heartbeat_interval_ms=700", "swept", "[sweep]"],
        );
        // A key inside a swept table too.
        let mut args = cmd.clone();
        args.extend([
            "--set",
            "network.latency={model=\"uniform\",min_ms=1.0,max_ms=9.0}",
        ]);
        input_error(&meshsim(&args), &["network.latency.max_ms", "swept"]);
    }
    assert!(!out.join("runs").exists(), "nothing ran");
}

#[test]
fn resume_refuses_results_of_another_configuration() {
    let d = tmp("resume-other");
    let small = SWEEP.replace("seeds = 3", "seeds = 1");
    let f = write(&d, "s.toml", &small);
    let out = d.join("out");
    let o = out.to_str().unwrap();
    ok(&meshsim(&["sweep", &f, "--out", o]));
    let before = read(out.join("runs.csv"));
    let other = meshsim(&["sweep", &f, "--resume", "--set", "peers=14", "--out", o]);
    input_error(&other, &["--resume", o, "different experiment", "--out"]);
    assert_eq!(read(out.join("runs.csv")), before, "nothing rewritten");
    assert!(read(out.join("experiment.toml")).contains("peers = 12"));
    // Without --resume a different experiment replaces every old result,
    // also those of points it does not have.
    let fewer = write(
        &d,
        "f.toml",
        &small.replace("values = [500, 1000]", "values = [500]"),
    );
    ok(&meshsim(&["sweep", &fewer, "--out", o]));
    assert_eq!(read(out.join("runs.csv")).lines().count(), 1 + 2);
    assert_eq!(std::fs::read_dir(out.join("runs")).unwrap().count(), 2);
}

#[test]
fn merge_refuses_duplicated_and_missing_shards() {
    let d = tmp("merge-bad");
    let f = write(&d, "s.toml", &SWEEP.replace("seeds = 3", "seeds = 1"));
    let out = |n: &str| d.join(n).to_str().unwrap().to_string();
    for i in 0..2 {
        ok(&meshsim(&[
            "sweep",
            &f,
            "--shard",
            &format!("{i}/2"),
            "--out",
            &out(&format!("sh{i}")),
        ]));
    }
    let twice = meshsim(&["merge", "--out", &out("m1"), &out("sh0"), &out("sh0")]);
    input_error(&twice, &[&out("sh0"), "twice"]);
    let missing = meshsim(&["merge", "--out", &out("m2"), &out("sh0")]);
    input_error(&missing, &["2 of the sweep's 4 runs", "missing"]);
    // A copy of a shard under another name holds the same runs.
    let copy = d.join("copy");
    for sub in ["runs", "series"] {
        std::fs::create_dir_all(copy.join(sub)).unwrap();
        for e in std::fs::read_dir(d.join("sh0").join(sub)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), copy.join(sub).join(e.file_name())).unwrap();
        }
    }
    std::fs::copy(d.join("sh0/experiment.toml"), copy.join("experiment.toml")).unwrap();
    let overlap = meshsim(&[
        "merge",
        "--out",
        &out("m3"),
        &out("sh0"),
        &out("sh1"),
        copy.to_str().unwrap(),
    ]);
    input_error(&overlap, &["p0000-s000", "both"]);
    for m in ["m1", "m2", "m3"] {
        assert!(!d.join(m).exists(), "{m}: nothing written");
    }
    ok(&meshsim(&[
        "merge",
        "--out",
        &out("m4"),
        &out("sh0"),
        &out("sh1"),
    ]));
}

#[test]
fn bad_jobs_shard_and_out_options_exit_2() {
    let d = tmp("opts");
    let f = write(&d, "s.toml", &SWEEP.replace("seeds = 3", "seeds = 1"));
    let o = d.join("out");
    let o = o.to_str().unwrap();
    input_error(
        &meshsim(&["sweep", &f, "--jobs", "0", "--out", o]),
        &["--jobs", "0"],
    );
    input_error(
        &meshsim(&[
            "check",
            &f,
            "--baseline",
            "b.csv",
            "--jobs",
            "0",
            "--out",
            o,
        ]),
        &["--jobs", "0"],
    );
    for bad in ["3/2", "0/0", "abc", "2/2"] {
        let e = meshsim(&["sweep", &f, "--shard", bad, "--out", o]);
        input_error(&e, &[&format!("--shard {bad}"), "0 <= I < N"]);
        assert!(!stderr(&e).contains("--set"), "{}", stderr(&e));
    }
    let file = write(&d, "a-file", "x");
    let e = meshsim(&["sweep", &f, "--out", &file]);
    input_error(&e, &["--out", &file, "not a directory"]);
    let c = format!("{SWEEP}[check.metrics.delivery_ratio]\nbetter = \"higher\"\n");
    let c = write(&d, "c.toml", &c);
    let e = meshsim(&[
        "check",
        &c,
        "--baseline",
        "b.csv",
        "--update",
        "--out",
        &file,
    ]);
    input_error(&e, &["--out", &file, "not a directory"]);
}
