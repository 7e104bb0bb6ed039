//! Warns about state moves whose `to` the root's code does not declare (see
//! [`crate::state::code`]): the root's files are those of the imported repo at its default
//! tip, the commit the migration puts in `main`.

use std::collections::BTreeMap;

use super::{Plan, Warning};
use crate::inventory::LegacyRepo;
use crate::state::code::{self, Declared};
use crate::state::StatePlan;

/// One warning per move whose `to` is not declared in its root's code.
pub(super) fn undeclared(
    state: &StatePlan,
    plan: &Plan,
    legacy: &BTreeMap<&str, &LegacyRepo>,
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for root in state.roots.iter().filter(|r| !r.moves.is_empty()) {
        let Some((repo, dir)) = plan.monorepos.iter().find_map(|m| {
            let rest = root.root.strip_prefix(&format!("{}/", m.name))?;
            m.imports.iter().find_map(|s| {
                let sub = if rest == s.path {
                    ""
                } else {
                    rest.strip_prefix(&format!("{}/", s.path))?
                };
                Some((legacy.get(s.repo.as_str())?, sub))
            })
        }) else {
            continue;
        };
        let files = repo.files.iter().filter_map(|f| {
            let name = if dir.is_empty() {
                f.path.as_str()
            } else {
                f.path.strip_prefix(&format!("{dir}/"))?
            };
            (!name.contains('/')).then_some((name, f.content.as_str()))
        });
        let Some(declared) = Declared::read(files) else {
            continue;
        };
        warnings.extend(
            code::undeclared(root, &declared)
                .into_iter()
                .map(|message| Warning {
                    subject: format!("state \"{}\"", root.root),
                    message,
                }),
        );
    }
    warnings
}
