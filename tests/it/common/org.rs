//! Legacy orgs built with the git CLI for the tests: [`mini_org`] (an alb module repo and one
//! deployment, with options), [`org`] (one packed module repo), [`legacy_org`] (branches,
//! tags, merges), state snapshots for them, and the helpers that look at an output directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::git::commit;
use crate::common::{git, hermetic, ok, run_tfmono};

/// Writes a raw commit object (e.g. with a gpgsig header or an encoding) and returns its id.
pub(crate) fn raw_commit(w: &Path, raw: &[u8]) -> String {
    let mut child = hermetic(Command::new("git").current_dir(w).args([
        "hash-object",
        "-t",
        "commit",
        "-w",
        "--stdin",
    ]))
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .spawn()
    .expect("git runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(raw)
        .expect("write");
    let out = child.wait_with_output().expect("git");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

/// A legacy org: a module repo with merges, both kinds of tags, an empty commit, a signed
/// commit, a Latin-1 commit, a second branch; and a deployment repo. Returns the mapping.
pub(crate) fn legacy_org(root: &Path) -> PathBuf {
    let legacy = root.join("legacy");
    std::fs::create_dir_all(&legacy).expect("mkdir");
    let w = root.join("work-alb");
    std::fs::create_dir_all(&w).expect("mkdir");
    git(&w, &["init", "-q", "-b", "master"]);
    commit(
        &w,
        &[("main.tf", "resource \"aws_lb\" \"this\" {}\n")],
        "Initial ALB module",
    );
    git(&w, &["tag", "v1.0.0"]);
    git(&w, &["checkout", "-q", "-b", "feature/tls"]);
    commit(&w, &[("tls.tf", "# tls\n")], "Add TLS listener");
    git(&w, &["checkout", "-q", "master"]);
    commit(
        &w,
        &[("variables.tf", "variable \"name\" {}\n")],
        "Add variables",
    );
    git(
        &w,
        &[
            "merge",
            "-q",
            "--no-ff",
            "feature/tls",
            "-m",
            "Merge feature/tls",
        ],
    );
    commit(&w, &[], "An empty commit");
    git(
        &w,
        &["tag", "-a", "v2.0.0", "-m", "Release 2.0.0\n\nWith TLS."],
    );
    // A signed commit and a Latin-1 commit, written raw on top of master.
    let head = git(&w, &["rev-parse", "HEAD"]).trim().to_string();
    let tree = git(&w, &["rev-parse", "HEAD^{tree}"]).trim().to_string();
    let signed = raw_commit(
        &w,
        format!(
            "tree {tree}\nparent {head}\nauthor Dev <dev@acme.io> 1600000000 +0900\n\
committer Dev <dev@acme.io> 1600000001 -0330\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n \
iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nSigned change\n"
        )
        .as_bytes(),
    );
    // A real ISO-8859-1 message: the bytes are not valid UTF-8.
    let mut latin_raw = format!(
        "tree {tree}\nparent {signed}\nauthor Jos\u{e9} <j@acme.io> 1600000100 +0100\n\
committer Jos\u{e9} <j@acme.io> 1600000100 +0100\nencoding ISO-8859-1\n\n"
    )
    .into_bytes();
    latin_raw.extend_from_slice(b"Caf\xe9 cr\xe8me message\n");
    let latin = raw_commit(&w, &latin_raw);
    git(&w, &["update-ref", "refs/heads/master", &latin]);
    git(&w, &["reset", "-q", "--hard"]);
    git(&w, &["tag", "v2.1.0"]);
    git(&w, &["checkout", "-q", "-b", "develop"]);
    commit(&w, &[("dev.tf", "# wip\n")], "Work in progress");
    git(&w, &["checkout", "-q", "master"]);
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            "work-alb",
            "legacy/terraform-aws-alb.git",
        ],
    );
    let bare = legacy.join("terraform-aws-alb.git");
    // Branches of the bare clone: master, develop, feature/tls.
    for b in ["develop", "feature/tls"] {
        let id = git(&w, &["rev-parse", b]).trim().to_string();
        git(&bare, &["update-ref", &format!("refs/heads/{b}"), &id]);
    }

    let d = root.join("work-api");
    std::fs::create_dir_all(&d).expect("mkdir");
    git(&d, &["init", "-q", "-b", "main"]);
    commit(
        &d,
        &[("main.tf", "module \"alb\" {\n  source = \"git::https://github.com/acme/terraform-aws-alb.git?ref=v2.0.0\"\n}\n")],
        "Deploy api",
    );
    commit(
        &d,
        &[("outputs.tf", "output \"x\" { value = 1 }\n")],
        "Outputs",
    );
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            "work-api",
            "legacy/api-static-dev-korea.git",
        ],
    );

    std::fs::write(
        root.join("repos.txt"),
        "https://github.com/acme/terraform-aws-alb.git\nhttps://github.com/acme/api-static-dev-korea.git\n",
    )
    .expect("write");
    let mapping = root.join("mapping.hcl");
    std::fs::write(
        &mapping,
        r#"inventory = "repos.txt"
repos_dir = "legacy"
monorepo "reference-modules" {
  url = "git::https://github.com/acme/reference-modules.git"
}
monorepo "service-modules" {
  url = "git::https://github.com/acme/service-modules.git"
}
monorepo "live" {
  url = "git::https://github.com/acme/live.git"
}
repo "terraform-aws-alb" {
  url      = "https://github.com/acme/terraform-aws-alb.git"
  into     = "reference-modules"
  path     = "alb"
  branches = "all"
}
rule "deployments" {
  match = "github.com/acme/(?P<svc>[a-z]+)-(?P<kind>static|dynamic)-(?P<stage>dev|prod)-(?P<region>korea|usa)"
  into  = "live"
  path  = "{stage}/{region}/{svc}/{kind}"
}
"#,
    )
    .expect("write");
    mapping
}

pub(crate) fn apply(root: &Path, out: &str) -> String {
    let o = run_tfmono(root, &["apply", "mapping.hcl", "--out", out]);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "apply failed: {stderr}");
    stderr
}

/// A legacy org of one module repo `terraform-aws-alb` (three commits, tags v1.0.0 on the
/// second and v2.0.0 on the third) mapped into `reference-modules` under `alb`; the bare
/// repo is `root/legacy/terraform-aws-alb.git`. Returns it.
pub(crate) fn org(root: &Path) -> PathBuf {
    let w = root.join("work");
    std::fs::create_dir_all(&w).expect("mkdir");
    git(&w, &["init", "-q", "-b", "main"]);
    commit(
        &w,
        &[("main.tf", "resource \"aws_lb\" \"this\" {}\n")],
        "Initial",
    );
    commit(
        &w,
        &[("variables.tf", "variable \"name\" {}\n")],
        "Add variables",
    );
    git(&w, &["tag", "v1.0.0"]);
    commit(
        &w,
        &[("outputs.tf", "output \"x\" {\n  value = 1\n}\n")],
        "Add outputs",
    );
    git(&w, &["tag", "-a", "v2.0.0", "-m", "Release 2.0.0"]);
    std::fs::create_dir_all(root.join("legacy")).expect("mkdir");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            "work",
            "legacy/terraform-aws-alb.git",
        ],
    );
    // Packed, as a fetched repo is: apply links its pack into the monorepo.
    git(
        &root.join("legacy/terraform-aws-alb.git"),
        &["repack", "-adq"],
    );
    std::fs::write(
        root.join("repos.txt"),
        "https://github.com/acme/terraform-aws-alb.git\n",
    )
    .expect("write");
    std::fs::write(
        root.join("mapping.hcl"),
        r#"inventory = "repos.txt"
repos_dir = "legacy"
monorepo "reference-modules" {
  url = "git::https://github.com/acme/reference-modules.git"
}
repo "terraform-aws-alb" {
  url        = "https://github.com/acme/terraform-aws-alb.git"
  into       = "reference-modules"
  path       = "alb"
  tag_prefix = "alb/"
}
"#,
    )
    .expect("write");
    root.join("legacy/terraform-aws-alb.git")
}

/// Two legacy repos in `root/legacy` and their mapping into monorepo `m`: `x` (tag v1.0.0),
/// a fork of registry module `ns/x/aws`, and `app`, whose only file `name` holds `content`.
pub(crate) fn caller_org(root: &Path, name: &std::ffi::OsStr, content: &str) {
    let x = root.join("work/x");
    std::fs::create_dir_all(&x).expect("mkdir");
    git(&x, &["init", "-q", "-b", "main"]);
    std::fs::write(x.join("main.tf"), "variable \"a\" {}\n").expect("write");
    git(&x, &["add", "-A"]);
    git(&x, &["commit", "-q", "-m", "x"]);
    git(&x, &["tag", "v1.0.0"]);
    let app = root.join("work/app");
    std::fs::create_dir_all(&app).expect("mkdir");
    git(&app, &["init", "-q", "-b", "main"]);
    std::fs::write(app.join(name), content).expect("write");
    git(&app, &["add", "-A"]);
    git(&app, &["commit", "-q", "-m", "app"]);
    std::fs::create_dir_all(root.join("legacy")).expect("mkdir");
    for repo in ["x", "app"] {
        git(
            root,
            &[
                "clone",
                "-q",
                "--bare",
                &format!("work/{repo}"),
                &format!("legacy/{repo}.git"),
            ],
        );
    }
    std::fs::write(
        root.join("mapping.hcl"),
        "monorepo \"m\" { url = \"git::https://example.com/acme/m.git\" }\n\
         repo \"x\" {\n  url = \"legacy/x.git\"\n  into = \"m\"\n  path = \"x\"\n  registry = [\"ns/x/aws\"]\n}\n\
         repo \"app\" {\n  url = \"legacy/app.git\"\n  into = \"m\"\n  path = \"app\"\n}\n",
    )
    .expect("mapping");
}

pub(crate) const ROOT: &str = "live/dev/korea/api/static";

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

pub(crate) const ALB: &str = "terraform-aws-alb";
pub(crate) const API: &str = "api-static-dev-korea";

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
pub(crate) fn gen_org(dir: &Path) -> PathBuf {
    let r = ok(
        dir.parent().expect("parent"),
        &["gen-org", dir.to_str().expect("utf-8"), "--quiet"],
    );
    assert!(r.stdout.contains("mapping.hcl"), "{}", r.stdout);
    dir.to_path_buf()
}

/// The monorepo git dirs under `out`, by file name, sorted.
pub(crate) fn monorepos(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("out dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "git"))
        .collect();
    v.sort();
    v
}

/// Every regular file below `dir` (relative paths), sorted.
pub(crate) fn files_below(dir: &Path) -> Vec<String> {
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
