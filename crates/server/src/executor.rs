//! The job executor: independent lanes, each running one job at a time.
//!
//! Package operations (publish, unpublish, transfer), matrix builds and package-set
//! builds run in separate lanes, so a publish never waits behind a 90-minute package
//! set build, and a flood of matrix jobs (thousands after a new compiler) never
//! starves package sets, as it does upstream where one loop runs everything. Within
//! a lane upstream's order holds: the highest-priority kind first, oldest first
//! within a kind.
//!
//! A run ends in one of four ways: success, failure (the handler's message becomes
//! the last ERROR line), timeout, or shutdown. On timeout and shutdown the handler's
//! task is aborted, which drops its futures and so kills its child processes, also
//! those of blocking work such as a compile (see `registry_adapters::process`). A job stopped by a shutdown goes back to the
//! queue; one found running after a crash is reset at start-up by the store.
//!
//! With a store shared by workers (Postgres), a claim is a lease: while the job runs
//! it is renewed every third of its length, and when a renewal is refused (the worker
//! froze or was cut off past the lease, and the job may run elsewhere) the job is
//! stopped like a timed-out one — its process groups die — and nothing more is
//! recorded for it: the store refuses a lost claim's writes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_adapters::ActivityLog;
use registry_core::job::{Job, JobType};
use registry_queue::JobStore;
use tokio::sync::{Notify, watch};

use crate::fencing::{LeaseClock, fenced};
use crate::job_context::{Adapters, HiddenPaths, JobContext, JobHandler, JobLog, now};

/// The lanes: kinds in priority order.
pub const LANES: [(&str, &[JobType]); 3] = [
    ("package operations", &[JobType::Publish, JobType::Unpublish, JobType::Transfer]),
    ("matrix builds", &[JobType::Matrix]),
    ("package sets", &[JobType::PackageSet]),
];

/// Jobs found running this many times at start-up are failed, not run again.
pub const MAX_INTERRUPTIONS: u32 = 3;

pub type Handlers = HashMap<JobType, Arc<dyn JobHandler>>;

/// Tells lanes to stop; cloneable.
#[derive(Clone)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

pub struct ShutdownTrigger(watch::Sender<bool>);

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

pub fn shutdown_pair() -> (ShutdownTrigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (ShutdownTrigger(sender), Shutdown { receiver })
}

impl Shutdown {
    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow()
    }

    pub async fn wait(&mut self) {
        let _ = self.receiver.wait_for(|stop| *stop).await;
    }
}

/// Wakes the lane that runs a kind (after an enqueue), so new jobs start at once
/// instead of at the next poll.
#[derive(Clone, Default)]
pub struct Wakers {
    lanes: Arc<HashMap<JobType, Arc<Notify>>>,
}

impl Wakers {
    pub fn new() -> Self {
        let mut lanes = HashMap::new();
        for (_, kinds) in LANES {
            let notify = Arc::new(Notify::new());
            for kind in kinds {
                lanes.insert(*kind, notify.clone());
            }
        }
        Wakers { lanes: Arc::new(lanes) }
    }

    pub fn wake(&self, kind: JobType) {
        if let Some(notify) = self.lanes.get(&kind) {
            notify.notify_one();
        }
    }

    fn notify(&self, kind: JobType) -> Arc<Notify> {
        self.lanes[&kind].clone()
    }
}

pub struct Executor {
    pub store: Arc<dyn JobStore>,
    pub handlers: Handlers,
    pub adapters: Adapters,
    pub timeouts: HashMap<JobType, Duration>,
    pub work_root: std::path::PathBuf,
    /// How often an idle lane looks for work without being woken.
    pub poll_interval: Duration,
    /// Server paths kept out of job logs (a job's work directory is added per job).
    pub hidden_paths: HiddenPaths,
}

enum Outcome {
    Success,
    Failed(String),
    TimedOut(Duration),
    Panicked(String),
    Interrupted,
    LeaseLost,
}

/// Renews the lease on `job_id` until it is lost; never returns for a store without
/// leases. A renewal that fails for another reason (the database is briefly
/// unreachable) is retried, and counts as lost once the lease has run out meanwhile.
/// Each confirmed renewal moves `clock` on, which lets the job's writes start.
async fn keep_lease(store: Arc<dyn JobStore>, job_id: String, clock: Option<LeaseClock>) {
    let (Some(lease), Some(clock)) = (store.lease(), clock) else { return std::future::pending().await };
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(lease / 3).await;
        let attempt = Instant::now();
        match store.renew_lease(&job_id).await {
            Ok(()) => {
                renewed = attempt;
                clock.confirmed(attempt);
            }
            Err(registry_queue::StoreError::LeaseLost { .. }) => return clock.expire(),
            Err(err) if renewed.elapsed() < lease => {
                tracing::warn!(job = %job_id, "renewing the lease failed: {err}; retrying");
            }
            Err(err) => {
                tracing::error!(job = %job_id, "the lease could not be renewed in time: {err}");
                return clock.expire();
            }
        }
    }
}

fn describe_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(60) && secs > 0 {
        let m = secs / 60;
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    } else {
        format!("{secs} second{}", if secs == 1 { "" } else { "s" })
    }
}

/// How long [`JobHandler::after_failure`] may take: it must not hold a lane.
const AFTER_FAILURE_LIMIT: Duration = Duration::from_secs(120);

async fn after_failure(handler: &dyn JobHandler, ctx: &JobContext) {
    let job_id = &ctx.job.info.job_id;
    match tokio::time::timeout(AFTER_FAILURE_LIMIT, handler.after_failure(ctx)).await {
        Ok(()) => {}
        Err(_) => {
            tracing::error!(job = %job_id, "the follow-up work of a failed job took over {AFTER_FAILURE_LIMIT:?}: stopped")
        }
    }
}

/// Closes a job's log and waits (at most 10 s) until its lines are written.
async fn close_log(log: &JobLog, writer: tokio::task::JoinHandle<()>, job_id: &str) {
    log.close();
    if tokio::time::timeout(Duration::from_secs(10), writer).await.is_err() {
        tracing::error!(job = %job_id, "log lines were still being written after 10 s");
    }
}

impl Executor {
    /// Runs [`JobHandler::after_failure`] for jobs that start-up recovery failed
    /// after too many interruptions: they never reach a handler again.
    pub async fn after_quarantine(&self, job_ids: &[String]) {
        let query = registry_queue::LogsQuery {
            level: registry_core::job::LogLevel::Debug,
            since: now(),
            until: now(),
            order: registry_queue::Order::Asc,
        };
        for job_id in job_ids {
            let job = match self.store.job(job_id, &query).await {
                Ok(Some(job)) => job,
                Ok(None) => continue,
                Err(err) => {
                    tracing::error!(job = %job_id, "reading a quarantined job failed: {err}");
                    continue;
                }
            };
            let Some(handler) = self.handlers.get(&job.details.job_type()).cloned() else { continue };
            let work_dir = self.work_root.join(job_id);
            let hidden = self.hidden_paths.clone().hide(&work_dir, "<work-dir>");
            let (log, writer) = JobLog::start(job_id, self.store.clone(), hidden);
            let _ = tokio::fs::create_dir_all(&work_dir).await;
            let ctx = JobContext {
                job,
                log: log.clone(),
                adapters: self.adapters.clone(),
                store: self.store.clone(),
                work_dir: work_dir.clone(),
            };
            after_failure(handler.as_ref(), &ctx).await;
            close_log(&log, writer, job_id).await;
            let _ = tokio::fs::remove_dir_all(&work_dir).await;
        }
    }

    /// Starts one task per lane that has at least one handled kind.
    pub fn start(self: Arc<Self>, wakers: &Wakers, shutdown: Shutdown) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        for (lane, kinds) in LANES {
            let handled: Vec<JobType> =
                kinds.iter().copied().filter(|k| self.handlers.contains_key(k)).collect();
            for kind in kinds.iter().filter(|k| !self.handlers.contains_key(k)) {
                tracing::warn!("no handler for {kind} jobs in this server: they stay queued");
            }
            if handled.is_empty() {
                continue;
            }
            let notify = wakers.notify(kinds[0]);
            let executor = self.clone();
            let shutdown = shutdown.clone();
            tasks
                .push(tokio::spawn(async move { executor.supervise(lane, handled, notify, shutdown).await }));
        }
        tasks
    }

    /// Restarts a lane whose loop panicked (a bug), with a growing delay.
    async fn supervise(
        self: Arc<Self>,
        lane: &'static str,
        kinds: Vec<JobType>,
        notify: Arc<Notify>,
        shutdown: Shutdown,
    ) {
        let mut delay = Duration::from_millis(200);
        loop {
            let executor = self.clone();
            let (kinds, notify, stop) = (kinds.clone(), notify.clone(), shutdown.clone());
            let run = tokio::spawn(async move { executor.lane(lane, kinds, notify, stop).await });
            match run.await {
                Ok(()) => return,
                Err(err) if shutdown.is_triggered() => {
                    return tracing::error!("lane '{lane}' failed while stopping: {err}");
                }
                Err(err) => {
                    tracing::error!("lane '{lane}' crashed ({err}); restarting in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(60));
                }
            }
        }
    }

    async fn lane(
        &self,
        lane: &'static str,
        kinds: Vec<JobType>,
        notify: Arc<Notify>,
        mut shutdown: Shutdown,
    ) {
        tracing::info!(
            "lane '{lane}' runs {}",
            kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        );
        let mut backoff = Duration::from_millis(200);
        while !shutdown.is_triggered() {
            // A lease starts at the latest when the claim was asked for.
            let asked = Instant::now();
            match self.store.claim_next(&kinds, now()).await {
                Ok(Some(job)) => {
                    backoff = Duration::from_millis(200);
                    self.run_claimed(job, shutdown.clone(), asked).await;
                }
                Ok(None) => {
                    tokio::select! {
                        _ = notify.notified() => {}
                        _ = tokio::time::sleep(self.poll_interval) => {}
                        _ = shutdown.wait() => {}
                    }
                }
                Err(err) => {
                    tracing::error!("lane '{lane}' could not pick a job: {err}; retrying in {backoff:?}");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.wait() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        tracing::info!("lane '{lane}' stopped");
    }

    /// Runs one claimed job to its end and records the outcome.
    pub async fn run(&self, job: Job, shutdown: Shutdown) {
        self.run_claimed(job, shutdown, Instant::now()).await
    }

    /// [`Executor::run`] for a job claimed no earlier than `claimed`.
    async fn run_claimed(&self, job: Job, mut shutdown: Shutdown, claimed: Instant) {
        let kind = job.details.job_type();
        let job_id = job.info.job_id.clone();
        let limit = self
            .timeouts
            .get(&kind)
            .copied()
            .unwrap_or(Duration::from_secs(kind.default_timeout_minutes() * 60));
        let work_dir = self.work_root.join(&job_id);
        let hidden = self.hidden_paths.clone().hide(&work_dir, "<work-dir>");
        let (log, writer) = JobLog::start(&job_id, self.store.clone(), hidden);
        log.info(&format!("Started {}", job.details.describe()));
        let _ = tokio::fs::remove_dir_all(&work_dir).await;
        let started = Instant::now();
        let outcome = match (tokio::fs::create_dir_all(&work_dir).await, self.handlers.get(&kind)) {
            (Err(err), _) => {
                Outcome::Failed(format!("Could not create the work directory {}: {err}", work_dir.display()))
            }
            (_, None) => Outcome::Failed(format!("This server has no handler for {kind} jobs.")),
            (Ok(()), Some(handler)) => {
                let clock = self.store.lease().map(|lease| LeaseClock::new(lease, claimed));
                let ctx = Arc::new(JobContext {
                    job,
                    log: log.clone(),
                    adapters: match &clock {
                        Some(clock) => fenced(&self.adapters, clock),
                        None => self.adapters.clone(),
                    },
                    store: self.store.clone(),
                    work_dir: work_dir.clone(),
                });
                let (in_task, task_ctx) = (handler.clone(), ctx.clone());
                let mut task = tokio::spawn(async move { in_task.run(&task_ctx).await });
                let outcome = tokio::select! {
                    result = tokio::time::timeout(limit, &mut task) => match result {
                        Err(_) => Outcome::TimedOut(limit),
                        Ok(Ok(Ok(()))) => Outcome::Success,
                        Ok(Ok(Err(failure))) => Outcome::Failed(failure.0),
                        Ok(Err(join)) => Outcome::Panicked(join.to_string()),
                    },
                    _ = shutdown.wait() => Outcome::Interrupted,
                    () = keep_lease(self.store.clone(), job_id.clone(), clock) => Outcome::LeaseLost,
                };
                if matches!(outcome, Outcome::TimedOut(_) | Outcome::Interrupted | Outcome::LeaseLost) {
                    // Dropping the handler's future kills its child processes; wait
                    // until that has happened before recording the outcome.
                    task.abort();
                    let _ = task.await;
                }
                if matches!(outcome, Outcome::Failed(_) | Outcome::TimedOut(_) | Outcome::Panicked(_)) {
                    after_failure(handler.as_ref(), &ctx).await;
                }
                outcome
            }
        };
        let elapsed = started.elapsed();
        let success = match &outcome {
            Outcome::Success => {
                log.info(&format!("Finished successfully in {:.1} s", elapsed.as_secs_f64()));
                true
            }
            // A handler's failure (wrong version, missing licence, compile error…) is
            // the job's last line, at ERROR as upstream logs it (`Log.error`), so a
            // client asking for `level=ERROR` sees why its job failed.
            Outcome::Failed(message) => {
                log.error(message);
                false
            }
            Outcome::TimedOut(limit) => {
                log.error(&format!("Job timed out after {}.", describe_duration(*limit)));
                false
            }
            Outcome::Panicked(reason) => {
                log.error(&format!("Internal error: the {kind} job handler crashed ({reason}). This is a bug in the registry."));
                false
            }
            Outcome::Interrupted => {
                log.warn("The server is shutting down: this job was stopped and will run again when the server restarts.");
                false
            }
            Outcome::LeaseLost => {
                tracing::warn!(job = %job_id, "this worker lost its lease on the job: stopped it; it runs elsewhere");
                false
            }
        };
        close_log(&log, writer, &job_id).await;
        let _ = tokio::fs::remove_dir_all(&work_dir).await;
        let recorded = if matches!(outcome, Outcome::LeaseLost) {
            Ok(())
        } else if matches!(outcome, Outcome::Interrupted) {
            self.store.requeue(&job_id).await
        } else {
            self.store.finish(&job_id, success, now()).await
        };
        if let Err(err) = recorded {
            tracing::error!(job = %job_id, "recording the end of the job failed: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(describe_duration(Duration::from_secs(600)), "10 minutes");
        assert_eq!(describe_duration(Duration::from_secs(60)), "1 minute");
        assert_eq!(describe_duration(Duration::from_secs(2)), "2 seconds");
    }
}
