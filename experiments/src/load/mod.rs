//! Loading experiment files: TOML, `--set` overrides, and errors that name
//! the file, the key path, the value and what is allowed.
//!
//! - this file: loading and validating a file (or the built-in quickstart)
//!   with its `[sweep]` and `[check]` sections ([`Loaded`]).
//! - `error`: [`InputError`] and its messages.
//! - `set`: `--set` overrides ([`apply_set`], [`set_path`]).

mod error;
mod set;

pub use error::{short_message, InputError};
pub use set::{apply_set, set_path, split_set};

use error::{attribute, key_error};
use models::spec::Experiment;
use std::path::Path;

/// The built-in default experiment (the same as `experiments/quickstart.toml`).
pub const QUICKSTART: &str = include_str!("../../quickstart.toml");

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

/// Deserializes and validates an experiment from a TOML table.
pub fn experiment_from_table(label: &str, table: toml::Table) -> Result<Experiment, InputError> {
    let given = toml::Value::Table(table);
    let exp: Experiment = serde_path_to_error::deserialize(given.clone()).map_err(|e| {
        let e = key_error(label, "", e);
        nested_number_error(label, &given, &e).unwrap_or(e)
    })?;
    // serde reads a table's fields from an array by position
    // (`workload = [2, 0.5]`): refuse any value given where the experiment
    // has a table.
    if let Ok(read) = toml::Value::try_from(&exp) {
        if let Some((key, what)) = not_a_table(&given, &read, String::new()) {
            return Err(InputError::Key {
                file: label.to_string(),
                key,
                message: format!("{what} where a table belongs (e.g. key = {{ name = value }})"),
            });
        }
    }
    exp.validate().map_err(|source| InputError::Invalid {
        file: label.to_string(),
        source,
    })?;
    Ok(exp)
}

/// For an error serde can only place at a tagged table (a latency model or
/// a duration distribution, read whole before its kind is known): the
/// field inside it that should be a number and is not.
fn nested_number_error(label: &str, given: &toml::Value, e: &InputError) -> Option<InputError> {
    let InputError::Key { key, .. } = e else {
        return None;
    };
    let mut v = given;
    for part in key.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        v = v.get(name)?;
        if let Some(i) = index {
            v = v.get(i)?;
        }
    }
    let table = v.as_table()?;
    let tag = ["model", "distribution"];
    let (field, bad) = table
        .iter()
        .find(|(k, x)| !(tag.contains(&k.as_str()) || x.is_integer() || x.is_float()))?;
    Some(InputError::Key {
        file: label.to_string(),
        key: format!("{key}.{field}"),
        message: format!(
            "expected a number, found {} ({})",
            bad.type_str(),
            models::spec::short_value(&bad.to_string())
        ),
    })
}

/// The first key where `given` has a value that is not a table but the
/// experiment as read (`read`) has one, with what was given there.
fn not_a_table(given: &toml::Value, read: &toml::Value, at: String) -> Option<(String, String)> {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match (given, read) {
        (toml::Value::Table(g), toml::Value::Table(r)) => g.iter().find_map(|(k, gv)| {
            let rv = r.get(k)?;
            match (gv, rv) {
                (toml::Value::Table(_), _) | (_, toml::Value::Array(_)) => {
                    not_a_table(gv, rv, join(k))
                }
                (other, toml::Value::Table(_)) => Some((
                    join(k),
                    format!(
                        "{} ({})",
                        other.type_str(),
                        models::spec::short_value(&other.to_string())
                    ),
                )),
                _ => None,
            }
        }),
        (toml::Value::Array(g), toml::Value::Array(r)) => g
            .iter()
            .zip(r)
            .enumerate()
            .find_map(|(i, (gv, rv))| not_a_table(gv, rv, format!("{at}[{i}]"))),
        _ => None,
    }
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
    for section in ["sweep", "check"] {
        if let Some(v) = table.get(section).filter(|v| !v.is_table()) {
            return Err(from(InputError::Key {
                file: label.to_string(),
                key: section.to_string(),
                message: format!(
                    "{} ({}) where a table belongs ([{section}] with its keys)",
                    v.type_str(),
                    models::spec::short_value(&v.to_string())
                ),
            }));
        }
    }
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

#[cfg(test)]
mod tests;
