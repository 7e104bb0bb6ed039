//! The monorepo refs apply writes (src/apply/refs.rs): hundreds of tags and branches moved
//! at once into `packed-refs`, with the right values, idempotently.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{git, hermetic, run_tfmono, tempdir};

#[test]
fn hundreds_of_tags_and_branches_go_into_packed_refs_with_the_right_values_once() {
    let tmp = tempdir();
    let root = tmp.path();
    many_tags_org(root);
    apply(root);
    let mono = root.join("out/reference-modules.git");
    let legacy = root.join("legacy/terraform-aws-many.git");

    // The commit map: legacy commit -> image.
    let map: BTreeMap<String, String> =
        crate::common::commit_map(&root.join("out/reference-modules.commit-map"))
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut f = l.split(' ');
                Some((f.next()?.to_string(), f.next()?.to_string()))
            })
            .collect();
    assert_eq!(map.len(), COMMITS);

    // Every legacy tag and branch is there, namespaced, at the image of its commit;
    // annotated tags stay annotated with their message.
    let got = for_each_ref(&mono);
    let want = for_each_ref(&legacy);
    assert_eq!(want.len(), COMMITS + 1 + COMMITS / 50);
    for (name, (_, kind, peeled)) in &want {
        let to = match name.strip_prefix("refs/tags/") {
            Some(t) => format!("refs/tags/many/{t}"),
            None => name.replacen("refs/heads/", "refs/heads/import/terraform-aws-many/", 1),
        };
        let (object, mono_kind, mono_peeled) = got
            .get(&to)
            .unwrap_or_else(|| panic!("{to} (from {name}) is missing"));
        assert_eq!(mono_kind, kind, "{to}");
        assert_eq!(Some(mono_peeled), map.get(peeled), "{to} is not the image");
        if kind == "tag" {
            let body = git(&mono, &["cat-file", "tag", object]);
            let short = to.trim_start_matches("refs/tags/");
            assert!(body.contains(&format!("\ntag {short}\n")), "{body}");
            let release = short.trim_start_matches("many/v");
            assert!(body.ends_with(&format!("Release {release}\n")), "{body}");
        }
    }
    assert_eq!(
        got.len(),
        want.len() + 2,
        "plus main and refs/notes/tfmono: {:?}",
        got.keys()
            .filter(|k| !k.contains("many"))
            .collect::<Vec<_>>()
    );
    git(&mono, &["fsck", "--full", "--strict", "--no-dangling"]);

    // All of them in packed-refs (with `^` lines for the annotated tags), none loose.
    let packed = std::fs::read_to_string(mono.join("packed-refs")).expect("packed-refs");
    assert!(
        packed.starts_with("# pack-refs with: peeled fully-peeled sorted \n"),
        "{packed}"
    );
    let mut in_packed = BTreeMap::new();
    let mut peeled_lines = 0;
    for line in packed.lines().skip(1) {
        if line.starts_with('^') {
            peeled_lines += 1;
        } else {
            let (id, name) = line.split_once(' ').expect("id name");
            in_packed.insert(name.to_string(), id.to_string());
        }
    }
    let values: BTreeMap<String, String> = got
        .iter()
        .map(|(n, (id, _, _))| (n.clone(), id.clone()))
        .collect();
    assert_eq!(in_packed, values);
    assert_eq!(peeled_lines, COMMITS / 2);
    assert_eq!(
        files(&mono.join("refs")),
        Vec::<String>::new(),
        "loose refs"
    );

    // A second apply, every step run again (`--full`), changes nothing.
    let packed_before = std::fs::read(mono.join("packed-refs")).expect("packed-refs");
    let stderr = apply_full(root);
    assert!(
        stderr.contains("reference-modules: 0 commits written, 300 reused, 0 refs updated"),
        "{stderr}"
    );
    assert_eq!(for_each_ref(&mono), got);
    assert_eq!(
        std::fs::read(mono.join("packed-refs")).expect("packed-refs"),
        packed_before
    );
    assert_eq!(
        files(&mono.join("refs")),
        Vec::<String>::new(),
        "loose refs"
    );
    let v = run_tfmono(root, &["verify", "mapping.hcl", "--out", "out"]);
    let stdout = String::from_utf8_lossy(&v.stdout);
    assert!(
        v.status.success() && stdout.contains("verified"),
        "{stdout}"
    );
}

/// Commits (and tags) in the legacy repo: every commit gets a tag, every other one an
/// annotated tag.
const COMMITS: usize = 300;

/// Writes a legacy repo `terraform-aws-many` with `COMMITS` commits on `master`, a tag per
/// commit (`v1.<i>.0`, annotated for even `i`), a branch every 50 commits, and a mapping
/// importing it with all its branches. Built with `git fast-import`: one process.
fn many_tags_org(root: &Path) {
    let bare = root.join("legacy/terraform-aws-many.git");
    std::fs::create_dir_all(&bare).expect("mkdir");
    git(&bare, &["init", "-q", "--bare"]);
    let mut stream = String::new();
    for i in 1..=COMMITS {
        let time = 1_600_000_000 + i;
        let content = format!("variable \"v{i}\" {{}}\n");
        let msg = format!("Commit {i}\n");
        stream.push_str(&format!(
            "commit refs/heads/master\nmark :{i}\nauthor A <a@example.com> {time} +0000\ncommitter A <a@example.com> {time} +0000\ndata {}\n{msg}",
            msg.len()
        ));
        if i > 1 {
            stream.push_str(&format!("from :{}\n", i - 1));
        }
        stream.push_str(&format!(
            "M 100644 inline main.tf\ndata {}\n{content}\n",
            content.len()
        ));
        if i % 2 == 0 {
            let m = format!("Release 1.{i}.0\n");
            stream.push_str(&format!(
                "tag v1.{i}.0\nfrom :{i}\ntagger T <t@example.com> {time} +0000\ndata {}\n{m}\n",
                m.len()
            ));
        } else {
            stream.push_str(&format!("reset refs/tags/v1.{i}.0\nfrom :{i}\n\n"));
        }
        if i % 50 == 0 {
            stream.push_str(&format!("reset refs/heads/release/{i}\nfrom :{i}\n\n"));
        }
    }
    let mut child = hermetic(
        Command::new("git")
            .current_dir(&bare)
            .args(["fast-import", "--quiet"]),
    )
    .stdin(Stdio::piped())
    .spawn()
    .expect("git fast-import runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stream.as_bytes())
        .expect("write the stream");
    assert!(
        child.wait().expect("wait").success(),
        "git fast-import failed"
    );
    std::fs::write(
        root.join("mapping.hcl"),
        r#"repos_dir = "legacy"
monorepo "reference-modules" { url = "git::https://github.com/acme/reference-modules.git" }
monorepo "service-modules"   { url = "git::https://github.com/acme/service-modules.git" }
monorepo "live"              { url = "git::https://github.com/acme/live.git" }
repo "terraform-aws-many" {
  url      = "https://github.com/acme/terraform-aws-many.git"
  into     = "reference-modules"
  path     = "many"
  branches = "all"
}
"#,
    )
    .expect("write the mapping");
}

fn apply(root: &Path) -> String {
    apply_with(root, &[])
}

fn apply_full(root: &Path) -> String {
    apply_with(root, &["--full"])
}

fn apply_with(root: &Path, extra: &[&str]) -> String {
    let mut args = vec!["apply", "mapping.hcl", "--out", "out"];
    args.extend_from_slice(extra);
    let o = run_tfmono(root, &args);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "apply failed: {stderr}");
    stderr
}

/// `name -> (object, type, peeled commit)` for every ref of a repo.
fn for_each_ref(repo: &Path) -> BTreeMap<String, (String, String, String)> {
    git(
        repo,
        &[
            "for-each-ref",
            "--format=%(refname) %(objectname) %(objecttype) %(*objectname)",
        ],
    )
    .lines()
    .map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        let peeled = if f[3].is_empty() { f[1] } else { f[3] };
        (
            f[0].to_string(),
            (f[1].to_string(), f[2].to_string(), peeled.to_string()),
        )
    })
    .collect()
}

/// Files under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("below").display().to_string();
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}
