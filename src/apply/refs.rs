//! Ref updates: read the current values once, then move every ref in one transaction,
//! each guarded by the value it had when this run read it.

use std::collections::BTreeMap;

use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};
use gix::ObjectId;
use serde::{Deserialize, Serialize};

use super::Error;

/// One ref created or moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefUpdate {
    /// The full ref name.
    pub name: String,
    /// Its value before (hex), `None` when created.
    pub old: Option<String>,
    /// Its new value (hex).
    pub new: String,
}

/// The refs of a monorepo as read at the start, and the values they must get.
#[derive(Debug, Default)]
pub struct Edits {
    before: BTreeMap<String, ObjectId>,
    after: BTreeMap<String, ObjectId>,
}

impl Edits {
    /// Reads every ref of the monorepo.
    pub fn read(repo: &gix::Repository, name: &str) -> Result<Edits, Error> {
        let fail = |e: &dyn std::fmt::Display| Error::Refs {
            name: name.to_string(),
            message: e.to_string(),
        };
        let mut before = BTreeMap::new();
        let platform = repo.references().map_err(|e| fail(&e))?;
        for r in platform.all().map_err(|e| fail(&e))? {
            let r = r.map_err(|e| fail(&e))?;
            if let Some(id) = r.target().try_id() {
                before.insert(r.name().as_bstr().to_string(), id.to_owned());
            }
        }
        Ok(Edits {
            before,
            after: BTreeMap::new(),
        })
    }

    /// The value `name` will have: planned, else as read.
    pub fn current(&self, name: &str) -> Option<ObjectId> {
        self.after
            .get(name)
            .or_else(|| self.before.get(name))
            .copied()
    }

    /// Plans `name` -> `id`.
    pub fn set(&mut self, name: &str, id: ObjectId) {
        self.after.insert(name.to_string(), id);
    }

    /// Moves every planned ref whose value differs, in one transaction.
    pub fn commit(self, repo: &gix::Repository, name: &str) -> Result<Vec<RefUpdate>, Error> {
        let fail = |e: &dyn std::fmt::Display| Error::Refs {
            name: name.to_string(),
            message: e.to_string(),
        };
        let mut edits = Vec::new();
        let mut updates = Vec::new();
        for (ref_name, new) in &self.after {
            let old = self.before.get(ref_name).copied();
            if old == Some(*new) {
                continue;
            }
            let full = FullName::try_from(ref_name.as_str()).map_err(|e| fail(&e))?;
            edits.push(RefEdit {
                change: Change::Update {
                    log: LogChange {
                        mode: RefLog::AndReference,
                        force_create_reflog: false,
                        message: "tfmono apply".into(),
                    },
                    expected: match old {
                        Some(o) => PreviousValue::MustExistAndMatch(Target::Object(o)),
                        None => PreviousValue::MustNotExist,
                    },
                    new: Target::Object(*new),
                },
                name: full,
                deref: false,
            });
            updates.push(RefUpdate {
                name: ref_name.clone(),
                old: old.map(|o| o.to_string()),
                new: new.to_string(),
            });
        }
        if edits.is_empty() {
            return Ok(updates);
        }
        let committer = gix::actor::SignatureRef {
            name: "tfmono".into(),
            email: "tfmono@localhost".into(),
            time: "0 +0000",
        };
        repo.edit_references_as(edits, Some(committer))
            .map_err(|e| fail(&e))?;
        Ok(updates)
    }
}
