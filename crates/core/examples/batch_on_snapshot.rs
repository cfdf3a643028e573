//! Runs the package-set batch planner and upstream's one-at-a-time algorithm on
//! real batches (differences between published package sets of the registry
//! snapshot) against a model compiler, and prints their compile counts.
//!
//! `cargo run --release -p registry-core --example batch_on_snapshot [SNAPSHOT_DIR]`
//!
//! SNAPSHOT_DIR defaults to `$REGISTRY_SHARED_DIR/data/registry-snapshot`, or
//! `shared/data/registry-snapshot` beside the workspace.
//!
//! The model compiler: `f` randomly chosen updates break their API, so every package
//! that depends on one of them and is not itself changed by the batch fails;
//! dependants of a failing package are skipped; a missing dependency aborts the run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use registry_core::manifest_index::parse_entry;
use registry_core::package_set_batch::{
    Batch, CompileOutcome, DependencyGraph, Options, PackageMap, plan_batch, upstream_sequential,
};
use registry_core::package_set_rules::{Change, ChangeSet, order_changes};
use registry_core::{Codec, IncludeRanges, ManifestIndex, PackageName, PackageSet};

fn main() {
    let dir = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(default_dir);
    let (index, sets) = match load(&dir) {
        Ok(loaded) => loaded,
        Err(why) => {
            eprintln!("Cannot read the snapshot at {}: {why}", dir.display());
            eprintln!("Pass the registry-snapshot directory as the first argument.");
            std::process::exit(2);
        }
    };
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut rows: BTreeMap<(usize, usize), [usize; 3]> = BTreeMap::new();
    let mut batches = 0;
    for (i, old) in sets.iter().enumerate() {
        // The first later set that differs in 10–30 packages.
        let Some(changes) =
            sets[i + 1..].iter().filter_map(|new| diff(old, new)).find(|c| (10..=30).contains(&c.len()))
        else {
            continue;
        };
        let ordered = order_changes(&index, old, &changes);
        if ordered.len() != changes.len() {
            continue; // some version is missing from the index
        }
        batches += 1;
        let updates: Vec<&PackageName> =
            ordered.iter().filter(|(_, c)| matches!(c, Change::Update(_))).map(|(n, _)| n).collect();
        for f in 0..=3usize.min(updates.len()) {
            let mut breaking = BTreeSet::new();
            while breaking.len() < f {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                breaking.insert(updates[(rng % updates.len() as u64) as usize].clone());
            }
            let batch = Batch { old: &old.packages, changes: &ordered, graph: &index, modules: None };
            let compile =
                |state: &PackageMap| Ok::<_, String>(model_compile(&index, &batch, &breaking, state));
            let planned = plan_batch(&batch, Options::default(), &mut { compile }).expect("planner runs");
            let upstream = upstream_sequential(&batch, &mut { compile }).expect("reference runs");
            assert_eq!(planned.accepted, upstream.accepted, "batch from {}", old.version);
            let row = rows.entry((ordered.len() / 10 * 10, upstream.rejected.len().min(4))).or_default();
            row[0] += 1;
            row[1] += upstream.compiles;
            row[2] += planned.compiles;
        }
    }
    println!("{batches} real batches (10–30 changes between two package sets), model compiler:");
    println!("    k  f(rejected)  runs  upstream  planner");
    for ((k, f), [runs, upstream, planner]) in rows {
        let avg = |s: usize| s as f64 / runs as f64;
        let f = if f == 4 { "4+".to_string() } else { f.to_string() };
        let k = format!("{k}-{}", k + 9);
        println!("{k:>5}  {f:>11}  {runs:4}  {:8.2}  {:7.2}", avg(upstream), avg(planner));
    }
}

fn model_compile(
    index: &ManifestIndex,
    batch: &Batch<'_>,
    breaking: &BTreeSet<PackageName>,
    state: &PackageMap,
) -> CompileOutcome {
    let deps = |name: &PackageName| index.dependencies(name, state[name]).unwrap_or_default();
    let missing: BTreeSet<PackageName> =
        state.keys().filter(|n| deps(n).iter().any(|d| !state.contains_key(d))).cloned().collect();
    if !missing.is_empty() {
        return CompileOutcome::Aborted { failing: missing };
    }
    let changed = |name: &PackageName| batch.old.get(name) != state.get(name);
    let own_errors =
        |name: &PackageName| !changed(name) && deps(name).iter().any(|d| breaking.contains(d) && changed(d));
    // Built = no errors of its own and every dependency built; failing = own errors
    // while every dependency built; everything else is skipped.
    let mut built: BTreeMap<&PackageName, bool> = BTreeMap::new();
    let mut failing = BTreeSet::new();
    fn visit<'s>(
        name: &'s PackageName,
        state: &'s PackageMap,
        deps: &dyn Fn(&PackageName) -> Vec<PackageName>,
        own_errors: &dyn Fn(&PackageName) -> bool,
        built: &mut BTreeMap<&'s PackageName, bool>,
        failing: &mut BTreeSet<PackageName>,
    ) -> bool {
        if let Some(ok) = built.get(name) {
            return *ok;
        }
        built.insert(name, false); // cycles count as failures
        let mut deps_ok = true;
        for dep in deps(name) {
            let (dep, _) = state.get_key_value(&dep).expect("no missing dependency");
            deps_ok &= visit(dep, state, deps, own_errors, built, failing);
        }
        let ok = deps_ok && !own_errors(name);
        if deps_ok && !ok {
            failing.insert(name.clone());
        }
        built.insert(name, ok);
        ok
    }
    for name in state.keys() {
        visit(name, state, &deps, &own_errors, &mut built, &mut failing);
    }
    if failing.is_empty() { CompileOutcome::Ok } else { CompileOutcome::Failed { failing } }
}

/// The changes from `old` to `new`, or `None` when a package goes down a version.
fn diff(old: &PackageSet, new: &PackageSet) -> Option<ChangeSet> {
    let mut changes = ChangeSet::new();
    for (name, version) in &new.packages {
        match old.packages.get(name) {
            Some(previous) if previous == version => {}
            Some(previous) if previous > version => return None,
            _ => {
                changes.insert(name.clone(), Change::Update(*version));
            }
        }
    }
    for name in old.packages.keys().filter(|n| !new.packages.contains_key(*n)) {
        changes.insert(name.clone(), Change::Remove);
    }
    Some(changes)
}

fn default_dir() -> PathBuf {
    let shared = std::env::var("REGISTRY_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    shared.join("data/registry-snapshot")
}

fn load(dir: &Path) -> Result<(ManifestIndex, Vec<PackageSet>), String> {
    let mut files = Vec::new();
    collect_files(&dir.join("index"), &mut files).map_err(|e| format!("index: {e}"))?;
    let mut manifests = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        manifests.extend(parse_entry(&text).map_err(|e| format!("{}: {e}", file.display()))?);
    }
    let (_, index) = ManifestIndex::maximal(IncludeRanges::IgnoreRanges, &manifests);
    let mut sets = Vec::new();
    for entry in std::fs::read_dir(dir.join("package-sets")).map_err(|e| format!("package-sets: {e}"))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        sets.push(PackageSet::decode(&value).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    sets.sort_by_key(|s| s.version);
    Ok((index, sets))
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}
