//! The compiler matrix end to end: the real binary over HTTP, registries seeded with
//! `registry init --seed` (tarballs made from generated sources), packages in local
//! git repositories, and the stand-in compiler installed under several versions.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use registry_core::json::Codec;
use registry_core::manifest_index::entry_path;
use registry_core::metadata::PublishedMetadata;
use registry_core::{Metadata, PackageName, Sha256, Timestamp, Version};
use registry_queue::{JobStore, NewJob, SqliteStore};
use registry_workload::{GitIdentity, Variant, write_git_repo};
use serde_json::{Value, json};
use support::*;

const WITHIN: Duration = Duration::from_secs(60);

fn standin() -> PathBuf {
    let path = Path::new(BIN).parent().unwrap().join("purs-standin");
    assert!(path.is_file(), "{} is missing: run `cargo build -p purs-standin` first", path.display());
    path
}

/// One version [`Seeded::with_versions`] publishes.
struct SeedVersion<'a> {
    name: &'a str,
    version: &'a str,
    deps: &'a [&'a str],
    /// The compilers its metadata lists.
    verified: &'a [&'a str],
    variant: Variant,
}

/// A registry data directory seeded with `published` (name, dependencies,
/// compilers; all at 1.0.0, tarballs in local storage) and a compilers directory
/// holding the stand-in as each of `compilers`.
struct Seeded {
    registry: Registry,
    compilers: PathBuf,
}

impl Seeded {
    fn new(published: &[(&str, &[&str], &[&str])], compilers: &[&str]) -> Seeded {
        let versions: Vec<SeedVersion> = published
            .iter()
            .map(|&(name, deps, verified)| SeedVersion {
                name,
                version: "1.0.0",
                deps,
                verified,
                variant: Variant::Normal,
            })
            .collect();
        Seeded::with_versions(&versions, compilers)
    }

    /// [`Seeded::new`] with any versions, each with sources of its own variant.
    fn with_versions(published: &[SeedVersion], compilers: &[&str]) -> Seeded {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let seed = root.join("seed");
        let storage = root.join("data/storage");
        std::fs::create_dir_all(seed.join("metadata")).unwrap();
        for &SeedVersion { name, version, deps, verified, variant } in published {
            let m = chain_manifest(name, version, deps);
            let index_path = seed.join("index").join(entry_path(&m.name));
            std::fs::create_dir_all(index_path.parent().unwrap()).unwrap();
            let lines = std::fs::read_to_string(&index_path).unwrap_or_default();
            std::fs::write(&index_path, format!("{lines}{}\n", m.to_compact())).unwrap();
            let src = root.join("sources").join(format!("{name}-{version}"));
            registry_workload::write_files(&src, &registry_workload::package_files(&m, variant)).unwrap();
            let tarball = registry_tarball::create_tarball(&src, &format!("{name}-{version}")).unwrap();
            std::fs::create_dir_all(storage.join(name)).unwrap();
            std::fs::write(storage.join(format!("{name}/{version}.tar.gz")), &tarball).unwrap();
            let metadata_path = seed.join(format!("metadata/{name}.json"));
            let mut metadata = match std::fs::read_to_string(&metadata_path) {
                Ok(text) => Metadata::from_json_str(&text).unwrap(),
                Err(_) => Metadata::new(m.location.clone()),
            };
            metadata.published.insert(
                m.version,
                PublishedMetadata {
                    bytes: tarball.len() as u64,
                    compilers: verified.iter().map(|c| Version::parse(c).unwrap()).collect(),
                    hash: Sha256::of_bytes(&tarball),
                    published_time: Timestamp::from_unix_millis(1_700_000_000_000),
                    git_ref: Some(String::new()),
                },
            );
            std::fs::write(metadata_path, metadata.to_pretty()).unwrap();
        }
        let out = Command::new(BIN)
            .args(["init", "--data-dir"])
            .arg(root.join("data"))
            .arg("--seed")
            .arg(&seed)
            .output()
            .unwrap();
        assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::create_dir_all(root.join("markers")).unwrap();
        let bin = root.join("compilers");
        std::fs::create_dir_all(&bin).unwrap();
        for compiler in compilers {
            std::os::unix::fs::symlink(standin(), bin.join(format!("purs-{}", compiler.replace('.', "_"))))
                .unwrap();
        }
        Seeded { registry: Registry { dir }, compilers: bin }
    }

    fn root(&self) -> &Path {
        self.registry.dir.path()
    }

    fn source_repo(&self, name: &str) -> PathBuf {
        self.root().join(format!("github/test/purescript-{name}.git"))
    }

    async fn serve(&self, env: &[(&str, &str)]) -> Server {
        let github = format!("file://{}", self.root().join("github").display());
        let mut env = env.to_vec();
        env.extend([("GITHUB_URL", github.as_str()), ("PURSUIT_API_URL", "http://127.0.0.1:9")]);
        self.registry.serve_env(&["--compilers", self.compilers.to_str().unwrap()], &env).await
    }

    /// The store the servers of this registry use (Postgres under `REGISTRY_TEST_DATABASE=postgres`).
    async fn store(&self) -> Box<dyn JobStore> {
        if let Some(url) = support::test_database_url(&self.registry.data()) {
            let options = registry_queue::PostgresOptions::default();
            return Box::new(registry_queue::PostgresStore::connect(&url, options).await.unwrap());
        }
        let layout = registry_server::config::defaults_for(&self.registry.data()).layout();
        Box::new(SqliteStore::open(&layout.database()).unwrap())
    }

    fn registry_git(&self) -> PathBuf {
        self.registry.data().join("git/registry.git")
    }

    /// `published["1.0.0"].compilers` of a package, as pushed.
    fn compilers_of(&self, name: &str) -> Value {
        let text = git(&self.registry_git(), &["show", &format!("main:metadata/{name}.json")]);
        serde_json::from_str::<Value>(&text).unwrap()["published"]["1.0.0"]["compilers"].clone()
    }

    fn last_metadata_commit(&self) -> String {
        git(&self.registry_git(), &["log", "-1", "--format=%B", "main"]).trim().to_owned()
    }

    fn refs(&self) -> String {
        let data = self.registry.data();
        git(&data.join("git/registry.git"), &["for-each-ref"])
            + &git(&data.join("git/registry-index.git"), &["for-each-ref"])
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").current_dir(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn publish_request(name: &str, compiler: &str) -> String {
    json!({
        "name": name, "ref": "v1.0.0", "version": "1.0.0", "compiler": compiler,
        "location": {"githubOwner": "test", "githubRepo": format!("purescript-{name}")},
    })
    .to_string()
}

/// Every matrix job, as `GET /api/v1/jobs` lists it.
async fn matrix_jobs(server: &Server) -> Vec<Value> {
    let jobs = server.get("/api/v1/jobs?include_completed=true").await.json();
    jobs.as_array().unwrap().iter().filter(|j| j["jobType"] == "matrix").cloned().collect()
}

/// `name@version with compiler` for each matrix job.
fn described(jobs: &[Value]) -> Vec<String> {
    let mut found: Vec<String> = jobs
        .iter()
        .map(|j| {
            format!(
                "{}@{} with {}",
                j["packageName"].as_str().unwrap(),
                j["packageVersion"].as_str().unwrap(),
                j["compilerVersion"].as_str().unwrap()
            )
        })
        .collect();
    found.sort();
    found
}

async fn wait_matrix_jobs(server: &Server, count: usize) -> Vec<Value> {
    let start = std::time::Instant::now();
    loop {
        let jobs = matrix_jobs(server).await;
        if jobs.len() >= count && jobs.iter().all(|j| j.get("finishedAt").is_some()) {
            return jobs;
        }
        assert!(
            start.elapsed() < WITHIN,
            "{count} finished matrix jobs expected: {jobs:#?}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The matrix job a job's log says it enqueued for `what` (`compiler X, package N@V`).
fn enqueued(job: &Value, what: &str) -> String {
    let prefix = format!("Enqueuing matrix job: {what} (job ");
    let line = messages(job)
        .into_iter()
        .find(|m| m.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no '{prefix}' line in {:#?}", messages(job)));
    line[prefix.len()..].trim_end_matches(')').to_owned()
}

/// The last line at NOTICE or above: what the job's submitter is told.
async fn verdict(server: &Server, id: &str) -> String {
    let job = server.get(&format!("/api/v1/jobs/{id}?level=NOTICE")).await.json();
    job["logs"]
        .as_array()
        .unwrap()
        .last()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_publish_is_checked_with_every_other_installed_compiler() {
    let seeded = Seeded::new(&[], &["0.15.14", "0.15.15"]);
    let alpha = chain_manifest("alpha", "1.0.0", &[]);
    write_git_repo(&seeded.source_repo("alpha"), &[(&alpha, Variant::Normal)], &GitIdentity::default())
        .unwrap();
    let server = seeded.serve(&[]).await;

    let id = server.submit("/api/v1/publish", &publish_request("alpha", "0.15.15")).await;
    let job = server.wait_finished(&id, WITHIN).await;
    assert_eq!(job["success"], true, "{job}");
    let matrix = enqueued(&job, "compiler 0.15.14, package alpha@1.0.0");
    let done = server.wait_finished(&matrix, WITHIN).await;
    assert_eq!(done["success"], true, "{done}");
    assert_eq!(done["payload"], json!({}));
    assert_eq!(seeded.compilers_of("alpha"), json!(["0.15.14", "0.15.15"]));
    assert_eq!(seeded.last_metadata_commit(), format!("Update metadata for alpha\n\nJob ID: {matrix}"));
    assert_eq!(described(&matrix_jobs(&server).await), ["alpha@1.0.0 with 0.15.14"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_matrix_success_cascades_to_the_dependants() {
    // alpha is known to work with 0.15.14 only.
    let seeded = Seeded::new(&[("alpha", &[], &["0.15.14"])], &["0.15.14", "0.15.15"]);
    let beta = chain_manifest("beta", "1.0.0", &["alpha"]);
    write_git_repo(&seeded.source_repo("beta"), &[(&beta, Variant::Normal)], &GitIdentity::default())
        .unwrap();
    let server = seeded.serve(&[]).await;

    // beta publishes with 0.15.14; with 0.15.15 it cannot be solved yet, and alpha
    // is not beta's to re-check.
    let id = server.submit("/api/v1/publish", &publish_request("beta", "0.15.14")).await;
    let job = server.wait_finished(&id, WITHIN).await;
    assert_eq!(job["success"], true, "{job}");
    let lines = messages(&job);
    assert!(lines.iter().all(|m| !m.starts_with("Enqueuing matrix job")), "{lines:#?}");
    assert!(lines.contains(&"Failed to solve with compiler 0.15.15: beta@1.0.0".to_owned()), "{lines:#?}");
    assert!(matrix_jobs(&server).await.is_empty());

    // Once alpha compiles with 0.15.15, beta follows with alpha in its build plan.
    let alpha_job = NewJob::Matrix {
        package_name: PackageName::parse("alpha").unwrap(),
        package_version: Version::new(1, 0, 0),
        compiler_version: Version::new(0, 15, 15),
        build_plan: BTreeMap::new(),
    };
    let alpha_id = seeded
        .store()
        .await
        .enqueue(alpha_job, Timestamp::from_unix_millis(1_800_000_000_000))
        .await
        .unwrap()
        .job_id;
    let alpha_done = server.wait_finished(&alpha_id, WITHIN).await;
    assert_eq!(alpha_done["success"], true, "{alpha_done}");
    let beta_id = enqueued(&alpha_done, "compiler 0.15.15, package beta@1.0.0");
    assert!(
        messages(&alpha_done)
            .contains(&"Cascade from alpha@1.0.0: 1 planned out of 1 dependants visited".to_owned())
    );
    let beta_done = server.wait_finished(&beta_id, WITHIN).await;
    assert_eq!(beta_done["success"], true, "{beta_done}");
    assert_eq!(beta_done["payload"], json!({"alpha": "1.0.0"}));
    assert_eq!(seeded.compilers_of("alpha"), json!(["0.15.14", "0.15.15"]));
    assert_eq!(seeded.compilers_of("beta"), json!(["0.15.14", "0.15.15"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_matrix_job_changes_nothing_and_is_never_queued_again() {
    // Prim.Int exists since 0.15.0: a package importing it fails with 0.14.9.
    let seeded = Seeded::new(&[], &["0.14.9", "0.15.15"]);
    let ints = chain_manifest("ints", "1.0.0", &[]);
    let repo = seeded.source_repo("ints");
    write_git_repo(&repo, &[(&ints, Variant::Normal)], &GitIdentity::default()).unwrap();
    std::fs::write(repo.join("src/IntsPrim.purs"), "module IntsPrim where\n\nimport Prim.Int\n").unwrap();
    let identity = [
        ("GIT_AUTHOR_NAME", "T"),
        ("GIT_AUTHOR_EMAIL", "t@localhost"),
        ("GIT_COMMITTER_NAME", "T"),
        ("GIT_COMMITTER_EMAIL", "t@localhost"),
    ];
    for args in [&["add", "-A"][..], &["commit", "-q", "-m", "Use Prim.Int"], &["tag", "-f", "v1.0.0"]] {
        let out = Command::new("git").current_dir(&repo).args(args).envs(identity).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let server = seeded.serve(&[]).await;

    let id = server.submit("/api/v1/publish", &publish_request("ints", "0.15.15")).await;
    let job = server.wait_finished(&id, WITHIN).await;
    assert_eq!(job["success"], true, "{job}");
    let published = seeded.last_metadata_commit();
    let matrix = enqueued(&job, "compiler 0.14.9, package ints@1.0.0");
    let failed = server.wait_finished(&matrix, WITHIN).await;
    assert_eq!(failed["success"], false, "{failed}");
    let told = verdict(&server, &matrix).await;
    assert!(told.starts_with("ints@1.0.0 does not compile with compiler 0.14.9: error ModuleNotFound in file .registry/ints-1.0.0/src/IntsPrim.purs"), "{told}");
    assert!(told.ends_with("The metadata of ints@1.0.0 is unchanged."), "{told}");
    assert_eq!(seeded.compilers_of("ints"), json!(["0.15.15"]));
    assert_eq!(seeded.last_metadata_commit(), published);

    // Planning it again finds the failed job: it is not queued or run again.
    let again = NewJob::Matrix {
        package_name: PackageName::parse("ints").unwrap(),
        package_version: Version::new(1, 0, 0),
        compiler_version: Version::new(0, 14, 9),
        build_plan: BTreeMap::new(),
    };
    let answer =
        seeded.store().await.enqueue(again, Timestamp::from_unix_millis(1_800_000_000_000)).await.unwrap();
    assert!(answer.duplicate);
    assert_eq!(answer.job_id, matrix);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let jobs = matrix_jobs(&server).await;
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(jobs[0]["finishedAt"], failed["finishedAt"]);
    assert_eq!(jobs[0]["success"], false);
}

/// prelude and console have no dependencies; effect needs prelude. All were
/// verified with 0.15.14 only.
const BEFORE_0_15_15: [(&str, &[&str], &[&str]); 3] =
    [("prelude", &[], &["0.15.14"]), ("console", &[], &["0.15.14"]), ("effect", &["prelude"], &["0.15.14"])];

const ALL_WITH_0_15_15: [&str; 3] =
    ["console@1.0.0 with 0.15.15", "effect@1.0.0 with 0.15.15", "prelude@1.0.0 with 0.15.15"];

#[tokio::test(flavor = "multi_thread")]
async fn a_new_compiler_found_at_start_up_walks_the_registry_once() {
    let seeded = Seeded::new(&BEFORE_0_15_15, &["0.15.14", "0.15.15"]);
    let server = seeded.serve(&[]).await;
    // The versions without dependencies first (empty build plans), then effect
    // once prelude succeeded.
    let jobs = wait_matrix_jobs(&server, 3).await;
    assert_eq!(described(&jobs), ALL_WITH_0_15_15);
    for job in &jobs {
        assert_eq!(job["success"], true, "{job}");
        let expected = if job["packageName"] == "effect" { json!({"prelude": "1.0.0"}) } else { json!({}) };
        assert_eq!(job["payload"], expected, "{job}");
    }
    // Each job ends saying how far the flood has got, itself counted as done: console
    // and prelude were queued at start-up in that order, effect once prelude succeeded.
    for (name, done, queued, waiting) in [("console", 1, 2, 1), ("prelude", 2, 3, 1), ("effect", 3, 3, 0)] {
        let job = jobs.iter().find(|j| j["packageName"] == name).unwrap();
        let lines = messages(&server.job(job["jobId"].as_str().unwrap()).await);
        let progress: Vec<&String> =
            lines.iter().filter(|m| m.starts_with("Compiler 0.15.15 matrix: ")).collect();
        assert_eq!(
            progress,
            [&format!(
                "Compiler 0.15.15 matrix: {done} of {queued} jobs queued so far are done ({done} succeeded, 0 \
                 failed), {waiting} waiting or running"
            )],
            "{name}: {lines:#?}"
        );
    }
    assert!(server.log().contains("New compiler found: 0.15.15"), "{}", server.log());
    for name in ["prelude", "console", "effect"] {
        assert_eq!(seeded.compilers_of(name), json!(["0.15.14", "0.15.15"]), "{name}");
    }
    let status = server.terminate().await;
    assert!(status.success());

    // prelude now lists 0.15.15: a second start finds no new compiler.
    let server = seeded.serve(&[]).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let log = server.log();
    assert!(log.contains("Checking if there's a new compiler in town..."), "{log}");
    assert!(!log.contains("New compiler found"), "{log}");
    assert_eq!(described(&matrix_jobs(&server).await), ALL_WITH_0_15_15);
}

#[tokio::test(flavor = "multi_thread")]
async fn readonly_matrix_jobs_log_the_metadata_they_would_write() {
    let seeded = Seeded::new(&BEFORE_0_15_15, &["0.15.14", "0.15.15"]);
    let before = seeded.refs();
    let server = seeded.serve(&[("READONLY", "1")]).await;
    // The cascade proceeds as it would have (the job sees its own skipped write).
    let jobs = wait_matrix_jobs(&server, 3).await;
    assert_eq!(described(&jobs), ALL_WITH_0_15_15);
    for job in &jobs {
        assert_eq!(job["success"], true, "{job}");
        let id = job["jobId"].as_str().unwrap();
        let name = job["packageName"].as_str().unwrap();
        let lines = messages(&server.job(id).await);
        let skipped = format!("commit message: \"Update metadata for {name}\n\nJob ID: {id}\"");
        assert!(
            lines.iter().any(|m| m.starts_with("READONLY: would commit and push to the registry repository")
                && m.contains(&format!("write metadata/{name}.json"))
                && m.ends_with(&skipped)),
            "{lines:#?}"
        );
    }
    assert_eq!(seeded.refs(), before);
    assert_eq!(seeded.compilers_of("prelude"), json!(["0.15.14"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dependant_awaits_a_newer_version_it_accepts_and_is_planned_when_that_fails() {
    // prelude@1.1.0 imports a module that exists nowhere: its matrix job fails. (The
    // new compiler is found through prelude's newest version, as upstream does.)
    let seed =
        |name, version, deps, variant| SeedVersion { name, version, deps, verified: &["0.15.14"], variant };
    let versions = [
        seed("prelude", "1.0.0", &[], Variant::Normal),
        seed("prelude", "1.1.0", &[], Variant::Broken),
        seed("mid", "1.0.0", &["prelude"], Variant::Normal),
    ];
    let seeded = Seeded::with_versions(&versions, &["0.15.14", "0.15.15"]);
    let postgres = support::test_database_url(&seeded.registry.data()).is_some();
    let server = seeded.serve(&[]).await;
    let jobs = wait_matrix_jobs(&server, 3).await;
    assert_eq!(
        described(&jobs),
        ["mid@1.0.0 with 0.15.15", "prelude@1.0.0 with 0.15.15", "prelude@1.1.0 with 0.15.15"]
    );
    let job_of = |name: &str, version: &str| {
        jobs.iter().find(|j| j["packageName"] == name && j["packageVersion"] == version).unwrap().clone()
    };
    let (prelude_1_0, prelude_1_1, mid) =
        (job_of("prelude", "1.0.0"), job_of("prelude", "1.1.0"), job_of("mid", "1.0.0"));
    assert_eq!(prelude_1_0["success"], true, "{prelude_1_0}");
    assert_eq!(prelude_1_1["success"], false, "{prelude_1_1}");
    assert_eq!(mid["success"], true, "{mid}");
    assert_eq!(mid["payload"], json!({"prelude": "1.0.0"}));
    let prelude_1_0 = server.job(prelude_1_0["jobId"].as_str().unwrap()).await;
    let prelude_1_1 = server.job(prelude_1_1["jobId"].as_str().unwrap()).await;
    let planned_by = if postgres {
        // Workers sharing Postgres plan as upstream does: mid follows prelude@1.0.0 at once.
        &prelude_1_0
    } else {
        // Planned after prelude@1.0.0 alone, mid would be built again by every later plan
        // (they pick prelude@1.1.0); it waits for prelude@1.1.0's job, whose failure plans it.
        let awaits = "Not solving mid@1.0.0 with compiler 0.15.15 yet: the job of prelude@1.1.0, which it accepts, \
                      is still queued";
        assert!(messages(&prelude_1_0).contains(&awaits.to_owned()), "{:#?}", messages(&prelude_1_0));
        &prelude_1_1
    };
    assert_eq!(enqueued(planned_by, "compiler 0.15.15, package mid@1.0.0"), mid["jobId"].as_str().unwrap());
}
