//! Probing (`base_join_probe.go`, `inner_join_probe.go`, `outer_join_probe.go`) and the probe
//! worker's chain of calls (`hash_join_v2.go`: `runJoinWorker` → `processOneProbeChunk` →
//! `probeAndSendResult` → `Probe`).

use harness::go::frame;

use crate::frames::*;
use crate::hash_table::{HashTableV2, RowPtr, SubTable};
use crate::row_table::partition_index;
use crate::spec::JoinSpec;
use crate::types::{JoinType, Row};

/// A probe row with its serialized key and hash (in restore rounds, the rehashed hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeRow {
    /// The row.
    pub row: Row,
    /// Its serialized key; `None` for a NULL key.
    pub key: Option<Vec<u8>>,
    /// Hash of the key.
    pub hash: u64,
}

/// What probing one chunk produced.
#[derive(Debug, Default)]
pub struct ProbeOutput {
    /// Result rows.
    pub rows: Vec<Row>,
    /// Probe rows whose partition spilled: `(partition, row)`, to be written to the probe spill
    /// file and joined in a restore round.
    pub spilled: Vec<(usize, ProbeRow)>,
}

/// `joinProbe.Probe` for one chunk. `spilled(p)` says whether partition `p` is on disk.
pub fn probe(spec: &JoinSpec, table: &HashTableV2, rows: &[ProbeRow], spilled: &dyn Fn(usize) -> bool) -> ProbeOutput {
    let mut out = ProbeOutput::default();
    let partitions = table.tables.len();
    let _probe = frame(if spec.join_type == JoinType::Inner { INNER_JOIN_PROBE } else { OUTER_JOIN_PROBE });
    let _side = (spec.join_type != JoinType::Inner)
        .then(|| frame(if spec.need_used_flag() { PROBE_FOR_OUTER_SIDE_BUILD } else { PROBE_FOR_INNER_SIDE_BUILD }));
    for pr in rows {
        let Some(key) = &pr.key else {
            // A NULL key matches nothing.
            if spec.join_type.is_outer_side_probe(spec.build_side) {
                out.rows.push(spec.combine(None, Some(&pr.row)));
            }
            continue;
        };
        let p = partition_index(pr.hash, partitions);
        if spilled(p) {
            out.spilled.push((p, pr.clone()));
            continue;
        }
        let Some(sub) = &table.tables[p] else { continue };
        let mut matched = false;
        let mut cur = sub.lookup(pr.hash);
        while let Some(ptr) = cur {
            let seg = sub.segment(ptr);
            if spec.meta.is_key_matched(&seg.raw_data, ptr.row_start, key) {
                matched = true;
                if spec.need_used_flag() {
                    spec.meta.set_used_flag(&seg.raw_data, ptr.row_start);
                }
                let build = {
                    let _f = frame(APPEND_BUILD_ROW_TO_CHUNK_INTERNAL);
                    spec.meta.decode_row(&seg.raw_data, ptr.row_start, spec.need_used_flag())
                };
                out.rows.push(spec.combine(Some(&build), Some(&pr.row)));
            }
            cur = sub.next(ptr);
        }
        if !matched && spec.join_type.is_outer_side_probe(spec.build_side) {
            out.rows.push(spec.combine(None, Some(&pr.row)));
        }
    }
    out
}

/// `ScanRowTable` for one scan worker: emits the unmatched rows among `rows` (a contiguous range
/// of the whole hash table, `InitForScanRowTable`) with NULL probe columns.
pub fn scan_row_table(spec: &JoinSpec, rows: &[(&SubTable, RowPtr)]) -> Vec<Row> {
    let _f = frame(SCAN_ROW_TABLE);
    rows.iter()
        .filter(|(sub, ptr)| !spec.meta.is_current_row_used(&sub.segment(*ptr).raw_data, ptr.row_start))
        .map(|(sub, ptr)| {
            let build = spec.meta.decode_row(&sub.segment(*ptr).raw_data, ptr.row_start, false);
            spec.combine(Some(&build), None)
        })
        .collect()
}

/// The contiguous range of `total` rows that scan worker `worker` of `workers` owns.
pub fn scan_range(total: usize, worker: usize, workers: usize) -> std::ops::Range<usize> {
    let per = total.div_ceil(workers.max(1));
    (worker * per).min(total)..((worker + 1) * per).min(total)
}
