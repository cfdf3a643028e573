//! Batches decided with the engine as oracle accept exactly what upstream's
//! one-at-a-time algorithm accepts (checked with clean builds as its oracle).

mod support;

use std::sync::Arc;

use registry_build::{Engine, StorageCache, run_batch};
use registry_compiler::Purs;
use registry_core::package_set_batch::{Batch, PackageMap, upstream_sequential};
use registry_core::package_set_rules::Change;
use support::*;

#[test]
fn engine_batches_match_upstream_with_fewer_compiles() {
    let base = tempfile::tempdir().unwrap();
    let cache = Arc::new(StorageCache::local(base.path().join("cache")).unwrap());
    let source = GenSource { index: universe() };
    let purs = Purs::new(compilers(&base.path().join("bin")));
    let old: PackageMap = UNIVERSE.iter().map(|(n, _)| (name(n), v("1.0.0"))).collect();
    // In dependency order, as order_changes gives them.
    let changes = vec![
        (name("alpha"), Change::Update(v("2.0.0"))), // breaks gamma and epsilon
        (name("beta"), Change::Update(v("1.1.0"))),  // fine
        (name("delta"), Change::Update(v("3.0.0"))), // broken itself
        (name("epsilon"), Change::Update(v("1.1.0"))), // fine
    ];
    let mut engine = Engine::open(&base.path().join("work"), v("0.15.15"), purs.clone(), cache).unwrap();
    engine.build(&old, &source.index, &source).unwrap();
    let run = run_batch(&mut engine, &old, &changes, &source.index, &source).unwrap();

    let batch = Batch { old: &old, changes: &changes, graph: &source.index, modules: None };
    let clean = base.path().join("clean");
    let mut upstream_compiles = 0;
    let upstream = upstream_sequential(&batch, &mut |state: &PackageMap| {
        upstream_compiles += 1;
        Ok::<_, String>(clean_build(&clean, state, &source, &purs, v("0.15.15")))
    })
    .unwrap();
    assert_eq!(run.result.accepted, upstream.accepted);
    let accepted: Vec<&str> = run.result.accepted.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(accepted, ["beta", "epsilon"]);
    assert!(run.compiles < upstream_compiles, "{} vs upstream {upstream_compiles}", run.compiles);
    // The working directory holds the accepted set, equal to a clean build of it.
    let accepted_set = run.result.packages(&old);
    clean_build(&clean, &accepted_set, &source, &purs, v("0.15.15"));
    assert_same_output(&engine.output_dir(), &clean.join("output"), "accepted set");
}
