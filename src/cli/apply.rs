//! `tfmono apply`: prints the plan's summary and runs [`tfmono::apply::run`], which records
//! the journal, writes `rollback.sh` and `push.sh` and executes the plan. A re-run whose
//! inputs did not change stops early ("Up to date"); otherwise it first says which legacy
//! refs changed since the last apply.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use tfmono::history::preload::Store as Preload;
use tfmono::{apply, inventory, outdir, plan, report};

use super::plan::{compute_with_refs, InputArgs};
use super::Ui;

/// Arguments of `tfmono apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The output directory: one bare repo per monorepo, the commit maps, the scripts.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A plan saved by `plan --out`; refused if the mapping or the legacy repos changed since.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Run every step even when the output directory already holds what these inputs make
    /// (by default a re-run whose mapping and legacy refs did not change since the last
    /// completed apply stops after reading the refs), and scan every tag again instead of
    /// reusing the last apply's tag scans whose inputs did not change.
    #[arg(long)]
    pub full: bool,
    /// Where checkouts of the monorepos will be (`DIR/<monorepo>`): its absolute path is the
    /// default of `MONOREPOS` in the state scripts (without it, set `MONOREPOS` when running
    /// them or pass `tfmono rollback --state --monorepos DIR`).
    #[arg(long, value_name = "DIR")]
    pub monorepos: Option<PathBuf>,
}

/// Runs `tfmono apply`.
pub fn run(args: &ApplyArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let ApplyArgs {
        input,
        out,
        plan: saved,
        full,
        monorepos,
    } = args;
    // Ctrl-C from the start: during the reading and planning it is noted, and the run
    // stops with its "interrupted" message before the first monorepo (a second one stops
    // it at once). Installed only before the import, a Ctrl-C while planning killed the run
    // without a word.
    let _guard = gix::interrupt::init_handler_default(1).ok();
    let mut refs_read = None;
    if !full && saved.is_none() {
        match up_to_date(input, out, monorepos.as_deref())? {
            Check::UpToDate(message) => {
                ui.status(message);
                return Ok(ExitCode::SUCCESS);
            }
            Check::Stale(read) => refs_read = read.map(|r| *r),
        }
    }
    // One preload for the scan and the import: each repo's commits are inflated once, and
    // released after its import.
    let preload = Preload::default();
    let computed = compute_with_refs(input, ui, Some(out), !full, &preload, refs_read)?;
    let (plan, legacy_refs) = (computed.plan, computed.refs);
    super::plan::report_changes(out, computed.last.as_ref(), &legacy_refs, &plan, ui)?;
    let trace = std::env::var_os("TFMONO_TRACE").is_some();
    if trace {
        eprintln!(
            "[trace] tag scans: {} of {} repos with tags reused from the last apply",
            plan.scans.reused.len(),
            plan.scans.repos.len()
        );
    }
    if let Some(saved) = saved {
        let text = std::fs::read_to_string(saved)
            .with_context(|| format!("reading the saved plan {}", saved.display()))?;
        let old: tfmono::plan::Plan = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a plan saved by `tfmono plan --out`",
                saved.display()
            )
        })?;
        if old.fingerprint != plan.fingerprint {
            bail!(
                "the saved plan {} no longer matches its inputs (fingerprint {} then, {} now): the mapping or a legacy repo changed since; run `tfmono plan --out` again and review it",
                saved.display(),
                &old.fingerprint[..12.min(old.fingerprint.len())],
                &plan.fingerprint[..12]
            );
        }
    }
    if !ui.quiet {
        let opts = report::Options {
            format: report::Format::Text,
            color: ui.color,
            ..Default::default()
        };
        report::render(&plan, &opts, &mut ui.stdout())?;
    }
    super::plan::check_strict(&plan, input.strict)?;

    let progress = ui.progress();
    let opts = apply::Options {
        monorepos_dir: monorepos
            .as_deref()
            .map(std::path::absolute)
            .transpose()
            .context("making --monorepos absolute")?,
        trace,
        // New commits per pack of imports (tests make it small to exercise the batches).
        batch_commits: std::env::var("TFMONO_BATCH_COMMITS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        // Bytes of pending objects written early (tests make it small to exercise it).
        overlay_bytes: std::env::var("TFMONO_OVERLAY_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    };
    let ctx = apply::Context {
        preload: &preload,
        progress: progress.as_ref(),
        should_interrupt: &gix::interrupt::IS_INTERRUPTED,
    };
    // The whole crash-safe sequence: claim, lock, journal, scripts, import, records. The
    // records of the legacy repos read are made ready meanwhile, on a thread of their own.
    let (outcome, records) = std::thread::scope(|s| {
        let records = s.spawn(|| {
            computed
                .read
                .iter()
                .map(|r| outdir::prepare_repo(&r.repo.name, r))
                .collect::<Vec<_>>()
        });
        let outcome = apply::run(&plan, &legacy_refs, out, &opts, &ctx);
        (
            outcome,
            records.join().expect("serialising records does not panic"),
        )
    });
    let outcome = outcome?;
    drop(progress);
    // How this run read the repos it read: the next run takes them as they are while their
    // refs do not move (each record says the refs and inputs it holds for).
    let started = std::time::Instant::now();
    for record in &records {
        outdir::record_prepared_repo(out, record)?;
    }
    if trace {
        eprintln!(
            "[trace] records of {} legacy repos: {:?}",
            computed.read.len(),
            started.elapsed()
        );
    }
    for m in &outcome.monorepos {
        ui.status(format!(
            "{}: {} commits written, {} reused, {} refs updated",
            m.name,
            m.commits_written,
            m.commits_reused,
            m.ref_updates.len()
        ));
    }
    ui.status(format!(
        "Done. Monorepos in {}; undo with {}/rollback.sh; publish with {}/push.sh",
        out.display(),
        out.display(),
        out.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// What [`up_to_date`] found.
enum Check {
    /// Nothing to do: the message says why.
    UpToDate(String),
    /// Something changed; the mapping and legacy refs it read, if it got that far (the run
    /// reuses them).
    Stale(Option<Box<super::plan::ReadAlready>>),
}

/// [`Check::UpToDate`] when `out` already holds what applying these inputs makes: the mapping
/// and every legacy repo's refs are those of the last completed apply (their fingerprint is
/// the one it recorded), and every monorepo ref and file it wrote is as it left them. Only
/// ref files are read, no object: milliseconds where a full run re-reads every repo. Any
/// doubt (no record, `--states`, an input that does not load) means `None`: the full run
/// decides, and reports problems as usual.
fn up_to_date(
    input: &InputArgs,
    out: &std::path::Path,
    monorepos: Option<&std::path::Path>,
) -> anyhow::Result<Check> {
    if input.states.is_some() || !outdir::is_ours(out) {
        return Ok(Check::Stale(None));
    }
    let started = std::time::Instant::now();
    let trace = super::plan::Trace::from_env();
    let Ok(mapping) = super::plan::load_mapping(&input.mapping, input.repos.as_deref()) else {
        return Ok(Check::Stale(None));
    };
    trace.mark("up to date? mapping loaded");
    let opts = inventory::Options {
        cache_dir: input.cache.clone(),
        fetch: input.fetch,
    };
    let _lock = outdir::lock_output(out)?;
    // What the last completed apply recorded (read once for the whole run), and the stamps
    // of the legacy ref files as the last run that read them found them: a repo whose files
    // still stamp the same has the refs recorded then, its files are not read.
    let last = outdir::last_synced::<inventory::RepoRefs>(out)?;
    let stamped: Vec<inventory::StampedRefs> = outdir::last_stamps(out)?.unwrap_or_default();
    trace.mark("up to date? records read");
    let known = last.as_ref().map_or(&[][..], |l| l.repos.as_slice());
    let Ok((refs, stamps)) = inventory::refs_stamped(&mapping, &opts, known, &stamped) else {
        return Ok(Check::Stale(None));
    };
    trace.mark("up to date? legacy refs read");
    if stamps != stamped {
        outdir::record_stamps(out, &stamps)?;
        trace.mark("up to date? stamps recorded");
    }
    let identity = mapping.identity.clone().unwrap_or_default();
    let fingerprint = plan::inputs_fingerprint(&mapping.text, &identity, &refs);
    let key = outdir::run_key(&fingerprint, monorepos)?;
    let synced = outdir::is_synced_as(out, last.as_ref(), &fingerprint, &key)?;
    trace.mark("up to date? records compared");
    if !synced {
        return Ok(Check::Stale(Some(Box::new(super::plan::ReadAlready {
            mapping,
            refs,
            last,
        }))));
    }
    let count: usize = refs.iter().map(|r| r.refs.len()).sum();
    Ok(Check::UpToDate(format!(
        "Up to date: the mapping and the {} refs of the {} legacy repos are those of the last apply into {}, and its monorepos are as it left them (checked in {} ms); nothing to do. `--full` runs every step again.",
        count,
        refs.len(),
        out.display(),
        started.elapsed().as_millis()
    )))
}
