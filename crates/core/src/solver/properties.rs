//! Properties of the solver over small random registries, checked against an
//! exhaustive search.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{DependencyIndex, Resolutions, Solver, solve};
use crate::name::PackageName;
use crate::range::Range;
use crate::version::Version;

/// The index uses the first five; `f` is only ever depended upon or required.
const NAMES: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const IN_INDEX: usize = 5;

fn name(i: usize) -> PackageName {
    PackageName::parse(NAMES[i]).expect("valid test name")
}

fn arb_version() -> impl Strategy<Value = Version> {
    (0u32..4, 0u32..2).prop_map(|(major, minor)| Version::new(major, minor, 0))
}

fn arb_range() -> impl Strategy<Value = Range> {
    (0u32..4, 1u32..4).prop_map(|(lower, width)| {
        Range::new(Version::new(lower, 0, 0), Version::new(lower + width, 0, 0)).expect("width is positive")
    })
}

fn arb_ranges(max: usize) -> impl Strategy<Value = BTreeMap<PackageName, Range>> {
    prop::collection::btree_map((0..NAMES.len()).prop_map(name), arb_range(), 0..max)
}

fn arb_index() -> impl Strategy<Value = DependencyIndex> {
    let versions = prop::collection::btree_map(arb_version(), arb_ranges(3), 0..5);
    prop::collection::vec(versions, IN_INDEX).prop_map(|per_name| {
        per_name.into_iter().enumerate().map(|(i, versions)| (name(i), versions)).collect()
    })
}

fn arb_required() -> impl Strategy<Value = BTreeMap<PackageName, Range>> {
    prop::collection::btree_map((0..NAMES.len()).prop_map(name), arb_range(), 1..3)
}

/// Whether any assignment satisfies everything, by trying them all.
fn solvable(index: &DependencyIndex, required: &BTreeMap<PackageName, Range>) -> bool {
    fn search(
        index: &DependencyIndex,
        constraints: &BTreeMap<PackageName, Vec<Range>>,
        chosen: &Resolutions,
    ) -> bool {
        let Some((package, ranges)) = constraints.iter().find(|(p, _)| !chosen.contains_key(*p)) else {
            return true;
        };
        let Some(versions) = index.get(package) else { return false };
        versions.iter().filter(|(v, _)| ranges.iter().all(|r| r.includes(**v))).any(|(version, deps)| {
            let mut chosen = chosen.clone();
            chosen.insert(package.clone(), *version);
            let fits_chosen =
                deps.iter().all(|(dep, range)| chosen.get(dep).is_none_or(|v| range.includes(*v)));
            if !fits_chosen {
                return false;
            }
            let mut constraints = constraints.clone();
            for (dep, range) in deps {
                constraints.entry(dep.clone()).or_default().push(*range);
            }
            search(index, &constraints, &chosen)
        })
    }
    let constraints = required.iter().map(|(p, r)| (p.clone(), vec![*r])).collect();
    search(index, &constraints, &Resolutions::new())
}

/// Every package at its newest version allowed by the caller's own ranges,
/// following the dependencies of the versions so chosen, if that is a solution.
fn latest_everywhere(
    index: &DependencyIndex,
    required: &BTreeMap<PackageName, Range>,
) -> Option<Resolutions> {
    let mut chosen = Resolutions::new();
    let mut pending: Vec<&PackageName> = required.keys().collect();
    while let Some(package) = pending.pop() {
        if chosen.contains_key(package) {
            continue;
        }
        let allowed = |v: &Version| required.get(package).is_none_or(|r| r.includes(*v));
        let (version, deps) = index.get(package)?.iter().rev().find(|(v, _)| allowed(v))?;
        chosen.insert(package.clone(), *version);
        pending.extend(deps.keys());
    }
    is_solution(index, required, &chosen).then_some(chosen)
}

fn is_solution(
    index: &DependencyIndex,
    required: &BTreeMap<PackageName, Range>,
    solution: &Resolutions,
) -> bool {
    let meets = |deps: &BTreeMap<PackageName, Range>| {
        deps.iter().all(|(dep, range)| solution.get(dep).is_some_and(|v| range.includes(*v)))
    };
    meets(required)
        && solution.iter().all(|(package, version)| {
            index.get(package).and_then(|versions| versions.get(version)).is_some_and(meets)
        })
}

fn show(index: &DependencyIndex, required: &BTreeMap<PackageName, Range>) -> String {
    let ranges = |deps: &BTreeMap<PackageName, Range>| {
        deps.iter().map(|(n, r)| format!("{n}: {r}")).collect::<Vec<_>>().join(", ")
    };
    let mut out = format!("required {{{}}}; index", ranges(required));
    for (package, versions) in index {
        for (version, deps) in versions {
            out.push_str(&format!(" {package}@{version} {{{}}};", ranges(deps)));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_solution_satisfies_every_range(index in arb_index(), required in arb_required()) {
        if let Ok(solution) = solve(&index, &required) {
            prop_assert!(is_solution(&index, &required, &solution), "not a solution: {solution:?}");
        }
    }

    #[test]
    fn fails_only_when_nothing_solves(index in arb_index(), required in arb_required()) {
        let result = solve(&index, &required);
        prop_assert_eq!(result.is_ok(), solvable(&index, &required), "{} -> {:?}", show(&index, &required), result);
    }

    #[test]
    fn solving_is_deterministic(index in arb_index(), required in arb_required()) {
        let first = solve(&index, &required);
        prop_assert_eq!(&first, &solve(&index, &required));
        prop_assert_eq!(&first, &Solver::new(&index).solve(&required));
        if let Err(error) = &first {
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn latest_versions_win_when_they_fit(index in arb_index(), required in arb_required()) {
        if let Some(latest) = latest_everywhere(&index, &required) {
            prop_assert_eq!(solve(&index, &required), Ok(latest));
        }
    }
}
