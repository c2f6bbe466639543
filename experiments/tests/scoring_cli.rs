//! Inconsistent scoring is refused before anything runs, by `run` (file and
//! `--set`) and by `sweep` (every point is checked first); the shipped
//! scoring experiments parse and validate.

use std::process::{Command, Output};

fn meshsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .output()
        .expect("run meshsim")
}

fn assert_input_error(out: &Output, must_contain: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit code 2; stderr: {err}");
    assert!(!err.contains("panicked"), "no panic: {err}");
    for s in must_contain {
        assert!(err.contains(s), "stderr should mention {s:?}: {err}");
    }
}

#[test]
fn inconsistent_scoring_is_rejected_before_any_run() {
    let dir = std::env::temp_dir().join(format!("meshsim-scoring-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_dir = dir.join("out");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "name = \"bad\"\npeers = 10\nduration_s = 5.0\n[scoring]\npreset = \"default\"\n\
         [sweep]\n[[sweep.axis]]\nkey = \"scoring.graylist_threshold\"\nvalues = [-100.0, -20.0]\n",
    )
    .unwrap();
    let out = meshsim(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_input_error(&out, &["scoring.graylist_threshold", "publish threshold"]);
    assert!(!out_dir.exists(), "nothing ran");
    let out = meshsim(&[
        "run",
        "--no-write",
        "--set",
        "scoring.preset=ethereum",
        "--set",
        "scoring.gossip_threshold=5",
    ]);
    assert_input_error(&out, &["scoring.gossip_threshold"]);
    let out = meshsim(&["run", "--no-write", "--set", "scoring.preset=strict"]);
    assert_input_error(&out, &["scoring.preset"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The scoring experiments shipped in `experiments/`.
const SCORING_EXPERIMENTS: [&str; 4] = [
    "field-report.toml",
    "grafting.toml",
    "penalties.toml",
    "behaviour-penalty.toml",
];

#[test]
fn shipped_scoring_experiments_validate() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in SCORING_EXPERIMENTS {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        let mut v: toml::Table = toml::from_str(&text).unwrap();
        v.remove("sweep");
        let e: models::Experiment = toml::Value::Table(v).try_into().unwrap();
        e.validate().unwrap_or_else(|x| panic!("{f}: {x}"));
    }
}

/// CI's cut-down version of each scoring experiment: its first sweep point,
/// 15 simulated seconds, one seed.
#[test]
fn shipped_scoring_experiments_run_cut_down() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in SCORING_EXPERIMENTS {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        let mut v: toml::Table = toml::from_str(&text).unwrap();
        v.remove("sweep");
        let mut e: models::Experiment = toml::Value::Table(v).try_into().unwrap();
        e.duration_s = 15.0;
        e.churn.start_s = e.churn.start_s.min(8.0);
        e.validate().unwrap_or_else(|x| panic!("{f}: {x}"));
        let s = models::run(&e, 1, sim::EntropyMode::Seeded).unwrap();
        assert!(s.delivery_ratio > 0.9, "{f}: delivery {}", s.delivery_ratio);
        assert!(s.honest_delivery_ratio > 0.9, "{f}");
        assert_eq!(s.entropy_os_fallbacks, 0);
    }
}
