//! What a module exports, and checking a module's imports against what its dependencies
//! export (`UnknownImport`, `UnknownImportDataConstructor`).

use std::collections::{BTreeMap, BTreeSet};

use registry_core::Version;
use serde_json::{Value, json};

use crate::diagnostics::Diagnostic;
use crate::syntax::{DeclKind, ImportList, Members, Module, Ref, RefKind};

/// The names a module exports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    pub values: BTreeSet<String>,
    pub operators: BTreeSet<String>,
    /// Type name → the data constructors exported with it.
    pub types: BTreeMap<String, BTreeSet<String>>,
    pub type_operators: BTreeSet<String>,
    pub classes: BTreeSet<String>,
}

impl Interface {
    fn union_with(&mut self, other: &Interface) {
        self.values.extend(other.values.iter().cloned());
        self.operators.extend(other.operators.iter().cloned());
        self.type_operators.extend(other.type_operators.iter().cloned());
        self.classes.extend(other.classes.iter().cloned());
        for (ty, ctors) in &other.types {
            self.types.entry(ty.clone()).or_default().extend(ctors.iter().cloned());
        }
    }

    /// The part of this interface that `refs` name (constructors only as the refs ask).
    fn select(&self, refs: &[Ref]) -> Interface {
        let mut picked = Interface::default();
        for r in refs {
            match &r.kind {
                RefKind::Value(v) if self.values.contains(v) => {
                    picked.values.insert(v.clone());
                }
                RefKind::Operator(o) if self.operators.contains(o) => {
                    picked.operators.insert(o.clone());
                }
                RefKind::TypeOperator(o) if self.type_operators.contains(o) => {
                    picked.type_operators.insert(o.clone());
                }
                RefKind::Class(c) if self.classes.contains(c) => {
                    picked.classes.insert(c.clone());
                }
                RefKind::Type(t, members) => {
                    if let Some(ctors) = self.types.get(t) {
                        picked.types.entry(t.clone()).or_default().extend(pick_members(ctors, members));
                    }
                }
                _ => {}
            }
        }
        picked
    }

    /// This interface without what `refs` name.
    fn hide(&self, refs: &[Ref]) -> Interface {
        let mut kept = self.clone();
        for r in refs {
            match &r.kind {
                RefKind::Value(v) => {
                    kept.values.remove(v);
                }
                RefKind::Operator(o) => {
                    kept.operators.remove(o);
                }
                RefKind::TypeOperator(o) => {
                    kept.type_operators.remove(o);
                }
                RefKind::Class(c) => {
                    kept.classes.remove(c);
                }
                RefKind::Type(t, Members::None) => {
                    kept.types.remove(t);
                }
                RefKind::Type(t, members) => {
                    if let Some(ctors) = kept.types.get_mut(t) {
                        let hidden = pick_members(ctors, members);
                        ctors.retain(|c| !hidden.contains(c));
                    }
                }
                RefKind::Module(_) => {}
            }
        }
        kept
    }

    /// A deterministic JSON form (for the externs file), keys and lists sorted.
    pub fn to_json(&self) -> Value {
        json!({
            "classes": self.classes,
            "operators": self.operators,
            "typeOperators": self.type_operators,
            "types": self.types,
            "values": self.values,
        })
    }

    pub fn from_json(value: &Value) -> Option<Interface> {
        let set = |key: &str| -> Option<BTreeSet<String>> {
            value.get(key)?.as_array()?.iter().map(|v| v.as_str().map(str::to_owned)).collect()
        };
        let mut types = BTreeMap::new();
        for (ty, ctors) in value.get("types")?.as_object()? {
            let ctors =
                ctors.as_array()?.iter().map(|c| c.as_str().map(str::to_owned)).collect::<Option<_>>()?;
            types.insert(ty.clone(), ctors);
        }
        Some(Interface {
            values: set("values")?,
            operators: set("operators")?,
            types,
            type_operators: set("typeOperators")?,
            classes: set("classes")?,
        })
    }
}

fn pick_members(ctors: &BTreeSet<String>, members: &Members) -> BTreeSet<String> {
    match members {
        Members::None => BTreeSet::new(),
        Members::All => ctors.clone(),
        Members::Some(names) => names.iter().filter(|n| ctors.contains(*n)).cloned().collect(),
    }
}

/// Everything a module declares at top level (what it exports when it has no export list).
pub fn declared(module: &Module) -> Interface {
    let mut iface = Interface::default();
    for d in &module.declarations {
        match d.kind {
            DeclKind::Value | DeclKind::ForeignValue => {
                iface.values.insert(d.name.clone());
            }
            DeclKind::Data | DeclKind::ForeignData | DeclKind::TypeSynonym => {
                iface.types.entry(d.name.clone()).or_default().extend(d.children.iter().cloned());
            }
            DeclKind::Class => {
                iface.classes.insert(d.name.clone());
                iface.values.extend(d.children.iter().cloned());
            }
            DeclKind::ValueOperator => {
                iface.operators.insert(d.name.clone());
            }
            DeclKind::TypeOperator => {
                iface.type_operators.insert(d.name.clone());
            }
        }
    }
    iface
}

/// The built-in `Prim` modules this compiler version provides, with their exports.
pub fn prim_interface(module: &str, compiler: Version) -> Option<Interface> {
    let (types, classes): (&[&str], &[&str]) = match module {
        "Prim" => (
            &[
                "Array",
                "Boolean",
                "Char",
                "Constraint",
                "Function",
                "Int",
                "Number",
                "Record",
                "Row",
                "String",
                "Symbol",
                "Type",
            ],
            &["Partial"],
        ),
        "Prim.Boolean" => (&["False", "True"], &[]),
        "Prim.Coerce" if compiler >= Version::new(0, 14, 0) => (&[], &["Coercible"]),
        "Prim.Int" if compiler >= Version::new(0, 15, 0) => (&[], &["Add", "Compare", "Mul", "ToString"]),
        "Prim.Ordering" => (&["EQ", "GT", "LT", "Ordering"], &[]),
        "Prim.Row" => (&[], &["Cons", "Lacks", "Nub", "Union"]),
        "Prim.RowList" => (&["Cons", "Nil", "RowList"], &["RowToList"]),
        "Prim.Symbol" => (&[], &["Append", "Compare", "Cons"]),
        "Prim.TypeError" => (&["Above", "Beside", "Doc", "Quote", "QuoteLabel", "Text"], &["Fail", "Warn"]),
        _ => return None,
    };
    Some(Interface {
        types: types.iter().map(|t| (t.to_string(), BTreeSet::new())).collect(),
        classes: classes.iter().map(|c| c.to_string()).collect(),
        ..Interface::default()
    })
}

/// The names of the built-in modules of this compiler version.
pub fn prim_modules(compiler: Version) -> Vec<&'static str> {
    [
        "Prim",
        "Prim.Boolean",
        "Prim.Coerce",
        "Prim.Int",
        "Prim.Ordering",
        "Prim.Row",
        "Prim.RowList",
        "Prim.Symbol",
        "Prim.TypeError",
    ]
    .into_iter()
    .filter(|m| prim_interface(m, compiler).is_some())
    .collect()
}

/// Checks every import list of `module` against the interfaces of the modules it imports
/// (`lookup` gives an interface by module name; unknown modules are not checked here).
pub fn check_imports<'a>(
    module: &Module,
    file: &str,
    lookup: impl Fn(&str) -> Option<&'a Interface>,
) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    for import in &module.imports {
        let refs = match &import.list {
            ImportList::Everything => continue,
            ImportList::Only(refs) | ImportList::Hiding(refs) => refs,
        };
        let Some(dep) = lookup(&import.module) else { continue };
        for r in refs {
            let missing = |kind: &str, name: &str| {
                Diagnostic::unknown_import(file, &module.name, r.span, kind, name, &import.module)
            };
            match &r.kind {
                RefKind::Value(v) if !dep.values.contains(v) => errors.push(missing("value", v)),
                RefKind::Operator(o) if !dep.operators.contains(o) => errors.push(missing("operator", o)),
                RefKind::TypeOperator(o) if !dep.type_operators.contains(o) => {
                    errors.push(missing("type operator", o))
                }
                RefKind::Class(c) if !dep.classes.contains(c) => errors.push(missing("type class", c)),
                RefKind::Type(t, members) => match dep.types.get(t) {
                    None => errors.push(missing("type", t)),
                    Some(ctors) => {
                        if let Members::Some(names) = members {
                            for ctor in names.iter().filter(|c| !ctors.contains(*c)) {
                                errors.push(Diagnostic::unknown_import_constructor(
                                    file,
                                    &module.name,
                                    r.span,
                                    &import.module,
                                    t,
                                    ctor,
                                ));
                            }
                        }
                    }
                },
                _ => {}
            }
        }
    }
    errors
}

/// What `module` exports, given the interfaces of its imports. Export-list entries that
/// name nothing in scope are left out (purs would report `UnknownExport`; see the README).
pub fn exports<'a>(module: &Module, lookup: impl Fn(&str) -> Option<&'a Interface>) -> Interface {
    let local = declared(module);
    let Some(refs) = &module.exports else { return local };
    // Names brought in by each import, with the qualifier they are in scope under.
    let imported: Vec<(Option<&str>, &str, Interface)> = module
        .imports
        .iter()
        .filter_map(|import| {
            let dep = lookup(&import.module)?;
            let names = match &import.list {
                ImportList::Everything => dep.clone(),
                ImportList::Only(refs) => dep.select(refs),
                ImportList::Hiding(refs) => dep.hide(refs),
            };
            Some((import.alias.as_deref(), import.module.as_str(), names))
        })
        .collect();
    let mut unqualified = Interface::default();
    for (alias, _, names) in &imported {
        if alias.is_none() {
            unqualified.union_with(names);
        }
    }
    let mut out = Interface::default();
    for r in refs {
        match &r.kind {
            RefKind::Module(name) if *name == module.name => out.union_with(&local),
            RefKind::Module(name) => {
                for (alias, from, names) in &imported {
                    if alias.map_or(*from == name.as_str(), |a| a == name.as_str()) {
                        out.union_with(names);
                    }
                }
            }
            _ => {
                let one = std::slice::from_ref(r);
                let from_local = local.select(one);
                let picked =
                    if from_local == Interface::default() { unqualified.select(one) } else { from_local };
                out.union_with(&picked);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_module;

    fn parse(source: &str) -> Module {
        parse_module(source).unwrap()
    }

    #[test]
    fn declared_names_without_an_export_list() {
        let m = parse(
            "module A where\ndata T = X | Y\nclass C a where\n  m :: a\nfoo = 1\ninfixl 4 foo as +++\n",
        );
        let iface = exports(&m, |_| None);
        assert_eq!(iface.values, BTreeSet::from(["foo".to_owned(), "m".to_owned()]));
        assert_eq!(iface.types["T"], BTreeSet::from(["X".to_owned(), "Y".to_owned()]));
        assert_eq!(iface.classes, BTreeSet::from(["C".to_owned()]));
        assert_eq!(iface.operators, BTreeSet::from(["+++".to_owned()]));
    }

    #[test]
    fn export_lists_restrict_and_re_export() {
        let dep = parse("module D where\ndata M = J | N\nd1 = 1\nd2 = 2\n");
        let dep_iface = exports(&dep, |_| None);
        let m = parse(
            "module A (foo, T, U(..), module D, module Q, d2) where\nimport D (M(J), d1)\nimport D as Q\ndata T = X\ndata U = V\nfoo = 1\nbar = 2\n",
        );
        let iface = exports(&m, |name| (name == "D").then_some(&dep_iface));
        assert_eq!(iface.values, BTreeSet::from(["d1".to_owned(), "d2".to_owned(), "foo".to_owned()]));
        assert!(iface.types["T"].is_empty());
        assert_eq!(iface.types["U"], BTreeSet::from(["V".to_owned()]));
        // `module Q` re-exports everything imported `as Q`, including both constructors.
        assert_eq!(iface.types["M"], BTreeSet::from(["J".to_owned(), "N".to_owned()]));
        // `d2` is only in scope qualified (`Q.d2`) and is exported through `module Q`.
        let only_unqualified = parse("module A (d2) where\nimport D as Q\n");
        assert!(exports(&only_unqualified, |name| (name == "D").then_some(&dep_iface)).values.is_empty());
    }

    #[test]
    fn imports_of_missing_names_are_reported_with_their_kind() {
        let dep = parse("module A (foo, T(X), class C) where\ndata T = X | Y\nclass C a\nfoo = 1\nbar = 2\n");
        let dep_iface = exports(&dep, |_| None);
        let m = parse(
            "module B where\nimport A (foo, bar, T(X, Y), Z, class C, class K, (+), type (~>))\nimport A hiding (gone)\n",
        );
        let errors = check_imports(&m, "src/B.purs", |name| (name == "A").then_some(&dep_iface));
        let summary: Vec<(String, String)> =
            errors.iter().map(|e| (e.code.to_owned(), e.lines[0].clone())).collect();
        assert_eq!(
            summary,
            [
                ("UnknownImport".into(), "Cannot import value bar from module A".into()),
                (
                    "UnknownImportDataConstructor".into(),
                    "Module A does not export data constructor Y for type T".into()
                ),
                ("UnknownImport".into(), "Cannot import type Z from module A".into()),
                ("UnknownImport".into(), "Cannot import type class K from module A".into()),
                ("UnknownImport".into(), "Cannot import operator + from module A".into()),
                ("UnknownImport".into(), "Cannot import type operator ~> from module A".into()),
                ("UnknownImport".into(), "Cannot import value gone from module A".into()),
            ]
        );
        assert_eq!(errors[0].module.as_deref(), Some("B"));
    }

    #[test]
    fn interfaces_survive_their_json_form() {
        let m = parse("module A where\ndata T = X\nclass C a\nfoo = 1\ninfixr 5 type T as ~>\n");
        let iface = exports(&m, |_| None);
        assert_eq!(Interface::from_json(&iface.to_json()), Some(iface));
    }

    #[test]
    fn prim_modules_follow_the_compiler_version() {
        assert!(prim_interface("Prim.Int", Version::new(0, 15, 0)).is_some());
        assert!(prim_interface("Prim.Int", Version::new(0, 14, 9)).is_none());
        assert!(prim_interface("Prim.TypeError", Version::new(0, 13, 0)).unwrap().classes.contains("Fail"));
        assert_eq!(prim_modules(Version::new(0, 13, 8)).len(), 7);
    }
}
