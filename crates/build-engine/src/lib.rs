//! Incremental package-set builds with the real `purs` (or its stand-in).
//!
//! One working directory per compiler version, reused across jobs:
//! `packages/<name>@<version>/` (installed sources), `output/` (purs output, `cwd`
//! = the working directory, so cache-db keys are `packages/…`), `state.json` (what
//! the engine knows about every installed package) and `journal.json` (present while
//! an attempt is in progress).
//!
//! # Properties
//!
//! * **Never stale.** A package's output is trusted only while the engine's record
//!   says it holds the result for the package's current build key
//!   ([`registry_core::build_plan::build_keys`]: compiler, sources, dependency keys).
//!   Every other package loses its `cache-db.json` entries before purs runs, so purs
//!   must rebuild it (and, without early cutoff, its dependants). Output directories
//!   of modules whose package left the set are deleted, so a successful build leaves
//!   the same output as a clean build of the same set.
//! * **Cost follows the change.** Unchanged packages keep their output; purs
//!   recompiles only changed packages and their dependants. A failed attempt is
//!   rolled back by building the next state, which restores from the cache only the
//!   packages whose key differs from what `output/` holds.
//! * **Content-addressed cache.** After each compile, every package that compiled is
//!   stored under its build key ([`cache::BuildCache`]), in the registry's storage
//!   adapter ([`StorageCache`]: a local directory by default, S3 in production, so
//!   workers and machines share it). A package whose key is
//!   cached is restored by copying (never hard-linking: purs writes in place) its
//!   module directories and writing matching `cache-db.json` entries with the
//!   installed sources' mtimes and SHA-512s; restored files all get one fresh mtime,
//!   so dependants restored with them are not older than their dependencies (equal
//!   is fine for purs) and untouched packages never depend on restored ones.
//! * **Crash-safe.** The record is rewritten (temp file + rename) before anything it
//!   describes changes: a package is marked untrusted before its directories or
//!   sources are touched. A start that finds `journal.json` repairs: unknown
//!   `packages/` entries and output directories no package owns are deleted, and
//!   `cache-db.json` is rewritten from the trusted packages only.

pub mod batch;
pub mod cache;
pub mod cachedb;
pub mod engine;
pub mod progress;
pub mod source;
mod state;
pub mod storage_cache;

pub use batch::{BatchRun, run_batch};
pub use cache::{BuildCache, CachedOutput};
pub use engine::{BuildReport, Engine, EngineError, Stats};
pub use progress::{BuildEvent, EventFn};
pub use source::PackageSource;
pub use storage_cache::StorageCache;
