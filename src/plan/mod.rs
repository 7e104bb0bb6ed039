//! The plan: one data value holding everything `apply` will do.
//!
//! [`build`] combines a validated [`Mapping`](crate::mapping::Mapping) and an
//! [`Inventory`](crate::inventory::Inventory) into a [`Plan`]. It is pure: it reads nothing
//! and writes nothing. `plan` renders it, `apply` executes the very same value, so the dry-run
//! report is what apply does by construction. Everything is ordered (sorted `Vec`s), so the
//! same inputs give byte-identical JSON.

mod build;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use build::build;

/// The version of the plan's JSON schema; bumped on any incompatible change.
pub const SCHEMA: u32 = 1;

/// Conflicts that make a plan impossible; each names the repo and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Refs or paths that would collide or be invalid in a monorepo.
    #[error("the plan has {} conflict(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Conflicts {
        /// One line per conflict.
        problems: Vec<String>,
    },
}

/// The name of the branch every monorepo's imports are merged into.
pub const MAIN_BRANCH: &str = "main";

/// Everything that will happen, per monorepo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub default_branch: String,
    /// Every branch imported, the default one first.
    pub branches: Vec<RefImport>,
    /// Every tag imported.
    pub tags: Vec<RefImport>,
    /// Commits reachable from the imported refs: the number of commits written.
    pub commits: usize,
}

/// One legacy ref and the monorepo ref it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefImport {
    /// The full legacy ref name (`refs/heads/master`, `refs/tags/v1.0.0`).
    pub from: String,
    /// The full monorepo ref name (`refs/heads/import/alb/master`, `refs/tags/alb/v1.0.0`).
    pub to: String,
    /// The legacy object id the ref points at (hex): a commit, or an annotated tag object.
    pub target: String,
    /// The commit the ref peels to (hex).
    pub commit: String,
    /// Whether the legacy ref is an annotated tag (it becomes a new annotated tag).
    pub annotated: bool,
}

/// A finding worth the user's attention that does not stop the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The legacy repo or mapping place it is about.
    pub subject: String,
    /// What was found and what to do.
    pub message: String,
}
