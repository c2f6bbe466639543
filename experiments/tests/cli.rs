//! The `meshsim` binary: bad input gets exit code 2 and a message naming the
//! key; the same seed gives the same trace hash in separate processes.

mod common;
use common::{input_error, meshsim};
use std::path::PathBuf;
use std::process::Command;

/// Runs meshsim with `args` (which print one JSON object) and parses it;
/// the run must succeed.
fn meshsim_json(args: &[&str]) -> serde_json::Value {
    let out = meshsim(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meshsim-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_experiment_files_give_clear_errors_and_exit_2() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "wrong_type.toml",
            "peers = \"many\"\n",
            &["wrong_type.toml", "`peers`", "many", "a whole number"],
        ),
        (
            "unknown_key.toml",
            "[gossipsub]\nmesh_size = 4\n",
            &[
                "unknown_key.toml",
                "gossipsub",
                "mesh_size",
                "expected one of",
            ],
        ),
        (
            "negative.toml",
            "peers = -5\n",
            &["negative.toml", "`peers`", "-5"],
        ),
        (
            "mesh_low.toml",
            "[gossipsub]\nmesh_n = 6\nmesh_n_low = 8\n",
            &[
                "mesh_low.toml",
                "gossipsub.mesh_n_low",
                "8",
                "at most mesh_n (6)",
            ],
        ),
        (
            "zero_peers.toml",
            "peers = 0\n",
            &["zero_peers.toml", "`peers` = 0", "from 1 to"],
        ),
        (
            "syntax.toml",
            "peers = [\n",
            &["syntax.toml", "not valid TOML"],
        ),
        (
            "latency.toml",
            "[network]\nlatency = { model = \"uniform\", min_ms = 80.0, max_ms = 20.0 }\n",
            &["network.latency.max_ms", "20", "min_ms"],
        ),
        (
            "model.toml",
            "[network]\nlatency = { model = \"gaussian\", ms = 3.0 }\n",
            &["network.latency", "gaussian", "constant", "uniform"],
        ),
    ];
    let network_cases: &[(&str, &str, &[&str])] = &[
        (
            "neg_latency.toml",
            "[network]\nlatency = { model = \"constant\", ms = -5.0 }\n",
            &["network.latency.ms", "-5", ">= 0"],
        ),
        (
            "zero_bw.toml",
            "[[class]]\nname = \"a\"\nshare = 1.0\nupload_mbps = 0.0\n",
            &["class[0].upload_mbps", "0", "> 0"],
        ),
        (
            "region.toml",
            "[network]\nregions = { model = \"builtin\" }\n[[class]]\nname = \"a\"\nshare = 1.0\nregion = \"mars\"\n",
            &["class[0].region", "mars", "europe"],
        ),
        (
            "shares.toml",
            "[[class]]\nname = \"a\"\nshare = 0.5\n[[class]]\nname = \"b\"\nshare = 0.3\n",
            &["share", "0.8", "sum to 1"],
        ),
        (
            "partition_peers.toml",
            "peers = 20\n[[timeline]]\naction = \"partition\"\nat_s = 5.0\ngroup = [1, 2, 99]\n",
            &["timeline[0].group[2]", "99"],
        ),
        (
            "link_class.toml",
            "[[class]]\nname = \"a\"\nshare = 1.0\n[[link]]\nclasses = [\"a\", \"b\"]\nlatency = { model = \"constant\", ms = 5.0 }\n",
            &["link[0].classes[1]", "\"b\""],
        ),
        (
            "churn.toml",
            "[churn]\nshare = 0.5\n",
            &["churn.session", "offline"],
        ),
        (
            "dialer.toml",
            "[dialer]\nenabled = true\nmin_peers = 10\nmax_peers = 5\n",
            &["dialer.min_peers", "10", "max_peers (5)"],
        ),
    ];
    for (name, text, needles) in cases.iter().chain(network_cases) {
        let f = temp_file(name, text);
        let out = meshsim(&["run", f.to_str().unwrap(), "--no-write"]);
        input_error(&out, needles);
    }
}

/// `--trace` lists every publish, first delivery, connection and mesh entry
/// as JSON Lines in time order, with one thread and with 2 partitions
/// (whose records are merged: each once).
#[test]
fn trace_files_list_every_record_in_time_order_also_for_partitioned_runs() {
    let dir = std::env::temp_dir().join(format!("meshsim-cli-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |parts: &str| {
        let file = dir.join(format!("trace-{parts}.jsonl"));
        let partitions = format!("partitions={parts}");
        let summary = meshsim_json(&[
            "run",
            "--set",
            "peers=20",
            "--set",
            "duration_s=8",
            "--set",
            "workload.start_s=1",
            "--set",
            &partitions,
            "--trace",
            file.to_str().unwrap(),
            "--json",
            "--no-write",
        ]);
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        (summary, lines)
    };
    let count = |lines: &[serde_json::Value], kind: &str| {
        lines.iter().filter(|l| l["kind"] == kind).count() as u64
    };
    let publishes = |lines: &[serde_json::Value]| -> Vec<(u64, u64, u64)> {
        lines
            .iter()
            .filter(|l| l["kind"] == "publish")
            .map(|l| {
                let n = |k: &str| l[k].as_u64().unwrap();
                (n("t_ns"), n("peer"), n("msg"))
            })
            .collect()
    };
    let (s1, one) = run("1");
    let (s2, two) = run("2");
    for (s, lines) in [(&s1, &one), (&s2, &two)] {
        let t: Vec<u64> = lines.iter().map(|l| l["t_ns"].as_u64().unwrap()).collect();
        assert!(t.windows(2).all(|w| w[0] <= w[1]), "in time order");
        assert_eq!(
            count(lines, "publish"),
            s["messages_published"].as_u64().unwrap()
        );
        assert_eq!(count(lines, "delivery"), s["deliveries"].as_u64().unwrap());
        // Each side of each connection sees it open.
        assert_eq!(
            count(lines, "conn_open"),
            2 * s["connections_opened"].as_u64().unwrap()
        );
        // Every (peer, message) is delivered once.
        let mut d: Vec<(u64, u64)> = lines
            .iter()
            .filter(|l| l["kind"] == "delivery")
            .map(|l| (l["peer"].as_u64().unwrap(), l["msg"].as_u64().unwrap()))
            .collect();
        let n = d.len();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), n);
        assert!(count(lines, "mesh") > 0);
    }
    // Both draw the same workload.
    assert_eq!(publishes(&one), publishes(&two));
    // The partitions' record files and the temporary trace are gone.
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // The trace's folder is made if missing; one that cannot be made is bad input.
    let nested = dir.join("new").join("sub").join("t.jsonl");
    let out = meshsim(&[
        "run",
        "--set",
        "peers=12",
        "--set",
        "duration_s=2",
        "--trace",
        nested.to_str().unwrap(),
        "--no-write",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(nested.exists());
    let out = meshsim(&[
        "run",
        "--set",
        "peers=12",
        "--trace",
        "/proc/meshsim-no/t.jsonl",
        "--no-write",
    ]);
    input_error(&out, &["--trace", "cannot create"]);
    assert!(!publishes(&one).is_empty());
    assert!(
        !std::fs::read_dir(&dir).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".tmp-")),
        "no temporary file left"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_file_and_bad_set_exit_2() {
    let out = meshsim(&["run", "/nonexistent/experiment.toml"]);
    input_error(&out, &["/nonexistent/experiment.toml", "cannot read"]);
    let out = meshsim(&["run", "--set", "gossipsub.mesh_n_low=99", "--no-write"]);
    input_error(&out, &["gossipsub.mesh_n_low", "99"]);
    let out = meshsim(&["run", "--set", "nonsense", "--no-write"]);
    input_error(&out, &["--set", "KEY=VALUE"]);
    let out = meshsim(&["run", "--set", "topology.bogus=1", "--no-write"]);
    input_error(&out, &["topology", "bogus"]);
}

/// The small run behind [`trace_hash`], as `--set` arguments.
const SMALL_RUN: [&str; 4] = [
    "peers=16",
    "duration_s=8",
    "workload.start_s=1",
    "topology.degree=10",
];

fn trace_hash(seed: &str) -> String {
    let mut args = vec!["run", "--seed", seed];
    for s in SMALL_RUN {
        args.extend(["--set", s]);
    }
    args.extend(["--json", "--no-write"]);
    let v = meshsim_json(&args);
    for k in [
        "trace_hash",
        "peers",
        "sim_seconds",
        "wall_seconds",
        "messages_published",
        "delivery_ratio",
        "latency_ms",
        "duplicates_per_delivery",
        "bytes_sent_per_peer",
        "events",
    ] {
        assert!(v.get(k).is_some(), "JSON summary has {k}");
    }
    for k in ["p50", "p90", "p99", "max"] {
        assert!(v["latency_ms"].get(k).is_some(), "latency_ms.{k}");
    }
    v["trace_hash"].as_str().unwrap().to_string()
}

#[test]
fn same_seed_same_hash_in_separate_processes() {
    let a = trace_hash("21");
    let b = trace_hash("21");
    assert_eq!(a, b);
    assert_ne!(a, trace_hash("22"));
}

/// A partitioned run (two threads that exchange messages every window) gives
/// the same trace in separate processes, and not the one-thread trace.
#[test]
fn partitioned_runs_give_the_same_hash_in_separate_processes() {
    let hash = |parts: &str| {
        let mut args = vec!["run", "--seed", "21"];
        for s in SMALL_RUN {
            args.extend(["--set", s]);
        }
        let set = format!("partitions={parts}");
        args.extend(["--set", &set, "--json", "--no-write"]);
        let v = meshsim_json(&args);
        v["trace_hash"].as_str().expect("trace_hash").to_string()
    };
    let a = hash("2");
    assert_eq!(a, hash("2"));
    assert_ne!(a, hash("1"));
}

/// The `meshsim` binary allocates with mimalloc; the library, and so this
/// test process, with the system allocator. The same run must give the same
/// trace either way.
#[test]
fn the_binarys_allocator_changes_no_result() {
    let sets: Vec<String> = SMALL_RUN.iter().map(|s| s.to_string()).collect();
    let (exp, _) = meshsim::load::load(None, &sets).expect("valid experiment");
    let run = models::run_with(
        &exp,
        21,
        sim::EntropyMode::Seeded,
        &models::RunOptions::default(),
    )
    .expect("run succeeds");
    assert_eq!(run.summary.trace_hash, trace_hash("21"));
}

#[test]
fn run_writes_results_atomically_named() {
    let dir = std::env::temp_dir().join(format!("meshsim-cli-out-{}", std::process::id()));
    let out = meshsim(&[
        "run",
        "--set",
        "peers=10",
        "--set",
        "duration_s=4",
        "--set",
        "topology.degree=4",
        "--seed",
        "7",
        "--json",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["experiment.toml", "meta.json", "runs.csv"] {
        assert!(dir.join(f).exists(), "{f} written");
    }
    // The binary reports its allocator (timings depend on it).
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let alloc = meta["allocator"].as_str().unwrap_or_default();
    assert!(alloc.starts_with("mimalloc 2."), "allocator: {alloc}");
    let csv = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("run_id,experiment,seed,peers"));
    assert!(header.contains("latency_ms_p99") && header.contains("trace_hash"));
    assert_eq!(lines.count(), 1, "one row per run");
    // The experiment as run parses back and, seed included, reproduces the run.
    let again = meshsim(&[
        "run",
        dir.join("experiment.toml").to_str().unwrap(),
        "--no-write",
        "--json",
    ]);
    assert!(again.status.success());
    let hash = |o: &std::process::Output| {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (
            v["seed"].as_u64(),
            v["trace_hash"].as_str().map(str::to_owned),
        )
    };
    assert_eq!(hash(&again), hash(&out));
    assert_eq!(hash(&out).0, Some(7));
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "no temp files left behind");
}

#[test]
fn churn_runs_give_the_same_hash_in_separate_processes() {
    let run = || {
        let v = meshsim_json(&[
            "run",
            concat!(env!("CARGO_MANIFEST_DIR"), "/churn.toml"),
            "--set",
            "peers=40",
            "--set",
            "duration_s=25",
            "--set",
            "churn.arrivals.count=4",
            "--json",
            "--no-write",
        ]);
        assert!(
            v["connections_closed"].as_u64().unwrap() > 0,
            "churn happened"
        );
        v["trace_hash"].as_str().unwrap().to_string()
    };
    assert_eq!(run(), run());
}

#[test]
fn run_output_paths_are_checked_before_the_run() {
    let dir = std::env::temp_dir().join(format!("meshsim-cli-paths-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let (d, f) = (dir.to_str().unwrap(), file.to_str().unwrap());
    // The run would panic at 1 s (exit 1): exit 2 shows nothing ran.
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--set", "peers=10", "--set", "limits.panic_at_s=1"];
        args.extend(extra);
        meshsim(&args)
    };
    let out = run(&["--out", f]);
    input_error(&out, &["--out", f, "not a directory"]);
    let out = run(&["--out", &format!("{f}/sub")]);
    input_error(&out, &["--out", f]);
    let out = run(&["--no-write", "--trace", d]);
    input_error(&out, &["--trace", d, "is a directory"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("rerun with"));
    let out = run(&["--no-write", "--out", d]);
    input_error(&out, &["--no-write", "--out"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_lists_the_files_it_wrote_and_says_what_it_leaves_out() {
    let exp = temp_file(
        "listed.toml",
        "name = \"listed\"\npeers = 10\nduration_s = 8.0\n\
         [topology]\ndegree = 4\n[workload]\nstart_s = 2.0\n\
         [measure]\ndeliveries = true\n\
         [sweep]\nseeds = 2\n",
    );
    let out_dir = exp.with_file_name("listed-out");
    let out = meshsim(&[
        "run",
        exp.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("results"))
        .expect("a results line");
    // Every file named is there, and every file there is named.
    let mut on_disk: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert!(
        on_disk.contains(&"deliveries.csv".to_string()),
        "{on_disk:?}"
    );
    // The plots and report are on a line of their own.
    let report = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("report"))
        .expect("a report line");
    for f in &on_disk {
        if f == "plots" || f == "report.html" {
            assert!(report.contains(f.as_str()), "{f} not in: {report}");
        } else {
            assert!(line.contains(f.as_str()), "{f} not in: {line}");
        }
    }
    assert!(
        stderr.contains("runs the base point") && stderr.contains("[sweep]"),
        "{stderr}"
    );
}

#[test]
fn a_misspelt_sweep_key_is_reported_once_with_the_nearest_name() {
    let exp = temp_file(
        "axis_typo.toml",
        "name = \"axis\"\npeers = 10\nduration_s = 8.0\n[topology]\ndegree = 4\n\
         [sweep]\nseeds = 1\nskip_invalid = true\n\
         [[sweep.axis]]\nkey = \"gossipsub.mesh_nn\"\nvalues = [3, 4, 5]\n",
    );
    let out_dir = exp.with_file_name("axis-out");
    let out = meshsim(&[
        "sweep",
        exp.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    input_error(&out, &["did you mean `mesh_n`?"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("unknown field").count(), 1, "{err}");
}

#[test]
fn a_run_without_messages_says_so_instead_of_a_delivery_of_one() {
    // Publishing starts at 5 s by default: a 4-second run publishes nothing.
    let out = meshsim(&[
        "run",
        "--set",
        "peers=10",
        "--set",
        "topology.degree=4",
        "--set",
        "duration_s=4",
        "--no-write",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let delivery = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("delivery"))
        .expect("a delivery line");
    assert!(
        delivery.contains("n/a") && !delivery.contains("1.0000"),
        "{stdout}"
    );
    assert!(stdout.contains("WARNING"), "{stdout}");
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    // `meshsim run | head -1`: the reader goes away before the summary is
    // printed. The process ends (SIGPIPE) without a panic and a backtrace.
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args([
            "run",
            "--set",
            "peers=20",
            "--set",
            "topology.degree=4",
            "--set",
            "duration_s=8",
            "--no-write",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run meshsim");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for meshsim");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_sweep_refused_for_memory_writes_nothing() {
    let out_dir = std::env::temp_dir().join(format!("meshsim-cli-refused-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let ci = concat!(env!("CARGO_MANIFEST_DIR"), "/ci.toml");
    let out = meshsim(&[
        "sweep",
        ci,
        "--set",
        "peers=100000",
        "--set",
        "limits.max_memory_mib=100",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    input_error(&out, &["limits.max_memory_mib"]);
    assert!(!out_dir.exists(), "nothing is written before the refusal");
}

/// A misspelt key inside `[network.transport]` gets the nearest name too,
/// and the list of its keys is not cut in the middle of a name.
#[test]
fn a_misspelt_transport_key_gets_the_nearest_name() {
    let out = meshsim(&[
        "run",
        "--no-write",
        "--set",
        "network.transport.modle=ideal",
    ]);
    input_error(&out, &["`modle`", "did you mean `model`?"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("bytes cut"), "{err}");
}

/// `model = "ideal"` beside a file's tcp keys names those keys and says how
/// to switch the whole table; a partial message too large for GossipSub's
/// limit says how much room the limit leaves.
#[test]
fn transport_and_partial_size_errors_say_what_to_do() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let idontwant = format!("{dir}/idontwant.toml");
    let out = meshsim(&[
        "run",
        &idontwant,
        "--no-write",
        "--set",
        "network.transport.model=ideal",
    ]);
    input_error(
        &out,
        &["`preset`", "--set 'network.transport={model=\"ideal\"}'"],
    );
    let partial = format!("{dir}/partial.toml");
    let out = meshsim(&[
        "run",
        &partial,
        "--no-write",
        "--set",
        "gossipsub.max_transmit_size=131072",
    ]);
    input_error(&out, &["(131072) minus 137 bytes, so 130935"]);
}
