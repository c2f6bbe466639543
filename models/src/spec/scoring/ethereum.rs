//! The `ethereum` scoring preset: Lighthouse's mainnet parameters (see
//! the module doc of `spec::scoring` for the values and their source).

use libp2p_gossipsub::{PeerScoreParams, TopicScoreParams};
use std::time::Duration;

/// One slot (`ChainSpec::seconds_per_slot`, mainnet 12 s); Lighthouse's
/// `decay_interval` is `max(1 s, slot)` in `PeerScoreSettings::new`.
const ETH_SLOT: Duration = Duration::from_secs(12);

/// `E::slots_per_epoch()` (mainnet 32).
const ETH_SLOTS_PER_EPOCH: u32 = 32;

/// `PeerScoreSettings::decay_to_zero` (0.01).
const ETH_DECAY_TO_ZERO: f64 = 0.01;

/// Lighthouse's `mesh_n`: `NetworkLoad` 4 (`Config::default()`,
/// `beacon_node/lighthouse_network/src/config.rs`) and the consensus spec's
/// gossipsub `D` (`specs/phase0/p2p-interface.md`). (Lighthouse's CLI default
/// `--network-load 3` uses mesh_n 5, which only changes the P2 cap/weight.)
const ETH_MESH_N: f64 = 8.0;

/// `lighthouse_gossip_thresholds().gossip_threshold` (also the input of the
/// behaviour penalty weight).
pub(super) const ETH_GOSSIP_THRESHOLD: f64 = -4000.0;

/// `MAX_IN_MESH_SCORE`.
const ETH_MAX_IN_MESH_SCORE: f64 = 10.0;

/// `MAX_FIRST_MESSAGE_DELIVERIES_SCORE`.
const ETH_MAX_FIRST_MESSAGE_DELIVERIES_SCORE: f64 = 40.0;

/// `BEACON_BLOCK_WEIGHT`.
const ETH_BEACON_BLOCK_WEIGHT: f64 = 0.5;

/// `PeerScoreSettings::max_positive_score`: (10 + 40) x (beacon block 0.5 +
/// aggregate 0.5 + 64 attestation subnets x 1/64 + voluntary exit 0.05 +
/// proposer slashing 0.05 + attester slashing 0.05) = 50 x 2.15 = 107.5.
const ETH_MAX_POSITIVE_SCORE: f64 = (ETH_MAX_IN_MESH_SCORE
    + ETH_MAX_FIRST_MESSAGE_DELIVERIES_SCORE)
    * (0.5 + 0.5 + 1.0 + 0.05 + 0.05 + 0.05);

fn eth_epoch() -> Duration {
    ETH_SLOT * ETH_SLOTS_PER_EPOCH
}

/// `PeerScoreSettings::score_parameter_decay`: the per-slot factor that
/// decays a counter to 0.01 within `decay_time`.
fn eth_decay(decay_time: Duration) -> f64 {
    libp2p_gossipsub::score_parameter_decay_with_base(decay_time, ETH_SLOT, ETH_DECAY_TO_ZERO)
}

/// `PeerScoreSettings::decay_convergence`: `rate / (1 - decay)`.
fn eth_decay_convergence(decay: f64, rate: f64) -> f64 {
    rate / (1.0 - decay)
}

/// The Ethereum-like preset's global parameters: Lighthouse's
/// `PeerScoreSettings::get_peer_score_params`.
///
/// - decay interval one slot (12 s), decay to zero 0.01, retain score
///   `epoch * 100` (38,400 s), app-specific weight 1, IP colocation threshold
///   8 ("Allow up to 8 nodes per IP"), behaviour penalty threshold 6: literal.
/// - behaviour penalty decay `score_parameter_decay(epoch * 10)`
///   = 0.01^(1/320) = 0.985712.
/// - behaviour penalty weight `gossip_threshold / target^2` with
///   `target = decay_convergence(decay, 10 / 32) - 6` = 15.8713, giving
///   -4000 / 15.8713^2 = -15.8793.
/// - topic score cap `max_positive_score * 0.5` = 53.75; IP colocation
///   weight `-topic_score_cap` = -53.75.
/// - slow peer weight -10, threshold 0, decay 0.1: literal (Lighthouse's
///   gossipsub fork; the crate's defaults are -0.2 / 0 / 0.2).
pub(super) fn ethereum_params() -> PeerScoreParams {
    let behaviour_penalty_threshold = 6.0;
    let behaviour_penalty_decay = eth_decay(eth_epoch() * 10);
    let target = eth_decay_convergence(
        behaviour_penalty_decay,
        10.0 / f64::from(ETH_SLOTS_PER_EPOCH),
    ) - behaviour_penalty_threshold;
    let gossip_threshold = ETH_GOSSIP_THRESHOLD;
    let topic_score_cap = ETH_MAX_POSITIVE_SCORE * 0.5;
    PeerScoreParams {
        topic_score_cap,
        app_specific_weight: 1.0,
        ip_colocation_factor_weight: -topic_score_cap,
        ip_colocation_factor_threshold: 8.0,
        behaviour_penalty_weight: gossip_threshold / target.powi(2),
        behaviour_penalty_threshold,
        behaviour_penalty_decay,
        slow_peer_weight: -10.0,
        slow_peer_threshold: 0.0,
        slow_peer_decay: 0.1,
        decay_interval: ETH_SLOT,
        decay_to_zero: ETH_DECAY_TO_ZERO,
        retain_score: eth_epoch() * 100,
        ..PeerScoreParams::default()
    }
}

/// The Ethereum-like preset's topic parameters: Lighthouse's beacon-block
/// topic, `PeerScoreSettings::get_dynamic_topic_params` ->
/// `get_topic_params(BEACON_BLOCK_WEIGHT, expected rate 1 per slot,
/// first-message decay epoch * 20, Some((32 * 5 slots, cap factor 3.0,
/// activation epoch, current slot)))`.
///
/// - topic weight 0.5 (`BEACON_BLOCK_WEIGHT`).
/// - P1: quantum one slot, cap 3600 s / 12 s = 300, weight 10 / 300.
/// - P2: decay `score_parameter_decay(epoch * 20)` = 0.992830; cap
///   `decay_convergence(decay, 2 * 1 / mesh_n)` = 34.8687; weight 40 / cap
///   = 1.14716.
/// - P3: decay `score_parameter_decay(160 slots)` = 0.971628; threshold
///   `decay_convergence(decay, 1 / 50) * decay` = 0.684919; cap
///   `max(2, 3 * threshold)` = 2.05476; weight `-topic_weight` = -0.5;
///   window 2 s (`MESH_MESSAGE_DELIVERIES_WINDOW`); activation one epoch
///   (384 s). Lighthouse zeroes the P3 weight and threshold only while the
///   current slot is <= 160 (just after genesis), so on a live chain it is on.
/// - P3b: weight `= mesh_message_deliveries_weight` (-0.5), decay = P3 decay.
/// - P4: weight `-max_positive_score / topic_weight` = -215; decay
///   `score_parameter_decay(epoch * 50)` = 0.997126.
pub(super) fn ethereum_topic() -> TopicScoreParams {
    let epoch = eth_epoch();
    let topic_weight = ETH_BEACON_BLOCK_WEIGHT;
    let expected_message_rate = 1.0;
    let time_in_mesh_cap = 3600.0 / ETH_SLOT.as_secs_f64();
    let first_decay = eth_decay(epoch * 20);
    let first_cap = eth_decay_convergence(first_decay, 2.0 * expected_message_rate / ETH_MESH_N);
    let mesh_decay = eth_decay(ETH_SLOT * (ETH_SLOTS_PER_EPOCH * 5));
    let mesh_threshold =
        eth_decay_convergence(mesh_decay, expected_message_rate / 50.0) * mesh_decay;
    let mesh_weight = -topic_weight;
    TopicScoreParams {
        topic_weight,
        time_in_mesh_weight: ETH_MAX_IN_MESH_SCORE / time_in_mesh_cap,
        time_in_mesh_quantum: ETH_SLOT,
        time_in_mesh_cap,
        first_message_deliveries_weight: ETH_MAX_FIRST_MESSAGE_DELIVERIES_SCORE / first_cap,
        first_message_deliveries_decay: first_decay,
        first_message_deliveries_cap: first_cap,
        mesh_message_deliveries_weight: mesh_weight,
        mesh_message_deliveries_decay: mesh_decay,
        mesh_message_deliveries_cap: (3.0 * mesh_threshold).max(2.0),
        mesh_message_deliveries_threshold: mesh_threshold,
        mesh_message_deliveries_window: Duration::from_secs(2),
        mesh_message_deliveries_activation: epoch,
        mesh_failure_penalty_weight: mesh_weight,
        mesh_failure_penalty_decay: mesh_decay,
        invalid_message_deliveries_weight: -ETH_MAX_POSITIVE_SCORE / topic_weight,
        invalid_message_deliveries_decay: eth_decay(epoch * 50),
    }
}
