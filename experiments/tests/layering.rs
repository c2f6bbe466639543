//! The module structure holds: no import cycle between the top-level
//! modules of `models` or of `meshsim` (`experiments/src`), and the
//! experiment spec depends on no runtime module. Read from the sources: a
//! module depends on another when its code (not comments, not tests) names
//! `crate::other`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module -> the top-level modules its code names.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") || p.file_name().unwrap() == "tests.rs" {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let top = first.trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&p).unwrap();
            let code = text.split("#[cfg(test)]\nmod tests {").next().unwrap();
            let deps = g.entry(top.clone()).or_default();
            for line in code.lines() {
                let line = line.split("//").next().unwrap();
                for (i, _) in line.match_indices("crate::") {
                    let rest = &line[i + 7..];
                    let names: Vec<&str> = match rest.strip_prefix('{') {
                        Some(inner) => inner
                            .split(['}', ','])
                            .map(|s| s.trim().split("::").next().unwrap_or(""))
                            .collect(),
                        None => vec![rest
                            .split(|c: char| !c.is_alphanumeric() && c != '_')
                            .next()
                            .unwrap()],
                    };
                    for n in names {
                        if !n.is_empty() && n != top && n != "self" {
                            deps.insert(n.to_string());
                        }
                    }
                }
            }
        }
    }
    let known: BTreeSet<String> = g.keys().cloned().collect();
    for deps in g.values_mut() {
        deps.retain(|d| known.contains(d));
    }
    g
}

/// A cycle in `g`, if there is one.
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        n: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|x| x == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for d in &g[n] {
            if let Some(c) = visit(g, d, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(g, n, &mut Vec::new(), &mut done))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn no_module_cycles_in_models_or_the_cli() {
    for krate in ["models/src", "experiments/src"] {
        let g = graph(&root().join(krate));
        assert!(g.len() > 8, "{krate}: {g:?}");
        assert_eq!(cycle(&g), None, "{krate}: an import cycle");
    }
}

#[test]
fn the_experiment_spec_depends_on_no_runtime_module() {
    let g = graph(&root().join("models/src"));
    // Value modules, no runtime: the Prolly tree (history keys) and the
    // partial-message layout (parts, sizes).
    let allowed: BTreeSet<String> = ["prolly", "partial"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(g["spec"].is_subset(&allowed), "spec uses {:?}", g["spec"]);
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let g: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .iter()
        .map(|(x, y)| (x.to_string(), [y.to_string()].into()))
        .collect();
    assert_eq!(cycle(&g).map(|c| c.len()), Some(4));
}
