//! Solves the dependencies of every manifest in a registry-index checkout against
//! the whole index, and reports how many solved, which failed and how long it took.
//!
//! `cargo run --release -p registry-core --example solve_all [--compilers] [INDEX_DIR]`
//!
//! INDEX_DIR defaults to `$REGISTRY_SHARED_DIR/data/registry-snapshot/index`, or
//! `shared/data/registry-snapshot/index` beside the workspace.
//!
//! With `--compilers`, also builds the compiler index from the `metadata/` folder
//! beside INDEX_DIR and solves each manifest again with `purs` limited to the
//! compilers its own metadata lists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use registry_core::solver::{self, DependencyIndex, ManifestDeps, Solver};
use registry_core::{PackageName, Range, Version};
use serde_json::Value;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let with_compilers = args.iter().any(|a| a == "--compilers");
    let dir = args.iter().find(|a| !a.starts_with("--")).map(PathBuf::from).unwrap_or_else(default_index_dir);
    let manifests = match load_manifests(&dir) {
        Ok(manifests) => manifests,
        Err(why) => {
            eprintln!("Cannot read the index at {}: {why}", dir.display());
            eprintln!("Pass the registry-index directory as the first argument.");
            std::process::exit(2);
        }
    };

    let mut index = DependencyIndex::new();
    for (name, version, deps) in &manifests {
        index.entry(name.clone()).or_default().insert(*version, deps.clone());
    }

    let started = Instant::now();
    let solver = Solver::new(&index);
    let prepared = started.elapsed();
    let mut failures = Vec::new();
    let mut solutions = Vec::new();
    let mut slowest = (std::time::Duration::ZERO, String::new());
    for (name, version, deps) in &manifests {
        let one = Instant::now();
        let result = solver.solve(deps);
        let took = one.elapsed();
        if took > slowest.0 {
            slowest = (took, format!("{name}@{version}"));
        }
        match result {
            Ok(solution) => solutions.push((format!("{name}@{version}"), deps, solution)),
            Err(error) => failures.push((format!("{name}@{version}"), error.to_string())),
        }
    }
    let total = started.elapsed();

    // Outside the timing: every solution must meet every range involved.
    let mut invalid = 0;
    for (which, required, solution) in &solutions {
        let meets = |deps: &BTreeMap<PackageName, Range>| {
            deps.iter().all(|(dep, range)| solution.get(dep).is_some_and(|v| range.includes(*v)))
        };
        let valid = meets(required)
            && solution.iter().all(|(p, v)| index.get(p).and_then(|vs| vs.get(v)).is_some_and(meets));
        if !valid {
            invalid += 1;
            println!("INVALID solution for {which}: {solution:?}");
        }
    }

    for (which, error) in &failures {
        println!("FAILED {which}:\n  {}", error.replace('\n', "\n  "));
    }
    println!(
        "{} manifests, {} solved ({invalid} invalid), {} failed; index prepared in {:.1} ms; total {:.3} s (slowest {} in {:.1} ms)",
        manifests.len(),
        manifests.len() - failures.len(),
        failures.len(),
        prepared.as_secs_f64() * 1e3,
        total.as_secs_f64(),
        slowest.1,
        slowest.0.as_secs_f64() * 1e3,
    );
    if with_compilers {
        let metadata_dir = dir.parent().map(|p| p.join("metadata")).unwrap_or_default();
        match load_published_compilers(&metadata_dir) {
            Ok(published) => solve_with_compilers(&manifests, &published),
            Err(why) => eprintln!("Cannot read metadata at {}: {why}", metadata_dir.display()),
        }
    }
}

type Published = BTreeMap<PackageName, BTreeMap<Version, Vec<Version>>>;

fn solve_with_compilers(manifests: &[Manifest], published: &Published) {
    let all: Vec<ManifestDeps> = manifests
        .iter()
        .map(|(name, version, deps)| ManifestDeps {
            name: name.clone(),
            version: *version,
            dependencies: deps.clone(),
        })
        .collect();
    let compilers: std::collections::BTreeSet<Version> =
        published.values().flat_map(|v| v.values().flatten()).copied().collect();
    let compilers: Vec<Version> = compilers.into_iter().collect();
    let started = Instant::now();
    let index = match solver::build_compiler_index(&compilers, &all, published) {
        Ok(index) => index,
        Err(error) => {
            eprintln!("{error}");
            return;
        }
    };
    let built = started.elapsed();
    let solver = index.solver();
    let mut failures = 0;
    for manifest in &all {
        let own = published.get(&manifest.name).and_then(|p| p.get(&manifest.version));
        let (Some(min), Some(max)) = (own.and_then(|c| c.iter().min()), own.and_then(|c| c.iter().max()))
        else {
            continue;
        };
        let range = Range::new(*min, max.bump_patch()).expect("min <= max < bumpPatch(max)");
        if let Err(error) = solver.solve_with_compiler(range, &manifest.dependencies) {
            failures += 1;
            println!(
                "FAILED with compilers {range}: {}@{}:\n  {}",
                manifest.name,
                manifest.version,
                error.to_string().replace('\n', "\n  ")
            );
        }
    }
    println!(
        "compiler index: {} compilers, built in {:.1} ms; {} of {} manifests unsolvable with their own compilers; total {:.3} s",
        compilers.len(),
        built.as_secs_f64() * 1e3,
        failures,
        all.len(),
        started.elapsed().as_secs_f64(),
    );
}

fn load_published_compilers(dir: &Path) -> Result<Published, String> {
    let mut published = Published::new();
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let Some(stem) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut versions = BTreeMap::new();
        for (version, info) in value["published"].as_object().into_iter().flatten() {
            let compilers = info["compilers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| Version::parse(c.as_str().unwrap_or("")))
                .collect::<Result<_, _>>()?;
            versions.insert(Version::parse(version)?, compilers);
        }
        published.insert(PackageName::parse(stem)?, versions);
    }
    Ok(published)
}

fn default_index_dir() -> PathBuf {
    let shared = std::env::var("REGISTRY_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    shared.join("data/registry-snapshot/index")
}

type Manifest = (PackageName, Version, BTreeMap<PackageName, Range>);

fn load_manifests(dir: &Path) -> Result<Vec<Manifest>, String> {
    let mut files = Vec::new();
    collect_files(dir, &mut files).map_err(|e| e.to_string())?;
    files.sort();
    let mut manifests = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let at = || format!("{} line {}", file.display(), n + 1);
            let value: Value = serde_json::from_str(line).map_err(|e| format!("{}: {e}", at()))?;
            manifests.push(parse_manifest(&value).map_err(|e| format!("{}: {e}", at()))?);
        }
    }
    Ok(manifests)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if path.file_name().is_some_and(|n| n != "README.md") {
            out.push(path);
        }
    }
    Ok(())
}

fn parse_manifest(value: &Value) -> Result<Manifest, String> {
    let name = PackageName::parse(value["name"].as_str().ok_or("no name")?)?;
    let version = Version::parse(value["version"].as_str().ok_or("no version")?)?;
    let deps = value["dependencies"]
        .as_object()
        .ok_or("no dependencies")?
        .iter()
        .map(|(dep, range)| {
            Ok((PackageName::parse(dep)?, Range::parse(range.as_str().ok_or("range not a string")?)?))
        })
        .collect::<Result<_, String>>()?;
    Ok((name, version, deps))
}
