//! Rewrites Terraform / Terragrunt module `source` references from legacy repos to the
//! monorepos, so that every call still resolves to the same module content.
//!
//! - [`address`] parses every source form into an [`Address`] and renders it back byte for
//!   byte; [`RepoKey`] is a repo's normalised identity (`github.com/acme/x`).
//! - [`constraint`] evaluates registry version constraints the way Terraform 1.0 does.
//! - [`rewrite_file`] rewrites one `.tf`, `.tf.json` or `.hcl` (Terragrunt) file: module
//!   sources, Terragrunt `terraform { source }`, and any other string literal holding a
//!   complete source address of a legacy repo. Everything outside the changed string
//!   literals stays byte-identical (edits are spliced into the original text at the spans
//!   hcl-edit reports, or at JSON string tokens). Every legacy reference it does not rewrite
//!   is reported in [`FileOutcome::left_alone`] or [`FileOutcome::errors`].
//!
//! Rules (see [`rewrite_file`]): a legacy git source becomes
//! `git::<monorepo url>//<path>[/<subdir>]?ref=<ref>`, tag `T` becoming `<tag_prefix>T`, a
//! commit its image in the monorepo, the default branch `main`, another branch its import
//! branch; a registry address of a forked module becomes the git source at the namespaced
//! tag of the highest legacy tag satisfying its `version`, which is removed.
//!
//! Choices worth knowing:
//!
//! - A ref is looked up as a legacy tag first, then as a branch, then (7+ hex digits) as a
//!   commit; `refs/tags/T` / `refs/heads/B` force the kind.
//! - Version constraints follow go-version as Terraform 1.0 uses it, so `~> 1` is `>= 1`
//!   (not `< 2`), and a prerelease tag is only chosen by the bare constraint `1.0.0-rc1`.
//! - Other string literals (locals, variable defaults, Terragrunt includes) are rewritten
//!   only when they are a complete git source of a legacy repo (`git::…`, or any git form with
//!   a `ref` or a `//subdir`); a bare clone URL, prose, templates and `s3::…` archives naming
//!   a legacy repo are reported as needing attention. Comments are not looked at.
//! - Repo keys are lowercased entirely and drop ports, so `ssh://git@h:22/a/b` equals
//!   `https://H/A/b.git`.
//! - Edits are spliced into the original text rather than re-encoded by hcl-edit, so the
//!   only bytes that change are the string tokens rewritten and the `version` lines removed.

pub mod address;
pub mod constraint;
mod hclfile;
mod jsonfile;
mod rewrite;
pub mod split;
mod syntax;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

pub use crate::mapping::SameMonorepo;
pub use address::{Address, RepoKey};
pub use constraint::{highest_matching, ConstraintError};
pub use rewrite::rewrite_file;

use crate::redact;

/// One legacy repo as the rewriter needs it: where it went and how its refs map.
///
/// Its `Debug` output redacts credentials in the URLs.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// The legacy repo's name (`terraform-aws-alb`), passed to [`CommitLookup::image`].
    pub repo: String,
    /// The legacy URL as in the mapping (`https://github.com/acme/terraform-aws-alb.git`).
    pub legacy_url: String,
    /// The monorepo it went into (`reference-modules`).
    pub monorepo: String,
    /// The monorepo URL as in the mapping (`git::https://github.com/acme/live.git` or
    /// `https://…`); sources always render it as `git::<url>`.
    pub monorepo_url: String,
    /// Its path in the monorepo (`alb`).
    pub path: String,
    /// The prefix of its tags in the monorepo (`alb/`).
    pub tag_prefix: String,
    /// Registry addresses it is a fork of (`terraform-aws-modules/alb/aws`, optionally with a
    /// host).
    pub registry: Vec<String>,
    /// The legacy tag names (`v1.0.0`).
    pub tags: Vec<String>,
    /// The legacy default branch (`master`); `None` for a repo with tags only.
    pub default_branch: Option<String>,
    /// Legacy branch → monorepo branch (short name): the default branch → `main`, others →
    /// `import/<repo>/<branch>` when imported.
    pub branches: Vec<(String, String)>,
    /// The legacy branches that were not imported (`branches = "default"`): a ref naming
    /// one of them and a tag is noted as ambiguous.
    pub other_branches: Vec<String>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("repo", &self.repo)
            .field("legacy_url", &redact::url(&self.legacy_url))
            .field("monorepo", &self.monorepo)
            .field("monorepo_url", &redact::url(&self.monorepo_url))
            .field("path", &self.path)
            .field("tag_prefix", &self.tag_prefix)
            .field("registry", &self.registry)
            .field("tags", &self.tags.len())
            .field("default_branch", &self.default_branch)
            .field("branches", &self.branches)
            .field("other_branches", &self.other_branches)
            .finish()
    }
}

impl Target {
    /// Builds a target from a mapping entry, its monorepo's URL and what the inventory
    /// found in the legacy repo: its tags, default branch, and the imported branches
    /// (legacy → monorepo short name; the default branch may be omitted: it maps to `main`).
    pub fn from_spec(
        spec: &crate::mapping::RepoSpec,
        monorepo_url: &str,
        tags: Vec<String>,
        default_branch: Option<&str>,
        branches: Vec<(String, String)>,
    ) -> Target {
        Target {
            repo: spec.name.clone(),
            legacy_url: spec.url.clone(),
            monorepo: spec.into.clone(),
            monorepo_url: monorepo_url.to_string(),
            path: spec.path.clone(),
            tag_prefix: spec.tag_prefix.clone(),
            registry: spec.registry.clone(),
            tags,
            default_branch: default_branch.map(str::to_string),
            branches,
            other_branches: Vec::new(),
        }
    }

    /// The monorepo URL without a `git::` prefix.
    pub fn monorepo_base(&self) -> &str {
        let u = self.monorepo_url.trim();
        u.strip_prefix("git::").unwrap_or(u)
    }

    /// The monorepo branch a legacy branch became, if it was imported.
    pub fn branch(&self, legacy: &str) -> Option<&str> {
        self.branches
            .iter()
            .find(|(b, _)| b == legacy)
            .map(|(_, m)| m.as_str())
            .or_else(|| (self.default_branch.as_deref() == Some(legacy)).then_some("main"))
    }

    /// Whether `legacy` names a branch of the legacy repo, imported or not.
    pub fn has_branch(&self, legacy: &str) -> bool {
        self.branch(legacy).is_some() || self.other_branches.iter().any(|b| b == legacy)
    }
}

/// Every [`Target`], indexed by [`RepoKey`] and by registry address.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    targets: Vec<Target>,
    by_key: HashMap<RepoKey, usize>,
    by_registry: Vec<((String, String), usize)>,
    monorepos: HashMap<RepoKey, String>,
    hosts: Vec<String>,
    /// Every literal that a reference to a target must contain (its repo path, its
    /// registry `namespace/name/`), matched case-insensitively: files without any are
    /// skipped without parsing.
    patterns: Vec<String>,
    /// The searchers of `patterns`, built at their first use: a run whose every scan is
    /// taken from the last run's records searches nothing, and an automaton of thousands of
    /// patterns takes milliseconds to build.
    matchers: std::sync::OnceLock<Matchers>,
    /// Per prefilter pattern, the targets it names (`None`: an escape).
    pattern_targets: Vec<Option<Vec<usize>>>,
    /// The tag each (repo, version constraint) resolved to (see
    /// [`highest_matching`](Self::highest_matching)): files of every tag repeat the same few.
    resolved: std::sync::Arc<std::sync::Mutex<HashMap<(String, String), Resolved>>>,
}

/// The searchers of [`Targets`]' patterns.
#[derive(Debug, Clone)]
struct Matchers {
    /// The patterns, matched case-insensitively by an automaton that is quick to build
    /// (`None`: it could not be built).
    prefilter: Option<aho_corasick::AhoCorasick>,
    /// The same as a DFA: several times faster to search, but milliseconds to build for
    /// thousands of patterns; built once [`Matchers::searched`] passes [`DFA_AFTER`] bytes
    /// (a re-sync scans a file or two; a first apply, megabytes).
    dfa: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>>,
    /// How many bytes `prefilter` searched so far.
    searched: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The same patterns lowercased, matched case-sensitively against lowercased text: the
    /// fast form of [`Targets::may_mention`] (a case-sensitive automaton gets a SIMD
    /// prefilter; a case-insensitive one walks every byte).
    lowered: Option<Lowered>,
}

/// Bytes searched with the quick automaton before the DFA is built (see [`Matchers::dfa`]).
const DFA_AFTER: usize = 1 << 20;

impl Matchers {
    /// The automaton of `patterns` (those the matchers were built of) to search `len` more
    /// bytes with: the quick one until [`DFA_AFTER`] bytes were searched, then the DFA
    /// (when it builds).
    fn automaton(&self, patterns: &[String], len: usize) -> Option<&aho_corasick::AhoCorasick> {
        use std::sync::atomic::Ordering;
        let quick = self.prefilter.as_ref()?;
        if self.searched.fetch_add(len, Ordering::Relaxed) < DFA_AFTER {
            return Some(quick);
        }
        let dfa = self.dfa.get_or_init(|| {
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(patterns)
                .ok()
        });
        Some(dfa.as_ref().unwrap_or(quick))
    }
}

/// What a version constraint resolved to among a target's tags.
type Resolved = Result<Option<String>, ConstraintError>;

/// Literal patterns matched ASCII-case-insensitively, at SIMD speed: two-byte escapes
/// (`\\/`, `\\u`) by looking at what follows each backslash, the other patterns by lowercasing
/// the text, a chunk at a time into a buffer on the stack, and searching it with a packed
/// (Teddy) searcher for the lowercased patterns. The same answers as a case-insensitive
/// automaton, which walks every byte and is several times slower.
#[derive(Debug, Clone)]
struct Lowered {
    /// The other patterns, lowercased (`None`: there are none).
    packed: Option<aho_corasick::packed::Searcher>,
    /// The bytes that, after a backslash, make an escape pattern (both cases).
    escapes: Vec<u8>,
    /// The longest pattern's length: chunks overlap by one byte less, so that a match across
    /// a chunk boundary is whole in the next chunk.
    longest: usize,
}

/// The bytes lowercased and searched at a time (see [`Lowered`]).
const LOWERED_CHUNK: usize = 16 * 1024;

impl Lowered {
    /// `None` when the packed searcher cannot take the patterns (too many, too long, no
    /// SIMD): the case-insensitive automaton does the work then.
    fn new(patterns: &[String]) -> Option<Lowered> {
        let (escapes, words): (Vec<&String>, Vec<&String>) = patterns
            .iter()
            .partition(|p| p.len() == 2 && p.starts_with('\\'));
        let escapes = escapes
            .iter()
            .flat_map(|p| {
                let b = p.as_bytes()[1];
                [b.to_ascii_lowercase(), b.to_ascii_uppercase()]
            })
            .collect();
        let longest = words.iter().map(|p| p.len()).max().unwrap_or(0);
        if longest * 2 > LOWERED_CHUNK || words.iter().any(|p| p.is_empty()) {
            return None;
        }
        let packed = match words.is_empty() {
            true => None,
            false => Some(aho_corasick::packed::Searcher::new(
                words.iter().map(|p| p.to_ascii_lowercase()),
            )?),
        };
        (packed.is_some() || !patterns.is_empty()).then_some(Lowered {
            packed,
            escapes,
            longest,
        })
    }

    fn is_match(&self, text: &[u8]) -> bool {
        let escaped = memchr::memchr_iter(b'\\', text)
            .any(|i| text.get(i + 1).is_some_and(|b| self.escapes.contains(b)));
        if escaped {
            return true;
        }
        let Some(packed) = &self.packed else {
            return false;
        };
        // Most calls are on short strings (one literal): no need to clear a big buffer.
        if text.len() <= 256 {
            let mut buf = [0u8; 256];
            let lowered = &mut buf[..text.len()];
            lowered.copy_from_slice(text);
            lowered.make_ascii_lowercase();
            return packed.find(&*lowered).is_some();
        }
        let mut buf = [0u8; LOWERED_CHUNK];
        let step = LOWERED_CHUNK - (self.longest - 1);
        let mut start = 0;
        loop {
            let end = (start + LOWERED_CHUNK).min(text.len());
            let chunk = &mut buf[..end - start];
            chunk.copy_from_slice(&text[start..end]);
            chunk.make_ascii_lowercase();
            if packed.find(&*chunk).is_some() {
                return true;
            }
            if end == text.len() {
                return false;
            }
            start += step;
        }
    }
}

impl Targets {
    /// Indexes `targets`. A legacy URL that is not a git URL (a local path) is only
    /// reachable by registry address; when two targets share a key the first wins.
    pub fn new(targets: Vec<Target>) -> Targets {
        let mut t = Targets {
            targets,
            ..Targets::default()
        };
        for (i, target) in t.targets.iter().enumerate() {
            if let Some(key) = RepoKey::from_url(&target.legacy_url) {
                let host = key.host().to_string();
                if !t.hosts.contains(&host) {
                    t.hosts.push(host);
                }
                t.by_key.entry(key).or_insert(i);
            }
            for entry in &target.registry {
                t.by_registry.push((address::registry_entry_key(entry), i));
            }
            if let Some(key) = RepoKey::from_url(target.monorepo_base()) {
                t.monorepos
                    .entry(key)
                    .or_insert_with(|| target.monorepo.clone());
            }
        }
        // Each pattern with the targets it names (`None`: an escape, which can spell any).
        let mut named: BTreeMap<String, Option<Vec<usize>>> = BTreeMap::new();
        let mut name = |pattern: String, i: usize| {
            if !pattern.is_empty() {
                if let Some(list) = named.entry(pattern).or_insert_with(|| Some(Vec::new())) {
                    list.push(i);
                }
            }
        };
        for (key, &i) in &t.by_key {
            name(key.path().to_string(), i);
        }
        for ((_, module), i) in &t.by_registry {
            name(
                module.split('/').take(2).collect::<Vec<_>>().join("/") + "/",
                *i,
            );
        }
        // A JSON `\/` or an HCL/JSON `\u` escape can spell any of them: such text always may.
        if !named.is_empty() {
            named.insert("\\/".to_string(), None);
            named.insert("\\u".to_string(), None);
        }
        let (patterns, names): (Vec<String>, Vec<Option<Vec<usize>>>) = named.into_iter().unzip();
        t.pattern_targets = names;
        t.patterns = patterns;
        t
    }

    /// The searchers of the patterns, built once, at the first call.
    fn matchers(&self) -> &Matchers {
        self.matchers.get_or_init(|| Matchers {
            prefilter: aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
                .build(&self.patterns)
                .ok(),
            dfa: std::sync::OnceLock::new(),
            searched: Default::default(),
            lowered: Lowered::new(&self.patterns),
        })
    }

    /// Whether `text` may mention a target (a legacy repo or a forked registry module): a
    /// fast literal search over the patterns every such reference contains. `false` means
    /// certainly not; `true` means parse the file. Text holding JSON or HCL escapes (`\/`,
    /// `\u`) always may.
    pub fn may_mention(&self, text: &str) -> bool {
        let matchers = self.matchers();
        if matchers.prefilter.is_none() {
            return !self.targets.is_empty();
        }
        // One pass: the escapes are patterns too (`\U` through the case-insensitivity).
        match &matchers.lowered {
            Some(lowered) => lowered.is_match(text.as_bytes()),
            None => matchers
                .automaton(&self.patterns, text.len())
                .is_none_or(|ac| ac.is_match(text)),
        }
    }

    /// The repo names of every target `text` may refer to, by the same literal patterns as
    /// [`may_mention`](Self::may_mention) (so a source in `text` can only resolve to one of
    /// them); `None` when an escape in it could spell any target.
    pub fn mentioned_repos(&self, text: &str) -> Option<BTreeSet<&str>> {
        let Some(ac) = self.matchers().automaton(&self.patterns, text.len()) else {
            return self.targets.is_empty().then(BTreeSet::new);
        };
        let mut out = BTreeSet::new();
        for m in ac.find_overlapping_iter(text) {
            match &self.pattern_targets[m.pattern().as_usize()] {
                Some(list) => out.extend(list.iter().map(|&i| self.targets[i].repo.as_str())),
                None => return None,
            }
        }
        Some(out)
    }

    /// The target a line of text mentions: a legacy repo URL in any form
    /// ([`find_legacy`](Self::find_legacy)) or a forked registry address
    /// (`namespace/name/provider`, with or without a host).
    pub fn mentioned_in(&self, text: &str) -> Option<&Target> {
        if let Some(t) = self.find_legacy(text) {
            return Some(t);
        }
        let lower = text.to_ascii_lowercase();
        for word in lower
            .split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '=' | ',' | '(' | ')'))
        {
            if word.matches('/').count() < 2 {
                continue;
            }
            if let Address::Registry(r) = Address::parse(word.trim_start_matches("tfr://")) {
                if let Some(t) = self.by_registry(&r) {
                    return Some(t);
                }
            }
        }
        None
    }

    /// The tag of `target` that Terraform would install for `constraint`
    /// ([`constraint::highest_matching`] over its tags), resolved once per constraint.
    pub fn highest_matching(&self, target: &Target, constraint: &str) -> Resolved {
        let key = (target.repo.clone(), constraint.to_string());
        let known = self
            .resolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(found) = known {
            return found;
        }
        let found = highest_matching(constraint, &target.tags).map(|t| t.map(str::to_string));
        self.resolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, found.clone());
        found
    }

    /// The targets, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter()
    }

    /// The target whose legacy repo is `key`.
    pub fn by_key(&self, key: &RepoKey) -> Option<&Target> {
        self.by_key.get(key).map(|&i| &self.targets[i])
    }

    /// The target that is a fork of registry module `r`.
    pub fn by_registry(&self, r: &address::RegistrySource) -> Option<&Target> {
        let key = r.key();
        self.by_registry
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, i)| &self.targets[*i])
    }

    /// The monorepo name when `key` is one of the monorepos.
    pub fn monorepo(&self, key: &RepoKey) -> Option<&str> {
        self.monorepos.get(key).map(String::as_str)
    }

    /// The first legacy repo whose URL (any form: `https://`, `git@host:`, `ssh://`,
    /// shorthand; any case) appears anywhere inside `text`.
    pub fn find_legacy(&self, text: &str) -> Option<&Target> {
        let lower = text.to_ascii_lowercase();
        let bytes = lower.as_bytes();
        for host in &self.hosts {
            let mut from = 0;
            while let Some(pos) = lower[from..].find(host.as_str()) {
                let start = from + pos;
                from = start + host.len();
                let before_ok = start == 0 || {
                    let c = bytes[start - 1];
                    !(c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
                };
                let mut i = start + host.len();
                if !before_ok || i >= bytes.len() || !matches!(bytes[i], b'/' | b':') {
                    continue;
                }
                i += 1;
                // `ssh://git@host:22/org/repo`: skip a port.
                let digits = bytes[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits > 0 && bytes.get(i + digits) == Some(&b'/') {
                    i += digits + 1;
                }
                let len = bytes[i..]
                    .iter()
                    .take_while(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/' | b'~')
                    })
                    .count();
                let path = &lower[i..i + len];
                let segments: Vec<&str> = path.split('/').collect();
                for n in (1..=segments.len()).rev() {
                    let candidate = segments[..n].join("/");
                    // `…/repo.zip`, `…/repo.tar.gz`: also try the name before its first dot.
                    let undotted = match candidate.rsplit_once('/') {
                        Some((head, last)) => last
                            .split_once('.')
                            .map(|(name, _)| format!("{head}/{name}")),
                        None => None,
                    };
                    for c in std::iter::once(candidate).chain(undotted) {
                        if let Some(t) = RepoKey::new(host, &c).and_then(|k| self.by_key(&k)) {
                            return Some(t);
                        }
                    }
                }
            }
        }
        None
    }
}

/// Maps a legacy commit to its image in the monorepo (shared by parallel scans).
pub trait CommitLookup: Sync {
    /// The new full sha of legacy commit `sha` (full, or a unique prefix of at least 7 hex
    /// digits) of legacy repo `repo`; `None` when unknown or ambiguous.
    fn image(&self, repo: &str, sha: &str) -> Option<String>;
}

/// A [`CommitLookup`] over an in-memory table (legacy repo → old sha → new sha).
#[derive(Debug, Clone, Default)]
pub struct CommitMap {
    map: HashMap<String, Vec<(String, String)>>,
}

impl CommitMap {
    /// An empty table.
    pub fn new() -> CommitMap {
        CommitMap::default()
    }

    /// Records that commit `old` of `repo` became `new`.
    pub fn insert(&mut self, repo: &str, old: &str, new: &str) {
        self.map
            .entry(repo.to_string())
            .or_default()
            .push((old.to_ascii_lowercase(), new.to_string()));
    }
}

impl CommitLookup for CommitMap {
    fn image(&self, repo: &str, sha: &str) -> Option<String> {
        let sha = sha.to_ascii_lowercase();
        if sha.len() < 7 || !sha.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let mut found = self
            .map
            .get(repo)?
            .iter()
            .filter(|(old, _)| old.starts_with(&sha));
        let first = found.next()?;
        if found.any(|(_, new)| *new != first.1) {
            return None;
        }
        Some(first.1.clone())
    }
}

/// Everything [`rewrite_file`] needs besides the file.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The legacy repos and where they went.
    pub targets: &'a Targets,
    /// Legacy commit → monorepo commit.
    pub commits: &'a dyn CommitLookup,
    /// The monorepo the file lives in.
    pub monorepo: &'a str,
    /// How calls into the file's own monorepo are rewritten.
    pub same_monorepo: SameMonorepo,
    /// The Terragrunt split sources of the tree the file belongs to
    /// ([`split::SplitTable::build`]); without one, neither half of a split source is
    /// rewritten as such.
    pub split: Option<&'a split::SplitTable>,
}

/// What [`rewrite_file`] did to one file. Its `Debug` output redacts secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FileOutcome {
    /// The new content; `None` when nothing changed.
    pub new_content: Option<String>,
    /// Every rewritten source, in file order.
    pub rewrites: Vec<Rewrite>,
    /// Every source (or legacy reference) left as it is, with why.
    pub left_alone: Vec<LeftAlone>,
    /// Sources that should be rewritten but cannot be (the file keeps them unchanged).
    pub errors: Vec<SourceError>,
    /// Set when the file does not parse: it is left unchanged.
    pub unparsed: Option<Unparsed>,
}

/// A file that does not parse (a template, a test fixture, a file Terraform would refuse):
/// it is left unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unparsed {
    /// The 1-based line of the first syntax error.
    pub line: usize,
    /// What the parser said.
    pub message: String,
    /// Lines that mention a legacy repo or a forked registry module (a lexical scan): when
    /// there are any, a human must look at the file.
    pub mentions: Vec<Mention>,
}

/// A line of an unparsed file that mentions a migrated repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// 1-based line.
    pub line: usize,
    /// The line, trimmed (raw: may hold secrets; redact before printing).
    pub text: String,
    /// The legacy repo it mentions.
    pub repo: String,
}

impl fmt::Debug for FileOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileOutcome")
            .field(
                "new_content",
                &self.new_content.as_deref().map(redact::text),
            )
            .field("rewrites", &self.rewrites)
            .field("left_alone", &self.left_alone)
            .field("errors", &self.errors)
            .field(
                "unparsed",
                &self.unparsed.as_ref().map(|u| (u.line, u.mentions.len())),
            )
            .finish()
    }
}

impl FileOutcome {
    /// Whether some left-alone reference needs a human (expressions, legacy URLs in other
    /// strings).
    pub fn needs_attention(&self) -> bool {
        self.left_alone.iter().any(|l| l.reason.needs_attention())
    }
}

/// One rewritten source.
#[derive(Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// 1-based line of the string in the original file.
    pub line: usize,
    /// The old value (raw: may hold secrets; use `Display` for humans).
    pub old: String,
    /// The new value (raw).
    pub new: String,
    /// The legacy repo it referenced.
    pub repo: String,
    /// Warnings and remarks (`branch ref now moves with the whole monorepo`, …).
    pub notes: Vec<String>,
}

impl fmt::Display for Rewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {} -> {}",
            self.line,
            redact::text(&self.old),
            redact::text(&self.new)
        )?;
        for n in &self.notes {
            write!(f, " ({n})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Rewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rewrite")
            .field("line", &self.line)
            .field("old", &redact::text(&self.old))
            .field("new", &redact::text(&self.new))
            .field("repo", &self.repo)
            .field("notes", &self.notes)
            .finish()
    }
}

/// A source or reference that was not rewritten.
#[derive(Clone, PartialEq, Eq)]
pub struct LeftAlone {
    /// 1-based line in the original file.
    pub line: usize,
    /// The text as written (raw; use `Display` for humans).
    pub source: String,
    /// Why.
    pub reason: Reason,
    /// The legacy repo it mentions, if any.
    pub repo: Option<String>,
}

impl fmt::Display for LeftAlone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {} left alone: {}",
            self.line,
            redact::text(&self.source),
            self.reason
        )?;
        if let Some(r) = &self.repo {
            write!(f, " (mentions legacy repo {r})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for LeftAlone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeftAlone")
            .field("line", &self.line)
            .field("source", &redact::text(&self.source))
            .field("reason", &self.reason)
            .field("repo", &self.repo)
            .finish()
    }
}

/// Why a source was left alone.
///
/// Serialised (in the plan's JSON) as its short [`label`](Reason::label); `Display` gives
/// the longer sentence with the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Reason {
    /// A local path (`./x`, `../x`).
    #[serde(rename = "local path")]
    Local,
    /// A git repo or registry module that is not being migrated.
    #[serde(rename = "external: not in the mapping")]
    External,
    /// Not a git or registry source (http archive, `s3::`, `git::file://`, …).
    #[serde(rename = "not a git or registry source")]
    Other,
    /// Already points at one of the monorepos.
    #[serde(rename = "already points at a monorepo")]
    Monorepo,
    /// An expression or template (`"${local.base}?ref=x"`, `local.src`): needs attention.
    #[serde(rename = "expression or template")]
    Expression,
    /// A legacy repo URL inside a string that is not a complete source address (a plain
    /// clone URL, a description): needs attention.
    #[serde(rename = "legacy URL in a string that is not a module source")]
    LegacyReference,
    /// One half of a Terragrunt split source (a base URL in `locals`, or a unit appending
    /// `?ref=` to it) whose halves cannot be rewritten consistently: needs attention.
    #[serde(rename = "Terragrunt split source that cannot be rewritten consistently")]
    Split,
}

impl Reason {
    /// Returns the short label plans and reports show (and the plan's JSON holds).
    pub fn label(self) -> &'static str {
        match self {
            Reason::Local => "local path",
            Reason::External => "external: not in the mapping",
            Reason::Other => "not a git or registry source",
            Reason::Monorepo => "already points at a monorepo",
            Reason::Expression => "expression or template",
            Reason::LegacyReference => "legacy URL in a string that is not a module source",
            Reason::Split => "Terragrunt split source that cannot be rewritten consistently",
        }
    }

    /// Whether a human should look at it.
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            Reason::Expression | Reason::LegacyReference | Reason::Split
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Local => "local path",
            Reason::External => "not a migrated repo",
            Reason::Other => "not a git or registry source",
            Reason::Monorepo => "already a monorepo source",
            Reason::Expression => "expression or template: rewrite it by hand",
            Reason::LegacyReference => {
                "legacy repo URL in a string that is not a complete source: rewrite it by hand"
            }
            Reason::Split => {
                "Terragrunt split source (base URL in locals, ref in the units) that cannot be \
                 rewritten consistently: rewrite both halves by hand"
            }
        })
    }
}

/// A source that should be rewritten but cannot be, or a file that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// 1-based line in the original file.
    pub line: usize,
    /// What is wrong and what to do (redacted).
    pub message: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Whether [`rewrite_file`] handles files at `path`: what Terraform, OpenTofu and Terragrunt
/// read (`.tf`, `.tofu`, `.tf.json`, `.tofu.json`, `.hcl`, `.hcl.json`, `*.tftest.hcl`,
/// `*.tofutest.hcl`, `terragrunt.stack.hcl`).
pub fn is_source_file(path: &str) -> bool {
    rewrite::FileKind::of(path).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REASONS: [Reason; 7] = [
        Reason::Local,
        Reason::External,
        Reason::Other,
        Reason::Monorepo,
        Reason::Expression,
        Reason::LegacyReference,
        Reason::Split,
    ];

    #[test]
    fn a_reason_is_serialised_as_its_label_and_read_back() {
        for r in REASONS {
            let json = serde_json::to_string(&r).expect("json");
            assert_eq!(json, format!("\"{}\"", r.label()));
            let back: Reason = serde_json::from_str(&json).expect("read back");
            assert_eq!(back, r);
        }
        assert_eq!(
            serde_json::to_string(&Reason::Expression).expect("json"),
            "\"expression or template\""
        );
    }

    fn target(repo: &str, url: &str) -> Target {
        Target {
            repo: repo.into(),
            legacy_url: url.into(),
            monorepo: "m".into(),
            monorepo_url: "git::https://github.com/acme/m.git".into(),
            path: repo.into(),
            tag_prefix: format!("{repo}/"),
            registry: vec!["ns/name/aws".into()],
            tags: vec![],
            default_branch: Some("master".into()),
            branches: vec![],
            other_branches: vec![],
        }
    }

    /// The case-insensitive automaton [`Lowered`] stands for.
    fn reference(patterns: &[String]) -> aho_corasick::AhoCorasick {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(patterns)
            .expect("patterns")
    }

    #[test]
    fn lowered_patterns_find_a_match_wherever_it_falls_across_the_chunks() {
        let patterns = vec!["Acme/Terraform-AWS-vpc".to_string(), "\\u".to_string()];
        let lowered = Lowered::new(&patterns).expect("built");
        let needle = b"ACME/terraform-aws-VPC";
        // Every position around the first two chunk boundaries, and the end of the text.
        let step = LOWERED_CHUNK - (lowered.longest - 1);
        for at in (0..40)
            .chain(step - 30..step + 30)
            .chain(2 * step - 30..2 * step + 30)
        {
            let mut text = vec![b'x'; 2 * LOWERED_CHUNK + 100];
            text[at..at + needle.len()].copy_from_slice(needle);
            assert!(lowered.is_match(&text), "a match at {at}");
            text.truncate(at + needle.len());
            assert!(lowered.is_match(&text), "a match at the end, {at}");
            text.truncate(at + needle.len() - 1);
            assert!(!lowered.is_match(&text), "a cut match at {at}");
        }
        assert!(lowered.is_match(b"x \\U0041"));
        assert!(!lowered.is_match(b""));
        assert!(!lowered.is_match(b"acme/terraform-aws-vp"));
        // A pattern too long for a chunk keeps the case-insensitive automaton.
        assert!(Lowered::new(&["x".repeat(LOWERED_CHUNK)]).is_none());
        assert!(Lowered::new(&[]).is_none());
        // Escapes only; words only.
        let escapes = Lowered::new(&["\\/".to_string()]).expect("built");
        assert!(escapes.is_match(b"a\\/b") && !escapes.is_match(b"a\\ub/"));
        let words = Lowered::new(&["ab".to_string()]).expect("built");
        assert!(words.is_match(b"xAB") && !words.is_match(b"a\\/b"));
    }

    proptest::proptest! {
        #[test]
        fn lowered_patterns_match_as_the_case_insensitive_automaton(
            text in "[aAcCmMeE/xX\\\\uU-]{0,600}",
            pad in 0usize..40_000,
        ) {
            let patterns = vec![
                "acme/x".to_string(),
                "Cm-e".to_string(),
                "\\u".to_string(),
                "\\/".to_string(),
            ];
            let lowered = Lowered::new(&patterns).expect("built");
            let ac = reference(&patterns);
            let mut long = vec![b'.'; pad];
            long.extend_from_slice(text.as_bytes());
            proptest::prop_assert_eq!(lowered.is_match(text.as_bytes()), ac.is_match(&text));
            proptest::prop_assert_eq!(lowered.is_match(&long), ac.is_match(&long));
        }
    }

    #[test]
    fn mentioned_repos_names_every_target_a_text_may_refer_to() {
        let mut b = target("b", "git@github.com:acme/b.git");
        b.registry = vec!["other/b/aws".into()];
        let t = Targets::new(vec![target("a", "https://github.com/acme/a.git"), b]);
        let names = |text: &str| {
            t.mentioned_repos(text)
                .map(|s| s.into_iter().collect::<Vec<_>>().join(","))
        };
        assert_eq!(names("source = \"./local\"").as_deref(), Some(""));
        assert_eq!(
            names("git::https://github.com/ACME/A.git").as_deref(),
            Some("a")
        );
        assert_eq!(names("ns/name/aws and OTHER/B/aws").as_deref(), Some("a,b"));
        assert_eq!(names("acme/b?ref=v1 # acme/a").as_deref(), Some("a,b"));
        // An escape can spell any of them.
        assert_eq!(names("{\"source\": \"github.com\\/acme\\/a\"}"), None);
        assert_eq!(names("\\u0061cme/a"), None);
        // No targets: nothing to mention.
        assert_eq!(
            Targets::new(Vec::new())
                .mentioned_repos("acme/a")
                .map(|s| s.len()),
            Some(0)
        );
    }

    #[test]
    fn many_targets_answer_the_same_before_and_after_the_dfa_takes_over() {
        // More patterns than the packed searcher takes: the automata answer.
        let targets: Vec<Target> = (0..100)
            .map(|i| {
                target(
                    &format!("r{i}"),
                    &format!("https://github.com/acme/r{i}.git"),
                )
            })
            .collect();
        let t = Targets::new(targets);
        assert!(
            t.matchers().lowered.is_none(),
            "too many for the packed searcher"
        );
        let texts = [
            (
                "source = \"git::https://github.com/ACME/R7.git?ref=v1\"",
                true,
                Some("r7"),
            ),
            (
                "source = \"./modules/x\" # acme/r1 and acme/r12",
                true,
                Some("r1,r12"),
            ),
            ("nothing to see", false, Some("")),
            ("{\"source\": \"github.com\\/acme\\/r3\"}", true, None),
        ];
        let check = |t: &Targets| {
            for (text, may, names) in texts {
                assert_eq!(t.may_mention(text), may, "{text}");
                let got = t
                    .mentioned_repos(text)
                    .map(|s| s.into_iter().collect::<Vec<_>>().join(","));
                assert_eq!(got.as_deref(), names, "{text}");
            }
        };
        check(&t);
        assert!(t.matchers().dfa.get().is_none(), "no DFA for a few files");
        // A megabyte searched: the DFA is built and answers the same.
        let filler = "x".repeat(DFA_AFTER + 1);
        assert!(!t.may_mention(&filler));
        check(&t);
        assert!(
            t.matchers().dfa.get().is_some_and(|d| d.is_some()),
            "the DFA took over"
        );
    }

    #[test]
    fn commit_map_resolves_unique_prefixes_only() {
        let mut c = CommitMap::new();
        c.insert("r", "abcdef1234567890", "new1");
        c.insert("r", "abcdef1999999999", "new2");
        assert_eq!(c.image("r", "abcdef1234567890").as_deref(), Some("new1"));
        assert_eq!(c.image("r", "ABCDEF12").as_deref(), Some("new1"));
        assert_eq!(c.image("r", "abcdef1"), None, "ambiguous");
        assert_eq!(c.image("r", "abcde"), None, "too short");
        assert_eq!(c.image("other", "abcdef1234567890"), None);
        assert_eq!(c.image("r", "zzzzzzzz"), None);
    }

    #[test]
    fn targets_index_keys_registry_monorepos_and_find_legacy_text() {
        let t = Targets::new(vec![
            target("x", "https://github.com/acme/x.git"),
            target("y", "git@gitlab.example.com:group/sub/y.git"),
        ]);
        let key = |s: &str| RepoKey::from_url(s).expect("key");
        assert_eq!(
            t.by_key(&key("git@github.com:acme/x"))
                .map(|t| t.repo.as_str()),
            Some("x")
        );
        assert_eq!(
            t.by_key(&key("https://gitlab.example.com/group/sub/y"))
                .map(|t| t.repo.as_str()),
            Some("y")
        );
        assert_eq!(t.monorepo(&key("https://github.com/acme/m.git")), Some("m"));
        let Address::Registry(r) = Address::parse("ns/name/aws") else {
            panic!("registry")
        };
        assert_eq!(t.by_registry(&r).map(|t| t.repo.as_str()), Some("x"));
        let find = |s: &str| t.find_legacy(s).map(|t| t.repo.clone());
        assert_eq!(
            find("see https://GitHub.com/acme/X.git for more"),
            Some("x".into())
        );
        assert_eq!(find("ssh://git@github.com:22/acme/x"), Some("x".into()));
        assert_eq!(
            find("s3::https://b/github.com/acme/x.tar.gz"),
            Some("x".into())
        );
        assert_eq!(
            find("git@gitlab.example.com:group/sub/y.git//m?ref=1"),
            Some("y".into())
        );
        assert_eq!(find("github.com/acme/x-extra"), None);
        assert_eq!(find("notgithub.com/acme/x"), None);
        assert_eq!(find("github.com/acme/m"), None);
        assert_eq!(find("\u{20ac}github.com/acme/x\u{20ac}"), Some("x".into()));
    }
}
