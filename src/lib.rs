//! tfmono moves Terraform code from many small legacy git repos into three monorepos.
//!
//! The pipeline, one module per stage:
//!
//! 1. [`mapping`] parses and validates the HCL mapping file into a [`mapping::Mapping`].
//! 2. [`inventory`] opens every legacy repo read-only and records what it holds.
//! 3. [`plan`] combines both into one [`plan::Plan`] value: everything that will happen.
//! 4. [`apply`] executes a plan: [`history`] imports commits (over [`objects`], the raw
//!    object work shared with `apply`), [`sources`] rewrites module sources, [`state`]
//!    writes `terraform state mv` scripts.
//! 5. [`verify`] proves every legacy commit has an identical image in its monorepo.
//!
//! [`report`] renders a plan (the dry run) and outcomes; [`orggen`] builds realistic legacy
//! orgs of git repos for the demo, the tests and the benchmark. [`outdir`] owns the output
//! directory (its layout, lock, journal and records, the one atomic writer); [`rollback`]
//! renders `rollback.sh` and `push.sh` from its journal.
//!
//! Layers, lowest first; a module uses only modules of the layers below its own (checked by
//! `tests/it/layers.rs`, which also rejects import cycles; keep both lists in step):
//!
//! 1. [`redact`], [`shell`], [`hcl`], [`progress`]
//! 2. [`mapping`]
//! 3. [`sources`]
//! 4. [`objects`]
//! 5. [`history`]
//! 6. [`outdir`]
//! 7. [`state`]
//! 8. [`inventory`]
//! 9. [`preflight`]
//! 10. [`plan`]
//! 11. [`rollback`]
//! 12. [`apply`]
//! 13. [`verify`]
//! 14. [`report`], [`orggen`]
//!
//! Stages share data only as values passed by their caller (the plan, the legacy refs, the
//! [`history::preload::Store`] of commits inflated once per run): no process-global state.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apply;
pub mod hcl;
pub mod history;
pub mod inventory;
pub mod mapping;
pub mod objects;
pub mod orggen;
pub mod outdir;
pub mod plan;
pub mod preflight;
pub mod progress;
pub mod redact;
pub mod report;
pub mod rollback;
pub mod shell;
pub mod sources;
pub mod state;
pub mod verify;
