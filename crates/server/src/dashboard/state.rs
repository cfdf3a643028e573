//! What every dashboard page reads: the job store, the jobs index, the registry's
//! files, the API state (for tarballs at paths the pages also use) and HTTP counts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use registry_core::Version;
use registry_queue::JobStore;

use super::http_stats::SharedHttpStats;
use super::job_index::{self, JobIndex};
use super::registry_data::RegistryCache;
use crate::api::ApiState;

#[derive(Clone)]
pub struct Dashboard {
    pub store: Arc<dyn JobStore>,
    pub jobs: Arc<tokio::sync::Mutex<JobIndex>>,
    /// A background read of the jobs is under way.
    pub reading: Arc<AtomicBool>,
    pub registry: Arc<RegistryCache>,
    pub api: ApiState,
    pub http: SharedHttpStats,
    /// The job that made each package set (from its commit's `Job ID`), once looked up.
    pub set_jobs: Arc<Mutex<HashMap<Version, Option<String>>>>,
    /// Build-cache figures of each finished package-set job, read from its log once.
    pub build_stats: Arc<Mutex<HashMap<String, BuildFigures>>>,
}

/// What a package-set job's build log says it did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BuildFigures {
    /// Packages restored from the build cache.
    pub cache_hits: u64,
    /// Packages that needed a build.
    pub cache_misses: u64,
    pub modules_compiled: u64,
}

impl BuildFigures {
    /// Adds what one log line of `registry_build::BuildEvent::log_line` reports.
    pub fn add_line(&mut self, line: &str) {
        let number = |text: &str| text.split_whitespace().next().and_then(|n| n.parse::<u64>().ok());
        if let Some(rest) =
            line.strip_prefix("Restored ").filter(|r| r.ends_with("packages from the build cache"))
        {
            self.cache_hits += number(rest).unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("Compiling: ") {
            self.cache_misses += number(rest).unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("Compiled ").filter(|r| r.ends_with(" modules")) {
            self.modules_compiled += number(rest).unwrap_or(0);
        }
    }
}

/// A read of the store that took longer than this is done in the background next
/// time: pages then show the index as it was, at most one read behind.
const INLINE_READ_LIMIT: Duration = Duration::from_millis(15);

impl Dashboard {
    /// The jobs index, brought up to date with the store first when that is quick
    /// (a few jobs unfinished), else as last read while a background read catches up.
    pub async fn jobs(&self) -> Result<tokio::sync::MutexGuard<'_, JobIndex>, String> {
        let (plan, slow) = {
            let index = self.jobs.lock().await;
            (index.plan(self.store.as_ref()), index.last_read_took() > INLINE_READ_LIMIT)
        };
        if let Some(plan) = plan {
            if !slow {
                let read = job_index::read(self.store.as_ref(), &plan, registry_settings::now()).await?;
                self.jobs.lock().await.apply(&plan, read);
            } else if !self.reading.swap(true, Ordering::SeqCst) {
                let (store, jobs, reading) = (self.store.clone(), self.jobs.clone(), self.reading.clone());
                tokio::spawn(async move {
                    match job_index::read(store.as_ref(), &plan, registry_settings::now()).await {
                        Ok(read) => jobs.lock().await.apply(&plan, read),
                        Err(e) => tracing::warn!("dashboard: reading the jobs failed: {e}"),
                    }
                    reading.store(false, Ordering::SeqCst);
                });
            }
        }
        Ok(self.jobs.lock().await)
    }
}
