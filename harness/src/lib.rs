//! # harness
//!
//! Deterministic exploration of Go-style concurrent models under loom, shuttle and std threads,
//! with a byte-granular happens-before race detector that reports like Go's.
//!
//! A model is a closure that builds Go primitives ([`go`]) and checked memory ([`memory`]) and
//! spawns goroutines with [`go::go`]. [`explore()`] runs it under a [`Strategy`] and returns an
//! [`Outcome`]: executions, time, and the first failure (a data race with a Go-style report, a
//! panic, or a deadlock) as a value.
//!
//! ```
//! use harness::{explore, go, memory::CheckedBuf, Strategy};
//!
//! let outcome = explore(&Strategy::loom(2), || {
//!     let row = CheckedBuf::new("row", 16);
//!     let peer = row.clone();
//!     let setter = go::go(move || {
//!         let v = peer.atomic_load_u32(8);
//!         peer.atomic_store_u32(8, v | 0x80);
//!     });
//!     let _key_len = row.read_u32(9); // overlaps bytes 9..12 of the atomic word at 8
//!     setter.join();
//! });
//! let race = outcome.race().expect("a race");
//! assert_eq!(race.overlap(), 9..12);
//! ```
#![deny(missing_docs)]

// Layers, bottom up; each module knows only those before it (ARCHITECTURE.md).
mod detector;
pub mod explore;
pub mod go;
pub mod memory;
pub mod report;
mod runtime;
pub mod schedule;
pub mod triage;

pub use explore::{estimate_dpor, explore, explore_jobs, Failure, Kind, Outcome, Progress, Shard, Strategy};
pub use runtime::Backend;
pub use schedule::Schedule;
pub use triage::{minimize, replay};
