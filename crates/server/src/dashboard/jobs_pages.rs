//! `/` (the jobs list with upstream's filters, paging and the queue panel) and
//! `/jobs/{id}` (one job, its payload and its logs, followed live while it runs).

use std::fmt::Write;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use registry_core::job::{JobType, LogLevel};
use registry_core::json;
use registry_core::{Timestamp, Version};
use registry_queue::{LogsQuery, Order};

use super::job_index::{JobIndex, JobRow, LANES, Status, lane_of};
use super::page::{Esc, Section, duration, page, problem, url_part, when};
use super::state::Dashboard;

/// Rows per page of the jobs list.
pub const JOBS_PER_PAGE: usize = 50;
/// Failures shown in the queue panel.
const RECENT_FAILURES: usize = 5;

const RANGES: [(&str, &str, i64); 5] = [
    ("1h", "last hour", 3_600_000),
    ("24h", "last 24 hours", 86_400_000),
    ("7d", "last 7 days", 7 * 86_400_000),
    ("30d", "last 30 days", 30 * 86_400_000),
    ("all", "all time", 0),
];

/// The jobs list's filters, as they appear in the URL.
#[derive(Default, Debug)]
pub struct Filters {
    range: Option<&'static str>,
    status: Option<Status>,
    kind: Option<JobType>,
    package: String,
    version: Option<Version>,
    compiler: Option<Version>,
    page: usize,
}

fn bad(key: &str, value: &str, expected: &str) -> String {
    format!("The filter {key}={value:?} is not valid: expected {expected}. Clear the filters to start again.")
}

impl Filters {
    pub fn parse(raw: Option<&str>) -> Result<Filters, String> {
        let mut f = Filters::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match &*key {
                "range" => {
                    let found = RANGES.iter().find(|r| r.0 == value);
                    f.range = Some(found.ok_or_else(|| bad("range", value, "1h, 24h, 7d, 30d or all"))?.0);
                }
                "status" => {
                    f.status = Some(
                        Status::parse(value)
                            .ok_or_else(|| bad("status", value, "waiting, running, succeeded or failed"))?,
                    )
                }
                "type" => {
                    f.kind = Some(JobType::parse(value).map_err(|_| {
                        bad("type", value, "publish, unpublish, transfer, matrix or packageset")
                    })?)
                }
                "package" => f.package = value.chars().take(200).collect(),
                "version" => {
                    f.version = Some(
                        Version::parse(value).map_err(|_| bad("version", value, "a version like 1.2.3"))?,
                    )
                }
                "compiler" => {
                    f.compiler = Some(
                        Version::parse(value)
                            .map_err(|_| bad("compiler", value, "a version like 0.15.15"))?,
                    )
                }
                "page" => {
                    f.page = value
                        .parse::<usize>()
                        .ok()
                        .filter(|p| *p >= 1 && *p <= 100_000)
                        .ok_or_else(|| bad("page", value, "a page number from 1"))?
                        - 1
                }
                // Unknown keys (tracking parameters, old links) are ignored.
                _ => {}
            }
        }
        Ok(f)
    }

    fn matches(&self, row: &JobRow, now: Timestamp) -> bool {
        let range_ms = RANGES.iter().find(|r| Some(r.0) == self.range).map_or(0, |r| r.2);
        (range_ms == 0 || row.created.unix_millis() >= now.unix_millis() - range_ms)
            && self.status.is_none_or(|s| row.status() == s)
            && self.kind.is_none_or(|k| row.kind == k)
            && (self.package.is_empty()
                || row.package.as_ref().is_some_and(|p| p.as_str().contains(&self.package.to_lowercase())))
            && self.version.is_none_or(|v| row.version == Some(v))
            && self.compiler.is_none_or(|c| row.compiler == Some(c))
    }

    /// The query string of these filters on another page.
    fn query(&self, page: usize) -> String {
        let mut parts = Vec::new();
        if let Some(r) = self.range {
            parts.push(format!("range={r}"));
        }
        if let Some(s) = self.status {
            parts.push(format!("status={}", s.as_str()));
        }
        if let Some(k) = self.kind {
            parts.push(format!("type={}", k.as_str()));
        }
        if !self.package.is_empty() {
            parts.push(format!("package={}", url_part(&self.package)));
        }
        if let Some(v) = self.version {
            parts.push(format!("version={v}"));
        }
        if let Some(c) = self.compiler {
            parts.push(format!("compiler={c}"));
        }
        if page > 0 {
            parts.push(format!("page={}", page + 1));
        }
        if parts.is_empty() { "/".to_owned() } else { format!("/?{}", parts.join("&")) }
    }
}

/// "waiting for 3 min", "running for 2 s", "succeeded in 1 min", "failed: <reason>".
pub fn plain_state(row: &JobRow, now: Timestamp, reason: Option<&str>) -> String {
    let ms = |a: Timestamp, b: Timestamp| b.unix_millis() - a.unix_millis();
    match row.status() {
        Status::Waiting => format!("waiting for {}", duration(ms(row.created, now))),
        Status::Running => format!("running for {}", duration(ms(row.started.unwrap_or(row.created), now))),
        Status::Succeeded => match (row.started, row.finished) {
            (Some(s), Some(f)) => format!("succeeded in {}", duration(ms(s, f))),
            _ => "succeeded".to_owned(),
        },
        Status::Failed => match reason.filter(|r| !r.is_empty()) {
            Some(reason) => format!("failed: {reason}"),
            None => "failed".to_owned(),
        },
    }
}

pub fn status_badge(row: &JobRow, now: Timestamp, reason: Option<&str>) -> String {
    format!(
        "<span class=\"state state-{}\">{}</span>",
        row.status().as_str(),
        Esc(&plain_state(row, now, reason))
    )
}

/// One table row per job; the reasons of failed jobs are looked up.
pub async fn job_rows(
    dashboard: &Dashboard,
    index: &mut JobIndex,
    rows: &[JobRow],
    now: Timestamp,
) -> String {
    let mut html = String::new();
    for row in rows {
        let reason = if row.status() == Status::Failed {
            Some(index.reason(dashboard.store.as_ref(), &row.id).await)
        } else {
            None
        };
        let _ = write!(
            html,
            "<tr><td><a href=\"/jobs/{id}\">{summary}</a></td><td>{kind}</td><td>{state}</td><td>{created}</td></tr>",
            id = url_part(&row.id),
            summary = Esc(&row.summary),
            kind = row.kind.as_str(),
            state = status_badge(row, now, reason.as_deref()),
            created = when(row.created),
        );
    }
    html
}

pub fn jobs_table(rows_html: &str, empty: &str) -> String {
    if rows_html.is_empty() {
        return format!("<p class=\"empty\">{}</p>", Esc(empty));
    }
    format!(
        "<div class=\"scroll\"><table class=\"jobs\"><thead><tr><th scope=\"col\">Job</th><th scope=\"col\">Type</th>\
         <th scope=\"col\">State</th><th scope=\"col\">Created</th></tr></thead><tbody>{rows_html}</tbody></table></div>"
    )
}

async fn queue_panel(dashboard: &Dashboard, index: &mut JobIndex, now: Timestamp) -> String {
    let mut html = String::from(
        "<section class=\"panel\" aria-labelledby=\"queue-h\"><h2 id=\"queue-h\">Queue</h2><div class=\"scroll\"><table>\
         <thead><tr><th scope=\"col\">Lane</th><th scope=\"col\">Waiting</th><th scope=\"col\">Running</th>\
         <th scope=\"col\">Oldest waiting</th></tr></thead><tbody>",
    );
    for (lane, _) in LANES {
        let (mut waiting, mut running, mut oldest) = (0, 0, None::<Timestamp>);
        for row in index.rows().iter().filter(|r| r.finished.is_none() && lane_of(r.kind) == lane) {
            match row.status() {
                Status::Running => running += 1,
                _ => {
                    waiting += 1;
                    oldest = Some(oldest.map_or(row.created, |o| o.min(row.created)));
                }
            }
        }
        let oldest = oldest.map_or("—".to_owned(), |o| duration(now.unix_millis() - o.unix_millis()));
        let _ = write!(
            html,
            "<tr data-lane=\"{lane}\"><th scope=\"row\">{lane}</th><td>{waiting}</td><td>{running}</td><td>{oldest}</td></tr>"
        );
    }
    html.push_str("</tbody></table></div><h3>Last failures</h3>");
    let failures: Vec<JobRow> = {
        let mut failed: Vec<&JobRow> = index.rows().iter().filter(|r| r.status() == Status::Failed).collect();
        failed.sort_by_key(|r| std::cmp::Reverse(r.finished));
        failed.into_iter().take(RECENT_FAILURES).cloned().collect()
    };
    if failures.is_empty() {
        html.push_str("<p class=\"empty\">No job has failed.</p>");
    } else {
        html.push_str("<ul class=\"failures\">");
        for row in &failures {
            let reason = index.reason(dashboard.store.as_ref(), &row.id).await;
            let _ = write!(
                html,
                "<li><a href=\"/jobs/{}\">{}</a> {} <span class=\"state state-failed\">{}</span></li>",
                url_part(&row.id),
                Esc(&row.summary),
                row.finished.map(when).unwrap_or_default(),
                Esc(&plain_state(row, now, Some(&reason))),
            );
        }
        html.push_str("</ul>");
    }
    html.push_str("</section>");
    html
}

fn select(name: &str, label: &str, current: Option<&str>, options: &[(&str, &str)]) -> String {
    let mut html = format!("<label>{label} <select name=\"{name}\"><option value=\"\">any</option>");
    for (value, text) in options {
        let selected = if current == Some(*value) { " selected" } else { "" };
        let _ = write!(html, "<option value=\"{value}\"{selected}>{text}</option>");
    }
    html.push_str("</select></label>");
    html
}

fn filter_form(f: &Filters) -> String {
    let ranges: Vec<(&str, &str)> = RANGES.iter().map(|r| (r.0, r.1)).collect();
    let statuses: Vec<(&str, &str)> = Status::ALL.iter().map(|s| (s.as_str(), s.as_str())).collect();
    let kinds: Vec<(&str, &str)> = JobType::ALL.iter().map(|k| (k.as_str(), k.as_str())).collect();
    let text = |name: &str, label: &str, value: String, hint: &str| {
        format!(
            "<label>{label} <input name=\"{name}\" value=\"{}\" placeholder=\"{hint}\" size=\"12\" autocomplete=\"off\"></label>",
            Esc(&value)
        )
    };
    format!(
        "<form class=\"filters\" method=\"get\" action=\"/\" aria-label=\"Filter jobs\">{}{}{}{}{}{}\
         <button type=\"submit\">Filter</button> <a href=\"/\">Clear</a></form>",
        select("range", "Time", f.range, &ranges),
        select("status", "Status", f.status.map(Status::as_str), &statuses),
        select("type", "Type", f.kind.map(JobType::as_str), &kinds),
        text("package", "Package", f.package.clone(), "prelude"),
        text("version", "Version", f.version.map(|v| v.to_string()).unwrap_or_default(), "6.0.1"),
        text("compiler", "Compiler", f.compiler.map(|v| v.to_string()).unwrap_or_default(), "0.15.15"),
    )
}

/// `/`: the jobs list.
pub async fn jobs_list(State(dashboard): State<Dashboard>, RawQuery(raw): RawQuery) -> Response {
    let filters = match Filters::parse(raw.as_deref()) {
        Ok(f) => f,
        Err(message) => return problem(Section::Jobs, StatusCode::BAD_REQUEST, &message),
    };
    let now = registry_settings::now();
    let mut index = match dashboard.jobs().await {
        Ok(index) => index,
        Err(e) => {
            return problem(
                Section::Jobs,
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Reading the jobs failed: {e}"),
            );
        }
    };
    let matching: Vec<&JobRow> = index.rows().iter().rev().filter(|r| filters.matches(r, now)).collect();
    let total = matching.len();
    let shown: Vec<JobRow> =
        matching.into_iter().skip(filters.page * JOBS_PER_PAGE).take(JOBS_PER_PAGE).cloned().collect();
    let rows = job_rows(&dashboard, &mut index, &shown, now).await;
    let panel = queue_panel(&dashboard, &mut index, now).await;
    drop(index);
    let mut body = String::from("<h1>Jobs</h1>");
    body.push_str(&panel);
    body.push_str(&filter_form(&filters));
    let first = filters.page * JOBS_PER_PAGE;
    let _ = write!(
        body,
        "<div id=\"live\" {}><p class=\"count\" aria-live=\"polite\">{}</p>{}</div>",
        if filters.page == 0 { "data-autorefresh=\"5\"" } else { "" },
        if total == 0 {
            "No jobs match.".to_owned()
        } else {
            format!("Jobs {}–{} of {total}, newest first.", first + 1, (first + shown.len()).min(total))
        },
        jobs_table(&rows, "Nothing to show on this page."),
    );
    body.push_str("<nav class=\"pages\" aria-label=\"Pages\">");
    if filters.page > 0 {
        let _ =
            write!(body, "<a rel=\"prev\" href=\"{}\">← Newer</a>", Esc(&filters.query(filters.page - 1)));
    }
    if first + JOBS_PER_PAGE < total {
        let _ =
            write!(body, "<a rel=\"next\" href=\"{}\">Older →</a>", Esc(&filters.query(filters.page + 1)));
    }
    body.push_str("</nav>");
    page(Section::Jobs, "Jobs", &body)
}

/// Most characters of a payload shown on a job page.
const PAYLOAD_SHOWN: usize = 20_000;

/// `/jobs/{id}`: one job. (`/jobs/<version>.tar.gz` is the tarball of a package named `jobs`.)
pub async fn job_page(
    State(dashboard): State<Dashboard>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if id.ends_with(".tar.gz") {
        return super::tarball(&dashboard, "jobs", id).await;
    }
    let mut level = LogLevel::Info;
    for (key, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        if key == "level" {
            match LogLevel::parse(&value) {
                Ok(l) => level = l,
                Err(_) => {
                    return problem(
                        Section::Jobs,
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "The log level {value:?} is not valid: expected DEBUG, INFO, WARN, NOTICE or ERROR."
                        ),
                    );
                }
            }
        }
    }
    let query = LogsQuery {
        level,
        since: Timestamp::from_unix_millis(0),
        until: Timestamp::parse_iso("9999-12-31T23:59:59.999Z").expect("a valid timestamp"),
        order: Order::Asc,
    };
    let job = match dashboard.store.job(&id, &query).await {
        Ok(Some(job)) => job,
        Ok(None) => {
            return super::page::not_found(Section::Jobs, &format!("There is no job with id {id}."));
        }
        Err(e) => {
            return problem(
                Section::Jobs,
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Reading the job failed: {e}"),
            );
        }
    };
    let now = registry_settings::now();
    // The state comes from the job just read, not from the jobs index, which may be
    // a moment behind (on a shared database it is re-read at most once a second).
    let row = JobRow::from_job(&job);
    let reason = if row.status() == Status::Failed {
        let mut index = match dashboard.jobs().await {
            Ok(index) => index,
            Err(e) => {
                return problem(
                    Section::Jobs,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("Reading the jobs failed: {e}"),
                );
            }
        };
        Some(index.reason(dashboard.store.as_ref(), &id).await)
    } else {
        None
    };
    let mut body = String::new();
    let _ = write!(body, "<p><a href=\"/\">← All jobs</a></p><h1>{}</h1>", Esc(&job.details.describe()));
    body.push_str("<dl class=\"facts\">");
    let _ = write!(body, "<dt>Job id</dt><dd><code>{}</code></dd>", Esc(&job.info.job_id));
    let _ = write!(body, "<dt>Type</dt><dd>{}</dd>", job.details.job_type().as_str());
    let _ = write!(
        body,
        "<dt>State</dt><dd id=\"job-state\">{}</dd>",
        status_badge(&row, now, reason.as_deref())
    );
    if let Some(package) = &row.package {
        let _ =
            write!(body, "<dt>Package</dt><dd><a href=\"/packages/{0}\">{0}</a></dd>", Esc(package.as_str()));
    }
    let _ = write!(body, "<dt>Created</dt><dd>{}</dd>", when(job.info.created_at));
    if let Some(s) = job.info.started_at {
        let _ = write!(body, "<dt>Started</dt><dd>{}</dd>", when(s));
    }
    if let Some(f) = job.info.finished_at {
        let _ = write!(body, "<dt>Finished</dt><dd>{}</dd>", when(f));
    }
    body.push_str("</dl>");
    let payload = json::print_pretty(&job.details.payload_json());
    let shown: String = payload.chars().take(PAYLOAD_SHOWN).collect();
    let _ = write!(
        body,
        "<details><summary>Payload</summary><pre class=\"payload\">{}{}</pre></details>",
        Esc(&shown),
        if shown.len() < payload.len() { "\n…" } else { "" }
    );
    body.push_str("<h2 id=\"logs-h\">Logs</h2><nav class=\"levels\" aria-label=\"Log level\">");
    for l in LogLevel::ALL {
        let current = if l == level { " aria-current=\"true\"" } else { "" };
        let _ = write!(
            body,
            "<a href=\"/jobs/{}?level={}\"{current}>{}</a>",
            url_part(&job.info.job_id),
            l.as_str(),
            l.as_str().to_lowercase()
        );
    }
    body.push_str("</nav>");
    let last = job.logs.last().map(|l| l.timestamp.to_string()).unwrap_or_default();
    let _ = write!(
        body,
        "<ol id=\"logs\" class=\"logs\" aria-labelledby=\"logs-h\" data-job=\"{}\" data-level=\"{}\" data-last=\"{}\" \
         data-finished=\"{}\" data-more=\"{}\">",
        Esc(&job.info.job_id),
        level.as_str(),
        last,
        job.info.finished_at.is_some(),
        job.logs.len() >= registry_queue::PAGE_SIZE,
    );
    for line in &job.logs {
        let _ = write!(
            body,
            "<li class=\"log-{}\"><time datetime=\"{ts}\">{short}</time> <span class=\"level\">{}</span> <span class=\"msg\">{}</span></li>",
            line.level.as_str().to_lowercase(),
            line.level.as_str(),
            Esc(&line.message),
            ts = line.timestamp,
            short = &line.timestamp.to_string()[11..19],
        );
    }
    body.push_str("</ol>");
    if job.logs.is_empty() {
        body.push_str("<p class=\"empty\" id=\"no-logs\">No log lines at this level yet.</p>");
    }
    if job.info.finished_at.is_none() {
        body.push_str("<p class=\"following\" id=\"following\" aria-live=\"polite\">Following the job: new lines appear here.</p>");
    }
    page(Section::Jobs, &job.details.describe(), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_round_trip_through_the_url() {
        let f = Filters::parse(Some(
            "range=7d&status=failed&type=matrix&package=Pre%20l&version=1.0.0&compiler=0.15.15&page=3",
        ))
        .unwrap();
        assert_eq!(
            f.query(f.page),
            "/?range=7d&status=failed&type=matrix&package=Pre+l&version=1.0.0&compiler=0.15.15&page=3"
        );
        assert!(
            Filters::parse(Some("status=exploded"))
                .unwrap_err()
                .contains("waiting, running, succeeded or failed")
        );
        assert!(Filters::parse(Some("page=0")).is_err());
    }
}
