//! The command line's conventions (`src/cli/`): who authors tfmono's commits, report on
//! stdout and status on stderr, `--format json` everywhere, `--help` with examples and exit
//! codes, `plan --detailed-exitcode`.

use std::path::Path;

use crate::common::{git, ok, run, tempdir, tfmono, Run};
use crate::safety::{mini_org, MiniOpts};

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

fn code(r: &Run) -> Option<i32> {
    r.code
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
