//! The `--symbolic` output of `analyze coeffs`.

use std::io::Write;

use crate::loss::Loss;
use crate::symbolic::symbolic_report;

/// Writes the derivation of gamma and its coefficients as exact polynomials for `loss`: the
/// general formulas in the loss's parameters, then the same with its values substituted.
pub fn write_symbolic(out: &mut impl Write, loss: &Loss) -> anyhow::Result<()> {
    let report = symbolic_report(loss);
    writeln!(
        out,
        "symbolic derivation (gamma = -dl/dh of the per-class term l):"
    )?;
    if report.is_empty() {
        writeln!(
            out,
            "  {} is not polynomial in h (it contains ln h or 1/h), so it has no exact \
             polynomial derivation; see the closed-form gamma above",
            loss.spec()
        )?;
        return Ok(());
    }
    for (name, poly) in report {
        writeln!(out, "  {name} = {poly}")?;
    }
    Ok(())
}
