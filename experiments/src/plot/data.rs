//! The CSV inputs of `meshsim plot`: `runs.csv` (required), `deliveries.csv`
//! and `timeseries.csv` (optional), read into tables keyed by parameter point.
//!
//! A column of `runs.csv` whose name contains a `.` is a swept parameter; a
//! `point_id` column names the parameter point. Every other column whose
//! non-empty values all parse as numbers is a metric. Swept parameters whose
//! values move together (zipped axes such as `mesh_n`/`mesh_n_low`/
//! `mesh_n_high`) form one [`Axis`].

use anyhow::{bail, Context as _};
use std::collections::BTreeMap;
use std::path::Path;

/// Columns of `runs.csv` that identify a run rather than measure it.
const ID_COLUMNS: &[&str] = &["run_id", "experiment", "seed", "trace_hash", "point_id"];

/// Opens the CSV file `path` and reads its header (column names, trimmed).
fn open_csv(path: &Path) -> anyhow::Result<(csv::Reader<std::fs::File>, Vec<String>)> {
    let mut rd =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let columns = rd
        .headers()
        .with_context(|| format!("{}: bad header", path.display()))?
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    Ok((rd, columns))
}

/// The index of the column `name` of the CSV file `path`.
fn column(path: &Path, columns: &[String], name: &str) -> anyhow::Result<usize> {
    columns
        .iter()
        .position(|c| c == name)
        .with_context(|| format!("{}: no `{name}` column", path.display()))
}

/// `runs.csv`: one row per run.
#[derive(Debug, Clone)]
pub struct Runs {
    /// Column names, in file order.
    pub columns: Vec<String>,
    /// Cells, one `Vec` per run, as in the file.
    pub rows: Vec<Vec<String>>,
}

impl Runs {
    /// Reads `runs.csv`.
    pub fn load(path: &Path) -> anyhow::Result<Runs> {
        let (mut rd, columns) = open_csv(path)?;
        column(path, &columns, "run_id")?;
        let mut rows = Vec::new();
        for rec in rd.records() {
            let rec = rec.with_context(|| format!("{}: malformed CSV", path.display()))?;
            rows.push(rec.iter().map(|s| s.trim().to_string()).collect());
        }
        if rows.is_empty() {
            bail!("{}: no runs (only a header)", path.display());
        }
        Ok(Runs { columns, rows })
    }

    /// Index of a column.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// A cell as text (empty when the column is absent).
    pub fn text(&self, row: usize, col: &str) -> &str {
        self.col(col).map_or("", |c| self.rows[row][c].as_str())
    }

    /// A cell as a number (`None` when absent, empty or not a number).
    pub fn num(&self, row: usize, col: &str) -> Option<f64> {
        parse_num(self.text(row, col))
    }

    /// Swept parameters: the columns whose names contain a `.`.
    pub fn params(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|c| c.contains('.'))
            .cloned()
            .collect()
    }

    /// Metrics: every numeric column that is neither an identifier nor a
    /// parameter, in file order.
    pub fn metrics(&self) -> Vec<String> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.contains('.') && !ID_COLUMNS.contains(&c.as_str()))
            .filter(|(i, _)| {
                let mut any = false;
                for r in &self.rows {
                    let v = r[*i].as_str();
                    if v.is_empty() {
                        continue;
                    }
                    if parse_num(v).is_none() {
                        return false;
                    }
                    any = true;
                }
                any
            })
            .map(|(_, c)| c.clone())
            .collect()
    }
}

/// Parses a number; empty, `NaN` and non-numbers are `None`.
pub fn parse_num(s: &str) -> Option<f64> {
    let v: f64 = s.trim().parse().ok()?;
    v.is_finite().then_some(v)
}

/// One parameter point: the runs (seeds) that share parameter values. Outside
/// a sweep every run is its own point.
#[derive(Debug, Clone)]
pub struct Point {
    /// `point_id`, else the run id (single runs), else the parameter values.
    pub id: String,
    /// Short human label for legends: `mesh_n=8, max_ms=80`, or the run id.
    pub label: String,
    /// `(parameter, value)` for every swept parameter.
    pub params: Vec<(String, String)>,
    /// Row indices into [`Runs::rows`].
    pub runs: Vec<usize>,
}

/// A swept axis: one parameter, or several that move together (zipped).
#[derive(Debug, Clone)]
pub struct Axis {
    /// The parameters; the first names the axis and gives its values.
    pub params: Vec<String>,
    /// Distinct values of the first parameter, sorted.
    pub values: Vec<String>,
    /// Whether every value is a number.
    pub numeric: bool,
    /// Short name for labels (`mesh_n` for `gossipsub.mesh_n`).
    pub short: String,
}

impl Axis {
    /// `gossipsub.mesh_n (with mesh_n_low, mesh_n_high)`.
    pub fn title(&self) -> String {
        if self.params.len() == 1 {
            self.params[0].clone()
        } else {
            let rest: Vec<&str> = self.params[1..].iter().map(|p| last_segment(p)).collect();
            format!("{} (with {})", self.params[0], rest.join(", "))
        }
    }
}

/// The runs grouped into points and axes.
#[derive(Debug, Clone)]
pub struct Study {
    pub runs: Runs,
    /// Parameter points, sorted by parameter values.
    pub points: Vec<Point>,
    /// Swept axes (parameters with more than one value).
    pub axes: Vec<Axis>,
    /// Whether this is a sweep (a `point_id` column or parameter columns).
    pub is_sweep: bool,
    /// run id -> point index.
    pub point_of_run: BTreeMap<String, usize>,
}

impl Study {
    /// Groups `runs` into points and axes.
    pub fn new(runs: Runs) -> Study {
        let params = runs.params();
        let is_sweep = runs.col("point_id").is_some() || !params.is_empty();
        let axes = find_axes(&runs, &params);
        let short = short_names(&axes);
        let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
        let mut points: Vec<Point> = Vec::new();
        for row in 0..runs.rows.len() {
            let pvals: Vec<(String, String)> = params
                .iter()
                .map(|p| (p.clone(), runs.text(row, p).to_string()))
                .collect();
            let key = if !is_sweep {
                runs.text(row, "run_id").to_string()
            } else if runs.col("point_id").is_some() {
                runs.text(row, "point_id").to_string()
            } else {
                pvals
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let idx = *by_key.entry(key.clone()).or_insert_with(|| {
                let label = if !is_sweep || axes.is_empty() {
                    key.clone()
                } else {
                    axes.iter()
                        .zip(&short)
                        .map(|(a, s)| format!("{s}={}", runs.text(row, &a.params[0])))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                points.push(Point {
                    id: key.clone(),
                    label,
                    params: pvals.clone(),
                    runs: Vec::new(),
                });
                points.len() - 1
            });
            points[idx].runs.push(row);
        }
        // Sort points by their axis values (numerically where possible).
        let mut order: Vec<usize> = (0..points.len()).collect();
        order.sort_by(|&a, &b| {
            let ka: Vec<&str> = axes
                .iter()
                .map(|ax| runs.text(points[a].runs[0], &ax.params[0]))
                .collect();
            let kb: Vec<&str> = axes
                .iter()
                .map(|ax| runs.text(points[b].runs[0], &ax.params[0]))
                .collect();
            ka.iter()
                .zip(&kb)
                .map(|(x, y)| cmp_values(x, y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.cmp(&b))
        });
        let points: Vec<Point> = order.into_iter().map(|i| points[i].clone()).collect();
        let mut point_of_run = BTreeMap::new();
        for (i, p) in points.iter().enumerate() {
            for &r in &p.runs {
                point_of_run.insert(runs.text(r, "run_id").to_string(), i);
            }
        }
        let axes = axes
            .into_iter()
            .zip(short)
            .map(|(mut a, s)| {
                a.short = s;
                a
            })
            .collect();
        Study {
            runs,
            points,
            axes,
            is_sweep,
            point_of_run,
        }
    }

    /// The experiment name(s) in `runs.csv`.
    pub fn experiment(&self) -> String {
        let mut names: Vec<&str> = (0..self.runs.rows.len())
            .map(|r| self.runs.text(r, "experiment"))
            .filter(|s| !s.is_empty())
            .collect();
        names.sort();
        names.dedup();
        names.join(", ")
    }

    /// Values of `metric` over the runs of `point` (missing values skipped).
    pub fn values(&self, point: &Point, metric: &str) -> Vec<f64> {
        point
            .runs
            .iter()
            .filter_map(|&r| self.runs.num(r, metric))
            .collect()
    }
}

/// Orders two cell values: numerically when both are numbers, else as text.
pub fn cmp_values(a: &str, b: &str) -> std::cmp::Ordering {
    match (parse_num(a), parse_num(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    }
}

fn last_segment(p: &str) -> &str {
    p.rsplit('.').next().unwrap_or(p)
}

/// Groups varying parameters into axes: two parameters share an axis when
/// their values determine each other (zipped).
fn find_axes(runs: &Runs, params: &[String]) -> Vec<Axis> {
    let distinct = |cols: &[&str]| -> usize {
        let mut set = std::collections::BTreeSet::new();
        for r in 0..runs.rows.len() {
            set.insert(cols.iter().map(|c| runs.text(r, c)).collect::<Vec<_>>());
        }
        set.len()
    };
    let varying: Vec<&String> = params.iter().filter(|p| distinct(&[p]) > 1).collect();
    let mut axes: Vec<Vec<String>> = Vec::new();
    for p in varying {
        let n = distinct(&[p]);
        let home = axes.iter_mut().find(|ax| {
            let q = ax[0].as_str();
            distinct(&[q]) == n && distinct(&[q, p]) == n
        });
        match home {
            Some(ax) => ax.push(p.clone()),
            None => axes.push(vec![p.clone()]),
        }
    }
    axes.into_iter()
        .map(|params| {
            let mut values: Vec<String> = (0..runs.rows.len())
                .map(|r| runs.text(r, &params[0]).to_string())
                .collect();
            values.sort_by(|a, b| cmp_values(a, b));
            values.dedup();
            let numeric = values.iter().all(|v| parse_num(v).is_some());
            Axis {
                params,
                values,
                numeric,
                short: String::new(),
            }
        })
        .collect()
}

/// Last path segments, unless two axes would share one.
fn short_names(axes: &[Axis]) -> Vec<String> {
    let lasts: Vec<&str> = axes.iter().map(|a| last_segment(&a.params[0])).collect();
    axes.iter()
        .zip(&lasts)
        .map(|(a, l)| {
            if lasts.iter().filter(|x| *x == l).count() > 1 {
                a.params[0].clone()
            } else {
                l.to_string()
            }
        })
        .collect()
}

/// `deliveries.csv`: first-delivery latencies, grouped by point index.
/// Rows without a latency (not delivered) are counted but have no value.
#[derive(Debug, Clone, Default)]
pub struct Deliveries {
    /// point index -> (latencies in ms, rows counted)
    pub by_point: BTreeMap<usize, (Vec<f64>, usize)>,
}

impl Deliveries {
    /// Reads `deliveries.csv`; rows of runs not in `runs.csv` are ignored.
    pub fn load(path: &Path, study: &Study) -> anyhow::Result<Deliveries> {
        let (mut rd, h) = open_csv(path)?;
        let need = |name: &str| column(path, &h, name);
        let (c_run, c_lat) = (need("run_id")?, need("latency_ms")?);
        let mut out = Deliveries::default();
        for (i, rec) in rd.records().enumerate() {
            let rec = rec.with_context(|| format!("{}: malformed CSV", path.display()))?;
            let Some(&p) = study.point_of_run.get(rec.get(c_run).unwrap_or("").trim()) else {
                continue;
            };
            let cell = rec.get(c_lat).unwrap_or("").trim();
            let entry = out.by_point.entry(p).or_default();
            entry.1 += 1;
            if cell.is_empty() {
                continue;
            }
            let v = parse_num(cell).with_context(|| {
                format!(
                    "{} line {}: latency_ms {cell:?} is not a number",
                    path.display(),
                    i + 2
                )
            })?;
            entry.0.push(v);
        }
        Ok(out)
    }
}

/// `timeseries.csv`: metric -> point index -> t_s -> values over the point's runs.
#[derive(Debug, Clone, Default)]
pub struct Timeseries {
    pub metrics: BTreeMap<String, BTreeMap<usize, BTreeMap<TimeKey, Vec<f64>>>>,
}

/// A sample time, ordered (finite f64 seconds).
#[derive(Debug, Clone, Copy)]
pub struct TimeKey(pub f64);
impl PartialEq for TimeKey {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o).is_eq()
    }
}
impl Eq for TimeKey {}
impl PartialOrd for TimeKey {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for TimeKey {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

impl Timeseries {
    /// Reads `timeseries.csv`; rows of runs not in `runs.csv` are ignored,
    /// empty values (no sample) skipped.
    pub fn load(path: &Path, study: &Study) -> anyhow::Result<Timeseries> {
        let (mut rd, h) = open_csv(path)?;
        let need = |name: &str| column(path, &h, name);
        let (c_run, c_t, c_m, c_v) = (
            need("run_id")?,
            need("t_s")?,
            need("metric")?,
            need("value")?,
        );
        let mut out = Timeseries::default();
        for (i, rec) in rd.records().enumerate() {
            let rec = rec.with_context(|| format!("{}: malformed CSV", path.display()))?;
            let Some(&p) = study.point_of_run.get(rec.get(c_run).unwrap_or("").trim()) else {
                continue;
            };
            let num = |c: usize, name: &str| -> anyhow::Result<Option<f64>> {
                let cell = rec.get(c).unwrap_or("").trim();
                if cell.is_empty() || cell.eq_ignore_ascii_case("nan") {
                    return Ok(None);
                }
                parse_num(cell).map(Some).with_context(|| {
                    format!(
                        "{} line {}: {name} {cell:?} is not a number",
                        path.display(),
                        i + 2
                    )
                })
            };
            let Some(t) = num(c_t, "t_s")? else {
                bail!("{} line {}: empty t_s", path.display(), i + 2);
            };
            let Some(v) = num(c_v, "value")? else {
                continue;
            };
            let metric = rec.get(c_m).unwrap_or("").trim().to_string();
            out.metrics
                .entry(metric)
                .or_default()
                .entry(p)
                .or_default()
                .entry(TimeKey(t))
                .or_default()
                .push(v);
        }
        Ok(out)
    }
}

/// Mean and sample standard deviation (0 for one value); `None` when empty.
pub fn mean_std(v: &[f64]) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Some((mean, var.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(csv: &str) -> Runs {
        let mut rd = csv::Reader::from_reader(csv.as_bytes());
        let columns = rd.headers().unwrap().iter().map(String::from).collect();
        let rows = rd
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        Runs { columns, rows }
    }

    #[test]
    fn zipped_parameters_form_one_axis() {
        let r = runs(
            "run_id,seed,g.mesh_n,g.mesh_n_low,n.max_ms,delivery_ratio\n\
             a,1,4,3,80,1\nb,1,8,6,80,1\nc,1,4,3,120,0.9\nd,1,8,6,120,0.8\n",
        );
        let s = Study::new(r);
        assert_eq!(s.axes.len(), 2);
        assert_eq!(s.axes[0].params, ["g.mesh_n", "g.mesh_n_low"]);
        assert_eq!(s.axes[0].short, "mesh_n");
        assert_eq!(s.axes[1].values, ["80", "120"], "numeric sort");
        assert_eq!(s.points.len(), 4);
        assert_eq!(s.points[0].label, "mesh_n=4, max_ms=80");
        assert_eq!(s.runs.metrics(), ["delivery_ratio"]);
    }

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(m, 2.0);
        assert!((s - 1.0).abs() < 1e-12);
        assert_eq!(mean_std(&[5.0]), Some((5.0, 0.0)));
        assert_eq!(mean_std(&[]), None);
    }
}
