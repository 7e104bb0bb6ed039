//! Creating the bare monorepo and bringing legacy objects in wholesale.

use std::path::{Path, PathBuf};

use gix::ObjectId;

use crate::history::{self, Object};

/// Creates a bare repo at `dir` (HEAD -> main) unless one is there. The repo is built in a
/// sibling temp dir and renamed into place, so a kill never leaves half a repo.
pub fn ensure_bare(dir: &Path) -> Result<(), String> {
    if dir.join("HEAD").is_file() && dir.join("objects").is_dir() {
        return Ok(());
    }
    if dir.exists() {
        return Err(format!(
            "{} exists but is not a bare git repo; move it away",
            dir.display()
        ));
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    // Staging dirs of a killed run (the caller holds the output lock, so they are stale).
    if let Ok(read) = std::fs::read_dir(parent) {
        for e in read.filter_map(Result::ok) {
            if e.file_name().to_string_lossy().starts_with(".tfmono-init-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix(".tfmono-init-")
        .tempdir_in(parent)
        .map_err(|e| format!("creating a temp dir in {}: {e}", parent.display()))?;
    let staging = tmp.path().join("repo.git");
    gix::init_bare(&staging).map_err(|e| format!("git init: {e}"))?;
    std::fs::write(staging.join("HEAD"), "ref: refs/heads/main\n")
        .map_err(|e| format!("writing HEAD: {e}"))?;
    std::fs::rename(&staging, dir).map_err(|e| format!("moving the new repo into place: {e}"))?;
    Ok(())
}

fn object_dirs(objects: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 5 || out.iter().any(|p| p == objects) {
        return;
    }
    out.push(objects.to_owned());
    if let Ok(text) = std::fs::read_to_string(objects.join("info").join("alternates")) {
        for line in text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let p = Path::new(line.trim());
            let p = if p.is_absolute() {
                p.to_owned()
            } else {
                objects.join(p)
            };
            object_dirs(&p, depth + 1, out);
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> history::Error + '_ {
    move |e| history::Error::Io {
        path: path.to_owned(),
        source: e,
    }
}

/// Hard-links (or copies, across file systems) every pack of the legacy repo into
/// `mono_objects/pack` and returns its loose objects, to be written into the new pack.
/// The legacy repo is only read.
pub fn legacy_objects(
    repo: &str,
    git_dir: &Path,
    mono_objects: &Path,
) -> Result<Vec<Object>, history::Error> {
    let mut dirs = Vec::new();
    object_dirs(&git_dir.join("objects"), 0, &mut dirs);
    let dest = mono_objects.join("pack");
    std::fs::create_dir_all(&dest).map_err(history::output_io(&dest))?;
    let mut loose_ids = Vec::new();
    for objects in &dirs {
        for pack in crate::objects::packs::pack_files(objects, "pack") {
            let idx = pack.with_extension("idx");
            if !idx.is_file() {
                continue; // an incomplete pack (a fetch in progress): its objects are not visible
            }
            // The pack first, then its index: git only sees a pack through its index.
            for src in [&pack, &idx] {
                let Some(name) = src.file_name() else {
                    continue;
                };
                let to = dest.join(name);
                if !to.exists() {
                    link_or_copy(src, &to)?;
                }
            }
        }
        let Ok(read) = std::fs::read_dir(objects) else {
            continue;
        };
        for fan in read.filter_map(Result::ok) {
            let fan_name = fan.file_name().to_string_lossy().to_string();
            if fan_name.len() != 2 || !fan_name.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let Ok(inner) = std::fs::read_dir(fan.path()) else {
                continue;
            };
            for f in inner.filter_map(Result::ok) {
                let hex = format!("{fan_name}{}", f.file_name().to_string_lossy());
                if let Ok(id) = ObjectId::from_hex(hex.as_bytes()) {
                    loose_ids.push(id);
                }
            }
        }
    }
    if loose_ids.is_empty() {
        return Ok(Vec::new());
    }
    let legacy = history::open(repo, git_dir)?;
    loose_ids.sort();
    loose_ids
        .into_iter()
        .map(|id| {
            let (kind, data) = history::read(repo, &legacy, id)?;
            Ok(Object { id, kind, data })
        })
        .collect()
}

/// Links legacy pack file `src` to `to` in the monorepo, or copies it there. A failure to
/// read names the legacy file; a failure to write (a full disk) names `to`, in the output.
fn link_or_copy(src: &Path, to: &Path) -> Result<(), history::Error> {
    use std::io::{Read, Write};
    if std::fs::hard_link(src, to).is_ok() {
        return Ok(());
    }
    let tmp = to.with_extension("tmp-tfmono");
    let write = history::output_io(to);
    let mut from = std::fs::File::open(src).map_err(io(src))?;
    let mut into = std::fs::File::create(&tmp).map_err(&write)?;
    let copied = (|| {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io(src)(e)),
            };
            into.write_all(&buf[..n]).map_err(&write)?;
        }
        into.sync_all().map_err(&write)
    })();
    drop(into);
    if let Err(e) = copied {
        // A partial copy only takes space (a re-run would remove it too).
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, to).map_err(&write)?;
    Ok(())
}

/// Removes the packs a failed run left in the monorepo `dir` (called under the output lock,
/// before anything is linked or written): tfmono's temporary pack and index files, and any
/// `pack-*` file whose pack or index is missing (a pack renamed into place whose index was
/// never written, e.g. on a full disk, or an index left alone). Git ignores such files, so a
/// re-run would otherwise write every object again beside them. Complete packs stay: their
/// objects are read like any other. Returns the removed paths.
pub fn remove_failed_packs(dir: &Path) -> Vec<PathBuf> {
    let pack_dir = dir.join("objects").join("pack");
    let Ok(read) = std::fs::read_dir(&pack_dir) else {
        return Vec::new();
    };
    let names: std::collections::BTreeSet<String> = read
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // A set: a monorepo links one pack per legacy repo, thousands of files in all.
    let has = |stem: &str, ext: &str| names.contains(&format!("{stem}.{ext}"));
    let mut removed = Vec::new();
    for name in &names {
        let stale = if name.contains("tmp-tfmono") {
            true
        } else if let Some((stem, ext)) = name.rsplit_once('.') {
            stem.starts_with("pack-")
                && match ext {
                    "pack" => !has(stem, "idx"),
                    "idx" | "rev" | "bitmap" | "mtimes" => !has(stem, "pack") || !has(stem, "idx"),
                    _ => false,
                }
        } else {
            false
        };
        if stale {
            let p = pack_dir.join(name);
            if std::fs::remove_file(&p).is_ok() {
                removed.push(p);
            }
        }
    }
    removed
}

/// Removes what a killed run left in the bare repo at `dir`: lock files (`refs/**/*.lock`,
/// `packed-refs.lock`, `HEAD.lock`) and half-written packs (`objects/pack/*tmp-tfmono*`,
/// which git ignores: they have no index). Only call it while holding the output lock: then
/// no other tfmono is writing, and such a file can only be a leftover.
pub fn remove_leftovers(dir: &Path) {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(read) = std::fs::read_dir(d) else {
            return;
        };
        for e in read.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "lock") {
                out.push(p);
            }
        }
    }
    let mut found = Vec::new();
    walk(&dir.join("refs"), &mut found);
    for name in ["packed-refs.lock", "HEAD.lock"] {
        let p = dir.join(name);
        if p.is_file() {
            found.push(p);
        }
    }
    if let Ok(read) = std::fs::read_dir(dir.join("objects").join("pack")) {
        found.extend(
            read.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().contains("tmp-tfmono"))
                .map(|e| e.path()),
        );
    }
    for p in found {
        let _ = std::fs::remove_file(p);
    }
}
