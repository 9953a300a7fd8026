//! `analyze curve`.

/// TODO: placeholder until this subcommand is built.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `analyze curve`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("analyze curve is not built yet")
}
