//! Tree edits over a repository: reading through pending objects (an overlay), inserting,
//! removing and replacing entries at a path.

use std::borrow::Cow;
use std::collections::HashMap;

use gix::objs::Kind;
use gix::ObjectId;

use super::{self as objects, Entry, Object};

/// Pending objects that tree edits read through and add to (the repo holds the rest).
pub trait Overlay {
    /// The pending object `id`, if there is one.
    fn get(&self, id: &ObjectId) -> Option<&Object>;
    /// Adds a new object.
    fn put(&mut self, object: Object);
}

impl Overlay for HashMap<ObjectId, Object> {
    fn get(&self, id: &ObjectId) -> Option<&Object> {
        HashMap::get(self, id)
    }

    fn put(&mut self, object: Object) {
        self.insert(object.id, object);
    }
}

/// New objects of one task (`local`) over pending objects it only reads (`shared`): lets
/// independent edits run in parallel and their objects be merged afterwards.
pub struct Layered<'a> {
    /// Read only.
    pub shared: &'a HashMap<ObjectId, Object>,
    /// What this task added.
    pub local: HashMap<ObjectId, Object>,
}

impl Overlay for Layered<'_> {
    fn get(&self, id: &ObjectId) -> Option<&Object> {
        self.local.get(id).or_else(|| self.shared.get(id))
    }

    fn put(&mut self, object: Object) {
        self.local.insert(object.id, object);
    }
}

/// Reads an object from `overlay` (pending objects, borrowed) or the monorepo.
pub fn read<'a>(
    repo: &gix::Repository,
    overlay: &'a impl Overlay,
    id: ObjectId,
) -> Result<(Kind, Cow<'a, [u8]>), String> {
    if let Some(o) = overlay.get(&id) {
        return Ok((o.kind, Cow::Borrowed(&o.data)));
    }
    let obj = repo
        .find_object(id)
        .map_err(|e| format!("object {id}: {e}"))?
        .detach();
    Ok((obj.kind, Cow::Owned(obj.data)))
}

/// The headers (tree, parents, committer time) of commit `id`.
pub fn commit_header(
    repo: &gix::Repository,
    overlay: &impl Overlay,
    id: ObjectId,
) -> Result<objects::CommitHeader, String> {
    let (_, data) = read(repo, overlay, id)?;
    objects::parse_commit(&data).ok_or_else(|| format!("commit {id} is malformed"))
}

/// The root tree of commit `id`.
pub fn commit_tree(
    repo: &gix::Repository,
    overlay: &impl Overlay,
    id: ObjectId,
) -> Result<ObjectId, String> {
    commit_header(repo, overlay, id).map(|h| h.tree)
}

/// The entries of tree `id`.
pub fn entries(
    repo: &gix::Repository,
    overlay: &impl Overlay,
    id: ObjectId,
) -> Result<Vec<Entry>, String> {
    let (_, data) = read(repo, overlay, id)?;
    objects::parse_tree(&data).ok_or_else(|| format!("tree {id} is malformed"))
}

/// Returns `root` without the entry at `path` (empty parent trees removed too).
pub fn remove(
    repo: &gix::Repository,
    overlay: &mut impl Overlay,
    root: ObjectId,
    path: &str,
) -> Result<ObjectId, String> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    Ok(remove_at(repo, overlay, root, &comps)?.unwrap_or_else(|| {
        let empty = Object::new(Kind::Tree, Vec::new());
        let id = empty.id;
        overlay.put(empty);
        id
    }))
}

fn remove_at(
    repo: &gix::Repository,
    overlay: &mut impl Overlay,
    root: ObjectId,
    comps: &[&str],
) -> Result<Option<ObjectId>, String> {
    let Some((first, rest)) = comps.split_first() else {
        return Ok(None);
    };
    let mut list = entries(repo, overlay, root)?;
    let Some(pos) = list.iter().position(|e| e.name == first.as_bytes()) else {
        return Ok(Some(root));
    };
    if rest.is_empty() {
        list.remove(pos);
    } else if list[pos].is_tree() {
        match remove_at(repo, overlay, list[pos].id, rest)? {
            Some(id) => list[pos].id = id,
            None => {
                list.remove(pos);
            }
        }
    } else {
        return Ok(Some(root));
    }
    if list.is_empty() {
        return Ok(None);
    }
    let obj = Object::new(Kind::Tree, objects::encode_tree(list));
    let id = obj.id;
    overlay.put(obj);
    Ok(Some(id))
}

/// Returns `root` with the tree at `path` replaced by `subtree` (creating intermediate
/// trees); new trees go into `overlay`.
pub fn insert(
    repo: &gix::Repository,
    overlay: &mut impl Overlay,
    root: Option<ObjectId>,
    path: &str,
    subtree: ObjectId,
) -> Result<ObjectId, String> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    insert_at(repo, overlay, root, &comps, subtree)
}

fn insert_at(
    repo: &gix::Repository,
    overlay: &mut impl Overlay,
    root: Option<ObjectId>,
    comps: &[&str],
    subtree: ObjectId,
) -> Result<ObjectId, String> {
    let Some((first, rest)) = comps.split_first() else {
        return Ok(subtree);
    };
    let mut list = match root {
        Some(r) => entries(repo, overlay, r)?,
        None => Vec::new(),
    };
    let existing = list.iter().position(|e| e.name == first.as_bytes());
    let child = existing
        .map(|i| list.remove(i))
        .filter(Entry::is_tree)
        .map(|e| e.id);
    let new_child = insert_at(repo, overlay, child, rest, subtree)?;
    list.push(Entry::tree(first, new_child));
    let obj = Object::new(Kind::Tree, objects::encode_tree(list));
    let id = obj.id;
    overlay.put(obj);
    Ok(id)
}

/// Returns `root` with the blob at `path` (which must exist below a tree) replaced by
/// `blob`, keeping its mode.
pub fn replace_blob(
    repo: &gix::Repository,
    overlay: &mut impl Overlay,
    root: ObjectId,
    path: &str,
    blob: ObjectId,
) -> Result<ObjectId, String> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    replace_at(repo, overlay, root, &comps, blob, b"100644")
}

fn replace_at(
    repo: &gix::Repository,
    overlay: &mut impl Overlay,
    root: ObjectId,
    comps: &[&str],
    blob: ObjectId,
    default_mode: &[u8],
) -> Result<ObjectId, String> {
    let Some((first, rest)) = comps.split_first() else {
        return Err("empty path".into());
    };
    let mut list = entries(repo, overlay, root)?;
    let pos = list.iter().position(|e| e.name == first.as_bytes());
    if rest.is_empty() {
        let mode = pos
            .map(|i| list[i].mode.clone())
            .filter(|m| m.starts_with(b"100"))
            .unwrap_or_else(|| default_mode.to_vec());
        if let Some(i) = pos {
            list.remove(i);
        }
        list.push(Entry {
            mode,
            name: first.as_bytes().to_vec(),
            id: blob,
        });
    } else {
        let child = match pos {
            Some(i) if list[i].is_tree() => list.remove(i).id,
            Some(i) => {
                list.remove(i);
                let empty = Object::new(Kind::Tree, Vec::new());
                let id = empty.id;
                overlay.put(empty);
                id
            }
            None => {
                let empty = Object::new(Kind::Tree, Vec::new());
                let id = empty.id;
                overlay.put(empty);
                id
            }
        };
        let new_child = replace_at(repo, overlay, child, rest, blob, default_mode)?;
        list.push(Entry::tree(first, new_child));
    }
    let obj = Object::new(Kind::Tree, objects::encode_tree(list));
    let id = obj.id;
    overlay.put(obj);
    Ok(id)
}
