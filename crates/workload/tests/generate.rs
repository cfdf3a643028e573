//! The generator over the real registry's newest package set, and its variants.

use std::collections::BTreeMap;

use registry_core::json::Codec;
use registry_core::{Manifest, ManifestIndex, PackageSet};
use registry_workload::{GitIdentity, Variant, api_module, package_files, write_git_repo, write_set_sources};

fn load(dir: &std::path::Path) -> (ManifestIndex, PackageSet) {
    let (index, mut sets) = registry_workload::load_snapshot(dir).unwrap();
    (index, sets.pop().unwrap())
}

fn text(files: &BTreeMap<String, Vec<u8>>) -> String {
    files
        .iter()
        .filter(|(k, _)| k.ends_with(".purs"))
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[test]
fn every_package_of_the_newest_set_imports_each_declared_dependency() {
    let Some(dir) = registry_workload::shared_snapshot() else { return };
    let (index, set) = load(&dir);
    assert!(set.packages.len() >= 640, "newest set has {} packages", set.packages.len());
    for (name, version) in &set.packages {
        let manifest = index.lookup(name, *version).unwrap();
        let sources = text(&package_files(manifest, Variant::Normal));
        for dep in manifest.dependencies.keys() {
            assert!(
                sources.contains(&format!("import {} (value, Thing)", api_module(dep))),
                "{name} misses {dep}"
            );
        }
    }
    let out = tempfile::tempdir().unwrap();
    let written = write_set_sources(&set, &index, out.path(), &BTreeMap::new()).unwrap();
    assert_eq!(written, set.packages.len());
    let prelude = "prelude".parse().unwrap();
    let purs_json = out.path().join(format!("prelude@{}/purs.json", set.packages[&prelude]));
    let written = Manifest::from_json_str(&std::fs::read_to_string(purs_json).unwrap()).unwrap();
    assert_eq!(&written, index.lookup(&prelude, set.packages[&prelude]).unwrap());
}

#[test]
fn generation_is_deterministic_and_versions_differ() {
    let Some(dir) = registry_workload::shared_snapshot() else { return };
    let (index, _) = load(&dir);
    let versions = index.versions(&"prelude".parse().unwrap()).unwrap();
    let mut iter = versions.values();
    let (a, b) = (iter.next().unwrap(), iter.next().unwrap());
    assert_eq!(package_files(a, Variant::Normal), package_files(a, Variant::Normal));
    assert_ne!(package_files(a, Variant::Normal), package_files(b, Variant::Normal));
}

#[test]
fn breaking_and_broken_variants_change_exactly_what_they_promise() {
    let Some(dir) = registry_workload::shared_snapshot() else { return };
    let (index, set) = load(&dir);
    let name = "prelude".parse().unwrap();
    let manifest = index.lookup(&name, set.packages[&name]).unwrap();
    let normal = package_files(manifest, Variant::Normal);
    let breaking = package_files(manifest, Variant::Breaking);
    let broken = package_files(manifest, Variant::Broken);
    let api = "src/Prelude/Api.purs";
    assert!(String::from_utf8_lossy(&normal[api]).contains("( value\n"));
    assert!(!String::from_utf8_lossy(&breaking[api]).contains("( value\n"));
    assert!(text(&broken).contains("import Prelude.Missing.Module (nothing)"));
    assert!(!text(&normal).contains("Missing.Module"));
}

#[test]
fn git_repositories_get_one_tagged_commit_per_version_reproducibly() {
    let Some(dir) = registry_workload::shared_snapshot() else { return };
    let (index, _) = load(&dir);
    let versions: Vec<(&Manifest, Variant)> = index
        .versions(&"type-equality".parse().unwrap())
        .unwrap()
        .values()
        .map(|m| (m, Variant::Normal))
        .collect();
    let who = GitIdentity::default();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = write_git_repo(one.path(), &versions, &who).unwrap();
    let second = write_git_repo(two.path(), &versions, &who).unwrap();
    assert_eq!(first, second, "same inputs must give the same commits");
    assert_eq!(first.len(), versions.len());
    let tags =
        std::process::Command::new("git").current_dir(one.path()).args(["tag", "--list"]).output().unwrap();
    let tags = String::from_utf8_lossy(&tags.stdout);
    for (m, _) in &versions {
        assert!(tags.lines().any(|t| t == m.git_ref), "missing tag {}", m.git_ref);
    }
}
