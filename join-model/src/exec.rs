//! `HashJoinV2Exec` (`hash_join_v2.go`): `Open`, `Next`, `Close`, and the round driver.
//!
//! `Next` starts the round driver (`startBuildAndProbe`) on its first call and then returns one
//! result chunk per call from `joinResultCh`, `None` once the driver closed it. Each round builds
//! a hash table (round 1 from the build child, restore rounds from a spilled partition's files),
//! probes it (round 1 through the probe fetcher, restore rounds from the probe files), scans for
//! unmatched build rows if the build side is outer, then restores the next spilled partition.

use std::path::PathBuf;
use std::sync::Arc;

use harness::go::{self, frame, select, try_select, AtomicBool, Chan, WaitGroup};
use harness::memory::CheckedField;

use crate::bugs::{Bug, Bugs};
use crate::build::{chunk_bytes, fetch_and_build_hash_table_impl, BuildCtx, BuildSource};
use crate::build_worker::BuildWorkerV2;
use crate::error::JoinError;
use crate::failpoint::Failpoints;
use crate::frames::*;
use crate::probe::{init_for_scan_row_table_frame, scan_range, scan_row_table, ProbeRow};
use crate::probe_worker::{
    get_new_join_result, send_if_full, send_last_result, HashjoinWorkerResult, ProbeChannels, ProbeRound, ProbeWorkerV2,
};
use crate::row_table::{hash_key, partition_number, rehash};
use crate::spec::JoinSpec;
use crate::spill::{decode_probe_rows, DataInDiskByChunks, HashJoinSpillHelper, MemoryCharge, RoundSpill, SpillStats};
use crate::types::Row;

/// How the executor runs.
#[derive(Clone, Debug)]
pub struct ExecConfig {
    /// `Concurrency`: build workers, probe workers and scan workers.
    pub concurrency: usize,
    /// Rows per chunk of the children.
    pub chunk_size: usize,
    /// `MaxChunkSize` (`tidb_max_chunk_size`): the rows a result chunk holds before its worker
    /// sends it; `None`: `chunk_size`.
    pub max_chunk_size: Option<usize>,
    /// `maxRowTableSegmentSize`.
    pub segment_rows: usize,
    /// Memory quota in bytes; `None`: never spill.
    pub quota: Option<usize>,
    /// `maxSpillRound`.
    pub max_spill_round: usize,
    /// Active bugs.
    pub bugs: Bugs,
    /// Active failpoints.
    pub failpoints: Failpoints,
    /// Where the spill files go: a new temporary directory under this one, removed with the
    /// executor; `None`: memory-backed files (`spill::SpillFiles`).
    pub spill_dir: Option<PathBuf>,
    /// Where memory is charged to the quota: scaled to the model's quotas, or as TiDB does (the
    /// memory action then also runs on the fetchers and in `tryToSpill`).
    pub memory: MemoryCharge,
}

impl ExecConfig {
    /// The rows a result chunk holds: `max_chunk_size`, or else `chunk_size`.
    pub fn result_chunk_rows(&self) -> usize {
        self.max_chunk_size.unwrap_or(self.chunk_size).max(1)
    }
}

impl Default for ExecConfig {
    fn default() -> Self {
        ExecConfig {
            concurrency: 2,
            chunk_size: 2,
            max_chunk_size: None,
            segment_rows: 2,
            quota: None,
            max_spill_round: 2,
            bugs: Bugs::fixed(),
            failpoints: Failpoints::none(),
            spill_dir: None,
            memory: MemoryCharge::Scaled,
        }
    }
}

/// What every goroutine of the executor shares (`hashJoinCtxBase` and friends).
#[derive(Debug)]
struct Shared {
    spec: Arc<JoinSpec>,
    config: ExecConfig,
    partitions: usize,
    spill: Arc<HashJoinSpillHelper>,
    build_workers: Vec<Arc<BuildWorkerV2>>,
    close: Chan<()>,
    finished: AtomicBool,
    join_result: Chan<HashjoinWorkerResult>,
    /// `probeChkResourceCh`: a probe worker's id asks the probe fetcher for its next chunk.
    probe_chk_resource: Chan<usize>,
    /// `probeResultChs`: the probe fetcher's chunks, one channel per probe worker.
    probe_result_chs: Vec<Chan<Vec<ProbeRow>>>,
    /// `ProbeWorkers[i].joinChkResourceCh`: each probe worker's one result chunk, made once and
    /// used by the worker in every round and by the scan goroutine of the same id.
    join_chk_resource: Vec<Chan<Vec<Row>>>,
    failpoints: Arc<Failpoints>,
    /// `e.buildFinished`: the round driver makes a new channel each round, and `Close` drains
    /// the current one; a plain executor field in TiDB, so checked memory here (audit H6).
    build_finished: CheckedField<Option<Chan<JoinError>>>,
    scan_gate: ScanGate,
}

/// What tells `waitJoinWorkers` whether to scan the row table, at the commit modelled. Before PR
/// #60467 nothing: it always scans. From #60467 the probe fetcher's `canSkipScanRowTable`, set
/// when `wait4BuildSide` saw `Close` or the build's error, so a fetcher that failed before waiting
/// leaves it unset (#60466's second path). From PR #60531 `buildSuccess`, set on a successful build
/// by the fetcher or, in restore rounds, by `startProbeJoinWorkers`, and cleared by `reset()`.
/// A plain field of the fetcher, written and read by different goroutines: checked memory.
#[derive(Debug)]
enum ScanGate {
    /// Before PR #60467: no field, the scan always runs.
    Always,
    /// `canSkipScanRowTable` (#60467 to #60531).
    CanSkip(CheckedField<bool>),
    /// `buildSuccess` (from #60531).
    BuildSuccess(CheckedField<bool>),
}

impl ScanGate {
    fn new(bugs: &Bugs) -> ScanGate {
        let field = |name: &'static str| CheckedField::new(name, false);
        match (bugs.has(Bug::ScanAfterFailedBuild), bugs.has(Bug::ScanWithoutBuildSuccess)) {
            (true, _) => ScanGate::Always,
            (false, true) => ScanGate::CanSkip(field("probeSideTupleFetcherBase.canSkipScanRowTable")),
            (false, false) => ScanGate::BuildSuccess(field("probeSideTupleFetcherBase.buildSuccess")),
        }
    }

    /// `wait4BuildSide` returned: the build succeeded, or failed or the executor closed.
    fn fetcher_waited(&self, build_success: bool) {
        match self {
            ScanGate::CanSkip(f) if !build_success => f.set(true),
            ScanGate::BuildSuccess(f) if build_success => f.set(true),
            _ => {}
        }
    }

    /// A restore round's build succeeded (`startProbeJoinWorkers`, from PR #60531).
    fn restore_built(&self) {
        if let ScanGate::BuildSuccess(f) = self {
            f.set(true);
        }
    }

    /// `reset()` between rounds (from PR #60531).
    fn reset(&self) {
        if let ScanGate::BuildSuccess(f) = self {
            f.set(false);
        }
    }

    /// Whether `waitJoinWorkers` scans.
    fn scan(&self) -> bool {
        match self {
            ScanGate::Always => true,
            ScanGate::CanSkip(f) => !f.get(),
            ScanGate::BuildSuccess(f) => f.get(),
        }
    }
}

/// `HashJoinV2Exec`.
#[derive(Debug)]
pub struct HashJoinV2Exec {
    spec: Arc<JoinSpec>,
    config: ExecConfig,
    build_rows: Vec<Row>,
    probe_rows: Vec<Row>,
    build_chunks: Vec<Vec<Row>>,
    probe_chunks: Vec<Vec<Row>>,
    /// `BuildWorkers`: made with the executor, kept across `Close` and `Open` (as under Apply),
    /// builders included.
    build_workers: Vec<Arc<BuildWorkerV2>>,
    shared: Option<Arc<Shared>>,
    prepared: bool,
    closed: bool,
    stats: SpillStats,
    fired: Option<String>,
}

impl HashJoinV2Exec {
    /// An executor over in-memory children (the build and probe inputs, in chunks).
    pub fn new(spec: JoinSpec, config: ExecConfig, build: &[Row], probe: &[Row]) -> HashJoinV2Exec {
        let n = config.concurrency.max(1);
        let partitions = partition_number(n);
        HashJoinV2Exec {
            spec: Arc::new(spec),
            build_rows: build.to_vec(),
            probe_rows: probe.to_vec(),
            build_chunks: Vec::new(),
            probe_chunks: Vec::new(),
            build_workers: (0..n).map(|w| BuildWorkerV2::new(w, partitions)).collect(),
            config,
            shared: None,
            prepared: false,
            closed: false,
            stats: SpillStats::default(),
            fired: None,
        }
    }

    /// `Open`: creates the channels and the spill helper (with its directory), and asks the
    /// children for their rows again. It may follow a `Close`, as Apply re-opens its inner side
    /// for each outer row: the build workers stay, with the builders of the last run (TiDB makes
    /// them once, with the executor); their row tables are made anew (`initHashTableContext`).
    pub fn open(&mut self) -> Result<(), JoinError> {
        let n = self.config.concurrency.max(1);
        let chunk = self.config.chunk_size.max(1);
        self.build_chunks = self.build_rows.chunks(chunk).map(<[Row]>::to_vec).collect();
        self.probe_chunks = self.probe_rows.chunks(chunk).map(<[Row]>::to_vec).collect();
        (self.prepared, self.closed, self.fired) = (false, false, None);
        for w in &self.build_workers {
            w.row_tables.iter().for_each(|t| t.with_mut(|r| r.segments.clear()));
        }
        let partitions = partition_number(n);
        let failpoints = Arc::new(self.config.failpoints.clone());
        let spill = HashJoinSpillHelper::new(
            self.config.quota,
            self.config.max_spill_round,
            partitions,
            n,
            self.config.spill_dir.as_deref(),
        )?
        .with_tidb(&self.config.bugs, failpoints.clone())
        .charging(self.config.memory);
        self.shared = Some(Arc::new(Shared {
            spec: self.spec.clone(),
            config: self.config.clone(),
            partitions,
            spill: Arc::new(spill),
            build_workers: self.build_workers.clone(),
            close: Chan::new("closeCh", 0),
            finished: AtomicBool::new(false),
            join_result: Chan::new("joinResultCh", n + 1),
            probe_chk_resource: Chan::new("probeChkResourceCh", n),
            probe_result_chs: (0..n).map(|w| Chan::new(format!("probeResultChs[{w}]"), 1)).collect(),
            join_chk_resource: (0..n).map(|w| Chan::new(format!("ProbeWorkers[{w}].joinChkResourceCh"), 1)).collect(),
            failpoints,
            build_finished: CheckedField::new("HashJoinV2Exec.buildFinished", None),
            scan_gate: ScanGate::new(&self.config.bugs),
        }));
        Ok(())
    }

    /// `Next`: the next result chunk, `Ok(None)` at the end. (TiDB's name; not an iterator,
    /// since it returns errors and must be followed by `close`.) The first call primes the probe
    /// fetcher's resources and each probe worker's result chunk (`initializeForProbe`) and starts
    /// the round driver. A result's chunk goes back to its worker (`result.src <- result.chk`)
    /// once its rows are the caller's; after an error it does not, as in TiDB.
    ///
    /// # Panics
    /// If called before `open`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Vec<Row>>, JoinError> {
        let shared = self.shared.clone().expect("Next before Open");
        let _f = frame(NEXT);
        if !self.prepared {
            self.prepared = true;
            for w in 0..shared.probe_result_chs.len() {
                shared.probe_chk_resource.send(w);
            }
            for chk in &shared.join_chk_resource {
                chk.send(Vec::new());
            }
            shared.spill.set_can_spill_flag(true);
            let (build, probe) = (std::mem::take(&mut self.build_chunks), std::mem::take(&mut self.probe_chunks));
            harness::go::go(move || start_build_and_probe(&shared, build, probe));
        }
        let shared = self.shared.as_ref().expect("opened");
        let Some(result) = shared.join_result.recv() else { return Ok(None) };
        if let Some(e) = result.err {
            shared.finished.store(true);
            return Err(e);
        }
        // req.SwapColumns(result.chk): the rows are the caller's, the chunk goes back empty.
        let rows = result.chk.expect("a result without an error carries its chunk");
        result.src.expect("a chunk carries the channel it came from").send(Vec::new());
        Ok(Some(rows))
    }

    /// `Close`: stops every goroutine, waits for them, and removes the spill files. As in TiDB,
    /// it closes `closeCh`, sets `finished`, then drains the current round's `buildFinished` and
    /// `joinResultCh` (`channel.Clear`): the driver closes the latter when every goroutine it
    /// started is done, so a worker blocked on its plain send to `joinResultCh` goes on, and one
    /// waiting for its chunk sees `closeCh`. Then it closes and drains `probeChkResourceCh`,
    /// drains `probeResultChs`, and closes and drains every `joinChkResourceCh` (no goroutine is
    /// left to send on them). It reads `e.buildFinished` with nothing ordering it after the
    /// driver's write of the next round's channel (audit H6).
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let Some(shared) = self.shared.take() else { return };
        let _f = frame(CLOSE);
        shared.close.close();
        shared.finished.store(true);
        if self.prepared {
            if let Some(build_finished) = shared.build_finished.get() {
                while build_finished.recv().is_some() {}
            }
            while shared.join_result.recv().is_some() {}
            shared.probe_chk_resource.close();
            while shared.probe_chk_resource.recv().is_some() {}
            for ch in &shared.probe_result_chs {
                while ch.recv().is_some() {}
            }
            for ch in &shared.join_chk_resource {
                ch.close();
                while ch.recv().is_some() {}
            }
        }
        self.stats = shared.spill.stats();
        self.fired = shared.failpoints.fired().map(str::to_string);
        // Dropping the last reference to the spill helper removes its directory.
    }

    /// `BuildWorkers`, kept across `Close` and `Open`.
    pub fn build_workers(&self) -> &[Arc<BuildWorkerV2>] {
        &self.build_workers
    }

    /// What spilled, once the executor is closed.
    pub fn spill_stats(&self) -> SpillStats {
        self.stats
    }

    /// Where an armed failpoint fired, once the executor is closed: the join then owes an error
    /// (TiDB turns every failpoint's error and recovered panic into the query's error).
    pub fn failpoint_fired(&self) -> Option<&str> {
        self.fired.as_deref()
    }

    /// Runs the join to the end: every result row, or the first error. Closes the executor.
    pub fn run_to_end(&mut self) -> Result<Vec<Row>, JoinError> {
        self.open()?;
        let mut rows = Vec::new();
        let result = loop {
            match self.next() {
                Ok(Some(chunk)) => rows.extend(chunk),
                Ok(None) => break Ok(rows),
                Err(e) => break Err(e),
            }
        };
        self.close();
        result
    }
}

impl Drop for HashJoinV2Exec {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.close();
        }
    }
}

/// `startBuildAndProbe`: the round driver. Its deferred function recovers a panic into
/// `joinResultCh`, then closes it.
fn start_build_and_probe(sh: &Arc<Shared>, build: Vec<Vec<Row>>, probe: Vec<Vec<Row>>) {
    let _f = frame(START_BUILD_AND_PROBE);
    if let Err(p) = go::recover(|| drive_rounds(sh, build, probe)) {
        sh.join_result.send(HashjoinWorkerResult::error(p.into()));
    }
    sh.join_result.close();
}

/// The loop of `startBuildAndProbe`: one build, probe and scan per round.
fn drive_rounds(sh: &Arc<Shared>, build: Vec<Vec<Row>>, probe: Vec<Vec<Row>>) {
    let mut source = BuildSource::Chunks(build);
    let mut probe_source = ProbeSource::Chunks(probe);
    let mut last_round = 0;
    loop {
        if sh.finished.load() {
            break;
        }
        let round = Arc::new(CheckedField::new("hashTableContext", None::<ProbeRound>));
        let worker_wg = WaitGroup::new("workerWg");
        let build_finished: Chan<JoinError> = Chan::new("buildFinished", 1);
        sh.build_finished.set(Some(build_finished.clone()));
        sh.spill.note_round(last_round);
        fetch_and_build_hash_table(sh, last_round, &worker_wg, &build_finished, &round, source);
        fetch_and_probe_hash_table(sh, &worker_wg, &build_finished, &round, probe_source);
        let waiter_wg = WaitGroup::new("waiterWg");
        {
            let (sh, wg, round) = (sh.clone(), worker_wg.clone(), round.clone());
            // TiDB passes no handler: a panic here is recovered and dropped (the harness keeps it).
            run_with_recover(Some(&waiter_wg), move || wait_join_workers(&sh, &wg, &round), |_| {});
        }
        waiter_wg.wait();
        // As TiDB's driver, a failed round does not stop the loop: `Next` hands the error to the
        // caller, which sets `finished` (checked at the top) and closes the executor.
        // reset(): the round's row tables and hash table are released, and the join can spill
        // again.
        sh.scan_gate.reset();
        for w in &sh.build_workers {
            w.row_tables.iter().for_each(|t| t.with_mut(|r| r.segments.clear()));
        }
        sh.spill.set_can_spill_flag(true);
        if let Err(e) = sh.spill.prepare_for_restoring(last_round) {
            sh.join_result.send(HashjoinWorkerResult::error(e));
            break;
        }
        let Some(part) = sh.spill.pop_restore() else { break };
        last_round = part.round;
        source = BuildSource::Restored(part.build_side_chunks);
        probe_source = ProbeSource::Restored(part.probe_side_chunks);
    }
}

/// Where a round's probe rows come from.
enum ProbeSource {
    Chunks(Vec<Vec<Row>>),
    Restored(Vec<Arc<DataInDiskByChunks>>),
}

/// `fetchAndBuildHashTable`: the build coordinator goroutine; publishes the hash table and
/// closes `buildFinished` (sending the error first, if any).
fn fetch_and_build_hash_table(
    sh: &Arc<Shared>,
    round_no: usize,
    worker_wg: &WaitGroup,
    build_finished: &Chan<JoinError>,
    round: &Arc<CheckedField<Option<ProbeRound>>>,
    source: BuildSource,
) {
    let (sh, done, round) = (sh.clone(), build_finished.clone(), round.clone());
    let handler = build_finished.clone();
    let body = move || {
        let _f = frame(FETCH_AND_BUILD_HASH_TABLE_FUNC2);
        let ctx = Arc::new(BuildCtx {
            spec: sh.spec.clone(),
            partitions: sh.partitions,
            segment_rows: sh.config.segment_rows,
            workers: sh.build_workers.clone(),
            spill: sh.spill.clone(),
            bugs: sh.config.bugs.clone(),
            failpoints: sh.failpoints.clone(),
            close: sh.close.clone(),
            finished: sh.finished.clone(),
            round: round_no,
        });
        match fetch_and_build_hash_table_impl(&ctx, source) {
            Ok(table) => {
                let spill = Arc::new(RoundSpill { helper: sh.spill.clone(), in_restore: round_no > 0 });
                round.set(Some(ProbeRound { table: Arc::new(table), spill }));
            }
            Err(e) => done.send(e),
        }
    };
    // handleFetchAndBuildHashTablePanic: the panic to buildFinished, then close it.
    run_with_recover(Some(worker_wg), body, move |r| {
        if let Some(e) = r {
            handler.send(e);
        }
        handler.close();
    });
}

/// `fetchAndProbeHashTable`: round 1 starts the probe fetcher and the probe workers, and a failed
/// build's error goes to `joinResultCh`; a restore round waits for its build, then starts workers
/// that probe their own probe files, and drops a failed build's error as TiDB does.
fn fetch_and_probe_hash_table(
    sh: &Arc<Shared>,
    worker_wg: &WaitGroup,
    build_finished: &Chan<JoinError>,
    round: &Arc<CheckedField<Option<ProbeRound>>>,
    source: ProbeSource,
) {
    let n = sh.build_workers.len();
    let workers: Vec<ProbeWorkerV2> = (0..n)
        .map(|w| ProbeWorkerV2 {
            worker_id: w,
            spec: sh.spec.clone(),
            round: round.clone(),
            failpoints: sh.failpoints.clone(),
            join_chk_resource: sh.join_chk_resource[w].clone(),
            max_chunk_size: sh.config.result_chunk_rows(),
        })
        .collect();
    match source {
        ProbeSource::Chunks(chunks) => {
            let (resource, inputs) = (&sh.probe_chk_resource, &sh.probe_result_chs);
            {
                let (sh, bf, res, inputs) = (sh.clone(), build_finished.clone(), resource.clone(), inputs.clone());
                let (sh2, inputs2, rd) = (sh.clone(), inputs.clone(), round.clone());
                // handleProbeSideFetcherPanic: close every worker's input, then the panic to
                // joinResultCh.
                run_with_recover(
                    Some(worker_wg),
                    move || {
                        fetch_probe_side_chunks(&sh, &bf, &rd, &res, &inputs, chunks);
                    },
                    move |r| {
                        inputs2.iter().for_each(Chan::close);
                        if let Some(e) = r {
                            sh2.join_result.send(HashjoinWorkerResult::error(e));
                        }
                    },
                );
            }
            start_probe_join_workers(sh, worker_wg, workers, |w| {
                let ch = ProbeChannels {
                    resource: resource.clone(),
                    input: inputs[w.worker_id].clone(),
                    results: sh.join_result.clone(),
                    close: sh.close.clone(),
                };
                move |w: &ProbeWorkerV2| w.run_join_worker(&ch)
            });
        }
        ProbeSource::Restored(files) => {
            // `startProbeJoinWorkers` in a restore round: `err := <-e.buildFinished; if err !=
            // nil { return }`. The build's error goes nowhere, at every commit read (to
            // 9a5c8821c6, 2026-02-10): the round's rows are lost and the join goes on.
            if build_finished.recv().is_some() {
                return;
            }
            sh.scan_gate.restore_built();
            start_probe_join_workers(sh, worker_wg, workers, |w| {
                let (file, sh) = (files.get(w.worker_id).cloned(), sh.clone());
                move |w: &ProbeWorkerV2| restore_and_probe(&sh, w, file.as_deref())
            });
        }
    }
}

/// `startProbeJoinWorkers`: one goroutine per probe worker running `body`; its handler
/// (`handleProbeWorkerPanic`) hands a panic to `joinResultCh`.
fn start_probe_join_workers<B, F>(sh: &Arc<Shared>, worker_wg: &WaitGroup, workers: Vec<ProbeWorkerV2>, mut make: B)
where
    B: FnMut(&ProbeWorkerV2) -> F,
    F: FnOnce(&ProbeWorkerV2) + Send + 'static,
{
    let _f = frame(START_PROBE_JOIN_WORKERS);
    for w in workers {
        let body = make(&w);
        let sh = sh.clone();
        run_with_recover(
            Some(worker_wg),
            move || {
                let _f = frame(START_PROBE_JOIN_WORKERS_FUNC1);
                body(&w);
            },
            move |r| send_recovered(&sh, r),
        );
    }
}

/// `handleProbeWorkerPanic` and `handleJoinWorkerPanic`: a recovered panic to `joinResultCh`,
/// a plain send.
fn send_recovered(sh: &Shared, r: Option<JoinError>) {
    if let Some(e) = r {
        sh.join_result.send(HashjoinWorkerResult::error(e));
    }
}

/// `(*probeSideTupleFetcherBase).fetchProbeSideChunks`: for each chunk, takes a worker's probe
/// resource and reads the probe child; after the first read (empty or not) it waits for the build
/// (`wait4BuildSide`), then hands each chunk to the worker whose resource it took. The goroutine's
/// handler closes the workers' inputs.
fn fetch_probe_side_chunks(
    sh: &Shared,
    build_finished: &Chan<JoinError>,
    round: &CheckedField<Option<ProbeRound>>,
    resource: &Chan<usize>,
    inputs: &[Chan<Vec<ProbeRow>>],
    chunks: Vec<Vec<Row>>,
) {
    let _f = frame(FETCH_PROBE_SIDE_CHUNKS);
    let mut chunks = chunks.into_iter();
    let mut has_waited_for_build = false;
    let mut held = 0;
    loop {
        // getProbeSideResource
        if sh.finished.load() {
            return;
        }
        let (mut w, mut closed) = (resource.recv_case(), sh.close.recv_case());
        if select(&mut [&mut w, &mut closed]) == 1 {
            return;
        }
        // Close closes probeChkResourceCh, once every goroutine is done.
        let Some(w) = w.take() else { return };
        // exec.Next on the probe child: an empty chunk once it is drained, or the child's error
        // (and `triggerIntest(2)` after it), which goes to joinResultCh before any wait.
        // The child charges its chunk to its tracker: the memory action may run on this goroutine,
        // during the build too.
        let chunk = chunks.next().unwrap_or_default();
        let bytes = chunk_bytes(&chunk);
        sh.spill.child_chunk(std::mem::replace(&mut held, bytes), bytes);
        if let Err(e) = sh.failpoints.hit("panicOrError@fetchProbeSideChunks") {
            sh.join_result.send(HashjoinWorkerResult::error(e));
            return;
        }
        if !has_waited_for_build {
            // Before PR #53079 (#51998): an empty first chunk with the inner side built ends the
            // join at once, and a build fetcher that sees `finished` stops without its error.
            let short_path = sh.config.bugs.has(Bug::EmptyProbeShortPath) && !sh.spec.need_used_flag();
            if short_path && chunk.is_empty() {
                sh.finished.store(true);
            }
            if wait_for_build_side(sh, build_finished, round) {
                return;
            }
            has_waited_for_build = true;
        }
        if chunk.is_empty() {
            return;
        }
        let rows = chunk
            .into_iter()
            .map(|row| {
                let key = sh.spec.probe_key(&row);
                let hash = key.as_deref().map(hash_key).unwrap_or(0);
                ProbeRow { row, key, hash }
            })
            .collect();
        let (mut send, mut closed) = (inputs[w].send_case(rows), sh.close.recv_case());
        if select(&mut [&mut send, &mut closed]) == 1 {
            return;
        }
    }
}

/// `wait4BuildSide`: whether to skip the probe. It is skipped when the executor closed, when the
/// build failed (its error goes to `joinResultCh`), and when the build left nothing to probe
/// against: an empty hash table with no spill, for a join whose probe rows all need a match
/// (`canSkipProbeIfHashTableIsEmpty`). With nothing to scan after, that ends the join (`finished`).
fn wait_for_build_side(
    sh: &Shared,
    build_finished: &Chan<JoinError>,
    round: &CheckedField<Option<ProbeRound>>,
) -> bool {
    let (mut err, mut closed) = (build_finished.recv_case(), sh.close.recv_case());
    if select(&mut [&mut err, &mut closed]) == 1 {
        sh.scan_gate.fetcher_waited(false);
        return true;
    }
    if let Some(e) = err.take() {
        sh.scan_gate.fetcher_waited(false);
        sh.join_result.send(HashjoinWorkerResult::error(e));
        return true;
    }
    sh.scan_gate.fetcher_waited(true);
    let can_skip = sh.spec.join_type.can_skip_probe_if_hash_table_is_empty(sh.spec.build_side);
    let empty = round.with(|r| r.as_ref().is_some_and(|r| r.table.is_hash_table_empty()));
    if empty && !sh.spill.is_spill_triggered() && can_skip {
        if !sh.spec.need_used_flag() {
            sh.finished.store(true);
        }
        return true;
    }
    false
}

/// `restoreAndProbe`: a restore round's probe worker takes its result chunk, then reads its probe
/// file, rehashes each row and probes (re-spilling rows whose partition spilled again), looking
/// at `closeCh` without waiting before each chunk.
fn restore_and_probe(sh: &Shared, worker: &ProbeWorkerV2, file: Option<&DataInDiskByChunks>) {
    let _f = frame(RESTORE_AND_PROBE);
    let (ok, mut result) = worker.get_new_join_result(&sh.close);
    if !ok {
        return;
    }
    for i in 0..file.map_or(0, DataInDiskByChunks::num_chunks) {
        let mut closed = sh.close.recv_case();
        if try_select(&mut [&mut closed]).is_some() {
            return;
        }
        let file = file.expect("a file with chunks");
        let rows = match file.get_chunk(i).and_then(|b| sh.failpoints.hit("panicOrError@restoreAndProbe").map(|()| b)) {
            Ok(bytes) => decode_probe_rows(&bytes),
            Err(e) => {
                result.err = Some(e);
                break;
            }
        };
        let rows = rows.into_iter().map(|r| ProbeRow { hash: rehash(r.hash), ..r }).collect();
        let _c = frame(PROCESS_ONE_RESTORED_PROBE_CHUNK);
        let ok;
        (ok, result) = worker.set_chunk_and_probe(rows, &sh.join_result, &sh.close, result);
        if !ok {
            break;
        }
    }
    send_last_result(result, &sh.join_result);
}

/// `waitJoinWorkers`: waits for every worker; then, for an outer-side build, scans the hash table
/// for unmatched rows with `Concurrency` goroutines: only after a successful build since PR
/// #60467, whatever the build did before it (#60466: the scan meets the nil hash table).
fn wait_join_workers(sh: &Arc<Shared>, worker_wg: &WaitGroup, round: &Arc<CheckedField<Option<ProbeRound>>>) {
    let _f = frame(WAIT_JOIN_WORKERS);
    worker_wg.wait();
    if !sh.spec.need_used_flag() {
        return;
    }
    if !sh.scan_gate.scan() {
        return;
    }
    let scan_wg = WaitGroup::new("scanWg");
    let n = sh.build_workers.len();
    for w in 0..n {
        let (sh, round, handler) = (sh.clone(), round.clone(), sh.clone());
        run_with_recover(
            Some(&scan_wg),
            move || {
                let _c = frame(WAIT_JOIN_WORKERS_FUNC1);
                let _f = frame(SCAN_ROW_TABLE_AFTER_PROBE_DONE);
                let table = {
                    let _i = frame(init_for_scan_row_table_frame(&sh.spec));
                    let _t = frame(TOTAL_ROW_COUNT);
                    round.deref(|r| r.table.clone())
                };
                let (ok, mut result) = get_new_join_result(&sh.join_chk_resource[w], &sh.close);
                if !ok {
                    return;
                }
                let all = table.all_rows();
                // The scan reads what no goroutine writes any more (every probe worker is done),
                // so it runs at once; its rows go out a full chunk at a time, as TiDB's do, each
                // pass of `ScanRowTable` ending with the SQL killer's check (outer_join_probe.go:140).
                let cap = sh.config.result_chunk_rows();
                let mut rows = scan_row_table(&sh.spec, &all[scan_range(all.len(), w, n)]).into_iter().peekable();
                // `for !IsScanRowTableDone()`: a pass walks rows until the chunk is full or the
                // range ends.
                while rows.peek().is_some() {
                    let chk = result.chk.as_mut().expect("the scan holds its chunk");
                    while chk.len() < cap {
                        let Some(row) = rows.next() else { break };
                        chk.extend(row);
                    }
                    if let Err(e) = sh.failpoints.hit("killedDuringProbe") {
                        result.err = Some(e);
                        break;
                    }
                    if !send_if_full(&mut result, cap, &sh.join_result, &sh.join_chk_resource[w], &sh.close) {
                        return;
                    }
                }
                send_last_result(result, &sh.join_result);
            },
            move |r| send_recovered(&handler, r),
        );
    }
    scan_wg.wait();
}
