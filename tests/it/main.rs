//! The one integration-test binary: every file under tests/it is a module listed here.

mod cli;
mod common;
mod end_to_end;
mod history;
mod integrity;
mod inventory;
mod layers;
mod mapping;
mod orggen;
mod preflight;
mod refs;
mod report;
mod resync;
mod safety;
mod sources;
mod state;
mod terraform_get;
mod verify_terraform;
