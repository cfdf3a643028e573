//! Vector cases that call a compiler (`Purs.callCompiler …` in purs-json-errors.json and
//! compilers.json), checked against whichever compiler the given driver finds. Shared by
//! this crate's vector tests (real `purs` binaries) and the stand-in's.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use registry_compiler::{CompilerArgs, CompilerFailure, Purs, PursCommand};
use registry_core::Version;
use serde_json::Value;

/// The compiler a case asks for: a version, or `null` for plain `purs`.
pub fn case_compiler(input: &Value) -> Result<Option<Version>, String> {
    match &input["compiler"] {
        Value::Null => Ok(None),
        Value::String(v) => Version::parse(v).map(Some),
        other => Err(format!("unexpected compiler field {other}")),
    }
}

pub fn compiler_label(version: Option<Version>) -> String {
    version.map_or_else(|| "purs".to_owned(), |v| format!("purs-{}", v.to_string().replace('.', "_")))
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh empty directory, removed again when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("purs-case-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// `Purs.callCompiler Compile`: the file fails to compile with exactly the expected number
/// of errors, the first starting where expected.
pub fn check_compile_case(purs: &Purs, input: &Value, expect: &Value) -> Result<bool, String> {
    let version = case_compiler(input)?;
    let tmp = TempDir::new("compile");
    let file = tmp.0.join(input["file"].as_str().ok_or("input.file is not a string")?);
    std::fs::write(&file, input["contents"].as_str().ok_or("input.contents is not a string")?)
        .map_err(|e| e.to_string())?;
    let result = purs.compile(version, Some(tmp.0.clone()), vec![path_str(&file)], None);
    let Err(CompilerFailure::CompilationError(errors)) = result else {
        return Err(format!("expected a CompilationError, got {result:?}"));
    };
    let want_count = expect["CompilationError_count"].as_u64().ok_or("no CompilationError_count")?;
    if errors.len() as u64 != want_count {
        return Err(format!("{} errors, expected {want_count}: {errors:?}", errors.len()));
    }
    let start = &expect["position_start"];
    let got = (errors[0].position.start_line, errors[0].position.start_column);
    let want = (start["startLine"].as_u64().unwrap_or(0), start["startColumn"].as_u64().unwrap_or(0));
    if got != want {
        return Err(format!("first error starts at {got:?}, expected {want:?}"));
    }
    Ok(true)
}

/// `Purs.callCompiler Graph`: the graph of the given files, paths as passed (absolute).
pub fn check_graph_case(purs: &Purs, input: &Value, expect: &Value) -> Result<bool, String> {
    let version = case_compiler(input)?;
    let tmp = TempDir::new("graph");
    let mut globs = Vec::new();
    for (name, contents) in input["files"].as_object().ok_or("input.files is not an object")? {
        let path = tmp.0.join(name);
        std::fs::write(&path, contents.as_str().unwrap_or("")).map_err(|e| e.to_string())?;
        globs.push(path_str(&path));
    }
    let graph = purs.graph(version, None, globs).map_err(|e| format!("graph failed: {e}"))?;
    let want = expect["graph"].as_object().ok_or("expect.graph is not an object")?;
    let tmp_text = path_str(&tmp.0);
    if graph.modules.len() != want.len() {
        return Err(format!("{} modules, expected {}", graph.modules.len(), want.len()));
    }
    for (module, node) in want {
        let got = graph.modules.get(module).ok_or_else(|| format!("module {module} missing"))?;
        let path = node["path"].as_str().unwrap_or("").replace("<tmp>", &tmp_text);
        let depends: Vec<&str> =
            node["depends"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        if got.path != path || got.depends != depends {
            return Err(format!("{module}: got {got:?}, expected path {path} depends {depends:?}"));
        }
    }
    Ok(true)
}

/// `Purs.callCompiler Version`: stdout is the version, or the compiler is missing.
pub fn check_version_case(purs: &Purs, input: &Value, expect: &Value) -> Result<bool, String> {
    let version = Version::parse(input.as_str().ok_or("input is not a version string")?)?;
    let result =
        purs.call(&CompilerArgs { version: Some(version), cwd: None, command: PursCommand::Version });
    match (expect["ok"].as_bool(), result) {
        (Some(true), Ok(stdout)) => {
            let want = expect["stdout"].as_str().unwrap_or("");
            if stdout == want { Ok(true) } else { Err(format!("stdout {stdout:?}, expected {want:?}")) }
        }
        (Some(false), Err(CompilerFailure::MissingCompiler)) if expect["error"] == "MissingCompiler" => {
            Ok(true)
        }
        (_, other) => Err(format!("got {other:?}, expected {expect}")),
    }
}
