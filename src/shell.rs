//! POSIX shell quoting for the scripts tfmono writes.
//!
//! Everything variable in a generated script (paths, ref names, Terraform addresses) is
//! single-quoted: inside single quotes a POSIX shell expands nothing (`$`, backticks, `\`),
//! so the only character needing care is `'` itself, written as `'\''`.
//!
//! Why not the `shlex` crate: its quoter switches to double quotes (with backslash escapes)
//! for words containing `'`, and the generated scripts promise single quotes everywhere (the
//! issue's rule: double quotes still expand `$`). Ten lines, tested against a real `sh`.

/// Returns `s` as one POSIX shell word that the shell passes through unchanged.
pub fn quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@+,".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn plain_words_stay_bare() {
        assert_eq!(quote("refs/heads/main"), "refs/heads/main");
    }

    #[test]
    fn dollar_and_spaces_are_single_quoted() {
        assert_eq!(quote("a $HOME b"), "'a $HOME b'");
        assert_eq!(quote(r#"module.x["a b"]"#), r#"'module.x["a b"]'"#);
    }

    #[test]
    fn single_quote_is_escaped() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn round_trips_through_a_real_shell() {
        for s in [
            "it's",
            "a $HOME `x` \\ b",
            "module.x[\"a b\"]",
            "tab\there",
            "new\nline",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", quote(s)))
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }
}
