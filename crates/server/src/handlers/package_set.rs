//! Package-set jobs: [`registry_jobs::package_set`] with the job's environment.

use registry_core::job::JobDetails;
use registry_jobs::Failure;

pub use registry_jobs::package_set::PackageSetUpdater as PackageSetHandler;

use crate::job_context::{JobContext, JobHandler};

#[async_trait::async_trait]
impl JobHandler for PackageSetHandler {
    async fn run(&self, ctx: &JobContext) -> Result<(), Failure> {
        let JobDetails::PackageSet { payload } = &ctx.job.details else {
            return Err(Failure("The package-set handler received a job of another kind.".into()));
        };
        self.update(&ctx.env(), payload, None).await.map(|_| ())
    }
}
