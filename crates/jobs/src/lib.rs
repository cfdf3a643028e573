//! Every job kind of the registry, one module per kind, written against one
//! environment ([`JobEnv`]) over the adapter traits, so that the server runs them
//! with real or READONLY adapters, the package-set command with its own, and tests
//! with adapters that fail on purpose.
//!
//! * [`publish`]: upstream `API.publish` step by step, reconciling partial earlier
//!   attempts (stored tarball, metadata written, index missing).
//! * [`unpublish`]: upstream's authenticated unpublish, in an order a retry completes.
//! * [`matrix`]: compiler-matrix jobs (compile a published version with another
//!   compiler, record it in the metadata) and the planning of the jobs that follow;
//!   [`follow_ups`] enqueues them through the server's [`queue::JobQueue`].
//! * [`transfer`]: move a package to a new location (signed by an owner or trustee).
//! * [`package_set`]: package-set updates (validate, build, commit), then
//!   [`legacy_mirror`] to the legacy package-sets repository.
//!
//! A job fails with a [`Failure`]: one sentence (or a short paragraph) saying what
//! was wrong and how to fix it; the server makes it the job's last log line.

pub mod builds;
pub mod files;
pub mod follow_ups;
pub mod legacy_mirror;
pub mod matrix;
pub mod matrix_plan;
pub mod package_set;
pub mod publish;
pub mod queue;
pub mod registry;
pub mod secure;
pub mod transfer;
pub mod unpublish;
pub mod verified;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use registry_adapters::{ActivityLog, DocsSite, GitRepo, SourceFetcher, Storage};
use registry_compiler::{CompilerLocator, Purs};
use registry_core::Timestamp;

/// What a job may touch, and where it may write scratch files.
#[derive(Clone)]
pub struct JobEnv {
    /// Empty when the work runs outside a job (`registry package-set update`).
    pub job_id: String,
    pub log: Arc<dyn ActivityLog>,
    pub storage: Arc<dyn Storage>,
    /// The `registry` repository (metadata).
    pub registry: Arc<dyn GitRepo>,
    /// The `registry-index` repository (manifests).
    pub index: Arc<dyn GitRepo>,
    /// The legacy package-sets repository new package sets are mirrored to.
    pub legacy_package_sets: Arc<dyn GitRepo>,
    pub docs: Arc<dyn DocsSite>,
    pub sources: Arc<dyn SourceFetcher>,
    /// The installed compilers (`purs-X_Y_Z` binaries): the registry's supported ones.
    pub compilers: CompilerLocator,
    /// Kept across jobs: the package-set build engine's working directories (one per
    /// compiler) and its update lock, and under `matrix/` the matrix jobs' ones
    /// (`builds::matrix_build_root`). Publish jobs build in `work_dir`.
    pub build_root: PathBuf,
    /// Empty at the start of the run; the caller removes it afterwards.
    pub work_dir: PathBuf,
    /// The server's clock, read when the job needs "now".
    pub clock: fn() -> Timestamp,
}

impl JobEnv {
    pub fn log(&self) -> &dyn ActivityLog {
        self.log.as_ref()
    }

    /// The compiler driver over the installed compilers; each call limited to
    /// `timeout` when given (a job kind's compile limit).
    pub fn purs(&self, timeout: Option<Duration>) -> Purs {
        let purs = Purs::new(self.compilers.clone());
        match timeout {
            Some(limit) => purs.with_timeout(limit),
            None => purs,
        }
    }

    /// The job's id for commit messages; `None` outside a job.
    pub fn job(&self) -> Option<&str> {
        Some(self.job_id.as_str()).filter(|id| !id.is_empty())
    }
}

/// Why a job failed, written for the person who submitted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure(message.into())
    }
}

/// An error from below (an adapter, the queue) as the failure, in its own words.
impl<E: std::error::Error> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure(err.to_string())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `text` as the end of a sentence: a full stop added unless it already ends one
/// (adapter errors may quote a remote's answer that does).
pub(crate) fn sentence(text: impl std::fmt::Display) -> String {
    let text = text.to_string();
    let trimmed = text.trim_end();
    if trimmed.ends_with(['.', '!', '?']) { trimmed.to_owned() } else { format!("{trimmed}.") }
}

/// Adds context to adapter errors: `what` failed, then the adapter's reason.
pub(crate) trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Failure>;
}

impl<T, E: std::fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Failure> {
        self.map_err(|e| Failure(format!("{}: {e}", what())))
    }
}

#[cfg(test)]
mod tests {
    use super::sentence;

    #[test]
    fn a_sentence_ends_with_one_full_stop() {
        assert_eq!(sentence("the site answered 500: down"), "the site answered 500: down.");
        assert_eq!(
            sentence("the site answered 500: down for maintenance."),
            "the site answered 500: down for maintenance."
        );
        assert_eq!(sentence("is it up? "), "is it up?");
    }
}
