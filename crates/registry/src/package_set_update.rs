//! `registry package-set update`: a package-set update run in this process against a
//! data directory, exactly as the server's package-set job runs it
//! ([`PackageSetUpdater::update`] over the adapters of [`app::build_command_adapters`]), showing
//! its progress on the terminal.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use registry_adapters::{ActivityLog, CommitOutcome};
use registry_build::{BuildEvent, EventFn};
use registry_core::job::LogLevel;
use registry_core::operation::PackageSetUpdateData;
use registry_core::package_set_rules::Change;
use registry_core::{PackageName, Version};
use registry_jobs::package_set::{PackageSetUpdater, UpdateOutcome};
use registry_settings::Settings;
use registry_settings::wiring as app;

/// Where this command keeps its own git working copies (see
/// [`app::build_command_adapters`]), under the data directory's scratch folder.
const CHECKOUTS: &str = "package-set-command";

#[derive(Debug, clap::Args)]
#[command(after_help = "\
The operator running this command acts as a trustee (like pacchettibotti): removals and \
compiler changes need no signature. Validation, the build and the commit are those of a \
package-set job: the latest set is the starting point, the changes that compile are \
accepted, the others rejected, and package-sets/<version>.json is committed to the \
registry repository and mirrored to the legacy package-sets repository (with --readonly: \
built, but nothing is committed).

With a server running on the same data directory: package-set updates run one at a \
time (a lock in the build directory). This command waits while the server runs a \
package-set job, and a job that starts meanwhile waits for this command; each starts \
from the latest set in the registry repository when its turn comes. Other jobs of the \
server (publish, ...) go on; the command uses its own git working copies (in \
scratch/package-set-command) and shares the server's build directories and cache.")]
pub struct UpdateArgs {
    /// Add a package or move it to a newer version, as NAME@VERSION (repeatable).
    #[arg(long = "update", value_name = "NAME@VERSION", value_parser = parse_update)]
    pub updates: Vec<(PackageName, Version)>,

    /// Remove a package from the set (repeatable).
    #[arg(long = "remove", value_name = "NAME", value_parser = parse_name)]
    pub removals: Vec<PackageName>,

    /// Build the set with this compiler version (X.Y.Z; not older than the latest set's).
    #[arg(long = "compiler", value_name = "X.Y.Z", value_parser = parse_version)]
    pub compiler: Option<Version>,

    /// The server's settings, so the update sees the same repositories, storage and
    /// compilers; the listening address, job timeouts and job commands are unused.
    #[command(
        flatten,
        next_help_heading = "Registry settings (as for `registry serve`; --host, --port, --job-timeout and --job-command are not used)"
    )]
    pub settings: Settings,
}

fn parse_name(input: &str) -> Result<PackageName, String> {
    PackageName::parse(input).map_err(|e| format!("'{input}' is not a package name: {e}"))
}

fn parse_version(input: &str) -> Result<Version, String> {
    Version::parse(input).map_err(|e| format!("'{input}' is not a version X.Y.Z: {e}"))
}

fn parse_update(input: &str) -> Result<(PackageName, Version), String> {
    let (name, version) = input
        .split_once('@')
        .ok_or_else(|| format!("expected NAME@VERSION (e.g. prelude@6.0.1), got '{input}'"))?;
    Ok((parse_name(name)?, parse_version(version)?))
}

impl UpdateArgs {
    /// The request, as a package-set job's payload.
    fn payload(&self) -> anyhow::Result<PackageSetUpdateData> {
        if self.updates.is_empty() && self.removals.is_empty() && self.compiler.is_none() {
            bail!("nothing to update: give --update NAME@VERSION, --remove NAME or --compiler X.Y.Z");
        }
        let mut packages = std::collections::BTreeMap::new();
        let changes =
            self.updates.iter().map(|(n, v)| (n, Some(*v))).chain(self.removals.iter().map(|n| (n, None)));
        for (name, version) in changes {
            if packages.insert(name.clone(), version).is_some() {
                bail!("{name} is named more than once: give one --update or --remove per package");
            }
        }
        Ok(PackageSetUpdateData { compiler: self.compiler, packages })
    }
}

pub fn run(args: &UpdateArgs) -> anyhow::Result<ExitCode> {
    let payload = args.payload()?;
    let settings = &args.settings;
    let adapters = app::build_command_adapters(settings, CHECKOUTS)?;
    let updater: PackageSetUpdater = app::package_set_handler(settings);
    let display = Display::new();
    if settings.readonly {
        display.line("Read-only: the new set is built but not committed.");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let log: Arc<dyn ActivityLog> = Arc::new(display.clone());
    let events: EventFn = {
        let display = display.clone();
        Arc::new(move |e: &BuildEvent| display.event(e))
    };
    // Not a job: no job id for the commit message. The update needs no work directory
    // of its own; this command's scratch directory stands in.
    let env = adapters.env("", log, settings.layout().command_scratch(CHECKOUTS));
    let result = runtime.block_on(updater.update(&env, &payload, Some(events)));
    display.clear();
    match result {
        Ok(outcome) => {
            print!("{}", summary(&outcome));
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            eprintln!("error: the package-set update failed: {}", failure.0);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The result, for stdout.
fn summary(outcome: &UpdateOutcome) -> String {
    let (old, new) = (&outcome.previous, &outcome.new_set);
    let mut out = match &outcome.commit {
        CommitOutcome::Skipped => format!("Package set {} built (read-only: not committed)", new.version),
        CommitOutcome::NoChange => format!("Package set {} was already committed", new.version),
        CommitOutcome::Committed { commit, .. } => {
            format!("Released package set {} (commit {})", new.version, &commit[..commit.len().min(12)])
        }
    };
    out.push_str(&format!(
        ", compiler {}, {} packages; previous set {}.\n",
        new.compiler,
        new.packages.len(),
        old.version
    ));
    if new.compiler != old.compiler {
        out.push_str(&format!("Compiler: {} -> {}\n", old.compiler, new.compiler));
    }
    out.push_str(&format!("Accepted ({}):\n", outcome.accepted.len()));
    for (name, change) in &outcome.accepted {
        let line = match (change, old.packages.get(name)) {
            (Change::Update(v), Some(before)) => format!("{name} {before} -> {v}"),
            (Change::Update(v), None) => format!("{name} {v} (new)"),
            (Change::Remove, Some(before)) => format!("{name} {before} removed"),
            (Change::Remove, None) => format!("{name} removed"),
        };
        out.push_str(&format!("  {line}\n"));
    }
    out.push_str(&format!("Rejected ({}):\n", outcome.rejected.len()));
    for r in &outcome.rejected {
        let change = match r.change {
            Change::Update(v) => format!("{}@{v}", r.name),
            Change::Remove => format!("removing {}", r.name),
        };
        out.push_str(&format!("  {change}: {}\n", r.reason));
    }
    let s = &outcome.stats;
    out.push_str(&format!(
        "Builds: {} compiler runs, {} modules compiled, {} packages installed, {} restored from the cache.\n",
        s.compiles, s.modules_compiled, s.packages_installed, s.packages_restored
    ));
    out
}

/// The terminal side: phase lines on stderr, with a progress bar below them for the
/// install and compile phases when stderr is a terminal. Otherwise plain lines only,
/// the per-package and per-module progress thinned out to about every tenth.
#[derive(Clone)]
struct Display {
    terminal: bool,
    bar: Arc<Mutex<Option<(Phase, ProgressBar)>>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Installing,
    Compiling,
}

impl Display {
    fn new() -> Display {
        Display { terminal: std::io::stderr().is_terminal(), bar: Arc::default() }
    }

    /// Prints a phase line above the bar (or plainly).
    fn line(&self, text: &str) {
        let bar = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        match &*bar {
            Some((_, bar)) if !bar.is_hidden() => bar.println(text),
            _ => eprintln!("{text}"),
        }
    }

    fn clear(&self) {
        if let Some((_, bar)) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }

    fn event(&self, event: &BuildEvent) {
        match event {
            BuildEvent::Installing { index, total, package } => {
                self.step(Phase::Installing, *index, Some(*total), package)
            }
            BuildEvent::ModuleStarted(p) => self.step(Phase::Compiling, p.index, p.total, &p.module),
            BuildEvent::Installed { .. }
            | BuildEvent::Compiled { .. }
            | BuildEvent::AttemptFinished { .. } => self.clear(),
            _ => {}
        }
    }

    /// Item `index` of `total` of a phase started.
    fn step(&self, phase: Phase, index: usize, total: Option<usize>, item: &str) {
        let what = match phase {
            Phase::Installing => "installing package",
            Phase::Compiling => "compiling module",
        };
        if !self.terminal {
            let n = total.unwrap_or(0);
            // First, last, and whenever another tenth is reached.
            let shown = index == 1 || index == n || (n > 0 && index * 10 / n != (index - 1) * 10 / n);
            if shown {
                match total {
                    Some(n) => eprintln!("  {what} {index} of {n}: {item}"),
                    None => eprintln!("  {what} {index}: {item}"),
                }
            }
            return;
        }
        let mut current = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_none_or(|(p, _)| *p != phase) {
            if let Some((_, old)) = current.take() {
                old.finish_and_clear();
            }
            let bar = ProgressBar::with_draw_target(total.map(|n| n as u64), ProgressDrawTarget::stderr());
            let template = match phase {
                Phase::Installing => "Installing [{bar:30}] {pos}/{len} {msg}",
                Phase::Compiling => "Compiling  [{bar:30}] {pos}/{len} {msg}",
            };
            bar.set_style(
                ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> "),
            );
            *current = Some((phase, bar));
        }
        let (_, bar) = current.as_ref().expect("just set");
        if let Some(n) = total {
            bar.set_length(n as u64);
        }
        bar.set_position(index as u64);
        bar.set_message(item.to_owned());
    }
}

impl ActivityLog for Display {
    fn log(&self, level: LogLevel, message: &str) {
        match level {
            LogLevel::Debug => {}
            LogLevel::Info | LogLevel::Notice => self.line(message),
            LogLevel::Warn => self.line(&format!("warning: {message}")),
            LogLevel::Error => self.line(&format!("error: {message}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_name_at_version() {
        let (name, version) = parse_update("prelude@6.0.1").unwrap();
        assert_eq!((name.as_str(), version), ("prelude", Version::new(6, 0, 1)));
        assert!(parse_update("prelude").unwrap_err().contains("NAME@VERSION"));
        assert!(parse_update("prelude@6").unwrap_err().contains("not a version"));
        assert!(parse_update("Bad_Name@1.0.0").unwrap_err().contains("not a package name"));
    }
}
