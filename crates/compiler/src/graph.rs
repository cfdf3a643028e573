//! The module graph `purs graph` prints, and the questions the registry asks of it.
//!
//! Shape: `{"<Module>":{"depends":["<Direct.Import>",…],"path":"<file>"},…}`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use registry_core::json::{self, Codec, DecodeError, Obj, Value};
use registry_core::{PackageName, Version};

/// One module of the graph: its direct imports (within the input set) and its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphNode {
    pub depends: Vec<String>,
    pub path: String,
}

/// Module name → node, ordered by module name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PursGraph {
    pub modules: BTreeMap<String, GraphNode>,
}

/// A module whose path could not be attributed to a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociatedError {
    pub module: String,
    pub path: String,
    pub error: String,
}

impl PursGraph {
    /// Parses `purs graph` output.
    pub fn parse(text: &str) -> Result<PursGraph, DecodeError> {
        Self::from_json_str(text)
    }

    pub fn len(&self) -> usize {
        self.modules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// Attributes every module to a package by parsing its path; fails with every module
    /// whose path does not parse.
    pub fn associate_modules(
        &self,
        parse: impl Fn(&str) -> Result<PackageName, String>,
    ) -> Result<BTreeMap<String, PackageName>, Vec<AssociatedError>> {
        let mut errors = Vec::new();
        let mut associated = BTreeMap::new();
        for (module, node) in &self.modules {
            match parse(&node.path) {
                Ok(package) => {
                    associated.insert(module.clone(), package);
                }
                Err(error) => {
                    errors.push(AssociatedError { module: module.clone(), path: node.path.clone(), error })
                }
            }
        }
        if errors.is_empty() { Ok(associated) } else { Err(errors) }
    }

    /// The direct imports of `module`, or `None` if the graph does not have it.
    pub fn direct_dependencies(&self, module: &str) -> Option<BTreeSet<String>> {
        self.modules.get(module).map(|node| node.depends.iter().cloned().collect())
    }

    /// Everything `module` depends on, directly or not, excluding itself; `None` if the
    /// graph does not have it.
    pub fn all_dependencies(&self, module: &str) -> Option<BTreeSet<String>> {
        self.modules.get(module)?;
        Some(self.all_dependencies_of(&BTreeSet::from([module.to_owned()])))
    }

    /// Everything the `sources` depend on, directly or not, excluding the sources
    /// themselves. Names missing from the graph are kept as reached but not followed.
    pub fn all_dependencies_of(&self, sources: &BTreeSet<String>) -> BTreeSet<String> {
        let mut pending: VecDeque<&str> = sources.iter().map(String::as_str).collect();
        let mut visited: BTreeSet<&str> = BTreeSet::new();
        while let Some(module) = pending.pop_front() {
            if !visited.insert(module) {
                continue;
            }
            if let Some(node) = self.modules.get(module) {
                pending.extend(node.depends.iter().map(String::as_str));
            }
        }
        visited.into_iter().filter(|m| !sources.contains(*m)).map(str::to_owned).collect()
    }

    /// The modules the `sources` import directly, minus the sources themselves.
    pub fn direct_dependencies_of(&self, sources: &BTreeSet<String>) -> BTreeSet<String> {
        sources
            .iter()
            .filter_map(|module| self.modules.get(module))
            .flat_map(|node| node.depends.iter())
            .filter(|dep| !sources.contains(*dep))
            .cloned()
            .collect()
    }
}

impl Codec for PursGraph {
    fn encode(&self) -> Value {
        let mut map = json::Map::new();
        for (module, node) in &self.modules {
            map.insert(module.clone(), node.encode());
        }
        Value::Object(map)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        let mut modules = BTreeMap::new();
        for (module, node) in obj.map() {
            modules.insert(module.clone(), GraphNode::decode(node).map_err(|e| e.at(module))?);
        }
        Ok(PursGraph { modules })
    }
}

impl Codec for GraphNode {
    fn encode(&self) -> Value {
        serde_json::json!({ "depends": self.depends, "path": self.path })
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(GraphNode {
            depends: obj.req("depends", |v| json::array_of(v, |d| json::as_str(d).map(str::to_owned)))?,
            path: obj.req_str("path")?.to_owned(),
        })
    }
}

/// Reads package and version from the path of a module installed the registry's way:
/// `<prefix>/<name>-<x.y.z>/…`.
pub fn parse_installed_module_path(prefix: &str, path: &str) -> Result<(PackageName, Version), String> {
    let rest = path
        .strip_prefix(prefix)
        .ok_or_else(|| format!("The module path {path} is not inside the install directory {prefix}"))?;
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let (package_dir, _) = rest
        .split_once('/')
        .ok_or_else(|| format!("Could not parse package name and version from install path: {path}"))?;
    let (name, version) = package_dir
        .rsplit_once('-')
        .ok_or_else(|| format!("Could not parse package name and version from install path: {path}"))?;
    Ok((PackageName::parse(name)?, Version::parse(version)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(text: &str) -> PursGraph {
        PursGraph::parse(text).unwrap()
    }

    #[test]
    fn decodes_and_prints_the_purs_shape() {
        let text = r#"{"A":{"depends":["B"],"path":"src/A.purs"},"B":{"depends":[],"path":"src/B.purs"}}"#;
        let g = graph(text);
        assert_eq!(g.len(), 2);
        assert_eq!(g.to_compact(), text);
        assert!(
            PursGraph::parse(r#"{"A":{"depends":"B","path":"x"}}"#).unwrap_err().to_string().contains("A")
        );
    }

    #[test]
    fn dependencies_direct_and_transitive() {
        let g = graph(
            r#"{"A":{"depends":["B","C"],"path":"a"},"B":{"depends":["C"],"path":"b"},"C":{"depends":["D"],"path":"c"},"D":{"depends":[],"path":"d"},"E":{"depends":["A"],"path":"e"}}"#,
        );
        let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(g.direct_dependencies("A"), Some(set(&["B", "C"])));
        assert_eq!(g.all_dependencies("A"), Some(set(&["B", "C", "D"])));
        assert_eq!(g.all_dependencies("Z"), None);
        assert_eq!(g.all_dependencies_of(&set(&["A", "B"])), set(&["C", "D"]));
        assert_eq!(g.direct_dependencies_of(&set(&["A", "B"])), set(&["C"]));
    }

    #[test]
    fn installed_paths_name_their_package() {
        let (name, version) =
            parse_installed_module_path("/tmp/deps", "/tmp/deps/type-equality-4.0.1/src/Type/Equality.purs")
                .unwrap();
        assert_eq!(name.to_string(), "type-equality");
        assert_eq!(version, Version::new(4, 0, 1));
        assert!(parse_installed_module_path("/tmp/deps", "/elsewhere/x-1.0.0/src/X.purs").is_err());
        assert!(parse_installed_module_path("/tmp/deps", "/tmp/deps/noversion/src/X.purs").is_err());
    }
}
