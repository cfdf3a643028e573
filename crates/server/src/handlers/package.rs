//! Publish and unpublish jobs: the server side of `registry-jobs`.
//!
//! The job logic lives in the `registry-jobs` crate, written against the adapter
//! traits; these handlers give it the job's adapters, log and work directory. A
//! publish that wrote a version then queues the matrix jobs that follow it.

use registry_core::job::JobDetails;
use registry_core::location::Owner;
use registry_jobs::matrix::plan_after_publish;
use registry_jobs::publish::Publisher;
use registry_jobs::unpublish::Unpublisher;

use super::matrix::enqueue_follow_ups;
use crate::job_context::{JobContext, JobFailure, JobHandler};

pub struct PublishHandler(pub Publisher);

#[async_trait::async_trait]
impl JobHandler for PublishHandler {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let JobDetails::Publish { payload, .. } = &ctx.job.details else {
            return Err(JobFailure("The publish handler received a job of another kind.".into()));
        };
        let env = ctx.env();
        let published = self.0.run(&env, payload).await?;
        let compilers = self.0.purs.locator.installed_versions();
        enqueue_follow_ups(ctx, plan_after_publish(&env, &compilers, &published).await).await;
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
        super::use_signature(ctx, payload).await?;
        self.0.run(&ctx.env(), payload).await
    }
}
