//! A package-set batch decided by [`registry_core::package_set_batch::plan_batch`],
//! with the engine as the compile oracle.

use registry_core::package_set_batch::{
    Batch, BatchError, BatchResult, CompileOutcome, ModuleNames, Options, PackageMap, plan_batch,
};
use registry_core::package_set_rules::Change;
use registry_core::{ManifestIndex, PackageName};

use crate::engine::{BuildReport, Engine, EngineError};
use crate::progress::BuildEvent;
use crate::source::PackageSource;

/// The verdicts and what the builds cost.
#[derive(Debug)]
pub struct BatchRun {
    pub result: BatchResult,
    /// Every build the planner asked for, in order, then the final one.
    pub reports: Vec<BuildReport>,
    /// Compiler invocations, the final build included.
    pub compiles: usize,
}

/// Decides `changes` (in `order_changes` order) on top of `old` and leaves the
/// working directory holding the accepted state, compiled. Each build is reported as an
/// attempt ([`BuildEvent::AttemptStarted`] / [`BuildEvent::AttemptFinished`]) and the
/// verdict as [`BuildEvent::CulpritsFound`] through the engine's events.
pub fn run_batch(
    engine: &mut Engine,
    old: &PackageMap,
    changes: &[(PackageName, Change)],
    index: &ManifestIndex,
    source: &dyn PackageSource,
) -> Result<BatchRun, BatchError<EngineError>> {
    let mut modules = ModuleNames::new();
    let versions = old.iter().map(|(n, v)| (n, *v)).chain(changes.iter().filter_map(|(n, c)| match c {
        Change::Update(v) => Some((n, *v)),
        Change::Remove => None,
    }));
    let mut all_known = true;
    for (name, version) in versions {
        match source.modules(name, version) {
            Some(m) => {
                modules.entry(name.clone()).or_default().insert(version, m);
            }
            None => all_known = false,
        }
    }
    let batch = Batch { old, changes, graph: index, modules: all_known.then_some(&modules) };
    let mut reports = Vec::new();
    let before = engine.stats.compiles;
    let result = {
        let mut oracle = |state: &PackageMap| -> Result<CompileOutcome, EngineError> {
            let attempt = reports.len() + 1;
            engine.emit(BuildEvent::AttemptStarted {
                attempt,
                changes: differences(old, state),
                accepted_set: false,
            });
            let report = engine.build(state, index, source)?;
            let outcome = report.outcome.clone();
            engine.emit(BuildEvent::AttemptFinished { attempt, outcome: outcome.clone() });
            reports.push(report);
            Ok(outcome)
        };
        plan_batch(&batch, Options::default(), &mut oracle)?
    };
    engine.emit(BuildEvent::CulpritsFound {
        accepted: result.accepted.len(),
        culprits: result.rejected.iter().map(|r| r.name.clone()).collect(),
    });
    let accepted = result.packages(old);
    let attempt = reports.len() + 1;
    engine.emit(BuildEvent::AttemptStarted { attempt, changes: result.accepted.len(), accepted_set: true });
    let last = engine.build(&accepted, index, source).map_err(BatchError::Oracle)?;
    engine.emit(BuildEvent::AttemptFinished { attempt, outcome: last.outcome.clone() });
    if !last.outcome.is_ok() {
        return Err(BatchError::Inconsistent(format!(
            "the accepted state, known to compile, failed: {:?}",
            last.outcome
        )));
    }
    reports.push(last);
    Ok(BatchRun { result, reports, compiles: engine.stats.compiles - before })
}

/// How many packages `state` has at another version than `old` (or not at all).
fn differences(old: &PackageMap, state: &PackageMap) -> usize {
    let changed = state.iter().filter(|(n, v)| old.get(*n) != Some(*v)).count();
    changed + old.keys().filter(|n| !state.contains_key(*n)).count()
}
