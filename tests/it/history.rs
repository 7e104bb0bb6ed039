//! The history import (src/history) on real git repos built here, checked with the git CLI:
//! commits, trees, tags and branches, determinism, incremental re-runs, replace refs and
//! grafts, LFS pointers, submodules and file names that are not UTF-8.

use std::path::Path;
use std::process::Command;

use crate::common::git::{commit, refs, rev, stored};
use crate::common::org::{apply, caller_org, legacy_org, org};
use crate::common::{commit_map, exits, git, hermetic, ok, run_tfmono, tempdir, tree_hash};

#[test]
fn import_keeps_every_commit_tree_tag_and_branch_and_verify_proves_it() {
    let tmp = tempdir();
    let root = tmp.path();
    legacy_org(root);
    let legacy = root.join("legacy");
    let before = tree_hash(&legacy);
    apply(root, "out");
    assert_eq!(tree_hash(&legacy), before, "apply wrote into a legacy repo");

    let mono = root.join("out/reference-modules.git");
    let alb = legacy.join("terraform-aws-alb.git");
    git(&mono, &["fsck", "--full", "--strict"]);
    // Every legacy commit: same count, and the tree under alb/ equals the legacy tree.
    let legacy_count = git(&alb, &["rev-list", "--count", "--all"]);
    let imported = git(
        &mono,
        &[
            "rev-list",
            "--count",
            "--glob=refs/heads/import/terraform-aws-alb/*",
        ],
    );
    assert_eq!(legacy_count, imported);
    for tag in ["v1.0.0", "v2.0.0", "v2.1.0"] {
        assert_eq!(
            rev(&alb, &format!("{tag}^{{tree}}")),
            rev(&mono, &format!("alb/{tag}:alb")),
            "tree of {tag}"
        );
    }
    // Lightweight stays lightweight, annotated stays annotated with tagger and message.
    assert_eq!(
        git(&mono, &["cat-file", "-t", "refs/tags/alb/v1.0.0"]).trim(),
        "commit"
    );
    assert_eq!(
        git(&mono, &["cat-file", "-t", "refs/tags/alb/v2.0.0"]).trim(),
        "tag"
    );
    let tag = git(&mono, &["cat-file", "-p", "refs/tags/alb/v2.0.0"]);
    assert!(tag.contains("tag alb/v2.0.0\ntagger Test Committer <committer@example.com> 946684800 +0000\n\nRelease 2.0.0\n\nWith TLS.\n"), "{tag}");
    // Branches: every legacy branch under import/<repo>/.
    for b in ["master", "develop", "feature/tls"] {
        assert_eq!(
            rev(&alb, &format!("{b}^{{tree}}")),
            rev(
                &mono,
                &format!("refs/heads/import/terraform-aws-alb/{b}:alb")
            )
        );
    }
    // Metadata byte-identical: author, committer, time zones, encoding, message; merges stay merges.
    let fmt = "--format=%an|%ae|%ad|%cn|%ce|%cd|%e|%P|%B";
    let legacy_log = git(&alb, &["log", "--date=raw", fmt, "master"]);
    let mono_log = git(
        &mono,
        &[
            "log",
            "--date=raw",
            fmt,
            "refs/heads/import/terraform-aws-alb/master",
        ],
    );
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| {
                let parts: Vec<&str> = l.split('|').collect();
                if parts.len() > 7 {
                    let mut p = parts.clone();
                    p[7] = if parts[7].is_empty() {
                        "root"
                    } else if parts[7].contains(' ') {
                        "merge"
                    } else {
                        "one"
                    };
                    p.join("|")
                } else {
                    l.to_string()
                }
            })
            .collect()
    };
    assert_eq!(strip(&legacy_log), strip(&mono_log));
    assert!(mono_log.contains("ISO-8859-1"), "encoding kept: {mono_log}");
    let latin_new = git(&mono, &["rev-parse", "alb/v2.1.0"]).trim().to_string();
    let raw = crate::common::hermetic(Command::new("git").current_dir(&mono))
        .args(["cat-file", "commit", &latin_new])
        .output()
        .expect("git");
    assert!(
        raw.stdout.windows(5).any(|w| w == b"Caf\xe9 "),
        "the non-UTF-8 message bytes are kept"
    );
    assert!(mono_log.contains("-0330"), "time zone kept");
    // The signature is stripped.
    let signed = git(&mono, &["cat-file", "-p", "alb/v2.1.0~1"]);
    assert!(!signed.contains("gpgsig"), "{signed}");
    assert!(signed.contains("Signed change"));
    // Empty commits kept.
    assert!(mono_log.contains("An empty commit"));
    // `git log -- <path>` in the monorepo lists as many commits as the legacy repo's log.
    let legacy_n = git(&alb, &["log", "--oneline", "master", "--", "."])
        .lines()
        .count();
    let mono_n = git(&mono, &["log", "--oneline", "main", "--", "alb"])
        .lines()
        .count();
    assert_eq!(legacy_n, mono_n, "git log -- alb");
    let legacy_all = git(&alb, &["log", "--oneline", "master"]).lines().count();
    let mono_all = git(
        &mono,
        &[
            "log",
            "--oneline",
            "refs/heads/import/terraform-aws-alb/master",
        ],
    )
    .lines()
    .count();
    assert_eq!(legacy_all, mono_all, "git log of the import branch");
    // History of a file works without --follow.
    let log = git(&mono, &["log", "--format=%s", "main", "--", "alb/tls.tf"]);
    assert!(log.contains("Add TLS listener"), "{log}");
    // main merges each import: "Import <repo> into <path>".
    let main_log = git(&mono, &["log", "--first-parent", "--format=%s", "main"]);
    assert!(
        main_log.contains("Import terraform-aws-alb into alb"),
        "{main_log}"
    );
    assert_eq!(rev(&mono, "main:alb"), rev(&alb, "master^{tree}"));
    // The commit map: file and notes.
    let map = commit_map(&root.join("out/reference-modules.commit-map"));
    let v1 = rev(&alb, "v1.0.0");
    let v1_new = rev(&mono, "alb/v1.0.0");
    assert!(
        map.contains(&format!("{v1} {v1_new} terraform-aws-alb\n")),
        "{map}"
    );
    assert_eq!(
        map.lines().filter(|l| !l.starts_with('#')).count(),
        legacy_count.trim().parse::<usize>().expect("n")
    );
    let note = git(&mono, &["notes", "--ref=tfmono", "show", &v1_new]);
    assert_eq!(
        note,
        format!("Migrated-from: https://github.com/acme/terraform-aws-alb.git {v1}\n")
    );
    // The deployment lands nested in live.
    let live = root.join("out/live.git");
    git(&live, &["fsck", "--full"]);
    assert!(git(&live, &["ls-tree", "-r", "--name-only", "main"])
        .contains("dev/korea/api/static/main.tf"));

    let v = run_tfmono(root, &["verify", "mapping.hcl", "--out", "out"]);
    let stdout = String::from_utf8_lossy(&v.stdout);
    assert!(
        v.status.success(),
        "verify: {stdout} {}",
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(stdout.contains("verified"), "{stdout}");
    assert_eq!(
        tree_hash(&legacy),
        before,
        "verify wrote into a legacy repo"
    );
}

#[test]
fn import_is_deterministic_and_rerun_changes_nothing() {
    let tmp = tempdir();
    let root = tmp.path();
    legacy_org(root);
    apply(root, "a");
    apply(root, "b");
    for m in ["reference-modules.git", "live.git"] {
        assert_eq!(
            refs(&root.join("a").join(m)),
            refs(&root.join("b").join(m)),
            "{m}"
        );
    }
    let mono = root.join("a/reference-modules.git");
    let before = refs(&mono);
    let packs = std::fs::read_dir(mono.join("objects/pack"))
        .expect("dir")
        .count();
    // Every step run again (`--full`; without it the re-run stops at "Up to date").
    let o = run_tfmono(root, &["apply", "mapping.hcl", "--out", "a", "--full"]);
    assert!(o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("reference-modules: 0 commits written"),
        "{stderr}"
    );
    assert!(stderr.contains("0 refs updated"), "{stderr}");
    assert_eq!(refs(&mono), before);
    assert_eq!(
        std::fs::read_dir(mono.join("objects/pack"))
            .expect("dir")
            .count(),
        packs,
        "a no-op re-run wrote a pack"
    );
    // No loose objects: everything came in packs.
    let loose = git(&mono, &["count-objects"]);
    assert!(loose.starts_with("0 objects"), "{loose}");
}

#[test]
fn incremental_rerun_rewrites_only_new_commits_and_keeps_monorepo_work() {
    let tmp = tempdir();
    let root = tmp.path();
    legacy_org(root);
    apply(root, "out");
    let mono = root.join("out/reference-modules.git");
    // Someone commits in the monorepo (on main) after the import.
    let main = rev(&mono, "main");
    let tree = rev(&mono, "main^{tree}");
    let extra = git(
        &mono,
        &["commit-tree", &tree, "-p", &main, "-m", "Monorepo README"],
    );
    git(&mono, &["update-ref", "refs/heads/main", extra.trim()]);
    // The legacy repo gets two new commits.
    let w = root.join("work-alb");
    commit(&w, &[("new.tf", "# new\n")], "New work 1");
    commit(&w, &[("new2.tf", "# new\n")], "New work 2");
    let bare = root.join("legacy/terraform-aws-alb.git");
    git(&bare, &["fetch", "-q", "../../work-alb", "master:master"]);

    let stderr = apply(root, "out");
    assert!(
        stderr.contains("reference-modules: 2 commits written"),
        "{stderr}"
    );
    git(&mono, &["fsck", "--full"]);
    // main: the monorepo commit kept, one new merge on top.
    let first_parent = git(
        &mono,
        &["log", "--first-parent", "--format=%s", "-3", "main"],
    );
    let lines: Vec<&str> = first_parent.lines().collect();
    assert_eq!(
        lines[0], "Import terraform-aws-alb into alb",
        "{first_parent}"
    );
    assert_eq!(lines[1], "Monorepo README");
    assert_eq!(rev(&mono, "main:alb"), rev(&bare, "master^{tree}"));
    assert_eq!(
        rev(&mono, "refs/heads/import/terraform-aws-alb/master:alb"),
        rev(&bare, "master^{tree}")
    );
    let v = run_tfmono(root, &["verify", "mapping.hcl", "--out", "out"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn changing_a_repo_path_between_runs_reimports_it_under_the_new_path() {
    let tmp = tempdir();
    let root = tmp.path();
    let mapping = legacy_org(root);
    apply(root, "out");
    let text = std::fs::read_to_string(&mapping).expect("read");
    std::fs::write(
        &mapping,
        text.replace("path     = \"alb\"", "path     = \"aws/alb\""),
    )
    .expect("write");
    apply(root, "out");
    let mono = root.join("out/reference-modules.git");
    let alb = root.join("legacy/terraform-aws-alb.git");
    assert_eq!(
        rev(&mono, "aws/alb/v1.0.0:aws/alb"),
        rev(&alb, "v1.0.0^{tree}")
    );
    assert_eq!(rev(&mono, "main:aws/alb"), rev(&alb, "master^{tree}"));
    let top = git(&mono, &["ls-tree", "--name-only", "main"]);
    assert_eq!(top.trim(), "aws", "the old path is gone from main: {top}");
    let v = run_tfmono(root, &["verify", "mapping.hcl", "--out", "out"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn lfs_pointers_and_submodule_gitlinks_move_with_their_paths_and_are_reported() {
    let tmp = tempdir();
    let root = tmp.path();
    legacy_org(root);
    let d = root.join("work-api");
    std::fs::write(
        d.join("big.bin"),
        "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n",
    )
    .expect("write");
    std::fs::write(
        d.join(".gitmodules"),
        "[submodule \"vendor\"]\n\tpath = vendor\n\turl = https://github.com/acme/vendor.git\n",
    )
    .expect("write");
    git(&d, &["add", "big.bin", ".gitmodules"]);
    git(
        &d,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            "160000,1111111111111111111111111111111111111111,vendor",
        ],
    );
    git(
        &d,
        &["commit", "-q", "-m", "Add an LFS file and a submodule"],
    );
    let bare = root.join("legacy/api-static-dev-korea.git");
    git(&bare, &["fetch", "-q", "../../work-api", "main:main"]);

    let plan = run_tfmono(root, &["plan", "mapping.hcl"]);
    let report = String::from_utf8_lossy(&plan.stdout);
    assert!(report.contains("LFS"), "{report}");
    assert!(report.contains("submodule"), "{report}");
    apply(root, "out");
    let live = root.join("out/live.git");
    git(&live, &["fsck", "--full"]);
    let tree = git(&live, &["ls-tree", "main", "dev/korea/api/static/"]);
    assert!(
        tree.contains(
            "160000 commit 1111111111111111111111111111111111111111\tdev/korea/api/static/vendor"
        ),
        "{tree}"
    );
    assert_eq!(
        rev(&live, "main:dev/korea/api/static/big.bin"),
        rev(&bare, "main:big.bin")
    );
    let v = run_tfmono(root, &["verify", "mapping.hcl", "--out", "out"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

/// The pack writer on every encoding path (stored blocks for small objects and trees below
/// 64 KiB, deflate for larger blobs and trees, stored blocks split at 65,535 bytes), checked
/// by git itself: `verify-pack`, `fsck --strict` and every object's content.
#[test]
fn pack_writer_output_is_read_back_by_git() {
    use gix::objs::Kind;
    use tfmono::history::{pack, Object};
    use tfmono::objects;

    let tmp = tempdir();
    let repo = tmp.path().join("r.git");
    git(
        tmp.path(),
        &["init", "-q", "--bare", repo.to_str().expect("utf-8")],
    );

    let small = Object::new(Kind::Blob, b"small\n".to_vec());
    // Compressible, above the 1 KiB stored limit for blobs: deflated.
    let text: Vec<u8> = (0..5_000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let text = Object::new(Kind::Blob, text);
    // Incompressible and larger than one stored block.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..150_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let noise = Object::new(Kind::Blob, noise);
    // A tree over 64 KiB (deflated) and a small one (stored).
    let big_tree = objects::encode_tree(
        (0..2_000)
            .map(|i| objects::Entry {
                mode: b"100644".to_vec(),
                name: format!("file-{i:05}.tf").into_bytes(),
                id: if i % 2 == 0 { small.id } else { text.id },
            })
            .collect(),
    );
    assert!(big_tree.len() > 64 * 1024);
    let big_tree = Object::new(Kind::Tree, big_tree);
    let root = objects::encode_tree(vec![
        objects::Entry::tree("modules", big_tree.id),
        objects::Entry {
            mode: b"100644".to_vec(),
            name: b"noise.bin".to_vec(),
            id: noise.id,
        },
    ]);
    let root = Object::new(Kind::Tree, root);
    let commit = Object::new(
        Kind::Commit,
        format!(
            "tree {}\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\npack test\n",
            root.id
        )
        .into_bytes(),
    );
    let all = vec![
        commit.clone(),
        root.clone(),
        big_tree.clone(),
        noise.clone(),
        text.clone(),
        small.clone(),
    ];
    let stop = std::sync::atomic::AtomicBool::new(false);
    let written = pack::write(&repo.join("objects"), &all, &stop)
        .expect("pack written")
        .expect("a pack");
    assert!(written.is_file());
    let idx = written.with_extension("idx");
    git(
        tmp.path(),
        &["verify-pack", "-v", idx.to_str().expect("utf-8")],
    );
    git(
        &repo,
        &["update-ref", "refs/heads/main", &commit.id.to_string()],
    );
    git(&repo, &["fsck", "--strict", "--no-dangling"]);
    for o in &all {
        let (id, kind) = (o.id.to_string(), o.kind.to_string());
        assert_eq!(git(&repo, &["cat-file", "-t", &id]).trim(), kind);
        let out = hermetic(
            Command::new("git")
                .current_dir(&repo)
                .args(["cat-file", &kind, &id]),
        )
        .output()
        .expect("git runs");
        assert!(out.status.success(), "cat-file {id}");
        assert_eq!(out.stdout, o.data, "content of {} {id}", o.kind);
    }
    // Nothing but the pack and its index; no temporary file left behind.
    let mut names: Vec<String> = std::fs::read_dir(repo.join("objects/pack"))
        .expect("pack dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].ends_with(".idx") && names[1].ends_with(".pack"),
        "{names:?}"
    );
}

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

/// The monorepo image of legacy commit `old`, from the commit map.
fn image(root: &Path, old: &str) -> String {
    let map = commit_map(&root.join("out/reference-modules.commit-map"));
    map.lines()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(old)).then(|| it.next().expect("new id").to_string())
        })
        .unwrap_or_else(|| panic!("{old} is not in the commit map:\n{map}"))
}
