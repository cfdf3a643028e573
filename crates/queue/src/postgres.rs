//! [`JobStore`] over Postgres, for an API process and workers on several machines.
//!
//! Same tables and rules as the SQLite store (duplicate rules, signatures used once,
//! quarantine after repeated interruptions, paging). What differs is what many
//! processes need:
//! - a claim (`FOR UPDATE SKIP LOCKED`, so workers never wait on each other) is a lease
//!   on the database's clock, renewed by its worker while the job runs; a job whose
//!   lease expired is claimed again by the next worker looking for work and counts as
//!   an interruption;
//! - every write a worker makes for a job it claimed names the claim's token, so a
//!   worker that lost its lease (frozen, partitioned) gets [`StoreError::LeaseLost`]
//!   and writes nothing;
//! - package locks are rows held by a claim, free once the claim's lease expired;
//! - package-set jobs are claimed one at a time registry-wide;
//! - log timestamps are made strictly increasing per job here, since a re-run on
//!   another machine starts a new log writer with another clock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use registry_core::job::{Job, JobType, LogLevel, LogLine};
use registry_core::json::{self, Codec};
use registry_core::operation::{AuthenticatedData, AuthenticatedOperation};
use registry_core::{PackageName, Timestamp, Version};
use tokio_postgres::{Client, GenericClient, NoTls, Row};

use crate::rows::{
    JobRow, corrupt, decode_job_row, order_sql, parse_ts, payload_hash, signed_payload, table, ts_param,
};
use crate::{
    Enqueued, JobStore, JobsQuery, LogsQuery, MATRIX_PROGRESS_SELECT, MatrixProgress, MatrixRecord, NewJob,
    Order, PAGE_SIZE, RecordOutcome, ResetReport, StoreError,
};

const MIGRATIONS: &[(&str, &str)] = &[
    ("20261205000000", include_str!("../migrations-postgres/20261205000000_create_job_queue_tables.sql")),
    ("20261206000000", include_str!("../migrations-postgres/20261206000000_batch_matrix_records.sql")),
];

/// The `package_locks` row that makes one worker at a time the writer of the pending
/// matrix results (not a package name: those never contain `*`).
const MATRIX_WRITER_LOCK: &str = "*matrix-records*";

/// Connections kept per process; more concurrent calls wait for one.
const CONNECTIONS: usize = 4;

/// Any constant: the key of the transaction-level advisory locks that serialize
/// migrations and package-set claims (released at commit, so never held by a frozen
/// process).
const MIGRATION_LOCK: i64 = 0x0070_7572_736d_6967; // "pursmig"
const PACKAGE_SET_CLAIM_LOCK: i64 = 0x0070_7572_7373_6574; // "purset"

/// How a worker holds its claims.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Names this worker in `leaseOwner`. Unique per running worker: a worker starting
    /// under an id recovers at once the jobs claimed under it.
    pub worker_id: String,
    /// How long a claim lasts unless renewed.
    pub lease: Duration,
    /// An interrupted job reaching this many interruptions is failed, not run again.
    pub max_interruptions: u32,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            worker_id: format!("worker-{}", uuid::Uuid::new_v4()),
            lease: Duration::from_secs(30),
            max_interruptions: 3,
        }
    }
}

/// The Postgres job store. Cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    options: PostgresOptions,
    idle: Mutex<Vec<Client>>,
    permits: tokio::sync::Semaphore,
    /// This process's claims: job id → claim token, until the job is finished or
    /// requeued here (a lost claim stays, so the job's writes keep being refused).
    claims: Mutex<HashMap<String, String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A pooled connection, returned to the pool when dropped unless it broke.
struct Conn<'a> {
    client: Option<Client>,
    inner: &'a Inner,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !client.is_closed()
        {
            lock(&self.inner.idle).push(client);
        }
    }
}

impl std::ops::Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("a pooled connection is present until dropped")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("a pooled connection is present until dropped")
    }
}

async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            eprintln!("Postgres connection closed: {err}");
        }
    });
    Ok(client)
}

fn lease_seconds(options: &PostgresOptions) -> f64 {
    options.lease.as_secs_f64()
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and applies
    /// pending migrations.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        if options.lease < Duration::from_secs(1) {
            return Err(StoreError::Invalid("the lease must be at least one second".into()));
        }
        let mut client = connect(url).await?;
        migrate(&mut client).await?;
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                options,
                idle: Mutex::new(vec![client]),
                permits: tokio::sync::Semaphore::new(CONNECTIONS),
                claims: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn options(&self) -> &PostgresOptions {
        &self.inner.options
    }

    async fn conn(&self) -> Result<Conn<'_>, StoreError> {
        let permit = self.inner.permits.acquire().await.map_err(|e| StoreError::Task(e.to_string()))?;
        let pooled = lock(&self.inner.idle).pop();
        let client = match pooled {
            Some(client) => client,
            None => connect(&self.inner.url).await?,
        };
        Ok(Conn { client: Some(client), inner: &self.inner, _permit: permit })
    }

    fn claim_of(&self, job_id: &str) -> Option<String> {
        lock(&self.inner.claims).get(job_id).cloned()
    }

    fn forget_claim(&self, job_id: &str) {
        lock(&self.inner.claims).remove(job_id);
    }
}

async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    // Workers starting together migrate one after the other.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) PRIMARY KEY)")
        .await?;
    for (version, sql) in MIGRATIONS {
        let done = tx.query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[version]).await?;
        if done.is_none() {
            let after_up = sql.split_once("-- migrate:up").map_or(*sql, |(_, rest)| rest);
            let up = after_up.split_once("-- migrate:down").map_or(after_up, |(up, _)| up);
            tx.batch_execute(up).await?;
            tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[version]).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

const JOB_SELECT: &str = "SELECT j.jobId, j.createdAt, j.startedAt, j.finishedAt, j.success, \
     p.packageName, p.packageVersion, p.payload, \
     u.packageName, u.packageVersion, u.payload, \
     t.packageName, t.payload, \
     m.packageName, m.packageVersion, m.compilerVersion, m.payload, \
     s.payload \
     FROM job_info j \
     LEFT JOIN publish_jobs p ON p.jobId = j.jobId \
     LEFT JOIN unpublish_jobs u ON u.jobId = j.jobId \
     LEFT JOIN transfer_jobs t ON t.jobId = j.jobId \
     LEFT JOIN matrix_jobs m ON m.jobId = j.jobId \
     LEFT JOIN package_set_jobs s ON s.jobId = j.jobId";

fn job_row(row: &Row) -> JobRow {
    let mut kind_columns: [Option<String>; 13] = Default::default();
    for (i, column) in kind_columns.iter_mut().enumerate() {
        *column = row.get(5 + i);
    }
    JobRow {
        job_id: row.get(0),
        created_at: row.get(1),
        started_at: row.get(2),
        finished_at: row.get(3),
        success: row.get::<_, i32>(4) != 0,
        kind_columns,
    }
}

async fn load_job(
    client: &impl GenericClient,
    job_id: &str,
) -> Result<Option<(registry_core::job::JobInfo, registry_core::job::JobDetails)>, StoreError> {
    let row = client.query_opt(&format!("{JOB_SELECT} WHERE j.jobId = $1"), &[&job_id]).await?;
    row.map(|r| decode_job_row(job_row(&r))).transpose()
}

/// See the SQLite store's `find_duplicate`: the same rules.
async fn find_duplicate(client: &impl GenericClient, job: &NewJob) -> Result<Option<String>, StoreError> {
    let order = "ORDER BY j.createdAt, j.seq LIMIT 1";
    let row = match job {
        NewJob::Publish(p) => {
            client
                .query_opt(
                    &format!(
                        "SELECT j.jobId FROM publish_jobs k JOIN job_info j ON j.jobId = k.jobId \
                 WHERE k.packageName = $1 AND k.packageVersion = $2 AND j.finishedAt IS NULL {order}"
                    ),
                    &[&p.name.as_str(), &p.version.to_string()],
                )
                .await?
        }
        NewJob::Unpublish(a) => {
            let AuthenticatedOperation::Unpublish(u) = &a.operation else { return Ok(None) };
            client
                .query_opt(
                    &format!(
                        "SELECT j.jobId FROM unpublish_jobs k JOIN job_info j ON j.jobId = k.jobId \
                 WHERE k.packageName = $1 AND k.packageVersion = $2 AND (j.finishedAt IS NULL OR j.success = 1) {order}"
                    ),
                    &[&u.name.as_str(), &u.version.to_string()],
                )
                .await?
        }
        NewJob::Transfer(a) => {
            client
                .query_opt(
                    &format!(
                        "SELECT j.jobId FROM transfer_jobs k JOIN job_info j ON j.jobId = k.jobId \
                 WHERE k.packageName = $1 AND j.finishedAt IS NULL {order}"
                    ),
                    &[&a.operation.package_name().as_str()],
                )
                .await?
        }
        NewJob::Matrix { package_name, package_version, compiler_version, .. } => {
            client
                .query_opt(
                    &format!(
                        "SELECT j.jobId FROM matrix_jobs k JOIN job_info j ON j.jobId = k.jobId \
                 WHERE k.packageName = $1 AND k.packageVersion = $2 AND k.compilerVersion = $3 {order}"
                    ),
                    &[&package_name.as_str(), &package_version.to_string(), &compiler_version.to_string()],
                )
                .await?
        }
        NewJob::PackageSet(request) => {
            client
                .query_opt(
                    &format!(
                        "SELECT j.jobId FROM package_set_jobs k JOIN job_info j ON j.jobId = k.jobId \
                 WHERE k.payload = $1 AND j.finishedAt IS NULL {order}"
                    ),
                    &[&request.update.canonical()],
                )
                .await?
        }
    };
    Ok(row.map(|r| r.get(0)))
}

async fn signature_user(
    client: &impl GenericClient,
    data: &AuthenticatedData,
    except: &str,
) -> Result<Option<String>, StoreError> {
    let row = client
        .query_opt(
            "SELECT u.jobId FROM used_signatures u JOIN job_info j ON j.jobId = u.jobId \
             WHERE u.payloadHash = $1 AND u.jobId != $2 AND (j.finishedAt IS NULL OR j.success = 1)",
            &[&payload_hash(data), &except],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

async fn insert_kind_row(client: &impl GenericClient, job_id: &str, job: &NewJob) -> Result<(), StoreError> {
    match job {
        NewJob::Publish(p) => {
            client
                .execute(
                    "INSERT INTO publish_jobs (jobId, packageName, packageVersion, payload) VALUES ($1, $2, $3, $4)",
                    &[&job_id, &p.name.as_str(), &p.version.to_string(), &p.to_compact()],
                )
                .await?;
        }
        NewJob::Unpublish(a) => {
            let AuthenticatedOperation::Unpublish(u) = &a.operation else {
                return Err(StoreError::Invalid("an unpublish job needs an unpublish payload".into()));
            };
            client
                .execute(
                    "INSERT INTO unpublish_jobs (jobId, packageName, packageVersion, payload) VALUES ($1, $2, $3, $4)",
                    &[&job_id, &u.name.as_str(), &u.version.to_string(), &a.to_compact()],
                )
                .await?;
        }
        NewJob::Transfer(a) => {
            let AuthenticatedOperation::Transfer(t) = &a.operation else {
                return Err(StoreError::Invalid("a transfer job needs a transfer payload".into()));
            };
            client
                .execute(
                    "INSERT INTO transfer_jobs (jobId, packageName, payload) VALUES ($1, $2, $3)",
                    &[&job_id, &t.name.as_str(), &a.to_compact()],
                )
                .await?;
        }
        NewJob::Matrix { package_name, package_version, compiler_version, build_plan } => {
            let plan = json::print_compact(&json::Value::Object(
                build_plan.iter().map(|(n, v)| (n.to_string(), v.encode())).collect(),
            ));
            client
                .execute(
                    "INSERT INTO matrix_jobs (jobId, packageName, packageVersion, compilerVersion, payload) \
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &job_id,
                        &package_name.as_str(),
                        &package_version.to_string(),
                        &compiler_version.to_string(),
                        &plan,
                    ],
                )
                .await?;
        }
        NewJob::PackageSet(request) => {
            client
                .execute(
                    "INSERT INTO package_set_jobs (jobId, payload, rawPayload, signature) VALUES ($1, $2, $3, $4)",
                    &[&job_id, &request.update.canonical(), &request.raw_payload, &request.signature],
                )
                .await?;
        }
    }
    Ok(())
}

/// Inserts `line`, moved after the job's last line if its clock is behind (another
/// worker ran the job before, or lines of one millisecond).
async fn insert_log(client: &impl GenericClient, line: &LogLine) -> Result<(), StoreError> {
    let last: Option<String> =
        client.query_one("SELECT max(timestamp) FROM logs WHERE jobId = $1", &[&line.job_id]).await?.get(0);
    let mut timestamp = line.timestamp;
    if let Some(last) = last {
        let last = parse_ts(&line.job_id, &last)?;
        if timestamp <= last {
            timestamp = last.plus_millis(1);
        }
    }
    client
        .execute(
            "INSERT INTO logs (jobId, level, message, timestamp) VALUES ($1, $2, $3, $4)",
            &[&line.job_id, &line.level.priority(), &line.message, &ts_param(timestamp)],
        )
        .await?;
    Ok(())
}

/// Interrupted jobs — started, unfinished, and either their lease expired or they
/// were claimed under `owner` (this worker, starting again) — are queued again or, at
/// `max_resets` interruptions, failed.
async fn reset_expired(
    client: &mut Client,
    max_resets: u32,
    now: Timestamp,
    owner: Option<&str>,
) -> Result<ResetReport, StoreError> {
    let tx = client.transaction().await?;
    let interrupted = tx
        .query(
            "SELECT jobId, resetCount FROM job_info \
             WHERE startedAt IS NOT NULL AND finishedAt IS NULL \
             AND (leaseExpires IS NULL OR leaseExpires < clock_timestamp() OR leaseOwner = $1) \
             ORDER BY createdAt, seq FOR UPDATE SKIP LOCKED",
            &[&owner],
        )
        .await?;
    let mut report = ResetReport::default();
    for row in interrupted {
        let (job_id, count): (String, i32) = (row.get(0), row.get(1));
        let count = count + 1;
        if count >= max_resets as i32 {
            tx.execute(
                "UPDATE job_info SET resetCount = $2, finishedAt = $3, success = 0, claimToken = NULL, \
                 leaseExpires = NULL WHERE jobId = $1",
                &[&job_id, &count, &ts_param(now)],
            )
            .await?;
            let message = format!(
                "This job was interrupted {count} times: the worker running it stopped (crashed, was killed or \
                 lost its lease) while it was running. It is failed instead of being retried, because it may be \
                 what brings workers down. Submit it again once the cause is fixed."
            );
            insert_log(
                &tx,
                &LogLine { job_id: job_id.clone(), level: LogLevel::Error, message, timestamp: now },
            )
            .await?;
            report.quarantined.push(job_id);
        } else {
            tx.execute(
                "UPDATE job_info SET resetCount = $2, startedAt = NULL, claimToken = NULL, leaseOwner = NULL, \
                 leaseExpires = NULL WHERE jobId = $1",
                &[&job_id, &count],
            )
            .await?;
            let message = format!(
                "The server stopped while this job was running; it will run again \
                 (interruption {count}; at {max_resets} the job is failed instead). The server or worker \
                 running it died, was stopped, or lost its lease."
            );
            insert_log(
                &tx,
                &LogLine { job_id: job_id.clone(), level: LogLevel::Warn, message, timestamp: now },
            )
            .await?;
            report.reset.push(job_id);
        }
    }
    tx.commit().await?;
    Ok(report)
}

#[async_trait]
impl JobStore for PostgresStore {
    async fn enqueue(&self, job: NewJob, now: Timestamp) -> Result<Enqueued, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        // Duplicate checks and the insert must not interleave with another enqueue of
        // the same request from another API process: one enqueue at a time.
        tx.execute("LOCK TABLE job_info IN SHARE ROW EXCLUSIVE MODE", &[]).await?;
        if let Some(job_id) = find_duplicate(&tx, &job).await? {
            return Ok(Enqueued { job_id, duplicate: true });
        }
        if let Some(data) = signed_payload(&job)
            && let Some(job_id) = signature_user(&tx, data, "").await?
        {
            return Err(StoreError::SignatureUsed { job_id });
        }
        let job_id = uuid::Uuid::new_v4().to_string();
        tx.execute(
            "INSERT INTO job_info (jobId, createdAt, startedAt, finishedAt, success) VALUES ($1, $2, NULL, NULL, 0)",
            &[&job_id, &ts_param(now)],
        )
        .await?;
        insert_kind_row(&tx, &job_id, &job).await?;
        tx.commit().await?;
        Ok(Enqueued { job_id, duplicate: false })
    }

    async fn use_signature(
        &self,
        data: &AuthenticatedData,
        job_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        tx.execute("LOCK TABLE used_signatures IN SHARE ROW EXCLUSIVE MODE", &[]).await?;
        if let Some(other) = signature_user(&tx, data, job_id).await? {
            return Err(StoreError::SignatureUsed { job_id: other });
        }
        tx.execute(
            "INSERT INTO used_signatures (payloadHash, signature, jobId, usedAt) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (payloadHash) DO UPDATE SET signature = excluded.signature, jobId = excluded.jobId, \
             usedAt = excluded.usedAt",
            &[&payload_hash(data), &data.signature, &job_id, &ts_param(now)],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn claim_next(&self, kinds: &[JobType], now: Timestamp) -> Result<Option<Job>, StoreError> {
        let mut conn = self.conn().await?;
        // Jobs whose worker vanished become claimable again first.
        // (A claim of this process among them stays known, so its writes stay fenced.)
        reset_expired(&mut conn, self.inner.options.max_interruptions, now, None).await?;
        let tx = conn.transaction().await?;
        for kind in kinds {
            if *kind == JobType::PackageSet {
                // One package-set job at a time, registry-wide.
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PACKAGE_SET_CLAIM_LOCK]).await?;
                let running = tx
                    .query_opt(
                        "SELECT 1 FROM job_info j JOIN package_set_jobs k ON k.jobId = j.jobId \
                         WHERE j.startedAt IS NOT NULL AND j.finishedAt IS NULL LIMIT 1",
                        &[],
                    )
                    .await?;
                if running.is_some() {
                    continue;
                }
            }
            let token = uuid::Uuid::new_v4().to_string();
            let claimed = tx
                .query_opt(
                    &format!(
                        "WITH next AS (SELECT j.jobId FROM job_info j JOIN {} k ON k.jobId = j.jobId \
                         WHERE j.startedAt IS NULL AND j.finishedAt IS NULL ORDER BY j.createdAt, j.seq \
                         LIMIT 1 FOR UPDATE OF j SKIP LOCKED) \
                         UPDATE job_info SET startedAt = $1, claimToken = $2, leaseOwner = $3, \
                         leaseExpires = clock_timestamp() + make_interval(secs => $4) \
                         FROM next WHERE job_info.jobId = next.jobId RETURNING job_info.jobId",
                        table(*kind)
                    ),
                    &[
                        &ts_param(now),
                        &token,
                        &self.inner.options.worker_id,
                        &lease_seconds(&self.inner.options),
                    ],
                )
                .await?;
            let Some(row) = claimed else { continue };
            let job_id: String = row.get(0);
            match load_job(&tx, &job_id).await {
                Ok(Some((info, details))) => {
                    tx.commit().await?;
                    lock(&self.inner.claims).insert(job_id, token);
                    return Ok(Some(Job { info, details, logs: Vec::new() }));
                }
                Ok(None) => unreachable!("the job was just updated in this transaction"),
                Err(err) => {
                    // A row that cannot be decoded would be claimed forever: fail it.
                    tx.execute(
                        "UPDATE job_info SET finishedAt = $2, success = 0 WHERE jobId = $1",
                        &[&job_id, &ts_param(now)],
                    )
                    .await?;
                    tx.commit().await?;
                    return Err(err);
                }
            }
        }
        tx.commit().await?;
        Ok(None)
    }

    async fn append_logs(&self, lines: &[LogLine]) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let mut checked: Vec<&str> = Vec::new();
        for line in lines {
            if !checked.contains(&line.job_id.as_str()) {
                // Serializes writers of one job's log (their timestamps are compared),
                // and a worker that lost its claim adds nothing.
                let row = tx
                    .query_opt("SELECT claimToken FROM job_info WHERE jobId = $1 FOR UPDATE", &[&line.job_id])
                    .await?;
                if let (Some(ours), Some(row)) = (self.claim_of(&line.job_id), row)
                    && row.get::<_, Option<String>>(0).as_deref() != Some(ours.as_str())
                {
                    return Err(StoreError::LeaseLost { job_id: line.job_id.clone() });
                }
                checked.push(&line.job_id);
            }
            insert_log(&tx, line).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn finish(&self, job_id: &str, success: bool, now: Timestamp) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let claim = self.claim_of(job_id);
        let updated = conn
            .execute(
                "UPDATE job_info SET finishedAt = $2, success = $3, leaseExpires = NULL \
                 WHERE jobId = $1 AND finishedAt IS NULL AND ($4::text IS NULL OR claimToken = $4)",
                &[&job_id, &ts_param(now), &(success as i32), &claim],
            )
            .await?;
        self.forget_claim(job_id);
        if updated == 0 && claim.is_some() {
            return Err(StoreError::LeaseLost { job_id: job_id.to_owned() });
        }
        Ok(())
    }

    async fn requeue(&self, job_id: &str) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let claim = self.claim_of(job_id);
        conn.execute(
            "UPDATE job_info SET startedAt = NULL, claimToken = NULL, leaseOwner = NULL, leaseExpires = NULL \
             WHERE jobId = $1 AND finishedAt IS NULL AND ($2::text IS NULL OR claimToken = $2)",
            &[&job_id, &claim],
        )
        .await?;
        self.forget_claim(job_id);
        Ok(())
    }

    /// Jobs whose lease expired, and this worker's own (a worker restarted under the
    /// same `worker_id` recovers its jobs without waiting for their leases); other
    /// workers' running jobs are left alone.
    async fn reset_interrupted(&self, max_resets: u32, now: Timestamp) -> Result<ResetReport, StoreError> {
        let mut conn = self.conn().await?;
        reset_expired(&mut conn, max_resets, now, Some(&self.inner.options.worker_id)).await
    }

    async fn job(&self, job_id: &str, logs: &LogsQuery) -> Result<Option<Job>, StoreError> {
        let conn = self.conn().await?;
        let Some((info, details)) = load_job(&*conn, job_id).await? else { return Ok(None) };
        let rows = conn
            .query(
                &format!(
                    "SELECT level, message, timestamp FROM logs \
                     WHERE jobId = $1 AND level >= $2 AND timestamp >= $3 AND timestamp < $4 \
                     ORDER BY timestamp {order}, id {order} LIMIT {PAGE_SIZE}",
                    order = order_sql(logs.order)
                ),
                &[&job_id, &logs.level.priority(), &ts_param(logs.since), &ts_param(logs.until)],
            )
            .await?;
        let mut lines = Vec::new();
        for row in rows {
            let (level, message, timestamp): (i64, String, String) = (row.get(0), row.get(1), row.get(2));
            lines.push(LogLine {
                job_id: job_id.to_owned(),
                level: LogLevel::from_priority(level).map_err(|e| corrupt(job_id, "log level", e))?,
                message,
                timestamp: parse_ts(job_id, &timestamp)?,
            });
        }
        Ok(Some(Job { info, details, logs: lines }))
    }

    async fn jobs(&self, query: &JobsQuery) -> Result<(Vec<Job>, Vec<StoreError>), StoreError> {
        let conn = self.conn().await?;
        let completed = if query.include_completed { "" } else { "AND j.finishedAt IS NULL" };
        let order = order_sql(query.order);
        let rows = conn
            .query(
                &format!(
                    "{JOB_SELECT} WHERE j.createdAt >= $1 AND j.createdAt < $2 {completed} \
                     ORDER BY j.createdAt {order}, j.seq {order} LIMIT {PAGE_SIZE}"
                ),
                &[&ts_param(query.since), &ts_param(query.until)],
            )
            .await?;
        let mut jobs = Vec::new();
        let mut skipped = Vec::new();
        for row in rows {
            match decode_job_row(job_row(&row)) {
                Ok((info, details)) => jobs.push(Job { info, details, logs: Vec::new() }),
                Err(err) => skipped.push(err),
            }
        }
        // Same order as the SQLite store: by creation, stable.
        jobs.sort_by_key(|job| job.info.created_at);
        if query.order == Order::Desc {
            jobs.reverse();
        }
        Ok((jobs, skipped))
    }

    async fn pending_counts(&self) -> Result<BTreeMap<JobType, usize>, StoreError> {
        let conn = self.conn().await?;
        let mut counts = BTreeMap::new();
        for kind in JobType::ALL {
            let n: i64 = conn
                .query_one(
                    &format!(
                        "SELECT count(*) FROM job_info j JOIN {} k ON k.jobId = j.jobId WHERE j.finishedAt IS NULL",
                        table(kind)
                    ),
                    &[],
                )
                .await?
                .get(0);
            counts.insert(kind, n as usize);
        }
        Ok(counts)
    }

    async fn matrix_progress(&self, compiler: &Version) -> Result<MatrixProgress, StoreError> {
        let conn = self.conn().await?;
        let row = conn.query_one(&format!("{MATRIX_PROGRESS_SELECT}$1"), &[&compiler.to_string()]).await?;
        let n = |i: usize| row.get::<_, i64>(i) as usize;
        Ok(MatrixProgress { succeeded: n(0), failed: n(1), pending: n(2), running: n(3) })
    }

    fn lease(&self) -> Option<Duration> {
        Some(self.inner.options.lease)
    }

    async fn renew_lease(&self, job_id: &str) -> Result<(), StoreError> {
        let lost = || StoreError::LeaseLost { job_id: job_id.to_owned() };
        let claim = self.claim_of(job_id).ok_or_else(lost)?;
        let conn = self.conn().await?;
        // An expired lease is lost even if nobody claimed the job yet: whatever this
        // worker did after the expiry was not covered.
        let renewed = conn
            .execute(
                "UPDATE job_info SET leaseExpires = clock_timestamp() + make_interval(secs => $3) \
                 WHERE jobId = $1 AND claimToken = $2 AND finishedAt IS NULL AND leaseExpires > clock_timestamp()",
                &[&job_id, &claim, &lease_seconds(&self.inner.options)],
            )
            .await?;
        if renewed == 0 {
            // The claim stays known until the job ends, so its later writes are refused.
            return Err(lost());
        }
        Ok(())
    }

    fn shares_package_locks(&self) -> bool {
        true
    }

    async fn try_lock_package(&self, package: &PackageName, job_id: &str) -> Result<bool, StoreError> {
        let claim =
            self.claim_of(job_id).ok_or_else(|| StoreError::LeaseLost { job_id: job_id.to_owned() })?;
        let conn = self.conn().await?;
        take_lock(&*conn, package.as_str(), &claim).await
    }

    async fn unlock_package(&self, package: &PackageName, job_id: &str) -> Result<(), StoreError> {
        let Some(claim) = self.claim_of(job_id) else { return Ok(()) };
        let conn = self.conn().await?;
        conn.execute(
            "DELETE FROM package_locks WHERE packageName = $1 AND holder = $2",
            &[&package.as_str(), &claim],
        )
        .await?;
        Ok(())
    }

    fn batches_matrix_records(&self) -> bool {
        true
    }

    async fn file_matrix_record(&self, record: &MatrixRecord) -> Result<(), StoreError> {
        let lost = || StoreError::LeaseLost { job_id: record.job_id.clone() };
        let claim = self.claim_of(&record.job_id).ok_or_else(lost)?;
        let conn = self.conn().await?;
        let filed = conn
            .execute(
                "INSERT INTO matrix_records (jobId, holder, packageName, packageVersion, compilerVersion) \
                 SELECT $1, $2, $3, $4, $5 WHERE EXISTS (\
                   SELECT 1 FROM job_info j WHERE j.jobId = $1 AND j.claimToken = $2 \
                   AND j.finishedAt IS NULL AND j.leaseExpires > clock_timestamp()) \
                 ON CONFLICT (jobId) DO UPDATE SET holder = excluded.holder, packageName = excluded.packageName, \
                   packageVersion = excluded.packageVersion, compilerVersion = excluded.compilerVersion, \
                   filedAt = clock_timestamp(), written = NULL, outcome = NULL",
                &[
                    &record.job_id,
                    &claim,
                    &record.package.as_str(),
                    &record.version.to_string(),
                    &record.compiler.to_string(),
                ],
            )
            .await?;
        if filed == 0 {
            return Err(lost());
        }
        Ok(())
    }

    async fn take_matrix_records(
        &self,
        job_id: &str,
        limit: usize,
    ) -> Result<Option<Vec<MatrixRecord>>, StoreError> {
        let claim =
            self.claim_of(job_id).ok_or_else(|| StoreError::LeaseLost { job_id: job_id.to_owned() })?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        if !take_lock(&tx, MATRIX_WRITER_LOCK, &claim).await? {
            return Ok(None);
        }
        // Filings whose run ended or lost its claim go: a run again files anew.
        tx.execute(
            "DELETE FROM matrix_records r WHERE r.outcome IS NULL AND NOT EXISTS (\
               SELECT 1 FROM job_info j WHERE j.jobId = r.jobId AND j.claimToken = r.holder \
               AND j.finishedAt IS NULL AND j.leaseExpires > clock_timestamp())",
            &[],
        )
        .await?;
        let rows = tx
            .query(
                "SELECT jobId, packageName, packageVersion, compilerVersion FROM matrix_records \
                 WHERE outcome IS NULL ORDER BY filedAt, jobId LIMIT $1",
                &[&(limit as i64)],
            )
            .await?;
        tx.commit().await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let job_id: String = row.get(0);
            let package = PackageName::parse(row.get::<_, &str>(1))
                .map_err(|e| corrupt(&job_id, "matrix_records.packageName", e))?;
            let version = Version::parse(row.get::<_, &str>(2))
                .map_err(|e| corrupt(&job_id, "matrix_records.packageVersion", e))?;
            let compiler = Version::parse(row.get::<_, &str>(3))
                .map_err(|e| corrupt(&job_id, "matrix_records.compilerVersion", e))?;
            records.push(MatrixRecord { job_id, package, version, compiler });
        }
        Ok(Some(records))
    }

    async fn settle_matrix_records(
        &self,
        job_id: &str,
        outcomes: &[(String, RecordOutcome)],
    ) -> Result<(), StoreError> {
        let claim =
            self.claim_of(job_id).ok_or_else(|| StoreError::LeaseLost { job_id: job_id.to_owned() })?;
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        for (record, outcome) in outcomes {
            tx.execute(
                "UPDATE matrix_records SET written = $2, outcome = $3 WHERE jobId = $1",
                &[record, &outcome.written, &outcome.message],
            )
            .await?;
        }
        tx.execute(
            "DELETE FROM package_locks WHERE packageName = $1 AND holder = $2",
            &[&MATRIX_WRITER_LOCK, &claim],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn matrix_record_outcome(&self, job_id: &str) -> Result<Option<RecordOutcome>, StoreError> {
        let claim =
            self.claim_of(job_id).ok_or_else(|| StoreError::LeaseLost { job_id: job_id.to_owned() })?;
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "DELETE FROM matrix_records WHERE jobId = $1 AND holder = $2 AND outcome IS NOT NULL \
                 RETURNING written, outcome",
                &[&job_id, &claim],
            )
            .await?;
        Ok(row.map(|row| RecordOutcome {
            written: row.get::<_, Option<bool>>(0).unwrap_or(false),
            message: row.get(1),
        }))
    }
}

/// Takes the `package_locks` row `name` for `claim` when it is free, already the
/// claim's, or held by a claim that is no longer live.
async fn take_lock(conn: &impl GenericClient, name: &str, claim: &str) -> Result<bool, StoreError> {
    let taken = conn
        .query_opt(
            "INSERT INTO package_locks (packageName, holder) VALUES ($1, $2) \
             ON CONFLICT (packageName) DO UPDATE SET holder = excluded.holder \
             WHERE package_locks.holder = excluded.holder OR NOT EXISTS (\
               SELECT 1 FROM job_info j WHERE j.claimToken = package_locks.holder \
               AND j.finishedAt IS NULL AND j.leaseExpires > clock_timestamp()) \
             RETURNING holder",
            &[&name, &claim],
        )
        .await?;
    Ok(taken.is_some())
}
