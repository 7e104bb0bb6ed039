use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tfmono::sources::{rewrite_file, CommitMap, Context, SameMonorepo, Target, Targets};

use crate::common::git::write;
use crate::common::{self, git};
use crate::sources::{bare, commit_refs, module_files};

#[test]
fn rewritten_sources_download_the_same_module_content_with_terraform() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let tmp = common::tempdir();
    let root = tmp.path();

    // Legacy module repo with two tags whose content differs.
    let work = root.join("work/alb");
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "master"]);
    let mut legacy_shas = Vec::new();
    for v in ["1.0.0", "2.0.0"] {
        for (p, text) in module_files(v) {
            write(&work.join(p), &text);
        }
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", &format!("release {v}")]);
        git(&work, &["tag", &format!("v{v}")]);
        legacy_shas.push(git(&work, &["rev-parse", "HEAD"]).trim().to_string());
    }
    let legacy = root.join("legacy");
    std::fs::create_dir_all(&legacy).expect("mkdir");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().expect("utf-8"),
            legacy
                .join("terraform-aws-alb.git")
                .to_str()
                .expect("utf-8"),
        ],
    );

    // The monorepo: the same content under alb/, tags alb/v1.0.0, alb/v2.0.0, next to
    // another module.
    let mwork = root.join("work/mono");
    std::fs::create_dir_all(&mwork).expect("mkdir");
    git(&mwork, &["init", "-q", "-b", "main"]);
    write(
        &mwork.join("vpc/main.tf"),
        "output \"vpc\" {\n  value = 1\n}\n",
    );
    let mut mono_shas = Vec::new();
    for v in ["1.0.0", "2.0.0"] {
        for (p, text) in module_files(v) {
            write(&mwork.join("alb").join(p), &text);
        }
        git(&mwork, &["add", "-A"]);
        git(&mwork, &["commit", "-q", "-m", &format!("alb release {v}")]);
        git(&mwork, &["tag", &format!("alb/v{v}")]);
        mono_shas.push(git(&mwork, &["rev-parse", "HEAD"]).trim().to_string());
    }
    let mono = root.join("mono");
    std::fs::create_dir_all(&mono).expect("mkdir");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            mwork.to_str().expect("utf-8"),
            mono.join("reference-modules.git").to_str().expect("utf-8"),
        ],
    );

    // The legacy deployment.
    let original = format!(
        r#"module "tag_v1" {{
  source = "git::https://github.com/acme/terraform-aws-alb.git?ref=v1.0.0"
}}

module "short_v2" {{
  source = "github.com/acme/terraform-aws-alb?ref=v2.0.0"
}}

module "sub_v1" {{
  source = "git::https://github.com/acme/terraform-aws-alb.git//modules/extra?ref=v1.0.0"
}}

module "sha_v1" {{
  source = "git::https://github.com/acme/terraform-aws-alb.git?ref={}"
}}

module "branch" {{
  source = "git::https://github.com/acme/terraform-aws-alb.git?ref=master"
}}

module "scp_v2" {{
  source = "git@github.com:acme/terraform-aws-alb.git?ref=v2.0.0"
}}
"#,
        &legacy_shas[0][..10]
    );
    let json = "{\n  \"module\": {\n    \"json_v2\": {\n      \"source\": \"git::https://github.com/acme/terraform-aws-alb.git//modules/extra?ref=v2.0.0\"\n    }\n  }\n}\n";
    let registry = "module \"reg\" {\n  source  = \"terraform-aws-modules/alb/aws\"\n  version = \"~> 1.0\"\n}\n";

    let target = Target {
        repo: "terraform-aws-alb".into(),
        legacy_url: "https://github.com/acme/terraform-aws-alb.git".into(),
        monorepo: "reference-modules".into(),
        monorepo_url: "git::https://github.com/acme/reference-modules.git".into(),
        path: "alb".into(),
        tag_prefix: "alb/".into(),
        registry: vec!["terraform-aws-modules/alb/aws".into()],
        tags: vec!["v1.0.0".into(), "v2.0.0".into()],
        default_branch: Some("master".into()),
        branches: vec![("master".into(), "main".into())],
        other_branches: vec![],
    };
    let targets = Targets::new(vec![target]);
    let mut commits = CommitMap::new();
    for (old, new) in legacy_shas.iter().zip(&mono_shas) {
        commits.insert("terraform-aws-alb", old, new);
    }
    let ctx = Context {
        targets: &targets,
        commits: &commits,
        monorepo: "live",
        same_monorepo: SameMonorepo::Pinned,
        split: None,
    };
    let main = rewrite_file("dev/korea/api/static/main.tf", &original, &ctx);
    assert!(main.errors.is_empty(), "{:?}", main.errors);
    assert_eq!(main.rewrites.len(), 6);
    let json_out = rewrite_file("dev/korea/api/static/extra.tf.json", json, &ctx);
    assert_eq!(json_out.rewrites.len(), 1, "{json_out:?}");
    let reg = rewrite_file("dev/korea/api/static/registry.tf", registry, &ctx);
    assert!(reg.errors.is_empty(), "{:?}", reg.errors);

    let orig_dir = root.join("orig");
    write(&orig_dir.join("main.tf"), &original);
    write(&orig_dir.join("extra.tf.json"), json);
    let new_dir = root.join("new");
    write(
        &new_dir.join("main.tf"),
        main.new_content.as_deref().expect("changed"),
    );
    write(
        &new_dir.join("extra.tf.json"),
        json_out.new_content.as_deref().expect("changed"),
    );
    write(
        &new_dir.join("registry.tf"),
        reg.new_content.as_deref().expect("changed"),
    );

    let got_orig = terraform_get(&tf, root, &orig_dir, &legacy);
    let got_new = terraform_get(&tf, root, &new_dir, &mono);
    assert_eq!(got_orig.len(), 7, "{got_orig:?}");
    assert_eq!(got_new.len(), 8, "{got_new:?}");
    for (key, dir) in &got_orig {
        let before = snapshot(dir);
        let after = snapshot(&got_new[key]);
        assert!(!before.is_empty(), "{key}: nothing downloaded");
        assert_eq!(
            before, after,
            "module {key}: content differs after the rewrite"
        );
    }
    // The versions really differ, so the comparison above is not vacuous.
    let output = |key: &str, m: &BTreeMap<String, PathBuf>| {
        std::fs::read_to_string(m[key].join("main.tf")).expect("main.tf")
    };
    assert!(output("tag_v1", &got_orig).contains("\"1.0.0\""));
    assert!(output("short_v2", &got_orig).contains("\"2.0.0\""));
    assert!(output("sha_v1", &got_new).contains("\"1.0.0\""));
    assert!(output("branch", &got_new).contains("\"2.0.0\""));
    assert!(output("sub_v1", &got_new).contains("extra-1.0.0"));
    assert!(output("json_v2", &got_new).contains("extra-2.0.0"));
    assert!(output("scp_v2", &got_new).contains("\"2.0.0\""));
    // The registry call (~> 1.0) resolves to v1.0.0's content.
    assert_eq!(snapshot(&got_new["reg"]), snapshot(&got_orig["tag_v1"]));
    assert!(got_new["reg"].ends_with("alb"), "{:?}", got_new["reg"]);
}

/// Issue 12, defects 1 and 9, with the real Terraform 1.0.3: a legacy repo whose branches
/// `master` (the default), `rel` and `edge` share their names with tags holding other
/// files, and a tag `release/1.0` called percent-encoded. Each rewritten call installs
/// exactly what the legacy call installed. (`?ref=rel&depth=1` is not called: Terraform
/// 1.0.3 clones only the default branch then, and `git checkout rel` fails on both sides.)
#[test]
fn refs_naming_a_branch_and_a_tag_fetch_what_legacy_terraform_fetched() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let tmp = common::tempdir();
    let root = tmp.path();

    let work = root.join("work/alb");
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "master"]);
    commit_refs(
        &work,
        None,
        &[
            ("tag-master", &["tag", "master"]),
            ("tag-rel", &["tag", "rel"]),
            ("tag-release-1.0", &["tag", "release/1.0"]),
            ("tag-build", &["tag", "v3.0.0+build.7"]),
            ("branch-rel", &["update-ref", "refs/heads/rel", "HEAD"]),
            ("branch-edge", &["update-ref", "refs/heads/edge", "HEAD"]),
            ("branch-master", &["tag", "edge"]),
        ],
    );
    let legacy = root.join("legacy");
    bare(root, &work, &legacy.join("terraform-aws-alb.git"));

    // The monorepo as tfmono imports it: tags namespaced, `rel` imported as a branch.
    let mwork = root.join("work/mono");
    std::fs::create_dir_all(&mwork).expect("mkdir");
    git(&mwork, &["init", "-q", "-b", "main"]);
    commit_refs(
        &mwork,
        Some("alb"),
        &[
            ("tag-master", &["tag", "alb/master"]),
            ("tag-rel", &["tag", "alb/rel"]),
            ("tag-release-1.0", &["tag", "alb/release/1.0"]),
            ("tag-build", &["tag", "alb/v3.0.0+build.7"]),
            (
                "branch-rel",
                &[
                    "update-ref",
                    "refs/heads/import/terraform-aws-alb/rel",
                    "HEAD",
                ],
            ),
            (
                "branch-edge",
                &[
                    "update-ref",
                    "refs/heads/import/terraform-aws-alb/edge",
                    "HEAD",
                ],
            ),
            ("branch-master", &["tag", "alb/edge"]),
        ],
    );
    let mono = root.join("mono");
    bare(root, &mwork, &mono.join("reference-modules.git"));

    let url = "git::https://github.com/acme/terraform-aws-alb.git";
    let calls = [
        ("master", "?ref=master", "branch-master"),
        ("master_shallow", "?ref=master&depth=1", "branch-master"),
        ("rel", "?ref=rel", "tag-rel"),
        ("edge", "?ref=edge", "branch-master"),
        // A shallow clone has the default branch only: `edge` is its tip's tag.
        ("edge_shallow", "?ref=edge&depth=1", "branch-master"),
        ("encoded", "?ref=release%2F1.0", "tag-release-1.0"),
        // `+` is a space in a query value: the rewrite keeps it encoded.
        ("build", "?ref=v3.0.0%2Bbuild.7", "tag-build"),
    ];
    let original: String = calls
        .iter()
        .map(|(name, query, _)| {
            format!("module \"{name}\" {{\n  source = \"{url}{query}\"\n}}\n\n")
        })
        .collect();

    let target = Target {
        repo: "terraform-aws-alb".into(),
        legacy_url: "https://github.com/acme/terraform-aws-alb.git".into(),
        monorepo: "reference-modules".into(),
        monorepo_url: "git::https://github.com/acme/reference-modules.git".into(),
        path: "alb".into(),
        tag_prefix: "alb/".into(),
        registry: vec![],
        tags: vec![
            "master".into(),
            "rel".into(),
            "release/1.0".into(),
            "edge".into(),
            "v3.0.0+build.7".into(),
        ],
        default_branch: Some("master".into()),
        branches: vec![
            ("master".into(), "main".into()),
            ("rel".into(), "import/terraform-aws-alb/rel".into()),
            ("edge".into(), "import/terraform-aws-alb/edge".into()),
        ],
        other_branches: vec![],
    };
    let targets = Targets::new(vec![target]);
    let commits = CommitMap::new();
    let ctx = Context {
        targets: &targets,
        commits: &commits,
        monorepo: "live",
        same_monorepo: SameMonorepo::Pinned,
        split: None,
    };
    let out = rewrite_file("dev/main.tf", &original, &ctx);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.rewrites.len(), calls.len(), "{out:?}");
    let orig_dir = root.join("orig");
    write(&orig_dir.join("main.tf"), &original);
    let new_dir = root.join("new");
    write(
        &new_dir.join("main.tf"),
        out.new_content.as_deref().expect("changed"),
    );

    let new_text = out.new_content.as_deref().unwrap_or_default();
    assert!(
        new_text.contains("?ref=alb/v3.0.0%2Bbuild.7\""),
        "{new_text}"
    );
    let got_orig = terraform_get(&tf, root, &orig_dir, &legacy);
    let got_new = terraform_get(&tf, root, &new_dir, &mono);
    assert_eq!(got_orig.len(), calls.len(), "{got_orig:?}");
    for (name, query, label) in calls {
        let before = snapshot(&got_orig[name]);
        // Legacy Terraform fetched this: the test's premise.
        let main = String::from_utf8_lossy(&before["main.tf"]).into_owned();
        assert!(
            main.contains(&format!("\"{label}\"")),
            "{query}: legacy fetched {main}"
        );
        assert_eq!(
            before,
            snapshot(&got_new[name]),
            "module {name} ({query}): the rewrite points elsewhere"
        );
    }
}

/// Every file below `dir` except `.git`, path -> bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("readable dir") {
            let p = e.expect("entry").path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("below")
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&p).expect("readable file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Runs `terraform get` in `dir` with git URLs under https://github.com/acme/ served from
/// `served` (a directory of bare repos); returns module key -> downloaded module directory.
fn terraform_get(tf: &Path, root: &Path, dir: &Path, served: &Path) -> BTreeMap<String, PathBuf> {
    let gitconfig = root.join(format!(
        "gitconfig-{}",
        served.file_name().expect("name").to_string_lossy()
    ));
    write(
        &gitconfig,
        &format!(
            "[url \"file://{}/\"]\n\tinsteadOf = https://github.com/acme/\n\tinsteadOf = ssh://git@github.com/acme/\n[protocol \"file\"]\n\tallow = always\n",
            served.display()
        ),
    );
    let rc = root.join("terraformrc");
    write(&rc, "disable_checkpoint = true\n");
    let out = Command::new(tf)
        .arg("get")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", &gitconfig)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("TF_CLI_CONFIG_FILE", &rc)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env_remove("TF_PLUGIN_CACHE_DIR")
        .output()
        .expect("terraform runs");
    assert!(
        out.status.success(),
        "terraform get in {} failed:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = std::fs::read_to_string(dir.join(".terraform/modules/modules.json"))
        .expect("modules.json written");
    let v: serde_json::Value = serde_json::from_str(&manifest).expect("modules.json is JSON");
    v["Modules"]
        .as_array()
        .expect("Modules array")
        .iter()
        .filter(|m| m["Key"].as_str().is_some_and(|k| !k.is_empty()))
        .map(|m| {
            (
                m["Key"].as_str().expect("key").to_string(),
                dir.join(m["Dir"].as_str().expect("dir")),
            )
        })
        .collect()
}
