//! `registry bench matrix --small`: the new-compiler flood over about 60 versions of
//! the snapshot's newest set, run in-process as `registry bench` parses it. Checks
//! the figures that do not depend on machine speed.

use std::path::Path;
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

#[test]
fn small_flood_compiles_each_version_once() {
    let Some(snapshot) = registry_workload::shared_snapshot() else { return };
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
    let json_path = dir.path().join("matrix.json");
    let args: [&std::ffi::OsStr; 9] = [
        "bench".as_ref(),
        "matrix".as_ref(),
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
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let n = |strategy: &str, key: &str| {
        doc["strategies"][strategy][key].as_u64().unwrap_or_else(|| panic!("{strategy}.{key} in {doc}"))
    };
    assert!(doc["window"]["versions"].as_u64().unwrap() >= 50, "{}", doc["window"]);
    assert_eq!(doc["window"]["not_planned"], serde_json::json!([]), "{}", doc["window"]);
    assert_eq!(n("ours", "jobs"), doc["window"]["versions"].as_u64().unwrap());
    assert_eq!(n("ours", "modules_compiled"), n("ours", "own_modules"), "{doc}");
    assert_eq!(doc["rebuilt_because_plan_differed"], serde_json::json!([]), "{doc}");
    assert_eq!(n("ours", "compiler_invocations"), n("ours", "jobs"));
    assert_eq!(n("ours", "cache_misses"), n("ours", "jobs"), "each version compiled once");
    assert!(n("upstream", "modules_compiled") > 10 * n("ours", "modules_compiled"), "{doc}");
    assert_eq!(doc["strategies"]["ours"]["failed"], serde_json::json!([]));
    assert_eq!(doc["strategies"]["upstream"]["failed"], serde_json::json!([]));
}
