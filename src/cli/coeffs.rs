//! `analyze coeffs`.

/// TODO: placeholder until this subcommand is built.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `analyze coeffs`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("analyze coeffs is not built yet")
}
