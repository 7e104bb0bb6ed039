//! The second half of planning: module source rewrites, backend key pins, `moved.tf` files
//! and state moves. Reads the legacy repos (to compute commit images for `?ref=<sha>`),
//! writes nothing.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use super::{
    build, Error, FileChange, ImportStep, KeyChangePlan, Plan, SourceLeft, SourceRewrite,
    TagRewrite, Warning,
};
use crate::history::{self, CommitMap};
use crate::inventory::{Inventory, LegacyRepo};
use crate::mapping::Mapping;
use crate::progress::NoProgress;
use crate::redact;
use crate::sources::{self, Reason, Target, Targets};
use crate::state::{self, backend, BackendMode, Style};

/// Inputs of planning beyond the mapping and the inventory.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A directory of state snapshots (one pulled `.tfstate` per root) to check moves against.
    pub states: Option<PathBuf>,
}

/// Computes everything `apply` will do: imports ([`build`]), then source rewrites, backend
/// key pins, `moved.tf` files and state moves.
pub fn build_with(mapping: &Mapping, inventory: &Inventory, opts: &Options) -> Result<Plan, Error> {
    let mut plan = build(mapping, inventory)?;
    let mut problems = Vec::new();
    let legacy: BTreeMap<&str, &LegacyRepo> = inventory
        .repos
        .iter()
        .map(|r| (r.name.as_str(), r))
        .collect();
    let steps: BTreeMap<String, ImportStep> = plan
        .monorepos
        .iter()
        .flat_map(|m| &m.imports)
        .map(|s| (s.repo.clone(), s.clone()))
        .collect();

    // Sources.
    let targets = targets(mapping, &plan);
    let images = Images {
        steps: &steps,
        cache: Mutex::new(HashMap::new()),
    };
    for mono in &mut plan.monorepos {
        let mut files = Vec::new();
        for step in &mono.imports {
            let Some(repo) = legacy.get(step.repo.as_str()) else {
                continue;
            };
            for file in &repo.files {
                if !sources::is_source_file(&file.path)
                    || file.path.split('/').any(|c| c == ".terraform")
                {
                    continue;
                }
                let path = join(&step.path, &file.path);
                let ctx = sources::Context {
                    targets: &targets,
                    commits: &images,
                    monorepo: &mono.name,
                    same_monorepo: mapping.same_monorepo,
                };
                let outcome = sources::rewrite_file(&path, &file.content, &ctx);
                for e in &outcome.errors {
                    problems.push(format!(
                        "{path}:{} (legacy repo {} file {}): {}",
                        e.line,
                        step.repo,
                        file.path,
                        redact::text(&e.message)
                    ));
                }
                if outcome.rewrites.is_empty() && outcome.left_alone.is_empty() {
                    continue;
                }
                files.push(FileChange {
                    path,
                    repo: step.repo.clone(),
                    rewrites: outcome.rewrites.iter().map(planned_rewrite).collect(),
                    left_alone: outcome
                        .left_alone
                        .iter()
                        .map(|l| SourceLeft {
                            line: l.line,
                            source: redact::text(&l.source),
                            reason: reason(l.reason).to_string(),
                            attention: l.reason.needs_attention(),
                        })
                        .collect(),
                    edits: Vec::new(),
                    content: outcome.new_content,
                });
            }
        }
        mono.files = files;
        let mut tag_rewrites = Vec::new();
        for step in &mono.imports {
            let ctx = sources::Context {
                targets: &targets,
                commits: &images,
                monorepo: &mono.name,
                same_monorepo: mapping.same_monorepo,
            };
            let (rewrites, warnings) = tag_rewrites_of(step, &ctx);
            tag_rewrites.extend(rewrites);
            plan.warnings.extend(warnings);
        }
        mono.tag_rewrites = tag_rewrites;
    }

    // State moves.
    let blocks = match state::parse_mapping(mapping) {
        Ok(b) => b,
        Err(ps) => {
            problems.extend(ps.into_iter().map(|p| format!("{}: {}", p.at, p.message)));
            Vec::new()
        }
    };
    let snapshots = match &opts.states {
        Some(dir) => match state::snapshot::Snapshots::load(dir) {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        },
        None => None,
    };
    let mut state_plan = match state::plan::build(&blocks, snapshots.as_ref()) {
        Ok(p) => p,
        Err(ps) => {
            problems.extend(ps.into_iter().map(|p| format!("{}: {}", p.at, p.message)));
            Default::default()
        }
    };
    for root in &state_plan.roots {
        let known = plan.monorepos.iter().any(|m| {
            m.imports.iter().any(|s| {
                let full = format!("{}/{}", m.name, s.path);
                root.root == full || root.root.starts_with(&format!("{full}/"))
            })
        });
        if !known {
            plan.warnings.push(Warning {
                subject: format!("state \"{}\"", root.root),
                message: "no imported repo lands at this root (labels are <monorepo>/<path>); its scripts assume the directory exists".into(),
            });
        }
    }

    // Backend keys that change with the directory, and moved.tf files.
    let mut key_changes = Vec::new();
    for mono in &mut plan.monorepos {
        for step in &mono.imports {
            let Some(repo) = legacy.get(step.repo.as_str()) else {
                continue;
            };
            let file = |path: &str| {
                repo.files
                    .iter()
                    .find(|f| f.path == path)
                    .map(|f| f.content.as_str())
            };
            let Some(change) = backend::detect_in(file, "", &step.path) else {
                continue;
            };
            let root = format!("{}/{}", mono.name, step.path);
            let mode = match state_plan.root_mut(&root) {
                Some(r) => {
                    r.key_change = Some(change.clone());
                    r.backend_mode
                }
                None => BackendMode::Pin,
            };
            let path = join(&step.path, &change.file);
            if mode == BackendMode::Pin {
                let current = mono
                    .files
                    .iter()
                    .find(|f| f.path == path)
                    .and_then(|f| f.content.clone())
                    .or_else(|| file(&change.file).map(str::to_string));
                let Some(current) = current else { continue };
                match backend::pin(&current, &change.old_key) {
                    Ok(pinned) => {
                        let edit = format!(
                            "backend key pinned to \"{}\" (line {}; it would become \"{}\")",
                            change.old_key, change.line, change.new_key
                        );
                        match mono.files.iter_mut().find(|f| f.path == path) {
                            Some(f) => {
                                f.content = Some(pinned);
                                f.edits.push(edit);
                            }
                            None => mono.files.push(FileChange {
                                path: path.clone(),
                                repo: step.repo.clone(),
                                rewrites: Vec::new(),
                                left_alone: Vec::new(),
                                edits: vec![edit],
                                content: Some(pinned),
                            }),
                        }
                    }
                    Err(e) => problems.push(format!(
                        "{path}:{}: cannot pin the backend key: {e}; set `backend {{ mode = \"copy\" }}` in a `state \"{root}\"` block",
                        change.line
                    )),
                }
            }
            key_changes.push(KeyChangePlan {
                root,
                file: path,
                line: change.line,
                old_key: change.old_key.clone(),
                new_key: change.new_key.clone(),
                how: change.how.clone(),
                action: if mode == BackendMode::Pin {
                    "pin"
                } else {
                    "copy"
                }
                .to_string(),
            });
        }
        for root in state_plan
            .roots
            .iter()
            .filter(|r| r.style == Style::MovedBlocks)
        {
            let Some(dir) = root.root.strip_prefix(&format!("{}/", mono.name)) else {
                continue;
            };
            let Some(text) = state::moved_blocks(root) else {
                continue;
            };
            let taken = |name: &str| {
                let p = join(dir, name);
                mono.files.iter().any(|f| f.path == p)
                    || mono.imports.iter().any(|s| {
                        legacy
                            .get(s.repo.as_str())
                            .is_some_and(|r| r.files.iter().any(|f| join(&s.path, &f.path) == p))
                    })
            };
            let name = if taken("moved.tf") {
                "tfmono-moved.tf"
            } else {
                "moved.tf"
            };
            mono.files.push(FileChange {
                path: join(dir, name),
                repo: String::new(),
                rewrites: Vec::new(),
                left_alone: Vec::new(),
                edits: vec![format!(
                    "generated: {} moved block(s) for state \"{}\"",
                    root.moves.iter().filter(|m| m.from_state.is_none()).count(),
                    root.root
                )],
                content: Some(text),
            });
        }
        mono.files.sort_by(|a, b| a.path.cmp(&b.path));
    }
    if !problems.is_empty() {
        return Err(Error::Invalid { problems });
    }
    for kc in &key_changes {
        plan.warnings.push(Warning {
            subject: kc.root.clone(),
            message: format!(
                "backend key would change from \"{}\" to \"{}\" ({}); apply will {}",
                kc.old_key,
                kc.new_key,
                kc.how,
                if kc.action == "pin" {
                    "pin the old key"
                } else {
                    "write state scripts that copy the state"
                }
            ),
        });
    }
    state_plan.roots.sort_by(|a, b| a.root.cmp(&b.root));
    plan.state = state_plan;
    plan.key_changes = key_changes;
    Ok(plan)
}

/// The source rewrites of every imported tag of `step` (files read at each tagged commit).
/// Problems in old tags do not stop the plan: the source stays as it was in that tag, and
/// a warning says so.
fn tag_rewrites_of(
    step: &ImportStep,
    ctx: &sources::Context<'_>,
) -> (Vec<TagRewrite>, Vec<Warning>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    if step.tags.is_empty() {
        return (out, warnings);
    }
    let Ok(repo) = history::open(&step.repo, &step.git_dir) else {
        return (out, warnings);
    };
    let mut by_commit: HashMap<String, Vec<FileChange>> = HashMap::new();
    for tag in &step.tags {
        let files = match by_commit.get(&tag.commit) {
            Some(f) => f.clone(),
            None => {
                let Ok((files, _, _)) = crate::inventory::tip_files(&repo, &tag.commit) else {
                    continue;
                };
                let mut changes = Vec::new();
                for file in files.iter().filter(|f| sources::is_source_file(&f.path)) {
                    let path = join(&step.path, &file.path);
                    let outcome = sources::rewrite_file(&path, &file.content, ctx);
                    for e in &outcome.errors {
                        warnings.push(Warning {
                            subject: format!(
                                "repo \"{}\" tag {}",
                                step.repo,
                                tag.from.trim_start_matches("refs/tags/")
                            ),
                            message: format!(
                                "{path}:{}: {}; this source stays as it was in that tag",
                                e.line,
                                redact::text(&e.message)
                            ),
                        });
                    }
                    if outcome.new_content.is_none() {
                        continue;
                    }
                    changes.push(FileChange {
                        path,
                        repo: step.repo.clone(),
                        rewrites: outcome.rewrites.iter().map(planned_rewrite).collect(),
                        left_alone: Vec::new(),
                        edits: Vec::new(),
                        content: outcome.new_content,
                    });
                }
                by_commit.insert(tag.commit.clone(), changes.clone());
                changes
            }
        };
        if !files.is_empty() {
            out.push(TagRewrite {
                repo: step.repo.clone(),
                tag: tag.to.clone(),
                commit: tag.commit.clone(),
                files,
            });
        }
    }
    (out, warnings)
}

/// A source rewrite as the plan shows it: secrets redacted.
fn planned_rewrite(r: &crate::sources::Rewrite) -> SourceRewrite {
    SourceRewrite {
        line: r.line,
        old: redact::text(&r.old),
        new: redact::text(&r.new),
        repo: r.repo.clone(),
        notes: r.notes.iter().map(|n| redact::text(n)).collect(),
    }
}

fn reason(r: Reason) -> &'static str {
    match r {
        Reason::Local => "local path",
        Reason::External => "external (not in the mapping)",
        Reason::Other => "not a git or registry source",
        Reason::Monorepo => "already points at a monorepo",
        Reason::Expression => "expression: needs attention",
        Reason::LegacyReference => "legacy URL in a string that is not a source: needs attention",
    }
}

fn join(dir: &str, file: &str) -> String {
    let dir = dir.trim_matches('/');
    if dir.is_empty() {
        file.to_string()
    } else {
        format!("{dir}/{file}")
    }
}

fn targets(mapping: &Mapping, plan: &Plan) -> Targets {
    let steps: BTreeMap<&str, &ImportStep> = plan
        .monorepos
        .iter()
        .flat_map(|m| &m.imports)
        .map(|s| (s.repo.as_str(), s))
        .collect();
    let mut out = Vec::new();
    for spec in &mapping.repos {
        let Some(step) = steps.get(spec.name.as_str()) else {
            continue;
        };
        let Some(mono) = mapping.monorepo(&spec.into) else {
            continue;
        };
        let tags = step
            .tags
            .iter()
            .map(|t| t.from.trim_start_matches("refs/tags/").to_string())
            .collect();
        let branches = step
            .branches
            .iter()
            .skip(1) // the default branch became main
            .map(|b| {
                (
                    b.from.trim_start_matches("refs/heads/").to_string(),
                    b.to.trim_start_matches("refs/heads/").to_string(),
                )
            })
            .collect();
        out.push(Target::from_spec(
            spec,
            &mono.url,
            tags,
            step.default_branch.as_deref(),
            branches,
        ));
    }
    Targets::new(out)
}

/// Commit images for `?ref=<sha>`, computed on demand (images are deterministic, so the
/// plan knows them before apply writes them).
struct Images<'a> {
    steps: &'a BTreeMap<String, ImportStep>,
    cache: Mutex<HashMap<String, Option<CommitMap>>>,
}

impl sources::CommitLookup for Images<'_> {
    fn image(&self, repo: &str, sha: &str) -> Option<String> {
        let mut cache = self.cache.lock().ok()?;
        let entry = cache.entry(repo.to_string()).or_insert_with(|| {
            let step = self.steps.get(repo)?;
            let task = NoProgress;
            let image = history::rewrite(
                step,
                &CommitMap::default(),
                &AtomicBool::new(false),
                crate::progress::Progress::task(&task, "", 0).as_ref(),
            )
            .ok()?;
            let mut map = CommitMap::default();
            for (old, new) in image.commits {
                map.insert(repo, old, new);
            }
            Some(map)
        });
        entry
            .as_ref()
            .and_then(|m| m.find_prefix(repo, sha))
            .map(|id| id.to_string())
    }
}
