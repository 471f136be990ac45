//! The build side (`hash_join_v2.go`, `hash_join_base.go`): the build fetcher (round 1) or the
//! restore controller (later rounds) hands chunks to the split workers, which partition rows and
//! append them to their row tables; before each chunk the spill helper may spill (a safe point);
//! then the per-worker row tables are merged per partition and the hash table is built.
//!
//! Goroutines, as in TiDB: the fetcher or controller (`fetchBuildSideRows.func1`), one split
//! worker per concurrency unit (`splitAndAppendToRowTable.func1`), one spill goroutine per worker
//! for each spill (`spillRowTableImpl.func1`), `createTasks`, and the hash table build workers.

use std::sync::Arc;

use harness::go::{self, frame, select, AtomicBool, Chan, WaitGroup};

use crate::bugs::{Bug, Bugs};
use crate::build_worker::BuildWorkerV2;
use crate::error::JoinError;
use crate::failpoint::Failpoints;
use crate::frames::*;
use crate::hash_table::{HashTableV2, SubTable};
use crate::row_table::{hash_key, partition_index, partition_number, rehash, EncodedRow, RowTable, RowTableBuilder};
use crate::spec::JoinSpec;
use crate::spill::{decode_build_rows, hash_table_memory_usage, DataInDiskByChunks, HashJoinSpillHelper, MemoryCharge};
use crate::types::{Row, Value};

/// What one round's build shares.
#[derive(Debug)]
pub struct BuildCtx {
    /// The join.
    pub spec: Arc<JoinSpec>,
    /// `partitionNumber`.
    pub partitions: usize,
    /// `maxRowTableSegmentSize`.
    pub segment_rows: usize,
    /// The split workers.
    pub workers: Vec<Arc<BuildWorkerV2>>,
    /// The spill helper.
    pub spill: Arc<HashJoinSpillHelper>,
    /// Active bugs.
    pub bugs: Bugs,
    /// Failpoints.
    pub failpoints: Arc<Failpoints>,
    /// `closeCh`.
    pub close: Chan<()>,
    /// `finished`.
    pub finished: AtomicBool,
    /// The round: 0 for the first, then the restore round's number.
    pub round: usize,
}

/// Where a round's build rows come from.
#[derive(Clone, Debug)]
pub enum BuildSource {
    /// Round 1: the build child's chunks.
    Chunks(Vec<Vec<Row>>),
    /// A restore round: one spill file per worker (`restoredBuildInDisk`).
    Restored(Vec<Arc<DataInDiskByChunks>>),
}

/// The channels of one build phase.
#[derive(Clone, Debug)]
pub(crate) struct Phase {
    syncer: WaitGroup,
    wg: WaitGroup,
    err: Chan<JoinError>,
    done: Chan<()>,
}

impl Phase {
    pub(crate) fn new(concurrency: usize) -> Phase {
        Phase {
            syncer: WaitGroup::new("fetcherAndWorkerSyncer"),
            wg: WaitGroup::new("wg"),
            err: Chan::new("errCh", 1 + concurrency),
            done: Chan::new("doneCh", concurrency),
        }
    }

    /// `handleErr`: reports the error and tells the producer to stop, with two blocking sends as
    /// in TiDB. `errCh` has room for one error per worker and one more: a goroutine that sends
    /// beyond that blocks until `waitJobDone`, which waits for it, never comes (audit H5).
    fn handle_err(&self, e: JoinError) {
        self.err.send(e);
        self.done.send(());
    }

    /// The `RunWithRecover` handler of a split or hash table build worker: a recovered panic is
    /// handled as an error, then `wg.Done()`.
    fn worker_recovered(&self, r: Option<JoinError>) {
        if let Some(e) = r {
            self.handle_err(e);
        }
        self.wg.done();
    }

    /// `waitJobDone`: waits for the phase's goroutines and returns the first error.
    pub(crate) fn wait_job_done(&self) -> Result<(), JoinError> {
        self.wg.wait();
        self.err.close();
        match self.err.recv() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The bytes a child's chunk holds (its values: 8 per integer, a string's length, 1 per NULL).
pub fn chunk_bytes(rows: &[Row]) -> usize {
    let value = |v: &Value| match v {
        Value::Str(s) => s.len(),
        Value::Int(_) => 8,
        Value::Null => 1,
    };
    rows.iter().flatten().map(value).sum()
}

/// Encodes a build row with its key hash (what a split worker does per row).
pub fn encode_build_row(spec: &JoinSpec, row: &Row) -> EncodedRow {
    let key = spec.build_key(row);
    let hash = key.as_deref().map(hash_key).unwrap_or(0);
    EncodedRow { hash, valid: key.is_some(), bytes: spec.meta.encode_row(row, key.as_deref()) }
}

/// `fetchAndBuildHashTableImpl`: one round's build, from `source` to a hash table of the
/// partitions that stayed in memory.
pub fn fetch_and_build_hash_table_impl(ctx: &Arc<BuildCtx>, source: BuildSource) -> Result<HashTableV2, JoinError> {
    let _f = frame(FETCH_AND_BUILD_HASH_TABLE_IMPL);
    if !ctx.bugs.has(Bug::BuilderPublication) {
        // PR #57519: "Init rowTableBuilder in BuildWorkerV2 before start worker".
        for w in &ctx.workers {
            w.builder.set(Some(RowTableBuilder::new(w.worker_id, ctx.partitions, ctx.segment_rows)));
        }
    }
    let phase = Phase::new(ctx.workers.len());
    let (src, wait_for_controller) = fetch_build_side_rows(ctx, &phase, source.clone());
    split_and_append_to_row_table(ctx, &phase, &src, wait_for_controller.as_ref(), &source);
    phase.wait_job_done()?;
    let spilled = ctx.spill.spilled_flags();
    let mut merged = merge_row_tables(&ctx.workers, ctx.partitions, &spilled);
    try_to_spill(ctx, &mut merged)?;
    // "After merging row tables, hash join can not spill any more."
    ctx.spill.set_can_spill_flag(false);
    build_hash_table(ctx, merged)
}

/// `tryToSpill` (`hash_join_v2.go:190-222`): charged as TiDB does ([`MemoryCharge::Tidb`]), the
/// hash table's memory first, which may run the memory action on this goroutine; a spill asked
/// for by then (by this charge or after the last safe point) is done here, between the row tables
/// and the hash table, and each spilled partition is charged an empty table.
fn try_to_spill(ctx: &BuildCtx, merged: &mut [Option<RowTable>]) -> Result<(), JoinError> {
    let tidb = ctx.spill.charge == MemoryCharge::Tidb;
    if tidb {
        let valid = |t: &Option<RowTable>| {
            t.as_ref().map_or(0, |t| t.segments.iter().map(|s| s.valid_join_key_pos.len()).sum())
        };
        let usage: Vec<usize> = merged.iter().map(|t| hash_table_memory_usage(valid(t))).collect();
        ctx.spill.consume(&usage);
    }
    if !ctx.spill.is_spill_needed() {
        return Ok(());
    }
    ctx.spill.spill_row_table(&ctx.workers)?;
    ctx.spill.note_spill(ctx.round, true);
    let spilled = ctx.spill.spilled_partitions();
    spilled.iter().for_each(|&p| merged[p] = None);
    if tidb {
        let empty = hash_table_memory_usage(0);
        let usage: Vec<usize> = (0..ctx.partitions).map(|p| if spilled.contains(&p) { empty } else { 0 }).collect();
        ctx.spill.consume(&usage);
    }
    Ok(())
}

/// `fetchBuildSideRows` on the executor: starts the build fetcher (round 1) or the restore
/// controller in a goroutine. Returns the chunk channel and, in restore rounds, the controller's
/// "go ahead and finalize" channel.
fn fetch_build_side_rows(
    ctx: &Arc<BuildCtx>,
    phase: &Phase,
    source: BuildSource,
) -> (Chan<Vec<Row>>, Option<Chan<()>>) {
    let src: Chan<Vec<Row>> = Chan::new("srcChkCh", 1);
    let wait_for_controller = matches!(source, BuildSource::Restored(_)).then(|| Chan::new("waitForController", 0));
    phase.wg.add(1);
    let (ctx, phase2, src2, wfc) = (ctx.clone(), phase.clone(), src.clone(), wait_for_controller.clone());
    let handler = phase.clone();
    run_with_recover(
        None,
        move || {
            let _f = frame(FETCH_BUILD_SIDE_ROWS_FUNC1);
            match source {
                BuildSource::Restored(files) => {
                    let chunk_num = files.iter().map(|f| f.num_chunks()).sum();
                    control_workers_for_restore(&ctx, &phase2, chunk_num, &src2, &wfc.expect("restore round"));
                }
                BuildSource::Chunks(chunks) => fetch_build_side_rows_impl(&ctx, &phase2, chunks, &src2),
            }
        },
        move |r| {
            if let Some(e) = r {
                handler.err.send(e);
            }
            handler.wg.done();
        },
    );
    (src, wait_for_controller)
}

/// `(*buildWorkerBase).fetchBuildSideRows`: round 1's fetcher. Its deferred function recovers a
/// panic into `errCh`; after an error it skips spilling the remaining rows.
pub(crate) fn fetch_build_side_rows_impl(ctx: &BuildCtx, phase: &Phase, chunks: Vec<Vec<Row>>, src: &Chan<Vec<Row>>) {
    let _f = frame(FETCH_BUILD_SIDE_ROWS);
    let mut has_error = false;
    // TiDB's `issue51998` sleeps here before the first chunk; paused, the build stalls until Close.
    if ctx.failpoints.pauses("issue51998") {
        ctx.close.recv();
    }
    let mut held = 0;
    let fetched = go::recover(|| {
        for chunk in chunks {
            // TiDB's `issue59377Intest` follows the safe point (from PR #59381; the model has it
            // at earlier commits too, to show what the fix changed).
            let checked =
                check_and_spill_row_table_if_needed(ctx, &phase.syncer).and_then(|()| ctx.failpoints.hit("Issue59377"));
            if let Err(e) = checked {
                has_error = true;
                // Before PR #59381 TiDB returned here without a word (`hasError = true; return`):
                // the build went on with the rows fetched so far (#59377).
                if !ctx.bugs.has(Bug::LostBuildError) {
                    phase.err.send(e);
                }
                return;
            }
            if ctx.finished.load() {
                return;
            }
            // exec.Next on the build child, which charges its new chunk to its own tracker under
            // the session's (the action may run here), then `issue51998`'s error in place of its
            // result.
            let bytes = chunk_bytes(&chunk);
            ctx.spill.child_chunk(std::mem::replace(&mut held, bytes), bytes);
            if let Err(e) = ctx.failpoints.hit("issue51998") {
                has_error = true;
                phase.err.send(e);
                return;
            }
            phase.syncer.add(1);
            if !hand_out(ctx, phase, src, chunk) {
                return;
            }
        }
    });
    if let Err(p) = fetched {
        has_error = true;
        phase.err.send(p.into());
    }
    // Only a triggered spill waits for the workers here (audit H12): the rows they hold are spilled.
    if !has_error && ctx.spill.is_spill_triggered() {
        phase.syncer.wait();
        if let Err(e) = ctx.spill.spill_remaining_rows(&ctx.workers) {
            phase.err.send(e);
        }
    }
    src.close();
}

/// Sends one chunk (or restore token) unless a worker failed or the executor closed; on those
/// the chunk's syncer count is given back.
fn hand_out(ctx: &BuildCtx, phase: &Phase, src: &Chan<Vec<Row>>, chunk: Vec<Row>) -> bool {
    let (mut send, mut stop, mut closed) = (src.send_case(chunk), phase.done.recv_case(), ctx.close.recv_case());
    if select(&mut [&mut send, &mut stop, &mut closed]) == 0 {
        return true;
    }
    phase.syncer.done();
    false
}

/// `controlWorkersForRestore`: hands out one token per restored chunk; at the end waits for
/// the workers, spills remaining rows and lets the workers finalize. As in TiDB, only a recovered
/// panic stops the remaining rows from being spilled: after an error it still spills, and a second
/// error may follow the first (audit H5).
pub(crate) fn control_workers_for_restore(
    ctx: &BuildCtx,
    phase: &Phase,
    chunk_num: usize,
    sync: &Chan<Vec<Row>>,
    wait_for_controller: &Chan<()>,
) {
    let _f = frame(CONTROL_WORKERS_FOR_RESTORE);
    let handed = go::recover(|| {
        for _ in 0..chunk_num {
            if ctx.finished.load() {
                return;
            }
            let checked = check_and_spill_row_table_if_needed(ctx, &phase.syncer)
                .and_then(|()| ctx.failpoints.hit("panicOrError@controlWorkersForRestore"));
            if let Err(e) = checked {
                phase.err.send(e);
                return;
            }
            phase.syncer.add(1);
            if !hand_out(ctx, phase, sync, Vec::new()) {
                return;
            }
        }
    });
    sync.close();
    let has_error = handed.is_err();
    if let Err(p) = handed {
        phase.err.send(p.into());
    }
    phase.syncer.wait();
    if !has_error && ctx.spill.is_spill_triggered() {
        if let Err(e) = ctx.spill.spill_remaining_rows(&ctx.workers) {
            phase.err.send(e);
        }
    }
    wait_for_controller.close();
}

/// `checkAndSpillRowTableIfNeeded`: the safe point before each chunk. If a spill is pending, waits
/// for the workers to finish the chunks handed out so far, then spills.
pub fn check_and_spill_row_table_if_needed(ctx: &BuildCtx, syncer: &WaitGroup) -> Result<(), JoinError> {
    let _f = frame(CHECK_AND_SPILL_ROW_TABLE_IF_NEEDED);
    if !ctx.spill.is_spill_needed() {
        return Ok(());
    }
    syncer.wait();
    ctx.spill.spill_row_table(&ctx.workers)?;
    ctx.spill.note_spill(ctx.round, false);
    Ok(())
}

/// `splitAndAppendToRowTable`: starts one split worker per build worker.
pub(crate) fn split_and_append_to_row_table(
    ctx: &Arc<BuildCtx>,
    phase: &Phase,
    src: &Chan<Vec<Row>>,
    wait_for_controller: Option<&Chan<()>>,
    source: &BuildSource,
) {
    let _f = frame(SPLIT_AND_APPEND_TO_ROW_TABLE);
    phase.wg.add(ctx.workers.len() as i64);
    for w in 0..ctx.workers.len() {
        let (ctx, phase, src) = (ctx.clone(), phase.clone(), src.clone());
        let restore = match source {
            BuildSource::Restored(files) => Some((files[w].clone(), wait_for_controller.expect("restore").clone())),
            BuildSource::Chunks(_) => None,
        };
        let handler = phase.clone();
        run_with_recover(
            None,
            move || {
                let _f = frame(SPLIT_AND_APPEND_TO_ROW_TABLE_FUNC1);
                let worker = &ctx.workers[w];
                match restore {
                    Some((file, wfc)) => {
                        split_partition_and_append_to_row_table_for_restore(&ctx, worker, &phase, &file, &src, &wfc)
                    }
                    None => split_partition_and_append_to_row_table(&ctx, worker, &phase, &src),
                }
            },
            move |r| handler.worker_recovered(r),
        );
    }
}

/// The builder a split worker appends with; with the builder-publication bug, the worker creates
/// it itself, first thing (pre-#57519 `hash_join_v2.go:510`).
fn worker_builder(ctx: &BuildCtx, worker: &BuildWorkerV2) -> Arc<RowTableBuilder> {
    if ctx.bugs.has(Bug::BuilderPublication) {
        worker.builder.set(Some(RowTableBuilder::new(worker.worker_id, ctx.partitions, ctx.segment_rows)));
    }
    worker.builder.get().expect("the builder is created before the worker appends")
}

/// `splitPartitionAndAppendToRowTable`: round 1's split worker. Nothing in it recovers: a panic
/// ends the worker (after the deferred `fetcherAndWorkerSyncer.Done()` of the chunk in hand), and
/// the `RunWithRecover` handler reports it; the chunks it would have taken stay in `srcChkCh`.
fn split_partition_and_append_to_row_table(
    ctx: &BuildCtx,
    worker: &BuildWorkerV2,
    phase: &Phase,
    src: &Chan<Vec<Row>>,
) {
    let _f = frame(SPLIT_PARTITION_AND_APPEND);
    let builder = worker_builder(ctx, worker);
    let mut has_err = false;
    while let Some(chunk) = src.recv() {
        // splitPartitionAndAppendToRowTableImpl: `defer fetcherAndWorkerSyncer.Done()`.
        let appended = go::defer(
            || {
                if has_err {
                    return Ok(());
                }
                let rows = chunk.iter().map(|r| encode_build_row(&ctx.spec, r)).collect();
                append_rows(ctx, worker, &builder, rows, |h| h, "splitPartitionPanic")
            },
            || phase.syncer.done(),
        );
        if let Err(e) = appended {
            has_err = true;
            phase.handle_err(e);
        }
    }
    if !has_err {
        finalize_remaining(ctx, worker, &builder);
    }
}

/// `splitPartitionAndAppendToRowTableForRestore`: a restore round's split worker reads chunk `i`
/// of its own spill file for each token. Unlike round 1's, its per-chunk function recovers a
/// panic into an error, so the worker goes on draining tokens.
fn split_partition_and_append_to_row_table_for_restore(
    ctx: &BuildCtx,
    worker: &BuildWorkerV2,
    phase: &Phase,
    file: &DataInDiskByChunks,
    sync: &Chan<Vec<Row>>,
    wait_for_controller: &Chan<()>,
) {
    let _f = frame(SPLIT_PARTITION_AND_APPEND_FOR_RESTORE);
    let builder = worker_builder(ctx, worker);
    let mut has_err = false;
    for i in 0..file.num_chunks() {
        if sync.recv().is_none() {
            break;
        }
        let processed = go::recover(|| {
            if has_err {
                return Ok(());
            }
            file.get_chunk(i).and_then(|bytes| {
                append_rows(ctx, worker, &builder, decode_build_rows(&bytes), rehash, "splitPartitionPanic")
            })
        });
        phase.syncer.done();
        if let Err(e) = processed.unwrap_or_else(|p| Err(p.into())) {
            has_err = true;
            phase.handle_err(e);
        }
    }
    // "Wait for command from the controller so that we can avoid data race with the spill
    // executed in controller."
    wait_for_controller.recv();
    if !has_err {
        finalize_remaining(ctx, worker, &builder);
    }
}

/// Appends encoded rows to the builder, partitioned by `hash_of(row.hash)`, and charges their
/// memory to the tracker on this goroutine: the chunk's rows at once, or each segment finalized
/// ([`MemoryCharge`]).
fn append_rows(
    ctx: &BuildCtx,
    worker: &BuildWorkerV2,
    builder: &RowTableBuilder,
    rows: Vec<EncodedRow>,
    hash_of: impl Fn(u64) -> u64,
    failpoint: &str,
) -> Result<(), JoinError> {
    // The SQL killer's checks as TiDB places them: round 1 checks twice before the rows
    // (`processOneChunk`, row_table_builder.go:120, 137), then before rows 0, 10, 20, … and the
    // last (`appendToRowTable`, 345); a restore round before rows 0, 100, … (208).
    let kill = |i: usize, last: usize| match ctx.round {
        0 if i % 10 == 0 || i == last => ctx.failpoints.hit("killedDuringBuild"),
        0 => Ok(()),
        _ if i % 100 == 0 => ctx.failpoints.hit("killedDuringRestoreBuild"),
        _ => Ok(()),
    };
    if ctx.round == 0 && !rows.is_empty() {
        ctx.failpoints.hit("killedDuringBuild")?;
        ctx.failpoints.hit("killedDuringBuild")?;
    }
    let last = rows.len().saturating_sub(1);
    let tidb = ctx.spill.charge == MemoryCharge::Tidb;
    let mut bytes = vec![0; ctx.partitions];
    let mut killed = Ok(());
    for (i, mut row) in rows.into_iter().enumerate() {
        killed = kill(i, last);
        if killed.is_err() {
            break;
        }
        row.hash = hash_of(row.hash);
        let p = partition_index(row.hash, ctx.partitions);
        let row_bytes = row.bytes.len();
        let finalized = builder.append(p, row, &worker.row_tables, ctx.round == 0);
        if !tidb {
            bytes[p] += row_bytes;
        } else if finalized > 0 {
            // `finalizeCurrentSeg` with `needConsume`: the segment is charged as it is finalized.
            charge_segment(ctx, p, finalized);
        }
    }
    // Scaled: the chunk's rows are charged at once.
    if !tidb {
        ctx.spill.consume(&bytes);
    }
    killed?;
    // TiDB's `splitPartitionPanic` follows `processOneChunk`: the chunk's rows are in the row
    // table and their memory is charged when it fires.
    ctx.failpoints.hit(failpoint)
}

/// Charges a finalized segment of `bytes` in partition `p`.
fn charge_segment(ctx: &BuildCtx, p: usize, bytes: usize) {
    let mut usage = vec![0; ctx.partitions];
    usage[p] = bytes;
    ctx.spill.consume(&usage);
}

/// `appendRemainingRowLocations` at the end of a split worker's input: every open segment is
/// finalized, and charged as TiDB does ([`MemoryCharge::Tidb`]).
fn finalize_remaining(ctx: &BuildCtx, worker: &BuildWorkerV2, builder: &RowTableBuilder) {
    for (p, bytes) in builder.finalize_all(&worker.row_tables).into_iter().enumerate() {
        if bytes > 0 && ctx.spill.charge == MemoryCharge::Tidb {
            charge_segment(ctx, p, bytes);
        }
    }
}

/// `mergeRowTablesToHashTable`: concatenates every worker's row table of each in-memory partition.
pub fn merge_row_tables(workers: &[Arc<BuildWorkerV2>], partitions: usize, spilled: &[bool]) -> Vec<Option<RowTable>> {
    (0..partitions)
        .map(|p| {
            (!spilled[p]).then(|| RowTable {
                segments: workers.iter().flat_map(|w| w.row_tables[p].with(|t| t.segments.clone())).collect(),
            })
        })
        .collect()
}

/// A build task: segments `start..end` of partition `partition`'s sub-table (`buildTask`).
type BuildTask = (usize, usize, usize);

/// `createTasks` (`hash_join_v2.go:1208-1275`): one task per partition when there are as many
/// build workers as partitions and every partition holds about as many segments as the average
/// (`checkBalance`, within 80%); else tasks of `totalSegmentCnt / Concurrency` segments, handed out
/// round-robin over the partitions, several per partition when it holds more.
fn build_tasks(segments: &[usize], concurrency: usize) -> Vec<BuildTask> {
    let total: usize = segments.iter().sum();
    let avg = total / segments.len();
    let threshold = (avg as f64 * 0.8) as usize;
    let balanced = concurrency == segments.len() && segments.iter().all(|&n| n.abs_diff(avg) <= threshold);
    if balanced {
        return segments.iter().enumerate().map(|(p, &n)| (p, 0, n)).collect();
    }
    let step = (total / concurrency).max(1);
    let mut start = vec![0; segments.len()];
    let mut tasks = Vec::new();
    loop {
        let before = tasks.len();
        for (p, &n) in segments.iter().enumerate() {
            if start[p] < n {
                let end = (start[p] + step).min(n);
                tasks.push((p, start[p], end));
                start[p] = end;
            }
        }
        if tasks.len() == before {
            return tasks;
        }
    }
}

/// `createBuildTasks` and `buildHashTable`: the sub-tables are made here (`newSubTable`), then
/// `createTasks` hands out build tasks ([`build_tasks`]) to the build workers, which link their
/// segments' rows (`subTable.build`).
fn build_hash_table(ctx: &Arc<BuildCtx>, merged: Vec<Option<RowTable>>) -> Result<HashTableV2, JoinError> {
    let phase = Phase::new(ctx.workers.len());
    let task_ch: Chan<BuildTask> = Chan::new("buildTaskCh", ctx.workers.len());
    let tables: Arc<Vec<Option<Arc<SubTable>>>> = Arc::new(
        merged.iter().enumerate().map(|(p, rows)| rows.as_ref().map(|r| Arc::new(SubTable::new(p, r)))).collect(),
    );
    let segments: Vec<usize> = merged.iter().map(|r| r.as_ref().map_or(0, |r| r.segments.len())).collect();
    let tasks = build_tasks(&segments, ctx.workers.len());
    phase.wg.add(1);
    {
        let (ctx, phase, task_ch) = (ctx.clone(), phase.clone(), task_ch.clone());
        let (handler, tasks2) = (phase.clone(), task_ch.clone());
        run_with_recover(
            None,
            move || {
                // TiDB's closure, then the method it calls (as the audit read them).
                let _c = frame(CREATE_BUILD_TASKS_FUNC1);
                let _f = frame(CREATE_TASKS);
                match ctx.failpoints.hit("createTasksPanic") {
                    Err(e) => phase.handle_err(e),
                    Ok(()) => {
                        for task in tasks {
                            let (mut send, mut stop) = (task_ch.send_case(task), phase.done.recv_case());
                            if select(&mut [&mut send, &mut stop]) != 0 {
                                break;
                            }
                        }
                    }
                }
            },
            // createBuildTasks' handler: the panic to errCh, then close(buildTaskCh), wg.Done().
            move |r| {
                if let Some(e) = r {
                    handler.err.send(e);
                }
                tasks2.close();
                handler.wg.done();
            },
        );
    }
    for _ in &ctx.workers {
        phase.wg.add(1);
        let (ctx, phase, task_ch, tables) = (ctx.clone(), phase.clone(), task_ch.clone(), tables.clone());
        let handler = phase.clone();
        run_with_recover(
            None,
            move || {
                let _f = frame(BUILD_HASH_TABLE);
                while let Some((p, start, end)) = task_ch.recv() {
                    if let Err(e) = ctx.failpoints.hit("buildHashTablePanic") {
                        phase.handle_err(e);
                        break;
                    }
                    // A spilled partition's task links nothing (its sub-table is empty in TiDB).
                    if let Some(sub) = &tables[p] {
                        sub.build_segments(start, end);
                    }
                }
            },
            move |r| handler.worker_recovered(r),
        );
    }
    phase.wait_job_done()?;
    Ok(HashTableV2 { tables: tables.to_vec() })
}

/// The whole build in the calling goroutine, for slices whose subject is the probe.
pub fn build_in_memory(spec: &JoinSpec, rows: &[Row], concurrency: usize, segment_rows: usize) -> HashTableV2 {
    let partitions = partition_number(concurrency);
    let worker = BuildWorkerV2::new(0, partitions);
    let builder = RowTableBuilder::new(0, partitions, segment_rows);
    for row in rows {
        let enc = encode_build_row(spec, row);
        builder.append(partition_index(enc.hash, partitions), enc, &worker.row_tables, true);
    }
    builder.finalize_all(&worker.row_tables);
    let merged = merge_row_tables(&[worker], partitions, &vec![false; partitions]);
    HashTableV2 {
        tables: merged.into_iter().enumerate().map(|(p, t)| t.map(|t| Arc::new(SubTable::build(p, &t)))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TiDB's `createTasks`: one task per partition only when the workers match the partitions
    /// and the segment counts are balanced; else tasks of `total / Concurrency` segments, round
    /// robin, several per partition (audit H14; the model used to make one task per partition).
    #[test]
    fn create_tasks_splits_unbalanced_partitions() {
        assert_eq!(build_tasks(&[2, 2], 2), vec![(0, 0, 2), (1, 0, 2)]);
        // 3 workers, 4 partitions: unbalanced whatever the counts; step 6 / 3 = 2.
        assert_eq!(build_tasks(&[4, 0, 1, 1], 3), vec![(0, 0, 2), (2, 0, 1), (3, 0, 1), (0, 2, 4)]);
        // 2 workers, 2 partitions: 5 and 1 segments are within 80% of the average 3 (2.4, cut to
        // 2), 6 and 1 are not (average 3 again); then the step is 7 / 2 = 3.
        assert_eq!(build_tasks(&[5, 1], 2), vec![(0, 0, 5), (1, 0, 1)]);
        assert_eq!(build_tasks(&[6, 1], 2), vec![(0, 0, 3), (1, 0, 1), (0, 3, 6)]);
    }

    /// Two build workers link rows of one sub-table at once, each a range of its segments, with
    /// a CAS on the bucket head and a plain write of the row's next pointer after it
    /// (`atomicUpdateHashValue`): no race, and every row is in its bucket's chain.
    #[test]
    fn two_tasks_build_one_sub_table_with_cas() {
        use harness::{explore, go, Strategy};
        let o = explore(&Strategy::random(1, 200), || {
            let spec = JoinSpec::new(
                crate::JoinType::Inner,
                crate::BuildSide::Right,
                (vec![crate::ColType::Int], vec![0]),
                (vec![crate::ColType::Int], vec![0]),
                &Bugs::fixed(),
            );
            let worker = BuildWorkerV2::new(0, 1);
            let builder = RowTableBuilder::new(0, 1, 2);
            for k in [1i64, 1, 1, 1] {
                builder.append(0, encode_build_row(&spec, &vec![crate::Value::Int(k)]), &worker.row_tables, false);
            }
            let rows = worker.row_tables[0].with(Clone::clone);
            let sub = Arc::new(SubTable::new(0, &rows));
            let other = {
                let sub = sub.clone();
                go::go(move || sub.build_segments(1, 2))
            };
            sub.build_segments(0, 1);
            other.join();
            let hash = rows.segments[0].hash_values[0];
            let mut chain = 0;
            let mut at = sub.lookup(hash);
            while let Some(ptr) = at {
                chain += 1;
                at = sub.next(ptr);
            }
            assert_eq!(chain, 4, "every row of the key is linked");
        });
        assert!(o.failure.is_none(), "{o}");
    }
}
