//! The `--symbolic` output of `analyze coeffs`.

use std::io::Write;

use crate::loss::Loss;

/// Writes gamma and its coefficients as exact polynomials for `loss`.
pub fn write_symbolic(_out: &mut impl Write, _loss: &Loss) -> anyhow::Result<()> {
    anyhow::bail!("the symbolic derivation is not built yet")
}
