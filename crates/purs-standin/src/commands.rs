//! `purs compile` and `purs graph`: streams, formats and exit codes per compiler version.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use registry_core::Version;
use serde_json::{Map, Value, json};

use crate::diagnostics::{Diagnostic, json_report, pretty_report};
use crate::make::{MakeOutcome, MakeRequest, make};
use crate::modgraph;
use crate::output::Targets;
use crate::sources::{self, InputSpec, SourceFile};

/// Where the stand-in runs and which compiler it pretends to be.
#[derive(Debug, Clone)]
pub struct Env {
    pub compiler: Version,
    pub cwd: PathBuf,
    pub delay: Duration,
}

/// The two output streams.
pub struct Streams<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileOptions {
    pub inputs: InputSpec,
    pub output: PathBuf,
    pub targets: Targets,
    pub json_errors: bool,
    pub prefix: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            inputs: InputSpec::default(),
            output: PathBuf::from("output"),
            targets: Targets::default(),
            json_errors: false,
            prefix: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphOptions {
    pub inputs: InputSpec,
    pub json_errors: bool,
}

/// Compiler errors went to stderr before 0.14.0, to stdout since.
fn errors_on_stdout(compiler: Version) -> bool {
    compiler >= Version::new(0, 14, 0)
}

pub const NO_INPUT_HINT: &str = "Usage: For basic information, try the `--help' option.";

pub fn compile(options: &CompileOptions, env: &Env, io: &mut Streams) -> io::Result<i32> {
    let paths = sources::collect(&options.inputs, Some("purs compile"), io.err)?;
    if paths.is_empty() {
        writeln!(io.err, "purs compile: No input files.\n{NO_INPUT_HINT}")?;
        return Ok(1);
    }
    let files = match sources::parse_all(&paths) {
        Ok(files) => files,
        Err(errors) => return report(&errors, options.json_errors, env.compiler, io),
    };
    let request = MakeRequest {
        output: options.output.clone(),
        targets: options.targets,
        prefix: options.prefix,
        compiler: env.compiler,
        cwd: env.cwd.clone(),
        delay: env.delay,
    };
    let compiler = env.compiler;
    let Streams { out, err } = io;
    let mut progress = |i: usize, n: usize, module: &str| -> io::Result<()> {
        if compiler >= Version::new(0, 15, 0) {
            let width = n.to_string().len();
            writeln!(err, "[{i:>width$} of {n}] Compiling {module}")?;
            err.flush()
        } else if compiler >= Version::new(0, 14, 0) {
            writeln!(err, "Compiling {module}")?;
            err.flush()
        } else {
            writeln!(out, "Compiling {module}")?;
            out.flush()
        }
    };
    let errors = match make(&files, &request, &mut progress)? {
        MakeOutcome::Aborted(errors) => errors,
        MakeOutcome::Built { errors, .. } => errors,
    };
    report(&errors, options.json_errors, env.compiler, &mut Streams { out, err })
}

/// Prints the result in the requested form on the version's stream; exit code 1 when there
/// are errors.
fn report(errors: &[Diagnostic], json_errors: bool, compiler: Version, io: &mut Streams) -> io::Result<i32> {
    let stream: &mut dyn Write = if errors_on_stdout(compiler) { &mut *io.out } else { &mut *io.err };
    if json_errors {
        writeln!(stream, "{}", json_report(errors))?;
    } else if !errors.is_empty() {
        write!(stream, "{}", pretty_report(errors))?;
    }
    stream.flush()?;
    Ok(if errors.is_empty() { 0 } else { 1 })
}

pub fn graph(options: &GraphOptions, env: &Env, io: &mut Streams) -> io::Result<i32> {
    let miss_prefix = if options.json_errors { None } else { Some("purs graph") };
    let paths = sources::collect(&options.inputs, miss_prefix, io.err)?;
    if paths.is_empty() && !options.json_errors {
        writeln!(io.err, "purs graph: No input files.\n{NO_INPUT_HINT}")?;
        return Ok(1);
    }
    let result = sources::parse_all(&paths).and_then(|files| {
        // Duplicate module names are not an error for graph: the last file wins.
        let mut by_name: BTreeMap<String, SourceFile> = BTreeMap::new();
        for f in files {
            by_name.insert(f.module.name.clone(), f);
        }
        let unique: Vec<SourceFile> = by_name.into_values().collect();
        let analysis = modgraph::analyse(&unique, env.compiler)?;
        Ok(graph_json(&unique, &analysis.direct))
    });
    let (graph, errors) = match result {
        Ok(graph) => (Some(graph), Vec::new()),
        Err(errors) => (None, errors),
    };
    if options.json_errors {
        writeln!(io.err, "{}", json_report(&errors))?;
    } else if !errors.is_empty() {
        write!(io.err, "{}", pretty_report(&errors))?;
    }
    if let Some(graph) = graph {
        write!(io.out, "{graph}")?;
    }
    io.out.flush()?;
    Ok(if errors.is_empty() { 0 } else { 1 })
}

/// `{"<Module>":{"depends":[…],"path":"…"},…}`, keys sorted, compact.
fn graph_json(files: &[SourceFile], direct: &[Vec<usize>]) -> String {
    let mut map = Map::new();
    let mut entries: Vec<(usize, &SourceFile)> = files.iter().enumerate().collect();
    entries.sort_by(|a, b| a.1.module.name.cmp(&b.1.module.name));
    for (i, f) in entries {
        let depends: Vec<&str> = direct[i].iter().map(|&d| files[d].module.name.as_str()).collect();
        map.insert(f.module.name.clone(), json!({ "depends": depends, "path": f.path }));
    }
    Value::Object(map).to_string()
}
