//! The node runner: the event loop of one simulation.
//!
//! After each time step, every woken node is polled in ascending index order
//! until nothing is runnable; then the clock jumps to the next event or timer.
//! Everything is bounded: events per run, polls per instant.

use crate::entropy;
use crate::profile::{self, Phase};
use crate::queue::Event;
use crate::seeds::Seeds;
use crate::world::{self, NetConfig, World};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

/// A simulated node the runner drives.
pub trait Node {
    /// Makes progress until the node has nothing more to do right now.
    fn poll(&mut self, cx: &mut Context<'_>);
}

/// Limits that turn a runaway run into an error instead of a hang.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Maximum events processed in the run.
    pub max_events: u64,
    /// Maximum node polls at a single virtual instant (livelock guard).
    pub max_polls_per_instant: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: 2_000_000_000,
            max_polls_per_instant: 50_000_000,
        }
    }
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RunError {
    /// The event budget ran out.
    #[error("event budget exhausted: more than {0} events")]
    EventBudget(u64),
    /// Another partition of a partitioned run stopped (its error is the run's).
    #[error("another partition of this run stopped")]
    PartitionStopped,
    /// Nodes kept waking each other without time advancing.
    #[error("livelock at t = {time_ns} ns: more than {polls} polls without time advancing")]
    Livelock {
        /// Virtual time of the livelock.
        time_ns: u64,
        /// Polls at that instant.
        polls: u64,
    },
}

/// Counters of one run.
#[derive(Clone, Copy, Debug, Default)]
pub struct EngineStats {
    /// Events processed (network and application).
    pub events: u64,
    /// Timers fired.
    pub timers_fired: u64,
    /// Node polls.
    pub polls: u64,
    /// Distinct instants the clock stopped at.
    pub steps: u64,
}

thread_local! {
    static READY: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

struct NodeWaker {
    idx: u32,
    queued: AtomicBool,
}

impl Wake for NodeWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::Relaxed) {
            // Wakers are only used on the simulation thread; if a waker is
            // ever used elsewhere the node is still polled at the next wake.
            let _ = READY.try_with(|r| r.borrow_mut().push(self.idx));
        }
    }
}

/// The application side of the loop: how `Event::App` is handled.
pub trait AppHandler<N> {
    /// Handles application event `tag` for `node` (`None`: the scenario itself).
    fn on_app(&mut self, engine: &mut Engine<N>, node: Option<u32>, tag: u64);
}

/// The engine of one run: nodes, their wakers, limits and counters.
pub struct Engine<N> {
    /// The nodes, by index (the same index as in the world).
    pub nodes: Vec<N>,
    wakers: Vec<(Arc<NodeWaker>, Waker)>,
    /// Limits of this run.
    pub limits: Limits,
    /// Counters.
    pub stats: EngineStats,
    progress: Option<Arc<AtomicU64>>,
}

impl<N: Node> Engine<N> {
    /// An engine with no nodes.
    pub fn new(limits: Limits) -> Engine<N> {
        Engine {
            nodes: Vec::new(),
            wakers: Vec::new(),
            limits,
            stats: EngineStats::default(),
            progress: None,
        }
    }

    /// From now on, stores the virtual time (ns) in `progress` whenever the
    /// clock moves on, for a progress display on another thread. Nothing in
    /// the run reads it.
    pub fn set_progress(&mut self, progress: Option<Arc<AtomicU64>>) {
        self.progress = progress;
    }

    /// Makes room for `n` more nodes (exactly: a large network's node
    /// array is not rounded up to a power of two).
    pub fn reserve(&mut self, n: usize) {
        self.nodes.reserve_exact(n);
        self.wakers.reserve_exact(n);
    }

    /// Adds a node (its index must match its index in the world); it is polled at once.
    pub fn add_node(&mut self, node: N) -> u32 {
        let idx = self.nodes.len() as u32;
        let nw = Arc::new(NodeWaker {
            idx,
            queued: AtomicBool::new(false),
        });
        let waker = Waker::from(nw.clone());
        self.nodes.push(node);
        self.wakers.push((nw, waker));
        self.wake(idx);
        idx
    }

    /// Marks `node` runnable.
    pub fn wake(&self, node: u32) {
        self.wakers[node as usize].1.wake_by_ref();
    }

    /// Current virtual time, nanoseconds.
    pub fn now_ns(&self) -> u64 {
        world::now()
    }

    /// Schedules an application event at absolute virtual time `at_ns`.
    pub fn schedule_app(&self, at_ns: u64, node: Option<u32>, tag: u64) {
        world::with(|w| {
            w.queue.push(
                at_ns,
                Event::App {
                    node: node.unwrap_or(u32::MAX),
                    tag,
                },
            )
        });
    }

    fn poll_ready(&mut self) -> Result<(), RunError> {
        let mut polls_now = 0u64;
        let mut batch = Vec::new();
        loop {
            READY.with(|r| std::mem::swap(&mut *r.borrow_mut(), &mut batch));
            if batch.is_empty() {
                return Ok(());
            }
            batch.sort_unstable();
            for &idx in &batch {
                let (nw, waker) = &self.wakers[idx as usize];
                nw.queued.store(false, Ordering::Relaxed);
                let mut cx = Context::from_waker(waker);
                let prev = profile::enter(Phase::Swarm);
                self.nodes[idx as usize].poll(&mut cx);
                profile::enter(prev);
                polls_now += 1;
            }
            self.stats.polls += batch.len() as u64;
            batch.clear();
            if polls_now > self.limits.max_polls_per_instant {
                return Err(RunError::Livelock {
                    time_ns: world::now(),
                    polls: polls_now,
                });
            }
        }
    }

    /// Runs until virtual time `until_ns` (inclusive): events and timers due
    /// by then are processed, then the clock rests at `until_ns`.
    pub fn run_until(
        &mut self,
        until_ns: u64,
        app: &mut impl AppHandler<N>,
    ) -> Result<(), RunError> {
        profile::resume();
        let r = self.run_until_inner(until_ns, app);
        profile::pause();
        r
    }

    fn run_until_inner(
        &mut self,
        until_ns: u64,
        app: &mut impl AppHandler<N>,
    ) -> Result<(), RunError> {
        loop {
            self.poll_ready()?;
            let next_event = world::with(|w| w.queue.peek_time());
            let next_timer = meshsim_clock::next_deadline();
            let next = match (next_event, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > until_ns {
                break;
            }
            let now = world::now();
            if next > now {
                meshsim_clock::advance_to(next);
                self.stats.steps += 1;
                if let Some(p) = &self.progress {
                    p.store(next, Ordering::Relaxed);
                }
            }
            self.stats.timers_fired += meshsim_clock::fire_due() as u64;
            let t = world::now();
            loop {
                // Network events are handled in one visit to the world, up to
                // the first application event (or the event budget).
                let budget = self.limits.max_events.saturating_sub(self.stats.events);
                let (handled, app_ev) = world::with(|w| {
                    let mut handled = 0u64;
                    while handled < budget {
                        let Some((_, ev)) = w.queue.pop_due(t) else {
                            break;
                        };
                        handled += 1;
                        if !w.handle(ev) {
                            return (handled, Some(ev));
                        }
                    }
                    (handled, None)
                });
                self.stats.events += handled;
                if let Some(Event::App { node, tag }) = app_ev {
                    let node = (node != u32::MAX).then_some(node);
                    let prev = profile::enter(Phase::App);
                    app.on_app(self, node, tag);
                    profile::enter(prev);
                    if let Some(n) = node {
                        self.wake(n);
                    }
                    continue;
                }
                if handled == budget && world::with(|w| w.queue.pop_due(t).is_some()) {
                    return Err(RunError::EventBudget(self.limits.max_events));
                }
                break;
            }
        }
        if world::now() < until_ns {
            meshsim_clock::advance_to(until_ns);
        }
        self.poll_ready()
    }
}

impl<N: Node> Engine<N> {
    /// Runs partition `me` of a partitioned run until `until_ns` in lock-step
    /// windows of `window_ns` (at most the smallest link latency between
    /// partitions): each window is simulated independently, then the
    /// partitions exchange what they sent each other through `ex`. Every
    /// partition must make the same calls.
    pub fn run_windows(
        &mut self,
        until_ns: u64,
        window_ns: u64,
        app: &mut impl AppHandler<N>,
        ex: &Exchange,
        me: u16,
    ) -> Result<(), RunError> {
        let window_ns = window_ns.max(1);
        // Nothing happens anywhere before `next` (the first meeting: now).
        let mut next = world::now();
        loop {
            let end = next
                .max(world::now())
                .saturating_add(window_ns - 1)
                .min(until_ns)
                .max(world::now());
            if let Err(e) = self.run_until(end, app) {
                ex.abort();
                return Err(e);
            }
            next = ex.step(me)?;
            if end >= until_ns {
                return Ok(());
            }
            meshsim_clock::advance_to(end + 1);
        }
    }
}

/// The meeting point of the partitions of a partitioned run: after each
/// window every partition posts the messages it sent to each other one,
/// waits for all, and takes what was sent to it (in partition order, each
/// partition's messages in the order sent, so the result does not depend on
/// which thread arrived first).
pub struct Exchange {
    parts: u16,
    /// Two sets of mailboxes `[from][to]`, alternating by window.
    slots: Vec<std::sync::Mutex<Vec<world::Remote>>>,
    /// Two sets (alternating by window) of each partition's earliest
    /// pending event, timer or message sent (ns; `u64::MAX`: none).
    next: Vec<std::sync::atomic::AtomicU64>,
    state: std::sync::Mutex<BarrierState>,
    cv: std::sync::Condvar,
}

#[derive(Default)]
struct BarrierState {
    waiting: u16,
    generation: u64,
    aborted: bool,
    windows: Vec<u64>,
}

impl Exchange {
    /// The exchange of a run with `parts` partitions.
    pub fn new(parts: u16) -> Exchange {
        let n = 2 * usize::from(parts) * usize::from(parts);
        Exchange {
            parts,
            slots: (0..n).map(|_| std::sync::Mutex::new(Vec::new())).collect(),
            next: (0..2 * usize::from(parts))
                .map(|_| std::sync::atomic::AtomicU64::new(u64::MAX))
                .collect(),
            state: std::sync::Mutex::new(BarrierState {
                windows: vec![0; usize::from(parts)],
                ..BarrierState::default()
            }),
            cv: std::sync::Condvar::new(),
        }
    }

    fn slot(&self, parity: u64, from: u16, to: u16) -> &std::sync::Mutex<Vec<world::Remote>> {
        let p = usize::from(self.parts);
        &self.slots[parity as usize * p * p + usize::from(from) * p + usize::from(to)]
    }

    /// Stops the run: every partition waiting or arriving gets [`RunError::PartitionStopped`].
    pub fn abort(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.aborted = true;
        self.cv.notify_all();
    }

    /// Ends partition `me`'s current window (see the type's documentation).
    /// Returns the time before which nothing happens in any partition: the
    /// earliest event, timer or message still to come anywhere. No message
    /// can be sent before it, so the next window may run to that time plus
    /// one link latency (windows skip the quiet stretches between bursts,
    /// and their meetings).
    pub fn step(&self, me: u16) -> Result<u64, RunError> {
        let window = {
            let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.windows[usize::from(me)]
        };
        let parity = window % 2;
        let mut next = world::with(|w| w.queue.peek_time()).unwrap_or(u64::MAX);
        next = next.min(meshsim_clock::next_deadline().unwrap_or(u64::MAX));
        for to in (0..self.parts).filter(|&t| t != me) {
            let out = world::with(|w| w.take_outbox(to));
            next = out.iter().map(|m| m.at).fold(next, u64::min);
            self.slot(parity, me, to)
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(out);
        }
        let p = usize::from(self.parts);
        self.next[parity as usize * p + usize::from(me)]
            .store(next, std::sync::atomic::Ordering::Relaxed);
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.aborted {
                return Err(RunError::PartitionStopped);
            }
            st.windows[usize::from(me)] += 1;
            st.waiting += 1;
            if st.waiting == self.parts {
                st.waiting = 0;
                st.generation += 1;
                self.cv.notify_all();
            } else {
                let g = st.generation;
                while st.generation == g && !st.aborted {
                    st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.aborted {
                    return Err(RunError::PartitionStopped);
                }
            }
        }
        // A partition writes this parity again only after the next meeting,
        // which it cannot pass before this one has taken its messages.
        for from in (0..self.parts).filter(|&f| f != me) {
            let msgs = std::mem::take(
                &mut *self
                    .slot(parity, from, me)
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()),
            );
            if !msgs.is_empty() {
                world::with(|w| w.deliver(msgs));
            }
        }
        // (Stored before the meeting, whose lock orders them before this.)
        let next = self.next[parity as usize * p..(parity as usize + 1) * p]
            .iter()
            .map(|n| n.load(std::sync::atomic::Ordering::Relaxed))
            .min()
            .unwrap_or(u64::MAX);
        Ok(next)
    }
}

/// Stops the exchange if its thread unwinds (a panic in one partition must
/// not leave the others waiting forever).
struct AbortOnPanic(std::sync::Arc<Exchange>);

impl Drop for AbortOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abort();
        }
    }
}

/// Runs the partitions of a partitioned run, each on its own simulation
/// thread (as [`run_on_sim_thread`], with partition `k`'s entropy drawn
/// from `(seed, k)`): `f(k, exchange)` builds and runs partition `k`.
/// Returns each partition's result in partition order.
pub fn run_partitions<R: Send + 'static>(
    seed: u64,
    net: NetConfig,
    parts: u16,
    entropy_mode: EntropyMode,
    f: impl Fn(u16, &Exchange) -> R + Send + Sync + 'static,
) -> Vec<Result<(R, ThreadReport), String>> {
    std::hint::black_box(entropy::hook_address());
    let ex = std::sync::Arc::new(Exchange::new(parts));
    let f = std::sync::Arc::new(f);
    let handles: Vec<_> = (0..parts)
        .map(|k| {
            let (ex, f, net) = (ex.clone(), f.clone(), net.clone());
            std::thread::Builder::new()
                .name(format!("meshsim-sim-{seed}-p{k}"))
                .stack_size(64 << 20)
                .spawn(move || {
                    let _guard = AbortOnPanic(ex.clone());
                    sim_thread_body(seed, u64::from(k), net, entropy_mode, || f(k, &ex))
                })
        })
        .collect();
    if handles.iter().any(Result::is_err) {
        // The partitions that did start would wait for the missing one.
        ex.abort();
    }
    handles
        .into_iter()
        .map(|h| match h {
            Ok(h) => h.join().map_err(panic_message),
            Err(e) => {
                ex.abort();
                Err(format!("cannot spawn simulation thread: {e}"))
            }
        })
        .collect()
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "simulation thread panicked".to_string()
    }
}

/// Sets up a simulation thread (entropy stream `stream` of `seed`, a virtual
/// clock, a world), runs `f`, tears it down.
fn sim_thread_body<R>(
    seed: u64,
    stream: u64,
    net: NetConfig,
    entropy_mode: EntropyMode,
    f: impl FnOnce() -> R,
) -> (R, ThreadReport) {
    entropy::mark_simulation_thread();
    let seeds = Seeds::new(seed);
    match entropy_mode {
        EntropyMode::Seeded => entropy::seed_thread(seeds.bytes("entropy", stream)),
        EntropyMode::Unseeded => entropy::seed_thread_from_os(),
    }
    meshsim_clock::install();
    world::install(World::new(net, seeds));
    let r = f();
    let report = ThreadReport {
        entropy: entropy::stats(),
        memo: meshsim_clock::memo_stats(),
    };
    drop(world::uninstall());
    meshsim_clock::uninstall();
    entropy::reset_thread();
    (r, report)
}

/// What a finished simulation thread reports besides its result.
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadReport {
    /// Entropy served by the seeded hook on the simulation thread.
    pub entropy: entropy::EntropyStats,
    /// Lookups in the substitutes' memo of pure functions (ed25519).
    pub memo: meshsim_clock::MemoStats,
}

/// How the simulation thread's entropy is seeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntropyMode {
    /// Seeded from the run's master seed (the default: deterministic).
    Seeded,
    /// Seeded from the OS: a deliberately non-deterministic negative control.
    Unseeded,
}

/// Runs `f` on a fresh OS thread set up for simulation: entropy seeded from
/// `seed` before anything else, a virtual clock at time zero and an empty
/// world with network configuration `net`. Tears all of it down afterwards.
/// A panic inside `f` is returned as `Err` with its message.
pub fn run_on_sim_thread<R: Send + 'static>(
    seed: u64,
    net: NetConfig,
    entropy_mode: EntropyMode,
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<(R, ThreadReport), String> {
    // Keep the hook linked into every binary that runs a simulation.
    std::hint::black_box(entropy::hook_address());
    let handle = std::thread::Builder::new()
        .name(format!("meshsim-sim-{seed}"))
        .stack_size(64 << 20)
        .spawn(move || sim_thread_body(seed, 0, net, entropy_mode, f))
        .map_err(|e| format!("cannot spawn simulation thread: {e}"))?;
    handle.join().map_err(panic_message)
}

#[cfg(test)]
mod tests;
