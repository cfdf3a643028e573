//! What a job may ask of the job queue. The server implements it over its job
//! store; this crate does not depend on the queue.

use registry_core::operation::AuthenticatedData;
use registry_core::solver::MatrixSolverResult;

use crate::Failure;

/// A matrix job put in the queue, or the one already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    pub job_id: String,
    /// The queue already had this job (one per version and compiler, whatever its outcome).
    pub duplicate: bool,
}

#[async_trait::async_trait]
pub trait JobQueue: Send + Sync {
    /// Queues a matrix job with the plan's resolutions as its build plan.
    async fn enqueue_matrix(&self, plan: &MatrixSolverResult) -> Result<Enqueued, Failure>;

    /// Records that the running job acts on this signed payload, or fails if another
    /// job already did: a signed request is carried out once. Called before any effect.
    async fn use_signature(&self, data: &AuthenticatedData) -> Result<(), Failure>;
}
