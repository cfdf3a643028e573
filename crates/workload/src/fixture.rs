//! A small registry for tests: four packages, three versions each, with tarballs,
//! index entries, metadata and a first package set.

use std::path::Path;

use anyhow::{Context, Result};
use registry_core::json::Codec;
use registry_core::manifest_index::entry_path;
use registry_core::metadata::{Metadata, PublishedMetadata};
use registry_core::{Manifest, PackageName, PackageSet, Sha256, Timestamp, Version};

use crate::{Variant, package_files, write_files};

/// The packages and what each depends on.
pub const SMALL_REGISTRY: [(&str, &[&str]); 4] =
    [("prelude", &[]), ("alpha", &["prelude"]), ("beta", &["prelude"]), ("gamma", &["alpha", "beta"])];

/// The manifest of a fixture package: MIT, located at GitHub `o/<name>`, ref
/// `v<version>`, every dependency with the range `>=0.0.0 <100.0.0`.
pub fn fixture_manifest(name: &str, version: &str, deps: &[&str]) -> Manifest {
    let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\":\">=0.0.0 <100.0.0\"")).collect();
    Manifest::from_json_str(&format!(
        r#"{{"name":"{name}","version":"{version}","license":"MIT","location":{{"githubOwner":"o","githubRepo":"{name}"}},"ref":"v{version}","dependencies":{{{}}}}}"#,
        deps.join(",")
    ))
    .expect("fixture manifests are valid")
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    std::fs::create_dir_all(path.parent().expect("a file has a parent"))?;
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Writes a seed folder for `registry init --seed` (`index/`, `metadata/`,
/// `package-sets/0.1.0.json` with every package at 1.0.0, compiler 0.15.15) and the
/// tarballs into `storage`: every package at 1.0.0 and 1.1.0 (normal) and 2.0.0
/// (drops an export its dependants use), published with 0.15.15.
pub fn write_small_registry(seed: &Path, storage: &Path) -> Result<()> {
    let sources = tempfile::tempdir()?;
    let mut set_packages = Vec::new();
    for (name, deps) in SMALL_REGISTRY {
        let mut entry = String::new();
        let mut published = Vec::new();
        for (version, variant) in
            [("1.0.0", Variant::Normal), ("1.1.0", Variant::Normal), ("2.0.0", Variant::Breaking)]
        {
            let m = fixture_manifest(name, version, deps);
            entry.push_str(&m.to_compact());
            entry.push('\n');
            let top = format!("{name}-{version}");
            let src = sources.path().join(&top);
            write_files(&src, &package_files(&m, variant))?;
            let tarball = registry_tarball::create_tarball(&src, &top)?;
            write(&storage.join(name).join(format!("{version}.tar.gz")), &tarball)?;
            let meta = PublishedMetadata {
                bytes: tarball.len() as u64,
                compilers: vec![Version::new(0, 15, 15)],
                hash: Sha256::of_bytes(&tarball),
                published_time: Timestamp::from_unix_millis(1_700_000_000_000),
                git_ref: Some(String::new()),
            };
            published.push(format!("\"{version}\":{}", meta.to_compact()));
        }
        let package = PackageName::parse(name).expect("fixture names are valid");
        write(&seed.join("index").join(entry_path(&package)), entry)?;
        let metadata = Metadata::from_json_str(&format!(
            r#"{{"location":{{"githubOwner":"o","githubRepo":"{name}"}},"published":{{{}}},"unpublished":{{}}}}"#,
            published.join(",")
        ))
        .expect("fixture metadata is valid");
        write(&seed.join(format!("metadata/{name}.json")), metadata.to_pretty())?;
        set_packages.push(format!("\"{name}\":\"1.0.0\""));
    }
    let set = PackageSet::from_json_str(&format!(
        r#"{{"version":"0.1.0","compiler":"0.15.15","published":"2024-01-01","packages":{{{}}}}}"#,
        set_packages.join(",")
    ))
    .expect("the fixture set is valid");
    write(&seed.join("package-sets/0.1.0.json"), set.to_pretty())
}
