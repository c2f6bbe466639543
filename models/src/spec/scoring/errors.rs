//! Errors from the crate's own score-parameter checks, turned into
//! `[scoring]` key paths with the value in force.

/// The value in force for a topic key, after the preset (for error messages).
pub(super) fn topic_value(tp: &libp2p_gossipsub::TopicScoreParams, key: &str) -> String {
    let ms = |d: std::time::Duration| d.as_millis().to_string();
    match key {
        "topic_weight" => tp.topic_weight.to_string(),
        "time_in_mesh_quantum_ms" => ms(tp.time_in_mesh_quantum),
        "time_in_mesh_weight" => tp.time_in_mesh_weight.to_string(),
        "time_in_mesh_cap" => tp.time_in_mesh_cap.to_string(),
        "first_message_deliveries_weight" => tp.first_message_deliveries_weight.to_string(),
        "first_message_deliveries_decay" => tp.first_message_deliveries_decay.to_string(),
        "first_message_deliveries_cap" => tp.first_message_deliveries_cap.to_string(),
        "mesh_message_deliveries_weight" => tp.mesh_message_deliveries_weight.to_string(),
        "mesh_message_deliveries_decay" => tp.mesh_message_deliveries_decay.to_string(),
        "mesh_message_deliveries_cap" => tp.mesh_message_deliveries_cap.to_string(),
        "mesh_message_deliveries_threshold" => tp.mesh_message_deliveries_threshold.to_string(),
        "mesh_message_deliveries_activation_ms" => ms(tp.mesh_message_deliveries_activation),
        "mesh_failure_penalty_weight" => tp.mesh_failure_penalty_weight.to_string(),
        "mesh_failure_penalty_decay" => tp.mesh_failure_penalty_decay.to_string(),
        "invalid_message_deliveries_weight" => tp.invalid_message_deliveries_weight.to_string(),
        "invalid_message_deliveries_decay" => tp.invalid_message_deliveries_decay.to_string(),
        _ => "(the preset's value)".into(),
    }
}

/// The value in force for a global key, after the preset (for error messages).
pub(super) fn global_value(g: &libp2p_gossipsub::PeerScoreParams, key: &str) -> String {
    match key {
        "topic_score_cap" => g.topic_score_cap.to_string(),
        "ip_colocation_factor_weight" => g.ip_colocation_factor_weight.to_string(),
        "ip_colocation_factor_threshold" => g.ip_colocation_factor_threshold.to_string(),
        "behaviour_penalty_weight" => g.behaviour_penalty_weight.to_string(),
        "behaviour_penalty_decay" => g.behaviour_penalty_decay.to_string(),
        "behaviour_penalty_threshold" => g.behaviour_penalty_threshold.to_string(),
        "decay_interval_ms" => g.decay_interval.as_millis().to_string(),
        "decay_to_zero" => g.decay_to_zero.to_string(),
        _ => "(the preset's value)".into(),
    }
}

pub(super) const TOPIC_KEYS: &[(&str, &str)] = &[
    ("topic weight", "topic_weight"),
    ("time_in_mesh_quantum", "time_in_mesh_quantum_ms"),
    ("time_in_mesh_weight", "time_in_mesh_weight"),
    ("time_in_mesh_cap", "time_in_mesh_cap"),
    (
        "first_message_deliveries_weight",
        "first_message_deliveries_weight",
    ),
    (
        "first_message_deliveries_decay",
        "first_message_deliveries_decay",
    ),
    (
        "first_message_deliveries_cap",
        "first_message_deliveries_cap",
    ),
    (
        "mesh_message_deliveries_weight",
        "mesh_message_deliveries_weight",
    ),
    (
        "mesh_message_deliveries_decay",
        "mesh_message_deliveries_decay",
    ),
    ("mesh_message_deliveries_cap", "mesh_message_deliveries_cap"),
    (
        "mesh_message_deliveries_threshold",
        "mesh_message_deliveries_threshold",
    ),
    (
        "mesh_message_deliveries_activation",
        "mesh_message_deliveries_activation_ms",
    ),
    ("mesh_failure_penalty_weight", "mesh_failure_penalty_weight"),
    ("mesh_failure_penalty_decay", "mesh_failure_penalty_decay"),
    (
        "invalid_message_deliveries_weight",
        "invalid_message_deliveries_weight",
    ),
    (
        "invalid_message_deliveries_decay",
        "invalid_message_deliveries_decay",
    ),
];

pub(super) const GLOBAL_KEYS: &[(&str, &str)] = &[
    ("topic score cap", "topic_score_cap"),
    ("ip_colocation_factor_weight", "ip_colocation_factor_weight"),
    (
        "ip_colocation_factor_threshold",
        "ip_colocation_factor_threshold",
    ),
    ("behaviour_penalty_weight", "behaviour_penalty_weight"),
    ("behaviour_penalty_decay", "behaviour_penalty_decay"),
    ("behaviour_penalty_threshold", "behaviour_penalty_threshold"),
    ("decay_interval", "decay_interval_ms"),
    ("decay_to_zero", "decay_to_zero"),
];

pub(super) fn key_in_message(m: &str, keys: &[(&str, &'static str)]) -> Option<&'static str> {
    keys.iter()
        .find(|(pat, _)| m.contains(pat))
        .map(|(_, k)| *k)
}
