//! The plan: one data value holding everything `apply` will do.
//!
//! [`build`] combines a validated [`Mapping`](crate::mapping::Mapping) and an
//! [`Inventory`](crate::inventory::Inventory) into a [`Plan`]. It writes nothing and opens
//! no repo: what it reads comes from the inventory, as values (the default branch files, the
//! refs, the preloaded commits) or through the inventory's [`Reader`](crate::inventory::blobs::Reader)
//! for the files of every tagged commit (read lazily, each distinct version once: holding
//! all of an org's versions at once would not fit in memory). Every read error is a problem
//! of the plan. `plan` renders it, `apply` executes the very same value, so the dry-run
//! report is what apply does by construction. Everything is ordered (sorted `Vec`s), so the
//! same inputs give byte-identical JSON.

mod build;
pub mod cache;
mod files;
mod targets;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use build::{base_fingerprint, build, inputs_fingerprint};
pub use files::{build_with, build_with_progress, Options};

/// The version of the plan's JSON schema; bumped on any incompatible change.
pub const SCHEMA: u32 = 1;

/// Conflicts that make a plan impossible; each names the repo and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Sources, state moves or snapshots that cannot be planned; each names the file and
    /// line or the address, and the fix.
    #[error("the plan cannot be made, {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// One line per problem.
        problems: Vec<String>,
    },
    /// Refs or paths that would collide or be invalid in a monorepo.
    #[error("the plan has {} conflict(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Conflicts {
        /// One line per conflict.
        problems: Vec<String>,
    },
}

/// The name of the branch every monorepo's imports are merged into.
pub const MAIN_BRANCH: &str = "main";

/// The full ref name of [`MAIN_BRANCH`] (a name of the output directory's layout).
pub use crate::outdir::MAIN_REF;

/// Everything that will happen, per monorepo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The schema version of this value when serialised.
    pub schema: u32,
    /// A hash over the mapping and every legacy ref the plan was computed from.
    pub fingerprint: String,
    /// The mapping file the plan was computed from.
    pub mapping: PathBuf,
    /// One entry per monorepo, in mapping order.
    pub monorepos: Vec<MonorepoPlan>,
    /// Problems found while planning that are not fatal (rules matching nothing, LFS, …).
    pub warnings: Vec<Warning>,
    /// State moves per root (from the mapping's `state` blocks), checked against snapshots
    /// when `--states` was given. Serialised for the report; not read back.
    #[serde(default, skip_deserializing)]
    pub state: crate::state::plan::StatePlan,
    /// Every deployment whose backend key would change with its directory, and what apply
    /// does about it.
    #[serde(default)]
    pub key_changes: Vec<KeyChangePlan>,
    /// The author and committer of every commit apply writes (merges, source rewrites,
    /// tag rewrites, notes): the mapping's `identity`, else the caller's default.
    #[serde(default)]
    pub identity: crate::mapping::Identity,
    /// The tag scans this plan made or reused, for the next run ([`cache`]). Not part of
    /// the plan's JSON.
    #[serde(skip)]
    pub scans: cache::ScanCache,
    /// The fingerprint of the inputs a later plan may build on this one's apply with (the
    /// tfmono version, the mapping text, the identity: [`base_fingerprint`]; see
    /// [`Baseline`]). Not part of the plan's JSON.
    #[serde(skip)]
    pub base: String,
}

/// What the last completed apply into the output directory left, as far as a plan may
/// build on it: the legacy repos whose refs are exactly those it read, when it had the same
/// mapping and identity and every monorepo ref is still as it left them (see
/// `outdir::last_intact`). Their imports are [`ImportStep::unchanged`] unless their tag scan
/// must be redone.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// The repos whose refs did not move since.
    pub repos: std::collections::BTreeSet<String>,
}

/// A backend key that would change because a root moved directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChangePlan {
    /// The root (`live/prod/korea/api/dynamic`).
    pub root: String,
    /// The file in the monorepo holding the key expression.
    pub file: String,
    /// Its 1-based line.
    pub line: usize,
    /// The key before the move.
    pub old_key: String,
    /// The key after the move, if nothing is done.
    pub new_key: String,
    /// How the key is computed: a sentence naming the files and directories involved.
    pub how: String,
    /// `pin` (the key is rewritten to the old value) or `copy` (the state scripts copy the
    /// state from the old key to the new one).
    pub action: crate::state::BackendMode,
}

/// A namespaced tag that points at a "Rewrite module sources for `<tag>`" commit on top of
/// the tagged commit's image (whose tree stays identical to the legacy tree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRewrite {
    /// The legacy repo.
    pub repo: String,
    /// The monorepo tag (`refs/tags/api/v1.1.0`).
    pub tag: String,
    /// The legacy commit it peels to.
    #[serde(with = "crate::objects::hex")]
    pub commit: gix::ObjectId,
    /// The files changed, with monorepo paths (their origin is [`Origin::Tag`]).
    #[serde(deserialize_with = "tag_files")]
    pub files: Vec<FileChange>,
}

/// A tag rewrite's files as read back: the empty `repo` of each means [`Origin::Tag`].
fn tag_files<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<FileChange>, D::Error> {
    let mut files = Vec::<FileChange>::deserialize(d)?;
    for f in &mut files {
        if f.origin == Origin::Generated {
            f.origin = Origin::Tag;
        }
    }
    Ok(files)
}

/// Where a changed file comes from. Serialised as the `repo` field of [`FileChange`]: the
/// legacy repo's name, or the empty string for the other two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file of this legacy repo, imported under its path (a source rewrite, a pinned
    /// backend key).
    Legacy(String),
    /// A file of a tag rewrite: it comes from the legacy repo of its [`TagRewrite`].
    Tag,
    /// A file tfmono generates (`moved.tf` of a `moved-blocks` state root).
    Generated,
}

impl Origin {
    /// The legacy repo, for a file of one.
    pub fn repo(&self) -> Option<&str> {
        match self {
            Origin::Legacy(repo) => Some(repo),
            Origin::Tag | Origin::Generated => None,
        }
    }
}

impl Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.repo().unwrap_or(""))
    }
}

impl<'de> Deserialize<'de> for Origin {
    /// Reads a `repo` field: a name is [`Origin::Legacy`], the empty string
    /// [`Origin::Generated`] (a tag rewrite's files turn it into [`Origin::Tag`]).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let repo = String::deserialize(d)?;
        Ok(if repo.is_empty() {
            Origin::Generated
        } else {
            Origin::Legacy(repo)
        })
    }
}

/// A file `apply` changes in a monorepo's "Rewrite module sources" commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// The path in the monorepo (`prod/korea/api/static/main.tf`).
    pub path: String,
    /// Where it comes from (serialised as `repo`: the legacy repo, empty for the others).
    #[serde(rename = "repo")]
    pub origin: Origin,
    /// Sources rewritten, in file order.
    pub rewrites: Vec<SourceRewrite>,
    /// Sources (or legacy URLs) left as they are, with why.
    pub left_alone: Vec<SourceLeft>,
    /// Other edits: backend keys pinned, generated `moved.tf`.
    pub edits: Vec<String>,
    /// The new content (`None`: unchanged), shared by every tag holding the same version.
    /// Not serialised: apply recomputes the plan.
    #[serde(skip)]
    pub content: Option<std::sync::Arc<str>>,
}

/// One rewritten module source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRewrite {
    /// 1-based line in the file.
    pub line: usize,
    /// The source before (redacted).
    pub old: String,
    /// The source after (redacted).
    pub new: String,
    /// The legacy repo it pointed at.
    pub repo: String,
    /// Warnings: branch refs that now move with the monorepo, no ref, self-references.
    pub notes: Vec<String>,
}

/// A source left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLeft {
    /// 1-based line in the file.
    pub line: usize,
    /// The source text (redacted).
    pub source: String,
    /// Why (serialised as its short label, `local path`, `expression or template`, …).
    pub reason: crate::sources::Reason,
    /// Whether a human must look at it (expressions and stray legacy URLs).
    pub attention: bool,
}

/// What happens to one monorepo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonorepoPlan {
    /// The monorepo's name in the mapping (`live`).
    pub name: String,
    /// Its URL as written in the mapping (redact before printing).
    pub url: String,
    /// The directory of its bare repository under the output directory (`live.git`).
    pub dir: String,
    /// The legacy repos imported into it, sorted by path.
    pub imports: Vec<ImportStep>,
    /// Files changed by the source rewrite commit (and backend pins, `moved.tf`).
    #[serde(default)]
    pub files: Vec<FileChange>,
    /// Imported tags whose module sources are rewritten too, so that a call pinned to a tag
    /// gets a module whose own calls point at the monorepos.
    #[serde(default)]
    pub tag_rewrites: Vec<TagRewrite>,
    /// Files that look like Terraform but do not parse (templates, test fixtures): left
    /// unchanged, sorted by repo and path.
    #[serde(default)]
    pub unparsed: Vec<UnparsedFile>,
}

impl MonorepoPlan {
    /// The repos whose imports are [`ImportStep::unchanged`]: apply leaves them as the last
    /// apply wrote them.
    pub fn unchanged(&self) -> std::collections::HashSet<&str> {
        self.imports
            .iter()
            .filter(|s| s.unchanged)
            .map(|s| s.repo.as_str())
            .collect()
    }

    /// Whether apply has nothing to do in this monorepo: it imports repos and every one is
    /// [`ImportStep::unchanged`], and no file tfmono generates (a `moved.tf`) is to be
    /// written. The last apply left it as these inputs make it.
    pub fn untouched(&self) -> bool {
        !self.imports.is_empty()
            && self.imports.iter().all(|s| s.unchanged)
            && self
                .files
                .iter()
                .all(|f| f.content.is_none() || f.origin.repo().is_some())
    }
}

/// A file with a Terraform or Terragrunt name that does not parse: a template, a test
/// fixture, a file Terraform itself would refuse. It is imported unchanged; when it
/// mentions a migrated repo, a human must look at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnparsedFile {
    /// The legacy repo.
    pub repo: String,
    /// The path in the monorepo.
    pub path: String,
    /// The first syntax error's 1-based line (in the first version seen).
    pub line: usize,
    /// What the parser said.
    pub message: String,
    /// Where this path does not parse: `default branch` and/or tag names.
    pub at: Vec<String>,
    /// Lines mentioning a migrated repo (a lexical scan): each needs attention.
    pub mentions: Vec<Mention>,
}

impl UnparsedFile {
    /// Whether a human must look at it (it mentions a migrated repo).
    pub fn needs_attention(&self) -> bool {
        !self.mentions.is_empty()
    }
}

/// A line of an unparsed file that mentions a migrated repo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    /// 1-based line.
    pub line: usize,
    /// The line (redacted, at most 200 characters).
    pub text: String,
    /// The legacy repo it mentions.
    pub repo: String,
}

/// One legacy repo imported under a path of a monorepo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStep {
    /// The legacy repo's name (`terraform-aws-alb`).
    pub repo: String,
    /// Its URL or path as given in the mapping or inventory (redact before printing).
    pub url: String,
    /// The local git directory it is read from (never written).
    pub git_dir: PathBuf,
    /// The monorepo it goes into.
    pub monorepo: String,
    /// The path of its tree inside the monorepo (`alb`, `dev/korea/api/static`).
    pub path: String,
    /// The prefix of its tags in the monorepo (`alb/`).
    pub tag_prefix: String,
    /// Its default branch's short name (`master`); it is merged into [`MAIN_BRANCH`].
    /// `None` for a repo with tags but no branch: only its tags are imported.
    pub default_branch: Option<String>,
    /// Every branch imported, the default one first (empty without a default branch).
    pub branches: Vec<RefImport>,
    /// Every tag imported.
    pub tags: Vec<RefImport>,
    /// Commits reachable from the imported refs: the number of commits written.
    pub commits: usize,
    /// Files at the legacy repo's root (default branch tip) that only work at a repo root:
    /// imported unchanged under `path/`, where they stop working. Sorted by path.
    #[serde(default)]
    pub root_only: Vec<crate::inventory::root_only::RootOnlyFile>,
    /// Nothing of this repo changed since the last completed apply into the same output
    /// directory with the same mapping (its refs are those that apply read, its tag scans
    /// were reused): apply leaves its images, refs and tag rewrites as they are and reads
    /// nothing of it (see [`Baseline`]).
    #[serde(default)]
    pub unchanged: bool,
}

/// One legacy ref and the monorepo ref it becomes (defined by [`crate::history`], which
/// images it).
pub use crate::history::RefImport;

impl ImportStep {
    /// What [`crate::history::rewrite`] needs of this step.
    pub fn history_input(&self) -> crate::history::Import<'_> {
        crate::history::Import {
            repo: &self.repo,
            git_dir: &self.git_dir,
            path: &self.path,
            branches: &self.branches,
            tags: &self.tags,
            commits: self.commits,
        }
    }
}

/// Something a human must look at before trusting the migration: a source left alone
/// because it is an expression or a stray legacy URL, or a line of an unparsed file that
/// mentions a migrated repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attention {
    /// `monorepo path:line`.
    pub place: String,
    /// What was found and why it was not rewritten (redacted).
    pub what: String,
    /// Why, short (`expression or template`, `mentions terraform-aws-alb in a file that
    /// does not parse`).
    pub why: String,
    /// The text found (the source, or the line), on one line, redacted.
    pub text: String,
}

impl Plan {
    /// Whether applying this plan would change anything: a repo to import, a file to
    /// rewrite or generate, a tag to rewrite, or a state move. (The plan does not look at an
    /// earlier apply's output, so a repo to import counts even when it was imported.)
    pub fn has_changes(&self) -> bool {
        self.monorepos
            .iter()
            .any(|m| !m.imports.is_empty() || !m.files.is_empty() || !m.tag_rewrites.is_empty())
            || self.state.roots.iter().any(|r| !r.moves.is_empty())
            || !self.key_changes.is_empty()
    }

    /// Every item that needs attention, in report order (`--strict` refuses a plan with any).
    pub fn needs_attention(&self) -> Vec<Attention> {
        let mut out = Vec::new();
        for mono in &self.monorepos {
            for f in &mono.files {
                for l in f.left_alone.iter().filter(|l| l.attention) {
                    out.push(Attention {
                        place: format!("{}/{}:{}", mono.name, f.path, l.line),
                        what: format!("{} ({})", l.source, l.reason.label()),
                        why: l.reason.label().to_string(),
                        text: one_line(&l.source),
                    });
                }
            }
            for u in &mono.unparsed {
                for m in &u.mentions {
                    out.push(Attention {
                        place: format!("{}/{}:{}", mono.name, u.path, m.line),
                        what: format!(
                            "mentions {} in a file that does not parse ({}; at {}): {}",
                            m.repo,
                            u.message,
                            summarize_refs(&u.at),
                            m.text
                        ),
                        why: format!("mentions {} in a file that does not parse", m.repo),
                        text: one_line(&m.text),
                    });
                }
            }
        }
        out
    }
}

/// `text` on one line: runs of whitespace holding a line break become ` ⏎ `.
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ⏎ ")
}

/// `default branch, 12 tags (v1.0.0 .. v2.3.0)`: where an unparsed file was seen, short.
pub fn summarize_refs(at: &[String]) -> String {
    let branch = at.iter().any(|a| a == "default branch");
    let tags: Vec<&String> = at.iter().filter(|a| *a != "default branch").collect();
    let mut parts = Vec::new();
    if branch {
        parts.push("default branch".to_string());
    }
    match tags.as_slice() {
        [] => {}
        [one] => parts.push(format!("tag {one}")),
        [first, .., last] => parts.push(format!("{} tags ({first} .. {last})", tags.len())),
    }
    parts.join(", ")
}

/// A finding worth the user's attention that does not stop the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The legacy repo or mapping place it is about.
    pub subject: String,
    /// What was found and what to do.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_ref_names_the_main_branch() {
        assert_eq!(MAIN_REF, format!("refs/heads/{MAIN_BRANCH}"));
    }

    fn file(origin: Origin) -> FileChange {
        FileChange {
            path: "api/moved.tf".into(),
            origin,
            rewrites: Vec::new(),
            left_alone: vec![SourceLeft {
                line: 3,
                source: "local.src".into(),
                reason: crate::sources::Reason::Expression,
                attention: true,
            }],
            edits: Vec::new(),
            content: None,
        }
    }

    #[test]
    fn an_origin_is_written_as_the_repo_field() {
        let legacy = serde_json::to_value(file(Origin::Legacy("api".into()))).expect("json");
        assert_eq!(legacy["repo"], "api");
        assert_eq!(legacy["left_alone"][0]["reason"], "expression or template");
        for origin in [Origin::Generated, Origin::Tag] {
            let json = serde_json::to_value(file(origin)).expect("json");
            assert_eq!(json["repo"], "");
            assert!(json.get("origin").is_none(), "{json}");
        }
    }

    #[test]
    fn an_origin_is_read_back_from_the_repo_field() {
        for origin in [Origin::Legacy("api".into()), Origin::Generated] {
            let json = serde_json::to_string(&file(origin.clone())).expect("json");
            let back: FileChange = serde_json::from_str(&json).expect("read back");
            assert_eq!(back, file(origin));
        }
        let tag = TagRewrite {
            repo: "api".into(),
            tag: "refs/tags/api/v1.0.0".into(),
            commit: gix::ObjectId::from_hex(b"0123456789abcdef0123456789abcdef01234567")
                .expect("hex"),
            files: vec![file(Origin::Tag)],
        };
        let json = serde_json::to_string(&tag).expect("json");
        assert!(
            json.contains("\"commit\":\"0123456789abcdef0123456789abcdef01234567\""),
            "{json}"
        );
        let back: TagRewrite = serde_json::from_str(&json).expect("read back");
        assert_eq!(back, tag);
    }

    #[test]
    fn a_key_change_action_is_written_in_lowercase() {
        let kc = KeyChangePlan {
            root: "live/dev/api".into(),
            file: "dev/api/terragrunt.hcl".into(),
            line: 10,
            old_key: "./terraform.tfstate".into(),
            new_key: "dev/api/terraform.tfstate".into(),
            how: "…".into(),
            action: crate::state::BackendMode::Copy,
        };
        let json = serde_json::to_value(&kc).expect("json");
        assert_eq!(json["action"], "copy");
        let back: KeyChangePlan = serde_json::from_value(json).expect("read back");
        assert_eq!(back, kc);
    }
}
