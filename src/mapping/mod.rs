//! The mapping file: which legacy repo goes where.
//!
//! [`load`] reads an HCL mapping file (Terraform users' own language), checks its structure
//! with hcl-edit (so every error carries `file:line:column`), reads the typed values with
//! hcl-rs (serde), validates them and expands the `rule` blocks over the inventory file into
//! one [`RepoSpec`] per legacy repo. The result, [`Mapping`], is what the rest of the
//! pipeline consumes: nothing downstream sees raw strings that are really regexes or paths.
//!
//! The file format is documented in the README ("The mapping file").

pub mod address;
mod parse;
mod rules;
pub mod state;
mod validate;

pub(crate) use parse::did_you_mean;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use parse::Position;

/// A validated mapping: monorepos, and every legacy repo with its destination.
#[derive(Debug, Clone, Serialize)]
pub struct Mapping {
    /// The mapping file.
    pub file: PathBuf,
    /// The directory relative paths in the mapping are resolved against.
    pub base_dir: PathBuf,
    /// The mapping file's bytes, hashed into the plan's fingerprint.
    #[serde(skip)]
    pub text: String,
    /// The monorepos, in file order.
    pub monorepos: Vec<Monorepo>,
    /// Where local clones of remote legacy URLs live (`<dir>/<name>.git` or `<dir>/<name>`).
    pub repos_dir: Option<PathBuf>,
    /// The inventory file, if the mapping names one.
    pub inventory: Option<PathBuf>,
    /// What to do with inventory entries no repo or rule matches.
    pub unmatched: Unmatched,
    /// How module calls inside one monorepo are rewritten.
    pub same_monorepo: SameMonorepo,
    /// Every legacy repo to import, sorted by monorepo then path.
    pub repos: Vec<RepoSpec>,
    /// The `state` blocks, parsed and checked, by root label (`<monorepo>/<root path>`),
    /// in label order.
    #[serde(skip)]
    pub state: Vec<(String, state::StateBlock)>,
    /// Findings that do not stop the migration (a rule matching nothing, skipped entries).
    pub warnings: Vec<String>,
    /// The `identity` attribute: who authors the commits tfmono writes (`None`: the caller
    /// picks the default, see [`Identity`]).
    pub identity: Option<Identity>,
    /// The `snapshots` attribute: a state snapshot file per root label, resolved against
    /// the mapping's directory.
    pub snapshots: BTreeMap<String, SnapshotFile>,
}

/// The author and committer of every commit tfmono writes (import merges, source rewrite
/// commits, tag rewrite commits, notes). Legacy commits keep their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The name (`Platform Team`).
    pub name: String,
    /// The e-mail address, without angle brackets.
    pub email: String,
}

impl Default for Identity {
    /// `tfmono <tfmono@localhost>`: used when neither the mapping nor git config names one.
    fn default() -> Self {
        Identity {
            name: "tfmono".into(),
            email: "tfmono@localhost".into(),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

impl Identity {
    /// Returns why `name`/`email` cannot be a git signature, if they cannot: empty, or
    /// holding `<`, `>` or a control character (git would write a broken header).
    pub fn check(name: &str, email: &str) -> Result<Identity, String> {
        for (what, v) in [("name", name), ("email", email)] {
            if v.trim().is_empty() {
                return Err(format!("`{what}` is empty"));
            }
            if v.contains(['<', '>']) || v.chars().any(char::is_control) {
                return Err(format!(
                    "`{what}` {v:?} holds `<`, `>` or a control character, which a git signature cannot carry"
                ));
            }
        }
        Ok(Identity {
            name: name.trim().to_string(),
            email: email.trim().to_string(),
        })
    }
}

/// One entry of the mapping's `snapshots` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotFile {
    /// The snapshot file (relative paths resolved against the mapping's directory).
    pub file: PathBuf,
    /// Where the entry is in the mapping (`file:line:column`).
    pub at: String,
}

/// A destination monorepo.
#[derive(Debug, Clone, Serialize)]
pub struct Monorepo {
    /// Its name in the mapping (`live`).
    pub name: String,
    /// Its URL as written (`git::https://github.com/acme/live.git`).
    pub url: String,
}

/// One legacy repo and where it goes.
#[derive(Debug, Clone, Serialize)]
pub struct RepoSpec {
    /// The repo's name: the `repo` block's label, or the URL's last segment for rule matches.
    pub name: String,
    /// The legacy URL or local path as written.
    pub url: String,
    /// The monorepo it goes into.
    pub into: String,
    /// Its path inside the monorepo (relative, `/`-separated, no `..`).
    pub path: String,
    /// The prefix its tags get in the monorepo (`alb/`).
    pub tag_prefix: String,
    /// Registry addresses this repo is a fork of (`terraform-aws-modules/alb/aws`).
    pub registry: Vec<String>,
    /// Which branches to import.
    pub branches: Branches,
    /// Where it was declared: a `repo` block or the `rule` that matched it.
    pub origin: Origin,
}

/// Where a [`RepoSpec`] came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Origin {
    /// A `repo "<name>"` block at a position.
    Repo(Position),
    /// A `rule "<name>"` block at a position, matching inventory line `line`.
    Rule {
        /// The rule's label.
        rule: String,
        /// The rule block's position in the mapping.
        at: Position,
        /// The inventory file line that matched.
        inventory_line: usize,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Repo(at) => write!(f, "repo block at {at}"),
            Origin::Rule {
                rule,
                at,
                inventory_line,
            } => {
                write!(
                    f,
                    "rule \"{rule}\" at {at} (inventory line {inventory_line})"
                )
            }
        }
    }
}

/// Which branches of a legacy repo are imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Branches {
    /// Only the default branch (merged into `main`).
    #[default]
    Default,
    /// Every branch; the others become `import/<repo>/<branch>`.
    All,
}

/// What to do with inventory entries that no repo or rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unmatched {
    /// Stop with an error naming every such entry.
    #[default]
    Error,
    /// Skip them, with a warning each.
    Skip,
}

/// How a module call into the caller's own monorepo is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SameMonorepo {
    /// Keep a pinned git source (same meaning as before).
    #[default]
    Pinned,
    /// Use a relative local path where the ref is the default branch.
    Relative,
}

/// An error in the mapping file or its inventory, naming the place and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The mapping file could not be read.
    #[error("cannot read mapping file {}: {source}", file.display())]
    Read {
        /// The mapping file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The inventory file could not be read.
    #[error("cannot read inventory file {} (named at {at}): {source}", file.display())]
    ReadInventory {
        /// The inventory file.
        file: PathBuf,
        /// Where the mapping names it.
        at: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid HCL.
    #[error("{file}:{line}:{column}: invalid HCL: {message}\n  | {snippet}")]
    Syntax {
        /// The mapping file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
        /// The offending line.
        snippet: String,
    },
    /// One or more validation problems; each names a place and a fix.
    #[error("{} in {}:\n{}", plural(problems.len(), "problem"), file.display(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The mapping file.
        file: PathBuf,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// One validation problem: where, what, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `file:line:column` or `file` (for inventory problems, the inventory file and line).
    pub at: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// Reads, validates and expands the mapping file at `file`.
///
/// `repos_dir` (the `--repos` flag) overrides the file's `repos_dir`.
pub fn load(file: &Path, repos_dir: Option<&Path>) -> Result<Mapping, Error> {
    let text = std::fs::read_to_string(file).map_err(|source| Error::Read {
        file: file.to_owned(),
        source,
    })?;
    load_str(file, &text, repos_dir)
}

/// The directory relative paths of mapping `file` resolve against ([`Mapping::base_dir`]).
pub fn base_dir(file: &Path) -> PathBuf {
    file.parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// Validates and expands mapping `text` as if read from `file` (relative paths resolve
/// against `file`'s directory).
pub fn load_str(file: &Path, text: &str, repos_dir: Option<&Path>) -> Result<Mapping, Error> {
    let base_dir = base_dir(file);
    let raw = parse::parse(file, text)?;
    let mut mapping = validate::validate(file, &base_dir, text, raw)?;
    if let Some(dir) = repos_dir {
        mapping.repos_dir = Some(dir.to_path_buf());
    }
    Ok(mapping)
}

impl Mapping {
    /// Returns the monorepo called `name`.
    pub fn monorepo(&self, name: &str) -> Option<&Monorepo> {
        self.monorepos.iter().find(|m| m.name == name)
    }
}
