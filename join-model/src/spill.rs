//! Spilling (`hash_join_spill_helper.go`, `hash_join_spill.go`): the memory quota and its trigger,
//! the choice of partitions, spill files on a real disk, and the restore stack.
//!
//! Spill files live in one temporary directory per executor (`tempfile`), removed when the
//! executor's spill helper is dropped: after `Close`, after an error, and when a panic unwinds.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use harness::go::{frame, AtomicBool, Chan, Cond, Mutex, WaitGroup};
use harness::memory::{CheckedBuf, CheckedField, Name};
use parking_lot::Mutex as FileLock;

use crate::bugs::{Bug, Bugs};
use crate::build_worker::BuildWorkerV2;
use crate::error::JoinError;
use crate::failpoint::Failpoints;
use crate::frames::*;
use crate::probe::ProbeRow;
use crate::probe_worker::ProbeSpill;
use crate::row_table::{EncodedRow, RowTableSegment};
use crate::types::{Row, Value};

/// Where an executor's spill files live.
#[derive(Debug)]
pub enum SpillFiles {
    /// Memory-backed files (`memfd_create`): real file descriptors with no directory entry, freed
    /// when the last handle closes, so nothing outlives a run, even one killed by SIGKILL; and no
    /// directory or file is created or removed per execution (measured on `joinrace run
    /// race2-fixed`: 12.7 s, against 17.4 s for files on tmpfs and 45.6 s on disk). Off Linux, a
    /// temporary directory instead.
    Memory,
    /// A new temporary directory under a chosen one, removed with the executor.
    Dir(tempfile::TempDir),
}

impl SpillFiles {
    /// Memory-backed files; `Some(parent)`: a new temporary directory under `parent`.
    pub fn new(parent: Option<&std::path::Path>) -> Result<SpillFiles, JoinError> {
        let dir = |p: &std::path::Path| tempfile::Builder::new().prefix("joinrace-spill-").tempdir_in(p);
        Ok(match parent {
            None if cfg!(target_os = "linux") => SpillFiles::Memory,
            Some(p) => SpillFiles::Dir(dir(p).map_err(io_error)?),
            None => SpillFiles::Dir(dir(&std::env::temp_dir()).map_err(io_error)?),
        })
    }

    /// The directory the files are in, if they are in one.
    pub fn dir(&self) -> Option<&std::path::Path> {
        match self {
            SpillFiles::Memory => None,
            SpillFiles::Dir(d) => Some(d.path()),
        }
    }

    /// A new, empty file `name`.
    pub fn create(&self, name: &str) -> Result<DataInDiskByChunks, JoinError> {
        let (file, pooled) = match self {
            SpillFiles::Memory => (memfd(name)?, true),
            SpillFiles::Dir(d) => {
                let path = d.path().join(name);
                (OpenOptions::new().create_new(true).read(true).write(true).open(path).map_err(io_error)?, false)
            }
        };
        Ok(DataInDiskByChunks { chunks: FileLock::new(Chunks { file: Some(file), index: Vec::new() }), pooled })
    }
}

/// Memory-backed files kept for the next execution on this thread, at most this many: creating a
/// memfd and freeing its inode cost about 7% of a restore slice's execution (measured with
/// `perf`), emptying one with `ftruncate` about 3%. A pooled file is not emptied: chunks are
/// written and read at the offsets the file's own index holds, so bytes past them are never read.
const POOLED: usize = 64;

thread_local! {
    static POOL: std::cell::RefCell<Vec<File>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(target_os = "linux")]
fn memfd(name: &str) -> Result<File, JoinError> {
    if let Some(file) = POOL.with(|p| p.borrow_mut().pop()) {
        return Ok(file);
    }
    let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC).map_err(|e| io_error(e.into()))?;
    Ok(File::from(fd))
}

#[cfg(not(target_os = "linux"))]
fn memfd(_name: &str) -> Result<File, JoinError> {
    unreachable!("off Linux, SpillFiles::new puts spill files in a temporary directory")
}

/// `chunk.DataInDiskByChunks`: chunks appended to one spill file, read back by index.
#[derive(Debug)]
pub struct DataInDiskByChunks {
    // I/O plumbing, not modelled state: the lock is never held across a harness operation, so
    // no goroutine switch happens under it.
    chunks: FileLock<Chunks>,
    /// A memory-backed file, pooled when dropped.
    pooled: bool,
}

/// A spill file's handle (taken when it is pooled) and each chunk's (offset, length).
#[derive(Debug)]
struct Chunks {
    file: Option<File>,
    index: Vec<(u64, u64)>,
}

impl Chunks {
    fn file(&self) -> &File {
        self.file.as_ref().expect("a spill file is open until dropped")
    }
}

impl Drop for DataInDiskByChunks {
    fn drop(&mut self) {
        let Some(file) = self.chunks.get_mut().file.take().filter(|_| self.pooled) else { return };
        POOL.with(|p| {
            let mut pool = p.borrow_mut();
            if pool.len() < POOLED {
                pool.push(file);
            }
        });
    }
}

impl DataInDiskByChunks {
    /// `Add`: appends one chunk of records.
    pub fn add(&self, bytes: &[u8]) -> Result<(), JoinError> {
        let mut chunks = self.chunks.lock();
        let offset = chunks.index.last().map_or(0, |(o, len)| o + len);
        chunks.file().write_all_at(bytes, offset).map_err(io_error)?;
        chunks.index.push((offset, bytes.len() as u64));
        Ok(())
    }

    /// `NumChunks`.
    pub fn num_chunks(&self) -> usize {
        self.chunks.lock().index.len()
    }

    /// `GetChunk`: chunk `i`'s bytes.
    pub fn get_chunk(&self, i: usize) -> Result<Vec<u8>, JoinError> {
        let chunks = self.chunks.lock();
        let (offset, len) = chunks.index[i];
        let mut buf = vec![0; len as usize];
        chunks.file().read_exact_at(&mut buf, offset).map_err(io_error)?;
        Ok(buf)
    }
}

fn io_error(e: std::io::Error) -> JoinError {
    JoinError::Spill { message: e.to_string() }
}

/// Encodes build rows for a spill file: per row its hash, the valid-key flag and the row bytes.
pub fn encode_build_rows(rows: &[EncodedRow]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in rows {
        out.extend_from_slice(&r.hash.to_le_bytes());
        out.push(r.valid as u8);
        out.extend_from_slice(&(r.bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&r.bytes);
    }
    out
}

/// Decodes what [`encode_build_rows`] wrote.
pub fn decode_build_rows(mut b: &[u8]) -> Vec<EncodedRow> {
    let mut rows = Vec::new();
    while !b.is_empty() {
        let hash = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
        let valid = b[8] != 0;
        let len = u32::from_le_bytes(b[9..13].try_into().expect("4 bytes")) as usize;
        rows.push(EncodedRow { hash, valid, bytes: b[13..13 + len].to_vec() });
        b = &b[13 + len..];
    }
    rows
}

/// Encodes probe rows for a spill file: hash, key (or none) and the row's values.
pub fn encode_probe_rows(rows: &[ProbeRow]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in rows {
        out.extend_from_slice(&r.hash.to_le_bytes());
        match &r.key {
            Some(k) => {
                out.push(1);
                out.extend_from_slice(&(k.len() as u32).to_le_bytes());
                out.extend_from_slice(k);
            }
            None => out.push(0),
        }
        out.extend_from_slice(&(r.row.len() as u32).to_le_bytes());
        for v in &r.row {
            match v {
                Value::Null => out.push(0),
                Value::Int(i) => {
                    out.push(1);
                    out.extend_from_slice(&i.to_le_bytes());
                }
                Value::Str(s) => {
                    out.push(2);
                    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    out.extend_from_slice(s);
                }
            }
        }
    }
    out
}

/// Decodes what [`encode_probe_rows`] wrote.
pub fn decode_probe_rows(mut b: &[u8]) -> Vec<ProbeRow> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> &'a [u8] {
        let (head, tail) = b.split_at(n);
        *b = tail;
        head
    }
    fn u32_at(b: &mut &[u8]) -> usize {
        u32::from_le_bytes(take(b, 4).try_into().expect("4 bytes")) as usize
    }
    let mut rows = Vec::new();
    while !b.is_empty() {
        let hash = u64::from_le_bytes(take(&mut b, 8).try_into().expect("8 bytes"));
        let key = match take(&mut b, 1)[0] {
            0 => None,
            _ => {
                let n = u32_at(&mut b);
                Some(take(&mut b, n).to_vec())
            }
        };
        let width = u32_at(&mut b);
        let row: Row = (0..width)
            .map(|_| match take(&mut b, 1)[0] {
                0 => Value::Null,
                1 => Value::Int(i64::from_le_bytes(take(&mut b, 8).try_into().expect("8 bytes"))),
                _ => {
                    let n = u32_at(&mut b);
                    Value::Str(take(&mut b, n).to_vec())
                }
            })
            .collect();
        rows.push(ProbeRow { row, key, hash });
    }
    rows
}

/// A spilled partition waiting for its restore round (`restorePartition`).
#[derive(Clone, Debug)]
pub struct RestorePartition {
    /// One build file per worker.
    pub build_side_chunks: Vec<Arc<DataInDiskByChunks>>,
    /// One probe file per worker.
    pub probe_side_chunks: Vec<Arc<DataInDiskByChunks>>,
    /// The round that restores it.
    pub round: usize,
}

/// The spill status, under the helper's cond mutex (`spillStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    NotSpilled,
    NeedSpill,
    InSpilling,
}

/// What the helper's mutex guards (`spillStatus`), and the model's bookkeeping beside it.
#[derive(Debug)]
struct SpillState {
    status: Status,
    /// Bytes of rows held in memory per partition (the hash table tracker's view): grows as rows
    /// are appended, drops to zero when the partition is spilled.
    partition_bytes: Vec<usize>,
    /// Bytes the children's chunks hold (their trackers' view), when they are charged.
    children: usize,
    stack: Vec<RestorePartition>,
    files: usize,
    stats: SpillStats,
}

/// One spill file per (worker, partition), `None` until the partition spills: TiDB's
/// `buildRowsInDisk[w][p]` and `probeRowsInDisk[w][p]`, written by spill goroutine `w` and read by
/// probe worker `w` and the round driver, with no lock: ordered by the build's end.
type DisksByWorker = Vec<Vec<Arc<CheckedField<Option<Arc<DataInDiskByChunks>>>>>>;

/// `template` names field `[w][p]` (`hashJoinSpillHelper.buildRowsInDisk[{}][{}]`).
fn disks(template: &'static str, workers: usize, partitions: usize) -> DisksByWorker {
    (0..workers)
        .map(|w| {
            (0..partitions).map(|p| Arc::new(CheckedField::new(Name::template(template, &[w, p]), None))).collect()
        })
        .collect()
}

/// A spill goroutine's buffers (`validJoinKeysBuffer[w]`, `tmpSpillBuildSideChunks[w]`): fields
/// of the helper indexed by worker, shared by every spill of the round (audit H17). Only spill
/// goroutine `w` touches index `w`, and spills never overlap, so TiDB has no race on them; as
/// checked memory, a schedule where two goroutines met on one would be reported.
#[derive(Clone, Debug)]
pub struct SpillBuffers {
    valid_join_keys: Arc<CheckedField<Vec<bool>>>,
    tmp_spill_build_side_chunk: Arc<CheckedField<Vec<EncodedRow>>>,
}

/// What spilled, over a whole join (TiDB's `...ForTest` flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpillStats {
    /// Some spill happened while row tables were being built (at a safe point).
    pub spilled_during_build: bool,
    /// Every partition was spilled in one round.
    pub all_partitions_spilled: bool,
    /// Every partition was spilled in round 1: then `probeAndSendResult` probes no chunk, and the
    /// probe rows it never looks up (NULL keys) are lost where the probe side is outer.
    pub all_partitions_spilled_in_round1: bool,
    /// A spill happened between the row tables and the hash table (`tryToSpill`).
    pub spilled_before_hash_table: bool,
    /// A restore round spilled again.
    pub respilled: bool,
    /// The highest restore round reached.
    pub max_round: usize,
}

/// Where and when the join's memory is charged to the quota (audit H11).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MemoryCharge {
    /// Scaled to the model's quotas (tens to hundreds of bytes, so that a few rows spill): a split
    /// worker charges each chunk's rows at once; the children's chunks and the hash table are not
    /// charged (at these quotas one chunk, or the hash table's floor of 32 buckets, is a large
    /// part of the quota, where at TiDB's megabytes it is a small one).
    #[default]
    Scaled,
    /// As TiDB at its commit: a split worker charges each segment as it finalizes it
    /// (`finalizeCurrentSeg` with `needConsume`; open segments are never charged), the fetchers
    /// charge their children's chunks, and `tryToSpill` charges the hash table (a bucket of 8
    /// bytes per valid row, to the next power of two, at least 32) before building it, and a
    /// 32-bucket table for each partition it spilled.
    Tidb,
}

/// `getHashTableMemoryUsage`: 8 bytes a bucket, as many buckets as the next power of two of the
/// valid rows, at least 32.
pub fn hash_table_memory_usage(valid_rows: usize) -> usize {
    valid_rows.next_power_of_two().max(32) * 8
}

/// `hashJoinSpillHelper`.
pub struct HashJoinSpillHelper {
    /// The memory quota in bytes (`bytesLimit`); `None` disables spilling.
    pub bytes_limit: Option<usize>,
    /// `maxSpillRound`.
    pub max_spill_round: usize,
    partitions: usize,
    files: Arc<SpillFiles>,
    // The cond's mutex guards `state` (Go: `h.cond.L` guards `spillStatus`).
    mu: Mutex,
    cond: Cond,
    state: CheckedField<SpillState>,
    // `canSpillFlag` (audit H11).
    can_spill: AtomicBool,
    /// Where memory is charged.
    pub charge: MemoryCharge,
    // Fields TiDB reads and writes with no lock (audit H7), relying on the build's end
    // (`buildFinished`) and the round's WaitGroups for order: "spillTriggered can only be set in
    // build stage, so it's ok to get it without lock" (base_join_probe.go:260). One byte per
    // partition for `spilledPartitions` (a []bool).
    spill_triggered: CheckedField<bool>,
    spilled_partitions: CheckedBuf,
    build_rows_in_disk: DisksByWorker,
    probe_rows_in_disk: DisksByWorker,
    buffers: Vec<SpillBuffers>,
    // Fields TiDB keeps outside the cond's lock, as TiDB's types have them: `spilledValidRowNum`
    // (a uint64, an atomic.Uint64 from PR #60061) and `skipProbeInRestoreForTest` (a bool, an
    // atomic.Bool, 4 bytes, from PR #58406).
    spilled_valid_row_num: SpilledValidRowNum,
    skip_probe_in_restore_for_test: CheckedBuf,
    bugs: Bugs,
    // The SQL killer's check at the start of a spill (`killedDuringBuildSpill`).
    failpoints: Arc<Failpoints>,
    loom_slice: bool,
}

impl std::fmt::Debug for HashJoinSpillHelper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashJoinSpillHelper({:?})", self.files.dir())
    }
}

impl HashJoinSpillHelper {
    /// A helper whose spill files go into a new temporary directory under `parent`, or into
    /// memory-backed files when `None` ([`SpillFiles`]).
    pub fn new(
        bytes_limit: Option<usize>,
        max_spill_round: usize,
        partitions: usize,
        concurrency: usize,
        parent: Option<&std::path::Path>,
    ) -> Result<HashJoinSpillHelper, JoinError> {
        let files = SpillFiles::new(parent)?;
        if let Some(d) = files.dir() {
            // Dropping the helper removes the directory; this covers executions that fail, where
            // goroutines holding the helper may be unwound late or never.
            let path = d.to_path_buf();
            harness::go::at_execution_end(move || {
                let _ = std::fs::remove_dir_all(path);
            });
        }
        let mu = Mutex::new("hashJoinSpillHelper.cond.L");
        let cond = Cond::new(&mu);
        let state = SpillState {
            status: Status::NotSpilled,
            partition_bytes: vec![0; partitions],
            children: 0,
            stack: Vec::new(),
            files: 0,
            stats: SpillStats::default(),
        };
        let buffers = (0..concurrency)
            .map(|w| SpillBuffers {
                valid_join_keys: Arc::new(CheckedField::new(
                    Name::template("hashJoinSpillHelper.validJoinKeysBuffer[{}]", &[w]),
                    Vec::new(),
                )),
                tmp_spill_build_side_chunk: Arc::new(CheckedField::new(
                    Name::template("hashJoinSpillHelper.tmpSpillBuildSideChunks[{}]", &[w]),
                    Vec::new(),
                )),
            })
            .collect();
        Ok(HashJoinSpillHelper {
            bytes_limit,
            max_spill_round,
            partitions,
            files: Arc::new(files),
            mu,
            cond,
            state: CheckedField::new("hashJoinSpillHelper.spillStatus", state),
            can_spill: AtomicBool::new(false),
            charge: MemoryCharge::Scaled,
            spill_triggered: CheckedField::new("hashJoinSpillHelper.spillTriggered", false),
            spilled_partitions: CheckedBuf::new("hashJoinSpillHelper.spilledPartitions", partitions),
            build_rows_in_disk: disks("hashJoinSpillHelper.buildRowsInDisk[{}][{}]", concurrency, partitions),
            probe_rows_in_disk: disks("hashJoinSpillHelper.probeRowsInDisk[{}][{}]", concurrency, partitions),
            buffers,
            spilled_valid_row_num: SpilledValidRowNum {
                num: CheckedBuf::new("hashJoinSpillHelper.spilledValidRowNum", 8),
                access: CounterAccess::at(&Bugs::fixed()),
            },
            skip_probe_in_restore_for_test: CheckedBuf::new("hashJoinSpillHelper.skipProbeInRestoreForTest", 4),
            bugs: Bugs::fixed(),
            failpoints: Arc::new(Failpoints::none()),
            loom_slice: false,
        })
    }

    /// The helper of a slice run under loom, whose executions may spawn at most 4 threads: its
    /// end-of-input spill skips the pass TiDB makes when no row reached a spilled partition since
    /// the last spill (the slices' rows are chosen so that such a pass has nothing to write, so
    /// only the goroutines it would start are missing).
    pub fn for_loom_slice(self) -> HashJoinSpillHelper {
        HashJoinSpillHelper { loom_slice: true, ..self }
    }

    /// The helper charging memory as `charge` says.
    pub fn charging(self, charge: MemoryCharge) -> HashJoinSpillHelper {
        HashJoinSpillHelper { charge, ..self }
    }

    /// The helper as TiDB had it with `bugs`, with the executor's failpoints: its spills check the
    /// SQL killer.
    pub fn with_tidb(self, bugs: &Bugs, failpoints: Arc<Failpoints>) -> HashJoinSpillHelper {
        let spilled_valid_row_num =
            SpilledValidRowNum { access: CounterAccess::at(bugs), ..self.spilled_valid_row_num };
        HashJoinSpillHelper { bugs: bugs.clone(), failpoints, spilled_valid_row_num, ..self }
    }

    /// `probeAndSendResult`'s mark, in a restore round whose partitions all spilled, that the probe
    /// was skipped (`skipProbeInRestoreForTest = true`, a test-only flag): a plain write before PR
    /// #58406, an atomic store after.
    pub fn mark_probe_skipped_in_restore(&self) {
        if self.bugs.has(Bug::SkipProbeFlag) {
            self.skip_probe_in_restore_for_test.write_u8(0, 1);
        } else {
            self.skip_probe_in_restore_for_test.atomic_store_u32(0, 1);
        }
    }

    /// Where the spill files are.
    pub fn files(&self) -> &SpillFiles {
        &self.files
    }

    /// `memTracker.Consume` of bytes held by partitions (rows, and with [`MemoryCharge::Tidb`]
    /// the hash table), on the calling goroutine, and the memory action when it takes the
    /// session over the quota.
    pub fn consume(&self, per_partition: &[usize]) {
        self.charge(per_partition, 0);
    }

    /// Charges `per_partition` to the hash table's tracker and `children` (a change in what the
    /// children's chunks hold) to theirs, under the session's, and runs the memory action when
    /// the session is over the quota after a positive charge, on the calling goroutine, as
    /// `Consume` does (tracker.go:446-518). The trackers' counts live under the helper's mutex
    /// (TiDB's are atomics, and the action holds the root's `actionMuForHardLimit`).
    ///
    /// The action is `hashJoinSpillAction.Action` (hash_join_spill.go:48-85): it waits while a
    /// spill is in progress, then asks for a spill (`needSpill`) if nothing is spilling or asked
    /// for, the join holds at least a twentieth of the quota (`hasEnoughDataToSpill`) and it can
    /// still spill (`canSpill`); otherwise, with too little data or no way to spill, the fallback
    /// action runs: TiDB's default `PanicOnExceed`, which cancels the query with a panic on this
    /// goroutine. The action spills nothing itself: the build's safe points and `tryToSpill` do.
    fn charge(&self, per_partition: &[usize], children: i64) {
        let mut g = self.mu.lock();
        let (root, join) = self.state.with_mut(|s| {
            per_partition.iter().enumerate().for_each(|(p, &b)| s.partition_bytes[p] += b);
            s.children = s.children.saturating_add_signed(children as isize);
            let join: usize = s.partition_bytes.iter().sum();
            (join + s.children, join)
        });
        let positive = per_partition.iter().any(|&b| b > 0) || children > 0;
        let Some(limit) = self.bytes_limit.filter(|&l| positive && root > l) else { return };
        while self.state.with(|s| s.status == Status::InSpilling) {
            g = self.cond.wait(g);
        }
        let (enough, can_spill) = (join >= limit / 20, self.can_spill.load());
        let asked = self.state.with_mut(|s| {
            let ask = s.status == Status::NotSpilled && enough && can_spill;
            if ask {
                s.status = Status::NeedSpill;
            }
            ask
        });
        drop(g);
        if !asked && (!enough || !can_spill) {
            // PanicOnExceed: the kill signal, then `panic(err)` (action.go:164-182).
            panic!("{}", MEMORY_EXCEEDED);
        }
    }

    /// `setCanSpillFlag`: true when `Next` starts the join and at the end of every round, false
    /// once the row tables are merged (`mergeRowTablesToHashTable`, after `tryToSpill`).
    pub fn set_can_spill_flag(&self, can: bool) {
        self.can_spill.store(can);
    }

    /// A child's `Next` replaced the chunk it holds (`old` bytes) with one of `new` bytes, charged
    /// to the child's tracker under the same root: the action may run on the fetcher's goroutine.
    /// Nothing unless memory is charged as TiDB does ([`MemoryCharge::Tidb`]).
    pub fn child_chunk(&self, old: usize, new: usize) {
        if self.charge != MemoryCharge::Tidb {
            return;
        }
        self.charge(&[], new as i64);
        self.charge(&[], -(old as i64));
    }

    /// `isSpillNeeded`.
    pub fn is_spill_needed(&self) -> bool {
        self.read(|s| s.status == Status::NeedSpill)
    }

    /// `isSpillTriggered`: a plain read, no lock.
    pub fn is_spill_triggered(&self) -> bool {
        self.spill_triggered.get()
    }

    /// `isPartitionSpilled`: whether partition `p` spilled in this round (a plain read, no lock).
    pub fn is_partition_spilled(&self, p: usize) -> bool {
        self.spilled_partitions.read_u8(p) != 0
    }

    /// `areAllPartitionsSpilled`.
    pub fn are_all_partitions_spilled(&self) -> bool {
        self.spilled_flags().into_iter().all(|s| s)
    }

    /// `getSpilledPartitions`.
    pub fn spilled_partitions(&self) -> Vec<usize> {
        (0..self.partitions).filter(|&p| self.is_partition_spilled(p)).collect()
    }

    /// Whether each partition spilled in this round.
    pub fn spilled_flags(&self) -> Vec<bool> {
        (0..self.partitions).map(|p| self.is_partition_spilled(p)).collect()
    }

    /// Reads the helper's state under `cond.L`.
    fn read<R>(&self, f: impl FnOnce(&SpillState) -> R) -> R {
        let _g = self.mu.lock();
        self.state.with(f)
    }

    /// Changes the helper's state under `cond.L`.
    fn write<R>(&self, f: impl FnOnce(&mut SpillState) -> R) -> R {
        let _g = self.mu.lock();
        self.state.with_mut(f)
    }

    fn set_status(&self, status: Status) {
        let _g = self.mu.lock();
        self.state.with_mut(|s| s.status = status);
        if status == Status::NotSpilled {
            self.cond.broadcast();
        }
    }

    /// `spillRowTable`: spills the chosen partitions of every worker's row table.
    pub fn spill_row_table(&self, workers: &[Arc<BuildWorkerV2>]) -> Result<(), JoinError> {
        let _f = frame(SPILL_ROW_TABLE);
        self.set_status(Status::InSpilling);
        let r = self.failpoints.hit("killedDuringBuildSpill").and_then(|()| {
            let parts = self.choose_partitions_to_spill();
            self.spill_row_table_impl(workers, &parts)
        });
        self.set_status(Status::NotSpilled);
        r
    }

    /// `spillRemainingRows`: at the end of input, spills every already spilled partition again,
    /// one goroutine per worker, after the SQL killer's check; as in TiDB, even when no row reached
    /// them since the last spill (audit H13). A loom slice skips that empty pass instead
    /// ([`HashJoinSpillHelper::for_loom_slice`]).
    pub fn spill_remaining_rows(&self, workers: &[Arc<BuildWorkerV2>]) -> Result<(), JoinError> {
        let _f = frame(SPILL_REMAINING_ROWS);
        let parts = self.spilled_partitions();
        let bytes = self.read(|s| s.partition_bytes.clone());
        if self.loom_slice && !parts.iter().any(|&p| bytes[p] > 0) {
            return Ok(());
        }
        self.set_status(Status::InSpilling);
        let r = self.failpoints.hit("killedDuringBuildSpill").and_then(|()| self.spill_row_table_impl(workers, &parts));
        self.set_status(Status::NotSpilled);
        r
    }

    /// `choosePartitionsToSpill` (spill_helper.go:239-295): the partitions spilled so far if
    /// spilling them again leaves the join at most half the quota (`memFactorAfterSpill`), so none
    /// when nothing spilled yet and the join is already there; else also the largest unspilled
    /// ones, until it is.
    fn choose_partitions_to_spill(&self) -> Vec<usize> {
        let usage = self.read(|s| s.partition_bytes.clone());
        let target = self.bytes_limit.map_or(f64::MAX, |l| l as f64 * 0.5);
        let mut parts = self.spilled_partitions();
        let mut after = usage.iter().sum::<usize>() as f64 - parts.iter().map(|&p| usage[p] as f64).sum::<f64>();
        if after <= target {
            return parts;
        }
        let mut rest: Vec<usize> = (0..self.partitions).filter(|&p| !parts.contains(&p)).collect();
        rest.sort_by_key(|&p| std::cmp::Reverse(usage[p]));
        for p in rest {
            parts.push(p);
            after -= usage[p] as f64;
            if after <= target {
                break;
            }
        }
        parts
    }

    /// `spillRowTableImpl`: one goroutine per build worker finalizes the worker's open segment of
    /// each chosen partition and writes the partition's segments to disk.
    fn spill_row_table_impl(&self, workers: &[Arc<BuildWorkerV2>], parts: &[usize]) -> Result<(), JoinError> {
        let _f = frame(SPILL_ROW_TABLE_IMPL);
        // `setPartitionSpilled`, by the spiller before the spill goroutines start.
        let n = self.write(|s| {
            parts.iter().for_each(|&p| s.partition_bytes[p] = 0);
            s.files += 1;
            s.files
        });
        for &p in parts {
            self.spilled_partitions.write_u8(p, 1);
        }
        self.spill_triggered.set(true);
        let errors: Chan<JoinError> = Chan::new("spillRowTableImpl.errChannel", workers.len());
        let wg = WaitGroup::new("spillRowTableImpl.wg");
        for worker in workers {
            let (worker, errors, handler) = (worker.clone(), errors.clone(), errors.clone());
            let counter = self.spilled_valid_row_num.clone();
            let buffers = self.buffers[worker.worker_id].clone();
            // Each spill goroutine creates its worker's files of the partitions it spills for the
            // first time in the round (spill_helper.go:312-325).
            let files: Vec<_> = parts
                .iter()
                .map(|&p| {
                    let w = worker.worker_id;
                    let (build, probe) = (&self.build_rows_in_disk[w][p], &self.probe_rows_in_disk[w][p]);
                    let names = (format!("build-w{w}-p{p}-{n}"), format!("probe-w{w}-p{p}-{n}"));
                    (p, build.clone(), probe.clone(), names)
                })
                .collect();
            let spill_files = self.files.clone();
            run_with_recover(
                Some(&wg),
                move || {
                    let _f = frame(SPILL_ROW_TABLE_IMPL_FUNC1);
                    for (p, build_disk, probe_disk, (build_name, probe_name)) in files {
                        // Reads the worker's builder field: with the #57450 builder-publication bug
                        // a worker that has not handled a chunk may write it concurrently, and
                        // before it does the field is nil (`builder.rowNumberInCurrentRowTableSeg`
                        // then panics, audit H3).
                        let builder = worker.builder.deref(Arc::clone);
                        if builder.row_number_in_current_row_table_seg(p) > 0 {
                            builder.finalize_current_seg(p, &worker.row_tables);
                        }
                        let segments = worker.row_tables[p].with_mut(|t| std::mem::take(&mut t.segments));
                        let disk = match build_disk.get() {
                            Some(d) => Ok(d),
                            None => spill_files.create(&build_name).and_then(|b| {
                                let probe = spill_files.create(&probe_name)?;
                                let b = Arc::new(b);
                                build_disk.set(Some(b.clone()));
                                probe_disk.set(Some(Arc::new(probe)));
                                Ok(b)
                            }),
                        };
                        if let Err(e) =
                            disk.and_then(|d| spill_build_segment_to_disk(&segments, &d, &counter, &buffers))
                        {
                            errors.send(e);
                        }
                    }
                },
                move |r| {
                    if let Some(e) = r {
                        handler.send(e);
                    }
                },
            );
        }
        wg.wait();
        errors.close();
        match errors.recv() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Appends probe rows of spilled partitions to this worker's probe files (`spillProbeChk`).
    pub fn spill_probe(&self, worker: usize, rows: Vec<(usize, ProbeRow)>) -> Result<(), JoinError> {
        if rows.is_empty() {
            return Ok(());
        }
        let files: Vec<Option<Arc<DataInDiskByChunks>>> =
            self.probe_rows_in_disk[worker].iter().map(|f| f.get()).collect();
        for (p, file) in files.iter().enumerate() {
            let mine: Vec<ProbeRow> = rows.iter().filter(|(q, _)| *q == p).map(|(_, r)| r.clone()).collect();
            if mine.is_empty() {
                continue;
            }
            let disk = file.as_ref().ok_or_else(|| JoinError::Spill {
                message: format!("no probe spill file for worker {worker} partition {p}"),
            })?;
            disk.add(&encode_probe_rows(&mine))?;
        }
        Ok(())
    }

    /// `prepareForRestoring`: after a round, pushes every spilled partition on the restore stack
    /// and resets the round's spill state. Fails past the round limit.
    pub fn prepare_for_restoring(&self, last_round: usize) -> Result<(), JoinError> {
        // The round limit first, whether or not anything spilled (audit H16): a join whose
        // restore rounds reach `maxSpillRound` fails even when the last one fit in memory.
        if last_round + 1 > self.max_spill_round {
            return Err(JoinError::ExceedMaxSpillRound { max: self.max_spill_round });
        }
        if !self.is_spill_triggered() {
            return Ok(());
        }
        let round = |disks: &DisksByWorker, p: usize| -> Vec<_> { disks.iter().filter_map(|w| w[p].get()).collect() };
        for p in self.spilled_partitions() {
            let (build, probe) = (round(&self.build_rows_in_disk, p), round(&self.probe_rows_in_disk, p));
            if !build.is_empty() {
                let part =
                    RestorePartition { build_side_chunks: build, probe_side_chunks: probe, round: last_round + 1 };
                self.write(|s| s.stack.push(part));
            }
        }
        // reset()
        (0..self.partitions).for_each(|p| self.spilled_partitions.write_u8(p, 0));
        self.build_rows_in_disk.iter().chain(&self.probe_rows_in_disk).flatten().for_each(|d| d.set(None));
        self.spill_triggered.set(false);
        self.spilled_valid_row_num.reset();
        // TiDB's reset() leaves spillStatus as it is: a `needSpill` set after `tryToSpill`'s check
        // makes the next round's first safe point spill (audit H11). The round's row tables are
        // released (`resetHashTableContextForRestore`).
        self.write(|s| s.partition_bytes.iter_mut().for_each(|b| *b = 0));
        Ok(())
    }

    /// Pops the next partition to restore (LIFO).
    pub fn pop_restore(&self) -> Option<RestorePartition> {
        self.write(|s| s.stack.pop())
    }

    /// What spilled so far.
    pub fn stats(&self) -> SpillStats {
        self.read(|s| s.stats)
    }

    /// Records a spill in round `round`; `before_hash_table` for `tryToSpill`.
    pub fn note_spill(&self, round: usize, before_hash_table: bool) {
        let all = self.are_all_partitions_spilled();
        self.write(|s| {
            let st = &mut s.stats;
            if before_hash_table {
                st.spilled_before_hash_table = true;
            } else {
                st.spilled_during_build = true;
            }
            st.respilled |= round > 0;
            st.all_partitions_spilled |= all;
            st.all_partitions_spilled_in_round1 |= all && round == 0;
        });
    }

    /// Records that restore round `round` started.
    pub fn note_round(&self, round: usize) {
        self.write(|s| s.stats.max_round = s.stats.max_round.max(round));
    }
}

/// The message of TiDB's `PanicOnExceed` (`exeerrors.ErrMemoryExceedForQuery`), the connection id
/// of the model's session being 0.
pub const MEMORY_EXCEEDED: &str = "Your query has been cancelled due to exceeding the allowed memory limit for a single SQL query. Please try narrowing your query scope or increase the tidb_mem_quota_query limit and try again.[conn=0]";

/// `spilledValidRowNum` (since PR #59255): the valid rows spilled in a round, for EXPLAIN ANALYZE.
#[derive(Clone, Debug)]
struct SpilledValidRowNum {
    num: CheckedBuf,
    access: CounterAccess,
}

/// How TiDB's code at a commit touches the counter.
#[derive(Clone, Copy, Debug)]
enum CounterAccess {
    /// Before PR #59255: there is no counter.
    Absent,
    /// A plain `uint64` (#60052).
    Plain,
    /// An `atomic.Uint64`, from PR #60061.
    Atomic,
}

impl CounterAccess {
    fn at(bugs: &Bugs) -> CounterAccess {
        match (bugs.written(Bug::SpilledValidRowNum), bugs.has(Bug::SpilledValidRowNum)) {
            (false, _) => CounterAccess::Absent,
            (true, true) => CounterAccess::Plain,
            (true, false) => CounterAccess::Atomic,
        }
    }
}

impl SpilledValidRowNum {
    /// `h.spilledValidRowNum += n`.
    fn add(&self, n: usize) {
        match self.access {
            CounterAccess::Absent => {}
            CounterAccess::Plain => {
                let v = self.num.read_u64(0);
                self.num.write_u64(0, v + n as u64);
            }
            CounterAccess::Atomic => {
                self.num.atomic_add_u64(0, n as u64);
            }
        }
    }

    /// `reset`'s `h.spilledValidRowNum = 0`.
    fn reset(&self) {
        match self.access {
            CounterAccess::Absent => {}
            CounterAccess::Plain => self.num.write_u64(0, 0),
            CounterAccess::Atomic => self.num.atomic_store_u64(0, 0),
        }
    }
}

/// `spillBuildSegmentToDisk` and `spillSegmentsToDiskImpl`: every row of `segments` as one chunk
/// per segment, each built in the worker's `tmpSpillBuildSideChunks` buffer, its valid-key flags in
/// the worker's `validJoinKeysBuffer`.
fn spill_build_segment_to_disk(
    segments: &[Arc<RowTableSegment>],
    disk: &DataInDiskByChunks,
    counter: &SpilledValidRowNum,
    buffers: &SpillBuffers,
) -> Result<(), JoinError> {
    let _f = frame(SPILL_BUILD_SEGMENT_TO_DISK);
    let _g = frame(SPILL_SEGMENTS_TO_DISK_IMPL);
    buffers.valid_join_keys.with_mut(Vec::clear);
    buffers.tmp_spill_build_side_chunk.with_mut(Vec::clear);
    for seg in segments {
        generate_spilled_valid_join_key(seg, counter, &buffers.valid_join_keys);
        let valid = buffers.valid_join_keys.get();
        buffers.tmp_spill_build_side_chunk.with_mut(|chunk| {
            chunk.extend((0..seg.row_count()).map(|i| {
                let mut bytes = seg.row_bytes(i);
                // The next pointer is meaningless on disk (and the used flag is never set yet).
                bytes[..8].fill(0);
                EncodedRow { hash: seg.hash_values[i], valid: valid[i], bytes }
            }))
        });
        let rows = buffers.tmp_spill_build_side_chunk.with_mut(std::mem::take);
        disk.add(&encode_build_rows(&rows))?;
    }
    Ok(())
}

/// `generateSpilledValidJoinKey`: the segment's valid-key flag per row, in the worker's buffer;
/// counts the valid rows in the helper's shared counter (since PR #59255).
fn generate_spilled_valid_join_key(
    seg: &RowTableSegment,
    counter: &SpilledValidRowNum,
    buffer: &CheckedField<Vec<bool>>,
) {
    let _f = frame(GENERATE_SPILLED_VALID_JOIN_KEY);
    buffer.with_mut(|valid| {
        valid.clear();
        valid.resize(seg.row_count(), false);
        seg.valid_join_key_pos.iter().for_each(|&i| valid[i] = true);
    });
    counter.add(seg.valid_join_key_pos.len());
}

/// The probe side's view of the round's spill state: the helper's unlocked fields, read by the
/// probe workers after the build finished.
#[derive(Debug)]
pub struct RoundSpill {
    /// The helper.
    pub helper: Arc<HashJoinSpillHelper>,
    /// Whether the round is a restore round (`inRestore`).
    pub in_restore: bool,
}

impl ProbeSpill for RoundSpill {
    fn is_spilled(&self, p: usize) -> bool {
        self.helper.is_partition_spilled(p)
    }

    fn spill_probe_rows(&self, worker: usize, rows: Vec<(usize, ProbeRow)>) -> Result<(), JoinError> {
        self.helper.spill_probe(worker, rows)
    }

    fn skip_probe(&self) -> bool {
        let all = self.helper.are_all_partitions_spilled();
        if all && self.in_restore {
            self.helper.mark_probe_skipped_in_restore();
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_rows_round_trip() {
        let rows = vec![
            EncodedRow { hash: 7, valid: true, bytes: vec![1, 2, 3, 4, 5, 6, 7, 8] },
            EncodedRow { hash: u64::MAX, valid: false, bytes: vec![] },
        ];
        assert_eq!(decode_build_rows(&encode_build_rows(&rows)), rows);
    }

    #[test]
    fn probe_rows_round_trip() {
        let rows = vec![
            ProbeRow {
                row: vec![Value::Int(-3), Value::Null, Value::Str(b"xy".to_vec())],
                key: Some(vec![9]),
                hash: 1,
            },
            ProbeRow { row: vec![], key: None, hash: 0 },
        ];
        assert_eq!(decode_probe_rows(&encode_probe_rows(&rows)), rows);
    }

    /// Audit H17: `validJoinKeysBuffer[w]` and `tmpSpillBuildSideChunks[w]` are the helper's, one
    /// per worker, shared by every spill: two spill goroutines of one worker that nothing ordered
    /// would race on them (TiDB never starts two; the buffers used to be locals, where nothing
    /// could be seen).
    #[test]
    fn h17_a_workers_spill_buffers_are_shared_checked_memory() {
        use harness::{explore, go, Strategy};
        let o = explore(&Strategy::random(1, 20), || {
            let helper = HashJoinSpillHelper::new(None, 2, 1, 1, None).expect("spill files");
            let (buffers, counter) = (helper.buffers[0].clone(), helper.spilled_valid_row_num.clone());
            let spill = move || {
                let disk = SpillFiles::Memory.create("f").expect("file");
                spill_build_segment_to_disk(&[], &disk, &counter, &buffers).expect("spilled");
            };
            let other = go::go(spill.clone());
            spill();
            other.join();
        });
        let race = o.failure.as_ref().and_then(|f| f.kind.race()).unwrap_or_else(|| panic!("no race: {o}"));
        assert_eq!(race.object, "hashJoinSpillHelper.validJoinKeysBuffer[0]", "{o}");
    }

    #[test]
    fn disk_chunks_read_back_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        for files in [SpillFiles::new(None).expect("memory"), SpillFiles::new(Some(dir.path())).expect("dir")] {
            let disk = files.create("f").expect("create");
            disk.add(b"first").expect("add");
            disk.add(b"second!").expect("add");
            assert_eq!(disk.num_chunks(), 2);
            assert_eq!(disk.get_chunk(1).expect("read"), b"second!");
            assert_eq!(disk.get_chunk(0).expect("read"), b"first");
        }
    }
}
