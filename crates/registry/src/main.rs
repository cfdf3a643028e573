//! The `registry` command: one binary for the registry's server and tools. A thin
//! dispatcher: each subcommand's work lives in a module or library crate.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use registry_server::Settings;
use registry_server::init::InitArgs;

mod bench_package_sets;
mod package_set_daily;
mod package_set_update;
mod verify_data;

#[derive(Parser)]
#[command(name = "registry", version, about = "The PureScript registry server and its tools")]
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
    /// Package sets.
    PackageSet {
        #[command(subcommand)]
        command: PackageSetCommand,
    },
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
    /// Decode, re-encode and cross-check a registry data folder (index/, metadata/, package-sets/).
    VerifyData {
        /// A folder laid out like the registry's repositories.
        dir: PathBuf,
        /// An allow-list of explained mismatches (default: the one built into the binary).
        #[arg(long)]
        allowlist: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PackageSetCommand {
    /// Run a package-set update here, as a package-set job would, with a progress bar.
    Update(package_set_update::UpdateArgs),
    /// Submit the versions published in the last 24 hours as a package-set request (daily sets).
    Daily(package_set_daily::DailyArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration of `serve`, secrets masked.
    Show(Settings),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Requests/s and latency of `GET /api/v1/jobs/{id}` on loopback while jobs run.
    Api(registry_server::bench::BenchArgs),
    /// Package-set jobs: wipe vs keep-output vs the build engine, on real transitions.
    PackageSets(bench_package_sets::BenchArgs),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init(args) => registry_server::init::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Serve(settings) => registry_server::app::run(settings).map(|()| ExitCode::SUCCESS),
        Command::PackageSet { command: PackageSetCommand::Update(args) } => package_set_update::run(&args),
        Command::PackageSet { command: PackageSetCommand::Daily(args) } => package_set_daily::run(&args),
        Command::Config { command: ConfigCommand::Show(settings) } => {
            print!("{}", settings.show());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::PackageSets(args) } => {
            bench_package_sets::run(&args).map(|()| ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::Api(args) } => {
            registry_server::bench::run(&args).map(|()| ExitCode::SUCCESS)
        }
        Command::VerifyData { dir, allowlist } => {
            let allowlist = match allowlist {
                Some(path) => std::fs::read_to_string(&path)
                    .with_context(|| format!("reading allow-list {}", path.display()))?,
                None => verify_data::DEFAULT_ALLOWLIST.to_owned(),
            };
            let started = std::time::Instant::now();
            let outcome = verify_data::run(&dir, &allowlist)?;
            print!("{}", outcome.text);
            eprintln!("verify-data took {:.3} s", started.elapsed().as_secs_f64());
            Ok(if outcome.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
