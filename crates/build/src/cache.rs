//! The content-addressed cache of package build results, keyed by
//! [`registry_core::build_plan::BuildKey`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use registry_core::build_plan::BuildKey;

/// One package's compiled output: `"<Module>/<file>"` → bytes, for every module the
/// package provides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachedOutput {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl CachedOutput {
    pub fn size(&self) -> u64 {
        self.files.values().map(|b| b.len() as u64).sum()
    }
}

/// Where build results are kept across working directories and machines. A key's
/// value never changes once stored (equal keys mean equal outputs).
pub trait BuildCache: Send + Sync {
    fn describe(&self) -> String;
    fn contains(&self, key: &BuildKey) -> std::io::Result<bool>;
    fn get(&self, key: &BuildKey) -> std::io::Result<Option<CachedOutput>>;
    /// Stores a result; storing a key that exists is a no-op.
    fn put(&self, key: &BuildKey, output: &CachedOutput) -> std::io::Result<()>;
}

/// A cache in a local directory: `<root>/<first two hex digits>/<key>/<Module>/<file>`.
pub struct LocalCache {
    root: PathBuf,
}

impl LocalCache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalCache { root: root.into() }
    }

    fn dir(&self, key: &BuildKey) -> PathBuf {
        self.root.join(&key.0[..2.min(key.0.len())]).join(&key.0)
    }
}

fn read_tree(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        if entry.file_type()?.is_dir() {
            read_tree(&entry.path(), &rel, out)?;
        } else {
            out.insert(rel, std::fs::read(entry.path())?);
        }
    }
    Ok(())
}

impl BuildCache for LocalCache {
    fn describe(&self) -> String {
        format!("local build cache {}", self.root.display())
    }

    fn contains(&self, key: &BuildKey) -> std::io::Result<bool> {
        Ok(self.dir(key).is_dir())
    }

    fn get(&self, key: &BuildKey) -> std::io::Result<Option<CachedOutput>> {
        let dir = self.dir(key);
        if !dir.is_dir() {
            return Ok(None);
        }
        let mut files = BTreeMap::new();
        read_tree(&dir, "", &mut files)?;
        Ok(Some(CachedOutput { files }))
    }

    fn put(&self, key: &BuildKey, output: &CachedOutput) -> std::io::Result<()> {
        let dir = self.dir(key);
        if dir.is_dir() {
            return Ok(());
        }
        // Written aside and renamed, so a reader never sees half an entry.
        let parent = dir.parent().expect("cache entries have a parent");
        std::fs::create_dir_all(parent)?;
        let staging = parent.join(format!(".{}.partial-{}", key.0, std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        for (rel, bytes) in &output.files {
            let path = staging.join(rel);
            std::fs::create_dir_all(path.parent().expect("cached files sit in a module dir"))?;
            std::fs::write(path, bytes)?;
        }
        std::fs::create_dir_all(&staging)?;
        match std::fs::rename(&staging, &dir) {
            Ok(()) => Ok(()),
            // Another writer won; its content is the same by construction.
            Err(_) if dir.is_dir() => {
                let _ = std::fs::remove_dir_all(&staging);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
