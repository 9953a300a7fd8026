//! `analyze trace`.

/// TODO: placeholder until this subcommand is built.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `analyze trace`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("analyze trace is not built yet")
}
