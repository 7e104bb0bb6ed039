//! State moves: mapping blocks, snapshot validation, backend keys, and the generated scripts
//! run with the real Terraform 1.0.3 against local-backend states.

mod generated;
mod preflight;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use tfmono::state::{
    self, backend, plan, scripts, BackendMode, MoveSpec, Snapshots, StateBlock, Style,
};

use crate::common;

#[test]
fn migrate_dry_run_rerun_and_rollback_with_real_terraform() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let w = World::new(tf);
    let snaps = w.snapshots();
    let plan = plan::build(&blocks(), Some(&snaps)).expect("plan builds");
    // the source of the cross-state move runs first
    let order: Vec<&str> = plan.roots.iter().map(|r| r.root.as_str()).collect();
    assert_eq!(order, [A, B]);
    let a = plan.root(A).expect("A");
    assert_eq!(a.check, plan::Check::Checked);
    let counts: Vec<Option<usize>> = a.moves.iter().map(|m| m.instances).collect();
    assert_eq!(counts, [Some(3), Some(1), Some(1), Some(1), Some(1)]);
    assert_eq!(plan.root(B).expect("B").depends_on, [A]);
    let files = w.write(&plan);
    assert_eq!(files.len(), 6, "{files:?}");
    for f in &files {
        let o = Command::new("bash")
            .arg("-n")
            .arg(f)
            .output()
            .expect("bash");
        assert!(o.status.success(), "{}: {}", f.display(), show(&o));
    }
    if std::env::var_os("TFMONO_KEEP_STATE_SCRIPTS").is_some() {
        let keep = std::env::temp_dir().join("tfmono-state-scripts");
        let _ = std::fs::remove_dir_all(&keep);
        for f in &files {
            let rel = f.strip_prefix(&w.out).expect("under out");
            std::fs::create_dir_all(keep.join(rel).parent().expect("parent")).expect("mkdir");
            std::fs::copy(f, keep.join(rel)).expect("copy");
        }
    }
    let migrate_all = w.out.join("migrate-all.sh");
    let rollback_all = w.out.join("rollback-all.sh");
    let text = std::fs::read_to_string(w.out.join(A).join("migrate.sh")).expect("script");
    assert!(text.starts_with("#!/usr/bin/env bash\n"));
    assert!(text.contains("set -euo pipefail") && text.contains("TF=\"${TF:-terraform}\""));
    assert!(text.contains("'aws_instance.web[\"a b\"]'"), "{text}");
    let all = std::fs::read_to_string(&migrate_all).expect("all");
    assert!(all.find(A) < all.find(B), "{all}");
    let rall = std::fs::read_to_string(&rollback_all).expect("all");
    assert!(rall.find(B) < rall.find(A), "{rall}");
    let (orig_a, orig_b) = (w.state(A), w.state(B));

    // DRY_RUN=1: every move is shown, nothing changes
    let o = w.run(&migrate_all, Path::new("/"), &[("DRY_RUN", "1")]);
    assert!(o.status.success(), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.matches("Would move").count(), 6, "{}", show(&o));
    assert_eq!(w.state(A), orig_a);
    assert_eq!(w.state(B), orig_b);

    // the migration
    let o = w.run(&migrate_all, Path::new("/"), &[]);
    assert!(o.status.success(), "{}", show(&o));
    let (want_a, want_b) = expected_after();
    assert_eq!(w.list(A), want_a.keys().cloned().collect::<Vec<_>>());
    assert_eq!(w.list(B), want_b.keys().cloned().collect::<Vec<_>>());
    assert_eq!(instances(&w.state(A)), want_a);
    assert_eq!(instances(&w.state(B)), want_b);
    // a timestamped backup of the original state was kept
    let backups: Vec<_> = std::fs::read_dir(w.out.join(A))
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("backup-"))
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(
        instances(&std::fs::read_to_string(backups[0].path()).expect("backup")),
        instances(&orig_a)
    );

    // re-running skips every move and changes nothing
    let (after_a, after_b) = (w.state(A), w.state(B));
    let o = w.run(&migrate_all, Path::new("/"), &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .matches("already done")
            .count(),
        6,
        "{}",
        show(&o)
    );
    assert_eq!(w.state(A), after_a);
    assert_eq!(w.state(B), after_b);

    // rollback restores the original resources with their attributes
    let o = w.run(&rollback_all, Path::new("/"), &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(instances(&w.state(A)), instances(&orig_a));
    assert_eq!(instances(&w.state(B)), instances(&orig_b));
    let mut want: Vec<String> = instances(&orig_a).keys().cloned().collect();
    want.sort();
    assert_eq!(w.list(A), want);
    // and re-running the rollback is a no-op
    let o = w.run(&rollback_all, Path::new("/"), &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(instances(&w.state(A)), instances(&orig_a));
}

#[test]
fn a_missing_from_stops_before_anything_changes() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let w = World::new(tf);
    // unchecked plan (no snapshots): the SECOND move names an address that does not exist
    let blocks = vec![(
        A.to_string(),
        StateBlock {
            moves: vec![
                mv("module.alb", "module.api.module.alb"),
                mv("aws_instance.missing", "aws_instance.other"),
                mv("aws_s3_bucket.data", "aws_s3_bucket.assets"),
            ],
            ..Default::default()
        },
    )];
    let plan = plan::build(&blocks, None).expect("plan");
    assert_eq!(plan.roots[0].check, plan::Check::Unchecked);
    syntax_ok(&w.write(&plan));
    let root = w.monorepos.join(A);
    let orig = w.state(A);
    let want = "migrate.sh: cannot move 'aws_instance.missing' -> 'aws_instance.other': 'aws_instance.missing' is not in the state of live/prod/korea/api/static and 'aws_instance.other' is not there either; nothing was changed. Fix the mapping's state block or the state, then re-run (move #2)";
    for (script, env) in [
        (w.out.join(A).join("migrate.sh"), &[][..]),
        (w.out.join(A).join("migrate.sh"), &[("DRY_RUN", "1")][..]),
        (w.out.join("migrate-all.sh"), &[][..]),
    ] {
        let o = w.run(&script, &root, env);
        assert_eq!(o.status.code(), Some(1), "{}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.lines().any(|l| l == want), "{}", show(&o));
        assert!(err.contains("1 of 3 moves cannot run"), "{err}");
        // only the offending move is named, and no rollback is suggested: nothing ran
        assert!(
            !err.contains("module.alb") && !err.contains("aws_s3_bucket"),
            "{err}"
        );
        assert!(!err.contains("rollback.sh"), "{err}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!out.contains("Move") && !out.contains("move-1"), "{out}");
        // the state file is byte-identical, and no backup was written
        assert_eq!(w.state(A), orig);
        assert!(files_starting(&w.out.join(A), "backup-").is_empty());
        assert!(files_starting(&w.out.join(A), "preflight-").is_empty());
    }

    // every offending move is listed: a missing one and one whose `to` is taken
    let blocks = vec![(
        A.to_string(),
        StateBlock {
            moves: vec![
                mv("aws_instance.missing", "aws_instance.other"),
                mv("aws_s3_bucket.data", "aws_s3_bucket.assets"),
                mv("aws_instance.worker[1]", "aws_instance.web[\"c\"]"),
                // allowed by the simulation: move #2 freed `aws_s3_bucket.data`
                mv("aws_eip.solo", "aws_eip.data"),
            ],
            ..Default::default()
        },
    )];
    let plan = plan::build(&blocks, None).expect("plan");
    std::fs::remove_dir_all(&w.out).expect("clean");
    syntax_ok(&w.write(&plan));
    let o = w.run(&w.out.join(A).join("migrate.sh"), &root, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot move 'aws_instance.missing' -> 'aws_instance.other'")
            && err.contains("(move #1)"),
        "{err}"
    );
    assert!(err.contains("migrate.sh: cannot move 'aws_instance.worker[1]' -> 'aws_instance.web[\"c\"]': 'aws_instance.worker[1]' is in the state of live/prod/korea/api/static and 'aws_instance.web[\"c\"]' is already in the state of live/prod/korea/api/static; nothing was changed"), "{err}");
    assert!(err.contains("2 of 4 moves cannot run"), "{err}");
    assert_eq!(w.state(A), orig);

    // across roots: migrate-all.sh checks every root before running any, so a missing
    // `from` of the second root's cross-state move leaves the first root untouched too
    let blocks = vec![
        (
            A.to_string(),
            StateBlock {
                moves: vec![mv("aws_s3_bucket.data", "aws_s3_bucket.assets")],
                ..Default::default()
            },
        ),
        (
            B.to_string(),
            StateBlock {
                moves: vec![
                    MoveSpec {
                        from: addr("aws_route53_record.www"),
                        to: addr("aws_route53_record.www"),
                        from_state: Some(A.into()),
                    },
                    MoveSpec {
                        from: addr("aws_instance.gone"),
                        to: addr("aws_instance.gone"),
                        from_state: Some(A.into()),
                    },
                ],
                ..Default::default()
            },
        ),
    ];
    let plan = plan::build(&blocks, None).expect("plan");
    std::fs::remove_dir_all(&w.out).expect("clean");
    syntax_ok(&w.write(&plan));
    let orig_b = w.state(B);
    let o = w.run(&w.out.join("migrate-all.sh"), Path::new("/"), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("migrate.sh: cannot move 'aws_instance.gone' -> 'aws_instance.gone': 'aws_instance.gone' is not in the state of live/prod/korea/api/static and 'aws_instance.gone' is not in the state of live/prod/korea/api/dynamic either; nothing was changed"), "{err}");
    assert!(
        err.contains("(move #2)") && !err.contains("(move #1)"),
        "{err}"
    );
    assert!(
        err.contains("tfmono: the preflight found moves that cannot run"),
        "{err}"
    );
    assert_eq!(w.state(A), orig);
    assert_eq!(w.state(B), orig_b);
}

#[test]
fn a_concurrent_change_stops_midway_and_rollback_undoes_what_ran() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let w = World::new(tf);
    let blocks = vec![(
        A.to_string(),
        StateBlock {
            moves: vec![
                mv("module.alb", "module.api.module.alb"),
                mv("aws_instance.web[\"a b\"]", "aws_instance.app[\"a b\"]"),
                mv("aws_instance.worker[1]", "aws_instance.worker_b"),
                mv("aws_s3_bucket.data", "aws_s3_bucket.assets"),
            ],
            ..Default::default()
        },
    )];
    let plan = plan::build(&blocks, None).expect("plan");
    syntax_ok(&w.write(&plan));
    let root = w.monorepos.join(A);
    let orig = w.state(A);
    // someone removes worker[1] after the preflight, just before move #2 runs
    let mark = w.out.parent().expect("parent").join("removed");
    let tfw = tf_wrapper(
        &w,
        "tf-concurrent.sh",
        &format!(
            "if [ \"$1 $2\" = \"state mv\" ] && [[ \"$*\" == *'aws_instance.app[\"a b\"]'* ]] && [ ! -e {m} ]; then\n  touch {m}\n  \"$REAL\" state rm 'aws_instance.worker[1]' >/dev/null\nfi",
            m = tfmono::shell::quote(&mark.display().to_string())
        ),
    );
    let o = w.run(&w.out.join(A).join("migrate.sh"), &root, &[("TF", &tfw)]);
    assert!(!o.status.success(), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("move-3: neither aws_instance.worker[1] nor aws_instance.worker_b"),
        "{err}"
    );
    assert!(err.contains("rollback.sh"), "{err}");
    // moves 1 and 2 happened, 4 did not
    let list = w.list(A);
    assert!(list.contains(&"module.api.module.alb.aws_lb.this".to_string()));
    assert!(list.contains(&"aws_instance.app[\"a b\"]".to_string()));
    assert!(list.contains(&"aws_s3_bucket.data".to_string()));
    // the rollback's preflight lets the half-done state through ("nothing to undo")
    let o = w.run(&w.out.join(A).join("rollback.sh"), &root, &[]);
    assert!(o.status.success(), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("undo-move-4: already done"), "{out}");
    assert!(out.contains("undo-move-3: nothing to undo"), "{out}");
    let mut want = instances(&orig);
    want.remove("aws_instance.worker[1]");
    assert_eq!(instances(&w.state(A)), want);
}

#[test]
fn rollback_preflight_stops_when_both_ends_are_there() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let w = World::new(tf);
    let blocks = vec![(
        A.to_string(),
        StateBlock {
            moves: vec![
                mv("aws_s3_bucket.data", "aws_s3_bucket.assets"),
                mv("aws_eip.solo", "aws_eip.other"),
            ],
            ..Default::default()
        },
    )];
    let plan = plan::build(&blocks, None).expect("plan");
    syntax_ok(&w.write(&plan));
    let root = w.monorepos.join(A);
    let o = w.run(&w.out.join(A).join("migrate.sh"), &root, &[]);
    assert!(o.status.success(), "{}", show(&o));
    // a new bucket appears at an old address: undoing move #1 would collide with it
    let mut v: Value = serde_json::from_str(&w.state(A)).expect("json");
    v["serial"] = json!(v["serial"].as_u64().expect("serial") + 1);
    v["resources"].as_array_mut().expect("resources").push(res(
        None,
        "managed",
        "aws_s3_bucket",
        "data",
        json!([{"schema_version": 0, "attributes": {"id": "bucket-new"}}]),
    ));
    std::fs::write(
        w.monorepos.join(A).join("terraform.tfstate"),
        serde_json::to_string_pretty(&v).expect("json"),
    )
    .expect("write");
    let before = w.state(A);
    let o = w.run(&w.out.join(A).join("rollback.sh"), &root, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("rollback.sh: cannot move 'aws_s3_bucket.assets' -> 'aws_s3_bucket.data'")
            && err.contains("(undo of move #1)"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    // move #2 is undone only after the preflight passed: nothing ran
    assert_eq!(w.state(A), before);
    assert!(w.list(A).contains(&"aws_eip.other".to_string()));
}

#[test]
fn backend_copy_moves_the_state_to_the_new_key_and_back() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let w = World::new(tf);
    let root = w.monorepos.join(A);
    std::fs::write(
        root.join("main.tf"),
        "terraform {\n  backend \"local\" {}\n}\n",
    )
    .expect("tf");
    std::fs::rename(root.join("terraform.tfstate"), root.join("old.tfstate")).expect("mv");
    let mut plan = plan::build(
        &[(
            A.to_string(),
            StateBlock {
                moves: vec![mv("aws_s3_bucket.data", "aws_s3_bucket.assets")],
                backend: Some(state::BackendSpec {
                    mode: BackendMode::Copy,
                }),
                ..Default::default()
            },
        )],
        None,
    )
    .expect("plan");
    plan.root_mut(A).expect("A").key_change = Some(backend::KeyChange {
        file: "terragrunt.hcl".into(),
        line: 3,
        old_key: "old.tfstate".into(),
        new_key: "new.tfstate".into(),
        how: "test".into(),
    });
    w.write(&plan);
    let env = [("BACKEND_KEY_ATTR", "path"), ("TF_IN_AUTOMATION", "1")];
    let orig = std::fs::read_to_string(root.join("old.tfstate")).expect("old");
    let o = w.run(&w.out.join(A).join("migrate.sh"), &root, &env);
    assert!(o.status.success(), "{}", show(&o));
    let new = std::fs::read_to_string(root.join("new.tfstate")).expect("new key written");
    let want = renamed(
        &instances(&orig),
        &[("aws_s3_bucket.data", "aws_s3_bucket.assets")],
    );
    assert_eq!(instances(&new), want);
    // the old key is untouched
    assert_eq!(
        std::fs::read_to_string(root.join("old.tfstate")).expect("old"),
        orig
    );
    // re-run: copy and move are skipped
    let o = w.run(&w.out.join(A).join("migrate.sh"), &root, &env);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .matches("already done")
            .count(),
        2,
        "{}",
        show(&o)
    );
    let o = w.run(&w.out.join(A).join("rollback.sh"), &root, &env);
    assert!(o.status.success(), "{}", show(&o));
    let old = std::fs::read_to_string(root.join("old.tfstate")).expect("old");
    assert_eq!(instances(&old), instances(&orig));
}

#[test]
fn parse_errors_point_at_the_attribute() {
    let tmp = common::tempdir();
    let text = "monorepo \"live\" {\n  url = \"git::https://example.com/live.git\"\n}\n\nstate \"live/prod/a\" {\n  move {\n    from = \"module.a\"\n    to   = \"module.b\"\n  }\n  move {\n    from = \"aws_instance.web[\\\"a b\\\"\"\n    to   = \"aws_instance.app\"\n  }\n  move {\n    from = \"module.c\"\n    to   = \"aws_instance.c\"\n  }\n  move {\n    from = \"aws_instance.x\"\n  }\n}\n";
    let file = tmp.path().join("m.hcl");
    // the mapping parses its state blocks: their problems are the mapping's
    let err = tfmono::mapping::load_str(&file, text, None).expect_err("invalid state block");
    let tfmono::mapping::Error::Invalid { problems, .. } = err else {
        panic!("not a validation error: {err}");
    };
    let f = file.display().to_string();
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(problems.len(), 3, "{text:#?}");
    assert_eq!(
        problems[0].at,
        format!("{f}:11:5 (state \"live/prod/a\" move #2)"),
        "{text:#?}"
    );
    assert!(problems[0].message.contains("unclosed `[`"), "{text:#?}");
    assert_eq!(
        problems[1].at,
        format!("{f}:14:3 (state \"live/prod/a\" move #3)")
    );
    assert!(problems[1]
        .message
        .contains("a module moves to a module address"));
    assert_eq!(
        problems[2].at,
        format!("{f}:18:3 (state \"live/prod/a\" move #4)")
    );
    assert!(problems[2].message.contains("no `to`"));
}

#[test]
fn a_valid_state_block_is_typed_by_the_mapping() {
    let tmp = common::tempdir();
    let text = "monorepo \"live\" {\n  url = \"git::https://example.com/live.git\"\n}\n\nstate \"live/prod/a\" {\n  style = \"moved-blocks\"\n  move {\n    from = \"module.a\"\n    to   = \"module.b\"\n  }\n  move {\n    from       = \"aws_x.y\"\n    to         = \"aws_x.y\"\n    from_state = \"live/prod/b\"\n  }\n}\n";
    let file = tmp.path().join("m.hcl");
    let m = tfmono::mapping::load_str(&file, text, None).expect("mapping loads");
    let f = file.display().to_string();
    let [(label, block)] = m.state.as_slice() else {
        panic!("one state block: {:?}", m.state);
    };
    assert_eq!(label, "live/prod/a");
    assert_eq!(block.style, Style::MovedBlocks);
    assert_eq!(
        block.moves,
        vec![mv("module.a", "module.b"), {
            let mut m = mv("aws_x.y", "aws_x.y");
            m.from_state = Some("live/prod/b".into());
            m
        }]
    );
    assert_eq!(block.at.block, format!("{f}:5:1 (state \"live/prod/a\")"));
    assert_eq!(
        block.at.from_state[1],
        format!("{f}:14:5 (state \"live/prod/a\" move #2)")
    );
}

#[test]
fn snapshot_validation_finds_missing_occupied_and_colliding_moves() {
    let (_t, dir) = snapshots_dir(&[(A, &state_a()), (B, &state_b())]);
    let snaps = Snapshots::load(&dir).expect("load");
    let bad = vec![(
        A.to_string(),
        StateBlock {
            moves: vec![
                mv("aws_instance.nope", "aws_instance.other"),
                mv("aws_instance.web[\"c\"]", "aws_s3_bucket.data"),
                mv("aws_s3_bucket.data", "aws_s3_bucket.logs"),
                mv("module.alb", "module.x"),
                mv("module.alb", "module.y"),
                mv("aws_instance.worker[1]", "aws_instance.web[\"a b\"]"),
            ],
            ..Default::default()
        },
    )];
    let problems = plan::build(&bad, Some(&snaps)).expect_err("invalid");
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let all = text.join("\n");
    assert!(
        all.contains("move #1: `aws_instance.nope` is not in the state"),
        "{all}"
    );
    assert!(all.contains("resource types differ"), "{all}");
    assert!(all.contains("move #5: `module.alb` in the state of \"live/prod/korea/api/static\" is already moved by state \"live/prod/korea/api/static\" move #4"), "{all}");
    assert!(
        all.contains("move #6: `aws_instance.web[\"a b\"]` is already taken"),
        "{all}"
    );
    // two moves landing on one address
    let twice = vec![(
        A.to_string(),
        StateBlock {
            moves: vec![
                mv("aws_instance.web[\"c\"]", "aws_instance.x"),
                mv("aws_instance.web[\"a b\"]", "aws_instance.x"),
            ],
            ..Default::default()
        },
    )];
    let p = plan::build(&twice, None).expect_err("collision");
    assert!(p[0].message.contains("already the destination of"), "{p:?}");
    // a cross-state move from a root without a snapshot
    let cross = vec![(
        A.to_string(),
        StateBlock {
            moves: vec![MoveSpec {
                from: addr("aws_x.y"),
                to: addr("aws_x.y"),
                from_state: Some("live/other".into()),
            }],
            ..Default::default()
        },
    )];
    let p = plan::build(&cross, Some(&snaps)).expect_err("missing snapshot");
    assert!(p[0].at.ends_with("live__other.tfstate"), "{p:?}");
    assert!(p[0].message.contains("terraform state pull"), "{p:?}");
}

#[test]
fn snapshots_that_are_not_state_are_named() {
    let (_t, dir) = snapshots_dir(&[(A, "this is not json")]);
    let e = Snapshots::load(&dir).expect_err("not json").to_string();
    assert!(
        e.contains("live__prod__korea__api__static.tfstate")
            && e.contains("not Terraform state JSON"),
        "{e}"
    );
    let (_t, dir) = snapshots_dir(&[(B, "{\"version\": 3, \"modules\": []}")]);
    let e = Snapshots::load(&dir).expect_err("v3").to_string();
    assert!(
        e.contains("live__prod__korea__api__dynamic.tfstate") && e.contains("version 3"),
        "{e}"
    );
    // an empty snapshot is a root with no state yet
    let (_t, dir) = snapshots_dir(&[(A, "")]);
    let s = Snapshots::load(&dir).expect("empty is fine");
    assert!(s.get(A).expect("A").instances.is_empty());
}

#[test]
fn cross_state_cycles_are_rejected() {
    let cross = |from: &str| StateBlock {
        moves: vec![MoveSpec {
            from: addr("aws_x.y"),
            to: addr("aws_x.y"),
            from_state: Some(from.into()),
        }],
        ..Default::default()
    };
    let p = plan::build(&[(A.into(), cross(B)), (B.into(), cross(A))], None).expect_err("cycle");
    assert!(p[0].message.contains("cycle"), "{p:?}");
    assert!(
        p[0].message.contains(A) && p[0].message.contains(B),
        "{p:?}"
    );
}

#[test]
fn moved_blocks_render_same_state_moves_only() {
    let blocks = vec![(
        A.to_string(),
        StateBlock {
            style: Style::MovedBlocks,
            moves: vec![
                mv("module.alb", "module.api.module.alb"),
                mv("aws_instance.web[\"a b\"]", "aws_instance.app[\"a b\"]"),
                MoveSpec {
                    from: addr("aws_x.y"),
                    to: addr("aws_x.y"),
                    from_state: Some(B.into()),
                },
            ],
            ..Default::default()
        },
    )];
    let plan = plan::build(&blocks, None).expect("plan");
    let text = state::moved_blocks(&plan.roots[0]).expect("moved.tf");
    assert!(
        text.contains("moved {\n  from = module.alb\n  to   = module.api.module.alb\n}\n"),
        "{text}"
    );
    assert!(
        text.contains("  from = aws_instance.web[\"a b\"]\n"),
        "{text}"
    );
    assert!(!text.contains("aws_x.y"), "{text}");
    // the output is valid HCL
    hcl_edit::parser::parse_body(&text).expect("valid HCL");
    // scripts carry only the cross-state move
    assert_eq!(plan.roots[0].script_moves().count(), 1);
    // data sources cannot be moved by moved blocks
    let data = vec![(
        A.to_string(),
        StateBlock {
            style: Style::MovedBlocks,
            moves: vec![mv("data.aws_ami.a", "data.aws_ami.b")],
            ..Default::default()
        },
    )];
    assert!(plan::build(&data, None).is_err());
}

#[test]
fn backend_detect_terragrunt_and_literal_keys() {
    let files = vec![("terragrunt.hcl".to_string(), TG_ROOT.to_string())];
    let k = backend::detect(&files, "", "prod/korea/api/static").expect("key changes");
    assert_eq!(k.file, "terragrunt.hcl");
    assert_eq!(k.line, 6);
    assert_eq!(k.old_key, "./terraform.tfstate");
    assert_eq!(k.new_key, "prod/korea/api/static/terraform.tfstate");
    assert!(k.how.contains("path_relative_to_include"));

    // a parent inside the repo moves along: the relative path, hence the key, is unchanged
    let nested = vec![
        ("terragrunt.hcl".to_string(), TG_ROOT.to_string()),
        (
            "stack/terragrunt.hcl".to_string(),
            "include {\n  path = find_in_parent_folders()\n}\n".to_string(),
        ),
    ];
    assert_eq!(
        backend::detect(&nested, "stack", "prod/korea/api/static/stack"),
        None
    );

    // plain Terraform backends only take literals: no change
    let tf = vec![(
        "main.tf".to_string(),
        "terraform {\n  backend \"s3\" {\n    key = \"api/static/terraform.tfstate\"\n  }\n}\n"
            .to_string(),
    )];
    assert_eq!(backend::detect(&tf, "", "prod/korea/api/static"), None);
    // a literal terragrunt key does not change either
    let lit = vec![(
        "terragrunt.hcl".to_string(),
        "remote_state {\n  backend = \"s3\"\n  config = {\n    key = \"fixed/terraform.tfstate\"\n  }\n}\n".to_string(),
    )];
    assert_eq!(backend::detect(&lit, "", "prod/korea/api/static"), None);
}

#[test]
fn backend_pin_changes_only_the_key_expression() {
    let pinned = backend::pin(TG_ROOT, "./terraform.tfstate").expect("pinned");
    let want = TG_ROOT.replace(
        "\"${path_relative_to_include()}/terraform.tfstate\"",
        "\"./terraform.tfstate\"",
    );
    assert_eq!(pinned, want);
    // pinned, the key no longer changes with the path
    let files = vec![("terragrunt.hcl".to_string(), pinned.clone())];
    assert_eq!(backend::detect(&files, "", "prod/korea/api/static"), None);
    // idempotent
    assert_eq!(
        backend::pin(&pinned, "./terraform.tfstate").expect("again"),
        pinned
    );
    // .tf backend keys and errors
    let tf = "terraform {\n  # state\n  backend \"s3\" {\n    key    = \"a\" # old\n    bucket = \"b\"\n  }\n}\n";
    assert_eq!(
        backend::pin(tf, "x/${y}").expect("pin"),
        tf.replace("\"a\"", "\"x/$${y}\"")
    );
    assert_eq!(
        backend::pin("inputs = {}\n", "k"),
        Err(backend::PinError::NoKey)
    );
    assert!(matches!(
        backend::pin("remote_state {", "k"),
        Err(backend::PinError::Syntax { .. })
    ));
}

#[test]
fn cross_state_move_stops_when_the_destination_changed_meanwhile() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let w = World::new(tf.clone());
    let plan = plan::build(&blocks()[..1], None).expect("plan");
    w.write(&plan);
    // a concurrent writer: the first local `state mv -state-out=…` is preceded by a real
    // change to the destination's state (as if someone applied meanwhile)
    let wrapper = w.out.join("tf-with-concurrent-writer.sh");
    let mark = w.out.join("changed");
    std::fs::write(
        &wrapper,
        format!(
            "#!/usr/bin/env bash\nif [ \"$1 $2\" = \"state mv\" ] && [[ \"$*\" == *-state-out=* ]] && [ ! -e {mark} ]; then\n  touch {mark}\n  (cd {dst} && {real} state mv aws_s3_bucket.logs aws_s3_bucket.logs2 >/dev/null)\nfi\nexec {real} \"$@\"\n",
            mark = tfmono::shell::quote(&mark.display().to_string()),
            dst = tfmono::shell::quote(&w.monorepos.join(B).display().to_string()),
            real = tfmono::shell::quote(&tf.display().to_string()),
        ),
    )
    .expect("wrapper");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let root = w.monorepos.join(B);
    let wrapper_s = wrapper.display().to_string();
    let o = w.run(
        &w.out.join(B).join("migrate.sh"),
        &root,
        &[("TF", wrapper_s.as_str())],
    );
    assert!(!o.status.success(), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("changed since it was pulled") && err.contains("nothing was pushed"),
        "{err}"
    );
    // nothing moved: the record is still in A, B only has the concurrent change
    assert!(w.list(A).contains(&"aws_route53_record.www".to_string()));
    assert_eq!(w.list(B), ["aws_s3_bucket.logs2"]);
    // re-running (no concurrent writer now) completes the move
    let o = w.run(
        &w.out.join(B).join("migrate.sh"),
        &root,
        &[("TF", wrapper_s.as_str())],
    );
    assert!(o.status.success(), "{}", show(&o));
    assert!(!w.list(A).contains(&"aws_route53_record.www".to_string()));
    assert_eq!(w.list(B), ["aws_route53_record.www", "aws_s3_bucket.logs2"]);
}

#[test]
fn nested_modules_count_and_quoted_for_each_keys_with_real_terraform() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let w = World::with(tf, &[(C, state_c())]);
    let web = |k: &str| format!("aws_instance.web[{}]", json!(k));
    let app = |k: &str| format!("aws_instance.app[{}]", json!(k));
    let mut pairs: Vec<(String, String)> = vec![
        // (a) a nested module, and a nested module holding a module and a data source
        (
            "module.app.module.alb".into(),
            "module.api.module.alb".into(),
        ),
        (
            "module.app.module.db".into(),
            "module.data.module.db".into(),
        ),
        // (d) count instances into a module, one by one and as a whole resource
        (
            "aws_instance.worker[0]".into(),
            "module.workers.aws_instance.worker[0]".into(),
        ),
        (
            "aws_instance.worker[1]".into(),
            "module.workers.aws_instance.worker[1]".into(),
        ),
        ("aws_eip.ip".into(), "module.net.aws_eip.ip".into()),
        // (b) for_each keys with quotes, spaces and `$`, one by one and as a whole resource
        (
            "aws_instance.db".into(),
            "module.data.aws_instance.db".into(),
        ),
        (
            "module.svc[\"say \\\"hi\\\"\"]".into(),
            "module.svc2[\"say \\\"hi\\\"\"]".into(),
        ),
        (
            web("back\\slash"),
            format!("module.m[\"it's\"].{}", web("back\\slash")),
        ),
    ];
    for k in ["a b", "it's", "say \"hi\"", "$HOME", "${HOME}"] {
        pairs.push((web(k), app(k)));
    }
    assert_eq!(pairs[8].0, "aws_instance.web[\"a b\"]");
    assert_eq!(pairs[10].0, r#"aws_instance.web["say \"hi\""]"#);
    let blocks = vec![(
        C.to_string(),
        StateBlock {
            moves: pairs.iter().map(|(f, t)| mv(f, t)).collect(),
            ..Default::default()
        },
    )];
    let snaps = w.snapshots();
    let plan = plan::build(&blocks, Some(&snaps)).expect("plan builds");
    let root_plan = plan.root(C).expect("C");
    assert_eq!(root_plan.check, plan::Check::Checked);
    let counts: Vec<Option<usize>> = root_plan.moves.iter().map(|m| m.instances).collect();
    assert_eq!(
        counts,
        [3, 3, 1, 1, 2, 7, 1, 1, 1, 1, 1, 1, 1].map(Some),
        "{pairs:#?}"
    );
    let files = w.write(&plan);
    syntax_ok(&files);
    let script = std::fs::read_to_string(w.out.join(C).join("migrate.sh")).expect("script");
    // `state list` form for matching, `$${` for the `state mv` argument
    assert!(
        script.contains(
            "mv_local 'aws_instance.web[\"${HOME}\"]' 'aws_instance.app[\"${HOME}\"]' i i move-13 'aws_instance.web[\"$${HOME}\"]' 'aws_instance.app[\"$${HOME}\"]'"
        ),
        "{script}"
    );
    assert!(
        script.contains("'aws_instance.web[\"it'\\''s\"]'"),
        "{script}"
    );

    let root = w.monorepos.join(C);
    let migrate = w.out.join(C).join("migrate.sh");
    let rollback = w.out.join(C).join("rollback.sh");
    let orig = w.state(C);
    let orig_list = w.list(C);
    assert_eq!(orig_list.len(), 28, "{orig_list:#?}");
    assert!(orig_list.contains(&r#"aws_instance.web["say \"hi\""]"#.to_string()));
    assert!(orig_list.contains(&r#"module.svc["say \"hi\""].aws_sqs_queue.q"#.to_string()));

    let o = w.run(&migrate, &root, &[("DRY_RUN", "1")]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        // one line per move, plus one for the module nested in module.app.module.db
        String::from_utf8_lossy(&o.stdout)
            .matches("Would move")
            .count(),
        14,
        "{}",
        show(&o)
    );
    assert_eq!(w.state(C), orig);

    let o = w.run(&migrate, &root, &[]);
    assert!(o.status.success(), "{}", show(&o));
    let renames: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(f, t)| (f.as_str(), t.as_str()))
        .collect();
    let want = renamed(&instances(&orig), &renames);
    // every instance kept its attributes, under exactly the expected addresses
    assert_eq!(instances(&w.state(C)), want);
    assert_eq!(w.list(C), want.keys().cloned().collect::<Vec<_>>());
    for line in [
        "module.api.module.alb.aws_lb_listener.http[1]",
        "module.data.module.db.module.sg.data.aws_vpc.this",
        "module.data.module.db.aws_db_instance.main",
        "module.workers.aws_instance.worker[0]",
        "aws_instance.worker[2]",
        "module.net.aws_eip.ip[1]",
        r#"aws_instance.app["say \"hi\""]"#,
        r#"aws_instance.app["it's"]"#,
        r#"aws_instance.app["$HOME"]"#,
        r#"aws_instance.app["${HOME}"]"#,
        r#"aws_instance.web["plain"]"#,
        r#"module.data.aws_instance.db["say \"hi\""]"#,
        r#"module.svc2["say \"hi\""].aws_sqs_queue.q"#,
        r#"module.svc["it's"].aws_sqs_queue.q"#,
        r#"module.m["it's"].aws_instance.web["back\\slash"]"#,
    ] {
        assert!(want.contains_key(line), "{line} in {want:#?}");
    }

    // re-running skips every move
    let after = w.state(C);
    let o = w.run(&migrate, &root, &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .matches("already done")
            .count(),
        13,
        "{}",
        show(&o)
    );
    assert_eq!(w.state(C), after);

    let o = w.run(&rollback, &root, &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(instances(&w.state(C)), instances(&orig));
    assert_eq!(w.list(C), orig_list);
}

pub(crate) const A: &str = "live/prod/korea/api/static";
pub(crate) const B: &str = "live/prod/korea/api/dynamic";

fn provider() -> Value {
    // the built-in provider: `terraform init` never downloads it
    json!("provider[\"terraform.io/builtin/terraform\"]")
}

pub(crate) fn res(
    module: Option<&str>,
    mode: &str,
    kind: &str,
    name: &str,
    instances: Value,
) -> Value {
    let mut r = json!({
        "mode": mode, "type": kind, "name": name, "provider": provider(), "instances": instances
    });
    if let Some(m) = module {
        r["module"] = json!(m);
    }
    r
}

pub(crate) fn tfstate(lineage: &str, resources: Vec<Value>) -> String {
    serde_json::to_string_pretty(&json!({
        "version": 4, "terraform_version": "1.0.3", "serial": 3, "lineage": lineage,
        "outputs": {}, "resources": resources
    }))
    .expect("json")
}

/// Root A: a module with three instances, for_each keys with a space, a count resource, a
/// single resource and a data source; root B: one bucket.
fn state_a() -> String {
    tfstate(
        "aaaaaaaa-0000-0000-0000-000000000001",
        vec![
            res(
                Some("module.alb"),
                "managed",
                "aws_lb",
                "this",
                json!([{"schema_version": 0, "attributes": {"id": "lb-1", "name": "api"}}]),
            ),
            res(
                Some("module.alb"),
                "managed",
                "aws_lb_listener",
                "http",
                json!([
                    {"index_key": 0, "schema_version": 0, "attributes": {"id": "l-0", "port": 80}},
                    {"index_key": 1, "schema_version": 0, "attributes": {"id": "l-1", "port": 443}}
                ]),
            ),
            res(
                None,
                "managed",
                "aws_instance",
                "web",
                json!([
                    {"index_key": "a b", "schema_version": 1, "attributes": {"id": "i-ab", "tags": {"Name": "a b"}}},
                    {"index_key": "c", "schema_version": 1, "attributes": {"id": "i-c"}}
                ]),
            ),
            res(
                None,
                "managed",
                "aws_instance",
                "worker",
                json!([
                    {"index_key": 0, "schema_version": 1, "attributes": {"id": "i-w0"}},
                    {"index_key": 1, "schema_version": 1, "attributes": {"id": "i-w1"}}
                ]),
            ),
            res(
                None,
                "managed",
                "aws_s3_bucket",
                "data",
                json!([{"schema_version": 0, "attributes": {"id": "bucket-data", "acl": "private"}}]),
            ),
            res(
                None,
                "managed",
                "aws_route53_record",
                "www",
                json!([{"schema_version": 2, "attributes": {"id": "Z_www", "ttl": 300}}]),
            ),
            res(
                None,
                "managed",
                "aws_eip",
                "solo",
                json!([{"schema_version": 0, "attributes": {"id": "eip-1"}}]),
            ),
            res(
                None,
                "data",
                "aws_ami",
                "ubuntu",
                json!([{"schema_version": 0, "attributes": {"id": "ami-1"}}]),
            ),
        ],
    )
}

fn state_b() -> String {
    tfstate(
        "bbbbbbbb-0000-0000-0000-000000000002",
        vec![res(
            None,
            "managed",
            "aws_s3_bucket",
            "logs",
            json!([{"schema_version": 0, "attributes": {"id": "bucket-logs"}}]),
        )],
    )
}

fn addr(text: &str) -> state::address::Address {
    state::address::parse(text).expect("a valid address")
}

fn mv(from: &str, to: &str) -> MoveSpec {
    MoveSpec {
        from: addr(from),
        to: addr(to),
        from_state: None,
    }
}

/// A's moves: whole module, `["a b"]` key, count index, single resource; B: a cross-state
/// move of the route53 record out of A.
fn blocks() -> Vec<(String, StateBlock)> {
    vec![
        (
            B.to_string(),
            StateBlock {
                moves: vec![MoveSpec {
                    from: addr("aws_route53_record.www"),
                    to: addr("aws_route53_record.www"),
                    from_state: Some(A.into()),
                }],
                ..Default::default()
            },
        ),
        (
            A.to_string(),
            StateBlock {
                moves: vec![
                    mv("module.alb", "module.api.module.alb"),
                    mv("aws_instance.web[\"a b\"]", "aws_instance.app[\"a b\"]"),
                    mv("aws_instance.worker[0]", "aws_instance.worker_main"),
                    mv("aws_s3_bucket.data", "aws_s3_bucket.assets"),
                    // a resource moved to one of its own instances (adding `count`)
                    mv("aws_eip.solo", "aws_eip.solo[0]"),
                ],
                ..Default::default()
            },
        ),
    ]
}

/// Every instance of a state file: address -> (schema_version, attributes).
fn instances(text: &str) -> BTreeMap<String, Value> {
    let v: Value = serde_json::from_str(text).expect("state json");
    let mut out = BTreeMap::new();
    for r in v["resources"].as_array().expect("resources") {
        let mut addr = String::new();
        if let Some(m) = r["module"].as_str() {
            addr.push_str(m);
            addr.push('.');
        }
        if r["mode"] == "data" {
            addr.push_str("data.");
        }
        addr.push_str(&format!(
            "{}.{}",
            r["type"].as_str().expect("type"),
            r["name"].as_str().expect("name")
        ));
        for i in r["instances"].as_array().expect("instances") {
            let key = match &i["index_key"] {
                Value::Null => String::new(),
                Value::Number(n) => format!("[{n}]"),
                s => format!("[{s}]"),
            };
            out.insert(
                format!("{addr}{key}"),
                json!({"schema_version": i["schema_version"], "attributes": i["attributes"]}),
            );
        }
    }
    out
}

fn renamed(orig: &BTreeMap<String, Value>, renames: &[(&str, &str)]) -> BTreeMap<String, Value> {
    orig.iter()
        .map(|(k, v)| {
            let mut k = k.clone();
            for (from, to) in renames {
                if k == *from
                    || k.starts_with(&format!("{from}."))
                    || k.starts_with(&format!("{from}["))
                {
                    k = format!("{to}{}", &k[from.len()..]);
                    break;
                }
            }
            (k, v.clone())
        })
        .collect()
}

pub(crate) struct World {
    pub(crate) _tmp: tempfile::TempDir,
    pub(crate) monorepos: PathBuf,
    pub(crate) out: PathBuf,
    pub(crate) tf: PathBuf,
    pub(crate) roots: Vec<String>,
}

impl World {
    fn new(tf: PathBuf) -> World {
        World::with(tf, &[(A, state_a()), (B, state_b())])
    }

    /// Roots with the given local-backend states.
    fn with(tf: PathBuf, states: &[(&str, String)]) -> World {
        let tmp = common::tempdir();
        let monorepos = tmp.path().join("monorepos");
        for (root, text) in states {
            let dir = monorepos.join(root);
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join("terraform.tfstate"), text).expect("write state");
        }
        let out = tmp.path().join("out").join("state");
        World {
            monorepos,
            out,
            tf,
            roots: states.iter().map(|(r, _)| r.to_string()).collect(),
            _tmp: tmp,
        }
    }

    fn state(&self, root: &str) -> String {
        std::fs::read_to_string(self.monorepos.join(root).join("terraform.tfstate"))
            .expect("state file")
    }

    fn snapshots(&self) -> Snapshots {
        let dir = self.out.parent().expect("parent").join("snapshots");
        std::fs::create_dir_all(&dir).expect("mkdir");
        for root in &self.roots {
            let pulled = self.tf_in(root, &["state", "pull"]);
            assert!(pulled.status.success());
            std::fs::write(dir.join(state::snapshot::file_name(root)), &pulled.stdout)
                .expect("write snapshot");
        }
        Snapshots::load(&dir).expect("snapshots load")
    }

    fn tf_in(&self, root: &str, args: &[&str]) -> Output {
        Command::new(&self.tf)
            .current_dir(self.monorepos.join(root))
            .args(args)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("terraform runs")
    }

    /// `terraform state list`, sorted.
    fn list(&self, root: &str) -> Vec<String> {
        let out = self.tf_in(root, &["state", "list"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut l: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        l.sort();
        l
    }

    /// Runs a generated script (an `*-all.sh` from anywhere, a root script in its root).
    fn run(&self, script: &Path, cwd: &Path, env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .current_dir(cwd)
            .env("TF", &self.tf)
            .env("MONOREPOS", &self.monorepos)
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("DRY_RUN");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("bash runs")
    }

    fn write(&self, plan: &plan::StatePlan) -> Vec<PathBuf> {
        scripts::write(
            plan,
            &self.out,
            &scripts::ScriptOptions {
                monorepos_dir: Some(self.monorepos.clone()),
                lock_timeout: "60s".into(),
            },
        )
        .expect("scripts written")
    }
}

pub(crate) fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn expected_after() -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let a = instances(&state_a());
    let b = instances(&state_b());
    let mut a2 = renamed(
        &a,
        &[
            ("module.alb", "module.api.module.alb"),
            ("aws_instance.web[\"a b\"]", "aws_instance.app[\"a b\"]"),
            ("aws_instance.worker[0]", "aws_instance.worker_main"),
            ("aws_s3_bucket.data", "aws_s3_bucket.assets"),
            ("aws_eip.solo", "aws_eip.solo[0]"),
        ],
    );
    let rec = a2.remove("aws_route53_record.www").expect("record");
    let mut b2 = b.clone();
    b2.insert("aws_route53_record.www".into(), rec);
    (a2, b2)
}

/// `bash -n` on every generated script.
pub(crate) fn syntax_ok(files: &[PathBuf]) {
    for f in files {
        let o = Command::new("bash")
            .arg("-n")
            .arg(f)
            .output()
            .expect("bash");
        assert!(o.status.success(), "{}: {}", f.display(), show(&o));
    }
}

/// Files in `dir` whose name starts with `prefix`.
pub(crate) fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// An executable `TF` wrapper: runs `body` (bash, `$REAL` is the real terraform) before
/// handing every call to the real binary.
fn tf_wrapper(w: &World, name: &str, body: &str) -> String {
    let path = w.out.parent().expect("parent").join(name);
    std::fs::write(
        &path,
        format!(
            "#!/usr/bin/env bash\nREAL={}\n{body}\nexec \"$REAL\" \"$@\"\n",
            tfmono::shell::quote(&w.tf.display().to_string())
        ),
    )
    .expect("wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

fn snapshots_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let tmp = common::tempdir();
    let dir = tmp.path().join("snap");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (root, text) in files {
        std::fs::write(dir.join(state::snapshot::file_name(root)), text).expect("write");
    }
    (tmp, dir)
}

const TG_ROOT: &str = "# remote state for this deployment\nremote_state {\n  backend = \"s3\" # keep s3\n  config = {\n    bucket  = \"acme-tfstate\"\n    key     = \"${path_relative_to_include()}/terraform.tfstate\"   # computed\n    region  = \"ap-northeast-2\"\n  }\n}\n\ninputs = {\n  name = \"api\"\n}\n";

const C: &str = "live/prod/korea/app";

/// The for_each keys of the quoting test, as state JSON `index_key`s.
const KEYS: &[&str] = &[
    "a b",
    "it's",
    "say \"hi\"",
    "$HOME",
    "${HOME}",
    "back\\slash",
    "plain",
];

fn keyed(prefix: &str) -> Value {
    Value::Array(
        KEYS.iter()
            .enumerate()
            .map(|(i, k)| json!({"index_key": k, "schema_version": 1, "attributes": {"id": format!("{prefix}-{i}"), "tags": {"Name": k}}}))
            .collect(),
    )
}

/// Root C: nested modules, count resources, for_each keys with quotes, spaces and `$`,
/// and module instances keyed by such strings.
fn state_c() -> String {
    let one = |id: &str| json!([{"schema_version": 0, "attributes": {"id": id}}]);
    let counted = |p: &str, n: u64| {
        Value::Array(
            (0..n)
                .map(|i| json!({"index_key": i, "schema_version": 0, "attributes": {"id": format!("{p}-{i}")}}))
                .collect(),
        )
    };
    tfstate(
        "cccccccc-0000-0000-0000-000000000003",
        vec![
            res(
                Some("module.app.module.alb"),
                "managed",
                "aws_lb",
                "this",
                one("lb-1"),
            ),
            res(
                Some("module.app.module.alb"),
                "managed",
                "aws_lb_listener",
                "http",
                counted("l", 2),
            ),
            res(
                Some("module.app.module.db"),
                "managed",
                "aws_db_instance",
                "main",
                one("db-1"),
            ),
            res(
                Some("module.app.module.db.module.sg"),
                "managed",
                "aws_security_group",
                "this",
                one("sg-1"),
            ),
            res(
                Some("module.app.module.db.module.sg"),
                "data",
                "aws_vpc",
                "this",
                one("vpc-1"),
            ),
            res(
                Some("module.app"),
                "managed",
                "aws_iam_role",
                "r",
                one("role-1"),
            ),
            res(None, "managed", "aws_instance", "worker", counted("w", 3)),
            res(None, "managed", "aws_eip", "ip", counted("eip", 2)),
            res(None, "managed", "aws_instance", "web", keyed("web")),
            res(None, "managed", "aws_instance", "db", keyed("db")),
            res(
                Some("module.svc[\"say \\\"hi\\\"\"]"),
                "managed",
                "aws_sqs_queue",
                "q",
                one("q-hi"),
            ),
            res(
                Some("module.svc[\"it's\"]"),
                "managed",
                "aws_sqs_queue",
                "q",
                one("q-its"),
            ),
        ],
    )
}
