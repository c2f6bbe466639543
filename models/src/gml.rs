//! GML (Graph Modelling Language), as network graphs are written for
//! Shadow and for meshsim's `topology.file`: `key value` pairs, where a value
//! is a number, a string (quoted or bare) or a `[ ... ]` list of pairs. The
//! one reader behind both the topology files and the interop folders'
//! `graph.gml`; what the keys mean is theirs to say.

/// A GML value.
#[derive(Clone, Debug, PartialEq)]
pub enum Gml {
    /// A number.
    Num(f64),
    /// A string (quoted or bare).
    Str(String),
    /// A list of `key value` pairs.
    List(Vec<(String, Gml)>),
}

/// Lists may nest at most this deep (a graph needs 2: `graph [ node [ ] ]`).
pub const MAX_DEPTH: usize = 32;

/// As written in a file (for error messages).
impl std::fmt::Display for Gml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gml::Num(x) => write!(f, "{x}"),
            Gml::Str(s) => write!(f, "\"{s}\""),
            Gml::List(l) => {
                f.write_str("[")?;
                for (k, v) in l {
                    write!(f, " {k} {v}")?;
                }
                f.write_str(" ]")
            }
        }
    }
}

impl Gml {
    /// The value of the first `key` in a list.
    pub fn field<'a>(list: &'a [(String, Gml)], key: &str) -> Option<&'a Gml> {
        list.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A scalar as text: a number without a fractional part as an integer
    /// (so that node ids `3`, `3.0` and `"3"` are the same).
    pub fn text(&self) -> Option<String> {
        match self {
            Gml::Num(x) if x.fract() == 0.0 && x.abs() < 1e15 => Some(format!("{}", *x as i64)),
            Gml::Num(x) => Some(x.to_string()),
            Gml::Str(s) => Some(s.clone()),
            Gml::List(_) => None,
        }
    }
}

/// Parses a GML document into its top-level `key value` pairs.
pub fn parse(text: &str) -> Result<Vec<(String, Gml)>, String> {
    let toks = tokens(text)?;
    let mut pos = 0;
    list(&toks, &mut pos, 0)
}

/// The entries of a document's `graph [ ... ]` list.
pub fn graph(doc: &[(String, Gml)]) -> Result<&[(String, Gml)], String> {
    doc.iter()
        .find_map(|(k, v)| match (k.as_str(), v) {
            ("graph", Gml::List(l)) => Some(l.as_slice()),
            _ => None,
        })
        .ok_or_else(|| "no `graph [ ... ]`".to_string())
}

/// A token: a bracket, a quoted string (kept with its opening quote), or a word.
fn tokens(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut it = text.chars().peekable();
    while let Some(&c) = it.peek() {
        if c.is_whitespace() {
            it.next();
        } else if c == '#' {
            for c in it.by_ref() {
                if c == '\n' {
                    break;
                }
            }
        } else if c == '[' || c == ']' {
            out.push(c.to_string());
            it.next();
        } else if c == '"' {
            it.next();
            let mut s = String::from("\"");
            loop {
                match it.next() {
                    Some('"') => break,
                    Some(c) => s.push(c),
                    None => return Err("unterminated string".into()),
                }
            }
            out.push(s);
        } else {
            let mut s = String::new();
            while let Some(&c) = it.peek() {
                if c.is_whitespace() || c == '[' || c == ']' || c == '"' {
                    break;
                }
                s.push(c);
                it.next();
            }
            out.push(s);
        }
    }
    Ok(out)
}

/// The pairs from `pos` to the `]` closing a list at `depth` (0: the document).
fn list(toks: &[String], pos: &mut usize, depth: usize) -> Result<Vec<(String, Gml)>, String> {
    let mut out = Vec::new();
    while *pos < toks.len() {
        let key = &toks[*pos];
        if key == "]" {
            if depth > 0 {
                *pos += 1;
                return Ok(out);
            }
            return Err("unbalanced `]`".into());
        }
        *pos += 1;
        let val = toks
            .get(*pos)
            .filter(|v| *v != "]")
            .ok_or_else(|| format!("key `{key}` has no value"))?;
        *pos += 1;
        let v = if val == "[" {
            if depth + 1 >= MAX_DEPTH {
                return Err(format!(
                    "lists nested {MAX_DEPTH} or more deep (a graph needs 2)"
                ));
            }
            Gml::List(list(toks, pos, depth + 1)?)
        } else if let Some(s) = val.strip_prefix('"') {
            Gml::Str(s.to_string())
        } else if let Ok(x) = val.parse::<f64>() {
            Gml::Num(x)
        } else {
            Gml::Str(val.clone())
        };
        out.push((key.clone(), v));
    }
    if depth > 0 {
        return Err("missing `]`".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_lists_strings_and_numbers() {
        let doc = parse(
            "graph [ directed 0 node [ id 1 label \"a b\" ] # c\n edge [ source 1 target 1 ] ]",
        )
        .unwrap();
        let g = graph(&doc).unwrap();
        assert_eq!(Gml::field(g, "directed"), Some(&Gml::Num(0.0)));
        let Some(Gml::List(node)) = Gml::field(g, "node") else {
            panic!("{g:?}")
        };
        assert_eq!(Gml::field(node, "label"), Some(&Gml::Str("a b".into())));
        assert_eq!(Gml::field(node, "id").and_then(Gml::text), Some("1".into()));
    }

    #[test]
    fn deep_nesting_and_unbalanced_brackets_are_errors_not_crashes() {
        let deep = "a [ ".repeat(100_000) + &"] ".repeat(100_000);
        assert!(parse(&deep).unwrap_err().contains("nested"));
        assert!(parse("graph [ node [ id 1 ]")
            .unwrap_err()
            .contains("missing"));
        assert!(parse("graph ]").unwrap_err().contains("no value"));
        assert!(parse("] x").unwrap_err().contains("unbalanced"));
        assert!(parse("label \"open").unwrap_err().contains("unterminated"));
        assert!(parse("key").unwrap_err().contains("no value"));
    }
}
