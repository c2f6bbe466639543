//! The memory safety valve refuses an obviously oversized run before it starts.

mod common;
use common::{meshsim, stderr, tmp, write};
use std::path::PathBuf;

/// `meshsim sweep` of `text` (one job), which must be refused with exit
/// code 2: its error message and output folder.
fn refused_sweep(name: &str, text: &str) -> (String, PathBuf) {
    let dir = tmp(name);
    let file = write(&dir, "s.toml", text);
    let out_dir = dir.join("out");
    let out = meshsim(&[
        "sweep",
        &file,
        "--jobs",
        "1",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    (stderr(&out), out_dir)
}

#[test]
fn run_refuses_100k_peers_with_a_1_gib_limit() {
    let out = meshsim(&[
        "run",
        "--no-write",
        "--set",
        "peers=100000",
        "--set",
        "limits.max_memory_mib=1024",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("limits.max_memory_mib"), "{err}");
    assert!(err.contains("limit of 1024 MiB"), "{err}");
    assert!(err.contains("would need about"), "{err}");
    // Refused up front by the estimate (the message above), not after
    // building 100,000 swarms.
}

#[test]
fn sweep_refuses_before_any_run() {
    let (err, out_dir) = refused_sweep(
        "big",
        "name = \"big\"\npeers = 100000\n[limits]\nmax_memory_mib = 1024\n[sweep]\nseeds = 2\n",
    );
    assert!(err.contains("limits.max_memory_mib"), "{err}");
    let runs = std::fs::read_dir(out_dir.join("runs")).map_or(0, |d| d.count());
    assert_eq!(runs, 0, "no run may have started");
}

#[test]
fn force_skips_the_check() {
    // A tiny run with an absurdly low limit runs with --force.
    let out = meshsim(&[
        "run",
        "--no-write",
        "--force",
        "--set",
        "peers=10",
        "--set",
        "topology.degree=4",
        "--set",
        "duration_s=1",
        "--set",
        "limits.max_memory_mib=1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = meshsim(&[
        "run",
        "--no-write",
        "--set",
        "peers=10",
        "--set",
        "topology.degree=4",
        "--set",
        "duration_s=1",
        "--set",
        "limits.max_memory_mib=1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn a_large_message_run_too_big_for_its_limit_is_refused_before_it_starts() {
    // 2,000 peers with 4 MB messages: GossipSub's message cache alone holds
    // about 6 MB per peer (a message a second for 6 s); far more than 4 GiB.
    let out = meshsim(&[
        "run",
        "--no-write",
        "--set",
        "peers=2000",
        "--set",
        "workload.message_bytes=4000000",
        "--set",
        "gossipsub.max_transmit_size=8388608",
        "--set",
        "limits.max_memory_mib=4096",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("would need about"), "{err}");
    assert!(err.contains("limit of 4096 MiB"), "{err}");
}

#[test]
fn a_sweep_refused_for_memory_names_the_point() {
    let (err, _) = refused_sweep(
        "points",
        "name = \"points\"\npeers = 1000\n[gossipsub]\nmax_transmit_size = 8388608\n\
         [limits]\nmax_memory_mib = 2048\n[sweep]\nseeds = 1\n\
         [[sweep.axis]]\nkey = \"workload.message_bytes\"\nvalues = [1024, 4000000]\n",
    );
    assert!(
        err.contains("(sweep point workload.message_bytes=4000000)"),
        "{err}"
    );
}
