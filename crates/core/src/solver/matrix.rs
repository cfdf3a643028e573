//! Which compiler-matrix jobs to enqueue after a package version compiled with a
//! compiler (upstream `MatrixBuilder.solveForAllCompilers` and
//! `solveDependantsForCompiler`), as pure functions: the caller supplies the
//! registry's answers and does the logging and enqueueing.

use std::borrow::Borrow;
use std::collections::BTreeSet;

use std::collections::BTreeMap;

use super::compiler::{CompilerIndex, ManifestDeps, solve_with_compiler};
use super::{Resolutions, Solver, SolverError};
use crate::name::PackageName;
use crate::range::Range;
use crate::version::Version;

/// A build plan to compile `name@version` with `compiler`.
///
/// Fields are declared in upstream's record-label order, so the derived ordering
/// (and thus the iteration order of a result set) matches upstream's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MatrixSolverResult {
    pub compiler: Version,
    pub name: PackageName,
    pub resolutions: Resolutions,
    pub version: Version,
}

/// What the registry metadata says about a dependant version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependantStatus {
    /// The package has no metadata.
    NoMetadata,
    /// The version is not in the package's `published` map.
    NotPublished,
    /// The compilers the version is known to work with.
    Published(Vec<Version>),
    /// Not known to work with the compiler, but a job for it with the compiler
    /// is already queued. The queue keeps one matrix job per version and
    /// compiler, so solving it again could add nothing; its own job continues
    /// the cascade when it succeeds.
    Queued,
    /// Not known to work with the compiler, and a version of one of its
    /// dependencies that its range accepts (`dependency@version`) has a job with the
    /// compiler that is queued and not settled yet. Not solved now: a plan made
    /// now could not pick that version, and every later dependant's plan will.
    /// That job's cascade comes back here once it is settled, whether it succeeds
    /// ([`solve_dependants_for_compiler`]) or fails
    /// ([`solve_dependants_after_failure`]).
    Awaiting { dependency: PackageName, version: Version },
}

/// Something worth logging that happened while choosing jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatrixNote {
    /// Skipped a dependant whose package has no metadata (upstream logs a warning).
    NoMetadata { name: PackageName },
    /// Skipped a dependant version missing from `published` (upstream logs a warning).
    NotPublished { name: PackageName, version: Version },
    /// The version cannot be solved with the compiler.
    Unsolvable { name: PackageName, version: Version, compiler: Version, error: SolverError },
    /// Not solved: no version of `dependency` in range is known to work with the
    /// compiler (yet), so the solve could only fail.
    Waiting { name: PackageName, version: Version, compiler: Version, dependency: PackageName },
    /// Not solved yet: `dependency@dependency_version`, which the dependant's range
    /// accepts, has a job with the compiler still queued ([`DependantStatus::Awaiting`]).
    Awaiting {
        name: PackageName,
        version: Version,
        compiler: Version,
        dependency: PackageName,
        dependency_version: Version,
    },
    /// The solution picked another compiler than the one asked for.
    CompilerMismatch { name: PackageName, version: Version, compiler: Version, solved: Version },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CascadeOutcome {
    /// The jobs to enqueue.
    pub results: BTreeSet<MatrixSolverResult>,
    /// Dependants looked at (the starting version excluded).
    pub visited: BTreeSet<(PackageName, Version)>,
    /// Dependants left alone because their job is already queued.
    pub queued: usize,
    pub notes: Vec<MatrixNote>,
}

/// The manifests among `manifests` that depend on `name` with a range including
/// `version` (upstream's `ManifestIndex.dependants`, whose topological order does
/// not change what the cascade finds).
pub fn dependants_in(manifests: &[ManifestDeps], name: &PackageName, version: Version) -> Vec<ManifestDeps> {
    manifests
        .iter()
        .filter(|m| m.dependencies.get(name).is_some_and(|range: &Range| range.includes(version)))
        .cloned()
        .collect()
}

/// Solves a version's dependencies with a compiler in a range: a [`Solver`]
/// prepared over the whole compiler index (cheap per solve, costly to prepare), or
/// the [`CompilerIndex`] itself, which prepares only what each solve can reach (no
/// preparation to redo when the index changes). Both give the same answers.
pub trait CompilerSolve {
    fn solve_for(
        &self,
        purs_range: Range,
        required: &BTreeMap<PackageName, Range>,
    ) -> Result<(Version, Resolutions), SolverError>;

    /// A dependency that rules out solving with exactly `compiler` before any
    /// solving (`None`: not known, solve to find out).
    fn blocked(&self, _compiler: Version, _required: &BTreeMap<PackageName, Range>) -> Option<PackageName> {
        None
    }
}

impl CompilerSolve for Solver {
    fn solve_for(
        &self,
        purs_range: Range,
        required: &BTreeMap<PackageName, Range>,
    ) -> Result<(Version, Resolutions), SolverError> {
        self.solve_with_compiler(purs_range, required)
    }
}

impl CompilerSolve for CompilerIndex {
    fn solve_for(
        &self,
        purs_range: Range,
        required: &BTreeMap<PackageName, Range>,
    ) -> Result<(Version, Resolutions), SolverError> {
        solve_with_compiler(purs_range, self, required)
    }

    fn blocked(&self, compiler: Version, required: &BTreeMap<PackageName, Range>) -> Option<PackageName> {
        self.blocked_dependency(compiler, required)
    }
}

/// Plans for `manifest` with every compiler in `compilers` except `tested`, the one
/// it was just verified with. `solver` is prepared over the compiler index.
pub fn solve_for_all_compilers(
    solver: &impl CompilerSolve,
    compilers: &[Version],
    tested: Version,
    manifest: &ManifestDeps,
) -> CascadeOutcome {
    let mut outcome = CascadeOutcome::default();
    for target in compilers.iter().filter(|c| **c != tested) {
        try_solve_for_compiler(solver, *target, manifest, &mut outcome);
    }
    outcome
}

/// Plans for compiling, with `compiler`, the dependants of `name@version` (which
/// just compiled with it).
///
/// A dependant already known to work with `compiler` is not solved again; the
/// search continues through it to its own dependants, which may have been waiting
/// for a version only now available (upstream commit fa708f63). Every other
/// dependant is solved and, when solvable, planned; the search does not go past it,
/// since its own job will continue the cascade when it succeeds. Each dependant is
/// visited once. `solver` is prepared over the compiler index, `status_of` reads a
/// version's metadata and `dependants_of` lists the manifests depending on a version.
pub fn solve_dependants_for_compiler<M: Borrow<ManifestDeps>>(
    solver: &impl CompilerSolve,
    compiler: Version,
    name: &PackageName,
    version: Version,
    status_of: impl Fn(&PackageName, Version) -> DependantStatus,
    dependants_of: impl Fn(&PackageName, Version) -> Vec<M>,
) -> CascadeOutcome {
    let mut outcome = CascadeOutcome::default();
    let seed = (name.clone(), version);
    let mut seen: BTreeSet<(PackageName, Version)> = BTreeSet::from([seed.clone()]);
    // Depth-first, in upstream's order, without recursion: a long chain of
    // already-compatible dependants must not exhaust the stack.
    let mut stack = vec![dependants_of(name, version).into_iter()];
    while let Some(next) = stack.last_mut().map(Iterator::next) {
        let Some(dependant) = next else {
            stack.pop();
            continue;
        };
        let dependant: &ManifestDeps = dependant.borrow();
        let key = (dependant.name.clone(), dependant.version);
        if !seen.insert(key) {
            continue;
        }
        match status_of(&dependant.name, dependant.version) {
            DependantStatus::NoMetadata => {
                outcome.notes.push(MatrixNote::NoMetadata { name: dependant.name.clone() })
            }
            DependantStatus::NotPublished => outcome
                .notes
                .push(MatrixNote::NotPublished { name: dependant.name.clone(), version: dependant.version }),
            DependantStatus::Published(compilers) if compilers.contains(&compiler) => {
                stack.push(dependants_of(&dependant.name, dependant.version).into_iter());
            }
            status => plan_unverified(solver, compiler, dependant, status, &mut outcome),
        }
    }
    seen.remove(&seed);
    outcome.visited = seen;
    outcome
}

/// Plans for compiling, with `compiler`, the direct dependants of `name@version`,
/// whose job with `compiler` failed. Upstream plans nothing after a failure; here a
/// dependant may have been left [`DependantStatus::Awaiting`] this job, and this is
/// where it is solved (with what does compile), so no dependant waits forever.
///
/// Only the direct dependants are looked at (a dependant awaits only versions of
/// its own dependencies) and none is passed through: the failure makes nothing
/// newly available further down. Dependants without metadata or unpublished are
/// skipped silently (the success cascades that reached them said so already).
pub fn solve_dependants_after_failure<M: Borrow<ManifestDeps>>(
    solver: &impl CompilerSolve,
    compiler: Version,
    name: &PackageName,
    version: Version,
    status_of: impl Fn(&PackageName, Version) -> DependantStatus,
    dependants_of: impl Fn(&PackageName, Version) -> Vec<M>,
) -> CascadeOutcome {
    let mut outcome = CascadeOutcome::default();
    for dependant in dependants_of(name, version) {
        let dependant: &ManifestDeps = dependant.borrow();
        if !outcome.visited.insert((dependant.name.clone(), dependant.version)) {
            continue;
        }
        match status_of(&dependant.name, dependant.version) {
            DependantStatus::NoMetadata | DependantStatus::NotPublished => {}
            DependantStatus::Published(compilers) if compilers.contains(&compiler) => {}
            status => plan_unverified(solver, compiler, dependant, status, &mut outcome),
        }
    }
    outcome
}

/// A dependant not known to work with `compiler`: solved and planned, counted as
/// queued, or noted as awaiting.
fn plan_unverified(
    solver: &impl CompilerSolve,
    compiler: Version,
    dependant: &ManifestDeps,
    status: DependantStatus,
    outcome: &mut CascadeOutcome,
) {
    match status {
        DependantStatus::Queued => outcome.queued += 1,
        DependantStatus::Awaiting { dependency, version } => outcome.notes.push(MatrixNote::Awaiting {
            name: dependant.name.clone(),
            version: dependant.version,
            compiler,
            dependency,
            dependency_version: version,
        }),
        _ => try_solve_for_compiler(solver, compiler, dependant, outcome),
    }
}

fn try_solve_for_compiler(
    solver: &impl CompilerSolve,
    compiler: Version,
    manifest: &ManifestDeps,
    outcome: &mut CascadeOutcome,
) {
    let (name, version) = (manifest.name.clone(), manifest.version);
    if let Some(dependency) = solver.blocked(compiler, &manifest.dependencies) {
        return outcome.notes.push(MatrixNote::Waiting { name, version, compiler, dependency });
    }
    match solver.solve_for(Range::exact(compiler), &manifest.dependencies) {
        Err(error) => outcome.notes.push(MatrixNote::Unsolvable { name, version, compiler, error }),
        Ok((solved, resolutions)) if solved == compiler => {
            outcome.results.insert(MatrixSolverResult { compiler, name, resolutions, version });
        }
        Ok((solved, _)) => {
            outcome.notes.push(MatrixNote::CompilerMismatch { name, version, compiler, solved })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::solver::build_compiler_index;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn n(s: &str) -> PackageName {
        PackageName::parse(s).unwrap()
    }

    fn manifest(name: &str, deps: &[&str]) -> ManifestDeps {
        let range = Range::parse(">=1.0.0 <2.0.0").unwrap();
        ManifestDeps {
            name: n(name),
            version: v("1.0.0"),
            dependencies: deps.iter().map(|d| (n(d), range)).collect(),
        }
    }

    /// `base` ← `mid` ← `top`, plus `ghost` (no metadata) and `draft` (unpublished)
    /// depending on `base`; `mid` already works with the new compiler.
    fn cascade(mid_compilers: Vec<Version>) -> CascadeOutcome {
        let manifests = vec![
            manifest("base", &[]),
            manifest("mid", &["base"]),
            manifest("top", &["mid", "base"]),
            manifest("ghost", &["base"]),
            manifest("draft", &["base"]),
        ];
        let (old, new) = (v("0.15.0"), v("0.15.1"));
        let mut published: BTreeMap<PackageName, BTreeMap<Version, Vec<Version>>> = BTreeMap::from([
            (n("base"), BTreeMap::from([(v("1.0.0"), vec![old, new])])),
            (n("mid"), BTreeMap::from([(v("1.0.0"), mid_compilers)])),
            (n("top"), BTreeMap::from([(v("1.0.0"), vec![old])])),
            (n("draft"), BTreeMap::new()),
        ]);
        let for_index = {
            let mut all = published.clone();
            all.insert(n("ghost"), BTreeMap::new());
            all
        };
        let index = build_compiler_index(&[old, new], &manifests, &for_index).unwrap();
        published.remove(&n("ghost"));
        solve_dependants_for_compiler(
            &index.solver(),
            new,
            &n("base"),
            v("1.0.0"),
            |name, version| match published.get(name) {
                None => DependantStatus::NoMetadata,
                Some(versions) => versions
                    .get(&version)
                    .cloned()
                    .map_or(DependantStatus::NotPublished, DependantStatus::Published),
            },
            |name, version| dependants_in(&manifests, name, version),
        )
    }

    type Published = BTreeMap<PackageName, BTreeMap<Version, Vec<Version>>>;

    /// base ← mid ← top, all at 1.0.0 and verified with an old compiler; base also
    /// with the new one, which is returned last.
    fn base_mid_top() -> (Vec<ManifestDeps>, Published, CompilerIndex, Version) {
        let manifests = vec![manifest("base", &[]), manifest("mid", &["base"]), manifest("top", &["mid"])];
        let (old, new) = (v("0.15.0"), v("0.15.1"));
        let published = BTreeMap::from([
            (n("base"), BTreeMap::from([(v("1.0.0"), vec![old, new])])),
            (n("mid"), BTreeMap::from([(v("1.0.0"), vec![old])])),
            (n("top"), BTreeMap::from([(v("1.0.0"), vec![old])])),
        ]);
        let index = build_compiler_index(&[old, new], &manifests, &published).unwrap();
        (manifests, published, index, new)
    }

    #[test]
    fn a_dependant_whose_job_is_queued_is_neither_solved_nor_passed_through() {
        let (manifests, published, index, new) = base_mid_top();
        let run = |queued: bool| {
            solve_dependants_for_compiler(
                &index,
                new,
                &n("base"),
                v("1.0.0"),
                |name, _| match name.as_str() {
                    "mid" if queued => DependantStatus::Queued,
                    _ => DependantStatus::Published(published[name][&v("1.0.0")].clone()),
                },
                |name, version| dependants_in(&manifests, name, version),
            )
        };
        assert_eq!(names(&run(false)), ["mid"]);
        let outcome = run(true);
        assert!(outcome.results.is_empty(), "{:?}", outcome.results);
        assert_eq!(outcome.queued, 1);
        assert!(outcome.notes.is_empty(), "not solved: {:?}", outcome.notes);
        assert_eq!(
            outcome.visited,
            BTreeSet::from([(n("mid"), v("1.0.0"))]),
            "top is not reached through mid"
        );
    }

    #[test]
    fn an_awaiting_dependant_is_not_solved_and_a_failure_solves_it() {
        let (manifests, published, index, new) = base_mid_top();
        let status = |name: &PackageName, _| match name.as_str() {
            "mid" => DependantStatus::Awaiting { dependency: n("base"), version: v("1.1.0") },
            _ => DependantStatus::Published(published[name][&v("1.0.0")].clone()),
        };
        let outcome =
            solve_dependants_for_compiler(&index, new, &n("base"), v("1.0.0"), status, |name, version| {
                dependants_in(&manifests, name, version)
            });
        assert!(outcome.results.is_empty(), "{:?}", outcome.results);
        assert_eq!(
            outcome.notes,
            [MatrixNote::Awaiting {
                name: n("mid"),
                version: v("1.0.0"),
                compiler: new,
                dependency: n("base"),
                dependency_version: v("1.1.0"),
            }]
        );

        // Had base@1.0.0's job failed (and mid no longer awaited anything), its
        // direct dependants are solved with what compiles.
        let after = solve_dependants_after_failure(
            &index,
            new,
            &n("base"),
            v("1.0.0"),
            |name, _| DependantStatus::Published(published[name][&v("1.0.0")].clone()),
            |name, version| dependants_in(&manifests, name, version),
        );
        assert_eq!(names(&after), ["mid"]);
        assert_eq!(after.visited, BTreeSet::from([(n("mid"), v("1.0.0"))]), "top is not reached through mid");
    }

    fn names(outcome: &CascadeOutcome) -> Vec<&str> {
        outcome.results.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn stops_at_dependants_that_still_need_the_compiler() {
        let outcome = cascade(vec![v("0.15.0")]);
        // `top` needs `mid` built with the new compiler first: unsolvable for now.
        assert_eq!(names(&outcome), ["mid"]);
        let job = outcome.results.first().unwrap();
        assert_eq!(job.resolutions, BTreeMap::from([(n("base"), v("1.0.0"))]));
        assert_eq!(outcome.visited.len(), 4);
        assert!(
            outcome
                .notes
                .iter()
                .any(|note| matches!(note, MatrixNote::Unsolvable { name, .. } if name.as_str() == "top"))
        );
        assert!(outcome.notes.contains(&MatrixNote::NoMetadata { name: n("ghost") }));
        assert!(outcome.notes.contains(&MatrixNote::NotPublished { name: n("draft"), version: v("1.0.0") }));
    }

    #[test]
    fn goes_through_dependants_that_already_work_with_the_compiler() {
        let outcome = cascade(vec![v("0.15.0"), v("0.15.1")]);
        assert_eq!(names(&outcome), ["top"]);
        let job = outcome.results.first().unwrap();
        assert_eq!(job.compiler, v("0.15.1"));
        assert_eq!(job.resolutions.keys().map(PackageName::as_str).collect::<Vec<_>>(), ["base", "mid"]);
    }

    #[test]
    fn other_compilers_are_tried_for_the_package_itself() {
        let manifests = vec![manifest("base", &[]), manifest("mid", &["base"])];
        let compilers = [v("0.15.0"), v("0.15.1"), v("0.15.2")];
        let published = BTreeMap::from([
            (n("base"), BTreeMap::from([(v("1.0.0"), vec![v("0.15.0"), v("0.15.1")])])),
            (n("mid"), BTreeMap::from([(v("1.0.0"), vec![v("0.15.0")])])),
        ]);
        let index = build_compiler_index(&compilers, &manifests, &published).unwrap();
        let outcome = solve_for_all_compilers(&index.solver(), &compilers, v("0.15.0"), &manifests[1]);
        let planned: Vec<String> = outcome.results.iter().map(|r| r.compiler.to_string()).collect();
        // 0.15.2 is past every compiler `base` is known to work with.
        assert_eq!(planned, ["0.15.1"]);
        assert_eq!(outcome.notes.len(), 1);
    }
}
