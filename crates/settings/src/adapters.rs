//! The side effects a job may have, chosen once at start-up, and the clock.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use registry_adapters::{ActivityLog, DocsSite, GitRepo, SourceFetcher, Storage};
use registry_compiler::CompilerLocator;
use registry_core::Timestamp;
use registry_jobs::JobEnv;

/// The server's clock.
pub fn now() -> Timestamp {
    let ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    Timestamp::from_unix_millis(ms)
}

/// The side effects available to jobs, chosen once at start-up (READONLY or not).
#[derive(Clone)]
pub struct Adapters {
    pub storage: Arc<dyn Storage>,
    pub registry: Arc<dyn GitRepo>,
    pub index: Arc<dyn GitRepo>,
    /// The legacy package-sets repository new package sets are mirrored to.
    pub legacy_package_sets: Arc<dyn GitRepo>,
    pub docs: Arc<dyn DocsSite>,
    pub sources: Arc<dyn SourceFetcher>,
    /// The installed compilers.
    pub compilers: CompilerLocator,
    /// The package-set build engine's working directories, kept across jobs.
    pub build_root: PathBuf,
}

impl Adapters {
    /// An environment over these adapters; `job_id` empty for work outside a job.
    pub fn env(&self, job_id: &str, log: Arc<dyn ActivityLog>, work_dir: PathBuf) -> JobEnv {
        JobEnv {
            job_id: job_id.to_owned(),
            log,
            storage: self.storage.clone(),
            registry: self.registry.clone(),
            index: self.index.clone(),
            legacy_package_sets: self.legacy_package_sets.clone(),
            docs: self.docs.clone(),
            sources: self.sources.clone(),
            compilers: self.compilers.clone(),
            build_root: self.build_root.clone(),
            work_dir,
            clock: now,
        }
    }
}
