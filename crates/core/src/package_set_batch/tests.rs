//! Hand-made batches: verdicts, compile counts and the log.

use std::collections::BTreeSet;

use super::model::{ModelVersion, Recorder, Reporting, V1, V2, World, name, on};
use super::{
    Atomic, BatchError, BatchResult, CompileOutcome, Options, Purpose, RejectReason, plan_batch,
    upstream_sequential,
};
use crate::package_set_rules::Change;

/// Runs the planner and upstream's algorithm; checks they accept the same changes
/// and that the planner never compiles a state twice or more often than upstream.
fn both(world: &World, reporting: Reporting, with_modules: bool) -> (BatchResult, BatchResult) {
    let graph = world.graph();
    let modules = world.modules();
    let batch = world.batch(&graph, with_modules.then_some(&modules));
    let mut planner_oracle = Recorder::new(world, reporting);
    let planned = plan_batch(&batch, Options::default(), &mut |s| planner_oracle.compile(s)).unwrap();
    let mut upstream_oracle = Recorder::new(world, reporting);
    let upstream = upstream_sequential(&batch, &mut |s| upstream_oracle.compile(s)).unwrap();
    assert!(!planner_oracle.repeated, "the planner compiled a state twice: {:#?}", planned.rounds);
    assert_eq!(planned.accepted, upstream.accepted, "planner log: {:#?}", planned.rounds);
    assert!(planned.compiles <= upstream.compiles, "{} > {}", planned.compiles, upstream.compiles);
    assert_eq!(planned.compiles, planner_oracle.seen.len());
    (planned, upstream)
}

fn accepted_names(result: &BatchResult) -> Vec<&str> {
    result.accepted.iter().map(|(n, _)| n.as_str()).collect()
}

/// `prelude` plus `count` leaf packages `l0…` on it, each with a dependant `d0…`.
fn islands(count: usize) -> World {
    let mut world = World::default();
    world.add("prelude", V1, ModelVersion::default());
    world.old.insert(name("prelude"), V1);
    for i in 0..count {
        let leaf = format!("l{i}");
        world.add(&leaf, V1, on(&[("prelude", &[V1])]));
        world.add(&leaf, V2, on(&[("prelude", &[V1])]));
        world.add(&format!("d{i}"), V1, on(&[(&leaf, &[V1, V2])]));
        world.old.insert(name(&leaf), V1);
        world.old.insert(name(&format!("d{i}")), V1);
        world.changes.push((name(&leaf), Change::Update(V2)));
    }
    world
}

#[test]
fn all_changes_compile_in_two_compiles() {
    let world = islands(12);
    let (planned, upstream) = both(&world, Reporting::Attributed, false);
    assert_eq!(planned.compiles, 2);
    assert_eq!(planned.atomic, Atomic::Passed);
    assert_eq!(planned.accepted.len(), 12);
    assert_eq!(upstream.compiles, 2);
}

#[test]
fn one_breaking_change_among_independent_ones_is_found_by_the_atomic_compile() {
    let mut world = islands(12);
    // l7@2 breaks its dependant d7.
    world.versions.get_mut(&name("d7")).unwrap().get_mut(&V1).unwrap().deps.insert(name("l7"), [V1].into());
    let (planned, upstream) = both(&world, Reporting::Attributed, false);
    assert_eq!(planned.compiles, 2, "{:#?}", planned.rounds);
    assert_eq!(upstream.compiles, 14);
    assert_eq!(planned.rejected.len(), 1);
    assert_eq!(planned.rejected[0].name, name("l7"));
    assert_eq!(planned.rejected[0].reason, RejectReason::Failing { round: 1, packages: vec![name("d7")] });
}

#[test]
fn one_broken_removal_among_independent_ones_costs_one_more_compile() {
    let mut world = islands(12);
    // Removing l3 while d3 stays: the compile stops before building anything.
    world.changes[3].1 = Change::Remove;
    let (planned, _) = both(&world, Reporting::Attributed, false);
    assert!(planned.compiles <= 3, "{:#?}", planned.rounds);
    assert!(matches!(planned.rounds[1].outcome, CompileOutcome::Aborted { .. }));
    assert_eq!(planned.rejected.len(), 1);
    assert_eq!(planned.rejected[0].name, name("l3"));
    assert_eq!(planned.rounds[2].purpose, Purpose::Ready);
}

#[test]
fn blind_reports_are_still_decided_exactly() {
    let mut world = islands(6);
    world.versions.get_mut(&name("d2")).unwrap().get_mut(&V1).unwrap().deps.insert(name("l2"), [V1].into());
    let (planned, upstream) = both(&world, Reporting::Blind, false);
    assert_eq!(accepted_names(&planned).len(), 5);
    assert!(planned.compiles <= upstream.compiles);
}

/// `a` and `b` (b depends on a) both updated; `c` independent.
fn chain(b2_accepts_a1: bool, b1_accepts_a2: bool, c_breaks: bool) -> World {
    let mut world = World::default();
    world.add("a", V1, ModelVersion::default());
    world.add("a", V2, ModelVersion::default());
    let b1_accepts: &[_] = if b1_accepts_a2 { &[V1, V2] } else { &[V1] };
    let b2_accepts: &[_] = if b2_accepts_a1 { &[V1, V2] } else { &[V2] };
    world.add("b", V1, on(&[("a", b1_accepts)]));
    world.add("b", V2, on(&[("a", b2_accepts)]));
    world.add("c", V1, ModelVersion::default());
    world.add("c", V2, ModelVersion { broken: c_breaks, ..ModelVersion::default() });
    for p in ["a", "b", "c"] {
        world.old.insert(name(p), V1);
    }
    world.changes = vec![
        (name("a"), Change::Update(V2)),
        (name("b"), Change::Update(V2)),
        (name("c"), Change::Update(V2)),
    ];
    world
}

#[test]
fn a_chain_that_only_works_together_is_accepted_atomically() {
    let world = chain(false, false, false);
    let (planned, _) = both(&world, Reporting::Attributed, false);
    assert_eq!(accepted_names(&planned), ["a", "b", "c"]);
    assert_eq!(planned.compiles, 2);
}

#[test]
fn a_chain_that_only_works_together_is_rejected_one_at_a_time() {
    // Upstream tries a@2 with b@1 (fails), then b@2 with a@1 (fails).
    let world = chain(false, false, true);
    let (planned, upstream) = both(&world, Reporting::Attributed, false);
    assert!(accepted_names(&planned).is_empty());
    assert_eq!(upstream.compiles, 5);
    assert!(planned.compiles <= 4, "{:#?}", planned.rounds);
}

#[test]
fn a_compatible_chain_is_accepted_in_order() {
    let world = chain(true, true, true);
    let (planned, _) = both(&world, Reporting::Attributed, false);
    assert_eq!(accepted_names(&planned), ["a", "b"]);
    // The atomic compile rejects c; a and b need their own states.
    assert!(planned.compiles <= 4, "{:#?}", planned.rounds);
}

#[test]
fn a_change_depending_on_an_earlier_one_is_judged_after_it() {
    // b@2 needs a@2; a@2 is fine with b@1. Upstream accepts both.
    let world = chain(false, true, true);
    let (planned, _) = both(&world, Reporting::Attributed, false);
    assert_eq!(accepted_names(&planned), ["a", "b"]);
}

#[test]
fn removals_with_their_dependants_removed_first_need_no_compile() {
    let mut world = islands(3);
    // Remove d0 then l0 (reverse dependency order); l1@2 is broken.
    world.versions.get_mut(&name("l1")).unwrap().get_mut(&V2).unwrap().broken = true;
    world.changes.retain(|(n, _)| n != &name("l0"));
    world.changes.push((name("d0"), Change::Remove));
    world.changes.push((name("l0"), Change::Remove));
    let (planned, upstream) = both(&world, Reporting::Attributed, false);
    assert_eq!(accepted_names(&planned), ["l2", "d0", "l0"]);
    assert_eq!(planned.compiles, 2, "{:#?}", planned.rounds);
    assert_eq!(upstream.compiles, 6);
}

#[test]
fn an_addition_whose_dependency_is_rejected_is_rejected_too() {
    let mut world = islands(2);
    world.versions.get_mut(&name("l1")).unwrap().get_mut(&V2).unwrap().broken = true;
    // n is new and depends on l1@2 only.
    world.add("n", V1, on(&[("l1", &[V2])]));
    world.changes.push((name("n"), Change::Update(V1)));
    let (planned, _) = both(&world, Reporting::Attributed, false);
    assert_eq!(accepted_names(&planned), ["l0"]);
}

#[test]
fn an_addition_needing_a_package_that_is_not_there_aborts_and_is_rejected() {
    let mut world = islands(4);
    world.add("ghost", V1, ModelVersion::default());
    world.add("n", V1, on(&[("ghost", &[V1])]));
    world.changes.push((name("n"), Change::Update(V1)));
    let (planned, _) = both(&world, Reporting::Attributed, false);
    assert_eq!(accepted_names(&planned), ["l0", "l1", "l2", "l3"]);
    let rejection = &planned.rejected[0];
    assert_eq!(rejection.name, name("n"));
    assert_eq!(rejection.reason, RejectReason::Failing { round: 1, packages: vec![name("n")] });
}

/// `l0@2` takes over module `M1` of `l1`; `l1@2` drops it.
fn module_move(l1_first: bool) -> World {
    let mut world = islands(3);
    let modules = |names: &[&str]| names.iter().map(|m| m.to_string()).collect::<BTreeSet<_>>();
    for (package, version, provided) in [
        ("l0", V1, modules(&["M0"])),
        ("l0", V2, modules(&["M0", "M1"])),
        ("l1", V1, modules(&["M1"])),
        ("l1", V2, modules(&[])),
    ] {
        world.versions.get_mut(&name(package)).unwrap().get_mut(&version).unwrap().modules = provided;
    }
    world.versions.get_mut(&name("l2")).unwrap().get_mut(&V2).unwrap().broken = true;
    if l1_first {
        world.changes.swap(0, 1);
    }
    world
}

#[test]
fn duplicate_modules_are_predicted_from_module_names() {
    // l0@2 comes first and collides with l1@1: upstream rejects it, then accepts l1@2.
    let (planned, _) = both(&module_move(false), Reporting::Attributed, true);
    assert_eq!(accepted_names(&planned), ["l1"]);
    assert_eq!(
        planned.rejected[0].reason,
        RejectReason::DuplicateModule { module: "M1".into(), other: name("l1") }
    );
    // With l1@2 first, both fit.
    let (planned, _) = both(&module_move(true), Reporting::Attributed, true);
    assert_eq!(accepted_names(&planned), ["l1", "l0"]);
}

#[test]
fn unattributed_failures_are_narrowed_down_when_affordable() {
    let mut world = islands(12);
    world.versions.get_mut(&name("l5")).unwrap().get_mut(&V2).unwrap().broken = true;
    world.versions.get_mut(&name("l11")).unwrap().get_mut(&V2).unwrap().broken = true;
    let graph = world.graph();
    let batch = world.batch(&graph, None);
    let mut oracle = Recorder::new(&world, Reporting::Blind);
    let options = Options { overshoot: usize::MAX };
    let planned = plan_batch(&batch, options, &mut |s| oracle.compile(s)).unwrap();
    let rejected: Vec<&str> = planned.rejected.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(rejected, ["l5", "l11"]);
    assert!(planned.rounds.iter().any(|r| r.purpose == Purpose::Bisect), "{:#?}", planned.rounds);
    // 2 + 2·f·⌈log2 k⌉ = 2 + 2·2·4.
    assert!(planned.compiles <= 18, "{:#?}", planned.rounds);
    assert!(!oracle.repeated);
}

#[test]
fn a_failing_baseline_is_an_error() {
    let mut world = islands(2);
    world.versions.get_mut(&name("d0")).unwrap().get_mut(&V1).unwrap().broken = true;
    let graph = world.graph();
    let batch = world.batch(&graph, None);
    let mut oracle = Recorder::new(&world, Reporting::Attributed);
    let error = plan_batch(&batch, Options::default(), &mut |s| oracle.compile(s)).unwrap_err();
    assert_eq!(error, BatchError::BaselineFails(CompileOutcome::Failed { failing: [name("d0")].into() }));
    assert!(error.to_string().contains("starting package set must compile"), "{error}");
}

#[test]
fn inconsistent_batches_are_refused_with_a_reason() {
    let mut world = islands(2);
    world.changes.push((name("l0"), Change::Remove));
    let graph = world.graph();
    let batch = world.batch(&graph, None);
    let mut oracle = Recorder::new(&world, Reporting::Attributed);
    let error = plan_batch(&batch, Options::default(), &mut |s| oracle.compile(s)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid package-set batch: l0 has more than one change in the batch; give one change per package"
    );
    assert!(oracle.seen.is_empty());

    let mut world = islands(1);
    world.changes = vec![(name("l9"), Change::Update(V1))];
    let graph = world.graph();
    let batch = world.batch(&graph, None);
    let error = plan_batch(&batch, Options::default(), &mut |s| oracle.compile(s)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid package-set batch: l9@1.0.0 has no manifest in the index; register it or drop it from the batch"
    );
}

#[test]
fn an_empty_batch_compiles_the_old_set_once() {
    let mut world = islands(2);
    world.changes.clear();
    let (planned, upstream) = both(&world, Reporting::Attributed, false);
    assert_eq!((planned.compiles, upstream.compiles), (1, 2));
    assert_eq!(planned.atomic, Atomic::NoChanges);
}

#[test]
fn oracle_errors_stop_the_batch() {
    let world = chain(true, true, true);
    let graph = world.graph();
    let batch = world.batch(&graph, None);
    let mut calls = 0;
    let mut oracle = |state: &super::PackageMap| {
        calls += 1;
        if calls == 3 {
            Err("purs-0.15.16: not found")
        } else {
            Ok(world.compile(state, Reporting::Attributed))
        }
    };
    let error = plan_batch(&batch, Options::default(), &mut oracle).unwrap_err();
    assert_eq!(error, BatchError::Oracle("purs-0.15.16: not found"));
}

#[test]
fn the_log_names_every_compile_and_verdict() {
    let world = chain(true, true, true);
    let (planned, _) = both(&world, Reporting::Attributed, false);
    assert_eq!(planned.rounds[0].purpose, Purpose::Baseline);
    assert_eq!(planned.rounds[1].purpose, Purpose::Atomic);
    assert_eq!(planned.rounds[1].applied, [name("a"), name("b"), name("c")]);
    let decided: usize = planned.rounds.iter().map(|r| r.decided.len()).sum();
    assert_eq!(decided, 3);
    assert_eq!(planned.accepted_changes().len(), 2);
    assert_eq!(planned.packages(&world.old)[&name("b")], V2);
}
