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

/// A probe worker's `joinProbe` for its current probe chunk (`SetChunkForProbe` …
/// `IsCurrentChunkProbeDone`): where the probe stands, so that `Probe` can stop when the result
/// chunk is full and go on after the worker got its chunk back, as TiDB's does.
#[derive(Debug)]
pub struct JoinProbe {
    /// The rows to probe, with their partition (`None` for a NULL key); rows of spilled
    /// partitions are not here (`SetChunkForProbe` sets them aside for the probe spill).
    rows: Vec<(ProbeRow, Option<usize>)>,
    /// `currentProbeRow`.
    current: usize,
    /// `matchedRowsHeaders[currentProbeRow]`: `None` before the lookup of the current row, then
    /// the next candidate (`Some(None)` once the chain is walked).
    candidate: Option<Option<RowPtr>>,
    /// Whether the current row matched a build row.
    matched: bool,
}

impl JoinProbe {
    /// `SetChunkForProbe`: the chunk's rows to probe, and the rows of spilled partitions
    /// (`(partition, row)`), which go to the probe spill files and a restore round.
    pub fn set_chunk_for_probe(
        table: &HashTableV2,
        rows: Vec<ProbeRow>,
        spilled: &dyn Fn(usize) -> bool,
    ) -> (JoinProbe, Vec<(usize, ProbeRow)>) {
        let partitions = table.tables.len();
        let mut probe = Vec::new();
        let mut spill = Vec::new();
        for pr in rows {
            match pr.key.is_some().then(|| partition_index(pr.hash, partitions)) {
                Some(p) if spilled(p) => spill.push((p, pr)),
                p => probe.push((pr, p)),
            }
        }
        (JoinProbe { rows: probe, current: 0, candidate: None, matched: false }, spill)
    }

    /// `IsCurrentChunkProbeDone`.
    pub fn is_current_chunk_probe_done(&self) -> bool {
        self.current >= self.rows.len()
    }

    /// `joinProbe.Probe`: appends result rows to `chk` until it holds `cap` rows or the chunk is
    /// probed to its end; one row at most per step, so `chk` never exceeds `cap`.
    pub fn probe(&mut self, spec: &JoinSpec, table: &HashTableV2, chk: &mut Vec<Row>, cap: usize) {
        let _probe = frame(if spec.join_type == JoinType::Inner { INNER_JOIN_PROBE } else { OUTER_JOIN_PROBE });
        let _side = (spec.join_type != JoinType::Inner).then(|| {
            frame(if spec.need_used_flag() { PROBE_FOR_OUTER_SIDE_BUILD } else { PROBE_FOR_INNER_SIDE_BUILD })
        });
        let outer_probe = spec.join_type.is_outer_side_probe(spec.build_side);
        while chk.len() < cap && !self.is_current_chunk_probe_done() {
            let (pr, p) = &self.rows[self.current];
            // A NULL key matches nothing.
            let (Some(key), Some(sub)) = (&pr.key, p.and_then(|p| table.tables[p].as_ref())) else {
                if pr.key.is_none() && outer_probe {
                    chk.push(spec.combine(None, Some(&pr.row)));
                }
                self.next_row();
                continue;
            };
            match self.candidate {
                None => {
                    self.candidate = Some(sub.lookup(pr.hash));
                    self.matched = false;
                }
                Some(Some(ptr)) => {
                    let seg = sub.segment(ptr);
                    if spec.meta.is_key_matched(&seg.raw_data, ptr.row_start, key) {
                        self.matched = true;
                        if spec.need_used_flag() {
                            spec.meta.set_used_flag(&seg.raw_data, ptr.row_start);
                        }
                        let build = {
                            let _f = frame(APPEND_BUILD_ROW_TO_CHUNK_INTERNAL);
                            spec.meta.decode_row(&seg.raw_data, ptr.row_start, spec.need_used_flag())
                        };
                        chk.push(spec.combine(Some(&build), Some(&pr.row)));
                    }
                    self.candidate = Some(sub.next(ptr));
                }
                Some(None) => {
                    if !self.matched && outer_probe {
                        chk.push(spec.combine(None, Some(&pr.row)));
                    }
                    self.next_row();
                }
            }
        }
    }

    fn next_row(&mut self) {
        self.current += 1;
        self.candidate = None;
    }
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
