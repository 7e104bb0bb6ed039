//! Proof with the real Terraform 1.0.3 on the generated demo org: for every deployment,
//! `terraform get` in a checkout of the legacy deployment repo and in its directory of the
//! `live` monorepo downloads the same module tree with the same file contents (only the
//! rewritten `source`/`version` lines differ).
//!
//! Everything is local and offline: git may only use the `file` transport
//! (`GIT_ALLOW_PROTOCOL=file`, `GIT_SSH_COMMAND=false`); GitHub URLs reach local bare repos
//! through a test-only git config (`url.<base>.insteadOf`); the public registry address
//! `terraform-aws-modules/<x>/aws` reaches a tiny module registry served by python3 on
//! 127.0.0.1 (the CLI config's `host` block: Terraform 1.0.3 accepts a plain `http://` URL for
//! `modules.v1` there); any other HTTP request goes to a dead proxy.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use regex::Regex;

use crate::common::git::{s, write};
use crate::common::{self, git, run_tfmono, tempdir};

#[test]
fn every_deployment_gets_the_same_modules_from_the_monorepos() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let started = Instant::now();
    let f = fixture();
    let (registry, env_a, env_b) = both_sides(&f);

    let live = clone(&f.root, &f.out.join("live.git"), &f.root.join("work/live"));
    let deployments = deployments(&f.legacy);
    assert_eq!(deployments.len(), 16, "{deployments:?}");
    let (mut modules, mut files_compared, mut gets) = (0, 0, 0);
    let mut kinds = BTreeSet::new();
    let tf_started = Instant::now();
    for (repo, path) in &deployments {
        let checkout = clone(
            &f.root,
            &f.legacy.join(format!("{repo}.git")),
            &f.root.join("work/legacy").join(repo),
        );
        let a = terraform_get(&tf, &checkout, &env_a)
            .unwrap_or_else(|e| panic!("terraform get in legacy {repo} failed:\n{e}"));
        let dir = live.join(path);
        let b = terraform_get(&tf, &dir, &env_b)
            .unwrap_or_else(|e| panic!("terraform get in live/{path} failed:\n{e}"));
        gets += 2;

        // The deployment's call itself: a legacy URL in (a), the monorepo in (b).
        let svc = path.split('/').nth(2).expect("svc");
        let (call_a, call_b) = (&a[svc], &b[svc]);
        assert!(
            call_a
                .source
                .contains(&format!("acme/terraform-acme-{svc}.git")),
            "{call_a:?}"
        );
        assert_eq!(
            call_b.source,
            format!("git::https://github.com/acme/service-modules.git//{svc}?ref={svc}/v1.1.0"),
            "live/{path}"
        );
        // The registry module: Terraform picked the highest 1.x fork tag (a); in (b) the
        // same registry call comes from the imported service-module tag.
        let endpoints = format!("{svc}.vpc_endpoints");
        assert_eq!(a[&endpoints].version.as_deref(), Some("1.1.0"), "{repo}");
        // The root differs only by the rewritten source line (and terragrunt.hcl, which
        // Terraform does not read and whose backend key is pinned by design).
        let raw = |m: &BTreeMap<String, Module>| files(&m[""].dir, &["terragrunt.hcl"]);
        assert_ne!(
            raw(&a)["main.tf"],
            raw(&b)["main.tf"],
            "main.tf not rewritten"
        );
        let (m, n) = assert_same_modules(
            &format!("{repo} vs live/{path}"),
            &a,
            &b,
            &["terragrunt.hcl"],
        );
        assert!(m >= 11, "{repo}: only {m} modules: {:?}", a.keys());
        modules += m;
        files_compared += n;
        kinds.insert(path.rsplit('/').next().expect("kind").to_string());
    }
    let reqs = registry.requests();
    assert!(
        reqs.iter()
            .any(|r| r.ends_with("/terraform-aws-modules/vpc/aws/1.1.0/download")),
        "{reqs:?}"
    );
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    eprintln!(
        "terraform get: {gets} runs ({} deployments), {modules} modules and {files_compared} files compared, {:.1?} in terraform+git, {:.1?} in all",
        deployments.len(),
        tf_started.elapsed(),
        started.elapsed()
    );
}

#[test]
fn service_modules_on_main_get_the_same_modules_without_legacy_urls_or_registry() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let f = fixture();
    let (registry, env_a, env_b) = both_sides(&f);
    let mono = clone(
        &f.root,
        &f.out.join("service-modules.git"),
        &f.root.join("work/service-modules"),
    );
    for svc in ["api", "web"] {
        let checkout = clone(
            &f.root,
            &f.legacy.join(format!("terraform-acme-{svc}.git")),
            &f.root.join("work/legacy").join(svc),
        );
        let a = terraform_get(&tf, &checkout, &env_a)
            .unwrap_or_else(|e| panic!("terraform get in legacy {svc} failed:\n{e}"));
        let b = terraform_get(&tf, &mono.join(svc), &env_b)
            .unwrap_or_else(|e| panic!("terraform get in service-modules/{svc} failed:\n{e}"));
        // Terraform's own registry resolution of `~> 1.0` in (a) ...
        assert_eq!(a["vpc_endpoints"].source, "terraform-aws-modules/vpc/aws");
        assert_eq!(a["vpc_endpoints"].version.as_deref(), Some("1.1.0"));
        assert!(a["vpc_endpoints"].dir.join("timeouts.tf").is_file());
        // ... is the tag the rewrite chose in (b).
        assert_eq!(
            b["vpc_endpoints"].source,
            "git::https://github.com/acme/reference-modules.git//vpc?ref=vpc/v1.1.0"
        );
        // The commit-id pin and the branch ref went to the monorepo too.
        assert!(
            b["s3_logs"]
                .source
                .starts_with("git::https://github.com/acme/reference-modules.git//s3?ref="),
            "{:?}",
            b["s3_logs"]
        );
        assert_eq!(
            b["ecs_canary"].source,
            "git::https://github.com/acme/reference-modules.git//ecs?ref=main"
        );
        for (key, m) in &b {
            assert!(
                !m.source.contains("terraform-aws-") && !m.source.contains("terraform-acme-"),
                "{svc}: {key} still calls a legacy repo: {}",
                m.source
            );
        }
        let (n, _) = assert_same_modules(&format!("service module {svc}"), &a, &b, &[]);
        assert!(n >= 11, "{svc}: {n} modules");
    }
    let reqs = registry.requests();
    assert!(
        reqs.iter()
            .any(|r| r.ends_with("/terraform-aws-modules/vpc/aws/versions")),
        "{reqs:?}"
    );
}

#[test]
fn deployments_in_live_need_no_legacy_url() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let f = fixture();
    // Only the monorepos and other-org; no legacy URL resolves and the registry is closed.
    let env_b = env(&f.root, "monorepo-only", &monorepo_maps(&f), None);
    let live = clone(&f.root, &f.out.join("live.git"), &f.root.join("work/live"));
    for (_, path) in deployments(&f.legacy) {
        let got = terraform_get(&tf, &live.join(&path), &env_b)
            .unwrap_or_else(|e| panic!("terraform get in live/{path} failed:\n{e}"));
        for (key, m) in &got {
            assert!(
                !m.source.contains("terraform-aws-") && !m.source.contains("terraform-acme-"),
                "live/{path}: {key} calls a legacy repo: {}",
                m.source
            );
        }
    }
}

#[test]
fn terragrunt_split_sources_and_stack_units_get_the_same_modules() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let f = fixture();
    let (_registry, env_a, env_b) = both_sides(&f);
    let legacy = clone(
        &f.root,
        &f.legacy.join("terragrunt-live.git"),
        &f.root.join("work/legacy/terragrunt-live"),
    );
    let live = clone(&f.root, &f.out.join("live.git"), &f.root.join("work/live"));
    let before = terragrunt_sources(&legacy);
    let after = terragrunt_sources(&live.join("terragrunt"));
    assert_eq!(
        before.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        after.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    let units = before
        .iter()
        .filter(|(k, _)| k.ends_with("/terragrunt.hcl"))
        .count();
    assert_eq!(units, 4, "{before:?}");
    assert!(before.len() > units, "no stack units: {before:?}");
    for ((place, old), (_, new)) in before.iter().zip(&after) {
        assert!(
            old.contains("acme/terraform-acme-") || old.contains("acme/terragrunt-live"),
            "{place}: {old}"
        );
        assert!(
            new.starts_with("git::https://github.com/acme/service-modules.git//")
                || new.starts_with("git::https://github.com/acme/live.git//terragrunt/"),
            "{place}: {new}"
        );
        let root_a = f
            .root
            .join("roots/legacy")
            .join(place.replace(['/', '#'], "_"));
        let root_b = f
            .root
            .join("roots/mono")
            .join(place.replace(['/', '#'], "_"));
        write(
            &root_a.join("main.tf"),
            &format!("module \"unit\" {{\n  source = \"{old}\"\n}}\n"),
        );
        write(
            &root_b.join("main.tf"),
            &format!("module \"unit\" {{\n  source = \"{new}\"\n}}\n"),
        );
        let mut a = terraform_get(&tf, &root_a, &env_a)
            .unwrap_or_else(|e| panic!("{place}: terraform get of {old} failed:\n{e}"));
        let mut b = terraform_get(&tf, &root_b, &env_b)
            .unwrap_or_else(|e| panic!("{place}: terraform get of {new} failed:\n{e}"));
        // The roots are the one-line callers written above; compare what they installed.
        a.remove("");
        b.remove("");
        let (modules, _) = assert_same_modules(place, &a, &b, &[]);
        assert!(modules >= 1, "{place}: nothing installed");
    }
}

/// `version = "= 2.0.0-rc1"` (issue 12 listed it as valid): Terraform 1.0.3 installs a
/// prerelease only when the constraint's text is exactly the version
/// (`internal/initwd/module_install.go`), so it refuses this one while `"2.0.0-rc1"` works.
/// tfmono decides the same: the real Terraform and the plan agree on both spellings.
#[test]
fn a_prerelease_is_chosen_exactly_when_terraform_chooses_it() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let tmp = tempdir();
    let root = tmp.path();
    // The fork, named so the test registry serves it as terraform-aws-modules/vpc/aws.
    let work = root.join("work/vpc");
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    write(&work.join("main.tf"), "variable \"release\" {}\n");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "1.0.0"]);
    git(&work, &["tag", "v1.0.0"]);
    write(&work.join("main.tf"), "variable \"candidate\" {}\n");
    git(&work, &["commit", "-q", "-am", "2.0.0-rc1"]);
    git(&work, &["tag", "v2.0.0-rc1"]);
    let legacy = root.join("legacy");
    std::fs::create_dir_all(&legacy).expect("mkdir");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            s(&work),
            s(&legacy.join("terraform-aws-vpc.git")),
        ],
    );
    let registry = Registry::start(&legacy, root.join("registry.log"));
    let maps: Vec<Map> = vec![(
        format!("file://{}/", legacy.display()),
        "https://github.com/acme/",
    )];
    let e = env(root, "legacy", &maps, Some(&registry));
    let call = |constraint: &str| {
        format!(
            "module \"vpc\" {{\n  source  = \"terraform-aws-modules/vpc/aws\"\n  version = \"{constraint}\"\n}}\n"
        )
    };
    for (name, constraint, installs) in [
        ("exact", "2.0.0-rc1", true),
        ("operator", "= 2.0.0-rc1", false),
    ] {
        // What Terraform 1.0.3 does.
        let dir = root.join("roots").join(name);
        write(&dir.join("main.tf"), &call(constraint));
        let got = terraform_get(&tf, &dir, &e);
        assert_eq!(
            got.is_ok(),
            installs,
            "terraform get with {constraint:?}: {got:?}"
        );
        if let Ok(m) = &got {
            assert_eq!(m["vpc"].version.as_deref(), Some("2.0.0-rc1"));
        }
        // What tfmono plans for the same call in a mapped repo.
        let app = root.join("work").join(format!("app-{name}"));
        std::fs::create_dir_all(&app).expect("mkdir");
        git(&app, &["init", "-q", "-b", "main"]);
        write(&app.join("main.tf"), &call(constraint));
        git(&app, &["add", "-A"]);
        git(&app, &["commit", "-q", "-m", "app"]);
        let bare = legacy.join(format!("app-{name}.git"));
        git(root, &["clone", "-q", "--bare", s(&app), s(&bare)]);
        let mapping = root.join(format!("mapping-{name}.hcl"));
        write(
            &mapping,
            &format!(
                "monorepo \"m\" {{ url = \"git::https://github.com/acme/m.git\" }}\n\
                 repo \"terraform-aws-vpc\" {{\n  url = \"https://github.com/acme/terraform-aws-vpc.git\"\n  into = \"m\"\n  path = \"vpc\"\n  registry = [\"terraform-aws-modules/vpc/aws\"]\n}}\n\
                 repo \"app\" {{\n  url = \"{}\"\n  into = \"m\"\n  path = \"app\"\n}}\n\
                 repos_dir = \"legacy\"\n",
                bare.display()
            ),
        );
        let out = run_tfmono(root, &["plan", s(&mapping), "--format", "json"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if installs {
            assert!(out.status.success(), "{text}");
            assert!(
                text.contains("git::https://github.com/acme/m.git//vpc?ref=vpc/v2.0.0-rc1"),
                "{text}"
            );
        } else {
            assert_eq!(out.status.code(), Some(2), "{text}");
            assert!(
                text.contains("no tag of terraform-aws-vpc satisfies"),
                "{text}"
            );
        }
    }
}

/// The generated org, migrated, and the external repo its service modules call.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    /// `root/org/legacy`: the legacy bare repos.
    legacy: PathBuf,
    /// `root/out`: the monorepos written by `tfmono apply`.
    out: PathBuf,
    /// `root/ext/other-org`: `thing.git` with tag `v1`, for `github.com/other-org/thing`.
    other_org: PathBuf,
}

fn ok(root: &Path, args: &[&str]) {
    let o = run_tfmono(root, args);
    assert!(
        o.status.success(),
        "tfmono {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn fixture() -> Fixture {
    let tmp = tempdir();
    let root = tmp.path().to_path_buf();
    ok(&root, &["gen-org", "org"]);
    ok(
        &root,
        &["apply", "org/mapping.hcl", "--out", "out", "--quiet"],
    );
    // The external module: left alone by the rewrite, so both sides fetch it from here.
    let work = root.join("ext/work");
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    write(
        &work.join("main.tf"),
        "# other-org's thing\nvariable \"enabled\" {\n  type = bool\n}\n",
    );
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "thing v1"]);
    git(&work, &["tag", "v1"]);
    let other_org = root.join("ext/other-org");
    std::fs::create_dir_all(&other_org).expect("mkdir");
    git(
        &root,
        &[
            "clone",
            "-q",
            "--bare",
            s(&work),
            s(&other_org.join("thing.git")),
        ],
    );
    Fixture {
        legacy: root.join("org/legacy"),
        out: root.join("out"),
        other_org,
        root,
        _tmp: tmp,
    }
}

/// The python3 module registry: `GET /v1/modules/<ns>/<name>/<provider>/versions` and
/// `.../<version>/download` (204 + `X-Terraform-Get`) for each module in the spec
/// `{"<ns>/<name>/<provider>": {"versions": [...], "get": "<git url without ref>"}}`.
/// Prints its port, then appends every request path to the log file.
const REGISTRY_PY: &str = r#"
import http.server, json, sys
spec = json.loads(sys.argv[1])
log = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        log.write(self.path + "\n"); log.flush()
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) >= 6 and parts[:2] == ["v1", "modules"]:
            m = spec.get("/".join(parts[2:5]))
            rest = parts[5:]
            if m and rest == ["versions"]:
                body = json.dumps({"modules": [{"versions": [{"version": v} for v in m["versions"]]}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if m and len(rest) == 2 and rest[1] == "download" and rest[0] in m["versions"]:
                self.send_response(204)
                self.send_header("X-Terraform-Get", m["get"] + "?ref=v" + rest[0])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// A running registry; killed (by its own handle) when dropped.
struct Registry {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Registry {
    /// Serves `terraform-aws-modules/<x>/aws` for every legacy fork `terraform-aws-<x>`, its
    /// versions being the fork's `vX.Y.Z` tags without the `v`, downloads pointing at the
    /// fork's legacy URL.
    fn start(legacy: &Path, log: PathBuf) -> Registry {
        let mut spec = serde_json::Map::new();
        for e in std::fs::read_dir(legacy).expect("legacy dir") {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            let Some(fork) = name
                .strip_prefix("terraform-aws-")
                .and_then(|n| n.strip_suffix(".git"))
            else {
                continue;
            };
            let versions: Vec<String> = git(&legacy.join(&name), &["tag", "--list", "v*"])
                .lines()
                .map(|t| t.trim_start_matches('v').to_string())
                .collect();
            spec.insert(
                format!("terraform-aws-modules/{fork}/aws"),
                serde_json::json!({
                    "versions": versions,
                    "get": format!("git::https://github.com/acme/terraform-aws-{fork}.git"),
                }),
            );
        }
        assert!(
            spec.contains_key("terraform-aws-modules/vpc/aws"),
            "{spec:?}"
        );
        let mut child = Command::new("python3")
            .args(["-c", REGISTRY_PY])
            .arg(serde_json::Value::Object(spec).to_string())
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("registry prints its port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the registry did not start: {line:?}")
        });
        Registry { child, port, log }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1/modules/", self.port)
    }

    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one `terraform get` may reach: a git config and a Terraform CLI config.
struct Env {
    gitconfig: PathBuf,
    cliconfig: PathBuf,
}

/// A git `url.<local>.insteadOf = <prefix>` entry: (local, prefix).
type Map = (String, &'static str);

/// Writes a git config with the `insteadOf` entries `maps`, and a CLI config whose
/// `registry.terraform.io` module service is `registry` (or a closed port, so any registry
/// request fails).
fn env(root: &Path, name: &str, maps: &[Map], registry: Option<&Registry>) -> Env {
    let mut cfg = String::new();
    for (local, prefix) in maps {
        cfg.push_str(&format!("[url \"{local}\"]\n\tinsteadOf = {prefix}\n"));
    }
    cfg.push_str("[protocol \"file\"]\n\tallow = always\n");
    let gitconfig = root.join(format!("env/{name}.gitconfig"));
    write(&gitconfig, &cfg);
    let modules = registry.map_or("http://127.0.0.1:1/v1/modules/".to_string(), Registry::url);
    let cliconfig = root.join(format!("env/{name}.tfrc"));
    write(
        &cliconfig,
        &format!(
            "disable_checkpoint = true\n\nhost \"registry.terraform.io\" {{\n  services = {{\n    \"modules.v1\" = \"{modules}\"\n  }}\n}}\n"
        ),
    );
    Env {
        gitconfig,
        cliconfig,
    }
}

/// The registry and both sides' environments: (a) legacy URLs, other-org and the registry;
/// (b) ONLY the monorepos and other-org, with a closed registry port, so every call in the
/// chain must resolve in the monorepos.
fn both_sides(f: &Fixture) -> (Registry, Env, Env) {
    let registry = Registry::start(&f.legacy, f.root.join("registry.log"));
    let mut maps_a = legacy_maps(f);
    maps_a.push(other_org_map(f));
    let env_a = env(&f.root, "legacy", &maps_a, Some(&registry));
    let env_b = env(&f.root, "monorepo-only", &monorepo_maps(f), None);
    (registry, env_a, env_b)
}

/// The insteadOf entries for every legacy URL form, as go-getter hands them to git:
/// `git::https://`, `github.com/acme/x` (-> `https://github.com/acme/x.git`),
/// `git::ssh://git@` and scp-like `git@github.com:acme/x.git` (-> `ssh://git@github.com/acme/x.git`).
fn legacy_maps(f: &Fixture) -> Vec<Map> {
    let base = format!("file://{}/", f.legacy.display());
    vec![
        (base.clone(), "https://github.com/acme/"),
        (base, "ssh://git@github.com/acme/"),
    ]
}

/// The external repo: `https://github.com/other-org/` (left alone by the rewrite).
fn other_org_map(f: &Fixture) -> Map {
    (
        format!("file://{}/", f.other_org.display()),
        "https://github.com/other-org/",
    )
}

/// The monorepo URLs of the mapping (`git::https://github.com/acme/<monorepo>.git`) and the
/// external repo. Longer prefixes win in git, so these beat the legacy `https://` entry.
fn monorepo_maps(f: &Fixture) -> Vec<Map> {
    let mut maps: Vec<Map> = [
        (
            "reference-modules",
            "https://github.com/acme/reference-modules.git",
        ),
        (
            "service-modules",
            "https://github.com/acme/service-modules.git",
        ),
        ("live", "https://github.com/acme/live.git"),
    ]
    .into_iter()
    .map(|(name, prefix)| (format!("file://{}/{name}.git", f.out.display()), prefix))
    .collect();
    maps.push(other_org_map(f));
    maps
}

/// One installed module: its modules.json entry and directory.
#[derive(Debug)]
struct Module {
    source: String,
    version: Option<String>,
    dir: PathBuf,
}

/// Runs `terraform get` in `dir`; returns module key -> module ("" is the root), or the
/// output on failure.
fn terraform_get(tf: &Path, dir: &Path, env: &Env) -> Result<BTreeMap<String, Module>, String> {
    let mut cmd = Command::new(tf);
    common::hermetic(&mut cmd);
    let out = cmd
        .args(["get", "-no-color"])
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", &env.gitconfig)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_ALLOW_PROTOCOL", "file")
        .env("GIT_SSH_COMMAND", "false")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("TF_CLI_CONFIG_FILE", &env.cliconfig)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env("HTTP_PROXY", "http://127.0.0.1:1")
        .env("HTTPS_PROXY", "http://127.0.0.1:1")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env_remove("TF_PLUGIN_CACHE_DIR")
        .env_remove("TF_DATA_DIR")
        .output()
        .expect("terraform runs");
    if !out.status.success() {
        return Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let manifest = std::fs::read_to_string(dir.join(".terraform/modules/modules.json"))
        .expect("modules.json written");
    let v: serde_json::Value = serde_json::from_str(&manifest).expect("modules.json is JSON");
    Ok(v["Modules"]
        .as_array()
        .expect("Modules array")
        .iter()
        .map(|m| {
            (
                m["Key"].as_str().expect("Key").to_string(),
                Module {
                    source: m["Source"].as_str().unwrap_or_default().to_string(),
                    version: m["Version"].as_str().map(str::to_string),
                    dir: dir.join(m["Dir"].as_str().expect("Dir")),
                },
            )
        })
        .collect())
}

/// Every file below `dir`, path -> bytes, except the names in `skip` and dot entries
/// (`.git`, `.terraform`, `.gitignore`): when one run needs the same package (address and
/// ref) twice, Terraform copies its first download and skips dot files
/// (`internal/initwd/copy_dir.go`), so which module has them depends on the call order.
fn files(dir: &Path, skip: &[&str]) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("readable dir") {
            let p = e.expect("entry").path();
            let name = p.file_name().expect("name").to_string_lossy();
            if name.starts_with('.') || skip.contains(&name.as_ref()) {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, skip, out);
            } else {
                let rel = p.strip_prefix(root).expect("below").to_string_lossy();
                out.insert(rel.into_owned(), std::fs::read(&p).expect("readable file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, skip, &mut out);
    out
}

/// Drops the `source`/`version` assignments (HCL `source = …`, JSON `"source": …`) of
/// Terraform and Terragrunt files; every other byte stays.
fn normalised(files: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    let assignment = Regex::new(r#"^\s*"?(source|version)"?\s*[=:]"#).expect("regex");
    files
        .iter()
        .map(|(path, bytes)| {
            let tf = [".tf", ".tf.json", ".hcl"]
                .iter()
                .any(|e| path.ends_with(e));
            let text = String::from_utf8_lossy(bytes);
            let kept = if tf {
                text.split_inclusive('\n')
                    .filter(|l| !assignment.is_match(l))
                    .collect::<String>()
                    .into_bytes()
            } else {
                bytes.clone()
            };
            (path.clone(), kept)
        })
        .collect()
}

/// Asserts both runs installed the same module keys with the same (normalised) files;
/// returns how many modules and files were compared.
fn assert_same_modules(
    what: &str,
    legacy: &BTreeMap<String, Module>,
    mono: &BTreeMap<String, Module>,
    root_skip: &[&str],
) -> (usize, usize) {
    let keys = |m: &BTreeMap<String, Module>| m.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(legacy), keys(mono), "{what}: module keys differ");
    let mut compared = 0;
    for (key, old) in legacy {
        let new = &mono[key];
        let skip: &[&str] = if key.is_empty() { root_skip } else { &[] };
        let (before, after) = (files(&old.dir, skip), files(&new.dir, skip));
        assert!(!before.is_empty(), "{what}: module {key:?}: no files");
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>(),
            "{what}: module {key:?}: different files in {} and {}",
            old.dir.display(),
            new.dir.display()
        );
        for ((path, a), b) in normalised(&before).iter().zip(normalised(&after).values()) {
            assert!(
                a == b,
                "{what}: module {key:?}: {path} differs beyond source/version lines:\n--- legacy\n{}\n--- monorepo\n{}",
                String::from_utf8_lossy(a),
                String::from_utf8_lossy(b)
            );
        }
        compared += before.len();
    }
    (legacy.len(), compared)
}

/// Every deployment repo of the generated org: (repo name, `<stage>/<region>/<svc>/<kind>`).
fn deployments(legacy: &Path) -> Vec<(String, String)> {
    let re =
        Regex::new(r"^([a-z0-9]+)-(static|dynamic)-([a-z0-9]+)-([a-z0-9]+)\.git$").expect("regex");
    let mut out: Vec<(String, String)> = std::fs::read_dir(legacy)
        .expect("legacy dir")
        .filter_map(|e| {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            let c = re.captures(&name)?;
            Some((
                name.trim_end_matches(".git").to_string(),
                format!("{}/{}/{}/{}", &c[3], &c[4], &c[1], &c[2]),
            ))
        })
        .collect();
    out.sort();
    out
}

fn clone(root: &Path, bare: &Path, to: &Path) -> PathBuf {
    git(root, &["clone", "-q", s(bare), s(to)]);
    to.to_path_buf()
}

/// Terragrunt composes a unit's source from the base URL of the file its `include` names
/// and the unit's `?ref=` suffix; `terragrunt.stack.hcl` units carry whole sources. Both
/// are go-getter addresses, so Terraform fetches them like module sources: each composed
/// source, before (legacy URLs only) and after the migration (monorepos only), must install
/// the same modules.
fn terragrunt_sources(dir: &Path) -> Vec<(String, String)> {
    let unit_re =
        Regex::new(r#"source = "\$\{include\.envcommon\.locals\.base_source_url\}([^"]*)""#)
            .expect("regex");
    let include_re = Regex::new(r#"path\s*=\s*".*\}/(_envcommon/[a-z]+\.hcl)""#).expect("regex");
    let base_re = Regex::new(r#"base_source_url\s*=\s*"([^"]+)""#).expect("regex");
    let stack_re = Regex::new(r#"source\s*=\s*"([^"]+)""#).expect("regex");
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir") {
            let p = e.expect("entry").path();
            let rel = p.strip_prefix(dir).expect("below").display().to_string();
            if p.is_dir() {
                if !rel.starts_with('.') {
                    stack.push(p);
                }
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            if rel.ends_with("/terragrunt.hcl") {
                if let (Some(u), Some(i)) = (unit_re.captures(&text), include_re.captures(&text)) {
                    let common = std::fs::read_to_string(dir.join(&i[1])).expect("envcommon");
                    let base = base_re.captures(&common).expect("base_source_url");
                    out.push((rel, format!("{}{}", &base[1], &u[1])));
                }
            } else if rel.ends_with("terragrunt.stack.hcl") {
                for (n, c) in stack_re.captures_iter(&text).enumerate() {
                    out.push((format!("{rel}#{n}"), c[1].to_string()));
                }
            }
        }
    }
    out.sort();
    out
}
