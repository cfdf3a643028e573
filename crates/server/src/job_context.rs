//! What a job handler gets: the job, its log, the adapters, a work directory.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use registry_adapters::ActivityLog;
use registry_core::Timestamp;
use registry_core::job::{Job, LogLevel, LogLine};
use registry_jobs::JobEnv;
use registry_queue::JobStore;
use tokio::sync::mpsc;

pub use registry_settings::{Adapters, now};

/// A job failure, as one sentence for the user (it becomes the job's last ERROR
/// line): the failure type of every job kind.
pub use registry_jobs::Failure as JobFailure;

/// Runs jobs of one kind. Implementations must be idempotent: a job interrupted by a
/// crash runs again from the start.
#[async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure>;

    /// Called once the job has failed for good, whatever the cause: its own error,
    /// its timeout, a crash of `run`, or quarantine at start-up. Its log is still
    /// open. Not called for a job that runs again (interrupted, or its lease lost).
    /// Work that other jobs wait for must not hang on `run` alone ever returning.
    async fn after_failure(&self, _ctx: &JobContext) {}
}

pub struct JobContext {
    pub job: Job,
    pub log: Arc<JobLog>,
    pub adapters: Adapters,
    pub store: Arc<dyn JobStore>,
    /// Empty at the start of each run, removed after it.
    pub work_dir: PathBuf,
}

impl JobContext {
    /// The job's environment: its log, the chosen adapters, its work directory and
    /// the server's clock.
    pub fn env(&self) -> JobEnv {
        let log: Arc<dyn ActivityLog> = self.log.clone();
        self.adapters.env(&self.job.info.job_id, log, self.work_dir.clone())
    }
}

/// The server's own directories, each with the placeholder that replaces it in job
/// log lines: those are public, and a message from deep down (an I/O error, a tool's
/// output) may name a path. A safety net: messages should not name them to begin with.
#[derive(Debug, Clone, Default)]
pub struct HiddenPaths(Vec<(String, &'static str)>);

impl HiddenPaths {
    /// Hides `path` and, if it differs, its canonical form (symbolic links resolved).
    pub fn hide(mut self, path: &Path, placeholder: &'static str) -> Self {
        // Relative forms are not hidden: `data` would match inside `metadata/`.
        let absolute = std::path::absolute(path).ok();
        let canonical = std::fs::canonicalize(path).ok();
        for form in absolute.into_iter().chain(canonical) {
            let text = form.display().to_string();
            let text = text.trim_end_matches('/');
            // `/` or a relative one-letter path would mangle every message.
            if text.len() > 1 && !self.0.iter().any(|(known, _)| known == text) {
                self.0.push((text.to_owned(), placeholder));
            }
        }
        // Longest first: a job's work directory lies inside the data directory.
        self.0.sort_by_key(|(text, _)| std::cmp::Reverse(text.len()));
        self
    }

    /// The standard set for a data directory and (if configured) a compilers directory.
    pub fn for_server(data_dir: &Path, compilers: Option<&Path>) -> Self {
        let hidden = HiddenPaths::default().hide(data_dir, "<data-dir>");
        match compilers {
            Some(dir) => hidden.hide(dir, "<compilers-dir>"),
            None => hidden,
        }
    }

    pub fn apply(&self, message: &str) -> String {
        let mut out = message.to_owned();
        for (text, placeholder) in &self.0 {
            out = replace_path(&out, text, placeholder);
        }
        out
    }
}

/// Replaces `path` where it is a whole path or a prefix of one (`/data` in `/data/x`,
/// not in `/database`).
fn replace_path(message: &str, path: &str, placeholder: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(path) {
        let after = &rest[at + path.len()..];
        let in_name = |c: char| c.is_alphanumeric() || "._-~".contains(c);
        out.push_str(&rest[..at]);
        let whole = !after.starts_with(in_name) && !out.ends_with(in_name);
        out.push_str(if whole { placeholder } else { path });
        rest = after;
    }
    out.push_str(rest);
    out
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
    hidden: HiddenPaths,
}

impl JobLog {
    /// Starts the writer task; it ends after [`JobLog::close`] once every line is stored.
    /// `hidden` paths are replaced by their placeholders in the stored lines.
    pub fn start(
        job_id: &str,
        store: Arc<dyn JobStore>,
        hidden: HiddenPaths,
    ) -> (Arc<JobLog>, tokio::task::JoinHandle<()>) {
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
                    if let registry_queue::StoreError::LeaseLost { .. } = err {
                        // Another worker runs the job now: these lines are not its.
                        tracing::warn!("{} log lines dropped: {err}", batch.len());
                        break;
                    }
                    attempt += 1;
                    tracing::error!("storing {} log lines failed (attempt {attempt}): {err}", batch.len());
                    if attempt == 5 {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                }
            }
        });
        let log = JobLog {
            job_id: job_id.to_owned(),
            sender: Mutex::new(Some(sender)),
            last: Mutex::new(None),
            hidden,
        };
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
        let line =
            LogLine { job_id: self.job_id.clone(), level, message: self.hidden.apply(message), timestamp };
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        match sender.as_ref() {
            Some(sender) if sender.send(line).is_ok() => {}
            _ => tracing::warn!(job = %self.job_id, "log line after the job ended was not stored: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths_are_replaced_longest_first() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("scratch/jobs/j1")).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&data, &link).unwrap();
        let hidden = HiddenPaths::for_server(&link, Some(Path::new("/opt/purs")))
            .hide(&link.join("scratch/jobs/j1"), "<work-dir>");
        let message = format!(
            "cannot open {}/src/Main.purs; see {}/db and {}/purs-0_15_15 (not /opt/pursuit)",
            link.join("scratch/jobs/j1").display(),
            data.canonicalize().unwrap().display(),
            "/opt/purs"
        );
        assert_eq!(
            hidden.apply(&message),
            "cannot open <work-dir>/src/Main.purs; see <data-dir>/db and <compilers-dir>/purs-0_15_15 (not /opt/pursuit)"
        );
    }
}
