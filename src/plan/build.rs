//! Builds the [`Plan`] from a mapping and an inventory: pure, deterministic, writes nothing.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};

use super::{Error, ImportStep, MonorepoPlan, Plan, RefImport, Warning, MAIN_BRANCH, SCHEMA};
use crate::inventory::{Inventory, LegacyRepo, RefInfo};
use crate::mapping::{Branches, Mapping, RepoSpec};
use crate::redact;

/// Computes everything `apply` will do.
pub fn build(mapping: &Mapping, inventory: &Inventory) -> Result<Plan, Error> {
    let mut problems = Vec::new();
    let mut warnings: Vec<Warning> = mapping
        .warnings
        .iter()
        .map(|w| Warning {
            subject: mapping.file.display().to_string(),
            message: w.clone(),
        })
        .collect();
    let by_name: BTreeMap<&str, &LegacyRepo> = inventory
        .repos
        .iter()
        .map(|r| (r.name.as_str(), r))
        .collect();

    let mut monorepos = Vec::new();
    for mono in &mapping.monorepos {
        let mut imports = Vec::new();
        let mut tag_owner: BTreeMap<String, String> = BTreeMap::new();
        for spec in mapping.repos.iter().filter(|r| r.into == mono.name) {
            let Some(legacy) = by_name.get(spec.name.as_str()) else {
                problems.push(format!(
                    "repo \"{}\" is in the mapping but was not scanned",
                    spec.name
                ));
                continue;
            };
            let step = import_step(spec, legacy, &mut warnings);
            for tag in &step.tags {
                if gix::validate::reference::name(tag.to.as_str().into()).is_err() {
                    problems.push(format!(
                        "repo \"{}\": tag {} becomes {}, which is not a valid ref name; change `tag_prefix` ({})",
                        spec.name, tag.from, tag.to, origin(mapping, spec)
                    ));
                }
                if let Some(other) = tag_owner.insert(tag.to.clone(), spec.name.clone()) {
                    problems.push(format!(
                        "tag {} in monorepo \"{}\" would come from both \"{other}\" and \"{}\"; give them distinct `tag_prefix`es",
                        tag.to, mono.name, spec.name
                    ));
                }
            }
            imports.push(step);
        }
        imports.sort_by(|a, b| a.path.cmp(&b.path));
        monorepos.push(MonorepoPlan {
            name: mono.name.clone(),
            url: mono.url.clone(),
            dir: format!("{}.git", mono.name),
            imports,
            files: Vec::new(),
            unparsed: Vec::new(),
            tag_rewrites: Vec::new(),
        });
    }
    if !problems.is_empty() {
        return Err(Error::Conflicts { problems });
    }
    Ok(Plan {
        schema: SCHEMA,
        fingerprint: fingerprint(mapping, inventory),
        mapping: mapping.file.clone(),
        monorepos,
        warnings,
        state: Default::default(),
        key_changes: Vec::new(),
        identity: mapping.identity.clone().unwrap_or_default(),
        scans: Default::default(),
        base: base_fingerprint(mapping),
    })
}

/// The fingerprint of what a plan's imports depend on besides the legacy refs: the tfmono
/// version, the mapping text and the identity of the commits tfmono writes.
pub fn base_fingerprint(mapping: &Mapping) -> String {
    let identity = mapping.identity.clone().unwrap_or_default();
    inputs_fingerprint(&mapping.text, &identity, &[])
}

fn import_step(spec: &RepoSpec, legacy: &LegacyRepo, warnings: &mut Vec<Warning>) -> ImportStep {
    let subject = format!("repo \"{}\"", spec.name);
    let branch_ref = |b: &RefInfo| RefImport {
        from: b.name.clone(),
        to: format!("refs/heads/import/{}/{}", spec.name, b.short()),
        target: b.target,
        commit: b.peeled,
        annotated: false,
    };
    let default_ref = legacy
        .default_branch
        .as_ref()
        .map(|b| format!("refs/heads/{b}"));
    let is_default = |b: &RefInfo| default_ref.as_deref() == Some(b.name.as_str());
    if legacy.default_branch.is_none() {
        let head = match &legacy.head {
            Some(h) => format!("HEAD names {h} which does not exist"),
            None => "HEAD is detached".to_string(),
        };
        warnings.push(Warning {
            subject: subject.clone(),
            message: format!(
                "no branch: tags only ({head}); its {} tag(s) are imported, nothing is merged into {MAIN_BRANCH}",
                legacy.tags.iter().filter(|t| t.is_commit).count()
            ),
        });
    }
    let mut branches: Vec<RefImport> = legacy
        .branches
        .iter()
        .filter(|b| is_default(b))
        .map(branch_ref)
        .collect();
    if spec.branches == Branches::All {
        branches.extend(
            legacy
                .branches
                .iter()
                .filter(|b| !is_default(b))
                .map(branch_ref),
        );
    } else if legacy.branches.len() > 1 {
        let others: Vec<&str> = legacy
            .branches
            .iter()
            .filter(|b| !is_default(b))
            .map(|b| b.short())
            .collect();
        warnings.push(Warning {
            subject: subject.clone(),
            message: format!(
                "{} other branch(es) not imported ({}); set `branches = \"all\"` to keep them",
                others.len(),
                others.join(", ")
            ),
        });
    }
    let mut tags = Vec::new();
    for t in &legacy.tags {
        if !t.is_commit {
            warnings.push(Warning {
                subject: subject.clone(),
                message: format!(
                    "tag {} points at a tree or blob, not a commit; it is not imported",
                    t.short()
                ),
            });
            continue;
        }
        tags.push(RefImport {
            from: t.name.clone(),
            to: format!("refs/tags/{}{}", spec.tag_prefix, t.short()),
            target: t.target,
            commit: t.peeled,
            annotated: t.annotated,
        });
    }
    if !legacy.lfs_pointers.is_empty() {
        warnings.push(Warning {
            subject: subject.clone(),
            message: format!(
                "{} Git LFS pointer file(s) move with their paths (e.g. {}); push the LFS objects to the monorepo separately (`git lfs push --all`)",
                legacy.lfs_pointers.len(),
                legacy.lfs_pointers[0]
            ),
        });
    }
    if !legacy.submodules.is_empty() {
        warnings.push(Warning {
            subject,
            message: format!(
                "{} submodule(s) move with their paths ({}); a `.gitmodules` below the monorepo root no longer works: re-add them at the root",
                legacy.submodules.len(),
                legacy.submodules.join(", ")
            ),
        });
    }
    ImportStep {
        repo: spec.name.clone(),
        url: spec.url.clone(),
        git_dir: legacy.git_dir.clone(),
        monorepo: spec.into.clone(),
        path: spec.path.clone(),
        tag_prefix: spec.tag_prefix.clone(),
        default_branch: legacy.default_branch.clone(),
        branches,
        tags,
        commits: legacy.commits,
        root_only: legacy.root_only.clone(),
        unchanged: false,
    }
}

/// Hashes the mapping text and every legacy ref, so a saved plan can tell its inputs changed.
fn fingerprint(mapping: &Mapping, inventory: &Inventory) -> String {
    let refs: Vec<_> = inventory.repos.iter().map(|r| r.refs()).collect();
    let identity = mapping.identity.clone().unwrap_or_default();
    inputs_fingerprint(&mapping.text, &identity, &refs)
}

/// The fingerprint of a plan's inputs: the tfmono version, the mapping text, the identity of
/// the commits tfmono writes, and every legacy repo's git directory, HEAD and refs. Two plans with the same fingerprint are the same
/// plan (planning is deterministic), so it can be computed from the refs alone
/// ([`crate::inventory::refs`]) to tell that nothing changed since an apply.
pub fn inputs_fingerprint(
    mapping_text: &str,
    identity: &crate::mapping::Identity,
    repos: &[crate::inventory::RepoRefs],
) -> String {
    let mut h = Sha1::new();
    h.update(concat!("tfmono ", env!("CARGO_PKG_VERSION"), "\n").as_bytes());
    h.update(mapping_text.as_bytes());
    h.update(format!(
        "\0identity {} <{}>\n",
        identity.name, identity.email
    ));
    for repo in repos {
        h.update(format!(
            "\0repo {} {}\nHEAD {}\n",
            repo.name,
            redact::url(&repo.git_dir.display().to_string()),
            repo.head.as_deref().unwrap_or("(detached)")
        ));
        repo.hash_refs(&mut h);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a repo comes from in the mapping, with the file: `repo block at mapping.hcl:9:1`.
fn origin(mapping: &Mapping, spec: &RepoSpec) -> String {
    let file = mapping.file.display();
    match &spec.origin {
        crate::mapping::Origin::Repo(at) => format!("repo block at {file}:{at}"),
        crate::mapping::Origin::Rule {
            rule,
            at,
            inventory_line,
        } => format!("rule \"{rule}\" at {file}:{at}, inventory line {inventory_line}"),
    }
}
