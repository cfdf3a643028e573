//! Pure planning for package-set builds: which packages a change affects, and the
//! content keys under which build results are cached.
//!
//! A package's compiled output is determined by the compiler, the package's own
//! sources (name, version, tarball hash) and the outputs of its dependencies, so
//! its key hashes exactly those, recursively (as Nix and Bazel key their outputs).
//! Two builds with equal keys produce equal outputs; a changed input anywhere
//! below a package changes its key, so a stale result is never found.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256 as Hasher};

use crate::manifest_index::ManifestIndex;
use crate::name::PackageName;
use crate::sha256::Sha256;
use crate::version::Version;

/// The packages of `packages` whose output may change when `changed` change: the
/// changed packages present in `packages` and everything that depends on them,
/// directly or transitively (dependencies by name, as the set resolves them).
pub fn affected_closure(
    packages: &BTreeMap<PackageName, Version>,
    index: &ManifestIndex,
    changed: &BTreeSet<PackageName>,
) -> BTreeSet<PackageName> {
    let dependants = dependants_in_set(packages, index);
    let mut out: BTreeSet<PackageName> =
        changed.iter().filter(|n| packages.contains_key(*n)).cloned().collect();
    let mut queue: Vec<PackageName> = changed.iter().cloned().collect();
    while let Some(name) = queue.pop() {
        for dependant in dependants.get(&name).into_iter().flatten() {
            if out.insert(dependant.clone()) {
                queue.push(dependant.clone());
            }
        }
    }
    out
}

/// For each package name, the packages of the set that list it as a dependency.
pub fn dependants_in_set(
    packages: &BTreeMap<PackageName, Version>,
    index: &ManifestIndex,
) -> BTreeMap<PackageName, BTreeSet<PackageName>> {
    let mut out: BTreeMap<PackageName, BTreeSet<PackageName>> = BTreeMap::new();
    for (name, version) in packages {
        if let Some(manifest) = index.lookup(name, *version) {
            for dep in manifest.dependencies.keys() {
                out.entry(dep.clone()).or_default().insert(name.clone());
            }
        }
    }
    out
}

/// A content key for one package's build result (lowercase hex SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuildKey(pub String);

impl std::fmt::Display for BuildKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything outside the package set that determines outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    pub compiler: Version,
    /// A digest of the compiler binary, so two builds of one version never share keys.
    pub compiler_digest: String,
    /// Codegen targets and other flags, in a canonical textual form.
    pub flags: String,
    /// Bumped when the build engine changes how it lays out or restores results.
    pub engine_version: u32,
}

/// Why keys could not be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    MissingManifest(PackageName, Version),
    MissingHash(PackageName, Version),
    /// A dependency that the set does not contain.
    MissingDependency {
        package: PackageName,
        dependency: PackageName,
    },
    Cycle(Vec<PackageName>),
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::MissingManifest(n, v) => write!(f, "{n}@{v} has no manifest in the index"),
            KeyError::MissingHash(n, v) => write!(f, "{n}@{v} has no published tarball hash in its metadata"),
            KeyError::MissingDependency { package, dependency } => {
                write!(f, "{package} depends on {dependency}, which is not in the package set")
            }
            KeyError::Cycle(names) => {
                let names: Vec<&str> = names.iter().map(PackageName::as_str).collect();
                write!(f, "the package set has a dependency cycle among {}", names.join(", "))
            }
        }
    }
}

/// The build key of every package of a set.
pub fn build_keys(
    packages: &BTreeMap<PackageName, Version>,
    index: &ManifestIndex,
    hashes: &dyn Fn(&PackageName, Version) -> Option<Sha256>,
    toolchain: &Toolchain,
) -> Result<BTreeMap<PackageName, BuildKey>, KeyError> {
    let mut keys: BTreeMap<PackageName, BuildKey> = BTreeMap::new();
    let mut deps: BTreeMap<&PackageName, Vec<&PackageName>> = BTreeMap::new();
    for (name, version) in packages {
        let manifest =
            index.lookup(name, *version).ok_or_else(|| KeyError::MissingManifest(name.clone(), *version))?;
        for dep in manifest.dependencies.keys() {
            if !packages.contains_key(dep) {
                return Err(KeyError::MissingDependency { package: name.clone(), dependency: dep.clone() });
            }
        }
        deps.insert(name, manifest.dependencies.keys().collect());
    }
    // Repeatedly key every package whose dependencies all have keys.
    let mut remaining: BTreeSet<&PackageName> = packages.keys().collect();
    while !remaining.is_empty() {
        let ready: Vec<&PackageName> =
            remaining.iter().copied().filter(|n| deps[n].iter().all(|d| keys.contains_key(*d))).collect();
        if ready.is_empty() {
            return Err(KeyError::Cycle(remaining.into_iter().cloned().collect()));
        }
        for name in ready {
            let version = packages[name];
            let hash = hashes(name, version).ok_or_else(|| KeyError::MissingHash(name.clone(), version))?;
            let mut h = Hasher::new();
            let mut field = |label: &str, value: &str| {
                // Length-prefixed so no two different inputs hash the same text.
                h.update(format!("{label}:{}:{value}\n", value.len()).as_bytes());
            };
            field("engine", &toolchain.engine_version.to_string());
            field("compiler", &toolchain.compiler.to_string());
            field("compiler-digest", &toolchain.compiler_digest);
            field("flags", &toolchain.flags);
            field("package", name.as_str());
            field("version", &version.to_string());
            field("tarball", hash.as_str());
            for dep in &deps[name] {
                field("dependency", &format!("{dep}={}", keys[*dep]));
            }
            let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            keys.insert(name.clone(), BuildKey(digest));
            remaining.remove(name);
        }
    }
    Ok(keys)
}
