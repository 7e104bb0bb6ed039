//! `push.sh`, which apply writes: monorepos that receive no repo are skipped, and every ref is
//! checked before any is pushed.

use std::path::Path;

use crate::common::mapping::{setup, ALB, REF_RULE};
use crate::common::{self, git};

#[test]
fn push_skips_a_monorepo_that_receives_no_repo() {
    let dir = apply_alb_only();
    let out = run_push(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("monorepo live received no repo: nothing to push"),
        "{stderr}"
    );
    let pushed = remote_refs(&dir.path().join("remote-ref.git"));
    for r in [
        "refs/heads/main",
        "refs/notes/tfmono",
        "refs/tags/alb/v1.0.0",
    ] {
        assert!(pushed.contains(r), "{r} not pushed: {pushed}");
    }
    assert_eq!(remote_refs(&dir.path().join("remote-live.git")), "");
}

#[test]
fn push_checks_every_ref_before_pushing_any() {
    let dir = apply_alb_only();
    let mono = dir.path().join("out/reference-modules.git");
    git(&mono, &["update-ref", "-d", "refs/tags/alb/v1.0.0"]);
    let out = run_push(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refs missing, nothing pushed")
            && stderr.contains("reference-modules: refs/tags/alb/v1.0.0"),
        "{stderr}"
    );
    assert_eq!(remote_refs(&dir.path().join("remote-ref.git")), "");
}

// Issue 12, defect 10: a monorepo that receives no repo made push.sh exit 1 after the other
// monorepos were already pushed.
fn apply_alb_only() -> tempfile::TempDir {
    let dir = setup(REF_RULE, &[ALB]);
    let out = common::run_tfmono(dir.path(), &["plan", "mapping.hcl"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("mapping.hcl:5:1: monorepo \"live\" receives no repo"),
        "{all}"
    );
    let out = common::run_tfmono(dir.path(), &["apply", "mapping.hcl", "--out", "out"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for remote in ["remote-ref.git", "remote-live.git"] {
        let bare = dir.path().join(remote);
        std::fs::create_dir_all(&bare).expect("mkdir");
        git(&bare, &["init", "-q", "--bare"]);
    }
    dir
}

fn run_push(dir: &Path) -> std::process::Output {
    std::process::Command::new("bash")
        .arg(dir.join("out/push.sh"))
        .env("REMOTE_reference_modules", dir.join("remote-ref.git"))
        .env("REMOTE_live", dir.join("remote-live.git"))
        .output()
        .expect("run push.sh")
}

fn remote_refs(bare: &Path) -> String {
    let out = std::process::Command::new("git")
        .args(["for-each-ref", "--format=%(refname)"])
        .current_dir(bare)
        .output()
        .expect("git");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
