//! The mapping-test fixtures shared with the `push.sh` tests: bare legacy repos with tags and
//! a mapping written around a body.
#![allow(dead_code)]

use std::path::Path;

use crate::common::{self, git};

pub(crate) const MONOREPOS: &str = r#"
monorepo "reference-modules" { url = "git::https://github.com/acme/reference-modules.git" }
monorepo "live"              { url = "git::https://github.com/acme/live.git" }
"#;

/// Makes a bare legacy repo `legacy/<name>.git` with one commit and tags `tags`.
pub(crate) fn legacy_repo(root: &Path, name: &str, tags: &[&str]) {
    let bare = root.join("legacy").join(format!("{name}.git"));
    std::fs::create_dir_all(&bare).expect("mkdir");
    git(&bare, &["init", "-q", "--bare", "-b", "main"]);
    let work = root.join("work").join(name);
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("main.tf"), "variable \"x\" {}\n").expect("write");
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "init"]);
    for t in tags {
        git(&work, &["tag", t]);
    }
    git(
        &work,
        &["push", "-q", bare.to_str().expect("utf-8 path"), "--all"],
    );
    git(
        &work,
        &["push", "-q", bare.to_str().expect("utf-8 path"), "--tags"],
    );
}

/// Writes `mapping.hcl` (monorepos + `body`) and `repos.txt` into a fresh dir with legacy repos.
pub(crate) fn setup(body: &str, inventory: &[&str]) -> tempfile::TempDir {
    let dir = common::tempdir();
    for url in inventory {
        let name = url
            .trim_end_matches(".git")
            .rsplit('/')
            .next()
            .expect("has a name");
        legacy_repo(dir.path(), name, &["v1.0.0"]);
    }
    std::fs::write(dir.path().join("repos.txt"), inventory.join("\n") + "\n").expect("write");
    let text = format!("inventory = \"repos.txt\"\nrepos_dir = \"legacy\"\n{MONOREPOS}\n{body}");
    std::fs::write(dir.path().join("mapping.hcl"), text).expect("write");
    dir
}

pub(crate) const ALB: &str = "https://github.com/acme/terraform-aws-alb.git";

pub(crate) const REF_RULE: &str = r#"
rule "reference" {
  match    = "github.com/acme/terraform-aws-(?P<name>[a-z0-9-]+)"
  into     = "reference-modules"
  path     = "{name}"
  registry = ["terraform-aws-modules/{name}/aws"]
}
"#;
