//! The library's layering (see the crate docs in `src/lib.rs`): a module may use only the
//! modules below it, and no two top-level modules import each other, directly or through
//! others. Read from the sources: every `crate::<module>` outside comments counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules of `src/lib.rs`, lowest first. A module may use the modules of
/// the layers before its own, never one of its own layer or above. Keep in step with the
/// crate docs in `src/lib.rs`.
const LAYERS: &[&[&str]] = &[
    // leaves: text and process helpers
    &["redact", "shell", "hcl", "progress"],
    &["mapping"],
    &["sources"],
    // git objects, history over them, then the output directory
    &["objects"],
    &["history"],
    &["outdir"],
    &["state"],
    // the pipeline
    &["inventory"],
    &["preflight"],
    &["plan"],
    &["rollback"],
    &["apply"],
    &["verify"],
    // beside the pipeline: rendering, and the generator of legacy orgs
    &["report", "orggen"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to; `None` for the crate roots and the
/// binary's `cli/` (it sits above everything).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).expect("a file under src");
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "cli")).then(|| name.to_string())
}

/// Every `crate::<name>` in `text` outside `//` comments, with its line number.
fn crate_refs(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().last();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `tfmono_crate::`, not ours
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((i + 1, name));
            }
        }
    }
    found
}

/// module -> (module it uses -> first place it does).
fn graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("a source file is UTF-8");
        let uses = graph.entry(module.clone()).or_default();
        for (line, used) in crate_refs(&text) {
            if used != module {
                let place = format!(
                    "{}:{line}",
                    file.strip_prefix(&src).unwrap_or(&file).display()
                );
                uses.entry(used).or_insert(place);
            }
        }
    }
    graph
}

#[test]
fn every_module_is_placed_in_a_layer() {
    let unplaced: Vec<String> = graph()
        .keys()
        .filter(|m| rank(m).is_none())
        .cloned()
        .collect();
    assert!(
        unplaced.is_empty(),
        "top-level modules missing from LAYERS in tests/it/layers.rs (and the crate docs): {unplaced:?}"
    );
}

#[test]
fn no_module_uses_one_of_its_layer_or_above() {
    let mut wrong = Vec::new();
    for (module, uses) in graph() {
        let Some(mine) = rank(&module) else { continue };
        for (used, place) in uses {
            match rank(&used) {
                Some(theirs) if theirs < mine => {}
                Some(_) => wrong.push(format!(
                    "{module} uses {used} ({place}), which is not below it"
                )),
                None => wrong.push(format!(
                    "{module} uses {used} ({place}), which is in no layer"
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

/// A cycle among `edges`, if any, as the modules along it.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|p| p == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

#[test]
fn top_level_modules_form_no_cycle() {
    let edges: BTreeMap<String, BTreeSet<String>> = graph()
        .into_iter()
        .map(|(m, uses)| (m, uses.into_keys().collect()))
        .collect();
    assert_eq!(
        cycle(&edges),
        None,
        "an import cycle between top-level modules"
    );
}

#[test]
fn the_checks_catch_what_they_are_for() {
    // the reference scan: code counts, comments and other crates' paths do not
    let refs = crate_refs(
        "use crate::plan::Plan; // crate::apply\nx = my_crate::verify::y; crate::outdir::f()",
    );
    let names: Vec<&str> = refs.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["plan", "outdir"]);
    // the cycle finder
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("apply", &["rollback"][..]),
        ("rollback", &["outdir"][..]),
        ("outdir", &["apply"][..]),
    ]
    .into_iter()
    .map(|(m, u)| (m.to_string(), u.iter().map(|s| s.to_string()).collect()))
    .collect();
    assert_eq!(
        cycle(&edges),
        Some(vec![
            "apply".into(),
            "rollback".into(),
            "outdir".into(),
            "apply".into()
        ])
    );
    // and the order: apply above rollback, verify above apply, outdir below both
    assert!(rank("rollback") < rank("apply") && rank("apply") < rank("verify"));
    assert!(rank("outdir") < rank("rollback"));
}

/// The layering puts the crash-safe order of an apply in `tfmono::apply::run` itself (not in
/// the CLI): a library caller gets the lock, the journal, the scripts and the records, and
/// the preload store it passes is emptied repo by repo as the imports finish.
#[test]
fn a_library_apply_keeps_the_journal_and_the_records() {
    use std::sync::atomic::AtomicBool;
    use tfmono::{apply, history::preload::Store, inventory, outdir, plan};

    let tmp = crate::common::tempdir();
    let org = tfmono::orggen::generate(&tmp.path().join("org"), &tfmono::orggen::Options::demo())
        .expect("the demo org generates");
    let mapping = tfmono::mapping::load(&org.mapping, None).expect("the mapping loads");
    let store = Store::default();
    let scanned = inventory::scan_with(
        &mapping,
        &inventory::Options::default(),
        &store,
        &tfmono::progress::NoProgress,
    )
    .expect("every repo scans");
    let plan = plan::build_with_progress(
        &mapping,
        &scanned,
        &plan::Options::default(),
        &store,
        &tfmono::progress::NoProgress,
    )
    .expect("the plan builds");
    let refs: Vec<inventory::RepoRefs> = scanned.repos.iter().map(|r| r.refs()).collect();
    let steps: Vec<&plan::ImportStep> = plan.monorepos.iter().flat_map(|m| &m.imports).collect();
    assert!(
        steps.iter().all(|s| store.holds(&s.git_dir)),
        "the scan preloads every repo"
    );

    let out = tmp.path().join("out");
    let ctx = apply::Context {
        preload: &store,
        progress: &tfmono::progress::NoProgress,
        should_interrupt: &AtomicBool::new(false),
    };
    apply::run(&plan, &refs, &out, &apply::Options::default(), &ctx).expect("apply runs");

    let journal = outdir::load(&out)
        .expect("readable")
        .expect("apply::run wrote the journal");
    assert_eq!(journal.fingerprint, plan.fingerprint);
    for f in [outdir::ROLLBACK_SCRIPT, outdir::PUSH_SCRIPT] {
        assert!(journal.files.iter().any(|j| j == f), "{f} is journaled");
        let text = std::fs::read_to_string(out.join(f)).expect("the script is there");
        assert!(
            text.ends_with(&format!("{}\n", outdir::SCRIPT_END)),
            "{f} is whole"
        );
    }
    for m in &plan.monorepos {
        assert!(journal.files.contains(&outdir::commit_map_file(&m.name)));
        assert!(out
            .join(outdir::commit_map_file(&m.name))
            .join(tfmono::history::commit_map::INDEX)
            .is_file());
    }
    let key = outdir::run_key(&plan.fingerprint, None).expect("key");
    assert!(
        outdir::is_synced(&out, &plan.fingerprint, &key).expect("records readable"),
        "apply::run recorded the applied refs and the synced inputs"
    );
    assert!(
        steps.iter().all(|s| !store.holds(&s.git_dir)),
        "each repo's preloaded commits are released after its import"
    );
    // the lock is apply's too: a second apply under a held lock is refused
    let held = outdir::lock_output(&out).expect("free after the run");
    let busy = apply::run(&plan, &refs, &out, &apply::Options::default(), &ctx);
    assert!(matches!(
        busy,
        Err(apply::Error::Output(outdir::Error::Busy { .. }))
    ));
    drop(held);
}
