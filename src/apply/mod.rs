//! Executes a [`Plan`]: one bare repo per monorepo under the output directory, every legacy
//! repo imported under its path, merged into `main`, tags namespaced, the commit map written
//! (as a file and as notes under `refs/notes/tfmono`).
//!
//! [`run`] is the whole crash-safe sequence, so no caller can skip a step: claim and lock
//! the output directory, record the journal (every ref's previous value, every file about to
//! be written), write `rollback.sh` and `push.sh`, execute the plan, update the journal and
//! `rollback.sh` with the files written, then record the refs as applied and the inputs as
//! synced ([`crate::outdir`]).
//!
//! Order of durability per monorepo, so that a kill at any moment leaves a state the next
//! run converges from: legacy packs linked in, new objects written as one fsync'd pack, the
//! commit map file replaced atomically, and only then every ref moved in one transaction.

mod link;
mod refs;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use gix::objs::Kind;
use gix::ObjectId;
use rayon::prelude::*;

use crate::history::{self, preload, CommitMap, Image};
use crate::inventory::RepoRefs;
use crate::objects::{self, tree, Object};
use crate::outdir::{self, NOTES_REF};
use crate::plan::{MonorepoPlan, Plan};
use crate::progress::Progress;

pub use refs::RefUpdate;

/// What can go wrong while applying.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or rewriting history failed.
    #[error(transparent)]
    History(#[from] history::Error),
    /// The monorepo cannot be created or opened.
    #[error("monorepo {name} at {}: {message}", path.display())]
    Monorepo {
        /// The monorepo name.
        name: String,
        /// Its directory.
        path: PathBuf,
        /// The cause.
        message: String,
    },
    /// A ref moved under our feet, or the ref transaction failed.
    #[error("monorepo {name}: updating refs failed: {message}; nothing was moved, run the same command again")]
    Refs {
        /// The monorepo name.
        name: String,
        /// The cause.
        message: String,
    },
    /// The refs moved, but another process wrote some of them meanwhile (its values win).
    #[error("monorepo {name}: another process wrote {} while apply moved the refs; run the same command again", refs.join(", "))]
    RefsRaced {
        /// The monorepo name.
        name: String,
        /// The refs written by the other process.
        refs: Vec<String>,
    },
    /// Ctrl-C.
    #[error("interrupted; no ref was moved in the monorepo being written: run the same command again to finish")]
    Interrupted,
    /// The output directory cannot be claimed, locked or written (journal, scripts, records).
    #[error(transparent)]
    Output(#[from] outdir::Error),
}

/// What happened in one monorepo.
#[derive(Debug, Clone, Default)]
pub struct MonorepoOutcome {
    /// The monorepo name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Commits rewritten in this run.
    pub commits_written: usize,
    /// Commits found in the commit map (rewritten by an earlier run).
    pub commits_reused: usize,
    /// Objects written into the new pack.
    pub objects_written: usize,
    /// Refs created or moved.
    pub ref_updates: Vec<RefUpdate>,
    /// The "Rewrite module sources" commit made in this run, if any.
    pub rewrite_commit: Option<String>,
}

/// What `apply` did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// One entry per monorepo, in plan order.
    pub monorepos: Vec<MonorepoOutcome>,
    /// Files written under the output directory besides the monorepos (state scripts),
    /// relative to it.
    pub files: Vec<String>,
}

/// The state scripts `plan` makes apply write, relative to the output directory (empty when
/// no root has script work), so the journal can list them before they are written.
fn state_script_files(plan: &Plan) -> Vec<String> {
    if !plan.state.roots.iter().any(|r| r.needs_script()) {
        return Vec::new();
    }
    crate::state::scripts::files(&plan.state)
        .into_iter()
        .map(|p| outdir::state_file(&p))
        .collect()
}

/// Every ref `plan` creates or moves in `mono`, sorted.
fn planned_refs(mono: &MonorepoPlan) -> Vec<String> {
    let mut refs: Vec<String> = mono
        .imports
        .iter()
        .flat_map(|i| i.branches.iter().chain(&i.tags))
        .map(|r| r.to.clone())
        .collect();
    refs.push(outdir::MAIN_REF.to_string());
    refs.push(NOTES_REF.to_string());
    refs.sort();
    refs.dedup();
    refs
}

/// What the journal records of `plan` before anything changes: its monorepos and their refs.
fn journal_targets(plan: &Plan) -> Vec<outdir::JournalTarget> {
    let mut targets: Vec<outdir::JournalTarget> = Vec::new();
    for m in &plan.monorepos {
        match targets.iter_mut().find(|t| t.name == m.name) {
            // a monorepo listed twice: its refs are all the plan's refs in it
            Some(t) => {
                t.refs.extend(planned_refs(m));
                t.refs.sort();
                t.refs.dedup();
            }
            None => targets.push(outdir::JournalTarget {
                name: m.name.clone(),
                dir: m.dir.clone(),
                url: m.url.clone(),
                refs: planned_refs(m),
            }),
        }
    }
    targets
}

/// Knobs of [`run`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where the user's monorepo checkouts will be (absolute): the default of `MONOREPOS`
    /// in the state scripts. `None`: the scripts need `MONOREPOS` set.
    pub monorepos_dir: Option<PathBuf>,
    /// Print the time each step of each monorepo took on stderr.
    pub trace: bool,
    /// New commits per batch of imports written into a pack of its own (0: the default,
    /// [`BATCH_COMMITS`]).
    pub batch_commits: usize,
    /// Bytes of pending objects (merges, tag rewrites) above which they go into a pack of
    /// their own before the notes are built (0: the default, [`OVERLAY_BYTES`]).
    pub overlay_bytes: usize,
}

/// What [`run`] needs besides the plan and its knobs.
pub struct Context<'a> {
    /// The commits inflated ahead by the inventory scan (released after each import).
    pub preload: &'a preload::Store,
    /// Where progress goes.
    pub progress: &'a dyn Progress,
    /// Set on Ctrl-C: the run stops before moving the refs of the monorepo it is writing.
    pub should_interrupt: &'a AtomicBool,
}

/// Applies `plan` (made from the legacy refs `legacy_refs`) into `out`: claims and locks
/// `out`, records the journal, writes `rollback.sh` and `push.sh`, executes the plan, then
/// records what it left (see the module docs). A crash at any point leaves a directory that
/// `rollback.sh` undoes and a re-run converges from.
pub fn run(
    plan: &Plan,
    legacy_refs: &[RepoRefs],
    out: &Path,
    opts: &Options,
    ctx: &Context<'_>,
) -> Result<Outcome, Error> {
    let trace = Trace {
        name: "apply",
        on: opts.trace,
        t0: std::time::Instant::now(),
    };
    outdir::claim_output(out)?;
    let _lock = outdir::lock_output(out)?;
    let mut files = vec![
        outdir::ROLLBACK_SCRIPT.to_string(),
        outdir::PUSH_SCRIPT.to_string(),
    ];
    for m in &plan.monorepos {
        files.push(outdir::commit_map_file(&m.name));
    }
    // the state scripts too, before they are written: verify checks every script listed
    files.extend(state_script_files(plan));
    let targets = journal_targets(plan);
    let journal = outdir::record(out, &plan.fingerprint, &targets, &files)?;
    let rollback = crate::rollback::rollback_script(&journal);
    outdir::write_script_in(out, outdir::ROLLBACK_SCRIPT, &rollback)?;
    let push = crate::rollback::push_script(&journal);
    outdir::write_script_in(out, outdir::PUSH_SCRIPT, &push)?;
    trace.mark("journal and scripts");

    // The scans record (megabytes of JSON) is serialised and compressed while the monorepos
    // and the applied record are written: written after them, as before.
    std::thread::scope(|s| {
        let scans = (!plan.scans.unchanged).then(|| s.spawn(|| outdir::prepare_scans(&plan.scans)));
        let outcome = execute(plan, out, opts, ctx)?;
        trace.mark("monorepos");
        let journal = if outcome.files.is_empty() {
            journal
        } else {
            let journal = outdir::record(out, &plan.fingerprint, &targets, &outcome.files)?;
            let rollback = crate::rollback::rollback_script(&journal);
            outdir::write_script_in(out, outdir::ROLLBACK_SCRIPT, &rollback)?;
            journal
        };
        // What rollback compares with to find work made in the monorepos after this apply.
        outdir::record_applied(out, &journal)?;
        trace.mark("applied record");
        // What the next run may reuse of this one's tag scans (already there when this run
        // reused every one of them).
        if let Some(scans) = scans {
            let scans = scans.join().expect("serialising the scans does not panic");
            outdir::record_prepared_scans(out, &scans)?;
        }
        // What the next run compares with to skip everything when nothing changed.
        let key = outdir::run_key(&plan.fingerprint, opts.monorepos_dir.as_deref())?;
        outdir::record_synced(out, &key, &plan.base, &plan.fingerprint, legacy_refs)?;
        trace.mark("scans and synced records");
        Ok(outcome)
    })
}

/// Executes `plan` into `out`, under the lock [`run`] holds: apply treats lock files and
/// staging directories left in `out` as leftovers of a killed run.
fn execute(plan: &Plan, out: &Path, opts: &Options, ctx: &Context<'_>) -> Result<Outcome, Error> {
    let mut outcome = Outcome::default();
    let who = plan.identity.to_string();
    for m in &plan.monorepos {
        if ctx.should_interrupt.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        outcome
            .monorepos
            .push(apply_monorepo(m, out, &who, opts, ctx)?);
    }
    if plan.state.roots.iter().any(|r| r.needs_script()) {
        let dir = out.join(outdir::STATE_DIR);
        let script_opts = crate::state::scripts::ScriptOptions {
            monorepos_dir: opts.monorepos_dir.clone(),
            ..Default::default()
        };
        let written =
            crate::state::scripts::write(&plan.state, &dir, &script_opts).map_err(|e| {
                Error::Monorepo {
                    name: "state scripts".into(),
                    path: dir.clone(),
                    message: e.to_string(),
                }
            })?;
        outcome.files = written
            .iter()
            .filter_map(|p| p.strip_prefix(out).ok())
            .map(|p| p.display().to_string())
            .collect();
    }
    Ok(outcome)
}

fn mono_err(m: &MonorepoPlan, dir: &Path) -> impl Fn(String) -> Error {
    let name = m.name.clone();
    let dir = dir.to_owned();
    move |message| Error::Monorepo {
        name: name.clone(),
        path: dir.clone(),
        message,
    }
}

/// Opens the monorepo of `m` at `dir`, which apply created or found at the start of the
/// run: failing now means something removed or replaced it meanwhile (a rollback, a user).
/// The error names the monorepo (not a legacy repo) and says what to do.
fn open_monorepo(m: &MonorepoPlan, dir: &Path) -> Result<gix::Repository, Error> {
    history::open(&m.name, dir).map_err(|e| {
        let cause = match e {
            history::Error::Open { message, .. } => message,
            other => other.to_string(),
        };
        mono_err(m, dir)(format!(
            "cannot open it as a git repository ({cause}): something removed or replaced it while apply ran (a rollback?); move away what is there if it is not the monorepo, then re-run the same `tfmono apply` command: it converges"
        ))
    })
}

/// `--trace`: prints how long each step of one monorepo took, on stderr.
struct Trace<'a> {
    name: &'a str,
    on: bool,
    t0: std::time::Instant,
}

impl Trace<'_> {
    fn mark(&self, what: &str) {
        if self.on {
            eprintln!(
                "[trace] {} {what}: {:?} ({})",
                self.name,
                self.t0.elapsed(),
                crate::progress::memory()
            )
        }
    }
}

/// The commit map of a monorepo as loaded at the start of its apply.
struct MapState {
    /// Its file.
    file: PathBuf,
    /// The map, with the paths of this plan set.
    map: CommitMap,
    /// Repos that moved to another path since the last run -> their old path.
    moved_from: HashMap<String, String>,
}

fn apply_monorepo(
    m: &MonorepoPlan,
    out: &Path,
    who: &str,
    opts: &Options,
    ctx: &Context<'_>,
) -> Result<MonorepoOutcome, Error> {
    let should_interrupt = ctx.should_interrupt;
    let trace = Trace {
        name: &m.name,
        on: opts.trace,
        t0: std::time::Instant::now(),
    };
    let dir = out.join(&m.dir);
    if m.untouched() {
        // Nothing read, nothing written: its refs are as the last apply left them (the
        // plan checked that before it marked the imports unchanged).
        trace.mark("unchanged");
        return Ok(MonorepoOutcome {
            name: m.name.clone(),
            dir,
            commits_reused: m.imports.iter().map(|s| s.commits).sum(),
            ..MonorepoOutcome::default()
        });
    }
    let err = mono_err(m, &dir);
    let pending = link_legacy(m, &dir, &trace)?;

    trace.mark("linked");
    let MapState {
        file: map_file,
        mut map,
        moved_from,
    } = load_map(m, out)?;
    let urls = note_urls(m);
    let Rewritten {
        images,
        written: notes_written,
        objects: objects_flushed,
    } = rewrite_images(m, &map, &urls, &dir, opts.batch_commits, ctx)?;
    trace.mark("rewritten");
    // The notes of the map as loaded can grow by this run's entries only if nothing but
    // entries was added since they were written (see `map_notes`).
    let notes_base = map
        .notes()
        .filter(|r| moved_from.is_empty() && r.sources == sources_digest(&map, &urls))
        .map(|r| r.commit);
    if notes_base.is_none() {
        // The notes are built from the whole map.
        map.load_rest(&map_file)?;
    }

    let repo = open_monorepo(m, &dir)?;
    trace.mark("opened");
    let own = OwnPacks::read(m, &dir);
    let mut edits = refs::Edits::read(&repo, &m.name)?;
    trace.mark("refs read");
    // Legacy loose objects are readable through the overlay until the pack holds them.
    let mut overlay: HashMap<ObjectId, Object> = pending.into_iter().map(|o| (o.id, o)).collect();
    let mut outcome = MonorepoOutcome {
        name: m.name.clone(),
        dir: dir.clone(),
        ..MonorepoOutcome::default()
    };
    for image in &images {
        outcome.commits_written += image.commits.len();
        outcome.commits_reused += image.reused;
        map.extend(&image.repo, &image.commits);
    }

    let main_ref = outdir::MAIN_REF;
    let objects = Objects::new(m, &own, &repo);
    let mut main = merge_into_main(m, who, &images, &moved_from, &objects, &mut overlay, &edits)
        .map_err(&err)?;
    // The source rewrite commit: module sources, backend pins, moved.tf.
    if let Some(parent) = main {
        if let Some(commit) =
            rewrite_commit(m, who, &objects, &mut overlay, parent).map_err(&err)?
        {
            main = Some(commit);
            outcome.rewrite_commit = Some(commit.to_string());
        }
    }
    if let Some(main) = main {
        edits.set_made(main_ref, main, None);
    }
    trace.mark("main");
    for image in &images {
        // An annotated tag's image is a tag object pointing at the commit's image; every
        // other ref points at a commit's image.
        let tags: HashMap<ObjectId, Option<ObjectId>> = image
            .objects
            .iter()
            .filter(|o| o.kind == Kind::Tag)
            .map(|o| (o.id, objects::tag_target(&o.data)))
            .collect();
        for (name, id) in &image.refs {
            match tags.get(id) {
                Some(Some(target)) => edits.set_made(name, *id, Some(*target)),
                Some(None) => edits.set(name, *id),
                None => edits.set_made(name, *id, None),
            }
        }
    }
    // A re-sync of a few repos rebuilds their tag rewrites reading through `objects`.
    let few = (!objects.legacy.is_empty()).then_some(&objects as &dyn tree::Source);
    let rebuilt = tag_rewrites(
        m,
        who,
        &images,
        &map,
        (&repo, few),
        &mut overlay,
        &mut edits,
    )
    .map_err(&err)?;
    drop(objects);
    // Thousands of tag rewrites make hundreds of MB of objects: into a pack of their own
    // now, before the notes add theirs.
    let limit = match opts.overlay_bytes {
        0 => OVERLAY_BYTES,
        n => n,
    };
    if overlay_bytes(&overlay) > limit {
        outcome.objects_written += flush_overlay(m, &dir, &mut overlay, &own, ctx)?;
    }
    // Thousands of tag rewrites read trees from the linked legacy packs: a new handle lets
    // the pages they mapped go (hundreds of MB with a thousand packs). A small run keeps
    // its handle (a new one loads every pack index again).
    let repo = if rebuilt > FEW_TAGS {
        drop(repo);
        open_monorepo(m, &dir)?
    } else {
        repo
    };

    trace.mark("merged");
    let notes = Notes {
        who,
        images: &images,
        map: &map,
        urls: &urls,
        base: notes_base,
        written: &notes_written,
        own: &own,
    };
    // The notes read only tfmono's objects.
    let objects = Objects::own_first(&own, &repo);
    let notes_blobs = map_notes(&notes, &objects, &mut overlay, &mut edits).map_err(&err)?;
    drop(objects);
    let record = notes_record(&map, &urls, &edits);
    map.set_notes(record);

    trace.mark("notes");
    let all = new_objects(images, notes_blobs, overlay, &own);
    if should_interrupt.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    trace.mark("filtered");
    outcome.objects_written += objects_flushed + write_pack(m, &dir, &all, ctx)?;

    trace.mark("packed");
    // The commit map's changed files, then the refs: one transaction.
    write_map(m, &map, &map_file)?;
    if should_interrupt.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    trace.mark("commit map");
    link::remove_leftovers(&dir);
    drop(repo);
    let repo = open_monorepo(m, &dir)?;
    outcome.ref_updates = edits.commit(&repo, &m.name)?;
    trace.mark("refs");
    Ok(outcome)
}

/// Makes sure the bare monorepo exists at `dir` and brings the legacy objects in wholesale:
/// packs hard-linked, loose objects collected (returned, to be written into the new pack).
fn link_legacy(m: &MonorepoPlan, dir: &Path, trace: &Trace<'_>) -> Result<Vec<Object>, Error> {
    link::ensure_bare(dir).map_err(mono_err(m, dir))?;
    // Half-written packs of a failed run go first: the objects are written again (the same
    // ones: images are deterministic) into one complete pack.
    for p in link::remove_failed_packs(dir) {
        trace.mark(&format!("removed the leftover {}", p.display()));
    }
    let objects_dir = dir.join("objects");

    // Legacy objects come in wholesale: packs hard-linked, loose objects collected.
    let mut pending: Vec<Object> = Vec::new();
    // A repo unchanged since the last apply had its objects brought in by it.
    for step in m.imports.iter().filter(|s| !s.unchanged) {
        pending.extend(link::legacy_objects(
            &step.repo,
            &step.git_dir,
            &objects_dir,
        )?);
    }
    Ok(pending)
}

/// Writes the files of `map` that changed into its directory `dir` (the index last),
/// replacing the single-file map of an earlier version.
fn write_map(m: &MonorepoPlan, map: &CommitMap, dir: &Path) -> Result<(), Error> {
    let err = |path: &Path, e: std::io::Error| Error::Monorepo {
        name: m.name.clone(),
        path: path.to_owned(),
        message: e.to_string(),
    };
    let writes = map.files_to_write();
    if writes.is_empty() {
        return Ok(());
    }
    if dir.is_file() {
        // Read whole by this run: every repo's file is among `writes`.
        std::fs::remove_file(dir).map_err(|e| err(dir, e))?;
    }
    for w in writes {
        let path = dir.join(&w.name);
        match w.text {
            Some(text) => outdir::write_file(&path, text.as_bytes()).map_err(|e| err(&path, e))?,
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(&path, e)),
                _ => {}
            },
        }
    }
    Ok(())
}

/// Loads the commit map of `m` (the entries of the repos this run imports again; see
/// [`ImportStep::unchanged`](crate::plan::ImportStep)) and sets the path of each of its
/// repos, forgetting the images of repos that moved to another path.
fn load_map(m: &MonorepoPlan, out: &Path) -> Result<MapState, Error> {
    let map_file = outdir::commit_map_path(out, &m.name);
    let unchanged = m.unchanged();
    let mut map = CommitMap::load_some(&map_file, &|repo| !unchanged.contains(repo))?;
    let mut moved_from: HashMap<String, String> = HashMap::new();
    for step in &m.imports {
        if let Some(old) = map.path(&step.repo).filter(|p| *p != step.path) {
            // The repo moved to another path since the last run: its images change, and
            // the next merge takes its tree away from the old path.
            moved_from.insert(step.repo.clone(), old.to_string());
            map.forget(&step.repo);
        }
        map.set_path(&step.repo, &step.path);
    }
    Ok(MapState {
        file: map_file,
        map,
        moved_from,
    })
}

/// New commits of one batch of imports (by default): the images of a batch are written into a pack of
/// their own as soon as the next batch starts, so that memory holds one batch (or the
/// largest repo) rather than the whole monorepo.
const BATCH_COMMITS: usize = 100_000;

/// The images of a monorepo's imports.
struct Rewritten {
    /// One per import, in plan order; the commits and wrapper trees of all batches but the
    /// last were written already (and dropped: `objects` holds their annotated tags only).
    images: Vec<Image>,
    /// The images whose notes blobs were written with them.
    written: gix::hashtable::HashSet<ObjectId>,
    /// Objects written into the packs of the batches.
    objects: usize,
}

/// The imports of `m` in batches of about `limit` new commits, in plan order.
fn batches<'a>(
    m: &'a MonorepoPlan,
    map: &CommitMap,
    limit: usize,
) -> Vec<&'a [crate::plan::ImportStep]> {
    let limit = if limit == 0 { BATCH_COMMITS } else { limit };
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, step) in m.imports.iter().enumerate() {
        let new = step.commits.saturating_sub(map.len_for(&step.repo));
        if size > 0 && size + new > limit {
            out.push(&m.imports[start..i]);
            (start, size) = (i, 0);
        }
        size += new;
    }
    if start < m.imports.len() {
        out.push(&m.imports[start..]);
    }
    out
}

/// Rewrites the history of every import of `m` (in parallel), batch by batch, releasing the
/// preloaded commits of each; the images of every batch but the last go into a pack at once
/// (see [`flush_images`]).
fn rewrite_images(
    m: &MonorepoPlan,
    map: &CommitMap,
    urls: &BTreeMap<&str, String>,
    dir: &Path,
    batch_commits: usize,
    ctx: &Context<'_>,
) -> Result<Rewritten, Error> {
    let Context {
        preload,
        progress,
        should_interrupt,
    } = *ctx;
    let total: u64 = m.imports.iter().map(|s| s.commits as u64).sum();
    let task = progress.task(&format!("import into {}", m.name), total);
    let batches = batches(m, map, batch_commits);
    let mut out = Rewritten {
        images: Vec::with_capacity(m.imports.len()),
        written: Default::default(),
        objects: 0,
    };
    for (i, batch) in batches.iter().enumerate() {
        let mut images: Vec<Image> = batch
            .par_iter()
            .map(|step| {
                if step.unchanged {
                    // Its images and refs are those the last apply wrote: nothing is read.
                    task.inc(step.commits as u64);
                    return Ok(Image {
                        repo: step.repo.clone(),
                        reused: step.commits,
                        ..Image::default()
                    });
                }
                let repo_task = progress.task(&step.repo, step.commits as u64);
                let both = Both(task.as_ref(), repo_task.as_ref());
                history::rewrite(&step.history_input(), map, preload, should_interrupt, &both)
            })
            .collect::<Result<_, _>>()?;
        for step in batch.iter() {
            preload.release(&step.git_dir);
        }
        if i + 1 < batches.len() {
            out.objects += flush_images(m, &mut images, urls, dir, ctx)?;
            for image in &images {
                out.written
                    .extend(image.commits.iter().map(|(_, new)| *new));
            }
        }
        out.images.extend(images);
    }
    Ok(out)
}

/// Writes the commits and wrapper trees of `images`, and the notes blobs of their commits,
/// as one pack now, and drops them (annotated tags stay: the last pack checks them against
/// the monorepo). Returns how many objects it wrote.
fn flush_images(
    m: &MonorepoPlan,
    images: &mut [Image],
    urls: &BTreeMap<&str, String>,
    dir: &Path,
    ctx: &Context<'_>,
) -> Result<usize, Error> {
    let mut objs: Vec<Object> = Vec::new();
    for image in images.iter_mut() {
        let (tags, rest): (Vec<Object>, Vec<Object>) = std::mem::take(&mut image.objects)
            .into_iter()
            .partition(|o| o.kind == Kind::Tag);
        image.objects = tags;
        objs.extend(rest);
        let url = source(urls, &image.repo);
        for (old, _) in &image.commits {
            let (data, id) = note_blob(url, old);
            objs.push(Object {
                id,
                kind: Kind::Blob,
                data,
            });
        }
    }
    // A failed run may have written this very pack (images are deterministic): then keep
    // only what it lacks. One lookup tells: the batch's first commit is there or not.
    let own = OwnPacks::read(m, dir);
    let first_commit = objs.iter().find(|o| o.kind == Kind::Commit).map(|o| o.id);
    if first_commit.is_some_and(|id| own.contains(&id)) {
        objs.retain(|o| !own.contains(&o.id));
    }
    let mut seen = gix::hashtable::HashSet::default();
    objs.retain(|o| seen.insert(o.id));
    write_pack(m, dir, &objs, ctx)
}

/// Writes `objs` into a new pack of the monorepo at `dir`, counted on a progress bar of
/// its own; returns how many it wrote.
fn write_pack(
    m: &MonorepoPlan,
    dir: &Path,
    objs: &[Object],
    ctx: &Context<'_>,
) -> Result<usize, Error> {
    let task = ctx
        .progress
        .task(&format!("pack for {}", m.name), objs.len() as u64);
    history::pack::write_reporting(
        &dir.join("objects"),
        objs,
        ctx.should_interrupt,
        task.as_ref(),
    )?;
    Ok(objs.len())
}

/// Merges the tip of every image into main, in plan order (creating the root commit of a
/// new monorepo first); returns the new main, or `None` when there is none.
fn merge_into_main(
    m: &MonorepoPlan,
    who: &str,
    images: &[Image],
    moved_from: &HashMap<String, String>,
    repo: &dyn tree::Source,
    overlay: &mut HashMap<ObjectId, Object>,
    edits: &refs::Edits,
) -> Result<Option<ObjectId>, String> {
    let mut main = edits.current(outdir::MAIN_REF);
    for (step, image) in m.imports.iter().zip(images) {
        let (Some(tip), Some(tip_tree), Some(default)) =
            (image.tip, image.tip_tree, step.branches.first())
        else {
            continue;
        };
        if main.is_some() && edits.current(&default.to) == Some(tip) {
            continue; // already merged by an earlier run
        }
        let parent = match main {
            Some(p) => p,
            None => {
                let empty = Object::new(Kind::Tree, Vec::new());
                // Repos with tags only have no tip (and no tip time).
                let tips = images.iter().filter(|i| i.tip.is_some());
                let time = tips.map(|i| i.tip_time).min().unwrap_or(0);
                let msg = format!("Create the {} monorepo\n", m.name);
                let root = Object::new(Kind::Commit, commit_bytes(who, empty.id, &[], time, &msg));
                let id = root.id;
                overlay.insert(empty.id, empty);
                overlay.insert(root.id, root);
                id
            }
        };
        let mut parent_tree = tree::commit_tree(repo, overlay, parent)?;
        if let Some(old_path) = moved_from.get(&step.repo) {
            parent_tree = tree::remove(repo, overlay, parent_tree, old_path)?;
        }
        let new_tree = tree::insert(repo, overlay, Some(parent_tree), &step.path, tip_tree)?;
        let legacy_tip = image.legacy_tip.map(|t| t.to_string()).unwrap_or_default();
        let msg = format!(
            "Import {} into {}\n\nMigrated-from: {} {}\n",
            step.repo,
            step.path,
            crate::redact::url(&step.url),
            legacy_tip
        );
        let merge = Object::new(
            Kind::Commit,
            commit_bytes(who, new_tree, &[parent, tip], image.tip_time, &msg),
        );
        main = Some(merge.id);
        overlay.insert(merge.id, merge);
    }
    Ok(main)
}

/// What [`map_notes`] writes the notes of.
struct Notes<'a> {
    /// Who commits them.
    who: &'a str,
    /// This run's images: their commits are the map's new entries.
    images: &'a [Image],
    /// The whole commit map, this run's entries included.
    map: &'a CommitMap,
    /// The `Migrated-from:` source of each repo (see [`note_urls`]).
    urls: &'a BTreeMap<&'a str, String>,
    /// The notes commit the map as loaded was written with, when only new entries were
    /// added to the map since (no repo moved, no source changed).
    base: Option<ObjectId>,
    /// Images whose notes blobs were written already (with their batch's pack).
    written: &'a gix::hashtable::HashSet<ObjectId>,
    /// What the monorepo holds of tfmono's objects.
    own: &'a OwnPacks,
}

/// The redacted URL of each repo of `m`: its notes say `Migrated-from: <url> <commit>` (a
/// repo no longer in the plan says its name).
fn note_urls(m: &MonorepoPlan) -> BTreeMap<&str, String> {
    m.imports
        .iter()
        .map(|s| (s.repo.as_str(), crate::redact::url(&s.url)))
        .collect()
}

/// The notes source of `repo`: its URL, or its name when it is no longer in the plan.
fn source<'a>(urls: &'a BTreeMap<&str, String>, repo: &'a str) -> &'a str {
    urls.get(repo).map_or(repo, String::as_str)
}

/// A digest of the notes source of every repo with entries in `map` (hex).
fn sources_digest(map: &CommitMap, urls: &BTreeMap<&str, String>) -> String {
    use sha1::Digest;
    let mut repos: Vec<&str> = map.repos().collect();
    repos.sort_unstable();
    let mut h = sha1::Sha1::new();
    for r in repos {
        h.update(r.as_bytes());
        h.update([0]);
        h.update(source(urls, r).as_bytes());
        h.update(b"\n");
    }
    gix::ObjectId::from(<[u8; 20]>::from(h.finalize())).to_string()
}

/// What the commit map file records of the notes the refs of `edits` will hold.
fn notes_record(
    map: &CommitMap,
    urls: &BTreeMap<&str, String>,
    edits: &refs::Edits,
) -> Option<history::commit_map::NotesRecord> {
    let commit = edits.current(NOTES_REF).filter(|_| !map.is_empty())?;
    Some(history::commit_map::NotesRecord {
        commit,
        sources: sources_digest(map, urls),
    })
}

/// The commit map as notes, deterministic: the tree is the one built from the whole map.
/// When the notes ref is still at the commit the loaded map was written with
/// ([`Notes::base`]), only this run's entries are added to its tree; otherwise (a first run,
/// a run killed between writing the map and moving the refs, a repo moved or a source
/// changed) the tree is built from the whole map. Sets the notes ref in `edits` when it
/// changes and returns the notes blobs of the new map entries.
fn map_notes(
    notes: &Notes<'_>,
    repo: &dyn tree::Source,
    overlay: &mut HashMap<ObjectId, Object>,
    edits: &mut refs::Edits,
) -> Result<Vec<Object>, String> {
    if notes.map.is_empty() {
        return Ok(Vec::new());
    }
    let previous = edits.current(NOTES_REF);
    let mut notes_blobs = Vec::new();
    let root = match previous.filter(|p| notes.base == Some(*p)) {
        Some(prev) => notes_tree_added(notes, repo, overlay, &mut notes_blobs, prev)?,
        None => Some(notes_tree_full(notes, overlay, &mut notes_blobs)),
    };
    let Some(root) = root else {
        return Ok(notes_blobs); // nothing new
    };
    if let Some(prev) = previous {
        if tree::commit_tree(repo, overlay, prev)? == root.id {
            return Ok(notes_blobs);
        }
    }
    let time = notes.images.iter().map(|i| i.tip_time).max().unwrap_or(0);
    let parents: Vec<ObjectId> = previous.into_iter().collect();
    let commit = Object::new(
        Kind::Commit,
        commit_bytes(
            notes.who,
            root.id,
            &parents,
            time,
            "tfmono: commit map (legacy commit of each image)\n",
        ),
    );
    edits.set_made(NOTES_REF, commit.id, None);
    overlay.insert(root.id, root);
    overlay.insert(commit.id, commit);
    Ok(notes_blobs)
}

/// The indexes of the packs tfmono wrote into a monorepo before now (every pack but the
/// linked legacy ones): whether an object tfmono makes (a commit image, a wrapper tree, a
/// note, a merge, a tag) or a legacy loose object is stored already is a lookup in these
/// few indexes, not in the hundreds of legacy packs. (A legacy pack could hold an equal
/// object only by coincidence; writing it again is harmless.)
struct OwnPacks(Vec<gix::odb::pack::Bundle>);

impl OwnPacks {
    fn read(m: &MonorepoPlan, dir: &Path) -> OwnPacks {
        let names = |d: &Path| -> Vec<std::ffi::OsString> {
            std::fs::read_dir(d)
                .map(|r| r.filter_map(Result::ok).map(|e| e.file_name()).collect())
                .unwrap_or_default()
        };
        let legacy: std::collections::HashSet<std::ffi::OsString> = m
            .imports
            .iter()
            .flat_map(|s| names(&s.git_dir.join("objects/pack")))
            .collect();
        let pack_dir = dir.join("objects/pack");
        let mut own: Vec<_> = names(&pack_dir)
            .into_iter()
            .filter(|n| !legacy.contains(n) && Path::new(n).extension().is_some_and(|x| x == "idx"))
            .collect();
        own.sort();
        OwnPacks(
            own.iter()
                .filter_map(|n| {
                    gix::odb::pack::Bundle::at(pack_dir.join(n), gix::hash::Kind::Sha1).ok()
                })
                .collect(),
        )
    }

    fn contains(&self, id: &ObjectId) -> bool {
        self.0.iter().any(|b| b.index.lookup(id).is_some())
    }

    /// Object `id` from these packs, if one holds it.
    fn find(
        &self,
        id: &ObjectId,
        buf: &mut Vec<u8>,
        inflate: &mut gix::zlib::Inflate,
    ) -> Option<(Kind, Vec<u8>)> {
        self.0.iter().find_map(|b| {
            let at = b.index.lookup(id)?;
            let (data, _) = b
                .get_object_by_index(at, buf, inflate, &mut gix::odb::pack::cache::Never)
                .ok()?;
            Some((data.kind, data.data.to_vec()))
        })
    }
}

/// How many legacy repos imported again a run reads objects from directly (see
/// [`Objects`]); with more, the monorepo's own lookup is as good.
const DIRECT_LEGACY: usize = 8;

/// Reads a monorepo's objects for the merges, the rewrite commit and the notes: tfmono's
/// own packs first, then (on a re-sync of a few repos) the legacy repos imported again,
/// and only then the monorepo, whose first miss loads the index of every linked legacy
/// pack (a thousand packs: a quarter of a re-sync).
struct Objects<'a> {
    own: &'a OwnPacks,
    legacy: Vec<gix::Repository>,
    repo: &'a gix::Repository,
    scratch: std::cell::RefCell<(gix::zlib::Inflate, Vec<u8>)>,
}

impl<'a> Objects<'a> {
    fn new(m: &MonorepoPlan, own: &'a OwnPacks, repo: &'a gix::Repository) -> Objects<'a> {
        let again: Vec<_> = m.imports.iter().filter(|s| !s.unchanged).collect();
        let legacy = if again.len() <= DIRECT_LEGACY {
            again
                .iter()
                .filter_map(|s| history::open(&s.repo, &s.git_dir).ok())
                .collect()
        } else {
            Vec::new()
        };
        Objects {
            legacy,
            ..Objects::own_first(own, repo)
        }
    }

    /// Reads from tfmono's own packs, then the monorepo.
    fn own_first(own: &'a OwnPacks, repo: &'a gix::Repository) -> Objects<'a> {
        Objects {
            own,
            legacy: Vec::new(),
            repo,
            scratch: Default::default(),
        }
    }
}

impl tree::Source for Objects<'_> {
    fn find(&self, id: ObjectId) -> Result<(Kind, Vec<u8>), String> {
        if let Ok(mut scratch) = self.scratch.try_borrow_mut() {
            let (inflate, buf) = &mut *scratch;
            if let Some(found) = self.own.find(&id, buf, inflate) {
                return Ok(found);
            }
        }
        for legacy in &self.legacy {
            if let Ok(Some(o)) = legacy.try_find_object(id) {
                return Ok((o.kind, o.detach().data));
            }
        }
        tree::Source::find(self.repo, id)
    }
}

/// Objects: everything new that the monorepo does not hold yet, for one pack. Commits and
/// wrapper trees of commits missing from the commit map, and notes blobs of new map
/// entries, are new by construction (a duplicate after a crash is harmless); the rest is
/// checked against the monorepo.
fn new_objects(
    images: Vec<Image>,
    notes_blobs: Vec<Object>,
    overlay: HashMap<ObjectId, Object>,
    own: &OwnPacks,
) -> Vec<Object> {
    let mut all: Vec<Object> = Vec::new();
    let mut maybe: Vec<Object> = Vec::new();
    for image in images {
        for o in image.objects {
            if o.kind == Kind::Tag {
                maybe.push(o);
            } else {
                all.push(o);
            }
        }
    }
    all.extend(notes_blobs);
    // In id order, not the hash map's: the same run writes the same pack, byte for byte.
    let mut pending: Vec<Object> = overlay.into_values().collect();
    pending.sort_unstable_by_key(|o| o.id);
    maybe.extend(pending);
    // gix (like git) knows the empty tree without storing it; fsck does not, so write it.
    let empty_tree = objects::hash(Kind::Tree, b"");
    // A failed run (a full disk before the commit map was written) may have left a complete
    // pack of these very objects (images are deterministic, and that pack holds the empty
    // tree too): then reuse it rather than write a duplicate. One lookup tells: the run's
    // first commit is there or not.
    let first_commit = all.iter().find(|o| o.kind == Kind::Commit).map(|o| o.id);
    let reuse = first_commit.is_some_and(|id| own.contains(&id));
    maybe.retain(|o| (!reuse && o.id == empty_tree) || !own.contains(&o.id));
    if reuse {
        all.retain(|o| !own.contains(&o.id));
    }
    all.extend(maybe);
    let mut seen = gix::hashtable::HashSet::default();
    seen.reserve(all.len());
    all.retain(|o| seen.insert(o.id));
    all
}

/// The pending objects of a monorepo above which they go into a pack before the notes are
/// built (see [`flush_overlay`]).
const OVERLAY_BYTES: usize = 64 << 20;

/// About what `overlay` holds in memory.
fn overlay_bytes(overlay: &HashMap<ObjectId, Object>) -> usize {
    overlay.values().map(|o| o.data.len() + 64).sum()
}

/// Writes the pending objects of `overlay` that the monorepo does not hold yet into a pack
/// now, in id order (the same inputs give the same pack), and empties it; returns how many
/// it wrote. What is written is read back from the pack (the ref transaction peels tags).
fn flush_overlay(
    m: &MonorepoPlan,
    dir: &Path,
    overlay: &mut HashMap<ObjectId, Object>,
    own: &OwnPacks,
    ctx: &Context<'_>,
) -> Result<usize, Error> {
    let mut objs: Vec<Object> = std::mem::take(overlay)
        .into_values()
        .filter(|o| !own.contains(&o.id))
        .collect();
    objs.sort_unstable_by_key(|o| o.id);
    if objs.is_empty() {
        return Ok(0);
    }
    write_pack(m, dir, &objs, ctx)
}

/// Points every tag of `m.tag_rewrites` at a "Rewrite module sources for `<tag>`" commit
/// whose parent is the tagged commit's image (annotated tags get a new tag object with the
/// same tagger and message); returns how many it built (those of unchanged repos stay).
fn tag_rewrites(
    m: &MonorepoPlan,
    who: &str,
    images: &[Image],
    map: &CommitMap,
    (repo, few): (&gix::Repository, Option<&dyn tree::Source>),
    overlay: &mut HashMap<ObjectId, Object>,
    edits: &mut refs::Edits,
) -> Result<usize, String> {
    if m.tag_rewrites.is_empty() {
        return Ok(0);
    }
    let tag_objects: HashMap<ObjectId, &Object> = images
        .iter()
        .flat_map(|i| i.objects.iter().filter(|o| o.kind == Kind::Tag))
        .map(|o| (o.id, o))
        .collect();
    // The tags of a repo unchanged since the last apply point at the rewrite commits it
    // built from these very inputs: left as they are.
    let unchanged = m.unchanged();
    let todo: Vec<&crate::plan::TagRewrite> = m
        .tag_rewrites
        .iter()
        .filter(|tr| !unchanged.contains(tr.repo.as_str()))
        .collect();
    // The new file contents, each made a blob once: the tags of a repo share most of them
    // (1,651 tags, 7,821 files and 1,651 distinct contents on the real corpus).
    let blobs = content_blobs(m, &todo, overlay);
    // Each tag's commit is independent of the others': built in parallel, each thread with
    // its own repo handle and its own new objects, merged in tag order; a few of them (a
    // re-sync) one by one through `few`, which reads the legacy repos directly.
    let built: Vec<Result<Option<TagCommit>, String>> =
        if let Some(reader) = few.filter(|_| todo.len() <= FEW_TAGS) {
            let pending: &HashMap<ObjectId, Object> = overlay;
            todo.iter()
                .map(|tr| tag_rewrite_commit(m, who, map, reader, (pending, &blobs), tr))
                .collect()
        } else {
            use rayon::prelude::*;
            let shared = repo.clone().into_sync();
            // A tag's trees are read straight from its legacy repo's packs (the very files
            // linked here), the rest (pending objects aside) through the monorepo. Each thread
            // opens one repo's packs at a time (a repo's tags are together): holding a thousand
            // repos' packs open at once costs hundreds of MB of mapped pages.
            let none = std::sync::Arc::new(objects::packs::Packs::default());
            let pending: &HashMap<ObjectId, Object> = overlay;
            todo.par_iter()
                .map_init(
                    || {
                        let mut repo = shared.to_thread_local();
                        repo.objects.refresh_never();
                        let reader = objects::packs::Reader::new(none.clone());
                        let source = objects::packs::WithPacks {
                            reader: std::cell::RefCell::new(reader),
                            repo,
                        };
                        (source, None::<String>)
                    },
                    |(source, open), tr| {
                        if open.as_deref() != Some(tr.repo.as_str()) {
                            let packs = match m.imports.iter().find(|s| s.repo == tr.repo) {
                                Some(s) => objects::packs::Packs::open(&s.git_dir.join("objects")),
                                None => objects::packs::Packs::default(),
                            };
                            source
                                .reader
                                .borrow_mut()
                                .switch(&std::sync::Arc::new(packs));
                            *open = Some(tr.repo.clone());
                        }
                        tag_rewrite_commit(m, who, map, source, (pending, &blobs), tr)
                    },
                )
                .collect()
        };
    for (tr, found) in todo.iter().zip(built) {
        let Some((commit_id, objects)) = found? else {
            continue;
        };
        overlay.extend(objects);
        let short = tr.tag.strip_prefix("refs/tags/").unwrap_or(&tr.tag);
        match edits.current(&tr.tag).and_then(|id| tag_objects.get(&id)) {
            Some(tag) => {
                let t = Object::new(Kind::Tag, objects::edit_tag(&tag.data, commit_id, short));
                edits.set_made(&tr.tag, t.id, Some(commit_id));
                overlay.insert(t.id, t);
            }
            None => edits.set_made(&tr.tag, commit_id, None),
        }
    }
    Ok(todo.len())
}

/// The blob of every new file content of the tags `todo` of repos imported into `m`, by
/// the address of the content (a scan shares one copy among the tags that hold it), added
/// to `overlay`.
fn content_blobs(
    m: &MonorepoPlan,
    todo: &[&crate::plan::TagRewrite],
    overlay: &mut HashMap<ObjectId, Object>,
) -> HashMap<usize, ObjectId> {
    use rayon::prelude::*;
    let imported: std::collections::HashSet<&str> =
        m.imports.iter().map(|s| s.repo.as_str()).collect();
    let mut distinct: HashMap<usize, &std::sync::Arc<str>> = HashMap::new();
    let files = todo
        .iter()
        .filter(|tr| imported.contains(tr.repo.as_str()))
        .flat_map(|tr| &tr.files);
    for f in files {
        if let Some(c) = &f.content {
            distinct.entry(content_key(c)).or_insert(c);
        }
    }
    let made: Vec<(usize, Object)> = distinct
        .into_par_iter()
        .map(|(key, c)| (key, Object::new(Kind::Blob, c.as_bytes().to_vec())))
        .collect();
    let mut ids = HashMap::with_capacity(made.len());
    for (key, blob) in made {
        ids.insert(key, blob.id);
        overlay.entry(blob.id).or_insert(blob);
    }
    ids
}

/// The key of a shared content in [`content_blobs`]: its address.
fn content_key(c: &std::sync::Arc<str>) -> usize {
    std::sync::Arc::as_ptr(c) as *const u8 as usize
}

/// Tag rewrites a run builds one by one through a reader of the few legacy repos it imports
/// again (see [`Objects`]), rather than in parallel through the monorepo.
const FEW_TAGS: usize = 512;

/// A tag rewrite commit's id and the new objects it needs.
type TagCommit = (ObjectId, HashMap<ObjectId, Object>);

/// The "Rewrite module sources for <tag>" commit of `tr` on top of the image of its legacy
/// commit, with the new blobs and trees it needs (read through `pending`); `None` when its
/// repo is not imported into `m`.
fn tag_rewrite_commit(
    m: &MonorepoPlan,
    who: &str,
    map: &CommitMap,
    repo: &dyn tree::Source,
    (pending, blobs): (&HashMap<ObjectId, Object>, &HashMap<usize, ObjectId>),
    tr: &crate::plan::TagRewrite,
) -> Result<Option<TagCommit>, String> {
    let Some(step) = m.imports.iter().find(|s| s.repo == tr.repo) else {
        return Ok(None);
    };
    let mut overlay = tree::Layered {
        shared: pending,
        local: HashMap::new(),
    };
    let legacy = tr.commit;
    let image = map
        .get(&tr.repo, &legacy)
        .ok_or_else(|| format!("no image of {legacy} ({}) for tag {}", tr.repo, tr.tag))?;
    let header = tree::commit_header(repo, &overlay, legacy)?;
    let mut root = header.tree;
    let prefix = format!("{}/", step.path.trim_matches('/'));
    let mut count = 0;
    let mut edits = Vec::new();
    for f in &tr.files {
        let Some(content) = &f.content else { continue };
        let rel = f.path.strip_prefix(&prefix).unwrap_or(&f.path);
        // Made by `content_blobs` (in `pending`); a content it did not see, here.
        let id = match blobs.get(&content_key(content)) {
            Some(id) => *id,
            None => {
                let blob = Object::new(Kind::Blob, content.as_bytes().to_vec());
                let id = blob.id;
                overlay.local.insert(id, blob);
                id
            }
        };
        edits.push((rel, id));
        count += f.rewrites.len();
    }
    // Every file at once: each tree on the way is read and written once.
    if !edits.is_empty() {
        root = tree::replace_blobs(repo, &mut overlay, root, &edits)?;
    }
    let (wrapped, trees) = objects::wrap_tree(root, &step.path);
    let mut local = overlay.local;
    for t in trees {
        local.insert(t.id, t);
    }
    let short = tr.tag.strip_prefix("refs/tags/").unwrap_or(&tr.tag);
    let msg = format!(
        "Rewrite module sources for {short}\n\n{count} module source(s) rewritten so that this tag's module calls resolve in the monorepos.\nThe parent is the unchanged image of legacy commit {legacy}.\n"
    );
    let commit = Object::new(
        Kind::Commit,
        commit_bytes(who, wrapped, &[image], header.committer_time, &msg),
    );
    let commit_id = commit.id;
    local.insert(commit_id, commit);
    Ok(Some((commit_id, local)))
}

/// Progress counted on the monorepo's bar and the repo's bar at once.
struct Both<'a>(&'a dyn crate::progress::Task, &'a dyn crate::progress::Task);

impl crate::progress::Task for Both<'_> {
    fn inc(&self, n: u64) {
        self.0.inc(n);
        self.1.inc(n);
    }
}

/// The bytes of a commit tfmono creates, deterministic for its inputs: authored and
/// committed by `who` (`Name <email>`) at `time` in UTC.
pub fn commit_bytes(
    who: &str,
    tree: ObjectId,
    parents: &[ObjectId],
    time: i64,
    message: &str,
) -> Vec<u8> {
    let mut s = format!("tree {tree}\n");
    for p in parents {
        s.push_str(&format!("parent {p}\n"));
    }
    s.push_str(&format!("author {who} {time} +0000\n"));
    s.push_str(&format!("committer {who} {time} +0000\n\n"));
    s.push_str(message);
    s.into_bytes()
}

/// The note of legacy commit `old` imported from `url`: its blob content and id.
fn note_blob(url: &str, old: &ObjectId) -> (Vec<u8>, ObjectId) {
    let mut content = Vec::with_capacity(url.len() + 60);
    content.extend_from_slice(b"Migrated-from: ");
    content.extend_from_slice(url.as_bytes());
    content.push(b' ');
    let mut hex = [0u8; 40];
    content.extend_from_slice(old.hex_to_buf(&mut hex).as_bytes());
    content.push(b'\n');
    let id = objects::hash(Kind::Blob, &content);
    (content, id)
}

/// The fan-out tree of the notes `(image, blob)` whose images start with one byte: named by
/// the other 38 hex digits, in id order (one note per image).
fn fanout_tree(mut notes: Vec<(ObjectId, ObjectId)>) -> Object {
    // Same-length hex names: git's entry order is the order of the ids.
    notes.sort_unstable();
    notes.dedup_by_key(|(new, _)| *new);
    let mut hex = [0u8; 40];
    let mut data = Vec::with_capacity(notes.len() * 66);
    for (new, blob) in &notes {
        data.extend_from_slice(b"100644 ");
        data.extend_from_slice(&new.hex_to_buf(&mut hex).as_bytes()[2..]);
        data.push(0);
        data.extend_from_slice(blob.as_bytes());
    }
    Object::new(Kind::Tree, data)
}

/// The notes tree of the whole map; pushes the blobs the monorepo lacks to `new_blobs`.
fn notes_tree_full(
    notes: &Notes<'_>,
    overlay: &mut HashMap<ObjectId, Object>,
    new_blobs: &mut Vec<Object>,
) -> Object {
    // The images written by this run: their map entries are new.
    let fresh: gix::hashtable::HashSet<ObjectId> = notes
        .images
        .iter()
        .flat_map(|i| i.commits.iter().map(|(_, new)| *new))
        .collect();
    // Blobs in parallel, each with whether it is new: the blobs of new map entries are
    // (unless written with their batch); older ones are checked (their url may differ).
    // The fan-out in order.
    let entries: Vec<(&str, ObjectId, ObjectId)> = notes.map.entries().collect();
    let made: Vec<(ObjectId, Option<Vec<u8>>)> = entries
        .par_iter()
        .map(|(repo_name, old, new)| {
            let (data, id) = note_blob(source(notes.urls, repo_name), old);
            let is_new =
                !notes.written.contains(new) && (fresh.contains(new) || !notes.own.contains(&id));
            (id, is_new.then_some(data))
        })
        .collect();
    // Notes are keyed by image id, fanned out by its first byte (`ab/cdef...`), as git does.
    let mut fanout: Vec<Vec<(ObjectId, ObjectId)>> = vec![Vec::new(); 256];
    for ((_, _, new), (id, data)) in entries.into_iter().zip(made) {
        fanout[usize::from(new.as_bytes()[0])].push((new, id));
        if let Some(data) = data {
            new_blobs.push(Object {
                id,
                kind: Kind::Blob,
                data,
            });
        }
    }
    let mut top = Vec::new();
    for (first, notes) in fanout.into_iter().enumerate() {
        if notes.is_empty() {
            continue;
        }
        let t = fanout_tree(notes);
        top.push(objects::Entry::tree(&format!("{first:02x}"), t.id));
        overlay.insert(t.id, t);
    }
    Object::new(Kind::Tree, objects::encode_tree(top))
}

/// The notes tree of `prev` (the notes of the map before this run) with this run's entries
/// added; `None` when this run added none. Only the fan-out trees that get a note are read.
fn notes_tree_added(
    notes: &Notes<'_>,
    repo: &dyn tree::Source,
    overlay: &mut HashMap<ObjectId, Object>,
    new_blobs: &mut Vec<Object>,
    prev: ObjectId,
) -> Result<Option<Object>, String> {
    let mut added: BTreeMap<u8, Vec<(ObjectId, ObjectId)>> = BTreeMap::new();
    for image in notes.images {
        let url = source(notes.urls, &image.repo);
        for (old, new) in &image.commits {
            let (data, id) = note_blob(url, old);
            added.entry(new.as_bytes()[0]).or_default().push((*new, id));
            if !notes.written.contains(new) {
                new_blobs.push(Object {
                    id,
                    kind: Kind::Blob,
                    data,
                });
            }
        }
    }
    if added.is_empty() {
        return Ok(None);
    }
    let prev_root = tree::commit_tree(repo, overlay, prev)?;
    let mut top = tree::entries(repo, overlay, prev_root)?;
    for (first, mut fan) in added {
        let name = format!("{first:02x}");
        let at = top.iter().position(|e| e.name == name.as_bytes());
        if let Some(at) = at {
            for e in tree::entries(repo, overlay, top[at].id)? {
                let hex = [name.as_bytes(), &e.name].concat();
                let new = ObjectId::from_hex(&hex)
                    .map_err(|_| format!("notes tree {} holds a malformed name", top[at].id))?;
                fan.push((new, e.id));
            }
        }
        let t = fanout_tree(fan);
        let entry = objects::Entry::tree(&name, t.id);
        match at {
            Some(at) => top[at] = entry,
            None => top.push(entry),
        }
        overlay.insert(t.id, t);
    }
    Ok(Some(Object::new(Kind::Tree, objects::encode_tree(top))))
}

/// Builds the "Rewrite module sources to monorepos" commit on top of `parent`, or `None`
/// when the files already hold the planned content.
fn rewrite_commit(
    m: &MonorepoPlan,
    who: &str,
    repo: &dyn tree::Source,
    overlay: &mut HashMap<ObjectId, Object>,
    parent: ObjectId,
) -> Result<Option<ObjectId>, String> {
    // The files of a repo unchanged since the last apply are in `main` as it wrote them.
    let unchanged = m.unchanged();
    let changed: Vec<_> = m
        .files
        .iter()
        .filter(|f| f.content.is_some())
        .filter(|f| f.origin.repo().is_none_or(|r| !unchanged.contains(r)))
        .collect();
    if changed.is_empty() {
        return Ok(None);
    }
    let parent_header = tree::commit_header(repo, overlay, parent)?;
    let parent_tree = parent_header.tree;
    let mut edits: Vec<(&str, ObjectId)> = Vec::with_capacity(changed.len());
    for f in &changed {
        let Some(content) = &f.content else { continue };
        let blob = Object::new(Kind::Blob, content.as_bytes().to_vec());
        edits.push((f.path.as_str(), blob.id));
        overlay.insert(blob.id, blob);
    }
    let root = tree::replace_blobs(repo, overlay, parent_tree, &edits)?;
    if root == parent_tree {
        return Ok(None);
    }
    let rewrites: usize = m.files.iter().map(|f| f.rewrites.len()).sum();
    let files = m.files.iter().filter(|f| !f.rewrites.is_empty()).count();
    let other: Vec<&String> = m.files.iter().flat_map(|f| &f.edits).collect();
    let mut msg = format!(
        "Rewrite module sources to monorepos\n\n{rewrites} module source(s) rewritten in {files} file(s)"
    );
    if !other.is_empty() {
        msg.push_str(&format!("; {} other edit(s)", other.len()));
    }
    msg.push_str(".\n\n");
    for f in &changed {
        msg.push_str(&format!("{}: ", f.path));
        let mut parts = Vec::new();
        if !f.rewrites.is_empty() {
            parts.push(format!("{} source(s)", f.rewrites.len()));
        }
        parts.extend(f.edits.iter().cloned());
        msg.push_str(&parts.join("; "));
        msg.push('\n');
    }
    let time = parent_header.committer_time;
    let commit = Object::new(Kind::Commit, commit_bytes(who, root, &[parent], time, &msg));
    let id = commit.id;
    overlay.insert(id, commit);
    Ok(Some(id))
}
