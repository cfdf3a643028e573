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

/// Where tarballs and build-cache objects live.
///
/// Backends implement only the object interface — [`put_once`](Storage::put_once),
/// [`get`](Storage::get), [`head`](Storage::head), [`remove`](Storage::remove),
/// [`list`](Storage::list) — over string keys; package tarballs and [`ObjectKey`]
/// objects are built on it once, by the provided methods, so every backend keeps the
/// same key layout and the same write-once rule.
#[async_trait]
pub trait Storage: Send + Sync {
    /// Where writes go, for messages (`local directory /x`, `S3 bucket b at https://…`).
    fn describe(&self) -> String;

    /// Writes `bytes` under `key`, or fails with [`StorageError::AlreadyExists`] if an
    /// object is there: nothing stored is ever overwritten. Logs what it did (see
    /// [`log_write`]).
    async fn put_once(&self, key: &str, bytes: Bytes, log: &dyn ActivityLog) -> Result<(), StorageError>;

    /// The object under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError>;

    /// The size of the object under `key`, if there is one.
    async fn head(&self, key: &str) -> Result<Option<u64>, StorageError>;

    /// Deletes the object under `key`, or fails with [`StorageError::NotFound`].
    async fn remove(&self, key: &str, log: &dyn ActivityLog) -> Result<(), StorageError>;

    /// The names of the objects directly under `prefix/` (not the full keys).
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;

    /// Stores a new tarball; fails if one is already stored for `name@version`.
    async fn upload(
        &self,
        name: &PackageName,
        version: &Version,
        tarball: Bytes,
        log: &dyn ActivityLog,
    ) -> Result<(), StorageError> {
        self.put_once(&tarball_key(name, version), tarball, log).await
    }

    async fn download(&self, name: &PackageName, version: &Version) -> Result<Option<Bytes>, StorageError> {
        self.get(&tarball_key(name, version)).await
    }

    /// Removes a stored tarball; fails if there is none.
    async fn delete(
        &self,
        name: &PackageName,
        version: &Version,
        log: &dyn ActivityLog,
    ) -> Result<(), StorageError> {
        self.remove(&tarball_key(name, version), log).await
    }

    /// The versions stored for a package. Listing `<name>/` can never meet an
    /// [`ObjectKey`], whose first segment starts with `_`.
    async fn versions(&self, name: &PackageName) -> Result<BTreeSet<Version>, StorageError> {
        let files = self.list(name.as_str()).await?;
        Ok(files
            .iter()
            .filter_map(|f| f.strip_suffix(".tar.gz"))
            .filter_map(|v| Version::parse(v).ok())
            .collect())
    }

    /// Stores an immutable object. Equal keys must mean equal content, so storing a key
    /// that exists keeps the stored object and answers `false`.
    async fn put_object(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        log: &dyn ActivityLog,
    ) -> Result<bool, StorageError> {
        match self.put_once(key.as_str(), bytes, log).await {
            Ok(()) => Ok(true),
            Err(StorageError::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn get_object(&self, key: &ObjectKey) -> Result<Option<Bytes>, StorageError> {
        self.get(key.as_str()).await
    }

    async fn has_object(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        Ok(self.head(key.as_str()).await?.is_some())
    }
}

/// How messages name a key's operations: tarballs are uploaded (logged at INFO: what a
/// job visibly did) and downloaded; build-cache objects are stored (DEBUG: bookkeeping)
/// and read. Only an [`ObjectKey`] starts with `_`.
pub(crate) struct Words {
    pub(crate) object: bool,
    pub(crate) write: &'static str,
    pub(crate) read: &'static str,
    pub(crate) to: &'static str,
}

pub(crate) fn words(key: &str) -> Words {
    match key.starts_with('_') {
        true => Words { object: true, write: "store", read: "read", to: "in" },
        false => Words { object: false, write: "upload", read: "download", to: "to" },
    }
}

/// The log line of a backend's write of `size` bytes under `key` to `target`.
pub(crate) fn log_write(log: &dyn ActivityLog, key: &str, size: usize, target: &str) {
    match words(key) {
        Words { object: true, .. } => log.debug(&format!("Stored {key} ({size} bytes) in {target}")),
        _ => log.info(&format!("Uploaded {key} ({size} bytes) to {target}")),
    }
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

    fn backend(&self, action: &'static str, key: String, err: impl std::fmt::Display) -> StorageError {
        StorageError::Backend { action, key, target: self.describe(), reason: err.to_string() }
    }
}

#[async_trait]
impl Storage for LocalStorage {
    fn describe(&self) -> String {
        format!("local directory {}", self.root.display())
    }

    /// Written aside, then hard-linked into place: the link fails if the target
    /// exists, so two writers cannot both succeed and readers never see half a file.
    async fn put_once(&self, key: &str, bytes: Bytes, log: &dyn ActivityLog) -> Result<(), StorageError> {
        let action = words(key).write;
        let path = self.root.join(key);
        let dir = path.parent().expect("a stored path has a parent");
        let file = path.file_name().expect("a stored path names a file").to_string_lossy();
        tokio::fs::create_dir_all(dir).await.map_err(|e| self.backend(action, key.to_owned(), e))?;
        let staging = dir.join(format!(".{file}.{}.partial", std::process::id()));
        tokio::fs::write(&staging, &bytes).await.map_err(|e| self.backend(action, key.to_owned(), e))?;
        let linked = tokio::fs::hard_link(&staging, &path).await;
        let _ = tokio::fs::remove_file(&staging).await;
        match linked {
            Ok(()) => {
                log_write(log, key, bytes.len(), &self.describe());
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                Err(StorageError::AlreadyExists { key: key.to_owned(), target: self.describe() })
            }
            Err(e) => Err(self.backend(action, key.to_owned(), e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        match tokio::fs::read(self.root.join(key)).await {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.backend(words(key).read, key.to_owned(), e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, StorageError> {
        match tokio::fs::metadata(self.root.join(key)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.backend("check", key.to_owned(), e)),
        }
    }

    async fn remove(&self, key: &str, log: &dyn ActivityLog) -> Result<(), StorageError> {
        match tokio::fs::remove_file(self.root.join(key)).await {
            Ok(()) => {
                log.info(&format!("Deleted {key} from {}", self.describe()));
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Err(StorageError::NotFound { key: key.to_owned(), target: self.describe() })
            }
            Err(e) => Err(self.backend("delete", key.to_owned(), e)),
        }
    }

    /// Skips staging files (`.…partial`): they are not objects yet.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let failed = |e: std::io::Error| self.backend("list", format!("{prefix}/"), e);
        let mut entries = match tokio::fs::read_dir(self.root.join(prefix)).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(failed(e)),
        };
        let mut names = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(failed)? {
            let is_file = entry.file_type().await.map_err(failed)?.is_file();
            match entry.file_name().into_string() {
                Ok(name) if is_file && !name.starts_with('.') => names.push(name),
                _ => {}
            }
        }
        Ok(names)
    }
}

/// Storage in READONLY mode: reads go to the real storage; writes are kept in a
/// local cache directory (so a later job of this server can still install the
/// tarball or reuse the build result) and deletes are skipped, each with a NOTICE
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

    /// Refuses what the real storage has. A tarball this server already kept is a
    /// skipped write again (a READONLY re-run must not fail where the first run did
    /// not); an object already kept is there, as the build cache expects.
    async fn put_once(&self, key: &str, bytes: Bytes, log: &dyn ActivityLog) -> Result<(), StorageError> {
        let exists = || StorageError::AlreadyExists { key: key.to_owned(), target: self.inner.describe() };
        if self.inner.head(key).await?.is_some() {
            return Err(exists());
        }
        let (words, size) = (words(key), bytes.len());
        match self.cache.put_once(key, bytes, &crate::NullLog).await {
            Ok(()) => {}
            Err(StorageError::AlreadyExists { .. }) if words.object => return Err(exists()),
            Err(StorageError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
        log.readonly_skip(&format!(
            "{} {key} ({size} bytes) {} {}; kept it in the local read-only cache instead",
            words.write,
            words.to,
            self.inner.describe()
        ));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        match self.cache.get(key).await? {
            Some(bytes) => Ok(Some(bytes)),
            None => self.inner.get(key).await,
        }
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, StorageError> {
        match self.cache.head(key).await? {
            Some(size) => Ok(Some(size)),
            None => self.inner.head(key).await,
        }
    }

    async fn remove(&self, key: &str, log: &dyn ActivityLog) -> Result<(), StorageError> {
        if self.head(key).await?.is_none() {
            return Err(StorageError::NotFound { key: key.to_owned(), target: self.inner.describe() });
        }
        log.readonly_skip(&format!("delete {key} from {}", self.inner.describe()));
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let mut names: BTreeSet<String> = self.inner.list(prefix).await?.into_iter().collect();
        names.extend(self.cache.list(prefix).await?);
        Ok(names.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::collections::btree_map::Entry;
    use std::sync::Mutex;

    use super::*;
    use crate::activity::MemoryLog;

    /// The smallest backend: a map. Only the object interface, so everything the
    /// provided layer does must come out the same as over a directory.
    #[derive(Default)]
    struct MapStorage(Mutex<BTreeMap<String, Bytes>>);

    #[async_trait]
    impl Storage for MapStorage {
        fn describe(&self) -> String {
            "the map".into()
        }
        async fn put_once(&self, key: &str, bytes: Bytes, log: &dyn ActivityLog) -> Result<(), StorageError> {
            let size = bytes.len();
            match self.0.lock().unwrap().entry(key.to_owned()) {
                Entry::Occupied(_) => {
                    return Err(StorageError::AlreadyExists { key: key.into(), target: self.describe() });
                }
                Entry::Vacant(slot) => slot.insert(bytes),
            };
            log_write(log, key, size, &self.describe());
            Ok(())
        }
        async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
            Ok(self.0.lock().unwrap().get(key).cloned())
        }
        async fn head(&self, key: &str) -> Result<Option<u64>, StorageError> {
            Ok(self.0.lock().unwrap().get(key).map(|b| b.len() as u64))
        }
        async fn remove(&self, key: &str, log: &dyn ActivityLog) -> Result<(), StorageError> {
            self.0
                .lock()
                .unwrap()
                .remove(key)
                .ok_or_else(|| StorageError::NotFound { key: key.into(), target: self.describe() })?;
            log.info(&format!("Deleted {key} from {}", self.describe()));
            Ok(())
        }
        async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
            let map = self.0.lock().unwrap();
            let under = |k: &String| k.strip_prefix(&format!("{prefix}/")).map(String::from);
            Ok(map.keys().filter_map(under).filter(|r| !r.contains('/')).collect())
        }
    }

    /// Every tarball and object operation, written down with its answer and log.
    async fn transcript(storage: &dyn Storage) -> Vec<String> {
        let log = MemoryLog::default();
        let name = PackageName::parse("build-cache").unwrap();
        let (v1, v2) = (Version::new(1, 0, 0), Version::new(1, 0, 1));
        let object = ObjectKey::new("_build-cache/ab/abcdef.tar.gz").unwrap();
        let shown = |r: Result<String, StorageError>| match r {
            Ok(v) => v,
            Err(e) => format!("error {e:?}"),
        };
        let mut out = vec![
            shown(storage.upload(&name, &v1, Bytes::from_static(b"one"), &log).await.map(|()| "ok".into())),
            shown(storage.upload(&name, &v1, Bytes::from_static(b"two"), &log).await.map(|()| "ok".into())),
            shown(storage.upload(&name, &v2, Bytes::from_static(b"2"), &log).await.map(|()| "ok".into())),
            shown(
                storage.put_object(&object, Bytes::from_static(b"cached"), &log).await.map(|b| b.to_string()),
            ),
            shown(
                storage.put_object(&object, Bytes::from_static(b"other"), &log).await.map(|b| b.to_string()),
            ),
            shown(storage.download(&name, &v1).await.map(|b| format!("{b:?}"))),
            shown(storage.get_object(&object).await.map(|b| format!("{b:?}"))),
            shown(storage.has_object(&object).await.map(|b| b.to_string())),
            shown(storage.versions(&name).await.map(|v| format!("{v:?}"))),
            shown(storage.delete(&name, &v1, &log).await.map(|()| "ok".into())),
            shown(storage.delete(&name, &v1, &log).await.map(|()| "ok".into())),
            shown(storage.download(&name, &v1).await.map(|b| format!("{b:?}"))),
            shown(storage.versions(&name).await.map(|v| format!("{v:?}"))),
        ];
        out.extend(log.lines().into_iter().map(|(level, line)| format!("{level}: {line}")));
        out.into_iter().map(|line| line.replace(&storage.describe(), "TARGET")).collect()
    }

    #[tokio::test]
    async fn tarballs_and_objects_behave_the_same_over_every_backend() {
        let dir = tempfile::tempdir().unwrap();
        let local = transcript(&LocalStorage::new(dir.path())).await;
        let map = transcript(&MapStorage::default()).await;
        assert_eq!(local, map);
        // The transcript is the layer's rules, not an empty agreement.
        assert!(local[1].starts_with("error AlreadyExists"), "{local:#?}");
        assert_eq!(local[4], "false");
        assert_eq!(
            local[8],
            "{Version { major: 1, minor: 0, patch: 0 }, Version { major: 1, minor: 0, patch: 1 }}"
        );
        assert!(local[10].starts_with("error NotFound"), "{local:#?}");
        assert!(
            local.contains(&"DEBUG: Stored _build-cache/ab/abcdef.tar.gz (6 bytes) in TARGET".to_owned())
        );
    }
}
