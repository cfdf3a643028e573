//! `registry`: the PureScript registry's command line. A thin dispatcher: each
//! subcommand's work lives in a library crate.

use clap::{Parser, Subcommand};
use registry_server::Settings;
use registry_server::init::InitArgs;

#[derive(Parser)]
#[command(name = "registry", version, about = "The PureScript registry server and its command line.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an empty registry in a data directory (idempotent).
    Init(InitArgs),
    /// Run the HTTP API and the job executor.
    Serve(Settings),
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Benchmarks (print figures; not tests).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Requests/s and latency of `GET /api/v1/jobs/{id}` on loopback while jobs run.
    Api(registry_server::bench::BenchArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration of `serve`, secrets masked.
    Show(Settings),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Init(args) => registry_server::init::run(&args),
        Command::Serve(settings) => registry_server::app::run(settings),
        Command::Config { command: ConfigCommand::Show(settings) } => {
            print!("{}", settings.show());
            Ok(())
        }
        Command::Bench { command: BenchCommand::Api(args) } => registry_server::bench::run(&args),
    }
}
