//! Where package sources come from (tarballs in storage, or generated ones in tests).

use std::collections::BTreeSet;
use std::path::Path;

use registry_core::{PackageName, Sha256, Version};

pub trait PackageSource: Send + Sync {
    /// Writes the package's files (`src/…` at least) into the empty directory `dest`.
    fn install(&self, name: &PackageName, version: Version, dest: &Path) -> Result<(), String>;
    /// The published tarball hash (part of the build key); `None` if unknown.
    fn hash(&self, name: &PackageName, version: Version) -> Option<Sha256>;
    /// The module names the version provides, if known without installing it (lets
    /// the batch planner predict `DuplicateModule` instead of compiling it).
    fn modules(&self, _name: &PackageName, _version: Version) -> Option<BTreeSet<String>> {
        None
    }
}

/// The module a PureScript source declares: the name after the first `module`
/// keyword that starts a line (comments before it are skipped by construction).
pub fn module_name_of(source: &str) -> Option<String> {
    source.lines().find_map(|line| {
        let rest = line.strip_prefix("module")?;
        if !rest.starts_with(char::is_whitespace) {
            return None;
        }
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '.' || *c == '_' || *c == '\'')
            .collect();
        (!name.is_empty()).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_module_headers() {
        assert_eq!(super::module_name_of("-- c\nmodule A.B\n  ( x ) where\n").as_deref(), Some("A.B"));
        assert_eq!(super::module_name_of("module Data.Maybe where").as_deref(), Some("Data.Maybe"));
        assert_eq!(super::module_name_of("modules\nx"), None);
    }
}
