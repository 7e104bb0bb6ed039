//! Low-level git object work shared by [`crate::history`] and [`crate::apply`]: hashing,
//! commit and tag header edits, tree encoding and wrapping (here), and tree edits over a
//! repository with pending objects ([`tree`]).
//!
//! Commits are edited as bytes, never re-serialised from parsed fields, so every header and
//! message byte tfmono does not mean to change (author, committer, time zones, encoding,
//! `mergetag`, the message) stays identical.

pub mod hex;
pub mod packs;
pub mod tree;

use gix::objs::Kind;
use gix::ObjectId;
use sha1::{Digest, Sha1};

/// One object to write: its id, kind and uncompressed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The object id (SHA-1 of header and content).
    pub id: ObjectId,
    /// Commit, tree, blob or tag.
    pub kind: Kind,
    /// The uncompressed content.
    pub data: Vec<u8>,
}

impl Object {
    /// Builds an object from its content, computing its id.
    pub fn new(kind: Kind, data: Vec<u8>) -> Object {
        Object {
            id: hash(kind, &data),
            kind,
            data,
        }
    }
}

/// The git object id of `data` as an object of `kind`.
pub fn hash(kind: Kind, data: &[u8]) -> ObjectId {
    let mut h = Sha1::new();
    h.update(kind.as_bytes());
    h.update(b" ");
    // The decimal length, without allocating.
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut len = data.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (len % 10) as u8;
        len /= 10;
        if len == 0 {
            break;
        }
    }
    h.update(&digits[at..]);
    h.update([0u8]);
    h.update(data);
    let digest: [u8; 20] = h.finalize().into();
    ObjectId::from(digest)
}

/// The fields of a raw commit tfmono needs.
#[derive(Debug, Clone)]
pub struct CommitHeader {
    /// The root tree.
    pub tree: ObjectId,
    /// Parents in order.
    pub parents: Vec<ObjectId>,
    /// Committer time in seconds since the epoch (0 when unparsable).
    pub committer_time: i64,
}

fn header_lines(data: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut lines = Vec::new();
    let mut rest = data;
    loop {
        match rest.iter().position(|&b| b == b'\n') {
            Some(0) => return (lines, &rest[1..]),
            Some(n) => {
                lines.push(&rest[..n]);
                rest = &rest[n + 1..];
            }
            None => {
                if !rest.is_empty() {
                    lines.push(rest);
                }
                return (lines, &[]);
            }
        }
    }
}

fn parse_id(hex: &[u8]) -> Option<ObjectId> {
    ObjectId::from_hex(hex).ok()
}

/// Parses the headers of a raw commit; `None` when it is malformed.
pub fn parse_commit(data: &[u8]) -> Option<CommitHeader> {
    let mut tree = None;
    let mut parents = Vec::new();
    let mut committer_time = 0;
    let mut rest = data;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = &rest[..end];
        if line.is_empty() {
            break; // end of the headers
        }
        if let Some(hex) = line.strip_prefix(b"tree ") {
            tree = Some(parse_id(hex)?);
        } else if let Some(hex) = line.strip_prefix(b"parent ") {
            parents.push(parse_id(hex)?);
        } else if let Some(sig) = line.strip_prefix(b"committer ") {
            committer_time = signature_time(sig);
            break; // tree, parents, author and committer come first, in this order
        }
        rest = rest.get(end + 1..).unwrap_or(&[]);
    }
    Some(CommitHeader {
        tree: tree?,
        parents,
        committer_time,
    })
}

/// The seconds of a `Name <email> 1234567890 +0000` signature line.
pub fn signature_time(sig: &[u8]) -> i64 {
    let end = sig.iter().rposition(|&b| b == b'>').map_or(0, |p| p + 1);
    let rest = String::from_utf8_lossy(&sig[end..]);
    rest.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Appends the 40 lowercase hex digits of `id`.
fn push_hex(out: &mut Vec<u8>, id: &ObjectId) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in id.as_bytes() {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0x0f)]);
    }
}

/// Rewrites a raw commit: new tree, mapped parents, signatures (`gpgsig`, `gpgsig-sha256`)
/// dropped; every other byte kept.
pub fn edit_commit(data: &[u8], tree: ObjectId, parents: &[ObjectId]) -> Vec<u8> {
    let mut draft = CommitDraft::new(data, tree, parents.len());
    for (k, p) in parents.iter().enumerate() {
        draft.set_parent(k, p);
    }
    draft.data
}

/// A rewritten commit whose parents are not known yet: [`edit_commit`]'s bytes with the
/// parents' hex left as zeros, and where each one goes. Drafts are independent of each
/// other (made in parallel); only setting the parents follows the history's order.
#[derive(Debug)]
pub struct CommitDraft {
    /// The commit's bytes.
    pub data: Vec<u8>,
    /// The offset of each parent's 40 hex digits in `data`, in order.
    parents: Vec<usize>,
}

impl CommitDraft {
    /// The draft of [`edit_commit`]`(data, tree, parents)` for `parents` parents (at most
    /// as many `parent` lines are kept as there are parents).
    pub fn new(data: &[u8], tree: ObjectId, parents: usize) -> CommitDraft {
        let mut out = Vec::with_capacity(data.len());
        let mut at = Vec::with_capacity(parents);
        let mut in_signature = false;
        let mut rest = data;
        loop {
            if rest.is_empty() {
                // No message at all: end the headers as before.
                out.push(b'\n');
                break;
            }
            let end = memchr::memchr(b'\n', rest);
            let line = &rest[..end.unwrap_or(rest.len())];
            if end.is_some() && line.is_empty() {
                // The blank line: the message follows, byte for byte.
                out.extend_from_slice(rest);
                break;
            }
            rest = end.map_or(&[][..], |e| &rest[e + 1..]);
            if in_signature && line.first() == Some(&b' ') {
                // a continuation line of a dropped signature
            } else if line.starts_with(b"tree ") {
                in_signature = false;
                out.extend_from_slice(b"tree ");
                push_hex(&mut out, &tree);
                out.push(b'\n');
            } else if line.starts_with(b"parent ") {
                in_signature = false;
                if at.len() < parents {
                    out.extend_from_slice(b"parent ");
                    at.push(out.len());
                    out.extend_from_slice(&[b'0'; 40]);
                    out.push(b'\n');
                }
            } else if line.starts_with(b"gpgsig ") || line.starts_with(b"gpgsig-sha256 ") {
                in_signature = true;
            } else {
                in_signature = false;
                out.extend_from_slice(line);
                out.push(b'\n');
            }
        }
        CommitDraft {
            data: out,
            parents: at,
        }
    }

    /// Writes parent `k`'s id (nothing when the commit has no `k`th `parent` line).
    pub fn set_parent(&mut self, k: usize, id: &ObjectId) {
        if let Some(&at) = self.parents.get(k) {
            let _hex = id.hex_to_buf(&mut self.data[at..at + 40]);
        }
    }
}

/// Parses the target object id of a raw annotated tag.
pub fn tag_target(data: &[u8]) -> Option<ObjectId> {
    let (lines, _) = header_lines(data);
    lines
        .iter()
        .find_map(|l| l.strip_prefix(b"object "))
        .and_then(parse_id)
}

/// Rewrites a raw annotated tag to point at `target` (a commit) under the name `name`,
/// keeping the tagger and message and dropping an inline signature.
pub fn edit_tag(data: &[u8], target: ObjectId, name: &str) -> Vec<u8> {
    let (lines, body) = header_lines(data);
    let mut out = Vec::with_capacity(data.len());
    for line in lines {
        if line.starts_with(b"object ") {
            out.extend_from_slice(b"object ");
            push_hex(&mut out, &target);
        } else if line.starts_with(b"type ") {
            out.extend_from_slice(b"type commit");
        } else if line.starts_with(b"tag ") {
            out.extend_from_slice(b"tag ");
            out.extend_from_slice(name.as_bytes());
        } else {
            out.extend_from_slice(line);
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(strip_signature(body));
    out
}

/// The message without a trailing PGP/SSH/X509 signature block.
pub fn strip_signature(body: &[u8]) -> &[u8] {
    for marker in [
        &b"-----BEGIN PGP SIGNATURE-----"[..],
        b"-----BEGIN SSH SIGNATURE-----",
        b"-----BEGIN SIGNED MESSAGE-----",
    ] {
        let mut start = 0;
        while let Some(pos) = find(&body[start..], marker) {
            let at = start + pos;
            if at == 0 || body[at - 1] == b'\n' {
                return &body[..at];
            }
            start = at + 1;
        }
    }
    body
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A tree entry: mode (as git writes it), name and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `40000`, `100644`, `100755`, `120000` or `160000`.
    pub mode: Vec<u8>,
    /// The file name (no slash).
    pub name: Vec<u8>,
    /// The object id.
    pub id: ObjectId,
}

impl Entry {
    /// Whether the entry is a subtree.
    pub fn is_tree(&self) -> bool {
        self.mode == b"40000"
    }

    /// A subtree entry.
    pub fn tree(name: &str, id: ObjectId) -> Entry {
        Entry {
            mode: b"40000".to_vec(),
            name: name.as_bytes().to_vec(),
            id,
        }
    }
}

/// Parses a raw tree; `None` when it is malformed.
pub fn parse_tree(mut data: &[u8]) -> Option<Vec<Entry>> {
    let mut entries = Vec::new();
    while !data.is_empty() {
        let space = data.iter().position(|&b| b == b' ')?;
        let nul = data.iter().position(|&b| b == 0)?;
        if nul < space || data.len() < nul + 21 {
            return None;
        }
        entries.push(Entry {
            mode: data[..space].to_vec(),
            name: data[space + 1..nul].to_vec(),
            id: ObjectId::from_bytes_or_panic(&data[nul + 1..nul + 21]),
        });
        data = &data[nul + 21..];
    }
    Some(entries)
}

/// Encodes tree entries in git's order (names compared as if trees ended in `/`).
pub fn encode_tree(mut entries: Vec<Entry>) -> Vec<u8> {
    entries.sort_by_key(sort_key);
    let mut out = Vec::with_capacity(entries.len() * 40);
    for e in entries {
        out.extend_from_slice(&e.mode);
        out.push(b' ');
        out.extend_from_slice(&e.name);
        out.push(0);
        out.extend_from_slice(e.id.as_bytes());
    }
    out
}

fn sort_key(e: &Entry) -> Vec<u8> {
    let mut k = e.name.clone();
    if e.is_tree() {
        k.push(b'/');
    }
    k
}

/// Wraps `tree` in one tree per component of `path` (`a/b` gives `a/` holding `b/` holding
/// `tree`); returns the new root id and the new trees, innermost first.
pub fn wrap_tree(tree: ObjectId, path: &str) -> (ObjectId, Vec<Object>) {
    let mut id = tree;
    let mut objects = Vec::new();
    for component in path.split('/').filter(|c| !c.is_empty()).rev() {
        // One entry: `40000 <name>\0<id>`, as encode_tree writes it.
        let mut data = Vec::with_capacity(7 + component.len() + id.as_bytes().len());
        data.extend_from_slice(b"40000 ");
        data.extend_from_slice(component.as_bytes());
        data.push(0);
        data.extend_from_slice(id.as_bytes());
        let obj = Object::new(Kind::Tree, data);
        id = obj.id;
        objects.push(obj);
    }
    (id, objects)
}

/// `name` (a legacy repo's) as a file name: every byte outside `[A-Za-z0-9_-]`, and a
/// leading `.`, written as `%XX`. Distinct names give distinct file names.
pub fn file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(hex: &str) -> ObjectId {
        ObjectId::from_hex(hex.as_bytes()).expect("hex")
    }

    #[test]
    fn hash_matches_git_for_the_empty_tree_and_blob() {
        assert_eq!(
            hash(Kind::Tree, b"").to_string(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
        assert_eq!(
            hash(Kind::Blob, b"").to_string(),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }

    #[test]
    fn edit_commit_keeps_unusual_endings() {
        let t = id("3333333333333333333333333333333333333333");
        let tree = "tree 3333333333333333333333333333333333333333\n";
        let cases: [(&[u8], String); 5] = [
            // headers only, with and without the last newline
            (
                b"tree 1\ncommitter C <c@x> 1 +0000\n",
                format!("{tree}committer C <c@x> 1 +0000\n\n"),
            ),
            (
                b"tree 1\ncommitter C <c@x> 1 +0000",
                format!("{tree}committer C <c@x> 1 +0000\n\n"),
            ),
            // an empty message, and a message without a final newline
            (
                b"tree 1\ncommitter C <c@x> 1 +0000\n\n",
                format!("{tree}committer C <c@x> 1 +0000\n\n"),
            ),
            (b"tree 1\n\nno newline", format!("{tree}\nno newline")),
            // a signature as the last header, message with blank lines
            (b"tree 1\ngpgsig a\n b\n\n\nm\n", format!("{tree}\n\nm\n")),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                String::from_utf8_lossy(&edit_commit(raw, t, &[])),
                expected,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn edit_commit_changes_only_tree_and_parents_and_drops_signatures() {
        let raw = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
parent 1111111111111111111111111111111111111111\n\
parent 2222222222222222222222222222222222222222\n\
author A <a@x> 946684800 +0900\n\
committer C <c@x> 946684801 -0130\n\
encoding ISO-8859-1\n\
gpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\n\
\n\
msg\n\nbody\n";
        let t = id("3333333333333333333333333333333333333333");
        let p = [
            id("4444444444444444444444444444444444444444"),
            id("5555555555555555555555555555555555555555"),
        ];
        let out = edit_commit(raw, t, &p);
        let expected = b"tree 3333333333333333333333333333333333333333\n\
parent 4444444444444444444444444444444444444444\n\
parent 5555555555555555555555555555555555555555\n\
author A <a@x> 946684800 +0900\n\
committer C <c@x> 946684801 -0130\n\
encoding ISO-8859-1\n\
\n\
msg\n\nbody\n";
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(expected)
        );
        let h = parse_commit(raw).expect("parses");
        assert_eq!(h.parents.len(), 2);
        assert_eq!(h.committer_time, 946684801);
    }

    #[test]
    fn a_commit_draft_leaves_room_for_each_parent_and_fills_it_in_any_order() {
        let raw = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
parent 1111111111111111111111111111111111111111\n\
parent 2222222222222222222222222222222222222222\n\
author A <a@x> 946684800 +0900\n\
committer C <c@x> 946684801 -0130\n\
\n\
parent 9999999999999999999999999999999999999999 (in the message: kept)\n";
        let t = id("3333333333333333333333333333333333333333");
        let (p, q) = (
            id("4444444444444444444444444444444444444444"),
            id("5555555555555555555555555555555555555555"),
        );
        let mut draft = CommitDraft::new(raw, t, 2);
        let blank = String::from_utf8_lossy(&draft.data).to_string();
        assert!(blank.contains(&format!(
            "parent {}\nparent {}\n",
            "0".repeat(40),
            "0".repeat(40)
        )));
        draft.set_parent(1, &q);
        draft.set_parent(0, &p);
        draft.set_parent(2, &t); // no third parent line: nothing written
        assert_eq!(draft.data, edit_commit(raw, t, &[p, q]));
        assert!(String::from_utf8_lossy(&draft.data)
            .ends_with("parent 9999999999999999999999999999999999999999 (in the message: kept)\n"));
        // Fewer parents than parent lines: the extra lines go, as in `edit_commit`.
        let mut one = CommitDraft::new(raw, t, 1);
        one.set_parent(0, &p);
        assert_eq!(one.data, edit_commit(raw, t, &[p]));
        assert!(!String::from_utf8_lossy(&one.data).contains("2222"));
        assert_eq!(
            String::from_utf8_lossy(&one.data)
                .matches("\nparent ")
                .count(),
            2
        );
    }

    #[test]
    fn trees_sort_like_git_and_wrap_nests() {
        let a = id("1111111111111111111111111111111111111111");
        let entries = vec![
            Entry {
                mode: b"100644".to_vec(),
                name: b"a.tf".to_vec(),
                id: a,
            },
            Entry::tree("a", a),
        ];
        let data = encode_tree(entries);
        let parsed = parse_tree(&data).expect("parses");
        assert_eq!(parsed[0].name, b"a.tf");
        assert_eq!(parsed[1].name, b"a");
        let (root, objs) = wrap_tree(a, "dev/korea");
        assert_eq!(objs.len(), 2);
        assert_eq!(root, objs[1].id);
        let top = parse_tree(&objs[1].data).expect("parses");
        assert_eq!(top[0].name, b"dev");
        assert_eq!(top[0].id, objs[0].id);
    }

    #[test]
    fn tag_edit_renames_and_strips_the_signature() {
        let raw = b"object 1111111111111111111111111111111111111111\ntype commit\ntag v1.0.0\n\
tagger T <t@x> 946684800 +0000\n\nRelease 1\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n";
        let t = id("2222222222222222222222222222222222222222");
        let out = edit_tag(raw, t, "alb/v1.0.0");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "object 2222222222222222222222222222222222222222\ntype commit\ntag alb/v1.0.0\n\
tagger T <t@x> 946684800 +0000\n\nRelease 1\n"
        );
    }
}
