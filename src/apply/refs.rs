//! Ref updates: read the current values once, then move every ref in one transaction,
//! each guarded by the value it had when this run read it.
//!
//! The new values are written into `packed-refs`, replaced by one rename, rather than as one
//! loose file per ref: a real corpus has thousands of tags, and creating a file per ref (and
//! a lock file per ref, as a gix or git transaction does even when it packs) costs about a
//! second where one file costs milliseconds. The guard is checked under the `packed-refs`
//! lock; refs that also exist as loose files (written by git, or by an older tfmono) are
//! locked one by one as git does.
//!
//! Crash safety: every ref moves in the one rename of the final `packed-refs`, so a kill
//! leaves either no ref moved or all of them. Loose copies of moved refs would shadow the
//! packed values, so they are first folded into `packed-refs` with their current values (an
//! earlier rename that changes no value) and deleted; only then are the new values written.
//! A kill leaves at most lock files, which the next run removes (see
//! `link::remove_leftovers`) before it reads the refs again.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use gix::bstr::{BString, ByteSlice};
use gix::lock::acquire::Fail;
use gix::objs::Kind;
use gix::ObjectId;
use serde::{Deserialize, Serialize};

use super::Error;

/// The header git writes: every ref that peels to something else has a `^<id>` line.
const PACKED_HEADER: &[u8] = b"# pack-refs with: peeled fully-peeled sorted \n";

/// One ref created or moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefUpdate {
    /// The full ref name.
    pub name: String,
    /// Its value before (hex), `None` when created.
    pub old: Option<String>,
    /// Its new value (hex).
    pub new: String,
}

/// The refs of a monorepo as read at the start, and the values they must get.
#[derive(Debug, Default)]
pub struct Edits {
    before: BTreeMap<String, ObjectId>,
    after: BTreeMap<String, ObjectId>,
    /// What objects this run made peel to (`None`: not a tag), so that writing their refs
    /// reads no object (at scale those reads map hundreds of MB of pack pages).
    peeled: gix::hashtable::HashMap<ObjectId, Option<ObjectId>>,
}

impl Edits {
    /// Reads every ref of the monorepo.
    pub fn read(repo: &gix::Repository, name: &str) -> Result<Edits, Error> {
        let fail = |e: &dyn std::fmt::Display| Error::Refs {
            name: name.to_string(),
            message: e.to_string(),
        };
        let mut before = BTreeMap::new();
        let platform = repo.references().map_err(|e| fail(&e))?;
        for r in platform.all().map_err(|e| fail(&e))? {
            let r = r.map_err(|e| fail(&e))?;
            if let Some(id) = r.target().try_id() {
                before.insert(r.name().as_bstr().to_string(), id.to_owned());
            }
        }
        Ok(Edits {
            before,
            after: BTreeMap::new(),
            peeled: Default::default(),
        })
    }

    /// The value `name` will have: planned, else as read.
    pub fn current(&self, name: &str) -> Option<ObjectId> {
        self.after
            .get(name)
            .or_else(|| self.before.get(name))
            .copied()
    }

    /// Plans `name` -> `id`.
    pub fn set(&mut self, name: &str, id: ObjectId) {
        self.after.insert(name.to_string(), id);
    }

    /// Plans `name` -> `id`, an object this run made that peels to `peeled` (`None`: it is
    /// not a tag): its ref is written without reading it.
    pub fn set_made(&mut self, name: &str, id: ObjectId, peeled: Option<ObjectId>) {
        self.peeled.insert(id, peeled);
        self.set(name, id);
    }

    /// Moves every planned ref whose value differs, in one transaction (see the module doc).
    pub fn commit(self, repo: &gix::Repository, name: &str) -> Result<Vec<RefUpdate>, Error> {
        let changes: Vec<Change> = self
            .after
            .iter()
            .map(|(r, new)| Change {
                name: r.as_str(),
                old: self.before.get(r).copied(),
                new: *new,
            })
            .filter(|c| c.old != Some(c.new))
            .collect();
        if !changes.is_empty() {
            write_packed(repo, &changes, &self.peeled).map_err(|e| match e {
                WriteError::Failed(message) => Error::Refs {
                    name: name.to_string(),
                    message,
                },
                WriteError::Raced(refs) => Error::RefsRaced {
                    name: name.to_string(),
                    refs,
                },
            })?;
        }
        Ok(changes
            .iter()
            .map(|c| RefUpdate {
                name: c.name.to_string(),
                old: c.old.map(|o| o.to_string()),
                new: c.new.to_string(),
            })
            .collect())
    }
}

/// A ref to move from `old` (as read at the start; `None`: absent) to `new`.
struct Change<'a> {
    name: &'a str,
    old: Option<ObjectId>,
    new: ObjectId,
}

enum WriteError {
    /// Nothing was moved.
    Failed(String),
    /// The refs moved, but these were written as loose refs by another process meanwhile.
    Raced(Vec<String>),
}

/// The `packed-refs` entries: name -> (target, what it peels to when it is a tag object).
type Entries = BTreeMap<BString, (ObjectId, Option<ObjectId>)>;

/// Writes every change into `packed-refs` in one rename, each guarded by its `old` value.
fn write_packed(
    repo: &gix::Repository,
    changes: &[Change<'_>],
    made: &gix::hashtable::HashMap<ObjectId, Option<ObjectId>>,
) -> Result<(), WriteError> {
    let path = repo.refs.packed_refs_path();
    let mut lock = lock_packed(&path)?;

    // Under the lock nothing but a loose ref can change: read packed-refs once, and lock
    // the refs that also exist as loose files.
    let old_bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(failed("cannot read packed-refs", &e)),
    };
    let old = gix::refs::packed::Buffer::from_bytes(&old_bytes, repo.object_hash())
        .map_err(|e| failed("cannot parse packed-refs", &e))?;
    let refs_dir = repo.common_dir().join("refs");
    let mut loose = Vec::new();
    let mut unlocked = Vec::new();
    for c in changes {
        let file = loose_path(repo, c.name);
        let current = if file.exists() {
            let marker = gix::lock::Marker::acquire_to_hold_resource(
                &file,
                Fail::Immediately,
                Some(refs_dir.clone()),
                0,
            )
            .map_err(|e| failed(&format!("cannot lock {}", c.name), &e))?;
            let value = read_loose(repo, c.name)?;
            loose.push((c.name, value, file, marker));
            value
        } else {
            unlocked.push(file);
            old.try_find(c.name)
                .map_err(|e| failed(&format!("cannot read {}", c.name), &e))?
                .map(|r| r.target())
        };
        // Someone else moving it to exactly the planned value is no conflict.
        if current != c.old && current != Some(c.new) {
            let show = |v: Option<ObjectId>| v.map_or("absent".to_string(), |v| v.to_string());
            return Err(WriteError::Failed(format!(
                "{} changed since this run read it (it was {}, it is {})",
                c.name,
                show(c.old),
                show(current)
            )));
        }
    }

    let mut entries = packed_entries(repo, &old_bytes, &old)?;
    if !loose.is_empty() {
        // Fold the loose copies in with their current values: no ref changes value, so a
        // kill from here on still leaves every ref as it was.
        for (name, value, _, _) in &loose {
            if let Some(id) = value {
                entries.insert((*name).into(), (*id, peel(repo, *id)?));
            }
        }
        write_entries(lock, &entries)?;
        for (_, _, file, _) in &loose {
            match std::fs::remove_file(file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    let what = format!("cannot delete the loose ref {}", file.display());
                    return Err(failed(&what, &e));
                }
            }
        }
        lock = lock_packed(&path)?;
    }
    for c in changes {
        let peeled = match made.get(&c.new) {
            Some(p) => *p,
            None => peel(repo, c.new)?,
        };
        entries.insert(c.name.into(), (c.new, peeled));
    }
    write_entries(lock, &entries)?;
    drop(loose);

    // A ref without a loose file was not locked; git writing one since would shadow ours.
    let raced: Vec<String> = unlocked
        .iter()
        .filter(|p| p.exists())
        .filter_map(|p| p.strip_prefix(repo.common_dir()).ok())
        .map(|p| p.display().to_string())
        .collect();
    if raced.is_empty() {
        Ok(())
    } else {
        Err(WriteError::Raced(raced))
    }
}

fn failed(what: &str, e: &dyn std::fmt::Display) -> WriteError {
    WriteError::Failed(format!("{what}: {e}"))
}

/// Takes `packed-refs.lock`. The caller holds the output lock and removed stale locks, so
/// waiting would be pointless.
fn lock_packed(path: &Path) -> Result<gix::lock::File, WriteError> {
    gix::lock::File::acquire_to_update_resource(path, Fail::Immediately, None, 0)
        .map_err(|e| failed("cannot lock packed-refs", &e))
}

/// The entries of the `packed-refs` file `bytes` (parsed as `buffer`), peeled.
fn packed_entries(
    repo: &gix::Repository,
    bytes: &[u8],
    buffer: &gix::refs::packed::Buffer,
) -> Result<Entries, WriteError> {
    // Without the fully-peeled trait a missing `^` line says nothing: peel those here.
    let fully_peeled = bytes
        .split(|b| *b == b'\n')
        .next()
        .is_some_and(|h| h.starts_with(b"# pack-refs with:") && h.contains_str(" fully-peeled "));
    let mut entries = Entries::new();
    let parse = |e: &dyn std::fmt::Display| failed("cannot parse packed-refs", e);
    for r in buffer.iter().map_err(|e| parse(&e))? {
        let r = r.map_err(|e| parse(&e))?;
        let target = r.target();
        let peeled = match r.object {
            Some(_) => Some(r.object()),
            None if !fully_peeled => peel(repo, target)?,
            None => None,
        };
        entries.insert(r.name.as_bstr().to_owned(), (target, peeled));
    }
    Ok(entries)
}

/// Writes `entries` as the new `packed-refs`, durable before it replaces the old one (like
/// the pack and the commit map before it).
fn write_entries(mut lock: gix::lock::File, entries: &Entries) -> Result<(), WriteError> {
    let mut text = Vec::with_capacity(PACKED_HEADER.len() + entries.len() * 100);
    text.extend_from_slice(PACKED_HEADER);
    let mut hex = [0u8; 40];
    for (name, (target, peeled)) in entries {
        text.extend_from_slice(target.hex_to_buf(&mut hex).as_bytes());
        text.push(b' ');
        text.extend_from_slice(name);
        text.push(b'\n');
        if let Some(p) = peeled {
            text.push(b'^');
            text.extend_from_slice(p.hex_to_buf(&mut hex).as_bytes());
            text.push(b'\n');
        }
    }
    lock.with_mut(|f| f.write_all(&text).and_then(|()| f.sync_all()))
        .map_err(|e| failed("cannot write packed-refs", &e))?;
    lock.commit()
        .map_err(|e| failed("cannot rename packed-refs into place", &e))?;
    Ok(())
}

/// The path of `name`'s loose file.
fn loose_path(repo: &gix::Repository, name: &str) -> PathBuf {
    name.split('/')
        .fold(repo.common_dir().to_owned(), |p, c| p.join(c))
}

/// Reads a loose ref (while its lock is held); a symbolic ref is not replaced.
fn read_loose(repo: &gix::Repository, name: &str) -> Result<Option<ObjectId>, WriteError> {
    let r = repo
        .refs
        .try_find_loose(name)
        .map_err(|e| failed(&format!("cannot read {name}"), &e))?;
    match r.map(|r| r.target) {
        None => Ok(None),
        Some(gix::refs::Target::Object(id)) => Ok(Some(id)),
        Some(gix::refs::Target::Symbolic(to)) => Err(WriteError::Failed(format!(
            "{name} is a symbolic ref (to {to}); point it at a commit or delete it"
        ))),
    }
}

/// The object an annotated tag (or a chain of them) finally points at; `None` for others.
fn peel(repo: &gix::Repository, id: ObjectId) -> Result<Option<ObjectId>, WriteError> {
    let missing = |id: ObjectId, e: &dyn std::fmt::Display| {
        WriteError::Failed(format!("cannot read object {id} to peel it: {e}"))
    };
    let mut current = id;
    loop {
        let header = repo
            .find_header(current)
            .map_err(|e| missing(current, &e))?;
        if header.kind() != Kind::Tag {
            return Ok((current != id).then_some(current));
        }
        let tag = repo
            .find_object(current)
            .map_err(|e| missing(current, &e))?;
        current = crate::objects::tag_target(&tag.data)
            .ok_or_else(|| WriteError::Failed(format!("tag {current} is malformed")))?;
    }
}
