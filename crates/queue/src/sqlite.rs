//! [`JobStore`] over SQLite, with upstream's tables.
//!
//! One writer connection (SQLite allows one writer at a time anyway) behind a mutex,
//! and a small pool of reader connections so API reads never wait for the executor.
//! WAL journaling lets readers run while a write is in progress. Every call runs on
//! tokio's blocking pool: rusqlite is synchronous.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use registry_core::job::{Job, JobDetails, JobInfo, JobType, LogLevel, LogLine};
use registry_core::json::{self, Codec};
use registry_core::operation::{AuthenticatedData, AuthenticatedOperation};
use registry_core::{Timestamp, Version};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use std::collections::BTreeMap;

use crate::rows::{
    JobRow, corrupt, decode_job_row, order_sql, parse_ts, payload_hash, signed_payload, table, ts_param,
};
use crate::{
    Enqueued, JobStore, JobsQuery, LogsQuery, MATRIX_PROGRESS_SELECT, MatrixProgress, NewJob, Order,
    PAGE_SIZE, ResetReport, StoreError,
};

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Reader connections; reads beyond this many wait for a free one instead of
/// opening (and parsing the schema for) a new connection each time.
const READERS: usize = 4;

/// The SQLite job store. Cheap to clone (shared connections).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    /// Bumped after every write returns (committed or not), so an answer read while
    /// the generation was `g` is still current while it is `g`.
    generation: std::sync::atomic::AtomicU64,
    readers: Mutex<Vec<Connection>>,
    reader_permits: tokio::sync::Semaphore,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Without the query planner stability guarantee, SQLite (built with STAT4)
    // re-prepares a cached statement whenever a bound parameter might change the use
    // of the partial pending-jobs index: a full parse on every API read.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// A mutex whose holder panicked is still usable: every transaction either committed
/// or rolled back when its guard was dropped.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = Connection::open(path)?;
        let mode: String = writer.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Invalid(format!(
                "{} could not be switched to WAL journaling (got '{mode}'); is it on a network file system?",
                path.display()
            )));
        }
        configure(&writer)?;
        crate::migrate::migrate(&mut writer)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                generation: std::sync::atomic::AtomicU64::new(0),
                readers: Mutex::new(Vec::new()),
                reader_permits: tokio::sync::Semaphore::new(READERS),
            }),
        })
    }

    /// The migrations applied to a database, oldest first (for `registry init`).
    pub fn applied_migrations(&self) -> Result<Vec<String>, StoreError> {
        let conn = lock(&self.inner.writer);
        let mut stmt = conn.prepare("SELECT version FROM schema_migrations ORDER BY version")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let result = f(&mut lock(&inner.writer));
            inner.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        let _permit =
            self.inner.reader_permits.acquire().await.map_err(|e| StoreError::Task(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let conn = match lock(&inner.readers).pop() {
                Some(conn) => conn,
                None => {
                    let conn = Connection::open_with_flags(
                        &inner.path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    configure(&conn)?;
                    conn
                }
            };
            let result = f(&conn);
            lock(&inner.readers).push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// Duplicate rules, per kind. A job that failed never blocks a new submission of
/// the same request (except matrix jobs, which upstream never re-queues); pending
/// and running ones always do. A finished successful publish does not block either:
/// a new job for a published version repairs its missing documentation, or says
/// that the version and its documentation are already there (upstream's publish
/// does both). A successful unpublish of one version blocks for good.
fn find_duplicate(conn: &Connection, job: &NewJob) -> rusqlite::Result<Option<String>> {
    let order = "ORDER BY j.createdAt, j.rowid LIMIT 1";
    match job {
        NewJob::Publish(p) => conn
            .prepare_cached(&format!(
                "SELECT j.jobId FROM publish_jobs k JOIN job_info j ON j.jobId = k.jobId \
                 WHERE k.packageName = ?1 AND k.packageVersion = ?2 AND j.finishedAt IS NULL {order}"
            ))?
            .query_row(params![p.name.as_str(), p.version.to_string()], |r| r.get(0))
            .optional(),
        NewJob::Unpublish(a) => {
            let AuthenticatedOperation::Unpublish(u) = &a.operation else { return Ok(None) };
            conn.prepare_cached(&format!(
                "SELECT j.jobId FROM unpublish_jobs k JOIN job_info j ON j.jobId = k.jobId \
                 WHERE k.packageName = ?1 AND k.packageVersion = ?2 AND (j.finishedAt IS NULL OR j.success = 1) {order}"
            ))?
            .query_row(params![u.name.as_str(), u.version.to_string()], |r| r.get(0))
            .optional()
        }
        // A package may move again later, so only an unfinished transfer blocks.
        NewJob::Transfer(a) => conn
            .prepare_cached(&format!(
                "SELECT j.jobId FROM transfer_jobs k JOIN job_info j ON j.jobId = k.jobId \
                 WHERE k.packageName = ?1 AND j.finishedAt IS NULL {order}"
            ))?
            .query_row(params![a.operation.package_name().as_str()], |r| r.get(0))
            .optional(),
        NewJob::Matrix { package_name, package_version, compiler_version, .. } => conn
            .prepare_cached(&format!(
                "SELECT j.jobId FROM matrix_jobs k JOIN job_info j ON j.jobId = k.jobId \
                 WHERE k.packageName = ?1 AND k.packageVersion = ?2 AND k.compilerVersion = ?3 {order}"
            ))?
            .query_row(
                params![package_name.as_str(), package_version.to_string(), compiler_version.to_string()],
                |r| r.get(0),
            )
            .optional(),
        NewJob::PackageSet(request) => conn
            .prepare_cached(&format!(
                "SELECT j.jobId FROM package_set_jobs k JOIN job_info j ON j.jobId = k.jobId \
                 WHERE k.payload = ?1 AND j.finishedAt IS NULL {order}"
            ))?
            .query_row(params![request.update.canonical()], |r| r.get(0))
            .optional(),
    }
}

/// The job other than `except` that used `data`'s payload and has not failed.
fn signature_user(
    conn: &Connection,
    data: &AuthenticatedData,
    except: &str,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT u.jobId FROM used_signatures u JOIN job_info j ON j.jobId = u.jobId \
         WHERE u.payloadHash = ?1 AND u.jobId != ?2 AND (j.finishedAt IS NULL OR j.success = 1)",
    )?
    .query_row(params![payload_hash(data), except], |r| r.get(0))
    .optional()
}

fn insert_kind_row(conn: &Connection, job_id: &str, job: &NewJob) -> Result<(), StoreError> {
    match job {
        NewJob::Publish(p) => {
            conn.prepare_cached(
                "INSERT INTO publish_jobs (jobId, packageName, packageVersion, payload) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![job_id, p.name.as_str(), p.version.to_string(), p.to_compact()])?;
        }
        NewJob::Unpublish(a) => {
            let AuthenticatedOperation::Unpublish(u) = &a.operation else {
                return Err(StoreError::Invalid("an unpublish job needs an unpublish payload".into()));
            };
            conn.prepare_cached(
                "INSERT INTO unpublish_jobs (jobId, packageName, packageVersion, payload) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![job_id, u.name.as_str(), u.version.to_string(), a.to_compact()])?;
        }
        NewJob::Transfer(a) => {
            let AuthenticatedOperation::Transfer(t) = &a.operation else {
                return Err(StoreError::Invalid("a transfer job needs a transfer payload".into()));
            };
            conn.prepare_cached(
                "INSERT INTO transfer_jobs (jobId, packageName, payload) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![job_id, t.name.as_str(), a.to_compact()])?;
        }
        NewJob::Matrix { package_name, package_version, compiler_version, build_plan } => {
            let plan = json::print_compact(&json::Value::Object(
                build_plan.iter().map(|(n, v)| (n.to_string(), v.encode())).collect(),
            ));
            conn.prepare_cached(
                "INSERT INTO matrix_jobs (jobId, packageName, packageVersion, compilerVersion, payload) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                job_id,
                package_name.as_str(),
                package_version.to_string(),
                compiler_version.to_string(),
                plan
            ])?;
        }
        NewJob::PackageSet(request) => {
            conn.prepare_cached(
                "INSERT INTO package_set_jobs (jobId, payload, rawPayload, signature) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![job_id, request.update.canonical(), request.raw_payload, request.signature])?;
        }
    }
    Ok(())
}

/// Columns of `job_info` followed by every kind table's columns (all LEFT JOINed):
/// exactly one kind's columns are non-null for a well-formed job.
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

fn read_job_row(row: &Row<'_>) -> rusqlite::Result<JobRow> {
    let mut kind_columns: [Option<String>; 13] = Default::default();
    for (i, column) in kind_columns.iter_mut().enumerate() {
        *column = row.get(5 + i)?;
    }
    Ok(JobRow {
        job_id: row.get(0)?,
        created_at: row.get(1)?,
        started_at: row.get(2)?,
        finished_at: row.get(3)?,
        success: row.get::<_, i64>(4)? != 0,
        kind_columns,
    })
}

fn load_job(conn: &Connection, job_id: &str) -> Result<Option<(JobInfo, JobDetails)>, StoreError> {
    let row = conn
        .prepare_cached(&format!("{JOB_SELECT} WHERE j.jobId = ?1"))?
        .query_row(params![job_id], read_job_row)
        .optional()?;
    row.map(decode_job_row).transpose()
}

fn insert_log(conn: &Connection, line: &LogLine) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO logs (jobId, level, message, timestamp) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![line.job_id, line.level.priority(), line.message, ts_param(line.timestamp)])?;
    Ok(())
}

#[async_trait]
impl JobStore for SqliteStore {
    fn generation(&self) -> Option<u64> {
        Some(self.inner.generation.load(std::sync::atomic::Ordering::SeqCst))
    }

    async fn enqueue(&self, job: NewJob, now: Timestamp) -> Result<Enqueued, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(job_id) = find_duplicate(&tx, &job)? {
                return Ok(Enqueued { job_id, duplicate: true });
            }
            if let Some(data) = signed_payload(&job)
                && let Some(job_id) = signature_user(&tx, data, "")?
            {
                return Err(StoreError::SignatureUsed { job_id });
            }
            let job_id = uuid::Uuid::new_v4().to_string();
            tx.prepare_cached(
                "INSERT INTO job_info (jobId, createdAt, startedAt, finishedAt, success) VALUES (?1, ?2, NULL, NULL, 0)",
            )?
            .execute(params![job_id, ts_param(now)])?;
            insert_kind_row(&tx, &job_id, &job)?;
            tx.commit()?;
            Ok(Enqueued { job_id, duplicate: false })
        })
        .await
    }

    async fn use_signature(
        &self,
        data: &AuthenticatedData,
        job_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (data, job_id) = (data.clone(), job_id.to_owned());
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(other) = signature_user(&tx, &data, &job_id)? {
                return Err(StoreError::SignatureUsed { job_id: other });
            }
            // A row left by a job that failed is taken over.
            tx.prepare_cached(
                "INSERT INTO used_signatures (payloadHash, signature, jobId, usedAt) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (payloadHash) DO UPDATE SET signature = excluded.signature, jobId = excluded.jobId, \
                 usedAt = excluded.usedAt",
            )?
            .execute(params![payload_hash(&data), data.signature, job_id, ts_param(now)])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn claim_next(&self, kinds: &[JobType], now: Timestamp) -> Result<Option<Job>, StoreError> {
        let kinds = kinds.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for kind in kinds {
                let next: Option<String> = tx
                    .prepare_cached(&format!(
                        "SELECT j.jobId FROM job_info j JOIN {} k ON k.jobId = j.jobId \
                         WHERE j.startedAt IS NULL AND j.finishedAt IS NULL ORDER BY j.createdAt, j.rowid LIMIT 1",
                        table(kind)
                    ))?
                    .query_row([], |r| r.get(0))
                    .optional()?;
                let Some(job_id) = next else { continue };
                tx.prepare_cached("UPDATE job_info SET startedAt = ?2 WHERE jobId = ?1")?
                    .execute(params![job_id, ts_param(now)])?;
                let loaded = load_job(&tx, &job_id);
                let (info, details) = match loaded {
                    Ok(Some(found)) => found,
                    Ok(None) => return Err(corrupt(&job_id, "job", "vanished while being claimed")),
                    Err(err) => {
                        // An unreadable job would be picked again forever: fail it instead.
                        tx.prepare_cached("UPDATE job_info SET finishedAt = ?2, success = 0 WHERE jobId = ?1")?
                            .execute(params![job_id, ts_param(now)])?;
                        insert_log(
                            &tx,
                            &LogLine {
                                job_id: job_id.clone(),
                                level: LogLevel::Error,
                                message: format!("This job cannot be run because its stored data is invalid: {err}"),
                                timestamp: now,
                            },
                        )?;
                        tx.commit()?;
                        return Err(err);
                    }
                };
                tx.commit()?;
                return Ok(Some(Job { info, details, logs: Vec::new() }));
            }
            Ok(None)
        })
        .await
    }

    async fn append_logs(&self, lines: &[LogLine]) -> Result<(), StoreError> {
        let lines = lines.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            for line in &lines {
                insert_log(&tx, line)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn finish(&self, job_id: &str, success: bool, now: Timestamp) -> Result<(), StoreError> {
        let job_id = job_id.to_owned();
        self.write(move |conn| {
            conn.prepare_cached("UPDATE job_info SET finishedAt = ?2, success = ?3 WHERE jobId = ?1")?
                .execute(params![job_id, ts_param(now), success as i64])?;
            Ok(())
        })
        .await
    }

    async fn requeue(&self, job_id: &str) -> Result<(), StoreError> {
        let job_id = job_id.to_owned();
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE job_info SET startedAt = NULL WHERE jobId = ?1 AND finishedAt IS NULL",
            )?
            .execute(params![job_id])?;
            Ok(())
        })
        .await
    }

    async fn reset_interrupted(&self, max_resets: u32, now: Timestamp) -> Result<ResetReport, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let interrupted: Vec<(String, i64)> = tx
                .prepare(
                    "SELECT jobId, resetCount FROM job_info WHERE startedAt IS NOT NULL AND finishedAt IS NULL \
                     ORDER BY createdAt, rowid",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut report = ResetReport::default();
            for (job_id, count) in interrupted {
                let count = count + 1;
                if count >= i64::from(max_resets) {
                    tx.execute(
                        "UPDATE job_info SET resetCount = ?2, finishedAt = ?3, success = 0 WHERE jobId = ?1",
                        params![job_id, count, ts_param(now)],
                    )?;
                    insert_log(
                        &tx,
                        &LogLine {
                            job_id: job_id.clone(),
                            level: LogLevel::Error,
                            message: format!(
                                "This job was interrupted {count} times: the server stopped (crashed or was \
                                 killed) while it was running. It is failed instead of being retried, because it \
                                 may be what brings the server down. Submit it again once the cause is fixed."
                            ),
                            timestamp: now,
                        },
                    )?;
                    report.quarantined.push(job_id);
                } else {
                    tx.execute(
                        "UPDATE job_info SET resetCount = ?2, startedAt = NULL WHERE jobId = ?1",
                        params![job_id, count],
                    )?;
                    insert_log(
                        &tx,
                        &LogLine {
                            job_id: job_id.clone(),
                            level: LogLevel::Warn,
                            message: format!(
                                "The server stopped while this job was running; it will run again \
                                 (interruption {count}; at {max_resets} the job is failed instead)."
                            ),
                            timestamp: now,
                        },
                    )?;
                    report.reset.push(job_id);
                }
            }
            tx.commit()?;
            Ok(report)
        })
        .await
    }

    async fn job(&self, job_id: &str, logs: &LogsQuery) -> Result<Option<Job>, StoreError> {
        let job_id = job_id.to_owned();
        let logs = logs.clone();
        self.read(move |conn| {
            let Some((info, details)) = load_job(conn, &job_id)? else { return Ok(None) };
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT level, message, timestamp FROM logs \
                 WHERE jobId = ?1 AND level >= ?2 AND timestamp >= ?3 AND timestamp < ?4 \
                 ORDER BY timestamp {order}, id {order} LIMIT {PAGE_SIZE}",
                order = order_sql(logs.order)
            ))?;
            let rows = stmt.query_map(
                params![job_id, logs.level.priority(), ts_param(logs.since), ts_param(logs.until)],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
            )?;
            let mut lines = Vec::new();
            for row in rows {
                let (level, message, timestamp) = row?;
                lines.push(LogLine {
                    job_id: job_id.clone(),
                    level: LogLevel::from_priority(level).map_err(|e| corrupt(&job_id, "log level", e))?,
                    message,
                    timestamp: parse_ts(&job_id, &timestamp)?,
                });
            }
            Ok(Some(Job { info, details, logs: lines }))
        })
        .await
    }

    async fn jobs(&self, query: &JobsQuery) -> Result<(Vec<Job>, Vec<StoreError>), StoreError> {
        let query = query.clone();
        self.read(move |conn| {
            let completed = if query.include_completed { "" } else { "AND j.finishedAt IS NULL" };
            let order = order_sql(query.order);
            let mut jobs = Vec::new();
            let mut skipped = Vec::new();
            for kind in JobType::ALL {
                let kind_filter = match kind {
                    JobType::Publish => "p.jobId IS NOT NULL",
                    JobType::Unpublish => "u.jobId IS NOT NULL",
                    JobType::Transfer => "t.jobId IS NOT NULL",
                    JobType::Matrix => "m.jobId IS NOT NULL",
                    JobType::PackageSet => "s.jobId IS NOT NULL",
                };
                let mut stmt = conn.prepare_cached(&format!(
                    "{JOB_SELECT} WHERE {kind_filter} AND j.createdAt >= ?1 AND j.createdAt < ?2 {completed} \
                     ORDER BY j.createdAt {order}, j.rowid {order} LIMIT {PAGE_SIZE}"
                ))?;
                let rows =
                    stmt.query_map(params![ts_param(query.since), ts_param(query.until)], read_job_row)?;
                for row in rows {
                    match decode_job_row(row?) {
                        Ok((info, details)) => jobs.push(Job { info, details, logs: Vec::new() }),
                        Err(err) => skipped.push(err),
                    }
                }
            }
            jobs.sort_by_key(|job| job.info.created_at);
            if query.order == Order::Desc {
                jobs.reverse();
            }
            jobs.truncate(PAGE_SIZE);
            Ok((jobs, skipped))
        })
        .await
    }

    async fn pending_counts(&self) -> Result<BTreeMap<JobType, usize>, StoreError> {
        self.read(|conn| {
            let mut counts = BTreeMap::new();
            for kind in JobType::ALL {
                let n: i64 = conn
                    .prepare_cached(&format!(
                        "SELECT count(*) FROM job_info j JOIN {} k ON k.jobId = j.jobId WHERE j.finishedAt IS NULL",
                        table(kind)
                    ))?
                    .query_row([], |r| r.get(0))?;
                counts.insert(kind, n as usize);
            }
            Ok(counts)
        })
        .await
    }

    async fn matrix_progress(&self, compiler: &Version) -> Result<MatrixProgress, StoreError> {
        let compiler = compiler.to_string();
        self.read(move |conn| {
            let counts = conn.prepare_cached(&format!("{MATRIX_PROGRESS_SELECT}?1"))?.query_row(
                params![compiler],
                |r| {
                    let n = |i: usize| r.get::<_, i64>(i).map(|n| n as usize);
                    Ok(MatrixProgress { succeeded: n(0)?, failed: n(1)?, pending: n(2)?, running: n(3)? })
                },
            )?;
            Ok(counts)
        })
        .await
    }
}
