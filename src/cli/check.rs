//! `analyze check`.

/// TODO: placeholder until this subcommand is built.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `analyze check`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("analyze check is not built yet")
}
