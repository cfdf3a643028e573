//! `registry bench package-sets --small`: the three strategies on real transitions of
//! the snapshot, with the stand-in compiler. Checks the targets that do not depend
//! on machine speed.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_registry");

#[test]
fn small_bench_compiles_exactly_the_affected_modules() {
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/registry-snapshot");
    if !snapshot.join("package-sets").is_dir() {
        eprintln!("skipped: no registry snapshot at {}", snapshot.display());
        return;
    }
    let target_dir = Path::new(BIN).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo).args(["build", "-q", "-p", "purs-standin"]).status().unwrap();
    assert!(status.success());
    let standin = target_dir.join("purs-standin");
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("bench.json");
    let out = Command::new(BIN)
        .args(["bench", "package-sets", "--small", "--snapshot"])
        .arg(&snapshot)
        .arg("--json")
        .arg(&json_path)
        .arg("--purs")
        .arg(&standin)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    println!("{stdout}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let s = &doc["strategies"];
    let n = |strategy: &str, key: &str| {
        s[strategy][key].as_f64().unwrap_or_else(|| panic!("{strategy}.{key} in {doc}"))
    };
    for strategy in ["wipe", "keep-output", "ours"] {
        assert_eq!(n(strategy, "jobs"), 3.0);
        for key in [
            "compiler_invocations",
            "modules_compiled",
            "affected_modules",
            "bytes_copied",
            "median_job_seconds",
            "total_seconds",
        ] {
            assert!(n(strategy, key) >= 0.0);
        }
    }
    assert!(n("ours", "affected_modules") > 0.0, "the small window should change something");
    assert_eq!(
        n("ours", "modules_compiled"),
        n("ours", "affected_modules"),
        "ours compiles exactly the affected closure"
    );
    assert!(n("wipe", "modules_compiled") > n("ours", "modules_compiled"));
    assert!(n("ours", "compiler_invocations") <= n("keep-output", "compiler_invocations"));
    assert!(n("ours", "bytes_copied") < n("keep-output", "bytes_copied"), "no full backup copy");
    let batch = &doc["batch"];
    let (k, f, calls) = (
        batch["k"].as_u64().unwrap(),
        batch["f"].as_u64().unwrap(),
        batch["compiler_invocations"].as_u64().unwrap(),
    );
    assert!(k >= 2 && f >= 1, "{batch}");
    let log2k = (k as f64).log2().ceil() as u64;
    assert!(calls <= 2 + 2 * f * log2k, "{calls} compiler invocations for k = {k}, f = {f}");
    assert_eq!(
        batch["rejected"].as_array().unwrap().len() as u64,
        f,
        "each breaking change is found: {batch}"
    );
}
