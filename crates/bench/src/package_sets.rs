//! `registry bench package-sets`: three ways to run package-set jobs, side by side,
//! on real transitions of the registry's package-set history with generated sources.
//!
//! * `wipe` — upstream before #760: every job deletes `packages/` and `output/`,
//!   installs the old set, compiles it, applies the changes and compiles again.
//! * `keep-output` — upstream since #760: `output/` is kept unless the compiler
//!   changes; before the attempt all of `output/` is copied to `output-backup/`;
//!   a failing batch is retried one change at a time.
//! * `ours` — `registry_build`: build keys, cache restores, `plan_batch`; one
//!   working directory per compiler, so a compiler change starts a fresh one.
//!
//! The replayed window ends at the newest set unless `--end` names another. The
//! newest transitions all keep the compiler, so a default run also replays a
//! second, separately printed window around the newest compiler change of the
//! history (`compiler_change` in `--json`). "Affected" is the fewest modules a job
//! can compile, counted by package and by import (see [`minimum`]).

mod minimum;
mod windows;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use registry_build::source::PackageSource;
use registry_build::{Engine, StorageCache, run_batch};
use registry_compiler::Purs;
use registry_core::package_set_batch::PackageMap;
use registry_core::package_set_rules::{Change, ChangeSet, order_changes};
use registry_core::{ManifestIndex, PackageName, PackageSet, Version};
use registry_workload::{Variant, load_snapshot};
use serde_json::json;

use crate::generated::{Generated, compile_all, compilers_dir, standin};

use minimum::{Minimum, minimum};
use windows::Window;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// A registry data folder (index/, package-sets/).
    #[arg(long, default_value = "../shared/data/registry-snapshot")]
    pub snapshot: PathBuf,
    /// Real transitions to replay (ending at the `--end` set).
    #[arg(long, default_value_t = 20)]
    pub transitions: usize,
    /// The package set (a version in package-sets/) the replayed window ends at;
    /// default: the newest. E.g. `--end 50.3.0 --transitions 3` covers the change
    /// from purs 0.15.14 to 0.15.15 (set 50.2.0).
    #[arg(long, value_name = "SET_VERSION")]
    pub end: Option<Version>,
    /// Without `--end`, do not replay the second window around the newest compiler
    /// change.
    #[arg(long)]
    pub no_compiler_change: bool,
    /// A quick run for CI: 3 transitions on a small part of the set (and 3 around
    /// the newest compiler change).
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

/// What one strategy did in one job.
#[derive(Debug, Clone)]
struct JobFigures {
    into: Version,
    compiler_change: bool,
    compiler_invocations: usize,
    /// Externs files written by the job's compiles (see [`crate::generated::externs_mtimes`]).
    modules_compiled: usize,
    minimum: Minimum,
    bytes_copied: u64,
    seconds: f64,
}

impl JobFigures {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "into": self.into.to_string(),
            "compiler_change": self.compiler_change,
            "compiler_invocations": self.compiler_invocations,
            "modules_compiled": self.modules_compiled,
            "affected_modules": self.minimum.by_package,
            "affected_modules_by_import": self.minimum.by_import,
            "baseline_modules": self.minimum.baseline,
            "set_modules": self.minimum.set_modules,
            "bytes_copied": self.bytes_copied,
            "seconds": self.seconds,
        })
    }
}

#[derive(Default, Debug, Clone)]
struct Figures {
    jobs: Vec<JobFigures>,
}

impl Figures {
    fn sum(&self, field: impl Fn(&JobFigures) -> usize) -> usize {
        self.jobs.iter().map(field).sum()
    }
    fn compiler_invocations(&self) -> usize {
        self.sum(|j| j.compiler_invocations)
    }
    fn modules_compiled(&self) -> usize {
        self.sum(|j| j.modules_compiled)
    }
    fn affected_modules(&self) -> usize {
        self.sum(|j| j.minimum.by_package)
    }
    fn affected_by_import(&self) -> usize {
        self.sum(|j| j.minimum.by_import)
    }
    fn bytes_copied(&self) -> u64 {
        self.jobs.iter().map(|j| j.bytes_copied).sum()
    }
    fn median(&self) -> f64 {
        let mut s: Vec<f64> = self.jobs.iter().map(|j| j.seconds).collect();
        s.sort_by(f64::total_cmp);
        if s.is_empty() { 0.0 } else { s[s.len() / 2] }
    }
    fn total(&self) -> f64 {
        self.jobs.iter().map(|j| j.seconds).sum()
    }
    fn to_json(&self) -> serde_json::Value {
        json!({
            "jobs": self.jobs.len(),
            "compiler_invocations": self.compiler_invocations(),
            "modules_compiled": self.modules_compiled(),
            "affected_modules": self.affected_modules(),
            "affected_modules_by_import": self.affected_by_import(),
            "bytes_copied": self.bytes_copied(),
            "median_job_seconds": self.median(),
            "total_seconds": self.total(),
            "per_job": self.jobs.iter().map(JobFigures::to_json).collect::<Vec<_>>(),
        })
    }
}

/// One job: the old set, the changes and the target compiler.
struct Job {
    /// The version of the set the job replays.
    into: Version,
    old: PackageMap,
    compiler: Version,
    old_compiler: Version,
    changes: ChangeSet,
}

impl Job {
    fn changes_compiler(&self) -> bool {
        self.compiler != self.old_compiler
    }

    fn ordered_changes(&self, index: &ManifestIndex) -> Vec<(PackageName, Change)> {
        let old_set = PackageSet {
            version: Version::new(0, 0, 0),
            compiler: self.old_compiler,
            published: registry_core::Date::from_days(0),
            packages: self.old.clone(),
        };
        order_changes(index, &old_set, &self.changes)
    }
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
    counts: Counts,
}

/// Running totals of an upstream working directory.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    compiler_invocations: usize,
    modules_compiled: usize,
    bytes_copied: u64,
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
        self.counts.compiler_invocations += 1;
        let (ok, modules) = compile_all(self.purs, &self.dir, compiler)?;
        self.counts.modules_compiled += modules;
        Ok(ok)
    }

    /// One attempt with a backup of all of `output/`; restored on failure.
    fn attempt(&mut self, base: &PackageMap, state: &PackageMap, compiler: Version) -> Result<bool> {
        let output = self.dir.join("output");
        let backup = self.dir.join("output-backup");
        let _ = std::fs::remove_dir_all(&backup);
        if output.exists() {
            copy_dir(&output, &backup)?;
            self.counts.bytes_copied += dir_size(&backup);
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
    fn job(&mut self, job: &Job, ordered: &[(PackageName, Change)], wipe: bool) -> Result<PackageMap> {
        if wipe {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else if job.changes_compiler() {
            // Upstream keeps `output/` only while the compiler stays the same.
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

const STRATEGIES: [&str; 3] = ["wipe", "keep-output", "ours"];
/// Transitions of the compiler-change window.
const CHANGE_TRANSITIONS: usize = 3;
/// Changed packages `--small` keeps (with their dependencies).
const SMALL_PACKAGES: usize = 6;

/// Runs every strategy over `jobs`, each in its own directory under `scratch`.
fn replay(
    jobs: &[Job],
    minima: &[Minimum],
    index: &ManifestIndex,
    source: &Generated<'_>,
    purs: &Purs,
    scratch: &Path,
) -> Result<BTreeMap<&'static str, Figures>> {
    let first = &jobs[0];
    let mut results = BTreeMap::new();
    for strategy in STRATEGIES {
        let dir = scratch.join(strategy);
        let mut figures = Figures::default();
        let mut record = |job: &Job, minimum: Minimum, seconds: f64, before: Counts, after: Counts| {
            figures.jobs.push(JobFigures {
                into: job.into,
                compiler_change: job.changes_compiler(),
                compiler_invocations: after.compiler_invocations - before.compiler_invocations,
                modules_compiled: after.modules_compiled - before.modules_compiled,
                minimum,
                bytes_copied: after.bytes_copied - before.bytes_copied,
                seconds,
            });
        };
        match strategy {
            "ours" => {
                let cache = Arc::new(StorageCache::local(dir.join("cache"))?);
                // Cold build of the first old set, not counted as a job.
                Engine::open(&dir.join("work"), first.old_compiler, purs.clone(), cache.clone())?
                    .build(&first.old, index, source)?;
                for (job, minimum) in jobs.iter().zip(minima) {
                    let start = Instant::now();
                    // The directory of the job's compiler: after a compiler change a new
                    // one, whose build keys differ, so nothing is restored from the cache.
                    let mut engine =
                        Engine::open(&dir.join("work"), job.compiler, purs.clone(), cache.clone())?;
                    let run = run_batch(&mut engine, &job.old, &job.ordered_changes(index), index, source)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    let seconds = start.elapsed().as_secs_f64();
                    let done = Counts {
                        compiler_invocations: run.compiles,
                        modules_compiled: engine.stats.modules_compiled,
                        bytes_copied: engine.stats.bytes_restored,
                    };
                    record(job, *minimum, seconds, Counts::default(), done);
                }
            }
            _ => {
                let wipe = strategy == "wipe";
                let mut up = Upstream { dir: dir.clone(), purs, source, counts: Counts::default() };
                up.sync(&first.old)?;
                up.compile(first.old_compiler)?;
                for (job, minimum) in jobs.iter().zip(minima) {
                    let start = Instant::now();
                    let before = up.counts;
                    up.job(job, &job.ordered_changes(index), wipe)?;
                    record(job, *minimum, start.elapsed().as_secs_f64(), before, up.counts);
                }
            }
        }
        results.insert(strategy, figures);
    }
    Ok(results)
}

fn print_figures(results: &BTreeMap<&str, Figures>) {
    for strategy in STRATEGIES {
        let f = &results[strategy];
        println!(
            "{strategy:<12} jobs {:>3}  compiles {:>4}  modules compiled {:>7}  affected {:>7} (by import {:>7})  bytes copied {:>11}  median job {:>8.3} s  total {:>8.2} s",
            f.jobs.len(),
            f.compiler_invocations(),
            f.modules_compiled(),
            f.affected_modules(),
            f.affected_by_import(),
            f.bytes_copied(),
            f.median(),
            f.total()
        );
    }
    let (ours, keep) = (&results["ours"], &results["keep-output"]);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::INFINITY };
    println!(
        "ours: modules compiled / affected = {:.2}; keep-output: modules compiled / affected by import = {:.2}; median job time: keep-output/ours = {:.1}x, wipe/ours = {:.1}x",
        ratio(ours.modules_compiled() as f64, ours.affected_modules() as f64),
        ratio(keep.modules_compiled() as f64, keep.affected_by_import() as f64),
        ratio(keep.median(), ours.median()),
        ratio(results["wipe"].median(), ours.median()),
    );
    for (i, job) in ours.jobs.iter().enumerate().filter(|(_, j)| j.compiler_change) {
        let line: Vec<String> = STRATEGIES
            .iter()
            .map(|s| {
                let j = &results[s].jobs[i];
                format!("{s} {} modules in {:.3} s", j.modules_compiled, j.seconds)
            })
            .collect();
        println!(
            "compiler change into {} ({} modules, affected {}): {}",
            job.into,
            job.minimum.set_modules,
            job.minimum.by_package,
            line.join(", ")
        );
    }
}

fn window_json(window: Window, sets: &[PackageSet], results: &BTreeMap<&str, Figures>) -> serde_json::Value {
    let strategies: serde_json::Map<String, serde_json::Value> =
        results.iter().map(|(k, v)| ((*k).to_owned(), v.to_json())).collect();
    let s = window.sets(sets);
    json!({
        "window": {
            "from": s[0].version.to_string(),
            "end": s[s.len() - 1].version.to_string(),
            "transitions": window.count,
            "compilers": s.iter().map(|p| p.compiler.to_string()).collect::<BTreeSet<_>>(),
        },
        "strategies": strategies,
    })
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let (index, sets) =
        load_snapshot(&args.snapshot).with_context(|| format!("reading {}", args.snapshot.display()))?;
    let count = if args.small { 3 } else { args.transitions };
    let main = windows::window_ending_at(&sets, args.end, count)?;
    let change = if args.end.is_none() && !args.no_compiler_change && !main.has_compiler_change(&sets) {
        windows::compiler_change_window(&sets, main.end, CHANGE_TRANSITIONS)
    } else {
        None
    };
    // --small keeps a few packages that change in the window, with everything any
    // set of the window needs for them.
    let jobs_of = |window: Window| {
        let keep = args.small.then(|| windows::small_part(window.sets(&sets), &index, SMALL_PACKAGES));
        windows::jobs(&sets, window, &index, keep.as_ref())
    };
    let sections: Vec<(Window, Vec<Job>)> =
        std::iter::once(main).chain(change).map(|w| (w, jobs_of(w))).collect();

    let purs_bin = standin(args.purs.as_deref())?;
    let scratch = tempfile::tempdir()?;
    let versions: BTreeSet<Version> = sections
        .iter()
        .flat_map(|(_, jobs)| jobs.iter().flat_map(|j| [j.compiler, j.old_compiler]))
        .collect();
    let purs = Purs::new(compilers_dir(&purs_bin, &versions, &scratch.path().join("bin"))?);
    let source = Generated { index: &index, variants: BTreeMap::new() };

    let mut section_json = Vec::new();
    for (i, (window, jobs)) in sections.iter().enumerate() {
        let first = &jobs[0];
        let compilers: BTreeSet<String> =
            jobs.iter().flat_map(|j| [j.old_compiler, j.compiler]).map(|v| v.to_string()).collect();
        if i > 0 {
            println!("\ncompiler change (the window above keeps one compiler):");
        }
        println!(
            "package sets: {} transitions {} → {} from a set of {} packages ({} modules), compilers {compilers:?}",
            jobs.len(),
            window.sets(&sets)[0].version,
            sets[window.end].version,
            first.old.len(),
            first.old.iter().map(|(n, v)| source.module_count(n, *v)).sum::<usize>(),
        );
        let minima: Vec<Minimum> = jobs.iter().map(|j| minimum(j, &index, &source)).collect();
        let results =
            replay(jobs, &minima, &index, &source, &purs, &scratch.path().join(format!("window-{i}")))?;
        print_figures(&results);
        section_json.push(window_json(*window, &sets, &results));
    }
    let jobs = &sections[0].1;

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
    let log2k = (k.max(1) as f64).log2().ceil() as usize;
    let bound = 2 + 2 * f * log2k;
    let rejected: Vec<String> = run.result.rejected.iter().map(|r| r.name.to_string()).collect();
    println!(
        "batch: k = {k} changes, f = {f} breaking; ours {invocations} compiler invocations (bound 2 + 2·f·⌈log2 k⌉ = {bound}; upstream one-at-a-time: k + 2 = {}); rejected {rejected:?}; {batch_seconds:.2} s",
        k + 2
    );
    if let Some(path) = &args.json {
        let mut sections = section_json.into_iter();
        let mut doc = sections.next().expect("the main window");
        if let Some(change) = sections.next() {
            doc["compiler_change"] = change;
        }
        doc["batch"] = json!({ "k": k, "f": f, "compiler_invocations": invocations, "bound": bound, "upstream_compiler_invocations": k + 2, "rejected": rejected });
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
