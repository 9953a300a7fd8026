//! `analyze check`: the printed equations of Gonzalez and Miikkulainen against first
//! principles.

use std::io::Write;

use crate::check::{CheckRow, Verdict, run_all};

/// Evaluate each numbered equation, theorem, figure claim and table entry of Gonzalez and
/// Miikkulainen, "Effective Regularization through Loss-Function Metalearning", as printed,
/// against first principles (automatic differentiation, exact rational algebra, direct
/// softmax recomputation), and report where they agree.
///
/// Every verdict is computed at run time over deterministic random inputs; a row that
/// differs carries an input where it fails. The exit code is 0 whatever the verdicts: they
/// are data.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the rows as a JSON array with keys id, claim, verdict, max_deviation, tolerance,
    /// measure, cases, failing_cases and witness.
    #[arg(long)]
    json: bool,

    /// Show only the rows whose verdict is `differs`.
    #[arg(long)]
    differs_only: bool,
}

/// Runs `analyze check`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let rows: Vec<CheckRow> = run_all()
        .into_iter()
        .filter(|row| !args.differs_only || row.verdict == Verdict::Differs)
        .collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<22} {:<8} {:>13} {:>9}  claim",
        "id", "verdict", "max_deviation", "tolerance"
    )?;
    for row in &rows {
        let verdict = match row.verdict {
            Verdict::Holds => "holds",
            Verdict::Differs => "differs",
        };
        writeln!(
            out,
            "{:<22} {:<8} {:>13.3e} {:>9.1e}  {}",
            row.id, verdict, row.max_deviation, row.tolerance, row.claim
        )?;
        if let Some(witness) = &row.witness {
            writeln!(
                out,
                "{:<22} witness ({}/{} cases fail; {}): {}",
                "", row.failing_cases, row.cases, row.measure, witness
            )?;
        }
    }
    let differing = rows
        .iter()
        .filter(|row| row.verdict == Verdict::Differs)
        .count();
    writeln!(
        out,
        "\n{} rows: {} hold, {} differ",
        rows.len(),
        rows.len() - differing,
        differing
    )?;
    Ok(())
}
