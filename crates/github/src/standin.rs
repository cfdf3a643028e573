//! A loopback GitHub API for tests (feature `standin`): the endpoints the registry's
//! GitHub tools call, over state the test sets up — repositories with commits, tags
//! and renames, teams, issues — and a record of every request and comment. It
//! answers like GitHub: 301 for a renamed repository, `{"message"}` errors, `Link`
//! pagination, 401 for a wrong token, 403 with `x-ratelimit-*` when told to limit.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use registry_core::Timestamp;
use serde_json::{Value, json};

const PAGE: usize = 30;

/// A request the stand-in received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub authorization: Option<String>,
    pub body: String,
}

/// A comment posted to an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub repo: String,
    pub issue: u64,
    pub body: String,
}

#[derive(Default)]
struct Repo {
    commits: Vec<(String, Timestamp)>,
    tags: Vec<(String, String)>,
}

#[derive(Default)]
struct World {
    repos: BTreeMap<String, Repo>,
    renamed: BTreeMap<String, String>,
    teams: BTreeMap<String, Vec<String>>,
    comments: Vec<Comment>,
    closed: Vec<(String, u64)>,
    requests: Vec<Recorded>,
    token: Option<String>,
    /// Requests still to be refused as rate limited, and the reset offset in seconds.
    limited: u32,
    reset_in: u64,
}

/// The running stand-in; it stops when dropped.
pub struct StandIn {
    pub url: String,
    world: Arc<Mutex<World>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// Listens on 127.0.0.1 on a free port (call inside a Tokio runtime).
    pub async fn start() -> std::io::Result<StandIn> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let world = Arc::new(Mutex::new(World::default()));
        let shared = world.clone();
        let base = url.clone();
        let app =
            axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let world = shared.clone();
                let base = base.clone();
                async move { answer(&world, &base, method, uri, headers, body) }
            });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(StandIn { url, world, task })
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Requests must then carry `Authorization: Bearer <token>` (else 401).
    pub fn require_token(&self, token: &str) {
        self.world().token = Some(token.to_owned());
    }

    pub fn add_repo(&self, full_name: &str) {
        self.world().repos.entry(full_name.to_owned()).or_default();
    }

    /// A commit on the default branch, dated `date`.
    pub fn add_commit(&self, full_name: &str, sha: &str, date: Timestamp) {
        self.world().repos.entry(full_name.to_owned()).or_default().commits.push((sha.to_owned(), date));
    }

    pub fn add_tag(&self, full_name: &str, tag: &str, sha: &str) {
        self.world()
            .repos
            .entry(full_name.to_owned())
            .or_default()
            .tags
            .push((tag.to_owned(), sha.to_owned()));
    }

    /// Renames (or transfers) a repository: the old name then redirects to the new.
    pub fn rename(&self, from: &str, to: &str) {
        let mut world = self.world();
        let repo = world.repos.remove(from).unwrap_or_default();
        world.repos.insert(to.to_owned(), repo);
        world.renamed.insert(from.to_owned(), to.to_owned());
    }

    pub fn set_team(&self, org: &str, team: &str, members: &[&str]) {
        self.world().teams.insert(format!("{org}/{team}"), members.iter().map(|m| m.to_string()).collect());
    }

    /// The next `requests` requests are refused as rate limited, resetting in `reset_in_secs`.
    pub fn rate_limit(&self, requests: u32, reset_in_secs: u64) {
        let mut world = self.world();
        world.limited = requests;
        world.reset_in = reset_in_secs;
    }

    pub fn comments(&self) -> Vec<Comment> {
        self.world().comments.clone()
    }

    pub fn closed(&self) -> Vec<(String, u64)> {
        self.world().closed.clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.world().requests.clone()
    }
}

fn respond(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn message(status: StatusCode, text: &str) -> Response {
    respond(status, json!({ "message": text, "documentation_url": "https://docs.github.com/rest" }))
}

fn answer(
    world: &Mutex<World>,
    base: &str,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut world = world.lock().unwrap_or_else(|e| e.into_inner());
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    world.requests.push(Recorded {
        method: method.to_string(),
        uri: uri.to_string(),
        authorization: authorization.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if let Some(token) = &world.token
        && authorization.as_deref() != Some(&format!("Bearer {token}"))
    {
        return message(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    if world.limited > 0 {
        world.limited -= 1;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let mut response = message(StatusCode::FORBIDDEN, "API rate limit exceeded");
        let h = response.headers_mut();
        h.insert("x-ratelimit-limit", 5000.into());
        h.insert("x-ratelimit-remaining", 0.into());
        h.insert("x-ratelimit-reset", (now + world.reset_in).into());
        return response;
    }
    let query: BTreeMap<String, String> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%3A", ":")))
        .collect();
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["orgs", org, "teams", team, "members"]) => match world.teams.get(&format!("{org}/{team}")) {
            Some(members) => {
                let items =
                    members.iter().enumerate().map(|(i, m)| json!({"login": m, "id": i + 1})).collect();
                paged(base, &uri, &query, items)
            }
            None => message(StatusCode::NOT_FOUND, "Not Found"),
        },
        (_, ["repos", owner, repo, rest @ ..]) => {
            let full = format!("{owner}/{repo}");
            if let Some(to) = world.renamed.get(&full) {
                let tail: String = rest.iter().map(|s| format!("/{s}")).collect();
                let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
                return Response::builder()
                    .status(StatusCode::MOVED_PERMANENTLY)
                    .header("location", format!("{base}/repos/{to}{tail}{query}"))
                    .body(Body::empty())
                    .unwrap_or_default();
            }
            let Some(state) = world.repos.get(&full) else {
                return message(StatusCode::NOT_FOUND, "Not Found");
            };
            match (method.as_str(), rest) {
                ("GET", []) => respond(
                    StatusCode::OK,
                    json!({"name": repo, "full_name": full, "owner": {"login": owner}}),
                ),
                ("GET", ["tags"]) => {
                    let items = state
                        .tags
                        .iter()
                        .rev()
                        .map(|(name, sha)| {
                            json!({"name": name, "commit": {"sha": sha, "url": format!("{base}/repos/{full}/commits/{sha}")}})
                        })
                        .collect();
                    paged(base, &uri, &query, items)
                }
                ("GET", ["commits"]) => {
                    let since = match query.get("since").map(|s| Timestamp::parse_lenient(s)) {
                        None => None,
                        Some(Ok(t)) => Some(t),
                        Some(Err(e)) => {
                            return message(StatusCode::UNPROCESSABLE_ENTITY, &format!("Invalid since: {e}"));
                        }
                    };
                    let items = state
                        .commits
                        .iter()
                        .rev()
                        .filter(|(_, date)| since.is_none_or(|s| *date >= s))
                        .map(|(sha, date)| json!({"sha": sha, "commit": {"committer": {"date": date.to_string()}}}))
                        .collect();
                    paged(base, &uri, &query, items)
                }
                ("GET", ["commits", sha]) => match state.commits.iter().find(|(s, _)| s == sha) {
                    Some((sha, date)) => respond(
                        StatusCode::OK,
                        json!({"sha": sha, "commit": {"committer": {"date": date.to_string()}}}),
                    ),
                    None => {
                        message(StatusCode::UNPROCESSABLE_ENTITY, &format!("No commit found for SHA: {sha}"))
                    }
                },
                ("POST", ["issues", number, "comments"]) => {
                    let Ok(number) = number.parse::<u64>() else {
                        return message(StatusCode::NOT_FOUND, "Not Found");
                    };
                    let text = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v.get("body").and_then(Value::as_str).map(str::to_owned));
                    match text {
                        Some(text) if !text.is_empty() => {
                            world.comments.push(Comment { repo: full, issue: number, body: text.clone() });
                            respond(StatusCode::CREATED, json!({"id": world.comments.len(), "body": text}))
                        }
                        _ => message(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request: body is missing"),
                    }
                }
                ("PATCH", ["issues", number]) => {
                    let Ok(number) = number.parse::<u64>() else {
                        return message(StatusCode::NOT_FOUND, "Not Found");
                    };
                    let state =
                        serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("state").cloned());
                    if state != Some(json!("closed")) && state != Some(json!("open")) {
                        return message(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request: state");
                    }
                    if state == Some(json!("closed")) {
                        world.closed.push((full, number));
                    }
                    respond(StatusCode::OK, json!({"number": number, "state": state}))
                }
                _ => message(StatusCode::NOT_FOUND, "Not Found"),
            }
        }
        _ => message(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// One page of `items` (`page`, `per_page` as GitHub reads them) with a `Link` to the next.
fn paged(base: &str, uri: &Uri, query: &BTreeMap<String, String>, items: Vec<Value>) -> Response {
    let per_page = query.get("per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(PAGE).clamp(1, 100);
    let page = query.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let start = (page - 1) * per_page;
    let slice: Vec<Value> = items.iter().skip(start).take(per_page).cloned().collect();
    let mut response = respond(StatusCode::OK, Value::Array(slice));
    if start + per_page < items.len() {
        let mut params: Vec<String> =
            query.iter().filter(|(k, _)| k.as_str() != "page").map(|(k, v)| format!("{k}={v}")).collect();
        params.push(format!("page={}", page + 1));
        let link = format!("<{base}{}?{}>; rel=\"next\"", uri.path(), params.join("&"));
        if let Ok(value) = link.parse() {
            response.headers_mut().insert("link", value);
        }
    }
    response
}
