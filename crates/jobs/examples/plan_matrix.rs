//! How long matrix planning takes on the real registry: the compiler index is
//! rebuilt from every manifest and metadata file for each planning call (as
//! upstream does), then the same-package solves and the dependants cascade run.
//!
//! Then the whole new-compiler flood (a compiler newer than any in the snapshot,
//! from every version without dependencies) planned with the kept view, and the
//! from-scratch planner timed on its first jobs.
//!
//! `cargo run --release -p registry-jobs --example plan_matrix [SNAPSHOT]`
//! (default: ../shared/data/registry-snapshot).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use registry_adapters::NullLog;
use registry_core::json::Codec;
use registry_core::metadata::Metadata;
use registry_core::solver::ManifestDeps;
use registry_core::{PackageName, Version};
use registry_jobs::matrix::MatrixView;
use registry_jobs::publish::Published;

/// Counts the planner's log lines by what they say, to see where planning goes.
#[derive(Default)]
struct CountingLog {
    lines: std::sync::Mutex<BTreeMap<&'static str, usize>>,
}

impl CountingLog {
    fn summary(&self) -> String {
        let lines = self.lines.lock().unwrap();
        lines.iter().map(|(what, count)| format!("{what}: {count}")).collect::<Vec<_>>().join(", ")
    }
}

impl registry_adapters::ActivityLog for CountingLog {
    fn log(&self, _level: registry_core::job::LogLevel, message: &str) {
        let mut lines = self.lines.lock().unwrap();
        let what = if let Some(counts) = message.strip_prefix("Cascade from").and_then(|m| m.split_once(": "))
        {
            // "<n> planned out of <m> dependants visited"
            let numbers: Vec<usize> = counts.1.split(' ').filter_map(|w| w.parse().ok()).collect();
            if let [planned, visited] = numbers[..] {
                *lines.entry("dependants planned (with repeats)").or_default() += planned;
                *lines.entry("dependants visited").or_default() += visited;
            }
            "cascades"
        } else if message.starts_with("No version of") {
            "waiting (no solve)"
        } else if message.starts_with("Solver error") {
            "unsolvable"
        } else if message.starts_with("Failed to solve") {
            "not planned"
        } else {
            "other"
        };
        *lines.entry(what).or_default() += 1;
    }
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).map(PathBuf::from).or_else(registry_workload::shared_snapshot);
    let Some(dir) = dir else {
        anyhow::bail!("no snapshot: pass its directory or set REGISTRY_SHARED_DIR");
    };
    let started = Instant::now();
    let (index, _) = registry_workload::load_snapshot(&dir)?;
    let mut metadata = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("metadata"))? {
        let path = entry?.path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).and_then(|s| PackageName::parse(s).ok())
        else {
            continue;
        };
        metadata.insert(name, Metadata::from_json_str(&std::fs::read_to_string(&path)?)?);
    }
    let manifests: Vec<ManifestDeps> = index.manifests().map(ManifestDeps::from).collect();
    println!(
        "read {} manifests and {} metadata files in {:.2?}",
        manifests.len(),
        metadata.len(),
        started.elapsed()
    );

    let compilers: Vec<Version> = ["0.15.14", "0.15.15"].iter().map(|v| Version::parse(v).unwrap()).collect();
    for package in ["prelude", "arrays", "halogen"] {
        let name = PackageName::parse(package).unwrap();
        let Some((version, manifest)) = index.versions(&name).and_then(|v| v.iter().next_back()) else {
            continue;
        };
        let published = Published {
            name: name.clone(),
            version: *version,
            compiler: compilers[1],
            dependencies: manifest.dependencies.clone(),
            resolutions: BTreeMap::new(),
        };
        let mut view = MatrixView::new(manifests.clone(), metadata.clone());
        let t = Instant::now();
        let planned =
            view.after_publish(&compilers, &published, &NullLog).map_err(|e| anyhow::anyhow!(e.0))?;
        println!(
            "after publishing {name}@{version} with {}: {} matrix jobs planned in {:.2?}",
            compilers[1],
            planned.len(),
            t.elapsed()
        );
    }

    let (old, new) = (Version::parse("0.15.16").unwrap(), Version::parse("0.15.17").unwrap());
    let roots: Vec<(PackageName, Version)> =
        manifests.iter().filter(|m| m.dependencies.is_empty()).map(|m| (m.name.clone(), m.version)).collect();
    let mut view = MatrixView::new(manifests.clone(), metadata.clone());
    let counts = CountingLog::default();
    let t = Instant::now();
    let order = view.plan_flood(&[old, new], new, &roots, None, &counts).map_err(|e| anyhow::anyhow!(e.0))?;
    let kept = t.elapsed();
    println!("{}", counts.summary());
    println!(
        "flood for {new}: {} jobs from {} roots planned with the kept view in {kept:.2?}",
        order.len(),
        roots.len()
    );

    // The from-scratch planner: compiler index and solver rebuilt for every job.
    let sample = order.len().min(20);
    let t = Instant::now();
    for job in &order[..sample] {
        if let Some(entry) = metadata.get_mut(&job.name).and_then(|m| m.published.get_mut(&job.version)) {
            entry.add_compiler(new);
        }
        let mut fresh = MatrixView::new(manifests.clone(), metadata.clone());
        fresh
            .after_matrix(&[old, new], &job.name, job.version, new, &NullLog)
            .map_err(|e| anyhow::anyhow!(e.0))?;
    }
    let per_call = t.elapsed() / sample as u32;
    println!(
        "from scratch: {per_call:.2?} per job over the first {sample} (without file reads): about {:.0?} for the flood",
        per_call * order.len() as u32
    );
    Ok(())
}
