//! `analyze smooth`.

/// TODO: placeholder until this subcommand is built.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `analyze smooth`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("analyze smooth is not built yet")
}
