//! Job handlers available in this build: glue that takes a claimed job, builds its
//! environment from the chosen adapters and runs the job kind's logic from the
//! `registry-jobs` crate.
//!
//! A kind can instead be served by an external program ([`CommandHandler`],
//! `--job-command KIND=PROGRAM`, which replaces the built-in handler); kinds with no
//! handler stay queued.

pub mod command;
pub mod matrix;
pub mod matrix_progress;
pub mod matrix_records;
pub mod package;
pub mod package_set;

pub use command::CommandHandler;
pub use matrix::MatrixHandler;
pub use package::{PublishHandler, TransferHandler, UnpublishHandler};
pub use package_set::PackageSetHandler;
