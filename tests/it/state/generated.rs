//! The state scripts through the binary: template sequences in keys, `apply --monorepos`,
//! MONOREPOS, and `bash -n` plus shellcheck on every script apply writes.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use tfmono::state::{self};

use crate::common;
use crate::state::{files_starting, res, show, syntax_ok, tfstate, World, A, B};

/// For_each keys holding a literal `${` / `%{` (written `$${` / `%%{` in the mapping's HCL):
/// `plan --states` checks them in `state list` form, the scripts match that form in their
/// preflight and pass the HCL form to `state mv`; migrate moves them (within one state and
/// across states) and rollback moves them back.
#[test]
fn template_sequences_in_for_each_keys_move_and_move_back_through_the_binary() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let a = tfstate(
        "dddddddd-0000-0000-0000-000000000001",
        vec![
            res(
                None,
                "managed",
                "aws_s3_bucket",
                "b",
                str_keyed("b", &["${x}", "plain"]),
            ),
            res(
                None,
                "managed",
                "aws_s3_bucket",
                "w",
                str_keyed("w", &["${x}", "%{y}"]),
            ),
        ],
    );
    let b = tfstate(
        "dddddddd-0000-0000-0000-000000000002",
        vec![res(
            None,
            "managed",
            "aws_s3_bucket",
            "c",
            str_keyed("c", &["${x}"]),
        )],
    );
    let w = World::with(tf, &[(DA, a.clone()), (DB, b.clone())]);
    let org = w.out.parent().and_then(Path::parent).expect("tmp dir");
    let tail = format!(
        r#"state "{DA}" {{
  move {{
    from = "aws_s3_bucket.b[\"$${{x}}\"]"
    to   = "module.n.aws_s3_bucket.b[\"$${{x}}\"]"
  }}
  move {{
    from = "aws_s3_bucket.w"
    to   = "aws_s3_bucket.v"
  }}
  move {{
    from       = "aws_s3_bucket.c[\"$${{x}}\"]"
    to         = "aws_s3_bucket.c[\"$${{x}}\"]"
    from_state = "{DB}"
  }}
}}
"#
    );
    binary_org(org, &tail, &[(DA, a), (DB, b)]);
    let out = tfmono_in(org, &["plan", "mapping.hcl", "--states", "states"], 0);
    for line in [
        r#"aws_s3_bucket.b["${x}"] -> module.n.aws_s3_bucket.b["${x}"] (1 instance(s))"#,
        "aws_s3_bucket.w -> aws_s3_bucket.v (2 instance(s))",
        r#"aws_s3_bucket.c["${x}"] -> aws_s3_bucket.c["${x}"] (1 instance(s))"#,
    ] {
        assert!(out.contains(line), "{line} in {out}");
    }
    tfmono_in(
        org,
        &[
            "apply",
            "mapping.hcl",
            "--states",
            "states",
            "--out",
            "out",
            "--quiet",
        ],
        0,
    );
    let (list_a, list_b) = (w.list(DA), w.list(DB));
    let o = w.run(&w.out.join("migrate-all.sh"), Path::new("/"), &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        w.list(DA),
        [
            r#"aws_s3_bucket.b["plain"]"#,
            r#"aws_s3_bucket.c["${x}"]"#,
            r#"aws_s3_bucket.v["${x}"]"#,
            r#"aws_s3_bucket.v["%{y}"]"#,
            r#"module.n.aws_s3_bucket.b["${x}"]"#,
        ]
    );
    assert!(w.list(DB).is_empty());
    let o = w.run(&w.out.join("rollback-all.sh"), Path::new("/"), &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(w.list(DA), list_a);
    assert_eq!(w.list(DB), list_b);
}

/// Terraform 1.0 writes a module instance key holding `${` into the state's `module` field
/// and then cannot load that state, so such a move would run and break every later step of
/// the script: the mapping check refuses it before anything is written.
#[test]
fn a_module_key_with_a_template_sequence_is_refused_before_any_move() {
    let tmp = common::tempdir();
    let org = tmp.path();
    let a = tfstate(
        "dddddddd-0000-0000-0000-000000000003",
        vec![
            res(
                None,
                "managed",
                "aws_s3_bucket",
                "a",
                json!([{"schema_version": 0, "attributes": {"id": "a"}}]),
            ),
            res(
                None,
                "managed",
                "aws_s3_bucket",
                "b",
                str_keyed("b", &["${x}"]),
            ),
        ],
    );
    let tail = format!(
        r#"state "{DA}" {{
  move {{
    from = "aws_s3_bucket.b[\"$${{x}}\"]"
    to   = "module.n[\"$${{y}}\"].aws_s3_bucket.b[\"$${{x}}\"]"
  }}
  move {{
    from = "aws_s3_bucket.a"
    to   = "aws_s3_bucket.z"
  }}
}}
"#
    );
    binary_org(org, &tail, &[(DA, a)]);
    for args in [
        &["plan", "mapping.hcl", "--states", "states"][..],
        &["plan", "mapping.hcl"][..],
        &["apply", "mapping.hcl", "--states", "states", "--out", "out"][..],
    ] {
        let out = tfmono_in(org, args, 2);
        for needle in [
            "move #1",
            r#"module.n["${y}"].aws_s3_bucket.b["${x}"]"#,
            "cannot read that state back",
        ] {
            assert!(out.contains(needle), "{args:?}: {needle} in {out}");
        }
    }
    assert!(!org.join("out").exists());
}

/// `apply --monorepos DIR` records where the checkouts are: `migrate-all.sh` and `tfmono
/// rollback --state` then run from any directory; a missing root stops them before any
/// change, naming MONOREPOS; pulled copies do not outlive a run; backups are 0600.
#[test]
fn apply_monorepos_lets_the_state_scripts_and_rollback_run_from_anywhere() {
    use std::os::unix::fs::PermissionsExt;

    use crate::common::org::{mini_org, MiniOpts, STATE_BLOCK};

    let Some(tf) = common::terraform() else {
        return;
    };
    let tmp = common::tempdir();
    let root = tmp.path();
    mini_org(
        root,
        &MiniOpts {
            tail: STATE_BLOCK,
            ..MiniOpts::default()
        },
    );
    let label = "live/dev/korea/api/static";
    let checkout = root.join("checkouts").join(label);
    std::fs::create_dir_all(&checkout).expect("mkdir");
    let lb = res(
        Some("module.alb"),
        "managed",
        "aws_lb",
        "this",
        json!([{"schema_version": 0, "attributes": {"id": "lb-1"}}]),
    );
    let original = tfstate("cccccccc-0000-0000-0000-000000000003", vec![lb]);
    std::fs::write(checkout.join("terraform.tfstate"), &original).expect("write state");
    common::ok(
        root,
        &[
            "apply",
            "mapping.hcl",
            "--out",
            "out",
            "--monorepos",
            "checkouts",
            "--quiet",
        ],
    );
    let out = root.join("out");
    let elsewhere = root.join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    let bash = |script: &Path, env: &[(&str, &str)]| {
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .current_dir(&elsewhere)
            .env("TF", &tf)
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("MONOREPOS");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("bash runs")
    };
    let list = || {
        let o = Command::new(&tf)
            .current_dir(&checkout)
            .args(["state", "list"])
            .output()
            .expect("terraform runs");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let migrate_all = out.join("state/migrate-all.sh");
    let text = std::fs::read_to_string(&migrate_all).expect("script");
    let abs = std::fs::canonicalize(root.join("checkouts")).expect("abs");
    assert!(
        text.contains(&format!("MONOREPOS={}", abs.display())),
        "{text}"
    );
    let root_script =
        std::fs::read_to_string(out.join("state").join(label).join("migrate.sh")).expect("script");
    for var in [
        "MONOREPOS",
        "TF ",
        "DRY_RUN",
        "PREFLIGHT_ONLY",
        "STATE_WORK",
        "BACKEND_KEY_ATTR",
        "TMPDIR",
    ] {
        assert!(
            root_script.contains(&format!("#   {var}")),
            "{var}: {root_script}"
        );
    }

    // a missing root directory stops the script before anything changes, naming the fix
    let o = bash(&migrate_all, &[("MONOREPOS", "/nonexistent")]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("/nonexistent/{label}")) && err.contains("MONOREPOS=DIR"),
        "{err}"
    );
    assert!(err.contains("--monorepos DIR"), "{err}");
    assert_eq!(list().trim(), "module.alb.aws_lb.this");

    // the migration, from another directory, with the recorded MONOREPOS
    let o = bash(&migrate_all, &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(list().trim(), "module.lb.aws_lb.this");
    let work = out.join("state").join(label);
    let state_files = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| {
                n.ends_with(".tfstate") || n.ends_with(".pulled") || n.contains("preflight")
            })
            .collect();
        v.sort();
        v
    };
    let files = state_files(&work);
    assert_eq!(files.len(), 1, "only the backup stays: {files:?}");
    assert!(files[0].starts_with("backup-"), "{files:?}");
    let mode = std::fs::metadata(work.join(&files[0]))
        .expect("backup")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    // rollback --state from yet another directory, with an absolute --out
    let r = common::tfmono()
        .current_dir(&elsewhere)
        .env("TF", &tf)
        .env("CHECKPOINT_DISABLE", "1")
        .env_remove("MONOREPOS")
        .args(["rollback", "--out", out.to_str().expect("utf-8"), "--state"])
        .output()
        .expect("tfmono runs");
    assert!(r.status.success(), "{}", show(&r));
    assert_eq!(list().trim(), "module.alb.aws_lb.this");
    let files = state_files(&work);
    assert_eq!(files.len(), 2, "the two backups stay: {files:?}");
    for f in &files {
        assert!(
            f.starts_with("backup-") || f.starts_with("before-rollback-"),
            "{files:?}"
        );
        let mode = std::fs::metadata(work.join(f))
            .expect("backup")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}: {mode:o}");
    }
}

/// Without `apply --monorepos` the `*-all.sh` scripts need MONOREPOS and say so (exit 2,
/// nothing changed), as does `tfmono rollback --state` without `--monorepos`.
#[test]
fn without_monorepos_the_all_scripts_ask_for_it() {
    use crate::common::org::{mini_org, MiniOpts, STATE_BLOCK};

    let tmp = common::tempdir();
    let root = tmp.path();
    mini_org(
        root,
        &MiniOpts {
            tail: STATE_BLOCK,
            ..MiniOpts::default()
        },
    );
    common::ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let o = Command::new("bash")
        .arg(root.join("out/state/migrate-all.sh"))
        .current_dir("/")
        .env_remove("MONOREPOS")
        .output()
        .expect("bash runs");
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("MONOREPOS is not set") && err.contains("--monorepos DIR"),
        "{err}"
    );
    let r = common::run(root, &["rollback", "--out", "out", "--state"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("MONOREPOS is not set"), "{}", r.stderr);
    // the refs were not rolled back: the state scripts failed first
    assert!(root.join("out/live.git").is_dir());
}

/// Every script `apply` writes for the demo org (the per-root state scripts with local,
/// cross-state and `${`-keyed moves, `migrate-all.sh`, `rollback-all.sh`, `rollback.sh`,
/// `push.sh`) parses with `bash -n` and passes shellcheck.
#[test]
fn every_generated_script_passes_bash_n_and_shellcheck() {
    let tmp = common::tempdir();
    let root = tmp.path();
    common::ok(root, &["gen-org", "org", "--quiet"]);
    let mapping = root.join("org/mapping.hcl");
    let mut text = std::fs::read_to_string(&mapping).expect("mapping");
    text.push_str(&format!(
        r#"
state "{B}" {{
  move {{
    from       = "aws_route53_record.www"
    to         = "aws_route53_record.www"
    from_state = "{A}"
  }}
  move {{
    from = "aws_s3_bucket.b[\"$${{x}}\"]"
    to   = "module.n.aws_s3_bucket.b[\"$${{x}}\"]"
  }}
}}
"#
    ));
    std::fs::write(&mapping, text).expect("write mapping");
    common::ok(
        &root.join("org"),
        &["apply", "mapping.hcl", "--out", "../out", "--quiet"],
    );
    let out = root.join("out");
    let mut scripts = vec![out.join("rollback.sh"), out.join("push.sh")];
    scripts.extend(
        files_starting(&out.join("state"), "")
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "sh")),
    );
    for root_dir in [A, B] {
        for name in ["migrate.sh", "rollback.sh"] {
            scripts.push(out.join("state").join(root_dir).join(name));
        }
    }
    assert_eq!(scripts.len(), 8, "{scripts:?}");
    syntax_ok(&scripts);
    if !common::shellcheck() {
        return;
    }
    for script in &scripts {
        let o = Command::new("shellcheck")
            .arg(script)
            .output()
            .expect("shellcheck runs");
        assert!(
            o.status.success(),
            "shellcheck {}:\n{}",
            script.display(),
            show(&o)
        );
    }
}

const DA: &str = "live/dev/korea/api/static";
const DB: &str = "live/dev/korea/api/dynamic";

/// A legacy org under `dir` for the binary: the deployments `api-static-dev-korea` and
/// `api-dynamic-dev-korea` land at [`DA`] and [`DB`]; `tail` (state blocks) is appended to
/// `mapping.hcl`, and `dir/states` holds the given snapshots (state JSON per root).
fn binary_org(dir: &Path, tail: &str, snapshots: &[(&str, String)]) {
    for name in ["api-static-dev-korea", "api-dynamic-dev-korea"] {
        let w = dir.join(format!("work-{name}"));
        std::fs::create_dir_all(&w).expect("mkdir");
        common::git(&w, &["init", "-q", "-b", "main"]);
        std::fs::write(w.join("main.tf"), "resource \"aws_s3_bucket\" \"b\" {}\n").expect("write");
        common::git(&w, &["add", "-A"]);
        common::git(&w, &["commit", "-q", "-m", "Initial"]);
        std::fs::create_dir_all(dir.join("legacy")).expect("mkdir");
        common::git(
            dir,
            &[
                "clone",
                "-q",
                "--bare",
                &format!("work-{name}"),
                &format!("legacy/{name}.git"),
            ],
        );
    }
    std::fs::write(
        dir.join("repos.txt"),
        "https://github.com/acme/api-static-dev-korea.git\nhttps://github.com/acme/api-dynamic-dev-korea.git\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("mapping.hcl"),
        format!(
            r#"inventory = "repos.txt"
repos_dir = "legacy"
monorepo "live" {{
  url = "git::https://github.com/acme/live.git"
}}
rule "deployments" {{
  match = "github.com/acme/(?P<svc>[a-z]+)-(?P<kind>static|dynamic)-(?P<stage>dev|prod)-(?P<region>korea|usa)"
  into  = "live"
  path  = "{{stage}}/{{region}}/{{svc}}/{{kind}}"
}}
{tail}"#
        ),
    )
    .expect("write");
    let states = dir.join("states");
    std::fs::create_dir_all(&states).expect("mkdir");
    for (root, text) in snapshots {
        std::fs::write(states.join(state::snapshot::file_name(root)), text).expect("write");
    }
}

/// Instances with the given `for_each` keys.
fn str_keyed(prefix: &str, keys: &[&str]) -> Value {
    Value::Array(
        keys.iter()
            .enumerate()
            .map(|(i, k)| json!({"index_key": k, "schema_version": 0, "attributes": {"id": format!("{prefix}-{i}")}}))
            .collect(),
    )
}

/// Runs tfmono in `dir`, asserts exit code `code`.
fn tfmono_in(dir: &Path, args: &[&str], code: i32) -> String {
    let o = common::run_tfmono(dir, args);
    assert_eq!(o.status.code(), Some(code), "tfmono {args:?}: {}", show(&o));
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
