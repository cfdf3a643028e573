//! Job handlers available in this build.
//!
//! The real publish, unpublish, transfer, matrix and package-set handlers arrive in
//! later work; until then a kind can be served by an external program
//! ([`CommandHandler`], `--job-command KIND=PROGRAM`), and kinds with no handler stay
//! queued.

pub mod command;

pub use command::CommandHandler;
