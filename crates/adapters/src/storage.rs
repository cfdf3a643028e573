//! Package tarball storage: `<name>/<version>.tar.gz`, written once, never overwritten.
//!
//! The same store also keeps the registry's own immutable objects (the build cache)
//! under [`ObjectKey`]s, whose first segment starts with `_`: never a package name,
//! so they can never collide with a tarball or show up as a package's version.

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

/// The key of an object that is not a package tarball, e.g.
/// `_build-cache/3f/3f9a….tar.gz`: segments of `[A-Za-z0-9._-]`, none `.` or `..`, the
/// first starting with `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn new(key: impl Into<String>) -> Result<ObjectKey, String> {
        let key = key.into();
        let segments: Vec<&str> = key.split('/').collect();
        if !segments[0].starts_with('_') {
            return Err(format!(
                "object key {key:?} must start with a segment beginning with '_' (package tarballs own every other name)"
            ));
        }
        for segment in &segments {
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
            if segment.is_empty() || *segment == "." || *segment == ".." || !segment.chars().all(allowed) {
                return Err(format!(
                    "object key {key:?} has an invalid segment {segment:?}: use non-empty segments of letters, digits, '.', '_' and '-' (not '.' or '..')"
                ));
            }
        }
        Ok(ObjectKey(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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

    /// Stores an immutable object. Equal keys must mean equal content, so storing a key
    /// that exists keeps the stored object and answers `false`.
    async fn put_object(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        log: &dyn ActivityLog,
    ) -> Result<bool, StorageError>;

    async fn get_object(&self, key: &ObjectKey) -> Result<Option<Bytes>, StorageError>;

    async fn has_object(&self, key: &ObjectKey) -> Result<bool, StorageError>;
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

    /// Writes `bytes` at `path` unless a file is there (then `false`). Written aside,
    /// then hard-linked into place: the link fails if the target exists, so two
    /// writers cannot both succeed and readers never see half a file.
    async fn write_once(
        &self,
        action: &'static str,
        key: &str,
        path: &Path,
        bytes: &[u8],
    ) -> Result<bool, StorageError> {
        let dir = path.parent().expect("a stored path has a parent");
        let file = path.file_name().expect("a stored path names a file").to_string_lossy();
        tokio::fs::create_dir_all(dir).await.map_err(|e| self.backend(action, key.to_owned(), e))?;
        let staging = dir.join(format!(".{file}.{}.partial", std::process::id()));
        tokio::fs::write(&staging, bytes).await.map_err(|e| self.backend(action, key.to_owned(), e))?;
        let linked = tokio::fs::hard_link(&staging, path).await;
        let _ = tokio::fs::remove_file(&staging).await;
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(self.backend(action, key.to_owned(), e)),
        }
    }

    async fn read_file(
        &self,
        action: &'static str,
        key: &str,
        path: &Path,
    ) -> Result<Option<Bytes>, StorageError> {
        match tokio::fs::read(path).await {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.backend(action, key.to_owned(), e)),
        }
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
        let size = tarball.len();
        if !self.write_once("upload", &key, &self.path(name, version), &tarball).await? {
            return Err(StorageError::AlreadyExists { key, target: self.describe() });
        }
        log.info(&format!("Uploaded {key} ({size} bytes) to {}", self.describe()));
        Ok(())
    }

    async fn download(&self, name: &PackageName, version: &Version) -> Result<Option<Bytes>, StorageError> {
        self.read_file("download", &tarball_key(name, version), &self.path(name, version)).await
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

    async fn put_object(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        log: &dyn ActivityLog,
    ) -> Result<bool, StorageError> {
        let stored = self.write_once("store", key.as_str(), &self.root.join(key.as_str()), &bytes).await?;
        if stored {
            log.debug(&format!("Stored {key} ({} bytes) in {}", bytes.len(), self.describe()));
        }
        Ok(stored)
    }

    async fn get_object(&self, key: &ObjectKey) -> Result<Option<Bytes>, StorageError> {
        self.read_file("read", key.as_str(), &self.root.join(key.as_str())).await
    }

    async fn has_object(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        tokio::fs::try_exists(self.root.join(key.as_str()))
            .await
            .map_err(|e| self.backend("check", key.to_string(), e))
    }
}

/// Storage in READONLY mode: reads go to the real storage; uploads and objects are
/// kept in a local cache directory (so a later job of this server can still install
/// the tarball or reuse the build result) and deletes are skipped, each with a NOTICE
/// saying what would have happened.
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
        log.readonly_skip(&format!(
            "upload {key} ({} bytes) to {}; kept it in the local read-only cache instead",
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
        log.readonly_skip(&format!("delete {key} from {}", self.inner.describe()));
        Ok(())
    }

    async fn versions(&self, name: &PackageName) -> Result<BTreeSet<Version>, StorageError> {
        let mut versions = self.inner.versions(name).await?;
        versions.extend(self.cache.versions(name).await?);
        Ok(versions)
    }

    async fn put_object(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        log: &dyn ActivityLog,
    ) -> Result<bool, StorageError> {
        if self.inner.has_object(key).await? {
            return Ok(false);
        }
        let stored = self.cache.put_object(key, bytes.clone(), &crate::NullLog).await?;
        if stored {
            log.readonly_skip(&format!(
                "store {key} ({} bytes) in {}; kept it in the local read-only cache instead",
                bytes.len(),
                self.inner.describe()
            ));
        }
        Ok(stored)
    }

    async fn get_object(&self, key: &ObjectKey) -> Result<Option<Bytes>, StorageError> {
        match self.cache.get_object(key).await? {
            Some(bytes) => Ok(Some(bytes)),
            None => self.inner.get_object(key).await,
        }
    }

    async fn has_object(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        Ok(self.cache.has_object(key).await? || self.inner.has_object(key).await?)
    }
}
