//! The executor slices loom can run (it allows at most 4 spawned goroutines per execution):
//!
//! - [`probe_slice`]: two probe workers probing one prepared hash table, the probe fetcher's
//!   hand-out of chunks, then the scan for unmatched rows (race 1 of #57450 lives here);
//! - the restore-round build controller with its split workers and spill goroutines is
//!   [`crate::build::restore_build_slice`] (race 2).
//!
//! Each slice checks its result against the reference join, so a schedule that computes a wrong
//! result fails the exploration too.

use std::sync::Arc;

use harness::go::{frame, Chan, WaitGroup};

use crate::build::build_in_memory;
use crate::frames::*;
use crate::probe::{scan_range, scan_row_table, ProbeRow};
use crate::probe_worker::{NoSpill, ProbeChannels, ProbeWorkerV2};
use crate::reference::{reference_join, sorted};
use crate::row_table::hash_key;
use crate::spec::JoinSpec;
use crate::types::{BuildSide, Row};

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
    /// Rows per row table segment (`maxRowTableSegmentSize`).
    pub segment_rows: usize,
}

impl JoinInput {
    /// The build side's rows.
    pub fn build_rows(&self) -> &[Row] {
        match self.spec.build_side {
            BuildSide::Left => &self.left,
            BuildSide::Right => &self.right,
        }
    }

    /// The probe side's rows.
    pub fn probe_rows(&self) -> &[Row] {
        match self.spec.build_side {
            BuildSide::Left => &self.right,
            BuildSide::Right => &self.left,
        }
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
/// take the probe chunks from the main goroutine acting as probe fetcher; after `workerWg.Wait`
/// the main goroutine scans for unmatched build rows. Asserts the result equals the reference.
pub fn probe_slice(input: Arc<JoinInput>, workers: usize) {
    let spec = Arc::new(input.spec.clone());
    let table = Arc::new(build_in_memory(&spec, input.build_rows(), workers, input.segment_rows));
    let chunks = input.probe_chunks();
    let resource = Chan::new("probeChkResourceCh", workers);
    let results = Chan::new("joinResultCh", chunks.len() + workers + 1);
    let close = Chan::new("closeCh", 0);
    let wg = WaitGroup::new("workerWg");
    let mut inputs = Vec::new();
    {
        let _f = frame(START_PROBE_JOIN_WORKERS);
        for w in 0..workers {
            let worker =
                ProbeWorkerV2 { worker_id: w, spec: spec.clone(), table: table.clone(), spill: Arc::new(NoSpill) };
            let ch = ProbeChannels {
                resource: resource.clone(),
                input: Chan::new(format!("probeResultChs[{w}]"), 1),
                results: results.clone(),
                close: close.clone(),
            };
            inputs.push(ch.input.clone());
            resource.send(w);
            wg.add(1);
            let wg = wg.clone();
            run_with_recover(move || {
                let _f = frame(START_PROBE_JOIN_WORKERS_FUNC1);
                worker.run_join_worker(&ch);
                wg.done();
            });
        }
    }
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
            rows.extend(scan_row_table(&spec, &all[scan_range(all.len(), 0, 1)]));
        }
    }
    results.close();
    while let Some(r) = results.recv() {
        rows.extend(r.expect("no error in the probe slice"));
    }
    let want = reference_join(&spec, &input.left, &input.right);
    assert_eq!(sorted(rows), sorted(want), "join result differs from the reference join");
}
