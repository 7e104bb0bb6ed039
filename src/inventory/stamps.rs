//! Stat stamps of a plain bare repo's ref files: what tells a later run, by `stat` alone, that
//! none of them changed since they were read, so the refs read then are the refs now.
//!
//! A re-run of `apply` over 1,000 legacy repos read every ref file of every repo (thousands
//! of loose refs: an `open`, a `read` and a `close` each, and each directory listed) to find
//! the one repo that moved. The reading ([`super::ref_files::read_stamped`]) stamps what it
//! reads: the git directory itself, `HEAD`, `packed-refs` and each directory and loose file
//! under `refs/heads` and `refs/tags`, each stamped *before* its content is read (a directory
//! before it is listed, a file through its open descriptor before its bytes). A later run
//! `stat`s the same paths: the same device, inode, size, modification and change times for
//! every one (and the same absent paths absent) means the same refs.
//!
//! Why that holds: git and every tool built like it (gix, libgit2, JGit) write a ref,
//! `packed-refs` or `HEAD` to a lock file renamed over the old one: a new inode, and new
//! times of the directory; a ref created or deleted changes its directory's times; a file
//! written in place changes its own times. The one hole is a change within the same tick of
//! a coarse file-system clock as the stamp: a reading that sees any time less than [`RACY`]
//! before it started records no stamps at all, and the next run reads the files (as git
//! treats its "racily clean" index entries). Any doubt (a path that cannot be stamped, a
//! name the record cannot hold, a record that does not parse) means the files are read.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How long before a reading a change must be for its stamps to be trusted: file-system
/// clocks tick coarsely (a few milliseconds; seconds on some), so a change right after a
/// stamp may carry the stamp's very times.
pub(super) const RACY: Duration = Duration::from_secs(1);

/// What `stat` says of one path that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    /// Modification time, nanoseconds since the epoch.
    mtime: i128,
    /// Status change time, nanoseconds since the epoch.
    ctime: i128,
}

impl Stamp {
    fn of(m: &Metadata) -> Stamp {
        let ns = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: ns(m.mtime(), m.mtime_nsec()),
            ctime: ns(m.ctime(), m.ctime_nsec()),
        }
    }
}

/// The stamps one reading of a repo's ref files is taking (see the module's doc).
#[derive(Debug)]
pub(super) struct Taking {
    started: SystemTime,
    /// Each path (relative to the git directory) with its stamp, `None` when absent.
    entries: Vec<(String, Option<Stamp>)>,
    doubt: bool,
}

impl Taking {
    /// Starts a reading now.
    pub(super) fn new() -> Taking {
        Taking {
            started: SystemTime::now(),
            entries: Vec::new(),
            doubt: false,
        }
    }

    /// Stamps `path` (relative to the git directory) with what `stat` (or `fstat` on its
    /// open descriptor) said: not found is a stamp too; any other error is a doubt.
    pub(super) fn note(&mut self, path: &str, meta: &std::io::Result<Metadata>) {
        match meta {
            Ok(m) => self.entries.push((path.to_string(), Some(Stamp::of(m)))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.entries.push((path.to_string(), None));
            }
            Err(_) => self.doubt = true,
        }
    }

    /// The stamps taken, if they can be trusted: no doubt, no path the record cannot hold,
    /// and no time less than [`RACY`] before the reading started (nor after it).
    pub(super) fn finish(self) -> Option<Stamps> {
        if self.doubt || self.entries.is_empty() {
            return None;
        }
        let started = self.started.duration_since(UNIX_EPOCH).ok()?;
        let limit = i128::try_from(started.saturating_sub(RACY).as_nanos()).ok()?;
        let racy = |s: &Option<Stamp>| s.is_some_and(|s| s.mtime >= limit || s.ctime >= limit);
        if self
            .entries
            .iter()
            .any(|(path, stamp)| path.is_empty() || path.contains([' ', ';']) || racy(stamp))
        {
            return None;
        }
        let mut digest = Digest::new();
        for (path, stamp) in &self.entries {
            digest.add(path, stamp.as_ref());
        }
        let paths: Vec<&str> = self.entries.iter().map(|(p, _)| p.as_str()).collect();
        Some(Stamps(format!("{} {}", digest.hex(), paths.join(";"))))
    }
}

/// The digest of the stamps of a list of paths (each path with what `stat` said of it).
struct Digest(sha1::Sha1);

impl Digest {
    fn new() -> Digest {
        Digest(sha1::Digest::new())
    }

    /// Adds `path` and its stamp (the numbers as bytes: no text is made for each of
    /// thousands of paths).
    fn add(&mut self, path: &str, stamp: Option<&Stamp>) {
        use sha1::Digest as _;
        self.0.update(path.as_bytes());
        match stamp {
            Some(s) => {
                self.0.update(b"\0");
                self.0.update(s.dev.to_le_bytes());
                self.0.update(s.ino.to_le_bytes());
                self.0.update(s.size.to_le_bytes());
                self.0.update(s.mtime.to_le_bytes());
                self.0.update(s.ctime.to_le_bytes());
            }
            None => self.0.update(b"\0-"),
        }
        self.0.update(b"\n");
    }

    fn hex(self) -> String {
        sha1::Digest::finalize(self.0)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The stamps of one reading, as recorded: the digest of what `stat` said of each stamped
/// path (see [`Digest`]), a space, then the paths relative to the git directory, `;` between
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Stamps(String);

impl Stamps {
    /// Whether every path these stamps name under `git_dir` is still as stamped (see the
    /// module's doc); `false` at any doubt.
    pub fn hold(&self, git_dir: &Path) -> bool {
        let Some((digest, paths)) = self.0.split_once(' ') else {
            return false;
        };
        let mut now = Digest::new();
        for path in paths.split(';') {
            if path.is_empty() {
                return false;
            }
            match std::fs::metadata(git_dir.join(path)) {
                Ok(m) => now.add(path, Some(&Stamp::of(&m))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => now.add(path, None),
                Err(_) => return false,
            }
        }
        now.hex() == digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamped(dir: &Path, paths: &[&str]) -> Taking {
        let mut t = Taking::new();
        for p in paths {
            t.note(p, &std::fs::metadata(dir.join(p)));
        }
        t
    }

    /// Waits until what was just written is old enough for its stamps to be trusted.
    fn settle() {
        std::thread::sleep(RACY + Duration::from_millis(50));
    }

    /// The stamps of `paths` under `dir` once what was just written there is old enough.
    fn settled(dir: &Path, paths: &[&str]) -> Stamps {
        settle();
        stamped(dir, paths).finish().expect("old enough")
    }

    #[test]
    fn recent_changes_give_no_stamps_and_old_ones_hold_until_anything_changes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        std::fs::write(dir.join("HEAD"), "ref: refs/heads/main\n").expect("write");
        // Just written: its times are now, which a stamp cannot be trusted with.
        assert_eq!(stamped(dir, &["HEAD", "packed-refs"]).finish(), None);
        // Its modification time set back: the change time is still now.
        let old = SystemTime::now() - Duration::from_secs(10);
        std::fs::File::options()
            .write(true)
            .open(dir.join("HEAD"))
            .and_then(|f| f.set_modified(old))
            .expect("set mtime");
        assert_eq!(stamped(dir, &["HEAD"]).finish(), None);
        let stamps = settled(dir, &["HEAD", "packed-refs"]);
        assert!(stamps.0.ends_with(" HEAD;packed-refs"), "{}", stamps.0);
        assert!(stamps.hold(dir));
        // Written in place with the same size: the times differ.
        std::fs::write(dir.join("HEAD"), "ref: refs/heads/mast\n").expect("write");
        assert!(!stamps.hold(dir), "HEAD rewritten in place");
        // Replaced through a rename, with the old modification time: another inode.
        let stamps = settled(dir, &["HEAD", "packed-refs"]);
        let modified = std::fs::metadata(dir.join("HEAD"))
            .and_then(|m| m.modified())
            .expect("mtime");
        std::fs::write(dir.join("HEAD.lock"), "ref: refs/heads/main\n").expect("write");
        std::fs::File::options()
            .write(true)
            .open(dir.join("HEAD.lock"))
            .and_then(|f| f.set_modified(modified))
            .expect("set mtime");
        std::fs::rename(dir.join("HEAD.lock"), dir.join("HEAD")).expect("rename");
        assert!(!stamps.hold(dir), "HEAD replaced");
        // A path that was absent appears.
        let stamps = settled(dir, &["HEAD", "packed-refs"]);
        assert!(stamps.hold(dir));
        std::fs::write(dir.join("packed-refs"), "").expect("write");
        assert!(!stamps.hold(dir), "packed-refs appeared");
        // One that was there is gone.
        let stamps = settled(dir, &["HEAD", "packed-refs"]);
        assert!(stamps.hold(dir));
        std::fs::remove_file(dir.join("packed-refs")).expect("rm");
        assert!(!stamps.hold(dir), "packed-refs gone");
        // A directory gains an entry.
        std::fs::create_dir(dir.join("refs")).expect("mkdir");
        let stamps = settled(dir, &["refs"]);
        assert!(stamps.hold(dir));
        std::fs::write(dir.join("refs/x"), "").expect("write");
        assert!(!stamps.hold(dir), "a new file in refs");
    }

    #[test]
    fn doubts_give_no_stamps_and_damaged_records_never_hold() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        std::fs::write(dir.join("HEAD"), "x").expect("write");
        settle();
        let mut t = stamped(dir, &["HEAD"]);
        t.note("x", &Err(std::io::Error::other("denied")));
        assert_eq!(t.finish(), None, "a path that could not be stamped");
        assert_eq!(stamped(dir, &["HEAD", "a b"]).finish(), None);
        assert_eq!(stamped(dir, &["HEAD", "a;b"]).finish(), None);
        assert_eq!(stamped(dir, &["HEAD", ""]).finish(), None);
        assert_eq!(Taking::new().finish(), None, "nothing stamped");
        let good = stamped(dir, &["HEAD"]).finish().expect("old enough");
        assert!(good.hold(dir));
        // Another digest, or another list of paths.
        let (digest, paths) = good.0.split_once(' ').expect("digest and paths");
        let last = if digest.ends_with('0') { '1' } else { '0' };
        let other = format!("{}{last}", &digest[..39]);
        assert!(
            !Stamps(format!("{other} {paths}")).hold(dir),
            "another digest"
        );
        assert!(
            !Stamps(format!("{digest} {paths};gone")).hold(dir),
            "one more path"
        );
        assert!(
            !Stamps(format!("{digest} {paths};")).hold(dir),
            "an empty path"
        );
        for bad in [
            String::new(),
            "HEAD".into(),
            " HEAD".into(),
            format!("{digest} "),
        ] {
            assert!(!Stamps(bad.clone()).hold(dir), "{bad:?}");
        }
        // An absent path stamps as absent, and no longer holds once it is there.
        let absent = stamped(dir, &["gone"]).finish().expect("absent is a stamp");
        assert!(absent.hold(dir));
        std::fs::create_dir(dir.join("gone")).expect("mkdir");
        assert!(!absent.hold(dir));
        // A path absent then, that now cannot even be looked at (a file is where its
        // directory was): an error, not an absence, so it does not hold.
        let below = stamped(dir, &["f/x"]).finish().expect("absent is a stamp");
        assert!(below.hold(dir));
        std::fs::write(dir.join("f"), "").expect("write");
        assert!(!below.hold(dir));
    }

    #[test]
    fn stamps_keep_the_times_to_the_nanosecond() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("HEAD");
        std::fs::write(&path, "x").expect("write");
        let at = UNIX_EPOCH + Duration::new(1_600_000_000, 123_456_789);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(at))
            .expect("set mtime");
        let stamp = Stamp::of(&std::fs::metadata(&path).expect("stat"));
        assert_eq!(stamp.mtime, 1_600_000_000_123_456_789);
        assert_eq!(stamp.size, 1);
    }
}
