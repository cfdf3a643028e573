//! Generated packages as local git repositories, as a package author would push them.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use registry_core::Manifest;

use crate::sources::{Variant, package_files, write_files};

/// Who commits, and when: fixed so the same inputs give the same commit ids.
#[derive(Debug, Clone)]
pub struct GitIdentity {
    pub name: String,
    pub email: String,
    /// Seconds since the epoch for author and committer dates.
    pub time: i64,
}

impl Default for GitIdentity {
    fn default() -> Self {
        GitIdentity {
            name: "Workload Generator".into(),
            email: "workload@localhost".into(),
            time: 1_700_000_000,
        }
    }
}

fn git(dir: &Path, who: &GitIdentity, args: &[&str]) -> Result<String> {
    let date = format!("@{} +0000", who.time);
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", &who.name)
        .env("GIT_AUTHOR_EMAIL", &who.email)
        .env("GIT_COMMITTER_NAME", &who.name)
        .env("GIT_COMMITTER_EMAIL", &who.email)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .with_context(|| format!("running git {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "git {} failed in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Creates (or extends) a git repository at `dir` with one commit per manifest, in
/// the order given, each tagged `v<version>` (the manifest's `ref`). Returns the
/// commit ids. A `subdir` location puts the package under that folder.
pub fn write_git_repo(
    dir: &Path,
    versions: &[(&Manifest, Variant)],
    who: &GitIdentity,
) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if !dir.join(".git").exists() {
        git(dir, who, &["init", "-q", "-b", "main"])?;
    }
    let mut commits = Vec::new();
    for (manifest, variant) in versions {
        let root = match manifest.location.subdir() {
            Some(sub) => dir.join(sub),
            None => dir.to_path_buf(),
        };
        if root.join("src").exists() {
            std::fs::remove_dir_all(root.join("src")).context("clearing the previous version's sources")?;
        }
        write_files(&root, &package_files(manifest, *variant))?;
        git(dir, who, &["add", "-A"])?;
        git(dir, who, &["commit", "-q", "--allow-empty", "-m", &format!("Release {}", manifest.id())])?;
        git(dir, who, &["tag", "-f", &manifest.git_ref])?;
        commits.push(git(dir, who, &["rev-parse", "HEAD"])?);
    }
    Ok(commits)
}
