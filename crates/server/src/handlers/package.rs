//! Publish, unpublish and transfer jobs: the server side of `registry-jobs`.
//!
//! The job logic lives in the `registry-jobs` crate; these handlers give it the
//! job's environment and the job store as its queue. A publish that wrote a version
//! then queues the matrix jobs that follow it.

use registry_core::job::JobDetails;
use registry_core::location::Owner;
use registry_jobs::follow_ups::enqueue_follow_ups;
use registry_jobs::matrix::{MatrixIndex, plan_after_publish};
use registry_jobs::publish::Publisher;
use registry_jobs::queue::JobQueue;
use registry_jobs::transfer::Transferer;
use registry_jobs::unpublish::Unpublisher;

use crate::job_context::{JobContext, JobFailure, JobHandler};

/// The publisher and the planning view it shares with the matrix handler.
pub struct PublishHandler(pub Publisher, pub MatrixIndex);

#[async_trait::async_trait]
impl JobHandler for PublishHandler {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let JobDetails::Publish { payload, .. } = &ctx.job.details else {
            return Err(JobFailure("The publish handler received a job of another kind.".into()));
        };
        let env = ctx.env();
        let published = self.0.run(&env, payload).await?;
        let compilers = env.compilers.installed_versions();
        let planned = plan_after_publish(&env, &self.1, &compilers, &published).await;
        enqueue_follow_ups(&ctx.queue(), &self.1, planned, env.log()).await;
        Ok(())
    }
}

pub struct UnpublishHandler(pub Unpublisher);

impl UnpublishHandler {
    pub fn new(trustee: Option<Owner>) -> Self {
        UnpublishHandler(Unpublisher::new(trustee))
    }
}

#[async_trait::async_trait]
impl JobHandler for UnpublishHandler {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let JobDetails::Unpublish { payload, .. } = &ctx.job.details else {
            return Err(JobFailure("The unpublish handler received a job of another kind.".into()));
        };
        ctx.queue().use_signature(payload).await?;
        self.0.run(&ctx.env(), payload).await
    }
}

pub struct TransferHandler(pub Transferer);

impl TransferHandler {
    pub fn new(trustee: Option<Owner>) -> Self {
        TransferHandler(Transferer::new(trustee))
    }
}

#[async_trait::async_trait]
impl JobHandler for TransferHandler {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let JobDetails::Transfer { package_name, payload } = &ctx.job.details else {
            return Err(JobFailure("The transfer handler received a job of another kind.".into()));
        };
        self.0.run(&ctx.env(), &ctx.queue(), package_name, payload).await
    }
}
