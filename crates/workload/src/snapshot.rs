//! Reading a registry data folder (`index/`, `package-sets/`) into core types.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use registry_core::json::Codec;
use registry_core::manifest_index::{self, IncludeRanges};
use registry_core::{ManifestIndex, PackageSet};

/// The manifest index and every package set (oldest first) of a registry data folder.
pub fn load_snapshot(dir: &Path) -> Result<(ManifestIndex, Vec<PackageSet>)> {
    let mut manifests = Vec::new();
    let mut stack = vec![dir.join("index")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path)?;
                manifests.extend(
                    manifest_index::parse_entry(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                );
            }
        }
    }
    let index = ManifestIndex::from_manifests(IncludeRanges::ConsiderRanges, &manifests)
        .map_err(|e| anyhow::anyhow!("the index has unsatisfiable dependencies: {e:?}"))?;
    let mut sets = Vec::new();
    for entry in std::fs::read_dir(dir.join("package-sets")).context("reading package-sets/")? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        sets.push(PackageSet::from_json_str(&text).with_context(|| format!("decoding {}", path.display()))?);
    }
    sets.sort_by_key(|s| s.version);
    Ok((index, sets))
}

/// The real registry's data beside the checkout (`../shared/data/registry-snapshot`,
/// or under `REGISTRY_SHARED_DIR`), for tests and benchmarks. `None`, after saying
/// so on stderr, where it is absent: callers skip.
pub fn shared_snapshot() -> Option<PathBuf> {
    let base = std::env::var("REGISTRY_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let dir = base.join("data/registry-snapshot");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: {} is absent (set REGISTRY_SHARED_DIR to run this)", dir.display());
        None
    }
}
