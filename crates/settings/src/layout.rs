//! Where things live in a registry data directory.
//!
//! ```text
//! <data-dir>/
//!   db/registry.sqlite3        job queue (upstream's schema)
//!   storage/<name>/<v>.tar.gz  local tarball storage
//!   git/registry.git           bare repo: metadata/, package-sets/
//!   git/registry-index.git     bare repo: the manifest index
//!   git/package-sets.git       bare repo: the legacy package-sets mirror
//!   scratch/                   checkouts, per-job work directories, caches
//! ```

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A relative `root` is taken from the current directory now: git runs in other
    /// directories (checkouts), where a relative remote path would name nothing.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        DataDir { root: std::path::absolute(&root).unwrap_or(root) }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn database(&self) -> PathBuf {
        self.root.join("db/registry.sqlite3")
    }
    pub fn storage(&self) -> PathBuf {
        self.root.join("storage")
    }
    pub fn registry_bare(&self) -> PathBuf {
        self.root.join("git/registry.git")
    }
    pub fn index_bare(&self) -> PathBuf {
        self.root.join("git/registry-index.git")
    }
    /// The legacy package-sets repository (`packages.json`, `src/packages.dhall`,
    /// `latest-compatible-sets.json`, `psc-…` tags) that package-set jobs mirror to.
    pub fn legacy_package_sets_bare(&self) -> PathBuf {
        self.root.join("git/package-sets.git")
    }
    pub fn scratch(&self) -> PathBuf {
        self.root.join("scratch")
    }
    /// The server's log, one file a day (`<YYYY-MM-DD>.log`, UTC), as upstream's `scratch/logs/`.
    pub fn logs(&self) -> PathBuf {
        self.scratch().join("logs")
    }
    pub fn registry_checkout(&self) -> PathBuf {
        self.scratch().join("registry")
    }
    pub fn index_checkout(&self) -> PathBuf {
        self.scratch().join("registry-index")
    }
    pub fn legacy_package_sets_checkout(&self) -> PathBuf {
        self.scratch().join("package-sets")
    }
    /// Per-job work directories, removed when the job ends.
    pub fn jobs(&self) -> PathBuf {
        self.scratch().join("jobs")
    }
    /// Package-set builds: one working directory per compiler, kept across jobs, and
    /// the lock that runs updates one at a time; under `matrix/` the matrix jobs' own
    /// working directories (one per compiler, one matrix build at a time).
    pub fn package_set_builds(&self) -> PathBuf {
        self.scratch().join("package-set-builds")
    }
    /// Process groups of running jobs, recorded so a restart kills what a crash left.
    pub fn process_groups(&self) -> PathBuf {
        self.scratch().join("process-groups")
    }
    /// The scratch directory of a command run beside the server (its own git
    /// working copies: two processes must not run git in one working tree).
    pub fn command_scratch(&self, command: &str) -> PathBuf {
        self.scratch().join(command)
    }
    /// Tarballs "uploaded" in READONLY mode.
    pub fn readonly_cache(&self) -> PathBuf {
        self.scratch().join("readonly-storage")
    }
}
