//! Input errors (exit code 2): what is wrong, where (the file, or the
//! `--set` that gave the key) and in the words of the experiment file.

use std::path::PathBuf;

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

/// A serde error at a key of the file (under `prefix`), in the file's words.
pub(super) fn key_error(
    label: &str,
    prefix: &str,
    e: serde_path_to_error::Error<toml::de::Error>,
) -> InputError {
    // serde_path_to_error writes an array index as `.[1]`.
    let path = e.path().to_string().replace(".[", "[");
    let key = match (prefix.is_empty(), path == ".") {
        (true, true) => "(top level)".to_string(),
        (true, false) => path,
        (false, true) => prefix.to_string(),
        (false, false) if path.starts_with('[') => format!("{prefix}{path}"),
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
    if let Some(at) = out.find("unknown field `") {
        // "unknown field `mesh_nn`, expected one of `a`, `b`": the nearest name.
        let rest = out[at + "unknown field `".len()..].to_string();
        let typo = rest.split('`').next().unwrap_or("");
        let known: Vec<&str> = rest
            .split_once("expected")
            .map(|(_, l)| l.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        if let Some(best) = nearest(typo, &known) {
            out.push_str(&format!(" (did you mean `{best}`?)"));
        }
    }
    if let Some(i) = out.find("invalid type: unit variant, expected ") {
        out.replace_range(
            i..i + "invalid type: unit variant, ".len(),
            "expected a name or a table, not an array or a number: ",
        );
    }
    if let Some(i) = out.find("expected internally tagged enum ") {
        let what = if out[i..].contains("LatencyModel") {
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
    // Edits between two names, a swap of two neighbouring letters counting
    // as one ("modle" is one from "model").
    let dist = |a: &str, b: &str| {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, v) in d[0].iter_mut().enumerate() {
            *v = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (d[i - 1][j - 1] + cost)
                    .min(d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(d[i - 2][j - 2] + 1);
                }
                d[i][j] = v;
            }
        }
        d[a.len()][b.len()]
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
        .map_or_else(
            || label.to_string(),
            |s| format!("--set {}", models::spec::short_value(s)),
        )
}

/// Points a key error at the `--set` that caused it, if one did.
pub(super) fn attribute(e: InputError, label: &str, sets: &[String]) -> InputError {
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

/// An error message made short enough to read: a quoted value longer than
/// 60 characters keeps its first 40 and says how long it was, and a line
/// longer than 500 characters (a parser quoting a huge line, a list of
/// expected names) keeps about its first 300 and last 100 characters (a
/// list is cut between its items), so a hint at its end such as "(did you
/// mean `mesh_n`?)" survives.
pub fn short_message(m: &str) -> String {
    const QUOTED: usize = 60;
    // Cut only what saves at least 100 characters.
    const LINE: usize = 500;
    const HEAD: usize = 300;
    const TAIL: usize = 100;
    let mut out = String::with_capacity(m.len().min(4096));
    let mut rest = m;
    // Quoted values: "...".
    while let Some(i) = rest.find('"') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        // The closing quote: not one escaped with a backslash.
        let Some(j) = rest
            .char_indices()
            .scan(false, |esc, (k, c)| {
                let end = c == '"' && !*esc;
                *esc = c == '\\' && !*esc;
                Some((k, end))
            })
            .find(|(_, end)| *end)
            .map(|(k, _)| k)
        else {
            break;
        };
        let inner = &rest[..j];
        if inner.chars().count() > QUOTED {
            out.extend(inner.chars().take(40));
            out.push_str(&format!("... ({} bytes)", inner.len()));
        } else {
            out.push_str(inner);
        }
        out.push('"');
        rest = &rest[j + 1..];
    }
    out.push_str(rest);
    out.lines()
        .map(|l| {
            let n = l.chars().count();
            if n > LINE {
                let mut head: String = l.chars().take(HEAD).collect();
                let mut tail: String = l.chars().skip(n - TAIL).collect();
                // In a list ("`a`, `b`, ..."), cut between its items.
                if let Some(i) = head.rfind(", ").filter(|&i| i + 80 > head.len()) {
                    head.truncate(i + 1);
                }
                if let Some(i) = tail.find(", ").filter(|&i| i < 80) {
                    tail.replace_range(..i + 2, "");
                }
                let cut = l.len() - head.len() - tail.len();
                format!("{head}... ({cut} bytes cut) ...{tail}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
