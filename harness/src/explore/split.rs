//! Random and PCT explorations split by execution: over the threads of one process
//! ([`explore_jobs`], which also runs a DPOR exploration's workers) and over machines (a [`Shard`]
//! of the executions). PCT's scheduler is `pct.rs`; this file holds random's.
//!
//! shuttle's random scheduler draws each execution's seed from the generator the execution before
//! drew its random values from, so execution 7 cannot run without executions 1 to 6. Here every
//! execution gets shuttle's random scheduler afresh, seeded from the exploration's seed and the
//! execution's index: any subset of the indices runs exactly as it runs within the whole, and
//! shards or jobs that take disjoint subsets cover, together, what one run covers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use rustc_hash::FxHashSet;
use shuttle::scheduler::{RandomScheduler, Schedule as ShuttleSchedule, Scheduler, Task, TaskId};

use super::dpor::Window;
use super::{explore_indexed, Indexing, Kind, Outcome, Progress, Strategy};

/// Executions `k`, `k + n`, `k + 2n`, … of an exploration (0-based `k < n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which one.
    pub k: u64,
    /// Of how many.
    pub n: u64,
}

impl Shard {
    /// The whole exploration.
    pub const ALL: Shard = Shard { k: 0, n: 1 };

    /// Shard `j` of `jobs` within this shard.
    fn split(self, j: u64, jobs: u64) -> Shard {
        Shard { k: self.k + self.n * j, n: self.n * jobs }
    }
}

/// The seed of execution `i` of an exploration seeded with `seed` (SplitMix64's finaliser over
/// the pair, so that neighbouring seeds and indices give unrelated seeds).
pub(crate) fn execution_seed(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The executions of a shard, each under shuttle's random scheduler seeded by [`execution_seed`].
pub(crate) struct SplitRandom {
    seed: u64,
    next: u64,
    end: u64,
    stride: u64,
    /// Executions from this index on are not started (another job failed before them).
    stop_at: Arc<AtomicU64>,
    /// The index of the execution running now, for the outcome and the per-execution log.
    current: Arc<AtomicU64>,
    inner: Option<RandomScheduler>,
}

impl SplitRandom {
    pub(crate) fn new(
        seed: u64,
        iterations: u64,
        shard: Shard,
        stop_at: Arc<AtomicU64>,
        current: Arc<AtomicU64>,
    ) -> Self {
        SplitRandom { seed, next: shard.k, end: iterations, stride: shard.n, stop_at, current, inner: None }
    }
}

impl Scheduler for SplitRandom {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        if let Some(mut done) = self.inner.take() {
            // Ends its only execution: a scheduler dropped mid-execution prints a replay hint
            // for shuttle's API, which does not apply here.
            let _ = done.new_execution();
        }
        let i = self.next;
        if i >= self.end || i >= self.stop_at.load(Ordering::SeqCst) {
            return None;
        }
        self.next += self.stride;
        self.current.store(i, Ordering::SeqCst);
        let mut s = RandomScheduler::new_from_seed(execution_seed(self.seed, i), 1);
        let schedule = s.new_execution();
        self.inner = Some(s);
        schedule
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        self.inner.as_mut().expect("an execution is running").next_task(runnable, current, is_yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.as_mut().expect("an execution is running").next_u64()
    }
}

/// Explores `model` under `strategy` with `jobs` threads. A random or PCT exploration is split by
/// execution index over the jobs (PCT's execution 0 first, alone); a DPOR exploration's jobs are
/// workers of one explorer, each running the next branch of its window. The outcome is the one a
/// single thread computes (times and the order of recovered panics aside): the same failing
/// execution, the same counts. Other strategies run on one thread.
pub fn explore_jobs<F>(strategy: &Strategy, jobs: usize, model: F) -> Outcome
where
    F: Fn() + Send + Sync + 'static,
{
    let jobs = jobs.max(1) as u64;
    let dpor = matches!(strategy.kind(), Kind::Dpor { .. });
    let pct = matches!(strategy.kind(), Kind::Pct { .. });
    if jobs == 1 || !(dpor || pct || matches!(strategy.kind(), Kind::Random { .. })) {
        return super::explore(strategy, model);
    }
    let window = dpor.then(|| Window::new(strategy));
    let model = Arc::new(model);
    let stop_at = Arc::new(AtomicU64::new(u64::MAX));
    let start = std::time::Instant::now();
    let horizon: Arc<OnceLock<usize>> = Arc::default();
    let mut first = Vec::new();
    if pct {
        // PCT's execution 0 measures the horizon the others draw their change points over: it
        // runs first, and the jobs split the rest.
        let m = model.clone();
        let only_first = Arc::new(AtomicU64::new(1));
        let indexing = Indexing { horizon: horizon.clone(), ..Indexing::new(only_first, None) };
        let calibration = explore_indexed(strategy, move || m(), indexing);
        match horizon.get() {
            None => return merge(strategy, vec![calibration], start.elapsed(), None),
            // No step had two goroutines to choose from: one thread says so.
            Some(0) => return super::explore(strategy, move || model()),
            Some(_) => {}
        }
        first.push(calibration);
    }
    let progresses: Vec<Progress> = (0..jobs).map(|_| Progress::new()).collect();
    let done = std::sync::atomic::AtomicBool::new(false);
    let results: Vec<(Outcome, Vec<(u64, u64)>)> = std::thread::scope(|scope| {
        if let Some(total) = strategy.progress() {
            let (progresses, done) = (&progresses, &done);
            scope.spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    let sum = progresses.iter().map(Progress::executions).sum();
                    total.counters().executions.store(sum, Ordering::Relaxed);
                    let distinct = progresses.iter().map(Progress::distinct).sum();
                    total.counters().distinct.store(distinct, Ordering::Relaxed);
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            });
        }
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                // A random or PCT job runs a shard of the shard; DPOR's explorer keeps the shard
                // itself.
                let shard = if dpor { strategy.shard() } else { strategy.shard().split(j, jobs) };
                let job = strategy.clone().with_shard(shard).with_progress(progresses[j as usize].clone());
                let (model, stop_at, window, horizon) =
                    (model.clone(), stop_at.clone(), window.clone(), horizon.clone());
                // The main thread's stack size: explorations recurse as deep on a job as there.
                let builder = std::thread::Builder::new().name(format!("explore-job-{j}")).stack_size(8 << 20);
                builder
                    .spawn_scoped(scope, move || {
                        let indexing = Indexing { horizon, ..Indexing::new(stop_at.clone(), window) };
                        let (outcome, log) = explore_indexed(&job, move || model(), indexing);
                        if let Some(f) = &outcome.failure {
                            stop_at.fetch_min(f.execution - 1, Ordering::SeqCst);
                        }
                        (outcome, log)
                    })
                    .expect("a job thread starts")
            })
            .collect();
        let joined = handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        let results = first.into_iter().chain(joined).collect();
        done.store(true, Ordering::Relaxed);
        results
    });
    merge(strategy, results, start.elapsed(), window.as_deref())
}

/// One outcome from the jobs' outcomes and their logs of `(execution index, interleaving hash)`:
/// what one thread running every index in order would have returned.
fn merge(
    strategy: &Strategy,
    results: Vec<(Outcome, Vec<(u64, u64)>)>,
    elapsed: std::time::Duration,
    window: Option<&Window>,
) -> Outcome {
    let failing =
        results.iter().filter_map(|(o, _)| o.failure.as_ref().map(|f| (f.execution, o))).min_by_key(|(e, _)| *e);
    // With a failure at execution F (1-based), one thread ran executions 1..=F and counted the
    // interleavings of those before F, plus the failing one.
    let before = failing.map_or(u64::MAX, |(e, _)| e - 1);
    let seen: FxHashSet<u64> =
        results.iter().flat_map(|(_, log)| log.iter()).filter(|(i, _)| *i < before).map(|(_, h)| *h).collect();
    let mut recovered = Vec::new();
    for (o, _) in &results {
        for p in &o.recovered {
            if !recovered
                .iter()
                .any(|q: &crate::report::RecoveredPanic| q.message == p.message && q.location == p.location)
            {
                recovered.push(p.clone());
            }
        }
    }
    let executions = match failing {
        Some((e, _)) => e,
        None => results.iter().map(|(o, _)| o.executions).sum(),
    };
    let incomplete = results.iter().find_map(|(o, _)| o.incomplete.clone()).filter(|_| executions == 0);
    let distinct = seen.len() as u64 + u64::from(failing.is_some());
    let exhaustive =
        failing.is_none() && incomplete.is_none() && strategy.exhausts() && !strategy.limited(executions, elapsed);
    Outcome {
        strategy: strategy.clone(),
        executions,
        elapsed,
        exhaustive,
        first_ready_case_only: false,
        failure: failing.and_then(|(_, o)| o.failure.clone()),
        distinct: Some(distinct),
        bound: window.and_then(Window::bound),
        incomplete,
        recovered,
    }
}

/// The per-execution log of a job: `(index, hash)` of every execution that ended.
pub(crate) type Log = Arc<Mutex<Vec<(u64, u64)>>>;

impl Indexing {
    pub(crate) fn new(stop_at: Arc<AtomicU64>, window: Option<Arc<Window>>) -> Indexing {
        Indexing { current: Arc::default(), stop_at, log: Log::default(), window, horizon: Arc::default() }
    }
}
