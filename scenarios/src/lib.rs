//! # scenarios
//!
//! Interleaving scenarios as TOML files ([`format`]), run against the join model ([`run`]). The
//! catalog lives in `scenarios/catalog/`; `cargo test -p scenarios` runs every file under each of
//! its strategies as a named test, and the `joinrace` program runs and lists them.
#![deny(missing_docs)]

pub mod format;
pub mod run;
pub mod schedules;
pub mod shrink;

use std::path::PathBuf;

/// The catalog directory of this crate.
pub fn catalog_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog")
}
