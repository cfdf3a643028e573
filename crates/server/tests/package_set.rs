//! Package-set jobs end to end through the executor: a seeded registry (metadata,
//! index, package sets, tarballs made with registry-tarball from generated sources),
//! the stand-in compiler, a committed `package-sets/<version>.json`.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_core::job::{Job, JobType, LogLevel};
use registry_core::json::Codec;
use registry_core::operation::{PackageSetUpdateData, PackageSetUpdateRequest, PublishData};
use registry_core::{Manifest, PackageName, PackageSet, Timestamp, Version};
use registry_queue::{JobStore, LogsQuery, NewJob, Order};
use registry_server::app::{build_adapters, build_handlers};
use registry_server::config::defaults_for;
use registry_server::executor::{Executor, Handlers, ShutdownTrigger, Wakers, shutdown_pair};
use registry_server::handlers::PackageSetHandler;
use registry_workload::{GitIdentity, Variant, fixture_manifest, package_files, write_git_repo};

fn standin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("purs-standin");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status =
        std::process::Command::new(cargo).args(["build", "-q", "-p", "purs-standin"]).status().unwrap();
    assert!(status.success() && path.exists(), "building purs-standin failed");
    path
}

/// A registry initialized from the small test registry (its tarballs in local
/// storage), and a compilers folder with the stand-in as purs 0.15.15.
fn seeded_registry() -> (tempfile::TempDir, registry_server::config::Settings, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let settings = defaults_for(&data);
    let seed = dir.path().join("seed");
    registry_workload::write_small_registry(&seed, &settings.layout().storage()).unwrap();
    registry_server::init::init(&data, Some(&seed)).unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(standin(), bin.join("purs-0_15_15")).unwrap();
    (dir, settings, bin)
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn wait_finished(store: &Arc<dyn JobStore>, id: &str, limit: Duration) -> Job {
    let query = LogsQuery {
        level: LogLevel::Debug,
        since: Timestamp::from_unix_millis(0),
        until: Timestamp::parse_iso("9999-12-31T23:59:59.999Z").unwrap(),
        order: Order::Asc,
    };
    let start = Instant::now();
    loop {
        let job = store.job(id, &query).await.unwrap().unwrap();
        if job.info.finished_at.is_some() {
            return job;
        }
        assert!(start.elapsed() < limit, "job {id} did not finish within {limit:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// An executor running `handlers` over the registry of `settings`.
struct Running {
    store: Arc<dyn JobStore>,
    wakers: Wakers,
    trigger: ShutdownTrigger,
    lanes: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    async fn start(settings: &registry_server::config::Settings, handlers: Handlers) -> Running {
        let layout = settings.layout();
        let store = support::job_store(settings).await;
        let executor = Arc::new(Executor {
            store: store.clone(),
            handlers,
            adapters: build_adapters(settings).unwrap(),
            timeouts: HashMap::new(),
            work_root: layout.jobs(),
            poll_interval: Duration::from_millis(50),
            hidden_paths: Default::default(),
        });
        let wakers = Wakers::new();
        let (trigger, shutdown) = shutdown_pair();
        let lanes = executor.start(&wakers, shutdown);
        Running { store, wakers, trigger, lanes }
    }

    async fn submit(&self, job: NewJob, at: Timestamp) -> String {
        let kind = job.job_type();
        let id = self.store.enqueue(job, at).await.unwrap().job_id;
        self.wakers.wake(kind);
        id
    }

    async fn submit_set(&self, raw: &str) -> String {
        let request = PackageSetUpdateRequest {
            update: PackageSetUpdateData::from_json_str(raw).unwrap(),
            raw_payload: raw.into(),
            signature: None,
        };
        self.submit(NewJob::PackageSet(request), Timestamp::from_unix_millis(1_800_000_000_000)).await
    }

    async fn stop(self) {
        self.trigger.trigger();
        for lane in self.lanes {
            lane.await.unwrap();
        }
    }
}

fn set_handler(handler: PackageSetHandler) -> Handlers {
    let mut handlers: Handlers = HashMap::new();
    handlers.insert(JobType::PackageSet, Arc::new(handler));
    handlers
}

#[tokio::test(flavor = "multi_thread")]
async fn a_package_set_job_commits_exactly_the_changes_that_compile() {
    let (dir, mut settings, bin) = seeded_registry();
    let layout = settings.layout();
    // A new package to publish, from a local "GitHub".
    let github = dir.path().join("github");
    // prelude 2.0.0 drops what dependants import, so delta stays below it.
    let delta = Manifest::from_json_str(
        &fixture_manifest("delta", "1.0.0", &["prelude"])
            .to_compact()
            .replace(">=0.0.0 <100.0.0", ">=1.0.0 <2.0.0"),
    )
    .unwrap();
    write_git_repo(&github.join("o/delta.git"), &[(&delta, Variant::Normal)], &GitIdentity::default())
        .unwrap();
    settings.github_url = format!("file://{}", github.display());
    settings.compilers = Some(bin.clone());
    settings.docs_url = "http://127.0.0.1:9".into();

    // The registry's own handlers, with a package-set compiler slowed down so that the
    // job is still compiling when the publish arrives.
    let mut handlers: Handlers =
        build_handlers(&settings, None, registry_server::app::matrix_index(&settings));
    let slow = PackageSetHandler {
        compiler_env: vec![("PURS_STANDIN_DELAY_MS".into(), "200".into())],
        ..PackageSetHandler::default()
    };
    handlers.extend(set_handler(slow));
    let running = Running::start(&settings, handlers).await;
    let id = running.submit_set(r#"{"packages":{"alpha":"2.0.0","beta":"1.1.0"}}"#).await;

    // While the package-set job compiles, a publish must start within 1 s.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let publish = PublishData::from_json_str(
        r#"{"name":"delta","location":{"githubOwner":"o","githubRepo":"delta"},"ref":"v1.0.0","version":"1.0.0","compiler":"0.15.15"}"#,
    )
    .unwrap();
    let submitted = registry_server::job_context::now();
    let publish_id = running.submit(NewJob::Publish(publish), submitted).await;
    let published = wait_finished(&running.store, &publish_id, Duration::from_secs(30)).await;
    assert!(published.info.success, "the publish failed: {:#?}", lines(&published));
    let waited = published.info.started_at.unwrap().unix_millis() - submitted.unix_millis();
    let set_job_running = running
        .store
        .job(
            &id,
            &LogsQuery {
                level: LogLevel::Debug,
                since: Timestamp::from_unix_millis(0),
                until: Timestamp::parse_iso("9999-12-31T23:59:59.999Z").unwrap(),
                order: Order::Asc,
            },
        )
        .await
        .unwrap()
        .unwrap()
        .info
        .finished_at
        .is_none();
    assert!(set_job_running, "the package-set job should still be compiling (raise the delay)");
    assert!(waited < 1000, "the publish waited {waited} ms to start");
    let index_entry = git(&layout.index_bare(), &["show", "main:de/lt/delta"]);
    assert!(index_entry.contains(r#""version":"1.0.0""#), "{index_entry}");
    assert!(layout.storage().join("delta/1.0.0.tar.gz").is_file());

    let job = wait_finished(&running.store, &id, Duration::from_secs(60)).await;
    running.stop().await;
    let log = lines(&job);
    assert!(job.info.success, "job failed: {log:#?}");
    assert!(log.iter().any(|l| l.contains("alpha was not added")), "{log:#?}");
    assert!(log.iter().any(|l| l.contains("modules compiled")), "{log:#?}");

    let shown = git(&layout.registry_bare(), &["show", "main:package-sets/0.2.0.json"]);
    let set = PackageSet::from_json_str(&shown).unwrap();
    assert_eq!(set.packages[&PackageName::parse("beta").unwrap()], Version::new(1, 1, 0));
    assert_eq!(set.packages[&PackageName::parse("alpha").unwrap()], Version::new(1, 0, 0));
    assert_eq!(shown, set.to_pretty());
    let message = git(&layout.registry_bare(), &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.starts_with("Release 0.2.0 package set.\n\nUpdated packages:\n  - beta@1.0.0 -> 1.1.0\n"),
        "{message}"
    );
    assert!(message.contains(&format!("Job ID: {id}")));

    // Mirrored to the legacy package-sets repository, tagged on the mirror commit.
    let legacy = layout.legacy_package_sets_bare();
    let mirrored = git(&legacy, &["log", "-1", "--format=%B", "main"]);
    assert_eq!(mirrored.trim_end(), format!("Update to the 0.2.0 package set.\n\nJob ID: {id}"));
    let head = git(&legacy, &["rev-parse", "main"]);
    for tag in [legacy_tag(&set), "0.15.15".into()] {
        assert_eq!(git(&legacy, &["rev-parse", &tag]), head, "{tag}");
    }
    let packages = git(&legacy, &["show", "main:packages.json"]);
    assert!(
        packages.contains("\"repo\": \"https://github.com/o/beta.git\",\n    \"version\": \"v1.1.0\""),
        "{packages}"
    );
}

/// The legacy repository's tag for `set`.
fn legacy_tag(set: &PackageSet) -> String {
    format!("psc-{}-{}", set.compiler, set.published.to_string().replace('-', ""))
}

/// Removes the legacy repository's tags: upstream refuses to mirror a second set of
/// one compiler made on the same day (its tag exists), and tests run jobs on one day.
fn forget_legacy_tags(layout: &registry_server::layout::DataDir) {
    let legacy = layout.legacy_package_sets_bare();
    for tag in git(&legacy, &["tag"]).lines() {
        git(&legacy, &["tag", "-d", tag]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_set_that_cannot_be_mirrored_fails_the_job_but_stays_released() {
    let (_dir, settings, bin) = seeded_registry();
    let layout = settings.layout();
    let legacy = layout.legacy_package_sets_bare();
    let today = registry_server::job_context::now().date().to_string().replace('-', "");
    git(&legacy, &["tag", &format!("psc-0.15.15-{today}"), "main"]);
    let before = git(&legacy, &["for-each-ref"]);

    let job = run_set_job(&settings, &bin, r#"{"packages":{"beta":"1.1.0"}}"#).await;
    let log = lines(&job);
    assert!(!job.info.success, "{log:#?}");
    assert_eq!(
        log.last().unwrap(),
        &format!(
            "Error Could not mirror package set 0.2.0 because the tag psc-0.15.15-{today} already exists."
        )
    );
    assert!(log.iter().any(|l| l == "Notice Released package set 0.2.0."), "{log:#?}");
    git(&layout.registry_bare(), &["show", "main:package-sets/0.2.0.json"]);
    assert_eq!(git(&legacy, &["for-each-ref"]), before, "nothing reached the legacy repository");
}

/// Runs one package-set job for `raw` to its end through an executor over `settings`.
async fn run_set_job(settings: &registry_server::config::Settings, bin: &Path, raw: &str) -> Job {
    let mut settings = settings.clone();
    settings.compilers = Some(bin.to_path_buf());
    let running = Running::start(&settings, set_handler(PackageSetHandler::default())).await;
    let id = running.submit_set(raw).await;
    let job = wait_finished(&running.store, &id, Duration::from_secs(60)).await;
    running.stop().await;
    job
}

fn lines(job: &Job) -> Vec<String> {
    job.logs.iter().map(|l| format!("{:?} {}", l.level, l.message)).collect()
}

/// Every file under `dir`, relative, with its content.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn build_results_live_in_storage_and_rebuild_a_lost_working_directory_without_compiling() {
    let (_dir, settings, bin) = seeded_registry();
    let layout = settings.layout();

    let first = run_set_job(&settings, &bin, r#"{"packages":{"beta":"1.1.0"}}"#).await;
    assert!(first.info.success, "{:#?}", lines(&first));
    let cached: Vec<String> =
        tree(&layout.storage().join("_build-cache")).into_keys().filter(|k| k.ends_with(".tar.gz")).collect();
    // prelude, alpha, beta 1.0.0 and 1.1.0, gamma over either beta.
    assert_eq!(cached.len(), 6, "build results in storage: {cached:?}");

    forget_legacy_tags(&layout);
    // A new machine: no working directory, only the storage.
    std::fs::remove_dir_all(layout.scratch().join("package-set-builds")).unwrap();
    let second = run_set_job(&settings, &bin, r#"{"packages":{"alpha":"1.1.0"}}"#).await;
    let log = lines(&second);
    assert!(second.info.success, "{log:#?}");
    assert!(log.iter().any(|l| l.contains("Restored 4 packages from the build cache")), "{log:#?}");
    // Only alpha 1.1.0 and gamma over it compile (the stand-in: one module each).
    let alpha = package_files(&fixture_manifest("alpha", "1.1.0", &["prelude"]), Variant::Normal);
    let gamma = package_files(&fixture_manifest("gamma", "1.0.0", &["alpha", "beta"]), Variant::Normal);
    let expected = [alpha, gamma].iter().flat_map(|f| f.keys()).filter(|p| p.ends_with(".purs")).count();
    assert!(
        log.iter().any(|l| l.contains(&format!(", {expected} modules compiled,"))),
        "expected {expected} modules compiled: {log:#?}"
    );
    let shown = git(&layout.registry_bare(), &["show", "main:package-sets/0.3.0.json"]);
    assert_eq!(
        PackageSet::from_json_str(&shown).unwrap().packages[&PackageName::parse("alpha").unwrap()],
        Version::new(1, 1, 0)
    );

    // READONLY: the job still builds, but no build result reaches the storage.
    let mut readonly = settings.clone();
    readonly.readonly = true;
    std::fs::remove_dir_all(layout.scratch().join("package-set-builds")).unwrap();
    let storage_before = tree(&layout.storage());
    forget_legacy_tags(&layout);
    let third = run_set_job(&readonly, &bin, r#"{"packages":{"prelude":"1.1.0"}}"#).await;
    let log = lines(&third);
    assert!(third.info.success, "{log:#?}");
    assert_eq!(tree(&layout.storage()), storage_before, "READONLY wrote to the storage");
    let skipped: Vec<&String> =
        log.iter().filter(|l| l.starts_with("Notice READONLY: would store _build-cache/")).collect();
    // prelude 1.1.0 and its three dependants have new keys.
    assert_eq!(skipped.len(), 4, "{log:#?}");
    let kept = tree(&layout.readonly_cache().join("_build-cache"));
    assert_eq!(kept.len(), 4, "kept locally: {:?}", kept.keys());
}

/// Job log lines, kept for the test.
#[derive(Default)]
struct Lines(std::sync::Mutex<Vec<String>>);

impl registry_adapters::ActivityLog for Lines {
    fn log(&self, level: LogLevel, message: &str) {
        self.0.lock().unwrap().push(format!("{level:?} {message}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_package_set_is_dated_by_the_environments_clock_not_the_wall_clock() {
    let (dir, settings, bin) = seeded_registry();
    let layout = settings.layout();
    let updater = PackageSetHandler::default();
    let lines = Arc::new(Lines::default());
    let mut settings = settings;
    settings.compilers = Some(bin.clone());
    let mut env = build_adapters(&settings).unwrap().env("job-dated", lines.clone(), dir.path().join("work"));
    // 2030-06-01T00:00:00.000Z, years away from the wall clock.
    env.clock = || Timestamp::from_unix_millis(1_906_502_400_000);
    let payload = PackageSetUpdateData::from_json_str(r#"{"packages":{"beta":"1.1.0"}}"#).unwrap();

    let outcome = updater.update(&env, &payload, None).await;
    let outcome = outcome.unwrap_or_else(|f| panic!("{f}: {:#?}", lines.0.lock().unwrap()));

    assert_eq!(outcome.new_set.published.to_string(), "2030-06-01");
    let committed = git(&layout.registry_bare(), &["show", "main:package-sets/0.2.0.json"]);
    assert!(committed.contains(r#""published": "2030-06-01""#), "{committed}");
    let tags = git(&layout.legacy_package_sets_bare(), &["tag", "--list"]);
    assert!(tags.lines().any(|t| t == "psc-0.15.15-20300601"), "{tags}");
}
