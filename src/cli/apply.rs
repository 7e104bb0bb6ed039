//! `tfmono apply`: prints the plan's summary, records the journal, executes the plan and
//! writes `rollback.sh` and `push.sh` beside the monorepos.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use tfmono::{apply, report, rollback};

use super::plan::{compute, InputArgs};
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
}

/// Runs `tfmono apply`.
pub fn run(args: &ApplyArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let ApplyArgs {
        input,
        out,
        plan: saved,
    } = args;
    let (_mapping, plan) = compute(input, ui)?;
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
            color: false,
            ..Default::default()
        };
        report::render(&plan, &opts, &mut std::io::stderr().lock())?;
    }
    super::plan::check_strict(&plan, input.strict)?;
    rollback::claim_output(out)?;
    let _lock = rollback::lock_output(out)?;
    let mut files = vec!["rollback.sh".to_string(), "push.sh".to_string()];
    for m in &plan.monorepos {
        files.push(apply::commit_map_file(&m.name));
    }
    // the state scripts too, before they are written: verify checks every script listed
    files.extend(apply::state_script_files(&plan));
    let journal = rollback::record(&plan, out, &files)?;
    write_script(out, "rollback.sh", &rollback::rollback_script(&journal))?;
    write_script(out, "push.sh", &rollback::push_script(&journal))?;

    let _guard = gix::interrupt::init_handler_default(1).ok();
    let progress = ui.progress();
    let outcome = apply::run(
        &plan,
        out,
        progress.as_ref(),
        &gix::interrupt::IS_INTERRUPTED,
    )?;
    drop(progress);
    let journal = if outcome.files.is_empty() {
        journal
    } else {
        let journal = rollback::record(&plan, out, &outcome.files)?;
        write_script(out, "rollback.sh", &rollback::rollback_script(&journal))?;
        journal
    };
    // What rollback compares with to find work made in the monorepos after this apply.
    rollback::record_applied(out, &journal)?;
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

fn write_script(out: &std::path::Path, name: &str, body: &str) -> anyhow::Result<()> {
    let path = out.join(name);
    apply::files::write_script(&path, body).with_context(|| format!("writing {}", path.display()))
}
