//! Subcommands of the `analyze` binary. Each lives in its own file, parses with clap and
//! validates its arguments into library types before any work starts.

use clap::{Parser, Subcommand};

mod check;
mod coeffs;
mod curve;
mod figure;
mod pipeline;
mod smooth;
mod symbolic;
mod trace;
mod train;

/// Analyse what a loss function does to training: learning-rule coefficients, the paper's
/// theorems checked against first principles, training runs with per-sample logs, and the
/// figures of "Effective Regularization through Loss-Function Metalearning".
///
/// Losses are given as specs: ce, mse, baikal, taylorglo:L0,...,L7 (TaylorGLO parameters
/// lambda_0..lambda_7), coeffs:C1,CH,CHH,CHY,CY,CYY (coefficients of gamma) or
/// taylorglo-cifar10 (the paper's CIFAR-10 AllCNN-C loss).
#[derive(Debug, Parser)]
#[command(name = "analyze", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(allow_negative_numbers = true)]
    Coeffs(coeffs::Args),
    #[command(allow_negative_numbers = true)]
    Smooth(smooth::Args),
    #[command(allow_negative_numbers = true)]
    Check(check::Args),
    #[command(allow_negative_numbers = true)]
    Curve(curve::Args),
    #[command(allow_negative_numbers = true)]
    Figure(figure::Args),
    #[command(allow_negative_numbers = true)]
    Train(train::Args),
    #[command(allow_negative_numbers = true)]
    Trace(trace::Args),
    #[command(allow_negative_numbers = true)]
    Pipeline(pipeline::Args),
}

/// Where a command writes its CSV table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CsvTarget {
    Stdout,
    File(std::path::PathBuf),
}

/// Reads a `--csv PATH|-` option; `-` means standard output, which `--json` also uses, so the
/// two together are rejected.
pub(crate) fn csv_target(csv: Option<&str>, json: bool) -> anyhow::Result<Option<CsvTarget>> {
    let target = csv.map(|path| match path {
        "-" => CsvTarget::Stdout,
        path => CsvTarget::File(std::path::PathBuf::from(path)),
    });
    if json && target == Some(CsvTarget::Stdout) {
        anyhow::bail!(
            "--json and --csv - both write to standard output; give --csv a file path or \
             drop --json"
        );
    }
    Ok(target)
}

/// Runs one subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Coeffs(args) => coeffs::run(args),
        Command::Smooth(args) => smooth::run(args),
        Command::Check(args) => check::run(args),
        Command::Curve(args) => curve::run(args),
        Command::Figure(args) => figure::run(args),
        Command::Train(args) => train::run(args),
        Command::Trace(args) => trace::run(args),
        Command::Pipeline(args) => pipeline::run(args),
    }
}
