//! Fetching a package's source: a git clone of one ref (branch or tag).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use registry_core::Location;
use tokio::process::Command;

use crate::ActivityLog;
use crate::process::{self, CommandError};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("packages in a subdirectory of a repository are not supported (subdir '{0}')")]
    Subdir(String),
    #[error("the repository {url} does not exist or cannot be read")]
    Inaccessible { url: String },
    #[error("the ref '{git_ref}' was not found in {url}; it must be a branch or tag name")]
    RefNotFound { url: String, git_ref: String },
    /// A `gitUrl` this registry does not fetch from (see `check_git_host`).
    #[error("{0}")]
    NotAllowed(String),
    #[error("cloning {url} at '{git_ref}' failed: {reason}")]
    Failed { url: String, git_ref: String, reason: String },
}

#[async_trait]
pub trait SourceFetcher: Send + Sync {
    /// Clones `location` at `git_ref` into a new directory under `parent` and returns it.
    async fn fetch(
        &self,
        location: &Location,
        git_ref: &str,
        parent: &Path,
        log: &dyn ActivityLog,
    ) -> Result<PathBuf, SourceError>;
}

/// Clones with the `git` CLI. GitHub locations are resolved against a base URL:
/// `https://github.com` normally, or a `file://` directory holding `OWNER/REPO.git`
/// bare repositories for local use. `gitUrl` locations are fetched only from the
/// allowed hosts (default `github.com`), checked here too in case a stored location
/// predates the rule or the setting.
pub struct GitSourceFetcher {
    github_base: String,
    git_hosts: Vec<String>,
}

impl GitSourceFetcher {
    pub fn new(github_base: &str) -> Self {
        GitSourceFetcher {
            github_base: github_base.trim_end_matches('/').to_owned(),
            git_hosts: vec!["github.com".to_owned()],
        }
    }

    /// The hosts `gitUrl` locations may name.
    pub fn with_git_hosts(mut self, hosts: Vec<String>) -> Self {
        self.git_hosts = hosts;
        self
    }

    /// Protocols git may use for a clone: https, and the GitHub base's own (`file`
    /// for local use), never `ext::`, `ssh` or others a URL could smuggle in.
    fn allowed_protocols(&self) -> String {
        match self.github_base.split_once("://") {
            Some((scheme, _)) if scheme != "https" => format!("https:{scheme}"),
            _ => "https".to_owned(),
        }
    }

    pub fn url(&self, location: &Location) -> String {
        match location {
            Location::GitHub { owner, repo, .. } => format!("{}/{owner}/{repo}.git", self.github_base),
            Location::Git { url, .. } => url.clone(),
        }
    }
}

#[async_trait]
impl SourceFetcher for GitSourceFetcher {
    async fn fetch(
        &self,
        location: &Location,
        git_ref: &str,
        parent: &Path,
        log: &dyn ActivityLog,
    ) -> Result<PathBuf, SourceError> {
        if let Some(subdir) = location.subdir() {
            return Err(SourceError::Subdir(subdir.to_owned()));
        }
        if let Location::Git { url, .. } = location {
            registry_core::location::check_git_host(url, &self.git_hosts).map_err(SourceError::NotAllowed)?;
        }
        let url = self.url(location);
        let safe_ref: String =
            git_ref.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' }).collect();
        let repo_name =
            url.trim_end_matches('/').rsplit('/').next().unwrap_or("source").trim_end_matches(".git");
        let dest = parent.join(format!("{repo_name}-{safe_ref}"));
        let mut cmd = Command::new("git");
        cmd.env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ALLOW_PROTOCOL", self.allowed_protocols())
            .args(["-c", "filter.lfs.smudge=cat", "-c", "filter.lfs.process=cat", "clone", "--quiet"])
            .args(["--branch", git_ref, "--single-branch", "-c", "advice.detachedHead=false", &url])
            .arg(&dest);
        log.debug(&format!("Cloning {url} at '{git_ref}'"));
        match process::run(&mut cmd).await {
            Ok(_) => {
                log.info(&format!("Fetched the source of {url} at '{git_ref}'"));
                Ok(dest)
            }
            Err(CommandError::Failed { stderr, .. }) => Err(classify(&url, git_ref, &stderr)),
            Err(err) => {
                Err(SourceError::Failed { url, git_ref: git_ref.to_owned(), reason: err.to_string() })
            }
        }
    }
}

fn classify(url: &str, git_ref: &str, stderr: &str) -> SourceError {
    let lower = stderr.to_lowercase();
    if lower.contains("remote branch") && lower.contains("not found") {
        SourceError::RefNotFound { url: url.to_owned(), git_ref: git_ref.to_owned() }
    } else if [
        "does not appear to be a git repository",
        "repository not found",
        "terminal prompts disabled",
        "could not read username",
        "does not exist",
    ]
    .iter()
    .any(|s| lower.contains(s))
    {
        SourceError::Inaccessible { url: url.to_owned() }
    } else {
        SourceError::Failed { url: url.to_owned(), git_ref: git_ref.to_owned(), reason: stderr.to_owned() }
    }
}
