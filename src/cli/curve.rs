//! `analyze curve`: the attraction toward zero training error over epsilon for one loss.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

use super::CsvTarget;
use crate::attraction::{Form, check_classes, check_epsilon};
use crate::curve::{self, SignAnalysis};
use crate::loss::{Loss, parse_loss};
use crate::plot::curve::{CurveFigure, CurvePanel, loss_title};
use crate::plot::style::{self, ImageFormat, PANEL_SIZE};

/// Most values of `--n` in one figure: each gets its own colour from the shared palette.
pub const MAX_CLASS_COUNTS: usize = 7;

/// Directory of figures written without `--out`, relative to the working directory.
pub const FIGURE_DIRECTORY: &str = "figures";

/// Draw the attraction toward zero training error (Theorem 2 of Gonzalez and Miikkulainen,
/// "Effective Regularization through Loss-Function Metalearning") over epsilon, the
/// deviation from perfect memorization, as in their Figure 3.
///
/// A sample sits at target probability 1 - eps with the n - 1 other classes at eps/(n - 1).
/// Positive attraction pulls it toward its label (toward zero training error), negative
/// attraction pushes it away. Each curve is drawn in the first-principles form (solid) and
/// in the form of Eq. 17 as printed (dashed); the two differ in the sign of one term.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Loss spec: ce, mse, baikal, taylorglo:L0,...,L7, coeffs:C1,CH,CHH,CHY,CY,CYY or
    /// taylorglo-cifar10.
    #[arg(long, value_name = "SPEC")]
    loss: String,

    /// Number of classes n (at least 2). Repeat the option or give a comma-separated list
    /// for one curve per n, e.g. --n 2 --n 10 or --n 2,10,100.
    #[arg(long = "n", value_name = "N", required = true, value_delimiter = ',')]
    n: Vec<usize>,

    /// Figure path; the extension .png or .svg selects the format.
    /// [default: figures/curve-<loss>-n<N>.png]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,

    /// Also write the values as CSV with columns n,epsilon,attraction_printed,attraction_exact
    /// (one row per n per epsilon) to PATH, or to standard output with `-`.
    #[arg(long, value_name = "PATH|-")]
    csv: Option<String>,

    /// Form of the attraction to draw: exact (first principles), printed (Eq. 17 as
    /// printed) or both. The CSV and the roots always contain both.
    #[arg(long, value_enum, default_value_t = FormChoice::Both)]
    form: FormChoice,

    /// Number of evenly spaced epsilon values i/(K + 1), i = 1..K, in (0, 1) for the
    /// figure and the CSV (2 to 1000000).
    #[arg(long, value_name = "K", default_value_t = 1000)]
    points: usize,

    /// Evaluate the CSV at these epsilon values (comma-separated, each in the open interval
    /// (0, 1)) instead of the grid; needs --csv. The figure still uses the grid.
    #[arg(
        long,
        value_name = "E1,E2,...",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    eps: Vec<f64>,

    /// Print where each curve changes sign and, in words, which samples the loss pulls toward
    /// their labels and which it pushes away. Roots are exact rational brackets of width
    /// 1e-18 for losses in coefficient form (mse, taylorglo, coeffs) and bisected to 1e-12
    /// in epsilon for ce and baikal.
    #[arg(long)]
    roots: bool,

    /// Print one JSON object instead of text: loss, figure, csv, and per n the keys n,
    /// roots_exact, roots_printed, method, findings_exact, findings_printed (roots are
    /// always included).
    #[arg(long)]
    json: bool,

    /// Figure width in pixels (200 to 8000).
    #[arg(long, value_name = "PIXELS", default_value_t = PANEL_SIZE.0)]
    width: u32,

    /// Figure height in pixels (200 to 8000).
    #[arg(long, value_name = "PIXELS", default_value_t = PANEL_SIZE.1)]
    height: u32,
}

/// The forms of the attraction a figure draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormChoice {
    /// The first-principles derivation.
    Exact,
    /// Eq. 17 as printed.
    Printed,
    /// Both, printed dashed over exact solid.
    Both,
}

impl FormChoice {
    /// Returns the forms to draw, exact first.
    pub fn forms(self) -> Vec<Form> {
        match self {
            FormChoice::Exact => vec![Form::Exact],
            FormChoice::Printed => vec![Form::Printed],
            FormChoice::Both => vec![Form::Exact, Form::Printed],
        }
    }
}

/// The validated request.
struct Config {
    loss: Loss,
    class_counts: Vec<usize>,
    figure: PathBuf,
    figure_is_default: bool,
    csv: Option<CsvTarget>,
    forms: Vec<Form>,
    grid: Vec<f64>,
    csv_epsilons: Vec<f64>,
    size: (u32, u32),
}

fn configure(args: &Args) -> anyhow::Result<Config> {
    let loss = parse_loss(&args.loss)?;
    let class_counts = check_class_counts(&args.n)?;
    let grid = curve::grid(args.points).context("invalid --points")?;
    for &epsilon in &args.eps {
        check_epsilon(epsilon).context("invalid --eps")?;
    }
    if !args.eps.is_empty() && args.csv.is_none() {
        anyhow::bail!(
            "--eps sets the epsilon values of the CSV, but no --csv was given; add --csv PATH \
             (or --csv - for standard output), or drop --eps"
        );
    }

    let csv_epsilons = if args.eps.is_empty() {
        grid.clone()
    } else {
        args.eps.clone()
    };
    let csv = super::csv_target(args.csv.as_deref(), args.json)?;

    let figure_is_default = args.out.is_none();
    let figure = match &args.out {
        Some(path) => path.clone(),
        None => Path::new(FIGURE_DIRECTORY).join(curve::default_file_name(&loss, &class_counts)),
    };
    ImageFormat::from_path(&figure).context("invalid --out")?;
    reject_directory("--out", &figure)?;
    if let Some(CsvTarget::File(path)) = &csv {
        reject_directory("--csv", path)?;
    }
    style::check_size(args.width, args.height).context("invalid --width or --height")?;
    Ok(Config {
        loss,
        class_counts,
        figure,
        figure_is_default,
        csv,
        forms: args.form.forms(),
        grid,
        csv_epsilons,
        size: (args.width, args.height),
    })
}

/// Rejects an output path that names an existing directory, before anything is written.
fn reject_directory(option: &str, path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!(
            "invalid {option} {}: it is a directory; give a file path such as {}",
            path.display(),
            path.join("out").display()
        );
    }
    Ok(())
}

/// Checks every `--n` and drops repeats, keeping the first occurrence.
pub fn check_class_counts(values: &[usize]) -> anyhow::Result<Vec<usize>> {
    let mut counts = Vec::new();
    for &n in values {
        check_classes(n).context("invalid --n")?;
        if !counts.contains(&n) {
            counts.push(n);
        }
    }
    if counts.len() > MAX_CLASS_COUNTS {
        anyhow::bail!(
            "too many values of --n ({}): one figure draws at most {MAX_CLASS_COUNTS}; run the \
             command again for the others",
            counts.len()
        );
    }
    Ok(counts)
}

/// Runs `analyze curve`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = configure(&args)?;
    let title = format!(
        "Attraction toward zero training error: {}",
        loss_title(&config.loss)
    );
    let panel = CurvePanel::for_loss(
        &config.loss,
        title,
        &config.class_counts,
        &config.forms,
        &config.grid,
    )?;
    let figure = CurveFigure {
        caption: None,
        panels: vec![panel],
        columns: 1,
        size: config.size,
    };
    let rows = match &config.csv {
        Some(_) => curve::evaluate_all(&config.loss, &config.class_counts, &config.csv_epsilons)?,
        None => Vec::new(),
    };
    // A CSV file goes to its temporary file before the figure is drawn and is renamed after
    // it, so a failed CSV write leaves no figure behind. Only a failed rename comes later.
    let pending_csv = match &config.csv {
        Some(CsvTarget::File(path)) => Some((write_temporary_csv(path, &rows)?, path)),
        _ => None,
    };
    if config.figure_is_default {
        std::fs::create_dir_all(FIGURE_DIRECTORY)
            .with_context(|| format!("failed to create the directory {FIGURE_DIRECTORY:?}"))?;
    }
    style::write_figure(&config.figure, &figure)?;
    if let Some((temporary, path)) = pending_csv {
        temporary
            .persist(path)
            .map_err(|error| style::without_temporary_path(error.error))
            .with_context(|| format!("failed to write CSV {path:?}"))?;
    }
    if let Some(CsvTarget::Stdout) = &config.csv {
        let mut out = std::io::stdout().lock();
        curve::write_csv(&rows, &mut out).context("failed to write the CSV to standard output")?;
    }

    let mut analyses = Vec::new();
    for &n in &config.class_counts {
        let exact = curve::analyze_signs(&config.loss, Form::Exact, n)?;
        let printed = curve::analyze_signs(&config.loss, Form::Printed, n)?;
        analyses.push((exact, printed));
    }
    report(&args, &config, &analyses)
}

/// Writes the CSV into a temporary file beside `path`, to be renamed onto it.
fn write_temporary_csv(
    path: &Path,
    rows: &[curve::CurvePoint],
) -> anyhow::Result<tempfile::NamedTempFile> {
    let write = || -> std::io::Result<tempfile::NamedTempFile> {
        let temporary = style::temporary_output(&style::parent_directory(path), "")?;
        curve::write_csv(rows, std::io::BufWriter::new(temporary.as_file()))?;
        Ok(temporary)
    };
    write()
        .map_err(style::without_temporary_path)
        .with_context(|| {
            format!("failed to write CSV {path:?}; check that the directory exists and is writable")
        })
}

/// Writes a file through a temporary file in the same directory that is renamed onto `path`.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let temporary = style::temporary_output(&style::parent_directory(path), "")
        .map_err(style::without_temporary_path)?;
    {
        let mut writer = std::io::BufWriter::new(temporary.as_file());
        write(&mut writer)?;
        writer.flush()?;
    }
    temporary
        .persist(path)
        .map_err(|error| style::without_temporary_path(error.error))?;
    Ok(())
}

fn report(
    args: &Args,
    config: &Config,
    analyses: &[(SignAnalysis, SignAnalysis)],
) -> anyhow::Result<()> {
    let csv_on_stdout = matches!(config.csv, Some(CsvTarget::Stdout));
    if args.json {
        let value = to_json(config, analyses);
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
        out.flush().context("failed to write to standard output")?;
        return Ok(());
    }
    // With the CSV on standard output, every other line goes to standard error.
    let mut lines = vec![format!("wrote {}", config.figure.display())];
    if let Some(CsvTarget::File(path)) = &config.csv {
        lines.push(format!("wrote {}", path.display()));
    }
    if args.roots {
        for (exact, printed) in analyses {
            for analysis in [exact, printed] {
                lines.push(analysis.describe());
                lines.push(format!("  {}", describe_roots(analysis)));
            }
        }
    }
    let text = lines.join("\n");
    if csv_on_stdout {
        eprintln!("{text}");
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush().context("failed to write to standard output")?;
    }
    Ok(())
}

fn describe_roots(analysis: &SignAnalysis) -> String {
    if analysis.roots.is_empty() {
        return "no sign change in (0, 1)".to_string();
    }
    let values: Vec<String> = analysis
        .roots
        .iter()
        .map(|root| format!("{}", root.epsilon))
        .collect();
    let method = match analysis.method {
        curve::RootMethod::ExactPolynomial => "exact polynomial roots",
        curve::RootMethod::Numeric => "bisection to 1e-12",
    };
    format!("sign changes at eps = {} ({method})", values.join(", "))
}

fn to_json(config: &Config, analyses: &[(SignAnalysis, SignAnalysis)]) -> Value {
    let curves: Vec<Value> = analyses
        .iter()
        .map(|(exact, printed)| {
            json!({
                "n": exact.n,
                "roots_exact": exact.root_values(),
                "roots_printed": printed.root_values(),
                "method": exact.method,
                "findings_exact": exact.describe(),
                "findings_printed": printed.describe(),
                "intervals_exact": exact.intervals,
                "intervals_printed": printed.intervals,
            })
        })
        .collect();
    let csv = match &config.csv {
        None => Value::Null,
        Some(CsvTarget::Stdout) => json!("-"),
        Some(CsvTarget::File(path)) => json!(path.display().to_string()),
    };
    json!({
        "loss": config.loss.spec(),
        "figure": config.figure.display().to_string(),
        "csv": csv,
        "curves": curves,
    })
}
