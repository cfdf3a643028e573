//! The solver's plain inputs taken from the registry's own types (manifest index
//! and metadata), as upstream's `buildCompilerIndex` and `MatrixBuilder` read them.

use std::collections::BTreeMap;

use super::DependencyIndex;
use super::compiler::{CompilerIndex, CompilerIndexError, ManifestDeps, build_compiler_index};
use super::matrix::DependantStatus;
use crate::manifest::Manifest;
use crate::manifest_index::ManifestIndex;
use crate::metadata::Metadata;
use crate::name::PackageName;
use crate::version::Version;

impl From<&Manifest> for ManifestDeps {
    fn from(manifest: &Manifest) -> Self {
        ManifestDeps {
            name: manifest.name.clone(),
            version: manifest.version,
            dependencies: manifest.dependencies.clone(),
        }
    }
}

/// Every manifest's dependencies, by package and version.
pub fn dependency_index(index: &ManifestIndex) -> DependencyIndex {
    index
        .packages()
        .iter()
        .map(|(name, versions)| {
            (name.clone(), versions.iter().map(|(v, m)| (*v, m.dependencies.clone())).collect())
        })
        .collect()
}

/// The compilers each published version is known to work with, per package.
pub fn published_compilers(
    metadata: &BTreeMap<PackageName, Metadata>,
) -> BTreeMap<PackageName, BTreeMap<Version, Vec<Version>>> {
    metadata
        .iter()
        .map(|(name, meta)| {
            (name.clone(), meta.published.iter().map(|(v, p)| (*v, p.compilers.clone())).collect())
        })
        .collect()
}

/// Upstream's `buildCompilerIndex compilers index metadata`.
pub fn compiler_index_from_registry(
    compilers: &[Version],
    index: &ManifestIndex,
    metadata: &BTreeMap<PackageName, Metadata>,
) -> Result<CompilerIndex, CompilerIndexError> {
    let manifests: Vec<ManifestDeps> = index.manifests().map(ManifestDeps::from).collect();
    build_compiler_index(compilers, &manifests, &published_compilers(metadata))
}

impl DependantStatus {
    /// What `metadata` says about `name@version`.
    pub fn from_metadata(
        metadata: &BTreeMap<PackageName, Metadata>,
        name: &PackageName,
        version: Version,
    ) -> Self {
        match metadata.get(name) {
            None => DependantStatus::NoMetadata,
            Some(meta) => meta
                .published
                .get(&version)
                .map_or(DependantStatus::NotPublished, |p| DependantStatus::Published(p.compilers.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::json::Codec;
    use crate::manifest_index::IncludeRanges;

    fn manifest(name: &str, version: &str, deps: serde_json::Value) -> Manifest {
        Manifest::decode(&json!({
            "name": name, "version": version, "license": "MIT",
            "location": { "githubOwner": "purescript", "githubRepo": format!("purescript-{name}") },
            "ref": format!("v{version}"), "dependencies": deps,
        }))
        .unwrap()
    }

    fn metadata(published: &[(&str, &[&str])]) -> Metadata {
        let published: serde_json::Map<String, serde_json::Value> = published
            .iter()
            .map(|(v, compilers)| {
                let entry = json!({
                    "bytes": 1, "compilers": compilers,
                    "hash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                    "publishedTime": "2024-01-01T00:00:00.000Z", "ref": "",
                });
                (v.to_string(), entry)
            })
            .collect();
        Metadata::decode(&json!({
            "location": { "githubOwner": "purescript", "githubRepo": "x" },
            "published": published, "unpublished": {},
        }))
        .unwrap()
    }

    #[test]
    fn registry_types_give_the_same_compiler_index_as_plain_inputs() {
        let mut index = ManifestIndex::new();
        index.insert(IncludeRanges::ConsiderRanges, manifest("prelude", "6.0.0", json!({}))).unwrap();
        let effect = manifest("effect", "4.0.0", json!({ "prelude": ">=6.0.0 <7.0.0" }));
        index.insert(IncludeRanges::ConsiderRanges, effect).unwrap();
        let metadata = BTreeMap::from([
            (PackageName::parse("prelude").unwrap(), metadata(&[("6.0.0", &["0.15.0", "0.15.2"])])),
            (PackageName::parse("effect").unwrap(), metadata(&[])),
        ]);
        let compilers = [Version::parse("0.15.0").unwrap(), Version::parse("0.15.2").unwrap()];

        let from_registry = compiler_index_from_registry(&compilers, &index, &metadata).unwrap();
        let manifests: Vec<ManifestDeps> = index.manifests().map(ManifestDeps::from).collect();
        let plain = build_compiler_index(&compilers, &manifests, &published_compilers(&metadata)).unwrap();
        assert_eq!(from_registry, plain);
        let deps = from_registry.as_dependency_index();
        assert_eq!(deps[&PackageName::parse("prelude").unwrap()].values().next().unwrap().len(), 1);
        assert_eq!(dependency_index(&index).len() + 1, deps.len());

        let effect_name = PackageName::parse("effect").unwrap();
        let v4 = Version::parse("4.0.0").unwrap();
        assert_eq!(
            DependantStatus::from_metadata(&metadata, &effect_name, v4),
            DependantStatus::NotPublished
        );
        let ghost = PackageName::parse("ghost").unwrap();
        assert_eq!(DependantStatus::from_metadata(&metadata, &ghost, v4), DependantStatus::NoMetadata);
    }
}
