//! Writes the state scripts: `DIR/state/<root>/migrate.sh` and `rollback.sh` per root, and
//! `DIR/state/migrate-all.sh` / `rollback-all.sh` running them in dependency order.
//!
//! Per-root scripts run from the root's directory (a checkout of its monorepo at the root's
//! path, after `terraform init`). Environment: `TF` (default `terraform`), `DRY_RUN=1`
//! (show the moves with `state mv -dry-run`, change nothing), `MONOREPOS` (where the monorepo
//! checkouts are; default: [`ScriptOptions::monorepos_dir`], else derived from the current
//! directory), `STATE_WORK` (backups go to `$STATE_WORK/<root>`; default: the script's
//! directory), `BACKEND_KEY_ATTR` (the backend attribute holding the key for `backend { mode
//! = "copy" }`; default `key`), `TMPDIR`. Every script lists them at its top. Pulled state
//! copies live in a private `mktemp -d` directory removed on exit; backups are made under
//! `umask 077` (mode 0600). A missing root directory stops a script before any change
//! (exit 2), naming `MONOREPOS` and `--monorepos`.
//!
//! Before anything changes, a preflight checks every move against one `state list` per state
//! involved (simulating the moves before it): each must be already done (`to` there, `from`
//! not) or runnable (`from` there, `to` free). `migrate.sh` otherwise prints every offending
//! move (`migrate.sh: cannot move 'X' -> 'Y': …; nothing was changed. …`) and exits 1 before
//! its backup and before any `state mv`; `rollback.sh` only stops when both ends of a move are
//! there (a move with neither is "nothing to undo"). `PREFLIGHT_ONLY=1` runs only the
//! preflight; `migrate-all.sh` / `rollback-all.sh` preflight every root (passing the
//! simulated lists on in `PREFLIGHT_DIR`) before running any. `state mv` gets addresses in
//! HCL form ([`Address::to_hcl`]), `state list` lines are matched in their printed form
//! (`Display`).
//!
//! Every move is skipped when already done (`state list` shows `to` and not `from`), so the
//! scripts can be re-run after a failure. Cross-state moves pull both states, move between
//! the local copies, check that neither remote changed since (lineage and serial), then push
//! the destination first and the source second.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use super::address::{Address, Kind};
use super::plan::{PlannedMove, RootPlan, StatePlan};
use crate::shell::quote;

/// Options for [`write()`].
#[derive(Debug, Clone)]
pub struct ScriptOptions {
    /// Where checkouts of the monorepos are (`<dir>/<root>` is a root), absolute: the
    /// default of `MONOREPOS` in every script. `None`: the `*-all.sh` scripts need
    /// `MONOREPOS`, a root's script without it runs in the current directory.
    pub monorepos_dir: Option<PathBuf>,
    /// `-lock-timeout` for `terraform state mv` (`60s`).
    pub lock_timeout: String,
}

impl Default for ScriptOptions {
    fn default() -> Self {
        ScriptOptions {
            monorepos_dir: None,
            lock_timeout: "60s".into(),
        }
    }
}

/// Writes the scripts of every root that has script work into `out_dir` (`DIR/state`) and
/// returns the files written (executable).
pub fn write(
    plan: &StatePlan,
    out_dir: &Path,
    opts: &ScriptOptions,
) -> Result<Vec<PathBuf>, io::Error> {
    let mut written = Vec::new();
    let roots: Vec<&RootPlan> = plan.roots.iter().filter(|r| r.needs_script()).collect();
    for r in &roots {
        let dir = out_dir.join(&r.root);
        std::fs::create_dir_all(&dir)?;
        for (name, text) in [
            ("migrate.sh", migrate_script(r, opts)),
            ("rollback.sh", rollback_script(r, opts)),
        ] {
            let path = dir.join(name);
            // the one atomic writer, which ends scripts with the marker `verify` looks for
            crate::outdir::write_script(&path, &text)?;
            written.push(path);
        }
    }
    std::fs::create_dir_all(out_dir)?;
    for (name, text) in [
        ("migrate-all.sh", all_script(&roots, opts, false)),
        ("rollback-all.sh", all_script(&roots, opts, true)),
    ] {
        let path = out_dir.join(name);
        crate::outdir::write_script(&path, &text)?;
        written.push(path);
    }
    Ok(written)
}

/// The files [`write()`] writes for `plan`, relative to its `out_dir`, `/`-separated.
pub fn files(plan: &StatePlan) -> Vec<String> {
    let mut files = Vec::new();
    for r in plan.roots.iter().filter(|r| r.needs_script()) {
        files.push(format!("{}/migrate.sh", r.root));
        files.push(format!("{}/rollback.sh", r.root));
    }
    files.push("migrate-all.sh".into());
    files.push("rollback-all.sh".into());
    files
}

fn all_script(roots: &[&RootPlan], opts: &ScriptOptions, rollback: bool) -> String {
    let (script, what, order) = if rollback {
        (
            "rollback.sh",
            "undoes every root's state moves, in reverse dependency order",
            "reverse dependency order",
        )
    } else {
        (
            "migrate.sh",
            "runs every root's state moves, sources of cross-state moves first",
            "dependency order",
        )
    };
    let mut s = format!(
        "#!/usr/bin/env bash\n\
         # Generated by tfmono: {what}.\n\
         # Each root's {script} runs in \"$MONOREPOS/<root>\" (after `terraform init` there).\n\
         #\n\
         # Environment:\n\
         #   MONOREPOS  directory holding the monorepo checkouts (<monorepo>/<path>);\n\
         #              default: {doc}\n\
         #   TF, DRY_RUN, STATE_WORK, BACKEND_KEY_ATTR, TMPDIR: passed on to each {script}\n\
         #   (see the top of one).\n\
         set -euo pipefail\n\
         HERE=\"$(cd \"$(dirname \"${{BASH_SOURCE[0]}}\")\" && pwd)\"\n\
         if [ -z \"${{MONOREPOS:-}}\" ]; then\n  MONOREPOS={default}\nfi\n\
         if [ -z \"$MONOREPOS\" ]; then\n  \
           echo \"tfmono: MONOREPOS is not set: set MONOREPOS=DIR to the directory holding the monorepo checkouts (DIR/<monorepo>), or pass --monorepos DIR to tfmono apply or tfmono rollback; nothing was changed\" >&2\n  \
           exit 2\n\
         fi\n\
         export MONOREPOS\n\
         export TF=\"${{TF:-terraform}}\"\n\
         missing=\"\"\n\
         for root in {roots}; do\n  \
           if [ ! -d \"$MONOREPOS/$root\" ]; then\n    missing+=\"  $MONOREPOS/$root\"$'\\n'\n  fi\n\
         done\n\
         if [ -n \"$missing\" ]; then\n  \
           printf 'tfmono: root directories missing (MONOREPOS=%s); nothing was changed. Check the monorepos out there, or set MONOREPOS=DIR (or pass --monorepos DIR to tfmono apply or tfmono rollback):\\n%s' \"$MONOREPOS\" \"$missing\" >&2\n  \
           exit 2\n\
         fi\n\
         \n\
         run() {{\n  echo \"== $1\"\n  (cd \"$MONOREPOS/$1\" && \"$HERE/$1/{script}\")\n}}\n\
         \n\
         # preflight of every root first (each sees the moves of the roots before it), so a\n\
         # missing address stops everything before any state changes\n\
         PREFLIGHT_DIR=\"$(mktemp -d)\"\n\
         trap 'rm -rf \"$PREFLIGHT_DIR\"' EXIT\n\
         bad=0\n\
         preflight() {{\n  echo \"== preflight $1\"\n  (cd \"$MONOREPOS/$1\" && PREFLIGHT_ONLY=1 PREFLIGHT_DIR=\"$PREFLIGHT_DIR\" \"$HERE/$1/{script}\") || bad=1\n}}\n",
        doc = match &opts.monorepos_dir {
            Some(d) => comment(&d.display().to_string()),
            None => "none (apply had no --monorepos): set it".into(),
        },
        default = match &opts.monorepos_dir {
            Some(d) => quote(&d.display().to_string()),
            None => "\"\"".into(),
        },
        roots = all_roots(roots, rollback),
    );
    let list: Vec<&&RootPlan> = if rollback {
        roots.iter().rev().collect()
    } else {
        roots.iter().collect()
    };
    for r in &list {
        let _ = writeln!(s, "preflight {}", quote(&r.root));
    }
    let _ = write!(
        s,
        "if [ \"$bad\" != 0 ]; then\n  echo \"tfmono: the preflight found moves that cannot run (see above); nothing was changed\" >&2\n  exit 1\nfi\n\n# {order}\n"
    );
    for r in &list {
        let _ = writeln!(s, "run {}", quote(&r.root));
    }
    let _ = writeln!(
        s,
        "echo \"tfmono: {} state {} done\"",
        roots.len(),
        if rollback { "rollbacks" } else { "migrations" }
    );
    s
}

/// Every root the `*-all.sh` scripts need (theirs in script order, then the sources of
/// cross-state moves), quoted for a `for` list.
fn all_roots(roots: &[&RootPlan], rollback: bool) -> String {
    let mut all: Vec<&str> = roots.iter().map(|r| r.root.as_str()).collect();
    if rollback {
        all.reverse();
    }
    all.extend(
        roots
            .iter()
            .flat_map(|r| r.moves.iter().filter_map(|m| m.from_state.as_deref())),
    );
    let mut seen = std::collections::BTreeSet::new();
    all.retain(|r| seen.insert(*r));
    if all.is_empty() {
        return "''".into();
    }
    all.iter().map(|r| quote(r)).collect::<Vec<_>>().join(" ")
}

/// The `has` kind of `a` (moved to or from `other`): `m` module (lines under `a.`),
/// `r` resource (line `a` or `a[…]`), `i` one instance (exact line). A resource moved to or
/// from one of its own instances is matched exactly, so `aws_x.y` → `aws_x.y[0]` is
/// recognised as done.
fn kind_flag(a: &Address, other: &Address) -> &'static str {
    match a.kind() {
        Kind::Module => "m",
        Kind::Instance => "i",
        // `a` has no key: it covers `other` exactly when `other` is `a` or one of its instances.
        Kind::Resource if super::snapshot::covers(a, other) => "i",
        Kind::Resource => "r",
    }
}

fn header(r: &RootPlan, opts: &ScriptOptions, title: &str, script: &str, strict: bool) -> String {
    let depth = r.root.split('/').count();
    let up = vec![".."; depth].join("/");
    let mut s = format!(
        "#!/usr/bin/env bash\n\
         # Generated by tfmono: {title} for {root}.\n\
         # It runs in the root's directory, \"$MONOREPOS\"/{qroot}, after `terraform init` there\n\
         # (without MONOREPOS: in the current directory). Re-running is safe: steps already\n\
         # done are skipped.\n\
         #\n\
         # Environment (all optional):\n\
         #   MONOREPOS         directory holding the monorepo checkouts (<monorepo>/<path>);\n\
         #                     default: {monorepos_doc}\n\
         #   TF                the terraform binary (default: terraform)\n\
         #   DRY_RUN=1         show the moves (state mv -dry-run), change nothing\n\
         #   PREFLIGHT_ONLY=1  only check that every move can run, change nothing\n\
         #   STATE_WORK        backups go to $STATE_WORK/<root> (default: this script's directory)\n\
         #   BACKEND_KEY_ATTR  the backend attribute holding the key (default: key)\n\
         #   TMPDIR            where pulled state copies live while the script runs (a private\n\
         #                     directory, removed on exit)\n\
         #   PREFLIGHT_DIR     set by migrate-all.sh / rollback-all.sh (not for direct use)\n\
         # Backups (backup-<time>.tfstate, before-rollback-<time>.tfstate) are mode 0600.\n\
         # Terraform addresses are single-quoted on purpose: a `${{` in them is Terraform's.\n\
         # shellcheck disable=SC2016\n\
         set -euo pipefail\n\
         TF=\"${{TF:-terraform}}\"\n\
         DRY_RUN=\"${{DRY_RUN:-0}}\"\n\
         SCRIPT={script}\n\
         ROOT_LABEL={qroot}\n\
         HERE=\"$(cd \"$(dirname \"${{BASH_SOURCE[0]}}\")\" && pwd)\"\n\
         if [ -n \"${{STATE_WORK:-}}\" ]; then\n  WORK=\"$STATE_WORK\"/{qroot}\nelse\n  WORK=\"$HERE\"\nfi\n\
         (umask 077 && mkdir -p \"$WORK\")\n\
         WORK=\"$(cd \"$WORK\" && pwd)\"\n\
         MONOREPOS=\"${{MONOREPOS:-}}\"{default_monorepos}\n\
         if [ -n \"$MONOREPOS\" ]; then\n  \
           if [ ! -d \"$MONOREPOS\"/{qroot} ]; then\n    \
             echo \"$SCRIPT: the root directory $MONOREPOS/$ROOT_LABEL is missing; nothing was changed. Check the monorepos out under MONOREPOS, or set MONOREPOS=DIR (tfmono apply --monorepos DIR records it)\" >&2\n    \
             exit 2\n  \
           fi\n  \
           cd \"$MONOREPOS\"/{qroot}\n\
         else\n  \
           MONOREPOS=\"$(cd {up} && pwd)\"\n\
         fi\n\
         ROOT_DIR=\"$(pwd)\"\n\
         TMP=\"$(mktemp -d \"${{TMPDIR:-/tmp}}/tfmono-state.XXXXXX\")\"\n\
         trap 'rm -rf \"$TMP\"' EXIT\n\
         TS=\"$(date -u +%Y%m%dT%H%M%SZ)-$$\"\n\
         LOCK={lock}\n\
         KEY_ATTR=\"${{BACKEND_KEY_ATTR:-key}}\"\n\
         STRICT={strict}\n\
         SELF_LIST={self_list}\n\
         # shellcheck disable=SC2034 # PF_NOTE is read by migrate.sh's exit trap only\n\
         PF_NOTE='nothing was changed'\n\
         STAGE=start\n",
        self_list = quote(&list_name(&r.root)),
        root = comment(&r.root),
        qroot = quote(&r.root),
        lock = quote(&format!("-lock-timeout={}", opts.lock_timeout)),
        strict = u8::from(strict),
        monorepos_doc = match &opts.monorepos_dir {
            Some(d) => comment(&d.display().to_string()),
            None => "derived from the current directory".into(),
        },
        default_monorepos = match &opts.monorepos_dir {
            Some(d) => format!(
                "\nif [ -z \"$MONOREPOS\" ]; then\n  MONOREPOS={}\nfi",
                quote(&d.display().to_string())
            ),
            None => String::new(),
        },
    );
    s.push_str(HELPERS);
    // Every other root a cross-state move reads must be there too, before anything runs.
    let mut others: Vec<&str> = r
        .moves
        .iter()
        .filter_map(|m| m.from_state.as_deref())
        .collect();
    others.sort_unstable();
    others.dedup();
    for o in others {
        let _ = writeln!(s, "need_root {}", quote(o));
    }
    s
}

/// The bash functions every per-root script defines after its header: `has`, `state_id`,
/// `need_root`, `mv_local`, `mv_cross`, the preflight (`pf_*`) and `copy_key`. They live in
/// `helpers.sh` so they read, and are checked (`bash -n`, shellcheck), as shell.
const HELPERS: &str = include_str!("helpers.sh");

fn move_comment(m: &PlannedMove) -> String {
    let count = match m.instances {
        Some(1) => " (1 instance)".to_string(),
        Some(n) => format!(" ({n} instances)"),
        None => " (unchecked)".to_string(),
    };
    match &m.from_state {
        Some(src) => format!(
            "# move #{}: {} in {} -> {}{count}\n",
            m.number,
            m.from,
            comment(src),
            m.to
        ),
        None => format!("# move #{}: {} -> {}{count}\n", m.number, m.from, m.to),
    }
}

/// The preflight's file for the `state list` of `root`.
fn list_name(root: &str) -> String {
    format!("{}.list", root.replace('/', "__"))
}

/// The optional `FROM_ARG TO_ARG` of `mv_local` / `mv_cross` (empty when the `state mv`
/// forms equal the `state list` forms).
fn cli_args(from: &Address, to: &Address) -> String {
    let (fa, ta) = (from.to_hcl(), to.to_hcl());
    if from.to_string() == fa && to.to_string() == ta {
        String::new()
    } else {
        format!(" {} {}", quote(&fa), quote(&ta))
    }
}

/// One `pf_move` line: FROM (in `src`, `None` = this root) to TO in `dst` (`None` = this
/// root).
fn pf_line(
    src: Option<&str>,
    dst: Option<&str>,
    root: &str,
    from: &Address,
    to: &Address,
    name: &str,
) -> String {
    let side = |other: Option<&str>| match other {
        None => format!("\"$SELF_LIST\" \"$ROOT_DIR\" {}", quote(root)),
        Some(o) => format!("{} {} {}", quote(&list_name(o)), src_dir(o), quote(o)),
    };
    format!(
        "pf_move {} {} {} {} {} {}\n",
        side(src),
        side(dst),
        quote(&from.to_string()),
        quote(&to.to_string()),
        format_args!("{} {}", kind_flag(from, to), kind_flag(to, from)),
        quote(name)
    )
}

/// Text safe inside a `#` comment (one line).
fn comment(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

fn src_dir(src: &str) -> String {
    format!("\"$MONOREPOS\"/{}", quote(src))
}

fn migrate_script(r: &RootPlan, opts: &ScriptOptions) -> String {
    let mut s = header(r, opts, "state migration", "migrate.sh", true);
    s.push_str("\n# shellcheck disable=SC2154 # rc is assigned first thing in the trap\ntrap 'rc=$?; rm -rf \"$TMP\"; if [ $rc -ne 0 ]; then if [ \"$STAGE\" = preflight ]; then echo \"migration stopped by the preflight (exit $rc): $PF_NOTE\" >&2; else echo \"migration stopped (exit $rc); moves already done stay done: re-run this script after fixing the cause, or undo them with rollback.sh\" >&2; fi; fi' EXIT\n\n");
    let _ = writeln!(
        s,
        "echo {} \"in $ROOT_DIR\"",
        quote(&format!("tfmono: state migration of {}", r.root))
    );
    if let Some(k) = r.backend_copy() {
        let _ = write!(
            s,
            "\n# backend key changes (mode copy): {} -> {}\n# {}:{}: {}\n# the preflight needs the copied state, so it runs after the copy\nif [ \"${{PREFLIGHT_ONLY:-0}}\" = 1 ]; then\n  echo \"preflight of $ROOT_LABEL: deferred until its backend copy ran\"\n  exit 0\nfi\nSTAGE=copy\ncopy_key {} {} backend-copy\nPF_NOTE='no move was made (the state was only copied to the new backend key; the old key is untouched)'\n",
            comment(&k.old_key),
            comment(&k.new_key),
            comment(&k.file),
            k.line,
            comment(&k.how),
            quote(&k.old_key),
            quote(&k.new_key)
        );
    } else if let Some(k) = &r.key_change {
        let _ = writeln!(
            s,
            "\n# backend key {} is pinned in {} (line {}); nothing to copy",
            comment(&k.old_key),
            comment(&k.file),
            k.line
        );
    }
    s.push_str("\n# preflight: nothing changes unless every move can run or is already done\nSTAGE=preflight\npf_begin\n");
    for m in r.script_moves() {
        let name = format!("move #{}", m.number);
        let src = m.from_state.as_deref();
        s.push_str(&pf_line(src, None, &r.root, &m.from, &m.to, &name));
    }
    s.push_str("pf_end\n");
    s.push_str("\nif [ \"$DRY_RUN\" != 1 ]; then\n  (umask 077 && \"$TF\" state pull >\"$WORK/backup-$TS.tfstate\")\n  echo \"backup: $WORK/backup-$TS.tfstate\"\nfi\n");
    for m in r.script_moves() {
        s.push('\n');
        s.push_str(&move_comment(m));
        s.push_str(&move_line(m, false));
    }
    let _ = writeln!(
        s,
        "\nif [ \"$DRY_RUN\" = 1 ]; then\n  echo {}\nelse\n  echo {}\nfi",
        quote(&format!("dry run of {} done: nothing was changed", r.root)),
        quote(&format!("state migration of {} done", r.root))
    );
    s
}

/// The `mv_local` / `mv_cross` line of move `m`, or of its exact reverse (`undo`): the
/// addresses, their kinds and, across states, the two root directories swap.
fn move_line(m: &PlannedMove, undo: bool) -> String {
    let (from, to) = if undo {
        (&m.to, &m.from)
    } else {
        (&m.from, &m.to)
    };
    let (kf, kt) = (kind_flag(from, to), kind_flag(to, from));
    let name = if undo {
        format!("undo-move-{}", m.number)
    } else {
        format!("move-{}", m.number)
    };
    let extra = cli_args(from, to);
    let (from_q, to_q) = (quote(&from.to_string()), quote(&to.to_string()));
    match (&m.from_state, undo) {
        (None, _) => format!("mv_local {from_q} {to_q} {kf} {kt} {name}{extra}\n"),
        (Some(src), false) => format!(
            "mv_cross {} \"$ROOT_DIR\" {from_q} {to_q} {kf} {kt} {name}{extra}\n",
            src_dir(src)
        ),
        (Some(src), true) => format!(
            "mv_cross \"$ROOT_DIR\" {} {from_q} {to_q} {kf} {kt} {name}{extra}\n",
            src_dir(src)
        ),
    }
}

fn rollback_script(r: &RootPlan, opts: &ScriptOptions) -> String {
    let mut s = header(
        r,
        opts,
        "state rollback (the exact reverse of migrate.sh)",
        "rollback.sh",
        false,
    );
    s.push_str(
        "\n# LAST RESORT, only if the states are damaged beyond what this script undoes: push the\n\
         # backup migrate.sh saved before its first move. It overwrites the remote state,\n\
         # including anything applied since, so this script never runs it, it only prints it:\n\
         #   \"$TF\" state push -force \"$WORK\"/backup-<timestamp>.tfstate\n\
         last_resort() {\n  local latest\n  # shellcheck disable=SC2012 # migrate.sh names backups backup-<UTC time>-<pid>.tfstate\n  latest=\"$(ls -1t \"$WORK\"/backup-*.tfstate 2>/dev/null | head -n 1 || true)\"\n  if [ -n \"$latest\" ]; then\n    echo \"last resort (overwrites the remote state; not run): (cd '$ROOT_DIR' && $TF state push -force '$latest')\" >&2\n  fi\n}\n\
         # shellcheck disable=SC2154 # rc is assigned first thing in the trap\n\
         trap 'rc=$?; rm -rf \"$TMP\"; if [ $rc -ne 0 ]; then if [ \"$STAGE\" = preflight ]; then echo \"rollback stopped by the preflight (exit $rc): nothing was changed\" >&2; else echo \"rollback stopped (exit $rc); fix the cause and re-run it\" >&2; last_resort; fi; fi' EXIT\n\n",
    );
    let _ = writeln!(
        s,
        "echo {} \"in $ROOT_DIR\"",
        quote(&format!("tfmono: state rollback of {}", r.root))
    );
    if let Some(k) = r.backend_copy() {
        let _ = writeln!(
            s,
            "\n# undo the moves on the new backend key first (the preflight needs it too)\nif [ \"${{PREFLIGHT_ONLY:-0}}\" = 1 ]; then\n  echo \"preflight of $ROOT_LABEL: deferred until its backend is on the new key\"\n  exit 0\nfi\nif [ \"$DRY_RUN\" != 1 ]; then\n  \"$TF\" init -input=false -reconfigure -backend-config=\"$KEY_ATTR=\"{} >/dev/null\nfi",
            quote(&k.new_key)
        );
    }
    let moves: Vec<&PlannedMove> = r.script_moves().collect();
    s.push_str("\n# preflight: a move whose both ends are in the state stops the rollback before any\n# change; moves with neither end there are skipped (\"nothing to undo\")\nSTAGE=preflight\npf_begin\n");
    for m in moves.iter().rev() {
        let name = format!("undo of move #{}", m.number);
        let dst = m.from_state.as_deref();
        s.push_str(&pf_line(None, dst, &r.root, &m.to, &m.from, &name));
    }
    s.push_str("pf_end\n");
    s.push_str("\n(umask 077 && \"$TF\" state pull >\"$WORK/before-rollback-$TS.tfstate\")\n");
    for m in moves.into_iter().rev() {
        s.push('\n');
        s.push_str(&format!(
            "# undo {}",
            move_comment(m).trim_start_matches("# ")
        ));
        s.push_str(&move_line(m, true));
    }
    if let Some(k) = r.backend_copy() {
        let _ = write!(
            s,
            "\n# backend key: copy the state back from {} to {} (the new key keeps its copy)\ncopy_key {} {} backend-copy-back\n",
            comment(&k.new_key),
            comment(&k.old_key),
            quote(&k.new_key),
            quote(&k.old_key)
        );
    }
    let _ = writeln!(
        s,
        "\nif [ \"$DRY_RUN\" = 1 ]; then\n  echo {}\nelse\n  echo {}\nfi",
        quote(&format!(
            "dry run of the rollback of {} done: nothing was changed",
            r.root
        )),
        quote(&format!("state rollback of {} done", r.root))
    );
    s
}
