//! Reads one legacy repo with gix: refs, commit counts and the Terraform files at the tip.

use std::path::Path;

use super::root_only::{self, RootOnlyFile};
use super::{Error, LegacyRepo, RefInfo, SourceFile};
use crate::mapping::{Branches, RepoSpec};

const LFS_HEADER: &[u8] = b"version https://git-lfs.github.com/spec/v1";

/// Returns true for files the source rewriting looks at.
fn is_terraform_file(path: &str) -> bool {
    crate::sources::is_source_file(path)
}

pub(super) fn read(
    spec: &RepoSpec,
    git_dir: &Path,
    preload: &crate::history::preload::Store,
    known: Option<&super::Counted>,
) -> Result<LegacyRepo, Error> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| Error::Corrupt {
        repo: spec.name.clone(),
        path: git_dir.to_owned(),
        what: what.to_string(),
        message: e.to_string(),
    };
    let repo = open_legacy(spec, git_dir)?;
    let git_dir = repo.git_dir().to_owned();
    let shallow = repo
        .is_shallow()
        .map_err(|e| corrupt("the shallow file", &e))?;
    if shallow {
        return Err(Error::Shallow {
            repo: spec.name.clone(),
            path: git_dir,
        });
    }

    let (branch_ids, tag_ids) = listed_refs(&repo.refs, &corrupt)?;
    let branches = ref_infos(&repo, branch_ids, false, &corrupt)?;
    let tags = ref_infos(&repo, tag_ids, true, &corrupt)?;
    if branches.is_empty() && !tags.iter().any(|t| t.is_commit) {
        return Err(Error::Empty {
            repo: spec.name.clone(),
            path: git_dir,
        });
    }

    let (head, default) = default_branch(spec, &repo, &git_dir, &branches, &corrupt)?;

    let tips = imported_tips(spec, &branches, &tags, default.as_ref());
    let mut counted_from: Vec<String> = tips.iter().map(|t| t.to_string()).collect();
    counted_from.sort();
    // Counting the commits (their parallel inflation) and reading the tip's files are
    // independent: on one repo both cores work.
    let count_repo = repo.clone();
    let tip_repo = repo.clone();
    let (counted_ref, default_ref) = (&counted_from, &default);
    let (git_dir_ref, corrupt_ref) = (&git_dir, &corrupt);
    let (commits, tip) = rayon::join(
        move || match known.filter(|k| &k.tips == counted_ref) {
            Some(k) => Ok(k.commits),
            None => count_commits(&count_repo, git_dir_ref, tips, preload)
                .map_err(|e| corrupt_ref("history", &e)),
        },
        move || match default_ref {
            Some(d) => tip_files(&tip_repo, d.peeled)
                .map_err(|e| corrupt_ref("the default branch's tree", &e)),
            None => Ok(TipFiles::default()),
        },
    );
    let (commits, tip) = (commits?, tip?);

    let platform = repo.references().map_err(|e| corrupt("refs", &e))?;
    let replace_refs = platform
        .prefixed(b"refs/replace/".as_slice())
        .map_err(|e| corrupt("refs/replace", &e))?
        .count();
    let grafts = count_grafts(&git_dir, &corrupt)?;

    Ok(LegacyRepo {
        name: spec.name.clone(),
        git_dir,
        default_branch: default.as_ref().map(|d| d.short().to_string()),
        head,
        tip: default.map(|d| d.peeled.to_string()),
        branches,
        tags,
        commits,
        files: tip.files,
        lfs_pointers: tip.lfs,
        submodules: tip.submodules,
        root_only: tip.root_only,
        shallow,
        replace_refs,
        grafts,
        non_utf8_names: tip.not_utf8,
        counted_from,
    })
}

/// Opens the legacy repo at `git_dir`, telling a SHA-256 repo from a directory that is not
/// a git repository.
fn open_legacy(spec: &RepoSpec, git_dir: &Path) -> Result<gix::Repository, Error> {
    gix::open_opts(git_dir, crate::history::open_options()).map_err(|e| {
        // gix is built for SHA-1 only: a SHA-256 repo fails to open, and is no less a repo.
        match object_format(git_dir) {
            Some(format) => Error::ObjectFormat {
                repo: spec.name.clone(),
                path: git_dir.to_owned(),
                format,
            },
            None => Error::NotGit {
                repo: spec.name.clone(),
                path: git_dir.to_owned(),
                message: e.to_string(),
            },
        }
    })
}

type Corrupt<'a> = dyn Fn(&str, &dyn std::fmt::Display) -> Error + 'a;

/// What each listed ref points at, peeled (annotated tags followed to their commit).
fn ref_infos(
    repo: &gix::Repository,
    ids: Listed,
    is_tag: bool,
    corrupt: &Corrupt<'_>,
) -> Result<Vec<RefInfo>, Error> {
    let info = |name: String, target: gix::ObjectId, is_tag: bool| -> Result<RefInfo, Error> {
        let header = repo.find_header(target).map_err(|e| corrupt(&name, &e))?;
        let (peeled, kind) = if header.kind() == gix::object::Kind::Tag {
            let object = repo
                .find_object(target)
                .and_then(|o| o.peel_tags_to_end())
                .map_err(|e| corrupt(&name, &e))?;
            (object.id, object.kind)
        } else {
            (target, header.kind())
        };
        Ok(RefInfo {
            name,
            target,
            peeled,
            is_commit: kind == gix::object::Kind::Commit,
            annotated: is_tag && target != peeled,
        })
    };
    ids.into_iter()
        .map(|(name, target)| info(name, target, is_tag))
        .collect()
}

/// HEAD's ref name, and the default branch: the branch HEAD names; none when there is no
/// branch at all.
fn default_branch(
    spec: &RepoSpec,
    repo: &gix::Repository,
    git_dir: &Path,
    branches: &[RefInfo],
    corrupt: &Corrupt<'_>,
) -> Result<(Option<String>, Option<RefInfo>), Error> {
    let head = repo.head_name().map_err(|e| corrupt("HEAD", &e))?;
    let head = head.map(|n| n.as_bstr().to_string());
    // No branch at all, only tags (HEAD names a branch that is gone): the tags are imported
    // and nothing is merged into main. With other branches, guessing which one main gets
    // would be wrong: the user fixes HEAD.
    let default = match head
        .as_deref()
        .and_then(|n| branches.iter().find(|b| b.name == n))
    {
        Some(b) => Some(b.clone()),
        None if branches.is_empty() => None,
        None => {
            return Err(Error::NoDefaultBranch {
                repo: spec.name.clone(),
                path: git_dir.to_owned(),
                branch: head.unwrap_or_else(|| "(detached HEAD)".into()),
                branches: branches.iter().map(|b| b.short().to_string()).collect(),
            })
        }
    };
    Ok((head, default))
}

/// The commits imported from: the default branch (every branch with `branches = "all"`)
/// and the tags that point at commits, each once.
fn imported_tips(
    spec: &RepoSpec,
    branches: &[RefInfo],
    tags: &[RefInfo],
    default: Option<&RefInfo>,
) -> Vec<gix::ObjectId> {
    let mut tips: Vec<gix::ObjectId> = Vec::new();
    let imported_branches = branches
        .iter()
        .filter(|b| spec.branches == Branches::All || default.is_some_and(|d| b.name == d.name));
    for r in imported_branches.chain(tags.iter().filter(|t| t.is_commit)) {
        let id = r.peeled;
        if !tips.contains(&id) {
            tips.push(id);
        }
    }
    tips
}

/// The grafts in `info/grafts` (0 without the file).
fn count_grafts(git_dir: &Path, corrupt: &Corrupt<'_>) -> Result<usize, Error> {
    let grafts = match std::fs::read_to_string(git_dir.join("info/grafts")) {
        Ok(text) => text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(corrupt("info/grafts", &e)),
    };
    Ok(grafts)
}

/// The branches, tags and HEAD of the repo at `git_dir`, from its ref files alone.
pub(super) fn refs(spec: &RepoSpec, git_dir: &Path) -> Result<super::RepoRefs, Error> {
    refs_with(spec, git_dir, false).map(|(refs, _)| refs)
}

/// [`refs`], with the stamps of the ref files read (see [`super::stamps`]) when `stamp` and
/// the repo is a plain one read straight from its files (`None` otherwise, or when the stamps
/// cannot be trusted).
pub(super) fn refs_with(
    spec: &RepoSpec,
    git_dir: &Path,
    stamp: bool,
) -> Result<(super::RepoRefs, Option<super::stamps::Stamps>), Error> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| Error::Corrupt {
        repo: spec.name.clone(),
        path: git_dir.to_owned(),
        what: what.to_string(),
        message: e.to_string(),
    };
    // A plain git directory (a bare repo, as `locate` finds them): its ref store alone, with
    // no repository opened (opening one reads its config: most of the time of a no-op
    // re-run over 1,000 repos). Anything else (a work tree, a linked worktree): opened.
    let plain = git_dir.join("HEAD").is_file()
        && git_dir.join("objects").is_dir()
        && !git_dir.join(".git").exists()
        && !git_dir.join("commondir").exists();
    // Its ref files, read directly when plain; anything else (or unusual) is read by gix.
    let fast = plain
        .then(|| match stamp {
            true => super::ref_files::read_stamped(git_dir),
            false => super::ref_files::read(git_dir).map(|found| (found, None)),
        })
        .flatten();
    let mut stamps = None;
    let (found, dir) = match fast {
        Some((found, taken)) => {
            stamps = taken;
            (found, git_dir.to_owned())
        }
        None if plain => {
            let store = gix::refs::file::Store::at(git_dir.to_owned(), gix::hash::Kind::Sha1);
            (store_refs(&store, &corrupt)?, git_dir.to_owned())
        }
        None => {
            let opened = gix::open_opts(git_dir, crate::history::open_options()).map_err(|e| {
                Error::NotGit {
                    repo: spec.name.clone(),
                    path: git_dir.to_owned(),
                    message: e.to_string(),
                }
            })?;
            (
                store_refs(&opened.refs, &corrupt)?,
                opened.git_dir().to_owned(),
            )
        }
    };
    let refs = super::RepoRefs {
        name: spec.name.clone(),
        git_dir: dir,
        head: found.head,
        refs: found
            .branches
            .into_iter()
            .chain(found.tags)
            .map(|(name, id)| (name, id.to_string()))
            .collect(),
        counted: None,
    };
    Ok((refs, stamps))
}

/// The branches, tags and HEAD of `store` as gix reads them (what `ref_files` is tested
/// against).
pub(super) fn store_refs(
    store: &gix::refs::file::Store,
    corrupt: &dyn Fn(&str, &dyn std::fmt::Display) -> Error,
) -> Result<super::ref_files::RefFiles, Error> {
    let (branches, tags) = listed_refs(store, corrupt)?;
    let head = match store
        .try_find("HEAD")
        .map_err(|e| corrupt("HEAD", &e))?
        .map(|r| r.target)
    {
        Some(gix::refs::Target::Symbolic(name)) => Some(name.as_bstr().to_string()),
        _ => None,
    };
    Ok(super::ref_files::RefFiles {
        branches,
        tags,
        head,
    })
}

/// Ref names with the object each names.
type Listed = Vec<(String, gix::ObjectId)>;

/// Every local branch and every tag with the object it names, each list sorted by name, from
/// the ref files alone (symbolic branch refs such as `refs/heads/HEAD` are aliases: left
/// out). The one listing both [`read`] and [`refs`] use, so a fingerprint made from either
/// is the same.
fn listed_refs(
    store: &gix::refs::file::Store,
    corrupt: &dyn Fn(&str, &dyn std::fmt::Display) -> Error,
) -> Result<(Listed, Listed), Error> {
    let platform = store.iter().map_err(|e| corrupt("refs", &e))?;
    let mut lists = [Vec::new(), Vec::new()];
    for (list, (what, prefix)) in lists
        .iter_mut()
        .zip([("branches", "refs/heads/"), ("tags", "refs/tags/")])
    {
        let prefix: &gix::path::RelativePath = prefix.try_into().map_err(|e| corrupt(what, &e))?;
        for reference in platform.prefixed(prefix).map_err(|e| corrupt(what, &e))? {
            let reference = reference.map_err(|e| corrupt("a ref", &e))?;
            if let gix::refs::Target::Object(id) = reference.target {
                list.push((reference.name.as_bstr().to_string(), id));
            }
        }
        list.sort();
    }
    let [branches, tags] = lists;
    Ok((branches, tags))
}

/// Whether commit `old` (hex) is an ancestor of (or equal to) commit `new` in the repo at
/// `git_dir`; `false` when either cannot be read.
pub(super) fn is_ancestor(git_dir: &Path, old: &str, new: &str) -> bool {
    let (Ok(old), Ok(new)) = (
        gix::ObjectId::from_hex(old.as_bytes()),
        gix::ObjectId::from_hex(new.as_bytes()),
    ) else {
        return false;
    };
    let Ok(repo) = gix::open_opts(git_dir, crate::history::open_options()) else {
        return false;
    };
    old == new || matches!(repo.merge_base(old, new), Ok(Some(base)) if base.detach() == old)
}

/// The object format other than SHA-1 that the repo at `path` (bare, or a work tree) declares
/// in its config (`extensions.objectformat`), lowercased; `None` for SHA-1 or no readable
/// config.
fn object_format(path: &Path) -> Option<String> {
    [path.join("config"), path.join(".git").join("config")]
        .into_iter()
        .filter(|p| p.is_file())
        .find_map(|config| {
            let file = gix::config::File::from_path_no_includes(config, gix::config::Source::Local)
                .ok()?;
            let format = file.string("extensions.objectformat")?.to_string();
            let format = format.trim().to_ascii_lowercase();
            (format != "sha1").then_some(format)
        })
}

/// What the tree of a default branch's tip holds that the plan needs.
#[derive(Debug, Default)]
pub(crate) struct TipFiles {
    /// Terraform and Terragrunt files, sorted by path.
    pub files: Vec<SourceFile>,
    /// LFS pointer paths.
    pub lfs: Vec<String>,
    /// Submodule paths.
    pub submodules: Vec<String>,
    /// Terraform files whose path is not UTF-8 (escaped for display).
    pub not_utf8: Vec<String>,
    /// Files that only work at a repo root, sorted by path.
    pub root_only: Vec<RootOnlyFile>,
}

/// The Terraform files, LFS pointers and submodules in the tree of commit `tip`.
pub(crate) fn tip_files(
    repo: &gix::Repository,
    tip: gix::ObjectId,
) -> Result<TipFiles, Box<dyn std::error::Error + Send + Sync>> {
    let tree = repo.find_commit(tip)?.tree()?;
    let mut recorder = gix::traverse::tree::Recorder::default();
    tree.traverse().breadthfirst(&mut recorder)?;
    let mut files = Vec::new();
    let mut lfs = Vec::new();
    let mut submodules = Vec::new();
    let mut not_utf8 = Vec::new();
    let mut root_only = Vec::new();
    for entry in recorder.records {
        // A name that is not UTF-8 cannot be rewritten under its own name (a lossy copy
        // would add a second file): such files are imported unchanged and reported.
        let Ok(path) = std::str::from_utf8(&entry.filepath).map(str::to_string) else {
            let shown = format!("{:?}", entry.filepath);
            if entry.mode.is_blob() && is_terraform_file(&entry.filepath.to_string()) {
                not_utf8.push(shown);
            }
            continue;
        };
        if entry.mode.is_commit() {
            submodules.push(path);
            continue;
        }
        if !entry.mode.is_blob() {
            continue;
        }
        if let Some(kind) = root_only::classify(&path) {
            root_only.push(RootOnlyFile {
                path: path.clone(),
                kind,
            });
        }
        let header = repo.find_header(entry.oid)?;
        let terraform = is_terraform_file(&path);
        if !terraform && header.size() > 1024 {
            continue;
        }
        let blob = repo.find_object(entry.oid)?;
        if blob.data.starts_with(LFS_HEADER) {
            lfs.push(path);
        } else if terraform {
            if let Ok(content) = std::str::from_utf8(&blob.data) {
                files.push(SourceFile {
                    path,
                    content: content.to_string(),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    lfs.sort();
    submodules.sort();
    not_utf8.sort();
    root_only.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(TipFiles {
        files,
        lfs,
        submodules,
        not_utf8,
        root_only,
    })
}

/// Counts the commits reachable from `tips`, reading them from the parallel preload (shared
/// with the import that follows in the same process) and falling back to single reads.
fn count_commits(
    repo: &gix::Repository,
    git_dir: &Path,
    tips: Vec<gix::ObjectId>,
    preload: &crate::history::preload::Store,
) -> Result<usize, String> {
    let preloaded = preload.shared(git_dir);
    let mut seen = gix::hashtable::HashSet::default();
    seen.reserve(preloaded.len());
    let mut stack = tips;
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        if let Some(c) = preloaded.get(&id) {
            let header = c
                .header
                .as_ref()
                .ok_or_else(|| format!("commit {id} is malformed"))?;
            stack.extend(header.parents.iter().filter(|p| !seen.contains(*p)));
            continue;
        }
        let obj = repo.find_object(id).map_err(|e| e.to_string())?;
        if obj.kind != gix::object::Kind::Commit {
            return Err(format!("{id} is a {}, not a commit", obj.kind));
        }
        let header = crate::objects::parse_commit(&obj.data)
            .ok_or_else(|| format!("commit {id} is malformed"))?;
        stack.extend(header.parents.into_iter().filter(|p| !seen.contains(p)));
    }
    Ok(seen.len())
}
