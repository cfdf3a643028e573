//! Fetching the source at the requested ref, and where the job keeps its files.

use registry_core::Location;
use registry_core::operation::PublishData;

use super::{Dirs, Publisher};
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
        let clone = env
            .sources
            .fetch(&whole_repo, &data.git_ref, &parent, env.log())
            .await
            .map_err(|e| Failure(format!("Could not fetch the source of {}: {e}.", data.name)))?;
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
        Ok(Dirs {
            package,
            clone,
            deps: env.work_dir.join(".registry"),
            packaging: env.work_dir.join(format!("{}-{}", data.name, data.version)),
        })
    }
}
