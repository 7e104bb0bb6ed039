//! Module source rewriting: byte-exact rewrites of every source form in `.tf`, `.tf.json`
//! and Terragrunt files, and the proof with real Terraform 1.0.3 and real git repos that a
//! rewritten call downloads exactly the module content the legacy call downloaded.

mod demo;
mod download;
mod terraform_get;

use std::path::Path;

use tfmono::sources::{
    rewrite_file, CommitMap, Context, FileOutcome, Reason, SameMonorepo, Target, Targets,
};

use crate::common::git::write;
use crate::common::org::{caller_org, mini_org, MiniOpts};
use crate::common::{self, fails, git, ok, tempdir, tree_hash};

/// A `.tf` starting with a UTF-8 byte-order mark (Terraform skips it) is read, its module
/// call rewritten, and the mark kept.
#[test]
fn a_terraform_file_with_a_byte_order_mark_is_rewritten_and_keeps_it() {
    let tmp = tempdir();
    let root = tmp.path();
    caller_org(
        root,
        std::ffi::OsStr::new("main.tf"),
        "\u{feff}module \"x\" {\n  source  = \"ns/x/aws\"\n  version = \"1.0.0\"\n}\n",
    );
    ok(root, &["apply", "mapping.hcl", "--out", "out"]);
    let main = git(&root.join("out/m.git"), &["show", "main:app/main.tf"]);
    assert_eq!(
        main,
        "\u{feff}module \"x\" {\n  source  = \"git::https://example.com/acme/m.git//x?ref=x/v1.0.0\"\n}\n"
    );
}

#[test]
fn unsatisfiable_registry_constraint_names_the_file_and_line() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(
        root,
        &MiniOpts {
            api_tf: "# the load balancer\nmodule \"alb\" {\n  source  = \"terraform-aws-modules/alb/aws\"\n  version = \"~> 99.0\"\n}\n",
            ..MiniOpts::default()
        },
    );
    plan_and_apply_fail(
        root,
        &[
            "dev/korea/api/static/main.tf:3",
            "legacy repo api-static-dev-korea file main.tf",
            "no tag of terraform-aws-alb satisfies version \"~> 99.0\"",
            "terraform-aws-modules/alb/aws",
            "tag the legacy repo or change the constraint",
        ],
    );
}

#[test]
fn a_legacy_terraform_file_that_does_not_parse_is_listed_and_refused_with_strict() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(
        root,
        &MiniOpts {
            api_tf: "module \"alb\" {\n  source = \"git::https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0\"\n\n",
            ..MiniOpts::default()
        },
    );
    let legacy_before = tree_hash(&root.join("legacy"));
    // It never blocks the migration: it is listed as not parsed, and since it mentions a
    // migrated repo, as needing attention with its file and line.
    let plan = ok(root, &["plan", "mapping.hcl"]);
    for needle in [
        "files not parsed in live:",
        "api-static-dev-korea: 1 file(s), 1 mention a migrated repo (needs attention)",
        "dev/korea/api/static/main.tf (line 3, column 2",
        "line 2: source = \"git::https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0\"",
        "1 item(s) need attention",
        "live/dev/korea/api/static/main.tf:2: mentions terraform-aws-alb",
    ] {
        assert!(
            crate::common::flat(&plan.stdout).contains(needle),
            "plan lacks {needle:?}:\n{}",
            plan.stdout
        );
    }
    let json = ok(root, &["plan", "mapping.hcl", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    let live = v["monorepos"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "live"))
        .expect("live");
    assert_eq!(live["unparsed"][0]["path"], "dev/korea/api/static/main.tf");
    assert_eq!(live["unparsed"][0]["mentions"][0]["line"], 2);
    assert_eq!(live["unparsed"][0]["at"][0], "default branch");
    // --strict turns it into an error naming the file and line; apply writes nothing.
    fails(
        root,
        &["plan", "mapping.hcl", "--strict"],
        &[
            "--strict: 1 item(s) need attention",
            "live/dev/korea/api/static/main.tf:2",
        ],
    );
    fails(
        root,
        &["apply", "mapping.hcl", "--out", "out", "--strict"],
        &["live/dev/korea/api/static/main.tf:2"],
    );
    assert!(!root.join("out").exists());
    // Without --strict, apply imports it unchanged.
    ok(root, &["apply", "mapping.hcl", "--out", "out"]);
    let shown = git(
        &root.join("out/live.git"),
        &["show", "main:dev/korea/api/static/main.tf"],
    );
    assert!(
        shown.contains("terraform-aws-alb.git?ref=v1.0.0"),
        "{shown}"
    );
    assert_eq!(tree_hash(&root.join("legacy")), legacy_before);
}

#[test]
fn every_git_form_is_rewritten_byte_exactly() {
    let cases: &[(&str, String)] = &[
        (
            "git::https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0",
            format!("{ALB_NEW}?ref=alb/v1.0.0"),
        ),
        (
            "git::https://github.com/acme/terraform-aws-alb.git//modules/listener?ref=v1.1.0&depth=1",
            format!("{ALB_NEW}/modules/listener?ref=alb/v1.1.0&depth=1"),
        ),
        (
            "git::ssh://git@github.com/acme/terraform-aws-alb.git?ref=v2.0.0",
            format!("{ALB_NEW}?ref=alb/v2.0.0"),
        ),
        (
            "git@github.com:acme/terraform-aws-alb.git?ref=v1.0.0",
            format!("{ALB_NEW}?ref=alb/v1.0.0"),
        ),
        (
            "git::git@github.com:acme/terraform-aws-alb.git//sub?ref=v1.0.0",
            format!("{ALB_NEW}/sub?ref=alb/v1.0.0"),
        ),
        (
            "github.com/acme/terraform-aws-alb?ref=v2.0.0",
            format!("{ALB_NEW}?ref=alb/v2.0.0"),
        ),
        (
            "github.com/acme/terraform-aws-alb//modules/x?ref=v2.0.0",
            format!("{ALB_NEW}/modules/x?ref=alb/v2.0.0"),
        ),
        (
            "github.com/acme/terraform-aws-alb/modules/x?ref=v2.0.0",
            format!("{ALB_NEW}/modules/x?ref=alb/v2.0.0"),
        ),
        (
            "https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0",
            format!("{ALB_NEW}?ref=alb/v1.0.0"),
        ),
        (
            "git::https://GitHub.com/Acme/terraform-aws-alb.git?ref=v1.0.0",
            format!("{ALB_NEW}?ref=alb/v1.0.0"),
        ),
        (
            "git::https://github.com/acme/terraform-aws-alb.git?ref=1a2b3c4",
            format!("{ALB_NEW}?ref={ALB_IMAGE}"),
        ),
        (
            "git::https://github.com/acme/terraform-aws-alb.git?ref=1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D",
            format!("{ALB_NEW}?ref={ALB_IMAGE}"),
        ),
        (
            "git::https://github.com/acme/terraform-aws-alb.git?ref=master",
            format!("{ALB_NEW}?ref=main"),
        ),
        (
            "git::https://github.com/acme/terraform-aws-alb.git?ref=feature-x",
            format!("{ALB_NEW}?ref=import/terraform-aws-alb/feature-x"),
        ),
        (
            "git::https://github.com/acme/terraform-aws-alb.git?ref=refs/tags/v1.1.0",
            format!("{ALB_NEW}?ref=refs/tags/alb/v1.1.0"),
        ),
        (
            "git::https://github.com/acme/terraform-aws-alb.git",
            ALB_NEW.to_string(),
        ),
        (
            "git::https://github.com/acme/terraform-aws-alb.git//modules/y",
            format!("{ALB_NEW}/modules/y"),
        ),
        (
            "git::https://github.com/acme/terraform-aws-alb.git?depth=1&ref=v1.0.0&sshkey=S3CR3T",
            format!("{ALB_NEW}?depth=1&ref=alb/v1.0.0&sshkey=S3CR3T"),
        ),
        (
            "git::ssh://git@github.com/acme/svc-api.git?ref=v0.3.0",
            "git::https://github.com/acme/service-modules.git//api?ref=api/v0.3.0".into(),
        ),
        (
            "git@github.com:acme/svc-shared.git//modules/db?ref=v1.0.0",
            "git::https://github.com/acme/service-modules.git//shared/core/modules/db?ref=shared/v1.0.0"
                .into(),
        ),
        (
            "bitbucket.org/acme/legacy-bb?ref=1.0",
            "git::https://github.com/acme/service-modules.git//bb?ref=bb/1.0".into(),
        ),
    ];
    for (old, new) in cases {
        let out = live(&module(old));
        assert!(out.errors.is_empty(), "{old}: {:?}", out.errors);
        assert_eq!(
            out.new_content.as_deref(),
            Some(module(new).as_str()),
            "{old}"
        );
        assert_eq!(out.rewrites.len(), 1, "{old}");
        let r = &out.rewrites[0];
        assert_eq!(
            (r.line, r.old.as_str(), r.new.as_str()),
            (2, *old, new.as_str())
        );
    }
}

#[test]
fn notes_explain_branch_refs_missing_refs_and_missing_git_prefix() {
    let notes = |src: &str| live(&module(src)).rewrites[0].notes.join(" | ");
    assert!(
        notes("git::https://github.com/acme/terraform-aws-alb.git?ref=master")
            .contains("moves with the whole monorepo")
    );
    assert!(notes("git::https://github.com/acme/terraform-aws-alb.git").contains("no ref"));
    assert!(notes("https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0").contains("git::"));
    assert!(notes("git::https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0").is_empty());
}

/// Issue 12, defect 1: a ref naming both a branch and a tag means what Terraform 1.0.3's
/// go-getter (1.5.2) fetches: `git clone` (`--depth N` too) then `git checkout X`, which takes
/// the default branch (the only local one), else the tag. `depth` changes nothing in 1.0.3
/// but is noted: later go-getter releases clone `--branch X`, i.e. the branch.
#[test]
fn a_ref_naming_a_branch_and_a_tag_follows_what_terraform_fetches() {
    let mut alb = alb();
    alb.tags.extend(["master".into(), "feature-x".into()]);
    alb.branches
        .push(("v1.0.0".into(), "import/terraform-aws-alb/v1.0.0".into()));
    alb.other_branches.push("latest".into());
    let t = Targets::new(vec![alb]);
    let c = commits();
    let ctx = Context {
        targets: &t,
        commits: &c,
        monorepo: "live",
        same_monorepo: SameMonorepo::Pinned,
        split: None,
    };
    let url = "git::https://github.com/acme/terraform-aws-alb.git";
    /// The ambiguity note expected: what Terraform fetches, and whether it warns that a
    /// later go-getter would fetch the branch.
    type Note = Option<(&'static str, bool)>;
    const BRANCH: Note = Some(("fetches the branch", false));
    const TAG: Note = Some(("fetches the tag", false));
    const TAG_SHALLOW: Note = Some(("fetches the tag", true));
    let cases: &[(&str, &str, Note)] = &[
        ("?ref=master", "?ref=main", BRANCH),
        ("?ref=master&depth=1", "?ref=main&depth=1", BRANCH),
        ("?ref=feature-x", "?ref=alb/feature-x", TAG),
        (
            "?depth=1&ref=feature-x",
            "?depth=1&ref=alb/feature-x",
            TAG_SHALLOW,
        ),
        ("?ref=v1.0.0", "?ref=alb/v1.0.0", TAG),
        (
            "?ref=v1.0.0&depth=1",
            "?ref=alb/v1.0.0&depth=1",
            TAG_SHALLOW,
        ),
        ("?ref=v1.0.0&depth=0", "?ref=alb/v1.0.0&depth=0", TAG),
        ("?ref=latest", "?ref=alb/latest", TAG),
        (
            "?ref=latest&depth=1",
            "?ref=alb/latest&depth=1",
            TAG_SHALLOW,
        ),
        ("?ref=v1.1.0&depth=1", "?ref=alb/v1.1.0&depth=1", None),
        ("?ref=refs/tags/master", "?ref=refs/tags/alb/master", None),
    ];
    for (query, new_query, note) in cases {
        let out = rewrite_file("main.tf", &module(&format!("{url}{query}")), &ctx);
        assert!(out.errors.is_empty(), "{query}: {:?}", out.errors);
        assert_eq!(out.rewrites.len(), 1, "{query}");
        let r = &out.rewrites[0];
        assert_eq!(r.new, format!("{ALB_NEW}{new_query}"), "{query}");
        let ambiguous: Vec<&String> = r
            .notes
            .iter()
            .filter(|n| n.contains("names both a branch and a tag of terraform-aws-alb"))
            .collect();
        match note {
            Some((what, shallow)) => {
                assert!(
                    ambiguous.len() == 1 && ambiguous[0].contains(what),
                    "{query}: {:?}",
                    r.notes
                );
                assert_eq!(
                    ambiguous[0].contains("would fetch the branch"),
                    *shallow,
                    "{query}: {:?}",
                    r.notes
                );
            }
            None => assert!(ambiguous.is_empty(), "{query}: {:?}", r.notes),
        }
    }
}

/// Issue 12, defect 9: go-getter URL-decodes query values, so `?ref=release%2F1.0` is the
/// tag `release/1.0`; the new ref is encoded where a query value needs it.
#[test]
fn percent_encoded_refs_are_decoded_and_the_new_ref_round_trips() {
    let mut alb = alb();
    alb.tags
        .extend(["release/1.0".into(), "v3.0.0+build.7".into()]);
    let t = Targets::new(vec![alb]);
    let c = commits();
    let ctx = Context {
        targets: &t,
        commits: &c,
        monorepo: "live",
        same_monorepo: SameMonorepo::Pinned,
        split: None,
    };
    let url = "git::https://github.com/acme/terraform-aws-alb.git";
    for (query, new_query) in [
        ("?ref=release%2F1.0", "?ref=alb/release/1.0"),
        ("?ref=release%2f1.0&depth=1", "?ref=alb/release/1.0&depth=1"),
        ("?ref=release/1.0", "?ref=alb/release/1.0"),
        ("?ref=v3.0.0%2Bbuild.7", "?ref=alb/v3.0.0%2Bbuild.7"),
        ("?ref=v1%2E0%2E0", "?ref=alb/v1.0.0"),
        ("?ref=mas%74er", "?ref=main"),
    ] {
        let out = rewrite_file("main.tf", &module(&format!("{url}{query}")), &ctx);
        assert!(out.errors.is_empty(), "{query}: {:?}", out.errors);
        assert_eq!(out.rewrites.len(), 1, "{query}");
        assert_eq!(
            out.rewrites[0].new,
            format!("{ALB_NEW}{new_query}"),
            "{query}"
        );
    }
    // `+` is a space to go-getter: Terraform itself would not find this tag.
    for query in ["?ref=v3.0.0+build.7", "?ref=release%2"] {
        let out = rewrite_file("main.tf", &module(&format!("{url}{query}")), &ctx);
        assert_eq!(out.errors.len(), 1, "{query}: {:?}", out.rewrites);
        assert!(out.new_content.is_none(), "{query}");
    }
    // A Terragrunt split source's unit ref too.
    let files = [
        (
            "_envcommon/alb.hcl",
            "locals {\n  base_source_url = \"git::https://github.com/acme/terraform-aws-alb.git//modules/lb\"\n}\n",
        ),
        (
            "dev/alb/terragrunt.hcl",
            "include \"envcommon\" {\n  path = \"${dirname(find_in_parent_folders())}/_envcommon/alb.hcl\"\n}\nterraform {\n  source = \"${include.envcommon.locals.base_source_url}?ref=release%2F1.0\"\n}\n",
        ),
    ];
    let outs = split_tree_with(&t, &files);
    let unit = &outs
        .iter()
        .find(|(f, _)| f == "dev/alb/terragrunt.hcl")
        .expect("unit")
        .1;
    assert!(
        unit.errors.is_empty() && unit.left_alone.is_empty(),
        "{unit:?}"
    );
    let new = unit.new_content.as_deref().expect("rewritten");
    assert!(
        new.contains("${include.envcommon.locals.base_source_url}?ref=alb/release/1.0\""),
        "{new}"
    );
}

#[test]
fn registry_addresses_of_forks_become_git_tags_and_lose_their_version() {
    let src = "module \"lb\" {\n  source  = \"terraform-aws-modules/alb/aws\"\n  version = \"~> 1.0\" # pinned\n\n  name = \"x\"\n}\n";
    let out = live(src);
    assert_eq!(
        out.new_content.as_deref(),
        Some(
            "module \"lb\" {\n  source  = \"git::https://github.com/acme/reference-modules.git//alb?ref=alb/v1.1.0\"\n\n  name = \"x\"\n}\n"
        )
    );
    assert!(
        out.rewrites[0].notes[0].contains("legacy tag v1.1.0"),
        "{:?}",
        out.rewrites
    );

    let cases: &[(&str, &str, &str)] = &[
        (
            "registry.terraform.io/terraform-aws-modules/alb/aws",
            ">= 2.0, < 3",
            "alb?ref=alb/v2.0.0",
        ),
        (
            "terraform-aws-modules/alb/aws//modules/listener",
            "1.0.0",
            "alb/modules/listener?ref=alb/v1.0.0",
        ),
        (
            "Terraform-AWS-Modules/alb/aws",
            "~> 2",
            "alb?ref=alb/v2.0.0",
        ),
        (
            "terraform-aws-modules/alb/aws",
            "2.1.0-rc1",
            "alb?ref=alb/v2.1.0-rc1",
        ),
        (
            "terraform-aws-modules/alb/aws",
            ">= 1.0.0, != 2.0.0",
            "alb?ref=alb/v1.1.0",
        ),
    ];
    for (source, version, want) in cases {
        let text =
            format!("module \"lb\" {{\n  source  = \"{source}\"\n  version = \"{version}\"\n}}\n");
        let out = live(&text);
        assert_eq!(
            out.new_content.as_deref(),
            Some(
                format!(
                    "module \"lb\" {{\n  source  = \"git::https://github.com/acme/reference-modules.git//{want}\"\n}}\n"
                )
                .as_str()
            ),
            "{source} {version}"
        );
    }

    // No version: the highest release tag, with a note.
    let out = live("module \"lb\" {\n  source = \"terraform-aws-modules/alb/aws\"\n}\n");
    assert_eq!(out.rewrites[0].new, format!("{ALB_NEW}?ref=alb/v2.0.0"));
    assert!(out.rewrites[0]
        .notes
        .iter()
        .any(|n| n.contains("no version")));

    // Another registry host for the same name is a different module.
    let out = live("module \"lb\" {\n  source = \"app.terraform.io/terraform-aws-modules/alb/aws\"\n  version = \"1.0.0\"\n}\n");
    assert_eq!(out.new_content, None);
    assert_eq!(out.left_alone[0].reason, Reason::External);

    // A private registry fork.
    let out = live(
        "module \"bb\" {\n  source = \"app.terraform.io/acme/bb/aws\"\n  version = \"~> 1.0\"\n}\n",
    );
    assert_eq!(
        out.new_content.as_deref(),
        Some("module \"bb\" {\n  source = \"git::https://github.com/acme/service-modules.git//bb?ref=bb/1.0\"\n}\n")
    );
}

#[test]
fn unresolvable_sources_are_errors_and_the_file_keeps_them() {
    for (src, version, needle) in [
        (
            "git::https://github.com/acme/terraform-aws-alb.git?ref=abcdef12",
            None,
            "no image",
        ),
        (
            "git::https://github.com/acme/terraform-aws-alb.git?ref=nope",
            None,
            "neither a tag",
        ),
        (
            "git::https://github.com/acme/terraform-aws-alb.git?ref=refs/heads/dev",
            None,
            "neither a tag",
        ),
        (
            "terraform-aws-modules/alb/aws",
            Some("~> 9.0"),
            "no tag of terraform-aws-alb satisfies",
        ),
        (
            "terraform-aws-modules/alb/aws",
            Some(">= banana"),
            "invalid version constraint",
        ),
    ] {
        let text = match version {
            Some(v) => format!("module \"m\" {{\n  source  = \"{src}\"\n  version = \"{v}\"\n}}\n"),
            None => module(src),
        };
        let out = live(&text);
        assert_eq!(out.new_content, None, "{src}");
        assert_eq!(out.errors.len(), 1, "{src}: {out:?}");
        assert_eq!(out.errors[0].line, 2);
        assert!(
            out.errors[0].message.contains(needle),
            "{src}: {}",
            out.errors[0].message
        );
    }
    // A secret in an unresolvable ref's source never reaches the message.
    let out = live(&module(
        "git::https://bob:hunter2@github.com/acme/terraform-aws-alb.git?ref=nope&sshkey=KEYDATA",
    ));
    let shown = format!("{:?} {}", out, out.errors[0]);
    assert!(
        !shown.contains("hunter2") && !shown.contains("KEYDATA"),
        "{shown}"
    );
    // Nor does a rewritten one reach Debug/Display of the outcome, its rewrites or targets.
    let out = live(&module(
        "git::https://bob:hunter2@github.com/acme/terraform-aws-alb.git?ref=v1.0.0&sshkey=KEYDATA",
    ));
    assert!(out
        .new_content
        .as_deref()
        .is_some_and(|c| c.contains("sshkey=KEYDATA")));
    let mut secret_alb = alb();
    secret_alb.legacy_url = "https://bob:hunter2@github.com/acme/terraform-aws-alb.git".into();
    let shown = format!(
        "{out:?} {} {secret_alb:?} {:?}",
        out.rewrites[0],
        Targets::new(vec![secret_alb.clone()])
    );
    assert!(
        !shown.contains("hunter2") && !shown.contains("KEYDATA"),
        "{shown}"
    );

    // A file that does not parse: its first error's line, nothing changed, and the lines
    // that mention a migrated repo listed (they need attention).
    let out = live("module \"m\" {\n  source = \"git::https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0\"\n  = broken\n}\n");
    assert_eq!(out.new_content, None);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let unparsed = out.unparsed.expect("not parsed");
    assert_eq!(unparsed.line, 3, "{unparsed:?}");
    assert_eq!(
        unparsed
            .mentions
            .iter()
            .map(|m| (m.line, m.repo.as_str()))
            .collect::<Vec<_>>(),
        [(2, "terraform-aws-alb")]
    );
    // Without a mention, nothing needs attention.
    let out = live("module \"m\" {\n  source = \"./x\"\n  = broken\n}\n");
    assert_eq!(out.unparsed.map(|u| u.mentions.len()), Some(0));
}

#[test]
fn everything_else_is_left_alone_and_reported() {
    let src = r#"module "a" {
  source = "./modules/a"
}
module "b" {
  source = "../shared"
}
module "c" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "3.0.0"
}
module "d" {
  source = "git::https://github.com/other/x.git?ref=v1"
}
module "e" {
  source = "https://example.com/module.zip"
}
module "f" {
  source = "git::https://github.com/acme/reference-modules.git//alb?ref=alb/v1.0.0"
}
module "g" {
  source = "${local.base}?ref=v1.0.0"
}
module "h" {
  source = local.src
}
module "i" {
  source = "s3::https://s3-eu-west-1.amazonaws.com/bucket/github.com/acme/terraform-aws-alb.zip"
}
"#;
    let out = live(src);
    assert_eq!(out.new_content, None);
    assert!(out.errors.is_empty());
    let got: Vec<(usize, Reason)> = out.left_alone.iter().map(|l| (l.line, l.reason)).collect();
    assert_eq!(
        got,
        vec![
            (2, Reason::Local),
            (5, Reason::Local),
            (8, Reason::External),
            (12, Reason::External),
            (15, Reason::Other),
            (18, Reason::Monorepo),
            (21, Reason::Expression),
            (24, Reason::Expression),
            (27, Reason::LegacyReference),
        ]
    );
    assert_eq!(out.left_alone[6].source, "\"${local.base}?ref=v1.0.0\"");
    assert!(out.needs_attention());
}

#[test]
fn comments_alignment_and_other_strings_survive_byte_for_byte() {
    let src = r#"# Deployment of the api service.
locals {
  base      = "git::https://github.com/acme/terraform-aws-alb.git" # used below
  clone_url = "https://github.com/acme/terraform-aws-alb.git"
  note      = "forked from github.com/acme/terraform-aws-alb, see README"
  tags      = { Team = "api", Repo = "svc" }
}

module "alb" {
  source     = "git::https://github.com/acme/terraform-aws-alb.git//modules/lb?ref=v1.0.0" // pinned
  depends_on = []

  name    = "api"   # aligned
  subnets = ["a", "b"]
}

module "alb2" {
  # registry fork
  source  = "terraform-aws-modules/alb/aws"
  version = ">= 1.1"
  name    = "api2"
}

module "templated" {
  source = "${local.base}//modules/lb?ref=v2.0.0"
}

/* block comment with git::https://github.com/acme/terraform-aws-alb.git */
output "x" {
  value = "git::ssh://git@github.com/acme/svc-api.git?ref=v0.3.0"
}
"#;
    let want = r#"# Deployment of the api service.
locals {
  base      = "git::https://github.com/acme/reference-modules.git//alb" # used below
  clone_url = "https://github.com/acme/terraform-aws-alb.git"
  note      = "forked from github.com/acme/terraform-aws-alb, see README"
  tags      = { Team = "api", Repo = "svc" }
}

module "alb" {
  source     = "git::https://github.com/acme/reference-modules.git//alb/modules/lb?ref=alb/v1.0.0" // pinned
  depends_on = []

  name    = "api"   # aligned
  subnets = ["a", "b"]
}

module "alb2" {
  # registry fork
  source  = "git::https://github.com/acme/reference-modules.git//alb?ref=alb/v2.0.0"
  name    = "api2"
}

module "templated" {
  source = "${local.base}//modules/lb?ref=v2.0.0"
}

/* block comment with git::https://github.com/acme/terraform-aws-alb.git */
output "x" {
  value = "git::https://github.com/acme/service-modules.git//api?ref=api/v0.3.0"
}
"#;
    let out = live(src);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.new_content.as_deref(), Some(want));
    let lines: Vec<usize> = out.rewrites.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![3, 10, 19, 30]);
    assert!(out.rewrites[0]
        .notes
        .iter()
        .any(|n| n.contains("not a module source")));
    let alone: Vec<(usize, Reason)> = out.left_alone.iter().map(|l| (l.line, l.reason)).collect();
    assert_eq!(
        alone,
        vec![
            (4, Reason::LegacyReference),
            (5, Reason::LegacyReference),
            (25, Reason::Expression),
        ]
    );
    // Running it again changes nothing: monorepo sources are recognised.
    let again = live(want);
    assert_eq!(again.new_content, None);
    assert!(again.errors.is_empty());
}

#[test]
fn same_monorepo_calls_are_pinned_or_relative() {
    let file = "api/modules/frontend/main.tf";
    let text = "module \"core\" {\n  source = \"git@github.com:acme/svc-shared.git//db\"\n}\nmodule \"core_main\" {\n  source = \"git@github.com:acme/svc-shared.git//db?ref=main\"\n}\nmodule \"core_v1\" {\n  source = \"git@github.com:acme/svc-shared.git?ref=v1.0.0\"\n}\n";
    let rel = run(file, text, "service-modules", SameMonorepo::Relative);
    assert_eq!(
        rel.new_content.as_deref(),
        Some("module \"core\" {\n  source = \"../../../shared/core/db\"\n}\nmodule \"core_main\" {\n  source = \"../../../shared/core/db\"\n}\nmodule \"core_v1\" {\n  source = \"git::https://github.com/acme/service-modules.git//shared/core?ref=shared/v1.0.0\"\n}\n")
    );
    assert!(rel
        .rewrites
        .iter()
        .all(|r| r.notes.iter().any(|n| n.contains("self-reference"))));
    let pinned = run(file, text, "service-modules", SameMonorepo::Pinned);
    assert_eq!(
        pinned.rewrites[0].new,
        "git::https://github.com/acme/service-modules.git//shared/core/db"
    );
    assert!(pinned.rewrites[0]
        .notes
        .iter()
        .any(|n| n.contains("self-reference")));
    // From another monorepo it is never relative.
    let other = run("x/main.tf", text, "live", SameMonorepo::Relative);
    assert_eq!(
        other.rewrites[0].new,
        "git::https://github.com/acme/service-modules.git//shared/core/db"
    );
    assert!(other.rewrites[0]
        .notes
        .iter()
        .all(|n| !n.contains("self-reference")));
}

#[test]
fn tf_json_is_rewritten_token_by_token() {
    let pretty = r#"{
  "module": {
    "alb": {
      "source": "terraform-aws-modules/alb/aws",
      "version": "~> 1.0",
      "name": "api"
    },
    "api": {
      "name": "x",
      "source": "git::ssh://git@github.com/acme/svc-api.git?ref=v0.3.0"
    },
    "last": {
      "source": "terraform-aws-modules/alb/aws",
      "version": "2.0.0"
    },
    "local": {
      "source": "./x"
    }
  },
  "locals": {
    "base": "git::https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0"
  }
}
"#;
    let want = r#"{
  "module": {
    "alb": {
      "source": "git::https://github.com/acme/reference-modules.git//alb?ref=alb/v1.1.0",
      "name": "api"
    },
    "api": {
      "name": "x",
      "source": "git::https://github.com/acme/service-modules.git//api?ref=api/v0.3.0"
    },
    "last": {
      "source": "git::https://github.com/acme/reference-modules.git//alb?ref=alb/v2.0.0"
    },
    "local": {
      "source": "./x"
    }
  },
  "locals": {
    "base": "git::https://github.com/acme/reference-modules.git//alb?ref=alb/v1.0.0"
  }
}
"#;
    let out = run("live/main.tf.json", pretty, "live", SameMonorepo::Pinned);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.new_content.as_deref(), Some(want));
    let lines: Vec<usize> = out.rewrites.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![4, 10, 13, 21]);
    assert_eq!(out.left_alone[0].reason, Reason::Local);
    let v: serde_json::Value = serde_json::from_str(want).expect("still JSON");
    assert!(v["module"]["alb"].get("version").is_none());

    // Compact, odd formatting: only the string tokens change.
    let compact = "{\"module\":{\"a\":{\"version\" : \"1.0.0\",\"source\":\"terraform-aws-modules/alb/aws\"},\"b\":[{\"source\":\"github.com/acme/terraform-aws-alb?ref=v2.0.0\"}]}}";
    let out = run("main.tf.json", compact, "live", SameMonorepo::Pinned);
    assert_eq!(
        out.new_content.as_deref(),
        Some("{\"module\":{\"a\":{\"source\":\"git::https://github.com/acme/reference-modules.git//alb?ref=alb/v1.0.0\"},\"b\":[{\"source\":\"git::https://github.com/acme/reference-modules.git//alb?ref=alb/v2.0.0\"}]}}")
    );

    // Templates in JSON strings are expressions; bad JSON is an error with its line.
    let out = run(
        "main.tf.json",
        "{\"module\": {\"a\": {\"source\": \"${var.src}\"}}}",
        "live",
        SameMonorepo::Pinned,
    );
    assert_eq!(out.left_alone[0].reason, Reason::Expression);
    let out = run(
        "main.tf.json",
        "{\n\n  \"module\": [,\n}",
        "live",
        SameMonorepo::Pinned,
    );
    assert_eq!((out.new_content.clone(), out.errors.len()), (None, 0));
    assert_eq!(out.unparsed.map(|u| u.line), Some(3));
}

#[test]
fn terragrunt_sources_locals_and_tfr_are_rewritten() {
    let src = r#"include "root" {
  path = find_in_parent_folders()
}

locals {
  # shared base for every stage
  alb = "git::git@github.com:acme/terraform-aws-alb.git//modules/lb?ref=v1.1.0"
}

terraform {
  source = "git::git@github.com:acme/terraform-aws-alb.git//modules/lb?ref=v1.0.0"
}

inputs = {
  name = "api"
}
"#;
    let want = r#"include "root" {
  path = find_in_parent_folders()
}

locals {
  # shared base for every stage
  alb = "git::https://github.com/acme/reference-modules.git//alb/modules/lb?ref=alb/v1.1.0"
}

terraform {
  source = "git::https://github.com/acme/reference-modules.git//alb/modules/lb?ref=alb/v1.0.0"
}

inputs = {
  name = "api"
}
"#;
    let out = run(
        "dev/korea/api/static/terragrunt.hcl",
        src,
        "live",
        SameMonorepo::Pinned,
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.new_content.as_deref(), Some(want));
    assert_eq!(
        out.rewrites.iter().map(|r| r.line).collect::<Vec<_>>(),
        vec![7, 11]
    );

    for (source, want) in [
        (
            "tfr:///terraform-aws-modules/alb/aws?version=1.0.0",
            "git::https://github.com/acme/reference-modules.git//alb?ref=alb/v1.0.0",
        ),
        (
            "tfr://registry.terraform.io/terraform-aws-modules/alb/aws//modules/x?version=2.0.0",
            "git::https://github.com/acme/reference-modules.git//alb/modules/x?ref=alb/v2.0.0",
        ),
        (
            "tfr:///terraform-aws-modules/vpc/aws?version=3.0.0",
            "tfr:///terraform-aws-modules/vpc/aws?version=3.0.0",
        ),
        ("${local.alb}", "${local.alb}"),
    ] {
        let text = format!("terraform {{\n  source = \"{source}\"\n}}\n");
        let out = run("terragrunt.hcl", &text, "live", SameMonorepo::Pinned);
        assert_eq!(
            out.new_content.unwrap_or(text.clone()),
            format!("terraform {{\n  source = \"{want}\"\n}}\n"),
            "{source}"
        );
    }
    // A module block in a terragrunt file is not a Terraform module call; a `.tf` file's
    // terraform block has no source.
    let tg = run(
        "terragrunt.hcl",
        "terraform {\n  source = \"github.com/acme/terraform-aws-alb?ref=v1.0.0\"\n}\n",
        "live",
        SameMonorepo::Pinned,
    );
    assert_eq!(tg.rewrites.len(), 1);
}

#[test]
fn a_large_file_is_rewritten_completely_and_quickly() {
    let mut src = String::new();
    let mut want = String::new();
    for i in 0..2000 {
        let v = ["v1.0.0", "v1.1.0", "v2.0.0"][i % 3];
        src.push_str(&format!(
            "# call {i}\nmodule \"m{i}\" {{\n  source = \"git::https://github.com/acme/terraform-aws-alb.git//modules/m{i}?ref={v}\"\n  name   = \"n{i}\"\n}}\n\n"
        ));
        want.push_str(&format!(
            "# call {i}\nmodule \"m{i}\" {{\n  source = \"{ALB_NEW}/modules/m{i}?ref=alb/{v}\"\n  name   = \"n{i}\"\n}}\n\n"
        ));
    }
    let started = std::time::Instant::now();
    let out = live(&src);
    let took = started.elapsed();
    eprintln!(
        "rewrote 2000 module calls ({} KiB) in {took:?}",
        src.len() / 1024
    );
    assert_eq!(out.rewrites.len(), 2000);
    assert_eq!(out.rewrites[1999].line, 2 + 1999 * 6 + 1);
    assert_eq!(out.new_content.as_deref(), Some(want.as_str()));
    assert!(took.as_secs() < 5, "too slow: {took:?}");
}

#[test]
fn targets_built_from_a_real_mapping_rewrite_sources() {
    let dir = common::tempdir();
    let file = dir.path().join("mapping.hcl");
    let text = r#"
monorepo "reference-modules" { url = "git::https://github.com/acme/reference-modules.git" }
monorepo "live"              { url = "https://github.com/acme/live.git" }

repo "terraform-aws-alb" {
  url        = "git@github.com:acme/terraform-aws-alb.git"
  into       = "reference-modules"
  path       = "alb"
  registry   = ["terraform-aws-modules/alb/aws"]
}
"#;
    std::fs::write(&file, text).expect("write mapping");
    let mapping = tfmono::mapping::load_str(&file, text, None).expect("valid mapping");
    let targets = Targets::new(
        mapping
            .repos
            .iter()
            .map(|spec| {
                let url = &mapping.monorepo(&spec.into).expect("monorepo").url;
                Target::from_spec(spec, url, vec!["v3.1.0".into()], Some("master"), vec![])
            })
            .collect(),
    );
    let c = CommitMap::new();
    let ctx = Context {
        targets: &targets,
        commits: &c,
        monorepo: "live",
        same_monorepo: mapping.same_monorepo,
        split: None,
    };
    let out = rewrite_file(
        "prod/usa/api/static/main.tf",
        "module \"a\" {\n  source = \"https://github.com/acme/terraform-aws-alb.git?ref=v3.1.0\"\n}\nmodule \"b\" {\n  source  = \"terraform-aws-modules/alb/aws\"\n  version = \"~> 3.0\"\n}\n",
        &ctx,
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        out.new_content.as_deref(),
        Some("module \"a\" {\n  source = \"git::https://github.com/acme/reference-modules.git//alb?ref=alb/v3.1.0\"\n}\nmodule \"b\" {\n  source  = \"git::https://github.com/acme/reference-modules.git//alb?ref=alb/v3.1.0\"\n}\n")
    );
}

/// The demo org carries what real repos have (issue 11): the plan reads every file
/// Terraform, OpenTofu and Terragrunt read, lists the files that do not parse instead of
/// refusing the migration, and rewrites both halves of Terragrunt split sources.
#[test]
fn real_world_files_are_read_listed_or_flagged_and_never_block_the_plan() {
    let tmp = common::tempdir();
    let root = tmp.path();
    let run = |args: &[&str]| {
        let o = common::run_tfmono(root, args);
        assert!(
            o.status.success(),
            "tfmono {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).expect("utf-8")
    };
    run(&["gen-org", "org"]);
    let plan: serde_json::Value =
        serde_json::from_str(&run(&["plan", "org/mapping.hcl", "--format", "json"])).expect("json");
    let mono = |name: &str| {
        plan["monorepos"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["name"] == name))
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    let (reference, service, live) = (
        mono("reference-modules"),
        mono("service-modules"),
        mono("live"),
    );

    // Test fixtures and templates: listed, never parsed; only the one naming a migrated
    // repo needs attention, with its line.
    let unparsed = |m: &serde_json::Value| -> Vec<(String, usize)> {
        m["unparsed"]
            .as_array()
            .expect("unparsed")
            .iter()
            .map(|u| {
                (
                    u["path"].as_str().expect("path").to_string(),
                    u["mentions"].as_array().expect("mentions").len(),
                )
            })
            .collect()
    };
    assert_eq!(
        unparsed(&service),
        [
            ("web/testdata/empty.tf.json".to_string(), 0),
            ("web/testdata/legacy_source.tf".to_string(), 1),
            ("web/testdata/not_json.tf.json".to_string(), 0),
            ("web/testdata/unclosed_block.tf".to_string(), 0),
        ]
    );
    assert_eq!(
        unparsed(&live),
        [("terragrunt/_templates/terragrunt.hcl".to_string(), 0)]
    );
    assert!(unparsed(&reference).is_empty());

    // A file with a repeated object key is read, and its module call rewritten.
    let file = |m: &serde_json::Value, path: &str| {
        m["files"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["path"] == path))
            .unwrap_or_else(|| panic!("{path} not in the plan"))
            .clone()
    };
    let repeated = file(&live, "dev/korea/api/static/main.tf");
    assert_eq!(
        repeated["rewrites"][0]["new"],
        "git::https://github.com/acme/service-modules.git//api?ref=api/v1.1.0"
    );

    // OpenTofu files, overrides and test files in a module's tags.
    let tag = reference["tag_rewrites"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["tag"] == "refs/tags/iam/v10.9.0"))
        .expect("iam/v10.9.0 rewritten");
    let paths: Vec<&str> = tag["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path"))
        .collect();
    for p in [
        "iam/main.tofu",
        "iam/logs.tofu.json",
        "iam/main_override.tf",
        "iam/tests/basic.tftest.hcl",
    ] {
        assert!(
            paths.contains(&p),
            "{p} not rewritten in iam/v10.9.0: {paths:?}"
        );
    }

    // Terragrunt stacks, and the split source: base URL and every unit's ref together.
    let stack = file(&live, "terragrunt/stacks/services/terragrunt.stack.hcl");
    assert_eq!(
        stack["rewrites"][0]["new"],
        "git::https://github.com/acme/service-modules.git//api?ref=api/v1.0.0"
    );
    let base = file(&live, "terragrunt/_envcommon/api.hcl");
    assert_eq!(
        base["rewrites"][0]["new"],
        "git::https://github.com/acme/service-modules.git//api"
    );
    let unit = file(&live, "terragrunt/dev/api/terragrunt.hcl");
    assert_eq!(
        unit["rewrites"][0]["new"],
        "${include.envcommon.locals.base_source_url}?ref=api/v1.1.0"
    );

    // The shell heredoc: only its line naming a legacy repo needs attention.
    let text = common::flat(&run(&["plan", "org/mapping.hcl"]));
    assert!(
        text.contains("2 item(s) need attention")
            && text.contains("service-modules/web/bastion.tf:20: # see https://github.com/acme/terraform-aws-alb")
            && text.contains("service-modules/web/testdata/legacy_source.tf:5: mentions terraform-aws-alb"),
        "{text}"
    );
    // --strict refuses exactly those.
    let strict = common::run_tfmono(root, &["plan", "org/mapping.hcl", "--strict"]);
    assert_eq!(strict.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("--strict: 2 item(s) need attention"));
}

#[test]
fn terragrunt_split_sources_rewrite_both_halves_per_included_file() {
    let (u1, u2, u3) = (
        unit("api", "v0.3.0"),
        unit("alb", "v2.0.0"),
        unit("alb", "v1.0.0"),
    );
    let out = split_tree(&[
        ("live/_envcommon/api.hcl", ENVCOMMON_API),
        ("live/_envcommon/alb.hcl", ENVCOMMON_ALB),
        ("live/dev/api/terragrunt.hcl", &u1),
        ("live/dev/alb/terragrunt.hcl", &u2),
        ("live/prod/alb/terragrunt.hcl", &u3),
    ]);
    let new = |i: usize| {
        out[i]
            .1
            .new_content
            .clone()
            .unwrap_or_else(|| panic!("{} unchanged: {:?}", out[i].0, out[i].1))
    };
    // Same local name, two files, two repos: each unit follows its own include.
    assert!(new(0).contains("base_source_url = \"git::https://github.com/acme/service-modules.git//api/modules/x\"\n"), "{}", new(0));
    assert!(new(0).contains("# the module, without a ref"));
    assert!(
        new(1).contains("\"git::https://github.com/acme/reference-modules.git//alb\""),
        "{}",
        new(1)
    );
    assert!(
        new(2).contains("source = \"${include.envcommon.locals.base_source_url}?ref=api/v0.3.0\""),
        "{}",
        new(2)
    );
    assert!(new(3).contains("?ref=alb/v2.0.0\""));
    assert!(new(4).contains("?ref=alb/v1.0.0\""));
    for (_, o) in &out {
        assert!(!o.needs_attention(), "{o:?}");
    }
}

#[test]
fn terragrunt_split_source_with_an_unknown_ref_changes_neither_half() {
    let (good, bad) = (unit("alb", "v2.0.0"), unit("alb", "no-such-tag"));
    let out = split_tree(&[
        ("live/_envcommon/alb.hcl", ENVCOMMON_ALB),
        ("live/dev/alb/terragrunt.hcl", &good),
        ("live/prod/alb/terragrunt.hcl", &bad),
    ]);
    for (path, o) in &out {
        assert_eq!(o.new_content, None, "{path} must stay as it is");
        assert_eq!(o.left_alone.len(), 1, "{path}: {o:?}");
        assert_eq!(o.left_alone[0].reason, Reason::Split, "{path}");
        assert!(o.needs_attention());
    }
    // Without any unit, a base URL is an ordinary string (rewritten as a complete source).
    let alone = split_tree(&[("live/_envcommon/alb.hcl", ENVCOMMON_ALB)]);
    assert!(alone[0].1.new_content.is_some());
}

/// Issue 12, defect 1, through `tfmono plan`: a legacy branch left out of the import
/// (`branches = "default"`) still makes a ref of the same name as a tag ambiguous, and the
/// plan says so.
#[test]
fn the_plan_notes_a_ref_naming_an_unimported_branch_and_a_tag() {
    let tmp = common::tempdir();
    let root = tmp.path();
    let alb = root.join("work/alb");
    std::fs::create_dir_all(&alb).expect("mkdir");
    git(&alb, &["init", "-q", "-b", "main"]);
    commit_refs(
        &alb,
        None,
        &[
            ("tag-latest", &["tag", "latest"]),
            (
                "branch-latest",
                &["update-ref", "refs/heads/latest", "HEAD"],
            ),
            ("main", &[]),
        ],
    );
    bare(root, &alb, &root.join("legacy/terraform-aws-alb.git"));
    let api = root.join("work/api");
    std::fs::create_dir_all(&api).expect("mkdir");
    git(&api, &["init", "-q", "-b", "main"]);
    write(
        &api.join("main.tf"),
        &module("git::https://github.com/acme/terraform-aws-alb.git?ref=latest"),
    );
    git(&api, &["add", "-A"]);
    git(&api, &["commit", "-q", "-m", "api"]);
    bare(root, &api, &root.join("legacy/live-api.git"));
    write(
        &root.join("repos.txt"),
        "https://github.com/acme/terraform-aws-alb.git\nhttps://github.com/acme/live-api.git\n",
    );
    write(
        &root.join("mapping.hcl"),
        r#"inventory = "repos.txt"
repos_dir = "legacy"
monorepo "reference-modules" {
  url = "git::https://github.com/acme/reference-modules.git"
}
monorepo "live" {
  url = "git::https://github.com/acme/live.git"
}
repo "terraform-aws-alb" {
  url        = "https://github.com/acme/terraform-aws-alb.git"
  into       = "reference-modules"
  path       = "alb"
  tag_prefix = "alb/"
}
repo "live-api" {
  url  = "https://github.com/acme/live-api.git"
  into = "live"
  path = "dev/api"
}
"#,
    );
    let o = common::run_tfmono(root, &["plan", "mapping.hcl", "--format", "json"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let plan: serde_json::Value = serde_json::from_str(&stdout).expect("plan is JSON");
    let rewrites: Vec<&serde_json::Value> = plan["monorepos"]
        .as_array()
        .expect("monorepos")
        .iter()
        .flat_map(|m| m["files"].as_array().expect("files"))
        .flat_map(|f| f["rewrites"].as_array().expect("rewrites"))
        .collect();
    assert_eq!(rewrites.len(), 1, "{rewrites:?}");
    assert_eq!(
        rewrites[0]["new"],
        format!("{ALB_NEW}?ref=alb/latest").as_str()
    );
    let notes = rewrites[0]["notes"].to_string();
    assert!(
        notes.contains("`latest` names both a branch and a tag of terraform-aws-alb")
            && notes.contains("fetches the tag"),
        "{notes}"
    );
}

/// `plan` and `apply` both fail with exit 2 and every `needle`, and apply writes no
/// output directory.
fn plan_and_apply_fail(root: &Path, needles: &[&str]) {
    fails(root, &["plan", "mapping.hcl"], needles);
    fails(root, &["apply", "mapping.hcl", "--out", "out"], needles);
    assert!(
        !root.join("out").exists(),
        "apply wrote an output directory"
    );
}

const ALB_SHA: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
const ALB_IMAGE: &str = "ffffeeeeddddccccbbbbaaaa9999888877776666";

fn alb() -> Target {
    Target {
        repo: "terraform-aws-alb".into(),
        legacy_url: "https://github.com/acme/terraform-aws-alb.git".into(),
        monorepo: "reference-modules".into(),
        monorepo_url: "git::https://github.com/acme/reference-modules.git".into(),
        path: "alb".into(),
        tag_prefix: "alb/".into(),
        registry: vec!["terraform-aws-modules/alb/aws".into()],
        tags: ["v1.0.0", "v1.1.0", "v2.0.0", "v2.1.0-rc1", "latest"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        default_branch: Some("master".into()),
        branches: vec![
            ("master".into(), "main".into()),
            (
                "feature-x".into(),
                "import/terraform-aws-alb/feature-x".into(),
            ),
        ],
        other_branches: vec![],
    }
}

fn targets() -> Targets {
    Targets::new(vec![
        alb(),
        Target {
            repo: "svc-api".into(),
            legacy_url: "git@github.com:acme/svc-api.git".into(),
            monorepo: "service-modules".into(),
            monorepo_url: "https://github.com/acme/service-modules.git".into(),
            path: "api".into(),
            tag_prefix: "api/".into(),
            registry: vec![],
            tags: vec!["v0.3.0".into()],
            default_branch: Some("main".into()),
            branches: vec![("main".into(), "main".into())],
            other_branches: vec![],
        },
        Target {
            repo: "svc-shared".into(),
            legacy_url: "ssh://git@github.com/acme/svc-shared".into(),
            monorepo: "service-modules".into(),
            monorepo_url: "https://github.com/acme/service-modules.git".into(),
            path: "shared/core".into(),
            tag_prefix: "shared/".into(),
            registry: vec![],
            tags: vec!["v1.0.0".into()],
            default_branch: Some("main".into()),
            branches: vec![("main".into(), "main".into())],
            other_branches: vec![],
        },
        Target {
            repo: "legacy-bb".into(),
            legacy_url: "https://bitbucket.org/acme/legacy-bb.git".into(),
            monorepo: "service-modules".into(),
            monorepo_url: "git::https://github.com/acme/service-modules.git".into(),
            path: "bb".into(),
            tag_prefix: "bb/".into(),
            registry: vec!["app.terraform.io/acme/bb/aws".into()],
            tags: vec!["1.0".into()],
            default_branch: Some("main".into()),
            branches: vec![("main".into(), "main".into())],
            other_branches: vec![],
        },
    ])
}

fn commits() -> CommitMap {
    let mut c = CommitMap::new();
    c.insert("terraform-aws-alb", ALB_SHA, ALB_IMAGE);
    c
}

fn run(file: &str, content: &str, monorepo: &str, mode: SameMonorepo) -> FileOutcome {
    let t = targets();
    let c = commits();
    let ctx = Context {
        targets: &t,
        commits: &c,
        monorepo,
        same_monorepo: mode,
        split: None,
    };
    rewrite_file(file, content, &ctx)
}

fn live(content: &str) -> FileOutcome {
    run(
        "dev/korea/api/static/main.tf",
        content,
        "live",
        SameMonorepo::Pinned,
    )
}

fn module(source: &str) -> String {
    format!("module \"m\" {{\n  source = \"{source}\"\n}}\n")
}

const ALB_NEW: &str = "git::https://github.com/acme/reference-modules.git//alb";

/// The module content at each legacy tag: outputs that differ, a variable, a submodule.
pub(crate) fn module_files(version: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "main.tf",
            format!("output \"version\" {{\n  value = \"{version}\"\n}}\n"),
        ),
        (
            "variables.tf",
            format!("variable \"name\" {{\n  default = \"alb-{version}\"\n}}\n"),
        ),
        (
            "modules/extra/main.tf",
            format!("output \"extra\" {{\n  value = \"extra-{version}\"\n}}\n"),
        ),
    ]
}

/// Commits `module_files(label)` (under `dir/` when given) in `work` for each
/// `(label, git command)` (`tag NAME`, `update-ref refs/heads/NAME HEAD`); the branch
/// checked out at the start gets the last commit.
pub(crate) fn commit_refs(work: &Path, dir: Option<&str>, refs: &[(&str, &[&str])]) {
    for (label, cmd) in refs {
        for (p, text) in module_files(label) {
            let path = match dir {
                Some(d) => work.join(d).join(p),
                None => work.join(p),
            };
            write(&path, &text);
        }
        git(work, &["add", "-A"]);
        git(work, &["commit", "-q", "-m", label]);
        if !cmd.is_empty() {
            git(work, cmd);
        }
    }
}

/// A bare clone of `work` (every branch and tag) at `dest`.
pub(crate) fn bare(root: &Path, work: &Path, dest: &Path) {
    std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().expect("utf-8"),
            dest.to_str().expect("utf-8"),
        ],
    );
}

/// Rewrites a tree of Terragrunt files (path, content) with the split table of the tree.
fn split_tree(files: &[(&str, &str)]) -> Vec<(String, FileOutcome)> {
    split_tree_with(&targets(), files)
}

fn split_tree_with(t: &Targets, files: &[(&str, &str)]) -> Vec<(String, FileOutcome)> {
    use tfmono::sources::split::{collect, SplitTable};
    let c = commits();
    let ctx = Context {
        targets: t,
        commits: &c,
        monorepo: "live",
        same_monorepo: SameMonorepo::Pinned,
        split: None,
    };
    let parts: Vec<_> = files.iter().map(|(p, c)| collect(p, c, t)).collect();
    let table = SplitTable::build(&parts, &ctx);
    let ctx = Context {
        split: Some(&table),
        ..ctx
    };
    files
        .iter()
        .map(|(p, c)| (p.to_string(), rewrite_file(p, c, &ctx)))
        .collect()
}

const ENVCOMMON_API: &str = "locals {\n  # the module, without a ref\n  base_source_url = \"git::git@github.com:acme/svc-api.git//modules/x\"\n}\n";
const ENVCOMMON_ALB: &str =
    "locals {\n  base_source_url = \"git::https://github.com/acme/terraform-aws-alb.git\"\n}\n";

fn unit(common: &str, r: &str) -> String {
    format!("include \"envcommon\" {{\n  path   = \"${{dirname(find_in_parent_folders(\"root.hcl\"))}}/_envcommon/{common}.hcl\"\n  expose = true\n}}\n\nterraform {{\n  source = \"${{include.envcommon.locals.base_source_url}}?ref={r}\"\n}}\n")
}
