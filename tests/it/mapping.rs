//! The mapping file: every validation rule, each a bad mapping with its message and exit code 2.

use std::path::Path;

use crate::common::mapping::{legacy_repo, setup, ALB, REF_RULE};
use crate::common::org::{mini_org, publish, work_repo, MiniOpts};
use crate::common::{self, fails, git, tempdir};

#[test]
fn good_mapping_with_rule_captures_plans() {
    let dir = setup(&format!("{REF_RULE}{LIVE_RULE}"), &[ALB, VPC, API]);
    let out = common::run_tfmono(dir.path(), &["plan", "mapping.hcl", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let live = &plan["monorepos"][1];
    assert_eq!(live["name"], "live");
    assert_eq!(live["imports"][0]["path"], "dev/korea/api/static");
    assert_eq!(
        live["imports"][0]["tags"][0]["to"],
        "refs/tags/dev/korea/api/static/v1.0.0"
    );
    let refm = &plan["monorepos"][0]["imports"];
    assert_eq!(refm[0]["path"], "alb");
    assert_eq!(refm[0]["tags"][0]["to"], "refs/tags/alb/v1.0.0");
    assert_eq!(refm[1]["path"], "vpc");
    assert_eq!(refm[0]["commits"], 1);
}

#[test]
fn malformed_hcl() {
    plan_fails(
        "repo \"x\" {\n  url = \n}\n",
        &[],
        &["mapping.hcl:8:", "invalid HCL"],
    );
}

#[test]
fn unknown_monorepo() {
    plan_fails(
        "repo \"terraform-aws-alb\" {\n  url = \"https://github.com/acme/terraform-aws-alb.git\"\n  into = \"reference-module\"\n  path = \"alb\"\n}\n",
        &[ALB],
        &["unknown monorepo \"reference-module\"", "did you mean \"reference-modules\"", "mapping.hcl:"],
    );
}

#[test]
fn two_repos_same_path() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n  path = \"x\"\n}\nrepo \"b\" {\n  url = \"legacy/terraform-aws-vpc.git\"\n  into = \"live\"\n  path = \"x\"\n}\n",
        &[ALB, VPC],
        &["both go to path \"x\" in monorepo \"live\""],
    );
}

#[test]
fn nested_paths() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n  path = \"dev\"\n  tag_prefix = \"a/\"\n}\nrepo \"b\" {\n  url = \"legacy/terraform-aws-vpc.git\"\n  into = \"live\"\n  path = \"dev/korea\"\n  tag_prefix = \"b/\"\n}\n",
        &[ALB, VPC],
        &["path \"dev/korea\"", "is nested in path \"dev\""],
    );
}

#[test]
fn absolute_path() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n  path = \"/abs\"\n}\n",
        &[ALB],
        &["mapping.hcl:", "path \"/abs\" is absolute"],
    );
}

#[test]
fn dotdot_path() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n  path = \"a/../b\"\n}\n",
        &[ALB],
        &["contains `..`"],
    );
}

#[test]
fn empty_path() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n  path = \"\"\n}\n",
        &[ALB],
        &["path \"\" is empty"],
    );
}

#[test]
fn duplicate_repo_names() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n  path = \"x\"\n}\nrepo \"a\" {\n  url = \"legacy/terraform-aws-vpc.git\"\n  into = \"live\"\n  path = \"y\"\n}\n",
        &[ALB, VPC],
        &["duplicate repo \"a\""],
    );
}

#[test]
fn duplicate_names_from_rule_and_repo() {
    // The rule names the inventory entry after its URL; a repo block already uses that name.
    plan_fails(
        &format!("{REF_RULE}repo \"terraform-aws-vpc\" {{\n  url = \"legacy/api-static-dev-korea.git\"\n  into = \"live\"\n  path = \"z\"\n}}\n"),
        &[ALB, VPC, API],
        &["two repos are named \"terraform-aws-vpc\"", "is matched by no repo or rule"],
    );
}

#[test]
fn regex_does_not_compile() {
    plan_fails(
        "rule \"r\" {\n  match = \"github.com/acme/(?P<name>[a-z\"\n  into = \"live\"\n  path = \"{name}\"\n}\n",
        &[ALB],
        &["mapping.hcl:8:3", "`match` is not a valid regex", "repos.txt:1"],
    );
}

#[test]
fn placeholder_names_no_group() {
    plan_fails(
        "rule \"r\" {\n  match = \"github.com/acme/terraform-aws-(?P<name>[a-z]+)\"\n  into = \"live\"\n  path = \"{nmae}\"\n}\n",
        &[ALB],
        &["placeholder {nmae}", "names no capture group", "\"name\""],
    );
}

#[test]
fn entry_matched_by_two_rules() {
    plan_fails(
        &format!("{REF_RULE}rule \"everything\" {{\n  match = \"github.com/acme/(?P<n>.+)\"\n  into = \"live\"\n  path = \"{{n}}\"\n}}\n"),
        &[ALB],
        &["repos.txt:1", "is matched by rules \"everything\", \"reference\""],
    );
}

#[test]
fn entry_matched_by_none() {
    plan_fails(
        REF_RULE,
        &[ALB, API],
        &[
            "repos.txt:2",
            "api-static-dev-korea.git is matched by no repo or rule",
            "unmatched = \"skip\"",
        ],
    );
}

#[test]
fn unmatched_skip_is_a_warning() {
    let dir = setup(&format!("unmatched = \"skip\"\n{REF_RULE}"), &[ALB, API]);
    let out = common::run_tfmono(dir.path(), &["plan", "mapping.hcl"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = common::flat(&String::from_utf8_lossy(&out.stdout));
    assert!(stdout.contains("matched by no rule; skipped"), "{stdout}");
}

#[test]
fn rule_matching_nothing_warns() {
    let dir = setup(&format!("{REF_RULE}{LIVE_RULE}"), &[ALB]);
    let out = common::run_tfmono(dir.path(), &["plan", "mapping.hcl"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("rule \"deployments\" matches no inventory entry"),
        "{stdout}"
    );
}

#[test]
fn colliding_tag_prefixes() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n  path = \"a\"\n  tag_prefix = \"x/\"\n}\nrepo \"b\" {\n  url = \"legacy/terraform-aws-vpc.git\"\n  into = \"live\"\n  path = \"b\"\n  tag_prefix = \"x/\"\n}\n",
        &[ALB, VPC],
        &["tag prefixes \"x/\"", "can make the same tag name"],
    );
}

#[test]
fn unknown_key_typo() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n  pth = \"a\"\n}\n",
        &[ALB],
        &["mapping.hcl:10:3", "unknown key `pth`", "did you mean `path`?"],
    );
}

#[test]
fn unknown_top_level_key_and_block() {
    plan_fails(
        "inventori = \"x\"\nmonorepoo \"x\" {\n  url = \"u\"\n}\n",
        &[],
        &[
            "unknown key `inventori`",
            "did you mean `inventory`",
            "unknown key `monorepoo`",
        ],
    );
}

#[test]
fn invalid_tag_prefix() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n  path = \"a\"\n  tag_prefix = \"bad prefix~\"\n}\n",
        &[ALB],
        &["tag_prefix \"bad prefix~\" does not make valid tag names"],
    );
}

#[test]
fn bad_enum_value() {
    plan_fails(
        "unmatched = \"ignore\"\n",
        &[],
        &["`unmatched` must be one of \"error\", \"skip\", not \"ignore\""],
    );
}

#[test]
fn interpolation_is_refused() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/${var.x}.git\"\n  into = \"live\"\n  path = \"a\"\n}\n",
        &[],
        &["`url` must be a plain string"],
    );
}

#[test]
fn missing_required_attribute() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n}\n",
        &[ALB],
        &["repo \"a\" is missing the required attribute `path`"],
    );
}

#[test]
fn missing_inventory_file() {
    let dir = setup(REF_RULE, &[]);
    std::fs::remove_file(dir.path().join("repos.txt")).expect("rm");
    let out = common::run_tfmono(dir.path(), &["plan", "mapping.hcl"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read inventory file") && stderr.contains("repos.txt"),
        "{stderr}"
    );
}

#[test]
fn missing_mapping_file() {
    let dir = common::tempdir();
    let out = common::run_tfmono(dir.path(), &["plan", "nope.hcl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read mapping file nope.hcl"));
}

#[test]
fn example_mapping_parses() {
    // mappings/example.hcl documents every block; it must stay valid (its inventory may be absent).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("mappings/example.hcl")).expect("example exists");
    let text = text.replace("inventory ", "# inventory ");
    let dir = common::tempdir();
    let file = dir.path().join("example.hcl");
    std::fs::write(&file, text).expect("write");
    let mapping = tfmono::mapping::load(&file, None).expect("example.hcl is valid");
    assert_eq!(mapping.monorepos.len(), 3);
    assert!(mapping
        .repos
        .iter()
        .any(|r| r.name == "terraform-aws-alb" && r.tag_prefix == "alb/"));
}

#[test]
fn path_aliasing_dot_git_is_refused() {
    for (path, shown) in [
        ("a/.GIT", "\"a/.GIT\""),
        (".Git", "\".Git\""),
        ("x/.git. ", "\"x/.git. \""),
        ("GIT~1", "\"GIT~1\""),
        ("a/.g\\u200cit", "\"a/.g\\u{200c}it\""),
    ] {
        plan_fails(
            &repo_with(&format!("  path = \"{path}\"\n")),
            &[ALB],
            &[
                "mapping.hcl:10:",
                &format!("path {shown} has the component"),
                "which git reads as `.git`",
            ],
        );
    }
}

#[test]
fn path_aliasing_gitmodules_is_refused() {
    for path in [".gitmodules", "a/.GitModules", "gitmod~1"] {
        plan_fails(
            &repo_with(&format!("  path = \"{path}\"\n")),
            &[ALB],
            &["mapping.hcl:10:", "which git reads as `.gitmodules`"],
        );
    }
}

#[test]
fn path_with_control_bytes_is_refused() {
    for (path, byte) in [
        ("a\\u0000b", "0x00"),
        ("a\\tb", "0x09"),
        ("a\\u007fb", "0x7f"),
    ] {
        plan_fails(
            &repo_with(&format!("  path = \"{path}\"\n")),
            &[ALB],
            &[
                "mapping.hcl:10:",
                &format!("contains the control byte {byte}"),
            ],
        );
    }
}

#[test]
fn tag_prefix_breaking_check_ref_format_is_refused() {
    for (prefix, why) in [
        ("a.lock/", "breaks `git check-ref-format`"),
        (".a/", "breaks `git check-ref-format`"),
        ("a./", "ending in `.`"),
        ("a@{b/", "contains `@{`"),
        ("a/.GIT/", "which git reads as `.git`"),
    ] {
        plan_fails(
            &repo_with(&format!("  path = \"a\"\n  tag_prefix = \"{prefix}\"\n")),
            &[ALB],
            &["mapping.hcl:11:", "does not make valid tag names", why],
        );
    }
}

#[test]
fn derived_tag_prefix_is_reported_at_path_not_1_1() {
    let dir = setup(&repo_with("  path = \"alb.\"\n"), &[ALB]);
    let out = common::run_tfmono(dir.path(), &["plan", "mapping.hcl"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("mapping.hcl:10:3: tag_prefix \"alb./\""),
        "{stderr}"
    );
    assert!(!stderr.contains("mapping.hcl:1:1"), "{stderr}");
}

#[test]
fn rule_derived_paths_and_prefixes_are_checked_at_the_rule_attribute() {
    plan_fails(
        r#"rule "reference" {
  match      = "github.com/acme/terraform-aws-(?P<name>[a-z0-9-]+)"
  into       = "reference-modules"
  path       = "{name}/.GIT"
}
"#,
        &[ALB],
        &[
            "mapping.hcl:10:",
            "via rule \"reference\": path \"alb/.GIT\"",
            "which git reads as `.git`",
        ],
    );
    plan_fails(
        r#"rule "reference" {
  match      = "github.com/acme/terraform-aws-(?P<name>[a-z0-9-]+)"
  into       = "reference-modules"
  path       = "{name}"
  tag_prefix = "{name}.lock/"
}
"#,
        &[ALB],
        &[
            "mapping.hcl:11:",
            "via rule \"reference\": tag_prefix \"alb.lock/\" does not make valid tag names",
        ],
    );
}

// Issue 12, defect 11: paths and tag prefixes that differ only in case collide on macOS and
// Windows.
#[test]
fn paths_differing_only_in_case_collide() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n  path = \"App\"\n  tag_prefix = \"a/\"\n}\nrepo \"b\" {\n  url = \"legacy/terraform-aws-vpc.git\"\n  into = \"live\"\n  path = \"app\"\n  tag_prefix = \"b/\"\n}\n",
        &[ALB, VPC],
        &[
            "mapping.hcl:16:3:",
            "\"a\" (repo block at 7:1) goes to path \"App\" and \"b\" (repo block at 13:1) to path \"app\"",
            "differ only in case",
        ],
    );
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n  path = \"Dev\"\n  tag_prefix = \"a/\"\n}\nrepo \"b\" {\n  url = \"legacy/terraform-aws-vpc.git\"\n  into = \"live\"\n  path = \"dev/korea\"\n  tag_prefix = \"b/\"\n}\n",
        &[ALB, VPC],
        &["path \"dev/korea\"", "is nested in path \"Dev\""],
    );
}

#[test]
fn tag_prefixes_differing_only_in_case_collide() {
    plan_fails(
        "repo \"a\" {\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n  path = \"a\"\n  tag_prefix = \"App/\"\n}\nrepo \"b\" {\n  url = \"legacy/terraform-aws-vpc.git\"\n  into = \"live\"\n  path = \"b\"\n  tag_prefix = \"app/\"\n}\n",
        &[ALB, VPC],
        &[
            "mapping.hcl:17:3:",
            "tag prefixes \"App/\" of \"a\" (repo block at 7:1) and \"app/\" of \"b\" (repo block at 13:1)",
            "ignoring case",
        ],
    );
}

// Issue 12: a repo listed twice in the inventory gave three misleading errors (two repos
// named alike, same path, same tag prefixes).
#[test]
fn inventory_listing_a_repo_twice_in_two_spellings_is_one_error() {
    let dir = setup(REF_RULE, &[ALB]);
    let inv = format!("{ALB}\n# ssh spelling\ngit@github.com:acme/terraform-aws-alb.git\n");
    std::fs::write(dir.path().join("repos.txt"), inv).expect("write");
    let out = common::run_tfmono(dir.path(), &["plan", "mapping.hcl"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("1 problem in"), "{stderr}");
    assert!(
        stderr.contains("repos.txt:3: git@github.com:acme/terraform-aws-alb.git is listed twice: line 1 (https://github.com/acme/terraform-aws-alb.git) names the same repo"),
        "{stderr}"
    );
}

#[test]
fn inventory_repeating_a_line_warns_and_imports_once() {
    let dir = setup(REF_RULE, &[ALB]);
    std::fs::write(
        dir.path().join("repos.txt"),
        format!("{ALB}\n{ALB}  # again\n"),
    )
    .expect("write");
    let out = common::run_tfmono(dir.path(), &["plan", "mapping.hcl", "--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        plan["monorepos"][0]["imports"].as_array().map(Vec::len),
        Some(1)
    );
    let text = common::run_tfmono(dir.path(), &["plan", "mapping.hcl"]);
    let all = common::flat(&format!(
        "{}{}",
        String::from_utf8_lossy(&text.stdout),
        String::from_utf8_lossy(&text.stderr)
    ));
    assert!(
        all.contains("repos.txt:2: https://github.com/acme/terraform-aws-alb.git is listed again (first at line 1); the repeat is ignored"),
        "{all}"
    );
}

// Issue 12, defect 12: a secret anywhere in a URL of the mapping (a password holding `@`,
// token query parameters) reaches no output of plan and no generated script.
#[test]
fn secrets_in_mapping_urls_reach_no_output_and_no_script() {
    let dir = common::tempdir();
    let root = dir.path();
    legacy_repo(root, "terraform-aws-alb", &["v1.0.0"]);
    let mapping = r#"repos_dir = "legacy"
monorepo "reference-modules" { url = "git::https://bot:SECRET1@SECRET2@github.com/acme/reference-modules.git?access_token=SECRET3&ref=main" }
repo "terraform-aws-alb" {
  url  = "https://SECRET4@SECRET5@github.com/acme/terraform-aws-alb.git?private_token=SECRET6&oauth_token=SECRET7&sshkey=SECRET8&api_key=SECRET9&token=SECRETA"
  into = "reference-modules"
  path = "alb"
}
repo "terraform-aws-vpc" {
  url  = "https://u:SECRETB@SECRETC@github.com/acme/terraform-aws-vpc.git?X-Amz-Signature=SECRETD"
  into = "reference-modules"
  path = "vpc"
}
"#;
    std::fs::write(root.join("mapping.hcl"), mapping).expect("write");
    // The vpc repo has no local copy: its error message names the URL.
    let out = common::run_tfmono(root, &["plan", "mapping.hcl"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("https://u:***@github.com/acme/terraform-aws-vpc.git?X-Amz-Signature=***"),
        "{all}"
    );
    assert!(!all.contains("SECRET"), "{all}");
    legacy_repo(root, "terraform-aws-vpc", &["v1.0.0"]);
    for args in [
        &["plan", "mapping.hcl"][..],
        &["plan", "mapping.hcl", "--format", "json"],
        &["plan", "mapping.hcl", "--format", "markdown"],
        &["apply", "mapping.hcl", "--out", "out"],
    ] {
        let out = common::run_tfmono(root, args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{args:?}: {all}");
        assert!(!all.contains("SECRET"), "{args:?}: {all}");
    }
    // Every file apply wrote but git's compressed objects: scripts, journal, commit maps,
    // packed refs.
    let mut scanned = Vec::new();
    let mut stack = vec![root.join("out")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.to_string_lossy().contains("/objects/") {
                let text = String::from_utf8_lossy(&std::fs::read(&p).expect("read")).into_owned();
                assert!(!text.contains("SECRET"), "{}: {text}", p.display());
                scanned.push(p);
            }
        }
    }
    assert!(
        scanned.iter().any(|p| p.ends_with("push.sh")),
        "{scanned:?}"
    );
    // The notes (git objects) carry the masked URL.
    let notes = git(
        &root.join("out/reference-modules.git"),
        &["log", "-p", "--format=%B", "refs/notes/tfmono"],
    );
    assert!(
        notes.contains("Migrated-from: https://***@github.com/"),
        "{notes}"
    );
    assert!(!notes.contains("SECRET"), "{notes}");
    let push = std::fs::read_to_string(root.join("out/push.sh")).expect("read");
    assert!(
        push.contains(
            "https://bot:***@github.com/acme/reference-modules.git?access_token=***&ref=main"
        ),
        "{push}"
    );
}

#[test]
fn overlapping_tag_prefixes_are_caught_by_mapping_validation_before_any_repo_is_read() {
    // alb's prefix `rel/` and vpc's prefix `rel/b/`: alb's tag `b/v1` and vpc's `v1` would
    // both be `rel/b/v1`. The mapping validation refuses it, naming both repos.
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(
        root,
        &MiniOpts {
            alb_tags: &["b/v1"],
            alb_prefix: "rel/",
            tail: "repo \"terraform-aws-vpc\" {\n  url        = \"legacy/terraform-aws-vpc.git\"\n  into       = \"reference-modules\"\n  path       = \"vpc\"\n  tag_prefix = \"rel/b/\"\n}\n",
            ..MiniOpts::default()
        },
    );
    let w = work_repo(root, "terraform-aws-vpc", &[("main.tf", "# vpc\n")]);
    git(&w, &["tag", "v1"]);
    publish(root, "terraform-aws-vpc");
    fails(
        root,
        &["plan", "mapping.hcl"],
        &[
            "tag prefixes \"rel/\"",
            "\"rel/b/\"",
            "terraform-aws-alb",
            "terraform-aws-vpc",
            "can make the same tag name in monorepo \"reference-modules\"",
            "end them with `/`",
        ],
    );
}

fn plan_fails(body: &str, inventory: &[&str], expected: &[&str]) {
    let dir = setup(body, inventory);
    let out = common::run_tfmono(dir.path(), &["plan", "mapping.hcl"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit 2 for {body}\nstderr: {stderr}"
    );
    for e in expected {
        assert!(stderr.contains(e), "expected {e:?} in stderr:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}
const VPC: &str = "https://github.com/acme/terraform-aws-vpc.git";
const API: &str = "https://github.com/acme/api-static-dev-korea.git";

const LIVE_RULE: &str = r#"
rule "deployments" {
  match = "github.com/acme/(?P<svc>[a-z]+)-(?P<kind>static|dynamic)-(?P<stage>dev|prod)-(?P<region>korea|usa)"
  into  = "live"
  path  = "{stage}/{region}/{svc}/{kind}"
}
"#;

// Issue 12, defect 7: paths and tag prefixes a fsck-checking remote refuses.
fn repo_with(attrs: &str) -> String {
    format!(
        "repo \"a\" {{\n  url = \"legacy/terraform-aws-alb.git\"\n  into = \"live\"\n{attrs}}}\n"
    )
}
