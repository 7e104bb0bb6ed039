//! `rule` blocks: regexes over the inventory, and `{capture}` placeholder templates.
//!
//! A rule's `match` regex is searched in each inventory entry (URL or path); its named
//! capture groups fill the `{name}` placeholders of `path`, `tag_prefix` and `registry`.
//! Braces without a `$` keep clear of HCL's own `${}` interpolation.

use std::sync::OnceLock;

use regex::Regex;

/// One inventory entry: a URL or local path, with its line in the inventory file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub line: usize,
    pub url: String,
}

/// Reads inventory text: one URL or path a line, `#` starts a comment, blank lines skipped.
pub(super) fn read_inventory(text: &str) -> Vec<Entry> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line
                .split_once('#')
                .map_or(line, |(before, _)| before)
                .trim();
            (!line.is_empty()).then(|| Entry {
                line: i + 1,
                url: line.to_string(),
            })
        })
        .collect()
}

fn placeholder_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\{([A-Za-z_][A-Za-z0-9_]*)\}").expect("static regex compiles"))
}

/// Returns the placeholder names used in `template`, in order.
pub(super) fn placeholders(template: &str) -> Vec<String> {
    placeholder_re()
        .captures_iter(template)
        .map(|c| c[1].to_string())
        .collect()
}

/// Fills `{name}` placeholders in `template` from `caps`.
pub(super) fn expand(template: &str, caps: &regex::Captures<'_>) -> String {
    placeholder_re()
        .replace_all(template, |c: &regex::Captures<'_>| {
            caps.name(&c[1])
                .map_or(String::new(), |m| m.as_str().to_string())
        })
        .into_owned()
}

/// Returns a repo's name from its URL or path: the last segment without `.git`.
pub(super) fn repo_name(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let last = trimmed.rsplit(['/', ':']).next().unwrap_or(trimmed);
    last.strip_suffix(".git").unwrap_or(last).to_string()
}

/// Returns a spelling-independent identity for a repo URL, to compare inventory entries with
/// `repo` block URLs: no `git::`, scheme, user, `.git` suffix or trailing slash; host lowercased;
/// scp-like `host:org/repo` read as `host/org/repo`.
pub(super) fn identity(url: &str) -> String {
    let mut s = url.trim();
    s = s.strip_prefix("git::").unwrap_or(s);
    let had_scheme = s.find("://").map(|i| {
        s = &s[i + 3..];
    });
    // The userinfo runs to the last `@` before the first `/` (a password may hold `@`).
    let authority_end = s.find('/').unwrap_or(s.len());
    if let Some(at) = s[..authority_end].rfind('@') {
        s = &s[at + 1..];
    }
    let mut owned = s.to_string();
    if had_scheme.is_none() {
        // scp-like `host:org/repo`; a Windows-free world lets `:` before the first `/` be that.
        if let Some(colon) = owned.find(':') {
            if owned.find('/').is_none_or(|slash| colon < slash) {
                owned.replace_range(colon..=colon, "/");
            }
        }
    }
    let owned = owned.trim_end_matches('/');
    let owned = owned.strip_suffix(".git").unwrap_or(owned);
    match owned.split_once('/') {
        Some((host, path)) => format!("{}/{}", host.to_ascii_lowercase(), path),
        None => owned.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_skips_comments_and_blanks() {
        let entries = read_inventory("# header\n\nhttps://a/b.git  # alb\n  ../c  \n");
        assert_eq!(
            entries,
            vec![
                Entry {
                    line: 3,
                    url: "https://a/b.git".into()
                },
                Entry {
                    line: 4,
                    url: "../c".into()
                }
            ]
        );
    }

    #[test]
    fn expand_fills_named_captures() {
        let re = Regex::new("acme/(?P<svc>[a-z]+)-(?P<stage>dev|prod)").expect("compiles");
        let caps = re.captures("github.com/acme/api-dev").expect("matches");
        assert_eq!(expand("{stage}/{svc}", &caps), "dev/api");
        assert_eq!(placeholders("{stage}/x/{svc}"), vec!["stage", "svc"]);
    }

    #[test]
    fn repo_name_from_url_forms() {
        assert_eq!(
            repo_name("https://github.com/acme/terraform-aws-alb.git"),
            "terraform-aws-alb"
        );
        assert_eq!(repo_name("git@github.com:acme/vpc.git"), "vpc");
        assert_eq!(
            repo_name("/srv/legacy/api-static-dev-korea/"),
            "api-static-dev-korea"
        );
    }

    #[test]
    fn identity_ignores_spelling() {
        let a = identity("https://GitHub.com/acme/alb.git");
        assert_eq!(a, "github.com/acme/alb");
        assert_eq!(identity("git::ssh://git@github.com/acme/alb.git"), a);
        assert_eq!(identity("git@github.com:acme/alb"), a);
        assert_eq!(identity("https://user:tok@github.com/acme/alb/"), a);
        assert_eq!(identity("https://user:tok@en@github.com/acme/alb"), a);
    }
}
