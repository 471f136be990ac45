//! `ProbeWorkerV2` (`hash_join_v2.go`): a probe worker asks the probe fetcher for a chunk through
//! `probeChkResourceCh`, gets it on its own channel and probes it, until its channel is closed or
//! the executor is closed.
//!
//! Results travel as TiDB's do: each worker owns one result chunk, which lives in its
//! `joinChkResourceCh` (capacity 1) when nobody holds it. The worker takes it
//! (`getNewJoinResult`, a select with `closeCh`), fills it, sends it to `joinResultCh` with a plain
//! blocking send when it is full (and at the end when it holds rows), and waits for `Next` to hand
//! it back (`result.src <- result.chk`). So a caller that stops calling `Next` stops the workers,
//! and only `Close` (`closeCh`, then `channel.Clear` of `joinResultCh`) lets them go.

use std::sync::Arc;

use harness::go::{frame, select, Chan};
use harness::memory::CheckedField;

use crate::error::JoinError;
use crate::failpoint::Failpoints;
use crate::frames::*;
use crate::hash_table::HashTableV2;
use crate::probe::{JoinProbe, ProbeRow};
use crate::spec::JoinSpec;
use crate::types::Row;

/// `hashjoinWorkerResult`: what goes through `joinResultCh`: a worker's result chunk with the
/// channel it goes back to (`src`, the worker's `joinChkResourceCh`), or an error (with or without
/// the chunk of the worker that failed; `Next` hands no chunk back with an error).
#[derive(Debug, Default)]
pub struct HashjoinWorkerResult {
    /// `chk`: the result rows; `None` when the worker has no chunk (closed while waiting for it).
    pub chk: Option<Vec<Row>>,
    /// `err`.
    pub err: Option<JoinError>,
    /// `src`: the `joinChkResourceCh` the chunk goes back to.
    pub src: Option<Chan<Vec<Row>>>,
}

impl HashjoinWorkerResult {
    /// `&hashjoinWorkerResult{err: err}`: an error with no chunk.
    pub fn error(err: JoinError) -> HashjoinWorkerResult {
        HashjoinWorkerResult { err: Some(err), ..HashjoinWorkerResult::default() }
    }
}

/// `getNewJoinResult`: takes the worker's result chunk out of its `joinChkResourceCh`; false (and
/// no chunk) when the executor is closed first.
pub fn get_new_join_result(join_chk_resource: &Chan<Vec<Row>>, close: &Chan<()>) -> (bool, HashjoinWorkerResult) {
    let _f = frame(GET_NEW_JOIN_RESULT);
    let mut result = HashjoinWorkerResult { src: Some(join_chk_resource.clone()), ..HashjoinWorkerResult::default() };
    let (mut chk, mut closed) = (join_chk_resource.recv_case(), close.recv_case());
    if select(&mut [&mut chk, &mut closed]) == 1 {
        return (false, result);
    }
    result.chk = chk.take();
    (result.chk.is_some(), result)
}

/// `if joinResult.chk.IsFull() { joinResultCh <- joinResult; ok, joinResult = getNewJoinResult() }`:
/// a result chunk holding `cap` rows goes to `joinResultCh` (a plain send) and the worker waits
/// for it back; false when the executor is closed meanwhile (`result` then holds no chunk).
pub fn send_if_full(
    result: &mut HashjoinWorkerResult,
    cap: usize,
    results: &Chan<HashjoinWorkerResult>,
    join_chk_resource: &Chan<Vec<Row>>,
    close: &Chan<()>,
) -> bool {
    if result.chk.as_ref().is_none_or(|c| c.len() < cap) {
        return true;
    }
    results.send(std::mem::take(result));
    let ok;
    (ok, *result) = get_new_join_result(join_chk_resource, close);
    ok
}

/// The end of `runJoinWorker`, `restoreAndProbe` and `scanRowTableAfterProbeDone`: a result with
/// an error or rows goes to `joinResultCh` (a plain send), an empty chunk back to the worker's own
/// `joinChkResourceCh`.
pub fn send_last_result(result: HashjoinWorkerResult, results: &Chan<HashjoinWorkerResult>) {
    let rows = result.chk.as_ref().map(Vec::len);
    if result.err.is_some() || rows.is_some_and(|n| n > 0) {
        results.send(result);
    } else if let (Some(chk), Some(src)) = (result.chk, &result.src) {
        src.send(chk);
    }
}

/// The channels a probe worker talks through.
#[derive(Clone, Debug)]
pub struct ProbeChannels {
    /// `probeChkResourceCh`: a worker puts its id here to ask for the next chunk.
    pub resource: Chan<usize>,
    /// `probeResultChs[worker]`: the chunks the fetcher hands this worker.
    pub input: Chan<Vec<ProbeRow>>,
    /// `joinResultCh`.
    pub results: Chan<HashjoinWorkerResult>,
    /// `closeCh`: closed by `Close`.
    pub close: Chan<()>,
}

/// Where a probe worker sends the probe rows of spilled partitions.
pub trait ProbeSpill: Send + Sync {
    /// Whether partition `p` spilled in this round.
    fn is_spilled(&self, p: usize) -> bool;
    /// Appends rows of spilled partitions to this worker's probe spill files.
    fn spill_probe_rows(&self, worker: usize, rows: Vec<(usize, ProbeRow)>) -> Result<(), JoinError>;
    /// `probeAndSendResult`'s short path: whether every partition of the round spilled, so there
    /// is nothing to probe; in a restore round it also sets TiDB's test flag
    /// `skipProbeInRestoreForTest` (#58286).
    fn skip_probe(&self) -> bool;
}

/// A probe that spills nothing.
#[derive(Debug)]
pub struct NoSpill;

impl ProbeSpill for NoSpill {
    fn is_spilled(&self, _p: usize) -> bool {
        false
    }

    fn spill_probe_rows(&self, _worker: usize, _rows: Vec<(usize, ProbeRow)>) -> Result<(), JoinError> {
        Ok(())
    }

    fn skip_probe(&self) -> bool {
        false
    }
}

/// What the build of a round publishes to its probe workers (`hashTableContext`): written by
/// the build coordinator before it closes `buildFinished`, read by workers once they got a chunk.
#[derive(Clone)]
pub struct ProbeRound {
    /// The round's hash table.
    pub table: Arc<HashTableV2>,
    /// The round's spill state.
    pub spill: Arc<dyn ProbeSpill>,
}

impl std::fmt::Debug for ProbeRound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProbeRound({} partitions)", self.table.tables.len())
    }
}

/// `ProbeWorkerV2`.
#[derive(Clone, Debug)]
pub struct ProbeWorkerV2 {
    /// `WorkerID`.
    pub worker_id: usize,
    /// The join.
    pub spec: Arc<JoinSpec>,
    /// The round's hash table and spill state, as published by the build.
    pub round: Arc<CheckedField<Option<ProbeRound>>>,
    /// Failpoints.
    pub failpoints: Arc<Failpoints>,
    /// `joinChkResourceCh`: the worker's one result chunk, when the worker does not hold it.
    /// Made and primed once (`initializeForProbe`), used in every round, closed by `Close`.
    pub join_chk_resource: Chan<Vec<Row>>,
    /// The result chunk's capacity (`MaxChunkSize`): `IsFull` at this many rows.
    pub max_chunk_size: usize,
}

impl ProbeWorkerV2 {
    /// `getNewJoinResult` on this worker's `joinChkResourceCh`.
    pub fn get_new_join_result(&self, close: &Chan<()>) -> (bool, HashjoinWorkerResult) {
        get_new_join_result(&self.join_chk_resource, close)
    }

    /// `runJoinWorker`.
    pub fn run_join_worker(&self, ch: &ProbeChannels) {
        let _f = frame(RUN_JOIN_WORKER);
        let (ok, mut result) = self.get_new_join_result(&ch.close);
        if !ok {
            return;
        }
        loop {
            let (mut chunk, mut closed) = (ch.input.recv_case(), ch.close.recv_case());
            if select(&mut [&mut chunk, &mut closed]) == 1 {
                return;
            }
            let Some(rows) = chunk.take() else { break };
            let ok;
            (ok, result) = self.process_one_probe_chunk(rows, ch, result);
            if !ok {
                break;
            }
            // Give back to the probe fetcher.
            ch.resource.send(self.worker_id);
        }
        send_last_result(result, &ch.results);
    }

    /// `processOneProbeChunk`: `SetChunkForProbe` (rows of spilled partitions go to the probe spill
    /// files), then `probeAndSendResult`; false when the worker must stop (an error, in the
    /// result, or closed while waiting for its chunk).
    pub fn process_one_probe_chunk(
        &self,
        rows: Vec<ProbeRow>,
        ch: &ProbeChannels,
        result: HashjoinWorkerResult,
    ) -> (bool, HashjoinWorkerResult) {
        let _f = frame(PROCESS_ONE_PROBE_CHUNK);
        self.set_chunk_and_probe(rows, &ch.results, &ch.close, result)
    }

    /// `SetChunkForProbe` or `SetRestoredChunkForProbe`, then `probeAndSendResult`.
    pub fn set_chunk_and_probe(
        &self,
        rows: Vec<ProbeRow>,
        results: &Chan<HashjoinWorkerResult>,
        close: &Chan<()>,
        mut result: HashjoinWorkerResult,
    ) -> (bool, HashjoinWorkerResult) {
        let round = self.round.get().expect("the build published the hash table before probing");
        let (probe, spilled) = JoinProbe::set_chunk_for_probe(&round.table, rows, &|p| round.spill.is_spilled(p));
        if let Err(e) = round.spill.spill_probe_rows(self.worker_id, spilled) {
            result.err = Some(e);
            return (false, result);
        }
        self.probe_and_send_result(&round, probe, results, close, result)
    }

    /// `probeAndSendResult`: probes into the result chunk; each time it is full, sends it to
    /// `joinResultCh` (a plain send) and waits for it back (`getNewJoinResult`).
    pub fn probe_and_send_result(
        &self,
        round: &ProbeRound,
        mut probe: JoinProbe,
        results: &Chan<HashjoinWorkerResult>,
        close: &Chan<()>,
        mut result: HashjoinWorkerResult,
    ) -> (bool, HashjoinWorkerResult) {
        let _f = frame(PROBE_AND_SEND_RESULT);
        if round.spill.skip_probe() {
            return (true, result);
        }
        while !probe.is_current_chunk_probe_done() {
            let chk = result.chk.as_mut().expect("a worker probes only while it holds its result chunk");
            probe.probe(&self.spec, &round.table, chk, self.max_chunk_size);
            // `Probe`'s SQL killer check follows each pass over the chunk's rows; then TiDB's
            // failpoint `processOneProbeChunkPanic`.
            if let Err(e) =
                self.failpoints.hit("killedDuringProbe").and_then(|()| self.failpoints.hit("processOneProbeChunkPanic"))
            {
                result.err = Some(e);
                return (false, result);
            }
            if !send_if_full(&mut result, self.max_chunk_size, results, &self.join_chk_resource, close) {
                return (false, result);
            }
        }
        (true, result)
    }
}
