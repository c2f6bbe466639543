//! `meshsim`: run GossipSub experiments in deterministic virtual time.

// mimalloc: the simulation allocates and frees millions of small buffers;
// allocation addresses never influence a run (see `meshsim bench`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    meshsim::cli::main()
}
