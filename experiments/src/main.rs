//! `meshsim`: run GossipSub experiments in deterministic virtual time.

fn main() -> std::process::ExitCode {
    meshsim::cli::main()
}
