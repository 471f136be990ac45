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

use std::path::{Path, PathBuf};

/// The catalog directory of this crate's source tree: for tests and benchmarks, which run where
/// they were built. The program finds its checkout with [`find_checkout`] instead.
pub fn catalog_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog")
}

/// The catalog scenario `name` and its model, for tests and benchmarks: a catalog file is part of
/// this source tree, so one that does not load or build is a bug and panics.
pub fn catalog_scenario(name: &str) -> (format::Scenario, model::Model) {
    let s = format::load(&catalog_dir().join(format!("{name}.toml"))).expect("catalog file");
    let model = model::build(&s).expect("valid scenario");
    (s, model)
}

/// The joinrace checkout `from` is in: the nearest of `from` and its ancestors that has a
/// `scenarios/catalog` directory. A program found this way works wherever it was built or
/// installed, as long as it runs inside a checkout.
pub fn find_checkout(from: &Path) -> Option<PathBuf> {
    from.ancestors().find(|d| d.join("scenarios/catalog").is_dir()).map(Path::to_path_buf)
}
