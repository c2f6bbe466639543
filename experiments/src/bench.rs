//! The engine benchmark behind `meshsim bench`: its scenario (a random
//! 8-regular graph, uniform 20-80 ms link latency, one 1 KiB message per
//! second), optionally split into disjoint networks, and what a case
//! measures (CPU time, peak memory) and reports (the median of repeated
//! runs).

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
pub(crate) fn options_error(message: String) -> anyhow::Error {
    crate::load::InputError::Options(message).into()
}

/// The benchmark scenario as an experiment (see [`components_scenario_text`]).
pub fn scenario(
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
pub fn cpu_seconds(who: libc::c_int) -> (f64, f64) {
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
