//! `--set KEY=VALUE` overrides: a dotted key path (array entries by index)
//! and a TOML value (or a bare string), set in the experiment's table.

use super::InputError;

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
