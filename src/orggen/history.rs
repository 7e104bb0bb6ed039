//! The histories of the three kinds of legacy repo, written through one fast-import each.
//!
//! Every identity and date is a pure function of the repo name and the commit's position,
//! so the same options give the same commit ids on every machine.

use super::content::{self, Deployment, ServiceRefs};
use super::quirks;
use super::stream::{Change, Commit, Ident, Importer, Mark, Person};
use super::Error;

/// A tag every this many default-branch commits in long histories (the benchmark repos).
const TAG_EVERY: usize = 1000;

/// Commits on the default branch that are not routine: see [`reference`].
pub(super) const REFERENCE_MILESTONES: usize = 8;
/// Commits on the default branch that are not routine: see [`service`].
pub(super) const SERVICE_MILESTONES: usize = 7;

const PEOPLE: [Person; 5] = [
    Person {
        name: "Kim Minjun",
        email: "minjun.kim@acme.example",
        tz: "+0900",
    },
    Person {
        name: "Alice Park",
        email: "alice.park@acme.example",
        tz: "+0900",
    },
    Person {
        name: "Bob Smith",
        email: "bob.smith@acme.example",
        tz: "-0700",
    },
    Person {
        name: "Lee Jiwoo",
        email: "jiwoo.lee@acme.example",
        tz: "+0900",
    },
    Person {
        name: "Carol Diaz",
        email: "carol.diaz@acme.example",
        tz: "-0500",
    },
];

const GITHUB: Person = Person {
    name: "GitHub",
    email: "noreply@github.com",
    tz: "+0000",
};

const ROUTINE: [&str; 6] = [
    "Refresh default tags",
    "Tune defaults after load test",
    "Update changelog",
    "Fix typo in variable description",
    "chore: bump module revision",
    "Align example with the README",
];

/// 2019-01-01T00:00:00Z.
pub(super) const EPOCH: u64 = 1_546_300_800;
pub(super) const YEAR: u64 = 365 * 24 * 3600;

/// FNV-1a: a stable seed from a repo name.
fn seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What one repo's history produced.
pub(super) struct Written {
    /// Every commit written (all branches).
    pub(super) commits: usize,
    /// Tag names, sorted.
    pub(super) tags: Vec<String>,
    /// Branch short names, sorted.
    pub(super) branches: Vec<String>,
    /// Commit ids of the marks asked for, in order.
    pub(super) pins: Vec<String>,
}

/// The history being written: clock, identities, tags and the default branch's progress.
pub(super) struct History {
    imp: Importer,
    seed: u64,
    when: u64,
    step: u64,
    n: u64,
    tags: Vec<String>,
    branches: Vec<String>,
    /// Commits on the default branch so far (for periodic tags).
    main_count: usize,
    /// The last milestone tag's (major, minor), for periodic tags between milestones.
    series: Option<(u32, u32)>,
    periodic: u32,
    routine: usize,
    module: String,
    repo: String,
    /// A fork of `terraform-aws-modules/<module>/aws`: routine commits touch its registry
    /// example.
    fork: bool,
}

impl History {
    /// Starts a history of `total` commits spread over `span` seconds from about `start`.
    pub(super) fn new(
        imp: Importer,
        repo: &str,
        module: &str,
        start: u64,
        span: u64,
        total: usize,
    ) -> Self {
        let seed = seed(repo);
        History {
            imp,
            seed,
            when: start + seed % (45 * 24 * 3600),
            step: (span / total.max(1) as u64).max(60),
            n: 0,
            tags: Vec::new(),
            branches: Vec::new(),
            main_count: 0,
            series: None,
            periodic: 0,
            routine: 0,
            module: module.to_string(),
            repo: repo.to_string(),
            fork: false,
        }
    }

    fn tick(&mut self) -> u64 {
        let now = self.when;
        self.n += 1;
        let jitter = 70 + (self.n.wrapping_mul(37).wrapping_add(self.seed) % 61);
        self.when += self.step * jitter / 100;
        now
    }

    fn person(&self) -> Person {
        PEOPLE[((self.seed % 5) as usize + self.n as usize * 3 / 2) % PEOPLE.len()]
    }

    /// A commit on any branch (not counted as a default-branch commit).
    pub(super) fn commit(
        &mut self,
        branch: &str,
        parents: &[Mark],
        message: &str,
        changes: &[Change],
    ) -> Mark {
        let who = self.person();
        let when = self.tick();
        let id = Ident { who, when };
        self.imp.commit(&Commit {
            branch,
            author: id,
            committer: id,
            message,
            parents,
            changes,
        })
    }

    /// A commit on the default branch.
    pub(super) fn main(
        &mut self,
        branch: &str,
        parent: Option<Mark>,
        message: &str,
        changes: &[Change],
    ) -> Mark {
        self.main_count += 1;
        let parents: Vec<Mark> = parent.into_iter().collect();
        self.commit(branch, &parents, message, changes)
    }

    /// A merge of a pull request into the default branch, committed by GitHub.
    fn merge(
        &mut self,
        branch: &str,
        parents: [Mark; 2],
        message: &str,
        changes: &[Change],
    ) -> Mark {
        self.main_count += 1;
        let author = Ident {
            who: self.person(),
            when: self.tick(),
        };
        let committer = Ident {
            who: GITHUB,
            when: author.when,
        };
        self.imp.commit(&Commit {
            branch,
            author,
            committer,
            message,
            parents: &parents,
            changes,
        })
    }

    /// Tags `at` (annotated with that message, or lightweight) and starts a new series of
    /// periodic tags after it.
    pub(super) fn milestone_tag(&mut self, name: &str, at: Mark, annotated: Option<&str>) {
        match annotated {
            Some(message) => {
                let tagger = Ident {
                    who: self.person(),
                    when: self.when,
                };
                self.imp.annotated_tag(name, at, tagger, message);
            }
            None => self.imp.lightweight_tag(name, at),
        }
        self.tags.push(name.to_string());
        let mut parts = name.trim_start_matches('v').split('.');
        let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        self.series = Some((major, minor));
        self.periodic = 0;
    }

    /// `count` routine commits on the default branch after `tip`; returns the new tip.
    fn routine(&mut self, branch: &str, mut tip: Mark, count: usize) -> Mark {
        for _ in 0..count {
            self.routine += 1;
            let k = self.routine;
            let message = format!("{} (#{})", ROUTINE[k % ROUTINE.len()], 100 + k);
            let locals = content::filler_locals(&self.repo, k);
            let changelog;
            let example;
            let mut changes: Vec<Change> = vec![("locals.tf", Some(locals.as_str()))];
            if k % 3 == 1 {
                changelog = content::filler_changelog(&self.repo, k, &message);
                changes.push(("CHANGELOG.md", Some(changelog.as_str())));
            }
            if k % 7 == 3 {
                example = if self.fork {
                    quirks::example_complete(&self.module, self.example_major(), k)
                } else {
                    content::filler_example(&self.module, k)
                };
                changes.push(("examples/complete/main.tf", Some(example.as_str())));
            }
            tip = self.main(branch, Some(tip), &message, &changes);
            if self.main_count.is_multiple_of(TAG_EVERY) {
                self.periodic += 1;
                let name = match self.series {
                    None => format!("v0.{}.0", self.periodic),
                    Some((major, minor)) => format!("v{major}.{minor}.{}", self.periodic),
                };
                self.imp.lightweight_tag(&name, tip);
                self.tags.push(name);
            }
        }
        tip
    }

    /// The major version a fork's registry example asks for: that of the last milestone
    /// tag, 1 before the first.
    fn example_major(&self) -> u32 {
        self.series.map_or(1, |(major, _)| major.max(1))
    }

    /// Records a branch (short name) the history leaves behind.
    pub(super) fn branch(&mut self, name: &str) {
        self.branches.push(name.to_string());
    }

    /// Deletes `branch` (a full ref name) at the end of the stream; its commits stay
    /// reachable only from tags.
    pub(super) fn delete_branch(&mut self, branch: &str) {
        self.imp.delete_branch(branch);
    }

    /// Ends the stream; `pins` are the marks whose commit ids are wanted.
    pub(super) fn finish(mut self, pins: &[Mark]) -> Result<Written, Error> {
        let (commits, pins) = self.imp.finish(pins)?;
        self.tags.sort();
        self.branches.sort();
        Ok(Written {
            commits,
            tags: self.tags,
            branches: self.branches,
            pins,
        })
    }
}

/// Splits `total` routine commits over `slots` gaps between milestones, the remainder going
/// to the last gaps.
fn spread(total: usize, slots: usize) -> Vec<usize> {
    let base = total / slots;
    let rem = total % slots;
    (0..slots)
        .map(|i| base + usize::from(i >= slots - rem))
        .collect()
}

/// The shape of one reference module fork.
pub(super) struct ReferenceShape<'a> {
    /// Commits on the default branch (at least [`REFERENCE_MILESTONES`]).
    pub(super) main_commits: usize,
    /// Adds `modules/sub`.
    pub(super) with_sub: bool,
    /// Adds `examples/with-<other>/main.tf`, calling that other fork by registry address.
    pub(super) example_of: Option<&'a str>,
}

/// A reference module fork `terraform-aws-<module>`.
///
/// Milestones: initial import (with `examples/complete` calling the module by its registry
/// address and by `../../`, and the root-only CI, CODEOWNERS and pre-commit files); tags;
/// AWS 3 (`v1.0.0`); a feature branch adding timeouts, merged by a real merge commit
/// (annotated `v1.1.0`); README; an empty commit; the breaking rename (`v2.0.0`, the
/// example moving to `~> 2.0`); then an unmerged `feature/<module>-ipv6` branch. Routine
/// commits fill the gaps. Returns the id of an untagged default-branch commit in `pins`.
// Long on purpose (~155 lines): one scripted history read top to bottom, milestone by
// milestone; split into steps, the order of commits and tags would be hard to follow.
pub(super) fn reference(
    imp: Importer,
    repo: &str,
    module: &str,
    default_branch: &str,
    shape: &ReferenceShape<'_>,
) -> Result<Written, Error> {
    let total = shape.main_commits.max(REFERENCE_MILESTONES);
    let mut h = History::new(imp, repo, module, EPOCH, 3 * YEAR, total + 2);
    h.fork = true;
    let gaps = spread(total - REFERENCE_MILESTONES, 7);
    let b = format!("refs/heads/{default_branch}");
    let m = module;

    let (main1, vars1, outputs, versions1, readme1) = (
        content::ref_main(m, 1),
        content::ref_variables(m, 1),
        content::ref_outputs(m, false),
        content::ref_versions(1),
        content::ref_readme(m, 1),
    );
    let (sub_main, sub_vars) = (content::ref_sub_main(m), content::ref_sub_variables());
    let example1 = quirks::example_complete(m, 1, 0);
    let ci = quirks::ci_workflow(default_branch);
    let mut files: Vec<Change> = vec![
        (".gitignore", Some(content::GITIGNORE)),
        (".github/workflows/ci.yml", Some(&ci)),
        (".pre-commit-config.yaml", Some(quirks::PRE_COMMIT)),
        ("CODEOWNERS", Some(quirks::CODEOWNERS)),
        ("README.md", Some(&readme1)),
        ("examples/complete/main.tf", Some(&example1)),
        ("main.tf", Some(&main1)),
        ("outputs.tf", Some(&outputs)),
        ("variables.tf", Some(&vars1)),
        ("versions.tf", Some(&versions1)),
    ];
    if shape.with_sub {
        files.push(("modules/sub/main.tf", Some(&sub_main)));
        files.push(("modules/sub/variables.tf", Some(&sub_vars)));
    }
    let example_other = shape.example_of.map(|other| {
        (
            format!("examples/with-{other}/main.tf"),
            quirks::example_with(m, other),
        )
    });
    if let Some((path, text)) = &example_other {
        files.push((path, Some(text)));
    }
    let msg = format!("Initial import of terraform-aws-modules/{m}/aws");
    let mut tip = h.main(&b, None, &msg, &files);
    tip = h.routine(&b, tip, gaps[0]);

    let (main2, vars2) = (content::ref_main(m, 2), content::ref_variables(m, 2));
    tip = h.main(
        &b,
        Some(tip),
        "Add tags to all resources",
        &[("main.tf", Some(&main2)), ("variables.tf", Some(&vars2))],
    );
    tip = h.routine(&b, tip, gaps[1]);

    let versions2 = content::ref_versions(2);
    tip = h.main(
        &b,
        Some(tip),
        "Require AWS provider 3.x",
        &[("versions.tf", Some(&versions2))],
    );
    h.milestone_tag("v1.0.0", tip, None);
    let branch_point = tip;
    tip = h.routine(&b, tip, gaps[2]);

    // The feature commit is written on the default branch's ref and superseded by the next
    // commit there: the merged branch leaves no ref behind, like a deleted PR branch.
    let timeouts = content::ref_timeouts(m);
    h.main_count += 1;
    let feature = h.commit(
        &b,
        &[branch_point],
        &format!("Add configurable timeouts to {m}"),
        &[("timeouts.tf", Some(&timeouts))],
    );
    let readme2 = content::ref_readme(m, 2);
    tip = h.main(
        &b,
        Some(tip),
        "Document inputs and outputs",
        &[("README.md", Some(&readme2))],
    );
    let pin = tip;
    tip = h.routine(&b, tip, gaps[3]);

    tip = h.merge(
        &b,
        [tip, feature],
        &format!(
            "Merge pull request #12 from acme/feature/{m}-timeouts\n\nAdd configurable timeouts"
        ),
        &[("timeouts.tf", Some(&timeouts))],
    );
    h.milestone_tag(
        "v1.1.0",
        tip,
        Some("Release v1.1.0\n\nAdds configurable timeouts.\n"),
    );
    tip = h.routine(&b, tip, gaps[4]);

    tip = h.main(&b, Some(tip), "Re-run CI on the new runners", &[]);
    tip = h.routine(&b, tip, gaps[5]);

    let (main3, vars3, versions3, example2) = (
        content::ref_main(m, 3),
        content::ref_variables(m, 3),
        content::ref_versions(3),
        quirks::example_complete(m, 2, 0),
    );
    let msg = format!(
        "Require Terraform 0.13 and rename create to create_{}\n\nBREAKING CHANGE: callers must rename the input.",
        content::ident(m)
    );
    tip = h.main(
        &b,
        Some(tip),
        &msg,
        &[
            ("examples/complete/main.tf", Some(&example2)),
            ("main.tf", Some(&main3)),
            ("variables.tf", Some(&vars3)),
            ("versions.tf", Some(&versions3)),
        ],
    );
    h.milestone_tag("v2.0.0", tip, None);

    let wip_name = format!("feature/{m}-ipv6");
    let wip = format!("refs/heads/{wip_name}");
    let (ipv6, outputs6) = (content::ref_ipv6(m), content::ref_outputs(m, true));
    let w1 = h.commit(
        &wip,
        &[tip],
        "WIP: dual-stack variables",
        &[("ipv6.tf", Some(&ipv6))],
    );
    h.commit(
        &wip,
        &[w1],
        "WIP: expose the ipv6 output",
        &[("outputs.tf", Some(&outputs6))],
    );
    h.branches.push(wip_name);

    // The last commit written on `b` is the default branch's tip.
    h.routine(&b, tip, gaps[6]);
    h.branches.push(default_branch.to_string());
    h.finish(&[pin])
}

/// A service module `terraform-acme-<svc>` built from the reference modules, with every
/// module source form (see [`content::service_main`]), tags `v1.0.0` and `v1.1.0` and an
/// unmerged `hotfix/<svc>-task-cpu` branch. `json` adds `monitoring.tf.json`; `quirks` adds
/// the invalid `testdata/` files from the start and, with `v1.0.0`, `bastion.tf` whose
/// heredoc holds shell lines and a legacy URL (see [`quirks`]).
// Long on purpose (~125 lines): one scripted history read top to bottom, like `reference`.
pub(super) fn service(
    imp: Importer,
    repo: &str,
    svc: &str,
    refs: &ServiceRefs<'_>,
    main_commits: usize,
    json: bool,
    quirks: bool,
) -> Result<Written, Error> {
    let total = main_commits.max(SERVICE_MILESTONES);
    let mut h = History::new(imp, repo, svc, EPOCH + YEAR / 2, 3 * YEAR, total + 1);
    let gaps = spread(total - SERVICE_MILESTONES, 7);
    let b = "refs/heads/main";
    let names = content::service_names(refs);
    let main_v: Vec<String> = (1..=7)
        .map(|v| content::service_main(svc, refs, v))
        .collect();

    let (readme, vars, outputs1) = (
        content::service_readme(svc),
        content::service_variables(svc, false),
        content::service_outputs(&names[0], None),
    );
    let mut files: Vec<Change> = vec![
        (".gitignore", Some(content::GITIGNORE)),
        ("README.md", Some(&readme)),
        ("main.tf", Some(&main_v[0])),
        ("outputs.tf", Some(&outputs1)),
        ("variables.tf", Some(&vars)),
        ("versions.tf", Some(content::SERVICE_VERSIONS)),
    ];
    let testdata = quirks::testdata(refs.main[0]);
    if quirks {
        files.extend(testdata.iter().map(|(p, c)| (*p, Some(c.as_str()))));
    }
    let mut tip = h.main(b, None, &format!("Initial {svc} service module"), &files);
    tip = h.routine(b, tip, gaps[0]);

    let labels = content::service_labels();
    let mut changes: Vec<Change> = vec![("main.tf", Some(&main_v[1]))];
    changes.extend(labels.iter().map(|(p, c)| (*p, Some(c.as_str()))));
    tip = h.main(
        b,
        Some(tip),
        "Add the container cluster and the labels submodule",
        &changes,
    );
    tip = h.routine(b, tip, gaps[1]);

    let outputs3 = content::service_outputs(&names[0], Some(&names[3]));
    let bastion = quirks::bastion_tf(svc, refs.main[0]);
    let mut changes: Vec<Change> = vec![
        ("main.tf", Some(&main_v[2])),
        ("outputs.tf", Some(&outputs3)),
    ];
    let mut msg = "Store build artifacts in S3".to_string();
    if quirks {
        changes.push(("bastion.tf", Some(&bastion)));
        msg.push_str(" and add a bastion host");
    }
    tip = h.main(b, Some(tip), &msg, &changes);
    h.milestone_tag("v1.0.0", tip, None);
    let hotfix_name = format!("hotfix/{svc}-task-cpu");
    let vars_cpu = content::service_variables(svc, true);
    h.commit(
        &format!("refs/heads/{hotfix_name}"),
        &[tip],
        &format!("Raise the {svc} task CPU to 1024"),
        &[("variables.tf", Some(&vars_cpu))],
    );
    h.branches.push(hotfix_name);
    tip = h.routine(b, tip, gaps[2]);

    tip = h.main(
        b,
        Some(tip),
        &format!("Upgrade the {} module to v2.0.0", refs.main[0]),
        &[("main.tf", Some(&main_v[3]))],
    );
    tip = h.routine(b, tip, gaps[3]);

    tip = h.main(
        b,
        Some(tip),
        &format!(
            "Add private subnets from the {} submodule and registry endpoints",
            refs.sub
        ),
        &[("main.tf", Some(&main_v[4]))],
    );
    tip = h.routine(b, tip, gaps[4]);

    let monitoring = content::service_monitoring_json(refs.main[3]);
    let mut changes: Vec<Change> = vec![("main.tf", Some(&main_v[5]))];
    if json {
        changes.push(("monitoring.tf.json", Some(&monitoring)));
    }
    tip = h.main(
        b,
        Some(tip),
        &format!(
            "Follow {} main for canaries; add other-org thing",
            refs.branch
        ),
        &changes,
    );
    h.milestone_tag("v1.1.0", tip, None);
    tip = h.routine(b, tip, gaps[5]);

    let short = refs.pinned.1.get(..7).unwrap_or(refs.pinned.1);
    tip = h.main(
        b,
        Some(tip),
        &format!(
            "Pin the {} logs module to {short} (fix not tagged yet)",
            refs.pinned.0
        ),
        &[("main.tf", Some(&main_v[6]))],
    );
    h.routine(b, tip, gaps[6]);
    h.branches.push("main".into());
    h.finish(&[])
}

/// A deployment `<svc>-<kind>-<stage>-<region>`: four commits calling the service module.
pub(super) fn deployment(
    imp: Importer,
    d: &Deployment<'_>,
    default_branch: &str,
) -> Result<Written, Error> {
    let repo = d.name();
    let mut h = History::new(imp, &repo, d.svc, EPOCH + 2 * YEAR, YEAR, 5);
    let b = format!("refs/heads/{default_branch}");
    let (main1, providers) = (d.main_tf("v1.0.0", 2), d.providers_tf());
    let mut tip = h.main(
        &b,
        None,
        &format!("Add {repo}"),
        &[
            (".gitignore", Some(content::GITIGNORE)),
            ("main.tf", Some(&main1)),
            ("providers.tf", Some(&providers)),
            ("versions.tf", Some(content::SERVICE_VERSIONS)),
        ],
    );
    let backend = d.backend_tf();
    tip = h.main(
        &b,
        Some(tip),
        "Store state in S3",
        &[("backend.tf", Some(&backend))],
    );
    let main2 = d.main_tf("v1.1.0", 2);
    tip = h.main(
        &b,
        Some(tip),
        &format!("Upgrade {} to v1.1.0", d.svc),
        &[("main.tf", Some(&main2))],
    );
    if d.kind == "dynamic" {
        let tg = d.terragrunt_hcl();
        h.main(
            &b,
            Some(tip),
            "Apply dynamic resources with Terragrunt",
            &[("terragrunt.hcl", Some(&tg))],
        );
    } else {
        let main3 = d.main_tf("v1.1.0", 4);
        h.main(
            &b,
            Some(tip),
            &format!("Scale {} to 4 tasks in {}", d.svc, d.stage),
            &[("main.tf", Some(&main3))],
        );
    }
    h.branches.push(default_branch.to_string());
    h.finish(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routine_commits_are_spread_with_the_remainder_last() {
        assert_eq!(spread(4, 7), [0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(spread(0, 7), [0; 7]);
        assert_eq!(spread(15, 7), [2, 2, 2, 2, 2, 2, 3]);
        assert_eq!(spread(49_992, 7).iter().sum::<usize>(), 49_992);
    }

    #[test]
    fn seeds_are_stable() {
        assert_eq!(seed(""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(seed("terraform-aws-alb"), seed("terraform-aws-vpc"));
    }
}
