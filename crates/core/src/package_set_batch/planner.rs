//! The planner: chooses states to compile and applies the verdict rules of the
//! module documentation to every compile seen so far.

use std::collections::BTreeSet;

use super::universe::Universe;
use super::{
    Atomic, Batch, BatchError, BatchResult, CompileOutcome, Options, Oracle, Purpose, RejectReason,
    Rejection, Round, validate,
};
use crate::name::PackageName;
use crate::package_set_rules::Change;

pub(super) fn run<E>(
    batch: &Batch<'_>,
    options: Options,
    oracle: &mut Oracle<'_, E>,
) -> Result<BatchResult, BatchError<E>> {
    validate(batch).map_err(BatchError::InvalidBatch)?;
    let universe = Universe::new(batch);
    let mut planner = Planner::new(&universe, options, oracle);
    planner.baseline()?;
    let atomic = planner.atomic()?;
    if atomic != Atomic::Passed && atomic != Atomic::NoChanges {
        planner.sequential_semantics()?;
    }
    Ok(planner.finish(atomic))
}

/// One compiled state.
struct Entry {
    applied: Vec<bool>,
    outcome: CompileOutcome,
    /// Per reported failing package, the changes inside its closure in this state.
    culprits: Vec<(PackageName, BTreeSet<usize>)>,
}

struct Planner<'u, 'o, 'e, E> {
    universe: &'u Universe,
    options: Options,
    oracle: &'o mut Oracle<'e, E>,
    verdicts: Vec<Option<bool>>,
    reasons: Vec<Option<RejectReason>>,
    entries: Vec<Entry>,
    rounds: Vec<super::Round>,
    /// Applied sets already compiled.
    asked: BTreeSet<Vec<usize>>,
    /// Applied sets known to compile: compiled fine, or accepted at some point.
    known_ok: BTreeSet<Vec<usize>>,
    compiles_after_atomic: usize,
    seen_unattributed: bool,
    /// A group of ready changes that fails on top of the accepted state, unattributed.
    suspects: Option<Vec<usize>>,
}

impl<'u, 'o, 'e, E> Planner<'u, 'o, 'e, E> {
    fn new(universe: &'u Universe, options: Options, oracle: &'o mut Oracle<'e, E>) -> Self {
        let k = universe.len();
        Planner {
            universe,
            options,
            oracle,
            verdicts: vec![None; k],
            reasons: vec![None; k],
            entries: Vec::new(),
            rounds: Vec::new(),
            asked: BTreeSet::new(),
            known_ok: BTreeSet::new(),
            compiles_after_atomic: 0,
            seen_unattributed: false,
            suspects: None,
        }
    }

    fn baseline(&mut self) -> Result<(), BatchError<E>> {
        let outcome = self.compile(Vec::new(), Purpose::Baseline)?;
        if outcome.is_ok() { Ok(()) } else { Err(BatchError::BaselineFails(outcome)) }
    }

    fn atomic(&mut self) -> Result<Atomic, BatchError<E>> {
        let k = self.universe.len();
        if k == 0 {
            return Ok(Atomic::NoChanges);
        }
        let all: Vec<usize> = (0..k).collect();
        if let Some((module, a, b)) = self.universe.any_collision(&self.universe.state(&all)) {
            return Ok(Atomic::SkippedDuplicateModule { module, packages: (a, b) });
        }
        let outcome = self.compile(all.clone(), Purpose::Atomic)?;
        if outcome.is_ok() {
            for i in 0..k {
                self.decide(i, true, None);
            }
            return Ok(Atomic::Passed);
        }
        // Bisection needs a group of pairwise independent changes.
        if outcome == CompileOutcome::Unattributed && (0..k).all(|i| self.ready(i)) {
            self.suspects = Some(all);
        }
        Ok(Atomic::Failed)
    }

    fn sequential_semantics(&mut self) -> Result<(), BatchError<E>> {
        loop {
            self.derive();
            if self.verdicts.iter().all(Option::is_some) {
                return Ok(());
            }
            let (group, purpose) = self.choose_group()?;
            let mut applied: Vec<usize> = self.accepted().into_iter().chain(group.iter().copied()).collect();
            applied.sort_unstable();
            let outcome = self.compile(applied, purpose)?;
            self.compiles_after_atomic += 1;
            // The accepted state plus the rest of a failing group is that failing state.
            let suspects = self.suspects.take();
            self.suspects = match &outcome {
                CompileOutcome::Unattributed if group.len() > 1 => Some(group),
                CompileOutcome::Ok => {
                    suspects.map(|all| all.into_iter().filter(|i| !group.contains(i)).collect())
                }
                _ => None,
            };
        }
    }

    /// Compiles S₀ + `applied` and records it.
    fn compile(&mut self, applied: Vec<usize>, purpose: Purpose) -> Result<CompileOutcome, BatchError<E>> {
        let state = self.universe.state(&applied);
        let outcome = match (self.oracle)(&state).map_err(BatchError::Oracle)? {
            // A failure naming no package cannot be attributed.
            CompileOutcome::Failed { failing } | CompileOutcome::Aborted { failing }
                if failing.is_empty() =>
            {
                CompileOutcome::Unattributed
            }
            outcome => outcome,
        };
        let failing = match &outcome {
            CompileOutcome::Failed { failing } | CompileOutcome::Aborted { failing } => failing.clone(),
            _ => BTreeSet::new(),
        };
        let culprits = failing
            .into_iter()
            .filter(|q| state.contains_key(q))
            .map(|q| {
                let inside = self.universe.changes_in_closure(&state, &q);
                (q, inside)
            })
            .collect();
        self.seen_unattributed |= outcome == CompileOutcome::Unattributed;
        if outcome.is_ok() {
            self.known_ok.insert(applied.clone());
        }
        let mut mask = vec![false; self.universe.len()];
        for &j in &applied {
            mask[j] = true;
        }
        self.rounds.push(Round {
            purpose,
            applied: applied.iter().map(|&j| self.universe.name(j).clone()).collect(),
            outcome: outcome.clone(),
            decided: Vec::new(),
        });
        self.asked.insert(applied);
        self.entries.push(Entry { applied: mask, outcome: outcome.clone(), culprits });
        Ok(outcome)
    }

    fn decide(&mut self, i: usize, accepted: bool, reason: Option<RejectReason>) {
        self.verdicts[i] = Some(accepted);
        self.reasons[i] = reason;
        if accepted {
            self.known_ok.insert(self.accepted());
        }
        let name = self.universe.name(i).clone();
        if let Some(round) = self.rounds.last_mut() {
            round.decided.push((name, accepted));
        }
    }

    fn accepted(&self) -> Vec<usize> {
        (0..self.universe.len()).filter(|&j| self.verdicts[j] == Some(true)).collect()
    }

    fn ready(&self, i: usize) -> bool {
        self.universe.neighbours[i].iter().all(|&j| j > i || self.verdicts[j].is_some())
    }

    /// Whether a state applying `applied` agrees with Yᵢ on change `j` (j ≠ i).
    fn agrees(&self, i: usize, j: usize, applied: &[bool]) -> bool {
        if j < i { self.verdicts[j].is_some_and(|accepted| accepted == applied[j]) } else { !applied[j] }
    }

    /// Applies the rules to every undecided change until nothing changes.
    fn derive(&mut self) {
        loop {
            let mut progress = false;
            for i in 0..self.universe.len() {
                if self.verdicts[i].is_some() {
                    continue;
                }
                let verdict = self.without_compiling(i).or_else(|| self.judged_by_compiles(i));
                if let Some((accepted, reason)) = verdict {
                    self.decide(i, accepted, reason);
                    progress = true;
                }
            }
            if !progress {
                return;
            }
        }
    }

    /// Rule 4.
    fn without_compiling(&self, i: usize) -> Option<(bool, Option<RejectReason>)> {
        if !self.ready(i) {
            return None;
        }
        let accepted_state = self.universe.state(&self.accepted());
        let name = self.universe.name(i);
        match self.universe.changes[i].1 {
            Change::Remove if !self.universe.has_dependants(&accepted_state, name) => Some((true, None)),
            Change::Remove => None,
            Change::Update(version) => self
                .universe
                .collision(&accepted_state, name, version)
                .map(|(module, other)| (false, Some(RejectReason::DuplicateModule { module, other }))),
        }
    }

    /// Rules 1–3 against every compile so far.
    fn judged_by_compiles(&self, i: usize) -> Option<(bool, Option<RejectReason>)> {
        self.entries.iter().enumerate().find_map(|(round, entry)| self.judge(i, round, entry))
    }

    fn judge(&self, i: usize, round: usize, entry: &Entry) -> Option<(bool, Option<RejectReason>)> {
        let applied = &entry.applied;
        if !applied[i] {
            return None;
        }
        let neighbours_agree = self.universe.neighbours[i].iter().all(|&j| self.agrees(i, j, applied));
        // Rule 2.
        let failing: Vec<PackageName> = entry
            .culprits
            .iter()
            .filter(|(_, inside)| {
                inside.contains(&i) && inside.iter().all(|&j| j == i || self.agrees(i, j, applied))
            })
            .map(|(q, _)| q.clone())
            .collect();
        if !failing.is_empty() {
            return Some((false, Some(RejectReason::Failing { round, packages: failing })));
        }
        if !neighbours_agree {
            return None;
        }
        match &entry.outcome {
            // Rule 1.
            CompileOutcome::Ok => return Some((true, None)),
            CompileOutcome::Failed { failing } if failing.is_disjoint(&self.universe.base[i]) => {
                return Some((true, None));
            }
            _ => {}
        }
        // Rule 3.
        let without: Vec<usize> = (0..applied.len()).filter(|&j| applied[j] && j != i).collect();
        self.known_ok.contains(&without).then_some((false, Some(RejectReason::Breaks { round })))
    }

    /// φ = compiles after the atomic one − changes decided; upstream's count is never
    /// exceeded while φ ends at or below zero.
    fn risky_allowed(&self) -> bool {
        if !self.seen_unattributed {
            // Without unattributed failures every compile decides a change.
            return true;
        }
        let decided = self.verdicts.iter().filter(|v| v.is_some()).count();
        let phi = self.compiles_after_atomic as isize - decided as isize;
        phi < isize::try_from(self.options.overshoot).unwrap_or(isize::MAX)
    }

    fn choose_group(&mut self) -> Result<(Vec<usize>, Purpose), BatchError<E>> {
        let ready: Vec<usize> =
            (0..self.universe.len()).filter(|&i| self.verdicts[i].is_none() && self.ready(i)).collect();
        let first = *ready.first().ok_or_else(|| {
            BatchError::Inconsistent("no change is ready although some are undecided".into())
        })?;
        let risky = self.risky_allowed();
        let suspects: Option<Vec<usize>> = self
            .suspects
            .take()
            .map(|s| s.into_iter().filter(|&i| self.verdicts[i].is_none()).collect::<Vec<_>>())
            .filter(|s| s.len() > 1);
        let (group, purpose) = match &suspects {
            Some(s) if risky => (s[..s.len() / 2].to_vec(), Purpose::Bisect),
            Some(s) => (vec![s[0]], Purpose::Single),
            None if risky && ready.len() > 1 => (ready, Purpose::Ready),
            None => (vec![first], Purpose::Single),
        };
        self.suspects = suspects;
        if !self.was_asked(&group) {
            return Ok((group, purpose));
        }
        // Every rule fires on the accepted state plus one ready change, so it is new.
        if self.was_asked(&[first]) {
            let name = self.universe.name(first);
            return Err(BatchError::Inconsistent(format!(
                "the accepted state with {name} was compiled before, yet {name} stays undecided"
            )));
        }
        self.suspects = None;
        Ok((vec![first], Purpose::Single))
    }

    fn was_asked(&self, group: &[usize]) -> bool {
        let mut applied: Vec<usize> = self.accepted().into_iter().chain(group.iter().copied()).collect();
        applied.sort_unstable();
        self.asked.contains(&applied)
    }

    fn finish(self, atomic: Atomic) -> BatchResult {
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        for (i, (name, change)) in self.universe.changes.iter().enumerate() {
            if self.verdicts[i] == Some(true) {
                accepted.push((name.clone(), *change));
            } else {
                let reason = self.reasons[i].clone().unwrap_or(RejectReason::Breaks { round: 0 });
                rejected.push(Rejection { name: name.clone(), change: *change, reason });
            }
        }
        let compiles = self.rounds.len();
        BatchResult { accepted, rejected, compiles, rounds: self.rounds, atomic }
    }
}
