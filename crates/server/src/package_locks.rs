//! One lock per package, so that jobs in different lanes never interleave their
//! read-modify-write of the same metadata file.
//!
//! Publish, unpublish and transfer jobs read a package's metadata early and write
//! it back later; they share a lane, so they never overlap each other. Matrix jobs
//! run in their own lane, in parallel with them, and also rewrite the metadata
//! (to add a compiler). Without a lock, a matrix job could write back metadata read
//! before a publish added a version, and that version would vanish from it. So a
//! package operation holds its package's lock for its whole run, and a matrix job
//! holds it while it reads, changes and commits the metadata.
//!
//! Workers on several machines (a store that shares package locks: Postgres) also
//! take the package's lock in the database, held by the job's claim, so it lapses with
//! the claim's lease when a worker dies or freezes (see `registry_queue`'s postgres).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use registry_adapters::ActivityLog;
use registry_core::PackageName;
use registry_core::job::JobDetails;
use registry_queue::JobStore;
use tokio::sync::OwnedMutexGuard;

use crate::job_context::{JobContext, JobFailure, JobHandler};

/// How often a job waiting for a package held by another machine asks again.
const SHARED_LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Holds a package's lock until dropped.
pub struct PackageGuard {
    _local: OwnedMutexGuard<()>,
    shared: Option<(Arc<dyn JobStore>, PackageName, String)>,
}

impl Drop for PackageGuard {
    fn drop(&mut self) {
        if let Some((store, name, job_id)) = self.shared.take() {
            // Should the release fail, the lock lapses when the job ends.
            tokio::spawn(async move {
                if let Err(err) = store.unlock_package(&name, &job_id).await {
                    tracing::warn!(job = %job_id, "releasing the lock of {name} failed: {err}");
                }
            });
        }
    }
}

/// Shared by every handler of one server. A package's entry is kept once made (at
/// most one small entry per package the server has touched).
#[derive(Clone, Default)]
pub struct PackageLocks {
    locks: Arc<Mutex<HashMap<PackageName, Arc<tokio::sync::Mutex<()>>>>>,
}

impl PackageLocks {
    /// Waits until no other job of this process holds `name`'s lock, then holds it
    /// until the guard drops.
    pub async fn lock(&self, name: &PackageName) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(name.clone()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// [`PackageLocks::lock`], and, when the job store shares locks between machines,
    /// the database's lock for the running job's claim too.
    pub async fn lock_for_job(&self, name: &PackageName, ctx: &JobContext) -> PackageGuard {
        let local = self.lock(name).await;
        if !ctx.store.shares_package_locks() {
            return PackageGuard { _local: local, shared: None };
        }
        let job_id = ctx.job.info.job_id.clone();
        let mut waited = false;
        loop {
            match ctx.store.try_lock_package(name, &job_id).await {
                Ok(true) => break,
                Ok(false) if !waited => {
                    waited = true;
                    ctx.log.info(&format!("Waiting for another job working on {name} to finish"));
                }
                Ok(false) => {}
                // A lost lease stops the job (the executor aborts it); until then, wait.
                Err(err) => tracing::warn!(job = %job_id, "taking the lock of {name}: {err}"),
            }
            tokio::time::sleep(SHARED_LOCK_POLL).await;
        }
        PackageGuard { _local: local, shared: Some((ctx.store.clone(), name.clone(), job_id)) }
    }
}

/// The package a job reads and writes the metadata of, if any.
pub fn package_of(details: &JobDetails) -> Option<&PackageName> {
    match details {
        JobDetails::Publish { package_name, .. }
        | JobDetails::Unpublish { package_name, .. }
        | JobDetails::Transfer { package_name, .. }
        | JobDetails::Matrix { package_name, .. } => Some(package_name),
        JobDetails::PackageSet { .. } => None,
    }
}

/// Runs `inner` holding the lock of the job's package for the whole run.
pub struct HoldingPackageLock {
    pub inner: Arc<dyn JobHandler>,
    pub locks: PackageLocks,
}

#[async_trait]
impl JobHandler for HoldingPackageLock {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let _guard = match package_of(&ctx.job.details) {
            Some(name) => Some(self.locks.lock_for_job(name, ctx).await),
            None => None,
        };
        if ctx.store.shares_package_locks() {
            // Another worker may have written the metadata since this worker's copy of
            // the registry was last fetched; writing back a stale copy would undo that.
            ctx.adapters.registry.refresh().await.map_err(|err| {
                JobFailure(format!(
                    "Reading the latest state of the {} failed, so nothing was changed: {err}",
                    ctx.adapters.registry.describe()
                ))
            })?;
        }
        self.inner.run(ctx).await
    }

    async fn after_failure(&self, ctx: &JobContext) {
        self.inner.after_failure(ctx).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_holder_per_package_at_a_time() {
        let locks = PackageLocks::default();
        let (a, b) = (PackageName::parse("a").unwrap(), PackageName::parse("b").unwrap());
        let held = locks.lock(&a).await;
        // Another package is free…
        let _other = tokio::time::timeout(Duration::from_millis(100), locks.lock(&b)).await.unwrap();
        // …the same one waits until the holder lets go.
        let waiting = tokio::spawn({
            let (locks, a) = (locks.clone(), a.clone());
            async move { locks.lock(&a).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
    }
}
