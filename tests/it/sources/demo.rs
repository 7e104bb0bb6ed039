//! The whole pipeline on the generated demo org: plan, apply, verify, and every rewritten
//! module source resolves to exactly the module content its legacy source resolved to.

use std::collections::BTreeMap;
use std::path::Path;

use tfmono::sources::address::Address;

use crate::common::{git, run_tfmono, tempdir, tree_hash};

#[test]
fn demo_org_migrates_and_every_rewrite_resolves_to_the_same_content() {
    let tmp = tempdir();
    let root = tmp.path();
    ok(root, &["gen-org", "org"]);
    let legacy = root.join("org/legacy");
    let before = tree_hash(&legacy);
    let plan_json = ok(root, &["plan", "org/mapping.hcl", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan_json).expect("plan is JSON");
    ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    let verified = ok(root, &["verify", "org/mapping.hcl", "--out", "out"]);
    assert!(verified.contains("verified"), "{verified}");
    assert_eq!(tree_hash(&legacy), before, "the legacy repos changed");

    // Where each legacy repo went, from the plan.
    let mut repos: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for m in plan["monorepos"].as_array().expect("monorepos") {
        for i in m["imports"].as_array().expect("imports") {
            repos.insert(i["repo"].as_str().expect("repo").to_string(), i.clone());
        }
    }
    let mut checked = 0;
    for m in plan["monorepos"].as_array().expect("monorepos") {
        let mono_name = m["name"].as_str().expect("name");
        for f in m["files"].as_array().expect("files") {
            for r in f["rewrites"].as_array().expect("rewrites") {
                let old = r["old"].as_str().expect("old");
                let new = r["new"].as_str().expect("new");
                if old.starts_with("${") {
                    // A Terragrunt unit composing a split source: only its ref changes;
                    // terraform_get::terragrunt_split_sources_and_stack_units_get_the_same_modules
                    // fetches the composed sources before and after.
                    continue;
                }
                let legacy_repo = r["repo"].as_str().expect("repo");
                let import = &repos[legacy_repo];
                let git_dir = &root.join(import["git_dir"].as_str().expect("git_dir"));
                // The new source: git::<url>//<path>[/<sub>]?ref=<ref>
                let Address::Git(new_src) = Address::parse(new) else {
                    panic!("rewritten source is not git: {new}")
                };
                let target_mono = new_src.repo.key.to_string();
                let target_mono = target_mono.rsplit('/').next().expect("name").to_string();
                let mono = root.join("out").join(format!("{target_mono}.git"));
                let new_ref = new_src
                    .query
                    .as_ref()
                    .and_then(|q| q.get("ref"))
                    .unwrap_or("main")
                    .to_string();
                let new_dir = new_src.subdir.clone().unwrap_or_default();
                // A tag with rewritten sources points at a "Rewrite module sources for <tag>"
                // commit whose parent is the unchanged image: compare the image's content.
                let subject = git(
                    &mono,
                    &["log", "-1", "--format=%s", &format!("{new_ref}^{{commit}}")],
                );
                let new_ref = if subject.starts_with("Rewrite module sources for ") {
                    format!("{new_ref}^{{commit}}^1")
                } else {
                    new_ref
                };
                let new_tree = tree(&mono, &new_ref, &new_dir)
                    .unwrap_or_else(|| panic!("{new} does not resolve in {target_mono}"));
                // The legacy source, resolved independently in the legacy repo.
                let (old_ref, old_dir) = match Address::parse(old) {
                    Address::Git(g) => (
                        g.query
                            .as_ref()
                            .and_then(|q| q.get("ref"))
                            .map(str::to_string)
                            .unwrap_or_else(|| "HEAD".into()),
                        g.subdir.clone().unwrap_or_default(),
                    ),
                    Address::Registry(_) => {
                        // The plan picked a legacy tag satisfying the constraint; the note
                        // names it. Resolve that tag in the legacy repo.
                        let note = r["notes"][0].as_str().expect("note");
                        let tag = note.rsplit(' ').next().expect("tag").to_string();
                        (tag, String::new())
                    }
                    other => panic!("unexpected legacy source {other:?}"),
                };
                let old_tree = tree(git_dir, &old_ref, &old_dir)
                    .unwrap_or_else(|| panic!("{old} does not resolve in {}", git_dir.display()));
                if new_ref == "main" {
                    // A branch ref: main holds the rewritten sources of the module, so
                    // compare with the import branch (the legacy content) instead.
                    let path = import["path"].as_str().expect("path");
                    let import_ref = format!(
                        "refs/heads/import/{legacy_repo}/{}",
                        import["default_branch"].as_str().expect("db")
                    );
                    let sub = new_dir.strip_prefix(path).unwrap_or("");
                    let imported = tree(&mono, &import_ref, &format!("{path}{sub}"));
                    assert_eq!(
                        imported.as_deref(),
                        Some(old_tree.as_str()),
                        "{old} -> {new}"
                    );
                } else {
                    assert_eq!(
                        new_tree, old_tree,
                        "{mono_name}:{}: {old} -> {new}",
                        f["path"]
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "only {checked} rewrites checked");

    // The rewrite commit is on main and main's rewritten files match the plan's line list.
    let svc = root.join("out/service-modules.git");
    let log = git(&svc, &["log", "-1", "--format=%s", "main"]);
    assert_eq!(log.trim(), "Rewrite module sources to monorepos");
    let main_tf = git(&svc, &["show", "main:api/main.tf"]);
    assert!(
        !main_tf.contains("github.com/acme/terraform-aws-"),
        "{main_tf}"
    );
    assert!(
        main_tf.contains("# 10.x CIDR plan"),
        "comments kept: {main_tf}"
    );
    // Tags a deployment pins carry rewritten sources too; their parent is the unchanged image.
    let tagged = git(&svc, &["show", "api/v1.1.0:api/main.tf"]);
    assert!(
        !tagged.contains("github.com/acme/terraform-aws-"),
        "{tagged}"
    );
    assert!(
        !tagged.contains("terraform-aws-modules/vpc/aws"),
        "{tagged}"
    );
    let legacy_api = root.join("org/legacy/terraform-acme-api.git");
    assert_eq!(
        tree(&svc, "api/v1.1.0^{commit}^1", "api"),
        tree(&legacy_api, "v1.1.0", ""),
        "the tag's rewrite commit sits on the unchanged image"
    );
    // Deployments with a Terragrunt key derived from the directory get the old key pinned.
    let live = root.join("out/live.git");
    let tg = git(
        &live,
        &["show", "main:dev/korea/api/dynamic/terragrunt.hcl"],
    );
    assert!(tg.contains("./terraform.tfstate"), "{tg}");
    // The text report announces a rewrite commit exactly where apply made one.
    let text = ok(root, &["plan", "org/mapping.hcl"]);
    for mono in ["reference-modules", "service-modules", "live"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("sources in {mono}:")))
            .unwrap_or_else(|| panic!("no sources line for {mono}:\n{text}"));
        let subject = git(
            &root.join(format!("out/{mono}.git")),
            &["log", "-1", "--format=%s", "main"],
        );
        let committed = subject.trim() == "Rewrite module sources to monorepos";
        assert_eq!(line.contains("one commit"), committed, "{mono}: {line}");
        assert_eq!(line.contains("no commit"), !committed, "{mono}: {line}");
    }
    // Re-running changes nothing.
    let refs = |p: &Path| git(p, &["for-each-ref"]);
    let before_refs = [refs(&svc), refs(&live)];
    ok(root, &["apply", "org/mapping.hcl", "--out", "out"]);
    assert_eq!([refs(&svc), refs(&live)], before_refs);
}

fn ok(root: &Path, args: &[&str]) -> String {
    let o = run_tfmono(root, args);
    assert!(
        o.status.success(),
        "tfmono {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The tree id of `rev:dir` in the bare repo `repo` (dir "" is the root tree).
fn tree(repo: &Path, rev: &str, dir: &str) -> Option<String> {
    let spec = format!("{rev}^{{commit}}:{}", dir.trim_matches('/'));
    let o = crate::common::hermetic(std::process::Command::new("git").current_dir(repo))
        .args(["rev-parse", "--verify", "-q", &spec])
        .output()
        .expect("git runs");
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}
