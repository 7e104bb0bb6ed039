//! The command line's conventions (`src/cli/`): who authors tfmono's commits, report on
//! stdout and status on stderr, `--format json` everywhere, `--help` with examples and exit
//! codes, `plan --detailed-exitcode`; bad inputs get exit 2 and a clear message, I/O errors
//! name their cause once, secrets reach no output, and no command writes into the legacy
//! repos.

use std::path::Path;

use crate::common::org::{files_below, gen_org, mini_org, monorepos, MiniOpts, STATE_BLOCK};
use crate::common::{fails, git, ok, run, tempdir, tfmono, tree_hash, Run};

#[test]
fn the_mapping_identity_authors_every_commit_tfmono_writes() {
    let tmp = tempdir();
    let root = tmp.path();
    let identity =
        "identity = {\n  name  = \"Platform Team\"\n  email = \"platform@example.com\"\n}\n";
    mini_org(
        root,
        &MiniOpts {
            tail: identity,
            ..MiniOpts::default()
        },
    );
    ok(root, &["apply", "mapping.hcl", "--out", "out"]);
    let commits = main_commits(root);
    let who = "Platform Team <platform@example.com>";
    for subject in [
        "Rewrite module sources to monorepos",
        "Import api-static-dev-korea",
    ] {
        let line = commits
            .iter()
            .find(|l| l.contains(subject))
            .unwrap_or_else(|| panic!("no {subject:?} in {commits:?}"));
        assert!(line.starts_with(&format!("{who}|{who}|")), "{line}");
    }
    // legacy commits keep their own authors; the notes commit is tfmono's too
    let authors = git(&root.join("out/live.git"), &["log", "--format=%an", "main"]);
    let mut authors: Vec<&str> = authors.lines().collect();
    authors.sort_unstable();
    authors.dedup();
    assert_eq!(authors, ["Platform Team", "Test Author"]);
    let notes = git(
        &root.join("out/live.git"),
        &["log", "-1", "--format=%an <%ae>", "refs/notes/tfmono"],
    );
    assert_eq!(notes.trim(), who);
    ok(root, &["verify", "mapping.hcl", "--out", "out"]);

    // an identity git cannot write is refused at load time
    std::fs::write(
        root.join("mapping.hcl"),
        std::fs::read_to_string(root.join("mapping.hcl"))
            .expect("read")
            .replace("platform@example.com", "<bad>"),
    )
    .expect("write");
    let r = run(root, &["plan", "mapping.hcl"]);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr
            .contains("`identity`: `email` \"<bad>\" holds `<`, `>`"),
        "{}",
        r.stderr
    );
}

#[test]
fn without_an_identity_the_git_config_user_or_tfmono_authors_the_commits() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    let config = root.join("gitconfig");
    std::fs::write(
        &config,
        "[user]\n\tname = Jane Doe\n\temail = jane@example.com\n",
    )
    .expect("write");
    let o = tfmono()
        .current_dir(root)
        .env("GIT_CONFIG_GLOBAL", &config)
        .args(["apply", "mapping.hcl", "--out", "out"])
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let commits = main_commits(root);
    assert!(
        commits[0].starts_with("Jane Doe <jane@example.com>|Jane Doe <jane@example.com>|"),
        "{commits:?}"
    );

    // no git user at all (the harness's empty global config): tfmono <tfmono@localhost>
    std::fs::remove_dir_all(root.join("out")).expect("rm");
    ok(root, &["apply", "mapping.hcl", "--out", "out"]);
    let commits = main_commits(root);
    assert!(
        commits[0].starts_with("tfmono <tfmono@localhost>|"),
        "{commits:?}"
    );
}

#[test]
fn apply_prints_the_report_on_stdout_and_status_on_stderr() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    let r = ok(root, &["apply", "mapping.hcl", "--out", "out"]);
    assert!(r.stdout.starts_with("Plan: 2 legacy repos"), "{}", r.stdout);
    assert!(!r.stderr.contains("Plan:"), "{}", r.stderr);
    assert!(r.stderr.contains("Done. Monorepos in out"), "{}", r.stderr);
    // --quiet: errors only
    std::fs::remove_dir_all(root.join("out")).expect("rm");
    let r = ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
}

#[test]
fn verify_takes_format_json_and_keeps_json_as_an_alias() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let a = ok(
        root,
        &["verify", "mapping.hcl", "--out", "out", "--format", "json"],
    );
    let b = ok(root, &["verify", "mapping.hcl", "--out", "out", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&a.stdout).expect("json");
    assert!(v["checked"].is_array(), "{}", a.stdout);
    assert_eq!(a.stdout, b.stdout);
    let text = ok(
        root,
        &["verify", "mapping.hcl", "--out", "out", "--format", "text"],
    );
    assert!(
        text.stdout.contains("verified: every one of"),
        "{}",
        text.stdout
    );
    // the alias stays out of --help
    let help = ok(root, &["verify", "--help"]);
    assert!(help.stdout.contains("--format <FORMAT>") && !help.stdout.contains("--json"));
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let tmp = tempdir();
    for args in [
        &["--help"][..],
        &["plan", "--help"],
        &["apply", "--help"],
        &["rollback", "--help"],
    ] {
        let r = ok(tmp.path(), args);
        assert!(r.stdout.contains("Examples:"), "{args:?}: {}", r.stdout);
        assert!(r.stdout.contains("Exit codes:"), "{args:?}: {}", r.stdout);
    }
    let r = ok(tmp.path(), &["plan", "--help"]);
    assert!(r.stdout.contains("--detailed-exitcode"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("2  bad input or an error; with --detailed-exitcode: changes present"),
        "{}",
        r.stdout
    );
}

#[test]
fn plan_detailed_exitcode_follows_terraform() {
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(
        root,
        &MiniOpts {
            // an expression: left alone and listed as needing attention
            api_tf: "module \"alb\" {\n  source = var.alb_source\n}\n",
            ..MiniOpts::default()
        },
    );
    let changes = run(root, &["plan", "mapping.hcl", "--detailed-exitcode"]);
    assert_eq!(code(&changes), Some(2), "{}", changes.stderr);
    assert!(changes.stdout.starts_with("Plan:"), "{}", changes.stdout);
    // --strict: items needing attention are an error, 1 under --detailed-exitcode
    let strict = run(
        root,
        &["plan", "mapping.hcl", "--detailed-exitcode", "--strict"],
    );
    assert_eq!(code(&strict), Some(1), "{}", strict.stderr);
    assert!(
        strict.stderr.contains("--strict: 1 item(s) need attention"),
        "{}",
        strict.stderr
    );
    // bad input is an error too: 1 (2 without --detailed-exitcode)
    let missing = run(root, &["plan", "nope.hcl", "--detailed-exitcode"]);
    assert_eq!(code(&missing), Some(1), "{}", missing.stderr);
    assert_eq!(code(&run(root, &["plan", "nope.hcl"])), Some(2));

    // nothing to do: a mapping importing no repo
    std::fs::write(
        root.join("empty.hcl"),
        "monorepo \"live\" {\n  url = \"git::https://github.com/acme/live.git\"\n}\n",
    )
    .expect("write");
    let none = run(root, &["plan", "empty.hcl", "--detailed-exitcode"]);
    assert_eq!(code(&none), Some(0), "{}", none.stderr);
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
        "live.commit-map/index",
        "reference-modules.commit-map/index",
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
    // plan and verify with an applied output directory leave it byte-identical, but for
    // the record of what verify proved (for `verify --since-last`).
    let out = tmp.path().join("out");
    let out_before = tree_hash(&out);
    ok(&org, &["plan", "mapping.hcl"]);
    let v = ok(&org, &["verify", "mapping.hcl", "--out", "../out"]);
    assert!(v.stdout.contains("verified"), "{}", v.stdout);
    std::fs::remove_file(out.join(".tfmono/verified.json")).expect("verify records what it proved");
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

/// `author|committer|subject` of every first-parent commit on `main` of `out/live.git`.
fn main_commits(root: &Path) -> Vec<String> {
    git(
        &root.join("out/live.git"),
        &[
            "log",
            "--first-parent",
            "--format=%an <%ae>|%cn <%ce>|%s",
            "main",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

fn code(r: &Run) -> Option<i32> {
    r.code
}

const PASSWORD: &str = "t0ps3cret";
const SSHKEY: &str = "c2VjcmV0";

/// Asserts no secret is in `text`.
fn assert_clean(what: &str, text: &str) {
    for s in [PASSWORD, SSHKEY] {
        assert!(!text.contains(s), "{what} leaks {s}:\n{text}");
    }
}
