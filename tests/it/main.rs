//! The one integration-test binary. Its modules mirror `src/`: a test lives in the module of
//! the code that owns the behaviour it checks; helpers shared between modules live once in
//! [`common`]. Every `.rs` file under `tests/it` is declared here or in a `mod.rs` (see
//! [`every_test_file_is_a_declared_module`]).

mod apply;
mod cli;
mod common;
mod history;
mod inventory;
mod layers;
mod mapping;
mod orggen;
mod plan;
mod report;
mod rollback;
mod sources;
mod state;
mod verify;

/// Every `.rs` file under `tests/it` is a module: `main.rs` or a `mod.rs` declares it, so no
/// test file is silently left out of the binary.
#[test]
fn every_test_file_is_a_declared_module() {
    fn walk(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("tests/it is readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, found);
            } else if p.extension().is_some_and(|x| x == "rs") {
                found.push(p);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut undeclared = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&root).expect("below tests/it");
        let name = rel.file_stem().expect("name").to_string_lossy();
        if rel == std::path::Path::new("main.rs") || name == "mod" {
            continue;
        }
        // `a/b.rs` is declared in `a/mod.rs`; `a.rs` and `a/mod.rs` in `main.rs`.
        let parent = rel.parent().expect("parent");
        let (declarer, module) = if parent.as_os_str().is_empty() {
            (root.join("main.rs"), name.to_string())
        } else {
            (root.join(parent).join("mod.rs"), name.to_string())
        };
        let text = std::fs::read_to_string(&declarer).unwrap_or_default();
        let declared = text.lines().any(|l| {
            let l = l.trim();
            [format!("mod {module};"), format!("pub mod {module};")].contains(&l.to_string())
        });
        if !declared {
            undeclared.push(rel.display().to_string());
        }
    }
    // a directory module is declared by its parent too
    for f in &files {
        let rel = f.strip_prefix(&root).expect("below tests/it");
        if rel.file_name().is_some_and(|n| n == "mod.rs") {
            let dir = rel.parent().expect("dir");
            let name = dir.file_name().expect("name").to_string_lossy().to_string();
            let declarer = match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => root.join(p).join("mod.rs"),
                _ => root.join("main.rs"),
            };
            let text = std::fs::read_to_string(&declarer).unwrap_or_default();
            if !text.lines().any(|l| {
                [format!("mod {name};"), format!("pub mod {name};")].contains(&l.trim().to_string())
            }) {
                undeclared.push(rel.display().to_string());
            }
        }
    }
    assert!(
        files.len() > 20,
        "expected the test modules under {}",
        root.display()
    );
    assert!(
        undeclared.is_empty(),
        "files under tests/it not declared as modules (add `mod <name>;` to main.rs or the \
         directory's mod.rs): {undeclared:?}"
    );
}
