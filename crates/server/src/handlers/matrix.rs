//! Compiler-matrix jobs and the enqueueing of matrix jobs (upstream `JobExecutor`
//! and `MatrixBuilder`, inventory §2.3, §7.3, §7.4).
//!
//! Matrix jobs are queued by the jobs themselves, through the job store, so the
//! executor stays generic:
//! * a publish that wrote a version queues the same version with every other
//!   installed compiler whose solve picks exactly that compiler, and its
//!   dependants with the publish compiler ([`enqueue_follow_ups`] from
//!   [`PublishHandler`](super::PublishHandler));
//! * a matrix job that succeeded queues its dependants with its compiler;
//! * `registry serve` queues, at start-up, every version without dependencies for a
//!   compiler newer than all of the newest prelude's ([`enqueue_new_compiler_jobs`]).
//!
//! The queue keeps one matrix job per package version and compiler, whatever its
//! outcome, so planning the same job again adds nothing and a failed one is never
//! run again. Planning happens after the job's durable effects: if it fails, the
//! job's log says so (WARN) and the job still succeeds, since what it wrote stands.

use std::collections::BTreeSet;
use std::sync::Arc;

use registry_adapters::ActivityLog;
use registry_core::Version;
use registry_core::job::{JobDetails, LogLevel};
use registry_core::solver::MatrixSolverResult;
use registry_jobs::Failure;
use registry_jobs::matrix::{MatrixBuilder, MatrixJob, new_compiler_jobs, plan_after_matrix};
use registry_queue::{JobStore, NewJob, StoreError};

use crate::job_context::{Adapters, JobContext, JobFailure, JobHandler, now};
use crate::package_locks::PackageLocks;

pub struct MatrixHandler {
    pub builder: MatrixBuilder,
    /// Shared with the package operations, which also write metadata.
    pub locks: PackageLocks,
}

#[async_trait::async_trait]
impl JobHandler for MatrixHandler {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let JobDetails::Matrix { package_name, package_version, compiler_version, payload } =
            &ctx.job.details
        else {
            return Err(JobFailure("The matrix handler received a job of another kind.".into()));
        };
        let job = MatrixJob {
            name: package_name.clone(),
            version: *package_version,
            compiler: *compiler_version,
            build_plan: payload.clone(),
        };
        let env = ctx.env();
        self.builder.compile(&env, &job).await?;
        {
            let _only_writer = self.locks.lock(&job.name).await;
            self.builder.record(&env, &job).await?;
        }
        let compilers = self.builder.purs.locator.installed_versions();
        enqueue_follow_ups(ctx, plan_after_matrix(&env, &compilers, &job).await).await;
        Ok(())
    }
}

/// Enqueues planned matrix jobs, one log line each; a planning failure is logged.
pub async fn enqueue_follow_ups(ctx: &JobContext, planned: Result<BTreeSet<MatrixSolverResult>, Failure>) {
    let log: &dyn ActivityLog = ctx.log.as_ref();
    let planned = match planned {
        Ok(planned) => planned,
        Err(why) => {
            return log.warn(&format!(
                "No matrix jobs were queued after this job, because planning them failed: {why} What this job \
                 wrote stands."
            ));
        }
    };
    if let Err(err) = enqueue_matrix_jobs(ctx.store.as_ref(), &planned, log).await {
        log.warn(&format!(
            "Queueing matrix jobs failed: {err}. Some of the planned jobs may be missing; what this job wrote stands."
        ));
    }
}

/// Enqueues each planned job with its resolutions as the build plan.
pub async fn enqueue_matrix_jobs(
    store: &dyn JobStore,
    planned: &BTreeSet<MatrixSolverResult>,
    log: &dyn ActivityLog,
) -> Result<(), StoreError> {
    for plan in planned {
        let job = NewJob::Matrix {
            package_name: plan.name.clone(),
            package_version: plan.version,
            compiler_version: plan.compiler,
            build_plan: plan.resolutions.clone(),
        };
        let enqueued = store.enqueue(job, now()).await?;
        let what = format!("compiler {}, package {}@{}", plan.compiler, plan.name, plan.version);
        if enqueued.duplicate {
            log.info(&format!(
                "Not enqueuing matrix job: {what}: job {} exists already (each version is tried once per compiler)",
                enqueued.job_id
            ));
        } else {
            log.info(&format!("Enqueuing matrix job: {what} (job {})", enqueued.job_id));
        }
    }
    Ok(())
}

/// Start-up: when the installed compilers include one newer than every compiler of
/// prelude's highest published version, queues a matrix job with an empty build
/// plan for every indexed version without dependencies; their successes cascade
/// through the registry. Returns how many jobs are new (none on a second start:
/// the queue already has them).
pub async fn enqueue_new_compiler_jobs(
    adapters: &Adapters,
    store: &dyn JobStore,
    installed: &[Version],
) -> Result<usize, anyhow::Error> {
    let log: Arc<dyn ActivityLog> = Arc::new(ServerLog);
    let found = new_compiler_jobs(adapters.registry.as_ref(), adapters.index.as_ref(), installed, &log)
        .await
        .map_err(|f| anyhow::anyhow!(f.0))?;
    let Some(found) = found else { return Ok(0) };
    let mut added = 0;
    for (name, version) in found.roots {
        let job = NewJob::Matrix {
            package_name: name.clone(),
            package_version: version,
            compiler_version: found.compiler,
            build_plan: Default::default(),
        };
        if !store.enqueue(job, now()).await?.duplicate {
            added += 1;
            log.info(&format!(
                "Enqueuing matrix job for new compiler {}, package {name}@{version}",
                found.compiler
            ));
        }
    }
    log.info(&format!("{added} matrix job(s) queued for compiler {}", found.compiler));
    Ok(added)
}

/// Work done outside any job logs to the server's own log.
struct ServerLog;

impl ActivityLog for ServerLog {
    fn log(&self, level: LogLevel, message: &str) {
        match level {
            LogLevel::Error => tracing::error!("{message}"),
            LogLevel::Warn => tracing::warn!("{message}"),
            LogLevel::Debug => tracing::debug!("{message}"),
            LogLevel::Info | LogLevel::Notice => tracing::info!("{message}"),
        }
    }
}
