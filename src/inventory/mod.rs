//! The inventory: what every mapped legacy repo holds, read once and read-only.
//!
//! [`scan`] locates each [`RepoSpec`](crate::mapping::RepoSpec)'s git directory (a local
//! path, `<repos_dir>/<name>.git`, or a mirror clone in a cache directory when fetching is
//! allowed), opens it with gix and records its default branch, branches, tags (lightweight
//! and annotated), the number of commits that will be imported, and the Terraform files of
//! its default branch's tip (for the source rewrites), plus LFS pointers, submodules and
//! files that only work at a repo root ([`root_only`]). A
//! repo with tags but no branch at all (HEAD names a branch that is gone) has no default
//! branch: only its tags are imported.
//! Legacy repos are never written: not even a config entry.

pub mod blobs;
mod locate;
mod read;
mod ref_files;
pub mod root_only;
pub mod stamps;

use std::path::PathBuf;

use serde::Serialize;

use crate::history::preload::Store as Preload;
use crate::mapping::Mapping;
use crate::progress::Progress;

pub use locate::{missing, Options};

/// Everything the legacy repos hold that the plan needs, in mapping order.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// One entry per [`Mapping::repos`] entry, same order.
    pub repos: Vec<LegacyRepo>,
}

/// One legacy repo as found on disk.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LegacyRepo {
    /// The repo's name in the mapping.
    pub name: String,
    /// The git directory it was read from.
    pub git_dir: PathBuf,
    /// The default branch's short name (`master`); `None` when the repo has no branch at all,
    /// only tags (HEAD then names a branch that does not exist).
    pub default_branch: Option<String>,
    /// The ref HEAD names (`refs/heads/master`); `None` when HEAD is detached.
    pub head: Option<String>,
    /// The commit the default branch points at (hex), if there is a default branch.
    pub tip: Option<String>,
    /// Every local branch, sorted by name, the default one included.
    pub branches: Vec<RefInfo>,
    /// Every tag, sorted by name.
    pub tags: Vec<RefInfo>,
    /// Commits reachable from the refs that will be imported (per the mapping's `branches`).
    pub commits: usize,
    /// Terraform and Terragrunt files at the default branch's tip, sorted by path (none
    /// without a default branch: nothing of the repo lands on `main`).
    pub files: Vec<SourceFile>,
    /// Paths of Git LFS pointer files at the tip.
    pub lfs_pointers: Vec<String>,
    /// Paths of submodules (gitlinks) at the tip.
    pub submodules: Vec<String>,
    /// Files at the tip that only work at a repo root (CI workflows, CODEOWNERS, …),
    /// sorted by path.
    pub root_only: Vec<root_only::RootOnlyFile>,
    /// Whether the repo is a shallow clone (its history is incomplete).
    pub shallow: bool,
    /// How many `refs/replace/*` refs the repo has: they are ignored (the history is read
    /// as stored), and the plan warns.
    pub replace_refs: usize,
    /// How many graft lines `info/grafts` holds: ignored too, with a warning.
    pub grafts: usize,
    /// Terraform files at the tip whose path is not UTF-8 (escaped for display): imported
    /// unchanged, their sources not rewritten.
    pub non_utf8_names: Vec<String>,
    /// The commits `commits` counts from: every imported tip (hex), sorted.
    pub counted_from: Vec<String>,
}

/// A commit count and the tips it was counted from: the same tips always reach the same
/// commits (ids name content), so a count recorded by an earlier run is reused as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Counted {
    /// Every imported tip (hex), sorted.
    pub tips: Vec<String>,
    /// The commits reachable from them.
    pub commits: usize,
}

/// Commit counts recorded by an earlier run, by repo name (see [`scan_known`]).
pub type KnownCounts = std::collections::HashMap<String, Counted>;

/// A ref of a legacy repo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RefInfo {
    /// The full ref name (`refs/tags/v1.0.0`).
    pub name: String,
    /// The object the ref points at: a commit, or an annotated tag object.
    #[serde(with = "crate::objects::hex")]
    pub target: gix::ObjectId,
    /// The object it peels to, normally a commit.
    #[serde(with = "crate::objects::hex")]
    pub peeled: gix::ObjectId,
    /// Whether `peeled` is a commit (tags of trees or blobs exist, rarely).
    pub is_commit: bool,
    /// Whether the ref is an annotated tag.
    pub annotated: bool,
}

impl RefInfo {
    /// Returns the short name: `v1.0.0` for `refs/tags/v1.0.0`, `main` for `refs/heads/main`.
    pub fn short(&self) -> &str {
        self.name
            .strip_prefix("refs/tags/")
            .or_else(|| self.name.strip_prefix("refs/heads/"))
            .unwrap_or(&self.name)
    }
}

/// A Terraform/Terragrunt file (`.tf`, `.tf.json`, `.hcl`) at a repo's default tip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SourceFile {
    /// Its path relative to the repo root.
    pub path: String,
    /// Its content (files that are not UTF-8 are skipped and reported).
    #[serde(skip)]
    pub content: String,
}

/// Why a legacy repo cannot be read; every variant names the repo and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Neither the URL nor the repos directory gives a local git directory.
    #[error("repo \"{repo}\": no local copy of {url} (looked in {looked}); clone it with `git clone --mirror {url} <repos_dir>/{repo}.git`, set `repos_dir` in the mapping or pass --repos DIR")]
    NotFound {
        /// The repo's name.
        repo: String,
        /// Its URL (redacted).
        url: String,
        /// The places that were tried.
        looked: String,
    },
    /// The path exists but is not a git repository.
    #[error("repo \"{repo}\": {} is not a git repository ({message}); point the mapping at the repo's clone", path.display())]
    NotGit {
        /// The repo's name.
        repo: String,
        /// The path tried.
        path: PathBuf,
        /// What gix said.
        message: String,
    },
    /// The repository uses an object format other than SHA-1 (`extensions.objectformat`).
    #[error("repo \"{repo}\" at {} uses the {format} object format, which tfmono does not support yet; convert it or migrate it by hand", path.display())]
    ObjectFormat {
        /// The repo's name.
        repo: String,
        /// The path tried.
        path: PathBuf,
        /// The format its config declares (`sha256`).
        format: String,
    },
    /// The repository has no commits at all: no branch, and no tag of a commit.
    #[error("repo \"{repo}\" at {} is empty (no branch and no tag has a commit); push its history first or remove it from the inventory", path.display())]
    Empty {
        /// The repo's name.
        repo: String,
        /// Its git directory.
        path: PathBuf,
    },
    /// HEAD names a branch that does not exist (or HEAD is detached) while other branches
    /// exist: which one `main` gets is the user's call. (A repo with tags but no branch at
    /// all is imported: its tags only.)
    #[error("repo \"{repo}\" at {}: the default branch {branch} does not exist (its branches: {}); fix HEAD with `git symbolic-ref HEAD refs/heads/<branch>` in a clone", path.display(), branches.join(", "))]
    NoDefaultBranch {
        /// The repo's name.
        repo: String,
        /// Its git directory.
        path: PathBuf,
        /// The branch HEAD names (or "(detached HEAD)").
        branch: String,
        /// The short names of the branches that do exist.
        branches: Vec<String>,
    },
    /// The repository is a shallow clone.
    #[error("repo \"{repo}\" at {} is a shallow clone: its history is incomplete; clone it in full (`git fetch --unshallow`) before migrating", path.display())]
    Shallow {
        /// The repo's name.
        repo: String,
        /// Its git directory.
        path: PathBuf,
    },
    /// An object could not be read: the repository is corrupt or incomplete.
    #[error("repo \"{repo}\" at {}: cannot read {what}: {message}; run `git fsck` in it", path.display())]
    Corrupt {
        /// The repo's name.
        repo: String,
        /// Its git directory.
        path: PathBuf,
        /// What was being read.
        what: String,
        /// The underlying error.
        message: String,
    },
    /// Cloning a remote URL into the cache failed.
    #[error("repo \"{repo}\": cloning {url} into the cache failed: {message}")]
    Clone {
        /// The repo's name.
        repo: String,
        /// Its URL (redacted).
        url: String,
        /// Git's message (redacted).
        message: String,
    },
}

impl LegacyRepo {
    /// What the plan should warn about this repo that only the inventory sees: replace refs
    /// and grafts, which are ignored. `(subject, message)` pairs.
    pub fn warnings(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.replace_refs > 0 {
            out.push((
                self.name.clone(),
                format!(
                    "repo {} has {} replace ref{} (refs/replace/*); they are ignored: the history is imported as stored",
                    self.name,
                    self.replace_refs,
                    if self.replace_refs == 1 { "" } else { "s" }
                ),
            ));
        }
        for name in &self.non_utf8_names {
            out.push((
                self.name.clone(),
                format!(
                    "repo {}: the file name {name} is not UTF-8: the file is imported unchanged and its module sources are not rewritten; rename it in the legacy repo to have them rewritten",
                    self.name
                ),
            ));
        }
        if self.grafts > 0 {
            out.push((
                self.name.clone(),
                format!(
                    "repo {} has {} graft{} (info/grafts); they are ignored: the history is imported as stored",
                    self.name,
                    self.grafts,
                    if self.grafts == 1 { "" } else { "s" }
                ),
            ));
        }
        out
    }
}

/// The refs of one legacy repo, read without touching any object: what decides whether the
/// repo moved since an earlier run (see [`refs`] and [`LegacyRepo::refs`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RepoRefs {
    /// The repo's name in the mapping.
    pub name: String,
    /// Its git directory.
    pub git_dir: PathBuf,
    /// The ref HEAD names, if any.
    pub head: Option<String>,
    /// Every local branch then every tag, each sorted by name: (full name, target hex).
    pub refs: Vec<(String, String)>,
    /// The repo's commit count and the tips it was counted from, when a full read made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<Counted>,
}

impl LegacyRepo {
    /// This repo's [`RepoRefs`].
    pub fn refs(&self) -> RepoRefs {
        RepoRefs {
            name: self.name.clone(),
            git_dir: self.git_dir.clone(),
            head: self.head.clone(),
            refs: self
                .branches
                .iter()
                .chain(&self.tags)
                .map(|r| (r.name.clone(), r.target.to_string()))
                .collect(),
            counted: Some(Counted {
                tips: self.counted_from.clone(),
                commits: self.commits,
            }),
        }
    }
}

/// A legacy repo as one apply read it, kept in the output directory so that a later run
/// whose refs of that repo are the same takes it instead of reading the repo again (see
/// [`scan_known`]). `base` is the fingerprint of what else a read depends on (the tfmono
/// version and the mapping).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Recorded {
    /// What else the read depended on.
    pub base: String,
    /// The repo as read (without the files' contents: see `contents`).
    pub repo: LegacyRepo,
    /// The content of each of `repo.files`.
    pub contents: Vec<String>,
}

impl Recorded {
    /// The record of `repo`, read with inputs `base`.
    pub fn of(repo: &LegacyRepo, base: &str) -> Recorded {
        Recorded {
            base: base.to_string(),
            repo: repo.clone(),
            contents: repo.files.iter().map(|f| f.content.clone()).collect(),
        }
    }

    /// The repo it records, if it was read with inputs `base` and its refs are `now`.
    pub fn reuse(self, base: &str, now: &RepoRefs) -> Option<LegacyRepo> {
        let then = self.repo.refs();
        let same = self.base == base
            && then.name == now.name
            && then.git_dir == now.git_dir
            && then.head == now.head
            && then.refs == now.refs
            && self.contents.len() == self.repo.files.len();
        if !same {
            return None;
        }
        let mut repo = self.repo;
        for (f, c) in repo.files.iter_mut().zip(self.contents) {
            f.content = c;
        }
        Some(repo)
    }
}

/// The [`RepoRefs`] of every repo of `mapping`, in mapping order: ref files only (loose refs
/// and `packed-refs`), no object is read. Milliseconds for hundreds of repos, where [`scan`]
/// inflates every commit.
pub fn refs(mapping: &Mapping, opts: &Options) -> Result<Vec<RepoRefs>, Error> {
    use rayon::prelude::*;
    mapping
        .repos
        .par_iter()
        .map(|spec| {
            let git_dir = locate::locate(mapping, spec, opts)?;
            read::refs(spec, &git_dir)
        })
        .collect()
}

/// The refs of one legacy repo as a reading with stamps found them (see [`stamps`]): what
/// the output directory keeps so that the next run takes the refs without reading the files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StampedRefs {
    /// The repo's name in the mapping.
    pub name: String,
    /// Its git directory.
    pub git_dir: PathBuf,
    /// The [`RepoRefs::digest`] of the refs read.
    pub digest: String,
    /// The stamps of their files.
    pub stamps: stamps::Stamps,
}

impl RepoRefs {
    /// A digest of what these refs say: the git directory, HEAD and every ref (the name and
    /// the commit counts are not part of it).
    pub fn digest(&self) -> String {
        use sha1::Digest;
        let mut h = sha1::Sha1::new();
        h.update(self.git_dir.as_os_str().as_encoded_bytes());
        h.update(format!("\0{}\0", self.head.as_deref().unwrap_or("")));
        self.hash_refs(&mut h);
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Feeds every ref to `h` as a line `{name} {target}` (without a string made for each of
    /// thousands of refs): the part of [`digest`](Self::digest) and of the plan's input
    /// fingerprint that lists the refs.
    pub fn hash_refs(&self, h: &mut sha1::Sha1) {
        use sha1::Digest;
        for (name, target) in &self.refs {
            h.update(name.as_bytes());
            h.update(b" ");
            h.update(target.as_bytes());
            h.update(b"\n");
        }
    }
}

/// [`refs`] for a run that knows the refs an earlier one read (`known`) and the stamps of
/// their files (`stamped`): a repo whose stamps still hold (and whose known refs are the ones
/// stamped) is taken as known, its ref files not read; any other is read, stamped. With the
/// stamps for the next run, in mapping order (a repo whose stamps cannot be trusted, or
/// that is not a plain repo read from its files, has none: it is read every time).
pub fn refs_stamped(
    mapping: &Mapping,
    opts: &Options,
    known: &[RepoRefs],
    stamped: &[StampedRefs],
) -> Result<(Vec<RepoRefs>, Vec<StampedRefs>), Error> {
    use rayon::prelude::*;
    let known: std::collections::HashMap<&str, &RepoRefs> =
        known.iter().map(|r| (r.name.as_str(), r)).collect();
    let stamped: std::collections::HashMap<&str, &StampedRefs> =
        stamped.iter().map(|s| (s.name.as_str(), s)).collect();
    let found: Vec<(RepoRefs, Option<StampedRefs>)> = mapping
        .repos
        .par_iter()
        .map(|spec| {
            let git_dir = locate::locate(mapping, spec, opts)?;
            let held = stamped
                .get(spec.name.as_str())
                .zip(known.get(spec.name.as_str()));
            if let Some((s, k)) = held {
                if s.git_dir == git_dir
                    && k.git_dir == git_dir
                    && k.digest() == s.digest
                    && s.stamps.hold(&git_dir)
                {
                    let refs = RepoRefs {
                        counted: None,
                        ..(*k).clone()
                    };
                    return Ok((refs, Some((*s).clone())));
                }
            }
            let (refs, stamps) = read::refs_with(spec, &git_dir, true)?;
            let stamped = stamps.map(|stamps| StampedRefs {
                name: refs.name.clone(),
                git_dir: refs.git_dir.clone(),
                digest: refs.digest(),
                stamps,
            });
            Ok((refs, stamped))
        })
        .collect::<Result<_, Error>>()?;
    let mut stamps = Vec::new();
    let refs = found
        .into_iter()
        .map(|(refs, s)| {
            stamps.extend(s);
            refs
        })
        .collect();
    Ok((refs, stamps))
}

/// How one legacy ref changed between two readings of the refs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefChange {
    /// A ref that did not exist.
    Added {
        /// The full ref name.
        name: String,
    },
    /// A ref that is gone.
    Deleted {
        /// The full ref name.
        name: String,
        /// Its last value (hex).
        was: String,
    },
    /// A ref with another value.
    Moved {
        /// The full ref name.
        name: String,
        /// Its value then (hex).
        from: String,
        /// Its value now (hex).
        to: String,
        /// Whether a branch moved to a commit that does not contain its old one (a
        /// force-push or a reset); `false` for fast-forwards and for tags.
        rewound: bool,
    },
}

/// The ref changes of one legacy repo since an earlier reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoChanges {
    /// The repo's name in the mapping.
    pub repo: String,
    /// Its changed refs, by name.
    pub changes: Vec<RefChange>,
}

/// The repos of `now` whose refs differ from `before` (repos absent from `before` are
/// new to the mapping and left out). Whether a moved branch was rewound is read from the
/// legacy repo (a merge-base); when that fails it counts as rewound.
pub fn changes(before: &[RepoRefs], now: &[RepoRefs]) -> Vec<RepoChanges> {
    let mut out = Vec::new();
    for repo in now {
        let Some(old) = before.iter().find(|b| b.name == repo.name) else {
            continue;
        };
        let then: std::collections::BTreeMap<&str, &str> = old
            .refs
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let current: std::collections::BTreeMap<&str, &str> = repo
            .refs
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let mut changes = Vec::new();
        for (name, to) in &current {
            match then.get(name) {
                None => changes.push(RefChange::Added {
                    name: name.to_string(),
                }),
                Some(from) if from != to => changes.push(RefChange::Moved {
                    name: name.to_string(),
                    from: from.to_string(),
                    to: to.to_string(),
                    rewound: name.starts_with("refs/heads/")
                        && !read::is_ancestor(&repo.git_dir, from, to),
                }),
                Some(_) => {}
            }
        }
        for (name, was) in &then {
            if !current.contains_key(name) {
                changes.push(RefChange::Deleted {
                    name: name.to_string(),
                    was: was.to_string(),
                });
            }
        }
        if !changes.is_empty() {
            out.push(RepoChanges {
                repo: repo.name.clone(),
                changes,
            });
        }
    }
    out
}

/// Scans every repo of `mapping`, in parallel, reporting progress per repo (with a preload
/// store of its own, freed on return: see [`scan_with`] to share it with the import).
pub fn scan(
    mapping: &Mapping,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Inventory, Error> {
    scan_with(mapping, opts, &Preload::default(), progress)
}

/// [`scan`], inflating each repo's packed commits into `preload`, where the import and
/// verify that follow in the same run find them.
pub fn scan_with(
    mapping: &Mapping,
    opts: &Options,
    preload: &Preload,
    progress: &dyn Progress,
) -> Result<Inventory, Error> {
    scan_known(mapping, opts, preload, &KnownCounts::new(), progress)
}

/// [`scan_with`], taking a repo's commit count from `known` when it was counted from the
/// very tips the repo has now: a re-run then inflates no commit of a repo that did not move.
pub fn scan_known(
    mapping: &Mapping,
    opts: &Options,
    preload: &Preload,
    known: &KnownCounts,
    progress: &dyn Progress,
) -> Result<Inventory, Error> {
    scan_reusing(
        mapping,
        opts,
        preload,
        known,
        &mut Default::default(),
        progress,
    )
}

/// [`scan_known`], taking the repos of `reuse` (by name: repos an earlier run read with the
/// refs they have now, see [`Recorded`]) as they are instead of reading them.
pub fn scan_reusing(
    mapping: &Mapping,
    opts: &Options,
    preload: &Preload,
    known: &KnownCounts,
    reuse: &mut std::collections::HashMap<String, LegacyRepo>,
    progress: &dyn Progress,
) -> Result<Inventory, Error> {
    use rayon::prelude::*;
    let task = progress.task("reading legacy repos", mapping.repos.len() as u64);
    let reused: Vec<Option<LegacyRepo>> = mapping
        .repos
        .iter()
        .map(|spec| reuse.remove(&spec.name))
        .collect();
    let repos = mapping
        .repos
        .par_iter()
        .zip(reused)
        .map(|(spec, reused)| {
            if let Some(repo) = reused {
                task.inc(1);
                return Ok(repo);
            }
            let git_dir = locate::locate(mapping, spec, opts)?;
            let repo = read::read(spec, &git_dir, preload, known.get(&spec.name));
            task.inc(1);
            repo
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Inventory { repos })
}

/// Runs git with `args` in `dir` for a test (no user or system config, a fixed identity),
/// returning its trimmed output; panics with git's message when it fails.
#[cfg(test)]
fn test_git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "a")
        .env("GIT_AUTHOR_EMAIL", "a@x")
        .env("GIT_COMMITTER_NAME", "a")
        .env("GIT_COMMITTER_EMAIL", "a@x")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> LegacyRepo {
        let id = gix::ObjectId::from_bytes_or_panic(&[7; 20]);
        LegacyRepo {
            name: "alb".into(),
            git_dir: "legacy/alb.git".into(),
            default_branch: Some("main".into()),
            head: Some("refs/heads/main".into()),
            tip: Some(id.to_string()),
            branches: vec![RefInfo {
                name: "refs/heads/main".into(),
                target: id,
                peeled: id,
                is_commit: true,
                annotated: false,
            }],
            tags: Vec::new(),
            commits: 3,
            files: vec![SourceFile {
                path: "main.tf".into(),
                content: "module \"x\" {}\n".into(),
            }],
            lfs_pointers: Vec::new(),
            submodules: Vec::new(),
            root_only: Vec::new(),
            shallow: false,
            replace_refs: 0,
            grafts: 0,
            non_utf8_names: Vec::new(),
            counted_from: vec![id.to_string()],
        }
    }

    use super::test_git as git;

    #[test]
    fn stamped_refs_are_taken_as_known_while_the_files_stamp_the_same() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        let work = root.join("work");
        std::fs::create_dir_all(&work).expect("mkdir");
        git(&work, &["init", "-q", "-b", "main"]);
        for i in 0..2 {
            std::fs::write(work.join("main.tf"), format!("# {i}\n")).expect("write");
            git(&work, &["add", "."]);
            git(&work, &["commit", "-qm", &format!("c{i}")]);
        }
        git(&work, &["tag", "v1.0.0", "HEAD~1"]);
        let legacy = root.join("legacy");
        std::fs::create_dir_all(&legacy).expect("mkdir");
        git(&legacy, &["clone", "-q", "--bare", "../work", "alb.git"]);
        let bare = legacy.join("alb.git");
        // The clone packed its refs; main also loose, as after a push.
        let tip = git(&bare, &["rev-parse", "refs/heads/main"]);
        git(
            &bare,
            &["update-ref", "refs/heads/main", "refs/heads/main~1"],
        );
        git(&bare, &["update-ref", "refs/heads/main", &tip]);
        assert!(bare.join("refs/heads/main").is_file());
        let text = r#"
monorepo "reference-modules" { url = "git::https://github.com/acme/reference-modules.git" }
repo "alb" {
  url  = "https://github.com/acme/terraform-aws-alb.git"
  into = "reference-modules"
  path = "alb"
}
"#;
        let mapping = crate::mapping::load_str(&root.join("mapping.hcl"), text, Some(&legacy))
            .expect("a mapping");
        let opts = Options::default();
        // Just made: too recent to be stamped.
        let (first, stamps) = refs_stamped(&mapping, &opts, &[], &[]).expect("refs");
        assert_eq!(first, refs(&mapping, &opts).expect("refs"));
        assert!(stamps.is_empty(), "racy: {stamps:?}");
        std::thread::sleep(stamps::RACY + std::time::Duration::from_millis(50));
        let (again, stamps) = refs_stamped(&mapping, &opts, &[], &[]).expect("refs");
        assert_eq!(again, first);
        assert_eq!(stamps.len(), 1);
        assert_eq!(stamps[0].digest, first[0].digest());
        // Refs known to be other than they are, stamped as the files are: taken as known,
        // so the files were not read.
        let mut known = first[0].clone();
        known.refs.retain(|(name, _)| name != "refs/tags/v1.0.0");
        known.counted = Some(Counted {
            tips: Vec::new(),
            commits: 9,
        });
        let claimed = StampedRefs {
            digest: known.digest(),
            ..stamps[0].clone()
        };
        let (taken, kept) = refs_stamped(
            &mapping,
            &opts,
            std::slice::from_ref(&known),
            std::slice::from_ref(&claimed),
        )
        .expect("refs");
        assert_eq!(taken[0].refs, known.refs, "taken as known");
        assert_eq!(taken[0].counted, None, "a reading counts nothing");
        assert_eq!(kept, std::slice::from_ref(&claimed));
        // Known refs that are not the stamped ones, or stamps of another directory: read.
        let other = StampedRefs {
            digest: first[0].digest(),
            ..claimed.clone()
        };
        let (read, _) =
            refs_stamped(&mapping, &opts, std::slice::from_ref(&known), &[other]).expect("refs");
        assert_eq!(read, first);
        let elsewhere = StampedRefs {
            git_dir: root.join("elsewhere.git"),
            ..claimed.clone()
        };
        let (read, _) = refs_stamped(&mapping, &opts, std::slice::from_ref(&known), &[elsewhere])
            .expect("refs");
        assert_eq!(read, first);
        // A ref moved (a loose file written in place, as no git does but a script may): the
        // stamps no longer hold, the files are read, and the new refs are not stamped yet.
        let head = git(&bare, &["rev-parse", "refs/heads/main~1"]);
        std::fs::write(bare.join("refs/heads/main"), format!("{head}\n")).expect("write");
        let (moved, stamps) =
            refs_stamped(&mapping, &opts, std::slice::from_ref(&known), &[claimed]).expect("refs");
        assert_eq!(moved, refs(&mapping, &opts).expect("refs"));
        assert!(moved[0]
            .refs
            .contains(&("refs/heads/main".to_string(), head)));
        assert!(stamps.is_empty(), "racy again: {stamps:?}");
    }

    #[test]
    fn a_record_is_taken_only_with_its_inputs_and_refs_and_gives_back_the_files() {
        let repo = repo();
        let now = repo.refs();
        let json = serde_json::to_string(&Recorded::of(&repo, "base")).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value["repo"]["files"][0],
            serde_json::json!({"path": "main.tf"})
        );
        assert_eq!(value["contents"][0], "module \"x\" {}\n");
        let back = |json: &str| serde_json::from_str::<Recorded>(json).unwrap();
        let taken = back(&json)
            .reuse("base", &now)
            .expect("the same inputs and refs");
        assert_eq!(taken.files, repo.files, "with their contents");
        assert_eq!(taken.branches, repo.branches);
        assert!(back(&json).reuse("other", &now).is_none(), "other inputs");
        let mut moved = now.clone();
        moved.refs[0].1 = "0".repeat(40);
        assert!(back(&json).reuse("base", &moved).is_none(), "a ref moved");
        let mut head = now.clone();
        head.head = None;
        assert!(back(&json).reuse("base", &head).is_none(), "HEAD changed");
        let mut broken = back(&json);
        broken.contents.clear();
        assert!(broken.reuse("base", &now).is_none(), "contents missing");
    }
}
