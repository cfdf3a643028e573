//! The build cache kept in the registry's [`Storage`] adapter (a local directory by
//! default, an S3-compatible bucket in production), so a fresh working directory,
//! another worker or another machine restores what was already built.
//!
//! One object per package build: `_build-cache/<first two hex digits>/<key>.tar.gz`,
//! a gzipped tar of `<Module>/<file>` entries with fixed metadata, so equal outputs
//! give equal bytes. Objects are immutable: equal keys mean equal outputs.
//!
//! Each object records the sha256 of its content ([`DIGEST_ENTRY`], first entry): a
//! bucket, a disk or a person can damage an object after it was written, and a
//! damaged object must never become a package's output. One that cannot be read or
//! whose content does not match its recorded digest is reported as
//! [`std::io::ErrorKind::InvalidData`], which the engine treats as missing (a WARN,
//! then a rebuild) after discarding the object so the rebuilt result can be stored.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Component;
use std::sync::Arc;

use bytes::Bytes;
use registry_adapters::{ActivityLog, ObjectKey, Storage, StorageError};
use registry_core::build_plan::BuildKey;
use sha2::{Digest, Sha256};

use crate::cache::{BuildCache, CachedOutput};

/// Refuses entries larger than this when reading (a corrupt or hostile object must
/// not exhaust memory); a package's output is a few hundred kilobytes.
const MAX_ENTRY_BYTES: u64 = 512 * 1024 * 1024;

/// The entry holding the hex sha256 of the object's files ([`content_digest`]).
pub const DIGEST_ENTRY: &str = "content.sha256";

enum Runtime {
    Borrowed(tokio::runtime::Handle),
    Owned(tokio::runtime::Runtime),
}

/// A [`BuildCache`] over a [`Storage`]. The engine is synchronous and runs on a
/// blocking thread; storage calls are driven by the given runtime.
pub struct StorageCache {
    storage: Arc<dyn Storage>,
    runtime: Runtime,
    log: Arc<dyn ActivityLog>,
}

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl StorageCache {
    /// Uses `runtime` for storage calls: a multi-thread runtime's handle (a
    /// current-thread runtime's handle cannot drive I/O from another thread), and the
    /// cache called from outside its worker threads (e.g. in `spawn_blocking`).
    /// Writes are reported to `log`.
    pub fn new(
        storage: Arc<dyn Storage>,
        runtime: tokio::runtime::Handle,
        log: Arc<dyn ActivityLog>,
    ) -> StorageCache {
        StorageCache { storage, runtime: Runtime::Borrowed(runtime), log }
    }

    /// For callers without a runtime (command-line tools, tests): owns a small one.
    pub fn standalone(storage: Arc<dyn Storage>, log: Arc<dyn ActivityLog>) -> std::io::Result<StorageCache> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(StorageCache { storage, runtime: Runtime::Owned(runtime), log })
    }

    /// A cache in a local directory (command-line tools, tests).
    pub fn local(dir: impl Into<std::path::PathBuf>) -> std::io::Result<StorageCache> {
        Self::standalone(
            Arc::new(registry_adapters::LocalStorage::new(dir)),
            Arc::new(registry_adapters::NullLog),
        )
    }

    pub fn object_key(key: &BuildKey) -> std::io::Result<ObjectKey> {
        let prefix = key.0.get(..2).unwrap_or(&key.0);
        ObjectKey::new(format!("_build-cache/{prefix}/{}.tar.gz", key.0)).map_err(io_error)
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        match &self.runtime {
            Runtime::Borrowed(handle) => handle.block_on(future),
            Runtime::Owned(runtime) => runtime.block_on(future),
        }
    }
}

impl BuildCache for StorageCache {
    fn describe(&self) -> String {
        format!("build cache in {}", self.storage.describe())
    }

    fn contains(&self, key: &BuildKey) -> std::io::Result<bool> {
        let object = Self::object_key(key)?;
        self.block_on(self.storage.has_object(&object)).map_err(io_error)
    }

    fn get(&self, key: &BuildKey) -> std::io::Result<Option<CachedOutput>> {
        let object = Self::object_key(key)?;
        let Some(bytes) = self.block_on(self.storage.get_object(&object)).map_err(io_error)? else {
            return Ok(None);
        };
        decode(&bytes).map(Some).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{object} in {}: {e}", self.storage.describe()),
            )
        })
    }

    fn discard(&self, key: &BuildKey) -> std::io::Result<()> {
        let object = Self::object_key(key)?;
        match self.block_on(self.storage.remove(object.as_str(), self.log.as_ref())) {
            Ok(()) | Err(StorageError::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    fn put(&self, key: &BuildKey, output: &CachedOutput) -> std::io::Result<()> {
        let object = Self::object_key(key)?;
        let bytes = encode(output)?;
        self.block_on(self.storage.put_object(&object, Bytes::from(bytes), self.log.as_ref()))
            .map_err(io_error)?;
        Ok(())
    }
}

/// The sha256 (hex) of an output's files: each path and content, length-prefixed, in
/// key order, so no two different outputs share a digest by concatenation.
pub fn content_digest(files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut hasher = Sha256::new();
    for (path, bytes) in files {
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hex::encode(hasher.finalize())
}

/// A gzipped tar of the output's files, in key order, with fixed metadata, after the
/// [`DIGEST_ENTRY`] recording their digest.
pub fn encode(output: &CachedOutput) -> std::io::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let digest = content_digest(&output.files);
    let entries = std::iter::once((DIGEST_ENTRY, digest.as_bytes()))
        .chain(output.files.iter().map(|(p, b)| (p.as_str(), &b[..])));
    for (path, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, bytes)?;
    }
    tar.into_inner()?.finish()
}

/// Reads an object written by [`encode`], refusing anything but plain files at
/// relative paths of at least two segments (`<Module>/<file>`), and content that
/// does not match the recorded digest.
pub fn decode(bytes: &[u8]) -> Result<CachedOutput, String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut files = BTreeMap::new();
    let mut recorded: Option<String> = None;
    for entry in archive.entries().map_err(|e| format!("not a build-cache entry: {e}"))? {
        let mut entry = entry.map_err(|e| format!("not a build-cache entry: {e}"))?;
        let path = entry.path().map_err(|e| format!("unreadable path: {e}"))?.into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(format!("{} is not a regular file", path.display()));
        }
        if recorded.is_none() && files.is_empty() && path.to_str() == Some(DIGEST_ENTRY) {
            let mut digest = String::new();
            entry
                .by_ref()
                .take(64)
                .read_to_string(&mut digest)
                .map_err(|e| format!("{DIGEST_ENTRY}: {e}"))?;
            recorded = Some(digest);
            continue;
        }
        let normal = path.components().all(|c| matches!(c, Component::Normal(_)));
        let rel = path.to_str().filter(|_| normal && path.components().count() >= 2);
        let Some(rel) = rel else {
            return Err(format!("{} is not a <Module>/<file> path", path.display()));
        };
        let rel = rel.to_owned();
        if entry.size() > MAX_ENTRY_BYTES {
            return Err(format!("{rel} is larger than {MAX_ENTRY_BYTES} bytes"));
        }
        let mut content = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut content).map_err(|e| format!("{rel}: {e}"))?;
        files.insert(rel, content);
    }
    let Some(recorded) = recorded else {
        return Err(format!("no recorded digest ({DIGEST_ENTRY})"));
    };
    let actual = content_digest(&files);
    if actual != recorded {
        return Err(format!("its content has sha256 {actual}, but {recorded} was recorded"));
    }
    Ok(CachedOutput { files })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CachedOutput {
        let mut files = BTreeMap::new();
        files.insert("Data.Maybe/index.js".to_owned(), b"export const x = 1;\n".to_vec());
        files.insert("Data.Maybe/externs.cbor".to_owned(), vec![0, 1, 2, 255]);
        files.insert("Data.Maybe.Lazy/foreign.js".to_owned(), Vec::new());
        CachedOutput { files }
    }

    #[test]
    fn encoding_round_trips_and_is_deterministic() {
        let out = sample();
        let bytes = encode(&out).unwrap();
        assert_eq!(decode(&bytes).unwrap(), out);
        assert_eq!(encode(&out).unwrap(), bytes, "equal outputs must give equal objects");
    }

    #[test]
    fn decoding_refuses_paths_that_escape_or_are_not_module_files() {
        for bad in ["../evil/index.js", "index.js"] {
            let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let mut tar = tar::Builder::new(gz);
            let mut header = tar::Header::new_gnu();
            header.set_size(1);
            // Written raw: the tar crate refuses `..` in append_data's path.
            header.as_gnu_mut().unwrap().name[..bad.len()].copy_from_slice(bad.as_bytes());
            header.set_cksum();
            tar.append(&header, &b"x"[..]).unwrap();
            let bytes = tar.into_inner().unwrap().finish().unwrap();
            let err = decode(&bytes).unwrap_err();
            assert!(err.contains("is not a <Module>/<file> path"), "{bad}: {err}");
        }
        assert!(decode(b"not a tarball").unwrap_err().contains("not a build-cache entry"));
    }

    #[test]
    fn decoding_refuses_content_that_does_not_match_its_recorded_digest() {
        let out = sample();
        let mut other = out.clone();
        other.files.insert("Data.Maybe/index.js".to_owned(), b"export const x = 2;\n".to_vec());
        // The object of `other` with `out`'s digest: what a damaged object looks like
        // once it still unpacks.
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let digest = content_digest(&out.files);
        let entries = std::iter::once((DIGEST_ENTRY, digest.as_bytes()))
            .chain(other.files.iter().map(|(p, b)| (p.as_str(), &b[..])));
        for (path, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, path, bytes).unwrap();
        }
        let forged = tar.into_inner().unwrap().finish().unwrap();
        let err = decode(&forged).unwrap_err();
        assert!(err.contains("but ") && err.contains("was recorded"), "{err}");
        // An object without a digest (written before digests) is refused too.
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        tar.append_data(&mut header, "A/index.js", &b"x"[..]).unwrap();
        let bare = tar.into_inner().unwrap().finish().unwrap();
        assert!(decode(&bare).unwrap_err().contains("no recorded digest"));
    }

    #[test]
    fn object_keys_live_outside_the_tarball_namespace() {
        let key = BuildKey("ab12cd".into());
        assert_eq!(StorageCache::object_key(&key).unwrap().as_str(), "_build-cache/ab/ab12cd.tar.gz");
    }
}
