//! `registry bench matrix --small`: the new-compiler flood over about 60 versions of
//! the snapshot's newest set, run in-process as `registry bench` parses it. Checks
//! the figures that do not depend on machine speed.

mod support;

#[test]
fn small_flood_compiles_each_version_once() {
    let Some(snapshot) = support::snapshot() else { return };
    let doc = support::run_small("matrix", &snapshot);
    let n = |strategy: &str, key: &str| {
        doc["strategies"][strategy][key].as_u64().unwrap_or_else(|| panic!("{strategy}.{key} in {doc}"))
    };
    assert!(doc["window"]["versions"].as_u64().unwrap() >= 50, "{}", doc["window"]);
    assert_eq!(doc["window"]["not_planned"], serde_json::json!([]), "{}", doc["window"]);
    assert_eq!(n("ours", "jobs"), doc["window"]["versions"].as_u64().unwrap());
    assert_eq!(n("ours", "modules_compiled"), n("ours", "own_modules"), "{doc}");
    assert_eq!(doc["rebuilt_because_plan_differed"], serde_json::json!([]), "{doc}");
    // One version of each package: every job's plan is the only one, so nothing forces a second build.
    assert_eq!(doc["floor"]["modules"].as_u64(), Some(n("ours", "own_modules")), "{}", doc["floor"]);
    assert_eq!(doc["floor"]["forced"], serde_json::json!([]), "{}", doc["floor"]);
    assert_eq!(n("ours", "compiler_invocations"), n("ours", "jobs"));
    assert_eq!(n("ours", "cache_misses"), n("ours", "jobs"), "each version compiled once");
    assert!(n("upstream", "modules_compiled") > 10 * n("ours", "modules_compiled"), "{doc}");
    assert_eq!(doc["strategies"]["ours"]["failed"], serde_json::json!([]));
    assert_eq!(doc["strategies"]["upstream"]["failed"], serde_json::json!([]));
}
