//! `[network.transport]`: how bytes cross the network.
//!
//! - `model = "ideal"`: every write is timed once, when it is made: it
//!   waits behind the writer's earlier writes on its uplink, then crosses
//!   the link (no window, no handshake, no framing).
//! - `model = "tcp"`: a flow-level TCP (congestion window in rounds, slow
//!   start, restart after idle, loss repair), yamux-like stream credit,
//!   noise and yamux framing, handshake round trips before a connection is
//!   ready, and uplinks and downlinks shared fairly among connections
//!   (`sim::tcp`, `docs/transport.md`). `preset` picks every parameter at
//!   once (`linux`: Linux defaults and libp2p's default upgrade; `shadow`:
//!   what the Shadow simulator does, with the test-plans node's upgrade);
//!   any key below overrides its preset value.

use super::{err, SpecError};
use serde::{Deserialize, Serialize};
use sim::tcp::TcpConfig;

/// The transport model.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TransportModel {
    /// Writes timed when they are made.
    Ideal,
    /// Flow-level TCP (the default).
    #[default]
    Tcp,
}

/// A named set of `tcp` parameters.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TcpPreset {
    /// Linux's defaults, libp2p's default upgrade (noise, yamux, lazy negotiation).
    #[default]
    Linux,
    /// The Shadow simulator's TCP, with the test-plans node's upgrade.
    Shadow,
}

/// `[network.transport]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TransportSpec {
    /// `tcp` (default) or `ideal`.
    pub model: TransportModel,
    /// `linux` (default) or `shadow`: the `tcp` parameters' values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<TcpPreset>,
    /// Payload bytes per segment (linux 1448, shadow 1460).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss: Option<u32>,
    /// Header bytes per segment on the wire (linux 52, shadow 40).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_header_bytes: Option<u32>,
    /// Initial congestion window, segments (linux 10, shadow 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_window: Option<u32>,
    /// Window after a retransmission timeout, segments (linux 1, shadow 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_window: Option<u32>,
    /// Lower bound of the retransmission timeout, ms (200).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rto_min_ms: Option<f64>,
    /// RTO = max(rto_min_ms, RTT + rto_var_ms), ms (linux 200, shadow 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rto_var_ms: Option<f64>,
    /// Restart slow start after an idle period longer than the RTO (linux true, shadow false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_after_idle: Option<bool>,
    /// Send buffer per connection, KiB (0: twice the window, 16 KiB to 4 MiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_buffer_kib: Option<u64>,
    /// Each stream's initial receive window (muxer credit), KiB (256).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_window_kib: Option<u64>,
    /// Grow a stream's window when it was used up in under two round trips (true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_window_autotune: Option<bool>,
    /// The largest a stream's window grows, KiB (16384).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_window_max_kib: Option<u64>,
    /// Largest muxer frame body, bytes (16384).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_bytes: Option<u32>,
    /// Framing bytes per muxer frame: muxer header and security tag (30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_overhead_bytes: Option<u32>,
    /// When a new connection is ready at the dialer, in round trips after the dial (linux 2, shadow 4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialer_ready_rtt: Option<f64>,
    /// When it is ready at the listener, in round trips after the dial (linux 2.5, shadow 3.5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_ready_rtt: Option<f64>,
}

/// Sets `$cfg.$field` from each key the section sets, converted by `$conv`.
macro_rules! overrides {
    ($s:ident, $cfg:ident; $($key:ident => $field:ident $(($conv:expr))?),* $(,)?) => {
        $(if let Some(v) = $s.$key {
            $cfg.$field = overrides!(@conv v $(, $conv)?);
        })*
    };
    (@conv $v:ident) => { $v };
    (@conv $v:ident, $conv:expr) => { $conv($v) };
}

impl TransportSpec {
    /// The `ideal` model.
    pub fn ideal() -> TransportSpec {
        TransportSpec {
            model: TransportModel::Ideal,
            ..TransportSpec::default()
        }
    }

    /// In a word or a few, as a run's summary prints it: `ideal`, or
    /// `tcp, linux preset`, with the keys set over the preset.
    pub fn describe(&self) -> String {
        if self.model == TransportModel::Ideal {
            return "ideal".into();
        }
        let preset = match self.preset.unwrap_or_default() {
            TcpPreset::Linux => "linux",
            TcpPreset::Shadow => "shadow",
        };
        let mut out = format!("tcp, {preset} preset");
        if let Some(t) = toml::Value::try_from(self)
            .ok()
            .and_then(|v| v.as_table().cloned())
        {
            let set: Vec<String> = t
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "model" | "preset"))
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            if !set.is_empty() {
                out.push_str(&format!(" with {}", set.join(", ")));
            }
        }
        out
    }

    /// The engine's `tcp` parameters (`None` for the `ideal` model).
    pub fn tcp_config(&self) -> Option<TcpConfig> {
        if self.model == TransportModel::Ideal {
            return None;
        }
        let mut c = match self.preset.unwrap_or_default() {
            TcpPreset::Linux => TcpConfig::linux(),
            TcpPreset::Shadow => TcpConfig::shadow(),
        };
        let s = self;
        let ms = |v: f64| sim::latency::ms_to_ns(v);
        let kib = |v: u64| v.saturating_mul(1024);
        overrides!(s, c;
            mss => mss,
            segment_header_bytes => segment_header_bytes,
            initial_window => initial_window,
            loss_window => loss_window,
            rto_min_ms => rto_min_ns(ms),
            rto_var_ms => rto_var_ns(ms),
            restart_after_idle => restart_after_idle,
            send_buffer_kib => send_buffer_bytes(kib),
            stream_window_kib => stream_window_bytes(kib),
            stream_window_autotune => stream_window_autotune,
            stream_window_max_kib => stream_window_max_bytes(kib),
            frame_bytes => frame_bytes,
            frame_overhead_bytes => frame_overhead_bytes,
            dialer_ready_rtt => dialer_ready_rtt,
            listener_ready_rtt => listener_ready_rtt,
        );
        Some(c)
    }

    /// Checks the section: its keys only with `model = "tcp"`, each in range.
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        let k = |f: &str| format!("network.transport.{f}");
        if self.model == TransportModel::Ideal {
            let set = TransportSpec {
                model: TransportModel::Ideal,
                ..self.clone()
            };
            if set != TransportSpec::ideal() {
                // Name the tcp keys that are set (the file's, or --set's).
                let keys: Vec<String> = toml::Value::try_from(&set)
                    .ok()
                    .and_then(|v| v.as_table().cloned())
                    .map(|t| {
                        t.keys()
                            .filter(|key| key.as_str() != "model")
                            .map(|key| format!("`{key}`"))
                            .collect()
                    })
                    .unwrap_or_default();
                return Err(err(
                    &k("model"),
                    "\"ideal\"",
                    format!(
                        "\"tcp\" while [network.transport] also sets {} (the tcp model's keys); \
                         to switch a file to ideal, replace the whole table: \
                         --set 'network.transport={{model=\"ideal\"}}'",
                        keys.join(", ")
                    ),
                ));
            }
            return Ok(());
        }
        let Some(c) = self.tcp_config() else {
            return Ok(());
        };
        let int = |key: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(err(&k(key), v, format!("an integer from {lo} to {hi}")))
            }
        };
        int("mss", c.mss.into(), 536, 65_495)?;
        int(
            "segment_header_bytes",
            c.segment_header_bytes.into(),
            0,
            1024,
        )?;
        int("initial_window", c.initial_window.into(), 1, 10_000)?;
        int("loss_window", c.loss_window.into(), 1, 10_000)?;
        int("frame_bytes", c.frame_bytes.into(), 1, 1 << 20)?;
        int(
            "frame_overhead_bytes",
            c.frame_overhead_bytes.into(),
            0,
            1024,
        )?;
        if let Some(v) = self.send_buffer_kib {
            if v != 0 {
                int("send_buffer_kib", v, 1, 1 << 20)?;
            }
        }
        int(
            "stream_window_kib",
            c.stream_window_bytes / 1024,
            1,
            1 << 20,
        )?;
        int(
            "stream_window_max_kib",
            c.stream_window_max_bytes / 1024,
            c.stream_window_bytes / 1024,
            4 << 20,
        )?;
        for (key, v) in [
            ("rto_min_ms", self.rto_min_ms),
            ("rto_var_ms", self.rto_var_ms),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && (0.0..=600_000.0).contains(&v)) {
                    return Err(err(&k(key), v, "a number of milliseconds from 0 to 600000"));
                }
            }
        }
        if c.rto_min_ns == 0 {
            return Err(err(&k("rto_min_ms"), 0, "a number of milliseconds > 0"));
        }
        let d = c.dialer_ready_rtt;
        if !(d.is_finite() && (1.0..=100.0).contains(&d)) {
            return Err(err(
                &k("dialer_ready_rtt"),
                d,
                "a number of round trips from 1 (the TCP handshake) to 100",
            ));
        }
        let l = c.listener_ready_rtt;
        if !(l.is_finite() && l >= 0.5 && l >= d - 0.5 && l <= 100.0) {
            return Err(err(
                &k("listener_ready_rtt"),
                l,
                format!(
                    "a number of round trips from {} (half a round trip before the dialer: \
                     the listener learns the handshake's end from the dialer's last message) to 100",
                    (d - 0.5).max(0.5)
                ),
            ));
        }
        Ok(())
    }
}
