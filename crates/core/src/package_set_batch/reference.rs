//! Upstream's algorithm, compile for compile: the yardstick for the planner.

use super::{
    Atomic, Batch, BatchError, BatchResult, CompileOutcome, Oracle, PackageMap, Purpose, RejectReason,
    Rejection, Round, apply, validate,
};
use crate::name::PackageName;

/// Upstream's `upgradeSequential`: baseline, atomic, then one compile per change in
/// batch order on top of the changes accepted so far.
pub fn upstream_sequential<E>(
    batch: &Batch<'_>,
    oracle: &mut Oracle<'_, E>,
) -> Result<BatchResult, BatchError<E>> {
    validate(batch).map_err(BatchError::InvalidBatch)?;
    let mut rounds: Vec<Round> = Vec::new();
    let mut compile = |state: &PackageMap, applied: Vec<PackageName>, purpose: Purpose| {
        let outcome = oracle(state).map_err(BatchError::Oracle)?;
        rounds.push(Round { purpose, applied, outcome: outcome.clone(), decided: Vec::new() });
        Ok::<_, BatchError<E>>(outcome)
    };

    let baseline = compile(batch.old, Vec::new(), Purpose::Baseline)?;
    if !baseline.is_ok() {
        return Err(BatchError::BaselineFails(baseline));
    }
    let mut everything = batch.old.clone();
    for (name, change) in batch.changes {
        apply(&mut everything, name, *change);
    }
    let all_names: Vec<PackageName> = batch.changes.iter().map(|(n, _)| n.clone()).collect();
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    // Per change in batch order: the compile that decided it.
    let mut decided_in: Vec<(PackageName, bool, usize)> = Vec::new();
    let atomic = if compile(&everything, all_names, Purpose::Atomic)?.is_ok() {
        accepted = batch.changes.to_vec();
        decided_in = accepted.iter().map(|(name, _)| (name.clone(), true, 1)).collect();
        if batch.changes.is_empty() { Atomic::NoChanges } else { Atomic::Passed }
    } else {
        let mut state = batch.old.clone();
        let mut applied: Vec<PackageName> = Vec::new();
        for (name, change) in batch.changes {
            let mut attempt = state.clone();
            apply(&mut attempt, name, *change);
            let mut names = applied.clone();
            names.push(name.clone());
            let round = decided_in.len() + 2;
            let outcome = compile(&attempt, names, Purpose::Sequential)?;
            decided_in.push((name.clone(), outcome.is_ok(), round));
            let reason = match outcome {
                CompileOutcome::Ok => {
                    state = attempt;
                    applied.push(name.clone());
                    accepted.push((name.clone(), *change));
                    continue;
                }
                CompileOutcome::Failed { failing } | CompileOutcome::Aborted { failing }
                    if !failing.is_empty() =>
                {
                    RejectReason::Failing { round, packages: failing.into_iter().collect() }
                }
                _ => RejectReason::Breaks { round },
            };
            rejected.push(Rejection { name: name.clone(), change: *change, reason });
        }
        Atomic::Failed
    };
    for (name, ok, round) in decided_in {
        rounds[round].decided.push((name, ok));
    }
    Ok(BatchResult { accepted, rejected, compiles: rounds.len(), rounds, atomic })
}
