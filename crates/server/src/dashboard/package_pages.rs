//! `/packages` (every package, searchable) and `/packages/{name}` (versions, the
//! compiler matrix, dependencies, dependants, owners, location and latest jobs).

use std::collections::BTreeSet;
use std::fmt::Write;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use registry_core::job::JobType;
use registry_core::{Location, PackageName, Version};

use super::job_index::{JobRow, Status};
use super::jobs_pages::{job_rows, jobs_table};
use super::page::{Esc, Section, bytes, not_found, page, url_part, when};
use super::registry_data::RegistryData;
use super::state::Dashboard;

/// Jobs listed on a package page.
const LATEST_JOBS: usize = 10;

/// The page shown until the registry's files are first read.
fn loading(dashboard: &Dashboard, section: Section) -> Response {
    let why =
        dashboard.registry.error().map(|e| format!("<p class=\"error\">{}</p>", Esc(&e))).unwrap_or_default();
    page(
        section,
        "Loading",
        &format!(
            "<h1>Reading the registry…</h1><p id=\"live\" data-autorefresh=\"2\">The registry's files are being read; \
             this page refreshes itself.</p>{why}"
        ),
    )
}

pub fn location_text(location: &Location) -> String {
    let (base, subdir) = match location {
        Location::GitHub { owner, repo, subdir } => (format!("github.com/{owner}/{repo}"), subdir),
        Location::Git { url, subdir } => (url.clone(), subdir),
    };
    match subdir {
        Some(dir) => format!("{base} (folder {dir})"),
        None => base,
    }
}

/// `/packages`: every package; `?q=` filters on the server, and the search box
/// filters as one types.
pub async fn packages_list(State(dashboard): State<Dashboard>, RawQuery(raw): RawQuery) -> Response {
    let Some(data) = dashboard.registry.get() else { return loading(&dashboard, Section::Packages) };
    let q: String = form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.trim().to_lowercase().chars().take(100).collect())
        .unwrap_or_default();
    let mut rows = String::new();
    let mut shown = 0;
    for (name, metadata) in &data.metadata {
        if !q.is_empty() && !name.as_str().contains(&q) {
            continue;
        }
        shown += 1;
        let latest = metadata.published.iter().next_back();
        let _ = write!(
            rows,
            "<tr data-name=\"{n}\"><td><a href=\"/packages/{n}\">{n}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            latest.map(|(v, _)| v.to_string()).unwrap_or_else(|| "none published".into()),
            latest.map(|(_, p)| when(p.published_time)).unwrap_or_default(),
            data.dependants.get(name).map_or(0, BTreeSet::len),
            n = Esc(name.as_str()),
        );
    }
    let body = format!(
        "<h1>Packages</h1><form class=\"filters\" method=\"get\" action=\"/packages\" role=\"search\">\
         <label>Search <input id=\"package-search\" name=\"q\" value=\"{q}\" type=\"search\" autocomplete=\"off\" \
         placeholder=\"name\"></label> <button type=\"submit\">Search</button></form>\
         <p class=\"count\" id=\"package-count\" aria-live=\"polite\">{shown} of {total} packages</p>\
         <div class=\"scroll\"><table class=\"packages\" id=\"packages\"><thead><tr><th scope=\"col\">Package</th>\
         <th scope=\"col\">Latest</th><th scope=\"col\">Published</th><th scope=\"col\">Dependants</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>",
        q = Esc(&q),
        total = data.metadata.len(),
    );
    page(Section::Packages, "Packages", &body)
}

/// `/packages/{name}`. (`/packages/<version>.tar.gz` is the tarball of a package named `packages`.)
pub async fn package_page(State(dashboard): State<Dashboard>, Path(name): Path<String>) -> Response {
    if name.ends_with(".tar.gz") {
        return super::tarball(&dashboard, "packages", name).await;
    }
    let Ok(name) = PackageName::parse(&name) else {
        return not_found(Section::Packages, &format!("{name:?} is not a package name."));
    };
    let Some(data) = dashboard.registry.get() else { return loading(&dashboard, Section::Packages) };
    let Some(metadata) = data.metadata.get(&name) else {
        return not_found(Section::Packages, &format!("No package named {name} is registered."));
    };
    let now = registry_settings::now();
    let (matrix_jobs, latest) = match dashboard.jobs().await {
        Ok(mut index) => {
            let mine: Vec<JobRow> =
                index.rows().iter().rev().filter(|r| r.package.as_ref() == Some(&name)).cloned().collect();
            let matrix: Vec<JobRow> = mine
                .iter()
                .filter(|r| {
                    r.kind == JobType::Matrix
                        && matches!(r.status(), Status::Waiting | Status::Running | Status::Failed)
                })
                .cloned()
                .collect();
            let latest: Vec<JobRow> = mine.into_iter().take(LATEST_JOBS).collect();
            let rows = job_rows(&dashboard, &mut index, &latest, now).await;
            (matrix, rows)
        }
        Err(e) => (Vec::new(), format!("<p class=\"error\">Reading the jobs failed: {}</p>", Esc(&e))),
    };
    let n = Esc(name.as_str());
    let mut body = format!("<p><a href=\"/packages\">← All packages</a></p><h1>{n}</h1><dl class=\"facts\">");
    let _ = write!(body, "<dt>Location</dt><dd>{}</dd>", Esc(&location_text(&metadata.location)));
    body.push_str("<dt>Owners</dt><dd>");
    match &metadata.owners {
        Some(owners) if !owners.is_empty() => {
            for owner in owners {
                let key: String = owner.public.chars().take(24).collect();
                let _ = write!(
                    body,
                    "<div>{} <code title=\"{}\">{} {}…</code></div>",
                    Esc(owner.id.as_deref().unwrap_or("")),
                    Esc(&owner.public),
                    Esc(&owner.keytype),
                    Esc(&key)
                );
            }
        }
        _ => body.push_str("none: only the registry's trustees can unpublish or transfer it"),
    }
    body.push_str("</dd>");
    let dependants = data.dependants.get(&name);
    let _ = write!(body, "<dt>Dependants</dt><dd>{}</dd></dl>", dependants.map_or(0, BTreeSet::len));

    body.push_str(&versions_table(&data, &name, &matrix_jobs, dashboard.registry.tarball_base()));

    body.push_str("<h2>Dependencies</h2>");
    match data.manifests.get(&name) {
        Some(versions) if !versions.is_empty() => {
            for (version, manifest) in versions.iter().rev() {
                let deps = if manifest.dependencies.is_empty() {
                    "none".to_owned()
                } else {
                    manifest
                        .dependencies
                        .iter()
                        .map(|(d, r)| {
                            format!(
                                "<a href=\"/packages/{0}\">{0}</a> {1}",
                                Esc(d.as_str()),
                                Esc(&r.to_string())
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let _ = write!(body, "<details><summary>{version}</summary><p>{deps}</p></details>");
            }
        }
        _ => body.push_str("<p class=\"empty\">No version in the manifest index.</p>"),
    }
    body.push_str("<h2>Dependants</h2>");
    match dependants {
        Some(names) if !names.is_empty() => {
            body.push_str("<ul class=\"inline\">");
            for d in names {
                let _ = write!(body, "<li><a href=\"/packages/{0}\">{0}</a></li>", Esc(d.as_str()));
            }
            body.push_str("</ul>");
        }
        _ => body.push_str("<p class=\"empty\">No package depends on it.</p>"),
    }
    let _ = write!(
        body,
        "<h2>Latest jobs</h2>{}<p><a href=\"/?package={}\">All jobs for {n}</a></p>",
        if latest.starts_with("<p") { latest } else { jobs_table(&latest, "No jobs yet.") },
        url_part(name.as_str())
    );
    page(Section::Packages, name.as_str(), &body)
}

/// Versions, newest first, with the compiler matrix: compilers recorded in the
/// metadata, and matrix jobs still waiting, running or failed.
/// A tarball's download address: under `base` (S3's public URL), or on this server
/// when `base` is empty.
fn tarball_href(base: &str, name: &str, version: &str) -> String {
    format!("{base}/{name}/{version}.tar.gz")
}

/// `tarball_base`: where tarballs are downloaded (empty: this server).
fn versions_table(
    data: &RegistryData,
    name: &PackageName,
    matrix_jobs: &[JobRow],
    tarball_base: &str,
) -> String {
    let metadata = &data.metadata[name];
    let mut versions: BTreeSet<Version> = metadata.published.keys().copied().collect();
    versions.extend(metadata.unpublished.keys().copied());
    let mut html = String::from(
        "<h2>Versions and compilers</h2><div class=\"scroll\"><table class=\"versions\"><thead><tr>\
         <th scope=\"col\">Version</th><th scope=\"col\">Published</th><th scope=\"col\">Size</th>\
         <th scope=\"col\">Compilers</th><th scope=\"col\">SHA-256</th><th scope=\"col\">Tarball</th></tr></thead><tbody>",
    );
    for version in versions.iter().rev() {
        let pending: Vec<String> = matrix_jobs
            .iter()
            .filter(|j| j.version == Some(*version))
            .filter_map(|j| {
                let c = j.compiler?;
                let state = match j.status() {
                    Status::Failed => "failed",
                    Status::Running => "checking",
                    _ => "waiting",
                };
                Some(format!(
                    "<a class=\"compiler compiler-{state}\" href=\"/jobs/{}\">{c} {state}</a>",
                    url_part(&j.id)
                ))
            })
            .collect();
        if let Some(p) = metadata.published.get(version) {
            let compilers: Vec<String> = p
                .compilers
                .iter()
                .map(|c| format!("<span class=\"compiler compiler-ok\">{c}</span>"))
                .collect();
            let _ = write!(
                html,
                "<tr data-version=\"{version}\"><th scope=\"row\">{version}</th><td>{}</td><td>{}</td><td>{} {}</td>\
                 <td><code class=\"hash\" title=\"{hash}\">{short}…</code></td>\
                 <td><a href=\"{href}\" aria-label=\"tarball of {n} {version}\">.tar.gz</a></td></tr>",
                when(p.published_time),
                bytes(p.bytes),
                compilers.join(" "),
                pending.join(" "),
                hash = Esc(p.hash.as_str()),
                short = Esc(&p.hash.as_str().chars().take(16).collect::<String>()),
                n = Esc(name.as_str()),
                href = Esc(&tarball_href(tarball_base, name.as_str(), &version.to_string())),
            );
        } else if let Some(u) = metadata.unpublished.get(version) {
            let _ = write!(
                html,
                "<tr data-version=\"{version}\" class=\"unpublished\"><th scope=\"row\">{version}</th><td>{}</td><td colspan=\"4\">\
                 unpublished {}: {}</td></tr>",
                when(u.published_time),
                when(u.unpublished_time),
                Esc(&u.reason.to_string()),
            );
        }
    }
    html.push_str("</tbody></table></div>");
    html
}

#[cfg(test)]
mod tests {
    use super::tarball_href;
    use crate::dashboard::RegistrySource;

    #[test]
    fn tarball_links_follow_the_public_url_of_s3_storage() {
        assert_eq!(tarball_href("", "prelude", "6.0.1"), "/prelude/6.0.1.tar.gz");
        let base = |b: Option<&str>| {
            RegistrySource {
                registry: std::sync::Arc::new(registry_adapters::git::GitCheckout::new(
                    "unused",
                    "/nonexistent",
                    "/nonexistent",
                )),
                index: std::sync::Arc::new(registry_adapters::git::GitCheckout::new(
                    "unused",
                    "/nonexistent",
                    "/nonexistent",
                )),
                watched: Vec::new(),
                tarball_base: String::new(),
            }
            .with_tarball_base(b)
            .tarball_base
        };
        let public = base(Some("https://packages.registry.purescript.org/"));
        assert_eq!(
            tarball_href(&public, "prelude", "6.0.1"),
            "https://packages.registry.purescript.org/prelude/6.0.1.tar.gz"
        );
        assert_eq!(base(None), "");
    }
}
