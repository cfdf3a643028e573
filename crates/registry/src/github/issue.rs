//! `registry github-issue`: upstream's GitHub-issue bridge (`App.GitHubIssue`), run by
//! a GitHub Actions workflow on `issues` and `issue_comment` events. The operation is
//! the JSON object of the issue body or comment; a trustee's authenticated or
//! package-set request is re-signed with pacchettibotti's key; the request goes to the
//! registry API; the job's id, its NOTICE logs and its outcome become comments, and
//! the issue is closed when the job succeeds.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use registry_core::Timestamp;
use registry_core::job::LogLevel;
use registry_core::json::Codec;
use registry_core::operation::{
    AuthenticatedData, AuthenticatedOperation, IssueDecoding, IssueOperation, PackageOperation,
    PackageSetUpdateRequest, read_issue_event,
};
use registry_github::{Address, GitHub};

use super::registry_api::{RegistryApi, check_key_pair, private_key, sign};

/// GitHub refuses comments longer than 65536 characters; logs are split below that.
const MAX_COMMENT_CHARS: usize = 60_000;
const MAX_EVENT_BYTES: u64 = 16 << 20;
/// Polling gives up after this many failed polls in a row (upstream's figure).
const MAX_CONSECUTIVE_ERRORS: u32 = 5;
/// Events from the registry's own account are skipped, so its comments never loop.
const PACCHETTIBOTTI: &str = "pacchettibotti";

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Run by a GitHub Actions workflow on `issues: [opened]` and `issue_comment: [created]`, e.g. \
`run: registry github-issue` with GITHUB_TOKEN, REGISTRY_API_URL and PACCHETTIBOTTI_ED25519 \
from the repository's secrets (Actions sets GITHUB_EVENT_PATH, GITHUB_API_URL and \
GITHUB_REPOSITORY). An issue without JSON is left alone (exit 0); malformed JSON, a refused \
request or a failed job gets a comment saying why and exit 1.")]
pub struct IssueArgs {
    /// The event JSON GitHub Actions wrote.
    #[arg(long, env = "GITHUB_EVENT_PATH")]
    pub event_path: PathBuf,
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api_url: String,
    /// Token allowed to comment on and close the repository's issues and to list the trustees' team.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub github_token: String,
    /// The repository whose issues these are (`owner/repo`).
    #[arg(long, env = "GITHUB_REPOSITORY", default_value = "purescript/registry")]
    pub repository: String,
    /// The registry API (routes under `<url>/v1/`).
    #[arg(long, env = "REGISTRY_API_URL", default_value = "https://registry.purescript.org/api")]
    pub registry_api_url: String,
    /// pacchettibotti's private key (OpenSSH file, or base64 of it): signs trustees' requests.
    #[arg(long, env = "PACCHETTIBOTTI_ED25519", hide_env_values = true)]
    pub pacchettibotti_private_key: String,
    /// pacchettibotti's public key, as the registry has it: when set, the private key is checked against it.
    #[arg(long, env = "PACCHETTIBOTTI_ED25519_PUB", hide_env_values = true)]
    pub pacchettibotti_public_key: Option<String>,
    /// The GitHub team whose members are trustees (`org/team`).
    #[arg(long, env = "REGISTRY_TRUSTEES_TEAM", default_value = "purescript/packaging")]
    pub trustees_team: String,
    /// Where a job's page is linked from comments (`<url>/#/jobs/<id>`).
    #[arg(long, env = "REGISTRY_DASHBOARD_URL", default_value = "https://www.purescript.org/registry-dev")]
    pub dashboard_url: String,
    #[arg(long, value_parser = parse_millis, default_value = "5000", value_name = "MS")]
    pub poll_interval_ms: Duration,
    /// Polls before the job counts as timed out (360 × 5 s = 30 minutes, as upstream).
    #[arg(long, default_value_t = 360)]
    pub max_polls: u32,
}

fn parse_millis(text: &str) -> Result<Duration, String> {
    text.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("`{text}` is not a number of milliseconds"))
}

/// Where comments go, and what the event asked for.
struct Issue<'a> {
    github: &'a GitHub,
    repo: Address,
    number: u64,
}

impl Issue<'_> {
    async fn comment(&self, body: &str) -> anyhow::Result<()> {
        self.github
            .create_comment(&self.repo, self.number, body)
            .await
            .with_context(|| format!("commenting on issue #{}", self.number))
    }
}

pub fn run(args: &IssueArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(bridge(args))
}

async fn bridge(args: &IssueArgs) -> anyhow::Result<ExitCode> {
    let repo = Address::parse(&args.repository).context("GITHUB_REPOSITORY")?;
    let (org, team) = args
        .trustees_team
        .split_once('/')
        .context("REGISTRY_TRUSTEES_TEAM must be `org/team`, e.g. purescript/packaging")?;
    let github = GitHub::new(&args.github_api_url, Some(&args.github_token)).context("GITHUB_API_URL")?;
    let api = RegistryApi::new(&args.registry_api_url)?;
    let key = private_key(&args.pacchettibotti_private_key)?;
    if let Some(public) = args.pacchettibotti_public_key.as_deref().filter(|p| !p.trim().is_empty()) {
        check_key_pair(&key, public)?;
    }

    // GitHub caps issue and comment bodies at 65536 characters; an event file far
    // larger than that is not one Actions wrote.
    let size = std::fs::metadata(&args.event_path)
        .with_context(|| format!("reading the event file {} (GITHUB_EVENT_PATH)", args.event_path.display()))?
        .len();
    if size > MAX_EVENT_BYTES {
        anyhow::bail!(
            "the event file {} (GITHUB_EVENT_PATH) is {size} bytes, more than the {MAX_EVENT_BYTES} an issue event can be",
            args.event_path.display()
        );
    }
    let text = std::fs::read_to_string(&args.event_path).with_context(|| {
        format!("reading the event file {} (GITHUB_EVENT_PATH)", args.event_path.display())
    })?;
    let event: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("Error while parsing json from {}", args.event_path.display()))?;
    let decoded = read_issue_event(&event)
        .map_err(|e| anyhow::anyhow!("Error while parsing json from {}: {e}", args.event_path.display()))?;

    let (number, username, operation) = match decoded {
        IssueDecoding::NotJson => {
            println!("Not JSON: no registry operation in this issue or comment; nothing to do.");
            return Ok(ExitCode::SUCCESS);
        }
        IssueDecoding::Malformed { username, .. } | IssueDecoding::Decoded { username, .. }
            if username == PACCHETTIBOTTI =>
        {
            println!("Skipping an event from {PACCHETTIBOTTI} to avoid feedback loops.");
            return Ok(ExitCode::SUCCESS);
        }
        IssueDecoding::Malformed { issue, error, .. } => {
            let issue = Issue { github: &github, repo, number: issue };
            issue
                .comment(&format!(
                    "The JSON input for this package update is malformed:\n```\n{error}\n```\nYou can try again by \
                     commenting on this issue with a corrected payload."
                ))
                .await?;
            eprintln!("error: malformed operation in issue #{}: {error}", issue.number);
            return Ok(ExitCode::FAILURE);
        }
        IssueDecoding::Decoded { issue, username, operation } => (issue, username, operation),
    };
    let issue = Issue { github: &github, repo, number };
    match handle(&issue, &api, &key, (org, team), &username, operation, args).await {
        Ok(true) => Ok(ExitCode::SUCCESS),
        Ok(false) => Ok(ExitCode::FAILURE),
        Err(error) => {
            issue.comment(&format!("❌ {error:#}")).await?;
            eprintln!("error: {error:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Submits the operation and follows its job; `Ok(false)` when the job did not succeed.
async fn handle(
    issue: &Issue<'_>,
    api: &RegistryApi,
    key: &str,
    team: (&str, &str),
    username: &str,
    operation: IssueOperation,
    args: &IssueArgs,
) -> anyhow::Result<bool> {
    let (endpoint, body) = match operation {
        IssueOperation::PackageSet(update) => {
            let raw_payload = update.to_compact();
            let signature = if is_trustee(issue.github, team, username).await {
                println!(
                    "Package set update submitted by a registry trustee, signing with pacchettibotti keys."
                );
                Some(
                    sign(key, &raw_payload)
                        .context("Error signing package set update. cc: @purescript/packaging")?,
                )
            } else {
                println!("Package set update not submitted by a registry trustee, sending unsigned request.");
                None
            };
            ("/v1/package-sets", PackageSetUpdateRequest { update, raw_payload, signature }.to_compact())
        }
        IssueOperation::Package(PackageOperation::Publish(publish)) => ("/v1/publish", publish.to_compact()),
        IssueOperation::Package(PackageOperation::Authenticated(auth)) => {
            let signature = if is_trustee(issue.github, team, username).await {
                println!(
                    "Authenticated payload submitted by a registry trustee, re-signing with pacchettibotti keys."
                );
                sign(key, &auth.raw_payload).context("Error signing transfer. cc: @purescript/packaging")?
            } else {
                println!(
                    "Authenticated payload not submitted by a registry trustee, continuing with original signature."
                );
                auth.signature.clone()
            };
            let endpoint = match auth.operation {
                AuthenticatedOperation::Unpublish(_) => "/v1/unpublish",
                AuthenticatedOperation::Transfer(_) => "/v1/transfer",
            };
            (endpoint, AuthenticatedData { signature, ..auth }.to_compact())
        }
    };
    let submitted = api.submit(endpoint, body).await.context("Failed to submit job")?;
    let link = format!("{}/#/jobs/{}", args.dashboard_url.trim_end_matches('/'), submitted.job_id);
    if submitted.duplicate {
        issue.comment(&format!("Duplicate job: `{}`\nLogs: {link}", submitted.job_id)).await?;
        return Ok(true);
    }
    issue.comment(&format!("Job started: `{}`\nLogs: {link}", submitted.job_id)).await?;
    poll(issue, api, &submitted.job_id, args).await
}

/// Upstream lists `@purescript/packaging`; a failure to list it is a warning and the
/// requester is then treated as no trustee.
async fn is_trustee(github: &GitHub, (org, team): (&str, &str), username: &str) -> bool {
    match github.team_members(org, team).await {
        Ok(members) => members.iter().any(|m| m == username),
        Err(error) => {
            eprintln!(
                "WARN: Unable to fetch members of {org}/{team}, not treating {username} as a trustee: {error}"
            );
            false
        }
    }
}

/// Posts the job's new NOTICE and ERROR lines as comments until it finishes; closes
/// the issue when it succeeded.
async fn poll(issue: &Issue<'_>, api: &RegistryApi, job_id: &str, args: &IssueArgs) -> anyhow::Result<bool> {
    let mut last: Option<Timestamp> = None;
    let mut errors = 0;
    for _ in 0..args.max_polls {
        tokio::time::sleep(args.poll_interval_ms).await;
        let job = match api.job(job_id, last).await {
            Ok(job) => job,
            Err(error) => {
                eprintln!("Error polling job: {error:#}");
                errors += 1;
                if errors >= MAX_CONSECUTIVE_ERRORS {
                    issue
                        .comment(&format!(
                            "❌ Failed to poll job status after {MAX_CONSECUTIVE_ERRORS} consecutive errors"
                        ))
                        .await?;
                    return Ok(false);
                }
                continue;
            }
        };
        errors = 0;
        let new: Vec<String> = job
            .logs
            .iter()
            .filter(|l| l.level >= LogLevel::Notice && last.is_none_or(|t| l.timestamp > t))
            .map(|l| format!("[{}] {}", l.level.as_str(), l.message))
            .collect();
        if let Some(newest) =
            job.logs.iter().filter(|l| l.level >= LogLevel::Notice).map(|l| l.timestamp).max()
        {
            last = Some(last.map_or(newest, |t| t.max(newest)));
        }
        for batch in batches(&new) {
            issue.comment(&format!("```\n{batch}\n```")).await?;
        }
        if job.info.finished_at.is_some() {
            let success = job.info.success;
            issue.comment(if success { "✅ Job completed successfully" } else { "❌ Job failed" }).await?;
            if success {
                issue.github.close_issue(&issue.repo, issue.number).await.context("closing the issue")?;
            }
            return Ok(success);
        }
    }
    issue.comment("⏱️ Job timed out").await?;
    Ok(false)
}

/// Log lines joined into comments under GitHub's size limit (a longer line is cut).
fn batches(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in lines {
        let line: String = line.chars().take(MAX_COMMENT_CHARS - 100).collect();
        if !current.is_empty() && current.chars().count() + line.chars().count() + 1 > MAX_COMMENT_CHARS - 100
        {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_logs_are_split_under_the_comment_limit() {
        let lines: Vec<String> = (0..3000).map(|i| format!("{i:040}")).collect();
        let batches = super::batches(&lines);
        assert!(batches.len() > 1);
        assert!(batches.iter().all(|b| b.chars().count() < super::MAX_COMMENT_CHARS));
        assert_eq!(batches.join("\n"), lines.join("\n"));
    }
}
