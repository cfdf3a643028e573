//! What the compile benchmarks share: generated sources for real snapshot packages
//! (`registry-workload`) as a build source, the stand-in compiler installed under
//! every compiler version a benchmark names, and counting what a compile wrote.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use registry_build::source::PackageSource;
use registry_compiler::{CompilerFailure, CompilerLocator, Purs};
use registry_core::{ManifestIndex, PackageName, Sha256, Version};
use registry_workload::{Variant, package_files, write_files};

/// Generated sources; `variants` overrides chosen package versions.
pub struct Generated<'a> {
    pub index: &'a ManifestIndex,
    pub variants: BTreeMap<(PackageName, Version), Variant>,
}

impl Generated<'_> {
    pub fn files(&self, n: &PackageName, v: Version) -> BTreeMap<String, Vec<u8>> {
        let variant = self.variants.get(&(n.clone(), v)).copied().unwrap_or(Variant::Normal);
        package_files(self.index.lookup(n, v).expect("in the index"), variant)
    }
    pub fn module_count(&self, n: &PackageName, v: Version) -> usize {
        self.files(n, v).keys().filter(|p| p.ends_with(".purs")).count()
    }
}

impl PackageSource for Generated<'_> {
    fn install(&self, n: &PackageName, v: Version, dest: &Path) -> Result<(), String> {
        write_files(dest, &self.files(n, v)).map_err(|e| e.to_string())
    }
    fn hash(&self, n: &PackageName, v: Version) -> Option<Sha256> {
        let mut all = Vec::new();
        for (p, b) in self.files(n, v) {
            all.extend(p.into_bytes());
            all.push(0);
            all.extend(b);
        }
        Some(Sha256::of_bytes(&all))
    }
    fn modules(&self, n: &PackageName, v: Version) -> Option<BTreeSet<String>> {
        Some(
            self.files(n, v)
                .iter()
                .filter(|(p, _)| p.ends_with(".purs"))
                .filter_map(|(_, b)| registry_build::source::module_name_of(&String::from_utf8_lossy(b)))
                .collect(),
        )
    }
}

/// The externs file of each module in `output/`, by modification time. A module
/// counts as compiled when its externs changed time across a compile (the engine
/// counts its own compiles the same way). A rewrite within the file system's
/// timestamp granularity would be missed; the package-sets `--small` test checks
/// that keep-output's count equals the import closure job by job, so none is.
pub fn externs_mtimes(output: &Path) -> BTreeMap<String, std::time::SystemTime> {
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(output) {
        for e in entries.flatten() {
            // `externs.json` before purs 0.13.8.
            let externs = ["externs.cbor", "externs.json"]
                .iter()
                .find_map(|f| std::fs::metadata(e.path().join(f)).and_then(|m| m.modified()).ok());
            if let Some(t) = externs {
                out.insert(e.file_name().to_string_lossy().into_owned(), t);
            }
        }
    }
    out
}

/// Compiles `packages/*/src/**/*.purs` in `dir` as upstream does (one purs call over
/// everything installed, into `dir/output`): whether it compiled, and how many
/// modules it wrote.
pub fn compile_all(purs: &Purs, dir: &Path, compiler: Version) -> Result<(bool, usize)> {
    let before = externs_mtimes(&dir.join("output"));
    let result =
        purs.compile(Some(compiler), Some(dir.to_path_buf()), vec!["packages/*/src/**/*.purs".into()], None);
    let after = externs_mtimes(&dir.join("output"));
    let modules = after.iter().filter(|(m, t)| before.get(*m) != Some(*t)).count();
    match result {
        Ok(_) => Ok((true, modules)),
        Err(CompilerFailure::CompilationError(_)) => Ok((false, modules)),
        Err(e) => bail!("compiler: {e}"),
    }
}

/// The stand-in linked as `purs-X_Y_Z` for each of `versions` in `dir`.
pub fn compilers_dir(purs: &Path, versions: &BTreeSet<Version>, dir: &Path) -> Result<CompilerLocator> {
    std::fs::create_dir_all(dir)?;
    for v in versions {
        let link = dir.join(format!("purs-{}_{}_{}", v.major, v.minor, v.patch));
        if !link.exists() {
            std::os::unix::fs::symlink(purs, &link)?;
        }
    }
    Ok(CompilerLocator::only_in(dir))
}

/// `--purs`, or `purs-standin` next to this executable.
pub fn standin(given: Option<&Path>) -> Result<PathBuf> {
    let purs_bin = match given {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()?.parent().context("executable dir")?.join("purs-standin"),
    };
    if !purs_bin.exists() {
        bail!(
            "{} not found: build it (cargo build --release -p purs-standin) or pass --purs",
            purs_bin.display()
        );
    }
    Ok(purs_bin)
}
