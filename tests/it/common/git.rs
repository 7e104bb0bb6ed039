//! Git and file helpers shared by the test modules: commit a work tree, list refs, show a file
//! at a revision, write a file with its parents.
#![allow(dead_code)]

use std::path::Path;

use crate::common::git;

pub(crate) fn rev(repo: &Path, spec: &str) -> String {
    git(repo, &["rev-parse", spec]).trim().to_string()
}

/// `git --no-replace-objects rev-parse spec` in `repo`.
pub(crate) fn stored(repo: &Path, spec: &str) -> String {
    git(repo, &["--no-replace-objects", "rev-parse", spec])
        .trim()
        .to_string()
}

/// Writes `files` into work tree `w` and commits them.
pub(crate) fn commit(w: &Path, files: &[(&str, &str)], msg: &str) {
    for (path, content) in files {
        let p = w.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    git(w, &["add", "-A"]);
    git(w, &["commit", "-q", "--allow-empty", "-m", msg]);
}

/// `git for-each-ref` of a bare repo: `<id> <type> <name>` lines.
pub(crate) fn refs(repo: &Path) -> String {
    git(
        repo,
        &[
            "for-each-ref",
            "--format=%(objectname) %(objecttype) %(refname)",
        ],
    )
}

/// The text of `path` at `rev` in a bare repo.
pub(crate) fn show(repo: &Path, rev: &str, path: &str) -> String {
    git(repo, &["show", &format!("{rev}:{path}")])
}

pub(crate) fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Adds a commit with `message` and the same tree on top of `HEAD` of the bare repo `repo`
/// (as a push of an empty change would), moving `HEAD`'s branch; returns its id.
pub(crate) fn commit_on_head(repo: &Path, message: &str) -> String {
    let tip = rev(repo, "HEAD");
    let tree = rev(repo, "HEAD^{tree}");
    let new = git(repo, &["commit-tree", &tree, "-p", &tip, "-m", message])
        .trim()
        .to_string();
    git(repo, &["update-ref", "HEAD", &new, &tip]);
    new
}
