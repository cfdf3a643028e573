//! The generated sources of the real registry's newest package set, compiled with
//! the stand-in: from scratch, then incrementally after one package changes, and
//! with breaking and broken packages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use registry_core::{ManifestIndex, PackageName, Version};
use registry_workload::{Variant, module_prefix, package_files, pick_update, write_files, write_set_sources};

struct Run {
    ok: bool,
    report: serde_json::Value,
    compiled: BTreeSet<String>,
}

fn compile(work: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_purs-standin"))
        .current_dir(work)
        .args(["compile", "packages/**/*.purs", "--json-errors"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let compiled = stderr
        .lines()
        .filter_map(|l| l.split_once("] Compiling ").map(|(_, m)| m.trim().to_owned()))
        .collect();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report =
        serde_json::from_str(stdout.lines().last().unwrap_or("null")).unwrap_or(serde_json::Value::Null);
    Run { ok: out.status.success(), report, compiled }
}

/// Module → direct imports, from the stand-in's `purs graph`.
fn graph(work: &Path) -> BTreeMap<String, Vec<String>> {
    let out = Command::new(env!("CARGO_BIN_EXE_purs-standin"))
        .current_dir(work)
        .args(["graph", "packages/**/*.purs"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    value
        .as_object()
        .unwrap()
        .iter()
        .map(|(m, v)| {
            let deps =
                v["depends"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
            (m.clone(), deps)
        })
        .collect()
}

/// Every module's output files, for comparing two output folders.
fn outputs(work: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(work.join("output")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in ["externs.cbor", "index.js", "foreign.js"] {
            if let Ok(bytes) = std::fs::read(dir.join(file)) {
                out.insert(format!("{}/{file}", dir.file_name().unwrap().to_string_lossy()), bytes);
            }
        }
    }
    out
}

fn replace_package(
    work: &Path,
    index: &ManifestIndex,
    name: &PackageName,
    old: Version,
    new: Version,
    variant: Variant,
) {
    std::fs::remove_dir_all(work.join(format!("packages/{name}@{old}"))).unwrap();
    let manifest = index.lookup(name, new).unwrap();
    write_files(&work.join(format!("packages/{name}@{new}")), &package_files(manifest, variant)).unwrap();
}

fn files_of_errors(report: &serde_json::Value) -> Vec<(String, String)> {
    report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["errorCode"].as_str().unwrap_or("").to_owned(),
                e["filename"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// `packages/<name>@<version>/…` → name.
fn package_of(path: &str) -> String {
    path.trim_start_matches("packages/").split('@').next().unwrap_or("").to_owned()
}

#[test]
fn the_newest_set_compiles_and_rebuilds_only_what_a_change_affects() {
    let Some(dir) = registry_workload::shared_snapshot() else { return };
    let (index, sets) = registry_workload::load_snapshot(&dir).unwrap();
    let set = sets.last().unwrap().clone();
    assert!(set.packages.len() >= 640);
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    write_set_sources(&set, &index, &work.join("packages"), &BTreeMap::new()).unwrap();

    let clean = compile(&work);
    assert!(clean.ok, "{}", clean.report);
    let all_modules = graph(&work);
    assert_eq!(clean.compiled.len(), all_modules.len(), "a clean build compiles every module once");

    // No change: nothing is rebuilt.
    assert!(compile(&work).compiled.is_empty());

    // One package moves to another version: its modules and their dependants rebuild.
    let (name, old, new) =
        pick_update(&set, &index, 3).expect("a package of the newest set can change version");
    replace_package(&work, &index, &name, old, new, Variant::Normal);
    let incremental = compile(&work);
    assert!(incremental.ok, "{}", incremental.report);
    let modules = graph(&work);
    let prefix = format!("{}.", module_prefix(&name));
    let mut expected: BTreeSet<String> = modules.keys().filter(|m| m.starts_with(&prefix)).cloned().collect();
    loop {
        let more: Vec<String> = modules
            .iter()
            .filter(|(m, deps)| !expected.contains(*m) && deps.iter().any(|d| expected.contains(d)))
            .map(|(m, _)| m.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        expected.extend(more);
    }
    assert_eq!(incremental.compiled, expected, "changed {name} {old} -> {new}");
    assert!(incremental.compiled.len() < modules.len());
    eprintln!(
        "{name} {old} -> {new}: {} of {} modules rebuilt (clean build: {})",
        incremental.compiled.len(),
        modules.len(),
        clean.compiled.len()
    );

    // The incremental result equals a clean build of the same sources.
    let fresh = tmp.path().join("fresh");
    let mut changed = set.clone();
    changed.packages.insert(name.clone(), new);
    write_set_sources(&changed, &index, &fresh.join("packages"), &BTreeMap::new()).unwrap();
    assert!(compile(&fresh).ok);
    assert!(outputs(&work) == outputs(&fresh), "incremental output differs from a clean build");
}

#[test]
fn breaking_and_broken_packages_fail_with_errors_pointing_at_the_right_packages() {
    let Some(dir) = registry_workload::shared_snapshot() else { return };
    let (index, sets) = registry_workload::load_snapshot(&dir).unwrap();
    let set = sets.last().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let prelude: PackageName = "prelude".parse().unwrap();
    let dependants = registry_core::build_plan::dependants_in_set(&set.packages, &index);

    // A breaking prelude: its direct dependants fail on the import of `value`. A
    // dependant module that also imports a module that failed is skipped without an
    // error of its own (as purs does), so the packages with errors are direct
    // dependants, and include every one that depends on prelude alone.
    let work = tmp.path().join("breaking");
    let variants = BTreeMap::from([(prelude.clone(), Variant::Breaking)]);
    write_set_sources(set, &index, &work.join("packages"), &variants).unwrap();
    let run = compile(&work);
    assert!(!run.ok);
    let errors = files_of_errors(&run.report);
    assert!(!errors.is_empty());
    let failing: BTreeSet<String> = errors.iter().map(|(_, f)| package_of(f)).collect();
    let direct: BTreeSet<String> = dependants[&prelude].iter().map(|n| n.to_string()).collect();
    assert!(errors.iter().all(|(code, _)| code == "UnknownImport"), "{errors:?}");
    assert!(
        failing.is_subset(&direct),
        "errors outside prelude's dependants: {:?}",
        failing.difference(&direct)
    );
    let only_prelude: BTreeSet<String> = set
        .packages
        .iter()
        .filter(|(n, v)| {
            let deps = &index.lookup(n, **v).unwrap().dependencies;
            deps.len() == 1 && deps.contains_key(&prelude)
        })
        .map(|(n, _)| n.to_string())
        .collect();
    assert!(only_prelude.contains("effect"));
    assert!(only_prelude.is_subset(&failing), "missing: {:?}", only_prelude.difference(&failing));

    // A broken package: it fails itself, with ModuleNotFound in its own file.
    let broken: PackageName = "arrays".parse().unwrap();
    let work = tmp.path().join("broken");
    let variants = BTreeMap::from([(broken.clone(), Variant::Broken)]);
    write_set_sources(set, &index, &work.join("packages"), &variants).unwrap();
    let run = compile(&work);
    assert!(!run.ok);
    let errors = files_of_errors(&run.report);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "ModuleNotFound");
    assert_eq!(package_of(&errors[0].1), "arrays");
    assert!(run.compiled.is_empty(), "ModuleNotFound stops the run before building");
}
