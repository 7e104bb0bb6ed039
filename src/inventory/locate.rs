//! Finds the local git directory of a legacy repo from its URL.
//!
//! Order: a local path (absolute, relative to the mapping file, or `file://`), then
//! `<repos_dir>/<name>.git` and `<repos_dir>/<name>`, then a mirror clone in the cache
//! directory (made only when [`Options::fetch`] is set, since a dry run must not write).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Error;
use crate::mapping::{Mapping, RepoSpec};
use crate::redact;

/// How legacy repos are found.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where mirror clones of remote URLs are kept.
    pub cache_dir: Option<PathBuf>,
    /// Whether remote URLs without a local copy may be cloned into `cache_dir`.
    pub fetch: bool,
}

fn is_remote(url: &str) -> bool {
    let u = url.strip_prefix("git::").unwrap_or(url);
    (u.contains("://") && !u.starts_with("file://"))
        || (u.contains('@') && u.contains(':') && !u.starts_with('/'))
        || u.starts_with("github.com/")
        || u.starts_with("bitbucket.org/")
}

/// Returns the git directory for `spec`.
pub(super) fn locate(mapping: &Mapping, spec: &RepoSpec, opts: &Options) -> Result<PathBuf, Error> {
    let mut looked = Vec::new();
    if !is_remote(&spec.url) {
        let raw = spec.url.strip_prefix("file://").unwrap_or(&spec.url);
        let path = mapping.base_dir.join(raw);
        if path.exists() {
            return Ok(path);
        }
        looked.push(path.display().to_string());
    }
    if let Some(dir) = &mapping.repos_dir {
        for candidate in [dir.join(format!("{}.git", spec.name)), dir.join(&spec.name)] {
            if candidate.exists() {
                return Ok(candidate);
            }
            looked.push(candidate.display().to_string());
        }
    }
    if let Some(cache) = &opts.cache_dir {
        let candidate = cache.join(format!("{}.git", spec.name));
        if candidate.exists() {
            return Ok(candidate);
        }
        if opts.fetch && is_remote(&spec.url) {
            return clone_mirror(spec, cache, &candidate);
        }
        looked.push(candidate.display().to_string());
    }
    Err(Error::NotFound {
        repo: spec.name.clone(),
        url: redact::url(&spec.url),
        looked: if looked.is_empty() {
            "nowhere: no repos_dir is set".into()
        } else {
            looked.join(", ")
        },
    })
}

/// Returns why each repo of `mapping` has no local git directory, for every such repo at
/// once and without writing anything: a remote URL counts as found when `opts` lets it be
/// cloned into the cache (`fetch` with a cache directory).
pub fn missing(mapping: &Mapping, opts: &Options) -> Vec<Error> {
    let look = Options {
        fetch: false,
        ..opts.clone()
    };
    let clonable = |spec: &RepoSpec| opts.fetch && opts.cache_dir.is_some() && is_remote(&spec.url);
    mapping
        .repos
        .iter()
        .filter(|spec| !clonable(spec))
        .filter_map(|spec| locate(mapping, spec, &look).err())
        .collect()
}

fn clone_mirror(spec: &RepoSpec, cache: &Path, dest: &Path) -> Result<PathBuf, Error> {
    let err = |message: String| Error::Clone {
        repo: spec.name.clone(),
        url: redact::url(&spec.url),
        message: redact::text(&message),
    };
    std::fs::create_dir_all(cache).map_err(|e| err(e.to_string()))?;
    let url = spec.url.strip_prefix("git::").unwrap_or(&spec.url);
    let tmp = dest.with_extension("git.partial");
    let _ = std::fs::remove_dir_all(&tmp);
    let out = Command::new("git")
        .args(["clone", "--mirror", "--quiet", url])
        .arg(&tmp)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    std::fs::rename(&tmp, dest).map_err(|e| err(e.to_string()))?;
    Ok(dest.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_and_local_urls() {
        assert!(is_remote("https://github.com/acme/x.git"));
        assert!(is_remote("git@github.com:acme/x.git"));
        assert!(is_remote("git::ssh://git@github.com/acme/x.git"));
        assert!(!is_remote("../legacy/x.git"));
        assert!(!is_remote("/srv/x"));
        assert!(!is_remote("file:///srv/x"));
    }
}
