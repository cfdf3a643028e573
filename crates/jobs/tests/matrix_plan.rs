//! The kept planning view gives the same plans as the from-scratch planner (a
//! compiler index and a solver built from every manifest and metadata file per
//! call), on the real registry snapshot, before and after jobs change it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use registry_adapters::NullLog;
use registry_core::json::Codec;
use registry_core::metadata::Metadata;
use registry_core::solver::{
    DependantStatus, ManifestDeps, MatrixSolverResult, build_compiler_index, dependants_in,
    published_compilers, solve_dependants_for_compiler,
};
use registry_core::{PackageName, Version};
use registry_jobs::matrix::MatrixView;

/// Jobs replayed through the from-scratch planner (each call takes seconds unoptimised).
const STEPS: usize = 12;

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

fn snapshot() -> Option<(Vec<ManifestDeps>, BTreeMap<PackageName, Metadata>)> {
    let dir = registry_workload::shared_snapshot()?;
    let (index, _) = registry_workload::load_snapshot(&dir).unwrap();
    Some((index.manifests().map(ManifestDeps::from).collect(), read_metadata(&dir.join("metadata"))))
}

fn read_metadata(dir: &Path) -> BTreeMap<PackageName, Metadata> {
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).and_then(|s| PackageName::parse(s).ok())
        else {
            continue;
        };
        all.insert(name, Metadata::from_json_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
    }
    all
}

/// The planner as it was: everything rebuilt for the call. A dependant that
/// accepts a version whose job is in `queued` and not yet compiled awaits it, as
/// in the kept view.
fn from_scratch(
    manifests: &[ManifestDeps],
    metadata: &BTreeMap<PackageName, Metadata>,
    compilers: &[Version],
    queued: &BTreeSet<(PackageName, Version)>,
    job: &MatrixSolverResult,
) -> BTreeSet<MatrixSolverResult> {
    let solver = build_compiler_index(compilers, manifests, &published_compilers(metadata)).unwrap().solver();
    let compiles = |n: &PackageName, v: Version| {
        metadata[n].published.get(&v).is_some_and(|p| p.compilers.contains(&job.compiler))
    };
    solve_dependants_for_compiler(
        &solver,
        job.compiler,
        &job.name,
        job.version,
        |n, v| match DependantStatus::from_metadata(metadata, n, v) {
            DependantStatus::Published(compilers) if !compilers.contains(&job.compiler) => {
                let manifest = manifests.iter().find(|m| m.name == *n && m.version == v).unwrap();
                let awaited = queued.iter().rev().find(|(d, dv)| {
                    manifest.dependencies.get(d).is_some_and(|range| range.includes(*dv)) && !compiles(d, *dv)
                });
                match awaited {
                    Some((dependency, version)) => {
                        DependantStatus::Awaiting { dependency: dependency.clone(), version: *version }
                    }
                    None => DependantStatus::Published(compilers),
                }
            }
            status => status,
        },
        |n, v| dependants_in(manifests, n, v),
    )
    .results
}

#[test]
fn the_kept_view_plans_the_flood_as_the_from_scratch_planner_does() {
    let Some((manifests, mut metadata)) = snapshot() else {
        println!("SKIPPED: no registry snapshot (set REGISTRY_SHARED_DIR)");
        return;
    };
    let compilers = [v("0.15.16"), v("0.15.17")];
    let new = v("0.15.17");
    // prelude and what only needs it: a few steps deep into the flood.
    let prelude = PackageName::parse("prelude").unwrap();
    let roots: Vec<(PackageName, Version)> = manifests
        .iter()
        .filter(|m| m.dependencies.is_empty() && m.name == prelude)
        .map(|m| (m.name.clone(), m.version))
        .collect();
    let mut view = MatrixView::new(manifests.clone(), metadata.clone());
    let order = view.plan_flood(&compilers, new, &roots, Some(STEPS), &NullLog).unwrap();

    // Replay the first jobs through the old planner, applying each success to
    // the metadata as the matrix job's commit does.
    let mut expected: Vec<MatrixSolverResult> = roots
        .iter()
        .map(|(name, version)| MatrixSolverResult {
            compiler: new,
            name: name.clone(),
            resolutions: BTreeMap::new(),
            version: *version,
        })
        .collect();
    let mut queued: BTreeSet<(PackageName, Version)> = roots.iter().cloned().collect();
    let mut at = 0;
    while at < STEPS && at < expected.len() {
        let job = expected[at].clone();
        metadata.get_mut(&job.name).unwrap().published.get_mut(&job.version).unwrap().add_compiler(new);
        for next in from_scratch(&manifests, &metadata, &compilers, &queued, &job) {
            if queued.insert((next.name.clone(), next.version)) {
                expected.push(next);
            }
        }
        at += 1;
    }
    assert!(expected.len() > STEPS, "the replay planned dependants: {}", expected.len());
    assert_eq!(order, expected, "same jobs, same plans, same order");
}

#[test]
fn every_flood_job_comes_after_its_build_plan() {
    let Some((manifests, metadata)) = snapshot() else {
        println!("SKIPPED: no registry snapshot (set REGISTRY_SHARED_DIR)");
        return;
    };
    let compilers = [v("0.15.16"), v("0.15.17")];
    let roots: Vec<(PackageName, Version)> =
        manifests.iter().filter(|m| m.dependencies.is_empty()).map(|m| (m.name.clone(), m.version)).collect();
    let mut view = MatrixView::new(manifests, metadata);
    let order = view.plan_flood(&compilers, v("0.15.17"), &roots, None, &NullLog).unwrap();
    let mut done = BTreeSet::new();
    for job in &order {
        for (name, version) in &job.resolutions {
            assert!(
                done.contains(&(name.clone(), *version)),
                "{}@{} is planned before {name}@{version} of its build plan",
                job.name,
                job.version
            );
        }
        done.insert((job.name.clone(), job.version));
    }
    assert!(order.len() > roots.len() * 2, "{} jobs from {} roots", order.len(), roots.len());
}
