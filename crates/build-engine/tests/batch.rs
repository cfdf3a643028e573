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

/// Every phase and count of a batch reaches the event callback, in order.
#[test]
fn a_batch_reports_its_phases_attempts_and_culprits_as_events() {
    use registry_build::BuildEvent;
    use registry_core::package_set_batch::CompileOutcome;
    use std::sync::Mutex;

    let base = tempfile::tempdir().unwrap();
    let cache = Arc::new(StorageCache::local(base.path().join("cache")).unwrap());
    let source = GenSource { index: universe() };
    let purs = Purs::new(compilers(&base.path().join("bin")));
    let old: PackageMap = UNIVERSE.iter().map(|(n, _)| (name(n), v("1.0.0"))).collect();
    let events: Arc<Mutex<Vec<BuildEvent>>> = Arc::default();
    let sink = events.clone();
    let mut engine = Engine::open(&base.path().join("work"), v("0.15.15"), purs, cache)
        .unwrap()
        .with_events(Arc::new(move |e: &BuildEvent| sink.lock().unwrap().push(e.clone())));

    let first = engine.build(&old, &source.index, &source).unwrap();
    let seen = std::mem::take(&mut *events.lock().unwrap());
    let installing: Vec<(usize, usize)> = seen
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Installing { index, total, .. } => Some((*index, *total)),
            _ => None,
        })
        .collect();
    assert_eq!(installing, (1..=old.len()).map(|i| (i, old.len())).collect::<Vec<_>>());
    let modules: usize = engine.installed_modules().values().map(|m| m.len()).sum();
    let started: Vec<(usize, Option<usize>)> = seen
        .iter()
        .filter_map(|e| match e {
            BuildEvent::ModuleStarted(p) => Some((p.index, p.total)),
            _ => None,
        })
        .collect();
    assert_eq!(started, (1..=modules).map(|i| (i, Some(modules))).collect::<Vec<_>>());
    let phases: Vec<&BuildEvent> = seen
        .iter()
        .filter(|e| !matches!(e, BuildEvent::Installing { .. } | BuildEvent::ModuleStarted(_)))
        .collect();
    assert_eq!(
        phases,
        [
            &BuildEvent::Installed { packages: old.len() },
            &BuildEvent::Compiling { packages: old.len(), modules },
            &BuildEvent::Compiled { modules: first.modules_compiled },
        ]
    );

    let changes = vec![
        (name("alpha"), Change::Update(v("2.0.0"))), // breaks gamma and epsilon
        (name("beta"), Change::Update(v("1.1.0"))),
    ];
    let run = run_batch(&mut engine, &old, &changes, &source.index, &source).unwrap();
    let seen = events.lock().unwrap().clone();
    let attempts: Vec<&BuildEvent> = seen
        .iter()
        .filter(|e| matches!(e, BuildEvent::AttemptStarted { .. } | BuildEvent::AttemptFinished { .. }))
        .collect();
    assert_eq!(attempts.len(), 2 * run.reports.len(), "{attempts:#?}");
    for (k, pair) in attempts.chunks(2).enumerate() {
        let BuildEvent::AttemptStarted { attempt, accepted_set, .. } = pair[0] else { panic!("{pair:?}") };
        let BuildEvent::AttemptFinished { attempt: finished, outcome } = pair[1] else { panic!("{pair:?}") };
        assert_eq!((*attempt, *finished), (k + 1, k + 1));
        assert_eq!(*accepted_set, k + 1 == run.reports.len());
        assert_eq!(*outcome, run.reports[k].outcome);
    }
    assert!(matches!(attempts.last(), Some(BuildEvent::AttemptFinished { outcome: CompileOutcome::Ok, .. })));
    let verdict: Vec<&BuildEvent> =
        seen.iter().filter(|e| matches!(e, BuildEvent::CulpritsFound { .. })).collect();
    assert_eq!(verdict, [&BuildEvent::CulpritsFound { accepted: 1, culprits: vec![name("alpha")] }]);
    let lines: Vec<String> = seen.iter().filter_map(BuildEvent::log_line).collect();
    assert!(lines.contains(&"1 culprit found (alpha); 1 change accepted".to_owned()), "{lines:#?}");
}
