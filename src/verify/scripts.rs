//! Checks the scripts `apply` recorded in its journal: each must exist, be non-empty,
//! executable, and end with the marker line every tfmono script ends with. A script cut
//! short still runs, does part of its job (or nothing) and exits 0, so a damaged one is a
//! mismatch: re-running `apply` rewrites it.

use std::path::Path;

use super::{Class, Error, Mismatch};
use crate::outdir::SCRIPT_END;

/// Returns one mismatch per damaged script listed in the journal under `out` (none when
/// there is no journal: nothing was applied there).
pub fn check(out: &Path) -> Result<Vec<Mismatch>, Error> {
    let Some(journal) = crate::outdir::load(out)? else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for rel in journal.files.iter().filter(|f| f.ends_with(".sh")) {
        if let Some(problem) = damage(&out.join(rel)) {
            found.push(Mismatch {
                class: Class::Script,
                monorepo: String::new(),
                repo: String::new(),
                subject: rel.clone(),
                message: format!(
                    "{problem}; run `tfmono apply` again with the same mapping and --out to rewrite it"
                ),
            });
        }
    }
    Ok(found)
}

/// What is wrong with the script at `path`, if anything.
fn damage(path: &Path) -> Option<String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some("the script is missing".into())
        }
        Err(e) => return Some(format!("the script cannot be read ({e})")),
    };
    if bytes.is_empty() {
        return Some("the script is empty".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(m) if m.permissions().mode() & 0o111 == 0 => {
                return Some("the script is not executable".into())
            }
            Ok(_) => {}
            Err(e) => return Some(format!("the script cannot be read ({e})")),
        }
    }
    let last = bytes
        .strip_suffix(b"\n")
        .unwrap_or(&bytes)
        .rsplit(|b| *b == b'\n')
        .next()
        .unwrap_or_default();
    if bytes.last() != Some(&b'\n') || last != SCRIPT_END.as_bytes() {
        return Some(format!(
            "the script is cut short (its last line is not `{SCRIPT_END}`)"
        ));
    }
    None
}
