//! The build cache kept in the registry's [`Storage`] adapter (a local directory by
//! default, an S3-compatible bucket in production), so a fresh working directory,
//! another worker or another machine restores what was already built.
//!
//! One object per package build: `_build-cache/<first two hex digits>/<key>.tar.gz`,
//! a gzipped tar of `<Module>/<file>` entries with fixed metadata, so equal outputs
//! give equal bytes. Objects are immutable: equal keys mean equal outputs.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Component;
use std::sync::Arc;

use bytes::Bytes;
use registry_adapters::{ActivityLog, ObjectKey, Storage};
use registry_core::build_plan::BuildKey;

use crate::cache::{BuildCache, CachedOutput};

/// Refuses entries larger than this when reading (a corrupt or hostile object must
/// not exhaust memory); a package's output is a few hundred kilobytes.
const MAX_ENTRY_BYTES: u64 = 512 * 1024 * 1024;

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
        decode(&bytes)
            .map(Some)
            .map_err(|e| io_error(format!("{object} in {}: {e}", self.storage.describe())))
    }

    fn put(&self, key: &BuildKey, output: &CachedOutput) -> std::io::Result<()> {
        let object = Self::object_key(key)?;
        let bytes = encode(output)?;
        self.block_on(self.storage.put_object(&object, Bytes::from(bytes), self.log.as_ref()))
            .map_err(io_error)?;
        Ok(())
    }
}

/// A gzipped tar of the output's files, in key order, with fixed metadata.
pub fn encode(output: &CachedOutput) -> std::io::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, bytes) in &output.files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, &bytes[..])?;
    }
    tar.into_inner()?.finish()
}

/// Reads an object written by [`encode`], refusing anything but plain files at
/// relative paths of at least two segments (`<Module>/<file>`).
pub fn decode(bytes: &[u8]) -> Result<CachedOutput, String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut files = BTreeMap::new();
    for entry in archive.entries().map_err(|e| format!("not a build-cache entry: {e}"))? {
        let mut entry = entry.map_err(|e| format!("not a build-cache entry: {e}"))?;
        let path = entry.path().map_err(|e| format!("unreadable path: {e}"))?.into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(format!("{} is not a regular file", path.display()));
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
    fn object_keys_live_outside_the_tarball_namespace() {
        let key = BuildKey("ab12cd".into());
        assert_eq!(StorageCache::object_key(&key).unwrap().as_str(), "_build-cache/ab/ab12cd.tar.gz");
    }
}
