//! One `git fast-import` process per repository, fed a stream of commands on its stdin.
//!
//! Writing never fails at the call site: the first I/O error is remembered, later writes are
//! skipped, and [`Importer::finish`] reports it together with what fast-import printed.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use super::Error;

/// A commit mark (`:N`) in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mark(pub(super) u32);

/// An author, committer or tagger.
#[derive(Debug, Clone, Copy)]
pub(super) struct Person {
    pub(super) name: &'static str,
    pub(super) email: &'static str,
    /// Raw timezone offset (`+0900`).
    pub(super) tz: &'static str,
}

/// A person at a time (seconds since the epoch).
#[derive(Debug, Clone, Copy)]
pub(super) struct Ident {
    pub(super) who: Person,
    pub(super) when: u64,
}

impl Ident {
    fn raw(&self) -> String {
        format!(
            "{} <{}> {} {}",
            self.who.name, self.who.email, self.when, self.who.tz
        )
    }
}

/// One file change of a commit: a path and its new content, or `None` to delete it.
pub(super) type Change<'a> = (&'a str, Option<&'a str>);

/// A commit to write.
pub(super) struct Commit<'a> {
    /// The ref the commit updates (`refs/heads/main`).
    pub(super) branch: &'a str,
    pub(super) author: Ident,
    pub(super) committer: Ident,
    pub(super) message: &'a str,
    /// Parents, first parent first; empty for a root commit.
    pub(super) parents: &'a [Mark],
    pub(super) changes: &'a [Change<'a>],
}

/// A running `git fast-import` on a fresh bare repository.
pub(super) struct Importer {
    repo: String,
    git_dir: PathBuf,
    child: Child,
    out: Option<BufWriter<ChildStdin>>,
    marks_file: PathBuf,
    commits: u32,
    error: Option<std::io::Error>,
}

/// Applies the hermetic environment every git child gets.
pub(super) fn hermetic(cmd: &mut Command) -> &mut Command {
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
}

fn run_git(repo: &str, what: &str, cmd: &mut Command) -> Result<Vec<u8>, Error> {
    let out = hermetic(cmd)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Spawn {
            what: what.to_string(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::Git {
            repo: repo.to_string(),
            what: what.to_string(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

impl Importer {
    /// Creates the bare repository `git_dir` (HEAD naming `default_branch`) and starts
    /// fast-import on it.
    pub(super) fn start(repo: &str, git_dir: &Path, default_branch: &str) -> Result<Self, Error> {
        run_git(
            repo,
            "init --bare",
            Command::new("git")
                .args(["init", "--bare", "--quiet", "--template="])
                .arg(format!("--initial-branch={default_branch}"))
                .arg(git_dir),
        )?;
        let marks_file = git_dir.join("orggen-marks");
        let mut child = hermetic(
            Command::new("git")
                .arg("--git-dir")
                .arg(git_dir)
                .args(["fast-import", "--quiet", "--date-format=raw"])
                .arg(format!("--export-marks={}", marks_file.display())),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn {
            what: "fast-import".into(),
            source,
        })?;
        let out = child
            .stdin
            .take()
            .map(|s| BufWriter::with_capacity(1 << 16, s));
        let mut importer = Importer {
            repo: repo.to_string(),
            git_dir: git_dir.to_path_buf(),
            child,
            out,
            marks_file,
            commits: 0,
            error: None,
        };
        importer.write(b"feature done\n");
        Ok(importer)
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Some(out) = self.out.as_mut() {
            if let Err(e) = out.write_all(bytes) {
                self.error = Some(e);
            }
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        self.write(format!("data {}\n", bytes.len()).as_bytes());
        self.write(bytes);
        self.write(b"\n");
    }

    /// Writes a commit and returns its mark.
    pub(super) fn commit(&mut self, c: &Commit<'_>) -> Mark {
        self.commits += 1;
        let mark = Mark(self.commits);
        let mut head = format!(
            "commit {}\nmark :{}\nauthor {}\ncommitter {}\n",
            c.branch,
            mark.0,
            c.author.raw(),
            c.committer.raw()
        );
        self.write(head.as_bytes());
        self.data(c.message.as_bytes());
        head.clear();
        for (i, p) in c.parents.iter().enumerate() {
            let kind = if i == 0 { "from" } else { "merge" };
            head.push_str(&format!("{kind} :{}\n", p.0));
        }
        self.write(head.as_bytes());
        for (path, content) in c.changes {
            match content {
                Some(text) => {
                    self.write(format!("M 100644 inline {path}\n").as_bytes());
                    self.data(text.as_bytes());
                }
                None => self.write(format!("D {path}\n").as_bytes()),
            }
        }
        self.write(b"\n");
        mark
    }

    /// Points `refs/tags/<name>` at a commit (a lightweight tag).
    pub(super) fn lightweight_tag(&mut self, name: &str, target: Mark) {
        self.write(format!("reset refs/tags/{name}\nfrom :{}\n\n", target.0).as_bytes());
    }

    /// Deletes a branch written earlier in this stream: fast-import never writes it, so only
    /// the tags keep its commits (a repo whose default branch was deleted).
    pub(super) fn delete_branch(&mut self, branch: &str) {
        self.write(format!("reset {branch}\n\n").as_bytes());
    }

    /// Writes an annotated tag object `name` for a commit.
    pub(super) fn annotated_tag(&mut self, name: &str, target: Mark, tagger: Ident, message: &str) {
        self.write(format!("tag {name}\nfrom :{}\ntagger {}\n", target.0, tagger.raw()).as_bytes());
        self.data(message.as_bytes());
    }

    /// Ends the stream, waits for fast-import and returns the number of commits written and
    /// the commit ids of `wanted` marks, in order.
    pub(super) fn finish(mut self, wanted: &[Mark]) -> Result<(usize, Vec<String>), Error> {
        self.write(b"done\n");
        if let Some(mut out) = self.out.take() {
            if let Err(e) = out.flush() {
                self.error.get_or_insert(e);
            }
        }
        let output = self
            .child
            .wait_with_output()
            .map_err(|source| Error::Spawn {
                what: "fast-import".into(),
                source,
            })?;
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if !output.status.success() || self.error.is_some() {
            let mut message = stderr;
            if let Some(e) = &self.error {
                message = format!("{message} (writing its input: {e})");
            }
            return Err(Error::Git {
                repo: self.repo,
                what: "fast-import".into(),
                message,
            });
        }
        let marks = std::fs::read_to_string(&self.marks_file).map_err(|source| Error::Io {
            path: self.marks_file.clone(),
            source,
        })?;
        let _ = std::fs::remove_file(&self.marks_file);
        let mut ids = Vec::with_capacity(wanted.len());
        for want in wanted {
            let prefix = format!(":{} ", want.0);
            let id = marks
                .lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .ok_or_else(|| Error::Git {
                    repo: self.repo.clone(),
                    what: "fast-import".into(),
                    message: format!(
                        "mark :{} missing from the exported marks in {}",
                        want.0,
                        self.git_dir.display()
                    ),
                })?;
            ids.push(id.trim().to_string());
        }
        Ok((self.commits as usize, ids))
    }
}
