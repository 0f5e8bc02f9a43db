//! The `coffer` binary: wires the crates together.

mod cli;
mod config;
mod http;
mod kms;
mod logging;
mod profile;
mod query;
mod secretsmanager;
mod server;
mod setup;
#[cfg(debug_assertions)]
mod test_clock;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Server(args) => run_server(args),
        Command::Profile(args) => profile::write(&args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("coffer: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_server(args: cli::ServerArgs) -> anyhow::Result<()> {
    let config = config::ServerConfig::resolve(args)?;
    logging::init(config.log_format, &config.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(server::run(config))
}
