//! What the engine shows of, and lets a model change in, the bytes on the wire.

/// Sees every write on every substream (for wire-level metrics).
pub trait WireTap {
    /// `bytes` were written by `from` to `to` on substream `stream` and reach
    /// `to` at `deliver_at_ns` (before its downlink queue, when `to` has a
    /// download limit: they are readable once through it).
    fn on_write(&mut self, from: u32, to: u32, stream: u64, deliver_at_ns: u64, bytes: &[u8]);
}

/// Rewrites what selected nodes write: wire-level adversaries that send
/// what their (unmodified) protocol stack would not. The engine knows
/// nothing of the protocol; the filter sees raw substream bytes.
///
/// Rewritten bytes are what travels: timing, bandwidth, byte counters and
/// the [`WireTap`] all see them. The writer is told its whole buffer was
/// written either way.
pub trait WireFilter {
    /// Whether writes from `from` to `to` go through [`WireFilter::rewrite`]
    /// (called on every write: keep it cheap).
    fn wants(&self, from: u32, to: u32) -> bool;
    /// `bytes` were written by `from` to `to` on substream `stream` at virtual
    /// time `now_ns`. Return `false` to send them unchanged, or `true` to send
    /// `out` instead (possibly empty: bytes may be held back until a frame
    /// completes and sent with a later write).
    fn rewrite(
        &mut self,
        from: u32,
        to: u32,
        stream: u64,
        now_ns: u64,
        bytes: &[u8],
        out: &mut Vec<u8>,
    ) -> bool;

    /// The bytes of the last [`WireFilter::rewrite`] call for this write
    /// (rewritten or not) were sent at `sent_ns` and arrive at `deliver_at_ns`
    /// (before the receiver's downlink queue, if it has a download limit).
    /// Not called when the rewrite sent nothing.
    fn delivered(&mut self, from: u32, to: u32, stream: u64, sent_ns: u64, deliver_at_ns: u64) {
        let _ = (from, to, stream, sent_ns, deliver_at_ns);
    }

    /// In a partitioned run, instead of [`WireFilter::delivered`] when the
    /// receiver `to` is simulated in another partition: what the filter
    /// there must learn from this write. Each note is handed to that
    /// partition's filter ([`WireFilter::learn`]) at `deliver_at_ns`, when
    /// the bytes arrive, in the order returned. By default: `delivered`,
    /// and nothing to tell.
    fn delivered_elsewhere(
        &mut self,
        from: u32,
        to: u32,
        stream: u64,
        sent_ns: u64,
        deliver_at_ns: u64,
    ) -> Vec<FilterNote> {
        self.delivered(from, to, stream, sent_ns, deliver_at_ns);
        Vec::new()
    }

    /// A note from [`WireFilter::delivered_elsewhere`] in another
    /// partition, at the time the write it describes arrives here.
    fn learn(&mut self, note: FilterNote) {
        let _ = note;
    }
}

/// What a [`WireFilter`] in one partition tells the filter in another
/// (opaque to the engine; the filter downcasts it).
pub struct FilterNote(pub Box<dyn std::any::Any + Send>);

impl std::fmt::Debug for FilterNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FilterNote(..)")
    }
}
