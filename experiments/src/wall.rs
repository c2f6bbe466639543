//! Wall-clock time, read only around runs, for reporting (how long a run
//! took, progress, benchmarks): never inside a simulation, whose time is
//! virtual. The one place the command-line tool reads the wall clock.

/// The wall clock now.
#[allow(clippy::disallowed_methods)] // wall time, for reporting only
pub fn now() -> std::time::Instant {
    std::time::Instant::now()
}
