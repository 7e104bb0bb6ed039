//! What is checked before the legacy repos are scanned (`src/preflight.rs`): the output
//! directory, every missing repo, the `state` blocks' roots, the snapshots (`--states`
//! directory or template, the mapping's `snapshots` map); and the warning about a `to` the
//! root's code does not declare (`src/state/code.rs`).

use std::path::Path;

use crate::common::{ok, run, tempdir, Run};
use crate::safety::{mini_org, tfstate, MiniOpts, STATE_BLOCK};

const ROOT: &str = "live/dev/korea/api/static";

/// Runs tfmono, asserts exit 2 and that stderr holds every needle.
fn fails(dir: &Path, args: &[&str], needles: &[&str]) -> Run {
    let r = run(dir, args);
    assert_eq!(r.code, Some(2), "{args:?}:\n{}\n{}", r.stdout, r.stderr);
    for n in needles {
        assert!(
            r.stderr.contains(n),
            "{args:?}: stderr lacks {n:?}:\n{}",
            r.stderr
        );
    }
    r
}

#[test]
fn every_problem_found_before_the_scan_is_reported_at_once() {
    let tmp = tempdir();
    let root = tmp.path();
    let mut tail = String::new();
    for ghost in ["ghost-a", "ghost-b", "ghost-c"] {
        tail.push_str(&format!(
            "repo \"{ghost}\" {{\n  url  = \"https://github.com/acme/{ghost}.git\"\n  into = \"live\"\n  path = \"ghosts/{ghost}\"\n}}\n"
        ));
    }
    tail.push_str(&STATE_BLOCK.replace(ROOT, "live/dev/koera/api/static"));
    mini_org(
        root,
        &MiniOpts {
            tail: &tail,
            ..MiniOpts::default()
        },
    );
    std::fs::create_dir(root.join("out")).expect("mkdir");
    std::fs::write(root.join("out/notes.txt"), "mine").expect("write");

    let r = fails(
        root,
        &["apply", "mapping.hcl", "--out", "out"],
        &[
            "5 problems found before reading the legacy repos",
            "output directory out is not empty",
            "repo \"ghost-a\"",
            "repo \"ghost-b\"",
            "repo \"ghost-c\"",
            "mapping.hcl:36:1 (state \"live/dev/koera/api/static\"): unknown root \"live/dev/koera/api/static\"",
            "did you mean \"live/dev/korea/api/static\"?",
        ],
    );
    // one error, every problem in it, nothing else said or written
    assert_eq!(r.stderr.matches("error: ").count(), 1, "{}", r.stderr);
    let out: Vec<_> = std::fs::read_dir(root.join("out"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(out, ["notes.txt"]);
    // plan (no output directory) names the other four
    fails(
        root,
        &["plan", "mapping.hcl"],
        &[
            "4 problems found before reading",
            "ghost-a",
            "ghost-c",
            "unknown root",
        ],
    );
}

#[test]
fn a_from_state_naming_no_imported_root_is_an_error() {
    let tmp = tempdir();
    let root = tmp.path();
    let block = format!(
        "state \"{ROOT}\" {{\n  move {{\n    from       = \"aws_s3_bucket.a\"\n    to         = \"aws_s3_bucket.a\"\n    from_state = \"live/dev/korea/api/dinamic\"\n  }}\n}}\n"
    );
    mini_org(
        root,
        &MiniOpts {
            tail: &block,
            ..MiniOpts::default()
        },
    );
    fails(
        root,
        &["plan", "mapping.hcl"],
        &[
            "(state \"live/dev/korea/api/static\" move #1): `from_state`: unknown root \"live/dev/korea/api/dinamic\"",
            "did you mean \"live/dev/korea/api/static\"?",
        ],
    );
}

/// The org with [`STATE_BLOCK`] and `extra` appended to the mapping, and `pulled/` holding
/// `files` (`(name, state JSON)`).
fn org_with_snapshots(root: &Path, extra: &str, files: &[(&str, String)]) {
    let tail = format!("{STATE_BLOCK}{extra}");
    mini_org(
        root,
        &MiniOpts {
            tail: &tail,
            ..MiniOpts::default()
        },
    );
    std::fs::create_dir_all(root.join("pulled")).expect("mkdir");
    for (name, text) in files {
        std::fs::write(root.join("pulled").join(name), text).expect("write");
    }
}

fn checked(r: &Run) -> String {
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("json plan");
    plan["state"]["roots"][0]["check"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn the_mapping_snapshots_map_names_each_roots_file() {
    let tmp = tempdir();
    let root = tmp.path();
    let map = format!("snapshots = {{\n  \"{ROOT}\" = \"pulled/api-static.tfstate\"\n}}\n");
    org_with_snapshots(root, &map, &[("api-static.tfstate", tfstate("alb"))]);
    // the map alone turns the check on: no --states needed
    let r = ok(root, &["plan", "mapping.hcl", "--format", "json"]);
    assert_eq!(checked(&r), "checked");

    // the moved address is not in the mapped snapshot
    std::fs::write(root.join("pulled/api-static.tfstate"), tfstate("other")).expect("write");
    fails(
        root,
        &["plan", "mapping.hcl"],
        &["`module.alb` is not in the state"],
    );

    // a map entry for a root no state block names
    let tmp = tempdir();
    let root = tmp.path();
    let typo = "snapshots = {\n  \"live/dev/korea/api/statik\" = \"pulled/x.tfstate\"\n}\n";
    org_with_snapshots(root, typo, &[]);
    fails(
        root,
        &["plan", "mapping.hcl"],
        &[
            "mapping.hcl:28:3: `snapshots` names \"live/dev/korea/api/statik\"",
            "did you mean \"live/dev/korea/api/static\"?",
            &format!("`snapshots` has no entry for root \"{ROOT}\""),
        ],
    );
}

#[test]
fn a_states_template_finds_snapshots_named_after_their_repos() {
    let tmp = tempdir();
    let root = tmp.path();
    org_with_snapshots(
        root,
        "",
        &[("api-static-dev-korea.tfstate", tfstate("alb"))],
    );
    let r = ok(
        root,
        &[
            "plan",
            "mapping.hcl",
            "--states",
            "pulled/{repo}.tfstate",
            "--format",
            "json",
        ],
    );
    assert_eq!(checked(&r), "checked");
    // {monorepo}/{path} and {flat} spell the root; a missing file is named
    fails(
        root,
        &[
            "plan",
            "mapping.hcl",
            "--states",
            "pulled/{monorepo}-{flat}.tfstate",
        ],
        &[
            "pulled/live-live__dev__korea__api__static.tfstate: no state snapshot for root",
            "terraform state pull",
        ],
    );
    fails(
        root,
        &["plan", "mapping.hcl", "--states", "pulled/{rpo}.tfstate"],
        &["unknown placeholder {rpo}; did you mean {repo}?"],
    );
}

#[test]
fn a_to_the_roots_code_does_not_declare_is_a_warning() {
    let tmp = tempdir();
    let root = tmp.path();
    // STATE_BLOCK moves module.alb to module.lb; the root declares only module "alb"
    mini_org(
        root,
        &MiniOpts {
            tail: STATE_BLOCK,
            ..MiniOpts::default()
        },
    );
    let r = ok(root, &["plan", "mapping.hcl"]);
    let warning = "move #1: `to` module.lb names module \"lb\", which the root's code at the migrated commit does not declare; state moves do not edit code";
    // The report wraps lines at 100 columns: compare with whitespace flattened.
    assert!(
        crate::common::flat(&r.all()).contains(warning),
        "{}",
        r.all()
    );

    // declared: no warning
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(
        root,
        &MiniOpts {
            tail: STATE_BLOCK,
            api_tf: "module \"lb\" {\n  source = \"git::https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0\"\n}\n",
            ..MiniOpts::default()
        },
    );
    let r = ok(root, &["plan", "mapping.hcl"]);
    assert!(
        !crate::common::flat(&r.all()).contains("does not declare"),
        "{}",
        r.all()
    );
}
