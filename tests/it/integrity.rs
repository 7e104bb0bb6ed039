//! Integrity of the import and of rollback under hostile conditions, each driven through the
//! binary on real git repos built here with the git CLI.
//!
//! - replace refs and grafts in a legacy repo are ignored (history imported as stored) and
//!   reported as a plan warning;
//! - verify reads from the monorepo's own object store, and `--full` checks connectivity;
//! - rollback and verify respect the apply lock;
//! - rollback refuses to delete work made in a monorepo after apply (unless `--force`, and
//!   then bundles it first);
//! - a re-run after a failed run removes the leftover packs.

use std::path::{Path, PathBuf};

use crate::common::{git, ok, run, tempdir, tree_hash, Run};

fn exits(dir: &Path, args: &[&str], code: i32, needles: &[&str]) -> Run {
    let r = run(dir, args);
    assert_eq!(
        r.code,
        Some(code),
        "tfmono {args:?} should exit {code}:\nstdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
    for n in needles {
        assert!(
            r.all().contains(n),
            "tfmono {args:?}: output lacks {n:?}:\n{}",
            r.all()
        );
    }
    r
}

/// Writes `files` into work tree `w` and commits them.
fn commit(w: &Path, files: &[(&str, &str)], msg: &str) {
    for (path, content) in files {
        let p = w.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    git(w, &["add", "-A"]);
    git(w, &["commit", "-q", "--allow-empty", "-m", msg]);
}

/// A legacy org of one module repo `terraform-aws-alb` (three commits, tags v1.0.0 on the
/// second and v2.0.0 on the third) mapped into `reference-modules` under `alb`; the bare
/// repo is `root/legacy/terraform-aws-alb.git`. Returns it.
fn org(root: &Path) -> PathBuf {
    let w = root.join("work");
    std::fs::create_dir_all(&w).expect("mkdir");
    git(&w, &["init", "-q", "-b", "main"]);
    commit(
        &w,
        &[("main.tf", "resource \"aws_lb\" \"this\" {}\n")],
        "Initial",
    );
    commit(
        &w,
        &[("variables.tf", "variable \"name\" {}\n")],
        "Add variables",
    );
    git(&w, &["tag", "v1.0.0"]);
    commit(
        &w,
        &[("outputs.tf", "output \"x\" {\n  value = 1\n}\n")],
        "Add outputs",
    );
    git(&w, &["tag", "-a", "v2.0.0", "-m", "Release 2.0.0"]);
    std::fs::create_dir_all(root.join("legacy")).expect("mkdir");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            "work",
            "legacy/terraform-aws-alb.git",
        ],
    );
    // Packed, as a fetched repo is: apply links its pack into the monorepo.
    git(
        &root.join("legacy/terraform-aws-alb.git"),
        &["repack", "-adq"],
    );
    std::fs::write(
        root.join("repos.txt"),
        "https://github.com/acme/terraform-aws-alb.git\n",
    )
    .expect("write");
    std::fs::write(
        root.join("mapping.hcl"),
        r#"inventory = "repos.txt"
repos_dir = "legacy"
monorepo "reference-modules" {
  url = "git::https://github.com/acme/reference-modules.git"
}
repo "terraform-aws-alb" {
  url        = "https://github.com/acme/terraform-aws-alb.git"
  into       = "reference-modules"
  path       = "alb"
  tag_prefix = "alb/"
}
"#,
    )
    .expect("write");
    root.join("legacy/terraform-aws-alb.git")
}

/// The monorepo image of legacy commit `old`, from the commit map.
fn image(root: &Path, old: &str) -> String {
    let map = std::fs::read_to_string(root.join("out/reference-modules.commit-map")).expect("map");
    map.lines()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(old)).then(|| it.next().expect("new id").to_string())
        })
        .unwrap_or_else(|| panic!("{old} is not in the commit map:\n{map}"))
}

/// `git --no-replace-objects rev-parse spec` in `repo`.
fn stored(repo: &Path, spec: &str) -> String {
    git(repo, &["--no-replace-objects", "rev-parse", spec])
        .trim()
        .to_string()
}

// ---------------------------------------------------------------------------------------
// 1. Replace refs and grafts
// ---------------------------------------------------------------------------------------

#[test]
fn replace_refs_and_grafts_are_ignored_and_reported() {
    let tmp = tempdir();
    let root = tmp.path();
    let legacy = org(root);
    let v1 = stored(&legacy, "v1.0.0^{commit}");
    let v1_tree = stored(&legacy, "v1.0.0^{tree}");
    let first = stored(&legacy, "v1.0.0~1");
    // A replacement for v1.0.0's commit: a root commit holding other files. With it
    // honoured, the first commit would be lost and the tag would hold `other.tf`.
    let other_tree = {
        let mut cmd = std::process::Command::new("git");
        crate::common::hermetic(&mut cmd)
            .current_dir(&legacy)
            .args(["mktree"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("git mktree");
        let empty_blob = git(&legacy, &["hash-object", "-w", "-t", "blob", "/dev/null"]);
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("100644 blob {}\tother.tf\n", empty_blob.trim()).as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("mktree");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    };
    let replacement = git(&legacy, &["commit-tree", &other_tree, "-m", "Replacement"])
        .trim()
        .to_string();
    git(&legacy, &["replace", &v1, &replacement]);
    // With the replacement, git itself now sees other content.
    assert_ne!(
        git(&legacy, &["rev-parse", "v1.0.0^{tree}"]).trim(),
        v1_tree
    );

    let r = ok(root, &["plan", "mapping.hcl"]);
    assert!(
        crate::common::flat(&r.stdout).contains("repo terraform-aws-alb has 1 replace ref (refs/replace/*); they are ignored: the history is imported as stored"),
        "{}",
        r.stdout
    );
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let mono = root.join("out/reference-modules.git");
    let img = image(root, &v1);
    assert_eq!(
        stored(&mono, &format!("{img}:alb")),
        v1_tree,
        "the image holds the replacement's tree"
    );
    // The first commit is imported as the image's parent.
    assert_eq!(stored(&mono, &format!("{img}^")), image(root, &first));
    assert_eq!(stored(&mono, "refs/tags/alb/v1.0.0^{commit}"), img);
    ok(root, &["verify", "mapping.hcl", "--out", "out"]);

    // Grafts: a graft making v2.0.0's commit a root is ignored as well.
    let v2 = stored(&legacy, "v2.0.0^{commit}");
    std::fs::create_dir_all(legacy.join("info")).expect("mkdir");
    std::fs::write(legacy.join("info/grafts"), format!("{v2}\n")).expect("write");
    let r = ok(root, &["plan", "mapping.hcl"]);
    assert!(
        r.stdout
            .contains("repo terraform-aws-alb has 1 graft (info/grafts); they are ignored"),
        "{}",
        r.stdout
    );
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    assert_eq!(stored(&mono, &format!("{}^", image(root, &v2))), img);
    ok(root, &["verify", "mapping.hcl", "--out", "out"]);
}

// ---------------------------------------------------------------------------------------
// 2. verify reads the monorepo's own object store
// ---------------------------------------------------------------------------------------

/// The pack files in the monorepo `mono` that are hard links of (or copies of) a legacy pack.
fn legacy_packs_in(mono: &Path, legacy: &Path) -> Vec<PathBuf> {
    let legacy_names: Vec<_> = std::fs::read_dir(legacy.join("objects/pack"))
        .expect("legacy packs")
        .map(|e| e.expect("entry").file_name())
        .collect();
    let mut v: Vec<PathBuf> = std::fs::read_dir(mono.join("objects/pack"))
        .expect("mono packs")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| legacy_names.contains(&n.to_owned()))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn verify_fails_when_the_linked_legacy_objects_are_missing_from_the_monorepo() {
    let tmp = tempdir();
    let root = tmp.path();
    let legacy = org(root);
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    ok(root, &["verify", "mapping.hcl", "--out", "out"]);
    ok(root, &["verify", "mapping.hcl", "--out", "out", "--full"]);
    let mono = root.join("out/reference-modules.git");
    let linked = legacy_packs_in(&mono, &legacy);
    assert!(
        !linked.is_empty(),
        "no legacy pack was linked into the monorepo"
    );
    for p in &linked {
        std::fs::remove_file(p).expect("remove");
    }
    let first_tree = stored(&legacy, "v1.0.0~1^{tree}");
    let r = exits(
        root,
        &["verify", "mapping.hcl", "--out", "out"],
        1,
        &["missing", &first_tree],
    );
    assert!(!r.stdout.contains("identical image"), "{}", r.stdout);
    exits(
        root,
        &["verify", "mapping.hcl", "--out", "out", "--full"],
        1,
        &[
            "objects reachable from its refs checked",
            "connectivity refs/heads/import/terraform-aws-alb/main: object",
            "is missing",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// 3. rollback and verify respect the apply lock
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// 4. rollback keeps work made in the monorepos after apply
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// 5. A re-run after a failed run removes the leftover packs
// ---------------------------------------------------------------------------------------

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
    std::fs::remove_file(root.join("out/reference-modules.commit-map")).expect("rm map");
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
        std::fs::read_to_string(root.join("out/reference-modules.commit-map")).expect("map"),
        std::fs::read_to_string(root.join("clean/reference-modules.commit-map")).expect("map"),
    );
    git(&mono, &["fsck", "--full", "--no-dangling"]);
    ok(root, &["verify", "mapping.hcl", "--out", "out", "--full"]);
}

/// A `.tf` whose name is not UTF-8 is imported unchanged and reported; it never gets a
/// second, lossily renamed copy holding the rewrite next to the original.
#[test]
fn a_terraform_file_whose_name_is_not_utf8_is_imported_unchanged_and_reported() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempdir();
    let root = tmp.path();
    // The caller's only .tf has a Latin-1 name.
    caller_org(
        root,
        std::ffi::OsStr::from_bytes(b"ma\xefn.tf"),
        "module \"x\" {\n  source  = \"ns/x/aws\"\n  version = \"1.0.0\"\n}\n",
    );
    let legacy_before = tree_hash(&root.join("legacy"));
    exits(
        root,
        &["plan", "mapping.hcl"],
        0,
        &[
            "repo app: the file name \"ma\\xefn.tf\" is not UTF-8",
            "not rewritten",
        ],
    );
    ok(root, &["apply", "mapping.hcl", "--out", "out"]);
    let listed = crate::common::hermetic(std::process::Command::new("git").args([
        "ls-tree",
        "-r",
        "-z",
        "--name-only",
        "main",
        "app",
    ]))
    .current_dir(root.join("out/m.git"))
    .output()
    .expect("git ls-tree");
    assert_eq!(
        listed.stdout,
        b"app/ma\xefn.tf\0",
        "exactly the original file, under its own name: {:?}",
        String::from_utf8_lossy(&listed.stdout)
    );
    ok(root, &["verify", "mapping.hcl", "--out", "out"]);
    assert_eq!(tree_hash(&root.join("legacy")), legacy_before);
}

/// A `.tf` starting with a UTF-8 byte-order mark (Terraform skips it) is read, its module
/// call rewritten, and the mark kept.
#[test]
fn a_terraform_file_with_a_byte_order_mark_is_rewritten_and_keeps_it() {
    let tmp = tempdir();
    let root = tmp.path();
    caller_org(
        root,
        std::ffi::OsStr::new("main.tf"),
        "\u{feff}module \"x\" {\n  source  = \"ns/x/aws\"\n  version = \"1.0.0\"\n}\n",
    );
    ok(root, &["apply", "mapping.hcl", "--out", "out"]);
    let main = git(&root.join("out/m.git"), &["show", "main:app/main.tf"]);
    assert_eq!(
        main,
        "\u{feff}module \"x\" {\n  source  = \"git::https://example.com/acme/m.git//x?ref=x/v1.0.0\"\n}\n"
    );
}

/// Two legacy repos in `root/legacy` and their mapping into monorepo `m`: `x` (tag v1.0.0),
/// a fork of registry module `ns/x/aws`, and `app`, whose only file `name` holds `content`.
fn caller_org(root: &Path, name: &std::ffi::OsStr, content: &str) {
    let x = root.join("work/x");
    std::fs::create_dir_all(&x).expect("mkdir");
    git(&x, &["init", "-q", "-b", "main"]);
    std::fs::write(x.join("main.tf"), "variable \"a\" {}\n").expect("write");
    git(&x, &["add", "-A"]);
    git(&x, &["commit", "-q", "-m", "x"]);
    git(&x, &["tag", "v1.0.0"]);
    let app = root.join("work/app");
    std::fs::create_dir_all(&app).expect("mkdir");
    git(&app, &["init", "-q", "-b", "main"]);
    std::fs::write(app.join(name), content).expect("write");
    git(&app, &["add", "-A"]);
    git(&app, &["commit", "-q", "-m", "app"]);
    std::fs::create_dir_all(root.join("legacy")).expect("mkdir");
    for repo in ["x", "app"] {
        git(
            root,
            &[
                "clone",
                "-q",
                "--bare",
                &format!("work/{repo}"),
                &format!("legacy/{repo}.git"),
            ],
        );
    }
    std::fs::write(
        root.join("mapping.hcl"),
        "monorepo \"m\" { url = \"git::https://example.com/acme/m.git\" }\n\
         repo \"x\" {\n  url = \"legacy/x.git\"\n  into = \"m\"\n  path = \"x\"\n  registry = [\"ns/x/aws\"]\n}\n\
         repo \"app\" {\n  url = \"legacy/app.git\"\n  into = \"m\"\n  path = \"app\"\n}\n",
    )
    .expect("mapping");
}
