//! [`Strategy`]: how to explore a model, built by a constructor per scheduler and adjusted with
//! `with_*` methods (limits, progress), so every default is named in one place.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::split::Shard;
use crate::runtime::Backend;
use crate::schedule::Schedule;

/// Which scheduler explores, and its own settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// loom's DPOR, exhaustive up to the preemption bound (`None`: unbounded); at most 4 spawned
    /// goroutines.
    Loom {
        /// At most this many preemptions per execution.
        preemption_bound: Option<usize>,
        /// Explore at bound 0, then 1, … up to the bound (as CHESS does), so a bug at a small bound
        /// shows in few executions; schedules of lower bounds are explored again.
        iterative: bool,
    },
    /// joinrace's own DPOR with source sets and sleep sets, on shuttle: exhaustive up to the
    /// preemption bound (`None`: unbounded); no limit on goroutines.
    Dpor {
        /// At most this many preemptions per execution.
        preemption_bound: Option<usize>,
        /// With a bound, explore at bound 0, then 1, … up to it, as loom does.
        iterative: bool,
        /// Partial-order reduction on (`false`: every schedule within the bound, the plain bounded
        /// search the reduced one is checked against).
        reduction: bool,
    },
    /// shuttle's uniform random scheduler, afresh for each execution (`explore/split.rs`).
    Random {
        /// The exploration's seed: execution `i` is seeded by it and `i`; the run is a function
        /// of it.
        seed: u64,
        /// Number of executions.
        iterations: u64,
    },
    /// PCT (probabilistic concurrency testing) on shuttle: shuttle's algorithm, each execution
    /// seeded by its index so that jobs and shards split it (`explore/pct.rs`).
    Pct {
        /// The exploration's seed: execution `i` draws from it and `i`.
        seed: u64,
        /// Number of executions.
        iterations: u64,
        /// Bug depth (number of priority change points plus one).
        depth: usize,
    },
    /// shuttle's naive depth-first enumeration (no preemption bound, no reduction).
    Dfs,
    /// Plain OS threads, `iterations` times: real parallelism, no schedule control.
    Std {
        /// Number of executions.
        iterations: u64,
    },
    /// One execution under shuttle that follows a recorded schedule exactly; a step where another
    /// goroutine runs fails it with a divergence.
    Replay(Schedule),
}

/// What an exploration has done so far, for another thread to show progress: executions started,
/// distinct interleavings seen, and the preemption bound of the current round (loom, DPOR).
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<Counters>);

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) executions: Arc<AtomicU64>,
    pub(crate) distinct: AtomicU64,
    /// The current bound plus one; 0 when there is none.
    pub(crate) bound: AtomicU64,
}

impl Progress {
    /// Counters at zero.
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Executions started so far.
    pub fn executions(&self) -> u64 {
        self.0.executions.load(Ordering::Relaxed)
    }

    /// Distinct interleavings among the executions that ended (schedule-controlling backends).
    pub fn distinct(&self) -> u64 {
        self.0.distinct.load(Ordering::Relaxed)
    }

    /// The preemption bound of the round running now, for strategies that bound preemptions.
    pub fn bound(&self) -> Option<usize> {
        let b = self.0.bound.load(Ordering::Relaxed);
        (b > 0).then(|| usize::try_from(b - 1).unwrap_or(usize::MAX))
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.0
    }
}

/// Two handles are equal when they count into the same counter.
impl PartialEq for Progress {
    fn eq(&self, other: &Progress) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Progress {}

/// How to explore a model's interleavings: a scheduler ([`Kind`]) and the limits of the run.
///
/// ```
/// use harness::Strategy;
/// use std::time::Duration;
///
/// let s = Strategy::dpor(Some(2)).with_max_executions(10_000).with_max_duration(Duration::from_secs(60));
/// assert_eq!(s.to_string(), "dpor(preemption bound 0..=2, at most 10000 executions, at most 60s)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strategy {
    kind: Kind,
    max_executions: Option<u64>,
    max_duration: Option<Duration>,
    progress: Option<Progress>,
    shard: Shard,
}

impl Strategy {
    const fn of(kind: Kind) -> Strategy {
        Strategy { kind, max_executions: None, max_duration: None, progress: None, shard: Shard::ALL }
    }

    /// loom, reaching preemption bound `preemption_bound` iteratively.
    pub const fn loom(preemption_bound: usize) -> Strategy {
        Strategy::of(Kind::Loom { preemption_bound: Some(preemption_bound), iterative: true })
    }

    /// loom with no preemption bound.
    pub const fn loom_unbounded() -> Strategy {
        Strategy::of(Kind::Loom { preemption_bound: None, iterative: false })
    }

    /// joinrace's DPOR: with a bound, reached iteratively; `None` explores every interleaving.
    pub const fn dpor(preemption_bound: Option<usize>) -> Strategy {
        Strategy::of(Kind::Dpor { preemption_bound, iterative: preemption_bound.is_some(), reduction: true })
    }

    /// A plain bounded search: every schedule with at most `preemption_bound` preemptions (counted
    /// as DPOR counts them), run by the DPOR explorer with its reduction off; what bounded DPOR
    /// must reach (every interleaving of it) and the cost it saves.
    pub const fn bounded_dfs(preemption_bound: usize) -> Strategy {
        Strategy::of(Kind::Dpor { preemption_bound: Some(preemption_bound), iterative: false, reduction: false })
    }

    /// shuttle random with a seed.
    pub const fn random(seed: u64, iterations: u64) -> Strategy {
        Strategy::of(Kind::Random { seed, iterations })
    }

    /// PCT on shuttle with a seed.
    pub const fn pct(seed: u64, iterations: u64, depth: usize) -> Strategy {
        Strategy::of(Kind::Pct { seed, iterations, depth })
    }

    /// shuttle's plain depth-first search.
    pub const fn dfs() -> Strategy {
        Strategy::of(Kind::Dfs)
    }

    /// Plain OS threads, `iterations` times.
    pub const fn std(iterations: u64) -> Strategy {
        Strategy::of(Kind::Std { iterations })
    }

    /// One execution along `schedule`, exactly.
    pub const fn replay(schedule: Schedule) -> Strategy {
        Strategy::of(Kind::Replay(schedule))
    }

    /// loom and DPOR with a bound: explore only at the bound (`false`), or at 0, 1, … up to it.
    pub const fn with_iterative(mut self, on: bool) -> Strategy {
        if let Kind::Loom { iterative, .. } | Kind::Dpor { iterative, .. } = &mut self.kind {
            *iterative = on;
        }
        self
    }

    /// Stops after `n` executions (an exhaustive search is then not exhaustive).
    pub const fn with_max_executions(mut self, n: u64) -> Strategy {
        self.max_executions = Some(n);
        self
    }

    /// Stops after `d` of wall time (an exhaustive search is then not exhaustive).
    pub const fn with_max_duration(mut self, d: Duration) -> Strategy {
        self.max_duration = Some(d);
        self
    }

    /// Counts the executions into `progress` as they start.
    pub fn with_progress(mut self, progress: Progress) -> Strategy {
        self.progress = Some(progress);
        self
    }

    /// Runs only shard `k` of `n` (0-based) of a random, PCT or DPOR exploration: of a random one,
    /// the executions `k`, `k + n`, …, so that shards `0..n` run exactly one run's executions; of a
    /// PCT one the same, and execution 0 in every shard, which measures the horizon the others draw
    /// their change points over (see `explore/pct.rs`); of a DPOR one, every `n`th of the branches
    /// dealt round the shards at each cut (see `explore/dpor/window.rs`), so that shards `0..n`
    /// reach every interleaving one run reaches. Other strategies ignore it.
    pub fn with_shard(mut self, shard: Shard) -> Strategy {
        self.shard = shard;
        self
    }

    /// The shard of the executions this strategy runs.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// The scheduler and its settings.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The execution cap, if any.
    pub fn max_executions(&self) -> Option<u64> {
        self.max_executions
    }

    /// The time limit, if any.
    pub fn max_duration(&self) -> Option<Duration> {
        self.max_duration
    }

    pub(crate) fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }

    /// The backend the strategy runs on.
    pub fn backend(&self) -> Backend {
        match self.kind {
            Kind::Loom { .. } => Backend::Loom,
            Kind::Std { .. } => Backend::Std,
            _ => Backend::Shuttle,
        }
    }

    /// Whether a run that ends unhindered has covered every schedule the strategy promises
    /// (loom and DPOR up to their bound, DFS): such a clean outcome is `exhaustive`.
    pub fn exhausts(&self) -> bool {
        matches!(self.kind, Kind::Loom { .. } | Kind::Dpor { .. } | Kind::Dfs)
    }

    /// Whether a run of `executions` executions in `elapsed` reached one of the limits.
    pub(crate) fn limited(&self, executions: u64, elapsed: Duration) -> bool {
        self.max_executions.is_some_and(|m| executions >= m) || self.max_duration.is_some_and(|d| elapsed >= d)
    }

    /// The preemption bounds of the rounds of a bounded search: 0, 1, … up to the bound when
    /// iterative, else the bound alone (`None`: unbounded).
    pub(crate) fn rounds(&self) -> Vec<Option<usize>> {
        match self.kind {
            Kind::Loom { preemption_bound: Some(b), iterative: true }
            | Kind::Dpor { preemption_bound: Some(b), iterative: true, .. } => (0..=b).map(Some).collect(),
            Kind::Loom { preemption_bound, .. } | Kind::Dpor { preemption_bound, .. } => vec![preemption_bound],
            _ => vec![None],
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Loom { preemption_bound, iterative } | Kind::Dpor { preemption_bound, iterative, .. } => {
                let name = match self.kind {
                    Kind::Loom { .. } => "loom",
                    Kind::Dpor { reduction: false, .. } => "bounded-dfs",
                    _ => "dpor",
                };
                write!(f, "{name}(")?;
                match preemption_bound {
                    Some(b) if *iterative => write!(f, "preemption bound 0..={b}")?,
                    Some(b) => write!(f, "preemption bound {b}")?,
                    None => write!(f, "unbounded")?,
                }
                self.shard_label(f)?;
                self.limits(f)?;
                write!(f, ")")
            }
            Kind::Random { seed, iterations } => {
                write!(f, "shuttle-random(seed {seed}, {iterations} executions")?;
                self.shard_label(f)?;
                self.limits(f)?;
                write!(f, ")")
            }
            Kind::Pct { seed, iterations, depth } => {
                write!(f, "shuttle-pct(seed {seed}, {iterations} executions, depth {depth}")?;
                self.shard_label(f)?;
                self.limits(f)?;
                write!(f, ")")
            }
            Kind::Dfs if self.max_executions.is_none() && self.max_duration.is_none() => write!(f, "shuttle-dfs"),
            Kind::Dfs => {
                write!(f, "shuttle-dfs(")?;
                self.limits(f)?;
                write!(f, ")")
            }
            Kind::Std { iterations } => write!(f, "std({iterations} executions)"),
            Kind::Replay(s) => write!(f, "replay({} steps)", s.steps.len()),
        }
    }
}

impl Strategy {
    /// The shard as a label shows it (1-based): `, shard 2/3`.
    fn shard_label(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shard == Shard::ALL {
            true => Ok(()),
            false => write!(f, ", shard {}/{}", self.shard.k + 1, self.shard.n),
        }
    }

    /// The limits as a label shows them: `, at most N executions, at most 60s`.
    fn limits(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = if matches!(self.kind, Kind::Dfs) { "" } else { ", " };
        if let Some(m) = self.max_executions {
            write!(f, "{sep}at most {m} executions")?;
            sep = ", ";
        }
        if let Some(d) = self.max_duration {
            write!(f, "{sep}at most {d:?}")?;
        }
        Ok(())
    }
}
