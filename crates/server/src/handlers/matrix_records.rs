//! Group commit of matrix results, for workers on several machines (a store that
//! [batches matrix records](registry_queue::JobStore::batches_matrix_records)).
//!
//! Every successful matrix job adds a compiler to one metadata file. With a commit and
//! push each, N workers take turns at the one registry repository and re-apply each
//! other's rejected pushes, which caps N (see `registry bench workers`). Instead a
//! finished job files its result in the job store, and whichever waiting job takes
//! the writer's lock writes every pending result in one commit and files each job's
//! outcome. Each job reports success only once its own outcome says the commit that
//! holds it was pushed, and keeps its package's lock until then, so no other job
//! writes that metadata meanwhile.
//!
//! A writer that fails (its push, or its lease) fails its own job and leaves the
//! others' results filed for the next writer; a writer that dies holds the lock until
//! its lease expires.

use std::time::Duration;

use registry_jobs::JobEnv;
use registry_jobs::matrix::{MatrixBuilder, MatrixJob, RecordJob};
use registry_queue::{MatrixRecord, RecordOutcome, StoreError};

use crate::job_context::{JobContext, JobFailure};

/// At most this many results in one commit.
const MAX_BATCH: usize = 64;

/// How often a job whose result waits asks whether it was written.
const POLL: Duration = Duration::from_millis(25);

/// Files `job`'s result and returns once a commit holding it was pushed (by this job
/// or another), or with the reason it could not be recorded.
pub async fn record_with_others(
    ctx: &JobContext,
    env: &JobEnv,
    builder: &MatrixBuilder,
    job: &MatrixJob,
) -> Result<(), JobFailure> {
    let job_id = ctx.job.info.job_id.as_str();
    let store = ctx.store.as_ref();
    let queue_failed = |err: StoreError| {
        JobFailure(format!(
            "{}@{} compiled with {}, but filing the result with the job queue failed, so nothing was \
             recorded: {err}",
            job.name, job.version, job.compiler
        ))
    };
    let record = MatrixRecord {
        job_id: job_id.to_owned(),
        package: job.name.clone(),
        version: job.version,
        compiler: job.compiler,
    };
    store.file_matrix_record(&record).await.map_err(queue_failed)?;
    loop {
        if let Some(outcome) = store.matrix_record_outcome(job_id).await.map_err(queue_failed)? {
            if outcome.written {
                env.log().info(&outcome.message);
                return Ok(());
            }
            return Err(JobFailure(outcome.message));
        }
        if let Some(records) = store.take_matrix_records(job_id, MAX_BATCH).await.map_err(queue_failed)? {
            let outcomes = write(env, builder, job_id, records).await;
            store.settle_matrix_records(job_id, &outcomes).await.map_err(queue_failed)?;
            continue;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Writes `records` in one commit as the writer `job_id`: each record's outcome, or
/// on failure only the writer's own (the others stay filed for the next writer).
async fn write(
    env: &JobEnv,
    builder: &MatrixBuilder,
    job_id: &str,
    records: Vec<MatrixRecord>,
) -> Vec<(String, RecordOutcome)> {
    let failed = |message: String| vec![(job_id.to_owned(), RecordOutcome { written: false, message })];
    // Other workers pushed since this worker's copy was fetched.
    if let Err(err) = env.registry.refresh().await {
        return failed(format!(
            "Reading the latest state of the {} failed, so nothing was recorded: {err}",
            env.registry.describe()
        ));
    }
    let jobs: Vec<RecordJob> = records
        .iter()
        .map(|r| RecordJob {
            job_id: r.job_id.clone(),
            job: MatrixJob {
                name: r.package.clone(),
                version: r.version,
                compiler: r.compiler,
                build_plan: Default::default(),
            },
        })
        .collect();
    let recorded = match builder.record_all(env, &jobs).await {
        Ok(recorded) => recorded,
        Err(failure) => return failed(failure.0),
    };
    if records.len() > 1 {
        env.log().info(&format!("Wrote the results of {} matrix jobs in one commit", records.len()));
    }
    let others = records.len() - 1;
    records
        .into_iter()
        .zip(recorded.outcomes)
        .map(|(record, outcome)| {
            let outcome = match outcome {
                Ok(line) if record.job_id != job_id => RecordOutcome {
                    written: true,
                    message: format!("{line} (written by job {job_id} with {others} other results)"),
                },
                Ok(line) => RecordOutcome { written: true, message: line },
                Err(failure) => RecordOutcome { written: false, message: failure.0 },
            };
            (record.job_id, outcome)
        })
        .collect()
}
