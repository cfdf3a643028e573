//! HTML building blocks shared by the dashboard's pages: escaping, the page frame,
//! plain-language times and states. Every string that reaches a page from a package,
//! a job or a log goes through [`Esc`].

use std::fmt::{self, Write};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_core::Timestamp;

/// Text escaped for HTML element content and double-quoted attribute values.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// A query-string component, percent-encoded (for links built from data).
pub fn url_part(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

static POLICY: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
    // The registry's hash format, `sha256-<base64>`, is the CSP source syntax too.
    let hash = |text: &str| registry_core::Sha256::of_bytes(text.as_bytes()).as_str().to_owned();
    HeaderValue::from_str(&format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; img-src 'self'; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        hash(JS),
        hash(CSS)
    ))
    .expect("hashes are header-safe")
});

/// Which top-level section a page belongs to (highlighted in the navigation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Jobs,
    Packages,
    PackageSets,
}

/// A complete page: the frame (navigation, styles, script) around `body`.
pub fn page(section: Section, title: &str, body: &str) -> Response {
    let mut html = String::with_capacity(body.len() + CSS.len() + JS.len() + 1024);
    let nav = |s: Section, href: &str, label: &str| {
        let current = if s == section { " aria-current=\"page\"" } else { "" };
        format!("<a href=\"{href}\"{current}>{label}</a>")
    };
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · PureScript registry</title><style>{CSS}</style></head><body>\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header><nav aria-label=\"Sections\"><strong>Registry</strong>{}{}{}<a href=\"/metrics\">Metrics</a></nav></header>\
         <main id=\"main\">{body}</main><script>{JS}</script></body></html>",
        Esc(title),
        nav(Section::Jobs, "/", "Jobs"),
        nav(Section::Packages, "/packages", "Packages"),
        nav(Section::PackageSets, "/package-sets", "Package sets"),
    );
    html_response(StatusCode::OK, html)
}

pub fn html_response(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // Only our own script and style run, named by their hashes: should escaping ever
    // miss, injected markup still could not run a script or load anything.
    headers.insert(header::CONTENT_SECURITY_POLICY, POLICY.clone());
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// A page saying what was not found and where to go instead.
pub fn not_found(section: Section, what: &str) -> Response {
    let mut response = page(
        section,
        "Not found",
        &format!("<h1>Not found</h1><p>{}</p><p><a href=\"/\">Back to the jobs</a></p>", Esc(what)),
    );
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// A page for a request the dashboard cannot answer (bad filter value, store error).
pub fn problem(section: Section, status: StatusCode, message: &str) -> Response {
    let mut response = page(
        section,
        "Problem",
        &format!("<h1>Cannot show this page</h1><p class=\"error\">{}</p>", Esc(message)),
    );
    *response.status_mut() = status;
    response
}

/// "3 min", "2 h 5 min", "4 days": a duration a person reads at a glance.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0 => format!("{} ms", ms.max(0)),
        1..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s / 60 % 60),
        _ => format!("{} days", s / 86_400),
    }
}

/// "2026-01-31 10:04 UTC" with the exact instant in a tooltip.
pub fn when(ts: Timestamp) -> String {
    let iso = ts.to_string();
    let short = format!("{} {} UTC", &iso[..10], &iso[11..16]);
    format!("<time datetime=\"{iso}\" title=\"{iso}\">{short}</time>")
}

/// "12 kB": sizes of tarballs.
pub fn bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_that_could_open_markup_is_escaped() {
        assert_eq!(
            Esc("<script>a&b</script>\"'").to_string(),
            "&lt;script&gt;a&amp;b&lt;/script&gt;&quot;&#39;"
        );
        assert_eq!(Esc("plain ünïcode").to_string(), "plain ünïcode");
    }

    #[test]
    fn durations_read_plainly() {
        assert_eq!(duration(400), "400 ms");
        assert_eq!(duration(3 * 60_000 + 5_000), "3 min");
        assert_eq!(duration(2 * 3_600_000 + 5 * 60_000), "2 h 5 min");
        assert_eq!(duration(-5), "0 ms");
    }
}
