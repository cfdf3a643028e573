//! `registry init`: an empty registry in a data directory, idempotently.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use registry_core::json::{Codec, print_pretty};
use registry_core::time::Date;
use registry_core::{PackageSet, Version};
use registry_queue::SqliteStore;

use crate::layout::DataDir;

/// What a repository starts with: files copied from these seed subdirectories.
struct RepoPlan {
    bare: PathBuf,
    label: &'static str,
    /// (seed subdirectory, destination inside the repository)
    seed_dirs: &'static [(&'static str, &'static str)],
    /// Files every new repository starts with: (path, contents).
    initial_files: Vec<(String, String)>,
}

/// The version of the package set a fresh registry starts with (the real registry's
/// first set was 0.0.1 too): spago refuses a registry without `package-sets/`, and
/// package-set jobs need a latest set to update, as upstream's do.
pub const INITIAL_PACKAGE_SET_VERSION: &str = "0.0.1";

/// The compiler of the initial package set when neither a flag nor an installed
/// compiler says otherwise: the newest purs the registry builds with today.
pub const DEFAULT_INITIAL_COMPILER: &str = "0.15.15";

/// `package-sets/0.0.1.json` with no packages, for `compiler`, published today.
fn initial_package_set(compiler: Version) -> (String, String) {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0);
    let set = PackageSet {
        version: Version::parse(INITIAL_PACKAGE_SET_VERSION).expect("a valid version"),
        compiler,
        published: Date::from_days(i64::try_from(days).unwrap_or(0)),
        packages: Default::default(),
    };
    (format!("package-sets/{INITIAL_PACKAGE_SET_VERSION}.json"), print_pretty(&set.encode()))
}

/// Creates whatever is missing; never changes what exists. Returns one line per item.
/// An unseeded registry's initial package set names the default compiler.
pub fn init(data_dir: &Path, seed: Option<&Path>) -> anyhow::Result<Vec<String>> {
    init_with_compiler(data_dir, seed, Version::parse(DEFAULT_INITIAL_COMPILER).expect("a valid version"))
}

/// `compiler` is the compiler of the initial package set of an unseeded registry (or of
/// a seed without package sets).
pub fn init_with_compiler(
    data_dir: &Path,
    seed: Option<&Path>,
    compiler: Version,
) -> anyhow::Result<Vec<String>> {
    if let Some(seed) = seed {
        let known = ["index", "metadata", "package-sets"];
        if !known.iter().any(|d| seed.join(d).is_dir()) {
            bail!(
                "{} is not laid out like a registry snapshot: expected at least one of index/, metadata/, package-sets/",
                seed.display()
            );
        }
    }
    let layout = DataDir::new(data_dir);
    let mut report = Vec::new();
    for (dir, what) in [
        (layout.root().to_owned(), "data directory"),
        (layout.storage(), "local storage"),
        (layout.scratch(), "scratch directory"),
        (layout.root().join("db"), "database directory"),
        (layout.root().join("git"), "git directory"),
    ] {
        if dir.is_dir() {
            report.push(format!("exists   {what} {}", dir.display()));
        } else {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            report.push(format!("created  {what} {}", dir.display()));
        }
    }

    let db = layout.database();
    let existed = db.exists();
    let store = SqliteStore::open(&db).with_context(|| format!("opening the database {}", db.display()))?;
    let migrations = store.applied_migrations()?.join(", ");
    let verb = if existed { "exists  " } else { "created " };
    report.push(format!("{verb} database {} (migrations: {migrations})", db.display()));

    let plans = [
        RepoPlan {
            bare: layout.registry_bare(),
            label: "registry repository",
            seed_dirs: &[("metadata", "metadata"), ("package-sets", "package-sets")],
            initial_files: if seed.is_some_and(has_package_sets) {
                Vec::new()
            } else {
                vec![initial_package_set(compiler)]
            },
        },
        RepoPlan {
            bare: layout.index_bare(),
            label: "registry-index repository",
            seed_dirs: &[("index", "")],
            initial_files: Vec::new(),
        },
        // Package-set jobs read `latest-compatible-sets.json` before they add to it
        // (upstream's repository always has it), so it starts empty.
        RepoPlan {
            bare: layout.legacy_package_sets_bare(),
            label: "legacy package-sets repository",
            seed_dirs: &[],
            initial_files: vec![("latest-compatible-sets.json".to_owned(), "{}\n".to_owned())],
        },
    ];
    for plan in plans {
        report.push(init_repo(&plan, seed, &layout.scratch())?);
    }
    Ok(report)
}

fn git(args: &[&str], cwd: &Path) -> anyhow::Result<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .context("running git (is it installed?)")?;
    if !output.status.success() {
        bail!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn has_package_sets(seed: &Path) -> bool {
    std::fs::read_dir(seed.join("package-sets"))
        .map(|entries| {
            entries.filter_map(Result::ok).any(|e| e.file_name().to_string_lossy().ends_with(".json"))
        })
        .unwrap_or(false)
}

fn has_main(bare: &Path) -> bool {
    Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", "refs/heads/main"])
        .current_dir(bare)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn init_repo(plan: &RepoPlan, seed: Option<&Path>, scratch: &Path) -> anyhow::Result<String> {
    // A repository that takes nothing from a snapshot is not "seeded".
    let seed = seed.filter(|_| !plan.seed_dirs.is_empty());
    let bare = &plan.bare;
    if bare.is_dir() && has_main(bare) {
        let note = if seed.is_some() { " (not re-seeded: it already has history)" } else { "" };
        return Ok(format!("exists   {} {}{note}", plan.label, bare.display()));
    }
    if !bare.is_dir() {
        std::fs::create_dir_all(bare)?;
        git(&["init", "--quiet", "--bare", "--initial-branch=main"], bare)?;
    }
    let work = scratch.join(format!("init-{}-{}", std::process::id(), plan.label.replace(' ', "-")));
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    git(&["init", "--quiet", "--initial-branch=main"], &work)?;
    let mut copied = 0usize;
    if let Some(seed) = seed {
        for (from, to) in plan.seed_dirs {
            let source = seed.join(from);
            if source.is_dir() {
                copied += copy_tree(&source, &work.join(to))?;
            }
        }
    }
    for (path, contents) in &plan.initial_files {
        let file = work.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, contents).with_context(|| format!("writing {path}"))?;
    }
    git(&["add", "--all"], &work)?;
    let message = match seed {
        Some(seed) => format!("Seed from {}", seed.display()),
        None => "Initial registry state".to_owned(),
    };
    git(
        &[
            "-c",
            "user.name=pacchettibotti",
            "-c",
            "user.email=pacchettibotti@purescript.org",
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            &message,
        ],
        &work,
    )?;
    let bare_text = bare.display().to_string();
    git(&["push", "--quiet", &bare_text, "HEAD:refs/heads/main"], &work)?;
    std::fs::remove_dir_all(&work)?;
    let seeded = if seed.is_some() { format!(" seeded with {copied} files") } else { String::new() };
    Ok(format!("created  {} {}{seeded}", plan.label, bare.display()))
}

/// Copies regular files recursively, skipping dot-files (a snapshot's README stays out).
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(to)?;
    let mut count = 0;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            count += copy_tree(&entry.path(), &to.join(&name))?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(&name))?;
            count += 1;
        }
    }
    Ok(count)
}

/// `registry init` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// The data directory to create or complete.
    #[arg(long, env = "REGISTRY_DATA_DIR")]
    pub data_dir: std::path::PathBuf,

    /// Seed new repositories from a directory laid out like a registry snapshot
    /// (index/, metadata/, package-sets/). Ignored for repositories that already exist.
    #[arg(long)]
    pub seed: Option<std::path::PathBuf>,

    /// Compiler of the empty package set an unseeded registry starts with
    /// (default: the newest `purs-X_Y_Z` in `--compilers` or on PATH, else 0.15.15).
    #[arg(long)]
    pub compiler: Option<Version>,

    /// Directory of `purs-X_Y_Z` compilers, searched before PATH for `--compiler`'s default.
    #[arg(long, env = "REGISTRY_COMPILERS")]
    pub compilers: Option<std::path::PathBuf>,
}

impl InitArgs {
    /// The flag, else the newest installed compiler, else the default.
    pub fn initial_compiler(&self) -> Version {
        self.compiler.unwrap_or_else(|| {
            registry_compiler::locate::CompilerLocator::new(self.compilers.clone())
                .installed_versions()
                .pop()
                .unwrap_or_else(|| Version::parse(DEFAULT_INITIAL_COMPILER).expect("a valid version"))
        })
    }
}

/// Runs `registry init` and prints what it did.
pub fn run(args: &InitArgs) -> anyhow::Result<()> {
    for line in init_with_compiler(&args.data_dir, args.seed.as_deref(), args.initial_compiler())? {
        println!("{line}");
    }
    Ok(())
}
