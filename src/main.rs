//! The `analyze` command line: see `analyze --help`.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = lossdyn::cli::Cli::parse();
    // Flushing here surfaces a write error (a full disk, a closed file) that buffered output
    // would otherwise hit only when stdout is dropped, where it is ignored.
    let result = lossdyn::cli::run(cli).and_then(|()| {
        std::io::stdout()
            .flush()
            .map_err(|error| anyhow::Error::new(error).context("failed to write standard output"))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Returns whether the error comes from a closed pipe (`analyze check | head`), which ends
/// output early without being a failure.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
