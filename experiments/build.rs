//! Records the git commit meshsim is built from, for `meta.json`'s
//! `git_commit` (the provenance of results, wherever the binary then runs).

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&dir);
    if let Some(git_dir) = git(dir, &["rev-parse", "--absolute-git-dir"]) {
        // Built again when the checked-out commit moves.
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
        println!("cargo:rerun-if-changed={git_dir}/packed-refs");
        if let Some(r) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={git_dir}/{r}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(dir, &["rev-parse", "HEAD"]).unwrap_or_default();
    println!("cargo:rustc-env=MESHSIM_GIT_COMMIT={commit}");
}
