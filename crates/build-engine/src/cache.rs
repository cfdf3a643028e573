//! The content-addressed cache of package build results, keyed by
//! [`registry_core::build_plan::BuildKey`].

use std::collections::BTreeMap;

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
/// value never changes once stored (equal keys mean equal outputs). The registry's
/// implementation is [`crate::StorageCache`], in the storage adapter.
pub trait BuildCache: Send + Sync {
    fn describe(&self) -> String;
    fn contains(&self, key: &BuildKey) -> std::io::Result<bool>;
    /// A damaged entry (unreadable, or content that does not match its recorded
    /// digest) is an error of kind [`std::io::ErrorKind::InvalidData`].
    fn get(&self, key: &BuildKey) -> std::io::Result<Option<CachedOutput>>;
    /// Removes a damaged entry so a rebuilt result can take its place.
    fn discard(&self, key: &BuildKey) -> std::io::Result<()>;
    /// Stores a result; storing a key that exists is a no-op.
    fn put(&self, key: &BuildKey, output: &CachedOutput) -> std::io::Result<()>;
}
