//! The `registry` command: one binary for the registry's server and tools. A thin
//! dispatcher: each subcommand's work lives in a module or library crate.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use registry_server::init::InitArgs;
use registry_settings::Settings;

mod github;
mod package_set_daily;
mod package_set_update;
mod verify_data;
mod verify_integrity;

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
    /// Run the HTTP API and the job executor (`--no-executor`: the API only).
    Serve(registry_server::app::ServeArgs),
    /// Run the job executor only, without HTTP, beside other workers and an API process
    /// sharing a Postgres job database (DATABASE_URL=postgres://…).
    Worker(Settings),
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
    #[cfg(feature = "bench")]
    Bench {
        #[command(subcommand)]
        command: registry_bench::BenchCommand,
    },
    // Kept, hidden, in a build without benchmarks so that asking for one says how to
    // build it rather than "unrecognized subcommand".
    /// Benchmarks: not in this build (build with `--features bench`).
    #[cfg(not(feature = "bench"))]
    #[command(hide = true)]
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
    },
    /// The GitHub-issue bridge: run by a GitHub Actions workflow on issue and comment events.
    GithubIssue(github::issue::IssueArgs),
    /// Importers fed from GitHub.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Submit signed transfers for packages whose GitHub repository was renamed or moved.
    TransferRenamed(github::transfer_renamed::TransferRenamedArgs),
    /// Check a live registry's repositories, storage and jobs against each other (exit 1 on any problem).
    VerifyIntegrity(verify_integrity::VerifyIntegrityArgs),
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
enum ImportCommand {
    /// Submit publish requests for version tags pushed in the last 24 hours (upstream's DailyImporter).
    Daily(github::daily_import::ImportDailyArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration of `serve`, secrets masked.
    Show(Settings),
}

/// Set in the environment of the process `load_dotenv` re-executes, so it loads once.
const DOTENV_LOADED: &str = "REGISTRY_DOTENV_LOADED";

/// Upstream's `.env` in the current directory: its values are defaults, the real
/// environment wins. The environment of a running process cannot be changed without
/// `unsafe`, so the binary runs itself again (exec) with the file's variables added.
fn load_dotenv() -> Result<(), String> {
    if std::env::var_os(DOTENV_LOADED).is_some() {
        return Ok(());
    }
    let defaults = registry_settings::dotenv::defaults(std::path::Path::new(".env"), |key| {
        std::env::var_os(key).is_some()
    })?;
    if defaults.is_empty() {
        return Ok(());
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("finding this program to load .env failed: {e}"))?;
    let error = std::os::unix::process::CommandExt::exec(
        std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .envs(&defaults)
            .env(DOTENV_LOADED, "1"),
    );
    Err(format!("running this program again with the settings of .env failed: {error}"))
}

fn main() -> ExitCode {
    if let Err(e) = load_dotenv() {
        eprintln!("error: .env: {e}");
        return ExitCode::FAILURE;
    }
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
        Command::Serve(args) => {
            use registry_server::app::Role;
            let role = if args.no_executor { Role::Api } else { Role::ApiAndExecutor };
            registry_server::app::run_as(args.settings, role).map(|()| ExitCode::SUCCESS)
        }
        Command::Worker(settings) => {
            registry_server::app::run_as(settings, registry_server::app::Role::Worker)
                .map(|()| ExitCode::SUCCESS)
        }
        Command::PackageSet { command: PackageSetCommand::Update(args) } => package_set_update::run(&args),
        Command::PackageSet { command: PackageSetCommand::Daily(args) } => package_set_daily::run(&args),
        Command::GithubIssue(args) => github::issue::run(&args),
        Command::Import { command: ImportCommand::Daily(args) } => github::daily_import::run(&args),
        Command::TransferRenamed(args) => github::transfer_renamed::run(&args),
        Command::Config { command: ConfigCommand::Show(settings) } => {
            print!("{}", settings.show());
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "bench")]
        Command::Bench { command } => registry_bench::run(&command).map(|()| ExitCode::SUCCESS),
        #[cfg(not(feature = "bench"))]
        Command::Bench { .. } => anyhow::bail!(
            "this registry binary was built without its benchmarks; build it with them: \
             `cargo build --release -p registry --features bench` (or `cargo run --release -p registry \
             --features bench -- bench …`)"
        ),
        Command::VerifyIntegrity(args) => verify_integrity::run(&args),
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
