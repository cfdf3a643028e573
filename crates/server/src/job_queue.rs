//! The job store as the queue jobs see it ([`registry_jobs::queue::JobQueue`]).

use registry_core::operation::AuthenticatedData;
use registry_core::solver::MatrixSolverResult;
use registry_jobs::Failure;
use registry_jobs::queue::{Enqueued, JobQueue};
use registry_queue::{JobStore, NewJob, StoreError};

use crate::job_context::{JobContext, now};

/// The store, on behalf of job `job_id` (empty for the server's own start-up work).
pub struct StoreQueue<'a> {
    pub store: &'a dyn JobStore,
    pub job_id: &'a str,
}

impl JobContext {
    /// The job store, as this job's queue.
    pub fn queue(&self) -> StoreQueue<'_> {
        StoreQueue { store: self.store.as_ref(), job_id: &self.job.info.job_id }
    }
}

#[async_trait::async_trait]
impl JobQueue for StoreQueue<'_> {
    async fn enqueue_matrix(&self, plan: &MatrixSolverResult) -> Result<Enqueued, Failure> {
        let job = NewJob::Matrix {
            package_name: plan.name.clone(),
            package_version: plan.version,
            compiler_version: plan.compiler,
            build_plan: plan.resolutions.clone(),
        };
        let enqueued = self.store.enqueue(job, now()).await?;
        Ok(Enqueued { job_id: enqueued.job_id, duplicate: enqueued.duplicate })
    }

    async fn use_signature(&self, data: &AuthenticatedData) -> Result<(), Failure> {
        match self.store.use_signature(data, self.job_id, now()).await {
            Ok(()) => Ok(()),
            Err(StoreError::SignatureUsed { job_id }) => Err(Failure(crate::api::signature_used(&job_id))),
            Err(err) => Err(Failure(format!("Could not record the use of the signature: {err}"))),
        }
    }
}
