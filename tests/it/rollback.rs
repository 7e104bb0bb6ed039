//! `rollback` (src/rollback): back to the refs before the first apply, twice if asked; refusals
//! without or with a damaged journal, while an apply holds the lock, or when work made after
//! apply would be lost (unless `--force`, which bundles it first).

use std::path::Path;

use crate::common::git::{commit, refs};
use crate::common::org::{
    files_below, gen_org, mini_org, monorepos, org, publish, work_repo, MiniOpts, API,
};
use crate::common::{exits, fails, git, ok, tempdir, tree_hash};

#[test]
fn rollback_and_verify_refuse_while_an_apply_holds_the_lock() {
    let tmp = tempdir();
    let root = tmp.path();
    org(root);
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let out = root.join("out");
    let before = tree_hash(&out);
    let lock = hold_lock(&out);
    let busy = [
        "another tfmono is running on",
        ".tfmono/lock",
        "wait for it to finish",
    ];
    exits(root, &["rollback", "--out", "out"], 2, &busy);
    assert_eq!(
        tree_hash(&out),
        before,
        "rollback changed the output directory"
    );
    assert!(out.join("reference-modules.git/HEAD").is_file());
    exits(root, &["verify", "mapping.hcl", "--out", "out"], 2, &busy);
    // A second apply is refused the same way.
    exits(
        root,
        &["apply", "mapping.hcl", "--out", "out", "--quiet"],
        2,
        &busy,
    );
    assert_eq!(
        tree_hash(&out),
        before,
        "the output directory changed under the lock"
    );
    drop(lock);
    ok(root, &["verify", "mapping.hcl", "--out", "out"]);
    ok(root, &["rollback", "--out", "out"]);
    assert!(!out.join("reference-modules.git").exists());
}

#[test]
fn rollback_refuses_to_lose_work_made_after_apply_and_force_bundles_it_first() {
    let tmp = tempdir();
    let root = tmp.path();
    org(root);
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let out = root.join("out");
    let mono = out.join("reference-modules.git");
    // Work in the monorepo after the migration: a commit on main and a new tag.
    let tree = git(&mono, &["rev-parse", "main^{tree}"]).trim().to_string();
    let work = git(
        &mono,
        &[
            "commit-tree",
            &tree,
            "-p",
            "main",
            "-m",
            "Work after the migration",
        ],
    )
    .trim()
    .to_string();
    git(&mono, &["update-ref", "refs/heads/main", &work]);
    git(&mono, &["tag", "team/v1", &work]);
    let before = tree_hash(&out);

    exits(
        root,
        &["rollback", "--out", "out"],
        2,
        &[
            "refusing to roll back",
            "reference-modules: refs/heads/main, refs/tags/team/v1",
            "--force",
        ],
    );
    assert_eq!(
        tree_hash(&out),
        before,
        "a refused rollback changed the output"
    );
    assert_eq!(git(&mono, &["rev-parse", "main"]).trim(), work);

    let r = ok(root, &["rollback", "--out", "out", "--force"]);
    let bundle = out.join("rollback-saved-reference-modules.bundle");
    assert!(
        r.all().contains("rollback-saved-reference-modules.bundle"),
        "{}",
        r.all()
    );
    assert!(!mono.exists(), "the monorepo apply created is still there");
    // The bundle holds the work: both refs, fetchable into a new repo.
    let heads = git(
        root,
        &["bundle", "list-heads", bundle.to_str().expect("utf-8")],
    );
    assert!(
        heads.contains(&format!("{work} refs/heads/main")),
        "{heads}"
    );
    assert!(heads.contains("refs/tags/team/v1"), "{heads}");
    let restore = root.join("restore.git");
    git(root, &["init", "-q", "--bare", "restore.git"]);
    git(
        &restore,
        &[
            "fetch",
            "-q",
            bundle.to_str().expect("utf-8"),
            "refs/*:refs/*",
        ],
    );
    assert_eq!(git(&restore, &["rev-parse", "main"]).trim(), work);
    git(&restore, &["fsck", "--no-dangling"]);
}

#[test]
fn rollback_without_work_since_apply_needs_no_force() {
    let tmp = tempdir();
    let root = tmp.path();
    org(root);
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    ok(root, &["rollback", "--out", "out"]);
    assert!(!root.join("out/reference-modules.git").exists());
    assert!(!root
        .join("out/rollback-saved-reference-modules.bundle")
        .exists());
}

#[test]
fn rollback_refuses_a_directory_without_or_with_a_damaged_journal() {
    let tmp = tempdir();
    let root = tmp.path();
    std::fs::create_dir(root.join("empty")).expect("mkdir");
    fails(
        root,
        &["rollback", "--out", "empty"],
        &[
            "empty holds no tfmono journal",
            "journal.json",
            "nothing to roll back",
        ],
    );
    fails(
        root,
        &["rollback", "--out", "missing"],
        &["missing holds no tfmono journal"],
    );
    std::fs::create_dir_all(root.join("damaged/.tfmono")).expect("mkdir");
    std::fs::write(
        root.join("damaged/.tfmono/journal.json"),
        "{\"fingerprint\": ",
    )
    .expect("w");
    let before = tree_hash(&root.join("damaged"));
    fails(
        root,
        &["rollback", "--out", "damaged"],
        &[
            "the journal damaged/.tfmono/journal.json is damaged",
            "restore it from a backup or start with a new output directory",
        ],
    );
    assert_eq!(tree_hash(&root.join("damaged")), before);
    // verify of an output directory apply never wrote.
    let org = gen_org(&root.join("org"));
    fails(
        &org,
        &["verify", "mapping.hcl", "--out", "nowhere"],
        &[
            "nowhere/reference-modules.git is not there",
            "run `tfmono apply` with the same --out first",
        ],
    );
}

#[test]
fn rollback_of_a_fresh_apply_removes_everything_it_created() {
    let tmp = tempdir();
    let org = gen_org(&tmp.path().join("org"));
    ok(&org, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let out = org.join("out");
    assert_eq!(monorepos(&out).len(), 3);
    let journal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(".tfmono/journal.json")).expect("journal"),
    )
    .expect("journal JSON");
    for m in journal["monorepos"].as_array().expect("monorepos") {
        assert_eq!(m["created"], true, "{m}");
    }
    // A second (no-op) apply keeps `created`.
    ok(&org, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let r = ok(&org, &["rollback", "--out", "out"]);
    assert!(r.stdout.contains("rollback done"), "{}", r.stdout);
    assert!(
        monorepos(&out).is_empty(),
        "monorepos left: {:?}",
        monorepos(&out)
    );
    let left = files_below(&out);
    // The journal and the lock stay (tfmono's marker), and rollback.sh so it can be re-run.
    assert_eq!(
        left,
        [".tfmono/journal.json", ".tfmono/lock", "rollback.sh"],
        "files left after rollback"
    );
}

#[test]
fn rollback_can_be_run_twice() {
    let tmp = tempdir();
    let org = gen_org(&tmp.path().join("org"));
    ok(&org, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    ok(&org, &["rollback", "--out", "out"]);
    ok(&org, &["rollback", "--out", "out"]);
}

#[test]
fn rollback_restores_every_ref_of_an_existing_monorepo_to_before_the_first_apply() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    // An existing live monorepo (with a README on main and a tag) in a tfmono directory.
    let out = root.join("out");
    std::fs::create_dir_all(out.join(".tfmono")).expect("mkdir");
    let seed = work_repo(root, "live-seed", &[("README.md", "# live\n")]);
    git(&seed, &["tag", "pre/v0"]);
    git(
        root,
        &["clone", "-q", "--bare", "work-live-seed", "out/live.git"],
    );
    let live = out.join("live.git");
    let original = refs(&live);
    assert_eq!(original.lines().count(), 2, "{original}");

    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let after_first = refs(&live);
    assert!(after_first.contains("refs/heads/import/api-static-dev-korea/main"));
    assert!(after_first.contains("refs/notes/tfmono"));
    // main now merges the import on top of the README commit.
    let first_parents = git(&live, &["log", "--first-parent", "--format=%s", "main"]);
    assert!(
        first_parents.ends_with("Initial live-seed\n"),
        "{first_parents}"
    );

    // Work continues: someone commits on main, the legacy repo gets a commit, apply again.
    let main = git(&live, &["rev-parse", "main"]).trim().to_string();
    let tree = git(&live, &["rev-parse", "main^{tree}"]).trim().to_string();
    let extra = git(
        &live,
        &["commit-tree", &tree, "-p", &main, "-m", "Monorepo work"],
    );
    git(&live, &["update-ref", "refs/heads/main", extra.trim()]);
    let w = root.join(format!("work-{API}"));
    commit(&w, &[("new.tf", "# more\n")], "More deployment");
    git(&w, &["tag", "v3"]);
    publish(root, API);
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let after_second = refs(&live);
    assert_ne!(after_second, after_first);
    assert!(
        after_second.contains("refs/tags/dev/korea/api/static/v3"),
        "{after_second}"
    );

    let journal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(".tfmono/journal.json")).expect("journal"),
    )
    .expect("json");
    let jl = journal["monorepos"]
        .as_array()
        .expect("array")
        .iter()
        .find(|m| m["name"] == "live")
        .expect("live in the journal")
        .clone();
    assert_eq!(jl["created"], false, "{jl}");

    let r = ok(root, &["rollback", "--out", "out"]);
    assert!(r.stdout.contains("refs of live"), "{}", r.stdout);
    assert_eq!(
        refs(&live),
        original,
        "live's refs are not back to before the first apply"
    );
    assert!(
        !out.join("reference-modules.git").exists(),
        "created monorepo left"
    );
    git(&live, &["fsck", "--full", "--no-dangling"]);
}

/// Takes `out/.tfmono/lock` the way apply does (an exclusive lock on the file).
fn hold_lock(out: &Path) -> std::fs::File {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(out.join(".tfmono/lock"))
        .expect("open the lock");
    file.try_lock().expect("lock");
    file
}
