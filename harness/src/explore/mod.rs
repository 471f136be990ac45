//! Exploration: run a model closure under a strategy, get an [`Outcome`] back.
//!
//! Each execution gets a fresh [`Execution`](crate::runtime) whose main goroutine is the closure.
//! A failure (a data race, a panic or failed assertion, a deadlock) ends the exploration and is
//! returned as a value; it never aborts the test process.

pub(crate) mod dpor;
mod hook;

use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rustc_hash::FxHashSet;

use shuttle::scheduler::{Schedule as ShuttleSchedule, Scheduler, Task, TaskId};

use crate::facade::{Backend, SHUTTLE_STACK_SIZE};
use crate::report::{FailureKind, RaceReport};
use crate::runtime::{self, Execution};
use crate::schedule::log;
use crate::schedule::replay::{Decision, Plan, ReplayScheduler};
use crate::schedule::Schedule;

/// loom's per-execution branch limit; its default (1,000) is too small for executor models.
const LOOM_MAX_BRANCHES: usize = 100_000;

/// How to explore a model's interleavings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// loom's DPOR, exhaustive up to the preemption bound (`None`: unbounded), optionally capped.
    Loom {
        /// At most this many preemptions per execution.
        preemption_bound: Option<usize>,
        /// Explore at bound 0, then 1, … up to `preemption_bound` (as CHESS does), so a bug at a
        /// small bound shows in few executions; schedules of lower bounds are explored again.
        iterative: bool,
        /// Stop after this many executions (the search is then not exhaustive).
        max_executions: Option<u64>,
        /// Stop after this much wall time (the search is then not exhaustive).
        max_duration: Option<Duration>,
    },
    /// shuttle's uniform random scheduler.
    ShuttleRandom {
        /// Seed of the first execution; the run is a function of it.
        seed: u64,
        /// Number of executions.
        iterations: u64,
    },
    /// shuttle's PCT scheduler (probabilistic concurrency testing).
    ShuttlePct {
        /// Seed of the first execution.
        seed: u64,
        /// Number of executions.
        iterations: u64,
        /// Bug depth (number of priority change points plus one).
        depth: usize,
    },
    /// joinrace's own DPOR with source sets and sleep sets, on shuttle: exhaustive up to the
    /// preemption bound (`None`: unbounded), optionally capped; no limit on goroutines.
    Dpor {
        /// At most this many preemptions per execution.
        preemption_bound: Option<usize>,
        /// With a bound, explore at bound 0, then 1, … up to it, as [`Strategy::Loom`] does.
        iterative: bool,
        /// Stop after this many executions (the search is then not exhaustive).
        max_executions: Option<u64>,
    },
    /// shuttle's naive depth-first enumeration (no preemption bound, no reduction).
    ShuttleDfs {
        /// Stop after this many executions.
        max_executions: Option<u64>,
    },
    /// Plain OS threads, `iterations` times: real parallelism, no schedule control.
    Std {
        /// Number of executions.
        iterations: u64,
    },
    /// One execution under shuttle that follows a recorded schedule exactly; a step where another
    /// goroutine runs fails it with [`FailureKind::Divergence`].
    Replay(Schedule),
}

impl Strategy {
    /// loom with a preemption bound reached iteratively, and no caps.
    pub fn loom(preemption_bound: usize) -> Strategy {
        Strategy::Loom {
            preemption_bound: Some(preemption_bound),
            iterative: true,
            max_executions: None,
            max_duration: None,
        }
    }

    /// shuttle random with a seed.
    pub fn random(seed: u64, iterations: u64) -> Strategy {
        Strategy::ShuttleRandom { seed, iterations }
    }

    /// shuttle PCT with a seed.
    pub fn pct(seed: u64, iterations: u64, depth: usize) -> Strategy {
        Strategy::ShuttlePct { seed, iterations, depth }
    }

    /// The backend the strategy runs on.
    pub fn backend(&self) -> Backend {
        match self {
            Strategy::Loom { .. } => Backend::Loom,
            Strategy::ShuttleRandom { .. }
            | Strategy::ShuttlePct { .. }
            | Strategy::ShuttleDfs { .. }
            | Strategy::Dpor { .. }
            | Strategy::Replay(_) => Backend::Shuttle,
            Strategy::Std { .. } => Backend::Std,
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Loom { preemption_bound, iterative, max_executions, max_duration } => {
                write!(f, "loom(")?;
                bound_and_cap(f, *preemption_bound, *iterative, *max_executions)?;
                if let Some(d) = max_duration {
                    write!(f, ", at most {d:?}")?;
                }
                write!(f, ")")
            }
            Strategy::ShuttleRandom { seed, iterations } => {
                write!(f, "shuttle-random(seed {seed}, {iterations} executions)")
            }
            Strategy::ShuttlePct { seed, iterations, depth } => {
                write!(f, "shuttle-pct(seed {seed}, {iterations} executions, depth {depth})")
            }
            Strategy::Dpor { preemption_bound, iterative, max_executions } => {
                write!(f, "dpor(")?;
                bound_and_cap(f, *preemption_bound, *iterative, *max_executions)?;
                write!(f, ")")
            }
            Strategy::ShuttleDfs { max_executions: Some(m) } => write!(f, "shuttle-dfs(at most {m} executions)"),
            Strategy::ShuttleDfs { max_executions: None } => write!(f, "shuttle-dfs"),
            Strategy::Std { iterations } => write!(f, "std({iterations} executions)"),
            Strategy::Replay(s) => write!(f, "replay({} steps)", s.steps.len()),
        }
    }
}

/// The bound and the cap of an exhaustive strategy (loom, DPOR), as its label shows them.
fn bound_and_cap(
    f: &mut fmt::Formatter<'_>,
    preemption_bound: Option<usize>,
    iterative: bool,
    max_executions: Option<u64>,
) -> fmt::Result {
    match preemption_bound {
        Some(b) if iterative => write!(f, "preemption bound 0..={b}")?,
        Some(b) => write!(f, "preemption bound {b}")?,
        None => write!(f, "unbounded")?,
    }
    match max_executions {
        Some(m) => write!(f, ", at most {m} executions"),
        None => Ok(()),
    }
}

/// A failed execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The 1-based index of the failing execution within the exploration.
    pub execution: u64,
    /// What went wrong.
    pub kind: FailureKind,
    /// The schedule of the failing execution (loom and shuttle; `None` under std), which
    /// [`Strategy::Replay`] runs again.
    pub schedule: Option<Schedule>,
}

/// What an exploration found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The strategy that ran.
    pub strategy: Strategy,
    /// Executions run, the failing one included.
    pub executions: u64,
    /// Wall time of the whole exploration.
    pub elapsed: Duration,
    /// Whether the search covered every schedule it promises to (loom up to its preemption bound,
    /// shuttle DFS without a cap) and found no failure.
    pub exhaustive: bool,
    /// The first failure, if any.
    pub failure: Option<Failure>,
    /// How many distinct interleavings the executions covered: executions that differ in the
    /// order in which goroutines touched some primitive or checked memory word (`None` under std).
    pub distinct: Option<u64>,
    /// loom and DPOR: the preemption bound of the last (or failing) round of an iterative search.
    pub bound: Option<usize>,
}

impl Outcome {
    /// The data race found, if the failure is one.
    pub fn race(&self) -> Option<&RaceReport> {
        self.failure.as_ref().and_then(|f| f.kind.race())
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = if self.exhaustive { ", exhaustive" } else { "" };
        match &self.failure {
            None => write!(f, "{}: pass, {} executions{scope} in {:.2?}", self.strategy, self.executions, self.elapsed),
            Some(fail) => {
                write!(
                    f,
                    "{}: {} in execution {} of {}",
                    self.strategy,
                    fail.kind.name(),
                    fail.execution,
                    self.executions
                )?;
                if let Some(b) = self.bound {
                    write!(f, " at preemption bound {b}")?;
                }
                write!(f, " ({:.2?})\n{}", self.elapsed, fail.kind)
            }
        }
    }
}

/// Explores `model` under `strategy` and returns what it found. `model` is the main goroutine of
/// every execution; it builds its own primitives and checked memory, and spawns with [`crate::go::go`].
pub fn explore<F>(strategy: &Strategy, model: F) -> Outcome
where
    F: Fn() + Send + Sync + 'static,
{
    explore_counted(strategy, model, Arc::new(AtomicU64::new(0)))
}

/// [`explore`], counting executions in `executions` as they start, so another thread can show
/// progress on a long exploration.
pub fn explore_counted<F>(strategy: &Strategy, model: F, executions: Arc<AtomicU64>) -> Outcome
where
    F: Fn() + Send + Sync + 'static,
{
    let bound = Arc::new(AtomicUsize::new(usize::MAX));
    let (s, b) = (strategy.clone(), bound.clone());
    let counted = executions.clone();
    let mut outcome = explore_with(strategy, model, executions, move |body| run(&s, body, &b, &counted));
    // Only a bounded round of loom or DPOR stores a bound other than `usize::MAX`.
    outcome.bound = Some(bound.load(Ordering::Relaxed)).filter(|&b| b != usize::MAX);
    outcome
}

/// Runs `model` once along `plan` under shuttle: the replay and minimisation engine.
pub(crate) fn explore_plan<F>(model: F, plan: Plan, choices: Vec<u64>, label: &Strategy) -> (Outcome, Vec<Decision>)
where
    F: Fn() + Send + Sync + 'static,
{
    let decisions: Arc<Mutex<Vec<Decision>>> = Arc::default();
    let d = decisions.clone();
    let outcome = explore_with(label, model, Arc::default(), move |body| run_plan(plan, choices, move || body(), d));
    let decisions = std::mem::take(&mut *decisions.lock());
    (outcome, decisions)
}

/// Runs one shuttle execution of `body` along `plan`, recording the decisions. Under an exact plan
/// the harness checks every step against the schedule, and an execution that ends early diverges.
fn run_plan(
    plan: Plan,
    choices: Vec<u64>,
    body: impl Fn() + Send + Sync + 'static,
    decisions: Arc<Mutex<Vec<Decision>>>,
) {
    // A schedule that no longer fits the model, or a candidate of minimisation, could loop; shuttle
    // stops it well past any length the model reached before.
    let (overrides, expected, max_steps) = match plan {
        Plan::Exact(steps) => {
            let len = steps.len();
            log::with(|l| l.expected = Some(steps));
            (None, Some(len), len * 4 + 10_000)
        }
        Plan::Overrides(o) => (Some(o), None, MINIMIZE_MAX_STEPS),
    };
    let mut config = shuttle_config();
    config.max_steps = shuttle::MaxSteps::FailAfter(max_steps);
    let scheduler = ReplayScheduler::new(overrides, choices, decisions);
    let result = catch_unwind(AssertUnwindSafe(|| {
        shuttle::Runner::new(scheduler, config).run(body);
    }));
    let ended_at = log::with(|l| {
        l.expected = None;
        l.steps.len()
    });
    match (result, expected) {
        (Err(payload), _) => resume_unwind(payload),
        (Ok(()), Some(len)) if ended_at < len => {
            // Recorded on the execution, as `log::step` records a divergence it sees mid-run.
            log::diverge(format!("the execution ended after {ended_at} steps, the schedule has {len}"))
        }
        (Ok(()), _) => {}
    }
}

/// shuttle steps after which a minimisation candidate counts as looping.
const MINIMIZE_MAX_STEPS: usize = 100_000;

/// Runs `runner`, which calls the execution body once per execution, and turns what happened into
/// an outcome.
fn explore_with<F>(
    strategy: &Strategy,
    model: F,
    executions: Arc<AtomicU64>,
    runner: impl FnOnce(Arc<dyn Fn() + Send + Sync>),
) -> Outcome
where
    F: Fn() + Send + Sync + 'static,
{
    hook::install();
    let backend = strategy.backend();
    executions.store(0, Ordering::Relaxed);
    let last: Arc<Mutex<Option<Arc<Execution>>>> = Arc::default();
    let interleavings: Arc<Mutex<FxHashSet<u64>>> = Arc::default();
    let body = {
        let (executions, last, interleavings) = (executions.clone(), last.clone(), interleavings.clone());
        Arc::new(move || {
            executions.fetch_add(1, Ordering::Relaxed);
            let exec = Execution::start(backend);
            *last.lock() = Some(exec.clone());
            if backend != Backend::Std {
                log::step(0, "start", None);
            }
            model();
            if backend == Backend::Std {
                // Goroutines still running when main returns die with the program, as in Go.
                exec.abort();
            } else {
                interleavings.lock().insert(log::with(|l| l.interleaving));
            }
            exec.run_cleanups();
        })
    };
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| runner(body)));
    runtime::set_current(None);
    let elapsed = start.elapsed();
    let executions = executions.load(Ordering::Relaxed);
    if result.is_err() {
        if let Some(exec) = last.lock().as_ref() {
            exec.run_cleanups();
        }
    }
    let failure = match result {
        Ok(()) => None,
        Err(payload) => match classify(last.lock().take(), &*payload) {
            // A model with no scheduling choice has one schedule, which has run; PCT refuses to go on.
            FailureKind::Panic { message, .. } if message.contains("did not exercise any concurrency") => None,
            kind => Some(Failure {
                execution: executions,
                kind,
                // The log still holds the failing execution's steps (the next execution would reset it).
                schedule: (backend != Backend::Std)
                    .then(|| log::with(|l| Schedule { steps: l.steps.clone(), choices: l.choices.clone() })),
            }),
        },
    };
    let capped = match strategy {
        Strategy::Loom { max_executions, max_duration, .. } => {
            max_executions.is_some_and(|m| executions >= m) || max_duration.is_some_and(|d| elapsed >= d)
        }
        Strategy::ShuttleDfs { max_executions } | Strategy::Dpor { max_executions, .. } => {
            max_executions.is_some_and(|m| executions >= m)
        }
        _ => true,
    };
    let mut distinct = interleavings.lock().len() as u64;
    if failure.is_some() {
        // The failing execution never reached the end of main.
        distinct += 1;
    }
    Outcome {
        strategy: strategy.clone(),
        executions,
        elapsed,
        exhaustive: failure.is_none() && !capped,
        failure,
        distinct: (backend != Backend::Std).then_some(distinct),
        bound: None,
    }
}

fn shuttle_config() -> shuttle::Config {
    let mut c = shuttle::Config::new();
    c.stack_size = SHUTTLE_STACK_SIZE;
    c.failure_persistence = shuttle::FailurePersistence::None;
    c.silence_warnings = true;
    c
}

/// Runs the executions of `strategy`; `executions` is the count `body` keeps (caps span the rounds
/// of iterative bounding).
fn run(strategy: &Strategy, body: Arc<dyn Fn() + Send + Sync>, bound: &AtomicUsize, executions: &AtomicU64) {
    use shuttle::scheduler::{DfsScheduler, PctScheduler, RandomScheduler};
    let n = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
    let body = move || body();
    match strategy {
        Strategy::Loom { preemption_bound, iterative, max_executions, max_duration } => {
            let start = Instant::now();
            for b in rounds(*preemption_bound, *iterative) {
                bound.store(b.unwrap_or(usize::MAX), Ordering::Relaxed);
                let used = executions.load(Ordering::Relaxed);
                let mut builder = loom::model::Builder::new();
                builder.preemption_bound = b;
                builder.max_branches = LOOM_MAX_BRANCHES;
                // loom stops before starting execution `max_permutations`; it checks its caps only
                // every `checkpoint_interval` executions.
                builder.max_permutations = max_executions.map(|m| n(m.saturating_sub(used)).saturating_add(1));
                builder.max_duration = max_duration.map(|d| d.saturating_sub(start.elapsed()));
                builder.checkpoint_interval = 1;
                builder.checkpoint_file = None;
                builder.check(body.clone());
                let used = executions.load(Ordering::Relaxed);
                if max_executions.is_some_and(|m| used >= m) || max_duration.is_some_and(|d| start.elapsed() >= d) {
                    break;
                }
            }
        }
        Strategy::ShuttleRandom { seed, iterations } => {
            let scheduler = Quiet(Some(RandomScheduler::new_from_seed(*seed, n(*iterations))));
            shuttle::Runner::new(scheduler, shuttle_config()).run(body);
        }
        Strategy::ShuttlePct { seed, iterations, depth } => {
            shuttle::Runner::new(PctScheduler::new_from_seed(*seed, *depth, n(*iterations)), shuttle_config())
                .run(body);
        }
        Strategy::ShuttleDfs { max_executions } => {
            shuttle::Runner::new(DfsScheduler::new(max_executions.map(n), false), shuttle_config()).run(body);
        }
        Strategy::Dpor { preemption_bound, iterative, max_executions } => {
            for b in rounds(*preemption_bound, *iterative) {
                bound.store(b.unwrap_or(usize::MAX), Ordering::Relaxed);
                let left = max_executions.map(|m| m.saturating_sub(executions.load(Ordering::Relaxed)));
                if left == Some(0) {
                    break;
                }
                let scheduler = dpor::DporScheduler::new(b, left);
                shuttle::Runner::new(scheduler, shuttle_config()).run(body.clone());
            }
        }
        Strategy::Std { iterations } => {
            for _ in 0..*iterations {
                body();
            }
        }
        Strategy::Replay(schedule) => {
            run_plan(Plan::Exact(schedule.steps.clone()), schedule.choices.clone(), body, Arc::default())
        }
    }
}

/// The preemption bounds of an exploration's rounds: 0, 1, … up to the bound when iterative.
fn rounds(preemption_bound: Option<usize>, iterative: bool) -> Vec<Option<usize>> {
    match preemption_bound {
        Some(b) if iterative => (0..=b).map(Some).collect(),
        b => vec![b],
    }
}

/// Leaks the wrapped scheduler when dropped during a panic: shuttle's random scheduler then prints
/// replay instructions for shuttle's own API, which do not apply (the outcome carries the failure).
struct Quiet<S>(Option<S>);

impl<S: Scheduler> Scheduler for Quiet<S> {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        self.0.as_mut().expect("scheduler present").new_execution()
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        self.0.as_mut().expect("scheduler present").next_task(runnable, current, is_yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.0.as_mut().expect("scheduler present").next_u64()
    }
}

impl<S> Drop for Quiet<S> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::mem::forget(self.0.take());
        }
    }
}

/// Turns what an execution recorded (and the payload that ended the exploration) into a failure.
fn classify(exec: Option<Arc<Execution>>, payload: &(dyn std::any::Any + Send)) -> FailureKind {
    let recorded = exec.as_ref().and_then(|e| {
        let mut st = e.state.lock();
        let kind = st.failure.take()?;
        Some(match kind {
            FailureKind::Panic { message, .. } if is_deadlock(&message) => {
                FailureKind::Deadlock { goroutines: st.blocked(), message: first_line(&message) }
            }
            other => other,
        })
    });
    recorded.unwrap_or_else(|| {
        let message = hook::payload_message(payload);
        if is_deadlock(&message) {
            let goroutines = exec.map(|e| e.state.lock().blocked()).unwrap_or_default();
            FailureKind::Deadlock { goroutines, message: first_line(&message) }
        } else {
            FailureKind::Panic { goroutine: None, message, location: None }
        }
    })
}

/// loom says `deadlock; threads = …`, shuttle `deadlock! blocked tasks: …`.
fn is_deadlock(message: &str) -> bool {
    message.starts_with("deadlock")
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().to_string()
}
