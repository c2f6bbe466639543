use super::fuse::Fuse;
use super::Decoder;

use bytes::BytesMut;
use futures_sink::Sink;
use meshsim_packed::Packed;
use futures_util::io::AsyncRead;
use futures_util::ready;
use futures_util::stream::{Stream, TryStreamExt};
use pin_project_lite::pin_project;
use std::io;
use std::marker::Unpin;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A `Stream` of messages decoded from an `AsyncRead`.
///
/// # Example
/// ```
/// use asynchronous_codec::{BytesCodec, FramedRead};
/// use futures::TryStreamExt;
/// use bytes::{Bytes};
///
/// let buf = [3u8; 3];
/// let mut framed = FramedRead::new(&buf[..], BytesCodec);
///
/// # futures::executor::block_on(async move {
/// if let Some(bytes) = framed.try_next().await? {
///     assert_eq!(bytes, Bytes::copy_from_slice(&buf[..]));
/// }
/// # Ok::<_, std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct FramedRead<T, D> {
    inner: FramedRead2<Fuse<T, D>>,
}

impl<T, D> Deref for FramedRead<T, D> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T, D> DerefMut for FramedRead<T, D> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T, D> FramedRead<T, D>
where
    T: AsyncRead,
    D: Decoder,
{
    /// Creates a new `FramedRead` transport with the given `Decoder`.
    pub fn new(inner: T, decoder: D) -> Self {
        Self {
            inner: framed_read_2(Fuse::new(inner, decoder), None),
        }
    }

    /// Creates a new `FramedRead` from [`FramedReadParts`].
    ///
    /// See also [`FramedRead::into_parts`].
    pub fn from_parts(
        FramedReadParts {
            io,
            decoder,
            buffer,
            ..
        }: FramedReadParts<T, D>,
    ) -> Self {
        Self {
            inner: framed_read_2(Fuse::new(io, decoder), Some(buffer)),
        }
    }

    /// Consumes the `FramedRead`, returning its parts such that a
    /// new `FramedRead` may be constructed, possibly with a different decoder.
    ///
    /// See also [`FramedRead::from_parts`].
    pub fn into_parts(self) -> FramedReadParts<T, D> {
        let (fuse, buffer) = self.inner.into_parts();
        FramedReadParts {
            io: fuse.t,
            decoder: fuse.u,
            buffer,
            _priv: (),
        }
    }

    /// Consumes the `FramedRead`, returning its underlying I/O stream.
    ///
    /// Note that data that has already been read but not yet consumed
    /// by the decoder is dropped. To retain any such potentially
    /// buffered data, use [`FramedRead::into_parts()`].
    pub fn into_inner(self) -> T {
        self.into_parts().io
    }

    /// Returns a reference to the underlying decoder.
    ///
    /// Note that care should be taken to not tamper with the underlying decoder
    /// as it may corrupt the stream of frames otherwise being worked with.
    pub fn decoder(&self) -> &D {
        &self.inner.u
    }

    /// Returns a mutable reference to the underlying decoder.
    ///
    /// Note that care should be taken to not tamper with the underlying decoder
    /// as it may corrupt the stream of frames otherwise being worked with.
    pub fn decoder_mut(&mut self) -> &mut D {
        &mut self.inner.u
    }

    /// Returns a reference to the read buffer.
    ///
    /// meshsim: while a large GossipSub frame is arriving (held packed),
    /// the buffer is empty; nothing in libp2p reads it.
    pub fn read_buffer(&self) -> &BytesMut {
        &self.inner.buffer
    }
}

impl<T, D> Stream for FramedRead<T, D>
where
    T: AsyncRead + Unpin,
    D: Decoder,
{
    type Item = Result<D::Item, D::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.try_poll_next_unpin(cx)
    }
}

pin_project! {
    #[derive(Debug)]
    pub struct FramedRead2<T> {
        #[pin]
        inner: T,
        buffer: BytesMut,
        // meshsim: the most the buffer held since it was last shrunk.
        held: usize,
        // meshsim: a large frame still arriving, held packed (its zero runs
        // take no memory) instead of in `buffer`, with the length at which
        // it is complete; and whether the decoder is one known to find
        // nothing in an incomplete frame under its size limit.
        arriving: Option<(Packed, usize)>,
        may_hold: bool,
    }
}

impl<T> Deref for FramedRead2<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for FramedRead2<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

const INITIAL_CAPACITY: usize = 8 * 1024;

/// meshsim: a buffer that held more than this (a large frame) gives its
/// memory back once that frame is decoded: what is left, if anything, is
/// moved into a buffer of its own size (`BytesMut` keeps its allocation,
/// shared with the split-off frame, otherwise).
const KEEP_AT_MOST: usize = 64 * 1024;

/// meshsim: shrinks a buffer that a large frame made big, after a decode.
fn shrink(buffer: &mut BytesMut, held: &mut usize) {
    if *held > KEEP_AT_MOST {
        *buffer = BytesMut::from(&buffer[..]);
        *held = buffer.len();
    }
}

/// meshsim: whether a reader of `T` may hold an incomplete frame packed:
/// GossipSub's codec, whose `decode` of a buffer that starts with a varint
/// length prefix, holds less than the frame and is within its size limit
/// returns `Ok(None)` and changes nothing (`validate_rpc_limits` and
/// `prost_codec::Codec::decode` in libp2p-gossipsub 0.50), so not calling
/// it until the frame is complete gives the same results.
fn may_hold<T>() -> bool {
    std::any::type_name::<T>().contains("libp2p_gossipsub::protocol::GossipsubCodec")
}

/// meshsim: where a frame starting the buffer is complete, if the buffer
/// is large, holds less than that and a reader may hold such a frame.
fn hold_until(buffer: &BytesMut) -> Option<usize> {
    if buffer.len() <= KEEP_AT_MOST {
        return None;
    }
    let total = meshsim_packed::varint_frame_len(buffer)?;
    (total > buffer.len() && total <= meshsim_packed::read_hold()).then_some(total)
}

pub fn framed_read_2<T>(inner: T, buffer: Option<BytesMut>) -> FramedRead2<T> {
    FramedRead2 {
        inner,
        // meshsim: starts empty (was `BytesMut::with_capacity(INITIAL_CAPACITY)`).
        buffer: buffer.unwrap_or_default(),
        held: 0,
        arriving: None,
        may_hold: may_hold::<T>(),
    }
}

impl<T> Stream for FramedRead2<T>
where
    T: AsyncRead + Decoder + Unpin,
{
    type Item = Result<T::Item, T::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;

        // meshsim: a frame held packed is incomplete: nothing to decode.
        if this.arriving.is_none() {
            if let Some(item) = this.inner.decode(&mut this.buffer)? {
                shrink(&mut this.buffer, &mut this.held);
                return Poll::Ready(Some(Ok(item)));
            }
        }

        let mut buf = [0u8; INITIAL_CAPACITY];

        loop {
            let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf))?;
            let ended = n == 0;
            // meshsim: a held frame grows packed until it is complete (or
            // the stream ends), then is unpacked into the buffer as it
            // would have been, and decoding goes on as before.
            if let Some((p, until)) = &mut this.arriving {
                p.append(&buf[..n]);
                if !ended && p.len() < *until {
                    continue;
                }
                let (p, _) = this.arriving.take().expect("held frame");
                this.buffer = BytesMut::zeroed(p.len());
                p.copy_out(0, &mut this.buffer);
            } else {
                this.buffer.extend_from_slice(&buf[..n]);
            }
            this.held = this.held.max(this.buffer.len());

            match this.inner.decode(&mut this.buffer)? {
                Some(item) => {
                    shrink(&mut this.buffer, &mut this.held);
                    return Poll::Ready(Some(Ok(item)));
                }
                None if ended => {
                    if this.buffer.is_empty() {
                        return Poll::Ready(None);
                    } else {
                        match this.inner.decode_eof(&mut this.buffer)? {
                            Some(item) => return Poll::Ready(Some(Ok(item))),
                            None if this.buffer.is_empty() => return Poll::Ready(None),
                            None => {
                                return Poll::Ready(Some(Err(io::Error::new(
                                    io::ErrorKind::UnexpectedEof,
                                    "bytes remaining in stream",
                                )
                                .into())));
                            }
                        }
                    }
                }
                _ => {
                    // meshsim: a large frame still arriving waits packed.
                    if let Some(until) = this.may_hold.then(|| hold_until(&this.buffer)).flatten() {
                        let p = Packed::copy_of(&this.buffer, None);
                        this.arriving = Some((p, until));
                        this.buffer = BytesMut::new();
                        this.held = 0;
                        meshsim_packed::note_frame_held();
                    }
                    continue;
                }
            }
        }
    }
}

impl<T, I> Sink<I> for FramedRead2<T>
where
    T: Sink<I> + Unpin,
{
    type Error = T::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context) -> Poll<Result<(), Self::Error>> {
        self.project().inner.poll_ready(cx)
    }
    fn start_send(self: Pin<&mut Self>, item: I) -> Result<(), Self::Error> {
        self.project().inner.start_send(item)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context) -> Poll<Result<(), Self::Error>> {
        self.project().inner.poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context) -> Poll<Result<(), Self::Error>> {
        self.project().inner.poll_close(cx)
    }
}

impl<T> FramedRead2<T> {
    pub fn into_parts(mut self) -> (T, BytesMut) {
        // meshsim: a frame held packed is part of what was read.
        if let Some((p, _)) = self.arriving.take() {
            self.buffer = BytesMut::from(&p.to_vec()[..]);
        }
        (self.inner, self.buffer)
    }

    pub fn buffer(&self) -> &BytesMut {
        &self.buffer
    }
}

/// The parts obtained from (FramedRead::into_parts).
pub struct FramedReadParts<T, D> {
    /// The underlying I/O stream.
    pub io: T,
    /// The frame decoder.
    pub decoder: D,
    /// The buffer of data that has been read from `io` but not
    /// yet consumed by `decoder`.
    pub buffer: BytesMut,
    /// Keep the constructor private.
    _priv: (),
}

impl<T, D> FramedReadParts<T, D> {
    /// Changes the decoder in `FramedReadParts`.
    pub fn map_decoder<E, F>(self, f: F) -> FramedReadParts<T, E>
    where
        E: Decoder,
        F: FnOnce(D) -> E,
    {
        FramedReadParts {
            io: self.io,
            decoder: f(self.decoder),
            buffer: self.buffer,
            _priv: (),
        }
    }
}
