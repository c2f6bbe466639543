//! `meshsim`: run GossipSub experiments in deterministic virtual time.

/// mimalloc instead of glibc malloc: see `meshsim::alloc`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    meshsim::alloc::configure_mimalloc();
    meshsim::cli::main()
}
