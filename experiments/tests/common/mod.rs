//! What the binary's integration tests share: running `meshsim`, scratch
//! folders and files, and the checks of an input error.
// Each test file uses some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the binary with `args`.
pub(crate) fn meshsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .output()
        .expect("run meshsim")
}

/// A fresh, empty scratch folder for this process and `name`.
pub(crate) fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("meshsim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small sweep: 12 peers, 6 s, 2 x 2 points, 3 seeds.
pub(crate) const SWEEP: &str = r#"
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

/// Writes `text` to `dir/name`; its path.
pub(crate) fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// The run succeeded (else its status and output).
pub(crate) fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "status {:?}\nstdout {}\nstderr {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A file that must exist, as text.
pub(crate) fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit code 2, no panic, and a message mentioning each of `must`.
pub(crate) fn input_error(o: &Output, must: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code 2 expected: {err}");
    assert!(!err.contains("panicked"), "no panic: {err}");
    for s in must {
        assert!(err.contains(s), "stderr should mention {s:?}: {err}");
    }
}
