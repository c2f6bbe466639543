//! `meshsim bench`: the DESIGN.md section 4 scenario at several sizes, and
//! the sweep throughput benchmark (`--sweep`: `--jobs 2` against `--jobs 1`).
//!
//! Every case runs in its own process (`meshsim bench-one`), so its peak
//! memory is its own. Wall-clock time is measured around the run only
//! (building the swarms included); CPU time is the process's user + system
//! time, which stays meaningful on a loaded machine.

use std::process::{Command, ExitCode};

/// The benchmark scenario's experiment text.
pub fn scenario_text(peers: u32, signing: &str, seconds: f64) -> String {
    format!(
        r#"
name = "bench"
peers = {peers}
duration_s = {seconds}
[network]
latency = {{ model = "uniform", min_ms = 20.0, max_ms = 80.0 }}
[topology]
kind = "random_regular"
degree = 8
[gossipsub]
signing = "{signing}"
heartbeat_interval_ms = 1000
[workload]
rate_per_s = 1.0
message_bytes = 1024
start_s = 2.0
drain_s = 1.0
"#
    )
}

/// The benchmark scenario split into `components` disjoint networks of
/// `peers / components` peers each, every one the same seeded random
/// 8-regular graph, with `components` messages per second in all (about one
/// per second per component). Every component does the work of a network of
/// `peers / components` peers, so the cost per event against `components =
/// 1` at that size isolates what a larger working set costs (caches) from
/// what a larger connected network costs.
pub fn components_scenario_text(
    peers: u32,
    signing: &str,
    seconds: f64,
    components: u32,
) -> String {
    if components <= 1 {
        return scenario_text(peers, signing, seconds);
    }
    let n = peers / components;
    let graph = models::topology::random_regular(n, 8, &mut sim::Seeds::new(1).stream("topology"));
    let mut edges = String::new();
    for c in 0..components {
        for &(a, b) in &graph {
            if !edges.is_empty() {
                edges.push_str(", ");
            }
            edges.push_str(&format!("[{}, {}]", a + c * n, b + c * n));
        }
    }
    scenario_text(peers, signing, seconds)
        .replace(
            "kind = \"random_regular\"\ndegree = 8",
            &format!("kind = \"edges\"\nedges = [{edges}]"),
        )
        .replace("rate_per_s = 1.0", &format!("rate_per_s = {components}.0"))
}

/// Checks `--components` against `--peers`.
pub fn check_components(peers: &[u32], components: u32) -> anyhow::Result<()> {
    if components == 0 {
        return Err(options_error(
            "--components must be at least 1 (1 = one connected network)".into(),
        ));
    }
    for &p in peers {
        if components > 1 && (p % components != 0 || p / components < 10) {
            return Err(options_error(format!(
                "--components {components} must divide --peers {p} into networks of at least 10 peers"
            )));
        }
    }
    Ok(())
}

/// Bad command-line options: exit code 2, like other bad input.
fn options_error(message: String) -> anyhow::Error {
    crate::load::InputError::Options(message).into()
}

fn scenario(
    peers: u32,
    signing: &str,
    seconds: f64,
    components: u32,
) -> anyhow::Result<models::Experiment> {
    let text = components_scenario_text(peers, signing, seconds, components);
    Ok(crate::load::parse("<bench>", &text, &[])?)
}

/// Peak resident memory of this process, KiB (Linux `VmHWM`).
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// (user, system) CPU seconds of this process (`who = RUSAGE_SELF`) or of its
/// waited-for children (`RUSAGE_CHILDREN`).
fn cpu_seconds(who: libc::c_int) -> (f64, f64) {
    // SAFETY: `getrusage` only writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (s(ru.ru_utime), s(ru.ru_stime))
}

/// Deliveries a run can make. The collector expects every message at every
/// other subscriber (`expected` = messages x (peers - 1)); with `components`
/// disjoint networks a message can only reach the rest of its own network
/// (messages x (peers / components - 1)).
pub fn reachable_deliveries(expected: u64, peers: u32, components: u32) -> u64 {
    if components <= 1 || peers < 2 {
        return expected;
    }
    let messages = expected / u64::from(peers - 1);
    messages * u64::from(peers / components - 1)
}

/// `meshsim bench-one`: runs one case in this process and prints one JSON line.
pub fn cmd_bench_one(
    peers: u32,
    signing: &str,
    seconds: f64,
    phases: bool,
    components: u32,
    no_memo: bool,
    partitions: u16,
) -> anyhow::Result<ExitCode> {
    check_components(&[peers], components)?;
    let mut exp = scenario(peers, signing, seconds, components)?;
    exp.partitions = partitions;
    exp.validate()
        .map_err(|e| options_error(format!("--partitions {partitions}: {e}")))?;
    if phases {
        sim::profile::enable();
    }
    let cpu0 = cpu_seconds(libc::RUSAGE_SELF);
    let t = std::time::Instant::now();
    // Like `meshsim run`: the process exits after the run, so the network
    // is not freed at its end.
    let opts = models::RunOptions {
        trace: None,
        skip_teardown: true,
        no_memo,
        progress: None,
    };
    let s = models::run_with(&exp, 1, sim::EntropyMode::Seeded, &opts)?.summary;
    let wall = t.elapsed().as_secs_f64();
    let cpu1 = cpu_seconds(libc::RUSAGE_SELF);
    let rss_kib = peak_rss_kib();
    let mut out = serde_json::json!({
        "peers": peers,
        "components": components,
        "partitions": partitions,
        "signing": signing,
        "sim_seconds": s.sim_seconds,
        "wall_seconds": wall,
        "cpu_user_seconds": cpu1.0 - cpu0.0,
        "cpu_sys_seconds": cpu1.1 - cpu0.1,
        "sim_per_wall": s.sim_seconds / wall,
        "events": s.events,
        "events_per_s": s.events as f64 / wall,
        "polls": s.polls,
        // Linear cost means this stays flat as peers grow.
        "cpu_us_per_peer_second": (cpu1.0 - cpu0.0 + cpu1.1 - cpu0.1) * 1e6
            / (f64::from(peers) * s.sim_seconds.max(1e-9)),
        "peak_rss_mib": rss_kib.map(|k| k as f64 / 1024.0),
        "bytes_per_peer": rss_kib.map(|k| k as f64 * 1024.0 / f64::from(peers)),
        "delivery": format!(
            "{}/{}",
            s.deliveries,
            reachable_deliveries(s.deliveries_expected, peers, components)
        ),
        "latency_ms_p50": s.latency_ms.p50,
        "latency_ms_p99": s.latency_ms.p99,
        "trace_hash": s.trace_hash,
        "allocator": crate::alloc::allocator(),
        "memo_hits": s.memo_hits,
        "memo_misses": s.memo_misses,
    });
    if phases {
        let p = sim::profile::totals();
        out["phases"] = serde_json::json!({
            "swarm_s": p.swarm_s,
            "engine_s": p.engine_s,
            "metrics_s": p.metrics_s,
            "app_s": p.app_s,
        });
    }
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn run_case(
    exe: &std::path::Path,
    a: &BenchArgs,
    peers: u32,
    signing: &str,
    partitions: u16,
) -> anyhow::Result<String> {
    let mut cmd = Command::new(exe);
    cmd.args([
        "bench-one",
        "--peers",
        &peers.to_string(),
        "--signing",
        signing,
        "--seconds",
        &a.seconds.to_string(),
    ]);
    if a.phases {
        cmd.arg("--phases");
    }
    if a.no_memo {
        cmd.arg("--no-memo");
    }
    cmd.args(["--components", &a.components.to_string()]);
    cmd.args(["--partitions", &partitions.to_string()]);
    let out = cmd.output()?;
    if !out.status.success() {
        anyhow::bail!(
            "bench case {peers} peers {signing} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Options of `meshsim bench`.
#[derive(Clone, Debug)]
pub struct BenchArgs {
    /// Peer counts.
    pub peers: Vec<u32>,
    /// Signing modes.
    pub signing: Vec<String>,
    /// Simulated seconds.
    pub seconds: f64,
    /// JSON lines instead of a table.
    pub json: bool,
    /// Per-phase wall-time counters.
    pub phases: bool,
    /// Run the sweep throughput benchmark instead.
    pub sweep: bool,
    /// Runs in the sweep benchmark.
    pub sweep_runs: u32,
    /// Runs per case; the median by CPU time is reported.
    pub repeat: u32,
    /// Disjoint networks the peers are split into (1 = one network).
    pub components: u32,
    /// Turn off the ed25519 memo (`RunOptions::no_memo`).
    pub no_memo: bool,
    /// Partitions (threads) per case (the experiment key `partitions`);
    /// every case runs at each count.
    pub partitions: Vec<u16>,
}

/// CPU seconds (user + system) of one `bench-one` result line.
fn cpu_of(v: &serde_json::Value) -> f64 {
    v["cpu_user_seconds"].as_f64().unwrap_or(0.0) + v["cpu_sys_seconds"].as_f64().unwrap_or(0.0)
}

/// Of several runs of one case: the run with the median CPU time (the lower
/// middle for an even count), with `cpu_min_seconds`, `cpu_max_seconds` and
/// `repeat` added. Runs of one case must be identical runs: differing trace
/// hashes are an error (they would mean the benchmark is not deterministic).
pub fn median_run(mut runs: Vec<serde_json::Value>) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(!runs.is_empty(), "no runs");
    let hash = runs[0]["trace_hash"].clone();
    if let Some(r) = runs.iter().find(|r| r["trace_hash"] != hash) {
        anyhow::bail!(
            "repeated runs of one bench case differ: trace hash {hash} vs {}",
            r["trace_hash"]
        );
    }
    runs.sort_by(|a, b| cpu_of(a).total_cmp(&cpu_of(b)));
    let (min, max, n) = (cpu_of(&runs[0]), cpu_of(&runs[runs.len() - 1]), runs.len());
    let mut m = runs.swap_remove((n - 1) / 2);
    m["repeat"] = serde_json::json!(n);
    m["cpu_min_seconds"] = serde_json::json!(min);
    m["cpu_max_seconds"] = serde_json::json!(max);
    Ok(m)
}

/// `meshsim bench`.
pub fn cmd_bench(a: &BenchArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this meshsim is a debug build: its timings are several times slower than a \
             release build's (cargo build --release -p meshsim; target/release/meshsim bench)"
        );
    }
    if a.sweep && a.components != 1 {
        return Err(options_error(
            "--components applies to the per-case benchmark, not to --sweep".into(),
        ));
    }
    let min_peers = a.peers.iter().copied().min().unwrap_or(1);
    if let Some(&k) = a
        .partitions
        .iter()
        .find(|&&k| k == 0 || u32::from(k) > min_peers)
    {
        return Err(options_error(format!(
            "--partitions {k} must be at least 1 and at most the smallest --peers ({min_peers})"
        )));
    }
    if a.partitions.is_empty() {
        return Err(options_error(
            "--partitions needs at least one count".into(),
        ));
    }
    if a.sweep && a.partitions.iter().any(|&k| k != 1) {
        return Err(options_error(
            "--partitions applies to the per-case benchmark, not to --sweep".into(),
        ));
    }
    if a.sweep && a.no_memo {
        return Err(options_error(
            "--no-memo applies to the per-case benchmark, not to --sweep".into(),
        ));
    }
    if a.sweep {
        return cmd_bench_sweep(a);
    }
    check_components(&a.peers, a.components)?;
    let exe = std::env::current_exe()?;
    if !a.json {
        println!("allocator: {}", crate::alloc::allocator());
        if a.partitions.iter().any(|&k| k > 1) {
            println!("partitions: one thread each; cpu_s adds up all threads");
        }
        if a.sweep || a.signing.iter().any(|m| m == "ed25519") {
            println!(
                "ed25519 memo: {}",
                if a.no_memo {
                    "off (--no-memo: every copy verified)"
                } else {
                    "on (successful verifications remembered)"
                }
            );
        }
        println!(
            "{:>7} {:>8} {:>5} {:>8} {:>8} {:>9} {:>9} {:>10} {:>10} {:>8} {:>9} {:>13} {:>15}",
            "peers",
            "signing",
            "parts",
            "wall_s",
            "cpu_s",
            "sim/wall",
            "us/peer-s",
            "events",
            "events/s",
            "rss_MiB",
            "KiB/peer",
            "delivery",
            "lat_p50/p99_ms"
        );
    }
    for &p in &a.peers {
        for sg in &a.signing {
            for &k in &a.partitions {
                let mut runs = Vec::new();
                for _ in 0..a.repeat.max(1) {
                    let line = run_case(&exe, a, p, sg, k)?;
                    runs.push(serde_json::from_str::<serde_json::Value>(&line)?);
                }
                let v = median_run(runs)?;
                if a.json {
                    println!("{v}");
                    continue;
                }
                let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
                println!(
                "{:>7} {:>8} {:>5} {:>8.2} {:>8.2} {:>9.1} {:>9.1} {:>10} {:>10.0} {:>8.0} {:>9.0} {:>13} {:>7.1}/{:<7.1}",
                p,
                sg,
                k,
                f("wall_seconds"),
                f("cpu_user_seconds") + f("cpu_sys_seconds"),
                f("sim_per_wall"),
                f("cpu_us_per_peer_second"),
                v["events"].as_u64().unwrap_or(0),
                f("events_per_s"),
                f("peak_rss_mib"),
                f("bytes_per_peer") / 1024.0,
                v["delivery"].as_str().unwrap_or(""),
                f("latency_ms_p50"),
                f("latency_ms_p99"),
            );
                if a.repeat > 1 {
                    println!(
                        "{:>7} median of {} runs by CPU time; CPU range {:.2}-{:.2} s",
                        "",
                        a.repeat,
                        f("cpu_min_seconds"),
                        f("cpu_max_seconds"),
                    );
                }
                if a.phases {
                    let ph = &v["phases"];
                    let g = |k: &str| ph[k].as_f64().unwrap_or(0.0);
                    let total = g("swarm_s") + g("engine_s") + g("metrics_s") + g("app_s");
                    let pct = |x: f64| if total > 0.0 { 100.0 * x / total } else { 0.0 };
                    println!(
                    "{:>7} phases: swarm polls {:.2} s ({:.0}%), engine {:.2} s ({:.0}%), metrics {:.2} s ({:.0}%), scenario {:.2} s ({:.0}%)",
                    "",
                    g("swarm_s"),
                    pct(g("swarm_s")),
                    g("engine_s"),
                    pct(g("engine_s")),
                    g("metrics_s"),
                    pct(g("metrics_s")),
                    g("app_s"),
                    pct(g("app_s")),
                );
                    // The issue's yardstick: meshsim's own cost against the floor
                    // (the real libp2p code, polled inside the swarms).
                    if g("swarm_s") > 0.0 {
                        println!(
                            "{:>7} overhead: engine + metrics = {:.2}x the time inside the swarms",
                            "",
                            (g("engine_s") + g("metrics_s")) / g("swarm_s"),
                        );
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `meshsim bench --sweep`: the same sweep of equal runs (one point, several
/// seeds) with `--jobs 1` and `--jobs 2`; prints both wall times and the speedup.
fn cmd_bench_sweep(a: &BenchArgs) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe()?;
    let peers = a.peers.first().copied().unwrap_or(300);
    let signing = a.signing.first().map_or("none", String::as_str);
    let dir = std::env::temp_dir().join(format!("meshsim-bench-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("sweep.toml");
    let mut text = scenario_text(peers, signing, a.seconds);
    text = text.replace("name = \"bench\"", "name = \"bench-sweep\"");
    text.push_str(&format!("[sweep]\nseeds = {}\n", a.sweep_runs));
    std::fs::write(&file, text)?;
    // One pair = the sweep with --jobs 1, then with --jobs 2. On a shared
    // machine pairs vary; the median pair (by speedup) is reported.
    let mut pairs: Vec<[(f64, f64); 2]> = Vec::new();
    for rep in 0..a.repeat.max(1) {
        let mut pair = [(0.0, 0.0); 2];
        for (k, jobs) in [1usize, 2].into_iter().enumerate() {
            let out = dir.join(format!("rep{rep}-jobs{jobs}"));
            let c0 = cpu_seconds(libc::RUSAGE_CHILDREN);
            let t = std::time::Instant::now();
            let st = Command::new(&exe)
                .arg("sweep")
                .arg(&file)
                .args(["--jobs", &jobs.to_string(), "--out"])
                .arg(&out)
                .stderr(std::process::Stdio::null())
                .status()?;
            let wall = t.elapsed().as_secs_f64();
            let c1 = cpu_seconds(libc::RUSAGE_CHILDREN);
            if !st.success() {
                let _ = std::fs::remove_dir_all(&dir);
                anyhow::bail!("sweep with --jobs {jobs} failed ({st})");
            }
            let _ = std::fs::remove_dir_all(&out);
            pair[k] = (wall, (c1.0 - c0.0) + (c1.1 - c0.1));
        }
        pairs.push(pair);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let speedup_of = |p: &[(f64, f64); 2]| p[0].0 / p[1].0;
    let mut speedups: Vec<f64> = pairs.iter().map(speedup_of).collect();
    speedups.sort_by(f64::total_cmp);
    pairs.sort_by(|x, y| speedup_of(x).total_cmp(&speedup_of(y)));
    let m = pairs[(pairs.len() - 1) / 2];
    let speedup = speedup_of(&m);
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "sweep_runs": a.sweep_runs,
                "peers": peers,
                "signing": signing,
                "sim_seconds": a.seconds,
                "jobs1_wall_seconds": m[0].0,
                "jobs1_cpu_seconds": m[0].1,
                "jobs2_wall_seconds": m[1].0,
                "jobs2_cpu_seconds": m[1].1,
                "speedup": speedup,
                "repeat": speedups.len(),
                "speedups": speedups,
                "allocator": crate::alloc::allocator(),
            })
        );
    } else {
        println!(
            "sweep of {} equal runs ({} peers, {}, {} simulated s each; allocator: {})",
            a.sweep_runs,
            peers,
            signing,
            a.seconds,
            crate::alloc::allocator()
        );
        for (k, (wall, cpu)) in m.iter().enumerate() {
            println!("  --jobs {}: wall {wall:.2} s, cpu {cpu:.2} s", k + 1);
        }
        println!("  speedup --jobs 2 / --jobs 1: {speedup:.2}x");
        if speedups.len() > 1 {
            let list: Vec<String> = speedups.iter().map(|x| format!("{x:.2}")).collect();
            println!(
                "  median of {} pairs; all speedups: {}",
                speedups.len(),
                list.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::{median_run, reachable_deliveries};
    use serde_json::json;

    #[test]
    fn disjoint_networks_expect_deliveries_within_their_own_network() {
        // 571 messages among 1,000 peers: 570,429 expected network-wide.
        assert_eq!(reachable_deliveries(570_429, 1000, 1), 570_429);
        // In ten networks of 100, each message can reach 99 peers.
        assert_eq!(reachable_deliveries(570_429, 1000, 10), 56_529);
    }

    fn run(cpu: f64, hash: &str) -> serde_json::Value {
        json!({"cpu_user_seconds": cpu, "cpu_sys_seconds": 0.5, "trace_hash": hash})
    }

    #[test]
    fn median_run_picks_the_middle_cpu_and_reports_the_range() {
        let m = median_run(vec![run(3.0, "a"), run(1.0, "a"), run(9.0, "a")]).unwrap();
        assert_eq!(m["cpu_user_seconds"], json!(3.0));
        assert_eq!(m["cpu_min_seconds"], json!(1.5));
        assert_eq!(m["cpu_max_seconds"], json!(9.5));
        assert_eq!(m["repeat"], json!(3));
        // An even count reports the lower middle.
        let m = median_run(vec![run(4.0, "a"), run(2.0, "a")]).unwrap();
        assert_eq!(m["cpu_user_seconds"], json!(2.0));
    }

    #[test]
    fn components_are_disjoint_copies_of_one_graph() {
        let text = super::components_scenario_text(40, "none", 5.0, 4);
        let exp = crate::load::parse("<bench>", &text, &[]).unwrap();
        let edges = &exp.topology.edges;
        assert_eq!(edges.len(), 4 * 10 * 8 / 2);
        for c in 0..4u32 {
            let mut copy: Vec<[u32; 2]> = edges
                .iter()
                .filter(|e| e[0] / 10 == c)
                .map(|e| [e[0] - 10 * c, e[1] - 10 * c])
                .collect();
            let mut first: Vec<[u32; 2]> = edges.iter().filter(|e| e[0] < 10).copied().collect();
            copy.sort_unstable();
            first.sort_unstable();
            assert_eq!(copy, first, "component {c}");
        }
        assert!(
            edges.iter().all(|e| e[0] / 10 == e[1] / 10),
            "no edge between components"
        );
        assert_eq!(exp.workload.rate_per_s, 4.0);
        // One component is the plain scenario.
        assert_eq!(
            super::components_scenario_text(40, "none", 5.0, 1),
            super::scenario_text(40, "none", 5.0)
        );
    }

    #[test]
    fn components_must_divide_the_peers() {
        assert!(super::check_components(&[1000, 10000], 10).is_ok());
        let e = super::check_components(&[1000, 1005], 10).unwrap_err();
        assert!(e.to_string().contains("--peers 1005"), "{e}");
        assert!(super::check_components(&[100], 0).is_err());
        assert!(
            super::check_components(&[100], 20).is_err(),
            "5 peers per network"
        );
    }

    #[test]
    fn median_run_refuses_runs_that_are_not_identical() {
        let e = median_run(vec![run(1.0, "a"), run(2.0, "b")]).unwrap_err();
        assert!(e.to_string().contains("differ"), "{e}");
        assert!(median_run(Vec::new()).is_err());
    }
}
