//! `meshsim merge`: the output directories of a sweep's shards combined
//! into one.

use super::records::run_ids_in;
use super::resume::{first_difference, remove_results};
use super::{plan, write_tables};
use crate::load::{self, InputError};
use crate::output::write_atomic;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `p` as an absolute path without `.` and `..` (it need not exist).
fn absolute(p: &Path) -> PathBuf {
    let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    // Symbolic links: the real path of whatever part exists.
    out.canonicalize().unwrap_or(out)
}

/// `meshsim merge --out OUT DIR...`: combines shard directories. Refuses
/// (bad input, before writing anything) a directory given twice, two
/// directories holding the same run (the same shard twice), directories of
/// different experiments, and a set of directories that misses runs of the
/// sweep (a missing or unfinished shard).
pub fn merge(out: &Path, dirs: &[PathBuf]) -> anyhow::Result<(usize, usize)> {
    let bad = |m: String| -> anyhow::Error { InputError::Options(format!("merge: {m}")).into() };
    if dirs.is_empty() {
        return Err(bad("name at least one directory to merge".into()));
    }
    // The output may not be (or lie inside) one of the inputs, nor be a file.
    if out.is_file() {
        return Err(bad(format!(
            "--out {}: is a file; name a directory",
            out.display()
        )));
    }
    let out_abs = absolute(out);
    for d in dirs {
        let d_abs = absolute(d);
        if out_abs.starts_with(&d_abs) || d_abs.starts_with(&out_abs) {
            return Err(bad(format!(
                "--out {} overlaps the input {}: merge into a new directory",
                out.display(),
                d.display()
            )));
        }
    }
    let mut experiment: Option<String> = None;
    let mut seen: Vec<PathBuf> = Vec::new();
    // Run id -> the directory that holds it.
    let mut holder: BTreeMap<String, &Path> = BTreeMap::new();
    for d in dirs {
        let e = std::fs::read_to_string(d.join("experiment.toml")).map_err(|e| {
            bad(format!(
                "{}: not a sweep output directory ({e})",
                d.display()
            ))
        })?;
        let canonical = d.canonicalize().unwrap_or_else(|_| d.clone());
        if let Some(i) = seen.iter().position(|c| *c == canonical) {
            return Err(bad(format!(
                "{} is given twice (also as {}): name each shard's directory once",
                d.display(),
                dirs[i].display()
            )));
        }
        seen.push(canonical);
        match &experiment {
            None => experiment = Some(e),
            Some(x) => {
                if let Some(diff) = first_difference(x, &e) {
                    return Err(bad(format!(
                        "{}: a different experiment than {} ({diff})",
                        d.display(),
                        dirs[0].display()
                    )));
                }
            }
        }
        // Every finished run must be whole: its JSON readable, for its run,
        // with every detail file it wrote (else its rows would be lost).
        for id in run_ids_in(&d.join("runs"))? {
            if let Some(problem) = super::records::record_problem(d, &id) {
                return Err(bad(format!(
                    "{problem}: not a finished run; finish the shard with `meshsim sweep FILE --resume --shard I/N --out {}`",
                    d.display()
                )));
            }
        }
        for sub in ["runs", "failures"] {
            for id in run_ids_in(&d.join(sub))? {
                match holder.get(&id) {
                    Some(other) if *other != d.as_path() => {
                        return Err(bad(format!(
                            "run {id} is in both {} and {}: the same shard twice? Name each shard's directory once",
                            other.display(),
                            d.display()
                        )))
                    }
                    _ => {
                        holder.insert(id, d);
                    }
                }
            }
        }
    }
    let exp = experiment.expect("at least one directory");
    let loaded = load::parse_full(
        &dirs[0].join("experiment.toml").display().to_string(),
        &exp,
        &[],
    )?;
    let plan = plan(loaded)?;
    let missing: Vec<&str> = plan
        .runs
        .iter()
        .filter(|r| !holder.contains_key(&r.run_id))
        .map(|r| r.run_id.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "{} of the sweep's {} runs are in none of these directories ({}{}): a shard is missing or unfinished. Name the directories of every shard (--shard I/N for each I from 0 to N-1); finish an interrupted one with `meshsim sweep FILE --resume --shard I/N --out DIR`",
            missing.len(),
            plan.runs.len(),
            missing[..missing.len().min(5)].join(", "),
            if missing.len() > 5 { ", ..." } else { "" }
        )));
    }
    if let Ok(old) = std::fs::read_to_string(out.join("experiment.toml")) {
        if first_difference(&old, &exp).is_some() {
            // Like a fresh sweep: another experiment's results go.
            remove_results(out)?;
        }
    }
    std::fs::create_dir_all(out.join("runs"))?;
    std::fs::create_dir_all(out.join("failures"))?;
    for d in dirs {
        for sub in ["runs", "failures", "series"] {
            let src = d.join(sub);
            if let Ok(rd) = std::fs::read_dir(&src) {
                let mut files: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
                files.sort();
                for f in files
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "csv"))
                {
                    let name = f.file_name().expect("file name");
                    write_atomic(&out.join(sub).join(name), &std::fs::read(&f)?)?;
                }
            }
        }
        for f in ["points.csv"] {
            if let Ok(b) = std::fs::read(d.join(f)) {
                write_atomic(&out.join(f), &b)?;
            }
        }
    }
    write_atomic(&out.join("experiment.toml"), exp.as_bytes())?;
    write_tables(out, &plan.param_keys)
}
