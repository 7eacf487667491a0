//! The layout rules of `STYLE.md`, read from the source text: a room (a
//! module of `src/`, and inside a folder each of its modules) imports only
//! rooms below it — no circles, and no import of an item defined in a
//! folder's `mod.rs` (a folder's `mod.rs` only declares and re-exports);
//! no function over 120 lines; `main.rs` at most 250 lines.
//!
//! The reading is textual, as a reviewer reads `use` lines: every
//! `crate::…` and `super::…` path outside comments and `#[cfg(test)]`
//! modules is resolved to the longest module it names.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Longest function allowed, in lines from `fn` to its closing brace.
const MAX_FN_LINES: usize = 120;
/// Longest `main.rs` allowed.
const MAX_MAIN_LINES: usize = 250;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A library module: its path below `src/` (`["data", "csv", "body"]`),
/// whether it is a folder's `mod.rs`, and its text without comments and
/// test modules.
struct Module {
    path: Vec<String>,
    is_folder: bool,
    text: String,
}

fn strip(text: &str) -> String {
    let text = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The library's modules (the binary's `main.rs` and `cli/` are front ends,
/// outside the rooms).
fn modules() -> Vec<Module> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut out = Vec::new();
    for f in files {
        let rel = f.strip_prefix(src()).unwrap().with_extension("");
        let mut path: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let is_folder = path.last().is_some_and(|l| l == "mod");
        if is_folder {
            path.pop();
        }
        if path == ["lib"] || path == ["main"] || path[0] == "cli" {
            continue;
        }
        out.push(Module {
            path,
            is_folder,
            text: strip(&fs::read_to_string(&f).unwrap()),
        });
    }
    out
}

/// The paths (as segments from the crate root) that `text` names through
/// `crate::` and `super::`, `use` groups expanded one level.
fn references(m: &Module) -> Vec<Vec<String>> {
    let mut refs = Vec::new();
    let text = &m.text;
    let word = |c: char| c.is_alphanumeric() || c == '_';
    for base in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(base) {
            let at = from + i;
            from = at + base.len();
            if at > 0 && text[..at].ends_with(word) {
                continue;
            }
            let rest = &text[from..];
            let end = rest
                .find(|c: char| !(word(c) || c == ':'))
                .unwrap_or(rest.len());
            let mut segs: Vec<String> = rest[..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            let mut tails = vec![Vec::new()];
            if rest[end..].starts_with('{') && rest[..end].ends_with("::") || end == 0 {
                if let Some(close) = rest[end..].find('}') {
                    tails = rest[end + 1..end + close]
                        .split(',')
                        .map(|t| {
                            let t = t.split(" as ").next().unwrap_or("").trim();
                            t.split("::")
                                .filter(|s| !s.is_empty())
                                .map(String::from)
                                .collect()
                        })
                        .filter(|t: &Vec<String>| !t.is_empty())
                        .collect();
                }
            }
            let mut root: Vec<String> = if base == "crate::" {
                Vec::new()
            } else {
                m.path[..m.path.len() - 1].to_vec()
            };
            while segs.first().is_some_and(|s| s == "super") {
                segs.remove(0);
                root.pop();
            }
            for t in tails {
                let mut full = root.clone();
                full.extend(segs.iter().cloned());
                full.extend(t);
                refs.push(full);
            }
        }
    }
    refs
}

/// Items defined (not re-exported) in `text`.
fn defined(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let mut words = line.split_whitespace().peekable();
        while let Some(w) = words.peek() {
            if w.starts_with("pub") || *w == "unsafe" {
                words.next();
            } else {
                break;
            }
        }
        if let (Some(kind), Some(name)) = (words.next(), words.next()) {
            if ["fn", "struct", "enum", "trait", "type", "const", "static"].contains(&kind) {
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && line.starts_with(|c: char| !c.is_whitespace()) {
                    out.insert(name);
                }
            }
        }
    }
    out
}

/// Strongly connected groups of more than one room in `edges`.
fn circles(edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.iter().flat_map(|(a, b)| [a, b]).collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for (a, b) in edges {
                if *a == n && seen.insert(b.clone()) {
                    stack.push(b.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut groups: BTreeSet<Vec<String>> = BTreeSet::new();
    for n in &nodes {
        let group: Vec<String> = nodes
            .iter()
            .filter(|m| reaches[*n].contains(**m) && reaches[**m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        if group.len() > 1 {
            groups.insert(group);
        }
    }
    groups.into_iter().collect()
}

#[test]
fn rooms_import_only_rooms_below_them() {
    let mods = modules();
    let known: BTreeSet<Vec<String>> = mods.iter().map(|m| m.path.clone()).collect();
    let by_path: BTreeMap<Vec<String>, &Module> =
        mods.iter().map(|m| (m.path.clone(), m)).collect();
    let mut edges = BTreeSet::new();
    let mut up = Vec::new();
    for m in &mods {
        for full in references(m) {
            let target = (1..=full.len())
                .rev()
                .map(|i| full[..i].to_vec())
                .find(|p| known.contains(p));
            let Some(target) = target else { continue };
            let rest = &full[target.len()..];
            if target[0] != m.path[0] {
                edges.insert((m.path[0].clone(), target[0].clone()));
            }
            let depth = m.path.len();
            if depth >= 2 && target.len() >= depth && target[..depth - 1] == m.path[..depth - 1] {
                let sibling = target[..depth].join("/");
                if target[depth - 1] != m.path[depth - 1] {
                    edges.insert((m.path.join("/"), sibling));
                }
            }
            // an item defined in the folder's mod.rs, used by one of its modules
            let parent = &m.path[..m.path.len() - 1];
            if !m.is_folder && !parent.is_empty() && target == parent {
                if let (Some(name), Some(folder)) = (rest.first(), by_path.get(parent)) {
                    let mut child = parent.to_vec();
                    child.push(name.clone());
                    if defined(&folder.text).contains(name) && !known.contains(&child) {
                        up.push(format!(
                            "{} uses {name} from {}/mod.rs",
                            m.path.join("/"),
                            parent.join("/")
                        ));
                    }
                }
            }
        }
    }
    let circles = circles(&edges);
    assert!(
        circles.is_empty(),
        "rooms that import each other: {circles:?}"
    );
    up.sort();
    up.dedup();
    assert!(up.is_empty(), "imports running back up:\n{}", up.join("\n"));
}

/// `(lines, file:line, name)` of every function in `text`.
fn functions(file: &str, text: &str) -> Vec<(usize, String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let sig = trimmed
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .trim_start_matches("const ")
            .trim_start_matches("unsafe ");
        let Some(name) = sig.strip_prefix("fn ") else {
            continue;
        };
        let name: String = name
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // the body opens on the signature's last line; a declaration ends
        // with `;`, a one-line function with `}`
        let Some(open) = (i..lines.len()).find(|&j| {
            let l = lines[j].trim_end();
            l.ends_with('{') || l.ends_with(';') || l.ends_with('}')
        }) else {
            continue;
        };
        if !lines[open].trim_end().ends_with('{') {
            out.push((open - i + 1, format!("{file}:{}", i + 1), name));
            continue;
        }
        let close = (open + 1..lines.len())
            .find(|&j| lines[j] == format!("{indent}}}"))
            .unwrap_or(lines.len() - 1);
        out.push((close - i + 1, format!("{file}:{}", i + 1), name));
    }
    out
}

#[test]
fn no_function_is_too_long_to_hold_in_the_head() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut long = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        let name = f.strip_prefix(src()).unwrap().display().to_string();
        for (n, at, fun) in functions(&name, &text) {
            if n > MAX_FN_LINES {
                long.push(format!("{at} {fun}: {n} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn a_folders_mod_rs_only_declares_and_re_exports() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut found = Vec::new();
    for f in files.iter().filter(|f| f.ends_with("mod.rs")) {
        let text = strip(&fs::read_to_string(f).unwrap());
        let items = defined(&text);
        let impls = text.lines().filter(|l| l.starts_with("impl")).count();
        if !items.is_empty() || impls > 0 {
            let name = f.strip_prefix(src()).unwrap().display();
            found.push(format!("{name}: {items:?}, {impls} impl blocks"));
        }
    }
    assert!(
        found.is_empty(),
        "mod.rs files that define items:\n{}",
        found.join("\n")
    );
}

#[test]
fn main_only_parses_dispatches_and_exits() {
    let lines = fs::read_to_string(src().join("main.rs"))
        .unwrap()
        .lines()
        .count();
    assert!(
        lines <= MAX_MAIN_LINES,
        "main.rs has {lines} lines (at most {MAX_MAIN_LINES})"
    );
}

#[test]
fn the_rules_see_what_they_look_for() {
    // a circle and a long function, made up, are found
    let edges: BTreeSet<(String, String)> = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
        .iter()
        .map(|(x, y)| (x.to_string(), y.to_string()))
        .collect();
    assert_eq!(
        circles(&edges),
        vec![vec!["a".to_string(), "b".into(), "c".into()]]
    );
    let body = format!(
        "fn long() {{\n{}}}\nfn short() {{\n}}\n",
        "    x();\n".repeat(130)
    );
    let found = functions("f.rs", &body);
    assert_eq!(found[0], (132, "f.rs:1".to_string(), "long".to_string()));
    assert_eq!(found[1].0, 2);
    let m = Module {
        path: vec!["data".into(), "csv".into()],
        is_folder: false,
        text: "use super::{table::RawTable, show};\nuse crate::error::Result;".into(),
    };
    let refs = references(&m);
    assert!(refs.contains(&vec!["data".into(), "table".into(), "RawTable".into()]));
    assert!(refs.contains(&vec!["data".into(), "show".into()]));
    assert!(refs.contains(&vec!["error".into(), "Result".into()]));
    assert!(
        defined("pub(crate) fn show(x: &str) {}\nstruct S;\n    fn inner() {}").contains("show")
    );
}
