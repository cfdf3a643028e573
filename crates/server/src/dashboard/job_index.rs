//! Every job's summary in memory, kept current from the job store, so the jobs list,
//! the queue panel, package pages and `/metrics` filter and count without a query.
//!
//! A refresh re-reads only jobs created since the oldest one still unfinished (a
//! finished job never changes), and only when the store's write generation moved
//! (or, for a store that cannot tell, at most once a second).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use registry_core::job::{JobDetails, JobType, LogLevel};
use registry_core::{PackageName, Timestamp, Version};
use registry_queue::{JobStore, JobsQuery, LogsQuery, Order, PAGE_SIZE};

#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: String,
    pub kind: JobType,
    pub package: Option<PackageName>,
    pub version: Option<Version>,
    pub compiler: Option<Version>,
    pub summary: String,
    pub created: Timestamp,
    pub started: Option<Timestamp>,
    pub finished: Option<Timestamp>,
    pub success: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Waiting,
    Running,
    Succeeded,
    Failed,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Waiting, Status::Running, Status::Succeeded, Status::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl JobRow {
    pub fn status(&self) -> Status {
        match (self.started, self.finished) {
            (_, Some(_)) if self.success => Status::Succeeded,
            (_, Some(_)) => Status::Failed,
            (Some(_), None) => Status::Running,
            (None, None) => Status::Waiting,
        }
    }

    pub fn from_job(job: &registry_core::job::Job) -> JobRow {
        let (package, version, compiler) = match &job.details {
            JobDetails::Publish { package_name, package_version, payload } => {
                (Some(package_name.clone()), Some(*package_version), payload.compiler)
            }
            JobDetails::Unpublish { package_name, package_version, .. } => {
                (Some(package_name.clone()), Some(*package_version), None)
            }
            JobDetails::Transfer { package_name, .. } => (Some(package_name.clone()), None, None),
            JobDetails::Matrix { package_name, package_version, compiler_version, .. } => {
                (Some(package_name.clone()), Some(*package_version), Some(*compiler_version))
            }
            JobDetails::PackageSet { payload } => (None, None, payload.compiler),
        };
        JobRow {
            id: job.info.job_id.clone(),
            kind: job.details.job_type(),
            package,
            version,
            compiler,
            summary: job.details.describe(),
            created: job.info.created_at,
            started: job.info.started_at,
            finished: job.info.finished_at,
            success: job.info.success,
        }
    }
}

/// The executor's lanes, as the queue panel and metrics name them.
pub const LANES: [(&str, &[JobType]); 3] = [
    ("package operations", &[JobType::Publish, JobType::Unpublish, JobType::Transfer]),
    ("matrix", &[JobType::Matrix]),
    ("package sets", &[JobType::PackageSet]),
];

pub fn lane_of(kind: JobType) -> &'static str {
    LANES.iter().find(|(_, kinds)| kinds.contains(&kind)).map_or("other", |(name, _)| name)
}

#[derive(Default)]
pub struct JobIndex {
    /// Ascending by creation.
    rows: Vec<JobRow>,
    by_id: HashMap<String, usize>,
    generation: Option<u64>,
    refreshed_at: Option<Instant>,
    /// Failed jobs' reason lines (their last ERROR line), read once each.
    reasons: HashMap<String, String>,
    last_read: Duration,
}

/// A planned read of the store (see [`JobIndex::plan`]).
pub struct Refresh {
    since: Timestamp,
    generation: Option<u64>,
}

/// Jobs read from the store for [`JobIndex::apply`].
pub struct ReadJobs {
    rows: Vec<JobRow>,
    took: Duration,
}

/// Reads every job created since the planned instant, without holding the index.
pub async fn read(store: &dyn JobStore, refresh: &Refresh, now: Timestamp) -> Result<ReadJobs, String> {
    let started = Instant::now();
    let mut since = refresh.since;
    let until = now.plus_millis(1);
    let mut rows = Vec::new();
    loop {
        let query = JobsQuery { since, until, order: Order::Asc, include_completed: true };
        let (jobs, skipped) = store.jobs(&query).await.map_err(|e| e.to_string())?;
        for err in skipped {
            tracing::warn!("dashboard: a stored job cannot be listed: {err}");
        }
        let Some(last) = jobs.last().map(|j| j.info.created_at) else { break };
        let full = jobs.len() >= PAGE_SIZE;
        rows.extend(jobs.iter().map(JobRow::from_job));
        if !full {
            break;
        }
        // `since` is inclusive; a page that did not move past it would repeat forever.
        since = if last > since { last } else { since.plus_millis(1) };
    }
    Ok(ReadJobs { rows, took: started.elapsed() })
}

impl JobIndex {
    pub fn rows(&self) -> &[JobRow] {
        &self.rows
    }

    pub fn get(&self, id: &str) -> Option<&JobRow> {
        self.by_id.get(id).map(|&i| &self.rows[i])
    }

    /// What to read to bring the index up to date (`None`: it is): jobs created
    /// since the returned instant, under the store's current generation.
    pub fn plan(&self, store: &dyn JobStore) -> Option<Refresh> {
        let generation = store.generation();
        let fresh = match generation {
            Some(g) => self.generation == Some(g),
            None => self.refreshed_at.is_some_and(|at| at.elapsed() < Duration::from_secs(1)),
        };
        if fresh && self.refreshed_at.is_some() {
            return None;
        }
        let oldest_unfinished = self.rows.iter().find(|r| r.finished.is_none()).map(|r| r.created);
        let newest = self.rows.last().map(|r| r.created);
        let since = match (oldest_unfinished, newest) {
            (Some(a), Some(b)) => a.min(b),
            (None, Some(b)) => b,
            _ => Timestamp::from_unix_millis(0),
        };
        Some(Refresh { since, generation })
    }

    /// How long the last read took: a slow one is better done off the request path.
    pub fn last_read_took(&self) -> Duration {
        self.last_read
    }

    /// Puts what [`read`] returned in place, unless a read that saw newer data
    /// already did (reads can overlap).
    pub fn apply(&mut self, refresh: &Refresh, read: ReadJobs) {
        if let (Some(mine), Some(applied)) = (refresh.generation, self.generation)
            && mine < applied
        {
            return;
        }
        let mut out_of_order = false;
        for row in read.rows {
            match self.by_id.get(&row.id) {
                Some(&i) => self.rows[i] = row,
                None => {
                    out_of_order |= self.rows.last().is_some_and(|r| r.created > row.created);
                    self.by_id.insert(row.id.clone(), self.rows.len());
                    self.rows.push(row);
                }
            }
        }
        if out_of_order {
            self.rows.sort_by_key(|r| r.created);
            self.by_id = self.rows.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
        }
        self.generation = refresh.generation;
        self.refreshed_at = Some(Instant::now());
        self.last_read = read.took;
    }

    /// The reason a failed job gives: its last ERROR line (read from the store once).
    pub async fn reason(&mut self, store: &dyn JobStore, id: &str) -> String {
        if let Some(reason) = self.reasons.get(id) {
            return reason.clone();
        }
        let query = LogsQuery {
            level: LogLevel::Error,
            since: Timestamp::from_unix_millis(0),
            until: Timestamp::parse_iso("9999-12-31T23:59:59.999Z").expect("a valid timestamp"),
            order: Order::Desc,
        };
        let reason = match store.job(id, &query).await {
            Ok(Some(job)) => job.logs.first().map(|l| first_line(&l.message)).unwrap_or_default(),
            _ => return String::new(),
        };
        self.reasons.insert(id.to_owned(), reason.clone());
        reason
    }
}

/// The first line of a message, at most 300 characters: reasons are shown in tables.
fn first_line(message: &str) -> String {
    let line = message.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    match line.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}
