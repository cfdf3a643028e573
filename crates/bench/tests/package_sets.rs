//! `registry bench package-sets --small`: the three strategies on real transitions of
//! the snapshot (the newest, and a window across a compiler change), with the
//! stand-in compiler. Checks the targets that do not depend on machine speed.
//!
//! Runs the command in this process, parsed as `registry bench` parses it, so a
//! plain `cargo test --workspace` runs it although the `registry` binary carries the
//! benchmarks only with `--features bench`.

use serde_json::Value;

mod support;

#[test]
fn small_bench_compiles_exactly_the_affected_modules_also_across_a_compiler_change() {
    let Some(snapshot) = support::snapshot() else { return };
    let doc = support::run_small("package-sets", &snapshot);
    check_window(&doc, "the newest window");
    assert_eq!(doc["window"]["end"], "80.3.1", "the default window ends at the newest set");
    let s = &doc["strategies"];
    let n = |strategy: &str, key: &str| {
        s[strategy][key].as_f64().unwrap_or_else(|| panic!("{strategy}.{key} in {doc}"))
    };
    assert!(n("ours", "affected_modules") > 0.0, "the small window should change something");
    assert!(n("wipe", "modules_compiled") > n("ours", "modules_compiled"));
    assert!(n("ours", "bytes_copied") < n("keep-output", "bytes_copied"), "no full backup copy");

    // The newest transitions keep the compiler; the second window crosses a change.
    let change = &doc["compiler_change"];
    check_window(change, "the compiler-change window");
    let compilers = change["window"]["compilers"].as_array().unwrap();
    assert!(compilers.len() >= 2, "{}", change["window"]);
    for strategy in ["wipe", "keep-output", "ours"] {
        let jobs = change["strategies"][strategy]["per_job"].as_array().unwrap();
        let changing: Vec<&Value> = jobs.iter().filter(|j| j["compiler_change"] == true).collect();
        assert_eq!(changing.len(), 1, "{strategy}: one job changes the compiler");
        let job = changing[0];
        let baseline = job["baseline_modules"].as_u64().unwrap();
        assert!(baseline > 0, "the old set is compiled again with the new compiler: {job}");
        assert!(job["affected_modules"].as_u64().unwrap() >= baseline, "{job}");
        // Nothing compiled with the old compiler is reused.
        assert!(job["modules_compiled"].as_u64().unwrap() >= baseline, "{strategy}: {job}");
    }
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

/// Checks one window's figures (`strategies`, three jobs each).
fn check_window(doc: &Value, what: &str) {
    let s = &doc["strategies"];
    let n = |strategy: &str, key: &str| {
        s[strategy][key].as_f64().unwrap_or_else(|| panic!("{what}: {strategy}.{key} in {doc}"))
    };
    for strategy in ["wipe", "keep-output", "ours"] {
        assert_eq!(n(strategy, "jobs"), 3.0, "{what}");
        for key in [
            "compiler_invocations",
            "modules_compiled",
            "affected_modules",
            "affected_modules_by_import",
            "bytes_copied",
            "median_job_seconds",
            "total_seconds",
        ] {
            assert!(n(strategy, key) >= 0.0, "{what}");
        }
    }
    assert!(n("ours", "compiler_invocations") <= n("keep-output", "compiler_invocations"), "{what}");
    let per_job = |strategy: &str| s[strategy]["per_job"].as_array().unwrap().clone();
    let field =
        |job: &Value, key: &str| job[key].as_u64().unwrap_or_else(|| panic!("{what}: {key} in {job}"));
    for ((ours, keep), wipe) in per_job("ours").iter().zip(per_job("keep-output")).zip(per_job("wipe")) {
        assert_eq!(ours["into"], keep["into"], "{what}: the same jobs in the same order");
        assert!(
            field(ours, "affected_modules_by_import") <= field(ours, "affected_modules"),
            "{what}: {ours}"
        );
        assert_eq!(
            field(ours, "modules_compiled"),
            field(ours, "affected_modules"),
            "{what}: ours compiles exactly the affected packages' modules: {ours}"
        );
        // purs rebuilds a module when its imports reach a changed one; every attempt of
        // a real transition compiles, so keep-output's count is that closure exactly.
        assert_eq!(
            field(&keep, "modules_compiled"),
            field(&keep, "affected_modules_by_import"),
            "{what}: keep-output compiles what purs must rebuild: {keep}"
        );
        assert!(field(&wipe, "modules_compiled") >= field(&keep, "modules_compiled"), "{what}: {wipe}");
    }
}
