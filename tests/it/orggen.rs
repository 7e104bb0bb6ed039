//! The org generator: the demo org is valid git, loads as a mapping, plans into the expected
//! places, is deterministic and has every feature the migration must handle.

use std::collections::BTreeMap;
use std::path::Path;

use tfmono::orggen::{self, GeneratedRepo, Options, Org};

use crate::common::{git, tempdir};

fn generate(dir: &Path) -> Org {
    orggen::generate(dir, &Options::demo()).expect("the demo org generates")
}

fn repo<'a>(org: &'a Org, name: &str) -> &'a GeneratedRepo {
    org.repos
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("repo {name} generated"))
}

/// `(monorepo, path)` a repo must land in, derived from its name alone.
fn expected_place(name: &str) -> (String, String) {
    if let Some(m) = name.strip_prefix("terraform-aws-") {
        ("reference-modules".into(), m.into())
    } else if let Some(s) = name.strip_prefix("terraform-acme-") {
        ("service-modules".into(), s.into())
    } else {
        let parts: Vec<&str> = name.split('-').collect();
        assert_eq!(parts.len(), 4, "deployment name {name}");
        let (svc, kind, stage, region) = (parts[0], parts[1], parts[2], parts[3]);
        ("live".into(), format!("{stage}/{region}/{svc}/{kind}"))
    }
}

fn count(dir: &Path, args: &[&str]) -> usize {
    let mut full = vec!["rev-list", "--count"];
    full.extend_from_slice(args);
    git(dir, &full).trim().parse().expect("a count")
}

#[test]
fn demo_org_is_valid_git_loads_and_plans_into_the_expected_places() {
    let tmp = tempdir();
    let org = generate(tmp.path());
    // 4 reference + 2 service modules + 2 services x 2 kinds x 2 stages x 2 regions.
    assert_eq!(org.repos.len(), 22);
    assert_eq!(org.mapping, tmp.path().join("mapping.hcl"));

    for r in &org.repos {
        let out = crate::common::hermetic(std::process::Command::new("git").args([
            "--git-dir",
            r.git_dir.to_str().expect("utf-8 path"),
            "fsck",
            "--full",
            "--strict",
        ]))
        .output()
        .expect("git fsck runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "fsck {}: {text}", r.name);
        assert!(
            !text.contains("error") && !text.contains("warning") && !text.contains("dangling"),
            "fsck {} is not clean: {text}",
            r.name
        );
        assert_eq!(count(&r.git_dir, &["--all"]), r.commits, "{}", r.name);
        let head = git(&r.git_dir, &["symbolic-ref", "HEAD"]);
        assert_eq!(head.trim(), format!("refs/heads/{}", r.default_branch));
        let tags = git(&r.git_dir, &["tag", "--list"]);
        let tags: Vec<&str> = tags.lines().collect();
        assert_eq!(tags, r.tags, "{}", r.name);
    }

    let inventory = std::fs::read_to_string(&org.repos_txt).expect("repos.txt");
    let urls: Vec<&str> = inventory.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(urls.len(), 22);
    assert!(urls.contains(&"https://github.com/acme/terraform-aws-alb.git"));
    assert!(urls.contains(&"https://github.com/acme/api-dynamic-prod-usa.git"));

    let mapping = tfmono::mapping::load(&org.mapping, None).expect("the mapping loads");
    assert_eq!(mapping.repos.len(), 22);
    assert!(mapping.warnings.is_empty(), "{:?}", mapping.warnings);
    let state: Vec<&str> = mapping.state.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(state, ["live/prod/korea/api/static"]);
    let text = std::fs::read_to_string(&org.mapping).expect("mapping.hcl");
    assert!(text.contains(
        "  move {\n    from = \"module.alb\"\n    to   = \"module.api.module.alb\"\n  }\n"
    ));

    let inventory = tfmono::inventory::scan(
        &mapping,
        &tfmono::inventory::Options::default(),
        &tfmono::progress::NoProgress,
    )
    .expect("every repo scans");
    let plan = tfmono::plan::build(&mapping, &inventory).expect("the plan builds");
    let steps: BTreeMap<&str, &tfmono::plan::ImportStep> = plan
        .monorepos
        .iter()
        .flat_map(|m| &m.imports)
        .map(|s| (s.repo.as_str(), s))
        .collect();
    assert_eq!(steps.len(), 22);
    for r in &org.repos {
        let step = steps[r.name.as_str()];
        let (monorepo, path) = expected_place(&r.name);
        assert_eq!(
            (&step.monorepo, &step.path),
            (&monorepo, &path),
            "{}",
            r.name
        );
        assert_eq!(
            step.default_branch.as_deref(),
            Some(r.default_branch.as_str()),
            "{}",
            r.name
        );
        let tags: Vec<String> = step.tags.iter().map(|t| t.to.clone()).collect();
        let want: Vec<String> = r
            .tags
            .iter()
            .map(|t| format!("refs/tags/{path}/{t}"))
            .collect();
        assert_eq!(tags, want, "{}", r.name);
        // Services import every branch; the others their default branch and tags.
        let expected_commits = if monorepo == "service-modules" {
            count(&r.git_dir, &["--all"])
        } else {
            count(&r.git_dir, &[&r.default_branch, "--tags"])
        };
        assert_eq!(step.commits, expected_commits, "{}", r.name);
        let imported: Vec<&str> = step
            .branches
            .iter()
            .map(|b| b.from.trim_start_matches("refs/heads/"))
            .collect();
        if monorepo == "service-modules" {
            assert_eq!(imported.len(), r.branches.len(), "{}", r.name);
        } else {
            assert_eq!(imported, [r.default_branch.as_str()], "{}", r.name);
        }
    }
    let alb = steps["terraform-aws-alb"];
    assert_eq!(alb.tags.iter().filter(|t| t.annotated).count(), 1);
    assert_eq!(
        steps["terraform-aws-s3"].default_branch.as_deref(),
        Some("master")
    );
    assert_eq!(
        plan.monorepos
            .iter()
            .map(|m| m.imports.len())
            .collect::<Vec<_>>(),
        [4, 2, 16]
    );
}

#[test]
fn same_options_give_the_same_commit_ids() {
    let (a, b) = (tempdir(), tempdir());
    let (org_a, org_b) = (generate(a.path()), generate(b.path()));
    assert_eq!(org_a.repos.len(), org_b.repos.len());
    let refs = |r: &GeneratedRepo| {
        git(
            &r.git_dir,
            &["for-each-ref", "--format=%(refname) %(objectname)"],
        )
    };
    for (x, y) in org_a.repos.iter().zip(&org_b.repos) {
        assert_eq!(x.name, y.name);
        let (rx, ry) = (refs(x), refs(y));
        assert!(rx.lines().count() >= 1);
        assert_eq!(rx, ry, "{} differs between two runs", x.name);
    }
    assert_eq!(
        std::fs::read(&org_a.mapping).expect("mapping"),
        std::fs::read(&org_b.mapping).expect("mapping")
    );
}

#[test]
fn reference_modules_have_merges_annotated_tags_empty_commits_and_unmerged_branches() {
    let tmp = tempdir();
    let org = generate(tmp.path());
    for module in ["alb", "vpc", "ecs", "s3"] {
        let r = repo(&org, &format!("terraform-aws-{module}"));
        let dir = &r.git_dir;
        let main = r.default_branch.as_str();
        assert_eq!(r.tags, ["v1.0.0", "v1.1.0", "v2.0.0"]);

        // A real merge commit with two parents, tagged by the annotated v1.1.0.
        let merges = git(dir, &["rev-list", "--merges", main]);
        assert_eq!(merges.lines().count(), 1, "{module}");
        let merge = merges.trim();
        let parents = git(dir, &["rev-list", "--parents", "-n1", merge]);
        assert_eq!(parents.split_whitespace().count(), 3, "{module}: {parents}");
        assert_eq!(git(dir, &["cat-file", "-t", "v1.1.0"]).trim(), "tag");
        assert_eq!(git(dir, &["rev-parse", "v1.1.0^{commit}"]).trim(), merge);
        let tag = git(dir, &["cat-file", "tag", "v1.1.0"]);
        assert!(
            tag.contains("\ntagger ") && tag.contains("Release v1.1.0"),
            "{tag}"
        );
        assert_eq!(git(dir, &["cat-file", "-t", "v1.0.0"]).trim(), "commit");

        // Exactly one empty (non-merge) commit: same tree as its parent.
        let log = git(dir, &["log", "--no-merges", "--format=%H %T %P", main]);
        let trees: BTreeMap<&str, &str> = log
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                (f[0], f[1])
            })
            .collect();
        let empty = log
            .lines()
            .filter(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                f.len() == 3 && trees.get(f[2]) == Some(&f[1])
            })
            .count();
        assert_eq!(empty, 1, "{module}");

        // The feature branch is left unmerged.
        let branch = format!("feature/{module}-ipv6");
        assert_eq!(r.branches, {
            let mut b = vec![branch.clone(), main.to_string()];
            b.sort();
            b
        });
        let unmerged = git(dir, &["branch", "--no-merged", main]);
        assert_eq!(unmerged.trim().trim_start_matches("* "), branch);
        assert_eq!(count(dir, &[&format!("{main}..{branch}")]), 2);

        let files = git(dir, &["ls-tree", "-r", "--name-only", main]);
        for f in [
            "main.tf",
            "variables.tf",
            "outputs.tf",
            "versions.tf",
            "README.md",
        ] {
            assert!(files.lines().any(|l| l == f), "{module} lacks {f}");
        }
        assert_eq!(
            files.lines().any(|l| l == "modules/sub/main.tf"),
            module == "vpc"
        );
    }
    assert_eq!(repo(&org, "terraform-aws-s3").default_branch, "master");
    assert_eq!(repo(&org, "terraform-aws-alb").default_branch, "main");
    let masters: Vec<&str> = org
        .repos
        .iter()
        .filter(|r| r.default_branch == "master")
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(masters.len(), 2, "{masters:?}");
}

#[test]
fn service_modules_use_every_source_form_and_pin_a_real_commit() {
    let tmp = tempdir();
    let org = generate(tmp.path());
    let api = repo(&org, "terraform-acme-api");
    assert_eq!(api.tags, ["v1.0.0", "v1.1.0"]);
    assert_eq!(api.branches, ["hotfix/api-task-cpu", "main"]);
    let main_tf = git(&api.git_dir, &["show", "main:main.tf"]);
    for source in [
        "source = \"git::https://github.com/acme/terraform-aws-alb.git?ref=v2.0.0\"",
        "source = \"git::ssh://git@github.com/acme/terraform-aws-vpc.git?ref=v1.1.0\" # 10.x CIDR plan",
        "source = \"git@github.com:acme/terraform-aws-ecs.git?ref=v1.0.0\"",
        "source = \"github.com/acme/terraform-aws-s3?ref=v1.0.0\"",
        "source = \"git::https://github.com/acme/terraform-aws-vpc.git//modules/sub?ref=v1.1.0\"",
        "source  = \"terraform-aws-modules/vpc/aws\" # public registry\n  version = \"~> 1.0\"",
        "source = \"git::https://github.com/acme/terraform-aws-ecs.git?ref=main\"",
        "source = \"./modules/x\"",
        "source = \"git::https://github.com/other-org/thing.git?ref=v1\"",
        "  name     = \"${var.name}-alb\"\n  internal = false # internet-facing\n",
    ] {
        assert!(main_tf.contains(source), "main.tf lacks {source}:\n{main_tf}");
    }
    // The commit id ref names a real, untagged commit of the s3 fork.
    let marker = "terraform-aws-s3.git?ref=";
    let at = main_tf.rfind(marker).expect("the pinned s3 call") + marker.len();
    let sha = &main_tf[at..at + 40];
    assert!(sha.bytes().all(|b| b.is_ascii_hexdigit()), "{sha}");
    let s3 = repo(&org, "terraform-aws-s3");
    assert_eq!(git(&s3.git_dir, &["cat-file", "-t", sha]).trim(), "commit");
    assert_eq!(
        git(&s3.git_dir, &["merge-base", "--is-ancestor", sha, "master"]),
        ""
    );
    assert!(git(&s3.git_dir, &["tag", "--points-at", sha]).is_empty());
    // Pinned only in the last milestone, after v1.1.0.
    assert!(!git(&api.git_dir, &["show", "v1.1.0:main.tf"]).contains(sha));
    assert!(git(&api.git_dir, &["show", "v1.0.0:main.tf"]).contains("?ref=v1.0.0\""));
    let sub = git(&api.git_dir, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(sub.lines().any(|l| l == "modules/x/main.tf"));
    // One .tf.json file in the whole org, with a module call.
    let json = git(&api.git_dir, &["show", "main:monitoring.tf.json"]);
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(
        value["module"]["access_logs"]["source"],
        "git::https://github.com/acme/terraform-aws-s3.git?ref=v1.1.0"
    );
    let web = repo(&org, "terraform-acme-web");
    let web_files = git(&web.git_dir, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!web_files.contains(".tf.json"));
}

#[test]
fn deployments_call_the_service_module_with_backends_and_terragrunt() {
    let tmp = tempdir();
    let org = generate(tmp.path());
    let st = repo(&org, "api-static-prod-korea");
    let main_tf = git(&st.git_dir, &["show", "HEAD:main.tf"]);
    assert!(main_tf
        .contains("source = \"git::https://github.com/acme/terraform-acme-api.git?ref=v1.1.0\""));
    let backend = git(&st.git_dir, &["show", "HEAD:backend.tf"]);
    assert!(backend.contains("backend \"s3\""));
    assert!(backend.contains("key            = \"api/static/terraform.tfstate\""));
    assert!(git(&st.git_dir, &["ls-tree", "--name-only", "HEAD"])
        .lines()
        .all(|l| l != "terragrunt.hcl"));

    let dy = repo(&org, "web-dynamic-dev-usa");
    let main_tf = git(&dy.git_dir, &["show", "HEAD:main.tf"]);
    assert!(main_tf
        .contains("source = \"git::ssh://git@github.com/acme/terraform-acme-web.git?ref=v1.1.0\""));
    let tg = git(&dy.git_dir, &["show", "HEAD:terragrunt.hcl"]);
    assert!(
        tg.contains("source = \"git::git@github.com:acme/terraform-acme-web.git//?ref=v1.0.0\"")
    );
    assert!(tg.contains("key            = \"${path_relative_to_include()}/terraform.tfstate\""));
    for r in org
        .repos
        .iter()
        .filter(|r| !r.name.starts_with("terraform-"))
    {
        assert_eq!(r.commits, 4, "{}", r.name);
        assert!(r.tags.is_empty());
    }
    assert_eq!(repo(&org, "api-static-dev-usa").default_branch, "master");
}

#[test]
fn options_are_validated_and_an_existing_org_is_not_overwritten() {
    let tmp = tempdir();
    let mut bad = Options::demo();
    bad.services = vec!["API".into(), "my-svc".into()];
    let err = orggen::generate(tmp.path(), &bad).expect_err("bad names are refused");
    let msg = err.to_string();
    assert!(
        msg.contains("\"API\"") && msg.contains("\"my-svc\""),
        "{msg}"
    );
    assert!(!tmp.path().join("legacy").exists(), "nothing written");

    let small = Options {
        services: vec!["api".into()],
        stages: vec!["dev".into()],
        regions: vec!["korea".into()],
        reference: vec!["alb".into(), "vpc".into()],
        commits_per_repo: 3,
        big_repo_commits: Some(20),
        extra_repos: 2,
    };
    let org = orggen::generate(tmp.path(), &small).expect("a small org generates");
    let names: Vec<&str> = org.repos.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "terraform-aws-alb",
            "terraform-aws-vpc",
            "terraform-aws-gen-1",
            "terraform-aws-gen-2",
            "terraform-aws-monolith",
            "terraform-acme-api",
            "api-static-dev-korea",
            "api-dynamic-dev-korea",
        ]
    );
    // Fewer commits than the milestones: the milestones win; 2 more on the WIP branch.
    assert_eq!(repo(&org, "terraform-aws-alb").commits, 8 + 2);
    let big = repo(&org, "terraform-aws-monolith");
    assert_eq!(count(&big.git_dir, &["main"]), 20);
    let mapping = tfmono::mapping::load(&org.mapping, None).expect("the mapping loads");
    assert_eq!(mapping.repos.len(), 8);

    let err = orggen::generate(tmp.path(), &small).expect_err("an existing org is kept");
    assert!(matches!(err, orggen::Error::Exists { .. }), "{err}");
}
