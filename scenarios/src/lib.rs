//! # scenarios
//!
//! Interleaving scenarios as TOML files ([`mod@format`]), built into the join model ([`model`]) and
//! judged ([`verdict`]); failures' schedule files ([`schedules`]) and smaller failing scenarios
//! ([`shrink`]). The catalog lives in `scenarios/catalog/`; `cargo test -p scenarios` runs every
//! file under each of its strategies as a named test, and the `joinrace` program runs and lists
//! them.
#![deny(missing_docs)]

pub mod format;
pub mod model;
pub mod schedules;
pub mod shrink;
mod strategy;
pub mod verdict;

use std::path::PathBuf;

/// The catalog directory of this crate.
pub fn catalog_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog")
}
