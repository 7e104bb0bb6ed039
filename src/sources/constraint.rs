//! Terraform module version constraints, evaluated the way Terraform 1.0 does.
//!
//! Terraform's module installer uses `hashicorp/go-version`; this is a port of its rules,
//! not of Cargo's (`semver`'s `~` differs):
//!
//! - operators `=`, `!=`, `>`, `>=`, `<`, `<=`, `~>`, comma-separated lists (all must
//!   hold); a bare version is `=`;
//! - versions: optional leading `v`, one or more numeric parts padded with zeros to three,
//!   optional prerelease (`-rc1`, or letters right after the numbers: `1.0.0beta`), optional
//!   `+metadata` (ignored in comparisons);
//! - `~> X.Y.Z` allows only the right-most *written* part to grow: `~> 1.2.3` is
//!   `>= 1.2.3, < 1.3.0`, `~> 1.2` is `>= 1.2, < 2.0`. `~> 1` (a single part) is, in
//!   go-version and therefore in Terraform, just `>= 1`: the right-most part is the major
//!   one and may grow (this differs from Ruby/Cargo where it means `< 2`);
//! - prereleases: go-version's comparison operators only let a prerelease version through
//!   when the constraint names a prerelease with the same numbers; on top of that
//!   Terraform 1.0's module installer skips every prerelease version unless the constraint
//!   text is exactly that version's canonical string (`req.VersionConstraint.Required.String()
//!   != v.String()`), so only the bare `1.0.0-rc1` selects the tag `v1.0.0-rc1` (not
//!   `= 1.0.0-rc1`, not `v1.0.0-rc1`). [`highest_matching`] applies both;
//!   [`Constraints::matches`] is the bare go-version check.

use std::cmp::Ordering;
use std::fmt;

/// A constraint that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version constraint {constraint:?}: {reason}")]
pub struct ConstraintError {
    /// The constraint text.
    pub constraint: String,
    /// What is wrong.
    pub reason: String,
}

/// A version as go-version parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Numeric parts, padded with zeros to at least three.
    pub segments: Vec<u64>,
    /// How many numeric parts were written.
    pub written: usize,
    /// The prerelease text without the `-` (empty for none).
    pub pre: String,
    /// The build metadata without the `+` (empty for none); ignored in comparisons.
    pub meta: String,
}

impl Version {
    /// Parses `v1`, `1.2`, `1.2.3`, `v1.2.3-rc1`, `1.2.3+meta`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let (s, meta) = match s.split_once('+') {
            Some((a, meta)) => {
                if meta.is_empty() || !meta.split('.').all(ident_ok) {
                    return None;
                }
                (a, meta)
            }
            None => (s, ""),
        };
        let num_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (nums, pre) = s.split_at(num_end);
        if nums.is_empty() || nums.ends_with('.') {
            return None;
        }
        let mut segments = Vec::new();
        for part in nums.split('.') {
            if part.is_empty() || part.len() > 19 {
                return None;
            }
            segments.push(part.parse::<u64>().ok()?);
        }
        let written = segments.len();
        while segments.len() < 3 {
            segments.push(0);
        }
        let pre = match pre.strip_prefix('-') {
            Some("") => return None,
            Some(p) => p,
            None if pre.is_empty() => "",
            // `1.0.0beta`: allowed by go-version only when it starts with a letter.
            None if pre.starts_with(|c: char| c.is_ascii_alphabetic() || c == '~') => pre,
            None => return None,
        };
        if !pre.is_empty() && !pre.split('.').all(ident_ok) {
            return None;
        }
        Some(Version {
            segments,
            written,
            pre: pre.to_string(),
            meta: meta.to_string(),
        })
    }

    /// go-version's `String()`: the padded numbers, `-pre`, `+meta` (`v1.2-rc1` →
    /// `1.2.0-rc1`).
    pub fn canonical(&self) -> String {
        let mut s = self
            .segments
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".");
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.meta.is_empty() {
            s.push('+');
            s.push_str(&self.meta);
        }
        s
    }

    /// Whether it has a prerelease part.
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    fn seg(&self, i: usize) -> u64 {
        self.segments.get(i).copied().unwrap_or(0)
    }
}

fn ident_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '~')
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.segments.len().max(other.segments.len());
        for i in 0..n {
            match self.seg(i).cmp(&other.seg(i)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        compare_pre(&self.pre, &other.pre)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares prereleases: none sorts above any; parts compare numerically when both are
/// numbers, numbers sort below words, words compare as text; more parts sort higher.
fn compare_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    // SemVer 2.0 precedence (the `semver` crate) where both parse; go-version agrees there.
    if let (Ok(x), Ok(y)) = (semver::Prerelease::new(a), semver::Prerelease::new(b)) {
        return x.cmp(&y);
    }
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=` or none.
    Eq,
    /// `!=`.
    Ne,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `~>`.
    Pessimistic,
}

/// One `op version` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// The operator.
    pub op: Op,
    /// The version it compares with.
    pub version: Version,
}

/// A comma-separated list of constraints; a version must satisfy all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraints {
    /// The terms.
    pub terms: Vec<Constraint>,
    /// go-version's `String()`: the trimmed terms as written, joined with `,`.
    pub text: String,
}

impl Constraints {
    /// Parses `">= 1.2, < 2.0"`, `"~> 1.2"`, `"1.2.3"`.
    pub fn parse(s: &str) -> Result<Constraints, ConstraintError> {
        let err = |reason: &str| ConstraintError {
            constraint: s.to_string(),
            reason: reason.to_string(),
        };
        let mut out = Vec::new();
        let mut text = Vec::new();
        for term in s.split(',') {
            let t = term.trim();
            if t.is_empty() {
                return Err(err("empty constraint"));
            }
            let (op, rest) = [
                ("~>", Op::Pessimistic),
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("!=", Op::Ne),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(p, op)| t.strip_prefix(p).map(|r| (*op, r)))
            .unwrap_or((Op::Eq, t));
            let version = Version::parse(rest)
                .filter(|_| !rest.trim().is_empty())
                .ok_or_else(|| err(&format!("{:?} is not a version", rest.trim())))?;
            out.push(Constraint { op, version });
            text.push(t);
        }
        Ok(Constraints {
            terms: out,
            text: text.join(","),
        })
    }

    /// go-version's check: whether `v` satisfies every term.
    pub fn matches(&self, v: &Version) -> bool {
        self.terms.iter().all(|c| c.matches(v))
    }

    /// Whether the constraint text is exactly `v`'s canonical string (Terraform 1.0's rule
    /// for installing a prerelease module version).
    pub fn requests_exactly(&self, v: &Version) -> bool {
        self.text == v.canonical()
    }
}

/// go-version's prereleaseCheck.
fn prerelease_ok(v: &Version, c: &Version) -> bool {
    match (c.is_prerelease(), v.is_prerelease()) {
        (true, true) => {
            let n = v.segments.len().max(c.segments.len());
            (0..n).all(|i| v.seg(i) == c.seg(i))
        }
        (false, true) => false,
        _ => true,
    }
}

impl Constraint {
    /// go-version's check of one term.
    pub fn matches(&self, v: &Version) -> bool {
        let c = &self.version;
        match self.op {
            Op::Eq => v.cmp(c) == Ordering::Equal,
            Op::Ne => v.cmp(c) != Ordering::Equal,
            Op::Gt => prerelease_ok(v, c) && v > c,
            Op::Ge => prerelease_ok(v, c) && v >= c,
            Op::Lt => prerelease_ok(v, c) && v < c,
            Op::Le => prerelease_ok(v, c) && v <= c,
            Op::Pessimistic => {
                if !prerelease_ok(v, c) || (c.is_prerelease() && !v.is_prerelease()) {
                    return false;
                }
                if v < c {
                    return false;
                }
                let cs = c.segments.len();
                if cs > v.segments.len() {
                    return false;
                }
                if (0..c.written.saturating_sub(1)).any(|i| v.seg(i) != c.seg(i)) {
                    return false;
                }
                c.seg(cs - 1) <= v.seg(cs - 1)
            }
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Pessimistic => "~>",
        })
    }
}

/// Returns the tag (as given) of the highest version among `tags` that Terraform would
/// install for `constraint`; tags that are not versions are ignored. Prerelease tags are
/// only chosen when the constraint is exactly that version's canonical text (`1.0.0-rc1`). Among tags naming the same
/// version (`v1.0.0` and `1.0.0`), the first one wins.
pub fn highest_matching<'a>(
    constraint: &str,
    tags: &'a [String],
) -> Result<Option<&'a str>, ConstraintError> {
    let cs = Constraints::parse(constraint)?;
    let mut best: Option<(Version, &'a str)> = None;
    for tag in tags {
        let Some(v) = Version::parse(tag) else {
            continue;
        };
        if v.is_prerelease() && !cs.requests_exactly(&v) {
            continue;
        }
        if !cs.matches(&v) {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, tag.as_str()));
        }
    }
    Ok(best.map(|(_, t)| t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: &str, v: &str) -> bool {
        Constraints::parse(c)
            .expect("constraint parses")
            .matches(&Version::parse(v).expect("version parses"))
    }

    #[test]
    fn constraint_table() {
        let table: &[(&str, &str, bool)] = &[
            ("1.2.3", "1.2.3", true),
            ("1.2.3", "v1.2.3", true),
            ("1.2.3", "1.2.4", false),
            ("= 1.2", "1.2.0", true),
            ("=1.2.0", "1.2.1", false),
            ("!= 1.2.3", "1.2.3", false),
            ("!= 1.2.3", "1.2.4", true),
            ("> 1.0", "1.0.1", true),
            ("> 1.0", "1.0.0", false),
            (">= 1.0", "1.0.0", true),
            (">= 1.0", "0.9.9", false),
            ("< 2", "1.9.9", true),
            ("< 2", "2.0.0", false),
            ("<= 2.0", "2.0.0", true),
            ("<= 2.0", "2.0.1", false),
            (">= 1.2, < 2.0", "1.5.0", true),
            (">= 1.2, < 2.0", "2.0.0", false),
            (">= 1.2, < 2.0, != 1.5.0", "1.5.0", false),
            ("~> 1.2", "1.2.0", true),
            ("~> 1.2", "1.9.7", true),
            ("~> 1.2", "2.0.0", false),
            ("~> 1.2", "1.1.9", false),
            ("~> 1.2.3", "1.2.3", true),
            ("~> 1.2.3", "1.2.10", true),
            ("~> 1.2.3", "1.3.0", false),
            ("~> 1.2.3", "1.2.2", false),
            ("~> 1.0", "1.1.0", true),
            ("~> 0.12", "0.13.0", true),
            ("~> 0.12.0", "0.13.0", false),
            // go-version: a one-part `~>` only sets a floor (the major part may grow).
            ("~> 1", "1.0.0", true),
            ("~> 1", "1.9.0", true),
            ("~> 1", "2.0.0", true),
            ("~> 1", "0.9.0", false),
            ("~>v2.1", "v2.4.0", true),
            ("v1.2.3", "1.2.3", true),
            // Prereleases need a prerelease constraint with the same numbers.
            (">= 1.0.0", "1.0.0-rc1", false),
            (">= 0.9", "1.0.0-rc1", false),
            ("1.0.0-rc1", "1.0.0-rc1", true),
            ("1.0.0", "1.0.0-rc1", false),
            (">= 1.0.0-rc1", "1.0.0-rc2", true),
            (">= 1.0.0-rc1", "1.0.0", true),
            (">= 1.0.0-rc1", "1.0.1-rc1", false),
            ("~> 1.0.0-rc1", "1.0.0", false),
            ("~> 1.0.0-rc1", "1.0.0-rc2", true),
            ("< 1.0.0", "1.0.0-rc1", false),
            ("!= 1.0.0", "1.0.0-rc1", true),
            ("1.0.0+build5", "1.0.0", true),
            ("1.0.0-beta.2", "1.0.0-beta.10", false),
            (">= 1.0.0-beta.2", "1.0.0-beta.10", true),
            (">= 1.0.0-beta.2", "1.0.0-beta.1", false),
        ];
        assert!(table.len() >= 25);
        for (c, v, want) in table {
            assert_eq!(m(c, v), *want, "{c:?} vs {v:?}");
        }
    }

    #[test]
    fn versions_parse_like_go_version() {
        let p = |s: &str| Version::parse(s).map(|v| (v.segments, v.written, v.pre));
        let canon = |s: &str| Version::parse(s).map(|v| v.canonical());
        assert_eq!(canon("v1.2-rc1+b7").as_deref(), Some("1.2.0-rc1+b7"));
        assert_eq!(p("v1"), Some((vec![1, 0, 0], 1, String::new())));
        assert_eq!(p("1.2"), Some((vec![1, 2, 0], 2, String::new())));
        assert_eq!(p("1.2.3-rc.1"), Some((vec![1, 2, 3], 3, "rc.1".into())));
        assert_eq!(p("1.0.0beta"), Some((vec![1, 0, 0], 3, "beta".into())));
        assert_eq!(p("1.2.3+meta"), Some((vec![1, 2, 3], 3, String::new())));
        for bad in [
            "",
            "v",
            "latest",
            "1..2",
            "1.2.",
            "x1.2",
            "1.2.3-",
            "release-1.0",
            "1.0+",
        ] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
        assert!(Version::parse("1.0.0-rc1") < Version::parse("1.0.0"));
        assert!(Version::parse("1.0.0-rc.2") < Version::parse("1.0.0-rc.10"));
        assert!(Version::parse("1.10.0") > Version::parse("1.9.0"));
    }

    #[test]
    fn bad_constraints_are_errors() {
        for bad in ["", "~>", ">= x", "1.0,", ">> 1", "~> 1.0 || 2.0"] {
            assert!(Constraints::parse(bad).is_err(), "{bad}");
        }
        let e = Constraints::parse(">= banana").expect_err("error");
        assert!(e.to_string().contains("banana"), "{e}");
    }

    #[test]
    fn highest_matching_picks_the_highest_release() {
        let tags: Vec<String> = [
            "v1.0.0",
            "v1.1.0",
            "v1.10.0",
            "v1.2.0",
            "v2.0.0",
            "v2.1.0-rc1",
            "latest",
            "1.1.0",
            "v3.0.0-beta",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let h = |c: &str| highest_matching(c, &tags).expect("valid");
        assert_eq!(h("~> 1.0"), Some("v1.10.0"));
        assert_eq!(h("~> 1.1.0"), Some("v1.1.0"));
        assert_eq!(h(">= 1.0"), Some("v2.0.0"));
        assert_eq!(h(">= 2.1.0-rc1"), None);
        assert_eq!(h("2.1.0-rc1"), Some("v2.1.0-rc1"));
        assert_eq!(h("3.0.0-beta"), Some("v3.0.0-beta"));
        // Terraform 1.0 compares the constraint text with the canonical version string.
        assert_eq!(h("= 3.0.0-beta"), None);
        assert_eq!(h("v3.0.0-beta"), None);
        assert_eq!(h("~> 1"), Some("v2.0.0"));
        assert_eq!(h("> 3.0"), None);
        assert_eq!(h("1.1.0"), Some("v1.1.0"));
        assert!(highest_matching("nope", &tags).is_err());
    }
}
