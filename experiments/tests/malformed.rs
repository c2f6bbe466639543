//! Property test: thousands of generated malformed experiment files and
//! `--set` values never panic the parser; each is rejected as bad input
//! (exit code 2 in the CLI) with a message that names the offending key.

use meshsim::load::parse_full;
use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Int,
    Float,
    Bool,
    Enum,
}

/// (section, key, kind) for keys of the experiment file.
const KEYS: &[(&str, &str, Kind)] = &[
    ("", "peers", Kind::Int),
    ("", "seed", Kind::Int),
    ("", "duration_s", Kind::Float),
    ("network", "detection_delay_ms", Kind::Float),
    ("network", "dial_timeout_ms", Kind::Float),
    ("topology", "degree", Kind::Int),
    ("topology", "kind", Kind::Enum),
    ("topology", "dial_stagger_ms", Kind::Float),
    ("gossipsub", "signing", Kind::Enum),
    ("gossipsub", "validation_mode", Kind::Enum),
    ("gossipsub", "mesh_n", Kind::Int),
    ("gossipsub", "mesh_n_low", Kind::Int),
    ("gossipsub", "mesh_n_high", Kind::Int),
    ("gossipsub", "mesh_outbound_min", Kind::Int),
    ("gossipsub", "gossip_lazy", Kind::Int),
    ("gossipsub", "gossip_factor", Kind::Float),
    ("gossipsub", "heartbeat_interval_ms", Kind::Int),
    ("gossipsub", "history_length", Kind::Int),
    ("gossipsub", "flood_publish", Kind::Bool),
    ("gossipsub", "do_px", Kind::Bool),
    ("gossipsub", "max_transmit_size", Kind::Int),
    ("workload", "topics", Kind::Int),
    ("workload", "subscribe_share", Kind::Float),
    ("workload", "rate_per_s", Kind::Float),
    ("workload", "message_bytes", Kind::Int),
    ("workload", "start_s", Kind::Float),
    ("limits", "max_events", Kind::Int),
    ("measure", "deliveries", Kind::Bool),
];

fn bad_values(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Int => &[
            "\"many\"",
            "-1",
            "-99999",
            "true",
            "1.5",
            "[1, 2]",
            "{ a = 1 }",
            "99999999999999999999",
            "nan",
        ],
        Kind::Float => &[
            "\"x\"",
            "-5.0",
            "-0.5",
            "true",
            "nan",
            "inf",
            "-inf",
            "[1.0]",
            "{ v = 2 }",
        ],
        Kind::Bool => &["1", "\"yes\"", "0.0", "[true]", "{}"],
        Kind::Enum => &["\"bogus\"", "3", "true", "[\"strict\"]", "\"\""],
    }
}

fn doc(section: &str, key: &str, value: &str) -> String {
    if section.is_empty() {
        format!("{key} = {value}\n")
    } else {
        format!("[{section}]\n{key} = {value}\n")
    }
}

fn assert_rejected(label: &str, text: &str, sets: &[String], key: &str) {
    let r = std::panic::catch_unwind(|| parse_full(label, text, sets));
    let r = r.unwrap_or_else(|_| panic!("parser panicked on {text:?} {sets:?}"));
    match r {
        Ok(_) => panic!("accepted malformed input {text:?} {sets:?}"),
        Err(e) => {
            let m = e.to_string();
            assert!(
                m.contains(key),
                "message names `{key}`: {m}\ninput: {text:?} {sets:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn malformed_files_are_rejected_naming_the_key(k in 0..KEYS.len(), v in 0usize..9, extra in 0u8..4) {
        let (section, key, kind) = KEYS[k];
        let vals = bad_values(kind);
        let value = vals[v % vals.len()];
        let mut text = doc(section, key, value);
        // Sometimes surround the bad key with valid ones.
        if extra == 1 {
            text = format!("name = \"x\"\npeers = 30\n{text}");
        } else if extra == 2 && section != "topology" {
            text.push_str("\n[topology]\ndegree = 4\n");
        }
        assert_rejected("gen.toml", &text, &[], key);
    }

    #[test]
    fn malformed_set_values_are_rejected_naming_the_key(k in 0..KEYS.len(), v in 0usize..9) {
        let (section, key, kind) = KEYS[k];
        let vals = bad_values(kind);
        let path = if section.is_empty() { key.to_string() } else { format!("{section}.{key}") };
        let set = format!("{path}={}", vals[v % vals.len()]);
        assert_rejected("<quickstart>", meshsim::load::QUICKSTART, &[set], key);
    }

    #[test]
    fn unknown_keys_are_rejected_naming_them(section in prop::sample::select(vec!["", "network", "topology", "gossipsub", "workload", "limits", "measure"]), name in "[a-z]{3,12}_zz") {
        let text = doc(section, &name, "1");
        assert_rejected("gen.toml", &text, &[], &name);
        let path = if section.is_empty() { name.clone() } else { format!("{section}.{name}") };
        assert_rejected("<quickstart>", meshsim::load::QUICKSTART, &[format!("{path}=1")], &name);
    }
}

#[test]
fn a_sample_through_the_binary_exits_2() {
    for (i, &(section, key, kind)) in KEYS.iter().enumerate().step_by(3) {
        let value = bad_values(kind)[i % bad_values(kind).len()];
        let path = if section.is_empty() {
            key.to_string()
        } else {
            format!("{section}.{key}")
        };
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshsim"))
            .args(["run", "--no-write", "--set", &format!("{path}={value}")])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{path}={value}: {err}");
        assert!(err.contains(key) && !err.contains("panicked"), "{err}");
    }
}
