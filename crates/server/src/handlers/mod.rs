//! Job handlers available in this build.
//!
//! Transfer jobs have their real handler. Publish, unpublish, matrix and package-set
//! handlers arrive in later work; until then a kind can be served by an external
//! program ([`CommandHandler`], `--job-command KIND=PROGRAM`, which also replaces a
//! built-in handler), and kinds with no handler stay queued.

pub mod command;
pub mod transfer;

pub use command::CommandHandler;
pub use transfer::TransferHandler;
