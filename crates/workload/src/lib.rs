//! A workload generator: realistic, deterministic PureScript sources for every
//! package version of a package set, built from the real registry's manifests.
//!
//! Each package gets an `Api` module that dependants import from, and a few
//! internal modules. Every declared dependency is imported by name somewhere in
//! the package, so the dependency graph the compiler sees is the manifest's.
//! Sources are ordinary PureScript (module headers, import lists, simple
//! declarations), so both the real compiler and the project's stand-in accept them.
//! Same inputs, same bytes.

mod fixture;
mod names;
mod repo;
mod snapshot;
mod sources;

pub use fixture::{SMALL_REGISTRY, fixture_manifest, write_small_registry};
pub use names::{api_module, module_prefix};
pub use repo::{GitIdentity, write_git_repo};
pub use snapshot::{load_snapshot, shared_snapshot};
pub use sources::{
    Variant, incompressible_bytes, package_files, pick_update, write_files, write_set_sources,
};
