//! The `coffer` binary: wires the crates together.

mod audit;
mod audit_cli;
mod cli;
mod cloudtrail;
mod config;
mod gate;
mod http;
mod kms;
mod logging;
mod metrics;
mod operator;
mod profile;
mod query;
mod rotation;
mod seal;
mod secretsmanager;
mod server;
mod setup;
mod store;
#[cfg(debug_assertions)]
mod test_clock;

use clap::Parser;

/// mimalloc rather than glibc's malloc: per-thread heaps keep the request threads and the
/// audit writer from contending on allocator locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Server(args) => run_server(*args),
        Command::Profile(args) => profile::write(&args),
        Command::Operator(args) => run_operator(&args),
        Command::Audit(args) => match run_audit(&args) {
            Ok(true) => Ok(()),
            Ok(false) => return std::process::ExitCode::FAILURE,
            Err(error) => Err(error),
        },
        Command::RotationFunction(args) => rotation::edit_config(&args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("coffer: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_operator(args: &cli::OperatorArgs) -> anyhow::Result<()> {
    // `init` opens the store (async); the network commands are plain blocking I/O.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    operator::run(args, &runtime)
}

fn run_audit(args: &cli::AuditArgs) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    audit_cli::run(args, &runtime)
}

fn run_server(args: cli::ServerArgs) -> anyhow::Result<()> {
    let config = config::ServerConfig::resolve(args)?;
    logging::init(config.log_format, &config.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(server::run(config))
}
