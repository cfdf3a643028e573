//! Compiler-matrix jobs ([`registry_jobs::matrix`]) and the start-up check for a
//! new compiler; the enqueueing itself is [`registry_jobs::follow_ups`], through
//! the job store.

use std::sync::Arc;

use registry_adapters::ActivityLog;
use registry_core::Version;
use registry_core::job::{JobDetails, LogLevel};
use registry_jobs::follow_ups::enqueue_follow_ups;
use registry_jobs::matrix::{
    MatrixBuilder, MatrixIndex, MatrixJob, plan_after_matrix, plan_after_matrix_failure,
};
use registry_queue::JobStore;

use super::matrix_records::record_with_others;
use crate::job_context::{Adapters, JobContext, JobFailure, JobHandler};
use crate::job_queue::StoreQueue;
use crate::package_locks::PackageLocks;

pub struct MatrixHandler {
    pub builder: MatrixBuilder,
    /// Shared with the package operations, which also write metadata.
    pub locks: PackageLocks,
    /// Shared with the publish handler: planning reads the registry once, not per job.
    pub plans: MatrixIndex,
}

#[async_trait::async_trait]
impl JobHandler for MatrixHandler {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let Some(job) = matrix_job(ctx) else {
            return Err(JobFailure("The matrix handler received a job of another kind.".into()));
        };
        let env = ctx.env();
        let compilers = env.compilers.installed_versions();
        self.compile_and_record(ctx, &env, &job).await?;
        enqueue_follow_ups(
            &ctx.queue(),
            &self.plans,
            plan_after_matrix(&env, &self.plans, &compilers, &job).await,
            env.log(),
        )
        .await;
        super::matrix_progress::log_matrix_progress(ctx, job.compiler).await;
        Ok(())
    }

    /// Dependants may be awaiting this job (see `MatrixIndex::new`): they are
    /// solved without it, however it failed, so none waits for ever.
    async fn after_failure(&self, ctx: &JobContext) {
        let Some(job) = matrix_job(ctx) else { return };
        let env = ctx.env();
        let compilers = env.compilers.installed_versions();
        enqueue_follow_ups(
            &ctx.queue(),
            &self.plans,
            plan_after_matrix_failure(&env, &self.plans, &compilers, &job).await,
            env.log(),
        )
        .await;
    }
}

fn matrix_job(ctx: &JobContext) -> Option<MatrixJob> {
    let JobDetails::Matrix { package_name, package_version, compiler_version, payload } = &ctx.job.details
    else {
        return None;
    };
    Some(MatrixJob {
        name: package_name.clone(),
        version: *package_version,
        compiler: *compiler_version,
        build_plan: payload.clone(),
    })
}

impl MatrixHandler {
    async fn compile_and_record(
        &self,
        ctx: &JobContext,
        env: &registry_jobs::JobEnv,
        job: &MatrixJob,
    ) -> Result<(), JobFailure> {
        self.builder.compile(env, job).await?;
        let _only_writer = self.locks.lock_for_job(&job.name, ctx).await;
        if ctx.store.batches_matrix_records() {
            record_with_others(ctx, env, &self.builder, job).await?;
        } else {
            self.builder.record(env, job).await?;
        }
        Ok(())
    }
}

/// [`registry_jobs::follow_ups::enqueue_new_compiler_jobs`] into `store`, logging to
/// the server's own log (this work belongs to no job). `plans` is the matrix
/// handler's, which notes the jobs queued.
pub async fn enqueue_new_compiler_jobs(
    adapters: &Adapters,
    store: &dyn JobStore,
    plans: &MatrixIndex,
    installed: &[Version],
) -> Result<usize, anyhow::Error> {
    let log: Arc<dyn ActivityLog> = Arc::new(ServerLog);
    let queue = StoreQueue { store, job_id: "" };
    registry_jobs::follow_ups::enqueue_new_compiler_jobs(
        adapters.registry.as_ref(),
        adapters.index.as_ref(),
        &queue,
        plans,
        installed,
        &log,
    )
    .await
    .map_err(|f| anyhow::anyhow!(f.0))
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
