//! The one integration-test binary: every file under tests/it is a module listed here.

mod common;
mod end_to_end;
mod history;
mod integrity;
mod inventory;
mod mapping;
mod orggen;
mod refs;
mod report;
mod safety;
mod sources;
mod state;
mod terraform_get;
