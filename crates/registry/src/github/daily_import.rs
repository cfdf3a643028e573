//! `registry import daily`: upstream's `DailyImporter`. For every package whose
//! metadata points at GitHub, the commits of the last 24 hours are listed; a tag that
//! parses as a (lenient) version, points at one of them and is neither published nor
//! unpublished becomes a publish request without compiler, location or resolutions
//! (the registry picks the compiler, as upstream's does), at most one per version.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use anyhow::Context;
use registry_core::json::Codec;
use registry_core::legacy::lenient::LenientVersion;
use registry_core::operation::PublishData;
use registry_core::{Location, Metadata, PackageName, Timestamp, Version};
use registry_github::{Address, GitHub, Tag};
use registry_settings::{Settings, now};

use super::registry_api::RegistryApi;

/// This command's own git working copies, under the data directory's scratch folder.
const CHECKOUTS: &str = "import-daily";
const WINDOW_MS: i64 = 24 * 3_600_000;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads the metadata from the data directory's registry repository (its own working copy in \
scratch/import-daily) and asks GitHub (GITHUB_API_URL, GITHUB_TOKEN) for each GitHub-located \
package's commits of the last 24 hours and its tags. A daily cron line: \
`0 3 * * * registry import daily --submit --data-dir /var/lib/registry`. Exits 1 if a \
request could not be submitted.")]
pub struct ImportDailyArgs {
    #[command(flatten)]
    pub mode: Mode,
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api_url: String,
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub github_token: String,
    /// The registry API (routes under `<url>/v1/`).
    #[arg(long, env = "REGISTRY_API_URL", default_value = "https://registry.purescript.org/api")]
    pub registry_api_url: String,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Mode {
    /// Log what would be submitted without calling the API.
    #[arg(long)]
    pub dry_run: bool,
    /// Submit publish jobs to the registry API.
    #[arg(long)]
    pub submit: bool,
}

pub fn run(args: &ImportDailyArgs) -> anyhow::Result<ExitCode> {
    let github = GitHub::new(&args.github_api_url, Some(&args.github_token)).context("GITHUB_API_URL")?;
    let api = if args.mode.submit { Some(RegistryApi::new(&args.registry_api_url)?) } else { None };
    let (runtime, metadata) = super::registry_metadata(&args.settings, CHECKOUTS)?;
    runtime.block_on(async {
        let since = Timestamp::from_unix_millis(now().unix_millis() - WINDOW_MS);
        println!("Checking {} packages for commits in the last 24 hours...", metadata.len());
        let (mut submitted, mut failed) = (0, 0);
        for (name, meta) in &metadata {
            for (version, git_ref) in new_versions(&github, name, meta, since).await {
                let id = format!("{name}@{version}");
                let Some(api) = &api else {
                    println!("[DRY RUN] Would submit publish job for {id}");
                    submitted += 1;
                    continue;
                };
                let request = PublishData {
                    name: name.clone(),
                    location: None,
                    git_ref,
                    version,
                    compiler: None,
                    resolutions: None,
                };
                match api.submit("/v1/publish", request.to_compact()).await {
                    Ok(job) if job.duplicate => {
                        println!("Publish job {} for {id} was already queued", job.job_id)
                    }
                    Ok(job) => {
                        println!("Submitted publish job {} for {id}", job.job_id);
                        submitted += 1;
                    }
                    Err(error) => {
                        eprintln!("error: Failed to submit publish job for {id}: {error:#}");
                        failed += 1;
                    }
                }
            }
        }
        println!("Daily Importer complete. Submitted {submitted} publish jobs.");
        Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}

/// The versions to publish for one package; GitHub errors skip the package, as upstream.
async fn new_versions(
    github: &GitHub,
    name: &PackageName,
    meta: &Metadata,
    since: Timestamp,
) -> Vec<(Version, String)> {
    let Location::GitHub { owner, repo, .. } = &meta.location else { return Vec::new() };
    let address = Address::new(owner, repo);
    let recent: BTreeSet<String> = match github.commits_since(&address, since).await {
        Ok(shas) => shas.into_iter().collect(),
        Err(error) => {
            eprintln!("Failed to fetch commits for {name}: {error}");
            return Vec::new();
        }
    };
    if recent.is_empty() {
        return Vec::new();
    }
    match github.tags(&address).await {
        Ok(tags) => pick(&tags, &recent, meta),
        Err(error) => {
            eprintln!("Failed to fetch tags for {name}: {error}");
            Vec::new()
        }
    }
}

/// Version tags on recent commits, not published or unpublished, one per version
/// (`v1.0.0` and `1.0.0` are one version): `v<version>` if there is one, else the
/// first listed. Upstream submits each tag, so the second job of a version fails.
fn pick(tags: &[Tag], recent: &BTreeSet<String>, meta: &Metadata) -> Vec<(Version, String)> {
    let mut found: BTreeMap<Version, String> = BTreeMap::new();
    for tag in tags {
        let Ok(parsed) = LenientVersion::parse(&tag.name) else { continue };
        let version = parsed.version();
        if recent.contains(&tag.sha)
            && !meta.published.contains_key(&version)
            && !meta.unpublished.contains_key(&version)
        {
            let canonical = tag.name == format!("v{version}");
            match found.get(&version) {
                Some(_) if !canonical => {}
                _ => {
                    found.insert(version, tag.name.clone());
                }
            }
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_version_tags_on_recent_commits_are_picked_once_each() {
        let meta = Metadata::from_json_str(
            r#"{"location":{"githubOwner":"o","githubRepo":"r"},"published":{"1.0.0":{"bytes":1,"compilers":["0.15.15"],"hash":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","publishedTime":"2026-01-01T00:00:00.000Z","ref":"v1.0.0"}},"unpublished":{"1.0.1":{"publishedTime":"2026-01-01T00:00:00.000Z","reason":"Committed credentials.","unpublishedTime":"2026-01-02T00:00:00.000Z"}}}"#,
        )
        .unwrap();
        let tag = |name: &str, sha: &str| Tag { name: name.into(), sha: sha.into(), url: String::new() };
        let tags = [
            tag("v1.0.0", "new"), // published
            tag("v1.0.1", "new"), // unpublished
            tag("latest", "new"), // no version
            tag("1.2.0", "new"),  // same version as the next, listed first
            tag("v1.2.0", "new"), // preferred
            tag("v1.3.0", "old"), // not a recent commit
            tag("1.4.0", "new"),  // the only tag of its version
        ];
        let recent: BTreeSet<String> = ["new".to_owned()].into();
        let picked: Vec<(String, String)> =
            pick(&tags, &recent, &meta).into_iter().map(|(v, r)| (v.to_string(), r)).collect();
        assert_eq!(
            picked,
            [("1.2.0".to_owned(), "v1.2.0".to_owned()), ("1.4.0".to_owned(), "1.4.0".to_owned())]
        );
    }
}
