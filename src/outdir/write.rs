//! The one writer of the output directory. Every file tfmono writes beside the monorepos
//! (the journal and records, commit maps, `rollback.sh`, `push.sh`, the state scripts) goes
//! through [`write_file`] (data, 0644) or [`write_script`] (0755): a temporary file in the same
//! directory, written, given its final mode, fsync'd, renamed over the target, and the
//! directory fsync'd. A kill at any moment leaves the old file or the new one, never a
//! truncated one.
//!
//! Scripts are written by [`write_script`], which ends them with [`SCRIPT_END`]: a script
//! cut short by something else (a full disk, a hand edit, a copy gone wrong) lacks that last
//! line, and `verify` reports it.

use std::io::{self, Write};
use std::path::Path;

/// The last line of every script tfmono writes.
pub const SCRIPT_END: &str = "# end of tfmono script";

/// Whether a written file is a script (mode 0755) or data (0644).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Readable data.
    Data,
    /// An executable script.
    Executable,
}

/// Writes the data `bytes` to `path` atomically (mode 0644), creating the parent
/// directories: a crash leaves the old file or the new one.
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(path, bytes, Mode::Data)
}

/// Writes `bytes` to `path` atomically (temporary file, mode, fsync, rename, directory
/// fsync), creating the parent directories.
fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".tfmono-tmp");
    let tmp = dir.join(tmp_name);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let bits = match mode {
            Mode::Data => 0o644,
            Mode::Executable => 0o755,
        };
        f.set_permissions(std::fs::Permissions::from_mode(bits))?;
    }
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    // the rename itself is durable only once the directory is
    std::fs::File::open(dir)?.sync_all()
}

/// Writes the script `body` to `path` atomically and executable, ending with
/// [`SCRIPT_END`].
pub fn write_script(path: &Path, body: &str) -> io::Result<()> {
    let mut text = String::with_capacity(body.len() + SCRIPT_END.len() + 2);
    text.push_str(body);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(SCRIPT_END);
    text.push('\n');
    write_atomic(path, text.as_bytes(), Mode::Executable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_ends_with_the_marker_and_is_executable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a").join("x.sh");
        write_script(&p, "echo hi").expect("written");
        let text = std::fs::read_to_string(&p).expect("read");
        assert_eq!(text, format!("echo hi\n{SCRIPT_END}\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        let names: Vec<_> = std::fs::read_dir(p.parent().expect("dir"))
            .expect("ls")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("x.sh")]);
    }

    #[test]
    fn data_is_replaced_whole_and_not_executable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("j.json");
        write_file(&p, b"old").expect("written");
        write_file(&p, b"new").expect("rewritten");
        assert_eq!(std::fs::read(&p).expect("read"), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }
}
