//! Issue 6: safety. Every test drives the real binary on real git repos (built here with the
//! git CLI, or by `tfmono gen-org`) and checks the exit code, what the message says (the
//! file, line, repo or address, and what to do) and that nothing panicked.
//!
//! - bad inputs: each refused with exit 2 and a clear message, nothing written;
//! - secrets: credentials and `sshkey=` values appear in no output and no written file;
//! - nothing lost: legacy repos and the working directory are left byte-identical;
//! - journal and rollback: back to the refs before the first apply;
//! - plan == apply: the JSON plan lists exactly the refs and rewrites apply makes;
//! - crash safety: SIGKILL at any moment and Ctrl-C, then a re-run, converge to the same
//!   monorepos as an uninterrupted run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::common::{git, ok, run, tempdir, tfmono, tree_hash, Run};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// Runs tfmono in `dir`, asserts exit code 2 and that stderr holds every `needle`.
fn fails(dir: &Path, args: &[&str], needles: &[&str]) -> Run {
    let r = run(dir, args);
    assert_eq!(
        r.code,
        Some(2),
        "tfmono {args:?} should fail with exit 2:\nstdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stderr.starts_with("error: ") || r.stderr.contains("\nerror: "),
        "no `error:` line: {}",
        r.stderr
    );
    for n in needles {
        assert!(
            r.stderr.contains(n),
            "tfmono {args:?}: stderr lacks {n:?}:\n{}",
            r.stderr
        );
    }
    r
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

/// Writes `files` into work tree `w` and commits them.
pub(crate) fn commit(w: &Path, files: &[(&str, &str)], msg: &str) {
    for (path, content) in files {
        let p = w.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    git(w, &["add", "-A"]);
    git(w, &["commit", "-q", "--allow-empty", "-m", msg]);
}

/// Makes work tree `root/work-<name>` with one commit of `files` on `main`.
pub(crate) fn work_repo(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let w = root.join(format!("work-{name}"));
    std::fs::create_dir_all(&w).expect("mkdir");
    git(&w, &["init", "-q", "-b", "main"]);
    commit(&w, files, &format!("Initial {name}"));
    w
}

/// Publishes work tree `work-<name>` as the bare legacy repo `legacy/<name>.git` (again:
/// fetches new commits and tags into it).
pub(crate) fn publish(root: &Path, name: &str) {
    let bare = root.join("legacy").join(format!("{name}.git"));
    if bare.exists() {
        let w = root.join(format!("work-{name}"));
        git(
            &bare,
            &[
                "fetch",
                "-q",
                "--tags",
                w.to_str().expect("utf-8"),
                "main:main",
            ],
        );
    } else {
        std::fs::create_dir_all(root.join("legacy")).expect("mkdir");
        git(
            root,
            &[
                "clone",
                "-q",
                "--bare",
                &format!("work-{name}"),
                &format!("legacy/{name}.git"),
            ],
        );
    }
}

const ALB: &str = "terraform-aws-alb";
const API: &str = "api-static-dev-korea";

/// How [`mini_org`] writes its mapping.
pub(crate) struct MiniOpts<'a> {
    /// The deployment's `main.tf`.
    pub(crate) api_tf: &'a str,
    /// Extra tags on the alb repo's first commit.
    pub(crate) alb_tags: &'a [&'a str],
    /// The alb repo's `tag_prefix`.
    pub(crate) alb_prefix: &'a str,
    /// The alb repo's URL (repo block and inventory).
    pub(crate) alb_url: &'a str,
    /// The live monorepo's URL.
    pub(crate) live_url: &'a str,
    /// Appended to the mapping (state blocks, more repos).
    pub(crate) tail: &'a str,
}

impl Default for MiniOpts<'_> {
    fn default() -> Self {
        MiniOpts {
            api_tf: "module \"alb\" {\n  source = \"git::https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0\"\n}\n",
            alb_tags: &[],
            alb_prefix: "alb/",
            alb_url: "https://github.com/acme/terraform-aws-alb.git",
            live_url: "git::https://github.com/acme/live.git",
            tail: "",
        }
    }
}

/// A small legacy org built with the git CLI under `root`: `terraform-aws-alb` (tags v1.0.0,
/// annotated v2.0.0, plus `alb_tags`; registry address terraform-aws-modules/alb/aws) and
/// the deployment `api-static-dev-korea` (-> live/dev/korea/api/static). Returns the mapping.
pub(crate) fn mini_org(root: &Path, o: &MiniOpts<'_>) -> PathBuf {
    let w = work_repo(
        root,
        ALB,
        &[("main.tf", "resource \"aws_lb\" \"this\" {}\n")],
    );
    git(&w, &["tag", "v1.0.0"]);
    for t in o.alb_tags {
        git(&w, &["tag", t]);
    }
    commit(
        &w,
        &[("variables.tf", "variable \"name\" {}\n")],
        "Add variables",
    );
    git(&w, &["tag", "-a", "v2.0.0", "-m", "Release 2.0.0"]);
    publish(root, ALB);
    let d = work_repo(root, API, &[("main.tf", o.api_tf)]);
    commit(
        &d,
        &[("outputs.tf", "output \"x\" {\n  value = 1\n}\n")],
        "Outputs",
    );
    publish(root, API);
    std::fs::write(
        root.join("repos.txt"),
        format!("{}\nhttps://github.com/acme/{API}.git\n", o.alb_url),
    )
    .expect("write");
    let mapping = root.join("mapping.hcl");
    std::fs::write(
        &mapping,
        format!(
            r#"inventory = "repos.txt"
repos_dir = "legacy"
monorepo "reference-modules" {{
  url = "git::https://github.com/acme/reference-modules.git"
}}
monorepo "live" {{
  url = "{live}"
}}
repo "terraform-aws-alb" {{
  url        = "{alb}"
  into       = "reference-modules"
  path       = "alb"
  tag_prefix = "{prefix}"
  registry   = ["terraform-aws-modules/alb/aws"]
}}
rule "deployments" {{
  match = "github.com/acme/(?P<svc>[a-z]+)-(?P<kind>static|dynamic)-(?P<stage>dev|prod)-(?P<region>korea|usa)"
  into  = "live"
  path  = "{{stage}}/{{region}}/{{svc}}/{{kind}}"
}}
{tail}"#,
            live = o.live_url,
            alb = o.alb_url,
            prefix = o.alb_prefix,
            tail = o.tail
        ),
    )
    .expect("write");
    mapping
}

/// `tfmono gen-org DIR` (the demo org: 25 repos); returns DIR.
fn gen_org(dir: &Path) -> PathBuf {
    let r = ok(
        dir.parent().expect("parent"),
        &["gen-org", dir.to_str().expect("utf-8"), "--quiet"],
    );
    assert!(r.stdout.contains("mapping.hcl"), "{}", r.stdout);
    dir.to_path_buf()
}

/// `git for-each-ref` of a bare repo: `<id> <type> <name>` lines.
fn refs(repo: &Path) -> String {
    git(
        repo,
        &[
            "for-each-ref",
            "--format=%(objectname) %(objecttype) %(refname)",
        ],
    )
}

/// The monorepo git dirs under `out`, by file name, sorted.
fn monorepos(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("out dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "git"))
        .collect();
    v.sort();
    v
}

/// Every regular file below `dir` (relative paths), sorted.
fn files_below(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).expect("readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .expect("below")
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut v = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut v);
    }
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------
// 1. Bad inputs: exit 2, a clear message, nothing written
// ---------------------------------------------------------------------------------------

#[test]
fn apply_refuses_an_output_directory_holding_someone_elses_files() {
    let tmp = tempdir();
    let org = gen_org(&tmp.path().join("org"));
    let out = org.join("out");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("notes.txt"), "my precious notes\n").expect("write");
    let before = tree_hash(&out);
    fails(
        &org,
        &["apply", "mapping.hcl", "--out", "out"],
        &[
            "output directory out is not empty and was not made by tfmono",
            "choose an empty or new directory",
        ],
    );
    assert_eq!(
        tree_hash(&out),
        before,
        "apply wrote into a foreign directory"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).expect("read"),
        "my precious notes\n"
    );
    // A directory holding only an (unrelated) bare git repo is refused too.
    let out2 = org.join("out2");
    std::fs::create_dir_all(out2.join("live.git")).expect("mkdir");
    git(&out2.join("live.git"), &["init", "-q", "--bare"]);
    let before = tree_hash(&out2);
    fails(
        &org,
        &["apply", "mapping.hcl", "--out", "out2"],
        &["out2 is not empty and was not made by tfmono"],
    );
    assert_eq!(tree_hash(&out2), before);
}

#[test]
fn apply_into_an_unwritable_or_impossible_output_directory_fails_cleanly() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir();
    let org = gen_org(&tmp.path().join("org"));
    // --out is an existing regular file, or below one: refused, the file untouched.
    std::fs::write(org.join("afile"), "data\n").expect("write");
    for out in ["afile", "afile/sub"] {
        let r = fails(&org, &["apply", "mapping.hcl", "--out", out], &[out]);
        assert!(
            r.stderr.contains("Not a directory"),
            "says why: {}",
            r.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(org.join("afile")).expect("read"),
        "data\n"
    );

    // The parent of --out is read-only.
    let ro = org.join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let probe = ro.join("probe");
    let chmod_effective = std::fs::write(&probe, "x").is_err();
    let r = run(
        &org,
        &["apply", "mapping.hcl", "--out", "ro/out", "--quiet"],
    );
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
    if chmod_effective {
        assert_eq!(r.code, Some(2), "{}", r.stderr);
        assert!(
            r.stderr.contains("ro/out") && r.stderr.contains("Permission denied"),
            "names the directory and why: {}",
            r.stderr
        );
        assert!(files_below(&ro).is_empty(), "nothing written");
    } else {
        eprintln!("SKIPPED (running as root: chmod 555 does not stop writes): unwritable --out");
        let _ = std::fs::remove_file(&probe);
        assert!(matches!(r.code, Some(0) | Some(2)), "{}", r.stderr);
    }
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

pub(crate) const STATE_BLOCK: &str = "state \"live/dev/korea/api/static\" {\n  move {\n    from = \"module.alb\"\n    to   = \"module.lb\"\n  }\n}\n";
pub(crate) const SNAPSHOT: &str = "live__dev__korea__api__static.tfstate";

/// A terraform state v4 holding `module.<module>.aws_lb.this`.
pub(crate) fn tfstate(module: &str) -> String {
    serde_json::json!({
        "version": 4,
        "terraform_version": "1.0.3",
        "serial": 3,
        "lineage": "5b2c0f1e-1111-2222-3333-444455556666",
        "outputs": {},
        "resources": [{
            "module": format!("module.{module}"),
            "mode": "managed",
            "type": "aws_lb",
            "name": "this",
            "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
            "instances": [{"schema_version": 0, "attributes": {"id": "lb-1"}}]
        }]
    })
    .to_string()
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

/// A script cut short (a kill mid-write on older versions, a full disk, a bad copy) still
/// runs and exits 0 having done nothing: verify names every damaged script the journal
/// lists, and a re-run of apply rewrites them whole.
#[test]
fn verify_names_a_damaged_script_and_a_rerun_of_apply_rewrites_it() {
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
    std::fs::write(states.join(SNAPSHOT), tfstate("alb")).expect("write");
    let apply = [
        "apply",
        "mapping.hcl",
        "--states",
        "states",
        "--out",
        "out",
        "--quiet",
    ];
    ok(root, &apply);
    let verify = ["verify", "mapping.hcl", "--out", "out"];
    ok(root, &verify);
    let out = root.join("out");
    let migrate = out.join("state/live/dev/korea/api/static/migrate.sh");
    let push = out.join("push.sh");
    let whole = std::fs::read_to_string(&migrate).expect("migrate.sh");
    assert!(whole.ends_with("\n# end of tfmono script\n"), "{whole}");
    let whole_push = std::fs::read_to_string(&push).expect("push.sh");
    for f in [
        "rollback.sh",
        "state/migrate-all.sh",
        "state/rollback-all.sh",
    ] {
        let text = std::fs::read_to_string(out.join(f)).expect(f);
        assert!(text.ends_with("\n# end of tfmono script\n"), "{f}: {text}");
    }
    // no temporary file is left beside what apply wrote
    assert!(
        files_below(&out).iter().all(|f| !f.contains("tfmono-tmp")),
        "{:?}",
        files_below(&out)
    );

    // migrate.sh truncated to 0 bytes, push.sh cut in the middle
    std::fs::write(&migrate, "").expect("truncate");
    std::fs::write(&push, &whole_push[..whole_push.len() / 2]).expect("cut");
    let r = run(root, &verify);
    assert_eq!(r.code, Some(1), "{}", r.all());
    for needle in [
        "state/live/dev/korea/api/static/migrate.sh: the script is empty",
        "push.sh: the script is cut short",
        "run `tfmono apply` again",
    ] {
        assert!(r.stdout.contains(needle), "{needle} in {}", r.all());
    }
    assert!(!r.stdout.contains("rollback.sh:"), "{}", r.all());

    // the re-run of apply rewrites both; verify passes again
    ok(root, &apply);
    assert_eq!(
        std::fs::read_to_string(&migrate).expect("migrate.sh"),
        whole
    );
    assert_eq!(std::fs::read_to_string(&push).expect("push.sh"), whole_push);
    ok(root, &verify);

    // temporary files of a write killed midway are removed by the rollback
    let dir = migrate.parent().expect("root dir");
    std::fs::write(dir.join(".migrate.sh.tfmono-tmp"), "#!/usr/bin/env bash\n").expect("tmp");
    std::fs::write(out.join(".push.sh.tfmono-tmp"), "").expect("tmp");
    ok(root, &["rollback", "--out", "out"]);
    assert_eq!(
        files_below(&out),
        [".tfmono/journal.json", ".tfmono/lock", "rollback.sh"]
    );
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
fn a_missing_legacy_repo_with_credentials_in_its_url_does_not_leak_them() {
    let tmp = tempdir();
    let root = tmp.path();
    std::fs::write(
        root.join("mapping.hcl"),
        "inventory = \"repos.txt\"\nrepos_dir = \"legacy\"\nmonorepo \"live\" {\n  url = \"git::https://github.com/acme/live.git\"\n}\nrule \"all\" {\n  match = \"/acme/(?P<n>[a-z]+)\\\\.git\"\n  into  = \"live\"\n  path  = \"{n}\"\n}\n",
    )
    .expect("write");
    std::fs::write(
        root.join("repos.txt"),
        "https://user:s3cr3t@github.com/acme/x.git\n",
    )
    .expect("write");
    for args in [
        &["plan", "mapping.hcl"][..],
        &["plan", "mapping.hcl", "--format", "json"][..],
        &["apply", "mapping.hcl", "--out", "out"][..],
        &["verify", "mapping.hcl", "--out", "out"][..],
    ] {
        let r = fails(
            root,
            args,
            &[
                "repo \"x\"",
                "no local copy of https://user:***@github.com/acme/x.git",
                "--repos DIR",
            ],
        );
        assert!(!r.all().contains("s3cr3t"), "{args:?} leaked: {}", r.all());
    }
    // --fetch: the clone fails (nothing listens on port 1); git's and tfmono's messages
    // are both redacted.
    std::fs::write(
        root.join("repos.txt"),
        "https://user:s3cr3t@127.0.0.1:1/acme/x.git\n",
    )
    .expect("write");
    let r = Run::from(
        &["plan", "--fetch"],
        tfmono()
            .current_dir(root)
            .env("GIT_TERMINAL_PROMPT", "0")
            .args(["plan", "mapping.hcl", "--fetch", "--cache", "cache"])
            .output()
            .expect("runs"),
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("repo \"x\"") && r.stderr.contains("user:***@127.0.0.1:1"),
        "{}",
        r.stderr
    );
    assert!(!r.all().contains("s3cr3t"), "leaked: {}", r.all());
    let cached: Vec<String> = files_below(&root.join("cache"));
    for f in &cached {
        let text = std::fs::read(root.join("cache").join(f)).expect("read");
        assert!(
            !String::from_utf8_lossy(&text).contains("s3cr3t"),
            "a failed clone left the password in cache/{f}"
        );
    }
}

#[test]
fn rollback_refuses_a_directory_without_or_with_a_damaged_journal() {
    let tmp = tempdir();
    let root = tmp.path();
    std::fs::create_dir(root.join("empty")).expect("mkdir");
    fails(
        root,
        &["rollback", "--out", "empty"],
        &[
            "empty holds no tfmono journal",
            "journal.json",
            "nothing to roll back",
        ],
    );
    fails(
        root,
        &["rollback", "--out", "missing"],
        &["missing holds no tfmono journal"],
    );
    std::fs::create_dir_all(root.join("damaged/.tfmono")).expect("mkdir");
    std::fs::write(
        root.join("damaged/.tfmono/journal.json"),
        "{\"fingerprint\": ",
    )
    .expect("w");
    let before = tree_hash(&root.join("damaged"));
    fails(
        root,
        &["rollback", "--out", "damaged"],
        &[
            "the journal damaged/.tfmono/journal.json is damaged",
            "restore it from a backup or start with a new output directory",
        ],
    );
    assert_eq!(tree_hash(&root.join("damaged")), before);
    // verify of an output directory apply never wrote.
    let org = gen_org(&root.join("org"));
    fails(
        &org,
        &["verify", "mapping.hcl", "--out", "nowhere"],
        &[
            "nowhere/reference-modules.git is not there",
            "run `tfmono apply` with the same --out first",
        ],
    );
}

#[test]
fn more_bad_inputs_each_get_exit_2_and_a_clear_message() {
    let tmp = tempdir();
    let org = gen_org(&tmp.path().join("org"));
    let legacy_before = tree_hash(&org.join("legacy"));
    // The mapping argument is a directory.
    fails(
        &org,
        &["plan", "legacy"],
        &["cannot read mapping file legacy"],
    );
    // An unknown report format: clap's usage error lists the possible values.
    fails(
        &org,
        &["plan", "mapping.hcl", "--format", "yaml"],
        &["invalid value 'yaml'", "text, markdown, json"],
    );
    // --out pointing at the legacy repos: refused, they stay byte-identical.
    fails(
        &org,
        &["apply", "mapping.hcl", "--out", "legacy", "--quiet"],
        &["output directory legacy is not empty and was not made by tfmono"],
    );
    fails(
        &org,
        &[
            "apply",
            "mapping.hcl",
            "--out",
            "legacy/terraform-aws-alb.git",
            "--quiet",
        ],
        &["legacy/terraform-aws-alb.git is not empty and was not made by tfmono"],
    );
    // gen-org over an existing org.
    fails(
        tmp.path(),
        &["gen-org", "org"],
        &[
            "legacy already exists and is not empty",
            "pick another directory",
        ],
    );
    assert_eq!(tree_hash(&org.join("legacy")), legacy_before);
    // plan --out into a directory that does not exist: names the file.
    fails(
        &org,
        &[
            "plan",
            "mapping.hcl",
            "--out",
            "no/such/dir/p.json",
            "--quiet",
        ],
        &["writing the plan to no/such/dir/p.json", "No such file"],
    );
    // The same repo listed twice in the inventory, spelled differently: one error naming
    // both lines (a verbatim repeat only warns, see tests/it/mapping.rs).
    let inv = std::fs::read_to_string(org.join("repos.txt")).expect("read");
    std::fs::write(
        org.join("repos.txt"),
        format!("{inv}git::https://github.com/acme/terraform-aws-alb\n"),
    )
    .expect("write");
    let lines = inv.lines().count();
    let alb_line = inv
        .lines()
        .position(|l| l.ends_with("/terraform-aws-alb.git"))
        .expect("alb listed")
        + 1;
    fails(
        &org,
        &["plan", "mapping.hcl"],
        &[
            "1 problem in",
            &format!("repos.txt:{}: git::https://github.com/acme/terraform-aws-alb is listed twice: line {alb_line} (", lines + 1),
            "names the same repo; keep one of the two lines",
        ],
    );
}

#[test]
fn io_errors_print_their_cause_once() {
    let tmp = tempdir();
    let org = gen_org(&tmp.path().join("org"));
    std::fs::write(org.join("afile"), "data\n").expect("write");
    let r = fails(
        &org,
        &["apply", "mapping.hcl", "--out", "afile", "--quiet"],
        &["afile"],
    );
    assert_eq!(
        r.stderr.matches("Not a directory").count(),
        1,
        "{}",
        r.stderr
    );
    let r = fails(&org, &["plan", "legacy"], &["mapping file legacy"]);
    assert_eq!(
        r.stderr.matches("Is a directory").count(),
        1,
        "{}",
        r.stderr
    );
}

/// The `error:` line of `stderr`.
fn error_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or(stderr)
}

/// Issue 12: when writing into the output fails (a full disk, an unwritable file system),
/// the error names the file being written in the output, not the legacy pack it was copying,
/// and says that a re-run after freeing space converges. Both writers are covered: linking
/// (here copying, across file systems) the legacy packs, and writing the new pack.
#[test]
fn a_failed_write_into_the_output_names_the_output_path_and_says_re_run() {
    // A directory nobody can create files in, root included (chmod does not stop root):
    // sysfs. The monorepo's pack directory is pointed there.
    let unwritable = Path::new("/sys/kernel");
    let probe = unwritable.join("tfmono-probe");
    if !unwritable.is_dir() || std::fs::write(&probe, "x").is_ok() {
        let _ = std::fs::remove_file(&probe);
        eprintln!("SKIPPED: no unwritable directory at /sys/kernel");
        return;
    }
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let mono = root.join("out/reference-modules.git");
    // The monorepo as a run that stopped right after creating it leaves it, on a disk where
    // nothing more can be written.
    let break_output = || {
        std::fs::remove_dir_all(&mono).expect("rm monorepo");
        let _ = std::fs::remove_file(root.join("out/reference-modules.commit-map"));
        git(root, &["init", "-q", "--bare", "out/reference-modules.git"]);
        let pack = mono.join("objects/pack");
        let _ = std::fs::remove_dir(&pack);
        std::os::unix::fs::symlink(unwritable, &pack).expect("symlink");
    };
    let args = ["apply", "mapping.hcl", "--out", "out", "--quiet"];
    let advice = "the output directory's disk is full or not writable; the legacy repos are only read and are not at fault. Free space (or fix permissions) there and re-run the same command: it converges";

    // The legacy repos hold loose objects only: the new pack cannot be written.
    break_output();
    let r = fails(root, &args, &[advice]);
    let line = error_line(&r.stderr);
    assert!(
        line.contains("cannot write out/reference-modules.git/objects/pack/tmp-tfmono-"),
        "names the pack being written: {line}"
    );

    // The legacy repos hold packs: copying them into the output fails.
    for repo in [ALB, API] {
        git(
            &root.join("legacy").join(format!("{repo}.git")),
            &["repack", "-a", "-d", "-q"],
        );
    }
    break_output();
    let r = fails(root, &args, &[advice]);
    let line = error_line(&r.stderr);
    assert!(
        line.contains("cannot write out/reference-modules.git/objects/pack/pack-"),
        "names the output pack: {line}"
    );
    assert!(!line.contains("legacy/"), "blames no legacy path: {line}");
}

/// Issue 12: a monorepo that something removed while apply ran (e.g. a rollback) cannot be
/// opened; the error calls it the monorepo, not a legacy repo, and says to re-run.
///
/// Made deterministic: `out/live.git/refs` is a link into a stale staging directory
/// (`out/.tfmono-init-*`), which apply removes when it creates `reference-modules.git` (the
/// first monorepo, removed beforehand). So `live.git` is a repo when the run starts (the
/// journal reads its refs) and loses its refs before apply opens it to write.
#[test]
fn a_monorepo_removed_underneath_apply_is_called_the_monorepo_and_a_re_run_is_advised() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    let args = ["apply", "mapping.hcl", "--out", "out", "--quiet"];
    ok(root, &args);
    let out = root.join("out");
    let stale = out.join(".tfmono-init-stale");
    std::fs::create_dir(&stale).expect("mkdir");
    std::fs::rename(out.join("live.git/refs"), stale.join("refs")).expect("mv refs");
    std::os::unix::fs::symlink(stale.join("refs"), out.join("live.git/refs")).expect("symlink");
    std::fs::remove_dir_all(out.join("reference-modules.git")).expect("rm");
    std::fs::remove_file(out.join("reference-modules.commit-map")).expect("rm");
    let r = fails(
        root,
        &args,
        &[
            "monorepo live at out/live.git: cannot open it as a git repository (",
            "): something removed or replaced it while apply ran (a rollback?); move away what is there if it is not the monorepo, then re-run the same `tfmono apply` command: it converges",
        ],
    );
    assert!(!r.stderr.contains("legacy repo"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------
// 2. Secrets
// ---------------------------------------------------------------------------------------

const PASSWORD: &str = "t0ps3cret";
const SSHKEY: &str = "c2VjcmV0";

/// Asserts no secret is in `text`.
fn assert_clean(what: &str, text: &str) {
    for s in [PASSWORD, SSHKEY] {
        assert!(!text.contains(s), "{what} leaks {s}:\n{text}");
    }
}

#[test]
fn credentials_and_sshkeys_appear_in_no_output_and_no_written_file() {
    let tmp = tempdir();
    let root = tmp.path();
    let api_tf = format!(
        "module \"alb\" {{\n  source = \"git::ssh://git@github.com/acme/terraform-aws-alb.git?ref=v1.0.0&sshkey={SSHKEY}\"\n}}\n\nmodule \"other\" {{\n  source = \"git::ssh://git@github.com/other/thing.git?ref=v1&sshkey={SSHKEY}\"\n}}\n"
    );
    let alb_url = format!("https://deploy:{PASSWORD}@github.com/acme/terraform-aws-alb.git");
    let live_url = format!("git::https://deploy:{PASSWORD}@github.com/acme/live.git");
    mini_org(
        root,
        &MiniOpts {
            api_tf: &api_tf,
            alb_url: &alb_url,
            live_url: &live_url,
            tail: STATE_BLOCK,
            ..MiniOpts::default()
        },
    );
    let mut outputs = Vec::new();
    for fmt in ["text", "markdown", "json"] {
        let r = ok(root, &["plan", "mapping.hcl", "--format", fmt]);
        outputs.push((format!("plan --format {fmt}"), r));
    }
    let r = ok(root, &["plan", "mapping.hcl", "--out", "p.json"]);
    outputs.push(("plan --out".into(), r));
    // The plan really did see the secret-bearing source (rewritten and left alone).
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("p.json")).expect("p.json"))
            .expect("json");
    let plan_text = plan.to_string();
    assert!(
        plan_text.contains("sshkey=***"),
        "the plan shows the sshkey masked: {plan_text}"
    );
    assert!(
        plan_text.contains("deploy:***@"),
        "the plan shows the user: {plan_text}"
    );
    let r = ok(root, &["apply", "mapping.hcl", "--out", "out"]);
    outputs.push(("apply".into(), r));
    let r = ok(root, &["apply", "mapping.hcl", "--out", "out"]);
    outputs.push(("apply again".into(), r));
    let r = ok(root, &["verify", "mapping.hcl", "--out", "out"]);
    outputs.push(("verify".into(), r));
    let r = ok(root, &["verify", "mapping.hcl", "--out", "out", "--json"]);
    outputs.push(("verify --json".into(), r));
    for (what, r) in &outputs {
        assert_clean(what, &r.all());
    }
    // Every file apply and plan wrote, except git's own object store.
    let out = root.join("out");
    let written = files_below(&out);
    for must in [
        "rollback.sh",
        "push.sh",
        ".tfmono/journal.json",
        "live.commit-map",
        "reference-modules.commit-map",
        "state/migrate-all.sh",
    ] {
        assert!(
            written.iter().any(|f| f == must),
            "{must} not written: {written:?}"
        );
    }
    let mut scanned = 0;
    for f in &written {
        if f.contains(".git/objects/") {
            continue;
        }
        scanned += 1;
        let text = String::from_utf8_lossy(&std::fs::read(out.join(f)).expect("read")).into_owned();
        assert_clean(&format!("out/{f}"), &text);
    }
    assert!(scanned >= 10, "scanned only {scanned} files");
    assert_clean(
        "p.json",
        &std::fs::read_to_string(root.join("p.json")).expect("read"),
    );
    // push.sh pushes to the masked URL, and says how to give the real one.
    let push = std::fs::read_to_string(out.join("push.sh")).expect("push.sh");
    assert!(push.contains("REMOTE_live"), "{push}");
    // The notes (commit map in git) carry the masked URL.
    let live = out.join("live.git");
    let notes = git(&live, &["log", "-p", "--format=%B", "refs/notes/tfmono"]);
    assert_clean("refs/notes/tfmono", &notes);
    let mono = out.join("reference-modules.git");
    let main_log = git(&mono, &["log", "--format=%B", "main"]);
    assert_clean("reference-modules main log", &main_log);
    assert!(main_log.contains("deploy:***@"), "{main_log}");
    // The rollback output too.
    let r = ok(root, &["rollback", "--out", "out"]);
    assert_clean("rollback", &r.all());
}

// ---------------------------------------------------------------------------------------
// 3. Nothing lost: legacy repos and the working directory stay byte-identical
// ---------------------------------------------------------------------------------------

#[test]
fn no_command_writes_into_the_legacy_repos_and_plan_writes_only_its_out_file() {
    let tmp = tempdir();
    let org = gen_org(&tmp.path().join("org"));
    let legacy = org.join("legacy");
    let legacy_before = tree_hash(&legacy);
    let wd_before = tree_hash(&org);
    for fmt in ["text", "markdown", "json"] {
        ok(&org, &["plan", "mapping.hcl", "--format", fmt]);
    }
    assert_eq!(
        tree_hash(&org),
        wd_before,
        "plan wrote into its working directory"
    );
    ok(&org, &["plan", "mapping.hcl", "--out", "p.json", "--quiet"]);
    assert!(org.join("p.json").is_file());
    std::fs::remove_file(org.join("p.json")).expect("rm");
    assert_eq!(
        tree_hash(&org),
        wd_before,
        "plan --out wrote more than its plan file"
    );

    ok(&org, &["apply", "mapping.hcl", "--out", "../out"]);
    assert_eq!(
        tree_hash(&legacy),
        legacy_before,
        "apply wrote into a legacy repo"
    );
    // plan and verify with an applied output directory leave it byte-identical.
    let out = tmp.path().join("out");
    let out_before = tree_hash(&out);
    ok(&org, &["plan", "mapping.hcl"]);
    let v = ok(&org, &["verify", "mapping.hcl", "--out", "../out"]);
    assert!(v.stdout.contains("verified"), "{}", v.stdout);
    assert_eq!(
        tree_hash(&out),
        out_before,
        "plan or verify wrote into --out"
    );
    assert_eq!(
        tree_hash(&legacy),
        legacy_before,
        "verify wrote into a legacy repo"
    );
    ok(&org, &["rollback", "--out", "../out"]);
    assert_eq!(
        tree_hash(&legacy),
        legacy_before,
        "rollback wrote into a legacy repo"
    );
    assert_eq!(tree_hash(&org), wd_before, "the working directory changed");
}

#[test]
fn demo_checks_its_legacy_repos_are_unchanged() {
    let tmp = tempdir();
    let dir = tmp.path().join("demo");
    let r = ok(tmp.path(), &["demo", "--dir", dir.to_str().expect("utf-8")]);
    assert!(r.stderr.contains("Legacy repos unchanged"), "{}", r.stderr);
    assert!(r.stdout.contains("verified"), "{}", r.stdout);
    // And the demo's own legacy repos are intact git repos.
    for repo in monorepos(&dir.join("org/legacy")) {
        git(&repo, &["fsck", "--full", "--no-dangling"]);
    }
}

// ---------------------------------------------------------------------------------------
// 4. Journal and rollback
// ---------------------------------------------------------------------------------------

#[test]
fn rollback_of_a_fresh_apply_removes_everything_it_created() {
    let tmp = tempdir();
    let org = gen_org(&tmp.path().join("org"));
    ok(&org, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let out = org.join("out");
    assert_eq!(monorepos(&out).len(), 3);
    let journal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(".tfmono/journal.json")).expect("journal"),
    )
    .expect("journal JSON");
    for m in journal["monorepos"].as_array().expect("monorepos") {
        assert_eq!(m["created"], true, "{m}");
    }
    // A second (no-op) apply keeps `created`.
    ok(&org, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let r = ok(&org, &["rollback", "--out", "out"]);
    assert!(r.stdout.contains("rollback done"), "{}", r.stdout);
    assert!(
        monorepos(&out).is_empty(),
        "monorepos left: {:?}",
        monorepos(&out)
    );
    let left = files_below(&out);
    // The journal and the lock stay (tfmono's marker), and rollback.sh so it can be re-run.
    assert_eq!(
        left,
        [".tfmono/journal.json", ".tfmono/lock", "rollback.sh"],
        "files left after rollback"
    );
}

#[test]
fn rollback_can_be_run_twice() {
    let tmp = tempdir();
    let org = gen_org(&tmp.path().join("org"));
    ok(&org, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    ok(&org, &["rollback", "--out", "out"]);
    ok(&org, &["rollback", "--out", "out"]);
}

#[test]
fn rollback_restores_every_ref_of_an_existing_monorepo_to_before_the_first_apply() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    // An existing live monorepo (with a README on main and a tag) in a tfmono directory.
    let out = root.join("out");
    std::fs::create_dir_all(out.join(".tfmono")).expect("mkdir");
    let seed = work_repo(root, "live-seed", &[("README.md", "# live\n")]);
    git(&seed, &["tag", "pre/v0"]);
    git(
        root,
        &["clone", "-q", "--bare", "work-live-seed", "out/live.git"],
    );
    let live = out.join("live.git");
    let original = refs(&live);
    assert_eq!(original.lines().count(), 2, "{original}");

    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let after_first = refs(&live);
    assert!(after_first.contains("refs/heads/import/api-static-dev-korea/main"));
    assert!(after_first.contains("refs/notes/tfmono"));
    // main now merges the import on top of the README commit.
    let first_parents = git(&live, &["log", "--first-parent", "--format=%s", "main"]);
    assert!(
        first_parents.ends_with("Initial live-seed\n"),
        "{first_parents}"
    );

    // Work continues: someone commits on main, the legacy repo gets a commit, apply again.
    let main = git(&live, &["rev-parse", "main"]).trim().to_string();
    let tree = git(&live, &["rev-parse", "main^{tree}"]).trim().to_string();
    let extra = git(
        &live,
        &["commit-tree", &tree, "-p", &main, "-m", "Monorepo work"],
    );
    git(&live, &["update-ref", "refs/heads/main", extra.trim()]);
    let w = root.join(format!("work-{API}"));
    commit(&w, &[("new.tf", "# more\n")], "More deployment");
    git(&w, &["tag", "v3"]);
    publish(root, API);
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let after_second = refs(&live);
    assert_ne!(after_second, after_first);
    assert!(
        after_second.contains("refs/tags/dev/korea/api/static/v3"),
        "{after_second}"
    );

    let journal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(".tfmono/journal.json")).expect("journal"),
    )
    .expect("json");
    let jl = journal["monorepos"]
        .as_array()
        .expect("array")
        .iter()
        .find(|m| m["name"] == "live")
        .expect("live in the journal")
        .clone();
    assert_eq!(jl["created"], false, "{jl}");

    let r = ok(root, &["rollback", "--out", "out"]);
    assert!(r.stdout.contains("refs of live"), "{}", r.stdout);
    assert_eq!(
        refs(&live),
        original,
        "live's refs are not back to before the first apply"
    );
    assert!(
        !out.join("reference-modules.git").exists(),
        "created monorepo left"
    );
    git(&live, &["fsck", "--full", "--no-dangling"]);
}

// ---------------------------------------------------------------------------------------
// 5. plan == apply
// ---------------------------------------------------------------------------------------

/// The text of `path` at `rev` in a bare repo.
fn show(repo: &Path, rev: &str, path: &str) -> String {
    git(repo, &["show", &format!("{rev}:{path}")])
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

// ---------------------------------------------------------------------------------------
// 6. Crash safety
// ---------------------------------------------------------------------------------------

/// The refs of every monorepo and every commit map under `out`.
fn snapshot(out: &Path) -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    for m in monorepos(out) {
        let name = m.file_name().expect("name").to_string_lossy().into_owned();
        s.insert(name, refs(&m));
    }
    for f in files_below(out) {
        if f.ends_with(".commit-map") && !f.contains('/') {
            s.insert(
                f.clone(),
                std::fs::read_to_string(out.join(&f)).expect("read"),
            );
        }
    }
    s
}

fn apply_cmd(org: &Path, out: &str) -> Command {
    let mut c = tfmono();
    c.current_dir(org)
        .args(["apply", "mapping.hcl", "--out", out, "--quiet"]);
    c
}

fn assert_converged(org: &Path, out: &str, expected: &BTreeMap<String, String>, verify: bool) {
    let dir = org.join(out);
    let got = snapshot(&dir);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{out}: monorepos and commit maps"
    );
    for (k, v) in expected {
        assert!(
            got[k] == *v,
            "{out}: {k} differs from the uninterrupted run"
        );
    }
    for m in monorepos(&dir) {
        git(&m, &["fsck", "--full", "--no-dangling"]);
    }
    if verify {
        let r = ok(org, &["verify", "mapping.hcl", "--out", out, "--quiet"]);
        assert!(r.stdout.contains("verified"), "{}", r.stdout);
    }
}

#[test]
fn sigkill_at_any_moment_then_rerun_converges_and_ctrl_c_stops_cleanly() {
    let tmp = tempdir();
    let org = tmp.path().join("org");
    ok(
        tmp.path(),
        &[
            "gen-org",
            "org",
            "--bench",
            "--repos",
            "6",
            "--commits",
            "1500",
            "--big",
            "15000",
            "--quiet",
        ],
    );
    let t0 = Instant::now();
    let a = apply_cmd(&org, "out-a").output().expect("apply runs");
    let first = t0.elapsed();
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    // The kill moments are fractions of an uninterrupted run: time a second one too (warm
    // caches, like the runs that get killed) and take the shorter, so that a slow first
    // run on a busy machine does not put every kill after the end.
    let t1 = Instant::now();
    let b = apply_cmd(&org, "out-b").output().expect("apply runs");
    let full = first.min(t1.elapsed());
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    eprintln!("uninterrupted apply: {first:?}, then {:?}", t1.elapsed());
    let expected = snapshot(&org.join("out-a"));
    assert_eq!(
        expected.len(),
        6,
        "3 monorepos and 3 commit maps: {:?}",
        expected.keys()
    );

    // SIGKILL at spread-out moments, each into a fresh directory; the last directory is
    // killed twice before the run that completes.
    let fractions = [0.1, 0.3, 0.5, 0.7, 0.9];
    let mut killed_midway = 0;
    for (i, f) in fractions.iter().enumerate() {
        let out = format!("out-kill-{i}");
        let kills: &[f64] = if i + 1 == fractions.len() {
            &[*f, 0.45]
        } else {
            &[*f]
        };
        for k in kills {
            let mut child = apply_cmd(&org, &out)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            std::thread::sleep(full.mul_f64(*k));
            let finished = child.try_wait().expect("try_wait").is_some();
            if !finished {
                killed_midway += 1;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let r = apply_cmd(&org, &out).output().expect("re-run");
        assert!(
            r.status.success(),
            "re-run after SIGKILL at {f}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        // Verify (slow) on two of them; refs, commit maps and fsck on all.
        assert_converged(&org, &out, &expected, i % 2 == 0);
    }
    assert!(
        killed_midway >= 3,
        "only {killed_midway} kills hit a running apply"
    );

    // Ctrl-C midway: a clear message, a non-zero exit, then a re-run converges.
    let child = apply_cmd(&org, "out-int")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(full.mul_f64(0.6));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let o = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&o.stderr);
    if o.status.success() {
        eprintln!("SIGINT came after apply finished ({full:?}); nothing to check but convergence");
    } else {
        assert_eq!(o.status.code(), Some(2), "exit code after Ctrl-C: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.contains("interrupted") && stderr.contains("run the same command again"),
            "{stderr}"
        );
    }
    let r = apply_cmd(&org, "out-int").output().expect("re-run");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_converged(&org, "out-int", &expected, true);
}

#[test]
fn a_crash_inside_the_ref_transaction_does_not_block_the_rerun() {
    // The state a SIGKILL between locking and committing the refs leaves (seen with a kill
    // ~90% into an apply of the bench org): objects and commit map written, refs not
    // moved, the lock files still there: `packed-refs.lock` half written, and the locks of
    // refs that also exist as loose files. Simulated exactly here, since the window is too
    // short to hit reliably with a timed kill.
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let w = root.join(format!("work-{API}"));
    commit(&w, &[("new.tf", "# more\n")], "More deployment");
    publish(root, API);
    let live = root.join("out/live.git");
    let old_main = git(&live, &["rev-parse", "main"]);
    let packed = std::fs::read(live.join("packed-refs")).expect("refs are packed");
    std::fs::write(live.join("packed-refs.lock"), &packed[..packed.len() / 2]).expect("write lock");
    for lock in [
        "refs/heads/main.lock",
        "refs/heads/import/api-static-dev-korea/main.lock",
    ] {
        let lock = live.join(lock);
        std::fs::create_dir_all(lock.parent().expect("parent")).expect("mkdir");
        std::fs::write(lock, &old_main).expect("write lock");
    }
    let r = run(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    assert_eq!(
        r.code,
        Some(0),
        "the re-run after a crash failed: {}",
        r.stderr
    );
    let leftover: Vec<String> = files_below(&live)
        .into_iter()
        .filter(|f| f.ends_with(".lock"))
        .collect();
    assert!(leftover.is_empty(), "stale locks left: {leftover:?}");
    let log = git(&live, &["log", "--format=%s", "main"]);
    assert!(log.contains("More deployment"), "{log}");
    let v = ok(root, &["verify", "mapping.hcl", "--out", "out"]);
    assert!(v.stdout.contains("verified"), "{}", v.stdout);
}

#[test]
fn a_crash_while_loose_refs_are_folded_into_packed_refs_converges_on_the_rerun() {
    // Refs are moved in one rename of packed-refs. A moved ref that also exists as a loose
    // file (here `main`, moved by hand with git) is first folded into packed-refs with its
    // current value and its loose file deleted, so nothing shadows the new values. A SIGKILL
    // in between leaves both copies (same value) and the locks, simulated here with
    // `git pack-refs --no-prune`: the re-run must reach the uninterrupted result.
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let live = root.join("out/live.git");
    let main = git(&live, &["rev-parse", "main"]).trim().to_string();
    let tree = git(&live, &["rev-parse", "main^{tree}"]).trim().to_string();
    let by_hand = git(&live, &["commit-tree", &tree, "-p", &main, "-m", "Work"]);
    git(&live, &["update-ref", "refs/heads/main", by_hand.trim()]);
    assert!(
        live.join("refs/heads/main").is_file(),
        "git wrote main loose"
    );
    let w = root.join(format!("work-{API}"));
    commit(&w, &[("new.tf", "# more\n")], "More deployment");
    publish(root, API);
    let status = std::process::Command::new("cp")
        .args(["-a", "out", "out-killed"])
        .current_dir(root)
        .status()
        .expect("cp runs");
    assert!(status.success());

    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let expected = refs(&live);
    assert!(!live.join("refs/heads/main").exists(), "loose main left");
    assert!(git(&live, &["log", "--format=%s", "main"]).contains("Work"));

    let killed = root.join("out-killed/live.git");
    let before = refs(&killed);
    git(&killed, &["pack-refs", "--all", "--no-prune"]);
    std::fs::write(killed.join("refs/heads/main.lock"), "").expect("write lock");
    std::fs::write(killed.join("packed-refs.lock"), "").expect("write lock");
    assert_eq!(refs(&killed), before, "folding changes no value");
    ok(
        root,
        &["apply", "mapping.hcl", "--out", "out-killed", "--quiet"],
    );
    assert_eq!(refs(&killed), expected);
    assert!(!killed.join("refs/heads/main").exists(), "loose main left");
    let locks: Vec<String> = files_below(&killed)
        .into_iter()
        .filter(|f| f.ends_with(".lock"))
        .collect();
    assert!(locks.is_empty(), "stale locks left: {locks:?}");
    git(&killed, &["fsck", "--full", "--no-dangling"]);
    let v = ok(root, &["verify", "mapping.hcl", "--out", "out-killed"]);
    assert!(v.stdout.contains("verified"), "{}", v.stdout);
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
