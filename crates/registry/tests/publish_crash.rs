//! Publishing survives `kill -9` of the real server: at each step of a publish
//! (held there by hooks in the test's bare repositories, a wrapper around the
//! stand-in compiler and a docs site that can hold an upload), and at random points
//! of a chain of publishes. After the restarts every job has finished, every
//! publish reports success, every matrix follow-up and documentation upload
//! happened exactly once, and storage, metadata and index agree.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use registry_core::json::Codec;
use registry_core::{Manifest, Sha256};
use registry_workload::{GitIdentity, Variant, write_git_repo};
use serde_json::{Value, json};
use support::*;

const WITHIN: Duration = Duration::from_secs(60);
const PUBLISH_COMPILER: &str = "0.15.15";
const OTHER_COMPILER: &str = "0.15.14";

use support::docs_site::DocsSite as Pursuit;

/// Where a publish is stopped: a marker file `hold-<point>` arms the point, the
/// held program renames it to `held-<point>` and waits for `release-<point>`.
#[derive(Debug, Clone, Copy)]
enum Point {
    Compile,
    MetadataPushInFlight,
    MetadataPushed,
    IndexPushInFlight,
    IndexPushed,
    DocsUploadInFlight,
}

impl Point {
    fn marker(self) -> Option<&'static str> {
        match self {
            Point::Compile => Some("compile"),
            Point::MetadataPushInFlight => Some("registry-pre-receive"),
            Point::MetadataPushed => Some("registry-post-receive"),
            Point::IndexPushInFlight => Some("registry-index-pre-receive"),
            Point::IndexPushed => Some("registry-index-post-receive"),
            Point::DocsUploadInFlight => None,
        }
    }
}

/// A shell fragment that, when `hold-<marker>` exists, waits for the release and then
/// runs `then`.
fn hold_fragment(markers: &Path, marker: &str, then: &str) -> String {
    let m = markers.display();
    format!(
        "if [ -e '{m}/hold-{marker}' ]; then\n  mv '{m}/hold-{marker}' '{m}/held-{marker}'\n  \
         while [ ! -e '{m}/release-{marker}' ]; do sleep 0.05; done\n  rm -f '{m}/release-{marker}'\n  {then}\nfi\n"
    )
}

fn write_executable(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    let status = Command::new("chmod").arg("+x").arg(path).status().unwrap();
    assert!(status.success());
}

struct Harness {
    registry: Registry,
    pursuit: Pursuit,
    pursuit_url: String,
    compilers: PathBuf,
}

impl Harness {
    async fn new() -> Harness {
        let registry = Registry::init();
        let root = registry.dir.path().to_path_buf();
        let standin = standin();
        // The stand-in plays the version its file name says; the installed 0.15.15 is
        // a wrapper that can hold a compile.
        let (real, compilers) = (root.join("real-compilers"), root.join("compilers"));
        std::fs::create_dir_all(&real).unwrap();
        std::fs::create_dir_all(&compilers).unwrap();
        for version in ["0_15_14", "0_15_15"] {
            std::os::unix::fs::symlink(&standin, real.join(format!("purs-{version}"))).unwrap();
        }
        std::os::unix::fs::symlink(real.join("purs-0_15_14"), compilers.join("purs-0_15_14")).unwrap();
        let markers = registry.markers();
        write_executable(
            &compilers.join("purs-0_15_15"),
            &format!(
                "if [ \"$1\" = compile ]; then\n{}fi\nexec '{}' \"$@\"\n",
                hold_fragment(&markers, "compile", "exit 1"),
                real.join("purs-0_15_15").display()
            ),
        );
        // A push held in pre-receive is then refused; one held in post-receive has landed.
        for repo in ["registry", "registry-index"] {
            let hooks = registry.data().join(format!("git/{repo}.git/hooks"));
            std::fs::create_dir_all(&hooks).unwrap();
            write_executable(
                &hooks.join("pre-receive"),
                &hold_fragment(&markers, &format!("{repo}-pre-receive"), "exit 1"),
            );
            write_executable(
                &hooks.join("post-receive"),
                &hold_fragment(&markers, &format!("{repo}-post-receive"), "exit 0"),
            );
        }
        let pursuit = Pursuit::default();
        let pursuit_url = pursuit.start().await;
        Harness { registry, pursuit, pursuit_url, compilers }
    }

    fn root(&self) -> &Path {
        self.registry.dir.path()
    }

    async fn serve(&self) -> Server {
        let github = format!("file://{}", self.root().join("github").display());
        self.registry
            .serve_env(
                &["--compilers", self.compilers.to_str().unwrap()],
                &[("GITHUB_URL", github.as_str()), ("PURSUIT_API_URL", self.pursuit_url.as_str())],
            )
            .await
    }

    /// Writes the packages' git repositories, every version tagged `v<version>`.
    fn sources(&self, manifests: &[Manifest]) {
        let mut by_name: BTreeMap<String, Vec<&Manifest>> = BTreeMap::new();
        for m in manifests {
            by_name.entry(m.name.to_string()).or_default().push(m);
        }
        for (name, versions) in by_name {
            let versions: Vec<(&Manifest, Variant)> =
                versions.into_iter().map(|m| (m, Variant::Normal)).collect();
            let repo = self.root().join(format!("github/test/purescript-{name}.git"));
            write_git_repo(&repo, &versions, &GitIdentity::default()).unwrap();
        }
    }

    fn arm(&self, point: Point) {
        match point.marker() {
            Some(marker) => std::fs::write(self.registry.marker(&format!("hold-{marker}")), "").unwrap(),
            None => self.pursuit.hold.store(true, Ordering::SeqCst),
        }
    }

    fn held(&self, point: Point) -> bool {
        match point.marker() {
            Some(marker) => self.registry.marker(&format!("held-{marker}")).exists(),
            None => self.pursuit.holding.load(Ordering::SeqCst),
        }
    }

    /// Lets the held program go on (the server that ran it is dead by now).
    async fn release(&self, point: Point) {
        match point.marker() {
            Some(marker) => {
                let release = self.registry.marker(&format!("release-{marker}"));
                std::fs::write(&release, "").unwrap();
                std::fs::remove_file(self.registry.marker(&format!("held-{marker}"))).unwrap();
                wait_until(Duration::from_secs(10), "the held program to end", || !release.exists()).await;
            }
            None => {
                self.pursuit.hold.store(false, Ordering::SeqCst);
                self.pursuit.holding.store(false, Ordering::SeqCst);
            }
        }
    }
}

fn publish_request(m: &Manifest) -> String {
    // The location is given every time: allowed when it equals the registered one.
    json!({
        "name": m.name.as_str(),
        "ref": m.git_ref,
        "version": m.version.to_string(),
        "compiler": PUBLISH_COMPILER,
        "location": m.location.encode(),
    })
    .to_string()
}

async fn all_jobs(server: &Server) -> Vec<Value> {
    let answer = server.get("/api/v1/jobs?include_completed=true").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json().as_array().unwrap().clone()
}

fn interruptions(job: &Value) -> usize {
    messages(job).iter().filter(|m| m.contains("The server stopped while this job was running")).count()
}

/// Waits until no job is unfinished.
async fn wait_idle(server: &Server, within: Duration) {
    let start = Instant::now();
    loop {
        let unfinished: Vec<Value> =
            all_jobs(server).await.into_iter().filter(|j| j.get("finishedAt").is_none()).collect();
        if unfinished.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < within,
            "jobs still unfinished after {within:?}: {unfinished:?}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").current_dir(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

type Versions = BTreeMap<(String, String), Value>;

/// Storage, metadata and index agree: every version in the metadata has its tarball
/// with the recorded size and hash and an index line with the tarball's manifest,
/// and every index line and stored tarball has its metadata entry. Returns the
/// metadata entries.
fn check_consistency(data: &Path) -> Versions {
    let registry_git = data.join("git/registry.git");
    let index_git = data.join("git/registry-index.git");
    let mut metadata = Versions::new();
    for file in git_out(&registry_git, &["ls-tree", "--name-only", "main", "metadata/"]).lines() {
        let text = git_out(&registry_git, &["show", &format!("main:{file}")]);
        let value: Value = serde_json::from_str(&text).unwrap();
        let name = Path::new(file).file_stem().unwrap().to_string_lossy().into_owned();
        for (version, entry) in value["published"].as_object().unwrap() {
            metadata.insert((name.clone(), version.clone()), entry.clone());
        }
    }
    let mut index = BTreeMap::new();
    for file in git_out(&index_git, &["ls-tree", "-r", "--name-only", "main"]).lines() {
        if file.ends_with(".md") {
            continue;
        }
        for line in git_out(&index_git, &["show", &format!("main:{file}")]).lines() {
            let m = Manifest::from_json_str(line).unwrap();
            index.insert((m.name.to_string(), m.version.to_string()), m);
        }
    }
    let mut stored = BTreeSet::new();
    let storage = data.join("storage");
    for package in std::fs::read_dir(&storage).into_iter().flatten().flatten() {
        let name = package.file_name().to_string_lossy().into_owned();
        if name.starts_with('_') {
            continue;
        }
        for tarball in std::fs::read_dir(package.path()).unwrap().flatten() {
            let file = tarball.file_name().to_string_lossy().into_owned();
            if let Some(version) = file.strip_suffix(".tar.gz") {
                stored.insert((name.clone(), version.to_owned()));
            }
        }
    }
    let keys: BTreeSet<_> = metadata.keys().cloned().collect();
    assert_eq!(
        keys,
        index.keys().cloned().collect::<BTreeSet<_>>(),
        "metadata and index list the same versions"
    );
    assert_eq!(keys, stored, "metadata and storage hold the same versions");
    for ((name, version), entry) in &metadata {
        let bytes = std::fs::read(storage.join(format!("{name}/{version}.tar.gz"))).unwrap();
        assert_eq!(entry["bytes"].as_u64(), Some(bytes.len() as u64), "{name}@{version} size");
        assert_eq!(entry["hash"].as_str(), Some(Sha256::of_bytes(&bytes).as_str()), "{name}@{version} hash");
        let dir = tempfile::tempdir().unwrap();
        let top = format!("{name}-{version}");
        registry_tarball::extract_tarball(
            bytes.as_slice(),
            dir.path(),
            Some(&top),
            &registry_tarball::Limits::default(),
        )
        .unwrap();
        let packaged = std::fs::read_to_string(dir.path().join(&top).join("purs.json")).unwrap();
        let packaged = Manifest::from_json_str(&packaged).unwrap();
        assert_eq!(Some(&packaged), index.get(&(name.clone(), version.clone())), "{name}@{version} manifest");
    }
    metadata
}

/// Every publish succeeded and said so; every version has exactly one matrix job for
/// the other compiler, which succeeded and is recorded; one documentation upload each.
async fn check_outcome(h: &Harness, server: &Server, publishes: &[(String, Manifest)]) {
    let jobs = all_jobs(server).await;
    assert!(jobs.iter().all(|j| j.get("finishedAt").is_some()), "every job finished: {jobs:?}");
    for (id, m) in publishes {
        let job = server.job(id).await;
        assert_eq!(job["success"], true, "publish {} ({id}): {job}\n{}", m.id(), server.log());
        let published = format!("Published {} with compiler {PUBLISH_COMPILER}", m.id());
        assert!(messages(&job).iter().any(|line| line.starts_with(&published)), "{job}");
        assert_eq!(h.pursuit.count(m.name.as_str(), &m.version.to_string()), 1, "docs of {}", m.id());
    }
    let metadata = check_consistency(&h.registry.data());
    assert_eq!(metadata.len(), publishes.len());
    for ((name, version), entry) in &metadata {
        let matrix: Vec<&Value> = jobs
            .iter()
            .filter(|j| {
                j["jobType"] == "matrix" && j["packageName"] == *name && j["packageVersion"] == *version
            })
            .collect();
        let other: Vec<&&Value> = matrix.iter().filter(|j| j["compilerVersion"] == OTHER_COMPILER).collect();
        assert_eq!(other.len(), 1, "one matrix job for {name}@{version} with {OTHER_COMPILER}: {matrix:?}");
        assert!(matrix.iter().all(|j| j["success"] == true), "{matrix:?}");
        assert_eq!(entry["compilers"], json!([OTHER_COMPILER, PUBLISH_COMPILER]), "{name}@{version}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_publish_killed_at_each_step_succeeds_after_a_restart_with_its_follow_ups_once() {
    let h = Harness::new().await;
    let points = [
        Point::Compile,
        Point::MetadataPushInFlight,
        Point::MetadataPushed,
        Point::IndexPushInFlight,
        Point::IndexPushed,
        Point::DocsUploadInFlight,
    ];
    let manifests: Vec<Manifest> =
        (0..points.len()).map(|i| chain_manifest(&format!("step{i}"), "1.0.0", &[])).collect();
    h.sources(&manifests);
    let mut publishes = Vec::new();
    for (point, m) in points.into_iter().zip(&manifests) {
        h.arm(point);
        let server = h.serve().await;
        let id = server.submit("/api/v1/publish", &publish_request(m)).await;
        wait_until(WITHIN, &format!("{} to reach {point:?}", m.id()), || h.held(point)).await;
        server.crash().await;
        h.release(point).await;

        let server = h.serve().await;
        let job = server.wait_finished(&id, WITHIN).await;
        assert_eq!(job["success"], true, "killed at {point:?}: {job}\n{}", server.log());
        assert_eq!(interruptions(&job), 1, "{job}");
        wait_idle(&server, WITHIN).await;
        publishes.push((id, m.clone()));
        check_outcome(&h, &server, &publishes).await;
        // Submitting the same request again runs a new job, which finds the version
        // published by the recovered job (and cannot reach this test's docs site).
        let again = server.submit("/api/v1/publish", &publish_request(m)).await;
        let job = server.wait_finished(&again, WITHIN).await;
        assert_eq!(job["success"], false, "{point:?}: {job}");
        let published_by = format!("has already been published by job {}", publishes.last().unwrap().0);
        assert!(job.to_string().contains(&published_by), "{point:?}: {job}");
        wait_idle(&server, WITHIN).await;
    }
}

/// splitmix64: a seeded generator, so a failing run can be repeated with its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const KILLS: usize = 20;

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_of_publishes_survives_random_kills() {
    let seed = std::env::var("CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    println!("CHAOS_SEED={seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let h = Harness::new().await;
    // A chain with dependencies (FIFO order publishes dependencies first), then a
    // pool of versions without dependencies, used only while kills are still due.
    let chain = vec![
        chain_manifest("a", "1.0.0", &[]),
        chain_manifest("b", "1.0.0", &["a"]),
        chain_manifest("c", "1.0.0", &["b"]),
        chain_manifest("a", "1.1.0", &[]),
        chain_manifest("d", "1.0.0", &["a", "c"]),
        chain_manifest("b", "1.1.0", &["a"]),
        chain_manifest("e", "1.0.0", &[]),
        chain_manifest("f", "1.0.0", &["e", "b"]),
    ];
    let pool: Vec<Manifest> = (0..30).map(|i| chain_manifest("z", &format!("1.{i}.0"), &[])).collect();
    h.sources(&chain.iter().chain(&pool).cloned().collect::<Vec<_>>());

    let mut server = h.serve().await;
    let mut publishes = Vec::new();
    for m in &chain {
        publishes.push((server.submit("/api/v1/publish", &publish_request(m)).await, m.clone()));
    }
    let mut pool = pool.into_iter();
    let mut kills = 0;
    while kills < KILLS {
        let unfinished: Vec<Value> =
            all_jobs(&server).await.into_iter().filter(|j| j.get("finishedAt").is_none()).collect();
        if unfinished.is_empty() {
            for _ in 0..3 {
                let m = pool.next().expect("the pool of extra publishes ran out before the kills were done");
                publishes.push((server.submit("/api/v1/publish", &publish_request(&m)).await, m));
            }
        }
        tokio::time::sleep(Duration::from_millis(20 + rng.below(600))).await;
        let unfinished: Vec<Value> =
            all_jobs(&server).await.into_iter().filter(|j| j.get("finishedAt").is_none()).collect();
        // A job interrupted three times is quarantined (failed on purpose): a third
        // kill of one job tests that rule, not publishing.
        let mut spare = true;
        for job in &unfinished {
            spare &= interruptions(&server.job(job["jobId"].as_str().unwrap()).await) < 2;
        }
        if !spare {
            continue;
        }
        let running: Vec<String> = unfinished
            .iter()
            .filter(|j| j.get("startedAt").is_some())
            .map(|j| format!("{} {}", j["jobType"].as_str().unwrap(), j["jobId"].as_str().unwrap()))
            .collect();
        server.crash().await;
        kills += 1;
        println!("kill {kills} at {:.1}s, running: {running:?}", started.elapsed().as_secs_f64());
        server = h.serve().await;
    }
    wait_idle(&server, WITHIN).await;
    check_outcome(&h, &server, &publishes).await;
    println!(
        "{} publishes, {kills} kills, {} jobs in all, {:.1}s (CHAOS_SEED={seed})",
        publishes.len(),
        all_jobs(&server).await.len(),
        started.elapsed().as_secs_f64()
    );
}
