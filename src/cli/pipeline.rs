//! `analyze pipeline`.

/// TODO: placeholder until this subcommand is built.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `analyze pipeline`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("analyze pipeline is not built yet")
}
