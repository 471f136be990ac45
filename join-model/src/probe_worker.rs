//! `ProbeWorkerV2` (`hash_join_v2.go`): a probe worker asks the probe fetcher for a chunk through
//! `probeChkResourceCh`, gets it on its own channel, probes it and sends the result chunk to
//! `joinResultCh`, until its channel is closed or the executor is closed.

use std::sync::Arc;

use harness::go::{frame, select, Chan};
use harness::memory::CheckedField;

use crate::error::JoinError;
use crate::failpoint::Failpoints;
use crate::frames::*;
use crate::hash_table::HashTableV2;
use crate::probe::{probe, ProbeRow};
use crate::spec::JoinSpec;
use crate::types::Row;

/// A result chunk, or the error that ends the join.
pub type JoinResult = Result<Vec<Row>, JoinError>;

/// The channels a probe worker talks through.
#[derive(Clone, Debug)]
pub struct ProbeChannels {
    /// `probeChkResourceCh`: a worker puts its id here to ask for the next chunk.
    pub resource: Chan<usize>,
    /// `probeResultChs[worker]`: the chunks the fetcher hands this worker.
    pub input: Chan<Vec<ProbeRow>>,
    /// `joinResultCh`.
    pub results: Chan<JoinResult>,
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
}

impl ProbeWorkerV2 {
    /// `runJoinWorker`.
    pub fn run_join_worker(&self, ch: &ProbeChannels) {
        let _f = frame(RUN_JOIN_WORKER);
        loop {
            let (mut chunk, mut closed) = (ch.input.recv_case(), ch.close.recv_case());
            match select(&mut [&mut chunk, &mut closed]) {
                0 => match chunk.take() {
                    Some(rows) => {
                        if !self.process_one_probe_chunk(rows, ch) {
                            return;
                        }
                        ch.resource.send(self.worker_id);
                    }
                    None => return,
                },
                _ => return,
            }
        }
    }

    /// `processOneProbeChunk`; false when the worker must stop (closed, or an error was sent).
    pub fn process_one_probe_chunk(&self, rows: Vec<ProbeRow>, ch: &ProbeChannels) -> bool {
        let _f = frame(PROCESS_ONE_PROBE_CHUNK);
        if let Err(e) = self.failpoints.hit("processOneProbeChunkPanic") {
            send_result(&ch.results, &ch.close, Err(e));
            return false;
        }
        self.probe_and_send_result(rows, &ch.results, &ch.close)
    }

    /// `probeAndSendResult`.
    pub fn probe_and_send_result(&self, rows: Vec<ProbeRow>, results: &Chan<JoinResult>, close: &Chan<()>) -> bool {
        let _f = frame(PROBE_AND_SEND_RESULT);
        let round = self.round.get().expect("the build published the hash table before probing");
        let spill = &round.spill;
        let out = probe(&self.spec, &round.table, &rows, &|p| spill.is_spilled(p));
        // The probe's SQL killer check follows its loop over the chunk's rows; a chunk with every
        // partition spilled is not probed, and not checked.
        let probed = match spill.skip_probe() {
            true => Ok(()),
            false => self.failpoints.hit("killedDuringProbe"),
        };
        let result = probed.and_then(|()| spill.spill_probe_rows(self.worker_id, out.spilled)).map(|()| out.rows);
        let failed = result.is_err();
        send_result(results, close, result) && !failed
    }
}

/// Sends a result to `joinResultCh` unless the executor is closed first; false when closed.
pub fn send_result(results: &Chan<JoinResult>, close: &Chan<()>, result: JoinResult) -> bool {
    let (mut send, mut closed) = (results.send_case(result), close.recv_case());
    select(&mut [&mut send, &mut closed]) == 0
}
