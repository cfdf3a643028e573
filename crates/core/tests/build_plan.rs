//! Build keys and affected closures over a small synthetic index.

use std::collections::{BTreeMap, BTreeSet};

use registry_core::build_plan::{Toolchain, affected_closure, build_keys};
use registry_core::{
    IncludeRanges, License, Location, Manifest, ManifestIndex, PackageName, Range, Sha256, Version,
};

fn n(s: &str) -> PackageName {
    s.parse().unwrap()
}

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn manifest(name: &str, version: &str, deps: &[&str]) -> Manifest {
    Manifest {
        name: n(name),
        version: v(version),
        license: License::parse("MIT").unwrap(),
        description: None,
        location: Location::GitHub { owner: "o".into(), repo: name.into(), subdir: None },
        git_ref: format!("v{version}"),
        owners: None,
        include_files: None,
        exclude_files: None,
        dependencies: deps.iter().map(|d| (n(d), Range::parse(">=0.0.0 <100.0.0").unwrap())).collect(),
    }
}

/// prelude ← effect ← console; prelude ← maybe; tuples standalone.
fn fixture() -> (ManifestIndex, BTreeMap<PackageName, Version>) {
    let manifests = [
        manifest("prelude", "1.0.0", &[]),
        manifest("prelude", "2.0.0", &[]),
        manifest("effect", "1.0.0", &["prelude"]),
        manifest("console", "1.0.0", &["effect", "prelude"]),
        manifest("maybe", "1.0.0", &["prelude"]),
        manifest("tuples", "1.0.0", &[]),
        manifest("tuples", "1.1.0", &[]),
    ];
    let index = ManifestIndex::from_manifests(IncludeRanges::ConsiderRanges, &manifests).unwrap();
    let set = [
        ("prelude", "1.0.0"),
        ("effect", "1.0.0"),
        ("console", "1.0.0"),
        ("maybe", "1.0.0"),
        ("tuples", "1.0.0"),
    ]
    .into_iter()
    .map(|(a, b)| (n(a), v(b)))
    .collect();
    (index, set)
}

fn toolchain(compiler: &str) -> Toolchain {
    Toolchain { compiler: v(compiler), compiler_digest: "abc".into(), flags: "js".into(), engine_version: 1 }
}

fn hashes(name: &PackageName, version: Version) -> Option<Sha256> {
    Some(Sha256::of_bytes(format!("{name}-{version}").as_bytes()))
}

#[test]
fn a_change_affects_the_package_and_everything_above_it() {
    let (index, set) = fixture();
    let names = |xs: &[&str]| xs.iter().map(|x| n(x)).collect::<BTreeSet<_>>();
    assert_eq!(affected_closure(&set, &index, &names(&["effect"])), names(&["effect", "console"]));
    assert_eq!(
        affected_closure(&set, &index, &names(&["prelude"])),
        names(&["prelude", "effect", "console", "maybe"])
    );
    assert_eq!(affected_closure(&set, &index, &names(&["tuples"])), names(&["tuples"]));
    // A removed package is not in the set, but its dependants are affected.
    let mut without = set.clone();
    without.remove(&n("effect"));
    assert_eq!(affected_closure(&without, &index, &names(&["effect"])), names(&["console"]));
}

#[test]
fn keys_change_exactly_for_the_affected_closure() {
    let (index, set) = fixture();
    let before = build_keys(&set, &index, &hashes, &toolchain("0.15.15")).unwrap();
    let mut updated = set.clone();
    updated.insert(n("prelude"), v("2.0.0"));
    let after = build_keys(&updated, &index, &hashes, &toolchain("0.15.15")).unwrap();
    let changed: BTreeSet<&PackageName> = before.keys().filter(|k| before[*k] != after[*k]).collect();
    let affected = affected_closure(&updated, &index, &[n("prelude")].into());
    assert_eq!(changed, affected.iter().collect());

    // Reverting the change gives the old keys back: earlier results are reusable.
    let reverted = build_keys(&set, &index, &hashes, &toolchain("0.15.15")).unwrap();
    assert_eq!(reverted, before);

    // Another compiler changes every key.
    let other = build_keys(&set, &index, &hashes, &toolchain("0.15.16")).unwrap();
    assert!(before.iter().all(|(k, key)| other[k] != *key));
}

#[test]
fn a_set_that_is_not_self_contained_has_no_keys() {
    let (index, mut set) = fixture();
    set.remove(&n("prelude"));
    let err = build_keys(&set, &index, &hashes, &toolchain("0.15.15")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "console depends on effect, which is not in the package set".replace("effect", "prelude")
    );
}
