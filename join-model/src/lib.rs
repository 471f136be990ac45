//! # join-model
//!
//! A model of TiDB's hash join v2 executor (`pkg/executor/join`) on the harness's Go primitives:
//! the row layout and its accessors ([`meta`]), row tables and their builders ([`row_table`]),
//! the hash table ([`hash_table`]), probing ([`probe`], [`probe_worker`]), the build side
//! ([`build`]), slices small enough for loom ([`slices`]), and a sequential reference join
//! ([`mod@reference`]). Functions carry the names of TiDB's as stack frames ([`frames`]), so a race
//! report from the model lines up with one from TiDB. Each historical bug has a switch ([`bugs`]);
//! all default to fixed.
//!
//! Model code uses only the harness's primitives for synchronization and checked memory for the
//! data goroutines share.
//!
//! ```
//! use harness::{explore, Strategy};
//! use join_model::exec::{ExecConfig, HashJoinV2Exec};
//! use join_model::{BuildSide, Bugs, ColType, JoinSpec, JoinType, Value};
//!
//! let outcome = explore(&Strategy::random(1, 100), || {
//!     let spec = JoinSpec::new(JoinType::LeftOuter, BuildSide::Left,
//!         (vec![ColType::Int], vec![0]), (vec![ColType::Int], vec![0]), &Bugs::fixed());
//!     let rows = vec![vec![Value::Int(1)], vec![Value::Int(2)]];
//!     let config = ExecConfig { concurrency: 2, ..ExecConfig::default() };
//!     let mut exec = HashJoinV2Exec::new(spec, config, &rows, &rows);
//!     assert_eq!(exec.run_to_end().unwrap().len(), 2);
//! });
//! assert!(outcome.failure.is_none());
//! ```
#![deny(missing_docs)]

pub mod bugs;
pub mod build;
pub mod build_worker;
pub mod error;
pub mod exec;
pub mod failpoint;
pub mod frames;
pub mod hash_table;
pub mod meta;
pub mod probe;
pub mod probe_worker;
pub mod reference;
pub mod row_table;
pub mod slices;
pub mod spec;
pub mod spill;
pub mod tidb;
pub mod types;

pub use bugs::{Bug, Bugs};
pub use error::JoinError;
pub use spec::JoinSpec;
pub use types::{BuildSide, ColType, JoinType, Row, Value};
