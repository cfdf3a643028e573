//! `registry bench matrix`: a new compiler appears and every version of a window of
//! the real registry (default: the newest package set) must be checked with it —
//! the flood of matrix jobs. Side by side:
//!
//! * `upstream` — each job installs its whole build plan and compiles all of it from
//!   scratch (one purs call over everything installed, in a fresh directory), one job
//!   at a time; planned with a view of the registry built afresh for every job (in
//!   memory: upstream also reads every file again, which is not counted here).
//! * `ours` — the flood in `MatrixView::plan_flood` order (dependencies before
//!   dependants, planned in memory), each job compiled through
//!   `registry_jobs::builds::build_packages`, the matrix jobs' build path, over the
//!   build cache in a local storage adapter, in a fresh work directory per job.
//! * `minimum` — each version's own modules once.
//!
//! The window's versions are seeded as published with the set's compiler (`A`); the
//! new compiler is `A` with its patch raised. Both run the stand-in compiler.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use registry_adapters::{GitCheckout, GitSourceFetcher, HttpDocsSite, LocalStorage, NullLog};
use registry_build::source::PackageSource;
use registry_compiler::Purs;
use registry_core::metadata::PublishedMetadata;
use registry_core::package_set_batch::PackageMap;
use registry_core::solver::{ManifestDeps, MatrixSolverResult};
use registry_core::{ManifestIndex, Metadata, PackageName, Timestamp, Version};
use registry_jobs::builds::{BuildPlace, OnDisk, build_packages};
use registry_jobs::matrix::MatrixView;
use registry_settings::Adapters;
use registry_workload::{load_snapshot, shared_snapshot};
use serde_json::json;

use crate::generated::{Generated, compile_all, compilers_dir, standin};
use crate::matrix_floor::{Forced, forced_builds};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// A registry data folder (index/, package-sets/); default:
    /// `data/registry-snapshot` under REGISTRY_SHARED_DIR, else ../shared.
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// The package set whose versions form the window; default: the newest.
    #[arg(long, value_name = "SET_VERSION")]
    pub set: Option<Version>,
    /// A quick run: about 60 versions of the set, closed under dependencies.
    #[arg(long)]
    pub small: bool,
    /// The window is the set's versions only, as the issue words it: a version whose
    /// dependency ranges accept no version of the set is not reached (by default the
    /// window adds, for each such range, the newest index version that fits).
    #[arg(long)]
    pub set_only: bool,
    /// Run only N randomly chosen upstream jobs (fixed seed) and extrapolate their
    /// mean wall time to every job; modules are still counted exactly for all.
    #[arg(long, value_name = "N")]
    pub upstream_sample: Option<usize>,
    /// Write the figures as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The compiler binary to run for every version (default: `purs-standin` next to
    /// this executable).
    #[arg(long)]
    pub purs: Option<PathBuf>,
}

/// Versions `--small` keeps.
const SMALL_VERSIONS: usize = 60;

/// What one strategy did over the whole flood.
#[derive(Debug, Default, Clone)]
pub(crate) struct Strategy {
    pub jobs: usize,
    /// Jobs actually run (fewer than `jobs` when upstream is sampled).
    pub jobs_run: usize,
    pub modules_compiled: usize,
    pub compiler_invocations: usize,
    pub planning_seconds: f64,
    /// Wall time of the jobs (extrapolated from `jobs_run` when sampled).
    pub wall_seconds: f64,
    pub cache_hits: usize,
    pub cache_misses: usize,
    /// Packages a matrix job found built in the directory kept across matrix jobs.
    pub kept: usize,
    /// Jobs that did not compile (none expected: generated sources compile).
    pub failed: Vec<String>,
}

impl Strategy {
    fn total_seconds(&self) -> f64 {
        self.planning_seconds + self.wall_seconds
    }

    fn to_json(&self, own_modules: usize) -> serde_json::Value {
        json!({
            "jobs": self.jobs,
            "jobs_run": self.jobs_run,
            "extrapolated": self.jobs_run < self.jobs,
            "modules_compiled": self.modules_compiled,
            "own_modules": own_modules,
            "compiler_invocations": self.compiler_invocations,
            "planning_seconds": self.planning_seconds,
            "wall_seconds": self.wall_seconds,
            "total_seconds": self.total_seconds(),
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "kept": self.kept,
            "failed": self.failed,
        })
    }
}

/// The figures of one flood.
#[derive(Debug)]
pub(crate) struct Flood {
    pub versions: usize,
    pub old_compiler: Version,
    pub new_compiler: Version,
    /// Versions of the window the flood never reached.
    pub not_planned: Vec<String>,
    pub mean_plan_size: f64,
    /// The minimum: every planned version's own modules once.
    pub own_modules: usize,
    /// The floor no choice of plans gets under: the minimum plus the builds
    /// `forced` adds (a lower bound, see `matrix_floor`).
    pub floor_modules: usize,
    pub forced: Vec<Forced>,
    pub upstream: Strategy,
    pub ours: Strategy,
    /// Dependencies `ours` compiled again instead of restoring (`dep in job`): the
    /// job's plan picked versions different from those the dependency was built with.
    pub rebuilt: Vec<String>,
}

/// Which upstream jobs to run.
#[derive(Debug, Clone, Copy)]
pub(crate) enum UpstreamRun {
    All,
    Sample(usize),
}

fn id(name: &PackageName, version: Version) -> String {
    format!("{name}@{version}")
}

/// The packages a job installs: its build plan and itself.
fn job_packages(job: &MatrixSolverResult) -> PackageMap {
    let mut packages = job.resolutions.clone();
    packages.insert(job.name.clone(), job.version);
    packages
}

/// The versions a flood checks.
type Window = BTreeSet<(PackageName, Version)>;

/// The window's versions as published with `compiler` and nothing else.
fn seeded_metadata(
    window: &Window,
    index: &ManifestIndex,
    source: &Generated<'_>,
    compiler: Version,
) -> Result<BTreeMap<PackageName, Metadata>> {
    let mut out: BTreeMap<PackageName, Metadata> = BTreeMap::new();
    for (name, version) in window {
        let manifest = index
            .lookup(name, *version)
            .with_context(|| format!("{} is not in the index", id(name, *version)))?;
        let published = PublishedMetadata {
            bytes: 0,
            compilers: vec![compiler],
            hash: source.hash(name, *version).expect("generated sources have a hash"),
            published_time: Timestamp::from_unix_millis(0),
            git_ref: Some(String::new()),
        };
        out.entry(name.clone())
            .or_insert_with(|| Metadata {
                location: manifest.location.clone(),
                owners: None,
                published: BTreeMap::new(),
                unpublished: BTreeMap::new(),
            })
            .published
            .insert(*version, published);
    }
    Ok(out)
}

/// `packages` and, for every dependency range no version of the window satisfies,
/// the newest version of the index that does (and so on for those). Some manifests
/// of a set accept none of the set's versions of a dependency (the set never solved
/// with their ranges); without this their versions could not be planned at all.
fn close_by_ranges(packages: &PackageMap, index: &ManifestIndex) -> Window {
    let mut window: Window = packages.iter().map(|(n, v)| (n.clone(), *v)).collect();
    let mut pending: Vec<(PackageName, Version)> = window.iter().cloned().collect();
    while let Some((name, version)) = pending.pop() {
        let Some(manifest) = index.lookup(&name, version) else { continue };
        for (dependency, range) in &manifest.dependencies {
            let satisfied = window
                .range((dependency.clone(), Version::new(0, 0, 0))..)
                .take_while(|(n, _)| n == dependency)
                .any(|(_, v)| range.includes(*v));
            if satisfied {
                continue;
            }
            let newest =
                index.versions(dependency).and_then(|vs| vs.keys().rev().find(|v| range.includes(**v)));
            if let Some(v) = newest
                && window.insert((dependency.clone(), *v))
            {
                pending.push((dependency.clone(), *v));
            }
        }
    }
    window
}

/// Up to `target` packages of `packages`, with every dependency of each kept (in
/// name order, a package whose closure does not fit is passed over).
fn small_window(packages: &PackageMap, index: &ManifestIndex, target: usize) -> PackageMap {
    let mut keep = PackageMap::new();
    for name in packages.keys() {
        let mut closure = BTreeSet::from([name.clone()]);
        let mut pending = vec![name.clone()];
        while let Some(n) = pending.pop() {
            let Some(manifest) = packages.get(&n).and_then(|v| index.lookup(&n, *v)) else { continue };
            for dependency in manifest.dependencies.keys() {
                if packages.contains_key(dependency) && closure.insert(dependency.clone()) {
                    pending.push(dependency.clone());
                }
            }
        }
        let new = closure.iter().filter(|n| !keep.contains_key(*n)).count();
        if keep.len() + new <= target {
            for n in closure {
                keep.insert(n.clone(), packages[&n]);
            }
        }
    }
    keep
}

/// Why a job's dependencies may have other build keys than when their own jobs
/// built them: where the job's plan picks other versions for a dependency's
/// dependencies than that dependency's own job did (the first few).
fn plan_differences(
    job: &MatrixSolverResult,
    plans: &BTreeMap<(PackageName, Version), &MatrixSolverResult>,
) -> String {
    let mut found = Vec::new();
    for (dependency, version) in &job.resolutions {
        let Some(own) = plans.get(&(dependency.clone(), *version)) else { continue };
        for (n, v) in &own.resolutions {
            if let Some(here) = job.resolutions.get(n)
                && here != v
            {
                found.push(format!(
                    "{} was built with {n}@{v}, this plan has {n}@{here}",
                    id(dependency, *version)
                ));
            }
        }
    }
    if found.is_empty() {
        return String::new();
    }
    let more = if found.len() > 3 { format!(" (+{} more)", found.len() - 3) } else { String::new() };
    found.truncate(3);
    format!(": {}{more}", found.join("; "))
}

/// `count` distinct indices below `len`, chosen by a fixed-seed generator so runs
/// compare.
fn sample(len: usize, count: usize) -> BTreeSet<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..order.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order.into_iter().take(count).collect()
}

/// Runs the flood of `new` over `window` (published with `old`), both strategies,
/// in `scratch`.
pub(crate) fn flood(
    index: &ManifestIndex,
    window: &Window,
    old: Version,
    new: Version,
    purs_bin: &Path,
    upstream_run: UpstreamRun,
    scratch: &Path,
) -> Result<Flood> {
    let source = Generated { index, variants: BTreeMap::new() };
    let manifests: Vec<ManifestDeps> = window
        .iter()
        .map(|(n, v)| {
            index
                .lookup(n, *v)
                .map(ManifestDeps::from)
                .with_context(|| format!("{} is not in the index", id(n, *v)))
        })
        .collect::<Result<_>>()?;
    let metadata = seeded_metadata(window, index, &source, old)?;
    let compilers = [old, new];
    let roots: Vec<(PackageName, Version)> =
        manifests.iter().filter(|m| m.dependencies.is_empty()).map(|m| (m.name.clone(), m.version)).collect();

    let start = Instant::now();
    let mut view = MatrixView::new(manifests.clone(), metadata.clone());
    let plan = view.plan_flood(&compilers, new, &roots, None, &NullLog).map_err(|f| anyhow!(f.0))?;
    let ours_planning = start.elapsed().as_secs_f64();

    // Upstream plans each job over a view read afresh, knowing the jobs before it.
    let start = Instant::now();
    let mut known = metadata.clone();
    for job in &plan {
        let mut fresh = MatrixView::new(manifests.clone(), known.clone());
        fresh.after_matrix(&compilers, &job.name, job.version, new, &NullLog).map_err(|f| anyhow!(f.0))?;
        if let Some(entry) = known.get_mut(&job.name).and_then(|m| m.published.get_mut(&job.version)) {
            entry.add_compiler(new);
        }
    }
    let upstream_planning = start.elapsed().as_secs_f64();

    let planned: BTreeSet<(PackageName, Version)> =
        plan.iter().map(|j| (j.name.clone(), j.version)).collect();
    let not_planned: Vec<String> = window.difference(&planned).map(|(n, v)| id(n, *v)).collect();
    let mean_plan_size =
        plan.iter().map(|j| j.resolutions.len()).sum::<usize>() as f64 / plan.len().max(1) as f64;

    let mut modules: BTreeMap<(PackageName, Version), usize> = BTreeMap::new();
    let sources = scratch.join("sources");
    for job in &plan {
        for (n, v) in job_packages(job) {
            if let std::collections::btree_map::Entry::Vacant(e) = modules.entry((n.clone(), v)) {
                e.insert(source.module_count(&n, v));
                source.install(&n, v, &sources.join(id(&n, v))).map_err(anyhow::Error::msg)?;
            }
        }
    }
    let own_modules: usize = plan.iter().map(|j| modules[&(j.name.clone(), j.version)]).sum();
    let forced = forced_builds(&manifests, &plan);
    let floor_modules =
        own_modules + forced.iter().map(|f| (f.builds - 1) * modules[&f.version]).sum::<usize>();
    let plan_modules =
        |job: &MatrixSolverResult| -> usize { job_packages(job).into_iter().map(|key| modules[&key]).sum() };

    let locator = compilers_dir(purs_bin, &compilers.into_iter().collect(), &scratch.join("bin"))?;

    // Upstream: everything from scratch, one job at a time.
    let chosen = match upstream_run {
        UpstreamRun::All => (0..plan.len()).collect(),
        UpstreamRun::Sample(n) => sample(plan.len(), n),
    };
    let purs = Purs::new(locator.clone());
    let mut upstream = Strategy {
        jobs: plan.len(),
        jobs_run: chosen.len(),
        planning_seconds: upstream_planning,
        ..Strategy::default()
    };
    let mut run_seconds = 0.0;
    let dir = scratch.join("upstream-job");
    for (i, job) in plan.iter().enumerate() {
        if !chosen.contains(&i) {
            continue;
        }
        let start = Instant::now();
        for (n, v) in job_packages(job) {
            source.install(&n, v, &dir.join("packages").join(id(&n, v))).map_err(anyhow::Error::msg)?;
        }
        let (ok, compiled) = compile_all(&purs, &dir, new)?;
        std::fs::remove_dir_all(&dir)?;
        run_seconds += start.elapsed().as_secs_f64();
        if !ok {
            upstream.failed.push(id(&job.name, job.version));
        }
        if compiled != plan_modules(job) {
            bail!(
                "upstream job {} compiled {compiled} modules, but its plan and itself have {}",
                id(&job.name, job.version),
                plan_modules(job)
            );
        }
    }
    // Every job compiles its whole plan and itself: counted exactly even when sampled.
    upstream.modules_compiled = plan.iter().map(plan_modules).sum();
    upstream.compiler_invocations = plan.len();
    upstream.wall_seconds = run_seconds * plan.len() as f64 / chosen.len().max(1) as f64;

    // Ours: the flood in plan order through the matrix jobs' build path.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // The jobs only build: git, the docs site and sources are never touched, but a
    // job environment has them.
    let nowhere = "file:///nonexistent";
    let adapters = Adapters {
        storage: Arc::new(LocalStorage::new(scratch.join("storage"))),
        registry: Arc::new(GitCheckout::new("registry", scratch.join("git/registry"), nowhere)),
        index: Arc::new(GitCheckout::new("registry-index", scratch.join("git/index"), nowhere)),
        legacy_package_sets: Arc::new(GitCheckout::new("package-sets", scratch.join("git/sets"), nowhere)),
        docs: Arc::new(HttpDocsSite::new("http://127.0.0.1:9", None)),
        sources: Arc::new(GitSourceFetcher::new(nowhere)),
        compilers: locator,
        build_root: scratch.join("build-root"),
    };
    let mut ours = Strategy {
        jobs: plan.len(),
        jobs_run: plan.len(),
        planning_seconds: ours_planning,
        ..Strategy::default()
    };
    let plans: BTreeMap<(PackageName, Version), &MatrixSolverResult> =
        plan.iter().map(|j| ((j.name.clone(), j.version), j)).collect();
    let mut rebuilt = Vec::new();
    let work = scratch.join("ours-job");
    let start = Instant::now();
    for job in &plan {
        std::fs::create_dir_all(&work)?;
        let env = adapters.env("", Arc::new(NullLog), work.clone());
        let on_disk: Vec<OnDisk> = job_packages(job)
            .into_iter()
            .map(|(name, version)| OnDisk {
                manifest: index.lookup(&name, version).cloned(),
                dir: sources.join(id(&name, version)),
                hash: source.hash(&name, version),
                name,
                version,
            })
            .collect();
        let job_size = on_disk.len();
        let report = runtime
            .block_on(build_packages(&env, &env.purs(None), new, on_disk, BuildPlace::KeptForMatrixJobs))
            .map_err(|f| anyhow!(f.0))?
            .map_err(|e| anyhow!("{} with {new}: {e}", id(&job.name, job.version)))?;
        std::fs::remove_dir_all(&work)?;
        let compiled_packages = report.packages_compiled;
        ours.modules_compiled += report.modules_compiled;
        ours.compiler_invocations += usize::from(report.compiled);
        ours.cache_hits += report.packages_restored;
        ours.cache_misses += compiled_packages;
        // Trusted where the previous matrix build left them: neither restored nor compiled.
        ours.kept += job_size - report.packages_restored - compiled_packages;
        if !report.outcome.is_ok() {
            ours.failed.push(id(&job.name, job.version));
        }
        // The job's own package is new work; any other compiled package was rebuilt.
        if compiled_packages > 1 {
            rebuilt.push(format!(
                "{} dependencies compiled again in {}{}",
                compiled_packages - 1,
                id(&job.name, job.version),
                plan_differences(job, &plans)
            ));
        }
    }
    ours.wall_seconds = start.elapsed().as_secs_f64();

    Ok(Flood {
        versions: window.len(),
        old_compiler: old,
        new_compiler: new,
        not_planned,
        mean_plan_size,
        own_modules,
        floor_modules,
        forced,
        upstream,
        ours,
        rebuilt,
    })
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::INFINITY }
}

fn print_flood(f: &Flood) {
    if !f.not_planned.is_empty() {
        let shown: Vec<&str> = f.not_planned.iter().take(10).map(String::as_str).collect();
        println!("not reached by the flood: {} versions ({})", f.not_planned.len(), shown.join(", "));
    }
    println!("mean build plan: {:.1} packages besides the job's own", f.mean_plan_size);
    println!("minimum      modules compiled {:>8} (each version's own modules once)", f.own_modules);
    println!(
        "floor        modules compiled {:>8} (at least, under any build plans: {} versions no one build of which serves every job)",
        f.floor_modules,
        f.forced.len()
    );
    for forced in f.forced.iter().take(10) {
        println!("  {}", forced.describe());
    }
    for (name, s) in [("upstream", &f.upstream), ("ours", &f.ours)] {
        println!(
            "{name:<12} jobs {:>4}  compiler invocations {:>4}  modules compiled {:>8}  planning {:>7.3} s  wall {:>9.2} s  total {:>9.2} s  cache hits {:>6}  misses {:>5}  kept {:>6}{}",
            s.jobs,
            s.compiler_invocations,
            s.modules_compiled,
            s.planning_seconds,
            s.wall_seconds,
            s.total_seconds(),
            s.cache_hits,
            s.cache_misses,
            s.kept,
            if s.jobs_run < s.jobs {
                format!("  (wall extrapolated from {} sampled jobs)", s.jobs_run)
            } else {
                String::new()
            }
        );
        if !s.failed.is_empty() {
            println!("{name:<12} FAILED jobs: {}", s.failed.join(", "));
        }
    }
    println!(
        "ours: modules compiled / floor = {:.3}",
        ratio(f.ours.modules_compiled as f64, f.floor_modules as f64)
    );
    println!(
        "ours: modules compiled / minimum = {:.2}; upstream / ours: modules {:.1}x, wall {:.1}x, total {:.1}x",
        ratio(f.ours.modules_compiled as f64, f.own_modules as f64),
        ratio(f.upstream.modules_compiled as f64, f.ours.modules_compiled as f64),
        ratio(f.upstream.wall_seconds, f.ours.wall_seconds),
        ratio(f.upstream.total_seconds(), f.ours.total_seconds()),
    );
    println!("rebuilt because the plan differed: {} jobs", f.rebuilt.len());
    for line in f.rebuilt.iter().take(10) {
        println!("  {line}");
    }
}

fn flood_json(set: Version, f: &Flood) -> serde_json::Value {
    json!({
        "window": {
            "set": set.to_string(),
            "versions": f.versions,
            "old_compiler": f.old_compiler.to_string(),
            "new_compiler": f.new_compiler.to_string(),
            "not_planned": f.not_planned,
            "mean_plan_size": f.mean_plan_size,
        },
        "minimum": { "own_modules": f.own_modules },
        "floor": {
            "modules": f.floor_modules,
            "forced": f.forced.iter().map(Forced::describe).collect::<Vec<_>>(),
        },
        "strategies": {
            "upstream": f.upstream.to_json(f.own_modules),
            "ours": f.ours.to_json(f.own_modules),
        },
        "rebuilt_because_plan_differed": f.rebuilt,
    })
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let snapshot = match &args.snapshot {
        Some(dir) => dir.clone(),
        None => shared_snapshot().context(
            "no registry snapshot: pass --snapshot DIR, or set REGISTRY_SHARED_DIR to the folder holding \
             data/registry-snapshot",
        )?,
    };
    let (index, sets) = load_snapshot(&snapshot)
        .with_context(|| format!("reading the snapshot at {}", snapshot.display()))?;
    let set = match args.set {
        Some(wanted) => sets
            .iter()
            .find(|s| s.version == wanted)
            .with_context(|| format!("no package set {wanted} in {}/package-sets", snapshot.display()))?,
        None => sets.last().with_context(|| format!("no package sets in {}", snapshot.display()))?,
    };
    let packages =
        if args.small { small_window(&set.packages, &index, SMALL_VERSIONS) } else { set.packages.clone() };
    let window = if args.set_only {
        packages.iter().map(|(n, v)| (n.clone(), *v)).collect()
    } else {
        close_by_ranges(&packages, &index)
    };
    let old = set.compiler;
    let new = Version::new(old.major, old.minor, old.patch + 1);
    let purs_bin = standin(args.purs.as_deref())?;
    let upstream = match args.upstream_sample {
        Some(0) => bail!("--upstream-sample must be at least 1"),
        Some(n) => UpstreamRun::Sample(n),
        None => UpstreamRun::All,
    };
    let delay = std::env::var("PURS_STANDIN_DELAY_MS").unwrap_or_else(|_| "0".into());
    println!(
        "matrix flood: {} versions of package set {} and {} more its dependency ranges need (published with {old}), new compiler {new}; compiler {} (PURS_STANDIN_DELAY_MS={delay} per module)",
        packages.len(),
        set.version,
        window.len() - packages.len(),
        purs_bin.display()
    );
    let scratch = tempfile::tempdir()?;
    let figures = flood(&index, &window, old, new, &purs_bin, upstream, scratch.path())?;
    print_flood(&figures);
    if let Some(path) = &args.json {
        let mut doc = flood_json(set.version, &figures);
        doc["window"]["set_versions"] = json!(packages.len());
        doc["window"]["set_only"] = json!(args.set_only);
        doc["window"]["standin_delay_ms_per_module"] = json!(delay);
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry_core::IncludeRanges;
    use registry_core::json::Codec;
    use registry_workload::fixture_manifest;

    /// The stand-in built beside this test, in the test's own profile.
    fn built_standin() -> PathBuf {
        let exe = std::env::current_exe().unwrap();
        let target_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "-q", "-p", "purs-standin"]);
        if target_dir.ends_with("release") {
            build.arg("--release");
        }
        assert!(build.status().unwrap().success());
        target_dir.join("purs-standin")
    }

    #[test]
    fn ours_compiles_each_version_once_over_a_chain_and_a_diamond() {
        let manifests = [
            fixture_manifest("prelude", "1.0.0", &[]),
            fixture_manifest("left", "1.0.0", &["prelude"]),
            fixture_manifest("right", "1.0.0", &["prelude"]),
            fixture_manifest("top", "1.0.0", &["left", "right"]),
            fixture_manifest("chain", "1.0.0", &["top"]),
            fixture_manifest("tail", "1.0.0", &["chain", "prelude"]),
        ];
        let index = ManifestIndex::maximal(IncludeRanges::IgnoreRanges, manifests.iter()).1;
        let window: Window = manifests.iter().map(|m| (m.name.clone(), m.version)).collect();
        let scratch = tempfile::tempdir().unwrap();
        let (old, new) = (Version::new(0, 15, 15), Version::new(0, 15, 16));
        let f = flood(&index, &window, old, new, &built_standin(), UpstreamRun::All, scratch.path()).unwrap();

        assert!(f.not_planned.is_empty(), "{:?}", f.not_planned);
        assert_eq!(f.ours.jobs, 6);
        assert!(f.own_modules > 0);
        assert_eq!(f.ours.modules_compiled, f.own_modules, "{f:?}");
        assert!(f.rebuilt.is_empty(), "{:?}", f.rebuilt);
        assert_eq!(f.ours.compiler_invocations, 6);
        assert_eq!(f.ours.cache_misses, 6, "each version compiled once");
        // Plans: left, right 1; top 3; chain 4; tail 5 — each restored from the cache
        // or found built in the directory kept across matrix jobs.
        assert_eq!(f.ours.cache_hits + f.ours.kept, 1 + 1 + 3 + 4 + 5);
        assert!(f.ours.kept > 0, "the kept directory serves later jobs: {f:?}");
        assert!(f.ours.failed.is_empty() && f.upstream.failed.is_empty(), "{f:?}");
        assert!(f.upstream.modules_compiled > f.ours.modules_compiled, "{f:?}");
        assert_eq!(f.upstream.jobs_run, 6);
    }

    #[test]
    fn ranges_the_set_does_not_satisfy_bring_the_newest_version_that_does() {
        let m = |name: &str, version: &str, deps: &str| {
            registry_core::Manifest::from_json_str(&format!(
                r#"{{"name":"{name}","version":"{version}","license":"MIT","location":{{"githubOwner":"o","githubRepo":"{name}"}},"ref":"v{version}","dependencies":{{{deps}}}}}"#
            ))
            .unwrap()
        };
        let manifests = [
            m("a", "1.0.0", r#""b":">=1.0.0 <2.0.0""#),
            m("b", "1.0.0", ""),
            m("b", "1.5.0", r#""c":">=1.0.0 <2.0.0""#),
            m("b", "2.0.0", ""),
            m("c", "1.0.0", ""),
        ];
        let index = ManifestIndex::maximal(IncludeRanges::IgnoreRanges, manifests.iter()).1;
        let set: PackageMap = [("a", "1.0.0"), ("b", "2.0.0")]
            .iter()
            .map(|(n, v)| (PackageName::parse(n).unwrap(), Version::parse(v).unwrap()))
            .collect();
        let window: Vec<String> = close_by_ranges(&set, &index).iter().map(|(n, v)| id(n, *v)).collect();
        assert_eq!(window, ["a@1.0.0", "b@1.5.0", "b@2.0.0", "c@1.0.0"]);
    }

    #[test]
    fn the_small_window_keeps_every_dependency() {
        let manifests = [
            fixture_manifest("a", "1.0.0", &[]),
            fixture_manifest("b", "1.0.0", &["a"]),
            fixture_manifest("c", "1.0.0", &["b"]),
            fixture_manifest("d", "1.0.0", &[]),
        ];
        let index = ManifestIndex::maximal(IncludeRanges::IgnoreRanges, manifests.iter()).1;
        let packages: PackageMap = manifests.iter().map(|m| (m.name.clone(), m.version)).collect();
        let names = |m: PackageMap| m.keys().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(names(small_window(&packages, &index, 2)), ["a", "b"]);
        // c needs a and b; with room for three, d no longer fits after them.
        assert_eq!(names(small_window(&packages, &index, 3)), ["a", "b", "c"]);
        assert_eq!(names(small_window(&packages, &index, 4)), ["a", "b", "c", "d"]);
    }
}
