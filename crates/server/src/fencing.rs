//! Writes of a job whose lease may have run out are refused here, before they start.
//!
//! The store refuses a lost claim's database writes, but git pushes and storage writes
//! go elsewhere. A worker frozen (SIGSTOP, a stalled VM) past its lease wakes up with its
//! job's code and its lease renewal both ready to run; without this check the job could
//! push before the renewal is refused and the job stopped. So every write first checks,
//! on the monotonic clock (which keeps counting while the process is stopped), that the
//! lease was last confirmed recently enough: a write may start only while at least a
//! third of the lease is left, which is also the time a started write has to finish
//! before another worker may take the job.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use registry_adapters::{
    ActivityLog, CommitOutcome, FileChange, GitError, GitRepo, Storage, StorageError, TagsOutcome,
};

use crate::job_context::Adapters;

/// Until when this worker may start writes for a job.
#[derive(Clone)]
pub struct LeaseClock {
    lease: Duration,
    valid_until: Arc<Mutex<Instant>>,
}

impl LeaseClock {
    /// A lease confirmed at `confirmed` (the claim, or a renewal's start).
    pub fn new(lease: Duration, confirmed: Instant) -> LeaseClock {
        LeaseClock { lease, valid_until: Arc::new(Mutex::new(confirmed + lease * 2 / 3)) }
    }

    pub fn confirmed(&self, at: Instant) {
        *self.valid_until.lock().unwrap_or_else(|p| p.into_inner()) = at + self.lease * 2 / 3;
    }

    pub fn expire(&self) {
        *self.valid_until.lock().unwrap_or_else(|p| p.into_inner()) =
            Instant::now() - Duration::from_millis(1);
    }

    fn check(&self) -> Result<(), String> {
        let valid_until = *self.valid_until.lock().unwrap_or_else(|p| p.into_inner());
        if Instant::now() < valid_until {
            Ok(())
        } else {
            Err("refused: this worker's lease on the job is not confirmed (it may have run elsewhere \
                 meanwhile); the job is being stopped"
                .into())
        }
    }
}

/// `adapters` with every write of storage and the git repositories checked against `clock`.
pub fn fenced(adapters: &Adapters, clock: &LeaseClock) -> Adapters {
    let repo = |inner: &Arc<dyn GitRepo>| -> Arc<dyn GitRepo> {
        Arc::new(FencedRepo { inner: inner.clone(), clock: clock.clone() })
    };
    Adapters {
        storage: Arc::new(FencedStorage { inner: adapters.storage.clone(), clock: clock.clone() }),
        registry: repo(&adapters.registry),
        index: repo(&adapters.index),
        legacy_package_sets: repo(&adapters.legacy_package_sets),
        docs: adapters.docs.clone(),
        sources: adapters.sources.clone(),
        compilers: adapters.compilers.clone(),
        build_root: adapters.build_root.clone(),
    }
}

struct FencedRepo {
    inner: Arc<dyn GitRepo>,
    clock: LeaseClock,
}

impl FencedRepo {
    fn check(&self) -> Result<(), GitError> {
        self.clock.check().map_err(|reason| GitError::Io {
            path: self.inner.describe(),
            source: std::io::Error::other(reason),
        })
    }
}

#[async_trait]
impl GitRepo for FencedRepo {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn read(&self, path: &str) -> Result<Option<String>, GitError> {
        self.inner.read(path).await
    }
    async fn list(&self, dir: &str) -> Result<Vec<String>, GitError> {
        self.inner.list(dir).await
    }
    async fn all_files(&self) -> Result<Vec<String>, GitError> {
        self.inner.all_files().await
    }
    async fn refresh(&self) -> Result<(), GitError> {
        self.inner.refresh().await
    }
    async fn revision(&self) -> Result<Option<String>, GitError> {
        self.inner.revision().await
    }
    async fn changed_since(&self, revision: &str) -> Result<Option<Vec<String>>, GitError> {
        self.inner.changed_since(revision).await
    }
    async fn commit_messages(&self, path: &str, needle: &str) -> Result<Vec<String>, GitError> {
        self.inner.commit_messages(path, needle).await
    }
    async fn commit(
        &self,
        changes: &[FileChange],
        message: &str,
        log: &dyn ActivityLog,
    ) -> Result<CommitOutcome, GitError> {
        self.check()?;
        self.inner.commit(changes, message, log).await
    }
    async fn tags(&self) -> Result<Vec<String>, GitError> {
        self.inner.tags().await
    }
    async fn push_tags(&self, tags: &[String], log: &dyn ActivityLog) -> Result<TagsOutcome, GitError> {
        self.check()?;
        self.inner.push_tags(tags, log).await
    }
}

struct FencedStorage {
    inner: Arc<dyn Storage>,
    clock: LeaseClock,
}

impl FencedStorage {
    fn check(&self, action: &'static str, key: &str) -> Result<(), StorageError> {
        self.clock.check().map_err(|reason| StorageError::Backend {
            action,
            key: key.to_owned(),
            target: self.inner.describe(),
            reason,
        })
    }
}

#[async_trait]
impl Storage for FencedStorage {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn put_once(&self, key: &str, bytes: Bytes, log: &dyn ActivityLog) -> Result<(), StorageError> {
        self.check("storing", key)?;
        self.inner.put_once(key, bytes, log).await
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        self.inner.get(key).await
    }
    async fn head(&self, key: &str) -> Result<Option<u64>, StorageError> {
        self.inner.head(key).await
    }
    async fn remove(&self, key: &str, log: &dyn ActivityLog) -> Result<(), StorageError> {
        self.check("deleting", key)?;
        self.inner.remove(key, log).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner.list(prefix).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_start_only_while_a_third_of_the_lease_is_left() {
        let lease = Duration::from_secs(30);
        let start = Instant::now();
        let clock = LeaseClock::new(lease, start);
        assert!(clock.check().is_ok());
        let stale = LeaseClock::new(lease, start - Duration::from_secs(21));
        assert!(stale.check().unwrap_err().contains("lease"));
        stale.confirmed(Instant::now());
        assert!(stale.check().is_ok());
        stale.expire();
        assert!(stale.check().is_err());
    }
}
