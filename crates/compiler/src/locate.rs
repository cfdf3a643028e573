//! Finding compiler executables: `purs-X_Y_Z` in a configured directory, then on `PATH`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use registry_core::Version;

use crate::version::{executable_name, version_from_executable_name};

/// Where compilers are looked for.
#[derive(Debug, Clone)]
pub struct CompilerLocator {
    /// Searched first, when set (e.g. the directory the registry installs compilers into).
    pub dir: Option<PathBuf>,
    /// Whether the directories of `PATH` are searched after `dir`.
    pub search_path: bool,
    /// A `PATH` value to use instead of the process environment's.
    pub path_override: Option<OsString>,
}

impl Default for CompilerLocator {
    fn default() -> Self {
        CompilerLocator { dir: None, search_path: true, path_override: None }
    }
}

impl CompilerLocator {
    /// Looks in `dir` first, then on `PATH`.
    pub fn new(dir: Option<PathBuf>) -> Self {
        CompilerLocator { dir, ..Self::default() }
    }

    /// Looks only in `dir` (never on `PATH`).
    pub fn only_in(dir: impl Into<PathBuf>) -> Self {
        CompilerLocator { dir: Some(dir.into()), search_path: false, path_override: None }
    }

    /// The executable for `version` (`purs-X_Y_Z`), or plain `purs` when no version is
    /// asked for; `None` when it is not installed.
    pub fn find(&self, version: Option<Version>) -> Option<PathBuf> {
        let name = executable_name(version);
        self.search_dirs().into_iter().map(|dir| dir.join(&name)).find(|candidate| is_executable(candidate))
    }

    /// Every version for which a `purs-X_Y_Z` executable exists, ascending, without repeats.
    pub fn installed_versions(&self) -> Vec<Version> {
        let mut versions: Vec<Version> = self
            .search_dirs()
            .iter()
            .filter_map(|dir| std::fs::read_dir(dir).ok())
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let version = version_from_executable_name(entry.file_name().to_str()?)?;
                is_executable(&entry.path()).then_some(version)
            })
            .collect();
        versions.sort();
        versions.dedup();
        versions
    }

    fn search_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.dir.iter().cloned().collect();
        if self.search_path {
            let path = self.path_override.clone().or_else(|| std::env::var_os("PATH"));
            if let Some(path) = path {
                // An empty PATH entry means the current directory, as for a shell.
                dirs.extend(
                    std::env::split_paths(&path)
                        .map(|p| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p }),
                );
            }
        }
        dirs
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn temp_dir(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("registry-compiler-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn touch_executable(path: &Path, executable: bool) {
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        let mode = if executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn finds_versioned_executables_in_the_directory_then_on_path() {
        let first = temp_dir("locate-first");
        let second = temp_dir("locate-second");
        touch_executable(&first.join("purs-0_15_4"), true);
        touch_executable(&second.join("purs-0_15_4"), true);
        touch_executable(&second.join("purs-0_14_0"), true);
        touch_executable(&second.join("purs-0_13_8"), false);
        touch_executable(&second.join("purs"), true);
        let locator = CompilerLocator {
            dir: Some(first.clone()),
            search_path: true,
            path_override: Some(second.clone().into_os_string()),
        };
        assert_eq!(locator.find(Some(Version::new(0, 15, 4))), Some(first.join("purs-0_15_4")));
        assert_eq!(locator.find(Some(Version::new(0, 14, 0))), Some(second.join("purs-0_14_0")));
        assert_eq!(locator.find(Some(Version::new(0, 13, 8))), None, "not executable");
        assert_eq!(locator.find(None), Some(second.join("purs")));
        assert_eq!(locator.installed_versions(), vec![Version::new(0, 14, 0), Version::new(0, 15, 4)]);
        let only_first = CompilerLocator::only_in(&first);
        assert_eq!(only_first.find(Some(Version::new(0, 14, 0))), None);
        assert_eq!(only_first.installed_versions(), vec![Version::new(0, 15, 4)]);
        for dir in [first, second] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
