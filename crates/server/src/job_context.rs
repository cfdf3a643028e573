//! What a job handler gets: the job, its log, the adapters, a work directory.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use registry_adapters::{ActivityLog, DocsSite, GitRepo, SourceFetcher, Storage};
use registry_core::Timestamp;
use registry_core::job::{Job, LogLevel, LogLine};
use registry_queue::JobStore;
use tokio::sync::mpsc;

/// The server's clock.
pub fn now() -> Timestamp {
    let ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    Timestamp::from_unix_millis(ms)
}

/// The side effects available to jobs, chosen once at start-up (READONLY or not).
#[derive(Clone)]
pub struct Adapters {
    pub storage: Arc<dyn Storage>,
    pub registry: Arc<dyn GitRepo>,
    pub index: Arc<dyn GitRepo>,
    /// The legacy package-sets repository new package sets are mirrored to.
    pub legacy_package_sets: Arc<dyn GitRepo>,
    pub docs: Arc<dyn DocsSite>,
    pub sources: Arc<dyn SourceFetcher>,
}

/// A job failure, as one sentence for the user (it becomes the job's last ERROR line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure(pub String);

impl<E: std::error::Error> From<E> for JobFailure {
    fn from(err: E) -> Self {
        JobFailure(err.to_string())
    }
}

/// Runs jobs of one kind. Implementations must be idempotent: a job interrupted by a
/// crash runs again from the start.
#[async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure>;
}

pub struct JobContext {
    pub job: Job,
    pub log: Arc<JobLog>,
    pub adapters: Adapters,
    pub store: Arc<dyn JobStore>,
    /// Empty at the start of each run, removed after it.
    pub work_dir: PathBuf,
}

/// A job's log: every line goes to the `logs` table (in order, through one writer
/// task) and to the server's own log.
///
/// Timestamps are made strictly increasing per job (a line in the same millisecond
/// as the previous one gets the next millisecond), so clients that page with
/// `since = last timestamp + 1 ms` never skip a line.
pub struct JobLog {
    job_id: String,
    sender: Mutex<Option<mpsc::UnboundedSender<LogLine>>>,
    last: Mutex<Option<Timestamp>>,
}

impl JobLog {
    /// Starts the writer task; it ends after [`JobLog::close`] once every line is stored.
    pub fn start(job_id: &str, store: Arc<dyn JobStore>) -> (Arc<JobLog>, tokio::task::JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::unbounded_channel::<LogLine>();
        let writer = tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while let Ok(more) = receiver.try_recv() {
                    batch.push(more);
                }
                // A failed write is retried a few times: losing log lines is worse than waiting.
                let mut attempt = 0;
                while let Err(err) = store.append_logs(&batch).await {
                    attempt += 1;
                    tracing::error!("storing {} log lines failed (attempt {attempt}): {err}", batch.len());
                    if attempt == 5 {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                }
            }
        });
        let log =
            JobLog { job_id: job_id.to_owned(), sender: Mutex::new(Some(sender)), last: Mutex::new(None) };
        (Arc::new(log), writer)
    }

    /// No more lines: lets the writer finish.
    pub fn close(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    pub fn error(&self, message: &str) {
        self.log(LogLevel::Error, message)
    }
}

impl ActivityLog for JobLog {
    fn log(&self, level: LogLevel, message: &str) {
        let timestamp = {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            let t = match *last {
                Some(prev) if now() <= prev => prev.plus_millis(1),
                _ => now(),
            };
            *last = Some(t);
            t
        };
        match level {
            LogLevel::Error => tracing::error!(job = %self.job_id, "{message}"),
            LogLevel::Warn => tracing::warn!(job = %self.job_id, "{message}"),
            LogLevel::Debug => tracing::debug!(job = %self.job_id, "{message}"),
            LogLevel::Info | LogLevel::Notice => tracing::info!(job = %self.job_id, "{message}"),
        }
        let line = LogLine { job_id: self.job_id.clone(), level, message: message.to_owned(), timestamp };
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        match sender.as_ref() {
            Some(sender) if sender.send(line).is_ok() => {}
            _ => tracing::warn!(job = %self.job_id, "log line after the job ended was not stored: {message}"),
        }
    }
}
