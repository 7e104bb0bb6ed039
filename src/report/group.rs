//! Groupings the renderers share: per-tag rewrites collapsed to distinct changes with their
//! tag ranges, sources left alone counted per repo, tags in version order.

use std::collections::BTreeMap;

use crate::plan::{MonorepoPlan, SourceRewrite};

/// One distinct source change made in the rewrite commits of one or more tags.
#[derive(Debug)]
pub(crate) struct TagChange<'a> {
    /// The legacy repo.
    pub repo: &'a str,
    /// The file, with its monorepo path.
    pub path: &'a str,
    /// The rewrite (its line is the one of the first tag).
    pub rewrite: &'a SourceRewrite,
    /// The tags (short monorepo names) it applies to, in version order.
    pub tags: Vec<&'a str>,
}

/// The distinct (repo, file, old, new) changes of `mono`'s tag rewrites, in the order
/// they first appear.
pub(crate) fn tag_changes(mono: &MonorepoPlan) -> Vec<TagChange<'_>> {
    let mut index: BTreeMap<(&str, &str, &str, &str), usize> = BTreeMap::new();
    let mut out: Vec<TagChange<'_>> = Vec::new();
    for t in &mono.tag_rewrites {
        let tag = short(&t.tag);
        for f in &t.files {
            for r in &f.rewrites {
                let key = (
                    t.repo.as_str(),
                    f.path.as_str(),
                    r.old.as_str(),
                    r.new.as_str(),
                );
                match index.get(&key) {
                    Some(&i) => out[i].tags.push(tag),
                    None => {
                        index.insert(key, out.len());
                        out.push(TagChange {
                            repo: &t.repo,
                            path: &f.path,
                            rewrite: r,
                            tags: vec![tag],
                        });
                    }
                }
            }
        }
    }
    for c in &mut out {
        c.tags.sort_by(|a, b| natural_cmp(a, b));
        c.tags.dedup();
    }
    // Per repo and file, in the order of the first tag each change applies to.
    out.sort_by(|a, b| {
        (a.repo, a.path)
            .cmp(&(b.repo, b.path))
            .then_with(|| natural_cmp(a.tags[0], b.tags[0]))
    });
    out
}

/// `tags` (a subset of `all`, both in version order) as runs of consecutive tags of `all`:
/// `alb/v1.0.0 .. alb/v1.4.0 (5), alb/v2.0.0`. At most `max_runs` runs are shown, then
/// `… and N more tags`.
pub(crate) fn tag_runs(tags: &[&str], all: &[&str], max_runs: usize) -> String {
    let pos: BTreeMap<&str, usize> = all.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let mut runs: Vec<(usize, usize)> = Vec::new(); // (start index in tags, len)
    for (i, t) in tags.iter().enumerate() {
        let p = pos.get(t).copied();
        match runs.last_mut() {
            Some((start, len))
                if p.is_some() && pos.get(tags[*start + *len - 1]).map(|q| q + 1) == p =>
            {
                *len += 1
            }
            _ => runs.push((i, 1)),
        }
    }
    let mut parts: Vec<String> = runs
        .iter()
        .take(max_runs)
        .map(|&(start, len)| match len {
            1 => tags[start].to_string(),
            2 => format!("{}, {}", tags[start], tags[start + 1]),
            _ => format!("{} .. {} ({len})", tags[start], tags[start + len - 1]),
        })
        .collect();
    if runs.len() > max_runs {
        let shown: usize = runs.iter().take(max_runs).map(|r| r.1).sum();
        parts.push(format!("… and {} more tags", tags.len() - shown));
    }
    parts.join(", ")
}

/// Every imported tag of `mono`'s repo `repo` (short monorepo names), in version order.
pub(crate) fn repo_tags<'a>(mono: &'a MonorepoPlan, repo: &str) -> Vec<&'a str> {
    let mut tags: Vec<&str> = mono
        .imports
        .iter()
        .filter(|i| i.repo == repo)
        .flat_map(|i| &i.tags)
        .map(|t| short(&t.to))
        .collect();
    tags.sort_by(|a, b| natural_cmp(a, b));
    tags
}

/// Sources left alone that need no attention, per repo: (repo, [(reason, count)]), in
/// file order.
pub(crate) fn left_alone_counts(mono: &MonorepoPlan) -> Vec<(&str, Vec<(&str, usize)>)> {
    let mut out: Vec<(&str, Vec<(&str, usize)>)> = Vec::new();
    for f in &mono.files {
        for l in f.left_alone.iter().filter(|l| !l.attention) {
            let repo = f.origin.repo().unwrap_or("");
            let i = match out.iter().position(|(r, _)| *r == repo) {
                Some(i) => i,
                None => {
                    out.push((repo, Vec::new()));
                    out.len() - 1
                }
            };
            let reasons = &mut out[i].1;
            match reasons.iter_mut().find(|(r, _)| *r == l.reason.label()) {
                Some((_, n)) => *n += 1,
                None => reasons.push((l.reason.label(), 1)),
            }
        }
    }
    out
}

/// Compares `a` and `b` with runs of digits compared as numbers (`v9.9.0` < `v10.0.0`),
/// then as text.
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut pa, mut pb) = (Parts(a), Parts(b));
    loop {
        let ord = match (pa.next(), pb.next()) {
            (Some((true, x)), Some((true, y))) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            (Some((_, x)), Some((_, y))) => x.cmp(y),
            // The one with more parts is the greater; equal parts: plain text order.
            (x, y) => return x.is_some().cmp(&y.is_some()).then_with(|| a.cmp(b)),
        };
        if ord.is_ne() {
            return ord;
        }
    }
}

/// The runs of digits and of non-digits of a text, in order: `(is_digits, run)`.
struct Parts<'a>(&'a str);

impl<'a> Iterator for Parts<'a> {
    type Item = (bool, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let digit = self.0.as_bytes().first()?.is_ascii_digit();
        let len = self
            .0
            .bytes()
            .position(|b| b.is_ascii_digit() != digit)
            .unwrap_or(self.0.len());
        let (run, rest) = self.0.split_at(len);
        self.0 = rest;
        Some((digit, run))
    }
}

/// `v1.0.0` for `refs/tags/v1.0.0`, `main` for `refs/heads/main`.
pub(crate) fn short(r: &str) -> &str {
    r.strip_prefix("refs/heads/")
        .or_else(|| r.strip_prefix("refs/tags/"))
        .unwrap_or(r)
}

#[cfg(test)]
mod tests {
    use super::{natural_cmp, tag_runs};
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn tags_compare_in_version_order() {
        assert_eq!(natural_cmp("iam/v9.9.0", "iam/v10.0.0"), Less);
        assert_eq!(natural_cmp("v1.10.0", "v1.9.0"), Greater);
        assert_eq!(natural_cmp("v1.0.0", "v1.0.0"), Equal);
        assert_eq!(natural_cmp("v01", "v1"), Less);
        assert_eq!(natural_cmp("v1.0.0", "v1.0.0-rc1"), Less);
        assert_eq!(natural_cmp("a", "b"), Less);
    }

    #[test]
    fn consecutive_tags_become_a_range() {
        let all = ["v1", "v2", "v3", "v4", "v5", "v6"];
        assert_eq!(
            tag_runs(&["v1", "v2", "v3", "v5"], &all, 4),
            "v1 .. v3 (3), v5"
        );
        assert_eq!(tag_runs(&["v4", "v5"], &all, 4), "v4, v5");
        assert_eq!(
            tag_runs(&["v1", "v3", "v5"], &all, 2),
            "v1, v3, … and 1 more tags"
        );
    }
}
