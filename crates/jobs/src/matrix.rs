//! The compiler matrix (upstream `MatrixBuilder`, inventory §7.3–7.4): which
//! compilers each published version works with.
//!
//! A publish verifies a version with one compiler. Matrix jobs then try the others:
//! * [`MatrixBuilder`] runs one job in two steps. [`MatrixBuilder::compile`]
//!   installs the job's build plan and the package itself from storage (each
//!   tarball checked against its metadata's size and hash) and builds them with the
//!   job's compiler through the build engine (`crate::builds`): what is in the build
//!   cache is restored, so a job whose plan is built compiles only its package; a
//!   failure changes nothing but the cache of what did compile. [`MatrixBuilder::record`]
//!   adds the compiler to `published[version].compilers` (sorted, no repeats) and
//!   commits the metadata file. The caller runs `record` while no other job
//!   writes the package's metadata.
//! * [`plan_after_publish`] and [`plan_after_matrix`] choose the jobs that follow
//!   (the core's `solve_for_all_compilers` and `solve_dependants_for_compiler`
//!   over the in-memory view of the registry kept by [`MatrixIndex`]);
//!   [`new_compiler_jobs`] is the start-up check for a newly installed compiler.
//!
//! Planning only proposes jobs: the queue decides whether one is new (a package
//! version is tried once per compiler, and a failed try is never queued again).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use registry_adapters::{ActivityLog, FileChange, GitRepo};
use registry_build::{BuildReport, EngineError};
use registry_compiler::CompilerFailure;
use registry_core::json::Codec;
use registry_core::metadata::PublishedMetadata;
use registry_core::solver::MatrixSolverResult;
use registry_core::{Metadata, PackageName, Version, commit};

use crate::builds::{BuildPlace, OnDisk, build_packages, shown_file};
pub use crate::matrix_plan::{MatrixIndex, MatrixView};
use crate::publish::Published;
use crate::registry::{all_manifests, metadata_path, read_entry, read_metadata};
use crate::verified::install_verified;
use crate::{Context, Failure, JobEnv};

/// One matrix job: compile `name@version` with `compiler`, its dependencies pinned
/// to `build_plan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixJob {
    pub name: PackageName,
    pub version: Version,
    pub compiler: Version,
    /// The dependencies to install (the resolutions solved when the job was queued).
    pub build_plan: BTreeMap<PackageName, Version>,
}

impl MatrixJob {
    fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// Runs matrix jobs over the environment's installed compilers.
#[derive(Clone, Default)]
pub struct MatrixBuilder {
    /// Each compiler call's limit (`None`: only the job's own limit applies).
    pub compile_timeout: Option<Duration>,
}

impl MatrixBuilder {
    pub fn new() -> Self {
        MatrixBuilder::default()
    }

    /// Limits each compiler call to `limit`.
    pub fn with_compile_timeout(mut self, limit: Duration) -> Self {
        self.compile_timeout = Some(limit);
        self
    }

    /// Installs the build plan and the package into `<work>/.registry` (verified) and
    /// builds them with the job's compiler through the build engine: whatever is in
    /// the build cache is restored, whatever compiles is stored there. Writes nothing
    /// else durable. The report says what was compiled and restored.
    pub async fn compile(&self, env: &JobEnv, job: &MatrixJob) -> Result<BuildReport, Failure> {
        let log = env.log();
        let id = job.id();
        let compiler = job.compiler;
        let mut packages = job.build_plan.clone();
        if let Some(planned) = packages.insert(job.name.clone(), job.version)
            && planned != job.version
        {
            log.warn(&format!(
                "The build plan names {}@{planned}; {id} itself is installed instead",
                job.name
            ));
        }
        let deps_dir = env.work_dir.join(".registry");
        std::fs::create_dir_all(&deps_dir).context(|| format!("Creating {} failed", deps_dir.display()))?;
        let mut on_disk = Vec::new();
        for (name, version) in &packages {
            let published = published_entry(env, job, name, *version).await?;
            install_verified(env, name, *version, &published, &deps_dir).await?;
            let manifest =
                read_entry(env.index.as_ref(), name).await?.into_iter().find(|m| m.version == *version);
            on_disk.push(OnDisk {
                name: name.clone(),
                version: *version,
                manifest,
                dir: deps_dir.join(format!("{name}-{version}")),
                hash: Some(published.hash),
            });
            log.debug(&format!("Installed {name}@{version}"));
        }
        log.info(&format!(
            "Installed {id} and its build plan ({} dependencies); compiling with {compiler}",
            packages.len() - 1
        ));

        let unchanged = format!("The metadata of {id} is unchanged.");
        let report = match build_packages(
            env,
            &env.purs(self.compile_timeout),
            compiler,
            on_disk,
            BuildPlace::KeptForMatrixJobs,
        )
        .await?
        {
            Ok(report) => report,
            Err(EngineError::Compiler(CompilerFailure::MissingCompiler)) => {
                return Err(Failure(format!(
                    "Compiler {compiler} is not installed on this registry, so {id} cannot be compiled with it. \
                     {unchanged}"
                )));
            }
            Err(other) => {
                return Err(Failure(format!(
                    "Compiling {id} with compiler {compiler} failed: {other} {unchanged}"
                )));
            }
        };
        if report.outcome.is_ok() {
            log.info(&format!("Compilation succeeded with compiler {compiler}"));
            return Ok(report);
        }
        let errors = report.errors;
        log.info(&format!(
            "Compilation failed with compiler {compiler}:\n{}",
            CompilerFailure::CompilationError(errors.clone())
        ));
        let Some(first) = errors.first() else {
            return Err(Failure(format!(
                "{id} does not compile with compiler {compiler}, but the compiler named no error; see the log. \
                 {unchanged}"
            )));
        };
        let message = first.message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        Err(Failure(format!(
            "{id} does not compile with compiler {compiler}: error {} in file {} at line {}: {}{} {unchanged}",
            first.error_code,
            shown_file(&first.filename, env, compiler, None, ".registry/"),
            first.position.start_line,
            message.trim_end_matches('.'),
            if errors.len() > 1 {
                format!(" ({} errors in all; see the log).", errors.len())
            } else {
                ".".into()
            }
        )))
    }

    /// Adds the job's compiler to the version's compilers and commits the metadata.
    /// Returns the metadata as it now is (READONLY adapters only log the write).
    pub async fn record(&self, env: &JobEnv, job: &MatrixJob) -> Result<Metadata, Failure> {
        let this = RecordJob { job_id: env.job_id.clone(), job: job.clone() };
        let mut recorded = self.record_all(env, std::slice::from_ref(&this)).await?;
        let line = recorded.outcomes.pop().expect("one outcome per job")?;
        env.log().info(&line);
        Ok(recorded.metadata.remove(&job.name).expect("the metadata of a recorded job"))
    }

    /// [`MatrixBuilder::record`] for several finished jobs (of this worker and others,
    /// see the server's `matrix_records`) in one commit, so that many workers do not
    /// queue behind the one registry repository with a push each. Each job gets its
    /// own outcome: the line for its log, or why its result cannot be recorded (its
    /// version was unpublished meanwhile). The caller holds every job's package lock.
    /// `Err`: the commit failed, and nothing was recorded.
    pub async fn record_all(&self, env: &JobEnv, jobs: &[RecordJob]) -> Result<RecordedBatch, Failure> {
        let mut metadata: BTreeMap<PackageName, Metadata> = BTreeMap::new();
        let mut changed: BTreeSet<PackageName> = BTreeSet::new();
        let mut changed_jobs: Vec<&str> = Vec::new();
        let mut outcomes = Vec::with_capacity(jobs.len());
        for RecordJob { job_id, job } in jobs {
            if !metadata.contains_key(&job.name)
                && let Some(read) = read_metadata(env.registry.as_ref(), &job.name).await?
            {
                metadata.insert(job.name.clone(), read);
            }
            let outcome = add_compiler(metadata.get_mut(&job.name), job);
            if outcome == Ok(true) {
                changed.insert(job.name.clone());
                changed_jobs.extend(Some(job_id.as_str()).filter(|id| !id.is_empty()));
            }
            outcomes.push(outcome);
        }
        if !changed.is_empty() {
            let files: Vec<FileChange> = changed
                .iter()
                .map(|name| FileChange::write(metadata_path(name), metadata[name].to_pretty()))
                .collect();
            let names: Vec<&str> = changed.iter().map(PackageName::as_str).collect();
            let message = commit::update_metadata(&names.join(", "));
            let message = match changed_jobs.as_slice() {
                [] => message,
                ids => format!(
                    "{message}\n\n{}",
                    ids.iter().map(|id| format!("Job ID: {id}")).collect::<Vec<_>>().join("\n")
                ),
            };
            env.registry.commit(&files, &message, env.log()).await.context(|| {
                format!(
                    "Writing the metadata of {} to the {} failed",
                    names.join(", "),
                    env.registry.describe()
                )
            })?;
        }
        let outcomes = jobs
            .iter()
            .zip(outcomes)
            .map(|(RecordJob { job, .. }, outcome)| {
                let listed = metadata
                    .get(&job.name)
                    .and_then(|m| m.published.get(&job.version))
                    .map(|p| p.compilers.iter().map(Version::to_string).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                outcome.map(|added| {
                    if added {
                        format!(
                            "Recorded that {} compiles with {}: its compilers are now {listed}",
                            job.id(),
                            job.compiler
                        )
                    } else {
                        format!(
                            "The metadata of {} already lists compiler {}: nothing to write",
                            job.id(),
                            job.compiler
                        )
                    }
                })
            })
            .collect();
        Ok(RecordedBatch { outcomes, metadata })
    }
}

/// A finished matrix job whose result is to be recorded, with the id its commit
/// names (empty: none).
#[derive(Debug, Clone)]
pub struct RecordJob {
    pub job_id: String,
    pub job: MatrixJob,
}

/// What [`MatrixBuilder::record_all`] did.
pub struct RecordedBatch {
    /// Per job, in order: the line for its log, or why nothing was recorded for it.
    pub outcomes: Vec<Result<String, Failure>>,
    /// The metadata of each package involved, as it now is.
    pub metadata: BTreeMap<PackageName, Metadata>,
}

/// Adds `job`'s compiler to its version in `metadata`: whether that changed anything.
fn add_compiler(metadata: Option<&mut Metadata>, job: &MatrixJob) -> Result<bool, Failure> {
    let id = job.id();
    let Some(metadata) = metadata else {
        return Err(Failure(format!(
            "{id} compiled with {}, but the registry has no metadata for {} any more, so nothing was recorded.",
            job.compiler, job.name
        )));
    };
    let Some(published) = metadata.published.get_mut(&job.version) else {
        return Err(Failure(format!(
            "{id} compiled with {}, but it is no longer published (unpublished since the job was queued?), so \
             nothing was recorded.",
            job.compiler
        )));
    };
    if published.compilers.contains(&job.compiler) {
        return Ok(false);
    }
    published.add_compiler(job.compiler);
    Ok(true)
}

/// The metadata entry of a package the job installs.
async fn published_entry(
    env: &JobEnv,
    job: &MatrixJob,
    name: &PackageName,
    version: Version,
) -> Result<PublishedMetadata, Failure> {
    let entry =
        read_metadata(env.registry.as_ref(), name).await?.and_then(|m| m.published.get(&version).cloned());
    entry.ok_or_else(|| {
        if *name == job.name {
            Failure(format!(
                "{} is not published in the registry (unpublished since the job was queued?), so it cannot be \
                 compiled with {}.",
                job.id(),
                job.compiler
            ))
        } else {
            Failure(format!(
                "The build plan of {} names {name}@{version}, which is not published in the registry (unpublished \
                 since the job was queued?); nothing was compiled and the metadata of {} is unchanged.",
                job.id(),
                job.name
            ))
        }
    })
}

/// The matrix jobs that follow a publish (upstream's `executeJob` for publish jobs).
pub async fn plan_after_publish(
    env: &JobEnv,
    plans: &MatrixIndex,
    compilers: &[Version],
    published: &Published,
) -> Result<BTreeSet<MatrixSolverResult>, Failure> {
    let (compilers, published, log) = (compilers.to_vec(), published.clone(), env.log.clone());
    plans
        .with_view(env.registry.as_ref(), env.index.as_ref(), move |view| {
            view.after_publish(&compilers, &published, log.as_ref())
        })
        .await?
}

/// The matrix jobs that follow a successful matrix job.
pub async fn plan_after_matrix(
    env: &JobEnv,
    plans: &MatrixIndex,
    compilers: &[Version],
    job: &MatrixJob,
) -> Result<BTreeSet<MatrixSolverResult>, Failure> {
    let (compilers, job, log) = (compilers.to_vec(), job.clone(), env.log.clone());
    plans
        .with_view(env.registry.as_ref(), env.index.as_ref(), move |view| {
            view.after_matrix(&compilers, &job.name, job.version, job.compiler, log.as_ref())
        })
        .await?
}

/// The matrix jobs that follow a matrix job that failed to compile or to record
/// its result: the direct dependants that were awaiting it
/// ([`MatrixView::after_matrix_failure`]). Upstream plans nothing after a failure.
pub async fn plan_after_matrix_failure(
    env: &JobEnv,
    plans: &MatrixIndex,
    compilers: &[Version],
    job: &MatrixJob,
) -> Result<BTreeSet<MatrixSolverResult>, Failure> {
    plans.note_failed(&job.name, job.version, job.compiler).await;
    let (compilers, job, log) = (compilers.to_vec(), job.clone(), env.log.clone());
    plans
        .with_view(env.registry.as_ref(), env.index.as_ref(), move |view| {
            view.after_matrix_failure(&compilers, &job.name, job.version, job.compiler, log.as_ref())
        })
        .await?
}

/// The newest installed compiler, if no compiler of `prelude`'s highest published
/// version is as new: then the registry has not been checked against it yet
/// (upstream `checkIfNewCompiler`; the newest prelude works with every current
/// compiler by definition).
pub fn new_compiler(installed: &[Version], prelude: Option<&Metadata>) -> Option<Version> {
    let latest = *installed.iter().max()?;
    let (_, newest) = prelude?.published.last_key_value()?;
    newest.compilers.iter().all(|c| *c < latest).then_some(latest)
}

/// What the start-up check found: a compiler new to the registry and the versions
/// to compile with it first (every indexed version without dependencies; their
/// dependants follow as those jobs succeed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCompilerJobs {
    pub compiler: Version,
    pub roots: Vec<(PackageName, Version)>,
}

/// Upstream's `checkIfNewCompiler` and `upgradeRegistryToNewCompiler`, without the
/// enqueueing. Logs as upstream does.
pub async fn new_compiler_jobs(
    registry: &dyn GitRepo,
    index: &dyn GitRepo,
    installed: &[Version],
    log: &Arc<dyn ActivityLog>,
) -> Result<Option<NewCompilerJobs>, Failure> {
    log.info("Checking if there's a new compiler in town...");
    let prelude = PackageName::parse("prelude").expect("'prelude' is a valid package name");
    let Some(compiler) = new_compiler(installed, read_metadata(registry, &prelude).await?.as_ref()) else {
        return Ok(None);
    };
    log.info(&format!("New compiler found: {compiler}"));
    log.info("Starting upgrade of the whole registry to the new compiler...");
    let roots = all_manifests(index)
        .await?
        .into_iter()
        .filter(|m| m.dependencies.is_empty())
        .map(|m| (m.name, m.version))
        .collect();
    Ok(Some(NewCompilerJobs { compiler, roots }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn prelude(published: &[(&str, &[&str])]) -> Metadata {
        let entries: serde_json::Map<String, serde_json::Value> = published
            .iter()
            .map(|(version, compilers)| {
                let entry = serde_json::json!({
                    "bytes": 1, "compilers": compilers,
                    "hash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                    "publishedTime": "2024-01-01T00:00:00.000Z", "ref": "",
                });
                (version.to_string(), entry)
            })
            .collect();
        Metadata::decode(&serde_json::json!({
            "location": { "githubOwner": "purescript", "githubRepo": "purescript-prelude" },
            "published": entries, "unpublished": {},
        }))
        .unwrap()
    }

    #[test]
    fn a_compiler_is_new_when_the_newest_prelude_lists_only_older_ones() {
        let installed = [v("0.15.14"), v("0.15.15")];
        // Only the highest prelude version counts, not the one that lists 0.15.15.
        let old = prelude(&[("5.0.0", &["0.15.15"]), ("6.0.0", &["0.15.10", "0.15.14"])]);
        assert_eq!(new_compiler(&installed, Some(&old)), Some(v("0.15.15")));
        let current = prelude(&[("6.0.0", &["0.15.14", "0.15.15"])]);
        assert_eq!(new_compiler(&installed, Some(&current)), None);
        // A prelude verified with a compiler newer than any installed is not behind.
        let ahead = prelude(&[("6.0.0", &["0.15.16"])]);
        assert_eq!(new_compiler(&installed, Some(&ahead)), None);
        assert_eq!(new_compiler(&installed, None), None);
        assert_eq!(new_compiler(&[], Some(&old)), None);
        assert_eq!(new_compiler(&installed, Some(&prelude(&[]))), None);
    }
}
