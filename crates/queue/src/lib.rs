//! The registry's job queue.
//!
//! [`JobStore`] is everything the HTTP API and the executor need from the queue's
//! storage; [`SqliteStore`] implements it over upstream's schema (`job_info`, one
//! table per job kind, `logs`) so upstream's data and dashboards keep working, for the
//! single-process registry. [`PostgresStore`] implements it for many workers on many machines: its
//! claims are leases the worker renews, and its package locks live in the database.

mod migrate;
mod postgres;
mod rows;
mod sqlite;

use async_trait::async_trait;
use registry_core::job::{Job, JobType, LogLevel, LogLine};
use registry_core::operation::{AuthenticatedData, PackageSetUpdateRequest, PublishData};
use registry_core::{PackageName, Timestamp, Version};
use std::collections::BTreeMap;

pub use migrate::{MIGRATIONS, Migration};
pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::SqliteStore;

/// A job to queue, with what its kind's table stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewJob {
    Publish(PublishData),
    /// Must carry an unpublish operation.
    Unpublish(AuthenticatedData),
    /// Must carry a transfer operation.
    Transfer(AuthenticatedData),
    Matrix {
        package_name: PackageName,
        package_version: Version,
        compiler_version: Version,
        build_plan: BTreeMap<PackageName, Version>,
    },
    PackageSet(PackageSetUpdateRequest),
}

impl NewJob {
    pub fn job_type(&self) -> JobType {
        match self {
            NewJob::Publish(_) => JobType::Publish,
            NewJob::Unpublish(_) => JobType::Unpublish,
            NewJob::Transfer(_) => JobType::Transfer,
            NewJob::Matrix { .. } => JobType::Matrix,
            NewJob::PackageSet(_) => JobType::PackageSet,
        }
    }
}

/// The answer to an enqueue: the job's id, and whether it is an existing job that
/// already covers the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    pub job_id: String,
    pub duplicate: bool,
}

/// Sort order on creation (jobs) or timestamp (log lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// Filter for `GET /api/v1/jobs`: jobs created in `[since, until)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsQuery {
    pub since: Timestamp,
    pub until: Timestamp,
    pub order: Order,
    /// Finished jobs too, not only pending and running ones.
    pub include_completed: bool,
}

/// Filter for a job's log lines: at least `level`, timestamp in `[since, until)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsQuery {
    pub level: LogLevel,
    pub since: Timestamp,
    pub until: Timestamp,
    pub order: Order,
}

/// At most this many jobs are listed, and this many log lines returned per request
/// (upstream's limits; clients page through logs by advancing `since`).
pub const PAGE_SIZE: usize = 100;

/// How far the matrix jobs of one compiler have got, for the progress line a matrix
/// job logs when it finishes (a new compiler's flood).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MatrixProgress {
    pub succeeded: usize,
    pub failed: usize,
    /// Queued, not started.
    pub pending: usize,
    /// Started, not finished.
    pub running: usize,
}

impl MatrixProgress {
    pub fn done(&self) -> usize {
        self.succeeded + self.failed
    }

    /// Every matrix job of the compiler the queue holds, whatever its state.
    pub fn queued(&self) -> usize {
        self.done() + self.pending + self.running
    }
}

/// One query for both stores' `matrix_progress` (`$1`/`?1`: the compiler). There is
/// no index on `compilerVersion` alone: the count reads every job of the compiler
/// anyway, and with 8 compilers of 5,500 jobs each one scan took 5.2 ms on SQLite
/// (3.5 ms with such an index) and 8.8 ms on Postgres (7.2 ms, its join with
/// `job_info` dominating), once per finished matrix job.
pub(crate) const MATRIX_PROGRESS_SELECT: &str = "SELECT \
     count(*) FILTER (WHERE j.finishedAt IS NOT NULL AND j.success = 1), \
     count(*) FILTER (WHERE j.finishedAt IS NOT NULL AND j.success = 0), \
     count(*) FILTER (WHERE j.finishedAt IS NULL AND j.startedAt IS NULL), \
     count(*) FILTER (WHERE j.finishedAt IS NULL AND j.startedAt IS NOT NULL) \
     FROM matrix_jobs m JOIN job_info j ON j.jobId = m.jobId WHERE m.compilerVersion = ";

/// What start-up recovery did with jobs that were running when the server died.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResetReport {
    /// Jobs put back in the queue.
    pub reset: Vec<String>,
    /// Jobs that had been interrupted too often and were failed instead.
    pub quarantined: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("stored job {job_id} cannot be read: {reason}")]
    Corrupt { job_id: String, reason: String },
    #[error("{0}")]
    Invalid(String),
    /// A signed payload that a job which did not fail has already acted on.
    #[error("the signature was already used by job {job_id}")]
    SignatureUsed { job_id: String },
    #[error("the database task stopped unexpectedly: {0}")]
    Task(String),
    #[error("Postgres error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// This process's claim of the job ended (its lease expired, and the job may run
    /// elsewhere): it must stop the job and write nothing more for it.
    #[error("the lease on job {job_id} was lost: the job may now run on another worker")]
    LeaseLost { job_id: String },
}

/// The queue's storage. Every method is one transaction.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// A number that changes whenever anything is written, read before a query: an
    /// answer read under generation `g` is still current while `generation()` is
    /// `g`. `None` (the default) when the store cannot tell, e.g. because other
    /// processes write to it; then nothing is cached.
    fn generation(&self) -> Option<u64> {
        None
    }

    /// Queues a job unless an equivalent one exists (see the implementation for the
    /// duplicate rules per kind), in which case that job's id is returned. A signed
    /// request whose payload another job used (see [`JobStore::use_signature`]) is
    /// refused with [`StoreError::SignatureUsed`].
    async fn enqueue(&self, job: NewJob, now: Timestamp) -> Result<Enqueued, StoreError>;

    /// Records that `job_id` acts on the signed `data`, so that it is carried out once:
    /// fails with [`StoreError::SignatureUsed`] if another job that has not failed
    /// already used the same payload. Recording again for the same job (a retry after
    /// a crash) succeeds.
    async fn use_signature(
        &self,
        data: &AuthenticatedData,
        job_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Marks the oldest pending job of the highest-priority kind among `kinds`
    /// (ordered highest priority first) as started and returns it.
    async fn claim_next(&self, kinds: &[JobType], now: Timestamp) -> Result<Option<Job>, StoreError>;

    async fn append_logs(&self, lines: &[LogLine]) -> Result<(), StoreError>;

    async fn finish(&self, job_id: &str, success: bool, now: Timestamp) -> Result<(), StoreError>;

    /// Puts a started job back in the queue without counting it as a crash (used
    /// when the server shuts down cleanly under a running job).
    async fn requeue(&self, job_id: &str) -> Result<(), StoreError>;

    /// Start-up recovery: jobs started but not finished are reset to pending and
    /// their reset count raised; a job reaching `max_resets` is failed instead, with
    /// an ERROR log line saying why.
    async fn reset_interrupted(&self, max_resets: u32, now: Timestamp) -> Result<ResetReport, StoreError>;

    /// One job with its log lines filtered by `logs` (at most [`PAGE_SIZE`]).
    async fn job(&self, job_id: &str, logs: &LogsQuery) -> Result<Option<Job>, StoreError>;

    /// Jobs without their logs (at most [`PAGE_SIZE`]). Rows that cannot be decoded
    /// are skipped and reported in the second element.
    async fn jobs(&self, query: &JobsQuery) -> Result<(Vec<Job>, Vec<StoreError>), StoreError>;

    /// Counts of pending and running jobs per kind, for start-up messages and health.
    async fn pending_counts(&self) -> Result<BTreeMap<JobType, usize>, StoreError>;

    /// The matrix jobs of `compiler` by state, in one query.
    async fn matrix_progress(&self, compiler: &Version) -> Result<MatrixProgress, StoreError>;

    /// How long a claim lasts unless renewed; `None` (the default) when a claim lasts
    /// until the job ends (one process owns the queue, and start-up recovery resets
    /// what a crash left).
    fn lease(&self) -> Option<std::time::Duration> {
        None
    }

    /// Extends this process's lease on a job it claimed; [`StoreError::LeaseLost`] when
    /// the lease already expired or another claim replaced it.
    async fn renew_lease(&self, _job_id: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether package locks are held by the store (processes share them) rather than
    /// in the process's memory.
    fn shares_package_locks(&self) -> bool {
        false
    }

    /// Takes `package`'s lock for this process's claim of `job_id` if it is free (or
    /// already ours); the lock is released by [`JobStore::unlock_package`], and lapses
    /// with the claim's lease. Stores that do not share locks answer `true`.
    async fn try_lock_package(&self, _package: &PackageName, _job_id: &str) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn unlock_package(&self, _package: &PackageName, _job_id: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether finished matrix jobs file their results here to be written to the
    /// registry repository several in one commit ([`JobStore::file_matrix_record`]);
    /// `false` (the default) where one process runs every matrix job, one at a time.
    fn batches_matrix_records(&self) -> bool {
        false
    }

    /// Files a matrix job's result, under this process's claim of the job, replacing
    /// any earlier filing of the same job (a run before a crash).
    async fn file_matrix_record(&self, _record: &MatrixRecord) -> Result<(), StoreError> {
        Err(StoreError::Invalid("this store does not batch matrix results".into()))
    }

    /// If no other live claim holds the writer's lock, takes it for `job_id`'s claim
    /// and returns the oldest pending results (at most `limit`) whose jobs' claims are
    /// live; `None` while another worker writes. Released by
    /// [`JobStore::settle_matrix_records`].
    async fn take_matrix_records(
        &self,
        _job_id: &str,
        _limit: usize,
    ) -> Result<Option<Vec<MatrixRecord>>, StoreError> {
        Ok(None)
    }

    /// Files the outcome of each written result and releases the writer's lock held
    /// for `job_id`.
    async fn settle_matrix_records(
        &self,
        _job_id: &str,
        _outcomes: &[(String, RecordOutcome)],
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// The outcome filed for `job_id`'s result, removing the filing once read; `None`
    /// while it waits to be written.
    async fn matrix_record_outcome(&self, _job_id: &str) -> Result<Option<RecordOutcome>, StoreError> {
        Ok(None)
    }
}

/// A finished matrix job's result: `package@version` compiles with `compiler`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixRecord {
    pub job_id: String,
    pub package: PackageName,
    pub version: Version,
    pub compiler: Version,
}

/// What became of a filed matrix result: written (or already there), with the line
/// for the job's log, or not, with the job's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOutcome {
    pub written: bool,
    pub message: String,
}
