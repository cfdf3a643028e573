//! `registry transfer-renamed`: upstream's `PackageTransferrer`. A package whose
//! GitHub repository now answers under another owner or name (GitHub redirects the
//! old one) gets a transfer request to the new location, `subdir` kept, signed with
//! pacchettibotti's key — unless another package already uses that location.
//!
//! Upstream reads the new name from the first tag's API URL (and lower-cases the
//! repository name); this asks GitHub for the repository itself and keeps the names
//! as GitHub spells them. Both compare case-insensitively, so only real moves count.

use std::process::ExitCode;

use anyhow::{Context, bail};
use registry_core::json::Codec;
use registry_core::operation::{AuthenticatedData, AuthenticatedOperation, TransferData};
use registry_core::{Location, Metadata, PackageName};
use registry_github::{Address, GitHub};
use registry_settings::Settings;

use super::registry_api::{RegistryApi, check_key_pair, private_key, sign};

const CHECKOUTS: &str = "transfer-renamed";

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads the metadata from the data directory's registry repository (its own working copy in \
scratch/transfer-renamed) and looks every GitHub-located package's repository up on GitHub \
(GITHUB_API_URL, GITHUB_TOKEN). `--submit` needs PACCHETTIBOTTI_ED25519. A weekly cron line: \
`0 4 * * 1 registry transfer-renamed --submit --data-dir /var/lib/registry`. Exits 1 if a \
request could not be submitted.")]
pub struct TransferRenamedArgs {
    #[command(flatten)]
    pub mode: super::daily_import::Mode,
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api_url: String,
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub github_token: String,
    /// The registry API (routes under `<url>/v1/`).
    #[arg(long, env = "REGISTRY_API_URL", default_value = "https://registry.purescript.org/api")]
    pub registry_api_url: String,
    /// pacchettibotti's private key (OpenSSH file, or base64 of it); only `--submit` needs it.
    #[arg(long, env = "PACCHETTIBOTTI_ED25519", hide_env_values = true)]
    pub pacchettibotti_private_key: Option<String>,
    #[command(flatten)]
    pub settings: Settings,
}

pub fn run(args: &TransferRenamedArgs) -> anyhow::Result<ExitCode> {
    let github = GitHub::new(&args.github_api_url, Some(&args.github_token)).context("GITHUB_API_URL")?;
    let submit = if args.mode.submit {
        let Some(key) = args.pacchettibotti_private_key.as_deref().filter(|k| !k.trim().is_empty()) else {
            bail!(
                "PACCHETTIBOTTI_ED25519 is required with --submit: transfers are signed with pacchettibotti's key"
            );
        };
        let key = private_key(key)?;
        if let Some(public) =
            args.settings.pacchettibotti_public_key.as_deref().filter(|p| !p.trim().is_empty())
        {
            check_key_pair(&key, public)?;
        }
        Some((RegistryApi::new(&args.registry_api_url)?, key))
    } else {
        None
    };
    let (runtime, metadata) = super::registry_metadata(&args.settings, CHECKOUTS)?;
    runtime.block_on(async {
        let mut moves = Vec::new();
        for (name, meta) in &metadata {
            if let Some(location) = moved(&github, name, meta).await {
                if metadata.values().any(|m| m.location == location) {
                    eprintln!(
                        "Skipping transfer for {name} because location {} is already registered.",
                        show(&location)
                    );
                } else {
                    moves.push((name.clone(), location));
                }
            }
        }
        if moves.is_empty() {
            println!("No packages require transferring.");
            return Ok(ExitCode::SUCCESS);
        }
        println!("{} packages need transferring", moves.len());
        let mut failed = 0;
        for (name, new_location) in moves {
            let Some((api, key)) = &submit else {
                println!("[DRY RUN] Would submit transfer job for {name} to {}", show(&new_location));
                continue;
            };
            let payload = TransferData { name: name.clone(), new_location };
            let raw_payload = payload.to_compact();
            let result = async {
                let signature =
                    sign(key, &raw_payload).with_context(|| format!("Error signing transfer for {name}"))?;
                let request = AuthenticatedData {
                    operation: AuthenticatedOperation::Transfer(payload),
                    raw_payload: raw_payload.clone(),
                    signature,
                };
                api.submit("/v1/transfer", request.to_compact()).await
            }
            .await;
            match result {
                Ok(job) => println!("Submitted transfer job {} for {name}", job.job_id),
                Err(error) => {
                    eprintln!("error: Failed to submit transfer job for {name}: {error:#}");
                    failed += 1;
                }
            }
        }
        Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}

/// The package's new location if its repository moved; GitHub errors skip it.
async fn moved(github: &GitHub, name: &PackageName, meta: &Metadata) -> Option<Location> {
    let Location::GitHub { owner, repo, subdir } = &meta.location else { return None };
    let now = match github.repository(&Address::new(owner, repo)).await {
        Ok(now) => now,
        Err(error) => {
            eprintln!("Could not look up {name}'s repository {owner}/{repo}: {error}");
            return None;
        }
    };
    let same = now.owner.eq_ignore_ascii_case(owner) && now.name.eq_ignore_ascii_case(repo);
    (!same).then(|| Location::GitHub { owner: now.owner, repo: now.name, subdir: subdir.clone() })
}

fn show(location: &Location) -> String {
    match location {
        Location::GitHub { owner, repo, .. } => format!("{owner}/{repo}"),
        Location::Git { url, .. } => url.clone(),
    }
}
