//! `analyze figure`.

/// TODO: placeholder until this subcommand is built.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `analyze figure`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("analyze figure is not built yet")
}
