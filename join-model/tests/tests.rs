//! join-model's integration tests, as one binary.

// Shared inputs.
mod common;
// joinTableMeta accessors on real segments.
mod meta_accessors;
// The probe slice: race 1 of TiDB #57450 with the old layout, clean and correct with the new.
// See: https://github.com/pingcap/tidb/issues/57450
mod probe_slice;
// Slice (b): race 2 of TiDB #57450 with the builder created in the worker, clean with the fix.
mod restore_slice;
// The whole executor: results equal the reference join, with and without spill.
mod executor;
// Random inputs, join kinds, concurrency and quotas against the reference join (proptest).
mod proptest_join;
// TiDB's error and panic paths at each modelled commit, one test per audit item.
mod tidb_paths;
