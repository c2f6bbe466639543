//! `meshsim`: run GossipSub experiments in deterministic virtual time.

/// mimalloc instead of glibc malloc: see `meshsim::alloc`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Like other command-line tools, end quietly when the reader of stdout
    // goes away (`meshsim run | head -3`), instead of panicking on the write.
    // SAFETY: called first thing, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    meshsim::alloc::configure_mimalloc();
    meshsim::cli::main()
}
