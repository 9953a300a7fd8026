//! `analyze figure`: redraws a figure of Gonzalez and Miikkulainen, "Effective
//! Regularization through Loss-Function Metalearning", from the analysis core.
//!
//! Each figure is one entry of [`FIGURES`] and one arm of the `match` in [`run`]; a new
//! figure adds both and, where it needs inputs, options to [`Args`].

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use super::curve::FormChoice;
use crate::curve;
use crate::loss::Loss;
use crate::plot::curve::{CurveFigure, CurvePanel};
use crate::plot::style::{self, PANEL_SIZE};

/// The figures this command draws: number and description.
pub const FIGURES: &[(u32, &str)] = &[
    (
        1,
        "attraction of sampled training records per epoch, one panel per RUN.jsonl log",
    ),
    (
        3,
        "attraction toward zero training error over epsilon for cross-entropy, the CIFAR-10 \
         TaylorGLO loss, mean squared error and Baikal",
    ),
];

/// Number of epsilon values per curve of Figure 3 without `--points`.
pub const DEFAULT_POINTS: usize = 1000;

/// Numbers of classes of the mean squared error and Baikal panels of Figure 3. The caption
/// states n = 10 for the cross-entropy and TaylorGLO panels but not the values for the
/// other two; these span binary to 100-class problems.
pub const FIGURE_3_CLASS_COUNTS: [usize; 3] = [2, 10, 100];

/// Redraw a figure of Gonzalez and Miikkulainen, "Effective Regularization through
/// Loss-Function Metalearning", into PNG and SVG files.
///
/// Figure 1: the attraction (first principles, full softmax output) of up to 500 sampled
/// records per epoch of each training log RUN.jsonl, one panel per run. Written as
/// figure1.png and figure1.svg; `analyze trace` gives the numbers and more options.
///
/// Figure 3: attraction toward zero training error over epsilon in four panels, (a)
/// cross-entropy and (b) the CIFAR-10 AllCNN-C TaylorGLO loss at n = 10, (c) mean squared
/// error and (d) Baikal at n = 2, 10, 100. Written as figure3.png and figure3.svg.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Figure number; available: 1, 3.
    #[arg(value_name = "NUMBER")]
    number: u32,

    /// Training logs written by `analyze train` (figure 1 only), one panel per log.
    #[arg(value_name = "RUN.jsonl")]
    runs: Vec<PathBuf>,

    /// Directory for the PNG and SVG files; created if missing.
    #[arg(long, value_name = "DIR", default_value = "figures")]
    out_dir: PathBuf,

    /// Form of the attraction to draw: exact (first principles), printed (Eq. 17 as
    /// printed) or both.
    #[arg(long, value_enum, default_value_t = FormChoice::Both)]
    form: FormChoice,

    /// Number of evenly spaced epsilon values in (0, 1) per curve (2 to 1000000), figure 3
    /// only. [default: 1000]
    #[arg(long, value_name = "K")]
    points: Option<usize>,

    /// Print the written paths and the sign changes as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `analyze figure`.
pub fn run(args: Args) -> anyhow::Result<()> {
    check_out_dir(&args.out_dir)?;
    if args.number == 1 && args.points.is_some() {
        anyhow::bail!(
            "--points applies to figure 3 only: figure 1 draws the sampled records of each log, \
             not a grid of epsilon values; drop --points"
        );
    }
    if args.number == 3 && !args.runs.is_empty() {
        anyhow::bail!(
            "figure 3 takes no training logs (got {}): it is computed from the losses alone; \
             drop the RUN.jsonl arguments, or use figure 1 to draw logs",
            path_text(&args.runs[0])
        );
    }
    match args.number {
        1 => super::trace::figure_1(&args.runs, &args.out_dir, args.json),
        3 => figure_3(&args),
        other => Err(unknown_figure(other)),
    }
}

/// Rejects an `--out-dir` that exists as something other than a directory.
fn check_out_dir(out_dir: &Path) -> anyhow::Result<()> {
    if out_dir.exists() && !out_dir.is_dir() {
        anyhow::bail!(
            "invalid --out-dir {}: it is not a directory; give a directory path (created if \
             missing)",
            out_dir.display()
        );
    }
    Ok(())
}

fn unknown_figure(number: u32) -> anyhow::Error {
    let available: Vec<String> = FIGURES
        .iter()
        .map(|(number, description)| format!("{number} ({description})"))
        .collect();
    anyhow::anyhow!(
        "figure {number} is not available; analyze figure draws: {}",
        available.join(", ")
    )
}

/// Returns the four losses of Figure 3 with their panel titles and numbers of classes.
fn figure_3_panels() -> Vec<(Loss, &'static str, Vec<usize>)> {
    let many = FIGURE_3_CLASS_COUNTS.to_vec();
    vec![
        (Loss::CrossEntropy, "(a) cross-entropy", vec![10]),
        (
            Loss::taylorglo_cifar10(),
            "(b) TaylorGLO, CIFAR-10 AllCNN-C",
            vec![10],
        ),
        (
            Loss::MeanSquaredError,
            "(c) mean squared error",
            many.clone(),
        ),
        (Loss::Baikal, "(d) Baikal", many),
    ]
}

fn figure_3(args: &Args) -> anyhow::Result<()> {
    let points = args.points.unwrap_or(DEFAULT_POINTS);
    let (paths, findings) = render_figure_3(&args.out_dir, args.form, points)?;
    print_report(args.json, &paths, &findings)
}

/// Draws Figure 3 into `figure3.png` and `figure3.svg` under `out_dir` (created if missing)
/// and returns the paths and the sign changes of every curve.
pub fn render_figure_3(
    out_dir: &Path,
    form: FormChoice,
    points: usize,
) -> anyhow::Result<(Vec<PathBuf>, Vec<serde_json::Value>)> {
    let grid = curve::grid(points).context("invalid --points")?;
    let forms = form.forms();
    let mut panels = Vec::new();
    let mut findings = Vec::new();
    for (loss, title, class_counts) in figure_3_panels() {
        panels.push(CurvePanel::for_loss(
            &loss,
            title.to_string(),
            &class_counts,
            &forms,
            &grid,
        )?);
        for &n in &class_counts {
            for form in &forms {
                let analysis = curve::analyze_signs(&loss, *form, n)?;
                findings.push(json!({
                    "loss": loss.spec(),
                    "n": n,
                    "form": form.name(),
                    "roots": analysis.root_values(),
                    "findings": analysis.describe(),
                }));
            }
        }
    }
    let figure = CurveFigure {
        caption: Some("Attraction toward zero training error".to_string()),
        panels,
        columns: 2,
        size: (2 * PANEL_SIZE.0, 2 * PANEL_SIZE.1 + 50),
    };

    check_out_dir(out_dir)?;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("failed to create the output directory {out_dir:?}"))?;
    let paths = vec![out_dir.join("figure3.png"), out_dir.join("figure3.svg")];
    for path in &paths {
        style::write_figure(path, &figure)?;
    }
    Ok((paths, findings))
}

fn print_report(
    json: bool,
    paths: &[PathBuf],
    findings: &[serde_json::Value],
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let names: Vec<String> = paths.iter().map(|path| path_text(path)).collect();
    if json {
        let value = json!({ "figure": 3, "files": names, "curves": findings });
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
        out.flush().context("failed to write to standard output")?;
        return Ok(());
    }
    for name in &names {
        writeln!(out, "wrote {name}")?;
    }
    for finding in findings {
        writeln!(
            out,
            "{}: {}",
            finding["loss"].as_str().unwrap_or(""),
            finding["findings"].as_str().unwrap_or("")
        )?;
    }
    out.flush().context("failed to write to standard output")?;
    Ok(())
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}
