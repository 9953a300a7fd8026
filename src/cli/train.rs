//! `analyze train`.

/// TODO: placeholder until this subcommand is built.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `analyze train`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("analyze train is not built yet")
}
