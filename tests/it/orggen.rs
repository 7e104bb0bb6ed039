//! The org generator: the demo org is valid git, loads as a mapping, plans into the expected
//! places, is deterministic and has every feature the migration must handle, including
//! what real public Terraform repos hold (the second half of this file).

use std::collections::BTreeMap;
use std::path::Path;

use tfmono::orggen::{self, GeneratedRepo, Options, Org};

use crate::common::{git, tempdir};

#[test]
fn demo_org_is_valid_git_loads_and_plans_into_the_expected_places() {
    let tmp = tempdir();
    let org = generate(tmp.path());
    // 4 reference modules, the release series and the tags-only fork + 2 service modules
    // + 2 services x 2 kinds x 2 stages x 2 regions + terragrunt-live.
    assert_eq!(org.repos.len(), 25);
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
        let branches = git(
            &r.git_dir,
            &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
        );
        let branches: Vec<&str> = branches.lines().collect();
        assert_eq!(branches, r.branches, "{}", r.name);
    }

    let inventory = std::fs::read_to_string(&org.repos_txt).expect("repos.txt");
    let urls: Vec<&str> = inventory.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(urls.len(), 25);
    assert!(urls.contains(&"https://github.com/acme/terraform-aws-alb.git"));
    assert!(urls.contains(&"https://github.com/acme/api-dynamic-prod-usa.git"));
    assert!(urls.contains(&"https://github.com/acme/terragrunt-live.git"));

    let mapping = tfmono::mapping::load(&org.mapping, None).expect("the mapping loads");
    assert_eq!(mapping.repos.len(), 25);
    assert!(mapping.warnings.is_empty(), "{:?}", mapping.warnings);

    // Leaving the tags-only fork out changes no other repo; the checks below plan the org
    // without it (tests/it/inventory.rs covers tags-only repos).
    let tmp = tempdir();
    let without = orggen::generate(
        tmp.path(),
        &Options {
            tags_only_repo: false,
            ..Options::demo()
        },
    )
    .expect("the demo org without the tags-only fork generates");
    let ids = |r: &GeneratedRepo| git(&r.git_dir, &["for-each-ref"]);
    let full: Vec<&GeneratedRepo> = org
        .repos
        .iter()
        .filter(|r| r.name != "terraform-aws-kms")
        .collect();
    assert_eq!(full.len(), without.repos.len());
    for (x, y) in full.iter().zip(&without.repos) {
        assert_eq!((&x.name, ids(x)), (&y.name, ids(y)));
    }
    let org = without;
    let mapping = tfmono::mapping::load(&org.mapping, None).expect("the mapping loads");
    let state: Vec<&str> = mapping.state.iter().map(|(k, _)| k.as_str()).collect();
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
    assert_eq!(steps.len(), 24);
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
    let iam = steps["terraform-aws-iam"];
    assert_eq!((iam.tags.len(), iam.commits), (150, 150));
    assert_eq!(iam.tags.iter().filter(|t| t.annotated).count(), 11);
    assert_eq!(
        steps["terraform-aws-s3"].default_branch.as_deref(),
        Some("master")
    );
    assert_eq!(
        plan.monorepos
            .iter()
            .map(|m| m.imports.len())
            .collect::<Vec<_>>(),
        [5, 2, 17]
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
            "examples/complete/main.tf",
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
    // One module-calling .tf.json file in the whole org (web's are invalid test inputs).
    let json = git(&api.git_dir, &["show", "main:monitoring.tf.json"]);
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(
        value["module"]["access_logs"]["source"],
        "git::https://github.com/acme/terraform-aws-s3.git?ref=v1.1.0"
    );
    let web = repo(&org, "terraform-acme-web");
    let web_files = git(&web.git_dir, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!web_files
        .lines()
        .any(|l| l.ends_with(".tf.json") && !l.starts_with("testdata/")));
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
        .filter(|r| !r.name.starts_with("terraform-") && r.name != "terragrunt-live")
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
        release_tags: Some(5),
        tags_only_repo: true,
    };
    let zero = Options {
        release_tags: Some(0),
        ..small.clone()
    };
    let err = orggen::generate(tmp.path(), &zero).expect_err("no releases is refused");
    assert!(err.to_string().contains("`release_tags` is 0"), "{err}");
    let org = orggen::generate(tmp.path(), &small).expect("a small org generates");
    let names: Vec<&str> = org.repos.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "terraform-aws-alb",
            "terraform-aws-vpc",
            "terraform-aws-iam",
            "terraform-aws-kms",
            "terraform-aws-gen-1",
            "terraform-aws-gen-2",
            "terraform-aws-monolith",
            "terraform-acme-api",
            "api-static-dev-korea",
            "api-dynamic-dev-korea",
            "terragrunt-live",
        ]
    );
    // Fewer commits than the milestones: the milestones win; 2 more on the WIP branch.
    assert_eq!(repo(&org, "terraform-aws-alb").commits, 8 + 2);
    let big = repo(&org, "terraform-aws-monolith");
    assert_eq!(count(&big.git_dir, &["main"]), 20);
    let iam = repo(&org, "terraform-aws-iam");
    assert_eq!(iam.tags, ["v0.1.0", "v2.0.0", "v4.0.0", "v6.0.0", "v8.0.0"]);
    assert_eq!(count(&iam.git_dir, &["main"]), 5);
    let mapping = tfmono::mapping::load(&org.mapping, None).expect("the mapping loads");
    assert_eq!(mapping.repos.len(), 11);

    let err = orggen::generate(tmp.path(), &small).expect_err("an existing org is kept");
    assert!(matches!(err, orggen::Error::Exists { .. }), "{err}");
}

#[test]
fn reference_modules_call_forks_by_registry_address_in_examples_and_have_root_only_files() {
    let tmp = tempdir();
    let org = generate(tmp.path());
    for module in ["alb", "vpc", "ecs", "s3", "iam"] {
        let r = repo(&org, &format!("terraform-aws-{module}"));
        let main = r.default_branch.as_str();
        let files = files_at(r, main);
        for f in [
            ".github/workflows/ci.yml",
            "CODEOWNERS",
            ".pre-commit-config.yaml",
        ] {
            assert!(files.iter().any(|l| l == f), "{module} lacks {f}");
        }
        assert!(show(r, main, ".github/workflows/ci.yml").contains(&format!("[{main}]")));
        // The module itself by its forked registry address, pinned to the current major,
        // and by local path.
        let example = show(r, main, "examples/complete/main.tf");
        let major = if module == "iam" { 10 } else { 2 };
        assert!(
            example.contains(&format!(
                "  source  = \"terraform-aws-modules/{module}/aws\"\n  version = \"~> {major}.0\"\n"
            )),
            "{module}: {example}"
        );
        assert!(example.contains("  source = \"../../\"\n"), "{example}");
        assert!(strict_hcl(&example), "{example}");
    }
    // Each tag's example names a major that tag's series satisfies.
    let alb = repo(&org, "terraform-aws-alb");
    assert!(show(alb, "v1.1.0", "examples/complete/main.tf").contains("version = \"~> 1.0\""));
    assert!(show(alb, "v2.0.0", "examples/complete/main.tf").contains("version = \"~> 2.0\""));
    // One example calls ANOTHER fork by its registry address, at a major it has.
    let with = show(alb, "main", "examples/with-vpc/main.tf");
    assert!(
        with.contains("  source  = \"terraform-aws-modules/vpc/aws\"\n  version = \"~> 1.0\"\n")
    );
    assert!(has_tag(repo(&org, "terraform-aws-vpc"), "v1.1.0"));
    assert!(!files_at(repo(&org, "terraform-aws-vpc"), "main")
        .iter()
        .any(|f| f.starts_with("examples/with-")));
}

#[test]
fn a_release_series_has_150_tags_on_a_linear_history_and_opentofu_files() {
    let tmp = tempdir();
    let org = generate(tmp.path());
    let r = repo(&org, "terraform-aws-iam");
    let dir = &r.git_dir;
    assert_eq!((r.commits, r.tags.len()), (150, 150));
    assert_eq!(r.branches, ["main"]);
    assert_eq!(git(dir, &["rev-list", "--merges", "main"]), "");
    assert_eq!(count(dir, &["main"]), 150);
    // One tag per commit, all on main.
    let tagged = git(dir, &["log", "--format=%H %D", "main"]);
    assert!(tagged.lines().all(|l| l.contains("tag: v")), "{tagged}");
    // Lightweight and annotated: the first release of each major (11) is annotated.
    let kinds = git(
        dir,
        &["for-each-ref", "--format=%(objecttype)", "refs/tags"],
    );
    assert_eq!(kinds.lines().filter(|k| *k == "tag").count(), 11);
    assert_eq!(kinds.lines().filter(|k| *k == "commit").count(), 139);
    // Majors to v10 and minors past 9: text order is not version order.
    let by_version = git(dir, &["tag", "--sort=v:refname"]);
    let by_version: Vec<&str> = by_version.lines().collect();
    assert_eq!(by_version.first(), Some(&"v0.1.0"));
    assert!(by_version.last().is_some_and(|t| t.starts_with("v10.")));
    assert_ne!(
        by_version.last().copied(),
        r.tags.last().map(String::as_str)
    );
    assert_ne!(by_version, r.tags);
    for t in ["v1.0.0", "v1.9.0", "v1.10.0", "v2.0.0", "v10.0.0"] {
        assert!(has_tag(r, t), "{t}: {:?}", r.tags);
    }
    // One small change per release: a changelog entry and the module revision, plus the
    // example on a new major (and the OpenTofu files once).
    let stats = git(dir, &["log", "--format=%h", "--name-only", "main"]);
    let mut sizes: Vec<usize> = Vec::new();
    for block in stats.split("\n\n") {
        sizes.push(block.lines().count().saturating_sub(1));
    }
    assert!(
        sizes.iter().filter(|n| **n <= 3).count() >= 147,
        "{sizes:?}"
    );

    // OpenTofu: main.tofu next to main.tf, a .tofu.json, an override and a test file, each
    // calling the s3 fork at a real tag. Not in the early releases.
    let files = files_at(r, "main");
    for f in [
        "main.tf",
        "main.tofu",
        "logs.tofu.json",
        "main_override.tf",
        "tests/basic.tftest.hcl",
    ] {
        assert!(files.iter().any(|l| l == f), "iam lacks {f}");
    }
    assert!(!files_at(r, "v1.0.0").iter().any(|f| f == "main.tofu"));
    let s3 = repo(&org, "terraform-aws-s3");
    let s3_source = |tag: &str| {
        assert!(has_tag(s3, tag), "{tag}");
        format!("git::https://github.com/acme/terraform-aws-s3.git?ref={tag}")
    };
    let main_tf = show(r, "main", "main.tf");
    let main_tofu = show(r, "main", "main.tofu");
    assert!(main_tf.contains(&format!("source = \"{}\"", s3_source("v1.1.0"))));
    assert!(main_tofu.contains(&format!("source = \"{}\"", s3_source("v2.0.0"))));
    assert!(strict_hcl(&main_tf) && strict_hcl(&main_tofu));
    let json: serde_json::Value =
        serde_json::from_str(&show(r, "main", "logs.tofu.json")).expect("valid JSON");
    assert_eq!(json["module"]["audit_logs"]["source"], s3_source("v1.0.0"));
    let override_tf = show(r, "main", "main_override.tf");
    assert!(override_tf.contains(&format!(
        "module \"access_logs\" {{\n  source = \"{}\"\n}}",
        s3_source("v2.0.0")
    )));
    let tftest = show(r, "main", "tests/basic.tftest.hcl");
    assert!(tftest.contains(&format!(
        "run \"basic\" {{\n  command = plan\n\n  module {{\n    source = \"{}\"\n  }}\n",
        s3_source("v1.1.0")
    )));
    assert!(strict_hcl(&tftest), "{tftest}");
}

#[test]
fn a_tags_only_fork_has_tags_and_no_branch() {
    let tmp = tempdir();
    let org = generate(tmp.path());
    let r = repo(&org, "terraform-aws-kms");
    let dir = &r.git_dir;
    assert_eq!(r.tags, ["v1.0.0", "v1.1.0", "v1.1.1"]);
    assert!(r.branches.is_empty());
    assert_eq!(r.commits, 3);
    assert_eq!(git(dir, &["for-each-ref", "refs/heads"]), "");
    assert_eq!(
        git(dir, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/main"
    );
    let missing =
        crate::common::hermetic(std::process::Command::new("git").current_dir(dir).args([
            "rev-parse",
            "--verify",
            "-q",
            "HEAD",
        ]))
        .status()
        .expect("git runs");
    assert!(!missing.success(), "HEAD must name a missing branch");
    assert_eq!(git(dir, &["cat-file", "-t", "v1.1.0"]).trim(), "tag");
    assert_eq!(git(dir, &["cat-file", "-t", "v1.1.1"]).trim(), "commit");
    assert_eq!(count(dir, &["v1.1.1"]), 3);

    // Off, it is simply not there.
    let tmp = tempdir();
    let opts = Options {
        tags_only_repo: false,
        ..Options::demo()
    };
    let org = orggen::generate(tmp.path(), &opts).expect("generates");
    assert!(org.repos.iter().all(|r| r.name != "terraform-aws-kms"));
    assert!(Options::demo().tags_only_repo);
}

#[test]
fn module_repos_hold_files_strict_parsers_refuse_but_terraform_accepts_or_never_reads() {
    let tmp = tempdir();
    let org = generate(tmp.path());
    // testdata/: invalid on purpose, in every tag of the last service module.
    let web = repo(&org, "terraform-acme-web");
    for rev in ["main", "v1.0.0", "v1.1.0"] {
        let files = files_at(web, rev);
        for f in [
            "testdata/empty.tf.json",
            "testdata/unclosed_block.tf",
            "testdata/not_json.tf.json",
            "testdata/legacy_source.tf",
        ] {
            assert!(files.iter().any(|l| l == f), "web {rev} lacks {f}");
        }
    }
    let size = git(
        &web.git_dir,
        &["cat-file", "-s", "main:testdata/empty.tf.json"],
    );
    assert_eq!(size.trim(), "0");
    let not_json = show(web, "main", "testdata/not_json.tf.json");
    assert!(serde_json::from_str::<serde_json::Value>(&not_json).is_err());
    assert!(!strict_hcl(&show(
        web,
        "main",
        "testdata/unclosed_block.tf"
    )));
    let legacy = show(web, "main", "testdata/legacy_source.tf");
    assert!(!strict_hcl(&legacy));
    assert!(legacy
        .contains("source = \"git::https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0\""));
    assert!(!files_at(repo(&org, "terraform-acme-api"), "main")
        .iter()
        .any(|f| f.starts_with("testdata/")));

    // A heredoc of shell: `source` lines and a legacy URL in a comment-like line; valid HCL.
    let bastion = show(web, "v1.0.0", "bastion.tf");
    assert!(bastion.contains("  user_data = <<-EOT\n"), "{bastion}");
    assert!(bastion.contains("\n    source /etc/profile\n"));
    assert!(bastion.contains("\n    # see https://github.com/acme/terraform-aws-alb "));
    assert!(bastion.contains("\n  EOT\n"));
    assert!(strict_hcl(&bastion), "{bastion}");

    // A repeated object key next to a module call that must be rewritten: Terraform keeps
    // the last value, a strict parser refuses the whole file.
    let dep = repo(&org, "api-static-dev-korea");
    let main_tf = show(dep, "main", "main.tf");
    assert!(main_tf
        .contains("  source = \"git::https://github.com/acme/terraform-acme-api.git?ref=v1.1.0\""));
    let tags = &main_tf[main_tf.find("  tags = {").expect("tags")..];
    let tags = &tags[..tags.find("\n  }\n").expect("end of tags")];
    assert_eq!(tags.matches("    Name").count(), 2, "{tags}");
    assert!(main_tf.contains("{ Name = \"api\", Owner = \"platform\", Name = "));
    assert!(!strict_hcl(&main_tf), "{main_tf}");
    let other = show(repo(&org, "api-static-prod-korea"), "main", "main.tf");
    assert!(strict_hcl(&other), "{other}");
}

#[test]
fn terragrunt_live_has_the_envcommon_split_stacks_and_a_template() {
    let tmp = tempdir();
    let org = generate(tmp.path());
    let live = repo(&org, "terragrunt-live");
    assert_eq!(
        (live.commits, live.tags.as_slice()),
        (7, &["v1.0.0".to_string()][..])
    );
    let files = files_at(live, "main");
    assert!(files.iter().any(|f| f == "root.hcl"));
    assert!(show(live, "main", "root.hcl").contains("contents  = <<EOF\n"));
    for svc in ["api", "web"] {
        let svc_repo = repo(&org, &format!("terraform-acme-{svc}"));
        let common = show(live, "main", &format!("_envcommon/{svc}.hcl"));
        assert!(common.contains(&format!(
            "  base_source_url = \"git::git@github.com:acme/terraform-acme-{svc}.git//\"\n"
        )));
        for stage in ["dev", "prod"] {
            let unit = show(live, "main", &format!("{stage}/{svc}/terragrunt.hcl"));
            assert!(unit.contains(&format!(
                "include \"envcommon\" {{\n  path   = \"${{dirname(find_in_parent_folders(\"root.hcl\"))}}/_envcommon/{svc}.hcl\"\n  expose = true\n}}"
            )));
            let marker = "source = \"${include.envcommon.locals.base_source_url}?ref=";
            let at = unit.find(marker).expect("the unit's source") + marker.len();
            let tag = &unit[at..at + unit[at..].find('"').expect("closing quote")];
            assert!(has_tag(svc_repo, tag), "{stage}/{svc} pins {tag}");
            assert!(strict_hcl(&unit), "{unit}");
        }
    }
    assert!(show(live, "main", "dev/api/terragrunt.hcl").contains("?ref=v1.1.0\""));

    // Stacks: units calling the service modules, a stack calling this repo by a real tag.
    let services = show(live, "main", "stacks/services/terragrunt.stack.hcl");
    assert!(services.contains(
        "unit \"api\" {\n  source = \"git::git@github.com:acme/terraform-acme-api.git//?ref=v1.0.0\"\n  path   = \"api\"\n"
    ));
    let sandbox = show(live, "main", "sandbox/terragrunt.stack.hcl");
    assert!(sandbox.contains(
        "stack \"services\" {\n  source = \"git::https://github.com/acme/terragrunt-live.git//stacks/services?ref=v1.0.0\"\n"
    ));
    assert!(files_at(live, "v1.0.0")
        .iter()
        .any(|f| f == "stacks/services/terragrunt.stack.hcl"));
    assert!(strict_hcl(&services) && strict_hcl(&sandbox));

    // The boilerplate template: Go template actions, not HCL; an indented heredoc.
    let template = show(live, "main", "_templates/terragrunt.hcl");
    for part in [
        "source = \"{{ .sourceUrl }}\"",
        "{{ if .extraProvider }}",
        "{{ end }}",
        "  contents  = <<-EOF\n    provider \"aws\" {\n",
        "\n  EOF\n",
    ] {
        assert!(template.contains(part), "{part}: {template}");
    }
    assert!(!strict_hcl(&template));
}

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
    if name == "terragrunt-live" {
        ("live".into(), "terragrunt".into())
    } else if let Some(m) = name.strip_prefix("terraform-aws-") {
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

/// Whether `text` parses as HCL with a strict parser (hcl-edit, which tfmono uses).
fn strict_hcl(text: &str) -> bool {
    hcl_edit::parser::parse_body(text).is_ok()
}

/// `git show <rev>:<path>` of a generated repo.
fn show(r: &GeneratedRepo, rev: &str, path: &str) -> String {
    git(&r.git_dir, &["show", &format!("{rev}:{path}")])
}

/// The file names of `rev`'s tree.
fn files_at(r: &GeneratedRepo, rev: &str) -> Vec<String> {
    git(&r.git_dir, &["ls-tree", "-r", "--name-only", rev])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Whether `tag` is a tag of `r`.
fn has_tag(r: &GeneratedRepo, tag: &str) -> bool {
    r.tags.iter().any(|t| t == tag)
}
