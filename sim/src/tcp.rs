//! The `tcp` transport model, sans-IO: how much one direction of a
//! connection may send per round trip (its congestion window), how a write
//! is framed, and what a byte costs on the wire. The world
//! ([`crate::world`]) moves the bytes; this module decides.
//!
//! A flow-level model, in rounds (as in Cardwell, Savage and Anderson,
//! "Modeling TCP latency", INFOCOM 2000): a direction that has data and no
//! round under way starts one; within a round it may send up to `cwnd`
//! bytes (as fast as its share of the uplink lets it); the round ends one
//! round-trip time after it began, when those bytes are acknowledged, and
//! the window grows:
//!
//! - **slow start** (RFC 5681 section 3.1): `cwnd += bytes acknowledged`,
//!   so a window that was used up doubles every round, up to `ssthresh`;
//!   Linux's `tcp_slow_start` counts acknowledged segments the same way;
//! - **congestion avoidance** (RFC 5681, Reno; Linux's `tcp_cong_avoid_ai`):
//!   one MSS per round in which the window was used up;
//! - a window that limited nothing does not grow (Linux's
//!   `tcp_is_cwnd_limited`: in slow start, only while more than half of it
//!   was in use; RFC 7661);
//! - **restart after idle** (RFC 2861, RFC 5681 section 4.1; Linux
//!   `tcp_cwnd_restart` with `net.ipv4.tcp_slow_start_after_idle = 1`, the
//!   default): data after an idle period longer than the RTO halves the
//!   window once per RTO of idle time (the first included), never below
//!   `min(initial window, cwnd)`, and `ssthresh` keeps at least 3/4 of the
//!   old window;
//! - **loss**: a retransmission timeout leaves `loss_window` segments and
//!   halves `ssthresh`; a loss repaired by fast retransmit (at least four
//!   segments in flight) halves the window, once per round.
//!
//! The window counts bytes of TCP payload (the muxer's and the security
//! layer's framing included); the uplink is charged the payload plus one
//! set of segment headers per MSS.

/// Parameters of the `tcp` transport model.
#[derive(Clone, Debug, PartialEq)]
pub struct TcpConfig {
    /// Payload bytes per segment (MSS).
    pub mss: u32,
    /// Bytes of headers per segment on the wire (IP, TCP and its options).
    pub segment_header_bytes: u32,
    /// Initial congestion window, segments.
    pub initial_window: u32,
    /// Congestion window after a retransmission timeout, segments.
    pub loss_window: u32,
    /// Lower bound of the retransmission timeout, ns.
    pub rto_min_ns: u64,
    /// The retransmission timeout is `max(rto_min, rtt + rto_var)`, ns.
    pub rto_var_ns: u64,
    /// Slow-start restart after an idle period longer than the RTO.
    pub restart_after_idle: bool,
    /// Send buffer per connection, bytes (written but not yet
    /// acknowledged); 0: automatic, twice the congestion window, from
    /// 16 KiB to 4 MiB.
    pub send_buffer_bytes: u64,
    /// Muxer: each stream's initial receive window (credit), bytes.
    pub stream_window_bytes: u64,
    /// Muxer: a stream's window doubles when its reader consumed half of it
    /// in under two round trips (yamux's auto-tuning).
    pub stream_window_autotune: bool,
    /// Muxer: the largest a stream's window grows to, bytes.
    pub stream_window_max_bytes: u64,
    /// Largest muxer frame body, bytes (a write is framed in frames of at
    /// most this).
    pub frame_bytes: u32,
    /// Framing bytes per muxer frame (muxer header and security tag).
    pub frame_overhead_bytes: u32,
    /// When the dialer's side of a new connection is ready, in round trips
    /// after the dial started (TCP handshake, security handshake, muxer
    /// negotiation).
    pub dialer_ready_rtt: f64,
    /// When the listener's side is ready, in round trips after the dial started.
    pub listener_ready_rtt: f64,
}

/// Nanoseconds per millisecond.
const MS: u64 = 1_000_000;

impl TcpConfig {
    /// Linux defaults, and libp2p's default TCP upgrade (noise, yamux,
    /// multistream-select V1Lazy): see `docs/transport.md` for each source.
    pub fn linux() -> TcpConfig {
        TcpConfig {
            mss: 1448,
            segment_header_bytes: 52,
            initial_window: 10,
            loss_window: 1,
            rto_min_ns: 200 * MS,
            rto_var_ns: 200 * MS,
            restart_after_idle: true,
            send_buffer_bytes: 0,
            stream_window_bytes: 256 << 10,
            stream_window_autotune: true,
            stream_window_max_bytes: 16 << 20,
            frame_bytes: 16 << 10,
            frame_overhead_bytes: 12 + 18,
            dialer_ready_rtt: 2.0,
            listener_ready_rtt: 2.5,
        }
    }

    /// What the Shadow simulator's TCP (its default, legacy stack with
    /// Reno) does, with the libp2p test-plans node's upgrade
    /// (multistream-select V1): see `docs/transport.md`.
    pub fn shadow() -> TcpConfig {
        TcpConfig {
            mss: 1460,
            segment_header_bytes: 40,
            initial_window: 2,
            loss_window: 10,
            rto_var_ns: 0,
            restart_after_idle: false,
            dialer_ready_rtt: 4.0,
            listener_ready_rtt: 3.5,
            ..TcpConfig::linux()
        }
    }

    /// The retransmission timeout for a round-trip time of `rtt_ns`.
    pub fn rto_ns(&self, rtt_ns: u64) -> u64 {
        self.rto_min_ns.max(rtt_ns + self.rto_var_ns)
    }

    /// The initial congestion window, bytes.
    pub fn initial_cwnd(&self) -> u64 {
        u64::from(self.initial_window.max(1)) * u64::from(self.mss)
    }

    /// TCP payload bytes of an application write of `app` bytes: the
    /// write in muxer frames, each with its framing bytes.
    pub fn payload_len(&self, app: u64) -> u64 {
        let frames = app.div_ceil(u64::from(self.frame_bytes.max(1))).max(1);
        app + frames * u64::from(self.frame_overhead_bytes)
    }

    /// Bytes on the wire for `payload` bytes of TCP payload sent together:
    /// one set of segment headers per MSS (or part of one).
    pub fn wire_len(&self, payload: u64) -> u64 {
        payload
            + payload.div_ceil(u64::from(self.mss.max(1))) * u64::from(self.segment_header_bytes)
    }

    /// The send buffer for a window of `cwnd` bytes.
    pub fn send_buffer(&self, cwnd: u64) -> u64 {
        if self.send_buffer_bytes > 0 {
            self.send_buffer_bytes
        } else {
            (2 * cwnd).clamp(16 << 10, 4 << 20)
        }
    }
}

/// The congestion window of one direction of a connection, in rounds.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// Congestion window, bytes.
    pub cwnd: u64,
    /// Slow-start threshold, bytes.
    pub ssthresh: u64,
    /// When the round under way ends (its bytes are acknowledged), ns.
    round_end: Option<u64>,
    /// Bytes this round may still send.
    allowance: u64,
    /// Bytes sent in this round.
    sent: u64,
    /// The window was reduced for a loss in this round.
    reduced: bool,
    /// Bytes acknowledged in congestion avoidance since the window last grew.
    ca_credit: u64,
    /// When data was last sent, ns (`None`: never).
    last_send_ns: Option<u64>,
}

impl Window {
    /// A new connection's window.
    pub fn new(cfg: &TcpConfig) -> Window {
        Window {
            cwnd: cfg.initial_cwnd(),
            ssthresh: u64::MAX,
            round_end: None,
            allowance: 0,
            sent: 0,
            reduced: false,
            ca_credit: 0,
            last_send_ns: None,
        }
    }

    /// When the round under way ends, if one is.
    pub fn round_end(&self) -> Option<u64> {
        self.round_end
    }

    /// Bytes the round under way may still send (0 without a round).
    pub fn allowance(&self) -> u64 {
        self.allowance
    }

    /// Bytes sent in the round under way (not yet acknowledged).
    pub fn in_flight(&self) -> u64 {
        self.sent
    }

    /// Starts a round at `now` (data is waiting and none is under way),
    /// after restarting the window if the connection was idle longer than
    /// the RTO; returns when the round ends.
    pub fn start_round(&mut self, cfg: &TcpConfig, now: u64, rtt_ns: u64) -> u64 {
        debug_assert!(self.round_end.is_none());
        if let Some(last) = self.last_send_ns {
            let rto = cfg.rto_ns(rtt_ns).max(1);
            let idle = now.saturating_sub(last);
            if cfg.restart_after_idle && idle > rto {
                self.restart(cfg, idle, rto);
            }
        }
        let end = now + rtt_ns.max(1);
        self.round_end = Some(end);
        self.allowance = self.cwnd;
        self.sent = 0;
        self.reduced = false;
        end
    }

    /// Linux's `tcp_cwnd_restart`: one halving per RTO of idle time.
    fn restart(&mut self, cfg: &TcpConfig, idle: u64, rto: u64) {
        self.ssthresh = self.ssthresh.max((self.cwnd >> 1) + (self.cwnd >> 2));
        let restart = cfg.initial_cwnd().min(self.cwnd);
        let mut delta = idle;
        while delta > rto && self.cwnd > restart {
            delta -= rto;
            self.cwnd /= 2;
        }
        self.cwnd = self.cwnd.max(restart);
    }

    /// `bytes` left at `now` within the round's allowance.
    pub fn on_sent(&mut self, bytes: u64, now: u64) {
        self.allowance = self.allowance.saturating_sub(bytes);
        self.sent += bytes;
        self.last_send_ns = Some(now);
    }

    /// The round under way ends: what was sent is acknowledged and the
    /// window grows (see the module doc).
    pub fn end_round(&mut self, cfg: &TcpConfig) {
        let (sent, cwnd) = (self.sent, self.cwnd);
        let limited = self.allowance == 0;
        let mss = u64::from(cfg.mss.max(1));
        if cwnd < self.ssthresh {
            if 2 * sent > cwnd {
                let grown = cwnd.saturating_add(sent);
                self.cwnd = grown.min(self.ssthresh);
                // Acknowledged bytes beyond ssthresh go to congestion avoidance.
                let rest = grown.saturating_sub(self.ssthresh);
                self.avoid(rest, mss);
            }
        } else if limited {
            self.avoid(sent, mss);
        }
        self.round_end = None;
        self.allowance = 0;
        self.sent = 0;
    }

    /// Congestion avoidance: one MSS per window of acknowledged bytes.
    fn avoid(&mut self, acked: u64, mss: u64) {
        self.ca_credit += acked;
        while self.ca_credit >= self.cwnd.max(1) {
            self.ca_credit -= self.cwnd.max(1);
            self.cwnd += mss;
        }
    }

    /// A loss: after a retransmission timeout (`timeout`) the window falls
    /// to the loss window; after a fast retransmit it halves, once per round.
    pub fn on_loss(&mut self, cfg: &TcpConfig, timeout: bool) {
        let mss = u64::from(cfg.mss.max(1));
        if timeout {
            self.ssthresh = (self.cwnd / 2).max(2 * mss);
            self.cwnd = u64::from(cfg.loss_window.max(1)) * mss;
        } else if !self.reduced {
            self.ssthresh = (self.cwnd / 2).max(2 * mss);
            self.cwnd = self.ssthresh;
        }
        self.reduced = true;
        self.allowance = self.allowance.min(self.cwnd.saturating_sub(self.sent));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TcpConfig {
        TcpConfig::linux()
    }

    #[test]
    fn slow_start_doubles_a_used_up_window_each_round() {
        let c = cfg();
        let mut w = Window::new(&c);
        let iw = 10 * 1448;
        assert_eq!(w.cwnd, iw);
        for k in 0..5u32 {
            w.start_round(&c, u64::from(k) * 100, 100);
            let a = w.allowance();
            assert_eq!(a, iw << k);
            w.on_sent(a, u64::from(k) * 100);
            w.end_round(&c);
        }
        assert_eq!(w.cwnd, iw << 5);
    }

    #[test]
    fn a_window_that_limited_nothing_does_not_grow() {
        let c = cfg();
        let mut w = Window::new(&c);
        w.start_round(&c, 0, 100);
        w.on_sent(1000, 0);
        w.end_round(&c);
        assert_eq!(w.cwnd, c.initial_cwnd());
    }

    #[test]
    fn congestion_avoidance_adds_one_mss_per_full_round() {
        let c = cfg();
        let mut w = Window::new(&c);
        w.ssthresh = w.cwnd;
        let before = w.cwnd;
        w.start_round(&c, 0, 100);
        w.on_sent(w.allowance(), 0);
        w.end_round(&c);
        assert_eq!(w.cwnd, before + 1448);
    }

    #[test]
    fn idle_longer_than_the_rto_halves_the_window_per_rto() {
        // Linux's example: cwnd 80 segments, RTO 300 ms, idle 700 ms:
        // two halvings, 20 segments.
        let c = TcpConfig {
            rto_min_ns: 300 * MS,
            rto_var_ns: 0,
            ..cfg()
        };
        let mut w = Window::new(&c);
        w.cwnd = 80 * 1448;
        w.last_send_ns = Some(0);
        w.start_round(&c, 700 * MS, 100 * MS);
        assert_eq!(w.cwnd, 20 * 1448);
        // Long idle: down to the initial window, not below.
        let mut w = Window::new(&c);
        w.cwnd = 80 * 1448;
        w.ssthresh = 40 * 1448;
        w.last_send_ns = Some(0);
        w.start_round(&c, 10_000 * MS, 100 * MS);
        assert_eq!(w.cwnd, 10 * 1448);
        assert_eq!(w.ssthresh, 60 * 1448, "3/4 of the window before");
        // Shorter than the RTO, or with restart off: unchanged.
        let mut w = Window::new(&c);
        w.cwnd = 80 * 1448;
        w.last_send_ns = Some(0);
        w.start_round(&c, 300 * MS, 100 * MS);
        assert_eq!(w.cwnd, 80 * 1448);
        let s = TcpConfig::shadow();
        let mut w = Window::new(&s);
        w.cwnd = 80 * 1460;
        w.last_send_ns = Some(0);
        w.start_round(&s, 10_000 * MS, 100 * MS);
        assert_eq!(w.cwnd, 80 * 1460);
    }

    #[test]
    fn losses_shrink_the_window() {
        let c = cfg();
        let mut w = Window::new(&c);
        w.cwnd = 40 * 1448;
        w.start_round(&c, 0, 100);
        w.on_loss(&c, false);
        assert_eq!(w.cwnd, 20 * 1448);
        w.on_loss(&c, false);
        assert_eq!(w.cwnd, 20 * 1448, "once per round");
        w.on_loss(&c, true);
        assert_eq!(w.cwnd, 1448);
    }

    #[test]
    fn framing_and_headers() {
        let c = cfg();
        // One frame: 30 bytes of framing; 16 KiB frames.
        assert_eq!(c.payload_len(100), 130);
        assert_eq!(c.payload_len(16384), 16414);
        assert_eq!(c.payload_len(16385), 16385 + 60);
        // 52 header bytes per 1448-byte segment or part of one.
        assert_eq!(c.wire_len(1448), 1500);
        assert_eq!(c.wire_len(1449), 1449 + 104);
        assert_eq!(c.rto_ns(100 * MS), 300 * MS);
        assert_eq!(TcpConfig::shadow().rto_ns(100 * MS), 200 * MS);
        assert_eq!(c.send_buffer(1000), 16 << 10);
        assert_eq!(c.send_buffer(1 << 20), 2 << 20);
    }
}
