//! Loading experiment files: TOML, `--set` overrides, and errors that name
//! the file, the key path, the value and what is allowed.

use models::spec::Experiment;
use std::path::{Path, PathBuf};

/// A problem with the experiment the user gave us (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file cannot be read.
    #[error("{file}: cannot read the experiment file: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{file}: not valid TOML: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A `--set` is malformed.
    #[error("--set {arg:?}: {message}")]
    Set {
        /// The argument as given.
        arg: String,
        /// What is wrong.
        message: String,
    },
    /// A key has a bad type or is unknown.
    #[error("{file}: `{key}`: {message}")]
    Key {
        /// The file.
        file: String,
        /// Dotted key path.
        key: String,
        /// What is wrong (serde's words: the value found and what was expected).
        message: String,
    },
    /// A sweep cannot run as given.
    #[error("{file}: {message}")]
    Sweep {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{file}: {source}")]
    Invalid {
        /// The file.
        file: String,
        /// The key, value and what is allowed.
        source: models::spec::SpecError,
    },
    /// Command-line options out of range or that do not go together.
    #[error("{0}")]
    Options(String),
}

/// The built-in default experiment (the same as `experiments/quickstart.toml`).
pub const QUICKSTART: &str = include_str!("../quickstart.toml");

/// Loads `file` (or the built-in quickstart), applies `--set` overrides, validates.
pub fn load(file: Option<&Path>, sets: &[String]) -> Result<(Experiment, String), InputError> {
    let l = load_full(file, sets)?;
    Ok((l.exp, l.label))
}

/// Parses experiment text labelled `label`, applies overrides, validates.
pub fn parse(label: &str, text: &str, sets: &[String]) -> Result<Experiment, InputError> {
    Ok(parse_full(label, text, sets)?.exp)
}

/// An experiment file with its optional `[sweep]` and `[check]` sections.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Where it came from (for messages).
    pub label: String,
    /// The experiment (the base point of a sweep).
    pub exp: Experiment,
    /// The experiment's TOML without `sweep` and `check` (sweep points are applied to it).
    pub base: toml::Table,
    /// The `[sweep]` section, if any.
    pub sweep: Option<crate::sections::SweepSpec>,
    /// The `[check]` section, if any.
    pub check: Option<crate::sections::CheckSpec>,
}

/// Loads a file (or the built-in quickstart) with its sweep and check sections.
pub fn load_full(file: Option<&Path>, sets: &[String]) -> Result<Loaded, InputError> {
    let (label, text) = match file {
        Some(f) => (
            f.display().to_string(),
            std::fs::read_to_string(f).map_err(|source| InputError::Read {
                file: f.to_path_buf(),
                source,
            })?,
        ),
        None => ("<built-in quickstart>".to_string(), QUICKSTART.to_string()),
    };
    parse_full(&label, &text, sets)
}

fn key_error(
    label: &str,
    prefix: &str,
    e: serde_path_to_error::Error<toml::de::Error>,
) -> InputError {
    let path = e.path().to_string();
    let key = match (prefix.is_empty(), path == ".") {
        (true, true) => "(top level)".to_string(),
        (true, false) => path,
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{path}"),
    };
    let m = e.into_inner().to_string();
    InputError::Key {
        file: label.to_string(),
        key,
        // The TOML deserializer repeats the path; we already say it.
        message: plain_words(m.split("\nin `").next().unwrap_or(&m).trim()),
    }
}

/// serde's names of Rust types in an error message, in the words of the
/// experiment file ("expected u32" means nothing to someone writing TOML).
fn plain_words(m: &str) -> String {
    let mut out = m.to_string();
    for (rust, plain) in [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number >= 0"),
        ("expected usize", "expected a whole number >= 0"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
    ] {
        if let Some(i) = out.find(rust) {
            let end = i + rust.len();
            // Only a whole word ("u8", not the start of "u80").
            if !out[end..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
                out.replace_range(i..end, plain);
            }
        }
    }
    if let Some(rest) = out.strip_prefix("unknown field `") {
        // "unknown field `mesh_nn`, expected one of `a`, `b`": the nearest name.
        let typo = rest.split('`').next().unwrap_or("");
        let known: Vec<&str> = rest
            .split_once("expected")
            .map(|(_, l)| l.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        if let Some(best) = nearest(typo, &known) {
            out.push_str(&format!(" (did you mean `{best}`?)"));
        }
    }
    if let Some(i) = out.find("expected internally tagged enum ") {
        let what = if out[i..].contains("LatencySpec") {
            "expected a latency table with a `model` key, e.g. { model = \"uniform\", min_ms = 20.0, max_ms = 80.0 }"
        } else {
            "expected a table with its kind key (see the README's key table)"
        };
        out.replace_range(i.., what);
    } else if let Some(i) = out.find("expected struct ") {
        out.replace_range(i.., "expected a table");
    }
    out
}

/// The known name closest to `typo` by edit distance, if close enough to
/// be a typo (at most a third of its letters differ).
fn nearest<'a>(typo: &str, known: &[&'a str]) -> Option<&'a str> {
    let dist = |a: &str, b: &str| {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    };
    known
        .iter()
        .map(|k| (dist(typo, k), *k))
        .filter(|(d, _)| *d > 0 && *d <= (typo.chars().count() / 3).max(1))
        .min()
        .map(|(_, k)| k)
}

/// The label of an error at `key`: the `--set` that gave that key (the last
/// one, as it wins), or else the file.
fn source_of(label: &str, sets: &[String], key: &str) -> String {
    // serde writes `timeline[0].at_s` where `--set` writes `timeline.0.at_s`.
    let key = key.replace('[', ".").replace(']', "");
    let key = key.as_str();
    sets.iter()
        .rev()
        .find(|s| {
            let k = s.split_once('=').map_or(s.as_str(), |(k, _)| k).trim();
            key == k || key.starts_with(&format!("{k}.")) || k.starts_with(&format!("{key}."))
        })
        .map_or_else(|| label.to_string(), |s| format!("--set {s}"))
}

/// Points a key error at the `--set` that caused it, if one did.
fn attribute(e: InputError, label: &str, sets: &[String]) -> InputError {
    match e {
        InputError::Key { key, message, .. } => InputError::Key {
            file: source_of(label, sets, &key),
            key,
            message,
        },
        InputError::Invalid { source, .. } => InputError::Invalid {
            file: source_of(label, sets, &source.key),
            source,
        },
        e => e,
    }
}

/// Deserializes and validates an experiment from a TOML table.
pub fn experiment_from_table(label: &str, table: toml::Table) -> Result<Experiment, InputError> {
    let exp: Experiment = serde_path_to_error::deserialize(toml::Value::Table(table))
        .map_err(|e| key_error(label, "", e))?;
    exp.validate().map_err(|source| InputError::Invalid {
        file: label.to_string(),
        source,
    })?;
    Ok(exp)
}

/// Parses experiment text, applies overrides, splits off `[sweep]` and `[check]`, validates.
pub fn parse_full(label: &str, text: &str, sets: &[String]) -> Result<Loaded, InputError> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| InputError::Syntax {
            file: label.to_string(),
            message: e.to_string().trim().to_string(),
        })?;
    for s in sets {
        apply_set(&mut table, s)?;
    }
    let from = |e| attribute(e, label, sets);
    let sweep = match table.remove("sweep") {
        Some(v) => Some(
            serde_path_to_error::deserialize(v).map_err(|e| from(key_error(label, "sweep", e)))?,
        ),
        None => None,
    };
    let check = match table.remove("check") {
        Some(v) => Some(
            serde_path_to_error::deserialize(v).map_err(|e| from(key_error(label, "check", e)))?,
        ),
        None => None,
    };
    resolve_topology_file(label, &mut table)?;
    let exp = experiment_from_table(label, table.clone()).map_err(from)?;
    Ok(Loaded {
        label: label.to_string(),
        exp,
        base: table,
        sweep,
        check,
    })
}

/// Replaces `topology.file` (a GML graph or an edge list, relative to the
/// experiment file) by `kind = "edges"` and the edges it lists.
fn resolve_topology_file(label: &str, table: &mut toml::Table) -> Result<(), InputError> {
    let Some(toml::Value::Table(topo)) = table.get_mut("topology") else {
        return Ok(());
    };
    let Some(file) = topo.remove("file") else {
        return Ok(());
    };
    let key_err = |m: String| InputError::Key {
        file: label.to_string(),
        key: "topology.file".into(),
        message: m,
    };
    let name = file
        .as_str()
        .ok_or_else(|| key_err(format!("{file} is not a file name (a string)")))?;
    let base = Path::new(label)
        .parent()
        .filter(|p| Path::new(label).is_file() && !p.as_os_str().is_empty());
    let path = match base {
        Some(b) => b.join(name),
        None => Path::new(name).to_path_buf(),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| key_err(format!("cannot read {}: {e}", path.display())))?;
    let edges = models::topology::parse_graph(&text)
        .map_err(|e| key_err(format!("{}: {e}", path.display())))?;
    topo.insert("kind".into(), toml::Value::String("edges".into()));
    topo.insert(
        "edges".into(),
        toml::Value::Array(
            edges
                .into_iter()
                .map(|(a, b)| {
                    toml::Value::Array(vec![
                        toml::Value::Integer(a.into()),
                        toml::Value::Integer(b.into()),
                    ])
                })
                .collect(),
        ),
    );
    Ok(())
}

/// Applies one `KEY=VALUE` (dotted key path; VALUE as TOML, or a bare string).
pub fn apply_set(table: &mut toml::Table, arg: &str) -> Result<(), InputError> {
    let (parts, value) = split_set(arg)?;
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    set_path(table, &parts, value).map_err(|message| InputError::Set {
        arg: arg.to_string(),
        message,
    })
}

/// Splits one `KEY=VALUE` into the key's dotted path and the value.
pub fn split_set(arg: &str) -> Result<(Vec<String>, toml::Value), InputError> {
    let bad = |m: &str| InputError::Set {
        arg: arg.to_string(),
        message: m.to_string(),
    };
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| bad("expected KEY=VALUE, e.g. gossipsub.mesh_n=8"))?;
    let parts: Vec<String> = key.trim().split('.').map(str::to_string).collect();
    if parts.iter().any(|p| {
        p.is_empty()
            || !p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }) {
        return Err(bad(
            "the key must be a dotted path of names, e.g. gossipsub.mesh_n",
        ));
    }
    Ok((parts, parse_value(value.trim())))
}

/// Sets `value` at the dotted key path `parts`, creating tables on the way.
/// A number picks an entry of an array (`timeline.0.at_s`: the first
/// timeline action's time), which must exist.
pub fn set_path(table: &mut toml::Table, parts: &[&str], value: toml::Value) -> Result<(), String> {
    let (last, path) = parts.split_last().ok_or("an empty key")?;
    let mut cur = Slot::Table(table);
    for (i, p) in path.iter().enumerate() {
        let next = match cur {
            Slot::Table(t) => t
                .entry(p.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            Slot::Array(a, name) => element(a, name, p)?,
        };
        cur = match next {
            toml::Value::Table(t) => Slot::Table(t),
            toml::Value::Array(a) => Slot::Array(a, parts[..=i].join(".")),
            _ => return Err(format!("`{p}` is not a table, so it has no keys")),
        };
    }
    match cur {
        Slot::Table(t) => {
            t.insert(last.to_string(), value);
        }
        Slot::Array(a, name) => *element(a, name, last)? = value,
    }
    Ok(())
}

/// Where a dotted path has got to: a table, or an array (with its path).
enum Slot<'a> {
    Table(&'a mut toml::Table),
    Array(&'a mut Vec<toml::Value>, String),
}

fn element<'a>(
    a: &'a mut [toml::Value],
    name: String,
    p: &str,
) -> Result<&'a mut toml::Value, String> {
    let len = a.len();
    p.parse::<usize>()
        .ok()
        .and_then(|i| a.get_mut(i))
        .ok_or_else(|| {
            format!(
                "`{name}` is an array of {len} entries: the next part must be an index from 0 to {}",
                len.saturating_sub(1)
            )
        })
}

fn parse_value(v: &str) -> toml::Value {
    let doc = format!("v = {v}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(v.to_string())),
        Err(_) => toml::Value::String(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
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
        assert!(!e.contains("LatencySpec"), "{e}");
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
}
