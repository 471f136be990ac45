//! The executor slices loom can run (it allows at most 4 spawned goroutines per execution):
//!
//! - [`probe_slice`]: two probe workers probing one prepared hash table, the probe fetcher's
//!   hand-out of chunks, a caller taking the result chunks and handing them back (`Next`), then
//!   the scan for unmatched rows (race 1 of #57450 lives here);
//! - [`restore_build_slice`]: a restore round's build, the main goroutine acting as the
//!   controller, two split workers and the spill goroutines (race 2 of #57450 lives here).
//!
//! Each slice checks its result against the reference join, so a schedule that computes a wrong
//! result fails the exploration too.

use std::sync::Arc;

use harness::go::{self, frame, AtomicBool, Chan, WaitGroup};
use harness::memory::CheckedField;

use crate::bugs::{Bug, Bugs};
use crate::build::{
    build_in_memory, control_workers_for_restore, encode_build_row, fetch_build_side_rows_impl, merge_row_tables,
    split_and_append_to_row_table, BuildCtx, BuildSource, Phase,
};
use crate::build_worker::BuildWorkerV2;
use crate::failpoint::Failpoints;
use crate::frames::*;
use crate::probe::{scan_range, scan_row_table, ProbeRow};
use crate::probe_worker::{HashjoinWorkerResult, NoSpill, ProbeChannels, ProbeRound, ProbeWorkerV2};
use crate::reference::{reference_join, sorted};
use crate::row_table::hash_key;
use crate::row_table::{partition_number, rehash, RowTableBuilder};
use crate::spec::JoinSpec;
use crate::spill::{decode_build_rows, encode_build_rows, HashJoinSpillHelper};
use crate::types::Row;

/// A join over fixed inputs, split into probe chunks.
#[derive(Clone, Debug)]
pub struct JoinInput {
    /// The join and its layout.
    pub spec: JoinSpec,
    /// Left input rows.
    pub left: Vec<Row>,
    /// Right input rows.
    pub right: Vec<Row>,
    /// Rows per chunk.
    pub chunk_size: usize,
    /// Rows per result chunk (`MaxChunkSize`).
    pub max_chunk_size: usize,
    /// Rows per row table segment (`maxRowTableSegmentSize`).
    pub segment_rows: usize,
}

impl JoinInput {
    /// The build side's rows.
    pub fn build_rows(&self) -> &[Row] {
        self.spec.split(&self.left, &self.right).0
    }

    /// The probe side's rows.
    pub fn probe_rows(&self) -> &[Row] {
        self.spec.split(&self.left, &self.right).1
    }

    /// The probe side as chunks of probe rows with keys and hashes.
    pub fn probe_chunks(&self) -> Vec<Vec<ProbeRow>> {
        self.probe_rows()
            .chunks(self.chunk_size.max(1))
            .map(|c| {
                c.iter()
                    .map(|row| {
                        let key = self.spec.probe_key(row);
                        let hash = key.as_deref().map(hash_key).unwrap_or(0);
                        ProbeRow { row: row.clone(), key, hash }
                    })
                    .collect()
            })
            .collect()
    }
}

/// Slice (a): the hash table is built by the main goroutine; `workers` probe workers (at most 3)
/// take the probe chunks from the main goroutine acting as probe fetcher, and send their result
/// chunks to a goroutine acting as the caller's `Next`, which hands each chunk back to its worker
/// (without it the workers would wait for their chunks forever); after `workerWg.Wait` the main
/// goroutine scans for unmatched build rows. At most 4 goroutines, loom's limit. Asserts the
/// result equals the reference.
pub fn probe_slice(input: Arc<JoinInput>, workers: usize) {
    let spec = Arc::new(input.spec.clone());
    let table = Arc::new(build_in_memory(&spec, input.build_rows(), workers, input.segment_rows));
    let chunks = input.probe_chunks();
    let round = Arc::new(CheckedField::new(
        "hashTableContext",
        Some(ProbeRound { table: table.clone(), spill: Arc::new(NoSpill) }),
    ));
    let resource = Chan::new("probeChkResourceCh", workers);
    let results: Chan<HashjoinWorkerResult> = Chan::new("joinResultCh", workers + 1);
    let close = Chan::new("closeCh", 0);
    let wg = WaitGroup::new("workerWg");
    let mut inputs = Vec::new();
    {
        let _f = frame(START_PROBE_JOIN_WORKERS);
        for w in 0..workers {
            let worker = ProbeWorkerV2 {
                worker_id: w,
                spec: spec.clone(),
                round: round.clone(),
                failpoints: Arc::new(Failpoints::none()),
                join_chk_resource: Chan::new(format!("ProbeWorkers[{w}].joinChkResourceCh"), 1),
                max_chunk_size: input.max_chunk_size.max(1),
            };
            worker.join_chk_resource.send(Vec::new());
            let ch = ProbeChannels {
                resource: resource.clone(),
                input: Chan::new(format!("probeResultChs[{w}]"), 1),
                results: results.clone(),
                close: close.clone(),
            };
            inputs.push(ch.input.clone());
            resource.send(w);
            let handler = results.clone();
            run_with_recover(
                Some(&wg),
                move || {
                    let _f = frame(START_PROBE_JOIN_WORKERS_FUNC1);
                    worker.run_join_worker(&ch);
                },
                // handleProbeWorkerPanic.
                move |r| {
                    if let Some(e) = r {
                        handler.send(HashjoinWorkerResult::error(e));
                    }
                },
            );
        }
    }
    let next = {
        let results = results.clone();
        go::go(move || {
            let _f = frame(NEXT);
            let mut rows = Vec::new();
            while let Some(r) = results.recv() {
                assert!(r.err.is_none(), "no error in the probe slice: {:?}", r.err);
                rows.extend(r.chk.expect("a result carries its chunk"));
                r.src.expect("a chunk carries its channel").send(Vec::new());
            }
            rows
        })
    };
    {
        // fetchProbeSideChunks: hand each chunk to whichever worker asks first.
        let _f = frame(FETCH_PROBE_SIDE_CHUNKS);
        for chunk in chunks {
            let w = resource.recv().expect("resource channel stays open");
            inputs[w].send(chunk);
        }
        inputs.iter().for_each(|c| c.close());
    }
    let mut rows = Vec::new();
    {
        let _f = frame(WAIT_JOIN_WORKERS);
        wg.wait();
        if spec.need_used_flag() {
            let _f = frame(SCAN_ROW_TABLE_AFTER_PROBE_DONE);
            let all = table.all_rows();
            rows.extend(scan_row_table(&spec, &all[scan_range(all.len(), 0, 1)]).into_iter().flatten());
        }
    }
    results.close();
    rows.extend(next.join());
    let want = reference_join(&spec, &input.left, &input.right);
    assert_eq!(sorted(rows), sorted(want), "join result differs from the reference join");
}

/// A restore round's build input: per worker, the chunks of its spill file from the last round.
#[derive(Clone, Debug)]
pub struct RestoreInput {
    /// The join (its build side's layout is what the files hold).
    pub spec: JoinSpec,
    /// Per worker, the chunks of build rows in its restored file.
    pub chunks_per_worker: Vec<Vec<Vec<Row>>>,
    /// Memory quota in bytes: exceeding it makes the controller spill at its next safe point.
    pub quota: usize,
    /// Rows per row table segment.
    pub segment_rows: usize,
    /// Active bugs.
    pub bugs: Bugs,
    /// Where the spill files go (`ExecConfig::spill_dir`); `None`: memory-backed files.
    pub spill_dir: Option<std::path::PathBuf>,
}

/// Slice (b): a restore round's build. The main goroutine writes last round's spill files, then
/// acts as the build coordinator (starting the split workers) and as the restore controller
/// (handing out one token per restored chunk, spilling at the safe points). Afterwards it checks
/// that every restored row is either in a row table or in a new spill file, exactly once.
pub fn restore_build_slice(input: Arc<RestoreInput>) {
    build_slice(&input, true);
}

/// Slice (c): round 1's build, the same as (b) but with the main goroutine as the build fetcher
/// (`fetchBuildSideRows`) handing out the build child's chunks (`chunks_per_worker`, in order),
/// and no builders left from a previous round.
pub fn round1_build_slice(input: Arc<RestoreInput>) {
    build_slice(&input, false);
}

fn build_slice(input: &RestoreInput, restore: bool) {
    let workers = input.chunks_per_worker.len();
    let partitions = partition_number(workers);
    let spec = Arc::new(input.spec.clone());
    let helper = HashJoinSpillHelper::new(Some(input.quota), 4, partitions, workers, input.spill_dir.as_deref())
        .expect("spill directory");
    let helper = Arc::new(helper.with_tidb(&input.bugs, Arc::new(Failpoints::none())).for_loom_slice());
    // `Next` let the join spill before the build began.
    helper.set_can_spill_flag(true);
    // What the workers build from, and every row it holds: in a restore round, last round's build
    // files, one per worker, as `spillBuildSegmentToDisk` wrote them; in round 1, the child's chunks.
    let mut want = Vec::new();
    let source = if restore {
        BuildSource::Restored(
            (0..workers)
                .map(|w| {
                    let file = helper.files().create(&format!("restored-w{w}")).expect("spill file");
                    for chunk in &input.chunks_per_worker[w] {
                        let rows: Vec<_> = chunk.iter().map(|r| encode_build_row(&spec, r)).collect();
                        want.extend(rows.iter().map(|r| (rehash(r.hash), r.bytes.clone())));
                        file.add(&encode_build_rows(&rows)).expect("spill write");
                    }
                    Arc::new(file)
                })
                .collect(),
        )
    } else {
        let chunks: Vec<Vec<Row>> = input.chunks_per_worker.iter().flatten().cloned().collect();
        for chunk in &chunks {
            want.extend(chunk.iter().map(|r| encode_build_row(&spec, r)).map(|r| (r.hash, r.bytes)));
        }
        BuildSource::Chunks(chunks)
    };
    let ctx = Arc::new(BuildCtx {
        spec: spec.clone(),
        partitions,
        segment_rows: input.segment_rows,
        workers: (0..workers).map(|w| BuildWorkerV2::new(w, partitions)).collect(),
        spill: helper.clone(),
        bugs: input.bugs.clone(),
        failpoints: Arc::new(Failpoints::none()),
        close: Chan::new("closeCh", 0),
        finished: AtomicBool::new(false),
        round: usize::from(restore),
    });
    if restore {
        // The previous round's builders are still in the fields.
        for w in &ctx.workers {
            w.builder.set(Some(RowTableBuilder::new(w.worker_id, partitions, input.segment_rows)));
        }
    }
    let phase = Phase::new(workers);
    let sync: Chan<Vec<Row>> = Chan::new("srcChkCh", 1);
    let wait_for_controller = Chan::new("waitForController", 0);
    {
        let _a = frame(RUN_WITH_RECOVER_FUNC1);
        let _b = frame(FETCH_AND_BUILD_HASH_TABLE_FUNC2);
        let _c = frame(FETCH_AND_BUILD_HASH_TABLE_IMPL);
        if !input.bugs.has(Bug::BuilderPublication) {
            for w in &ctx.workers {
                w.builder.set(Some(RowTableBuilder::new(w.worker_id, partitions, input.segment_rows)));
            }
        }
        let wfc = restore.then_some(&wait_for_controller);
        split_and_append_to_row_table(&ctx, &phase, &sync, wfc, &source);
    }
    {
        let _a = frame(RUN_WITH_RECOVER_FUNC1);
        let _b = frame(FETCH_BUILD_SIDE_ROWS_FUNC1);
        match &source {
            BuildSource::Restored(files) => {
                let chunk_num = files.iter().map(|f| f.num_chunks()).sum();
                control_workers_for_restore(&ctx, &phase, chunk_num, &sync, &wait_for_controller);
            }
            BuildSource::Chunks(chunks) => fetch_build_side_rows_impl(&ctx, &phase, chunks.clone(), &sync),
        }
    }
    phase.wait_job_done().expect("no error in the restore slice");
    // Every row is in memory or in a spill file of this round, once.
    let spilled = helper.spilled_flags();
    let mut got: Vec<(u64, Vec<u8>)> = Vec::new();
    for table in merge_row_tables(&ctx.workers, partitions, &spilled).into_iter().flatten() {
        for seg in &table.segments {
            got.extend((0..seg.row_count()).map(|i| (seg.hash_values[i], zero_next(seg.row_bytes(i)))));
        }
    }
    helper.prepare_for_restoring(1).expect("within the round limit");
    while let Some(part) = helper.pop_restore() {
        for file in &part.build_side_chunks {
            for i in 0..file.num_chunks() {
                let rows = decode_build_rows(&file.get_chunk(i).expect("spill read"));
                got.extend(rows.into_iter().map(|r| (r.hash, r.bytes)));
            }
        }
    }
    got.sort();
    want.sort();
    assert_eq!(got, want, "restored rows lost or duplicated");
}

/// A row's bytes with its next pointer cleared (it is only meaningful inside one hash table).
fn zero_next(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes[..8].fill(0);
    bytes
}
