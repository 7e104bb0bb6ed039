//! The branches, tags and HEAD of a plain bare repo read straight from its ref files: the
//! `packed-refs` file and the loose files under `refs/heads` and `refs/tags`, a loose ref
//! winning over a packed one of the same name (as git and gix read them).
//!
//! Every run of `apply` reads the refs of every legacy repo to find the ones that moved: at
//! 1,000 repos this listing was a third of a re-sync, most of it in the general-purpose ref
//! store's checks (two `stat`s of each directory and ref, the packed buffer looked up per
//! prefix). This reader does only what a plain repo needs, and gives up at the first thing
//! it does not know (a lock file, a name git would refuse, a line of `packed-refs` that is
//! neither a ref nor a peeled id, a symlink): the caller then reads the repo with gix, which
//! is the reference this one is tested against and which also says what is wrong.

use std::collections::BTreeMap;
use std::path::Path;

use gix::ObjectId;

use super::stamps::{Stamps, Taking};

/// Ref names with the object each names, sorted by name.
pub(super) type Listed = Vec<(String, ObjectId)>;

/// What [`read`] found: the branches and the tags (each sorted by name, symbolic refs left
/// out) and the ref HEAD names (`None` when it is detached).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct RefFiles {
    pub branches: Listed,
    pub tags: Listed,
    pub head: Option<String>,
}

/// The refs of the git directory `git_dir`; `None` at any doubt (see the module's doc).
pub(super) fn read(git_dir: &Path) -> Option<RefFiles> {
    read_with(git_dir, None)
}

/// [`read`], with the stamps of what it read (see [`super::stamps`]): `None` when they
/// cannot be trusted.
pub(super) fn read_stamped(git_dir: &Path) -> Option<(RefFiles, Option<Stamps>)> {
    let mut taking = Taking::new();
    // The directory itself: a file renamed into it (a new HEAD, a new packed-refs) or a
    // file added to it (a `commondir`, a `.git`) changes its times.
    taking.note(".", &std::fs::metadata(git_dir));
    let found = read_with(git_dir, Some(&mut taking))?;
    Some((found, taking.finish()))
}

/// [`read`], stamping each path before its content is read when `taking`.
fn read_with(git_dir: &Path, mut taking: Option<&mut Taking>) -> Option<RefFiles> {
    // By name: the object, or `None` for a symbolic ref (which hides a packed one).
    let mut refs: BTreeMap<String, Option<ObjectId>> = BTreeMap::new();
    match read_file(&git_dir.join("packed-refs"), "packed-refs", &mut taking) {
        Ok(bytes) => packed(&bytes, &mut refs)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => return None,
    }
    for prefix in ["refs/heads", "refs/tags"] {
        loose(&git_dir.join(prefix), prefix, &mut refs, &mut taking)?;
    }
    let head = head(&read_file(&git_dir.join("HEAD"), "HEAD", &mut taking).ok()?)?;
    let (mut branches, mut tags) = (Vec::new(), Vec::new());
    for (name, id) in refs {
        let Some(id) = id else { continue };
        if name.starts_with("refs/heads/") {
            branches.push((name, id));
        } else if name.starts_with("refs/tags/") {
            tags.push((name, id));
        }
    }
    Some(RefFiles {
        branches,
        tags,
        head,
    })
}

/// Adds the branches and tags of a `packed-refs` file to `refs`.
fn packed(bytes: &[u8], refs: &mut BTreeMap<String, Option<ObjectId>>) -> Option<()> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.split('\n').peekable();
    if lines
        .peek()
        .is_some_and(|l| l.starts_with("# pack-refs with:"))
    {
        lines.next();
    }
    let mut after_ref = false;
    for line in lines {
        if line.is_empty() {
            after_ref = false;
            continue;
        }
        if let Some(peeled) = line.strip_prefix('^') {
            // The object an annotated tag peels to, after its ref's line.
            (after_ref && object_id(peeled).is_some()).then_some(())?;
            after_ref = false;
            continue;
        }
        let (id, name) = line.split_once(' ')?;
        let id = object_id(id)?;
        valid_name(name)?;
        if name.starts_with("refs/heads/") || name.starts_with("refs/tags/") {
            refs.insert(name.to_string(), Some(id));
        }
        after_ref = true;
    }
    Some(())
}

/// Adds the loose refs under `dir` (the directory of ref prefix `prefix`) to `refs`,
/// stamping the directory before it is listed when `taking`.
fn loose(
    dir: &Path,
    prefix: &str,
    refs: &mut BTreeMap<String, Option<ObjectId>>,
    taking: &mut Option<&mut Taking>,
) -> Option<()> {
    if let Some(t) = taking.as_deref_mut() {
        t.note(prefix, &std::fs::metadata(dir));
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(()),
        Err(_) => return None,
    };
    for entry in entries {
        let entry = entry.ok()?;
        let file_name = entry.file_name();
        let name = format!("{prefix}/{}", file_name.to_str()?);
        let kind = entry.file_type().ok()?;
        if kind.is_dir() {
            loose(&entry.path(), &name, refs, taking)?;
        } else if kind.is_file() {
            valid_name(&name)?;
            let target = loose_target(&read_file(&entry.path(), &name, taking).ok()?)?;
            refs.insert(name, target);
        } else {
            return None;
        }
    }
    Some(())
}

/// The bytes of the file at `path`, without asking its size first (`std::fs::read` and
/// `File::read_to_end` do: one more system call for each of thousands of ref files of 41
/// bytes; through `take` the file is only read). When `taking`, the open file is stamped
/// (as `name`) before it is read; a missing file is stamped as missing.
fn read_file(
    path: &Path,
    name: &str,
    taking: &mut Option<&mut Taking>,
) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(64);
    let file = std::fs::File::open(path);
    if let Some(t) = taking.as_deref_mut() {
        match &file {
            Ok(f) => t.note(name, &f.metadata()),
            Err(e) => t.note(name, &Err(std::io::Error::from(e.kind()))),
        }
    }
    file?.take(u64::MAX).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The object a loose ref file names (`Some(None)`: it is symbolic).
fn loose_target(bytes: &[u8]) -> Option<Option<ObjectId>> {
    let text = std::str::from_utf8(bytes).ok()?.trim_end();
    match text.strip_prefix("ref: ") {
        Some(target) => {
            valid_name(target)?;
            Some(None)
        }
        None => Some(Some(object_id(text)?)),
    }
}

/// The ref a HEAD file names (`Some(None)`: detached).
fn head(bytes: &[u8]) -> Option<Option<String>> {
    let text = std::str::from_utf8(bytes).ok()?.trim_end();
    match text.strip_prefix("ref: ") {
        Some(target) => {
            valid_name(target)?;
            Some(Some(target.to_string()))
        }
        None => object_id(text).map(|_| None),
    }
}

/// A full SHA-1 id in lower-case hex.
fn object_id(hex: &str) -> Option<ObjectId> {
    (hex.len() == 40 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| ObjectId::from_hex(hex.as_bytes()).ok())
        .flatten()
}

/// A ref name git accepts (a lock file, say, is not one).
fn valid_name(name: &str) -> Option<()> {
    gix::validate::reference::name(name.into()).ok().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::super::test_git as git;
    use super::*;

    /// What gix's ref store reads of the same directory (the inventory's other reader).
    fn by_gix(git_dir: &Path) -> RefFiles {
        let store = gix::refs::file::Store::at(git_dir.to_owned(), gix::hash::Kind::Sha1);
        let corrupt = |what: &str, e: &dyn std::fmt::Display| super::super::Error::Corrupt {
            repo: "legacy".into(),
            path: git_dir.to_owned(),
            what: what.to_string(),
            message: e.to_string(),
        };
        super::super::read::store_refs(&store, &corrupt).expect("gix reads the refs")
    }

    /// A bare repo with packed and loose branches and tags (nested names, an annotated tag
    /// with its peeled line, a loose ref newer than its packed value, a symbolic branch).
    fn repo(root: &Path) -> std::path::PathBuf {
        let work = root.join("work");
        std::fs::create_dir_all(&work).expect("mkdir");
        git(&work, &["init", "-q", "-b", "main"]);
        for i in 0..3 {
            std::fs::write(work.join("main.tf"), format!("# {i}\n")).expect("write");
            git(&work, &["add", "."]);
            git(&work, &["commit", "-qm", &format!("c{i}")]);
            git(&work, &["tag", &format!("v{i}.0.0")]);
        }
        git(
            &work,
            &["tag", "-a", "-m", "annotated", "release/v9", "HEAD~1"],
        );
        git(&work, &["branch", "feature/deep/x", "HEAD~2"]);
        let bare = root.join("legacy.git");
        git(root, &["clone", "-q", "--bare", "work", "legacy.git"]);
        git(&bare, &["pack-refs", "--all"]);
        // Loose, after packing: a moved branch, a new tag, a symbolic branch.
        git(&bare, &["update-ref", "refs/heads/main", "HEAD~1"]);
        git(&bare, &["tag", "v10.0.0", "HEAD~1"]);
        git(
            &bare,
            &["symbolic-ref", "refs/heads/alias", "refs/heads/main"],
        );
        bare
    }

    #[test]
    fn reads_what_gix_reads_packed_loose_nested_and_symbolic() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let bare = repo(tmp.path());
        let packed = std::fs::read_to_string(bare.join("packed-refs")).expect("packed-refs");
        assert!(packed.contains("\n^"), "a peeled line: {packed}");
        let fast = read(&bare).expect("a plain repo");
        assert_eq!(fast, by_gix(&bare));
        assert_eq!(fast.head.as_deref(), Some("refs/heads/main"));
        let names: Vec<&str> = fast.branches.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["refs/heads/feature/deep/x", "refs/heads/main"]);
        assert_eq!(fast.tags.len(), 5);
        // The loose value of main wins over its packed one.
        let main = git(&bare, &["rev-parse", "refs/heads/main"]);
        assert_eq!(fast.branches[1].1.to_string(), main);
        // Unpacked and detached: still the same as gix.
        std::fs::remove_file(bare.join("packed-refs")).expect("rm");
        git(&bare, &["update-ref", "--no-deref", "HEAD", &main]);
        let fast = read(&bare).expect("a plain repo");
        assert_eq!(fast, by_gix(&bare));
        assert_eq!(fast.head, None);
    }

    #[test]
    fn anything_unusual_is_left_to_gix() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let bare = repo(tmp.path());
        assert!(read(&bare).is_some());
        let lock = bare.join("refs/heads/main.lock");
        std::fs::write(&lock, "0000000000000000000000000000000000000000\n").expect("lock");
        assert!(read(&bare).is_none(), "a lock file");
        std::fs::remove_file(&lock).expect("rm");
        let junk = bare.join("refs/tags/junk");
        std::fs::write(&junk, "not an id\n").expect("junk");
        assert!(read(&bare).is_none(), "a loose ref that names nothing");
        std::fs::remove_file(&junk).expect("rm");
        let packed = bare.join("packed-refs");
        let text = std::fs::read_to_string(&packed).expect("packed-refs");
        std::fs::write(&packed, format!("{text}garbage line\n")).expect("write");
        assert!(read(&bare).is_none(), "a packed line that is no ref");
        let (header, refs) = text.split_once('\n').expect("a header line");
        let peeled = format!("^{}\n", "a".repeat(40));
        std::fs::write(&packed, format!("{header}\n{peeled}{refs}")).expect("write");
        assert!(read(&bare).is_none(), "a peeled line after no ref");
        let first = refs.split_inclusive('\n').next().expect("a ref line");
        std::fs::write(&packed, format!("{header}\n{first}{peeled}")).expect("write");
        assert!(read(&bare).is_some(), "a peeled line after a ref");
        std::fs::write(&packed, format!("{header}\n{first}^{}\n", "z".repeat(40))).expect("write");
        assert!(read(&bare).is_none(), "a peeled line that is no id");
        std::fs::write(&packed, &text).expect("write");
        // Files that cannot be read as such (not merely missing).
        std::fs::remove_file(&packed).expect("rm");
        std::fs::create_dir(&packed).expect("mkdir");
        assert!(read(&bare).is_none(), "a packed-refs that is a directory");
        std::fs::remove_dir(&packed).expect("rmdir");
        let tags = bare.join("refs/tags");
        std::fs::rename(&tags, bare.join("tags-aside")).expect("mv");
        assert!(read(&bare).is_some(), "no loose tags at all");
        std::fs::write(&tags, "").expect("write");
        assert!(read(&bare).is_none(), "refs/tags that is a file");
        std::fs::remove_file(&tags).expect("rm");
        std::fs::rename(bare.join("tags-aside"), &tags).expect("mv");
        std::fs::write(&packed, &text).expect("write");
        std::fs::write(bare.join("HEAD"), "garbage\n").expect("HEAD");
        assert!(read(&bare).is_none(), "a HEAD that is neither");
        assert_eq!(loose_target(b"ref: refs/heads/x\n"), Some(None));
        assert_eq!(loose_target(b"ref: refs/heads/x.lock\n"), None);
        assert_eq!(
            object_id(&"A".repeat(40)),
            None,
            "upper case is not what git writes"
        );
        // A packed-refs file of many refs is read whole.
        let big: String = (0..500)
            .map(|i| format!("{} refs/tags/t{i}\n", "b".repeat(40)))
            .collect();
        std::fs::write(&packed, &big).expect("write");
        assert_eq!(
            read_file(&packed, "packed-refs", &mut None).expect("read"),
            big.as_bytes()
        );
    }
}
