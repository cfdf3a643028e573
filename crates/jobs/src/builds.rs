//! Compiling a job's packages through the build engine (`registry_build::Engine`),
//! the one way publish and matrix jobs compile, as package sets do.
//!
//! The job hands over packages already on disk and checked — dependencies unpacked
//! from tarballs verified against their metadata, and for a publish exactly what
//! ships — with the hash that identifies each (the published tarball's). The engine
//! runs in a directory inside the job's work directory (so jobs never wait on each
//! other's working directories) over the shared build cache in the job's storage
//! adapter: a package whose build key is cached is restored instead of compiled,
//! whatever compiled is stored under its key for every later job on any worker, and
//! READONLY's storage keeps new results out of the real one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use registry_build::{
    BuildCache, BuildEvent, BuildReport, Engine, EngineError, EventFn, PackageSource, StorageCache,
};
use registry_compiler::Purs;
use registry_core::manifest_index::IncludeRanges;
use registry_core::{Manifest, ManifestIndex, PackageName, Sha256, Version};

use crate::files::copy_plain_tree;
use crate::{Failure, JobEnv};

/// One package to build: its directory (holding `src/`) and the sha256 of the
/// tarball it came from or will ship as (`None`: never cached).
#[derive(Debug, Clone)]
pub struct OnDisk {
    pub name: PackageName,
    pub version: Version,
    /// From the registry index; without it the package and its dependants are
    /// compiled but never cached (their keys cannot be computed).
    pub manifest: Option<Manifest>,
    pub dir: PathBuf,
    pub hash: Option<Sha256>,
}

/// Packages copied from directories the job prepared.
struct PreparedSource {
    packages: BTreeMap<(PackageName, Version), OnDisk>,
}

impl PackageSource for PreparedSource {
    fn install(&self, name: &PackageName, version: Version, dest: &Path) -> Result<(), String> {
        let package = self
            .packages
            .get(&(name.clone(), version))
            .ok_or_else(|| format!("{name}@{version} was not prepared for the build"))?;
        // The engine hands an empty directory; the copy wants to create its target.
        std::fs::remove_dir(dest).map_err(|e| e.to_string())?;
        copy_plain_tree(&package.dir, dest).map_err(|f| f.0)
    }

    fn hash(&self, name: &PackageName, version: Version) -> Option<Sha256> {
        self.packages.get(&(name.clone(), version)).and_then(|p| p.hash.clone())
    }
}

/// The engine's directory inside the job's work directory.
pub fn engine_root(env: &JobEnv) -> PathBuf {
    env.work_dir.join("build")
}

/// Builds `packages` with `compiler`. The outer error is a crash of the build task;
/// the inner one an [`EngineError`] (missing compiler, unusable directory) for the
/// caller to word. Compilation errors are in the report's outcome and errors. The
/// engine's phases go to the job log.
pub async fn build_packages(
    env: &JobEnv,
    purs: &Purs,
    compiler: Version,
    packages: Vec<OnDisk>,
) -> Result<Result<BuildReport, EngineError>, Failure> {
    let manifests: Vec<&Manifest> = packages.iter().filter_map(|p| p.manifest.as_ref()).collect();
    let index = ManifestIndex::maximal(IncludeRanges::IgnoreRanges, manifests).1;
    let target = packages.iter().map(|p| (p.name.clone(), p.version)).collect();
    let source =
        PreparedSource { packages: packages.into_iter().map(|p| ((p.name.clone(), p.version), p)).collect() };
    let log = env.log.clone();
    let cache: Arc<dyn BuildCache> =
        Arc::new(StorageCache::new(env.storage.clone(), tokio::runtime::Handle::current(), log.clone()));
    let (root, purs) = (engine_root(env), purs.clone());
    registry_adapters::process::blocking(move || {
        let events: EventFn = Arc::new(move |e: &BuildEvent| match e.log_line() {
            Some(line) if e.is_warning() => log.warn(&line),
            Some(line) => log.info(&line),
            None => {}
        });
        let mut engine = Engine::open(&root, compiler, purs, cache)?.with_events(events);
        engine.build(&target, &index, &source)
    })
    .await
    .map_err(|e| {
        Failure(format!("Internal error: the build task crashed ({e}). This is a bug in the registry."))
    })
}

/// A compiler's file name as the job shows it: relative to the engine's directory,
/// with `packages/<name>@<version>/` written as `<prefix><name>-<version>/`, or
/// dropped for `own` (the package being published, shown relative to itself).
pub fn shown_file(
    filename: &str,
    env: &JobEnv,
    compiler: Version,
    own: Option<&str>,
    prefix: &str,
) -> String {
    let dir = format!("{}/", engine_root(env).join(format!("purs-{compiler}")).display());
    let rel = filename.strip_prefix(&dir).unwrap_or(filename);
    let Some(rest) = rel.strip_prefix("packages/") else { return rel.to_owned() };
    let Some((package, file)) = rest.split_once('/') else { return rel.to_owned() };
    let Some((name, version)) = package.rsplit_once('@') else { return rel.to_owned() };
    if own == Some(package) {
        return file.to_owned();
    }
    format!("{prefix}{name}-{version}/{file}")
}
