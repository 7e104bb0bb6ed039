//! The tag scans `apply` keeps across runs (`out/.tfmono/scans.json.z`, src/plan/cache.rs): a
//! re-sync reuses the scan of every repo whose inputs did not change, re-scans exactly the
//! repos whose inputs did, and always ends where a fresh apply of the same inputs ends.

use std::path::Path;

use crate::common::git::commit_on_head;
use crate::common::{git, ok, read_record_z, tempdir, tfmono, write_record_z, Run};

const SCANS: &str = "out/.tfmono/scans.json.z";

/// `apply mapping --out out` with `TFMONO_TRACE` set: the trace says how many tag scans were
/// reused.
fn traced_apply(root: &Path, out: &str, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "org/mapping.hcl", "--out", out];
    args.extend_from_slice(extra);
    let o = tfmono()
        .current_dir(root)
        .args(&args)
        .env("TFMONO_TRACE", "1")
        .output()
        .expect("tfmono runs");
    let run = Run::from(&args, o);
    assert_eq!(run.code, Some(0), "{}", run.all());
    run
}

/// `(reused, total)` from the trace line `tag scans: R of T repos with tags reused`.
fn reused(run: &Run) -> (usize, usize) {
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("[trace] tag scans:"))
        .unwrap_or_else(|| panic!("no tag scan trace in:\n{}", run.stderr));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "scans:").expect("scans:");
    (
        words[at + 1].parse().expect("reused count"),
        words[at + 3].parse().expect("total count"),
    )
}

/// Every ref of the three monorepos but `main` and the notes (which record the history of
/// runs: a re-sync adds a merge where a fresh apply has one), with the tag rewrites' files.
/// The tree of `main` of every monorepo in `out` (its history differs between a re-sync and
/// a fresh apply; its content must not).
fn main_trees(out: &Path) -> Vec<String> {
    ["reference-modules", "service-modules", "live"]
        .iter()
        .map(|m| git(&out.join(format!("{m}.git")), &["rev-parse", "main^{tree}"]))
        .collect()
}

fn import_refs(out: &Path) -> String {
    ["reference-modules", "service-modules", "live"]
        .iter()
        .map(|m| {
            git(
                &out.join(format!("{m}.git")),
                &["for-each-ref", "--format=%(objectname) %(refname)"],
            )
            .lines()
            .filter(|l| !l.ends_with(" refs/heads/main") && !l.ends_with(" refs/notes/tfmono"))
            .map(|l| format!("{m} {l}\n"))
            .collect::<String>()
        })
        .collect()
}

/// One more commit (same tree) on the default branch of legacy repo `name`.
fn new_commit(root: &Path, name: &str) {
    commit_on_head(
        &root.join(format!("org/legacy/{name}.git")),
        "One more commit",
    );
}

#[test]
fn a_resync_after_a_new_commit_reuses_every_tag_scan_and_ends_where_a_fresh_apply_ends() {
    let tmp = tempdir();
    let root = tmp.path();
    ok(root, &["gen-org", "org"]);
    let first = traced_apply(root, "out", &[]);
    let (none, total) = reused(&first);
    assert_eq!(none, 0, "a first apply has nothing to reuse");
    assert!(total >= 5, "the demo org has repos with tags: {total}");
    let cache = read_record_z(&root.join(SCANS));

    new_commit(root, "terraform-aws-vpc");
    let resync = traced_apply(root, "out", &[]);
    // vpc's tags did not change and no tag pins a vpc commit by sha: nothing is re-scanned.
    assert_eq!(reused(&resync), (total, total), "{}", resync.stderr);
    ok(
        root,
        &["apply", "org/mapping.hcl", "--out", "fresh", "--quiet"],
    );
    assert_eq!(
        import_refs(&root.join("out")),
        import_refs(&root.join("fresh"))
    );
    assert_eq!(
        main_trees(&root.join("out")),
        main_trees(&root.join("fresh"))
    );
    assert_eq!(
        read_record_z(&root.join(SCANS)),
        read_record_z(&root.join("fresh/.tfmono/scans.json.z")),
        "a reused scan is recorded as a fresh one"
    );
    // The tag scans are those of the first apply; of the default-branch scans only vpc's
    // (its tip moved) is new.
    let now: serde_json::Value =
        serde_json::from_str(&read_record_z(&root.join(SCANS))).expect("json");
    let then: serde_json::Value = serde_json::from_str(&cache).expect("json");
    assert_eq!(now["repos"], then["repos"], "no tag scan result changed");
    let tips = |v: &serde_json::Value| v["tip_scans"].as_object().expect("tip scans").clone();
    let (mut now_tips, mut then_tips) = (tips(&now), tips(&then));
    assert_ne!(
        now_tips.remove("terraform-aws-vpc"),
        then_tips.remove("terraform-aws-vpc")
    );
    assert_eq!(now_tips, then_tips, "no other default-branch scan changed");
    ok(root, &["verify", "org/mapping.hcl", "--out", "out"]);
}

#[test]
fn a_new_module_tag_rescans_the_repos_that_mention_the_module_and_only_those() {
    let tmp = tempdir();
    let root = tmp.path();
    ok(root, &["gen-org", "org"]);
    let (_, total) = reused(&traced_apply(root, "out", &[]));
    let mono = root.join("out/reference-modules.git");
    let file = "alb/examples/with-vpc/main.tf";
    let before = git(&mono, &["show", &format!("refs/tags/alb/v1.0.0:{file}")]);
    assert!(before.contains("vpc?ref=vpc/v1.1.0"), "{before}");

    // vpc v1.2.0: alb's example calls vpc with `version = "~> 1.0"`, which now resolves to it.
    let legacy = root.join("org/legacy/terraform-aws-vpc.git");
    git(&legacy, &["tag", "v1.2.0", "HEAD"]);
    let resync = traced_apply(root, "out", &[]);
    let (kept, again) = reused(&resync);
    assert_eq!(again, total);
    assert!(
        kept > 0 && kept < total,
        "only the repos mentioning vpc are re-scanned: {kept} of {total} reused\n{}",
        resync.stderr
    );
    let after = git(&mono, &["show", &format!("refs/tags/alb/v1.0.0:{file}")]);
    assert!(after.contains("vpc?ref=vpc/v1.2.0"), "{after}");
    ok(
        root,
        &["apply", "org/mapping.hcl", "--out", "fresh", "--quiet"],
    );
    assert_eq!(
        import_refs(&root.join("out")),
        import_refs(&root.join("fresh"))
    );
    assert_eq!(
        main_trees(&root.join("out")),
        main_trees(&root.join("fresh"))
    );
    assert_eq!(
        read_record_z(&root.join(SCANS)),
        read_record_z(&root.join("fresh/.tfmono/scans.json.z")),
    );
}

#[test]
fn the_cache_is_what_a_resync_reads_and_full_or_a_damaged_file_reads_none_of_it() {
    let tmp = tempdir();
    let root = tmp.path();
    ok(root, &["gen-org", "org"]);
    traced_apply(root, "out", &[]);
    let mono = root.join("out/reference-modules.git");
    let file = "alb/examples/complete/main.tf";
    let tagged = |mono: &Path| git(mono, &["show", &format!("refs/tags/alb/v1.0.0:{file}")]);
    let good = tagged(&mono);

    // Mark alb's cached rewrite of that file: a re-sync that reuses the cache writes the
    // mark, which no scan of the legacy repo can produce.
    let path = root.join(SCANS);
    let mut scans: serde_json::Value = serde_json::from_str(&read_record_z(&path)).expect("json");
    let texts = scans["repos"]["terraform-aws-alb"]["texts"]
        .as_array_mut()
        .expect("alb texts");
    let i = texts
        .iter()
        .position(|t| t.as_str() == Some(good.as_str()))
        .expect("the tagged file's rewrite is cached");
    texts[i] = serde_json::Value::String(format!("# from the cache\n{good}"));
    write_record_z(&path, &serde_json::to_string(&scans).expect("json"));

    // A new commit on alb's default branch: its tags did not change, so its tag scan is
    // reused, but its refs moved, so its tag rewrites are built again (from the cache).
    new_commit(root, "terraform-aws-alb");
    traced_apply(root, "out", &[]);
    assert!(tagged(&mono).starts_with("# from the cache\n"));

    // `--full` scans every tag again and puts the scanned result back.
    let full = traced_apply(root, "out", &["--full"]);
    assert_eq!(reused(&full).0, 0, "{}", full.stderr);
    assert_eq!(tagged(&mono), good);

    // A damaged cache is not used (and does not fail the run).
    std::fs::write(&path, "{ not json").expect("write");
    new_commit(root, "terraform-aws-vpc");
    let damaged = traced_apply(root, "out", &[]);
    assert_eq!(reused(&damaged).0, 0, "{}", damaged.stderr);
    assert_eq!(tagged(&mono), good);
    serde_json::from_str::<serde_json::Value>(&read_record_z(&path))
        .expect("the next run rewrote it");
}

#[test]
fn a_deployment_whose_refs_did_not_move_is_rewritten_again_when_a_module_it_pins_gains_the_tag() {
    use crate::common::org::{publish, work_repo};
    let tmp = tempdir();
    let root = tmp.path();
    // A forked registry module with v1.0.0, and a deployment (no tags) that calls it with
    // `version = "~> 1.0"`: rewritten to v1.0.0.
    let module = work_repo(root, "terraform-aws-net", &[("main.tf", "# net\n")]);
    git(&module, &["tag", "v1.0.0"]);
    publish(root, "terraform-aws-net");
    let source = "acme/net/aws";
    work_repo(
        root,
        "app-dev",
        &[(
            "main.tf",
            &format!("module \"net\" {{\n  source  = \"{source}\"\n  version = \"~> 1.0\"\n}}\n"),
        )],
    );
    publish(root, "app-dev");
    std::fs::write(
        root.join("mapping.hcl"),
        "repos_dir = \"legacy\"\n\
         monorepo \"modules\" { url = \"git::https://github.com/acme/modules.git\" }\n\
         monorepo \"live\" { url = \"git::https://github.com/acme/live.git\" }\n\
         repo \"terraform-aws-net\" {\n  url = \"https://github.com/acme/terraform-aws-net.git\"\n  \
         into = \"modules\"\n  path = \"net\"\n  registry = [\"acme/net/aws\"]\n}\n\
         repo \"app-dev\" {\n  url = \"https://github.com/acme/app-dev.git\"\n  into = \"live\"\n  \
         path = \"app/dev\"\n}\n",
    )
    .expect("mapping");
    let apply = |out: &str| ok(root, &["apply", "mapping.hcl", "--out", out, "--quiet"]);
    apply("out");
    let live = root.join("out/live.git");
    let file = || git(&live, &["show", "main:app/dev/main.tf"]);
    assert!(file().contains("net?ref=net/v1.0.0"), "{}", file());

    // v1.1.0 appears: only the module's refs moved, yet the deployment's file is rewritten
    // (the constraint now resolves to it).
    git(&module, &["commit", "-q", "--allow-empty", "-m", "1.1"]);
    git(&module, &["tag", "v1.1.0"]);
    publish(root, "terraform-aws-net");
    apply("out");
    assert!(file().contains("net?ref=net/v1.1.0"), "{}", file());
    apply("fresh");
    assert_eq!(
        main_trees2(&root.join("out")),
        main_trees2(&root.join("fresh"))
    );
}

/// The tree of `main` of the two monorepos of the test above.
fn main_trees2(out: &Path) -> Vec<String> {
    ["modules", "live"]
        .iter()
        .map(|m| git(&out.join(format!("{m}.git")), &["rev-parse", "main^{tree}"]))
        .collect()
}
