//! The DPOR explorer's waves: up to [`WAVE`] branches taken from the tree at a time, run by any
//! number of workers, and merged back in the order they were taken (each as soon as those before
//! it are); the next wave is taken once all are merged.
//!
//! Which branches run and in which order their results are merged depends on the model alone, not
//! on how many workers there are or which finishes first: one job and many run the same executions,
//! number them alike and stop at the same first failure (the lowest-numbered failing execution;
//! those numbered after it in its wave are not counted).
//!
//! **Shards.** A shard of `n` explores the tree as the whole does until, at the end of a wave, at
//! least [`CUT_PER_SHARD`]` · n` branches wait; it takes them all then, keeps every `n`th (its own)
//! and counts the others explored, as the shards they belong to explore them. From there on each
//! shard explores what its own branches' races ask for, even where another shard asks the same:
//! together the shards cover every interleaving one run covers, and may run some twice.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::tree::{Branch, Explored, Tree};
use super::Branches;
use crate::explore::{Kind, Progress, Shard, Strategy};

/// DPOR branches taken at a time. Larger waves keep more workers busy between merges; a branch merged
/// later than it would be one at a time may add a branch another had already added.
pub const WAVE: usize = 16;

/// A shard takes its share once this many branches per shard wait.
pub(crate) const CUT_PER_SHARD: usize = 4;

/// How long a worker waiting for the wave's last executions spins before it sleeps: waking a
/// sleeping thread takes longer than an execution on this machine's VMs, and the wait is usually
/// for one execution, on another core.
const SPIN: Duration = Duration::from_micros(300);

/// The explorer's state shared by its workers.
pub(crate) struct Waves {
    state: Mutex<State>,
    turn: Condvar,
    /// Partial-order reduction on (see [`Explored::trim`]).
    reduction: bool,
    /// Counts the changes a waiting worker waits for (an execution ended or failed, a wave was
    /// taken, the exploration ended), so that it can watch for one without the lock.
    changes: AtomicU64,
}

struct State {
    rounds: std::vec::IntoIter<Option<usize>>,
    tree: Tree,
    /// The wave running: its branches, how many are taken, what each found, how many of those
    /// are merged into the tree (in order, as they come).
    wave: Vec<Branch>,
    taken: usize,
    results: Vec<Option<Explored>>,
    merged: usize,
    /// The lowest index in the wave whose execution failed.
    failed: Option<usize>,
    /// Executions taken before the wave.
    base: u64,
    cap: Option<u64>,
    deadline: Option<Instant>,
    shard: Shard,
    cut: bool,
    /// This shard's branches from the cut, in order.
    kept: VecDeque<Branch>,
    over: bool,
    progress: Option<Progress>,
}

impl Waves {
    /// The explorer for `strategy`'s rounds (one per preemption bound), its limits and its shard.
    pub(crate) fn new(strategy: &Strategy) -> Arc<Waves> {
        let mut rounds = strategy.rounds().into_iter();
        let first = rounds.next().expect("at least one round");
        let reduction = !matches!(strategy.kind(), Kind::Dpor { reduction: false, .. });
        let mut state = State {
            rounds,
            tree: Tree::new(first, reduction),
            wave: Vec::new(),
            taken: 0,
            results: Vec::new(),
            merged: 0,
            failed: None,
            base: 0,
            cap: strategy.max_executions(),
            deadline: strategy.max_duration().map(|d| Instant::now() + d),
            shard: strategy.shard(),
            cut: false,
            kept: VecDeque::new(),
            over: false,
            progress: strategy.progress().cloned(),
        };
        state.show_bound();
        state.over = !state.form();
        Arc::new(Waves { state: Mutex::new(state), turn: Condvar::new(), reduction, changes: AtomicU64::new(0) })
    }

    /// The preemption bound of the round running now (the last one, when over).
    pub(crate) fn bound(&self) -> Option<usize> {
        self.state.lock().tree.bound()
    }
}

impl Branches for Waves {
    /// The next branch to run, its execution's index (0-based, in the whole exploration) and the
    /// round's preemption bound; `None` when the exploration is over. Waits while the wave's last
    /// branches run elsewhere.
    fn next(&self) -> Option<(u64, Option<usize>, Branch)> {
        let mut st = self.state.lock();
        loop {
            if st.over {
                return None;
            }
            if st.taken < st.wave.len() && st.failed.is_none_or(|f| st.taken < f) {
                let i = st.taken;
                st.taken += 1;
                return Some((st.base + i as u64, st.tree.bound(), st.wave[i].clone()));
            }
            if st.complete() {
                if st.failed.is_some() || !st.next_wave() {
                    st.over = true;
                }
                self.changed();
                continue;
            }
            let seen = self.changes.load(Ordering::Relaxed);
            MutexGuard::unlocked(&mut st, || self.spin_while_unchanged(seen));
            // A change after the spin is made under the lock, which is held from here to the wait.
            if self.changes.load(Ordering::Relaxed) == seen {
                self.turn.wait(&mut st);
            }
        }
    }

    fn finish(&self, index: u64, mut explored: Explored) {
        if self.reduction {
            explored.trim();
        }
        let mut st = self.state.lock();
        let i = (index - st.base) as usize;
        st.results[i] = Some(explored);
        st.merge_ready();
        self.changed();
    }

    /// The exploration ends once the executions before it ran.
    fn fail(&self, index: u64) {
        let mut st = self.state.lock();
        let i = (index - st.base) as usize;
        st.failed = Some(st.failed.map_or(i, |f| f.min(i)));
        self.changed();
    }
}

impl Waves {
    /// Tells waiting workers that the state changed (called under the lock).
    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::Release);
        self.turn.notify_all();
    }

    /// Spins, without the lock, until the state changes from `seen` or [`SPIN`] passes.
    fn spin_while_unchanged(&self, seen: u64) {
        let start = Instant::now();
        while start.elapsed() < SPIN {
            for _ in 0..64 {
                if self.changes.load(Ordering::Acquire) != seen {
                    return;
                }
                std::hint::spin_loop();
            }
        }
    }
}

impl State {
    /// Every execution of the wave that counts has ended (and, without a failure, is merged).
    fn complete(&self) -> bool {
        match self.failed {
            Some(f) => self.merged >= f,
            None => self.merged == self.wave.len(),
        }
    }

    /// Merges the results that have come, in order, while the wave's other branches still run.
    fn merge_ready(&mut self) {
        while let Some(explored) = self.results.get_mut(self.merged).and_then(Option::take) {
            self.tree.merge(&self.wave[self.merged], explored);
            self.merged += 1;
        }
    }

    /// Takes the next wave once this one is merged; `false` when nothing is left.
    fn next_wave(&mut self) -> bool {
        self.base += self.wave.len() as u64;
        self.form()
    }

    /// Takes the next wave, starting the next round when this one is exhausted; `false` when the
    /// exploration is over (everything explored, or a limit reached).
    fn form(&mut self) -> bool {
        loop {
            let room = self.cap.map_or(WAVE as u64, |c| c.saturating_sub(self.base).min(WAVE as u64)) as usize;
            if room == 0 || self.deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            self.cut_if_due();
            let from_cut = self.kept.len().min(room);
            let mut wave: Vec<Branch> = self.kept.drain(..from_cut).collect();
            wave.extend(std::iter::from_fn(|| self.tree.take()).take(room - from_cut));
            if !wave.is_empty() {
                self.results = wave.iter().map(|_| None).collect();
                (self.wave, self.taken, self.merged) = (wave, 0, 0);
                return true;
            }
            let Some(bound) = self.rounds.next() else { return false };
            (self.tree, self.cut) = (self.tree.next_round(bound), false);
            self.show_bound();
        }
    }

    /// A shard takes its share of the waiting branches once there are enough (see the module
    /// documentation).
    fn cut_if_due(&mut self) {
        let Shard { k, n } = self.shard;
        if n == 1 || self.cut || self.tree.pending() < CUT_PER_SHARD * n as usize {
            return;
        }
        self.cut = true;
        let all: Vec<Branch> = std::iter::from_fn(|| self.tree.take()).collect();
        for (i, branch) in all.into_iter().enumerate() {
            if i as u64 % n == k {
                self.kept.push_back(branch);
            } else {
                self.tree.skip(&branch);
            }
        }
    }

    fn show_bound(&self) {
        if let Some(p) = &self.progress {
            p.counters().bound.store(self.tree.bound().map_or(0, |b| b as u64 + 1), Ordering::Relaxed);
        }
    }
}
