//! `verify` (src/verify): every legacy commit has an identical image; a wrong image, missing
//! linked objects and a damaged script are named. `verify --terraform` is in [`terraform`].

mod since_last;
mod terraform;

use std::path::{Path, PathBuf};

use crate::common::git::{rev, stored};
use crate::common::org::{
    apply, files_below, legacy_org, mini_org, org, tfstate, MiniOpts, SNAPSHOT, STATE_BLOCK,
};
use crate::common::{exits, git, ok, run, run_tfmono, tempdir};

#[test]
fn verify_names_the_commit_when_an_image_is_wrong() {
    let tmp = tempdir();
    let root = tmp.path();
    legacy_org(root);
    apply(root, "out");
    // Point a legacy commit's image at another commit in the commit map.
    let map_file = root.join("out/reference-modules.commit-map");
    let text = crate::common::commit_map(&map_file);
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let victim_old = lines[1].split(' ').next().expect("old").to_string();
    let other_new = lines[0].split(' ').nth(1).expect("new").to_string();
    let saved = crate::common::set_image(&map_file, &victim_old, &other_new);
    let v = run_tfmono(root, &["verify", "mapping.hcl", "--out", "out"]);
    let stdout = String::from_utf8_lossy(&v.stdout);
    assert_eq!(v.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("MISMATCH"), "{stdout}");
    assert!(stdout.contains(&victim_old), "names the commit: {stdout}");

    // A tag moved in the monorepo is caught too.
    crate::common::restore(saved);
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

/// A script cut short (a kill mid-write on older versions, a full disk, a bad copy) still
/// runs and exits 0 having done nothing: verify names every damaged script the journal
/// lists, and a re-run of apply rewrites them whole.
#[test]
fn verify_names_a_damaged_script_and_a_rerun_of_apply_rewrites_it() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(
        root,
        &MiniOpts {
            tail: STATE_BLOCK,
            ..MiniOpts::default()
        },
    );
    let states = root.join("states");
    std::fs::create_dir(&states).expect("mkdir");
    std::fs::write(states.join(SNAPSHOT), tfstate("alb")).expect("write");
    let apply = [
        "apply",
        "mapping.hcl",
        "--states",
        "states",
        "--out",
        "out",
        "--quiet",
    ];
    ok(root, &apply);
    let verify = ["verify", "mapping.hcl", "--out", "out"];
    ok(root, &verify);
    let out = root.join("out");
    let migrate = out.join("state/live/dev/korea/api/static/migrate.sh");
    let push = out.join("push.sh");
    let whole = std::fs::read_to_string(&migrate).expect("migrate.sh");
    assert!(whole.ends_with("\n# end of tfmono script\n"), "{whole}");
    let whole_push = std::fs::read_to_string(&push).expect("push.sh");
    for f in [
        "rollback.sh",
        "state/migrate-all.sh",
        "state/rollback-all.sh",
    ] {
        let text = std::fs::read_to_string(out.join(f)).expect(f);
        assert!(text.ends_with("\n# end of tfmono script\n"), "{f}: {text}");
    }
    // no temporary file is left beside what apply wrote
    assert!(
        files_below(&out).iter().all(|f| !f.contains("tfmono-tmp")),
        "{:?}",
        files_below(&out)
    );

    // migrate.sh truncated to 0 bytes, push.sh cut in the middle
    std::fs::write(&migrate, "").expect("truncate");
    std::fs::write(&push, &whole_push[..whole_push.len() / 2]).expect("cut");
    let r = run(root, &verify);
    assert_eq!(r.code, Some(1), "{}", r.all());
    for needle in [
        "state/live/dev/korea/api/static/migrate.sh: the script is empty",
        "push.sh: the script is cut short",
        "run `tfmono apply` again",
    ] {
        assert!(r.stdout.contains(needle), "{needle} in {}", r.all());
    }
    assert!(!r.stdout.contains("rollback.sh:"), "{}", r.all());

    // the re-run of apply rewrites both; verify passes again
    ok(root, &apply);
    assert_eq!(
        std::fs::read_to_string(&migrate).expect("migrate.sh"),
        whole
    );
    assert_eq!(std::fs::read_to_string(&push).expect("push.sh"), whole_push);
    ok(root, &verify);

    // temporary files of a write killed midway are removed by the rollback
    let dir = migrate.parent().expect("root dir");
    std::fs::write(dir.join(".migrate.sh.tfmono-tmp"), "#!/usr/bin/env bash\n").expect("tmp");
    std::fs::write(out.join(".push.sh.tfmono-tmp"), "").expect("tmp");
    ok(root, &["rollback", "--out", "out"]);
    assert_eq!(
        files_below(&out),
        [".tfmono/journal.json", ".tfmono/lock", "rollback.sh"]
    );
}

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
