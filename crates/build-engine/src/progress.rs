//! What a build is doing, as data: the engine and [`crate::run_batch`] report phases
//! and counts as [`BuildEvent`]s. A job log keeps the events that have a
//! [`BuildEvent::log_line`]; a terminal can also follow the per-package and per-module
//! ones (a progress bar).

use std::sync::Arc;

use registry_compiler::CompileProgress;
use registry_core::PackageName;
use registry_core::package_set_batch::CompileOutcome;

/// Receives build events as they happen (on the build's thread, or for
/// [`BuildEvent::ModuleStarted`] on the compiler's output reader thread).
pub type EventFn = Arc<dyn Fn(&BuildEvent) + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// A previous build stopped mid-way; the working directory is being repaired.
    Repairing,
    /// Packages that are not in the target left the working directory.
    Removed { packages: usize },
    /// Installing package `index` (1-based) of the `total` missing ones.
    Installing { index: usize, total: usize, package: String },
    /// The missing packages are installed.
    Installed { packages: usize },
    /// Packages whose output came from the build cache instead of the compiler.
    Restored { packages: usize },
    /// The cache entry of `package` was damaged (unreadable, or its content does not
    /// match its recorded sha256): discarded and treated as missing, so the package
    /// is rebuilt. A warning.
    CacheEntryDamaged { package: String, reason: String },
    /// The compiler is starting on `packages` packages with `modules` modules between them.
    Compiling { packages: usize, modules: usize },
    /// The compiler started (re)compiling one module.
    ModuleStarted(CompileProgress),
    /// The compiler finished; `modules` modules got new output.
    Compiled { modules: usize },
    /// The batch planner asked for build number `attempt` (1-based), a state with
    /// `changes` of the batch's changes applied; `accepted_set` marks the last build,
    /// of the accepted state.
    AttemptStarted { attempt: usize, changes: usize, accepted_set: bool },
    /// Build number `attempt` finished with `outcome`.
    AttemptFinished { attempt: usize, outcome: CompileOutcome },
    /// The planner's verdict: `accepted` changes kept, the `culprits`' changes rejected.
    CulpritsFound { accepted: usize, culprits: Vec<PackageName> },
}

impl BuildEvent {
    /// Whether the event's log line is a warning (else information).
    pub fn is_warning(&self) -> bool {
        matches!(self, BuildEvent::CacheEntryDamaged { .. })
    }

    /// The job-log line for this event; `None` for the fine-grained ones (one per
    /// package or module), which only a progress display wants.
    pub fn log_line(&self) -> Option<String> {
        Some(match self {
            BuildEvent::Repairing => "Repairing the working directory after an interrupted build".into(),
            BuildEvent::Removed { packages } => {
                format!("Removed {packages} packages from the working directory")
            }
            BuildEvent::Installing { .. } | BuildEvent::ModuleStarted(_) => return None,
            BuildEvent::Installed { packages } => format!("Installed {packages} packages"),
            BuildEvent::Restored { packages } => format!("Restored {packages} packages from the build cache"),
            BuildEvent::CacheEntryDamaged { package, reason } => {
                format!("The build cache entry of {package} is damaged ({reason}); rebuilding it")
            }
            BuildEvent::Compiling { packages, modules } => {
                format!("Compiling: {packages} packages ({modules} modules) need a build")
            }
            BuildEvent::Compiled { modules } => format!("Compiled {modules} modules"),
            BuildEvent::AttemptStarted { attempt, changes: 0, accepted_set: false } => {
                format!("Attempt {attempt}: building the set unchanged")
            }
            BuildEvent::AttemptStarted { attempt, changes, accepted_set: false } => {
                format!("Attempt {attempt}: building the set with {}", count(*changes, "change"))
            }
            BuildEvent::AttemptStarted { attempt, changes, accepted_set: true } => {
                format!("Attempt {attempt}: building the accepted set ({})", count(*changes, "change"))
            }
            BuildEvent::AttemptFinished { attempt, outcome } => match outcome {
                CompileOutcome::Ok => format!("Attempt {attempt} compiled"),
                CompileOutcome::Failed { failing } => {
                    format!("Attempt {attempt} failed: errors in {}", names(failing))
                }
                CompileOutcome::Aborted { failing } => {
                    format!("Attempt {attempt} stopped before building: errors in {}", names(failing))
                }
                CompileOutcome::Unattributed => {
                    format!("Attempt {attempt} failed with errors no single package is to blame for")
                }
            },
            BuildEvent::CulpritsFound { accepted, culprits } if culprits.is_empty() => {
                format!("No culprits found: all {} accepted", count(*accepted, "change"))
            }
            BuildEvent::CulpritsFound { accepted, culprits } => format!(
                "{} found ({}); {} accepted",
                count(culprits.len(), "culprit"),
                names(culprits),
                count(*accepted, "change")
            ),
        })
    }
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

fn names<'a>(packages: impl IntoIterator<Item = &'a PackageName>) -> String {
    packages.into_iter().map(PackageName::as_str).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> PackageName {
        PackageName::parse(n).unwrap()
    }

    #[test]
    fn phases_have_log_lines_and_per_item_events_do_not() {
        assert_eq!(BuildEvent::Installed { packages: 3 }.log_line().unwrap(), "Installed 3 packages");
        assert_eq!(
            BuildEvent::Compiling { packages: 2, modules: 9 }.log_line().unwrap(),
            "Compiling: 2 packages (9 modules) need a build"
        );
        let module = CompileProgress { index: 1, total: Some(2), module: "A".into() };
        assert_eq!(BuildEvent::ModuleStarted(module).log_line(), None);
        assert_eq!(BuildEvent::Installing { index: 1, total: 4, package: "a@1.0.0".into() }.log_line(), None);
        assert_eq!(
            BuildEvent::AttemptStarted { attempt: 2, changes: 1, accepted_set: false }.log_line().unwrap(),
            "Attempt 2: building the set with 1 change"
        );
        let failing = [name("alpha"), name("gamma")].into_iter().collect();
        assert_eq!(
            BuildEvent::AttemptFinished { attempt: 2, outcome: CompileOutcome::Failed { failing } }
                .log_line()
                .unwrap(),
            "Attempt 2 failed: errors in alpha, gamma"
        );
        assert_eq!(
            BuildEvent::CulpritsFound { accepted: 1, culprits: vec![name("alpha")] }.log_line().unwrap(),
            "1 culprit found (alpha); 1 change accepted"
        );
    }
}
