//! The virtual transport and muxer: a `libp2p_core::Transport` whose
//! connections are [`SimMuxer`]s over the simulated world's byte pipes.
//!
//! No encryption and no yamux: the transport knows who is at the other end.
//! Multistream-select and every protocol codec still run for real on each
//! substream. Addresses are `/ip4/<virtual ip>/tcp/<port>`.

use crate::world::{self, DialError};
use futures::io::{AsyncRead, AsyncWrite};
use libp2p_core::multiaddr::{Multiaddr, Protocol};
use libp2p_core::muxing::{StreamMuxer, StreamMuxerBox, StreamMuxerEvent};
use libp2p_core::transport::{DialOpts, ListenerId, Transport, TransportError, TransportEvent};
use libp2p_identity::PeerId;
use std::future::Future;
use std::io;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The address node `ip:port` listens on.
pub fn listen_addr(ip: Ipv4Addr, port: u16) -> Multiaddr {
    Multiaddr::empty()
        .with(Protocol::Ip4(ip))
        .with(Protocol::Tcp(port))
}

/// The listen address of `node` in the current world.
pub fn node_addr(node: u32) -> Multiaddr {
    world::with(|w| {
        let n = &w.nodes[node as usize];
        listen_addr(n.ip, n.port)
    })
}

fn parse_addr(addr: &Multiaddr) -> Option<(Ipv4Addr, u16)> {
    let mut it = addr.iter();
    let ip = match it.next()? {
        Protocol::Ip4(ip) => ip,
        _ => return None,
    };
    let port = match it.next()? {
        Protocol::Tcp(p) => p,
        _ => return None,
    };
    match it.next() {
        None | Some(Protocol::P2p(_)) => Some((ip, port)),
        _ => None,
    }
}

/// One node's transport.
pub struct SimTransport {
    node: u32,
    listener: Option<(ListenerId, Multiaddr)>,
    announced: bool,
}

impl SimTransport {
    /// The transport of simulated node `node`.
    pub fn new(node: u32) -> SimTransport {
        SimTransport {
            node,
            listener: None,
            announced: false,
        }
    }

    /// Boxed, as `Swarm::new` takes it.
    pub fn boxed(node: u32) -> libp2p_core::transport::Boxed<(PeerId, StreamMuxerBox)> {
        Transport::boxed(SimTransport::new(node))
    }
}

fn peer_of(node: u32) -> PeerId {
    world::with(|w| w.nodes[node as usize].peer_id)
}

impl Transport for SimTransport {
    type Output = (PeerId, StreamMuxerBox);
    type Error = io::Error;
    type ListenerUpgrade = futures::future::Ready<Result<Self::Output, io::Error>>;
    type Dial = DialFuture;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<io::Error>> {
        let node = self.node;
        let (ip, port) = world::with(|w| {
            let n = &w.nodes[node as usize];
            (n.ip, n.port)
        });
        match parse_addr(&addr) {
            Some((aip, aport))
                if (aip == ip || aip.is_unspecified()) && (aport == port || aport == 0) => {}
            _ => return Err(TransportError::MultiaddrNotSupported(addr)),
        }
        if self.listener.is_some() {
            return Err(TransportError::Other(io::Error::new(
                io::ErrorKind::AddrInUse,
                "a simulated node listens on one address",
            )));
        }
        self.listener = Some((id, listen_addr(ip, port)));
        self.announced = false;
        world::with(|w| {
            w.listen(node);
            w.wake_listener(node);
        });
        Ok(())
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        if self.listener.as_ref().is_some_and(|(l, _)| *l == id) {
            self.listener = None;
            let node = self.node;
            world::with(|w| w.stop_listening(node));
            true
        } else {
            false
        }
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        _opts: DialOpts,
    ) -> Result<DialFuture, TransportError<io::Error>> {
        let Some((ip, port)) = parse_addr(&addr) else {
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        let from = self.node;
        let to = world::with(|w| w.node_at(ip, port));
        if to == Some(from) {
            return Err(TransportError::Other(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a node cannot dial itself",
            )));
        }
        let dial = world::with(|w| w.new_dial(from, to));
        Ok(DialFuture {
            dial: Some(dial),
            from,
        })
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, io::Error>> {
        let Some((id, addr)) = self.listener.clone() else {
            return Poll::Pending;
        };
        if !self.announced {
            self.announced = true;
            return Poll::Ready(TransportEvent::NewAddress {
                listener_id: id,
                listen_addr: addr,
            });
        }
        let node = self.node;
        let incoming = world::with(|w| {
            w.poll_incoming(node, cx.waker()).map(|(c, gen)| {
                let remote = w.conn_nodes(c)[0];
                let r = &w.nodes[remote as usize];
                (c, gen, r.peer_id, r.ip)
            })
        });
        match incoming {
            Some((c, gen, remote_peer, remote_ip)) => {
                let muxer = SimMuxer {
                    conn: c,
                    gen,
                    side: 1,
                };
                Poll::Ready(TransportEvent::Incoming {
                    listener_id: id,
                    upgrade: futures::future::ready(Ok((remote_peer, StreamMuxerBox::new(muxer)))),
                    local_addr: addr,
                    // An ephemeral port on the dialer's address.
                    send_back_addr: listen_addr(remote_ip, 40000 + (c % 20000) as u16),
                })
            }
            None => Poll::Pending,
        }
    }
}

/// A dial in progress: one latency to reach the listener, one back.
pub struct DialFuture {
    dial: Option<u32>,
    from: u32,
}

impl Future for DialFuture {
    type Output = Result<(PeerId, StreamMuxerBox), io::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(dial) = self.dial else {
            return Poll::Ready(Err(io::Error::other("dial polled after completion")));
        };
        let _ = self.from;
        match world::with(|w| w.poll_dial(dial, cx.waker())) {
            None => Poll::Pending,
            Some(r) => {
                self.dial = None;
                world::with(|w| w.drop_dial(dial));
                Poll::Ready(match r {
                    Ok((c, gen)) => {
                        let remote = world::with(|w| w.conn_nodes(c)[1]);
                        Ok((
                            peer_of(remote),
                            StreamMuxerBox::new(SimMuxer {
                                conn: c,
                                gen,
                                side: 0,
                            }),
                        ))
                    }
                    Err(DialError::Refused) => Err(io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        "connection refused (simulated)",
                    )),
                    Err(DialError::Timeout) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "dial timed out (simulated)",
                    )),
                })
            }
        }
    }
}

impl Drop for DialFuture {
    fn drop(&mut self) {
        if let Some(dial) = self.dial.take() {
            world::try_with(|w| w.drop_dial(dial));
        }
    }
}

/// One side of a simulated connection.
pub struct SimMuxer {
    conn: u32,
    gen: u32,
    side: u8,
}

fn closed_err() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection closed (simulated)",
    )
}

impl StreamMuxer for SimMuxer {
    type Substream = SimStream;
    type Error = io::Error;

    fn poll_inbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<SimStream, io::Error>> {
        let (c, gen, side) = (self.conn, self.gen, self.side);
        match world::with(|w| w.poll_inbound(c, gen, side, cx.waker())) {
            Err(()) => Poll::Ready(Err(closed_err())),
            Ok(None) => Poll::Pending,
            Ok(Some((s, sgen))) => Poll::Ready(Ok(SimStream {
                stream: s,
                gen: sgen,
                end: 1,
            })),
        }
    }

    fn poll_outbound(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Result<SimStream, io::Error>> {
        let (c, gen, side) = (self.conn, self.gen, self.side);
        match world::with(|w| w.open_outbound(c, gen, side)) {
            Some((s, sgen)) => Poll::Ready(Ok(SimStream {
                stream: s,
                gen: sgen,
                end: 0,
            })),
            None => Poll::Ready(Err(closed_err())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        let (c, gen, side) = (self.conn, self.gen, self.side);
        world::with(|w| w.close_conn(c, gen, side));
        Poll::Ready(Ok(()))
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, io::Error>> {
        let (c, gen, side) = (self.conn, self.gen, self.side);
        if world::with(|w| w.poll_muxer(c, gen, side, cx.waker())) {
            Poll::Ready(Err(closed_err()))
        } else {
            Poll::Pending
        }
    }
}

impl Drop for SimMuxer {
    fn drop(&mut self) {
        let (c, gen, side) = (self.conn, self.gen, self.side);
        world::try_with(|w| w.muxer_dropped(c, gen, side));
    }
}

/// One end of a simulated substream.
pub struct SimStream {
    stream: u32,
    gen: u32,
    end: u8,
}

impl AsyncRead for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let (s, gen, end) = (self.stream, self.gen, self.end);
        match world::with(|w| w.read(s, gen, end, buf, cx.waker())) {
            Ok(Some(n)) => Poll::Ready(Ok(n)),
            Ok(None) => Poll::Pending,
            Err(()) => Poll::Ready(Err(closed_err())),
        }
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let (s, gen, end) = (self.stream, self.gen, self.end);
        match world::with(|w| w.write(s, gen, end, buf, cx.waker())) {
            Ok(Some(n)) => Poll::Ready(Ok(n)),
            Ok(None) => Poll::Pending,
            Err(()) => Poll::Ready(Err(closed_err())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (s, gen, end) = (self.stream, self.gen, self.end);
        world::with(|w| w.close_write(s, gen, end));
        Poll::Ready(Ok(()))
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        let (s, gen, end) = (self.stream, self.gen, self.end);
        // The world may already be gone when a run is torn down.
        world::try_with(|w| w.stream_dropped(s, gen, end));
    }
}
