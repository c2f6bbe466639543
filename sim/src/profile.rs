//! Optional per-phase wall-clock accounting, for `meshsim bench --phases`.
//!
//! When enabled (process-wide, off by default), the engine charges the wall
//! time of its simulation thread to one phase at a time: the swarm polls
//! (libp2p and the protocols), the engine (event loop, event queue, virtual
//! transport and pipes), the metrics (the wire tap) and the application
//! (scenario actions such as publishing and sampling). Accounting is
//! exclusive: a transport call made from inside a swarm poll is charged to
//! the engine, not to the swarm.
//!
//! Wall-clock readings are only ever added up and reported here; nothing in
//! the simulation reads them, so enabling this cannot change a run.
//! When disabled, each phase switch costs one relaxed atomic load.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// A phase of the event loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Event loop, event queue, virtual transport, pipes, timers.
    Engine = 0,
    /// Inside `Node::poll` (swarms, connection handlers, protocol codecs), minus nested engine and metrics calls.
    Swarm = 1,
    /// The wire tap (metrics decoding of every write).
    Metrics = 2,
    /// Application events (scenario actions: publishing, sampling, churn).
    App = 3,
}

const PHASES: usize = 4;

static ENABLED: AtomicBool = AtomicBool::new(false);
static TOTALS: [AtomicU64; PHASES] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

thread_local! {
    static CURRENT: Cell<(Phase, Option<Instant>)> = const { Cell::new((Phase::Engine, None)) };
}

/// Turns phase accounting on for every simulation thread of this process.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Is phase accounting on?
#[inline]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Switches the current thread to `phase`, charging the time since the last
/// switch to the previous phase; returns the previous phase (to restore it
/// with another `enter`). Does nothing outside [`resume`]..[`pause`] or when
/// accounting is off.
#[inline]
pub fn enter(phase: Phase) -> Phase {
    if !enabled() {
        return phase;
    }
    switch(phase)
}

#[cold]
#[inline(never)]
#[allow(clippy::disallowed_methods)] // wall time, reporting only
fn switch(phase: Phase) -> Phase {
    CURRENT.with(|c| {
        let (prev, since) = c.get();
        let Some(t) = since else {
            return phase;
        };
        // Wall clock for `meshsim bench --phases` reporting only: it feeds TOTALS, which nothing in the simulation reads.
        let now = Instant::now(); // wall time, reporting only
        let ns = now.duration_since(t).as_nanos() as u64;
        TOTALS[prev as usize].fetch_add(ns, Ordering::Relaxed);
        c.set((phase, Some(now)));
        prev
    })
}

/// Starts charging this thread's time (to the engine) at the start of `run_until`.
#[allow(clippy::disallowed_methods)] // wall time, reporting only
pub fn resume() {
    if enabled() {
        CURRENT.with(|c| c.set((Phase::Engine, Some(Instant::now())))); // wall time, reporting only
    }
}

/// Charges the time so far and stops charging (the end of `run_until`).
pub fn pause() {
    if enabled() {
        switch(Phase::Engine);
        CURRENT.with(|c| c.set((Phase::Engine, None)));
    }
}

/// Wall time charged to each phase so far, in seconds, process-wide.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PhaseTimes {
    /// [`Phase::Engine`].
    pub engine_s: f64,
    /// [`Phase::Swarm`].
    pub swarm_s: f64,
    /// [`Phase::Metrics`].
    pub metrics_s: f64,
    /// [`Phase::App`].
    pub app_s: f64,
}

/// The totals so far.
pub fn totals() -> PhaseTimes {
    let s = |p: Phase| TOTALS[p as usize].load(Ordering::Relaxed) as f64 / 1e9;
    PhaseTimes {
        engine_s: s(Phase::Engine),
        swarm_s: s(Phase::Swarm),
        metrics_s: s(Phase::Metrics),
        app_s: s(Phase::App),
    }
}
