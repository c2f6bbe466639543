//! `meshsim check`: passes on its baseline, fails on a regression, rejects
//! a malformed baseline, treats "never" as worse than any time, and reports
//! missing baselines, points no longer swept and new points apart.

mod common;
use common::*;

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
