//! Forks with the tag shapes real registry modules have: a long linear release series
//! (one commit and one tag per release, majors up to 10 and minors past 9, so the text
//! order of tag names is not their version order) that also carries OpenTofu files, and a
//! fork whose default branch is gone, leaving only tags.

use super::content::{self, ORG};
use super::history::{History, Written, EPOCH, YEAR};
use super::quirks;
use super::stream::{Change, Importer};
use super::Error;

/// Majors of a release series: 0 to 10.
const MAJORS: usize = 11;

/// A release version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Version {
    pub(super) major: u32,
    pub(super) minor: u32,
    pub(super) patch: u32,
}

impl Version {
    /// The tag name, `vX.Y.Z`.
    pub(super) fn tag(&self) -> String {
        format!("v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The versions of a series of `count` releases, ascending: majors 0 to 10 spread evenly;
/// inside a major every fourth release is a patch, the others bump the minor (`v0.1.0`
/// first, then `vM.0.0` opens each major).
pub(super) fn release_versions(count: usize) -> Vec<Version> {
    let mut out: Vec<Version> = Vec::with_capacity(count);
    let mut i = 0u32;
    for k in 0..count {
        let major = (k * MAJORS / count) as u32;
        i = match out.last() {
            Some(prev) if prev.major == major => i + 1,
            _ => 0,
        };
        let patch = u32::from(i % 4 == 3);
        out.push(Version {
            major,
            minor: i - i / 4 - patch + u32::from(major == 0),
            patch,
        });
    }
    out
}

const FIXES: [&str; 5] = [
    "fix: keep the role path when the name changes",
    "fix: tolerate an empty tags map",
    "fix: correct the description of max_session_duration",
    "fix: do not recreate the role when tags are reordered",
    "docs: regenerate the inputs table",
];

const FEATURES: [&str; 4] = [
    "feat: expose the role's unique id",
    "feat: allow a permissions boundary",
    "feat: support inline policies",
    "feat: add the access logs bucket's name to the outputs",
];

/// `main.tf` of the release-series fork: its role and an access logs bucket from the
/// `terraform-aws-<logs>` fork at `logs_ref`.
fn series_main(module: &str, logs: &str, logs_ref: &str, header: &str) -> String {
    format!(
        "{header}{main}\nmodule \"access_logs\" {{\n  source = \"git::https://github.com/{ORG}/terraform-aws-{logs}.git?ref={logs_ref}\"\n\n  name = \"${{var.name}}-access-logs\"\n  tags = var.tags\n}}\n",
        main = content::ref_main(module, 2)
    )
}

/// The OpenTofu files of the release-series fork: `main.tofu` (read by OpenTofu instead of
/// `main.tf`), `logs.tofu.json`, `main_override.tf` (merged into `main.tf` by both tools)
/// and `tests/basic.tftest.hcl`, each calling the `terraform-aws-<logs>` fork.
fn opentofu_files(module: &str, logs: &str) -> [(&'static str, String); 4] {
    let url = format!("git::https://github.com/{ORG}/terraform-aws-{logs}.git");
    [
        (
            "main.tofu",
            series_main(
                module,
                logs,
                "v2.0.0",
                "# OpenTofu (>= 1.8) reads main.tofu instead of main.tf: the same role, with the\n# access logs bucket from the newer fork release.\n",
            ),
        ),
        (
            "logs.tofu.json",
            format!(
                "{{\n  \"module\": {{\n    \"audit_logs\": {{\n      \"source\": \"{url}?ref=v1.0.0\",\n      \"name\": \"${{var.name}}-audit-logs\"\n    }}\n  }}\n}}\n"
            ),
        ),
        (
            "main_override.tf",
            format!(
                "# Merged into main.tf's blocks by Terraform and OpenTofu alike: the bucket's\n# retention fix is only in v2.0.0.\nmodule \"access_logs\" {{\n  source = \"{url}?ref=v2.0.0\"\n}}\n"
            ),
        ),
        (
            "tests/basic.tftest.hcl",
            format!(
                "# `tofu test` / `terraform test`: the run plans the logs bucket fork instead of this module.\nvariables {{\n  name = \"tftest\"\n}}\n\n\
                 run \"basic\" {{\n  command = plan\n\n  module {{\n    source = \"{url}?ref=v1.1.0\"\n  }}\n\n\
                 \x20 assert {{\n    condition     = output.id == \"\"\n    error_message = \"A plan creates nothing yet.\"\n  }}\n}}\n"
            ),
        ),
    ]
}

/// The release-series fork `terraform-aws-<module>`: `count` releases on a linear `main`,
/// each one commit (a changelog entry and the module revision) and one tag; the first
/// release of each major is annotated and moves `examples/complete` to that major; the
/// middle release adds the OpenTofu files. It calls the `terraform-aws-<logs>` fork.
pub(super) fn series(
    imp: Importer,
    repo: &str,
    module: &str,
    count: usize,
    logs: &str,
) -> Result<Written, Error> {
    let mut h = History::new(imp, repo, module, EPOCH, 4 * YEAR, count.max(1));
    let b = "refs/heads/main";
    let versions = release_versions(count);
    let opentofu_at = count / 2;
    let mut changelog = String::new();
    let mut tip = None;
    for (k, v) in versions.iter().enumerate() {
        let opens_major = k == 0 || versions[k - 1].major != v.major;
        let message = if k == 0 {
            format!("Initial import of terraform-aws-modules/{module}/aws")
        } else if k == opentofu_at {
            "feat: support OpenTofu (main.tofu, logs.tofu.json, tests)".to_string()
        } else if opens_major {
            format!(
                "feat!: remove the inputs deprecated in v{}\n\nBREAKING CHANGE: callers must rename them first.",
                v.major.saturating_sub(1)
            )
        } else if v.patch > 0 {
            FIXES[k % FIXES.len()].to_string()
        } else {
            FEATURES[k % FEATURES.len()].to_string()
        };
        let previous = k.checked_sub(1).map(|p| versions[p].tag());
        changelog = format!(
            "## [{}](https://github.com/{ORG}/{repo}/compare/{}...{})\n\n- {}\n\n{changelog}",
            v.tag().trim_start_matches('v'),
            previous.as_deref().unwrap_or("v0.0.0"),
            v.tag(),
            message.lines().next().unwrap_or_default(),
        );
        let changelog_md = format!("# Changelog\n\nAll notable changes to {repo}.\n\n{changelog}");
        let locals = content::filler_locals(repo, k + 1);
        let mut owned: Vec<(&str, String)> =
            vec![("CHANGELOG.md", changelog_md), ("locals.tf", locals)];
        if k == 0 {
            owned.extend([
                (".gitignore", content::GITIGNORE.to_string()),
                (".github/workflows/ci.yml", quirks::ci_workflow("main")),
                (".pre-commit-config.yaml", quirks::PRE_COMMIT.to_string()),
                ("CODEOWNERS", quirks::CODEOWNERS.to_string()),
                ("README.md", content::ref_readme(module, 2)),
                ("main.tf", series_main(module, logs, "v1.1.0", "")),
                ("outputs.tf", content::ref_outputs(module, false)),
                ("variables.tf", content::ref_variables(module, 2)),
                ("versions.tf", content::ref_versions(3)),
            ]);
        }
        if opens_major {
            owned.push((
                "examples/complete/main.tf",
                quirks::example_complete(module, v.major, k),
            ));
        }
        if k == opentofu_at && k > 0 {
            owned.extend(opentofu_files(module, logs));
        }
        let changes: Vec<Change> = owned.iter().map(|(p, c)| (*p, Some(c.as_str()))).collect();
        let at = h.main(b, tip, &message, &changes);
        let annotation = format!("Release {}\n", v.tag());
        h.milestone_tag(&v.tag(), at, opens_major.then_some(annotation.as_str()));
        tip = Some(at);
    }
    h.branch("main");
    h.finish(&[])
}

/// The tags-only fork `terraform-aws-<module>`: three releases (`v1.0.0`, annotated
/// `v1.1.0`, `v1.1.1`) whose branch was deleted, so HEAD names a `refs/heads/main` that
/// does not exist, as in a mirror that fetched only tags.
pub(super) fn tags_only(imp: Importer, repo: &str, module: &str) -> Result<Written, Error> {
    let mut h = History::new(imp, repo, module, EPOCH + YEAR, YEAR, 3);
    let b = "refs/heads/main";
    let (readme, main, outputs, vars, versions) = (
        content::ref_readme(module, 1),
        content::ref_main(module, 2),
        content::ref_outputs(module, false),
        content::ref_variables(module, 2),
        content::ref_versions(2),
    );
    let first = h.main(
        b,
        None,
        &format!("Initial import of terraform-aws-modules/{module}/aws"),
        &[
            (".gitignore", Some(content::GITIGNORE)),
            ("README.md", Some(&readme)),
            ("main.tf", Some(&main)),
            ("outputs.tf", Some(&outputs)),
            ("variables.tf", Some(&vars)),
            ("versions.tf", Some(&versions)),
        ],
    );
    h.milestone_tag("v1.0.0", first, None);
    let timeouts = content::ref_timeouts(module);
    let second = h.main(
        b,
        Some(first),
        "Add configurable timeouts",
        &[("timeouts.tf", Some(&timeouts))],
    );
    h.milestone_tag("v1.1.0", second, Some("Release v1.1.0\n"));
    let versions3 = content::ref_versions(3);
    let third = h.main(
        b,
        Some(second),
        "Require Terraform 0.13",
        &[("versions.tf", Some(&versions3))],
    );
    h.milestone_tag("v1.1.1", third, None);
    h.delete_branch(b);
    h.finish(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_of_150_runs_from_v0_1_0_to_v10_and_ascends() {
        let v = release_versions(150);
        assert_eq!(v.len(), 150);
        assert_eq!(v[0].tag(), "v0.1.0");
        assert_eq!(v[149].major, 10);
        assert!(v.windows(2).all(|w| w[0] < w[1]), "{v:?}");
        let tags: Vec<String> = v.iter().map(Version::tag).collect();
        assert!(tags.contains(&"v1.0.0".to_string()));
        assert!(tags.contains(&"v1.10.0".to_string()));
        assert!(tags.contains(&"v1.9.0".to_string()));
        assert!(tags.iter().any(|t| t.ends_with(".1")));
        let mut sorted = tags.clone();
        sorted.sort();
        assert_ne!(
            sorted.last(),
            tags.last(),
            "text order is not version order"
        );
    }

    #[test]
    fn short_series_still_ascend() {
        for count in 1..40 {
            let v = release_versions(count);
            assert_eq!(v.len(), count);
            assert!(v.windows(2).all(|w| w[0] < w[1]), "{count}: {v:?}");
        }
    }
}
