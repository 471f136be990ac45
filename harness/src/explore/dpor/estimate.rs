//! The size of a model's unbounded DPOR search before running it: Knuth's estimator ("Estimating
//! the efficiency of backtrack programs", 1975) walked down the explorer's own tree.
//!
//! A probe runs the explorer's first execution and merges its races into a tree of its own, then
//! walks down the path from the top. At each decision it takes one of the decision's branches (the
//! one taken and those the races asked for so far) uniformly at random: the branch taken, it goes
//! on down the same path; another, it runs that branch, with the branches before it asleep as the
//! explorer would have them, merges its races and goes on down the new path. The probe's weight
//! is the product, over the decisions of its final path, of their branches as its tree has them at
//! the end (those that later executions of the probe asked for included).
//!
//! The explorer adds to a decision the branches that executions anywhere below it ask for, and a
//! probe runs only a few of those executions. So probes share what they find: a decision reached
//! by the same decisions from the top is the same decision at the same state (the model is
//! deterministic), and the branches earlier probes found there are offered to it (`Tree::offer`)
//! before the probe draws. A probe alone missed branches that executions in other subtrees ask for
//! and fell under the interleavings on small spaces; sharing, the estimate tracks the executions
//! on every small model `harness/tests/dpor.rs` checks (within 15%).
//!
//! Later probes still know more than earlier ones. So once all have run, each probe's product is
//! taken with every decision on its path counted with the most branches any probe found there:
//! the branches it could not draw count as subtrees like those it could. With 300 probes this
//! brought the estimate on the race 2 slice from 2,564 to 3,669 (3,399 executions;
//! `scenarios/tests/estimate.rs` checks the interval over four seeds), on the race 1 slice from
//! 84,701 to 121,295 (239,396): there decisions deep down are reached by few probes. A large space
//! is worth more probes, so [`Probing`] can go on while the probes cost under a share of the
//! estimate: 1,600 probes and 235,248 on the race 1 slice with `Probing::DEFAULT` (5%). The
//! samples are not independent, and Knuth's estimator is heavy-tailed: the 95% interval (normal
//! approximation) is a guide, not a guarantee.

use parking_lot::Mutex;
use smallvec::SmallVec;

use super::tree::{Branch, Explored, Tree};
use super::Branches;
use crate::explore::split::execution_seed;

/// An estimate with its 95% interval (normal approximation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The mean over the probes.
    pub mean: f64,
    /// Half the width of the 95% interval: 1.96 standard errors.
    pub half_width: f64,
}

impl Interval {
    fn of(samples: &[f64]) -> Interval {
        if samples.is_empty() {
            return Interval { mean: 0.0, half_width: 0.0 };
        }
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        Interval { mean, half_width: 1.96 * (var / n).sqrt() }
    }

    /// Whether `x` lies in the interval.
    pub fn contains(&self, x: f64) -> bool {
        (self.mean - self.half_width..=self.mean + self.half_width).contains(&x)
    }
}

/// How many probes a size estimate runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Probing {
    /// Probes run whatever they cost.
    pub min: u64,
    /// Probes run at most.
    pub max: u64,
    /// Past `min`, probing goes on (checked every [`Probing::STEP`] probes) while the probes'
    /// executions are under this share of the estimate: a large space is worth more probes, whose
    /// estimate its exploration then pays a small part of.
    pub share: f64,
}

impl Probing {
    /// Probes between two checks of the share.
    pub const STEP: u64 = 100;

    /// 300 probes, then more while they cost under 5% of the estimate, up to 3,000: on the catalog's
    /// small spaces 300, a fraction of a second.
    pub const DEFAULT: Probing = Probing { min: 300, max: 3000, share: 0.05 };

    /// Exactly `n` probes.
    pub const fn exactly(n: u64) -> Probing {
        Probing { min: n, max: n, share: 0.0 }
    }

    /// For one of `n` shards: each shard explores about `1/n` of the space but estimates the whole,
    /// so its probes may cost `share` of its part, not of the whole.
    pub fn per_shard(self, n: u64) -> Probing {
        Probing { share: self.share / n.max(1) as f64, ..self }
    }
}

/// How large a model's unbounded DPOR search is, estimated from random probes.
#[derive(Clone, Debug, PartialEq)]
pub struct SpaceEstimate {
    /// Probes completed.
    pub probes: u64,
    /// The explorer's executions, estimated (see `explore/dpor/estimate.rs` for what the estimate
    /// tracks).
    pub executions: Interval,
    /// Executions the probes ran.
    pub cost: u64,
    /// The probe execution that failed (a data race, a panic, a deadlock), if one did: the
    /// estimate covers the probes before it.
    pub stopped: Option<String>,
}

/// The probes' walks, handing branches to one worker.
pub(crate) struct Probes {
    state: Mutex<Walk>,
}

struct Walk {
    seed: u64,
    probing: Probing,
    /// The walking probe's draws so far (the probe is the `paths.len()`th, 0-based).
    draws: u64,
    tree: Tree,
    /// The points of the current path, by depth.
    path: Vec<u64>,
    /// The depth the walk has reached.
    cursor: usize,
    /// The branch to run next, and the one running.
    next: Option<Branch>,
    running: Option<Branch>,
    /// Per probe completed, the decisions of its final path: each one's key (`Tree::key`) and its
    /// branches as the probe's tree had them at the end.
    paths: Vec<Vec<(u64, usize)>>,
    executions: u64,
    over: bool,
    /// The branches earlier probes found at each scheduling decision with more than one, by its
    /// key (`Tree::key`).
    learned: rustc_hash::FxHashMap<u64, SmallVec<[u64; 4]>>,
}

impl Probes {
    pub(crate) fn new(seed: u64, probing: Probing) -> Probes {
        let mut tree = Tree::kept();
        let next = tree.take().filter(|_| probing.max > 0);
        let walk = Walk {
            seed,
            probing,
            draws: 0,
            tree,
            path: Vec::new(),
            cursor: 0,
            over: next.is_none(),
            next,
            running: None,
            paths: Vec::new(),
            executions: 0,
            learned: Default::default(),
        };
        Probes { state: Mutex::new(walk) }
    }

    /// The estimate from the probes completed (`stopped`: why they stopped short).
    pub(crate) fn estimate(&self, stopped: Option<String>) -> SpaceEstimate {
        let w = self.state.lock();
        SpaceEstimate { probes: w.paths.len() as u64, executions: w.interval(), cost: w.executions, stopped }
    }
}

impl Walk {
    /// The estimate from the probes completed: each probe's product of branches along its path,
    /// each decision counted with the most branches any probe found there (see the module
    /// documentation).
    fn interval(&self) -> Interval {
        let found = |key: u64| self.learned.get(&key).map_or(0, SmallVec::len);
        let product = |path: &Vec<(u64, usize)>| path.iter().map(|&(key, k)| k.max(found(key)) as f64).product();
        Interval::of(&self.paths.iter().map(product).collect::<Vec<f64>>())
    }

    /// Whether the probes are over (see [`Probing`]).
    fn enough(&self) -> bool {
        let (n, p) = (self.paths.len() as u64, &self.probing);
        n >= p.max || (n >= p.min && n % Probing::STEP == 0 && self.executions as f64 >= p.share * self.interval().mean)
    }

    fn draw(&mut self, n: usize) -> usize {
        self.draws += 1;
        let probe = self.paths.len() as u64;
        (execution_seed(execution_seed(self.seed, probe), self.draws) % n as u64) as usize
    }

    /// Walks down the path to the next branch to run, or to the end of the probe.
    fn walk(&mut self) {
        while let Some(&id) = self.path.get(self.cursor) {
            self.cursor += 1;
            if let Some(values) = self.learned.get(&self.tree.key(id)) {
                self.tree.offer(id, values);
            }
            let k = self.tree.children(id);
            if k == 1 {
                continue;
            }
            let i = self.draw(k);
            if i > 0 {
                self.next = Some(self.tree.take_nth(id, i));
                return;
            }
        }
        // The end of the path: a leaf.
        self.paths.push(self.path.iter().map(|&id| (self.tree.key(id), self.tree.children(id))).collect());
        for (key, values) in self.tree.branching() {
            let known = self.learned.entry(key).or_default();
            for v in values {
                if !known.contains(&v) {
                    known.push(v);
                }
            }
        }
        if self.enough() {
            self.over = true;
            return;
        }
        (self.tree, self.path, self.cursor, self.draws) = (Tree::kept(), Vec::new(), 0, 0);
        self.next = self.tree.take();
    }
}

impl Branches for Probes {
    fn next(&self) -> Option<(u64, Option<usize>, Branch)> {
        let mut w = self.state.lock();
        let branch = w.next.take().filter(|_| !w.over)?;
        w.running = Some(branch.clone());
        w.executions += 1;
        Some((w.executions - 1, None, branch))
    }

    fn finish(&self, _index: u64, explored: Explored) {
        let mut w = self.state.lock();
        let branch = w.running.take().expect("a branch ran");
        // The new path: the old one down to the branch's decision, then what the execution added.
        let keep = branch.edge.as_ref().map_or(0, |e| e.point.depth() + 1);
        w.path.truncate(keep);
        let tail: Vec<u64> = explored.tail.iter().map(|(p, _)| p.id).collect();
        w.path.extend(tail);
        w.tree.merge(&branch, explored);
        w.walk();
    }

    fn fail(&self, _index: u64) {
        self.state.lock().over = true;
    }
}
