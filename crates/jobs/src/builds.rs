//! Compiling a job's packages through the build engine (`registry_build::Engine`),
//! the one way publish and matrix jobs compile, as package sets do.
//!
//! The job hands over packages already on disk and checked — dependencies unpacked
//! from tarballs verified against their metadata, and for a publish exactly what
//! ships — with the hash that identifies each (the published tarball's). The engine
//! runs over the shared build cache in the job's storage adapter: a package whose
//! build key is cached is restored instead of compiled, whatever compiled is stored
//! under its key for every later job on any worker, and READONLY's storage keeps new
//! results out of the real one.
//!
//! A publish builds in a directory inside its work directory. Matrix jobs build in
//! one directory kept across jobs ([`matrix_build_root`], one matrix job at a time
//! holds it): the packages a flood's plans share (prelude, effect, …) stay installed
//! and compiled there, trusted only while their build keys match, as a package set's
//! working directory is; a matrix job that finds it held builds in its own directory.

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

/// The engine's directory kept across matrix jobs, beside the package sets' ones.
pub fn matrix_build_root(env: &JobEnv) -> PathBuf {
    env.build_root.join("matrix")
}

/// Where [`build_packages`] runs the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildPlace {
    /// A fresh directory inside the job's work directory.
    JobDir,
    /// [`matrix_build_root`], if no other build holds it; else the job's directory.
    KeptForMatrixJobs,
}

/// The directory to build in, and the lock that keeps it ours while the build runs.
fn build_dir(env: &JobEnv, place: BuildPlace) -> (PathBuf, Option<std::fs::File>) {
    if place == BuildPlace::JobDir {
        return (engine_root(env), None);
    }
    let root = matrix_build_root(env);
    let taken = std::fs::create_dir_all(&root).and_then(|()| {
        std::fs::File::options().create(true).truncate(false).write(true).open(root.join("matrix.lock"))
    });
    match taken.map(|file| file.try_lock().map(|()| file)) {
        Ok(Ok(lock)) => (root, Some(lock)),
        Ok(Err(std::fs::TryLockError::WouldBlock)) => {
            env.log().info(&format!(
                "Another matrix build holds {}; this job builds in its own directory",
                root.display()
            ));
            (engine_root(env), None)
        }
        Ok(Err(std::fs::TryLockError::Error(e))) | Err(e) => {
            env.log().warn(&format!(
                "The matrix jobs' build directory {} cannot be used ({e}); this job builds in its own directory",
                root.display()
            ));
            (engine_root(env), None)
        }
    }
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
    place: BuildPlace,
) -> Result<Result<BuildReport, EngineError>, Failure> {
    let manifests: Vec<&Manifest> = packages.iter().filter_map(|p| p.manifest.as_ref()).collect();
    let index = ManifestIndex::maximal(IncludeRanges::IgnoreRanges, manifests).1;
    let target = packages.iter().map(|p| (p.name.clone(), p.version)).collect();
    let source =
        PreparedSource { packages: packages.into_iter().map(|p| ((p.name.clone(), p.version), p)).collect() };
    let log = env.log.clone();
    let cache: Arc<dyn BuildCache> =
        Arc::new(StorageCache::new(env.storage.clone(), tokio::runtime::Handle::current(), log.clone()));
    let ((root, lock), purs) = (build_dir(env, place), purs.clone());
    registry_adapters::process::blocking(move || {
        let _held = lock;
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
    let dir = |root: PathBuf| format!("{}/", root.join(format!("purs-{compiler}")).display());
    let rel = [engine_root(env), matrix_build_root(env)]
        .into_iter()
        .find_map(|root| filename.strip_prefix(&dir(root)))
        .unwrap_or(filename);
    let Some(rest) = rel.strip_prefix("packages/") else { return rel.to_owned() };
    let Some((package, file)) = rest.split_once('/') else { return rel.to_owned() };
    let Some((name, version)) = package.rsplit_once('@') else { return rel.to_owned() };
    if own == Some(package) {
        return file.to_owned();
    }
    format!("{prefix}{name}-{version}/{file}")
}
