//! Sweeps: identical results with any job count and when sharded and
//! merged; kill and resume; a panicking run is recorded with a command that
//! reproduces it; bad points, options and merges are refused (`meshsim
//! check` is in check.rs).

mod common;
use common::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};

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
