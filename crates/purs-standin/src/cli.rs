//! The command line, parsed the way purs's (optparse-applicative) parser accepts it:
//! options anywhere among the positional arguments, `--opt=value` and `-oVALUE`, `--`
//! ending options; GHC runtime options (`+RTS … -RTS`) are skipped.

use std::io;
use std::path::PathBuf;

use registry_core::Version;

use crate::commands::{self, CompileOptions, Env, GraphOptions, Streams};
use crate::output::Targets;
use crate::publish::{self, PublishOptions};
use crate::sources::InputSpec;

/// Runs one invocation; gives the exit code.
pub fn run(args: &[String], env: &Env, io: &mut Streams) -> io::Result<i32> {
    let args = strip_rts_options(args);
    let Some(first) = args.first() else {
        write!(io.out, "{}", help(env.compiler))?;
        return Ok(0);
    };
    match first.as_str() {
        "--help" | "-h" => {
            write!(io.out, "{}", help(env.compiler))?;
            Ok(0)
        }
        "--version" => {
            writeln!(io.out, "{}", env.compiler)?;
            Ok(0)
        }
        "compile" => match parse_compile(&args[1..], env.compiler) {
            Ok(Some(options)) => commands::compile(&options, env, io),
            Ok(None) => usage_help(io, "compile"),
            Err(why) => usage_error(io, "compile", &why),
        },
        "graph" if env.compiler >= Version::new(0, 13, 8) => match parse_graph(&args[1..], env.compiler) {
            Ok(Some(options)) => commands::graph(&options, env, io),
            Ok(None) => usage_help(io, "graph"),
            Err(why) => usage_error(io, "graph", &why),
        },
        "publish" => match parse_publish(&args[1..]) {
            Ok(Some(options)) => publish::publish(&options, env, io),
            Ok(None) => usage_help(io, "publish"),
            Err(why) => usage_error(io, "publish", &why),
        },
        "bundle" | "docs" | "ide" | "repl" | "hierarchy" | "graph" => {
            writeln!(
                io.err,
                "purs {first}: not available in purs-standin (a stand-in for purs that implements compile, graph, publish and --version)"
            )?;
            Ok(1)
        }
        other => {
            let what = if other.starts_with('-') { "option" } else { "argument" };
            writeln!(io.err, "Invalid {what} `{other}'\n\n{}", usage_line(""))?;
            Ok(1)
        }
    }
}

fn strip_rts_options(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_rts = false;
    for arg in args {
        match arg.as_str() {
            "+RTS" => in_rts = true,
            "-RTS" if in_rts => in_rts = false,
            _ if in_rts => {}
            _ => out.push(arg.clone()),
        }
    }
    out
}

fn usage_line(command: &str) -> String {
    let command = if command.is_empty() { "COMMAND".to_owned() } else { command.to_owned() };
    format!("Usage: purs {command} … (purs-standin; try `purs {command} --help')")
}

fn usage_error(io: &mut Streams, command: &str, why: &str) -> io::Result<i32> {
    writeln!(io.err, "{why}\n\n{}", usage_line(command))?;
    Ok(1)
}

fn usage_help(io: &mut Streams, command: &str) -> io::Result<i32> {
    let text = match command {
        "compile" => {
            "Usage: purs compile [FILE] [-x|--exclude-files ARG] [--source-globs-file ARG] [-o|--output ARG] [-g|--codegen ARG] [--json-errors] [-p|--no-prefix] [-v|--verbose-errors] [-c|--comments]\n  Compile PureScript source files (purs-standin: checks headers and imports only)\n"
        }
        "graph" => {
            "Usage: purs graph [FILE] [-x|--exclude-files ARG] [--source-globs-file ARG] [--json-errors]\n  Module dependency graph\n"
        }
        _ => {
            "Usage: purs publish --manifest FILE --resolutions FILE [--compile-output DIR] [--dry-run]\n  Generates documentation packages for upload to Pursuit\n"
        }
    };
    write!(io.out, "{text}")?;
    Ok(0)
}

fn help(compiler: Version) -> String {
    format!(
        "Usage: purs COMMAND\n  The PureScript compiler and tools — here played by purs-standin {compiler}, a stand-in that is NOT a compiler.\n\nAvailable commands:\n  compile                  Compile PureScript source files\n  graph                    Module dependency graph\n  publish                  Generates documentation packages for upload to Pursuit\n"
    )
}

/// Command-line words split into positional arguments and options.
#[derive(Default)]
struct Words {
    positional: Vec<String>,
    flags: Vec<&'static str>,
    values: Vec<(&'static str, String)>,
    help: bool,
}

/// `flags`: (spellings, key); `options`: (spellings, key) taking a value.
fn split_words(
    args: &[String],
    flags: &[(&[&str], &'static str)],
    options: &[(&[&str], &'static str)],
) -> Result<Words, String> {
    let mut words = Words::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            words.positional.extend(args[i..].iter().cloned());
            break;
        }
        if arg == "--help" || arg == "-h" {
            words.help = true;
            continue;
        }
        if !arg.starts_with('-') || arg == "-" {
            words.positional.push(arg.clone());
            continue;
        }
        let (name, attached) = match arg.split_once('=') {
            Some((n, v)) if arg.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ if !arg.starts_with("--") && arg.len() > 2 => (arg[..2].to_owned(), Some(arg[2..].to_owned())),
            _ => (arg.clone(), None),
        };
        if let Some((_, key)) = flags.iter().find(|(names, _)| names.contains(&name.as_str())) {
            if attached.is_some() {
                return Err(format!("Invalid option `{arg}'"));
            }
            words.flags.push(key);
        } else if let Some((_, key)) = options.iter().find(|(names, _)| names.contains(&name.as_str())) {
            let value = match attached {
                Some(v) => v,
                None => {
                    let v = args.get(i).ok_or_else(|| format!("The option `{name}' expects an argument."))?;
                    i += 1;
                    v.clone()
                }
            };
            words.values.push((key, value));
        } else {
            return Err(format!("Invalid option `{arg}'"));
        }
    }
    Ok(words)
}

impl Words {
    fn all(&self, key: &str) -> Vec<String> {
        self.values.iter().filter(|(k, _)| *k == key).map(|(_, v)| v.clone()).collect()
    }

    /// The last value given for an option.
    fn last(&self, key: &str) -> Option<String> {
        self.all(key).pop()
    }

    fn flag(&self, key: &str) -> bool {
        self.flags.contains(&key)
    }
}

const EXCLUDE: &[&str] = &["-x", "--exclude-files"];
const GLOBS_FILE: &[&str] = &["--source-globs-file"];

fn input_options(compiler: Version, exclude_since: Version) -> Vec<(&'static [&'static str], &'static str)> {
    let mut options: Vec<(&[&str], &str)> = Vec::new();
    if compiler >= exclude_since {
        options.push((EXCLUDE, "exclude"));
    }
    if compiler >= Version::new(0, 15, 15) {
        options.push((GLOBS_FILE, "globs-file"));
    }
    options
}

fn parse_compile(args: &[String], compiler: Version) -> Result<Option<CompileOptions>, String> {
    let mut options = input_options(compiler, Version::new(0, 15, 10));
    options.push((&["-o", "--output"], "output"));
    options.push((&["-g", "--codegen"], "codegen"));
    let flags: &[(&[&str], &str)] = &[
        (&["--json-errors"], "json"),
        (&["-p", "--no-prefix"], "no-prefix"),
        (&["-v", "--verbose-errors"], "verbose"),
        (&["-c", "--comments"], "comments"),
    ];
    let words = split_words(args, flags, &options)?;
    if words.help {
        return Ok(None);
    }
    let targets = match words.last("codegen") {
        Some(list) => Targets::parse(&list)?,
        None => Targets::default(),
    };
    Ok(Some(CompileOptions {
        inputs: InputSpec {
            globs: words.positional.clone(),
            excludes: words.all("exclude"),
            globs_file: words.last("globs-file"),
        },
        output: PathBuf::from(words.last("output").unwrap_or_else(|| "output".into())),
        targets,
        json_errors: words.flag("json"),
        prefix: !words.flag("no-prefix"),
    }))
}

fn parse_graph(args: &[String], compiler: Version) -> Result<Option<GraphOptions>, String> {
    let options = input_options(compiler, Version::new(0, 15, 15));
    let words = split_words(args, &[(&["--json-errors"], "json")], &options)?;
    if words.help {
        return Ok(None);
    }
    Ok(Some(GraphOptions {
        inputs: InputSpec {
            globs: words.positional.clone(),
            excludes: words.all("exclude"),
            globs_file: words.last("globs-file"),
        },
        json_errors: words.flag("json"),
    }))
}

fn parse_publish(args: &[String]) -> Result<Option<PublishOptions>, String> {
    let words = split_words(
        args,
        &[(&["--dry-run"], "dry-run")],
        &[
            (&["--manifest"], "manifest"),
            (&["--resolutions"], "resolutions"),
            (&["--compile-output"], "compile-output"),
        ],
    )?;
    if words.help {
        return Ok(None);
    }
    if let Some(extra) = words.positional.first() {
        return Err(format!("Invalid argument `{extra}'"));
    }
    let (Some(manifest), Some(resolutions)) = (words.last("manifest"), words.last("resolutions")) else {
        return Err("Missing: --manifest FILE --resolutions FILE".into());
    };
    // purs reads this option with Haskell's `read`, so it must be a quoted string.
    let compile_output = match words.last("compile-output") {
        None => PathBuf::from("output"),
        Some(v) => match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(dir) => PathBuf::from(dir),
            None => return Err(format!("option --compile-output: cannot parse value `{v}'")),
        },
    };
    Ok(Some(PublishOptions { manifest, resolutions, compile_output, dry_run: words.flag("dry-run") }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn compile_options_anywhere_and_in_every_spelling() {
        let v = Version::new(0, 15, 15);
        let o = parse_compile(
            &strings(&[
                "src/**/*.purs",
                "--json-errors",
                "-oout",
                "--codegen=corefn",
                "-x",
                "src/X.purs",
                "dep/*.purs",
                "-p",
            ]),
            v,
        )
        .unwrap()
        .unwrap();
        assert_eq!(o.inputs.globs, ["src/**/*.purs", "dep/*.purs"]);
        assert_eq!(o.inputs.excludes, ["src/X.purs"]);
        assert_eq!(o.output, PathBuf::from("out"));
        assert_eq!(o.targets.files(), ["corefn.json"]);
        assert!(o.json_errors && !o.prefix);
        assert!(
            parse_compile(&strings(&["--frobnicate"]), v)
                .unwrap_err()
                .contains("Invalid option `--frobnicate'")
        );
        assert!(
            parse_compile(&strings(&["-x", "a"]), Version::new(0, 15, 9)).is_err(),
            "-x arrived in 0.15.10"
        );
        assert!(parse_compile(&strings(&["-o"]), v).unwrap_err().contains("expects an argument"));
    }

    #[test]
    fn runtime_options_are_ignored() {
        assert_eq!(strip_rts_options(&strings(&["compile", "+RTS", "-N4", "-RTS", "x"])), ["compile", "x"]);
    }

    #[test]
    fn publish_needs_manifest_and_resolutions() {
        let o = parse_publish(&strings(&["--manifest", "purs.json", "--resolutions", "r.json"]))
            .unwrap()
            .unwrap();
        assert_eq!((o.manifest.as_str(), o.compile_output.to_str().unwrap()), ("purs.json", "output"));
        assert!(parse_publish(&strings(&["--manifest", "purs.json"])).unwrap_err().starts_with("Missing"));
        assert!(
            parse_publish(&strings(&["--manifest", "m", "--resolutions", "r", "--compile-output", "out"]))
                .is_err()
        );
    }
}
