//! Deciding which changes of a package-set batch are accepted, with far fewer
//! compiles than upstream, accepting exactly the changes upstream accepts.
//!
//! # Upstream's semantics (`upgradeSequential`)
//!
//! Compile the old set S₀ with the target compiler (it must pass). Compile S₀ with
//! every change; if that passes, every change is accepted. Otherwise, in
//! `order_changes` order, compile Yᵢ = S₀ + (changes accepted before i) + change i
//! and keep change i iff Yᵢ compiles: k + 2 compiles for k changes.
//!
//! # What the planner relies on
//!
//! *Locality*: a package's outcome (compiles, fails, or triggers an abort) depends
//! only on its own version and on the versions, or absence, of the names in its
//! dependency closure (manifest dependencies, by name). Beyond that: compiles are
//! deterministic; the packages an abort names are at fault through their own
//! closure; and two unrelated packages never provide the same module, unless the
//! caller supplies module names (then the planner predicts `DuplicateModule`
//! itself and never compiles a state containing one) or reports such a failure as
//! [`CompileOutcome::Unattributed`] (then nothing is concluded from it but "this
//! state fails").
//!
//! # Relevance
//!
//! Every state the planner compiles is S₀ plus a subset of the changes, so each
//! name has its old version, its new version or none; the union of those
//! versions' dependency edges over-approximates every state's graph. Base(i) is
//! the set of names depending on pᵢ (the changed package) in that graph, pᵢ
//! included, together with their dependency closures: the packages whose outcome
//! change i can alter, and everything those outcomes depend on. Changes i and j are
//! *neighbours* when pⱼ ∈ Base(i) (pᵢ and pⱼ have a common dependant, so the relation
//! is symmetric) or, with module names, when some version of one provides a module
//! that some version of the other provides. A change is *ready* when every earlier
//! neighbour is decided.
//!
//! # Verdicts (each exact under the assumptions above)
//!
//! A compiled state X *agrees with Yᵢ on change j* when X applies j exactly if
//! j < i and j is known to be accepted (an undecided earlier change agrees with
//! nothing). Known to compile: S₀, every state that compiled, and every accepted
//! state A (S₀ plus the accepted changes: a package's closure in A equals its closure
//! in Yⱼ for the last accepted change j inside it, since all changes inside one
//! closure are pairwise neighbours).
//!
//! 1. Accept i if X applies i, agrees with Yᵢ on every neighbour of i, and compiled,
//!    or failed per module with no failing package in Base(i): X and Yᵢ coincide on
//!    Base(i), so every package i can affect compiles in Yᵢ (the others compile there
//!    because the accepted state before i does).
//! 2. Reject i if X reports a failing package (per module or in an abort) whose
//!    dependency closure in X contains pᵢ and agrees with Yᵢ on every changed name in
//!    it: that package fails in Yᵢ as well.
//! 3. Reject i if X failed in any way, applies i, agrees with Yᵢ on every neighbour,
//!    and X without i is known to compile: only i can be at fault.
//! 4. Without compiling, for a ready change (the accepted state then agrees with Yᵢ on
//!    Base(i)): accept a removal that no package of the accepted state depends on
//!    (no closure changes); with module names, reject an update providing a module
//!    that another package of the accepted state provides (upstream's compile stops
//!    with `DuplicateModule`).
//!
//! # Schedule
//!
//! Baseline, then the atomic compile (skipped when module names predict a
//! `DuplicateModule`); if it passes, done. Then repeatedly: apply rules 1–4 against
//! every past compile until nothing changes; compile the accepted state plus every
//! ready change. Ready changes are pairwise non-neighbours, so every failing package
//! implicates exactly one of them and the compile judges all of them (an abort at
//! least the implicated ones): each compile decides at least one change, so there
//! are never more than upstream's k + 2. A compile that fails without attribution
//! judges nothing; its group is then bisected (first half on top of the accepted
//! state, rule 3 closing each search), but only while a fruitless compile cannot take
//! the total past upstream's count plus [`Options::overshoot`]; otherwise changes are
//! tried one at a time. No state is ever compiled twice.
//!
//! Cost: independent changes are all judged by the atomic compile (one more compile
//! when an abort hides per-module results). Changes that share a dependant d cannot
//! be judged together under locality alone, since each verdict needs d's outcome in
//! its own prefix state: such a cluster costs about one compile per change (the last
//! one is often judged by an earlier compile once its predecessors are decided).

mod planner;
mod reference;
mod universe;

#[cfg(test)]
mod model;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::manifest_index::ManifestIndex;
use crate::name::PackageName;
use crate::package_set_rules::{Change, ChangeSet, format_package_version};
use crate::version::Version;

pub use reference::upstream_sequential;

/// Package versions by name: a package set's contents.
pub type PackageMap = BTreeMap<PackageName, Version>;

/// The module names each package version provides (from its `src/**/*.purs`).
pub type ModuleNames = BTreeMap<PackageName, BTreeMap<Version, BTreeSet<String>>>;

/// The dependency names of package versions.
pub trait DependencyGraph {
    /// The names `name@version` depends on, or `None` if that version is unknown.
    fn dependencies(&self, name: &PackageName, version: Version) -> Option<Vec<PackageName>>;
}

impl DependencyGraph for ManifestIndex {
    fn dependencies(&self, name: &PackageName, version: Version) -> Option<Vec<PackageName>> {
        self.lookup(name, version).map(|m| m.dependencies.keys().cloned().collect())
    }
}

impl DependencyGraph for BTreeMap<PackageName, BTreeMap<Version, BTreeSet<PackageName>>> {
    fn dependencies(&self, name: &PackageName, version: Version) -> Option<Vec<PackageName>> {
        self.get(name)?.get(&version).map(|deps| deps.iter().cloned().collect())
    }
}

/// A batch of changes to a package set.
#[derive(Clone, Copy)]
pub struct Batch<'a> {
    /// The latest package set's packages.
    pub old: &'a PackageMap,
    /// The changes in the order upstream tries them ([`crate::package_set_rules::order_changes`]).
    pub changes: &'a [(PackageName, Change)],
    /// Dependencies of every version in `old` and of every new version.
    pub graph: &'a dyn DependencyGraph,
    /// Module names per package version. When given, `DuplicateModule` is predicted
    /// instead of compiled; versions missing from the map are taken to collide with
    /// nothing.
    pub modules: Option<&'a ModuleNames>,
}

/// What compiling one state reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileOutcome {
    Ok,
    /// The build ran. `failing`: packages with errors in their own files (dependants
    /// of a failing package are skipped silently and appear nowhere).
    Failed {
        failing: BTreeSet<PackageName>,
    },
    /// The run stopped before building (`ModuleNotFound`, `CycleInModules`, header
    /// parse errors, `CannotDefinePrimModules`). `failing`: the packages named by those
    /// errors; every other package's outcome is unknown.
    Aborted {
        failing: BTreeSet<PackageName>,
    },
    /// A failure that cannot be pinned on packages' own closures (`DuplicateModule`
    /// between unrelated packages, errors in no package's file): only says that this
    /// state does not compile.
    Unattributed,
}

impl CompileOutcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, CompileOutcome::Ok)
    }
}

/// Tuning of the schedule; the verdicts never depend on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// How many compiles beyond upstream's count the planner may risk on bisecting
    /// failures that name no package. 0 keeps it at or below upstream's count always.
    pub overshoot: usize,
}

/// Why a state was compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The old set, which must compile.
    Baseline,
    /// The old set with every change.
    Atomic,
    /// The accepted state plus every ready change.
    Ready,
    /// The accepted state plus half of a group that failed without attribution.
    Bisect,
    /// The accepted state plus one change.
    Single,
    /// One step of upstream's sequential pass (reference implementation only).
    Sequential,
}

/// One compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub purpose: Purpose,
    /// The changes applied on top of the old set, in batch order.
    pub applied: Vec<PackageName>,
    pub outcome: CompileOutcome,
    /// Verdicts first reached after this compile (by any rule), `true` = accepted.
    pub decided: Vec<(PackageName, bool)>,
}

/// Why a change was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// Compile `round` showed `packages` failing in a state that agrees with
    /// upstream's on everything those packages depend on.
    Failing { round: usize, packages: Vec<PackageName> },
    /// Compile `round` failed and the same state without this change compiles.
    Breaks { round: usize },
    /// The new version provides `module`, which `other` (in the set) provides too.
    DuplicateModule { module: String, other: PackageName },
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::Failing { round, packages } => {
                let names: Vec<&str> = packages.iter().map(PackageName::as_str).collect();
                write!(f, "compilation fails in {} (compile #{round})", names.join(", "))
            }
            RejectReason::Breaks { round } => write!(f, "compilation fails (compile #{round})"),
            RejectReason::DuplicateModule { module, other } => {
                write!(f, "module {module} is also provided by {other}")
            }
        }
    }
}

/// A rejected change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub name: PackageName,
    pub change: Change,
    pub reason: RejectReason,
}

/// What happened to the atomic attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atomic {
    /// The batch is empty: nothing to attempt.
    NoChanges,
    Passed,
    Failed,
    /// Not compiled: `module` would be provided by both packages.
    SkippedDuplicateModule {
        module: String,
        packages: (PackageName, PackageName),
    },
}

/// The verdicts on a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResult {
    /// Accepted changes, in batch order.
    pub accepted: Vec<(PackageName, Change)>,
    /// Rejected changes, in batch order.
    pub rejected: Vec<Rejection>,
    /// Compiler invocations, baseline included.
    pub compiles: usize,
    /// Every compile, in order (`round` numbers index this).
    pub rounds: Vec<Round>,
    pub atomic: Atomic,
}

impl BatchResult {
    /// The accepted changes as a change set (for `compute_new_version` and the commit message).
    pub fn accepted_changes(&self) -> ChangeSet {
        self.accepted.iter().cloned().collect()
    }

    /// The new set's packages: `old` with the accepted changes applied.
    pub fn packages(&self, old: &PackageMap) -> PackageMap {
        let mut out = old.clone();
        for (name, change) in &self.accepted {
            apply(&mut out, name, *change);
        }
        out
    }
}

/// Why a batch could not be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError<E> {
    /// The batch itself is inconsistent (a programming error in the caller).
    InvalidBatch(String),
    /// The old set does not compile with the target compiler.
    BaselineFails(CompileOutcome),
    /// The compile oracle failed (missing compiler, unreadable output): upstream
    /// aborts the whole job in that case.
    Oracle(E),
    /// The oracle contradicted itself so that no new state could be chosen.
    Inconsistent(String),
}

impl<E: fmt::Display> fmt::Display for BatchError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::InvalidBatch(why) => write!(f, "invalid package-set batch: {why}"),
            BatchError::BaselineFails(outcome) => {
                write!(
                    f,
                    "the starting package set must compile with the target compiler, but it does not: "
                )?;
                match outcome {
                    CompileOutcome::Failed { failing } | CompileOutcome::Aborted { failing } => {
                        let names: Vec<&str> = failing.iter().map(PackageName::as_str).collect();
                        write!(f, "errors in {}", names.join(", "))
                    }
                    _ => write!(f, "the compiler reported errors outside any package"),
                }
            }
            BatchError::Oracle(e) => write!(f, "compilation could not run: {e}"),
            BatchError::Inconsistent(why) => write!(f, "the compiler's answers contradict each other: {why}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for BatchError<E> {}

/// The compile oracle: compiles a state (the whole set, as upstream's working
/// directory holds it) and reports what failed. Per-module errors map to
/// [`CompileOutcome::Failed`], the run-stopping ones of a package's own files
/// (`ModuleNotFound`, `CycleInModules`, header parse errors,
/// `CannotDefinePrimModules`) to [`CompileOutcome::Aborted`], `DuplicateModule` and
/// errors outside every package to [`CompileOutcome::Unattributed`]. `Err` stops the
/// batch, as upstream stops on a missing compiler or unreadable output.
pub type Oracle<'o, E> = dyn FnMut(&PackageMap) -> Result<CompileOutcome, E> + 'o;

/// Decides the batch with the planner described in the module documentation.
pub fn plan_batch<E>(
    batch: &Batch<'_>,
    options: Options,
    oracle: &mut Oracle<'_, E>,
) -> Result<BatchResult, BatchError<E>> {
    planner::run(batch, options, oracle)
}

pub(crate) fn apply(packages: &mut PackageMap, name: &PackageName, change: Change) {
    match change {
        Change::Update(version) => {
            packages.insert(name.clone(), version);
        }
        Change::Remove => {
            packages.remove(name);
        }
    }
}

/// Checks the batch's own consistency; shared by the planner and the reference.
fn validate(batch: &Batch<'_>) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for (name, change) in batch.changes {
        if !seen.insert(name) {
            return Err(format!("{name} has more than one change in the batch; give one change per package"));
        }
        match (change, batch.old.get(name)) {
            (Change::Remove, None) => {
                return Err(format!("cannot remove {name}: it is not in the package set"));
            }
            (Change::Update(v), Some(old)) if v == old => {
                return Err(format!(
                    "{} is already in the package set; drop this change",
                    format_package_version(name, *v)
                ));
            }
            _ => {}
        }
    }
    let candidates =
        batch.old.iter().map(|(n, v)| (n, *v)).chain(batch.changes.iter().filter_map(|(n, c)| match c {
            Change::Update(v) => Some((n, *v)),
            Change::Remove => None,
        }));
    for (name, version) in candidates {
        if batch.graph.dependencies(name, version).is_none() {
            return Err(format!(
                "{} has no manifest in the index; register it or drop it from the batch",
                format_package_version(name, version)
            ));
        }
    }
    Ok(())
}
