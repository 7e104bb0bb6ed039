//! The reports through the binary: the summary first, the 100-column text, Markdown that
//! renders as intended within a pull request's size, the JSON summary, root-only files,
//! and progress bars on a terminal.

use std::path::{Path, PathBuf};
use std::process::Command;

use pulldown_cmark::{Event, Options, Parser, Tag};

use crate::common::{self, ok, tempdir};

#[test]
fn text_report_opens_with_a_summary_that_fits_one_screen() {
    let tmp = tempdir();
    let root = tmp.path();
    let mapping = org(root, &[]);
    let m = mapping.to_str().expect("utf-8");
    let text = ok(root, &["plan", m]).stdout;
    let head = summary(&text);
    assert!(head.len() <= 40, "{} summary lines:\n{text}", head.len());
    let head = head.join("\n");
    for needle in [
        "Plan: 25 legacy repos",
        "tags            167 tag(s) get a rewrite commit",
        "root-only files 15 in 5 repo(s)",
        "needs attention 2 item(s)",
        // each item right there, with file:line and why
        "    service-modules/web/bastion.tf:20\n      legacy URL in a string that is not a module source: # see",
        "    service-modules/web/testdata/legacy_source.tf:5\n      mentions terraform-aws-alb in a file",
    ] {
        assert!(head.contains(needle), "summary lacks {needle:?}:\n{head}");
    }
    // Every line fits 100 columns.
    let wide: Vec<&str> = text.lines().filter(|l| width(l) > 100).collect();
    assert!(wide.is_empty(), "lines over 100 columns: {wide:#?}");
    // Per-tag rewrites collapse: one entry per distinct change with its tag range, in
    // version order (v10.9.0 is the last, not v9.9.0).
    assert!(
        text.contains("  iam/main.tf  at iam/v0.1.0 .. iam/v10.9.0 (150)\n"),
        "{text}"
    );
    assert!(!text.contains("iam/v0.10.0  2 source(s)"), "{text}");
    // Sources left alone on purpose are counted per repo; --verbose lists them.
    assert!(
        text.contains("    terraform-acme-api: 2 local path, 1 external: not in the mapping"),
        "{text}"
    );
    assert!(!text.contains("left alone (local path)"), "{text}");
    let verbose = ok(root, &["plan", m, "--verbose"]).stdout;
    assert!(
        verbose.contains("api/main.tf:30  left alone (local path): ./modules/x"),
        "{verbose}"
    );
    assert!(verbose.lines().all(|l| width(l) <= 100));
    // The small print: no doubled parenthesis, and the shell `source` lines of the bastion's
    // user_data heredoc are not module sources.
    for report in [&text, &verbose] {
        assert!(!report.contains("mapping))"), "{report}");
        assert!(!report.contains("/etc/profile"), "{report}");
    }

    // An org of real-world size: the summary still fits one screen, lines 100 columns.
    let tmp = tempdir();
    let root = tmp.path();
    let mapping = big_org(root);
    let text = ok(root, &["plan", mapping.to_str().expect("utf-8")]).stdout;
    let head = summary(&text);
    assert!(head.len() <= 40, "{} summary lines:\n{text}", head.len());
    assert!(head[0].starts_with("Plan: 65 legacy repos"), "{}", head[0]);
    assert!(text.lines().all(|l| width(l) <= 100));
}

#[test]
fn root_only_files_are_listed_per_repo_with_what_to_do() {
    let tmp = tempdir();
    let root = tmp.path();
    let mapping = org(root, &[]);
    let m = mapping.to_str().expect("utf-8");
    let text = ok(root, &["plan", m]).stdout;
    for needle in [
        "root-only files: imported unchanged under the repo's path, where they stop working",
        "  reference-modules/alb/ (terraform-aws-alb): .github/workflows/ci.yml, .pre-commit-config.yaml,",
        "    GitHub workflow (5): GitHub runs only the root's .github/workflows",
        "    CODEOWNERS (5): merge its rules into the root CODEOWNERS",
        "    pre-commit config (5): merge its hooks",
    ] {
        assert!(text.contains(needle), "plan lacks {needle:?}:\n{text}");
    }
    // Service modules and deployments carry none.
    assert!(!text.contains("(terraform-acme-api): "), "{text}");

    let json = ok(root, &["plan", m, "--format", "json"]).stdout;
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let alb = v["monorepos"][0]["imports"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["repo"] == "terraform-aws-alb"))
        .expect("alb");
    assert_eq!(
        alb["root_only"],
        serde_json::json!([
            {"path": ".github/workflows/ci.yml", "kind": "github-workflow"},
            {"path": ".pre-commit-config.yaml", "kind": "pre-commit"},
            {"path": "CODEOWNERS", "kind": "codeowners"},
        ])
    );
    assert_eq!(v["summary"]["root_only"], 15);
    assert_eq!(v["summary"]["root_only_repos"], 5);
    let kinds = v["summary"]["root_only_kinds"].as_array().expect("kinds");
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(kinds
        .iter()
        .all(|k| k["files"] == 5 && k["advice"].as_str().is_some_and(|a| !a.is_empty())));
}

#[test]
fn json_report_opens_with_a_summary_and_keeps_the_plan_fields() {
    let tmp = tempdir();
    let root = tmp.path();
    let mapping = org(root, &[]);
    let json = ok(
        root,
        &["plan", mapping.to_str().expect("utf-8"), "--format", "json"],
    )
    .stdout;
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(keys[0], "summary", "{keys:?}");
    for k in [
        "schema",
        "fingerprint",
        "mapping",
        "monorepos",
        "warnings",
        "state",
        "key_changes",
    ] {
        assert!(v.get(k).is_some(), "{k} missing: {keys:?}");
    }
    let s = &v["summary"];
    assert_eq!(s["repos"], 25);
    assert_eq!(s["tags"], 170);
    assert_eq!(s["tags_rewritten"], 167);
    assert_eq!(s["rewrites"], 62);
    let attention = s["needs_attention"].as_array().expect("list");
    assert_eq!(attention.len(), 2);
    assert_eq!(attention[0]["place"], "service-modules/web/bastion.tf:20");
    assert_eq!(
        attention[0]["why"],
        "legacy URL in a string that is not a module source"
    );
    assert!(attention[0]["text"]
        .as_str()
        .is_some_and(|t| t.starts_with("# see https://")));
    assert_eq!(
        s["warnings"],
        v["warnings"].as_array().map(|w| w.len()).unwrap_or(0)
    );
}

#[test]
fn markdown_renders_as_intended_and_fits_a_pull_request_body() {
    let tmp = tempdir();
    let root = tmp.path();
    let mapping = org(root, &[]);
    let m = mapping.to_str().expect("utf-8");
    let md = ok(root, &["plan", m, "--format", "markdown"]).stdout;
    assert!(
        md.chars().count() < 60_000,
        "{} characters",
        md.chars().count()
    );
    let (html, tables, rendered) = parse(&md);
    assert_only_details(&html, &md);
    assert!(tables >= 8, "{tables} tables");
    // Tables parse as tables (no pipe rows left as text), `<tag>` is text, not HTML, and no
    // heredoc or code block lands in a list item.
    assert!(!rendered.contains("|---"), "{rendered}");
    assert!(rendered.contains("&lt;tag&gt;"), "{rendered}");
    assert!(!rendered.contains("<pre>"), "{rendered}");
    assert!(!md.contains("needs attention **needs attention**"), "{md}");
    // The summary opens the report: its table, then every item that needs attention.
    let summary_end = md.find("## Monorepo").expect("imports");
    let head = &md[..summary_end];
    assert!(head.contains("| **needs attention** | **2** |"), "{head}");
    assert!(
        head.contains("- `service-modules/web/bastion.tf:20` legacy URL in a string"),
        "{head}"
    );
    assert!(
        head.contains("| root-only files | 15 in 5 repo(s)"),
        "{head}"
    );

    // A big org: the main report stays in budget and names the detail file, which holds
    // everything and renders as well.
    let tmp = tempdir();
    let root = tmp.path();
    let mapping = big_org(root);
    let m = mapping.to_str().expect("utf-8");
    let r = ok(
        root,
        &["plan", m, "--format", "markdown", "--detail", "detail.md"],
    );
    let md = r.stdout;
    let detail = std::fs::read_to_string(root.join("detail.md")).expect("detail written");
    assert!(
        md.chars().count() < 60_000,
        "{} characters",
        md.chars().count()
    );
    assert!(
        detail.chars().count() > 60_000,
        "{} characters",
        detail.chars().count()
    );
    assert!(md.contains("is in `detail.md`"), "{md}");
    assert!(md.contains("more; all of them are in `detail.md`"), "{md}");
    assert!(!detail.contains("… and "), "the detail is cut");
    for text in [&md, &detail] {
        let (html, tables, rendered) = parse(text);
        assert_only_details(&html, text);
        assert!(tables >= 8, "{tables} tables");
        assert!(!rendered.contains("|---"));
    }
}

#[test]
fn progress_bars_name_each_phase_with_readable_rates_on_a_terminal_only() {
    let tmp = tempdir();
    let root = tmp.path();
    let mapping = org(root, &[]);
    let m = mapping.to_str().expect("utf-8");
    // Not a terminal: no bars.
    let r = ok(root, &["plan", m]);
    assert!(!r.stderr.contains("scan tags"), "{}", r.stderr);
    // Bars are drawn at most 20 times a second: a phase of a few milliseconds may not show,
    // so the plan runs up to three times until every phase has shown once.
    let mut plan = String::new();
    for _ in 0..3 {
        let Some(shown) = on_terminal(root, &["plan", m]) else {
            return;
        };
        plan.push_str(&shown);
        if plan.contains("scan tags of reference-modules") {
            break;
        }
    }
    assert!(plan.contains("reading legacy repos"), "{plan}");
    assert!(plan.contains("scan tags of reference-modules"), "{plan}");
    assert!(plan.contains("ETA"), "{plan}");
    let mut apply = String::new();
    for n in 0..3 {
        let out = format!("out{n}");
        let Some(shown) = on_terminal(root, &["apply", m, "--out", &out]) else {
            return;
        };
        apply.push_str(&shown);
        if apply.contains("import into reference-modules")
            && apply.contains("pack for reference-modules")
        {
            break;
        }
    }
    assert!(apply.contains("import into reference-modules"), "{apply}");
    assert!(apply.contains("pack for reference-modules"), "{apply}");
    // Rates read as `1,072/s`, never with four decimals.
    let four = regex::Regex::new(r"\d\.\d{4}/s").expect("regex");
    for shown in [&plan, &apply] {
        assert!(!four.is_match(shown), "{shown}");
    }
}

/// `tfmono gen-org DIR [extra]`; returns the mapping's path.
fn org(root: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec!["gen-org", "org", "--quiet"];
    args.extend_from_slice(extra);
    ok(root, &args);
    root.join("org/mapping.hcl")
}

/// The benchmark shape, small: the demo org (150 release tags, examples, heredocs,
/// Terragrunt) plus 40 extra forks.
fn big_org(root: &Path) -> PathBuf {
    org(
        root,
        &["--bench", "--repos", "40", "--commits", "10", "--big", "0"],
    )
}

fn width(line: &str) -> usize {
    line.chars().count()
}

/// The lines before the first blank line: the summary.
fn summary(text: &str) -> Vec<&str> {
    text.lines().take_while(|l| !l.is_empty()).collect()
}

/// The HTML-ish events of a Markdown text, parsed as GitHub does (tables on).
fn parse(md: &str) -> (Vec<String>, usize, String) {
    let parser = Parser::new_ext(md, Options::ENABLE_TABLES);
    let events: Vec<Event> = parser.collect();
    let html: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Html(h) | Event::InlineHtml(h) => Some(h.to_string()),
            _ => None,
        })
        .collect();
    let tables = events
        .iter()
        .filter(|e| matches!(e, Event::Start(Tag::Table(_))))
        .count();
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events.into_iter());
    (html, tables, out)
}

/// Asserts the only raw HTML is balanced `<details>`/`<summary>` folding.
fn assert_only_details(html: &[String], md: &str) {
    let mut open = 0i32;
    for h in html {
        let h = h.trim();
        if h.starts_with("<details><summary>") && h.ends_with("</summary>") {
            open += 1;
        } else if h == "</details>" {
            open -= 1;
            assert!(open >= 0, "</details> without <details>");
        } else {
            panic!("raw HTML leaks into the report: {h:?}\n{md}");
        }
    }
    assert_eq!(open, 0, "unbalanced <details>");
}

/// Runs `tfmono args` in `dir` under a pseudo-terminal (util-linux `script`), so stderr is
/// a terminal; returns what the terminal showed. `None` when `script` is missing (outside
/// CI).
fn on_terminal(dir: &Path, args: &[&str]) -> Option<String> {
    let bin = env!("CARGO_BIN_EXE_tfmono");
    let line = std::iter::once(bin)
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    common::hermetic(&mut cmd);
    let out = match cmd
        .current_dir(dir)
        .args(["-qec", &format!("{line} >/dev/null"), "/dev/null"])
        .env("NO_COLOR", "1")
        .output()
    {
        Ok(o) => o,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: no `script` to make a terminal ({e})");
            return None;
        }
        Err(e) => panic!("`script` (util-linux) is needed to test progress bars: {e}"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}
