//! `registry verify-integrity`: checks a live registry — its repositories, tarball
//! storage and job database, as `registry serve` is configured to use them — against
//! each other, as upstream's VerifyIntegrity script does (and more: package sets and
//! jobs). Every problem is one line saying what is wrong and what to do about it.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use registry_adapters::Storage;
use registry_core::job::{JobDetails, JobType};
use registry_core::json::{Codec, parse};
use registry_core::manifest_index::{entry_path, parse_entry};
use registry_core::sha256::Sha256;
use registry_core::{Metadata, PackageName, PackageSet, Timestamp, Version};
use registry_queue::{JobStore, JobsQuery, Order, PAGE_SIZE, SqliteStore};
use registry_settings::Settings;
use registry_settings::adapters::Adapters;
use registry_settings::wiring as app;

/// This command's own git working copies, under the data directory's scratch folder.
const CHECKOUTS: &str = "verify-integrity";

/// How many tarballs are read and hashed at once (S3 round trips overlap).
const PARALLEL_READS: usize = 16;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Checks, and exits 1 on any problem: every published version has its tarball in storage \
with the size and hash in its metadata; every published version has an index line and \
every index line published metadata; unpublished versions are in neither the index nor \
storage; every tarball in storage belongs to a published version; every package set names \
published versions; every successful publish job's version is published (or was \
unpublished later); and every version published since the job database's first job has \
a successful publish job. Versions published before the first recorded job (a seeded \
registry's, or from before the registry recorded jobs) are counted but not held to \
that last rule: nothing recorded them.")]
pub struct VerifyIntegrityArgs {
    /// The server's settings, so the check sees the same repositories, storage and
    /// job database; the listening address, job timeouts and job commands are unused.
    #[command(flatten, next_help_heading = "Registry settings (as for `registry serve`)")]
    pub settings: Settings,
}

/// What was checked and what is wrong.
#[derive(Debug, Default)]
pub struct Report {
    pub counts: Vec<(&'static str, usize)>,
    pub notes: Vec<String>,
    pub problems: Vec<String>,
}

impl Report {
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (what, count) in &self.counts {
            out.push_str(&format!("checked {count} {what}\n"));
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        for problem in &self.problems {
            out.push_str(&format!("PROBLEM: {problem}\n"));
        }
        if self.problems.is_empty() {
            out.push_str("verify-integrity: no problems\n");
        } else {
            out.push_str(&format!("verify-integrity: {} problem(s)\n", self.problems.len()));
        }
        out
    }
}

pub fn run(args: &VerifyIntegrityArgs) -> anyhow::Result<ExitCode> {
    let settings = &args.settings;
    let adapters = app::build_command_adapters(settings, CHECKOUTS)?;
    let db = settings.layout().database();
    let store =
        SqliteStore::open(&db).with_context(|| format!("opening the job database {}", db.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let started = std::time::Instant::now();
    let report = runtime.block_on(check(&adapters, &store))?;
    print!("{}", report.text());
    eprintln!("verify-integrity took {:.3} s", started.elapsed().as_secs_f64());
    Ok(if report.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs every check. Errors are failures to read at all (a repository or storage that
/// cannot be reached); anything read that is wrong is a problem in the report.
pub async fn check(adapters: &Adapters, store: &dyn JobStore) -> anyhow::Result<Report> {
    let mut report = Report::default();
    adapters.registry.refresh().await.context("updating the registry repository's working copy")?;
    adapters.index.refresh().await.context("updating the registry-index repository's working copy")?;

    let metadata = read_metadata(adapters, &mut report).await?;
    let index = read_index(adapters, &mut report).await?;
    report.counts.push(("metadata files", metadata.len()));
    report.counts.push(("published versions", metadata.values().map(|m| m.published.len()).sum()));
    report.counts.push(("unpublished versions", metadata.values().map(|m| m.unpublished.len()).sum()));
    report.counts.push(("index lines", index.values().map(BTreeSet::len).sum()));

    index_against_metadata(&metadata, &index, &mut report);
    let names: BTreeSet<PackageName> = metadata.keys().chain(index.keys()).cloned().collect();
    storage_against_metadata(adapters.storage.clone(), &metadata, &names, &mut report).await?;
    package_sets_against_metadata(adapters, &metadata, &mut report).await?;
    jobs_against_metadata(store, &metadata, &mut report).await?;
    Ok(report)
}

async fn read_metadata(
    adapters: &Adapters,
    report: &mut Report,
) -> anyhow::Result<BTreeMap<PackageName, Metadata>> {
    let registry = adapters.registry.as_ref();
    let mut all = BTreeMap::new();
    for file in registry.list("metadata").await.context("listing the registry's metadata")? {
        let path = format!("metadata/{file}");
        let Some(name) = file.strip_suffix(".json").and_then(|n| PackageName::parse(n).ok()) else {
            report
                .problems
                .push(format!("{path} is not named after a package: remove it from the registry repository"));
            continue;
        };
        let text = registry.read(&path).await.with_context(|| format!("reading {path}"))?.unwrap_or_default();
        match parse(&text)
            .map_err(|e| e.to_string())
            .and_then(|v| Metadata::decode(&v).map_err(|e| e.to_string()))
        {
            Ok(metadata) => {
                all.insert(name, metadata);
            }
            Err(e) => report.problems.push(format!(
                "{path} cannot be read ({e}): restore it from the registry repository's history; \
                 its versions are not checked"
            )),
        }
    }
    Ok(all)
}

/// The versions of each package in the index.
async fn read_index(
    adapters: &Adapters,
    report: &mut Report,
) -> anyhow::Result<BTreeMap<PackageName, BTreeSet<Version>>> {
    let index = adapters.index.as_ref();
    let mut all = BTreeMap::new();
    for path in index.all_files().await.context("listing the registry index")? {
        let base = path.rsplit('/').next().unwrap_or(&path);
        // README.md, config.json and the like are not entries.
        let Ok(name) = PackageName::parse(base) else { continue };
        if entry_path(&name) != path {
            continue;
        }
        let text = index.read(&path).await.with_context(|| format!("reading the index entry {path}"))?;
        match parse_entry(text.as_deref().unwrap_or("")) {
            Ok(manifests) => {
                let versions: BTreeSet<Version> = manifests.into_iter().map(|m| m.version).collect();
                all.insert(name, versions);
            }
            Err(e) => report.problems.push(format!(
                "the index entry {path} cannot be read ({e}): restore it from the registry-index \
                 repository's history; its versions are not checked"
            )),
        }
    }
    Ok(all)
}

fn index_against_metadata(
    metadata: &BTreeMap<PackageName, Metadata>,
    index: &BTreeMap<PackageName, BTreeSet<Version>>,
    report: &mut Report,
) {
    let empty = BTreeSet::new();
    for (name, meta) in metadata {
        let indexed = index.get(name).unwrap_or(&empty);
        for version in meta.published.keys() {
            if !indexed.contains(version) {
                report.problems.push(format!(
                    "{name}@{version} is published in metadata/{name}.json but has no line in the index \
                     entry {}: add its manifest (the purs.json in its tarball) to the index",
                    entry_path(name)
                ));
            }
            if meta.unpublished.contains_key(version) {
                report.problems.push(format!(
                    "{name}@{version} is both published and unpublished in metadata/{name}.json: \
                     remove the entry that is wrong"
                ));
            }
        }
        for version in meta.unpublished.keys() {
            if indexed.contains(version) {
                report.problems.push(format!(
                    "{name}@{version} is unpublished in metadata/{name}.json but still in the index entry \
                     {}: remove its line from the index",
                    entry_path(name)
                ));
            }
        }
    }
    for (name, versions) in index {
        let meta = metadata.get(name);
        for version in versions {
            let published = meta.is_some_and(|m| m.published.contains_key(version));
            let unpublished = meta.is_some_and(|m| m.unpublished.contains_key(version));
            if !published && !unpublished {
                report.problems.push(format!(
                    "the index entry {} has a line for {name}@{version} but metadata/{name}.json does not \
                     list it as published: remove the line, or publish the version again",
                    entry_path(name)
                ));
            }
        }
    }
}

async fn storage_against_metadata(
    storage: Arc<dyn Storage>,
    metadata: &BTreeMap<PackageName, Metadata>,
    names: &BTreeSet<PackageName>,
    report: &mut Report,
) -> anyhow::Result<()> {
    // Storage lists one folder at a time: the packages looked at are those the
    // metadata or the index know (a tarball of a package neither knows is not seen).
    let mut stored = BTreeSet::new();
    for name in names {
        let versions = storage
            .versions(name)
            .await
            .with_context(|| format!("listing {name}/ in {}", storage.describe()))?;
        stored.extend(versions.into_iter().map(|v| (name.clone(), v)));
    }
    let mut to_hash = Vec::new();
    for (name, meta) in metadata {
        for (version, published) in &meta.published {
            if stored.contains(&(name.clone(), *version)) {
                to_hash.push((name.clone(), *version, published.bytes, published.hash.clone()));
            } else {
                report.problems.push(format!(
                    "{name}@{version} is published but its tarball {name}/{version}.tar.gz is missing from \
                     storage: upload the tarball the metadata's hash names (from a backup or mirror), or \
                     unpublish the version"
                ));
            }
        }
        for version in meta.unpublished.keys() {
            if stored.contains(&(name.clone(), *version)) {
                report.problems.push(format!(
                    "{name}@{version} is unpublished but its tarball {name}/{version}.tar.gz is still in \
                     storage: delete it"
                ));
            }
        }
    }
    for (name, version) in &stored {
        let known = metadata
            .get(name)
            .is_some_and(|m| m.published.contains_key(version) || m.unpublished.contains_key(version));
        if !known {
            report.problems.push(format!(
                "the tarball {name}/{version}.tar.gz in storage belongs to no published version: a publish \
                 that stopped after its upload leaves this (resubmitting that publish completes it); \
                 otherwise delete it"
            ));
        }
    }

    report.counts.push(("tarballs hashed", to_hash.len()));
    let mut tasks = tokio::task::JoinSet::new();
    let mut queue = to_hash.into_iter();
    loop {
        while tasks.len() < PARALLEL_READS {
            let Some((name, version, bytes, hash)) = queue.next() else { break };
            let storage = storage.clone();
            tasks.spawn(async move {
                let got = storage.download(&name, &version).await;
                let problem = match got {
                    Err(e) => Some(format!(
                        "{name}@{version}: reading its tarball failed ({e}): check the storage and run again"
                    )),
                    Ok(None) => Some(format!(
                        "{name}@{version}: its tarball disappeared from storage while being checked: run again"
                    )),
                    Ok(Some(data)) => {
                        let actual = Sha256::of_bytes(&data);
                        if data.len() as u64 != bytes || actual != hash {
                            Some(format!(
                                "{name}@{version}: the tarball in storage has {} bytes and hash {} but the \
                                 metadata says {bytes} bytes and {}: the stored tarball is corrupt; restore \
                                 the original from a backup or mirror (never change the metadata to match)",
                                data.len(),
                                actual.as_str(),
                                hash.as_str()
                            ))
                        } else {
                            None
                        }
                    }
                };
                ((name, version), problem)
            });
        }
        let Some(done) = tasks.join_next().await else { break };
        let (_, problem) = done.context("a tarball check stopped unexpectedly")?;
        report.problems.extend(problem);
    }
    Ok(())
}

async fn package_sets_against_metadata(
    adapters: &Adapters,
    metadata: &BTreeMap<PackageName, Metadata>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let registry = adapters.registry.as_ref();
    let files = registry.list("package-sets").await.context("listing the registry's package sets")?;
    let mut count = 0;
    for file in files {
        let path = format!("package-sets/{file}");
        let text = registry.read(&path).await.with_context(|| format!("reading {path}"))?.unwrap_or_default();
        let set = match parse(&text)
            .map_err(|e| e.to_string())
            .and_then(|v| PackageSet::decode(&v).map_err(|e| e.to_string()))
        {
            Ok(set) => set,
            Err(e) => {
                report.problems.push(format!(
                    "{path} cannot be read ({e}): restore it from the registry repository's history"
                ));
                continue;
            }
        };
        count += 1;
        for (name, version) in &set.packages {
            if !metadata.get(name).is_some_and(|m| m.published.contains_key(version)) {
                let why = if metadata.get(name).is_some_and(|m| m.unpublished.contains_key(version)) {
                    "which was unpublished"
                } else {
                    "which was never published"
                };
                report.problems.push(format!(
                    "package set {} names {name}@{version}, {why}: package sets are immutable, so publish a \
                     newer set without it (a package-set update removing or upgrading {name})",
                    set.version
                ));
            }
        }
    }
    report.counts.push(("package sets", count));
    Ok(())
}

/// Every job of the store, oldest first, paged by creation time.
async fn all_jobs(store: &dyn JobStore, report: &mut Report) -> anyhow::Result<Vec<registry_core::job::Job>> {
    let mut since = Timestamp::from_unix_millis(0);
    let until = Timestamp::parse_iso("9999-12-31T23:59:59.999Z").map_err(anyhow::Error::msg)?;
    let mut seen = BTreeSet::new();
    let mut jobs = Vec::new();
    loop {
        let query = JobsQuery { since, until, order: Order::Asc, include_completed: true };
        let (page, undecodable) = store.jobs(&query).await.context("listing the job database's jobs")?;
        for e in undecodable {
            report.problems.push(format!("a job in the database cannot be read ({e}): inspect its row"));
        }
        let full = page.len() >= PAGE_SIZE;
        let last = page.last().map(|j| j.info.created_at);
        for job in page {
            if seen.insert(job.info.job_id.clone()) {
                jobs.push(job);
            }
        }
        match last {
            Some(last) if full => {
                // A full page of jobs created in one millisecond cannot be paged past
                // without skipping; it never happens with one job per request.
                since = if last == since { last.plus_millis(1) } else { last };
            }
            _ => break,
        }
    }
    Ok(jobs)
}

async fn jobs_against_metadata(
    store: &dyn JobStore,
    metadata: &BTreeMap<PackageName, Metadata>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let jobs = all_jobs(store, report).await?;
    let first_job = jobs.iter().map(|j| j.info.created_at).min();
    let mut published_by_job = BTreeSet::new();
    let mut publish_jobs = 0;
    for job in &jobs {
        let JobDetails::Publish { package_name, package_version, .. } = &job.details else { continue };
        if job.details.job_type() != JobType::Publish || !job.info.success {
            continue;
        }
        publish_jobs += 1;
        published_by_job.insert((package_name.clone(), *package_version));
        let meta = metadata.get(package_name);
        let known = meta.is_some_and(|m| {
            m.published.contains_key(package_version) || m.unpublished.contains_key(package_version)
        });
        if !known {
            report.problems.push(format!(
                "job {} published {package_name}@{package_version} successfully, but metadata/{package_name}.json \
                 does not list it: restore the metadata from the registry repository's history (the job's \
                 commit names it)",
                job.info.job_id
            ));
        }
    }
    report.counts.push(("successful publish jobs", publish_jobs));

    let Some(first_job) = first_job else {
        report
            .notes
            .push("the job database has no jobs: no version is held to having a publish job".to_owned());
        return Ok(());
    };
    let mut exempt = 0;
    for (name, meta) in metadata {
        for (version, published) in &meta.published {
            if published.published_time < first_job {
                exempt += 1;
            } else if !published_by_job.contains(&(name.clone(), *version)) {
                report.problems.push(format!(
                    "{name}@{version} was published at {} (after the first recorded job, {first_job}) but no \
                     successful publish job names it: it was written outside the registry; check who wrote \
                     it (git log metadata/{name}.json) and unpublish it if it is not legitimate",
                    published.published_time
                ));
            }
        }
    }
    report.notes.push(format!(
        "{exempt} versions published before the first recorded job ({first_job}) are not held to having a \
         publish job"
    ));
    Ok(())
}
