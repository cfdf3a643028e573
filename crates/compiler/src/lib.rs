//! The PureScript compiler as the registry drives it.
//!
//! * [`locate`] finds `purs-X_Y_Z` (or plain `purs`) in a configured directory, then on
//!   `PATH`, and lists the installed versions.
//! * [`process`] (from `registry-process`) runs a child in its own process group with a
//!   timeout that kills the group; the group is recorded and dies with the job's scope.
//! * [`purs`] builds the command lines (`--version`, `compile`, `graph`, `publish`) and turns
//!   their results into [`CompilerFailure`]s the way the registry reads them.
//! * [`errors`] is the `--json-errors` format; [`graph`] the `purs graph` format.
//!
//! This is an adapter crate: it spawns processes. The rules it follows are written down in
//! the project's `purs` CLI contract.

pub mod errors;
pub mod graph;
pub mod locate;
pub mod purs;
pub mod version;

pub use registry_process::run as process;

pub use errors::{CompilerError, CompilerFailure, SourcePosition};
pub use graph::{GraphNode, PursGraph};
pub use locate::CompilerLocator;
pub use purs::{CompileProgress, CompileProgressFn, CompilerArgs, Purs, PursCommand};
