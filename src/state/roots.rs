//! Checks that every root a `state` block names (its label and each move's `from_state`) is
//! a directory the migration creates: an imported repo's path in its monorepo, or a
//! directory below one. Runs before the legacy repos are scanned, so a typo is an error
//! with a "did you mean" instead of scripts that `cd` into nothing.

use super::Problem;
use crate::mapping::{did_you_mean, Mapping};

/// The `<monorepo>/<path>` directory of every imported repo, sorted.
pub fn imported_roots(mapping: &Mapping) -> Vec<String> {
    let mut roots: Vec<String> = mapping
        .repos
        .iter()
        .map(|r| format!("{}/{}", r.into, r.path))
        .collect();
    roots.sort();
    roots
}

/// The imported root holding `root` (itself or an ancestor directory), if any.
pub fn import_of<'a>(imported: &'a [String], root: &str) -> Option<&'a str> {
    imported
        .iter()
        .find(|i| root == i.as_str() || root.starts_with(&format!("{i}/")))
        .map(String::as_str)
}

/// Returns a problem for every label and `from_state` of the mapping's state blocks that no
/// imported repo lands at or above, with the closest imported root as a hint.
pub fn check(mapping: &Mapping) -> Vec<Problem> {
    let imported = imported_roots(mapping);
    let mut problems = Vec::new();
    for (label, block) in &mapping.state {
        if import_of(&imported, label).is_none() {
            problems.push(Problem {
                at: block.at.block.clone(),
                message: format!(
                    "unknown root \"{label}\": no imported repo lands there; {}",
                    hint(label, &imported)
                ),
            });
        }
        for (i, m) in block.moves.iter().enumerate() {
            let Some(src) = &m.from_state else { continue };
            if import_of(&imported, src).is_none() {
                problems.push(Problem {
                    at: block
                        .at
                        .from_state
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| format!("state \"{label}\" move #{}", i + 1)),
                    message: format!(
                        "`from_state`: unknown root \"{src}\": no imported repo lands there; {}",
                        hint(src, &imported)
                    ),
                });
            }
        }
    }
    problems
}

fn hint(label: &str, imported: &[String]) -> String {
    let names: Vec<&str> = imported.iter().map(String::as_str).collect();
    match did_you_mean(label, &names) {
        Some(s) => format!("did you mean \"{s}\"?"),
        None if names.is_empty() => "the mapping imports no repo".into(),
        None => format!(
            "a root is `<monorepo>/<path>` of an imported repo (or a directory below one), e.g. \"{}\"",
            names[0]
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_below_an_import_is_known() {
        let imported = vec!["live/prod/api".to_string()];
        assert_eq!(import_of(&imported, "live/prod/api"), Some("live/prod/api"));
        assert_eq!(
            import_of(&imported, "live/prod/api/eu"),
            Some("live/prod/api")
        );
        assert_eq!(import_of(&imported, "live/prod/apix"), None);
    }

    #[test]
    fn a_typo_gets_the_closest_root() {
        let imported = vec!["live/prod/korea/api/static".to_string()];
        assert_eq!(
            hint("live/prod/koera/api/static", &imported),
            "did you mean \"live/prod/korea/api/static\"?"
        );
    }
}
