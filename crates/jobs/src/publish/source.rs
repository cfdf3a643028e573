//! Fetching the source at the requested ref and making it safe to read, and
//! where the job keeps its files.

use registry_core::Location;
use registry_core::operation::PublishData;

use super::{Dirs, Publisher, blocking};
use crate::secure::{Secured, secure_package, some_paths};
use crate::{Context, Failure, JobEnv};

impl Publisher {
    pub(super) async fn fetch(
        &self,
        env: &JobEnv,
        location: &Location,
        data: &PublishData,
    ) -> Result<Dirs, Failure> {
        let (whole_repo, subdir) = match location.clone() {
            Location::GitHub { owner, repo, subdir } => {
                (Location::GitHub { owner, repo, subdir: None }, subdir)
            }
            Location::Git { url, subdir } => (Location::Git { url, subdir: None }, subdir),
        };
        let parent = env.work_dir.join("source");
        std::fs::create_dir_all(&parent).context(|| format!("Creating {} failed", parent.display()))?;
        let clone = env.sources.fetch(&whole_repo, &data.git_ref, &parent, env.log()).await.map_err(|e| {
            Failure(format!("Could not fetch the source of {}: {}", data.name, crate::sentence(e)))
        })?;
        let package = match subdir.as_deref() {
            None => clone.clone(),
            Some(sub) => {
                let bad = sub.starts_with('/') || sub.split('/').any(|s| s == "..");
                let dir = clone.join(sub);
                let inside = dir
                    .canonicalize()
                    .ok()
                    .zip(clone.canonicalize().ok())
                    .is_some_and(|(d, c)| d.starts_with(c) && d.is_dir());
                if bad || !inside {
                    return Err(Failure(format!(
                        "The location's subdir '{sub}' is not a directory inside the repository at ref '{}'; fix \
                         the subdir (with a transfer) or the repository.",
                        data.git_ref
                    )));
                }
                dir
            }
        };
        let secured = {
            let package = package.clone();
            blocking(move || secure_package(&package, &registry_tarball::Limits::default())).await??
        };
        report(env, &secured);
        Ok(Dirs {
            outside_links: secured.outside,
            package,
            clone,
            deps: env.work_dir.join(".registry"),
            packaging: env.work_dir.join(format!("{}-{}", data.name, data.version)),
        })
    }
}

/// Tells the job log what [`secure_package`] removed, so nothing is dropped silently.
fn report(env: &JobEnv, secured: &Secured) {
    let log = env.log();
    let licences: Vec<String> = secured
        .outside
        .iter()
        .filter(|p| {
            let upper = p.to_uppercase();
            upper.starts_with("LICENSE") || upper.starts_with("LICENCE")
        })
        .cloned()
        .collect();
    if !licences.is_empty() {
        log.notice(&format!(
            "{} leads outside the package directory, so it was ignored: it is not checked against the \
             manifest's licence and not packaged. Commit the licence text itself instead of a link.",
            some_paths(&licences, 5)
        ));
    }
    if !secured.outside.is_empty() {
        log.warn(&format!(
            "These links lead outside the package directory (or nowhere) and were ignored: the registry does not \
             read them and does not package them: {}",
            some_paths(&secured.outside, 20)
        ));
    }
    if !secured.directory_links.is_empty() {
        log.warn(&format!(
            "These links point to directories, which the registry does not follow, so they were ignored and are \
             not packaged (commit the directory itself instead): {}",
            some_paths(&secured.directory_links, 20)
        ));
    }
    if !secured.copied.is_empty() {
        log.debug(&format!(
            "These links are read and packaged as copies of the package files they point to: {}",
            some_paths(&secured.copied, 20)
        ));
    }
}
