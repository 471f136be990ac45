//! The dependency invariants of ARCHITECTURE.md, checked on the source: within each crate, which
//! top-level module names which (`crate::m`, `use crate::{m, …}`, and `super::m` from a top-level
//! file). The harness's modules form the layers ARCHITECTURE.md lists, each naming only layers
//! below it; no crate's module graph has a circle; and only the harness's backend switch and
//! explorers name loom or shuttle.
//!
//! `cargo test -p scenarios --test architecture` prints each crate's graph with `--nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, with its path relative to `dir`.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable source directory").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).expect("readable source file");
                out.push((p.strip_prefix(dir).expect("under dir").to_path_buf(), text));
            }
        }
    }
    out.sort();
    out
}

/// The top-level module a source file belongs to (`runtime/record.rs` → `runtime`).
fn module_of(rel: &Path) -> String {
    let first = rel.components().next().expect("non-empty path").as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// Code without comments: doc links do not make a dependency.
fn code(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The identifiers that follow `prefix` in `code`, including each name of a braced group.
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices(prefix) {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(group.split(',').map(|item| ident(item.trim())).filter(|n| !n.is_empty()));
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|n| !n.is_empty() && n != "self");
    out
}

/// Each top-level module of the crate at `src` and the crate's modules it names.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = sources(src);
    let modules: BTreeSet<String> = files.iter().map(|(rel, _)| module_of(rel)).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in &files {
        let m = module_of(rel);
        let code = code(text);
        let mut named = names_after(&code, "crate::");
        if rel.components().count() == 1 && m != "lib" && m != "main" {
            named.extend(names_after(&code, "super::"));
        }
        let edges = g.entry(m.clone()).or_default();
        edges.extend(named.into_iter().filter(|n| *n != m && modules.contains(n)));
    }
    g
}

/// A circle in `g`, if there is one.
fn circle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        m: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut c = path[i..].to_vec();
            c.push(m.to_string());
            return Some(c);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for n in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(g, n, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|m| visit(g, m, &mut Vec::new(), &mut done))
}

fn print(name: &str, g: &BTreeMap<String, BTreeSet<String>>) {
    println!("{name}:");
    for (m, deps) in g {
        println!("  {m} -> {}", deps.iter().cloned().collect::<Vec<_>>().join(", "));
    }
}

/// The harness's layers, bottom up (ARCHITECTURE.md); `lib` re-exports and sits on top.
const HARNESS_LAYERS: [&str; 9] =
    ["report", "schedule", "runtime", "detector", "memory", "go", "explore", "triage", "lib"];

#[test]
fn harness_modules_name_only_layers_below_them() {
    let g = graph(&workspace().join("harness/src"));
    print("harness", &g);
    let layer = |m: &str| HARNESS_LAYERS.iter().position(|l| *l == m);
    for (m, deps) in &g {
        let at = layer(m).unwrap_or_else(|| panic!("harness module `{m}` is in no layer of ARCHITECTURE.md"));
        for d in deps {
            let below = layer(d).is_some_and(|l| l < at);
            assert!(below, "harness: `{m}` names `{d}`, which is not below it ({HARNESS_LAYERS:?})");
        }
    }
}

#[test]
fn no_crate_has_a_module_circle() {
    for krate in ["harness", "join-model", "scenarios"] {
        let g = graph(&workspace().join(krate).join("src"));
        print(krate, &g);
        assert_eq!(circle(&g), None, "{krate}: a circle between modules");
    }
}

/// The backend switch (`runtime/backend.rs`) is the only file below the explorers that names loom
/// or shuttle; the explorers (`explore/`) drive their runners and implement shuttle's scheduler.
#[test]
fn only_the_backend_switch_and_the_explorers_name_loom_or_shuttle() {
    let src = workspace().join("harness/src");
    for (rel, text) in sources(&src) {
        let allowed = rel == Path::new("runtime/backend.rs") || rel.starts_with("explore");
        let code = code(&text);
        let names = ["loom::", "shuttle::", "shuttle_engine::", "std::thread::spawn", "std::thread::Builder"];
        if let Some(n) = names.iter().find(|n| code.contains(**n)) {
            assert!(allowed, "harness/src/{}: names `{n}`; only runtime/backend.rs and explore/ may", rel.display());
        }
    }
}

/// The check itself: a circle and an upward edge are found.
#[test]
fn the_checks_find_a_circle() {
    let g: BTreeMap<String, BTreeSet<String>> =
        [("a".to_string(), BTreeSet::from(["b".to_string()])), ("b".to_string(), BTreeSet::from(["a".to_string()]))]
            .into();
    assert_eq!(circle(&g), Some(vec!["a".into(), "b".into(), "a".into()]));
    let text = "use crate::{go::Chan, runtime};\nlet x = crate::explore::dpor();\n// crate::triage";
    let named = names_after(&code(text), "crate::");
    assert_eq!(named, BTreeSet::from(["explore".into(), "go".into(), "runtime".into()]));
}
