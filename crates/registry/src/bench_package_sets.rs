//! `registry bench package-sets`: three ways to run package-set jobs, side by side,
//! on real transitions of the registry's package-set history with generated sources.
//!
//! * `wipe` — upstream before #760: every job deletes `packages/` and `output/`,
//!   installs the old set, compiles it, applies the changes and compiles again.
//! * `keep-output` — upstream since #760: `output/` is kept unless the compiler
//!   changes; before the attempt all of `output/` is copied to `output-backup/`;
//!   a failing batch is retried one change at a time.
//! * `ours` — `registry_build`: build keys, cache restores, `plan_batch`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use registry_build::source::PackageSource;
use registry_build::{Engine, StorageCache, run_batch};
use registry_compiler::{CompilerFailure, CompilerLocator, Purs};
use registry_core::build_plan::affected_closure;
use registry_core::package_set_batch::{Batch, CompileOutcome, PackageMap, upstream_sequential};
use registry_core::package_set_rules::{Change, ChangeSet, order_changes};
use registry_core::{ManifestIndex, PackageName, PackageSet, Sha256, Version};
use registry_workload::{Variant, load_snapshot, package_files, write_files};
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// A registry data folder (index/, package-sets/).
    #[arg(long, default_value = "../shared/data/registry-snapshot")]
    pub snapshot: PathBuf,
    /// Real transitions to replay (ending at the newest set).
    #[arg(long, default_value_t = 20)]
    pub transitions: usize,
    /// A quick run for CI: 3 transitions on a small part of the set.
    #[arg(long)]
    pub small: bool,
    /// Write the figures as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The compiler binary to run for every version (default: `purs-standin` next to
    /// this executable).
    #[arg(long)]
    pub purs: Option<PathBuf>,
}

/// Generated sources; `variants` overrides chosen package versions.
struct Generated<'a> {
    index: &'a ManifestIndex,
    variants: BTreeMap<(PackageName, Version), Variant>,
}

impl Generated<'_> {
    fn files(&self, n: &PackageName, v: Version) -> BTreeMap<String, Vec<u8>> {
        let variant = self.variants.get(&(n.clone(), v)).copied().unwrap_or(Variant::Normal);
        package_files(self.index.lookup(n, v).expect("in the index"), variant)
    }
    fn module_count(&self, n: &PackageName, v: Version) -> usize {
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

#[derive(Default, Debug, Clone)]
struct Figures {
    jobs: usize,
    compiler_invocations: usize,
    modules_compiled: usize,
    affected_modules: usize,
    bytes_copied: u64,
    job_seconds: Vec<f64>,
}

impl Figures {
    fn median(&self) -> f64 {
        let mut s = self.job_seconds.clone();
        s.sort_by(f64::total_cmp);
        if s.is_empty() { 0.0 } else { s[s.len() / 2] }
    }
    fn total(&self) -> f64 {
        self.job_seconds.iter().sum()
    }
    fn to_json(&self) -> serde_json::Value {
        json!({
            "jobs": self.jobs,
            "compiler_invocations": self.compiler_invocations,
            "modules_compiled": self.modules_compiled,
            "affected_modules": self.affected_modules,
            "bytes_copied": self.bytes_copied,
            "median_job_seconds": self.median(),
            "total_seconds": self.total(),
        })
    }
}

/// One job: the old set, the changes and the target compiler.
struct Job {
    old: PackageMap,
    compiler: Version,
    old_compiler: Version,
    changes: ChangeSet,
}

fn transitions(sets: &[PackageSet], count: usize, keep: Option<&BTreeSet<PackageName>>) -> Vec<Job> {
    let restrict = |m: &PackageMap| -> PackageMap {
        m.iter().filter(|(n, _)| keep.is_none_or(|k| k.contains(*n))).map(|(n, v)| (n.clone(), *v)).collect()
    };
    let start = sets.len().saturating_sub(count + 1);
    sets[start..]
        .windows(2)
        .map(|w| {
            let (old, new) = (restrict(&w[0].packages), restrict(&w[1].packages));
            let mut changes = ChangeSet::new();
            for (n, v) in &new {
                if old.get(n) != Some(v) {
                    changes.insert(n.clone(), Change::Update(*v));
                }
            }
            for n in old.keys().filter(|n| !new.contains_key(*n)) {
                changes.insert(n.clone(), Change::Remove);
            }
            Job { old, compiler: w[1].compiler, old_compiler: w[0].compiler, changes }
        })
        .collect()
}

fn apply(old: &PackageMap, changes: &ChangeSet) -> PackageMap {
    let mut out = old.clone();
    for (n, c) in changes {
        match c {
            Change::Update(v) => out.insert(n.clone(), *v),
            Change::Remove => out.remove(n),
        };
    }
    out
}

fn externs_mtimes(output: &Path) -> BTreeMap<String, std::time::SystemTime> {
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(output) {
        for e in entries.flatten() {
            if let Ok(t) = std::fs::metadata(e.path().join("externs.cbor")).and_then(|m| m.modified()) {
                out.insert(e.file_name().to_string_lossy().into_owned(), t);
            }
        }
    }
    out
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            total += if meta.is_dir() { dir_size(&e.path()) } else { meta.len() };
        }
    }
    total
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
            let mtime = e.metadata()?.modified()?;
            std::fs::File::options().write(true).open(&target)?.set_modified(mtime)?;
        }
    }
    Ok(())
}

/// Upstream's working directory: `packages/`, `output/`, `output-backup/`.
struct Upstream<'a> {
    dir: PathBuf,
    purs: &'a Purs,
    source: &'a Generated<'a>,
    figures: Figures,
}

impl Upstream<'_> {
    fn sync(&self, set: &PackageMap) -> Result<()> {
        let packages = self.dir.join("packages");
        std::fs::create_dir_all(&packages)?;
        let wanted: BTreeSet<String> = set.iter().map(|(n, v)| format!("{n}@{v}")).collect();
        for e in std::fs::read_dir(&packages)?.flatten() {
            if !wanted.contains(&*e.file_name().to_string_lossy()) {
                std::fs::remove_dir_all(e.path())?;
            }
        }
        for (n, v) in set {
            let d = packages.join(format!("{n}@{v}"));
            if !d.exists() {
                self.source.install(n, *v, &d).map_err(anyhow::Error::msg)?;
            }
        }
        Ok(())
    }

    fn compile(&mut self, compiler: Version) -> Result<bool> {
        let before = externs_mtimes(&self.dir.join("output"));
        self.figures.compiler_invocations += 1;
        let result = self.purs.compile(
            Some(compiler),
            Some(self.dir.clone()),
            vec!["packages/*/src/**/*.purs".into()],
            None,
        );
        let after = externs_mtimes(&self.dir.join("output"));
        self.figures.modules_compiled += after.iter().filter(|(m, t)| before.get(*m) != Some(*t)).count();
        match result {
            Ok(_) => Ok(true),
            Err(CompilerFailure::CompilationError(_)) => Ok(false),
            Err(e) => bail!("compiler: {e}"),
        }
    }

    /// One attempt with a backup of all of `output/`; restored on failure.
    fn attempt(&mut self, base: &PackageMap, state: &PackageMap, compiler: Version) -> Result<bool> {
        let output = self.dir.join("output");
        let backup = self.dir.join("output-backup");
        let _ = std::fs::remove_dir_all(&backup);
        if output.exists() {
            copy_dir(&output, &backup)?;
            self.figures.bytes_copied += dir_size(&backup);
        }
        self.sync(state)?;
        let ok = self.compile(compiler)?;
        if ok {
            let _ = std::fs::remove_dir_all(&backup);
        } else {
            let _ = std::fs::remove_dir_all(&output);
            if backup.exists() {
                std::fs::rename(&backup, &output)?;
            }
            self.sync(base)?;
        }
        Ok(ok)
    }

    /// Upstream's job: baseline, atomic, then one at a time. `wipe` deletes everything first.
    fn job(
        &mut self,
        job: &Job,
        ordered: &[(PackageName, Change)],
        index: &ManifestIndex,
        wipe: bool,
    ) -> Result<PackageMap> {
        let _ = index;
        if wipe {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else if job.compiler != job.old_compiler {
            let _ = std::fs::remove_dir_all(self.dir.join("output"));
        }
        self.sync(&job.old)?;
        if !self.compile(job.compiler)? {
            bail!("the starting set does not compile");
        }
        let target = apply(&job.old, &job.changes);
        if self.attempt(&job.old, &target, job.compiler)? {
            return Ok(target);
        }
        let mut accepted = job.old.clone();
        for (n, c) in ordered {
            let next = apply(&accepted, &[(n.clone(), *c)].into());
            if self.attempt(&accepted, &next, job.compiler)? {
                accepted = next;
            }
        }
        Ok(accepted)
    }
}

fn affected_modules(job: &Job, index: &ManifestIndex, source: &Generated<'_>) -> usize {
    let new = apply(&job.old, &job.changes);
    let names: BTreeSet<PackageName> = if job.compiler != job.old_compiler {
        new.keys().cloned().collect()
    } else {
        affected_closure(&new, index, &job.changes.keys().cloned().collect())
    };
    names.iter().map(|n| source.module_count(n, new[n])).sum()
}

fn compilers_dir(purs: &Path, versions: &BTreeSet<Version>, dir: &Path) -> Result<CompilerLocator> {
    std::fs::create_dir_all(dir)?;
    for v in versions {
        let link = dir.join(format!("purs-{}_{}_{}", v.major, v.minor, v.patch));
        if !link.exists() {
            std::os::unix::fs::symlink(purs, &link)?;
        }
    }
    Ok(CompilerLocator::only_in(dir))
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let (index, sets) =
        load_snapshot(&args.snapshot).with_context(|| format!("reading {}", args.snapshot.display()))?;
    let count = if args.small { 3 } else { args.transitions };
    if sets.len() < count + 1 {
        bail!("the snapshot has only {} package sets; need {}", sets.len(), count + 1);
    }
    // --small keeps a few packages that change in the window, with everything any
    // set of the window needs for them.
    let window = &sets[sets.len() - count - 1..];
    let keep: Option<BTreeSet<PackageName>> = args.small.then(|| {
        let mut changed: Vec<PackageName> = Vec::new();
        for w in window.windows(2) {
            for (n, v) in &w[1].packages {
                if w[0].packages.get(n).is_some_and(|old| old != v) && !changed.contains(n) {
                    changed.push(n.clone());
                }
            }
        }
        let mut keep = BTreeSet::new();
        let mut queue: Vec<PackageName> = changed.into_iter().take(6).collect();
        while let Some(n) = queue.pop() {
            if keep.insert(n.clone()) {
                for set in window {
                    if let Some(m) = set.packages.get(&n).and_then(|v| index.lookup(&n, *v)) {
                        queue.extend(m.dependencies.keys().cloned());
                    }
                }
            }
        }
        keep
    });
    let mut jobs = transitions(&sets, count, keep.as_ref());
    // A restricted set must still be self-contained: drop changes whose new version
    // needs a package outside the kept part.
    if let Some(keep) = &keep {
        for job in &mut jobs {
            job.changes.retain(|n, c| match c {
                Change::Update(v) => {
                    index.lookup(n, *v).is_some_and(|m| m.dependencies.keys().all(|d| keep.contains(d)))
                }
                Change::Remove => true,
            });
        }
        for i in 1..jobs.len() {
            jobs[i].old = apply(&jobs[i - 1].old, &jobs[i - 1].changes);
        }
    }
    let purs_bin = match &args.purs {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.parent().context("executable dir")?.join("purs-standin"),
    };
    if !purs_bin.exists() {
        bail!(
            "{} not found: build it (cargo build --release -p purs-standin) or pass --purs",
            purs_bin.display()
        );
    }
    let scratch = tempfile::tempdir()?;
    let versions: BTreeSet<Version> = jobs.iter().flat_map(|j| [j.compiler, j.old_compiler]).collect();
    let purs = Purs::new(compilers_dir(&purs_bin, &versions, &scratch.path().join("bin"))?);
    let source = Generated { index: &index, variants: BTreeMap::new() };
    let first = &jobs[0];
    println!(
        "package sets: {} transitions from a set of {} packages ({} modules), compilers {:?}",
        jobs.len(),
        first.old.len(),
        first.old.iter().map(|(n, v)| source.module_count(n, *v)).sum::<usize>(),
        versions.iter().map(ToString::to_string).collect::<Vec<_>>()
    );

    let mut results: BTreeMap<&str, Figures> = BTreeMap::new();
    for strategy in ["wipe", "keep-output", "ours"] {
        let dir = scratch.path().join(strategy);
        let mut figures = Figures::default();
        match strategy {
            "ours" => {
                let cache = Arc::new(StorageCache::local(dir.join("cache"))?);
                // Cold build of the first old set, not counted as a job.
                Engine::open(&dir.join("work"), first.old_compiler, purs.clone(), cache.clone())?
                    .build(&first.old, &index, &source)?;
                for job in &jobs {
                    let start = Instant::now();
                    let mut engine =
                        Engine::open(&dir.join("work"), job.compiler, purs.clone(), cache.clone())?;
                    let old_set = PackageSet {
                        version: Version::new(0, 0, 0),
                        compiler: job.old_compiler,
                        published: registry_core::Date::from_days(0),
                        packages: job.old.clone(),
                    };
                    let ordered = order_changes(&index, &old_set, &job.changes);
                    let run = run_batch(&mut engine, &job.old, &ordered, &index, &source)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    figures.job_seconds.push(start.elapsed().as_secs_f64());
                    figures.compiler_invocations += run.compiles;
                    figures.modules_compiled += engine.stats.modules_compiled;
                    figures.bytes_copied += engine.stats.bytes_restored;
                    figures.affected_modules += affected_modules(job, &index, &source);
                    figures.jobs += 1;
                }
            }
            _ => {
                let wipe = strategy == "wipe";
                let mut up =
                    Upstream { dir: dir.clone(), purs: &purs, source: &source, figures: Figures::default() };
                up.sync(&first.old)?;
                up.compile(first.old_compiler)?;
                up.figures = Figures::default();
                for job in &jobs {
                    let start = Instant::now();
                    let old_set = PackageSet {
                        version: Version::new(0, 0, 0),
                        compiler: job.old_compiler,
                        published: registry_core::Date::from_days(0),
                        packages: job.old.clone(),
                    };
                    let ordered = order_changes(&index, &old_set, &job.changes);
                    up.job(job, &ordered, &index, wipe)?;
                    up.figures.job_seconds.push(start.elapsed().as_secs_f64());
                    up.figures.affected_modules += affected_modules(job, &index, &source);
                    up.figures.jobs += 1;
                }
                figures = up.figures;
            }
        }
        println!(
            "{strategy:<12} jobs {:>3}  compiles {:>4}  modules compiled {:>7}  affected {:>7}  bytes copied {:>11}  median job {:>8.3} s  total {:>8.2} s",
            figures.jobs,
            figures.compiler_invocations,
            figures.modules_compiled,
            figures.affected_modules,
            figures.bytes_copied,
            figures.median(),
            figures.total()
        );
        results.insert(strategy, figures);
    }
    let ours = &results["ours"];
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::INFINITY };
    println!(
        "ours: modules compiled / affected = {:.2}; median job time: keep-output/ours = {:.1}x, wipe/ours = {:.1}x",
        ratio(ours.modules_compiled as f64, ours.affected_modules as f64),
        ratio(results["keep-output"].median(), ours.median()),
        ratio(results["wipe"].median(), ours.median()),
    );

    // A batch with injected breaking changes on the newest (kept) set.
    let newest = apply(&jobs[jobs.len() - 1].old, &jobs[jobs.len() - 1].changes);
    let (k, f) = if args.small { (4, 1) } else { (10, 2) };
    let dependants = registry_core::build_plan::dependants_in_set(&newest, &index);
    let mut candidates: Vec<(PackageName, Version)> = newest
        .iter()
        .filter_map(|(n, cur)| {
            let other = index
                .versions(n)?
                .values()
                .rev()
                .find(|m| m.version != *cur && m.dependencies.keys().all(|d| newest.contains_key(d)));
            other.map(|m| (n.clone(), m.version))
        })
        .collect();
    // Prefer packages with dependants so a breaking change has someone to break.
    candidates.sort_by_key(|(n, _)| std::cmp::Reverse(dependants.get(n).map_or(0, |d| d.len())));
    candidates.truncate(k);
    if candidates.len() < k {
        println!("batch: only {} candidate updates in the set; using those", candidates.len());
    }
    let k = candidates.len();
    let mut variants = BTreeMap::new();
    for (n, v) in candidates.iter().take(f) {
        variants.insert((n.clone(), *v), Variant::Breaking);
    }
    let batch_source = Generated { index: &index, variants };
    let changes: ChangeSet = candidates.iter().map(|(n, v)| (n.clone(), Change::Update(*v))).collect();
    let compiler = jobs[jobs.len() - 1].compiler;
    let old_set = PackageSet {
        version: Version::new(0, 0, 0),
        compiler,
        published: registry_core::Date::from_days(0),
        packages: newest.clone(),
    };
    let ordered = order_changes(&index, &old_set, &changes);
    let batch_dir = scratch.path().join("batch");
    let mut engine = Engine::open(
        &batch_dir.join("work"),
        compiler,
        purs.clone(),
        Arc::new(StorageCache::local(batch_dir.join("cache"))?),
    )?;
    engine.build(&newest, &index, &batch_source)?;
    let before = engine.stats.compiles;
    let start = Instant::now();
    let run = run_batch(&mut engine, &newest, &ordered, &index, &batch_source)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let batch_seconds = start.elapsed().as_secs_f64();
    let invocations = engine.stats.compiles - before;
    let batch = Batch { old: &newest, changes: &ordered, graph: &index, modules: None };
    let mut upstream_compiles = 0usize;
    let _ = upstream_sequential(&batch, &mut |_s: &PackageMap| {
        upstream_compiles += 1;
        Ok::<_, String>(CompileOutcome::Ok)
    });
    let log2k = (k.max(1) as f64).log2().ceil() as usize;
    let bound = 2 + 2 * f * log2k;
    let rejected: Vec<String> = run.result.rejected.iter().map(|r| r.name.to_string()).collect();
    println!(
        "batch: k = {k} changes, f = {f} breaking; ours {invocations} compiler invocations (bound 2 + 2·f·⌈log2 k⌉ = {bound}; upstream one-at-a-time: k + 2 = {}); rejected {rejected:?}; {batch_seconds:.2} s",
        k + 2
    );
    let _ = upstream_compiles;
    if let Some(path) = &args.json {
        let strategies: serde_json::Map<String, serde_json::Value> =
            results.iter().map(|(k, v)| ((*k).to_owned(), v.to_json())).collect();
        let doc = json!({
            "strategies": strategies,
            "batch": { "k": k, "f": f, "compiler_invocations": invocations, "bound": bound, "upstream_compiler_invocations": k + 2, "rejected": rejected },
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let _ = Duration::ZERO;
    Ok(())
}
