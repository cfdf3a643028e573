//! `purs publish --manifest FILE --resolutions FILE [--compile-output DIR] [--dry-run]`.
//!
//! Checks, in purs's order: clean git tree (an untracked manifest is allowed), manifest
//! readable (`purs.json` converted to Bower form with `purescript-` prefixes), a licence
//! given, repository on GitHub, exactly one `v<version>` tag at HEAD, the resolutions file,
//! a documentation build of `src/**/*.purs` plus each resolution's `src/**/*.purs` (docs
//! target only), and every declared dependency present in the resolutions. Prints one
//! progress line per compiled module and then the package JSON (keys sorted) as the last
//! line of stdout.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use registry_core::{Date, Version};
use serde_json::{Map, Value, json};

use crate::commands::{Env, Streams};
use crate::diagnostics::pretty_report;
use crate::glob;
use crate::make::{MakeOutcome, MakeRequest, make};
use crate::output::{Targets, docs_json};
use crate::sources;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOptions {
    pub manifest: String,
    pub resolutions: String,
    pub compile_output: PathBuf,
    pub dry_run: bool,
}

/// A problem that stops publishing, rendered in purs's error box.
struct UserError(String);

pub fn publish(options: &PublishOptions, env: &Env, io: &mut Streams) -> io::Result<i32> {
    match prepare(options, env, io)? {
        Ok(package) => {
            if options.dry_run {
                writeln!(io.out, "Dry run completed, no errors.")?;
            } else {
                writeln!(io.out, "{}", sort_keys(package))?;
            }
            io.out.flush()?;
            Ok(0)
        }
        Err(UserError(details)) => {
            writeln!(
                io.err,
                "There is a problem with your package, which meant that it could not be published."
            )?;
            writeln!(io.err, "Details:")?;
            for line in details.lines() {
                writeln!(io.err, "  {line}")?;
            }
            Ok(1)
        }
    }
}

fn prepare(options: &PublishOptions, env: &Env, io: &mut Streams) -> io::Result<Result<Value, UserError>> {
    macro_rules! check {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            }
        };
    }
    check!(check_clean_tree(&options.manifest, options.dry_run, env, io)?);
    let meta = check!(read_manifest(&options.manifest, &env.cwd));
    let (tag, version, tag_time) = if options.dry_run {
        ("0.0.0".to_owned(), Version::new(0, 0, 0), SystemTime::now())
    } else {
        let (tag, version) = check!(version_from_tag(env)?);
        let time = check!(tag_time(&tag, env)?);
        (tag, version, time)
    };
    let resolutions = check!(read_resolutions(&options.resolutions, &env.cwd));

    // Sources: the package's own, then each dependency's, remembering which is whose.
    let own = glob::expand(&env.cwd.join("src/**/*.purs").to_string_lossy());
    let mut paths: Vec<String> = own.iter().map(|p| relative_to(p, &env.cwd)).collect();
    let mut owner_of: BTreeMap<String, String> = BTreeMap::new();
    for (package, resolution) in &resolutions {
        let dir = env.cwd.join(&resolution.path);
        for path in glob::expand(&dir.join("src/**/*.purs").to_string_lossy()) {
            let path = relative_to(&path, &env.cwd);
            owner_of.insert(path.clone(), package.clone());
            paths.push(path);
        }
    }
    let files = match sources::parse_all(&paths) {
        Ok(files) => files,
        Err(errors) => return Ok(Err(compile_error(&errors))),
    };
    let request = MakeRequest {
        output: options.compile_output.clone(),
        targets: Targets { js: false, sourcemaps: false, corefn: false, docs: true },
        prefix: true,
        compiler: env.compiler,
        cwd: env.cwd.clone(),
        delay: env.delay,
    };
    let compiler = env.compiler;
    let out = &mut *io.out;
    let mut progress = |i: usize, n: usize, module: &str| -> io::Result<()> {
        if compiler >= Version::new(0, 15, 0) {
            let width = n.to_string().len();
            writeln!(out, "[{i:>width$} of {n}] Compiling documentation for {module}")
        } else {
            writeln!(out, "Compiling documentation for {module}")
        }
    };
    match make(&files, &request, &mut progress)? {
        MakeOutcome::Aborted(errors) => return Ok(Err(compile_error(&errors))),
        MakeOutcome::Built { errors, .. } if !errors.is_empty() => return Ok(Err(compile_error(&errors))),
        MakeOutcome::Built { .. } => {}
    }

    let missing: Vec<&String> = meta.dependencies.keys().filter(|d| !resolutions.contains_key(*d)).collect();
    if !missing.is_empty() {
        let (dependencies, verb) =
            if missing.len() == 1 { ("dependency", "does") } else { ("dependencies", "do") };
        let mut text = format!("The following {dependencies} {verb} not appear to be installed:\n");
        for m in missing {
            text.push_str(&format!("  * {m}\n"));
        }
        return Ok(Err(UserError(text)));
    }

    let mut modules: Vec<&sources::SourceFile> =
        files.iter().filter(|f| !owner_of.contains_key(&f.path)).collect();
    modules.sort_by(|a, b| a.module.name.cmp(&b.module.name));
    let module_map: Map<String, Value> = files
        .iter()
        .filter_map(|f| Some((f.module.name.clone(), Value::from(owner_of.get(&f.path)?.clone()))))
        .collect();
    let resolved: Map<String, Value> = resolutions
        .iter()
        .filter_map(|(name, r)| Some((name.clone(), Value::from(r.version.clone()?))))
        .collect();
    Ok(Ok(json!({
        "compilerVersion": env.compiler.to_string(),
        "github": [meta.owner, meta.repo],
        "moduleMap": module_map,
        "modules": modules.iter().map(|f| docs_json(&f.module, &f.path)).collect::<Vec<_>>(),
        "packageMeta": meta.bower,
        "resolvedDependencies": resolved,
        "tagTime": format_tag_time(tag_time),
        "uploader": null,
        "version": version.to_string(),
        "versionTag": tag,
    })))
}

fn compile_error(errors: &[crate::diagnostics::Diagnostic]) -> UserError {
    UserError(format!("Compile error:\n{}", pretty_report(errors)))
}

fn relative_to(path: &str, cwd: &Path) -> String {
    Path::new(path).strip_prefix(cwd).map_or_else(|_| path.to_owned(), |p| p.to_string_lossy().into_owned())
}

fn git(env: &Env, args: &[&str]) -> io::Result<Result<String, UserError>> {
    let output = match Command::new("git").args(args).current_dir(&env.cwd).output() {
        Ok(output) => output,
        Err(e) => return Ok(Err(UserError(format!("Could not run git {}: {e}", args.join(" "))))),
    };
    if !output.status.success() {
        return Ok(Err(UserError(format!(
            "git {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        ))));
    }
    Ok(Ok(String::from_utf8_lossy(&output.stdout).into_owned()))
}

fn check_clean_tree(
    manifest: &str,
    dry_run: bool,
    env: &Env,
    io: &mut Streams,
) -> io::Result<Result<(), UserError>> {
    let status = match git(env, &["status", "--porcelain"])? {
        Ok(status) => status,
        Err(e) => return Ok(Err(e)),
    };
    let untracked_manifest = format!("?? {manifest}");
    let dirty = status.lines().any(|l| !l.is_empty() && l != untracked_manifest);
    if !dirty {
        return Ok(Ok(()));
    }
    if dry_run {
        writeln!(
            io.err,
            "Warning: Your working tree is dirty. (Note: this would be an error if it were not a dry run)"
        )?;
        return Ok(Ok(()));
    }
    Ok(Err(UserError(
        "Your git working tree is dirty. Please commit, discard, or stash your changes first.".into(),
    )))
}

/// The manifest in Bower form, plus what publishing needs from it.
struct Meta {
    bower: Value,
    owner: String,
    repo: String,
    /// Bower dependency names → ranges.
    dependencies: BTreeMap<String, String>,
}

fn read_manifest(path: &str, cwd: &Path) -> Result<Meta, UserError> {
    let text = std::fs::read_to_string(cwd.join(path)).map_err(|_| {
        UserError(format!(
            "The package manifest file was not found:\n  {path}\n\nPlease create either a bower.json or purs.json manifest file."
        ))
    })?;
    let bad = |why: &str| UserError(format!("Unable to decode your package manifest file ({path}): {why}"));
    let value: Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
    let str_field = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let deps_of = |v: Option<&Value>, prefix: &str| -> Result<BTreeMap<String, String>, UserError> {
        let Some(v) = v else { return Ok(BTreeMap::new()) };
        let obj = v.as_object().ok_or_else(|| bad("'dependencies' must be an object"))?;
        obj.iter()
            .map(|(k, r)| {
                Ok((
                    format!("{prefix}{k}"),
                    r.as_str().ok_or_else(|| bad("dependency ranges must be strings"))?.to_owned(),
                ))
            })
            .collect()
    };
    let (name, license, url, description, dependencies) = if path.contains("purs.json") {
        let name = str_field("name").ok_or_else(|| bad("missing 'name'"))?;
        let license = str_field("license").ok_or_else(|| bad("missing 'license'"))?;
        let dependencies = deps_of(
            Some(value.get("dependencies").ok_or_else(|| bad("missing 'dependencies'"))?),
            "purescript-",
        )?;
        let location = value.get("location").ok_or_else(|| bad("missing 'location'"))?;
        let url = match (location.get("githubOwner").and_then(Value::as_str), location.get("githubRepo").and_then(Value::as_str), location.get("gitUrl").and_then(Value::as_str)) {
            (Some(owner), Some(repo), _) => format!("https://github.com/{owner}/{repo}.git"),
            (_, _, Some(url)) => url.to_owned(),
            _ => return Err(UserError("The 'location' field must be either '{ \"githubOwner\": OWNER, \"githubRepo\": REPO }' or '{ \"gitUrl\": URL }'.".into())),
        };
        (format!("purescript-{name}"), vec![license], url, str_field("description"), dependencies)
    } else {
        let name = str_field("name").ok_or_else(|| bad("missing 'name'"))?;
        let license: Vec<String> = match value.get("license") {
            Some(Value::String(l)) => vec![l.clone()],
            Some(Value::Array(ls)) => ls.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        let url = value.pointer("/repository/url").and_then(Value::as_str).unwrap_or("").to_owned();
        (name, license, url, str_field("description"), deps_of(value.get("dependencies"), "")?)
    };
    if license.iter().all(|l| l.trim().is_empty()) {
        return Err(UserError(
            "No license is specified in package manifest. Please add a \"license\" property with a SPDX license expression.".into(),
        ));
    }
    let (owner, repo) = github_repo(&url).ok_or_else(|| {
        UserError("The repository url in your package manifest file does not point to a GitHub repository. Currently, Pursuit does not support packages which are not hosted on GitHub.".into())
    })?;
    let mut bower = Map::new();
    bower.insert("name".into(), name.into());
    if let Some(description) = description {
        bower.insert("description".into(), description.into());
    }
    bower.insert("license".into(), license.into());
    bower.insert("homepage".into(), url.clone().into());
    bower.insert("repository".into(), json!({ "type": "git", "url": url }));
    if !dependencies.is_empty() {
        bower.insert("dependencies".into(), json!(dependencies));
    }
    Ok(Meta { bower: Value::Object(bower), owner, repo, dependencies })
}

fn github_repo(url: &str) -> Option<(String, String)> {
    let rest = ["https://github.com/", "git://github.com/", "git@github.com:"]
        .iter()
        .find_map(|p| url.strip_prefix(p))?;
    let rest = rest.strip_suffix(".git").unwrap_or(rest).trim_end_matches('/');
    let (owner, repo) = rest.split_once('/')?;
    (!owner.is_empty() && !repo.is_empty() && !repo.contains('/'))
        .then(|| (owner.to_owned(), repo.to_owned()))
}

fn version_from_tag(env: &Env) -> io::Result<Result<(String, Version), UserError>> {
    let tags = match git(env, &["tag", "--list", "--points-at", "HEAD"])? {
        Ok(tags) => tags,
        Err(e) => return Ok(Err(e)),
    };
    let versions: Vec<(String, Version)> = tags
        .lines()
        .map(str::trim)
        .filter_map(|t| Some((t.to_owned(), Version::parse(t.strip_prefix('v')?).ok()?)))
        .collect();
    Ok(match versions.as_slice() {
        [] => Err(UserError(
            "purs publish requires a tagged version to be checked out in order to build documentation, and no suitable tag was found. Please check out a previously tagged version, or tag a new version.\n\nNote: tagged versions must be in the form\n  v{MAJOR}.{MINOR}.{PATCH} (example: \"v1.6.2\")".into(),
        )),
        [one] => Ok(one.clone()),
        many => {
            let mut text = "The currently checked out commit seems to have been tagged with more than 1 version, and I don't know which one should be used. Please either delete some of the tags, or create a new commit to tag the desired version with.\n\nTags for the currently checked out commit:\n".to_owned();
            for (_, v) in many {
                text.push_str(&format!("  * {v}\n"));
            }
            Err(UserError(text))
        }
    })
}

fn tag_time(tag: &str, env: &Env) -> io::Result<Result<SystemTime, UserError>> {
    let out = match git(env, &["log", "-1", "--format=%ct", tag])? {
        Ok(out) => out,
        Err(e) => return Ok(Err(e)),
    };
    Ok(match out.trim().parse::<u64>() {
        Ok(secs) => Ok(UNIX_EPOCH + std::time::Duration::from_secs(secs)),
        Err(_) => Err(UserError(format!("Unable to parse the date of the git tag {tag}: {out}"))),
    })
}

/// `%Y-%m-%dT%H:%M:%S%z` in UTC.
fn format_tag_time(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}+0000",
        Date::from_days(secs.div_euclid(86_400)),
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

struct Resolution {
    path: String,
    version: Option<String>,
}

fn read_resolutions(path: &str, cwd: &Path) -> Result<BTreeMap<String, Resolution>, UserError> {
    let text = std::fs::read_to_string(cwd.join(path))
        .map_err(|_| UserError("The resolutions file was not found.".into()))?;
    let bad = |why: String| UserError(format!("Error in resolutions file ({path}):\n  {why}"));
    let value: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let obj = value.as_object().ok_or_else(|| bad("expected an object".into()))?;
    let mut out = BTreeMap::new();
    for (name, entry) in obj {
        let dir = entry
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{name}: missing 'path'")))?;
        let version = match entry.get("version") {
            None | Some(Value::Null) => None,
            Some(Value::String(v)) if Version::parse(v).is_ok() => Some(v.clone()),
            Some(other) => return Err(bad(format!("{name}: invalid version {other}"))),
        };
        out.insert(name.clone(), Resolution { path: dir.to_owned(), version });
    }
    Ok(out)
}

/// Object keys sorted at every level, as aeson prints them.
fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sort_keys(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_urls() {
        assert_eq!(github_repo("https://github.com/o/r.git"), Some(("o".into(), "r".into())));
        assert_eq!(github_repo("git@github.com:o/r"), Some(("o".into(), "r".into())));
        assert_eq!(github_repo("https://gitlab.com/o/r.git"), None);
    }

    #[test]
    fn tag_time_format() {
        assert_eq!(
            format_tag_time(UNIX_EPOCH + std::time::Duration::from_secs(1_704_164_645)),
            "2024-01-02T03:04:05+0000"
        );
    }

    #[test]
    fn keys_sorted_everywhere() {
        let v = sort_keys(json!({"b": 1, "a": [{"d": 1, "c": 2}]}));
        assert_eq!(v.to_string(), r#"{"a":[{"c":2,"d":1}],"b":1}"#);
    }
}
