//! `apply` (src/apply): the output directory it accepts or refuses, failed writes, a monorepo
//! removed underneath it, and a repo whose legacy copy is gone; submodules for re-runs, packed
//! refs, `push.sh` and crash safety.

mod crash;
mod notes;
mod push;
mod refs;
mod rerun;
mod scans;

use std::path::Path;

use crate::common::org::{files_below, gen_org, mini_org, MiniOpts, ALB, API};
use crate::common::{fails, git, ok, run, tempdir, tree_hash};

#[test]
fn apply_refuses_an_output_directory_holding_someone_elses_files() {
    let tmp = tempdir();
    let org = gen_org(&tmp.path().join("org"));
    let out = org.join("out");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("notes.txt"), "my precious notes\n").expect("write");
    let before = tree_hash(&out);
    fails(
        &org,
        &["apply", "mapping.hcl", "--out", "out"],
        &[
            "output directory out is not empty and was not made by tfmono",
            "choose an empty or new directory",
        ],
    );
    assert_eq!(
        tree_hash(&out),
        before,
        "apply wrote into a foreign directory"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).expect("read"),
        "my precious notes\n"
    );
    // A directory holding only an (unrelated) bare git repo is refused too.
    let out2 = org.join("out2");
    std::fs::create_dir_all(out2.join("live.git")).expect("mkdir");
    git(&out2.join("live.git"), &["init", "-q", "--bare"]);
    let before = tree_hash(&out2);
    fails(
        &org,
        &["apply", "mapping.hcl", "--out", "out2"],
        &["out2 is not empty and was not made by tfmono"],
    );
    assert_eq!(tree_hash(&out2), before);
}

#[test]
fn apply_into_an_unwritable_or_impossible_output_directory_fails_cleanly() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir();
    let org = gen_org(&tmp.path().join("org"));
    // --out is an existing regular file, or below one: refused, the file untouched.
    std::fs::write(org.join("afile"), "data\n").expect("write");
    for out in ["afile", "afile/sub"] {
        let r = fails(&org, &["apply", "mapping.hcl", "--out", out], &[out]);
        assert!(
            r.stderr.contains("Not a directory"),
            "says why: {}",
            r.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(org.join("afile")).expect("read"),
        "data\n"
    );

    // The parent of --out is read-only.
    let ro = org.join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let probe = ro.join("probe");
    let chmod_effective = std::fs::write(&probe, "x").is_err();
    let r = run(
        &org,
        &["apply", "mapping.hcl", "--out", "ro/out", "--quiet"],
    );
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
    if chmod_effective {
        assert_eq!(r.code, Some(2), "{}", r.stderr);
        assert!(
            r.stderr.contains("ro/out") && r.stderr.contains("Permission denied"),
            "names the directory and why: {}",
            r.stderr
        );
        assert!(files_below(&ro).is_empty(), "nothing written");
    } else {
        eprintln!("SKIPPED (running as root: chmod 555 does not stop writes): unwritable --out");
        let _ = std::fs::remove_file(&probe);
        assert!(matches!(r.code, Some(0) | Some(2)), "{}", r.stderr);
    }
}

/// Issue 12: when writing into the output fails (a full disk, an unwritable file system),
/// the error names the file being written in the output, not the legacy pack it was copying,
/// and says that a re-run after freeing space converges. Both writers are covered: linking
/// (here copying, across file systems) the legacy packs, and writing the new pack.
#[test]
fn a_failed_write_into_the_output_names_the_output_path_and_says_re_run() {
    // A directory nobody can create files in, root included (chmod does not stop root):
    // sysfs. The monorepo's pack directory is pointed there.
    let unwritable = Path::new("/sys/kernel");
    let probe = unwritable.join("tfmono-probe");
    if !unwritable.is_dir() || std::fs::write(&probe, "x").is_ok() {
        let _ = std::fs::remove_file(&probe);
        eprintln!("SKIPPED: no unwritable directory at /sys/kernel");
        return;
    }
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let mono = root.join("out/reference-modules.git");
    // The monorepo as a run that stopped right after creating it leaves it, on a disk where
    // nothing more can be written.
    let break_output = || {
        std::fs::remove_dir_all(&mono).expect("rm monorepo");
        let _ = std::fs::remove_dir_all(root.join("out/reference-modules.commit-map"));
        git(root, &["init", "-q", "--bare", "out/reference-modules.git"]);
        let pack = mono.join("objects/pack");
        let _ = std::fs::remove_dir(&pack);
        std::os::unix::fs::symlink(unwritable, &pack).expect("symlink");
    };
    let args = ["apply", "mapping.hcl", "--out", "out", "--quiet"];
    let advice = "the output directory's disk is full or not writable; the legacy repos are only read and are not at fault. Free space (or fix permissions) there and re-run the same command: it converges";

    // The legacy repos hold loose objects only: the new pack cannot be written.
    break_output();
    let r = fails(root, &args, &[advice]);
    let line = error_line(&r.stderr);
    assert!(
        line.contains("cannot write out/reference-modules.git/objects/pack/tmp-tfmono-"),
        "names the pack being written: {line}"
    );

    // The legacy repos hold packs: copying them into the output fails.
    for repo in [ALB, API] {
        git(
            &root.join("legacy").join(format!("{repo}.git")),
            &["repack", "-a", "-d", "-q"],
        );
    }
    break_output();
    let r = fails(root, &args, &[advice]);
    let line = error_line(&r.stderr);
    assert!(
        line.contains("cannot write out/reference-modules.git/objects/pack/pack-"),
        "names the output pack: {line}"
    );
    assert!(!line.contains("legacy/"), "blames no legacy path: {line}");
}

/// Issue 12: a monorepo that something removed while apply ran (e.g. a rollback) cannot be
/// opened; the error calls it the monorepo, not a legacy repo, and says to re-run.
///
/// Made deterministic: `out/live.git/refs` is a link into a stale staging directory
/// (`out/.tfmono-init-*`), which apply removes when it creates `reference-modules.git` (the
/// first monorepo, removed beforehand). So `live.git` is a repo when the run starts (the
/// journal reads its refs) and loses its refs before apply opens it to write.
#[test]
fn a_monorepo_removed_underneath_apply_is_called_the_monorepo_and_a_re_run_is_advised() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    let args = ["apply", "mapping.hcl", "--out", "out", "--quiet"];
    ok(root, &args);
    let out = root.join("out");
    let stale = out.join(".tfmono-init-stale");
    std::fs::create_dir(&stale).expect("mkdir");
    std::fs::rename(out.join("live.git/refs"), stale.join("refs")).expect("mv refs");
    std::os::unix::fs::symlink(stale.join("refs"), out.join("live.git/refs")).expect("symlink");
    std::fs::remove_dir_all(out.join("reference-modules.git")).expect("rm");
    std::fs::remove_dir_all(out.join("reference-modules.commit-map")).expect("rm");
    let r = fails(
        root,
        &args,
        &[
            "monorepo live at out/live.git: cannot open it as a git repository (",
            "): something removed or replaced it while apply ran (a rollback?); move away what is there if it is not the monorepo, then re-run the same `tfmono apply` command: it converges",
        ],
    );
    assert!(!r.stderr.contains("legacy repo"), "{}", r.stderr);
}

/// The `error:` line of `stderr`.
fn error_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or(stderr)
}

#[test]
fn two_applies_of_the_same_inputs_write_the_same_packs_byte_for_byte() {
    // Legacy packs are hard links into the legacy repos; tfmono's own have one link.
    use std::os::unix::fs::MetadataExt;
    let tmp = tempdir();
    let root = tmp.path();
    ok(root, &["gen-org", "org"]);
    ok(
        root,
        &["apply", "org/mapping.hcl", "--out", "one", "--quiet"],
    );
    ok(
        root,
        &["apply", "org/mapping.hcl", "--out", "two", "--quiet"],
    );
    for mono in ["reference-modules", "service-modules", "live"] {
        let dir = |out: &str| root.join(format!("{out}/{mono}.git/objects/pack"));
        let own = |out: &str| -> Vec<(String, Vec<u8>)> {
            let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir(out))
                .expect("pack dir")
                .map(|e| e.expect("entry"))
                .filter(|e| std::fs::metadata(e.path()).expect("stat").nlink() == 1)
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read(e.path()).expect("read"))
                })
                .collect();
            v.sort();
            v
        };
        let (a, b) = (own("one"), own("two"));
        assert!(!a.is_empty(), "{mono}: tfmono wrote a pack");
        assert_eq!(
            a.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            b.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            "{mono}: pack names"
        );
        assert!(a == b, "{mono}: pack bytes differ");
    }
}
