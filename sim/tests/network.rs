//! The virtual network measured through the real `libp2p_core` transport
//! and muxer interfaces: exact bandwidth and latency arithmetic, queueing,
//! backpressure, loss, partitions and vanished addresses.

use futures::future::poll_fn;
use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p_core::muxing::StreamMuxerExt;
use libp2p_core::transport::{DialOpts, ListenerId, PortUse, Transport, TransportEvent};
use libp2p_core::Endpoint;
use libp2p_identity::Keypair;
use sim::transport::{node_addr, SimTransport};
use sim::world::{self, LinkCondition};
use sim::{AppHandler, Engine, EntropyMode, Limits, NetConfig, Node, MS};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Context;

struct Task(Option<Pin<Box<dyn Future<Output = ()>>>>);

impl Node for Task {
    fn poll(&mut self, cx: &mut Context<'_>) {
        if let Some(f) = self.0.as_mut() {
            if f.as_mut().poll(cx).is_ready() {
                self.0 = None;
            }
        }
    }
}

struct NoApp;
impl AppHandler<Task> for NoApp {
    fn on_app(&mut self, _: &mut Engine<Task>, _: Option<u32>, _: u64) {}
}

fn now() -> u64 {
    sim::clock::now_ns().unwrap()
}

fn dial_opts() -> DialOpts {
    DialOpts {
        role: Endpoint::Dialer,
        port_use: PortUse::Reuse,
    }
}

/// `n` nodes with ids from fixed keys.
fn add_nodes(w: &mut world::World, n: u8) {
    for i in 0..n {
        w.add_node(
            Keypair::ed25519_from_bytes([i + 1; 32])
                .unwrap()
                .public()
                .to_peer_id(),
        );
    }
}

/// Node 0's side of [`transfer`]: dials node 1, opens a substream, writes
/// `sizes` back to back and closes it, keeping the connection open;
/// `dialed` gets the dial's completion time.
async fn send_sizes(sizes: Vec<usize>, dialed: Rc<RefCell<u64>>) {
    let mut t = SimTransport::new(0);
    let (_, mut muxer) = t.dial(node_addr(1), dial_opts()).unwrap().await.unwrap();
    *dialed.borrow_mut() = now();
    let mut s = poll_fn(|cx| muxer.poll_outbound_unpin(cx)).await.unwrap();
    for n in sizes {
        s.write_all(&vec![7u8; n]).await.unwrap();
    }
    s.close().await.unwrap();
    futures::future::pending::<()>().await; // keep the connection open
}

/// Node 1's side of [`transfer`]: listens, reads `sizes` messages from its
/// first inbound substream, recording when each completes in `reads`, then
/// the end of the stream in `eof`.
async fn receive_sizes(
    sizes: Vec<usize>,
    reads: Rc<RefCell<Vec<u64>>>,
    eof: Rc<RefCell<Option<u64>>>,
) {
    let mut t = SimTransport::new(1);
    t.listen_on(ListenerId::next(), node_addr(1)).unwrap();
    let upgrade = loop {
        if let TransportEvent::Incoming { upgrade, .. } =
            poll_fn(|cx| Pin::new(&mut t).poll(cx)).await
        {
            break upgrade;
        }
    };
    let (_, mut muxer) = upgrade.await.unwrap();
    let mut s = poll_fn(|cx| muxer.poll_inbound_unpin(cx)).await.unwrap();
    for n in sizes {
        let mut buf = vec![0u8; n];
        s.read_exact(&mut buf).await.unwrap();
        assert!(buf.iter().all(|&b| b == 7));
        reads.borrow_mut().push(now());
    }
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    *eof.borrow_mut() = Some(now());
}

/// Node 1 listens and reads `sizes` messages from its first inbound
/// substream, recording when each completes; node 0 dials, opens a substream
/// and writes them back to back. Returns (dial completion, read completions).
fn transfer(
    cfg: NetConfig,
    setup: impl FnOnce(&mut world::World) + Send + 'static,
    sizes: Vec<usize>,
) -> (u64, Vec<u64>) {
    sim::runner::run_on_sim_thread(1, cfg, EntropyMode::Seeded, move || {
        world::with(|w| {
            add_nodes(w, 2);
            setup(w);
        });
        let reads = Rc::new(RefCell::new(Vec::new()));
        let dialed = Rc::new(RefCell::new(0u64));
        let eof = Rc::new(RefCell::new(None));
        let mut engine: Engine<Task> = Engine::new(Limits::default());
        engine.add_node(Task(Some(Box::pin(send_sizes(
            sizes.clone(),
            dialed.clone(),
        )))));
        engine.add_node(Task(Some(Box::pin(receive_sizes(
            sizes,
            reads.clone(),
            eof,
        )))));
        engine.run_until(120_000 * MS, &mut NoApp).unwrap();
        let r = reads.borrow().clone();
        let d = *dialed.borrow();
        (d, r)
    })
    .unwrap()
    .0
}

fn constant(ms: f64) -> NetConfig {
    NetConfig {
        latency: sim::latency::LatencyModel::Constant { ms },
        ..NetConfig::default()
    }
}

const MIB: usize = 1 << 20;

#[test]
fn bytes_arrive_at_latency_plus_size_over_rate_and_queue_back_to_back() {
    let l = 40 * MS;
    let r = 50_000_000; // 50 Mbit/s
    let (t0, reads) = transfer(
        constant(40.0),
        move |w| {
            w.set_bandwidth(0, Some(r), Some(r));
            w.set_bandwidth(1, Some(r), Some(r));
        },
        vec![MIB, MIB],
    );
    assert_eq!(t0, 2 * l, "dial: one latency there, one back");
    let s_over_r = sim::world::transfer_ns(MIB as u64, r);
    assert_eq!(s_over_r, 167_772_160, "1 MiB at 50 Mbit/s is 167.77 ms");
    assert_eq!(reads[0] - t0, l + s_over_r, "L + S/R exactly");
    assert_eq!(
        reads[1] - t0,
        l + 2 * s_over_r,
        "the second message queued behind the first"
    );
}

#[test]
fn the_slower_end_is_the_bottleneck() {
    let (t0, reads) = transfer(
        constant(10.0),
        |w| {
            w.set_bandwidth(0, Some(100_000_000), None);
            w.set_bandwidth(1, None, Some(10_000_000));
        },
        vec![100_000],
    );
    assert_eq!(
        reads[0] - t0,
        10 * MS + sim::world::transfer_ns(100_000, 10_000_000)
    );
}

#[test]
fn backpressure_holds_writers_without_losing_bytes() {
    // A 64 KiB uplink buffer and 8 MiB to send: writers block and resume; every byte arrives in order.
    let mut cfg = constant(5.0);
    cfg.uplink_buffer_bytes = 64 << 10;
    let r = 80_000_000;
    let (t0, reads) = transfer(
        cfg,
        move |w| w.set_bandwidth(0, Some(r), None),
        vec![256 << 10; 32],
    );
    assert_eq!(reads.len(), 32);
    let total = sim::world::transfer_ns((256u64 << 10) * 32, r);
    assert_eq!(*reads.last().unwrap() - t0, 5 * MS + total);
}

#[test]
fn no_limits_means_pure_latency() {
    let (t0, reads) = transfer(constant(25.0), |_| {}, vec![1000, 1000]);
    assert_eq!(reads, vec![t0 + 25 * MS, t0 + 25 * MS]);
}

#[test]
fn loss_adds_retransmission_delays_and_degradation_adds_latency() {
    let (t0, reads) = transfer(
        constant(10.0),
        |w| {
            w.set_link_condition(
                0,
                1,
                Some(LinkCondition {
                    extra_latency_ns: 30 * MS,
                    loss: 0.0,
                    bandwidth_factor: 1.0,
                }),
            )
        },
        vec![10],
    );
    // The dial is not a write: 2 x 10 ms. The write pays 10 + 30 ms.
    assert_eq!(t0, 20 * MS);
    assert_eq!(reads[0] - t0, 40 * MS);
    let mut cfg = constant(10.0);
    cfg.loss = 0.5;
    let (t0, reads) = transfer(cfg, |_| {}, vec![10; 200]);
    let extra: Vec<u64> = reads.iter().map(|r| r - t0 - 10 * MS).collect();
    assert!(extra.iter().all(|e| e % (200 * MS) == 0), "whole RTOs only");
    assert!(extra.windows(2).all(|w| w[0] <= w[1]), "FIFO");
    assert!(
        *extra.last().unwrap() > 0,
        "some writes were delayed by loss"
    );
}

#[test]
fn dials_across_a_partition_or_to_a_vanished_address_time_out() {
    for setup in [
        Box::new(|w: &mut world::World| w.partition(&[0, 1]))
            as Box<dyn FnOnce(&mut world::World) + Send>,
        Box::new(|w: &mut world::World| w.set_reachable(1, false)),
    ] {
        let out =
            sim::runner::run_on_sim_thread(1, constant(10.0), EntropyMode::Seeded, move || {
                world::with(|w| {
                    add_nodes(w, 2);
                    setup(w);
                });
                let result = Rc::new(RefCell::new(None));
                let r2 = result.clone();
                let mut engine: Engine<Task> = Engine::new(Limits::default());
                engine.add_node(Task(Some(Box::pin(async move {
                    let mut t = SimTransport::new(0);
                    let r = t.dial(node_addr(1), dial_opts()).unwrap().await;
                    *r2.borrow_mut() = Some((now(), r.err().map(|e| e.kind())));
                }))));
                engine.add_node(Task(Some(Box::pin(async move {
                    let mut t = SimTransport::new(1);
                    t.listen_on(ListenerId::next(), node_addr(1)).unwrap();
                    loop {
                        poll_fn(|cx| Pin::new(&mut t).poll(cx)).await;
                    }
                }))));
                engine.run_until(60_000 * MS, &mut NoApp).unwrap();
                let r = *result.borrow();
                r
            })
            .unwrap()
            .0;
        let (t, kind) = out.expect("dial finished");
        assert_eq!(kind, Some(std::io::ErrorKind::TimedOut));
        assert_eq!(t, 10_000 * MS, "after the dial timeout");
    }
}

/// Node 0 dials node 1 and gives up after 15 ms: the dial reached node 1
/// (10 ms) but its answer was still on the way back (20 ms). A second dial
/// started at once must get its own answer at 15 + 20 ms, not the first
/// dial's answer landing in the freed slot at 20 ms.
#[test]
fn a_dial_given_up_in_flight_does_not_answer_the_next_one() {
    type Dial = Pin<
        Box<
            dyn Future<
                Output = Result<
                    (libp2p_identity::PeerId, libp2p_core::muxing::StreamMuxerBox),
                    std::io::Error,
                >,
            >,
        >,
    >;
    struct Dialer {
        t: SimTransport,
        first: Option<Dial>,
        second: Option<Dial>,
        out: Rc<RefCell<Option<(u64, bool)>>>,
    }
    impl Node for Dialer {
        fn poll(&mut self, cx: &mut Context<'_>) {
            if now() < 15 * MS {
                let d = self.first.get_or_insert_with(|| {
                    Box::pin(self.t.dial(node_addr(1), dial_opts()).unwrap())
                });
                assert!(d.as_mut().poll(cx).is_pending(), "no answer before 20 ms");
                return;
            }
            self.first = None; // give up
            let d = self
                .second
                .get_or_insert_with(|| Box::pin(self.t.dial(node_addr(1), dial_opts()).unwrap()));
            if let std::task::Poll::Ready(r) = d.as_mut().poll(cx) {
                *self.out.borrow_mut() = Some((now(), r.is_ok()));
                self.second = None;
            }
        }
    }
    enum Either {
        Dialer(Dialer),
        Task(Task),
    }
    impl Node for Either {
        fn poll(&mut self, cx: &mut Context<'_>) {
            match self {
                Either::Dialer(d) => d.poll(cx),
                Either::Task(t) => t.poll(cx),
            }
        }
    }
    struct WakeDialer;
    impl AppHandler<Either> for WakeDialer {
        fn on_app(&mut self, _: &mut Engine<Either>, _: Option<u32>, _: u64) {}
    }
    let out = sim::runner::run_on_sim_thread(1, constant(10.0), EntropyMode::Seeded, || {
        world::with(|w| {
            add_nodes(w, 2);
        });
        let out = Rc::new(RefCell::new(None));
        let mut engine: Engine<Either> = Engine::new(Limits::default());
        engine.add_node(Either::Dialer(Dialer {
            t: SimTransport::new(0),
            first: None,
            second: None,
            out: out.clone(),
        }));
        engine.add_node(Either::Task(Task(Some(Box::pin(async move {
            let mut t = SimTransport::new(1);
            t.listen_on(ListenerId::next(), node_addr(1)).unwrap();
            loop {
                if let TransportEvent::Incoming { upgrade, .. } =
                    poll_fn(|cx| Pin::new(&mut t).poll(cx)).await
                {
                    std::mem::forget(upgrade.await);
                }
            }
        })))));
        // Node 0 gives up at 15 ms (an application event wakes it then).
        engine.schedule_app(15 * MS, Some(0), 0);
        engine.run_until(1_000 * MS, &mut WakeDialer).unwrap();
        let r = *out.borrow();
        r
    })
    .unwrap()
    .0;
    assert_eq!(out, Some((35 * MS, true)), "the second dial's own answer");
}

/// [`transfer`] with node 0 and node 1 in different partitions of a
/// partitioned run (two threads, windows of `window_ns`); the end of the
/// stream's time is appended to the read completions.
fn transfer_partitioned(
    cfg: NetConfig,
    setup: fn(&mut world::World),
    sizes: Vec<usize>,
    window_ns: u64,
) -> (u64, Vec<u64>) {
    let results = sim::runner::run_partitions(1, cfg, 2, EntropyMode::Seeded, move |k, ex| {
        world::with(|w| {
            add_nodes(w, 2);
            setup(w);
            w.set_partitioning(k, 2, vec![0, 1]);
        });
        let reads = Rc::new(RefCell::new(Vec::new()));
        let dialed = Rc::new(RefCell::new(0u64));
        let eof = Rc::new(RefCell::new(None));
        let mut engine: Engine<Task> = Engine::new(Limits::default());
        // Each partition runs its own node; the other is an inert stand-in.
        let sender: Pin<Box<dyn Future<Output = ()>>> =
            Box::pin(send_sizes(sizes.clone(), dialed.clone()));
        let receiver: Pin<Box<dyn Future<Output = ()>>> =
            Box::pin(receive_sizes(sizes.clone(), reads.clone(), eof.clone()));
        engine.add_node(Task((k == 0).then_some(sender)));
        engine.add_node(Task((k == 1).then_some(receiver)));
        engine
            .run_windows(120_000 * MS, window_ns, &mut NoApp, ex, k)
            .unwrap();
        let mut r = reads.borrow().clone();
        r.extend(*eof.borrow());
        let d = *dialed.borrow();
        (d, r)
    });
    let mut results = results.into_iter().map(|r| r.expect("no panic").0);
    let (dialed, _) = results.next().unwrap();
    let (_, reads) = results.next().unwrap();
    (dialed, reads)
}

/// Across partitions, bytes take exactly the time they take within one:
/// the dial's round trip, `L + S/R` and queueing at the uplink and at the
/// receiver's downlink (resolved in the receiver's partition), and the end
/// of the stream after the data.
#[test]
fn a_transfer_between_partitions_takes_the_same_time() {
    let r = 50_000_000;
    fn limits(w: &mut world::World) {
        w.set_bandwidth(0, Some(50_000_000), Some(50_000_000));
        w.set_bandwidth(1, Some(50_000_000), Some(10_000_000));
    }
    let (t0, reads) = transfer_partitioned(constant(40.0), limits, vec![MIB, MIB], 40 * MS);
    let (t1, one) = transfer(constant(40.0), limits, vec![MIB, MIB]);
    assert_eq!(t0, 80 * MS);
    assert_eq!(t0, t1);
    // The receiver's 10 Mbit/s downlink is the bottleneck.
    let s_over_down = sim::world::transfer_ns(MIB as u64, 10_000_000);
    assert!(s_over_down > sim::world::transfer_ns(MIB as u64, r));
    assert_eq!(reads[0] - t0, 40 * MS + s_over_down);
    assert_eq!(reads[1] - t0, 40 * MS + 2 * s_over_down);
    assert_eq!(&reads[..2], &one[..]);
    assert_eq!(reads[2], reads[1], "end of stream right after the data");
    // A smaller window changes nothing.
    let (t2, reads2) = transfer_partitioned(constant(40.0), limits, vec![MIB, MIB], 7 * MS);
    assert_eq!((t2, reads2), (t0, reads));
}

#[test]
fn small_writes_between_partitions_take_the_same_time() {
    fn limits(w: &mut world::World) {
        w.set_bandwidth(0, Some(1_000_000_000), Some(1_000_000_000));
        w.set_bandwidth(1, Some(1_000_000), Some(8_000_000));
    }
    let sizes = vec![2048; 40];
    let (t0, reads) = transfer_partitioned(constant(180.0), limits, sizes.clone(), 60 * MS);
    let (t1, one) = transfer(constant(180.0), limits, sizes);
    assert_eq!(t0, t1);
    assert_eq!(&reads[..40], &one[..]);
}

/// A receiver's downlink is a queue in arrival order: bytes from a near
/// sender that arrive first are not held behind bytes a far sender wrote
/// earlier but that arrive later. (Reserving the downlink in write order
/// delayed them by the far link's latency: a gigabit downlink changed
/// results.)
#[test]
fn a_downlink_serves_bytes_in_arrival_order() {
    let out = sim::runner::run_on_sim_thread(1, constant(10.0), EntropyMode::Seeded, || {
        world::with(|w| {
            add_nodes(w, 3);
            w.set_link_latency_ns(0, 2, 100 * MS);
            w.set_link_latency_ns(1, 2, 10 * MS);
            w.set_bandwidth(2, None, Some(1_000_000));
        });
        let got = Rc::new(RefCell::new(Vec::new()));
        let mut engine: Engine<Task> = Engine::new(Limits::default());
        for (node, write_at) in [(0u32, 1_000 * MS), (1, 1_001 * MS)] {
            engine.add_node(Task(Some(Box::pin(async move {
                let mut t = SimTransport::new(node);
                let (_, mut muxer) = t.dial(node_addr(2), dial_opts()).unwrap().await.unwrap();
                let mut s = poll_fn(|cx| muxer.poll_outbound_unpin(cx)).await.unwrap();
                futures_timer::Delay::new(std::time::Duration::from_nanos(write_at - now())).await;
                s.write_all(&[node as u8; 1024]).await.unwrap();
                futures::future::pending::<()>().await;
            }))));
        }
        let got2 = got.clone();
        engine.add_node(Task(Some(Box::pin(async move {
            let mut t = SimTransport::new(2);
            t.listen_on(ListenerId::next(), node_addr(2)).unwrap();
            let mut readers = futures::stream::FuturesUnordered::new();
            for _ in 0..2 {
                let upgrade = loop {
                    if let TransportEvent::Incoming { upgrade, .. } =
                        poll_fn(|cx| Pin::new(&mut t).poll(cx)).await
                    {
                        break upgrade;
                    }
                };
                let got = got2.clone();
                readers.push(async move {
                    let (_, mut muxer) = upgrade.await.unwrap();
                    let mut s = poll_fn(|cx| muxer.poll_inbound_unpin(cx)).await.unwrap();
                    let mut buf = [0u8; 1024];
                    s.read_exact(&mut buf).await.unwrap();
                    got.borrow_mut().push((buf[0], now()));
                    std::mem::forget(muxer);
                });
            }
            use futures::StreamExt;
            while readers.next().await.is_some() {}
        }))));
        engine.run_until(5_000 * MS, &mut NoApp).unwrap();
        let r = got.borrow().clone();
        r
    })
    .unwrap()
    .0;
    let s = sim::world::transfer_ns(1024, 1_000_000);
    assert_eq!(s, 8_192_000);
    // Node 1 wrote 1 ms later over 10 ms: its bytes arrive first and take
    // the idle downlink; node 0's arrive 89 ms later, also to an idle downlink.
    assert_eq!(out, vec![(1, 1_011 * MS + s), (0, 1_100 * MS + s)]);
}
