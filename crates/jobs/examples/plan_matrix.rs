//! How long matrix planning takes on the real registry: the compiler index is
//! rebuilt from every manifest and metadata file for each planning call (as
//! upstream does), then the same-package solves and the dependants cascade run.
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
    Ok(())
}
