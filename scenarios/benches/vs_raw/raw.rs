//! Raw loom 0.7 and raw shuttle 0.9 models of the two races of TiDB issue #57450, written as a user of
//! those crates would write them without joinrace: the baseline of `research/raw-baselines.md`. Only
//! `loom`, `shuttle` and `std` are used. Each model is written once (`models!`) and expanded over
//! loom's and over shuttle's primitives, the way crates with a loom/shuttle facade do it.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

use shuttle::scheduler::{PctScheduler, RandomScheduler};
use shuttle::{Config, FailurePersistence, Runner};

/// What one raw exploration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRun {
    /// Executions run, including the failing one.
    pub executions: u64,
    /// 1-based index of the execution in which loom detected the race, if it did.
    pub found_at: Option<u64>,
    /// loom finished every schedule within the bound without a failure.
    pub exhaustive: bool,
    /// Wall time of the whole exploration.
    pub elapsed: Duration,
    /// Executions that completed the racy code path (race 1: every one; race 2: those that spilled).
    pub racy_path: u64,
}

/// Which variant of a race model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The code as in the issue report.
    Buggy,
    /// The code after the fix (race 1: PR #57451, race 2: PR #57519).
    Fixed,
}

/// Explores race 1 (used flag versus key length) with loom; `None` leaves the bound or count unlimited.
pub fn loom_race1(v: Variant, preemption_bound: Option<usize>, max_executions: Option<u64>) -> RawRun {
    explore_loom(on_loom::race1, v, preemption_bound, max_executions)
}

/// Explores race 2 (builder publication versus spill) with loom; `None` leaves the bound or count unlimited.
pub fn loom_race2(v: Variant, preemption_bound: Option<usize>, max_executions: Option<u64>) -> RawRun {
    explore_loom(on_loom::race2, v, preemption_bound, max_executions)
}

/// Runs race 1 under shuttle for `iterations` executions: PCT of `pct_depth`, or random when `None`.
///
/// shuttle has no race detector: `found_at` is always `None`, the run only counts executions.
/// `SHUTTLE_RANDOM_SEED`, when set, overrides `seed`.
pub fn shuttle_race1(v: Variant, pct_depth: Option<usize>, seed: u64, iterations: u64) -> RawRun {
    explore_shuttle(on_shuttle::race1, v, pct_depth, seed, iterations)
}

/// Runs race 2 under shuttle for `iterations` executions: PCT of `pct_depth`, or random when `None`.
///
/// shuttle has no race detector: `found_at` is always `None`, and `racy_path` counts the executions
/// that spilled. `SHUTTLE_RANDOM_SEED`, when set, overrides `seed`.
pub fn shuttle_race2(v: Variant, pct_depth: Option<usize>, seed: u64, iterations: u64) -> RawRun {
    explore_shuttle(on_shuttle::race2, v, pct_depth, seed, iterations)
}

/// A model: runs one execution, and returns whether it went down the racy code path.
type Model = fn(Variant) -> bool;

/// The panic payload that ends a loom exploration once its execution budget is spent.
struct BudgetSpent;

/// Counts of one exploration, in std atomics that neither checker sees.
#[derive(Default)]
struct Counters {
    executions: AtomicU64,
    racy_path: AtomicU64,
}

impl Counters {
    /// Runs and counts one execution; execution `budget + 1` panics with [`BudgetSpent`] instead.
    fn execute(&self, model: Model, v: Variant, budget: u64) {
        if self.executions.fetch_add(1, Relaxed) == budget {
            panic::panic_any(BudgetSpent);
        }
        if model(v) {
            self.racy_path.fetch_add(1, Relaxed);
        }
    }

    fn run(&self, budget: u64, elapsed: Duration, found: bool, exhaustive: bool) -> RawRun {
        let executions = self.executions.load(Relaxed).min(budget);
        let found_at = found.then_some(executions);
        RawRun { executions, found_at, exhaustive, elapsed, racy_path: self.racy_path.load(Relaxed) }
    }
}

fn explore_loom(model: Model, v: Variant, bound: Option<usize>, max: Option<u64>) -> RawRun {
    // loom would panic inside `check`, where the panic would read as a race.
    assert!(bound.is_none_or(|b| b <= 255), "loom's preemption bound is at most 255");
    // `Builder::new` reads the LOOM_* variables: set every field that matters.
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = bound;
    builder.max_branches = 10_000;
    builder.max_duration = None;
    builder.checkpoint_file = None;
    builder.location = false;
    builder.log = false;
    // loom tests `max_permutations` only every `checkpoint_interval` executions, and then stops one
    // short of it: the model ends the run itself, after exactly `max` executions.
    builder.max_permutations = None;
    let budget = max.unwrap_or(u64::MAX);
    let counters = StdArc::new(Counters::default());
    let shared = counters.clone();
    // loom reports a race by panicking: keep the message off stderr while it runs.
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| builder.check(move || shared.execute(model, v, budget))));
    let elapsed = start.elapsed();
    panic::set_hook(previous_hook);
    match outcome {
        Ok(()) => counters.run(budget, elapsed, false, true),
        Err(payload) if payload.is::<BudgetSpent>() => counters.run(budget, elapsed, false, false),
        Err(_) => counters.run(budget, elapsed, true, false),
    }
}

fn explore_shuttle(model: Model, v: Variant, depth: Option<usize>, seed: u64, iterations: u64) -> RawRun {
    let mut config = Config::default();
    config.failure_persistence = FailurePersistence::None;
    let n = usize::try_from(iterations).expect("the iteration count fits in usize");
    let counters = StdArc::new(Counters::default());
    let shared = counters.clone();
    let execution = move || shared.execute(model, v, u64::MAX);
    let start = Instant::now();
    match depth {
        Some(depth) => Runner::new(PctScheduler::new_from_seed(seed, depth, n), config).run(execution),
        None => Runner::new(RandomScheduler::new_from_seed(seed, n), config).run(execution),
    };
    counters.run(u64::MAX, start.elapsed(), false, false)
}

/// Both races, over the primitives the invoking module imports: `Arc`, `thread`, `Mutex`, `Condvar`,
/// `AtomicU8`, `AtomicUsize`, `AtomicBool`, `SeqCst`, plus `Slot` (a plain field) and `plain_load`.
macro_rules! models {
    () => {
        /// The used flag: the top bit of the first null-map byte, at row+8.
        const USED_FLAG_AT: usize = 8;
        const USED_FLAG_MASK: u8 = 1 << 7;
        const KEY_LEN: u32 = 3;

        /// Race 1: two probe workers match the same build row of an outer join building the outer side.
        /// Each reads the row's key length, then sets its used flag, one byte access at a time.
        pub(super) fn race1(v: Variant) -> bool {
            // With one null-map byte the key length sat at row+9, inside the flag's word; #57451 pads
            // the null map to 4 bytes.
            let key_len_at = match v {
                Variant::Buggy => USED_FLAG_AT + 1,
                Variant::Fixed => USED_FLAG_AT + 4,
            };
            let mut bytes = [0u8; 16];
            bytes[key_len_at..key_len_at + 4].copy_from_slice(&KEY_LEN.to_le_bytes());
            let row: Arc<[AtomicU8; 16]> = Arc::new(std::array::from_fn(|i| AtomicU8::new(bytes[i])));
            // probeForOuterSideBuild on a key match.
            let probe = move |row: &[AtomicU8; 16]| {
                // isKeyMatched → getSerializedKeyLength: a plain 4-byte load.
                let key_len = std::array::from_fn(|i| plain_load(&row[key_len_at + i]));
                assert_eq!(u32::from_le_bytes(key_len), KEY_LEN);
                // setUsedFlag: atomic.LoadUint32, OR in the mask, atomic.StoreUint32.
                let word: [u8; 4] = std::array::from_fn(|i| row[USED_FLAG_AT + i].load(SeqCst));
                for (i, old) in word.into_iter().enumerate() {
                    row[USED_FLAG_AT + i].store(if i == 0 { old | USED_FLAG_MASK } else { old }, SeqCst);
                }
            };
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let row = row.clone();
                    thread::spawn(move || probe(&row))
                })
                .collect();
            workers.into_iter().for_each(|w| w.join().unwrap());
            // scanRowTableAfterProbeDone, ordered after the probes by the joins.
            assert_ne!(plain_load(&row[USED_FLAG_AT]) & USED_FLAG_MASK, 0);
            true
        }

        /// A capacity-1 channel, as a loom user writes one: the buffered value and whether it is closed.
        struct Chan {
            state: Mutex<(Option<u32>, bool)>,
            changed: Condvar,
        }

        impl Chan {
            fn send(&self, token: u32) {
                let mut state = self.state.lock().unwrap();
                while state.0.is_some() {
                    state = self.changed.wait(state).unwrap();
                }
                state.0 = Some(token);
                self.changed.notify_all();
            }

            fn close(&self) {
                self.state.lock().unwrap().1 = true;
                self.changed.notify_all();
            }

            fn recv(&self) -> Option<u32> {
                let mut state = self.state.lock().unwrap();
                loop {
                    if let Some(token) = state.0.take() {
                        self.changed.notify_all();
                        return Some(token);
                    }
                    if state.1 {
                        return None;
                    }
                    state = self.changed.wait(state).unwrap();
                }
            }
        }

        /// Go's `sync.WaitGroup`.
        struct WaitGroup {
            count: Mutex<usize>,
            zero: Condvar,
        }

        impl WaitGroup {
            fn new(count: usize) -> Self {
                WaitGroup { count: Mutex::new(count), zero: Condvar::new() }
            }

            fn add(&self) {
                *self.count.lock().unwrap() += 1;
            }

            fn done(&self) {
                let mut count = self.count.lock().unwrap();
                *count -= 1;
                if *count == 0 {
                    self.zero.notify_all();
                }
            }

            fn wait(&self) {
                let mut count = self.count.lock().unwrap();
                while *count > 0 {
                    count = self.zero.wait(count).unwrap();
                }
            }
        }

        const WORKERS: usize = 2;
        const CHUNKS: u32 = 2;
        /// Chunks appended before the memory tracker asks for a spill.
        const QUOTA: usize = 1;

        /// What the controller, the split workers and the spill goroutines of a restore round share.
        struct Round {
            chunks: Chan,
            /// `fetcherAndWorkerSyncer`: one count per chunk handed out and not yet appended.
            syncer: WaitGroup,
            /// `waitForController`: workers finalize their row tables once the controller is done.
            wait_for_controller: WaitGroup,
            /// `BuildWorkers[i].builder`, as the number of chunks appended.
            builders: [Slot; WORKERS],
            memory: AtomicUsize,
            need_spill: AtomicBool,
        }

        /// Race 2: a restore round. Main is the controller (`controlWorkersForRestore`), each split worker
        /// creates its builder first thing, and a spill reads every worker's builder. Returns whether it
        /// spilled.
        pub(super) fn race2(v: Variant) -> bool {
            let round = Arc::new(Round {
                chunks: Chan { state: Mutex::new((None, false)), changed: Condvar::new() },
                syncer: WaitGroup::new(0),
                wait_for_controller: WaitGroup::new(1),
                builders: Default::default(),
                memory: AtomicUsize::new(0),
                need_spill: AtomicBool::new(false),
            });
            if let Variant::Fixed = v {
                // #57519: create the builders before starting the workers.
                round.builders.iter().for_each(|b| b.set(0));
            }
            let workers: Vec<_> = (0..WORKERS)
                .map(|w| {
                    let round = round.clone();
                    // splitPartitionAndAppendToRowTableForRestore
                    thread::spawn(move || {
                        let builder = &round.builders[w];
                        if let Variant::Buggy = v {
                            builder.set(0); // b.builder = createRowTableBuilder(...)
                        }
                        while round.chunks.recv().is_some() {
                            builder.set(builder.get() + 1);
                            // The memory action runs on the goroutine that crosses the quota.
                            if round.memory.fetch_add(1, SeqCst) + 1 == QUOTA {
                                round.need_spill.store(true, SeqCst);
                            }
                            round.syncer.done();
                        }
                        round.wait_for_controller.wait();
                        builder.set(builder.get() + 1); // finalize the open segments
                    })
                })
                .collect();
            let mut spilled = false;
            for chunk in 0..CHUNKS {
                // checkAndSpillRowTableIfNeeded: wait for the workers, then spill from one goroutine each.
                if round.need_spill.swap(false, SeqCst) {
                    round.syncer.wait();
                    let spills: Vec<_> = (0..WORKERS)
                        .map(|w| {
                            let round = round.clone();
                            thread::spawn(move || round.builders[w].get())
                        })
                        .collect();
                    for spill in spills {
                        spill.join().unwrap();
                    }
                    spilled = true;
                }
                round.syncer.add();
                round.chunks.send(chunk);
            }
            round.chunks.close();
            round.syncer.wait();
            round.wait_for_controller.done();
            workers.into_iter().for_each(|w| w.join().unwrap());
            spilled
        }
    };
}

/// The loom expansion: loom checks the plain accesses (`UnsafeCell`, `unsync_load`) for races.
mod on_loom {
    use super::Variant;
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::SeqCst};
    use loom::sync::{Arc, Condvar, Mutex};
    use loom::thread;

    /// A plain field, checked by loom's vector clocks.
    #[derive(Default)]
    struct Slot(UnsafeCell<u32>);

    // SAFETY: loom runs one thread at a time, and panics on an access unordered with another.
    unsafe impl Sync for Slot {}

    impl Slot {
        fn get(&self) -> u32 {
            // SAFETY: as for `Sync`.
            self.0.with(|p| unsafe { *p })
        }

        fn set(&self, value: u32) {
            // SAFETY: as for `Sync`.
            self.0.with_mut(|p| unsafe { *p = value });
        }
    }

    /// A plain byte load, which loom checks against the atomic stores to the same byte.
    fn plain_load(byte: &AtomicU8) -> u8 {
        // SAFETY: loom runs one thread at a time, and panics on a load unordered with a store.
        unsafe { byte.unsync_load() }
    }

    models!();
}

/// The shuttle expansion: shuttle neither schedules around plain accesses nor checks them.
mod on_shuttle {
    use super::Variant;
    use shuttle::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::SeqCst};
    use shuttle::sync::{Condvar, Mutex};
    use shuttle::thread;
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    use std::sync::Arc;

    /// A plain field: a std atomic keeps it sound, and shuttle does not see it.
    #[derive(Default)]
    struct Slot(AtomicU32);

    impl Slot {
        fn get(&self) -> u32 {
            self.0.load(Relaxed)
        }

        fn set(&self, value: u32) {
            self.0.store(value, Relaxed);
        }
    }

    /// A plain byte load: no scheduling point, no check.
    fn plain_load(byte: &AtomicU8) -> u8 {
        // SAFETY: shuttle runs one task at a time, and the interleavings this load misses are the point.
        unsafe { byte.raw_load() }
    }

    models!();
}
