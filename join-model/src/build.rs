//! The build side (`hash_join_v2.go`, `hash_join_base.go`): the build fetcher or restore
//! controller hands chunks to split workers, which partition rows and append them to their row
//! tables; at safe points the spill helper may spill; then the per-worker row tables are merged
//! per partition and the hash table is built.

use std::sync::Arc;

use harness::memory::CheckedField;

use crate::hash_table::{HashTableV2, SubTable};
use crate::row_table::{hash_key, partition_index, partition_number, EncodedRow, RowTable, RowTableBuilder};
use crate::spec::JoinSpec;
use crate::types::Row;

/// Encodes a build row with its key hash (what a split worker does per row).
pub fn encode_build_row(spec: &JoinSpec, row: &Row) -> EncodedRow {
    let key = spec.build_key(row);
    let hash = key.as_deref().map(hash_key).unwrap_or(0);
    EncodedRow { hash, valid: key.is_some(), bytes: spec.meta.encode_row(row, key.as_deref()) }
}

/// `mergeRowTablesToHashTable` plus `buildHashTable`: concatenates every worker's row table of
/// each partition and builds that partition's sub-table; `spilled(p)` partitions get none.
pub fn merge_and_build(
    row_tables: &[CheckedField<Vec<RowTable>>],
    partitions: usize,
    spilled: &dyn Fn(usize) -> bool,
) -> HashTableV2 {
    let tables = (0..partitions)
        .map(|p| {
            (!spilled(p)).then(|| {
                let merged =
                    RowTable { segments: row_tables.iter().flat_map(|t| t.with(|t| t[p].segments.clone())).collect() };
                SubTable::build(p, &merged)
            })
        })
        .collect();
    HashTableV2 { tables }
}

/// The whole build in the calling goroutine: for slices whose subject is the probe.
pub fn build_in_memory(spec: &JoinSpec, rows: &[Row], concurrency: usize, segment_rows: usize) -> HashTableV2 {
    let partitions = partition_number(concurrency);
    let builder = RowTableBuilder::new(0, partitions, segment_rows);
    let row_tables = CheckedField::new("hashTableContext.rowTables[0]", vec![RowTable::default(); partitions]);
    for row in rows {
        let enc = encode_build_row(spec, row);
        builder.append(partition_index(enc.hash, partitions), enc, &row_tables);
    }
    builder.finalize_all(&row_tables);
    merge_and_build(std::slice::from_ref(&row_tables), partitions, &|_| false)
}

/// Keeps the builder type reachable for the restore slice (filled in below).
pub type SharedBuilder = Arc<RowTableBuilder>;
