//! Calling `purs` the way the registry does.
//!
//! Exit code 0 gives stdout. Otherwise the `--json-errors` report is read from **stderr**
//! for compilers older than 0.14.0 and from **stdout** for newer ones (and for plain `purs`),
//! except for `purs graph`, which writes its report to stderr in every version. A report
//! that does not decode is an unknown error carrying both streams.
//!
//! While `purs compile` runs, its progress lines (`[i of n] Compiling M` since 0.15.0,
//! `Compiling M` before; on stderr since 0.14.0, stdout before) can be observed as
//! [`CompileProgress`]; this does not change what the streams are read for afterwards.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use registry_core::Version;

use crate::errors::{CompilerFailure, parse_error_report};
use crate::graph::PursGraph;
use crate::locate::CompilerLocator;
use crate::process::{self, LineFn, LineObservers, RunError};
use crate::version::parse_version_output;

/// The compiler changed which stream carries errors in this version.
pub const ERRORS_ON_STDOUT_SINCE: Version = Version::new(0, 14, 0);
/// `purs graph` exists with direct dependencies since this version.
pub const GRAPH_SINCE: Version = Version::new(0, 14, 0);
/// Pursuit accepts documentation from `purs publish` since this version.
pub const PURSUIT_PUBLISH_SINCE: Version = Version::new(0, 14, 7);
/// How many times a compile is attempted when purs hits its JSON-output race.
pub const COMPILE_ATTEMPTS: usize = 3;

/// A `purs` subcommand with the arguments the registry passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PursCommand {
    /// `purs --version`
    Version,
    /// `purs compile GLOBS… --json-errors [--output DIR]`
    Compile { globs: Vec<String>, output: Option<PathBuf> },
    /// `purs graph GLOBS… --json-errors`
    Graph { globs: Vec<String> },
    /// `purs publish --manifest purs.json --resolutions FILE`
    Publish { resolutions: PathBuf },
}

impl PursCommand {
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        match self {
            PursCommand::Version => args.push("--version".into()),
            PursCommand::Compile { globs, output } => {
                args.push("compile".into());
                args.extend(globs.iter().map(OsString::from));
                args.push("--json-errors".into());
                if let Some(dir) = output {
                    args.push("--output".into());
                    args.push(dir.into());
                }
            }
            PursCommand::Graph { globs } => {
                args.push("graph".into());
                args.extend(globs.iter().map(OsString::from));
                args.push("--json-errors".into());
            }
            PursCommand::Publish { resolutions } => {
                args.extend(["publish", "--manifest", "purs.json", "--resolutions"].map(OsString::from));
                args.push(resolutions.into());
            }
        }
        args
    }
}

/// One compiler call: which compiler (`None` = plain `purs`), where, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompilerArgs {
    pub version: Option<Version>,
    pub cwd: Option<PathBuf>,
    pub command: PursCommand,
}

/// One module that `purs compile` started (re)compiling, read from its progress line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileProgress {
    /// 1-based position among the modules this run rebuilds. Compilers before 0.15.0 do
    /// not number their lines; the position is then counted from the lines seen.
    pub index: usize,
    /// How many modules this run rebuilds; known since 0.15.0.
    pub total: Option<usize>,
    pub module: String,
}

/// Receives compile progress while purs runs (on a reader thread).
pub type CompileProgressFn = Arc<dyn Fn(CompileProgress) + Send + Sync>;

/// Reads `[ i of n] Compiling M` (0.15.0+) as `(Some((i, n)), M)` and `Compiling M`
/// (older) as `(None, M)`; any other line is not progress.
pub fn parse_progress_line(line: &str) -> Option<(Option<(usize, usize)>, &str)> {
    let is_module_name = |m: &str| !m.is_empty() && !m.contains(char::is_whitespace);
    if let Some(rest) = line.strip_prefix('[') {
        let (counts, module) = rest.split_once("] Compiling ")?;
        let (i, n) = counts.split_once(" of ")?;
        let (i, n) = (i.trim_start().parse().ok()?, n.parse().ok()?);
        return is_module_name(module).then_some((Some((i, n)), module));
    }
    let module = line.strip_prefix("Compiling ")?;
    is_module_name(module).then_some((None, module))
}

/// The compiler driver: where compilers are, how long a call may take, extra
/// environment for the child, and who hears about compile progress.
#[derive(Clone, Default)]
pub struct Purs {
    pub locator: CompilerLocator,
    pub timeout: Option<Duration>,
    pub env: Vec<(OsString, OsString)>,
    pub progress: Option<CompileProgressFn>,
}

impl std::fmt::Debug for Purs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Purs")
            .field("locator", &self.locator)
            .field("timeout", &self.timeout)
            .field("env", &self.env)
            .field("progress", &self.progress.as_ref().map(|_| "callback"))
            .finish()
    }
}

impl Purs {
    pub fn new(locator: CompilerLocator) -> Self {
        Purs { locator, timeout: None, env: Vec::new(), progress: None }
    }

    /// Calls `progress` for every module `purs compile` starts, as it starts.
    pub fn with_progress(mut self, progress: CompileProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs one command once. Success gives stdout with one final newline removed.
    pub fn call(&self, args: &CompilerArgs) -> Result<String, CompilerFailure> {
        self.call_observed(args, LineObservers::default())
    }

    /// The stream purs writes its progress lines to, observed as [`CompileProgress`].
    fn progress_observers(&self, version: Option<Version>) -> LineObservers {
        let Some(progress) = self.progress.clone() else { return LineObservers::default() };
        let seen = AtomicUsize::new(0);
        let observer: LineFn = Arc::new(move |line: &str| {
            let Some((counts, module)) = parse_progress_line(line) else { return };
            let counted = seen.fetch_add(1, Ordering::Relaxed) + 1;
            let (index, total) = counts.map_or((counted, None), |(i, n)| (i, Some(n)));
            progress(CompileProgress { index, total, module: module.to_owned() });
        });
        match version {
            Some(v) if v < ERRORS_ON_STDOUT_SINCE => LineObservers { stdout: Some(observer), stderr: None },
            _ => LineObservers { stdout: None, stderr: Some(observer) },
        }
    }

    fn call_observed(
        &self,
        args: &CompilerArgs,
        observers: LineObservers,
    ) -> Result<String, CompilerFailure> {
        let executable = self.locator.find(args.version).ok_or(CompilerFailure::MissingCompiler)?;
        let mut command = Command::new(&executable);
        command.args(args.command.args());
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = &args.cwd {
            command.current_dir(cwd);
        }
        let finished = match process::run_observed(&mut command, self.timeout, observers) {
            Ok(finished) => finished,
            Err(RunError::Spawn(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CompilerFailure::MissingCompiler);
            }
            Err(RunError::Spawn(e)) => {
                return Err(CompilerFailure::UnknownError(format!(
                    "Could not run {}: {e}",
                    executable.display()
                )));
            }
            Err(RunError::Cancelled) => {
                return Err(CompilerFailure::UnknownError(
                    "The compiler was stopped because its job ended (timed out or the server stopped)."
                        .to_owned(),
                ));
            }
            Err(RunError::TimedOut { stdout, stderr, .. }) => {
                return Err(CompilerFailure::TimedOut {
                    limit: self.timeout.unwrap_or_default(),
                    output: join_streams(&stdout, &stderr),
                });
            }
        };
        let stdout = strip_final_newline(&finished.stdout);
        let stderr = strip_final_newline(&finished.stderr);
        if finished.status.success() {
            return Ok(stdout.to_owned());
        }
        let report_stream = match (&args.command, args.version) {
            (PursCommand::Graph { .. }, _) => stderr,
            (_, Some(version)) if version < ERRORS_ON_STDOUT_SINCE => stderr,
            _ => stdout,
        };
        Err(match parse_error_report(report_stream) {
            Err(decode) => CompilerFailure::UnknownError([stdout, stderr, &decode.to_string()].join("\n")),
            Ok(errors) if errors.is_empty() => {
                CompilerFailure::UnknownError("Non-normal exit code, but no errors reported.".to_owned())
            }
            Ok(errors) => CompilerFailure::CompilationError(errors),
        })
    }

    /// `purs --version`, read as a version.
    pub fn version(&self, version: Option<Version>) -> Result<Version, CompilerFailure> {
        let stdout = self.call(&CompilerArgs { version, cwd: None, command: PursCommand::Version })?;
        parse_version_output(&stdout).map_err(CompilerFailure::UnknownError)
    }

    /// `purs compile GLOBS --json-errors`, retried (up to [`COMPILE_ATTEMPTS`] attempts in
    /// all) while it fails with the compiler's JSON-output race. Success gives stdout.
    pub fn compile(
        &self,
        version: Option<Version>,
        cwd: Option<PathBuf>,
        globs: Vec<String>,
        output: Option<PathBuf>,
    ) -> Result<String, CompilerFailure> {
        let args = CompilerArgs { version, cwd, command: PursCommand::Compile { globs, output } };
        let mut attempt = 1;
        loop {
            match self.call_observed(&args, self.progress_observers(version)) {
                Err(failure) if failure.is_race_condition() && attempt < COMPILE_ATTEMPTS => attempt += 1,
                result => return result,
            }
        }
    }

    /// `purs graph GLOBS --json-errors`, decoded.
    pub fn graph(
        &self,
        version: Option<Version>,
        cwd: Option<PathBuf>,
        globs: Vec<String>,
    ) -> Result<PursGraph, CompilerFailure> {
        let stdout = self.call(&CompilerArgs { version, cwd, command: PursCommand::Graph { globs } })?;
        PursGraph::parse(&stdout).map_err(|e| {
            CompilerFailure::UnknownError(format!("Could not decode the output of purs graph: {e}\n{stdout}"))
        })
    }

    /// `purs publish --manifest purs.json --resolutions FILE` run in `cwd`; gives the last
    /// line of stdout, which is the documentation JSON.
    pub fn publish(
        &self,
        version: Option<Version>,
        cwd: PathBuf,
        resolutions: PathBuf,
    ) -> Result<String, CompilerFailure> {
        let stdout = self.call(&CompilerArgs {
            version,
            cwd: Some(cwd),
            command: PursCommand::Publish { resolutions },
        })?;
        Ok(stdout.rsplit('\n').next().unwrap_or("").to_owned())
    }
}

fn strip_final_newline(text: &str) -> &str {
    text.strip_suffix("\r\n").or_else(|| text.strip_suffix('\n')).unwrap_or(text)
}

fn join_streams(stdout: &str, stderr: &str) -> String {
    match (stdout.trim().is_empty(), stderr.trim().is_empty()) {
        (true, _) => stderr.to_owned(),
        (false, true) => stdout.to_owned(),
        (false, false) => format!("{stdout}\n{stderr}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_match_the_registry() {
        let args =
            |c: PursCommand| c.args().into_iter().map(|a| a.into_string().unwrap()).collect::<Vec<_>>();
        assert_eq!(args(PursCommand::Version), ["--version"]);
        assert_eq!(
            args(PursCommand::Compile {
                globs: vec!["src/**/*.purs".into(), "a/*.purs".into()],
                output: None
            }),
            ["compile", "src/**/*.purs", "a/*.purs", "--json-errors"]
        );
        assert_eq!(
            args(PursCommand::Compile { globs: vec!["x".into()], output: Some("out".into()) }),
            ["compile", "x", "--json-errors", "--output", "out"]
        );
        assert_eq!(args(PursCommand::Graph { globs: vec!["x".into()] }), ["graph", "x", "--json-errors"]);
        assert_eq!(
            args(PursCommand::Publish { resolutions: "/tmp/r.json".into() }),
            ["publish", "--manifest", "purs.json", "--resolutions", "/tmp/r.json"]
        );
    }

    #[test]
    fn a_missing_compiler_is_reported_as_such() {
        let purs = Purs::new(CompilerLocator::only_in("/nonexistent-compilers"));
        assert_eq!(purs.version(Some(Version::new(0, 15, 4))), Err(CompilerFailure::MissingCompiler));
    }

    #[test]
    fn progress_lines_are_read_with_and_without_counts() {
        assert_eq!(
            parse_progress_line("[ 1 of 59] Compiling Type.Proxy"),
            Some((Some((1, 59)), "Type.Proxy"))
        );
        assert_eq!(parse_progress_line("[59 of 59] Compiling Main"), Some((Some((59, 59)), "Main")));
        assert_eq!(parse_progress_line("Compiling Data.Maybe"), Some((None, "Data.Maybe")));
        for other in [
            "Compiling documentation for Data.Maybe",
            "[1 of 2] Compiling ",
            "[x of 2] Compiling A",
            "purs compile: No files found using pattern: x",
            "{\"warnings\":[],\"errors\":[]}",
        ] {
            assert_eq!(parse_progress_line(other), None, "{other}");
        }
    }

    #[test]
    fn final_newline_is_stripped_once() {
        assert_eq!(strip_final_newline("0.15.4\n"), "0.15.4");
        assert_eq!(strip_final_newline("a\n\n"), "a\n");
        assert_eq!(strip_final_newline("a\r\n"), "a");
        assert_eq!(strip_final_newline("a"), "a");
    }
}
