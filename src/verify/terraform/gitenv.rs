//! What one side's `terraform get` may reach: the git config whose `url.<local>.insteadOf`
//! rules send repo URLs to local bare repos, and the Terraform CLI config whose `host` blocks
//! send module registry requests to the local [registry](super::registry).
//!
//! Git applies the longest matching `insteadOf` prefix, so the exact per-repo rules written
//! here win over any org-wide rule of the user's own git config, which is included first so
//! that mirrors and credentials for external modules keep working.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The directory name that a blocked legacy URL resolves to on the monorepo side; it never
/// exists, so git fails naming it and the failure can be attributed to the legacy repo.
pub const BLOCKED: &str = "blocked-legacy-url";

/// One `[url "<to>"] insteadOf = <prefix>…` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// Where git goes instead (`file:///…/x.git`).
    pub to: String,
    /// The URL prefixes it replaces.
    pub prefixes: Vec<String>,
}

/// The prefixes under which git may be asked for the repo at `url`, as go-getter hands them
/// to git: `https://host/path(.git)`, `ssh://git@host/path(.git)` and scp-like
/// `git@host:path(.git)`, in the case written and lowercased. Empty for local paths.
///
/// The variant without `.git` is a prefix of the one with it; git picks the longest match,
/// so both can be listed.
pub fn url_prefixes(url: &str) -> Vec<String> {
    let Some((host, path)) = host_and_path(url) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (h, p) in [
        (host.clone(), path.clone()),
        (host.to_ascii_lowercase(), path.to_lowercase()),
    ] {
        for suffix in [".git", ""] {
            for prefix in [
                format!("https://{h}/{p}{suffix}"),
                format!("http://{h}/{p}{suffix}"),
                format!("ssh://git@{h}/{p}{suffix}"),
                format!("git@{h}:{p}{suffix}"),
            ] {
                if !out.contains(&prefix) {
                    out.push(prefix);
                }
            }
        }
    }
    out
}

/// Splits a repo URL into its host and its path without `.git`, keeping the case written.
fn host_and_path(url: &str) -> Option<(String, String)> {
    let s = url.trim();
    let s = s.strip_prefix("git::").unwrap_or(s);
    let s = s.split(['?', '#']).next().unwrap_or(s);
    let (host, path) = if let Some((_, rest)) = s.split_once("://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/')?;
        (host.split(':').next().unwrap_or(host), path)
    } else if let Some((user_host, path)) = s.split_once(':') {
        // scp-like `git@host:org/repo.git`; a plain `host/org/repo` has no colon.
        let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
        (host, path)
    } else if s.starts_with('/') || s.starts_with('.') {
        return None;
    } else {
        s.split_once('/')?
    };
    let path = path.split("//").next().unwrap_or(path).trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    (!host.is_empty() && host.contains('.') && !path.is_empty())
        .then(|| (host.to_string(), path.to_string()))
}

/// The `file://` URL of a local directory.
pub fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// Renders a git config: the user's config files first (`[include]`, missing files are
/// ignored by git), `protocol.file.allow = always` (go-getter's clones of `file://` URLs),
/// then every redirect.
pub fn git_config(includes: &[PathBuf], redirects: &[Redirect]) -> String {
    let mut cfg = String::new();
    for inc in includes {
        let _ = writeln!(cfg, "[include]\n\tpath = {}", quote(&inc.to_string_lossy()));
    }
    cfg.push_str("[protocol \"file\"]\n\tallow = always\n");
    for r in redirects {
        let _ = writeln!(cfg, "[url {}]", quote(&r.to));
        for p in &r.prefixes {
            let _ = writeln!(cfg, "\tinsteadOf = {}", quote(p));
        }
    }
    cfg
}

/// Renders a Terraform CLI config sending the module service of each registry host in
/// `hosts` to `base/<host>/v1/modules/`.
pub fn cli_config(base: &str, hosts: &[String]) -> String {
    let mut cfg = String::from("disable_checkpoint = true\n");
    for h in hosts {
        let _ = write!(
            cfg,
            "\nhost {} {{\n  services = {{\n    \"modules.v1\" = \"{base}/{h}/v1/modules/\"\n  }}\n}}\n",
            quote(h)
        );
    }
    cfg
}

/// A double-quoted string for git config and HCL: `\` and `"` escaped.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_url_gives_every_form_go_getter_uses() {
        let p = url_prefixes("https://github.com/acme/terraform-aws-alb.git");
        for want in [
            "https://github.com/acme/terraform-aws-alb.git",
            "https://github.com/acme/terraform-aws-alb",
            "ssh://git@github.com/acme/terraform-aws-alb.git",
            "git@github.com:acme/terraform-aws-alb.git",
        ] {
            assert!(p.contains(&want.to_string()), "{want} missing from {p:?}");
        }
    }

    #[test]
    fn mixed_case_url_keeps_its_case_and_adds_lowercase() {
        let p = url_prefixes("git::ssh://git@GitHub.com/Acme/X.git");
        assert!(
            p.contains(&"https://GitHub.com/Acme/X.git".to_string()),
            "{p:?}"
        );
        assert!(
            p.contains(&"https://github.com/acme/x.git".to_string()),
            "{p:?}"
        );
    }

    #[test]
    fn scp_like_and_shorthand_urls_parse() {
        assert_eq!(
            host_and_path("git@github.com:acme/x.git"),
            Some(("github.com".into(), "acme/x".into()))
        );
        assert_eq!(
            host_and_path("github.com/acme/x"),
            Some(("github.com".into(), "acme/x".into()))
        );
        assert_eq!(
            host_and_path("https://user:pw@git.example.com:8443/a/b.git"),
            Some(("git.example.com".into(), "a/b".into()))
        );
    }

    #[test]
    fn local_paths_get_no_prefix() {
        assert!(url_prefixes("/srv/git/x.git").is_empty());
        assert!(url_prefixes("./legacy/x").is_empty());
    }

    #[test]
    fn git_config_quotes_paths_and_lists_every_prefix() {
        let cfg = git_config(
            &[PathBuf::from("/home/a \"b\"/.gitconfig")],
            &[Redirect {
                to: "file:///tmp/x.git".into(),
                prefixes: vec!["https://h/x.git".into(), "https://h/x".into()],
            }],
        );
        assert!(
            cfg.contains("path = \"/home/a \\\"b\\\"/.gitconfig\""),
            "{cfg}"
        );
        assert!(cfg.contains("[url \"file:///tmp/x.git\"]\n\tinsteadOf = \"https://h/x.git\"\n\tinsteadOf = \"https://h/x\"\n"), "{cfg}");
    }

    #[test]
    fn cli_config_points_each_host_at_the_local_registry() {
        let cfg = cli_config("http://127.0.0.1:9/r1", &["registry.terraform.io".into()]);
        assert!(
            cfg.contains(
                "\"modules.v1\" = \"http://127.0.0.1:9/r1/registry.terraform.io/v1/modules/\""
            ),
            "{cfg}"
        );
    }
}
