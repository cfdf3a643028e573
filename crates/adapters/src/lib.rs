//! The registry's side effects, each behind a trait with a real implementation and
//! a read-only wrapper.
//!
//! | trait | implementations | read-only wrapper |
//! |---|---|---|
//! | [`Storage`] (objects; tarballs and build cache on top) | [`LocalStorage`], [`S3Storage`] | [`ReadOnlyStorage`] |
//! | [`GitRepo`] (registry, registry-index and legacy package-sets repositories) | [`GitCheckout`] | [`ReadOnlyGitRepo`] |
//! | [`DocsSite`] (Pursuit) | [`HttpDocsSite`] | [`ReadOnlyDocsSite`] |
//! | [`SourceFetcher`] (package sources) | [`GitSourceFetcher`] | (reads only) |
//!
//! Read-only wrappers perform every read and replace every write by a NOTICE line
//! in the job's log saying what would have been done. Which implementations run is
//! decided once, by the binary, at start-up; nothing in here looks at `READONLY`.
//!
//! Every write takes an [`ActivityLog`], the job's log, so that what an adapter does
//! (or, read-only, would have done) is recorded with the job.

pub mod activity;
pub mod docs;
pub mod git;
pub mod process;
pub mod s3;
pub mod source;
pub mod storage;

pub use activity::{ActivityLog, NullLog, READONLY_PREFIX};
pub use docs::{DocsError, DocsSite, HttpDocsSite, ReadOnlyDocsSite};
pub use git::{CommitOutcome, FileChange, GitCheckout, GitError, GitRepo, ReadOnlyGitRepo, TagsOutcome};
pub use s3::{S3Config, S3Storage};
pub use source::{GitSourceFetcher, SourceError, SourceFetcher};
pub use storage::{LocalStorage, ObjectKey, ReadOnlyStorage, Storage, StorageError, tarball_key};

/// Installs the TLS crypto provider used by every HTTPS client here (S3, docs site).
/// Idempotent; call once at start-up before making HTTPS requests.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
