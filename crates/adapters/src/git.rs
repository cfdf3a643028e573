//! The registry's git repositories (`registry`: metadata and package sets;
//! `registry-index`: manifests; `package-sets`: the legacy package-sets mirror),
//! each a local checkout of a configured remote.
//!
//! The remote is the source of truth. Every write starts from the remote's current
//! state, applies whole-file changes, commits and pushes; if the push is rejected
//! because someone else pushed first, the same changes are applied again on top of
//! the new remote state. Writers within one process are serialized by a lock.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::process::Command;

use crate::ActivityLog;
use crate::process::{self, CommandError};

/// Set (`Some`) or delete (`None`) one file, path relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    pub contents: Option<String>,
}

impl FileChange {
    pub fn write(path: impl Into<String>, contents: impl Into<String>) -> Self {
        FileChange { path: path.into(), contents: Some(contents.into()) }
    }
    pub fn delete(path: impl Into<String>) -> Self {
        FileChange { path: path.into(), contents: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Pushed; `attempts` > 1 when the remote moved and the changes were re-applied.
    Committed { commit: String, attempts: u32 },
    /// The files already had this content.
    NoChange,
    /// Read-only mode: nothing was committed (a NOTICE says what would have been).
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagsOutcome {
    /// These tags were new on the remote and were pushed.
    Pushed(Vec<String>),
    /// The remote already had every tag at the same commit.
    NoChange,
    /// Read-only mode: nothing was tagged or pushed (a NOTICE per tag says what would have been).
    Skipped,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{0}")]
    Command(#[from] CommandError),
    #[error("invalid path '{0}': paths must be relative and stay inside the repository")]
    BadPath(String),
    #[error("file system error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("pushing to {remote} was rejected {attempts} times because the remote kept moving; giving up")]
    PushContention { remote: String, attempts: u32 },
    #[error("invalid tag name '{0}': use a name git accepts for refs/tags/<name>, e.g. psc-0.15.15-20240101")]
    BadTag(String),
}

/// A git repository the registry reads and writes.
#[async_trait]
pub trait GitRepo: Send + Sync {
    /// `registry repository at <remote>` (credentials masked), for messages.
    fn describe(&self) -> String;

    /// A file's contents, or `None` if absent.
    async fn read(&self, path: &str) -> Result<Option<String>, GitError>;

    /// Names of the files directly in `dir` (empty if the directory is absent).
    async fn list(&self, dir: &str) -> Result<Vec<String>, GitError>;

    /// Paths (relative to the repository root, sorted) of every file in the
    /// repository, at any depth, outside hidden (`.`-prefixed) directories and files.
    async fn all_files(&self) -> Result<Vec<String>, GitError>;

    /// Makes the next reads see the remote as it is now (reads may otherwise come from
    /// a copy refreshed a while ago). For work that must start from the latest state,
    /// such as a package-set update after another process released a set.
    async fn refresh(&self) -> Result<(), GitError> {
        Ok(())
    }

    /// Names the state reads see now (the checked-out commit), so that whatever was
    /// derived from earlier reads can tell whether the repository moved on since.
    /// `None`: this repository cannot tell, so nothing derived may be trusted.
    async fn revision(&self) -> Result<Option<String>, GitError> {
        Ok(None)
    }

    /// The paths whose contents differ between `revision` (from [`GitRepo::revision`])
    /// and what reads see now. `None`: unknown (e.g. that revision is gone), so
    /// whatever was derived at `revision` must be derived again from scratch.
    async fn changed_since(&self, _revision: &str) -> Result<Option<Vec<String>>, GitError> {
        Ok(None)
    }

    /// Full messages of the remote's commits that changed `path`, newest first,
    /// keeping those whose message contains `needle` (plain text). This is how a job
    /// run again after a crash finds its own writes: their messages name the job.
    async fn commit_messages(&self, path: &str, needle: &str) -> Result<Vec<String>, GitError>;

    /// Applies `changes`, commits them with `message` and pushes.
    async fn commit(
        &self,
        changes: &[FileChange],
        message: &str,
        log: &dyn ActivityLog,
    ) -> Result<CommitOutcome, GitError>;

    /// Names of the remote's tags, sorted.
    async fn tags(&self) -> Result<Vec<String>, GitError>;

    /// Creates lightweight `tags` on the checkout's current commit (right after
    /// [`GitRepo::commit`], the commit just pushed) and pushes them. A tag that
    /// already exists locally is kept as it is (with a warning), as upstream does.
    async fn push_tags(&self, tags: &[String], log: &dyn ActivityLog) -> Result<TagsOutcome, GitError>;
}

/// `https://user:secret@host/x` → `https://user:***@host/x`.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') { format!("{user}:***") } else { "***".to_owned() };
            let sep = if rest.contains('/') { "/" } else { "" };
            format!("{scheme}://{masked}@{host}{sep}{path}")
        }
        None => url.to_owned(),
    }
}

/// Names that git would not misread: no option-like or revision syntax.
fn check_tag(tag: &str) -> Result<(), GitError> {
    let ok = !tag.is_empty()
        && !tag.starts_with(['-', '.', '/'])
        && !tag.ends_with(['.', '/'])
        && !tag.ends_with(".lock")
        && !tag.contains("..")
        && !tag.contains("@{")
        && !tag.contains("//")
        && tag.chars().all(|c| c.is_ascii_graphic() && !"~^:?*[\\".contains(c));
    if ok { Ok(()) } else { Err(GitError::BadTag(tag.to_owned())) }
}

fn check_path(path: &str) -> Result<(), GitError> {
    let p = Path::new(path);
    let ok = !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok { Ok(()) } else { Err(GitError::BadPath(path.to_owned())) }
}

/// Who commits.
#[derive(Debug, Clone)]
pub struct Committer {
    pub name: String,
    pub email: String,
}

impl Default for Committer {
    fn default() -> Self {
        Committer { name: "pacchettibotti".into(), email: "pacchettibotti@purescript.org".into() }
    }
}

/// A checkout of `remote`'s `branch` in `dir`, cloned on first use.
pub struct GitCheckout {
    label: String,
    dir: PathBuf,
    remote: String,
    branch: String,
    committer: Committer,
    /// Reads fetch from the remote at most this often (writes always fetch).
    refresh_interval: Duration,
    max_push_attempts: u32,
    state: tokio::sync::Mutex<Option<Instant>>,
    /// Lock files a killed git left in the checkout were removed (once per process).
    unlocked: std::sync::atomic::AtomicBool,
    /// PACCHETTIBOTTI_TOKEN for an `http(s)://` remote: sent as an HTTP header through
    /// git's environment, so it is in no URL, argument, `.git/config` or message.
    token: Option<String>,
}

/// The pause after the `attempt`th rejected push: growing, and spread at random so
/// writers that collided do not collide again in lockstep.
fn push_backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(25 * u64::from(attempt.min(10)));
    // The clock's nanoseconds and the process id are random enough to de-synchronize.
    let noise = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        .wrapping_mul(2_654_435_761)
        ^ std::process::id();
    base / 2 + base.mul_f64(f64::from(noise % 1000) / 1000.0)
}

/// A git lock file this old is stale: git holds one for milliseconds.
const STALE_LOCK: Duration = Duration::from_secs(3);

impl GitCheckout {
    pub fn new(label: impl Into<String>, dir: impl Into<PathBuf>, remote: impl Into<String>) -> Self {
        GitCheckout {
            label: label.into(),
            dir: dir.into(),
            remote: remote.into(),
            branch: "main".into(),
            committer: Committer::default(),
            refresh_interval: Duration::from_secs(60),
            // Several workers push to one remote: with a randomized pause between attempts
            // a writer that lost a race rarely loses many in a row.
            max_push_attempts: 12,
            state: tokio::sync::Mutex::new(None),
            unlocked: std::sync::atomic::AtomicBool::new(false),
            token: None,
        }
    }

    /// Authenticates to an `http://` or `https://` remote with `token` (a GitHub
    /// token: basic authentication as pacchettibotti); other remotes ignore it.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        let over_http = self.remote.starts_with("https://") || self.remote.starts_with("http://");
        self.token = token.filter(|t| over_http && !t.is_empty());
        self
    }

    /// A git command with this checkout's credentials, if any.
    fn authenticated(&self, mut cmd: Command) -> Command {
        cmd.env("GIT_TERMINAL_PROMPT", "0");
        if let Some(token) = &self.token {
            use base64::Engine as _;
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("pacchettibotti:{token}"));
            cmd.env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                .env("GIT_CONFIG_VALUE_0", format!("Authorization: Basic {basic}"));
        }
        cmd
    }

    pub fn with_branch(mut self, branch: impl Into<String>) -> Self {
        self.branch = branch.into();
        self
    }

    pub fn with_committer(mut self, committer: Committer) -> Self {
        self.committer = committer;
        self
    }

    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn git(&self) -> Command {
        let mut cmd = self.authenticated(Command::new("git"));
        cmd.current_dir(&self.dir);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let mut cmd = self.git();
        cmd.args(args);
        let output = process::run(&mut cmd).await?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Clones if needed, then makes the checkout equal to the remote branch.
    async fn sync(&self) -> Result<(), GitError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| GitError::Io { path, source }
        };
        if self.dir.join(".git").exists() && !self.unlocked.swap(true, std::sync::atomic::Ordering::SeqCst) {
            // The checkout is this process's own: any lock in it was left by a git
            // killed with an earlier run (a crash), and would fail every command.
            let git_dir = self.dir.join(".git");
            tokio::task::spawn_blocking(move || remove_lock_files(&git_dir)).await.map_err(|e| {
                GitError::Io { path: ".git".into(), source: std::io::Error::other(e.to_string()) }
            })??;
            // A checkout git cannot read (an older, non-atomic clone killed half-way)
            // is a copy of the remote like any other: cloned again.
            if self.run(&["--git-dir=.git", "rev-parse", "--verify", "--quiet", "HEAD"]).await.is_err() {
                tokio::fs::remove_dir_all(&self.dir).await.map_err(io(&self.dir))?;
            }
        }
        if !self.dir.join(".git").exists() {
            // Cloned beside, then renamed: a clone killed half-way leaves no checkout.
            let name = self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let partial = self.dir.with_file_name(format!(".{name}.cloning"));
            if let Some(parent) = self.dir.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(io(parent))?;
            }
            for leftover in [&partial, &self.dir] {
                if leftover.exists() {
                    tokio::fs::remove_dir_all(leftover).await.map_err(io(leftover))?;
                }
            }
            let mut cmd = self.authenticated(Command::new("git"));
            cmd.args(["clone", "--quiet", "--branch", &self.branch, &self.remote]).arg(&partial);
            process::run(&mut cmd).await?;
            tokio::fs::rename(&partial, &self.dir).await.map_err(io(&self.dir))?;
            self.unlocked.store(true, std::sync::atomic::Ordering::SeqCst);
            return Ok(());
        }
        self.run(&["fetch", "--quiet", "origin", &self.branch]).await?;
        self.run(&["reset", "--quiet", "--hard", &format!("origin/{}", self.branch)]).await?;
        self.run(&["clean", "--quiet", "-d", "-x", "--force"]).await?;
        Ok(())
    }

    async fn fresh_for_reading(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Instant>>, GitError> {
        let mut last = self.state.lock().await;
        let stale = last.is_none_or(|at| at.elapsed() >= self.refresh_interval);
        if stale {
            self.sync().await?;
            *last = Some(Instant::now());
        }
        Ok(last)
    }

    async fn apply(&self, changes: &[FileChange]) -> Result<(), GitError> {
        for change in changes {
            let path = self.dir.join(&change.path);
            let io = |source| GitError::Io { path: change.path.clone(), source };
            match &change.contents {
                Some(text) => {
                    if let Some(parent) = path.parent() {
                        tokio::fs::create_dir_all(parent).await.map_err(io)?;
                    }
                    tokio::fs::write(&path, text).await.map_err(io)?;
                }
                None => match tokio::fs::remove_file(&path).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(e)),
                },
            }
        }
        Ok(())
    }

    /// A push refused because a ref of a remote on this machine is locked: a git
    /// killed while updating it (a crash of the server during a push, a power loss)
    /// leaves the lock file, and every later push fails. A lock older than
    /// [`STALE_LOCK`] is removed (waiting until then, as a live push releases it sooner).
    async fn clear_stale_remote_lock(&self, err: &GitError, log: &dyn ActivityLog) -> Result<(), GitError> {
        let GitError::Command(CommandError::Failed { stderr, .. }) = err else { return Ok(()) };
        let Some(lock) = locked_path(stderr) else { return Ok(()) };
        let remote = Path::new(self.remote.strip_prefix("file://").unwrap_or(&self.remote));
        let (Ok(remote), Ok(lock)) = (remote.canonicalize(), lock.canonicalize()) else { return Ok(()) };
        if !lock.starts_with(&remote) || lock.extension().is_none_or(|e| e != "lock") {
            return Ok(());
        }
        let age = || lock.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        if let Some(age) = age()
            && age < STALE_LOCK
        {
            tokio::time::sleep(STALE_LOCK - age).await;
        }
        if age().is_some_and(|age| age >= STALE_LOCK) {
            tokio::fs::remove_file(&lock)
                .await
                .map_err(|source| GitError::Io { path: lock.display().to_string(), source })?;
            log.warn(&format!(
                "Removed a stale lock in the {} that a git process killed during an earlier push had left",
                self.describe()
            ));
        }
        Ok(())
    }

    /// True when a push failed because the remote has commits we do not.
    fn is_rejection(err: &GitError) -> bool {
        match err {
            GitError::Command(CommandError::Failed { stderr, .. }) => {
                ["[rejected]", "non-fast-forward", "fetch first", "cannot lock ref", "failed to update ref"]
                    .iter()
                    .any(|s| stderr.contains(s))
            }
            _ => false,
        }
    }
}

#[async_trait]
impl GitRepo for GitCheckout {
    fn describe(&self) -> String {
        format!("{} repository at {}", self.label, mask_url(&self.remote))
    }

    async fn read(&self, path: &str) -> Result<Option<String>, GitError> {
        check_path(path)?;
        let _guard = self.fresh_for_reading().await?;
        match tokio::fs::read_to_string(self.dir.join(path)).await {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(GitError::Io { path: path.to_owned(), source }),
        }
    }

    async fn list(&self, dir: &str) -> Result<Vec<String>, GitError> {
        check_path(dir)?;
        let _guard = self.fresh_for_reading().await?;
        let mut entries = match tokio::fs::read_dir(self.dir.join(dir)).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(GitError::Io { path: dir.to_owned(), source }),
        };
        let mut names = Vec::new();
        while let Some(entry) =
            entries.next_entry().await.map_err(|source| GitError::Io { path: dir.to_owned(), source })?
        {
            if entry.file_type().await.is_ok_and(|t| t.is_file()) {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    async fn all_files(&self) -> Result<Vec<String>, GitError> {
        let _guard = self.fresh_for_reading().await?;
        let root = self.dir.clone();
        let walk = tokio::task::spawn_blocking(move || visible_files(&root));
        let mut files = walk
            .await
            .map_err(|e| GitError::Io { path: ".".into(), source: std::io::Error::other(e.to_string()) })??;
        files.sort();
        Ok(files)
    }

    async fn refresh(&self) -> Result<(), GitError> {
        let mut last = self.state.lock().await;
        self.sync().await?;
        *last = Some(Instant::now());
        Ok(())
    }

    async fn revision(&self) -> Result<Option<String>, GitError> {
        let _guard = self.fresh_for_reading().await?;
        Ok(Some(self.run(&["rev-parse", "HEAD"]).await?.trim().to_owned()))
    }

    async fn changed_since(&self, revision: &str) -> Result<Option<Vec<String>>, GitError> {
        // Only a full commit id reaches git: never an option or a revision expression.
        if revision.len() != 40 || !revision.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let _guard = self.fresh_for_reading().await?;
        match self.run(&["diff", "-z", "--name-only", "--no-renames", revision, "HEAD", "--"]).await {
            Ok(out) => Ok(Some(out.split('\0').filter(|p| !p.is_empty()).map(str::to_owned).collect())),
            // The revision is not in this checkout's history any more.
            Err(GitError::Command(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn commit_messages(&self, path: &str, needle: &str) -> Result<Vec<String>, GitError> {
        check_path(path)?;
        let _guard = self.fresh_for_reading().await?;
        let grep = format!("--grep={needle}");
        // NUL ends each message: messages contain blank lines.
        let log = self.run(&["log", "--format=%B%x00", "--fixed-strings", &grep, "HEAD", "--", path]).await?;
        Ok(log
            .split('\0')
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty() && m.contains(needle))
            .collect())
    }

    async fn commit(
        &self,
        changes: &[FileChange],
        message: &str,
        log: &dyn ActivityLog,
    ) -> Result<CommitOutcome, GitError> {
        for change in changes {
            check_path(&change.path)?;
        }
        let mut last = self.state.lock().await;
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        for attempt in 1..=self.max_push_attempts {
            self.sync().await?;
            *last = Some(Instant::now());
            self.apply(changes).await?;
            let mut add = vec!["add", "--all", "--"];
            add.extend(&paths);
            self.run(&add).await?;
            let staged = self.run(&["diff", "--cached", "--name-only"]).await?;
            if staged.trim().is_empty() {
                log.info(&format!("No change to commit in the {} (\"{message}\")", self.describe()));
                return Ok(CommitOutcome::NoChange);
            }
            let name = format!("user.name={}", self.committer.name);
            let email = format!("user.email={}", self.committer.email);
            self.run(&["-c", &name, "-c", &email, "commit", "--quiet", "--no-verify", "-m", message]).await?;
            match self.run(&["push", "--quiet", "origin", &format!("HEAD:refs/heads/{}", self.branch)]).await
            {
                Ok(_) => {
                    let commit = self.run(&["rev-parse", "HEAD"]).await?.trim().to_owned();
                    log.info(&format!(
                        "Pushed commit {} to the {}: {}",
                        &commit[..commit.len().min(12)],
                        self.describe(),
                        message.lines().next().unwrap_or("")
                    ));
                    return Ok(CommitOutcome::Committed { commit, attempts: attempt });
                }
                Err(err) if Self::is_rejection(&err) => {
                    self.clear_stale_remote_lock(&err, log).await?;
                    log.info(&format!(
                        "The {} moved while committing (attempt {attempt}); re-applying the changes on top of it",
                        self.describe()
                    ));
                    tokio::time::sleep(push_backoff(attempt)).await;
                }
                Err(err) => return Err(err),
            }
        }
        Err(GitError::PushContention { remote: mask_url(&self.remote), attempts: self.max_push_attempts })
    }

    async fn tags(&self) -> Result<Vec<String>, GitError> {
        // The checkout's `origin` stands for the remote, so no URL (with its
        // credentials) appears in an error message.
        drop(self.fresh_for_reading().await?);
        let listing = self.run(&["ls-remote", "--tags", "--refs", "origin"]).await?;
        let mut tags: Vec<String> = listing
            .lines()
            .filter_map(|line| line.split_once('\t')?.1.strip_prefix("refs/tags/").map(str::to_owned))
            .collect();
        tags.sort();
        Ok(tags)
    }

    async fn push_tags(&self, tags: &[String], log: &dyn ActivityLog) -> Result<TagsOutcome, GitError> {
        for tag in tags {
            check_tag(tag)?;
        }
        let mut last = self.state.lock().await;
        if !self.dir.join(".git").exists() {
            self.sync().await?;
            *last = Some(Instant::now());
        }
        for tag in tags {
            if self.run(&["tag", "--list", tag]).await?.trim().is_empty() {
                self.run(&["tag", tag]).await?;
            } else {
                log.warn(&format!("Tag {tag} already exists."));
            }
        }
        let mut push = vec!["push".to_owned(), "--porcelain".to_owned(), "origin".to_owned()];
        push.extend(tags.iter().map(|t| format!("refs/tags/{t}:refs/tags/{t}")));
        let args: Vec<&str> = push.iter().map(String::as_str).collect();
        let report = self.run(&args).await?;
        // Porcelain lines: `<flag>\t<from>:<to>\t<summary>`; `=` means already up to date.
        let pushed: Vec<String> = report
            .lines()
            .filter_map(|line| {
                let mut fields = line.split('\t');
                let flag = fields.next()?;
                let to = fields.next()?.split_once(':')?.1;
                (flag != "=").then(|| to.trim_start_matches("refs/tags/").to_owned())
            })
            .collect();
        if pushed.is_empty() {
            return Ok(TagsOutcome::NoChange);
        }
        log.info(&format!("Pushed tags {} to the {}", pushed.join(", "), self.describe()));
        Ok(TagsOutcome::Pushed(pushed))
    }
}

/// The file named by git's "Unable to create '<path>': File exists." message.
fn locked_path(stderr: &str) -> Option<PathBuf> {
    let start = stderr.find("Unable to create '")? + "Unable to create '".len();
    let rest = &stderr[start..];
    let end = rest.find("': File exists")?;
    Some(PathBuf::from(&rest[..end]))
}

/// Removes `*.lock` files under a `.git` directory (objects excepted: git keeps no
/// locks there).
fn remove_lock_files(git_dir: &Path) -> Result<(), GitError> {
    let mut pending = vec![git_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let io = |source| GitError::Io { path: dir.display().to_string(), source };
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io)?;
            let kind = entry.file_type().map_err(io)?;
            if kind.is_dir() && entry.file_name() != "objects" {
                pending.push(entry.path());
            } else if kind.is_file() && entry.file_name().to_string_lossy().ends_with(".lock") {
                std::fs::remove_file(entry.path()).map_err(io)?;
            }
        }
    }
    Ok(())
}

/// Every regular file below `root`, as `/`-separated relative paths, skipping
/// hidden entries (`.git` among them).
fn visible_files(root: &Path) -> Result<Vec<String>, GitError> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let io = |source| GitError::Io { path: dir.display().to_string(), source };
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type().map_err(io)?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file()
                && let Ok(rel) = entry.path().strip_prefix(root)
            {
                files.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(files)
}

/// A repository in READONLY mode: reads go to the real checkout; commits are
/// skipped with a NOTICE, and their changes are remembered in memory so later
/// reads in this process see them (as upstream's read-only mode does with its cache).
pub struct ReadOnlyGitRepo {
    inner: Arc<dyn GitRepo>,
    overlay: Mutex<HashMap<String, Option<String>>>,
    /// The skipped commits' paths and messages, oldest first.
    skipped: Mutex<Vec<(Vec<String>, String)>>,
}

impl ReadOnlyGitRepo {
    pub fn new(inner: Arc<dyn GitRepo>) -> Self {
        ReadOnlyGitRepo { inner, overlay: Mutex::new(HashMap::new()), skipped: Mutex::new(Vec::new()) }
    }

    fn overlay(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<String>>> {
        self.overlay.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl GitRepo for ReadOnlyGitRepo {
    fn describe(&self) -> String {
        format!("{} (read-only)", self.inner.describe())
    }

    async fn read(&self, path: &str) -> Result<Option<String>, GitError> {
        let overlaid = self.overlay().get(path).cloned();
        match overlaid {
            Some(contents) => Ok(contents),
            None => self.inner.read(path).await,
        }
    }

    async fn list(&self, dir: &str) -> Result<Vec<String>, GitError> {
        let mut names = self.inner.list(dir).await?;
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        for (path, contents) in self.overlay().iter() {
            let Some(name) = path.strip_prefix(&prefix).filter(|n| !n.contains('/')) else { continue };
            names.retain(|n| n != name);
            if contents.is_some() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    async fn all_files(&self) -> Result<Vec<String>, GitError> {
        let mut files = self.inner.all_files().await?;
        for (path, contents) in self.overlay().iter() {
            files.retain(|f| f != path);
            if contents.is_some() {
                files.push(path.clone());
            }
        }
        files.sort();
        Ok(files)
    }

    async fn refresh(&self) -> Result<(), GitError> {
        self.inner.refresh().await
    }

    /// The skipped commits change what reads see, so they count in the revision.
    async fn revision(&self) -> Result<Option<String>, GitError> {
        let skipped = self.skipped.lock().unwrap_or_else(|p| p.into_inner()).len();
        Ok(self.inner.revision().await?.map(|inner| format!("{inner}+{skipped}")))
    }

    /// Every path a skipped commit wrote counts as changed.
    async fn changed_since(&self, revision: &str) -> Result<Option<Vec<String>>, GitError> {
        let Some((inner, _)) = revision.rsplit_once('+') else { return Ok(None) };
        let Some(mut changed) = self.inner.changed_since(inner).await? else { return Ok(None) };
        changed.extend(self.overlay().keys().cloned());
        changed.sort();
        changed.dedup();
        Ok(Some(changed))
    }

    /// The skipped commits count as made, as their changes do for reads.
    async fn commit_messages(&self, path: &str, needle: &str) -> Result<Vec<String>, GitError> {
        let skipped: Vec<String> = {
            let skipped = self.skipped.lock().unwrap_or_else(|p| p.into_inner());
            skipped
                .iter()
                .rev()
                .filter(|(paths, message)| paths.iter().any(|p| p == path) && message.contains(needle))
                .map(|(_, message)| message.trim().to_owned())
                .collect()
        };
        let mut messages = skipped;
        messages.extend(self.inner.commit_messages(path, needle).await?);
        Ok(messages)
    }

    async fn commit(
        &self,
        changes: &[FileChange],
        message: &str,
        log: &dyn ActivityLog,
    ) -> Result<CommitOutcome, GitError> {
        let mut described = Vec::new();
        for change in changes {
            check_path(&change.path)?;
            if self.read(&change.path).await? == change.contents {
                continue;
            }
            described.push(match &change.contents {
                Some(text) => format!("write {} ({} bytes)", change.path, text.len()),
                None => format!("delete {}", change.path),
            });
        }
        if described.is_empty() {
            return Ok(CommitOutcome::NoChange);
        }
        log.readonly_skip(&format!(
            "commit and push to the {}: {}; commit message: \"{message}\"",
            self.inner.describe(),
            described.join(", ")
        ));
        let mut overlay = self.overlay();
        for change in changes {
            overlay.insert(change.path.clone(), change.contents.clone());
        }
        let paths = changes.iter().map(|c| c.path.clone()).collect();
        self.skipped.lock().unwrap_or_else(|p| p.into_inner()).push((paths, message.to_owned()));
        Ok(CommitOutcome::Skipped)
    }
    async fn tags(&self) -> Result<Vec<String>, GitError> {
        self.inner.tags().await
    }

    async fn push_tags(&self, tags: &[String], log: &dyn ActivityLog) -> Result<TagsOutcome, GitError> {
        for tag in tags {
            check_tag(tag)?;
        }
        for tag in tags {
            log.readonly_skip(&format!(
                "create the tag {tag} on the new commit and push it to the {}",
                self.inner.describe()
            ));
        }
        Ok(TagsOutcome::Skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_remote_urls_are_masked() {
        assert_eq!(mask_url("https://bot:ghp_x@github.com/o/r.git"), "https://bot:***@github.com/o/r.git");
        assert_eq!(mask_url("https://tok@github.com/o/r.git"), "https://***@github.com/o/r.git");
        assert_eq!(mask_url("file:///srv/git/r.git"), "file:///srv/git/r.git");
        assert_eq!(mask_url("/srv/git/r.git"), "/srv/git/r.git");
    }

    #[test]
    fn tag_names_are_checked() {
        for good in ["psc-0.15.15-20240101", "0.15.15", "v1.0.0"] {
            assert!(check_tag(good).is_ok(), "{good}");
        }
        for bad in ["", "-f", "a..b", "a b", "x:y", "a^", "t.lock", "HEAD@{1}", "a/"] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_locked_file_is_read_from_git_s_message() {
        let stderr = "remote: error: cannot lock ref 'refs/heads/main': Unable to create \
                      '/srv/git/registry.git/refs/heads/main.lock': File exists.\n";
        assert_eq!(locked_path(stderr), Some(PathBuf::from("/srv/git/registry.git/refs/heads/main.lock")));
        assert_eq!(locked_path("! [rejected] main -> main (fetch first)"), None);
    }

    #[test]
    fn paths_must_stay_inside() {
        assert!(check_path("metadata/a.json").is_ok());
        for bad in ["", "../x", "/etc/passwd", "a/../../b", "./a"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
