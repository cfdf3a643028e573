//! The solving algorithm, step for step the one of upstream's `Registry.Solver`.
//!
//! State is a pruned registry (package → version → dependency bounds) and the
//! global requirements. Each step adds "quasi-transitive" dependencies: for every
//! requirement, the loosest bounds that *all* of its in-range versions agree on
//! become requirements too, and the same is done inside the registry for versions
//! whose dependencies changed in the previous step. When that settles, the state
//! is checked for plain conflicts, then for a solution made of the latest version
//! of everything; failing both, the alphabetically first undecided package is
//! pinned to each of its versions in turn, newest first.
//!
//! Upstream computes each step from the previous state as a whole (every version
//! is updated from the same snapshot); so does this code, since the provenance
//! recorded in errors depends on it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use super::bounds::{
    Bounds, Deps, Id, Provenance, Required, intersection_loosened, tighten_into, union_tightened,
    without_implied,
};
use super::interned::InternedIndex;
use crate::version::Version;

/// Package → its candidate versions (ascending) with their dependencies. A package
/// may be present with no versions at all (it was reached but has none in range).
pub(crate) type Registry<P> = BTreeMap<Id, Vec<(Version, Deps<P>)>>;

/// The package versions touched in the last step: only dependencies on these
/// need to be looked at again.
pub(crate) type Updated = BTreeMap<Id, Vec<Version>>;

/// Dependencies being assembled (sorted by id, like [`Deps`]).
type DepList<P> = Vec<(Id, Bounds<P>)>;

/// Why solving failed, with ids for names (see `error.rs` for the public form).
#[derive(Debug, Clone)]
pub(crate) enum Failure<P> {
    /// Requirements with no version in range (or empty bounds).
    Conflicts(BTreeMap<Id, Bounds<P>>),
    /// Every candidate version of the package failed, each for the given reason.
    WhileSolving(Id, BTreeMap<Version, Failure<P>>),
}

pub(crate) struct State<P> {
    pub registry: Registry<P>,
    pub required: Required<P>,
}

/// Solves `required` against `index`.
pub(crate) fn solve_full<P: Provenance>(
    index: &InternedIndex,
    required: Required<P>,
) -> Result<BTreeMap<Id, Version>, Failure<P>> {
    let registry = reachable_registry(index, &required);
    let updated = every_version(&registry);
    solve_aux(State { registry, required }, updated)
}

/// The whole index as a registry (no pruning), as upstream's `initializeRegistry`.
pub(crate) fn whole_registry<P: Provenance>(index: &InternedIndex) -> Registry<P> {
    index
        .listed_ids()
        .map(|id| {
            let versions =
                index.versions(id).iter().map(|entry| (entry.version, initial_deps(id, entry))).collect();
            (id, versions)
        })
        .collect()
}

pub(crate) fn every_version<P>(registry: &Registry<P>) -> Updated {
    registry.iter().map(|(id, versions)| (*id, versions.iter().map(|(v, _)| *v).collect())).collect()
}

fn initial_deps<P: Provenance>(id: Id, entry: &super::interned::IndexedVersion) -> Deps<P> {
    let pos = P::solving(id, entry.version);
    Rc::new(entry.deps.iter().map(|(dep, range)| (*dep, Bounds::from_range(range, pos.clone()))).collect())
}

/// The package versions reachable from `required` through in-range dependencies,
/// with dependencies already implied by `required` dropped.
fn reachable_registry<P: Provenance>(index: &InternedIndex, required: &Required<P>) -> Registry<P> {
    let mut reached: BTreeMap<Id, BTreeSet<usize>> = BTreeMap::new();
    let mut pending: Vec<(Id, usize)> = Vec::new();
    let mut reach = |id: Id, lower: Version, upper: Version, pending: &mut Vec<(Id, usize)>| {
        let seen = reached.entry(id).or_default();
        let versions = index.versions(id);
        let start = versions.partition_point(|entry| entry.version < lower);
        for (offset, entry) in versions[start..].iter().enumerate() {
            if entry.version >= upper {
                break;
            }
            if seen.insert(start + offset) {
                pending.push((id, start + offset));
            }
        }
    };
    for (id, bounds) in required {
        reach(*id, bounds.lower(), bounds.upper(), &mut pending);
    }
    while let Some((id, at)) = pending.pop() {
        for (dep, range) in &index.versions(id)[at].deps {
            reach(*dep, range.lower(), range.upper(), &mut pending);
        }
    }
    reached
        .into_iter()
        .map(|(id, positions)| {
            let versions = positions
                .into_iter()
                .map(|at| {
                    let entry = &index.versions(id)[at];
                    let deps = initial_deps(id, entry);
                    let deps = without_implied(required, &deps).map_or(deps, Rc::new);
                    (entry.version, deps)
                })
                .collect();
            (id, versions)
        })
        .collect()
}

fn in_range<'a, P: Provenance>(
    versions: &'a [(Version, Deps<P>)],
    bounds: &Bounds<P>,
) -> &'a [(Version, Deps<P>)] {
    let start = versions.partition_point(|(v, _)| *v < bounds.lower());
    let end = versions.partition_point(|(v, _)| *v < bounds.upper());
    if start < end { &versions[start..end] } else { &[] }
}

fn package_range<'a, P: Provenance>(
    registry: &'a Registry<P>,
    id: Id,
    bounds: &Bounds<P>,
) -> &'a [(Version, Deps<P>)] {
    registry.get(&id).map_or(&[], |versions| in_range(versions, bounds))
}

fn was_updated_in<P: Provenance>(updated: &Updated, id: Id, bounds: &Bounds<P>) -> bool {
    updated.get(&id).is_some_and(|versions| {
        let start = versions.partition_point(|v| *v < bounds.lower());
        versions.get(start).is_some_and(|v| *v < bounds.upper())
    })
}

fn solve_aux<P: Provenance>(
    mut state: State<P>,
    updated: Updated,
) -> Result<BTreeMap<Id, Version>, Failure<P>> {
    solve_steps(&mut state, updated);
    check_required(&state)?;
    let package = match check_solved(&state) {
        Ok(solution) => return Ok(solution),
        Err(package) => package,
    };
    let candidates = package_range(&state.registry, package, &state.required[&package]).to_vec();
    let mut failures = BTreeMap::new();
    for (version, deps) in candidates.iter().rev() {
        let mut required = state.required.clone();
        tighten_into(&mut required, package, &Bounds::sole_version(*version));
        for (dep, bounds) in deps.iter() {
            tighten_into(&mut required, *dep, bounds);
        }
        // Upstream marks every version of the pinned package as updated, including
        // the ones the pin is about to prune.
        let mut updated = Updated::new();
        if let Some(versions) = state.registry.get(&package) {
            updated.insert(package, versions.iter().map(|(v, _)| *v).collect());
        }
        let registry = trimmed(&state.registry, &required);
        match solve_aux(State { registry, required }, updated) {
            Ok(solution) => return Ok(solution),
            Err(failure) => {
                failures.insert(*version, failure);
            }
        }
    }
    Err(Failure::WhileSolving(package, failures))
}

/// Keeps only the versions inside the requirements (upstream's `trimReachable`).
fn trimmed<P: Provenance>(registry: &Registry<P>, required: &Required<P>) -> Registry<P> {
    registry
        .iter()
        .map(|(id, versions)| {
            let kept = match required.get(id) {
                Some(bounds) => versions.iter().filter(|(v, _)| bounds.satisfies(*v)).cloned().collect(),
                None => versions.clone(),
            };
            (*id, kept)
        })
        .collect()
}

/// Adds quasi-transitive dependencies until nothing changes (upstream's `solveSteps`).
pub(crate) fn solve_steps<P: Provenance>(state: &mut State<P>, mut updated: Updated) {
    while !updated.is_empty() {
        updated = solve_step(state, &updated);
    }
}

fn solve_step<P: Provenance>(state: &mut State<P>, updated: &Updated) -> Updated {
    let mut more_required = Required::new();
    for (id, bounds) in &state.required {
        for (dep, dep_bounds) in common_dependencies(&state.registry, *id, bounds) {
            tighten_into(&mut more_required, dep, &dep_bounds);
        }
    }

    // A requirement that is new or tighter marks all of its package's versions.
    let mut next_updated = Updated::new();
    for (id, new) in &more_required {
        let changed = match state.required.get(id) {
            None => true,
            Some(old) => old.lower() < new.lower() || old.upper() > new.upper(),
        };
        if changed && let Some(versions) = state.registry.get(id) {
            next_updated.insert(*id, versions.iter().map(|(v, _)| *v).collect());
        }
    }

    let registry: Registry<P> = state
        .registry
        .iter()
        .map(|(id, versions)| {
            let versions = versions
                .iter()
                .map(|(v, deps)| {
                    (*v, without_implied(&more_required, deps).map_or_else(|| deps.clone(), Rc::new))
                })
                .collect();
            (*id, versions)
        })
        .collect();
    let (registry, explored) = explore(&registry, updated, &state.required);

    for (id, bounds) in &more_required {
        tighten_into(&mut state.required, *id, bounds);
    }
    state.registry = registry;
    for (id, versions) in explored {
        let entry = next_updated.entry(id).or_default();
        let merged: BTreeSet<Version> = entry.iter().chain(&versions).copied().collect();
        *entry = merged.into_iter().collect();
    }
    next_updated
}

/// The dependencies every solvable in-range version of `package` has, with the
/// loosest bounds among them (upstream's `commonDependencies`).
fn common_dependencies<P: Provenance>(
    registry: &Registry<P>,
    package: Id,
    bounds: &Bounds<P>,
) -> Vec<(Id, Bounds<P>)> {
    let mut common = shared_dependencies(registry, package, bounds);
    for (_, dep_bounds) in &mut common {
        dep_bounds.as_dependency_of(bounds);
    }
    common
}

/// [`common_dependencies`] before recording why they are needed: it depends only
/// on the bound versions, so one step can reuse it for every dependant.
fn shared_dependencies<P: Provenance>(
    registry: &Registry<P>,
    package: Id,
    bounds: &Bounds<P>,
) -> Vec<(Id, Bounds<P>)> {
    let mut common: Option<Vec<(Id, Bounds<P>)>> = None;
    for (_, deps) in package_range(registry, package, bounds) {
        if !deps.iter().all(|(_, b)| b.is_good()) {
            continue;
        }
        let so_far = match common {
            None => deps.to_vec(),
            Some(so_far) => intersection_loosened(so_far, deps),
        };
        if so_far.is_empty() {
            // Intersections only shrink.
            return so_far;
        }
        common = Some(so_far);
    }
    common.unwrap_or_default()
}

/// Refreshes the dependencies of every version that depends on something updated
/// last step; returns the new registry and the versions whose change matters to
/// their own dependants (upstream's `exploreTransitiveDependencies`).
fn explore<P: Provenance>(
    registry: &Registry<P>,
    updated: &Updated,
    required: &Required<P>,
) -> (Registry<P>, Updated) {
    let mut marked = Updated::new();
    let mut shared: HashMap<(Id, Version, Version), DepList<P>> = HashMap::new();
    let next = registry
        .iter()
        .map(|(id, versions)| {
            let versions = versions
                .iter()
                .map(|(version, deps)| {
                    let mut peeked = false;
                    let mut extra: Vec<(Id, Bounds<P>)> = Vec::new();
                    for (dep, dep_bounds) in deps.iter() {
                        if was_updated_in(updated, *dep, dep_bounds) {
                            peeked = true;
                            let key = (*dep, dep_bounds.lower(), dep_bounds.upper());
                            let mut common = shared
                                .entry(key)
                                .or_insert_with(|| shared_dependencies(registry, *dep, dep_bounds))
                                .clone();
                            for (_, common_bounds) in &mut common {
                                common_bounds.as_dependency_of(dep_bounds);
                            }
                            extra = union_tightened(&extra, &common);
                        }
                    }
                    if !peeked {
                        return (*version, deps.clone());
                    }
                    let merged = union_tightened(deps, &extra);
                    if is_major_update(required, deps, &merged) {
                        marked.entry(*id).or_default().push(*version);
                    }
                    (*version, Rc::new(merged))
                })
                .collect();
            (*id, versions)
        })
        .collect();
    (next, marked)
}

/// A version's dependencies changed in a way its dependants must see: it picked up
/// a dependency tighter than (or absent from) the requirements, or some dependency
/// just became unsatisfiable while none was before (upstream's `majorUpdate`).
fn is_major_update<P: Provenance>(
    required: &Required<P>,
    before: &[(Id, Bounds<P>)],
    after: &[(Id, Bounds<P>)],
) -> bool {
    let (mut added, mut failed_already, mut failed_now) = (false, false, false);
    for (id, bounds) in after {
        match before.binary_search_by_key(id, |(dep, _)| *dep) {
            Err(_) => {
                added |= match required.get(id) {
                    None => true,
                    Some(global) => bounds.lower() > global.lower() || bounds.upper() < global.upper(),
                }
            }
            Ok(at) => {
                failed_already |= !before[at].1.is_good();
                failed_now |= !bounds.is_good();
            }
        }
    }
    added || (failed_now && !failed_already)
}

/// Fails on a requirement without versions, or one whose every version has a
/// dependency without versions (upstream's `checkRequired`, including the way it
/// keeps the first whole-package failure but collects every empty requirement).
fn check_required<P: Provenance>(state: &State<P>) -> Result<(), Failure<P>> {
    let mut outcome = Ok(());
    for (id, bounds) in &state.required {
        let versions = package_range(&state.registry, *id, bounds);
        if versions.is_empty() {
            match &mut outcome {
                Err(Failure::Conflicts(conflicts)) => {
                    conflicts.insert(*id, bounds.clone());
                }
                _ => outcome = Err(Failure::Conflicts(BTreeMap::from([(*id, bounds.clone())]))),
            }
        } else if outcome.is_ok() {
            let mut reasons = BTreeMap::new();
            let every_version_failed = versions.iter().all(|(version, deps)| {
                let failed: BTreeMap<Id, Bounds<P>> = deps
                    .iter()
                    .filter(|(dep, dep_bounds)| package_range(&state.registry, *dep, dep_bounds).is_empty())
                    .cloned()
                    .collect();
                let failed_here = !failed.is_empty();
                if failed_here {
                    reasons.insert(*version, Failure::Conflicts(failed));
                }
                failed_here
            });
            if every_version_failed {
                outcome = Err(Failure::WhileSolving(*id, reasons));
            }
        }
    }
    outcome
}

/// The solution if the requirements are settled, or else the package to branch on.
fn check_solved<P: Provenance>(state: &State<P>) -> Result<BTreeMap<Id, Version>, Id> {
    if let Some(solution) = try_latest(state) {
        return Ok(solution);
    }
    let mut solution = BTreeMap::new();
    for (id, bounds) in &state.required {
        match package_range(&state.registry, *id, bounds) {
            [(version, _)] => {
                solution.insert(*id, *version);
            }
            _ => return Err(*id),
        }
    }
    Ok(solution)
}

/// The latest in-range version of every requirement, if those fit together.
/// Bounds only ever shrink, so when they do this is the answer branching would
/// reach too.
fn try_latest<P: Provenance>(state: &State<P>) -> Option<BTreeMap<Id, Version>> {
    let latest: BTreeMap<Id, &(Version, Deps<P>)> = state
        .required
        .iter()
        .map(|(id, bounds)| package_range(&state.registry, *id, bounds).last().map(|entry| (*id, entry)))
        .collect::<Option<_>>()?;
    for (_, deps) in latest.values() {
        for (dep, bounds) in deps.iter() {
            if !bounds.satisfies(latest.get(dep)?.0) {
                return None;
            }
        }
    }
    Some(latest.into_iter().map(|(id, (version, _))| (id, *version)).collect())
}
