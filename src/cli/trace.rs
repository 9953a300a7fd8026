//! `analyze trace`: per-sample attraction toward zero training error from training logs.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::CsvTarget;
use super::curve::{FIGURE_DIRECTORY, write_atomically};
use crate::loss::parse_loss;
use crate::plot::style::{self, ImageFormat};
use crate::plot::trace::{CAPTION, TraceFigure, TracePanel};
use crate::trace::{
    AttractionForm, DEFAULT_SAMPLE_SIZE, EpochStats, PROBABILITY_SUM_TOLERANCE, RunTrace,
    TraceOptions, trace_file,
};

/// Largest accepted `--sample`: the figure draws every sampled point.
pub const MAX_SAMPLE: usize = 100_000;

/// Compute how strongly the loss pulls each logged training sample toward its label or
/// pushes it away, and draw it per epoch, one panel per run.
///
/// The logs are those written by `analyze train`. The attraction is Theorem 2 of Gonzalez
/// and Miikkulainen, "Effective Regularization through Loss-Function Metalearning", and the
/// figure follows their Figure 1.
///
/// For each record: eps = 1 - p_target, gamma_T and gamma_-T of the run's loss, and the
/// attraction in three forms: `printed` (Eq. 17 as printed) and `exact` (first principles),
/// both under the assumption that all non-targets share eps equally, and `full` (first
/// principles on the record's whole softmax output, no assumption). Per epoch: records,
/// fraction attracted (> 0) and repelled (< 0) for each form, 5th/50th/95th percentiles
/// (within 0.5% relative error) and the mean eps.
///
/// Logs are streamed with memory independent of their length and parsed on all cores. A
/// malformed line stops the run with its file and line number, unless --skip-invalid is
/// given. A last line cut short by a crash is reported and skipped.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Training logs (JSON lines, one per run), drawn as panels from left to right.
    #[arg(value_name = "RUN.jsonl", required = true)]
    runs: Vec<PathBuf>,

    /// Loss spec to evaluate instead of the one in each log's header: ce, mse, baikal,
    /// taylorglo:L0,...,L7, coeffs:C1,CH,CHH,CHY,CY,CYY or taylorglo-cifar10.
    #[arg(long, value_name = "SPEC")]
    loss: Option<String>,

    /// Figure path; the extension .png or .svg selects the format.
    /// [default: figures/trace-<run names>.png]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,

    /// Skip the figure and only compute the numbers.
    #[arg(long, conflicts_with = "out")]
    no_figure: bool,

    /// Write the per-epoch summary as CSV (one row per run and epoch) to PATH, or to standard
    /// output with `-`.
    #[arg(long, value_name = "PATH|-")]
    csv: Option<String>,

    /// Print one JSON object with the per-epoch summary of every run instead of tables.
    #[arg(long)]
    json: bool,

    /// Records sampled per epoch for the figure (1 to 100000), drawn uniformly without
    /// replacement by random keys.
    #[arg(long, value_name = "K", default_value_t = DEFAULT_SAMPLE_SIZE)]
    sample: usize,

    /// Seed of the sampling keys; the same seed draws the same records whatever the number of
    /// threads.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,

    /// Skip invalid lines (counted and reported) instead of stopping at the first one.
    #[arg(long)]
    skip_invalid: bool,

    /// Attraction form on the figure's y axis: full (first principles on the whole softmax
    /// output), exact (first principles, equal non-targets) or printed (Eq. 17 as printed).
    #[arg(long, value_name = "FORM", default_value = "full")]
    form: AttractionForm,
}

/// The validated request.
struct Config {
    options: TraceOptions,
    figure: Option<PathBuf>,
    figure_is_default: bool,
    csv: Option<CsvTarget>,
}

fn configure(args: &Args) -> anyhow::Result<Config> {
    let loss = match &args.loss {
        Some(spec) => Some(parse_loss(spec).context("check --loss")?),
        None => None,
    };
    if !(1..=MAX_SAMPLE).contains(&args.sample) {
        anyhow::bail!(
            "invalid --sample {}: the number of sampled records per epoch must lie in \
             1..={MAX_SAMPLE}",
            args.sample
        );
    }
    let csv = super::csv_target(args.csv.as_deref(), args.json)?;
    let figure = match (&args.out, args.no_figure) {
        (_, true) => None,
        (Some(path), false) => Some(path.clone()),
        (None, false) => Some(Path::new(FIGURE_DIRECTORY).join(default_file_name(&args.runs))),
    };
    if let Some(path) = &figure {
        ImageFormat::from_path(path).context("check --out")?;
    }
    Ok(Config {
        options: TraceOptions {
            loss,
            sample_size: args.sample,
            seed: args.seed,
            skip_invalid: args.skip_invalid,
        },
        figure,
        figure_is_default: args.out.is_none(),
        csv,
    })
}

/// `trace-<stem>-<stem>.png` from the runs' file names.
fn default_file_name(runs: &[PathBuf]) -> String {
    let stems: Vec<String> = runs.iter().map(|path| run_name(path)).collect();
    format!("trace-{}.png", stems.join("-"))
}

/// Returns the name of a run in tables and CSV: its file name without extension.
pub fn run_name(path: &Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Runs `analyze trace`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = configure(&args)?;
    let runs = trace_runs(&args.runs, &config.options)?;
    for run in &runs {
        warn_about_input(run);
    }
    if let Some(path) = &config.figure {
        write_trace_figure(path, config.figure_is_default, &runs, args.form)?;
    }
    if let Some(CsvTarget::File(path)) = &config.csv {
        write_atomically(path, |file| write_csv(&runs, file)).with_context(|| {
            format!("failed to write CSV {path:?}; check that the directory exists and is writable")
        })?;
    }
    report(&args, &config, &runs)
}

/// Reads every log in order, with a progress bar over their bytes on a terminal.
pub fn trace_runs(paths: &[PathBuf], options: &TraceOptions) -> anyhow::Result<Vec<RunTrace>> {
    let total: u64 = paths
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|metadata| metadata.len())
        .sum();
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let mut runs = Vec::with_capacity(paths.len());
    let mut done = 0;
    for path in paths {
        bar.set_message(run_name(path));
        let run = trace_file(path, options, &mut |bytes| bar.set_position(done + bytes))?;
        done += std::fs::metadata(path).map_or(0, |metadata| metadata.len());
        runs.push(run);
    }
    bar.finish_and_clear();
    Ok(runs)
}

fn warn_about_input(run: &RunTrace) {
    let name = run.path.display();
    if run.skipped > 0 {
        let first = run.first_skipped.as_deref().unwrap_or_default();
        let plural = if run.skipped == 1 { "" } else { "s" };
        eprintln!(
            "warning: {name}: skipped {} invalid line{plural}; the first: {first}",
            run.skipped
        );
    }
    if let Some(truncated) = &run.truncated {
        eprintln!(
            "warning: {name}:{}: skipped a truncated last line ({} bytes, no newline), as left \
             by a crash during a write: {}",
            truncated.line, truncated.bytes, truncated.message
        );
    }
    if run.records == 0 {
        eprintln!("warning: {name}: no sample records after the header");
    }
}

/// Draws the side-by-side figure of `runs`.
pub fn write_trace_figure(
    path: &Path,
    create_directory: bool,
    runs: &[RunTrace],
    form: AttractionForm,
) -> anyhow::Result<()> {
    if create_directory && let Some(directory) = path.parent() {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("failed to create the directory {directory:?}"))?;
    }
    let figure = TraceFigure {
        caption: Some(CAPTION.to_string()),
        panels: runs
            .iter()
            .map(|run| TracePanel::from_run(run, form))
            .collect(),
    };
    style::write_figure(path, &figure)?;
    Ok(())
}

/// Writes the per-epoch summary of every run as CSV.
pub fn write_csv(runs: &[RunTrace], mut out: impl Write) -> std::io::Result<()> {
    let mut columns = vec!["run", "epoch", "records", "mean_epsilon"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    for form in AttractionForm::ALL {
        for statistic in ["attracted", "repelled", "undefined", "p05", "p50", "p95"] {
            columns.push(format!("{}_{statistic}", form.name()));
        }
    }
    columns.extend(["train_accuracy", "test_accuracy"].map(String::from));
    writeln!(out, "{}", columns.join(","))?;
    for run in runs {
        let name = csv_field(&run_name(&run.path));
        for stats in &run.epochs {
            let mut fields = vec![
                name.clone(),
                stats.epoch.to_string(),
                stats.records.to_string(),
                stats.mean_epsilon.to_string(),
            ];
            for form in AttractionForm::ALL {
                let form_stats = stats.form(form);
                fields.push(form_stats.attracted.to_string());
                fields.push(form_stats.repelled.to_string());
                fields.push(form_stats.undefined.to_string());
                for percentile in [form_stats.p05, form_stats.p50, form_stats.p95] {
                    fields.push(percentile.map(|p| p.to_string()).unwrap_or_default());
                }
            }
            let summary = run.summaries.iter().find(|s| s.epoch == stats.epoch);
            fields.push(
                summary
                    .map(|s| s.train_accuracy.to_string())
                    .unwrap_or_default(),
            );
            fields.push(
                summary
                    .map(|s| s.test_accuracy.to_string())
                    .unwrap_or_default(),
            );
            writeln!(out, "{}", fields.join(","))?;
        }
    }
    out.flush()
}

/// Quotes a CSV field when it contains a comma, quote or newline (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Returns the JSON form of one run's results, without the sampled points.
pub fn run_json(run: &RunTrace) -> serde_json::Value {
    json!({
        "run": run_name(&run.path),
        "path": run.path,
        "loss": run.loss,
        "classes": run.header.classes,
        "lines": run.lines,
        "records": run.records,
        "skipped": run.skipped,
        "first_skipped": run.first_skipped,
        "truncated": run.truncated,
        "epochs": run.epochs,
        "summaries": run.summaries,
    })
}

fn report(args: &Args, config: &Config, runs: &[RunTrace]) -> anyhow::Result<()> {
    if args.json {
        let value = json!({
            "figure": config.figure,
            "form": args.form,
            "sample": args.sample,
            "seed": args.seed,
            "probability_sum_tolerance": PROBABILITY_SUM_TOLERANCE,
            "runs": runs.iter().map(run_json).collect::<Vec<_>>(),
        });
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
        return Ok(());
    }
    let mut text = String::new();
    for run in runs {
        text.push_str(&format_table(run, args.form));
        text.push('\n');
    }
    if let Some(path) = &config.figure {
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    if let Some(CsvTarget::File(path)) = &config.csv {
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    // With the CSV on standard output, the tables go to standard error.
    if matches!(config.csv, Some(CsvTarget::Stdout)) {
        write_csv(runs, std::io::stdout().lock())?;
        eprint!("{text}");
    } else {
        std::io::stdout().lock().write_all(text.as_bytes())?;
    }
    Ok(())
}

/// Formats the per-epoch table of one run: fractions repelled in every form and the
/// percentiles of `form`.
pub fn format_table(run: &RunTrace, form: AttractionForm) -> String {
    let mut text = format!(
        "{} (loss {}, {} classes): {} records in {} epochs\n",
        run.path.display(),
        run.loss,
        run.header.classes,
        run.records,
        run.epochs.len()
    );
    let chosen = form.name();
    text.push_str(&format!(
        "{:>6} {:>8} {:>10}  {:>16} {:>14} {:>13}  {:>12} {:>12} {:>12}\n",
        "epoch",
        "records",
        "mean_eps",
        "repelled_printed",
        "repelled_exact",
        "repelled_full",
        format!("{chosen}_p05"),
        format!("{chosen}_p50"),
        format!("{chosen}_p95"),
    ));
    for stats in &run.epochs {
        text.push_str(&format_row(stats, form));
    }
    text
}

fn format_row(stats: &EpochStats, form: AttractionForm) -> String {
    let percent = |form: AttractionForm| format!("{:.1}%", 100.0 * stats.form(form).repelled);
    let value = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3e}"));
    let chosen = stats.form(form);
    format!(
        "{:>6} {:>8} {:>10.3e}  {:>16} {:>14} {:>13}  {:>12} {:>12} {:>12}\n",
        stats.epoch,
        stats.records,
        stats.mean_epsilon,
        percent(AttractionForm::Printed),
        percent(AttractionForm::Exact),
        percent(AttractionForm::Full),
        value(chosen.p05),
        value(chosen.p50),
        value(chosen.p95),
    )
}

/// Draws Figure 1 from `runs` into `figure1.png` and `figure1.svg` under `out_dir`, for
/// `analyze figure 1`.
pub fn figure_1(runs: &[PathBuf], out_dir: &Path, json: bool) -> anyhow::Result<()> {
    if runs.is_empty() {
        anyhow::bail!(
            "missing training logs: figure 1 draws one panel per log, e.g. analyze figure 1 \
             ce.jsonl taylorglo.jsonl (logs come from analyze train)"
        );
    }
    let traces = trace_runs(runs, &TraceOptions::default())?;
    for run in &traces {
        warn_about_input(run);
    }
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("failed to create the output directory {out_dir:?}"))?;
    let paths = [out_dir.join("figure1.png"), out_dir.join("figure1.svg")];
    for path in &paths {
        write_trace_figure(path, false, &traces, AttractionForm::Full)?;
    }

    let mut out = std::io::stdout().lock();
    if json {
        let value = json!({
            "figure": 1,
            "files": paths,
            "runs": traces.iter().map(run_json).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
        return Ok(());
    }
    for path in &paths {
        writeln!(out, "wrote {}", path.display())?;
    }
    for run in &traces {
        if let Some(last) = run.epochs.last() {
            let repelled = last.form(AttractionForm::Full).repelled;
            writeln!(
                out,
                "{}: epoch {}, {:.1}% of {} records repelled",
                run_name(&run.path),
                last.epoch,
                100.0 * repelled,
                last.records
            )?;
        }
    }
    Ok(())
}
