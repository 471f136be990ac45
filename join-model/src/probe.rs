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
    /// probed to its end; one row at most per step, so `chk` never exceeds `cap`. Each join type
    /// walks a probe row's chain as TiDB's probe for it does.
    pub fn probe(&mut self, spec: &JoinSpec, table: &HashTableV2, chk: &mut Vec<Row>, cap: usize) {
        let kind = ProbeKind::of(spec);
        let (probe_frame, path_frame) = kind.frames(spec);
        let _probe = frame(probe_frame);
        let _path = path_frame.map(frame);
        while chk.len() < cap && !self.is_current_chunk_probe_done() {
            let (pr, p) = &self.rows[self.current];
            // A NULL key matches nothing.
            let (Some(key), Some(sub)) = (&pr.key, p.and_then(|p| table.tables[p].as_ref())) else {
                self.finish_row(spec, kind, chk);
                continue;
            };
            let ptr = match self.candidate {
                None => {
                    self.candidate = Some(sub.lookup(pr.hash));
                    self.matched = false;
                    continue;
                }
                Some(None) => {
                    self.finish_row(spec, kind, chk);
                    continue;
                }
                Some(Some(ptr)) => ptr,
            };
            self.candidate = Some(sub.next(ptr));
            let seg = &sub.segment(ptr).raw_data;
            match kind {
                // `probeForLeftSideBuild…`: a build row some worker already marked is skipped
                // before its key is compared (`isCurrentRowUsedWithAtomic`); a match passing the
                // other condition is marked. Nothing is emitted: the scan does that.
                ProbeKind::LeftBuildSemi => {
                    if spec.meta.is_current_row_used_with_atomic(seg, ptr.row_start)
                        || !spec.meta.is_key_matched(seg, ptr.row_start, key)
                    {
                        continue;
                    }
                    if spec.other.is_none() || spec.other_condition_holds(&decode(spec, seg, ptr), &pr.row) {
                        spec.meta.set_used_flag(seg, ptr.row_start);
                    }
                }
                // `probeForOuterSideBuild`: without an other condition the flag is set at the key
                // match; with one, after the filter and after the pair is emitted, and only for
                // pairs that pass it (outer_join_probe.go:322, 342-351).
                ProbeKind::OuterSideBuild => {
                    if !spec.meta.is_key_matched(seg, ptr.row_start, key) {
                        continue;
                    }
                    if spec.other.is_none() {
                        spec.meta.set_used_flag(seg, ptr.row_start);
                        chk.push(spec.combine(Some(&decode(spec, seg, ptr)), Some(&pr.row)));
                        continue;
                    }
                    let build = decode(spec, seg, ptr);
                    if spec.other_condition_holds(&build, &pr.row) {
                        chk.push(spec.combine(Some(&build), Some(&pr.row)));
                        spec.meta.set_used_flag(seg, ptr.row_start);
                    }
                }
                // Inner joins and outer joins building the inner side emit every pair passing the
                // other condition; the semi joins building the right side stop at the first.
                ProbeKind::Pairs | ProbeKind::InnerSideBuild | ProbeKind::RightBuildSemi { .. } => {
                    if !spec.meta.is_key_matched(seg, ptr.row_start, key) {
                        continue;
                    }
                    let build = decode(spec, seg, ptr);
                    if !spec.other_condition_holds(&build, &pr.row) {
                        continue;
                    }
                    self.matched = true;
                    if let ProbeKind::RightBuildSemi { .. } = kind {
                        self.candidate = Some(None);
                    } else {
                        chk.push(spec.combine(Some(&build), Some(&pr.row)));
                    }
                }
            }
        }
    }

    /// The current probe row's chain is walked (or it has a NULL key): emits what its join type
    /// emits for it, then moves to the next row.
    fn finish_row(&mut self, spec: &JoinSpec, kind: ProbeKind, chk: &mut Vec<Row>) {
        let row = &self.rows[self.current].0.row;
        match kind {
            ProbeKind::InnerSideBuild if !self.matched => chk.push(spec.combine(None, Some(row))),
            ProbeKind::RightBuildSemi { emit_matched, flag } => match flag {
                Some(anti) => chk.push(spec.semi_result(row, Some(self.matched != anti))),
                None if self.matched == emit_matched => chk.push(spec.semi_result(row, None)),
                None => {}
            },
            _ => {}
        }
        self.current += 1;
        self.candidate = None;
        self.matched = false;
    }
}

/// How a join type probes, by build side (`NewJoinProbe`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProbeKind {
    /// `innerJoinProbe`.
    Pairs,
    /// `outerJoinProbe.probeForInnerSideBuild`: unmatched probe rows come out NULL-extended.
    InnerSideBuild,
    /// `outerJoinProbe.probeForOuterSideBuild`: marks matched build rows.
    OuterSideBuild,
    /// `semiJoinProbe` / `antiSemiJoinProbe` building the left side: marks build rows only.
    LeftBuildSemi,
    /// The semi joins building the right side: a probe row is emitted once its chain is walked,
    /// if it matched (`emit_matched`: semi) or not (anti semi), or always with a flag (the left
    /// outer semi joins; `Some(anti)`).
    RightBuildSemi { emit_matched: bool, flag: Option<bool> },
}

impl ProbeKind {
    fn of(spec: &JoinSpec) -> ProbeKind {
        let left_build = spec.build_side == crate::types::BuildSide::Left;
        match spec.join_type {
            JoinType::Inner => ProbeKind::Pairs,
            JoinType::LeftOuter | JoinType::RightOuter if spec.need_used_flag() => ProbeKind::OuterSideBuild,
            JoinType::LeftOuter | JoinType::RightOuter => ProbeKind::InnerSideBuild,
            JoinType::Semi | JoinType::AntiSemi if left_build => ProbeKind::LeftBuildSemi,
            JoinType::Semi => ProbeKind::RightBuildSemi { emit_matched: true, flag: None },
            JoinType::AntiSemi => ProbeKind::RightBuildSemi { emit_matched: false, flag: None },
            JoinType::LeftOuterSemi => ProbeKind::RightBuildSemi { emit_matched: true, flag: Some(false) },
            JoinType::AntiLeftOuterSemi => ProbeKind::RightBuildSemi { emit_matched: true, flag: Some(true) },
        }
    }

    /// TiDB's `Probe` of the join type and the function it calls for this build side and
    /// condition, as stack frames.
    fn frames(self, spec: &JoinSpec) -> (&'static str, Option<&'static str>) {
        let (left_build, other) = (spec.build_side == crate::types::BuildSide::Left, spec.other.is_some());
        match (spec.join_type, self) {
            (JoinType::Inner, _) => (INNER_JOIN_PROBE, None),
            (_, ProbeKind::OuterSideBuild) => (OUTER_JOIN_PROBE, Some(PROBE_FOR_OUTER_SIDE_BUILD)),
            (_, ProbeKind::InnerSideBuild) => (OUTER_JOIN_PROBE, Some(PROBE_FOR_INNER_SIDE_BUILD)),
            (JoinType::LeftOuterSemi | JoinType::AntiLeftOuterSemi, _) => (
                LEFT_OUTER_SEMI_JOIN_PROBE,
                Some(if other { LOSJ_PROBE_WITH_OTHER_CONDITION } else { LOSJ_PROBE_WITHOUT_OTHER_CONDITION }),
            ),
            // Semi and anti semi: which side is built, then whether there is an other condition.
            (join_type, _) => {
                let (probe, paths) = if join_type == JoinType::Semi {
                    let paths = [
                        SEMI_LEFT_BUILD_NO_OTHER_CONDITION,
                        SEMI_LEFT_BUILD_HAS_OTHER_CONDITION,
                        SEMI_RIGHT_BUILD_NO_OTHER_CONDITION,
                        SEMI_RIGHT_BUILD_HAS_OTHER_CONDITION,
                    ];
                    (SEMI_JOIN_PROBE, paths)
                } else {
                    let paths = [
                        ANTI_SEMI_LEFT_BUILD_NO_OTHER_CONDITION,
                        ANTI_SEMI_LEFT_BUILD_HAS_OTHER_CONDITION,
                        ANTI_SEMI_RIGHT_BUILD_NO_OTHER_CONDITION,
                        ANTI_SEMI_RIGHT_BUILD_HAS_OTHER_CONDITION,
                    ];
                    (ANTI_SEMI_JOIN_PROBE, paths)
                };
                (probe, Some(paths[2 * usize::from(!left_build) + usize::from(other)]))
            }
        }
    }
}

/// `appendBuildRowToChunkInternal`: a build row's columns, null bits read atomically where a
/// concurrent `setUsedFlag` can touch their word.
fn decode(spec: &JoinSpec, seg: &harness::memory::CheckedBuf, ptr: RowPtr) -> Row {
    let _f = frame(APPEND_BUILD_ROW_TO_CHUNK_INTERNAL);
    spec.meta.decode_row(seg, ptr.row_start, spec.need_used_flag())
}

/// `ScanRowTable` for one scan worker, row by row over `rows` (a contiguous range of the whole
/// hash table, `InitForScanRowTable`): what each row emits, if anything: the unmatched rows
/// NULL-extended (outer joins), the used rows (semi joins building the left side) or the unused
/// ones (anti semi joins building it).
pub fn scan_row_table(spec: &JoinSpec, rows: &[(&SubTable, RowPtr)]) -> Vec<Option<Row>> {
    let (name, emit_used) = match spec.join_type {
        JoinType::Semi => (SEMI_SCAN_ROW_TABLE, true),
        JoinType::AntiSemi => (ANTI_SEMI_SCAN_ROW_TABLE, false),
        _ => (SCAN_ROW_TABLE, false),
    };
    let _f = frame(name);
    rows.iter()
        .map(|(sub, ptr)| {
            let seg = &sub.segment(*ptr).raw_data;
            (spec.meta.is_current_row_used(seg, ptr.row_start) == emit_used).then(|| {
                let build = spec.meta.decode_row(seg, ptr.row_start, false);
                if spec.join_type.is_semi_family() {
                    spec.semi_result(&build, None)
                } else {
                    spec.combine(Some(&build), None)
                }
            })
        })
        .collect()
}

/// `InitForScanRowTable` of the join type's probe, as a stack frame.
pub fn init_for_scan_row_table_frame(spec: &JoinSpec) -> &'static str {
    match spec.join_type {
        JoinType::Semi => SEMI_INIT_FOR_SCAN_ROW_TABLE,
        JoinType::AntiSemi => ANTI_SEMI_INIT_FOR_SCAN_ROW_TABLE,
        _ => INIT_FOR_SCAN_ROW_TABLE,
    }
}

/// The contiguous range of `total` rows that scan worker `worker` of `workers` owns.
pub fn scan_range(total: usize, worker: usize, workers: usize) -> std::ops::Range<usize> {
    let per = total.div_ceil(workers.max(1));
    (worker * per).min(total)..((worker + 1) * per).min(total)
}
