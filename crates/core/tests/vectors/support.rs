//! Shared machinery for the data-driven tests over `../shared/data/vectors`.
//!
//! The vectors are third-party facts (upstream registry-dev's tests) and are never
//! copied into this repository: they are read from the `shared/` folder beside the
//! checkout (or `REGISTRY_SHARED_DIR`). Where that folder is absent the tests say so
//! and pass without checking anything.

use std::path::PathBuf;

use serde_json::Value;

/// `shared/` next to the workspace, or `REGISTRY_SHARED_DIR`.
pub fn shared_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("REGISTRY_SHARED_DIR") {
        return Some(PathBuf::from(dir));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    root.is_dir().then(|| root.canonicalize().unwrap_or(root))
}

/// Loads a vector file, or prints why it is skipped.
pub fn load(file: &str) -> Option<Value> {
    let Some(dir) = shared_dir() else {
        eprintln!("SKIPPED {file}: ../shared/data/vectors is absent (set REGISTRY_SHARED_DIR to run it)");
        return None;
    };
    let path = dir.join("data/vectors").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display())))
}

/// Runs `check` on every case of a vector file and fails with every mismatch at once.
///
/// `check` returns `Ok(true)` when it checked the case, `Ok(false)` when the case's
/// `function` is not one it knows (which fails the test: every case must be handled),
/// and `Err(why)` on a mismatch.
pub fn run_cases(file: &str, mut check: impl FnMut(&str, &Value, &Value, &Value) -> Result<bool, String>) {
    let Some(doc) = load(file) else { return };
    let cases = doc["cases"].as_array().expect("a vector file has cases");
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let function = case["function"].as_str().unwrap_or("");
        let label = case.get("label").and_then(Value::as_str).unwrap_or("");
        match check(function, &case["input"], &case["expect"], case) {
            Ok(true) => {}
            Ok(false) => failures.push(format!("case {i} ({function}): no check for this function")),
            Err(why) => failures.push(format!("case {i} ({function}) {label}: {why}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{file}: {} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{file}: {} cases checked", cases.len());
}

/// Compares a parse result with an `expect` of the shape `{ok, printed?, error?, error_contains?}`.
pub fn expect_parse(expect: &Value, result: Result<String, String>) -> Result<bool, String> {
    let want_ok = expect["ok"].as_bool().ok_or("expect has no 'ok'")?;
    match (want_ok, result) {
        (true, Ok(printed)) => match expect.get("printed").and_then(Value::as_str) {
            Some(want) if want != printed => Err(format!("printed {printed:?}, expected {want:?}")),
            _ => Ok(true),
        },
        (true, Err(e)) => Err(format!("failed with {e:?}, expected success")),
        (false, Ok(printed)) => Err(format!("succeeded with {printed:?}, expected failure")),
        (false, Err(e)) => {
            if let Some(want) = expect.get("error").and_then(Value::as_str)
                && want != e
            {
                return Err(format!("error {e:?}, expected {want:?}"));
            }
            if let Some(want) = expect.get("error_contains").and_then(Value::as_str)
                && !e.contains(want)
            {
                return Err(format!("error {e:?} does not contain {want:?}"));
            }
            Ok(true)
        }
    }
}

/// `expect.value` as a string.
pub fn expect_value_str(expect: &Value) -> Result<&str, String> {
    expect["value"].as_str().ok_or_else(|| "expect.value is not a string".to_owned())
}

/// Fails unless `got == want`.
pub fn same<T: PartialEq + std::fmt::Debug>(got: T, want: T) -> Result<bool, String> {
    if got == want { Ok(true) } else { Err(format!("got {got:?}, expected {want:?}")) }
}

pub fn input_str(input: &Value) -> Result<&str, String> {
    input.as_str().ok_or_else(|| format!("input is not a string: {input}"))
}
