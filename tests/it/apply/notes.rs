//! The commit-map notes (`refs/notes/tfmono`) of a re-sync: only the new commits' notes are
//! added on top of the previous notes commit, and the tree is always the one a fresh apply
//! builds from the whole map, also after a run killed between the map and the refs, and
//! after a repo moved to another path.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::git::{commit, rev};
use crate::common::org::{apply, publish, work_repo};
use crate::common::{git, ok, tempdir};

/// Repos `r1`..`r5` of one commit each, published to `legacy/`, mapped into monorepo `m`.
fn five_repos(root: &Path) {
    let mut mapping =
        String::from("monorepo \"m\" { url = \"git::https://example.com/acme/m.git\" }\n");
    for i in 1..=5 {
        let name = format!("r{i}");
        work_repo(root, &name, &[("main.tf", &format!("# {name}\n"))]);
        publish(root, &name);
        mapping.push_str(&format!(
            "repo \"{name}\" {{\n  url = \"legacy/{name}.git\"\n  into = \"m\"\n  path = \"{name}\"\n}}\n"
        ));
    }
    std::fs::write(root.join("mapping.hcl"), mapping).expect("mapping");
}

/// A new commit in `work-<name>`, published.
fn new_commit(root: &Path, name: &str, file: &str) -> String {
    let w = root.join(format!("work-{name}"));
    commit(&w, &[(file, "# new\n")], &format!("New {file} in {name}"));
    publish(root, name);
    rev(&w, "HEAD")
}

/// The image of legacy commit `old`, from the commit map of `m` in `out`.
fn image(root: &Path, out: &str, old: &str) -> String {
    let map = crate::common::commit_map(&root.join(out).join("m.commit-map"));
    map.lines()
        .find_map(|l| l.strip_prefix(&format!("{old} ")))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{old} not in the map:\n{map}"))
        .to_string()
}

/// The notes tree of monorepo `m` in `out`, after a fresh apply into `fresh` of the same
/// inputs, with the fresh one's.
fn notes_trees(root: &Path, out: &str, fresh: &str) -> (String, String) {
    apply(root, fresh);
    let tree = |o: &str| rev(&root.join(o).join("m.git"), "refs/notes/tfmono^{tree}");
    (tree(out), tree(fresh))
}

/// Every entry of the commit map of `m` in `out` has its note, and nothing else does.
fn assert_notes_map_every_commit(root: &Path, out: &str) {
    let map = crate::common::commit_map(&root.join(out).join("m.commit-map"));
    let images: BTreeSet<String> = map
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(' ').nth(1).expect("image").to_string())
        .collect();
    let listed = git(
        &root.join(out).join("m.git"),
        &["notes", "--ref=tfmono", "list"],
    );
    let noted: BTreeSet<String> = listed
        .lines()
        .map(|l| l.split(' ').nth(1).expect("annotated").to_string())
        .collect();
    assert_eq!(noted, images);
}

#[test]
fn a_resync_adds_only_the_new_commits_notes_and_matches_a_fresh_apply() {
    let tmp = tempdir();
    let root = tmp.path();
    five_repos(root);
    apply(root, "out");
    let mono = root.join("out/m.git");
    let notes0 = rev(&mono, "refs/notes/tfmono");

    // New commits in 2 of the 5 repos.
    let new = [
        new_commit(root, "r2", "a.tf"),
        new_commit(root, "r2", "b.tf"),
        new_commit(root, "r4", "c.tf"),
    ];
    let stderr = apply(root, "out");
    assert!(stderr.contains("m: 3 commits written"), "{stderr}");
    let notes1 = rev(&mono, "refs/notes/tfmono");
    assert_eq!(
        rev(&mono, "refs/notes/tfmono^"),
        notes0,
        "on top of the previous notes"
    );
    let changed = git(&mono, &["diff-tree", "-r", "--name-only", &notes0, &notes1]);
    let changed: BTreeSet<String> = changed.lines().map(|l| l.replace('/', "")).collect();
    let expected: BTreeSet<String> = new.iter().map(|c| image(root, "out", c)).collect();
    assert_eq!(
        changed, expected,
        "exactly the new commits' notes are added"
    );
    let note = git(
        &mono,
        &[
            "notes",
            "--ref=tfmono",
            "show",
            &image(root, "out", &new[2]),
        ],
    );
    assert_eq!(note, format!("Migrated-from: legacy/r4.git {}\n", new[2]));
    assert_notes_map_every_commit(root, "out");
    let (got, fresh) = notes_trees(root, "out", "fresh1");
    assert_eq!(got, fresh);

    // A run killed after writing the map, before moving the refs: the notes ref is behind
    // the map. The next run builds the notes from the whole map.
    git(&mono, &["update-ref", "refs/notes/tfmono", &notes0]);
    new_commit(root, "r1", "d.tf");
    let stderr = apply(root, "out");
    assert!(stderr.contains("m: 1 commits written"), "{stderr}");
    assert_notes_map_every_commit(root, "out");
    let (got, fresh) = notes_trees(root, "out", "fresh2");
    assert_eq!(got, fresh, "the notes of r2 and r4 are back");

    // A repo moved to another path: its images change, and so do their notes.
    let mapping = std::fs::read_to_string(root.join("mapping.hcl")).expect("read");
    let moved = mapping.replace("path = \"r3\"", "path = \"x/r3\"");
    std::fs::write(root.join("mapping.hcl"), moved).expect("write");
    apply(root, "out");
    assert_notes_map_every_commit(root, "out");
    let (got, fresh) = notes_trees(root, "out", "fresh3");
    assert_eq!(got, fresh);
}

/// `tfmono apply mapping.hcl --out <out>` with imports written in packs of `batch` new
/// commits.
fn apply_in_batches(root: &Path, out: &str, batch: &str) {
    apply_with_env(root, out, ("TFMONO_BATCH_COMMITS", batch));
}

/// `apply` into `out` with one environment variable set.
fn apply_with_env(root: &Path, out: &str, (key, value): (&str, &str)) {
    let o = crate::common::tfmono()
        .current_dir(root)
        .args(["apply", "mapping.hcl", "--out", out, "--quiet"])
        .env(key, value)
        .output()
        .expect("tfmono runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The packs of monorepo `m` in `out`.
fn packs(root: &Path, out: &str) -> usize {
    std::fs::read_dir(root.join(out).join("m.git/objects/pack"))
        .expect("pack dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "pack"))
        })
        .count()
}

/// Refs, commit map and every object of `m` in `out`.
fn everything(root: &Path, out: &str) -> (String, String, String) {
    let mono = root.join(out).join("m.git");
    let objects = git(
        &mono,
        &[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname) %(objecttype)",
        ],
    );
    (
        git(&mono, &["for-each-ref"]),
        crate::common::commit_map(&root.join(out).join("m.commit-map")),
        objects,
    )
}

#[test]
fn imports_written_in_batches_give_the_same_monorepo_and_a_killed_run_converges() {
    let tmp = tempdir();
    let root = tmp.path();
    five_repos(root);
    apply(root, "whole");
    // One batch per repo (each has one new commit): a pack per batch but the last, whose
    // images go into the final pack with the merges and notes.
    apply_in_batches(root, "batched", "1");
    assert_eq!(packs(root, "whole") + 4, packs(root, "batched"));
    assert_eq!(everything(root, "batched"), everything(root, "whole"));
    git(
        &root.join("batched/m.git"),
        &["fsck", "--full", "--no-dangling"],
    );

    // A run killed after writing its batch packs (no refs, no commit map): the re-run
    // writes no object twice and ends where an uninterrupted run does.
    let mono = root.join("batched/m.git");
    for r in git(&mono, &["for-each-ref", "--format=%(refname)"]).lines() {
        git(&mono, &["update-ref", "-d", r]);
    }
    std::fs::remove_dir_all(root.join("batched/m.commit-map")).expect("rm map");
    let before = packs(root, "batched");
    apply_in_batches(root, "batched", "1");
    assert_eq!(packs(root, "batched"), before, "the batch packs are reused");
    assert_eq!(
        everything(root, "batched").0,
        everything(root, "whole").0,
        "the same refs"
    );
    assert_notes_map_every_commit(root, "batched");
}

#[test]
fn pending_objects_written_early_give_the_same_monorepo() {
    let tmp = tempdir();
    let root = tmp.path();
    five_repos(root);
    apply(root, "whole");
    // Every pending object (merges, the rewrite commit) goes into a pack of its own before
    // the notes are built, as thousands of tag rewrites do at scale.
    apply_with_env(root, "early", ("TFMONO_OVERLAY_BYTES", "1"));
    assert_eq!(
        packs(root, "whole") + 1,
        packs(root, "early"),
        "one more pack"
    );
    assert_eq!(everything(root, "early"), everything(root, "whole"));
    git(
        &root.join("early/m.git"),
        &["fsck", "--full", "--no-dangling"],
    );
    ok(root, &["verify", "mapping.hcl", "--out", "early"]);
}
