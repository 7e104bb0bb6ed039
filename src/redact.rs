//! Removes secrets from text before it reaches any output.
//!
//! Credentials in URLs are secrets: the whole userinfo of `scheme://user:password@host/…` (up
//! to the last `@` before the host, so a password holding `@` is masked whole) and the values
//! of credential-like query parameters (`?access_token=…`, `&private_token=…`, `sshkey=…`,
//! `api_key=…`, `X-Amz-Signature=…`). Reports, journals, scripts and error messages pass every
//! URL through [`url()`] or every free text through [`text()`].

use std::sync::OnceLock;

use regex::Regex;

/// The placeholder that replaces a secret.
pub const MASK: &str = "***";

fn userinfo_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // scheme://<userinfo>@ where the userinfo runs to the LAST `@` of the authority: the
    // authority ends at `/`, `?`, `#`, whitespace or a quote, and the class is greedy.
    RE.get_or_init(|| {
        Regex::new(r#"(?i)\b([a-z][a-z0-9+.\-]*://)([^/?#\s"'<>`]*)@"#)
            .expect("static regex compiles")
    })
}

fn query_secret_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // A parameter whose name holds a credential word, case-insensitively: `token`
    // (access_token, private_token, oauth_token), `secret`, `password`/`passwd`, `key`
    // (sshkey, api_key), `auth`, `sig` (sig, signature), `credential`. Masking too much is
    // harmless; printing one secret is not.
    RE.get_or_init(|| {
        Regex::new(
            r#"(?i)([?&][a-z0-9_.\-]*(?:token|secret|password|passwd|key|auth|sig|credential)[a-z0-9_.\-]*=)[^&#\s"'<>`]*"#,
        )
        .expect("static regex compiles")
    })
}

/// Returns `s` with every URL credential and credential-like query value replaced by
/// [`MASK`].
///
/// `ssh://git@host/...` keeps its plain user (it is not a secret); any password or token
/// (`user:pass@`, `token@` over http(s), a userinfo holding `@`) is masked.
pub fn text(s: &str) -> String {
    let s = userinfo_re().replace_all(s, |c: &regex::Captures<'_>| {
        let scheme = &c[1];
        let info = &c[2];
        match info.split_once(':') {
            Some((user, _)) if !user.contains('@') => format!("{scheme}{user}:{MASK}@"),
            Some(_) => format!("{scheme}{MASK}@"),
            // A bare user over http(s) is a token (GitHub's `https://<token>@github.com`).
            None if info.contains('@') || scheme.to_ascii_lowercase().contains("http") => {
                format!("{scheme}{MASK}@")
            }
            None => format!("{scheme}{info}@"),
        }
    });
    query_secret_re()
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

    #[test]
    fn every_credential_form_is_masked() {
        let cases = [
            // userinfo up to the last `@` before the host
            (
                "https://user:SECRETA@SECRETB@host/a.git",
                "https://user:***@host/a.git",
            ),
            ("https://SECRETA@SECRETB@host/a", "https://***@host/a"),
            ("ssh://git:SECRETA@host/a", "ssh://git:***@host/a"),
            ("ssh://SECRETA@SECRETB:x@host/a", "ssh://***@host/a"),
            ("ssh://tok@SECRETB@host/a", "ssh://***@host/a"),
            ("HTTPS://SECRETA@host/a", "HTTPS://***@host/a"),
            // an `@` in the path is not userinfo
            ("https://host/org/a@b", "https://host/org/a@b"),
            // credential-like query parameters, any case, anywhere in the query
            ("https://h/a.git?access_token=SECRETA", "https://h/a.git?access_token=***"),
            ("https://h/a?ref=v1&token=SECRETA", "https://h/a?ref=v1&token=***"),
            (
                "https://h/a?private_token=SECRETA&ref=v1",
                "https://h/a?private_token=***&ref=v1",
            ),
            ("https://h/a?OAUTH_TOKEN=SECRETA", "https://h/a?OAUTH_TOKEN=***"),
            ("git::ssh://git@h/a?sshkey=SECRET/+=A", "git::ssh://git@h/a?sshkey=***"),
            ("https://h/a?api_key=SECRETA", "https://h/a?api_key=***"),
            ("https://h/a?client_secret=SECRETA", "https://h/a?client_secret=***"),
            ("https://h/a?password=SECRETA", "https://h/a?password=***"),
            ("https://h/a?passwd=SECRETA", "https://h/a?passwd=***"),
            ("https://h/a?auth=SECRETA", "https://h/a?auth=***"),
            ("https://h/a?sig=SECRETA", "https://h/a?sig=***"),
            (
                "s3::https://b.s3.amazonaws.com/m.zip?X-Amz-Signature=SECRETA&X-Amz-Credential=SECRETB",
                "s3::https://b.s3.amazonaws.com/m.zip?X-Amz-Signature=***&X-Amz-Credential=***",
            ),
            // harmless parameters stay
            ("https://h/a?ref=v1.2.0&depth=1", "https://h/a?ref=v1.2.0&depth=1"),
            // inside free text, several URLs, quoted
            (
                "source = \"git::https://u:SECRETA@h/a?ref=v1&token=SECRETB\" and https://SECRETC@h/b",
                "source = \"git::https://u:***@h/a?ref=v1&token=***\" and https://***@h/b",
            ),
        ];
        for (input, want) in cases {
            let got = text(input);
            assert_eq!(got, want, "for {input:?}");
            assert!(!got.contains("SECRET"), "{got}");
        }
    }
}
