//! Crash safety of `apply`: SIGKILL at any moment and Ctrl-C, then a re-run, converge to the
//! same monorepos as an uninterrupted run; a crash inside the ref transaction or while loose
//! refs are folded into packed-refs does not block the re-run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::common::git::{commit, refs};
use crate::common::org::{files_below, mini_org, monorepos, publish, MiniOpts, API};
use crate::common::{git, ok, run, tempdir, tfmono};

#[test]
fn sigkill_at_any_moment_then_rerun_converges_and_ctrl_c_stops_cleanly() {
    let tmp = tempdir();
    let org = tmp.path().join("org");
    ok(
        tmp.path(),
        &[
            "gen-org",
            "org",
            "--bench",
            "--repos",
            "6",
            "--commits",
            "1500",
            "--big",
            "15000",
            "--quiet",
        ],
    );
    let t0 = Instant::now();
    let a = apply_cmd(&org, "out-a").output().expect("apply runs");
    let first = t0.elapsed();
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    // The kill moments are fractions of an uninterrupted run: time a second one too (warm
    // caches, like the runs that get killed) and take the shorter, so that a slow first
    // run on a busy machine does not put every kill after the end.
    let t1 = Instant::now();
    let b = apply_cmd(&org, "out-b").output().expect("apply runs");
    let full = first.min(t1.elapsed());
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    eprintln!("uninterrupted apply: {first:?}, then {:?}", t1.elapsed());
    let expected = snapshot(&org.join("out-a"));
    assert_eq!(
        expected.len(),
        6,
        "3 monorepos and 3 commit maps: {:?}",
        expected.keys()
    );

    // SIGKILL at spread-out moments, each into a fresh directory; the last directory is
    // killed twice before the run that completes.
    let fractions = [0.1, 0.3, 0.5, 0.7, 0.9];
    let mut killed_midway = 0;
    for (i, f) in fractions.iter().enumerate() {
        let out = format!("out-kill-{i}");
        let kills: &[f64] = if i + 1 == fractions.len() {
            &[*f, 0.45]
        } else {
            &[*f]
        };
        for k in kills {
            let mut child = apply_cmd(&org, &out)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            std::thread::sleep(full.mul_f64(*k));
            let finished = child.try_wait().expect("try_wait").is_some();
            if !finished {
                killed_midway += 1;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let r = apply_cmd(&org, &out).output().expect("re-run");
        assert!(
            r.status.success(),
            "re-run after SIGKILL at {f}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        // Verify (slow) on two of them; refs, commit maps and fsck on all.
        assert_converged(&org, &out, &expected, i % 2 == 0);
    }
    assert!(
        killed_midway >= 3,
        "only {killed_midway} kills hit a running apply"
    );

    // Ctrl-C midway: a clear message, a non-zero exit, then a re-run converges.
    let o = interrupted_apply(&org, "out-int", full.mul_f64(0.6));
    let stderr = String::from_utf8_lossy(&o.stderr);
    if o.status.success() {
        eprintln!("SIGINT came after apply finished ({full:?}); nothing to check but convergence");
    } else {
        assert_eq!(o.status.code(), Some(2), "exit code after Ctrl-C: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.contains("interrupted") && stderr.contains("run the same command again"),
            "{stderr}"
        );
    }
    let r = apply_cmd(&org, "out-int").output().expect("re-run");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_converged(&org, "out-int", &expected, true);

    // Ctrl-C while the legacy repos are still being read and planned: the same clear
    // stop (it used to kill the run without a word), nothing imported, and a re-run converges.
    let early = full.mul_f64(0.05).max(std::time::Duration::from_millis(30));
    let o = interrupted_apply(&org, "out-early", early);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(2),
        "exit code after an early Ctrl-C: {stderr}"
    );
    assert!(
        stderr.contains("interrupted") && stderr.contains("run the same command again"),
        "{stderr}"
    );
    let r = apply_cmd(&org, "out-early").output().expect("re-run");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_converged(&org, "out-early", &expected, false);
}

#[test]
fn a_crash_inside_the_ref_transaction_does_not_block_the_rerun() {
    // The state a SIGKILL between locking and committing the refs leaves (seen with a kill
    // ~90% into an apply of the bench org): objects and commit map written, refs not
    // moved, the lock files still there: `packed-refs.lock` half written, and the locks of
    // refs that also exist as loose files. Simulated exactly here, since the window is too
    // short to hit reliably with a timed kill.
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let w = root.join(format!("work-{API}"));
    commit(&w, &[("new.tf", "# more\n")], "More deployment");
    publish(root, API);
    let live = root.join("out/live.git");
    let old_main = git(&live, &["rev-parse", "main"]);
    let packed = std::fs::read(live.join("packed-refs")).expect("refs are packed");
    std::fs::write(live.join("packed-refs.lock"), &packed[..packed.len() / 2]).expect("write lock");
    for lock in [
        "refs/heads/main.lock",
        "refs/heads/import/api-static-dev-korea/main.lock",
    ] {
        let lock = live.join(lock);
        std::fs::create_dir_all(lock.parent().expect("parent")).expect("mkdir");
        std::fs::write(lock, &old_main).expect("write lock");
    }
    let r = run(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    assert_eq!(
        r.code,
        Some(0),
        "the re-run after a crash failed: {}",
        r.stderr
    );
    let leftover: Vec<String> = files_below(&live)
        .into_iter()
        .filter(|f| f.ends_with(".lock"))
        .collect();
    assert!(leftover.is_empty(), "stale locks left: {leftover:?}");
    let log = git(&live, &["log", "--format=%s", "main"]);
    assert!(log.contains("More deployment"), "{log}");
    let v = ok(root, &["verify", "mapping.hcl", "--out", "out"]);
    assert!(v.stdout.contains("verified"), "{}", v.stdout);
}

#[test]
fn a_crash_while_loose_refs_are_folded_into_packed_refs_converges_on_the_rerun() {
    // Refs are moved in one rename of packed-refs. A moved ref that also exists as a loose
    // file (here `main`, moved by hand with git) is first folded into packed-refs with its
    // current value and its loose file deleted, so nothing shadows the new values. A SIGKILL
    // in between leaves both copies (same value) and the locks, simulated here with
    // `git pack-refs --no-prune`: the re-run must reach the uninterrupted result.
    let tmp = tempdir();
    let root = tmp.path();
    mini_org(root, &MiniOpts::default());
    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let live = root.join("out/live.git");
    let main = git(&live, &["rev-parse", "main"]).trim().to_string();
    let tree = git(&live, &["rev-parse", "main^{tree}"]).trim().to_string();
    let by_hand = git(&live, &["commit-tree", &tree, "-p", &main, "-m", "Work"]);
    git(&live, &["update-ref", "refs/heads/main", by_hand.trim()]);
    assert!(
        live.join("refs/heads/main").is_file(),
        "git wrote main loose"
    );
    let w = root.join(format!("work-{API}"));
    commit(&w, &[("new.tf", "# more\n")], "More deployment");
    publish(root, API);
    let status = std::process::Command::new("cp")
        .args(["-a", "out", "out-killed"])
        .current_dir(root)
        .status()
        .expect("cp runs");
    assert!(status.success());

    ok(root, &["apply", "mapping.hcl", "--out", "out", "--quiet"]);
    let expected = refs(&live);
    assert!(!live.join("refs/heads/main").exists(), "loose main left");
    assert!(git(&live, &["log", "--format=%s", "main"]).contains("Work"));

    let killed = root.join("out-killed/live.git");
    let before = refs(&killed);
    git(&killed, &["pack-refs", "--all", "--no-prune"]);
    std::fs::write(killed.join("refs/heads/main.lock"), "").expect("write lock");
    std::fs::write(killed.join("packed-refs.lock"), "").expect("write lock");
    assert_eq!(refs(&killed), before, "folding changes no value");
    ok(
        root,
        &["apply", "mapping.hcl", "--out", "out-killed", "--quiet"],
    );
    assert_eq!(refs(&killed), expected);
    assert!(!killed.join("refs/heads/main").exists(), "loose main left");
    let locks: Vec<String> = files_below(&killed)
        .into_iter()
        .filter(|f| f.ends_with(".lock"))
        .collect();
    assert!(locks.is_empty(), "stale locks left: {locks:?}");
    git(&killed, &["fsck", "--full", "--no-dangling"]);
    let v = ok(root, &["verify", "mapping.hcl", "--out", "out-killed"]);
    assert!(v.stdout.contains("verified"), "{}", v.stdout);
}

/// The refs of every monorepo and every commit map under `out`.
fn snapshot(out: &Path) -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    for m in monorepos(out) {
        let name = m.file_name().expect("name").to_string_lossy().into_owned();
        s.insert(name, refs(&m));
    }
    for f in files_below(out) {
        // the commit maps: one directory per monorepo, with an index
        if let Some(dir) = f
            .strip_suffix("/index")
            .filter(|d| d.ends_with(".commit-map") && !d.contains('/'))
        {
            s.insert(dir.to_string(), crate::common::commit_map(&out.join(dir)));
        }
    }
    s
}

/// An apply into `out` sent SIGINT (Ctrl-C) `after` its start, as it ended.
fn interrupted_apply(org: &Path, out: &str, after: std::time::Duration) -> std::process::Output {
    let child = apply_cmd(org, out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(after);
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    child.wait_with_output().expect("wait")
}

fn apply_cmd(org: &Path, out: &str) -> Command {
    let mut c = tfmono();
    c.current_dir(org)
        .args(["apply", "mapping.hcl", "--out", out, "--quiet"]);
    c
}

fn assert_converged(org: &Path, out: &str, expected: &BTreeMap<String, String>, verify: bool) {
    let dir = org.join(out);
    let got = snapshot(&dir);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{out}: monorepos and commit maps"
    );
    for (k, v) in expected {
        assert!(
            got[k] == *v,
            "{out}: {k} differs from the uninterrupted run"
        );
    }
    for m in monorepos(&dir) {
        git(&m, &["fsck", "--full", "--no-dangling"]);
    }
    if verify {
        let r = ok(org, &["verify", "mapping.hcl", "--out", out, "--quiet"]);
        assert!(r.stdout.contains("verified"), "{}", r.stdout);
    }
}
