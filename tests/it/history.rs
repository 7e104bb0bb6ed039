//! Issue 3: the history import on real git repos built here, checked with the git CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{git, hermetic, run_tfmono, tempdir, tree_hash};

/// Writes `files` into the work tree `w` and commits them with `msg`.
fn commit(w: &Path, files: &[(&str, &str)], msg: &str) {
    for (path, content) in files {
        let p = w.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    git(w, &["add", "-A"]);
    git(w, &["commit", "-q", "--allow-empty", "-m", msg]);
}

/// Writes a raw commit object (e.g. with a gpgsig header or an encoding) and returns its id.
fn raw_commit(w: &Path, raw: &[u8]) -> String {
    let mut child = hermetic(Command::new("git").current_dir(w).args([
        "hash-object",
        "-t",
        "commit",
        "-w",
        "--stdin",
    ]))
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .spawn()
    .expect("git runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(raw)
        .expect("write");
    let out = child.wait_with_output().expect("git");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

/// A legacy org: a module repo with merges, both kinds of tags, an empty commit, a signed
/// commit, a Latin-1 commit, a second branch; and a deployment repo. Returns the mapping.
fn legacy_org(root: &Path) -> PathBuf {
    let legacy = root.join("legacy");
    std::fs::create_dir_all(&legacy).expect("mkdir");
    let w = root.join("work-alb");
    std::fs::create_dir_all(&w).expect("mkdir");
    git(&w, &["init", "-q", "-b", "master"]);
    commit(
        &w,
        &[("main.tf", "resource \"aws_lb\" \"this\" {}\n")],
        "Initial ALB module",
    );
    git(&w, &["tag", "v1.0.0"]);
    git(&w, &["checkout", "-q", "-b", "feature/tls"]);
    commit(&w, &[("tls.tf", "# tls\n")], "Add TLS listener");
    git(&w, &["checkout", "-q", "master"]);
    commit(
        &w,
        &[("variables.tf", "variable \"name\" {}\n")],
        "Add variables",
    );
    git(
        &w,
        &[
            "merge",
            "-q",
            "--no-ff",
            "feature/tls",
            "-m",
            "Merge feature/tls",
        ],
    );
    commit(&w, &[], "An empty commit");
    git(
        &w,
        &["tag", "-a", "v2.0.0", "-m", "Release 2.0.0\n\nWith TLS."],
    );
    // A signed commit and a Latin-1 commit, written raw on top of master.
    let head = git(&w, &["rev-parse", "HEAD"]).trim().to_string();
    let tree = git(&w, &["rev-parse", "HEAD^{tree}"]).trim().to_string();
    let signed = raw_commit(
        &w,
        format!(
            "tree {tree}\nparent {head}\nauthor Dev <dev@acme.io> 1600000000 +0900\n\
committer Dev <dev@acme.io> 1600000001 -0330\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n \
iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nSigned change\n"
        )
        .as_bytes(),
    );
    // A real ISO-8859-1 message: the bytes are not valid UTF-8.
    let mut latin_raw = format!(
        "tree {tree}\nparent {signed}\nauthor Jos\u{e9} <j@acme.io> 1600000100 +0100\n\
committer Jos\u{e9} <j@acme.io> 1600000100 +0100\nencoding ISO-8859-1\n\n"
    )
    .into_bytes();
    latin_raw.extend_from_slice(b"Caf\xe9 cr\xe8me message\n");
    let latin = raw_commit(&w, &latin_raw);
    git(&w, &["update-ref", "refs/heads/master", &latin]);
    git(&w, &["reset", "-q", "--hard"]);
    git(&w, &["tag", "v2.1.0"]);
    git(&w, &["checkout", "-q", "-b", "develop"]);
    commit(&w, &[("dev.tf", "# wip\n")], "Work in progress");
    git(&w, &["checkout", "-q", "master"]);
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            "work-alb",
            "legacy/terraform-aws-alb.git",
        ],
    );
    let bare = legacy.join("terraform-aws-alb.git");
    // Branches of the bare clone: master, develop, feature/tls.
    for b in ["develop", "feature/tls"] {
        let id = git(&w, &["rev-parse", b]).trim().to_string();
        git(&bare, &["update-ref", &format!("refs/heads/{b}"), &id]);
    }

    let d = root.join("work-api");
    std::fs::create_dir_all(&d).expect("mkdir");
    git(&d, &["init", "-q", "-b", "main"]);
    commit(
        &d,
        &[("main.tf", "module \"alb\" {\n  source = \"git::https://github.com/acme/terraform-aws-alb.git?ref=v2.0.0\"\n}\n")],
        "Deploy api",
    );
    commit(
        &d,
        &[("outputs.tf", "output \"x\" { value = 1 }\n")],
        "Outputs",
    );
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            "work-api",
            "legacy/api-static-dev-korea.git",
        ],
    );

    std::fs::write(
        root.join("repos.txt"),
        "https://github.com/acme/terraform-aws-alb.git\nhttps://github.com/acme/api-static-dev-korea.git\n",
    )
    .expect("write");
    let mapping = root.join("mapping.hcl");
    std::fs::write(
        &mapping,
        r#"inventory = "repos.txt"
repos_dir = "legacy"
monorepo "reference-modules" {
  url = "git::https://github.com/acme/reference-modules.git"
}
monorepo "service-modules" {
  url = "git::https://github.com/acme/service-modules.git"
}
monorepo "live" {
  url = "git::https://github.com/acme/live.git"
}
repo "terraform-aws-alb" {
  url      = "https://github.com/acme/terraform-aws-alb.git"
  into     = "reference-modules"
  path     = "alb"
  branches = "all"
}
rule "deployments" {
  match = "github.com/acme/(?P<svc>[a-z]+)-(?P<kind>static|dynamic)-(?P<stage>dev|prod)-(?P<region>korea|usa)"
  into  = "live"
  path  = "{stage}/{region}/{svc}/{kind}"
}
"#,
    )
    .expect("write");
    mapping
}

fn apply(root: &Path, out: &str) -> String {
    let o = run_tfmono(root, &["apply", "mapping.hcl", "--out", out]);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "apply failed: {stderr}");
    stderr
}

fn refs(repo: &Path) -> String {
    git(
        repo,
        &[
            "for-each-ref",
            "--format=%(objectname) %(objecttype) %(refname)",
        ],
    )
}

fn rev(repo: &Path, spec: &str) -> String {
    git(repo, &["rev-parse", spec]).trim().to_string()
}

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
    let map = std::fs::read_to_string(root.join("out/reference-modules.commit-map")).expect("map");
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
    let stderr = apply(root, "a");
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
fn verify_names_the_commit_when_an_image_is_wrong() {
    let tmp = tempdir();
    let root = tmp.path();
    legacy_org(root);
    apply(root, "out");
    // Point a legacy commit's image at another commit in the commit map.
    let map_file = root.join("out/reference-modules.commit-map");
    let text = std::fs::read_to_string(&map_file).expect("map");
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let victim_old = lines[1].split(' ').next().expect("old").to_string();
    let other_new = lines[0].split(' ').nth(1).expect("new").to_string();
    let mut tampered: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let parts: Vec<&str> = lines[1].split(' ').collect();
    tampered[1] = format!("{} {} {}", parts[0], other_new, parts[2]);
    std::fs::write(&map_file, tampered.join("\n") + "\n").expect("write");
    let v = run_tfmono(root, &["verify", "mapping.hcl", "--out", "out"]);
    let stdout = String::from_utf8_lossy(&v.stdout);
    assert_eq!(v.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("MISMATCH"), "{stdout}");
    assert!(stdout.contains(&victim_old), "names the commit: {stdout}");

    // A tag moved in the monorepo is caught too.
    std::fs::write(&map_file, text).expect("restore");
    let mono = root.join("out/reference-modules.git");
    let other = rev(&mono, "alb/v1.0.0");
    git(&mono, &["update-ref", "refs/tags/alb/v2.1.0", &other]);
    let v = run_tfmono(root, &["verify", "mapping.hcl", "--out", "out"]);
    let stdout = String::from_utf8_lossy(&v.stdout);
    assert_eq!(v.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("ref not mapped") && stdout.contains("refs/tags/v2.1.0"),
        "{stdout}"
    );
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
    use tfmono::history::{objects, pack, Object};

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
