//! `state.json`: what the engine knows about each installed package, rewritten
//! atomically before anything it describes changes.

use std::collections::BTreeMap;
use std::path::Path;

use registry_core::build_plan::BuildKey;
use registry_core::{PackageName, Version};
use serde_json::{Map, Value, json};

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub version: Version,
    /// Module name → input files relative to the package directory (`src/A.purs`,
    /// and `src/A.js` when it has one).
    pub modules: BTreeMap<String, Vec<String>>,
    /// The build key whose result `output/` holds for every module of the package;
    /// `None`: not trusted (never built, failed, or possibly touched).
    pub key: Option<BuildKey>,
}

impl Installed {
    pub fn dir_name(&self, name: &PackageName) -> String {
        format!("{name}@{}", self.version)
    }
}

pub type State = BTreeMap<PackageName, Installed>;

pub const STATE_FILE: &str = "state.json";
pub const JOURNAL_FILE: &str = "journal.json";

/// Reads the record; `None` if it is missing or unreadable (the caller starts over).
pub fn read(dir: &Path) -> Option<State> {
    let text = std::fs::read_to_string(dir.join(STATE_FILE)).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    let mut state = State::new();
    for (name, entry) in value.get("packages")?.as_object()? {
        let version = Version::parse(entry.get("version")?.as_str()?).ok()?;
        let key = match entry.get("key")? {
            Value::Null => None,
            Value::String(k) => Some(BuildKey(k.clone())),
            _ => return None,
        };
        let mut modules = BTreeMap::new();
        for (module, files) in entry.get("modules")?.as_object()? {
            let files =
                files.as_array()?.iter().map(|f| f.as_str().map(str::to_owned)).collect::<Option<_>>()?;
            modules.insert(module.clone(), files);
        }
        state.insert(PackageName::parse(name).ok()?, Installed { version, modules, key });
    }
    Some(state)
}

/// Writes the record (temp file, then rename: a crash leaves the old or the new one).
pub fn write(dir: &Path, state: &State) -> std::io::Result<()> {
    let mut packages = Map::new();
    for (name, p) in state {
        packages.insert(
            name.to_string(),
            json!({
                "version": p.version.to_string(),
                "key": p.key.as_ref().map(|k| k.0.clone()),
                "modules": p.modules,
            }),
        );
    }
    write_atomic(dir, STATE_FILE, &json!({ "packages": packages }).to_string())
}

pub fn write_atomic(dir: &Path, file: &str, text: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, dir.join(file))
}
