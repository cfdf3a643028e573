//! Reading the registry's two repositories: metadata files and manifest-index entries.

use std::collections::{BTreeMap, BTreeSet};

use registry_adapters::GitRepo;
use registry_core::json::Codec;
use registry_core::manifest_index::{entry_path, parse_entry};
use registry_core::{Manifest, Metadata, PackageName};

use crate::{Context, Failure};

pub fn metadata_path(name: &PackageName) -> String {
    format!("metadata/{name}.json")
}

/// A package's metadata, or `None` if it was never published.
pub async fn read_metadata(registry: &dyn GitRepo, name: &PackageName) -> Result<Option<Metadata>, Failure> {
    let path = metadata_path(name);
    let Some(text) = registry.read(&path).await.context(|| format!("Reading {path} failed"))? else {
        return Ok(None);
    };
    Metadata::from_json_str(&text).map(Some).map_err(|e| {
        Failure(format!(
            "The registry's {path} cannot be read ({e}); this is a registry fault, please report it."
        ))
    })
}

/// Every manifest of a package in the index (empty if none).
pub async fn read_entry(index: &dyn GitRepo, name: &PackageName) -> Result<Vec<Manifest>, Failure> {
    let path = entry_path(name);
    match index.read(&path).await.context(|| format!("Reading the index entry {path} failed"))? {
        None => Ok(Vec::new()),
        Some(text) if text.trim().is_empty() => Ok(Vec::new()),
        Some(text) => parse_entry(&text).map_err(|e| {
            Failure(format!(
                "The index entry {path} cannot be read ({e}); this is a registry fault, please report it."
            ))
        }),
    }
}

/// The part of the registry reachable from some packages through their
/// dependencies (every version of each): enough to solve for them, with the same
/// answer as over the whole registry.
#[derive(Debug, Default)]
pub struct Reachable {
    pub manifests: Vec<Manifest>,
    pub metadata: BTreeMap<PackageName, Metadata>,
}

pub async fn reachable(
    registry: &dyn GitRepo,
    index: &dyn GitRepo,
    roots: impl IntoIterator<Item = PackageName>,
) -> Result<Reachable, Failure> {
    let mut seen = BTreeSet::new();
    let mut pending: Vec<PackageName> = roots.into_iter().collect();
    let mut found = Reachable::default();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let manifests = read_entry(index, &name).await?;
        if manifests.is_empty() {
            continue;
        }
        match read_metadata(registry, &name).await? {
            Some(metadata) => {
                found.metadata.insert(name.clone(), metadata);
            }
            None => {
                return Err(Failure(format!(
                    "The registry index lists {name} but the registry has no metadata for it; this is a registry fault, please report it."
                )));
            }
        }
        for manifest in &manifests {
            pending.extend(manifest.dependencies.keys().filter(|d| !seen.contains(*d)).cloned());
        }
        found.manifests.extend(manifests);
    }
    Ok(found)
}

/// Every manifest in the index (upstream `readAllManifests`): entry files whose
/// name is not a package name (`README.md`, `config.json`) are skipped.
pub async fn all_manifests(index: &dyn GitRepo) -> Result<Vec<Manifest>, Failure> {
    let files = index.all_files().await.context(|| "Listing the registry index failed".to_owned())?;
    let mut manifests = Vec::new();
    for path in files {
        let base = path.rsplit('/').next().unwrap_or(&path);
        let Ok(name) = PackageName::parse(base) else { continue };
        if entry_path(&name) != path {
            continue;
        }
        manifests.extend(read_entry(index, &name).await?);
    }
    Ok(manifests)
}

/// Every package's metadata (upstream `readAllMetadata`): `metadata/<name>.json`
/// files whose name is a package name.
pub async fn all_metadata(registry: &dyn GitRepo) -> Result<BTreeMap<PackageName, Metadata>, Failure> {
    let files =
        registry.list("metadata").await.context(|| "Listing the registry's metadata failed".to_owned())?;
    let mut all = BTreeMap::new();
    for file in files {
        let Some(name) = file.strip_suffix(".json").and_then(|n| PackageName::parse(n).ok()) else {
            continue;
        };
        if let Some(metadata) = read_metadata(registry, &name).await? {
            all.insert(name, metadata);
        }
    }
    Ok(all)
}
