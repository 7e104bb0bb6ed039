//! Re-running `apply`: when neither the mapping nor any legacy ref changed since the last
//! completed apply, and the monorepos are as it left them, the run reads ref files only and
//! stops; anything else (a new legacy commit, a moved monorepo ref, an edited mapping, a
//! rollback) runs every step again and converges.

use std::path::{Path, PathBuf};

use crate::common::org::org;
use crate::common::{commit_map, git, ok, tempdir, tree_hash};

#[test]
fn a_rerun_after_a_failed_run_removes_its_leftover_packs() {
    let tmp = tempdir();
    let root = tmp.path();
    org(root);
    // The uninterrupted run, for comparison.
    ok(root, &["apply", "mapping.hcl", "--out", "clean", "--quiet"]);
    let clean = root.join("clean/reference-modules.git");

    // The failed run: its monorepo holds the linked legacy pack and what a full disk left
    // of the new pack: renamed into place without its index, a temporary pack of another
    // process, a temporary index, and an index whose pack is gone. No refs, no commit map.
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let mono = root.join("out/reference-modules.git");
    let written: Vec<String> = pack_files(&mono)
        .into_iter()
        .filter(|n| n.ends_with(".pack"))
        .collect();
    let pack_dir = mono.join("objects/pack");
    let big = written
        .iter()
        .map(|n| pack_dir.join(n))
        .max_by_key(|p| std::fs::metadata(p).expect("stat").len())
        .expect("a pack");
    let bytes = std::fs::read(&big).expect("read");
    let half = &bytes[..bytes.len() / 2];
    let orphan = "pack-0123456789abcdef0123456789abcdef01234567";
    std::fs::write(pack_dir.join(format!("{orphan}.pack")), half).expect("write");
    std::fs::write(pack_dir.join("tmp-tfmono-999999.pack"), half).expect("write");
    std::fs::write(
        pack_dir.join("pack-89abcdef0123456789abcdef0123456789abcdef.tmp-tfmono"),
        b"half an index",
    )
    .expect("write");
    std::fs::write(
        pack_dir.join("pack-fedcba9876543210fedcba9876543210fedcba98.idx"),
        b"an index without its pack",
    )
    .expect("write");
    std::fs::remove_dir_all(root.join("out/reference-modules.commit-map")).expect("rm map");
    for r in refs(&mono).lines() {
        let name = r.split_whitespace().nth(1).expect("name");
        git(&mono, &["update-ref", "-d", name]);
    }

    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    // No leftover, and no duplicate: the failed run's complete pack is reused (pack names
    // depend on object order, so the files are compared by count and the objects by id).
    let files = pack_files(&mono);
    assert!(
        files
            .iter()
            .all(|n| !n.contains("tmp-tfmono") && !n.contains(orphan) && !n.contains("fedcba98")),
        "leftover packs stay: {files:?}"
    );
    assert_eq!(files.len(), pack_files(&clean).len(), "{files:?}");
    assert_eq!(objects(&mono), objects(&clean));
    assert_eq!(refs(&mono), refs(&clean));
    assert_eq!(
        commit_map(&root.join("out/reference-modules.commit-map")),
        commit_map(&root.join("clean/reference-modules.commit-map")),
    );
    git(&mono, &["fsck", "--full", "--no-dangling"]);
    ok(root, &["verify", "mapping.hcl", "--out", "out", "--full"]);
}

#[test]
fn a_rerun_with_nothing_changed_reads_no_object_and_changes_nothing() {
    let tmp = tempdir();
    let root = tmp.path();
    ok(root, &["gen-org", "org"]);
    let first = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(!first.all().contains(UP_TO_DATE), "{}", first.all());
    let before = outputs(&root.join("out"));
    let before_files = files(&root.join("out"));

    // Hide every legacy object (an empty object directory stays): a run that read one
    // would fail.
    let repos = legacy_repos(root);
    for repo in &repos {
        std::fs::rename(repo.join("objects"), repo.join("objects.hidden")).expect("hide objects");
        std::fs::create_dir(repo.join("objects")).expect("empty objects dir");
    }
    let again = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(
        again.stderr.contains(UP_TO_DATE) && again.stderr.contains("25 legacy repos"),
        "{}",
        again.all()
    );
    assert_eq!(
        files(&root.join("out")),
        before_files,
        "a no-op re-run wrote"
    );
    // `--full` does read them: it fails, naming a repo, and still writes no monorepo ref.
    let full = crate::common::run(
        root,
        &["apply", "org/mapping.hcl", "--out", "out", "--full"],
    );
    assert_eq!(full.code, Some(2), "{}", full.all());
    for repo in &repos {
        std::fs::remove_dir(repo.join("objects")).expect("empty objects dir");
        std::fs::rename(repo.join("objects.hidden"), repo.join("objects")).expect("restore");
    }
    let full = ok(
        root,
        &["apply", "org/mapping.hcl", "--out", "out", "--full"],
    );
    assert!(!full.all().contains(UP_TO_DATE), "{}", full.all());
    assert_eq!(
        outputs(&root.join("out")),
        before,
        "a full re-run converges"
    );
}

#[test]
fn any_change_in_the_inputs_or_the_outputs_means_a_full_run_that_converges() {
    let tmp = tempdir();
    let root = tmp.path();
    let out = root.join("out");
    ok(root, &["gen-org", "org"]);
    ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);

    // A new commit in one legacy repo: imported, then up to date again.
    late_change(root);
    let synced = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(
        synced
            .stderr
            .contains("reference-modules: 1 commits written"),
        "{}",
        synced.all()
    );
    let after_commit = outputs(&out);
    let again = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(again.stderr.contains(UP_TO_DATE), "{}", again.all());

    // Someone moves a monorepo ref: the next run is a full one and puts it back.
    let mono = out.join("live.git");
    let main = git(&mono, &["rev-parse", "refs/heads/main"]);
    git(
        &mono,
        &["update-ref", "refs/heads/main", "refs/heads/main~1"],
    );
    let restored = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(!restored.all().contains(UP_TO_DATE), "{}", restored.all());
    assert_eq!(git(&mono, &["rev-parse", "refs/heads/main"]), main);
    assert_eq!(outputs(&out), after_commit);

    // An edited mapping (even a comment) is new input.
    let mapping = root.join("org/mapping.hcl");
    let text = std::fs::read_to_string(&mapping).expect("mapping");
    std::fs::write(&mapping, format!("{text}\n# reviewed\n")).expect("write");
    let edited = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(!edited.all().contains(UP_TO_DATE), "{}", edited.all());
    assert_eq!(outputs(&out), after_commit);

    // After a rollback nothing is applied: the next run is a full one, and makes what a
    // first apply of the same inputs makes.
    ok(root, &["rollback", "--out", "out"]);
    let reapplied = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(!reapplied.all().contains(UP_TO_DATE), "{}", reapplied.all());
    ok(root, &["apply", "org/mapping.hcl", "--out", "fresh"]);
    assert_eq!(outputs(&out), outputs(&root.join("fresh")));
}

#[test]
fn a_rewound_branch_a_deleted_tag_and_a_new_tag_are_reported_and_handled_as_documented() {
    let tmp = tempdir();
    let root = tmp.path();
    let out = root.join("out");
    ok(root, &["gen-org", "org"]);
    ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    let mono = out.join("reference-modules.git");
    let old_v1 = git(&mono, &["rev-parse", "refs/tags/vpc/v1.0.0"]);

    let legacy = root.join("org/legacy/terraform-aws-vpc.git");
    let tip = git(&legacy, &["rev-parse", "refs/heads/main"]);
    git(
        &legacy,
        &["update-ref", "refs/heads/main", "refs/heads/main~1"],
    );
    git(&legacy, &["tag", "-d", "v1.0.0"]);
    git(&legacy, &["tag", "v9.9.9", "main"]);
    let run = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    let err = &run.stderr;
    assert!(
        err.contains("Since the last apply into out: 1 of 25 legacy repos changed"),
        "{err}"
    );
    let short_tip: String = tip.trim().chars().take(12).collect();
    assert!(
        err.contains(&format!(
            "terraform-aws-vpc: refs/heads/main was rewound or force-pushed ({short_tip} is not in the history of"
        )),
        "{err}"
    );
    assert!(
        err.contains("terraform-aws-vpc: refs/tags/v1.0.0 was deleted")
            && err.contains("tfmono never deletes a ref"),
        "{err}"
    );
    assert!(
        err.contains(
            "terraform-aws-vpc: refs/tags/v9.9.9 is new: imported as refs/tags/vpc/v9.9.9"
        ),
        "{err}"
    );
    // As documented: the deleted tag's image stays, the new tag is there, main holds the
    // rewound tree at vpc/, and everything still verifies.
    assert_eq!(git(&mono, &["rev-parse", "refs/tags/vpc/v1.0.0"]), old_v1);
    git(&mono, &["rev-parse", "--verify", "refs/tags/vpc/v9.9.9"]);
    let legacy_tree = git(&legacy, &["rev-parse", "refs/heads/main^{tree}"]);
    let main_vpc = git(
        &mono,
        &[
            "rev-parse",
            "refs/heads/import/terraform-aws-vpc/main^{tree}:vpc",
        ],
    );
    assert_eq!(main_vpc, legacy_tree);
    let verified = ok(root, &["verify", "org/mapping.hcl", "--out", "out"]);
    assert!(verified.all().contains("verified"), "{}", verified.all());
    // Unchanged since: up to date, and nothing reported as changed.
    let again = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(again.stderr.contains(UP_TO_DATE), "{}", again.stderr);
}

#[test]
fn a_legacy_ref_rewritten_in_place_is_noticed_though_its_files_were_stamped() {
    let tmp = tempdir();
    let root = tmp.path();
    let out = root.join("out");
    ok(root, &["gen-org", "org"]);
    ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    // Old enough (a second) for their stamps to be trusted: the no-op records them, and the
    // next no-op takes every repo's refs from them (the files stat the same).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let stamps = out.join(".tfmono/ref-stamps.json");
    let again = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(again.stderr.contains(UP_TO_DATE), "{}", again.all());
    let recorded = std::fs::read_to_string(&stamps).expect("stamps recorded");
    assert_eq!(recorded.matches("\"stamps\":").count(), 25, "{recorded}");
    let again = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(again.stderr.contains(UP_TO_DATE), "{}", again.all());
    assert_eq!(std::fs::read_to_string(&stamps).expect("stamps"), recorded);

    // A script (not git) writes a branch in place, at once: same file, same size.
    let legacy = root.join("org/legacy/terraform-aws-vpc.git");
    let branch = legacy.join("refs/heads/main");
    assert!(branch.is_file(), "a loose ref");
    let parent = git(&legacy, &["rev-parse", "refs/heads/main~1"]);
    std::fs::write(&branch, format!("{parent}\n")).expect("write in place");
    let run = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(
        run.stderr
            .contains("Since the last apply into out: 1 of 25 legacy repos changed"),
        "{}",
        run.all()
    );
    let mono = out.join("reference-modules.git");
    let image = git(
        &mono,
        &[
            "rev-parse",
            "refs/heads/import/terraform-aws-vpc/main^{tree}:vpc",
        ],
    );
    assert_eq!(
        image,
        git(&legacy, &["rev-parse", "refs/heads/main^{tree}"])
    );
    // Just changed, so not stamped: the next run reads it, finds nothing new.
    let after = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(after.stderr.contains(UP_TO_DATE), "{}", after.all());
}

/// The file names in `mono/objects/pack`, sorted.
fn pack_files(mono: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(mono.join("objects/pack"))
        .expect("pack dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every object id in a bare repo, sorted.
fn objects(repo: &Path) -> String {
    git(
        repo,
        &[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname) %(objecttype)",
        ],
    )
}

/// `git for-each-ref` of a bare repo.
fn refs(repo: &Path) -> String {
    git(repo, &["for-each-ref", "--format=%(objectname) %(refname)"])
}

/// What apply made: every monorepo ref and commit map, hashed (the packs holding the objects
/// may differ between an incremental and a fresh run).
fn outputs(out: &Path) -> String {
    let mut parts = Vec::new();
    for name in ["reference-modules", "service-modules", "live"] {
        parts.push(git(&out.join(format!("{name}.git")), &["for-each-ref"]));
        parts.push(commit_map(&out.join(format!("{name}.commit-map"))));
    }
    use sha1::Digest;
    format!("{:x}", sha1::Sha1::digest(parts.join("\n")))
}

/// Every file under the monorepos (packs included), hashed.
fn files(out: &Path) -> String {
    ["reference-modules", "service-modules", "live"]
        .iter()
        .map(|name| tree_hash(&out.join(format!("{name}.git"))))
        .collect::<Vec<_>>()
        .join(" ")
}

fn legacy_repos(root: &Path) -> Vec<PathBuf> {
    let mut repos: Vec<PathBuf> = std::fs::read_dir(root.join("org/legacy"))
        .expect("legacy dir")
        .map(|e| e.expect("entry").path())
        .collect();
    repos.sort();
    repos
}

const UP_TO_DATE: &str = "Up to date:";

/// A new commit (`notes.tf`) pushed to the default branch of the generated org's legacy
/// terraform-aws-vpc from a clone in `root/work`.
fn late_change(root: &Path) {
    let legacy = root.join("org/legacy/terraform-aws-vpc.git");
    let work = root.join("work");
    git(
        root,
        &["clone", "-q", legacy.to_str().expect("utf-8"), "work"],
    );
    std::fs::write(work.join("notes.tf"), "# a late change\n").expect("write");
    git(&work, &["add", "notes.tf"]);
    git(&work, &["commit", "-q", "-m", "A late change"]);
    git(&work, &["push", "-q", "origin", "HEAD"]);
}

#[test]
fn a_rerun_takes_the_commit_count_of_a_repo_whose_tips_did_not_move_from_the_record() {
    let tmp = tempdir();
    let root = tmp.path();
    ok(root, &["gen-org", "org"]);
    let first = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(
        first.stdout.contains("terraform-aws-alb  12 commits"),
        "{}",
        first.stdout
    );
    // Make the record say alb has 4242 commits: a re-run that reuses it shows that figure,
    // which it cannot have counted.
    let record = root.join("out/.tfmono/synced.json");
    let mut synced: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).expect("record")).expect("json");
    let repos = synced["repos"].as_array_mut().expect("repos");
    let alb = repos
        .iter_mut()
        .find(|r| r["name"] == "terraform-aws-alb")
        .expect("alb recorded");
    assert_eq!(alb["counted"]["commits"], 12, "{alb}");
    alb["counted"]["commits"] = 4242.into();
    std::fs::write(&record, synced.to_string()).expect("write record");

    // vpc moves (its count is made again), alb does not (its count is taken as recorded).
    // Without the records of how the last apply read each repo (a cache: see the next
    // test), alb is read again, and its count comes from synced.json.
    std::fs::remove_dir_all(root.join("out/.tfmono/repos")).expect("rm repo records");
    late_change(root);
    let again = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(
        again.stdout.contains("terraform-aws-alb  4242 commits")
            && again.stdout.contains("terraform-aws-vpc  13 commits"),
        "{}",
        again.stdout
    );
    // A run with no record (plan) counts: the real figure.
    let plan = ok(root, &["plan", "org/mapping.hcl"]);
    assert!(
        plan.stdout.contains("terraform-aws-alb  12 commits"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_resync_after_new_commits_in_2_of_50_repos_writes_exactly_those_and_touches_nothing_else() {
    let tmp = tempdir();
    let root = tmp.path();
    ok(
        root,
        &[
            "gen-org",
            "org",
            "--bench",
            "--repos",
            "50",
            "--commits",
            "10",
            "--big",
            "10",
        ],
    );
    ok(
        root,
        &["apply", "org/mapping.hcl", "--out", "out", "--quiet"],
    );
    let out = root.join("out");
    let monos = ["reference-modules", "service-modules", "live"];
    let before_refs: Vec<String> = monos
        .iter()
        .map(|m| refs(&out.join(format!("{m}.git"))))
        .collect();
    let before_packs: Vec<(String, Vec<u8>)> = monos
        .iter()
        .flat_map(|m| {
            let dir = out.join(format!("{m}.git/objects/pack"));
            pack_files(&out.join(format!("{m}.git")))
                .into_iter()
                .map(move |n| {
                    (
                        format!("{m}/{n}"),
                        std::fs::read(dir.join(&n)).expect("read"),
                    )
                })
        })
        .collect();

    // The commit map's files: a file rewritten is a new file (written atomically), so its
    // inode tells whether the re-sync touched it.
    let inodes = |dir: &Path| -> std::collections::BTreeMap<String, u64> {
        use std::os::unix::fs::MetadataExt;
        std::fs::read_dir(dir)
            .expect("commit map")
            .map(|e| {
                let e = e.expect("entry");
                let ino = e.metadata().expect("metadata").ino();
                (e.file_name().to_string_lossy().into_owned(), ino)
            })
            .collect()
    };
    let map_dir = out.join("reference-modules.commit-map");
    let inodes_before = inodes(&map_dir);
    assert!(
        inodes_before.len() > 50 && inodes_before.contains_key("terraform-aws-gen-3.map"),
        "an index and a file per repo: {inodes_before:?}"
    );

    // Two new commits in one repo, one in another (both module repos of reference-modules).
    let mut new = Vec::new();
    for (name, n) in [("terraform-aws-gen-3", 2), ("terraform-aws-gen-17", 1)] {
        let legacy = root.join(format!("org/legacy/{name}.git"));
        for i in 0..n {
            new.push(crate::common::git::commit_on_head(
                &legacy,
                &format!("New {i}"),
            ));
        }
    }
    // The plan of that re-sync knows the 2 repos are the only ones to import again.
    let plan = ok(
        root,
        &[
            "plan",
            "org/mapping.hcl",
            "--format",
            "json",
            "--since",
            "out",
        ],
    );
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("json");
    let again: Vec<&str> = plan["monorepos"]
        .as_array()
        .expect("monorepos")
        .iter()
        .flat_map(|m| m["imports"].as_array().expect("imports"))
        .filter(|s| s["unchanged"] != serde_json::Value::Bool(true))
        .map(|s| s["repo"].as_str().expect("repo"))
        .collect();
    assert_eq!(again, ["terraform-aws-gen-17", "terraform-aws-gen-3"]);

    let run = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    let said = run.all();
    assert!(
        said.contains("reference-modules: 3 commits written, 703 reused, 4 refs updated")
            && said.contains("service-modules: 0 commits written, 22 reused, 0 refs updated")
            && said.contains("live: 0 commits written, 71 reused, 0 refs updated"),
        "{said}"
    );
    // Exactly the new commits got images, in the commit map.
    let map = commit_map(&out.join("reference-modules.commit-map"));
    for c in &new {
        assert!(
            map.lines().any(|l| l.starts_with(c.as_str())),
            "{c} has no image"
        );
    }
    // Only the two repos' files of the commit map and its index were written again.
    let inodes_after = inodes(&map_dir);
    let rewritten: Vec<&str> = inodes_after
        .iter()
        .filter(|(name, ino)| inodes_before.get(*name) != Some(ino))
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        rewritten,
        [
            "index",
            "terraform-aws-gen-17.map",
            "terraform-aws-gen-3.map"
        ]
    );
    // Every ref but main, the notes and the two repos' import branches is unchanged.
    for (m, before) in monos.iter().zip(&before_refs) {
        let after = refs(&out.join(format!("{m}.git")));
        let moved: Vec<&str> = after
            .lines()
            .filter(|l| !before.lines().any(|b| b == *l))
            .map(|l| l.split(' ').nth(1).expect("name"))
            .collect();
        let allowed = |r: &str| {
            r == "refs/heads/main"
                || r == "refs/notes/tfmono"
                || r == "refs/heads/import/terraform-aws-gen-3/main"
                || r == "refs/heads/import/terraform-aws-gen-17/main"
        };
        assert!(moved.iter().all(|r| allowed(r)), "{m}: {moved:?}");
        assert_eq!(
            after.lines().count(),
            before.lines().count(),
            "{m}: refs added or lost"
        );
        if *m == "reference-modules" {
            assert_eq!(moved.len(), 4, "{m}: {moved:?}");
        } else {
            assert!(moved.is_empty(), "{m}: {moved:?}");
        }
    }
    // Every pack that was there is there, byte for byte; only reference-modules got one more.
    for (name, bytes) in &before_packs {
        let (m, file) = name.split_once('/').expect("name");
        let now = std::fs::read(out.join(format!("{m}.git/objects/pack/{file}")))
            .unwrap_or_else(|e| panic!("{name} is gone: {e}"));
        assert!(&now == bytes, "{name} changed");
    }
    for m in monos {
        let count = pack_files(&out.join(format!("{m}.git"))).len();
        let was = before_packs
            .iter()
            .filter(|(n, _)| n.starts_with(&format!("{m}/")))
            .count();
        let added = if m == "reference-modules" { 2 } else { 0 };
        assert_eq!(count, was + added, "{m}: one new pack and its index");
    }
    ok(root, &["verify", "org/mapping.hcl", "--out", "out"]);
}

#[test]
fn a_resync_reads_no_object_of_a_repo_that_did_not_move() {
    let tmp = tempdir();
    let root = tmp.path();
    crate::common::applied_org(root);
    // alb's objects are gone (its refs stay): a run that read anything of alb but its refs
    // would fail.
    let objects = root.join("org/legacy/terraform-aws-alb.git/objects");
    let away = root.join("alb-objects");
    std::fs::rename(&objects, &away).expect("move alb's objects away");
    std::fs::create_dir(&objects).expect("empty objects dir");
    late_change(root);
    let run = ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert!(
        run.all().contains("reference-modules: 1 commits written"),
        "{}",
        run.all()
    );
    std::fs::remove_dir_all(&objects).expect("rm");
    std::fs::rename(&away, &objects).expect("put alb's objects back");
    ok(root, &["verify", "org/mapping.hcl", "--out", "out"]);
}
