//! Job handlers available in this build.
//!
//! Transfer, publish, unpublish and package-set jobs have their real handlers
//! (publish and unpublish from the `registry-jobs` crate). Matrix handlers arrive in
//! later work; until then a kind can be served by an external
//! program ([`CommandHandler`], `--job-command KIND=PROGRAM`, which also replaces a
//! built-in handler), and kinds with no handler stay queued.

pub mod command;
pub mod legacy_mirror;
pub mod package;
pub mod package_set;
pub mod transfer;

pub use command::CommandHandler;
pub use package::{PublishHandler, UnpublishHandler};
pub use package_set::PackageSetHandler;
pub use transfer::TransferHandler;
