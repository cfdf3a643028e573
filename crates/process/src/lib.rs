//! Child processes that die with the work that started them.
//!
//! Every child a job starts — the compiler, `git`, `dhall-to-json`, a job program —
//! leads a new process group, so killing the group also kills what it started.
//! The group dies:
//!
//! * when the work that waits for it ends early: [`GroupGuard`] kills it on drop
//!   (async callers hold it in the future they await); blocking work runs inside a
//!   [`Scope`] whose cancellation kills every group it started and refuses new ones,
//!   so aborting the async task that waits for the blocking thread stops the
//!   thread's child too;
//! * when its time limit passes ([`run::run`] with a timeout);
//! * after a crash of this process: live groups are recorded in a directory
//!   ([`record_groups_in`]) and [`kill_orphans`] kills them at the next start.
//!
//! Used by `registry-compiler` (sync runner) and `registry-adapters` (async
//! runner), so there is one mechanism for both.

mod groups;
pub mod run;
mod scope;

pub use groups::{GroupGuard, kill_group, kill_orphans, live_members, record_groups_in};
pub use run::{Finished, LineFn, LineObservers, RunError};
pub use scope::{CancelOnDrop, Scope};
