//! `tfmono plan`: the dry run. Computes the whole plan and prints it; writes nothing else.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use tfmono::history::preload::Store as Preload;
use tfmono::state::snapshot;
use tfmono::{inventory, mapping, outdir, plan, preflight, report};

use super::Ui;

/// Arguments of `tfmono plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The report format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Also save the plan as JSON to this file (apply it later with `apply --plan FILE`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit 0 when the plan has nothing to do, 2 when it has changes, 1 on an error (as
    /// Terraform's -detailed-exitcode); with --strict, items needing attention are errors.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// The output directory of an earlier apply: plan the re-sync into it. Lists the legacy
    /// refs that changed since that apply and, as `apply --out DIR` does, reuses what it
    /// recorded (commit counts of repos whose tips did not move, tag scans whose inputs did
    /// not change). DIR is only read.
    #[arg(long, value_name = "DIR")]
    pub since: Option<PathBuf>,
    /// Text: list every source left alone (local paths, external repos), not only their
    /// counts per repo.
    #[arg(long, short)]
    pub verbose: bool,
    /// Write the full detail as Markdown to FILE (every rewrite, every tag, every source
    /// left alone, no size limit); the Markdown report, which stays under 60,000
    /// characters to fit a pull request, mentions it.
    #[arg(long, value_name = "FILE")]
    pub detail: Option<PathBuf>,
}

/// Where the inputs come from: shared by plan, apply and verify.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// The mapping file (HCL).
    pub mapping: PathBuf,
    /// A directory holding local clones of the legacy repos (`<dir>/<name>.git` or `<dir>/<name>`);
    /// overrides the mapping's `repos_dir`.
    #[arg(long, value_name = "DIR")]
    pub repos: Option<PathBuf>,
    /// Where mirror clones of remote URLs are kept.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Clone remote URLs that have no local copy into the cache directory.
    #[arg(long)]
    pub fetch: bool,
    /// State snapshots to check the mapping's state moves against (`terraform state pull`
    /// output, one per root): a directory of `<root with / as __>.tfstate` files
    /// (`live__prod__korea__api__static.tfstate`), or a path template with placeholders
    /// {root}, {flat}, {monorepo}, {path}, {repo} (`'states/{repo}.tfstate'`). The mapping's
    /// `snapshots` map wins for the roots it lists.
    #[arg(long, value_name = "DIR|TEMPLATE")]
    pub states: Option<String>,
    /// Refuse (exit 2; 1 with plan --detailed-exitcode) a plan with any item that needs attention: sources left alone because
    /// they are expressions or stray legacy URLs, files that do not parse but mention a
    /// migrated repo.
    #[arg(long)]
    pub strict: bool,
}

/// The report formats on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Human-readable text.
    Text,
    /// Markdown for a pull request.
    Markdown,
    /// JSON (the plan's schema).
    Json,
}

impl From<FormatArg> for report::Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Text => report::Format::Text,
            FormatArg::Markdown => report::Format::Markdown,
            FormatArg::Json => report::Format::Json,
        }
    }
}

/// Loads the mapping, checks everything that needs no scan (with apply's output directory
/// `out`), scans the legacy repos and builds the plan: the common first half of plan, apply
/// and verify. The scan inflates each repo's packed commits into `preload`, where the stage
/// that follows (the import, verify) finds them.
pub fn compute(
    input: &InputArgs,
    ui: &Ui,
    out: Option<&Path>,
    preload: &Preload,
) -> anyhow::Result<(mapping::Mapping, plan::Plan)> {
    compute_with_refs(input, ui, out, true, preload, None).map(|c| (c.mapping, c.plan))
}

/// What a caller of [`compute_with_refs`] read already of the same inputs: the mapping
/// (loaded from the same file, its identity resolved), the refs of every legacy repo and
/// what the last apply into the output directory recorded of them.
pub struct ReadAlready {
    /// The mapping.
    pub mapping: mapping::Mapping,
    /// The refs of every legacy repo of it.
    pub refs: Vec<inventory::RepoRefs>,
    /// The output directory's record of the last completed apply, as read (once) then.
    pub last: Option<Synced>,
}

/// What the last completed apply into an output directory recorded of the legacy refs.
pub type Synced = tfmono::outdir::Synced<inventory::RepoRefs>;

/// What [`compute_with_refs`] computed.
pub struct Computed {
    /// The mapping, its identity resolved.
    pub mapping: mapping::Mapping,
    /// The plan.
    pub plan: plan::Plan,
    /// The refs of every legacy repo it was made from.
    pub refs: Vec<inventory::RepoRefs>,
    /// The legacy repos it read (not taken from the output directory's records), for
    /// apply to record.
    pub read: Vec<inventory::Recorded>,
    /// The output directory's record of the last completed apply (read once).
    pub last: Option<Synced>,
}

/// [`compute`], with the legacy refs the plan was made from. The commit counts the last
/// apply into `out` recorded are taken for repos whose tips did not move; with
/// `reuse_scans`, its tag scans too wherever their inputs did not change, and the legacy
/// repos it recorded whose refs did not move. `read`: the mapping and legacy refs the
/// caller just read of the same inputs (else they are read here).
pub fn compute_with_refs(
    input: &InputArgs,
    ui: &Ui,
    out: Option<&Path>,
    reuse_scans: bool,
    preload: &Preload,
    read: Option<ReadAlready>,
) -> anyhow::Result<Computed> {
    let InputArgs {
        mapping: file,
        repos,
        cache,
        fetch,
        states,
        strict: _,
    } = input;
    let trace = Trace::from_env();
    let (mapping, refs_read, last_read) = match read {
        Some(ReadAlready {
            mapping,
            refs,
            last,
        }) => (mapping, Some(refs), Some(last)),
        None => (load_mapping(file, repos.as_deref())?, None, None),
    };
    trace.mark("mapping loaded");
    // The tag scans of the last apply into `out` (a repo whose scan inputs did not change is
    // not scanned again: the cache is keyed by those inputs; see `plan::cache`): megabytes
    // to inflate and parse, read meanwhile on a thread of their own.
    let scans = out.filter(|_| reuse_scans).map(|out| {
        let out = out.to_path_buf();
        std::thread::spawn(move || tfmono::outdir::last_scans::<plan::cache::ScanCache>(&out))
    });
    let opts = inventory::Options {
        cache_dir: cache.clone(),
        fetch: *fetch,
    };
    let checked = preflight::check(
        &mapping,
        &preflight::Options {
            locate: opts.clone(),
            states: states.as_deref().map(snapshot::Source::parse),
            out: out.map(Path::to_path_buf),
        },
    )?;
    // What the last apply into `out` recorded (read once): the commit counts of its repos
    // (a repo whose tips did not move is not walked again) and the refs it read.
    let last = match (out, last_read) {
        (Some(_), Some(last)) => last,
        (Some(out), None) => tfmono::outdir::last_synced::<inventory::RepoRefs>(out)?,
        (None, _) => None,
    };
    let known: inventory::KnownCounts = last
        .iter()
        .flat_map(|l| &l.repos)
        .filter_map(|r| Some((r.name.clone(), r.counted.clone()?)))
        .collect();
    trace.mark("preflight");
    // The repos an earlier apply into `out` read with the refs they have now: taken from its
    // records, not read again.
    let base = plan::base_fingerprint(&mapping);
    // (Nothing to take before a first apply: no record, and the refs are read once, below.)
    let mut reuse = match out.filter(|_| reuse_scans && last.is_some()) {
        Some(out) => recorded_repos(out, &mapping, &opts, &base, refs_read, last.as_ref())?,
        None => Default::default(),
    };
    let reused: std::collections::BTreeSet<String> = reuse.keys().cloned().collect();
    trace.mark("records of the legacy repos");
    let progress = ui.progress();
    let inventory = inventory::scan_reusing(
        &mapping,
        &opts,
        preload,
        &known,
        &mut reuse,
        progress.as_ref(),
    )
    .with_context(|| format!("reading the legacy repos of {}", file.display()))?;
    trace.mark("inventory");
    let scans = match scans {
        Some(read) => read
            .join()
            .expect("reading a record does not panic")?
            .unwrap_or_default(),
        None => Default::default(),
    };
    // The repos whose refs are those the last apply into `out` read, when that apply's
    // output is as it left it: their imports are not done again.
    let refs: Vec<inventory::RepoRefs> = inventory.repos.iter().map(|r| r.refs()).collect();
    let baseline = match (out.filter(|_| reuse_scans), &last) {
        (Some(out), Some(last)) => baseline(out, last, &mapping, &refs)?,
        _ => Default::default(),
    };
    trace.mark("last scans and baseline");
    let opts = plan::Options {
        snapshots: checked.snapshots,
        scans,
        baseline,
    };
    let mut plan =
        plan::build_with_progress(&mapping, &inventory, &opts, preload, progress.as_ref())?;
    trace.mark("plan");
    drop(progress);
    for repo in &inventory.repos {
        plan.warnings.extend(
            repo.warnings()
                .into_iter()
                .map(|(subject, message)| plan::Warning { subject, message }),
        );
    }
    let read = inventory
        .repos
        .iter()
        .filter(|r| out.is_some() && !reused.contains(&r.name))
        .map(|r| inventory::Recorded::of(r, &base))
        .collect();
    Ok(Computed {
        mapping,
        plan,
        refs,
        read,
        last,
    })
}

/// The legacy repos of `mapping` that an earlier apply into `out` (which recorded `last`)
/// recorded with the refs they have now and inputs `base` (see [`inventory::Recorded`]),
/// by name. Any doubt (refs that cannot be read, a damaged record) leaves a repo out: it
/// is read as usual.
fn recorded_repos(
    out: &Path,
    mapping: &mapping::Mapping,
    opts: &inventory::Options,
    base: &str,
    refs_read: Option<Vec<inventory::RepoRefs>>,
    last: Option<&Synced>,
) -> anyhow::Result<std::collections::HashMap<String, inventory::LegacyRepo>> {
    use rayon::prelude::*;
    // Read here (`plan --since`): through the stamps the last run recorded, as a re-sync
    // reads them, but recording none (a plan writes nothing outside its report).
    let now = match refs_read {
        Some(refs) => refs,
        None => {
            let stamped: Vec<inventory::StampedRefs> =
                tfmono::outdir::last_stamps(out)?.unwrap_or_default();
            let known = last.map_or(&[][..], |l| l.repos.as_slice());
            match inventory::refs_stamped(mapping, opts, known, &stamped) {
                Ok((refs, _)) => refs,
                Err(_) => return Ok(Default::default()),
            }
        }
    };
    let found: Vec<Option<inventory::LegacyRepo>> = now
        .par_iter()
        .map(|r| {
            let record = tfmono::outdir::last_repo::<inventory::Recorded>(out, &r.name)?;
            Ok(record.and_then(|rec| rec.reuse(base, r)))
        })
        .collect::<Result<_, tfmono::outdir::Error>>()?;
    Ok(found
        .into_iter()
        .flatten()
        .map(|repo| (repo.name.clone(), repo))
        .collect())
}

/// `TFMONO_TRACE`: prints how long each step of planning took, on stderr.
pub(super) struct Trace(Option<std::time::Instant>);

impl Trace {
    pub(super) fn from_env() -> Trace {
        Trace(std::env::var_os("TFMONO_TRACE").map(|_| std::time::Instant::now()))
    }

    pub(super) fn mark(&self, what: &str) {
        if let Some(t0) = self.0 {
            eprintln!(
                "[trace] {what}: {:?} ({})",
                t0.elapsed(),
                tfmono::progress::memory()
            );
        }
    }
}

/// What the last completed apply into `out` (which recorded `last`) left that a run with
/// `mapping` may build on: the repos of `now` whose refs did not move since (none when that apply had another
/// mapping or identity, or its output changed since).
fn baseline(
    out: &Path,
    last: &tfmono::outdir::Synced<inventory::RepoRefs>,
    mapping: &mapping::Mapping,
    now: &[inventory::RepoRefs],
) -> anyhow::Result<plan::Baseline> {
    if !tfmono::outdir::is_intact(out, last, &plan::base_fingerprint(mapping))? {
        return Ok(Default::default());
    }
    let then: std::collections::HashMap<&str, &inventory::RepoRefs> =
        last.repos.iter().map(|r| (r.name.as_str(), r)).collect();
    let repos = now
        .iter()
        .filter(|r| {
            then.get(r.name.as_str())
                .is_some_and(|t| t.git_dir == r.git_dir && t.head == r.head && t.refs == r.refs)
        })
        .map(|r| r.name.clone())
        .collect();
    Ok(plan::Baseline { repos })
}

/// Loads mapping `file` (see [`mapping::load`]) and gives it the identity of the commits
/// tfmono writes when it names none: git's (`user.name`, `user.email`) in the mapping's
/// directory, else `tfmono <tfmono@localhost>`. Git is asked while the mapping is read (a
/// start of git is milliseconds: most of loading a mapping of 1,000 repos).
pub fn load_mapping(file: &Path, repos: Option<&Path>) -> Result<mapping::Mapping, mapping::Error> {
    let base_dir = mapping::base_dir(file);
    let (loaded, git) = std::thread::scope(|s| {
        let git = s.spawn(|| git_identity(&base_dir));
        (mapping::load(file, repos), git.join().ok().flatten())
    });
    let mut mapping = loaded?;
    if mapping.identity.is_none() {
        mapping.identity = Some(git.unwrap_or_default());
    }
    Ok(mapping)
}

/// The identity git gives commits made in `dir` (`user.name`, `user.email` from git
/// config), if git is there and both are set. One `git config` reads both (each start of
/// git is milliseconds: a tenth of a re-sync of 1,000 repos was two of them); the last
/// value of a key wins, as with `git config --get`.
fn git_identity(dir: &Path) -> Option<mapping::Identity> {
    let out = std::process::Command::new("git")
        .args(["config", "--null", "--get-regexp", r"^user\.(name|email)$"])
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let listed = String::from_utf8(out.stdout).ok()?;
    let (name, email) = identity_keys(&listed);
    mapping::Identity::check(name?, email?).ok()
}

/// `user.name` and `user.email` (the last of each, trimmed) in the output of `git config
/// --null --get-regexp`: entries `key\nvalue\0`, or `key\0` for a key with no value.
fn identity_keys(listed: &str) -> (Option<&str>, Option<&str>) {
    let (mut name, mut email) = (None, None);
    for entry in listed.split('\0').filter(|e| !e.is_empty()) {
        let (key, value) = entry.split_once('\n').unwrap_or((entry, ""));
        match key {
            "user.name" => name = Some(value.trim()),
            "user.email" => email = Some(value.trim()),
            _ => {}
        }
    }
    (name, email)
}

/// Runs `tfmono plan`.
pub fn run(args: &PlanArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let PlanArgs {
        input,
        format,
        out,
        detailed_exitcode,
        verbose,
        detail,
        since,
    } = args;
    if let Some(dir) = since {
        if !dir.join(outdir::MARKER_DIR).is_dir() {
            anyhow::bail!(
                "--since {}: no apply has written to this directory (it has no {}); give the --out directory of an earlier apply",
                dir.display(),
                outdir::MARKER_DIR
            );
        }
    }
    let computed = compute_with_refs(input, ui, since.as_deref(), true, &Preload::default(), None)?;
    let (plan, refs) = (computed.plan, computed.refs);
    if let Some(dir) = since {
        report_changes(dir, computed.last.as_ref(), &refs, &plan, ui)?;
    }
    if let Some(path) = detail {
        write_detail(&plan, path)?;
    }
    let opts = report::Options {
        format: (*format).into(),
        color: ui.color,
        verbose: *verbose,
        detail: detail.as_ref().map(|p| p.display().to_string()),
    };
    report::render(&plan, &opts, &mut ui.stdout())?;
    if let Some(path) = detail {
        ui.status(format!("Wrote the full detail to {}", path.display()));
    }
    check_strict(&plan, input.strict)?;
    if let Some(path) = out {
        save(&plan, path)?;
        ui.status(format!("Saved the plan to {}", path.display()));
    }
    // Terraform's -detailed-exitcode: 2 when there are changes (errors, including a
    // --strict refusal above, exit 1: see `cli::main`).
    if *detailed_exitcode && plan.has_changes() {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// With `--strict`, refuses a plan that has items needing attention, listing them.
pub fn check_strict(plan: &plan::Plan, strict: bool) -> anyhow::Result<()> {
    let attention = plan.needs_attention();
    if strict && !attention.is_empty() {
        let list: Vec<String> = attention
            .iter()
            .map(|a| format!("  - {}: {}", a.place, a.what))
            .collect();
        anyhow::bail!(
            "--strict: {} item(s) need attention; rewrite them by hand in the legacy repos (or drop --strict to migrate them unchanged):\n{}",
            attention.len(),
            list.join("\n")
        );
    }
    Ok(())
}

fn write_detail(plan: &plan::Plan, path: &Path) -> anyhow::Result<()> {
    let mut text = Vec::new();
    report::render_detail(plan, &mut text)?;
    std::fs::write(path, text)
        .with_context(|| format!("writing the plan's detail to {}", path.display()))
}

fn save(plan: &plan::Plan, path: &Path) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(&report::redacted(plan))?;
    std::fs::write(path, json + "\n")
        .with_context(|| format!("writing the plan to {}", path.display()))
}

/// Says which legacy refs changed since the last completed apply into `out` (which recorded
/// `last`), and what this run does about each (see the README: refs are never deleted from
/// a monorepo).
pub fn report_changes(
    out: &std::path::Path,
    last: Option<&Synced>,
    now: &[inventory::RepoRefs],
    plan: &plan::Plan,
    ui: &Ui,
) -> anyhow::Result<()> {
    let Some(last) = last else {
        return Ok(());
    };
    let changed = inventory::changes(&last.repos, now);
    let steps: Vec<&plan::ImportStep> = plan.monorepos.iter().flat_map(|m| &m.imports).collect();
    ui.status(format!(
        "Since the last apply into {}: {} of {} legacy repos changed",
        out.display(),
        changed.len(),
        now.len()
    ));
    for repo in &changed {
        let step = steps.iter().find(|s| s.repo == repo.repo);
        let image = |name: &str| {
            step.and_then(|s| {
                s.tags
                    .iter()
                    .chain(&s.branches)
                    .find(|r| r.from == name)
                    .map(|r| r.to.clone())
            })
        };
        for change in &repo.changes {
            ui.status(format!("  {}: {}", repo.repo, describe(change, &image)));
        }
    }
    Ok(())
}

/// One line about one legacy ref change; `image` names the monorepo ref of a legacy ref.
fn describe(change: &inventory::RefChange, image: &dyn Fn(&str) -> Option<String>) -> String {
    let short = |id: &str| id.chars().take(12).collect::<String>();
    match change {
        inventory::RefChange::Added { name } => format!(
            "{name} is new: imported as {}",
            image(name).unwrap_or_else(|| "nothing (the mapping does not import it)".into())
        ),
        inventory::RefChange::Deleted { name, was } => format!(
            "{name} was deleted (it was {}): its monorepo ref stays as the last apply left it; tfmono never deletes a ref, delete it by hand if it should go",
            short(was)
        ),
        inventory::RefChange::Moved {
            name,
            from,
            to,
            rewound,
        } => {
            let target = image(name).unwrap_or_else(|| "its monorepo ref".into());
            if *rewound {
                format!(
                    "{name} was rewound or force-pushed ({} is not in the history of {}): {target} moves to the image of the new history; on main a new merge puts the new tree in place, and the commits no longer in the legacy repo stay in main's history",
                    short(from),
                    short(to)
                )
            } else {
                format!(
                    "{name} moved {}..{}: the new commits are imported and {target} follows",
                    short(from),
                    short(to)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_keys_take_the_last_value_of_each_and_ignore_the_rest() {
        let listed = "user.name\nA\0user.email\n a@x \0user.name\n B \0user.nameless\nC\0";
        assert_eq!(identity_keys(listed), (Some("B"), Some("a@x")));
        assert_eq!(identity_keys("user.name\0"), (Some(""), None));
        assert_eq!(identity_keys(""), (None, None));
    }

    /// In a real repo with a local identity (a name set twice), the one `git config` gives
    /// what `git config --get` gives for each key.
    #[test]
    fn git_identity_is_what_git_config_get_gives() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("git runs");
            assert!(out.status.success(), "git {args:?}");
            String::from_utf8(out.stdout).expect("utf-8")
        };
        git(&["init", "-q"]);
        git(&["config", "user.name", "First Name"]);
        git(&["config", "--add", "user.name", " Last Name "]);
        git(&["config", "user.email", "last@example.com"]);
        let id = git_identity(dir).expect("an identity");
        assert_eq!(id.name, git(&["config", "--get", "user.name"]).trim());
        assert_eq!(id.email, git(&["config", "--get", "user.email"]).trim());
        assert_eq!(id.name, "Last Name");
    }
}
