//! Input files: globs to paths, paths to parsed modules.

use std::io::{self, Write};

use crate::diagnostics::Diagnostic;
use crate::glob;
use crate::syntax::{Module, parse_module};

/// Which files a command reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputSpec {
    pub globs: Vec<String>,
    /// `-x/--exclude-files`.
    pub excludes: Vec<String>,
    /// `--source-globs-file`: one glob per line, blank lines and `#` lines ignored.
    pub globs_file: Option<String>,
}

/// A parsed input file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path exactly as glob expansion produced it.
    pub path: String,
    pub module: Module,
}

/// Expands the globs into file paths, in glob order, without repeats. A glob matching
/// nothing is reported as `<command>: No files found using pattern: <glob>` when
/// `miss_prefix` is given.
pub fn collect(spec: &InputSpec, miss_prefix: Option<&str>, err: &mut dyn Write) -> io::Result<Vec<String>> {
    let mut globs: Vec<String> = spec.globs.clone();
    if let Some(file) = &spec.globs_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| io::Error::new(e.kind(), format!("could not read source globs file {file}: {e}")))?;
        globs.extend(
            text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned),
        );
    }
    let mut unique_globs: Vec<String> = Vec::new();
    for g in globs {
        if !unique_globs.contains(&g) {
            unique_globs.push(g);
        }
    }
    let excluded: Vec<String> = spec.excludes.iter().flat_map(|x| glob::expand(x)).collect();
    let mut files: Vec<String> = Vec::new();
    for g in &unique_globs {
        let matched = glob::expand(g);
        if matched.is_empty()
            && let Some(prefix) = miss_prefix
        {
            writeln!(err, "{prefix}: No files found using pattern: {g}")?;
        }
        for path in matched {
            if !excluded.contains(&path) && !files.contains(&path) {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// Reads and parses every file; all header parse errors are reported together.
pub fn parse_all(paths: &[String]) -> Result<Vec<SourceFile>, Vec<Diagnostic>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                errors.push(Diagnostic {
                    code: "FileIOError",
                    lines: vec![
                        format!("I/O error while trying to read file {path}"),
                        String::new(),
                        format!("  {e}"),
                    ],
                    spans: Vec::new(),
                    module: None,
                });
                continue;
            }
        };
        match parse_module(&text) {
            Ok(module) => files.push(SourceFile { path: path.clone(), module }),
            Err(e) => errors.push(Diagnostic::parse_error(path, &e)),
        }
    }
    if errors.is_empty() { Ok(files) } else { Err(errors) }
}
