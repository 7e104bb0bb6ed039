//! The scripts that undo or publish an `apply`: [`rollback_script`] and [`push_script`]
//! render `rollback.sh` and `push.sh` from the output directory's journal
//! ([`crate::outdir::Journal`]), which `apply` records before it changes anything.

mod scripts;

pub use scripts::{push_script, rollback_script};
