//! The engine against clean builds, with the stand-in compiler.

mod support;

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use registry_build::{BuildEvent, Engine, StorageCache};
use registry_compiler::Purs;
use registry_core::build_plan::affected_closure;
use registry_core::package_set_batch::{CompileOutcome, PackageMap};
use support::*;

fn open(base: &std::path::Path, compiler: &str, cache: &Arc<StorageCache>) -> Engine {
    let purs = Purs::new(compilers(&base.join("bin")));
    Engine::open(&base.join("work"), v(compiler), purs, cache.clone()).unwrap()
}

fn full_set() -> PackageMap {
    UNIVERSE.iter().map(|(n, _)| (name(n), v("1.0.0"))).collect()
}

/// One job of a random sequence: a few edits to the previous set.
#[derive(Debug, Clone)]
struct Step {
    /// (universe package index, new version index or `None` = remove).
    edits: Vec<(usize, Option<usize>)>,
    compiler: &'static str,
    /// Kill the compile after this many milliseconds (a crash mid-build) first.
    crash_after_ms: Option<u64>,
    /// Delete the working directory first (a fresh machine; the cache stays).
    wipe: bool,
    /// Damage every cache object first (content no longer matches its digest).
    damage: bool,
}

fn step() -> impl Strategy<Value = Step> {
    let version = prop_oneof![
        3 => Just(Some(0usize)),
        3 => Just(Some(1usize)),
        1 => Just(Some(2usize)),
        1 => Just(Some(3usize)),
        3 => Just(None),
    ];
    (
        proptest::collection::vec((0..UNIVERSE.len(), version), 1..3),
        prop_oneof![4 => Just("0.15.15"), 1 => Just("0.15.14")],
        prop_oneof![4 => Just(None), 1 => (5u64..60).prop_map(Some)],
        prop_oneof![9 => Just(false), 1 => Just(true)],
        prop_oneof![9 => Just(false), 1 => Just(true)],
    )
        .prop_map(|(edits, compiler, crash_after_ms, wipe, damage)| Step {
            edits,
            compiler,
            crash_after_ms,
            wipe,
            damage,
        })
}

fn apply(previous: &PackageMap, step: &Step) -> PackageMap {
    let mut target = previous.clone();
    for (i, version) in &step.edits {
        let n = name(UNIVERSE[*i].0);
        match version {
            Some(k) => target.insert(n, v(VERSIONS[*k])),
            None => target.remove(&n),
        };
    }
    target
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    /// After any sequence of jobs (adds, updates, removals, breaking and broken
    /// versions, compiler switches, crashes mid-compile, lost working directories,
    /// damaged cache objects; restores after dependencies changed key),
    /// the engine reports what a clean build reports and, when it passes, leaves the
    /// same output.
    #[test]
    fn every_build_equals_a_clean_build(steps in proptest::collection::vec(step(), 1..8)) {
        let base = tempfile::tempdir().unwrap();
        let cache = Arc::new(StorageCache::local(base.path().join("cache")).unwrap());
        let source = GenSource { index: universe() };
        let clean_purs = Purs::new(compilers(&base.path().join("bin")));
        let mut target = full_set();
        let mut passes = 0;
        for (i, step) in steps.iter().enumerate() {
            target = apply(&target, step);
            if step.wipe {
                let _ = std::fs::remove_dir_all(base.path().join("work"));
            }
            if step.damage {
                damage_cache(&base.path().join("cache"));
            }
            if let Some(ms) = step.crash_after_ms {
                let purs = Purs::new(compilers(&base.path().join("bin")))
                    .with_timeout(Duration::from_millis(ms))
                    .with_env("PURS_STANDIN_DELAY_MS", "5");
                let mut engine = Engine::open(&base.path().join("work"), v(step.compiler), purs, cache.clone()).unwrap();
                let _ = engine.build(&target, &source.index, &source); // may be killed mid-compile
            }
            let mut engine = open(base.path(), step.compiler, &cache);
            let report = engine.build(&target, &source.index, &source).unwrap();
            let clean_dir = base.path().join("clean");
            let expected = clean_build(&clean_dir, &target, &source, &clean_purs, v(step.compiler));
            prop_assert_eq!(&report.outcome, &expected, "step {}: {:?}", i, step);
            if expected == CompileOutcome::Ok {
                passes += 1;
                assert_same_output(&engine.output_dir(), &clean_dir.join("output"), &format!("step {i}: {step:?}"));
            }
        }
        let _ = passes; // how many steps were compared in full (for debugging)
    }
}

/// Every `.tar.gz` object below `dir`, as paths.
fn cache_objects(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else if entry.file_name().to_string_lossy().ends_with(".tar.gz") {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found
}

/// Rewrites every cache object below `dir` as bit rot would leave it: one byte of
/// one file changed, the recorded digest kept. Returns how many were damaged.
fn damage_cache(dir: &std::path::Path) -> usize {
    use registry_build::storage_cache::{DIGEST_ENTRY, content_digest, decode};
    let objects = cache_objects(dir);
    for path in &objects {
        let Ok(mut output) = decode(&std::fs::read(path).unwrap()) else { continue };
        let digest = content_digest(&output.files);
        let first = output.files.values_mut().next().unwrap();
        first.push(b'!');
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let entries = std::iter::once((DIGEST_ENTRY.to_owned(), digest.into_bytes())).chain(output.files);
        for (name, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, name, &bytes[..]).unwrap();
        }
        std::fs::write(path, tar.into_inner().unwrap().finish().unwrap()).unwrap();
    }
    objects.len()
}

#[test]
fn a_damaged_cache_object_is_rebuilt_with_a_warning_and_stored_again() {
    let base = tempfile::tempdir().unwrap();
    let cache = Arc::new(StorageCache::local(base.path().join("cache")).unwrap());
    let source = GenSource { index: universe() };
    // prelude alone first: the one object in the cache is prelude's.
    let only_prelude: PackageMap = [(name("prelude"), v("1.0.0"))].into();
    let mut engine = open(base.path(), "0.15.15", &cache);
    engine.build(&only_prelude, &source.index, &source).unwrap();
    drop(engine);
    assert_eq!(damage_cache(&base.path().join("cache")), 1);

    std::fs::remove_dir_all(base.path().join("work")).unwrap();
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    let mut engine = open(base.path(), "0.15.15", &cache)
        .with_events(Arc::new(move |e: &BuildEvent| seen.lock().unwrap().push(e.clone())));
    let report = engine.build(&full_set(), &source.index, &source).unwrap();
    assert_eq!(report.outcome, CompileOutcome::Ok);
    assert_eq!(report.packages_restored, 0, "nothing damaged may be restored");
    let total: usize = engine.installed_modules().values().map(|m| m.len()).sum();
    assert_eq!(report.modules_compiled, total);
    let warnings: Vec<String> =
        events.lock().unwrap().iter().filter(|e| e.is_warning()).filter_map(BuildEvent::log_line).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("The build cache entry of prelude@1.0.0 is damaged (")
            && warnings[0].contains("was recorded")
            && warnings[0].ends_with("; rebuilding it"),
        "{warnings:?}"
    );
    let purs = Purs::new(compilers(&base.path().join("bin")));
    let clean = base.path().join("clean");
    assert_eq!(clean_build(&clean, &full_set(), &source, &purs, v("0.15.15")), CompileOutcome::Ok);
    assert_same_output(&engine.output_dir(), &clean.join("output"), "rebuilt after damage");
    drop(engine);

    // The rebuilt results replaced the damaged objects: a fresh directory restores all.
    std::fs::remove_dir_all(base.path().join("work")).unwrap();
    let mut fresh = open(base.path(), "0.15.15", &cache);
    let report = fresh.build(&full_set(), &source.index, &source).unwrap();
    assert!(!report.compiled);
    assert_eq!(report.packages_restored, full_set().len());
}

#[test]
fn a_different_binary_with_the_same_version_does_not_reuse_outputs() {
    let base = tempfile::tempdir().unwrap();
    let cache = Arc::new(StorageCache::local(base.path().join("cache")).unwrap());
    let source = GenSource { index: universe() };
    let mut engine = open(base.path(), "0.15.15", &cache);
    let first = engine.build(&full_set(), &source.index, &source).unwrap();
    drop(engine);

    // Another build of "0.15.15": the stand-in with a few bytes appended (it still runs).
    let link = base.path().join("bin/purs-0_15_15");
    std::fs::remove_file(&link).unwrap();
    std::fs::copy(standin(), &link).unwrap();
    let mut file = std::fs::OpenOptions::new().append(true).open(&link).unwrap();
    std::io::Write::write_all(&mut file, b"another build").unwrap();
    drop(file);

    std::fs::remove_dir_all(base.path().join("work")).unwrap();
    let mut engine = open(base.path(), "0.15.15", &cache);
    let report = engine.build(&full_set(), &source.index, &source).unwrap();
    assert_eq!(report.packages_restored, 0, "outputs of another binary are not reused");
    assert_eq!(report.modules_compiled, first.modules_compiled);
    assert_eq!(cache_objects(&base.path().join("cache")).len(), 2 * full_set().len());
}

#[test]
fn a_change_recompiles_exactly_the_affected_closure() {
    let base = tempfile::tempdir().unwrap();
    let cache = Arc::new(StorageCache::local(base.path().join("cache")).unwrap());
    let source = GenSource { index: universe() };
    let mut engine = open(base.path(), "0.15.15", &cache);
    let first = engine.build(&full_set(), &source.index, &source).unwrap();
    let modules = engine.installed_modules();
    let total: usize = modules.values().map(|m| m.len()).sum();
    assert_eq!(first.modules_compiled, total);

    let noop = engine.build(&full_set(), &source.index, &source).unwrap();
    assert!(!noop.compiled, "nothing changed, so purs need not run");

    let mut changed = full_set();
    changed.insert(name("alpha"), v("1.1.0"));
    let report = engine.build(&changed, &source.index, &source).unwrap();
    let affected = affected_closure(&changed, &source.index, &[name("alpha")].into());
    let modules = engine.installed_modules();
    let expected: usize = affected.iter().map(|n| modules[n].len()).sum();
    assert_eq!(report.outcome, CompileOutcome::Ok);
    assert_eq!(report.modules_compiled, expected, "affected: {affected:?}");
    assert!(expected < total);
}

#[test]
fn a_reverted_change_and_a_fresh_directory_compile_nothing() {
    let base = tempfile::tempdir().unwrap();
    let cache = Arc::new(StorageCache::local(base.path().join("cache")).unwrap());
    let source = GenSource { index: universe() };
    let mut engine = open(base.path(), "0.15.15", &cache);
    engine.build(&full_set(), &source.index, &source).unwrap();
    let mut changed = full_set();
    changed.insert(name("beta"), v("1.1.0"));
    assert!(engine.build(&changed, &source.index, &source).unwrap().compiled);
    // Back to the old set: every key is cached, so only copies.
    let back = engine.build(&full_set(), &source.index, &source).unwrap();
    assert!(!back.compiled);
    assert!(back.packages_restored > 0 && back.packages_restored < full_set().len());
    drop(engine);

    std::fs::remove_dir_all(base.path().join("work")).unwrap();
    let mut fresh = open(base.path(), "0.15.15", &cache);
    let report = fresh.build(&changed, &source.index, &source).unwrap();
    assert!(!report.compiled, "a fresh directory is filled from the cache");
    assert_eq!(report.packages_restored, full_set().len());
    // And purs agrees that the restored output is up to date.
    let purs = Purs::new(compilers(&base.path().join("bin")));
    let out = purs
        .call(&registry_compiler::CompilerArgs {
            version: Some(v("0.15.15")),
            cwd: Some(fresh.dir().to_path_buf()),
            command: registry_compiler::PursCommand::Compile {
                globs: vec![registry_build::engine::SOURCE_GLOB.into()],
                output: None,
            },
        })
        .unwrap();
    let _ = out;
    let again = fresh.build(&changed, &source.index, &source).unwrap();
    assert!(!again.compiled);
    let clean = base.path().join("clean");
    assert_eq!(clean_build(&clean, &changed, &source, &purs, v("0.15.15")), CompileOutcome::Ok);
    assert_same_output(&fresh.output_dir(), &clean.join("output"), "fresh directory");
}

#[test]
fn a_failing_change_rolls_back_only_what_it_touched() {
    let base = tempfile::tempdir().unwrap();
    let cache = Arc::new(StorageCache::local(base.path().join("cache")).unwrap());
    let source = GenSource { index: universe() };
    let mut engine = open(base.path(), "0.15.15", &cache);
    engine.build(&full_set(), &source.index, &source).unwrap();
    let mut broken = full_set();
    broken.insert(name("gamma"), v("3.0.0"));
    let failed = engine.build(&broken, &source.index, &source).unwrap();
    assert_eq!(failed.outcome, CompileOutcome::Aborted { failing: [name("gamma")].into() });
    let back = engine.build(&full_set(), &source.index, &source).unwrap();
    assert!(!back.compiled);
    // gamma and its dependant delta come back from the cache; nothing else is copied.
    assert_eq!(back.packages_restored, 2);
}

#[test]
fn a_removed_package_leaves_no_output() {
    let base = tempfile::tempdir().unwrap();
    let cache = Arc::new(StorageCache::local(base.path().join("cache")).unwrap());
    let source = GenSource { index: universe() };
    let mut engine = open(base.path(), "0.15.15", &cache);
    engine.build(&full_set(), &source.index, &source).unwrap();
    let mut smaller = full_set();
    smaller.remove(&name("delta"));
    let report = engine.build(&smaller, &source.index, &source).unwrap();
    assert!(!report.compiled);
    let purs = Purs::new(compilers(&base.path().join("bin")));
    let clean = base.path().join("clean");
    assert_eq!(clean_build(&clean, &smaller, &source, &purs, v("0.15.15")), CompileOutcome::Ok);
    assert_same_output(&engine.output_dir(), &clean.join("output"), "after removing delta");
}

#[test]
fn two_workers_share_build_results_through_an_s3_bucket() {
    let starter = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let Some(server) = starter.block_on(registry_test_support::S3TestServer::start()) else { return };
    let bucket = || -> Arc<StorageCache> {
        let storage = registry_adapters::S3Storage::new(&server.config()).unwrap();
        Arc::new(StorageCache::standalone(Arc::new(storage), Arc::new(registry_adapters::NullLog)).unwrap())
    };
    let source = GenSource { index: universe() };
    let mut set = full_set();
    set.insert(name("beta"), v("1.1.0"));

    let first = tempfile::tempdir().unwrap();
    let mut worker = open(first.path(), "0.15.15", &bucket());
    let built = worker.build(&set, &source.index, &source).unwrap();
    assert!(built.compiled && built.modules_compiled > 0);
    drop(worker);

    let second = tempfile::tempdir().unwrap();
    let mut other = open(second.path(), "0.15.15", &bucket());
    let report = other.build(&set, &source.index, &source).unwrap();
    assert!(!report.compiled, "the second worker restores everything from the bucket");
    assert_eq!(report.packages_restored, set.len());
    let purs = Purs::new(compilers(&second.path().join("bin")));
    let clean = second.path().join("clean");
    assert_eq!(clean_build(&clean, &set, &source, &purs, v("0.15.15")), CompileOutcome::Ok);
    assert_same_output(&other.output_dir(), &clean.join("output"), "restored from S3");
}
