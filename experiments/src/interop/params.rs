//! `params.json`: the test-plans script (`{"script": [...]}`), read into
//! [`Instr`]uctions; `initGossipSub` parameters mapped onto meshsim's
//! GossipSub settings. Unsupported instructions and fields are refused.

use super::{bad, InteropError};
use models::spec::GossipsubSpec;
use serde_json::Value;

/// One script instruction (test-plans `ScriptInstruction`).
#[derive(Clone, Debug, PartialEq)]
pub enum Instr {
    /// `connect`: dial these nodes.
    Connect(Vec<u64>),
    /// `ifNodeIDEquals`: run the instruction on this node only.
    IfNodeIdEquals(u64, Box<Instr>),
    /// `waitUntil`: wait until this many seconds since the start.
    WaitUntil(u64),
    /// `publish`.
    Publish {
        /// `messageID`.
        id: u64,
        /// `messageSizeBytes`.
        size: usize,
        /// `topicID`.
        topic: String,
    },
    /// `subscribeToTopic` (`partial` false or absent).
    Subscribe(String),
    /// `subscribeToTopic` with `partial: true`.
    SubscribePartial(String),
    /// `addPartialMessage`: hold the parts of bitmap `parts` of a group.
    AddPartial {
        /// `parts`: bit `i` (least significant first) is part `i`.
        parts: u8,
        /// `topicID`.
        topic: String,
        /// `groupID`.
        group: u64,
    },
    /// `publishPartial` (`publishToNodeIDs`, which the framework's rust
    /// node ignores, is ignored too).
    PublishPartial {
        /// `topicID`.
        topic: String,
        /// `groupID`.
        group: u64,
    },
    /// `setTopicValidationDelay`.
    ValidationDelay {
        /// `topicID`.
        topic: String,
        /// `delaySeconds`.
        seconds: f64,
    },
    /// `initGossipSub`, mapped onto meshsim's GossipSub settings.
    InitGossipSub(Box<GossipsubSpec>),
}

/// GossipSubParams fields rust-libp2p ignores (the reference node warns and
/// goes on); meshsim refuses them.
const RUST_IGNORES: &[&str] = &[
    "SlowHeartbeatWarning",
    "ConnectionTimeout",
    "DirectConnectTicks",
    "DirectConnectInitialDelay",
    "Connectors",
    "MaxPendingConnections",
    "MaxIDontWantLength",
    "MaxIDontWantMessages",
    "IDontWantMessageTTL",
];

/// The largest message an interop script may publish (as `workload.message_bytes`).
const MAX_MESSAGE_BYTES: u64 = 64 << 20;

fn get<'a>(
    o: &'a serde_json::Map<String, Value>,
    k: &str,
    at: &str,
) -> Result<&'a Value, InteropError> {
    o.get(k)
        .ok_or_else(|| bad(format!("params.json: {at}: missing field `{k}`")))
}

fn as_u64(v: &Value, at: &str) -> Result<u64, InteropError> {
    v.as_u64().ok_or_else(|| {
        bad(format!(
            "params.json: {at}: expected a non-negative integer, got {v}"
        ))
    })
}

fn as_str<'a>(v: &'a Value, at: &str) -> Result<&'a str, InteropError> {
    v.as_str()
        .ok_or_else(|| bad(format!("params.json: {at}: expected a string, got {v}")))
}

fn as_f64(v: &Value, at: &str) -> Result<f64, InteropError> {
    v.as_f64()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| {
            bad(format!(
                "params.json: {at}: expected a non-negative number, got {v}"
            ))
        })
}

/// Nanoseconds (a test-plans duration) to whole milliseconds.
fn ns_to_ms(v: &Value, at: &str) -> Result<u64, InteropError> {
    Ok((as_f64(v, at)? / 1e6).round() as u64)
}

/// Maps `gossipSubParams` onto meshsim's settings; unsupported fields go to `unsupported`.
fn gossipsub_params(
    v: &Value,
    at: &str,
    unsupported: &mut Vec<String>,
) -> Result<GossipsubSpec, InteropError> {
    let o = v
        .as_object()
        .ok_or_else(|| bad(format!("params.json: {at}: expected an object")))?;
    let mut g = GossipsubSpec::default();
    for (k, v) in o {
        if v.is_null() {
            continue;
        }
        let a = format!("{at}.{k}");
        let us = |v: &Value| as_u64(v, &a).map(|x| x as usize);
        match k.as_str() {
            "D" => g.mesh_n = Some(us(v)?),
            "Dlo" => g.mesh_n_low = Some(us(v)?),
            "Dhi" => g.mesh_n_high = Some(us(v)?),
            "Dscore" => g.retain_scores = Some(us(v)?),
            "Dout" => g.mesh_outbound_min = Some(us(v)?),
            "HistoryLength" => g.history_length = Some(us(v)?),
            "HistoryGossip" => g.history_gossip = Some(us(v)?),
            "Dlazy" => g.gossip_lazy = Some(us(v)?),
            "GossipFactor" => g.gossip_factor = Some(as_f64(v, &a)?),
            "GossipRetransmission" => {
                g.gossip_retransmission = Some(u32::try_from(as_u64(v, &a)?).unwrap_or(u32::MAX))
            }
            "HeartbeatInitialDelay" => {
                g.heartbeat_initial_delay_ns = Some(as_f64(v, &a)?.round() as u64)
            }
            "HeartbeatInterval" => {
                let ms = ns_to_ms(v, &a)?;
                if ms == 0 {
                    return Err(bad(format!(
                        "params.json: {a}: {v} ns is below meshsim's 1 ms resolution for the heartbeat interval"
                    )));
                }
                g.heartbeat_interval_ms = Some(ms);
            }
            "FanoutTTL" => g.fanout_ttl_ms = Some(ns_to_ms(v, &a)?),
            "PrunePeers" => g.prune_peers = Some(us(v)?),
            "PruneBackoff" => g.prune_backoff_ms = Some(ns_to_ms(v, &a)?),
            "UnsubscribeBackoff" => g.unsubscribe_backoff_ms = Some(ns_to_ms(v, &a)?),
            "OpportunisticGraftTicks" => g.opportunistic_graft_ticks = Some(as_u64(v, &a)?),
            "OpportunisticGraftPeers" => g.opportunistic_graft_peers = Some(us(v)?),
            "GraftFloodThreshold" => g.graft_flood_threshold_ms = Some(ns_to_ms(v, &a)?),
            "MaxIHaveMessages" => g.max_ihave_messages = Some(us(v)?),
            "IWantFollowupTime" => g.iwant_followup_time_ms = Some(ns_to_ms(v, &a)?),
            "IDontWantMessageThreshold" => g.idontwant_message_size_threshold = Some(us(v)?),
            "MaxIHaveLength" => unsupported.push(format!(
                "{a}: not available in libp2p-gossipsub 0.50.1 (the crate meshsim runs)"
            )),
            k if RUST_IGNORES.contains(&k) => unsupported.push(format!(
                "{a}: not supported by rust-libp2p (its test-plans node ignores it with a warning)"
            )),
            _ => unsupported.push(format!("{a}: unknown GossipSubParams field")),
        }
    }
    Ok(g)
}

/// `addPartialMessage.parts`: the bitmap of parts held, which is also the
/// node's metadata: one byte, as a message has 8 parts (bit `i`, least
/// significant first, is part `i`).
fn part_bitmap(v: &Value, at: &str) -> Result<u8, InteropError> {
    let x = v.as_u64().ok_or_else(|| {
        bad(format!(
            "params.json: {at}: expected a bitmap of parts (an integer from 0 to 255), got {v}"
        ))
    })?;
    u8::try_from(x).map_err(|_| {
        let top = 63 - x.leading_zeros();
        let bytes = top / 8 + 1;
        bad(format!(
            "params.json: {at}: {x} names part {top}, out of range: a message has 8 parts (0 to 7), so the bitmap (the node's metadata) is 1 byte, not {bytes}; from 0 to 255"
        ))
    })
}

fn instruction(
    v: &Value,
    at: &str,
    unsupported: &mut Vec<String>,
) -> Result<Option<Instr>, InteropError> {
    let o = v
        .as_object()
        .ok_or_else(|| bad(format!("params.json: {at}: expected an instruction object")))?;
    let ty = as_str(get(o, "type", at)?, &format!("{at}.type"))?;
    let f = |k: &str| get(o, k, at);
    let fa = |k: &str| format!("{at}.{k}");
    let i = match ty {
        "connect" => {
            let list = f("connectTo")?.as_array().ok_or_else(|| {
                bad(format!(
                    "params.json: {}: expected a list of node ids",
                    fa("connectTo")
                ))
            })?;
            let ids = list
                .iter()
                .map(|x| as_u64(x, &fa("connectTo")))
                .collect::<Result<Vec<_>, _>>()?;
            Instr::Connect(ids)
        }
        "ifNodeIDEquals" => {
            let id = as_u64(f("nodeID")?, &fa("nodeID"))?;
            match instruction(f("instruction")?, &fa("instruction"), unsupported)? {
                Some(inner) => Instr::IfNodeIdEquals(id, Box::new(inner)),
                None => return Ok(None),
            }
        }
        "waitUntil" => Instr::WaitUntil(as_u64(f("elapsedSeconds")?, &fa("elapsedSeconds"))?),
        "publish" => {
            let size = as_u64(f("messageSizeBytes")?, &fa("messageSizeBytes"))?;
            if !(8..=MAX_MESSAGE_BYTES).contains(&size) {
                return Err(bad(format!(
                    "params.json: {}: {size} bytes; from 8 (the message id) to {MAX_MESSAGE_BYTES} (64 MiB)",
                    fa("messageSizeBytes")
                )));
            }
            let size = size as usize;
            Instr::Publish {
                id: as_u64(f("messageID")?, &fa("messageID"))?,
                size,
                topic: as_str(f("topicID")?, &fa("topicID"))?.to_string(),
            }
        }
        "subscribeToTopic" => {
            let topic = as_str(f("topicID")?, &fa("topicID"))?.to_string();
            match o.get("partial") {
                None | Some(Value::Null) | Some(Value::Bool(false)) => Instr::Subscribe(topic),
                Some(Value::Bool(true)) => Instr::SubscribePartial(topic),
                Some(v) => {
                    return Err(bad(format!(
                        "params.json: {}: expected true or false, got {v}",
                        fa("partial")
                    )))
                }
            }
        }
        "addPartialMessage" => Instr::AddPartial {
            parts: part_bitmap(f("parts")?, &fa("parts"))?,
            topic: as_str(f("topicID")?, &fa("topicID"))?.to_string(),
            group: as_u64(f("groupID")?, &fa("groupID"))?,
        },
        "publishPartial" => {
            if let Some(ids) = o.get("publishToNodeIDs") {
                if !(ids.is_null() || ids.as_array().is_some_and(|a| a.iter().all(Value::is_u64))) {
                    return Err(bad(format!(
                        "params.json: {}: expected a list of node ids, got {ids}",
                        fa("publishToNodeIDs")
                    )));
                }
            }
            Instr::PublishPartial {
                topic: as_str(f("topicID")?, &fa("topicID"))?.to_string(),
                group: as_u64(f("groupID")?, &fa("groupID"))?,
            }
        }
        "setTopicValidationDelay" => Instr::ValidationDelay {
            topic: as_str(f("topicID")?, &fa("topicID"))?.to_string(),
            seconds: as_f64(f("delaySeconds")?, &fa("delaySeconds"))?,
        },
        "initGossipSub" => Instr::InitGossipSub(Box::new(gossipsub_params(
            f("gossipSubParams")?,
            &fa("gossipSubParams"),
            unsupported,
        )?)),
        other => {
            unsupported.push(format!("{at}: unknown instruction type `{other}`"));
            return Ok(None);
        }
    };
    Ok(Some(i))
}

/// Parses `params.json` (`{"script": [...]}`); unsupported instructions and
/// fields are one error that lists them all.
pub fn parse_params(text: &str) -> Result<Vec<Instr>, InteropError> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("params.json: not valid JSON: {e}")))?;
    let script = v
        .get("script")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("params.json: expected an object with a `script` list"))?;
    let mut unsupported = Vec::new();
    let mut out = Vec::new();
    for (i, ins) in script.iter().enumerate() {
        if let Some(x) = instruction(ins, &format!("script[{i}]"), &mut unsupported)? {
            out.push(x);
        }
    }
    if !unsupported.is_empty() {
        const SHOWN: usize = 20;
        let more = unsupported.len().saturating_sub(SHOWN);
        unsupported.truncate(SHOWN);
        if more > 0 {
            unsupported.push(format!("... and {more} more"));
        }
        return Err(bad(format!(
            "params.json: {} unsupported instruction(s) or field(s):\n  {}",
            SHOWN.min(unsupported.len()) + more,
            unsupported.join("\n  ")
        )));
    }
    Ok(out)
}
