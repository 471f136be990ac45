//! The DPOR explorer's window: the branches taken from the tree and not yet merged back, at most
//! [`WINDOW`] of them, run by any number of workers and merged in the order taken (each as soon as
//! those before it are). After each merge the window is topped up from the tree, so a branch is
//! always taken just after the same merge: the one [`WINDOW`] executions before it, or the first
//! after which the tree had a branch to give.
//!
//! Which branches run and in which order their results are merged depends on the model alone, not
//! on how many workers there are or which finishes first: one job and many run the same executions,
//! number them alike and stop at the same first failure (the lowest-numbered failing execution;
//! those numbered after it are not counted). No worker waits for others to finish a batch: it
//! waits only when the window's oldest execution is still running while every later one is
//! handed out, or when the tree has nothing to give until a merge.
//!
//! **Shards.** A shard of `n` explores the tree as the whole does until, after a merge, [`CUT`]
//! branches wait. It lets the window empty and cuts: it takes every waiting branch and deals them
//! round the shards, going on from where the last cut stopped; it keeps its own and counts the
//! others explored, as the shards they go to explore them. The shallowest, which likely holds the
//! most, is not dealt: every shard explores it next, alike, and cuts again once [`CUT`] of its
//! branches wait. Only when nothing shared is left does a shard run the branches it kept, and from
//! there on it explores what their races ask for, even where another shard asks the same. Until
//! then every shard has merged the same executions, so every cut deals the same branches, each
//! with the same sleep set in every shard. Together the shards cover every interleaving one run
//! covers, and may run some twice.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::tree::{Branch, Explored, Tree};
use super::Branches;
use crate::explore::{Kind, Progress, Shard, Strategy};

/// DPOR branches taken and not yet merged, at most. A branch is taken this many executions after
/// the one whose merge it follows; merged later, an execution's races may add a branch that
/// another's, merged earlier, would have shown covered.
pub const WINDOW: usize = 8;

/// A shard cuts once this many branches wait, whatever the number of shards: with 8 per shard, 5
/// shards of `semi-left-build-used-flag` never cut, and each ran the whole (2026-12-06).
pub(crate) const CUT: usize = 8;

/// How long a worker waiting for a branch spins before it sleeps: waking a sleeping thread takes
/// longer than an execution on this machine's VMs, and the wait is usually for one execution, on
/// another core.
const SPIN: Duration = Duration::from_micros(300);

/// The explorer's state shared by its workers.
pub(crate) struct Window {
    state: Mutex<State>,
    turn: Condvar,
    /// Partial-order reduction on (see [`Explored::trim`]).
    reduction: bool,
    /// Counts the changes a waiting worker waits for (an execution ended or failed, a branch was
    /// taken, the exploration ended), so that it can watch for one without the lock.
    changes: AtomicU64,
}

/// A branch in the window, and what its execution found once it ended.
struct Slot {
    branch: Branch,
    found: Option<Explored>,
}

struct State {
    rounds: std::vec::IntoIter<Option<usize>>,
    tree: Tree,
    /// The branches taken and not merged, in order: the first is execution `base`'s.
    window: VecDeque<Slot>,
    /// Branches of the window handed to a worker (the first ones).
    handed: usize,
    base: u64,
    /// The lowest index whose execution failed.
    failed: Option<u64>,
    cap: Option<u64>,
    deadline: Option<Instant>,
    shard: Shard,
    /// Branches dealt at this round's cuts so far: the next goes to shard `dealt % n`.
    dealt: u64,
    /// Every shard explores the same branches (until nothing shared is left).
    sharing: bool,
    /// The branch every shard explores next, kept back from the last cut.
    shared: Option<Branch>,
    /// This shard's branches from the cuts, in order.
    kept: VecDeque<Branch>,
    over: bool,
    progress: Option<Progress>,
}

impl Window {
    /// The explorer for `strategy`'s rounds (one per preemption bound), its limits and its shard.
    pub(crate) fn new(strategy: &Strategy) -> Arc<Window> {
        let mut rounds = strategy.rounds().into_iter();
        let first = rounds.next().expect("at least one round");
        let reduction = !matches!(strategy.kind(), Kind::Dpor { reduction: false, .. });
        let mut state = State {
            rounds,
            tree: Tree::new(first, reduction),
            window: VecDeque::new(),
            handed: 0,
            base: 0,
            failed: None,
            cap: strategy.max_executions(),
            deadline: strategy.max_duration().map(|d| Instant::now() + d),
            shard: strategy.shard(),
            dealt: 0,
            sharing: true,
            shared: None,
            kept: VecDeque::new(),
            over: false,
            progress: strategy.progress().cloned(),
        };
        state.show_bound();
        state.fill();
        Arc::new(Window { state: Mutex::new(state), turn: Condvar::new(), reduction, changes: AtomicU64::new(0) })
    }

    /// The preemption bound of the round running now (the last one, when over).
    pub(crate) fn bound(&self) -> Option<usize> {
        self.state.lock().tree.bound()
    }
}

impl Branches for Window {
    /// The next branch to run, its execution's index (0-based, in the whole exploration) and the
    /// round's preemption bound; `None` when the exploration is over. Waits while the window's
    /// branches are all handed out and the tree has nothing to give until one is merged.
    fn next(&self) -> Option<(u64, Option<usize>, Branch)> {
        let mut st = self.state.lock();
        loop {
            if st.over {
                return None;
            }
            let (i, index) = (st.handed, st.base + st.handed as u64);
            if i < st.window.len() && st.failed.is_none_or(|f| index < f) {
                st.handed += 1;
                return Some((index, st.tree.bound(), st.window[i].branch.clone()));
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
        if st.over {
            return;
        }
        let i = (index - st.base) as usize;
        st.window[i].found = Some(explored);
        st.merge_ready();
        self.changed();
    }

    /// The exploration ends once the executions before it ran.
    fn fail(&self, index: u64) {
        let mut st = self.state.lock();
        st.failed = Some(st.failed.map_or(index, |f| f.min(index)));
        st.merge_ready();
        self.changed();
    }
}

impl Window {
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
    /// Merges the results that have come, in order, each followed by topping the window up;
    /// after a failure, those before it, then the exploration is over.
    fn merge_ready(&mut self) {
        loop {
            if let Some(f) = self.failed.filter(|&f| self.base >= f) {
                debug_assert_eq!(self.base, f);
                self.over = true;
                return;
            }
            let Some(explored) = self.window.front_mut().and_then(|s| s.found.take()) else { return };
            let slot = self.window.pop_front().expect("a merged slot");
            self.tree.merge(&slot.branch, explored);
            (self.base, self.handed) = (self.base + 1, self.handed - 1);
            if self.failed.is_none() {
                self.fill();
            }
        }
    }

    /// Tops the window up to [`WINDOW`] branches, starting the next round when this one is
    /// exhausted (nothing running, nothing to take); sets `over` when the exploration is (everything
    /// explored, or a limit reached).
    fn fill(&mut self) {
        loop {
            let limit = self.cap.map_or(u64::MAX, |c| c.saturating_sub(self.base));
            let timed_out = self.deadline.is_some_and(|d| Instant::now() >= d);
            let room = if timed_out { 0 } else { (WINDOW as u64).min(limit) as usize };
            if self.cut_due() {
                if !self.window.is_empty() {
                    return;
                }
                self.take_cut();
            }
            while self.window.len() < room {
                let next = self.shared.take().or_else(|| self.tree.take());
                let owned = || if self.sharing { None } else { self.kept.pop_front() };
                let Some(branch) = next.or_else(owned) else { break };
                self.window.push_back(Slot { branch, found: None });
            }
            if !self.window.is_empty() {
                return;
            }
            if std::mem::take(&mut self.sharing) && !self.kept.is_empty() {
                continue;
            }
            let next = if room == 0 { None } else { self.rounds.next() };
            let Some(bound) = next else {
                self.over = true;
                return;
            };
            self.tree = self.tree.next_round(bound);
            (self.dealt, self.sharing) = (0, true);
            self.show_bound();
        }
    }

    /// Whether a shard's cut is due (see the module documentation).
    fn cut_due(&self) -> bool {
        let Shard { n, .. } = self.shard;
        n > 1 && self.sharing && self.tree.pending() >= CUT
    }

    /// Takes every waiting branch and deals them round the shards: keeps this shard's, counts the
    /// others explored, and keeps the shallowest back for every shard to explore next.
    fn take_cut(&mut self) {
        let Shard { k, n } = self.shard;
        let mut all: Vec<Branch> = std::iter::from_fn(|| self.tree.take()).collect();
        self.shared = all.pop();
        for branch in all {
            if self.dealt % n == k {
                self.kept.push_back(branch);
            } else {
                self.tree.skip(&branch);
            }
            self.dealt += 1;
        }
    }

    fn show_bound(&self) {
        if let Some(p) = &self.progress {
            p.counters().bound.store(self.tree.bound().map_or(0, |b| b as u64 + 1), Ordering::Relaxed);
        }
    }
}
