//! The `analyze` command line: see `analyze --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = lossdyn::cli::Cli::parse();
    match lossdyn::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// A closed pipe (`analyze check | head`) ends output early; that is not a failure.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
