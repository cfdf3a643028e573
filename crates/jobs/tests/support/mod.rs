//! A registry on the local disk for running jobs in-process: bare `registry` and
//! `registry-index` repositories, local tarball storage, package sources as git
//! repositories under a `file://` GitHub base, and the stand-in compiler installed
//! as `purs-0_15_15`. Adapters that fail on purpose wrap the real ones.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use registry_adapters::activity::MemoryLog;
use registry_adapters::{
    ActivityLog, CommitOutcome, DocsSite, FileChange, GitCheckout, GitError, GitRepo, GitSourceFetcher,
    HttpDocsSite, LocalStorage, Storage, StorageError,
};
use registry_compiler::CompilerLocator;
use registry_core::job::LogLevel;
use registry_core::json::Codec;
use registry_core::limited::UnpublishReason;
use registry_core::operation::{AuthenticatedData, AuthenticatedOperation, PublishData, UnpublishData};
use registry_core::{Manifest, PackageName, Timestamp, Version};
use registry_jobs::publish::{Published, Publisher};
use registry_jobs::unpublish::Unpublisher;
use registry_jobs::{Failure, JobEnv};
use registry_workload::Variant;

pub const COMPILER: &str = "0.15.15";

/// The stand-in compiler built next to this test (`cargo test --workspace` builds it).
pub fn standin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let standin = dir.join("purs-standin");
    assert!(
        standin.is_file(),
        "{} is missing: build it first with `cargo build -p purs-standin` (`cargo test --workspace` does)",
        standin.display()
    );
    standin
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@localhost")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@localhost")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn bare_repo(path: &Path, scratch: &Path) {
    std::fs::create_dir_all(path).unwrap();
    git(path, &["init", "-q", "--bare", "--initial-branch=main"]);
    std::fs::create_dir_all(scratch).unwrap();
    git(scratch, &["init", "-q", "--initial-branch=main"]);
    std::fs::write(scratch.join("README.md"), "test repository\n").unwrap();
    git(scratch, &["add", "-A"]);
    git(scratch, &["commit", "-q", "-m", "Initial commit"]);
    git(scratch, &["push", "-q", path.to_str().unwrap(), "HEAD:refs/heads/main"]);
}

/// Storage that can fail an upload after the object was written (as upstream's test).
pub struct FaultyStorage {
    pub inner: LocalStorage,
    pub fail_upload_after_write: AtomicBool,
}

#[async_trait]
impl Storage for FaultyStorage {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn upload(
        &self,
        name: &PackageName,
        version: &Version,
        tarball: Bytes,
        log: &dyn ActivityLog,
    ) -> Result<(), StorageError> {
        self.inner.upload(name, version, tarball, log).await?;
        if self.fail_upload_after_write.swap(false, Ordering::SeqCst) {
            return Err(StorageError::Backend {
                action: "upload",
                key: format!("{name}/{version}.tar.gz"),
                target: self.describe(),
                reason: "Injected storage upload failure after writing the tarball.".into(),
            });
        }
        Ok(())
    }
    async fn put_once(&self, key: &str, bytes: Bytes, log: &dyn ActivityLog) -> Result<(), StorageError> {
        self.inner.put_once(key, bytes, log).await
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        self.inner.get(key).await
    }
    async fn head(&self, key: &str) -> Result<Option<u64>, StorageError> {
        self.inner.head(key).await
    }
    async fn remove(&self, key: &str, log: &dyn ActivityLog) -> Result<(), StorageError> {
        self.inner.remove(key, log).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner.list(prefix).await
    }
}

/// A repository whose next commit can be made to fail: before anything is
/// written, or after the commit was pushed (the push "times out").
pub struct FaultyRepo {
    pub inner: GitCheckout,
    pub fail_next_commit: Mutex<Option<(&'static str, bool)>>,
}

#[async_trait]
impl GitRepo for FaultyRepo {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn read(&self, path: &str) -> Result<Option<String>, GitError> {
        self.inner.read(path).await
    }
    async fn list(&self, dir: &str) -> Result<Vec<String>, GitError> {
        self.inner.list(dir).await
    }
    async fn all_files(&self) -> Result<Vec<String>, GitError> {
        self.inner.all_files().await
    }
    async fn commit_messages(&self, path: &str, needle: &str) -> Result<Vec<String>, GitError> {
        self.inner.commit_messages(path, needle).await
    }
    async fn revision(&self) -> Result<Option<String>, GitError> {
        self.inner.revision().await
    }
    async fn changed_since(&self, revision: &str) -> Result<Option<Vec<String>>, GitError> {
        self.inner.changed_since(revision).await
    }
    async fn commit(
        &self,
        changes: &[FileChange],
        message: &str,
        log: &dyn ActivityLog,
    ) -> Result<CommitOutcome, GitError> {
        let fault = self.fail_next_commit.lock().unwrap().take();
        let injected =
            |text: &str| GitError::Io { path: ".".into(), source: std::io::Error::other(text.to_owned()) };
        match fault {
            Some((text, false)) => Err(injected(text)),
            Some((text, true)) => {
                self.inner.commit(changes, message, log).await?;
                Err(injected(text))
            }
            None => self.inner.commit(changes, message, log).await,
        }
    }
    async fn tags(&self) -> Result<Vec<String>, GitError> {
        self.inner.tags().await
    }
    async fn push_tags(
        &self,
        tags: &[String],
        log: &dyn ActivityLog,
    ) -> Result<registry_adapters::TagsOutcome, GitError> {
        self.inner.push_tags(tags, log).await
    }
}

pub struct TestRegistry {
    pub dir: tempfile::TempDir,
    pub storage: Arc<FaultyStorage>,
    pub registry: Arc<FaultyRepo>,
    pub index: Arc<FaultyRepo>,
    pub publisher: Publisher,
    jobs: std::sync::atomic::AtomicUsize,
    /// Where documentation goes; unreachable unless a test records it.
    docs: Mutex<Arc<dyn DocsSite>>,
}

/// A documentation site that keeps what it is sent, `(name@version, docs JSON)`.
#[derive(Default)]
pub struct RecordingDocs(pub Mutex<Vec<(String, serde_json::Value)>>);

#[async_trait]
impl DocsSite for RecordingDocs {
    fn describe(&self) -> String {
        "recording documentation site".into()
    }

    async fn publish(
        &self,
        name: &PackageName,
        version: &Version,
        docs_json: &[u8],
        _log: &dyn ActivityLog,
    ) -> Result<(), registry_adapters::DocsError> {
        let json = serde_json::from_slice(docs_json).expect("purs publish printed JSON");
        self.0.lock().unwrap().push((format!("{name}@{version}"), json));
        Ok(())
    }

    async fn published_versions(
        &self,
        name: &PackageName,
    ) -> Result<Vec<Version>, registry_adapters::DocsError> {
        let prefix = format!("{name}@");
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(id, _)| id.strip_prefix(&prefix).map(|v| Version::parse(v).unwrap()))
            .collect())
    }
}

pub struct Outcome {
    pub result: Result<(), Failure>,
    pub log: Vec<(LogLevel, String)>,
}

impl Outcome {
    pub fn error(&self) -> &str {
        match &self.result {
            Ok(()) => panic!("expected a failure; log:\n{}", self.printed()),
            Err(f) => &f.0,
        }
    }
    pub fn ok(&self) {
        assert!(self.result.is_ok(), "{:?}\nlog:\n{}", self.result, self.printed());
    }
    pub fn printed(&self) -> String {
        self.log.iter().map(|(l, m)| format!("{l:?} {m}")).collect::<Vec<_>>().join("\n")
    }
}

/// The jobs' clock: 2026-01-01 plus whatever a test adds with [`advance_clock`].
static CLOCK_OFFSET_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

fn fixed_clock() -> Timestamp {
    Timestamp::parse_iso("2026-01-01T00:00:00.000Z")
        .unwrap()
        .plus_millis(CLOCK_OFFSET_MS.load(Ordering::SeqCst))
}

pub fn advance_clock(hours: i64) {
    CLOCK_OFFSET_MS.fetch_add(hours * 3_600_000, Ordering::SeqCst);
}

pub struct Key {
    pub private: String,
    pub public_line: String,
}

impl Key {
    pub fn owner(&self) -> registry_core::Owner {
        let parts: Vec<&str> = self.public_line.split_whitespace().collect();
        registry_core::Owner {
            id: Some(parts[2].to_owned()),
            keytype: parts[0].to_owned(),
            public: parts[1].to_owned(),
        }
    }

    /// A signed unpublish request for `name@version`.
    pub fn unpublish(&self, name: &str, version: &str) -> AuthenticatedData {
        let raw_payload =
            format!(r#"{{"name":"{name}","version":"{version}","reason":"Committed credentials."}}"#);
        AuthenticatedData {
            operation: AuthenticatedOperation::Unpublish(UnpublishData {
                name: PackageName::parse(name).unwrap(),
                version: Version::parse(version).unwrap(),
                reason: UnpublishReason::parse("Committed credentials.").unwrap(),
            }),
            signature: registry_core::auth::sign(&self.private, &raw_payload).unwrap(),
            raw_payload,
        }
    }
}

pub fn keygen(dir: &Path, name: &str, comment: &str) -> Key {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen is needed for this test");
    assert!(status.success());
    Key {
        private: std::fs::read_to_string(&path).unwrap(),
        public_line: std::fs::read_to_string(path.with_extension("pub")).unwrap().trim().to_owned(),
    }
}

impl TestRegistry {
    pub fn new() -> TestRegistry {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        bare_repo(&root.join("registry.git"), &root.join("scratch/registry"));
        bare_repo(&root.join("index.git"), &root.join("scratch/index"));
        let compilers = root.join("compilers");
        std::fs::create_dir_all(&compilers).unwrap();
        std::os::unix::fs::symlink(standin(), compilers.join("purs-0_15_15")).unwrap();
        let checkout = |label: &str, remote: &str| FaultyRepo {
            inner: GitCheckout::new(
                label,
                root.join("checkouts").join(label),
                root.join(remote).display().to_string(),
            )
            .with_refresh_interval(Duration::ZERO),
            fail_next_commit: Mutex::new(None),
        };
        TestRegistry {
            storage: Arc::new(FaultyStorage {
                inner: LocalStorage::new(root.join("storage")),
                fail_upload_after_write: AtomicBool::new(false),
            }),
            registry: Arc::new(checkout("registry", "registry.git")),
            index: Arc::new(checkout("registry-index", "index.git")),
            publisher: Publisher::new(),
            jobs: Default::default(),
            docs: Mutex::new(Arc::new(HttpDocsSite::new("http://127.0.0.1:9", None))),
            dir,
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A job environment over this registry, and the job's log.
    pub fn job_env(&self) -> (JobEnv, Arc<MemoryLog>) {
        let log = Arc::new(MemoryLog::default());
        (self.env(log.clone()), log)
    }

    /// Sends documentation to `site` from now on.
    pub fn set_docs(&self, site: Arc<dyn DocsSite>) {
        *self.docs.lock().unwrap() = site;
    }

    /// The installed compilers (`purs-0_15_15` and those [`Self::install_compiler`] added).
    pub fn compilers(&self) -> CompilerLocator {
        CompilerLocator::only_in(self.root().join("compilers"))
    }

    /// Installs the stand-in compiler as `purs-X_Y_Z` too (it plays that version).
    pub fn install_compiler(&self, version: &str) {
        let name = format!("purs-{}", version.replace('.', "_"));
        std::os::unix::fs::symlink(standin(), self.root().join("compilers").join(name)).unwrap();
    }

    fn env(&self, log: Arc<MemoryLog>) -> JobEnv {
        let n = self.jobs.fetch_add(1, Ordering::SeqCst);
        self.env_for(&format!("job-{n}"), log)
    }

    /// The environment of job `job_id`: a job run again after a crash keeps its id.
    fn env_for(&self, job_id: &str, log: Arc<MemoryLog>) -> JobEnv {
        let n = self.jobs.fetch_add(1, Ordering::SeqCst);
        let docs = self.docs.lock().unwrap().clone();
        let work_dir = self.root().join(format!("work/run-{n}"));
        std::fs::create_dir_all(&work_dir).unwrap();
        JobEnv {
            job_id: job_id.to_owned(),
            log,
            storage: self.storage.clone(),
            registry: self.registry.clone(),
            index: self.index.clone(),
            // Publish, unpublish and matrix jobs never mirror package sets.
            legacy_package_sets: self.index.clone(),
            docs,
            sources: Arc::new(GitSourceFetcher::new(&format!(
                "file://{}",
                self.root().join("github").display()
            ))),
            compilers: self.compilers(),
            build_root: self.root().join("builds"),
            work_dir,
            clock: fixed_clock,
        }
    }

    pub async fn unpublish(&self, unpublisher: &Unpublisher, data: &AuthenticatedData) -> Outcome {
        let log = Arc::new(MemoryLog::default());
        let env = self.env(log.clone());
        let result = unpublisher.run(&env, data).await;
        Outcome { result, log: log.lines() }
    }

    pub async fn publish(&self, data: &PublishData) -> Outcome {
        let log = Arc::new(MemoryLog::default());
        let env = self.env(log.clone());
        let result = self.publisher.run(&env, data).await.map(|_| ());
        Outcome { result, log: log.lines() }
    }

    /// Runs a publish as job `job_id` (the same id again is a retry of that job).
    pub async fn publish_as(
        &self,
        job_id: &str,
        data: &PublishData,
    ) -> (Result<Published, Failure>, Outcome) {
        let log = Arc::new(MemoryLog::default());
        let env = self.env_for(job_id, log.clone());
        let published = self.publisher.run(&env, data).await;
        let result = published.as_ref().map(|_| ()).map_err(|f| Failure(f.0.clone()));
        (published, Outcome { result, log: log.lines() })
    }

    /// Where GitHub repository `test/purescript-<name>` lives.
    pub fn source_repo(&self, name: &str) -> PathBuf {
        self.root().join(format!("github/test/purescript-{name}.git"))
    }

    /// Commits `files` to the package's source repository and tags the commit `tag`.
    pub fn commit_source(&self, name: &str, files: &BTreeMap<String, Vec<u8>>, tag: &str) {
        let repo = self.source_repo(name);
        if !repo.join(".git").exists() {
            std::fs::create_dir_all(&repo).unwrap();
            git(&repo, &["init", "-q", "-b", "main"]);
        }
        if repo.join("src").exists() {
            std::fs::remove_dir_all(repo.join("src")).unwrap();
        }
        registry_workload::write_files(&repo, files).unwrap();
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "--allow-empty", "-m", &format!("Release {tag}")]);
        git(&repo, &["tag", "-f", tag]);
    }

    pub fn stored(&self, name: &str, version: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root().join(format!("storage/{name}/{version}.tar.gz"))).ok()
    }

    pub fn remote_file(&self, repo: &str, path: &str) -> Option<String> {
        let out = Command::new("git")
            .current_dir(self.root().join(repo))
            .args(["show", &format!("main:{path}")])
            .output()
            .unwrap();
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn log_messages(&self, repo: &str) -> Vec<String> {
        git(&self.root().join(repo), &["log", "--format=%B%x00", "main"])
            .split('\0')
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .collect()
    }

    pub fn metadata_has(&self, name: &str, version: &str) -> bool {
        self.remote_file("registry.git", &format!("metadata/{name}.json")).is_some_and(|text| {
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["published"][version].is_object()
        })
    }

    pub fn index_has(&self, name: &str, version: &str) -> bool {
        let path = registry_core::manifest_index::entry_path(&PackageName::parse(name).unwrap());
        self.remote_file("index.git", &path).is_some_and(|text| {
            text.lines().any(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["version"] == version)
        })
    }
}

/// A manifest of `test/purescript-<name>` at tag `v<version>`, MIT licensed.
pub fn manifest(name: &str, version: &str, deps: &[(&str, &str)]) -> Manifest {
    let deps: serde_json::Map<String, serde_json::Value> =
        deps.iter().map(|(n, r)| (n.to_string(), serde_json::Value::String(r.to_string()))).collect();
    Manifest::decode(&serde_json::json!({
        "name": name,
        "version": version,
        "license": "MIT",
        "location": {"githubOwner": "test", "githubRepo": format!("purescript-{name}")},
        "ref": format!("v{version}"),
        "dependencies": deps,
    }))
    .unwrap()
}

pub fn files(manifest: &Manifest, variant: Variant) -> BTreeMap<String, Vec<u8>> {
    registry_workload::package_files(manifest, variant)
}

/// The request to publish `manifest` (with its location on first publication).
pub fn request(manifest: &Manifest, with_location: bool) -> PublishData {
    PublishData {
        name: manifest.name.clone(),
        location: with_location.then(|| manifest.location.clone()),
        git_ref: manifest.git_ref.clone(),
        version: manifest.version,
        compiler: Some(Version::parse(COMPILER).unwrap()),
        resolutions: None,
    }
}
