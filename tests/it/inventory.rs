//! The inventory on real git repos: refs, counts, files, and every bad-repo case.

use std::path::Path;

use crate::common::org::files_below;
use crate::common::{self, fails, git, tempdir, tfmono, Run};

#[test]
fn reads_branches_tags_counts_and_files() {
    let dir = common::tempdir();
    let repo = dir.path().join("r");
    std::fs::create_dir(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "trunk"]);
    std::fs::write(
        repo.join("main.tf"),
        "module \"a\" {\n  source = \"./a\"\n}\n",
    )
    .expect("w");
    std::fs::create_dir(repo.join("a")).expect("mkdir");
    std::fs::write(repo.join("a/x.tf.json"), "{}").expect("w");
    std::fs::write(repo.join("README.md"), "hi").expect("w");
    std::fs::write(
        repo.join("big.bin"),
        "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n",
    )
    .expect("w");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    git(&repo, &["tag", "v1"]);
    git(&repo, &["checkout", "-q", "-b", "feature"]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "two"]);
    git(&repo, &["tag", "-a", "v2", "-m", "annotated"]);
    git(&repo, &["checkout", "-q", "trunk"]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "three"]);
    mapping_for(dir.path(), "r");

    let inv = scan(dir.path()).expect("scans");
    let r = &inv.repos[0];
    assert_eq!(r.default_branch.as_deref(), Some("trunk"));
    let names: Vec<&str> = r.branches.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["refs/heads/feature", "refs/heads/trunk"]);
    let tags: Vec<(&str, bool)> = r.tags.iter().map(|t| (t.short(), t.annotated)).collect();
    assert_eq!(tags, [("v1", false), ("v2", true)]);
    assert_eq!(r.commits, 3, "one + two (feature, v2) + three");
    let files: Vec<&str> = r.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(files, ["a/x.tf.json", "main.tf"]);
    assert_eq!(r.lfs_pointers, ["big.bin"]);
}

#[test]
fn missing_path_names_repo_and_fix() {
    let dir = common::tempdir();
    mapping_for(dir.path(), "does-not-exist");
    let err = plan_stderr(dir.path());
    assert!(
        err.contains("repo \"r\": no local copy of does-not-exist"),
        "{err}"
    );
    assert!(err.contains("--repos DIR"), "{err}");
}

#[test]
fn remote_url_without_local_copy() {
    let dir = common::tempdir();
    mapping_for(dir.path(), "https://bob:hunter2@github.com/acme/r.git");
    let err = plan_stderr(dir.path());
    assert!(
        err.contains("no local copy of https://bob:***@github.com/acme/r.git"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "credentials leaked: {err}");
}

#[test]
fn not_a_git_directory() {
    let dir = common::tempdir();
    std::fs::create_dir(dir.path().join("plain")).expect("mkdir");
    std::fs::write(dir.path().join("plain/file"), "x").expect("w");
    mapping_for(dir.path(), "plain");
    let err = plan_stderr(dir.path());
    assert!(
        err.contains("repo \"r\"") && err.contains("is not a git repository"),
        "{err}"
    );
}

#[test]
fn empty_repository() {
    let dir = common::tempdir();
    std::fs::create_dir(dir.path().join("e.git")).expect("mkdir");
    git(&dir.path().join("e.git"), &["init", "-q", "--bare"]);
    mapping_for(dir.path(), "e.git");
    let err = plan_stderr(dir.path());
    assert!(
        err.contains("repo \"r\"") && err.contains("is empty"),
        "{err}"
    );
}

#[test]
fn default_branch_missing() {
    let dir = common::tempdir();
    let repo = dir.path().join("r");
    std::fs::create_dir(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "x"]);
    git(&repo, &["symbolic-ref", "HEAD", "refs/heads/gone"]);
    mapping_for(dir.path(), "r");
    let err = plan_stderr(dir.path());
    assert!(
        err.contains("the default branch refs/heads/gone does not exist (its branches: main)"),
        "{err}"
    );
}

#[test]
fn a_repo_with_tags_but_no_branch_imports_its_tags_and_nothing_into_main() {
    // Real repos exist whose HEAD names a branch that is gone, with only tags left.
    let dir = common::tempdir();
    let root = dir.path();
    let w = root.join("work");
    std::fs::create_dir(&w).expect("mkdir");
    git(&w, &["init", "-q", "-b", "master"]);
    std::fs::write(w.join("main.tf"), "variable \"a\" {}\n").expect("w");
    git(&w, &["add", "."]);
    git(&w, &["commit", "-q", "-m", "one"]);
    git(&w, &["tag", "v1.0.0"]);
    std::fs::write(w.join("outputs.tf"), "output \"b\" {\n  value = 1\n}\n").expect("w");
    git(&w, &["add", "."]);
    git(&w, &["commit", "-q", "-m", "two"]);
    git(&w, &["tag", "-a", "v2.0.0", "-m", "Release 2.0.0"]);
    git(root, &["clone", "-q", "--bare", "work", "tags-only.git"]);
    let legacy = root.join("tags-only.git");
    git(&legacy, &["update-ref", "-d", "refs/heads/master"]);
    assert_eq!(git(&legacy, &["for-each-ref", "refs/heads"]), "");
    // And a repo with a branch, so that main exists.
    let o = root.join("other");
    std::fs::create_dir(&o).expect("mkdir");
    git(&o, &["init", "-q", "-b", "main"]);
    git(&o, &["commit", "-q", "--allow-empty", "-m", "other"]);
    std::fs::write(
        root.join("mapping.hcl"),
        r#"monorepo "live" { url = "git::https://github.com/acme/live.git" }
repo "tags-only" {
  url  = "tags-only.git"
  into = "live"
  path = "old"
}
repo "other" {
  url  = "other"
  into = "live"
  path = "other"
}
"#,
    )
    .expect("write");

    let warning = "repo \"tags-only\": no branch: tags only (HEAD names refs/heads/master which does not exist)";
    let plan = ok(root, &["plan", "mapping.hcl"]);
    assert!(plan.contains(warning), "{plan}");
    assert!(plan.contains("2 commits, no branch: tags only"), "{plan}");
    let apply = ok(root, &["apply", "mapping.hcl", "--out", "out"]);
    assert!(apply.contains(warning), "{apply}");
    let verify = ok(root, &["verify", "mapping.hcl", "--out", "out"]);
    assert!(
        verify.contains("verified: every one of 3 legacy commits"),
        "{verify}"
    );

    let mono = root.join("out/live.git");
    let refs = git(
        &mono,
        &["for-each-ref", "--format=%(objecttype) %(refname)"],
    );
    assert_eq!(
        refs,
        "commit refs/heads/import/other/main\ncommit refs/heads/main\ncommit refs/notes/tfmono\n\
         commit refs/tags/old/v1.0.0\ntag refs/tags/old/v2.0.0\n"
    );
    for (tag, legacy_tag) in [("old/v1.0.0", "v1.0.0"), ("old/v2.0.0", "v2.0.0")] {
        let tree = git(&mono, &["rev-parse", &format!("{tag}^{{tree}}:old")]);
        let legacy_tree = git(&legacy, &["rev-parse", &format!("{legacy_tag}^{{tree}}")]);
        assert_eq!(tree, legacy_tree, "{tag}");
    }
    let main = git(&mono, &["ls-tree", "--name-only", "main"]);
    assert_eq!(main, "other\n", "main holds nothing of the tags-only repo");
    let log = git(&mono, &["log", "--format=%s", "main"]);
    assert!(!log.contains("tags-only") && !log.contains("one"), "{log}");
    git(&mono, &["fsck", "--full", "--no-dangling"]);
}

#[test]
fn a_repo_with_neither_branch_nor_tag_is_empty() {
    let dir = common::tempdir();
    let repo = dir.path().join("r");
    std::fs::create_dir(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "x"]);
    git(&repo, &["tag", "v1"]);
    // A tag of a tree is not a commit to import.
    let tree = git(&repo, &["rev-parse", "HEAD^{tree}"]);
    git(&repo, &["tag", "tree-tag", tree.trim()]);
    git(&repo, &["update-ref", "-d", "refs/heads/main"]);
    git(&repo, &["tag", "-d", "v1"]);
    mapping_for(dir.path(), "r");
    let err = plan_stderr(dir.path());
    assert!(
        err.contains("is empty (no branch and no tag has a commit)"),
        "{err}"
    );
}

#[test]
fn shallow_clone() {
    let dir = common::tempdir();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).expect("mkdir");
    git(&src, &["init", "-q", "-b", "main"]);
    git(&src, &["commit", "-q", "--allow-empty", "-m", "1"]);
    git(&src, &["commit", "-q", "--allow-empty", "-m", "2"]);
    let url = format!("file://{}", src.display());
    git(
        dir.path(),
        &["clone", "-q", "--depth", "1", &url, "shallow"],
    );
    mapping_for(dir.path(), "shallow");
    let err = plan_stderr(dir.path());
    assert!(
        err.contains("is a shallow clone") && err.contains("--unshallow"),
        "{err}"
    );
}

#[test]
fn corrupt_object() {
    let dir = common::tempdir();
    let repo = dir.path().join("r");
    std::fs::create_dir(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "1"]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "2"]);
    // Remove the parent commit's loose object: history can no longer be walked.
    let parent = git(&repo, &["rev-parse", "HEAD~1"]).trim().to_string();
    let obj = repo
        .join(".git/objects")
        .join(&parent[..2])
        .join(&parent[2..]);
    std::fs::remove_file(obj).expect("rm object");
    mapping_for(dir.path(), "r");
    let err = plan_stderr(dir.path());
    assert!(
        err.contains("repo \"r\"") && err.contains("git fsck"),
        "{err}"
    );
}

#[test]
fn legacy_repo_is_not_written_by_plan() {
    let dir = common::tempdir();
    let repo = dir.path().join("r");
    std::fs::create_dir(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "1"]);
    mapping_for(dir.path(), "r");
    let before = crate::common::tree_hash(dir.path());
    let out = common::run_tfmono(dir.path(), &["plan", "mapping.hcl"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        before,
        crate::common::tree_hash(dir.path()),
        "plan wrote something"
    );
}

/// Issue 12: a SHA-256 repository is named as such, not as "not a git repository", by plan
/// and by apply (bare or with a work tree).
#[test]
fn a_sha256_repository_is_named_as_unsupported_not_as_not_git() {
    let dir = common::tempdir();
    for (name, bare) in [("r", false), ("r.git", true)] {
        let repo = dir.path().join(name);
        std::fs::create_dir(&repo).expect("mkdir");
        let mut args = vec!["init", "-q", "--object-format=sha256", "-b", "main"];
        if bare {
            args.push("--bare");
        }
        git(&repo, &args);
        if !bare {
            git(&repo, &["commit", "-q", "--allow-empty", "-m", "x"]);
        }
        mapping_for(dir.path(), name);
        let expected = format!(
            "repo \"r\" at ./{name} uses the sha256 object format, which tfmono does not support yet; convert it or migrate it by hand"
        );
        let err = plan_stderr(dir.path());
        assert!(err.contains(&expected), "plan: {err}");
        assert!(!err.contains("not a git repository"), "plan: {err}");
        let out = common::run_tfmono(dir.path(), &["apply", "mapping.hcl", "--out", "out"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "apply: {err}");
        assert!(err.contains(&expected), "apply: {err}");
        assert!(!dir.path().join("out").exists(), "apply wrote nothing");
    }
}

#[test]
fn a_missing_legacy_repo_with_credentials_in_its_url_does_not_leak_them() {
    let tmp = tempdir();
    let root = tmp.path();
    std::fs::write(
        root.join("mapping.hcl"),
        "inventory = \"repos.txt\"\nrepos_dir = \"legacy\"\nmonorepo \"live\" {\n  url = \"git::https://github.com/acme/live.git\"\n}\nrule \"all\" {\n  match = \"/acme/(?P<n>[a-z]+)\\\\.git\"\n  into  = \"live\"\n  path  = \"{n}\"\n}\n",
    )
    .expect("write");
    std::fs::write(
        root.join("repos.txt"),
        "https://user:s3cr3t@github.com/acme/x.git\n",
    )
    .expect("write");
    for args in [
        &["plan", "mapping.hcl"][..],
        &["plan", "mapping.hcl", "--format", "json"][..],
        &["apply", "mapping.hcl", "--out", "out"][..],
        &["verify", "mapping.hcl", "--out", "out"][..],
    ] {
        let r = fails(
            root,
            args,
            &[
                "repo \"x\"",
                "no local copy of https://user:***@github.com/acme/x.git",
                "--repos DIR",
            ],
        );
        assert!(!r.all().contains("s3cr3t"), "{args:?} leaked: {}", r.all());
    }
    // --fetch: the clone fails (nothing listens on port 1); git's and tfmono's messages
    // are both redacted.
    std::fs::write(
        root.join("repos.txt"),
        "https://user:s3cr3t@127.0.0.1:1/acme/x.git\n",
    )
    .expect("write");
    let r = Run::from(
        &["plan", "--fetch"],
        tfmono()
            .current_dir(root)
            .env("GIT_TERMINAL_PROMPT", "0")
            .args(["plan", "mapping.hcl", "--fetch", "--cache", "cache"])
            .output()
            .expect("runs"),
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("repo \"x\"") && r.stderr.contains("user:***@127.0.0.1:1"),
        "{}",
        r.stderr
    );
    assert!(!r.all().contains("s3cr3t"), "leaked: {}", r.all());
    let cached: Vec<String> = files_below(&root.join("cache"));
    for f in &cached {
        let text = std::fs::read(root.join("cache").join(f)).expect("read");
        assert!(
            !String::from_utf8_lossy(&text).contains("s3cr3t"),
            "a failed clone left the password in cache/{f}"
        );
    }
}

fn mapping_for(dir: &Path, url: &str) {
    let text = format!(
        "monorepo \"live\" {{ url = \"git::https://github.com/acme/live.git\" }}\nrepo \"r\" {{\n  url = \"{url}\"\n  into = \"live\"\n  path = \"r\"\n  branches = \"all\"\n}}\n"
    );
    std::fs::write(dir.join("mapping.hcl"), text).expect("write");
}

fn scan(dir: &Path) -> Result<tfmono::inventory::Inventory, String> {
    let mapping =
        tfmono::mapping::load(&dir.join("mapping.hcl"), None).map_err(|e| e.to_string())?;
    tfmono::inventory::scan(&mapping, &Default::default(), &tfmono::progress::NoProgress)
        .map_err(|e| e.to_string())
}

fn plan_stderr(dir: &Path) -> String {
    let out = common::run_tfmono(dir, &["plan", "mapping.hcl"]);
    assert_eq!(out.status.code(), Some(2), "plan must fail with exit 2");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs tfmono with `args` in `dir`, asserts it succeeds, returns stdout and stderr.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = common::run_tfmono(dir, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "tfmono {args:?}: {text}");
    text
}
