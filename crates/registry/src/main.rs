//! The `registry` command: one binary for the registry's server and tools.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod verify_data;

#[derive(Parser)]
#[command(name = "registry", version, about = "The PureScript registry server and its tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode, re-encode and cross-check a registry data folder (index/, metadata/, package-sets/).
    VerifyData {
        /// A folder laid out like the registry's repositories.
        dir: PathBuf,
        /// An allow-list of explained mismatches (default: the one built into the binary).
        #[arg(long)]
        allowlist: Option<PathBuf>,
    },
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
