//! A tiny WebDriver client for the dashboard's browser tests: plain HTTP/1.1 over a
//! loopback socket to `chromedriver`, which drives headless Chromium. Only what the
//! tests use: sessions, navigation, scripts, window size and screenshots.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// One HTTP/1.1 request with `Connection: close`: (status, body).
pub fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connecting to {addr}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(120))).map_err(|e| e.to_string())?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    // chromedriver keeps connections open whatever the request says: the answer ends
    // where its Content-Length (or last chunk) says, not at end of stream.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut buf).map_err(|e| format!("reading the answer to {method} {path}: {e}"))?;
        if n == 0 {
            return Err(format!("{method} {path}: the connection closed before an answer"));
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status in {head:?}"))?;
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_ascii_lowercase())
        })
    };
    let mut body = raw[head_end + 4..].to_vec();
    let length = header("content-length").and_then(|v| v.parse::<usize>().ok());
    let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    loop {
        let done = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if done {
            break;
        }
        let n = stream.read(&mut buf).map_err(|e| format!("reading the answer to {method} {path}: {e}"))?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let body = if chunked { dechunk(&text) } else { text };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].strip_prefix("\r\n").unwrap_or(&rest[size..]);
    }
    out
}

/// `chromium` and `chromedriver` on this machine, or why the tests cannot run.
pub fn find_browser() -> Result<(PathBuf, PathBuf), String> {
    let find = |names: &[&str]| {
        names.iter().find_map(|name| {
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|dir| Path::new(dir).join(name))
                .find(|p| p.is_file())
        })
    };
    let chromium =
        std::env::var_os("CHROMIUM").map(PathBuf::from).or_else(|| find(&["chromium", "chromium-browser"]));
    let driver = std::env::var_os("CHROMEDRIVER").map(PathBuf::from).or_else(|| find(&["chromedriver"]));
    match (chromium, driver) {
        (Some(c), Some(d)) => Ok((c, d)),
        _ => Err("chromium/chromedriver not found (scripts/setup.sh installs Debian's chromium and chromium-driver)".into()),
    }
}

/// A running `chromedriver` with one headless Chromium session; both end on drop.
pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(9515)
}

impl Browser {
    pub fn start(chromium: &Path, chromedriver: &Path) -> Result<Browser, String> {
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", chromedriver.display()))?;
        let addr = format!("127.0.0.1:{port}");
        let mut browser = Browser { driver, addr, session: String::new() };
        let started = Instant::now();
        while !http(&browser.addr, "GET", "/status", None)
            .is_ok_and(|(s, b)| s == 200 && b.contains("\"ready\":true"))
        {
            if started.elapsed() > Duration::from_secs(30) {
                return Err("chromedriver did not become ready in 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run", "--disable-extensions"]
            }
        }}});
        let answer = browser.call("POST", "/session", Some(capabilities))?;
        browser.session =
            answer["sessionId"].as_str().ok_or_else(|| format!("no session in {answer}"))?.to_owned();
        Ok(browser)
    }

    /// A WebDriver command; its `value`, or the driver's error message.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let text = body.map(|b| b.to_string());
        let (status, answer) = http(&self.addr, method, path, text.as_deref())?;
        let value: Value =
            serde_json::from_str(&answer).map_err(|e| format!("{method} {path}: {e}: {answer}"))?;
        let value = value.get("value").cloned().unwrap_or(Value::Null);
        if status != 200 {
            return Err(format!(
                "{method} {path} answered {status}: {}",
                value.get("message").unwrap_or(&value)
            ));
        }
        Ok(value)
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) -> Result<(), String> {
        self.session_call("POST", "/url", Some(json!({ "url": url }))).map(drop)
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub fn run(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.session_call("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// The visible text of the first element matching `selector` ("" if none).
    pub fn text(&self, selector: &str) -> Result<String, String> {
        let v = self.run(
            "var e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            vec![json!(selector)],
        )?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    pub fn url(&self) -> Result<String, String> {
        Ok(self.session_call("GET", "/url", None)?.as_str().unwrap_or_default().to_owned())
    }

    /// Waits until `check` holds, polling; fails with `what` and the last text seen.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Browser) -> Result<bool, String>,
    ) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if check(self)? {
                return Ok(());
            }
            if started.elapsed() > timeout {
                let body = self.text("main").unwrap_or_default();
                return Err(format!(
                    "timed out after {timeout:?} waiting for {what}; the page shows:\n{body}"
                ));
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    pub fn resize(&self, width: u32, height: u32) -> Result<(), String> {
        self.session_call("POST", "/window/rect", Some(json!({ "width": width, "height": height }))).map(drop)
    }

    /// Presses keys (e.g. "\u{E004}" for Tab) as a keyboard user would.
    pub fn keys(&self, keys: &str) -> Result<(), String> {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.session_call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .map(drop)
    }

    /// Writes a PNG of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) -> Result<(), String> {
        let data = self.session_call("GET", "/screenshot", None)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .map_err(|e| format!("the screenshot is not base64: {e}"))?;
        if !png.starts_with(b"\x89PNG") {
            return Err("the screenshot is not a PNG".into());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, png).map_err(|e| format!("writing {}: {e}", path.display()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
