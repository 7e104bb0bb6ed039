//! The state plan: per root, its ordered moves; roots in dependency order; and, with
//! snapshots, proof that every move can run.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::address::{Address, Mode};
use super::backend::KeyChange;
use super::snapshot::{self, Snapshots};
use super::{check_pair, BackendMode, Problem, StateBlock, Style};

/// Every root's state moves, roots in the order their scripts must run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatePlan {
    /// Roots with a `state` block, sources of cross-state moves before their destinations.
    pub roots: Vec<RootPlan>,
}

/// Whether a root's moves were proven against a pulled state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// Every `from` exists, every `to` is free, instance counts are known.
    Checked,
    /// No snapshots were given: the moves were only checked for syntax and collisions.
    Unchecked,
}

/// One root's moves.
#[derive(Debug, Clone, Serialize)]
pub struct RootPlan {
    /// The root label (`live/prod/korea/api/static`).
    pub root: String,
    /// Scripts or `moved` blocks for same-state moves.
    pub style: Style,
    /// The moves, in file order.
    pub moves: Vec<PlannedMove>,
    /// Roots whose state feeds this one (sources of cross-state moves).
    pub depends_on: Vec<String>,
    /// Whether the moves were checked against snapshots.
    pub check: Check,
    /// What to do if the backend key changes (the `backend` block; pin by default).
    pub backend_mode: BackendMode,
    /// The backend key change, filled by the caller from [`super::backend::detect`].
    pub key_change: Option<KeyChange>,
}

/// One move, with its addresses parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedMove {
    /// The address in the source state.
    #[serde(serialize_with = "as_string")]
    pub from: Address,
    /// The address in this root's state.
    #[serde(serialize_with = "as_string")]
    pub to: Address,
    /// The source root of a cross-state move.
    pub from_state: Option<String>,
    /// Resource instances the move carries (known only when checked).
    pub instances: Option<usize>,
    /// Its 1-based number among the block's `move` blocks (for messages and script steps).
    pub number: usize,
}

fn as_string<S: serde::Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.to_string())
}

impl RootPlan {
    /// Moves `migrate.sh` carries out: all of them, except same-state moves of a
    /// `moved-blocks` root (those go to `moved.tf`).
    pub fn script_moves(&self) -> impl Iterator<Item = &PlannedMove> {
        self.moves
            .iter()
            .filter(move |m| self.style == Style::StateMv || m.from_state.is_some())
    }

    /// The backend key change whose state the scripts copy (mode `copy`), if any.
    pub fn backend_copy(&self) -> Option<&KeyChange> {
        self.key_change
            .as_ref()
            .filter(|_| self.backend_mode == BackendMode::Copy)
    }

    /// Whether `migrate.sh` has anything to do (moves or a backend copy).
    pub fn needs_script(&self) -> bool {
        self.script_moves().next().is_some() || self.backend_copy().is_some()
    }
}

impl StatePlan {
    /// The plan of `root`.
    pub fn root(&self, root: &str) -> Option<&RootPlan> {
        self.roots.iter().find(|r| r.root == root)
    }

    /// The plan of `root`, to fill in its [`KeyChange`].
    pub fn root_mut(&mut self, root: &str) -> Option<&mut RootPlan> {
        self.roots.iter_mut().find(|r| r.root == root)
    }
}

/// Builds the plan: parses addresses, orders roots (a cross-state move makes its destination
/// depend on its source; cycles are errors), rejects colliding moves, and with `snapshots`
/// simulates every move in order on the pulled states.
pub fn build(
    blocks: &[(String, StateBlock)],
    snapshots: Option<&Snapshots>,
) -> Result<StatePlan, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut roots: Vec<RootPlan> = Vec::new();
    let mut seen_labels = BTreeSet::new();
    for (label, block) in blocks {
        let here = |i: usize| format!("state \"{label}\" move #{}", i + 1);
        if !seen_labels.insert(label.clone()) {
            problems.push(Problem {
                at: format!("state \"{label}\""),
                message: "two state blocks for the same root; merge them into one".into(),
            });
            continue;
        }
        let mut moves = Vec::new();
        let mut depends_on: Vec<String> = Vec::new();
        for (i, m) in block.moves.iter().enumerate() {
            let (from, to) = (m.from.clone(), m.to.clone());
            if let Err(message) = check_pair(&from, &to) {
                problems.push(Problem {
                    at: here(i),
                    message,
                });
                continue;
            }
            if block.style == Style::MovedBlocks && m.from_state.is_none() {
                let data = [&from, &to]
                    .iter()
                    .any(|a| a.resource.as_ref().is_some_and(|r| r.mode == Mode::Data));
                if data {
                    problems.push(Problem {
                        at: here(i),
                        message: format!("`moved` blocks cannot move data sources (`{from}`); data sources hold no state worth moving: drop this move, or use style = \"state-mv\""),
                    });
                }
            }
            if let Some(src) = &m.from_state {
                if !depends_on.contains(src) {
                    depends_on.push(src.clone());
                }
            }
            moves.push(PlannedMove {
                from,
                to,
                from_state: m.from_state.clone(),
                instances: None,
                number: i + 1,
            });
        }
        roots.push(RootPlan {
            root: label.clone(),
            style: block.style,
            moves,
            depends_on,
            check: Check::Unchecked,
            backend_mode: block.backend.map(|b| b.mode).unwrap_or_default(),
            key_change: None,
        });
    }

    collisions(&roots, &mut problems);

    let order = match order(&roots) {
        Ok(o) => o,
        Err(p) => {
            problems.push(p);
            return Err(problems);
        }
    };
    let mut by_label: BTreeMap<String, RootPlan> =
        roots.into_iter().map(|r| (r.root.clone(), r)).collect();
    let mut ordered: Vec<RootPlan> = order.iter().filter_map(|l| by_label.remove(l)).collect();

    if let Some(snaps) = snapshots {
        simulate(&mut ordered, snaps, &mut problems);
    }
    if problems.is_empty() {
        Ok(StatePlan { roots: ordered })
    } else {
        Err(problems)
    }
}

/// Two moves taking the same `from` out of one state, or putting two things at one `to`.
fn collisions(roots: &[RootPlan], problems: &mut Vec<Problem>) {
    let mut froms: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut tos: BTreeMap<(String, String), String> = BTreeMap::new();
    for r in roots {
        for (i, m) in r.moves.iter().enumerate() {
            let at = format!("state \"{}\" move #{}", r.root, m.number);
            let src = m.from_state.clone().unwrap_or_else(|| r.root.clone());
            let fk = (src.clone(), m.from.to_string());
            if let Some(first) = froms.get(&fk) {
                problems.push(Problem {
                    at: at.clone(),
                    message: format!("`{}` in the state of \"{src}\" is already moved by {first}; each address can be moved once: remove one of the two moves", m.from),
                });
            } else {
                froms.insert(fk, at.clone());
            }
            let tk = (r.root.clone(), m.to.to_string());
            if let Some(first) = tos.get(&tk) {
                problems.push(Problem {
                    at: at.clone(),
                    message: format!("`{}` is already the destination of {first}; two moves cannot land on the same address: pick another `to`", m.to),
                });
            } else {
                tos.insert(tk, at.clone());
            }
            // nested overlap between two module moves of one root (module.a and module.a.module.b)
            for other in r.moves.iter().take(i) {
                if other.from_state == m.from_state
                    && other.from != m.from
                    && m.from.resource.is_none()
                    && other.from.resource.is_none()
                    && (m.from.module.starts_with(&other.from.module)
                        || other.from.module.starts_with(&m.from.module))
                {
                    problems.push(Problem {
                        at: at.clone(),
                        message: format!("`{}` overlaps `{}` of move #{}: one module contains the other; move the outer module only, or move the inner one first in a separate step", m.from, other.from, other.number),
                    });
                }
            }
        }
    }
}

/// Dependency order (Kahn's algorithm, ties in label order); a cycle is a problem.
fn order(roots: &[RootPlan]) -> Result<Vec<String>, Problem> {
    let labels: BTreeSet<&str> = roots.iter().map(|r| r.root.as_str()).collect();
    let mut deps: BTreeMap<&str, BTreeSet<&str>> = roots
        .iter()
        .map(|r| {
            (
                r.root.as_str(),
                r.depends_on
                    .iter()
                    .map(String::as_str)
                    .filter(|d| labels.contains(d))
                    .collect(),
            )
        })
        .collect();
    let mut out = Vec::new();
    loop {
        let ready: Vec<&str> = deps
            .iter()
            .filter(|(_, d)| d.is_empty())
            .map(|(l, _)| *l)
            .collect();
        let Some(next) = ready.first().copied() else {
            break;
        };
        deps.remove(next);
        for d in deps.values_mut() {
            d.remove(next);
        }
        out.push(next.to_string());
    }
    if deps.is_empty() {
        Ok(out)
    } else {
        let cycle: Vec<&str> = deps.keys().copied().collect();
        Err(Problem {
            at: format!("state \"{}\"", cycle[0]),
            message: format!(
                "cross-state moves form a cycle between {}: each root's moves need the other's to run first; split one direction into a later migration",
                cycle
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}

/// Runs every move on copies of the pulled states, in script order.
fn simulate(roots: &mut [RootPlan], snaps: &Snapshots, problems: &mut Vec<Problem>) {
    let mut states: BTreeMap<String, BTreeSet<Address>> = BTreeMap::new();
    let mut missing = BTreeSet::new();
    let mut load = |root: &str,
                    states: &mut BTreeMap<String, BTreeSet<Address>>,
                    problems: &mut Vec<Problem>|
     -> bool {
        if states.contains_key(root) {
            return true;
        }
        match snaps.get(root) {
            Some(s) => {
                states.insert(root.to_string(), s.instances.clone());
                true
            }
            None => {
                if missing.insert(root.to_string()) {
                    problems.push(Problem {
                        at: snaps
                            .dir
                            .join(snapshot::file_name(root))
                            .display()
                            .to_string(),
                        message: format!("no state snapshot for root \"{root}\": write it with `terraform state pull > {}` in that root (an empty file means no state yet)", snapshot::file_name(root)),
                    });
                }
                false
            }
        }
    };
    for r in roots.iter_mut() {
        let mut ok = load(&r.root, &mut states, problems);
        for (i, m) in r.moves.iter_mut().enumerate() {
            let at = format!("state \"{}\" move #{}", r.root, m.number);
            let src = m.from_state.clone().unwrap_or_else(|| r.root.clone());
            if !load(&src, &mut states, problems) {
                ok = false;
                continue;
            }
            let Some(src_state) = states.get(&src) else {
                continue;
            };
            let carried: Vec<Address> = src_state
                .iter()
                .filter(|inst| snapshot::covers(&m.from, inst))
                .cloned()
                .collect();
            if carried.is_empty() {
                ok = false;
                problems.push(Problem {
                    at,
                    message: format!(
                        "`{}` is not in the state of \"{src}\"{}: check the address with `terraform state list` there{}",
                        m.from,
                        if i > 0 { " (after the moves before it)" } else { "" },
                        near(&m.from, src_state)
                    ),
                });
                continue;
            }
            let Some(dst_state) = states.get(&r.root) else {
                continue;
            };
            let occupied: Vec<&Address> = dst_state
                .iter()
                .filter(|inst| snapshot::covers(&m.to, inst))
                .filter(|inst| src != r.root || !carried.contains(inst))
                .collect();
            if let Some(first) = occupied.first() {
                ok = false;
                problems.push(Problem {
                    at,
                    message: format!(
                        "`{}` is already taken in the state of \"{}\" ({} instance{}, e.g. `{first}`): pick a free address or remove what is there first",
                        m.to,
                        r.root,
                        occupied.len(),
                        if occupied.len() == 1 { "" } else { "s" }
                    ),
                });
                continue;
            }
            m.instances = Some(carried.len());
            if let Some(s) = states.get_mut(&src) {
                for c in &carried {
                    s.remove(c);
                }
            }
            if let Some(d) = states.get_mut(&r.root) {
                for c in &carried {
                    d.insert(snapshot::relocate(&m.from, &m.to, c));
                }
            }
        }
        if ok {
            r.check = Check::Checked;
        }
    }
}

/// A hint naming state addresses that share the last name of `addr`.
fn near(addr: &Address, state: &BTreeSet<Address>) -> String {
    let want = match &addr.resource {
        Some(r) => r.name.clone(),
        None => addr
            .module
            .last()
            .map(|s| s.name.clone())
            .unwrap_or_default(),
    };
    let similar: Vec<String> = state
        .iter()
        .filter(|a| {
            a.resource.as_ref().is_some_and(|r| r.name == want)
                || a.module.iter().any(|s| s.name == want)
        })
        .take(3)
        .map(|a| format!("`{a}`"))
        .collect();
    if similar.is_empty() {
        String::new()
    } else {
        format!(" (it has {})", similar.join(", "))
    }
}
