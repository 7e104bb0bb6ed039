//! Removes secrets from text before it reaches any output.
//!
//! Credentials in URLs (`https://user:token@host/...`) and `sshkey=` query values are secrets:
//! reports, journals, scripts and error messages pass every URL through [`url()`] or every
//! free text through [`text()`].

use std::sync::OnceLock;

use regex::Regex;

/// The placeholder that replaces a secret.
pub const MASK: &str = "***";

fn userinfo_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // scheme://user:password@  or  scheme://token@  (but keep the plain `git@` of ssh URLs).
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/@\s:]+)(:[^/@\s]*)?@")
            .expect("static regex compiles")
    })
}

fn sshkey_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?i)([?&]sshkey=)[^&\s\x22']*").expect("static regex compiles"))
}

/// Returns `s` with every URL credential and `sshkey=` value replaced by [`MASK`].
///
/// `ssh://git@host/...` keeps its `git` user (it is not a secret); any password or token
/// (`user:pass@`, `token@` over http(s)) is masked.
pub fn text(s: &str) -> String {
    let s = userinfo_re().replace_all(s, |c: &regex::Captures<'_>| {
        let scheme = &c[1];
        let user = &c[2];
        if c.get(3).is_some() {
            format!("{scheme}{user}:{MASK}@")
        } else if scheme.to_ascii_lowercase().contains("http") {
            // A bare user over http(s) is a token (GitHub's `https://<token>@github.com`).
            format!("{scheme}{MASK}@")
        } else {
            format!("{scheme}{user}@")
        }
    });
    sshkey_re()
        .replace_all(&s, format!("${{1}}{MASK}"))
        .into_owned()
}

/// Returns a URL fit for output: the same as [`text`] on one URL.
pub fn url(u: &str) -> String {
    text(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_masked() {
        assert_eq!(
            url("https://alice:s3cr3t@github.com/acme/x.git"),
            "https://alice:***@github.com/acme/x.git"
        );
    }

    #[test]
    fn bare_token_over_https_is_masked() {
        assert_eq!(
            url("https://ghp_abc123@github.com/acme/x"),
            "https://***@github.com/acme/x"
        );
        assert_eq!(
            url("git::https://ghp_abc123@github.com/acme/x"),
            "git::https://***@github.com/acme/x"
        );
    }

    #[test]
    fn ssh_git_user_is_kept() {
        assert_eq!(
            url("ssh://git@github.com/acme/x.git"),
            "ssh://git@github.com/acme/x.git"
        );
        assert_eq!(
            url("git@github.com:acme/x.git"),
            "git@github.com:acme/x.git"
        );
    }

    #[test]
    fn sshkey_is_masked() {
        assert_eq!(
            text("git::ssh://git@h/x.git?ref=v1&sshkey=LS0tLS1CRUdJTg"),
            "git::ssh://git@h/x.git?ref=v1&sshkey=***"
        );
    }

    #[test]
    fn text_masks_inside_sentences() {
        assert_eq!(
            text("cannot clone https://bob:pw@example.com/a.git: refused"),
            "cannot clone https://bob:***@example.com/a.git: refused"
        );
    }
}
