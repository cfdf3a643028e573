//! Job handlers available in this build.
//!
//! Every kind has its real handler (publish, unpublish and the compiler matrix
//! from the `registry-jobs` crate). A kind can instead be served by an external
//! program ([`CommandHandler`], `--job-command KIND=PROGRAM`, which replaces the
//! built-in handler); kinds with no handler stay queued.

pub mod command;
pub mod legacy_mirror;
pub mod matrix;
pub mod package;
pub mod package_set;
pub mod transfer;

pub use command::CommandHandler;
pub use matrix::MatrixHandler;
pub use package::{PublishHandler, UnpublishHandler};
pub use package_set::PackageSetHandler;
pub use transfer::TransferHandler;
