//! The dependency solver (upstream `Registry.Solver`) and the compiler-aware
//! helpers built on it.
//!
//! Same algorithm and same answers as upstream: it prefers the highest versions,
//! is deterministic, and explains failures with the same structured errors and
//! printed messages. See `engine.rs` for how it works.

mod adapters;
mod bounds;
mod compiler;
mod engine;
mod error;
mod interned;
mod matrix;
#[cfg(test)]
mod properties;

use std::collections::BTreeMap;

use bounds::{Bounds, Pos, Provenance, Required};
use interned::{IndexPart, InternedIndex};

pub use adapters::{compiler_index_from_registry, dependency_index, published_compilers};
pub use compiler::{
    CompilerIndex, CompilerIndexError, ManifestDeps, build_compiler_index, purs_package_name,
    solve_with_compiler, update_compiler_index,
};
pub use error::{Intersection, LocalPosition, PackageVersion, SolverError, SolverPosition, Sourced};
pub use matrix::{
    CascadeOutcome, CompilerSolve, DependantStatus, MatrixNote, MatrixSolverResult, dependants_in,
    solve_dependants_after_failure, solve_dependants_for_compiler, solve_for_all_compilers,
};

use crate::name::PackageName;
use crate::range::Range;
use crate::version::Version;

/// Package → version → that version's dependency ranges.
pub type DependencyIndex = BTreeMap<PackageName, BTreeMap<Version, BTreeMap<PackageName, Range>>>;

/// The chosen version of every package in a solution.
pub type Resolutions = BTreeMap<PackageName, Version>;

/// A dependency index prepared for solving many times.
///
/// Preparing costs about as much as one solve of a large package, so keep it
/// around when solving repeatedly against the same index.
#[derive(Debug, Clone)]
pub struct Solver {
    index: InternedIndex,
}

// A prepared index is meant to be shared, e.g. between server threads.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Solver>();
};

impl Solver {
    pub fn new(index: &DependencyIndex) -> Self {
        Solver { index: InternedIndex::build(index, []) }
    }

    /// Picks a version for each package in `required` and everything they need.
    pub fn solve(&self, required: &BTreeMap<PackageName, Range>) -> Result<Resolutions, SolverError> {
        match self.index.ids_of(required) {
            Ok(ids) => solve_interned(&self.index, &ids),
            Err(unknown) => {
                // Unknown names need ids in name order too; this only happens on the
                // way to an error, so renumbering the whole index is acceptable.
                let extended = self.index.with_extra_names(&unknown);
                let ids = extended.ids_of(required).unwrap_or_default();
                solve_interned(&extended, &ids)
            }
        }
    }
}

/// Solves `required` against `index`. Prepares only the part of the index that
/// `required` can reach; use [`Solver`] to solve repeatedly against one index.
pub fn solve(
    index: &DependencyIndex,
    required: &BTreeMap<PackageName, Range>,
) -> Result<Resolutions, SolverError> {
    let reachable = reachable_part(index, required);
    Solver { index: InternedIndex::build_part(&reachable, required.keys()) }.solve(required)
}

/// The versions of `index` reachable from `required` through in-range
/// dependencies: solving against it gives the same answer as against `index`.
fn reachable_part<'a>(
    index: &'a DependencyIndex,
    required: &'a BTreeMap<PackageName, Range>,
) -> IndexPart<'a> {
    let mut part = IndexPart::new();
    let mut pending: Vec<(&PackageName, Range)> =
        required.iter().map(|(name, range)| (name, *range)).collect();
    while let Some((name, range)) = pending.pop() {
        let Some((name, versions)) = index.get_key_value(name) else { continue };
        for (version, deps) in versions.range(range.lower()..range.upper()) {
            // Only packages with a version in range are entered, as a solve sees them.
            if part.entry(name).or_default().insert(*version, deps).is_none() {
                pending.extend(deps.iter().map(|(dep, range)| (dep, *range)));
            }
        }
    }
    part
}

fn solve_interned(
    index: &InternedIndex,
    required: &[(bounds::Id, Range)],
) -> Result<Resolutions, SolverError> {
    let named = |solution: BTreeMap<bounds::Id, Version>| {
        solution.into_iter().map(|(id, version)| (index.name(id).clone(), version)).collect()
    };
    // Provenance only matters for the error, so the first attempt keeps none.
    if let Ok(solution) = engine::solve_full(index, required_with::<()>(required)) {
        return Ok(named(solution));
    }
    match engine::solve_full(index, required_with::<Pos>(required)) {
        Ok(solution) => Ok(named(solution)),
        Err(failure) => Err(error::from_failure(index, &failure)),
    }
}

fn required_with<P: Provenance>(required: &[(bounds::Id, Range)]) -> Required<P> {
    required.iter().map(|(id, range)| (*id, Bounds::from_range(range, P::root(*id)))).collect()
}

/// The global requirements after upstream's `solveSteps` on the whole, unpruned
/// index (`solveSteps (solveSeed { registry: initializeRegistry index, required:
/// initializeRequired required })`): the quasi-transitive bounds the solver
/// derives before trying any version.
pub fn expanded_requirements(
    index: &DependencyIndex,
    required: &BTreeMap<PackageName, Range>,
) -> BTreeMap<PackageName, Intersection> {
    let interned = InternedIndex::build(index, required.keys());
    let ids = interned.ids_of(required).unwrap_or_default();
    let registry = engine::whole_registry::<Pos>(&interned);
    let updated = engine::every_version(&registry);
    let mut state = engine::State { registry, required: required_with::<Pos>(&ids) };
    engine::solve_steps(&mut state, updated);
    state
        .required
        .iter()
        .map(|(id, bounds)| (interned.name(*id).clone(), error::intersection(&interned, bounds)))
        .collect()
}
