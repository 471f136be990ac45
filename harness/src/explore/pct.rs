//! PCT (probabilistic concurrency testing; Burckhardt et al., ASPLOS 2010) seeded per execution,
//! so that it splits over jobs and shards exactly, as random exploration does (`split.rs`).
//!
//! The algorithm is shuttle's (after Coyote's): the runnable goroutine of highest priority runs;
//! priorities are random, and at `depth - 1` random change points the running goroutine drops
//! below every other (a yielding one too). Steps with a single runnable goroutine are not counted.
//!
//! shuttle's scheduler draws every execution from one generator, and its change points over the
//! longest execution seen so far: execution 7 cannot run without executions 1 to 6. Here execution
//! 0 runs the oldest goroutine first (as shuttle's first does) and measures the *horizon*, its
//! number of counted steps; every later execution draws its priorities and change points from a
//! generator seeded by the exploration's seed and its own index, over that horizon. So any subset
//! of the indices runs as it runs within the whole. Where it differs from shuttle: an execution
//! longer than the first gets no change point past the horizon; a goroutine's priority is drawn
//! when it is first runnable (shuttle swaps it with a random earlier one's); `select` draws from
//! the execution's generator.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use rand::seq::index::sample;
use rand::{Rng, RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;
use shuttle::scheduler::{Schedule as ShuttleSchedule, Scheduler, Task, TaskId};
use smallvec::SmallVec;

use super::split::{execution_seed, Shard};

/// Priorities drawn at random lie below this; a goroutine that drops gets the next value above.
const DROPPED: u64 = 1 << 62;

/// The executions of a shard of a PCT exploration.
pub(crate) struct SplitPct {
    seed: u64,
    depth: usize,
    /// The shard's next index, and where the exploration ends.
    next: u64,
    end: u64,
    stride: u64,
    /// Execution 0's counted steps: measured here by running it first, or given (jobs share one
    /// measurement, and then none of them runs execution 0).
    horizon: Arc<OnceLock<usize>>,
    /// Execution 0 is to run first, to measure the horizon (and is counted).
    calibrate: bool,
    /// Executions from this index on are not started (another job failed before them).
    stop_at: Arc<AtomicU64>,
    /// The index of the execution running now, for the outcome and the per-execution log.
    current: Arc<AtomicU64>,
    run: Option<Run>,
}

/// One execution's priorities and change points.
struct Run {
    index: u64,
    rng: Pcg64Mcg,
    /// By task id; lower runs first.
    priorities: Vec<u64>,
    /// The priority the next goroutine to drop gets.
    dropped: u64,
    change_points: SmallVec<[usize; 8]>,
    /// Steps with two runnable goroutines or more so far.
    steps: usize,
}

impl SplitPct {
    /// The executions of `shard` of the PCT exploration seeded `seed`, of depth `depth`, ending
    /// before index `end`; `horizon` is execution 0's length once measured (shared by the jobs of
    /// one exploration).
    pub(crate) fn new(
        (seed, depth, end): (u64, usize, u64),
        shard: Shard,
        horizon: Arc<OnceLock<usize>>,
        stop_at: Arc<AtomicU64>,
        current: Arc<AtomicU64>,
    ) -> SplitPct {
        assert!(depth > 0, "PCT's depth is at least 1");
        // Execution 0 measures the horizon: whoever does not know it runs execution 0 first,
        // whether the shard owns it or not; it is never run twice in one shard.
        let next = if shard.k == 0 { shard.n } else { shard.k };
        let calibrate = horizon.get().is_none();
        SplitPct { seed, depth, next, end, stride: shard.n, horizon, calibrate, stop_at, current, run: None }
    }

    /// The next index this shard runs, if any.
    fn take_index(&mut self) -> Option<u64> {
        if std::mem::take(&mut self.calibrate) && self.end > 0 && self.stop_at.load(Ordering::SeqCst) > 0 {
            return Some(0);
        }
        let i = self.next;
        if i >= self.end || i >= self.stop_at.load(Ordering::SeqCst) {
            return None;
        }
        self.next += self.stride;
        Some(i)
    }
}

impl Run {
    /// Execution 0: the oldest goroutine first, no change point.
    fn oldest_first() -> Run {
        Run {
            index: 0,
            rng: Pcg64Mcg::seed_from_u64(0),
            priorities: Vec::new(),
            dropped: DROPPED,
            change_points: SmallVec::new(),
            steps: 0,
        }
    }

    /// Execution `index` (not 0) of the exploration seeded `seed`.
    fn drawn(seed: u64, index: u64, depth: usize, horizon: usize) -> Run {
        // As shuttle's PCT, which asserts it after its first execution.
        assert!(horizon > 0, "test closure did not exercise any concurrency");
        let mut rng = Pcg64Mcg::seed_from_u64(execution_seed(seed, index));
        // Change points in 1..horizon, distinct (step 0 has no goroutine to drop).
        let points = (depth - 1).min(horizon - 1);
        let change_points = sample(&mut rng, horizon - 1, points).iter().map(|v| v + 1).collect();
        Run { index, rng, priorities: Vec::new(), dropped: DROPPED, change_points, steps: 0 }
    }

    /// The priority of `task`, drawn when first seen (by task id in execution 0).
    fn priority(&mut self, task: usize) -> u64 {
        while self.priorities.len() <= task {
            let p = match self.index {
                0 => self.priorities.len() as u64,
                _ => self.rng.gen_range(0..DROPPED),
            };
            self.priorities.push(p);
        }
        self.priorities[task]
    }
}

impl Scheduler for SplitPct {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        if let Some(run) = self.run.take() {
            if run.index == 0 {
                let _ = self.horizon.set(run.steps);
            }
        }
        let i = self.take_index()?;
        self.current.store(i, Ordering::SeqCst);
        let run = match i {
            0 => Run::oldest_first(),
            _ => Run::drawn(self.seed, i, self.depth, *self.horizon.get().expect("execution 0 ran first")),
        };
        self.run = Some(run);
        Some(ShuttleSchedule::new(execution_seed(self.seed, i)))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        let run = self.run.as_mut().expect("an execution is running");
        if runnable.len() > 1 {
            if run.change_points.contains(&run.steps) || is_yielding {
                if let Some(c) = current.map(usize::from) {
                    run.priority(c);
                    run.priorities[c] = run.dropped;
                    run.dropped += 1;
                }
            }
            run.steps += 1;
        }
        runnable.iter().map(|t| t.id()).min_by_key(|&t| (run.priority(usize::from(t)), usize::from(t)))
    }

    fn next_u64(&mut self) -> u64 {
        self.run.as_mut().expect("an execution is running").rng.next_u64()
    }
}
