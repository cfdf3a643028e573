//! The generated source files of one package version.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use registry_core::json::Codec;
use registry_core::{Manifest, ManifestIndex, PackageName, PackageSet};

use crate::names::{api_module, module_prefix, stable_hash};

/// Which flavour of a package version to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Compiles against any normal version of its dependencies.
    Normal,
    /// Its `Api` module no longer exports `value`, which every dependant imports:
    /// dependants fail with `UnknownImport`.
    Breaking,
    /// Imports a module that exists nowhere: fails itself with `ModuleNotFound`.
    Broken,
}

/// Relative path → bytes of every file of the package: `purs.json` (the manifest
/// as the registry prints it), `LICENSE`, `README.md` and `src/**/*.purs`.
pub fn package_files(manifest: &Manifest, variant: Variant) -> BTreeMap<String, Vec<u8>> {
    let prefix = module_prefix(&manifest.name);
    let internal_count = 1 + (stable_hash(manifest.name.as_str()) % 3) as usize;
    let deps: Vec<&PackageName> = manifest.dependencies.keys().collect();
    let stamp = format!("{}@{}", manifest.name, manifest.version);

    let mut files = BTreeMap::new();
    // Internal module i imports internal module i-1 and a share of the dependencies.
    for i in 0..internal_count {
        let mut text = format!(
            "-- Generated for {stamp}.\nmodule {prefix}.Internal.M{i}\n  ( item{i}\n  , Box{i}(..)\n  ) where\n\n"
        );
        if i > 0 {
            let _ = writeln!(text, "import {prefix}.Internal.M{} (item{}, Box{}(..))", i - 1, i - 1, i - 1);
        }
        for (d, dep) in deps.iter().enumerate().filter(|(d, _)| d % internal_count == i) {
            let _ = writeln!(text, "import {} (value, Thing) as Dep{d}", api_module(dep));
        }
        if variant == Variant::Broken && i == 0 {
            let _ = writeln!(text, "import {prefix}.Missing.Module (nothing)");
        }
        let _ = write!(
            text,
            "\ndata Box{i} = Box{i} Int\n\nitem{i} :: Int\nitem{i} = {}\n",
            stable_hash(&stamp) % 1000 + i as u64
        );
        files.insert(format!("src/{}/Internal/M{i}.purs", prefix.replace('.', "/")), text.into_bytes());
    }

    let last = internal_count - 1;
    let mut api = format!("-- Generated for {stamp}.\nmodule {prefix}.Api\n  ( ");
    let mut exports = vec!["Thing(..)".to_owned(), "describe".to_owned()];
    if variant != Variant::Breaking {
        exports.insert(0, "value".to_owned());
    }
    api.push_str(&exports.join("\n  , "));
    let _ = write!(api, "\n  ) where\n\nimport {prefix}.Internal.M{last} (item{last})\n\n");
    let _ = write!(
        api,
        "data Thing = Thing Int\n\nvalue :: Int\nvalue = item{last}\n\ndescribe :: String\ndescribe = \"{stamp}\"\n"
    );
    files.insert(format!("src/{}/Api.purs", prefix.replace('.', "/")), api.into_bytes());

    files.insert("purs.json".into(), manifest.to_pretty().into_bytes());
    files.insert("LICENSE".into(), format!("{} licence text for {stamp}.\n", manifest.license).into_bytes());
    files.insert(
        "README.md".into(),
        format!("# {}\n\nGenerated package {stamp}.\n", manifest.name).into_bytes(),
    );
    files
}

/// Writes files under `dir`, creating folders as needed.
pub fn write_files(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    for (rel, bytes) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Writes every package of `set` as `<out>/<name>@<version>/…` (the layout of a
/// package-set build's `packages/` folder). `variants` overrides the flavour of
/// chosen packages.
pub fn write_set_sources(
    set: &PackageSet,
    index: &ManifestIndex,
    out: &Path,
    variants: &BTreeMap<PackageName, Variant>,
) -> Result<usize> {
    let mut written = 0;
    for (name, version) in &set.packages {
        let manifest = index.lookup(name, *version).with_context(|| {
            format!("{name}@{version} is in the package set but has no manifest in the index")
        })?;
        let variant = variants.get(name).copied().unwrap_or(Variant::Normal);
        write_files(&out.join(format!("{name}@{version}")), &package_files(manifest, variant))?;
        written += 1;
    }
    Ok(written)
}

/// A package of `set` with at least `min_dependants` dependants and another version
/// in the index whose dependencies the set provides: a realistic one-package change.
/// Returns (name, version in the set, other version).
pub fn pick_update(
    set: &PackageSet,
    index: &ManifestIndex,
    min_dependants: usize,
) -> Option<(PackageName, registry_core::Version, registry_core::Version)> {
    let dependants = registry_core::build_plan::dependants_in_set(&set.packages, index);
    set.packages
        .iter()
        .filter(|(name, _)| dependants.get(*name).is_some_and(|d| d.len() >= min_dependants))
        .find_map(|(name, current)| {
            let other = index.versions(name)?.values().rev().find(|m| {
                m.version != *current && m.dependencies.keys().all(|d| set.packages.contains_key(d))
            })?;
            Some((name.clone(), *current, other.version))
        })
}

/// `len` deterministic pseudo-random bytes that gzip cannot shrink (for size limits).
pub fn incompressible_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
