//! The processes: checkouts of the bare repos into the temporary directory (`git clone
//! --shared`, which only reads the source repo), the tool's version, and one `terraform
//! get` (or `terragrunt get`) run with its side's git and CLI config.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Error;

/// Clones `repo` (a bare or non-bare git directory) into `to` and checks out `rev`
/// detached. The source is only read: `--shared` borrows its objects through
/// `objects/info/alternates` of the new clone.
pub fn checkout(repo: &Path, to: &Path, rev: &str) -> Result<(), Error> {
    git(
        None,
        &[
            "clone".as_ref(),
            "-q".as_ref(),
            "--shared".as_ref(),
            "--no-checkout".as_ref(),
            repo.as_os_str(),
            to.as_os_str(),
        ],
    )?;
    git(
        Some(to),
        &[
            "checkout".as_ref(),
            "-q".as_ref(),
            "--detach".as_ref(),
            rev.as_ref(),
        ],
    )
}

fn git(dir: Option<&Path>, args: &[&std::ffi::OsStr]) -> Result<(), Error> {
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        // No hooks of a template directory run in the temporary clones.
        .env("GIT_TEMPLATE_DIR", "");
    let out = cmd.output().map_err(|e| Error::Git {
        command: display(args),
        message: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(Error::Git {
            command: display(args),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

fn display(args: &[&std::ffi::OsStr]) -> String {
    let args: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
    format!("git {}", args.join(" "))
}

/// Returns the first line of `<tool> version` (`Terraform v1.0.3`), proving it runs.
pub fn version(tool: &Path) -> Result<String, Error> {
    let out = Command::new(tool)
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .map_err(|e| Error::Tool {
            tool: tool.to_path_buf(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(Error::Tool {
            tool: tool.to_path_buf(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string())
}

/// One run's inputs.
pub struct Get<'a> {
    /// `terraform` or `tofu`.
    pub terraform: &'a Path,
    /// Set for a Terragrunt unit: the `terragrunt` binary.
    pub terragrunt: Option<&'a Path>,
    /// The directory to run in.
    pub dir: &'a Path,
    /// The side's git config (`GIT_CONFIG_GLOBAL`).
    pub gitconfig: &'a Path,
    /// The run's Terraform CLI config (`TF_CLI_CONFIG_FILE`).
    pub cliconfig: &'a Path,
}

/// Runs `terraform get` (or `terragrunt get`) in `get.dir`; returns the directory holding
/// the `.terraform` it wrote, or the combined output on failure.
pub fn get(get: &Get) -> Result<PathBuf, String> {
    let mut cmd = match get.terragrunt {
        Some(tg) => {
            let mut c = Command::new(tg);
            // Old and new spellings (Terragrunt renamed its variables in 0.73).
            c.env("TERRAGRUNT_TFPATH", get.terraform)
                .env("TG_TF_PATH", get.terraform)
                .env("TERRAGRUNT_NON_INTERACTIVE", "true")
                .env("TG_NON_INTERACTIVE", "true")
                .env("TERRAGRUNT_AUTO_INIT", "false")
                .env("TG_NO_AUTO_INIT", "true");
            c
        }
        None => Command::new(get.terraform),
    };
    let out = cmd
        .args(["get", "-no-color"])
        .current_dir(get.dir)
        .env("GIT_CONFIG_GLOBAL", get.gitconfig)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("TF_CLI_CONFIG_FILE", get.cliconfig)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_REGISTRY_DISCOVERY_RETRY", "0")
        .env_remove("TF_DATA_DIR")
        .env_remove("TF_CLI_ARGS")
        .env_remove("TF_CLI_ARGS_get")
        .env_remove("TF_CLI_CONFIG_FILE_OVERRIDE")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", get.dir.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    match get.terragrunt {
        None => Ok(get.dir.to_path_buf()),
        Some(_) => terragrunt_workdir(&get.dir.join(".terragrunt-cache")).ok_or_else(|| {
            format!(
                "terragrunt get succeeded but wrote no .terraform/modules/modules.json under {}",
                get.dir.join(".terragrunt-cache").display()
            )
        }),
    }
}

/// The directory under `.terragrunt-cache` where Terragrunt ran Terraform (the one holding
/// `.terraform/modules/modules.json`).
fn terragrunt_workdir(cache: &Path) -> Option<PathBuf> {
    if cache.join(".terraform/modules/modules.json").is_file() {
        return Some(cache.to_path_buf());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && !p.ends_with(".terraform"))
        .collect();
    entries.sort();
    entries.into_iter().find_map(|p| terragrunt_workdir(&p))
}
