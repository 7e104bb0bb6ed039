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

/// Where tree edits read the objects that are not pending: a repository, or a reader that
/// looks in a few places first (see `apply`).
pub trait Source {
    /// The kind and data of object `id`.
    fn find(&self, id: ObjectId) -> Result<(Kind, Vec<u8>), String>;
}

impl Source for gix::Repository {
    fn find(&self, id: ObjectId) -> Result<(Kind, Vec<u8>), String> {
        let obj = self
            .find_object(id)
            .map_err(|e| format!("object {id}: {e}"))?
            .detach();
        Ok((obj.kind, obj.data))
    }
}

/// Reads an object from `overlay` (pending objects, borrowed) or `repo`.
pub fn read<'a>(
    repo: &dyn Source,
    overlay: &'a impl Overlay,
    id: ObjectId,
) -> Result<(Kind, Cow<'a, [u8]>), String> {
    if let Some(o) = overlay.get(&id) {
        return Ok((o.kind, Cow::Borrowed(&o.data)));
    }
    let (kind, data) = repo.find(id)?;
    Ok((kind, Cow::Owned(data)))
}

/// The headers (tree, parents, committer time) of commit `id`.
pub fn commit_header(
    repo: &dyn Source,
    overlay: &impl Overlay,
    id: ObjectId,
) -> Result<objects::CommitHeader, String> {
    let (_, data) = read(repo, overlay, id)?;
    objects::parse_commit(&data).ok_or_else(|| format!("commit {id} is malformed"))
}

/// The root tree of commit `id`.
pub fn commit_tree(
    repo: &dyn Source,
    overlay: &impl Overlay,
    id: ObjectId,
) -> Result<ObjectId, String> {
    commit_header(repo, overlay, id).map(|h| h.tree)
}

/// The entries of tree `id`.
pub fn entries(
    repo: &dyn Source,
    overlay: &impl Overlay,
    id: ObjectId,
) -> Result<Vec<Entry>, String> {
    let (_, data) = read(repo, overlay, id)?;
    objects::parse_tree(&data).ok_or_else(|| format!("tree {id} is malformed"))
}

/// Returns `root` without the entry at `path` (empty parent trees removed too).
pub fn remove(
    repo: &dyn Source,
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
    repo: &dyn Source,
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
    repo: &dyn Source,
    overlay: &mut impl Overlay,
    root: Option<ObjectId>,
    path: &str,
    subtree: ObjectId,
) -> Result<ObjectId, String> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    insert_at(repo, overlay, root, &comps, subtree)
}

fn insert_at(
    repo: &dyn Source,
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
    repo: &dyn Source,
    overlay: &mut impl Overlay,
    root: ObjectId,
    path: &str,
    blob: ObjectId,
) -> Result<ObjectId, String> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    replace_at(repo, overlay, root, &comps, blob, b"100644")
}

fn replace_at(
    repo: &dyn Source,
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

/// [`replace_blob`] for every `(path, blob)` of `edits`, each tree on the way read and
/// encoded once (one by one, a monorepo's root tree would be encoded again for every
/// file); a tree whose entries do not change keeps its id without being written. The
/// result is that of applying the edits one by one, in order.
pub fn replace_blobs(
    repo: &dyn Source,
    overlay: &mut impl Overlay,
    root: ObjectId,
    edits: &[(&str, ObjectId)],
) -> Result<ObjectId, String> {
    let split: Vec<(Vec<&str>, ObjectId)> = edits
        .iter()
        .map(|(p, b)| (p.split('/').filter(|c| !c.is_empty()).collect(), *b))
        .collect();
    // A path that is also the directory of another one: the order of the edits decides,
    // so they go one by one (no real tree has that).
    let leaves: std::collections::HashSet<&[&str]> =
        split.iter().map(|(c, _)| c.as_slice()).collect();
    let nested = split
        .iter()
        .any(|(c, _)| c.is_empty() || (1..c.len()).any(|n| leaves.contains(&c[..n])));
    if nested {
        let mut root = root;
        for (path, blob) in edits {
            root = replace_blob(repo, overlay, root, path, *blob)?;
        }
        return Ok(root);
    }
    let items: Vec<Below<'_>> = split.iter().map(|(c, b)| (c.as_slice(), *b)).collect();
    replace_many(repo, overlay, root, &items)
}

/// One edit below a tree: the path components left, and the blob.
type Below<'a> = (&'a [&'a str], ObjectId);

fn replace_many(
    repo: &dyn Source,
    overlay: &mut impl Overlay,
    root: ObjectId,
    edits: &[Below<'_>],
) -> Result<ObjectId, String> {
    let mut list = entries(repo, overlay, root)?;
    // By first component, in order of first appearance; a leaf's last edit wins.
    let mut groups: Vec<(&str, Vec<Below<'_>>)> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for (comps, blob) in edits {
        let Some((first, rest)) = comps.split_first() else {
            continue;
        };
        let i = *group_of.entry(first).or_insert_with(|| {
            groups.push((first, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((rest, *blob));
    }
    let mut changed = false;
    for (name, group) in groups {
        let pos = list.iter().position(|e| e.name == name.as_bytes());
        if group.iter().all(|(rest, _)| rest.is_empty()) {
            let blob = group.last().map(|(_, b)| *b).unwrap_or(root);
            let mode = pos
                .map(|i| list[i].mode.clone())
                .filter(|m| m.starts_with(b"100"))
                .unwrap_or_else(|| b"100644".to_vec());
            if let Some(i) = pos {
                if list[i].id == blob && list[i].mode == mode {
                    continue;
                }
                list.remove(i);
            }
            list.push(Entry {
                mode,
                name: name.as_bytes().to_vec(),
                id: blob,
            });
            changed = true;
            continue;
        }
        let old_child = pos.filter(|i| list[*i].is_tree()).map(|i| list[i].id);
        let child = match old_child {
            Some(id) => id,
            None => {
                let empty = Object::new(Kind::Tree, Vec::new());
                let id = empty.id;
                overlay.put(empty);
                id
            }
        };
        let new_child = replace_many(repo, overlay, child, &group)?;
        if old_child == Some(new_child) {
            continue;
        }
        if let Some(i) = pos {
            list.remove(i);
        }
        list.push(Entry::tree(name, new_child));
        changed = true;
    }
    if !changed {
        return Ok(root);
    }
    let obj = Object::new(Kind::Tree, objects::encode_tree(list));
    let id = obj.id;
    overlay.put(obj);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(overlay: &mut HashMap<ObjectId, Object>, text: &str) -> ObjectId {
        let o = Object::new(Kind::Blob, text.as_bytes().to_vec());
        let id = o.id;
        overlay.insert(id, o);
        id
    }

    /// A tree of `files` (`path -> text`), built in `overlay` one file at a time.
    fn tree_of(
        repo: &dyn Source,
        overlay: &mut HashMap<ObjectId, Object>,
        files: &[(&str, &str)],
    ) -> ObjectId {
        let empty = Object::new(Kind::Tree, Vec::new());
        let mut root = empty.id;
        overlay.insert(empty.id, empty);
        for (path, text) in files {
            let b = blob(overlay, text);
            root = replace_blob(repo, overlay, root, path, b).unwrap();
        }
        root
    }

    #[test]
    fn replacing_many_blobs_at_once_gives_the_tree_of_one_by_one() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = gix::init_bare(tmp.path().join("r.git")).unwrap();
        let mut overlay = HashMap::new();
        let root = tree_of(
            &repo,
            &mut overlay,
            &[
                ("alb/main.tf", "a"),
                ("alb/examples/x/main.tf", "b"),
                ("vpc/main.tf", "c"),
                ("vpc/vars.tf", "d"),
                ("README.md", "e"),
            ],
        );
        let cases: Vec<Vec<(&str, &str)>> = vec![
            vec![],
            vec![("alb/main.tf", "A")],
            vec![("alb/main.tf", "a")], // the same content: the same tree
            vec![
                ("alb/examples/x/main.tf", "B"),
                ("vpc/vars.tf", "D"),
                ("alb/main.tf", "A"),
                ("new/dir/file.tf", "N"),
                ("README.md", "E"),
            ],
            vec![("vpc/main.tf", "1"), ("vpc/main.tf", "2")], // the last one wins
            vec![("alb", "a blob where a tree was")],
            vec![("README.md/sub.tf", "a tree where a blob was")],
            vec![("x/y.tf", "nested"), ("x", "prefix")], // one by one
        ];
        for edits in cases {
            let ids: Vec<(&str, ObjectId)> = edits
                .iter()
                .map(|(p, t)| (*p, blob(&mut overlay, t)))
                .collect();
            let mut one_by_one = root;
            for (p, b) in &ids {
                one_by_one = replace_blob(&repo, &mut overlay, one_by_one, p, *b).unwrap();
            }
            let at_once = replace_blobs(&repo, &mut overlay, root, &ids).unwrap();
            assert_eq!(at_once, one_by_one, "{edits:?}");
            if edits.is_empty() || edits == [("alb/main.tf", "a")] {
                assert_eq!(at_once, root, "{edits:?}");
            }
        }
    }
}
