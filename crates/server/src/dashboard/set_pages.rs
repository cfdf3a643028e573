//! `/package-sets` (the history, newest first, with what each set changed) and
//! `/package-sets/{version}` (added, updated and removed packages against the
//! previous set, its packages, and the job that made it).

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::response::Response;
use registry_core::{PackageSet, Version};

use super::page::{Esc, Section, not_found, page, url_part};
use super::state::Dashboard;

struct Changes {
    added: Vec<String>,
    updated: Vec<String>,
    removed: Vec<String>,
}

fn changes(previous: Option<&PackageSet>, set: &PackageSet) -> Changes {
    let mut c = Changes { added: Vec::new(), updated: Vec::new(), removed: Vec::new() };
    let link = |n: &str| format!("<a href=\"/packages/{0}\">{0}</a>", Esc(n));
    let Some(previous) = previous else {
        c.added = set.packages.iter().map(|(n, v)| format!("{} {v}", link(n.as_str()))).collect();
        return c;
    };
    for (name, version) in &set.packages {
        match previous.packages.get(name) {
            None => c.added.push(format!("{} {version}", link(name.as_str()))),
            Some(old) if old != version => {
                c.updated.push(format!("{} {old} → {version}", link(name.as_str())))
            }
            Some(_) => {}
        }
    }
    for (name, version) in &previous.packages {
        if !set.packages.contains_key(name) {
            c.removed.push(format!("{} {version}", link(name.as_str())));
        }
    }
    c
}

/// `/package-sets`.
pub async fn sets_list(State(dashboard): State<Dashboard>) -> Response {
    let Some(data) = dashboard.registry.get() else {
        return page(
            Section::PackageSets,
            "Loading",
            "<h1>Reading the registry…</h1><p id=\"live\" data-autorefresh=\"2\">This page refreshes itself.</p>",
        );
    };
    let mut rows = String::new();
    for (i, set) in data.sets.iter().enumerate().rev() {
        let (added, updated, removed) = data.set_changes[i];
        let _ = write!(
            rows,
            "<tr><th scope=\"row\"><a href=\"/package-sets/{v}\">{v}</a></th><td>{}</td><td>{}</td><td>{}</td>\
             <td>+{} ~{} −{}</td></tr>",
            set.published,
            set.compiler,
            set.packages.len(),
            added,
            updated,
            removed,
            v = set.version,
        );
    }
    let body = format!(
        "<h1>Package sets</h1><p class=\"count\">{} sets, newest first. Changes: +added ~updated −removed.</p>\
         <div class=\"scroll\"><table><thead><tr><th scope=\"col\">Set</th><th scope=\"col\">Published</th>\
         <th scope=\"col\">Compiler</th><th scope=\"col\">Packages</th><th scope=\"col\">Changes</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>",
        data.sets.len()
    );
    page(Section::PackageSets, "Package sets", &body)
}

/// `/package-sets/{version}`. (`/package-sets/<version>.tar.gz` is the tarball of a
/// package named `package-sets`.)
pub async fn set_page(State(dashboard): State<Dashboard>, Path(version): Path<String>) -> Response {
    if version.ends_with(".tar.gz") {
        return super::tarball(&dashboard, "package-sets", version).await;
    }
    let Ok(version) = Version::parse(&version) else {
        return not_found(
            Section::PackageSets,
            &format!("{version:?} is not a package-set version (like 50.2.0)."),
        );
    };
    let Some(data) = dashboard.registry.get() else { return sets_list(State(dashboard)).await };
    let Some((i, set)) = data.set(&version) else {
        return not_found(Section::PackageSets, &format!("There is no package set {version}."));
    };
    let previous = i.checked_sub(1).map(|p| &data.sets[p]);
    let c = changes(previous, set);
    let job = made_by(&dashboard, version).await;
    let mut body = format!(
        "<p><a href=\"/package-sets\">← All package sets</a></p><h1>Package set {version}</h1><dl class=\"facts\">\
         <dt>Published</dt><dd>{}</dd><dt>Compiler</dt><dd>{}</dd><dt>Packages</dt><dd>{}</dd>\
         <dt>Previous set</dt><dd>{}</dd><dt>Made by</dt><dd>{}</dd></dl>",
        set.published,
        set.compiler,
        set.packages.len(),
        previous.map_or("none".to_owned(), |p| format!("<a href=\"/package-sets/{0}\">{0}</a>", p.version)),
        match job {
            Some(id) => format!("<a href=\"/jobs/{}\">job {}</a>", url_part(&id), Esc(&id)),
            None => "no job recorded (made before this registry ran, or by hand)".to_owned(),
        }
    );
    if previous.is_some_and(|p| p.compiler != set.compiler) {
        let _ = write!(
            body,
            "<p>The compiler changed from {} to {}.</p>",
            previous.map(|p| p.compiler.to_string()).unwrap_or_default(),
            set.compiler
        );
    }
    for (title, list) in [("Added", &c.added), ("Updated", &c.updated), ("Removed", &c.removed)] {
        let _ = write!(body, "<h2>{title} ({})</h2>", list.len());
        if list.is_empty() {
            body.push_str("<p class=\"empty\">None.</p>");
        } else {
            let _ = write!(
                body,
                "<ul class=\"inline\">{}</ul>",
                list.iter().map(|l| format!("<li>{l}</li>")).collect::<String>()
            );
        }
    }
    let _ = write!(
        body,
        "<details><summary>All {} packages</summary><ul class=\"inline\">{}</ul></details>",
        set.packages.len(),
        set.packages
            .iter()
            .map(|(n, v)| format!("<li><a href=\"/packages/{0}\">{0}</a> {v}</li>", Esc(n.as_str())))
            .collect::<String>()
    );
    page(Section::PackageSets, &format!("Package set {version}"), &body)
}

/// The job named in the commit that added the set's file (looked up once per set).
async fn made_by(dashboard: &Dashboard, version: Version) -> Option<String> {
    if let Some(known) = dashboard.set_jobs.lock().unwrap_or_else(|e| e.into_inner()).get(&version) {
        return known.clone();
    }
    let path = format!("package-sets/{version}.json");
    let messages = dashboard.registry.repo().commit_messages(&path, "Job ID: ").await.ok()?;
    // The oldest commit of the file made it; later ones (if any) only touched it.
    let id = messages.last().and_then(|m| {
        m.lines()
            .rev()
            .find_map(|l| l.strip_prefix("Job ID: "))
            .map(|id| id.trim().chars().take(64).collect())
    });
    dashboard.set_jobs.lock().unwrap_or_else(|e| e.into_inner()).insert(version, id.clone());
    id
}
