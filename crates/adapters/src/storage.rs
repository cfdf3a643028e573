//! Package tarball storage: `<name>/<version>.tar.gz`, written once, never overwritten.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use registry_core::{PackageName, Version};

use crate::ActivityLog;

/// The object key (and public URL path) of a tarball.
pub fn tarball_key(name: &PackageName, version: &Version) -> String {
    format!("{name}/{version}.tar.gz")
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{key} already exists in {target}; stored tarballs are never overwritten")]
    AlreadyExists { key: String, target: String },
    #[error("{key} does not exist in {target}")]
    NotFound { key: String, target: String },
    #[error("{action} {key} in {target} failed: {reason}")]
    Backend { action: &'static str, key: String, target: String, reason: String },
}

/// Where tarballs live.
#[async_trait]
pub trait Storage: Send + Sync {
    /// Where writes go, for messages (`local directory /x`, `S3 bucket b at https://…`).
    fn describe(&self) -> String;

    /// Stores a new tarball; fails if one is already stored for `name@version`.
    async fn upload(
        &self,
        name: &PackageName,
        version: &Version,
        tarball: Bytes,
        log: &dyn ActivityLog,
    ) -> Result<(), StorageError>;

    async fn download(&self, name: &PackageName, version: &Version) -> Result<Option<Bytes>, StorageError>;

    /// Removes a stored tarball; fails if there is none.
    async fn delete(
        &self,
        name: &PackageName,
        version: &Version,
        log: &dyn ActivityLog,
    ) -> Result<(), StorageError>;

    /// The versions stored for a package.
    async fn versions(&self, name: &PackageName) -> Result<BTreeSet<Version>, StorageError>;
}

/// Tarballs in a local directory, laid out like the public storage host.
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStorage { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &PackageName, version: &Version) -> PathBuf {
        self.root.join(name.as_str()).join(format!("{version}.tar.gz"))
    }

    fn backend(&self, action: &'static str, key: String, err: impl std::fmt::Display) -> StorageError {
        StorageError::Backend { action, key, target: self.describe(), reason: err.to_string() }
    }
}

#[async_trait]
impl Storage for LocalStorage {
    fn describe(&self) -> String {
        format!("local directory {}", self.root.display())
    }

    async fn upload(
        &self,
        name: &PackageName,
        version: &Version,
        tarball: Bytes,
        log: &dyn ActivityLog,
    ) -> Result<(), StorageError> {
        let key = tarball_key(name, version);
        let path = self.path(name, version);
        let dir = path.parent().expect("a tarball path has a parent").to_owned();
        tokio::fs::create_dir_all(&dir).await.map_err(|e| self.backend("upload", key.clone(), e))?;
        // Written aside, then hard-linked into place: the link fails if the target
        // exists, so two writers cannot both succeed and readers never see half a file.
        let staging = dir.join(format!(".{version}.tar.gz.{}.partial", std::process::id()));
        let size = tarball.len();
        tokio::fs::write(&staging, &tarball).await.map_err(|e| self.backend("upload", key.clone(), e))?;
        let linked = tokio::fs::hard_link(&staging, &path).await;
        let _ = tokio::fs::remove_file(&staging).await;
        match linked {
            Ok(()) => {
                log.info(&format!("Uploaded {key} ({size} bytes) to {}", self.describe()));
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                Err(StorageError::AlreadyExists { key, target: self.describe() })
            }
            Err(e) => Err(self.backend("upload", key, e)),
        }
    }

    async fn download(&self, name: &PackageName, version: &Version) -> Result<Option<Bytes>, StorageError> {
        match tokio::fs::read(self.path(name, version)).await {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.backend("download", tarball_key(name, version), e)),
        }
    }

    async fn delete(
        &self,
        name: &PackageName,
        version: &Version,
        log: &dyn ActivityLog,
    ) -> Result<(), StorageError> {
        let key = tarball_key(name, version);
        match tokio::fs::remove_file(self.path(name, version)).await {
            Ok(()) => {
                log.info(&format!("Deleted {key} from {}", self.describe()));
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Err(StorageError::NotFound { key, target: self.describe() })
            }
            Err(e) => Err(self.backend("delete", key, e)),
        }
    }

    async fn versions(&self, name: &PackageName) -> Result<BTreeSet<Version>, StorageError> {
        let dir = self.root.join(name.as_str());
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(BTreeSet::new()),
            Err(e) => return Err(self.backend("list", format!("{name}/"), e)),
        };
        let mut versions = BTreeSet::new();
        while let Some(entry) =
            entries.next_entry().await.map_err(|e| self.backend("list", format!("{name}/"), e))?
        {
            let file = entry.file_name();
            if let Some(v) =
                file.to_str().and_then(|f| f.strip_suffix(".tar.gz")).and_then(|v| Version::parse(v).ok())
            {
                versions.insert(v);
            }
        }
        Ok(versions)
    }
}

/// Storage in READONLY mode: reads go to the real storage; uploads are kept in a
/// local cache directory (so a later job of this server can still install the
/// tarball) and deletes are skipped, each with a NOTICE saying what would have
/// happened.
pub struct ReadOnlyStorage {
    inner: Arc<dyn Storage>,
    cache: LocalStorage,
}

impl ReadOnlyStorage {
    pub fn new(inner: Arc<dyn Storage>, cache_dir: impl Into<PathBuf>) -> Self {
        ReadOnlyStorage { inner, cache: LocalStorage::new(cache_dir) }
    }
}

#[async_trait]
impl Storage for ReadOnlyStorage {
    fn describe(&self) -> String {
        format!("{} (read-only)", self.inner.describe())
    }

    async fn upload(
        &self,
        name: &PackageName,
        version: &Version,
        tarball: Bytes,
        log: &dyn ActivityLog,
    ) -> Result<(), StorageError> {
        let key = tarball_key(name, version);
        if self.inner.download(name, version).await?.is_some() {
            return Err(StorageError::AlreadyExists { key, target: self.inner.describe() });
        }
        log.notice(&format!(
            "READONLY: skipped uploading {key} ({} bytes) to {}; kept in the local read-only cache instead",
            tarball.len(),
            self.inner.describe()
        ));
        match self.cache.upload(name, version, tarball, &crate::NullLog).await {
            Ok(()) | Err(StorageError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn download(&self, name: &PackageName, version: &Version) -> Result<Option<Bytes>, StorageError> {
        match self.cache.download(name, version).await? {
            Some(bytes) => Ok(Some(bytes)),
            None => self.inner.download(name, version).await,
        }
    }

    async fn delete(
        &self,
        name: &PackageName,
        version: &Version,
        log: &dyn ActivityLog,
    ) -> Result<(), StorageError> {
        let key = tarball_key(name, version);
        if self.inner.download(name, version).await?.is_none()
            && self.cache.download(name, version).await?.is_none()
        {
            return Err(StorageError::NotFound { key, target: self.inner.describe() });
        }
        log.notice(&format!("READONLY: skipped deleting {key} from {}", self.inner.describe()));
        Ok(())
    }

    async fn versions(&self, name: &PackageName) -> Result<BTreeSet<Version>, StorageError> {
        let mut versions = self.inner.versions(name).await?;
        versions.extend(self.cache.versions(name).await?);
        Ok(versions)
    }
}
