//! The command line: clap types, the dispatch match, the terminal UI and exit codes.
//!
//! Exit codes: 0 success; 1 the migration found problems (verify mismatches); 2 bad input
//! or an error (an invalid mapping, a missing repo, I/O); `plan --detailed-exitcode` follows
//! Terraform (0 nothing to do, 1 error, 2 changes). Reports and data go to stdout, status
//! lines and progress bars to stderr. Only this module and its children read the environment
//! (`NO_COLOR`, `TFMONO_COLOR`, and git config for the default identity).

mod apply;
mod demo;
mod gen_org;
mod plan;
mod progress;
mod rollback;
mod verify;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Move Terraform code from many small git repos into three monorepos, keeping every commit.
#[derive(Debug, Parser)]
#[command(name = "tfmono", version, about, long_about = None, after_help = MAIN_HELP)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print only errors and the command's data (no progress bars, no status lines).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// When to colour the output (NO_COLOR in the environment means never).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

/// When to use colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The exit codes every command shares (plan --detailed-exitcode differs: see its help).
const EXIT_CODES: &str = "Exit codes:
  0  success
  1  the migration found problems (verify: a mismatch)
  2  bad input or an error (invalid mapping, missing repo, output directory in use, I/O)";

const MAIN_HELP: &str = "Examples:
  tfmono gen-org org                          # a demo org to try things on
  tfmono plan org/mapping.hcl                 # the dry run: everything apply will do
  tfmono apply org/mapping.hcl --out out --monorepos ~/src
  tfmono verify org/mapping.hcl --out out
  tfmono rollback --out out

Output: the report and data on stdout; status lines and progress bars on stderr.

Exit codes:
  0  success
  1  the migration found problems (verify: a mismatch)
  2  bad input or an error (invalid mapping, missing repo, output directory in use, I/O)";

const PLAN_HELP: &str = "Examples:
  tfmono plan mapping.hcl
  tfmono plan mapping.hcl --format markdown > plan.md
  tfmono plan mapping.hcl --states 'states/{repo}.tfstate' --strict
  tfmono plan mapping.hcl --out plan.json     # then: tfmono apply mapping.hcl --plan plan.json

Exit codes:
  0  success (with --detailed-exitcode: nothing to do)
  1  with --detailed-exitcode: an error (bad input, --strict refusal, I/O)
  2  bad input or an error; with --detailed-exitcode: changes present";

const APPLY_HELP: &str = "Examples:
  tfmono apply mapping.hcl --out out --monorepos ~/src   # state scripts expect ~/src/<monorepo>
  tfmono apply mapping.hcl --out out --plan plan.json     # refuse if the inputs changed
  out/state/migrate-all.sh                                # later: move the Terraform state
  out/push.sh                                             # publish the monorepos

Exit codes:
  0  success
  2  bad input or an error (invalid mapping, missing repo, output directory in use, I/O)";

const VERIFY_HELP: &str = "Examples:
  tfmono verify mapping.hcl --out out
  tfmono verify mapping.hcl --out out --format json --full";

const ROLLBACK_HELP: &str = "Examples:
  tfmono rollback --out out
  tfmono rollback --out out --state                       # also undo the state moves
  tfmono rollback --out out --state --monorepos ~/src     # checkouts elsewhere than apply said

Exit codes:
  0  rolled back
  2  refused or failed (no journal, refs moved since the apply without --force, a script failed)";

#[derive(Debug, Subcommand)]
enum Command {
    /// Show everything `apply` would do (a dry run: writes nothing but the report).
    #[command(after_help = PLAN_HELP)]
    Plan(plan::PlanArgs),
    /// Imports every legacy repo into its monorepo under --out, rewrites module sources and
    /// writes the state scripts, rollback.sh and push.sh.
    #[command(after_help = APPLY_HELP)]
    Apply(apply::ApplyArgs),
    /// Proves every legacy commit, branch and tag has an identical image in the monorepos.
    #[command(after_help = format!("{VERIFY_HELP}\n\n{EXIT_CODES}"))]
    Verify(verify::VerifyArgs),
    /// Runs the rollback.sh that apply wrote: every monorepo ref back to its old value.
    #[command(after_help = ROLLBACK_HELP)]
    Rollback(rollback::RollbackArgs),
    /// Builds a small realistic legacy org in a temporary directory and migrates it.
    Demo(demo::DemoArgs),
    /// Writes a generated legacy org (repos, repos.txt, mapping.hcl) for trying or benchmarking.
    GenOrg(gen_org::GenOrgArgs),
}

/// Where output goes: data on stdout, status and progress on stderr.
pub struct Ui {
    /// Whether status lines and progress bars are suppressed.
    pub quiet: bool,
    /// Whether stdout gets colours.
    pub color: bool,
    /// Whether stderr is a terminal (progress bars only then).
    pub stderr_tty: bool,
}

impl Ui {
    fn new(global: &GlobalArgs) -> Ui {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && std::io::stdout().is_terminal(),
        };
        Ui {
            quiet: global.quiet,
            color,
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    /// Prints a status line on stderr (not in quiet mode).
    pub fn status(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{}", crate_redact(&msg.to_string()));
        }
    }

    /// Returns a progress reporter: indicatif bars on a terminal, nothing otherwise.
    pub fn progress(&self) -> Box<dyn tfmono::progress::Progress> {
        if self.quiet || !self.stderr_tty {
            Box::new(tfmono::progress::NoProgress)
        } else {
            Box::new(progress::Bars::new())
        }
    }

    /// Returns stdout, for data.
    pub fn stdout(&self) -> std::io::StdoutLock<'static> {
        std::io::stdout().lock()
    }
}

fn crate_redact(s: &str) -> String {
    tfmono::redact::text(s)
}

/// Runs the parsed command line and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let ui = Ui::new(&cli.global);
    let result = match &cli.command {
        Command::Plan(args) => plan::run(args, &ui),
        Command::Apply(args) => apply::run(args, &ui),
        Command::Verify(args) => verify::run(args, &ui),
        Command::Rollback(args) => rollback::run(args, &ui),
        Command::Demo(args) => demo::run(args, &ui),
        Command::GenOrg(args) => gen_org::run(args, &ui),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let _ = std::io::stdout().flush();
            eprintln!("error: {}", crate_redact(&chain(&err)));
            match &cli.command {
                // Terraform's -detailed-exitcode: 1 is an error, 2 means changes.
                Command::Plan(args) if args.detailed_exitcode => ExitCode::from(1),
                _ => ExitCode::from(2),
            }
        }
    }
}

/// The error and its causes joined by ": ", skipping a cause whose text the message before
/// it already contains (library errors often quote their source).
fn chain(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A digest of every path and file content below `dir`: to prove a command left it alone.
pub fn fingerprint_dir(dir: &std::path::Path) -> anyhow::Result<String> {
    use sha1::{Digest, Sha1};
    fn walk(dir: &std::path::Path, h: &mut Sha1) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for p in entries {
            h.update(p.to_string_lossy().as_bytes());
            if p.is_dir() {
                walk(&p, h)?;
            } else {
                h.update(std::fs::read(&p)?);
            }
        }
        Ok(())
    }
    let mut h = Sha1::new();
    walk(dir, &mut h)?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
