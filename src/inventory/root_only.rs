//! Files that only work at a repository's root: CI workflows, CODEOWNERS, pre-commit,
//! release tooling, dependency bots, `.gitmodules`.
//!
//! Imported under `<path>/` they are kept byte for byte but stop working: GitHub reads
//! workflows and CODEOWNERS only at the root, pre-commit and semantic-release look for their
//! config there, and so on. [`classify`] names the kind of such a path (relative to the
//! legacy repo's root); the plan lists them per imported repo with one line of advice per
//! kind ([`RootOnlyKind::advice`]).

use serde::{Deserialize, Serialize};

/// What a root-only file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RootOnlyKind {
    /// `.github/workflows/*.yml`: GitHub Actions.
    GithubWorkflow,
    /// `.github/dependabot.yml`.
    Dependabot,
    /// `CODEOWNERS`, `.github/CODEOWNERS`, `docs/CODEOWNERS`.
    Codeowners,
    /// `.pre-commit-config.yaml`.
    PreCommit,
    /// semantic-release (`.releaserc*`, `release.config.*`) and release-please configs.
    Release,
    /// Renovate (`renovate.json`, `.renovaterc*`, `.github/renovate.json`).
    Renovate,
    /// Other CI systems' root files: `.gitlab-ci.yml`, `.travis.yml`, `.circleci/config.yml`,
    /// `bitbucket-pipelines.yml`, `azure-pipelines.yml`, `Jenkinsfile`.
    OtherCi,
    /// `atlantis.yaml`: Atlantis reads the repo-level config at the root only.
    Atlantis,
    /// `.gitmodules`: submodules are declared at the root only.
    Gitmodules,
    /// GitHub issue and pull request templates under `.github/`.
    GithubTemplate,
}

impl RootOnlyKind {
    /// Returns a short name for reports (`GitHub workflow`).
    pub fn label(self) -> &'static str {
        match self {
            RootOnlyKind::GithubWorkflow => "GitHub workflow",
            RootOnlyKind::Dependabot => "Dependabot config",
            RootOnlyKind::Codeowners => "CODEOWNERS",
            RootOnlyKind::PreCommit => "pre-commit config",
            RootOnlyKind::Release => "release tooling config",
            RootOnlyKind::Renovate => "Renovate config",
            RootOnlyKind::OtherCi => "CI config",
            RootOnlyKind::Atlantis => "Atlantis config",
            RootOnlyKind::Gitmodules => ".gitmodules",
            RootOnlyKind::GithubTemplate => "GitHub issue/PR template",
        }
    }

    /// Returns what to do about a file of this kind that lands under `path/` (one line).
    pub fn advice(self, path: &str) -> String {
        match self {
            RootOnlyKind::GithubWorkflow => format!(
                "GitHub runs only the root's .github/workflows: move the jobs there with `on.*.paths: [\"{path}/**\"]` and `working-directory: {path}`"
            ),
            RootOnlyKind::Dependabot => format!(
                "merge its entries into the root .github/dependabot.yml with `directory: \"/{path}\"`"
            ),
            RootOnlyKind::Codeowners => format!(
                "merge its rules into the root CODEOWNERS, each pattern prefixed with `/{path}/`"
            ),
            RootOnlyKind::PreCommit => format!(
                "merge its hooks into the root .pre-commit-config.yaml with `files: ^{path}/`"
            ),
            RootOnlyKind::Release => {
                "release tools run at the root and tag `vX.Y.Z`: configure one package per module with the namespaced tag format, or drop it".to_string()
            }
            RootOnlyKind::Renovate => format!(
                "merge it into the root Renovate config (a `packageRules` entry with `matchFileNames: [\"{path}/**\"]`)"
            ),
            RootOnlyKind::OtherCi => format!(
                "the CI reads only the root file: merge its jobs into the root pipeline, run in `{path}` on changes under it"
            ),
            RootOnlyKind::Atlantis => format!(
                "merge its projects into the root atlantis.yaml with `dir: {path}/...`"
            ),
            RootOnlyKind::Gitmodules => format!(
                "re-add the submodules at the root (`git submodule add <url> {path}/<dir>`)"
            ),
            RootOnlyKind::GithubTemplate => {
                "GitHub reads templates only from the root's .github: merge them there or drop them".to_string()
            }
        }
    }
}

/// A file at a legacy repo's root (or in a root-only directory) that stops working once
/// the repo lives under a path of a monorepo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootOnlyFile {
    /// The path relative to the legacy repo's root (`.github/workflows/ci.yml`).
    pub path: String,
    /// What it is for.
    pub kind: RootOnlyKind,
}

/// Returns the kind of root-only file `path` (relative to the repo root) is, if it is one.
pub fn classify(path: &str) -> Option<RootOnlyKind> {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    let yaml = |n: &str| n.ends_with(".yml") || n.ends_with(".yaml");
    if let Some(rest) = lower.strip_prefix(".github/workflows/") {
        return (!rest.contains('/') && yaml(rest)).then_some(RootOnlyKind::GithubWorkflow);
    }
    let kind = match lower.as_str() {
        ".github/dependabot.yml" | ".github/dependabot.yaml" => RootOnlyKind::Dependabot,
        "codeowners" | ".github/codeowners" | "docs/codeowners" | ".gitlab/codeowners" => {
            RootOnlyKind::Codeowners
        }
        ".pre-commit-config.yaml" | ".pre-commit-config.yml" => RootOnlyKind::PreCommit,
        "renovate.json"
        | "renovate.json5"
        | ".github/renovate.json"
        | ".github/renovate.json5"
        | ".gitlab/renovate.json" => RootOnlyKind::Renovate,
        ".gitlab-ci.yml"
        | ".travis.yml"
        | ".circleci/config.yml"
        | "bitbucket-pipelines.yml"
        | "azure-pipelines.yml"
        | "jenkinsfile"
        | ".drone.yml" => RootOnlyKind::OtherCi,
        "atlantis.yaml" | "atlantis.yml" => RootOnlyKind::Atlantis,
        ".gitmodules" => RootOnlyKind::Gitmodules,
        "release-please-config.json" | ".release-please-manifest.json" => RootOnlyKind::Release,
        ".github/pull_request_template.md" => RootOnlyKind::GithubTemplate,
        _ if !lower.contains('/') && name.starts_with(".releaserc") => RootOnlyKind::Release,
        _ if !lower.contains('/') && name.starts_with("release.config.") => RootOnlyKind::Release,
        _ if !lower.contains('/') && name.starts_with(".renovaterc") => RootOnlyKind::Renovate,
        _ if lower.starts_with(".github/issue_template/") => RootOnlyKind::GithubTemplate,
        _ => return None,
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::{classify, RootOnlyKind::*};

    #[test]
    fn workflows_at_the_root_only() {
        assert_eq!(classify(".github/workflows/ci.yml"), Some(GithubWorkflow));
        assert_eq!(
            classify(".github/workflows/release.yaml"),
            Some(GithubWorkflow)
        );
        assert_eq!(classify(".github/workflows/scripts/x.sh"), None);
        assert_eq!(classify("modules/x/.github/workflows/ci.yml"), None);
    }

    #[test]
    fn codeowners_in_its_three_places() {
        for p in ["CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS"] {
            assert_eq!(classify(p), Some(Codeowners), "{p}");
        }
        assert_eq!(classify("modules/CODEOWNERS"), None);
    }

    #[test]
    fn release_and_renovate_variants() {
        assert_eq!(classify(".releaserc.json"), Some(Release));
        assert_eq!(classify(".releaserc"), Some(Release));
        assert_eq!(classify("release.config.js"), Some(Release));
        assert_eq!(classify(".renovaterc.json"), Some(Renovate));
        assert_eq!(classify("renovate.json"), Some(Renovate));
        assert_eq!(classify("examples/.releaserc.json"), None);
    }

    #[test]
    fn other_root_files() {
        assert_eq!(classify(".pre-commit-config.yaml"), Some(PreCommit));
        assert_eq!(classify(".github/dependabot.yml"), Some(Dependabot));
        assert_eq!(classify(".gitlab-ci.yml"), Some(OtherCi));
        assert_eq!(classify(".gitmodules"), Some(Gitmodules));
        assert_eq!(classify("atlantis.yaml"), Some(Atlantis));
        assert_eq!(classify("main.tf"), None);
        assert_eq!(classify("README.md"), None);
    }
}
