//! Job handlers available in this build.
//!
//! Transfer, publish and unpublish jobs have their real handlers (the latter two
//! from the `registry-jobs` crate). Matrix and package-set handlers arrive in later
//! work; until then a kind can be served by an external
//! program ([`CommandHandler`], `--job-command KIND=PROGRAM`, which also replaces a
//! built-in handler), and kinds with no handler stay queued.

pub mod command;
pub mod package;
pub mod transfer;

pub use command::CommandHandler;
pub use package::{PublishHandler, UnpublishHandler};
pub use transfer::TransferHandler;
