//! `meshsim plot DIR`: the plots and `report.html` of a results directory,
//! made again from its CSV files (see [`crate::plot`]).

use std::path::PathBuf;
use std::process::ExitCode;

/// Regenerate DIR/plots/*.png, DIR/plots/*.svg and DIR/report.html from
/// the CSV files in DIR (runs.csv; deliveries.csv and timeseries.csv if present).
#[derive(clap::Args)]
pub struct PlotArgs {
    /// Results directory (as written by `meshsim run`).
    pub dir: PathBuf,
}

/// `meshsim plot DIR`: regenerates `DIR/plots/*` and `DIR/report.html`.
pub fn cmd_plot(a: PlotArgs) -> anyhow::Result<ExitCode> {
    let dir = &a.dir;
    let plots = crate::plot::plot_dir(dir)?;
    println!(
        "meshsim plot: {} plots in {}/plots/ (PNG and SVG), report {}/report.html",
        plots.len(),
        dir.display(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
