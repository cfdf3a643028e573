//! Job handlers available in this build.
//!
//! Every kind has its real handler (publish, unpublish and the compiler matrix
//! from the `registry-jobs` crate). A kind can instead be served by an external
//! program ([`CommandHandler`], `--job-command KIND=PROGRAM`, which replaces the
//! built-in handler); kinds with no handler stay queued.

pub mod command;
pub mod legacy_mirror;
pub mod matrix;
pub mod package;
pub mod package_set;
pub mod transfer;

pub use command::CommandHandler;
pub use matrix::MatrixHandler;
pub use package::{PublishHandler, UnpublishHandler};
pub use package_set::PackageSetHandler;
pub use transfer::TransferHandler;

use registry_core::operation::AuthenticatedData;
use registry_queue::StoreError;

use crate::job_context::{JobContext, JobFailure, now};

/// Records that this job acts on its signed payload, or fails it if another job
/// already did: a signed request is carried out once (see `used_signatures`). Runs
/// before any effect, also for jobs queued before the other one finished.
pub(crate) async fn use_signature(ctx: &JobContext, data: &AuthenticatedData) -> Result<(), JobFailure> {
    match ctx.store.use_signature(data, &ctx.job.info.job_id, now()).await {
        Ok(()) => Ok(()),
        Err(StoreError::SignatureUsed { job_id }) => Err(JobFailure(crate::api::signature_used(&job_id))),
        Err(err) => Err(JobFailure(format!("Could not record the use of the signature: {err}"))),
    }
}
