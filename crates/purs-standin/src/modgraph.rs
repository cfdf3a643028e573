//! Module-level checks done before anything is built, and the dependency order.
//!
//! * `CannotDefinePrimModules` (the first offender), then `DuplicateModule` (every group,
//!   in module-name order) — compile only;
//! * `ModuleNotFound` for every import, of every module, that is neither an input nor a
//!   built-in `Prim` module;
//! * `CycleInModules` for every cycle.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use registry_core::Version;

use crate::diagnostics::{Diagnostic, FileSpan, is_prim_namespace};
use crate::interface::prim_modules;
use crate::sources::SourceFile;

/// The checked module graph: indexes into the file list.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Dependencies before dependents.
    pub order: Vec<usize>,
    /// Direct imports within the input set, in import order, without repeats.
    pub direct: Vec<Vec<usize>>,
    /// Everything each module depends on within the input set (excluding itself).
    pub transitive: Vec<BTreeSet<usize>>,
}

pub fn check_module_names(files: &[SourceFile]) -> Result<(), Vec<Diagnostic>> {
    if let Some(prim) = files.iter().find(|f| is_prim_namespace(&f.module.name)) {
        return Err(vec![Diagnostic::cannot_define_prim(&prim.module.name, &prim.path, prim.module.span)]);
    }
    let mut by_name: BTreeMap<&str, Vec<&SourceFile>> = BTreeMap::new();
    for f in files {
        by_name.entry(&f.module.name).or_default().push(f);
    }
    let errors: Vec<Diagnostic> = by_name
        .into_iter()
        .filter(|(_, group)| group.len() > 1)
        .map(|(name, group)| {
            let spans =
                group.iter().map(|f| FileSpan { file: f.path.clone(), span: f.module.span }).collect();
            Diagnostic::duplicate_module(name, spans)
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// Checks imports and cycles and orders the modules. Module names must be unique.
pub fn analyse(files: &[SourceFile], compiler: Version) -> Result<Analysis, Vec<Diagnostic>> {
    let index: HashMap<&str, usize> =
        files.iter().enumerate().map(|(i, f)| (f.module.name.as_str(), i)).collect();
    let prims = prim_modules(compiler);
    let mut missing = Vec::new();
    let mut direct: Vec<Vec<usize>> = Vec::new();
    for f in files {
        let mut deps = Vec::new();
        for import in &f.module.imports {
            match index.get(import.module.as_str()) {
                Some(&dep) => {
                    if !deps.contains(&dep) {
                        deps.push(dep);
                    }
                }
                None if prims.contains(&import.module.as_str()) => {}
                None => missing.push(Diagnostic::module_not_found(
                    &f.path,
                    &f.module.name,
                    import.span,
                    &import.module,
                )),
            }
        }
        direct.push(deps);
    }
    if !missing.is_empty() {
        return Err(missing);
    }
    let cycles: Vec<Diagnostic> = strongly_connected(&direct)
        .into_iter()
        .filter(|scc| scc.len() > 1 || direct[scc[0]].contains(&scc[0]))
        .map(|mut scc| {
            scc.sort();
            let names: Vec<String> = scc.iter().map(|&i| files[i].module.name.clone()).collect();
            let spans = scc
                .iter()
                .map(|&i| FileSpan { file: files[i].path.clone(), span: files[i].module.span })
                .collect();
            Diagnostic::cycle_in_modules(&names, spans)
        })
        .collect();
    if !cycles.is_empty() {
        return Err(cycles);
    }
    let order = topological_order(&direct);
    let mut transitive: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); files.len()];
    for &m in &order {
        let mut all = BTreeSet::new();
        for &d in &direct[m] {
            all.insert(d);
            all.extend(transitive[d].iter().copied());
        }
        transitive[m] = all;
    }
    Ok(Analysis { order, direct, transitive })
}

/// Post-order depth-first walk: every module after its dependencies. Deterministic: roots
/// in input order, dependencies in import order.
fn topological_order(direct: &[Vec<usize>]) -> Vec<usize> {
    fn visit(m: usize, direct: &[Vec<usize>], seen: &mut [bool], order: &mut Vec<usize>) {
        if seen[m] {
            return;
        }
        seen[m] = true;
        for &d in &direct[m] {
            visit(d, direct, seen, order);
        }
        order.push(m);
    }
    let mut seen = vec![false; direct.len()];
    let mut order = Vec::with_capacity(direct.len());
    for m in 0..direct.len() {
        visit(m, direct, &mut seen, &mut order);
    }
    order
}

/// Tarjan's algorithm (iterative enough for deep graphs is not needed at package scale).
fn strongly_connected(direct: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        direct: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn connect(v: usize, s: &mut State) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &s.direct[v] {
            match s.index[w] {
                None => {
                    connect(w, s);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(wi) if s.on_stack[w] => s.low[v] = s.low[v].min(wi),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                scc.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(scc);
        }
    }
    let n = direct.len();
    let mut s = State {
        direct,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            connect(v, &mut s);
        }
    }
    s.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_module;

    fn files(sources: &[(&str, &str)]) -> Vec<SourceFile> {
        sources
            .iter()
            .map(|(path, text)| SourceFile { path: path.to_string(), module: parse_module(text).unwrap() })
            .collect()
    }

    const V: Version = Version::new(0, 15, 15);

    #[test]
    fn orders_dependencies_first() {
        let fs = files(&[
            ("c", "module C where\nimport B\nimport A\n"),
            ("a", "module A where\nimport Prim.Row\n"),
            ("b", "module B where\nimport A\n"),
        ]);
        let analysis = analyse(&fs, V).unwrap();
        let names: Vec<&str> = analysis.order.iter().map(|&i| fs[i].module.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "C"]);
        assert_eq!(analysis.transitive[0], BTreeSet::from([1, 2]));
        assert_eq!(analysis.direct[0], [2, 1]);
    }

    #[test]
    fn reports_every_missing_module() {
        let fs = files(&[
            ("a", "module A where\nimport Gone\nimport Prim.Nope\n"),
            ("b", "module B where\nimport Also.Gone\n"),
        ]);
        let errors = analyse(&fs, V).unwrap_err();
        let found: Vec<(&str, &str)> =
            errors.iter().map(|e| (e.module.as_deref().unwrap(), e.lines[0].as_str())).collect();
        assert_eq!(
            found,
            [
                ("A", "Module Gone was not found."),
                ("A", "Module Prim.Nope was not found."),
                ("B", "Module Also.Gone was not found."),
            ]
        );
        assert!(errors[1].lines[1].contains("Prim namespace"));
        assert!(
            analyse(&files(&[("a", "module A where\nimport Prim.Int\n")]), Version::new(0, 14, 9)).is_err()
        );
    }

    #[test]
    fn reports_cycles_and_self_imports() {
        let fs = files(&[
            ("a", "module A where\nimport B\n"),
            ("b", "module B where\nimport A\n"),
            ("c", "module C where\nimport C\n"),
        ]);
        let errors = analyse(&fs, V).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(errors.iter().all(|e| e.code == "CycleInModules" && e.module.is_none()));
        let messages: Vec<String> = errors.iter().map(|e| e.message()).collect();
        assert!(messages.contains(&"  Module C imports itself.\n".to_owned()), "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("    A\n    B\n")), "{messages:?}");
    }

    #[test]
    fn duplicates_and_prim_definitions_are_rejected() {
        let fs =
            files(&[("x/A.purs", "module A where"), ("y/A.purs", "module A where"), ("b", "module B where")]);
        let errors = check_module_names(&fs).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, "DuplicateModule");
        assert_eq!(errors[0].spans.len(), 2);
        assert_eq!(errors[0].message(), "  Module A has been defined multiple times\n");
        let prim = files(&[("p", "module Prim.Mine where")]);
        assert_eq!(check_module_names(&prim).unwrap_err()[0].code, "CannotDefinePrimModules");
    }
}
