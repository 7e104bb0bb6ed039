//! Builds a small but realistic legacy org of bare git repos, fast: for the demo, the tests
//! and the benchmark.
//!
//! [`generate`] writes, under a directory:
//!
//! - `legacy/<name>.git`: one bare repo per legacy repo, each written by one
//!   `git fast-import` process, in parallel:
//!   - reference modules `terraform-aws-<x>` (forks of `terraform-aws-modules/<x>/aws`) with
//!     tags `v1.0.0`, annotated `v1.1.0` (on a real merge commit), `v2.0.0`, an empty commit
//!     and an unmerged `feature/<x>-ipv6` branch; the second one has `modules/sub`. Each has
//!     `examples/complete/main.tf` calling the module by its registry address
//!     (`terraform-aws-modules/<x>/aws`, `version = "~> N.0"`, N the current major) and by
//!     `../../`; the first also has `examples/with-<second>/main.tf` calling the second fork
//!     by registry address. Root-only files: `.github/workflows/ci.yml`, `CODEOWNERS`,
//!     `.pre-commit-config.yaml`;
//!   - `terraform-aws-iam` ([`Options::release_tags`]): a release series, one commit and
//!     one tag per release on a linear `main` (150 in the demo: `v0.1.0` … `v10.x`, minors
//!     past 9, so text order is not version order; each major's first release annotated).
//!     From its middle release: `main.tofu` next to `main.tf`, `logs.tofu.json`,
//!     `main_override.tf` and `tests/basic.tftest.hcl` (`run "basic" { module { source =
//!     <git URL of the fourth fork> } }`), all calling the fourth reference module;
//!   - `terraform-aws-kms` ([`Options::tags_only_repo`]): three tags and no branch, HEAD
//!     naming a `refs/heads/main` that does not exist;
//!   - service modules `terraform-acme-<svc>` calling them with every module source form
//!     (https, ssh, scp-like, GitHub shorthand, `//subdir`, registry, branch ref, commit id
//!     ref, local path, another org), tags `v1.0.0` and `v1.1.0`, a `hotfix/*` branch. The
//!     last one has `testdata/` (a zero-length `.tf.json`, a `.tf` with a syntax error, a
//!     `.tf.json` that is not JSON, an invalid `.tf` whose `source` is a legacy URL) and,
//!     from `v1.0.0`, `bastion.tf` whose `user_data = <<-EOT` heredoc holds shell lines
//!     (`source /etc/profile`, `# see https://github.com/acme/terraform-aws-<first>`);
//!   - deployments `<svc>-<static|dynamic>-<stage>-<region>` calling the service module, with
//!     an S3 backend and, for dynamic ones, a `terragrunt.hcl`. The first one's `main.tf`
//!     repeats an object key (`Name`), in the module call's `tags` and in a one-line object:
//!     Terraform keeps the last, strict parsers refuse;
//!   - `terragrunt-live`: Terragrunt with the `_envcommon` split (`root.hcl`,
//!     `_envcommon/<svc>.hcl` holding `base_source_url` = the service module's URL, units
//!     `<stage>/<svc>/terragrunt.hcl` whose source is
//!     `"${include.envcommon.locals.base_source_url}?ref=<tag>"`), `terragrunt.stack.hcl`
//!     files with `unit` blocks calling the service modules and a `stack` block calling this
//!     repo by tag (`v1.0.0`), and `_templates/terragrunt.hcl`, a boilerplate (Go template)
//!     file with `{{ .sourceUrl }}`, `{{ if … }}…{{ end }}` and an indented heredoc;
//! - `repos.txt`: the inventory, one `https://github.com/acme/<name>.git` per line;
//! - `mapping.hcl`: the mapping into `reference-modules`, `service-modules` and `live`
//!   (`terragrunt-live` at `live/terragrunt`).
//!
//! Identities and dates are fixed functions of the repo name and commit position, so the
//! same [`Options`] give the same commit ids. The fourth reference module and the second
//! deployment use `master` as their default branch; the others use `main`.

mod content;
mod external;
mod history;
mod quirks;
mod releases;
mod stream;
mod terragrunt;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use content::{Deployment, ServiceRefs, ORG};
use history::ReferenceShape;
use stream::Importer;

/// The release-series fork: `terraform-aws-iam`.
const RELEASE_MODULE: &str = "iam";
/// The tags-only fork: `terraform-aws-kms`.
const TAGS_ONLY_MODULE: &str = "kms";

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Service names: one service module and one deployment per kind, stage and region each.
    pub services: Vec<String>,
    /// Stages (`dev`, `prod`).
    pub stages: Vec<String>,
    /// Regions (`korea`, `usa`).
    pub regions: Vec<String>,
    /// Reference modules forked from `terraform-aws-modules/<x>/aws` (`alb`, `vpc`, …).
    pub reference: Vec<String>,
    /// Commits on the default branch of each reference and service module (and of each extra
    /// repo); at least the scripted milestones (8 and 7). Deployments always get 4.
    pub commits_per_repo: usize,
    /// One extra reference repo `terraform-aws-monolith` with that many commits.
    pub big_repo_commits: Option<usize>,
    /// Extra reference repos `terraform-aws-gen-<n>` (n from 1), with `commits_per_repo`
    /// commits each.
    pub extra_repos: usize,
    /// One extra reference repo `terraform-aws-iam` with that many releases (at least 1),
    /// one commit and one tag each, on a linear history.
    pub release_tags: Option<usize>,
    /// One extra reference repo `terraform-aws-kms` with three tags and no branch at all.
    pub tags_only_repo: bool,
}

impl Options {
    /// The demo org: services api and web, stages dev and prod, regions korea and usa,
    /// reference modules alb, vpc, ecs and s3, 12 commits per module, `terraform-aws-iam`
    /// with 150 releases, the tags-only `terraform-aws-kms` and `terragrunt-live`: 25 repos.
    pub fn demo() -> Self {
        let v = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        Options {
            services: v(&["api", "web"]),
            stages: v(&["dev", "prod"]),
            regions: v(&["korea", "usa"]),
            reference: v(&["alb", "vpc", "ecs", "s3"]),
            commits_per_repo: 12,
            big_repo_commits: None,
            extra_repos: 0,
            release_tags: Some(150),
            // A fork with tags and no branch: only its tags are imported.
            tags_only_repo: true,
        }
    }

    /// The benchmark org: the demo org plus `repos` extra reference repos, every module with
    /// `commits` commits, and `terraform-aws-monolith` with `big` commits (none when 0).
    pub fn bench(repos: usize, commits: usize, big: usize) -> Self {
        Options {
            commits_per_repo: commits,
            big_repo_commits: (big > 0).then_some(big),
            extra_repos: repos,
            ..Self::demo()
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        for (what, list, dashes) in [
            ("services", &self.services, false),
            ("stages", &self.stages, false),
            ("regions", &self.regions, false),
            ("reference", &self.reference, true),
        ] {
            if list.is_empty() {
                problems.push(format!("`{what}` is empty; give at least one name"));
            }
            for name in list {
                if !valid_name(name, dashes) {
                    problems.push(format!(
                        "`{what}` entry {name:?} must be lowercase letters and digits{}",
                        if dashes { " joined by single '-'" } else { "" }
                    ));
                }
            }
        }
        if self.release_tags == Some(0) {
            problems.push("`release_tags` is 0; give at least 1 or none".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Options(problems.join("; ")))
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::demo()
    }
}

fn valid_name(name: &str, dashes: bool) -> bool {
    let alnum = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    if dashes {
        name.split('-').all(alnum)
    } else {
        alnum(name)
    }
}

/// A generated org.
#[derive(Debug, Clone)]
pub struct Org {
    /// The directory everything was written under.
    pub dir: PathBuf,
    /// `dir/mapping.hcl`.
    pub mapping: PathBuf,
    /// `dir/repos.txt`, the inventory.
    pub repos_txt: PathBuf,
    /// `dir/external.gitconfig`: the `insteadOf` rule sending the external module the
    /// deployments call (`github.com/other-org/thing`) to its mirror under `dir/external/`.
    pub external_gitconfig: PathBuf,
    /// Every repo: reference modules, extra and big repos, service modules, deployments.
    pub repos: Vec<GeneratedRepo>,
}

/// One generated legacy repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedRepo {
    /// Its name (`terraform-aws-alb`).
    pub name: String,
    /// Its URL in the inventory (`https://github.com/acme/terraform-aws-alb.git`).
    pub url: String,
    /// The bare repository (`dir/legacy/<name>.git`).
    pub git_dir: PathBuf,
    /// Every commit written, on all branches (`git rev-list --count --all`).
    pub commits: usize,
    /// Tag names (`v1.0.0`), sorted.
    pub tags: Vec<String>,
    /// The branch HEAD names (`main`, or `master` for a few); the tags-only repo does not
    /// have it.
    pub default_branch: String,
    /// Every branch's short name, sorted, the default one included (none for the tags-only
    /// repo).
    pub branches: Vec<String>,
}

/// Why the org could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The options name something that cannot be a repo name.
    #[error("invalid org options: {0}")]
    Options(String),
    /// The target already holds generated repos.
    #[error("{} already exists and is not empty; remove it or pick another directory", path.display())]
    Exists {
        /// The `legacy` directory.
        path: PathBuf,
    },
    /// A file or directory could not be written or read.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// git could not be started.
    #[error("cannot run git {what}: {source}; is git installed and on PATH?")]
    Spawn {
        /// The git command.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A git command failed.
    #[error("git {what} failed for {repo}: {message}")]
    Git {
        /// The repo being written.
        repo: String,
        /// The git command.
        what: String,
        /// What git printed.
        message: String,
    },
}

/// One repo to write.
enum Job<'a> {
    Reference {
        module: String,
        commits: usize,
        with_sub: bool,
        example_of: Option<&'a str>,
        master: bool,
    },
    Releases {
        count: usize,
        logs: &'a str,
    },
    TagsOnly,
    Service {
        svc: &'a str,
        commits: usize,
        json: bool,
        quirks: bool,
        refs: &'a ServiceRefs<'a>,
    },
    Deployment {
        d: Deployment<'a>,
        master: bool,
    },
    TerragruntLive {
        opts: &'a Options,
    },
}

impl Job<'_> {
    fn name(&self) -> String {
        match self {
            Job::Reference { module, .. } => format!("terraform-aws-{module}"),
            Job::Releases { .. } => format!("terraform-aws-{RELEASE_MODULE}"),
            Job::TagsOnly => format!("terraform-aws-{TAGS_ONLY_MODULE}"),
            Job::Service { svc, .. } => format!("terraform-{ORG}-{svc}"),
            Job::Deployment { d, .. } => d.name(),
            Job::TerragruntLive { .. } => terragrunt::REPO.to_string(),
        }
    }

    fn default_branch(&self) -> &'static str {
        match self {
            Job::Reference { master: true, .. } | Job::Deployment { master: true, .. } => "master",
            _ => "main",
        }
    }

    fn size(&self) -> usize {
        match self {
            Job::Reference { commits, .. } => *commits,
            Job::Releases { count, .. } => *count,
            Job::TagsOnly => 3,
            Job::Service { commits, .. } => *commits,
            Job::Deployment { .. } => 4,
            Job::TerragruntLive { .. } => 7,
        }
    }
}

/// Generates the org described by `opts` under `dir` (created if missing; its `legacy`
/// subdirectory must not hold anything yet).
pub fn generate(dir: &Path, opts: &Options) -> Result<Org, Error> {
    opts.validate()?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let legacy = dir.join("legacy");
    if legacy.exists() {
        let mut entries = std::fs::read_dir(&legacy).map_err(io(&legacy))?;
        if entries.next().is_some() {
            return Err(Error::Exists { path: legacy });
        }
    }
    std::fs::create_dir_all(&legacy).map_err(io(&legacy))?;

    let n = opts.reference.len();
    let r = |k: usize| opts.reference[k % n].as_str();
    let mut first = independent_jobs(opts);
    let deployments = deployment_jobs(opts);
    let service_name = |svc: &String| format!("terraform-{ORG}-{svc}");
    let live = Job::TerragruntLive { opts };
    let order: Vec<String> = first
        .iter()
        .map(Job::name)
        .chain(opts.services.iter().map(service_name))
        .chain(deployments.iter().map(Job::name))
        .chain(std::iter::once(live.name()))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = order.iter().find(|name| !seen.insert(name.as_str())) {
        return Err(Error::Options(format!(
            "two repos would be called {dup}; use distinct names"
        )));
    }

    // Phase 1: everything that depends on nothing, largest first so the big repo starts early.
    first.extend(deployments);
    first.push(live);
    first.sort_by_key(|j| std::cmp::Reverse(j.size()));
    let mut done: Vec<(String, GeneratedRepo, Vec<String>)> = first
        .par_iter()
        .map(|job| write(&legacy, job))
        .collect::<Result<_, _>>()?;

    // Phase 2: service modules, which pin a reference module by commit id.
    let pinned_repo = format!("terraform-aws-{}", r(3));
    let pinned_id = done
        .iter()
        .find(|(name, _, _)| *name == pinned_repo)
        .and_then(|(_, _, pins)| pins.first().cloned())
        .ok_or_else(|| Error::Git {
            repo: pinned_repo.clone(),
            what: "fast-import".into(),
            message: "no commit id was exported for the pinned commit".into(),
        })?;
    let refs = ServiceRefs {
        main: [r(0), r(1), r(2), r(3)],
        sub: r(1),
        branch: r(2),
        pinned: (r(3), &pinned_id),
    };
    let services: Vec<Job> = opts
        .services
        .iter()
        .enumerate()
        .map(|(i, svc)| Job::Service {
            svc,
            commits: opts.commits_per_repo,
            json: i == 0,
            quirks: i + 1 == opts.services.len(),
            refs: &refs,
        })
        .collect();
    let second: Vec<(String, GeneratedRepo, Vec<String>)> = services
        .par_iter()
        .map(|job| write(&legacy, job))
        .collect::<Result<_, _>>()?;
    done.extend(second);

    let mut repos = Vec::with_capacity(order.len());
    for name in &order {
        if let Some(i) = done.iter().position(|(n, _, _)| n == name) {
            repos.push(done.swap_remove(i).1);
        }
    }

    let repos_txt = dir.join("repos.txt");
    let mut inventory =
        format!("# The {ORG} org's legacy Terraform repos (generated by tfmono orggen).\n");
    for repo in &repos {
        inventory.push_str(&repo.url);
        inventory.push('\n');
    }
    std::fs::write(&repos_txt, inventory).map_err(io(&repos_txt))?;
    let mapping = dir.join("mapping.hcl");
    std::fs::write(&mapping, mapping_text(opts)).map_err(io(&mapping))?;
    let external_gitconfig = external::write(dir)?;
    Ok(Org {
        dir: dir.to_path_buf(),
        mapping,
        repos_txt,
        external_gitconfig,
        repos,
    })
}

/// The repos of phase 1 besides the deployments: reference modules, the releases repo, the
/// tags-only repo, extra and big repos.
fn independent_jobs(opts: &Options) -> Vec<Job<'_>> {
    let n = opts.reference.len();
    let r = |k: usize| opts.reference[k % n].as_str();
    let mut first: Vec<Job> = Vec::new();
    for (i, module) in opts.reference.iter().enumerate() {
        first.push(Job::Reference {
            module: module.clone(),
            commits: opts.commits_per_repo,
            with_sub: i == 1 % n,
            example_of: (i == 0).then(|| r(1)),
            master: i == 3,
        });
    }
    if let Some(count) = opts.release_tags {
        first.push(Job::Releases { count, logs: r(3) });
    }
    if opts.tags_only_repo {
        first.push(Job::TagsOnly);
    }
    for k in 1..=opts.extra_repos {
        first.push(Job::Reference {
            module: format!("gen-{k}"),
            commits: opts.commits_per_repo,
            with_sub: false,
            example_of: None,
            master: false,
        });
    }
    if let Some(commits) = opts.big_repo_commits {
        first.push(Job::Reference {
            module: "monolith".into(),
            commits,
            with_sub: false,
            example_of: None,
            master: false,
        });
    }
    first
}

/// One deployment repo per service, kind, stage and region.
fn deployment_jobs(opts: &Options) -> Vec<Job<'_>> {
    let mut deployments = Vec::new();
    for svc in &opts.services {
        for kind in ["static", "dynamic"] {
            for stage in &opts.stages {
                for region in &opts.regions {
                    let master = deployments.len() == 1;
                    deployments.push(Job::Deployment {
                        d: Deployment {
                            svc,
                            kind,
                            stage,
                            region,
                            repeated_keys: deployments.is_empty(),
                        },
                        master,
                    });
                }
            }
        }
    }
    deployments
}

fn write(legacy: &Path, job: &Job<'_>) -> Result<(String, GeneratedRepo, Vec<String>), Error> {
    let name = job.name();
    let git_dir = legacy.join(format!("{name}.git"));
    let default_branch = job.default_branch();
    let imp = Importer::start(&name, &git_dir, default_branch)?;
    let written = match job {
        Job::Reference {
            module,
            commits,
            with_sub,
            example_of,
            ..
        } => {
            let shape = ReferenceShape {
                main_commits: *commits,
                with_sub: *with_sub,
                example_of: *example_of,
            };
            history::reference(imp, &name, module, default_branch, &shape)?
        }
        Job::Releases { count, logs } => {
            releases::series(imp, &name, RELEASE_MODULE, *count, logs)?
        }
        Job::TagsOnly => releases::tags_only(imp, &name, TAGS_ONLY_MODULE)?,
        Job::Service {
            svc,
            commits,
            json,
            quirks,
            refs,
        } => history::service(imp, &name, svc, refs, *commits, *json, *quirks)?,
        Job::Deployment { d, .. } => history::deployment(imp, d, default_branch)?,
        Job::TerragruntLive { opts } => {
            terragrunt::live(imp, &opts.services, &opts.stages, &opts.regions)?
        }
    };
    let repo = GeneratedRepo {
        url: format!("https://github.com/{ORG}/{name}.git"),
        name: name.clone(),
        git_dir,
        commits: written.commits,
        tags: written.tags,
        default_branch: default_branch.to_string(),
        branches: written.branches,
    };
    Ok((name, repo, written.pins))
}

/// The mapping of a generated org: three monorepos, three rules and one state move.
fn mapping_text(opts: &Options) -> String {
    let alt = |list: &[String]| list.join("|");
    let svc = &opts.services[0];
    let stage = opts
        .stages
        .iter()
        .find(|s| *s == "prod")
        .unwrap_or(&opts.stages[opts.stages.len() - 1]);
    let region = &opts.regions[0];
    let alb = &opts.reference[0];
    format!(
        r#"# The {ORG} org -> three monorepos (generated by tfmono orggen).
# Run: tfmono plan mapping.hcl
inventory = "repos.txt"
repos_dir = "legacy"

monorepo "reference-modules" {{ url = "git::https://github.com/{ORG}/reference-modules.git" }}
monorepo "service-modules"   {{ url = "git::https://github.com/{ORG}/service-modules.git" }}
monorepo "live"              {{ url = "git::https://github.com/{ORG}/live.git" }}

# Forks of public registry modules: terraform-aws-<name> -> reference-modules/<name>.
rule "reference" {{
  match    = "github.com/{ORG}/terraform-aws-(?P<name>[a-z0-9-]+)"
  into     = "reference-modules"
  path     = "{{name}}"
  registry = ["terraform-aws-modules/{{name}}/aws"]
}}

# The company's own modules, with every branch.
rule "service" {{
  match    = "github.com/{ORG}/terraform-{ORG}-(?P<svc>[a-z0-9-]+)"
  into     = "service-modules"
  path     = "{{svc}}"
  branches = "all"
}}

# One repo per service, kind, stage and region -> live/<stage>/<region>/<svc>/<kind>.
rule "deployments" {{
  match = "github.com/{ORG}/(?P<svc>{services})-(?P<kind>static|dynamic)-(?P<stage>{stages})-(?P<region>{regions})"
  into  = "live"
  path  = "{{stage}}/{{region}}/{{svc}}/{{kind}}"
}}

# The Terragrunt live repo (root.hcl, _envcommon, units, stacks) -> live/terragrunt.
repo "{live_repo}" {{
  url  = "https://github.com/{ORG}/{live_repo}.git"
  into = "live"
  path = "terragrunt"
}}

# The {svc} deployment used to call the {alb} module directly.
state "live/{stage}/{region}/{svc}/static" {{
  move {{
    from = "module.{alb_id}"
    to   = "module.{svc_id}.module.{alb_id}"
  }}
}}
"#,
        services = alt(&opts.services),
        stages = alt(&opts.stages),
        regions = alt(&opts.regions),
        alb_id = content::ident(alb),
        svc_id = content::ident(svc),
        live_repo = terragrunt::REPO,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_words() {
        assert!(valid_name("api", false));
        assert!(valid_name("gen-12", true));
        assert!(!valid_name("gen-12", false));
        assert!(!valid_name("a--b", true));
        assert!(!valid_name("Api", false));
        assert!(!valid_name("", true));
    }

    #[test]
    fn the_mapping_names_every_option() {
        let text = mapping_text(&Options::demo());
        assert!(text.contains(
            "(?P<svc>api|web)-(?P<kind>static|dynamic)-(?P<stage>dev|prod)-(?P<region>korea|usa)"
        ));
        assert!(text.contains("state \"live/prod/korea/api/static\" {\n  move {\n"));
        let bench = Options::bench(50, 1000, 0);
        assert_eq!((bench.extra_repos, bench.big_repo_commits), (50, None));
        assert_eq!(Options::bench(1, 1, 7).big_repo_commits, Some(7));
    }
}
