//! What is checked before the legacy repos are scanned (`src/preflight.rs`): the output
//! directory, every missing repo, the `state` blocks' roots, the snapshots (`--states`
//! directory or template, the mapping's `snapshots` map); and the warning about a `to` the
//! root's code does not declare (`src/state/code.rs`).

use std::path::Path;

use crate::common::org::{mini_org, tfstate, MiniOpts, ROOT, SNAPSHOT, STATE_BLOCK};
use crate::common::{fails, ok, tempdir, Run};

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

#[test]
fn state_snapshots_missing_the_moved_address_or_not_json_are_named() {
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

    // A good snapshot: the plan passes (the control).
    std::fs::write(states.join(SNAPSHOT), tfstate("alb")).expect("write");
    ok(root, &["plan", "mapping.hcl", "--states", "states"]);

    // `from` is not in the snapshot.
    std::fs::write(states.join(SNAPSHOT), tfstate("other")).expect("write");
    fails(
        root,
        &["plan", "mapping.hcl", "--states", "states"],
        &[
            "state \"live/dev/korea/api/static\" move #1",
            "`module.alb` is not in the state of \"live/dev/korea/api/static\"",
            "terraform state list",
        ],
    );

    // Not JSON: the message names the file and how to make a good one.
    std::fs::write(states.join(SNAPSHOT), "this is { not json\n").expect("write");
    fails(
        root,
        &["plan", "mapping.hcl", "--states", "states"],
        &[
            &format!("states/{SNAPSHOT}"),
            "not Terraform state JSON",
            "terraform state pull",
        ],
    );

    // No snapshot for the root at all.
    std::fs::remove_file(states.join(SNAPSHOT)).expect("rm");
    fails(
        root,
        &["plan", "mapping.hcl", "--states", "states"],
        &[
            "no state snapshot for root \"live/dev/korea/api/static\"",
            SNAPSHOT,
            "terraform state pull",
        ],
    );
    // apply with a failing snapshot check writes nothing.
    fails(
        root,
        &["apply", "mapping.hcl", "--states", "states", "--out", "out"],
        &[SNAPSHOT],
    );
    assert!(!root.join("out").exists());
}

#[test]
fn a_missing_states_directory_says_what_to_do() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(
        root,
        &MiniOpts {
            tail: STATE_BLOCK,
            ..MiniOpts::default()
        },
    );
    fails(
        root,
        &["plan", "mapping.hcl", "--states", "nostates"],
        &["nostates", "terraform state pull"],
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
