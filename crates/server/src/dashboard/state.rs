//! What every dashboard page reads: the job store, the jobs index, the registry's
//! files, the API state (for tarballs at paths the pages also use) and HTTP counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use registry_core::Version;
use registry_queue::JobStore;

use super::http_stats::SharedHttpStats;
use super::job_index::JobIndex;
use super::registry_data::RegistryCache;
use crate::api::ApiState;

#[derive(Clone)]
pub struct Dashboard {
    pub store: Arc<dyn JobStore>,
    pub jobs: Arc<tokio::sync::Mutex<JobIndex>>,
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

impl Dashboard {
    /// The jobs index, brought up to date with the store first.
    pub async fn jobs(&self) -> Result<tokio::sync::MutexGuard<'_, JobIndex>, String> {
        let mut index = self.jobs.lock().await;
        index.refresh(self.store.as_ref(), registry_settings::now()).await?;
        Ok(index)
    }
}
