//! Shared test fixtures: the stand-in compiler, a small generated universe.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use registry_build::engine::{SOURCE_GLOB, outcome_of};
use registry_build::source::{PackageSource, module_name_of};
use registry_compiler::{CompilerFailure, CompilerLocator, Purs};
use registry_core::Codec;
use registry_core::manifest_index::IncludeRanges;
use registry_core::package_set_batch::{CompileOutcome, PackageMap};
use registry_core::{Manifest, ManifestIndex, PackageName, Sha256, Version};
use registry_workload::{Variant, package_files, write_files};

/// The stand-in binary next to this test's target directory, built if missing.
pub fn standin() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let path = profile_dir.join("purs-standin");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // Always asked for: cheap when up to date, and never a stale binary.
        let status = Command::new(cargo).args(["build", "-q", "-p", "purs-standin"]).status().unwrap();
        assert!(status.success(), "building purs-standin failed");
        assert!(path.exists(), "{} missing after the build", path.display());
        path
    })
    .clone()
}

/// A directory with `purs-0_15_14` and `purs-0_15_15`, both the stand-in.
pub fn compilers(dir: &Path) -> CompilerLocator {
    std::fs::create_dir_all(dir).unwrap();
    for v in ["0_15_14", "0_15_15"] {
        let link = dir.join(format!("purs-{v}"));
        if !link.exists() {
            std::os::unix::fs::symlink(standin(), link).unwrap();
        }
    }
    CompilerLocator::only_in(dir)
}

pub fn name(s: &str) -> PackageName {
    PackageName::parse(s).unwrap()
}

pub fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

/// Versions every package of the universe has: 1.0.0 and 1.1.0 are normal, 2.0.0
/// drops an export dependants use, 3.0.0 imports a missing module.
pub const VERSIONS: [&str; 4] = ["1.0.0", "1.1.0", "2.0.0", "3.0.0"];

/// Package → dependencies of the small universe.
pub const UNIVERSE: [(&str, &[&str]); 6] = [
    ("prelude", &[]),
    ("alpha", &["prelude"]),
    ("beta", &["prelude"]),
    ("gamma", &["alpha", "beta"]),
    ("delta", &["gamma"]),
    ("epsilon", &["alpha"]),
];

pub fn universe() -> ManifestIndex {
    let mut manifests = Vec::new();
    for (pkg, deps) in UNIVERSE {
        for version in VERSIONS {
            let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\":\">=0.0.0 <100.0.0\"")).collect();
            let json = format!(
                r#"{{"name":"{pkg}","version":"{version}","license":"MIT","location":{{"githubOwner":"o","githubRepo":"{pkg}"}},"ref":"v{version}","dependencies":{{{}}}}}"#,
                deps.join(",")
            );
            manifests.push(Manifest::from_json_str(&json).unwrap());
        }
    }
    ManifestIndex::from_manifests(IncludeRanges::IgnoreRanges, &manifests).unwrap()
}

/// Generated sources; the variant follows the major version.
pub struct GenSource {
    pub index: ManifestIndex,
}

impl GenSource {
    pub fn files(&self, n: &PackageName, version: Version) -> BTreeMap<String, Vec<u8>> {
        let manifest = self.index.lookup(n, version).expect("known version");
        let variant = match version.major {
            2 => Variant::Breaking,
            3 => Variant::Broken,
            _ => Variant::Normal,
        };
        package_files(manifest, variant)
    }
}

impl PackageSource for GenSource {
    fn install(&self, n: &PackageName, version: Version, dest: &Path) -> Result<(), String> {
        write_files(dest, &self.files(n, version)).map_err(|e| e.to_string())
    }

    fn hash(&self, n: &PackageName, version: Version) -> Option<Sha256> {
        let mut all = Vec::new();
        for (path, bytes) in self.files(n, version) {
            all.extend(path.into_bytes());
            all.push(0);
            all.extend(bytes);
        }
        Some(Sha256::of_bytes(&all))
    }

    fn modules(&self, n: &PackageName, version: Version) -> Option<BTreeSet<String>> {
        Some(
            self.files(n, version)
                .iter()
                .filter(|(p, _)| p.ends_with(".purs"))
                .filter_map(|(_, b)| module_name_of(&String::from_utf8_lossy(b)))
                .collect(),
        )
    }
}

/// A from-scratch build of `target` in `dir`: the reference every engine build must equal.
pub fn clean_build(
    dir: &Path,
    target: &PackageMap,
    source: &dyn PackageSource,
    purs: &Purs,
    compiler: Version,
) -> CompileOutcome {
    let _ = std::fs::remove_dir_all(dir);
    let mut dirs = BTreeSet::new();
    for (n, version) in target {
        let d = format!("{n}@{version}");
        let p = dir.join("packages").join(&d);
        std::fs::create_dir_all(&p).unwrap();
        source.install(n, *version, &p).unwrap();
        dirs.insert(d);
    }
    std::fs::create_dir_all(dir).unwrap();
    match purs.compile(Some(compiler), Some(dir.to_path_buf()), vec![SOURCE_GLOB.into()], None) {
        Ok(_) => CompileOutcome::Ok,
        Err(CompilerFailure::CompilationError(errors)) => outcome_of(&errors, &dirs),
        Err(other) => panic!("clean build could not run: {other}"),
    }
}

/// Every file of an output directory; for `cache-db.json` only modules, paths and
/// hashes (mtimes differ between any two builds).
pub fn output_tree(output: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![output.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(output).unwrap().to_string_lossy().into_owned();
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            if rel == "cache-db.json" {
                let db = registry_build::cachedb::read(output).expect("readable cache-db");
                let without_mtimes: BTreeMap<_, BTreeMap<_, _>> = db
                    .into_iter()
                    .map(|(m, e)| (m, e.into_iter().map(|(p, (_, h))| (p, h)).collect()))
                    .collect();
                out.insert(rel, format!("{without_mtimes:?}"));
            } else {
                out.insert(rel, text);
            }
        }
    }
    out
}

/// Asserts two output trees are equal, naming only the files that differ.
pub fn assert_same_output(engine: &Path, clean: &Path, context: &str) {
    let (a, b) = (output_tree(engine), output_tree(clean));
    let differing: Vec<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(differing.is_empty(), "{context}: output differs from a clean build in {differing:?}");
}
