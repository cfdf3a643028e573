//! Runs a `registry bench … --small` command in this process, parsed as `registry
//! bench` parses it, so a plain `cargo test --workspace` runs it although the
//! `registry` binary carries the benchmarks only with `--features bench`.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use registry_bench::BenchCommand;
use serde_json::Value;

/// `registry bench …`'s arguments.
#[derive(Parser)]
struct Bench {
    #[command(subcommand)]
    command: BenchCommand,
}

/// The registry snapshot in ../shared, or `None` after saying the test is skipped.
pub fn snapshot() -> Option<PathBuf> {
    let found = registry_workload::shared_snapshot().filter(|dir| dir.join("package-sets").is_dir());
    if found.is_none() {
        println!(
            "SKIPPED: no registry snapshot (place ../shared beside the repository or set REGISTRY_SHARED_DIR)"
        );
    }
    found
}

/// `registry bench <command> --small --snapshot S --json F --purs <stand-in>`: the
/// figures it wrote.
pub fn run_small(command: &str, snapshot: &Path) -> Value {
    // This test runs from target/<profile>/deps; the stand-in is built beside it.
    let exe = std::env::current_exe().unwrap();
    let target_dir = exe.parent().and_then(Path::parent).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "-q", "-p", "purs-standin"]);
    if target_dir.ends_with("release") {
        build.arg("--release");
    }
    assert!(build.status().unwrap().success());
    let standin = target_dir.join("purs-standin");
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("bench.json");
    let args: [&std::ffi::OsStr; 9] = [
        "bench".as_ref(),
        command.as_ref(),
        "--small".as_ref(),
        "--snapshot".as_ref(),
        snapshot.as_os_str(),
        "--json".as_ref(),
        json_path.as_os_str(),
        "--purs".as_ref(),
        standin.as_os_str(),
    ];
    let bench = Bench::try_parse_from(args).unwrap();
    if let Err(error) = registry_bench::run(&bench.command) {
        panic!("bench failed: {error:#}");
    }
    serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap()
}
