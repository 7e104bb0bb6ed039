//! `tfmono gen-org DIR [--bench]`: writes a realistic legacy org of bare git repos, its
//! `repos.txt` and `mapping.hcl` (for trying tfmono, the tests and the benchmark).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tfmono::orggen;

use super::Ui;

/// Arguments of `tfmono gen-org`.
#[derive(Debug, Args)]
pub struct GenOrgArgs {
    /// Where to write legacy/<name>.git, repos.txt and mapping.hcl (legacy/ must not exist).
    pub dir: PathBuf,
    /// The benchmark corpus: 50 extra repos of 1,000 commits and one of 50,000.
    #[arg(long)]
    pub bench: bool,
    /// With --bench: the number of extra repos.
    #[arg(long, default_value_t = 50, requires = "bench")]
    pub repos: usize,
    /// With --bench: commits per repo.
    #[arg(long, default_value_t = 1000, requires = "bench")]
    pub commits: usize,
    /// With --bench: commits of the one big repo (0: none).
    #[arg(long, default_value_t = 50_000, requires = "bench")]
    pub big: usize,
}

/// Runs `tfmono gen-org`.
pub fn run(args: &GenOrgArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let opts = if args.bench {
        orggen::Options::bench(args.repos, args.commits, args.big)
    } else {
        orggen::Options::demo()
    };
    let org = orggen::generate(&args.dir, &opts)?;
    let commits: usize = org.repos.iter().map(|r| r.commits).sum();
    ui.status(format!(
        "Wrote {} legacy repos ({commits} commits) under {}",
        org.repos.len(),
        org.dir.join("legacy").display()
    ));
    println!("{}", org.mapping.display());
    Ok(ExitCode::SUCCESS)
}
