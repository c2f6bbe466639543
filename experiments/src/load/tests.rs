use super::*;

#[test]
fn quickstart_parses() {
    let e = parse("q", QUICKSTART, &[]).unwrap();
    assert_eq!(e.peers, 200);
}

#[test]
fn set_overrides_nested_keys() {
    let e = parse(
        "q",
        QUICKSTART,
        &["gossipsub.mesh_n=8".into(), "peers=50".into()],
    )
    .unwrap();
    assert_eq!(e.gossipsub.mesh_n, Some(8));
    assert_eq!(e.peers, 50);
}

#[test]
fn errors_speak_toml_and_blame_the_set_that_caused_them() {
    let e = parse("f.toml", "peers = 10", &["peers=-3".into()])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("--set peers=-3: `peers`"), "{e}");
    assert!(e.contains("a whole number from 0 to 4294967295"), "{e}");
    assert!(!e.contains("u32"), "{e}");
    let e = parse("f.toml", "[network]\nlatency = 5", &[])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("f.toml: `network.latency`"), "{e}");
    assert!(e.contains("a latency table with a `model` key"), "{e}");
    assert!(!e.contains("LatencyModel"), "{e}");
    let e = parse("f.toml", "gossipsub = 3", &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("expected a table") && !e.contains("struct"),
        "{e}"
    );
    let e = parse("f.toml", "[gossipsub]\nmesh_nn = 3", &[])
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("(did you mean `mesh_n`?)"), "{e}");
    let e = parse("f.toml", "[gossipsub]\nzzzzzz = 3", &[])
        .unwrap_err()
        .to_string();
    assert!(!e.contains("did you mean"), "{e}");
    // A range error on a key a --set gave, and one the file gave.
    let e = parse("f.toml", "", &["gossipsub.mesh_n_low=99".into()])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("--set gossipsub.mesh_n_low=99: "), "{e}");
    let e = parse(
        "f.toml",
        "[gossipsub]\nmesh_n_low = 99",
        &["peers=50".into()],
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("f.toml: "), "{e}");
}

#[test]
fn set_reaches_into_arrays_by_index() {
    let text = "duration_s = 60.0\n\
                [[timeline]]\naction = \"offline\"\nat_s = 20.0\nduration_s = 5.0\ncount = 2\n\
                [[timeline]]\naction = \"offline\"\nat_s = 40.0\nduration_s = 5.0\ncount = 2\n";
    let e = parse("f.toml", text, &["timeline.1.at_s=30.0".into()]).unwrap();
    let t = toml::Value::try_from(&e.timeline).unwrap();
    assert_eq!(t[1]["at_s"].as_float(), Some(30.0), "{t:?}");
    assert_eq!(t[0]["at_s"].as_float(), Some(20.0), "{t:?}");
    let err = parse("f.toml", text, &["timeline.1.at_s=-1.0".into()])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("--set timeline.1.at_s=-1.0: "), "{err}");
    for bad in ["timeline.2.at_s=1.0", "timeline.x.at_s=1.0"] {
        let err = parse("f.toml", text, &[bad.into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("an index from 0 to 1"), "{err}");
    }
}

#[test]
fn errors_name_the_key() {
    let e = parse("f.toml", "peers = \"many\"", &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("f.toml") && e.contains("`peers`") && e.contains("many"),
        "{e}"
    );
    let e = parse("f.toml", "[gossipsub]\nmesh_nn = 3", &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("gossipsub") && e.contains("mesh_nn") && e.contains("mesh_n_low"),
        "{e}"
    );
}

#[test]
fn long_values_and_lines_are_shortened_in_messages() {
    let long = "x".repeat(100_000);
    let m = super::short_message(&format!(
        "`peers`: invalid type: string \"{long}\", expected a number"
    ));
    assert_eq!(
        m,
        format!(
            "`peers`: invalid type: string \"{}... (100000 bytes)\", expected a number",
            "x".repeat(40)
        )
    );
    let m = super::short_message(&format!("line 1\n{long}\nline 3"));
    assert!(
        m.starts_with("line 1\n")
            && m.ends_with(&format!("(99600 bytes cut) ...{}\nline 3", "x".repeat(100))),
        "{}",
        &m[..50]
    );
    // A hint at the end of a long line survives.
    let m = super::short_message(&format!(
        "unknown field, expected {long} (did you mean `mesh_n`?)"
    ));
    assert!(
        m.len() < 500 && m.ends_with("(did you mean `mesh_n`?)"),
        "{m}"
    );
    // Escaped quotes inside a quoted value (a --set argument as Rust prints it).
    let arg = format!("--set \"churn.offline=\\\"{long}\\\"\": bad");
    let m = super::short_message(&arg);
    assert!(m.len() < 120 && m.ends_with("(100018 bytes)\": bad"), "{m}");
    // Short ones unchanged, and an odd quote is kept.
    assert_eq!(super::short_message("a \"b\" c \"d"), "a \"b\" c \"d");
    // A list is cut between its items, and a line only a little too long
    // is kept whole.
    let names: Vec<String> = (0..60).map(|i| format!("`key_number_{i}`")).collect();
    let m = super::short_message(&format!("expected one of {}", names.join(", ")));
    let (head, tail) = m.split_once("... (").expect("cut");
    assert!(head.ends_with("`,"), "{head}");
    assert!(tail.split_once(") ...").unwrap().1.starts_with('`'), "{m}");
    let line = format!("expected one of {}", names[..24].join(", "));
    assert!(line.len() > 400 && line.len() <= 500);
    assert_eq!(super::short_message(&line), line);
}
