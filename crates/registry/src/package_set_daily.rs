//! `registry package-set daily`: upstream's automatic daily package set
//! (`PackageSetUpdater`). The versions published in the last 24 hours that would move
//! the latest set forward, pre-validated as a package-set job validates its request,
//! are submitted to a running registry as one unsigned add/upgrade request, which the
//! server then builds like any other package-set job.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use anyhow::{Context, bail};
use registry_core::job::JobCreated;
use registry_core::json::Codec;
use registry_core::operation::{PackageSetUpdateData, PackageSetUpdateRequest};
use registry_core::package_set_rules::daily::DAILY_WINDOW_HOURS;
use registry_core::package_set_rules::{
    daily_candidates, format_package_version, print_rejections, validate_candidates, validate_package_set,
};
use registry_core::{PackageName, PackageSet, Timestamp, Version};
use registry_jobs::Failure;
use registry_jobs::package_set::PackageSetUpdater;
use registry_jobs::registry::all_metadata;
use registry_settings::now;
use registry_settings::wiring as app;
use registry_settings::{Adapters, Settings};

/// This command's own git working copies, under the data directory's scratch folder.
const CHECKOUTS: &str = "package-set-daily";

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads the latest package set, the metadata and the manifest index from the data \
directory's repositories (through working copies of its own in scratch/package-set-daily). \
For each package, the highest version published in the last 24 hours is a candidate when \
the package is new to the set or that version is higher than the set's; candidates are \
validated as a package-set job validates its request, and the accepted ones are submitted \
as one request, without a signature (additions and upgrades need none). Nothing to \
submit: says so and exits 0 without a request.")]
pub struct DailyArgs {
    #[command(flatten)]
    pub mode: Mode,

    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Mode {
    /// POST the request to the registry at this address (e.g. http://127.0.0.1:8080).
    #[arg(long, value_name = "URL")]
    pub submit: Option<String>,

    /// Print the candidates only.
    #[arg(long)]
    pub dry_run: bool,
}

/// What the daily run found, before submitting.
struct Plan {
    latest: PackageSet,
    accepted: BTreeMap<PackageName, Version>,
    report: String,
}

pub fn run(args: &DailyArgs) -> anyhow::Result<ExitCode> {
    let settings = &args.settings;
    let adapters = app::build_command_adapters(settings, CHECKOUTS)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let plan = runtime.block_on(plan(&adapters, now()))?;
    print!("{}", plan.report);
    if plan.accepted.is_empty() {
        println!("No eligible additions, updates, or removals to produce a new package set.");
        return Ok(ExitCode::SUCCESS);
    }
    let payload = PackageSetUpdateData {
        compiler: None,
        packages: plan.accepted.iter().map(|(n, v)| (n.clone(), Some(*v))).collect(),
    };
    let Some(url) = &args.mode.submit else {
        println!("Dry run: nothing submitted (from package set {}).", plan.latest.version);
        return Ok(ExitCode::SUCCESS);
    };
    let submitted = runtime.block_on(submit(url, &payload))?;
    if submitted.duplicate {
        println!("The same request is already queued as package-set job {}.", submitted.job_id);
    } else {
        println!("Submitted package-set job {}.", submitted.job_id);
    }
    Ok(ExitCode::SUCCESS)
}

async fn plan(adapters: &Adapters, now: Timestamp) -> anyhow::Result<Plan> {
    let fail = |e: Failure| anyhow::anyhow!(e.0);
    adapters.registry.refresh().await.context("updating the registry repository's working copy")?;
    adapters.index.refresh().await.context("updating the index repository's working copy")?;
    let latest = PackageSetUpdater::latest_set(adapters.registry.as_ref()).await.map_err(fail)?;
    let metadata = all_metadata(adapters.registry.as_ref()).await.map_err(fail)?;
    let daily = daily_candidates(&latest, &metadata, now);

    let names: BTreeSet<PackageName> =
        latest.packages.keys().chain(daily.candidates.keys()).cloned().collect();
    let index = PackageSetUpdater::load_index(adapters.index.as_ref(), names).await.map_err(fail)?;
    validate_package_set(&latest, &index)
        .map_err(|e| anyhow::anyhow!("The latest package set {} is not valid: {e}", latest.version))?;
    let requested = daily.candidates.iter().map(|(n, v)| (n.clone(), Some(*v))).collect();
    let validated = validate_candidates(&index, &latest, &requested);

    let mut report = format!("Latest package set: {} (compiler {})\n", latest.version, latest.compiler);
    let listed = |title: &str, lines: Vec<String>| -> String {
        if lines.is_empty() { String::new() } else { format!("{title}\n{}\n", lines.join("\n")) }
    };
    report.push_str(&listed(
        &format!("Published in the last {DAILY_WINDOW_HOURS} hours but not higher than the set's version:"),
        daily
            .not_newer
            .iter()
            .map(|(n, (recent, in_set))| {
                format!("  - {}: the set has {in_set}", format_package_version(n, *recent))
            })
            .collect(),
    ));
    report.push_str(&listed(
        "Passed over for a higher version published meanwhile:",
        daily
            .superseded
            .iter()
            .flat_map(|(n, versions)| {
                versions.iter().map(move |v| format!("  - {}", format_package_version(n, *v)))
            })
            .collect(),
    ));
    if !validated.rejected.is_empty() {
        report.push_str(&format!(
            "Some packages uploaded in the last {DAILY_WINDOW_HOURS} hours are not eligible for the automated package sets.\n{}\n",
            print_rejections(&validated.rejected)
        ));
    }
    // Removals are never requested, so every accepted change is an update.
    let accepted: BTreeMap<PackageName, Version> =
        validated.accepted.iter().filter_map(|(n, v)| v.map(|v| (n.clone(), v))).collect();
    report.push_str(&listed(
        "Found package versions eligible for inclusion in package set:",
        accepted.iter().map(|(n, v)| format!("  - {}", format_package_version(n, *v))).collect(),
    ));
    Ok(Plan { latest, accepted, report })
}

struct Submitted {
    job_id: String,
    duplicate: bool,
}

/// `POST <url>/api/v1/package-sets` with `{"payload": "<request JSON>"}`, unsigned.
async fn submit(url: &str, payload: &PackageSetUpdateData) -> anyhow::Result<Submitted> {
    let endpoint = format!("{}/api/v1/package-sets", url.trim_end_matches('/'));
    let request = PackageSetUpdateRequest {
        update: payload.clone(),
        raw_payload: payload.to_compact(),
        signature: None,
    };
    let body = request.to_compact();
    registry_adapters::install_tls_provider();
    let response = reqwest::Client::new()
        .post(&endpoint)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .with_context(|| format!("sending the package-set request to {endpoint}"))?;
    let status = response.status();
    let duplicate = response.headers().get("registry-duplicate-job").is_some_and(|v| v == "true");
    let text = response.text().await.with_context(|| format!("reading the answer of {endpoint}"))?;
    let answer: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    if !status.is_success() {
        let reason =
            answer.as_ref().and_then(|a| a.get("error")).and_then(|e| e.as_str()).map_or(text.trim(), |e| e);
        bail!("the registry at {endpoint} refused the request ({status}): {reason}");
    }
    let created = JobCreated::from_json_str(&text).map_err(|_| {
        anyhow::anyhow!("the registry at {endpoint} answered {status} without a job id: {text}")
    })?;
    Ok(Submitted { job_id: created.job_id, duplicate })
}
