//! `plan` (src/plan, src/preflight.rs): problems found before the scan, tag names after
//! prefixing, a saved plan whose inputs changed, and the JSON plan listing exactly the refs and
//! rewrites apply makes.

use std::collections::BTreeSet;

use crate::common::git::{commit, show};
use crate::common::org::{
    files_below, gen_org, mini_org, publish, MiniOpts, ALB, ROOT, STATE_BLOCK,
};
use crate::common::{fails, git, ok, tempdir};

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
fn tags_that_become_invalid_ref_names_after_prefixing_are_caught_by_plan() {
    // `alb.` + `lock` = `alb.lock` (a ref component may not end in `.lock`) and
    // `rel@` + `{1}` = `rel@{1}` (`@{` is not allowed): both prefixes pass the mapping's
    // own check (with `v1.0.0`), the plan catches the actual tags.
    for (prefix, tag, bad) in [("alb.", "lock", "alb.lock"), ("rel@", "{1}", "rel@{1}")] {
        let tmp = tempdir();
        let root = tmp.path();
        mini_org(
            root,
            &MiniOpts {
                alb_tags: &[tag],
                alb_prefix: prefix,
                ..MiniOpts::default()
            },
        );
        let r = fails(
            root,
            &["plan", "mapping.hcl"],
            &[
                "repo \"terraform-aws-alb\"",
                &format!("tag refs/tags/{tag} becomes refs/tags/{bad}"),
                "not a valid ref name",
                "change `tag_prefix`",
                "9:1",
            ],
        );
        assert!(
            r.stdout.is_empty(),
            "no report on a failed plan: {}",
            r.stdout
        );
        // apply refuses the same way and writes nothing.
        fails(
            root,
            &["apply", "mapping.hcl", "--out", "out"],
            &[&format!("refs/tags/{bad}")],
        );
        assert!(
            !root.join("out").exists(),
            "apply wrote an output directory"
        );
    }
}

#[test]
fn tag_conflicts_name_the_mapping_file_and_line() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(
        root,
        &MiniOpts {
            alb_tags: &["lock"],
            alb_prefix: "alb.",
            ..MiniOpts::default()
        },
    );
    fails(root, &["plan", "mapping.hcl"], &["mapping.hcl:9:1"]);
}

#[test]
fn a_saved_plan_whose_inputs_changed_is_refused_and_nothing_is_written() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    ok(root, &["plan", "mapping.hcl", "--out", "p.json", "--quiet"]);
    let saved = std::fs::read_to_string(root.join("p.json")).expect("saved plan");
    let v: serde_json::Value = serde_json::from_str(&saved).expect("plan JSON");
    assert!(v["fingerprint"].as_str().is_some_and(|f| f.len() >= 12));

    // A new legacy commit after the plan was reviewed.
    let w = root.join(format!("work-{ALB}"));
    commit(&w, &[("new.tf", "# new\n")], "A change after review");
    publish(root, ALB);
    fails(
        root,
        &["apply", "mapping.hcl", "--plan", "p.json", "--out", "out"],
        &[
            "the saved plan p.json no longer matches its inputs",
            "the mapping or a legacy repo changed since",
            "run `tfmono plan --out` again",
        ],
    );
    assert!(
        !root.join("out").exists(),
        "a refused apply wrote {:?}",
        files_below(&root.join("out"))
    );

    // A changed mapping is caught too (a new plan, then an edit of the mapping).
    ok(root, &["plan", "mapping.hcl", "--out", "p.json", "--quiet"]);
    let m = std::fs::read_to_string(root.join("mapping.hcl")).expect("read");
    std::fs::write(
        root.join("mapping.hcl"),
        m.replace("tag_prefix = \"alb/\"", "tag_prefix = \"lb/\""),
    )
    .expect("write");
    fails(
        root,
        &["apply", "mapping.hcl", "--plan", "p.json", "--out", "out"],
        &["no longer matches its inputs"],
    );
    assert!(!root.join("out").exists());
    std::fs::write(root.join("mapping.hcl"), m).expect("restore");

    // Not a plan, and a missing plan file.
    std::fs::write(root.join("notaplan.json"), "Plan: 2 legacy repos\n").expect("write");
    fails(
        root,
        &[
            "apply",
            "mapping.hcl",
            "--plan",
            "notaplan.json",
            "--out",
            "out",
        ],
        &["notaplan.json is not a plan saved by `tfmono plan --out`"],
    );
    fails(
        root,
        &[
            "apply",
            "mapping.hcl",
            "--plan",
            "missing.json",
            "--out",
            "out",
        ],
        &["reading the saved plan missing.json", "No such file"],
    );
    assert!(!root.join("out").exists());

    // The control: an unchanged saved plan applies.
    ok(root, &["plan", "mapping.hcl", "--out", "p.json", "--quiet"]);
    ok(
        root,
        &[
            "apply",
            "mapping.hcl",
            "--plan",
            "p.json",
            "--out",
            "out",
            "--quiet",
        ],
    );
    assert!(root.join("out/live.git").is_dir());
}

#[test]
fn the_json_plan_lists_exactly_the_refs_and_rewrites_apply_makes() {
    let tmp = tempdir();
    let org = gen_org(&tmp.path().join("org"));
    let r = ok(&org, &["plan", "mapping.hcl", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("plan JSON");
    ok(&org, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let out = org.join("out");
    let monos = plan["monorepos"].as_array().expect("monorepos");
    assert_eq!(monos.len(), 3);
    let mut rewrites_checked = 0;
    let mut pins_checked = 0;
    for m in monos {
        let dir = out.join(m["dir"].as_str().expect("dir"));
        // Refs: every import's branches and tags, main and the notes; nothing else.
        let mut planned: BTreeSet<String> = ["refs/heads/main", "refs/notes/tfmono"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for i in m["imports"].as_array().expect("imports") {
            for r in i["branches"]
                .as_array()
                .expect("branches")
                .iter()
                .chain(i["tags"].as_array().expect("tags"))
            {
                planned.insert(r["to"].as_str().expect("to").to_string());
            }
        }
        let actual: BTreeSet<String> = git(&dir, &["for-each-ref", "--format=%(refname)"])
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(actual, planned, "refs of {}", m["name"]);

        // Rewrites: the "Rewrite module sources" commit changes exactly the planned files,
        // each planned line old -> new.
        let files = m["files"].as_array().expect("files");
        let changed_planned: BTreeSet<String> = files
            .iter()
            .filter(|f| {
                !f["rewrites"].as_array().expect("rewrites").is_empty()
                    || !f["edits"].as_array().expect("edits").is_empty()
            })
            .map(|f| f["path"].as_str().expect("path").to_string())
            .collect();
        let subject = git(&dir, &["log", "-1", "--format=%s", "main"]);
        if changed_planned.is_empty() {
            assert_ne!(subject.trim(), "Rewrite module sources to monorepos");
            continue;
        }
        assert_eq!(
            subject.trim(),
            "Rewrite module sources to monorepos",
            "{}",
            m["name"]
        );
        let changed_actual: BTreeSet<String> = git(&dir, &["diff", "--name-only", "main^", "main"])
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(changed_actual, changed_planned, "files of {}", m["name"]);
        for f in files {
            let path = f["path"].as_str().expect("path");
            if !changed_planned.contains(path) {
                continue;
            }
            let rewrites = f["rewrites"].as_array().expect("rewrites");
            let before = show(&dir, "main^", path);
            let after = show(&dir, "main", path);
            let before_lines: Vec<&str> = before.lines().collect();
            for rw in rewrites {
                let line = rw["line"].as_u64().expect("line") as usize;
                let old = rw["old"].as_str().expect("old");
                let new = rw["new"].as_str().expect("new");
                assert!(
                    before_lines.get(line - 1).is_some_and(|l| l.contains(old)),
                    "{path}:{line} before apply does not hold {old:?}"
                );
                assert!(after.contains(new), "{path} after apply lacks {new:?}");
                rewrites_checked += 1;
            }
            // Backend keys the plan pins: the line it names, the old key kept.
            let mut planned_lines: BTreeSet<usize> = rewrites
                .iter()
                .map(|rw| rw["line"].as_u64().expect("line") as usize)
                .collect();
            for kc in plan["key_changes"].as_array().expect("key_changes") {
                let mono_prefix = format!("{}/", m["name"].as_str().expect("name"));
                let in_mono = kc["root"]
                    .as_str()
                    .is_some_and(|r| r.starts_with(&mono_prefix));
                if in_mono && kc["file"] == path {
                    assert_eq!(kc["action"], "pin", "{kc}");
                    let old_key = kc["old_key"].as_str().expect("old_key");
                    assert!(
                        after.contains(&format!("\"{old_key}\"")),
                        "{path} lacks the pinned key {old_key:?}"
                    );
                    planned_lines.insert(kc["line"].as_u64().expect("line") as usize);
                    pins_checked += 1;
                }
            }
            // Every line the commit removed is one the plan lists (or the `version` of a
            // registry call the plan turned into a git source).
            let diff = git(&dir, &["diff", "-U0", "main^", "main", "--", path]);
            let mut old_line = 0usize;
            for l in diff.lines() {
                if let Some(h) = l.strip_prefix("@@ -") {
                    let start = h.split([',', ' ']).next().expect("start");
                    old_line = start.parse().expect("hunk start");
                } else if l.starts_with('-') && !l.starts_with("---") {
                    let text = &l[1..];
                    assert!(
                        planned_lines.contains(&old_line) || text.contains("version"),
                        "{path}:{old_line} changed but not in the plan: {text:?}"
                    );
                    old_line += 1;
                }
            }
        }
    }
    assert!(
        rewrites_checked >= 10,
        "only {rewrites_checked} rewrites checked"
    );
    assert!(
        pins_checked >= 4,
        "only {pins_checked} backend pins checked"
    );
}

#[test]
fn plan_since_an_output_directory_plans_the_resync_apply_will_do_and_reads_its_records() {
    let tmp = tempdir();
    let root = tmp.path();
    crate::common::applied_org(root);
    crate::common::git::commit_on_head(
        &root.join("org/legacy/terraform-aws-vpc.git"),
        "One more commit",
    );
    let before = crate::common::tree_hash(&root.join("out"));

    let fresh = ok(root, &["plan", "org/mapping.hcl", "--format", "json"]);
    let since = ok(
        root,
        &[
            "plan",
            "org/mapping.hcl",
            "--format",
            "json",
            "--since",
            "out",
        ],
    );
    // The same plan, but that it knows which repos did not move since the last apply: the
    // 24 other than vpc, whose imports apply leaves as they are.
    let mut since_plan: serde_json::Value = serde_json::from_str(&since.stdout).expect("json");
    let mut unchanged = Vec::new();
    for m in since_plan["monorepos"].as_array_mut().expect("monorepos") {
        for step in m["imports"].as_array_mut().expect("imports") {
            if step["unchanged"] == serde_json::Value::Bool(true) {
                unchanged.push(step["repo"].as_str().expect("repo").to_string());
            }
            step["unchanged"] = false.into();
        }
    }
    let fresh_plan: serde_json::Value = serde_json::from_str(&fresh.stdout).expect("json");
    assert_eq!(since_plan, fresh_plan, "the same plan");
    assert_eq!(unchanged.len(), 24, "{unchanged:?}");
    assert!(!unchanged.iter().any(|r| r == "terraform-aws-vpc"));
    assert!(
        since
            .stderr
            .contains("Since the last apply into out: 1 of 25 legacy repos changed"),
        "{}",
        since.stderr
    );
    assert!(
        since.stderr.contains("terraform-aws-vpc: refs/heads/"),
        "{}",
        since.stderr
    );
    assert_eq!(
        crate::common::tree_hash(&root.join("out")),
        before,
        "plan --since wrote into the output directory"
    );

    // The recorded tag scans are what it reads: a marked cached rewrite shows in the plan.
    let path = root.join("out/.tfmono/scans.json.z");
    let text = crate::common::read_record_z(&path);
    let marked = text.replacen(
        "\"new\":\"git::https://github.com/acme/reference-modules.git//alb?ref=alb/v1.1.0\"",
        "\"new\":\"MARKED\"",
        1,
    );
    assert_ne!(marked, text, "alb's cached rewrite is in the record");
    crate::common::write_record_z(&path, &marked);
    let read = ok(
        root,
        &[
            "plan",
            "org/mapping.hcl",
            "--format",
            "json",
            "--since",
            "out",
        ],
    );
    assert!(
        read.stdout.contains("\"new\": \"MARKED\""),
        "{}",
        read.stdout
    );

    // A directory no apply wrote is refused, naming what to give.
    std::fs::create_dir(root.join("empty")).expect("mkdir");
    fails(
        root,
        &["plan", "org/mapping.hcl", "--since", "empty"],
        &[
            "--since empty: no apply has written to this directory",
            "--out directory",
        ],
    );
}
