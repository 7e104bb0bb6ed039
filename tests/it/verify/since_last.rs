//! `verify --since-last`: after a re-sync it checks exactly the legacy commits the last
//! apply wrote (the commits below the tips the last verify proved are not read again), still
//! catches a wrong image among them, a moved monorepo ref and legacy commits apply never
//! imported, and verifies everything when its record is missing or damaged.

use std::path::{Path, PathBuf};

use crate::common::git::rev;
use crate::common::{exits, git, ok, run, tempdir};

const VERIFY_SINCE: &[&str] = &["verify", "org/mapping.hcl", "--out", "out", "--since-last"];
const VERIFY: &[&str] = &["verify", "org/mapping.hcl", "--out", "out"];
const APPLY: &[&str] = &["apply", "org/mapping.hcl", "--out", "out", "--quiet"];
const MAP: &str = "out/reference-modules.commit-map";

/// A generated org (25 legacy repos), applied and verified in full.
fn applied_and_verified(root: &Path) {
    ok(root, &["gen-org", "org"]);
    ok(root, APPLY);
    let full = ok(root, VERIFY);
    assert!(
        !full.stdout.contains("since the last verify"),
        "{}",
        full.stdout
    );
    assert!(root.join("out/.tfmono/verified.json").is_file());
}

fn legacy(root: &Path, repo: &str) -> std::path::PathBuf {
    root.join("org/legacy").join(format!("{repo}.git"))
}

/// Pushes `n` new commits onto the default branch of legacy `repo`.
fn new_commits(root: &Path, repo: &str, n: usize) {
    let work = root.join(format!("work-{repo}"));
    if !work.exists() {
        let url = legacy(root, repo);
        git(
            root,
            &[
                "clone",
                "-q",
                url.to_str().expect("utf-8"),
                work.to_str().expect("utf-8"),
            ],
        );
    }
    for i in 0..n {
        std::fs::write(work.join("late.tf"), format!("# late change {i}\n")).expect("write");
        git(&work, &["add", "late.tf"]);
        git(&work, &["commit", "-q", "-m", &format!("Late change {i}")]);
    }
    git(&work, &["push", "-q", "origin", "HEAD"]);
}

/// Makes the commit map give legacy commit `old` the image `image`; returns what to restore.
fn set_image(root: &Path, old: &str, image: &str) -> (PathBuf, String) {
    crate::common::set_image(&root.join(MAP), old, image)
}

/// The image the commit map gives legacy commit `old`.
fn image(root: &Path, old: &str) -> String {
    let text = crate::common::commit_map(&root.join(MAP));
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{old} ")))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{old} is not in the commit map"))
        .to_string()
}

/// A commit of legacy `repo` below `below` (included) that no branch or tag points at.
fn inner_commit(root: &Path, repo: &str, below: &str) -> String {
    let dir = legacy(root, repo);
    let tips = git(
        &dir,
        &["for-each-ref", "--format=%(objectname) %(*objectname)"],
    );
    git(&dir, &["rev-list", below])
        .lines()
        .find(|c| !tips.contains(c))
        .expect("an inner commit")
        .to_string()
}

fn since_last_json(root: &Path, code: i32) -> serde_json::Value {
    let mut args = VERIFY_SINCE.to_vec();
    args.extend(["--format", "json"]);
    let r = run(root, &args);
    assert_eq!(r.code, Some(code), "{}", r.all());
    let report: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    report["since_last"].clone()
}

#[test]
fn since_last_checks_exactly_the_new_commits_of_the_repos_the_last_apply_changed() {
    let tmp = tempdir();
    let root = tmp.path();
    applied_and_verified(root);
    new_commits(root, "terraform-aws-vpc", 2);
    new_commits(root, "terraform-aws-alb", 1);
    ok(root, APPLY);
    // A wrong image below alb's old tip: proven by the last verify, so `--since-last` does
    // not read it again (and cannot see it); a full verify does.
    // (main~1 is alb's old tip: a proven boundary itself.)
    let old = inner_commit(root, "terraform-aws-alb", "main~2");
    let other = image(root, &rev(&legacy(root, "terraform-aws-alb"), "main"));
    let map = set_image(root, &old, &other);

    let r = ok(root, VERIFY_SINCE);
    assert!(
        r.stdout.contains(
            "checked 3 commits of 2 repos changed since the last verify (0 of them never verified: checked in full); 23 repos unchanged, skipped"
        ) && r
            .stdout
            .contains("verified: every one of 3 legacy commits new since the last verify"),
        "{}",
        r.stdout
    );
    let s = since_last_json(root, 0);
    assert_eq!(
        (
            &s["record"],
            &s["commits"],
            &s["repos_changed"],
            &s["repos_unverified"],
            &s["repos_unchanged"]
        ),
        (&true.into(), &0.into(), &0.into(), &0.into(), &25.into()),
        "nothing is new after a verify: {s}"
    );
    let full = exits(root, VERIFY, 1, &["MISMATCH", &old]);
    assert!(
        !full.stdout.contains("since the last verify"),
        "{}",
        full.stdout
    );
    crate::common::restore(map);
    let full = ok(root, VERIFY);
    assert!(
        full.stdout
            .contains("verified: every one of 301 legacy commits has an identical image"),
        "{}",
        full.stdout
    );
}

#[test]
fn since_last_catches_a_wrong_new_image_a_moved_ref_and_commits_apply_never_imported() {
    let tmp = tempdir();
    let root = tmp.path();
    applied_and_verified(root);
    new_commits(root, "terraform-aws-vpc", 2);
    ok(root, APPLY);
    let vpc = legacy(root, "terraform-aws-vpc");
    let first_new = rev(&vpc, "main~1");
    let old_tip_image = image(root, &rev(&vpc, "main~2"));
    let map = set_image(root, &first_new, &old_tip_image);
    exits(root, VERIFY_SINCE, 1, &["MISMATCH", &first_new]);
    crate::common::restore(map);
    // vpc failed: its record is dropped, so it is verified in full now (12 + 2 commits).
    let s = since_last_json(root, 0);
    assert_eq!(
        (
            &s["commits"],
            &s["repos_changed"],
            &s["repos_unverified"],
            &s["repos_unchanged"]
        ),
        (&14.into(), &0.into(), &1.into(), &24.into()),
        "{s}"
    );

    // A monorepo import ref moved back is caught although no commit is new.
    let mono = root.join("out/reference-modules.git");
    let branch = "refs/heads/import/terraform-aws-vpc/main";
    let good = rev(&mono, branch);
    git(&mono, &["update-ref", branch, &format!("{good}~1")]);
    exits(
        root,
        VERIFY_SINCE,
        1,
        &["ref not mapped", "refs/heads/main"],
    );
    git(&mono, &["update-ref", branch, &good]);
    ok(root, VERIFY_SINCE);

    // A legacy commit made after the last apply has no image: reported, not skipped.
    new_commits(root, "terraform-aws-alb", 1);
    let unimported = rev(&legacy(root, "terraform-aws-alb"), "main");
    exits(
        root,
        VERIFY_SINCE,
        1,
        &["missing image", &unimported, "run `tfmono apply` again"],
    );
}

#[test]
fn a_missing_or_damaged_record_means_every_commit_is_verified() {
    let tmp = tempdir();
    let root = tmp.path();
    applied_and_verified(root);
    let record = root.join("out/.tfmono/verified.json");
    for damage in [Some("{"), None] {
        match damage {
            Some(text) => std::fs::write(&record, text).expect("damage"),
            None => std::fs::remove_file(&record).expect("remove"),
        }
        let r = ok(root, VERIFY_SINCE);
        assert!(
            r.stdout.contains("no record of an earlier verify")
                && r.stdout.contains("checked 298 commits of 25 repos")
                && r.stdout.contains("25 of them never verified"),
            "{}",
            r.stdout
        );
        // and it records what it proved: the next run skips everything
        let s = since_last_json(root, 0);
        assert_eq!(
            (&s["commits"], &s["repos_unchanged"]),
            (&0.into(), &25.into()),
            "{s}"
        );
    }
}
