//! Fuzzing the command line with real runs: mutated experiment files (the
//! shipped ones, values swapped for edge cases, types changed, keys
//! removed or invented), mutated `--set` values, and mutated interop
//! folders (params.json, graph.gml, shadow.yaml), each run through the
//! binary with a memory cap and a time limit. Whatever the input, meshsim
//! must end by itself with exit 0 (ran), 1 (a run stopped, e.g. by its
//! event budget) or 2 (bad input, with an `error:` line of sensible
//! length): never a panic, an abort, a signal or a hang.
//!
//! CI runs 60 cases (about half a minute); thousands on demand (release build):
//!
//! ```text
//! MESHSIM_FUZZ_CASES=10000 cargo test --release -p meshsim --test fuzz -- --nocapture
//! ```
//!
//! `MESHSIM_FUZZ_SEED` picks another series of cases (default 1: CI runs
//! the same cases every time), `MESHSIM_FUZZ_TIMEOUT_S` the time limit per
//! case (default 120 s; a case takes a few seconds in a debug build),
//! `MESHSIM_FUZZ_EVENTS` the event budget of each run (default 40,000).
//! A failing case is kept in `target/fuzz-failures/case-N/` with the
//! command that replays it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Address space per case: what `limits.max_memory_mib` (1 GiB, set on
/// every experiment case) allows, plus room for the runtime's reservations.
/// A case that passes the memory estimate and still exceeds this aborts,
/// and fails the test: the estimate missed what the input blows up.
const MEMORY_CAP_KIB: u64 = 3 << 20;

/// A small seeded generator (splitmix64): the cases depend on the seed only.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

const INTS: &[i64] = &[
    0,
    1,
    -1,
    2,
    3,
    7,
    100,
    65_535,
    1 << 31,
    1 << 32,
    (1 << 53) + 1,
    i64::MAX,
    i64::MIN,
    86_400_001,
    1_000_000_000_000,
];

const FLOATS: &[f64] = &[
    0.0,
    -0.0,
    -1.0,
    1e-12,
    1e-300,
    0.5,
    1.0,
    1.000_000_1,
    99.999,
    1e7,
    1e12,
    1e300,
    f64::MAX,
    f64::MIN_POSITIVE,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
];

/// TOML text of an edge value (any type).
fn edge_toml(r: &mut Rng) -> String {
    match r.below(6) {
        0 => r.pick(INTS).to_string(),
        1 => {
            let x = *r.pick(FLOATS);
            if x.is_nan() {
                "nan".into()
            } else if x.is_infinite() {
                if x > 0.0 { "inf" } else { "-inf" }.into()
            } else {
                format!("{x:?}")
            }
        }
        2 => r
            .pick(&[
                "\"\"",
                "\"x\"",
                "\"none\"",
                "\"ideal\"",
                "\"tcp\"",
                "true",
                "false",
            ])
            .to_string(),
        3 => r
            .pick(&[
                "[]",
                "[1, 2]",
                "{}",
                "{ model = \"fixed\", ms = 5 }",
                "[[1]]",
            ])
            .to_string(),
        4 => format!("\"{}\"", "y".repeat(r.below(5000))),
        _ => r.below(1_000_000).to_string(),
    }
}

/// An edge value as a TOML value (for mutating parsed documents).
fn edge_value(r: &mut Rng, like: &toml::Value) -> toml::Value {
    // Mostly a value of the same type; sometimes any text at all.
    if r.chance(4) {
        let text = format!("v = {}", edge_toml(r));
        if let Ok(t) = text.parse::<toml::Table>() {
            return t["v"].clone();
        }
    }
    // Half the time a value near the original (valid more often than not):
    // the run goes on with an unusual setting.
    let near = r.chance(2);
    match like {
        toml::Value::Integer(x) if near => toml::Value::Integer(*r.pick(&[
            x / 2,
            x.saturating_mul(2),
            x.saturating_add(1),
            x - x.signum(),
            x.saturating_mul(10),
        ])),
        toml::Value::Float(x) if near => {
            toml::Value::Float(x * r.pick(&[0.5, 2.0, 0.1, 10.0, 0.999, 1.001]))
        }
        toml::Value::Integer(_) => toml::Value::Integer(*r.pick(INTS)),
        toml::Value::Float(_) => toml::Value::Float(*r.pick(FLOATS)),
        toml::Value::Boolean(b) => toml::Value::Boolean(!b),
        toml::Value::String(_) => toml::Value::String(
            r.pick(&[
                "",
                "x",
                "uniform",
                "random_regular",
                "hub_and_spoke",
                "strict",
                "ethereum",
            ])
            .to_string(),
        ),
        toml::Value::Array(a) => {
            let mut a = a.clone();
            match r.below(3) {
                0 => a.clear(),
                1 if !a.is_empty() => {
                    let x = a[r.below(a.len())].clone();
                    for _ in 0..1 + r.below(40) {
                        a.push(x.clone());
                    }
                }
                _ => a.reverse(),
            }
            toml::Value::Array(a)
        }
        toml::Value::Table(_) => toml::Value::Array(vec![]),
        toml::Value::Datetime(_) => toml::Value::Integer(0),
    }
}

/// Every path to a value of a document (tables and arrays included).
fn paths(v: &toml::Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t {
                let mut p = prefix.clone();
                p.push(k.clone());
                out.push(p.clone());
                paths(x, p, out);
            }
        }
        toml::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = prefix.clone();
                p.push(format!("#{i}"));
                out.push(p.clone());
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut toml::Value, path: &[String]) -> Option<&'a mut toml::Value> {
    path.iter()
        .try_fold(v, |v, k| match (v, k.strip_prefix('#')) {
            (toml::Value::Array(a), Some(i)) => a.get_mut(i.parse::<usize>().ok()?),
            (toml::Value::Table(t), None) => t.get_mut(k),
            _ => None,
        })
}

/// Mutates a parsed experiment file: usually one value set near its
/// shipped value (a run with an unusual setting), sometimes an edge value,
/// a removed key, an invented key, or a table or array replaced.
fn mutate_doc(r: &mut Rng, doc: &mut toml::Value) {
    let n = if r.chance(3) { 1 + r.below(3) } else { 1 };
    for _ in 0..n {
        let mut all = Vec::new();
        paths(doc, vec![], &mut all);
        let leaves: Vec<Vec<String>> = all
            .iter()
            .filter(|p| {
                let v = at(doc, p).expect("listed");
                !(v.is_table() || v.is_array())
            })
            .cloned()
            .collect();
        if all.is_empty() || leaves.is_empty() {
            return;
        }
        match r.below(20) {
            // Remove a key (from its table; arrays keep their length).
            0 | 1 => {
                let path = r.pick(&all).clone();
                let (last, parent) = path.split_last().expect("non-empty");
                if let Some(toml::Value::Table(t)) = at(doc, parent) {
                    t.remove(last);
                }
            }
            // Add an invented key.
            2 => {
                let path = r.pick(&all).clone();
                if let Some(toml::Value::Table(t)) = at(doc, &path[..path.len() - 1]) {
                    t.insert("zz_unknown".into(), toml::Value::Integer(1));
                }
            }
            // A table or array replaced (or an array grown or emptied).
            3 | 4 => {
                let path = r.pick(&all).clone();
                if let Some(v) = at(doc, &path) {
                    *v = edge_value(r, &v.clone());
                }
            }
            // A value: near its own, or an edge value (`edge_value` picks).
            _ => {
                let path = r.pick(&leaves).clone();
                if let Some(v) = at(doc, &path) {
                    *v = edge_value(r, &v.clone());
                }
            }
        }
    }
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// The experiment files a case starts from (the large ones are refused
/// by the memory cap, which is also worth fuzzing).
const FILES: &[&str] = &[
    "quickstart.toml",
    "churn.toml",
    "partition.toml",
    "regions.toml",
    "history-sync.toml",
    "partition-heal.toml",
    "field-report.toml",
    "grafting.toml",
    "penalties.toml",
    "behaviour-penalty.toml",
    "ci.toml",
    "blob-sizes.toml",
    "blob-sizes-shadow.toml",
    "idontwant.toml",
    "partial.toml",
];

/// A case: the arguments after `meshsim`, in folder `dir` (its files).
struct Case {
    args: Vec<String>,
    what: String,
}

/// Keeps every case small: an event budget (`MESHSIM_FUZZ_EVENTS`,
/// default 40,000: a few seconds in a debug build) and the memory limit.
fn bounded(args: &mut Vec<String>) {
    let events = env_u64("MESHSIM_FUZZ_EVENTS", 40_000);
    for s in [
        format!("limits.max_events={events}"),
        "limits.max_memory_mib=1024".into(),
    ] {
        args.push("--set".into());
        args.push(s);
    }
}

fn experiment_case(r: &mut Rng, dir: &Path) -> Case {
    let name = *r.pick(FILES);
    let text = std::fs::read_to_string(shipped(name)).unwrap();
    let mut doc: toml::Value = toml::from_str(&text).unwrap();
    mutate_doc(r, &mut doc);
    let file = dir.join("exp.toml");
    std::fs::write(&file, toml::to_string(&doc).unwrap_or_default()).unwrap();
    let f = file.to_str().unwrap().to_string();
    let out = dir.join("out").to_str().unwrap().to_string();
    let mut args: Vec<String> = match r.below(6) {
        // A third of the sweep's runs, one at a time.
        0 => vec![
            "sweep".into(),
            f,
            "--jobs".into(),
            "1".into(),
            "--shard".into(),
            "0/3".into(),
            "--out".into(),
            out,
        ],
        1 => vec!["run".into(), f, "--out".into(), out],
        _ => vec!["run".into(), f, "--no-write".into()],
    };
    bounded(&mut args);
    Case {
        args,
        what: format!("{name}, mutated"),
    }
}

/// Keys of the shipped files, dotted (for `--set`), with a value they have.
fn keys() -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    for f in FILES {
        let doc: toml::Value =
            toml::from_str(&std::fs::read_to_string(shipped(f)).unwrap()).unwrap();
        let mut all = Vec::new();
        paths(&doc, vec![], &mut all);
        let mut doc = doc;
        for p in all {
            if p.iter().all(|k| !k.starts_with('#')) && p[0] != "sweep" && p[0] != "check" {
                let v = at(&mut doc, &p).expect("listed").clone();
                out.push((p.join("."), v));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

fn set_case(r: &mut Rng, keys: &[(String, toml::Value)]) -> Case {
    let mut args: Vec<String> = vec!["run".into(), "--no-write".into()];
    for _ in 0..1 + r.below(3) {
        let set = match r.below(10) {
            0 => r
                .pick(&[
                    "=",
                    "a.b.c=",
                    "peers",
                    "[=1",
                    "gossipsub.=2",
                    "x y=1",
                    ".=.",
                ])
                .to_string(),
            1..=4 => {
                // A value near the shipped one, when the key has a number.
                let (k, v) = r.pick(keys);
                let near = match v {
                    toml::Value::Integer(_) | toml::Value::Float(_) => {
                        edge_value(&mut Rng(r.next() | 1), v).to_string()
                    }
                    _ => edge_toml(r),
                };
                format!("{k}={near}")
            }
            _ => format!("{}={}", r.pick(keys).0, edge_toml(r)),
        };
        args.push("--set".into());
        args.push(set);
    }
    bounded(&mut args);
    Case {
        what: "quickstart with --set".into(),
        args,
    }
}

/// A text file mutated line by line: numbers swapped for edge values,
/// lines removed, repeated or cut.
fn mutate_text(r: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..1 + r.below(4) {
        if lines.is_empty() {
            break;
        }
        let i = r.below(lines.len());
        match r.below(6) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 => {
                let cut = r.below(lines[i].len() + 1);
                lines[i] = lines[i].chars().take(cut).collect();
            }
            _ => {
                // The first number on the line becomes an edge value.
                let l = &lines[i];
                if let Some(s) = l.find(|c: char| c.is_ascii_digit()) {
                    let e = l[s..]
                        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                        .map_or(l.len(), |e| s + e);
                    let v = match r.below(3) {
                        0 => r.pick(INTS).to_string(),
                        1 => format!("{:?}", r.pick(FLOATS)),
                        _ => r
                            .pick(&["-5", "1e400", "99999999999999999999", "0.0000001", "x"])
                            .to_string(),
                    };
                    lines[i] = format!("{}{v}{}", &l[..s], &l[e..]);
                }
            }
        }
    }
    lines.join("\n") + "\n"
}

fn mutate_json(r: &mut Rng, v: &mut serde_json::Value) {
    // A random leaf of the script, replaced.
    let mut leaves: Vec<String> = Vec::new();
    fn walk(v: &serde_json::Value, p: String, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(o) => {
                o.iter().for_each(|(k, x)| walk(x, format!("{p}/{k}"), out))
            }
            serde_json::Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| walk(x, format!("{p}/{i}"), out)),
            _ => out.push(p),
        }
    }
    for _ in 0..1 + r.below(3) {
        leaves.clear();
        walk(v, String::new(), &mut leaves);
        if leaves.is_empty() {
            return;
        }
        let p = r.pick(&leaves).clone();
        let new = match r.below(5) {
            0 => serde_json::json!(*r.pick(INTS)),
            1 => serde_json::json!(u64::MAX),
            2 => serde_json::json!(r.pick(FLOATS).clamp(f64::MIN, f64::MAX)),
            3 => serde_json::json!(*r.pick(&["", "x", "publish", "connect", "waitUntil"])),
            _ => serde_json::json!(null),
        };
        if let Some(x) = v.pointer_mut(&p) {
            *x = new;
        }
    }
}

fn interop_case(r: &mut Rng, dir: &Path) -> Case {
    const FOLDERS: [&str; 4] = [
        "interop-sample",
        "interop-blob",
        "interop-partial-chain",
        "interop-partial-fanout",
    ];
    let src = shipped(FOLDERS[r.below(FOLDERS.len())]);
    let folder = dir.join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    let which = r.below(3);
    for (i, f) in ["params.json", "graph.gml", "shadow.yaml"]
        .iter()
        .enumerate()
    {
        let text = std::fs::read_to_string(src.join(f)).unwrap();
        let text = match (i == which, i) {
            (true, 0) => {
                let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
                mutate_json(r, &mut v);
                v.to_string()
            }
            (true, _) => mutate_text(r, &text),
            _ => text,
        };
        std::fs::write(folder.join(f), text).unwrap();
    }
    let mut args: Vec<String> = vec!["interop".into(), folder.to_str().unwrap().into()];
    if r.chance(3) {
        args.extend(["--out".into(), dir.join("out").to_str().unwrap().into()]);
    } else {
        args.push("--no-write".into());
    }
    Case {
        args,
        what: format!(
            "{}, {} mutated",
            src.file_name().unwrap().to_string_lossy(),
            ["params.json", "graph.gml", "shadow.yaml"][which]
        ),
    }
}

/// What a case did wrong, if anything (`Err`), else its exit code.
#[allow(clippy::disallowed_methods)] // wall time around another process
fn run_case(case: &Case, limit_s: u64) -> Result<i32, String> {
    let quoted: Vec<String> = case
        .args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_CAP_KIB} && exec '{}' {}",
            env!("CARGO_BIN_EXE_meshsim"),
            quoted.join(" ")
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr on a thread so a chatty child cannot block on a full pipe.
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut pipe, &mut s);
        s
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed().as_secs() >= limit_s {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let err = reader.join().unwrap_or_default();
    if std::env::var_os("MESHSIM_FUZZ_VERBOSE").is_some() {
        let l = err.lines().find(|l| l.starts_with("error")).unwrap_or("");
        eprintln!("  {}", l.chars().take(300).collect::<String>());
    }
    let tail: String = err
        .chars()
        .rev()
        .take(600)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let Some(status) = status else {
        return Err(format!("still running after {limit_s} s (a hang?)"));
    };
    match status.code() {
        _ if err.contains("panicked") => Err(format!("panic: {tail}")),
        None => Err(format!("killed by a signal ({status}): {tail}")),
        Some(c @ (0 | 1)) => Ok(c),
        Some(2) if err.lines().any(|l| l.starts_with("error: ")) && err.len() < 8000 => Ok(2),
        Some(2) => Err(format!(
            "exit 2 without a short `error:` message ({} bytes): {tail}",
            err.len()
        )),
        Some(c) => Err(format!("exit code {c}: {tail}")),
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn no_input_panics_aborts_or_hangs() {
    let cases = env_u64("MESHSIM_FUZZ_CASES", 60) as usize;
    let seed = env_u64("MESHSIM_FUZZ_SEED", 1);
    let limit_s = env_u64("MESHSIM_FUZZ_TIMEOUT_S", 120);
    let root = std::env::temp_dir().join(format!("meshsim-fuzz-{}", std::process::id()));
    let keep = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-failures");
    let keys = keys();
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::default();
    let outcomes: Mutex<[usize; 3]> = Mutex::default();
    // Exit codes 0, 1, 2 per kind of case.
    let codes: Mutex<[[usize; 3]; 3]> = Mutex::default();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= cases {
                    return;
                }
                let mut r = Rng(seed.wrapping_mul(1_000_003).wrapping_add(i as u64));
                let dir = root.join(format!("case-{i}"));
                std::fs::create_dir_all(&dir).unwrap();
                let kind = i % 3;
                let case = match kind {
                    0 => experiment_case(&mut r, &dir),
                    1 => set_case(&mut r, &keys),
                    _ => interop_case(&mut r, &dir),
                };
                let verdict = run_case(&case, limit_s);
                if std::env::var_os("MESHSIM_FUZZ_VERBOSE").is_some() {
                    eprintln!("case {i}: {:?} {}", verdict, case.args.join(" "));
                }
                outcomes.lock().unwrap()[kind] += 1;
                match verdict {
                    Ok(code) => {
                        codes.lock().unwrap()[kind][code as usize] += 1;
                        let _ = std::fs::remove_dir_all(&dir);
                    }
                    Err(why) => {
                        let kept = keep.join(format!("case-{i}"));
                        let _ = std::fs::remove_dir_all(&kept);
                        let _ = std::fs::create_dir_all(keep.parent().unwrap());
                        let _ = std::fs::rename(&dir, &kept);
                        let line = format!(
                            "case {i} ({}): {why}\n  replay: meshsim {}\n  files: {}",
                            case.what,
                            case.args.join(" "),
                            kept.display()
                        );
                        eprintln!("{line}");
                        failures.lock().unwrap().push(line);
                    }
                }
                if (i + 1).is_multiple_of(500) {
                    eprintln!("fuzz: {} of {cases} cases", i + 1);
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&root);
    let o = outcomes.lock().unwrap();
    let c = codes.lock().unwrap();
    eprintln!(
        "fuzz: {cases} cases (seed {seed}): {} experiment files, {} --set, {} interop folders; \
         exit 0/1/2: files {:?}, --set {:?}, interop {:?}",
        o[0], o[1], o[2], c[0], c[1], c[2]
    );
    let f = failures.lock().unwrap();
    assert!(
        f.is_empty(),
        "{} of {cases} cases failed:\n{}",
        f.len(),
        f.join("\n")
    );
}
